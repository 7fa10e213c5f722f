//! Recording (issue 10 item 1): one pcapng file per session with every frame of the modem
//! interface (an AF_PACKET socket for all EtherTypes, both directions), ccsplc's trace lines
//! as packet comments, and, for TLS sessions, the session's keys (a decryption secrets block
//! with the NSS key log, which Wireshark uses by itself) and every V2GTP message in plaintext
//! (exported PDUs on the interface "v2g-decrypted", which `ccsplc decode` reads).
//!
//! `--pcap FILE` writes one file for the whole run; `capture.folder` writes numbered files
//! `session_NNNN.pcapng` there, one per session, keeping at most [`MAX_FILES`]. Nothing here
//! can stop a session: [`SessionRecorder`] stops writing after the first error (a full disk)
//! and the error is logged once.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use ccs_linux::raw::{ETHERTYPE_ALL, RawLink};
use ccs_linux::v2g::{TapDirection, V2gConnection};
use ccs_proto::capture::{
    RecorderConfig, Rotation, SectionInfo, SessionRecorder, Timestamp, UpperPdu, V2GTP_DISSECTOR,
};

/// How many session files the folder keeps (the oldest are deleted first).
pub(crate) const MAX_FILES: usize = 500;

/// Where recordings go.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) enum Target {
    /// No recording.
    Off,
    /// One file for the whole run (`--pcap FILE`).
    File(PathBuf),
    /// Numbered files, one per session, in this folder (`capture.folder`).
    Folder(PathBuf),
}

type Writer = SessionRecorder<BufWriter<File>>;

#[derive(Debug)]
struct State {
    target: Target,
    config: RecorderConfig,
    current: Option<(PathBuf, Writer)>,
    /// Files written so far, with their record counts.
    finished: Vec<(PathBuf, u64)>,
}

/// The run's recording, shared by the frame capture task and the trace.
#[derive(Clone, Debug)]
pub(crate) struct Recording {
    state: Arc<Mutex<State>>,
}

/// Wall-clock time as a capture timestamp.
pub(crate) fn wall_timestamp() -> Timestamp {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_nanos(u64::try_from(since.as_nanos()).unwrap_or(u64::MAX))
}

