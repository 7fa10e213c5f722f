//! The IPv6 frames the simulated hosts exchange once the link is up: Ethernet II + IPv6 +
//! UDP (SDP) or TCP (V2GTP), with real link-local addresses, ports and checksums, so that a
//! capture of the simulation shows the frames a real session would.
//!
//! Only what the simulation needs: no extension headers, no fragmentation, no neighbour
//! discovery (the hosts learn each other's MAC from SLAC and from the frames they receive).
//! References: RFC 8200 (IPv6 header), RFC 768 (UDP), RFC 9293 (TCP header), RFC 4291 §2.5.6
//! (link-local addresses) and Appendix A (modified EUI-64), RFC 2464 §7 (multicast MACs).

use core::fmt;
use core::net::Ipv6Addr;

use ccs_proto::homeplug::MacAddress;

/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// IPv6 next-header number of TCP.
pub const NEXT_HEADER_TCP: u8 = 6;
/// IPv6 next-header number of UDP.
pub const NEXT_HEADER_UDP: u8 = 17;

const ETHERNET_HEADER_LEN: usize = 14;
const IPV6_HEADER_LEN: usize = 40;
const UDP_HEADER_LEN: usize = 8;
const TCP_HEADER_LEN: usize = 20;

/// The link-local address a host derives from its MAC (modified EUI-64, RFC 4291), as the
/// cars in the captures do (Ioniq `04:65:65:00:64:C3` → `fe80::665:65ff:fe00:64c3`).
pub fn link_local_from_mac(mac: MacAddress) -> Ipv6Addr {
    let m = mac.0;
    Ipv6Addr::from([
        0xfe,
        0x80,
        0,
        0,
        0,
        0,
        0,
        0,
        m[0] ^ 0x02,
        m[1],
        m[2],
        0xff,
        0xfe,
        m[3],
        m[4],
        m[5],
    ])
}

/// The Ethernet destination of an IPv6 multicast address: `33:33` + its last 32 bits
/// (RFC 2464 §7).
pub fn multicast_mac(address: Ipv6Addr) -> MacAddress {
    let o = address.octets();
    MacAddress([0x33, 0x33, o[12], o[13], o[14], o[15]])
}

/// TCP control bits (RFC 9293 §3.1).
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// No more data from the sender.
    pub const FIN: Self = Self(0x01);
    /// Synchronize sequence numbers.
    pub const SYN: Self = Self(0x02);
    /// Reset the connection.
    pub const RST: Self = Self(0x04);
    /// Push function.
    pub const PSH: Self = Self(0x08);
    /// The acknowledgment field is significant.
    pub const ACK: Self = Self(0x10);

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl core::ops::BitOr for TcpFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl fmt::Display for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Self::SYN, "S"),
            (Self::FIN, "F"),
            (Self::RST, "R"),
            (Self::PSH, "P"),
            (Self::ACK, "."),
        ];
        for (flag, name) in names {
            if self.contains(flag) {
                f.write_str(name)?;
            }
        }
        Ok(())
    }
}

/// A TCP segment (header fields the simulation uses, plus the payload).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct TcpSegment {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (meaningful with ACK).
    pub ack: u32,
    /// Control bits.
    pub flags: TcpFlags,
    /// Receive window.
    pub window: u16,
    /// The data.
    pub payload: Vec<u8>,
}

impl TcpSegment {
    /// How much sequence space the segment takes: its data plus one for SYN and for FIN.
    pub fn sequence_len(&self) -> u32 {
        let data = u32::try_from(self.payload.len()).unwrap_or(u32::MAX);
        data + u32::from(self.flags.contains(TcpFlags::SYN))
            + u32::from(self.flags.contains(TcpFlags::FIN))
    }
}

/// What an IPv6 packet of the simulation carries.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Transport {
    /// A UDP datagram.
    Udp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
        /// The datagram's payload.
        payload: Vec<u8>,
    },
    /// A TCP segment.
    Tcp(TcpSegment),
}

/// An Ethernet frame carrying IPv6 with UDP or TCP.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct IpFrame {
    /// Ethernet destination.
    pub dst_mac: MacAddress,
    /// Ethernet source.
    pub src_mac: MacAddress,
    /// IPv6 source.
    pub src: Ipv6Addr,
    /// IPv6 destination.
    pub dst: Ipv6Addr,
    /// Hop limit.
    pub hop_limit: u8,
    /// The upper-layer packet.
    pub transport: Transport,
}

/// Why bytes are not an [`IpFrame`] of the simulation.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum FrameError {
    /// Not IPv6 (another EtherType, e.g. HomePlug).
    NotIpv6,
    /// Shorter than its headers say.
    Truncated,
    /// IPv6 version field is not 6.
    BadVersion,
    /// Neither UDP nor TCP (ICMPv6, extension headers): not used by the simulation.
    UnsupportedNextHeader(u8),
    /// The UDP or TCP checksum does not match.
    BadChecksum,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotIpv6 => f.write_str("not an IPv6 frame"),
            Self::Truncated => f.write_str("truncated IPv6 frame"),
            Self::BadVersion => f.write_str("IP version is not 6"),
            Self::UnsupportedNextHeader(n) => write!(f, "next header {n} not supported"),
            Self::BadChecksum => f.write_str("bad UDP/TCP checksum"),
        }
    }
}

