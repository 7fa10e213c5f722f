//! The car's DIN SPEC 70121 DC session (EVCC, the TCP client), after the app handshake.
//!
//! Read DIN SPEC 70121:2014 §9.4 (message sequence of a DC session), §9.6 (timing, Tables
//! 75-77) and `reference/pyplc-behaviour.md` §5 (pyPLC's fsmPev, which real chargers accept)
//! and §14 before changing this file.
//!
//! The sequence: SessionSetup → ServiceDiscovery → ServicePaymentSelection (ExternalPayment) →
//! ContractAuthentication (repeated while Ongoing) → ChargeParameterDiscovery (repeated while
//! Ongoing) → CP state C + connector lock (wait for the feedback) → CableCheck (repeated while
//! Ongoing) → PreCharge (until the charger's voltage matches the battery) → contactors closed
//! (wait for the feedback) → PowerDelivery(ReadyToChargeState = true) → CurrentDemand loop →
//! PowerDelivery(false) → CP state B → current fallen → contactors open (confirmed) →
//! WeldingDetection (until the voltage is low) → SessionStop → unlock.
//!
//! Safety (DESIGN.md rule 5): the contactors close only after PreCharge matched; every failure
//! goes through one safe shutdown: no more requests, CP state B, wait for the current to fall,
//! contactors open and confirmed, then unlock. If the contactors do not confirm "open", the
//! connector stays locked.

use ccs_msg::din::{
    BodyElement, DC_EVSEStatusCodeType, DC_EVSEStatusType, EVSEChargeParameter,
    EVSENotificationType, EVSEProcessingType, IsolationLevelType, ResponseCodeType, V2G_Message,
};

use super::values::{self, ChargeParameters, CurrentDemand, MessageKind, physical_value};
use crate::hardware::{Amps, HardwareCommand, Measurement, Volts};
use crate::session::config::EvccConfig;
use crate::session::ev_dc::{AfterOpen, EvEnding, EvPowerPath, EvReadings, PowerDone};
use crate::session::outbox::Outbox;
use crate::session::timers::{Timer, TimerTable};
use crate::session::{Phase, SessionError};
use crate::time::{Duration, Instant};
use crate::v2gtp::PayloadType;

/// One request of the sequence (PowerDelivery split into start and stop).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Step {
    SessionSetup,
    ServiceDiscovery,
    PaymentSelection,
    ContractAuthentication,
    ChargeParameterDiscovery,
    CableCheck,
    PreCharge,
    PowerDeliveryStart,
    CurrentDemand,
    PowerDeliveryStop,
    WeldingDetection,
    SessionStop,
}

impl Step {
    const fn kind(self) -> MessageKind {
        match self {
            Self::SessionSetup => MessageKind::SessionSetup,
            Self::ServiceDiscovery => MessageKind::ServiceDiscovery,
            Self::PaymentSelection => MessageKind::ServicePaymentSelection,
            Self::ContractAuthentication => MessageKind::ContractAuthentication,
            Self::ChargeParameterDiscovery => MessageKind::ChargeParameterDiscovery,
            Self::CableCheck => MessageKind::CableCheck,
            Self::PreCharge => MessageKind::PreCharge,
            Self::PowerDeliveryStart | Self::PowerDeliveryStop => MessageKind::PowerDelivery,
            Self::CurrentDemand => MessageKind::CurrentDemand,
            Self::WeldingDetection => MessageKind::WeldingDetection,
            Self::SessionStop => MessageKind::SessionStop,
        }
    }

    const fn phase(self) -> Phase {
        match self {
            Self::SessionSetup => Phase::SessionSetup,
            Self::ServiceDiscovery | Self::PaymentSelection => Phase::ServiceSelection,
            Self::ContractAuthentication => Phase::Authorization,
            Self::ChargeParameterDiscovery => Phase::ChargeParameterDiscovery,
            Self::CableCheck => Phase::CableCheck,
            Self::PreCharge => Phase::PreCharge,
            Self::PowerDeliveryStart => Phase::PowerDeliveryStart,
            Self::CurrentDemand => Phase::Charging,
            Self::PowerDeliveryStop => Phase::PowerDeliveryStop,
            Self::WeldingDetection => Phase::WeldingDetection,
            Self::SessionStop => Phase::SessionStop,
        }
    }
}

