//! ccs32clara's inlet voltage plausibility check: the car's inlet measurement against the
//! charger's EVSEPresentVoltage.

use crate::session::SessionError;
use crate::session::config::EvccConfig;
use crate::session::outbox::Outbox;
use crate::time::Instant;

/// What the car's inlet measurement says about the charger's EVSEPresentVoltage.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum InletAgreement {
    /// Within [`EvccConfig::inlet_voltage_plausibility_tolerance`].
    Agrees,
    /// No inlet measurement at all, or the check is disabled: the charger's report is all
    /// the car has (pyPLC's default).
    Unchecked,
    /// Outside the tolerance, but not yet for [`EvccConfig::inlet_voltage_deviation_debounce`].
    Deviates,
    /// The car measures its inlet but has no fresh reading: no agreement either, so the
    /// contactors stay open (the PreCharge timeout ends a lasting one); a deviation seen
    /// before keeps its debounce time running.
    Stale,
}

impl InletAgreement {
    /// Whether the contactors may close on this (with the voltages matched).
    pub(crate) fn allows_closing(self) -> bool {
        matches!(self, Self::Agrees | Self::Unchecked)
    }
}

/// ccs32clara's inlet voltage plausibility check (`hwif_inletvoltage.cpp`, its issue #52):
/// the measured inlet voltage against the charger's EVSEPresentVoltage, debounced because the
/// two are sampled at different times (the charger before it answers, the car when the answer
/// arrives) and the voltage may be slewing in between. A deviation is an error only when it
/// outlasts [`EvccConfig::inlet_voltage_deviation_debounce`]; until then it only holds back
/// the end of PreCharge ([`EvReadings::precharge_matched`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct InletPlausibility {
    deviating_since: Option<Instant>,
}

