//! TLS with OpenSSL, in the two profiles ISO 15118 prescribes.
//!
//! - [`TlsProfile::Iso15118_2`]: TLS 1.2 only ([V2G2-067]); the SECC is always the TLS server
//!   ([V2G2-068]); cipher suite `TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256` (OpenSSL:
//!   `ECDHE-ECDSA-AES128-SHA256`) on secp256r1 ([V2G2-602], Table 7). The table's second suite,
//!   `TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256`, no longer exists in OpenSSL ≥ 1.1. rustls has no
//!   CBC suites at all, which is why this crate uses OpenSSL.
//! - [`TlsProfile::Iso15118_20`]: TLS 1.3 only, `TLS_AES_256_GCM_SHA384` and
//!   `TLS_CHACHA20_POLY1305_SHA256`, key exchange on secp521r1 or X448, mutual authentication
//!   configurable (ISO 15118-20 §7.7.3).
//! - [`TlsProfile::Iso15118_2Or20`]: a charger or car that offers both standards in
//!   SupportedAppProtocol. The car offers TLS 1.2 and 1.3. The charger gives each connection
//!   exactly one of the two profiles above, each with its own context and certificate (ISO
//!   15118-20 chains are secp521r1, ISO 15118-2 ones secp256r1), chosen from the car's
//!   ClientHello before the handshake ([`crate::client_hello`]): ISO 15118-20's for TLS 1.3
//!   with secp521r1 or X448, ISO 15118-2's otherwise. The session then keeps ISO 15118-20 to
//!   the TLS 1.3 connections.
//!
//! Certificates and keys come from PEM files named in the configuration. With `key_log` set,
//! every session's secrets are appended to that file in NSS key log format, so Wireshark
//! (with dsV2Gshark) can decrypt a capture; never enable it on a production charger. Whether
//! or not a file is set, each connection's lines are also kept with the connection
//! ([`crate::v2g::V2gConnection::tls_secrets`]), so that a session recording can carry them in
//! its pcapng file (decryption secrets block) next to the encrypted frames.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use openssl::ex_data::Index;
use std::pin::Pin;
use std::time::Duration;

use openssl::ssl::{
    Ssl, SslAcceptor, SslConnector, SslContextBuilder, SslFiletype, SslMethod, SslRef,
    SslVerifyMode, SslVersion,
};
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

use crate::client_hello::{ClientHello, HelloError};
use crate::error::LinkError;

/// Which standard's TLS rules apply.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum TlsProfile {
    /// ISO 15118-2 (and DIN SPEC 70121 never uses TLS): TLS 1.2, `ECDHE-ECDSA-AES128-SHA256`.
    Iso15118_2,
    /// ISO 15118-20: TLS 1.3.
    Iso15118_20,
    /// Either, per connection: ISO 15118-20's TLS 1.3 when the peer offers it, else ISO
    /// 15118-2's TLS 1.2.
    Iso15118_2Or20,
}

/// The ISO 15118-2 cipher suite in OpenSSL's naming ([V2G2-602]).
pub const ISO15118_2_CIPHER: &str = "ECDHE-ECDSA-AES128-SHA256";
/// The ISO 15118-2 key exchange group: secp256r1.
const ISO15118_2_GROUPS: &str = "P-256";
/// The ISO 15118-20 TLS 1.3 cipher suites.
const ISO15118_20_CIPHERSUITES: &str = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
/// The ISO 15118-20 key exchange groups: secp521r1 and X448.
const ISO15118_20_GROUPS: &str = "P-521:X448";
/// A car offering both profiles: ISO 15118-20's groups first (its TLS 1.3 key share goes to
/// the first group), and a TLS 1.2 charger that knows only secp256r1 still finds it.
const BOTH_GROUPS: &str = "P-521:X448:P-256";

/// A certificate chain and its private key, as PEM files.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TlsIdentity {
    /// PEM file: the leaf certificate first, then its sub-CAs.
    pub certificate_chain: PathBuf,
    /// PEM file: the leaf's private key.
    pub private_key: PathBuf,
}

impl TlsIdentity {
    /// The identity in these two files.
    pub fn new(certificate_chain: PathBuf, private_key: PathBuf) -> Self {
        Self {
            certificate_chain,
            private_key,
        }
    }
}

