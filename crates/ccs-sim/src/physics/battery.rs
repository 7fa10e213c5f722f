//! A traction battery: capacity, state of charge, an open-circuit voltage curve, internal
//! resistance and a BMS that asks for less current as the battery fills.

use ccs_proto::hardware::{Amps, Percent, Volts, WattHours};
use ccs_proto::time::Duration;

/// The battery and its BMS policy.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct BatteryConfig {
    /// Usable energy from 0 % to 100 %.
    pub capacity: WattHours,
    /// Open-circuit voltage when empty.
    pub empty_voltage: Volts,
    /// Open-circuit voltage when full.
    pub full_voltage: Volts,
    /// Internal resistance in ohms (terminal voltage = OCV + R·I).
    pub internal_resistance_ohm: f32,
    /// The most current the BMS asks for.
    pub max_charge_current: Amps,
    /// The BMS's target / maximum voltage (EVTargetVoltage, EVMaximumVoltageLimit).
    pub max_voltage: Volts,
    /// Above this SoC the requested current falls linearly to `min_charge_current` at 100 %.
    pub taper_start: Percent,
    /// The current asked for just below full.
    pub min_charge_current: Amps,
    /// At this SoC the BMS considers the battery full and asks for nothing.
    pub full_soc: Percent,
}

impl Default for BatteryConfig {
    /// A 400 V class car with a 60 kWh battery, 125 A.
    fn default() -> Self {
        Self {
            capacity: WattHours(60_000.0),
            empty_voltage: Volts(320.0),
            full_voltage: Volts(400.0),
            internal_resistance_ohm: 0.08,
            max_charge_current: Amps(125.0),
            max_voltage: Volts(410.0),
            taper_start: Percent(80.0),
            min_charge_current: Amps(5.0),
            full_soc: Percent(100.0),
        }
    }
}

/// The battery's state.
#[derive(Clone, Debug, PartialEq)]
pub struct Battery {
    config: BatteryConfig,
    soc: f64,
}

impl Battery {
    /// A battery at `soc`.
    pub fn new(config: BatteryConfig, soc: Percent) -> Self {
        Self {
            config,
            soc: f64::from(soc.0.clamp(0.0, 100.0)),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &BatteryConfig {
        &self.config
    }

    /// The state of charge.
    pub fn soc(&self) -> Percent {
        Percent(self.soc as f32)
    }

    /// The open-circuit voltage at the present SoC: monotonic, steeper near full
    /// (`x` = SoC / 100: OCV = empty + (full − empty)·(0.85·x + 0.15·x³)).
    pub fn open_circuit_voltage(&self) -> Volts {
        let x = (self.soc / 100.0) as f32;
        let (e, f) = (self.config.empty_voltage.0, self.config.full_voltage.0);
        Volts(e + (f - e) * (0.85 * x + 0.15 * x * x * x))
    }

    /// The terminal voltage while `current` flows into the battery.
    pub fn terminal_voltage(&self, current: Amps) -> Volts {
        Volts(self.open_circuit_voltage().0 + self.config.internal_resistance_ohm * current.0)
    }

    /// Whether the BMS considers the battery full.
    pub fn is_full(&self) -> bool {
        self.soc >= f64::from(self.config.full_soc.0)
    }

    /// The current the BMS asks for (EVTargetCurrent): the maximum up to the taper start,
    /// then falling linearly to the minimum at 100 %, nothing when full.
    pub fn requested_current(&self) -> Amps {
        let c = &self.config;
        if self.is_full() {
            return Amps(0.0);
        }
        let soc = self.soc as f32;
        if soc <= c.taper_start.0 {
            return c.max_charge_current;
        }
        let span = (100.0 - c.taper_start.0).max(f32::EPSILON);
        let fraction = ((100.0 - soc) / span).clamp(0.0, 1.0);
        Amps(c.min_charge_current.0 + (c.max_charge_current.0 - c.min_charge_current.0) * fraction)
    }

    /// Lets `current` flow for `dt` (negative = discharge).
    pub fn integrate(&mut self, current: Amps, dt: Duration) {
        let power_w = f64::from(self.terminal_voltage(current).0) * f64::from(current.0);
        let energy_wh = power_w * dt.as_secs_f64() / 3600.0;
        let capacity = f64::from(self.config.capacity.0).max(1.0);
        self.soc = (self.soc + energy_wh / capacity * 100.0).clamp(0.0, 100.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voltage_rises_with_soc_between_empty_and_full() {
        let c = BatteryConfig::default();
        let at = |soc| Battery::new(c.clone(), Percent(soc)).open_circuit_voltage();
        assert_eq!(at(0.0), c.empty_voltage);
        assert_eq!(at(100.0), c.full_voltage);
        assert!(at(30.0) < at(60.0) && at(60.0) < at(90.0));
        let b = Battery::new(c.clone(), Percent(50.0));
        assert!(b.terminal_voltage(Amps(100.0)) > b.open_circuit_voltage());
    }

    #[test]
    fn energy_in_raises_soc_by_energy_over_capacity() {
        let c = BatteryConfig {
            internal_resistance_ohm: 0.0,
            empty_voltage: Volts(400.0),
            full_voltage: Volts(400.0),
            ..Default::default()
        };
        let mut b = Battery::new(c, Percent(50.0));
        // 400 V · 150 A · 1 h = 60 kWh = the whole capacity; a tenth of an hour = 10 %.
        b.integrate(Amps(150.0), Duration::from_secs(360));
        assert!((b.soc().0 - 60.0).abs() < 1e-3, "{}", b.soc());
        b.integrate(Amps(-150.0), Duration::from_secs(720));
        assert!((b.soc().0 - 40.0).abs() < 1e-3, "{}", b.soc());
    }

    #[test]
    fn bms_tapers_and_stops_when_full() {
        let c = BatteryConfig::default();
        let req = |soc| Battery::new(c.clone(), Percent(soc)).requested_current();
        assert_eq!(req(50.0), Amps(125.0));
        assert_eq!(req(90.0), Amps(65.0));
        assert_eq!(req(100.0), Amps(0.0));
    }
}
