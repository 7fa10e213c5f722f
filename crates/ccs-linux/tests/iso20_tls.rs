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
use ccs_linux::sdp::{DEFAULT_SDP_HOP_LIMIT, SdpResponder, discover_secc};
use ccs_linux::session::run_session;
use ccs_linux::tcp::{ConnectOptions, V2gListener, connect};
use ccs_linux::tls::testing::TestPki;
use ccs_linux::tls::{TlsClientConfig, TlsProfile, TlsServerConfig};
use ccs_proto::hardware::{Amps, Percent};
use ccs_proto::sdp::{SdpClientConfig, SdpServer, SdpServerConfig, TlsWish};
use ccs_proto::session::iso20::{Authorization, ControlMode};
use ccs_proto::session::{
    EvccConfig, EvccSession, Outcome, Protocol, ProtocolOffer, SeccConfig, SeccSession,
    SessionEvent,
};
use ccs_proto::time::Duration;
use ccs_proto::v2gtp::DeframerConfig;
use ccs_sim::physics::{DcPlant, PlantConfig};
use common::{TwoHosts, join, ready, spawn_async_in};
use iso20_support::{Plant, Ran, Side, drain, hardware};
use tokio::sync::Notify;

/// Runs one session pair over TLS 1.3 with mutual authentication; returns (car, charger).
fn session_over_tls13(
    car: EvccConfig,
    charger: SeccConfig,
    plant: PlantConfig,
) -> (Ran, Ran, Plant) {
    let hosts = TwoHosts::new().with_veth();
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
            // The driver tells the session its connection is TLS (Plug & Charge needs it).
            session.set_tls(tls.is_some());
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

#[test]
fn iso20_dc_plug_and_charge_session_over_tls13_with_mutual_authentication() {
    let (mut car, mut charger) = configs(Protocol::Iso15118_20Dc, ControlMode::Scheduled);
    car.iso20.authorization = Authorization::PnC {
        contract_certificate: vec![0x30, 0x82, 0x01, 0x00],
        sub_certificates: vec![vec![0x30, 0x01]],
    };
    charger.iso20.offer_pnc = true;
    charger.iso20.gen_challenge = [0x5a; 16];
    let plant = PlantConfig::default();
    let soc = plant.initial_soc;
    let (car, charger, plant) = session_over_tls13(car, charger, plant);
    assert_eq!(car.outcome, Some(Outcome::Completed), "{:?}", car.events);
    assert_eq!(charger.outcome, Some(Outcome::Completed));
    assert_tls13_mutual(&car, &charger);
    let names = sent(&car);
    assert!(names.contains(&"DC_ChargeLoopReq") && names.ends_with(&["SessionStopReq"]));
    assert!(charger.events.iter().any(|e| matches!(
        e,
        SessionEvent::Received { name: "AuthorizationReq", summary } if summary == "PnC"
    )));
    assert!(plant.lock().unwrap().battery().soc() > soc);
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
