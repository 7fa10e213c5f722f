//! The hardware seam: commands out, measurements in, as plain values.
//!
//! The charging sessions (DIN 70121, ISO 15118-2, ISO 15118-20, EVCC and SECC) never call
//! hardware. They **emit** [`HardwareCommand`]s (CP state, contactors, connector lock,
//! power-supply set-points, status for displays and back ends) and **read** a
//! [`MeasurementSnapshot`] that the driver keeps up to date from the [`Measurement`]s the
//! adapters deliver (`ccs-io`: MQTT, CAN, serial, GPIO, the simulation). Adapter trouble (a lost
//! MQTT broker, a BMS that stopped publishing, a serial device that went away) arrives as a
//! [`HardwareFault`], which a session treats like any other error: the safe shutdown sequence.
//!
//! # How a session machine uses this module
//!
//! ```
//! use ccs_proto::hardware::{
//!     ContactorRequest, CpState, HardwareCommand, Measurement, MeasurementKind,
//!     MeasurementSnapshot, ReadingError, Volts,
//! };
//! use ccs_proto::time::{Duration, Instant};
//!
//! // The driver owns the snapshot and applies every measurement with the time it arrived.
//! let mut snapshot = MeasurementSnapshot::default();
//! snapshot.apply(Instant::from_millis(1_000), Measurement::BatteryVoltage(Volts(398.0)));
//!
//! // The session reads it with the age it tolerates; a missing or stale value is an error
//! // that names the measurement (the session turns it into the safe shutdown).
//! let max_age = Duration::from_secs(2);
//! let now = Instant::from_millis(1_500);
//! assert_eq!(snapshot.battery_voltage.fresh(now, max_age), Ok(Volts(398.0)));
//! assert!(matches!(
//!     snapshot.battery_voltage.fresh(Instant::from_millis(5_000), max_age),
//!     Err(ReadingError::Stale { kind: MeasurementKind::BatteryVoltage, .. })
//! ));
//!
//! // Commands are values the session returns; the driver hands them to the adapter hub.
//! let commands = [
//!     HardwareCommand::CpState(CpState::C),
//!     HardwareCommand::Contactors(ContactorRequest::Closed),
//! ];
//! # let _ = commands;
//! ```
//!
//! Units: every electrical quantity is an `f32` newtype in SI units ([`Volts`], [`Amps`],
//! [`Watts`], [`WattHours`]) and SoC is a [`Percent`] (0–100). `f32` holds the resolution of
//! every DIN/ISO `PhysicalValueType` that occurs in DC charging (0.1 V, 0.1 A up to 1000 V /
//! 1000 A) exactly enough; the sessions convert to value + multiplier at the wire.

use core::fmt;

use crate::time::{Duration, Instant};

macro_rules! unit_newtype {
    ($(#[$doc:meta])* $name:ident, $unit:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
        pub struct $name(pub f32);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:.1} {}", self.0, $unit)
            }
        }
    };
}

unit_newtype!(
    /// An electric potential in volts.
    Volts,
    "V"
);
unit_newtype!(
    /// An electric current in amperes. Positive = into the vehicle battery (charging).
    Amps,
    "A"
);
unit_newtype!(
    /// A power in watts.
    Watts,
    "W"
);
unit_newtype!(
    /// An energy in watt-hours.
    WattHours,
    "Wh"
);
unit_newtype!(
    /// A state of charge in percent, 0 to 100.
    Percent,
    "%"
);

/// The control-pilot state the vehicle presents (IEC 61851-1 Annex A): B = connected, not
/// ready; C = ready to take energy. The car switches it with a resistor; the charger only
/// observes it.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum CpState {
    /// State B: vehicle connected, not ready to charge (2.74 kΩ only).
    B,
    /// State C: vehicle ready, energy transfer allowed (1.3 kΩ switched in parallel).
    C,
}

/// The request for the vehicle's DC contactors (pyPLC's "power relay").
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum ContactorRequest {
    /// Open: the battery is disconnected from the inlet.
    Open,
    /// Closed: the battery is connected to the inlet (only after precharge has matched).
    Closed,
}

