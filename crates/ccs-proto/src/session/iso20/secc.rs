//! The charger's ISO 15118-20 DC and DC_BPT session (SECC), after the app handshake.
//!
//! Read ISO 15118-20:2022 §8.3 (messages), §8.8 (timing, Table 217 for
//! `V2G_SECC_Sequence_Timeout`) and the Josev capture
//! (`captures/interop_josev0.31.2_secc-evcc_din-iso2-iso20dc_veth.pcap`) before changing this.
//!
//! Every request is checked: the SessionID must be this session's (`FAILED_UnknownSession`),
//! the request must be allowed after the previous one (`FAILED_SequenceError`), the service,
//! parameter set and charge parameters must be the ones offered and selected, and every number
//! the car sends must be usable before it bounds a set-point ([`super::secc_limits`]:
//! `FAILED_WrongChargeParameter`). Set-points stay within both sides' limits in every control
//! mode. The cable check and the insulation monitoring while the output is live follow
//! IEC 61851-23 as in DIN 70121 and ISO 15118-2 ([`evse_dc::CableCheck`],
//! [`evse_dc::isolation_while_energized`]); ISO 15118-20 responses carry no isolation status,
//! so a fault is answered FAILED. A FAILED response ends the session: power supply off,
//! connection closed. A WARNING (authorization refused) keeps the session so that the car can
//! end it with SessionStop.
//!
//! Plug & Charge is offered only over TLS and with a [`super::pnc::ContractVerifier`]: the
//! contract chain must lead to a configured root (`WARNING_Certificate*`), the header Signature
//! must verify over the `PnC_AReqAuthorizationMode` fragment with an accepted suite
//! (`FAILED_SignatureError`), the GenChallenge must be ours (`WARNING_ChallengeInvalid`).
//! [`Secc::request_renegotiation`] and `metering_confirmation_after` make DC_ChargeLoopRes carry
//! the ScheduleRenegotiation and MeteringConfirmation notifications.

use ccs_msg::iso20::common::{
    self, AuthorizationReqType_AReqAuthorizationMode,
    AuthorizationSetupResType_ASResAuthorizationMode, AuthorizationType, ChargeProgressType,
    ChargingScheduleType, ChargingScheduleType_Schedule, Dynamic_SEResControlModeType,
    EIM_ASResAuthorizationModeType, ParameterSetType, ParameterType, ParameterType_Choice,
    PnC_AReqAuthorizationModeType, PnC_ASResAuthorizationModeType, PowerScheduleEntryListType,
    PowerScheduleEntryType, PowerScheduleType, PriceLevelScheduleEntryListType,
    PriceLevelScheduleEntryType, PriceLevelScheduleType, ScheduleExchangeReqType_SEReqControlMode,
    ScheduleExchangeResType_SEResControlMode, ScheduleTupleType, Scheduled_SEResControlModeType,
    ServiceListType, ServiceParameterListType, ServiceType,
};
use ccs_msg::iso20::dc::{self, CLReqControlMode, CLResControlMode, DC_CPDReqEnergyTransferMode};
use ccs_msg::iso20::types::{
    EVSEStatusType, EvseNotificationType, MeterInfoType, ProcessingType, ResponseCodeType,
};

use super::config::ControlMode;
use super::pnc;
use super::secc_limits::{
    PowerLimits, Refusal, ev_discharge_maximum, ev_non_negative, ev_optional, ev_signed,
};
use super::values::{self, Message, MessageKind, SERVICE_DC, SERVICE_DC_BPT, hex, rational};
use crate::hardware::{HardwareCommand, Measurement, Percent, VehicleBatteryReport};
use crate::session::config::SeccConfig;
use crate::session::outbox::Outbox;
use crate::session::timers::{Timer, TimerTable};
use crate::session::{Outcome, Phase, SessionError, SessionEvent, evse_dc};
use crate::time::Instant;
use crate::v2gtp::PayloadType;
use std::sync::Arc;

/// The previous request, as far as the sequence check needs it.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
struct Last {
    kind: MessageKind,
    /// Authorization/ScheduleExchange/CableCheck: answered `Finished`. PowerDelivery: started.
    done: bool,
}

/// Whether request `next` may follow `last` (ISO 15118-20 §8.8.2 message sequencing).
/// `pending`: the last PowerDeliveryReq(Start) said EVProcessing = Ongoing, so the car repeats
/// it (Josev's car does: Ongoing first, then Finished with its power profile).
/// `renegotiating`: the car sent PowerDeliveryReq(ScheduleRenegotiation), so ScheduleExchange
/// follows and then PowerDeliveryReq(Start) again; `metering_due`: the last DC_ChargeLoopRes
/// asked for a MeteringConfirmationReq.
fn allowed(
    last: Option<Last>,
    next: MessageKind,
    starts_power: bool,
    precharged: bool,
    pending: bool,
    renegotiating: bool,
    metering_due: bool,
) -> bool {
    use MessageKind as K;
    let Some(last) = last else {
        return next == K::SessionSetup;
    };
    if next == K::SessionStop {
        return true;
    }
    if renegotiating {
        // ISO 15118-20 §8.8.2 schedule renegotiation: PowerDelivery(ScheduleRenegotiation) →
        // ScheduleExchange (while Ongoing) → PowerDelivery(Start) → DC_ChargeLoop.
        return match (last.kind, next) {
            (K::PowerDelivery, K::ScheduleExchange) => true,
            (K::ScheduleExchange, K::ScheduleExchange) => !last.done,
            (K::ScheduleExchange, K::PowerDelivery) => last.done,
            _ => false,
        };
    }
    match (last.kind, next) {
        (K::ChargeLoop, K::MeteringConfirmation) => metering_due,
        (K::MeteringConfirmation, K::ChargeLoop | K::PowerDelivery) => !starts_power,
        (K::SessionSetup, K::AuthorizationSetup)
        | (K::AuthorizationSetup, K::Authorization)
        | (K::ServiceDiscovery | K::ServiceDetail, K::ServiceDetail | K::ServiceSelection)
        | (K::ServiceSelection, K::ChargeParameterDiscovery)
        | (K::ChargeParameterDiscovery, K::ScheduleExchange)
        | (K::PreCharge, K::PreCharge)
        | (K::ChargeLoop, K::ChargeLoop)
        | (K::WeldingDetection, K::WeldingDetection) => true,
        (K::Authorization, K::Authorization)
        | (K::ScheduleExchange, K::ScheduleExchange)
        | (K::CableCheck, K::CableCheck) => !last.done,
        (K::Authorization, K::ServiceDiscovery)
        | (K::ScheduleExchange, K::CableCheck)
        | (K::CableCheck, K::PreCharge) => last.done,
        // Power only after PreCharge; a stop is allowed once the parameters are known.
        (K::PreCharge, K::PowerDelivery) => !starts_power || precharged,
        (K::ScheduleExchange, K::PowerDelivery) => last.done && !starts_power,
        // A stop while CableCheck is still Ongoing too (a user stop there; stopping is never
        // unsafe), as in the DIN session.
        (K::CableCheck, K::PowerDelivery) => !starts_power,
        (K::PowerDelivery, K::ChargeLoop) => last.done,
        (K::ChargeLoop, K::PowerDelivery) => !starts_power,
        (K::PowerDelivery, K::PowerDelivery) => pending,
        (K::PowerDelivery, K::WeldingDetection) => !last.done && !pending,
        _ => false,
    }
}

