//! A hostile peer as a byte-driven script: arbitrary events in arbitrary order for one of our
//! session machines (valid messages of every kind with chosen fields and SessionIDs, raw
//! bytes, time jumps, measurements, stop requests, disconnects, adapter faults), with the
//! invariants checked after each. DIN messages are built field by field; ISO 15118-2 and
//! ISO 15118-20 DC messages are those of a good session ([`super::transcript`]), sent as
//! recorded or edited (another SessionID, a FAILED response code, an EVSE notification, an
//! EV error) in whatever order the script says. The fuzz targets `session_evcc` / `session_secc` run it on
//! fuzzer input; the bounded-resources test runs it for 10,000 messages under a counting
//! allocator.
//!
//! Invariants (a violation panics, which is what a fuzzer reports): no panic inside the
//! machine, at most [`MAX_OUTPUTS_PER_EVENT`] outputs per event, and nothing new on the wire
//! once the session has finished.

use ccs_msg::app_handshake::{self, Document, ResponseCodeType as HandshakeCode};
use ccs_msg::din::{DC_EVSEStatusCodeType, IsolationLevelType, ResponseCodeType as R, V2G_Message};
use ccs_proto::hardware::{
    Amps, HardwareFault, HardwareFaultKind, IsolationStatus, Measurement, Percent, Volts,
};
use ccs_proto::session::din::values::{self, ChargeParameters, CurrentDemand, PresentOutput};
use ccs_proto::session::{
    Disconnect, EvccConfig, EvccSession, Protocol, ProtocolOffer, Role, SeccConfig, SeccSession,
    Transmit, V2gSession, handshake,
};

use super::transcript;
use super::wire::{EvseNotice, PeerMessage, Refusal};
use ccs_proto::time::{Duration, Instant};
use ccs_proto::v2gtp::PayloadType;

/// The most outputs (transmits, commands, events) one event may produce.
pub const MAX_OUTPUTS_PER_EVENT: usize = 64;

/// The charger's SessionID in these scripts.
const SECC_SESSION_ID: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

/// One of our sessions under a hostile peer; see the module docs.
pub struct HostileDriver {
    session: Box<dyn V2gSession>,
    role: Role,
    protocol: Protocol,
    now: Instant,
    finished_at_event: Option<u64>,
    events: u64,
}

impl core::fmt::Debug for HostileDriver {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HostileDriver")
            .field("role", &self.role)
            .field("protocol", &self.protocol)
            .field("now", &self.now)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// Takes the next byte of a script (0 when it has run out).
fn next(data: &mut &[u8]) -> u8 {
    match data.split_first() {
        Some((b, rest)) => {
            *data = rest;
            *b
        }
        None => 0,
    }
}

impl HostileDriver {
    /// Our car (`Role::Evcc`) or our charger speaking DIN, fresh, connected.
    pub fn new(role: Role) -> Self {
        Self::with_protocol(role, Protocol::Din70121)
    }

    /// Our car or our charger offering / accepting only `protocol`, fresh, connected.
    pub fn with_protocol(role: Role, protocol: Protocol) -> Self {
        let now = Instant::ZERO;
        let mut session: Box<dyn V2gSession> = match role {
            Role::Evcc => {
                let mut config = EvccConfig::default();
                config.protocols = vec![ProtocolOffer {
                    protocol,
                    priority: 1,
                    schema_id: 1,
                }];
                // No TLS in this harness; ISO 15118-20 over TLS 1.3 is tested in ccs-linux.
                config.iso20.allow_without_tls = true;
                Box::new(EvccSession::new(config, [2, 0, 0, 0, 0, 1], now))
            }
            Role::Secc => {
                let mut config = SeccConfig::default();
                config.protocols = vec![protocol];
                config.iso20.allow_without_tls = true;
                Box::new(SeccSession::new(config, SECC_SESSION_ID, now))
            }
        };
        session.handle_connected(now);
        let mut driver = Self {
            session,
            role,
            protocol,
            now,
            finished_at_event: None,
            events: 0,
        };
        driver.drain();
        driver
    }

