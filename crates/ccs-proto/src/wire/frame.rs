//! Whole Ethernet frames for traffic the kernel carried, so that a recorder can put TCP and
//! UDP into a pcap next to the HomePlug frames it saw itself.
//!
//! The live drivers and the simulator exchange V2GTP messages through sockets or in memory;
//! there is no frame to record. [`build_tcp_frame`] and [`build_udp_frame`] make one with
//! correct IPv6 and TCP/UDP checksums, and [`TcpFlow`] keeps the sequence numbers of one
//! connection so that Wireshark follows the stream:
//!
//! ```
//! use ccs_proto::homeplug::MacAddress;
//! use ccs_proto::wire::frame::{Endpoint, TcpFlow};
//!
//! let ev = Endpoint::link_local(MacAddress([0x02, 0, 0, 0, 0, 0x01]), 50000);
//! let evse = Endpoint::link_local(MacAddress([0x02, 0, 0, 0, 0, 0x02]), 15118);
//! let mut flow = TcpFlow::new(ev, evse, 1000, 5000);
//! let mut frames = flow.open(); // SYN, SYN-ACK, ACK
//! frames.push(flow.client_sends(&[0x01, 0xfe, 0x80, 0x01, 0, 0, 0, 0]));
//! frames.push(flow.server_sends(&[0x01, 0xfe, 0x80, 0x01, 0, 0, 0, 0]));
//! frames.extend(flow.close()); // FIN from the client, FIN-ACK, ACK
//! assert_eq!(frames.len(), 8);
//! ```

use core::net::{Ipv4Addr, Ipv6Addr};

use super::ipv4::Ipv4Repr;
use super::ipv6::{HEADER_LEN as IPV6_HEADER_LEN, IpProtocol, Ipv6Packet, Ipv6Repr};
use super::tcp::{TcpFlags, TcpRepr};
use super::udp::UdpRepr;
use crate::homeplug::{EtherType, EthernetRepr, MacAddress};

/// One end of a connection or datagram: link-layer and IPv6 address, port.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct Endpoint {
    /// The MAC address.
    pub mac: MacAddress,
    /// The IPv6 address.
    pub ip: Ipv6Addr,
    /// The UDP or TCP port.
    pub port: u16,
}

impl Endpoint {
    /// An endpoint whose address is the EUI-64 link-local address of `mac` (what cars and
    /// Linux hosts without privacy addresses use, homeplug-slac.md §7).
    pub fn link_local(mac: MacAddress, port: u16) -> Self {
        Self {
            mac,
            ip: eui64_link_local(mac),
            port,
        }
    }
}

/// `fe80::` + the modified EUI-64 of `mac` (RFC 4291 Appendix A).
pub fn eui64_link_local(mac: MacAddress) -> Ipv6Addr {
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

/// The Ethernet multicast address of an IPv6 multicast group (RFC 2464 §7): `33:33` + the
/// last 32 bits.
pub fn ipv6_multicast_mac(group: &Ipv6Addr) -> MacAddress {
    let o = group.octets();
    MacAddress([0x33, 0x33, o[12], o[13], o[14], o[15]])
}

/// The TCP fields of one segment.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct TcpSegment<'a> {
    /// Sequence number.
    pub seq_number: u32,
    /// Acknowledgment number.
    pub ack_number: u32,
    /// Control bits.
    pub flags: TcpFlags,
    /// Receive window.
    pub window: u16,
    /// Data.
    pub payload: &'a [u8],
}

/// The hop limit of unicast link-local traffic.
const HOP_LIMIT: u8 = 64;
/// The window advertised in built segments.
const WINDOW: u16 = 0xffff;

