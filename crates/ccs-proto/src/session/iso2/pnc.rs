//! Plug & Charge signatures (ISO 15118-2 §7.9.2.4 and Annex J): XML signatures whose
//! references digest EXI-encoded *fragments* and whose SignatureValue signs the EXI-encoded
//! `SignedInfo` (with the xmldsig fragment grammar alone).
//!
//! The core computes the SHA-256 digests and builds `SignedInfo` itself (no I/O, no keys);
//! ECDSA and X.509 are behind three small traits that the driver implements (`ccs-linux` does
//! it with OpenSSL):
//!
//! - [`ContractSigner`] (car): signs with the contract private key (AuthorizationReq,
//!   MeteringReceiptReq) and the OEM provisioning key (CertificateInstallationReq).
//! - [`ContractVerifier`] (charger): validates the contract certificate chain against the
//!   configured roots and verifies signatures with the leaf's public key.
//! - [`CertificateBackend`] (charger): answers CertificateInstallationReq and
//!   CertificateUpdateReq (the CPS/MO backend; a file-based one for tests).
//!
//! Signatures are the raw `r‖s` of ECDSA P-256 (64 bytes), not DER, as ISO 15118-2 requires.

use core::fmt;

use std::sync::Arc;

use ccs_msg::iso2::{
    BodyElement, CertificateChainType, CertificateInstallationReqType,
    CertificateInstallationResType, CertificateUpdateReqType, CertificateUpdateResType, EMAIDType,
    Fragment, ResponseCodeType,
};
use ccs_msg::relaxed::{RelaxedAttribute, RelaxedElement};
use ccs_msg::xmldsig::{
    CanonicalizationMethodType, DigestMethodType, ReferenceType, SignatureMethodType,
    SignatureType, SignatureValueType, SignedInfoType, TransformType, TransformsType,
    X509IssuerSerialType,
};

use super::config::ContractCredentials;
use sha2::{Digest, Sha256};

/// `CanonicalizationMethod` and `Transform` algorithm: canonical EXI.
pub const CANONICAL_EXI: &str = "http://www.w3.org/TR/canonical-exi/";
/// `SignatureMethod` algorithm: ECDSA with SHA-256.
pub const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
/// `DigestMethod` algorithm: SHA-256.
pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

/// What went wrong with a signature, a certificate or the backend, and the response code the
/// charger answers with.
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum PncError {
    /// The certificate chain does not lead to a trusted root (`FAILED_CertChainError`).
    CertChain(String),
    /// A certificate of the chain has expired or is not yet valid
    /// (`FAILED_CertificateExpired`, [V2G2-824]).
    CertificateExpired(String),
    /// The signature or a digest does not match (`FAILED_SignatureError`).
    Signature(String),
    /// The key or the crypto library failed on our side (`FAILED`).
    Crypto(String),
    /// The backend could not answer (`FAILED_NoCertificateAvailable`).
    Backend(String),
}

impl PncError {
    /// The response code the charger sends for this error.
    pub fn response_code(&self) -> ResponseCodeType {
        match self {
            Self::CertChain(_) => ResponseCodeType::FAILED_CertChainError,
            Self::CertificateExpired(_) => ResponseCodeType::FAILED_CertificateExpired,
            Self::Signature(_) => ResponseCodeType::FAILED_SignatureError,
            Self::Crypto(_) => ResponseCodeType::FAILED,
            Self::Backend(_) => ResponseCodeType::FAILED_NoCertificateAvailable,
        }
    }
}

impl fmt::Display for PncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CertChain(s) => write!(f, "certificate chain: {s}"),
            Self::CertificateExpired(s) => write!(f, "certificate expired: {s}"),
            Self::Signature(s) => write!(f, "signature: {s}"),
            Self::Crypto(s) => write!(f, "crypto: {s}"),
            Self::Backend(s) => write!(f, "certificate backend: {s}"),
        }
    }
}

/// The car's signing keys.
pub trait ContractSigner: fmt::Debug + Send + Sync {
    /// ECDSA P-256 / SHA-256 over `data` with the contract certificate's private key: the raw
    /// `r‖s`, 64 bytes.
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, PncError>;
}

