//! TCP segments (RFC 9293 §3.1) over IPv6: the V2GTP transport.

use core::fmt;
use core::net::Ipv6Addr;

use super::checksum;
use super::ipv6::IpProtocol;
use super::{ChecksumCheck, WireError, be16, be32, need};

/// The header length without options.
pub const HEADER_LEN: usize = 20;

/// The TCP control bits.
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// No more data from the sender.
    pub const FIN: Self = Self(0x01);
    /// Synchronise sequence numbers.
    pub const SYN: Self = Self(0x02);
    /// Reset the connection.
    pub const RST: Self = Self(0x04);
    /// Push.
    pub const PSH: Self = Self(0x08);
    /// The acknowledgment field is significant.
    pub const ACK: Self = Self(0x10);
    /// Urgent.
    pub const URG: Self = Self(0x20);

    /// True if every bit of `other` is set.
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
    /// tcpdump style: `S`, `S.`, `P.`, `F.`, `R` (`.` = ACK).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut any = false;
        for (flag, c) in [
            (Self::SYN, 'S'),
            (Self::FIN, 'F'),
            (Self::RST, 'R'),
            (Self::PSH, 'P'),
            (Self::URG, 'U'),
            (Self::ACK, '.'),
        ] {
            if self.contains(flag) {
                write!(f, "{c}")?;
                any = true;
            }
        }
        if !any {
            f.write_str("none")?;
        }
        Ok(())
    }
}

/// A view of a TCP segment.
#[derive(Clone, Copy, Debug)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
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

    /// Fails unless the fixed header fits, the data offset is at least 5 and the options fit.
    pub fn check_len(&self) -> Result<(), WireError> {
        let len = self.buffer.as_ref().len();
        need(len, HEADER_LEN)?;
        let header_len = self.header_len();
        if header_len < HEADER_LEN {
            return Err(WireError::Malformed("TCP data offset below 5"));
        }
        need(len, header_len)
    }

    /// The source port.
    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 0)
    }

    /// The destination port.
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }

    /// The sequence number.
    pub fn seq_number(&self) -> u32 {
        be32(self.buffer.as_ref(), 4)
    }

    /// The acknowledgment number.
    pub fn ack_number(&self) -> u32 {
        be32(self.buffer.as_ref(), 8)
    }

    /// The header length in bytes (data offset × 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[12] >> 4) * 4
    }

    /// The control bits.
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.buffer.as_ref()[13] & 0x3f)
    }

    /// The receive window.
    pub fn window(&self) -> u16 {
        be16(self.buffer.as_ref(), 14)
    }

    /// The checksum as sent.
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), 16)
    }

    /// The options bytes.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// The MSS option, if present and well-formed.
    pub fn mss(&self) -> Option<u16> {
        let mut o = self.options();
        while let Some((&kind, rest)) = o.split_first() {
            match kind {
                0 => return None,
                1 => o = rest,
                _ => {
                    let len = usize::from(*rest.first()?);
                    if len < 2 || len > o.len() {
                        return None;
                    }
                    if kind == 2 && len == 4 {
                        return Some(be16(o, 2));
                    }
                    o = &o[len..];
                }
            }
        }
        None
    }

    /// The payload (everything after the header; the IP layer has cut off padding).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }

    /// True if the checksum is right for this IPv6 pseudo-header.
    pub fn verify_checksum_v6(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        let d = self.buffer.as_ref();
        let len = u32::try_from(d.len()).unwrap_or(u32::MAX);
        checksum::combine(&[
            checksum::pseudo_header_v6(src, dst, IpProtocol::Tcp, len),
            checksum::sum(d),
        ]) == 0
    }
}

/// A TCP segment as a value.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct TcpRepr<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq_number: u32,
    /// Acknowledgment number (meaningful when `flags` has ACK).
    pub ack_number: u32,
    /// Control bits.
    pub flags: TcpFlags,
    /// Receive window.
    pub window: u16,
    /// The MSS option (SYN segments).
    pub mss: Option<u16>,
    /// The data.
    pub payload: &'a [u8],
}

