//! Whole charging sessions whose hardware values go through a real MQTT broker, in each mode:
//! `ccsplc ev` and `ccsplc evse` as processes in two network namespaces joined by a veth pair
//! (`--no-slac`), one of them with the pyPLC MQTT profile, the other with its simulated
//! hardware. A mosquitto broker runs in the MQTT side's namespace: the process reaches it on
//! that namespace's loopback (port 1883, as pyPLC), and the test reaches it through a Unix
//! socket of the same broker, where a test client plays the battery management system (car
//! mode) or the power supply (charger mode).
//!
//! Checked: the session reaches CurrentDemand, every topic and payload ccsplc publishes is the
//! pyPLC profile, the session ends with the safe shutdown order; a BMS that falls silent and
//! a broker that dies are faults that stop the session safely with a clear reason; the SoC
//! callback reaches an HTTP server with the car's data, which is on MQTT too.
//!
//! Needs root (namespaces), mosquitto and python3 (the HTTP server of the SoC callback test).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Proc, SESSION_LIMIT, TwoHosts, outputs, spawn_ev, spawn_evse, wait_both};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, Transport};

/// A mosquitto broker in a namespace: TCP 1883 on the namespace's loopback for ccsplc, a Unix
/// socket for the test.
struct Broker {
    proc: Option<Proc>,
    socket: PathBuf,
}

impl Broker {
    fn start(ns: &str, dir: &Path) -> Self {
        let socket = dir.join("mqtt.sock");
        let conf = dir.join("mosquitto.conf");
        // `user root`: mosquitto would otherwise drop to its own user, which may not create
        // the socket in the test's directory.
        std::fs::write(
            &conf,
            format!(
                "user root\npersistence false\nallow_anonymous true\n\
                 listener 1883 127.0.0.1\nlistener 0 {}\n",
                socket.display()
            ),
        )
        .unwrap();
        let proc = Proc::spawn_in(
            ns,
            "mosquitto",
            dir,
            "mosquitto",
            &["-c", conf.to_str().unwrap()],
            &[],
        );
        for _ in 0..200 {
            if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
                return Self {
                    proc: Some(proc),
                    socket,
                };
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("mosquitto did not start:\n{}", proc.output());
    }

    /// Kills the broker (SIGKILL: no goodbye to the clients).
    fn kill(&mut self) {
        drop(self.proc.take());
    }
}

/// Everything the test client saw on `pyPlc/#`, in order, its own publications included.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// The test's MQTT client on the broker's Unix socket; `on_message` runs for every message.
fn connect_peer(
    rt: &tokio::runtime::Runtime,
    socket: &Path,
    mut on_message: impl FnMut(&str, &str) + Send + 'static,
) -> (AsyncClient, Seen) {
    let mut options = MqttOptions::new("test-peer", socket.to_str().unwrap(), 0);
    options.set_transport(Transport::unix());
    options.set_keep_alive(Duration::from_secs(5));
    let (client, mut eventloop) = AsyncClient::new(options, 256);
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    let sub = client.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    rt.spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    sub.subscribe("pyPlc/#", QoS::AtLeastOnce).await.unwrap();
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    let _ = ready_tx.send(());
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let payload = String::from_utf8_lossy(&p.payload).into_owned();
                    let name = p.topic.strip_prefix("pyPlc/").unwrap_or(&p.topic);
                    on_message(name, &payload);
                    log.lock().unwrap().push((name.to_owned(), payload));
                }
                Ok(_) => {}
                // The broker went away (a test killed it): stop.
                Err(_) => return,
            }
        }
    });
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the test client did not subscribe");
    (client, seen)
}

fn publish(client: &AsyncClient, name: &str, payload: String) {
    // QoS 0, not retained: as pyPLC's back ends publish.
    let _ = client.try_publish(format!("pyPlc/{name}"), QoS::AtMostOnce, false, payload);
}

/// Whether `name` was seen with a payload for which `pred` holds.
fn saw(seen: &Seen, name: &str, pred: impl Fn(&str) -> bool) -> bool {
    seen.lock()
        .unwrap()
        .iter()
        .any(|(t, p)| t == name && pred(p))
}

