//! pcapng (draft-ietf-opsawg-pcapng): blocks of section headers, interface descriptions and
//! packets, each section in its writer's byte order.

use std::io::{self, Write};

use super::pcap::{Endian, MAX_RECORD_LEN};
use super::{CaptureError, LinkType, Timestamp};

pub(super) const SHB: u32 = 0x0a0d_0d0a;
const IDB: u32 = 0x0000_0001;
const OBSOLETE_PB: u32 = 0x0000_0002;
const SPB: u32 = 0x0000_0003;
const EPB: u32 = 0x0000_0006;
const DSB: u32 = 0x0000_000a;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;

const OPT_END: u16 = 0;
const OPT_COMMENT: u16 = 1;
const SHB_HARDWARE: u16 = 2;
const SHB_OS: u16 = 3;
const SHB_USERAPPL: u16 = 4;
const IF_NAME: u16 = 2;
const IF_DESCRIPTION: u16 = 3;
const IF_TSRESOL: u16 = 9;
const IF_TSOFFSET: u16 = 14;

/// The secrets type of an NSS key log (`SSLKEYLOGFILE` lines) in a decryption secrets block:
/// "TLSK".
pub const SECRETS_TYPE_TLS_KEY_LOG: u32 = 0x544c_534b;

/// A decryption secrets block (pcapng block type 0x0000000A): keys that let a reader decrypt
/// the packets after it, e.g. an NSS key log for TLS ([`SECRETS_TYPE_TLS_KEY_LOG`]).
#[derive(Clone, Eq, PartialEq)]
pub struct DecryptionSecrets {
    /// The secrets type, e.g. [`SECRETS_TYPE_TLS_KEY_LOG`].
    pub secrets_type: u32,
    /// The secrets (for TLS: NSS key log lines).
    pub data: Vec<u8>,
}

impl core::fmt::Debug for DecryptionSecrets {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Secrets stay out of logs and panic messages.
        f.debug_struct("DecryptionSecrets")
            .field("secrets_type", &format_args!("{:#010x}", self.secrets_type))
            .field("len", &self.data.len())
            .finish()
    }
}

/// What the reader knows about one interface of the current section.
#[derive(Clone, Debug)]
pub(super) struct InterfaceInfo {
    pub(super) link_type: LinkType,
    pub(super) snap_len: u32,
    pub(super) name: Option<String>,
    /// `if_tsresol`: bit 7 clear = 10^-n, set = 2^-n.
    tsresol: u8,
    /// `if_tsoffset`, seconds.
    tsoffset: i64,
}

impl InterfaceInfo {
    fn timestamp(&self, raw: u64) -> Timestamp {
        let n = u32::from(self.tsresol & 0x7f);
        let nanos: u128 = if self.tsresol & 0x80 == 0 {
            if n <= 9 {
                u128::from(raw) * 10u128.pow(9 - n)
            } else {
                u128::from(raw) / 10u128.pow((n - 9).min(38))
            }
        } else {
            (u128::from(raw) * 1_000_000_000) >> n.min(127)
        };
        let offset = i128::from(self.tsoffset) * 1_000_000_000;
        let total = (nanos as i128).saturating_add(offset).max(0);
        Timestamp(u64::try_from(total).unwrap_or(u64::MAX))
    }
}

/// One packet read from a pcapng file.
pub(super) struct NgPacket<'a> {
    pub(super) interface: u32,
    pub(super) timestamp: Timestamp,
    pub(super) data: &'a [u8],
    pub(super) original_len: u32,
    pub(super) comments: Vec<String>,
}

/// The state of reading a pcapng file.
#[derive(Clone, Debug)]
pub(super) struct PcapngParser {
    endian: Endian,
    pub(super) interfaces: Vec<InterfaceInfo>,
    pub(super) section_comments: Vec<String>,
    pub(super) secrets: Vec<DecryptionSecrets>,
    offset: usize,
}

fn truncated(offset: usize, needed: usize, available: usize) -> CaptureError {
    CaptureError::Truncated {
        offset,
        needed,
        available,
    }
}

fn malformed(offset: usize, what: &'static str) -> CaptureError {
    CaptureError::Malformed { offset, what }
}

/// The options of a block body: (code, value) pairs up to `opt_endofopt`. Malformed option
/// lists end early rather than fail: options are decoration.
fn options(e: Endian, mut b: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while b.len() >= 4 {
        let (Some(code), Some(len)) = (e.u16(b, 0), e.u16(b, 2)) else {
            break;
        };
        if code == OPT_END {
            break;
        }
        let len = usize::from(len);
        let Some(value) = b.get(4..4 + len) else {
            break;
        };
        out.push((code, value));
        let padded = 4 + len.div_ceil(4) * 4;
        b = b.get(padded..).unwrap_or(&[]);
    }
    out
}