/// The charger's TLS settings.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TlsServerConfig {
    /// The rules.
    pub profile: TlsProfile,
    /// PEM file: the SECC leaf certificate first, then its sub-CAs.
    pub certificate_chain: PathBuf,
    /// PEM file: the SECC's private key.
    pub private_key: PathBuf,
    /// With [`TlsProfile::Iso15118_2Or20`]: the identity of the TLS 1.3 (ISO 15118-20)
    /// connections; unset, they use `certificate_chain` too.
    pub iso20_identity: Option<TlsIdentity>,
    /// PEM file of trust anchors for client certificates; with it, an ISO 15118-20 car must
    /// present a certificate (mutual authentication, §7.7.3). ISO 15118-2 connections ignore
    /// it: there only the SECC authenticates ([V2G2-068]ff).
    pub client_ca: Option<PathBuf>,
    /// Append NSS key log lines here (for Wireshark); `None` in production.
    pub key_log: Option<PathBuf>,
}

impl TlsServerConfig {
    /// A server configuration with one-sided authentication and no key log.
    pub fn new(profile: TlsProfile, certificate_chain: PathBuf, private_key: PathBuf) -> Self {
        Self {
            profile,
            certificate_chain,
            private_key,
            iso20_identity: None,
            client_ca: None,
            key_log: None,
        }
    }
}

/// The car's TLS settings.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TlsClientConfig {
    /// The rules.
    pub profile: TlsProfile,
    /// PEM file of trust anchors (V2G root certificates) for the SECC's chain.
    pub trust_anchors: PathBuf,
    /// PEM file with the car's certificate chain, for mutual authentication (ISO 15118-20).
    pub certificate_chain: Option<PathBuf>,
    /// PEM file with the car's private key, for mutual authentication.
    pub private_key: Option<PathBuf>,
    /// Append NSS key log lines here (for Wireshark); `None` in production.
    pub key_log: Option<PathBuf>,
}

impl TlsClientConfig {
    /// A client configuration without a client certificate and without a key log.
    pub fn new(profile: TlsProfile, trust_anchors: PathBuf) -> Self {
        Self {
            profile,
            trust_anchors,
            certificate_chain: None,
            private_key: None,
            key_log: None,
        }
    }
}

fn config_error(what: &str, path: Option<&Path>, e: impl std::fmt::Display) -> LinkError {
    match path {
        Some(p) => LinkError::Config(format!("{what} {}: {e}", p.display())),
        None => LinkError::Config(format!("{what}: {e}")),
    }
}

/// Applies the profile's protocol versions, suites and groups.
fn apply_profile(ctx: &mut SslContextBuilder, profile: TlsProfile) -> Result<(), LinkError> {
    fn e(what: &'static str) -> impl Fn(openssl::error::ErrorStack) -> LinkError {
        move |err| config_error(what, None, err)
    }
    match profile {
        TlsProfile::Iso15118_2 => {
            // [V2G2-067]: TLS 1.2.
            ctx.set_min_proto_version(Some(SslVersion::TLS1_2))
                .map_err(e("TLS version"))?;
            ctx.set_max_proto_version(Some(SslVersion::TLS1_2))
                .map_err(e("TLS version"))?;
            // [V2G2-602]: the cipher suites of Table 7 (the ECDHE one; see the module doc).
            ctx.set_cipher_list(ISO15118_2_CIPHER)
                .map_err(e("cipher list"))?;
            ctx.set_groups_list(ISO15118_2_GROUPS)
                .map_err(e("groups"))?;
        }
        TlsProfile::Iso15118_20 => {
            ctx.set_min_proto_version(Some(SslVersion::TLS1_3))
                .map_err(e("TLS version"))?;
            ctx.set_max_proto_version(Some(SslVersion::TLS1_3))
                .map_err(e("TLS version"))?;
            ctx.set_ciphersuites(ISO15118_20_CIPHERSUITES)
                .map_err(e("cipher suites"))?;
            ctx.set_groups_list(ISO15118_20_GROUPS)
                .map_err(e("groups"))?;
        }
        TlsProfile::Iso15118_2Or20 => {
            ctx.set_min_proto_version(Some(SslVersion::TLS1_2))
                .map_err(e("TLS version"))?;
            ctx.set_max_proto_version(Some(SslVersion::TLS1_3))
                .map_err(e("TLS version"))?;
            ctx.set_cipher_list(ISO15118_2_CIPHER)
                .map_err(e("cipher list"))?;
            ctx.set_ciphersuites(ISO15118_20_CIPHERSUITES)
                .map_err(e("cipher suites"))?;
            ctx.set_groups_list(BOTH_GROUPS).map_err(e("groups"))?;
        }
    }
    Ok(())
}

/// The key log lines of one connection, collected while its handshake runs.
pub(crate) type SecretsSlot = Arc<Mutex<String>>;