/// Waits until `name` carries a payload for which `pred` holds.
fn wait_for_topic(
    seen: &Seen,
    name: &str,
    pred: impl Fn(&str) -> bool,
    context: &dyn Fn() -> String,
) {
    for _ in 0..(SESSION_LIMIT.as_millis() / 50) {
        if saw(seen, name, &pred) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing suitable on {name}:\n{}", context());
}

fn is_number(p: &str) -> bool {
    p.parse::<f64>().is_ok_and(f64::is_finite)
}

/// An output topic of the profile and the check of its payload.
type Output = (&'static str, fn(&str) -> bool);

/// Asserts that every topic ccsplc published is an output of its role in the pyPLC profile
/// with a payload of the right form (the peer's own inputs are skipped: MQTT 3.1.1 echoes
/// them to the subscriber).
fn assert_profile(seen: &Seen, peer_inputs: &[&str], outputs: &[Output]) {
    for (topic, payload) in seen.lock().unwrap().iter() {
        if peer_inputs.contains(&topic.as_str()) {
            continue;
        }
        let Some((_, valid)) = outputs.iter().find(|(name, _)| name == topic) else {
            panic!("ccsplc published {topic} = {payload:?}, which is not in its profile");
        };
        assert!(valid(payload), "bad payload on {topic}: {payload:?}");
    }
}

fn is_json_object(p: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(p).is_ok_and(|v| v.is_object())
}

/// The actuator requests (cpstate, relay_request, lock_request) in the order they came.
fn actuators(seen: &Seen) -> Vec<(String, String)> {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|(t, _)| ["cpstate", "relay_request", "lock_request"].contains(&t.as_str()))
        .cloned()
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(t, p)| ((*t).to_owned(), (*p).to_owned()))
        .collect()
}

/// The car's MQTT configuration (pyPLC's three device keys) plus `extra` TOML.
fn car_config(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("car.toml");
    std::fs::write(
        &path,
        format!(
            "[hardware]\ndigital_output_device = \"mqtt\"\nanalog_input_device = \"mqtt\"\n\
             charge_parameter_backend = \"mqtt\"\n\n[mqtt]\nbroker = \"127.0.0.1\"\n\
             publish_interval = \"50ms\"\n{extra}"
        ),
    )
    .unwrap();
    path
}

/// The BMS the test plays: publishes its values every 100 ms (unless `silent`), counts up the
/// SoC while the relay is on, and reports the charger's voltage as the inlet voltage once the
/// car has published it (the inlet is wired to the charger's output).
#[derive(Default)]
struct Bms {
    relay_on: AtomicBool,
    silent: AtomicBool,
    charger_voltage: Mutex<Option<String>>,
    soc: Mutex<f32>,
}

fn run_bms(rt: &tokio::runtime::Runtime, socket: &Path) -> (Arc<Bms>, Seen) {
    let bms = Arc::new(Bms {
        soc: Mutex::new(40.0),
        ..Bms::default()
    });
    let state = Arc::clone(&bms);
    let (client, seen) = connect_peer(rt, socket, move |name, payload| match name {
        "relay_request" => state.relay_on.store(payload == "on", Ordering::SeqCst),
        "charger_voltage" => *state.charger_voltage.lock().unwrap() = Some(payload.to_owned()),
        _ => {}
    });
    let state = Arc::clone(&bms);
    rt.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tick.tick().await;
            if state.silent.load(Ordering::SeqCst) {
                continue;
            }
            let soc = {
                let mut soc = state.soc.lock().unwrap();
                if state.relay_on.load(Ordering::SeqCst) {
                    *soc = (*soc + 0.2).min(100.0);
                }
                *soc
            };
            publish(&client, "battery_voltage", "350".into());
            publish(&client, "target_voltage", "360".into());
            publish(&client, "target_current", "50".into());
            publish(&client, "soc", format!("{soc:.1}"));
            let inlet = state.charger_voltage.lock().unwrap().clone();
            if let Some(u) = inlet {
                publish(&client, "inlet_voltage", u);
            }
        }
    });
    (bms, seen)
}

const BMS_INPUTS: &[&str] = &[
    "battery_voltage",
    "target_voltage",
    "target_current",
    "soc",
    "inlet_voltage",
];

