//! The charger's DIN SPEC 70121 DC session (SECC, the TCP server), after the app handshake.
//!
//! Read DIN SPEC 70121:2014 §9.4 (message sequence and response codes), §9.6 (timing) and
//! `reference/pyplc-behaviour.md` §6 (pyPLC's fsmEvse), §9.2 (the field values real cars
//! accept) and §14 before changing this file.
//!
//! Unlike pyPLC, every request is checked: the SessionID must be the one this session handed
//! out (`FAILED_UnknownSession`) and the request must be allowed after the previous one
//! (`FAILED_SequenceError`). A FAILED response ends the session: power supply off, connection
//! closed. The SessionID is fresh per session and comes from the caller (no RNG in the core).

use ccs_msg::din::{
    BodyElement, DC_EVErrorCodeType, DC_EVSEStatusCodeType, DC_EVStatusType, EVChargeParameter,
    EVRequestedEnergyTransferType, IsolationLevelType, PaymentOptionType, ResponseCodeType,
    V2G_Message,
};

use super::values::{self, EvseDcParameters, MessageKind, PresentOutput, physical_value};
use crate::hardware::{
    HardwareCommand, Measurement, Percent, PowerSupplySetpoint, VehicleBatteryReport, WattHours,
};
use crate::session::config::SeccConfig;
use crate::session::evse_dc::{self, CableCheck, EvLimits, EvseOutput};
use crate::session::outbox::Outbox;
use crate::session::timers::{Timer, TimerTable};
use crate::session::{Outcome, Phase, SessionError};
use crate::time::Instant;
use crate::v2gtp::PayloadType;

/// The previous request, as far as the sequence check needs it.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
struct Last {
    kind: MessageKind,
    /// For the Ongoing loops: whether we answered `Finished`. For PowerDelivery: whether it
    /// started (`ReadyToChargeState`).
    done: bool,
}

/// Whether request `next` may follow `last` in a DIN DC session (DIN 70121 §9.4, the
/// message sequence of Figure 77-ish: each Ongoing loop repeats until `Finished`).
fn allowed(last: Option<Last>, next: MessageKind, starts_power: bool) -> bool {
    use MessageKind as K;
    let Some(last) = last else {
        return next == K::SessionSetup;
    };
    if next == K::SessionStop {
        // The car may end the session from any point after SessionSetup.
        return true;
    }
    match (last.kind, next) {
        (K::SessionSetup, K::ServiceDiscovery)
        | (K::ServiceDiscovery, K::ServicePaymentSelection)
        | (K::ServicePaymentSelection, K::ContractAuthentication) => true,
        (K::ContractAuthentication, K::ContractAuthentication) => !last.done,
        (K::ContractAuthentication, K::ChargeParameterDiscovery) => last.done,
        (K::ChargeParameterDiscovery, K::ChargeParameterDiscovery) => !last.done,
        (K::ChargeParameterDiscovery, K::CableCheck) => last.done,
        (K::CableCheck, K::CableCheck) => !last.done,
        (K::CableCheck, K::PreCharge) => last.done,
        (K::PreCharge, K::PreCharge) => true,
        // A stop (ReadyToChargeState = false) is allowed once the car has the charger's
        // parameters, e.g. after a failed CableCheck or PreCharge, or a user stop while
        // CableCheck is still Ongoing (stopping is never unsafe).
        (K::ChargeParameterDiscovery, K::PowerDelivery) => last.done && !starts_power,
        (K::CableCheck, K::PowerDelivery) => !starts_power,
        (K::PreCharge, K::PowerDelivery) => true,
        (K::PowerDelivery, K::CurrentDemand) => last.done,
        (K::PowerDelivery, K::PowerDelivery) => last.done && !starts_power,
        (K::CurrentDemand, K::CurrentDemand) => true,
        (K::CurrentDemand, K::PowerDelivery) => !starts_power,
        (K::PowerDelivery | K::WeldingDetection, K::WeldingDetection) => {
            last.kind == K::WeldingDetection || !last.done
        }
        _ => false,
    }
}

