//! The charger's session: the app handshake, then the negotiated protocol's machine.

use crate::hardware::{
    HardwareCommand, HardwareFault, IsolationStatus, Measurement, PowerSupplySetpoint,
};
use crate::session::config::SeccConfig;
use crate::session::evse_dc;
use crate::session::outbox::Outbox;
use crate::session::timers::{Timer, TimerTable};
use crate::session::{
    Disconnect, Outcome, Phase, Protocol, Role, SessionError, SessionEvent, Transmit, Transport,
    V2gSession, din, handshake, iso2, iso20,
};
use crate::time::Instant;
use crate::v2gtp::PayloadType;

/// The protocol machine the handshake chose. Adding a protocol = adding a variant.
#[derive(Clone, Debug)]
enum Machine {
    /// Waiting for supportedAppProtocolReq.
    Handshake,
    /// DIN SPEC 70121.
    Din(Box<din::secc::Secc>),
    /// ISO 15118-20 DC / DC_BPT.
    Iso20(Box<iso20::secc::Secc>),
    /// ISO 15118-2.
    Iso2(Box<iso2::secc::Secc>),
    /// Over (before a protocol machine took over).
    Ended,
}

/// The charger's V2G session (SECC) for one car and one connection: answers the handshake,
/// then runs the negotiated protocol; after SessionStop (or a failure) it is finished and the
/// driver starts a new session object for the next car.
///
/// ```
/// use ccs_proto::session::{SeccConfig, SeccSession, V2gSession};
/// use ccs_proto::time::Instant;
///
/// // The SessionID is drawn by the caller (fresh random bytes per session).
/// let charger = SeccSession::new(SeccConfig::default(), [0x5a; 8], Instant::ZERO);
/// assert!(charger.poll_timeout().is_some()); // V2G_SECC_Sequence_Timeout
/// ```
#[derive(Clone, Debug)]
pub struct SeccSession {
    config: SeccConfig,
    session_id: [u8; 8],
    out: Outbox,
    timers: TimerTable,
    machine: Machine,
    stop_requested: bool,
    tls: bool,
    transport: Transport,
    pnc: Option<iso2::SeccPnc>,
    iso20_verifier: Option<std::sync::Arc<dyn iso20::pnc::ContractVerifier>>,
}

impl SeccSession {
    /// A session that will hand out `session_id` (draw it fresh and at random for every
    /// session; the core has no RNG), created at `now` (when the connection was accepted).
    pub fn new(config: SeccConfig, session_id: [u8; 8], now: Instant) -> Self {
        let mut timers = TimerTable::default();
        timers.set(Timer::SeccSequence, now + config.timeouts.sequence_timeout);
        Self {
            config,
            session_id,
            out: Outbox::for_charger(),
            timers,
            machine: Machine::Handshake,
            stop_requested: false,
            tls: false,
            transport: Transport::Tcp,
            pnc: None,
            iso20_verifier: None,
        }
    }

    /// Tells the session that its connection is TLS: ISO 15118-2 then offers Plug & Charge
    /// (with [`SeccSession::set_pnc`]) and the certificate service; ISO 15118-20 offers Plug &
    /// Charge only then.
    pub fn set_tls(&mut self, tls: bool) {
        self.tls = tls;
    }

    /// The contract verifier for ISO 15118-20 Plug & Charge (PnC is offered only with one).
    pub fn set_iso20_verifier(
        &mut self,
        verifier: std::sync::Arc<dyn iso20::pnc::ContractVerifier>,
    ) {
        self.iso20_verifier = Some(verifier);
    }

    /// Whether `protocol` may run on this connection: ISO 15118-20 only over TLS 1.3.
    fn carries(&self, protocol: Protocol) -> bool {
        match protocol {
            Protocol::Iso15118_20Dc | Protocol::Iso15118_20DcBpt => self
                .transport
                .carries_iso20(self.config.iso20.allow_without_tls),
            _ => true,
        }
    }

    /// The verifier, certificate backend and GenChallenge for ISO 15118-2 Plug & Charge.
    pub fn set_pnc(&mut self, pnc: iso2::SeccPnc) {
        self.pnc = Some(pnc);
    }

    /// Asks the car to renegotiate the charge parameters (ISO 15118-2 EVSENotification
    /// ReNegotiation, ISO 15118-20 ScheduleRenegotiation); ignored by DIN.
    pub fn request_renegotiation(&mut self) {
        match &mut self.machine {
            Machine::Iso2(m) => m.request_renegotiation(),
            Machine::Iso20(m) => m.request_renegotiation(),
            _ => {}
        }
    }

