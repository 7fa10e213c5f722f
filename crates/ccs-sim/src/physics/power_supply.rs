//! A DC power supply with limits and slew rates; optionally able to sink power (for
//! bidirectional charging).

use ccs_proto::hardware::{Amps, PowerSupplySetpoint, Volts, Watts};
use ccs_proto::time::Duration;

/// The power supply's ratings and dynamics.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct PowerSupplyConfig {
    /// Highest output voltage.
    pub max_voltage: Volts,
    /// Lowest regulated output voltage.
    pub min_voltage: Volts,
    /// Highest output current.
    pub max_current: Amps,
    /// Highest output power.
    pub max_power: Watts,
    /// Highest current it can sink (≥ 0; 0 = cannot take power back).
    pub max_sink_current: Amps,
    /// How fast the output voltage follows its target, in V/s.
    pub voltage_slew_per_s: f32,
    /// How fast the output current follows its target, in A/s.
    pub current_slew_per_s: f32,
    /// How fast the current falls when the output is switched off while connected, in A/s.
    /// Chargers ramp down within about 100 ms (IEC 61851-23; the car opens its contactors
    /// 300 ms after CP state B at the latest, as ccs32clara does), much faster than they
    /// ramp up.
    pub shutdown_current_slew_per_s: f32,
}

impl Default for PowerSupplyConfig {
    /// A 50 kW, 500 V / 125 A charger module, unidirectional.
    fn default() -> Self {
        Self {
            max_voltage: Volts(500.0),
            min_voltage: Volts(150.0),
            max_current: Amps(125.0),
            max_power: Watts(50_000.0),
            max_sink_current: Amps(0.0),
            voltage_slew_per_s: 200.0,
            current_slew_per_s: 100.0,
            shutdown_current_slew_per_s: 2_000.0,
        }
    }
}

/// The power supply's state: its set-point and its present output.
#[derive(Clone, Debug, PartialEq)]
pub struct PowerSupply {
    config: PowerSupplyConfig,
    setpoint: PowerSupplySetpoint,
    voltage: f32,
    current: f32,
}

impl PowerSupply {
    /// A power supply that is off.
    pub fn new(config: PowerSupplyConfig) -> Self {
        Self {
            config,
            setpoint: PowerSupplySetpoint::OFF,
            voltage: 0.0,
            current: 0.0,
        }
    }

    /// The ratings.
    pub fn config(&self) -> &PowerSupplyConfig {
        &self.config
    }

    /// Takes a new set-point (clamped to the ratings when applied).
    pub fn set(&mut self, setpoint: PowerSupplySetpoint) {
        self.setpoint = setpoint;
    }

    /// The present set-point.
    pub fn setpoint(&self) -> PowerSupplySetpoint {
        self.setpoint
    }

    /// The present output voltage.
    pub fn voltage(&self) -> Volts {
        Volts(self.voltage)
    }

    /// The present output current (negative = sinking).
    pub fn current(&self) -> Amps {
        Amps(self.current)
    }

    /// The voltage the supply regulates to: the set-point within the ratings, 0 when off.
    pub fn target_voltage(&self) -> f32 {
        if !self.setpoint.enabled {
            return 0.0;
        }
        self.setpoint
            .voltage
            .0
            .clamp(0.0, self.config.max_voltage.0)
    }

    /// The current limit in force at the present voltage: set-point, rating and power limit;
    /// negative set-points are honoured down to the sink rating.
    pub fn current_limit(&self) -> f32 {
        if !self.setpoint.enabled {
            return 0.0;
        }
        let by_power = self.config.max_power.0 / self.voltage.max(1.0);
        let upper = self.config.max_current.0.min(by_power);
        self.setpoint
            .current
            .0
            .clamp(-self.config.max_sink_current.0, upper)
    }

    /// No load (DC link open at the car): the output voltage slews toward its target.
    pub(crate) fn step_open(&mut self, dt: Duration) {
        self.voltage = slew(
            self.voltage,
            self.target_voltage(),
            self.config.voltage_slew_per_s,
            dt,
        );
        self.current = slew(self.current, 0.0, self.config.current_slew_per_s, dt);
    }

    /// Connected to a battery: the current slews toward `wanted` (what the voltage
    /// regulation allows, computed by the caller) within the current limit; when sinking
    /// (negative limit) it slews toward the limit. The voltage is what the battery makes of it.
    pub(crate) fn step_connected(&mut self, dt: Duration, wanted: f32) {
        let limit = self.current_limit();
        let target = if limit >= 0.0 {
            wanted.clamp(0.0, limit)
        } else {
            limit
        };
        self.current = slew(self.current, target, self.config.current_slew_per_s, dt);
    }

    /// Off while connected: the current falls at the shutdown slew rate.
    pub(crate) fn step_off(&mut self, dt: Duration) {
        let rate = self
            .config
            .shutdown_current_slew_per_s
            .max(self.config.current_slew_per_s);
        self.current = slew(self.current, 0.0, rate, dt);
    }

    /// The output voltage is held by the battery while connected.
    pub(crate) fn hold_voltage(&mut self, link_voltage: f32) {
        self.voltage = link_voltage;
    }
}

/// Moves `from` toward `to` by at most `rate · dt`.
fn slew(from: f32, to: f32, rate_per_s: f32, dt: Duration) -> f32 {
    let step = rate_per_s * dt.as_secs_f64() as f32;
    if (to - from).abs() <= step {
        to
    } else if to > from {
        from + step
    } else {
        from - step
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_output_ramps_at_the_slew_rate_and_clamps_to_the_rating() {
        let mut p = PowerSupply::new(PowerSupplyConfig::default());
        p.set(PowerSupplySetpoint {
            enabled: true,
            voltage: Volts(900.0),
            current: Amps(2.0),
        });
        p.step_open(Duration::from_millis(500));
        assert_eq!(p.voltage(), Volts(100.0));
        p.step_open(Duration::from_secs(10));
        assert_eq!(p.voltage(), Volts(500.0));
        p.set(PowerSupplySetpoint::OFF);
        p.step_open(Duration::from_secs(1));
        assert_eq!(p.voltage(), Volts(300.0));
    }

    #[test]
    fn current_limit_respects_power_and_sink_rating() {
        let c = PowerSupplyConfig {
            max_sink_current: Amps(20.0),
            ..Default::default()
        };
        let mut p = PowerSupply::new(c);
        p.voltage = 500.0;
        p.set(PowerSupplySetpoint {
            enabled: true,
            voltage: Volts(500.0),
            current: Amps(200.0),
        });
        assert_eq!(p.current_limit(), 100.0); // 50 kW / 500 V
        p.set(PowerSupplySetpoint {
            enabled: true,
            voltage: Volts(500.0),
            current: Amps(-50.0),
        });
        assert_eq!(p.current_limit(), -20.0);
    }
}
