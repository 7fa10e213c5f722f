//! Support for the ISO 15118-2 tests: a test PKI made by `scripts/make-test-pki.sh`.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs the PKI script into a fresh temporary directory; returns the directory (keep it alive)
/// and its path.
pub fn make_pki() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/make-test-pki.sh");
    let out = Command::new("sh")
        .arg(&script)
        .arg(dir.path())
        .output()
        .expect("running scripts/make-test-pki.sh (needs the openssl command)");
    assert!(
        out.status.success(),
        "make-test-pki.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir.path().to_path_buf();
    (dir, path)
}

/// The Python of Josev's venv (`scripts/setup-josev.sh`).
pub fn josev_python() -> PathBuf {
    // Not canonicalized: the venv's `python` is a symlink to the base interpreter, and only
    // the venv path makes it use the venv's packages.
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/josev/bin/python");
    assert!(
        python.exists(),
        "Josev is not installed in .venv/josev ({} missing): run scripts/setup-josev.sh",
        python.display()
    );
    python
}

/// A process group we started; stopped (TERM, then KILL) on drop, with everything it started
/// (Josev's py4j JVM). Only this group is signalled, by its own id.
pub struct ProcessGroup {
    pub child: std::process::Child,
}

impl ProcessGroup {
    fn signal(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.signal("-TERM");
        for _ in 0..30 {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        self.signal("-KILL");
        let _ = self.child.wait();
    }
}

/// Channels for `run_session` without hardware: the returned receiver collects the events.
pub fn session_io() -> (
    ccs_linux::session::SessionIo,
    tokio::sync::mpsc::UnboundedReceiver<ccs_proto::session::SessionEvent>,
) {
    use tokio::sync::mpsc::unbounded_channel;
    let (_hw_tx, hardware) = unbounded_channel();
    let (_stop_tx, stop) = unbounded_channel();
    let (commands, _commands_rx) = unbounded_channel();
    let (events, events_rx) = unbounded_channel();
    (
        ccs_linux::session::SessionIo {
            hardware,
            stop,
            commands,
            events,
        },
        events_rx,
    )
}

/// The names of the messages a session sent (repeats collapsed), from its event channel.
pub fn sent_names(
    mut events: tokio::sync::mpsc::UnboundedReceiver<ccs_proto::session::SessionEvent>,
) -> Vec<&'static str> {
    let mut names = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let ccs_proto::session::SessionEvent::Sent { name, .. } = e {
            names.push(name);
        }
    }
    names.dedup();
    names
}
