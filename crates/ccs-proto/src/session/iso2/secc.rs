//! The charger's ISO 15118-2 session (SECC, the TCP server), after the app handshake: DC and
//! AC, EIM and Plug & Charge.
//!
//! Read ISO 15118-2 §8.4 (messages and response codes), §8.8.4 (sequences) and Table 110 (the
//! SECC's performance times: every answer here is computed synchronously, well inside them)
//! before changing this file.
//!
//! Every request is checked: the SessionID must be this session's (`FAILED_UnknownSession`),
//! the request must be allowed after the previous one (`FAILED_SequenceError`), and each
//! message's own conditions give the response code the standard names for them. A FAILED
//! response ends the session: power supply off, connection closed.

use std::sync::Arc;

use ccs_msg::iso2::{
    AC_EVSEChargeParameterType, AuthorizationResType, BodyElement, CableCheckResType,
    ChargeParameterDiscoveryResType, ChargeProgressType, ChargeServiceType, ChargingSessionType,
    ChargingStatusResType, ConsumptionCostType, CostKindType, CostType, CurrentDemandResType,
    DC_EVErrorCodeType, DC_EVSEChargeParameterType, DC_EVSEStatusCodeType, DC_EVStatusType,
    EVChargeParameter, EVSEChargeParameter, EVSENotificationType, EVSEProcessingType, EVSEStatus,
    Fragment, IsolationLevelType, MeterInfoType, MeteringReceiptResType, PMaxScheduleEntryType,
    PMaxScheduleType, ParameterSetType, ParameterType, ParameterType_Value, PaymentDetailsResType,
    PaymentOptionListType, PaymentServiceSelectionResType, PowerDeliveryResType, PreChargeResType,
    RelativeTimeIntervalType, ResponseCodeType, SAScheduleListType, SAScheduleTupleType,
    SASchedules, SalesTariffEntryType, SalesTariffType, ServiceCategoryType, ServiceDetailResType,
    ServiceDiscoveryResType, ServiceListType, ServiceParameterListType, ServiceType,
    SessionSetupResType, SessionStopResType, SupportedEnergyTransferModeType, TimeInterval,
    UnitSymbolType, V2G_Message, WeldingDetectionResType,
};

use super::config::{EnergyTransfer, PaymentMethod};
use super::msg::{
    self, CERTIFICATE_SERVICE_ID, CHARGE_SERVICE_ID, MessageKind, physical, physical_value,
};
use super::pnc::{self, CertificateBackend, ContractVerifier};
use crate::hardware::{
    HardwareCommand, IsolationStatus, Measurement, Percent, VehicleBatteryReport, WattHours,
};
use crate::session::config::SeccConfig;
use crate::session::evse_dc::{self, CableCheck, EvLimits, EvseOutput};
use crate::session::outbox::Outbox;
use crate::session::timers::{Timer, TimerTable};
use crate::session::{Outcome, Phase, SessionError, SessionEvent};
use crate::time::Instant;
use crate::v2gtp::PayloadType;

/// The one SAScheduleTuple the charger offers.
const SA_SCHEDULE_TUPLE_ID: u8 = 1;

/// What Plug & Charge needs on the charger: the verifier, the certificate backend, and a fresh
/// random GenChallenge for this session (the core has no RNG).
#[derive(Clone, Debug)]
pub struct SeccPnc {
    /// Validates contract chains and verifies signatures.
    pub verifier: Arc<dyn ContractVerifier>,
    /// Answers CertificateInstallation/Update; `None` = the service is not offered.
    pub backend: Option<Arc<dyn CertificateBackend>>,
    /// The GenChallenge of PaymentDetailsRes: 16 random bytes, fresh per session.
    pub gen_challenge: [u8; 16],
}

/// The previous request, as far as the sequence check needs it.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
struct Last {
    kind: MessageKind,
    /// The Ongoing loops: whether we answered `Finished`.
    done: bool,
    /// PowerDelivery: its ChargeProgress.
    progress: Option<ChargeProgressType>,
}

/// Whether request `next` (with `progress` for PowerDelivery) may follow `last` (ISO 15118-2
/// §8.8.4, Figures 104-107).
fn allowed(
    last: Option<Last>,
    next: MessageKind,
    progress: Option<ChargeProgressType>,
    dc: bool,
    renegotiating: bool,
) -> bool {
    use ChargeProgressType as P;
    use MessageKind as K;
    let Some(last) = last else {
        return next == K::SessionSetup;
    };
    if next == K::SessionStop {
        // The car may end the session from any point after SessionSetup.
        return true;
    }
    let starts = progress == Some(P::Start);
    let stops = progress == Some(P::Stop);
    match (last.kind, next) {
        (K::SessionSetup, K::ServiceDiscovery)
        | (K::ServiceDiscovery | K::ServiceDetail, K::ServiceDetail)
        | (K::ServiceDiscovery | K::ServiceDetail, K::PaymentServiceSelection)
        | (
            K::PaymentServiceSelection,
            K::PaymentDetails | K::CertificateInstallation | K::CertificateUpdate,
        )
        | (K::CertificateInstallation | K::CertificateUpdate, K::PaymentDetails)
        | (K::PaymentServiceSelection | K::PaymentDetails, K::Authorization) => true,
        (K::Authorization, K::Authorization) => !last.done,
        (K::Authorization, K::ChargeParameterDiscovery) => last.done,
        (K::ChargeParameterDiscovery, K::ChargeParameterDiscovery) => !last.done,
        (K::ChargeParameterDiscovery, K::CableCheck) => last.done && dc,
        // After a renegotiation, power is on already: PowerDelivery(Start) follows directly.
        (K::ChargeParameterDiscovery, K::PowerDelivery) => {
            last.done && (!dc || !starts || renegotiating)
        }
        (K::CableCheck, K::CableCheck) => !last.done,
        (K::CableCheck, K::PreCharge) => last.done,
        // A stop is allowed while CableCheck is still Ongoing too (a user stop there; stopping
        // is never unsafe), as in the DIN session.
        (K::CableCheck, K::PowerDelivery) => stops,
        (K::PreCharge, K::PreCharge) => true,
        (K::PreCharge, K::PowerDelivery) => starts || stops,
        (K::PowerDelivery, K::CurrentDemand) => last.progress == Some(P::Start) && dc,
        (K::PowerDelivery, K::ChargingStatus) => last.progress == Some(P::Start) && !dc,
        (K::PowerDelivery, K::ChargeParameterDiscovery) => last.progress == Some(P::Renegotiate),
        (K::PowerDelivery, K::WeldingDetection) => last.progress == Some(P::Stop) && dc,
        (K::CurrentDemand, K::CurrentDemand) => dc,
        (K::ChargingStatus, K::ChargingStatus) => !dc,
        (K::CurrentDemand | K::ChargingStatus, K::MeteringReceipt) => true,
        (K::MeteringReceipt, K::CurrentDemand) => dc,
        (K::MeteringReceipt, K::ChargingStatus) => !dc,
        (K::CurrentDemand | K::ChargingStatus | K::MeteringReceipt, K::PowerDelivery) => !starts,
        (K::WeldingDetection, K::WeldingDetection) => true,
        _ => false,
    }
}

