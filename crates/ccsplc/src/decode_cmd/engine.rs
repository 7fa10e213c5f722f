//! From capture bytes to events: link layer, SLAC, SDP, TCP reassembly, V2GTP, EXI.
//!
//! Two passes. The first learns who is who (EV and EVSE MAC and IP addresses from SLAC, SDP
//! and TCP SYNs, the SECC's TCP ports from SDP responses), so that the second can label every
//! frame with its direction, even frames before the one that revealed the roles.

use std::collections::{HashMap, HashSet};
use std::net::Ipv6Addr;

use ccs_proto::capture::{
    CaptureError, CaptureReader, LinkType, Packet, Timestamp, UpperPdu, V2GTP_DISSECTOR,
};
use ccs_proto::homeplug::{EtherType, MacAddress, Mme, MmeFrame};
use ccs_proto::sdp::{SdpRequestRepr, SdpResponseRepr};
use ccs_proto::session::Phase;
use ccs_proto::trace::V2gSummary;
use ccs_proto::v2gtp::{Deframer, DeframerConfig, PayloadType};
use ccs_proto::wire::{
    ChecksumCheck, IpProtocol, Ipv4Packet, Ipv6Packet, LinkFrame, TcpFlags, TcpPacket, TcpRepr,
    UdpPacket,
};
use serde_json::json;

use super::event::{Body, Event};
use super::tcp::{Delivery, Stream};
use super::v2g::{Handshake, Outcome};

const SDP_PORT: u16 = 15118;
const SYSLOG_PORT: u16 = 514;

/// Counts per capture.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub(crate) struct Stats {
    pub(crate) frames: usize,
    pub(crate) slac: usize,
    pub(crate) sdp: usize,
    pub(crate) tcp: usize,
    pub(crate) v2g: usize,
    pub(crate) v2g_failed: usize,
    pub(crate) logs: usize,
    pub(crate) errors: usize,
}

/// The decoded capture.
#[derive(Debug)]
pub(crate) struct Decoding {
    pub(crate) events: Vec<Event>,
    pub(crate) stats: Stats,
}

#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Role {
    Ev,
    Evse,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Self::Ev => "EV",
            Self::Evse => "EVSE",
        }
    }
}

/// Who is who, learned in the first pass.
#[derive(Debug, Default)]
struct Roles {
    macs: HashMap<MacAddress, Role>,
    ips: HashMap<Ipv6Addr, Role>,
    server_ports: HashSet<u16>,
    modems: HashMap<MacAddress, Role>,
    /// (modem, host) pairs seen in confirmations, resolved once the hosts' roles are known.
    modem_links: Vec<(MacAddress, MacAddress)>,
    /// Senders of CM_ATTEN_PROFILE.IND and VS_ATTEN_CHAR.IND: the EVSE's modem.
    evse_modems: Vec<MacAddress>,
}

impl Roles {
    fn mac(&mut self, mac: MacAddress, role: Role) {
        if !mac.is_group() {
            self.macs.entry(mac).or_insert(role);
        }
    }

    fn learn_mme(&mut self, f: &MmeFrame) {
        match &f.body {
            Mme::SlacParmReq(_) | Mme::StartAttenCharInd(_) | Mme::MnbcSoundInd(_) => {
                self.mac(f.source, Role::Ev);
            }
            Mme::AttenCharRsp(_) => {
                self.mac(f.source, Role::Ev);
                self.mac(f.destination, Role::Evse);
            }
            Mme::SlacParmCnf(_) | Mme::AttenCharInd(_) => {
                self.mac(f.source, Role::Evse);
                self.mac(f.destination, Role::Ev);
            }
            Mme::SlacMatchReq(m) => {
                self.mac(m.fields.pev_mac, Role::Ev);
                self.mac(m.fields.evse_mac, Role::Evse);
            }
            Mme::SlacMatchCnf(m) => {
                self.mac(m.fields.pev_mac, Role::Ev);
                self.mac(m.fields.evse_mac, Role::Evse);
            }
            Mme::SetKeyCnf(_) | Mme::GetKeyCnf(_) | Mme::SwVerCnf(_)
                if !f.destination.is_group() =>
            {
                self.modem_links.push((f.source, f.destination));
            }
            Mme::AttenProfileInd(_) | Mme::VsAttenCharInd(_) => self.evse_modems.push(f.source),
            _ => {}
        }
    }

