//! A minimal WebDriver client (W3C WebDriver over HTTP/JSON) for headless Chromium through
//! chromedriver: sessions, navigation, scripts, clicks, screenshots. Uses the sibling `http`
//! module only, so integration tests can include both files.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::http;

/// The W3C key of an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Chromium's flags: headless, and quiet on the network (without the background-networking
/// flags it floods a closed network with update and telemetry requests).
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--force-color-profile=srgb",
];

/// Where `scripts/setup.sh` installs the browser and its driver.
fn find(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}

/// A running chromedriver, killed on drop.
pub(crate) struct Driver {
    child: Child,
    addr: SocketAddr,
    chromium: PathBuf,
    profiles: tempfile::TempDir,
}

impl Driver {
    /// Starts chromedriver on a free loopback port. Panics (a failing test, not a skipped one)
    /// when Chromium or chromedriver is missing: `scripts/setup.sh` installs them.
    pub(crate) fn start() -> Self {
        let (Some(chromium), Some(chromedriver)) = (find("chromium"), find("chromedriver")) else {
            panic!(
                "the dashboard's browser test needs `chromium` and `chromedriver` on PATH: run \
                 scripts/setup.sh (Debian packages chromium and chromium-driver)"
            );
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start chromedriver");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let driver = Self {
            child,
            addr,
            chromium,
            profiles: tempfile::tempdir().unwrap(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if std::net::TcpStream::connect(addr).is_ok() {
                let status = http::get(addr, "/status").json();
                if status["value"]["ready"] == true {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "chromedriver did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        driver
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let response = match body {
            Some(body) => http::post_json(self.addr, path, &[], body),
            None => http::request(self.addr, method, path, &[], b""),
        };
        let value = response.json();
        assert_eq!(
            response.status, 200,
            "WebDriver {method} {path} failed: {value}"
        );
        value["value"].clone()
    }

    /// A new browser with its own fresh profile: `window` = (width, height) of a desktop
    /// window, or `mobile` = a phone's viewport (width, height, pixel ratio).
    pub(crate) fn session(&self, name: &str, size: WindowSize) -> Session<'_> {
        let profile = self.profiles.path().join(name);
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| (*s).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let mut options = json!({
            "binary": self.chromium.to_string_lossy(),
            "args": args,
        });
        match size {
            WindowSize::Desktop { width, height } => {
                options["args"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!(format!("--window-size={width},{height}")));
            }
            WindowSize::Phone {
                width,
                height,
                pixel_ratio,
            } => {
                options["mobileEmulation"] = json!({
                    "deviceMetrics": {
                        "width": width, "height": height,
                        "pixelRatio": pixel_ratio, "touch": true, "mobile": true,
                    },
                    "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 \
                                  (KHTML, like Gecko) Chrome/130.0 Mobile Safari/537.36",
                });
            }
        }
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": options,
                "goog:loggingPrefs": { "browser": "ALL" },
            }}
        });
        let value = self.call("POST", "/session", Some(&capabilities));
        let id = value["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {value}"))
            .to_owned();
        Session { driver: self, id }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Our own child, by its handle.
        drop(self.child.kill());
        drop(self.child.wait());
    }
}

/// The size of a browser window.
#[derive(Clone, Copy, Debug)]
pub(crate) enum WindowSize {
    /// A desktop window of this size (CSS pixels).
    Desktop {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
    },
    /// A phone's viewport (CSS pixels) and device pixel ratio.
    Phone {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
        /// Device pixels per CSS pixel.
        pixel_ratio: f64,
    },
}

/// One browser.
pub(crate) struct Session<'d> {
    driver: &'d Driver,
    id: String,
}

