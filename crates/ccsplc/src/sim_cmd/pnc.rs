//! `ccsplc sim --protocol iso2 --pnc`: ISO 15118-2 Plug & Charge in the simulation. A
//! throw-away test PKI is made in a temporary directory (`ccs_linux::tls::testing::TestPki`:
//! a V2G root with the SECC certificate, an MO root with the contract certificate); every V2G
//! connection of the world runs TLS 1.2 with the real driver's OpenSSL contexts over memory
//! (`ccs_linux::tls_memory`); the car pays with its contract (PaymentDetails, AuthorizationReq
//! and MeteringReceiptReq signed over their EXI fragments) and the charger verifies the chain
//! against the MO root and every signature with the contract certificate.

use std::sync::Arc;

use anyhow::Context as _;
use ccs_linux::pnc::{OpensslSigner, OpensslVerifier, load_contract};
use ccs_linux::tls::testing::TestPki;
use ccs_linux::tls::{TlsClientConfig, TlsProfile, TlsServerConfig};
use ccs_linux::tls_memory::MemoryTls;
use ccs_proto::session::iso2::pnc::ContractSigner;
use ccs_proto::session::iso2::{ContractCredentials, PaymentMethod, SeccPnc};
use ccs_proto::session::{EvccConfig, SeccConfig};
use ccs_sim::world::{SecurityFactory, Side, StreamSecurity};

/// The Plug & Charge setup of one simulation: the PKI (deleted with this value), the car's
/// contract and key, the charger's verifier and both TLS configurations.
pub(crate) struct SimPnc {
    _dir: tempfile::TempDir,
    contract: ContractCredentials,
    signer: Arc<dyn ContractSigner>,
    verifier: Arc<OpensslVerifier>,
    server: TlsServerConfig,
    client: TlsClientConfig,
}

impl SimPnc {
    /// Makes the test PKI and loads it, checking both TLS configurations once.
    pub(crate) fn new() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("cannot create a directory for the test PKI")?;
        let pki = TestPki::generate(dir.path()).context("cannot generate the test PKI")?;
        let contract = load_contract(&pki.contract.chain)?;
        let signer = Arc::new(OpensslSigner::from_pem_file(&pki.contract.key)?);
        let verifier = Arc::new(OpensslVerifier::from_pem_files(std::slice::from_ref(
            &pki.mo_root,
        ))?);
        let server = TlsServerConfig::new(
            TlsProfile::Iso15118_2,
            pki.secc.chain.clone(),
            pki.secc.key.clone(),
        );
        let client = TlsClientConfig::new(TlsProfile::Iso15118_2, pki.root.clone());
        MemoryTls::server(&server)?;
        MemoryTls::client(&client)?;
        Ok(Self {
            _dir: dir,
            contract,
            signer,
            verifier,
            server,
            client,
        })
    }

    /// The car pays with the contract.
    pub(crate) fn configure_car(&self, car: &mut EvccConfig) {
        car.iso2.payment = PaymentMethod::Contract;
        car.iso2.contract = Some(self.contract.clone());
    }

    /// The charger offers Contract payment and asks for a signed MeteringReceipt.
    pub(crate) fn configure_charger(&self, charger: &mut SeccConfig) {
        charger.iso2.payment_options =
            vec![PaymentMethod::Contract, PaymentMethod::ExternalPayment];
        charger.iso2.receipt_required = true;
    }

    /// The car's contract key.
    pub(crate) fn signer(&self) -> Arc<dyn ContractSigner> {
        Arc::clone(&self.signer)
    }

    /// The charger's Plug & Charge setup with the session's GenChallenge.
    pub(crate) fn secc_pnc(&self, gen_challenge: [u8; 16]) -> SeccPnc {
        SeccPnc {
            verifier: self.verifier.clone(),
            backend: None,
            gen_challenge,
        }
    }

    /// The world's TLS: the charger accepts, the car connects.
    pub(crate) fn security(&self) -> Box<SecurityFactory> {
        let server = self.server.clone();
        let client = self.client.clone();
        Box::new(move |side: Side| -> Box<dyn StreamSecurity> {
            let tls = match side {
                Side::Ev => MemoryTls::client(&client),
                Side::Evse(_) => MemoryTls::server(&server),
            };
            match tls {
                Ok(tls) => Box::new(Channel(tls)),
                Err(e) => Box::new(Broken(e.to_string())),
            }
        })
    }
}

/// The real driver's TLS over the world's byte streams.
struct Channel(MemoryTls);

impl StreamSecurity for Channel {
    fn receive_ciphertext(&mut self, bytes: &[u8]) {
        self.0.receive_ciphertext(bytes);
    }
    fn send_plaintext(&mut self, bytes: &[u8]) {
        self.0.send_plaintext(bytes);
    }
    fn take_ciphertext(&mut self) -> Vec<u8> {
        self.0.take_ciphertext()
    }
    fn take_plaintext(&mut self) -> Vec<u8> {
        self.0.take_plaintext()
    }
    fn is_established(&self) -> bool {
        self.0.is_established()
    }
    fn failure(&self) -> Option<String> {
        self.0.failure().map(str::to_owned)
    }
    fn description(&self) -> String {
        self.0
            .negotiated()
            .map_or_else(String::new, |(version, cipher)| {
                format!("{version} {cipher}")
            })
    }
    fn close(&mut self) {
        self.0.close();
    }
}

/// A channel whose TLS context could not be built (checked once before the world starts, so
/// only a file changed meanwhile gets here).
struct Broken(String);

impl StreamSecurity for Broken {
    fn receive_ciphertext(&mut self, _: &[u8]) {}
    fn send_plaintext(&mut self, _: &[u8]) {}
    fn take_ciphertext(&mut self) -> Vec<u8> {
        Vec::new()
    }
    fn take_plaintext(&mut self) -> Vec<u8> {
        Vec::new()
    }
    fn is_established(&self) -> bool {
        false
    }
    fn failure(&self) -> Option<String> {
        Some(self.0.clone())
    }
    fn description(&self) -> String {
        String::new()
    }
    fn close(&mut self) {}
}