fn comments(opts: &[(u16, &[u8])]) -> Vec<String> {
    opts.iter()
        .filter(|(code, _)| *code == OPT_COMMENT)
        .map(|(_, v)| String::from_utf8_lossy(v).trim_end_matches('\0').to_owned())
        .collect()
}

impl PcapngParser {
    /// Starts reading; `None` if the file does not begin with a section header block.
    pub(super) fn new(bytes: &[u8]) -> Option<Self> {
        let magic: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
        (u32::from_le_bytes(magic) == SHB).then_some(Self {
            endian: Endian { big: false },
            interfaces: Vec::new(),
            section_comments: Vec::new(),
            secrets: Vec::new(),
            offset: 0,
        })
    }

    /// The next packet, `None` at the clean end of the file. Section headers and interface
    /// descriptions are absorbed on the way; unknown blocks are skipped.
    pub(super) fn next<'a>(
        &mut self,
        bytes: &'a [u8],
    ) -> Option<Result<NgPacket<'a>, CaptureError>> {
        loop {
            let start = self.offset;
            let left = bytes.len().saturating_sub(start);
            if left == 0 {
                return None;
            }
            match self.block(bytes, start) {
                Ok((len, packet)) => {
                    self.offset = start + len;
                    if let Some(p) = packet {
                        return Some(Ok(p));
                    }
                }
                Err(err) => {
                    self.offset = bytes.len();
                    return Some(Err(err));
                }
            }
        }
    }

    /// The byte order for the block at `offset` (a section header sets its own).
    fn endian_at(&self, bytes: &[u8], offset: usize) -> Option<Endian> {
        let raw: [u8; 4] = bytes.get(offset..offset + 4)?.try_into().ok()?;
        if u32::from_le_bytes(raw) != SHB {
            return Some(self.endian);
        }
        let m: [u8; 4] = bytes.get(offset + 8..offset + 12)?.try_into().ok()?;
        match (u32::from_le_bytes(m), u32::from_be_bytes(m)) {
            (BYTE_ORDER_MAGIC, _) => Some(Endian { big: false }),
            (_, BYTE_ORDER_MAGIC) => Some(Endian { big: true }),
            _ => None,
        }
    }

    /// Reads the block at `start`: its total length and the packet it holds, if any.
    fn block<'a>(
        &mut self,
        bytes: &'a [u8],
        start: usize,
    ) -> Result<(usize, Option<NgPacket<'a>>), CaptureError> {
        let left = bytes.len() - start;
        if left < 12 {
            return Err(truncated(start, 12, left));
        }
        let raw_type: [u8; 4] = bytes[start..start + 4].try_into().unwrap_or([0; 4]);
        if u32::from_le_bytes(raw_type) == SHB {
            // The byte order of this section is that of its byte-order magic.
            let m: [u8; 4] = bytes[start + 8..start + 12].try_into().unwrap_or([0; 4]);
            self.endian = match (u32::from_le_bytes(m), u32::from_be_bytes(m)) {
                (BYTE_ORDER_MAGIC, _) => Endian { big: false },
                (_, BYTE_ORDER_MAGIC) => Endian { big: true },
                _ => return Err(malformed(start, "section header without byte-order magic")),
            };
        }
        let e = self.endian;
        let kind = e.u32(bytes, start).unwrap_or(0);
        let len_field = e.u32(bytes, start + 4).unwrap_or(0);
        if len_field < 12 || !len_field.is_multiple_of(4) || len_field > MAX_RECORD_LEN {
            return Err(malformed(
                start,
                "block length not a multiple of 4 of at least 12",
            ));
        }
        let len = len_field as usize;
        if left < len {
            return Err(truncated(start, len, left));
        }
        if e.u32(bytes, start + len - 4) != Some(len_field) {
            return Err(malformed(start, "block lengths at start and end differ"));
        }
        let body = &bytes[start + 8..start + len - 4];
        let packet = match kind {
            SHB => {
                self.section_header(body, start)?;
                None
            }
            IDB => {
                self.interface(body, start)?;
                None
            }
            DSB => {
                self.decryption_secrets(body, start)?;
                None
            }
            EPB => Some(self.enhanced_packet(body, start)?),
            SPB => Some(self.simple_packet(body, start)?),
            OBSOLETE_PB => Some(self.obsolete_packet(body, start)?),
            _ => None,
        };
        Ok((len, packet))
    }

    fn section_header(&mut self, body: &[u8], start: usize) -> Result<(), CaptureError> {
        let e = self.endian;
        let major = e
            .u16(body, 4)
            .ok_or_else(|| malformed(start, "short section header"))?;
        let minor = e.u16(body, 6).unwrap_or(0);
        if major != 1 {
            return Err(CaptureError::UnsupportedVersion { major, minor });
        }
        self.interfaces.clear();
        let opts = options(e, body.get(16..).unwrap_or(&[]));
        self.section_comments.extend(comments(&opts));
        Ok(())
    }

    fn interface(&mut self, body: &[u8], start: usize) -> Result<(), CaptureError> {
        let e = self.endian;
        let (Some(link), Some(snap_len)) = (e.u16(body, 0), e.u32(body, 4)) else {
            return Err(malformed(start, "short interface description"));
        };
        let mut info = InterfaceInfo {
            link_type: LinkType::from(u32::from(link)),
            snap_len,
            name: None,
            tsresol: 6,
            tsoffset: 0,
        };
        for (code, value) in options(e, body.get(8..).unwrap_or(&[])) {
            match code {
                IF_NAME => info.name = Some(String::from_utf8_lossy(value).into_owned()),
                IF_TSRESOL => info.tsresol = value.first().copied().unwrap_or(6),
                IF_TSOFFSET if value.len() == 8 => {
                    let hi = e.u32(value, 0).unwrap_or(0);
                    let lo = e.u32(value, 4).unwrap_or(0);
                    let raw = if e.big {
                        (u64::from(hi) << 32) | u64::from(lo)
                    } else {
                        (u64::from(lo) << 32) | u64::from(hi)
                    };
                    info.tsoffset = i64::from_ne_bytes(raw.to_ne_bytes());
                }
                _ => {}
            }
        }
        self.interfaces.push(info);
        Ok(())
    }

    fn decryption_secrets(&mut self, body: &[u8], start: usize) -> Result<(), CaptureError> {
        let e = self.endian;
        let (Some(secrets_type), Some(len)) = (e.u32(body, 0), e.u32(body, 4)) else {
            return Err(malformed(start, "short decryption secrets block"));
        };
        let data = body
            .get(8..8 + len as usize)
            .ok_or_else(|| malformed(start, "secrets length larger than the block"))?;
        self.secrets.push(DecryptionSecrets {
            secrets_type,
            data: data.to_vec(),
        });
        Ok(())
    }

    fn interface_at(&self, id: u32, start: usize) -> Result<&InterfaceInfo, CaptureError> {
        self.interfaces
            .get(id as usize)
            .ok_or_else(|| malformed(start, "packet for an interface that was never described"))
    }

    fn packet_data(
        body: &[u8],
        at: usize,
        captured: u32,
        start: usize,
    ) -> Result<(&[u8], &[u8]), CaptureError> {
        let captured = captured as usize;
        let data = body
            .get(at..at + captured)
            .ok_or_else(|| malformed(start, "captured length larger than the block"))?;
        let rest = body.get(at + captured.div_ceil(4) * 4..).unwrap_or(&[]);
        Ok((data, rest))
    }

    fn enhanced_packet<'a>(
        &self,
        body: &'a [u8],
        start: usize,
    ) -> Result<NgPacket<'a>, CaptureError> {
        let e = self.endian;
        let field = |at| {
            e.u32(body, at)
                .ok_or_else(|| malformed(start, "short packet block"))
        };
        let (id, hi, lo, captured, original) =
            (field(0)?, field(4)?, field(8)?, field(12)?, field(16)?);
        let info = self.interface_at(id, start)?;
        let (data, rest) = Self::packet_data(body, 20, captured, start)?;
        Ok(NgPacket {
            interface: id,
            timestamp: info.timestamp((u64::from(hi) << 32) | u64::from(lo)),
            data,
            original_len: original,
            comments: comments(&options(e, rest)),
        })
    }

    fn obsolete_packet<'a>(
        &self,
        body: &'a [u8],
        start: usize,
    ) -> Result<NgPacket<'a>, CaptureError> {
        let e = self.endian;
        let field = |at| {
            e.u32(body, at)
                .ok_or_else(|| malformed(start, "short packet block"))
        };
        let id = u32::from(e.u16(body, 0).unwrap_or(0));
        let (hi, lo, captured, original) = (field(4)?, field(8)?, field(12)?, field(16)?);
        let info = self.interface_at(id, start)?;
        let (data, rest) = Self::packet_data(body, 20, captured, start)?;
        Ok(NgPacket {
            interface: id,
            timestamp: info.timestamp((u64::from(hi) << 32) | u64::from(lo)),
            data,
            original_len: original,
            comments: comments(&options(e, rest)),
        })
    }

    fn simple_packet<'a>(
        &self,
        body: &'a [u8],
        start: usize,
    ) -> Result<NgPacket<'a>, CaptureError> {
        let original = self
            .endian
            .u32(body, 0)
            .ok_or_else(|| malformed(start, "short simple packet block"))?;
        let info = self.interface_at(0, start)?;
        let mut captured = (original as usize).min(body.len() - 4);
        if info.snap_len != 0 {
            captured = captured.min(info.snap_len as usize);
        }
        Ok(NgPacket {
            interface: 0,
            // A simple packet block has no timestamp.
            timestamp: Timestamp(0),
            data: &body[4..4 + captured],
            original_len: original,
            comments: Vec::new(),
        })
    }
}

