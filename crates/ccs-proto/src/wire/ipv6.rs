//! IPv6 (RFC 8200): the fixed header, and a walk over the extension headers to the upper layer.

use core::fmt;
use core::net::Ipv6Addr;

use super::{WireError, be16, need};

/// An IP protocol number (IPv6 next header / IPv4 protocol).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum IpProtocol {
    /// 0: IPv6 hop-by-hop options (MLD reports carry a router-alert option in one).
    HopByHop,
    /// 1: ICMP (IPv4).
    Icmp,
    /// 6: TCP.
    Tcp,
    /// 17: UDP.
    Udp,
    /// 43: IPv6 routing header.
    Routing,
    /// 44: IPv6 fragment header.
    Fragment,
    /// 58: ICMPv6.
    Icmpv6,
    /// 59: no next header.
    NoNextHeader,
    /// 60: IPv6 destination options.
    DestinationOptions,
    /// Any other number.
    Unknown(u8),
}

impl From<u8> for IpProtocol {
    fn from(raw: u8) -> Self {
        match raw {
            0 => Self::HopByHop,
            1 => Self::Icmp,
            6 => Self::Tcp,
            17 => Self::Udp,
            43 => Self::Routing,
            44 => Self::Fragment,
            58 => Self::Icmpv6,
            59 => Self::NoNextHeader,
            60 => Self::DestinationOptions,
            other => Self::Unknown(other),
        }
    }
}

impl From<IpProtocol> for u8 {
    fn from(p: IpProtocol) -> Self {
        match p {
            IpProtocol::HopByHop => 0,
            IpProtocol::Icmp => 1,
            IpProtocol::Tcp => 6,
            IpProtocol::Udp => 17,
            IpProtocol::Routing => 43,
            IpProtocol::Fragment => 44,
            IpProtocol::Icmpv6 => 58,
            IpProtocol::NoNextHeader => 59,
            IpProtocol::DestinationOptions => 60,
            IpProtocol::Unknown(raw) => raw,
        }
    }
}

impl fmt::Display for IpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HopByHop => f.write_str("hop-by-hop"),
            Self::Icmp => f.write_str("ICMP"),
            Self::Tcp => f.write_str("TCP"),
            Self::Udp => f.write_str("UDP"),
            Self::Routing => f.write_str("routing"),
            Self::Fragment => f.write_str("fragment"),
            Self::Icmpv6 => f.write_str("ICMPv6"),
            Self::NoNextHeader => f.write_str("no-next-header"),
            Self::DestinationOptions => f.write_str("dest-options"),
            Self::Unknown(raw) => write!(f, "protocol {raw}"),
        }
    }
}

mod field {
    use core::ops::Range;
    pub(super) const VER_TC_FLOW: Range<usize> = 0..4;
    pub(super) const PAYLOAD_LEN: usize = 4;
    pub(super) const NEXT_HEADER: usize = 6;
    pub(super) const HOP_LIMIT: usize = 7;
    pub(super) const SRC_ADDR: Range<usize> = 8..24;
    pub(super) const DST_ADDR: Range<usize> = 24..40;
}

/// The length of the fixed IPv6 header.
pub const HEADER_LEN: usize = 40;

/// A view of an IPv6 packet.
#[derive(Clone, Copy, Debug)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Wraps a buffer without checks.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps a buffer and runs [`Self::check_len`].
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Fails unless the fixed header and the payload length it announces fit, and the version
    /// is 6.
    pub fn check_len(&self) -> Result<(), WireError> {
        let len = self.buffer.as_ref().len();
        need(len, HEADER_LEN)?;
        if self.version() != 6 {
            return Err(WireError::Malformed("IP version is not 6"));
        }
        need(len, HEADER_LEN + usize::from(self.payload_len()))
    }

    /// The version field (6).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }

    /// The traffic class.
    pub fn traffic_class(&self) -> u8 {
        let b = &self.buffer.as_ref()[field::VER_TC_FLOW];
        (b[0] << 4) | (b[1] >> 4)
    }

    /// The flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::VER_TC_FLOW];
        u32::from_be_bytes([0, b[1] & 0x0f, b[2], b[3]])
    }

    /// The payload length (everything after the fixed header).
    pub fn payload_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::PAYLOAD_LEN)
    }

    /// The next header (first extension header or upper-layer protocol).
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol::from(self.buffer.as_ref()[field::NEXT_HEADER])
    }

    /// The hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// The source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        addr(&self.buffer.as_ref()[field::SRC_ADDR])
    }

    /// The destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        addr(&self.buffer.as_ref()[field::DST_ADDR])
    }

    /// The payload as the length field says (Ethernet padding cut off).
    pub fn payload(&self) -> &[u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        &self.buffer.as_ref()[HEADER_LEN..end]
    }

    /// Skips hop-by-hop, routing and destination-options headers and returns the upper-layer
    /// protocol and its bytes. A fragment header stops the walk (`Fragment` is returned with
    /// the bytes from the fragment header on).
    pub fn upper_layer(&self) -> Result<(IpProtocol, &[u8]), WireError> {
        let mut protocol = self.next_header();
        let mut rest = self.payload();
        while matches!(
            protocol,
            IpProtocol::HopByHop | IpProtocol::Routing | IpProtocol::DestinationOptions
        ) {
            need(rest.len(), 2)?;
            let len = 8 * (usize::from(rest[1]) + 1);
            need(rest.len(), len)?;
            protocol = IpProtocol::from(rest[0]);
            rest = &rest[len..];
        }
        Ok((protocol, rest))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    /// Sets version 6, traffic class and flow label.
    pub fn set_version_class_flow(&mut self, traffic_class: u8, flow_label: u32) {
        let word = (6u32 << 28) | (u32::from(traffic_class) << 20) | (flow_label & 0x000f_ffff);
        self.buffer.as_mut()[field::VER_TC_FLOW].copy_from_slice(&word.to_be_bytes());
    }

    /// Sets the payload length.
    pub fn set_payload_len(&mut self, len: u16) {
        self.buffer.as_mut()[field::PAYLOAD_LEN..field::PAYLOAD_LEN + 2]
            .copy_from_slice(&len.to_be_bytes());
    }

    /// Sets the next header.
    pub fn set_next_header(&mut self, p: IpProtocol) {
        self.buffer.as_mut()[field::NEXT_HEADER] = u8::from(p);
    }

    /// Sets the hop limit.
    pub fn set_hop_limit(&mut self, hop_limit: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = hop_limit;
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&a.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&a.octets());
    }
}

