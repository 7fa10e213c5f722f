//! A misbehaving peer: a real session wrapped so that what it puts on the wire is changed
//! before it leaves (a response code replaced, a response withheld, an EVSE status changed, an
//! old request sent again, a wrong SessionID, an error code in the car's status), and what it
//! receives is logged, so a test can see what our side answered.
//!
//! The wrapper speaks the protocol the case negotiates (DIN SPEC 70121, ISO 15118-2 or
//! ISO 15118-20 DC, through [`super::wire::PeerMessage`]); the app handshake (the first
//! message each way) and whatever it cannot decode pass unchanged.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use ccs_proto::hardware::{HardwareCommand, HardwareFault, Measurement};
use ccs_proto::session::{Disconnect, Protocol, Role, SessionEvent, Transmit, V2gSession};
use ccs_proto::time::Instant;
use ccs_proto::v2gtp::PayloadType;

use super::wire::{EvseNotice, PeerMessage, Refusal};

/// What the peer does to one of its messages.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum TamperAction {
    /// A response carrying this (FAILED) response code instead, with neutral content.
    ResponseCode(Refusal),
    /// The message is not sent; the peer goes on as if it had been.
    Suppress,
    /// The message and everything after it (including closing the connection) is not sent:
    /// the peer hangs.
    Stall,
    /// The charger's status of PreChargeRes / CurrentDemandRes / DC_ChargeLoopRes says this.
    EvseStatus(EvseNotice),
    /// The SessionID in the header is replaced by one the charger never handed out.
    WrongSessionId,
    /// The earlier request of this name is sent again instead (a request out of sequence).
    Resend(&'static str),
    /// The car's DC_EVStatus of PreChargeReq / CurrentDemandReq reports not ready,
    /// FAILED_EVRESSMalfunction (DIN, ISO 15118-2).
    EvRessMalfunction,
}

/// One rule: the `after`-th and later sends of `message` (counting from 0) get `action`;
/// only the first matching send is changed, except for [`TamperAction::Stall`].
#[derive(Clone, Debug, PartialEq)]
pub struct Tamper {
    /// The message name as in the schema, e.g. `CableCheckRes`.
    pub message: &'static str,
    /// How many sends of it pass unchanged first.
    pub after: u32,
    /// What happens then.
    pub action: TamperAction,
}

/// What the peer received from our side: the message name and its response code.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    /// The message name, e.g. `PreChargeRes`.
    pub name: &'static str,
    /// Its response code's name, for responses (`FAILED_SequenceError`).
    pub response_code: Option<String>,
    /// Its DC_EVSEStatusCode (PreChargeRes, CurrentDemandRes) or EVSENotification
    /// (DC_ChargeLoopRes), by name.
    pub evse_status: Option<String>,
}

/// What the wrapper saw and did, shared with whoever runs the world.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PeerLog {
    /// Every V2G message the peer received after the handshake, in order.
    pub received: Vec<Observed>,
    /// Whether the rule fired.
    pub fired: bool,
}

/// The shared handle of a [`PeerLog`].
pub type SharedPeerLog = Rc<RefCell<PeerLog>>;

/// A session whose transmissions are tampered with; see the module docs.
pub struct TamperedSession {
    inner: Box<dyn V2gSession>,
    protocol: Protocol,
    rule: Tamper,
    seen: u32,
    done: bool,
    stalled: bool,
    sent_handshake: bool,
    received_handshake: bool,
    earlier: BTreeMap<&'static str, PeerMessage>,
    log: SharedPeerLog,
}

impl TamperedSession {
    /// Wraps `inner`, which speaks `protocol` after the handshake, with `rule`, logging into
    /// `log`.
    pub fn new(
        inner: Box<dyn V2gSession>,
        protocol: Protocol,
        rule: Tamper,
        log: SharedPeerLog,
    ) -> Self {
        Self {
            inner,
            protocol,
            rule,
            seen: 0,
            done: false,
            stalled: false,
            sent_handshake: false,
            received_handshake: false,
            earlier: BTreeMap::new(),
            log,
        }
    }

    /// What goes on the wire instead of `payload` (`None`: nothing).
    fn tamper(
        &mut self,
        payload_type: PayloadType,
        payload: Vec<u8>,
    ) -> Option<(PayloadType, Vec<u8>)> {
        if !std::mem::replace(&mut self.sent_handshake, true) {
            return Some((payload_type, payload));
        }
        let Some(mut msg) = PeerMessage::decode(self.protocol, payload_type, &payload) else {
            return Some((payload_type, payload));
        };
        let name = msg.name();
        if name != Some(self.rule.message) || self.done {
            if let Some(name) = name {
                self.earlier.insert(name, msg);
            }
            return Some((payload_type, payload));
        }
        let n = self.seen;
        self.seen += 1;
        if n < self.rule.after {
            self.earlier.insert(self.rule.message, msg);
            return Some((payload_type, payload));
        }
        self.done = true;
        self.log.borrow_mut().fired = true;
        let session_id = msg.session_id();
        match &self.rule.action {
            TamperAction::ResponseCode(refusal) => msg.refused(*refusal)?.encode(),
            TamperAction::Suppress => None,
            TamperAction::Stall => {
                self.stalled = true;
                None
            }
            TamperAction::EvseStatus(notice) => {
                if !msg.set_evse_notice(*notice) {
                    return Some((payload_type, payload));
                }
                msg.encode()
            }
            TamperAction::WrongSessionId => {
                msg.set_session_id(&[0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef]);
                msg.encode()
            }
            TamperAction::Resend(earlier) => {
                let mut old = self.earlier.get(earlier)?.clone();
                old.set_session_id(&session_id);
                old.encode()
            }
            TamperAction::EvRessMalfunction => {
                if !msg.set_ev_ress_malfunction() {
                    return Some((payload_type, payload));
                }
                msg.encode()
            }
        }
    }
}

impl V2gSession for TamperedSession {
    fn role(&self) -> Role {
        self.inner.role()
    }

    fn handle_connected(&mut self, now: Instant) {
        self.inner.handle_connected(now);
    }

    fn handle_message(&mut self, now: Instant, payload_type: PayloadType, payload: &[u8]) {
        if std::mem::replace(&mut self.received_handshake, true)
            && let Some(msg) = PeerMessage::decode(self.protocol, payload_type, payload)
            && let Some(name) = msg.name()
        {
            self.log.borrow_mut().received.push(Observed {
                name,
                response_code: msg.response_code(),
                evse_status: msg.evse_status(),
            });
        }
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
        loop {
            let t = self.inner.poll_transmit()?;
            if self.stalled {
                continue;
            }
            match t {
                Transmit::Message {
                    payload_type,
                    payload,
                } => {
                    if let Some((payload_type, payload)) = self.tamper(payload_type, payload) {
                        return Some(Transmit::Message {
                            payload_type,
                            payload,
                        });
                    }
                }
                Transmit::Close => return Some(Transmit::Close),
            }
        }
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
