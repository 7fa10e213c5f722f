//! An insulation monitoring device (IMD) on the charger's DC output, as IEC 61851-23 asks
//! for: it measures while voltage is applied (cable check) and grades the insulation
//! resistance per volt of the charger's rated voltage.

use ccs_proto::hardware::{IsolationStatus, Volts};
use ccs_proto::time::Duration;

/// The simulated insulation and the monitor's behaviour.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct IsolationConfig {
    /// The insulation resistance of the DC circuit, in ohms.
    pub resistance_ohm: f32,
    /// The output voltage from which the monitor can measure.
    pub min_test_voltage: Volts,
    /// How long the voltage must be applied for a verdict.
    pub measure_time: Duration,
    /// The rated voltage the Ω/V grading refers to.
    pub rated_voltage: Volts,
}

impl Default for IsolationConfig {
    /// A healthy 10 MΩ circuit measured in 1 s above 100 V.
    fn default() -> Self {
        Self {
            resistance_ohm: 10e6,
            min_test_voltage: Volts(100.0),
            measure_time: Duration::from_secs(1),
            rated_voltage: Volts(500.0),
        }
    }
}

/// The monitor's state.
#[derive(Clone, Debug, PartialEq)]
pub struct IsolationMonitor {
    config: IsolationConfig,
    measured_for: Duration,
    status: IsolationStatus,
}

impl IsolationMonitor {
    /// A monitor with no verdict yet.
    pub fn new(config: IsolationConfig) -> Self {
        Self {
            config,
            measured_for: Duration::ZERO,
            status: IsolationStatus::Invalid,
        }
    }

    /// The verdict so far: `Invalid` until measured, then `Valid` above 500 Ω/V, `Warning`
    /// above 100 Ω/V, else `Fault` (IEC 61851-23 thresholds).
    pub fn status(&self) -> IsolationStatus {
        self.status
    }

    /// Forgets the verdict (a new charging session).
    pub fn reset(&mut self) {
        self.measured_for = Duration::ZERO;
        self.status = IsolationStatus::Invalid;
    }

    pub(crate) fn step(&mut self, dt: Duration, output_voltage: Volts) {
        if output_voltage.0 < self.config.min_test_voltage.0 {
            return;
        }
        self.measured_for = self.measured_for + dt;
        if self.measured_for >= self.config.measure_time {
            let ohm_per_volt = self.config.resistance_ohm / self.config.rated_voltage.0.max(1.0);
            self.status = if ohm_per_volt > 500.0 {
                IsolationStatus::Valid
            } else if ohm_per_volt > 100.0 {
                IsolationStatus::Warning
            } else {
                IsolationStatus::Fault
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_needs_voltage_for_the_measure_time() {
        let mut m = IsolationMonitor::new(IsolationConfig::default());
        m.step(Duration::from_secs(5), Volts(50.0));
        assert_eq!(m.status(), IsolationStatus::Invalid);
        m.step(Duration::from_millis(600), Volts(400.0));
        assert_eq!(m.status(), IsolationStatus::Invalid);
        m.step(Duration::from_millis(400), Volts(400.0));
        assert_eq!(m.status(), IsolationStatus::Valid);
        m.reset();
        assert_eq!(m.status(), IsolationStatus::Invalid);
    }

    #[test]
    fn low_resistance_is_a_fault() {
        let c = IsolationConfig {
            resistance_ohm: 20_000.0, // 40 Ω/V at 500 V
            ..Default::default()
        };
        let mut m = IsolationMonitor::new(c);
        m.step(Duration::from_secs(2), Volts(400.0));
        assert_eq!(m.status(), IsolationStatus::Fault);
    }
}
