//! ISO 15118-20 Plug & Charge cryptography with OpenSSL: the implementations of the core's
//! [`ccs_proto::session::iso20::pnc`] traits.
//!
//! - [`Iso20Signer`]: the car's contract key. The suite follows the key: secp521r1 signs
//!   ECDSA/SHA-512 (ISO 15118-20's profile), secp256r1 ECDSA/SHA-256 (ISO 15118-2's; what
//!   Josev 0.31.2 uses for -20). The SignatureValue is the raw `r‖s`, each padded to the
//!   curve's scalar length (66 bytes on secp521r1).
//! - [`Iso20Verifier`]: the charger's contract chain validation against the configured roots
//!   (the same X.509 path validation as ISO 15118-2, [`crate::pnc::OpensslVerifier`]) and the
//!   signature check with the leaf's public key.
//!
//! `CURVE=secp521r1 DIGEST=sha512 scripts/make-test-pki.sh DIR` creates a test PKI these read.

use std::path::{Path, PathBuf};

use ccs_msg::iso2::{CertificateChainType, SubCertificatesType};
use ccs_proto::session::iso2::pnc::ContractVerifier as _;
use ccs_proto::session::iso20::pnc::{
    ContractSigner, ContractVerifier, PncError, SignatureSuite, VerifiedContract,
};
use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private, Public};
use openssl::sign::{Signer, Verifier};
use openssl::x509::X509;

use crate::error::LinkError;
use crate::pnc::OpensslVerifier;

fn crypto(what: &str) -> impl Fn(openssl::error::ErrorStack) -> PncError + '_ {
    move |e| PncError::Crypto(format!("{what}: {e}"))
}

/// The suite of an EC key's curve, and its scalar length in bytes.
fn suite_of<T: openssl::pkey::HasPublic>(
    key: &PKey<T>,
) -> Result<(SignatureSuite, usize), PncError> {
    let ec = key
        .ec_key()
        .map_err(|_| PncError::Crypto("not an EC key (Ed448 is not supported)".into()))?;
    match ec.group().curve_name() {
        Some(Nid::SECP521R1) => Ok((SignatureSuite::EcdsaSecp521r1Sha512, 66)),
        Some(Nid::X9_62_PRIME256V1) => Ok((SignatureSuite::EcdsaSecp256r1Sha256, 32)),
        other => Err(PncError::Crypto(format!("curve {other:?}"))),
    }
}

fn digest(suite: SignatureSuite) -> MessageDigest {
    match suite {
        SignatureSuite::EcdsaSecp256r1Sha256 => MessageDigest::sha256(),
        _ => MessageDigest::sha512(),
    }
}

/// The car's ISO 15118-20 contract key.
#[derive(Clone)]
pub struct Iso20Signer {
    key: PKey<Private>,
    suite: SignatureSuite,
    scalar_len: usize,
}

impl std::fmt::Debug for Iso20Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Iso20Signer({:?})", self.suite)
    }
}

impl Iso20Signer {
    /// Reads a PEM private key (PKCS#8 or SEC1, unencrypted) on secp521r1 or secp256r1.
    pub fn from_pem_file(path: &Path) -> Result<Self, LinkError> {
        let pem = std::fs::read(path)
            .map_err(|e| LinkError::Config(format!("{}: {e}", path.display())))?;
        let key = PKey::private_key_from_pem(&pem)
            .map_err(|e| LinkError::Config(format!("{}: {e}", path.display())))?;
        let (suite, scalar_len) =
            suite_of(&key).map_err(|e| LinkError::Config(format!("{}: {e}", path.display())))?;
        Ok(Self {
            key,
            suite,
            scalar_len,
        })
    }
}

impl ContractSigner for Iso20Signer {
    fn suite(&self) -> SignatureSuite {
        self.suite
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, PncError> {
        let mut signer = Signer::new(digest(self.suite), &self.key).map_err(crypto("signer"))?;
        let der = signer.sign_oneshot_to_vec(data).map_err(crypto("sign"))?;
        let sig = EcdsaSig::from_der(&der).map_err(crypto("signature"))?;
        let len = i32::try_from(self.scalar_len).map_err(|_| PncError::Crypto("length".into()))?;
        // The raw r‖s, not DER (as in ISO 15118-2).
        let r = sig.r().to_vec_padded(len).map_err(crypto("r"))?;
        let s = sig.s().to_vec_padded(len).map_err(crypto("s"))?;
        Ok([r, s].concat())
    }
}

/// The charger's trust anchors for ISO 15118-20 contract chains (MO roots, V2G root).
#[derive(Clone, Debug)]
pub struct Iso20Verifier {
    roots: OpensslVerifier,
}

impl Iso20Verifier {
    /// Reads the trust anchors from PEM files (each may hold several certificates).
    pub fn from_pem_files(paths: &[PathBuf]) -> Result<Self, LinkError> {
        Ok(Self {
            roots: OpensslVerifier::from_pem_files(paths)?,
        })
    }
}

fn public_key(certificate: &[u8]) -> Result<PKey<Public>, PncError> {
    X509::from_der(certificate)
        .map_err(|e| PncError::CertChain(format!("certificate: {e}")))?
        .public_key()
        .map_err(crypto("public key"))
}

impl ContractVerifier for Iso20Verifier {
    fn verify_chain(
        &self,
        leaf: &[u8],
        sub_certificates: &[Vec<u8>],
    ) -> Result<VerifiedContract, PncError> {
        // The same X.509 path validation as ISO 15118-2; only the container differs.
        self.roots.verify_chain(&CertificateChainType {
            id: None,
            certificate: leaf.to_vec(),
            sub_certificates: Some(SubCertificatesType {
                certificate: sub_certificates.to_vec(),
            }),
        })
    }

    fn verify_signature(
        &self,
        suite: SignatureSuite,
        certificate: &[u8],
        data: &[u8],
        signature: &[u8],
    ) -> Result<(), PncError> {
        let key = public_key(certificate)?;
        let (key_suite, scalar_len) = suite_of(&key)?;
        // The SignatureMethod must be the one of the certificate's curve.
        if key_suite != suite {
            return Err(PncError::Signature(format!(
                "{suite:?} with a {key_suite:?} certificate"
            )));
        }
        if signature.len() != 2 * scalar_len {
            return Err(PncError::Signature(format!(
                "{} bytes instead of {}",
                signature.len(),
                2 * scalar_len
            )));
        }
        let (r, s) = signature.split_at(scalar_len);
        let der = EcdsaSig::from_private_components(
            BigNum::from_slice(r).map_err(crypto("r"))?,
            BigNum::from_slice(s).map_err(crypto("s"))?,
        )
        .and_then(|sig| sig.to_der())
        .map_err(crypto("signature"))?;
        let mut verifier = Verifier::new(digest(suite), &key).map_err(crypto("verifier"))?;
        match verifier.verify_oneshot(&der, data) {
            Ok(true) => Ok(()),
            Ok(false) | Err(_) => Err(PncError::Signature("ECDSA verification failed".into())),
        }
    }
}
