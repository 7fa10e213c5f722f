//! The charger's limits and set-points: what it announces (its configured maxima lowered by
//! the power supply's reports) and what it commands for the car's targets, within the car's
//! own maxima and the maximum power. Every value from outside the process is checked here
//! before it can bound or become a set-point.

use crate::session::SessionError;
use crate::session::config::SeccConfig;
use crate::session::outbox::Outbox;
use crate::time::Instant;

/// The charger's DC limits right now: the configured ones, lowered by the power supply's
/// own `PowerSupplyMax*` readings. Every field is finite and not negative.
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

/// A configured value that can bound a set-point: not finite or negative becomes 0 (no
/// power), never a bound that makes `min`/`max` meaningless.
pub(crate) fn configured(value: f32) -> f32 {
    if value.is_finite() && value >= 0.0 {
        value
    } else {
        0.0
    }
}

/// The configured maximum, lowered by the power supply's report. The configured value may
/// be the cable's or the installation's rating, which a power supply does not know, so a
/// higher report never raises it; a report that is no physical maximum (negative, NaN,
/// infinite: MQTT accepts any number) is ignored.
fn lowered(configured_max: f32, reported: Option<f32>) -> f32 {
    match reported {
        Some(r) if r.is_finite() && r >= 0.0 => configured(configured_max).min(r),
        _ => configured(configured_max),
    }
}

/// The limits of `config`, lowered by the power supply's own maxima once it has reported
/// them. A maximum does not expire: a power supply that said 125 A once (MQTT
/// `charger_max_current` is published on change) must not be announced with the configured
/// 200 A a few seconds later. A power supply that went silent is a stale-input fault of its
/// present values instead.
pub(crate) fn limits(config: &SeccConfig, _now: Instant, out: &Outbox) -> DcLimits {
    let l = &config.limits;
    let s = &out.snapshot;
    DcLimits {
        max_current: lowered(
            l.max_current.0,
            s.power_supply_max_current.value().map(|a| a.0),
        ),
        max_power: lowered(l.max_power.0, s.power_supply_max_power.value().map(|w| w.0)),
        max_voltage: lowered(
            l.max_voltage.0,
            s.power_supply_max_voltage.value().map(|v| v.0),
        ),
        min_current: configured(l.min_current.0),
        min_voltage: configured(l.min_voltage.0),
        current_regulation_tolerance: configured(l.current_regulation_tolerance.0),
        peak_current_ripple: configured(l.peak_current_ripple.0),
    }
}

/// A voltage, current or power the car sent, checked before it may become a set-point or a
/// limit: finite and not negative (a PhysicalValue may carry any signed value). Anything
/// else is the car's fault; the caller refuses the request (power off).
pub(crate) fn ev_value(name: &str, value: f32) -> Result<f32, SessionError> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(SessionError::PeerMisbehaved(format!(
            "{name} of {value} is no physical value"
        )))
    }
}

/// The car's own maxima: EVMaximum{Voltage,Current,Power}Limit of ChargeParameterDiscoveryReq,
/// replaced by the optional ones of each CurrentDemandReq (the latest wins). Checked with
/// [`ev_value`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct EvLimits {
    pub(crate) max_voltage: Option<f32>,
    pub(crate) max_current: Option<f32>,
    pub(crate) max_power: Option<f32>,
}

impl EvLimits {
    /// Takes the limits the car sent (each `None` keeps the previous one).
    pub(crate) fn update(
        &mut self,
        max_voltage: Option<f32>,
        max_current: Option<f32>,
        max_power: Option<f32>,
    ) -> Result<(), SessionError> {
        let check = |name, v: Option<f32>| v.map(|v| ev_value(name, v)).transpose();
        let max_voltage = check("EVMaximumVoltageLimit", max_voltage)?;
        let max_current = check("EVMaximumCurrentLimit", max_current)?;
        let max_power = check("EVMaximumPowerLimit", max_power)?;
        self.max_voltage = max_voltage.or(self.max_voltage);
        self.max_current = max_current.or(self.max_current);
        self.max_power = max_power.or(self.max_power);
        Ok(())
    }
}