impl core::error::Error for FrameError {}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The Internet checksum over the IPv6 pseudo-header and the upper-layer packet (RFC 8200
/// §8.1).
fn checksum(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, upper: &[u8]) -> u16 {
    let mut sum: u64 = 0;
    let mut add = |bytes: &[u8]| {
        let mut chunks = bytes.chunks_exact(2);
        for c in &mut chunks {
            sum += u64::from(u16::from_be_bytes([c[0], c[1]]));
        }
        if let [last] = chunks.remainder() {
            sum += u64::from(u16::from_be_bytes([*last, 0]));
        }
    };
    add(&src.octets());
    add(&dst.octets());
    let len = u32::try_from(upper.len()).unwrap_or(u32::MAX);
    add(&len.to_be_bytes());
    add(&[0, 0, 0, next_header]);
    add(upper);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // Truncation is exact: the loop above folded the sum into 16 bits.
    !(sum as u16)
}

impl IpFrame {
    /// The frame's bytes: Ethernet header, IPv6 header, UDP/TCP header with checksum, payload.
    pub fn emit(&self) -> Vec<u8> {
        let (next_header, mut upper) = match &self.transport {
            Transport::Udp {
                src_port,
                dst_port,
                payload,
            } => {
                let len = u16::try_from(UDP_HEADER_LEN + payload.len()).unwrap_or(u16::MAX);
                let mut u = Vec::with_capacity(UDP_HEADER_LEN + payload.len());
                u.extend_from_slice(&src_port.to_be_bytes());
                u.extend_from_slice(&dst_port.to_be_bytes());
                u.extend_from_slice(&len.to_be_bytes());
                u.extend_from_slice(&[0, 0]);
                u.extend_from_slice(payload);
                (NEXT_HEADER_UDP, u)
            }
            Transport::Tcp(s) => {
                let mut u = Vec::with_capacity(TCP_HEADER_LEN + s.payload.len());
                u.extend_from_slice(&s.src_port.to_be_bytes());
                u.extend_from_slice(&s.dst_port.to_be_bytes());
                u.extend_from_slice(&s.seq.to_be_bytes());
                u.extend_from_slice(&s.ack.to_be_bytes());
                // Data offset 5 words, no options.
                u.push(0x50);
                u.push(s.flags.0);
                u.extend_from_slice(&s.window.to_be_bytes());
                u.extend_from_slice(&[0, 0, 0, 0]);
                u.extend_from_slice(&s.payload);
                (NEXT_HEADER_TCP, u)
            }
        };
        let mut sum = checksum(self.src, self.dst, next_header, &upper);
        if next_header == NEXT_HEADER_UDP && sum == 0 {
            // UDP over IPv6 transmits a zero checksum as all ones (RFC 8200 §8.1).
            sum = 0xffff;
        }
        let at = if next_header == NEXT_HEADER_UDP {
            6
        } else {
            16
        };
        upper[at..at + 2].copy_from_slice(&sum.to_be_bytes());

        let mut out = Vec::with_capacity(ETHERNET_HEADER_LEN + IPV6_HEADER_LEN + upper.len());
        out.extend_from_slice(&self.dst_mac.0);
        out.extend_from_slice(&self.src_mac.0);
        out.extend_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
        out.extend_from_slice(&[0x60, 0, 0, 0]);
        let payload_len = u16::try_from(upper.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&payload_len.to_be_bytes());
        out.push(next_header);
        out.push(self.hop_limit);
        out.extend_from_slice(&self.src.octets());
        out.extend_from_slice(&self.dst.octets());
        out.extend_from_slice(&upper);
        out
    }

    /// Parses an Ethernet frame; checks lengths and checksums.
    pub fn parse(frame: &[u8]) -> Result<Self, FrameError> {
        if frame.len() < ETHERNET_HEADER_LEN {
            return Err(FrameError::Truncated);
        }
        if be16(frame, 12) != ETHERTYPE_IPV6 {
            return Err(FrameError::NotIpv6);
        }
        let ip = &frame[ETHERNET_HEADER_LEN..];
        if ip.len() < IPV6_HEADER_LEN {
            return Err(FrameError::Truncated);
        }
        if ip[0] >> 4 != 6 {
            return Err(FrameError::BadVersion);
        }
        let payload_len = usize::from(be16(ip, 4));
        let next_header = ip[6];
        let hop_limit = ip[7];
        let octets = |at: usize| {
            let mut a = [0u8; 16];
            a.copy_from_slice(&ip[at..at + 16]);
            Ipv6Addr::from(a)
        };
        let (src, dst) = (octets(8), octets(24));
        let Some(upper) = ip.get(IPV6_HEADER_LEN..IPV6_HEADER_LEN + payload_len) else {
            return Err(FrameError::Truncated);
        };
        let mut dst_mac = [0u8; 6];
        dst_mac.copy_from_slice(&frame[0..6]);
        let mut src_mac = [0u8; 6];
        src_mac.copy_from_slice(&frame[6..12]);
        let transport = match next_header {
            NEXT_HEADER_UDP => {
                if upper.len() < UDP_HEADER_LEN || usize::from(be16(upper, 4)) > upper.len() {
                    return Err(FrameError::Truncated);
                }
                if checksum(src, dst, next_header, upper) != 0 {
                    return Err(FrameError::BadChecksum);
                }
                let len = usize::from(be16(upper, 4));
                Transport::Udp {
                    src_port: be16(upper, 0),
                    dst_port: be16(upper, 2),
                    payload: upper[UDP_HEADER_LEN..len.max(UDP_HEADER_LEN)].to_vec(),
                }
            }
            NEXT_HEADER_TCP => {
                if upper.len() < TCP_HEADER_LEN {
                    return Err(FrameError::Truncated);
                }
                let data_offset = usize::from(upper[12] >> 4) * 4;
                if data_offset < TCP_HEADER_LEN || data_offset > upper.len() {
                    return Err(FrameError::Truncated);
                }
                if checksum(src, dst, next_header, upper) != 0 {
                    return Err(FrameError::BadChecksum);
                }
                Transport::Tcp(TcpSegment {
                    src_port: be16(upper, 0),
                    dst_port: be16(upper, 2),
                    seq: be32(upper, 4),
                    ack: be32(upper, 8),
                    flags: TcpFlags(upper[13]),
                    window: be16(upper, 14),
                    payload: upper[data_offset..].to_vec(),
                })
            }
            other => return Err(FrameError::UnsupportedNextHeader(other)),
        };
        Ok(Self {
            dst_mac: MacAddress(dst_mac),
            src_mac: MacAddress(src_mac),
            src,
            dst,
            hop_limit,
            transport,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EV: MacAddress = MacAddress([0x04, 0x65, 0x65, 0x00, 0x64, 0xc3]);
    const EVSE: MacAddress = MacAddress([0x02, 0x00, 0x00, 0x00, 0x00, 0x02]);

    #[test]
    fn eui64_link_local_matches_the_ioniq() {
        let expected: Ipv6Addr = "fe80::665:65ff:fe00:64c3".parse().unwrap();
        assert_eq!(link_local_from_mac(EV), expected);
        assert_eq!(
            multicast_mac(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1)),
            MacAddress([0x33, 0x33, 0, 0, 0, 1])
        );
    }

    #[test]
    fn udp_and_tcp_round_trip_with_valid_checksums() {
        let sdp = IpFrame {
            dst_mac: multicast_mac(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1)),
            src_mac: EV,
            src: link_local_from_mac(EV),
            dst: Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1),
            hop_limit: 255,
            transport: Transport::Udp {
                src_port: 50_032,
                dst_port: 15118,
                payload: vec![0x01, 0xfe, 0x90, 0x00, 0, 0, 0, 2, 0x10, 0x00],
            },
        };
        let bytes = sdp.emit();
        assert_eq!(bytes.len(), 14 + 40 + 8 + 10);
        assert_eq!(IpFrame::parse(&bytes), Ok(sdp));

        let tcp = IpFrame {
            dst_mac: EVSE,
            src_mac: EV,
            src: link_local_from_mac(EV),
            dst: link_local_from_mac(EVSE),
            hop_limit: 64,
            transport: Transport::Tcp(TcpSegment {
                src_port: 50_000,
                dst_port: 53_537,
                seq: 0xdead_beef,
                ack: 7,
                flags: TcpFlags::PSH | TcpFlags::ACK,
                window: 8192,
                payload: b"odd".to_vec(),
            }),
        };
        let mut bytes = tcp.emit();
        assert_eq!(IpFrame::parse(&bytes), Ok(tcp));
        // A flipped payload bit breaks the checksum.
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        assert_eq!(IpFrame::parse(&bytes), Err(FrameError::BadChecksum));
    }

    #[test]
    fn truncated_and_foreign_frames_are_errors_not_panics() {
        assert_eq!(IpFrame::parse(&[]), Err(FrameError::Truncated));
        let mut slac = vec![0u8; 60];
        slac[12] = 0x88;
        slac[13] = 0xe1;
        assert_eq!(IpFrame::parse(&slac), Err(FrameError::NotIpv6));
        let mut short_ip = vec![0u8; 30];
        short_ip[12] = 0x86;
        short_ip[13] = 0xdd;
        assert_eq!(IpFrame::parse(&short_ip), Err(FrameError::Truncated));
        for cut in 0..80 {
            let frame = IpFrame {
                dst_mac: EVSE,
                src_mac: EV,
                src: link_local_from_mac(EV),
                dst: link_local_from_mac(EVSE),
                hop_limit: 64,
                transport: Transport::Tcp(TcpSegment {
                    src_port: 1,
                    dst_port: 2,
                    seq: 3,
                    ack: 4,
                    flags: TcpFlags::ACK,
                    window: 5,
                    payload: vec![9; 10],
                }),
            }
            .emit();
            let _ = IpFrame::parse(&frame[..cut.min(frame.len())]);
        }
    }
}