    /// Whether the session has finished.
    pub fn is_finished(&self) -> bool {
        self.session.is_finished()
    }

    /// Runs a whole script in DIN.
    pub fn run(role: Role, script: &[u8]) {
        Self::run_protocol(role, Protocol::Din70121, script);
    }

    /// Runs a whole script in `protocol`.
    pub fn run_protocol(role: Role, protocol: Protocol, mut script: &[u8]) {
        let mut driver = Self::with_protocol(role, protocol);
        while !script.is_empty() {
            driver.step(&mut script);
        }
    }

    /// Runs a script whose first byte picks the protocol (DIN, ISO 15118-2, ISO 15118-20 DC):
    /// what the session fuzz targets run.
    pub fn run_any(role: Role, mut script: &[u8]) {
        let protocol = match next(&mut script) % 3 {
            0 => Protocol::Din70121,
            1 => Protocol::Iso15118_2,
            _ => Protocol::Iso15118_20Dc,
        };
        Self::run_protocol(role, protocol, script);
    }

    /// Feeds one valid message of kind `kind` (0 = the app handshake) with fields drawn from
    /// `field`, as the peer would send it.
    pub fn send_message(&mut self, kind: u8, field: u8, session_id: &[u8]) {
        let sent = match (self.protocol, self.role) {
            (Protocol::Din70121, Role::Evcc) => {
                response(kind, field, session_id).map(|p| (PayloadType::Exi, p))
            }
            (Protocol::Din70121, Role::Secc) => {
                request(kind, field, session_id).map(|p| (PayloadType::Exi, p))
            }
            _ => self.recorded(kind, field, session_id),
        };
        if let Some((payload_type, payload)) = sent {
            self.session
                .handle_message(self.now, payload_type, &payload);
            self.drain();
        }
    }

    /// The peer's `kind`-th message of a good session in this protocol, as recorded
    /// (`field % 5 == 0`) or with `session_id` and one edit chosen by `field`.
    fn recorded(&self, kind: u8, field: u8, session_id: &[u8]) -> Option<(PayloadType, Vec<u8>)> {
        let good = transcript::good_session(self.protocol);
        let menu = match self.role {
            Role::Evcc => &good.charger,
            Role::Secc => &good.car,
        };
        let (payload_type, payload) = menu.get(usize::from(kind) % menu.len().max(1))?;
        let edited = || {
            let mut msg = PeerMessage::decode(self.protocol, *payload_type, payload)?;
            msg.set_session_id(session_id);
            let refusal = [
                Refusal::Failed,
                Refusal::SequenceError,
                Refusal::ServiceSelectionInvalid,
                Refusal::UnknownSession,
            ][usize::from(field >> 4) % 4];
            let notice = [
                EvseNotice::Shutdown,
                EvseNotice::EmergencyShutdown,
                EvseNotice::Malfunction,
                EvseNotice::StopCharging,
                EvseNotice::Terminate,
                EvseNotice::Pause,
            ][usize::from(field >> 4) % 6];
            match field % 5 {
                2 => msg = msg.refused(refusal).unwrap_or(msg),
                3 => {
                    msg.set_evse_notice(notice);
                }
                4 => {
                    msg.set_ev_ress_malfunction();
                }
                _ => {}
            }
            msg.encode()
        };
        match field % 5 {
            0 => None,
            _ => edited(),
        }
        .or_else(|| Some((*payload_type, payload.clone())))
    }

    /// Feeds raw bytes as one V2GTP payload of type `payload_type`.
    pub fn send_raw(&mut self, payload_type: u16, bytes: &[u8]) {
        self.session
            .handle_message(self.now, PayloadType::from(payload_type), bytes);
        self.drain();
    }