/// The charger's ISO 15118-20 DC session.
#[derive(Clone, Debug)]
pub(crate) struct Secc {
    config: SeccConfig,
    session_id: Vec<u8>,
    offer_dc: bool,
    offer_bpt: bool,
    tls: bool,
    last: Option<Last>,
    done: bool,
    timers: TimerTable,
    stop_requested: bool,
    stopped_by_user: bool,
    offered_auth: Vec<AuthorizationType>,
    selected: Option<(u16, ControlMode)>,
    /// The cable check, from the first DC_CableCheckReq.
    cable_check: Option<evse_dc::CableCheck>,
    precharged: bool,
    /// The car's limits of DC_ChargeParameterDiscoveryReq, checked.
    ev_limits: Option<PowerLimits>,
    present: evse_dc::EvseOutput,
    power_delivery_pending: bool,
    /// Validates contract chains and AuthorizationReq signatures (Plug & Charge).
    verifier: Option<Arc<dyn pnc::ContractVerifier>>,
    /// The contract certificate of a Plug & Charge authorization (verifies the
    /// MeteringConfirmationReq signature).
    contract_certificate: Option<Vec<u8>>,
    /// The charger's energy manager asked for a new schedule: the next DC_ChargeLoopRes says
    /// ScheduleRenegotiation.
    renegotiation_requested: bool,
    /// The car sent PowerDeliveryReq(ScheduleRenegotiation).
    renegotiating: bool,
    /// DC_ChargeLoopRes answered so far.
    charge_loops: u32,
    /// The MeterInfo a DC_ChargeLoopRes asked the car to confirm (not yet confirmed).
    metering_due: Option<MeterInfoType>,
    /// A MeteringConfirmation was asked for in this session already.
    metering_asked: bool,
    /// Energy through the output since PowerDelivery(Start), from the present voltage and
    /// current of each charge loop: (into the car, out of the car) in Wh, and when last added.
    metered: (f64, f64, Option<Instant>),
}

/// A failure on the charger's side (a hardware reading, an isolation fault): answered `FAILED`.
fn failed(e: SessionError) -> Refusal {
    (ResponseCodeType::FAILED, e)
}

fn param(name: &str, value: i32) -> ParameterType {
    ParameterType {
        name: name.into(),
        choice: ParameterType_Choice::IntValue(value),
    }
}

/// The car's charge maxima of a Scheduled control mode (the plain and the BPT one carry the
/// same optional fields in different generated types), checked; `?` returns the refusal.
macro_rules! scheduled_charge_limits {
    ($c:expr) => {
        PowerLimits {
            max_voltage: ev_optional(
                $c.ev_maximum_voltage.as_ref(),
                "EVMaximumVoltage",
                ev_non_negative,
            )?,
            max_charge_current: ev_optional(
                $c.ev_maximum_charge_current.as_ref(),
                "EVMaximumChargeCurrent",
                ev_non_negative,
            )?,
            max_charge_power: ev_optional(
                $c.ev_maximum_charge_power.as_ref(),
                "EVMaximumChargePower",
                ev_non_negative,
            )?,
            ..PowerLimits::NONE
        }
    };
}

/// The car's mandatory charge maxima (DC_ChargeParameterDiscoveryReq and the Dynamic control
/// mode, plain or BPT: the same fields in different generated types), checked; `?` returns
/// the refusal.
macro_rules! charge_maxima {
    ($c:expr) => {
        PowerLimits {
            max_voltage: ev_non_negative(&$c.ev_maximum_voltage, "EVMaximumVoltage")?,
            max_charge_current: ev_non_negative(
                &$c.ev_maximum_charge_current,
                "EVMaximumChargeCurrent",
            )?,
            max_charge_power: ev_non_negative(&$c.ev_maximum_charge_power, "EVMaximumChargePower")?,
            ..PowerLimits::NONE
        }
    };
}

impl Secc {
    /// A new session that hands out `session_id`, offering the DC and/or DC_BPT services;
    /// `tls`: the connection is TLS (Plug & Charge is offered only then).
    pub(crate) fn new(
        config: SeccConfig,
        session_id: Vec<u8>,
        now: Instant,
        offer_dc: bool,
        offer_bpt: bool,
        tls: bool,
        verifier: Option<Arc<dyn pnc::ContractVerifier>>,
    ) -> Self {
        let mut timers = TimerTable::default();
        timers.set(Timer::SeccSequence, now + config.timeouts.sequence_timeout);
        Self {
            config,
            session_id,
            offer_dc,
            offer_bpt,
            tls,
            last: None,
            done: false,
            timers,
            stop_requested: false,
            stopped_by_user: false,
            offered_auth: Vec::new(),
            selected: None,
            cable_check: None,
            precharged: false,
            ev_limits: None,
            present: evse_dc::EvseOutput::default(),
            power_delivery_pending: false,
            verifier,
            contract_certificate: None,
            renegotiation_requested: false,
            renegotiating: false,
            charge_loops: 0,
            metering_due: None,
            metering_asked: false,
            metered: (0.0, 0.0, None),
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
            self.handle_stop_request();
        }
    }

    pub(crate) fn handle_stop_request(&mut self) {
        self.stop_requested = true;
        self.stopped_by_user = true;
    }

    /// The energy manager wants a new schedule: EVSENotification ScheduleRenegotiation in the
    /// next DC_ChargeLoopRes.
    pub(crate) fn request_renegotiation(&mut self) {
        self.renegotiation_requested = true;
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
        evse_dc::supply_off(out);
        out.close();
        out.finish(outcome);
    }

    fn header(&self, now: Instant) -> ccs_msg::iso20::types::MessageHeaderType {
        let secs = u64::try_from(now.total_millis().max(0) / 1000).unwrap_or(0);
        values::header(&self.session_id, self.config.iso20.unix_time_at_zero + secs)
    }

    fn respond(&self, out: &mut Outbox, kind: MessageKind, msg: &Message) {
        match msg.encode() {
            Ok((payload_type, bytes)) => {
                out.send_as(payload_type, bytes, kind.response_name(), msg.summary());
            }
            Err(e) => out.event(SessionEvent::Sent {
                name: kind.response_name(),
                summary: format!("NOT SENT, encoder refused: {e}"),
            }),
        }
    }

    fn refuse(&mut self, now: Instant, out: &mut Outbox, kind: MessageKind, refusal: Refusal) {
        let (code, error) = refusal;
        // The output off before the car hears FAILED (it opens its contactors then).
        evse_dc::supply_off(out);
        let res = values::refusal(kind, self.header(now), code);
        self.respond(out, kind, &res);
        self.end(out, Outcome::Failed(error));
    }

    /// Whether `kind` comes before the power flows (PowerDelivery(Start) included).
    fn before_power(kind: MessageKind, starts_power: bool) -> bool {
        use MessageKind as K;
        match kind {
            K::PowerDelivery => starts_power,
            K::ChargeLoop | K::WeldingDetection | K::SessionStop => false,
            _ => true,
        }
    }