/// The request for the connector lock motor.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum LockRequest {
    /// Unlock the connector (only after the contactors are open).
    Unlock,
    /// Lock the connector (before cable check).
    Lock,
}

/// What the charger's power supply shall do.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PowerSupplySetpoint {
    /// Output on (`true`) or off; when off the voltage and current are irrelevant.
    pub enabled: bool,
    /// Target output voltage (the vehicle's EVTargetVoltage, or the battery voltage during
    /// PreCharge).
    pub voltage: Volts,
    /// Current limit (the vehicle's EVTargetCurrent; during PreCharge the small precharge
    /// current the vehicle asks for).
    pub current: Amps,
}

impl PowerSupplySetpoint {
    /// The power supply off, 0 V, 0 A.
    pub const OFF: Self = Self {
        enabled: false,
        voltage: Volts(0.0),
        current: Amps(0.0),
    };
}

/// What the charger learned about the vehicle's battery (from ChargeParameterDiscoveryReq and
/// the CurrentDemand loop), for displays, MQTT, CAN and the SoC callback.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct VehicleBatteryReport {
    /// The state of charge the car reported.
    pub soc: Percent,
    /// The SoC at which the car considers itself full (DIN `FullSOC`), if sent.
    pub full_soc: Option<Percent>,
    /// The usable battery capacity (DIN `EVEnergyCapacity`), if sent.
    pub energy_capacity: Option<WattHours>,
    /// The energy still needed to be full (DIN `EVEnergyRequest`), if sent.
    pub energy_request: Option<WattHours>,
}

/// A command from a session machine to the hardware, as a value.
///
/// The session returns these; the driver passes each one to every adapter (`ccs-io`'s hub),
/// and an adapter ignores the commands it has no output for. Commands are idempotent: sending
/// the same command twice is harmless, and adapters may drop repeats.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum HardwareCommand {
    // ----- vehicle (EVCC) actuators
    /// Switch the CP line to state B or C.
    CpState(CpState),
    /// Open or close the DC contactors.
    Contactors(ContactorRequest),
    /// Lock or unlock the connector.
    ConnectorLock(LockRequest),

    // ----- charger (SECC) actuators
    /// New set-point for the power supply.
    PowerSupply(PowerSupplySetpoint),

    // ----- information for displays, BMS and back ends
    /// The session's state as a short human-readable text (pyPLC's `fsm_state`), e.g.
    /// "CableCheck", "PreCharging", "CurrentDemand".
    SessionState(String),
    /// Vehicle side: the charger's maximum voltage and current (from
    /// ChargeParameterDiscoveryRes), for the BMS.
    ChargerLimits {
        /// EVSEMaximumVoltageLimit.
        max_voltage: Volts,
        /// EVSEMaximumCurrentLimit.
        max_current: Amps,
    },
    /// Both sides: the charger's present output as carried in PreChargeRes /
    /// CurrentDemandRes / WeldingDetectionRes (EVSEPresentVoltage / EVSEPresentCurrent; zero
    /// current in WeldingDetection): what the car received, or
    /// what the charger sent. For the BMS (car) and status displays such as the FoccciCape CAN
    /// frames (charger).
    ChargerPresent {
        /// EVSEPresentVoltage.
        voltage: Volts,
        /// EVSEPresentCurrent.
        current: Amps,
    },
    /// Charger side: the vehicle's identity (EVCCID, normally its MAC as 12 hex digits).
    EvccId(String),
    /// Charger side: what the vehicle reported about its battery.
    VehicleBattery(VehicleBatteryReport),
}

/// The isolation monitor's verdict (DIN 70121 / ISO 15118-2 `isolationLevelType`).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum IsolationStatus {
    /// No valid measurement yet.
    Invalid,
    /// Isolation resistance fine.
    Valid,
    /// Degraded, charging may continue.
    Warning,
    /// Insulation fault: stop.
    Fault,
    /// No isolation monitor fitted (ISO 15118-2 `No_IMD`).
    NoImd,
}

