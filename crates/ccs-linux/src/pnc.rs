//! ISO 15118-2 Plug & Charge cryptography with OpenSSL: the implementations of the core's
//! [`ccs_proto::session::iso2::pnc`] traits, and loading contract credentials from PEM files.
//!
//! - [`OpensslSigner`]: the car's contract key (ECDSA P-256 / SHA-256, raw `r‖s`).
//! - [`OpensslVerifier`]: the charger's contract chain validation against the configured V2G
//!   and MO roots, and signature verification with the leaf's public key.
//! - [`FileCertificateBackend`]: a certificate backend that answers CertificateInstallation and
//!   CertificateUpdate with prepared EXI messages from a directory (tests, demos).
//!
//! `scripts/make-test-pki.sh` creates a complete ISO 15118-2 test PKI these read.

use std::path::{Path, PathBuf};

use ccs_msg::iso2::{
    BodyElement, CertificateChainType, CertificateInstallationReqType, CertificateUpdateReqType,
};
use ccs_proto::session::iso2::ContractCredentials;
use ccs_proto::session::iso2::pnc::{
    BackendResponse, CertificateBackend, ContractSigner, ContractVerifier, PncError,
    VerifiedContract,
};
use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::sign::{Signer, Verifier};
use openssl::stack::Stack;
use openssl::x509::store::{X509Store, X509StoreBuilder};
use openssl::x509::{X509, X509StoreContext, X509VerifyResult};

use crate::error::LinkError;

/// The length of each of `r` and `s` on P-256.
const P256_SCALAR_LEN: i32 = 32;

fn crypto(what: &str) -> impl Fn(openssl::error::ErrorStack) -> PncError + '_ {
    move |e| PncError::Crypto(format!("{what}: {e}"))
}

fn read(path: &Path) -> Result<Vec<u8>, LinkError> {
    std::fs::read(path).map_err(|e| LinkError::Config(format!("{}: {e}", path.display())))
}

/// The car's contract private key.
#[derive(Clone)]
pub struct OpensslSigner {
    key: PKey<Private>,
}

impl std::fmt::Debug for OpensslSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpensslSigner(..)")
    }
}

impl OpensslSigner {
    /// Reads a PEM private key (PKCS#8 or SEC1), unencrypted.
    pub fn from_pem_file(path: &Path) -> Result<Self, LinkError> {
        let key = PKey::private_key_from_pem(&read(path)?)
            .map_err(|e| LinkError::Config(format!("{}: {e}", path.display())))?;
        Ok(Self { key })
    }
}

impl ContractSigner for OpensslSigner {
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, PncError> {
        let mut signer =
            Signer::new(MessageDigest::sha256(), &self.key).map_err(crypto("signer"))?;
        let der = signer.sign_oneshot_to_vec(data).map_err(crypto("sign"))?;
        let sig = EcdsaSig::from_der(&der).map_err(crypto("signature"))?;
        // ISO 15118-2: the raw r‖s, each 32 bytes, not DER.
        let r = sig
            .r()
            .to_vec_padded(P256_SCALAR_LEN)
            .map_err(crypto("r"))?;
        let s = sig
            .s()
            .to_vec_padded(P256_SCALAR_LEN)
            .map_err(crypto("s"))?;
        Ok([r, s].concat())
    }
}

/// The charger's trust anchors for contract chains (V2G root and MO roots).
#[derive(Clone)]
pub struct OpensslVerifier {
    roots: Vec<X509>,
}

impl std::fmt::Debug for OpensslVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OpensslVerifier({} roots)", self.roots.len())
    }
}

impl OpensslVerifier {
    /// Reads the trust anchors from PEM files (each may hold several certificates).
    pub fn from_pem_files(paths: &[PathBuf]) -> Result<Self, LinkError> {
        let mut roots = Vec::new();
        for path in paths {
            let certs = X509::stack_from_pem(&read(path)?)
                .map_err(|e| LinkError::Config(format!("{}: {e}", path.display())))?;
            roots.extend(certs);
        }
        if roots.is_empty() {
            return Err(LinkError::Config("no contract trust anchors".into()));
        }
        Ok(Self { roots })
    }

    fn store(&self) -> Result<X509Store, PncError> {
        let mut builder = X509StoreBuilder::new().map_err(crypto("store"))?;
        for root in &self.roots {
            builder.add_cert(root.clone()).map_err(crypto("root"))?;
        }
        Ok(builder.build())
    }
}

fn common_name(cert: &X509) -> Option<String> {
    cert.subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .and_then(|e| std::str::from_utf8(e.data().as_slice()).ok())
        .map(str::to_owned)
}

