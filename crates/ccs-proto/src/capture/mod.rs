//! Capture files: pcap and pcapng, read from byte slices and written to any
//! `std::io::Write`, plus what a live session needs to record itself.
//!
//! These are pure formats: nothing here opens a file or reads a clock. The caller reads the
//! file into memory (captures of whole charging sessions are a few megabytes) or hands a
//! `File`/`BufWriter` to a writer.
//!
//! # Reading
//!
//! [`CaptureReader::new`] recognises classic pcap (both byte orders, microsecond and
//! nanosecond magic, any snap length) and pcapng (every section's byte order, several
//! interfaces with their own link types and `if_tsresol`/`if_tsoffset`, enhanced, simple and
//! obsolete packet blocks, `opt_comment` on packets and sections, decryption secrets blocks
//! ([`CaptureReader::decryption_secrets`])). It yields [`Packet`]s; a
//! record cut short at the end of the file (tcpdump killed mid-write) or a corrupt block ends
//! the iteration with a typed [`CaptureError`] after every good packet before it.
//!
//! ```
//! use ccs_proto::capture::{CaptureReader, LinkType, PcapWriter, Timestamp, TimestampResolution};
//!
//! let mut file = Vec::new();
//! let mut w = PcapWriter::new(&mut file, LinkType::Ethernet, 65535, TimestampResolution::Micro)?;
//! w.write_packet(Timestamp::from_micros(1_500_000), &[0xff; 60])?;
//! let packets: Vec<_> = CaptureReader::new(&file)?.collect::<Result<_, _>>()?;
//! assert_eq!(packets[0].timestamp, Timestamp::from_micros(1_500_000));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Writing, and recording a session
//!
//! [`PcapngWriter`] writes a section header, interface descriptions ([`Interface`]) and
//! enhanced packet blocks with optional comments; timestamps are written with nanosecond
//! resolution. [`SessionRecorder`] is what the live drivers and `ccsplc sim --pcap` use: one
//! pcapng file per session with
//!
//! - interface 0, the modem interface (Ethernet): every HomePlug frame sent or received, and
//!   the SDP/TCP traffic the kernel carried, rebuilt as frames with
//!   [`crate::wire::frame::TcpFlow`] and [`crate::wire::frame::build_udp_frame`];
//! - log lines as packet comments ([`LogStyle::Comment`]: an empty packet with the text as
//!   `opt_comment` on interface 1, "ccsplc-log"), as pyPLC-style UDP syslog frames on the
//!   modem interface ([`LogStyle::Syslog`], what Wireshark shows as syslog; see
//!   [`crate::wire::frame::syslog_frame`]), or both;
//! - for TLS connections, the NSS key log as a decryption secrets block
//!   ([`SessionRecorder::record_tls_secrets`]; [`hoist_decryption_secrets`] moves it before
//!   the packets once the file is complete, where Wireshark needs it) and every V2GTP message
//!   in plaintext as a Wireshark exported PDU ([`UpperPdu`]) on the interface "v2g-decrypted"
//!   ([`SessionRecorder::record_decrypted`]).
//!
//! A full disk or any other write error never stops a session: the recorder stops writing,
//! counts what it could not write, and reports the error once through
//! [`SessionRecorder::take_error`]; [`SessionRecorder::health`] says how it went.
//!
//! Recording a session whose TCP and UDP traffic went through sockets or the simulator
//! (`ccsplc sim --pcap FILE`): the HomePlug frames are recorded as they are, the rest is
//! rebuilt as frames with correct checksums, and log lines go in as comments.
//!
//! ```
//! use ccs_proto::capture::{CaptureReader, RecorderConfig, SessionRecorder, Timestamp};
//! use ccs_proto::homeplug::MacAddress;
//! use ccs_proto::sdp::{SDP_MULTICAST_ADDRESS, SDP_SERVER_PORT};
//! use ccs_proto::time::Instant;
//! use ccs_proto::wire::frame::{Endpoint, TcpFlow, build_udp_frame};
//!
//! let ev = Endpoint::link_local(MacAddress([0x02, 0, 0, 0, 0, 0x01]), 49153);
//! let evse = Endpoint::link_local(MacAddress([0x02, 0, 0, 0, 0, 0x02]), 15118);
//! let mut rec = SessionRecorder::new(Vec::new(), &RecorderConfig::default());
//! let at = |ms| Timestamp::from_instant(Instant::from_millis(ms));
//!
//! // SDP request to ff02::1 (the multicast MAC is filled in).
//! let all_nodes = Endpoint { ip: SDP_MULTICAST_ADDRESS, port: SDP_SERVER_PORT, ..evse };
//! let sdp = [0x01, 0xfe, 0x90, 0x00, 0, 0, 0, 2, 0x10, 0x00];
//! rec.record_frame(at(10), &build_udp_frame(&ev, &all_nodes, 1, &sdp));
//! rec.record_log(at(11), "[11ms] checkpoint 200: SDP request");
//!
//! // The TCP connection: handshake, one V2GTP message each way.
//! let mut flow = TcpFlow::new(Endpoint { port: 50000, ..ev }, evse, 1, 1);
//! for frame in flow.open() {
//!     rec.record_frame(at(20), &frame);
//! }
//! rec.record_frame(at(30), &flow.client_sends(&[0x01, 0xfe, 0x80, 0x01, 0, 0, 0, 0]));
//!
//! // Full disk? The session goes on; the driver logs this once.
//! if let Some(error) = rec.take_error() {
//!     eprintln!("recording stopped: {error}");
//! }
//! let file = rec.finish().expect("written to memory");
//! assert_eq!(CaptureReader::new(&file)?.count(), 6);
//! # Ok::<(), ccs_proto::capture::CaptureError>(())
//! ```
//!
//! [`Rotation`] plans numbered file names (`session_0001.pcapng`, …) with a maximum count:
//! given the names already in the directory it returns the next name and the oldest names to
//! delete. The driver does the file system work.

