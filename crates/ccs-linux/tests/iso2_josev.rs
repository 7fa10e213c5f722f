//! ISO 15118-2 DC EIM interop with Josev (the Python package `iso15118` 0.31.2,
//! `reference/ecosystem.md` §5.1), over a veth pair between two namespaces: our car against
//! Josev's SECC, and Josev's EVCC against our charger, each a whole session from SDP to
//! SessionStop.
//!
//! Needs root and Josev in `.venv/josev` (`scripts/setup-josev.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod iso2_support;

use std::process::{Command, Stdio};
use std::time::Duration as StdDuration;

use ccs_linux::clock::Clock;
use ccs_linux::sdp::{DEFAULT_SDP_HOP_LIMIT, SdpResponder, discover_secc};
use ccs_linux::session::run_session;
use ccs_linux::sys::netns::spawn_command_in_netns;
use ccs_linux::tcp::{ConnectOptions, V2gListener, connect};
use ccs_proto::hardware::Volts;
use ccs_proto::sdp::{SdpClientConfig, SdpServer, SdpServerConfig};
use ccs_proto::session::{
    EvccConfig, EvccSession, Outcome, Protocol, ProtocolOffer, SeccConfig, SeccSession,
};
use ccs_proto::time::Duration;
use ccs_proto::v2gtp::DeframerConfig;
use ccs_testdata::{ProcessGroup, josev_python};
use common::{TwoHosts, join, ready, spawn_async_in};
use iso2_support::{sent_names, session_io};

fn car_config() -> EvccConfig {
    let mut c = EvccConfig::default();
    c.protocols = vec![ProtocolOffer {
        protocol: Protocol::Iso15118_2,
        priority: 1,
        schema_id: 1,
    }];
    // Josev's simulated EVSE always reports 1 V; a 1 V "battery" lets PreCharge match.
    c.fallback_battery_voltage = Some(Volts(1.0));
    c.inlet_voltage_plausibility_tolerance = None;
    c.lock_feedback = false;
    c.contactor_feedback = false;
    c.timeouts.lock_timeout = Duration::from_millis(100);
    c.timeouts.contactors_closed_timeout = Duration::from_millis(100);
    c.timeouts.contactors_open_timeout = Duration::from_millis(100);
    // Josev's Java EXI codec answers CurrentDemand in 100-520 ms (field-timing.md §3), over
    // the standard's 250 ms, and its first messages take up to 2 s on a loaded machine (the
    // JVM warms up): test knobs, not field settings.
    // Several Josev JVMs in parallel on two cores are slower still.
    c.timeouts.current_demand_msg_timeout = Duration::from_secs(5);
    c.timeouts.msg_timeout = Duration::from_secs(10);
    c.iso2.timeouts.long_msg_timeout = Duration::from_secs(20);
    c.charge_duration = Some(Duration::from_secs(3));
    c
}

