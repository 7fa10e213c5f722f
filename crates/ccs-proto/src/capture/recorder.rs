//! One pcapng file per session, written without ever failing the session.

use std::io::Write;

use super::pcapng::{
    DecryptionSecrets, Interface, InterfaceId, PcapngWriter, SECRETS_TYPE_TLS_KEY_LOG, SectionInfo,
};
use super::{LinkType, Timestamp, UpperPdu};
use crate::homeplug::MacAddress;
use crate::wire::frame::syslog_frame;

/// How log lines go into the recording.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum LogStyle {
    /// An empty packet on the log interface with the line as its comment.
    Comment,
    /// A pyPLC-style UDP syslog broadcast on the modem interface, its text also as comment.
    Syslog,
    /// Log lines are not recorded.
    Off,
}

/// What a [`SessionRecorder`] writes into the file header.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct RecorderConfig {
    /// The modem interface's name (`eth_interface`, or "sim").
    pub interface_name: String,
    /// A description of the modem interface (e.g. "HomePlug modem, EVSE side").
    pub interface_description: Option<String>,
    /// Who wrote the file.
    pub section: SectionInfo,
    /// How log lines are recorded.
    pub log_style: LogStyle,
    /// The source MAC of syslog frames (our host MAC).
    pub syslog_mac: MacAddress,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        Self {
            interface_name: "eth0".to_owned(),
            interface_description: None,
            section: SectionInfo::default(),
            log_style: LogStyle::Comment,
            syslog_mac: MacAddress([0x02, 0, 0, 0, 0, 0]),
        }
    }
}

/// How the recording went.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct RecorderHealth {
    /// Frames (and log lines) written.
    pub written: u64,
    /// Frames and log lines that could not be written after the first error.
    pub dropped: u64,
    /// The first write error, as text.
    pub error: Option<String>,
}

/// Records one session as pcapng: the modem interface (Ethernet) and, with
/// [`LogStyle::Comment`], a log interface. Nothing it does can fail the session: after the
/// first write error (full disk, removed USB stick) it stops writing and counts what it drops;
/// the driver learns about the error once from [`SessionRecorder::take_error`].
#[derive(Debug)]
pub struct SessionRecorder<W: Write> {
    writer: Option<PcapngWriter<W>>,
    modem: InterfaceId,
    log: Option<InterfaceId>,
    /// The interface of decrypted TLS payloads, added at the first one.
    decrypted: Option<InterfaceId>,
    log_style: LogStyle,
    syslog_mac: MacAddress,
    health: RecorderHealth,
    error_reported: bool,
    secrets_written: bool,
}

impl<W: Write> SessionRecorder<W> {
    /// Starts a recording: section header and interface descriptions. A failure here is
    /// recorded like any later one.
    pub fn new(out: W, config: &RecorderConfig) -> Self {
        let mut rec = Self {
            writer: None,
            modem: InterfaceId(0),
            log: None,
            decrypted: None,
            log_style: config.log_style,
            syslog_mac: config.syslog_mac,
            health: RecorderHealth::default(),
            error_reported: false,
            secrets_written: false,
        };
        let started = PcapngWriter::new(out, &config.section).and_then(|mut w| {
            rec.modem = w.add_interface(&Interface {
                link_type: LinkType::Ethernet,
                name: Some(config.interface_name.clone()),
                description: config.interface_description.clone(),
                snap_len: 0,
            })?;
            if config.log_style == LogStyle::Comment {
                rec.log = Some(w.add_interface(&Interface {
                    link_type: LinkType::User0,
                    name: Some("ccsplc-log".to_owned()),
                    description: Some("log lines as packet comments".to_owned()),
                    snap_len: 0,
                })?);
            }
            Ok(w)
        });
        match started {
            Ok(w) => rec.writer = Some(w),
            Err(e) => rec.health.error = Some(e.to_string()),
        }
        rec
    }

    /// Runs one write; after the first failure nothing more is written.
    fn attempt(&mut self, f: impl FnOnce(&mut PcapngWriter<W>) -> std::io::Result<()>) {
        let Some(w) = self.writer.as_mut() else {
            self.health.dropped += 1;
            return;
        };
        match f(w) {
            Ok(()) => self.health.written += 1,
            Err(e) => {
                self.health.error = Some(e.to_string());
                self.health.dropped += 1;
                self.writer = None;
            }
        }
    }

