//! The values the car's requests carry (SoC, battery voltage, targets): from the hardware
//! snapshot, or pyPLC's configured fallbacks where nothing measures them.

use super::InletAgreement;
use crate::hardware::{HardwareFault, HardwareFaultKind};
use crate::session::SessionError;
use crate::session::config::EvccConfig;
use crate::session::outbox::Outbox;
use crate::time::Instant;

/// The readings the car's requests carry, from the hardware snapshot or the configured
/// fallbacks.
pub(crate) struct EvReadings<'a> {
    /// The session's configuration.
    pub(crate) config: &'a EvccConfig,
    /// pyPLC `soc_simulation`: the simulated SoC.
    pub(crate) simulated_soc: f32,
}

impl EvReadings<'_> {
    /// The SoC to report (percent, rounded).
    pub(crate) fn soc(&self, now: Instant, out: &Outbox) -> Result<u8, SessionError> {
        match out.snapshot.soc.fresh(now, self.config.measurement_max_age) {
            Ok(soc) => Ok(soc.0.clamp(0.0, 100.0).round() as u8),
            Err(_) if self.config.soc_simulation => {
                Ok(self.simulated_soc.clamp(0.0, 100.0).round() as u8)
            }
            Err(e) => Err(SessionError::Hardware(HardwareFault {
                adapter: "session".into(),
                kind: HardwareFaultKind::Device(e.to_string()),
            })),
        }
    }

    /// The battery voltage (PreCharge target), measured or the configured fallback.
    pub(crate) fn battery_voltage(&self, now: Instant, out: &Outbox) -> Result<f32, SessionError> {
        match out
            .snapshot
            .battery_voltage
            .fresh(now, self.config.measurement_max_age)
        {
            Ok(v) => Ok(v.0),
            Err(e) => self
                .config
                .fallback_battery_voltage
                .map(|v| v.0)
                .ok_or_else(|| SessionError::Physical(format!("battery voltage: {e}"))),
        }
    }

    /// EVTargetVoltage and EVTargetCurrent: the BMS's, else the configured ones, capped by
    /// the car's maxima.
    pub(crate) fn target(&self, now: Instant, out: &Outbox) -> (f32, f32) {
        let max_age = self.config.measurement_max_age;
        let u = out
            .snapshot
            .target_voltage
            .fresh(now, max_age)
            .map_or(self.config.charge_target_voltage.0, |v| v.0);
        let i = out
            .snapshot
            .target_current
            .fresh(now, max_age)
            .map_or(self.config.charge_target_current.0, |a| a.0);
        (
            u.min(self.config.ev.max_voltage.0),
            i.min(self.config.ev.max_current.0),
        )
    }

    /// The charger's voltage that decides the end of PreCharge (reported or measured).
    pub(crate) fn precharge_voltage(
        &self,
        now: Instant,
        out: &Outbox,
        reported: f32,
    ) -> Result<f32, SessionError> {
        match self.config.precharge_voltage_source {
            crate::session::PrechargeVoltageSource::EvsePresentVoltage => Ok(reported),
            crate::session::PrechargeVoltageSource::InletVoltage => out
                .snapshot
                .inlet_voltage
                .fresh(now, self.config.measurement_max_age)
                .map(|v| v.0)
                .map_err(|e| SessionError::Physical(e.to_string())),
        }
    }

    /// Whether PreCharge is done: |U_charger − U_battery| below pyPLC's
    /// `u_delta_max_for_end_of_precharge`, and the car's own inlet measurement (if any)
    /// agrees with the charger's report at this moment: the contactors never close while the
    /// two disagree, however briefly, nor while the car's reading is stale
    /// ([`InletPlausibility::check`] decides `inlet`).
    pub(crate) fn precharge_matched(
        &self,
        now: Instant,
        out: &Outbox,
        reported: f32,
        inlet: InletAgreement,
    ) -> Result<bool, SessionError> {
        if !inlet.allows_closing() {
            return Ok(false);
        }
        let charger = self.precharge_voltage(now, out, reported)?;
        let battery = self.battery_voltage(now, out)?;
        Ok((charger - battery).abs() < self.config.u_delta_max_for_end_of_precharge.0)
    }
}