/// The charger's ISO-2 session.
#[derive(Clone, Debug)]
pub(crate) struct Secc {
    config: SeccConfig,
    session_id: Vec<u8>,
    tls: bool,
    pnc: Option<SeccPnc>,
    last: Option<Last>,
    done: bool,
    timers: TimerTable,
    stop_requested: bool,
    stopped_by_user: bool,
    /// The car ended with SessionStop(Pause): it may rejoin with `session_id`.
    paused: bool,
    renegotiation_requested: bool,
    dc: bool,
    payment: Option<PaymentMethod>,
    services_offered: Vec<u16>,
    contract_certificate: Option<Vec<u8>>,
    authorized: bool,
    p_max: f32,
    cable_check: Option<CableCheck>,
    ev_limits: EvLimits,
    output: EvseOutput,
    meter_wh: f64,
    meter_at: Option<Instant>,
    receipt_asked: bool,
    renegotiating: bool,
}

/// A refusal: the response code and whose fault.
type Refusal = (ResponseCodeType, SessionError);

fn refusal(code: ResponseCodeType, error: SessionError) -> Refusal {
    (code, error)
}

/// Whether the car's DC_EVStatus in PreChargeReq or CurrentDemandReq means "stop": an error
/// code other than NO_ERROR (RESS temperature, shift position, ...; the charger must not
/// deliver more energy), or EVReady = false (ISO 15118-2 `DC_EVStatusType`: EVReady true =
/// the car is ready to charge). As in DIN (`din::secc`), the charger then switches off and
/// answers EVSE_Shutdown, so the car winds down in order; real cars send EVReady false only
/// from PowerDelivery(Stop) on, which is not checked.
fn ev_wants_stop(status: &DC_EVStatusType) -> bool {
    status.ev_error_code != DC_EVErrorCodeType::NO_ERROR || !status.ev_ready
}

/// ISO 15118-2 `isolationLevelType` for the isolation monitor's verdict.
fn isolation_level(status: IsolationStatus) -> IsolationLevelType {
    match status {
        IsolationStatus::Invalid => IsolationLevelType::Invalid,
        IsolationStatus::Valid => IsolationLevelType::Valid,
        IsolationStatus::Warning => IsolationLevelType::Warning,
        IsolationStatus::Fault => IsolationLevelType::Fault,
        IsolationStatus::NoImd => IsolationLevelType::No_IMD,
    }
}

