//! The car's ISO 15118-20 DC and DC_BPT session (EVCC), after the app handshake.
//!
//! Read ISO 15118-20:2022 §8.3 (messages), §8.8 (timing, Tables 216/217) and the module docs of
//! [`crate::session::iso20`] (the sequence) before changing this file.
//!
//! Safety is the shared DC power path's ([`crate::session::ev_dc`], DESIGN.md rule 5): CP
//! state C and the lock before CableCheck, the contactors close only after PreCharge matched,
//! and every failure goes through one safe shutdown: no more requests, CP state B, wait for the
//! current to fall, contactors open and confirmed, then unlock. If the contactors do not
//! confirm "open", the connector stays locked.
//!
//! Response codes: `OK*` goes on; `WARNING_*` in AuthorizationRes means "not authorized": the
//! car ends the session normally with SessionStop and reports the refusal; other warnings are
//! logged and the session goes on; `FAILED*` is the safe shutdown. EVSE notifications:
//! `Terminate`, `Pause` and `ServiceRenegotiation` (services are not renegotiated) stop the
//! charge normally (`Pause` ends with SessionStop `Pause`); `ScheduleRenegotiation` runs
//! PowerDelivery(ScheduleRenegotiation) → ScheduleExchange → PowerDelivery(Start) with the
//! contactors closed; `MeteringConfirmation` sends MeteringConfirmationReq with the charger's
//! reading (signed with the contract key in a Plug & Charge session); `ExitStandby` is logged.
//!
//! Plug & Charge: AuthorizationReq carries the header Signature over the
//! `PnC_AReqAuthorizationMode` fragment ([`super::pnc`]), made with the contract key.

use ccs_msg::iso20::common::{
    self, AuthorizationReqType_AReqAuthorizationMode,
    AuthorizationSetupResType_ASResAuthorizationMode, AuthorizationType, ChannelSelectionType,
    ChargeProgressType, ChargingSessionType, ContractCertificateChainType,
    Dynamic_EVPPTControlModeType, Dynamic_SEReqControlModeType, EIM_AReqAuthorizationModeType,
    EVPowerProfileEntryListType, EVPowerProfileType, EVPowerProfileType_EVPPTControlMode,
    ParameterType_Choice, PnC_AReqAuthorizationModeType, PowerScheduleEntryType,
    PowerToleranceAcceptanceType, ScheduleExchangeReqType_SEReqControlMode,
    ScheduleExchangeResType_SEResControlMode, Scheduled_EVPPTControlModeType,
    Scheduled_SEReqControlModeType, SelectedServiceType, SubCertificatesType,
};
use ccs_msg::iso20::dc::{
    self, CLReqControlMode, DC_CPDReqEnergyTransferMode, DC_CPDResEnergyTransferMode,
};
use ccs_msg::iso20::types::{
    DisplayParametersType, EVSEStatusType, EvseNotificationType, ProcessingType, ResponseCodeType,
};

use super::config::{Authorization, ControlMode};
use super::pnc;
use super::values::{
    self, Message, MessageKind, NO_SESSION_ID, SERVICE_DC, SERVICE_DC_BPT, hex, is_failed, is_ok,
    rational, to_f32,
};
use crate::hardware::{Amps, HardwareCommand, Measurement, Volts};
use crate::session::config::EvccConfig;
use crate::session::ev_dc::{AfterOpen, EvEnding, EvPowerPath, EvReadings, PowerDone};
use crate::session::outbox::Outbox;
use crate::session::timers::{Timer, TimerTable};
use crate::session::{Phase, SessionError, SessionEvent};
use crate::time::Instant;
use crate::v2gtp::PayloadType;
use std::sync::Arc;

/// One request of the sequence.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Step {
    SessionSetup,
    AuthorizationSetup,
    Authorization,
    ServiceDiscovery,
    ServiceDetail,
    ServiceSelection,
    ChargeParameterDiscovery,
    ScheduleExchange,
    CableCheck,
    PreCharge,
    /// The last DC_PreChargeReq, with EVProcessing = Finished.
    PreChargeFinished,
    PowerDeliveryStart,
    ChargeLoop,
    /// PowerDeliveryReq(ScheduleRenegotiation): the charger asked for a new schedule.
    PowerDeliveryRenegotiate,
    /// MeteringConfirmationReq: the charger asked to confirm its meter reading.
    MeteringConfirmation,
    PowerDeliveryStop,
    WeldingDetection,
    SessionStop,
}

impl Step {
    const fn kind(self) -> MessageKind {
        use MessageKind as K;
        match self {
            Self::SessionSetup => K::SessionSetup,
            Self::AuthorizationSetup => K::AuthorizationSetup,
            Self::Authorization => K::Authorization,
            Self::ServiceDiscovery => K::ServiceDiscovery,
            Self::ServiceDetail => K::ServiceDetail,
            Self::ServiceSelection => K::ServiceSelection,
            Self::ChargeParameterDiscovery => K::ChargeParameterDiscovery,
            Self::ScheduleExchange => K::ScheduleExchange,
            Self::CableCheck => K::CableCheck,
            Self::PreCharge | Self::PreChargeFinished => K::PreCharge,
            Self::PowerDeliveryStart | Self::PowerDeliveryStop | Self::PowerDeliveryRenegotiate => {
                K::PowerDelivery
            }
            Self::MeteringConfirmation => K::MeteringConfirmation,
            Self::ChargeLoop => K::ChargeLoop,
            Self::WeldingDetection => K::WeldingDetection,
            Self::SessionStop => K::SessionStop,
        }
    }

    const fn phase(self) -> Phase {
        match self {
            Self::SessionSetup => Phase::SessionSetup,
            Self::AuthorizationSetup | Self::Authorization => Phase::Authorization,
            Self::ServiceDiscovery | Self::ServiceDetail | Self::ServiceSelection => {
                Phase::ServiceSelection
            }
            Self::ChargeParameterDiscovery | Self::ScheduleExchange => {
                Phase::ChargeParameterDiscovery
            }
            Self::CableCheck => Phase::CableCheck,
            Self::PreCharge | Self::PreChargeFinished => Phase::PreCharge,
            Self::PowerDeliveryStart => Phase::PowerDeliveryStart,
            Self::ChargeLoop | Self::PowerDeliveryRenegotiate | Self::MeteringConfirmation => {
                Phase::Charging
            }
            Self::PowerDeliveryStop => Phase::PowerDeliveryStop,
            Self::WeldingDetection => Phase::WeldingDetection,
            Self::SessionStop => Phase::SessionStop,
        }
    }
}

