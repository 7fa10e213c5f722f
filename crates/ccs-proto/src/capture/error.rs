//! Why a capture file cannot be read (further).

use core::fmt;

/// Why a capture file cannot be read, or cannot be read beyond some point. Every variant is
/// "the file is invalid"; the offset says where.
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum CaptureError {
    /// The file starts with neither a pcap magic nor a pcapng section header.
    UnknownFormat {
        /// The first four bytes (fewer if the file is shorter).
        magic: Vec<u8>,
    },
    /// The file ends inside a header or record (e.g. the recorder was killed mid-write).
    Truncated {
        /// Where the unfinished header or record starts.
        offset: usize,
        /// Bytes it needs.
        needed: usize,
        /// Bytes that are there.
        available: usize,
    },
    /// A length or field is impossible (block length not a multiple of 4, captured length
    /// larger than the block, packet for an interface that was never described, …).
    Malformed {
        /// Where the bad header or block starts.
        offset: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// A pcap or pcapng major version this reader does not know.
    UnsupportedVersion {
        /// Major version.
        major: u16,
        /// Minor version.
        minor: u16,
    },
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownFormat { magic } => {
                write!(f, "not a pcap or pcapng file (starts with")?;
                for b in magic {
                    write!(f, " {b:02x}")?;
                }
                f.write_str(")")
            }
            Self::Truncated {
                offset,
                needed,
                available,
            } => write!(
                f,
                "file truncated at offset {offset}: record needs {needed} bytes, {available} left"
            ),
            Self::Malformed { offset, what } => write!(f, "malformed at offset {offset}: {what}"),
            Self::UnsupportedVersion { major, minor } => {
                write!(f, "unsupported format version {major}.{minor}")
            }
        }
    }
}

impl core::error::Error for CaptureError {}
