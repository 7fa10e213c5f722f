//! The HTTP API on a real socket: status shape, assets, controls and their tokens, history
//! bounds, the capture download, the event stream's order.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use ccs_proto::hardware::{HardwareCommand, Measurement, Volts};
use ccs_proto::session::{ChargingValues, Outcome, Phase, Protocol, SessionEvent};
use serde_json::{Value, json};

use super::http::{SseReader, get, post_json, request};
use crate::config::Web;
use crate::web::{
    Capacity, Controls, Dashboard, DashboardControl, Mode, ModemStatus, Options, start, start_with,
};

fn serve(mode: Mode, address: &str, token: Option<&str>) -> (Dashboard, Controls, SocketAddr) {
    let (dashboard, controls) = start_with(Options {
        mode,
        address: address.to_owned(),
        token: token.map(str::to_owned),
        allow_control: true,
        capacity: Capacity::default(),
    })
    .unwrap();
    let port = dashboard.local_addr().unwrap().port();
    (
        dashboard,
        controls,
        SocketAddr::from(([127, 0, 0, 1], port)),
    )
}

fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

/// Waits (briefly) for a control to arrive from the server thread.
fn next_control(controls: &mut Controls) -> Option<DashboardControl> {
    for _ in 0..100 {
        if let Some(c) = controls.try_recv() {
            return Some(c);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

#[test]
fn status_json_has_the_documented_shape_and_values() {
    let (dashboard, _controls, addr) = serve(Mode::Sim, "127.0.0.1:0", None);
    dashboard.modem(ModemStatus::Found {
        detail: "QCA7420".to_owned(),
    });
    dashboard.session_event(&SessionEvent::PhaseChanged(Phase::Handshake));
    dashboard.session_event(&SessionEvent::ProtocolNegotiated {
        protocol: Protocol::Din70121,
        schema_id: 1,
    });
    dashboard.session_event(&SessionEvent::PhaseChanged(Phase::Charging));
    dashboard.session_event(&SessionEvent::Sent {
        name: "CurrentDemandReq",
        summary: "U=400.0V I=100.0A".to_owned(),
    });
    dashboard.session_event(&SessionEvent::Values(ChargingValues {
        soc: Some(55.0),
        present_voltage: Some(400.0),
        present_current: Some(100.0),
        ..ChargingValues::default()
    }));
    dashboard.measurement(&Measurement::BatteryVoltage(Volts(390.0)));
    dashboard.command(&HardwareCommand::EvccId("020000000001".to_owned()));

    let response = get(addr, "/api/status");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let s = response.json();
    assert_eq!(
        keys(&s),
        BTreeSet::from([
            "mode",
            "version",
            "seq",
            "t_ms",
            "started_unix_ms",
            "modem",
            "slac",
            "link",
            "session",
            "values",
            "hardware",
            "messages",
            "controls",
            "capture",
            "history",
        ])
    );
    assert_eq!(s["mode"], "sim");
    assert_eq!(s["modem"], json!({"state": "found", "detail": "QCA7420"}));
    assert_eq!(s["session"]["number"], 1);
    assert_eq!(s["session"]["state"], "running");
    assert_eq!(s["session"]["protocol"], "DIN 70121");
    assert_eq!(
        s["session"]["phase"],
        json!({"name": "Charging", "checkpoint": 700})
    );
    assert_eq!(s["values"]["soc"], 55.0);
    assert_eq!(s["values"]["present_voltage"], 400.0);
    assert_eq!(s["values"]["present_power"], 40000.0);
    assert_eq!(s["values"]["battery_voltage"], 390.0);
    assert_eq!(s["values"]["target_voltage"], Value::Null);
    assert_eq!(s["hardware"]["evcc_id"], "020000000001");
    assert_eq!(
        s["messages"],
        json!([{"t_ms": s["messages"][0]["t_ms"], "direction": "sent",
                "name": "CurrentDemandReq", "summary": "U=400.0V I=100.0A"}])
    );
    assert_eq!(
        keys(&s["controls"]),
        BTreeSet::from([
            "stop",
            "authorize",
            "enable",
            "token_required",
            "disabled_reason",
            "authorized",
            "enabled"
        ])
    );
    assert_eq!(s["controls"]["stop"], true);
    assert_eq!(s["controls"]["enable"], true);
    assert_eq!(
        s["controls"]["authorize"], false,
        "the simulated charger authorizes by itself"
    );
    assert_eq!(s["controls"]["token_required"], false);
    assert!(s["seq"].as_u64().unwrap() >= 8);
}

#[test]
fn the_page_and_its_assets_come_from_the_binary_and_need_nothing_else() {
    let (_dashboard, _controls, addr) = serve(Mode::Ev, "127.0.0.1:0", None);
    for (path, content_type, marker) in [
        ("/", "text/html", "<canvas id=\"chart\""),
        ("/app.js", "text/javascript", "EventSource"),
        ("/style.css", "text/css", "@media"),
        ("/icon.svg", "image/svg+xml", "<svg"),
    ] {
        let r = get(addr, path);
        assert_eq!(r.status, 200, "{path}");
        assert!(
            r.header("content-type").unwrap().starts_with(content_type),
            "{path}"
        );
        assert!(
            r.header("content-security-policy")
                .unwrap()
                .contains("default-src 'none'")
        );
        let body = String::from_utf8(r.body).unwrap();
        assert!(body.contains(marker), "{path}");
        // No CDN, no web fonts: the page works on a network without internet. (The SVG
        // namespace is a name, not something fetched.)
        let body = body.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "{path}"
        );
    }
    assert_eq!(get(addr, "/nothing").status, 404);
}

#[test]
fn controls_on_loopback_need_no_token_and_reach_the_runner() {
    let (dashboard, mut controls, addr) = serve(Mode::Evse, "127.0.0.1:0", None);
    let accepted = post_json(addr, "/api/stop", &[], &json!({}));
    assert_eq!(accepted.status, 202, "{:?}", accepted.json());
    assert_eq!(next_control(&mut controls), Some(DashboardControl::Stop));

    let r = post_json(addr, "/api/authorize", &[], &json!({"authorized": true}));
    assert_eq!(r.status, 202);
    assert_eq!(
        next_control(&mut controls),
        Some(DashboardControl::Authorize(true))
    );
    let r = post_json(addr, "/api/enable", &[], &json!({"enabled": false}));
    assert_eq!(r.status, 202);
    assert_eq!(
        next_control(&mut controls),
        Some(DashboardControl::Enable(false))
    );
    let status = get(addr, "/api/status").json();
    assert_eq!(status["controls"]["authorized"], true);
    assert_eq!(status["controls"]["enabled"], false);

    // A bad body, a foreign Host (DNS rebinding) and a cross-site Origin are refused.
    assert_eq!(
        post_json(addr, "/api/enable", &[], &json!({"on": 1})).status,
        400
    );
    assert_eq!(
        post_json(
            addr,
            "/api/stop",
            &[("Host", "evil.example:80")],
            &json!({})
        )
        .status,
        403
    );
    assert_eq!(
        post_json(
            addr,
            "/api/stop",
            &[("Origin", "http://evil.example")],
            &json!({})
        )
        .status,
        403
    );
    assert_eq!(next_control(&mut controls), None);
    // Controls are recorded in the history.
    let history = get(addr, "/api/history").json();
    let recorded: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "control")
        .map(|e| e["control"].as_str().unwrap())
        .collect();
    assert_eq!(recorded, ["stop", "authorize", "enable"]);
    drop(dashboard);
}

#[test]
fn controls_off_loopback_need_the_token() {
    let (_dashboard, mut controls, addr) = serve(Mode::Evse, "0.0.0.0:0", Some("s3cret"));
    assert_eq!(
        get(addr, "/api/status").json()["controls"]["token_required"],
        true
    );

    let missing = post_json(addr, "/api/stop", &[], &json!({}));
    assert_eq!(missing.status, 401);
    assert!(
        missing
            .header("www-authenticate")
            .unwrap()
            .starts_with("Bearer")
    );
    let wrong = post_json(
        addr,
        "/api/stop",
        &[("Authorization", "Bearer s3cret-not")],
        &json!({}),
    );
    assert_eq!(wrong.status, 401);
    // A wrong token never reaches the body check.
    assert_eq!(
        post_json(addr, "/api/enable", &[], &json!({"bad": true})).status,
        401
    );
    assert_eq!(next_control(&mut controls), None);

    let right = post_json(
        addr,
        "/api/stop",
        &[("Authorization", "Bearer s3cret")],
        &json!({}),
    );
    assert_eq!(right.status, 202);
    assert_eq!(next_control(&mut controls), Some(DashboardControl::Stop));
    let by_query = post_json(
        addr,
        "/api/authorize?token=s3cret",
        &[],
        &json!({"authorized": false}),
    );
    assert_eq!(by_query.status, 202);
    assert_eq!(
        next_control(&mut controls),
        Some(DashboardControl::Authorize(false))
    );
    // Reading needs no token.
    assert_eq!(get(addr, "/api/history").status, 200);
}

#[test]
fn off_loopback_without_a_token_the_dashboard_is_read_only() {
    let (_dashboard, mut controls, addr) = serve(Mode::Evse, "0.0.0.0:0", None);
    let status = get(addr, "/api/status").json();
    assert_eq!(status["controls"]["stop"], false);
    assert!(status["controls"]["disabled_reason"].is_string());
    assert_eq!(post_json(addr, "/api/stop", &[], &json!({})).status, 403);
    assert_eq!(next_control(&mut controls), None);
}

#[test]
fn the_car_has_no_charger_controls() {
    let (_dashboard, mut controls, addr) = serve(Mode::Ev, "127.0.0.1:0", None);
    let status = get(addr, "/api/status").json();
    assert_eq!(status["controls"]["authorize"], false);
    assert_eq!(
        post_json(addr, "/api/authorize", &[], &json!({"authorized": true})).status,
        403
    );
    assert_eq!(next_control(&mut controls), None);
    assert_eq!(post_json(addr, "/api/stop", &[], &json!({})).status, 202);
}

#[test]
fn a_control_with_nobody_listening_says_so() {
    let (_dashboard, controls, addr) = serve(Mode::Sim, "127.0.0.1:0", None);
    drop(controls);
    let r = post_json(addr, "/api/stop", &[], &json!({}));
    assert_eq!(r.status, 503);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("nothing is running")
    );
}