    /// A stop at the charger before the power flows. ISO 15118-20 has no EVSEStatus in the
    /// responses before PowerDeliveryRes (Terminate can only be said there and in
    /// DC_ChargeLoopRes), so the charger refuses the car's next request with FAILED and ends
    /// its session as stopped: nothing was powered, the car shuts down at once instead of
    /// looping in PreCharge against a switched-off supply until its timer runs out.
    fn refuse_for_stop(&mut self, now: Instant, out: &mut Outbox, kind: MessageKind) {
        let res = values::refusal(kind, self.header(now), ResponseCodeType::FAILED);
        self.respond(out, kind, &res);
        self.end(out, Outcome::Completed);
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
        let msg = match Message::decode(payload_type, payload) {
            Ok(msg) => msg,
            Err(e) => {
                // An unreadable request: FAILED in the response the sequence expects next.
                let kind = self.expected_next();
                return self.refuse(now, out, kind, (ResponseCodeType::FAILED, e));
            }
        };
        let Some(kind) = msg.request_kind() else {
            let kind = self.expected_next();
            return self.refuse(
                now,
                out,
                kind,
                (
                    ResponseCodeType::FAILED_SequenceError,
                    SessionError::PeerMisbehaved("not a request of a DC session".into()),
                ),
            );
        };
        out.received(kind.request_name(), msg.summary());
        let session_id = msg
            .header()
            .map(|h| h.session_id.clone())
            .unwrap_or_default();
        let starts_power = matches!(
            &msg,
            Message::Common(common::Document::PowerDeliveryReq(r))
                if r.charge_progress == ChargeProgressType::Start
        );
        if kind != MessageKind::SessionSetup && session_id != self.session_id {
            // A request with another session's SessionID: FAILED_UnknownSession (§8.3.3 ResponseCode).
            return self.refuse(
                now,
                out,
                kind,
                (
                    ResponseCodeType::FAILED_UnknownSession,
                    SessionError::PeerMisbehaved(format!(
                        "{} with SessionID {}",
                        kind.request_name(),
                        hex(&session_id)
                    )),
                ),
            );
        }
        if !allowed(
            self.last,
            kind,
            starts_power,
            self.precharged,
            self.power_delivery_pending,
            self.renegotiating,
            self.metering_due.is_some(),
        ) {
            return self.refuse(
                now,
                out,
                kind,
                (
                    ResponseCodeType::FAILED_SequenceError,
                    SessionError::PeerMisbehaved(format!(
                        "{} after {:?}",
                        kind.request_name(),
                        self.last.map(|l| l.kind)
                    )),
                ),
            );
        }
        if self.stop_requested && Self::before_power(kind, starts_power) {
            return self.refuse_for_stop(now, out, kind);
        }
        let (done, response, end) = match self.answer(now, out, &msg) {
            Ok(a) => a,
            Err(refusal) => return self.refuse(now, out, kind, refusal),
        };
        self.last = Some(Last { kind, done });
        self.respond(out, kind, &response);
        if let Some(outcome) = end {
            return self.end(out, outcome);
        }
        self.timers.set(
            Timer::SeccSequence,
            now + self.config.timeouts.sequence_timeout,
        );
    }

    /// The request the sequence expects after the last one (to answer an unreadable request).
    fn expected_next(&self) -> MessageKind {
        use MessageKind as K;
        match self.last.map(|l| (l.kind, l.done)) {
            None => K::SessionSetup,
            Some((K::SessionSetup, _)) => K::AuthorizationSetup,
            Some((K::AuthorizationSetup, _) | (K::Authorization, false)) => K::Authorization,
            Some((K::Authorization, true)) => K::ServiceDiscovery,
            Some((K::ServiceDiscovery | K::ServiceDetail, _)) => K::ServiceSelection,
            Some((K::ServiceSelection, _)) => K::ChargeParameterDiscovery,
            Some((K::ChargeParameterDiscovery, _) | (K::ScheduleExchange, false)) => {
                K::ScheduleExchange
            }
            Some((K::ScheduleExchange, true) | (K::CableCheck, false)) => K::CableCheck,
            Some((K::CableCheck, true) | (K::PreCharge, _)) => K::PreCharge,
            Some((K::PowerDelivery, true) | (K::ChargeLoop, _)) => K::ChargeLoop,
            Some((K::PowerDelivery, false) | (K::WeldingDetection, _)) => K::WeldingDetection,
            Some((K::SessionStop, _)) => K::SessionStop,
            Some((K::MeteringConfirmation, _)) => K::ChargeLoop,
        }
    }

    fn bpt(&self) -> bool {
        matches!(self.selected, Some((SERVICE_DC_BPT, _)))
    }

    fn control_mode(&self) -> ControlMode {
        self.selected.map_or(ControlMode::Scheduled, |(_, m)| m)
    }

    /// EVSEStatus: `Terminate` once the user stopped at the charger, otherwise none needed.
    fn evse_status(&self) -> Option<EVSEStatusType> {
        self.stop_requested.then_some(EVSEStatusType {
            notification_max_delay: 0,
            evse_notification: EvseNotificationType::Terminate,
        })
    }

    fn offered_services(&self) -> Vec<u16> {
        let mut s = Vec::new();
        if self.offer_dc {
            s.push(SERVICE_DC);
        }
        if self.offer_bpt {
            s.push(SERVICE_DC_BPT);
        }
        s
    }

    fn parameter_sets(&self, service_id: u16) -> Vec<ParameterSetType> {
        self.config
            .iso20
            .control_modes
            .iter()
            .enumerate()
            .map(|(i, mode)| {
                let mut parameter = vec![
                    // Connector 2 = Extended (Josev sends it for DC).
                    param("Connector", 2),
                    param("ControlMode", mode.parameter()),
                    param("EVSENominalVoltage", self.config.iso20.nominal_voltage),
                    // MobilityNeedsMode 1 = provided by the EVCC, 2 = by the SECC.
                    param(
                        "MobilityNeedsMode",
                        match mode {
                            ControlMode::Scheduled => 1,
                            ControlMode::Dynamic => 2,
                        },
                    ),
                    param("Pricing", 0),
                ];
                if service_id == SERVICE_DC_BPT {
                    // BPTChannel 1 = unified, GeneratorMode 1 = grid following.
                    parameter.push(param("BPTChannel", 1));
                    parameter.push(param("GeneratorMode", 1));
                }
                ParameterSetType {
                    parameter_set_id: u16::try_from(i + 1).unwrap_or(u16::MAX),
                    parameter,
                }
            })
            .collect()
    }

