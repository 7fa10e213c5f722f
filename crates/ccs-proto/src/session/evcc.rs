//! The car's session: the app handshake, then the negotiated protocol's machine.

use crate::hardware::{HardwareCommand, HardwareFault, Measurement};
use crate::session::config::EvccConfig;
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
    /// Waiting for the connection.
    Idle,
    /// supportedAppProtocolReq sent, waiting for the response.
    Handshake,
    /// DIN SPEC 70121.
    Din(Box<din::evcc::Evcc>),
    /// ISO 15118-20 DC / DC_BPT.
    Iso20(Box<iso20::evcc::Evcc>),
    /// ISO 15118-2.
    Iso2(Box<iso2::evcc::Evcc>),
    /// Over (before a protocol machine took over).
    Ended,
}

/// The car's V2G session (EVCC): sends supportedAppProtocolReq when the connection is up,
/// checks the answer (response code and SchemaID), then runs the negotiated protocol.
///
/// ```
/// use ccs_proto::session::{EvccConfig, EvccSession, V2gSession};
/// use ccs_proto::time::Instant;
///
/// let mut car = EvccSession::new(EvccConfig::default(), [0x02, 0, 0, 0, 0, 1], Instant::ZERO);
/// car.handle_connected(Instant::ZERO);
/// assert!(car.poll_transmit().is_some()); // supportedAppProtocolReq
/// ```
#[derive(Clone, Debug)]
pub struct EvccSession {
    config: EvccConfig,
    evcc_id: [u8; 6],
    out: Outbox,
    timers: TimerTable,
    machine: Machine,
    contract_signer: Option<std::sync::Arc<dyn iso2::pnc::ContractSigner>>,
    certificate_installer: Option<std::sync::Arc<dyn iso2::pnc::CertificateInstaller>>,
    iso20_signer: Option<std::sync::Arc<dyn iso20::pnc::ContractSigner>>,
    transport: Transport,
    certificate_updater: Option<std::sync::Arc<dyn iso2::pnc::CertificateUpdater>>,
}

impl EvccSession {
    /// A session for the car with MAC `evcc_id` (sent as EVCCID, pyPLC Issue20), created at
    /// `now`. Only protocols that have a machine are offered.
    pub fn new(config: EvccConfig, evcc_id: [u8; 6], now: Instant) -> Self {
        let _ = now;
        Self {
            config,
            evcc_id,
            out: Outbox::new(),
            timers: TimerTable::default(),
            machine: Machine::Idle,
            contract_signer: None,
            certificate_installer: None,
            iso20_signer: None,
            transport: Transport::Tcp,
            certificate_updater: None,
        }
    }

    /// Sets the OEM provisioning identity with which ISO 15118-2 Plug & Charge installs a
    /// contract (CertificateInstallation) when none is configured.
    pub fn set_certificate_installer(
        &mut self,
        installer: std::sync::Arc<dyn iso2::pnc::CertificateInstaller>,
    ) {
        self.certificate_installer = Some(installer);
    }

    /// Asks ISO 15118-2 Plug & Charge to renew the configured contract in this session
    /// (CertificateUpdate, when the charger offers the certificate service), with the current
    /// contract key in `updater`. The driver decides when: e.g. when the contract certificate
    /// expires soon.
    pub fn set_certificate_updater(
        &mut self,
        updater: std::sync::Arc<dyn iso2::pnc::CertificateUpdater>,
    ) {
        self.certificate_updater = Some(updater);
    }

    /// Sets the contract key for ISO 15118-2 Plug & Charge
    /// ([`crate::session::iso2::EvOptions::payment`] = `Contract`).
    pub fn set_contract_signer(&mut self, signer: std::sync::Arc<dyn iso2::pnc::ContractSigner>) {
        self.contract_signer = Some(signer);
    }

    /// Sets the contract key for ISO 15118-20 Plug & Charge
    /// ([`crate::session::iso20::Authorization::PnC`]).
    pub fn set_iso20_signer(&mut self, signer: std::sync::Arc<dyn iso20::pnc::ContractSigner>) {
        self.iso20_signer = Some(signer);
    }