/// IEC 61851-23 (CC.5.1): at most 2 A while the charger pre-charges the car's input.
pub(crate) const PRE_CHARGE_MAX_CURRENT: f32 = 2.0;

/// The set-point of one PreCharge or CurrentDemand step and which limit bounded it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Setpoint {
    pub(crate) voltage: f32,
    pub(crate) current: f32,
    /// The voltage was lowered to the charger's or the car's maximum.
    pub(crate) voltage_limited: bool,
    /// The current was lowered to the charger's or the car's maximum.
    pub(crate) current_limited: bool,
    /// The current was lowered to keep within the charger's or the car's maximum power.
    pub(crate) power_limited: bool,
}

/// The set-point for the car's `target_voltage` and `target_current` (checked with
/// [`ev_value`]): the voltage at most the lower of the car's and the charger's maximum, the
/// current at most the lower maximum current and at most the lower maximum power divided by
/// the output voltage. The voltage for the power limit is the present output
/// (`present_voltage`, if measured; the power is U_present · I, and cars ask for their maximum
/// voltage while the battery sits lower) or else the target, and never below the charger's
/// minimum voltage (at least 1 V), so a collapsed or missing measurement cannot raise the
/// current without bound. The set-point is renewed with every CurrentDemandReq (≈100 ms).
pub(crate) fn demand_setpoint(
    limits: &DcLimits,
    ev: &EvLimits,
    target_voltage: f32,
    target_current: f32,
    present_voltage: Option<f32>,
) -> Setpoint {
    let max_voltage = ev
        .max_voltage
        .map_or(limits.max_voltage, |v| v.min(limits.max_voltage));
    let max_current = ev
        .max_current
        .map_or(limits.max_current, |i| i.min(limits.max_current));
    let max_power = ev
        .max_power
        .map_or(limits.max_power, |p| p.min(limits.max_power));
    let voltage = target_voltage.min(max_voltage);
    let present = present_voltage
        .filter(|u| u.is_finite() && *u > 0.0)
        .unwrap_or(voltage);
    let power_reference = present.max(limits.min_voltage).max(1.0);
    let power_current = max_power / power_reference;
    let current = target_current.min(max_current).min(power_current);
    Setpoint {
        voltage,
        current,
        voltage_limited: target_voltage >= max_voltage,
        current_limited: target_current >= max_current,
        power_limited: target_current > power_current,
    }
}