    #[allow(clippy::too_many_lines)]
    fn answer(
        &mut self,
        now: Instant,
        out: &mut Outbox,
        msg: &Message,
    ) -> Result<(bool, Message, Option<Outcome>), Refusal> {
        use ResponseCodeType as R;
        let header = self.header(now);
        let zero = rational(0.0);
        Ok(match msg {
            Message::Common(common::Document::SessionSetupReq(req)) => {
                out.set_phase(Phase::SessionSetup);
                out.command(HardwareCommand::EvccId(req.evccid.clone()));
                evse_dc::supply_off(out);
                let evse_id = String::from_utf8_lossy(&self.config.evse_id).into_owned();
                let res = common::SessionSetupResType {
                    header,
                    response_code: R::OK_NewSessionEstablished,
                    evseid: evse_id,
                };
                (
                    true,
                    Message::Common(common::Document::SessionSetupRes(res)),
                    None,
                )
            }
            Message::Common(common::Document::AuthorizationSetupReq(_)) => {
                out.set_phase(Phase::Authorization);
                let mut services = Vec::new();
                if self.config.iso20.offer_eim {
                    services.push(AuthorizationType::EIM);
                }
                // Plug & Charge only over TLS (the contract certificate chain travels in it) and
                // only when the chain and the signature can be checked.
                let pnc = self.config.iso20.offer_pnc && self.tls && self.verifier.is_some();
                if pnc {
                    services.push(AuthorizationType::PnC);
                }
                if services.is_empty() {
                    return Err((
                        R::FAILED,
                        SessionError::Config("neither EIM nor PnC offered".into()),
                    ));
                }
                self.offered_auth = services.clone();
                let mode = if pnc {
                    AuthorizationSetupResType_ASResAuthorizationMode::PnC_ASResAuthorizationMode(
                        PnC_ASResAuthorizationModeType {
                            gen_challenge: self.config.iso20.gen_challenge.to_vec(),
                            supported_providers: None,
                        },
                    )
                } else {
                    AuthorizationSetupResType_ASResAuthorizationMode::EIM_ASResAuthorizationMode(
                        EIM_ASResAuthorizationModeType {},
                    )
                };
                let res = common::AuthorizationSetupResType {
                    header,
                    response_code: R::OK,
                    authorization_services: services,
                    certificate_installation_service: false,
                    as_res_authorization_mode: mode,
                };
                (
                    true,
                    Message::Common(common::Document::AuthorizationSetupRes(res)),
                    None,
                )
            }
            Message::Common(common::Document::AuthorizationReq(req)) => {
                let selected = req.selected_authorization_service;
                let mode_matches = matches!(
                    (&req.a_req_authorization_mode, selected),
                    (
                        AuthorizationReqType_AReqAuthorizationMode::EIM_AReqAuthorizationMode(_),
                        AuthorizationType::EIM
                    ) | (
                        AuthorizationReqType_AReqAuthorizationMode::PnC_AReqAuthorizationMode(_),
                        AuthorizationType::PnC
                    )
                );
                // [V2G20-2209]: only a service offered in AuthorizationSetupRes may be selected.
                let (code, processing) = if !self.offered_auth.contains(&selected) || !mode_matches
                {
                    (R::WARNING_AuthorizationSelectionInvalid, ProcessingType::Finished)
                } else if let AuthorizationReqType_AReqAuthorizationMode::PnC_AReqAuthorizationMode(
                    mode,
                ) = &req.a_req_authorization_mode
                {
                    self.check_pnc(out, mode, req.header.signature.as_ref())?
                } else if self.config.authorize_automatically
                    || out.snapshot.authorized.value() == Some(true)
                {
                    (R::OK, ProcessingType::Finished)
                } else {
                    (R::OK, ProcessingType::Ongoing)
                };
                let done = code == R::OK && processing == ProcessingType::Finished;
                if let AuthorizationReqType_AReqAuthorizationMode::PnC_AReqAuthorizationMode(m) =
                    &req.a_req_authorization_mode
                    && done
                {
                    self.contract_certificate =
                        Some(m.contract_certificate_chain.certificate.clone());
                }
                let res = common::AuthorizationResType {
                    header,
                    response_code: code,
                    evse_processing: processing,
                };
                (
                    done,
                    Message::Common(common::Document::AuthorizationRes(res)),
                    None,
                )
            }
            Message::Common(common::Document::ServiceDiscoveryReq(req)) => {
                out.set_phase(Phase::ServiceSelection);
                let wanted = req.supported_service_i_ds.as_ref().map(|l| &l.service_id);
                let service: Vec<ServiceType> = self
                    .offered_services()
                    .into_iter()
                    .filter(|id| wanted.is_none_or(|w| w.contains(id)))
                    .map(|service_id| ServiceType {
                        service_id,
                        free_service: self.config.authorize_automatically,
                    })
                    .collect();
                if service.is_empty() {
                    return Err((
                        R::FAILED_NoEnergyTransferServiceSelected,
                        SessionError::PeerIncompatible("no common energy transfer service".into()),
                    ));
                }
                let res = common::ServiceDiscoveryResType {
                    header,
                    response_code: R::OK,
                    service_renegotiation_supported: false,
                    energy_transfer_service_list: ServiceListType { service },
                    vas_list: None,
                };
                (
                    true,
                    Message::Common(common::Document::ServiceDiscoveryRes(res)),
                    None,
                )
            }
            Message::Common(common::Document::ServiceDetailReq(req)) => {
                if !self.offered_services().contains(&req.service_id) {
                    return Err((
                        R::FAILED_ServiceIDInvalid,
                        SessionError::PeerMisbehaved(format!("ServiceID {}", req.service_id)),
                    ));
                }
                let res = common::ServiceDetailResType {
                    header,
                    response_code: R::OK,
                    service_id: req.service_id,
                    service_parameter_list: ServiceParameterListType {
                        parameter_set: self.parameter_sets(req.service_id),
                    },
                };
                (
                    true,
                    Message::Common(common::Document::ServiceDetailRes(res)),
                    None,
                )
            }
            Message::Common(common::Document::ServiceSelectionReq(req)) => {
                let sel = &req.selected_energy_transfer_service;
                let mode = usize::from(sel.parameter_set_id)
                    .checked_sub(1)
                    .and_then(|i| self.config.iso20.control_modes.get(i).copied());
                let Some(mode) = mode.filter(|_| self.offered_services().contains(&sel.service_id))
                else {
                    return Err((
                        R::FAILED_ServiceSelectionInvalid,
                        SessionError::PeerMisbehaved(format!(
                            "ServiceID {} ParameterSetID {}",
                            sel.service_id, sel.parameter_set_id
                        )),
                    ));
                };
                self.selected = Some((sel.service_id, mode));
                let res = common::ServiceSelectionResType {
                    header,
                    response_code: R::OK,
                };
                (
                    true,
                    Message::Common(common::Document::ServiceSelectionRes(res)),
                    None,
                )
            }
            Message::Dc(dc::Document::DC_ChargeParameterDiscoveryReq(req)) => {
                out.set_phase(Phase::ChargeParameterDiscovery);
                let limits = self.charger_limits(now, out);
                let (max_v, max_i, max_p) = (
                    limits.max_voltage,
                    limits.max_charge_current,
                    limits.max_charge_power,
                );
                let l = &self.config.limits;
                let dc_res = dc::DC_CPDResEnergyTransferModeType {
                    evse_maximum_charge_power: rational(max_p),
                    evse_minimum_charge_power: zero.clone(),
                    evse_maximum_charge_current: rational(max_i),
                    evse_minimum_charge_current: rational(l.min_current.0),
                    evse_maximum_voltage: rational(max_v),
                    evse_minimum_voltage: rational(l.min_voltage.0),
                    evse_power_ramp_limitation: None,
                };
                let mode = match (&req.dc_cpd_req_energy_transfer_mode, self.bpt()) {
                    (DC_CPDReqEnergyTransferMode::DC_CPDReqEnergyTransferMode(p), false) => {
                        self.ev_limits = Some(PowerLimits {
                            max_discharge_current: 0.0,
                            max_discharge_power: 0.0,
                            ..charge_maxima!(p)
                        });
                        self.report_target_soc(out, p.target_soc);
                        dc::DC_CPDResEnergyTransferMode::DC_CPDResEnergyTransferMode(dc_res)
                    }
                    (DC_CPDReqEnergyTransferMode::BPT_DC_CPDReqEnergyTransferMode(p), true) => {
                        // The charge maxima first, as the car's fields come.
                        let charge = charge_maxima!(p);
                        self.ev_limits = Some(PowerLimits {
                            max_discharge_current: ev_discharge_maximum(
                                &p.ev_maximum_discharge_current,
                                "EVMaximumDischargeCurrent",
                            )?,
                            max_discharge_power: ev_discharge_maximum(
                                &p.ev_maximum_discharge_power,
                                "EVMaximumDischargePower",
                            )?,
                            ..charge
                        });
                        self.report_target_soc(out, p.target_soc);
                        let b = &self.config.iso20.bpt;
                        dc::DC_CPDResEnergyTransferMode::BPT_DC_CPDResEnergyTransferMode(
                            dc::BPT_DC_CPDResEnergyTransferModeType {
                                evse_maximum_charge_power: dc_res.evse_maximum_charge_power,
                                evse_minimum_charge_power: dc_res.evse_minimum_charge_power,
                                evse_maximum_charge_current: dc_res.evse_maximum_charge_current,
                                evse_minimum_charge_current: dc_res.evse_minimum_charge_current,
                                evse_maximum_voltage: dc_res.evse_maximum_voltage,
                                evse_minimum_voltage: dc_res.evse_minimum_voltage,
                                evse_power_ramp_limitation: None,
                                evse_maximum_discharge_power: rational(b.max_discharge_power.0),
                                evse_minimum_discharge_power: zero.clone(),
                                evse_maximum_discharge_current: rational(b.max_discharge_current.0),
                                evse_minimum_discharge_current: rational(b.min_discharge_current.0),
                            },
                        )
                    }
                    _ => {
                        // The energy transfer mode must be the one of the selected service.
                        return Err((
                            R::FAILED_WrongChargeParameter,
                            SessionError::PeerMisbehaved(
                                "charge parameters of another service".into(),
                            ),
                        ));
                    }
                };
                out.update_values(|v| {
                    v.evse_max_voltage = Some(max_v);
                    v.evse_max_current = Some(max_i);
                    v.evse_max_power = Some(max_p);
                });
                let res = dc::DC_ChargeParameterDiscoveryResType {
                    header,
                    response_code: R::OK,
                    dc_cpd_res_energy_transfer_mode: mode,
                };
                (
                    true,
                    Message::Dc(dc::Document::DC_ChargeParameterDiscoveryRes(res)),
                    None,
                )
            }
            Message::Common(common::Document::ScheduleExchangeReq(req)) => {
                let mode = match (&req.se_req_control_mode, self.control_mode()) {
                    (
                        ScheduleExchangeReqType_SEReqControlMode::Scheduled_SEReqControlMode(_),
                        ControlMode::Scheduled,
                    ) => ScheduleExchangeResType_SEResControlMode::Scheduled_SEResControlMode(
                        Scheduled_SEResControlModeType {
                            schedule_tuple: vec![
                                self.schedule_tuple(self.charger_limits(now, out).max_charge_power),
                            ],
                        },
                    ),
                    (
                        ScheduleExchangeReqType_SEReqControlMode::Dynamic_SEReqControlMode(_),
                        ControlMode::Dynamic,
                    ) => ScheduleExchangeResType_SEResControlMode::Dynamic_SEResControlMode(
                        Dynamic_SEResControlModeType {
                            departure_time: None,
                            minimum_soc: None,
                            target_soc: None,
                            schedule: None,
                        },
                    ),
                    _ => {
                        return Err((
                            R::FAILED,
                            SessionError::PeerMisbehaved(
                                "ScheduleExchangeReq in the other control mode".into(),
                            ),
                        ));
                    }
                };
                let res = common::ScheduleExchangeResType {
                    header,
                    response_code: R::OK,
                    evse_processing: ProcessingType::Finished,
                    go_to_pause: None,
                    se_res_control_mode: mode,
                };
                (
                    true,
                    Message::Common(common::Document::ScheduleExchangeRes(res)),
                    None,
                )
            }
            Message::Dc(dc::Document::DC_CableCheckReq(_)) => {
                out.set_phase(Phase::CableCheck);
                let check = match &mut self.cable_check {
                    Some(check) => check,
                    None => {
                        // The isolation test voltage: the lower of both maxima (IEC 61851-23).
                        let u = self.session_limits(now, out).max_voltage;
                        evse_dc::set_supply(out, u, self.config.limits.min_current.0);
                        self.cable_check.insert(evse_dc::CableCheck::start(now, u))
                    }
                };
                // The isolation monitor's verdict at the test voltage, or pyPLC's fixed time;
                // a fault is FAILED (ISO 15118-20 DC_CableCheckRes has no isolation status).
                let finished = check
                    .finished(&self.config, now, out)
                    .map_err(|e| (R::FAILED, e))?;
                let res = dc::DC_CableCheckResType {
                    header,
                    response_code: R::OK,
                    evse_processing: if finished {
                        ProcessingType::Finished
                    } else {
                        ProcessingType::Ongoing
                    },
                };
                (
                    finished,
                    Message::Dc(dc::Document::DC_CableCheckRes(res)),
                    None,
                )
            }
            Message::Dc(dc::Document::DC_PreChargeReq(req)) => {
                out.set_phase(Phase::PreCharge);
                evse_dc::isolation_while_energized(&self.config, now, out, "PreCharge")
                    .map_err(failed)?;
                let wanted = ev_non_negative(&req.ev_target_voltage, "EVTargetVoltage")?;
                let target = self.session_limits(now, out).voltage(wanted);
                evse_dc::set_supply(out, target, evse_dc::PRE_CHARGE_MAX_CURRENT);
                self.precharged = true;
                let (u, _) = self
                    .present
                    .read(&self.config, now, out, target)
                    .map_err(failed)?;
                out.update_values(|v| {
                    v.target_voltage = Some(target);
                    v.present_voltage = Some(u);
                });
                let res = dc::DC_PreChargeResType {
                    header,
                    response_code: R::OK,
                    evse_present_voltage: rational(u),
                };
                (true, Message::Dc(dc::Document::DC_PreChargeRes(res)), None)
            }
            Message::Common(common::Document::PowerDeliveryReq(req))
                if req.charge_progress == ChargeProgressType::ScheduleRenegotiation =>
            {
                // The car answers our ScheduleRenegotiation (or asks itself): the power stays
                // on at the present set-point while ScheduleExchange runs again.
                if self.last.map(|l| l.kind) != Some(MessageKind::ChargeLoop)
                    && self.last.map(|l| l.kind) != Some(MessageKind::MeteringConfirmation)
                {
                    return Err((
                        R::FAILED_SequenceError,
                        SessionError::PeerMisbehaved(
                            "ScheduleRenegotiation outside the charge loop".into(),
                        ),
                    ));
                }
                self.renegotiation_requested = false;
                self.renegotiating = true;
                out.set_phase(Phase::ChargeParameterDiscovery);
                let res = common::PowerDeliveryResType {
                    header,
                    response_code: R::OK,
                    evse_status: self.evse_status(),
                };
                (
                    true,
                    Message::Common(common::Document::PowerDeliveryRes(res)),
                    None,
                )
            }
            Message::Common(common::Document::PowerDeliveryReq(req)) => {
                let start = req.charge_progress == ChargeProgressType::Start;
                let finished = req.ev_processing == ProcessingType::Finished;
                self.power_delivery_pending = start && !finished;
                if start && finished {
                    self.renegotiating = false;
                }
                if start {
                    out.set_phase(Phase::PowerDeliveryStart);
                    evse_dc::isolation_while_energized(
                        &self.config,
                        now,
                        out,
                        "PowerDelivery(Start)",
                    )
                    .map_err(failed)?;
                    if req.bpt_channel_selection.is_some() && !self.bpt() {
                        return Err((
                            R::FAILED_PowerDeliveryNotApplied,
                            SessionError::PeerMisbehaved(
                                "BPT channel selection without the DC_BPT service".into(),
                            ),
                        ));
                    }
                } else {
                    out.set_phase(Phase::PowerDeliveryStop);
                    evse_dc::supply_off(out);
                }
                let res = common::PowerDeliveryResType {
                    header,
                    response_code: R::OK,
                    evse_status: self.evse_status(),
                };
                (
                    start,
                    Message::Common(common::Document::PowerDeliveryRes(res)),
                    None,
                )
            }
            Message::Dc(dc::Document::DC_ChargeLoopReq(req)) => {
                let res = self.charge_loop(now, out, req, header)?;
                (true, Message::Dc(dc::Document::DC_ChargeLoopRes(res)), None)
            }
            Message::Dc(dc::Document::DC_WeldingDetectionReq(_)) => {
                out.set_phase(Phase::WeldingDetection);
                evse_dc::supply_off(out);
                let (u, _) = self
                    .present
                    .read(&self.config, now, out, 0.0)
                    .map_err(failed)?;
                out.update_values(|v| {
                    v.present_voltage = Some(u);
                    v.present_current = Some(0.0);
                });
                let res = dc::DC_WeldingDetectionResType {
                    header,
                    response_code: R::OK,
                    evse_present_voltage: rational(u),
                };
                (
                    true,
                    Message::Dc(dc::Document::DC_WeldingDetectionRes(res)),
                    None,
                )
            }
            Message::Common(common::Document::MeteringConfirmationReq(req)) => {
                self.confirm_metering(req)?;
                let res = common::MeteringConfirmationResType {
                    header,
                    response_code: R::OK,
                };
                (
                    true,
                    Message::Common(common::Document::MeteringConfirmationRes(res)),
                    None,
                )
            }
            Message::Common(common::Document::SessionStopReq(_)) => {
                out.set_phase(Phase::SessionStop);
                let res = common::SessionStopResType {
                    header,
                    response_code: R::OK,
                };
                (
                    true,
                    Message::Common(common::Document::SessionStopRes(res)),
                    Some(Outcome::Completed),
                )
            }
            _ => {
                return Err((
                    R::FAILED_SequenceError,
                    SessionError::PeerMisbehaved("not a request".into()),
                ));
            }
        })
    }