mod error;
mod pcap;
mod pcapng;
mod reader;
mod recorder;
mod rotation;
mod upper_pdu;

pub use error::CaptureError;
pub use pcap::{PcapWriter, TimestampResolution};
pub use pcapng::{
    DecryptionSecrets, Interface, InterfaceId, PcapngWriter, SECRETS_TYPE_TLS_KEY_LOG, SectionInfo,
    hoist_decryption_secrets,
};
pub use reader::{
    CaptureFormat, CaptureReader, InterfaceSummary, Packet, ethernet_from_sll, ethernet_from_sll2,
};
pub use recorder::{LogStyle, RecorderConfig, RecorderHealth, SessionRecorder};
pub use rotation::{Rotation, RotationPlan};
pub use upper_pdu::{UpperPdu, V2GTP_DISSECTOR};

use core::fmt;

use crate::time::Instant;

/// A capture timestamp: nanoseconds since the Unix epoch (or, for recordings of the
/// simulator, since the start of its virtual clock).
#[derive(Clone, Copy, Debug, Default, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// From nanoseconds.
    pub const fn from_nanos(nanos: u64) -> Self {
        Self(nanos)
    }

    /// From microseconds.
    pub const fn from_micros(micros: u64) -> Self {
        Self(micros.saturating_mul(1000))
    }

    /// From a core [`Instant`] (microseconds since the driver's epoch); instants before the
    /// epoch become 0.
    pub fn from_instant(instant: Instant) -> Self {
        Self::from_micros(u64::try_from(instant.total_micros()).unwrap_or(0))
    }

    /// Nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Microseconds, rounded down.
    pub const fn as_micros(self) -> u64 {
        self.0 / 1000
    }

    /// Seconds as a float (for relative times and plots).
    pub fn as_secs_f64(self) -> f64 {
        // Precision: f64 holds 2^53 ns exactly (104 days); beyond that it rounds to ~100 ns,
        // still far finer than any capture's resolution.
        self.0 as f64 / 1e9
    }

    /// Seconds since `earlier` (negative if `earlier` is later).
    pub fn secs_since(self, earlier: Self) -> f64 {
        if self.0 >= earlier.0 {
            (self.0 - earlier.0) as f64 / 1e9
        } else {
            -((earlier.0 - self.0) as f64 / 1e9)
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:09}",
            self.0 / 1_000_000_000,
            self.0 % 1_000_000_000
        )
    }
}

/// A link-layer header type (the pcap LINKTYPE_ registry).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum LinkType {
    /// 1: Ethernet (what tcpdump writes on the modem interface).
    Ethernet,
    /// 113: Linux cooked capture v1 (`tcpdump -i any`).
    LinuxSll,
    /// 276: Linux cooked capture v2.
    LinuxSll2,
    /// 147: private use; ccsplc's log interface (packets with only a comment).
    User0,
    /// 252: Wireshark's exported PDUs (`LINKTYPE_WIRESHARK_UPPER_PDU`): a list of tags naming
    /// the dissector and the addresses, then the PDU. ccsplc records the decrypted V2GTP
    /// messages of a TLS connection this way ([`UpperPdu`]).
    WiresharkUpperPdu,
    /// Any other value.
    Unknown(u32),
}

impl From<u32> for LinkType {
    fn from(raw: u32) -> Self {
        match raw {
            1 => Self::Ethernet,
            113 => Self::LinuxSll,
            276 => Self::LinuxSll2,
            147 => Self::User0,
            252 => Self::WiresharkUpperPdu,
            other => Self::Unknown(other),
        }
    }
}

impl From<LinkType> for u32 {
    fn from(t: LinkType) -> Self {
        match t {
            LinkType::Ethernet => 1,
            LinkType::LinuxSll => 113,
            LinkType::LinuxSll2 => 276,
            LinkType::User0 => 147,
            LinkType::WiresharkUpperPdu => 252,
            LinkType::Unknown(raw) => raw,
        }
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ethernet => f.write_str("Ethernet"),
            Self::LinuxSll => f.write_str("Linux cooked (SLL)"),
            Self::LinuxSll2 => f.write_str("Linux cooked (SLL2)"),
            Self::User0 => f.write_str("USER0"),
            Self::WiresharkUpperPdu => f.write_str("Wireshark upper PDU"),
            Self::Unknown(raw) => write!(f, "link type {raw}"),
        }
    }
}

#[cfg(test)]
mod tests;
