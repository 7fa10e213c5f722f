//! CAN through the run path, end to end: a real car session machine against a real charger
//! session machine over TCP on `[::1]`, each driven by [`super::session::drive`] with the
//! [`Hardware`] hub that `ccsplc ev` / `ccsplc evse` build from the configuration, the CAN
//! adapters on nodes of an in-memory bus (this kernel has no CAN). The test plays the other
//! CAN nodes: the CHAdeMO vehicle's BMS, a FoccciCape display, a BMS with a user mapping.

use std::net::Ipv6Addr;
use std::time::Duration;

use ccs_io::can::{CanBus, CanFrame, MemoryCanBus};
use ccs_linux::clock::Clock;
use ccs_linux::iface::Interface;
use ccs_linux::tcp::{ConnectOptions, V2gListener, connect};
use ccs_proto::hardware::HardwareFaultKind;
use ccs_proto::session::{Outcome, SessionError};
use ccs_proto::v2gtp::DeframerConfig;
use tokio::sync::watch;

use super::display::Trace;
use super::ev::Credentials;
use super::evse::ChargerPnc;
use super::hardware::{CanBuses, Hardware, Side};
use super::record::{Recording, Target};
use super::signals::Signals;
use crate::config::{
    ChargeParameterBackend, Config, Duration as ConfigDuration, EvseEnvironment, Protocol,
};
use crate::web::{Controls, Dashboard};

/// The car's MAC (its EVCCID), as the FoccciCape's 0x67A must show it.
const CAR_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0xca, 0xfe, 0x01];

/// A whole session may take this long before the test fails.
const SESSION_LIMIT: Duration = Duration::from_secs(60);

/// How the two sessions ended.
struct Ended {
    car: Option<Outcome>,
    charger: Option<Outcome>,
}

/// `[::1]` as the interface both sides use.
fn loopback() -> Interface {
    Interface {
        name: "lo".into(),
        index: 0,
        mac: CAR_MAC,
        link_local: Ipv6Addr::LOCALHOST,
    }
}

/// One side's session as `ev` / `evse` drive it, on hardware started before the connection.
async fn run_side<S: ccs_proto::session::V2gSession>(
    conn: ccs_linux::v2g::V2gConnection,
    mut session: S,
    hardware: Hardware,
    name: &'static str,
) -> Option<Outcome> {
    let mut trace = Trace::new(name, Recording::new(Target::Off, "lo", name, name));
    let mut signals = Signals::install().unwrap();
    let mut controls = Controls::none();
    let clock = Clock::new();
    let outcome = super::session::drive(
        conn,
        &mut session,
        &clock,
        &hardware,
        &mut trace,
        &mut signals,
        &mut controls,
    )
    .await
    .expect("the session panicked");
    hardware.force_safe_state();
    hardware.stop().await;
    outcome
}

/// Runs one charging session between `car` and `charger`, each with its CAN adapters on
/// `car_can` / `charger_can`.
async fn charge(car: &Config, car_can: CanBuses, charger: &Config, charger_can: CanBuses) -> Ended {
    // In the order of `ev` / `evse`: the hardware, the connection, the session.
    let dashboard = Dashboard::disabled();
    let car_hardware = Hardware::start_on(car, Side::Vehicle, &dashboard, &car_can).unwrap();
    let charger_hardware =
        Hardware::start_on(charger, Side::Charger, &dashboard, &charger_can).unwrap();
    let iface = loopback();
    let listener = V2gListener::bind(&iface, 0, None, DeframerConfig::default()).unwrap();
    let address = listener.local_addr();
    let options = ConnectOptions::default();
    let (car_conn, charger_conn) =
        tokio::join!(connect(address, false, &options), listener.accept());
    let clock = Clock::new();
    let car_session = Credentials::load(car)
        .unwrap()
        .new_session(car, CAR_MAC, clock.now());
    let charger_session = ChargerPnc::load(charger)
        .unwrap()
        .new_session(charger, [0x5e; 8], None, clock.now())
        .unwrap();
    let both = async {
        tokio::join!(
            run_side(car_conn.unwrap(), car_session, car_hardware, "EV"),
            run_side(
                charger_conn.unwrap(),
                charger_session,
                charger_hardware,
                "EVSE"
            ),
        )
    };
    let (car, charger) = tokio::time::timeout(SESSION_LIMIT, both)
        .await
        .expect("the session did not end");
    Ended { car, charger }
}

