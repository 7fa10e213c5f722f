//! Whole ISO 15118-2 DC sessions, our car against our charger, in two network namespaces joined
//! by a veth pair (`--no-slac`): SDP, then V2GTP over TCP (EIM) or over TLS 1.2 with the
//! standard's cipher suite (Plug & Charge with a contract chain from `make-test-pki.sh`),
//! driven by `run_session`. The hardware is the sessions' own simulation knobs (simulated
//! precharge voltage, no feedback), so the tests need no plant. Needs root.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod iso2_support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use ccs_linux::clock::Clock;
use ccs_linux::pnc::{FileCertificateBackend, OpensslSigner, OpensslVerifier, load_contract};
use ccs_linux::sdp::{DEFAULT_SDP_HOP_LIMIT, SdpResponder, discover_secc};
use ccs_linux::session::run_session;
use ccs_linux::tcp::{ConnectOptions, V2gListener, connect};
use ccs_linux::tls::{TlsClientConfig, TlsProfile, TlsServerConfig};
use ccs_proto::hardware::Volts;
use ccs_proto::sdp::{SdpClientConfig, SdpServer, SdpServerConfig, TlsWish};
use ccs_proto::session::iso2::{PaymentMethod, SeccPnc};
use ccs_proto::session::{
    EvccConfig, EvccSession, Outcome, Protocol, ProtocolOffer, SeccConfig, SeccSession,
};
use ccs_proto::time::Duration;
use ccs_proto::v2gtp::DeframerConfig;
use common::{TwoHosts, join, ready, spawn_async_in};
use iso2_support::{make_pki, sent_names, session_io};
use tokio::sync::{Notify, oneshot};

/// What one side of a session did.
#[derive(Debug)]
struct Side {
    outcome: Option<Outcome>,
    /// The names of the messages it sent.
    sent: Vec<&'static str>,
    tls: bool,
}

fn car_config(pnc: Option<&Path>) -> EvccConfig {
    let mut c = EvccConfig::default();
    c.protocols = vec![ProtocolOffer {
        protocol: Protocol::Iso15118_2,
        priority: 1,
        schema_id: 1,
    }];
    // No plant: the battery voltage and SoC are the configured ones, the lock and the
    // contactors are assumed to switch after their (short) timeouts.
    c.fallback_battery_voltage = Some(Volts(100.0));
    c.charge_target_voltage = Volts(110.0);
    c.lock_feedback = false;
    c.contactor_feedback = false;
    c.timeouts.lock_timeout = Duration::from_millis(100);
    c.timeouts.contactors_closed_timeout = Duration::from_millis(100);
    c.timeouts.contactors_open_timeout = Duration::from_millis(100);
    c.charge_duration = Some(Duration::from_secs(2));
    // Real time on a shared 2-core machine: the standard's 250 ms CurrentDemand timeout is
    // checked under virtual time (ccs-proto's iso2_session); here it must not make the test
    // depend on the machine's load.
    c.timeouts.current_demand_msg_timeout = Duration::from_secs(2);
    if let Some(pki) = pnc {
        c.iso2.payment = PaymentMethod::Contract;
        c.iso2.contract = Some(load_contract(&pki.join("contract_chain.pem")).unwrap());
    }
    c
}

fn charger_config() -> SeccConfig {
    let mut c = SeccConfig::default();
    c.protocols = vec![Protocol::Din70121, Protocol::Iso15118_2];
    c.isolation_monitor = false;
    c.cable_check_duration = Duration::from_millis(200);
    c.evse_simulate_precharge = true;
    c.iso2.receipt_required = true;
    c
}

