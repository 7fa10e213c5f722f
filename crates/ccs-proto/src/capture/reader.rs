//! One reader for both formats.

use std::borrow::Cow;

use super::pcap::PcapParser;
use super::pcapng::PcapngParser;
use super::{CaptureError, LinkType, Timestamp};

/// The container format of a capture.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum CaptureFormat {
    /// Classic pcap.
    Pcap,
    /// pcapng.
    Pcapng,
}

/// One captured packet.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Packet<'a> {
    /// When it was captured.
    pub timestamp: Timestamp,
    /// The interface index (always 0 in classic pcap).
    pub interface: u32,
    /// The link type of `data`.
    pub link_type: LinkType,
    /// The captured bytes (possibly cut by the snap length).
    pub data: &'a [u8],
    /// The length on the wire; larger than `data.len()` if the snap length cut it.
    pub original_len: u32,
    /// `opt_comment`s of the packet (pcapng only).
    pub comments: Vec<String>,
}

impl Packet<'_> {
    /// True if the snap length cut the packet.
    pub fn is_truncated(&self) -> bool {
        (self.data.len() as u64) < u64::from(self.original_len)
    }
}

/// An interface described in a capture.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct InterfaceSummary {
    /// Its link type.
    pub link_type: LinkType,
    /// Its name (pcapng `if_name`).
    pub name: Option<String>,
    /// Its snap length (0 = none).
    pub snap_len: u32,
}

#[derive(Clone, Debug)]
enum Parser {
    Pcap(PcapParser),
    Pcapng(PcapngParser),
}

/// Reads the packets of a pcap or pcapng file held in memory. An iterator of
/// `Result<Packet, CaptureError>`: after an error (a truncated last record, a corrupt block)
/// it ends.
#[derive(Clone, Debug)]
pub struct CaptureReader<'a> {
    bytes: &'a [u8],
    parser: Parser,
}

impl<'a> CaptureReader<'a> {
    /// Recognises the format and reads the file header.
    pub fn new(bytes: &'a [u8]) -> Result<Self, CaptureError> {
        if let Some(parser) = PcapngParser::new(bytes) {
            return Ok(Self {
                bytes,
                parser: Parser::Pcapng(parser),
            });
        }
        match PcapParser::new(bytes) {
            Some(parser) => Ok(Self {
                bytes,
                parser: Parser::Pcap(parser?),
            }),
            None => Err(CaptureError::UnknownFormat {
                magic: bytes.iter().take(4).copied().collect(),
            }),
        }
    }

    /// The container format.
    pub fn format(&self) -> CaptureFormat {
        match self.parser {
            Parser::Pcap(_) => CaptureFormat::Pcap,
            Parser::Pcapng(_) => CaptureFormat::Pcapng,
        }
    }

    /// The comments of the section headers read so far (pcapng).
    pub fn section_comments(&self) -> &[String] {
        match &self.parser {
            Parser::Pcap(_) => &[],
            Parser::Pcapng(p) => &p.section_comments,
        }
    }

    /// The decryption secrets blocks read so far (pcapng), in file order.
    pub fn decryption_secrets(&self) -> &[super::DecryptionSecrets] {
        match &self.parser {
            Parser::Pcap(_) => &[],
            Parser::Pcapng(p) => &p.secrets,
        }
    }

    /// The interfaces of the current section, as read so far (one for classic pcap).
    pub fn interfaces(&self) -> Vec<InterfaceSummary> {
        match &self.parser {
            Parser::Pcap(p) => vec![InterfaceSummary {
                link_type: p.link_type,
                name: None,
                snap_len: p.snap_len,
            }],
            Parser::Pcapng(p) => p
                .interfaces
                .iter()
                .map(|i| InterfaceSummary {
                    link_type: i.link_type,
                    name: i.name.clone(),
                    snap_len: i.snap_len,
                })
                .collect(),
        }
    }
}