/// A node that sends `frames` every 100 ms until `done`, and records every frame it sees.
fn play_node(
    bus: &MemoryCanBus,
    frames: Vec<CanFrame>,
    mut done: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<Vec<CanFrame>> {
    let mut node = bus.node();
    tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                _ = tick.tick() => for frame in &frames {
                    node.send(*frame).await.unwrap();
                },
                frame = node.recv() => seen.push(frame.unwrap()),
                _ = done.changed() => return seen,
            }
        }
    })
}

/// A session of `car`, whose CAN bus carries a BMS node sending `bms_frames`, against
/// `charger`, whose CAN bus carries an observer node (its FoccciCape display). Returns how
/// both ended and what the BMS node and the observer saw on their buses.
async fn charge_on_can(
    car: &Config,
    bms_frames: Vec<CanFrame>,
    charger: &Config,
) -> (Ended, Vec<CanFrame>, Vec<CanFrame>) {
    let car_bus = MemoryCanBus::new();
    let display = MemoryCanBus::new();
    let (done, done_rx) = watch::channel(false);
    let bms = play_node(&car_bus, bms_frames, done_rx.clone());
    let observer = play_node(&display, Vec::new(), done_rx);
    let ended = charge(
        car,
        CanBuses::Memory(car_bus.node()),
        charger,
        CanBuses::Memory(display.node()),
    )
    .await;
    done.send(true).unwrap();
    (ended, bms.await.unwrap(), observer.await.unwrap())
}

fn with_id(frames: &[CanFrame], id: u32) -> Vec<&[u8]> {
    frames
        .iter()
        .filter(|f| f.id() == id)
        .map(CanFrame::data)
        .collect()
}

/// A short session: the car stops charging after 2 s of CurrentDemand. The BMS's frames
/// may pause for up to 5 s on a loaded machine before they count as stale.
fn car_config() -> Config {
    let mut car = Config::default();
    car.charging.charge_duration = Some(ConfigDuration::from_secs(2));
    car.can.rx_timeout = ConfigDuration::from_secs(5);
    car
}

fn focccicape_charger() -> Config {
    let mut charger = Config::default();
    charger.hardware.evse_environment = EvseEnvironment::Focccicape;
    charger
}

/// The distinct values in order of appearance (a state shown for several cycles once).
fn progression(values: impl IntoIterator<Item = u8>) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::new();
    for v in values {
        if out.last() != Some(&v) {
            out.push(v);
        }
    }
    out
}

/// Frame data without repetitions (for readable failure messages).
fn progression_of<'a>(frames: &[&'a [u8]]) -> Vec<&'a [u8]> {
    let mut out: Vec<&[u8]> = Vec::new();
    for f in frames {
        if out.last() != Some(f) {
            out.push(f);
        }
    }
    out
}