#[test]
fn history_is_a_bounded_ring() {
    let (dashboard, _controls) = start_with(Options {
        mode: Mode::Sim,
        address: "127.0.0.1:0".to_owned(),
        token: None,
        allow_control: true,
        capacity: Capacity {
            events: 5,
            samples: 4,
        },
    })
    .unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], dashboard.local_addr().unwrap().port()));
    for i in 0..20 {
        dashboard.note(format!("note {i}"));
    }
    let h = get(addr, "/api/history").json();
    let texts: Vec<&str> = h["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        ["note 15", "note 16", "note 17", "note 18", "note 19"]
    );
    assert_eq!(h["events_dropped"], 15);
    assert_eq!(
        keys(&h),
        BTreeSet::from(["events", "samples", "events_dropped"])
    );
    let s = get(addr, "/api/status").json();
    assert_eq!(s["history"]["events"], 5);
    assert_eq!(s["history"]["event_capacity"], 5);
}

#[test]
fn the_capture_is_offered_once_there_is_one() {
    let (dashboard, _controls, addr) = serve(Mode::Sim, "127.0.0.1:0", None);
    assert_eq!(get(addr, "/api/capture").status, 404);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("session.pcapng");
    std::fs::write(&path, b"\x0a\x0d\x0d\x0a capture bytes").unwrap();
    dashboard.capture_file(&path);
    let r = get(addr, "/api/capture");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"\x0a\x0d\x0d\x0a capture bytes");
    assert_eq!(r.header("content-type"), Some("application/x-pcapng"));
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"session.pcapng\"")
    );
    assert_eq!(get(addr, "/api/status").json()["capture"], "session.pcapng");
}

