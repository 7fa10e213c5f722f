//! The vehicle and the charger joined by the DC link: what both sessions' hardware sees.

use ccs_proto::hardware::{
    Amps, ContactorRequest, CpState, HardwareCommand, LockRequest, Measurement, Percent,
    PowerSupplySetpoint, Volts,
};
use ccs_proto::time::{Duration, Instant};

use super::{
    Battery, BatteryConfig, DelayedSwitch, IsolationConfig, IsolationMonitor, PowerSupply,
    PowerSupplyConfig,
};

/// The parts of the plant and their timing.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct PlantConfig {
    /// The vehicle's battery.
    pub battery: BatteryConfig,
    /// The SoC at the start.
    pub initial_soc: Percent,
    /// The charger's power supply.
    pub power_supply: PowerSupplyConfig,
    /// The charger's isolation monitor and the circuit's insulation.
    pub isolation: IsolationConfig,
    /// How long the vehicle's contactors take to follow a request.
    pub contactor_delay: Duration,
    /// How long the connector lock takes to follow a request.
    pub lock_delay: Duration,
    /// How long after the start the user counts as authorized (RFID, app).
    pub authorization_delay: Duration,
    /// The integration step: [`DcPlant::advance`] moves in steps of at most this.
    pub time_step: Duration,
}

impl Default for PlantConfig {
    fn default() -> Self {
        Self {
            battery: BatteryConfig::default(),
            initial_soc: Percent(30.0),
            power_supply: PowerSupplyConfig::default(),
            isolation: IsolationConfig::default(),
            contactor_delay: Duration::from_millis(50),
            lock_delay: Duration::from_millis(300),
            authorization_delay: Duration::ZERO,
            time_step: Duration::from_millis(10),
        }
    }
}

/// The simulated vehicle (battery, contactors, lock, CP) and charger (power supply,
/// isolation monitor, user stop) connected by one DC link.
#[derive(Clone, Debug, PartialEq)]
pub struct DcPlant {
    config: PlantConfig,
    started: Instant,
    now: Instant,
    battery: Battery,
    power_supply: PowerSupply,
    isolation: IsolationMonitor,
    contactors: DelayedSwitch,
    lock: DelayedSwitch,
    cp: CpState,
    link_voltage: f32,
    charging_enabled: bool,
    last_close_step: Option<Volts>,
    supply_stuck: bool,
}

impl DcPlant {
    /// The plant at rest at `now`: contactors open, unlocked, power supply off, CP state B.
    pub fn new(config: PlantConfig, now: Instant) -> Self {
        Self {
            battery: Battery::new(config.battery.clone(), config.initial_soc),
            power_supply: PowerSupply::new(config.power_supply.clone()),
            isolation: IsolationMonitor::new(config.isolation.clone()),
            contactors: DelayedSwitch::new(config.contactor_delay),
            lock: DelayedSwitch::new(config.lock_delay),
            cp: CpState::B,
            link_voltage: 0.0,
            charging_enabled: true,
            last_close_step: None,
            supply_stuck: false,
            started: now,
            now,
            config,
        }
    }

    /// Applies a command of either session at `now` (after advancing to `now`). Commands
    /// that have no physical effect (status texts, reports) are ignored.
    pub fn command(&mut self, now: Instant, command: &HardwareCommand) {
        self.advance(now);
        match command {
            HardwareCommand::CpState(cp) => {
                if self.cp == CpState::C && *cp != CpState::C && !self.supply_stuck {
                    // The charger's own interlock: when the vehicle leaves state C the power
                    // stage stops at once, whatever the V2G session says (IEC 61851-23 stops
                    // the energy transfer on the C → B transition). Without it a car that
                    // lost its V2G link would open its contactors under load.
                    self.power_supply.set(PowerSupplySetpoint::OFF);
                }
                self.cp = *cp;
            }
            HardwareCommand::Contactors(req) => self
                .contactors
                .request(self.now, *req == ContactorRequest::Closed),
            HardwareCommand::ConnectorLock(req) => {
                self.lock.request(self.now, *req == LockRequest::Lock);
            }
            HardwareCommand::PowerSupply(_) if self.supply_stuck => {}
            HardwareCommand::PowerSupply(setpoint) => self.power_supply.set(*setpoint),
            _ => {}
        }
    }

    /// A stuck power stage (`true`): it ignores every setpoint and the CP interlock and keeps
    /// driving what it drives now (a fault case: the charger's current does not fall).
    pub fn set_supply_stuck(&mut self, stuck: bool) {
        self.supply_stuck = stuck;
    }

    /// The user's stop switch at the charger (`false` = stop requested).
    pub fn set_charging_enabled(&mut self, enabled: bool) {
        self.charging_enabled = enabled;
    }