    fn learn(&mut self, link: &LinkFrame<'_>, frame: &[u8]) {
        match link.ethertype {
            EtherType::HomePlugAv => {
                if let Ok(f) = MmeFrame::parse(&single_tagged(link, frame)) {
                    self.learn_mme(&f);
                }
            }
            EtherType::Ipv6 => self.learn_ipv6(link),
            _ => {}
        }
    }

    fn learn_ipv6(&mut self, link: &LinkFrame<'_>) {
        let Ok(ip) = Ipv6Packet::new_checked(link.payload) else {
            return;
        };
        let Ok((proto, upper)) = ip.upper_layer() else {
            return;
        };
        match proto {
            IpProtocol::Udp => {
                let Ok(udp) = UdpPacket::new_checked(upper) else {
                    return;
                };
                if let Ok(_req) = SdpRequestRepr::parse(udp.payload()) {
                    self.mac(link.source, Role::Ev);
                    self.ips.entry(ip.src_addr()).or_insert(Role::Ev);
                } else if let Ok(res) = SdpResponseRepr::parse(udp.payload()) {
                    self.mac(link.source, Role::Evse);
                    self.mac(link.destination, Role::Ev);
                    self.ips.entry(ip.src_addr()).or_insert(Role::Evse);
                    self.ips.entry(res.address).or_insert(Role::Evse);
                    self.ips.entry(ip.dst_addr()).or_insert(Role::Ev);
                    self.server_ports.insert(res.port);
                }
            }
            IpProtocol::Tcp => {
                let Ok(tcp) = TcpPacket::new_checked(upper) else {
                    return;
                };
                if tcp.flags() == TcpFlags::SYN {
                    self.mac(link.source, Role::Ev);
                    self.mac(link.destination, Role::Evse);
                    self.ips.entry(ip.src_addr()).or_insert(Role::Ev);
                    self.ips.entry(ip.dst_addr()).or_insert(Role::Evse);
                    self.server_ports.insert(tcp.dst_port());
                }
            }
            _ => {}
        }
    }

