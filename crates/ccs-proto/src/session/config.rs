//! Configuration of the EVCC and SECC sessions: the standard's timers, the charging parameters,
//! pyPLC's settings with pyPLC's meaning, and the field quirks as named knobs.
//!
//! Every `Default` holds the normative values (DIN SPEC 70121:2014 §9.6, Tables 75-77) or, where
//! the standards say nothing, pyPLC's values that are known to work with real cars and chargers
//! (`reference/pyplc-behaviour.md` §9.2, §10). The config engineer maps `pyPlc.ini` keys onto
//! these fields; the key name is given in each field's documentation.

use crate::hardware::{Amps, Percent, Volts, WattHours, Watts};
use crate::session::Protocol;
use crate::time::Duration;

/// One protocol the car offers in supportedAppProtocolReq.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct ProtocolOffer {
    /// The protocol.
    pub protocol: Protocol,
    /// Its priority, 1 (highest) to 20.
    pub priority: u8,
    /// The SchemaID the charger echoes back when it picks this entry.
    pub schema_id: u8,
}

/// The car's timers (DIN SPEC 70121:2014 §9.6).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct EvccTimeouts {
    /// `V2G_EVCC_Msg_Timeout` for the handshake and every DIN message except CurrentDemand
    /// (DIN 70121 Table 75: 2 s).
    pub msg_timeout: Duration,
    /// `V2G_EVCC_Msg_Timeout` for CurrentDemandRes (DIN 70121 Table 75: 250 ms).
    pub current_demand_msg_timeout: Duration,
    /// `V2G_EVCC_Sequence_Timeout` (DIN 70121 Table 76: 40 s): the car's own time between a
    /// response and its next request.
    pub sequence_timeout: Duration,
    /// `V2G_EVCC_Ongoing_Timeout` (60 s): ContractAuthentication and ChargeParameterDiscovery
    /// answered `Ongoing`.
    pub ongoing_timeout: Duration,
    /// `V2G_EVCC_CableCheck_Timeout` (DIN 70121:2014 Table 77: 38 s; ISO 15118-2 says 40 s).
    pub cable_check_timeout: Duration,
    /// `V2G_EVCC_PreCharge_Timeout` (DIN 70121 Table 77: 7 s).
    pub pre_charge_timeout: Duration,
    /// The connector lock must report "locked" within this time (ccs32clara: 2 s).
    pub lock_timeout: Duration,
    /// The contactors must report "closed" within this time (pyPLC: 2 s).
    pub contactors_closed_timeout: Duration,
    /// After CP state B, how long to wait for the current to fall below
    /// [`EvccConfig::current_fall_threshold`] before opening the contactors anyway
    /// (ccs32clara waits 300 ms; IEC 61851-23 gives the charger 100 ms to ramp down). Opening
    /// anyway is reported: `contactors opened under load: ...` when the car's
    /// [`crate::hardware::Measurement::InletCurrent`] (or, without it, the charger's last
    /// report in a safe shutdown) still shows current (`session::ev_dc`).
    pub current_fall_timeout: Duration,
    /// The contactors must report "open" within this time; otherwise the connector stays
    /// locked.
    pub contactors_open_timeout: Duration,
    /// With an inlet voltage measurement: how long the car waits, contactors open, for the
    /// inlet to fall below [`EvccConfig::unlock_voltage_limit`] before it unlocks; at expiry
    /// the connector stays locked and the session fails (the charger's output is still live).
    /// IEC 61851-23 expects the charger to discharge its output within about a second of the
    /// stop; 5 s leave room for slow discharge circuits (`session::ev_dc`).
    pub unlock_voltage_timeout: Duration,
    /// Pause before repeating a request the charger answered `Ongoing` (pyPLC: ≈1 s; the
    /// Ioniq ≈250 ms).
    pub ongoing_repeat_interval: Duration,
    /// Pause between PreChargeReqs (pyPLC: ≈0.5 s; the Ioniq ≈100 ms).
    pub pre_charge_interval: Duration,
    /// Pause between CurrentDemandReqs (real cars loop every 80-100 ms of think time).
    pub current_demand_interval: Duration,
    /// Pause between WeldingDetectionReqs.
    pub welding_detection_interval: Duration,
}