    /// Lets time pass up to `now` in steps of at most `time_step`.
    pub fn advance(&mut self, now: Instant) {
        let max_step = if self.config.time_step == Duration::ZERO {
            Duration::from_millis(10)
        } else {
            self.config.time_step
        };
        while self.now < now {
            let dt = (now - self.now).min(max_step);
            let was_closed = self.contactors.is_on();
            self.now += dt;
            self.contactors.advance(self.now);
            self.lock.advance(self.now);
            if self.contactors.is_on() && !was_closed {
                let ocv = self.battery.open_circuit_voltage().0;
                self.last_close_step = Some(Volts((self.link_voltage - ocv).abs()));
            }
            self.step(dt);
        }
    }

    fn step(&mut self, dt: Duration) {
        if self.contactors.is_on() {
            if self.power_supply.setpoint().enabled {
                // Constant-voltage regulation: the current that brings the terminal voltage
                // to the target, within the current limit (applied by the supply).
                let ocv = self.battery.open_circuit_voltage().0;
                let r = self.config.battery.internal_resistance_ohm.max(1e-3);
                let wanted = (self.power_supply.target_voltage() - ocv) / r;
                self.power_supply.step_connected(dt, wanted);
            } else {
                self.power_supply.step_off(dt);
            }
            let current = self.power_supply.current();
            self.link_voltage = self.battery.terminal_voltage(current).0;
            self.power_supply.hold_voltage(self.link_voltage);
            self.battery.integrate(current, dt);
        } else {
            self.power_supply.step_open(dt);
            self.link_voltage = self.power_supply.voltage().0;
        }
        self.isolation.step(dt, Volts(self.link_voltage));
    }

    /// The plant's time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The battery.
    pub fn battery(&self) -> &Battery {
        &self.battery
    }

    /// The power supply.
    pub fn power_supply(&self) -> &PowerSupply {
        &self.power_supply
    }

    /// The isolation monitor.
    pub fn isolation(&self) -> &IsolationMonitor {
        &self.isolation
    }

    /// The isolation monitor, to reset it for a new charging session.
    pub fn isolation_mut(&mut self) -> &mut IsolationMonitor {
        &mut self.isolation
    }

    /// The CP state the vehicle presents.
    pub fn cp_state(&self) -> CpState {
        self.cp
    }

    /// The voltage on the DC link (= the vehicle's inlet voltage = the charger's output).
    pub fn inlet_voltage(&self) -> Volts {
        Volts(self.link_voltage)
    }

    /// The current through the vehicle's inlet (zero with the contactors open).
    pub fn inlet_current(&self) -> Amps {
        if self.contactors.is_on() {
            self.power_supply.current()
        } else {
            Amps(0.0)
        }
    }

    /// Whether the vehicle's contactors are closed.
    pub fn contactors_closed(&self) -> bool {
        self.contactors.is_on()
    }

    /// Whether the connector is locked.
    pub fn locked(&self) -> bool {
        self.lock.is_on()
    }

    /// The voltage difference across the contactors when they last closed: a safety check for
    /// tests (precharge must have matched the battery voltage, DESIGN.md rule 5).
    pub fn last_contactor_close_step(&self) -> Option<Volts> {
        self.last_close_step
    }

    /// What the vehicle's hardware reports (BMS, inlet, contactor and lock feedback).
    pub fn vehicle_measurements(&self) -> Vec<Measurement> {
        let b = &self.battery;
        vec![
            Measurement::BatteryVoltage(Volts(self.battery_terminal_voltage())),
            Measurement::TargetVoltage(b.config().max_voltage),
            Measurement::TargetCurrent(b.requested_current()),
            Measurement::Soc(b.soc()),
            Measurement::InletVoltage(Volts(self.link_voltage)),
            Measurement::InletCurrent(self.inlet_current()),
            Measurement::ContactorsClosed(self.contactors.is_on()),
            Measurement::ConnectorLocked(self.lock.is_on()),
            Measurement::PluggedIn(true),
        ]
    }

    /// What the charger's hardware reports (power supply, isolation, user, authorization).
    pub fn charger_measurements(&self) -> Vec<Measurement> {
        let p = &self.power_supply;
        let authorized = self.now >= self.started + self.config.authorization_delay;
        vec![
            Measurement::PowerSupplyVoltage(p.voltage()),
            Measurement::PowerSupplyCurrent(p.current()),
            Measurement::PowerSupplyMaxVoltage(p.config().max_voltage),
            Measurement::PowerSupplyMaxCurrent(p.config().max_current),
            Measurement::PowerSupplyMaxPower(p.config().max_power),
            Measurement::Isolation(self.isolation.status()),
            Measurement::ChargingEnabled(self.charging_enabled),
            Measurement::Authorized(authorized),
        ]
    }