    fn label(&self, mac: &MacAddress) -> Option<&'static str> {
        match (self.macs.get(mac), self.modems.get(mac)) {
            (Some(Role::Ev), _) => Some("EV"),
            (Some(Role::Evse), _) => Some("EVSE"),
            (None, Some(Role::Ev)) => Some("EV-modem"),
            (None, Some(Role::Evse)) => Some("EVSE-modem"),
            (None, None) => None,
        }
    }

    /// `EV->EVSE` and the like; a broadcast SLAC message is addressed to the other side
    /// (`to_peer`), other broadcasts to `broadcast`; unknown stations by address.
    fn mac_direction(&self, link: &LinkFrame<'_>, to_peer: bool) -> String {
        let src_role = self.macs.get(&link.source).copied();
        let src = self
            .label(&link.source)
            .map_or_else(|| link.source.to_string(), str::to_owned);
        let dst = if link.destination.is_group() {
            match src_role {
                Some(Role::Ev) if to_peer => "EVSE".to_owned(),
                Some(Role::Evse) if to_peer => "EV".to_owned(),
                _ if link.destination.is_broadcast() => "broadcast".to_owned(),
                _ => link.destination.to_string(),
            }
        } else if link.destination == MacAddress::QCA_LOCALCAST {
            // "The modem I am wired to" (homeplug-slac.md §1.1).
            "localcast".to_owned()
        } else {
            self.label(&link.destination)
                .map_or_else(|| link.destination.to_string(), str::to_owned)
        };
        format!("{src}->{dst}")
    }

    /// `EV->EVSE` and the like from the IP addresses, else from the MAC addresses of `link`
    /// (none for exported PDUs).
    fn ip_direction(&self, link: Option<&LinkFrame<'_>>, src: Ipv6Addr, dst: Ipv6Addr) -> String {
        let src_role = self
            .ips
            .get(&src)
            .or_else(|| self.macs.get(&link?.source))
            .copied();
        let dst_role = if dst.is_multicast() {
            match src_role {
                Some(Role::Ev) => Some(Role::Evse),
                Some(Role::Evse) => Some(Role::Ev),
                None => None,
            }
        } else {
            self.ips
                .get(&dst)
                .or_else(|| self.macs.get(&link?.destination))
                .copied()
        };
        let src = src_role.map_or_else(|| src.to_string(), |r| r.name().to_owned());
        let dst = dst_role.map_or_else(|| dst.to_string(), |r| r.name().to_owned());
        format!("{src}->{dst}")
    }

    /// Modems: a station that answers a host's key or version request, or sends attenuation
    /// profiles to the EVSE host, is that host's modem.
    fn resolve_modems(&mut self) {
        for (modem, host) in std::mem::take(&mut self.modem_links) {
            if let Some(&role) = self.macs.get(&host)
                && !self.macs.contains_key(&modem)
            {
                self.modems.entry(modem).or_insert(role);
            }
        }
        for modem in std::mem::take(&mut self.evse_modems) {
            if !self.macs.contains_key(&modem) {
                self.modems.entry(modem).or_insert(Role::Evse);
            }
        }
    }
}

/// One TCP connection: the EV is the client ([V2G2-160]: the EVCC connects to the SECC).
#[derive(Debug)]
struct Connection {
    client: (Ipv6Addr, u16),
    streams: [Stream; 2],
    deframers: [Deframer; 2],
    handshake: Handshake,
    /// The last request: a response belongs to its phase (PowerDeliveryRes says neither
    /// start nor stop).
    last_request: Option<(String, Option<Phase>)>,
    /// Set when a direction starts with a TLS record: nothing more is decoded there.
    tls: [bool; 2],
    /// Whether each direction has delivered any bytes yet.
    started: [bool; 2],
    /// The V2GTP messages of a TLS connection as ccsplc recorded them in plaintext
    /// (exported PDUs), per direction.
    plain: [Deframer; 2],
    /// Whether the capture holds this connection's plaintext (known from the first pass).
    decrypted: bool,
}

impl Connection {
    fn new(client: (Ipv6Addr, u16), decrypted: bool) -> Self {
        Self {
            client,
            plain: [new_deframer(), new_deframer()],
            decrypted,
            streams: [Stream::default(), Stream::default()],
            deframers: [new_deframer(), new_deframer()],
            handshake: Handshake::default(),
            last_request: None,
            tls: [false; 2],
            started: [false; 2],
        }
    }
}

fn new_deframer() -> Deframer {
    Deframer::new(DeframerConfig::default())
}

type ConnKey = (Ipv6Addr, u16, Ipv6Addr, u16);

/// The whole second pass.
struct Decoder {
    roles: Roles,
    start: Option<Timestamp>,
    events: Vec<Event>,
    stats: Stats,
    connections: Vec<Connection>,
    by_key: HashMap<ConnKey, usize>,
    /// Connections (both orientations) whose plaintext ccsplc recorded as exported PDUs.
    decrypted: HashSet<ConnKey>,
    time: f64,
    frame: usize,
}

/// The connection of an exported V2GTP PDU, in the direction of the message.
fn decrypted_key(pdu: &UpperPdu) -> Option<ConnKey> {
    if pdu.dissector != V2GTP_DISSECTOR {
        return None;
    }
    Some((pdu.src?, pdu.src_port?, pdu.dst?, pdu.dst_port?))
}

