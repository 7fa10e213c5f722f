//! ISO 15118-20 interop with Josev (the Python package `iso15118` 0.31.2,
//! `reference/ecosystem.md` §5.1), DC and DC_BPT, over plain TCP as Josev's example configs
//! run it (`useTls: false`): Josev's EVCC against our charger, and our car against Josev's
//! SECC, in two network namespaces joined by a veth pair.
//!
//! Needs root and Josev in `.venv/josev` (`scripts/setup-josev.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod iso20_support;

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use ccs_linux::clock::Clock;
use ccs_linux::sdp::{DEFAULT_SDP_HOP_LIMIT, SdpResponder, discover_secc};
use ccs_linux::session::run_session;
use ccs_linux::sys::netns::spawn_command_in_netns;
use ccs_linux::tcp::{ConnectOptions, V2gListener, connect};
use ccs_proto::hardware::Volts;
use ccs_proto::sdp::{SdpClientConfig, SdpServer, SdpServerConfig};
use ccs_proto::session::iso20::ControlMode;
use ccs_proto::session::{
    EvccConfig, EvccSession, Outcome, Protocol, ProtocolOffer, SeccConfig, SeccSession,
    SessionEvent,
};
use ccs_proto::time::Duration;
use ccs_proto::v2gtp::DeframerConfig;
use ccs_sim::physics::{DcPlant, PlantConfig};
use ccs_testdata::{ProcessGroup, josev_python};
use common::{TwoHosts, join, ready, spawn_async_in};
use iso20_support::{Plant, Ran, Side, drain, hardware};

fn received(ran: &Ran) -> Vec<(&'static str, String)> {
    ran.events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Received { name, summary } => Some((*name, summary.clone())),
            _ => None,
        })
        .collect()
}

