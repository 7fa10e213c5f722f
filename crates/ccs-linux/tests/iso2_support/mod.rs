//! Support for the ISO 15118-2 tests: a test PKI made by `scripts/make-test-pki.sh`.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

/// The ISO 15118-2 test PKI of `scripts/make-test-pki.sh` in a fresh temporary directory;
/// returns the directory (keep it alive) and its path.
pub fn make_pki() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    ccs_testdata::make_test_pki(dir.path(), ccs_testdata::PkiProfile::Iso15118_2);
    let path = dir.path().to_path_buf();
    (dir, path)
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