#[test]
fn without_an_address_the_dashboard_is_disabled() {
    let (dashboard, mut controls) = start(Mode::Ev, &Web::default()).unwrap();
    assert!(!dashboard.is_enabled());
    dashboard.note("goes nowhere");
    assert_eq!(controls.try_recv(), None);
}

#[test]
fn a_busy_address_is_an_error_at_start() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let err = start_with(Options {
        mode: Mode::Ev,
        address: address.clone(),
        token: None,
        allow_control: true,
        capacity: Capacity::default(),
    })
    .unwrap_err();
    assert!(format!("{err:#}").contains(&address), "{err:#}");
}

#[test]
fn the_event_stream_delivers_every_change_in_order() {
    let (dashboard, _controls, addr) = serve(Mode::Sim, "127.0.0.1:0", None);
    dashboard.note("before anyone listened");
    let mut first = SseReader::open(addr, "/api/events");
    let snapshot = first.next_event();
    assert_eq!(snapshot.event, "snapshot");
    let snapshot: Value = serde_json::from_str(&snapshot.data).unwrap();
    assert_eq!(
        snapshot["history"]["events"][0]["text"],
        "before anyone listened"
    );
    let mut seq = snapshot["status"]["seq"].as_u64().unwrap();

    // The feeder waits at message 20 until the second browser has joined.
    let (joined_tx, joined_rx) = std::sync::mpsc::channel::<()>();
    let feeder = {
        let dashboard = dashboard.clone();
        std::thread::spawn(move || {
            for i in 0..40 {
                if i == 20 {
                    joined_rx.recv().unwrap();
                }
                dashboard.session_event(&SessionEvent::Sent {
                    name: "CurrentDemandReq",
                    summary: format!("#{i}"),
                });
                if i == 20 {
                    dashboard.session_event(&SessionEvent::Finished(Outcome::Completed));
                }
            }
        })
    };
    let mut summaries = Vec::new();
    let mut second: Option<SseReader> = None;
    let mut second_seq = 0;
    while summaries.len() < 40 {
        let e = first.next_event();
        assert_eq!(e.event, "update");
        let update: Value = serde_json::from_str(&e.data).unwrap();
        let this = update["seq"].as_u64().unwrap();
        assert_eq!(this, seq + 1, "updates are consecutive");
        assert_eq!(e.id.as_deref(), Some(this.to_string().as_str()));
        assert_eq!(update["status"]["seq"], this);
        seq = this;
        let event = &update["event"];
        if event["kind"] == "message" {
            summaries.push(event["summary"].as_str().unwrap().to_owned());
        }
        if summaries.len() == 10 && second.is_none() {
            // A second browser joining mid-session gets a snapshot and then exactly the
            // updates after it.
            let mut reader = SseReader::open(addr, "/api/events");
            let snap: Value = serde_json::from_str(&reader.next_event().data).unwrap();
            second_seq = snap["status"]["seq"].as_u64().unwrap();
            second = Some(reader);
            joined_tx.send(()).unwrap();
        }
    }
    feeder.join().unwrap();
    let expected: Vec<String> = (0..40).map(|i| format!("#{i}")).collect();
    assert_eq!(summaries, expected);
    let mut second = second.unwrap();
    let next: Value = serde_json::from_str(&second.next_event().data).unwrap();
    assert_eq!(next["seq"].as_u64().unwrap(), second_seq + 1);
}