async fn charger(
    tls: Option<TlsServerConfig>,
    pnc: Option<SeccPnc>,
    sdp_ready: Arc<Notify>,
) -> Side {
    let iface = ready("evse0").await;
    let listener = V2gListener::bind(&iface, 0, tls.as_ref(), DeframerConfig::default()).unwrap();
    let sdp = if listener.is_tls() {
        SdpServerConfig::tls_only(iface.link_local, listener.port())
    } else {
        SdpServerConfig::no_tls(iface.link_local, listener.port())
    };
    let clock = Clock::new();
    let responder = SdpResponder::bind(&iface, SdpServer::new(sdp).unwrap(), clock).unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let sdp = tokio::spawn(responder.run(None, async {
        let _ = stopped.await;
    }));
    sdp_ready.notify_one();
    let conn = tokio::time::timeout(StdDuration::from_secs(20), listener.accept())
        .await
        .expect("no car within 20 s")
        .unwrap();
    let tls = conn.tls_info().is_some();
    let mut session = SeccSession::new(charger_config(), [0x15; 8], clock.now());
    session.set_tls(tls);
    if let Some(pnc) = pnc {
        session.set_pnc(pnc);
    }
    let (mut io, events) = session_io();
    let outcome = tokio::time::timeout(
        StdDuration::from_secs(60),
        run_session(conn, &mut session, &clock, &mut io),
    )
    .await
    .expect("the charger's session did not end within 60 s");
    let _ = stop.send(());
    let _ = sdp.await;
    Side {
        outcome,
        sent: sent_names(events),
        tls,
    }
}

async fn car(
    tls: Option<TlsClientConfig>,
    pki: Option<std::path::PathBuf>,
    sdp_ready: Arc<Notify>,
) -> Side {
    let iface = ready("ev0").await;
    sdp_ready.notified().await;
    let mut sdp = SdpClientConfig::default();
    if tls.is_some() {
        sdp.tls = TlsWish::RequireTls;
    }
    let clock = Clock::new();
    let secc = discover_secc(&iface, sdp, DEFAULT_SDP_HOP_LIMIT, &clock)
        .await
        .unwrap();
    let mut options = ConnectOptions::default();
    options.tls = tls;
    let conn = connect(secc.address, secc.tls, &options).await.unwrap();
    let tls = conn.tls_info().is_some();
    let mut session = EvccSession::new(car_config(pki.as_deref()), [2, 0, 0, 0, 0, 1], clock.now());
    if let Some(pki) = &pki {
        session.set_contract_signer(Arc::new(
            OpensslSigner::from_pem_file(&pki.join("contract.key")).unwrap(),
        ));
    }
    let (mut io, events) = session_io();
    let outcome = tokio::time::timeout(
        StdDuration::from_secs(60),
        run_session(conn, &mut session, &clock, &mut io),
    )
    .await
    .expect("the car's session did not end within 60 s");
    Side {
        outcome,
        sent: sent_names(events),
        tls,
    }
}

const DC_EIM: [&str; 13] = [
    "supportedAppProtocolReq",
    "SessionSetupReq",
    "ServiceDiscoveryReq",
    "PaymentServiceSelectionReq",
    "AuthorizationReq",
    "ChargeParameterDiscoveryReq",
    "CableCheckReq",
    "PreChargeReq",
    "PowerDeliveryReq",
    "CurrentDemandReq",
    "PowerDeliveryReq",
    "WeldingDetectionReq",
    "SessionStopReq",
];

#[test]
fn iso2_dc_eim_session_over_tcp() {
    let hosts = TwoHosts::new().with_veth();
    let ready = Arc::new(Notify::new());
    let secc = spawn_async_in(&hosts.evse.name, {
        let ready = ready.clone();
        move || charger(None, None, ready)
    });
    let ev = spawn_async_in(&hosts.ev.name, move || car(None, None, ready));
    let ev = join(ev);
    let secc = join(secc);
    assert_eq!(ev.outcome, Some(Outcome::Completed), "{ev:?}");
    assert_eq!(secc.outcome, Some(Outcome::Completed), "{secc:?}");
    assert!(!ev.tls && !secc.tls);
    assert_eq!(ev.sent, DC_EIM);
    // EIM: no receipt is asked for (only Plug & Charge signs one).
    assert!(!secc.sent.contains(&"MeteringReceiptRes"));
}

