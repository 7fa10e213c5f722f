//! The car's ISO 15118-2 session (EVCC, the TCP client), after the app handshake: DC and AC,
//! EIM and Plug & Charge.
//!
//! Read ISO 15118-2 §8.4 (messages), §8.8.4 (the sequences of Figures 104-107: AC and DC, EIM
//! and PnC), Tables 109 and 112 (timers) before changing this file.
//!
//! The sequence: SessionSetup → ServiceDiscovery → ServiceDetail (for each value-added service,
//! if configured) → PaymentServiceSelection → [PnC: PaymentDetails] → Authorization (repeated
//! while Ongoing) → ChargeParameterDiscovery (repeated while Ongoing) →
//! - DC: CP state C + lock → CableCheck (while Ongoing) → PreCharge (until matched) →
//!   contactors closed → PowerDelivery(Start) → CurrentDemand loop (with MeteringReceipt when
//!   the charger asks) → PowerDelivery(Stop) → CP state B, current fallen, contactors open →
//!   WeldingDetection → SessionStop → unlock;
//! - AC: lock → PowerDelivery(Start) + CP state C ([V2G2-847]) → ChargingStatus loop (with
//!   MeteringReceipt) → PowerDelivery(Stop) → CP state B → SessionStop → unlock.
//!
//! ReNegotiation (an EVSENotification, or the car's own wish) goes PowerDelivery(Renegotiate) →
//! ChargeParameterDiscovery → PowerDelivery(Start) with the contactors kept closed. A FAILED
//! response code, an EVSE status that forbids charging, a timeout or a lost connection end
//! in the shared safe shutdown (`session::ev_dc`).

use std::sync::Arc;

use ccs_msg::iso2::{
    AC_EVChargeParameterType, AC_EVSEStatusType, AuthorizationReqType, BodyElement,
    CableCheckReqType, CertificateChainType, CertificateInstallationReqType,
    CertificateUpdateReqType, ChargeParameterDiscoveryReqType, ChargeProgressType,
    ChargingProfileType, ChargingSessionType, ChargingStatusReqType, CurrentDemandReqType,
    DC_EVChargeParameterType, DC_EVPowerDeliveryParameterType, DC_EVSEStatusCodeType,
    DC_EVSEStatusType, EVChargeParameter, EVPowerDeliveryParameter, EVSEChargeParameter,
    EVSENotificationType, EVSEProcessingType, EVSEStatus, Fragment, IsolationLevelType,
    ListOfRootCertificateIDsType, MeterInfoType, MeteringReceiptReqType, PMaxScheduleEntryType,
    PaymentDetailsReqType, PaymentServiceSelectionReqType, PowerDeliveryReqType, PreChargeReqType,
    ProfileEntryType, ResponseCodeType, SASchedules, SelectedServiceListType, SelectedServiceType,
    ServiceDetailReqType, ServiceDiscoveryReqType, SessionSetupReqType, SessionStopReqType,
    SubCertificatesType, TimeInterval, UnitSymbolType, V2G_Message, WeldingDetectionReqType,
};

use super::config::ContractCredentials;
use super::config::PaymentMethod;
use super::msg::CERTIFICATE_SERVICE_ID;
use super::msg::{
    self, CHARGE_SERVICE_ID, MessageKind, NO_SESSION_ID, is_ok, physical, physical_value,
};
use super::pnc::{self, CertificateInstaller, CertificateUpdater, ContractSigner};
use crate::hardware::{Amps, CpState, HardwareCommand, Measurement, Volts};
use crate::session::config::EvccConfig;
use crate::session::ev_dc::{AfterOpen, EvEnding, EvPowerPath, EvReadings, PowerDone};
use crate::session::outbox::Outbox;
use crate::session::timers::{Timer, TimerTable};
use crate::session::{Phase, SessionError, SessionEvent};
use crate::time::{Duration, Instant};
use crate::v2gtp::PayloadType;

/// The Id attribute of the signed element (AuthorizationReq, MeteringReceiptReq).
const SIGNED_ID: &str = "ID1";

/// One request of the sequence (PowerDelivery split by ChargeProgress).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Step {
    SessionSetup,
    ServiceDiscovery,
    ServiceDetail(u16),
    PaymentServiceSelection,
    CertificateInstallation,
    CertificateUpdate,
    PaymentDetails,
    Authorization,
    ChargeParameterDiscovery,
    CableCheck,
    PreCharge,
    PowerDeliveryStart,
    PowerDeliveryRenegotiate,
    CurrentDemand,
    ChargingStatus,
    MeteringReceipt,
    PowerDeliveryStop,
    WeldingDetection,
    SessionStop,
}

impl Step {
    const fn kind(self) -> MessageKind {
        match self {
            Self::SessionSetup => MessageKind::SessionSetup,
            Self::ServiceDiscovery => MessageKind::ServiceDiscovery,
            Self::ServiceDetail(_) => MessageKind::ServiceDetail,
            Self::PaymentServiceSelection => MessageKind::PaymentServiceSelection,
            Self::CertificateInstallation => MessageKind::CertificateInstallation,
            Self::CertificateUpdate => MessageKind::CertificateUpdate,
            Self::PaymentDetails => MessageKind::PaymentDetails,
            Self::Authorization => MessageKind::Authorization,
            Self::ChargeParameterDiscovery => MessageKind::ChargeParameterDiscovery,
            Self::CableCheck => MessageKind::CableCheck,
            Self::PreCharge => MessageKind::PreCharge,
            Self::PowerDeliveryStart | Self::PowerDeliveryRenegotiate | Self::PowerDeliveryStop => {
                MessageKind::PowerDelivery
            }
            Self::CurrentDemand => MessageKind::CurrentDemand,
            Self::ChargingStatus => MessageKind::ChargingStatus,
            Self::MeteringReceipt => MessageKind::MeteringReceipt,
            Self::WeldingDetection => MessageKind::WeldingDetection,
            Self::SessionStop => MessageKind::SessionStop,
        }
    }

    const fn phase(self) -> Phase {
        match self {
            Self::SessionSetup => Phase::SessionSetup,
            Self::ServiceDiscovery | Self::ServiceDetail(_) | Self::PaymentServiceSelection => {
                Phase::ServiceSelection
            }
            Self::CertificateInstallation
            | Self::CertificateUpdate
            | Self::PaymentDetails
            | Self::Authorization => Phase::Authorization,
            Self::ChargeParameterDiscovery | Self::PowerDeliveryRenegotiate => {
                Phase::ChargeParameterDiscovery
            }
            Self::CableCheck => Phase::CableCheck,
            Self::PreCharge => Phase::PreCharge,
            Self::PowerDeliveryStart => Phase::PowerDeliveryStart,
            Self::CurrentDemand | Self::ChargingStatus | Self::MeteringReceipt => Phase::Charging,
            Self::PowerDeliveryStop => Phase::PowerDeliveryStop,
            Self::WeldingDetection => Phase::WeldingDetection,
            Self::SessionStop => Phase::SessionStop,
        }
    }

