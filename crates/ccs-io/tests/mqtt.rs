//! The MQTT adapter against a real mosquitto broker started by each test; a test client
//! plays the BMS (car mode) or the power supply (charger mode).

// Test helpers outside #[test] fns unwrap too: a panic is a test failure.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use ccs_io::mqtt::{MqttAdapter, MqttConfig, MqttRole};
use ccs_io::{AdapterIo, HardwareAdapter};
use ccs_proto::hardware::{
    Amps, ContactorRequest, CpState, HardwareCommand, HardwareEvent, HardwareFault,
    HardwareFaultKind, IsolationStatus, LockRequest, Measurement, MeasurementKind, Percent,
    PowerSupplySetpoint, VehicleBatteryReport, Volts, WattHours,
};
use support::{Broker, Relay, TestClient, wait_for_event};

fn config(role: MqttRole, port: u16, base: &str) -> MqttConfig {
    let mut c = MqttConfig::new(role);
    c.host = "127.0.0.1".to_owned();
    c.port = port;
    c.base_topic = base.to_owned();
    c.min_publish_interval = Duration::from_millis(200);
    c.reconnect_delay = Duration::from_millis(100);
    c
}

/// Starts the adapter; returns the command sender and the event receiver.
fn start(
    config: MqttConfig,
) -> (
    tokio::sync::mpsc::UnboundedSender<HardwareCommand>,
    tokio::sync::mpsc::UnboundedReceiver<ccs_io::SourcedEvent>,
) {
    let (io, commands, events) = AdapterIo::detached("mqtt");
    tokio::spawn(MqttAdapter::new(config).run(io));
    (commands, events)
}

/// Sends a state text and waits until the peer sees it: the adapter is connected and its
/// subscriptions are in place (the broker handles one client's packets in order).
async fn sync(
    commands: &tokio::sync::mpsc::UnboundedSender<HardwareCommand>,
    peer: &mut TestClient,
    text: &str,
) {
    commands
        .send(HardwareCommand::SessionState(text.to_owned()))
        .unwrap();
    peer.expect("fsm_state", text).await;
}