    /// How the session ended, once it has.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.out.outcome()
    }

    /// The phase the session is in.
    pub fn phase(&self) -> Phase {
        self.out.phase()
    }

    /// Whether the user stopped charging during this session (stop request or
    /// `ChargingEnabled(false)`); with pyPLC's `allow_new_session_after_stopping = False`
    /// ([`crate::session::config::DriverPolicy`]) the driver then starts no new session.
    pub fn stopped_by_user(&self) -> bool {
        match &self.machine {
            Machine::Din(m) => m.stopped_by_user(),
            Machine::Iso20(m) => m.stopped_by_user(),
            Machine::Iso2(m) => m.stopped_by_user(),
            _ => self.stop_requested,
        }
    }

    /// The SessionID of this session if the car paused it (ISO 15118-2 SessionStop(Pause)):
    /// the driver gives it to the next session on this charger as
    /// [`iso2::EvseOptions::paused_session_id`], so that the car can rejoin (§8.4.3.2).
    pub fn paused_session_id(&self) -> Option<Vec<u8>> {
        match &self.machine {
            Machine::Iso2(m) => m.paused_session_id().map(<[u8]>::to_vec),
            _ => None,
        }
    }

    fn end_early(&mut self, error: SessionError) {
        self.timers.stop_all();
        self.machine = Machine::Ended;
        self.out
            .command(HardwareCommand::PowerSupply(PowerSupplySetpoint::OFF));
        self.out.close();
        self.out.finish(Outcome::Failed(error));
    }

    fn on_handshake(&mut self, now: Instant, payload: &[u8]) {
        let req = match handshake::decode_request(payload) {
            Ok(req) => req,
            Err(e) => {
                let res = ccs_msg::app_handshake::SupportedAppProtocolRes {
                    response_code: ccs_msg::app_handshake::ResponseCodeType::Failed_NoNegotiation,
                    schema_id: None,
                };
                self.send_response(&res);
                return self.end_early(e);
            }
        };
        self.out
            .received("supportedAppProtocolReq", handshake::request_summary(&req));
        let supported: Vec<Protocol> = self
            .config
            .protocols
            .iter()
            .copied()
            .filter(|p| handshake::is_implemented(*p))
            .collect();
        // ISO 15118-20 requires TLS 1.3 (§7.7.3): on any other connection it is not offered,
        // whatever the driver's TLS profile allowed.
        let refused_for_tls = supported.iter().any(|p| !self.carries(*p));
        let supported: Vec<Protocol> = supported.into_iter().filter(|p| self.carries(*p)).collect();
        let selection = handshake::select(&req, &supported, self.config.selection);
        self.send_response(&selection.response);
        let Some((protocol, schema_id)) = selection.chosen else {
            let why = if refused_for_tls {
                format!(
                    " (ISO 15118-20 needs TLS 1.3; the connection is {:?})",
                    self.transport
                )
            } else {
                String::new()
            };
            return self.end_early(SessionError::PeerIncompatible(format!(
                "no common protocol in {}{why}",
                handshake::request_summary(&req)
            )));
        };
        self.out.event(SessionEvent::ProtocolNegotiated {
            protocol,
            schema_id,
        });
        self.timers.stop_all();
        match protocol {
            Protocol::Din70121 => {
                let mut m =
                    din::secc::Secc::new(self.config.clone(), self.session_id.to_vec(), now);
                if self.stop_requested {
                    m.handle_stop_request();
                }
                self.machine = Machine::Din(Box::new(m));
            }
            Protocol::Iso15118_2 => {
                let mut m = iso2::secc::Secc::new(
                    self.config.clone(),
                    self.session_id.to_vec(),
                    self.tls,
                    self.pnc.clone(),
                    now,
                );
                if self.stop_requested {
                    m.handle_stop_request();
                }
                self.machine = Machine::Iso2(Box::new(m));
            }
            Protocol::Iso15118_20Dc | Protocol::Iso15118_20DcBpt => {
                // One namespace for both: the services offered decide (ServiceDiscovery).
                let accepts = |p| self.config.protocols.contains(&p);
                let mut m = iso20::secc::Secc::new(
                    self.config.clone(),
                    self.session_id.to_vec(),
                    now,
                    accepts(Protocol::Iso15118_20Dc),
                    accepts(Protocol::Iso15118_20DcBpt),
                    self.tls,
                    self.iso20_verifier.clone(),
                );
                if self.stop_requested {
                    m.handle_stop_request();
                }
                self.machine = Machine::Iso20(Box::new(m));
            }
        }
    }

    fn send_response(&mut self, res: &ccs_msg::app_handshake::SupportedAppProtocolRes) {
        let doc = ccs_msg::app_handshake::Document::SupportedAppProtocolRes(res.clone());
        match ccs_msg::app_handshake::encode(&doc) {
            Ok(bytes) => self.out.send(
                bytes,
                "supportedAppProtocolRes",
                handshake::response_summary(res),
            ),
            Err(e) => self.out.event(SessionEvent::Sent {
                name: "supportedAppProtocolRes",
                summary: format!("NOT SENT, encoder refused: {e}"),
            }),
        }
    }
}