/// The car-mode outputs of the pyPLC profile and the form of their payloads.
const CAR_OUTPUTS: &[Output] = &[
    ("fsm_state", |p| !p.is_empty()),
    ("cpstate", |p| p == "B" || p == "C"),
    ("relay_request", |p| p == "on" || p == "off"),
    ("lock_request", |p| p == "lock" || p == "unlock"),
    ("charger_max_voltage", is_number),
    ("charger_max_current", is_number),
    ("charger_voltage", is_number),
    ("charger_current", is_number),
    ("status", is_json_object),
];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn car_with_an_mqtt_bms_charges_and_shuts_down_in_order() {
    let hosts = TwoHosts::new().with_veth();
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let broker = Broker::start(&hosts.ev.name, dir.path());
    let (_bms, seen) = run_bms(&rt, &broker.socket);
    let config = car_config(dir.path(), "");
    let mut evse = spawn_evse(&hosts, dir.path(), None, &[]);
    let mut ev = spawn_ev(
        &hosts,
        dir.path(),
        Some(&config),
        &["--charge-seconds", "3"],
    );
    let ended = wait_both(&mut ev, &mut evse, SESSION_LIMIT);
    let both = format!("{}\n--- mqtt:\n{:?}", ended.text, seen.lock().unwrap());
    assert_eq!(ended.ev, Some(0), "the car did not complete:\n{both}");
    assert_eq!(ended.evse, Some(0), "the charger did not complete:\n{both}");
    assert!(ev.output().contains("hardware: mqtt"), "{both}");
    assert!(ev.output().contains("-> CurrentDemandReq"), "{both}");

    // The BMS's values reached the requests: EVTargetVoltage 360 V, 50 A.
    assert!(ev.output().contains("360"), "{both}");
    // What the car published is the pyPLC profile, with pyPLC's words.
    assert_profile(&seen, BMS_INPUTS, CAR_OUTPUTS);
    for (name, why) in [
        ("charger_max_voltage", "after ChargeParameterDiscoveryRes"),
        ("charger_voltage", "with each CurrentDemandRes"),
        ("charger_current", "with each CurrentDemandRes"),
    ] {
        assert!(saw(&seen, name, is_number), "no {name} ({why}):\n{both}");
    }
    assert!(saw(&seen, "fsm_state", |p| p == "CurrentDemand"), "{both}");
    assert!(saw(&seen, "fsm_state", |p| p == "PreCharging"), "{both}");
    assert!(
        saw(&seen, "status", |p| p.contains("\"role\":\"vehicle\"")),
        "{both}"
    );
    // The BMS played along: the inlet voltage followed the charger (else the plausibility
    // check would have stopped the session), and the SoC rose while the relay was on.
    assert!(saw(&seen, "inlet_voltage", is_number), "{both}");

    // The actuators: lock, CP state C, relay on; at the end CP state B, relay off, unlock,
    // in exactly that order and nothing after it.
    let acts = actuators(&seen);
    let on = acts
        .iter()
        .position(|a| *a == ("relay_request".to_owned(), "on".to_owned()))
        .unwrap_or_else(|| panic!("the relay never closed: {acts:?}\n{both}"));
    let before = &acts[..on];
    let lock = before
        .iter()
        .position(|a| a.0 == "lock_request")
        .unwrap_or_else(|| panic!("no lock before the relay: {acts:?}"));
    assert_eq!(before[lock].1, "lock", "{acts:?}");
    assert!(
        before.contains(&("cpstate".to_owned(), "C".to_owned())),
        "no CP state C before the relay: {acts:?}"
    );
    assert_eq!(
        acts[on + 1..],
        pairs(&[
            ("cpstate", "B"),
            ("relay_request", "off"),
            ("lock_request", "unlock")
        ]),
        "the end is not the safe shutdown order: {acts:?}"
    );
}