fn ipv6_frame(
    src_mac: MacAddress,
    dst_mac: MacAddress,
    ip: Ipv6Repr,
    upper: impl FnOnce(&mut Vec<u8>),
) -> Vec<u8> {
    let mut out = Vec::with_capacity(14 + IPV6_HEADER_LEN + usize::from(ip.payload_len));
    EthernetRepr {
        destination: dst_mac,
        source: src_mac,
        vlan_tci: None,
        ethertype: EtherType::Ipv6,
    }
    .emit(&mut out);
    let ip_start = out.len();
    out.resize(ip_start + IPV6_HEADER_LEN, 0);
    upper(&mut out);
    let payload_len = u16::try_from(out.len() - ip_start - IPV6_HEADER_LEN).unwrap_or(u16::MAX);
    let ip = Ipv6Repr { payload_len, ..ip };
    ip.emit(&mut Ipv6Packet::new_unchecked(&mut out[ip_start..]));
    out
}

/// An Ethernet + IPv6 + TCP frame with correct checksums.
pub fn build_tcp_frame(src: &Endpoint, dst: &Endpoint, segment: &TcpSegment<'_>) -> Vec<u8> {
    let ip = Ipv6Repr {
        src_addr: src.ip,
        dst_addr: dst.ip,
        next_header: IpProtocol::Tcp,
        payload_len: 0,
        hop_limit: HOP_LIMIT,
    };
    ipv6_frame(src.mac, dst.mac, ip, |out| {
        TcpRepr {
            src_port: src.port,
            dst_port: dst.port,
            seq_number: segment.seq_number,
            ack_number: segment.ack_number,
            flags: segment.flags,
            window: segment.window,
            mss: None,
            payload: segment.payload,
        }
        .emit_v6(&src.ip, &dst.ip, out);
    })
}

/// An Ethernet + IPv6 + UDP frame with correct checksums. A multicast destination address
/// gets its `33:33:…` MAC whatever `dst.mac` says (e.g. an SDP request to `ff02::1`).
pub fn build_udp_frame(src: &Endpoint, dst: &Endpoint, hop_limit: u8, payload: &[u8]) -> Vec<u8> {
    let dst_mac = if dst.ip.is_multicast() {
        ipv6_multicast_mac(&dst.ip)
    } else {
        dst.mac
    };
    let ip = Ipv6Repr {
        src_addr: src.ip,
        dst_addr: dst.ip,
        next_header: IpProtocol::Udp,
        payload_len: 0,
        hop_limit,
    };
    ipv6_frame(src.mac, dst_mac, ip, |out| {
        UdpRepr {
            src_port: src.port,
            dst_port: dst.port,
        }
        .emit_v6(&src.ip, &dst.ip, payload, out);
    })
}

/// The syslog port (RFC 5426).
pub const SYSLOG_PORT: u16 = 514;
/// The source port pyPLC's udplog uses.
const PYPLC_SYSLOG_SRC_PORT: u16 = 0xff95;
/// pyPLC's syslog priority prefix: facility user, severity debug (`<15>`).
const SYSLOG_PRIORITY: &str = "<15>";
/// pyPLC cuts its log lines to this many characters.
const MAX_SYSLOG_TEXT: usize = 700;

/// A log line as pyPLC puts it into captures (pyplc-behaviour.md §12): Ethernet broadcast,
/// IPv4 `192.168.<mac[4]>.<mac[5]>` → `255.255.255.255`, UDP 0xFF95 → 514, payload `<15>` +
/// text (at most 700 bytes, cut at a character boundary) + NUL. Unlike pyPLC, the IPv4 header
/// checksum is filled in. Wireshark shows these as syslog messages.
pub fn syslog_frame(src_mac: MacAddress, text: &str) -> Vec<u8> {
    let mut cut = text.len().min(MAX_SYSLOG_TEXT);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut payload = Vec::with_capacity(cut + 5);
    payload.extend_from_slice(SYSLOG_PRIORITY.as_bytes());
    payload.extend_from_slice(&text.as_bytes()[..cut]);
    payload.push(0);
    let src = Ipv4Addr::new(192, 168, src_mac.0[4], src_mac.0[5]);
    let dst = Ipv4Addr::BROADCAST;
    let mut out = Vec::with_capacity(14 + 20 + 8 + payload.len());
    EthernetRepr {
        destination: MacAddress::BROADCAST,
        source: src_mac,
        vlan_tci: None,
        ethertype: EtherType::Unknown(0x0800),
    }
    .emit(&mut out);
    Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        protocol: IpProtocol::Udp,
        payload_len: u16::try_from(payload.len() + 8).unwrap_or(u16::MAX),
        ttl: 0x80,
        ident: 0x8a9f,
    }
    .emit(&mut out);
    UdpRepr {
        src_port: PYPLC_SYSLOG_SRC_PORT,
        dst_port: SYSLOG_PORT,
    }
    .emit_v4(&src, &dst, &payload, &mut out);
    out
}