/// Our car (EIM, no TLS, `config`) charges at Josev's SECC; returns what it sent.
fn our_car_eim_session(config: EvccConfig) -> Vec<&'static str> {
    let python = josev_python();
    let hosts = TwoHosts::new().with_veth();
    let workdir = tempfile::tempdir().unwrap();
    let log_path = workdir.path().join("secc.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut command = Command::new(&python);
    command
        .args(["-m", "iso15118.secc.main"])
        .current_dir(workdir.path())
        .env("NETWORK_INTERFACE", "evse0")
        .env("PROTOCOLS", "ISO_15118_2")
        .env("AUTH_MODES", "EIM")
        .env("LOG_LEVEL", "INFO")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    let secc = ProcessGroup {
        child: spawn_command_in_netns(&mut command, &hosts.evse.name).unwrap(),
    };
    let ev = spawn_async_in(&hosts.ev.name, move || async move {
        let iface = ready("ev0").await;
        // Josev's JVM takes a few seconds to start: allow 100 requests (25 s).
        let mut sdp = SdpClientConfig::default();
        sdp.max_requests = 100;
        sdp.require_dynamic_port = true;
        let clock = Clock::new();
        let found = discover_secc(&iface, sdp, DEFAULT_SDP_HOP_LIMIT, &clock)
            .await
            .map_err(|e| e.to_string())?;
        let conn = connect(found.address, found.tls, &ConnectOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        let mut session = EvccSession::new(config, [2, 0, 0, 0, 0, 7], clock.now());
        let (mut io, events) = session_io();
        let outcome = tokio::time::timeout(
            StdDuration::from_secs(90),
            run_session(conn, &mut session, &clock, &mut io),
        )
        .await
        .map_err(|_| "the session did not end within 90 s".to_owned())?;
        Ok::<_, String>((outcome, sent_names(events)))
    });
    let result = join(ev);
    drop(secc);
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let (outcome, sent) = result.unwrap_or_else(|e| panic!("{e}\nJosev SECC log:\n{log}"));
    assert_eq!(
        outcome,
        Some(Outcome::Completed),
        "sent {sent:?}\nJosev SECC log:\n{log}"
    );
    sent
}

#[test]
fn our_car_charges_at_josev_secc_with_iso2_dc_eim() {
    let sent = our_car_eim_session(car_config());
    for name in [
        "AuthorizationReq",
        "CableCheckReq",
        "PreChargeReq",
        "CurrentDemandReq",
        "WeldingDetectionReq",
        "SessionStopReq",
    ] {
        assert!(sent.contains(&name), "{name} missing in {sent:?}");
    }
}

#[test]
fn our_car_charges_at_josev_secc_with_iso2_ac_eim() {
    let mut config = car_config();
    config.iso2.energy_transfer = ccs_proto::session::iso2::EnergyTransfer::AcThreePhase;
    let sent = our_car_eim_session(config);
    for name in [
        "ChargeParameterDiscoveryReq",
        "PowerDeliveryReq",
        "ChargingStatusReq",
        "SessionStopReq",
    ] {
        assert!(sent.contains(&name), "{name} missing in {sent:?}");
    }
    assert!(!sent.contains(&"CableCheckReq"), "{sent:?}");
}

fn charger_config() -> SeccConfig {
    let mut c = SeccConfig::default();
    c.protocols = vec![Protocol::Din70121, Protocol::Iso15118_2];
    c.isolation_monitor = false;
    c.cable_check_duration = Duration::from_millis(200);
    c.evse_simulate_precharge = true;
    c
}

/// Josev's EVCC (EIM, no TLS) charges at our charger in `mode` (`DC_extended`,
/// `AC_three_phase_core`, ...); returns what our charger sent.
fn josev_evcc_eim_session(service: &str, mode: &str) -> Vec<&'static str> {
    let python = josev_python();
    let hosts = TwoHosts::new().with_veth();
    let workdir = tempfile::tempdir().unwrap();
    let config_path = workdir.path().join("evcc_config.json");
    std::fs::write(
        &config_path,
        format!(
            r#"{{"supportedProtocols": ["ISO_15118_2"], "supportedEnergyServices": ["{service}"],
            "energyTransferMode": "{mode}", "isCertInstallNeeded": false,
            "useTls": false, "chargeLoopCycle": 5}}"#
        ),
    )
    .unwrap();
    let secc = spawn_async_in(&hosts.evse.name, || async {
        let iface = ready("evse0").await;
        let listener = V2gListener::bind(&iface, 0, None, DeframerConfig::default()).unwrap();
        let clock = Clock::new();
        let server =
            SdpServer::new(SdpServerConfig::no_tls(iface.link_local, listener.port())).unwrap();
        let responder = SdpResponder::bind(&iface, server, clock).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let sdp = tokio::spawn(responder.run(None, async {
            let _ = stopped.await;
        }));
        let result = async {
            let conn = tokio::time::timeout(StdDuration::from_secs(40), listener.accept())
                .await
                .map_err(|_| "Josev did not connect within 40 s".to_owned())?
                .map_err(|e| e.to_string())?;
            let mut session = SeccSession::new(charger_config(), [0x3a; 8], clock.now());
            let (mut io, events) = session_io();
            let outcome = tokio::time::timeout(
                StdDuration::from_secs(90),
                run_session(conn, &mut session, &clock, &mut io),
            )
            .await
            .map_err(|_| "the session did not end within 90 s".to_owned())?;
            Ok::<_, String>((outcome, sent_names(events)))
        }
        .await;
        let _ = stop.send(());
        let _ = sdp.await;
        result
    });
    let log_path = workdir.path().join("evcc.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut command = Command::new(&python);
    command
        .args(["-m", "iso15118.evcc.main"])
        .arg(&config_path)
        .current_dir(workdir.path())
        .env("NETWORK_INTERFACE", "ev0")
        .env("LOG_LEVEL", "INFO")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    let evcc = ProcessGroup {
        child: spawn_command_in_netns(&mut command, &hosts.ev.name).unwrap(),
    };
    let result = join(secc);
    drop(evcc);
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let (outcome, sent) = result.unwrap_or_else(|e| panic!("{e}\nJosev EVCC log:\n{log}"));
    assert_eq!(
        outcome,
        Some(Outcome::Completed),
        "sent {sent:?}\nJosev EVCC log:\n{log}"
    );
    sent
}

