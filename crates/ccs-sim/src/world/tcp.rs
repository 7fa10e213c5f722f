//! A small sans-IO TCP endpoint for the simulated hosts: three-way handshake, in-order data
//! with cumulative ACKs, retransmission on timeout (go-back-N with exponential backoff), FIN
//! in both directions. Enough to carry V2GTP between two simulated hosts over a lossy line,
//! with real sequence numbers in the frames; not a general TCP (no window management, no
//! congestion control, no options, no TIME-WAIT).
//!
//! References: RFC 9293 (segment processing, §3.10), RFC 6298 (retransmission timer; the
//! initial RTO here is Linux's 200 ms minimum rather than 1 s, as on a LAN).
//!
//! Call order, as for every machine in this workspace: `connect`/`listen` once; feed
//! [`TcpEndpoint::handle_segment`] and [`TcpEndpoint::handle_timeout`]; after either (and
//! after [`TcpEndpoint::send`]/[`TcpEndpoint::close`]) call [`TcpEndpoint::flush`], then drain
//! [`TcpEndpoint::poll_segment`] and [`TcpEndpoint::poll_event`].

use core::net::SocketAddrV6;
use std::collections::VecDeque;

use ccs_proto::time::{Duration, Instant};

use super::frames::{TcpFlags, TcpSegment};

/// Knobs of the simulated TCP.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub struct TcpConfig {
    /// The largest payload per segment. Small values split V2GTP messages across segments,
    /// which exercises the receiver's deframing.
    pub mss: usize,
    /// The first retransmission timeout; doubled after each retransmission.
    pub initial_rto: Duration,
    /// The longest retransmission timeout.
    pub max_rto: Duration,
    /// Retransmissions of the same data before the connection counts as broken.
    pub max_retransmissions: u32,
    /// The advertised receive window (informational: the sender does not limit itself).
    pub window: u16,
}

impl Default for TcpConfig {
    fn default() -> Self {
        Self {
            // IPv6 minimum MTU 1280 − 40 (IPv6) − 20 (TCP).
            mss: 1220,
            initial_rto: Duration::from_millis(200),
            max_rto: Duration::from_secs(2),
            max_retransmissions: 8,
            window: 8192,
        }
    }
}

/// What the endpoint reports.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum TcpEvent {
    /// The handshake completed.
    Connected,
    /// In-order bytes from the peer.
    Data(Vec<u8>),
    /// The peer sent FIN: no more data will come.
    PeerClosed,
    /// The peer reset the connection.
    Reset,
    /// Data stayed unacknowledged through every retransmission.
    TimedOut,
}

/// The connection states used (RFC 9293 names).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum TcpState {
    /// No connection.
    Closed,
    /// Waiting for a SYN.
    Listen,
    /// SYN sent, waiting for SYN-ACK.
    SynSent,
    /// SYN-ACK sent, waiting for the ACK.
    SynReceived,
    /// Data flows (also while either side's FIN is outstanding).
    Established,
}

/// `a < b` in sequence space (RFC 9293 §3.4).
fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// A TCP endpoint; see the module docs.
#[derive(Debug)]
pub struct TcpEndpoint {
    config: TcpConfig,
    local: SocketAddrV6,
    remote: Option<SocketAddrV6>,
    state: TcpState,
    snd_una: u32,
    snd_nxt: u32,
    rcv_nxt: u32,
    unsent: VecDeque<u8>,
    in_flight: VecDeque<TcpSegment>,
    fin_requested: bool,
    fin_sent: bool,
    peer_fin: bool,
    rto: Duration,
    retransmissions: u32,
    rto_deadline: Option<Instant>,
    out: VecDeque<TcpSegment>,
    events: VecDeque<TcpEvent>,
    retransmitted_segments: u64,
}

impl TcpEndpoint {
    fn new(config: TcpConfig, local: SocketAddrV6, iss: u32, state: TcpState) -> Self {
        Self {
            config,
            local,
            remote: None,
            state,
            snd_una: iss,
            snd_nxt: iss,
            rcv_nxt: 0,
            unsent: VecDeque::new(),
            in_flight: VecDeque::new(),
            fin_requested: false,
            fin_sent: false,
            peer_fin: false,
            rto: config.initial_rto,
            retransmissions: 0,
            rto_deadline: None,
            out: VecDeque::new(),
            events: VecDeque::new(),
            retransmitted_segments: 0,
        }
    }

