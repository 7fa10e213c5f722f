//! One simulated host (the car's or a charger's controller): its MAC and link-local address,
//! its SLAC machine, its SDP client or server, its TCP endpoint with the V2GTP deframer, and
//! its V2G session. The world moves data between the parts; this module holds them.

use core::net::{Ipv6Addr, SocketAddrV6};
use std::collections::{BTreeMap, VecDeque};

use ccs_proto::homeplug::MacAddress;
use ccs_proto::sdp::{SdpClient, SdpServer};
use ccs_proto::session::{Disconnect, Outcome, V2gSession};
use ccs_proto::slac::{EvSlac, EvseSlac, SlacEvent};
use ccs_proto::time::{Duration, Instant};
use ccs_proto::v2gtp::{Deframer, Message};

use super::SessionSlot;
use super::report::Side;
use super::tcp::TcpEndpoint;

/// The SLAC machine of a host, if SLAC runs.
#[derive(Debug)]
pub(crate) enum Slac {
    Ev(EvSlac),
    Evse(EvseSlac),
    /// `--no-slac`: the link counts as paired.
    Off,
}

impl Slac {
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Self::Ev(m) => m.poll_timeout(),
            Self::Evse(m) => m.poll_timeout(),
            Self::Off => None,
        }
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        match self {
            Self::Ev(m) => m.handle_timeout(now),
            Self::Evse(m) => m.handle_timeout(now),
            Self::Off => {}
        }
    }

    /// Feeds a received frame; frames that are not SLAC or not for us are the machine's to
    /// ignore, and malformed ones are the sender's fault: dropped.
    pub(crate) fn handle_frame(&mut self, now: Instant, frame: &[u8]) {
        let _ = match self {
            Self::Ev(m) => m.handle_frame(now, frame),
            Self::Evse(m) => m.handle_frame(now, frame),
            Self::Off => Ok(()),
        };
    }

    pub(crate) fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        match self {
            Self::Ev(m) => m.poll_transmit(),
            Self::Evse(m) => m.poll_transmit(),
            Self::Off => None,
        }
    }

    pub(crate) fn poll_event(&mut self) -> Option<SlacEvent> {
        match self {
            Self::Ev(m) => m.poll_event(),
            Self::Evse(m) => m.poll_event(),
            Self::Off => None,
        }
    }
}

/// SDP on a host: the car's client (with its UDP port and when to start it) or the charger's
/// server.
#[derive(Debug)]
pub(crate) enum Sdp {
    Client {
        client: SdpClient,
        port: u16,
        start_at: Option<Instant>,
    },
    Server(SdpServer),
}

/// What waits for the session, in order, each at the time the host gets to it.
#[derive(Debug)]
pub(crate) enum Inbound {
    Message(Message),
    Disconnected(Disconnect),
}

/// A host; see the module docs.
pub(crate) struct Host {
    pub(crate) side: Side,
    pub(crate) mac: MacAddress,
    pub(crate) ip: Ipv6Addr,
    pub(crate) slac: Slac,
    pub(crate) sdp: Sdp,
    pub(crate) tcp: Option<TcpEndpoint>,
    /// The car's local port for the TCP connection, or the charger's listening port.
    pub(crate) tcp_port: u16,
    pub(crate) tcp_closed_reported: bool,
    /// The secure channel over `tcp`, when the world runs TLS.
    pub(crate) tls: Option<Box<dyn super::StreamSecurity>>,
    /// Whether the channel's establishment or failure was handled.
    pub(crate) tls_reported: bool,
    pub(crate) deframer: Deframer,
    /// The session, made by the world's factory when the TCP connection comes up (a real
    /// SECC starts one per connection; its V2G_SECC_Sequence_Timeout runs from then).
    pub(crate) session: Option<Box<dyn V2gSession>>,
    /// What the factory is told when it makes the session.
    pub(crate) slot: SessionSlot,
    pub(crate) inbox: VecDeque<(Instant, Inbound)>,
    /// How long the host takes before its session sees a message (processing, think time).
    pub(crate) delay: (Duration, Duration),
    /// IPv6 → MAC, learned from received frames (the simulation's neighbour cache).
    pub(crate) neighbours: BTreeMap<Ipv6Addr, MacAddress>,
    pub(crate) outcome: Option<Outcome>,
    pub(crate) disconnect_delivered: bool,
    /// The host's hardware adapters went silent (fault injection).
    pub(crate) measurements_blocked: bool,
}

impl core::fmt::Debug for Host {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Host")
            .field("side", &self.side)
            .field("mac", &self.mac)
            .field("tcp", &self.tcp.as_ref().map(TcpEndpoint::state))
            .field("outcome", &self.outcome)
            .finish_non_exhaustive()
    }
}

impl Host {
    /// The earliest deadline of anything in the host.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let sdp = match &self.sdp {
            Sdp::Client {
                client, start_at, ..
            } => start_at.or_else(|| client.poll_timeout()),
            Sdp::Server(_) => None,
        };
        [
            self.slac.poll_timeout(),
            sdp,
            self.tcp.as_ref().and_then(TcpEndpoint::poll_timeout),
            self.session.as_ref().and_then(|s| s.poll_timeout()),
            self.inbox.front().map(|(at, _)| *at),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The host's TCP endpoint address.
    pub(crate) fn tcp_address(&self) -> SocketAddrV6 {
        SocketAddrV6::new(self.ip, self.tcp_port, 0, 0)
    }

    /// Whether the session exists and has finished.
    pub(crate) fn session_finished(&self) -> bool {
        self.session.as_ref().is_some_and(|s| s.is_finished())
    }

    /// Queues something for the session no earlier than anything queued before it.
    pub(crate) fn enqueue(&mut self, at: Instant, item: Inbound) {
        let at = self.inbox.back().map_or(at, |(last, _)| at.max(*last));
        self.inbox.push_back((at, item));
    }
}