impl Session<'_> {
    fn path(&self, tail: &str) -> String {
        format!("/session/{}{tail}", self.id)
    }

    /// Opens `url`.
    pub(crate) fn goto(&self, url: &str) {
        self.driver
            .call("POST", &self.path("/url"), Some(&json!({ "url": url })));
    }

    /// Runs `script` (a function body; `arguments` are `args`) and returns its result.
    pub(crate) fn execute(&self, script: &str, args: &[Value]) -> Value {
        self.driver.call(
            "POST",
            &self.path("/execute/sync"),
            Some(&json!({ "script": script, "args": args })),
        )
    }

    /// The text content of the element `css`, or `None` if there is none.
    pub(crate) fn text(&self, css: &str) -> Option<String> {
        self.execute(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
            &[json!(css)],
        )
        .as_str()
        .map(str::to_owned)
    }

    /// Waits until `check(text of css)` holds, and returns that text; panics with `what`
    /// and the last text after `timeout`.
    pub(crate) fn wait_for_text(
        &self,
        css: &str,
        timeout: Duration,
        what: &str,
        check: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.text(css);
            if let Some(t) = &text
                && check(t)
            {
                return t.clone();
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {css} is {text:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn element(&self, css: &str) -> String {
        let element = self.driver.call(
            "POST",
            &self.path("/element"),
            Some(&json!({ "using": "css selector", "value": css })),
        );
        element[ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {element}"))
            .to_owned()
    }

    /// Clicks the element `css` (a real click through the browser's input pipeline).
    pub(crate) fn click(&self, css: &str) {
        let id = self.element(css);
        self.driver.call(
            "POST",
            &self.path(&format!("/element/{id}/click")),
            Some(&json!({})),
        );
    }

    /// Types `text` into the element `css`.
    pub(crate) fn type_text(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.driver.call(
            "POST",
            &self.path(&format!("/element/{id}/value")),
            Some(&json!({ "text": text })),
        );
    }

    /// Makes the page see `prefers-color-scheme: dark` (DevTools protocol).
    pub(crate) fn prefer_dark(&self) {
        self.driver.call(
            "POST",
            &self.path("/goog/cdp/execute"),
            Some(&json!({
                "cmd": "Emulation.setEmulatedMedia",
                "params": { "features": [{ "name": "prefers-color-scheme", "value": "dark" }] },
            })),
        );
    }

    /// Saves what the viewport shows as a PNG.
    pub(crate) fn screenshot(&self, path: &Path) {
        let data = self.driver.call("GET", &self.path("/screenshot"), None);
        let png = base64_decode(data.as_str().unwrap());
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::write(path, png).unwrap();
    }

    /// Saves the whole page (beyond the viewport) as a PNG, through the DevTools protocol.
    pub(crate) fn full_page_screenshot(&self, path: &Path) {
        let data = self.driver.call(
            "POST",
            &self.path("/goog/cdp/execute"),
            Some(&json!({
                "cmd": "Page.captureScreenshot",
                "params": { "format": "png", "captureBeyondViewport": true },
            })),
        );
        let png = base64_decode(data["data"].as_str().unwrap());
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::write(path, png).unwrap();
    }

    /// The browser console's errors since the last call (script errors, CSP violations,
    /// failed requests).
    pub(crate) fn console_errors(&self) -> Vec<String> {
        let entries = self.driver.call(
            "POST",
            &self.path("/se/log"),
            Some(&json!({ "type": "browser" })),
        );
        entries
            .as_array()
            .map(|all| {
                all.iter()
                    .filter(|e| e["level"] == "SEVERE")
                    .map(|e| e["message"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Closes the browser.
    pub(crate) fn close(self) {
        self.driver.call("DELETE", &self.path(""), None);
    }
}

/// Standard base64 (RFC 4648) with padding, as WebDriver sends screenshots.
fn base64_decode(text: &str) -> Vec<u8> {
    fn sextet(c: u8) -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c:#x}"),
        }
    }
    let clean: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for group in clean.chunks(4) {
        let mut n = 0_u32;
        for (i, &c) in group.iter().enumerate() {
            n |= sextet(c) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..group.len()]);
    }
    out
}

#[test]
fn base64_decodes_with_and_without_padding() {
    assert_eq!(base64_decode("TWFu"), b"Man");
    assert_eq!(base64_decode("TWE="), b"Ma");
    assert_eq!(base64_decode("TQ=="), b"M");
    assert_eq!(base64_decode("iVBORw0K"), b"\x89PNG\r\n");
}