#[test]
fn josev_evcc_charges_at_our_charger_with_iso2_dc_eim() {
    let sent = josev_evcc_eim_session("DC", "DC_extended");
    for name in [
        "AuthorizationRes",
        "ChargeParameterDiscoveryRes",
        "PreChargeRes",
        "CurrentDemandRes",
        "SessionStopRes",
    ] {
        assert!(sent.contains(&name), "{name} missing in {sent:?}");
    }
}

#[test]
fn josev_evcc_charges_at_our_charger_with_iso2_ac_eim() {
    let sent = josev_evcc_eim_session("AC", "AC_three_phase_core");
    for name in [
        "AuthorizationRes",
        "ChargeParameterDiscoveryRes",
        "PowerDeliveryRes",
        "ChargingStatusRes",
        "SessionStopRes",
    ] {
        assert!(sent.contains(&name), "{name} missing in {sent:?}");
    }
    assert!(!sent.contains(&"CurrentDemandRes"), "{sent:?}");
}

/// Josev's ISO 15118-2 PKI (its own `create_certs.sh`, keys encrypted with its default
/// password `12345`), generated into `dir`; returns its root.
fn josev_pki(dir: &std::path::Path) -> std::path::PathBuf {
    let python = josev_python();
    let out = Command::new(&python)
        .args([
            "-c",
            "import iso15118, os; print(os.path.join(os.path.dirname(iso15118.__file__), 'shared', 'pki'))",
        ])
        .output()
        .unwrap();
    let source = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let pki = dir.join("pki");
    let status = Command::new("cp")
        .args(["-r", &source, pki.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = Command::new("bash")
        .args(["create_certs.sh", "-v", "iso-2"])
        .current_dir(&pki)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "Josev's create_certs.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    pki
}

#[test]
fn our_car_uses_plug_and_charge_at_josev_secc_over_tls12() {
    let sent = our_car_pnc_session(false);
    assert!(!sent.contains(&"CertificateInstallationReq"), "{sent:?}");
}

#[test]
fn our_car_installs_a_contract_at_josev_secc_then_uses_it() {
    let sent = our_car_pnc_session(true);
    let at = |name| sent.iter().position(|n| *n == name);
    assert!(at("CertificateInstallationReq").is_some(), "{sent:?}");
    assert!(
        at("CertificateInstallationReq") < at("PaymentDetailsReq"),
        "{sent:?}"
    );
}

/// Our car does Plug & Charge at Josev's SECC over TLS 1.2, with Josev's contract, or
/// (`install`) installing it first with Josev's OEM provisioning certificate; returns what
/// the car sent.
fn our_car_pnc_session(install: bool) -> Vec<&'static str> {
    use ccs_linux::pnc::{OpensslCertificateInstaller, OpensslSigner, load_contract};
    use ccs_linux::tls::{TlsClientConfig, TlsProfile};
    use ccs_proto::sdp::TlsWish;
    use ccs_proto::session::iso2::PaymentMethod;
    use std::sync::Arc;

    let python = josev_python();
    let workdir = tempfile::tempdir().unwrap();
    let pki = josev_pki(workdir.path());
    let certs = pki.join("iso15118_2/certs");
    let keys = pki.join("iso15118_2/private_keys");
    // Our signer reads unencrypted keys: decrypt Josev's contract key.
    let decrypt = |name: &str| {
        let plain = workdir.path().join(name);
        let status = Command::new("openssl")
            .args(["ec", "-passin", "pass:12345", "-in"])
            .arg(keys.join(name))
            .arg("-out")
            .arg(&plain)
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        plain
    };
    let contract_key = decrypt("contractLeaf.key");
    let oem_key = decrypt("oemLeaf.key");
    let oem_cert = certs.join("oemLeafCert.pem");
    let chain = workdir.path().join("contract_chain.pem");
    let mut pem = Vec::new();
    for name in [
        "contractLeafCert.pem",
        "moSubCA2Cert.pem",
        "moSubCA1Cert.pem",
    ] {
        pem.extend(std::fs::read(certs.join(name)).unwrap());
    }
    std::fs::write(&chain, pem).unwrap();

    let hosts = TwoHosts::new().with_veth();
    let log_path = workdir.path().join("secc.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut command = Command::new(&python);
    command
        .args(["-m", "iso15118.secc.main"])
        .current_dir(workdir.path())
        .env("NETWORK_INTERFACE", "evse0")
        .env("PROTOCOLS", "ISO_15118_2")
        .env("AUTH_MODES", "EIM,PNC")
        .env("SECC_ENFORCE_TLS", "True")
        .env("PKI_PATH", format!("{}/", pki.display()))
        .env("LOG_LEVEL", "INFO")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    let secc = ProcessGroup {
        child: spawn_command_in_netns(&mut command, &hosts.evse.name).unwrap(),
    };
    let trust = certs.join("v2gRootCACert.pem");
    let root = trust.clone();
    let ev = spawn_async_in(&hosts.ev.name, move || async move {
        let iface = ready("ev0").await;
        let mut sdp = SdpClientConfig::default();
        sdp.max_requests = 100;
        sdp.require_dynamic_port = true;
        sdp.tls = TlsWish::RequireTls;
        let clock = Clock::new();
        let found = discover_secc(&iface, sdp, DEFAULT_SDP_HOP_LIMIT, &clock)
            .await
            .map_err(|e| e.to_string())?;
        let mut options = ConnectOptions::default();
        options.tls = Some(TlsClientConfig::new(TlsProfile::Iso15118_2, trust));
        options.timeout = StdDuration::from_secs(10);
        let conn = connect(found.address, found.tls, &options)
            .await
            .map_err(|e| e.to_string())?;
        let tls = conn.tls_info().cloned();
        let mut config = car_config();
        config.iso2.payment = PaymentMethod::Contract;
        let mut session = if install {
            config.iso2.request_service_details = true;
            let mut session = EvccSession::new(config, [2, 0, 0, 0, 0, 9], clock.now());
            session.set_certificate_installer(Arc::new(
                OpensslCertificateInstaller::from_pem_files(&oem_cert, &oem_key, &[root])
                    .map_err(|e| e.to_string())?,
            ));
            session
        } else {
            config.iso2.contract = Some(load_contract(&chain).map_err(|e| e.to_string())?);
            let mut session = EvccSession::new(config, [2, 0, 0, 0, 0, 8], clock.now());
            session.set_contract_signer(Arc::new(
                OpensslSigner::from_pem_file(&contract_key).map_err(|e| e.to_string())?,
            ));
            session
        };
        let (mut io, events) = session_io();
        let outcome = tokio::time::timeout(
            StdDuration::from_secs(90),
            run_session(conn, &mut session, &clock, &mut io),
        )
        .await
        .map_err(|_| "the session did not end within 90 s".to_owned())?;
        Ok::<_, String>((outcome, sent_names(events), tls))
    });
    let result = join(ev);
    drop(secc);
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let (outcome, sent, tls) = result.unwrap_or_else(|e| panic!("{e}\nJosev SECC log:\n{log}"));
    assert_eq!(
        outcome,
        Some(Outcome::Completed),
        "sent {sent:?}\nJosev SECC log:\n{log}"
    );
    let tls = tls.expect("a TLS connection");
    assert_eq!(tls.version, "TLSv1.2");
    assert_eq!(tls.cipher, "ECDHE-ECDSA-AES128-SHA256");
    // Josev verified our contract chain (PaymentDetails) and the signature over the
    // EXI-encoded AuthorizationReq fragment, else it would have answered FAILED.
    for name in [
        "PaymentDetailsReq",
        "AuthorizationReq",
        "CurrentDemandReq",
        "SessionStopReq",
    ] {
        assert!(sent.contains(&name), "{name} missing in {sent:?}");
    }
    sent
}

#[test]
fn josev_evcc_uses_plug_and_charge_at_our_charger_over_tls12() {
    use ccs_linux::pnc::OpensslVerifier;
    use ccs_linux::tls::{TlsProfile, TlsServerConfig};
    use ccs_proto::session::iso2::SeccPnc;
    use std::sync::Arc;

    let python = josev_python();
    let workdir = tempfile::tempdir().unwrap();
    let pki = josev_pki(workdir.path());
    let certs = pki.join("iso15118_2/certs");
    let keys = pki.join("iso15118_2/private_keys");
    // Our TLS server reads an unencrypted key: decrypt Josev's SECC key.
    let secc_key = workdir.path().join("secc.key");
    let status = Command::new("openssl")
        .args(["ec", "-passin", "pass:12345", "-in"])
        .arg(keys.join("seccLeaf.key"))
        .arg("-out")
        .arg(&secc_key)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let server = TlsServerConfig::new(
        TlsProfile::Iso15118_2,
        certs.join("cpoCertChain.pem"),
        secc_key,
    );
    let verifier = OpensslVerifier::from_pem_files(&[certs.join("moRootCACert.pem")]).unwrap();
    let config_path = workdir.path().join("evcc_config.json");
    std::fs::write(
        &config_path,
        r#"{"supportedProtocols": ["ISO_15118_2"], "supportedEnergyServices": ["DC"],
            "energyTransferMode": "DC_extended", "isCertInstallNeeded": false,
            "useTls": true, "enforceTls": true, "chargeLoopCycle": 5}"#,
    )
    .unwrap();
    let hosts = TwoHosts::new().with_veth();
    let secc = spawn_async_in(&hosts.evse.name, move || async move {
        let iface = ready("evse0").await;
        let listener =
            V2gListener::bind(&iface, 0, Some(&server), DeframerConfig::default()).unwrap();
        let clock = Clock::new();
        let server =
            SdpServer::new(SdpServerConfig::tls_only(iface.link_local, listener.port())).unwrap();
        let responder = SdpResponder::bind(&iface, server, clock).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let sdp = tokio::spawn(responder.run(None, async {
            let _ = stopped.await;
        }));
        let result = async {
            let conn = tokio::time::timeout(StdDuration::from_secs(40), listener.accept())
                .await
                .map_err(|_| "Josev did not connect within 40 s".to_owned())?
                .map_err(|e| e.to_string())?;
            let mut session = SeccSession::new(charger_config(), [0x3b; 8], clock.now());
            session.set_tls(conn.tls_info().is_some());
            session.set_pnc(SeccPnc {
                verifier: Arc::new(verifier),
                backend: None,
                gen_challenge: *b"josev-challenge!",
            });
            let (mut io, events) = session_io();
            let outcome = tokio::time::timeout(
                StdDuration::from_secs(90),
                run_session(conn, &mut session, &clock, &mut io),
            )
            .await
            .map_err(|_| "the session did not end within 90 s".to_owned())?;
            Ok::<_, String>((outcome, sent_names(events)))
        }
        .await;
        let _ = stop.send(());
        let _ = sdp.await;
        result
    });
    let log_path = workdir.path().join("evcc.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut command = Command::new(&python);
    command
        .args(["-m", "iso15118.evcc.main"])
        .arg(&config_path)
        .current_dir(workdir.path())
        .env("NETWORK_INTERFACE", "ev0")
        .env("PKI_PATH", format!("{}/", pki.display()))
        .env("LOG_LEVEL", "INFO")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    let evcc = ProcessGroup {
        child: spawn_command_in_netns(&mut command, &hosts.ev.name).unwrap(),
    };
    let result = join(secc);
    drop(evcc);
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let (outcome, sent) = result.unwrap_or_else(|e| panic!("{e}\nJosev EVCC log:\n{log}"));
    assert_eq!(
        outcome,
        Some(Outcome::Completed),
        "sent {sent:?}\nJosev EVCC log:\n{log}"
    );
    // We validated Josev's contract chain against its MO root and verified its signature
    // over the EXI AuthorizationReq fragment (else FAILED_CertChainError/SignatureError).
    for name in [
        "PaymentDetailsRes",
        "AuthorizationRes",
        "CurrentDemandRes",
        "SessionStopRes",
    ] {
        assert!(sent.contains(&name), "{name} missing in {sent:?}");
    }
}