    /// MeteringConfirmationReq: the SignedMeteringData must be this session's and carry the
    /// reading we asked to confirm; in a Plug & Charge session it must be signed with the
    /// contract key (the header Signature over the SignedMeteringData fragment).
    fn confirm_metering(
        &mut self,
        req: &common::MeteringConfirmationReqType,
    ) -> Result<(), Refusal> {
        use ResponseCodeType as R;
        let data = &req.signed_metering_data;
        let Some(asked) = self.metering_due.take() else {
            return Err((
                R::FAILED_SequenceError,
                SessionError::PeerMisbehaved("MeteringConfirmationReq not asked for".into()),
            ));
        };
        if data.session_id != self.session_id || data.meter_info != asked {
            return Err((
                R::FAILED_MeteringSignatureNotValid,
                SessionError::PeerMisbehaved(
                    "MeteringConfirmationReq confirms another session or reading".into(),
                ),
            ));
        }
        if let (Some(certificate), Some(verifier)) = (
            self.contract_certificate.as_deref(),
            self.verifier.as_deref(),
        ) {
            let Some(signature) = req.header.signature.as_ref() else {
                return Err((
                    R::FAILED_MeteringSignatureNotValid,
                    SessionError::PeerMisbehaved("unsigned MeteringConfirmationReq".into()),
                ));
            };
            let fragment = common::Fragment::SignedMeteringData(data.clone());
            pnc::verify(
                verifier,
                &self.config.iso20.accepted_signature_suites,
                certificate,
                signature,
                &[(data.id.as_str(), fragment)],
            )
            .map_err(|e| {
                (
                    R::FAILED_MeteringSignatureNotValid,
                    SessionError::PeerMisbehaved(format!("MeteringConfirmationReq: {e}")),
                )
            })?;
        }
        Ok(())
    }

