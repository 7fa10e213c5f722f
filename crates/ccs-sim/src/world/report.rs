//! What the world tells its driver while it runs ([`WorldEvent`], [`FrameRecord`]) and at the
//! end ([`SimReport`]).

use core::fmt;
use core::net::SocketAddrV6;
use std::collections::BTreeMap;

use ccs_proto::hardware::{HardwareCommand, Percent};
use ccs_proto::sdp::{SdpClientError, SeccEndpoint};
use ccs_proto::session::{Outcome, Phase, SessionEvent};
use ccs_proto::slac::SlacEvent;
use ccs_proto::time::Instant;

/// Which host something happened at.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum Side {
    /// The car.
    Ev,
    /// Charger number `n` (in the order of [`super::WorldConfig::chargers`]).
    Evse(usize),
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ev => f.write_str("EV"),
            Self::Evse(0) => f.write_str("EVSE"),
            Self::Evse(n) => write!(f, "EVSE{n}"),
        }
    }
}

/// Why the car was asked to stop charging.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum StopReason {
    /// The configured charging time has passed.
    ChargeTimeReached,
    /// The battery reached the configured SoC.
    TargetSocReached(Percent),
    /// The user asked ([`super::World::request_user_stop`], e.g. the dashboard).
    UserRequest,
}

/// Something that happened in the world, for live displays and logs.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum WorldEventKind {
    /// A SLAC machine reported.
    Slac(SlacEvent),
    /// The car's SDP client found the charger.
    SdpDiscovered(SeccEndpoint),
    /// The charger's SDP server answered a request.
    SdpAnswered {
        /// Who asked.
        to: SocketAddrV6,
        /// The TCP port announced.
        port: u16,
    },
    /// The TCP handshake completed.
    TcpConnected {
        /// This host's end.
        local: SocketAddrV6,
        /// The peer's end.
        remote: SocketAddrV6,
    },
    /// The TLS handshake completed (what was negotiated).
    TlsEstablished(String),
    /// The TLS channel failed (handshake refused, bad record).
    TlsFailed(String),
    /// The TCP connection is gone (closed by both sides, reset or timed out).
    TcpClosed,
    /// A session event (phase, message, values, finish).
    Session(SessionEvent),
    /// A session commanded the hardware.
    Command(HardwareCommand),
    /// The world asked the car to stop charging.
    StopRequested(StopReason),
}

/// A [`WorldEventKind`] with where and when.
#[derive(Clone, Debug, PartialEq)]
pub struct WorldEvent {
    /// Virtual time.
    pub at: Instant,
    /// The host.
    pub side: Side,
    /// What happened.
    pub kind: WorldEventKind,
}

/// Whether a host sent or received a frame.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Direction {
    /// The host put the frame on its interface.
    Sent,
    /// The frame arrived at the host's interface.
    Received,
}

/// One Ethernet frame at one host's interface, as a capture on that interface would record
/// it (HomePlug MMEs to and from the modem, SLAC, IPv6 with UDP/TCP).
#[derive(Clone, Copy, Debug)]
pub struct FrameRecord<'a> {
    /// Virtual time.
    pub at: Instant,
    /// The host whose interface it is.
    pub side: Side,
    /// Sent or received by that host.
    pub direction: Direction,
    /// The whole Ethernet frame.
    pub frame: &'a [u8],
}

/// Why the world stopped before both sessions finished.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum WorldFailure {
    /// The car's SLAC gave up; the text is the SLAC error.
    Slac(String),
    /// The car's SDP client gave up.
    Sdp(SdpClientError),
    /// Virtual time ran past the configured limit.
    TimeLimit(Instant),
    /// The step bound was reached.
    StepLimit(u64),
}

impl fmt::Display for WorldFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Slac(e) => write!(f, "SLAC failed: {e}"),
            Self::Sdp(e) => write!(f, "SDP failed: {e}"),
            Self::TimeLimit(at) => write!(
                f,
                "timeout: virtual time limit reached at {:.3} s",
                at.total_millis() as f64 / 1000.0
            ),
            Self::StepLimit(n) => write!(f, "step limit of {n} reached"),
        }
    }
}

/// A phase change of one side.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PhaseRecord {
    /// Virtual time.
    pub at: Instant,
    /// The side.
    pub side: Side,
    /// The phase entered.
    pub phase: Phase,
}

/// How many V2G messages each side sent, in total and by name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MessageCounts {
    /// Messages the car's session sent.
    pub ev_sent: u32,
    /// Messages the charger's session sent.
    pub evse_sent: u32,
    /// Every message name with how often it was sent (by either side).
    pub by_name: BTreeMap<&'static str, u32>,
}

/// The result of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct SimReport {
    /// The seed the run used.
    pub seed: u64,
    /// How the car's session ended (`None`: it never finished).
    pub ev_outcome: Option<Outcome>,
    /// How the matched charger's session ended (`None`: it never finished, or none matched).
    pub evse_outcome: Option<Outcome>,
    /// Why the world stopped early, if it did.
    pub failure: Option<WorldFailure>,
    /// The charger the car paired with.
    pub matched_charger: Option<usize>,
    /// When SLAC paired (car side).
    pub slac_paired_at: Option<Instant>,
    /// When SDP found the charger.
    pub sdp_discovered_at: Option<Instant>,
    /// When the car's TCP connection came up.
    pub tcp_connected_at: Option<Instant>,
    /// Every phase change of both sessions.
    pub phases: Vec<PhaseRecord>,
    /// Virtual time at the end.
    pub ended_at: Instant,
    /// State of charge at the start.
    pub soc_start: Percent,
    /// State of charge at the end.
    pub soc_end: Percent,
    /// Energy stored in the battery, Wh.
    pub energy_wh: f64,
    /// The highest charging current seen, A.
    pub max_current: f32,
    /// Message counts.
    pub messages: MessageCounts,
    /// Frames put on the line by all hosts.
    pub frames_sent: u64,
    /// TCP segments sent again after a timeout (both ends).
    pub tcp_retransmissions: u64,
    /// The largest voltage step across the contactors when they closed (precharge check).
    pub contactor_close_step: Option<f32>,
}

impl SimReport {
    /// True only if nothing failed and both sessions ended with
    /// [`Outcome::Completed`].
    pub fn completed(&self) -> bool {
        self.failure.is_none()
            && self.ev_outcome == Some(Outcome::Completed)
            && self.evse_outcome == Some(Outcome::Completed)
    }

    /// When `side` first entered `phase`.
    pub fn phase_at(&self, side: Side, phase: Phase) -> Option<Instant> {
        self.phases
            .iter()
            .find(|p| p.side == side && p.phase == phase)
            .map(|p| p.at)
    }
}
