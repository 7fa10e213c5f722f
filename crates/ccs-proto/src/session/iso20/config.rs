//! ISO 15118-20 settings of the car and the charger: the control mode, BPT limits, the
//! authorization mode and the timers of ISO 15118-20:2022 §8.8 (Tables 216 and 217).

use crate::hardware::{Amps, Percent, Watts};
use crate::session::iso20::pnc::SignatureSuite;
use crate::session::iso20::values::MessageKind;
use crate::time::Duration;

/// Who controls the power in the charge loop (ServiceDetail parameter `ControlMode`).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum ControlMode {
    /// `ControlMode = 1`: the car follows a schedule and sends its target voltage and current.
    Scheduled,
    /// `ControlMode = 2`: the charger decides the power within the car's limits.
    Dynamic,
}

impl ControlMode {
    /// The value of the `ControlMode` service parameter.
    pub const fn parameter(self) -> i32 {
        match self {
            Self::Scheduled => 1,
            Self::Dynamic => 2,
        }
    }

    /// The control mode of a `ControlMode` parameter value.
    pub const fn from_parameter(value: i32) -> Option<Self> {
        match value {
            1 => Some(Self::Scheduled),
            2 => Some(Self::Dynamic),
            _ => None,
        }
    }
}

/// How the car authorizes.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Authorization {
    /// External identification means (RFID, app, free charging).
    Eim,
    /// Plug & Charge with this contract certificate chain (DER). The session sends the chain,
    /// echoes the charger's GenChallenge and signs with the key set by
    /// [`crate::session::EvccSession::set_iso20_signer`] (without one the session fails with a
    /// configuration error).
    PnC {
        /// The contract certificate (DER).
        contract_certificate: Vec<u8>,
        /// The sub-CA certificates (DER), leaf side first.
        sub_certificates: Vec<Vec<u8>>,
    },
}

/// `V2G_EVCC_Msg_Timeout` per message and the loop timers (ISO 15118-20:2022 Tables 216 and
/// 217). Defaults are the standard's.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Iso20Timeouts {
    /// `V2G_EVCC_Msg_Timeout` of every message not listed below (2 s).
    pub msg_timeout: Duration,
    /// `V2G_EVCC_Msg_Timeout` of ServiceDetailReq (5 s).
    pub service_detail_msg_timeout: Duration,
    /// `V2G_EVCC_Msg_Timeout` of DC_ChargeLoopReq (0.5 s).
    pub charge_loop_msg_timeout: Duration,
    /// `V2G_EVCC_Ongoing_Timeout`: Authorization and ScheduleExchange answered `Ongoing` (60 s).
    pub ongoing_timeout: Duration,
    /// `V2G_EVCC_CableCheck_Timeout` (40 s).
    pub cable_check_timeout: Duration,
    /// `V2G_EVCC_PreCharge_Timeout` (10 s).
    pub pre_charge_timeout: Duration,
}

impl Default for Iso20Timeouts {
    fn default() -> Self {
        Self {
            msg_timeout: Duration::from_secs(2),
            service_detail_msg_timeout: Duration::from_secs(5),
            charge_loop_msg_timeout: Duration::from_millis(500),
            ongoing_timeout: Duration::from_secs(60),
            cable_check_timeout: Duration::from_secs(40),
            pre_charge_timeout: Duration::from_secs(10),
        }
    }
}

impl Iso20Timeouts {
    /// `V2G_EVCC_Msg_Timeout` for the response to `kind`.
    pub fn msg_timeout(&self, kind: MessageKind) -> Duration {
        match kind {
            MessageKind::ServiceDetail => self.service_detail_msg_timeout,
            MessageKind::ChargeLoop => self.charge_loop_msg_timeout,
            _ => self.msg_timeout,
        }
    }
}

/// What the car does with bidirectional power (the DC_BPT service).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct BptParameters {
    /// EVMaximumDischargePower.
    pub max_discharge_power: Watts,
    /// EVMinimumDischargePower.
    pub min_discharge_power: Watts,
    /// EVMaximumDischargeCurrent (a magnitude).
    pub max_discharge_current: Amps,
    /// EVMinimumDischargeCurrent (a magnitude).
    pub min_discharge_current: Amps,
    /// Scheduled control mode: discharge with this current (a magnitude; the EVTargetCurrent
    /// sent is its negative). `None` = charge as in the DC service.
    pub discharge_current: Option<Amps>,
    /// Stop discharging (end the session normally) at or below this SoC.
    pub min_soc: Percent,
}

impl Default for BptParameters {
    fn default() -> Self {
        Self {
            max_discharge_power: Watts(11_000.0),
            min_discharge_power: Watts(0.0),
            max_discharge_current: Amps(30.0),
            min_discharge_current: Amps(0.0),
            discharge_current: Some(Amps(25.0)),
            min_soc: Percent(20.0),
        }
    }
}