impl Default for EvccTimeouts {
    fn default() -> Self {
        Self {
            msg_timeout: Duration::from_secs(2),
            current_demand_msg_timeout: Duration::from_millis(250),
            sequence_timeout: Duration::from_secs(40),
            ongoing_timeout: Duration::from_secs(60),
            cable_check_timeout: Duration::from_secs(38),
            pre_charge_timeout: Duration::from_secs(7),
            lock_timeout: Duration::from_secs(2),
            contactors_closed_timeout: Duration::from_secs(2),
            current_fall_timeout: Duration::from_millis(300),
            contactors_open_timeout: Duration::from_secs(2),
            unlock_voltage_timeout: Duration::from_secs(5),
            ongoing_repeat_interval: Duration::from_millis(250),
            pre_charge_interval: Duration::from_millis(100),
            current_demand_interval: Duration::from_millis(100),
            welding_detection_interval: Duration::from_millis(200),
        }
    }
}

/// Field quirks the car tolerates, each named after the charger that needs it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct EvccQuirks {
    /// Accept `OK` where SessionSetupRes must say `OK_NewSessionEstablished`: ABB Terra 53 /
    /// HPC and ABB Triple do this (pyPLC `fsmPev.py`, state 4).
    pub accept_ok_in_session_setup_res: bool,
    /// Accept ChargeParameterDiscoveryRes `EVSEProcessing = Finished` together with
    /// `EVSE_NotReady` as finished: the Compleo Cito does this (pyPLC `fsmPev.py`, state 8).
    pub accept_finished_not_ready_in_charge_parameter_discovery: bool,
    /// Accept SessionIDs of 1 to 8 bytes (the schema's maximum) instead of the usual 8: the
    /// Tesla Supercharger V3 sends 4 (pyPLC Issue18).
    pub accept_short_session_id: bool,
    /// Dangerous: the charger's report of 60 V or more after the stop (WeldingDetectionRes)
    /// does not keep the connector locked; the car's inlet measurement decides, and without
    /// one the car unlocks unverified. For chargers that report a simulated or stale voltage
    /// there, as Josev's SECC simulator (its 410 V set-point) and pyPLC's charger (290-362 V
    /// in a 2024 Polestar capture) do. Unsafe at a charger whose output is really live; off by
    /// default, so such a report keeps the connector locked.
    pub danger_unlock_despite_charger_voltage: bool,
}

impl Default for EvccQuirks {
    fn default() -> Self {
        Self {
            accept_ok_in_session_setup_res: true,
            accept_finished_not_ready_in_charge_parameter_discovery: true,
            accept_short_session_id: true,
            danger_unlock_despite_charger_voltage: false,
        }
    }
}

/// What the car tells the charger about itself (ChargeParameterDiscoveryReq and the
/// EVMaximum* limits of CurrentDemandReq). Defaults: pyPLC's (§9.2), except the maximum voltage
/// (ccs32clara raised pyPLC's 398 V to 410 V after Ionity aborted at 398 V).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct EvParameters {
    /// EVMaximumVoltageLimit.
    pub max_voltage: Volts,
    /// EVMaximumCurrentLimit.
    pub max_current: Amps,
    /// EVMaximumPowerLimit.
    pub max_power: Watts,
    /// EVEnergyCapacity.
    pub energy_capacity: WattHours,
    /// EVEnergyRequest.
    pub energy_request: WattHours,
    /// FullSOC: the car is full at this SoC and stops.
    pub full_soc: Percent,
    /// BulkSOC.
    pub bulk_soc: Percent,
    /// EVTargetCurrent during PreCharge (pyPLC: 1 A).
    pub pre_charge_current: Amps,
    /// Send EVMaximumVoltage/Current/PowerLimit in CurrentDemandReq. A Plugit HUBE S needs
    /// them (ccs32clara PR #59); pyPLC omits them.
    pub send_limits_in_current_demand: bool,
}

impl Default for EvParameters {
    fn default() -> Self {
        Self {
            max_voltage: Volts(410.0),
            max_current: Amps(100.0),
            max_power: Watts(98_000.0),
            energy_capacity: WattHours(28_000.0),
            energy_request: WattHours(20_000.0),
            full_soc: Percent(100.0),
            bulk_soc: Percent(80.0),
            pre_charge_current: Amps(1.0),
            send_limits_in_current_demand: true,
        }
    }
}