impl<'a> Iterator for CaptureReader<'a> {
    type Item = Result<Packet<'a>, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.bytes;
        match &mut self.parser {
            Parser::Pcap(p) => {
                let link_type = p.link_type;
                Some(p.next(bytes)?.map(|r| Packet {
                    timestamp: r.timestamp,
                    interface: 0,
                    link_type,
                    data: r.data,
                    original_len: r.original_len,
                    comments: Vec::new(),
                }))
            }
            Parser::Pcapng(p) => {
                let r = match p.next(bytes)? {
                    Ok(r) => r,
                    Err(e) => return Some(Err(e)),
                };
                let link_type = p
                    .interfaces
                    .get(r.interface as usize)
                    .map_or(LinkType::Unknown(u32::MAX), |i| i.link_type);
                Some(Ok(Packet {
                    timestamp: r.timestamp,
                    interface: r.interface,
                    link_type,
                    data: r.data,
                    original_len: r.original_len,
                    comments: r.comments,
                }))
            }
        }
    }
}

/// SLL packet types (the "to us / broadcast / multicast / to someone else / sent by us" field).
const SLL_BROADCAST: u16 = 1;
const SLL_MULTICAST: u16 = 2;

fn sll_frame(
    packet_type: u16,
    addr_len: usize,
    addr: &[u8],
    protocol: u16,
    payload: &[u8],
) -> Vec<u8> {
    // SLL has the link-layer address of the sender only; the destination is inferred from the
    // packet type (broadcast/multicast) or left as zeros ("us" or unknown).
    let mut src = [0u8; 6];
    if addr_len == 6 {
        src.copy_from_slice(&addr[..6]);
    }
    let dst = match packet_type {
        SLL_BROADCAST | SLL_MULTICAST => [0xff; 6],
        _ => [0; 6],
    };
    let mut f = Vec::with_capacity(14 + payload.len());
    // For SLL_OUTGOING the address is the capturing host's own: still the source.
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&protocol.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// Turns a Linux cooked (SLL v1, 16-byte header) packet into an Ethernet frame so the rest of
/// the decoder sees one format. `None` if the header is short or the address is not a MAC.
pub fn ethernet_from_sll(data: &[u8]) -> Option<Vec<u8>> {
    let header = data.get(..16)?;
    let packet_type = u16::from_be_bytes([header[0], header[1]]);
    let addr_len = usize::from(u16::from_be_bytes([header[4], header[5]]));
    let protocol = u16::from_be_bytes([header[14], header[15]]);
    Some(sll_frame(
        packet_type,
        addr_len,
        &header[6..14],
        protocol,
        &data[16..],
    ))
}

/// The same for SLL v2 (20-byte header).
pub fn ethernet_from_sll2(data: &[u8]) -> Option<Vec<u8>> {
    let header = data.get(..20)?;
    let protocol = u16::from_be_bytes([header[0], header[1]]);
    let packet_type = u16::from(header[10]);
    let addr_len = usize::from(header[11]);
    Some(sll_frame(
        packet_type,
        addr_len,
        &header[12..20],
        protocol,
        &data[20..],
    ))
}

fn as_ethernet<'a>(packet: &Packet<'a>) -> Option<Cow<'a, [u8]>> {
    match packet.link_type {
        LinkType::Ethernet => Some(Cow::Borrowed(packet.data)),
        LinkType::LinuxSll => ethernet_from_sll(packet.data).map(Cow::Owned),
        LinkType::LinuxSll2 => ethernet_from_sll2(packet.data).map(Cow::Owned),
        LinkType::User0 | LinkType::WiresharkUpperPdu | LinkType::Unknown(_) => None,
    }
}

impl<'a> Packet<'a> {
    /// The packet as an Ethernet frame: Ethernet as is, Linux cooked captures rewritten with
    /// the sender's MAC as source; `None` for other link types.
    pub fn ethernet(&self) -> Option<Cow<'a, [u8]>> {
        as_ethernet(self)
    }
}