/// A measurement from the hardware to the session, as a value.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Measurement {
    // ----- vehicle side (from the BMS / vehicle controller)
    /// The battery's present voltage (DIN PreChargeReq EVTargetVoltage = this).
    BatteryVoltage(Volts),
    /// The voltage the BMS wants to charge to (EVTargetVoltage / EVMaximumVoltageLimit).
    TargetVoltage(Volts),
    /// The current the BMS wants (EVTargetCurrent).
    TargetCurrent(Amps),
    /// The battery's state of charge.
    Soc(Percent),
    /// The voltage measured at the vehicle inlet (ahead of the contactors).
    InletVoltage(Volts),
    /// The DC current through the vehicle's inlet, measured by the car (a shunt or hall sensor
    /// in its HV path), where the hardware has one: after CP state B the car checks with it
    /// that the charger's current really fell before the contactors open.
    InletCurrent(Amps),
    /// Contactor feedback: `true` = closed.
    ContactorsClosed(bool),
    /// Connector lock feedback: `true` = locked.
    ConnectorLocked(bool),
    /// Whether a connector is plugged in (proximity pilot), where the hardware knows.
    PluggedIn(bool),

    // ----- charger side (from the power supply and the charge point controller)
    /// The power supply's present output voltage.
    PowerSupplyVoltage(Volts),
    /// The power supply's present output current.
    PowerSupplyCurrent(Amps),
    /// The power supply's maximum voltage (EVSEMaximumVoltageLimit).
    PowerSupplyMaxVoltage(Volts),
    /// The power supply's maximum current (EVSEMaximumCurrentLimit).
    PowerSupplyMaxCurrent(Amps),
    /// The power supply's maximum power (EVSEMaximumPowerLimit).
    PowerSupplyMaxPower(Watts),
    /// The isolation monitor's verdict.
    Isolation(IsolationStatus),
    /// The user's enable switch: `false` = stop requested (pyPLC's MQTT `enabled` = 0, the
    /// FoccciCape stop button).
    ChargingEnabled(bool),
    /// Authorization (RFID, app, back end): `true` = the user may charge.
    Authorized(bool),
}

/// Names a [`Measurement`] without its value: for stale-input faults and snapshot errors.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[non_exhaustive]
pub enum MeasurementKind {
    /// [`Measurement::BatteryVoltage`].
    BatteryVoltage,
    /// [`Measurement::TargetVoltage`].
    TargetVoltage,
    /// [`Measurement::TargetCurrent`].
    TargetCurrent,
    /// [`Measurement::Soc`].
    Soc,
    /// [`Measurement::InletVoltage`].
    InletVoltage,
    /// [`Measurement::InletCurrent`].
    InletCurrent,
    /// [`Measurement::ContactorsClosed`].
    ContactorsClosed,
    /// [`Measurement::ConnectorLocked`].
    ConnectorLocked,
    /// [`Measurement::PluggedIn`].
    PluggedIn,
    /// [`Measurement::PowerSupplyVoltage`].
    PowerSupplyVoltage,
    /// [`Measurement::PowerSupplyCurrent`].
    PowerSupplyCurrent,
    /// [`Measurement::PowerSupplyMaxVoltage`].
    PowerSupplyMaxVoltage,
    /// [`Measurement::PowerSupplyMaxCurrent`].
    PowerSupplyMaxCurrent,
    /// [`Measurement::PowerSupplyMaxPower`].
    PowerSupplyMaxPower,
    /// [`Measurement::Isolation`].
    Isolation,
    /// [`Measurement::ChargingEnabled`].
    ChargingEnabled,
    /// [`Measurement::Authorized`].
    Authorized,
}

