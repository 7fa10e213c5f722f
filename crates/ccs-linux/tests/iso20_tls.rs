//! ISO 15118-20 DC and DC_BPT sessions, our car against our charger, in two network namespaces
//! joined by a veth pair, over TLS 1.3 with mutual authentication (ISO 15118-20 requires TLS
//! for every session): SDP with the TLS security byte, the TLS 1.3 handshake, then the whole
//! session driven by `run_session` on both sides, the simulated DC link shared by both.
//! Needs root.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod iso20_support;

use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use ccs_linux::clock::Clock;
use ccs_linux::pnc::load_contract;
use ccs_linux::pnc20::{Iso20Signer, Iso20Verifier};
use ccs_linux::sdp::{DEFAULT_SDP_HOP_LIMIT, SdpResponder, discover_secc};
use ccs_linux::session::run_session;
use ccs_linux::tcp::{ConnectOptions, V2gListener, connect};
use ccs_linux::tls::testing::TestPki;
use ccs_linux::tls::{TlsClientConfig, TlsProfile, TlsServerConfig};
use ccs_proto::hardware::{Amps, Percent};
use ccs_proto::sdp::{SdpClientConfig, SdpServer, SdpServerConfig, TlsWish};
use ccs_proto::session::iso20::pnc::{self, ContractSigner as _, ContractVerifier as _};
use ccs_proto::session::iso20::{Authorization, ControlMode};
use ccs_proto::session::{
    EvccConfig, EvccSession, Outcome, Protocol, ProtocolOffer, SeccConfig, SeccSession,
    SessionError, SessionEvent,
};
use ccs_proto::time::Duration;
use ccs_proto::v2gtp::DeframerConfig;
use ccs_sim::physics::{DcPlant, PlantConfig};
use common::{TwoHosts, join, ready, spawn_async_in};
use iso20_support::{Plant, Ran, Side, drain, hardware};
use std::path::{Path, PathBuf};
use tokio::sync::Notify;

/// Runs one session pair over TLS 1.3 with mutual authentication (the throw-away TestPki);
/// returns (car, charger).
fn session_over_tls13(
    car: EvccConfig,
    charger: SeccConfig,
    plant: PlantConfig,
) -> (Ran, Ran, Plant) {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path()).unwrap();
    let mut server = TlsServerConfig::new(
        TlsProfile::Iso15118_20,
        pki.secc.chain.clone(),
        pki.secc.key.clone(),
    );
    // Mutual authentication: the charger requires the car's certificate.
    server.client_ca = Some(pki.root.clone());
    let mut client = TlsClientConfig::new(TlsProfile::Iso15118_20, pki.root.clone());
    client.certificate_chain = Some(pki.evcc.chain.clone());
    client.private_key = Some(pki.evcc.key.clone());
    session_over_tls(car, charger, plant, server, client, Pnc::default())
}

/// The Plug & Charge crypto of both sides.
#[derive(Clone, Default)]
struct Pnc {
    signer: Option<Arc<dyn pnc::ContractSigner>>,
    verifier: Option<Arc<dyn pnc::ContractVerifier>>,
}