    /// The SessionID of this session if it ended with an accepted SessionStop(Pause) (ISO
    /// 15118-2): the driver keeps it and gives it to the next session as
    /// [`iso2::EvOptions::resume_session_id`] to rejoin (§8.4.3.2).
    pub fn paused_session_id(&self) -> Option<Vec<u8>> {
        match &self.machine {
            Machine::Iso2(m) => m.paused_session_id().map(<[u8]>::to_vec),
            _ => None,
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

    fn end_early(&mut self, error: SessionError) {
        self.timers.stop_all();
        self.machine = Machine::Ended;
        self.out.close();
        self.out.finish(Outcome::Failed(error));
    }

    fn offers(&self) -> Vec<crate::session::config::ProtocolOffer> {
        self.config
            .protocols
            .iter()
            .copied()
            .filter(|o| handshake::is_implemented(o.protocol))
            // ISO 15118-20 requires TLS 1.3 (§7.7.3): not offered on any other connection.
            .filter(|o| match o.protocol {
                Protocol::Iso15118_20Dc | Protocol::Iso15118_20DcBpt => self
                    .transport
                    .carries_iso20(self.config.iso20.allow_without_tls),
                _ => true,
            })
            .collect()
    }
}

impl V2gSession for EvccSession {
    fn role(&self) -> Role {
        Role::Evcc
    }

    fn set_transport(&mut self, transport: Transport) {
        self.transport = transport;
    }

    fn handle_connected(&mut self, now: Instant) {
        if !matches!(self.machine, Machine::Idle) {
            return;
        }
        let offers = self.offers();
        if offers.is_empty() {
            return self.end_early(SessionError::Config(format!(
                "no protocol with a session machine is configured for this connection \
                 (ISO 15118-20 needs TLS 1.3; the connection is {:?})",
                self.transport
            )));
        }
        let req = handshake::request(&offers);
        let doc = ccs_msg::app_handshake::Document::SupportedAppProtocolReq(req.clone());
        match ccs_msg::app_handshake::encode(&doc) {
            Ok(bytes) => {
                self.out.send(
                    bytes,
                    "supportedAppProtocolReq",
                    handshake::request_summary(&req),
                );
                self.timers
                    .set(Timer::EvccMsg, now + self.config.timeouts.msg_timeout);
                self.machine = Machine::Handshake;
            }
            Err(e) => self.end_early(SessionError::Config(format!("handshake request: {e}"))),
        }
    }

    fn handle_message(&mut self, now: Instant, payload_type: PayloadType, payload: &[u8]) {
        match &mut self.machine {
            Machine::Din(m) => m.handle_message(now, &mut self.out, payload_type, payload),
            Machine::Iso20(m) => m.handle_message(now, &mut self.out, payload_type, payload),
            Machine::Iso2(m) => m.handle_message(now, &mut self.out, payload_type, payload),
            Machine::Handshake => {
                let res = match handshake::decode_response(payload) {
                    Ok(res) => res,
                    Err(e) => return self.end_early(e),
                };
                self.out
                    .received("supportedAppProtocolRes", handshake::response_summary(&res));
                self.timers.stop(Timer::EvccMsg);
                match handshake::check_response(&res, &self.offers()) {
                    Ok((protocol, schema_id)) => {
                        self.out.event(SessionEvent::ProtocolNegotiated {
                            protocol,
                            schema_id,
                        });
                        match protocol {
                            Protocol::Din70121 => {
                                let mut m = Box::new(din::evcc::Evcc::new(
                                    self.config.clone(),
                                    self.evcc_id,
                                ));
                                m.start(now, &mut self.out);
                                self.machine = Machine::Din(m);
                            }
                            Protocol::Iso15118_20Dc | Protocol::Iso15118_20DcBpt => {
                                let offered =
                                    |p| self.config.protocols.iter().any(|o| o.protocol == p);
                                let wants_bpt = protocol == Protocol::Iso15118_20DcBpt;
                                let accepts_dc = !wants_bpt || offered(Protocol::Iso15118_20Dc);
                                let mut m = Box::new(iso20::evcc::Evcc::new(
                                    self.config.clone(),
                                    self.evcc_id,
                                    wants_bpt,
                                    accepts_dc,
                                    self.iso20_signer.clone(),
                                ));
                                m.start(now, &mut self.out);
                                self.machine = Machine::Iso20(m);
                            }
                            Protocol::Iso15118_2 => {
                                let mut m = Box::new(iso2::evcc::Evcc::new(
                                    self.config.clone(),
                                    self.evcc_id,
                                    self.contract_signer.clone(),
                                    self.certificate_installer.clone(),
                                ));
                                if let Some(updater) = &self.certificate_updater {
                                    m.set_certificate_updater(updater.clone());
                                }
                                m.start(now, &mut self.out);
                                self.machine = Machine::Iso2(m);
                            }
                        }
                    }
                    Err(e) => self.end_early(e),
                }
            }
            Machine::Idle | Machine::Ended => {}
        }
    }

    fn handle_disconnected(&mut self, now: Instant, reason: Disconnect) {
        let error = SessionError::ConnectionLost(match reason {
            Disconnect::Closed => "closed by the charger".into(),
            Disconnect::Broken(why) => why,
        });
        match &mut self.machine {
            Machine::Din(m) => m.fail(now, &mut self.out, error),
            Machine::Iso20(m) => m.fail(now, &mut self.out, error),
            Machine::Iso2(m) => m.fail(now, &mut self.out, error),
            Machine::Idle | Machine::Handshake => self.end_early(error),
            Machine::Ended => {}
        }
    }

    fn handle_measurement(&mut self, now: Instant, measurement: Measurement) {
        self.out.snapshot.apply(now, measurement);
        match &mut self.machine {
            Machine::Din(m) => m.handle_measurement(now, &mut self.out, measurement),
            Machine::Iso20(m) => m.handle_measurement(now, &mut self.out, measurement),
            Machine::Iso2(m) => m.handle_measurement(now, &mut self.out, measurement),
            _ => {}
        }
    }

    fn handle_hardware_fault(&mut self, now: Instant, fault: HardwareFault) {
        match &mut self.machine {
            Machine::Din(m) => m.fail(now, &mut self.out, SessionError::Hardware(fault)),
            Machine::Iso20(m) => m.fail(now, &mut self.out, SessionError::Hardware(fault)),
            Machine::Iso2(m) => m.fail(now, &mut self.out, SessionError::Hardware(fault)),
            Machine::Idle | Machine::Handshake => self.end_early(SessionError::Hardware(fault)),
            Machine::Ended => {}
        }
    }

    fn handle_stop_request(&mut self, now: Instant) {
        match &mut self.machine {
            Machine::Din(m) => m.handle_stop_request(now, &mut self.out),
            Machine::Iso20(m) => m.handle_stop_request(now, &mut self.out),
            Machine::Iso2(m) => m.handle_stop_request(now, &mut self.out),
            Machine::Idle | Machine::Handshake => {
                self.timers.stop_all();
                self.machine = Machine::Ended;
                self.out.close();
                self.out.finish(Outcome::Completed);
            }
            Machine::Ended => {}
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
