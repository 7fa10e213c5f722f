//! Whole charging sessions of `ccsplc ev` with pyPLC's serial devices: the car and the charger
//! run as processes in two network namespaces joined by a veth pair (`--no-slac`), the car
//! with its serial port on the slave end of a pseudo-terminal pair, the test on the master
//! end playing the device (reference/pyplc-behaviour.md §11.1):
//!
//! - celeron55's device reports the battery (`dc_link_v`), the SoC, the current limit, the
//!   contactors' confirmation and the inlet voltage every 100 ms, and takes `cp=`,
//!   `contactor=`, `lock`/`unlock` and the display lines `disp0..2=`;
//! - the dieter Arduino gets its output word `do000<bits>` on each change and periodically
//!   (bit 0 CP state C, bit 1 power relay) and answers the inlet voltage as `A0=nnnn`, with
//!   the OLED display's `lc` lines on the same port.
//!
//! The inlet follows the charger's output as the charger's trace shows it, from the first
//! CurrentDemandRes on, and falls to 0 V when the charger switches its power supply off. Before that the test cannot follow the simulated charger closely
//! enough: its voltage jumps with each PreChargeReq, and a reading one message late would
//! (rightly) fail ccs32clara's 20 V plausibility check; pyPLC's default ends PreCharge on
//! EVSEPresentVoltage, which is what these sessions use.
//!
//! The charger shows its session on the OLED display when `display_via_serial` is set, as
//! pyPLC does in both modes.
//!
//! Checked: the session completes, the device's values reach the car's requests, the
//! commands come in the session's order and end in the safe state (CP state B, contactors
//! open, unlocked); a device that falls silent and a port that goes away stop the session
//! safely with the reason, and an inlet reading that disagrees with the charger stops it.
//!
//! Needs root (namespaces).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{
    SESSION_LIMIT, TwoHosts, assert_both_complete, outputs, spawn_ev, spawn_evse, wait_both,
};
use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use serialport::{SerialPort, TTYPort};

/// The device's protocol, as the test plays it.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Kind {
    Celeron55,
    Dieter,
    /// Only the OLED display: it listens and sends nothing.
    Display,
}

/// The device at the master end of a pseudo-terminal pair.
struct Device {
    /// Every line the car sent, in order.
    heard: Arc<Mutex<Vec<String>>>,
    /// The device stops sending (it still listens).
    silent: Arc<AtomicBool>,
    /// The device closes the master end: the port goes away.
    hang_up: Arc<AtomicBool>,
    /// The device measures 0 V at the inlet from now on (a broken measurement).
    inlet_dead: Arc<AtomicBool>,
    /// The device reads what is left on the line and stops (see [`Device::finish`]).
    drain: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// The slave end, held open so that the master end works before the car opens it.
    _slave: TTYPort,
    /// The slave's path, the car's `[serial] port`.
    port: String,
}

/// What the device plays: its values and where it reads the charger's output.
struct Play {
    kind: Kind,
    /// The charger's output file: the inlet follows the voltage of its CurrentDemandRes.
    charger_trace: PathBuf,
}