/// Moves every decryption secrets block of a one-section pcapng file to just after its section
/// header, keeping the order of everything else: Wireshark uses secrets only for the packets
/// after them, and a recorder learns the TLS keys only once the handshake is under way.
/// `None` if there is nothing to move or the file is not a clean one-section pcapng file.
pub fn hoist_decryption_secrets(file: &[u8]) -> Option<Vec<u8>> {
    let mut parser = PcapngParser::new(file)?;
    let mut blocks = Vec::new();
    let mut offset = 0;
    while offset < file.len() {
        let kind = parser.endian_at(file, offset)?.u32(file, offset)?;
        let (len, _) = parser.block(file, offset).ok()?;
        blocks.push((kind, offset..offset + len));
        offset += len;
    }
    let sections = blocks.iter().filter(|(k, _)| *k == SHB).count();
    let moved = blocks.iter().filter(|(k, _)| *k == DSB).count();
    if sections != 1 || moved == 0 || blocks.first().map(|(k, _)| *k) != Some(SHB) {
        return None;
    }
    let mut out = Vec::with_capacity(file.len());
    out.extend_from_slice(&file[blocks[0].1.clone()]);
    for (_, range) in blocks.iter().filter(|(k, _)| *k == DSB) {
        out.extend_from_slice(&file[range.clone()]);
    }
    for (_, range) in blocks.iter().skip(1).filter(|(k, _)| *k != DSB) {
        out.extend_from_slice(&file[range.clone()]);
    }
    Some(out)
}

