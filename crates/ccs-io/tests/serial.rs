//! The serial adapter on a pseudo-terminal pair: the test holds the master end and plays the
//! device (celeron55 vehicle interface, dieter Arduino).

// Test helpers outside #[test] fns unwrap too: a panic is a test failure.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use ccs_io::serial::{SerialAdapter, SerialConfig, SerialProtocol};
use ccs_io::{AdapterIo, HardwareAdapter};
use ccs_proto::hardware::{
    ContactorRequest, CpState, HardwareCommand, HardwareEvent, HardwareFault, HardwareFaultKind,
    Measurement, MeasurementKind, Percent, Volts,
};
use serialport::{SerialPort, TTYPort};
use support::wait_for_event;

/// Reads from the device end until `needle` has appeared; returns everything read.
fn read_until(master: &mut TTYPort, needle: &str) -> String {
    master.set_timeout(Duration::from_millis(50)).unwrap();
    let start = Instant::now();
    let mut seen = String::new();
    let mut buf = [0u8; 256];
    while !seen.contains(needle) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "never saw {needle:?}, only {seen:?}"
        );
        match master.read(&mut buf) {
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("{e}"),
        }
    }
    seen
}

fn start(
    protocol: SerialProtocol,
    slave: &TTYPort,
    display: bool,
) -> (
    tokio::sync::mpsc::UnboundedSender<HardwareCommand>,
    tokio::sync::mpsc::UnboundedReceiver<ccs_io::SourcedEvent>,
) {
    let mut config = SerialConfig::new(protocol);
    config.port = slave.name().unwrap();
    config.display = display;
    config.output_period = Duration::from_millis(50);
    config.input_timeout = Some(Duration::from_millis(500));
    let (io, commands, events) = AdapterIo::detached("serial");
    tokio::spawn(SerialAdapter::new(config).run(io));
    (commands, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn celeron55_device_reports_values_and_takes_commands() {
    let (mut master, slave) = TTYPort::pair().unwrap();
    let (commands, mut events) = start(SerialProtocol::Celeron55, &slave, true);

    // The adapter opens the port asynchronously: repeat the line until it is heard.
    let mut heard = None;
    for _ in 0..100 {
        master.write_all(b"inlet_v=355\n").unwrap();
        let wait = wait_for_event(&mut events, "inlet voltage", |e| {
            matches!(e, HardwareEvent::Measurement(_))
        });
        if let Ok(ev) = tokio::time::timeout(Duration::from_millis(100), wait).await {
            heard = Some(ev);
            break;
        }
    }
    assert_eq!(
        heard,
        Some(HardwareEvent::Measurement(Measurement::InletVoltage(
            Volts(355.0)
        )))
    );
    master.write_all(b"soc_percent=77\r\ndc_link_v=3").unwrap();
    master.write_all(b"61\n").unwrap();
    for expected in [
        Measurement::Soc(Percent(77.0)),
        Measurement::BatteryVoltage(Volts(361.0)),
    ] {
        let got = wait_for_event(&mut events, "values", |e| {
            matches!(e, HardwareEvent::Measurement(m) if m.kind() != MeasurementKind::InletVoltage)
        })
        .await;
        assert_eq!(got, HardwareEvent::Measurement(expected));
    }

    commands.send(HardwareCommand::CpState(CpState::C)).unwrap();
    commands
        .send(HardwareCommand::Contactors(ContactorRequest::Closed))
        .unwrap();
    commands
        .send(HardwareCommand::SessionState("PreCharging".to_owned()))
        .unwrap();
    let seen = tokio::task::block_in_place(|| read_until(&mut master, "disp2="));
    let cp = seen.find("cp=1\n").unwrap();
    let contactor = seen.find("contactor=1\n").unwrap();
    assert!(cp < contactor, "{seen:?}");
    assert!(seen.contains("disp0=PreCharging\n"), "{seen:?}");
    drop(slave);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dieter_gets_its_output_word_periodically_and_reports_the_inlet() {
    let (mut master, slave) = TTYPort::pair().unwrap();
    let (commands, mut events) = start(SerialProtocol::Dieter, &slave, false);
    tokio::task::block_in_place(|| read_until(&mut master, "do0000\n"));
    commands.send(HardwareCommand::CpState(CpState::C)).unwrap();
    tokio::task::block_in_place(|| read_until(&mut master, "do0001\n"));
    master.write_all(b"A0=0256\n").unwrap();
    let got = wait_for_event(&mut events, "inlet", |e| {
        matches!(e, HardwareEvent::Measurement(_))
    })
    .await;
    let HardwareEvent::Measurement(Measurement::InletVoltage(Volts(v))) = got else {
        panic!("{got:?}")
    };
    assert!((v - 179.52).abs() < 0.01, "{v}");
    drop(slave);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_falls_silent_is_a_stale_input_fault() {
    let (mut master, slave) = TTYPort::pair().unwrap();
    let (_commands, mut events) = start(SerialProtocol::Celeron55, &slave, false);
    // Until the adapter hears it, then not again.
    for _ in 0..100 {
        master.write_all(b"inlet_v=355\n").unwrap();
        let wait = wait_for_event(&mut events, "inlet voltage", |e| {
            matches!(e, HardwareEvent::Measurement(_))
        });
        if tokio::time::timeout(Duration::from_millis(100), wait)
            .await
            .is_ok()
        {
            break;
        }
    }
    let fault = wait_for_event(&mut events, "stale input", |e| {
        matches!(e, HardwareEvent::Fault(_))
    })
    .await;
    assert_eq!(
        fault,
        HardwareEvent::Fault(HardwareFault {
            adapter: "serial".into(),
            kind: HardwareFaultKind::StaleInput(MeasurementKind::InletVoltage),
        })
    );
    master.write_all(b"inlet_v=356\n").unwrap();
    let cleared = wait_for_event(&mut events, "fault cleared", |e| {
        matches!(e, HardwareEvent::FaultCleared(_))
    })
    .await;
    assert!(matches!(
        cleared,
        HardwareEvent::FaultCleared(HardwareFault {
            kind: HardwareFaultKind::StaleInput(MeasurementKind::InletVoltage),
            ..
        })
    ));
}