/// The PreCharge set-point: the car's target voltage at most the lower maximum voltage, the
/// current at most [`PRE_CHARGE_MAX_CURRENT`].
pub(crate) fn pre_charge_setpoint(
    limits: &DcLimits,
    ev: &EvLimits,
    target_voltage: f32,
    target_current: f32,
) -> Setpoint {
    let mut s = demand_setpoint(limits, ev, target_voltage, target_current, None);
    s.current = s.current.min(PRE_CHARGE_MAX_CURRENT);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::{Amps, Measurement, Volts};

    #[test]
    fn power_supply_maxima_lower_the_configured_ones_and_do_not_expire() {
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
            .apply(t0, Measurement::PowerSupplyMaxVoltage(Volts(400.0)));
        let much_later = Instant::from_millis(3_600_000);
        let l = limits(&config, much_later, &out);
        assert_eq!((l.max_current, l.max_voltage), (125.0, 400.0));
        assert_eq!(l.max_power, config.limits.max_power.0);
    }

    #[test]
    fn a_higher_or_nonsensical_power_supply_maximum_never_raises_the_configured_one() {
        let config = SeccConfig::default();
        let mut out = Outbox::new();
        let t0 = Instant::from_millis(1_000);
        // 500 A from the power supply; the configured 200 A may be the cable's rating.
        out.snapshot
            .apply(t0, Measurement::PowerSupplyMaxCurrent(Amps(500.0)));
        assert_eq!(limits(&config, t0, &out).max_current, 200.0);
        for nonsense in [-1.0, f32::NAN, f32::INFINITY] {
            out.snapshot
                .apply(t0, Measurement::PowerSupplyMaxCurrent(Amps(nonsense)));
            assert_eq!(limits(&config, t0, &out).max_current, 200.0, "{nonsense}");
        }
    }

    fn wide_limits() -> DcLimits {
        DcLimits {
            max_voltage: 450.0,
            max_current: 200.0,
            max_power: 200_000.0,
            min_voltage: 200.0,
            min_current: 1.0,
            current_regulation_tolerance: 5.0,
            peak_current_ripple: 5.0,
        }
    }

    #[test]
    fn the_cars_maxima_bound_the_set_point() {
        let ev = EvLimits {
            max_voltage: Some(410.0),
            max_current: Some(50.0),
            max_power: None,
        };
        let s = demand_setpoint(&wide_limits(), &ev, 440.0, 150.0, Some(400.0));
        assert_eq!((s.voltage, s.current), (410.0, 50.0));
        assert!(s.voltage_limited && s.current_limited && !s.power_limited);
        // Without the car's maxima only the charger's bound it.
        let s = demand_setpoint(&wide_limits(), &EvLimits::default(), 440.0, 150.0, None);
        assert_eq!((s.voltage, s.current), (440.0, 150.0));
    }

    #[test]
    fn the_current_keeps_within_the_maximum_power() {
        // 10 kW at 400 V: 25 A, not the 200 A maximum current.
        let limits = DcLimits {
            max_power: 10_000.0,
            ..wide_limits()
        };
        let s = demand_setpoint(&limits, &EvLimits::default(), 410.0, 200.0, Some(400.0));
        assert_eq!(s.current, 25.0);
        assert!(s.power_limited);
        // Without a measurement, the target voltage counts.
        let s = demand_setpoint(&limits, &EvLimits::default(), 400.0, 200.0, None);
        assert_eq!(s.current, 25.0);
        // A collapsed measurement does not raise the current above P /
        // EVSEMinimumVoltageLimit.
        let s = demand_setpoint(&limits, &EvLimits::default(), 400.0, 200.0, Some(0.0));
        assert_eq!(s.current, 25.0);
        let s = demand_setpoint(&limits, &EvLimits::default(), 400.0, 200.0, Some(20.0));
        assert_eq!(s.current, 50.0);
        // The car's maximum power counts too.
        let ev = EvLimits {
            max_power: Some(4_000.0),
            ..EvLimits::default()
        };
        let s = demand_setpoint(&wide_limits(), &ev, 400.0, 200.0, Some(400.0));
        assert_eq!(s.current, 10.0);
    }

    #[test]
    fn values_from_the_car_must_be_physical() {
        assert_eq!(ev_value("EVTargetVoltage", 400.0).ok(), Some(400.0));
        for bad in [-400.0, f32::NAN, f32::NEG_INFINITY, f32::INFINITY] {
            assert!(ev_value("EVTargetVoltage", bad).is_err(), "{bad}");
        }
        let mut ev = EvLimits::default();
        ev.update(Some(400.0), Some(100.0), None).unwrap();
        assert!(ev.update(None, Some(-1.0), None).is_err());
        // A refused update changes nothing.
        assert_eq!(ev.max_current, Some(100.0));
        // A missing optional limit keeps the previous one.
        ev.update(None, None, Some(50_000.0)).unwrap();
        assert_eq!(ev.max_voltage, Some(400.0));
        assert_eq!(ev.max_power, Some(50_000.0));
    }

    #[test]
    fn pre_charge_draws_at_most_2_a() {
        let s = pre_charge_setpoint(&wide_limits(), &EvLimits::default(), 350.0, 10.0);
        assert_eq!((s.voltage, s.current), (350.0, 2.0));
    }
}