#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum State {
    AwaitResponse(Step),
    Pause(Step),
    /// A hardware step of the power path (lock, contactors, current fall) is under way.
    Hardware,
    Done,
}

/// Why the car winds down normally.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum StopCause {
    User,
    BatteryFull,
    DischargeLimit,
    ChargeDurationElapsed,
    /// An EVSE notification (Terminate, renegotiation) or a WARNING that ends the session.
    Charger,
    /// EVSENotification = Pause: SessionStop with ChargingSession = Pause.
    ChargerPause,
}

/// The car's ISO 15118-20 session.
#[derive(Clone, Debug)]
pub(crate) struct Evcc {
    config: EvccConfig,
    evcc_id: String,
    session_id: Vec<u8>,
    wants_bpt: bool,
    accepts_dc: bool,
    state: State,
    timers: TimerTable,
    stop: Option<StopCause>,
    /// The failure that started the safe shutdown, or a refused SessionStop.
    ending: EvEnding,
    authorization: AuthorizationType,
    gen_challenge: Vec<u8>,
    service_id: u16,
    parameter_set_id: u16,
    schedule_tuple_id: u32,
    power: EvPowerPath,
    charging_since: Option<Instant>,
    simulated_soc: f32,
    welding_rounds: u32,
    /// The contract key for Plug & Charge.
    signer: Option<Arc<dyn pnc::ContractSigner>>,
    /// A schedule renegotiation is under way (the contactors stay closed).
    renegotiating: bool,
    /// The meter reading (and receipt) the charger asked to confirm.
    metering: Option<(
        ccs_msg::iso20::types::MeterInfoType,
        Option<ccs_msg::iso20::types::ReceiptType>,
    )>,
}

/// What an EVSE notification asks of the car.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Notice {
    /// Nothing: go on.
    Continue,
    /// Stop normally.
    Stop(StopCause),
    /// ScheduleRenegotiation: PowerDelivery(ScheduleRenegotiation), ScheduleExchange, Start.
    Renegotiate,
    /// MeteringConfirmation: send MeteringConfirmationReq.
    ConfirmMetering,
}

impl Evcc {
    /// A new session for the car with MAC `mac`. `wants_bpt`: the DC_BPT service is preferred;
    /// `accepts_dc`: the DC service is acceptable.
    /// `signer`: the contract key for Plug & Charge.
    pub(crate) fn new(
        config: EvccConfig,
        mac: [u8; 6],
        wants_bpt: bool,
        accepts_dc: bool,
        signer: Option<Arc<dyn pnc::ContractSigner>>,
    ) -> Self {
        let evcc_id = config.iso20.evcc_id.clone().unwrap_or_else(|| hex(&mac));
        Self {
            config,
            evcc_id,
            session_id: NO_SESSION_ID.to_vec(),
            wants_bpt,
            accepts_dc,
            state: State::Done,
            timers: TimerTable::default(),
            stop: None,
            ending: EvEnding::default(),
            authorization: AuthorizationType::EIM,
            gen_challenge: Vec::new(),
            service_id: SERVICE_DC,
            parameter_set_id: 1,
            schedule_tuple_id: 1,
            power: EvPowerPath::default(),
            charging_since: None,
            simulated_soc: 20.0,
            welding_rounds: 0,
            signer,
            renegotiating: false,
            metering: None,
        }
    }

    /// Sends SessionSetupReq.
    pub(crate) fn start(&mut self, now: Instant, out: &mut Outbox) {
        self.send(now, out, Step::SessionSetup);
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_timeout()
    }

    fn bpt(&self) -> bool {
        self.service_id == SERVICE_DC_BPT
    }