/// Runs one session pair with these TLS settings; returns (car, charger).
fn session_over_tls(
    car: EvccConfig,
    charger: SeccConfig,
    plant: PlantConfig,
    server: TlsServerConfig,
    client: TlsClientConfig,
    crypto: Pnc,
) -> (Ran, Ran, Plant) {
    let hosts = TwoHosts::new().with_veth();
    let Pnc { signer, verifier } = crypto;

    let clock = Clock::new();
    let plant: Plant = Arc::new(Mutex::new(DcPlant::new(plant, clock.now())));
    let sdp_ready = Arc::new(Notify::new());

    let secc = spawn_async_in(&hosts.evse.name, {
        let (plant, sdp_ready) = (plant.clone(), sdp_ready.clone());
        move || async move {
            let iface = ready("evse0").await;
            let listener =
                V2gListener::bind(&iface, 0, Some(&server), DeframerConfig::default()).unwrap();
            let sdp = SdpServer::new(SdpServerConfig::tls_only(iface.link_local, listener.port()))
                .unwrap();
            let responder = SdpResponder::bind(&iface, sdp, clock).unwrap();
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let sdp = tokio::spawn(responder.run(None, async {
                let _ = stopped.await;
            }));
            sdp_ready.notify_one();
            let conn = tokio::time::timeout(StdDuration::from_secs(20), listener.accept())
                .await
                .expect("no car within 20 s")
                .unwrap();
            let tls = conn.tls_info().cloned();
            let (mut io, events) = hardware(plant, clock, Side::Charger);
            let mut session =
                SeccSession::new(charger, [0x20, 0x15, 0x11, 0x80, 0, 0, 0, 1], clock.now());
            if let Some(verifier) = verifier {
                session.set_iso20_verifier(verifier);
            }
            // run_session tells the session what the connection is (TLS 1.3 here).
            let outcome = tokio::time::timeout(
                StdDuration::from_secs(120),
                run_session(conn, &mut session, &clock, &mut io),
            )
            .await
            .expect("charger session within 120 s");
            let _ = stop.send(());
            let _ = sdp.await;
            Ran {
                outcome,
                tls,
                events: drain(events),
            }
        }
    });
    let ev = spawn_async_in(&hosts.ev.name, {
        let plant = plant.clone();
        move || async move {
            let iface = ready("ev0").await;
            sdp_ready.notified().await;
            let mut sdp = SdpClientConfig::default();
            sdp.tls = TlsWish::RequireTls;
            let found = discover_secc(&iface, sdp, DEFAULT_SDP_HOP_LIMIT, &clock)
                .await
                .unwrap();
            assert!(found.tls, "the charger must announce TLS");
            let mut options = ConnectOptions::default();
            options.tls = Some(client);
            let conn = connect(found.address, found.tls, &options).await.unwrap();
            let tls = conn.tls_info().cloned();
            let (mut io, events) = hardware(plant, clock, Side::Car);
            let mut session = EvccSession::new(car, [0x02, 0, 0, 0xca, 0xfe, 0x20], clock.now());
            if let Some(signer) = signer {
                session.set_iso20_signer(signer);
            }
            let outcome = tokio::time::timeout(
                StdDuration::from_secs(120),
                run_session(conn, &mut session, &clock, &mut io),
            )
            .await
            .expect("car session within 120 s");
            Ran {
                outcome,
                tls,
                events: drain(events),
            }
        }
    });
    let car = join(ev);
    let charger = join(secc);
    (car, charger, plant)
}

fn configs(protocol: Protocol, mode: ControlMode) -> (EvccConfig, SeccConfig) {
    let mut car = EvccConfig::default();
    car.protocols = vec![ProtocolOffer {
        protocol,
        priority: 1,
        schema_id: 1,
    }];
    car.iso20.control_mode = mode;
    car.charge_duration = Some(Duration::from_secs(3));
    let mut charger = SeccConfig::default();
    charger.protocols = vec![Protocol::Iso15118_20Dc, Protocol::Iso15118_20DcBpt];
    (car, charger)
}

fn assert_tls13_mutual(car: &Ran, charger: &Ran) {
    let tls = car.tls.as_ref().expect("TLS on the car's side");
    assert_eq!(tls.version, "TLSv1.3");
    assert!(
        tls.peer_subject
            .as_deref()
            .is_some_and(|s| s.contains("ccsplc test SECC"))
    );
    let tls = charger.tls.as_ref().expect("TLS on the charger's side");
    assert_eq!(tls.version, "TLSv1.3");
    assert!(
        tls.peer_subject
            .as_deref()
            .is_some_and(|s| s.contains("ccsplc test EVCC")),
        "the charger saw the car's certificate"
    );
}

