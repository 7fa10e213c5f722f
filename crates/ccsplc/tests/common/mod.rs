//! Support for the tests that run the `ccsplc` binary in network namespaces: namespaces and
//! veth pairs that delete themselves, the TAP modem simulator of `ccs-linux`, child processes
//! that are killed when a test fails, and `ccsplc decode` on the recordings. Needs root.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The binary under test.
pub fn ccsplc() -> &'static str {
    env!("CARGO_BIN_EXE_ccsplc")
}

/// Fails the test with a clear message when not run as root.
pub fn require_root() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned));
    assert_eq!(
        euid.as_deref(),
        Some("0"),
        "namespace tests need root (CAP_NET_ADMIN, CAP_NET_RAW): run the tests as root"
    );
}

/// A name unique to this process and test.
pub fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

/// Runs `ip` with `args`; panics with its stderr on failure.
pub fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("running ip (iproute2, installed by scripts/setup.sh)");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace, deleted on drop (with every interface inside).
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(name: String) -> Self {
        ip(&["netns", "add", &name]);
        let ns = Self { name };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Two namespaces, `ev` and `evse`.
pub struct TwoHosts {
    pub ev: Netns,
    pub evse: Netns,
}

impl TwoHosts {
    pub fn new() -> Self {
        require_root();
        let base = unique("ccsr");
        Self {
            ev: Netns::new(format!("{base}-ev")),
            evse: Netns::new(format!("{base}-evse")),
        }
    }

    /// Joins the namespaces with a veth pair `ev0` ↔ `evse0`, both up.
    pub fn with_veth(self) -> Self {
        let tmp = unique("r");
        let (a, b) = (format!("{tmp}a"), format!("{tmp}b"));
        assert!(a.len() < 16, "interface name {a} too long");
        ip(&["link", "add", &a, "type", "veth", "peer", "name", &b]);
        ip(&["link", "set", &a, "netns", &self.ev.name]);
        ip(&["link", "set", &b, "netns", &self.evse.name]);
        ip(&["-n", &self.ev.name, "link", "set", &a, "name", "ev0"]);
        ip(&["-n", &self.evse.name, "link", "set", &b, "name", "evse0"]);
        ip(&["-n", &self.ev.name, "link", "set", "ev0", "up"]);
        ip(&["-n", &self.evse.name, "link", "set", "evse0", "up"]);
        self
    }
}

/// A child process we started; killed (by its PID) on drop if still running.
pub struct Proc {
    pub child: Child,
    pub name: &'static str,
    pub stdout: PathBuf,
}

impl Proc {
    /// Starts `program args` inside namespace `ns`, output into files in `dir`.
    pub fn spawn_in(
        ns: &str,
        name: &'static str,
        dir: &Path,
        program: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let stdout = dir.join(format!("{name}.out"));
        let file = std::fs::File::create(&stdout).unwrap();
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", ns, program])
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file);
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command.spawn().unwrap();
        Self {
            child,
            name,
            stdout,
        }
    }

    /// Waits up to `limit` for the exit; `None` if it is still running.
    pub fn wait_for(&mut self, limit: Duration) -> Option<i32> {
        let end = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status.code().unwrap_or(-1));
            }
            if Instant::now() >= end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What it printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// Sends `signal` (e.g. "-INT") to the process.
    pub fn signal(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `ccsplc decode FILE`.
pub fn decode(file: &Path) -> Output {
    Command::new(ccsplc())
        .arg("decode")
        .arg(file)
        .output()
        .unwrap()
}

/// Asserts that `file` decodes without an error and holds CurrentDemand and the trace lines;
/// returns the decoded text.
pub fn assert_recording_decodes(file: &Path) -> String {
    let out = decode(file);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "ccsplc decode {} failed:\n{text}\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("CurrentDemandReq"),
        "no CurrentDemandReq:\n{text}"
    );
    assert!(
        text.contains("CurrentDemandRes"),
        "no CurrentDemandRes:\n{text}"
    );
    assert!(
        text.contains(" LOG "),
        "no trace lines in the recording:\n{text}"
    );
    assert!(text.contains(" 0 errors"), "decode errors:\n{text}");
    text
}

/// Links the root namespace to `ns` with a veth pair carrying unique-local IPv6 addresses
/// (no duplicate address detection, usable at once), so that a test can reach a server
/// inside `ns` on an address that is not loopback. Returns the address inside `ns`; the pair
/// goes away with the namespace.
pub fn link_from_root(ns: &Netns) -> std::net::Ipv6Addr {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    let prefix = format!("fdcc:{:x}:{:x}:{n:x}", pid >> 16, pid & 0xffff);
    let root = format!("w{pid:x}{n:x}");
    let inside = format!("{root}i");
    assert!(inside.len() < 16, "interface name {inside} too long");
    ip(&[
        "link", "add", &root, "type", "veth", "peer", "name", &inside,
    ]);
    ip(&["link", "set", &inside, "netns", &ns.name]);
    ip(&[
        "-6",
        "addr",
        "add",
        &format!("{prefix}::1/64"),
        "dev",
        &root,
        "nodad",
    ]);
    ip(&[
        "-n",
        &ns.name,
        "-6",
        "addr",
        "add",
        &format!("{prefix}::2/64"),
        "dev",
        &inside,
        "nodad",
    ]);
    ip(&["link", "set", &root, "up"]);
    ip(&["-n", &ns.name, "link", "set", &inside, "up"]);
    format!("{prefix}::2").parse().unwrap()
}