/// Josev's EVCC (config `services`, e.g. `["DC"]`) against our charger.
fn josev_car_against_our_charger(services: &str) -> (Ran, String) {
    let python = josev_python();
    let hosts = TwoHosts::new().with_veth();
    let workdir = tempfile::tempdir().unwrap();
    let config_path = workdir.path().join("evcc_config.json");
    std::fs::write(
        &config_path,
        format!(
            r#"{{"supportedProtocols": ["ISO_15118_20_DC"], "supportedEnergyServices": {services},
                "isCertInstallNeeded": false, "useTls": false, "chargeLoopCycle": 10}}"#
        ),
    )
    .unwrap();
    let clock = Clock::new();
    let mut plant_config = PlantConfig::default();
    plant_config.power_supply.max_sink_current = ccs_proto::hardware::Amps(40.0);
    let plant: Plant = Arc::new(Mutex::new(DcPlant::new(plant_config, clock.now())));
    let secc = spawn_async_in(&hosts.evse.name, move || async move {
        let iface = ready("evse0").await;
        let listener = V2gListener::bind(&iface, 0, None, DeframerConfig::default()).unwrap();
        let sdp =
            SdpServer::new(SdpServerConfig::no_tls(iface.link_local, listener.port())).unwrap();
        let responder = SdpResponder::bind(&iface, sdp, clock).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let sdp = tokio::spawn(responder.run(None, async {
            let _ = stopped.await;
        }));
        let conn = tokio::time::timeout(StdDuration::from_secs(40), listener.accept())
            .await
            .expect("Josev's car did not connect within 40 s")
            .unwrap();
        let mut config = SeccConfig::default();
        config.protocols = vec![Protocol::Iso15118_20Dc, Protocol::Iso15118_20DcBpt];
        // Josev runs here with `useTls: false`; ISO 15118-20 needs TLS 1.3 otherwise.
        config.iso20.allow_without_tls = true;
        let (mut io, events) = hardware(plant, clock, Side::Charger);
        let mut session = SeccSession::new(
            config,
            [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80],
            clock.now(),
        );
        let outcome = tokio::time::timeout(
            StdDuration::from_secs(120),
            run_session(conn, &mut session, &clock, &mut io),
        )
        .await
        .expect("session within 120 s");
        let _ = stop.send(());
        let _ = sdp.await;
        Ran {
            outcome,
            tls: None,
            events: drain(events),
        }
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
    let ran = join(secc);
    drop(evcc);
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    (ran, log)
}

#[test]
fn josev_iso20_dc_car_charges_at_our_charger() {
    let (ran, log) = josev_car_against_our_charger(r#"["DC"]"#);
    assert_eq!(
        ran.outcome,
        Some(Outcome::Completed),
        "{:#?}\nJosev EVCC log:\n{log}",
        ran.events
    );
    let got = received(&ran);
    assert!(
        got.iter()
            .any(|(n, s)| *n == "ServiceSelectionReq" && s.starts_with("ServiceID=2"))
    );
    assert!(
        got.iter().filter(|(n, _)| *n == "DC_ChargeLoopReq").count() >= 5,
        "{got:?}"
    );
    assert_eq!(got.last().map(|(n, _)| *n), Some("SessionStopReq"));
}

#[test]
fn josev_iso20_dc_bpt_car_at_our_charger() {
    let (ran, log) = josev_car_against_our_charger(r#"["DC_BPT"]"#);
    assert_eq!(
        ran.outcome,
        Some(Outcome::Completed),
        "{:#?}\nJosev EVCC log:\n{log}",
        ran.events
    );
    let got = received(&ran);
    assert!(
        got.iter()
            .any(|(n, s)| *n == "ServiceSelectionReq" && s.starts_with("ServiceID=6"))
    );
    assert!(got.iter().any(|(n, _)| *n == "DC_ChargeLoopReq"), "{got:?}");
}

/// Our car (offering `protocol`) against Josev's SECC.
fn our_car_against_josev_charger(protocol: Protocol) -> (Ran, String) {
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
        .env("PROTOCOLS", "ISO_15118_20_DC")
        .env("AUTH_MODES", "EIM")
        .env("LOG_LEVEL", "INFO")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    let secc = ProcessGroup {
        child: spawn_command_in_netns(&mut command, &hosts.evse.name).unwrap(),
    };
    let clock = Clock::new();
    let plant: Plant = Arc::new(Mutex::new(DcPlant::new(
        PlantConfig::default(),
        clock.now(),
    )));
    let ev = spawn_async_in(&hosts.ev.name, move || async move {
        let iface = ready("ev0").await;
        // Josev's JVM takes a few seconds to start: allow 100 requests (25 s).
        let mut sdp = SdpClientConfig::default();
        sdp.max_requests = 100;
        sdp.require_dynamic_port = true;
        let found = discover_secc(&iface, sdp, DEFAULT_SDP_HOP_LIMIT, &clock)
            .await
            .expect("Josev's SECC answers SDP");
        let conn = connect(found.address, found.tls, &ConnectOptions::default())
            .await
            .unwrap();
        let mut config = EvccConfig::default();
        config.protocols = vec![ProtocolOffer {
            protocol,
            priority: 1,
            schema_id: 1,
        }];
        config.iso20.control_mode = ControlMode::Scheduled;
        // Josev's SECC runs here without TLS; ISO 15118-20 needs TLS 1.3 otherwise.
        config.iso20.allow_without_tls = true;
        config.iso20.bpt.discharge_current = None;
        config.charge_duration = Some(Duration::from_secs(3));
        // Josev's simulated charger reports EVSEPresentVoltage = 1 V throughout (see the
        // capture): PreCharge can only match a battery that claims to be at a few volts, so
        // this car runs without battery measurements (pyPLC's light-bulb setups do the same).
        config.fallback_battery_voltage = Some(Volts(5.0));
        config.inlet_voltage_plausibility_tolerance = None;
        // Josev's Java EXI codec needs 0.2-0.5 s per message (ecosystem.md §5.1), more on a
        // loaded test machine: generous margins instead of the standard's 2 s / 0.5 s.
        config.iso20.timeouts.msg_timeout = Duration::from_secs(8);
        config.iso20.timeouts.service_detail_msg_timeout = Duration::from_secs(8);
        config.iso20.timeouts.charge_loop_msg_timeout = Duration::from_secs(4);
        let (mut io, events) = hardware(plant, clock, Side::CarWithoutBattery);
        let mut session = EvccSession::new(config, [0x02, 0, 0, 0xca, 0xfe, 0x21], clock.now());
        let outcome = tokio::time::timeout(
            StdDuration::from_secs(120),
            run_session(conn, &mut session, &clock, &mut io),
        )
        .await
        .expect("session within 120 s");
        Ran {
            outcome,
            tls: None,
            events: drain(events),
        }
    });
    let ran = join(ev);
    drop(secc);
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    (ran, log)
}

#[test]
fn our_iso20_dc_car_charges_at_josevs_charger() {
    let (ran, log) = our_car_against_josev_charger(Protocol::Iso15118_20Dc);
    assert_eq!(
        ran.outcome,
        Some(Outcome::Completed),
        "{:#?}\nJosev SECC log:\n{log}",
        ran.events
    );
    let got = received(&ran);
    assert!(got.iter().any(|(n, _)| *n == "DC_ChargeLoopRes"), "{got:?}");
    assert_eq!(got.last().map(|(n, _)| *n), Some("SessionStopRes"));
}

#[test]
fn our_iso20_dc_bpt_car_at_josevs_charger() {
    let (ran, log) = our_car_against_josev_charger(Protocol::Iso15118_20DcBpt);
    assert_eq!(
        ran.outcome,
        Some(Outcome::Completed),
        "{:#?}\nJosev SECC log:\n{log}",
        ran.events
    );
    let sent: Vec<String> = ran
        .events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Sent { name, summary } => Some(format!("{name} {summary}")),
            _ => None,
        })
        .collect();
    assert!(
        sent.iter()
            .any(|s| s.starts_with("ServiceSelectionReq ServiceID=6")),
        "{sent:?}"
    );
    assert!(received(&ran).iter().any(|(n, _)| *n == "DC_ChargeLoopRes"));
}