fn sent(ran: &Ran) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = ran
        .events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Sent { name, .. } => Some(*name),
            _ => None,
        })
        .collect();
    names.dedup();
    names
}

/// The ISO 15118-20 test PKI (secp521r1 keys, SHA-512 certificate signatures) of
/// `scripts/make-test-pki.sh`.
fn make_iso20_pki() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    ccs_testdata::make_test_pki(dir.path(), ccs_testdata::PkiProfile::Iso15118_20);
    let path = dir.path().to_path_buf();
    (dir, path)
}

/// TLS 1.3 with the V2G PKI: the charger's SECC certificate, the car's OEM provisioning
/// certificate for the client side (mutual authentication).
fn tls_with(pki: &Path) -> (TlsServerConfig, TlsClientConfig) {
    let mut server = TlsServerConfig::new(
        TlsProfile::Iso15118_20,
        pki.join("secc_chain.pem"),
        pki.join("secc.key"),
    );
    server.client_ca = Some(pki.join("oem_root.pem"));
    let mut client = TlsClientConfig::new(TlsProfile::Iso15118_20, pki.join("v2g_root.pem"));
    client.certificate_chain = Some(pki.join("oem_prov_chain.pem"));
    client.private_key = Some(pki.join("oem_prov.key"));
    (server, client)
}

#[test]
fn iso20_dc_plug_and_charge_session_over_tls13_with_mutual_authentication() {
    let (_dir, pki) = make_iso20_pki();
    let (mut car, mut charger) = configs(Protocol::Iso15118_20Dc, ControlMode::Scheduled);
    let contract = load_contract(&pki.join("contract_chain.pem")).unwrap();
    car.iso20.authorization = Authorization::PnC {
        contract_certificate: contract.certificate,
        sub_certificates: contract.sub_certificates,
    };
    charger.iso20.offer_pnc = true;
    charger.iso20.gen_challenge = [0x5a; 16];
    // Ask for one MeteringConfirmationReq: signed with the contract key too.
    charger.iso20.metering_confirmation_after = Some(5);
    let crypto = Pnc {
        signer: Some(Arc::new(
            Iso20Signer::from_pem_file(&pki.join("contract.key")).unwrap(),
        )),
        verifier: Some(Arc::new(
            Iso20Verifier::from_pem_files(&[pki.join("mo_root.pem")]).unwrap(),
        )),
    };
    let (server, client) = tls_with(&pki);
    let plant = PlantConfig::default();
    let soc = plant.initial_soc;
    let (car, charger, plant) = session_over_tls(car, charger, plant, server, client, crypto);
    assert_eq!(car.outcome, Some(Outcome::Completed), "{:?}", car.events);
    assert_eq!(
        charger.outcome,
        Some(Outcome::Completed),
        "{:?}",
        charger.events
    );
    let tls = car.tls.as_ref().expect("TLS on the car's side");
    assert_eq!(tls.version, "TLSv1.3");
    let tls = charger.tls.as_ref().expect("TLS on the charger's side");
    assert!(
        tls.peer_subject
            .as_deref()
            .is_some_and(|s| s.contains("WMIV2GOEMPROV01")),
        "the charger saw the car's OEM certificate: {tls:?}"
    );
    let names = sent(&car);
    assert!(names.contains(&"DC_ChargeLoopReq") && names.ends_with(&["SessionStopReq"]));
    assert!(charger.events.iter().any(|e| matches!(
        e,
        SessionEvent::Received { name: "AuthorizationReq", summary } if summary == "PnC"
    )));
    // The charger validated the secp521r1 chain against the MO root and the SHA-512
    // signature with the contract certificate.
    assert!(charger.events.iter().any(|e| matches!(
        e,
        SessionEvent::Received { name: "contract", summary }
            if summary.contains("valid, signed") && summary.contains("DEPNXC000000001")
    )));
    assert!(charger.events.iter().any(|e| matches!(
        e,
        SessionEvent::Received { name: "MeteringConfirmationReq", summary } if summary.ends_with("signed")
    )));
    assert!(plant.lock().unwrap().battery().soc() > soc);
}