fn addr(b: &[u8]) -> Ipv6Addr {
    let mut o = [0; 16];
    o.copy_from_slice(b);
    Ipv6Addr::from(o)
}

/// The fixed IPv6 header as a value.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Ipv6Repr {
    /// Source address.
    pub src_addr: Ipv6Addr,
    /// Destination address.
    pub dst_addr: Ipv6Addr,
    /// Next header.
    pub next_header: IpProtocol,
    /// Payload length.
    pub payload_len: u16,
    /// Hop limit.
    pub hop_limit: u8,
}

impl Ipv6Repr {
    /// Reads a checked packet.
    pub fn parse<T: AsRef<[u8]>>(p: &Ipv6Packet<T>) -> Result<Self, WireError> {
        p.check_len()?;
        Ok(Self {
            src_addr: p.src_addr(),
            dst_addr: p.dst_addr(),
            next_header: p.next_header(),
            payload_len: p.payload_len(),
            hop_limit: p.hop_limit(),
        })
    }

    /// The header length (40).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header into the first 40 bytes of `p` (traffic class and flow label 0).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Ipv6Packet<T>) {
        p.set_version_class_flow(0, 0);
        p.set_payload_len(self.payload_len);
        p.set_next_header(self.next_header);
        p.set_hop_limit(self.hop_limit);
        p.set_src_addr(self.src_addr);
        p.set_dst_addr(self.dst_addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SDP request of 2022-11-17_Dehner_Alpitronic_until_SdpRequest.pcapng (IPv6 part).
    const SDP_REQUEST: [u8; 58] = [
        0x60, 0x00, 0x00, 0x00, 0x00, 0x12, 0x11, 0x0a, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x01,
        0x02, 0xff, 0xfe, 0x03, 0x04, 0x05, 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0x01, 0xc0, 0x01, 0x3b, 0x0e, 0x00, 0x12, 0x00, 0x00, 0x01, 0xfe, 0x90, 0x00, 0x00, 0x00,
        0x00, 0x02, 0x10, 0x00,
    ];

    #[test]
    fn parse_and_emit_round_trip() {
        let p = Ipv6Packet::new_checked(&SDP_REQUEST[..]).unwrap();
        let repr = Ipv6Repr::parse(&p).unwrap();
        assert_eq!(repr.next_header, IpProtocol::Udp);
        assert_eq!(repr.hop_limit, 10);
        assert_eq!(repr.dst_addr, Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1));
        assert_eq!(p.payload().len(), 18);
        let mut out = [0u8; 40];
        repr.emit(&mut Ipv6Packet::new_unchecked(&mut out[..]));
        assert_eq!(out, SDP_REQUEST[..40]);
    }

    #[test]
    fn impossible_lengths_and_versions() {
        assert!(Ipv6Packet::new_checked(&SDP_REQUEST[..39]).is_err());
        assert!(Ipv6Packet::new_checked(&SDP_REQUEST[..57]).is_err());
        let mut v4 = SDP_REQUEST;
        v4[0] = 0x45;
        assert_eq!(
            Ipv6Packet::new_checked(&v4[..]).unwrap_err(),
            WireError::Malformed("IP version is not 6")
        );
    }

    #[test]
    fn walks_a_hop_by_hop_header() {
        // MLDv2 report: hop-by-hop (router alert) then ICMPv6.
        let mut b = SDP_REQUEST[..40].to_vec();
        b[6] = 0;
        b[4..6].copy_from_slice(&12u16.to_be_bytes());
        b.extend_from_slice(&[58, 0, 5, 2, 0, 0, 1, 0, 0x8f, 0, 0, 0]);
        let p = Ipv6Packet::new_checked(&b[..]).unwrap();
        let (proto, rest) = p.upper_layer().unwrap();
        assert_eq!(proto, IpProtocol::Icmpv6);
        assert_eq!(rest, &[0x8f, 0, 0, 0]);
        // A hop-by-hop header claiming more than is there.
        b[41] = 9;
        let p = Ipv6Packet::new_checked(&b[..]).unwrap();
        assert!(p.upper_layer().is_err());
    }
}
