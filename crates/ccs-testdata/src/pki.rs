//! Test PKIs made by `scripts/make-test-pki.sh` (the `openssl` command line).

use std::path::Path;
use std::process::Command;

/// Which signature profile the PKI follows.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum PkiProfile {
    /// ISO 15118-2: keys on secp256r1, certificates signed with SHA-256.
    Iso15118_2,
    /// ISO 15118-20: keys on secp521r1, certificates signed with SHA-512.
    Iso15118_20,
}

/// Writes a complete test PKI into `dir` (see the script for the file names: `v2g_root.pem`,
/// `secc_chain.pem`, `secc.key`, `contract_chain.pem`, `oem_prov_chain.pem`, ...).
///
/// # Panics
/// If the script fails (e.g. no `openssl` command), with its error output.
pub fn make_test_pki(dir: &Path, profile: PkiProfile) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/make-test-pki.sh");
    let mut command = Command::new("sh");
    command.arg(&script).arg(dir);
    if profile == PkiProfile::Iso15118_20 {
        command.env("CURVE", "secp521r1").env("DIGEST", "sha512");
    }
    let out = command
        .output()
        .expect("running scripts/make-test-pki.sh (needs the openssl command)");
    assert!(
        out.status.success(),
        "make-test-pki.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