/// What the section header of a written file says about who wrote it.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct SectionInfo {
    /// `shb_hardware`, e.g. "Raspberry Pi 4 + TL-PA4010".
    pub hardware: Option<String>,
    /// `shb_os`, e.g. "Linux 6.6".
    pub os: Option<String>,
    /// `shb_userappl`, e.g. "ccsplc 0.1.0".
    pub application: Option<String>,
    /// `opt_comment` of the section, e.g. the session's configuration.
    pub comment: Option<String>,
}

/// An interface to describe in a written pcapng file.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Interface {
    /// The link type of its packets.
    pub link_type: LinkType,
    /// `if_name`, e.g. "eth1".
    pub name: Option<String>,
    /// `if_description`, e.g. "HomePlug modem (QCA7420)".
    pub description: Option<String>,
    /// The snap length (0 = unlimited).
    pub snap_len: u32,
}

impl Interface {
    /// An Ethernet interface with this name, no snap length.
    pub fn ethernet(name: &str) -> Self {
        Self {
            link_type: LinkType::Ethernet,
            name: Some(name.to_owned()),
            description: None,
            snap_len: 0,
        }
    }
}

/// The index of an interface in a written section (the order of [`PcapngWriter::add_interface`]).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct InterfaceId(pub u32);

fn push_option(out: &mut Vec<u8>, code: u16, value: &[u8]) {
    // An option value is at most 65535 bytes; longer texts are cut (comments are for humans).
    let len = value.len().min(usize::from(u16::MAX) - 3);
    out.extend_from_slice(&code.to_le_bytes());
    out.extend_from_slice(&u16::try_from(len).unwrap_or(0).to_le_bytes());
    out.extend_from_slice(&value[..len]);
    out.resize(out.len() + (4 - len % 4) % 4, 0);
}

fn end_options(out: &mut Vec<u8>, any: bool) {
    if any {
        out.extend_from_slice(&[0, 0, 0, 0]);
    }
}