impl ContractVerifier for OpensslVerifier {
    fn verify_chain(&self, chain: &CertificateChainType) -> Result<VerifiedContract, PncError> {
        let leaf = X509::from_der(&chain.certificate)
            .map_err(|e| PncError::CertChain(format!("contract certificate: {e}")))?;
        let mut intermediates = Stack::new().map_err(crypto("stack"))?;
        for der in chain
            .sub_certificates
            .iter()
            .flat_map(|s| s.certificate.iter())
        {
            let cert = X509::from_der(der)
                .map_err(|e| PncError::CertChain(format!("sub-CA certificate: {e}")))?;
            intermediates.push(cert).map_err(crypto("stack"))?;
        }
        let store = self.store()?;
        let mut context = X509StoreContext::new().map_err(crypto("context"))?;
        let (ok, result) = context
            .init(&store, &leaf, &intermediates, |c| {
                let ok = c.verify_cert()?;
                Ok((ok, c.error()))
            })
            .map_err(crypto("verify"))?;
        if !ok {
            let code = result.as_raw();
            // X509_V_ERR_CERT_NOT_YET_VALID (9), X509_V_ERR_CERT_HAS_EXPIRED (10).
            return Err(if code == 9 || code == 10 {
                PncError::CertificateExpired(result.error_string().to_owned())
            } else {
                PncError::CertChain(result.error_string().to_owned())
            });
        }
        debug_assert_eq!(result, X509VerifyResult::OK);
        Ok(VerifiedContract {
            common_name: common_name(&leaf),
        })
    }

    fn verify_signature(
        &self,
        certificate: &[u8],
        data: &[u8],
        signature: &[u8],
    ) -> Result<(), PncError> {
        if signature.len() != 2 * P256_SCALAR_LEN as usize {
            return Err(PncError::Signature(format!(
                "{} bytes instead of 64",
                signature.len()
            )));
        }
        let cert = X509::from_der(certificate)
            .map_err(|e| PncError::CertChain(format!("certificate: {e}")))?;
        let key = cert.public_key().map_err(crypto("public key"))?;
        let (r, s) = signature.split_at(P256_SCALAR_LEN as usize);
        let sig = EcdsaSig::from_private_components(
            BigNum::from_slice(r).map_err(crypto("r"))?,
            BigNum::from_slice(s).map_err(crypto("s"))?,
        )
        .map_err(crypto("signature"))?;
        let der = sig.to_der().map_err(crypto("signature"))?;
        let mut verifier =
            Verifier::new(MessageDigest::sha256(), &key).map_err(crypto("verifier"))?;
        match verifier.verify_oneshot(&der, data) {
            Ok(true) => Ok(()),
            Ok(false) | Err(_) => Err(PncError::Signature("ECDSA verification failed".into())),
        }
    }
}

/// Reads the car's contract certificate chain (PEM: the leaf first, then up to two sub-CAs,
/// [V2G2-656]); the eMAID is the leaf's CommonName.
pub fn load_contract(chain_pem: &Path) -> Result<ContractCredentials, LinkError> {
    let certs = X509::stack_from_pem(&read(chain_pem)?)
        .map_err(|e| LinkError::Config(format!("{}: {e}", chain_pem.display())))?;
    let Some((leaf, subs)) = certs.split_first() else {
        return Err(LinkError::Config(format!(
            "{}: no certificate",
            chain_pem.display()
        )));
    };
    let der = |c: &X509| {
        c.to_der()
            .map_err(|e| LinkError::Config(format!("{}: {e}", chain_pem.display())))
    };
    let emaid = common_name(leaf).ok_or_else(|| {
        LinkError::Config(format!(
            "{}: the leaf has no CommonName",
            chain_pem.display()
        ))
    })?;
    Ok(ContractCredentials {
        certificate: der(leaf)?,
        sub_certificates: subs.iter().take(2).map(der).collect::<Result<_, _>>()?,
        emaid,
    })
}

/// A certificate backend that answers with prepared messages: `CertificateInstallationRes.exi`
/// and `CertificateUpdateRes.exi` in its directory, each an EXI-encoded ISO-2 `V2G_Message`
/// whose header Signature (made by the CPS) is relayed with the body.
#[derive(Clone, Debug)]
pub struct FileCertificateBackend {
    dir: PathBuf,
}

impl FileCertificateBackend {
    /// A backend reading from `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn answer(&self, file: &str, want_update: bool) -> Result<BackendResponse, PncError> {
        let path = self.dir.join(file);
        let bytes = std::fs::read(&path)
            .map_err(|e| PncError::Backend(format!("{}: {e}", path.display())))?;
        let msg = ccs_msg::iso2::decode(&bytes)
            .map_err(|e| PncError::Backend(format!("{}: {e}", path.display())))?;
        match msg.body.body_element {
            Some(body @ BodyElement::CertificateInstallationRes(_)) if !want_update => {
                Ok(BackendResponse {
                    signature: msg.header.signature,
                    body,
                })
            }
            Some(body @ BodyElement::CertificateUpdateRes(_)) if want_update => {
                Ok(BackendResponse {
                    signature: msg.header.signature,
                    body,
                })
            }
            _ => Err(PncError::Backend(format!(
                "{}: not the expected response",
                path.display()
            ))),
        }
    }
}

impl CertificateBackend for FileCertificateBackend {
    fn certificate_installation(
        &self,
        _req: &CertificateInstallationReqType,
    ) -> Result<BackendResponse, PncError> {
        self.answer("CertificateInstallationRes.exi", false)
    }

    fn certificate_update(
        &self,
        _req: &CertificateUpdateReqType,
    ) -> Result<BackendResponse, PncError> {
        self.answer("CertificateUpdateRes.exi", true)
    }
}
