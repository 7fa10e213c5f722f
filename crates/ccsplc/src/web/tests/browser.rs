//! The page in a real browser: headless Chromium through chromedriver watches a synthetic
//! session live on a phone-sized and a laptop-sized window, and stops it with the stop button.
//! Screenshots go to `$CCSPLC_SCREENSHOT_DIR` (default: `<tmp>/ccsplc-dashboard-screenshots`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use super::synthetic::{self, Ending};
use super::webdriver::{Driver, Session, WindowSize};
use crate::web::{Capacity, DashboardControl, Mode, Options, start_with};

const WAIT: Duration = Duration::from_secs(30);

fn screenshot_dir() -> PathBuf {
    let dir = std::env::var_os("CCSPLC_SCREENSHOT_DIR").map_or_else(
        || std::env::temp_dir().join("ccsplc-dashboard-screenshots"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn number(session: &Session<'_>, css: &str) -> Option<f64> {
    session.text(css)?.trim().parse().ok()
}

fn samples(session: &Session<'_>) -> u64 {
    session
        .execute("return model.samples.length;", &[])
        .as_u64()
        .unwrap()
}

/// The page fits its window: no sideways scrolling, and the layout has the viewport's width.
fn assert_fits(session: &Session<'_>, width: u64, name: &str) {
    let m = session.execute(
        "return [window.innerWidth, document.documentElement.scrollWidth];",
        &[],
    );
    let inner = m[0].as_u64().unwrap();
    let scroll = m[1].as_u64().unwrap();
    assert_eq!(inner, width, "{name}: viewport width");
    assert!(
        scroll <= inner,
        "{name}: page is {scroll}px wide in a {inner}px window"
    );
}

fn wait_live(session: &Session<'_>) {
    session.wait_for_text("#live", WAIT, "the event stream", |t| t == "live");
}

#[test]
fn the_page_follows_a_session_live_and_its_stop_button_stops_it() {
    let driver = Driver::start();
    let (dashboard, mut controls) = start_with(Options {
        mode: Mode::Sim,
        address: "127.0.0.1:0".to_owned(),
        token: None,
        allow_control: true,
        capacity: Capacity::default(),
    })
    .unwrap();
    let port = dashboard.local_addr().unwrap().port();
    let url = format!("http://{}/", SocketAddr::from(([127, 0, 0, 1], port)));
    let dir = screenshot_dir();

    let laptop = driver.session(
        "laptop",
        WindowSize::Desktop {
            width: 1366,
            height: 768,
        },
    );
    let phone = driver.session(
        "phone",
        WindowSize::Phone {
            width: 390,
            height: 844,
            pixel_ratio: 2.0,
        },
    );
    laptop.goto(&url);
    phone.goto(&url);
    wait_live(&laptop);
    wait_live(&phone);
    assert_eq!(laptop.text("#phase").as_deref(), Some("Waiting"));
    assert_eq!(laptop.text("#mode").as_deref(), Some("SIM"));

    let feeder = std::thread::spawn(move || {
        synthetic::run(
            &dashboard,
            &mut controls,
            Duration::from_millis(150),
            Duration::from_secs(120),
        )
    });

    // The phase changes in place while we watch, without a reload.
    let mut phases_seen = vec![laptop.text("#phase").unwrap()];
    let deadline = std::time::Instant::now() + WAIT;
    while phases_seen.last().map(String::as_str) != Some("Charging") {
        assert!(
            std::time::Instant::now() < deadline,
            "never reached Charging; saw {phases_seen:?}"
        );
        let now = laptop.text("#phase").unwrap();
        if phases_seen.last() != Some(&now) {
            phases_seen.push(now);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        phases_seen.len() >= 3,
        "the phase should move through several steps live: {phases_seen:?}"
    );
    laptop.wait_for_text("#protocol", WAIT, "the protocol", |t| t == "DIN 70121");
    laptop.wait_for_text("#slac-state", WAIT, "SLAC", |t| t == "paired");
    laptop.wait_for_text("#modem-state", WAIT, "the modem", |t| t == "found");
    phone.wait_for_text("#phase", WAIT, "the phone's phase", |t| t == "Charging");

    // The values move during charging, on both windows, and the chart grows.
    let first_soc = number(&laptop, "#v-soc");
    let samples_before = samples(&laptop);
    phone.wait_for_text("#v-present-current", WAIT, "current on the phone", |t| {
        t.parse::<f64>().is_ok_and(|a| a >= 120.0)
    });
    laptop.wait_for_text("#v-soc", WAIT, "the SoC to rise", |t| {
        t.parse::<f64>().ok() > first_soc.map(|s| s + 1.0)
    });
    let voltage = number(&laptop, "#v-present-voltage").unwrap();
    assert!((360.0..=420.0).contains(&voltage), "voltage {voltage}");
    let power = number(&laptop, "#v-power").unwrap();
    assert!(power > 40.0 && power < 52.0, "power {power} kW");
    assert!(
        samples(&laptop) > samples_before,
        "the chart got new samples"
    );
    assert!(samples(&phone) > 3, "the phone's chart has samples");
    assert!(
        laptop
            .text("#messages")
            .unwrap()
            .contains("CurrentDemandRes"),
        "the last messages are listed"
    );
    assert!(
        laptop
            .text("#events")
            .unwrap()
            .contains("Phase CableCheck (560)"),
        "the phases are in the event list"
    );
    assert_eq!(laptop.text("#l-max-voltage").as_deref(), Some("500"));

    assert_fits(&laptop, 1366, "laptop");
    assert_fits(&phone, 390, "phone");
    // Let a few more seconds of charging into the chart before the pictures.
    std::thread::sleep(Duration::from_secs(3));
    let shots = [
        dir.join("dashboard-phone-390x844.png"),
        dir.join("dashboard-phone-390-full.png"),
        dir.join("dashboard-laptop-1366x768.png"),
        dir.join("dashboard-laptop-1366x768-full.png"),
    ];
    phone.screenshot(&shots[0]);
    phone.full_page_screenshot(&shots[1]);
    laptop.screenshot(&shots[2]);
    laptop.full_page_screenshot(&shots[3]);

    // The stop button, pressed on the phone, stops the session.
    let enabled: Value = phone.execute("return !document.getElementById('stop').disabled;", &[]);
    assert_eq!(enabled, Value::Bool(true), "stop is offered while charging");
    phone.click("#stop");
    let report = feeder.join().unwrap();
    assert_eq!(report.ending, Ending::StoppedFromDashboard);
    assert_eq!(report.controls, [DashboardControl::Stop]);
    assert!(report.charging_steps > 10);
    for session in [&phone, &laptop] {
        session.wait_for_text("#session-state", WAIT, "the end", |t| t == "completed");
        session.wait_for_text("#phase", WAIT, "the last phase", |t| t == "Finished");
    }
    assert!(
        laptop.text("#events").unwrap().contains("Dashboard: stop"),
        "the stop is in the event list"
    );
    let disabled = phone.execute("return document.getElementById('stop').disabled;", &[]);
    assert_eq!(
        disabled,
        Value::Bool(true),
        "no stop once the session is over"
    );
    let after = dir.join("dashboard-laptop-1366x768-stopped.png");
    laptop.screenshot(&after);

    for shot in shots.iter().chain([&after]) {
        let bytes = std::fs::read(shot).unwrap();
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
            "{shot:?}"
        );
        eprintln!("screenshot: {}", shot.display());
    }
    for (name, session) in [("phone", &phone), ("laptop", &laptop)] {
        assert_eq!(
            session.console_errors(),
            Vec::<String>::new(),
            "{name} console"
        );
    }
    // The console check can see errors at all.
    laptop.execute("console.error('probe');", &[]);
    assert!(laptop.console_errors().iter().any(|m| m.contains("probe")));
    phone.close();
    laptop.close();
}

#[test]
fn off_loopback_the_controls_work_only_with_the_token_typed_in() {
    let driver = Driver::start();
    let (dashboard, mut controls) = start_with(Options {
        mode: Mode::Evse,
        address: "0.0.0.0:0".to_owned(),
        token: Some("s3cret".to_owned()),
        allow_control: true,
        capacity: Capacity::default(),
    })
    .unwrap();
    let port = dashboard.local_addr().unwrap().port();
    let url = format!("http://{}/", SocketAddr::from(([127, 0, 0, 1], port)));
    let phone = driver.session(
        "phone-token",
        WindowSize::Phone {
            width: 390,
            height: 844,
            pixel_ratio: 2.0,
        },
    );
    phone.prefer_dark();
    phone.goto(&url);
    wait_live(&phone);
    let feeder = std::thread::spawn(move || {
        synthetic::run(
            &dashboard,
            &mut controls,
            Duration::from_millis(100),
            Duration::from_secs(120),
        )
    });
    phone.wait_for_text("#phase", WAIT, "charging", |t| t == "Charging");
    let token_row_shown = phone.execute(
        "return document.getElementById('token-row').offsetParent !== null;",
        &[],
    );
    assert_eq!(
        token_row_shown,
        Value::Bool(true),
        "the token field is shown"
    );

    // Without the token the stop is refused, and the page says why.
    phone.click("#stop");
    phone.wait_for_text("#control-message", WAIT, "the refusal", |t| {
        t.contains("token")
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        phone.text("#phase").as_deref(),
        Some("Charging"),
        "still charging"
    );

    // With it, authorize and stop go through.
    phone.type_text("#token", "s3cret");
    phone.click("#authorize");
    phone.wait_for_text("#authorize", WAIT, "authorized", |t| {
        t.starts_with("Authorized")
    });
    let shot = screenshot_dir().join("dashboard-phone-390x844-dark-token.png");
    phone.screenshot(&shot);
    eprintln!("screenshot: {}", shot.display());
    phone.click("#stop");
    let report = feeder.join().unwrap();
    assert_eq!(report.ending, Ending::StoppedFromDashboard);
    assert_eq!(
        report.controls,
        [DashboardControl::Authorize(true), DashboardControl::Stop]
    );
    phone.wait_for_text("#session-state", WAIT, "the end", |t| t == "completed");
    phone.close();
}