#[test]
fn a_contract_of_another_mobility_operator_is_not_authorized() {
    let (_dir, pki) = make_iso20_pki();
    let (_other_dir, other) = make_iso20_pki();
    let (mut car, mut charger) = configs(Protocol::Iso15118_20Dc, ControlMode::Scheduled);
    let contract = load_contract(&pki.join("contract_chain.pem")).unwrap();
    car.iso20.authorization = Authorization::PnC {
        contract_certificate: contract.certificate,
        sub_certificates: contract.sub_certificates,
    };
    charger.iso20.offer_pnc = true;
    let crypto = Pnc {
        signer: Some(Arc::new(
            Iso20Signer::from_pem_file(&pki.join("contract.key")).unwrap(),
        )),
        // The charger trusts another PKI's MO root only.
        verifier: Some(Arc::new(
            Iso20Verifier::from_pem_files(&[other.join("mo_root.pem")]).unwrap(),
        )),
    };
    let (server, client) = tls_with(&pki);
    let (car, charger, _) =
        session_over_tls(car, charger, PlantConfig::default(), server, client, crypto);
    assert!(
        matches!(&car.outcome, Some(Outcome::Failed(SessionError::PeerRefused(why))) if why.contains("WARNING_CertificateValidationError")),
        "{:?}",
        car.outcome
    );
    assert_eq!(charger.outcome, Some(Outcome::Completed));
    assert!(!sent(&car).contains(&"DC_CableCheckReq"));
}

#[test]
fn iso20_signatures_verify_with_the_secp521r1_contract_and_not_with_another_key() {
    let (_dir, pki) = make_iso20_pki();
    let signer = Iso20Signer::from_pem_file(&pki.join("contract.key")).unwrap();
    assert_eq!(signer.suite(), pnc::SignatureSuite::EcdsaSecp521r1Sha512);
    let raw = signer.sign(b"data").unwrap();
    assert_eq!(raw.len(), 132, "raw r||s of secp521r1");
    let verifier = Iso20Verifier::from_pem_files(&[pki.join("mo_root.pem")]).unwrap();
    let contract = load_contract(&pki.join("contract_chain.pem")).unwrap();
    let suite = pnc::SignatureSuite::EcdsaSecp521r1Sha512;
    verifier
        .verify_signature(suite, &contract.certificate, b"data", &raw)
        .unwrap();
    assert!(
        verifier
            .verify_signature(suite, &contract.certificate, b"dato", &raw)
            .is_err()
    );
    let stranger = Iso20Signer::from_pem_file(&pki.join("oem_prov.key")).unwrap();
    let forged = stranger.sign(b"data").unwrap();
    assert!(matches!(
        verifier.verify_signature(suite, &contract.certificate, b"data", &forged),
        Err(pnc::PncError::Signature(_))
    ));
    // A SHA-256 signature claimed for the secp521r1 certificate is refused.
    assert!(
        verifier
            .verify_signature(
                pnc::SignatureSuite::EcdsaSecp256r1Sha256,
                &contract.certificate,
                b"data",
                &raw
            )
            .is_err()
    );
    let verified = verifier
        .verify_chain(&contract.certificate, &contract.sub_certificates)
        .unwrap();
    assert_eq!(verified.common_name.as_deref(), Some("DEPNXC000000001"));
    let v2g_only = Iso20Verifier::from_pem_files(&[pki.join("v2g_root.pem")]).unwrap();
    assert!(
        v2g_only
            .verify_chain(&contract.certificate, &contract.sub_certificates)
            .is_err()
    );
}