#[test]
fn a_silent_bms_is_a_fault_that_shuts_the_car_down_safely() {
    let hosts = TwoHosts::new().with_veth();
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let broker = Broker::start(&hosts.ev.name, dir.path());
    let (bms, seen) = run_bms(&rt, &broker.socket);
    let config = car_config(dir.path(), "input_timeout = \"1s\"\n");
    let mut evse = spawn_evse(&hosts, dir.path(), None, &[]);
    // No --charge-seconds: the car charges until something stops it.
    let mut ev = spawn_ev(&hosts, dir.path(), Some(&config), &[]);
    let context = outputs(&ev, &evse);
    wait_for_topic(&seen, "fsm_state", |p| p == "CurrentDemand", &context);
    wait_for_topic(&seen, "relay_request", |p| p == "on", &context);
    // The inlet voltage has arrived (the BMS echoes the charger's output once the car has
    // published it): the car has an inlet measurement, from this BMS.
    wait_for_topic(&seen, "inlet_voltage", |_| true, &context);
    // The BMS falls silent; the car never reads the inlet voltage in the charge loop when it
    // is missing, but the watchdog notices every input.
    bms.silent.store(true, Ordering::SeqCst);
    let ev_code = ev.wait_for(Duration::from_secs(20));
    let evse_code = evse.wait_for(Duration::from_secs(20));
    let out = context();
    assert_eq!(
        ev_code,
        Some(1),
        "the car did not stop with a failure:\n{out}"
    );
    assert!(evse_code.is_some(), "the charger did not end:\n{out}");
    assert!(
        out.contains("mqtt: input") && out.contains("not updated in time"),
        "no clear reason:\n{out}"
    );
    assert!(out.contains("Result: session FAILED"), "{out}");
    // The safe shutdown reached the BMS over the still running broker, in order.
    let acts = actuators(&seen);
    let on = acts
        .iter()
        .rposition(|a| *a == ("relay_request".to_owned(), "on".to_owned()))
        .unwrap();
    // The inlet measurement fell silent with the BMS: nothing shows the connector below 60 V
    // after the stop, so it stays locked (IEC 61851-23; docs/hardware.md).
    assert_eq!(
        acts[on + 1..],
        pairs(&[("cpstate", "B"), ("relay_request", "off")]),
        "{acts:?}\n{out}"
    );
    assert!(
        out.contains("connector stays locked: no fresh inlet voltage reading"),
        "{out}"
    );
}

/// The power supply the test plays: follows the set-points at once (its output is the target
/// voltage while the target current is above 0, else it falls to 0), publishes its present
/// values and maxima every 100 ms, and enables charging. Its isolation monitor publishes its
/// verdict (`valid`) cyclically, as a real IMD does: CableCheck waits for it.
#[derive(Default)]
struct Psu {
    target: Mutex<(f32, f32)>,
}

fn run_psu(rt: &tokio::runtime::Runtime, socket: &Path) -> Seen {
    let psu = Arc::new(Psu::default());
    let state = Arc::clone(&psu);
    let (client, seen) = connect_peer(rt, socket, move |name, payload| {
        let value = payload.parse::<f32>().unwrap_or(0.0);
        let mut target = state.target.lock().unwrap();
        match name {
            "target_voltage" => target.0 = value,
            "target_current" => target.1 = value,
            _ => {}
        }
    });
    rt.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tick.tick().await;
            let (u, i) = *psu.target.lock().unwrap();
            publish(&client, "charger_voltage", format!("{u}"));
            publish(&client, "charger_current", format!("{}", i.min(125.0)));
            publish(&client, "charger_max_voltage", "500".into());
            publish(&client, "charger_max_current", "125".into());
            publish(&client, "enabled", "1".into());
            publish(&client, "isolation", "valid".into());
        }
    });
    seen
}

const PSU_INPUTS: &[&str] = &[
    "charger_voltage",
    "charger_current",
    "charger_max_voltage",
    "charger_max_current",
    "enabled",
    "isolation",
];

/// The charger-mode outputs of the pyPLC profile (plus `full_soc` and `energy_request`, the
/// SoC callback's data on MQTT) and the form of their payloads.
const CHARGER_OUTPUTS: &[Output] = &[
    ("fsm_state", |p| !p.is_empty()),
    ("target_voltage", is_number),
    ("target_current", is_number),
    ("soc", is_number),
    ("evccid", |p| {
        p.len() == 12 && p.bytes().all(|b| b.is_ascii_hexdigit())
    }),
    ("battery_capacity", is_number),
    ("full_soc", is_number),
    ("energy_request", is_number),
    ("status", is_json_object),
];

