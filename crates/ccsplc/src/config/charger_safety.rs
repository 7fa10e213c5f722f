//! What `ccsplc evse` refuses or warns about before it serves a car: settings that would make
//! the charger tell the car something it did not measure. Checked for the charger only: a
//! pyPlc.ini carries the charger's keys in car mode too.
//!
//! - `charging.evse_simulate_precharge` with a real power supply: the car would close its
//!   contactors onto a simulated voltage and, after the stop, be told the output is below
//!   60 V while it may be live. Refused in TOML; in a pyPlc.ini (pyPLC's template says `yes`,
//!   and pyPLC exits on a missing key, so nearly every pyPlc.ini sets it) ignored with a
//!   warning: the measurement is reported.
//! - `charging.isolation_monitor` with a real power supply but no input that reports the
//!   monitor's verdict: CableCheck could never finish. Refused.
//! - CableCheck without an isolation monitor (turned off, or pyPLC's dummy power supply): the
//!   car is told isolation `Valid` without a measurement. A warning at every start.
//! - A TOML file with MQTT but no `charge_parameter_backend = "mqtt"`: MQTT then neither sets
//!   nor reads a power supply (as in pyPLC), and the output would be simulated by default.
//!   Before, any MQTT device made MQTT the power supply; such a file would now leave the power
//!   supply without set-points while the car is told the output is there. Refused unless
//!   `evse_simulate_precharge` says so explicitly.

use super::error::{ConfigError, Warning};
use super::{Format, Loaded, Origin};

impl Loaded {
    /// The charger's safety checks: an error for a setting that must not be used with this
    /// hardware, else the warnings to show at start.
    pub(crate) fn check_charger(&self) -> Result<Vec<Warning>, ConfigError> {
        let c = &self.config;
        let path = self.path.clone().unwrap_or_default();
        let mut warnings = Vec::new();
        let file_line = |section, key| match self.origin(section, key) {
            Origin::File { line, key, value } => Some((*line, key.clone(), value.clone())),
            Origin::Default | Origin::CommandLine { .. } => None,
        };
        let real_supply = c.real_power_supply();

        if real_supply
            && c.charging.evse_simulate_precharge
            && let Some((line, key, value)) = file_line("charging", "evse_simulate_precharge")
        {
            let why = "with a real power supply (MQTT or a mapped CAN power supply) the charger \
                       reports the measured output voltage; a simulated one would let the car \
                       close its contactors onto a voltage that may not be there, and tell it \
                       the output is off while it may be live";
            if self.format == Some(Format::PyPlcIni) {
                warnings.push(Warning {
                    path: path.clone(),
                    line: Some(line),
                    message: format!("{key} = {value} is ignored: {why}"),
                });
            } else {
                return Err(ConfigError::InvalidValue {
                    path,
                    line: Some(line),
                    key,
                    value,
                    allowed: format!("false: {why}"),
                });
            }
        }

        if self.format != Some(Format::PyPlcIni)
            && c.uses_mqtt()
            && !real_supply
            && c.charging.evse_simulate_precharge
            && file_line("charging", "evse_simulate_precharge").is_none()
        {
            return Err(ConfigError::InvalidValue {
                path,
                line: file_line("hardware", "charge_parameter_backend").map(|(line, _, _)| line),
                key: "hardware.charge_parameter_backend".to_owned(),
                value: format!("{:?}", c.hardware.charge_parameter_backend).to_lowercase(),
                allowed: "\"mqtt\" for a power supply on MQTT (set-points `target_*`, \
                          measurements `charger_*`); without one, MQTT only publishes the state \
                          and the output voltage is simulated: say so with \
                          charging.evse_simulate_precharge = true"
                    .to_owned(),
            });
        }

        if real_supply && c.charging.isolation_monitor && !c.has_isolation_input() {
            let (line, key, value) = file_line("charging", "isolation_monitor").map_or_else(
                || {
                    (
                        None,
                        "charging.isolation_monitor (default)".to_owned(),
                        "true".to_owned(),
                    )
                },
                |(line, key, value)| (Some(line), key, value),
            );
            return Err(ConfigError::InvalidValue {
                path,
                line,
                key,
                value,
                allowed: "an isolation monitor input for CableCheck: can_inputs.isolation or \
                          MQTT (topic `isolation`); or, only for a charger without an \
                          isolation monitor, charging.isolation_monitor = false"
                    .to_owned(),
            });
        }

        if !c.monitors_isolation() {
            let reason = if c.charging.isolation_monitor {
                "no adapter reports one (no power-supply adapter: pyPLC's dummy power supply)"
            } else {
                "charging.isolation_monitor = false"
            };
            warnings.push(Warning {
                path: path.clone(),
                line: file_line("charging", "isolation_monitor").map(|(line, _, _)| line),
                message: format!(
                    "isolation is NOT monitored ({reason}): CableCheck tells the car isolation \
                     `Valid` after 0.5 s without any measurement"
                ),
            });
        }
        if c.simulates_charger_output() && !c.simulated_hardware() {
            warnings.push(Warning {
                path,
                line: file_line("charging", "evse_simulate_precharge").map(|(line, _, _)| line),
                message: "no power-supply adapter: the output voltage reported to the car is \
                          simulated (evse_simulate_precharge); nothing may power the DC output \
                          outside ccsplc"
                    .to_owned(),
            });
        }
        Ok(warnings)
    }
}