    /// Starts a fresh session of the same role (what a driver does for the next car).
    pub fn restart(&mut self) {
        *self = Self::with_protocol(self.role, self.protocol);
    }

    /// Interprets one event from the front of `script`.
    pub fn step(&mut self, script: &mut &[u8]) {
        let op = next(script);
        match op % 10 {
            0..=3 => {
                let kind = next(script);
                let field = next(script);
                let sid = match next(script) % 4 {
                    0 => vec![0; 8],
                    1 => vec![0xde, 0xad, 0xbe, 0xef],
                    _ => SECC_SESSION_ID.to_vec(),
                };
                self.send_message(kind, field, &sid);
            }
            4 => {
                let len = usize::from(next(script));
                let n = len.min(script.len());
                let (bytes, rest) = script.split_at(n);
                *script = rest;
                // Bit 7 clear: EXI (0x8001); else another payload type of the protocols.
                let payload_type = match op & 0xe0 {
                    0x00..=0x60 => 0x8001,
                    0xa0 => 0x8002,
                    0xc0 => 0x8004,
                    _ => 0x9000,
                };
                self.send_raw(payload_type, bytes);
            }
            5 => {
                let ms = u64::from(next(script)) * 50;
                self.now += Duration::from_millis(ms);
                if self.session.poll_timeout().is_some_and(|t| t <= self.now) {
                    self.session.handle_timeout(self.now);
                }
                self.drain();
            }
            6 => {
                let which = next(script);
                let v = f32::from(next(script)) * 2.0;
                let m = match which % 12 {
                    0 => Measurement::BatteryVoltage(Volts(v)),
                    1 => Measurement::InletVoltage(Volts(v)),
                    2 => Measurement::ContactorsClosed(which & 0x80 != 0),
                    3 => Measurement::ConnectorLocked(which & 0x80 != 0),
                    4 => Measurement::Soc(Percent(v / 5.0)),
                    5 => Measurement::PowerSupplyVoltage(Volts(v)),
                    6 => Measurement::PowerSupplyCurrent(Amps(v / 2.0)),
                    7 => Measurement::Isolation(if which & 0x80 == 0 {
                        IsolationStatus::Valid
                    } else {
                        IsolationStatus::Fault
                    }),
                    8 => Measurement::ChargingEnabled(which & 0x80 == 0),
                    9 => Measurement::Authorized(which & 0x80 == 0),
                    10 => Measurement::TargetCurrent(Amps(v)),
                    _ => Measurement::TargetVoltage(Volts(v)),
                };
                self.session.handle_measurement(self.now, m);
                self.drain();
            }
            7 => {
                self.session.handle_stop_request(self.now);
                self.drain();
            }
            8 => {
                let reason = if op & 0x80 == 0 {
                    Disconnect::Closed
                } else {
                    Disconnect::Broken("reset".into())
                };
                self.session.handle_disconnected(self.now, reason);
                self.drain();
            }
            _ => {
                self.session.handle_hardware_fault(
                    self.now,
                    HardwareFault {
                        adapter: "fuzz".into(),
                        kind: HardwareFaultKind::ConnectionLost,
                    },
                );
                self.drain();
            }
        }
    }

