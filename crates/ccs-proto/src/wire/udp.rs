//! UDP (RFC 768) over IPv6 (checksum mandatory, RFC 8200 §8.1) or IPv4.

use core::net::{Ipv4Addr, Ipv6Addr};

use super::checksum;
use super::ipv6::IpProtocol;
use super::{ChecksumCheck, WireError, be16, need};

/// The UDP header length.
pub const HEADER_LEN: usize = 8;

/// A view of a UDP datagram.
#[derive(Clone, Copy, Debug)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
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

    /// Fails unless the header fits and the length field is between 8 and the buffer length.
    pub fn check_len(&self) -> Result<(), WireError> {
        let len = self.buffer.as_ref().len();
        need(len, HEADER_LEN)?;
        let field = usize::from(self.len());
        if field < HEADER_LEN {
            return Err(WireError::Malformed("UDP length below 8"));
        }
        need(len, field)
    }

    /// The source port.
    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 0)
    }

    /// The destination port.
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }

    /// The length field (header and payload).
    pub fn len(&self) -> u16 {
        be16(self.buffer.as_ref(), 4)
    }

    /// True if the length field says there is no payload.
    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) <= HEADER_LEN
    }

    /// The checksum as sent.
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), 6)
    }

    /// The payload as the length field says.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.len())]
    }

    fn datagram(&self) -> &[u8] {
        &self.buffer.as_ref()[..usize::from(self.len())]
    }

    /// True if the checksum is right for this IPv6 pseudo-header.
    pub fn verify_checksum_v6(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        let d = self.datagram();
        let len = u32::try_from(d.len()).unwrap_or(u32::MAX);
        checksum::combine(&[
            checksum::pseudo_header_v6(src, dst, IpProtocol::Udp, len),
            checksum::sum(d),
        ]) == 0
    }

    /// True if the checksum is right for this IPv4 pseudo-header, or absent (0).
    pub fn verify_checksum_v4(&self, src: &Ipv4Addr, dst: &Ipv4Addr) -> bool {
        if self.checksum() == 0 {
            return true;
        }
        let d = self.datagram();
        checksum::combine(&[
            checksum::pseudo_header_v4(src, dst, IpProtocol::Udp, self.len()),
            checksum::sum(d),
        ]) == 0
    }
}

/// A UDP header as a value.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct UdpRepr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
}

impl UdpRepr {
    /// Parses a datagram carried over IPv6, verifying the checksum if asked.
    pub fn parse_v6<T: AsRef<[u8]>>(
        p: &UdpPacket<T>,
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
        check: ChecksumCheck,
    ) -> Result<Self, WireError> {
        p.check_len()?;
        if check == ChecksumCheck::Verify && !p.verify_checksum_v6(src, dst) {
            return Err(WireError::BadChecksum);
        }
        Ok(Self {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
        })
    }

    /// The header length (8).
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Appends header and payload with the IPv6 checksum.
    pub fn emit_v6(&self, src: &Ipv6Addr, dst: &Ipv6Addr, payload: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        self.emit_header(payload.len(), out);
        out.extend_from_slice(payload);
        let d = &out[start..];
        let len = u32::try_from(d.len()).unwrap_or(u32::MAX);
        let sum = checksum::udp_result(checksum::combine(&[
            checksum::pseudo_header_v6(src, dst, IpProtocol::Udp, len),
            checksum::sum(d),
        ]));
        out[start + 6..start + 8].copy_from_slice(&sum.to_be_bytes());
    }

    /// Appends header and payload with the IPv4 checksum.
    pub fn emit_v4(&self, src: &Ipv4Addr, dst: &Ipv4Addr, payload: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        self.emit_header(payload.len(), out);
        out.extend_from_slice(payload);
        let d = &out[start..];
        let len = u16::try_from(d.len()).unwrap_or(u16::MAX);
        let sum = checksum::udp_result(checksum::combine(&[
            checksum::pseudo_header_v4(src, dst, IpProtocol::Udp, len),
            checksum::sum(d),
        ]));
        out[start + 6..start + 8].copy_from_slice(&sum.to_be_bytes());
    }

    fn emit_header(&self, payload_len: usize, out: &mut Vec<u8>) {
        let len = u16::try_from(payload_len + HEADER_LEN).unwrap_or(u16::MAX);
        out.extend_from_slice(&self.src_port.to_be_bytes());
        out.extend_from_slice(&self.dst_port.to_be_bytes());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0x0201, 0x02ff, 0xfe03, 0x0405);
    const DST: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

    #[test]
    fn emit_verify_parse() {
        let repr = UdpRepr {
            src_port: 49153,
            dst_port: 15118,
        };
        let payload = [0x01, 0xfe, 0x90, 0x00, 0, 0, 0, 2, 0x10, 0x00];
        let mut b = Vec::new();
        repr.emit_v6(&SRC, &DST, &payload, &mut b);
        let p = UdpPacket::new_checked(&b[..]).unwrap();
        assert!(p.verify_checksum_v6(&SRC, &DST));
        assert_eq!(
            UdpRepr::parse_v6(&p, &SRC, &DST, ChecksumCheck::Verify).unwrap(),
            repr
        );
        assert_eq!(p.payload(), payload);
        b[9] ^= 1;
        let p = UdpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(
            UdpRepr::parse_v6(&p, &SRC, &DST, ChecksumCheck::Verify),
            Err(WireError::BadChecksum)
        );
        assert!(UdpRepr::parse_v6(&p, &SRC, &DST, ChecksumCheck::Ignore).is_ok());
    }

    #[test]
    fn impossible_lengths() {
        assert!(UdpPacket::new_checked(&[0u8; 7][..]).is_err());
        let mut b = [0u8; 8];
        b[5] = 4;
        assert!(UdpPacket::new_checked(&b[..]).is_err());
        b[5] = 9;
        assert!(UdpPacket::new_checked(&b[..]).is_err());
    }
}