    fn battery_terminal_voltage(&self) -> f32 {
        let current = if self.contactors.is_on() {
            self.power_supply.current()
        } else {
            Amps(0.0)
        };
        self.battery.terminal_voltage(current).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccs_proto::hardware::{Amps, IsolationStatus, PowerSupplySetpoint};

    fn at(ms: i64) -> Instant {
        Instant::from_millis(ms)
    }

    fn psu(voltage: f32, current: f32) -> HardwareCommand {
        HardwareCommand::PowerSupply(PowerSupplySetpoint {
            enabled: true,
            voltage: Volts(voltage),
            current: Amps(current),
        })
    }

    /// A DC session's physical sequence: cable check, precharge, contactors, charging,
    /// stop, welding detection.
    #[test]
    fn a_whole_charge_is_physically_plausible() {
        let mut plant = DcPlant::new(PlantConfig::default(), at(0));
        let battery_v = plant.battery().open_circuit_voltage().0;

        // Cable check at 450 V: the monitor gives a verdict, nothing flows.
        plant.command(at(0), &HardwareCommand::ConnectorLock(LockRequest::Lock));
        plant.command(at(0), &psu(450.0, 2.0));
        plant.advance(at(4000));
        assert!(plant.locked());
        assert_eq!(plant.isolation().status(), IsolationStatus::Valid);
        assert!((plant.inlet_voltage().0 - 450.0).abs() < 0.01);
        assert_eq!(plant.power_supply().current(), Amps(0.0));

        // Precharge to the battery voltage.
        plant.command(at(4000), &psu(battery_v, 2.0));
        plant.advance(at(6000));
        assert!((plant.inlet_voltage().0 - battery_v).abs() < 0.5);

        // Contactors close with (almost) no step; current rises to the request.
        plant.command(
            at(6000),
            &HardwareCommand::Contactors(ContactorRequest::Closed),
        );
        plant.advance(at(6100));
        assert!(plant.contactors_closed());
        assert!(plant.last_contactor_close_step().unwrap().0 < 1.0);
        plant.command(at(6100), &psu(410.0, 100.0));
        let soc_before = plant.battery().soc();
        plant.advance(at(66_100));
        assert!((plant.power_supply().current().0 - 100.0).abs() < 0.01);
        assert!(plant.battery().soc() > soc_before);
        assert!(plant.inlet_voltage().0 > battery_v);

        // Stop: power supply off, current falls, contactors open, link bleeds down.
        plant.command(
            at(66_100),
            &HardwareCommand::PowerSupply(PowerSupplySetpoint::OFF),
        );
        plant.advance(at(68_000));
        assert_eq!(plant.power_supply().current(), Amps(0.0));
        plant.command(
            at(68_000),
            &HardwareCommand::Contactors(ContactorRequest::Open),
        );
        plant.advance(at(71_000));
        assert!(!plant.contactors_closed());
        assert!(plant.inlet_voltage().0 < 1.0);
    }

    #[test]
    fn constant_voltage_limits_current_near_the_target() {
        let mut plant = DcPlant::new(PlantConfig::default(), at(0));
        plant.command(
            at(0),
            &HardwareCommand::Contactors(ContactorRequest::Closed),
        );
        let ocv = plant.battery().open_circuit_voltage().0;
        // Target only 2 V above the OCV: R = 0.08 Ω allows 25 A, not the 100 A asked for.
        plant.command(at(100), &psu(ocv + 2.0, 100.0));
        plant.advance(at(3000));
        let i = plant.power_supply().current().0;
        assert!((i - 25.0).abs() < 0.5, "{i}");
    }

    #[test]
    fn leaving_state_c_trips_the_power_stage() {
        let mut plant = DcPlant::new(PlantConfig::default(), at(0));
        plant.command(at(0), &HardwareCommand::CpState(CpState::C));
        plant.command(
            at(0),
            &HardwareCommand::Contactors(ContactorRequest::Closed),
        );
        plant.command(at(100), &psu(410.0, 100.0));
        plant.advance(at(3000));
        assert!(plant.power_supply().current().0 > 99.0);
        // The car goes to B without any V2G message reaching the charger.
        plant.command(at(3000), &HardwareCommand::CpState(CpState::B));
        plant.advance(at(3100));
        assert_eq!(plant.power_supply().current(), Amps(0.0));
        assert!(!plant.power_supply().setpoint().enabled);
    }

    #[test]
    fn same_inputs_same_outputs() {
        let run = || {
            let mut p = DcPlant::new(PlantConfig::default(), at(0));
            p.command(
                at(0),
                &HardwareCommand::Contactors(ContactorRequest::Closed),
            );
            p.command(at(10), &psu(400.0, 80.0));
            p.advance(at(12_345));
            (p.vehicle_measurements(), p.charger_measurements())
        };
        assert_eq!(run(), run());
    }
}