    /// `V2G_EVCC_Msg_Timeout` of this request (ISO 15118-2 Table 109).
    fn msg_timeout(self, config: &EvccConfig) -> Duration {
        match self {
            Self::CurrentDemand => config.timeouts.current_demand_msg_timeout,
            Self::ServiceDetail(_)
            | Self::CertificateInstallation
            | Self::CertificateUpdate
            | Self::PaymentDetails
            | Self::PowerDeliveryStart
            | Self::PowerDeliveryRenegotiate
            | Self::PowerDeliveryStop => config.iso2.timeouts.long_msg_timeout,
            _ => config.timeouts.msg_timeout,
        }
    }
}

#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum State {
    /// The request of this step is out; `V2G_EVCC_Msg_Timeout` runs.
    AwaitResponse(Step),
    /// Pacing before (re)sending this step's request.
    Pause(Step),
    /// The power path waits for the hardware (lock, contactors, current).
    Hardware,
    /// Nothing more to do.
    Done,
}

/// Why the car winds the session down normally.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum StopCause {
    User,
    BatteryFull,
    ChargeDurationElapsed,
    /// EVSE_Shutdown or the StopCharging notification.
    Charger,
}

/// The SAScheduleTuple the car follows.
#[derive(Clone, Debug, PartialEq)]
struct Schedule {
    id: u8,
    p_max: Vec<PMaxScheduleEntryType>,
}

/// What a DC or AC EVSE status asks of the car.
enum Verdict {
    Fine,
    Stop,
    Renegotiate,
    Fail(SessionError),
}

fn judge_notification(n: EVSENotificationType) -> Verdict {
    match n {
        EVSENotificationType::StopCharging => Verdict::Stop,
        EVSENotificationType::ReNegotiation => Verdict::Renegotiate,
        EVSENotificationType::None => Verdict::Fine,
    }
}

fn judge_dc(status: &DC_EVSEStatusType) -> Verdict {
    use DC_EVSEStatusCodeType as C;
    if status.evse_isolation_status == Some(IsolationLevelType::Fault) {
        return Verdict::Fail(SessionError::PeerRefused(
            "charger reports an isolation fault".into(),
        ));
    }
    match status.evse_status_code {
        C::EVSE_Shutdown => Verdict::Stop,
        C::EVSE_EmergencyShutdown | C::EVSE_Malfunction | C::EVSE_UtilityInterruptEvent => {
            Verdict::Fail(SessionError::PeerRefused(format!(
                "charger status {:?}",
                status.evse_status_code
            )))
        }
        _ => judge_notification(status.evse_notification),
    }
}

fn judge_ac(status: &AC_EVSEStatusType) -> Verdict {
    if status.rcd {
        return Verdict::Fail(SessionError::PeerRefused(
            "charger reports a residual current (RCD)".into(),
        ));
    }
    judge_notification(status.evse_notification)
}

fn judge_any(status: &EVSEStatus) -> Verdict {
    match status {
        EVSEStatus::DC_EVSEStatus(s) => judge_dc(s),
        EVSEStatus::AC_EVSEStatus(s) => judge_ac(s),
        EVSEStatus::EVSEStatus(s) => judge_notification(s.evse_notification),
    }
}

/// The car's ISO 15118-2 session.
#[derive(Clone, Debug)]
pub(crate) struct Evcc {
    config: EvccConfig,
    evcc_id: [u8; 6],
    signer: Option<Arc<dyn ContractSigner>>,
    installer: Option<Arc<dyn CertificateInstaller>>,
    /// The current contract key, to renew the contract (CertificateUpdate).
    updater: Option<Arc<dyn CertificateUpdater>>,
    /// Whether this session renews the contract first (CertificateUpdate).
    updating: bool,
    /// The contract: configured, or installed in this session.
    contract: Option<ContractCredentials>,
    /// Whether this session installs a contract first (CertificateInstallation).
    installing: bool,
    session_id: Vec<u8>,
    state: State,
    timers: TimerTable,
    power: EvPowerPath,
    stop: Option<StopCause>,
    /// The failure that started the safe shutdown, or a refused SessionStop.
    ending: EvEnding,
    dc: bool,
    services_to_detail: Vec<u16>,
    gen_challenge: Option<Vec<u8>>,
    schedule: Option<Schedule>,
    renegotiating: bool,
    /// MeterInfo of a CurrentDemandRes/ChargingStatusRes with ReceiptRequired, and the loop
    /// step to go on with after the receipt.
    receipt: Option<(MeterInfoType, Step)>,
    charging_since: Option<Instant>,
    simulated_soc: f32,
    /// The charger accepted our SessionStop(Pause): the session may be rejoined.
    paused: bool,
    welding_rounds: u32,
    light_bulb_close_at: Option<Instant>,
}

impl Evcc {
    /// A new ISO-2 session for the car with MAC `evcc_id`; call [`Evcc::start`] next.
    /// `signer` is the contract key for Plug & Charge.
    pub(crate) fn new(
        config: EvccConfig,
        evcc_id: [u8; 6],
        signer: Option<Arc<dyn ContractSigner>>,
        installer: Option<Arc<dyn CertificateInstaller>>,
    ) -> Self {
        let dc = config.iso2.energy_transfer.is_dc();
        let contract = config.iso2.contract.clone();
        // ISO 15118-2 §8.4.3.2: zeros ask for a new session, a paused one's ID rejoins it.
        let session_id = config
            .iso2
            .resume_session_id
            .clone()
            .unwrap_or_else(|| NO_SESSION_ID.to_vec());
        Self {
            config,
            evcc_id,
            signer,
            installer,
            updater: None,
            updating: false,
            contract,
            installing: false,
            session_id,
            state: State::Done,
            timers: TimerTable::default(),
            power: if dc {
                EvPowerPath::default()
            } else {
                EvPowerPath::ac()
            },
            stop: None,
            ending: EvEnding::default(),
            dc,
            services_to_detail: Vec::new(),
            gen_challenge: None,
            schedule: None,
            renegotiating: false,
            receipt: None,
            charging_since: None,
            simulated_soc: 20.0,
            paused: false,
            welding_rounds: 0,
            light_bulb_close_at: None,
        }
    }

    /// Renews the configured contract in this session (CertificateUpdate) with the current
    /// contract key in `updater`.
    pub(crate) fn set_certificate_updater(&mut self, updater: Arc<dyn CertificateUpdater>) {
        self.updater = Some(updater);
    }

    /// Sends SessionSetupReq.
    pub(crate) fn start(&mut self, now: Instant, out: &mut Outbox) {
        let has_contract = self.signer.is_some() && self.contract.is_some();
        if self.config.iso2.payment == PaymentMethod::Contract
            && !has_contract
            && self.installer.is_none()
        {
            self.state = State::Hardware;
            return self.fail(
                now,
                out,
                SessionError::Config("Plug & Charge without contract credentials".into()),
            );
        }
        self.send(now, out, Step::SessionSetup);
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_timeout()
    }