#[test]
fn a_tls12_only_car_is_refused_by_an_iso20_charger() {
    let (_dir, pki) = make_iso20_pki();
    let hosts = TwoHosts::new().with_veth();
    let (server, _) = tls_with(&pki);
    // The same trust anchors, but ISO 15118-2's TLS 1.2 profile.
    let client = TlsClientConfig::new(TlsProfile::Iso15118_2, pki.join("v2g_root.pem"));
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let secc = spawn_async_in(&hosts.evse.name, move || async move {
        let iface = ready("evse0").await;
        let listener =
            V2gListener::bind(&iface, 0, Some(&server), DeframerConfig::default()).unwrap();
        port_tx.send((iface.link_local, listener.port())).unwrap();
        tokio::time::timeout(StdDuration::from_secs(20), listener.accept())
            .await
            .expect("the car tried within 20 s")
            .map(|c| c.tls_info().cloned())
    });
    let ev = spawn_async_in(&hosts.ev.name, move || async move {
        let iface = ready("ev0").await;
        let (address, port) = port_rx.recv().unwrap();
        let mut options = ConnectOptions::default();
        options.tls = Some(client);
        let address = std::net::SocketAddrV6::new(address, port, 0, iface.index);
        connect(address, true, &options)
            .await
            .map(|c| c.tls_info().cloned())
    });
    let car = join(ev);
    let charger = join(secc);
    assert!(car.is_err(), "the TLS 1.2 car got a connection: {car:?}");
    assert!(
        charger.is_err(),
        "the ISO 15118-20 charger accepted TLS 1.2: {charger:?}"
    );
}

#[test]
fn a_charger_whose_tls_allows_12_still_refuses_iso20_on_it() {
    // The driver's TLS profile (ISO 15118-2's TLS 1.2) lets the connection up; the session
    // refuses to negotiate ISO 15118-20 on it: not the driver's choice.
    // (ISO 15118-2's TLS 1.2 profile needs a secp256r1 certificate: the throw-away TestPki.)
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path()).unwrap();
    let (mut car, charger) = configs(Protocol::Iso15118_20Dc, ControlMode::Scheduled);
    car.iso20.allow_without_tls = true;
    let server = TlsServerConfig::new(
        TlsProfile::Iso15118_2,
        pki.secc.chain.clone(),
        pki.secc.key.clone(),
    );
    let client = TlsClientConfig::new(TlsProfile::Iso15118_2, pki.root.clone());
    let (car, charger, _) = session_over_tls(
        car,
        charger,
        PlantConfig::default(),
        server,
        client,
        Pnc::default(),
    );
    assert_eq!(
        car.tls.as_ref().map(|t| t.version.as_str()),
        Some("TLSv1.2")
    );
    let Some(Outcome::Failed(SessionError::PeerIncompatible(why))) = &charger.outcome else {
        panic!("{:?}", charger.outcome);
    };
    assert!(why.contains("TLS 1.3"), "{why}");
    assert!(matches!(car.outcome, Some(Outcome::Failed(_))));
    assert_eq!(sent(&car), ["supportedAppProtocolReq"]);
}

#[test]
fn iso20_dc_bpt_dynamic_discharge_over_tls13() {
    let (mut car, mut charger) = configs(Protocol::Iso15118_20DcBpt, ControlMode::Dynamic);
    car.iso20.bpt.discharge_current = None;
    charger.iso20.dynamic_current = Some(Amps(-20.0));
    let mut plant = PlantConfig::default();
    plant.power_supply.max_sink_current = Amps(40.0);
    plant.initial_soc = Percent(60.0);
    let (car, charger, plant) = session_over_tls13(car, charger, plant);
    assert_eq!(car.outcome, Some(Outcome::Completed), "{:?}", car.events);
    assert_eq!(charger.outcome, Some(Outcome::Completed));
    assert_tls13_mutual(&car, &charger);
    assert!(
        plant.lock().unwrap().battery().soc().0 < 60.0,
        "energy flowed out of the battery"
    );
    assert!(charger.events.iter().any(|e| matches!(
        e,
        SessionEvent::Received { name: "ServiceSelectionReq", summary } if summary.starts_with("ServiceID=6")
    )));
}