/// A contract the car installed with CertificateInstallation: the credentials and the key.
#[derive(Clone, Debug)]
pub struct InstalledContract {
    /// The contract certificate chain and eMAID.
    pub credentials: ContractCredentials,
    /// The contract's private key (decrypted from the response).
    pub signer: Arc<dyn ContractSigner>,
}

/// The car's side of certificate installation (ISO 15118-2 §8.4.3.x CertificateInstallation):
/// the OEM provisioning identity that signs the request (the supertrait's `sign`), and the
/// processing of the response: the SA provisioning chain and its signature checked against the
/// V2G roots, the contract key decrypted (ECDH + ConcatKDF + AES-128-CBC, [V2G2-818]).
pub trait CertificateInstaller: ContractSigner {
    /// DER: the OEM provisioning certificate.
    fn oem_provisioning_certificate(&self) -> Vec<u8>;

    /// The V2G root certificates the car trusts (ListOfRootCertificateIDs).
    fn root_certificate_ids(&self) -> Vec<X509IssuerSerialType>;

    /// Checks and unpacks a CertificateInstallationRes with its header `signature`.
    fn install(
        &self,
        res: &CertificateInstallationResType,
        signature: Option<&SignatureType>,
    ) -> Result<InstalledContract, PncError>;
}

/// The car's side of certificate update (ISO 15118-2 CertificateUpdate): the *current*
/// contract key signs CertificateUpdateReq (the supertrait's `sign`) and is the ECDH key
/// with which the new contract key is decrypted ([V2G2-818]); the SA provisioning chain and
/// its signature over the response are checked against the V2G roots.
pub trait CertificateUpdater: ContractSigner {
    /// The V2G root certificates the car trusts (ListOfRootCertificateIDs).
    fn root_certificate_ids(&self) -> Vec<X509IssuerSerialType>;

    /// Checks and unpacks a CertificateUpdateRes with its header `signature`.
    fn update(
        &self,
        res: &CertificateUpdateResType,
        signature: Option<&SignatureType>,
    ) -> Result<InstalledContract, PncError>;
}

/// What the charger learned from a valid contract chain.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct VerifiedContract {
    /// The leaf's subject CommonName (the eMAID, ISO 15118-2 Annex H).
    pub common_name: Option<String>,
}

/// The charger's view of contract certificates.
pub trait ContractVerifier: fmt::Debug + Send + Sync {
    /// Validates `chain` (leaf and sub-CAs, DER) against the configured trust anchors (V2G and
    /// MO roots) at the current time.
    fn verify_chain(&self, chain: &CertificateChainType) -> Result<VerifiedContract, PncError>;

    /// Verifies the raw `r‖s` `signature` over `data` with the public key of the DER
    /// `certificate`.
    fn verify_signature(
        &self,
        certificate: &[u8],
        data: &[u8],
        signature: &[u8],
    ) -> Result<(), PncError>;
}

/// A response from the certificate backend: the body and the header signature the backend
/// (the CPS) made over it.
#[derive(Clone, Debug, PartialEq)]
pub struct BackendResponse {
    /// The header's Signature.
    pub signature: Option<SignatureType>,
    /// CertificateInstallationRes or CertificateUpdateRes.
    pub body: BodyElement,
}

/// The charger's backend for CertificateInstallation and CertificateUpdate: the charger
/// passes the car's request through and relays the answer; the contents (the encrypted contract
/// key, the chains) come from the secondary actors (CPS, MO).
pub trait CertificateBackend: fmt::Debug + Send + Sync {
    /// Answers a CertificateInstallationReq.
    fn certificate_installation(
        &self,
        req: &CertificateInstallationReqType,
    ) -> Result<BackendResponse, PncError>;

    /// Answers a CertificateUpdateReq.
    fn certificate_update(
        &self,
        req: &CertificateUpdateReqType,
    ) -> Result<BackendResponse, PncError>;
}