    fn readings(&self) -> EvReadings<'_> {
        EvReadings {
            config: &self.config,
            simulated_soc: self.simulated_soc,
        }
    }

    // ----- inputs

    /// The SessionID of this session if the charger accepted its SessionStop(Pause): the car
    /// rejoins with it next time (`EvOptions::resume_session_id`, ISO 15118-2 §8.4.3.2).
    pub(crate) fn paused_session_id(&self) -> Option<&[u8]> {
        self.paused.then_some(self.session_id.as_slice())
    }

    pub(crate) fn handle_message(
        &mut self,
        now: Instant,
        out: &mut Outbox,
        payload_type: PayloadType,
        payload: &[u8],
    ) {
        let State::AwaitResponse(step) = self.state else {
            if self.state != State::Done {
                self.fail(
                    now,
                    out,
                    SessionError::PeerMisbehaved("a message while no response was due".into()),
                );
            }
            return;
        };
        if payload_type != PayloadType::Exi {
            return self.fail(
                now,
                out,
                SessionError::InvalidMessage(format!("V2GTP payload type {payload_type:?}")),
            );
        }
        let msg = match ccs_msg::iso2::decode(payload) {
            Ok(msg) => msg,
            Err(e) => return self.fail(now, out, SessionError::InvalidMessage(e.to_string())),
        };
        let Some(body) = msg.body.body_element.as_ref() else {
            return self.fail(
                now,
                out,
                SessionError::InvalidMessage("V2G_Message with an empty Body".into()),
            );
        };
        let kind = MessageKind::of_response(body);
        if kind != Some(step.kind()) {
            return self.fail(
                now,
                out,
                SessionError::PeerMisbehaved(format!(
                    "expected {}, got {:?}",
                    step.kind().response_name(),
                    kind.map(MessageKind::response_name)
                )),
            );
        }
        out.received(step.kind().response_name(), msg::summary(body));
        self.timers.stop(Timer::EvccMsg);
        self.timers.set(
            Timer::EvccSequence,
            now + self.config.timeouts.sequence_timeout,
        );
        if step != Step::SessionSetup && msg.header.session_id != self.session_id {
            return self.fail(
                now,
                out,
                SessionError::PeerMisbehaved(format!(
                    "SessionID {} instead of {}",
                    msg::hex(&msg.header.session_id),
                    msg::hex(&self.session_id)
                )),
            );
        }
        self.on_response(now, out, step, &msg);
    }

    pub(crate) fn handle_measurement(
        &mut self,
        now: Instant,
        out: &mut Outbox,
        measurement: Measurement,
    ) {
        if let Some(done) =
            self.power
                .handle_measurement(now, out, &self.config, &mut self.timers, measurement)
        {
            self.on_power(now, out, done);
        }
    }

    pub(crate) fn handle_stop_request(&mut self, now: Instant, out: &mut Outbox) {
        self.request_stop(now, out, StopCause::User);
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant, out: &mut Outbox) {
        // Bounded: a timer armed with a zero duration must not spin here.
        for _ in 0..Timer::ALL.len() * 4 {
            let Some(timer) = self.timers.pop_expired(now) else {
                break;
            };
            if let Some(done) =
                self.power
                    .handle_timer(now, out, &self.config, &mut self.timers, timer)
            {
                self.on_power(now, out, done);
                continue;
            }
            self.on_timer(now, out, timer);
        }
    }

    /// Any failure: the safe shutdown.
    pub(crate) fn fail(&mut self, now: Instant, out: &mut Outbox, error: SessionError) {
        if self.state == State::Done || !self.ending.fail(out, &self.power, error) {
            return;
        }
        out.close();
        out.set_phase(Phase::SafeShutdown);
        self.timers.stop_all();
        self.state = State::Hardware;
        if let Some(done) =
            self.power
                .power_down(now, out, &self.config, &mut self.timers, AfterOpen::Unlock)
        {
            self.on_power(now, out, done);
        }
    }

    // ----- the sequence

    fn sa_schedule_tuple_id(&self) -> u8 {
        self.schedule.as_ref().map_or(1, |s| s.id)
    }

    fn charging_profile(&self) -> Option<ChargingProfileType> {
        if !self.config.iso2.send_charging_profile {
            return None;
        }
        let schedule = self.schedule.as_ref()?;
        let ev_max = if self.dc {
            self.config.ev.max_power.0
        } else {
            let ac = &self.config.iso2.ac;
            ac.max_voltage.0 * ac.max_current.0 * 3.0
        };
        let entries: Vec<ProfileEntryType> = schedule
            .p_max
            .iter()
            .map(|e| {
                let start = match &e.time_interval {
                    TimeInterval::RelativeTimeInterval(r) => r.start,
                    TimeInterval::TimeInterval(_) => 0,
                };
                ProfileEntryType {
                    charging_profile_entry_start: start,
                    charging_profile_entry_max_power: physical(
                        physical_value(&e.p_max).min(ev_max),
                        UnitSymbolType::W,
                    ),
                    charging_profile_entry_max_number_of_phases_in_use: None,
                }
            })
            .collect();
        (!entries.is_empty()).then_some(ChargingProfileType {
            profile_entry: entries,
        })
    }

    fn power_delivery(
        &self,
        now: Instant,
        out: &Outbox,
        progress: ChargeProgressType,
    ) -> Result<BodyElement, SessionError> {
        let parameter = if self.dc {
            let soc = self.readings().soc(now, out)?;
            Some(EVPowerDeliveryParameter::DC_EVPowerDeliveryParameter(
                DC_EVPowerDeliveryParameterType {
                    dc_ev_status: msg::dc_ev_status(true, soc),
                    bulk_charging_complete: None,
                    charging_complete: progress == ChargeProgressType::Stop,
                },
            ))
        } else {
            None
        };
        Ok(BodyElement::PowerDeliveryReq(PowerDeliveryReqType {
            charge_progress: progress,
            sa_schedule_tuple_id: self.sa_schedule_tuple_id(),
            charging_profile: (progress == ChargeProgressType::Start)
                .then(|| self.charging_profile())
                .flatten(),
            ev_power_delivery_parameter: parameter,
        }))
    }

    #[allow(clippy::too_many_lines)]
    fn build(
        &self,
        now: Instant,
        out: &mut Outbox,
        step: Step,
    ) -> Result<V2G_Message, SessionError> {
        let ev = &self.config.ev;
        let iso2 = &self.config.iso2;
        let readings = self.readings();
        let mut signed: Option<Fragment> = None;
        let body = match step {
            Step::SessionSetup => BodyElement::SessionSetupReq(SessionSetupReqType {
                evccid: self.evcc_id.to_vec(),
            }),
            Step::ServiceDiscovery => BodyElement::ServiceDiscoveryReq(ServiceDiscoveryReqType {
                service_scope: None,
                service_category: None,
            }),
            Step::ServiceDetail(id) => {
                BodyElement::ServiceDetailReq(ServiceDetailReqType { service_id: id })
            }
            Step::PaymentServiceSelection => {
                BodyElement::PaymentServiceSelectionReq(PaymentServiceSelectionReqType {
                    selected_payment_option: iso2.payment.into(),
                    selected_service_list: SelectedServiceListType {
                        selected_service: [
                            Some(SelectedServiceType {
                                service_id: CHARGE_SERVICE_ID,
                                parameter_set_id: None,
                            }),
                            // The certificate service, parameter set 1 = Installation,
                            // 2 = Update (ISO 15118-2 §8.6.2.3, Table 105).
                            (self.installing || self.updating).then_some(SelectedServiceType {
                                service_id: CERTIFICATE_SERVICE_ID,
                                parameter_set_id: Some(if self.installing { 1 } else { 2 }),
                            }),
                        ]
                        .into_iter()
                        .flatten()
                        .collect(),
                    },
                })
            }
            Step::CertificateInstallation => {
                let Some(installer) = self.installer.as_ref() else {
                    return Err(SessionError::Config("no certificate installer".into()));
                };
                let req = CertificateInstallationReqType {
                    id: SIGNED_ID.into(),
                    oem_provisioning_cert: installer.oem_provisioning_certificate(),
                    list_of_root_certificate_i_ds: ListOfRootCertificateIDsType {
                        root_certificate_id: installer.root_certificate_ids(),
                    },
                };
                // Signed with the OEM provisioning key.
                let signer: &dyn ContractSigner = installer.as_ref();
                let signature = pnc::sign(
                    signer,
                    &[(SIGNED_ID, Fragment::CertificateInstallationReq(req.clone()))],
                )
                .map_err(|e| SessionError::Config(format!("signing: {e}")))?;
                let mut message = msg::message(
                    &self.session_id,
                    BodyElement::CertificateInstallationReq(req),
                );
                message.header.signature = Some(signature);
                return Ok(message);
            }
            Step::CertificateUpdate => {
                let (Some(updater), Some(contract)) =
                    (self.updater.as_ref(), self.contract.as_ref())
                else {
                    return Err(SessionError::Config("no contract to update".into()));
                };
                let req = CertificateUpdateReqType {
                    id: SIGNED_ID.into(),
                    contract_signature_cert_chain: CertificateChainType {
                        id: None,
                        certificate: contract.certificate.clone(),
                        sub_certificates: (!contract.sub_certificates.is_empty()).then(|| {
                            SubCertificatesType {
                                certificate: contract.sub_certificates.clone(),
                            }
                        }),
                    },
                    e_maid: contract.emaid.clone(),
                    list_of_root_certificate_i_ds: ListOfRootCertificateIDsType {
                        root_certificate_id: updater.root_certificate_ids(),
                    },
                };
                // Signed with the current contract key.
                let signer: &dyn ContractSigner = updater.as_ref();
                let signature = pnc::sign(
                    signer,
                    &[(SIGNED_ID, Fragment::CertificateUpdateReq(req.clone()))],
                )
                .map_err(|e| SessionError::Config(format!("signing: {e}")))?;
                let mut message =
                    msg::message(&self.session_id, BodyElement::CertificateUpdateReq(req));
                message.header.signature = Some(signature);
                return Ok(message);
            }
            Step::PaymentDetails => {
                let Some(contract) = self.contract.as_ref() else {
                    return Err(SessionError::Config("no contract certificate".into()));
                };
                BodyElement::PaymentDetailsReq(PaymentDetailsReqType {
                    e_maid: contract.emaid.clone(),
                    contract_signature_cert_chain: CertificateChainType {
                        id: None,
                        certificate: contract.certificate.clone(),
                        sub_certificates: (!contract.sub_certificates.is_empty()).then(|| {
                            SubCertificatesType {
                                certificate: contract.sub_certificates.clone(),
                            }
                        }),
                    },
                })
            }
            Step::Authorization => {
                let req = if iso2.payment == PaymentMethod::Contract {
                    // [V2G2-475]: the GenChallenge of PaymentDetailsRes, signed with the
                    // contract key ([V2G2-684]).
                    AuthorizationReqType {
                        id: Some(SIGNED_ID.into()),
                        gen_challenge: self.gen_challenge.clone(),
                    }
                } else {
                    AuthorizationReqType {
                        id: None,
                        gen_challenge: None,
                    }
                };
                if iso2.payment == PaymentMethod::Contract {
                    signed = Some(Fragment::AuthorizationReq(req.clone()));
                }
                BodyElement::AuthorizationReq(req)
            }
            Step::ChargeParameterDiscovery => {
                let parameter = if self.dc {
                    let soc = readings.soc(now, out)?;
                    EVChargeParameter::DC_EVChargeParameter(DC_EVChargeParameterType {
                        departure_time: iso2.departure_time,
                        dc_ev_status: msg::dc_ev_status(true, soc),
                        ev_maximum_current_limit: physical(ev.max_current.0, UnitSymbolType::A),
                        ev_maximum_power_limit: Some(physical(ev.max_power.0, UnitSymbolType::W)),
                        ev_maximum_voltage_limit: physical(ev.max_voltage.0, UnitSymbolType::V),
                        ev_energy_capacity: Some(physical(
                            ev.energy_capacity.0,
                            UnitSymbolType::Wh,
                        )),
                        ev_energy_request: Some(physical(ev.energy_request.0, UnitSymbolType::Wh)),
                        full_soc: Some(ev.full_soc.0.clamp(0.0, 100.0).round() as u8),
                        bulk_soc: Some(ev.bulk_soc.0.clamp(0.0, 100.0).round() as u8),
                    })
                } else {
                    let ac = &iso2.ac;
                    EVChargeParameter::AC_EVChargeParameter(AC_EVChargeParameterType {
                        departure_time: iso2.departure_time,
                        e_amount: physical(ac.energy_amount.0, UnitSymbolType::Wh),
                        ev_max_voltage: physical(ac.max_voltage.0, UnitSymbolType::V),
                        ev_max_current: physical(ac.max_current.0, UnitSymbolType::A),
                        ev_min_current: physical(ac.min_current.0, UnitSymbolType::A),
                    })
                };
                BodyElement::ChargeParameterDiscoveryReq(ChargeParameterDiscoveryReqType {
                    max_entries_sa_schedule_tuple: iso2.max_entries_sa_schedule_tuple,
                    requested_energy_transfer_mode: iso2.energy_transfer.into(),
                    ev_charge_parameter: parameter,
                })
            }
            Step::CableCheck => BodyElement::CableCheckReq(CableCheckReqType {
                dc_ev_status: msg::dc_ev_status(true, readings.soc(now, out)?),
            }),
            Step::PreCharge => {
                let u = readings.battery_voltage(now, out)?;
                let soc = readings.soc(now, out)?;
                out.update_values(|v| {
                    v.target_voltage = Some(u);
                    v.target_current = Some(ev.pre_charge_current.0);
                });
                BodyElement::PreChargeReq(PreChargeReqType {
                    dc_ev_status: msg::dc_ev_status(true, soc),
                    ev_target_voltage: physical(u, UnitSymbolType::V),
                    ev_target_current: physical(ev.pre_charge_current.0, UnitSymbolType::A),
                })
            }
            Step::PowerDeliveryStart => self.power_delivery(now, out, ChargeProgressType::Start)?,
            Step::PowerDeliveryRenegotiate => {
                self.power_delivery(now, out, ChargeProgressType::Renegotiate)?
            }
            Step::PowerDeliveryStop => self.power_delivery(now, out, ChargeProgressType::Stop)?,
            Step::CurrentDemand => {
                let soc = readings.soc(now, out)?;
                let (u, i) = readings.target(now, out);
                out.update_values(|v| {
                    v.soc = Some(f32::from(soc));
                    v.target_voltage = Some(u);
                    v.target_current = Some(i);
                });
                let limits = ev.send_limits_in_current_demand;
                BodyElement::CurrentDemandReq(CurrentDemandReqType {
                    dc_ev_status: msg::dc_ev_status(true, soc),
                    ev_target_current: physical(i, UnitSymbolType::A),
                    ev_maximum_voltage_limit: limits
                        .then(|| physical(ev.max_voltage.0, UnitSymbolType::V)),
                    ev_maximum_current_limit: limits
                        .then(|| physical(ev.max_current.0, UnitSymbolType::A)),
                    ev_maximum_power_limit: limits
                        .then(|| physical(ev.max_power.0, UnitSymbolType::W)),
                    bulk_charging_complete: None,
                    charging_complete: false,
                    remaining_time_to_full_so_c: None,
                    remaining_time_to_bulk_so_c: None,
                    ev_target_voltage: physical(u, UnitSymbolType::V),
                })
            }
            Step::ChargingStatus => BodyElement::ChargingStatusReq(ChargingStatusReqType {}),
            Step::MeteringReceipt => {
                let Some((meter_info, _)) = self.receipt.clone() else {
                    return Err(SessionError::Config("no MeterInfo to confirm".into()));
                };
                let pnc = iso2.payment == PaymentMethod::Contract;
                let req = MeteringReceiptReqType {
                    id: pnc.then(|| SIGNED_ID.to_owned()),
                    session_id: self.session_id.clone(),
                    sa_schedule_tuple_id: Some(self.sa_schedule_tuple_id()),
                    meter_info,
                };
                if pnc {
                    signed = Some(Fragment::MeteringReceiptReq(req.clone()));
                }
                BodyElement::MeteringReceiptReq(req)
            }
            Step::WeldingDetection => BodyElement::WeldingDetectionReq(WeldingDetectionReqType {
                dc_ev_status: msg::dc_ev_status(true, readings.soc(now, out)?),
            }),
            Step::SessionStop => BodyElement::SessionStopReq(SessionStopReqType {
                charging_session: if iso2.pause_instead_of_terminate {
                    ChargingSessionType::Pause
                } else {
                    ChargingSessionType::Terminate
                },
            }),
        };
        let mut message = msg::message(&self.session_id, body);
        if let Some(fragment) = signed {
            let Some(signer) = self.signer.as_deref() else {
                return Err(SessionError::Config("no contract signer".into()));
            };
            let signature = pnc::sign(signer, &[(SIGNED_ID, fragment)])
                .map_err(|e| SessionError::Config(format!("signing: {e}")))?;
            message.header.signature = Some(signature);
        }
        Ok(message)
    }

    /// Sends the request of `step`, unless a normal stop redirects it.
    fn send(&mut self, now: Instant, out: &mut Outbox, step: Step) {
        let step = self.redirect_for_stop(step);
        let msg = match self.build(now, out, step) {
            Ok(msg) => msg,
            Err(e) => return self.fail(now, out, e),
        };
        let payload = match ccs_msg::iso2::encode(&msg) {
            Ok(p) => p,
            Err(e) => {
                return self.fail(
                    now,
                    out,
                    SessionError::Config(format!("{}: {e}", step.kind().request_name())),
                );
            }
        };
        out.set_phase(step.phase());
        let summary = msg
            .body
            .body_element
            .as_ref()
            .map(msg::summary)
            .unwrap_or_default();
        out.send(payload, step.kind().request_name(), summary);
        if step == Step::PowerDeliveryStart && !self.dc {
            // [V2G2-847]: CP state C no later than 250 ms after the first PowerDeliveryReq
            // with ChargeProgress Start.
            out.command(HardwareCommand::CpState(CpState::C));
        }
        self.timers.stop(Timer::EvccSequence);
        self.timers
            .set(Timer::EvccMsg, now + step.msg_timeout(&self.config));
        self.state = State::AwaitResponse(step);
    }

    /// With a stop requested, the loops give way to the stop sequence.
    fn redirect_for_stop(&mut self, step: Step) -> Step {
        if self.stop.is_none() {
            return step;
        }
        let powered = self.charging_since.is_some() || self.power.is_locked();
        match step {
            Step::ServiceDetail(_)
            | Step::PaymentServiceSelection
            | Step::PaymentDetails
            | Step::Authorization
            | Step::ChargeParameterDiscovery
                if !powered =>
            {
                Step::SessionStop
            }
            Step::ChargeParameterDiscovery
            | Step::CableCheck
            | Step::PreCharge
            | Step::PowerDeliveryStart
            | Step::PowerDeliveryRenegotiate
            | Step::CurrentDemand
            | Step::ChargingStatus => {
                self.timers.stop(Timer::EvccCableCheck);
                self.timers.stop(Timer::EvccPreCharge);
                self.timers.stop(Timer::EvccOngoing);
                Step::PowerDeliveryStop
            }
            other => other,
        }
    }

    fn request_stop(&mut self, now: Instant, out: &mut Outbox, cause: StopCause) {
        if self.stop.is_some() || self.ending.is_failing() || self.state == State::Done {
            return;
        }
        self.stop = Some(cause);
        match self.state {
            State::Hardware if self.power.is_waiting_to_start() => {
                self.power.abandon_start(&mut self.timers);
                self.send(now, out, Step::PowerDeliveryStop);
            }
            State::Pause(step) => {
                self.timers.stop(Timer::Pacing);
                self.send(now, out, step);
            }
            _ => {}
        }
    }

    /// A stop decided on a response: the next request is the stop sequence's.
    fn stop_now(&mut self, now: Instant, out: &mut Outbox, cause: StopCause) {
        if self.stop.is_none() {
            self.stop = Some(cause);
        }
        let next = if self.power.is_locked() {
            Step::PowerDeliveryStop
        } else {
            Step::SessionStop
        };
        self.send(now, out, next);
    }

    fn pause(&mut self, now: Instant, step: Step, interval: Duration) {
        self.state = State::Pause(step);
        self.timers.set(Timer::Pacing, now + interval);
    }

    /// The loop step after the charge loop's response: a MeteringReceipt first if asked.
    fn continue_loop(&mut self, now: Instant, out: &mut Outbox, step: Step, interval: Duration) {
        if self.receipt.is_some() {
            return self.send(now, out, Step::MeteringReceipt);
        }
        self.pause(now, step, interval);
    }

    fn on_power(&mut self, now: Instant, out: &mut Outbox, done: PowerDone) {
        match done {
            PowerDone::Locked if self.dc => {
                self.timers.set(
                    Timer::EvccCableCheck,
                    now + self.config.iso2.timeouts.cable_check_timeout,
                );
                self.send(now, out, Step::CableCheck);
            }
            PowerDone::Locked | PowerDone::ContactorsClosed => {
                self.send(now, out, Step::PowerDeliveryStart);
            }
            PowerDone::ContactorsOpen => {
                if self.dc {
                    self.send(now, out, Step::WeldingDetection);
                } else {
                    self.send(now, out, Step::SessionStop);
                }
            }
            PowerDone::Unlocked => {
                self.end();
                self.ending.unlocked(out);
            }
            PowerDone::Failed(e) => self.fail(now, out, e),
            PowerDone::StayLocked(e) => {
                self.end();
                self.ending.stays_locked(out, e);
            }
        }
    }

    /// The session is over: nothing more to send or wait for.
    fn end(&mut self) {
        self.timers.stop_all();
        self.state = State::Done;
    }

    fn on_timer(&mut self, now: Instant, out: &mut Outbox, timer: Timer) {
        match (timer, self.state) {
            (Timer::Pacing, State::Pause(step)) => self.send(now, out, step),
            (Timer::EvccMsg, State::AwaitResponse(Step::WeldingDetection)) => {
                // ABB Terra does not answer WeldingDetectionReq (pyPLC Issue17); the
                // contactors are open, so go on to SessionStop.
                self.send(now, out, Step::SessionStop);
            }
            (
                Timer::EvccMsg
                | Timer::EvccSequence
                | Timer::EvccOngoing
                | Timer::EvccCableCheck
                | Timer::EvccPreCharge,
                _,
            ) => self.fail(now, out, SessionError::Timeout(timer.name())),
            _ => {}
        }
    }

    fn refused(step: Step, code: ResponseCodeType) -> SessionError {
        SessionError::PeerRefused(format!("{}: {code:?}", step.kind().response_name()))
    }

    /// Applies a verdict; `true` = go on with the normal sequence.
    fn apply(&mut self, now: Instant, out: &mut Outbox, verdict: Verdict) -> bool {
        match verdict {
            Verdict::Fine => true,
            Verdict::Stop => {
                self.stop_now(now, out, StopCause::Charger);
                false
            }
            // Outside the charge loop a renegotiation request has no meaning yet: ignore it.
            Verdict::Renegotiate => true,
            Verdict::Fail(e) => {
                self.fail(now, out, e);
                false
            }
        }
    }

    #[allow(clippy::too_many_lines)]
    fn on_response(&mut self, now: Instant, out: &mut Outbox, step: Step, msg: &V2G_Message) {
        let Some(body) = msg.body.body_element.as_ref() else {
            return;
        };
        let t = self.config.timeouts.clone();
        // Every FAILED response code ends the session (ISO 15118-2 §8.4.2: the EVCC stops on a
        // negative response code); only SessionSetup has its own positive codes to check.
        let code = response_code(body);
        if step != Step::SessionSetup
            && step != Step::WeldingDetection
            && step != Step::SessionStop
            && !is_ok(code)
        {
            return self.fail(now, out, Self::refused(step, code));
        }
        match body {
            BodyElement::SessionSetupRes(res) => {
                // OK_OldSessionJoined only for the paused session we asked to rejoin, and
                // with its SessionID (ISO 15118-2 §8.4.3.2).
                let rejoined = res.response_code == ResponseCodeType::OK_OldSessionJoined
                    && self.config.iso2.resume_session_id.as_ref() == Some(&msg.header.session_id);
                let ok = res.response_code == ResponseCodeType::OK_NewSessionEstablished
                    || rejoined
                    || (res.response_code == ResponseCodeType::OK
                        && self.config.quirks.accept_ok_in_session_setup_res);
                if !ok {
                    return self.fail(now, out, Self::refused(step, res.response_code));
                }
                let len = msg.header.session_id.len();
                let len_ok = if self.config.quirks.accept_short_session_id {
                    (1..=8).contains(&len)
                } else {
                    len == 8
                };
                if !len_ok {
                    return self.fail(
                        now,
                        out,
                        SessionError::PeerMisbehaved(format!("SessionID of {len} bytes")),
                    );
                }
                self.session_id = msg.header.session_id.clone();
                self.send(now, out, Step::ServiceDiscovery);
            }
            BodyElement::ServiceDiscoveryRes(res) => {
                let payment = self.config.iso2.payment.into();
                if !res.payment_option_list.payment_option.contains(&payment) {
                    return self.fail(
                        now,
                        out,
                        SessionError::PeerIncompatible(format!("payment {payment:?} not offered")),
                    );
                }
                let mode = self.config.iso2.energy_transfer.into();
                let modes = &res
                    .charge_service
                    .supported_energy_transfer_mode
                    .energy_transfer_mode;
                if !modes.contains(&mode) {
                    return self.fail(
                        now,
                        out,
                        SessionError::PeerIncompatible(format!(
                            "{mode:?} not among the charger's {modes:?}"
                        )),
                    );
                }
                let offered: Vec<u16> = res
                    .service_list
                    .as_ref()
                    .map(|l| l.service.iter().map(|s| s.service_id).collect())
                    .unwrap_or_default();
                self.installing = payment == ccs_msg::iso2::PaymentOptionType::Contract
                    && self.contract.is_none();
                // A renewal needs the certificate service; without it the current contract
                // still serves this session.
                self.updating = payment == ccs_msg::iso2::PaymentOptionType::Contract
                    && self.contract.is_some()
                    && self.updater.is_some()
                    && offered.contains(&CERTIFICATE_SERVICE_ID);
                if self.installing && !offered.contains(&CERTIFICATE_SERVICE_ID) {
                    return self.fail(
                        now,
                        out,
                        SessionError::PeerIncompatible(
                            "no contract and no certificate installation service".into(),
                        ),
                    );
                }
                if self.config.iso2.request_service_details {
                    self.services_to_detail = res
                        .service_list
                        .as_ref()
                        .map(|l| l.service.iter().map(|s| s.service_id).collect())
                        .unwrap_or_default();
                }
                self.next_service_step(now, out);
            }
            BodyElement::ServiceDetailRes(_) => self.next_service_step(now, out),
            BodyElement::PaymentServiceSelectionRes(_) => {
                self.timers.set(Timer::EvccOngoing, now + t.ongoing_timeout);
                if self.installing {
                    self.send(now, out, Step::CertificateInstallation);
                } else if self.updating {
                    self.send(now, out, Step::CertificateUpdate);
                } else if self.config.iso2.payment == PaymentMethod::Contract {
                    self.send(now, out, Step::PaymentDetails);
                } else {
                    self.send(now, out, Step::Authorization);
                }
            }
            BodyElement::CertificateInstallationRes(res) => {
                let Some(installer) = self.installer.clone() else {
                    return;
                };
                match installer.install(res, msg.header.signature.as_ref()) {
                    Ok(installed) => {
                        out.event(SessionEvent::Received {
                            name: "contract installed",
                            summary: format!("eMAID={}", installed.credentials.emaid),
                        });
                        self.contract = Some(installed.credentials);
                        self.signer = Some(installed.signer);
                        self.installing = false;
                        self.send(now, out, Step::PaymentDetails);
                    }
                    Err(e) => self.fail(
                        now,
                        out,
                        SessionError::PeerMisbehaved(format!("CertificateInstallationRes: {e}")),
                    ),
                }
            }
            BodyElement::CertificateUpdateRes(res) => {
                let Some(updater) = self.updater.clone() else {
                    return;
                };
                match updater.update(res, msg.header.signature.as_ref()) {
                    Ok(renewed) => {
                        out.event(SessionEvent::Received {
                            name: "contract updated",
                            summary: format!("eMAID={}", renewed.credentials.emaid),
                        });
                        self.contract = Some(renewed.credentials);
                        self.signer = Some(renewed.signer);
                        self.updating = false;
                        self.send(now, out, Step::PaymentDetails);
                    }
                    Err(e) => self.fail(
                        now,
                        out,
                        SessionError::PeerMisbehaved(format!("CertificateUpdateRes: {e}")),
                    ),
                }
            }
            BodyElement::PaymentDetailsRes(res) => {
                // [V2G2-475]: the challenge must come back unchanged; 16 bytes by the schema.
                if res.gen_challenge.len() != 16 {
                    return self.fail(
                        now,
                        out,
                        SessionError::InvalidMessage(format!(
                            "GenChallenge of {} bytes",
                            res.gen_challenge.len()
                        )),
                    );
                }
                self.gen_challenge = Some(res.gen_challenge.clone());
                self.send(now, out, Step::Authorization);
            }
            BodyElement::AuthorizationRes(res) => {
                if res.evse_processing == EVSEProcessingType::Finished {
                    self.timers.set(Timer::EvccOngoing, now + t.ongoing_timeout);
                    self.send(now, out, Step::ChargeParameterDiscovery);
                } else {
                    self.pause(now, Step::Authorization, t.ongoing_repeat_interval);
                }
            }
            BodyElement::ChargeParameterDiscoveryRes(res) => {
                if res.evse_processing != EVSEProcessingType::Finished {
                    return self.pause(
                        now,
                        Step::ChargeParameterDiscovery,
                        t.ongoing_repeat_interval,
                    );
                }
                match (&res.evse_charge_parameter, self.dc) {
                    (EVSEChargeParameter::DC_EVSEChargeParameter(dc), true) => {
                        if !self.apply(now, out, judge_dc(&dc.dc_evse_status)) {
                            return;
                        }
                        let max_u = physical_value(&dc.evse_maximum_voltage_limit);
                        let max_i = physical_value(&dc.evse_maximum_current_limit);
                        let max_p = physical_value(&dc.evse_maximum_power_limit);
                        out.update_values(|v| {
                            v.evse_max_voltage = Some(max_u);
                            v.evse_max_current = Some(max_i);
                            v.evse_max_power = Some(max_p);
                        });
                        out.command(HardwareCommand::ChargerLimits {
                            max_voltage: Volts(max_u),
                            max_current: Amps(max_i),
                        });
                    }
                    (EVSEChargeParameter::AC_EVSEChargeParameter(ac), false) => {
                        if !self.apply(now, out, judge_ac(&ac.ac_evse_status)) {
                            return;
                        }
                        let u = physical_value(&ac.evse_nominal_voltage);
                        let i = physical_value(&ac.evse_max_current);
                        out.update_values(|v| {
                            v.evse_max_voltage = Some(u);
                            v.evse_max_current = Some(i);
                        });
                        out.command(HardwareCommand::ChargerLimits {
                            max_voltage: Volts(u),
                            max_current: Amps(i),
                        });
                    }
                    (other, _) => {
                        return self.fail(
                            now,
                            out,
                            SessionError::PeerIncompatible(format!(
                                "{} parameters for {:?}",
                                match other {
                                    EVSEChargeParameter::DC_EVSEChargeParameter(_) => "DC",
                                    EVSEChargeParameter::AC_EVSEChargeParameter(_) => "AC",
                                    EVSEChargeParameter::EVSEChargeParameter(_) => "abstract",
                                },
                                self.config.iso2.energy_transfer
                            )),
                        );
                    }
                }
                self.timers.stop(Timer::EvccOngoing);
                // The first SAScheduleTuple (they come sorted by preference). A charger that
                // sends none with Finished (the schema allows it) gets SAScheduleTupleID 1.
                self.schedule = match &res.sa_schedules {
                    Some(SASchedules::SAScheduleList(list)) => {
                        list.sa_schedule_tuple.first().map(|t| Schedule {
                            id: t.sa_schedule_tuple_id,
                            p_max: t.p_max_schedule.p_max_schedule_entry.clone(),
                        })
                    }
                    _ => None,
                };
                if self.renegotiating {
                    self.renegotiating = false;
                    return self.send(now, out, Step::PowerDeliveryStart);
                }
                out.set_phase(Phase::ConnectAndLock);
                self.state = State::Hardware;
                // DC: CP state C before CableCheck; AC: state C comes with PowerDelivery.
                let cp_c = self.dc;
                if let Some(done) = self
                    .power
                    .lock(now, out, &self.config, &mut self.timers, cp_c)
                {
                    self.on_power(now, out, done);
                }
            }
            BodyElement::CableCheckRes(res) => {
                if !self.apply(now, out, judge_dc(&res.dc_evse_status)) {
                    return;
                }
                if res.evse_processing == EVSEProcessingType::Finished {
                    self.timers.stop(Timer::EvccCableCheck);
                    self.timers
                        .set(Timer::EvccPreCharge, now + t.pre_charge_timeout);
                    self.send(now, out, Step::PreCharge);
                } else {
                    self.pause(now, Step::CableCheck, t.ongoing_repeat_interval);
                }
            }
            BodyElement::PreChargeRes(res) => {
                if !self.apply(now, out, judge_dc(&res.dc_evse_status)) {
                    return;
                }
                let reported = physical_value(&res.evse_present_voltage);
                out.update_values(|v| v.present_voltage = Some(reported));
                let inlet = match self.power.check_inlet(now, out, &self.config, reported) {
                    Ok(inlet) => inlet,
                    Err(e) => return self.fail(now, out, e),
                };
                match self.readings().precharge_matched(now, out, reported, inlet) {
                    Err(e) => self.fail(now, out, e),
                    Ok(true) => {
                        self.timers.stop(Timer::EvccPreCharge);
                        if self.config.light_bulb_demo {
                            // pyPLC light_bulb_demo: the relays close 2 s into CurrentDemand.
                            return self.send(now, out, Step::PowerDeliveryStart);
                        }
                        out.set_phase(Phase::PowerDeliveryStart);
                        self.state = State::Hardware;
                        if let Some(done) =
                            self.power
                                .close_contactors(now, out, &self.config, &mut self.timers)
                        {
                            self.on_power(now, out, done);
                        }
                    }
                    Ok(false) => self.pause(now, Step::PreCharge, t.pre_charge_interval),
                }
            }
            BodyElement::PowerDeliveryRes(res) => match step {
                Step::PowerDeliveryStart => {
                    if !self.apply(now, out, judge_any(&res.evse_status)) {
                        return;
                    }
                    if self.charging_since.is_none() {
                        self.charging_since = Some(now);
                        if self.config.light_bulb_demo && self.dc {
                            self.light_bulb_close_at = Some(now + Duration::from_secs(2));
                        }
                    }
                    let next = if self.dc {
                        Step::CurrentDemand
                    } else {
                        Step::ChargingStatus
                    };
                    self.send(now, out, next);
                }
                Step::PowerDeliveryRenegotiate => {
                    self.renegotiating = true;
                    self.timers.set(Timer::EvccOngoing, now + t.ongoing_timeout);
                    self.send(now, out, Step::ChargeParameterDiscovery);
                }
                _ => {
                    self.state = State::Hardware;
                    if self.dc {
                        if let Some(done) = self.power.power_down(
                            now,
                            out,
                            &self.config,
                            &mut self.timers,
                            AfterOpen::Continue,
                        ) {
                            self.on_power(now, out, done);
                        }
                    } else {
                        // AC: back to CP state B; the charger opens its contactors.
                        out.command(HardwareCommand::CpState(CpState::B));
                        self.send(now, out, Step::SessionStop);
                    }
                }
            },
            BodyElement::CurrentDemandRes(res) => {
                let u = physical_value(&res.evse_present_voltage);
                let i = physical_value(&res.evse_present_current);
                self.power.present_current = Some(i);
                out.command(HardwareCommand::ChargerPresent {
                    voltage: Volts(u),
                    current: Amps(i),
                });
                let shown = if self.config.use_physical_inlet_voltage_during_chargeloop {
                    out.snapshot.inlet_voltage.value().map_or(u, |v| v.0)
                } else {
                    u
                };
                out.update_values(|v| {
                    v.present_voltage = Some(shown);
                    v.present_current = Some(i);
                });
                if let Err(e) = self.power.check_inlet(now, out, &self.config, u) {
                    return self.fail(now, out, e);
                }
                if self.light_bulb_close_at.is_some_and(|at| now >= at) {
                    self.light_bulb_close_at = None;
                    self.power.close_without_waiting(out);
                }
                self.note_receipt(
                    res.receipt_required,
                    res.meter_info.as_ref(),
                    Step::CurrentDemand,
                );
                self.after_loop_response(
                    now,
                    out,
                    judge_dc(&res.dc_evse_status),
                    Step::CurrentDemand,
                );
            }
            BodyElement::ChargingStatusRes(res) => {
                if let Some(i) = res.evse_max_current.as_ref().map(physical_value) {
                    out.update_values(|v| v.evse_max_current = Some(i));
                }
                self.note_receipt(
                    res.receipt_required,
                    res.meter_info.as_ref(),
                    Step::ChargingStatus,
                );
                self.after_loop_response(
                    now,
                    out,
                    judge_ac(&res.ac_evse_status),
                    Step::ChargingStatus,
                );
            }
            BodyElement::MeteringReceiptRes(res) => {
                let Some((_, loop_step)) = self.receipt.take() else {
                    return;
                };
                self.after_loop_response(now, out, judge_any(&res.evse_status), loop_step);
            }
            BodyElement::WeldingDetectionRes(res) => {
                let u = physical_value(&res.evse_present_voltage);
                self.power.welding_report(now, out, u);
                self.welding_rounds += 1;
                // A FAILED WeldingDetectionRes (Alpitronic HYC300, pyPLC results) is not a
                // reason to stay: the contactors are already open, so go on to SessionStop.
                let low = u < self.config.welding_detection_voltage.0;
                if !is_ok(res.response_code)
                    || low
                    || self.welding_rounds >= self.config.welding_detection_max_rounds
                {
                    if !low && is_ok(res.response_code) {
                        out.command(HardwareCommand::SessionState(format!(
                            "WeldingDetection: voltage stayed at {u} V"
                        )));
                    }
                    self.send(now, out, Step::SessionStop);
                } else {
                    self.pause(now, Step::WeldingDetection, t.welding_detection_interval);
                }
            }
            BodyElement::SessionStopRes(res) => {
                self.timers.stop_all();
                out.close();
                if is_ok(res.response_code) {
                    self.paused = self.config.iso2.pause_instead_of_terminate;
                } else {
                    self.ending.refused(Self::refused(step, res.response_code));
                }
                // The unlock waits for the voltage (IEC 61851-23: below 60 V).
                self.state = State::Hardware;
                if let Some(done) = self.power.unlock(now, out, &self.config, &mut self.timers) {
                    self.on_power(now, out, done);
                }
            }
            _ => {}
        }
    }

    fn next_service_step(&mut self, now: Instant, out: &mut Outbox) {
        if self.services_to_detail.is_empty() {
            self.send(now, out, Step::PaymentServiceSelection);
        } else {
            let id = self.services_to_detail.remove(0);
            self.send(now, out, Step::ServiceDetail(id));
        }
    }

    fn note_receipt(&mut self, required: Option<bool>, meter: Option<&MeterInfoType>, step: Step) {
        if required == Some(true)
            && let Some(meter) = meter
        {
            self.receipt = Some((meter.clone(), step));
        }
    }

    /// After a CurrentDemandRes, ChargingStatusRes or MeteringReceiptRes: the EVSE's verdict,
    /// then stop conditions, then the next round.
    fn after_loop_response(
        &mut self,
        now: Instant,
        out: &mut Outbox,
        verdict: Verdict,
        step: Step,
    ) {
        match verdict {
            Verdict::Fine => {}
            Verdict::Stop => {
                self.receipt = None;
                return self.stop_now(now, out, StopCause::Charger);
            }
            Verdict::Renegotiate => {
                // An EVSENotification ReNegotiation: PowerDelivery(Renegotiate), then a new
                // ChargeParameterDiscovery (ISO 15118-2 §8.4.3.9 / §8.8.4).
                if self.receipt.is_none() {
                    return self.send(now, out, Step::PowerDeliveryRenegotiate);
                }
            }
            Verdict::Fail(e) => return self.fail(now, out, e),
        }
        if self.receipt.is_none() && self.step_is_charge_loop(step) {
            if self.config.soc_simulation {
                self.simulated_soc = (self.simulated_soc + 0.5).min(100.0);
            }
            let soc = self.readings().soc(now, out).map_or(0.0, f32::from);
            out.update_values(|v| v.soc = Some(soc));
            if soc >= self.config.ev.full_soc.0 {
                return self.stop_now(now, out, StopCause::BatteryFull);
            }
            let elapsed = self
                .charging_since
                .map(|since| now.saturating_duration_since(since));
            if let (Some(limit), Some(elapsed)) = (self.config.charge_duration, elapsed)
                && elapsed >= limit
            {
                return self.stop_now(now, out, StopCause::ChargeDurationElapsed);
            }
        }
        let interval = if self.dc {
            self.config.timeouts.current_demand_interval
        } else {
            self.config.iso2.timeouts.charging_status_interval
        };
        self.continue_loop(now, out, step, interval);
    }

    fn step_is_charge_loop(&self, step: Step) -> bool {
        matches!(step, Step::CurrentDemand | Step::ChargingStatus)
    }
}

