//! ISO 15118-20 Plug & Charge signatures: the car signs the EXI fragment of
//! `PnC_AReqAuthorizationMode` (with its `Id`) in the AuthorizationReq header, the charger
//! validates the contract certificate chain against its roots, checks the signature with the
//! contract certificate's key and checks the echoed GenChallenge.
//!
//! The construction is ISO 15118-2's (Annex J, [`crate::session::iso2::pnc`]): References digest
//! EXI fragments (here of the -20 CommonMessages fragment grammar), `SignedInfo` is encoded with
//! the xmldsig fragment grammar alone and signed. What differs is the algorithm suite: ISO
//! 15118-20 (§7.9.2.x, the security profile) signs with ECDSA on secp521r1 with SHA-512 (or
//! Ed448, not supported here); the SignatureValue is the raw `r‖s`, 66 bytes each.
//!
//! The core digests and builds `SignedInfo`; ECDSA and X.509 are behind [`ContractSigner`] and
//! [`ContractVerifier`] (`ccs_linux::pnc20` implements them with OpenSSL).

use core::fmt;

use ccs_msg::iso20::common::Fragment;
use ccs_msg::iso20::types::ResponseCodeType;
use ccs_msg::xmldsig::{
    CanonicalizationMethodType, DigestMethodType, ReferenceType, SignatureMethodType,
    SignatureType, SignatureValueType, SignedInfoType, TransformType, TransformsType,
};
use sha2::{Digest, Sha256, Sha512};

use crate::session::iso2::pnc::{CANONICAL_EXI, signed_info_bytes};
pub use crate::session::iso2::pnc::{PncError, VerifiedContract};

/// The `Id` of the signed `PnC_AReqAuthorizationMode` (and of `SignedMeteringData`).
pub const SIGNED_ID: &str = "id1";

/// A signature algorithm suite: the SignatureMethod and DigestMethod of every Reference.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum SignatureSuite {
    /// ECDSA on secp521r1 with SHA-512: ISO 15118-20's ECDSA security profile.
    EcdsaSecp521r1Sha512,
    /// ECDSA on secp256r1 with SHA-256: ISO 15118-2's suite. Not an ISO 15118-20 suite; Josev
    /// 0.31.2 signs its -20 AuthorizationReq with it (its code says "TODO: need a signature for
    /// ISO 15118-20"), so a charger may accept it as a named quirk.
    EcdsaSecp256r1Sha256,
}

impl SignatureSuite {
    /// The `SignatureMethod` algorithm URI.
    pub const fn signature_method(self) -> &'static str {
        match self {
            Self::EcdsaSecp521r1Sha512 => "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
            Self::EcdsaSecp256r1Sha256 => crate::session::iso2::pnc::ECDSA_SHA256,
        }
    }

    /// The `DigestMethod` algorithm URI.
    pub const fn digest_method(self) -> &'static str {
        match self {
            Self::EcdsaSecp521r1Sha512 => "http://www.w3.org/2001/04/xmlenc#sha512",
            Self::EcdsaSecp256r1Sha256 => crate::session::iso2::pnc::SHA256,
        }
    }

    /// The suite of a `SignatureMethod` URI.
    pub fn from_signature_method(uri: &str) -> Option<Self> {
        [Self::EcdsaSecp521r1Sha512, Self::EcdsaSecp256r1Sha256]
            .into_iter()
            .find(|s| s.signature_method() == uri)
    }

    /// The digest of `bytes` with the suite's hash.
    pub fn digest(self, bytes: &[u8]) -> Vec<u8> {
        match self {
            Self::EcdsaSecp521r1Sha512 => Sha512::digest(bytes).to_vec(),
            Self::EcdsaSecp256r1Sha256 => Sha256::digest(bytes).to_vec(),
        }
    }
}

/// The car's contract key for ISO 15118-20.
pub trait ContractSigner: fmt::Debug + Send + Sync {
    /// The suite this key signs with.
    fn suite(&self) -> SignatureSuite;

    /// The suite's ECDSA over `data` (the hash is the suite's): the raw `r‖s`, each padded to
    /// the curve's scalar length.
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, PncError>;
}

/// The charger's view of contract certificates for ISO 15118-20.
pub trait ContractVerifier: fmt::Debug + Send + Sync {
    /// Validates the contract certificate `leaf` with its `sub_certificates` (DER, leaf side
    /// first) against the configured trust anchors (MO roots, V2G root) at the current time.
    fn verify_chain(
        &self,
        leaf: &[u8],
        sub_certificates: &[Vec<u8>],
    ) -> Result<VerifiedContract, PncError>;