/// The ex-data index under which a connection carries its [`SecretsSlot`] (one per process).
fn secrets_index() -> Option<Index<Ssl, SecretsSlot>> {
    static INDEX: OnceLock<Option<Index<Ssl, SecretsSlot>>> = OnceLock::new();
    *INDEX.get_or_init(|| Ssl::new_ex_index().ok())
}

/// Makes `ssl` collect its NSS key log lines, for the recording of the session (the pcapng
/// decryption secrets block); `None` if OpenSSL has no ex-data slot left.
pub(crate) fn collect_secrets(ssl: &mut SslRef) -> Option<SecretsSlot> {
    let index = secrets_index()?;
    let slot = SecretsSlot::default();
    ssl.set_ex_data(index, Arc::clone(&slot));
    Some(slot)
}

/// The NSS key log file, shared by the contexts of one acceptor or connector.
type KeyLogFile = Arc<Mutex<File>>;

/// Opens the key log file for appending, if one is configured.
fn open_key_log(path: Option<&Path>) -> Result<Option<KeyLogFile>, LinkError> {
    let Some(path) = path else {
        return Ok(None);
    };
    let file: File = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| config_error("key log file", Some(path), e))?;
    tracing::warn!(path = %path.display(), "TLS key log enabled: session secrets are written to disk");
    Ok(Some(Arc::new(Mutex::new(file))))
}

/// The key log callback: every line goes to the connection's [`SecretsSlot`] (when it has
/// one) and, with a key log file, is appended to it.
fn install_key_log(ctx: &mut SslContextBuilder, file: Option<KeyLogFile>) {
    ctx.set_keylog_callback(move |ssl, line| {
        if let Some(slot) = secrets_index().and_then(|i| ssl.ex_data(i))
            && let Ok(mut lines) = slot.lock()
        {
            lines.push_str(line);
            lines.push('\n');
        }
        if let Some(file) = &file
            && let Ok(mut f) = file.lock()
        {
            let _ = writeln!(f, "{line}");
            let _ = f.flush();
        }
    });
}

fn load_identity(ctx: &mut SslContextBuilder, chain: &Path, key: &Path) -> Result<(), LinkError> {
    ctx.set_certificate_chain_file(chain)
        .map_err(|e| config_error("certificate chain", Some(chain), e))?;
    ctx.set_private_key_file(key, SslFiletype::PEM)
        .map_err(|e| config_error("private key", Some(key), e))?;
    ctx.check_private_key()
        .map_err(|e| config_error("private key does not match", Some(key), e))
}

/// Makes the server ask for a client certificate chaining to `client_ca` (mutual
/// authentication), or for none.
fn set_client_verification(
    ctx: &mut SslContextBuilder,
    client_ca: Option<&Path>,
) -> Result<(), LinkError> {
    let mode = match client_ca {
        Some(ca) => {
            ctx.set_ca_file(ca)
                .map_err(|e| config_error("client CA file", Some(ca), e))?;
            SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT
        }
        None => SslVerifyMode::NONE,
    };
    ctx.set_verify(mode);
    Ok(())
}

/// The charger's TLS contexts: one, or one per standard (see the module docs).
pub(crate) enum Acceptor {
    /// One profile for every car.
    One(SslAcceptor),
    /// [`TlsProfile::Iso15118_2Or20`]: chosen per car from its ClientHello.
    PerStandard {
        /// TLS 1.2, secp256r1, the ISO 15118-2 chain, no client certificate.
        iso2: SslAcceptor,
        /// TLS 1.3, secp521r1/X448, the ISO 15118-20 chain, mutual authentication with a
        /// client CA.
        iso20: SslAcceptor,
    },
}

impl Acceptor {
    /// The context for a car whose first record is `hello`. Anything that is not a whole
    /// ClientHello gets ISO 15118-2's, whose handshake then refuses it.
    pub(crate) fn for_client_hello(
        &self,
        hello: Result<ClientHello<'_>, HelloError>,
    ) -> &SslAcceptor {
        match self {
            Self::One(acceptor) => acceptor,
            Self::PerStandard { iso2, iso20 } => match hello {
                Ok(hello) if hello.asks_for_iso15118_20() => iso20,
                _ => iso2,
            },
        }
    }