impl Device {
    fn start(play: Play) -> Self {
        let (master, slave) = TTYPort::pair().unwrap();
        // The car and the charger must not inherit the master end: closing it would then not
        // hang up the port.
        for fd in [master.as_raw_fd(), slave.as_raw_fd()] {
            fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).unwrap();
        }
        let port = slave.name().unwrap();
        let heard = Arc::new(Mutex::new(Vec::new()));
        let silent = Arc::new(AtomicBool::new(false));
        let hang_up = Arc::new(AtomicBool::new(false));
        let inlet_dead = Arc::new(AtomicBool::new(false));
        let drain = Arc::new(AtomicBool::new(false));
        let thread = {
            let flags = Flags {
                silent: Arc::clone(&silent),
                hang_up: Arc::clone(&hang_up),
                inlet_dead: Arc::clone(&inlet_dead),
                drain: Arc::clone(&drain),
            };
            let heard = Arc::clone(&heard);
            std::thread::spawn(move || run_device(master, &play, &heard, &flags))
        };
        Self {
            heard,
            silent,
            hang_up,
            inlet_dead,
            drain,
            thread: Some(thread),
            _slave: slave,
            port,
        }
    }

    fn heard(&self) -> Vec<String> {
        self.heard.lock().unwrap().clone()
    }

    /// Everything the car sent, once the processes have ended: the device reads the lines
    /// still waiting on the line (the last batch, the safe state at exit among them) and
    /// stops; only then is the list complete.
    fn finish(&mut self) -> Vec<String> {
        self.drain.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
        self.heard()
    }

    /// Waits until the car has sent `line`.
    fn wait_for_line(&self, line: &str, context: &dyn Fn() -> String) {
        let end = Instant::now() + SESSION_LIMIT;
        while !self.heard().iter().any(|l| l == line) {
            assert!(
                Instant::now() < end,
                "the car never sent {line:?}; heard {:?}\n{}",
                self.heard(),
                context()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Closes the master end (the USB adapter is pulled).
    fn unplug(&mut self) {
        self.hang_up.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        self.hang_up.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The voltage at the car's inlet as the charger's trace shows it: the present voltage of its
/// latest `-> CurrentDemandRes ... U=<n>V` line, and 0 V once the charger has switched its
/// power supply off after that (a real charger discharges its output below 60 V within about
/// a second, IEC 61851-23; the car unlocks only then).
fn charger_output(trace: &Path) -> Option<f32> {
    let text = std::fs::read_to_string(trace).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    let last_demand = lines
        .iter()
        .rposition(|l| l.contains("-> CurrentDemandRes"))?;
    if lines[last_demand..]
        .iter()
        .any(|l| l.contains("power supply off"))
    {
        return Some(0.0);
    }
    let u = lines[last_demand].split(" U=").nth(1)?.split('V').next()?;
    u.parse().ok()
}

/// What the test switches in the device while it runs (see [`Device`]).
struct Flags {
    silent: Arc<AtomicBool>,
    hang_up: Arc<AtomicBool>,
    inlet_dead: Arc<AtomicBool>,
    drain: Arc<AtomicBool>,
}

/// The device's loop: reads the car's lines, answers every 100 ms.
fn run_device(mut master: TTYPort, play: &Play, heard: &Mutex<Vec<String>>, flags: &Flags) {
    master.set_timeout(Duration::from_millis(20)).unwrap();
    let mut partial = String::new();
    let mut buf = [0u8; 256];
    let mut contactors_closed = false;
    let mut soc: f32 = 40.0;
    let mut next_report = Instant::now();
    while !flags.hang_up.load(Ordering::SeqCst) {
        // An error is a timeout (nothing to read) or no slave open yet.
        let read = match master.read(&mut buf) {
            Ok(n) => {
                partial.push_str(&String::from_utf8_lossy(&buf[..n]));
                n
            }
            Err(_) => 0,
        };
        while let Some(end) = partial.find('\n') {
            let line: String = partial.drain(..=end).collect();
            let line = line.trim_end().to_owned();
            match (play.kind, line.as_str()) {
                (Kind::Celeron55, "contactor=1") => contactors_closed = true,
                (Kind::Celeron55, "contactor=0") => contactors_closed = false,
                (Kind::Dieter, word) if word.starts_with("do000") => {
                    let bits: u8 = word[5..].parse().unwrap_or(0);
                    contactors_closed = bits & 2 != 0;
                }
                _ => {}
            }
            heard.lock().unwrap().push(line);
        }
        if flags.drain.load(Ordering::SeqCst) {
            if read == 0 {
                // The processes have ended and nothing is left on the line.
                return;
            }
            continue;
        }
        if Instant::now() < next_report || flags.silent.load(Ordering::SeqCst) {
            continue;
        }
        next_report = Instant::now() + Duration::from_millis(100);
        if contactors_closed {
            soc = (soc + 0.2).min(100.0);
        }
        let inlet = if flags.inlet_dead.load(Ordering::SeqCst) {
            Some(0.0)
        } else {
            charger_output(&play.charger_trace)
        };
        let mut report = String::new();
        match play.kind {
            Kind::Celeron55 => {
                if let Some(u) = inlet {
                    report.push_str(&format!("inlet_v={u:.0}\n"));
                }
                report.push_str(&format!(
                    "dc_link_v=350\nmax_charge_a=50\nsoc_percent={soc:.0}\n\
                     contactor_confirmed={}\nplugged_in=1\n",
                    u8::from(contactors_closed)
                ));
            }
            Kind::Dieter => {
                if let Some(u) = inlet {
                    // U = n / 1024 · 1.08 · 6250 / 9.4 (pyPLC's dieter scaling).
                    let n = (u / (1.08 * 6250.0 / 9.4) * 1024.0).round() as u32;
                    report.push_str(&format!("A0={n:04}\n"));
                }
            }
            Kind::Display => {}
        }
        // A failed write (the car has not opened the port yet) is tried again next round.
        let _ = master.write_all(report.as_bytes());
    }
}

/// The car's configuration for `device` on `port`, plus `serial` TOML in `[serial]` and the
/// `protocols` the car offers (TOML array).
fn car_config(dir: &Path, device: &str, port: &str, serial: &str, protocols: &str) -> PathBuf {
    let path = dir.join("car.toml");
    std::fs::write(
        &path,
        format!(
            "[hardware]\ndigital_output_device = \"{device}\"\nanalog_input_device = \"{device}\"\n\
             display_via_serial = true\n\n[serial]\nport = \"{port}\"\n{serial}\n\
             [charging]\nbattery_voltage = 350.0\ntarget_voltage = 360.0\n\n\
             [session]\nprotocols = {protocols}\n"
        ),
    )
    .unwrap();
    path
}

/// The commands among `heard` that drive the actuators (not the display lines).
fn actuators(heard: &[String]) -> Vec<&str> {
    heard
        .iter()
        .map(String::as_str)
        .filter(|l| {
            l.starts_with("cp=") || l.starts_with("contactor=") || *l == "lock" || *l == "unlock"
        })
        .collect()
}

fn position(heard: &[String], pred: impl Fn(&str) -> bool, what: &str) -> usize {
    heard
        .iter()
        .position(|l| pred(l))
        .unwrap_or_else(|| panic!("no {what} in {heard:?}"))
}

/// The dieter's output words (`do000N`) as they changed, repetitions folded.
fn dieter_output_words(heard: &[String]) -> Vec<&str> {
    let mut words: Vec<&str> = heard
        .iter()
        .map(String::as_str)
        .filter(|l| l.starts_with("do000"))
        .collect();
    words.dedup();
    words
}

/// The car offers DIN 70121 only.
const DIN: &str = "[\"din\"]";

/// A car with celeron55's device in a DIN 70121 session.
#[test]
fn car_with_a_celeron55_device_charges_and_ends_safe() {
    celeron55_session(DIN, "DIN 70121");
}

/// The same in an ISO 15118-2 session.
#[test]
fn car_with_a_celeron55_device_charges_and_ends_safe_in_iso15118_2() {
    celeron55_session("[\"iso2\"]", "ISO 15118-2");
}

/// A car whose `device` (pyPlc.ini's name for `kind`) is played on the pseudo-terminal,
/// offering `protocols`, charging for 3 s against the simulated charger; both must complete.
/// Returns the car's output, what the device heard, and both processes' output with the
/// device's lines (for failure messages).
fn completed_car_session(
    kind: Kind,
    device: &str,
    protocols: &str,
) -> (String, Vec<String>, String) {
    let hosts = TwoHosts::new().with_veth();
    let dir = tempfile::tempdir().unwrap();
    let mut player = Device::start(Play {
        kind,
        charger_trace: dir.path().join("evse.out"),
    });
    let config = car_config(dir.path(), device, &player.port, "", protocols);
    let mut evse = spawn_evse(&hosts, dir.path(), None, &[]);
    let mut ev = spawn_ev(
        &hosts,
        dir.path(),
        Some(&config),
        &["--charge-seconds", "3"],
    );
    let both = assert_both_complete(&mut ev, &mut evse, SESSION_LIMIT);
    let heard = player.finish();
    let both = format!("{both}\n--- serial:\n{heard:?}");
    (ev.output(), heard, both)
}

/// A car with celeron55's device offering `protocols`, agreeing on `agreed`: its values
/// reach the requests, the commands follow the session, the OLED lines show it, and the end
/// is the safe state.
fn celeron55_session(protocols: &str, agreed: &str) {
    let (ev_out, heard, both) =
        completed_car_session(Kind::Celeron55, "celeron55device", protocols);
    assert!(ev_out.contains("hardware: serial-celeron55"), "{both}");
    assert!(ev_out.contains(&format!("protocol {agreed}")), "{both}");
    // The device's values in the car's requests: the battery as the PreCharge target, the
    // SoC, the current limit.
    assert!(ev_out.contains("-> PreChargeReq U=350V"), "{both}");
    assert!(ev_out.contains("SoC=40%"), "{both}");
    assert!(
        ev_out.contains("-> CurrentDemandReq U=360V I=50A"),
        "{both}"
    );
    // The SoC rose while the device's contactors were closed.
    assert!(
        ev_out.contains("SoC=41%") || ev_out.contains("SoC=42%"),
        "{both}"
    );

    // In the session's order: lock and CP state C before the contactors close, the
    // contactors close after PreCharge and before CurrentDemand (as the display shows it).
    let lock = position(&heard, |l| l == "lock", "lock");
    let cp_c = position(&heard, |l| l == "cp=1", "cp=1");
    let closed = position(&heard, |l| l == "contactor=1", "contactor=1");
    let precharge = position(
        &heard,
        |l| l.starts_with("disp0=PreCharg"),
        "PreCharge display",
    );
    let charging = position(&heard, |l| l == "disp0=Charging", "Charging display");
    assert!(lock < closed && cp_c < closed, "{heard:?}");
    assert!(precharge < closed && closed < charging, "{heard:?}");
    // The end: CP state B, contactors open, unlock, in that order; after that only the
    // safe state again (the forced safe state at exit repeats it), never a closing command.
    let acts = actuators(&heard);
    let last_close = acts.iter().rposition(|a| *a == "contactor=1").unwrap();
    let tail = &acts[last_close + 1..];
    assert!(
        tail.starts_with(&["cp=0", "contactor=0", "unlock"]),
        "the end is not the safe shutdown order: {acts:?}"
    );
    assert!(
        tail[3..]
            .iter()
            .all(|a| ["cp=0", "contactor=0"].contains(a)),
        "{acts:?}"
    );
    // The OLED display lines (celeron55 form): the session's end and the charger's values.
    for line in ["disp0=SessionStop", "disp0=Finished", "disp1=360V 50A"] {
        assert!(heard.iter().any(|l| l == line), "no {line}: {heard:?}");
    }
}

/// A car with the dieter Arduino: the output word follows the session (CP state C, then the
/// relay, then back to 0), the inlet voltage arrives as `A0=`, the OLED shows the session.
#[test]
fn car_with_a_dieter_charges_and_ends_with_its_outputs_off() {
    let (ev_out, heard, both) = completed_car_session(Kind::Dieter, "dieter", DIN);
    assert!(ev_out.contains("hardware: serial-dieter"), "{both}");
    // pyPLC's configured battery voltage is the PreCharge target (the dieter measures none).
    assert!(ev_out.contains("-> PreChargeReq U=350V"), "{both}");
    assert!(ev_out.contains("-> CurrentDemandReq U=360V"), "{both}");

    // The output words as they changed (each change is sent at once, repetitions every
    // 480 ms): off, CP state C, + relay; at the end CP state B first, then the relay opens.
    let words = dieter_output_words(&heard);
    assert_eq!(
        words,
        ["do0000", "do0001", "do0003", "do0002", "do0000"],
        "{both}"
    );
    // The relay closes after PreCharge and before charging starts, as the display shows it.
    let precharge = position(&heard, |l| l == "lcPreCharge", "PreCharge display");
    let relay = position(&heard, |l| l == "do0003", "do0003");
    let charging = position(&heard, |l| l == "lcCharging", "Charging display");
    assert!(precharge < relay && relay < charging, "{heard:?}");
}

/// The device falls silent while charging: the stale-input watch stops the session safely.
#[test]
fn a_silent_serial_device_stops_the_car_safely() {
    let hosts = TwoHosts::new().with_veth();
    let dir = tempfile::tempdir().unwrap();
    let mut device = Device::start(Play {
        kind: Kind::Celeron55,
        charger_trace: dir.path().join("evse.out"),
    });
    let config = car_config(
        dir.path(),
        "celeron55device",
        &device.port,
        "input_timeout = \"1s\"\n",
        DIN,
    );
    let mut evse = spawn_evse(&hosts, dir.path(), None, &[]);
    // No --charge-seconds: the car charges until something stops it.
    let mut ev = spawn_ev(&hosts, dir.path(), Some(&config), &[]);
    let context = outputs(&ev, &evse);
    device.wait_for_line("contactor=1", &context);
    device.wait_for_line("disp0=Charging", &context);
    let heard_before = device.heard().len();
    device.silent.store(true, Ordering::SeqCst);
    let ended = wait_both(&mut ev, &mut evse, Duration::from_secs(30));
    let heard = device.finish();
    let out = format!("{}\n--- serial:\n{heard:?}", ended.text);
    assert_eq!(
        ended.ev,
        Some(1),
        "the car did not fail the session:\n{out}"
    );
    assert!(ended.evse.is_some(), "the charger did not end:\n{out}");
    assert!(
        out.contains("serial-celeron55: input") && out.contains("not updated in time"),
        "no clear reason:\n{out}"
    );
    assert!(out.contains("Result: session FAILED"), "{out}");
    // The device, silent but listening, was told CP state B and contactors open.
    let after: Vec<&str> = actuators(&heard[heard_before..]);
    assert!(
        after.starts_with(&["cp=0", "contactor=0"]),
        "no safe shutdown on the wire: {after:?}\n{out}"
    );
    assert!(!after.contains(&"contactor=1"), "{after:?}");
    // A silent device never confirms the contactors open: the connector stays locked.
    assert!(
        !after.contains(&"unlock"),
        "unlocked unconfirmed: {after:?}\n{out}"
    );
    assert!(
        heard.contains(&"disp0=contactors did not open: connector stays locked".to_owned()),
        "{out}"
    );
}

/// The serial port goes away while charging: a lost connection, which stops the session.
#[test]
fn a_lost_serial_port_stops_the_car() {
    let hosts = TwoHosts::new().with_veth();
    let dir = tempfile::tempdir().unwrap();
    let mut device = Device::start(Play {
        kind: Kind::Celeron55,
        charger_trace: dir.path().join("evse.out"),
    });
    let config = car_config(dir.path(), "celeron55device", &device.port, "", DIN);
    let mut evse = spawn_evse(&hosts, dir.path(), None, &[]);
    let mut ev = spawn_ev(&hosts, dir.path(), Some(&config), &[]);
    let context = outputs(&ev, &evse);
    device.wait_for_line("disp0=Charging", &context);
    device.unplug();
    let ended = wait_both(&mut ev, &mut evse, Duration::from_secs(30));
    let out = ended.text;
    assert_eq!(
        ended.ev,
        Some(1),
        "the car did not fail the session:\n{out}"
    );
    assert!(ended.evse.is_some(), "the charger did not end:\n{out}");
    assert!(
        out.contains("serial-celeron55: connection lost"),
        "no clear reason:\n{out}"
    );
    assert!(out.contains("Result: session FAILED"), "{out}");
    // The car still ran its shutdown: contactors commanded open after the fault.
    let ev_out = ev.output();
    let fault_at = ev_out.find("connection lost").unwrap();
    assert!(
        ev_out[fault_at..].contains("contactors: open"),
        "no contactors open after the fault:\n{ev_out}"
    );
}

/// The charger with `display_via_serial` and no other serial device: pyPLC's OLED lines show
/// its session and the car's SoC, next to its simulated power supply.
#[test]
fn charger_shows_its_session_on_the_serial_display() {
    let hosts = TwoHosts::new().with_veth();
    let dir = tempfile::tempdir().unwrap();
    let mut device = Device::start(Play {
        kind: Kind::Display,
        charger_trace: dir.path().join("evse.out"),
    });
    let config = dir.path().join("charger.toml");
    std::fs::write(
        &config,
        format!(
            "[hardware]\ndisplay_via_serial = true\n\n[serial]\nport = \"{}\"\n",
            device.port
        ),
    )
    .unwrap();
    let mut evse = spawn_evse(&hosts, dir.path(), Some(&config), &[]);
    let mut ev = spawn_ev(&hosts, dir.path(), None, &["--charge-seconds", "2"]);
    let both = assert_both_complete(&mut ev, &mut evse, SESSION_LIMIT);
    let heard = device.finish();
    let both = format!("{both}\n--- serial:\n{heard:?}");
    assert!(
        evse.output()
            .contains("hardware: sim-charger, serial-display"),
        "{both}"
    );
    // Three `lc` lines per change, nothing else (no device commands on a display).
    assert!(heard.iter().all(|l| l.starts_with("lc")), "{both}");
    assert_eq!(heard.len() % 3, 0, "{both}");
    for line in ["lcCableCheck", "lcCharging"] {
        assert!(heard.iter().any(|l| l == line), "no {line}: {both}");
    }
    assert!(heard.iter().any(|l| l.starts_with("lcSoC ")), "{both}");
}

/// The dieter's inlet measurement reads 0 V while the charger reports its voltage: the car's
/// plausibility check (ccs32clara's, 20 V) stops the session safely, relay off at the end.
#[test]
fn a_dieter_inlet_that_disagrees_with_the_charger_stops_the_car() {
    let hosts = TwoHosts::new().with_veth();
    let dir = tempfile::tempdir().unwrap();
    let mut device = Device::start(Play {
        kind: Kind::Dieter,
        charger_trace: dir.path().join("evse.out"),
    });
    let config = car_config(dir.path(), "dieter", &device.port, "", DIN);
    let mut evse = spawn_evse(&hosts, dir.path(), None, &[]);
    let mut ev = spawn_ev(&hosts, dir.path(), Some(&config), &[]);
    let context = outputs(&ev, &evse);
    device.wait_for_line("lcCharging", &context);
    device.wait_for_line("do0003", &context);
    device.inlet_dead.store(true, Ordering::SeqCst);
    let ended = wait_both(&mut ev, &mut evse, Duration::from_secs(30));
    let heard = device.finish();
    let out = format!("{}\n--- serial:\n{heard:?}", ended.text);
    assert_eq!(
        ended.ev,
        Some(1),
        "the car did not fail the session:\n{out}"
    );
    assert!(ended.evse.is_some(), "the charger did not end:\n{out}");
    assert!(
        out.contains("inlet voltage 0.0 V disagrees with EVSEPresentVoltage"),
        "no clear reason:\n{out}"
    );
    assert!(out.contains("Result: session FAILED"), "{out}");
    // The relay and CP bits end off, CP state B first: the relay never closes again.
    let words = dieter_output_words(&heard);
    assert_eq!(
        words,
        ["do0000", "do0001", "do0003", "do0002", "do0000"],
        "{out}"
    );
    // The dieter has no lock output; the car's commands show what it did with the lock.
    // Whether it may unlock on a broken inlet reading is the session's rule (changing);
    // sure is the safe order: CP state B and contactors open first, nothing closes or
    // locks again, and an unlock (if any) comes only after the contactors opened.
    let ev_out = ev.output();
    let failed_at = ev_out
        .find("disagrees with EVSEPresentVoltage")
        .unwrap_or_else(|| panic!("no failure in the car's output:\n{out}"));
    let commands: Vec<&str> = ev_out[failed_at..]
        .lines()
        .filter_map(|l| {
            [
                "CP state B",
                "CP state C",
                "contactors: open",
                "contactors: close",
                "connector: lock",
                "connector: unlock",
            ]
            .into_iter()
            // `[time] EV <state> <text> | <values>`
            .find(|c| {
                l.split('|')
                    .next()
                    .is_some_and(|t| t.trim_end().ends_with(c))
            })
        })
        .collect();
    let first = |c: &str| commands.iter().position(|x| *x == c);
    let opened = first("contactors: open")
        .unwrap_or_else(|| panic!("contactors never opened: {commands:?}\n{out}"));
    assert!(first("CP state B").is_some(), "{commands:?}\n{out}");
    for never in ["CP state C", "contactors: close", "connector: lock"] {
        assert!(
            first(never).is_none(),
            "{never} after the failure: {commands:?}"
        );
    }
    if let Some(unlock) = first("connector: unlock") {
        assert!(
            unlock > opened,
            "unlocked before the contactors opened: {commands:?}"
        );
    }
}