impl MeasurementKind {
    /// A short snake_case name, as used in logs and the JSON status.
    pub const fn name(self) -> &'static str {
        match self {
            Self::BatteryVoltage => "battery_voltage",
            Self::TargetVoltage => "target_voltage",
            Self::TargetCurrent => "target_current",
            Self::Soc => "soc",
            Self::InletVoltage => "inlet_voltage",
            Self::InletCurrent => "inlet_current",
            Self::ContactorsClosed => "contactors_closed",
            Self::ConnectorLocked => "connector_locked",
            Self::PluggedIn => "plugged_in",
            Self::PowerSupplyVoltage => "power_supply_voltage",
            Self::PowerSupplyCurrent => "power_supply_current",
            Self::PowerSupplyMaxVoltage => "power_supply_max_voltage",
            Self::PowerSupplyMaxCurrent => "power_supply_max_current",
            Self::PowerSupplyMaxPower => "power_supply_max_power",
            Self::Isolation => "isolation",
            Self::ChargingEnabled => "charging_enabled",
            Self::Authorized => "authorized",
        }
    }
}

impl fmt::Display for MeasurementKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Measurement {
    /// Which measurement this is.
    pub const fn kind(&self) -> MeasurementKind {
        match self {
            Self::BatteryVoltage(_) => MeasurementKind::BatteryVoltage,
            Self::TargetVoltage(_) => MeasurementKind::TargetVoltage,
            Self::TargetCurrent(_) => MeasurementKind::TargetCurrent,
            Self::Soc(_) => MeasurementKind::Soc,
            Self::InletVoltage(_) => MeasurementKind::InletVoltage,
            Self::InletCurrent(_) => MeasurementKind::InletCurrent,
            Self::ContactorsClosed(_) => MeasurementKind::ContactorsClosed,
            Self::ConnectorLocked(_) => MeasurementKind::ConnectorLocked,
            Self::PluggedIn(_) => MeasurementKind::PluggedIn,
            Self::PowerSupplyVoltage(_) => MeasurementKind::PowerSupplyVoltage,
            Self::PowerSupplyCurrent(_) => MeasurementKind::PowerSupplyCurrent,
            Self::PowerSupplyMaxVoltage(_) => MeasurementKind::PowerSupplyMaxVoltage,
            Self::PowerSupplyMaxCurrent(_) => MeasurementKind::PowerSupplyMaxCurrent,
            Self::PowerSupplyMaxPower(_) => MeasurementKind::PowerSupplyMaxPower,
            Self::Isolation(_) => MeasurementKind::Isolation,
            Self::ChargingEnabled(_) => MeasurementKind::ChargingEnabled,
            Self::Authorized(_) => MeasurementKind::Authorized,
        }
    }
}

impl Measurement {
    /// The measurement `kind` from a plain number, for transports that carry numbers (CAN
    /// signals, Modbus registers): flags are `value != 0`; the isolation status uses the
    /// DIN/ISO `isolationLevelType` order (0 Invalid, 1 Valid, 2 Warning, 3 Fault, 4 No_IMD;
    /// anything else Invalid).
    pub fn from_number(kind: MeasurementKind, value: f32) -> Self {
        use MeasurementKind as K;
        let flag = value != 0.0;
        match kind {
            K::BatteryVoltage => Self::BatteryVoltage(Volts(value)),
            K::TargetVoltage => Self::TargetVoltage(Volts(value)),
            K::TargetCurrent => Self::TargetCurrent(Amps(value)),
            K::Soc => Self::Soc(Percent(value)),
            K::InletVoltage => Self::InletVoltage(Volts(value)),
            K::InletCurrent => Self::InletCurrent(Amps(value)),
            K::ContactorsClosed => Self::ContactorsClosed(flag),
            K::ConnectorLocked => Self::ConnectorLocked(flag),
            K::PluggedIn => Self::PluggedIn(flag),
            K::PowerSupplyVoltage => Self::PowerSupplyVoltage(Volts(value)),
            K::PowerSupplyCurrent => Self::PowerSupplyCurrent(Amps(value)),
            K::PowerSupplyMaxVoltage => Self::PowerSupplyMaxVoltage(Volts(value)),
            K::PowerSupplyMaxCurrent => Self::PowerSupplyMaxCurrent(Amps(value)),
            K::PowerSupplyMaxPower => Self::PowerSupplyMaxPower(Watts(value)),
            K::Isolation => Self::Isolation(match value as i32 {
                1 => IsolationStatus::Valid,
                2 => IsolationStatus::Warning,
                3 => IsolationStatus::Fault,
                4 => IsolationStatus::NoImd,
                _ => IsolationStatus::Invalid,
            }),
            K::ChargingEnabled => Self::ChargingEnabled(flag),
            K::Authorized => Self::Authorized(flag),
        }
    }
}