    /// Plug & Charge: the contract chain against the roots, the header signature over the
    /// `PnC_AReqAuthorizationMode` fragment with the contract key, the echoed GenChallenge.
    /// A bad signature is `FAILED_SignatureError` (the session ends); a chain or challenge
    /// problem is a WARNING (the car may end the session with SessionStop).
    fn check_pnc(
        &self,
        out: &mut Outbox,
        mode: &PnC_AReqAuthorizationModeType,
        signature: Option<&ccs_msg::xmldsig::SignatureType>,
    ) -> Result<(ResponseCodeType, ProcessingType), Refusal> {
        use ResponseCodeType as R;
        let finished = |code| Ok((code, ProcessingType::Finished));
        let Some(verifier) = self.verifier.as_deref() else {
            // PnC is offered only with a verifier; a car that selects it anyway is refused.
            return finished(R::WARNING_AuthorizationSelectionInvalid);
        };
        let chain = &mode.contract_certificate_chain;
        let verified =
            match verifier.verify_chain(&chain.certificate, &chain.sub_certificates.certificate) {
                Ok(v) => v,
                Err(e) => {
                    out.event(SessionEvent::Received {
                        name: "contract",
                        summary: format!("refused: {e}"),
                    });
                    return finished(pnc::authorization_code(&e));
                }
            };
        let Some(signature) = signature else {
            return Err((
                R::FAILED_SignatureError,
                SessionError::PeerMisbehaved("PnC AuthorizationReq without a signature".into()),
            ));
        };
        let fragment = common::Fragment::PnC_AReqAuthorizationMode(mode.clone());
        if let Err(e) = pnc::verify(
            verifier,
            &self.config.iso20.accepted_signature_suites,
            &chain.certificate,
            signature,
            &[(mode.id.as_str(), fragment)],
        ) {
            return Err((
                pnc::authorization_code(&e),
                SessionError::PeerMisbehaved(format!("AuthorizationReq: {e}")),
            ));
        }
        out.event(SessionEvent::Received {
            name: "contract",
            summary: format!(
                "valid, signed, eMAID {}",
                verified.common_name.as_deref().unwrap_or("?")
            ),
        });
        // The car must echo the GenChallenge of AuthorizationSetupRes.
        if mode.gen_challenge == self.config.iso20.gen_challenge {
            finished(R::OK)
        } else {
            finished(R::WARNING_ChallengeInvalid)
        }
    }

    fn report_target_soc(&self, out: &mut Outbox, target_soc: Option<u8>) {
        if let Some(t) = target_soc {
            out.command(HardwareCommand::VehicleBattery(VehicleBatteryReport {
                full_soc: Some(Percent(f32::from(t))),
                ..VehicleBatteryReport::default()
            }));
        }
    }

    /// The one schedule of the Scheduled mode: the charger's maximum power for 24 h, and for
    /// DC_BPT the same for discharging.
    fn schedule_tuple(&self, max_power: f32) -> ScheduleTupleType {
        let schedule = |power: f32| ChargingScheduleType {
            power_schedule: PowerScheduleType {
                time_anchor: 0,
                available_energy: None,
                power_tolerance: None,
                power_schedule_entries: PowerScheduleEntryListType {
                    power_schedule_entry: vec![PowerScheduleEntryType {
                        duration: 86_400,
                        power: rational(power),
                        power_l2: None,
                        power_l3: None,
                    }],
                },
            },
            // The schema makes the price schedule optional; Josev 0.31.2's car rejects a
            // ChargingSchedule without one, so one flat price level goes along.
            schedule: Some(ChargingScheduleType_Schedule::PriceLevelSchedule(
                PriceLevelScheduleType {
                    id: None,
                    time_anchor: 0,
                    price_schedule_id: 1,
                    price_schedule_description: None,
                    number_of_price_levels: 1,
                    price_level_schedule_entries: PriceLevelScheduleEntryListType {
                        price_level_schedule_entry: vec![PriceLevelScheduleEntryType {
                            duration: 86_400,
                            price_level: 0,
                        }],
                    },
                },
            )),
        };
        ScheduleTupleType {
            schedule_tuple_id: 1,
            charging_schedule: schedule(max_power),
            discharging_schedule: self
                .bpt()
                .then(|| schedule(-self.config.iso20.bpt.max_discharge_power.0)),
        }
    }

