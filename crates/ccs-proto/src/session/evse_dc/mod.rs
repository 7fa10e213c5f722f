//! The charger's DC power path, shared by every protocol's SECC: the limits it announces, the
//! power supply set-points, the cable check verdict and the present output (measured, or
//! simulated as pyPLC's `evse_simulate_precharge` does).

mod isolation;
mod limits;

pub(crate) use isolation::{CableCheck, isolation_faulted, isolation_while_energized};
pub(crate) use limits::{
    DcLimits, EvLimits, PRE_CHARGE_MAX_CURRENT, configured, demand_setpoint, ev_value, limits,
    pre_charge_setpoint,
};

use crate::hardware::{
    Amps, HardwareCommand, HardwareFault, HardwareFaultKind, PowerSupplySetpoint, Volts,
};
use crate::session::SessionError;
use crate::session::config::SeccConfig;
use crate::session::outbox::Outbox;
use crate::time::Instant;

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

/// The power supply's output voltage if measured within `measurement_max_age`, for the power
/// limit of [`demand_setpoint`]: an old low reading would raise the current.
pub(crate) fn fresh_output_voltage(config: &SeccConfig, now: Instant, out: &Outbox) -> Option<f32> {
    out.snapshot
        .power_supply_voltage
        .fresh(now, config.measurement_max_age)
        .ok()
        .map(|u| u.0)
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