/// Whether `wanted` appears in `seen` in this order (not necessarily adjacent).
fn in_order(seen: &[u8], wanted: &[u8]) -> bool {
    let mut rest = seen.iter();
    wanted.iter().all(|w| rest.any(|s| s == w))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chademo_car_charges_and_its_bms_sees_the_chargers_values() {
    let mut car = car_config();
    car.hardware.charge_parameter_backend = ChargeParameterBackend::Chademo;
    // The vehicle's BMS: 0x100 battery 360 V (0x0168), capacity 200; 0x102 target 380 V
    // (0x017C), 100 A, charged rate 150 of 200 = 75 %.
    let (ended, seen, status) = charge_on_can(
        &car,
        vec![
            CanFrame::standard(0x100, &[0x68, 0x01, 0, 0, 0, 0, 200, 0]).unwrap(),
            CanFrame::standard(0x102, &[0, 0x7C, 0x01, 100, 0, 0, 150, 0]).unwrap(),
        ],
        &focccicape_charger(),
    )
    .await;

    assert_eq!(ended.car, Some(Outcome::Completed));
    assert_eq!(ended.charger, Some(Outcome::Completed));
    // 0x108: the charger's limits, the lower of the configured ones (450 V = 0x01C2, 200 A)
    // and those of its simulated power supply (500 V, 125 A).
    let limits = progression_of(&with_id(&seen, 0x108));
    assert!(
        limits.contains(&&[0, 0xC2, 0x01, 125, 0, 0, 0, 0][..]),
        "0x108 never carried the limits: {limits:?}"
    );
    // 0x109: protocol 10, the present voltage near the target, current flowing, status
    // "connector locked".
    let present = progression_of(&with_id(&seen, 0x109));
    let charging: Vec<_> = present
        .iter()
        .filter(|d| d[0] == 10 && d[3] > 0 && d[5] == 4)
        .collect();
    assert!(
        !charging.is_empty(),
        "0x109 never showed current: {present:?}"
    );
    assert!(
        charging
            .iter()
            .any(|d| u16::from_le_bytes([d[1], d[2]]).abs_diff(380) <= 10),
        "0x109 never showed a voltage near the BMS's target: {charging:?}"
    );
    // The SoC the BMS sent reached the charger (its VehicleBattery, shown in 0x678 byte 1),
    // and the charger worked to the car's target (0x679 U_target, I_target).
    let frames_678 = with_id(&status, 0x678);
    assert!(
        frames_678.iter().any(|d| d[0] == 13 && d[1] == 75),
        "the charger never showed SoC 75 % in CurrentDemand: {:?}",
        progression(frames_678.iter().map(|d| d[1]))
    );
    assert!(
        with_id(&status, 0x679)
            .iter()
            .any(|d| u16::from_le_bytes([d[0], d[1]]) == 380
                && u16::from_le_bytes([d[2], d[3]]) == 100),
        "the power supply never got the BMS's 380 V / 100 A"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_focccicape_charger_shows_the_session_on_its_status_frames() {
    // ISO 15118-2 this time; the car's BMS (CHAdeMO, for values the test chooses) asks for
    // 400 V (0x0190) and 50 A, its battery has 390 V (0x0186), charged rate 90 of 200 = 45 %.
    let mut car = car_config();
    car.session.protocols = vec![Protocol::Iso2];
    car.hardware.charge_parameter_backend = ChargeParameterBackend::Chademo;
    let mut charger = focccicape_charger();
    charger.session.protocols = vec![Protocol::Iso2];
    let (ended, _, status) = charge_on_can(
        &car,
        vec![
            CanFrame::standard(0x100, &[0x86, 0x01, 0, 0, 0, 0, 200, 0]).unwrap(),
            CanFrame::standard(0x102, &[0, 0x90, 0x01, 50, 0, 0, 90, 0]).unwrap(),
        ],
        &charger,
    )
    .await;

    assert_eq!(ended.car, Some(Outcome::Completed));
    assert_eq!(ended.charger, Some(Outcome::Completed));
    let frames_678 = with_id(&status, 0x678);
    assert!(
        frames_678
            .iter()
            .all(|d| d[2..] == [0x22, 0x33, 0x44, 0x55, 0x66, 0x77])
    );
    let infonr = progression(frames_678.iter().map(|d| d[0]));
    // ChargeParameterDiscovery 8, CableCheck 9, PreCharging 10, CurrentDemand 13,
    // PowerDelivery 7 (WeldingDetection and SessionStop may be over within one cycle).
    assert!(in_order(&infonr, &[8, 9, 10, 13, 7]), "INFONR: {infonr:?}");
    let soc = progression(frames_678.iter().map(|d| d[1]));
    assert!(soc.contains(&45), "SoC: {soc:?}");
    // 0x679 in CurrentDemand: the set-point is the car's target, the output has followed.
    let in_current_demand: Vec<_> = status
        .iter()
        .filter(|f| f.id() == 0x678 || f.id() == 0x679)
        .scan(0u8, |state, f| {
            if f.id() == 0x678 {
                *state = f.data()[0];
            }
            Some((*state, f))
        })
        .filter(|(state, f)| *state == 13 && f.id() == 0x679)
        .map(|(_, f)| {
            let d = f.data();
            let word = |i: usize| u16::from_le_bytes([d[i], d[i + 1]]);
            ((word(0), word(2)), (word(4), word(6)))
        })
        .collect();
    assert!(
        in_current_demand
            .iter()
            .any(|(target, _)| *target == (400, 50)),
        "0x679 set-points in CurrentDemand: {in_current_demand:?}"
    );
    assert!(
        in_current_demand
            .iter()
            .any(|(_, (u, i))| u.abs_diff(400) <= 10 && *i > 0),
        "0x679 present values in CurrentDemand: {in_current_demand:?}"
    );
    // 0x67A: the car's MAC (its EVCCID) and no log index.
    let mac_frames = with_id(&status, 0x67A);
    assert!(
        mac_frames.contains(&&[0x02, 0x00, 0x00, 0xca, 0xfe, 0x01, 0xFF, 0xFF][..]),
        "0x67A: {mac_frames:?}"
    );
}

/// A car whose BMS speaks a user-defined mapping, loaded from a TOML file as `ccsplc ev`
/// loads it.
const MAPPED_CAR: &str = r#"
[charging]
charge_duration = "2s"

[can]
mapping_period = "50ms"
mapping_input_timeout = "5s"

[can_inputs]
battery_voltage = "id=0x356 offset=0 length=2 scale=0.1"
target_voltage = "id=0x351 offset=0 length=2 endian=big scale=0.1"
target_current = "id=0x351 offset=2 length=2 endian=big scale=0.1"
soc = "id=0x355 offset=0 length=1"

[can_outputs]
cp_state_c = "id=0x370 offset=0 length=1"
contactors_closed = "id=0x370 offset=1 length=1"
charger_voltage = "id=0x372 offset=0 length=2 scale=0.1"
charger_current = "id=0x372 offset=2 length=2 scale=0.1"
info_number = "id=0x373 offset=0 length=1"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_car_with_a_user_mapping_charges_on_its_bms_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("car.toml");
    std::fs::write(&path, MAPPED_CAR).unwrap();
    let car = Config::load(Some(&path)).unwrap().config;
    // Battery 385.0 V (LE 3850 = 0x0F0A); target 395.0 V and 80.0 A big-endian (3950 =
    // 0x0F6E, 800 = 0x0320); SoC 60 %.
    let (ended, seen, status) = charge_on_can(
        &car,
        vec![
            CanFrame::standard(0x356, &[0x0A, 0x0F]).unwrap(),
            CanFrame::standard(0x351, &[0x0F, 0x6E, 0x03, 0x20]).unwrap(),
            CanFrame::standard(0x355, &[60]).unwrap(),
        ],
        &focccicape_charger(),
    )
    .await;

    assert_eq!(ended.car, Some(Outcome::Completed));
    assert_eq!(ended.charger, Some(Outcome::Completed));
    // The outputs: CP state C and contactors closed while charging, both off at the end.
    let switches = progression_of(&with_id(&seen, 0x370));
    assert!(switches.contains(&&[1, 1][..]), "0x370: {switches:?}");
    assert_eq!(switches.last(), Some(&&[0, 0][..]), "0x370: {switches:?}");
    let present: Vec<(u16, u16)> = with_id(&seen, 0x372)
        .iter()
        .map(|d| {
            (
                u16::from_le_bytes([d[0], d[1]]),
                u16::from_le_bytes([d[2], d[3]]),
            )
        })
        .collect();
    assert!(
        present
            .iter()
            .any(|&(u, i)| u.abs_diff(3950) <= 100 && i > 0),
        "0x372 never showed current near 395 V: {:?}",
        progression(present.iter().map(|&(u, _)| (u / 10).min(255) as u8))
    );
    let infonr = progression(with_id(&seen, 0x373).iter().map(|d| d[0]));
    assert!(in_order(&infonr, &[9, 10, 13]), "0x373: {infonr:?}");
    // The mapped SoC and targets reached the charger.
    assert!(with_id(&status, 0x678).iter().any(|d| d[1] == 60));
    assert!(
        with_id(&status, 0x679)
            .iter()
            .any(|d| u16::from_le_bytes([d[0], d[1]]) == 395
                && u16::from_le_bytes([d[2], d[3]]) == 80),
        "the power supply never got the mapped 395 V / 80 A"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chademo_bms_that_falls_silent_stops_the_charge_safely() {
    let mut car = car_config();
    // Long enough that only the silent BMS can end this session.
    car.charging.charge_duration = Some(ConfigDuration::from_secs(30));
    car.can.rx_timeout = ConfigDuration::from_secs(2);
    car.hardware.charge_parameter_backend = ChargeParameterBackend::Chademo;
    let chademo = MemoryCanBus::new();
    let mut bms = chademo.node();
    let (done, mut done_rx) = watch::channel(false);
    // The BMS goes silent once current flows (0x109 byte 3).
    let silent_bms = tokio::spawn(async move {
        let frames = [
            CanFrame::standard(0x100, &[0x68, 0x01, 0, 0, 0, 0, 200, 0]).unwrap(),
            CanFrame::standard(0x102, &[0, 0x7C, 0x01, 100, 0, 0, 150, 0]).unwrap(),
        ];
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let mut silent = false;
        loop {
            tokio::select! {
                _ = tick.tick(), if !silent => for frame in &frames {
                    bms.send(*frame).await.unwrap();
                },
                frame = bms.recv() => {
                    let frame = frame.unwrap();
                    silent |= frame.id() == 0x109 && frame.data()[3] > 0;
                }
                _ = done_rx.changed() => return silent,
            }
        }
    });
    let ended = charge(
        &car,
        CanBuses::Memory(chademo.node()),
        &Config::default(),
        CanBuses::SocketCan,
    )
    .await;
    done.send(true).unwrap();
    assert!(silent_bms.await.unwrap(), "current never flowed");
    let Some(Outcome::Failed(SessionError::Hardware(fault))) = &ended.car else {
        panic!("the car went on without its BMS: {:?}", ended.car);
    };
    assert_eq!(fault.adapter, "can-chademo");
    assert!(
        matches!(fault.kind, HardwareFaultKind::StaleInput(_)),
        "{fault}"
    );
}

/// A charger with its power supply on a user-defined CAN mapping: set-points out on 0x430
/// (enabled, voltage, current), the present voltage in on 0x420.
const CAN_POWER_SUPPLY_CHARGER: &str = r#"
[charging]
isolation_monitor = false

[can]
mapping_period = "20ms"

[can_inputs]
power_supply_voltage = "id=0x420 offset=0 length=2"

[can_outputs]
power_supply_enabled = "id=0x430 offset=0 length=1"
power_supply_voltage = "id=0x430 offset=1 length=2"
power_supply_current = "id=0x430 offset=3 length=2"
"#;

/// A charger session with a bug: it switches the power supply on (400 V, 100 A) when the
/// connection comes up and panics on the first present-voltage reading, as a session could
/// on data from outside.
#[derive(Debug, Default)]
struct PanicsOnAReading {
    commands: Vec<ccs_proto::hardware::HardwareCommand>,
}

impl ccs_proto::session::V2gSession for PanicsOnAReading {
    fn role(&self) -> ccs_proto::session::Role {
        ccs_proto::session::Role::Secc
    }
    fn handle_connected(&mut self, _now: ccs_proto::time::Instant) {
        use ccs_proto::hardware::{Amps, HardwareCommand, PowerSupplySetpoint, Volts};
        self.commands
            .push(HardwareCommand::PowerSupply(PowerSupplySetpoint {
                enabled: true,
                voltage: Volts(400.0),
                current: Amps(100.0),
            }));
    }
    fn handle_message(
        &mut self,
        _now: ccs_proto::time::Instant,
        _payload_type: ccs_proto::v2gtp::PayloadType,
        _payload: &[u8],
    ) {
    }
    fn handle_disconnected(
        &mut self,
        _now: ccs_proto::time::Instant,
        _reason: ccs_proto::session::Disconnect,
    ) {
    }
    fn handle_measurement(
        &mut self,
        _now: ccs_proto::time::Instant,
        measurement: ccs_proto::hardware::Measurement,
    ) {
        if let ccs_proto::hardware::Measurement::PowerSupplyVoltage(_) = measurement {
            panic!("injected: a reading the session cannot handle");
        }
    }
    fn handle_hardware_fault(
        &mut self,
        _now: ccs_proto::time::Instant,
        _fault: ccs_proto::hardware::HardwareFault,
    ) {
    }
    fn handle_stop_request(&mut self, _now: ccs_proto::time::Instant) {}
    fn handle_timeout(&mut self, _now: ccs_proto::time::Instant) {}
    fn poll_transmit(&mut self) -> Option<ccs_proto::session::Transmit> {
        None
    }
    fn poll_command(&mut self) -> Option<ccs_proto::hardware::HardwareCommand> {
        self.commands.pop()
    }
    fn poll_event(&mut self) -> Option<ccs_proto::session::SessionEvent> {
        None
    }
    fn poll_timeout(&self) -> Option<ccs_proto::time::Instant> {
        None
    }
    fn is_finished(&self) -> bool {
        false
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_session_leaves_the_power_supply_off() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("charger.toml");
    std::fs::write(&path, CAN_POWER_SUPPLY_CHARGER).unwrap();
    let charger = Config::load(Some(&path)).unwrap().config;
    let bus = MemoryCanBus::new();
    // The power supply: reports its output (0x420) once it has been switched on, which is
    // the reading the session panics on; records every frame.
    let mut psu = bus.node();
    let (done, mut done_rx) = watch::channel(false);
    let psu = tokio::spawn(async move {
        let mut seen: Vec<CanFrame> = Vec::new();
        loop {
            tokio::select! {
                frame = psu.recv() => {
                    let frame = frame.unwrap();
                    if frame.id() == 0x430 && frame.data()[0] == 1 {
                        let reading = CanFrame::standard(0x420, &400u16.to_le_bytes()).unwrap();
                        psu.send(reading).await.unwrap();
                    }
                    seen.push(frame);
                }
                _ = done_rx.changed() => return seen,
            }
        }
    });

    let dashboard = Dashboard::disabled();
    let hardware = Hardware::start_on(
        &charger,
        Side::Charger,
        &dashboard,
        &CanBuses::Memory(bus.node()),
    )
    .unwrap();
    let listener = V2gListener::bind(&loopback(), 0, None, DeframerConfig::default()).unwrap();
    let address = listener.local_addr();
    let options = ConnectOptions::default();
    let (car_conn, charger_conn) =
        tokio::join!(connect(address, false, &options), listener.accept());
    let _car_conn = car_conn.unwrap();
    let mut trace = Trace::new("EVSE", Recording::new(Target::Off, "lo", "EVSE", "EVSE"));
    let mut session = PanicsOnAReading::default();
    let driven = tokio::time::timeout(
        SESSION_LIMIT,
        super::session::drive(
            charger_conn.unwrap(),
            &mut session,
            &Clock::new(),
            &hardware,
            &mut trace,
            &mut Signals::install().unwrap(),
            &mut Controls::none(),
        ),
    )
    .await
    .expect("the session did not end");
    // The panic came back as an error, not as an unwinding that skips the hardware.
    let e = driven.expect_err("the session did not panic");
    assert!(e.0.contains("injected"), "{e}");
    // What `evse` does next: stop the hub, which lets the adapters put out what they were
    // sent. No safe state is sent here: it must come from `drive`.
    hardware.stop().await;
    done.send(true).unwrap();
    let seen = psu.await.unwrap();
    let set_points = progression_of(&with_id(&seen, 0x430));
    // On at 400 V / 100 A (proof that the supply was on), then off at 0 V / 0 A.
    let on: &[u8] = &[1, 0x90, 0x01, 0x64, 0x00];
    assert!(set_points.contains(&on), "0x430: {set_points:?}");
    assert_eq!(
        set_points.last(),
        Some(&&[0, 0, 0, 0, 0][..]),
        "0x430: {set_points:?}"
    );
}

/// A bug outside the session, e.g. in the runner.
fn injected_bug() -> anyhow::Result<bool> {
    panic!("injected: a bug outside the session")
}

#[test]
fn a_panic_past_the_hardware_leaves_the_power_supply_off() {
    use ccs_proto::hardware::{Amps, HardwareCommand, PowerSupplySetpoint, Volts};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("charger.toml");
    std::fs::write(&path, CAN_POWER_SUPPLY_CHARGER).unwrap();
    let charger = Config::load(Some(&path)).unwrap().config;
    let rt = super::runtime().unwrap();
    let bus = MemoryCanBus::new();
    let mut psu = bus.node();
    let (done, mut done_rx) = watch::channel(false);
    let (on_tx, mut on_rx) = watch::channel(false);
    // The power supply: says when it has been switched on; records every frame.
    let psu = rt.spawn(async move {
        let mut seen: Vec<CanFrame> = Vec::new();
        loop {
            tokio::select! {
                frame = psu.recv() => {
                    let frame = frame.unwrap();
                    if frame.id() == 0x430 && frame.data()[0] == 1 {
                        on_tx.send_replace(true);
                    }
                    seen.push(frame);
                }
                _ = done_rx.changed() => return seen,
            }
        }
    });
    // What `evse` runs: the hub, a set-point, then a panic that unwinds out of `block_on`
    // past the hardware (no `stop`, no `force_safe_state`).
    let result = super::block_on_safely(&rt, async {
        let dashboard = Dashboard::disabled();
        let hardware = Hardware::start_on(
            &charger,
            Side::Charger,
            &dashboard,
            &CanBuses::Memory(bus.node()),
        )?;
        hardware
            .commands()
            .send(HardwareCommand::PowerSupply(PowerSupplySetpoint {
                enabled: true,
                voltage: Volts(400.0),
                current: Amps(100.0),
            }))?;
        on_rx.wait_for(|on| *on).await?;
        injected_bug()
    });
    assert!(result.is_err(), "the panic did not fail the command");
    done.send(true).unwrap();
    let seen = rt.block_on(psu).unwrap();
    let set_points = progression_of(&with_id(&seen, 0x430));
    let on: &[u8] = &[1, 0x90, 0x01, 0x64, 0x00];
    assert!(set_points.contains(&on), "0x430: {set_points:?}");
    assert_eq!(
        set_points.last(),
        Some(&&[0, 0, 0, 0, 0][..]),
        "0x430: {set_points:?}"
    );
}
