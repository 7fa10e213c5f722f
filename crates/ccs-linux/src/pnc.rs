//! ISO 15118-2 Plug & Charge cryptography with OpenSSL: the implementations of the core's
//! [`ccs_proto::session::iso2::pnc`] traits, and loading contract credentials from PEM files.
//!
//! - [`OpensslSigner`]: the car's contract key (ECDSA P-256 / SHA-256, raw `r‖s`).
//! - [`OpensslVerifier`]: the charger's contract chain validation against the configured V2G
//!   and MO roots, and signature verification with the leaf's public key.
//! - [`OpensslCertificateInstaller`] / [`OpensslCertificateUpdater`]: the car's side of
//!   CertificateInstallation (OEM provisioning key) and CertificateUpdate (current contract
//!   key): the CPS signature over the response checked, the new contract key decrypted.
//! - [`FileCertificateBackend`]: a certificate backend that answers CertificateInstallation and
//!   CertificateUpdate with prepared EXI messages from a directory (tests, demos).
//!
//! `scripts/make-test-pki.sh` creates a complete ISO 15118-2 test PKI these read.

use std::path::{Path, PathBuf};

use std::sync::Arc;

use ccs_msg::iso2::{
    BodyElement, CertificateChainType, CertificateInstallationReqType,
    CertificateInstallationResType, CertificateUpdateReqType, CertificateUpdateResType,
    ContractSignatureEncryptedPrivateKeyType, DiffieHellmanPublickeyType, EMAIDType, Fragment,
    SubCertificatesType,
};
use ccs_msg::xmldsig::{SignatureType, X509IssuerSerialType};
use ccs_proto::session::iso2::ContractCredentials;
use ccs_proto::session::iso2::pnc::{
    self, BackendResponse, CertificateBackend, CertificateInstaller, CertificateUpdater,
    ContractSigner, ContractVerifier, InstalledContract, PncError, VerifiedContract,
};
use openssl::bn::{BigNum, BigNumContext};
use openssl::derive::Deriver;
use openssl::ec::{EcGroup, EcKey, EcPoint};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::sign::{Signer, Verifier};
use openssl::stack::Stack;
use openssl::symm::{Cipher, Crypter, Mode};
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
        self.verify_against_roots(chain)
    }

    fn verify_signature(
        &self,
        certificate: &[u8],
        data: &[u8],
        signature: &[u8],
    ) -> Result<(), PncError> {
        verify_raw_signature(certificate, data, signature)
    }
}