/// The namespace of ISO 15118-2's data types (where `EMAIDType` declares its `Id`).
const MSG_DATA_TYPES: &str = "urn:iso:15118:2:2013:MsgDataTypes";

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The EXI fragment encoding of `fragment` (what a Reference digests).
pub fn fragment_bytes(fragment: &Fragment) -> Result<Vec<u8>, PncError> {
    fragment
        .encode()
        .map_err(|e| PncError::Crypto(format!("fragment encoding: {e}")))
}

/// The signed eMAID of CertificateInstallationRes / CertificateUpdateRes as a fragment (the
/// CPS signs it together with the contract chain, the encrypted key and the DH public key). Its qname is declared with two types (`eMAIDType` in PaymentDetailsReq,
/// `EMAIDType` with the `Id` here), so EXI codes it with the relaxed Element Fragment grammar:
/// the `{MsgDataTypes}Id` attribute, then the characters (exi-v2g.md §1.6, the form
/// Exificient, Josev and RISE-V2G sign).
pub fn emaid_fragment(emaid: &EMAIDType) -> Fragment {
    Fragment::EMAID(RelaxedElement {
        attributes: vec![RelaxedAttribute {
            namespace: MSG_DATA_TYPES.into(),
            local_name: "Id".into(),
            value: emaid.id.clone(),
        }],
        text: Some(emaid.value.clone()),
    })
}

/// The EXI encoding of `signed_info` with the xmldsig fragment grammar (what SignatureValue
/// signs).
pub fn signed_info_bytes(signed_info: &SignedInfoType) -> Result<Vec<u8>, PncError> {
    ccs_msg::xmldsig::Fragment::SignedInfo(signed_info.clone())
        .encode()
        .map_err(|e| PncError::Crypto(format!("SignedInfo encoding: {e}")))
}

/// The SignedInfo for `references` (Id, digest): canonical EXI, ECDSA-SHA256, one Reference
/// per signed element with a canonical-EXI Transform and a SHA-256 digest, as Annex J shows.
pub fn signed_info(references: &[(&str, [u8; 32])]) -> SignedInfoType {
    SignedInfoType {
        id: None,
        canonicalization_method: CanonicalizationMethodType {
            algorithm: CANONICAL_EXI.into(),
        },
        signature_method: SignatureMethodType {
            algorithm: ECDSA_SHA256.into(),
            hmac_output_length: None,
        },
        reference: references
            .iter()
            .map(|(id, digest)| ReferenceType {
                id: None,
                r#type: None,
                uri: Some(format!("#{id}")),
                transforms: Some(TransformsType {
                    transform: vec![TransformType {
                        algorithm: CANONICAL_EXI.into(),
                        x_path: Vec::new(),
                    }],
                }),
                digest_method: DigestMethodType {
                    algorithm: SHA256.into(),
                },
                digest_value: digest.to_vec(),
            })
            .collect(),
    }
}

/// Signs the elements `fragments` (each with its Id attribute value): the header Signature.
pub fn sign(
    signer: &dyn ContractSigner,
    fragments: &[(&str, Fragment)],
) -> Result<SignatureType, PncError> {
    let mut references = Vec::with_capacity(fragments.len());
    for (id, fragment) in fragments {
        references.push((*id, sha256(&fragment_bytes(fragment)?)));
    }
    let signed_info = signed_info(&references);
    let value = signer.sign(&signed_info_bytes(&signed_info)?)?;
    Ok(SignatureType {
        id: None,
        signed_info,
        signature_value: SignatureValueType { id: None, value },
        key_info: None,
        object: Vec::new(),
    })
}