/// The response code of any response body (requests: `OK`).
fn response_code(body: &BodyElement) -> ResponseCodeType {
    use BodyElement as B;
    match body {
        B::SessionSetupRes(r) => r.response_code,
        B::ServiceDiscoveryRes(r) => r.response_code,
        B::ServiceDetailRes(r) => r.response_code,
        B::PaymentServiceSelectionRes(r) => r.response_code,
        B::CertificateInstallationRes(r) => r.response_code,
        B::CertificateUpdateRes(r) => r.response_code,
        B::PaymentDetailsRes(r) => r.response_code,
        B::AuthorizationRes(r) => r.response_code,
        B::ChargeParameterDiscoveryRes(r) => r.response_code,
        B::CableCheckRes(r) => r.response_code,
        B::PreChargeRes(r) => r.response_code,
        B::PowerDeliveryRes(r) => r.response_code,
        B::CurrentDemandRes(r) => r.response_code,
        B::ChargingStatusRes(r) => r.response_code,
        B::MeteringReceiptRes(r) => r.response_code,
        B::WeldingDetectionRes(r) => r.response_code,
        B::SessionStopRes(r) => r.response_code,
        _ => ResponseCodeType::OK,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_message_timeouts_follow_table_109() {
        let config = EvccConfig::default();
        assert_eq!(
            Step::PowerDeliveryStart.msg_timeout(&config),
            Duration::from_secs(5)
        );
        assert_eq!(
            Step::PaymentDetails.msg_timeout(&config),
            Duration::from_secs(5)
        );
        assert_eq!(
            Step::ServiceDetail(2).msg_timeout(&config),
            Duration::from_secs(5)
        );
        assert_eq!(
            Step::Authorization.msg_timeout(&config),
            Duration::from_secs(2)
        );
        assert_eq!(
            Step::CurrentDemand.msg_timeout(&config),
            Duration::from_millis(250)
        );
    }
}
