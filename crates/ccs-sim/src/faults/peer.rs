//! A misbehaving peer: a real session wrapped so that what it puts on the wire is changed
//! before it leaves (a response code replaced, a response withheld, an EVSE status changed, an
//! old request sent again, a wrong SessionID, an error code in the car's status), and what it
//! receives is logged, so a test can see what our side answered.
//!
//! The wrapper speaks DIN SPEC 70121 (the protocol the sessions negotiate today); messages it
//! cannot decode as DIN (the app handshake) pass unchanged.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use ccs_msg::din::{
    BodyElement, DC_EVErrorCodeType, DC_EVSEStatusCodeType, ResponseCodeType, V2G_Message,
};
use ccs_proto::hardware::{HardwareCommand, HardwareFault, Measurement};
use ccs_proto::session::din::values::{self, MessageKind};
use ccs_proto::session::{Disconnect, Role, SessionEvent, Transmit, V2gSession};
use ccs_proto::time::Instant;
use ccs_proto::v2gtp::PayloadType;

/// What the peer does to one of its messages.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum TamperAction {
    /// A response carrying this (FAILED) response code instead, with neutral content.
    ResponseCode(ResponseCodeType),
    /// The message is not sent; the peer goes on as if it had been.
    Suppress,
    /// The message and everything after it (including closing the connection) is not sent:
    /// the peer hangs.
    Stall,
    /// The DC_EVSEStatusCode of PreChargeRes / CurrentDemandRes becomes this.
    EvseStatus(DC_EVSEStatusCodeType),
    /// The SessionID in the header is replaced by one the charger never handed out.
    WrongSessionId,
    /// The earlier request of this name is sent again instead (a request out of sequence).
    Resend(&'static str),
    /// The car's DC_EVStatus of PreChargeReq / CurrentDemandReq reports this error, not ready.
    EvError(DC_EVErrorCodeType),
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
    /// Its response code, for responses.
    pub response_code: Option<ResponseCodeType>,
    /// Its DC_EVSEStatusCode, for PreChargeRes and CurrentDemandRes.
    pub evse_status: Option<DC_EVSEStatusCodeType>,
}

/// What the wrapper saw and did, shared with whoever runs the world.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PeerLog {
    /// Every DIN message the peer received, in order.
    pub received: Vec<Observed>,
    /// Whether the rule fired.
    pub fired: bool,
}

/// The shared handle of a [`PeerLog`].
pub type SharedPeerLog = Rc<RefCell<PeerLog>>;

/// A session whose transmissions are tampered with; see the module docs.
pub struct TamperedSession {
    inner: Box<dyn V2gSession>,
    rule: Tamper,
    seen: u32,
    done: bool,
    stalled: bool,
    earlier: BTreeMap<&'static str, V2G_Message>,
    log: SharedPeerLog,
}

impl TamperedSession {
    /// Wraps `inner` with `rule`, logging into `log`.
    pub fn new(inner: Box<dyn V2gSession>, rule: Tamper, log: SharedPeerLog) -> Self {
        Self {
            inner,
            rule,
            seen: 0,
            done: false,
            stalled: false,
            earlier: BTreeMap::new(),
            log,
        }
    }

    fn tamper(&mut self, payload: Vec<u8>) -> Option<Vec<u8>> {
        let Ok(mut msg) = ccs_msg::din::decode(&payload) else {
            return Some(payload);
        };
        let Some(body) = msg.body.body_element.as_ref() else {
            return Some(payload);
        };
        let name = body_name(body);
        if name != Some(self.rule.message) || self.done {
            if let Some(name) = name {
                self.earlier.insert(name, msg);
            }
            return Some(payload);
        }
        let n = self.seen;
        self.seen += 1;
        if n < self.rule.after {
            self.earlier.insert(self.rule.message, msg);
            return Some(payload);
        }
        self.done = true;
        self.log.borrow_mut().fired = true;
        let session_id = msg.header.session_id.clone();
        match &self.rule.action {
            TamperAction::ResponseCode(code) => {
                let kind = body_kind_response(body)?;
                let res = values::failed_response(&session_id, kind, *code, b"ZZ00000");
                ccs_msg::din::encode(&res).ok()
            }
            TamperAction::Suppress => None,
            TamperAction::Stall => {
                self.stalled = true;
                None
            }
            TamperAction::EvseStatus(code) => {
                match msg.body.body_element.as_mut() {
                    Some(BodyElement::PreChargeRes(r)) => r.dc_evse_status.evse_status_code = *code,
                    Some(BodyElement::CurrentDemandRes(r)) => {
                        r.dc_evse_status.evse_status_code = *code;
                    }
                    _ => return Some(payload),
                }
                ccs_msg::din::encode(&msg).ok()
            }
            TamperAction::WrongSessionId => {
                msg.header.session_id = vec![0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef];
                ccs_msg::din::encode(&msg).ok()
            }
            TamperAction::Resend(earlier) => {
                let mut old = self.earlier.get(earlier)?.clone();
                old.header.session_id = session_id;
                ccs_msg::din::encode(&old).ok()
            }
            TamperAction::EvError(code) => {
                let status = match msg.body.body_element.as_mut() {
                    Some(BodyElement::PreChargeReq(r)) => &mut r.dc_ev_status,
                    Some(BodyElement::CurrentDemandReq(r)) => &mut r.dc_ev_status,
                    _ => return Some(payload),
                };
                status.ev_error_code = *code;
                status.ev_ready = false;
                ccs_msg::din::encode(&msg).ok()
            }
        }
    }
}

fn body_name(body: &BodyElement) -> Option<&'static str> {
    MessageKind::of_request(body)
        .map(MessageKind::request_name)
        .or_else(|| MessageKind::of_response(body).map(MessageKind::response_name))
}

fn body_kind_response(body: &BodyElement) -> Option<MessageKind> {
    MessageKind::of_response(body)
}

fn response_code(body: &BodyElement) -> Option<ResponseCodeType> {
    Some(match body {
        BodyElement::SessionSetupRes(r) => r.response_code,
        BodyElement::ServiceDiscoveryRes(r) => r.response_code,
        BodyElement::ServicePaymentSelectionRes(r) => r.response_code,
        BodyElement::ContractAuthenticationRes(r) => r.response_code,
        BodyElement::ChargeParameterDiscoveryRes(r) => r.response_code,
        BodyElement::CableCheckRes(r) => r.response_code,
        BodyElement::PreChargeRes(r) => r.response_code,
        BodyElement::PowerDeliveryRes(r) => r.response_code,
        BodyElement::CurrentDemandRes(r) => r.response_code,
        BodyElement::WeldingDetectionRes(r) => r.response_code,
        BodyElement::SessionStopRes(r) => r.response_code,
        _ => return None,
    })
}

impl V2gSession for TamperedSession {
    fn role(&self) -> Role {
        self.inner.role()
    }

    fn handle_connected(&mut self, now: Instant) {
        self.inner.handle_connected(now);
    }

    fn handle_message(&mut self, now: Instant, payload_type: PayloadType, payload: &[u8]) {
        if let Ok(msg) = ccs_msg::din::decode(payload)
            && let Some(body) = msg.body.body_element.as_ref()
            && let Some(name) = body_name(body)
        {
            let evse_status = match body {
                BodyElement::PreChargeRes(r) => Some(r.dc_evse_status.evse_status_code),
                BodyElement::CurrentDemandRes(r) => Some(r.dc_evse_status.evse_status_code),
                _ => None,
            };
            self.log.borrow_mut().received.push(Observed {
                name,
                response_code: response_code(body),
                evse_status,
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
                    if let Some(payload) = self.tamper(payload) {
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