/// The frame as [`MmeFrame::parse`] takes it: it strips one 802.1Q tag itself, so stacked
/// tags are removed here.
fn single_tagged<'a>(link: &LinkFrame<'_>, frame: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
    if link.vlan_tags.len() <= 1 {
        return std::borrow::Cow::Borrowed(frame);
    }
    let mut f = Vec::with_capacity(14 + link.payload.len());
    f.extend_from_slice(&frame[..12]);
    f.extend_from_slice(&u16::from(link.ethertype).to_be_bytes());
    f.extend_from_slice(link.payload);
    std::borrow::Cow::Owned(f)
}

/// The SLAC messages proper (CM_SLAC_PARM … CM_SLAC_MATCH, MMTYPE 0x6064–0x607F): between
/// the EV and EVSE hosts, even when broadcast.
fn is_slac(f: &MmeFrame) -> bool {
    (0x6064..=0x607f).contains(&u16::from(f.mmtype()))
}

fn hex_prefix(bytes: &[u8]) -> String {
    let mut s: String = bytes.iter().take(24).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > 24 {
        s.push('…');
    }
    s
}

impl Decoder {
    fn push(&mut self, direction: String, body: Body) {
        match &body {
            Body::Slac { .. } => self.stats.slac += 1,
            Body::Sdp { .. } => self.stats.sdp += 1,
            Body::Tcp { .. } => self.stats.tcp += 1,
            Body::V2g { .. } => self.stats.v2g += 1,
            Body::Log { .. } => self.stats.logs += 1,
            Body::Error { .. } => self.stats.errors += 1,
        }
        self.events.push(Event {
            time: self.time,
            frame: self.frame,
            direction,
            body,
        });
    }

    fn error(&mut self, direction: String, reason: String) {
        self.push(direction, Body::Error { reason });
    }

    fn packet(&mut self, packet: &Packet<'_>) {
        self.frame += 1;
        self.stats.frames += 1;
        let start = *self.start.get_or_insert(packet.timestamp);
        self.time = packet.timestamp.secs_since(start);
        for c in &packet.comments {
            self.push(String::new(), Body::Log { text: c.clone() });
        }
        if packet.link_type == LinkType::WiresharkUpperPdu {
            return self.upper_pdu(packet.data);
        }
        let Some(frame) = packet.ethernet() else {
            if packet.comments.is_empty() {
                self.error(
                    String::new(),
                    format!("link type {} not supported", packet.link_type),
                );
            }
            return;
        };
        let link = match LinkFrame::parse(&frame) {
            Ok(l) => l,
            Err(e) => return self.error(String::new(), format!("Ethernet: {e}")),
        };
        match link.ethertype {
            EtherType::HomePlugAv => self.homeplug(&link, &frame),
            EtherType::Ipv6 => self.ipv6(&link, packet.is_truncated()),
            EtherType::Unknown(0x0800) => self.ipv4(&link),
            _ => {}
        }
    }

    fn homeplug(&mut self, link: &LinkFrame<'_>, frame: &[u8]) {
        match MmeFrame::parse(&single_tagged(link, frame)) {
            Ok(f) => {
                let direction = self.roles.mac_direction(link, is_slac(&f));
                let message = f.mmtype().to_string();
                let summary = format!("{message} {}", f.body).trim_end().to_owned();
                self.push(direction, Body::Slac { message, summary });
            }
            Err(e) => {
                let direction = self.roles.mac_direction(link, false);
                self.error(direction, format!("HomePlug MME: {e}"));
            }
        }
    }

