//! The dashboard of `ccsplc evse` and `ccsplc ev` during a real session: both processes in
//! network namespaces over a veth pair (`--no-slac`), one of them with `--web` on an address
//! that is not loopback (a second veth pair from the test's namespace) and a token. The test
//! uses the JSON API and the event stream as another tool would: the phase and the values
//! must update live, the controls must need the token, Authorize must release a charger that
//! waits for it, and Stop must end the session with the normal shutdown (PowerDelivery stop,
//! WeldingDetection, SessionStop, power supply off, contactors open, connector unlocked).
//!
//! Needs root (namespaces, veth pairs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[allow(
    dead_code,
    reason = "shared with the unit tests; not every helper is used here"
)]
#[path = "../src/web/tests/http.rs"]
mod http;

use std::net::{Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::{Proc, TwoHosts, assert_both_complete, link_from_root, spawn_ev, spawn_evse};
use http::SseReader;
use serde_json::{Value, json};

/// Generous: the session itself takes about 10 s on a quiet machine.
const LIMIT: Duration = Duration::from_secs(90);
const TOKEN: &str = "s3cret-token";
const BEARER: (&str, &str) = ("Authorization", "Bearer s3cret-token");

/// Waits for the `dashboard on http://ADDR/` line of `process`; returns ADDR.
fn dashboard_addr(process: &mut Proc) -> SocketAddr {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let out = process.output();
        if let Some(addr) = out
            .split("dashboard on http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|a| a.parse().ok())
        {
            return addr;
        }
        assert!(
            Instant::now() < end,
            "{} did not say where its dashboard is:\n{out}",
            process.name
        );
        assert_eq!(process.wait_for(Duration::ZERO), None, "{out}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn status(addr: SocketAddr) -> Value {
    let response = http::get(addr, "/api/status");
    assert_eq!(response.status, 200);
    response.json()
}

fn phase(status: &Value) -> &str {
    status["session"]["phase"]["name"].as_str().unwrap_or("")
}

/// Polls the status until `done` holds, keeping the phases seen; panics after [`LIMIT`].
fn poll_until(addr: SocketAddr, phases: &mut Vec<String>, done: impl Fn(&Value) -> bool) -> Value {
    let end = Instant::now() + LIMIT;
    loop {
        let s = status(addr);
        let p = phase(&s).to_owned();
        if !p.is_empty() && phases.last() != Some(&p) {
            phases.push(p);
        }
        if done(&s) {
            return s;
        }
        assert!(
            Instant::now() < end,
            "timed out; phases {phases:?}, status {s}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The controls refuse a request without the token, or with a wrong one.
fn assert_token_required(addr: SocketAddr) {
    let anonymous = http::post_json(addr, "/api/stop", &[], &json!({}));
    assert_eq!(anonymous.status, 401, "{}", anonymous.json());
    assert_eq!(
        anonymous.header("www-authenticate"),
        Some("Bearer realm=\"ccsplc\"")
    );
    let wrong = http::post_json(
        addr,
        "/api/stop",
        &[("Authorization", "Bearer not-the-token")],
        &json!({}),
    );
    assert_eq!(wrong.status, 401);
}

/// Whether `bytes` start like a pcapng file (Section Header Block).
fn is_pcapng(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a])
}

fn web_address(inside: Ipv6Addr) -> String {
    format!("[{inside}]:0")
}

/// The charger's dashboard: the charger waits for authorization (it answers Ongoing), the
/// dashboard authorizes it, watches the session over the event stream, and stops it.
#[test]
fn evse_dashboard_authorizes_watches_and_stops_a_real_session() {
    let hosts = TwoHosts::new().with_veth();
    let inside = link_from_root(&hosts.evse);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("evse.toml");
    std::fs::write(&config, "[session]\nauthorize_automatically = false\n").unwrap();
    let pcap = dir.path().join("evse.pcapng");
    let web = web_address(inside);
    let mut evse = spawn_evse(
        &hosts,
        dir.path(),
        Some(&config),
        &[
            "--pcap",
            pcap.to_str().unwrap(),
            "--web",
            &web,
            "--web-token",
            TOKEN,
        ],
    );
    let addr = dashboard_addr(&mut evse);
    assert_eq!(addr.ip(), inside);

    let mut phases: Vec<String> = Vec::new();
    let first = poll_until(addr, &mut phases, |s| s["slac"]["state"] != "unknown");
    assert_eq!(first["mode"], "evse");
    assert_eq!(first["modem"]["state"], "not_used");
    assert_eq!(first["slac"]["state"], "skipped");
    let controls = &first["controls"];
    assert_eq!(controls["token_required"], true, "{controls}");
    assert_eq!(controls["stop"], true);
    assert_eq!(controls["authorize"], true);
    assert_eq!(controls["enable"], true);
    assert_eq!(first["capture"], "evse.pcapng");
    assert_token_required(addr);
    let refused = http::post_json(addr, "/api/authorize", &[], &json!({ "authorized": true }));
    assert_eq!(refused.status, 401);

    let mut events = SseReader::open(addr, "/api/events");
    let snapshot = events.next_event();
    assert_eq!(snapshot.event, "snapshot");

    // No --charge-seconds: the car would charge for an hour unless stopped.
    let mut ev = spawn_ev(&hosts, dir.path(), None, &[]);

    // The charger holds the car in Authorization (EVSEProcessing = Ongoing) until authorized.
    poll_until(addr, &mut phases, |s| phase(s) == "Authorization");
    std::thread::sleep(Duration::from_millis(1500));
    let waiting = status(addr);
    assert_eq!(
        phase(&waiting),
        "Authorization",
        "the charger did not wait for authorization: {waiting}"
    );
    assert_eq!(ev.wait_for(Duration::ZERO), None, "{}", ev.output());
    let authorized = http::post_json(
        addr,
        "/api/authorize",
        &[BEARER],
        &json!({ "authorized": true }),
    );
    assert_eq!(authorized.status, 202, "{}", authorized.json());

    // The event stream shows the session progress live: phases, messages, chart samples.
    let mut streamed_phases: Vec<String> = Vec::new();
    let mut samples: Vec<Value> = Vec::new();
    let mut current_demands = 0;
    let end = Instant::now() + LIMIT;
    while samples.len() < 5 || current_demands < 10 {
        assert!(
            Instant::now() < end,
            "no charging seen: {streamed_phases:?}, {} samples",
            samples.len()
        );
        let update = events.next_event();
        if update.event != "update" {
            continue;
        }
        let update: Value = serde_json::from_str(&update.data).unwrap();
        let event = &update["event"];
        match event["kind"].as_str() {
            Some("phase") => streamed_phases.push(event["name"].as_str().unwrap().to_owned()),
            Some("message") if event["name"] == "CurrentDemandReq" => current_demands += 1,
            _ => {}
        }
        if update["sample"].is_object() {
            samples.push(update["sample"].clone());
        }
    }
    for expected in ["CableCheck", "PreCharge", "Charging"] {
        assert!(
            streamed_phases.iter().any(|p| p == expected),
            "{expected} not streamed: {streamed_phases:?}"
        );
    }
    let times: Vec<u64> = samples
        .iter()
        .map(|s| s["t_ms"].as_u64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    let last = samples.last().unwrap();
    assert!(last["voltage"].as_f64().unwrap() > 100.0, "{last}");
    assert!(last["current"].as_f64().unwrap() > 1.0, "{last}");

    let charging = status(addr);
    assert_eq!(phase(&charging), "Charging");
    assert_eq!(charging["session"]["state"], "running");
    assert_eq!(charging["session"]["protocol"], "DIN 70121");
    assert_eq!(charging["controls"]["authorized"], true);
    assert_eq!(charging["hardware"]["power_supply_enabled"], true);
    assert!(charging["values"]["present_power"].as_f64().unwrap() > 100.0);
    assert!(
        charging["link"]
            .as_str()
            .unwrap()
            .contains("TCP connection from"),
        "{charging}"
    );
    let history = http::get(addr, "/api/history").json();
    let kinds: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    for kind in ["session_started", "protocol", "phase", "message", "control"] {
        assert!(kinds.contains(&kind), "no {kind} in the history: {kinds:?}");
    }
    assert!(!history["samples"].as_array().unwrap().is_empty());
    let capture = http::get(addr, "/api/capture");
    assert_eq!(capture.status, 200);
    assert_eq!(capture.header("content-type"), Some("application/x-pcapng"));
    assert!(is_pcapng(&capture.body), "not a pcapng file");

    // Stop: the normal shutdown, seen live.
    let stopped = http::post_json(addr, "/api/stop", &[BEARER], &json!({}));
    assert_eq!(stopped.status, 202, "{}", stopped.json());
    let mut finished = None;
    let end = Instant::now() + LIMIT;
    while finished.is_none() {
        assert!(Instant::now() < end, "the session did not end");
        let update = events.next_event();
        let update: Value = serde_json::from_str(&update.data).unwrap();
        let event = &update["event"];
        match event["kind"].as_str() {
            Some("phase") => streamed_phases.push(event["name"].as_str().unwrap().to_owned()),
            Some("finished") => finished = Some(update),
            _ => {}
        }
    }
    let finished = finished.unwrap();
    assert_eq!(finished["event"]["completed"], true, "{finished}");
    for expected in ["PowerDeliveryStop", "WeldingDetection", "SessionStop"] {
        assert!(
            streamed_phases.iter().any(|p| p == expected),
            "{expected} not streamed: {streamed_phases:?}"
        );
    }
    let end_status = &finished["status"];
    assert_eq!(end_status["session"]["state"], "completed", "{end_status}");
    assert_eq!(end_status["session"]["stop_requested"], true);
    assert_eq!(end_status["hardware"]["power_supply_enabled"], false);

    let out = assert_both_complete(&mut ev, &mut evse, Duration::from_secs(30));
    assert!(out.contains("authorized from the dashboard"), "{out}");
    assert!(out.contains("stop requested from the dashboard"), "{out}");
    assert!(out.contains("<- SessionStopRes"), "{out}");
    assert!(out.contains("contactors: open"), "{out}");
}

/// The car's dashboard: polled over the JSON API; the charger's controls are refused; Stop
/// ends charging with the car's normal shutdown (contactors open, then unlock).
#[test]
fn ev_dashboard_shows_the_session_and_stops_charging() {
    let hosts = TwoHosts::new().with_veth();
    let inside = link_from_root(&hosts.ev);
    let dir = tempfile::tempdir().unwrap();
    let mut evse = spawn_evse(&hosts, dir.path(), None, &[]);
    let web = web_address(inside);
    let mut ev = spawn_ev(
        &hosts,
        dir.path(),
        None,
        &["--web", &web, "--web-token", TOKEN],
    );
    let addr = dashboard_addr(&mut ev);
    let first = status(addr);
    assert_eq!(first["mode"], "ev");
    assert_eq!(first["controls"]["stop"], true);
    assert_eq!(first["controls"]["authorize"], false);
    assert_eq!(first["controls"]["token_required"], true);
    assert_token_required(addr);
    let not_ours = http::post_json(addr, "/api/enable", &[BEARER], &json!({ "enabled": false }));
    assert_eq!(not_ours.status, 403, "{}", not_ours.json());

    // Polled: the phases change, then the values move while charging.
    let mut phases = Vec::new();
    let charging = poll_until(addr, &mut phases, |s| {
        phase(s) == "Charging" && s["values"]["present_current"].as_f64().unwrap_or(0.0) > 1.0
    });
    assert!(
        phases.len() >= 3,
        "the phase did not change live: {phases:?}"
    );
    assert_eq!(charging["hardware"]["contactors_request"], "closed");
    assert_eq!(charging["hardware"]["cp_state"], "C");
    assert!(charging["link"].as_str().unwrap().contains("TCP connected"));
    assert!(charging["values"]["battery_voltage"].as_f64().unwrap() > 100.0);
    // New CurrentDemand pairs keep arriving (the car's simulated battery is not wired to the
    // charger's power supply in another process, so its SoC stays).
    let seq = charging["seq"].as_u64().unwrap();
    let last_message = |s: &Value| s["messages"][11]["t_ms"].as_u64().unwrap_or(0);
    let first_seen = last_message(&charging);
    let later = poll_until(addr, &mut phases, |s| last_message(s) > first_seen + 500);
    assert!(later["seq"].as_u64().unwrap() > seq);
    let messages: Vec<&str> = later["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert!(messages.contains(&"CurrentDemandReq"), "{messages:?}");
    assert!(messages.contains(&"CurrentDemandRes"), "{messages:?}");
    assert_eq!(
        http::get(addr, "/api/capture").status,
        404,
        "no capture without --pcap"
    );

    let stopped = http::post_json(addr, "/api/stop", &[BEARER], &json!({}));
    assert_eq!(stopped.status, 202, "{}", stopped.json());
    let ended = poll_until(addr, &mut phases, |s| s["session"]["state"] != "running");
    assert_eq!(ended["session"]["state"], "completed", "{ended}");
    // The shutdown's phases may pass between two polls: the history has them all.
    let history = http::get(addr, "/api/history").json();
    let all_phases: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "phase")
        .filter_map(|e| e["name"].as_str())
        .collect();
    for expected in [
        "SessionSetup",
        "CableCheck",
        "PreCharge",
        "Charging",
        "PowerDeliveryStop",
        "WeldingDetection",
        "SessionStop",
    ] {
        assert!(
            all_phases.contains(&expected),
            "{expected} not in the history: {all_phases:?}"
        );
    }
    // The car unlocks only after its contactors are open, as the session ends.
    let unlocked = poll_until(addr, &mut phases, |s| {
        s["hardware"]["lock_request"] == "unlocked"
    });
    let hardware = &unlocked["hardware"];
    assert_eq!(hardware["contactors_request"], "open", "{hardware}");
    assert_eq!(hardware["contactors_closed"], false, "{hardware}");
    assert_eq!(hardware["cp_state"], "B", "{hardware}");

    let out = assert_both_complete(&mut ev, &mut evse, Duration::from_secs(30));
    assert!(out.contains("stop requested from the dashboard"), "{out}");
    assert!(out.contains("<- SessionStopRes"), "{out}");
}

/// The charger's enable switch: disabling it stops charging normally (like Stop), the status
/// shows the switch, and the switch holds until it is turned on again.
#[test]
fn evse_dashboard_disable_stops_charging() {
    let hosts = TwoHosts::new().with_veth();
    let inside = link_from_root(&hosts.evse);
    let dir = tempfile::tempdir().unwrap();
    let web = web_address(inside);
    let mut evse = spawn_evse(
        &hosts,
        dir.path(),
        None,
        &["--web", &web, "--web-token", TOKEN],
    );
    let addr = dashboard_addr(&mut evse);
    let mut ev = spawn_ev(&hosts, dir.path(), None, &[]);
    let mut phases = Vec::new();
    poll_until(addr, &mut phases, |s| {
        phase(s) == "Charging" && s["values"]["present_current"].as_f64().unwrap_or(0.0) > 1.0
    });
    let anonymous = http::post_json(addr, "/api/enable", &[], &json!({ "enabled": false }));
    assert_eq!(anonymous.status, 401);
    let disabled = http::post_json(addr, "/api/enable", &[BEARER], &json!({ "enabled": false }));
    assert_eq!(disabled.status, 202, "{}", disabled.json());
    let ended = poll_until(addr, &mut phases, |s| s["session"]["state"] != "running");
    assert_eq!(ended["session"]["state"], "completed", "{ended}");
    assert_eq!(ended["controls"]["enabled"], false, "{ended}");
    assert_eq!(ended["hardware"]["power_supply_enabled"], false);

    let out = assert_both_complete(&mut ev, &mut evse, Duration::from_secs(30));
    assert!(
        out.contains("charging disabled from the dashboard"),
        "{out}"
    );
    assert!(out.contains("power supply off"), "{out}");
    assert!(out.contains("<- SessionStopRes"), "{out}");
}
