//! The serial adapter on a pseudo-terminal pair: the test holds the master end and plays the
//! device (celeron55 vehicle interface, dieter Arduino).

// Test helpers outside #[test] fns unwrap too: a panic is a test failure.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{Read, Write};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use ccs_io::serial::{SerialAdapter, SerialConfig, SerialProtocol};
use ccs_io::{AdapterIo, HardwareAdapter};
use ccs_proto::hardware::{
    ContactorRequest, CpState, HardwareCommand, HardwareEvent, HardwareFault, HardwareFaultKind,
    Measurement, MeasurementKind, Percent, Volts,
};
use serialport::{SerialPort, TTYPort};
use support::wait_for_event;

/// The warnings of this test binary (a display's only sign of a lost port is its warning).
fn warnings() -> Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    Arc::clone(LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .with_writer(move || Capture(Arc::clone(&sink)))
            .init();
        log
    }))
}

/// Appends what the subscriber writes to the shared log.
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

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

/// Waits for the adapter to end, then what it wrote that is still unread on `master`: already
/// in the pseudo-terminal's buffer, no waiting for a port thread still running.
async fn written_before_the_end(
    adapter: tokio::task::JoinHandle<Result<(), ccs_io::AdapterError>>,
    master: &mut TTYPort,
) -> String {
    tokio::time::timeout(Duration::from_secs(5), adapter)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    master.set_timeout(Duration::from_millis(1)).unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 256];
    while let Ok(n) = master.read(&mut buf) {
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    seen
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

/// The commands sent just before the hub closes (the safe state at exit) are on the wire when
/// the adapter has ended: the process may exit right after, taking the port thread with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_commands_are_written_before_the_adapter_ends() {
    let (mut master, slave) = TTYPort::pair().unwrap();
    let mut config = SerialConfig::new(SerialProtocol::Celeron55);
    config.port = slave.name().unwrap();
    let (io, commands, _events) = AdapterIo::detached("serial");
    let adapter = tokio::spawn(SerialAdapter::new(config).run(io));
    commands.send(HardwareCommand::CpState(CpState::C)).unwrap();
    // The port is open once the first command has come through.
    tokio::task::block_in_place(|| read_until(&mut master, "cp=1\n"));
    commands
        .send(HardwareCommand::Contactors(ContactorRequest::Open))
        .unwrap();
    commands.send(HardwareCommand::CpState(CpState::B)).unwrap();
    drop(commands);
    assert_eq!(
        written_before_the_end(adapter, &mut master).await,
        "contactor=0\ncp=0\n"
    );
    drop(slave);
}

/// The dieter hears a changed output word at once, not a period later: the relay opened by
/// the safe shutdown reaches it even when the adapter ends right after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dieter_hears_a_change_at_once_and_the_last_word_before_the_end() {
    let (mut master, slave) = TTYPort::pair().unwrap();
    let mut config = SerialConfig::new(SerialProtocol::Dieter);
    config.port = slave.name().unwrap();
    // Far longer than the test: only the first, immediate tick is periodic.
    config.output_period = Duration::from_secs(600);
    let (io, commands, _events) = AdapterIo::detached("serial");
    let adapter = tokio::spawn(SerialAdapter::new(config).run(io));
    tokio::task::block_in_place(|| read_until(&mut master, "do0000\n"));
    commands.send(HardwareCommand::CpState(CpState::C)).unwrap();
    commands
        .send(HardwareCommand::Contactors(ContactorRequest::Closed))
        .unwrap();
    tokio::task::block_in_place(|| read_until(&mut master, "do0003\n"));
    commands.send(HardwareCommand::CpState(CpState::B)).unwrap();
    commands
        .send(HardwareCommand::Contactors(ContactorRequest::Open))
        .unwrap();
    drop(commands);
    assert_eq!(
        written_before_the_end(adapter, &mut master).await,
        "do0002\ndo0000\n"
    );
    drop(slave);
}

/// The OLED display alone is no hardware charging depends on: a missing port and a port that
/// goes away are no faults (pyPLC runs on without its display); the adapter takes the
/// commands until the hub closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_lost_display_is_no_fault() {
    let dir = tempfile::tempdir().unwrap();
    let (master, slave) = TTYPort::pair().unwrap();
    for port in [
        dir.path()
            .join("no-such-tty")
            .to_string_lossy()
            .into_owned(),
        slave.name().unwrap(),
    ] {
        let mut config = SerialConfig::new(SerialProtocol::DisplayOnly);
        config.port = port;
        config.display = true;
        let (io, commands, mut events) = AdapterIo::detached("serial");
        let adapter = tokio::spawn(SerialAdapter::new(config).run(io));
        commands
            .send(HardwareCommand::SessionState("CableCheck".into()))
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!adapter.is_finished());
        commands
            .send(HardwareCommand::SessionState("PreCharge".into()))
            .unwrap();
        drop(commands);
        tokio::time::timeout(Duration::from_secs(5), adapter)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(events.try_recv().is_err(), "an event from a display");
    }
    // The same with the port hanging up while the display runs.
    let log = warnings();
    let lost_port = || {
        let text = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
        text.lines()
            .filter(|l| l.contains("serial display:") && !l.contains("no-such-tty"))
            .count()
    };
    let mut config = SerialConfig::new(SerialProtocol::DisplayOnly);
    config.port = slave.name().unwrap();
    let (io, commands, mut events) = AdapterIo::detached("serial");
    let adapter = tokio::spawn(SerialAdapter::new(config).run(io));
    let mut master = master;
    commands
        .send(HardwareCommand::SessionState("CableCheck".into()))
        .unwrap();
    tokio::task::block_in_place(|| read_until(&mut master, "lcCableCheck\n"));
    assert_eq!(lost_port(), 0, "the display was lost before the hang-up");
    drop(master);
    drop(slave);
    // The adapter noticed (its warning), whether by reading or by writing the next text.
    let start = Instant::now();
    while lost_port() == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the display adapter never noticed the hang-up"
        );
        commands
            .send(HardwareCommand::SessionState(format!(
                "PreCharge {:?}",
                start.elapsed()
            )))
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Still running without the display, taking commands.
    commands
        .send(HardwareCommand::SessionState("Charging".into()))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!adapter.is_finished(), "the display adapter ended");
    assert!(events.try_recv().is_err(), "an event from a display");
    drop(commands);
    tokio::time::timeout(Duration::from_secs(5), adapter)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