/// Why a reading cannot be used.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum ReadingError {
    /// No value has arrived yet.
    Missing {
        /// Which measurement.
        kind: MeasurementKind,
    },
    /// The latest value is older than the tolerated age.
    Stale {
        /// Which measurement.
        kind: MeasurementKind,
        /// How old the latest value is.
        age: Duration,
    },
}

impl fmt::Display for ReadingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { kind } => write!(f, "hardware input {kind} has never been received"),
            Self::Stale { kind, age } => {
                write!(f, "hardware input {kind} is stale (last update {age} ago)")
            }
        }
    }
}

impl core::error::Error for ReadingError {}

/// The latest value of one measurement and the instant it arrived.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reading<T> {
    kind: MeasurementKind,
    latest: Option<(T, Instant)>,
}

impl<T: Copy> Reading<T> {
    /// An empty reading for `kind`.
    pub const fn new(kind: MeasurementKind) -> Self {
        Self { kind, latest: None }
    }

    /// Which measurement this reading holds.
    pub const fn kind(&self) -> MeasurementKind {
        self.kind
    }

    /// The latest value regardless of its age.
    pub fn value(&self) -> Option<T> {
        self.latest.map(|(value, _)| value)
    }

    /// When the latest value arrived.
    pub fn updated_at(&self) -> Option<Instant> {
        self.latest.map(|(_, at)| at)
    }

    /// The latest value if it is at most `max_age` old at `now`.
    pub fn fresh(&self, now: Instant, max_age: Duration) -> Result<T, ReadingError> {
        let Some((value, at)) = self.latest else {
            return Err(ReadingError::Missing { kind: self.kind });
        };
        let age = now.saturating_duration_since(at);
        if age > max_age {
            return Err(ReadingError::Stale {
                kind: self.kind,
                age,
            });
        }
        Ok(value)
    }

    /// Stores a new value.
    pub fn set(&mut self, now: Instant, value: T) {
        self.latest = Some((value, now));
    }

    /// Forgets the value (e.g. at the start of a new charging session).
    pub fn clear(&mut self) {
        self.latest = None;
    }
}

/// The latest value of every [`Measurement`], each with the instant it arrived.
///
/// The driver applies each measurement as it arrives ([`apply`](Self::apply)); the session
/// reads the fields with [`Reading::fresh`] and a maximum age from its configuration, so an
/// adapter that silently stopped delivering is detected even if it raised no fault.
#[derive(Clone, Debug, PartialEq)]
pub struct MeasurementSnapshot {
    /// [`Measurement::BatteryVoltage`].
    pub battery_voltage: Reading<Volts>,
    /// [`Measurement::TargetVoltage`].
    pub target_voltage: Reading<Volts>,
    /// [`Measurement::TargetCurrent`].
    pub target_current: Reading<Amps>,
    /// [`Measurement::Soc`].
    pub soc: Reading<Percent>,
    /// [`Measurement::InletVoltage`].
    pub inlet_voltage: Reading<Volts>,
    /// [`Measurement::InletCurrent`].
    pub inlet_current: Reading<Amps>,
    /// [`Measurement::ContactorsClosed`].
    pub contactors_closed: Reading<bool>,
    /// [`Measurement::ConnectorLocked`].
    pub connector_locked: Reading<bool>,
    /// [`Measurement::PluggedIn`].
    pub plugged_in: Reading<bool>,
    /// [`Measurement::PowerSupplyVoltage`].
    pub power_supply_voltage: Reading<Volts>,
    /// [`Measurement::PowerSupplyCurrent`].
    pub power_supply_current: Reading<Amps>,
    /// [`Measurement::PowerSupplyMaxVoltage`].
    pub power_supply_max_voltage: Reading<Volts>,
    /// [`Measurement::PowerSupplyMaxCurrent`].
    pub power_supply_max_current: Reading<Amps>,
    /// [`Measurement::PowerSupplyMaxPower`].
    pub power_supply_max_power: Reading<Watts>,
    /// [`Measurement::Isolation`].
    pub isolation: Reading<IsolationStatus>,
    /// [`Measurement::ChargingEnabled`].
    pub charging_enabled: Reading<bool>,
    /// [`Measurement::Authorized`].
    pub authorized: Reading<bool>,
}