    /// An active open: the SYN goes out at the next [`TcpEndpoint::flush`].
    pub fn connect(
        config: TcpConfig,
        now: Instant,
        local: SocketAddrV6,
        remote: SocketAddrV6,
        iss: u32,
    ) -> Self {
        let mut tcp = Self::new(config, local, iss, TcpState::SynSent);
        tcp.remote = Some(remote);
        tcp.queue(now, TcpFlags::SYN, Vec::new());
        tcp
    }

    /// A passive open on `local`: the first SYN to it is accepted.
    pub fn listen(config: TcpConfig, local: SocketAddrV6, iss: u32) -> Self {
        Self::new(config, local, iss, TcpState::Listen)
    }

    /// The local address.
    pub fn local(&self) -> SocketAddrV6 {
        self.local
    }

    /// The peer, once known.
    pub fn remote(&self) -> Option<SocketAddrV6> {
        self.remote
    }

    /// The state.
    pub fn state(&self) -> TcpState {
        self.state
    }

    /// Whether both directions are finished (or the connection broke) and nothing waits.
    pub fn is_closed(&self) -> bool {
        self.state == TcpState::Closed
    }

    /// How many segments were sent again after a timeout.
    pub fn retransmitted_segments(&self) -> u64 {
        self.retransmitted_segments
    }

    /// Queues bytes for the peer.
    pub fn send(&mut self, data: &[u8]) {
        if matches!(self.state, TcpState::Closed) || self.fin_requested {
            return;
        }
        self.unsent.extend(data);
    }

    /// Sends FIN after everything queued.
    pub fn close(&mut self) {
        if self.state == TcpState::Listen {
            self.state = TcpState::Closed;
        }
        self.fin_requested = true;
    }

    /// Aborts the connection (RFC 9293 §3.10.7.1 ABORT): a RST goes to the peer, everything
    /// unsent is dropped, and this end reports [`TcpEvent::Reset`] too.
    pub fn abort(&mut self) {
        if matches!(self.state, TcpState::Closed | TcpState::Listen) {
            return;
        }
        if self.remote.is_some() {
            let rst = self.segment(TcpFlags::RST, self.snd_nxt, Vec::new());
            self.out.push_back(rst);
        }
        self.shut(Some(TcpEvent::Reset));
    }

