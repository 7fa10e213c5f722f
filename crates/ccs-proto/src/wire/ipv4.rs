//! IPv4 (RFC 791), just enough for the frames that share the PLC link with V2G traffic:
//! pyPLC's UDP syslog lines (broadcast to port 514) and stray host traffic.

use core::net::Ipv4Addr;

use super::checksum;
use super::ipv6::IpProtocol;
use super::{WireError, be16, need};

/// The length of a header without options.
pub const HEADER_LEN: usize = 20;

/// A view of an IPv4 packet.
#[derive(Clone, Copy, Debug)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
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

    /// Fails unless version is 4, the header length is at least 20 and header and total
    /// length fit the buffer.
    pub fn check_len(&self) -> Result<(), WireError> {
        let len = self.buffer.as_ref().len();
        need(len, HEADER_LEN)?;
        if self.version() != 4 {
            return Err(WireError::Malformed("IP version is not 4"));
        }
        let header_len = self.header_len();
        if header_len < HEADER_LEN {
            return Err(WireError::Malformed("IPv4 header length below 20"));
        }
        let total = usize::from(self.total_len());
        if total < header_len {
            return Err(WireError::Malformed(
                "IPv4 total length below header length",
            ));
        }
        need(len, total)
    }

    /// The version field (4).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }

    /// The header length in bytes (IHL × 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[0] & 0x0f) * 4
    }

    /// The total length (header and payload).
    pub fn total_len(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }

    /// The identification field.
    pub fn ident(&self) -> u16 {
        be16(self.buffer.as_ref(), 4)
    }

    /// The time to live.
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[8]
    }

    /// The protocol.
    pub fn protocol(&self) -> IpProtocol {
        IpProtocol::from(self.buffer.as_ref()[9])
    }

    /// The header checksum as sent (pyPLC's syslog frames send 0).
    pub fn header_checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), 10)
    }

    /// True if the header checksum is correct.
    pub fn verify_checksum(&self) -> bool {
        checksum::combine(&[checksum::sum(&self.buffer.as_ref()[..self.header_len()])]) == 0
    }

    /// The source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        let b = self.buffer.as_ref();
        Ipv4Addr::new(b[12], b[13], b[14], b[15])
    }

    /// The destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        let b = self.buffer.as_ref();
        Ipv4Addr::new(b[16], b[17], b[18], b[19])
    }

    /// The payload as the total length says.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..usize::from(self.total_len())]
    }
}

/// An IPv4 header without options, as a value.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Ipv4Repr {
    /// Source address.
    pub src_addr: Ipv4Addr,
    /// Destination address.
    pub dst_addr: Ipv4Addr,
    /// Protocol of the payload.
    pub protocol: IpProtocol,
    /// Payload length.
    pub payload_len: u16,
    /// Time to live.
    pub ttl: u8,
    /// Identification.
    pub ident: u16,
}

impl Ipv4Repr {
    /// Reads a checked packet (options are skipped); the header checksum is not checked,
    /// because pyPLC's syslog frames carry 0 there.
    pub fn parse<T: AsRef<[u8]>>(p: &Ipv4Packet<T>) -> Result<Self, WireError> {
        p.check_len()?;
        Ok(Self {
            src_addr: p.src_addr(),
            dst_addr: p.dst_addr(),
            protocol: p.protocol(),
            payload_len: p.payload().len().try_into().unwrap_or(u16::MAX),
            ttl: p.ttl(),
            ident: p.ident(),
        })
    }

    /// Appends the 20-byte header with a correct checksum, no options, DF clear.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let start = out.len();
        let total = self.payload_len.saturating_add(HEADER_LEN as u16);
        out.extend_from_slice(&[0x45, 0]);
        out.extend_from_slice(&total.to_be_bytes());
        out.extend_from_slice(&self.ident.to_be_bytes());
        out.extend_from_slice(&[0, 0, self.ttl, u8::from(self.protocol), 0, 0]);
        out.extend_from_slice(&self.src_addr.octets());
        out.extend_from_slice(&self.dst_addr.octets());
        let sum = checksum::combine(&[checksum::sum(&out[start..])]);
        out[start + 10..start + 12].copy_from_slice(&sum.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emit_then_parse() {
        let repr = Ipv4Repr {
            src_addr: Ipv4Addr::new(192, 168, 0, 1),
            dst_addr: Ipv4Addr::BROADCAST,
            protocol: IpProtocol::Udp,
            payload_len: 3,
            ttl: 128,
            ident: 0x8a9f,
        };
        let mut b = Vec::new();
        repr.emit(&mut b);
        b.extend_from_slice(&[1, 2, 3, 0, 0]); // payload + padding
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(Ipv4Repr::parse(&p).unwrap(), repr);
        assert_eq!(p.payload(), &[1, 2, 3]);
    }

    #[test]
    fn bad_header_lengths() {
        let mut b = [0u8; 20];
        b[0] = 0x44;
        assert!(Ipv4Packet::new_checked(&b[..]).is_err());
        b[0] = 0x45;
        b[3] = 40;
        assert!(matches!(
            Ipv4Packet::new_checked(&b[..]),
            Err(WireError::Truncated { .. })
        ));
    }
}