/// Where the car takes the charger's voltage from when it decides the end of PreCharge.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum PrechargeVoltageSource {
    /// The EVSEPresentVoltage of PreChargeRes (pyPLC `use_evsepresentvoltage_for_precharge_end
    /// = yes`, the default). The Ioniq works this way.
    EvsePresentVoltage,
    /// The voltage measured at the inlet ([`crate::hardware::Measurement::InletVoltage`]);
    /// pyPLC `use_evsepresentvoltage_for_precharge_end = no`.
    InletVoltage,
}

/// The car's session configuration.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct EvccConfig {
    /// The protocols offered in the handshake. pyPLC offers DIN only, SchemaID 1, priority 1
    /// (the Ioniq's request).
    pub protocols: Vec<ProtocolOffer>,
    /// The standard's timers and the hardware waits.
    pub timeouts: EvccTimeouts,
    /// Tolerated charger deviations.
    pub quirks: EvccQuirks,
    /// What the car reports about itself.
    pub ev: EvParameters,
    /// pyPLC `u_delta_max_for_end_of_precharge` (10 V): PreCharge is done when
    /// |U_charger − U_battery| is below this.
    pub u_delta_max_for_end_of_precharge: Volts,
    /// pyPLC `use_evsepresentvoltage_for_precharge_end`.
    pub precharge_voltage_source: PrechargeVoltageSource,
    /// Plausibility check (ccs32clara `InletVoltageTolerance`): when the inlet voltage is
    /// measured, it must agree with the charger's EVSEPresentVoltage within this tolerance
    /// during PreCharge and charging. The contactors close only while the two agree; a
    /// deviation that lasts [`Self::inlet_voltage_deviation_debounce`] stops the session.
    /// `None` disables the check.
    pub inlet_voltage_plausibility_tolerance: Option<Volts>,
    /// How long the inlet voltage may deviate from EVSEPresentVoltage before the session stops
    /// (ccs32clara `INLET_VOLTAGE_ERROR_DEBOUNCE_TIME_100MS`: 2 s). The charger samples its
    /// voltage before it answers, the car measures when the answer arrives: while the voltage
    /// slews (the cable-check voltage falling to the PreCharge target, current ramps) the two
    /// differ by the slew rate times that delay without anything being wrong.
    pub inlet_voltage_deviation_debounce: Duration,
    /// pyPLC `use_physical_inlet_voltage_during_chargeloop`: report the measured inlet voltage
    /// instead of EVSEPresentVoltage as the present voltage in the charging values.
    pub use_physical_inlet_voltage_during_chargeloop: bool,
    /// pyPLC `charge_target_voltage` (270 V): EVTargetVoltage when no BMS delivers
    /// [`crate::hardware::Measurement::TargetVoltage`].
    pub charge_target_voltage: Volts,
    /// EVTargetCurrent when no BMS delivers [`crate::hardware::Measurement::TargetCurrent`]
    /// (pyPLC: 10 A).
    pub charge_target_current: Amps,
    /// The battery voltage when no BMS delivers
    /// [`crate::hardware::Measurement::BatteryVoltage`]; `None` = the measurement is required
    /// (pyPLC without a backend: 230 V).
    pub fallback_battery_voltage: Option<Volts>,
    /// pyPLC `soc_simulation`: without a [`crate::hardware::Measurement::Soc`], simulate the
    /// SoC (from 20 %, +0.5 % per CurrentDemand round trip).
    pub soc_simulation: bool,
    /// pyPLC `light_bulb_demo`: don't close the contactors at the end of PreCharge but 2 s into
    /// the CurrentDemand loop (a light bulb on the inlet, no battery).
    pub light_bulb_demo: bool,
    /// Whether the contactors report their state ([`crate::hardware::Measurement::
    /// ContactorsClosed`]). Without feedback the car assumes they switched when
    /// [`EvccTimeouts::contactors_closed_timeout`] / [`EvccTimeouts::contactors_open_timeout`]
    /// has passed (pyPLC's behaviour with most devices).
    pub contactor_feedback: bool,
    /// Whether the connector lock reports its state ([`crate::hardware::Measurement::
    /// ConnectorLocked`]). Without feedback the car assumes it locked after
    /// [`EvccTimeouts::lock_timeout`].
    pub lock_feedback: bool,
    /// The current (EVSEPresentCurrent) below which the contactors may open (1 A).
    pub current_fall_threshold: Amps,
    /// The connector unlocks only below this voltage (60 V: the DC coupler may be unlocked
    /// only when the voltage at the vehicle connector is below 60 V d.c., IEC 61851-23; the
    /// limit of voltage class A of ISO 6469-3). The car's inlet measurement decides when it
    /// has one, else the charger's EVSEPresentVoltage reported after CP state B (`session::
    /// ev_dc`).
    pub unlock_voltage_limit: Volts,
    /// WeldingDetection repeats until EVSEPresentVoltage is below this (ccs32clara: 40 V).
    pub welding_detection_voltage: Volts,
    /// At most this many WeldingDetectionReqs (ccs32clara: 10); then the session goes on to
    /// SessionStop and reports the high voltage.
    pub welding_detection_max_rounds: u32,
    /// Stop after this much time in the CurrentDemand loop (`--charge-seconds`); `None` =
    /// until the battery is full or someone stops.
    pub charge_duration: Option<Duration>,
    /// The maximum age of a hardware reading the session relies on.
    pub measurement_max_age: Duration,
    /// ISO 15118-20: control mode, authorization, BPT, timers.
    pub iso20: crate::session::iso20::Iso20EvccConfig,
    /// ISO 15118-2: payment, energy transfer mode, AC parameters, Plug & Charge contract.
    pub iso2: crate::session::iso2::EvOptions,
}