    /// Adds the energy since the last charge loop at present voltage `u` and current `i`.
    fn meter(&mut self, now: Instant, u: f32, i: f32) {
        if let Some(last) = self.metered.2 {
            let hours = now.saturating_duration_since(last).total_millis() as f64 / 3_600_000.0;
            let wh = f64::from(u) * f64::from(i) * hours;
            if wh >= 0.0 {
                self.metered.0 += wh;
            } else {
                self.metered.1 -= wh;
            }
        }
        self.metered.2 = Some(now);
    }

    /// The EVSEStatus and MeterInfo of a DC_ChargeLoopRes: Terminate once the user stopped,
    /// then ScheduleRenegotiation when the energy manager asked for it, then (once) a
    /// MeteringConfirmation request with the meter reading.
    fn charge_loop_notification(&mut self) -> (Option<EVSEStatusType>, Option<MeterInfoType>) {
        let notify = |n| {
            Some(EVSEStatusType {
                notification_max_delay: 0,
                evse_notification: n,
            })
        };
        if self.stop_requested {
            return (self.evse_status(), None);
        }
        if self.renegotiation_requested {
            return (notify(EvseNotificationType::ScheduleRenegotiation), None);
        }
        let due = self
            .config
            .iso20
            .metering_confirmation_after
            .is_some_and(|n| self.charge_loops >= n);
        if due && !self.metering_asked {
            self.metering_asked = true;
            let reading = MeterInfoType {
                meter_id: String::from_utf8_lossy(&self.config.evse_id).into_owned(),
                charged_energy_reading_wh: self.metered.0.round() as u64,
                bpt_discharged_energy_reading_wh: self.bpt().then(|| self.metered.1.round() as u64),
                capacitive_energy_reading_va_rh: None,
                bpt_inductive_energy_reading_va_rh: None,
                meter_signature: None,
                meter_status: None,
                meter_timestamp: None,
            };
            self.metering_due = Some(reading.clone());
            return (
                notify(EvseNotificationType::MeteringConfirmation),
                Some(reading),
            );
        }
        (None, None)
    }

    /// The charger's limits now, with the discharge limits when DC_BPT runs.
    fn charger_limits(&self, now: Instant, out: &Outbox) -> PowerLimits {
        let bpt = self.bpt().then_some(&self.config.iso20.bpt);
        PowerLimits::charger(&evse_dc::limits(&self.config, now, out), bpt)
    }

    /// Both sides' limits: the charger's now and the car's of DC_ChargeParameterDiscovery.
    fn session_limits(&self, now: Instant, out: &Outbox) -> PowerLimits {
        let ours = self.charger_limits(now, out);
        self.ev_limits.map_or(ours, |ev| ours.and(ev))
    }