impl OpensslVerifier {
    /// Validates `chain` (leaf and sub-CAs, DER) against the roots.
    fn verify_against_roots(
        &self,
        chain: &CertificateChainType,
    ) -> Result<VerifiedContract, PncError> {
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
}

/// Verifies the raw `r‖s` ECDSA/SHA-256 `signature` over `data` with the public key of the DER
/// `certificate`.
fn verify_raw_signature(certificate: &[u8], data: &[u8], signature: &[u8]) -> Result<(), PncError> {
    {
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

/// The car's OEM provisioning identity for CertificateInstallation: its certificate and key,
/// and the V2G roots against which the SA provisioning chain of the response is checked.
#[derive(Clone)]
pub struct OpensslCertificateInstaller {
    oem_certificate: Vec<u8>,
    oem_key: PKey<Private>,
    v2g_roots: OpensslVerifier,
}

impl std::fmt::Debug for OpensslCertificateInstaller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpensslCertificateInstaller(..)")
    }
}

/// The ConcatKDF of [V2G2-818]: SHA-256 over counter 1, the shared secret and OtherInfo
/// (AlgorithmID 0x01, PartyUInfo 0x55, PartyVInfo 0x56), the first 16 bytes.
fn concat_kdf(shared_secret: &[u8]) -> [u8; 16] {
    let digest = pnc::sha256(&[&[0, 0, 0, 1], shared_secret, &[0x01, 0x55, 0x56]].concat());
    let mut key = [0; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

fn issuer_name(cert: &X509) -> String {
    // RFC 4514 order: the last RDN first.
    let mut parts: Vec<String> = cert
        .issuer_name()
        .entries()
        .filter_map(|e| {
            let field = e.object().nid().short_name().ok()?;
            let value = std::str::from_utf8(e.data().as_slice()).ok()?;
            Some(format!("{field}={value}"))
        })
        .collect();
    parts.reverse();
    parts.join(",")
}

impl OpensslCertificateInstaller {
    /// Reads the OEM provisioning certificate (PEM, the leaf first) and its unencrypted key,
    /// and the V2G root certificates (PEM).
    pub fn from_pem_files(
        oem_certificate: &Path,
        oem_key: &Path,
        v2g_roots: &[PathBuf],
    ) -> Result<Self, LinkError> {
        let certs = X509::stack_from_pem(&read(oem_certificate)?)
            .map_err(|e| LinkError::Config(format!("{}: {e}", oem_certificate.display())))?;
        let leaf = certs.first().ok_or_else(|| {
            LinkError::Config(format!("{}: no certificate", oem_certificate.display()))
        })?;
        Ok(Self {
            oem_certificate: leaf
                .to_der()
                .map_err(|e| LinkError::Config(e.to_string()))?,
            oem_key: OpensslSigner::from_pem_file(oem_key)?.key,
            v2g_roots: OpensslVerifier::from_pem_files(v2g_roots)?,
        })
    }
}

/// The contract private key: ECDH of `own_key` (the OEM provisioning key for an installation,
/// the current contract key for an update) with the response's DH public key, ConcatKDF,
/// AES-128-CBC with the IV in the first 16 bytes ([V2G2-818]).
fn decrypt_contract_key(
    own_key: &PKey<Private>,
    dh_public: &[u8],
    encrypted: &[u8],
) -> Result<PKey<Private>, PncError> {
    {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(crypto("group"))?;
        let mut ctx = BigNumContext::new().map_err(crypto("bn"))?;
        let point = EcPoint::from_bytes(&group, dh_public, &mut ctx)
            .map_err(|e| PncError::Signature(format!("DHpublickey: {e}")))?;
        let peer = PKey::from_ec_key(EcKey::from_public_key(&group, &point).map_err(crypto("ec"))?)
            .map_err(crypto("pkey"))?;
        let mut deriver = Deriver::new(own_key).map_err(crypto("ecdh"))?;
        deriver.set_peer(&peer).map_err(crypto("ecdh"))?;
        let shared = deriver.derive_to_vec().map_err(crypto("ecdh"))?;
        let key = concat_kdf(&shared);
        if encrypted.len() != 48 {
            return Err(PncError::Signature(format!(
                "encrypted private key of {} bytes instead of 16 + 32",
                encrypted.len()
            )));
        }
        let (iv, body) = encrypted.split_at(16);
        let cipher = Cipher::aes_128_cbc();
        let mut crypter =
            Crypter::new(cipher, Mode::Decrypt, &key, Some(iv)).map_err(crypto("aes"))?;
        crypter.pad(false);
        let mut scalar = vec![0; body.len() + cipher.block_size()];
        let n = crypter.update(body, &mut scalar).map_err(crypto("aes"))?;
        let m = crypter.finalize(&mut scalar[n..]).map_err(crypto("aes"))?;
        scalar.truncate(n + m);
        let private = BigNum::from_slice(&scalar).map_err(crypto("bn"))?;
        let mut public = EcPoint::new(&group).map_err(crypto("ec"))?;
        public
            .mul_generator2(&group, &private, &mut ctx)
            .map_err(crypto("ec"))?;
        let ec = EcKey::from_private_components(&group, &private, &public).map_err(crypto("ec"))?;
        ec.check_key()
            .map_err(|e| PncError::Signature(format!("decrypted key: {e}")))?;
        PKey::from_ec_key(ec).map_err(crypto("pkey"))
    }
}

/// ListOfRootCertificateIDs: issuer and serial of each V2G root.
fn root_certificate_ids(roots: &OpensslVerifier) -> Vec<X509IssuerSerialType> {
    roots
        .roots
        .iter()
        .filter_map(|root| {
            let serial = root.serial_number().to_bn().ok()?.to_vec();
            Some(X509IssuerSerialType {
                x509_issuer_name: issuer_name(root),
                x509_serial_number: ccs_exi::BigInt::new(false, &serial),
            })
        })
        .collect()
}

/// The parts of CertificateInstallationRes and CertificateUpdateRes the car checks.
struct ProvisioningResponse<'a> {
    sa_chain: &'a CertificateChainType,
    contract_chain: &'a CertificateChainType,
    encrypted_key: &'a ContractSignatureEncryptedPrivateKeyType,
    dh_public: &'a DiffieHellmanPublickeyType,
    emaid: &'a EMAIDType,
}

/// Checks a provisioning response against the V2G roots and unpacks the contract: the SA
/// provisioning chain (the CPS) leads to a root, its leaf signed the contract chain, the
/// encrypted key, the DH public key and the eMAID, and the decrypted key belongs to the
/// contract certificate.
fn unpack_contract(
    v2g_roots: &OpensslVerifier,
    own_key: &PKey<Private>,
    res: &ProvisioningResponse<'_>,
    signature: Option<&SignatureType>,
) -> Result<InstalledContract, PncError> {
    v2g_roots.verify_against_roots(res.sa_chain)?;
    let Some(signature) = signature else {
        return Err(PncError::Signature("the response is unsigned".into()));
    };
    let chain_id = res
        .contract_chain
        .id
        .clone()
        .ok_or_else(|| PncError::Signature("ContractSignatureCertChain without Id".into()))?;
    pnc::verify(
        v2g_roots,
        &res.sa_chain.certificate,
        signature,
        &[
            (
                chain_id.as_str(),
                Fragment::ContractSignatureCertChain(res.contract_chain.clone()),
            ),
            (
                res.encrypted_key.id.as_str(),
                Fragment::ContractSignatureEncryptedPrivateKey(res.encrypted_key.clone()),
            ),
            (
                res.dh_public.id.as_str(),
                Fragment::DHpublickey(res.dh_public.clone()),
            ),
            (res.emaid.id.as_str(), pnc::emaid_fragment(res.emaid)),
        ],
    )?;
    let key = decrypt_contract_key(own_key, &res.dh_public.value, &res.encrypted_key.value)?;
    let leaf = X509::from_der(&res.contract_chain.certificate)
        .map_err(|e| PncError::CertChain(format!("contract certificate: {e}")))?;
    let leaf_key = leaf.public_key().map_err(crypto("public key"))?;
    if !key.public_eq(&leaf_key) {
        return Err(PncError::Signature(
            "the decrypted key does not belong to the contract certificate".into(),
        ));
    }
    let subs = res
        .contract_chain
        .sub_certificates
        .as_ref()
        .map(|s: &SubCertificatesType| s.certificate.clone())
        .unwrap_or_default();
    Ok(InstalledContract {
        credentials: ContractCredentials {
            certificate: res.contract_chain.certificate.clone(),
            sub_certificates: subs,
            emaid: res.emaid.value.clone(),
        },
        signer: Arc::new(OpensslSigner { key }),
    })
}

impl ContractSigner for OpensslCertificateInstaller {
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, PncError> {
        OpensslSigner {
            key: self.oem_key.clone(),
        }
        .sign(data)
    }
}

impl CertificateInstaller for OpensslCertificateInstaller {
    fn oem_provisioning_certificate(&self) -> Vec<u8> {
        self.oem_certificate.clone()
    }

    fn root_certificate_ids(&self) -> Vec<X509IssuerSerialType> {
        root_certificate_ids(&self.v2g_roots)
    }

    fn install(
        &self,
        res: &CertificateInstallationResType,
        signature: Option<&SignatureType>,
    ) -> Result<InstalledContract, PncError> {
        unpack_contract(
            &self.v2g_roots,
            &self.oem_key,
            &ProvisioningResponse {
                sa_chain: &res.sa_provisioning_certificate_chain,
                contract_chain: &res.contract_signature_cert_chain,
                encrypted_key: &res.contract_signature_encrypted_private_key,
                dh_public: &res.d_hpublickey,
                emaid: &res.e_maid,
            },
            signature,
        )
    }
}

/// The car's current contract key and V2G roots, to renew the contract
/// (CertificateUpdate): signs the request, decrypts the new key with ECDH of the current one.
#[derive(Clone)]
pub struct OpensslCertificateUpdater {
    contract_key: PKey<Private>,
    v2g_roots: OpensslVerifier,
}

impl std::fmt::Debug for OpensslCertificateUpdater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpensslCertificateUpdater(..)")
    }
}