    /// Accepts a car on `stream`: the handshake in the context for its ClientHello, which is
    /// peeked at, not read, so that OpenSSL reads it again. Returns the TLS stream and the
    /// connection's key log lines (for the recording).
    pub(crate) async fn accept(
        &self,
        stream: TcpStream,
    ) -> Result<(SslStream<TcpStream>, Option<SecretsSlot>), String> {
        let first = match self {
            Self::One(_) => Vec::new(),
            Self::PerStandard { .. } => peek_first_record(&stream)
                .await
                .map_err(|e| format!("reading the ClientHello: {e}"))?,
        };
        let hello = ClientHello::parse(&first);
        if let (Self::PerStandard { .. }, Err(e)) = (self, &hello) {
            tracing::warn!(
                "the car's first TLS record is no ClientHello understood ({e:?}): ISO 15118-2's \
                 TLS 1.2 context answers it"
            );
        }
        let acceptor = self.for_client_hello(hello);
        let mut ssl = Ssl::new(acceptor.context()).map_err(|e| e.to_string())?;
        let slot = collect_secrets(&mut ssl);
        let mut tls = SslStream::new(ssl, stream).map_err(|e| e.to_string())?;
        Pin::new(&mut tls)
            .accept()
            .await
            .map_err(|e| e.to_string())?;
        Ok((tls, slot))
    }
}

/// The client's first bytes, left in the socket: until its first record is complete, or they
/// are clearly no ClientHello, or the client closed (the caller's handshake timeout bounds
/// the wait).
async fn peek_first_record(stream: &TcpStream) -> std::io::Result<Vec<u8>> {
    // A record header and the longest record its length field can announce.
    let mut buf = vec![0; 5 + usize::from(u16::MAX)];
    loop {
        let n = stream.peek(&mut buf).await?;
        match ClientHello::parse(&buf[..n]) {
            // `peek` returns at once while the bytes it saw are still there.
            Err(HelloError::Incomplete) if n > 0 && n < buf.len() => {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            _ => {
                buf.truncate(n);
                return Ok(buf);
            }
        }
    }
}

/// One context under one profile.
fn one_acceptor(
    profile: TlsProfile,
    chain: &Path,
    key: &Path,
    client_ca: Option<&Path>,
    key_log: Option<KeyLogFile>,
) -> Result<SslAcceptor, LinkError> {
    let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())
        .map_err(|e| config_error("TLS server", None, e))?;
    apply_profile(&mut builder, profile)?;
    load_identity(&mut builder, chain, key)?;
    set_client_verification(&mut builder, client_ca)?;
    install_key_log(&mut builder, key_log);
    Ok(builder.build())
}

/// Builds the charger's acceptor.
pub(crate) fn build_acceptor(config: &TlsServerConfig) -> Result<Acceptor, LinkError> {
    let key_log = open_key_log(config.key_log.as_deref())?;
    let (chain, key) = (&config.certificate_chain, &config.private_key);
    let client_ca = config.client_ca.as_deref();
    Ok(match config.profile {
        TlsProfile::Iso15118_2 => {
            if client_ca.is_some() {
                tracing::warn!("TLS client CA ignored: ISO 15118-2 cars do not authenticate");
            }
            Acceptor::One(one_acceptor(
                TlsProfile::Iso15118_2,
                chain,
                key,
                None,
                key_log,
            )?)
        }
        TlsProfile::Iso15118_20 => Acceptor::One(one_acceptor(
            TlsProfile::Iso15118_20,
            chain,
            key,
            client_ca,
            key_log,
        )?),
        TlsProfile::Iso15118_2Or20 => {
            let (chain20, key20) = match &config.iso20_identity {
                Some(id) => (&id.certificate_chain, &id.private_key),
                None => (chain, key),
            };
            Acceptor::PerStandard {
                iso2: one_acceptor(TlsProfile::Iso15118_2, chain, key, None, key_log.clone())?,
                iso20: one_acceptor(TlsProfile::Iso15118_20, chain20, key20, client_ca, key_log)?,
            }
        }
    })
}

/// Builds the car's connector.
pub(crate) fn build_connector(config: &TlsClientConfig) -> Result<SslConnector, LinkError> {
    let mut builder = SslConnector::builder(SslMethod::tls_client())
        .map_err(|e| config_error("TLS client", None, e))?;
    apply_profile(&mut builder, config.profile)?;
    builder
        .set_ca_file(&config.trust_anchors)
        .map_err(|e| config_error("trust anchors", Some(&config.trust_anchors), e))?;
    builder.set_verify(SslVerifyMode::PEER);
    match (&config.certificate_chain, &config.private_key) {
        (Some(chain), Some(key)) => load_identity(&mut builder, chain, key)?,
        (None, None) => {}
        _ => {
            return Err(LinkError::Config(
                "a TLS client certificate needs both the chain and the key".into(),
            ));
        }
    }
    install_key_log(&mut builder, open_key_log(config.key_log.as_deref())?);
    Ok(builder.build())
}