    // ----- inputs

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
        let msg = match Message::decode(payload_type, payload) {
            Ok(msg) => msg,
            Err(e) => return self.fail(now, out, e),
        };
        let kind = msg.response_kind();
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
        out.received(step.kind().response_name(), msg.summary());
        self.timers.stop(Timer::EvccMsg);
        self.timers.set(
            Timer::EvccSequence,
            now + self.config.timeouts.sequence_timeout,
        );
        let sid = msg
            .header()
            .map(|h| h.session_id.clone())
            .unwrap_or_default();
        if step != Step::SessionSetup && sid != self.session_id {
            return self.fail(
                now,
                out,
                SessionError::PeerMisbehaved(format!(
                    "SessionID {} instead of {}",
                    hex(&sid),
                    hex(&self.session_id)
                )),
            );
        }
        let code = msg.response_code().unwrap_or(ResponseCodeType::FAILED);
        if is_failed(code) {
            if step == Step::SessionStop || step == Step::WeldingDetection {
                if let Message::Dc(dc::Document::DC_WeldingDetectionRes(res)) = &msg {
                    self.power
                        .welding_report(now, out, to_f32(&res.evse_present_voltage));
                }
                // The contactors are open: end normally, reporting the refusal.
                self.ending.refused(self.refused(step, code));
                if step == Step::SessionStop {
                    return self.finish(now, out);
                }
                return self.send(now, out, Step::SessionStop);
            }
            return self.fail(now, out, self.refused(step, code));
        }
        if !is_ok(code) {
            out.event(SessionEvent::Received {
                name: "warning",
                summary: format!("{}: {code:?}", step.kind().response_name()),
            });
        }
        self.on_response(now, out, step, &msg, code);
    }

    fn refused(&self, step: Step, code: ResponseCodeType) -> SessionError {
        SessionError::PeerRefused(format!("{}: {code:?}", step.kind().response_name()))
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
            self.on_power_done(now, out, done);
        }
    }

    pub(crate) fn handle_stop_request(&mut self, now: Instant, out: &mut Outbox) {
        self.request_stop(now, out, StopCause::User);
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant, out: &mut Outbox) {
        // Bounded, as in the DIN and ISO-2 machines: a timer armed with a zero duration must
        // not spin here.
        for _ in 0..Timer::ALL.len() * 4 {
            let Some(timer) = self.timers.pop_expired(now) else {
                break;
            };
            self.on_timer(now, out, timer);
        }
    }

    /// Any failure (connection lost, hardware fault, refusal): the safe shutdown.
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
            self.on_power_done(now, out, done);
        }
    }

    // ----- what the car knows

    fn readings(&self) -> EvReadings<'_> {
        EvReadings {
            config: &self.config,
            simulated_soc: self.simulated_soc,
        }
    }

    /// The target voltage and current of the Scheduled mode: the BMS's (or configured) ones,
    /// or with DC_BPT the configured discharge current as a negative target.
    fn target(&self, now: Instant, out: &Outbox) -> (f32, f32) {
        let (u, i) = self.readings().target(now, out);
        if self.bpt()
            && let Some(discharge) = self.config.iso20.bpt.discharge_current
        {
            return (
                u,
                -discharge
                    .0
                    .abs()
                    .min(self.config.iso20.bpt.max_discharge_current.0),
            );
        }
        (u, i)
    }

    fn discharging(&self) -> bool {
        self.bpt() && self.config.iso20.bpt.discharge_current.is_some()
    }

    // ----- building requests

    fn header(&self, now: Instant) -> ccs_msg::iso20::types::MessageHeaderType {
        let secs = u64::try_from(now.total_millis().max(0) / 1000).unwrap_or(0);
        values::header(&self.session_id, self.config.iso20.unix_time_at_zero + secs)
    }

    #[allow(clippy::too_many_lines)]
    fn build(&self, now: Instant, out: &mut Outbox, step: Step) -> Result<Message, SessionError> {
        let header = self.header(now);
        let ev = &self.config.ev;
        let iso = &self.config.iso20;
        let bpt = &iso.bpt;
        Ok(match step {
            Step::SessionSetup => Message::Common(common::Document::SessionSetupReq(
                common::SessionSetupReqType {
                    header,
                    evccid: self.evcc_id.clone(),
                },
            )),
            Step::AuthorizationSetup => Message::Common(common::Document::AuthorizationSetupReq(
                common::AuthorizationSetupReqType { header },
            )),
            Step::Authorization => {
                let mut header = header;
                let mode = match (&iso.authorization, self.authorization) {
                    (
                        Authorization::PnC {
                            contract_certificate,
                            sub_certificates,
                        },
                        AuthorizationType::PnC,
                    ) => {
                        let pnc = PnC_AReqAuthorizationModeType {
                            id: pnc::SIGNED_ID.into(),
                            // The GenChallenge of AuthorizationSetupRes, echoed and signed.
                            gen_challenge: self.gen_challenge.clone(),
                            contract_certificate_chain: ContractCertificateChainType {
                                certificate: contract_certificate.clone(),
                                sub_certificates: SubCertificatesType {
                                    certificate: sub_certificates.clone(),
                                },
                            },
                        };
                        // The header Signature over the PnC_AReqAuthorizationMode fragment,
                        // made with the contract certificate's private key.
                        let Some(signer) = self.signer.as_deref() else {
                            return Err(SessionError::Config(
                                "Plug & Charge without a contract key (set_iso20_signer)".into(),
                            ));
                        };
                        let fragment = common::Fragment::PnC_AReqAuthorizationMode(pnc.clone());
                        header.signature = Some(
                            pnc::sign(signer, &[(pnc::SIGNED_ID, fragment)])
                                .map_err(|e| SessionError::Config(format!("signing: {e}")))?,
                        );
                        AuthorizationReqType_AReqAuthorizationMode::PnC_AReqAuthorizationMode(pnc)
                    }
                    _ => AuthorizationReqType_AReqAuthorizationMode::EIM_AReqAuthorizationMode(
                        EIM_AReqAuthorizationModeType {},
                    ),
                };
                Message::Common(common::Document::AuthorizationReq(
                    common::AuthorizationReqType {
                        header,
                        selected_authorization_service: self.authorization,
                        a_req_authorization_mode: mode,
                    },
                ))
            }
            Step::ServiceDiscovery => Message::Common(common::Document::ServiceDiscoveryReq(
                common::ServiceDiscoveryReqType {
                    header,
                    supported_service_i_ds: None,
                },
            )),
            Step::ServiceDetail => Message::Common(common::Document::ServiceDetailReq(
                common::ServiceDetailReqType {
                    header,
                    service_id: self.service_id,
                },
            )),
            Step::ServiceSelection => Message::Common(common::Document::ServiceSelectionReq(
                common::ServiceSelectionReqType {
                    header,
                    selected_energy_transfer_service: SelectedServiceType {
                        service_id: self.service_id,
                        parameter_set_id: self.parameter_set_id,
                    },
                    selected_vas_list: None,
                },
            )),
            Step::ChargeParameterDiscovery => {
                let target_soc = Some(ev.full_soc.0.clamp(0.0, 100.0).round() as u8);
                let mode = if self.bpt() {
                    DC_CPDReqEnergyTransferMode::BPT_DC_CPDReqEnergyTransferMode(
                        dc::BPT_DC_CPDReqEnergyTransferModeType {
                            ev_maximum_charge_power: rational(ev.max_power.0),
                            ev_minimum_charge_power: rational(iso.min_charge_power.0),
                            ev_maximum_charge_current: rational(ev.max_current.0),
                            ev_minimum_charge_current: rational(iso.min_charge_current.0),
                            ev_maximum_voltage: rational(ev.max_voltage.0),
                            ev_minimum_voltage: rational(iso.min_voltage.0),
                            target_soc,
                            ev_maximum_discharge_power: rational(bpt.max_discharge_power.0),
                            ev_minimum_discharge_power: rational(bpt.min_discharge_power.0),
                            ev_maximum_discharge_current: rational(bpt.max_discharge_current.0),
                            ev_minimum_discharge_current: rational(bpt.min_discharge_current.0),
                        },
                    )
                } else {
                    DC_CPDReqEnergyTransferMode::DC_CPDReqEnergyTransferMode(
                        dc::DC_CPDReqEnergyTransferModeType {
                            ev_maximum_charge_power: rational(ev.max_power.0),
                            ev_minimum_charge_power: rational(iso.min_charge_power.0),
                            ev_maximum_charge_current: rational(ev.max_current.0),
                            ev_minimum_charge_current: rational(iso.min_charge_current.0),
                            ev_maximum_voltage: rational(ev.max_voltage.0),
                            ev_minimum_voltage: rational(iso.min_voltage.0),
                            target_soc,
                        },
                    )
                };
                Message::Dc(dc::Document::DC_ChargeParameterDiscoveryReq(
                    dc::DC_ChargeParameterDiscoveryReqType {
                        header,
                        dc_cpd_req_energy_transfer_mode: mode,
                    },
                ))
            }
            Step::ScheduleExchange => {
                let mode = match iso.control_mode {
                    ControlMode::Scheduled => {
                        ScheduleExchangeReqType_SEReqControlMode::Scheduled_SEReqControlMode(
                            Scheduled_SEReqControlModeType {
                                departure_time: None,
                                ev_target_energy_request: Some(rational(ev.energy_request.0)),
                                ev_maximum_energy_request: Some(rational(ev.energy_request.0)),
                                ev_minimum_energy_request: Some(rational(0.0)),
                                ev_energy_offer: None,
                            },
                        )
                    }
                    ControlMode::Dynamic => {
                        ScheduleExchangeReqType_SEReqControlMode::Dynamic_SEReqControlMode(
                            Dynamic_SEReqControlModeType {
                                departure_time: 7200,
                                minimum_soc: None,
                                target_soc: None,
                                ev_target_energy_request: rational(ev.energy_request.0),
                                ev_maximum_energy_request: rational(ev.energy_request.0),
                                ev_minimum_energy_request: rational(0.0),
                                ev_maximum_v2_x_energy_request: self
                                    .bpt()
                                    .then(|| rational(ev.energy_capacity.0)),
                                ev_minimum_v2_x_energy_request: self.bpt().then(|| rational(0.0)),
                            },
                        )
                    }
                };
                Message::Common(common::Document::ScheduleExchangeReq(
                    common::ScheduleExchangeReqType {
                        header,
                        maximum_supporting_points: 1024,
                        se_req_control_mode: mode,
                    },
                ))
            }
            Step::CableCheck => {
                Message::Dc(dc::Document::DC_CableCheckReq(dc::DC_CableCheckReqType {
                    header,
                }))
            }
            Step::PreCharge | Step::PreChargeFinished => {
                let u = self.readings().battery_voltage(now, out)?;
                out.update_values(|v| v.target_voltage = Some(u));
                Message::Dc(dc::Document::DC_PreChargeReq(dc::DC_PreChargeReqType {
                    header,
                    ev_processing: if step == Step::PreChargeFinished {
                        ProcessingType::Finished
                    } else {
                        ProcessingType::Ongoing
                    },
                    ev_present_voltage: rational(u),
                    ev_target_voltage: rational(u),
                }))
            }
            Step::PowerDeliveryStart => {
                let entry = PowerScheduleEntryType {
                    duration: 3600,
                    power: rational(if self.discharging() {
                        -bpt.max_discharge_power.0
                    } else {
                        ev.max_power.0
                    }),
                    power_l2: None,
                    power_l3: None,
                };
                let control = match iso.control_mode {
                    ControlMode::Scheduled => {
                        EVPowerProfileType_EVPPTControlMode::Scheduled_EVPPTControlMode(
                            Scheduled_EVPPTControlModeType {
                                selected_schedule_tuple_id: self.schedule_tuple_id,
                                // Optional in the schema; Josev 0.31.2's charger rejects
                                // a PowerDeliveryReq without it. We accept the schedule's
                                // tolerance.
                                power_tolerance_acceptance: Some(
                                    PowerToleranceAcceptanceType::PowerToleranceConfirmed,
                                ),
                            },
                        )
                    }
                    ControlMode::Dynamic => {
                        EVPowerProfileType_EVPPTControlMode::Dynamic_EVPPTControlMode(
                            Dynamic_EVPPTControlModeType {},
                        )
                    }
                };
                Message::Common(common::Document::PowerDeliveryReq(
                    common::PowerDeliveryReqType {
                        header,
                        ev_processing: ProcessingType::Finished,
                        charge_progress: ChargeProgressType::Start,
                        ev_power_profile: Some(EVPowerProfileType {
                            time_anchor: 0,
                            evppt_control_mode: control,
                            ev_power_profile_entries: EVPowerProfileEntryListType {
                                ev_power_profile_entry: vec![entry],
                            },
                        }),
                        bpt_channel_selection: self.bpt().then_some(if self.discharging() {
                            ChannelSelectionType::Discharge
                        } else {
                            ChannelSelectionType::Charge
                        }),
                    },
                ))
            }
            Step::PowerDeliveryRenegotiate => Message::Common(common::Document::PowerDeliveryReq(
                common::PowerDeliveryReqType {
                    header,
                    ev_processing: ProcessingType::Finished,
                    charge_progress: ChargeProgressType::ScheduleRenegotiation,
                    ev_power_profile: None,
                    bpt_channel_selection: None,
                },
            )),
            Step::MeteringConfirmation => self.metering_confirmation_req(header)?,
            Step::PowerDeliveryStop => Message::Common(common::Document::PowerDeliveryReq(
                common::PowerDeliveryReqType {
                    header,
                    ev_processing: ProcessingType::Finished,
                    charge_progress: ChargeProgressType::Stop,
                    ev_power_profile: None,
                    bpt_channel_selection: None,
                },
            )),
            Step::ChargeLoop => self.charge_loop_req(now, out, header)?,
            Step::WeldingDetection => Message::Dc(dc::Document::DC_WeldingDetectionReq(
                dc::DC_WeldingDetectionReqType {
                    header,
                    ev_processing: ProcessingType::Ongoing,
                },
            )),
            Step::SessionStop => Message::Common(common::Document::SessionStopReq(
                common::SessionStopReqType {
                    header,
                    charging_session: if self.stop == Some(StopCause::ChargerPause) {
                        ChargingSessionType::Pause
                    } else {
                        ChargingSessionType::Terminate
                    },
                    ev_termination_code: None,
                    ev_termination_explanation: None,
                },
            )),
        })
    }

    /// MeteringConfirmationReq: the charger's reading echoed as SignedMeteringData; signed
    /// with the contract key in a Plug & Charge session.
    fn metering_confirmation_req(
        &self,
        mut header: ccs_msg::iso20::types::MessageHeaderType,
    ) -> Result<Message, SessionError> {
        let Some((meter_info, receipt)) = self.metering.clone() else {
            return Err(SessionError::PeerMisbehaved(
                "MeteringConfirmation without a meter reading".into(),
            ));
        };
        let data = common::SignedMeteringDataType {
            id: pnc::SIGNED_ID.into(),
            session_id: self.session_id.clone(),
            meter_info,
            receipt,
            smdt_control_mode: match self.config.iso20.control_mode {
                ControlMode::Scheduled => {
                    common::SignedMeteringDataType_SMDTControlMode::Scheduled_SMDTControlMode(
                        common::Scheduled_SMDTControlModeType {
                            selected_schedule_tuple_id: self.schedule_tuple_id,
                        },
                    )
                }
                ControlMode::Dynamic => {
                    common::SignedMeteringDataType_SMDTControlMode::Dynamic_SMDTControlMode(
                        common::Dynamic_SMDTControlModeType {},
                    )
                }
            },
        };
        if self.authorization == AuthorizationType::PnC
            && let Some(signer) = self.signer.as_deref()
        {
            let fragment = common::Fragment::SignedMeteringData(data.clone());
            header.signature = Some(
                pnc::sign(signer, &[(pnc::SIGNED_ID, fragment)])
                    .map_err(|e| SessionError::Config(format!("signing: {e}")))?,
            );
        }
        Ok(Message::Common(common::Document::MeteringConfirmationReq(
            common::MeteringConfirmationReqType {
                header,
                signed_metering_data: data,
            },
        )))
    }

    fn charge_loop_req(
        &self,
        now: Instant,
        out: &mut Outbox,
        header: ccs_msg::iso20::types::MessageHeaderType,
    ) -> Result<Message, SessionError> {
        let ev = &self.config.ev;
        let iso = &self.config.iso20;
        let bpt = &iso.bpt;
        let soc = f32::from(self.readings().soc(now, out)?);
        let u_present = self.readings().battery_voltage(now, out)?;
        let (u, i) = self.target(now, out);
        let dynamic = iso.control_mode == ControlMode::Dynamic;
        out.update_values(|v| {
            v.soc = Some(soc);
            v.target_voltage = Some(u);
            v.target_current = (!dynamic).then_some(i);
        });
        let mode = match (iso.control_mode, self.bpt()) {
            (ControlMode::Scheduled, false) => CLReqControlMode::Scheduled_DC_CLReqControlMode(
                dc::Scheduled_DC_CLReqControlModeType {
                    ev_target_energy_request: None,
                    ev_maximum_energy_request: None,
                    ev_minimum_energy_request: None,
                    ev_target_current: rational(i),
                    ev_target_voltage: rational(u),
                    ev_maximum_charge_power: Some(rational(ev.max_power.0)),
                    ev_minimum_charge_power: None,
                    ev_maximum_charge_current: Some(rational(ev.max_current.0)),
                    ev_maximum_voltage: Some(rational(ev.max_voltage.0)),
                    ev_minimum_voltage: None,
                },
            ),
            (ControlMode::Scheduled, true) => CLReqControlMode::BPT_Scheduled_DC_CLReqControlMode(
                dc::BPT_Scheduled_DC_CLReqControlModeType {
                    ev_target_energy_request: None,
                    ev_maximum_energy_request: None,
                    ev_minimum_energy_request: None,
                    ev_target_current: rational(i),
                    ev_target_voltage: rational(u),
                    ev_maximum_charge_power: Some(rational(ev.max_power.0)),
                    ev_minimum_charge_power: None,
                    ev_maximum_charge_current: Some(rational(ev.max_current.0)),
                    ev_maximum_voltage: Some(rational(ev.max_voltage.0)),
                    ev_minimum_voltage: Some(rational(iso.min_voltage.0)),
                    ev_maximum_discharge_power: Some(rational(bpt.max_discharge_power.0)),
                    ev_minimum_discharge_power: Some(rational(bpt.min_discharge_power.0)),
                    ev_maximum_discharge_current: Some(rational(bpt.max_discharge_current.0)),
                },
            ),
            (ControlMode::Dynamic, false) => {
                CLReqControlMode::Dynamic_DC_CLReqControlMode(dc::Dynamic_DC_CLReqControlModeType {
                    departure_time: None,
                    ev_target_energy_request: rational(ev.energy_request.0),
                    ev_maximum_energy_request: rational(ev.energy_request.0),
                    ev_minimum_energy_request: rational(0.0),
                    ev_maximum_charge_power: rational(ev.max_power.0),
                    ev_minimum_charge_power: rational(iso.min_charge_power.0),
                    ev_maximum_charge_current: rational(i.max(0.0)),
                    ev_maximum_voltage: rational(u),
                    ev_minimum_voltage: rational(iso.min_voltage.0),
                })
            }
            (ControlMode::Dynamic, true) => CLReqControlMode::BPT_Dynamic_DC_CLReqControlMode(
                dc::BPT_Dynamic_DC_CLReqControlModeType {
                    departure_time: None,
                    ev_target_energy_request: rational(ev.energy_request.0),
                    ev_maximum_energy_request: rational(ev.energy_request.0),
                    ev_minimum_energy_request: rational(0.0),
                    ev_maximum_charge_power: rational(ev.max_power.0),
                    ev_minimum_charge_power: rational(iso.min_charge_power.0),
                    ev_maximum_charge_current: rational(ev.max_current.0),
                    ev_maximum_voltage: rational(u),
                    ev_minimum_voltage: rational(iso.min_voltage.0),
                    ev_maximum_discharge_power: rational(bpt.max_discharge_power.0),
                    ev_minimum_discharge_power: rational(bpt.min_discharge_power.0),
                    ev_maximum_discharge_current: rational(bpt.max_discharge_current.0),
                    ev_maximum_v2_x_energy_request: None,
                    ev_minimum_v2_x_energy_request: None,
                },
            ),
        };
        Ok(Message::Dc(dc::Document::DC_ChargeLoopReq(
            dc::DC_ChargeLoopReqType {
                header,
                display_parameters: Some(DisplayParametersType {
                    present_soc: Some(soc.round() as u8),
                    minimum_soc: None,
                    target_soc: None,
                    maximum_soc: None,
                    remaining_time_to_minimum_soc: None,
                    remaining_time_to_target_soc: None,
                    remaining_time_to_maximum_soc: None,
                    charging_complete: Some(false),
                    battery_energy_capacity: None,
                    inlet_hot: None,
                }),
                meter_info_requested: false,
                ev_present_voltage: rational(u_present),
                cl_req_control_mode: mode,
            },
        )))
    }

    /// Sends the request of `step`, unless a normal stop redirects it.
    fn send(&mut self, now: Instant, out: &mut Outbox, step: Step) {
        let Some(step) = self.redirect_for_stop(step) else {
            return;
        };
        let msg = match self.build(now, out, step) {
            Ok(msg) => msg,
            Err(e) => return self.fail(now, out, e),
        };
        let (payload_type, payload) = match msg.encode() {
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
        out.send_as(
            payload_type,
            payload,
            step.kind().request_name(),
            msg.summary(),
        );
        self.timers.stop(Timer::EvccSequence);
        self.timers.set(
            Timer::EvccMsg,
            now + self.config.iso20.timeouts.msg_timeout(step.kind()),
        );
        self.state = State::AwaitResponse(step);
    }

    /// With a stop requested, the loops give way to the stop sequence.
    fn redirect_for_stop(&mut self, step: Step) -> Option<Step> {
        if self.stop.is_none() {
            return Some(step);
        }
        match step {
            Step::CableCheck
            | Step::PreCharge
            | Step::PreChargeFinished
            | Step::PowerDeliveryStart
            | Step::ChargeLoop
            | Step::PowerDeliveryRenegotiate
            | Step::MeteringConfirmation => {
                self.timers.stop(Timer::EvccCableCheck);
                self.timers.stop(Timer::EvccPreCharge);
                Some(Step::PowerDeliveryStop)
            }
            Step::PowerDeliveryStop | Step::WeldingDetection | Step::SessionStop => Some(step),
            _ if !self.power.is_locked() => Some(Step::SessionStop),
            other => Some(other),
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

    fn pause(&mut self, now: Instant, step: Step, interval: crate::time::Duration) {
        self.state = State::Pause(step);
        self.timers.set(Timer::Pacing, now + interval);
    }

    /// What an EVSE notification asks of the car. ServiceRenegotiation is answered with a
    /// normal stop: this car does not renegotiate services (ISO 15118-20 lets the car end the
    /// session instead).
    fn judge(out: &mut Outbox, status: Option<&EVSEStatusType>) -> Notice {
        let Some(status) = status else {
            return Notice::Continue;
        };
        match status.evse_notification {
            EvseNotificationType::Terminate | EvseNotificationType::ServiceRenegotiation => {
                Notice::Stop(StopCause::Charger)
            }
            EvseNotificationType::Pause => Notice::Stop(StopCause::ChargerPause),
            EvseNotificationType::ScheduleRenegotiation => Notice::Renegotiate,
            EvseNotificationType::MeteringConfirmation => Notice::ConfirmMetering,
            EvseNotificationType::ExitStandby => {
                out.event(SessionEvent::Received {
                    name: "notification",
                    summary: "ExitStandby ignored (not in standby)".into(),
                });
                Notice::Continue
            }
        }
    }

    #[allow(clippy::too_many_lines)]
    fn on_response(
        &mut self,
        now: Instant,
        out: &mut Outbox,
        step: Step,
        msg: &Message,
        code: ResponseCodeType,
    ) {
        let t = self.config.timeouts.clone();
        let it = self.config.iso20.timeouts.clone();
        match msg {
            Message::Common(common::Document::SessionSetupRes(res)) => {
                let ok = matches!(
                    code,
                    ResponseCodeType::OK_NewSessionEstablished
                        | ResponseCodeType::OK_OldSessionJoined
                ) || (code == ResponseCodeType::OK
                    && self.config.quirks.accept_ok_in_session_setup_res);
                if !ok {
                    return self.fail(now, out, self.refused(step, code));
                }
                let len = res.header.session_id.len();
                let len_ok = if self.config.quirks.accept_short_session_id {
                    (1..=8).contains(&len)
                } else {
                    len == 8
                };
                if !len_ok || res.header.session_id == NO_SESSION_ID {
                    return self.fail(
                        now,
                        out,
                        SessionError::PeerMisbehaved(format!(
                            "SessionID {}",
                            hex(&res.header.session_id)
                        )),
                    );
                }
                self.session_id = res.header.session_id.clone();
                self.send(now, out, Step::AuthorizationSetup);
            }
            Message::Common(common::Document::AuthorizationSetupRes(res)) => {
                let offered = &res.authorization_services;
                let wants_pnc =
                    matches!(self.config.iso20.authorization, Authorization::PnC { .. });
                self.authorization = if wants_pnc && offered.contains(&AuthorizationType::PnC) {
                    if let AuthorizationSetupResType_ASResAuthorizationMode::PnC_ASResAuthorizationMode(p) =
                        &res.as_res_authorization_mode
                    {
                        self.gen_challenge = p.gen_challenge.clone();
                    }
                    AuthorizationType::PnC
                } else if offered.contains(&AuthorizationType::EIM) {
                    AuthorizationType::EIM
                } else {
                    return self.fail(
                        now,
                        out,
                        SessionError::PeerIncompatible(format!(
                            "authorization services {offered:?}"
                        )),
                    );
                };
                self.timers
                    .set(Timer::EvccOngoing, now + it.ongoing_timeout);
                self.send(now, out, Step::Authorization);
            }
            Message::Common(common::Document::AuthorizationRes(res)) => {
                if !is_ok(code) {
                    // WARNING_*: not authorized; end the session normally, report the refusal.
                    self.timers.stop(Timer::EvccOngoing);
                    self.ending.refused(self.refused(step, code));
                    return self.stop_now(now, out, StopCause::Charger);
                }
                if res.evse_processing == ProcessingType::Finished {
                    self.timers.stop(Timer::EvccOngoing);
                    self.send(now, out, Step::ServiceDiscovery);
                } else {
                    self.pause(now, Step::Authorization, t.ongoing_repeat_interval);
                }
            }
            Message::Common(common::Document::ServiceDiscoveryRes(res)) => {
                let ids: Vec<u16> = res
                    .energy_transfer_service_list
                    .service
                    .iter()
                    .map(|s| s.service_id)
                    .collect();
                self.service_id = if self.wants_bpt && ids.contains(&SERVICE_DC_BPT) {
                    SERVICE_DC_BPT
                } else if self.accepts_dc && ids.contains(&SERVICE_DC) {
                    SERVICE_DC
                } else {
                    return self.fail(
                        now,
                        out,
                        SessionError::PeerIncompatible(format!("energy services {ids:?}")),
                    );
                };
                self.send(now, out, Step::ServiceDetail);
            }
            Message::Common(common::Document::ServiceDetailRes(res)) => {
                let wanted = self.config.iso20.control_mode.parameter();
                let set = (res.service_id == self.service_id)
                    .then(|| {
                        res.service_parameter_list.parameter_set.iter().find(|set| {
                            set.parameter.iter().any(|p| {
                                p.name == "ControlMode"
                                    && matches!(p.choice, ParameterType_Choice::IntValue(v) if v == wanted)
                            })
                        })
                    })
                    .flatten();
                let Some(set) = set else {
                    return self.fail(
                        now,
                        out,
                        SessionError::PeerIncompatible(format!(
                            "no parameter set with ControlMode {:?}",
                            self.config.iso20.control_mode
                        )),
                    );
                };
                self.parameter_set_id = set.parameter_set_id;
                self.send(now, out, Step::ServiceSelection);
            }
            Message::Common(common::Document::ServiceSelectionRes(_)) => {
                self.send(now, out, Step::ChargeParameterDiscovery);
            }
            Message::Dc(dc::Document::DC_ChargeParameterDiscoveryRes(res)) => {
                let (max_u, max_i, max_p) = match (&res.dc_cpd_res_energy_transfer_mode, self.bpt())
                {
                    (DC_CPDResEnergyTransferMode::DC_CPDResEnergyTransferMode(p), false) => (
                        to_f32(&p.evse_maximum_voltage),
                        to_f32(&p.evse_maximum_charge_current),
                        to_f32(&p.evse_maximum_charge_power),
                    ),
                    (DC_CPDResEnergyTransferMode::BPT_DC_CPDResEnergyTransferMode(p), true) => (
                        to_f32(&p.evse_maximum_voltage),
                        to_f32(&p.evse_maximum_charge_current),
                        to_f32(&p.evse_maximum_charge_power),
                    ),
                    _ => {
                        return self.fail(
                            now,
                            out,
                            SessionError::PeerMisbehaved(
                                "charge parameters of another service".into(),
                            ),
                        );
                    }
                };
                out.update_values(|v| {
                    v.evse_max_voltage = Some(max_u);
                    v.evse_max_current = Some(max_i);
                    v.evse_max_power = Some(max_p);
                });
                out.command(HardwareCommand::ChargerLimits {
                    max_voltage: Volts(max_u),
                    max_current: Amps(max_i),
                });
                self.timers
                    .set(Timer::EvccOngoing, now + it.ongoing_timeout);
                self.send(now, out, Step::ScheduleExchange);
            }
            Message::Common(common::Document::ScheduleExchangeRes(res)) => {
                if res.evse_processing != ProcessingType::Finished {
                    return self.pause(now, Step::ScheduleExchange, t.ongoing_repeat_interval);
                }
                self.timers.stop(Timer::EvccOngoing);
                match (&res.se_res_control_mode, self.config.iso20.control_mode) {
                    (
                        ScheduleExchangeResType_SEResControlMode::Scheduled_SEResControlMode(s),
                        ControlMode::Scheduled,
                    ) => {
                        let Some(tuple) = s.schedule_tuple.first() else {
                            return self.fail(
                                now,
                                out,
                                SessionError::PeerMisbehaved("no ScheduleTuple".into()),
                            );
                        };
                        self.schedule_tuple_id = tuple.schedule_tuple_id;
                    }
                    (
                        ScheduleExchangeResType_SEResControlMode::Dynamic_SEResControlMode(_),
                        ControlMode::Dynamic,
                    ) => {}
                    _ => {
                        return self.fail(
                            now,
                            out,
                            SessionError::PeerMisbehaved(
                                "ScheduleExchangeRes in the other control mode".into(),
                            ),
                        );
                    }
                }
                if res.go_to_pause == Some(true) {
                    return self.stop_now(now, out, StopCause::ChargerPause);
                }
                if self.renegotiating {
                    // The new schedule applies from PowerDelivery(Start); the contactors are
                    // closed already.
                    return self.send(now, out, Step::PowerDeliveryStart);
                }
                if self.stop.is_some() {
                    return self.send(now, out, Step::SessionStop);
                }
                // CP state C and the lock before CableCheck.
                out.set_phase(Phase::ConnectAndLock);
                self.state = State::Hardware;
                if let Some(done) = self
                    .power
                    .lock(now, out, &self.config, &mut self.timers, true)
                {
                    self.on_power_done(now, out, done);
                }
            }
            Message::Dc(dc::Document::DC_CableCheckRes(res)) => {
                if res.evse_processing == ProcessingType::Finished {
                    self.timers.stop(Timer::EvccCableCheck);
                    self.timers
                        .set(Timer::EvccPreCharge, now + it.pre_charge_timeout);
                    self.send(now, out, Step::PreCharge);
                } else {
                    self.pause(now, Step::CableCheck, t.ongoing_repeat_interval);
                }
            }
            Message::Dc(dc::Document::DC_PreChargeRes(res)) => {
                let reported = to_f32(&res.evse_present_voltage);
                out.update_values(|v| v.present_voltage = Some(reported));
                if step == Step::PreChargeFinished {
                    out.set_phase(Phase::PowerDeliveryStart);
                    self.state = State::Hardware;
                    if let Some(done) =
                        self.power
                            .close_contactors(now, out, &self.config, &mut self.timers)
                    {
                        self.on_power_done(now, out, done);
                    }
                    return;
                }
                let inlet = match self.power.check_inlet(now, out, &self.config, reported) {
                    Ok(inlet) => inlet,
                    Err(e) => return self.fail(now, out, e),
                };
                match self.readings().precharge_matched(now, out, reported, inlet) {
                    Ok(true) => {
                        self.timers.stop(Timer::EvccPreCharge);
                        self.send(now, out, Step::PreChargeFinished);
                    }
                    Ok(false) => self.pause(now, Step::PreCharge, t.pre_charge_interval),
                    Err(e) => self.fail(now, out, e),
                }
            }
            Message::Common(common::Document::PowerDeliveryRes(res)) => {
                if step == Step::PowerDeliveryStart {
                    if let Notice::Stop(cause) = Self::judge(out, res.evse_status.as_ref()) {
                        return self.stop_now(now, out, cause);
                    }
                    if !self.renegotiating {
                        self.charging_since = Some(now);
                    }
                    self.renegotiating = false;
                    self.send(now, out, Step::ChargeLoop);
                } else if step == Step::PowerDeliveryRenegotiate {
                    // ScheduleExchange again, with the power on ([V2G20] schedule
                    // renegotiation); V2G_EVCC_Ongoing_Timeout runs again.
                    self.renegotiating = true;
                    self.timers
                        .set(Timer::EvccOngoing, now + it.ongoing_timeout);
                    self.send(now, out, Step::ScheduleExchange);
                } else {
                    out.set_phase(Phase::PowerDeliveryStop);
                    self.state = State::Hardware;
                    if let Some(done) = self.power.power_down(
                        now,
                        out,
                        &self.config,
                        &mut self.timers,
                        AfterOpen::Continue,
                    ) {
                        self.on_power_done(now, out, done);
                    }
                }
            }
            Message::Dc(dc::Document::DC_ChargeLoopRes(res)) => {
                self.on_charge_loop(now, out, res);
            }
            Message::Dc(dc::Document::DC_WeldingDetectionRes(res)) => {
                let u = to_f32(&res.evse_present_voltage);
                self.power.welding_report(now, out, u);
                self.welding_rounds += 1;
                let low = u < self.config.welding_detection_voltage.0;
                if low || self.welding_rounds >= self.config.welding_detection_max_rounds {
                    if !low {
                        out.command(HardwareCommand::SessionState(format!(
                            "WeldingDetection: voltage stayed at {u} V"
                        )));
                    }
                    self.send(now, out, Step::SessionStop);
                } else {
                    self.pause(now, Step::WeldingDetection, t.welding_detection_interval);
                }
            }
            Message::Common(common::Document::MeteringConfirmationRes(_)) => {
                self.metering = None;
                self.pause(
                    now,
                    Step::ChargeLoop,
                    self.config.timeouts.current_demand_interval,
                );
            }
            Message::Common(common::Document::SessionStopRes(_)) => self.finish(now, out),
            _ => {}
        }
    }

    fn on_charge_loop(&mut self, now: Instant, out: &mut Outbox, res: &dc::DC_ChargeLoopResType) {
        let u = to_f32(&res.evse_present_voltage);
        let i = to_f32(&res.evse_present_current);
        self.power.present_current = Some(i);
        out.command(HardwareCommand::ChargerPresent {
            voltage: Volts(u),
            current: Amps(i),
        });
        out.update_values(|v| {
            v.present_voltage = Some(u);
            v.present_current = Some(i);
        });
        let notice = Self::judge(out, res.evse_status.as_ref());
        if let Notice::Stop(cause) = notice {
            return self.stop_now(now, out, cause);
        }
        if let Err(e) = self.power.check_inlet(now, out, &self.config, u) {
            return self.fail(now, out, e);
        }
        if self.config.soc_simulation {
            let step = if self.discharging() { -0.5 } else { 0.5 };
            self.simulated_soc = (self.simulated_soc + step).clamp(0.0, 100.0);
        }
        let soc = self.readings().soc(now, out).map_or(0.0, f32::from);
        if self.discharging() {
            if soc <= self.config.iso20.bpt.min_soc.0 {
                return self.stop_now(now, out, StopCause::DischargeLimit);
            }
        } else if soc >= self.config.ev.full_soc.0 {
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
        match notice {
            Notice::Renegotiate => return self.send(now, out, Step::PowerDeliveryRenegotiate),
            Notice::ConfirmMetering => {
                let Some(meter_info) = res.meter_info.clone() else {
                    return self.fail(
                        now,
                        out,
                        SessionError::PeerMisbehaved(
                            "MeteringConfirmation without MeterInfo".into(),
                        ),
                    );
                };
                self.metering = Some((meter_info, res.receipt.clone()));
                return self.send(now, out, Step::MeteringConfirmation);
            }
            Notice::Continue | Notice::Stop(_) => {}
        }
        self.pause(
            now,
            Step::ChargeLoop,
            self.config.timeouts.current_demand_interval,
        );
    }

    /// SessionStop answered: unlock once the voltage allows it (IEC 61851-23: below 60 V).
    fn finish(&mut self, now: Instant, out: &mut Outbox) {
        self.timers.stop_all();
        out.close();
        self.state = State::Hardware;
        if let Some(done) = self.power.unlock(now, out, &self.config, &mut self.timers) {
            self.on_power_done(now, out, done);
        }
    }

    /// A hardware step of the power path finished.
    fn on_power_done(&mut self, now: Instant, out: &mut Outbox, done: PowerDone) {
        match done {
            PowerDone::Locked => {
                self.timers.set(
                    Timer::EvccCableCheck,
                    now + self.config.iso20.timeouts.cable_check_timeout,
                );
                self.send(now, out, Step::CableCheck);
            }
            PowerDone::ContactorsClosed => self.send(now, out, Step::PowerDeliveryStart),
            PowerDone::ContactorsOpen => self.send(now, out, Step::WeldingDetection),
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
        if let Some(done) = self
            .power
            .handle_timer(now, out, &self.config, &mut self.timers, timer)
        {
            return self.on_power_done(now, out, done);
        }
        match (timer, self.state) {
            (Timer::Pacing, State::Pause(step)) => self.send(now, out, step),
            (Timer::EvccMsg, State::AwaitResponse(Step::WeldingDetection)) => {
                // The contactors are open: go on to SessionStop (as the DIN machine does for
                // chargers that do not answer WeldingDetectionReq).
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
}
