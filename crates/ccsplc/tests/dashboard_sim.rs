//! The dashboard end to end: `ccsplc sim --web 127.0.0.1:0` (the real binary, a whole simulated
//! DIN session), watched in headless Chromium on a phone-sized and a laptop-sized window; the
//! phase and the values must change live, and the stop button must end the session early.
//! Screenshots go to `$CCSPLC_SCREENSHOT_DIR` (default `<tmp>/ccsplc-dashboard-screenshots`).
// Test helpers outside #[test] functions: a failure is a panic with the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(
    dead_code,
    reason = "shared with the unit tests; not every helper is used here"
)]
#[path = "../src/web/tests/http.rs"]
mod http;
#[allow(
    dead_code,
    reason = "shared with the unit tests; not every helper is used here"
)]
#[path = "../src/web/tests/webdriver.rs"]
mod webdriver;

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use webdriver::{Driver, Session, WindowSize};

const WAIT: Duration = Duration::from_secs(60);

/// `ccsplc sim`, killed on drop if it is still running.
struct Sim {
    child: Child,
    stdout: mpsc::Receiver<String>,
}

impl Drop for Sim {
    fn drop(&mut self) {
        drop(self.child.kill());
        drop(self.child.wait());
    }
}

/// Starts the simulator with the dashboard on a free loopback port; returns it and the port,
/// read from its log line `dashboard on http://127.0.0.1:PORT/`.
fn start_sim() -> (Sim, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ccsplc"))
        .args([
            "sim",
            "--web",
            "127.0.0.1:0",
            "--charge-seconds",
            "300",
            "--seed",
            "7",
        ])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (port_tx, port_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            eprintln!("sim: {line}");
            if let Some((_, rest)) = line.split_once("dashboard on http://127.0.0.1:")
                && let Some(port) = rest.split('/').next().and_then(|p| p.parse::<u16>().ok())
                && port_tx.send(port).is_err()
            {
                break;
            }
        }
    });
    let mut stdout = child.stdout.take().unwrap();
    let (out_tx, out_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut all = String::new();
        drop(stdout.read_to_string(&mut all));
        drop(out_tx.send(all));
    });
    let port = port_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("ccsplc sim did not say where its dashboard is");
    (
        Sim {
            child,
            stdout: out_rx,
        },
        port,
    )
}

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

#[test]
fn ccsplc_sim_web_shows_the_session_live_and_stops_it_from_the_page() {
    let driver = Driver::start();
    let started = Instant::now();
    let (mut sim, port) = start_sim();
    let url = format!("http://127.0.0.1:{port}/");
    let laptop = driver.session(
        "sim-laptop",
        WindowSize::Desktop {
            width: 1366,
            height: 768,
        },
    );
    let phone = driver.session(
        "sim-phone",
        WindowSize::Phone {
            width: 390,
            height: 844,
            pixel_ratio: 2.0,
        },
    );
    laptop.goto(&url);
    phone.goto(&url);
    for s in [&laptop, &phone] {
        s.wait_for_text("#live", WAIT, "the event stream", |t| t == "live");
    }
    assert_eq!(laptop.text("#mode").as_deref(), Some("SIM"));

    // SLAC, SDP, TCP and the DIN sequence appear as they happen.
    laptop.wait_for_text("#modem-state", WAIT, "a modem", |t| t == "found");
    let mut phases = vec![laptop.text("#phase").unwrap()];
    let deadline = Instant::now() + WAIT;
    while phases.last().map(String::as_str) != Some("Charging") {
        assert!(
            Instant::now() < deadline,
            "never reached Charging: {phases:?}"
        );
        let now = laptop.text("#phase").unwrap();
        if phases.last() != Some(&now) {
            phases.push(now);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(phases.len() >= 4, "phases seen changing live: {phases:?}");
    assert_eq!(laptop.text("#slac-state").as_deref(), Some("paired"));
    assert_eq!(laptop.text("#protocol").as_deref(), Some("DIN 70121"));
    assert!(laptop.text("#link-text").unwrap().contains("TCP connected"));
    phone.wait_for_text("#phase", WAIT, "the phone's phase", |t| t == "Charging");

    // The values move while charging.
    laptop.wait_for_text("#v-present-current", WAIT, "charging current", |t| {
        t.parse::<f64>().is_ok_and(|a| a > 10.0)
    });
    let voltage = number(&laptop, "#v-present-voltage").unwrap();
    assert!((200.0..=500.0).contains(&voltage), "voltage {voltage}");
    let soc = number(&laptop, "#v-soc").unwrap();
    let before = samples(&laptop);
    laptop.wait_for_text("#v-soc", WAIT, "the SoC to rise", |t| {
        t.parse::<f64>().is_ok_and(|s| s > soc)
    });
    assert!(samples(&laptop) > before, "the chart grows");
    assert!(samples(&phone) > 3);
    assert!(
        laptop.text("#messages").unwrap().contains("CurrentDemand"),
        "the messages are listed"
    );
    std::thread::sleep(Duration::from_secs(2));
    let dir = screenshot_dir();
    let shots = [
        dir.join("sim-phone-390x844.png"),
        dir.join("sim-phone-390-full.png"),
        dir.join("sim-laptop-1366x768.png"),
    ];
    phone.screenshot(&shots[0]);
    phone.full_page_screenshot(&shots[1]);
    laptop.screenshot(&shots[2]);

    // No script errors or blocked resources while it ran (checked before the end: once the
    // process is gone, the page's reconnection attempts fail, as they should).
    for (name, s) in [("phone", &phone), ("laptop", &laptop)] {
        assert_eq!(s.console_errors(), Vec::<String>::new(), "{name} console");
    }

    // Stop from the laptop: the session winds down and completes, long before its 300 s.
    let stop_offered = laptop.execute("return !document.getElementById('stop').disabled;", &[]);
    assert_eq!(stop_offered, Value::Bool(true));
    laptop.click("#stop");
    for s in [&laptop, &phone] {
        s.wait_for_text("#session-state", WAIT, "the end", |t| t == "completed");
    }
    assert!(laptop.text("#events").unwrap().contains("Dashboard: stop"));
    let after = dir.join("sim-laptop-1366x768-stopped.png");
    laptop.screenshot(&after);

    let exit = loop {
        if let Some(status) = sim.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "ccsplc sim did not end after the stop"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(exit.success(), "ccsplc sim exited with {exit}");
    let stdout = sim.stdout.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(stdout.contains("stop requested"), "{stdout}");
    assert!(stdout.contains("Result: session completed"), "{stdout}");
    for shot in shots.iter().chain([&after]) {
        eprintln!("screenshot: {}", shot.display());
    }
    phone.close();
    laptop.close();
}