pub mod testing {
    //! A throw-away test PKI: a self-signed P-256 root and leaf certificates signed by it,
    //! written as PEM files. For tests and demos only; real chargers and cars use the V2G PKI.

    use std::path::{Path, PathBuf};

    use openssl::asn1::Asn1Time;
    use openssl::bn::{BigNum, MsbOption};
    use openssl::ec::{EcGroup, EcKey};
    use openssl::error::ErrorStack;
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::{PKey, Private};
    use openssl::x509::extension::{BasicConstraints, KeyUsage};
    use openssl::x509::{X509, X509NameBuilder};

    /// The files of one leaf identity.
    #[derive(Clone, Debug)]
    pub struct Identity {
        /// PEM: the leaf certificate followed by the root.
        pub chain: PathBuf,
        /// PEM: the leaf's private key.
        pub key: PathBuf,
    }

    /// The eMAID of the test contract certificate (its CommonName, ISO 15118-2 Annex H).
    pub const TEST_EMAID: &str = "DEPNXC000000001";

    /// A root certificate and leaf identities signed by it, and a mobility operator (MO) root
    /// with an ISO 15118-2 contract certificate.
    #[derive(Clone, Debug)]
    pub struct TestPki {
        /// PEM: the root certificate (the trust anchor).
        pub root: PathBuf,
        /// The SECC's identity.
        pub secc: Identity,
        /// The EVCC's identity (for mutual authentication).
        pub evcc: Identity,
        /// PEM: the MO root, the trust anchor of contract certificates.
        pub mo_root: PathBuf,
        /// The contract certificate (CN [`TEST_EMAID`], `chain` holds the leaf only) and its
        /// key, for Plug & Charge.
        pub contract: Identity,
    }

