//! ICMPv6 (RFC 4443) with the neighbour-discovery messages of RFC 4861 and MLDv2 reports
//! (RFC 3810): the IPv6 housekeeping that surrounds SDP and V2GTP on the PLC link.

use core::fmt;
use core::net::Ipv6Addr;

use super::checksum;
use super::ipv6::IpProtocol;
use super::{ChecksumCheck, WireError, be16, need};
use crate::homeplug::MacAddress;

/// ICMPv6 message types we name.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Icmpv6Message {
    /// 1: destination unreachable.
    DstUnreachable,
    /// 128: echo request.
    EchoRequest,
    /// 129: echo reply.
    EchoReply,
    /// 133: router solicitation.
    RouterSolicit,
    /// 134: router advertisement.
    RouterAdvert,
    /// 135: neighbour solicitation.
    NeighborSolicit,
    /// 136: neighbour advertisement.
    NeighborAdvert,
    /// 143: MLDv2 listener report.
    MldReport,
    /// Any other type.
    Unknown(u8),
}

impl From<u8> for Icmpv6Message {
    fn from(raw: u8) -> Self {
        match raw {
            1 => Self::DstUnreachable,
            128 => Self::EchoRequest,
            129 => Self::EchoReply,
            133 => Self::RouterSolicit,
            134 => Self::RouterAdvert,
            135 => Self::NeighborSolicit,
            136 => Self::NeighborAdvert,
            143 => Self::MldReport,
            other => Self::Unknown(other),
        }
    }
}

impl From<Icmpv6Message> for u8 {
    fn from(m: Icmpv6Message) -> Self {
        match m {
            Icmpv6Message::DstUnreachable => 1,
            Icmpv6Message::EchoRequest => 128,
            Icmpv6Message::EchoReply => 129,
            Icmpv6Message::RouterSolicit => 133,
            Icmpv6Message::RouterAdvert => 134,
            Icmpv6Message::NeighborSolicit => 135,
            Icmpv6Message::NeighborAdvert => 136,
            Icmpv6Message::MldReport => 143,
            Icmpv6Message::Unknown(raw) => raw,
        }
    }
}

/// The fixed ICMPv6 header length (type, code, checksum).
pub const HEADER_LEN: usize = 4;

/// A view of an ICMPv6 message.
#[derive(Clone, Copy, Debug)]
pub struct Icmpv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
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

    /// Fails unless type, code and checksum fit.
    pub fn check_len(&self) -> Result<(), WireError> {
        need(self.buffer.as_ref().len(), HEADER_LEN)
    }

    /// The message type.
    pub fn msg_type(&self) -> Icmpv6Message {
        Icmpv6Message::from(self.buffer.as_ref()[0])
    }

    /// The code.
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    /// The checksum as sent.
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }

    /// Everything after type, code and checksum.
    pub fn body(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// True if the checksum is right for this IPv6 pseudo-header.
    pub fn verify_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        let d = self.buffer.as_ref();
        let len = u32::try_from(d.len()).unwrap_or(u32::MAX);
        checksum::combine(&[
            checksum::pseudo_header_v6(src, dst, IpProtocol::Icmpv6, len),
            checksum::sum(d),
        ]) == 0
    }
}

/// An ICMPv6 message as a value (neighbour discovery in detail, the rest by type).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum Icmpv6Repr<'a> {
    /// Echo request.
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Data.
        data: &'a [u8],
    },
    /// Echo reply.
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Data.
        data: &'a [u8],
    },
    /// Neighbour solicitation (RFC 4861 §4.3); from `::` during duplicate address detection.
    NeighborSolicit {
        /// The address asked for.
        target: Ipv6Addr,
        /// The source link-layer address option.
        source_mac: Option<MacAddress>,
    },
    /// Neighbour advertisement (RFC 4861 §4.4).
    NeighborAdvert {
        /// Router, solicited, override flags (top three bits).
        flags: u8,
        /// The address advertised.
        target: Ipv6Addr,
        /// The target link-layer address option.
        target_mac: Option<MacAddress>,
    },
    /// Any other message, by type and code.
    Other {
        /// Type.
        msg_type: Icmpv6Message,
        /// Code.
        code: u8,
    },
}

/// Finds a link-layer address option (type 1 source, 2 target) among ND options.
fn lladdr_option(mut options: &[u8], wanted: u8) -> Option<MacAddress> {
    while options.len() >= 2 {
        let len = usize::from(options[1]) * 8;
        if len == 0 || len > options.len() {
            return None;
        }
        if options[0] == wanted && len == 8 {
            let mut mac = [0; 6];
            mac.copy_from_slice(&options[2..8]);
            return Some(MacAddress(mac));
        }
        options = &options[len..];
    }
    None
}

fn addr_at(b: &[u8], at: usize) -> Result<Ipv6Addr, WireError> {
    need(b.len(), at + 16)?;
    let mut o = [0; 16];
    o.copy_from_slice(&b[at..at + 16]);
    Ok(Ipv6Addr::from(o))
}