impl Default for MeasurementSnapshot {
    fn default() -> Self {
        use MeasurementKind as K;
        Self {
            battery_voltage: Reading::new(K::BatteryVoltage),
            target_voltage: Reading::new(K::TargetVoltage),
            target_current: Reading::new(K::TargetCurrent),
            soc: Reading::new(K::Soc),
            inlet_voltage: Reading::new(K::InletVoltage),
            inlet_current: Reading::new(K::InletCurrent),
            contactors_closed: Reading::new(K::ContactorsClosed),
            connector_locked: Reading::new(K::ConnectorLocked),
            plugged_in: Reading::new(K::PluggedIn),
            power_supply_voltage: Reading::new(K::PowerSupplyVoltage),
            power_supply_current: Reading::new(K::PowerSupplyCurrent),
            power_supply_max_voltage: Reading::new(K::PowerSupplyMaxVoltage),
            power_supply_max_current: Reading::new(K::PowerSupplyMaxCurrent),
            power_supply_max_power: Reading::new(K::PowerSupplyMaxPower),
            isolation: Reading::new(K::Isolation),
            charging_enabled: Reading::new(K::ChargingEnabled),
            authorized: Reading::new(K::Authorized),
        }
    }
}

impl MeasurementSnapshot {
    /// Records `measurement`, arrived at `now`.
    pub fn apply(&mut self, now: Instant, measurement: Measurement) {
        match measurement {
            Measurement::BatteryVoltage(v) => self.battery_voltage.set(now, v),
            Measurement::TargetVoltage(v) => self.target_voltage.set(now, v),
            Measurement::TargetCurrent(v) => self.target_current.set(now, v),
            Measurement::Soc(v) => self.soc.set(now, v),
            Measurement::InletVoltage(v) => self.inlet_voltage.set(now, v),
            Measurement::InletCurrent(v) => self.inlet_current.set(now, v),
            Measurement::ContactorsClosed(v) => self.contactors_closed.set(now, v),
            Measurement::ConnectorLocked(v) => self.connector_locked.set(now, v),
            Measurement::PluggedIn(v) => self.plugged_in.set(now, v),
            Measurement::PowerSupplyVoltage(v) => self.power_supply_voltage.set(now, v),
            Measurement::PowerSupplyCurrent(v) => self.power_supply_current.set(now, v),
            Measurement::PowerSupplyMaxVoltage(v) => self.power_supply_max_voltage.set(now, v),
            Measurement::PowerSupplyMaxCurrent(v) => self.power_supply_max_current.set(now, v),
            Measurement::PowerSupplyMaxPower(v) => self.power_supply_max_power.set(now, v),
            Measurement::Isolation(v) => self.isolation.set(now, v),
            Measurement::ChargingEnabled(v) => self.charging_enabled.set(now, v),
            Measurement::Authorized(v) => self.authorized.set(now, v),
        }
    }

