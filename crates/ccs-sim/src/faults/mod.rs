//! The fault catalogue: every way a charging session breaks in the field, as a named case
//! that runs in the [`crate::world`] under the virtual clock, with what our session must do.
//!
//! A [`FaultCase`] names the session under test (our car or our charger), the injection
//! (the peer's session tampering with its messages through [`peer::TamperedSession`], SLAC
//! frames lost or doubled on the line, or a host event at a point of the session: a TCP
//! reset, a modem reboot, a cut or hostile V2GTP stream, a lost or silent hardware adapter, a
//! stop request) and the [`Expected`] reaction. [`run`] runs it and returns a [`FaultRun`]
//! with the report, the [`audit::SafetyAudit`] of the shutdown order and the physics, and
//! [`FaultRun::check`], which says what (if anything) went against the expectation.
//!
//! ```
//! use ccs_sim::faults;
//!
//! let case = faults::find("pyplc-02-cable-check-failed").expect("in the catalogue");
//! let run = faults::run(&case, &faults::FaultSetup::new(&case, 1), &mut |_, _| {})?;
//! assert!(run.check().is_ok(), "{:?}", run.check());
//! assert!(!run.session_completed()); // the car stopped, safely, blaming the charger
//! # Ok::<(), ccs_sim::world::WorldConfigError>(())
//! ```
//!
//! pyPLC's sixteen cases (`reference/pyplc-behaviour.md` §12) keep their numbers; the names
//! are stable, `ccsplc sim --fault NAME` runs any of them and `--list-faults` lists them.

pub mod audit;
mod catalogue;
pub mod hostile;
pub mod peer;
pub mod transcript;
pub mod wire;

use std::cell::RefCell;
use std::rc::Rc;

use ccs_proto::hardware::{HardwareFault, HardwareFaultKind};
use ccs_proto::session::{
    EvccConfig, EvccSession, Outcome, Phase, Protocol, ProtocolOffer, Role, SeccConfig,
    SeccSession, SessionError, SessionEvent, V2gSession,
};
use ccs_proto::time::{Duration, Instant};

pub use catalogue::catalogue;

use crate::world::{
    FrameAction, SessionSlot, Side, SimReport, StopCondition, World, WorldConfig, WorldConfigError,
    WorldEvent, WorldEventKind, WorldFailure,
};
use audit::SafetyAudit;
use peer::{PeerLog, SharedPeerLog, Tamper, TamperedSession};

/// Whose fault a failure is, as [`SessionError`] says it.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum Blame {
    /// [`SessionError::InvalidMessage`].
    InvalidMessage,
    /// [`SessionError::PeerMisbehaved`].
    PeerMisbehaved,
    /// [`SessionError::PeerIncompatible`].
    PeerIncompatible,
    /// [`SessionError::PeerRefused`].
    PeerRefused,
    /// [`SessionError::Timeout`].
    Timeout,
    /// [`SessionError::ConnectionLost`].
    ConnectionLost,
    /// [`SessionError::Hardware`].
    Hardware,
    /// [`SessionError::Physical`].
    Physical,
    /// [`SessionError::Config`] or anything newer.
    Other,
}

impl Blame {
    /// The blame of `error`.
    pub fn of(error: &SessionError) -> Self {
        match error {
            SessionError::InvalidMessage(_) => Self::InvalidMessage,
            SessionError::PeerMisbehaved(_) => Self::PeerMisbehaved,
            SessionError::PeerIncompatible(_) => Self::PeerIncompatible,
            SessionError::PeerRefused(_) => Self::PeerRefused,
            SessionError::Timeout(_) => Self::Timeout,
            SessionError::ConnectionLost(_) => Self::ConnectionLost,
            SessionError::Hardware(_) => Self::Hardware,
            SessionError::Physical(_) => Self::Physical,
            _ => Self::Other,
        }
    }
}