impl<'a> Icmpv6Repr<'a> {
    /// Parses a message, verifying the checksum if asked.
    pub fn parse(
        p: &Icmpv6Packet<&'a [u8]>,
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
        check: ChecksumCheck,
    ) -> Result<Self, WireError> {
        p.check_len()?;
        if check == ChecksumCheck::Verify && !p.verify_checksum(src, dst) {
            return Err(WireError::BadChecksum);
        }
        let buffer: &'a [u8] = p.buffer;
        let body = &buffer[HEADER_LEN..];
        Ok(match p.msg_type() {
            t @ (Icmpv6Message::EchoRequest | Icmpv6Message::EchoReply) => {
                need(body.len(), 4)?;
                let (ident, seq_no, data) = (be16(body, 0), be16(body, 2), &body[4..]);
                if t == Icmpv6Message::EchoRequest {
                    Self::EchoRequest {
                        ident,
                        seq_no,
                        data,
                    }
                } else {
                    Self::EchoReply {
                        ident,
                        seq_no,
                        data,
                    }
                }
            }
            Icmpv6Message::NeighborSolicit => Self::NeighborSolicit {
                target: addr_at(body, 4)?,
                source_mac: lladdr_option(&body[20..], 1),
            },
            Icmpv6Message::NeighborAdvert => Self::NeighborAdvert {
                flags: body[0] & 0xe0,
                target: addr_at(body, 4)?,
                target_mac: lladdr_option(&body[20..], 2),
            },
            msg_type => Self::Other {
                msg_type,
                code: p.code(),
            },
        })
    }

    /// Appends the message with its checksum. `Other` emits type and code with an empty body.
    pub fn emit(&self, src: &Ipv6Addr, dst: &Ipv6Addr, out: &mut Vec<u8>) {
        let start = out.len();
        match *self {
            Self::EchoRequest {
                ident,
                seq_no,
                data,
            }
            | Self::EchoReply {
                ident,
                seq_no,
                data,
            } => {
                let t = if matches!(self, Self::EchoRequest { .. }) {
                    128
                } else {
                    129
                };
                out.extend_from_slice(&[t, 0, 0, 0]);
                out.extend_from_slice(&ident.to_be_bytes());
                out.extend_from_slice(&seq_no.to_be_bytes());
                out.extend_from_slice(data);
            }
            Self::NeighborSolicit { target, source_mac } => {
                out.extend_from_slice(&[135, 0, 0, 0, 0, 0, 0, 0]);
                out.extend_from_slice(&target.octets());
                if let Some(mac) = source_mac {
                    out.extend_from_slice(&[1, 1]);
                    out.extend_from_slice(&mac.0);
                }
            }
            Self::NeighborAdvert {
                flags,
                target,
                target_mac,
            } => {
                out.extend_from_slice(&[136, 0, 0, 0, flags & 0xe0, 0, 0, 0]);
                out.extend_from_slice(&target.octets());
                if let Some(mac) = target_mac {
                    out.extend_from_slice(&[2, 1]);
                    out.extend_from_slice(&mac.0);
                }
            }
            Self::Other { msg_type, code } => {
                out.extend_from_slice(&[u8::from(msg_type), code, 0, 0]);
            }
        }
        let d = &out[start..];
        let len = u32::try_from(d.len()).unwrap_or(u32::MAX);
        let sum = checksum::combine(&[
            checksum::pseudo_header_v6(src, dst, IpProtocol::Icmpv6, len),
            checksum::sum(d),
        ]);
        out[start + 2..start + 4].copy_from_slice(&sum.to_be_bytes());
    }
}

impl fmt::Display for Icmpv6Repr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EchoRequest { ident, seq_no, .. } => {
                write!(f, "echo request id={ident} seq={seq_no}")
            }
            Self::EchoReply { ident, seq_no, .. } => {
                write!(f, "echo reply id={ident} seq={seq_no}")
            }
            Self::NeighborSolicit { target, source_mac } => {
                write!(f, "neighbour solicitation who has {target}")?;
                if let Some(mac) = source_mac {
                    write!(f, " (from {mac})")?;
                }
                Ok(())
            }
            Self::NeighborAdvert {
                target, target_mac, ..
            } => {
                write!(f, "neighbour advertisement {target}")?;
                if let Some(mac) = target_mac {
                    write!(f, " is at {mac}")?;
                }
                Ok(())
            }
            Self::Other { msg_type, code } => match msg_type {
                Icmpv6Message::RouterSolicit => f.write_str("router solicitation"),
                Icmpv6Message::RouterAdvert => f.write_str("router advertisement"),
                Icmpv6Message::MldReport => f.write_str("MLDv2 listener report"),
                Icmpv6Message::DstUnreachable => write!(f, "destination unreachable code {code}"),
                other => write!(f, "type {} code {code}", u8::from(*other)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
    const B: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2);

    #[test]
    fn neighbour_discovery_round_trips() {
        for repr in [
            Icmpv6Repr::NeighborSolicit {
                target: B,
                source_mac: Some(MacAddress([2, 0, 0, 0, 0, 1])),
            },
            Icmpv6Repr::NeighborAdvert {
                flags: 0x60,
                target: B,
                target_mac: Some(MacAddress([2, 0, 0, 0, 0, 2])),
            },
            Icmpv6Repr::EchoRequest {
                ident: 1,
                seq_no: 2,
                data: b"abc",
            },
        ] {
            let mut b = Vec::new();
            repr.emit(&A, &B, &mut b);
            let p = Icmpv6Packet::new_checked(&b[..]).unwrap();
            assert_eq!(
                Icmpv6Repr::parse(&p, &A, &B, ChecksumCheck::Verify).unwrap(),
                repr
            );
        }
    }

    #[test]
    fn short_neighbour_solicitation_is_an_error() {
        let b = [135u8, 0, 0, 0, 0, 0, 0, 0, 0xfe, 0x80];
        let p = Icmpv6Packet::new_checked(&b[..]).unwrap();
        assert!(Icmpv6Repr::parse(&p, &A, &B, ChecksumCheck::Ignore).is_err());
    }
}
