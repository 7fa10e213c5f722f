//! Support for the tests that run the `ccsplc` binary in network namespaces: namespaces and
//! veth pairs that delete themselves, the TAP modem simulator of `ccs-linux`, child processes
//! that are killed when a test fails, and `ccsplc decode` on the recordings. Needs root.
#![allow(dead_code, unreachable_pub, unused_imports)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub use ccs_testdata::netns::{Netns, TwoHosts, ip, require_root, unique};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The binary under test.
pub fn ccsplc() -> &'static str {
    env!("CARGO_BIN_EXE_ccsplc")
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

/// How long a whole `--no-slac` session may take: generous, a session with
/// `--charge-seconds 3` takes about 15 s on a quiet machine.
pub const SESSION_LIMIT: Duration = Duration::from_secs(90);

/// How long the charger may take to end after the car has ended.
pub const CHARGER_AFTER_CAR: Duration = Duration::from_secs(15);

/// `ccsplc evse --interface evse0 --no-slac --once`, with `--config config` if given and then
/// `extra`, in the charger's namespace of `hosts` (output in `dir/evse.out`).
pub fn spawn_evse(hosts: &TwoHosts, dir: &Path, config: Option<&Path>, extra: &[&str]) -> Proc {
    let mut args = vec!["--once"];
    args.extend(extra);
    spawn_evse_until_stopped(hosts, dir, config, &args)
}

/// [`spawn_evse`] without `--once`: the charger serves one car after the other until it is
/// sent SIGINT.
pub fn spawn_evse_until_stopped(
    hosts: &TwoHosts,
    dir: &Path,
    config: Option<&Path>,
    extra: &[&str],
) -> Proc {
    let mut args = vec!["evse"];
    if let Some(config) = config {
        args.extend(["--config", config.to_str().unwrap()]);
    }
    args.extend(["--interface", "evse0", "--no-slac"]);
    args.extend(extra);
    Proc::spawn_in(&hosts.evse.name, "evse", dir, ccsplc(), &args, &[])
}

/// `ccsplc ev --interface ev0 --no-slac`, with `--config config` if given and then `extra`,
/// in the car's namespace of `hosts` (output in `dir/ev.out`).
pub fn spawn_ev(hosts: &TwoHosts, dir: &Path, config: Option<&Path>, extra: &[&str]) -> Proc {
    let mut args = vec!["ev"];
    if let Some(config) = config {
        args.extend(["--config", config.to_str().unwrap()]);
    }
    args.extend(["--interface", "ev0", "--no-slac"]);
    args.extend(extra);
    Proc::spawn_in(&hosts.ev.name, "ev", dir, ccsplc(), &args, &[])
}

/// What the car and the charger printed so far, readable while they run (for failure
/// messages).
pub fn outputs(ev: &Proc, evse: &Proc) -> impl Fn() -> String + use<> {
    let (ev, evse) = (ev.stdout.clone(), evse.stdout.clone());
    move || {
        let read = |p: &PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        format!("--- ev:\n{}\n--- evse:\n{}", read(&ev), read(&evse))
    }
}

/// How a pair of processes ended: the exit codes (`None`: still running at the limit) and
/// what both printed.
pub struct Ended {
    pub ev: Option<i32>,
    pub evse: Option<i32>,
    pub text: String,
}

/// Waits up to `car_limit` for the car, then up to [`CHARGER_AFTER_CAR`] for the charger.
pub fn wait_both(ev: &mut Proc, evse: &mut Proc, car_limit: Duration) -> Ended {
    let ev_code = ev.wait_for(car_limit);
    let evse_code = evse.wait_for(CHARGER_AFTER_CAR);
    Ended {
        ev: ev_code,
        evse: evse_code,
        text: outputs(ev, evse)(),
    }
}

/// Waits as [`wait_both`] and asserts that both completed their session (exit 0); returns
/// what both printed.
pub fn assert_both_complete(ev: &mut Proc, evse: &mut Proc, car_limit: Duration) -> String {
    let ended = wait_both(ev, evse, car_limit);
    let both = ended.text;
    assert_eq!(ended.ev, Some(0), "the car did not complete:\n{both}");
    assert_eq!(ended.evse, Some(0), "the charger did not complete:\n{both}");
    both
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