/// The sequence numbers of one TCP connection, for recording traffic that went through a
/// socket (or the simulator) as frames. Every call returns whole Ethernet frames; data
/// segments are acknowledged implicitly by the next segment of the other side (PSH+ACK).
#[derive(Clone, Debug)]
pub struct TcpFlow {
    client: Endpoint,
    server: Endpoint,
    client_next: u32,
    server_next: u32,
}

impl TcpFlow {
    /// A connection from `client` to `server` with the given initial sequence numbers (take
    /// them from the simulator's seed; any value works).
    pub fn new(client: Endpoint, server: Endpoint, client_isn: u32, server_isn: u32) -> Self {
        Self {
            client,
            server,
            client_next: client_isn,
            server_next: server_isn,
        }
    }

    fn segment(&mut self, from_client: bool, flags: TcpFlags, payload: &[u8]) -> Vec<u8> {
        let (src, dst, seq, ack) = if from_client {
            (self.client, self.server, self.client_next, self.server_next)
        } else {
            (self.server, self.client, self.server_next, self.client_next)
        };
        let is_syn_only = flags == TcpFlags::SYN;
        let frame = build_tcp_frame(
            &src,
            &dst,
            &TcpSegment {
                seq_number: seq,
                ack_number: if is_syn_only { 0 } else { ack },
                flags,
                window: WINDOW,
                payload,
            },
        );
        let mut used = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        if flags.contains(TcpFlags::SYN) || flags.contains(TcpFlags::FIN) {
            used = used.wrapping_add(1);
        }
        if from_client {
            self.client_next = self.client_next.wrapping_add(used);
        } else {
            self.server_next = self.server_next.wrapping_add(used);
        }
        frame
    }

    /// The three-way handshake: SYN, SYN-ACK, ACK.
    pub fn open(&mut self) -> Vec<Vec<u8>> {
        vec![
            self.segment(true, TcpFlags::SYN, &[]),
            self.segment(false, TcpFlags::SYN | TcpFlags::ACK, &[]),
            self.segment(true, TcpFlags::ACK, &[]),
        ]
    }

    /// A data segment from the client (the EV).
    pub fn client_sends(&mut self, payload: &[u8]) -> Vec<u8> {
        self.segment(true, TcpFlags::PSH | TcpFlags::ACK, payload)
    }

    /// A data segment from the server (the charger).
    pub fn server_sends(&mut self, payload: &[u8]) -> Vec<u8> {
        self.segment(false, TcpFlags::PSH | TcpFlags::ACK, payload)
    }

    /// The client closes: FIN-ACK, the server's FIN-ACK, the client's ACK.
    pub fn close(&mut self) -> Vec<Vec<u8>> {
        vec![
            self.segment(true, TcpFlags::FIN | TcpFlags::ACK, &[]),
            self.segment(false, TcpFlags::FIN | TcpFlags::ACK, &[]),
            self.segment(true, TcpFlags::ACK, &[]),
        ]
    }