    /// The next retransmission deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.rto_deadline
    }

    /// The next segment to put on the wire.
    pub fn poll_segment(&mut self) -> Option<TcpSegment> {
        self.out.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<TcpEvent> {
        self.events.pop_front()
    }

    fn segment(&self, flags: TcpFlags, seq: u32, payload: Vec<u8>) -> TcpSegment {
        let remote_port = self.remote.map_or(0, |r| r.port());
        let ack_valid = self.state != TcpState::SynSent;
        TcpSegment {
            src_port: self.local.port(),
            dst_port: remote_port,
            seq,
            ack: if ack_valid { self.rcv_nxt } else { 0 },
            flags: if ack_valid {
                flags | TcpFlags::ACK
            } else {
                flags
            },
            window: self.config.window,
            payload,
        }
    }

    /// Sends a segment that takes sequence space and keeps it for retransmission.
    fn queue(&mut self, now: Instant, flags: TcpFlags, payload: Vec<u8>) {
        let segment = self.segment(flags, self.snd_nxt, payload);
        self.snd_nxt = self.snd_nxt.wrapping_add(segment.sequence_len());
        self.in_flight.push_back(segment.clone());
        self.out.push_back(segment);
        if self.rto_deadline.is_none() {
            self.rto_deadline = Some(now + self.rto);
        }
    }

    fn send_ack(&mut self) {
        let segment = self.segment(TcpFlags(0), self.snd_nxt, Vec::new());
        self.out.push_back(segment);
    }

    fn shut(&mut self, event: Option<TcpEvent>) {
        self.state = TcpState::Closed;
        self.in_flight.clear();
        self.unsent.clear();
        self.rto_deadline = None;
        if let Some(e) = event {
            self.events.push_back(e);
        }
    }

    /// A segment from `from` addressed to our port.
    pub fn handle_segment(&mut self, now: Instant, from: SocketAddrV6, segment: &TcpSegment) {
        let flags = segment.flags;
        if self.state == TcpState::Listen {
            if flags.contains(TcpFlags::SYN) && !flags.contains(TcpFlags::ACK) {
                self.remote = Some(from);
                self.rcv_nxt = segment.seq.wrapping_add(1);
                self.state = TcpState::SynReceived;
                self.queue(now, TcpFlags::SYN, Vec::new());
            }
            return;
        }
        if self.remote != Some(from) || self.state == TcpState::Closed {
            return;
        }
        if flags.contains(TcpFlags::RST) {
            self.shut(Some(TcpEvent::Reset));
            return;
        }
        if self.state == TcpState::SynSent {
            if flags.contains(TcpFlags::SYN | TcpFlags::ACK) && segment.ack == self.snd_nxt {
                self.rcv_nxt = segment.seq.wrapping_add(1);
                self.acknowledge(now, segment.ack);
                self.state = TcpState::Established;
                self.events.push_back(TcpEvent::Connected);
                self.send_ack();
            }
            return;
        }
        if flags.contains(TcpFlags::SYN) {
            // A repeated SYN (our SYN-ACK was lost) or SYN-ACK (our ACK was lost): the
            // retransmission timer resends the SYN-ACK; a lost final ACK is answered here.
            if self.state == TcpState::Established {
                self.send_ack();
            }
            return;
        }
        if flags.contains(TcpFlags::ACK) {
            if self.state == TcpState::SynReceived && segment.ack == self.snd_nxt {
                self.state = TcpState::Established;
                self.events.push_back(TcpEvent::Connected);
            }
            self.acknowledge(now, segment.ack);
        }
        if self.state != TcpState::Established {
            return;
        }
        self.receive(segment);
        if self.fin_sent && self.peer_fin && self.in_flight.is_empty() {
            self.shut(None);
        }
    }

    /// Cumulative ACK processing (RFC 9293 §3.10.7.4, "If SND.UNA < SEG.ACK =< SND.NXT").
    fn acknowledge(&mut self, now: Instant, ack: u32) {
        if !seq_lt(self.snd_una, ack) || seq_lt(self.snd_nxt, ack) {
            return;
        }
        self.snd_una = ack;
        while let Some(front) = self.in_flight.front() {
            let end = front.seq.wrapping_add(front.sequence_len());
            if seq_lt(ack, end) {
                break;
            }
            self.in_flight.pop_front();
        }
        self.retransmissions = 0;
        self.rto = self.config.initial_rto;
        self.rto_deadline = (!self.in_flight.is_empty()).then(|| now + self.rto);
    }

    /// In-order data and FIN; anything else is answered with a duplicate ACK.
    fn receive(&mut self, segment: &TcpSegment) {
        let fin = segment.flags.contains(TcpFlags::FIN);
        if segment.payload.is_empty() && !fin {
            return;
        }
        let mut payload: &[u8] = &segment.payload;
        let mut seq = segment.seq;
        if seq_lt(seq, self.rcv_nxt) {
            // Partly or wholly old: keep only what is new.
            let old = self.rcv_nxt.wrapping_sub(seq) as usize;
            if old > payload.len() || (old == payload.len() && !fin) {
                self.send_ack();
                return;
            }
            payload = &payload[old.min(payload.len())..];
            seq = self.rcv_nxt;
        }
        if seq != self.rcv_nxt || self.peer_fin {
            self.send_ack();
            return;
        }
        if !payload.is_empty() {
            let n = u32::try_from(payload.len()).unwrap_or(u32::MAX);
            self.rcv_nxt = self.rcv_nxt.wrapping_add(n);
            self.events.push_back(TcpEvent::Data(payload.to_vec()));
        }
        if fin {
            self.rcv_nxt = self.rcv_nxt.wrapping_add(1);
            self.peer_fin = true;
            self.events.push_back(TcpEvent::PeerClosed);
        }
        self.send_ack();
    }

    /// The retransmission timer.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(deadline) = self.rto_deadline else {
            return;
        };
        if now < deadline {
            return;
        }
        if self.retransmissions >= self.config.max_retransmissions {
            self.shut(Some(TcpEvent::TimedOut));
            return;
        }
        self.retransmissions += 1;
        let ack = self.rcv_nxt;
        let established = self.state != TcpState::SynSent;
        for segment in &mut self.in_flight {
            if established {
                segment.ack = ack;
            }
            self.out.push_back(segment.clone());
            self.retransmitted_segments += 1;
        }
        self.rto = Duration::from_micros(
            (self.rto.total_micros() * 2).min(self.config.max_rto.total_micros()),
        );
        self.rto_deadline = Some(now + self.rto);
    }

    /// Cuts queued bytes into segments and sends FIN when everything is out.
    pub fn flush(&mut self, now: Instant) {
        if self.state != TcpState::Established {
            return;
        }
        while !self.unsent.is_empty() {
            let n = self.unsent.len().min(self.config.mss.max(1));
            let chunk: Vec<u8> = self.unsent.drain(..n).collect();
            self.queue(now, TcpFlags::PSH, chunk);
        }
        if self.fin_requested && !self.fin_sent {
            self.fin_sent = true;
            self.queue(now, TcpFlags::FIN, Vec::new());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv6Addr;

    fn addr(last: u16, port: u16) -> SocketAddrV6 {
        SocketAddrV6::new(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, last), port, 0, 0)
    }

    /// Moves segments between two endpoints until quiet, dropping those `lose` picks.
    fn pump(
        now: Instant,
        a: &mut TcpEndpoint,
        b: &mut TcpEndpoint,
        lose: &mut dyn FnMut(&TcpSegment) -> bool,
    ) {
        for _ in 0..100 {
            a.flush(now);
            b.flush(now);
            let mut moved = false;
            while let Some(s) = a.poll_segment() {
                moved = true;
                if !lose(&s) {
                    b.handle_segment(now, a.local(), &s);
                }
            }
            while let Some(s) = b.poll_segment() {
                moved = true;
                if !lose(&s) {
                    a.handle_segment(now, b.local(), &s);
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn data(events: &mut TcpEndpoint) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(e) = events.poll_event() {
            if let TcpEvent::Data(d) = e {
                out.extend(d);
            }
        }
        out
    }

    #[test]
    fn handshake_data_and_close_without_loss() {
        let t = Instant::ZERO;
        let mut client = TcpEndpoint::connect(
            TcpConfig {
                mss: 3,
                ..TcpConfig::default()
            },
            t,
            addr(1, 50_000),
            addr(2, 60_000),
            1000,
        );
        let mut server = TcpEndpoint::listen(TcpConfig::default(), addr(2, 60_000), 0xffff_fff0);
        pump(t, &mut client, &mut server, &mut |_| false);
        assert_eq!(client.poll_event(), Some(TcpEvent::Connected));
        assert_eq!(server.poll_event(), Some(TcpEvent::Connected));
        client.send(b"hello world");
        pump(t, &mut client, &mut server, &mut |_| false);
        // The server's sequence numbers wrap around 2^32 on the way back.
        server.send(b"0123456789abcdefghij");
        pump(t, &mut client, &mut server, &mut |_| false);
        assert_eq!(data(&mut server), b"hello world");
        assert_eq!(data(&mut client), b"0123456789abcdefghij");
        assert_eq!(client.poll_timeout(), None, "everything acknowledged");
        client.close();
        pump(t, &mut client, &mut server, &mut |_| false);
        assert_eq!(server.poll_event(), Some(TcpEvent::PeerClosed));
        server.close();
        pump(t, &mut client, &mut server, &mut |_| false);
        assert!(client.is_closed() && server.is_closed());
    }

    #[test]
    fn lost_segments_are_retransmitted_in_order() {
        let mut now = Instant::ZERO;
        let mut client = TcpEndpoint::connect(
            TcpConfig::default(),
            now,
            addr(1, 50_000),
            addr(2, 60_000),
            7,
        );
        let mut server = TcpEndpoint::listen(TcpConfig::default(), addr(2, 60_000), 9);
        // Lose the first SYN-ACK and every first copy of a data segment.
        let mut seen = std::collections::BTreeSet::new();
        let mut lose = |s: &TcpSegment| {
            let key = (s.src_port, s.seq, s.flags.0 & 0x03, s.payload.len());
            (s.flags.contains(TcpFlags::SYN) || !s.payload.is_empty()) && seen.insert(key)
        };
        let mut drive = |now: &mut Instant, client: &mut TcpEndpoint, server: &mut TcpEndpoint| {
            for _ in 0..20 {
                pump(*now, client, server, &mut lose);
                let next = [client.poll_timeout(), server.poll_timeout()]
                    .into_iter()
                    .flatten()
                    .min();
                let Some(next) = next else { break };
                *now = next;
                client.handle_timeout(*now);
                server.handle_timeout(*now);
            }
        };
        client.send(b"first ");
        drive(&mut now, &mut client, &mut server);
        client.send(b"second");
        drive(&mut now, &mut client, &mut server);
        assert_eq!(data(&mut server), b"first second");
        assert!(client.retransmitted_segments() >= 2);
    }

    #[test]
    fn gives_up_after_the_last_retransmission() {
        let mut now = Instant::ZERO;
        let mut client = TcpEndpoint::connect(
            TcpConfig::default(),
            now,
            addr(1, 50_000),
            addr(2, 60_000),
            7,
        );
        for _ in 0..20 {
            while client.poll_segment().is_some() {}
            let Some(next) = client.poll_timeout() else {
                break;
            };
            now = next;
            client.handle_timeout(now);
        }
        assert_eq!(client.poll_event(), Some(TcpEvent::TimedOut));
        assert!(client.is_closed());
    }
}