    fn ipv4(&mut self, link: &LinkFrame<'_>) {
        let Ok(ip) = Ipv4Packet::new_checked(link.payload) else {
            return;
        };
        if ip.protocol() != IpProtocol::Udp {
            return;
        }
        let Ok(udp) = UdpPacket::new_checked(ip.payload()) else {
            return;
        };
        if udp.dst_port() != SYSLOG_PORT {
            return;
        }
        // pyPLC: `<15>` + text + NUL (pyplc-behaviour.md §12).
        let raw = String::from_utf8_lossy(udp.payload());
        let text = raw.trim_end_matches(['\0', '\n', '\r']);
        let text = match text.strip_prefix('<').and_then(|t| t.split_once('>')) {
            Some((prio, rest)) if prio.bytes().all(|b| b.is_ascii_digit()) => rest,
            _ => text,
        };
        let direction = link.source.to_string();
        self.push(
            direction,
            Body::Log {
                text: text.to_owned(),
            },
        );
    }

    fn ipv6(&mut self, link: &LinkFrame<'_>, snapped: bool) {
        let ip = match Ipv6Packet::new_checked(link.payload) {
            Ok(ip) => ip,
            Err(e) => {
                let why = if snapped {
                    " (cut by the snap length)"
                } else {
                    ""
                };
                return self.error(
                    self.roles.mac_direction(link, false),
                    format!("IPv6: {e}{why}"),
                );
            }
        };
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        let direction = self.roles.ip_direction(Some(link), src, dst);
        let (proto, upper) = match ip.upper_layer() {
            Ok(u) => u,
            Err(e) => return self.error(direction, format!("IPv6 extension header: {e}")),
        };
        match proto {
            IpProtocol::Udp => self.udp(direction, upper),
            IpProtocol::Tcp => self.tcp(direction, src, dst, upper),
            _ => {}
        }
    }

    fn udp(&mut self, direction: String, bytes: &[u8]) {
        let udp = match UdpPacket::new_checked(bytes) {
            Ok(u) => u,
            Err(e) => return self.error(direction, format!("UDP: {e}")),
        };
        if udp.dst_port() != SDP_PORT && udp.src_port() != SDP_PORT {
            return;
        }
        let payload = udp.payload();
        let payload_type = payload
            .get(2..4)
            .map(|b| PayloadType::from(u16::from_be_bytes([b[0], b[1]])));
        match payload_type {
            Some(PayloadType::SdpRequest) => match SdpRequestRepr::parse(payload) {
                Ok(r) => {
                    let summary = format!(
                        "request security={} transport={:?}",
                        r.security, r.transport
                    );
                    let fields = json!({
                        "security": r.security.to_string(),
                        "transport": format!("{:?}", r.transport),
                    });
                    self.push(
                        direction,
                        Body::Sdp {
                            message: "request",
                            summary,
                            fields,
                        },
                    );
                }
                Err(e) => self.error(direction, format!("SDP request: {e}")),
            },
            Some(PayloadType::SdpResponse) => match SdpResponseRepr::parse(payload) {
                Ok(r) => {
                    let summary = format!(
                        "response [{}]:{} security={} transport={:?}",
                        r.address, r.port, r.security, r.transport
                    );
                    let fields = json!({
                        "address": r.address.to_string(),
                        "port": r.port,
                        "security": r.security.to_string(),
                        "transport": format!("{:?}", r.transport),
                    });
                    self.push(
                        direction,
                        Body::Sdp {
                            message: "response",
                            summary,
                            fields,
                        },
                    );
                }
                Err(e) => self.error(direction, format!("SDP response: {e}")),
            },
            _ => self.error(
                direction,
                format!(
                    "UDP port 15118 without an SDP message: {}",
                    hex_prefix(payload)
                ),
            ),
        }
    }

    fn is_server(&self, addr: Ipv6Addr, port: u16, other_port: u16) -> bool {
        if self.roles.server_ports.contains(&port) && !self.roles.server_ports.contains(&other_port)
        {
            return true;
        }
        match self.roles.ips.get(&addr) {
            Some(Role::Evse) => true,
            Some(Role::Ev) => false,
            None => port < other_port,
        }
    }