    /// Polls every output, checking the invariants.
    fn drain(&mut self) {
        self.events += 1;
        let was_finished = self.finished_at_event.is_some();
        let mut outputs = 0;
        while let Some(t) = self.session.poll_transmit() {
            outputs += 1;
            assert!(
                !(was_finished && matches!(t, Transmit::Message { .. })),
                "a finished session sent a message"
            );
        }
        while self.session.poll_command().is_some() {
            outputs += 1;
        }
        while self.session.poll_event().is_some() {
            outputs += 1;
        }
        assert!(
            outputs <= MAX_OUTPUTS_PER_EVENT,
            "{outputs} outputs for one event"
        );
        if self.session.is_finished() && self.finished_at_event.is_none() {
            self.finished_at_event = Some(self.events);
        }
    }
}

fn encode(msg: &V2G_Message) -> Option<Vec<u8>> {
    ccs_msg::din::encode(msg).ok()
}

/// A charger's response of kind `kind % 12` (0 = the handshake).
fn response(kind: u8, field: u8, sid: &[u8]) -> Option<Vec<u8>> {
    let code = match field % 8 {
        0 => R::FAILED,
        1 => R::OK_NewSessionEstablished,
        _ => R::OK,
    };
    let status = match field % 5 {
        0 => DC_EVSEStatusCodeType::EVSE_Shutdown,
        1 => DC_EVSEStatusCodeType::EVSE_Malfunction,
        _ => DC_EVSEStatusCodeType::EVSE_Ready,
    };
    let finished = field & 0x10 != 0;
    let volts = f32::from(field) * 2.0;
    let msg = match kind % 12 {
        0 => {
            let res = app_handshake::SupportedAppProtocolRes {
                response_code: if field & 1 == 0 {
                    HandshakeCode::OK_SuccessfulNegotiation
                } else {
                    HandshakeCode::Failed_NoNegotiation
                },
                schema_id: Some(field % 3),
            };
            return app_handshake::encode(&Document::SupportedAppProtocolRes(res)).ok();
        }
        1 => values::session_setup_res(sid, code, b"ZZ00000"),
        2 => values::service_discovery_res(sid, code),
        3 => values::service_payment_selection_res(sid, code),
        4 => values::contract_authentication_res(sid, code, finished),
        5 => values::charge_parameter_discovery_res(
            sid,
            code,
            finished,
            values::dc_evse_status(Some(IsolationLevelType::Invalid), status),
            &values::EvseDcParameters::PYPLC,
        ),
        6 => values::cable_check_res(sid, code, finished),
        7 => values::pre_charge_res(sid, code, status, volts),
        8 => values::power_delivery_res(sid, code, status),
        9 => values::current_demand_res(
            sid,
            code,
            status,
            &PresentOutput {
                voltage: volts,
                current: f32::from(field),
                current_limit_achieved: false,
                voltage_limit_achieved: false,
                power_limit_achieved: false,
            },
        ),
        10 => values::welding_detection_res(sid, code, status, volts),
        _ => values::session_stop_res(sid, code),
    };
    encode(&msg)
}

/// A car's request of kind `kind % 12` (0 = the handshake).
fn request(kind: u8, field: u8, sid: &[u8]) -> Option<Vec<u8>> {
    let soc = field % 101;
    let volts = f32::from(field) * 2.0;
    let msg = match kind % 12 {
        0 => {
            let offers = [ProtocolOffer {
                protocol: Protocol::Din70121,
                priority: 1,
                schema_id: field % 4,
            }];
            let req = handshake::request(&offers);
            return app_handshake::encode(&Document::SupportedAppProtocolReq(req)).ok();
        }
        1 => values::session_setup_req(&[2, 0, 0, 0, 0, field]),
        2 => values::service_discovery_req(sid),
        3 => values::service_payment_selection_req(sid, u16::from(field % 3)),
        4 => values::contract_authentication_req(sid),
        5 => values::charge_parameter_discovery_req(sid, &ChargeParameters::pyplc(soc)),
        6 => values::cable_check_req(sid, soc),
        7 => values::pre_charge_req(sid, soc, volts, f32::from(field % 5)),
        8 => values::power_delivery_req(sid, soc, field & 1 == 0),
        9 => values::current_demand_req(
            sid,
            &CurrentDemand {
                soc,
                target_current: f32::from(field),
                target_voltage: volts,
                limits: None,
                charging_complete: field & 0x40 != 0,
            },
        ),
        10 => values::welding_detection_req(sid, soc),
        _ => values::session_stop_req(sid),
    };
    encode(&msg)
}
