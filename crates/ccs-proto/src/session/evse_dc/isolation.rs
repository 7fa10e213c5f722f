//! The insulation of the DC circuit: the cable check before the contactors close and the
//! isolation monitor's verdict while the output may be live (IEC 61851-23).

use crate::hardware::IsolationStatus;
use crate::session::SessionError;
use crate::session::config::SeccConfig;
use crate::session::outbox::Outbox;
use crate::time::Instant;

/// One cable check (IEC 61851-23: the charger applies a test voltage and its insulation
/// monitor grades the DC circuit before the contactors close): when it started, the test
/// voltage commanded then, and since when the power supply has been measured at it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct CableCheck {
    since: Instant,
    test_voltage: f32,
    at_test_voltage_since: Option<Instant>,
}

/// Below this a cable check tests nothing: IEC 61851-23 treats up to 60 V DC as safe to
/// touch, and an insulation monitor grades the circuit at the charger's output voltage.
const MIN_TEST_VOLTAGE: f32 = 60.0;

impl CableCheck {
    /// A cable check that started at `now` (the first CableCheckReq), with the power supply
    /// commanded to `test_voltage`.
    pub(crate) fn start(now: Instant, test_voltage: f32) -> Self {
        Self {
            since: now,
            test_voltage,
            at_test_voltage_since: None,
        }
    }

    /// How far the measured output may be from the test voltage for the check to count: 5 %
    /// or 10 V, whichever is larger (our choice: a power supply regulating an open output
    /// lands well within it; one still ramping up does not).
    fn tolerance(&self) -> f32 {
        (0.05 * self.test_voltage).max(10.0)
    }

    /// Whether the check is finished. With an isolation monitor: a verdict (Valid, Warning,
    /// No_IMD) that arrived after the power supply was measured at the test voltage, with
    /// the output still there; a verdict from before (the previous session, or the output
    /// still ramping up) does not count, and a fresh Fault is an error. Without one:
    /// pyPLC's fixed cable check time.
    pub(crate) fn finished(
        &mut self,
        config: &SeccConfig,
        now: Instant,
        out: &Outbox,
    ) -> Result<bool, SessionError> {
        if !config.isolation_monitor {
            return Ok(now.saturating_duration_since(self.since) >= config.cable_check_duration);
        }
        let age = config.measurement_max_age;
        let isolation = &out.snapshot.isolation;
        if out.isolation_fault || isolation.fresh(now, age) == Ok(IsolationStatus::Fault) {
            return Err(SessionError::Physical(
                "isolation fault in CableCheck".into(),
            ));
        }
        if self.test_voltage < MIN_TEST_VOLTAGE {
            // A maximum of 0 V (the car's or a power supply's report) tests nothing; the
            // check stays Ongoing until the car gives up.
            return Ok(false);
        }
        // The output at the test voltage, measured after it was commanded.
        let voltage = &out.snapshot.power_supply_voltage;
        let at_test_voltage = match (voltage.fresh(now, age), voltage.updated_at()) {
            (Ok(u), Some(at))
                if at > self.since && (u.0 - self.test_voltage).abs() <= self.tolerance() =>
            {
                Some(at)
            }
            _ => None,
        };
        let Some(at) = at_test_voltage else {
            // Not (or no longer) at the test voltage: a later verdict must follow a new
            // measurement at it.
            self.at_test_voltage_since = None;
            return Ok(false);
        };
        let reached = *self.at_test_voltage_since.get_or_insert(at);
        Ok(matches!(
            (isolation.fresh(now, age), isolation.updated_at()),
            (
                Ok(IsolationStatus::Valid | IsolationStatus::Warning | IsolationStatus::NoImd),
                Some(verdict_at),
            ) if verdict_at >= reached && verdict_at > self.since
        ))
    }
}

/// The isolation status while the output may be live (after the cable check: PreCharge,
/// PowerDelivery, CurrentDemand), to be reported as EVSEIsolationStatus. With an isolation
/// monitor it is its latest verdict, which must be fresh (IEC 61851-23 asks the charger to
/// monitor the insulation during the whole energy transfer, not only in the cable check: a
/// monitor that fell silent monitors nothing). A `Fault`, or no verdict within
/// [`SeccConfig::measurement_max_age`], is an error: the caller switches the power supply off
/// at once and ends the session (DIN 70121 / ISO 15118-2: FAILED with EVSE_EmergencyShutdown).
/// Without a monitor (pyPLC's dummy cable check) the charger keeps reporting `Valid`, as
/// pyPLC does.
pub(crate) fn isolation_while_energized(
    config: &SeccConfig,
    now: Instant,
    out: &Outbox,
    step: &str,
) -> Result<IsolationStatus, SessionError> {
    if !config.isolation_monitor {
        return Ok(IsolationStatus::Valid);
    }
    if out.isolation_fault {
        return Err(SessionError::Physical(format!(
            "isolation fault in this session, seen before {step}"
        )));
    }
    match out
        .snapshot
        .isolation
        .fresh(now, config.measurement_max_age)
    {
        Ok(IsolationStatus::Fault) => {
            Err(SessionError::Physical(format!("isolation fault in {step}")))
        }
        Ok(status) => Ok(status),
        Err(e) => Err(SessionError::Physical(format!(
            "isolation not monitored in {step}: {e}"
        ))),
    }
}