/// Whether the car reports a fault in its DC_EVStatus (DIN 70121 `DC_EVErrorCodeType`: RESS
/// temperature, shift position, RESS malfunction, ...): the charger must not deliver (more)
/// energy then. It switches off and answers EVSE_Shutdown, so the car winds down in order:
/// the Ioniq itself sends an error code with target 0 V / 0 A at the end of charging
/// (pyPLC results 2023-04-24), and an early PowerDeliveryReq with one (pyplc-behaviour.md
/// §9.4), which is why only PreCharge and CurrentDemand are checked.
fn ev_reports_error(status: &DC_EVStatusType) -> bool {
    status.ev_error_code != DC_EVErrorCodeType::NO_ERROR
}

/// Whether the car's DC_EVStatus in PreChargeReq or CurrentDemandReq means "stop": an error
/// code ([`ev_reports_error`]), or EVReady = false (DIN 70121 `DC_EVStatusType`: EVReady
/// true = the car is ready to charge). Every recorded car keeps EVReady true throughout
/// PreCharge and CurrentDemand and sends false only from PowerDelivery(Stop) on (the Ioniq,
/// the Audi Q4) or in WeldingDetection (the Polestar 2, the Ioniq at an Alpitronic), which
/// are not checked.
fn ev_wants_stop(status: &DC_EVStatusType) -> bool {
    ev_reports_error(status) || !status.ev_ready
}

/// The request the sequence expects after `last` (for answering an undecodable request).
fn expected_after(last: Option<Last>) -> MessageKind {
    use MessageKind as K;
    match last.map(|l| (l.kind, l.done)) {
        None => K::SessionSetup,
        Some((K::SessionSetup, _)) => K::ServiceDiscovery,
        Some((K::ServiceDiscovery, _)) => K::ServicePaymentSelection,
        Some((K::ServicePaymentSelection, _)) => K::ContractAuthentication,
        Some((K::ContractAuthentication, false)) => K::ContractAuthentication,
        Some((K::ContractAuthentication, true)) => K::ChargeParameterDiscovery,
        Some((K::ChargeParameterDiscovery, false)) => K::ChargeParameterDiscovery,
        Some((K::ChargeParameterDiscovery, true)) => K::CableCheck,
        Some((K::CableCheck, false)) => K::CableCheck,
        Some((K::CableCheck, true)) => K::PreCharge,
        Some((K::PreCharge, _)) => K::PreCharge,
        Some((K::PowerDelivery, true)) | Some((K::CurrentDemand, _)) => K::CurrentDemand,
        Some((K::PowerDelivery, false)) | Some((K::WeldingDetection, _)) => K::WeldingDetection,
        Some((K::SessionStop, _)) => K::SessionStop,
    }
}

/// The charger's DIN session.
#[derive(Clone, Debug)]
pub(crate) struct Secc {
    config: SeccConfig,
    session_id: Vec<u8>,
    last: Option<Last>,
    done: bool,
    timers: TimerTable,
    stop_requested: bool,
    stopped_by_user: bool,
    cable_check: Option<CableCheck>,
    ev_limits: EvLimits,
    output: EvseOutput,
}

/// What handling one request produced.
struct Answer {
    response: V2G_Message,
    /// `Some` = this response ends the session (FAILED code or SessionStop).
    end: Option<Outcome>,
}