    fn write(&mut self, iface: InterfaceId, ts: Timestamp, data: &[u8], comment: Option<&str>) {
        self.attempt(|w| w.write_packet(iface, ts, data, comment));
    }

    /// Records the NSS key log lines of a TLS connection as a decryption secrets block, so
    /// that Wireshark decrypts the TLS records of the modem interface with no key log file.
    pub fn record_tls_secrets(&mut self, nss_key_log: &str) {
        let secrets = DecryptionSecrets {
            secrets_type: SECRETS_TYPE_TLS_KEY_LOG,
            data: nss_key_log.as_bytes().to_vec(),
        };
        self.attempt(|w| w.write_decryption_secrets(&secrets));
        self.secrets_written |= self.writer.is_some();
    }

    /// Whether a decryption secrets block was written: the finished file should then go
    /// through [`super::hoist_decryption_secrets`], so that Wireshark has the keys before the
    /// handshake's ChangeCipherSpec.
    pub fn wrote_secrets(&self) -> bool {
        self.secrets_written
    }

    /// Records one decrypted V2GTP message (header and payload) of a TLS connection as an
    /// exported PDU (link type 252) on the interface "v2g-decrypted"; `pdu` names the
    /// dissector, the addresses and ports of the connection in the direction of the message.
    pub fn record_decrypted(&mut self, timestamp: Timestamp, pdu: &UpperPdu, v2gtp: &[u8]) {
        if self.decrypted.is_none() {
            let mut added = None;
            self.attempt(|w| {
                added = Some(w.add_interface(&Interface {
                    link_type: LinkType::WiresharkUpperPdu,
                    name: Some("v2g-decrypted".to_owned()),
                    description: Some(
                        "V2GTP messages of TLS connections, decrypted by ccsplc".to_owned(),
                    ),
                    snap_len: 0,
                })?);
                Ok(())
            });
            self.decrypted = added;
        }
        if let Some(iface) = self.decrypted {
            let data = pdu.emit(v2gtp);
            self.write(iface, timestamp, &data, None);
        }
    }

    /// Records an Ethernet frame on the modem interface (sent or received).
    pub fn record_frame(&mut self, timestamp: Timestamp, frame: &[u8]) {
        self.write(self.modem, timestamp, frame, None);
    }

    /// Records an Ethernet frame with a comment (e.g. "injected fault: no PreChargeRes").
    pub fn record_frame_with_comment(&mut self, timestamp: Timestamp, frame: &[u8], comment: &str) {
        self.write(self.modem, timestamp, frame, Some(comment));
    }

    /// Records a log line in the configured [`LogStyle`].
    pub fn record_log(&mut self, timestamp: Timestamp, line: &str) {
        match (self.log_style, self.log) {
            (LogStyle::Off, _) => {}
            (LogStyle::Comment, Some(log)) => self.write(log, timestamp, &[], Some(line)),
            (LogStyle::Syslog, _) | (LogStyle::Comment, None) => {
                let frame = syslog_frame(self.syslog_mac, line);
                self.write(self.modem, timestamp, &frame, Some(line));
            }
        }
    }

    /// Flushes; a failure is recorded like a write error.
    pub fn flush(&mut self) {
        if let Some(w) = self.writer.as_mut()
            && let Err(e) = w.flush()
        {
            self.health.error = Some(e.to_string());
            self.writer = None;
        }
    }

    /// The first write error, once: the driver logs it (and keeps the session running).
    pub fn take_error(&mut self) -> Option<String> {
        if self.error_reported {
            return None;
        }
        let e = self.health.error.clone()?;
        self.error_reported = true;
        Some(e)
    }

    /// Counts and the first error.
    pub fn health(&self) -> &RecorderHealth {
        &self.health
    }

    /// True while the recording is still being written.
    pub fn is_recording(&self) -> bool {
        self.writer.is_some()
    }

    /// Ends the recording and returns the writer (`None` after a write error).
    pub fn finish(mut self) -> Option<W> {
        self.flush();
        self.writer.map(PcapngWriter::into_inner)
    }
}