/// The car's ISO 15118-20 settings.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Iso20EvccConfig {
    /// The control mode the car asks for in ServiceSelection.
    pub control_mode: ControlMode,
    /// How the car authorizes.
    pub authorization: Authorization,
    /// EVCCID of SessionSetupReq; `None` = the MAC as 12 hex digits.
    pub evcc_id: Option<String>,
    /// The timers.
    pub timeouts: Iso20Timeouts,
    /// Bidirectional settings, used when the DC_BPT service is selected.
    pub bpt: BptParameters,
    /// EVMinimumVoltage.
    pub min_voltage: crate::hardware::Volts,
    /// EVMinimumChargeCurrent.
    pub min_charge_current: Amps,
    /// EVMinimumChargePower.
    pub min_charge_power: Watts,
    /// Seconds since 1970 at `Instant::ZERO`, for the header TimeStamp (the driver sets it from
    /// its clock; 0 = timestamps count from the session start).
    pub unix_time_at_zero: u64,
    /// Offer ISO 15118-20 on a connection that is not TLS 1.3. ISO 15118-20 requires TLS 1.3
    /// (§7.7.3); only for the simulator (no TLS on the simulated link) and for Josev 0.31.2
    /// run with `useTls: false`. Never on a real car.
    pub allow_without_tls: bool,
}

impl Default for Iso20EvccConfig {
    fn default() -> Self {
        Self {
            control_mode: ControlMode::Scheduled,
            authorization: Authorization::Eim,
            evcc_id: None,
            timeouts: Iso20Timeouts::default(),
            bpt: BptParameters::default(),
            min_voltage: crate::hardware::Volts(150.0),
            min_charge_current: Amps(0.0),
            min_charge_power: Watts(0.0),
            unix_time_at_zero: 0,
            allow_without_tls: false,
        }
    }
}

/// The charger's bidirectional limits (the DC_BPT service).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct EvseBptLimits {
    /// EVSEMaximumDischargePower.
    pub max_discharge_power: Watts,
    /// EVSEMaximumDischargeCurrent (a magnitude; the power supply must be able to sink it).
    pub max_discharge_current: Amps,
    /// EVSEMinimumDischargeCurrent (a magnitude).
    pub min_discharge_current: Amps,
}

impl Default for EvseBptLimits {
    fn default() -> Self {
        Self {
            max_discharge_power: Watts(11_000.0),
            max_discharge_current: Amps(30.0),
            min_discharge_current: Amps(0.0),
        }
    }
}

/// The charger's ISO 15118-20 settings.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Iso20SeccConfig {
    /// The control modes offered as parameter sets in ServiceDetailRes.
    pub control_modes: Vec<ControlMode>,
    /// Offer Plug & Charge in AuthorizationSetupRes; only over TLS
    /// ([`crate::session::SeccSession::set_transport`]) and with a contract verifier
    /// ([`crate::session::SeccSession::set_iso20_verifier`]).
    pub offer_pnc: bool,
    /// Offer EIM in AuthorizationSetupRes.
    pub offer_eim: bool,
    /// The GenChallenge for PnC (16 bytes, fresh and random per session, from the caller).
    pub gen_challenge: [u8; 16],
    /// Bidirectional limits, offered when the DC_BPT service is configured.
    pub bpt: EvseBptLimits,
    /// Dynamic control mode: the current the charger's energy manager asks for (positive =
    /// into the car, negative = discharge; only with DC_BPT), within both sides' limits.
    /// `None` = as much as the car and the charger allow.
    pub dynamic_current: Option<Amps>,
    /// EVSENominalVoltage in the service parameters, volts.
    pub nominal_voltage: i32,
    /// Seconds since 1970 at `Instant::ZERO`, for the header TimeStamp.
    pub unix_time_at_zero: u64,
    /// The signature suites accepted in AuthorizationReq. Default: ECDSA secp521r1/SHA-512 only
    /// (ISO 15118-20's). Add [`SignatureSuite::EcdsaSecp256r1Sha256`] for Josev 0.31.2's car,
    /// which signs its -20 AuthorizationReq as ISO 15118-2 does.
    pub accepted_signature_suites: Vec<SignatureSuite>,
    /// Accept ISO 15118-20 on a connection that is not TLS 1.3. ISO 15118-20 requires TLS 1.3
    /// (§7.7.3); only for the simulator (no TLS on the simulated link) and for Josev 0.31.2
    /// run with `useTls: false`. Never on a real charger.
    pub allow_without_tls: bool,
    /// Ask the car for a MeteringConfirmationReq (EVSENotification `MeteringConfirmation`)
    /// once, after this many DC_ChargeLoopRes. `None` = never.
    pub metering_confirmation_after: Option<u32>,
}

impl Default for Iso20SeccConfig {
    fn default() -> Self {
        Self {
            control_modes: vec![ControlMode::Scheduled, ControlMode::Dynamic],
            offer_pnc: false,
            offer_eim: true,
            gen_challenge: [0; 16],
            bpt: EvseBptLimits::default(),
            dynamic_current: None,
            nominal_voltage: 400,
            unix_time_at_zero: 0,
            accepted_signature_suites: vec![SignatureSuite::EcdsaSecp521r1Sha512],
            allow_without_tls: false,
            metering_confirmation_after: None,
        }
    }
}