fn block(kind: u32, body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len() + 12).unwrap_or(u32::MAX);
    let mut b = Vec::with_capacity(body.len() + 12);
    b.extend_from_slice(&kind.to_le_bytes());
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(body);
    b.extend_from_slice(&len.to_le_bytes());
    b
}

/// Writes a pcapng file (little-endian, one section). Every block goes to the writer in one
/// `write_all`, so a failing writer leaves at most one partial block behind.
#[derive(Debug)]
pub struct PcapngWriter<W: Write> {
    out: W,
    interfaces: Vec<Interface>,
}

impl<W: Write> PcapngWriter<W> {
    /// Writes the section header.
    pub fn new(mut out: W, section: &SectionInfo) -> io::Result<Self> {
        let mut body = Vec::new();
        body.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&(-1i64).to_le_bytes());
        let mut any = false;
        for (code, value) in [
            (OPT_COMMENT, &section.comment),
            (SHB_HARDWARE, &section.hardware),
            (SHB_OS, &section.os),
            (SHB_USERAPPL, &section.application),
        ] {
            if let Some(v) = value {
                push_option(&mut body, code, v.as_bytes());
                any = true;
            }
        }
        end_options(&mut body, any);
        out.write_all(&block(SHB, &body))?;
        Ok(Self {
            out,
            interfaces: Vec::new(),
        })
    }

    /// Describes an interface; packets refer to it by the returned id. Timestamps are written
    /// in nanoseconds (`if_tsresol` = 9).
    pub fn add_interface(&mut self, interface: &Interface) -> io::Result<InterfaceId> {
        let mut body = Vec::new();
        let link = u16::try_from(u32::from(interface.link_type)).unwrap_or(u16::MAX);
        body.extend_from_slice(&link.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&interface.snap_len.to_le_bytes());
        if let Some(name) = &interface.name {
            push_option(&mut body, IF_NAME, name.as_bytes());
        }
        if let Some(d) = &interface.description {
            push_option(&mut body, IF_DESCRIPTION, d.as_bytes());
        }
        push_option(&mut body, IF_TSRESOL, &[9]);
        end_options(&mut body, true);
        self.out.write_all(&block(IDB, &body))?;
        let id = InterfaceId(u32::try_from(self.interfaces.len()).unwrap_or(u32::MAX));
        self.interfaces.push(interface.clone());
        Ok(id)
    }

    /// Writes one packet (cut to the interface's snap length) with an optional comment. An
    /// unknown interface id is an `InvalidInput` error.
    pub fn write_packet(
        &mut self,
        interface: InterfaceId,
        timestamp: Timestamp,
        data: &[u8],
        comment: Option<&str>,
    ) -> io::Result<()> {
        let Some(info) = self.interfaces.get(interface.0 as usize) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "pcapng: packet for an interface that was not added",
            ));
        };
        let cut = if info.snap_len == 0 {
            data.len()
        } else {
            data.len().min(info.snap_len as usize)
        };
        let mut body = Vec::with_capacity(20 + cut + 8);
        body.extend_from_slice(&interface.0.to_le_bytes());
        let ts = timestamp.0;
        body.extend_from_slice(&u32::try_from(ts >> 32).unwrap_or(0).to_le_bytes());
        body.extend_from_slice(&u32::try_from(ts & 0xffff_ffff).unwrap_or(0).to_le_bytes());
        body.extend_from_slice(&u32::try_from(cut).unwrap_or(u32::MAX).to_le_bytes());
        body.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_le_bytes());
        body.extend_from_slice(&data[..cut]);
        body.resize(body.len() + (4 - cut % 4) % 4, 0);
        if let Some(c) = comment {
            push_option(&mut body, OPT_COMMENT, c.as_bytes());
        }
        end_options(&mut body, comment.is_some());
        self.out.write_all(&block(EPB, &body))
    }

    /// Writes a decryption secrets block. Wireshark uses the secrets for the packets after the
    /// block (for TLS 1.2: from the ChangeCipherSpec on), so write it as early as possible.
    pub fn write_decryption_secrets(&mut self, secrets: &DecryptionSecrets) -> io::Result<()> {
        let mut body = Vec::with_capacity(8 + secrets.data.len() + 3);
        body.extend_from_slice(&secrets.secrets_type.to_le_bytes());
        let len = u32::try_from(secrets.data.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "secrets too long"))?;
        body.extend_from_slice(&len.to_le_bytes());
        body.extend_from_slice(&secrets.data);
        body.resize(body.len() + (4 - secrets.data.len() % 4) % 4, 0);
        self.out.write_all(&block(DSB, &body))
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