    fn tcp(&mut self, direction: String, src: Ipv6Addr, dst: Ipv6Addr, bytes: &[u8]) {
        let packet = match TcpPacket::new_checked(bytes) {
            Ok(p) => p,
            Err(e) => return self.error(direction, format!("TCP: {e}")),
        };
        // Captures on the sending host carry offloaded checksums: do not verify.
        let seg = match TcpRepr::parse_v6(&packet, &src, &dst, ChecksumCheck::Ignore) {
            Ok(s) => s,
            Err(e) => return self.error(direction, format!("TCP: {e}")),
        };
        let key: ConnKey = (src, seg.src_port, dst, seg.dst_port);
        let flags = seg.flags;
        let idx = if flags == TcpFlags::SYN {
            // A new connection (also when a new session reuses the ports).
            let idx = self.connections.len();
            let decrypted = self.decrypted.contains(&key);
            self.connections
                .push(Connection::new((src, seg.src_port), decrypted));
            self.by_key.insert(key, idx);
            self.by_key
                .insert((dst, seg.dst_port, src, seg.src_port), idx);
            idx
        } else if let Some(&idx) = self.by_key.get(&key) {
            idx
        } else {
            self.connection_without_syn(key)
        };
        let from_client = self.connections[idx].client == (src, seg.src_port);
        let dir = usize::from(!from_client);
        let who = if from_client { "EV" } else { "EVSE" };
        let conn_text = format!("[{src}]:{} > [{dst}]:{}", seg.src_port, seg.dst_port);
        if flags.contains(TcpFlags::SYN) {
            self.connections[idx].streams[dir].syn(seg.seq_number);
            let (event, what) = if flags.contains(TcpFlags::ACK) {
                ("SYN-ACK", "accepts")
            } else {
                ("SYN", "connects")
            };
            self.push(
                direction.clone(),
                Body::Tcp {
                    event,
                    summary: format!("{event} {who} {what} {conn_text}"),
                },
            );
        }
        if !seg.payload.is_empty() {
            let delivery = self.connections[idx].streams[dir].segment(seg.seq_number, seg.payload);
            self.deliver(idx, dir, &direction, delivery);
        }
        if flags.contains(TcpFlags::RST) || flags.contains(TcpFlags::FIN) {
            let delivery = self.connections[idx].streams[dir].flush_gap();
            self.deliver(idx, dir, &direction, delivery);
            let event = if flags.contains(TcpFlags::RST) {
                "RST"
            } else {
                "FIN"
            };
            let what = if event == "RST" { "resets" } else { "closes" };
            self.push(
                direction,
                Body::Tcp {
                    event,
                    summary: format!("{event} {who} {what} {conn_text}"),
                },
            );
        }
    }

    /// A connection whose SYN is not in the capture: the server side is guessed.
    fn connection_without_syn(&mut self, key: ConnKey) -> usize {
        let (src, src_port, dst, dst_port) = key;
        let client = if self.is_server(src, src_port, dst_port) {
            (dst, dst_port)
        } else {
            (src, src_port)
        };
        let idx = self.connections.len();
        let decrypted = self.decrypted.contains(&key);
        self.connections.push(Connection::new(client, decrypted));
        self.by_key.insert(key, idx);
        self.by_key.insert((dst, dst_port, src, src_port), idx);
        idx
    }

    /// An exported PDU: ccsplc's plaintext of one V2GTP message of a TLS connection.
    fn upper_pdu(&mut self, data: &[u8]) {
        let Some((pdu, payload)) = UpperPdu::parse(data) else {
            return self.error(String::new(), "exported PDU: tag list cut short".to_owned());
        };
        if pdu.dissector != V2GTP_DISSECTOR {
            // Another tool's exported PDU: not a V2G message.
            return;
        }
        let Some(key) = decrypted_key(&pdu) else {
            return self.error(
                String::new(),
                "decrypted V2GTP message without its connection's addresses".to_owned(),
            );
        };
        let (src, src_port, dst, _) = key;
        let direction = self.roles.ip_direction(None, src, dst);
        let idx = match self.by_key.get(&key) {
            Some(&idx) => idx,
            None => self.connection_without_syn(key),
        };
        let dir = usize::from(self.connections[idx].client != (src, src_port));
        self.deframe(idx, dir, &direction, payload, true);
    }