impl<'a> TcpRepr<'a> {
    /// Parses a segment carried over IPv6, verifying the checksum if asked.
    pub fn parse_v6(
        p: &TcpPacket<&'a [u8]>,
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
        check: ChecksumCheck,
    ) -> Result<Self, WireError> {
        p.check_len()?;
        if check == ChecksumCheck::Verify && !p.verify_checksum_v6(src, dst) {
            return Err(WireError::BadChecksum);
        }
        let buffer: &'a [u8] = p.buffer;
        Ok(Self {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            seq_number: p.seq_number(),
            ack_number: p.ack_number(),
            flags: p.flags(),
            window: p.window(),
            mss: p.mss(),
            payload: &buffer[p.header_len()..],
        })
    }

    /// Header length: 20, or 24 with the MSS option.
    pub const fn header_len(&self) -> usize {
        if self.mss.is_some() {
            HEADER_LEN + 4
        } else {
            HEADER_LEN
        }
    }

    /// How much sequence space the segment uses (payload plus one for SYN and for FIN).
    pub fn segment_len(&self) -> u32 {
        let mut n = u32::try_from(self.payload.len()).unwrap_or(u32::MAX);
        if self.flags.contains(TcpFlags::SYN) {
            n = n.saturating_add(1);
        }
        if self.flags.contains(TcpFlags::FIN) {
            n = n.saturating_add(1);
        }
        n
    }

    /// Appends header and payload with the IPv6 checksum.
    pub fn emit_v6(&self, src: &Ipv6Addr, dst: &Ipv6Addr, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&self.src_port.to_be_bytes());
        out.extend_from_slice(&self.dst_port.to_be_bytes());
        out.extend_from_slice(&self.seq_number.to_be_bytes());
        out.extend_from_slice(&self.ack_number.to_be_bytes());
        // header_len is 20 or 24, so the data offset fits in four bits.
        let offset = u8::try_from(self.header_len() / 4).unwrap_or(5);
        out.extend_from_slice(&[offset << 4, self.flags.0 & 0x3f]);
        out.extend_from_slice(&self.window.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]);
        if let Some(mss) = self.mss {
            out.extend_from_slice(&[2, 4]);
            out.extend_from_slice(&mss.to_be_bytes());
        }
        out.extend_from_slice(self.payload);
        let d = &out[start..];
        let len = u32::try_from(d.len()).unwrap_or(u32::MAX);
        let sum = checksum::combine(&[
            checksum::pseudo_header_v6(src, dst, IpProtocol::Tcp, len),
            checksum::sum(d),
        ]);
        out[start + 16..start + 18].copy_from_slice(&sum.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EV: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0x0665, 0x65ff, 0xfe00, 0x64c3);
    const EVSE: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0xc690, 0x83ff, 0xfef3, 0x78cb);

    #[test]
    fn emit_then_parse_with_mss_and_payload() {
        let repr = TcpRepr {
            src_port: 50000,
            dst_port: 15118,
            seq_number: 0xdead_beef,
            ack_number: 7,
            flags: TcpFlags::SYN | TcpFlags::ACK,
            window: 1024,
            mss: Some(1440),
            payload: &[1, 2, 3],
        };
        let mut b = Vec::new();
        repr.emit_v6(&EV, &EVSE, &mut b);
        let p = TcpPacket::new_checked(&b[..]).unwrap();
        assert!(p.verify_checksum_v6(&EV, &EVSE));
        assert_eq!(
            TcpRepr::parse_v6(&p, &EV, &EVSE, ChecksumCheck::Verify).unwrap(),
            repr
        );
        assert_eq!(repr.segment_len(), 4);
        assert_eq!(repr.flags.to_string(), "S.");
        // Wrong pseudo-header (another address): checksum fails.
        let other = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 9);
        assert_eq!(
            TcpRepr::parse_v6(&p, &other, &EV, ChecksumCheck::Verify),
            Err(WireError::BadChecksum)
        );
    }

    #[test]
    fn impossible_data_offsets() {
        let mut b = [0u8; 20];
        b[12] = 0x40;
        assert!(TcpPacket::new_checked(&b[..]).is_err());
        b[12] = 0x60;
        assert!(TcpPacket::new_checked(&b[..]).is_err());
        b[12] = 0x50;
        assert!(TcpPacket::new_checked(&b[..]).is_ok());
    }

    #[test]
    fn malformed_options_do_not_panic() {
        let mut b = [0u8; 28];
        b[12] = 0x70;
        b[20..28].copy_from_slice(&[1, 3, 0, 2, 9, 9, 9, 9]);
        let p = TcpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(p.mss(), None);
    }
}