    /// A reset from the client (`from_client`) or the server.
    pub fn reset(&mut self, from_client: bool) -> Vec<u8> {
        self.segment(from_client, TcpFlags::RST | TcpFlags::ACK, &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::link::LinkFrame;
    use crate::wire::tcp::TcpPacket;
    use crate::wire::udp::UdpPacket;
    use crate::wire::{ChecksumCheck, Ipv4Packet};

    #[test]
    fn eui64_matches_the_ioniq_example() {
        // homeplug-slac.md §7: 04:65:65:00:64:C3 → fe80::665:65ff:fe00:64c3.
        let ip = eui64_link_local(MacAddress([0x04, 0x65, 0x65, 0x00, 0x64, 0xc3]));
        assert_eq!(ip, "fe80::665:65ff:fe00:64c3".parse::<Ipv6Addr>().unwrap());
    }

    #[test]
    fn built_tcp_frames_parse_with_valid_checksums() {
        let ev = Endpoint::link_local(MacAddress([2, 0, 0, 0, 0, 1]), 50000);
        let evse = Endpoint::link_local(MacAddress([2, 0, 0, 0, 0, 2]), 15118);
        let mut flow = TcpFlow::new(ev, evse, 100, 900);
        let mut frames = flow.open();
        frames.push(flow.client_sends(b"hello"));
        frames.push(flow.server_sends(b"world!"));
        let mut seen = Vec::new();
        for f in &frames {
            let link = LinkFrame::parse(f).unwrap();
            let ip = Ipv6Packet::new_checked(link.payload).unwrap();
            let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
            let repr =
                TcpRepr::parse_v6(&tcp, &ip.src_addr(), &ip.dst_addr(), ChecksumCheck::Verify)
                    .unwrap();
            seen.push((repr.seq_number, repr.ack_number, repr.flags));
        }
        assert_eq!(
            seen,
            vec![
                (100, 0, TcpFlags::SYN),
                (900, 101, TcpFlags::SYN | TcpFlags::ACK),
                (101, 901, TcpFlags::ACK),
                (101, 901, TcpFlags::PSH | TcpFlags::ACK),
                (901, 106, TcpFlags::PSH | TcpFlags::ACK),
            ]
        );
    }

    #[test]
    fn sdp_request_goes_to_the_multicast_mac() {
        let ev = Endpoint::link_local(MacAddress([2, 0, 0, 0, 0, 1]), 49153);
        let all = Endpoint {
            mac: MacAddress::BROADCAST,
            ip: Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1),
            port: 15118,
        };
        let f = build_udp_frame(&ev, &all, 1, &[0x01, 0xfe, 0x90, 0, 0, 0, 0, 2, 0x10, 0]);
        let link = LinkFrame::parse(&f).unwrap();
        assert_eq!(link.destination, MacAddress([0x33, 0x33, 0, 0, 0, 1]));
        let ip = Ipv6Packet::new_checked(link.payload).unwrap();
        let udp = UdpPacket::new_checked(ip.payload()).unwrap();
        assert!(udp.verify_checksum_v6(&ip.src_addr(), &ip.dst_addr()));
    }

    #[test]
    fn syslog_frame_is_pyplc_shaped() {
        let f = syslog_frame(MacAddress([2, 0, 0, 0, 0x12, 0x34]), "[1234ms] hello");
        let link = LinkFrame::parse(&f).unwrap();
        assert_eq!(link.destination, MacAddress::BROADCAST);
        let ip = Ipv4Packet::new_checked(link.payload).unwrap();
        assert_eq!(ip.src_addr(), Ipv4Addr::new(192, 168, 0x12, 0x34));
        assert!(ip.verify_checksum());
        let udp = UdpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!(udp.dst_port(), SYSLOG_PORT);
        assert_eq!(udp.payload(), b"<15>[1234ms] hello\0");
        let long = "é".repeat(400);
        let f = syslog_frame(MacAddress::BROADCAST, &long);
        assert_eq!(f.len(), 14 + 20 + 8 + 4 + 700 + 1);
    }
}