/// Whether the energy transfer ended on an insulation fault the monitor reported, rather than
/// on a monitor that fell silent: the car is told `Fault` with EVSE_EmergencyShutdown for the
/// first, `Invalid` (the insulation is unknown, not faulty) with EVSE_Malfunction for the
/// second (DIN 70121 / ISO 15118-2 isolationLevelType, DC_EVSEStatusCodeType).
pub(crate) fn isolation_faulted(out: &Outbox) -> bool {
    out.isolation_fault || out.snapshot.isolation.value() == Some(IsolationStatus::Fault)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::{Measurement, Volts};

    #[test]
    fn an_isolation_fault_while_energized_is_an_error_only_with_a_monitor() {
        let mut config = SeccConfig::default();
        let mut out = Outbox::new();
        let t0 = Instant::from_millis(1_000);
        let energized = |config: &SeccConfig, out: &Outbox, step| {
            isolation_while_energized(config, t0, out, step)
        };
        out.snapshot
            .apply(t0, Measurement::Isolation(IsolationStatus::Warning));
        assert_eq!(
            energized(&config, &out, "PreCharge").ok(),
            Some(IsolationStatus::Warning)
        );
        out.snapshot
            .apply(t0, Measurement::Isolation(IsolationStatus::Fault));
        assert!(matches!(
            energized(&config, &out, "CurrentDemand"),
            Err(SessionError::Physical(_))
        ));
        config.isolation_monitor = false;
        assert_eq!(
            energized(&config, &out, "CurrentDemand").ok(),
            Some(IsolationStatus::Valid)
        );
    }

    /// A monitor that fell silent after the cable check monitors nothing: its last Valid must
    /// not carry the charge on (it used to, for as long as the car stayed).
    #[test]
    fn a_silent_isolation_monitor_ends_the_energy_transfer() {
        let config = SeccConfig::default();
        let mut out = Outbox::new();
        let t0 = Instant::from_millis(1_000);
        let missing = isolation_while_energized(&config, t0, &out, "PreCharge");
        assert!(
            matches!(missing, Err(SessionError::Physical(_))),
            "{missing:?}"
        );
        out.snapshot
            .apply(t0, Measurement::Isolation(IsolationStatus::Valid));
        let within = t0 + config.measurement_max_age;
        assert_eq!(
            isolation_while_energized(&config, within, &out, "CurrentDemand"),
            Ok(IsolationStatus::Valid)
        );
        let after = within + crate::time::Duration::from_millis(1);
        let Err(SessionError::Physical(why)) =
            isolation_while_energized(&config, after, &out, "CurrentDemand")
        else {
            panic!("a stale verdict was accepted");
        };
        assert!(
            why.starts_with("isolation not monitored in CurrentDemand"),
            "{why}"
        );
    }

    #[test]
    fn a_cable_check_needs_a_verdict_that_follows_the_test_voltage() {
        let config = SeccConfig::default();
        let mut out = Outbox::new();
        let at = Instant::from_millis;
        // A Valid verdict from before the cable check (the previous session, an output that
        // was never energized) and the output still at 0 V.
        out.snapshot
            .apply(at(900), Measurement::Isolation(IsolationStatus::Valid));
        out.snapshot
            .apply(at(1_000), Measurement::PowerSupplyVoltage(Volts(0.0)));
        let mut check = CableCheck::start(at(1_000), 400.0);
        assert_eq!(check.finished(&config, at(1_000), &out), Ok(false));
        // Still ramping up: the verdict does not count.
        out.snapshot
            .apply(at(1_500), Measurement::PowerSupplyVoltage(Volts(200.0)));
        out.snapshot
            .apply(at(1_500), Measurement::Isolation(IsolationStatus::Valid));
        assert_eq!(check.finished(&config, at(1_500), &out), Ok(false));
        // At the test voltage, but the verdict is older than that measurement.
        out.snapshot
            .apply(at(2_000), Measurement::PowerSupplyVoltage(Volts(398.0)));
        assert_eq!(check.finished(&config, at(2_000), &out), Ok(false));
        // A verdict after the output reached the test voltage.
        out.snapshot
            .apply(at(2_500), Measurement::PowerSupplyVoltage(Volts(399.0)));
        out.snapshot
            .apply(at(2_500), Measurement::Isolation(IsolationStatus::Valid));
        assert_eq!(check.finished(&config, at(2_500), &out), Ok(true));
        // The output collapsed: no longer finished.
        out.snapshot
            .apply(at(3_000), Measurement::PowerSupplyVoltage(Volts(100.0)));
        assert_eq!(check.finished(&config, at(3_000), &out), Ok(false));
        // A fresh fault is an error whatever the voltage.
        out.snapshot
            .apply(at(3_000), Measurement::Isolation(IsolationStatus::Fault));
        assert!(check.finished(&config, at(3_000), &out).is_err());
    }

    #[test]
    fn a_test_voltage_of_0_v_never_finishes_the_cable_check() {
        let config = SeccConfig::default();
        let mut out = Outbox::new();
        let at = Instant::from_millis;
        let mut check = CableCheck::start(at(1_000), 0.0);
        out.snapshot
            .apply(at(1_500), Measurement::PowerSupplyVoltage(Volts(0.0)));
        out.snapshot
            .apply(at(1_500), Measurement::Isolation(IsolationStatus::Valid));
        assert_eq!(check.finished(&config, at(1_500), &out), Ok(false));
    }

    #[test]
    fn without_a_monitor_the_cable_check_takes_its_fixed_time() {
        let config = SeccConfig {
            isolation_monitor: false,
            ..SeccConfig::default()
        };
        let out = Outbox::new();
        let start = Instant::from_millis(1_000);
        let mut check = CableCheck::start(start, 400.0);
        assert_eq!(check.finished(&config, start, &out), Ok(false));
        let later = start + config.cable_check_duration;
        assert_eq!(check.finished(&config, later, &out), Ok(true));
    }
}