#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum State {
    /// The request of this step is out; `V2G_EVCC_Msg_Timeout` runs.
    AwaitResponse(Step),
    /// Pacing before (re)sending this step's request.
    Pause(Step),
    /// The power path (`session::ev_dc`) waits for the hardware: lock, contactors closed,
    /// current fallen, contactors open.
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
    /// EVSE_Shutdown or the StopCharging notification: a normal stop (pyPLC treated it as an
    /// error, §14.2 item 4).
    Charger,
}

/// The car's DIN session.
#[derive(Clone, Debug)]
pub(crate) struct Evcc {
    config: EvccConfig,
    evcc_id: [u8; 6],
    session_id: Vec<u8>,
    state: State,
    timers: TimerTable,
    stop: Option<StopCause>,
    /// The failure that started the safe shutdown, or a refused SessionStop.
    ending: EvEnding,
    service_id: u16,
    power: EvPowerPath,
    present_voltage: Option<f32>,
    evse_max_voltage: Option<f32>,
    evse_max_current: Option<f32>,
    evse_max_power: Option<f32>,
    charging_since: Option<Instant>,
    simulated_soc: f32,
    welding_rounds: u32,
    light_bulb_close_at: Option<Instant>,
}

fn is_ok(code: ResponseCodeType) -> bool {
    matches!(
        code,
        ResponseCodeType::OK
            | ResponseCodeType::OK_NewSessionEstablished
            | ResponseCodeType::OK_OldSessionJoined
            | ResponseCodeType::OK_CertificateExpiresSoon
    )
}

/// What a DC_EVSEStatus asks of the car.
enum EvseVerdict {
    Fine,
    Stop,
    Fail(SessionError),
}

fn judge(status: &DC_EVSEStatusType) -> EvseVerdict {
    use DC_EVSEStatusCodeType as C;
    if status.evse_isolation_status == Some(IsolationLevelType::Fault) {
        return EvseVerdict::Fail(SessionError::PeerRefused(
            "charger reports an isolation fault".into(),
        ));
    }
    match status.evse_status_code {
        C::EVSE_Shutdown => EvseVerdict::Stop,
        C::EVSE_EmergencyShutdown | C::EVSE_Malfunction | C::EVSE_UtilityInterruptEvent => {
            EvseVerdict::Fail(SessionError::PeerRefused(format!(
                "charger status {:?}",
                status.evse_status_code
            )))
        }
        _ if status.evse_notification == EVSENotificationType::StopCharging => EvseVerdict::Stop,
        _ => EvseVerdict::Fine,
    }
}

impl Evcc {
    /// A new DIN session for the car with MAC `evcc_id`; call [`Evcc::start`] next.
    pub(crate) fn new(config: EvccConfig, evcc_id: [u8; 6]) -> Self {
        Self {
            config,
            evcc_id,
            session_id: values::NO_SESSION_ID.to_vec(),
            state: State::Done,
            timers: TimerTable::default(),
            stop: None,
            ending: EvEnding::default(),
            service_id: values::CHARGE_SERVICE_ID,
            power: EvPowerPath::default(),
            present_voltage: None,
            evse_max_voltage: None,
            evse_max_current: None,
            evse_max_power: None,
            charging_since: None,
            simulated_soc: 20.0,
            welding_rounds: 0,
            light_bulb_close_at: None,
        }
    }

