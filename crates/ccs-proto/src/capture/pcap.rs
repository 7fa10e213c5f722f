//! Classic pcap (the libpcap file format, draft-ietf-opsawg-pcap): a 24-byte file header and
//! 16-byte record headers, in the writer's byte order.

use std::io::{self, Write};

use super::{CaptureError, LinkType, Timestamp};

/// Microsecond timestamps (the usual magic).
pub(super) const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
/// Nanosecond timestamps.
pub(super) const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
pub(super) const FILE_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;
/// No sane capture record is larger; a bigger length means a corrupt file, not a big frame.
pub(super) const MAX_RECORD_LEN: u32 = 256 * 1024 * 1024;

/// The timestamp resolution of a pcap file.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum TimestampResolution {
    /// Microseconds (magic `a1b2c3d4`).
    Micro,
    /// Nanoseconds (magic `a1b23c4d`).
    Nano,
}

/// Reads numbers in the file's byte order, bounds-checked.
#[derive(Clone, Copy, Debug)]
pub(super) struct Endian {
    pub(super) big: bool,
}

impl Endian {
    pub(super) fn u16(self, b: &[u8], at: usize) -> Option<u16> {
        let s: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if self.big {
            u16::from_be_bytes(s)
        } else {
            u16::from_le_bytes(s)
        })
    }

    pub(super) fn u32(self, b: &[u8], at: usize) -> Option<u32> {
        let s: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.big {
            u32::from_be_bytes(s)
        } else {
            u32::from_le_bytes(s)
        })
    }
}

/// The state of reading a classic pcap file.
#[derive(Clone, Debug)]
pub(super) struct PcapParser {
    endian: Endian,
    resolution: TimestampResolution,
    pub(super) link_type: LinkType,
    pub(super) snap_len: u32,
    offset: usize,
}

/// One record of a classic pcap file.
pub(super) struct PcapRecord<'a> {
    pub(super) timestamp: Timestamp,
    pub(super) data: &'a [u8],
    pub(super) original_len: u32,
}

impl PcapParser {
    /// Reads the file header; `None` if the magic is not a pcap magic.
    pub(super) fn new(bytes: &[u8]) -> Option<Result<Self, CaptureError>> {
        let magic: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
        let (big, resolution) = match (u32::from_le_bytes(magic), u32::from_be_bytes(magic)) {
            (MAGIC_MICROS, _) => (false, TimestampResolution::Micro),
            (MAGIC_NANOS, _) => (false, TimestampResolution::Nano),
            (_, MAGIC_MICROS) => (true, TimestampResolution::Micro),
            (_, MAGIC_NANOS) => (true, TimestampResolution::Nano),
            _ => return None,
        };
        let endian = Endian { big };
        Some(Self::header(bytes, endian, resolution))
    }

    fn header(
        bytes: &[u8],
        endian: Endian,
        resolution: TimestampResolution,
    ) -> Result<Self, CaptureError> {
        if bytes.len() < FILE_HEADER_LEN {
            return Err(CaptureError::Truncated {
                offset: 0,
                needed: FILE_HEADER_LEN,
                available: bytes.len(),
            });
        }
        let read16 = |at| endian.u16(bytes, at).unwrap_or(0);
        let read32 = |at| endian.u32(bytes, at).unwrap_or(0);
        let (major, minor) = (read16(4), read16(6));
        if major != 2 {
            return Err(CaptureError::UnsupportedVersion { major, minor });
        }
        // The top bits of the link-type field carry FCS information (RFC draft §4); the link
        // type itself is the low 16 bits.
        let link_type = LinkType::from(read32(20) & 0xffff);
        Ok(Self {
            endian,
            resolution,
            link_type,
            snap_len: read32(16),
            offset: FILE_HEADER_LEN,
        })
    }

    /// The next record, `None` at the clean end of the file.
    pub(super) fn next<'a>(
        &mut self,
        bytes: &'a [u8],
    ) -> Option<Result<PcapRecord<'a>, CaptureError>> {
        let start = self.offset;
        let left = bytes.len().saturating_sub(start);
        if left == 0 {
            return None;
        }
        if left < RECORD_HEADER_LEN {
            self.offset = bytes.len();
            return Some(Err(CaptureError::Truncated {
                offset: start,
                needed: RECORD_HEADER_LEN,
                available: left,
            }));
        }
        let e = self.endian;
        let read32 = |at| e.u32(bytes, start + at).unwrap_or(0);
        let (secs, frac, incl, orig) = (read32(0), read32(4), read32(8), read32(12));
        if incl > MAX_RECORD_LEN {
            self.offset = bytes.len();
            return Some(Err(CaptureError::Malformed {
                offset: start,
                what: "record length above 256 MiB",
            }));
        }
        let incl = incl as usize;
        let needed = RECORD_HEADER_LEN + incl;
        if left < needed {
            self.offset = bytes.len();
            return Some(Err(CaptureError::Truncated {
                offset: start,
                needed,
                available: left,
            }));
        }
        self.offset = start + needed;
        let frac_nanos = match self.resolution {
            TimestampResolution::Micro => u64::from(frac) * 1000,
            TimestampResolution::Nano => u64::from(frac),
        };
        Some(Ok(PcapRecord {
            timestamp: Timestamp(u64::from(secs) * 1_000_000_000 + frac_nanos),
            data: &bytes[start + RECORD_HEADER_LEN..start + needed],
            original_len: orig,
        }))
    }
}

/// Writes a classic pcap file (little-endian).
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    resolution: TimestampResolution,
    snap_len: u32,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header.
    pub fn new(
        mut out: W,
        link_type: LinkType,
        snap_len: u32,
        resolution: TimestampResolution,
    ) -> io::Result<Self> {
        let magic = match resolution {
            TimestampResolution::Micro => MAGIC_MICROS,
            TimestampResolution::Nano => MAGIC_NANOS,
        };
        let mut h = Vec::with_capacity(FILE_HEADER_LEN);
        h.extend_from_slice(&magic.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&snap_len.to_le_bytes());
        h.extend_from_slice(&u32::from(link_type).to_le_bytes());
        out.write_all(&h)?;
        Ok(Self {
            out,
            resolution,
            snap_len,
        })
    }

    /// Writes one packet, cut to the snap length (the original length is kept).
    pub fn write_packet(&mut self, timestamp: Timestamp, data: &[u8]) -> io::Result<()> {
        let cut = data.len().min(self.snap_len as usize);
        let secs = u32::try_from(timestamp.0 / 1_000_000_000).unwrap_or(u32::MAX);
        let nanos = timestamp.0 % 1_000_000_000;
        let frac = match self.resolution {
            TimestampResolution::Micro => nanos / 1000,
            TimestampResolution::Nano => nanos,
        };
        let mut r = Vec::with_capacity(RECORD_HEADER_LEN + cut);
        r.extend_from_slice(&secs.to_le_bytes());
        // frac < 10^9 fits in u32.
        r.extend_from_slice(&u32::try_from(frac).unwrap_or(0).to_le_bytes());
        r.extend_from_slice(&u32::try_from(cut).unwrap_or(u32::MAX).to_le_bytes());
        r.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_le_bytes());
        r.extend_from_slice(&data[..cut]);
        self.out.write_all(&r)
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}