/// Verifies a header `signature` over `fragments` (each with its Id) with the public key of
/// the DER `certificate`: every fragment has a Reference with a matching SHA-256 digest, the
/// algorithms are the ones ISO 15118-2 allows, and SignatureValue verifies over SignedInfo.
pub fn verify(
    verifier: &dyn ContractVerifier,
    certificate: &[u8],
    signature: &SignatureType,
    fragments: &[(&str, Fragment)],
) -> Result<(), PncError> {
    let info = &signature.signed_info;
    if info.signature_method.algorithm != ECDSA_SHA256 {
        return Err(PncError::Signature(format!(
            "SignatureMethod {}",
            info.signature_method.algorithm
        )));
    }
    for (id, fragment) in fragments {
        let uri = format!("#{id}");
        let Some(reference) = info
            .reference
            .iter()
            .find(|r| r.uri.as_deref() == Some(&uri))
        else {
            return Err(PncError::Signature(format!("no Reference to {uri}")));
        };
        if reference.digest_method.algorithm != SHA256 {
            return Err(PncError::Signature(format!(
                "DigestMethod {}",
                reference.digest_method.algorithm
            )));
        }
        if reference.digest_value != sha256(&fragment_bytes(fragment)?) {
            return Err(PncError::Signature(format!(
                "digest of {uri} does not match"
            )));
        }
    }
    verifier.verify_signature(
        certificate,
        &signed_info_bytes(info)?,
        &signature.signature_value.value,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccs_msg::iso2::AuthorizationReqType;

    /// A "signer" whose signature is the SHA-256 of the data twice: enough to check that the
    /// bytes signed and the bytes verified are the same.
    #[derive(Debug)]
    struct HashSigner;

    impl ContractSigner for HashSigner {
        fn sign(&self, data: &[u8]) -> Result<Vec<u8>, PncError> {
            Ok([sha256(data), sha256(data)].concat())
        }
    }

    impl ContractVerifier for HashSigner {
        fn verify_chain(&self, _: &CertificateChainType) -> Result<VerifiedContract, PncError> {
            Ok(VerifiedContract::default())
        }
        fn verify_signature(&self, _: &[u8], data: &[u8], sig: &[u8]) -> Result<(), PncError> {
            if self.sign(data)? == sig {
                Ok(())
            } else {
                Err(PncError::Signature("mismatch".into()))
            }
        }
    }

    fn auth(challenge: u8) -> Fragment {
        Fragment::AuthorizationReq(AuthorizationReqType {
            id: Some("ID1".into()),
            gen_challenge: Some(vec![challenge; 16]),
        })
    }

    #[test]
    fn authorization_fragment_starts_with_its_fragment_event_code() {
        // exi-v2g.md §1.6: `80 04` is AuthorizationReq in the ISO-2 fragment grammar.
        let bytes = fragment_bytes(&auth(7)).unwrap();
        assert_eq!(&bytes[..2], &[0x80, 0x04]);
    }

    #[test]
    fn signed_info_fragment_starts_with_its_fragment_event_code() {
        // exi-v2g.md §1.6: `80 81` is SignedInfo in the xmldsig fragment grammar.
        let bytes = signed_info_bytes(&signed_info(&[("ID1", [0; 32])])).unwrap();
        assert_eq!(&bytes[..2], &[0x80, 0x81]);
    }

    #[test]
    fn emaid_fragment_is_the_exificient_coding() {
        // exi-v2g.md §1.6: Exificient's eMAID fragment, Id "id4" (RISE-V2G's test data).
        let emaid = EMAIDType {
            id: "id4".into(),
            value: "UKSWI123456789A".into(),
        };
        let bytes = fragment_bytes(&emaid_fragment(&emaid)).unwrap();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "80ec0202b4b21a40045552d4d5d24c4c8ccd0d4d8dce0e507d3d00"
        );
    }

    #[test]
    fn a_signature_verifies_and_a_changed_element_does_not() {
        let sig = sign(&HashSigner, &[("ID1", auth(7))]).unwrap();
        assert_eq!(sig.signed_info.reference[0].uri.as_deref(), Some("#ID1"));
        assert_eq!(sig.signature_value.value.len(), 64);
        verify(&HashSigner, &[], &sig, &[("ID1", auth(7))]).unwrap();
        let err = verify(&HashSigner, &[], &sig, &[("ID1", auth(8))]).unwrap_err();
        assert!(matches!(err, PncError::Signature(_)), "{err}");
        let err = verify(&HashSigner, &[], &sig, &[("ID2", auth(7))]).unwrap_err();
        assert_eq!(err.response_code(), ResponseCodeType::FAILED_SignatureError);
    }
}