    /// Sends SessionSetupReq.
    pub(crate) fn start(&mut self, now: Instant, out: &mut Outbox) {
        self.send(now, out, Step::SessionSetup);
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_timeout()
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
        if payload_type != PayloadType::Exi {
            return self.fail(
                now,
                out,
                SessionError::InvalidMessage(format!("V2GTP payload type {payload_type:?}")),
            );
        }
        let msg = match ccs_msg::din::decode(payload) {
            Ok(msg) => msg,
            Err(e) => {
                return self.fail(now, out, SessionError::InvalidMessage(e.to_string()));
            }
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
        out.received(step.kind().response_name(), values::summary(body));
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
                    values::hex(&msg.header.session_id),
                    values::hex(&self.session_id)
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

    /// Any failure from outside (connection lost, hardware fault): the safe shutdown.
    pub(crate) fn fail(&mut self, now: Instant, out: &mut Outbox, error: SessionError) {
        if self.state == State::Done || !self.ending.fail(out, &self.power, error) {
            return;
        }
        out.close();
        out.set_phase(Phase::SafeShutdown);
        self.timers.stop_all();
        // Already powering down: the power path keeps going, but ends in the safe way.
        self.power_down(now, out, AfterOpen::Unlock);
    }

    // ----- the sequence

    /// The readings the requests carry (shared with ISO 15118-2: `session::ev_dc`).
    fn readings(&self) -> EvReadings<'_> {
        EvReadings {
            config: &self.config,
            simulated_soc: self.simulated_soc,
        }
    }

    fn soc(&self, now: Instant, out: &Outbox) -> Result<u8, SessionError> {
        self.readings().soc(now, out)
    }

    fn battery_voltage(&self, now: Instant, out: &Outbox) -> Result<f32, SessionError> {
        self.readings().battery_voltage(now, out)
    }

    fn target(&self, now: Instant, out: &Outbox) -> (f32, f32) {
        self.readings().target(now, out)
    }

    fn build(
        &self,
        now: Instant,
        out: &mut Outbox,
        step: Step,
    ) -> Result<V2G_Message, SessionError> {
        let sid = self.session_id.as_slice();
        let ev = &self.config.ev;
        Ok(match step {
            Step::SessionSetup => values::session_setup_req(&self.evcc_id),
            Step::ServiceDiscovery => values::service_discovery_req(sid),
            Step::PaymentSelection => values::service_payment_selection_req(sid, self.service_id),
            Step::ContractAuthentication => values::contract_authentication_req(sid),
            Step::ChargeParameterDiscovery => values::charge_parameter_discovery_req(
                sid,
                &ChargeParameters {
                    soc: self.soc(now, out)?,
                    max_current: ev.max_current.0,
                    max_power: ev.max_power.0,
                    max_voltage: ev.max_voltage.0,
                    energy_capacity: ev.energy_capacity.0,
                    energy_request: ev.energy_request.0,
                    full_soc: ev.full_soc.0.clamp(0.0, 100.0).round() as u8,
                    bulk_soc: ev.bulk_soc.0.clamp(0.0, 100.0).round() as u8,
                },
            ),
            Step::CableCheck => values::cable_check_req(sid, self.soc(now, out)?),
            Step::PreCharge => {
                let u = self.battery_voltage(now, out)?;
                let soc = self.soc(now, out)?;
                out.update_values(|v| {
                    v.target_voltage = Some(u);
                    v.target_current = Some(ev.pre_charge_current.0);
                });
                values::pre_charge_req(sid, soc, u, ev.pre_charge_current.0)
            }
            Step::PowerDeliveryStart => values::power_delivery_req(sid, self.soc(now, out)?, true),
            Step::PowerDeliveryStop => values::power_delivery_req(sid, self.soc(now, out)?, false),
            Step::CurrentDemand => {
                let soc = self.soc(now, out)?;
                let (u, i) = self.target(now, out);
                out.update_values(|v| {
                    v.soc = Some(f32::from(soc));
                    v.target_voltage = Some(u);
                    v.target_current = Some(i);
                });
                values::current_demand_req(
                    sid,
                    &CurrentDemand {
                        soc,
                        target_current: i,
                        target_voltage: u,
                        limits: ev.send_limits_in_current_demand.then_some((
                            ev.max_voltage.0,
                            ev.max_current.0,
                            ev.max_power.0,
                        )),
                        charging_complete: false,
                    },
                )
            }
            Step::WeldingDetection => values::welding_detection_req(sid, self.soc(now, out)?),
            Step::SessionStop => values::session_stop_req(sid),
        })
    }

    /// Sends the request of `step`, unless a normal stop redirects it.
    fn send(&mut self, now: Instant, out: &mut Outbox, step: Step) {
        let step = self.redirect_for_stop(step);
        let msg = match self.build(now, out, step) {
            Ok(msg) => msg,
            Err(e) => return self.fail(now, out, e),
        };
        let payload = match ccs_msg::din::encode(&msg) {
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
            .map(values::summary)
            .unwrap_or_default();
        out.send(payload, step.kind().request_name(), summary);
        let timeout = if step == Step::CurrentDemand {
            self.config.timeouts.current_demand_msg_timeout
        } else {
            self.config.timeouts.msg_timeout
        };
        self.timers.stop(Timer::EvccSequence);
        self.timers.set(Timer::EvccMsg, now + timeout);
        self.state = State::AwaitResponse(step);
    }

    /// With a stop requested, the loops give way to the stop sequence: before the connector
    /// is locked straight to SessionStop, afterwards through PowerDelivery(false).
    fn redirect_for_stop(&mut self, step: Step) -> Step {
        if self.stop.is_none() {
            return step;
        }
        match step {
            Step::ContractAuthentication | Step::ChargeParameterDiscovery
                if !self.power.is_locked() =>
            {
                Step::SessionStop
            }
            Step::CableCheck | Step::PreCharge | Step::PowerDeliveryStart | Step::CurrentDemand => {
                self.timers.stop(Timer::EvccCableCheck);
                self.timers.stop(Timer::EvccPreCharge);
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
        // Waiting for hardware: stop waiting and go on with the stop sequence now.
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

    fn pause(&mut self, now: Instant, step: Step, interval: Duration) {
        self.state = State::Pause(step);
        self.timers.set(Timer::Pacing, now + interval);
    }

    fn on_response(&mut self, now: Instant, out: &mut Outbox, step: Step, msg: &V2G_Message) {
        let Some(body) = msg.body.body_element.as_ref() else {
            return;
        };
        let refused = |code: ResponseCodeType| {
            SessionError::PeerRefused(format!("{}: {code:?}", step.kind().response_name()))
        };
        let t = self.config.timeouts.clone();
        match body {
            BodyElement::SessionSetupRes(res) => {
                let ok = res.response_code == ResponseCodeType::OK_NewSessionEstablished
                    || (res.response_code == ResponseCodeType::OK
                        && self.config.quirks.accept_ok_in_session_setup_res);
                if !ok {
                    return self.fail(now, out, refused(res.response_code));
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
                if !is_ok(res.response_code) {
                    return self.fail(now, out, refused(res.response_code));
                }
                let external = res
                    .payment_options
                    .payment_option
                    .contains(&ccs_msg::din::PaymentOptionType::ExternalPayment);
                if !external {
                    return self.fail(
                        now,
                        out,
                        SessionError::PeerIncompatible("no ExternalPayment offered".into()),
                    );
                }
                self.service_id = res.charge_service.service_tag.service_id;
                self.send(now, out, Step::PaymentSelection);
            }
            BodyElement::ServicePaymentSelectionRes(res) => {
                if !is_ok(res.response_code) {
                    return self.fail(now, out, refused(res.response_code));
                }
                self.timers.set(Timer::EvccOngoing, now + t.ongoing_timeout);
                self.send(now, out, Step::ContractAuthentication);
            }
            BodyElement::ContractAuthenticationRes(res) => {
                if !is_ok(res.response_code) {
                    return self.fail(now, out, refused(res.response_code));
                }
                if res.evse_processing == EVSEProcessingType::Finished {
                    self.timers.set(Timer::EvccOngoing, now + t.ongoing_timeout);
                    self.send(now, out, Step::ChargeParameterDiscovery);
                } else {
                    self.pause(now, Step::ContractAuthentication, t.ongoing_repeat_interval);
                }
            }
            BodyElement::ChargeParameterDiscoveryRes(res) => {
                if !is_ok(res.response_code) {
                    return self.fail(now, out, refused(res.response_code));
                }
                let EVSEChargeParameter::DC_EVSEChargeParameter(dc) = &res.evse_charge_parameter
                else {
                    return self.fail(
                        now,
                        out,
                        SessionError::PeerIncompatible("no DC_EVSEChargeParameter".into()),
                    );
                };
                let status = &dc.dc_evse_status;
                let not_ready = status.evse_status_code == DC_EVSEStatusCodeType::EVSE_NotReady
                    && !self
                        .config
                        .quirks
                        .accept_finished_not_ready_in_charge_parameter_discovery;
                if res.evse_processing == EVSEProcessingType::Ongoing || not_ready {
                    return self.pause(
                        now,
                        Step::ChargeParameterDiscovery,
                        t.ongoing_repeat_interval,
                    );
                }
                match judge(status) {
                    EvseVerdict::Fine => {}
                    EvseVerdict::Stop => return self.request_stop_now(now, out),
                    EvseVerdict::Fail(e) => return self.fail(now, out, e),
                }
                self.timers.stop(Timer::EvccOngoing);
                let max_u = physical_value(&dc.evse_maximum_voltage_limit);
                let max_i = physical_value(&dc.evse_maximum_current_limit);
                self.evse_max_voltage = Some(max_u);
                self.evse_max_current = Some(max_i);
                self.evse_max_power = dc.evse_maximum_power_limit.as_ref().map(physical_value);
                let max_p = self.evse_max_power;
                out.update_values(|v| {
                    v.evse_max_voltage = Some(max_u);
                    v.evse_max_current = Some(max_i);
                    v.evse_max_power = max_p;
                });
                out.command(HardwareCommand::ChargerLimits {
                    max_voltage: Volts(max_u),
                    max_current: Amps(max_i),
                });
                // CP state C before CableCheck (Alpitronic, pyPLC Issue12), and the lock.
                out.set_phase(Phase::ConnectAndLock);
                self.state = State::Hardware;
                if let Some(done) = self
                    .power
                    .lock(now, out, &self.config, &mut self.timers, true)
                {
                    self.on_power(now, out, done);
                }
            }
            BodyElement::CableCheckRes(res) => {
                if !is_ok(res.response_code) {
                    return self.fail(now, out, refused(res.response_code));
                }
                match judge(&res.dc_evse_status) {
                    EvseVerdict::Fine => {}
                    EvseVerdict::Stop => return self.request_stop_now(now, out),
                    EvseVerdict::Fail(e) => return self.fail(now, out, e),
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
                if !is_ok(res.response_code) {
                    return self.fail(now, out, refused(res.response_code));
                }
                match judge(&res.dc_evse_status) {
                    EvseVerdict::Fine => {}
                    EvseVerdict::Stop => return self.request_stop_now(now, out),
                    EvseVerdict::Fail(e) => return self.fail(now, out, e),
                }
                let reported = physical_value(&res.evse_present_voltage);
                self.present_voltage = Some(reported);
                out.update_values(|v| v.present_voltage = Some(reported));
                let inlet = match self.power.check_inlet(now, out, &self.config, reported) {
                    Ok(inlet) => inlet,
                    Err(e) => return self.fail(now, out, e),
                };
                match self.readings().precharge_matched(now, out, reported, inlet) {
                    Ok(true) => {
                        self.timers.stop(Timer::EvccPreCharge);
                        self.close_contactors(now, out);
                    }
                    Ok(false) => self.pause(now, Step::PreCharge, t.pre_charge_interval),
                    Err(e) => self.fail(now, out, e),
                }
            }
            BodyElement::PowerDeliveryRes(res) => {
                if !is_ok(res.response_code) {
                    return self.fail(now, out, refused(res.response_code));
                }
                if step == Step::PowerDeliveryStart {
                    self.charging_since = Some(now);
                    if self.config.light_bulb_demo {
                        self.light_bulb_close_at = Some(now + Duration::from_secs(2));
                    }
                    self.send(now, out, Step::CurrentDemand);
                } else {
                    self.power_down(now, out, AfterOpen::Continue);
                }
            }
            BodyElement::CurrentDemandRes(res) => {
                if !is_ok(res.response_code) {
                    return self.fail(now, out, refused(res.response_code));
                }
                let u = physical_value(&res.evse_present_voltage);
                let i = physical_value(&res.evse_present_current);
                self.present_voltage = Some(u);
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
                match judge(&res.dc_evse_status) {
                    EvseVerdict::Fine => {}
                    EvseVerdict::Stop => {
                        return self.request_stop_now_with(now, out, StopCause::Charger);
                    }
                    EvseVerdict::Fail(e) => return self.fail(now, out, e),
                }
                if let Err(e) = self.power.check_inlet(now, out, &self.config, u) {
                    return self.fail(now, out, e);
                }
                if self.light_bulb_close_at.is_some_and(|at| now >= at) {
                    self.light_bulb_close_at = None;
                    self.power.close_without_waiting(out);
                }
                if self.config.soc_simulation {
                    self.simulated_soc = (self.simulated_soc + 0.5).min(100.0);
                }
                let soc = self.soc(now, out).map_or(0.0, f32::from);
                if soc >= self.config.ev.full_soc.0 {
                    return self.request_stop_now_with(now, out, StopCause::BatteryFull);
                }
                let elapsed = self
                    .charging_since
                    .map(|since| now.saturating_duration_since(since));
                if let (Some(limit), Some(elapsed)) = (self.config.charge_duration, elapsed)
                    && elapsed >= limit
                {
                    return self.request_stop_now_with(now, out, StopCause::ChargeDurationElapsed);
                }
                self.pause(now, Step::CurrentDemand, t.current_demand_interval);
            }
            BodyElement::WeldingDetectionRes(res) => {
                let u = physical_value(&res.evse_present_voltage);
                self.present_voltage = Some(u);
                self.power.welding_report(now, out, u);
                self.welding_rounds += 1;
                // Alpitronic HYC300 answers FAILED here (pyPLC results): the contactors are
                // already open, so the car goes on to SessionStop.
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
                if !is_ok(res.response_code) {
                    self.ending.refused(refused(res.response_code));
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

    fn request_stop_now(&mut self, now: Instant, out: &mut Outbox) {
        self.request_stop_now_with(now, out, StopCause::Charger);
    }

    /// A stop decided on a response: the next request is the stop sequence's.
    fn request_stop_now_with(&mut self, now: Instant, out: &mut Outbox, cause: StopCause) {
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

    /// A hardware step of the power path finished.
    fn on_power(&mut self, now: Instant, out: &mut Outbox, done: PowerDone) {
        match done {
            PowerDone::Locked => {
                self.timers.set(
                    Timer::EvccCableCheck,
                    now + self.config.timeouts.cable_check_timeout,
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

    fn close_contactors(&mut self, now: Instant, out: &mut Outbox) {
        if self.config.light_bulb_demo {
            // pyPLC light_bulb_demo: the relays close 2 s into CurrentDemand instead.
            return self.send(now, out, Step::PowerDeliveryStart);
        }
        out.set_phase(Phase::PowerDeliveryStart);
        self.state = State::Hardware;
        if let Some(done) = self
            .power
            .close_contactors(now, out, &self.config, &mut self.timers)
        {
            self.on_power(now, out, done);
        }
    }

    /// CP state B, then (the current fallen) the contactors open: the shared power path.
    fn power_down(&mut self, now: Instant, out: &mut Outbox, after: AfterOpen) {
        if after == AfterOpen::Continue {
            out.set_phase(Phase::PowerDeliveryStop);
        }
        self.state = State::Hardware;
        if let Some(done) = self
            .power
            .power_down(now, out, &self.config, &mut self.timers, after)
        {
            self.on_power(now, out, done);
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
            (Timer::EvccMsg | Timer::EvccSequence, _)
            | (Timer::EvccOngoing, _)
            | (Timer::EvccCableCheck, _)
            | (Timer::EvccPreCharge, _)
            | (Timer::ConnectorLock, _) => {
                self.fail(now, out, SessionError::Timeout(timer.name()));
            }
            _ => {}
        }
    }
}