impl Recording {
    /// A recording to `target` of interface `interface`, `role` describing this host; the
    /// first file is opened at once.
    pub(crate) fn new(target: Target, interface: &str, role: &str, header: &str) -> Self {
        let config = RecorderConfig {
            interface_name: interface.to_owned(),
            interface_description: Some(format!("HomePlug modem interface, {role} side")),
            section: SectionInfo {
                application: Some(format!("ccsplc {}", env!("CARGO_PKG_VERSION"))),
                comment: Some(header.to_owned()),
                ..SectionInfo::default()
            },
            ..RecorderConfig::default()
        };
        let recording = Self {
            state: Arc::new(Mutex::new(State {
                target,
                config,
                current: None,
                finished: Vec::new(),
            })),
        };
        recording.open_next();
        recording
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while recording must not stop the session: take the data as it is.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether anything is recorded.
    pub(crate) fn is_on(&self) -> bool {
        self.lock().target != Target::Off
    }

    /// Opens the next file (for [`Target::Folder`], after rotating out the oldest ones).
    fn open_next(&self) {
        let mut s = self.lock();
        let path = match &s.target {
            Target::Off => return,
            Target::File(path) => {
                if !s.finished.is_empty() || s.current.is_some() {
                    return;
                }
                path.clone()
            }
            Target::Folder(dir) => match next_session_file(dir) {
                Ok(path) => path,
                Err(e) => {
                    tracing::warn!("capture folder {}: {e}; not recording", dir.display());
                    return;
                }
            },
        };
        match File::create(&path) {
            Ok(file) => {
                let writer = SessionRecorder::new(BufWriter::new(file), &s.config);
                tracing::info!("recording to {}", path.display());
                s.current = Some((path, writer));
            }
            // A capture that cannot be written never stops charging.
            Err(e) => tracing::warn!("cannot create the capture {}: {e}", path.display()),
        }
    }

    fn with_writer(&self, f: impl FnOnce(&mut Writer)) {
        let mut s = self.lock();
        if let Some((path, w)) = s.current.as_mut() {
            f(w);
            if let Some(e) = w.take_error() {
                tracing::warn!(
                    "capture {} stopped: {e} (the session goes on)",
                    path.display()
                );
            }
        }
    }

    /// The file being written now, if any.
    pub(crate) fn current_file(&self) -> Option<PathBuf> {
        self.lock().current.as_ref().map(|(path, _)| path.clone())
    }

    /// Records one Ethernet frame.
    pub(crate) fn frame(&self, timestamp: Timestamp, frame: &[u8]) {
        self.with_writer(|w| w.record_frame(timestamp, frame));
    }

    /// Records a log line as a comment.
    pub(crate) fn log(&self, line: &str) {
        self.with_writer(|w| w.record_log(wall_timestamp(), line));
    }

    /// For a TLS connection: records its keys now and every message from now on in
    /// plaintext. Plain TCP connections are in the frames already.
    pub(crate) fn tls_connection(&self, conn: &mut V2gConnection) {
        if conn.tls_info().is_none() || !self.is_on() {
            return;
        }
        if let Some(secrets) = conn.tls_secrets() {
            self.with_writer(|w| w.record_tls_secrets(secrets.nss_key_log()));
        }
        let (local, peer) = (conn.local(), conn.peer());
        let recording = self.clone();
        conn.set_plaintext_tap(Box::new(move |direction, frame| {
            let (src, dst) = match direction {
                TapDirection::Sent => (local, Some(peer)),
                TapDirection::Received => (Some(peer), local),
            };
            let pdu = UpperPdu {
                dissector: V2GTP_DISSECTOR.to_owned(),
                src: src.map(|a| *a.ip()),
                dst: dst.map(|a| *a.ip()),
                src_port: src.map(|a| a.port()),
                dst_port: dst.map(|a| a.port()),
                protocol_text: Some("V2GTP".to_owned()),
                info_text: Some("decrypted from TLS by ccsplc".to_owned()),
            };
            recording.with_writer(|w| w.record_decrypted(wall_timestamp(), &pdu, frame));
        }));
    }

    /// Ends the current session's file; with a folder, the next session gets a new file.
    pub(crate) fn next_session(&self) {
        self.close_current();
        self.open_next();
    }

    fn close_current(&self) {
        let mut s = self.lock();
        if let Some((path, mut w)) = s.current.take() {
            w.flush();
            if let Some(e) = w.take_error() {
                tracing::warn!("capture {} is incomplete: {e}", path.display());
            }
            let written = w.health().written;
            let hoist = w.wrote_secrets();
            let _ = w.finish();
            if hoist {
                hoist_secrets(&path);
            }
            s.finished.push((path, written));
        }
    }

    /// Closes the recording; returns the files written with their record counts.
    pub(crate) fn finish(&self) -> Vec<(PathBuf, u64)> {
        self.close_current();
        std::mem::take(&mut self.lock().finished)
    }
}

/// The next numbered session file in `dir` (`session_NNNN.pcapng`), after deleting the oldest
/// so that at most [`MAX_FILES`] remain; creates the folder. A file that cannot be deleted
/// is logged and left.
pub(crate) fn next_session_file(dir: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let rotation = Rotation::new("session", "pcapng", MAX_FILES);
    let names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    let plan = rotation.plan(names.iter().map(String::as_str));
    for old in plan.delete {
        if let Err(e) = std::fs::remove_file(dir.join(&old)) {
            tracing::warn!("capture rotation: cannot delete {old}: {e}");
        }
    }
    Ok(dir.join(plan.next))
}

/// Moves the TLS keys of a finished file before its first packet, so that Wireshark can use
/// them from the handshake on (they were written when the handshake had produced them). A
/// failure (full disk) leaves the file as it was: `ccsplc decode` reads it either way.
fn hoist_secrets(path: &Path) {
    let Ok(bytes) = std::fs::read(path) else {
        return;
    };
    let Some(hoisted) = ccs_proto::capture::hoist_decryption_secrets(&bytes) else {
        return;
    };
    let temporary = path.with_extension("pcapng.tmp");
    let done = std::fs::write(&temporary, hoisted).and_then(|()| std::fs::rename(&temporary, path));
    if let Err(e) = done {
        let _ = std::fs::remove_file(&temporary);
        tracing::warn!(
            "capture {}: TLS keys left after the handshake ({e}); Wireshark may not decrypt it",
            path.display()
        );
    }
}

/// Records every frame on the interface until the task is aborted. Needs CAP_NET_RAW; without
/// it, the recording holds the log lines only (and says so).
pub(crate) fn spawn_frame_capture(
    recording: &Recording,
    interface: &str,
    index: u32,
) -> Option<tokio::task::JoinHandle<()>> {
    if !recording.is_on() {
        return None;
    }
    let raw = match RawLink::open_index(interface, index, ETHERTYPE_ALL) {
        Ok(raw) => raw,
        Err(e) => {
            tracing::warn!("no frame capture on {interface}: {e}");
            recording.log(&format!("no frame capture on {interface}: {e}"));
            return None;
        }
    };
    let recording = recording.clone();
    Some(tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        loop {
            match raw.recv_any(&mut buf).await {
                Ok((n, _outgoing)) => recording.frame(wall_timestamp(), &buf[..n]),
                Err(e) => {
                    tracing::warn!("frame capture stopped: {e}");
                    return;
                }
            }
        }
    }))
}