impl OpensslCertificateUpdater {
    /// Reads the current contract key (PEM, unencrypted) and the V2G roots (PEM).
    pub fn from_pem_files(contract_key: &Path, v2g_roots: &[PathBuf]) -> Result<Self, LinkError> {
        Ok(Self {
            contract_key: OpensslSigner::from_pem_file(contract_key)?.key,
            v2g_roots: OpensslVerifier::from_pem_files(v2g_roots)?,
        })
    }
}

impl ContractSigner for OpensslCertificateUpdater {
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, PncError> {
        OpensslSigner {
            key: self.contract_key.clone(),
        }
        .sign(data)
    }
}

impl CertificateUpdater for OpensslCertificateUpdater {
    fn root_certificate_ids(&self) -> Vec<X509IssuerSerialType> {
        root_certificate_ids(&self.v2g_roots)
    }

    fn update(
        &self,
        res: &CertificateUpdateResType,
        signature: Option<&SignatureType>,
    ) -> Result<InstalledContract, PncError> {
        unpack_contract(
            &self.v2g_roots,
            &self.contract_key,
            &ProvisioningResponse {
                sa_chain: &res.sa_provisioning_certificate_chain,
                contract_chain: &res.contract_signature_cert_chain,
                encrypted_key: &res.contract_signature_encrypted_private_key,
                dh_public: &res.d_hpublickey,
                emaid: &res.e_maid,
            },
            signature,
        )
    }
}
