//! Josev (PyPI `iso15118`), the interoperability peer: its Python, and the process group that
//! stops it together with its py4j JVM.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Josev's Python in `.venv/josev` (`scripts/setup-josev.sh`).
///
/// # Panics
/// If Josev is not installed, saying how to install it.
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

/// A process group we started (Josev and its py4j JVM), its leader being `child`; stopped
/// on drop with [`stop_process_group`].
#[derive(Debug)]
pub struct ProcessGroup {
    /// The group leader.
    pub child: Child,
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        stop_process_group(&mut self.child);
    }
}

/// Stops the process group led by `leader`: TERM, up to 3 s for the leader to exit, then KILL
/// for whatever is left (the JVM may outlive Python for a moment). Only this group is
/// signalled, by its own id.
pub fn stop_process_group(leader: &mut Child) {
    let group = format!("-{}", leader.id());
    let signal = |name: &str| {
        let _ = Command::new("kill")
            .args([name, "--", &group])
            .stderr(Stdio::null())
            .status();
    };
    signal("-TERM");
    for _ in 0..30 {
        if let Ok(Some(_)) = leader.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    signal("-KILL");
    let _ = leader.wait();
}