/// The charger's MQTT configuration, plus `extra` TOML: the power supply's values are reported
/// to the car (with a real power supply evse_simulate_precharge's default does not apply) and
/// CableCheck waits for the isolation monitor (the default).
fn charger_config(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("charger.toml");
    std::fs::write(
        &path,
        format!(
            "[hardware]\ndigital_output_device = \"mqtt\"\ncharge_parameter_backend = \"mqtt\"\n\n\
             [mqtt]\nbroker = \"127.0.0.1\"\n\
             publish_interval = \"50ms\"\n{extra}"
        ),
    )
    .unwrap();
    path
}

/// The MAC of `ifname` in namespace `ns` as 12 lowercase hex digits (the car's EVCCID).
fn mac_hex(ns: &str, ifname: &str) -> String {
    let out = std::process::Command::new("ip")
        .args(["-n", ns, "-o", "link", "show", ifname])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mac = text
        .split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .unwrap_or_else(|| panic!("no MAC in {text}"));
    mac.replace(':', "").to_ascii_lowercase()
}

/// A tiny HTTP server in namespace `ns` on 127.0.0.1:`port` that answers 200 and prints each
/// request line.
fn http_server(ns: &str, dir: &Path, port: u16) -> Proc {
    let script = format!(
        "import http.server\n\
         class H(http.server.BaseHTTPRequestHandler):\n\
         \x20   def do_POST(self):\n\
         \x20       print('POST ' + self.path, flush=True)\n\
         \x20       self.send_response(200)\n\
         \x20       self.send_header('Content-Length', '0')\n\
         \x20       self.end_headers()\n\
         \x20   def log_message(self, *args):\n\
         \x20       pass\n\
         s = http.server.HTTPServer(('127.0.0.1', {port}), H)\n\
         print('ready', flush=True)\n\
         s.serve_forever()\n"
    );
    let server = Proc::spawn_in(ns, "http", dir, "python3", &["-c", &script], &[]);
    for _ in 0..200 {
        if server.output().contains("ready") {
            return server;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("the HTTP server did not start:\n{}", server.output());
}

/// The value of `key` in a query string.
fn query_value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let query = line.split_once('?')?.1;
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

#[test]
fn charger_with_an_mqtt_power_supply_charges_and_reports_the_car() {
    let hosts = TwoHosts::new().with_veth();
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let broker = Broker::start(&hosts.evse.name, dir.path());
    let seen = run_psu(&rt, &broker.socket);
    let mut http = http_server(&hosts.evse.name, dir.path(), 8089);
    let config = charger_config(
        dir.path(),
        "\n[soc_callback]\nenabled = true\nendpoint = \"http://127.0.0.1:8089/ev_state\"\n",
    );
    let mut evse = spawn_evse(&hosts, dir.path(), Some(&config), &[]);
    let mut ev = spawn_ev(&hosts, dir.path(), None, &["--charge-seconds", "3"]);
    let ended = wait_both(&mut ev, &mut evse, SESSION_LIMIT);
    // Let the last set-point reach the test client.
    std::thread::sleep(Duration::from_millis(300));
    let both = format!(
        "{}\n--- mqtt:\n{:?}\n--- http:\n{}",
        ended.text,
        seen.lock().unwrap(),
        http.output()
    );
    assert_eq!(ended.ev, Some(0), "the car did not complete:\n{both}");
    assert_eq!(ended.evse, Some(0), "the charger did not complete:\n{both}");
    assert!(
        evse.output().contains("hardware: mqtt, soc-callback"),
        "{both}"
    );
    assert!(evse.output().contains("<- CurrentDemandReq"), "{both}");

    assert_profile(&seen, PSU_INPUTS, CHARGER_OUTPUTS);
    assert!(saw(&seen, "fsm_state", |p| p == "CurrentDemand"), "{both}");
    assert!(saw(&seen, "fsm_state", |p| p == "CableCheck"), "{both}");
    let evccid = mac_hex(&hosts.ev.name, "ev0");
    assert!(saw(&seen, "evccid", |p| p == evccid), "{evccid}\n{both}");
    // The set-points: the car's precharge target (its battery voltage), then its charge
    // request; the last one is the power supply switched off (the safe state).
    assert!(
        saw(&seen, "target_voltage", |p| p
            .parse::<f32>()
            .is_ok_and(|u| u > 100.0)),
        "{both}"
    );
    let set_points: Vec<_> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(t, _)| t == "target_voltage" || t == "target_current")
        .cloned()
        .collect();
    let last_voltage = set_points.iter().rev().find(|(t, _)| t == "target_voltage");
    let last_current = set_points.iter().rev().find(|(t, _)| t == "target_current");
    assert_eq!(
        (
            last_voltage.map(|x| x.1.as_str()),
            last_current.map(|x| x.1.as_str())
        ),
        (Some("0"), Some("0")),
        "the power supply was not switched off at the end: {set_points:?}"
    );
    // The present voltage the charger reported came from the power supply, which followed
    // the set-point: the car's CurrentDemandRes carry it.
    assert!(ev.output().contains("<- CurrentDemandRes"), "{both}");

    // The car's data: on MQTT (uhi22/pyPLC#47) and in the SoC callback (SmartEVSE).
    let last = |name: &str| {
        seen.lock()
            .unwrap()
            .iter()
            .rev()
            .find(|(t, _)| t == name)
            .map(|(_, p)| p.clone())
            .unwrap_or_else(|| panic!("nothing on {name}:\n{both}"))
    };
    let capacity = last("battery_capacity");
    let full_soc = last("full_soc");
    let energy_request = last("energy_request");
    let soc = last("soc");
    assert!(capacity.parse::<f32>().unwrap() > 0.0, "{capacity}");
    let status = last("status");
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["role"], "charger", "{status}");
    assert_eq!(status["evccid"], evccid.as_str(), "{status}");
    assert!(status["soc"].is_number(), "{status}");

    drop(http.child.kill());
    let _ = http.child.wait();
    let requests = http.output();
    let posts: Vec<&str> = requests
        .lines()
        .filter(|l| l.starts_with("POST /ev_state?"))
        .collect();
    let last_post = posts
        .last()
        .unwrap_or_else(|| panic!("no SoC callback arrived:\n{both}"));
    let integer = |v: &str| v.parse::<f32>().unwrap().round().to_string();
    assert_eq!(
        query_value(last_post, "evccid"),
        Some(evccid.as_str()),
        "{last_post}"
    );
    assert_eq!(
        query_value(last_post, "energy_capacity"),
        Some(integer(&capacity).as_str()),
        "the callback lost the car's capacity: {last_post}"
    );
    assert_eq!(
        query_value(last_post, "full_soc"),
        Some(integer(&full_soc).as_str()),
        "{last_post}"
    );
    assert_eq!(
        query_value(last_post, "energy_request"),
        Some(integer(&energy_request).as_str()),
        "{last_post}"
    );
    assert_eq!(
        query_value(last_post, "current_soc"),
        Some(integer(&soc).as_str()),
        "{last_post}"
    );
}

