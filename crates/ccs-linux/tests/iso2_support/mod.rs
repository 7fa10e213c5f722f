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
