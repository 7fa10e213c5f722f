//! Namespace test support: unique names, network namespaces and veth pairs that clean up after
//! themselves (also when a test fails). Every test builds its own network: namespaces
//! `ccst-<pid>-<n>-ev`/`-evse`, all deleted by `Drop` guards. Needs root (CAP_NET_ADMIN).

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Fails the test with a clear message when not run as root.
///
/// # Panics
/// When the effective user is not root.
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

/// A name unique to this process and test, e.g. `ccst-1234-3`.
pub fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

/// Runs `ip` with `args`.
///
/// # Panics
/// With its stderr, when it fails.
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
#[derive(Debug)]
pub struct Netns {
    /// Its name, for `ip netns exec`.
    pub name: String,
}

impl Netns {
    /// Creates the namespace `name` with its loopback up.
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
#[derive(Debug)]
pub struct TwoHosts {
    /// The car's.
    pub ev: Netns,
    /// The charger's.
    pub evse: Netns,
}

impl TwoHosts {
    /// Two fresh namespaces (checks for root first).
    pub fn new() -> Self {
        require_root();
        let base = unique("ccst");
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

impl Default for TwoHosts {
    fn default() -> Self {
        Self::new()
    }
}
