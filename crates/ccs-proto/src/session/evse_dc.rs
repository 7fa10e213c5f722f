//! The charger's DC power path, shared by every protocol's SECC: the limits it announces, the
//! power supply set-points, the cable check verdict and the present output (measured, or
//! simulated as pyPLC's `evse_simulate_precharge` does).

use crate::hardware::{
    Amps, HardwareCommand, HardwareFault, HardwareFaultKind, IsolationStatus, PowerSupplySetpoint,
    Volts,
};
use crate::session::SessionError;
use crate::session::config::SeccConfig;
use crate::session::outbox::Outbox;
use crate::time::Instant;

/// The charger's DC limits right now: the configured ones, overridden by the power supply's
/// own `PowerSupplyMax*` readings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct DcLimits {
    pub(crate) max_voltage: f32,
    pub(crate) max_current: f32,
    pub(crate) max_power: f32,
    pub(crate) min_voltage: f32,
    pub(crate) min_current: f32,
    pub(crate) current_regulation_tolerance: f32,
    pub(crate) peak_current_ripple: f32,
}

/// The limits of `config`, overridden by the power supply's own maxima once it has reported
/// them. A maximum does not expire: a power supply that said 125 A once (MQTT
/// `charger_max_current` is published on change) must not be announced with the configured
/// 200 A a few seconds later. A power supply that went silent is a stale-input fault of its
/// present values instead.
pub(crate) fn limits(config: &SeccConfig, _now: Instant, out: &Outbox) -> DcLimits {
    let l = &config.limits;
    let s = &out.snapshot;
    DcLimits {
        max_current: s
            .power_supply_max_current
            .value()
            .map_or(l.max_current.0, |a| a.0),
        max_power: s
            .power_supply_max_power
            .value()
            .map_or(l.max_power.0, |w| w.0),
        max_voltage: s
            .power_supply_max_voltage
            .value()
            .map_or(l.max_voltage.0, |v| v.0),
        min_current: l.min_current.0,
        min_voltage: l.min_voltage.0,
        current_regulation_tolerance: l.current_regulation_tolerance.0,
        peak_current_ripple: l.peak_current_ripple.0,
    }
}

/// Turns the power supply on at `voltage` with current limit `current`.
pub(crate) fn set_supply(out: &mut Outbox, voltage: f32, current: f32) {
    out.command(HardwareCommand::PowerSupply(PowerSupplySetpoint {
        enabled: true,
        voltage: Volts(voltage),
        current: Amps(current),
    }));
}

/// Turns the power supply off.
pub(crate) fn supply_off(out: &mut Outbox) {
    out.command(HardwareCommand::PowerSupply(PowerSupplySetpoint::OFF));
}

/// Whether the cable check started at `since` is finished: the isolation monitor's verdict,
/// or (without one) pyPLC's fixed cable check time. A fault is an error.
pub(crate) fn cable_check_finished(
    config: &SeccConfig,
    now: Instant,
    out: &Outbox,
    since: Instant,
) -> Result<bool, SessionError> {
    if !config.isolation_monitor {
        return Ok(now.saturating_duration_since(since) >= config.cable_check_duration);
    }
    match out
        .snapshot
        .isolation
        .fresh(now, config.measurement_max_age)
    {
        Ok(IsolationStatus::Valid | IsolationStatus::Warning | IsolationStatus::NoImd) => Ok(true),
        Ok(IsolationStatus::Fault) => Err(SessionError::Physical(
            "isolation fault in CableCheck".into(),
        )),
        _ => Ok(false),
    }
}

/// The present output: measured, or simulated (pyPLC `evse_simulate_precharge`).
#[derive(Clone, Debug, Default)]
pub(crate) struct EvseOutput {
    simulated_voltage: f32,
    simulated_at: Option<Instant>,
}

impl EvseOutput {
    /// The present voltage and current; `simulated_target` is where a simulated voltage moves.
    pub(crate) fn read(
        &mut self,
        config: &SeccConfig,
        now: Instant,
        out: &Outbox,
        simulated_target: f32,
    ) -> Result<(f32, f32), SessionError> {
        if config.evse_simulate_precharge {
            // pyPLC: start at half the target, then rise towards it (≈66 V/s); the output
            // falls faster once switched off (WeldingDetection).
            let dt = self.simulated_at.map_or(0.0, |at| {
                now.saturating_duration_since(at).as_secs_f64() as f32
            });
            if self.simulated_at.is_none() {
                self.simulated_voltage = simulated_target / 2.0;
            }
            self.simulated_at = Some(now);
            let v = self.simulated_voltage;
            self.simulated_voltage = if v < simulated_target {
                (v + 66.0 * dt).min(simulated_target)
            } else {
                (v - 400.0 * dt).max(simulated_target)
            };
            let current = out
                .snapshot
                .power_supply_current
                .value()
                .map_or(0.0, |a| a.0);
            return Ok((self.simulated_voltage, current));
        }
        let age = config.measurement_max_age;
        let hw = |e: crate::hardware::ReadingError| {
            SessionError::Hardware(HardwareFault {
                adapter: "session".into(),
                kind: HardwareFaultKind::Device(e.to_string()),
            })
        };
        let u = out
            .snapshot
            .power_supply_voltage
            .fresh(now, age)
            .map_err(hw)?;
        let i = out
            .snapshot
            .power_supply_current
            .fresh(now, age)
            .map_err(hw)?;
        Ok((u.0, i.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::Measurement;

    #[test]
    fn power_supply_maxima_replace_the_configured_ones_and_do_not_expire() {
        let config = SeccConfig::default();
        let mut out = Outbox::new();
        let t0 = Instant::from_millis(1_000);
        assert_eq!(
            limits(&config, t0, &out).max_current,
            config.limits.max_current.0
        );
        out.snapshot
            .apply(t0, Measurement::PowerSupplyMaxCurrent(Amps(125.0)));
        out.snapshot
            .apply(t0, Measurement::PowerSupplyMaxVoltage(Volts(500.0)));
        let much_later = Instant::from_millis(3_600_000);
        let l = limits(&config, much_later, &out);
        assert_eq!((l.max_current, l.max_voltage), (125.0, 500.0));
        assert_eq!(l.max_power, config.limits.max_power.0);
    }
}