    fn p256_key() -> Result<PKey<Private>, ErrorStack> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
        PKey::from_ec_key(EcKey::generate(&group)?)
    }

    fn certificate(
        common_name: &str,
        key: &PKey<Private>,
        issuer: Option<(&X509, &PKey<Private>)>,
    ) -> Result<X509, ErrorStack> {
        let mut name = X509NameBuilder::new()?;
        name.append_entry_by_text("CN", common_name)?;
        name.append_entry_by_text("O", "ccsplc test PKI")?;
        let name = name.build();
        let mut builder = X509::builder()?;
        builder.set_version(2)?;
        let mut serial = BigNum::new()?;
        serial.rand(64, MsbOption::MAYBE_ZERO, false)?;
        let serial = serial.to_asn1_integer()?;
        builder.set_serial_number(&serial)?;
        builder.set_subject_name(&name)?;
        builder.set_pubkey(key)?;
        builder.set_not_before(&*Asn1Time::days_from_now(0)?)?;
        builder.set_not_after(&*Asn1Time::days_from_now(30)?)?;
        match issuer {
            None => {
                builder.set_issuer_name(&name)?;
                builder.append_extension(BasicConstraints::new().critical().ca().build()?)?;
                builder.append_extension(
                    KeyUsage::new()
                        .critical()
                        .key_cert_sign()
                        .crl_sign()
                        .build()?,
                )?;
                builder.sign(key, MessageDigest::sha256())?;
            }
            Some((issuer_cert, issuer_key)) => {
                builder.set_issuer_name(issuer_cert.subject_name())?;
                builder.append_extension(BasicConstraints::new().critical().build()?)?;
                builder.append_extension(
                    KeyUsage::new()
                        .critical()
                        .digital_signature()
                        .key_agreement()
                        .build()?,
                )?;
                builder.sign(issuer_key, MessageDigest::sha256())?;
            }
        }
        Ok(builder.build())
    }

    fn write(path: &Path, parts: &[Vec<u8>]) -> std::io::Result<()> {
        std::fs::write(path, parts.concat())
    }

    impl TestPki {
        /// Generates the PKI into `dir` (`root.pem`, `secc.pem`, `secc.key`, `evcc.pem`,
        /// `evcc.key`, `mo_root.pem`, `contract.pem`, `contract.key`).
        pub fn generate(dir: &Path) -> std::io::Result<Self> {
            let make = || -> Result<_, ErrorStack> {
                let root_key = p256_key()?;
                let root = certificate("ccsplc test V2G root", &root_key, None)?;
                let secc_key = p256_key()?;
                let secc = certificate("ccsplc test SECC", &secc_key, Some((&root, &root_key)))?;
                let evcc_key = p256_key()?;
                let evcc = certificate("ccsplc test EVCC", &evcc_key, Some((&root, &root_key)))?;
                let mo_key = p256_key()?;
                let mo_root = certificate("ccsplc test MO root", &mo_key, None)?;
                let contract_key = p256_key()?;
                let contract = certificate(TEST_EMAID, &contract_key, Some((&mo_root, &mo_key)))?;
                Ok([
                    root.to_pem()?,
                    secc.to_pem()?,
                    secc_key.private_key_to_pem_pkcs8()?,
                    evcc.to_pem()?,
                    evcc_key.private_key_to_pem_pkcs8()?,
                    mo_root.to_pem()?,
                    contract.to_pem()?,
                    contract_key.private_key_to_pem_pkcs8()?,
                ])
            };
            let [
                root,
                secc,
                secc_key,
                evcc,
                evcc_key,
                mo_root,
                contract,
                contract_key,
            ] = make().map_err(std::io::Error::other)?;
            let pki = Self {
                root: dir.join("root.pem"),
                secc: Identity {
                    chain: dir.join("secc.pem"),
                    key: dir.join("secc.key"),
                },
                evcc: Identity {
                    chain: dir.join("evcc.pem"),
                    key: dir.join("evcc.key"),
                },
                mo_root: dir.join("mo_root.pem"),
                contract: Identity {
                    chain: dir.join("contract.pem"),
                    key: dir.join("contract.key"),
                },
            };
            write(&pki.root, std::slice::from_ref(&root))?;
            write(&pki.secc.chain, &[secc, root.clone()])?;
            write(&pki.secc.key, &[secc_key])?;
            write(&pki.evcc.chain, &[evcc, root])?;
            write(&pki.evcc.key, &[evcc_key])?;
            write(&pki.mo_root, &[mo_root])?;
            write(&pki.contract.chain, &[contract])?;
            write(&pki.contract.key, &[contract_key])?;
            Ok(pki)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::TestPki;
    use super::*;

    /// What one handshake over loopback TCP gave each side.
    struct Handshake {
        server: SslStream<TcpStream>,
        client: SslStream<TcpStream>,
        /// The key log lines each side collected for the recording.
        server_secrets: String,
        client_secrets: String,
    }

    impl Handshake {
        fn version(&self) -> &'static str {
            self.client.ssl().version_str()
        }

        /// The certificate the server presented, as DER.
        fn server_certificate(&self) -> Vec<u8> {
            let cert = self.client.ssl().peer_certificate().unwrap();
            cert.to_der().unwrap()
        }
    }

    /// The first certificate of a PEM file, as DER.
    fn leaf(path: &Path) -> Vec<u8> {
        let pem = std::fs::read(path).unwrap();
        openssl::x509::X509::from_pem(&pem)
            .unwrap()
            .to_der()
            .unwrap()
    }

    /// Both sides of one handshake over loopback TCP, the charger's as `ccsplc evse` runs it
    /// ([`Acceptor::accept`]); the car's key log lines.
    async fn handshake_results(
        server: &TlsServerConfig,
        client: &TlsClientConfig,
    ) -> (
        Result<(SslStream<TcpStream>, Option<SecretsSlot>), String>,
        Result<SslStream<TcpStream>, openssl::ssl::Error>,
        SecretsSlot,
    ) {
        handshake_with(server, build_connector(client).unwrap()).await
    }

    /// [`handshake_results`] with a car's connector made by the test.
    async fn handshake_with(
        server: &TlsServerConfig,
        connector: SslConnector,
    ) -> (
        Result<(SslStream<TcpStream>, Option<SecretsSlot>), String>,
        Result<SslStream<TcpStream>, openssl::ssl::Error>,
        SecretsSlot,
    ) {
        let acceptor = build_acceptor(server).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let mut ssl = connector
            .configure()
            .unwrap()
            .verify_hostname(false)
            .use_server_name_indication(false)
            .into_ssl("")
            .unwrap();
        let client_slot = collect_secrets(&mut ssl).unwrap();
        let car = async {
            let stream = TcpStream::connect(address).await.unwrap();
            let mut tls = SslStream::new(ssl, stream).unwrap();
            Pin::new(&mut tls).connect().await.map(|()| tls)
        };
        let charger = async {
            let (stream, _) = listener.accept().await.unwrap();
            acceptor.accept(stream).await
        };
        let (s, c) = tokio::join!(charger, car);
        (s, c, client_slot)
    }

    async fn connect(server: &TlsServerConfig, client: &TlsClientConfig) -> Handshake {
        let (s, c, client_slot) = handshake_results(server, client).await;
        let (server_tls, server_slot) = s.unwrap();
        let client_tls = c.unwrap();
        let text = |slot: &SecretsSlot| slot.lock().unwrap().clone();
        Handshake {
            server: server_tls,
            client: client_tls,
            server_secrets: text(&server_slot.unwrap()),
            client_secrets: text(&client_slot),
        }
    }

    /// The key log lines of a handshake in one profile, server and client side.
    async fn handshake(profile: TlsProfile, pki: &TestPki) -> (String, String) {
        let server = TlsServerConfig::new(profile, pki.secc.chain.clone(), pki.secc.key.clone());
        let client = TlsClientConfig::new(profile, pki.root.clone());
        let done = connect(&server, &client).await;
        (done.server_secrets, done.client_secrets)
    }

    #[tokio::test]
    async fn each_connection_collects_its_key_log_for_the_recording() {
        let dir = tempfile::tempdir().unwrap();
        let pki = TestPki::generate(dir.path()).unwrap();
        // ISO 15118-2, TLS 1.2: one CLIENT_RANDOM line, the same on both sides.
        let (server, client) = handshake(TlsProfile::Iso15118_2, &pki).await;
        assert!(server.starts_with("CLIENT_RANDOM "), "{server}");
        assert_eq!(server, client);
        // ISO 15118-20, TLS 1.3: the handshake and traffic secrets Wireshark needs.
        let (server, client) = handshake(TlsProfile::Iso15118_20, &pki).await;
        for label in [
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET ",
            "SERVER_HANDSHAKE_TRAFFIC_SECRET ",
            "CLIENT_TRAFFIC_SECRET_0 ",
            "SERVER_TRAFFIC_SECRET_0 ",
        ] {
            assert!(server.contains(label), "{label} missing: {server}");
            assert!(client.contains(label), "{label} missing: {client}");
        }
    }

    /// A charger offering both standards with one certificate per standard, each from its
    /// own PKI (a car trusts only its own standard's root, so a wrong certificate fails).
    struct BothStandards {
        _dir: tempfile::TempDir,
        iso2: TestPki,
        iso20: TestPki,
        server: TlsServerConfig,
    }

    fn both_standards() -> BothStandards {
        let dir = tempfile::tempdir().unwrap();
        let make = |name: &str| {
            let sub = dir.path().join(name);
            std::fs::create_dir(&sub).unwrap();
            TestPki::generate(&sub).unwrap()
        };
        let (iso2, iso20) = (make("iso2"), make("iso20"));
        let mut server = TlsServerConfig::new(
            TlsProfile::Iso15118_2Or20,
            iso2.secc.chain.clone(),
            iso2.secc.key.clone(),
        );
        server.iso20_identity = Some(TlsIdentity::new(
            iso20.secc.chain.clone(),
            iso20.secc.key.clone(),
        ));
        BothStandards {
            _dir: dir,
            iso2,
            iso20,
            server,
        }
    }

    #[tokio::test]
    async fn a_charger_offering_both_standards_gives_an_iso2_car_tls12_with_its_iso2_certificate() {
        let mut both = both_standards();
        // Mutual authentication is ISO 15118-20's: an ISO 15118-2 car has no certificate.
        both.server.client_ca = Some(both.iso20.root.clone());
        let car = TlsClientConfig::new(TlsProfile::Iso15118_2, both.iso2.root.clone());
        let done = connect(&both.server, &car).await;
        assert_eq!(done.version(), "TLSv1.2");
        assert_eq!(done.server_certificate(), leaf(&both.iso2.secc.chain));
        assert!(done.server.ssl().peer_certificate().is_none());
        assert!(done.server_secrets.starts_with("CLIENT_RANDOM "));
    }

    #[tokio::test]
    async fn a_charger_offering_both_standards_gives_an_iso20_car_tls13_with_its_iso20_certificate()
    {
        let mut both = both_standards();
        both.server.client_ca = Some(both.iso20.root.clone());
        let mut car = TlsClientConfig::new(TlsProfile::Iso15118_20, both.iso20.root.clone());
        car.certificate_chain = Some(both.iso20.evcc.chain.clone());
        car.private_key = Some(both.iso20.evcc.key.clone());
        let done = connect(&both.server, &car).await;
        assert_eq!(done.version(), "TLSv1.3");
        assert_eq!(done.server_certificate(), leaf(&both.iso20.secc.chain));
        // Mutually authenticated, and the secrets were logged from the switched context.
        let presented = done.server.ssl().peer_certificate().unwrap();
        assert_eq!(presented.to_der().unwrap(), leaf(&both.iso20.evcc.chain));
        assert!(done.server_secrets.contains("CLIENT_TRAFFIC_SECRET_0 "));
    }

    #[tokio::test]
    async fn an_iso20_car_without_a_certificate_is_refused_when_the_charger_wants_one() {
        let mut both = both_standards();
        both.server.client_ca = Some(both.iso20.root.clone());
        let car = TlsClientConfig::new(TlsProfile::Iso15118_20, both.iso20.root.clone());
        let (accepted, _, _) = handshake_results(&both.server, &car).await;
        assert!(
            accepted.is_err(),
            "a TLS 1.3 car without a certificate was let in"
        );
    }

    #[tokio::test]
    async fn a_car_offering_both_standards_speaks_each_chargers_version() {
        let dir = tempfile::tempdir().unwrap();
        let pki = TestPki::generate(dir.path()).unwrap();
        let car = TlsClientConfig::new(TlsProfile::Iso15118_2Or20, pki.root.clone());
        let charger =
            |profile| TlsServerConfig::new(profile, pki.secc.chain.clone(), pki.secc.key.clone());
        for (profile, version) in [
            (TlsProfile::Iso15118_2, "TLSv1.2"),
            (TlsProfile::Iso15118_20, "TLSv1.3"),
            (TlsProfile::Iso15118_2Or20, "TLSv1.3"),
        ] {
            let done = connect(&charger(profile), &car).await;
            assert_eq!(done.version(), version, "{profile:?}");
        }
    }

    #[tokio::test]
    async fn an_iso2_charger_asks_no_car_for_a_certificate_even_with_a_client_ca() {
        let dir = tempfile::tempdir().unwrap();
        let pki = TestPki::generate(dir.path()).unwrap();
        let mut server = TlsServerConfig::new(
            TlsProfile::Iso15118_2,
            pki.secc.chain.clone(),
            pki.secc.key.clone(),
        );
        server.client_ca = Some(pki.root.clone());
        let car = TlsClientConfig::new(TlsProfile::Iso15118_2, pki.root.clone());
        let done = connect(&server, &car).await;
        assert_eq!(done.version(), "TLSv1.2");
        assert!(done.server.ssl().peer_certificate().is_none());
    }

    /// A car's connector outside both profiles: these versions and groups, trusting `root`.
    fn odd_car(min: SslVersion, max: SslVersion, groups: &str, root: &Path) -> SslConnector {
        let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
        b.set_min_proto_version(Some(min)).unwrap();
        b.set_max_proto_version(Some(max)).unwrap();
        b.set_groups_list(groups).unwrap();
        b.set_ca_file(root).unwrap();
        b.build()
    }

    /// An ISO 15118-2 car whose TLS stack also speaks TLS 1.3 offers no ISO 15118-20 group:
    /// it gets TLS 1.2 and the ISO 15118-2 chain, and no certificate is asked of it.
    #[tokio::test]
    async fn an_iso2_car_that_also_speaks_tls13_gets_the_iso2_profile() {
        let mut both = both_standards();
        both.server.client_ca = Some(both.iso20.root.clone());
        let car = odd_car(
            SslVersion::TLS1_2,
            SslVersion::TLS1_3,
            "P-256",
            &both.iso2.root,
        );
        let (s, c, _) = handshake_with(&both.server, car).await;
        let (server, _) = s.unwrap();
        let client = c.unwrap();
        assert_eq!(client.ssl().version_str(), "TLSv1.2");
        let presented = client.ssl().peer_certificate().unwrap();
        assert_eq!(presented.to_der().unwrap(), leaf(&both.iso2.secc.chain));
        assert!(server.ssl().peer_certificate().is_none());
    }

    /// TLS 1.3 is ISO 15118-20's only with its groups (§7.7.3: secp521r1 or X448): a car that
    /// offers TLS 1.3 with secp256r1 alone gets ISO 15118-2's TLS 1.2 context and, speaking
    /// nothing else, no connection.
    #[tokio::test]
    async fn tls13_with_secp256r1_alone_is_not_iso20() {
        let both = both_standards();
        let car = odd_car(
            SslVersion::TLS1_3,
            SslVersion::TLS1_3,
            "P-256",
            &both.iso20.root,
        );
        let (s, c, _) = handshake_with(&both.server, car).await;
        assert!(s.is_err() && c.is_err(), "{:?}", s.map(|_| ()));
    }
}