/// What the session under test must do.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum Expected {
    /// Ride through: the session ends normally ([`Outcome::Completed`]), including a normal
    /// stop the fault asked for.
    Completes,
    /// Fail safely with one of these blames.
    Fails(&'static [Blame]),
    /// The link never comes up (SLAC or SDP gives up): no session, nothing powered.
    LinkFails,
}

/// How SLAC frames of one type fare on the line.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum SlacFrameFault {
    /// The first `n` are lost.
    LoseFirst(u32),
    /// All are lost.
    LoseAll,
    /// Every one arrives twice.
    DuplicateAll,
}

/// Something done to a host ([`Injection::At`]).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum HostEvent {
    /// The host aborts its TCP connection (RST).
    TcpReset,
    /// The host's modem reboots.
    ModemReboot,
    /// The host sends a V2GTP header and half the payload, then closes.
    StreamCut,
    /// The host sends a V2GTP header announcing 2 GB.
    Oversize,
    /// The host sends a V2GTP header with a wrong protocol version.
    BadHeader,
    /// The host sends a well-framed EXI message of random bytes.
    Garbage,
    /// The host's hardware adapter reports its connection lost.
    AdapterLost,
    /// The host's hardware stops reporting without saying so.
    AdapterSilent,
    /// The user stops charging at the host.
    StopRequest,
    /// The charger's power stage sticks (ignores its session and the CP interlock) and the
    /// user stops charging at `on` (the car): the current does not fall after CP state B.
    ChargerKeepsCurrent,
}

/// When an [`Injection::At`] fires: `delay` after `side` entered `phase`.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Trigger {
    /// Whose phase.
    pub side: Side,
    /// The phase.
    pub phase: Phase,
    /// How long after entering it.
    pub delay: Duration,
}

/// What goes wrong.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Injection {
    /// Nothing (the good case).
    None,
    /// The charger's session misbehaves on the wire (our car under test).
    Charger(Tamper),
    /// The car's session misbehaves on the wire (our charger under test).
    Car(Tamper),
    /// SLAC frames of one MMTYPE are lost or doubled on the line.
    Slac {
        /// The HomePlug MMTYPE.
        mmtype: u16,
        /// What happens to them.
        fault: SlacFrameFault,
    },
    /// Something happens to host `on` at `trigger`.
    At {
        /// When.
        trigger: Trigger,
        /// To which host.
        on: Side,
        /// What.
        event: HostEvent,
    },
}

/// One named case; see the module docs.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultCase {
    /// The stable name (`ccsplc sim --fault NAME`).
    pub name: String,
    /// One line saying what happens.
    pub description: String,
    /// Whose reaction the case judges: our car ([`Role::Evcc`]) or our charger.
    pub under_test: Role,
    /// The protocol the car offers and the charger accepts (the names of cases other than
    /// DIN's start with `iso2-` or `iso20-`).
    pub protocol: Protocol,
    /// The fault.
    pub injection: Injection,
    /// The reaction the session under test must show.
    pub expected: Expected,
    /// Charger under test: the response (name, response code name) it must have sent to the
    /// car.
    pub answer: Option<(&'static str, &'static str)>,
    /// The peer makes the car open its contactors under load (the charger's current does not
    /// fall): the audit must see it, and the car must say so (`contactors opened under
    /// load`) instead of proceeding silently; the stuck supply is the charger's fault.
    pub expects_open_under_load: bool,
}

/// The case of this name.
pub fn find(name: &str) -> Option<FaultCase> {
    catalogue().into_iter().find(|c| c.name == name)
}

/// The case `name` for `protocol` (`ccsplc sim --protocol iso2 --fault tcp-reset-charging`):
/// the case of that exact name if it speaks `protocol`, else the one named with the
/// protocol's prefix (`iso2-tcp-reset-charging`).
pub fn find_for(protocol: Protocol, name: &str) -> Option<FaultCase> {
    let catalogue = catalogue();
    let exact = catalogue
        .iter()
        .find(|c| c.name == name && c.protocol == protocol);
    let prefixed = format!("{}{name}", protocol_prefix(protocol));
    exact
        .or_else(|| catalogue.iter().find(|c| c.name == prefixed))
        .cloned()
}