#[test]
fn a_session_after_a_finished_one_starts_afresh() {
    let (dashboard, _controls, addr) = serve(Mode::Evse, "127.0.0.1:0", None);
    dashboard.session_event(&SessionEvent::PhaseChanged(Phase::Charging));
    dashboard.session_event(&SessionEvent::Finished(Outcome::Completed));
    assert_eq!(
        get(addr, "/api/status").json()["session"]["state"],
        "completed"
    );
    dashboard.session_event(&SessionEvent::PhaseChanged(Phase::Handshake));
    let s = get(addr, "/api/status").json();
    assert_eq!(s["session"]["number"], 2);
    assert_eq!(s["session"]["state"], "running");
    assert_eq!(s["session"]["phase"]["name"], "Handshake");
    let r = request(addr, "GET", "/api/history", &[], b"").json();
    let started: Vec<u64> = r["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "session_started")
        .map(|e| e["number"].as_u64().unwrap())
        .collect();
    assert_eq!(started, [1, 2]);
}

#[test]
fn a_flood_of_measurements_is_coalesced_and_the_last_value_arrives() {
    let (dashboard, _controls, addr) = serve(Mode::Ev, "127.0.0.1:0", None);
    let mut events = SseReader::open(addr, "/api/events");
    assert_eq!(events.next_event().event, "snapshot");
    for k in 0..=500 {
        dashboard.measurement(&Measurement::BatteryVoltage(Volts(k as f32)));
    }
    let mut updates = 0;
    loop {
        let e = events.next_event();
        updates += 1;
        let update: Value = serde_json::from_str(&e.data).unwrap();
        if update["status"]["values"]["battery_voltage"] == 500.0 {
            break;
        }
    }
    assert!(updates < 50, "{updates} updates for 501 measurements");
}