impl V2gSession for SeccSession {
    fn role(&self) -> Role {
        Role::Secc
    }

    fn set_transport(&mut self, transport: Transport) {
        self.transport = transport;
        self.tls = transport != Transport::Tcp;
    }

    fn handle_connected(&mut self, now: Instant) {
        if matches!(self.machine, Machine::Handshake) {
            self.timers.set(
                Timer::SeccSequence,
                now + self.config.timeouts.sequence_timeout,
            );
        }
    }

    fn handle_message(&mut self, now: Instant, payload_type: PayloadType, payload: &[u8]) {
        match &mut self.machine {
            Machine::Handshake => self.on_handshake(now, payload),
            Machine::Din(m) => m.handle_message(now, &mut self.out, payload_type, payload),
            Machine::Iso20(m) => m.handle_message(now, &mut self.out, payload_type, payload),
            Machine::Iso2(m) => m.handle_message(now, &mut self.out, payload_type, payload),
            Machine::Ended => {}
        }
    }

    fn handle_disconnected(&mut self, _now: Instant, reason: Disconnect) {
        let error = SessionError::ConnectionLost(match reason {
            Disconnect::Closed => "closed by the car".into(),
            Disconnect::Broken(why) => why,
        });
        match &mut self.machine {
            Machine::Din(m) => m.end(&mut self.out, Outcome::Failed(error)),
            Machine::Iso20(m) => m.end(&mut self.out, Outcome::Failed(error)),
            Machine::Iso2(m) => m.end(&mut self.out, Outcome::Failed(error)),
            Machine::Handshake => self.end_early(error),
            Machine::Ended => {}
        }
    }

    fn handle_measurement(&mut self, now: Instant, measurement: Measurement) {
        self.out.snapshot.apply(now, measurement);
        if measurement == Measurement::ChargingEnabled(false) {
            self.stop_requested = true;
        }
        if self.config.isolation_monitor
            && measurement == Measurement::Isolation(IsolationStatus::Fault)
            && !matches!(self.machine, Machine::Ended)
        {
            // IEC 61851-23: an insulation fault switches the output off at once, not at the
            // car's next request (a renegotiation or a stalled car may keep it waiting for
            // seconds); that request is then answered with the fault, whatever the monitor
            // says by then (`evse_dc::isolation_while_energized`).
            self.out.isolation_fault = true;
            evse_dc::supply_off(&mut self.out);
        }
        match &mut self.machine {
            Machine::Din(m) => m.handle_measurement(measurement),
            Machine::Iso20(m) => m.handle_measurement(measurement),
            Machine::Iso2(m) => m.handle_measurement(measurement),
            _ => {}
        }
    }

    fn handle_hardware_fault(&mut self, _now: Instant, fault: HardwareFault) {
        match &mut self.machine {
            Machine::Din(m) => m.end(
                &mut self.out,
                Outcome::Failed(SessionError::Hardware(fault)),
            ),
            Machine::Iso20(m) => m.end(
                &mut self.out,
                Outcome::Failed(SessionError::Hardware(fault)),
            ),
            Machine::Iso2(m) => m.end(
                &mut self.out,
                Outcome::Failed(SessionError::Hardware(fault)),
            ),
            Machine::Handshake => self.end_early(SessionError::Hardware(fault)),
            Machine::Ended => {}
        }
    }

    fn handle_stop_request(&mut self, _now: Instant) {
        self.stop_requested = true;
        match &mut self.machine {
            Machine::Din(m) => m.handle_stop_request(),
            Machine::Iso20(m) => m.handle_stop_request(),
            Machine::Iso2(m) => m.handle_stop_request(),
            _ => {}
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some(timer) = self.timers.pop_expired(now) {
            return self.end_early(SessionError::Timeout(timer.name()));
        }
        match &mut self.machine {
            Machine::Din(m) => m.handle_timeout(now, &mut self.out),
            Machine::Iso20(m) => m.handle_timeout(now, &mut self.out),
            Machine::Iso2(m) => m.handle_timeout(now, &mut self.out),
            _ => {}
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.poll_transmit()
    }

    fn poll_command(&mut self) -> Option<HardwareCommand> {
        self.out.poll_command()
    }

    fn poll_event(&mut self) -> Option<SessionEvent> {
        self.out.poll_event()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.out.is_finished() {
            return None;
        }
        let own = self.timers.next_timeout();
        let machine = match &self.machine {
            Machine::Din(m) => m.poll_timeout(),
            Machine::Iso20(m) => m.poll_timeout(),
            Machine::Iso2(m) => m.poll_timeout(),
            _ => None,
        };
        own.into_iter().chain(machine).min()
    }

    fn is_finished(&self) -> bool {
        self.out.is_finished()
    }
}