    #[allow(clippy::too_many_lines)]
    fn charge_loop(
        &mut self,
        now: Instant,
        out: &mut Outbox,
        req: &dc::DC_ChargeLoopReqType,
        header: ccs_msg::iso20::types::MessageHeaderType,
    ) -> Result<dc::DC_ChargeLoopResType, Refusal> {
        use ResponseCodeType as R;
        out.set_phase(Phase::Charging);
        evse_dc::isolation_while_energized(&self.config, now, out, "the charge loop")
            .map_err(failed)?;
        let ours = self.charger_limits(now, out);
        let (max_v, max_i, max_p) = (
            ours.max_voltage,
            ours.max_charge_current,
            ours.max_charge_power,
        );
        let limits = self.session_limits(now, out);
        let bpt = self.bpt();
        let mode = self.control_mode();
        // Dynamic: the charger decides the current (its energy manager's, or as much as both
        // sides allow) at the car's maximum voltage, within the limits the car sends in every
        // request (mandatory in Dynamic_DC_CLReqControlMode: a car that tapers lowers them).
        let wanted = self
            .config
            .iso20
            .dynamic_current
            .map_or(f32::INFINITY, |a| a.0);
        let dynamic = |in_loop: PowerLimits| {
            let limits = limits.and(in_loop);
            let u = limits.voltage(f32::INFINITY);
            (u, limits.current(wanted, u))
        };
        let (u_target, i_target) = match (&req.cl_req_control_mode, mode, bpt) {
            (CLReqControlMode::Scheduled_DC_CLReqControlMode(c), ControlMode::Scheduled, false) => {
                let limits = limits.and(scheduled_charge_limits!(c));
                let u = limits.voltage(ev_non_negative(&c.ev_target_voltage, "EVTargetVoltage")?);
                let i = ev_non_negative(&c.ev_target_current, "EVTargetCurrent")?;
                (u, limits.current(i, u))
            }
            (
                CLReqControlMode::BPT_Scheduled_DC_CLReqControlMode(c),
                ControlMode::Scheduled,
                true,
            ) => {
                // The charge maxima first, as the car's fields come.
                let charge = scheduled_charge_limits!(c);
                let limits = limits.and(PowerLimits {
                    max_discharge_current: ev_optional(
                        c.ev_maximum_discharge_current.as_ref(),
                        "EVMaximumDischargeCurrent",
                        ev_discharge_maximum,
                    )?,
                    max_discharge_power: ev_optional(
                        c.ev_maximum_discharge_power.as_ref(),
                        "EVMaximumDischargePower",
                        ev_discharge_maximum,
                    )?,
                    ..charge
                });
                let u = limits.voltage(ev_non_negative(&c.ev_target_voltage, "EVTargetVoltage")?);
                let i = ev_signed(&c.ev_target_current, "EVTargetCurrent")?;
                (u, limits.current(i, u))
            }
            (CLReqControlMode::Dynamic_DC_CLReqControlMode(c), ControlMode::Dynamic, false) => {
                dynamic(charge_maxima!(c))
            }
            (CLReqControlMode::BPT_Dynamic_DC_CLReqControlMode(c), ControlMode::Dynamic, true) => {
                let charge = charge_maxima!(c);
                dynamic(PowerLimits {
                    max_discharge_current: ev_discharge_maximum(
                        &c.ev_maximum_discharge_current,
                        "EVMaximumDischargeCurrent",
                    )?,
                    max_discharge_power: ev_discharge_maximum(
                        &c.ev_maximum_discharge_power,
                        "EVMaximumDischargePower",
                    )?,
                    ..charge
                })
            }
            _ => {
                return Err((
                    R::FAILED,
                    SessionError::PeerMisbehaved(
                        "DC_ChargeLoopReq in another control mode or service".into(),
                    ),
                ));
            }
        };
        if self.stop_requested {
            evse_dc::supply_off(out);
        } else {
            evse_dc::set_supply(out, u_target, i_target);
        }
        let (u, i) = self
            .present
            .read(&self.config, now, out, u_target)
            .map_err(failed)?;
        let soc = req.display_parameters.as_ref().and_then(|d| d.present_soc);
        if let Some(soc) = soc {
            out.command(HardwareCommand::VehicleBattery(VehicleBatteryReport {
                soc: Percent(f32::from(soc)),
                ..VehicleBatteryReport::default()
            }));
        }
        out.update_values(|v| {
            v.soc = soc.map(f32::from).or(v.soc);
            v.target_voltage = Some(u_target);
            v.target_current = Some(i_target);
            v.present_voltage = Some(u);
            v.present_current = Some(i);
        });
        let b = &self.config.iso20.bpt;
        let cl_res = match (mode, bpt) {
            (ControlMode::Scheduled, false) => CLResControlMode::Scheduled_DC_CLResControlMode(
                dc::Scheduled_DC_CLResControlModeType {
                    evse_maximum_charge_power: Some(rational(max_p)),
                    evse_minimum_charge_power: Some(rational(0.0)),
                    evse_maximum_charge_current: Some(rational(max_i)),
                    evse_maximum_voltage: Some(rational(max_v)),
                },
            ),
            (ControlMode::Scheduled, true) => CLResControlMode::BPT_Scheduled_DC_CLResControlMode(
                dc::BPT_Scheduled_DC_CLResControlModeType {
                    evse_maximum_charge_power: Some(rational(max_p)),
                    evse_minimum_charge_power: Some(rational(0.0)),
                    evse_maximum_charge_current: Some(rational(max_i)),
                    evse_maximum_voltage: Some(rational(max_v)),
                    evse_maximum_discharge_power: Some(rational(b.max_discharge_power.0)),
                    evse_minimum_discharge_power: Some(rational(0.0)),
                    evse_maximum_discharge_current: Some(rational(b.max_discharge_current.0)),
                    evse_minimum_voltage: Some(rational(self.config.limits.min_voltage.0)),
                },
            ),
            (ControlMode::Dynamic, false) => {
                CLResControlMode::Dynamic_DC_CLResControlMode(dc::Dynamic_DC_CLResControlModeType {
                    departure_time: None,
                    minimum_soc: None,
                    target_soc: None,
                    ack_max_delay: None,
                    evse_maximum_charge_power: rational(max_p),
                    evse_minimum_charge_power: rational(0.0),
                    evse_maximum_charge_current: rational(max_i),
                    evse_maximum_voltage: rational(max_v),
                })
            }
            (ControlMode::Dynamic, true) => CLResControlMode::BPT_Dynamic_DC_CLResControlMode(
                dc::BPT_Dynamic_DC_CLResControlModeType {
                    departure_time: None,
                    minimum_soc: None,
                    target_soc: None,
                    ack_max_delay: None,
                    evse_maximum_charge_power: rational(max_p),
                    evse_minimum_charge_power: rational(0.0),
                    evse_maximum_charge_current: rational(max_i),
                    evse_maximum_voltage: rational(max_v),
                    evse_maximum_discharge_power: rational(b.max_discharge_power.0),
                    evse_minimum_discharge_power: rational(0.0),
                    evse_maximum_discharge_current: rational(b.max_discharge_current.0),
                    evse_minimum_voltage: rational(self.config.limits.min_voltage.0),
                },
            ),
        };
        self.charge_loops += 1;
        self.meter(now, u, i);
        let (evse_status, meter_info) = self.charge_loop_notification();
        Ok(dc::DC_ChargeLoopResType {
            header,
            response_code: R::OK,
            evse_status,
            meter_info,
            receipt: None,
            evse_present_current: rational(i),
            evse_present_voltage: rational(u),
            evse_power_limit_achieved: (u_target * i_target).abs() >= max_p,
            evse_current_limit_achieved: i_target >= max_i,
            evse_voltage_limit_achieved: u_target >= max_v,
            cl_res_control_mode: cl_res,
        })
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
    fn the_josev_sequence_is_allowed() {
        let seq = [
            (K::SessionSetup, true, false),
            (K::AuthorizationSetup, true, false),
            (K::Authorization, true, false),
            (K::ServiceDiscovery, true, false),
            (K::ServiceDetail, true, false),
            (K::ServiceSelection, true, false),
            (K::ChargeParameterDiscovery, true, false),
            (K::ScheduleExchange, true, false),
            (K::CableCheck, false, false),
            (K::CableCheck, true, false),
            (K::PreCharge, true, false),
            (K::PowerDelivery, true, true),
            (K::ChargeLoop, true, false),
            (K::PowerDelivery, false, false),
            (K::WeldingDetection, true, false),
            (K::SessionStop, true, false),
        ];
        let mut prev = None;
        for (kind, done, starts) in seq {
            assert!(
                allowed(prev, kind, starts, true, false, false, false),
                "{kind:?} after {prev:?}"
            );
            prev = last(kind, done);
        }
    }

    #[test]
    fn out_of_order_requests_are_refused() {
        // (last, next, next starts power, precharged, PowerDelivery pending)
        let ok = |last, next, starts, precharged, pending| {
            allowed(last, next, starts, precharged, pending, false, false)
        };
        assert!(!ok(None, K::AuthorizationSetup, false, false, false));
        let after_setup = last(K::SessionSetup, true);
        assert!(!ok(after_setup, K::ServiceDiscovery, false, false, false));
        let auth_ongoing = last(K::Authorization, false);
        assert!(!ok(auth_ongoing, K::ServiceDiscovery, false, false, false));
        let cable_ongoing = last(K::CableCheck, false);
        assert!(!ok(cable_ongoing, K::PreCharge, false, false, false));
        let cable_done = last(K::CableCheck, true);
        assert!(!ok(cable_done, K::PowerDelivery, true, false, false));
        assert!(ok(cable_done, K::PowerDelivery, false, false, false));
        let looping = last(K::ChargeLoop, true);
        assert!(!ok(looping, K::PreCharge, false, true, false));
        assert!(ok(
            last(K::ServiceDetail, true),
            K::SessionStop,
            false,
            false,
            false
        ));
        // PowerDelivery(Start) repeats only while the car said EVProcessing = Ongoing.
        let pd_ongoing = last(K::PowerDelivery, false);
        assert!(ok(pd_ongoing, K::PowerDelivery, true, true, true));
        assert!(!ok(
            last(K::PowerDelivery, true),
            K::PowerDelivery,
            true,
            true,
            false
        ));
        assert!(!ok(pd_ongoing, K::ChargeLoop, false, true, true));
        assert!(!ok(pd_ongoing, K::WeldingDetection, false, true, true));
    }

    #[test]
    fn renegotiation_and_metering_confirmation_have_their_own_order() {
        let reneg = |last, next, starts| allowed(last, next, starts, true, false, true, false);
        let pd = last(K::PowerDelivery, true);
        assert!(reneg(pd, K::ScheduleExchange, false));
        assert!(
            !reneg(pd, K::ChargeLoop, false),
            "no loop before the new schedule"
        );
        assert!(!reneg(pd, K::CableCheck, false));
        assert!(reneg(
            last(K::ScheduleExchange, false),
            K::ScheduleExchange,
            false
        ));
        assert!(!reneg(
            last(K::ScheduleExchange, false),
            K::PowerDelivery,
            true
        ));
        assert!(reneg(
            last(K::ScheduleExchange, true),
            K::PowerDelivery,
            true
        ));
        // MeteringConfirmationReq only when the last DC_ChargeLoopRes asked for it.
        let looping = last(K::ChargeLoop, true);
        assert!(!allowed(
            looping,
            K::MeteringConfirmation,
            false,
            true,
            false,
            false,
            false
        ));
        assert!(allowed(
            looping,
            K::MeteringConfirmation,
            false,
            true,
            false,
            false,
            true
        ));
        let confirmed = last(K::MeteringConfirmation, true);
        assert!(allowed(
            confirmed,
            K::ChargeLoop,
            false,
            true,
            false,
            false,
            false
        ));
    }
}