impl Default for EvccConfig {
    fn default() -> Self {
        Self {
            protocols: vec![ProtocolOffer {
                protocol: Protocol::Din70121,
                priority: 1,
                schema_id: 1,
            }],
            timeouts: EvccTimeouts::default(),
            quirks: EvccQuirks::default(),
            ev: EvParameters::default(),
            u_delta_max_for_end_of_precharge: Volts(10.0),
            precharge_voltage_source: PrechargeVoltageSource::EvsePresentVoltage,
            inlet_voltage_plausibility_tolerance: Some(Volts(20.0)),
            inlet_voltage_deviation_debounce: Duration::from_secs(2),
            use_physical_inlet_voltage_during_chargeloop: false,
            charge_target_voltage: Volts(270.0),
            charge_target_current: Amps(10.0),
            fallback_battery_voltage: None,
            soc_simulation: true,
            light_bulb_demo: false,
            contactor_feedback: true,
            lock_feedback: true,
            current_fall_threshold: Amps(1.0),
            unlock_voltage_limit: Volts(60.0),
            welding_detection_voltage: Volts(40.0),
            welding_detection_max_rounds: 10,
            charge_duration: None,
            measurement_max_age: Duration::from_secs(5),
            iso20: crate::session::iso20::Iso20EvccConfig::default(),
            iso2: crate::session::iso2::EvOptions::default(),
        }
    }
}

/// How the charger picks among the protocols both sides support.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ProtocolSelection {
    /// The car's priority decides (the default): the car states its preference in the
    /// handshake, the charger honours it among the protocols it supports.
    CarPriority,
    /// The order of [`SeccConfig::protocols`] decides (pyPLC: DIN first, whatever the car
    /// prefers).
    OwnPreference,
}

/// The charger's timers.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SeccTimeouts {
    /// `V2G_SECC_Sequence_Timeout` (DIN 70121 Table 76, ISO 15118-2 Table 109: 60 s): from a
    /// response (or the connection) to the next request.
    pub sequence_timeout: Duration,
}

impl Default for SeccTimeouts {
    fn default() -> Self {
        Self {
            sequence_timeout: Duration::from_secs(60),
        }
    }
}

/// The charger's DC limits (ChargeParameterDiscoveryRes). The power supply's own
/// `PowerSupplyMax*` measurements override the maxima when they arrive. Defaults: pyPLC's
/// (§9.2).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct EvseLimits {
    /// EVSEMaximumVoltageLimit.
    pub max_voltage: Volts,
    /// EVSEMaximumCurrentLimit.
    pub max_current: Amps,
    /// EVSEMaximumPowerLimit.
    pub max_power: Watts,
    /// EVSEMinimumVoltageLimit.
    pub min_voltage: Volts,
    /// EVSEMinimumCurrentLimit.
    pub min_current: Amps,
    /// EVSECurrentRegulationTolerance.
    pub current_regulation_tolerance: Amps,
    /// EVSEPeakCurrentRipple.
    pub peak_current_ripple: Amps,
    /// PMax of the single SAScheduleList entry, as pyPLC sends it (50; the unit is W with
    /// multiplier 0 in DIN — pyPLC #14 left the scaling open, the BMW iX3 accepts it).
    pub schedule_p_max: i16,
    /// SAScheduleTupleID of that entry. DIN's SAIDType allows any xs:short and pyPLC sends 0,
    /// but ISO 15118-2 restricts SAIDType to 1-255 and Josev 0.31.2 applies that to DIN as
    /// well: it rejects ChargeParameterDiscoveryRes with 0 and ends the session. 1 is valid
    /// under both (real chargers send 1 or 10); 0 reproduces pyPLC byte for byte.
    pub schedule_tuple_id: i16,
}

