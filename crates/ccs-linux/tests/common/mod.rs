//! Namespace test support: unique names, namespaces and veth pairs that clean up after
//! themselves (also when a test fails), and running async code inside a namespace.
//!
//! Every test builds its own network: namespaces `ccsl-<pid>-<n>-ev`/`-evse`, interfaces
//! created inside them, all deleted by `Drop` guards. Needs root (CAP_NET_ADMIN).
#![allow(dead_code, unreachable_pub)]

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use ccs_linux::iface::Interface;
use ccs_linux::sys::netns;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// How long a fresh interface may take to get its link-local address (DAD ~1-2 s).
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Fails the test with a clear message when not run as root.
pub fn require_root() {
    // Reading our own effective uid without libc: /proc/self/status "Uid: real effective ...".
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

/// A name unique to this process and test, e.g. `ccsl-1234-3`.
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
        let base = unique("ccsl");
        Self {
            ev: Netns::new(format!("{base}-ev")),
            evse: Netns::new(format!("{base}-evse")),
        }
    }

    /// Joins the namespaces with a veth pair `ev0` ↔ `evse0`, both up. The pair lives inside
    /// the namespaces, so deleting them deletes it.
    pub fn with_veth(self) -> Self {
        // Create with temporary unique names in the root namespace, then move and rename.
        let tmp = unique("v");
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

/// Runs `f` (an async block built inside the namespace) on a thread in namespace `ns`, on a
/// current-thread tokio runtime.
pub fn spawn_async_in<F, Fut, R>(ns: &str, f: F) -> std::thread::JoinHandle<std::io::Result<R>>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = R>,
    R: Send + 'static,
{
    netns::spawn_in_netns(ns, move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        rt.block_on(f())
    })
}

/// Joins a namespace thread, propagating its panic.
pub fn join<R>(handle: std::thread::JoinHandle<std::io::Result<R>>) -> R {
    match handle.join() {
        Ok(result) => result.expect("entering the namespace"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Waits for `name` to be ready inside the current namespace.
pub async fn ready(name: &str) -> Interface {
    Interface::wait_ready(name, READY_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}