async fn expect_measurement(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<ccs_io::SourcedEvent>,
    expected: Measurement,
) {
    let got = wait_for_event(
        events,
        &format!("{expected:?}"),
        |e| matches!(e, HardwareEvent::Measurement(m) if m.kind() == expected.kind()),
    )
    .await;
    assert_eq!(got, HardwareEvent::Measurement(expected));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn car_mode_bms_inputs_become_measurements_and_requests_become_topics() {
    let broker = Broker::start();
    let mut bms = TestClient::connect(broker.port, "pyPlc").await;
    let (commands, mut events) = start(config(MqttRole::Vehicle, broker.port, "pyPlc"));
    sync(&commands, &mut bms, "Connecting").await;

    bms.publish("battery_voltage", "352.5").await;
    expect_measurement(&mut events, Measurement::BatteryVoltage(Volts(352.5))).await;
    bms.publish("target_voltage", "398").await;
    expect_measurement(&mut events, Measurement::TargetVoltage(Volts(398.0))).await;
    bms.publish("target_current", "125").await;
    expect_measurement(&mut events, Measurement::TargetCurrent(Amps(125.0))).await;
    bms.publish("soc", "42.5").await;
    expect_measurement(&mut events, Measurement::Soc(Percent(42.5))).await;
    bms.publish("inlet_voltage", "12").await;
    expect_measurement(&mut events, Measurement::InletVoltage(Volts(12.0))).await;
    // A charger-mode topic means nothing in car mode; a bad payload is dropped.
    bms.publish("enabled", "0").await;
    bms.publish("soc", "lots").await;
    bms.publish("soc", "43").await;
    expect_measurement(&mut events, Measurement::Soc(Percent(43.0))).await;

    for (cmd, topic, payload) in [
        (HardwareCommand::CpState(CpState::C), "cpstate", "C"),
        (
            HardwareCommand::ConnectorLock(LockRequest::Lock),
            "lock_request",
            "lock",
        ),
        (
            HardwareCommand::Contactors(ContactorRequest::Closed),
            "relay_request",
            "on",
        ),
        (
            HardwareCommand::Contactors(ContactorRequest::Open),
            "relay_request",
            "off",
        ),
        (HardwareCommand::CpState(CpState::B), "cpstate", "B"),
        (
            HardwareCommand::ConnectorLock(LockRequest::Unlock),
            "lock_request",
            "unlock",
        ),
    ] {
        commands.send(cmd).unwrap();
        assert_eq!(bms.next_on(topic).await, payload, "{topic}");
    }

    commands
        .send(HardwareCommand::ChargerLimits {
            max_voltage: Volts(500.0),
            max_current: Amps(125.0),
        })
        .unwrap();
    assert_eq!(bms.next_on("charger_max_voltage").await, "500");
    commands
        .send(HardwareCommand::ChargerPresent {
            voltage: Volts(351.2),
            current: Amps(80.0),
        })
        .unwrap();
    assert_eq!(bms.next_on("charger_current").await, "80");

    // A power-supply set-point has no topic in car mode: only the charger publishes it.
    commands
        .send(HardwareCommand::PowerSupply(PowerSupplySetpoint::OFF))
        .unwrap();
    sync(&commands, &mut bms, "End").await;

    // The JSON status carries everything at once.
    let status: serde_json::Value = loop {
        let text = bms.next_on("status").await;
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        if v["fsm_state"] == "End" {
            break v;
        }
    };
    assert_eq!(status["role"], "vehicle");
    assert_eq!(status["cpstate"], "B");
    assert_eq!(status["charger_voltage"], 351.2);
    assert_eq!(status["soc"], 43.0);
    assert_eq!(status["battery_voltage"], 352.5);
    assert!(status.get("target_voltage").is_some());
    assert!(status.get("enabled").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charger_mode_under_a_custom_base_topic() {
    let broker = Broker::start();
    let mut psu = TestClient::connect(broker.port, "site/ccs1").await;
    let (commands, mut events) = start(config(MqttRole::Charger, broker.port, "site/ccs1"));
    sync(&commands, &mut psu, "Waiting f AppHandShake").await;

    psu.publish("charger_max_voltage", "920").await;
    expect_measurement(
        &mut events,
        Measurement::PowerSupplyMaxVoltage(Volts(920.0)),
    )
    .await;
    psu.publish("charger_max_current", "200").await;
    expect_measurement(&mut events, Measurement::PowerSupplyMaxCurrent(Amps(200.0))).await;
    psu.publish("charger_voltage", "401.5").await;
    expect_measurement(&mut events, Measurement::PowerSupplyVoltage(Volts(401.5))).await;
    psu.publish("charger_current", "99").await;
    expect_measurement(&mut events, Measurement::PowerSupplyCurrent(Amps(99.0))).await;
    psu.publish("enabled", "0").await;
    expect_measurement(&mut events, Measurement::ChargingEnabled(false)).await;
    psu.publish("enabled", "1").await;
    expect_measurement(&mut events, Measurement::ChargingEnabled(true)).await;

    commands
        .send(HardwareCommand::EvccId("0a1b2c3d4e5f".to_owned()))
        .unwrap();
    assert_eq!(psu.next_on("evccid").await, "0a1b2c3d4e5f");
    commands
        .send(HardwareCommand::VehicleBattery(VehicleBatteryReport {
            soc: Percent(55.0),
            full_soc: Some(Percent(100.0)),
            energy_capacity: Some(WattHours(64_000.0)),
            energy_request: Some(WattHours(20_000.0)),
        }))
        .unwrap();
    assert_eq!(psu.next_on("battery_capacity").await, "64000");
    commands
        .send(HardwareCommand::PowerSupply(PowerSupplySetpoint {
            enabled: true,
            voltage: Volts(398.5),
            current: Amps(2.0),
        }))
        .unwrap();
    assert_eq!(psu.next_on("target_voltage").await, "398.5");
    assert_eq!(psu.next_on("target_current").await, "2");
    // CP and relay requests are car-mode outputs.
    commands.send(HardwareCommand::CpState(CpState::C)).unwrap();
    sync(&commands, &mut psu, "PreCharging").await;
    let status: serde_json::Value = loop {
        let v: serde_json::Value = serde_json::from_str(&psu.next_on("status").await).unwrap();
        if v["fsm_state"] == "PreCharging" {
            break v;
        }
    };
    assert_eq!(status["role"], "charger");
    assert_eq!(status["soc"], 55.0);
    assert_eq!(status["evccid"], "0a1b2c3d4e5f");
    assert_eq!(status["enabled"], true);
    assert!(status.get("cpstate").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_charger_whose_power_supply_is_not_on_mqtt_neither_sets_nor_reads_it() {
    let broker = Broker::start();
    let mut peer = TestClient::connect(broker.port, "pyPlc").await;
    let mut c = config(MqttRole::Charger, broker.port, "pyPlc");
    c.power_supply = false;
    let (commands, mut events) = start(c);
    sync(&commands, &mut peer, "Waiting f AppHandShake").await;
    // pyPLC publishes set-points only with charge_parameter_backend = mqtt.
    commands
        .send(HardwareCommand::PowerSupply(PowerSupplySetpoint {
            enabled: true,
            voltage: Volts(398.5),
            current: Amps(2.0),
        }))
        .unwrap();
    sync(&commands, &mut peer, "PreCharging").await;
    let unread = peer.unread_topics();
    assert!(
        !unread
            .iter()
            .any(|t| t.ends_with("/target_voltage") || t.ends_with("/target_current")),
        "{unread:?}"
    );
    // Nor does a `charger_voltage` become the output's measurement; `enabled` still counts.
    peer.publish("charger_voltage", "401.5").await;
    peer.publish("enabled", "0").await;
    let first = wait_for_event(&mut events, "a measurement", |e| {
        matches!(e, HardwareEvent::Measurement(_))
    })
    .await;
    assert_eq!(
        first,
        HardwareEvent::Measurement(Measurement::ChargingEnabled(false))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retained_isolation_verdict_is_no_measurement() {
    let broker = Broker::start();
    let mut imd = TestClient::connect(broker.port, "pyPlc").await;
    // Kept by the broker from an earlier run of the monitor, replayed when we subscribe.
    imd.client
        .publish("pyPlc/isolation", rumqttc::QoS::AtLeastOnce, true, "valid")
        .await
        .unwrap();
    assert_eq!(imd.next_on("isolation").await, "valid");
    let (commands, mut events) = start(config(MqttRole::Charger, broker.port, "pyPlc"));
    sync(&commands, &mut imd, "Waiting f AppHandShake").await;
    imd.publish("enabled", "0").await;
    imd.publish("isolation", "warning").await;
    let mut measurements = Vec::new();
    while measurements.len() < 2 {
        let e = wait_for_event(&mut events, "measurements", |e| {
            matches!(e, HardwareEvent::Measurement(_))
        })
        .await;
        measurements.push(e);
    }
    // The retained `valid` never arrived; the live messages did, in order.
    assert_eq!(
        measurements,
        [
            HardwareEvent::Measurement(Measurement::ChargingEnabled(false)),
            HardwareEvent::Measurement(Measurement::Isolation(IsolationStatus::Warning)),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_topics_are_rate_limited_latest_value_wins() {
    let broker = Broker::start();
    let mut peer = TestClient::connect(broker.port, "pyPlc").await;
    let mut c = config(MqttRole::Charger, broker.port, "pyPlc");
    c.min_publish_interval = Duration::from_secs(2);
    let (commands, _events) = start(c);
    sync(&commands, &mut peer, "first").await;
    for text in ["second", "third", "fourth"] {
        commands
            .send(HardwareCommand::SessionState(text.to_owned()))
            .unwrap();
    }
    // Held back for the interval, then only the latest goes out.
    assert_eq!(peer.next_on("fsm_state").await, "fourth");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_that_stops_updating_is_a_stale_fault_until_it_comes_back() {
    let broker = Broker::start();
    let mut bms = TestClient::connect(broker.port, "pyPlc").await;
    let mut c = config(MqttRole::Vehicle, broker.port, "pyPlc");
    c.input_timeout = Some(Duration::from_millis(500));
    let (commands, mut events) = start(c);
    sync(&commands, &mut bms, "x").await;

    bms.publish("battery_voltage", "350").await;
    expect_measurement(&mut events, Measurement::BatteryVoltage(Volts(350.0))).await;
    let fault = wait_for_event(&mut events, "stale fault", |e| {
        matches!(e, HardwareEvent::Fault(_))
    })
    .await;
    assert_eq!(
        fault,
        HardwareEvent::Fault(HardwareFault {
            adapter: "mqtt".to_owned(),
            kind: HardwareFaultKind::StaleInput(MeasurementKind::BatteryVoltage),
        })
    );
    bms.publish("battery_voltage", "351").await;
    let cleared = wait_for_event(&mut events, "fault cleared", |e| {
        matches!(e, HardwareEvent::FaultCleared(_))
    })
    .await;
    assert_eq!(
        cleared,
        HardwareEvent::FaultCleared(HardwareFault {
            adapter: "mqtt".to_owned(),
            kind: HardwareFaultKind::StaleInput(MeasurementKind::BatteryVoltage),
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_broker_is_a_fault_and_outputs_are_republished_after_reconnect() {
    let mut broker = Broker::start();
    // The adapter reaches the broker through a relay, so the test decides when it may
    // reconnect (after the test client has subscribed again).
    let relay = Relay::start(broker.port).await;
    let mut bms = TestClient::connect(broker.port, "pyPlc").await;
    let (commands, mut events) = start(config(MqttRole::Vehicle, relay.port, "pyPlc"));
    sync(&commands, &mut bms, "CurrentDemand").await;
    commands
        .send(HardwareCommand::Contactors(ContactorRequest::Closed))
        .unwrap();
    assert_eq!(bms.next_on("relay_request").await, "on");

    relay.set_open(false);
    broker.kill();
    let fault = wait_for_event(&mut events, "connection lost", |e| {
        matches!(e, HardwareEvent::Fault(_))
    })
    .await;
    assert_eq!(
        fault,
        HardwareEvent::Fault(HardwareFault {
            adapter: "mqtt".to_owned(),
            kind: HardwareFaultKind::ConnectionLost,
        })
    );
    // The session shuts down while the broker is away; the request waits for the broker.
    commands
        .send(HardwareCommand::Contactors(ContactorRequest::Open))
        .unwrap();

    drop(bms);
    broker.restart();
    let mut bms = TestClient::connect(broker.port, "pyPlc").await;
    relay.set_open(true);
    wait_for_event(&mut events, "reconnect", |e| {
        matches!(
            e,
            HardwareEvent::FaultCleared(HardwareFault {
                kind: HardwareFaultKind::ConnectionLost,
                ..
            })
        )
    })
    .await;
    // The broker forgot everything: the latest request and the state go out again.
    bms.expect("relay_request", "off").await;
    bms.expect("fsm_state", "CurrentDemand").await;
}