    /// Verifies the raw `r‖s` `signature` of `suite` over `data` with the public key of the
    /// DER `certificate`.
    fn verify_signature(
        &self,
        suite: SignatureSuite,
        certificate: &[u8],
        data: &[u8],
        signature: &[u8],
    ) -> Result<(), PncError>;
}

/// The EXI fragment encoding of `fragment` with the CommonMessages fragment grammar.
pub fn fragment_bytes(fragment: &Fragment) -> Result<Vec<u8>, PncError> {
    fragment
        .encode()
        .map_err(|e| PncError::Crypto(format!("fragment encoding: {e}")))
}

/// The SignedInfo of `suite` for `references` (Id, digest): canonical EXI, one Reference per
/// signed element with a canonical-EXI Transform.
pub fn signed_info(suite: SignatureSuite, references: &[(&str, Vec<u8>)]) -> SignedInfoType {
    SignedInfoType {
        id: None,
        canonicalization_method: CanonicalizationMethodType {
            algorithm: CANONICAL_EXI.into(),
        },
        signature_method: SignatureMethodType {
            algorithm: suite.signature_method().into(),
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
                    algorithm: suite.digest_method().into(),
                },
                digest_value: digest.clone(),
            })
            .collect(),
    }
}

/// Signs the elements `fragments` (each with its Id attribute value): the header Signature.
pub fn sign(
    signer: &dyn ContractSigner,
    fragments: &[(&str, Fragment)],
) -> Result<SignatureType, PncError> {
    let suite = signer.suite();
    let mut references = Vec::with_capacity(fragments.len());
    for (id, fragment) in fragments {
        references.push((*id, suite.digest(&fragment_bytes(fragment)?)));
    }
    let signed_info = signed_info(suite, &references);
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
/// the DER `certificate`. Only a suite in `accepted` is honoured (the peer must not choose a
/// weaker one for us); every fragment needs a Reference with the suite's DigestMethod and a
/// matching digest; SignatureValue must verify over the EXI-encoded SignedInfo. Returns the
/// suite used.
pub fn verify(
    verifier: &dyn ContractVerifier,
    accepted: &[SignatureSuite],
    certificate: &[u8],
    signature: &SignatureType,
    fragments: &[(&str, Fragment)],
) -> Result<SignatureSuite, PncError> {
    let info = &signature.signed_info;
    let method = &info.signature_method.algorithm;
    let Some(suite) =
        SignatureSuite::from_signature_method(method).filter(|s| accepted.contains(s))
    else {
        return Err(PncError::Signature(format!(
            "SignatureMethod {method} not accepted"
        )));
    };
    if info.canonicalization_method.algorithm != CANONICAL_EXI {
        return Err(PncError::Signature(format!(
            "CanonicalizationMethod {}",
            info.canonicalization_method.algorithm
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
        if reference.digest_method.algorithm != suite.digest_method() {
            return Err(PncError::Signature(format!(
                "DigestMethod {} with SignatureMethod {method}",
                reference.digest_method.algorithm
            )));
        }
        if reference.digest_value != suite.digest(&fragment_bytes(fragment)?) {
            return Err(PncError::Signature(format!(
                "digest of {uri} does not match"
            )));
        }
    }
    verifier.verify_signature(
        suite,
        certificate,
        &signed_info_bytes(info)?,
        &signature.signature_value.value,
    )?;
    Ok(suite)
}

/// The AuthorizationRes response code for a failed Plug & Charge check (ISO 15118-20 Table
/// 224 lists the WARNING codes of AuthorizationRes): chain and validity problems are
/// warnings (the car may end the session normally), a bad signature is
/// `FAILED_SignatureError`.
pub fn authorization_code(error: &PncError) -> ResponseCodeType {
    match error {
        PncError::CertChain(_) => ResponseCodeType::WARNING_CertificateValidationError,
        PncError::CertificateExpired(_) => ResponseCodeType::WARNING_CertificateExpired,
        PncError::Signature(_) => ResponseCodeType::FAILED_SignatureError,
        PncError::Backend(_) => ResponseCodeType::WARNING_NoCertificateAvailable,
        _ => ResponseCodeType::FAILED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccs_msg::iso20::common::{
        ContractCertificateChainType, PnC_AReqAuthorizationModeType, SubCertificatesType,
    };

    /// A "signer" whose signature is the SHA-512 of the data: enough to check that the bytes
    /// signed and the bytes verified are the same.
    #[derive(Debug)]
    struct HashSigner(SignatureSuite);

    impl ContractSigner for HashSigner {
        fn suite(&self) -> SignatureSuite {
            self.0
        }
        fn sign(&self, data: &[u8]) -> Result<Vec<u8>, PncError> {
            Ok(Sha512::digest(data).to_vec())
        }
    }

    impl ContractVerifier for HashSigner {
        fn verify_chain(&self, _: &[u8], _: &[Vec<u8>]) -> Result<VerifiedContract, PncError> {
            Ok(VerifiedContract::default())
        }
        fn verify_signature(
            &self,
            _: SignatureSuite,
            _: &[u8],
            data: &[u8],
            sig: &[u8],
        ) -> Result<(), PncError> {
            if Sha512::digest(data).as_slice() == sig {
                Ok(())
            } else {
                Err(PncError::Signature("mismatch".into()))
            }
        }
    }

    fn pnc(challenge: u8) -> Fragment {
        Fragment::PnC_AReqAuthorizationMode(PnC_AReqAuthorizationModeType {
            id: SIGNED_ID.into(),
            gen_challenge: vec![challenge; 16],
            contract_certificate_chain: ContractCertificateChainType {
                certificate: vec![0x30, 0x01, 0x00],
                sub_certificates: SubCertificatesType {
                    certificate: vec![vec![0x30, 0x00]],
                },
            },
        })
    }

    const P521: SignatureSuite = SignatureSuite::EcdsaSecp521r1Sha512;

    #[test]
    fn the_signature_uses_sha512_references_and_verifies() {
        let signer = HashSigner(P521);
        let sig = sign(&signer, &[(SIGNED_ID, pnc(7))]).unwrap();
        let reference = &sig.signed_info.reference[0];
        assert_eq!(reference.uri.as_deref(), Some("#id1"));
        assert_eq!(reference.digest_value.len(), 64, "SHA-512");
        assert_eq!(
            sig.signed_info.signature_method.algorithm,
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512"
        );
        assert_eq!(
            verify(&signer, &[P521], &[], &sig, &[(SIGNED_ID, pnc(7))]),
            Ok(P521)
        );
        let err = verify(&signer, &[P521], &[], &sig, &[(SIGNED_ID, pnc(8))]).unwrap_err();
        assert_eq!(
            authorization_code(&err),
            ResponseCodeType::FAILED_SignatureError
        );
    }

    #[test]
    fn a_suite_the_charger_does_not_accept_is_refused() {
        let weak = HashSigner(SignatureSuite::EcdsaSecp256r1Sha256);
        let sig = sign(&weak, &[(SIGNED_ID, pnc(1))]).unwrap();
        let err = verify(&weak, &[P521], &[], &sig, &[(SIGNED_ID, pnc(1))]).unwrap_err();
        assert!(matches!(err, PncError::Signature(ref s) if s.contains("not accepted")));
        // Accepted when configured (the Josev quirk).
        assert!(
            verify(
                &weak,
                &[P521, SignatureSuite::EcdsaSecp256r1Sha256],
                &[],
                &sig,
                &[(SIGNED_ID, pnc(1))]
            )
            .is_ok()
        );
    }

    #[test]
    fn a_reference_with_a_swapped_digest_method_is_refused() {
        let signer = HashSigner(P521);
        let mut sig = sign(&signer, &[(SIGNED_ID, pnc(1))]).unwrap();
        sig.signed_info.reference[0].digest_method.algorithm =
            SignatureSuite::EcdsaSecp256r1Sha256.digest_method().into();
        assert!(verify(&signer, &[P521], &[], &sig, &[(SIGNED_ID, pnc(1))]).is_err());
    }

    #[test]
    fn the_pnc_fragment_is_a_commonmessages_fragment() {
        // The fragment grammar of the CommonMessages set: header 0x80, then a 9-bit code.
        let bytes = fragment_bytes(&pnc(1)).unwrap();
        assert_eq!(bytes[0], 0x80);
        let back = Fragment::decode(&bytes).unwrap();
        assert_eq!(back, pnc(1));
    }
}
