//! IP-layer wire formats: Ethernet with VLAN tags, IPv6, IPv4 (for pyPLC's UDP syslog), UDP,
//! TCP and ICMPv6, as checked views over bytes plus a `Repr` with parse/emit, in the style of
//! smoltcp's `wire` module.
//!
//! The contract of every view (`Ipv6Packet`, `UdpPacket`, `TcpPacket`, ...):
//!
//! - `new_unchecked(buffer)` wraps any buffer; `new_checked(buffer)` also runs `check_len`,
//!   after which no accessor panics, whatever the bytes say.
//! - Getters read big-endian (network order); setters exist only for `T: AsMut<[u8]>`.
//! - `payload()` borrows from the buffer; length fields that claim more than the buffer holds
//!   fail `check_len` with [`WireError::Truncated`]; a buffer longer than the length field
//!   says (Ethernet padding) is fine, the excess is ignored.
//! - A `Repr` holds the legal values only; `Repr::parse(&view)` checks checksums where the
//!   caller asks for it ([`ChecksumCheck`]), `Repr::emit` writes header and checksum.
//! - Protocol numbers parse to an `Unknown(raw)` variant and never fail.
//!
//! The live drivers use the kernel's IP stack; these formats serve the capture decoder, the
//! pcap recorder (which needs whole Ethernet frames for the TCP and UDP traffic the kernel
//! carried: see [`frame`]), the passive listener and the simulator.
//!
//! References: RFC 8200 (IPv6), RFC 791 (IPv4), RFC 768 (UDP), RFC 9293 (TCP), RFC 4443
//! (ICMPv6), RFC 4861 (neighbour discovery), IEEE 802.1Q (VLAN tags, also stacked 802.1ad).
//!
//! Not supported: IPv6 fragments (the V2G stack never sends any; a fragment header is reported
//! as the upper-layer protocol `Fragment`), IPv4 options beyond skipping them, TCP options other
//! than MSS on emit.

use core::fmt;

pub mod checksum;
pub mod frame;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod link;
pub mod tcp;
pub mod udp;

pub use frame::{Endpoint, TcpFlow, TcpSegment, build_tcp_frame, build_udp_frame, syslog_frame};
pub use icmpv6::{Icmpv6Message, Icmpv6Packet, Icmpv6Repr};
pub use ipv4::{Ipv4Packet, Ipv4Repr};
pub use ipv6::{IpProtocol, Ipv6Packet, Ipv6Repr};
pub use link::{LinkFrame, VlanTag};
pub use tcp::{TcpFlags, TcpPacket, TcpRepr};
pub use udp::{UdpPacket, UdpRepr};

/// Whether `Repr::parse` verifies checksums. Captures taken on the sending host carry
/// checksums the NIC was meant to fill in (offload), so the decoder ignores them; the
/// simulator and tests verify.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ChecksumCheck {
    /// Reject a packet whose checksum is wrong.
    Verify,
    /// Accept any checksum.
    Ignore,
}

/// Why bytes are not a valid packet of the expected format (always the sender's fault, an
/// invalid message, except for [`WireError::Truncated`] in a capture with a snap length).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum WireError {
    /// The buffer ends before a field (or before the length a header announces).
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// A field holds a value the format does not allow (e.g. IP version 5, TCP data offset 3).
    Malformed(&'static str),
    /// The checksum does not match (only with [`ChecksumCheck::Verify`]).
    BadChecksum,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { needed, available } => {
                write!(f, "truncated: needs {needed} bytes, has {available}")
            }
            Self::Malformed(what) => write!(f, "malformed: {what}"),
            Self::BadChecksum => f.write_str("bad checksum"),
        }
    }
}

impl core::error::Error for WireError {}

/// Fails with [`WireError::Truncated`] unless `len >= needed`.
pub(crate) const fn need(len: usize, needed: usize) -> Result<(), WireError> {
    if len < needed {
        Err(WireError::Truncated {
            needed,
            available: len,
        })
    } else {
        Ok(())
    }
}

pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[cfg(test)]
mod robustness {
    //! Nothing on the wire can panic us: arbitrary bytes into every view and `Repr`.
    use core::net::Ipv6Addr;

    use proptest::prelude::*;

    use super::*;

    const A: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(link) = LinkFrame::parse(&bytes) {
                let _ = link.header_len();
            }
            if let Ok(ip) = Ipv6Packet::new_checked(&bytes[..]) {
                let _ = Ipv6Repr::parse(&ip);
                let _ = ip.upper_layer();
                let _ = (ip.traffic_class(), ip.flow_label(), ip.payload());
            }
            if let Ok(ip) = Ipv4Packet::new_checked(&bytes[..]) {
                let _ = (Ipv4Repr::parse(&ip), ip.verify_checksum(), ip.payload());
            }
            if let Ok(udp) = UdpPacket::new_checked(&bytes[..]) {
                let _ = UdpRepr::parse_v6(&udp, &A, &A, ChecksumCheck::Verify);
                let _ = udp.payload();
            }
            if let Ok(tcp) = TcpPacket::new_checked(&bytes[..]) {
                let _ = TcpRepr::parse_v6(&tcp, &A, &A, ChecksumCheck::Verify);
                let _ = (tcp.mss(), tcp.options(), tcp.payload());
            }
            if let Ok(icmp) = Icmpv6Packet::new_checked(&bytes[..])
                && let Ok(repr) = Icmpv6Repr::parse(&icmp, &A, &A, ChecksumCheck::Ignore)
            {
                let _ = repr.to_string();
            }
        }

        #[test]
        fn built_tcp_frames_round_trip(
            payload in proptest::collection::vec(any::<u8>(), 0..300),
            seq in any::<u32>(),
            ack in any::<u32>(),
        ) {
            use crate::homeplug::MacAddress;
            let src = Endpoint::link_local(MacAddress([2, 0, 0, 0, 0, 1]), 50000);
            let dst = Endpoint::link_local(MacAddress([2, 0, 0, 0, 0, 2]), 15118);
            let f = build_tcp_frame(&src, &dst, &TcpSegment {
                seq_number: seq,
                ack_number: ack,
                flags: TcpFlags::PSH | TcpFlags::ACK,
                window: 100,
                payload: &payload,
            });
            let link = LinkFrame::parse(&f).unwrap();
            let ip = Ipv6Packet::new_checked(link.payload).unwrap();
            let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
            let repr = TcpRepr::parse_v6(&tcp, &src.ip, &dst.ip, ChecksumCheck::Verify).unwrap();
            prop_assert_eq!(repr.payload, &payload[..]);
            prop_assert_eq!((repr.seq_number, repr.ack_number), (seq, ack));
        }
    }
}