#[test]
fn a_lost_broker_is_a_fault_that_shuts_the_charger_down_safely() {
    let hosts = TwoHosts::new().with_veth();
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let mut broker = Broker::start(&hosts.evse.name, dir.path());
    let seen = run_psu(&rt, &broker.socket);
    let config = charger_config(dir.path(), "");
    let mut evse = spawn_evse(&hosts, dir.path(), Some(&config), &[]);
    let mut ev = spawn_ev(&hosts, dir.path(), None, &[]);
    let context = outputs(&ev, &evse);
    wait_for_topic(&seen, "fsm_state", |p| p == "CurrentDemand", &context);
    broker.kill();
    let evse_code = evse.wait_for(Duration::from_secs(20));
    let ev_code = ev.wait_for(Duration::from_secs(30));
    let out = context();
    assert_eq!(
        evse_code,
        Some(1),
        "the charger did not fail the session:\n{out}"
    );
    assert!(ev_code.is_some(), "the car did not end:\n{out}");
    assert!(
        out.contains("mqtt: connection lost"),
        "no clear reason:\n{out}"
    );
    assert!(out.contains("some FAILED"), "{out}");
    // The charger's trace shows the power supply switched off after the fault.
    let evse_out = evse.output();
    let fault_at = evse_out.find("connection lost").unwrap();
    assert!(
        evse_out[fault_at..].contains("power supply off"),
        "no power supply off after the fault:\n{evse_out}"
    );
}
