//! What each side of a good session puts on the wire, per protocol: our car against our
//! charger in the world, every V2GTP payload each sent, in order. The hostile script
//! ([`super::hostile`]) picks its ISO 15118-2 and ISO 15118-20 messages from here, so every
//! kind of message the protocol's DC session uses comes with real field values.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::OnceLock;

use ccs_proto::hardware::{HardwareCommand, HardwareFault, Measurement};
use ccs_proto::session::{
    Disconnect, EvccSession, Protocol, Role, SeccSession, SessionEvent, Transmit, V2gSession,
};
use ccs_proto::time::{Duration, Instant};
use ccs_proto::v2gtp::PayloadType;

use super::wire::PeerMessage;
use super::{FaultCase, FaultSetup, Injection};
use crate::world::{SessionSlot, Side, StopCondition, World};

/// At most this many messages of one name are kept (the charging loop repeats itself).
const PER_NAME: usize = 3;

/// One V2GTP payload as sent.
pub type Sent = (PayloadType, Vec<u8>);

/// Both sides' messages of one good session (the app handshake first).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Transcript {
    /// The car's requests.
    pub car: Vec<Sent>,
    /// The charger's responses.
    pub charger: Vec<Sent>,
}

/// The transcript of a good session in `protocol` (run once per process, then cached).
pub fn good_session(protocol: Protocol) -> &'static Transcript {
    static DIN: OnceLock<Transcript> = OnceLock::new();
    static ISO2: OnceLock<Transcript> = OnceLock::new();
    static ISO20: OnceLock<Transcript> = OnceLock::new();
    let cell = match protocol {
        Protocol::Iso15118_2 => &ISO2,
        Protocol::Iso15118_20Dc | Protocol::Iso15118_20DcBpt => &ISO20,
        _ => &DIN,
    };
    cell.get_or_init(|| record(protocol))
}

fn record(protocol: Protocol) -> Transcript {
    let case = FaultCase {
        name: "good-case".into(),
        description: String::new(),
        under_test: Role::Evcc,
        protocol,
        injection: Injection::None,
        expected: super::Expected::Completes,
        answer: None,
        expects_open_under_load: false,
    };
    let mut setup = FaultSetup::new(&case, 1);
    setup.world.stop = StopCondition::after(Duration::from_secs(3));
    let car: Rc<RefCell<Vec<Sent>>> = Rc::default();
    let charger: Rc<RefCell<Vec<Sent>>> = Rc::default();
    let (car_log, charger_log) = (Rc::clone(&car), Rc::clone(&charger));
    let (evcc, secc) = (setup.evcc.clone(), setup.secc.clone());
    let sessions = move |slot: &SessionSlot| -> Box<dyn V2gSession> {
        match slot.side {
            Side::Ev => Box::new(Recorder {
                inner: Box::new(EvccSession::new(evcc.clone(), slot.mac.0, slot.now)),
                log: Rc::clone(&car_log),
            }),
            Side::Evse(_) => {
                let mut id = [0u8; 8];
                id.copy_from_slice(&slot.entropy[..8]);
                Box::new(Recorder {
                    inner: Box::new(SeccSession::new(secc.clone(), id, slot.now)),
                    log: Rc::clone(&charger_log),
                })
            }
        }
    };
    if let Ok(mut world) = World::new(setup.world, Box::new(sessions)) {
        while world.step() {
            while world.poll_event().is_some() {}
        }
    }
    Transcript {
        car: distinct(protocol, &car.borrow()),
        charger: distinct(protocol, &charger.borrow()),
    }
}

/// `sent` with at most [`PER_NAME`] messages of each name (the handshake and anything
/// undecodable count under one name).
fn distinct(protocol: Protocol, sent: &[Sent]) -> Vec<Sent> {
    let mut seen: std::collections::BTreeMap<&'static str, usize> = Default::default();
    sent.iter()
        .filter(|(payload_type, payload)| {
            let name = PeerMessage::decode(protocol, *payload_type, payload)
                .and_then(|m| m.name())
                .unwrap_or("");
            let n = seen.entry(name).or_default();
            *n += 1;
            *n <= PER_NAME
        })
        .cloned()
        .collect()
}

/// A session that logs what it sends.
struct Recorder {
    inner: Box<dyn V2gSession>,
    log: Rc<RefCell<Vec<Sent>>>,
}

impl V2gSession for Recorder {
    fn role(&self) -> Role {
        self.inner.role()
    }

    fn handle_connected(&mut self, now: Instant) {
        self.inner.handle_connected(now);
    }

    fn handle_message(&mut self, now: Instant, payload_type: PayloadType, payload: &[u8]) {
        self.inner.handle_message(now, payload_type, payload);
    }

    fn handle_disconnected(&mut self, now: Instant, reason: Disconnect) {
        self.inner.handle_disconnected(now, reason);
    }

    fn handle_measurement(&mut self, now: Instant, measurement: Measurement) {
        self.inner.handle_measurement(now, measurement);
    }

    fn handle_hardware_fault(&mut self, now: Instant, fault: HardwareFault) {
        self.inner.handle_hardware_fault(now, fault);
    }

    fn handle_stop_request(&mut self, now: Instant) {
        self.inner.handle_stop_request(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.inner.handle_timeout(now);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        let t = self.inner.poll_transmit()?;
        if let Transmit::Message {
            payload_type,
            payload,
        } = &t
        {
            self.log.borrow_mut().push((*payload_type, payload.clone()));
        }
        Some(t)
    }

    fn poll_command(&mut self) -> Option<HardwareCommand> {
        self.inner.poll_command()
    }

    fn poll_event(&mut self) -> Option<SessionEvent> {
        self.inner.poll_event()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.inner.poll_timeout()
    }

    fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }
}