impl Secc {
    /// A new DIN session that hands out `session_id` (1 to 8 bytes, fresh per session).
    pub(crate) fn new(config: SeccConfig, session_id: Vec<u8>, now: Instant) -> Self {
        let mut timers = TimerTable::default();
        timers.set(Timer::SeccSequence, now + config.timeouts.sequence_timeout);
        Self {
            config,
            session_id,
            last: None,
            done: false,
            timers,
            stop_requested: false,
            stopped_by_user: false,
            cable_check: None,
            ev_limits: EvLimits::default(),
            output: EvseOutput::default(),
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_timeout()
    }

    pub(crate) fn stopped_by_user(&self) -> bool {
        self.stopped_by_user
    }

    pub(crate) fn handle_measurement(&mut self, measurement: Measurement) {
        if measurement == Measurement::ChargingEnabled(false) {
            self.stop_requested = true;
            self.stopped_by_user = true;
        }
    }

    pub(crate) fn handle_stop_request(&mut self) {
        self.stop_requested = true;
        self.stopped_by_user = true;
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant, out: &mut Outbox) {
        if let Some(Timer::SeccSequence) = self.timers.pop_expired(now) {
            self.end(
                out,
                Outcome::Failed(SessionError::Timeout(Timer::SeccSequence.name())),
            );
        }
    }

    /// Ends the session: power supply off, connection closed.
    pub(crate) fn end(&mut self, out: &mut Outbox, outcome: Outcome) {
        if self.done {
            return;
        }
        self.done = true;
        self.timers.stop_all();
        out.command(HardwareCommand::PowerSupply(PowerSupplySetpoint::OFF));
        out.close();
        out.finish(outcome);
    }

    pub(crate) fn handle_message(
        &mut self,
        now: Instant,
        out: &mut Outbox,
        payload_type: PayloadType,
        payload: &[u8],
    ) {
        if self.done {
            return;
        }
        let decoded = if payload_type == PayloadType::Exi {
            ccs_msg::din::decode(payload).map_err(|e| e.to_string())
        } else {
            Err(format!("V2GTP payload type {payload_type:?}"))
        };
        let request = match decoded {
            Ok(msg) => msg,
            Err(e) => {
                // A request we cannot read: FAILED in the response the sequence expects, then
                // the safe end (power off).
                let kind = expected_after(self.last);
                let res = values::failed_response(
                    &self.session_id,
                    kind,
                    ResponseCodeType::FAILED,
                    &self.config.evse_id,
                );
                self.respond(out, kind, &res);
                return self.end(out, Outcome::Failed(SessionError::InvalidMessage(e)));
            }
        };
        let Some(body) = request.body.body_element.as_ref() else {
            let kind = expected_after(self.last);
            let res = values::failed_response(
                &self.session_id,
                kind,
                ResponseCodeType::FAILED,
                &self.config.evse_id,
            );
            self.respond(out, kind, &res);
            return self.end(
                out,
                Outcome::Failed(SessionError::InvalidMessage("empty Body".into())),
            );
        };
        let Some(kind) = MessageKind::of_request(body) else {
            let kind = expected_after(self.last);
            let res = values::failed_response(
                &self.session_id,
                kind,
                ResponseCodeType::FAILED_SequenceError,
                &self.config.evse_id,
            );
            self.respond(out, kind, &res);
            return self.end(
                out,
                Outcome::Failed(SessionError::PeerMisbehaved(
                    "not a request of a DC session".into(),
                )),
            );
        };
        out.received(kind.request_name(), values::summary(body));
        let starts_power =
            matches!(body, BodyElement::PowerDeliveryReq(r) if r.ready_to_charge_state);
        let refusal =
            if kind != MessageKind::SessionSetup && request.header.session_id != self.session_id {
                // DIN 70121 §9.4: a request with a SessionID other than the one of this session.
                Some((
                    ResponseCodeType::FAILED_UnknownSession,
                    SessionError::PeerMisbehaved(format!(
                        "{} with SessionID {}",
                        kind.request_name(),
                        values::hex(&request.header.session_id)
                    )),
                ))
            } else if !allowed(self.last, kind, starts_power) {
                Some((
                    ResponseCodeType::FAILED_SequenceError,
                    SessionError::PeerMisbehaved(format!(
                        "{} after {:?}",
                        kind.request_name(),
                        self.last.map(|l| l.kind)
                    )),
                ))
            } else {
                None
            };
        if let Some((code, error)) = refusal {
            let res = values::failed_response(&self.session_id, kind, code, &self.config.evse_id);
            self.respond(out, kind, &res);
            return self.end(out, Outcome::Failed(error));
        }
        let answer = match self.answer(now, out, body) {
            Ok(a) => a,
            Err((code, error)) => {
                let res =
                    values::failed_response(&self.session_id, kind, code, &self.config.evse_id);
                self.respond(out, kind, &res);
                return self.end(out, Outcome::Failed(error));
            }
        };
        self.respond(out, kind, &answer.response);
        if let Some(outcome) = answer.end {
            return self.end(out, outcome);
        }
        self.timers.set(
            Timer::SeccSequence,
            now + self.config.timeouts.sequence_timeout,
        );
    }

    fn respond(&self, out: &mut Outbox, kind: MessageKind, res: &V2G_Message) {
        match ccs_msg::din::encode(res) {
            Ok(bytes) => {
                let summary = res
                    .body
                    .body_element
                    .as_ref()
                    .map(values::summary)
                    .unwrap_or_default();
                out.send(bytes, kind.response_name(), summary);
            }
            Err(e) => out.event(crate::session::SessionEvent::Sent {
                name: kind.response_name(),
                summary: format!("NOT SENT, encoder refused: {e}"),
            }),
        }
    }

    fn status_code(&self) -> DC_EVSEStatusCodeType {
        if self.stop_requested {
            DC_EVSEStatusCodeType::EVSE_Shutdown
        } else {
            DC_EVSEStatusCodeType::EVSE_Ready
        }
    }

    /// The limits (shared with ISO 15118-2: `session::evse_dc`) and DIN's PMax.
    fn limits(&self, now: Instant, out: &Outbox) -> EvseDcParameters {
        let l = evse_dc::limits(&self.config, now, out);
        EvseDcParameters {
            max_current: l.max_current,
            max_power: l.max_power,
            max_voltage: l.max_voltage,
            min_current: l.min_current,
            min_voltage: l.min_voltage,
            current_regulation_tolerance: l.current_regulation_tolerance,
            peak_current_ripple: l.peak_current_ripple,
            schedule_p_max: self.config.limits.schedule_p_max,
            schedule_tuple_id: self.config.limits.schedule_tuple_id,
        }
    }

    /// The present output, measured or simulated (shared with ISO 15118-2:
    /// `session::evse_dc`).
    fn present(
        &mut self,
        now: Instant,
        out: &Outbox,
        simulated_target: f32,
    ) -> Result<(f32, f32), (ResponseCodeType, SessionError)> {
        self.output
            .read(&self.config, now, out, simulated_target)
            .map_err(|e| (ResponseCodeType::FAILED, e))
    }

    fn set_supply(out: &mut Outbox, voltage: f32, current: f32) {
        evse_dc::set_supply(out, voltage, current);
    }

    /// The answer to an isolation fault while the output may be live: the power supply off at
    /// once, then `kind`'s response with FAILED, EVSE_EmergencyShutdown and isolation Fault
    /// (DIN 70121 `DC_EVSEStatusCodeType`: the charger shut down because of a fault), and
    /// the end of the session.
    fn isolation_fault(
        out: &mut Outbox,
        sid: &[u8],
        kind: MessageKind,
        error: SessionError,
    ) -> Answer {
        evse_dc::supply_off(out);
        let status = if evse_dc::isolation_faulted(out) {
            values::dc_evse_status(
                Some(IsolationLevelType::Fault),
                DC_EVSEStatusCodeType::EVSE_EmergencyShutdown,
            )
        } else {
            // The monitor fell silent: the insulation is unknown, not faulty.
            values::dc_evse_status(
                Some(IsolationLevelType::Invalid),
                DC_EVSEStatusCodeType::EVSE_Malfunction,
            )
        };
        let code = ResponseCodeType::FAILED;
        // The last measured output, not 0 V: the output may still be discharging.
        let u = out
            .snapshot
            .power_supply_voltage
            .value()
            .map_or(0.0, |u| u.0);
        let response = match kind {
            MessageKind::PreCharge => values::pre_charge_res_with_status(sid, code, status, u),
            MessageKind::PowerDelivery => values::power_delivery_res_with_status(sid, code, status),
            _ => {
                let off = PresentOutput {
                    voltage: u,
                    current: 0.0,
                    current_limit_achieved: false,
                    voltage_limit_achieved: false,
                    power_limit_achieved: false,
                };
                values::current_demand_res_with_status(sid, code, status, &off)
            }
        };
        Answer {
            response,
            end: Some(Outcome::Failed(error)),
        }
    }

    #[allow(clippy::too_many_lines)]
    fn answer(
        &mut self,
        now: Instant,
        out: &mut Outbox,
        body: &BodyElement,
    ) -> Result<Answer, (ResponseCodeType, SessionError)> {
        use ResponseCodeType as R;
        let sid = self.session_id.clone();
        let sid = sid.as_slice();
        let mut end = None;
        let (kind, done, response) = match body {
            BodyElement::SessionSetupReq(req) => {
                out.set_phase(Phase::SessionSetup);
                out.command(HardwareCommand::EvccId(values::hex(&req.evccid)));
                // pyPLC: the power supply is set to 0 V / 0 A at the start of a session.
                out.command(HardwareCommand::PowerSupply(PowerSupplySetpoint::OFF));
                let res = values::session_setup_res(
                    sid,
                    R::OK_NewSessionEstablished,
                    &self.config.evse_id,
                );
                (MessageKind::SessionSetup, true, res)
            }
            BodyElement::ServiceDiscoveryReq(_) => {
                out.set_phase(Phase::ServiceSelection);
                (
                    MessageKind::ServiceDiscovery,
                    true,
                    values::service_discovery_res(sid, R::OK),
                )
            }
            BodyElement::ServicePaymentSelectionReq(req) => {
                if req.selected_payment_option != PaymentOptionType::ExternalPayment {
                    return Err((
                        R::FAILED_PaymentSelectionInvalid,
                        SessionError::PeerIncompatible(format!(
                            "payment option {:?}",
                            req.selected_payment_option
                        )),
                    ));
                }
                let ours = req
                    .selected_service_list
                    .selected_service
                    .iter()
                    .any(|s| s.service_id == values::CHARGE_SERVICE_ID);
                if !ours {
                    return Err((
                        R::FAILED_ServiceSelectionInvalid,
                        SessionError::PeerIncompatible("charge service not selected".into()),
                    ));
                }
                (
                    MessageKind::ServicePaymentSelection,
                    true,
                    values::service_payment_selection_res(sid, R::OK),
                )
            }
            BodyElement::ContractAuthenticationReq(_) => {
                out.set_phase(Phase::Authorization);
                // A stop requested at the charger: ContractAuthenticationRes has no status to
                // say so, so let the car on to ChargeParameterDiscoveryRes, whose
                // EVSE_Shutdown ends the session normally.
                let authorized = self.config.authorize_automatically
                    || self.stop_requested
                    || out.snapshot.authorized.value() == Some(true);
                (
                    MessageKind::ContractAuthentication,
                    authorized,
                    values::contract_authentication_res(sid, R::OK, authorized),
                )
            }
            BodyElement::ChargeParameterDiscoveryReq(req) => {
                out.set_phase(Phase::ChargeParameterDiscovery);
                let dc_transfer = matches!(
                    req.ev_requested_energy_transfer_type,
                    EVRequestedEnergyTransferType::DC_core
                        | EVRequestedEnergyTransferType::DC_extended
                        | EVRequestedEnergyTransferType::DC_combo_core
                        | EVRequestedEnergyTransferType::DC_unique
                );
                let EVChargeParameter::DC_EVChargeParameter(p) = &req.ev_charge_parameter else {
                    return Err((
                        R::FAILED_WrongChargeParameter,
                        SessionError::PeerIncompatible("no DC_EVChargeParameter".into()),
                    ));
                };
                if !dc_transfer {
                    return Err((
                        R::FAILED_WrongEnergyTransferType,
                        SessionError::PeerIncompatible(format!(
                            "{:?}",
                            req.ev_requested_energy_transfer_type
                        )),
                    ));
                }
                // The car's maxima bound every set-point; one that is no physical value is
                // a wrong charge parameter (DIN 70121 §9.4, ChargeParameterDiscoveryRes).
                self.ev_limits
                    .update(
                        Some(physical_value(&p.ev_maximum_voltage_limit)),
                        Some(physical_value(&p.ev_maximum_current_limit)),
                        p.ev_maximum_power_limit.as_ref().map(physical_value),
                    )
                    .map_err(|e| (R::FAILED_WrongChargeParameter, e))?;
                out.command(HardwareCommand::VehicleBattery(VehicleBatteryReport {
                    soc: Percent(f32::from(p.dc_ev_status.evresssoc)),
                    full_soc: p.full_soc.map(|s| Percent(f32::from(s))),
                    energy_capacity: p
                        .ev_energy_capacity
                        .as_ref()
                        .map(|e| WattHours(physical_value(e))),
                    energy_request: p
                        .ev_energy_request
                        .as_ref()
                        .map(|e| WattHours(physical_value(e))),
                }));
                out.update_values(|v| v.soc = Some(f32::from(p.dc_ev_status.evresssoc)));
                let limits = self.limits(now, out);
                out.update_values(|v| {
                    v.evse_max_voltage = Some(limits.max_voltage);
                    v.evse_max_current = Some(limits.max_current);
                    v.evse_max_power = Some(limits.max_power);
                });
                let status =
                    values::dc_evse_status(Some(IsolationLevelType::Invalid), self.status_code());
                let res = values::charge_parameter_discovery_res(sid, R::OK, true, status, &limits);
                (MessageKind::ChargeParameterDiscovery, true, res)
            }
            BodyElement::CableCheckReq(_) => {
                out.set_phase(Phase::CableCheck);
                if self.cable_check.is_none() {
                    // Apply the test voltage for the isolation monitor (IEC 61851-23): the
                    // lower of the car's and our maximum voltage.
                    let ours = self.limits(now, out).max_voltage;
                    let u = self.ev_limits.max_voltage.map_or(ours, |ev| ev.min(ours));
                    self.cable_check = Some(CableCheck::start(now, u));
                    if !self.stop_requested {
                        Self::set_supply(out, u, self.config.limits.min_current.0);
                    }
                }
                // The isolation monitor's verdict at the test voltage, or pyPLC's fixed time
                // (shared with ISO 15118-2: `session::evse_dc`).
                let finished = self.stop_requested
                    || match &mut self.cable_check {
                        Some(check) => check
                            .finished(&self.config, now, out)
                            .map_err(|e| (R::FAILED, e))?,
                        None => false,
                    };
                let res = if self.stop_requested {
                    out.command(HardwareCommand::PowerSupply(PowerSupplySetpoint::OFF));
                    values::cable_check_res_with_status(
                        sid,
                        R::OK,
                        true,
                        values::dc_evse_status(
                            Some(IsolationLevelType::Invalid),
                            DC_EVSEStatusCodeType::EVSE_Shutdown,
                        ),
                    )
                } else if finished {
                    // The monitor's verdict (Valid or Warning), not a constant.
                    let isolation =
                        evse_dc::isolation_while_energized(&self.config, now, out, "CableCheck")
                            .map_err(|e| (R::FAILED, e))?;
                    values::cable_check_res_with_status(
                        sid,
                        R::OK,
                        true,
                        values::dc_evse_status(
                            Some(values::isolation_level(isolation)),
                            DC_EVSEStatusCodeType::EVSE_Ready,
                        ),
                    )
                } else {
                    values::cable_check_res(sid, R::OK, false)
                };
                (MessageKind::CableCheck, finished, res)
            }
            BodyElement::PreChargeReq(req) => {
                out.set_phase(Phase::PreCharge);
                let isolation =
                    match evse_dc::isolation_while_energized(&self.config, now, out, "PreCharge") {
                        Ok(status) => values::isolation_level(status),
                        Err(e) => {
                            return Ok(Self::isolation_fault(out, sid, MessageKind::PreCharge, e));
                        }
                    };
                if ev_wants_stop(&req.dc_ev_status) {
                    self.stop_requested = true;
                }
                // A target that is no physical value: FAILED (PreChargeRes has no more specific
                // code), which ends the session with the power off.
                let target_voltage =
                    evse_dc::ev_value("EVTargetVoltage", physical_value(&req.ev_target_voltage))
                        .map_err(|e| (R::FAILED, e))?;
                let target_current =
                    evse_dc::ev_value("EVTargetCurrent", physical_value(&req.ev_target_current))
                        .map_err(|e| (R::FAILED, e))?;
                let limits = evse_dc::limits(&self.config, now, out);
                let setpoint = evse_dc::pre_charge_setpoint(
                    &limits,
                    &self.ev_limits,
                    target_voltage,
                    target_current,
                );
                let target = setpoint.voltage;
                if self.stop_requested {
                    out.command(HardwareCommand::PowerSupply(PowerSupplySetpoint::OFF));
                } else {
                    Self::set_supply(out, target, setpoint.current);
                }
                let (u, _) = self.present(now, out, target)?;
                out.update_values(|v| {
                    v.target_voltage = Some(target);
                    v.present_voltage = Some(u);
                });
                let status = values::dc_evse_status(Some(isolation), self.status_code());
                let res = values::pre_charge_res_with_status(sid, R::OK, status, u);
                (MessageKind::PreCharge, true, res)
            }
            BodyElement::PowerDeliveryReq(req) => {
                if let Some(ccs_msg::din::EVPowerDeliveryParameter::DC_EVPowerDeliveryParameter(
                    p,
                )) = &req.ev_power_delivery_parameter
                {
                    out.update_values(|v| v.soc = Some(f32::from(p.dc_ev_status.evresssoc)));
                }
                let isolation = if req.ready_to_charge_state {
                    out.set_phase(Phase::PowerDeliveryStart);
                    if self.stop_requested {
                        // We answer EVSE_Shutdown: the precharge set-point must not stay on
                        // until the car's next request.
                        evse_dc::supply_off(out);
                    }
                    match evse_dc::isolation_while_energized(
                        &self.config,
                        now,
                        out,
                        "PowerDelivery",
                    ) {
                        Ok(status) => values::isolation_level(status),
                        Err(e) => {
                            return Ok(Self::isolation_fault(
                                out,
                                sid,
                                MessageKind::PowerDelivery,
                                e,
                            ));
                        }
                    }
                } else {
                    out.set_phase(Phase::PowerDeliveryStop);
                    out.command(HardwareCommand::PowerSupply(PowerSupplySetpoint::OFF));
                    // The output is off and the car stops anyway: a fault is only reported.
                    evse_dc::isolation_while_energized(&self.config, now, out, "PowerDelivery")
                        .map_or(IsolationLevelType::Fault, values::isolation_level)
                };
                let status = values::dc_evse_status(Some(isolation), self.status_code());
                let res = values::power_delivery_res_with_status(sid, R::OK, status);
                (MessageKind::PowerDelivery, req.ready_to_charge_state, res)
            }
            BodyElement::CurrentDemandReq(req) => {
                out.set_phase(Phase::Charging);
                let isolation = match evse_dc::isolation_while_energized(
                    &self.config,
                    now,
                    out,
                    "CurrentDemand",
                ) {
                    Ok(status) => values::isolation_level(status),
                    Err(e) => {
                        return Ok(Self::isolation_fault(
                            out,
                            sid,
                            MessageKind::CurrentDemand,
                            e,
                        ));
                    }
                };
                if ev_wants_stop(&req.dc_ev_status) {
                    self.stop_requested = true;
                }
                // The car's optional maxima replace those of ChargeParameterDiscovery; targets
                // or maxima that are no physical values: FAILED (CurrentDemandRes has no more
                // specific code), which ends the session with the power off.
                self.ev_limits
                    .update(
                        req.ev_maximum_voltage_limit.as_ref().map(physical_value),
                        req.ev_maximum_current_limit.as_ref().map(physical_value),
                        req.ev_maximum_power_limit.as_ref().map(physical_value),
                    )
                    .map_err(|e| (R::FAILED, e))?;
                let target_voltage =
                    evse_dc::ev_value("EVTargetVoltage", physical_value(&req.ev_target_voltage))
                        .map_err(|e| (R::FAILED, e))?;
                let target_current =
                    evse_dc::ev_value("EVTargetCurrent", physical_value(&req.ev_target_current))
                        .map_err(|e| (R::FAILED, e))?;
                let limits = evse_dc::limits(&self.config, now, out);
                let setpoint = evse_dc::demand_setpoint(
                    &limits,
                    &self.ev_limits,
                    target_voltage,
                    target_current,
                    evse_dc::fresh_output_voltage(&self.config, now, out),
                );
                let (u_target, i_target) = (setpoint.voltage, setpoint.current);
                let soc = req.dc_ev_status.evresssoc;
                if self.stop_requested {
                    out.command(HardwareCommand::PowerSupply(PowerSupplySetpoint::OFF));
                } else {
                    Self::set_supply(out, u_target, i_target);
                }
                let (u, mut i) = self.present(now, out, u_target)?;
                if self.config.evse_simulate_precharge && !self.stop_requested {
                    i = i_target;
                }
                out.command(HardwareCommand::VehicleBattery(VehicleBatteryReport {
                    soc: Percent(f32::from(soc)),
                    ..VehicleBatteryReport::default()
                }));
                out.update_values(|v| {
                    v.soc = Some(f32::from(soc));
                    v.target_voltage = Some(u_target);
                    v.target_current = Some(i_target);
                    v.present_voltage = Some(u);
                    v.present_current = Some(i);
                });
                let output = PresentOutput {
                    voltage: u,
                    current: i,
                    current_limit_achieved: setpoint.current_limited,
                    voltage_limit_achieved: setpoint.voltage_limited,
                    power_limit_achieved: setpoint.power_limited,
                };
                let status = values::dc_evse_status(Some(isolation), self.status_code());
                let res = values::current_demand_res_with_status(sid, R::OK, status, &output);
                (MessageKind::CurrentDemand, true, res)
            }
            BodyElement::WeldingDetectionReq(_) => {
                out.set_phase(Phase::WeldingDetection);
                out.command(HardwareCommand::PowerSupply(PowerSupplySetpoint::OFF));
                let (u, _) = self.present(now, out, 0.0)?;
                out.update_values(|v| {
                    v.present_voltage = Some(u);
                    v.present_current = Some(0.0);
                });
                let res = values::welding_detection_res(
                    sid,
                    R::OK,
                    DC_EVSEStatusCodeType::EVSE_NotReady,
                    u,
                );
                (MessageKind::WeldingDetection, true, res)
            }
            BodyElement::SessionStopReq(_) => {
                out.set_phase(Phase::SessionStop);
                end = Some(Outcome::Completed);
                (
                    MessageKind::SessionStop,
                    true,
                    values::session_stop_res(sid, R::OK),
                )
            }
            _ => {
                return Err((
                    R::FAILED_SequenceError,
                    SessionError::PeerMisbehaved("not a request".into()),
                ));
            }
        };
        self.last = Some(Last { kind, done });
        Ok(Answer { response, end })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MessageKind as K;

    fn last(kind: MessageKind, done: bool) -> Option<Last> {
        Some(Last { kind, done })
    }

    #[test]
    fn the_normal_sequence_is_allowed() {
        let seq = [
            (K::SessionSetup, true, false),
            (K::ServiceDiscovery, true, false),
            (K::ServicePaymentSelection, true, false),
            (K::ContractAuthentication, true, false),
            (K::ChargeParameterDiscovery, true, false),
            (K::CableCheck, true, false),
            (K::PreCharge, true, false),
            (K::PowerDelivery, true, true),
            (K::CurrentDemand, true, false),
            (K::PowerDelivery, false, false),
            (K::WeldingDetection, true, false),
            (K::SessionStop, true, false),
        ];
        let mut prev = None;
        for (kind, done, starts) in seq {
            assert!(allowed(prev, kind, starts), "{kind:?} after {prev:?}");
            prev = last(kind, done);
        }
    }

    #[test]
    fn out_of_order_requests_are_sequence_errors() {
        assert!(!allowed(None, K::ServiceDiscovery, false));
        assert!(!allowed(last(K::SessionSetup, true), K::CableCheck, false));
        // CableCheck answered Ongoing: PreCharge is too early.
        assert!(!allowed(last(K::CableCheck, false), K::PreCharge, false));
        // ContractAuthentication Finished: no more repeats.
        assert!(!allowed(
            last(K::ContractAuthentication, true),
            K::ContractAuthentication,
            false
        ));
        // No power before PreCharge, but a stop at any point of CableCheck.
        assert!(!allowed(last(K::CableCheck, true), K::PowerDelivery, true));
        assert!(!allowed(last(K::CableCheck, false), K::PowerDelivery, true));
        assert!(allowed(last(K::CableCheck, true), K::PowerDelivery, false));
        assert!(allowed(last(K::CableCheck, false), K::PowerDelivery, false));
        assert!(!allowed(last(K::CurrentDemand, true), K::PreCharge, false));
        assert!(allowed(
            last(K::ServiceDiscovery, true),
            K::SessionStop,
            false
        ));
    }
}