    fn deliver(&mut self, idx: usize, dir: usize, direction: &str, delivery: Delivery) {
        if delivery.skipped > 0 {
            self.connections[idx].deframers[dir] = new_deframer();
            self.error(
                direction.to_owned(),
                format!(
                    "{} bytes of the TCP stream are not in the capture; V2GTP framing restarts",
                    delivery.skipped
                ),
            );
        }
        let conn = &mut self.connections[idx];
        if !conn.started[dir] && !delivery.data.is_empty() {
            conn.started[dir] = true;
            // A TLS handshake record (content type 22, version 3.x): TLS is optional in
            // ISO 15118-2 and required in ISO 15118-20; the keys are not in the capture.
            if delivery.data.starts_with(&[0x16, 0x03]) {
                conn.tls[dir] = true;
                if conn.decrypted {
                    let who = if dir == 0 { "EV" } else { "EVSE" };
                    self.push(
                        direction.to_owned(),
                        Body::Tcp {
                            event: "TLS",
                            summary: format!(
                                "TLS {who} starts the handshake; the messages follow as \
                                 ccsplc recorded them decrypted"
                            ),
                        },
                    );
                } else {
                    self.error(
                        direction.to_owned(),
                        "TLS-encrypted V2G connection: not decoded (the capture holds no \
                         plaintext; Wireshark decrypts it with the key log)"
                            .to_owned(),
                    );
                }
            }
        }
        if self.connections[idx].tls[dir] {
            return;
        }
        self.deframe(idx, dir, direction, &delivery.data, false);
    }

    /// Cuts V2GTP messages out of a connection's stream (`plain`: the recorded plaintext of a
    /// TLS connection) and decodes them.
    fn deframe(&mut self, idx: usize, dir: usize, direction: &str, data: &[u8], plain: bool) {
        fn deframer(d: &mut Decoder, idx: usize, dir: usize, plain: bool) -> &mut Deframer {
            let conn = &mut d.connections[idx];
            if plain {
                &mut conn.plain[dir]
            } else {
                &mut conn.deframers[dir]
            }
        }
        let mut rest = data;
        while !rest.is_empty() {
            let taken = deframer(self, idx, dir, plain).push(rest);
            rest = &rest[taken..];
            let mut failed = false;
            loop {
                match deframer(self, idx, dir, plain).poll_message() {
                    Ok(Some(msg)) => self.v2g(idx, direction, msg.payload_type, &msg.payload),
                    Ok(None) => break,
                    Err(e) => {
                        self.error(direction.to_owned(), format!("V2GTP: {e}"));
                        *deframer(self, idx, dir, plain) = new_deframer();
                        failed = true;
                        break;
                    }
                }
            }
            if failed || taken == 0 {
                // After a framing error the rest of this delivery cannot be trusted; the
                // next segment starts afresh (messages start at segment boundaries in every
                // capture seen so far).
                break;
            }
        }
    }

    fn v2g(&mut self, idx: usize, direction: &str, payload_type: PayloadType, payload: &[u8]) {
        match self.connections[idx]
            .handshake
            .decode(payload_type, payload)
        {
            Outcome::Decoded(schema, d) => {
                let mut summary = V2gSummary::from_json(&d.message, &d.fields);
                let conn = &mut self.connections[idx];
                if let Some(base) = d.message.strip_suffix("Req") {
                    conn.last_request = Some((base.to_owned(), summary.phase));
                } else if let (Some(base), Some((req, phase))) =
                    (d.message.strip_suffix("Res"), &conn.last_request)
                    && base == req
                {
                    summary.phase = *phase;
                }
                self.push(
                    direction.to_owned(),
                    Body::V2g {
                        schema,
                        message: d.message,
                        fields: d.fields,
                        header: d.header,
                        summary: Box::new(summary),
                        exi: payload.iter().map(|b| format!("{b:02x}")).collect(),
                    },
                );
            }
            Outcome::Failed { schema, reason } => {
                self.stats.v2g_failed += 1;
                self.error(
                    direction.to_owned(),
                    format!(
                        "V2G message not decoded as {}: {reason} (EXI {})",
                        schema.name(),
                        hex_prefix(payload)
                    ),
                );
            }
            Outcome::Unsupported(why) => {
                self.stats.v2g_failed += 1;
                self.error(
                    direction.to_owned(),
                    format!(
                        "V2G message not decoded: {why} (EXI {})",
                        hex_prefix(payload)
                    ),
                );
            }
        }
    }
}