impl InletPlausibility {
    /// Compares a response's EVSEPresentVoltage `reported` with the inlet measurement.
    pub(crate) fn check(
        &mut self,
        now: Instant,
        out: &Outbox,
        config: &EvccConfig,
        reported: f32,
    ) -> Result<InletAgreement, SessionError> {
        let Some(tolerance) = config.inlet_voltage_plausibility_tolerance else {
            return Ok(InletAgreement::Unchecked);
        };
        let reading = &out.snapshot.inlet_voltage;
        if reading.updated_at().is_none() {
            return Ok(InletAgreement::Unchecked);
        }
        let Ok(inlet) = reading.fresh(now, config.measurement_max_age) else {
            return Ok(InletAgreement::Stale);
        };
        if (inlet.0 - reported).abs() <= tolerance.0 {
            self.deviating_since = None;
            return Ok(InletAgreement::Agrees);
        }
        let since = *self.deviating_since.get_or_insert(now);
        let lasted = now.saturating_duration_since(since);
        if lasted >= config.inlet_voltage_deviation_debounce {
            return Err(SessionError::Physical(format!(
                "inlet voltage {inlet} disagrees with EVSEPresentVoltage {reported:.1} V by more \
                 than {tolerance} for {} ms",
                lasted.total_millis()
            )));
        }
        Ok(InletAgreement::Deviates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::Measurement;
    use crate::session::ev_dc::EvReadings;
    use crate::time::Duration;

    fn inlet_at(out: &mut Outbox, at: Instant, volts: f32) {
        out.snapshot
            .apply(at, Measurement::InletVoltage(crate::hardware::Volts(volts)));
    }

    #[test]
    fn a_short_inlet_deviation_holds_back_the_contactors_but_does_not_fail() {
        // The cable-check voltage is falling: the charger reported 372 V, the inlet has
        // already reached 341 V, the battery's 340.7 V (`ccsplc sim --pnc --seed 3`).
        let config = EvccConfig {
            fallback_battery_voltage: Some(crate::hardware::Volts(340.7)),
            ..EvccConfig::default()
        };
        let readings = EvReadings {
            config: &config,
            simulated_soc: 30.0,
        };
        let mut out = Outbox::new();
        let mut check = InletPlausibility::default();
        let t0 = Instant::ZERO + Duration::from_secs(9);
        inlet_at(&mut out, t0, 341.4);
        let inlet = check.check(t0, &out, &config, 372.3).unwrap();
        assert_eq!(inlet, InletAgreement::Deviates);
        // The next report agrees and is within u_delta of the battery: matched.
        let inlet = check.check(t0, &out, &config, 345.0).unwrap();
        assert_eq!(inlet, InletAgreement::Agrees);
        assert!(readings.precharge_matched(t0, &out, 345.0, inlet).unwrap());
        // A report within u_delta of the battery does not close while the inlet disagrees.
        inlet_at(&mut out, t0, 300.0);
        let inlet = check.check(t0, &out, &config, 341.0).unwrap();
        assert_eq!(inlet, InletAgreement::Deviates);
        assert!(!readings.precharge_matched(t0, &out, 341.0, inlet).unwrap());
        // Agreement again resets the debounce: a later deviation gets its full time.
        let t1 = t0 + Duration::from_millis(1900);
        inlet_at(&mut out, t1, 341.0);
        assert_eq!(
            check.check(t1, &out, &config, 341.0).unwrap(),
            InletAgreement::Agrees
        );
        let t2 = t1 + Duration::from_millis(100);
        inlet_at(&mut out, t2, 300.0);
        assert_eq!(
            check.check(t2, &out, &config, 341.0).unwrap(),
            InletAgreement::Deviates
        );
    }

    #[test]
    fn an_inlet_deviation_that_lasts_the_debounce_time_fails_the_session() {
        let config = EvccConfig::default();
        let mut out = Outbox::new();
        let mut check = InletPlausibility::default();
        let t0 = Instant::ZERO + Duration::from_secs(20);
        // The charger claims 400 V while the inlet reads 0 V (a broken measurement wire on
        // one side or the other): hold back, then fail once it lasted 2 s.
        for ms in (0..2000).step_by(100) {
            let t = t0 + Duration::from_millis(ms);
            inlet_at(&mut out, t, 0.0);
            assert_eq!(
                check.check(t, &out, &config, 400.0).unwrap(),
                InletAgreement::Deviates,
                "{ms} ms"
            );
        }
        let t = t0 + config.inlet_voltage_deviation_debounce;
        inlet_at(&mut out, t, 0.0);
        let Err(SessionError::Physical(why)) = check.check(t, &out, &config, 400.0) else {
            panic!("a 2 s deviation must fail");
        };
        assert_eq!(
            why,
            "inlet voltage 0.0 V disagrees with EVSEPresentVoltage 400.0 V by more than 20.0 V \
             for 2000 ms"
        );
    }

    #[test]
    fn without_an_inlet_measurement_the_charger_report_is_unchecked() {
        let mut config = EvccConfig::default();
        let out = Outbox::new();
        let mut check = InletPlausibility::default();
        let t = Instant::ZERO + Duration::from_secs(20);
        assert_eq!(
            check.check(t, &out, &config, 400.0).unwrap(),
            InletAgreement::Unchecked
        );
        config.inlet_voltage_plausibility_tolerance = None;
        let mut out = Outbox::new();
        inlet_at(&mut out, t, 0.0);
        assert_eq!(
            check.check(t, &out, &config, 400.0).unwrap(),
            InletAgreement::Unchecked
        );
    }

    /// An intermittently stale sensor: the reading that deviates at `t0` goes stale, comes
    /// back still deviating; the debounce time counts from `t0` (a stale gap used to restart
    /// it, so a lasting deviation never failed).
    #[test]
    fn a_stale_gap_does_not_restart_the_deviation_debounce() {
        let config = EvccConfig::default();
        let mut out = Outbox::new();
        let mut check = InletPlausibility::default();
        let t0 = Instant::ZERO + Duration::from_secs(20);
        inlet_at(&mut out, t0, 0.0);
        assert_eq!(
            check.check(t0, &out, &config, 400.0).unwrap(),
            InletAgreement::Deviates
        );
        let gap = t0 + config.measurement_max_age + Duration::from_millis(1);
        assert_eq!(
            check.check(gap, &out, &config, 400.0).unwrap(),
            InletAgreement::Stale
        );
        let back = gap + Duration::from_millis(100);
        inlet_at(&mut out, back, 0.0);
        assert!(matches!(
            check.check(back, &out, &config, 400.0),
            Err(SessionError::Physical(_))
        ));
    }

    /// PreCharge does not end on the charger's word alone while the car's inlet sensor is
    /// configured but its reading is stale.
    #[test]
    fn a_stale_inlet_reading_holds_back_the_contactors() {
        let config = EvccConfig {
            fallback_battery_voltage: Some(crate::hardware::Volts(340.0)),
            ..EvccConfig::default()
        };
        let readings = EvReadings {
            config: &config,
            simulated_soc: 30.0,
        };
        let mut out = Outbox::new();
        let mut check = InletPlausibility::default();
        let t0 = Instant::ZERO + Duration::from_secs(20);
        inlet_at(&mut out, t0, 340.0);
        let later = t0 + config.measurement_max_age + Duration::from_millis(1);
        let inlet = check.check(later, &out, &config, 340.0).unwrap();
        assert_eq!(inlet, InletAgreement::Stale);
        assert!(
            !readings
                .precharge_matched(later, &out, 340.0, inlet)
                .unwrap()
        );
        // A fresh agreeing reading: the contactors may close.
        inlet_at(&mut out, later, 341.0);
        let inlet = check.check(later, &out, &config, 340.0).unwrap();
        assert!(
            readings
                .precharge_matched(later, &out, 340.0, inlet)
                .unwrap()
        );
    }
}