impl Secc {
    /// A new ISO-2 session that hands out `session_id`; `tls` says whether the connection is
    /// TLS (Plug & Charge and the certificate service only then).
    pub(crate) fn new(
        config: SeccConfig,
        session_id: Vec<u8>,
        tls: bool,
        pnc: Option<SeccPnc>,
        now: Instant,
    ) -> Self {
        let mut timers = TimerTable::default();
        timers.set(Timer::SeccSequence, now + config.timeouts.sequence_timeout);
        let p_max = config
            .iso2
            .schedule_p_max
            .unwrap_or(config.limits.max_power.0);
        Self {
            config,
            session_id,
            tls,
            pnc,
            last: None,
            done: false,
            timers,
            stop_requested: false,
            stopped_by_user: false,
            paused: false,
            renegotiation_requested: false,
            dc: true,
            payment: None,
            services_offered: Vec::new(),
            contract_certificate: None,
            authorized: false,
            p_max,
            cable_check: None,
            ev_limits: EvLimits::default(),
            output: EvseOutput::default(),
            meter_wh: 0.0,
            meter_at: None,
            receipt_asked: false,
            renegotiating: false,
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_timeout()
    }

    pub(crate) fn stopped_by_user(&self) -> bool {
        self.stopped_by_user
    }

    /// The SessionID a car that paused (SessionStop(Pause)) may rejoin with.
    pub(crate) fn paused_session_id(&self) -> Option<&[u8]> {
        self.paused.then_some(self.session_id.as_slice())
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

    /// Asks the car to renegotiate (EVSENotification ReNegotiation in the next charge loop
    /// response), e.g. because the grid limits changed.
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

    fn expected_after(&self) -> MessageKind {
        use MessageKind as K;
        match self.last.map(|l| (l.kind, l.done)) {
            None => K::SessionSetup,
            Some((K::SessionSetup, _)) => K::ServiceDiscovery,
            Some((K::ServiceDiscovery | K::ServiceDetail, _)) => K::PaymentServiceSelection,
            Some((K::PaymentServiceSelection | K::PaymentDetails, _)) => K::Authorization,
            Some((K::CertificateInstallation | K::CertificateUpdate, _)) => K::PaymentDetails,
            Some((K::Authorization, false)) => K::Authorization,
            Some((K::Authorization, true) | (K::ChargeParameterDiscovery, false)) => {
                K::ChargeParameterDiscovery
            }
            Some((K::ChargeParameterDiscovery, true)) if self.dc => K::CableCheck,
            Some((K::ChargeParameterDiscovery, true)) => K::PowerDelivery,
            Some((K::CableCheck, false)) => K::CableCheck,
            Some((K::CableCheck, true) | (K::PreCharge, _)) => K::PreCharge,
            Some((K::PowerDelivery | K::CurrentDemand | K::MeteringReceipt, _)) if self.dc => {
                K::CurrentDemand
            }
            Some((K::PowerDelivery | K::ChargingStatus | K::MeteringReceipt, _)) => {
                K::ChargingStatus
            }
            Some((K::CurrentDemand, _)) => K::CurrentDemand,
            Some((K::WeldingDetection, _)) => K::WeldingDetection,
            Some((K::SessionStop, _)) => K::SessionStop,
        }
    }

    fn refuse(&mut self, out: &mut Outbox, kind: MessageKind, (code, error): Refusal) {
        let res = msg::failed_response(
            &self.session_id,
            kind,
            code,
            &self.config.iso2.evse_id,
            self.dc,
        );
        self.respond(out, kind, &res);
        self.end(out, Outcome::Failed(error));
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
            ccs_msg::iso2::decode(payload).map_err(|e| e.to_string())
        } else {
            Err(format!("V2GTP payload type {payload_type:?}"))
        };
        let request = match decoded {
            Ok(msg) => msg,
            Err(e) => {
                // A request we cannot read: FAILED in the response the sequence expects.
                let kind = self.expected_after();
                return self.refuse(
                    out,
                    kind,
                    refusal(ResponseCodeType::FAILED, SessionError::InvalidMessage(e)),
                );
            }
        };
        let Some(body) = request.body.body_element.as_ref() else {
            let kind = self.expected_after();
            return self.refuse(
                out,
                kind,
                refusal(
                    ResponseCodeType::FAILED,
                    SessionError::InvalidMessage("empty Body".into()),
                ),
            );
        };
        let Some(kind) = MessageKind::of_request(body) else {
            let kind = self.expected_after();
            return self.refuse(
                out,
                kind,
                refusal(
                    ResponseCodeType::FAILED_SequenceError,
                    SessionError::PeerMisbehaved("not a request".into()),
                ),
            );
        };
        out.received(kind.request_name(), msg::summary(body));
        let progress = match body {
            BodyElement::PowerDeliveryReq(r) => Some(r.charge_progress),
            _ => None,
        };
        if kind != MessageKind::SessionSetup && request.header.session_id != self.session_id {
            return self.refuse(
                out,
                kind,
                refusal(
                    ResponseCodeType::FAILED_UnknownSession,
                    SessionError::PeerMisbehaved(format!(
                        "{} with SessionID {}",
                        kind.request_name(),
                        msg::hex(&request.header.session_id)
                    )),
                ),
            );
        }
        if !allowed(self.last, kind, progress, self.dc, self.renegotiating) {
            return self.refuse(
                out,
                kind,
                refusal(
                    ResponseCodeType::FAILED_SequenceError,
                    SessionError::PeerMisbehaved(format!(
                        "{} after {:?}",
                        kind.request_name(),
                        self.last.map(|l| l.kind)
                    )),
                ),
            );
        }
        match self.answer(now, out, &request, body) {
            Ok((response, done, end)) => {
                self.last = Some(Last {
                    kind,
                    done,
                    progress,
                });
                self.respond(out, kind, &response);
                if let Some(outcome) = end {
                    return self.end(out, outcome);
                }
                self.timers.set(
                    Timer::SeccSequence,
                    now + self.config.timeouts.sequence_timeout,
                );
            }
            Err(r) => self.refuse(out, kind, r),
        }
    }

    fn respond(&self, out: &mut Outbox, kind: MessageKind, res: &V2G_Message) {
        match ccs_msg::iso2::encode(res) {
            Ok(bytes) => {
                let summary = res
                    .body
                    .body_element
                    .as_ref()
                    .map(msg::summary)
                    .unwrap_or_default();
                out.send(bytes, kind.response_name(), summary);
            }
            Err(e) => out.event(SessionEvent::Sent {
                name: kind.response_name(),
                summary: format!("NOT SENT, encoder refused: {e}"),
            }),
        }
    }

    fn payment_options(&self) -> Vec<PaymentMethod> {
        self.config
            .iso2
            .payment_options
            .iter()
            .copied()
            // Contract only over TLS and with a verifier (ISO 15118-2 §7.7.3: PnC needs TLS).
            .filter(|p| *p != PaymentMethod::Contract || (self.tls && self.pnc.is_some()))
            .collect()
    }

    fn certificate_service(&self) -> bool {
        self.tls && self.pnc.as_ref().is_some_and(|p| p.backend.is_some())
    }

    fn notification(&mut self) -> EVSENotificationType {
        if self.stop_requested {
            EVSENotificationType::StopCharging
        } else if self.renegotiation_requested {
            self.renegotiation_requested = false;
            EVSENotificationType::ReNegotiation
        } else {
            EVSENotificationType::None
        }
    }

    fn status_code(&self) -> DC_EVSEStatusCodeType {
        if self.stop_requested {
            DC_EVSEStatusCodeType::EVSE_Shutdown
        } else {
            DC_EVSEStatusCodeType::EVSE_Ready
        }
    }

    fn meter_info(&self, now: Instant) -> MeterInfoType {
        let _ = now;
        MeterInfoType {
            meter_id: self.config.iso2.meter_id.clone(),
            meter_reading: Some(self.meter_wh.max(0.0).round() as u64),
            sig_meter_reading: None,
            meter_status: None,
            t_meter: None,
        }
    }

    /// Integrates the delivered energy for MeterReading.
    fn meter(&mut self, now: Instant, watts: f32) {
        if let Some(at) = self.meter_at {
            let hours = now.saturating_duration_since(at).as_secs_f64() / 3600.0;
            self.meter_wh += f64::from(watts.max(0.0)) * hours;
        }
        self.meter_at = Some(now);
    }

    /// ReceiptRequired: once per session, with Plug & Charge and when configured.
    fn receipt_required(&mut self) -> Option<bool> {
        if self.payment != Some(PaymentMethod::Contract) || !self.config.iso2.receipt_required {
            return None;
        }
        let ask = !self.receipt_asked;
        self.receipt_asked = true;
        Some(ask)
    }

    fn sa_schedules(&self, departure_time: Option<u32>) -> SASchedules {
        // [V2G2-303]/[V2G2-304]: the schedule covers the departure time, or 24 h without one.
        let duration = departure_time.filter(|d| *d > 0).unwrap_or(86_400);
        let sales_tariff = (self.config.iso2.sales_tariff).then(|| SalesTariffType {
            id: Some("ID2".into()),
            sales_tariff_id: 1,
            sales_tariff_description: None,
            num_e_price_levels: Some(1),
            sales_tariff_entry: vec![SalesTariffEntryType {
                time_interval: TimeInterval::RelativeTimeInterval(RelativeTimeIntervalType {
                    start: 0,
                    duration: Some(duration),
                }),
                e_price_level: Some(1),
                consumption_cost: vec![ConsumptionCostType {
                    start_value: physical(0.0, UnitSymbolType::Wh),
                    cost: vec![CostType {
                        cost_kind: CostKindType::RelativePricePercentage,
                        amount: 100,
                        amount_multiplier: None,
                    }],
                }],
            }],
        });
        SASchedules::SAScheduleList(SAScheduleListType {
            sa_schedule_tuple: vec![SAScheduleTupleType {
                sa_schedule_tuple_id: SA_SCHEDULE_TUPLE_ID,
                p_max_schedule: PMaxScheduleType {
                    p_max_schedule_entry: vec![PMaxScheduleEntryType {
                        time_interval: TimeInterval::RelativeTimeInterval(
                            RelativeTimeIntervalType {
                                start: 0,
                                duration: Some(duration),
                            },
                        ),
                        p_max: physical(self.p_max, UnitSymbolType::W),
                    }],
                },
                sales_tariff,
            }],
        })
    }

    /// The answer to an isolation fault while the output may be live: the power supply off at
    /// once, then `kind`'s response with FAILED, EVSE_EmergencyShutdown and isolation Fault
    /// (ISO 15118-2 `DC_EVSEStatusCodeType`: the charger shut down because of a fault), and
    /// the end of the session.
    fn isolation_fault(
        &self,
        out: &mut Outbox,
        kind: MessageKind,
        error: SessionError,
    ) -> (V2G_Message, bool, Option<Outcome>) {
        evse_dc::supply_off(out);
        let mut res = msg::failed_response(
            &self.session_id,
            kind,
            ResponseCodeType::FAILED,
            &self.config.iso2.evse_id,
            true,
        );
        let fault = if evse_dc::isolation_faulted(out) {
            msg::dc_evse_status(
                Some(IsolationLevelType::Fault),
                DC_EVSEStatusCodeType::EVSE_EmergencyShutdown,
                EVSENotificationType::None,
            )
        } else {
            // The monitor fell silent: the insulation is unknown, not faulty.
            msg::dc_evse_status(
                Some(IsolationLevelType::Invalid),
                DC_EVSEStatusCodeType::EVSE_Malfunction,
                EVSENotificationType::None,
            )
        };
        match &mut res.body.body_element {
            Some(BodyElement::PreChargeRes(r)) => r.dc_evse_status = fault,
            Some(BodyElement::CurrentDemandRes(r)) => r.dc_evse_status = fault,
            Some(BodyElement::PowerDeliveryRes(r)) => {
                r.evse_status = EVSEStatus::DC_EVSEStatus(fault);
            }
            _ => {}
        }
        (res, true, Some(Outcome::Failed(error)))
    }

    fn evse_status(&mut self) -> EVSEStatus {
        let notification = self.notification();
        if self.dc {
            EVSEStatus::DC_EVSEStatus(msg::dc_evse_status(None, self.status_code(), notification))
        } else {
            EVSEStatus::AC_EVSEStatus(msg::ac_evse_status(notification, self.config.iso2.ac.rcd))
        }
    }

    #[allow(clippy::too_many_lines)]
    fn answer(
        &mut self,
        now: Instant,
        out: &mut Outbox,
        request: &V2G_Message,
        body: &BodyElement,
    ) -> Result<(V2G_Message, bool, Option<Outcome>), Refusal> {
        use ResponseCodeType as R;
        let sid = self.session_id.clone();
        let reply = |body: BodyElement| msg::message(&sid, body);
        let evse_id = self.config.iso2.evse_id.clone();
        let hw = |e: SessionError| refusal(R::FAILED, e);
        Ok(match body {
            BodyElement::SessionSetupReq(req) => {
                out.set_phase(Phase::SessionSetup);
                out.command(HardwareCommand::EvccId(msg::hex(&req.evccid)));
                evse_dc::supply_off(out);
                // ISO 15118-2 §8.4.3.2: a car that paused with SessionStop(Pause) rejoins
                // with the paused SessionID; any other SessionID starts a new session.
                let paused = self.config.iso2.paused_session_id.as_deref();
                let rejoin = paused
                    .is_some_and(|id| id != msg::NO_SESSION_ID && request.header.session_id == id);
                let code = if rejoin {
                    self.session_id.clone_from(&request.header.session_id);
                    R::OK_OldSessionJoined
                } else {
                    R::OK_NewSessionEstablished
                };
                (
                    msg::message(
                        &self.session_id,
                        BodyElement::SessionSetupRes(SessionSetupResType {
                            response_code: code,
                            evseid: evse_id,
                            evse_time_stamp: None,
                        }),
                    ),
                    true,
                    None,
                )
            }
            BodyElement::ServiceDiscoveryReq(_) => {
                out.set_phase(Phase::ServiceSelection);
                let mut services: Vec<ServiceType> = self
                    .config
                    .iso2
                    .services
                    .iter()
                    .map(|s| ServiceType {
                        service_id: s.id,
                        service_name: Some(s.name.clone()),
                        service_category: ServiceCategoryType::OtherCustom,
                        service_scope: None,
                        free_service: true,
                    })
                    .collect();
                if self.certificate_service() {
                    services.push(ServiceType {
                        service_id: CERTIFICATE_SERVICE_ID,
                        service_name: Some("Certificate".into()),
                        service_category: ServiceCategoryType::ContractCertificate,
                        service_scope: None,
                        free_service: true,
                    });
                }
                self.services_offered = services.iter().map(|s| s.service_id).collect();
                let res = ServiceDiscoveryResType {
                    response_code: R::OK,
                    payment_option_list: PaymentOptionListType {
                        payment_option: self
                            .payment_options()
                            .into_iter()
                            .map(Into::into)
                            .collect(),
                    },
                    charge_service: ChargeServiceType {
                        service_id: CHARGE_SERVICE_ID,
                        service_name: Some("AC_DC_Charging".into()),
                        service_category: ServiceCategoryType::EVCharging,
                        service_scope: None,
                        free_service: false,
                        supported_energy_transfer_mode: SupportedEnergyTransferModeType {
                            energy_transfer_mode: self
                                .config
                                .iso2
                                .energy_transfers
                                .iter()
                                .map(|t| (*t).into())
                                .collect(),
                        },
                    },
                    service_list: (!services.is_empty())
                        .then_some(ServiceListType { service: services }),
                };
                (reply(BodyElement::ServiceDiscoveryRes(res)), true, None)
            }
            BodyElement::ServiceDetailReq(req) => {
                // [V2G2-425]: FAILED_ServiceIDInvalid for a ServiceID not offered.
                if !self.services_offered.contains(&req.service_id) {
                    return Err(refusal(
                        R::FAILED_ServiceIDInvalid,
                        SessionError::PeerMisbehaved(format!(
                            "ServiceDetail for ServiceID {}",
                            req.service_id
                        )),
                    ));
                }
                let parameters = (req.service_id == CERTIFICATE_SERVICE_ID).then(|| {
                    let set = |id: i16, name: &str| ParameterSetType {
                        parameter_set_id: id,
                        parameter: vec![ParameterType {
                            name: "Service".into(),
                            value: ParameterType_Value::StringValue(name.into()),
                        }],
                    };
                    ServiceParameterListType {
                        parameter_set: vec![set(1, "Installation"), set(2, "Update")],
                    }
                });
                (
                    reply(BodyElement::ServiceDetailRes(ServiceDetailResType {
                        response_code: R::OK,
                        service_id: req.service_id,
                        service_parameter_list: parameters,
                    })),
                    true,
                    None,
                )
            }
            BodyElement::PaymentServiceSelectionReq(req) => {
                let method = PaymentMethod::from(req.selected_payment_option);
                if !self.payment_options().contains(&method) {
                    return Err(refusal(
                        R::FAILED_PaymentSelectionInvalid,
                        SessionError::PeerIncompatible(format!("payment option {method:?}")),
                    ));
                }
                let selected = &req.selected_service_list.selected_service;
                if !selected.iter().any(|s| s.service_id == CHARGE_SERVICE_ID) {
                    return Err(refusal(
                        R::FAILED_NoChargeServiceSelected,
                        SessionError::PeerIncompatible("charge service not selected".into()),
                    ));
                }
                if let Some(s) = selected.iter().find(|s| {
                    s.service_id != CHARGE_SERVICE_ID
                        && !self.services_offered.contains(&s.service_id)
                }) {
                    return Err(refusal(
                        R::FAILED_ServiceSelectionInvalid,
                        SessionError::PeerMisbehaved(format!(
                            "ServiceID {} selected",
                            s.service_id
                        )),
                    ));
                }
                self.payment = Some(method);
                (
                    reply(BodyElement::PaymentServiceSelectionRes(
                        PaymentServiceSelectionResType {
                            response_code: R::OK,
                        },
                    )),
                    true,
                    None,
                )
            }
            BodyElement::CertificateInstallationReq(req) => {
                let Some(backend) = self.pnc.as_ref().and_then(|p| p.backend.clone()) else {
                    return Err(refusal(
                        R::FAILED_NoCertificateAvailable,
                        SessionError::PeerIncompatible("no certificate service".into()),
                    ));
                };
                let res = backend.certificate_installation(req).map_err(|e| {
                    refusal(e.response_code(), SessionError::PeerRefused(e.to_string()))
                })?;
                let mut message = reply(res.body);
                message.header.signature = res.signature;
                (message, true, None)
            }
            BodyElement::CertificateUpdateReq(req) => {
                let Some(pnc) = self.pnc.as_ref() else {
                    return Err(refusal(
                        R::FAILED_NoCertificateAvailable,
                        SessionError::PeerIncompatible("no certificate service".into()),
                    ));
                };
                let Some(backend) = pnc.backend.clone() else {
                    return Err(refusal(
                        R::FAILED_NoCertificateAvailable,
                        SessionError::PeerIncompatible("no certificate service".into()),
                    ));
                };
                // The request is signed with the contract key it renews: checked with the
                // leaf it carries before it goes to the backend (the chain itself may be
                // close to expiry, which is why the car renews it; the backend judges it).
                let Some(signature) = request.header.signature.as_ref() else {
                    return Err(refusal(
                        R::FAILED_SignatureError,
                        SessionError::PeerMisbehaved("CertificateUpdateReq unsigned".into()),
                    ));
                };
                pnc::verify(
                    pnc.verifier.as_ref(),
                    &req.contract_signature_cert_chain.certificate,
                    signature,
                    &[(req.id.as_str(), Fragment::CertificateUpdateReq(req.clone()))],
                )
                .map_err(|e| {
                    refusal(
                        R::FAILED_SignatureError,
                        SessionError::PeerMisbehaved(e.to_string()),
                    )
                })?;
                let res = backend.certificate_update(req).map_err(|e| {
                    refusal(e.response_code(), SessionError::PeerRefused(e.to_string()))
                })?;
                let mut message = reply(res.body);
                message.header.signature = res.signature;
                (message, true, None)
            }
            BodyElement::PaymentDetailsReq(req) => {
                out.set_phase(Phase::Authorization);
                let Some(pnc) = self
                    .pnc
                    .as_ref()
                    .filter(|_| self.payment == Some(PaymentMethod::Contract))
                else {
                    return Err(refusal(
                        R::FAILED_SequenceError,
                        SessionError::PeerMisbehaved("PaymentDetails without Contract".into()),
                    ));
                };
                pnc.verifier
                    .verify_chain(&req.contract_signature_cert_chain)
                    .map_err(|e| {
                        refusal(e.response_code(), SessionError::PeerRefused(e.to_string()))
                    })?;
                self.contract_certificate =
                    Some(req.contract_signature_cert_chain.certificate.clone());
                (
                    reply(BodyElement::PaymentDetailsRes(PaymentDetailsResType {
                        response_code: R::OK,
                        gen_challenge: pnc.gen_challenge.to_vec(),
                        evse_time_stamp: 0,
                    })),
                    true,
                    None,
                )
            }
            BodyElement::AuthorizationReq(req) => {
                out.set_phase(Phase::Authorization);
                if self.payment == Some(PaymentMethod::Contract) && !self.authorized {
                    self.check_authorization(request, req)?;
                    self.authorized = true;
                }
                // [V2G2-854]: EIM without a positive identification stays Ongoing.
                let authorized = self.authorized
                    || self.config.authorize_automatically
                    || out.snapshot.authorized.value() == Some(true);
                (
                    reply(BodyElement::AuthorizationRes(AuthorizationResType {
                        response_code: R::OK,
                        evse_processing: if authorized {
                            EVSEProcessingType::Finished
                        } else {
                            EVSEProcessingType::Ongoing_WaitingForCustomerInteraction
                        },
                    })),
                    authorized,
                    None,
                )
            }
            BodyElement::ChargeParameterDiscoveryReq(req) => {
                out.set_phase(Phase::ChargeParameterDiscovery);
                let mode = EnergyTransfer::from(req.requested_energy_transfer_mode);
                if !self.config.iso2.energy_transfers.contains(&mode) {
                    return Err(refusal(
                        R::FAILED_WrongEnergyTransferMode,
                        SessionError::PeerIncompatible(format!("{mode:?}")),
                    ));
                }
                let departure = match &req.ev_charge_parameter {
                    EVChargeParameter::DC_EVChargeParameter(p) if mode.is_dc() => {
                        // The car's maxima bound every set-point; one that is no physical
                        // value is a wrong charge parameter ([V2G2-477]).
                        self.ev_limits
                            .update(
                                Some(physical_value(&p.ev_maximum_voltage_limit)),
                                Some(physical_value(&p.ev_maximum_current_limit)),
                                p.ev_maximum_power_limit.as_ref().map(physical_value),
                            )
                            .map_err(|e| refusal(R::FAILED_WrongChargeParameter, e))?;
                        let soc = f32::from(p.dc_ev_status.evresssoc);
                        out.command(HardwareCommand::VehicleBattery(VehicleBatteryReport {
                            soc: Percent(soc),
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
                        out.update_values(|v| v.soc = Some(soc));
                        p.departure_time
                    }
                    EVChargeParameter::AC_EVChargeParameter(p) if !mode.is_dc() => {
                        out.command(HardwareCommand::VehicleBattery(VehicleBatteryReport {
                            energy_request: Some(WattHours(physical_value(&p.e_amount))),
                            ..VehicleBatteryReport::default()
                        }));
                        p.departure_time
                    }
                    _ => {
                        // [V2G2-477]: parameters that do not fit the requested mode.
                        return Err(refusal(
                            R::FAILED_WrongChargeParameter,
                            SessionError::PeerMisbehaved(format!(
                                "charge parameters do not fit {mode:?}"
                            )),
                        ));
                    }
                };
                self.dc = mode.is_dc();
                let notification = self.notification();
                let parameter = if self.dc {
                    let l = evse_dc::limits(&self.config, now, out);
                    out.update_values(|v| {
                        v.evse_max_voltage = Some(l.max_voltage);
                        v.evse_max_current = Some(l.max_current);
                        v.evse_max_power = Some(l.max_power);
                    });
                    EVSEChargeParameter::DC_EVSEChargeParameter(DC_EVSEChargeParameterType {
                        dc_evse_status: msg::dc_evse_status(
                            Some(IsolationLevelType::Invalid),
                            self.status_code(),
                            notification,
                        ),
                        evse_maximum_current_limit: physical(l.max_current, UnitSymbolType::A),
                        evse_maximum_power_limit: physical(l.max_power, UnitSymbolType::W),
                        evse_maximum_voltage_limit: physical(l.max_voltage, UnitSymbolType::V),
                        evse_minimum_current_limit: physical(l.min_current, UnitSymbolType::A),
                        evse_minimum_voltage_limit: physical(l.min_voltage, UnitSymbolType::V),
                        evse_current_regulation_tolerance: Some(physical(
                            l.current_regulation_tolerance,
                            UnitSymbolType::A,
                        )),
                        evse_peak_current_ripple: physical(
                            l.peak_current_ripple,
                            UnitSymbolType::A,
                        ),
                        evse_energy_to_be_delivered: None,
                    })
                } else {
                    let ac = &self.config.iso2.ac;
                    out.update_values(|v| {
                        v.evse_max_voltage = Some(ac.nominal_voltage.0);
                        v.evse_max_current = Some(ac.max_current.0);
                    });
                    EVSEChargeParameter::AC_EVSEChargeParameter(AC_EVSEChargeParameterType {
                        ac_evse_status: msg::ac_evse_status(notification, ac.rcd),
                        evse_nominal_voltage: physical(ac.nominal_voltage.0, UnitSymbolType::V),
                        evse_max_current: physical(ac.max_current.0, UnitSymbolType::A),
                    })
                };
                (
                    reply(BodyElement::ChargeParameterDiscoveryRes(
                        ChargeParameterDiscoveryResType {
                            response_code: R::OK,
                            evse_processing: EVSEProcessingType::Finished,
                            sa_schedules: Some(self.sa_schedules(departure)),
                            evse_charge_parameter: parameter,
                        },
                    )),
                    true,
                    None,
                )
            }
            BodyElement::CableCheckReq(_) => {
                out.set_phase(Phase::CableCheck);
                if self.stop_requested {
                    evse_dc::supply_off(out);
                    let status = msg::dc_evse_status(
                        Some(IsolationLevelType::Invalid),
                        DC_EVSEStatusCodeType::EVSE_Shutdown,
                        EVSENotificationType::StopCharging,
                    );
                    return Ok((
                        reply(BodyElement::CableCheckRes(CableCheckResType {
                            response_code: R::OK,
                            dc_evse_status: status,
                            evse_processing: EVSEProcessingType::Finished,
                        })),
                        true,
                        None,
                    ));
                }
                let check = match &mut self.cable_check {
                    Some(check) => check,
                    None => {
                        // The test voltage for the isolation monitor (IEC 61851-23): the lower
                        // of the car's and our maximum voltage.
                        let ours = evse_dc::limits(&self.config, now, out).max_voltage;
                        let u = self.ev_limits.max_voltage.map_or(ours, |ev| ev.min(ours));
                        evse_dc::set_supply(out, u, self.config.limits.min_current.0);
                        self.cable_check.insert(CableCheck::start(now, u))
                    }
                };
                // The isolation monitor's verdict at the test voltage, or pyPLC's fixed time.
                let finished = check.finished(&self.config, now, out).map_err(hw)?;
                // pyPLC (Audi Q4): Ongoing → IsolationMonitoringActive; Finished → EVSE_Ready
                // with isolation Valid.
                let status = if finished {
                    // The monitor's verdict (Valid, Warning, No_IMD), not a constant.
                    let isolation =
                        evse_dc::isolation_while_energized(&self.config, now, out, "CableCheck")
                            .map_err(hw)?;
                    msg::dc_evse_status(
                        Some(isolation_level(isolation)),
                        DC_EVSEStatusCodeType::EVSE_Ready,
                        EVSENotificationType::None,
                    )
                } else {
                    msg::dc_evse_status(
                        Some(IsolationLevelType::Invalid),
                        DC_EVSEStatusCodeType::EVSE_IsolationMonitoringActive,
                        EVSENotificationType::None,
                    )
                };
                (
                    reply(BodyElement::CableCheckRes(CableCheckResType {
                        response_code: R::OK,
                        dc_evse_status: status,
                        evse_processing: if finished {
                            EVSEProcessingType::Finished
                        } else {
                            EVSEProcessingType::Ongoing
                        },
                    })),
                    finished,
                    None,
                )
            }
            BodyElement::PreChargeReq(req) => {
                out.set_phase(Phase::PreCharge);
                let isolation =
                    match evse_dc::isolation_while_energized(&self.config, now, out, "PreCharge") {
                        Ok(status) => isolation_level(status),
                        Err(e) => return Ok(self.isolation_fault(out, MessageKind::PreCharge, e)),
                    };
                if ev_wants_stop(&req.dc_ev_status) {
                    self.stop_requested = true;
                }
                // A target that is no physical value: FAILED (PreChargeRes has no more specific
                // code), which ends the session with the power off.
                let target_voltage =
                    evse_dc::ev_value("EVTargetVoltage", physical_value(&req.ev_target_voltage))
                        .map_err(|e| refusal(R::FAILED, e))?;
                let target_current =
                    evse_dc::ev_value("EVTargetCurrent", physical_value(&req.ev_target_current))
                        .map_err(|e| refusal(R::FAILED, e))?;
                let limits = evse_dc::limits(&self.config, now, out);
                let setpoint = evse_dc::pre_charge_setpoint(
                    &limits,
                    &self.ev_limits,
                    target_voltage,
                    target_current,
                );
                let target = setpoint.voltage;
                if self.stop_requested {
                    evse_dc::supply_off(out);
                } else {
                    evse_dc::set_supply(out, target, setpoint.current);
                }
                let (u, _) = self
                    .output
                    .read(&self.config, now, out, target)
                    .map_err(hw)?;
                out.update_values(|v| {
                    v.target_voltage = Some(target);
                    v.present_voltage = Some(u);
                });
                let notification = self.notification();
                (
                    reply(BodyElement::PreChargeRes(PreChargeResType {
                        response_code: R::OK,
                        dc_evse_status: msg::dc_evse_status(
                            Some(isolation),
                            self.status_code(),
                            notification,
                        ),
                        evse_present_voltage: physical(u, UnitSymbolType::V),
                    })),
                    true,
                    None,
                )
            }
            BodyElement::PowerDeliveryReq(req) => {
                if req.sa_schedule_tuple_id != SA_SCHEDULE_TUPLE_ID {
                    return Err(refusal(
                        R::FAILED_TariffSelectionInvalid,
                        SessionError::PeerMisbehaved(format!(
                            "SAScheduleTupleID {}",
                            req.sa_schedule_tuple_id
                        )),
                    ));
                }
                // [V2G2-225]: a ChargingProfile above the PMaxSchedule is refused.
                if let Some(profile) = &req.charging_profile
                    && let Some(entry) = profile.profile_entry.iter().find(|e| {
                        physical_value(&e.charging_profile_entry_max_power) > self.p_max + 0.5
                    })
                {
                    return Err(refusal(
                        R::FAILED_ChargingProfileInvalid,
                        SessionError::PeerMisbehaved(format!(
                            "ChargingProfile entry of {} W above PMax {} W",
                            physical_value(&entry.charging_profile_entry_max_power),
                            self.p_max
                        )),
                    ));
                }
                if let Some(ccs_msg::iso2::EVPowerDeliveryParameter::DC_EVPowerDeliveryParameter(
                    p,
                )) = &req.ev_power_delivery_parameter
                {
                    out.update_values(|v| v.soc = Some(f32::from(p.dc_ev_status.evresssoc)));
                }
                match req.charge_progress {
                    ChargeProgressType::Start => {
                        self.renegotiating = false;
                        out.set_phase(Phase::PowerDeliveryStart);
                        if self.dc
                            && let Err(e) = evse_dc::isolation_while_energized(
                                &self.config,
                                now,
                                out,
                                "PowerDelivery",
                            )
                        {
                            return Ok(self.isolation_fault(out, MessageKind::PowerDelivery, e));
                        }
                        if self.stop_requested {
                            // We answer EVSE_Shutdown / StopCharging: the precharge set-point
                            // must not stay on until the car's next request.
                            evse_dc::supply_off(out);
                        } else if !self.dc {
                            // AC: the supply relay closes (the car signals CP state C with
                            // this request, [V2G2-847]; [V2G2-860] gives us 3 s).
                            let ac = &self.config.iso2.ac;
                            evse_dc::set_supply(out, ac.nominal_voltage.0, ac.max_current.0);
                        }
                    }
                    ChargeProgressType::Stop => {
                        out.set_phase(Phase::PowerDeliveryStop);
                        evse_dc::supply_off(out);
                    }
                    ChargeProgressType::Renegotiate => {
                        self.renegotiating = true;
                        out.set_phase(Phase::ChargeParameterDiscovery);
                    }
                }
                let status = self.evse_status();
                (
                    reply(BodyElement::PowerDeliveryRes(PowerDeliveryResType {
                        response_code: R::OK,
                        evse_status: status,
                    })),
                    true,
                    None,
                )
            }
            BodyElement::CurrentDemandReq(req) => {
                out.set_phase(Phase::Charging);
                let isolation = match evse_dc::isolation_while_energized(
                    &self.config,
                    now,
                    out,
                    "CurrentDemand",
                ) {
                    Ok(status) => isolation_level(status),
                    Err(e) => {
                        return Ok(self.isolation_fault(out, MessageKind::CurrentDemand, e));
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
                    .map_err(|e| refusal(R::FAILED, e))?;
                let target_voltage =
                    evse_dc::ev_value("EVTargetVoltage", physical_value(&req.ev_target_voltage))
                        .map_err(|e| refusal(R::FAILED, e))?;
                let target_current =
                    evse_dc::ev_value("EVTargetCurrent", physical_value(&req.ev_target_current))
                        .map_err(|e| refusal(R::FAILED, e))?;
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
                    evse_dc::supply_off(out);
                } else {
                    evse_dc::set_supply(out, u_target, i_target);
                }
                let (u, mut i) = self
                    .output
                    .read(&self.config, now, out, u_target)
                    .map_err(hw)?;
                if self.config.evse_simulate_precharge && !self.stop_requested {
                    i = i_target;
                }
                self.meter(now, u * i);
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
                let notification = self.notification();
                let receipt = self.receipt_required();
                let res = CurrentDemandResType {
                    response_code: R::OK,
                    dc_evse_status: msg::dc_evse_status(
                        Some(isolation),
                        self.status_code(),
                        notification,
                    ),
                    evse_present_voltage: physical(u, UnitSymbolType::V),
                    evse_present_current: physical(i, UnitSymbolType::A),
                    evse_current_limit_achieved: setpoint.current_limited,
                    evse_voltage_limit_achieved: setpoint.voltage_limited,
                    evse_power_limit_achieved: setpoint.power_limited,
                    evse_maximum_voltage_limit: Some(physical(
                        limits.max_voltage,
                        UnitSymbolType::V,
                    )),
                    evse_maximum_current_limit: Some(physical(
                        limits.max_current,
                        UnitSymbolType::A,
                    )),
                    evse_maximum_power_limit: Some(physical(limits.max_power, UnitSymbolType::W)),
                    evseid: evse_id,
                    sa_schedule_tuple_id: SA_SCHEDULE_TUPLE_ID,
                    meter_info: receipt.is_some().then(|| self.meter_info(now)),
                    receipt_required: receipt,
                };
                (reply(BodyElement::CurrentDemandRes(res)), true, None)
            }
            BodyElement::ChargingStatusReq(_) => {
                out.set_phase(Phase::Charging);
                let ac = self.config.iso2.ac.clone();
                let i = out
                    .snapshot
                    .power_supply_current
                    .value()
                    .map_or(0.0, |a| a.0);
                self.meter(now, ac.nominal_voltage.0 * i);
                if self.stop_requested {
                    evse_dc::supply_off(out);
                }
                out.update_values(|v| {
                    v.present_voltage = Some(ac.nominal_voltage.0);
                    v.present_current = Some(i);
                });
                let notification = self.notification();
                let receipt = self.receipt_required();
                let res = ChargingStatusResType {
                    response_code: R::OK,
                    evseid: evse_id,
                    sa_schedule_tuple_id: SA_SCHEDULE_TUPLE_ID,
                    evse_max_current: Some(physical(ac.max_current.0, UnitSymbolType::A)),
                    meter_info: Some(self.meter_info(now)),
                    receipt_required: receipt,
                    ac_evse_status: msg::ac_evse_status(notification, ac.rcd),
                };
                (reply(BodyElement::ChargingStatusRes(res)), true, None)
            }
            BodyElement::MeteringReceiptReq(req) => {
                if self.payment == Some(PaymentMethod::Contract) {
                    self.check_signed(
                        request,
                        req.id.as_deref(),
                        Fragment::MeteringReceiptReq(req.clone()),
                        R::FAILED_MeteringSignatureNotValid,
                    )?;
                }
                let status = self.evse_status();
                (
                    reply(BodyElement::MeteringReceiptRes(MeteringReceiptResType {
                        response_code: R::OK,
                        evse_status: status,
                    })),
                    true,
                    None,
                )
            }
            BodyElement::WeldingDetectionReq(_) => {
                out.set_phase(Phase::WeldingDetection);
                evse_dc::supply_off(out);
                let (u, _) = self.output.read(&self.config, now, out, 0.0).map_err(hw)?;
                out.update_values(|v| {
                    v.present_voltage = Some(u);
                    v.present_current = Some(0.0);
                });
                (
                    reply(BodyElement::WeldingDetectionRes(WeldingDetectionResType {
                        response_code: R::OK,
                        dc_evse_status: msg::dc_evse_status(
                            // The output is off: a fault is only reported.
                            Some(
                                evse_dc::isolation_while_energized(
                                    &self.config,
                                    now,
                                    out,
                                    "WeldingDetection",
                                )
                                .map_or(IsolationLevelType::Fault, isolation_level),
                            ),
                            DC_EVSEStatusCodeType::EVSE_NotReady,
                            EVSENotificationType::None,
                        ),
                        evse_present_voltage: physical(u, UnitSymbolType::V),
                    })),
                    true,
                    None,
                )
            }
            BodyElement::SessionStopReq(req) => {
                out.set_phase(Phase::SessionStop);
                if req.charging_session == ChargingSessionType::Pause {
                    // The car may come back with this SessionID (`paused_session_id`).
                    self.paused = true;
                    out.command(HardwareCommand::SessionState(format!(
                        "session paused, SessionID {}",
                        msg::hex(&self.session_id)
                    )));
                }
                (
                    reply(BodyElement::SessionStopRes(SessionStopResType {
                        response_code: R::OK,
                    })),
                    true,
                    Some(Outcome::Completed),
                )
            }
            _ => {
                return Err(refusal(
                    R::FAILED_SequenceError,
                    SessionError::PeerMisbehaved("not a request".into()),
                ));
            }
        })
    }

    /// PnC AuthorizationReq: the challenge is ours ([V2G2-475]) and the signature verifies
    /// with the contract certificate ([V2G2-684]).
    fn check_authorization(
        &self,
        request: &V2G_Message,
        req: &ccs_msg::iso2::AuthorizationReqType,
    ) -> Result<(), Refusal> {
        let Some(pnc) = self.pnc.as_ref() else {
            return Err(refusal(
                ResponseCodeType::FAILED,
                SessionError::Config("Plug & Charge without a verifier".into()),
            ));
        };
        if req.gen_challenge.as_deref() != Some(&pnc.gen_challenge[..]) {
            return Err(refusal(
                ResponseCodeType::FAILED_ChallengeInvalid,
                SessionError::PeerMisbehaved("GenChallenge is not the one sent".into()),
            ));
        }
        self.check_signed(
            request,
            req.id.as_deref(),
            Fragment::AuthorizationReq(req.clone()),
            ResponseCodeType::FAILED_SignatureError,
        )
    }

    /// The header signature over `fragment` (with Id `id`) verifies with the contract
    /// certificate of PaymentDetails.
    fn check_signed(
        &self,
        request: &V2G_Message,
        id: Option<&str>,
        fragment: Fragment,
        code: ResponseCodeType,
    ) -> Result<(), Refusal> {
        let fail = |why: String| refusal(code, SessionError::PeerMisbehaved(why));
        let (Some(pnc), Some(certificate)) =
            (self.pnc.as_ref(), self.contract_certificate.as_ref())
        else {
            return Err(fail("no contract certificate to verify with".into()));
        };
        let Some(signature) = request.header.signature.as_ref() else {
            return Err(fail("unsigned".into()));
        };
        let Some(id) = id else {
            return Err(fail("signed element without Id".into()));
        };
        pnc::verify(
            pnc.verifier.as_ref(),
            certificate,
            signature,
            &[(id, fragment)],
        )
        .map_err(|e| fail(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ChargeProgressType as P;
    use MessageKind as K;

    fn last(kind: MessageKind, done: bool, progress: Option<P>) -> Option<Last> {
        Some(Last {
            kind,
            done,
            progress,
        })
    }

    #[test]
    fn the_dc_pnc_sequence_is_allowed() {
        let seq = [
            (K::SessionSetup, None),
            (K::ServiceDiscovery, None),
            (K::ServiceDetail, None),
            (K::PaymentServiceSelection, None),
            (K::PaymentDetails, None),
            (K::Authorization, None),
            (K::ChargeParameterDiscovery, None),
            (K::CableCheck, None),
            (K::PreCharge, None),
            (K::PowerDelivery, Some(P::Start)),
            (K::CurrentDemand, None),
            (K::MeteringReceipt, None),
            (K::CurrentDemand, None),
            (K::PowerDelivery, Some(P::Renegotiate)),
            (K::ChargeParameterDiscovery, None),
            (K::PowerDelivery, Some(P::Start)),
            (K::CurrentDemand, None),
            (K::PowerDelivery, Some(P::Stop)),
            (K::WeldingDetection, None),
            (K::SessionStop, None),
        ];
        let mut prev = None;
        let mut renegotiating = false;
        for (kind, progress) in seq {
            assert!(
                allowed(prev, kind, progress, true, renegotiating),
                "{kind:?} after {prev:?}"
            );
            match progress {
                Some(P::Renegotiate) => renegotiating = true,
                Some(P::Start) => renegotiating = false,
                _ => {}
            }
            prev = last(kind, true, progress);
        }
    }

    #[test]
    fn the_ac_sequence_is_allowed_and_dc_messages_are_not() {
        let charged = last(K::PowerDelivery, true, Some(P::Start));
        assert!(allowed(charged, K::ChargingStatus, None, false, false));
        assert!(!allowed(charged, K::CurrentDemand, None, false, false));
        assert!(allowed(
            last(K::ChargeParameterDiscovery, true, None),
            K::PowerDelivery,
            Some(P::Start),
            false,
            false
        ));
        assert!(!allowed(
            last(K::ChargeParameterDiscovery, true, None),
            K::CableCheck,
            None,
            false,
            false
        ));
        assert!(!allowed(
            last(K::PowerDelivery, true, Some(P::Stop)),
            K::WeldingDetection,
            None,
            false,
            false
        ));
    }

    #[test]
    fn out_of_order_requests_are_sequence_errors() {
        assert!(!allowed(None, K::ServiceDiscovery, None, true, false));
        assert!(!allowed(
            last(K::SessionSetup, true, None),
            K::Authorization,
            None,
            true,
            false
        ));
        assert!(!allowed(
            last(K::CableCheck, false, None),
            K::PreCharge,
            None,
            true,
            false
        ));
        // No power before PreCharge.
        assert!(!allowed(
            last(K::ChargeParameterDiscovery, true, None),
            K::PowerDelivery,
            Some(P::Start),
            true,
            false
        ));
        assert!(!allowed(
            last(K::CurrentDemand, true, None),
            K::PreCharge,
            None,
            true,
            false
        ));
        assert!(!allowed(
            last(K::Authorization, true, None),
            K::Authorization,
            None,
            true,
            false
        ));
    }
}