/// Decodes frames one at a time as they arrive (`ccsplc listen`): the incremental core of
/// [`decode_capture`]. Roles (who is the EV, who the EVSE) are learned from each frame before
/// it is decoded, instead of in a first pass over the whole file, so the first frames of a
/// conversation may be labelled less precisely than `ccsplc decode` labels them afterwards.
pub(crate) struct LiveDecoder {
    d: Decoder,
}

impl LiveDecoder {
    /// A decoder that has seen nothing.
    pub(crate) fn new() -> Self {
        Self {
            d: Decoder {
                roles: Roles::default(),
                start: None,
                events: Vec::new(),
                stats: Stats::default(),
                connections: Vec::new(),
                by_key: HashMap::new(),
                decrypted: HashSet::new(),
                time: 0.0,
                frame: 0,
            },
        }
    }

    /// Decodes one packet; returns the events it produced.
    pub(crate) fn packet(&mut self, packet: &Packet<'_>) -> Vec<Event> {
        if let Some(frame) = packet.ethernet()
            && let Ok(link) = LinkFrame::parse(&frame)
        {
            self.d.roles.learn(&link, &frame);
            self.d.roles.resolve_modems();
        }
        self.d.packet(packet);
        std::mem::take(&mut self.d.events)
    }

    /// The counters so far.
    pub(crate) fn stats(&self) -> &Stats {
        &self.d.stats
    }
}

/// Decodes a whole capture held in memory. Fails only if the file is not a capture at all;
/// a file that breaks off later ends with an `error` event after everything before it.
pub(crate) fn decode_capture(bytes: &[u8]) -> Result<Decoding, CaptureError> {
    let mut roles = Roles::default();
    let mut decrypted = HashSet::new();
    for packet in CaptureReader::new(bytes)?.flatten() {
        if packet.link_type == LinkType::WiresharkUpperPdu
            && let Some((pdu, _)) = UpperPdu::parse(packet.data)
            && let Some((src, src_port, dst, dst_port)) = decrypted_key(&pdu)
        {
            decrypted.insert((src, src_port, dst, dst_port));
            decrypted.insert((dst, dst_port, src, src_port));
        }
        if let Some(frame) = packet.ethernet()
            && let Ok(link) = LinkFrame::parse(&frame)
        {
            roles.learn(&link, &frame);
        }
    }
    roles.resolve_modems();
    let mut d = Decoder {
        roles,
        start: None,
        events: Vec::new(),
        stats: Stats::default(),
        connections: Vec::new(),
        by_key: HashMap::new(),
        decrypted,
        time: 0.0,
        frame: 0,
    };
    for packet in CaptureReader::new(bytes)? {
        match packet {
            Ok(p) => d.packet(&p),
            Err(e) => {
                d.frame += 1;
                d.error(String::new(), format!("capture file: {e}"));
            }
        }
    }
    // Bytes still held behind a gap at the end of the capture.
    for idx in 0..d.connections.len() {
        for dir in 0..2 {
            let delivery = d.connections[idx].streams[dir].flush_gap();
            if !delivery.data.is_empty() {
                d.deliver(idx, dir, "", delivery);
            }
        }
    }
    Ok(Decoding {
        events: d.events,
        stats: d.stats,
    })
}
