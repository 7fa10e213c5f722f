//! One pcapng file per session, written without ever failing the session.

use std::io::Write;

use super::pcapng::{Interface, InterfaceId, PcapngWriter, SectionInfo};
use super::{LinkType, Timestamp};
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
    log_style: LogStyle,
    syslog_mac: MacAddress,
    health: RecorderHealth,
    error_reported: bool,
}

impl<W: Write> SessionRecorder<W> {
    /// Starts a recording: section header and interface descriptions. A failure here is
    /// recorded like any later one.
    pub fn new(out: W, config: &RecorderConfig) -> Self {
        let mut rec = Self {
            writer: None,
            modem: InterfaceId(0),
            log: None,
            log_style: config.log_style,
            syslog_mac: config.syslog_mac,
            health: RecorderHealth::default(),
            error_reported: false,
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

    fn write(&mut self, iface: InterfaceId, ts: Timestamp, data: &[u8], comment: Option<&str>) {
        let Some(w) = self.writer.as_mut() else {
            self.health.dropped += 1;
            return;
        };
        match w.write_packet(iface, ts, data, comment) {
            Ok(()) => self.health.written += 1,
            Err(e) => {
                self.health.error = Some(e.to_string());
                self.health.dropped += 1;
                self.writer = None;
            }
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