/// The prefix of the case names of `protocol` (empty for DIN, the first suite).
pub fn protocol_prefix(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Din70121 => "",
        Protocol::Iso15118_2 => "iso2-",
        Protocol::Iso15118_20Dc | Protocol::Iso15118_20DcBpt => "iso20-",
        _ => "other-",
    }
}

/// The world and sessions a case runs with.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct FaultSetup {
    /// The world (seed, link, physics, limits).
    pub world: WorldConfig,
    /// Our car's session.
    pub evcc: EvccConfig,
    /// Our charger's session.
    pub secc: SeccConfig,
}

impl FaultSetup {
    /// The usual setup for `case`: the default world over the simulated powerline with
    /// `seed`, 20 s of charging, and limits generous enough for the longest timer involved
    /// (`V2G_SECC_Sequence_Timeout`, 60 s) yet bounded.
    pub fn new(case: &FaultCase, seed: u64) -> Self {
        let world = WorldConfig {
            seed,
            stop: StopCondition::after(Duration::from_secs(20)),
            time_limit: Duration::from_secs(240),
            max_steps: 2_000_000,
            ..WorldConfig::default()
        };
        let mut evcc = EvccConfig::default();
        evcc.protocols = vec![ProtocolOffer {
            protocol: case.protocol,
            priority: 1,
            schema_id: 1,
        }];
        let mut secc = SeccConfig::default();
        secc.protocols = vec![case.protocol];
        // The simulated link carries no TLS; ISO 15118-20 over TLS 1.3 is tested in ccs-linux.
        evcc.iso20.allow_without_tls = true;
        secc.iso20.allow_without_tls = true;
        Self { world, evcc, secc }
    }
}

/// The result of running a case.
#[derive(Clone, Debug)]
pub struct FaultRun {
    /// The case.
    pub case: FaultCase,
    /// The world's report.
    pub report: SimReport,
    /// The safety audit.
    pub audit: SafetyAudit,
    /// What the misbehaving peer saw (tampering cases).
    pub peer: PeerLog,
    /// Whether the fault was injected (the trigger was reached, the tamper fired, a frame
    /// was hit).
    pub injected: bool,
    /// Virtual time at the end.
    pub ended_at: Instant,
}

impl FaultRun {
    /// The outcome of the session under test (`None`: it never started or never ended).
    pub fn outcome(&self) -> Option<&Outcome> {
        match self.case.under_test {
            Role::Evcc => self.report.ev_outcome.as_ref(),
            Role::Secc => self.report.evse_outcome.as_ref(),
        }
    }

    /// Whether the session under test ended normally and the world did not fail.
    pub fn session_completed(&self) -> bool {
        self.report.failure.is_none() && self.outcome() == Some(&Outcome::Completed)
    }

    /// The reason in words: the outcome of the session under test, or the world's failure.
    pub fn reason(&self) -> String {
        let side = match self.case.under_test {
            Role::Evcc => "car",
            Role::Secc => "charger",
        };
        match (self.outcome(), &self.report.failure) {
            (_, Some(f)) => f.to_string(),
            (Some(Outcome::Completed), None) => format!("the {side}'s session completed"),
            (Some(Outcome::Failed(e)), None) => format!("the {side}'s session failed: {e}"),
            (None, None) => format!("the {side}'s session never ended"),
        }
    }