impl Default for EvseLimits {
    fn default() -> Self {
        Self {
            max_voltage: Volts(450.0),
            max_current: Amps(200.0),
            max_power: Watts(10_000.0),
            min_voltage: Volts(200.0),
            min_current: Amps(1.0),
            current_regulation_tolerance: Amps(5.0),
            peak_current_ripple: Amps(5.0),
            schedule_p_max: 50,
            schedule_tuple_id: 1,
        }
    }
}

/// The charger's session configuration.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SeccConfig {
    /// The protocols the charger accepts, most preferred first.
    pub protocols: Vec<Protocol>,
    /// Whose priority decides among the common protocols.
    pub selection: ProtocolSelection,
    /// The standard's timers.
    pub timeouts: SeccTimeouts,
    /// EVSEID of SessionSetupRes (DIN: hexBinary; pyPLC sends the ASCII bytes of "ZZ00000").
    pub evse_id: Vec<u8>,
    /// The DC limits.
    pub limits: EvseLimits,
    /// Answer ContractAuthentication `Finished` at once; otherwise `Ongoing` until
    /// [`crate::hardware::Measurement::Authorized`] says yes.
    pub authorize_automatically: bool,
    /// Whether an isolation monitor reports [`crate::hardware::Measurement::Isolation`].
    /// Without one, CableCheck finishes with isolation `Valid` once the power supply has
    /// been on for [`SeccConfig::cable_check_duration`] (pyPLC's dummy behaviour).
    pub isolation_monitor: bool,
    /// The cable check time without an isolation monitor.
    pub cable_check_duration: Duration,
    /// pyPLC `evse_simulate_precharge`: report a simulated present voltage (rising towards the
    /// car's target during PreCharge, the target while charging, falling during
    /// WeldingDetection) instead of the power supply's measurement.
    pub evse_simulate_precharge: bool,
    /// The maximum age of a hardware reading the session relies on.
    pub measurement_max_age: Duration,
    /// ISO 15118-20: control modes, authorization, BPT limits.
    pub iso20: crate::session::iso20::Iso20SeccConfig,
    /// ISO 15118-2: EVSEID, payment options, energy transfer modes, AC parameters,
    /// value-added services, metering receipts.
    pub iso2: crate::session::iso2::EvseOptions,
}

impl Default for SeccConfig {
    fn default() -> Self {
        Self {
            protocols: vec![Protocol::Din70121],
            selection: ProtocolSelection::CarPriority,
            timeouts: SeccTimeouts::default(),
            evse_id: b"ZZ00000".to_vec(),
            limits: EvseLimits::default(),
            authorize_automatically: true,
            isolation_monitor: true,
            cable_check_duration: Duration::from_millis(500),
            evse_simulate_precharge: false,
            measurement_max_age: Duration::from_secs(5),
            iso20: crate::session::iso20::Iso20SeccConfig::default(),
            iso2: crate::session::iso2::EvseOptions::default(),
        }
    }
}

/// pyPLC settings that act between sessions: the driver reads them, the session does not.
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub struct DriverPolicy {
    /// pyPLC `exit_on_session_end` (False): the process exits when a charging session ends
    /// (one process and one log per session). The car's driver checks it after
    /// [`crate::session::SessionEvent::Finished`].
    pub exit_on_session_end: bool,
    /// pyPLC `allow_new_session_after_stopping` (True): after a user stop at the charger
    /// ([`crate::session::SeccSession::stopped_by_user`]), the driver may start the next
    /// session; `false` = the charger stays stopped until restarted.
    pub allow_new_session_after_stopping: bool,
}

impl Default for DriverPolicy {
    fn default() -> Self {
        Self {
            exit_on_session_end: false,
            allow_new_session_after_stopping: true,
        }
    }
}