#[test]
fn iso2_dc_plug_and_charge_session_over_tls12() {
    let hosts = TwoHosts::new().with_veth();
    let (_dir, pki) = make_pki();
    let server = TlsServerConfig::new(
        TlsProfile::Iso15118_2,
        pki.join("secc_chain.pem"),
        pki.join("secc.key"),
    );
    let client = TlsClientConfig::new(TlsProfile::Iso15118_2, pki.join("v2g_root.pem"));
    let pnc = SeccPnc {
        verifier: Arc::new(OpensslVerifier::from_pem_files(&[pki.join("mo_root.pem")]).unwrap()),
        backend: Some(Arc::new(FileCertificateBackend::new(pki.clone()))),
        gen_challenge: *b"0123456789abcdef",
    };
    let ready = Arc::new(Notify::new());
    let secc = spawn_async_in(&hosts.evse.name, {
        let ready = ready.clone();
        move || charger(Some(server), Some(pnc), ready)
    });
    let ev = spawn_async_in(&hosts.ev.name, {
        let pki = pki.clone();
        move || car(Some(client), Some(pki), ready)
    });
    let ev = join(ev);
    let secc = join(secc);
    assert_eq!(ev.outcome, Some(Outcome::Completed), "{ev:?}");
    assert_eq!(secc.outcome, Some(Outcome::Completed), "{secc:?}");
    assert!(ev.tls && secc.tls);
    assert_eq!(
        ev.sent[..7],
        [
            "supportedAppProtocolReq",
            "SessionSetupReq",
            "ServiceDiscoveryReq",
            "PaymentServiceSelectionReq",
            "PaymentDetailsReq",
            "AuthorizationReq",
            "ChargeParameterDiscoveryReq",
        ]
    );
    // The charger verified the signed AuthorizationReq (else FAILED_SignatureError) and the
    // signed MeteringReceiptReq it asked for.
    assert!(ev.sent.contains(&"MeteringReceiptReq"), "{:?}", ev.sent);
    assert!(secc.sent.contains(&"MeteringReceiptRes"));
    assert_eq!(ev.sent.last(), Some(&"SessionStopReq"));
}

#[test]
fn iso2_car_refuses_a_charger_outside_its_v2g_roots() {
    let hosts = TwoHosts::new().with_veth();
    let (_dir, pki) = make_pki();
    let (_other_dir, other) = make_pki();
    let server = TlsServerConfig::new(
        TlsProfile::Iso15118_2,
        pki.join("secc_chain.pem"),
        pki.join("secc.key"),
    );
    // The car trusts another PKI's V2G root.
    let client = TlsClientConfig::new(TlsProfile::Iso15118_2, other.join("v2g_root.pem"));
    let ready = Arc::new(Notify::new());
    let secc = spawn_async_in(&hosts.evse.name, {
        let ready = ready.clone();
        move || async move {
            let iface = ready_iface().await;
            let listener =
                V2gListener::bind(&iface, 0, Some(&server), DeframerConfig::default()).unwrap();
            let sdp = SdpServerConfig::tls_only(iface.link_local, listener.port());
            let responder =
                SdpResponder::bind(&iface, SdpServer::new(sdp).unwrap(), Clock::new()).unwrap();
            let (stop, stopped) = oneshot::channel::<()>();
            let sdp = tokio::spawn(responder.run(None, async {
                let _ = stopped.await;
            }));
            ready.notify_one();
            let accepted =
                tokio::time::timeout(StdDuration::from_secs(20), listener.accept()).await;
            let _ = stop.send(());
            let _ = sdp.await;
            accepted.map(|r| r.is_ok()).unwrap_or(false)
        }
    });
    let ev = spawn_async_in(&hosts.ev.name, move || async move {
        let iface = common::ready("ev0").await;
        ready.notified().await;
        let mut sdp = SdpClientConfig::default();
        sdp.tls = TlsWish::RequireTls;
        let secc = discover_secc(&iface, sdp, DEFAULT_SDP_HOP_LIMIT, &Clock::new())
            .await
            .unwrap();
        let mut options = ConnectOptions::default();
        options.tls = Some(client);
        connect(secc.address, secc.tls, &options).await.err()
    });
    let err = join(ev).expect("the handshake must fail");
    assert!(err.to_string().to_lowercase().contains("tls"), "{err}");
    assert!(!join(secc), "the charger saw no completed handshake");
}

async fn ready_iface() -> ccs_linux::iface::Interface {
    ready("evse0").await
}