    /// When the measurement `kind` last arrived, if ever.
    pub fn updated_at(&self, kind: MeasurementKind) -> Option<Instant> {
        use MeasurementKind as K;
        match kind {
            K::BatteryVoltage => self.battery_voltage.updated_at(),
            K::TargetVoltage => self.target_voltage.updated_at(),
            K::TargetCurrent => self.target_current.updated_at(),
            K::Soc => self.soc.updated_at(),
            K::InletVoltage => self.inlet_voltage.updated_at(),
            K::InletCurrent => self.inlet_current.updated_at(),
            K::ContactorsClosed => self.contactors_closed.updated_at(),
            K::ConnectorLocked => self.connector_locked.updated_at(),
            K::PluggedIn => self.plugged_in.updated_at(),
            K::PowerSupplyVoltage => self.power_supply_voltage.updated_at(),
            K::PowerSupplyCurrent => self.power_supply_current.updated_at(),
            K::PowerSupplyMaxVoltage => self.power_supply_max_voltage.updated_at(),
            K::PowerSupplyMaxCurrent => self.power_supply_max_current.updated_at(),
            K::PowerSupplyMaxPower => self.power_supply_max_power.updated_at(),
            K::Isolation => self.isolation.updated_at(),
            K::ChargingEnabled => self.charging_enabled.updated_at(),
            K::Authorized => self.authorized.updated_at(),
        }
    }

    /// Checks that every measurement in `required` is present and at most `max_age` old;
    /// returns the first that is not. A session calls this once per step with the inputs that
    /// step depends on (e.g. the battery voltage during PreCharge).
    pub fn require_fresh(
        &self,
        now: Instant,
        max_age: Duration,
        required: &[MeasurementKind],
    ) -> Result<(), ReadingError> {
        for &kind in required {
            let Some(at) = self.updated_at(kind) else {
                return Err(ReadingError::Missing { kind });
            };
            let age = now.saturating_duration_since(at);
            if age > max_age {
                return Err(ReadingError::Stale { kind, age });
            }
        }
        Ok(())
    }
}

/// What went wrong in a hardware adapter. Any fault leads the session into the safe shutdown
/// (DESIGN.md, rule 5).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum HardwareFaultKind {
    /// The adapter lost its transport (MQTT broker unreachable, CAN bus down, serial device
    /// gone).
    ConnectionLost,
    /// An input the adapter expects periodically has not been updated within its maximum age.
    StaleInput(MeasurementKind),
    /// The adapter stopped (its task ended or failed) and delivers nothing any more.
    AdapterStopped,
    /// The device reported or showed an error; the text says what.
    Device(String),
}

/// A fault reported by one adapter.
#[derive(Clone, Debug, PartialEq)]
pub struct HardwareFault {
    /// The adapter's name (e.g. `mqtt`, `can-chademo`, `sim`).
    pub adapter: String,
    /// What went wrong.
    pub kind: HardwareFaultKind,
}

impl fmt::Display for HardwareFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            HardwareFaultKind::ConnectionLost => write!(f, "{}: connection lost", self.adapter),
            HardwareFaultKind::StaleInput(kind) => {
                write!(f, "{}: input {kind} not updated in time", self.adapter)
            }
            HardwareFaultKind::AdapterStopped => write!(f, "{}: adapter stopped", self.adapter),
            HardwareFaultKind::Device(text) => write!(f, "{}: device error: {text}", self.adapter),
        }
    }
}