    /// Everything that went against the case's expectation, the safety rules, or the bounds
    /// (a hang); `Ok` if nothing did.
    pub fn check(&self) -> Result<(), Vec<String>> {
        let mut problems = self.audit.violations.clone();
        if self.case.expects_open_under_load {
            let before = problems.len();
            problems.retain(|v| !v.contains(" under "));
            if problems.len() == before {
                problems.push("the contactors never opened under load".into());
            }
            problems.retain(|v| !v.contains("power supply is still on"));
            if !self.reason().contains("contactors opened under load") {
                problems.push(format!(
                    "the car did not say it opened under load: {}",
                    self.reason()
                ));
            }
        }
        if !self.injected {
            problems.push("the fault was never injected".into());
        }
        if let Some(WorldFailure::TimeLimit(_) | WorldFailure::StepLimit(_)) = &self.report.failure
        {
            problems.push(format!("hang: {}", self.reason()));
        }
        match (self.case.expected, self.outcome(), &self.report.failure) {
            (Expected::Completes, _, _) if self.session_completed() => {}
            (Expected::Fails(blames), Some(Outcome::Failed(e)), None)
                if blames.contains(&Blame::of(e)) => {}
            (Expected::LinkFails, _, Some(WorldFailure::Slac(_) | WorldFailure::Sdp(_))) => {}
            (expected, _, _) => {
                problems.push(format!("expected {expected:?}, but {}", self.reason()))
            }
        }
        if let Some((name, code)) = self.case.answer {
            let sent = self
                .peer
                .received
                .iter()
                .any(|o| o.name == name && o.response_code.as_deref() == Some(code));
            if !sent {
                problems.push(format!("the charger never answered {name} with {code}"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// The V2GTP bytes a hostile host writes for `event` (none for non-stream events).
fn stream_bytes(event: HostEvent, seed: u64) -> Option<(Vec<u8>, bool)> {
    // ISO 15118-2 §7.8.3: version 0x01, inverse 0xFE, payload type, length.
    let header = |version: u8, len: u32| {
        let mut h = vec![version, !version, 0x80, 0x01];
        h.extend_from_slice(&len.to_be_bytes());
        h
    };
    let mut noise = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut garbage = |n: usize| {
        (0..n)
            .map(|_| {
                noise ^= noise << 13;
                noise ^= noise >> 7;
                noise ^= noise << 17;
                (noise >> 24) as u8
            })
            .collect::<Vec<u8>>()
    };
    Some(match event {
        HostEvent::StreamCut => {
            let mut b = header(0x01, 64);
            b.extend(garbage(20));
            (b, true)
        }
        HostEvent::Oversize => (header(0x01, 0x7fff_fff0), false),
        HostEvent::BadHeader => {
            let mut b = header(0x02, 8);
            b.extend(garbage(8));
            (b, false)
        }
        HostEvent::Garbage => {
            let mut b = header(0x01, 24);
            // 0x80 0x9a: a DIN V2G_Message header start, then noise.
            b.extend([0x80, 0x9a]);
            b.extend(garbage(22));
            (b, false)
        }
        _ => return None,
    })
}

fn fire(world: &mut World, on: Side, event: HostEvent, seed: u64) -> bool {
    if let Some((bytes, close)) = stream_bytes(event, seed) {
        return world.inject_stream_bytes(on, &bytes, close);
    }
    match event {
        HostEvent::TcpReset => world.reset_connection(on),
        HostEvent::ModemReboot => world.reboot_modem(on),
        HostEvent::AdapterLost => {
            world.hardware_fault(
                on,
                HardwareFault {
                    adapter: "mqtt".into(),
                    kind: HardwareFaultKind::ConnectionLost,
                },
            );
            true
        }
        HostEvent::AdapterSilent => {
            world.set_measurements_blocked(on, true);
            true
        }
        HostEvent::StopRequest => {
            world.stop_request(on);
            true
        }
        HostEvent::ChargerKeepsCurrent => {
            world.set_charger_supply_stuck(true);
            world.stop_request(on);
            true
        }
        _ => false,
    }
}

/// Runs `case` with `setup`; `on_event` sees every world event (for a live display). Fails
/// only if `setup.world` cannot be built.
pub fn run(
    case: &FaultCase,
    setup: &FaultSetup,
    on_event: &mut dyn FnMut(&World, &WorldEvent),
) -> Result<FaultRun, WorldConfigError> {
    let log: SharedPeerLog = Rc::new(RefCell::new(PeerLog::default()));
    let (evcc, secc) = (setup.evcc.clone(), setup.secc.clone());
    let injection = case.injection.clone();
    let protocol = case.protocol;
    let peer_log = Rc::clone(&log);
    let sessions = move |slot: &SessionSlot| -> Box<dyn V2gSession> {
        let session: Box<dyn V2gSession> = match slot.side {
            Side::Ev => Box::new(EvccSession::new(evcc.clone(), slot.mac.0, slot.now)),
            Side::Evse(_) => {
                let mut id = [0u8; 8];
                id.copy_from_slice(&slot.entropy[..8]);
                Box::new(SeccSession::new(secc.clone(), id, slot.now))
            }
        };
        match (&injection, slot.side) {
            (Injection::Charger(t), Side::Evse(0)) | (Injection::Car(t), Side::Ev) => Box::new(
                TamperedSession::new(session, protocol, t.clone(), Rc::clone(&peer_log)),
            ),
            _ => session,
        }
    };
    let mut world = World::new(setup.world.clone(), Box::new(sessions))?;
    let slac_hits = Rc::new(RefCell::new(0u32));
    if let Injection::Slac { mmtype, fault } = case.injection {
        let hits = Rc::clone(&slac_hits);
        world.set_frame_filter(Box::new(move |record| {
            let is_it = record.frame.get(12..14) == Some(&[0x88, 0xe1][..])
                && record.frame.get(15..17) == Some(&mmtype.to_le_bytes()[..]);
            if !is_it {
                return FrameAction::Pass;
            }
            let mut n = hits.borrow_mut();
            *n += 1;
            match fault {
                SlacFrameFault::LoseFirst(k) if *n <= k => FrameAction::Drop,
                SlacFrameFault::LoseFirst(_) => FrameAction::Pass,
                SlacFrameFault::LoseAll => FrameAction::Drop,
                SlacFrameFault::DuplicateAll => FrameAction::Duplicate,
            }
        }));
    }
    let mut audit = SafetyAudit::default();
    let mut due: Option<Instant> = None;
    let mut fired = false;
    while world.step() {
        while let Some(event) = world.poll_event() {
            audit.event(&event, world.plant());
            if let Injection::At { trigger, .. } = &case.injection
                && due.is_none()
                && event.side == trigger.side
                && event.kind == WorldEventKind::Session(SessionEvent::PhaseChanged(trigger.phase))
            {
                due = Some(event.at + trigger.delay);
            }
            on_event(&world, &event);
        }
        audit.physics(world.now(), world.plant());
        if let Injection::At { on, event, .. } = case.injection
            && !fired
            && due.is_some_and(|at| world.now() >= at)
        {
            fired = fire(&mut world, on, event, setup.world.seed);
            if !fired {
                // Nothing to act on (no connection yet, no modem): try again next step.
                due = Some(world.now());
            }
        }
    }
    while let Some(event) = world.poll_event() {
        audit.event(&event, world.plant());
        on_event(&world, &event);
    }
    let report = world.report();
    audit.finish(world.plant(), report.ev_outcome.is_some());
    let peer = log.borrow().clone();
    let injected = match case.injection {
        Injection::None => true,
        Injection::Charger(_) | Injection::Car(_) => peer.fired,
        Injection::Slac { .. } => *slac_hits.borrow() > 0,
        Injection::At { .. } => fired,
    };
    Ok(FaultRun {
        case: case.clone(),
        ended_at: world.now(),
        report,
        audit,
        peer,
        injected,
    })
}