/// Everything an adapter reports to the session side.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum HardwareEvent {
    /// A new value; apply it to the [`MeasurementSnapshot`].
    Measurement(Measurement),
    /// Something broke: the session must shut down safely.
    Fault(HardwareFault),
    /// A fault reported earlier is gone (the broker is back, the input updates again). A
    /// session already shutting down keeps doing so; the next session may start.
    FaultCleared(HardwareFault),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_keeps_latest_value_and_arrival_time() {
        let mut s = MeasurementSnapshot::default();
        s.apply(Instant::from_millis(10), Measurement::Soc(Percent(40.0)));
        s.apply(Instant::from_millis(20), Measurement::Soc(Percent(41.0)));
        assert_eq!(s.soc.value(), Some(Percent(41.0)));
        assert_eq!(s.soc.updated_at(), Some(Instant::from_millis(20)));
        assert_eq!(
            s.updated_at(MeasurementKind::Soc),
            Some(Instant::from_millis(20))
        );
        assert_eq!(s.battery_voltage.value(), None);
    }

    #[test]
    fn fresh_distinguishes_missing_stale_and_fresh() {
        let mut s = MeasurementSnapshot::default();
        let max_age = Duration::from_millis(500);
        assert_eq!(
            s.inlet_voltage.fresh(Instant::ZERO, max_age),
            Err(ReadingError::Missing {
                kind: MeasurementKind::InletVoltage
            })
        );
        s.apply(
            Instant::from_millis(1000),
            Measurement::InletVoltage(Volts(12.5)),
        );
        assert_eq!(
            s.inlet_voltage.fresh(Instant::from_millis(1500), max_age),
            Ok(Volts(12.5))
        );
        assert_eq!(
            s.inlet_voltage.fresh(Instant::from_millis(1501), max_age),
            Err(ReadingError::Stale {
                kind: MeasurementKind::InletVoltage,
                age: Duration::from_millis(501)
            })
        );
    }

    #[test]
    fn require_fresh_names_the_first_bad_input() {
        let mut s = MeasurementSnapshot::default();
        let t = Instant::from_millis(100);
        s.apply(t, Measurement::BatteryVoltage(Volts(350.0)));
        s.apply(t, Measurement::TargetCurrent(Amps(100.0)));
        let max_age = Duration::from_secs(1);
        assert_eq!(
            s.require_fresh(
                t,
                max_age,
                &[
                    MeasurementKind::BatteryVoltage,
                    MeasurementKind::TargetCurrent
                ]
            ),
            Ok(())
        );
        assert_eq!(
            s.require_fresh(
                t,
                max_age,
                &[MeasurementKind::BatteryVoltage, MeasurementKind::Soc]
            ),
            Err(ReadingError::Missing {
                kind: MeasurementKind::Soc
            })
        );
    }

    #[test]
    fn every_measurement_lands_in_its_own_field() {
        let all = [
            Measurement::BatteryVoltage(Volts(1.0)),
            Measurement::TargetVoltage(Volts(2.0)),
            Measurement::TargetCurrent(Amps(3.0)),
            Measurement::Soc(Percent(4.0)),
            Measurement::InletVoltage(Volts(5.0)),
            Measurement::ContactorsClosed(true),
            Measurement::ConnectorLocked(true),
            Measurement::PluggedIn(true),
            Measurement::PowerSupplyVoltage(Volts(6.0)),
            Measurement::PowerSupplyCurrent(Amps(7.0)),
            Measurement::PowerSupplyMaxVoltage(Volts(8.0)),
            Measurement::PowerSupplyMaxCurrent(Amps(9.0)),
            Measurement::PowerSupplyMaxPower(Watts(10.0)),
            Measurement::Isolation(IsolationStatus::Valid),
            Measurement::ChargingEnabled(false),
            Measurement::Authorized(true),
        ];
        for (i, m) in all.iter().enumerate() {
            let mut s = MeasurementSnapshot::default();
            let at = Instant::from_millis(i as i64 + 1);
            s.apply(at, *m);
            for other in &all {
                let expected = (other.kind() == m.kind()).then_some(at);
                assert_eq!(s.updated_at(other.kind()), expected, "{m:?} vs {other:?}");
            }
        }
    }

    #[test]
    fn from_number_round_trips_the_kind() {
        use MeasurementKind as K;
        for kind in [
            K::BatteryVoltage,
            K::Soc,
            K::ContactorsClosed,
            K::Isolation,
            K::Authorized,
        ] {
            assert_eq!(Measurement::from_number(kind, 1.0).kind(), kind);
        }
        assert_eq!(
            Measurement::from_number(K::Isolation, 3.0),
            Measurement::Isolation(IsolationStatus::Fault)
        );
        assert_eq!(
            Measurement::from_number(K::ChargingEnabled, 0.0),
            Measurement::ChargingEnabled(false)
        );
    }

    #[test]
    fn units_display_with_their_symbol() {
        assert_eq!(Volts(398.04).to_string(), "398.0 V");
        assert_eq!(Amps(12.25).to_string(), "12.2 A");
        assert_eq!(Percent(80.0).to_string(), "80.0 %");
    }
}
