//! The charger's ISO 15118-20 power limits: the car's values checked where they arrive, and
//! the set-points that both sides' limits bound.
//!
//! A RationalNumber is `Value × 10^Exponent` with an `i16` value and an `i8` exponent
//! (ISO 15118-20 `RationalNumberType`, `V2G_CI_CommonTypes.xsd`): as an `f32` it can be
//! infinite (`{1, 40}`), NaN (`{0, 127}` is `0 × ∞`) or negative. Such a value from the car is
//! refused with `FAILED_WrongChargeParameter` before it bounds anything. The charger's own
//! maxima come from [`evse_dc::limits`], which already ignores a power supply's report that is
//! no physical maximum. Set-points are computed with [`within`], which cannot panic (unlike
//! `f32::clamp` with min > max or a NaN bound).
//!
//! Values above any physical sense (a car's 30 MW maximum) are not refused: they are maxima,
//! and the charger's own finite maxima bound them.

use ccs_msg::iso20::types::{RationalNumberType, ResponseCodeType};

use super::config::EvseBptLimits;
use super::values::to_f32;
use crate::session::SessionError;
use crate::session::evse_dc::{self, DcLimits};

/// A refusal: the response code to send and the error the session ends with.
pub(crate) type Refusal = (ResponseCodeType, SessionError);

fn wrong_parameter(name: &str, r: &RationalNumberType, why: &str) -> Refusal {
    (
        ResponseCodeType::FAILED_WrongChargeParameter,
        SessionError::PeerMisbehaved(format!("{name} = {} × 10^{} {why}", r.value, r.exponent)),
    )
}

/// A value of the car that must be finite and not negative (a maximum, a target voltage, a
/// DC target current).
pub(crate) fn ev_non_negative(r: &RationalNumberType, name: &str) -> Result<f32, Refusal> {
    let x = to_f32(r);
    if !x.is_finite() {
        return Err(wrong_parameter(name, r, "is not a finite number"));
    }
    if x < 0.0 {
        return Err(wrong_parameter(name, r, "is negative"));
    }
    Ok(x)
}

/// A signed value of the car (the DC_BPT EVTargetCurrent: negative = discharge): finite.
pub(crate) fn ev_signed(r: &RationalNumberType, name: &str) -> Result<f32, Refusal> {
    let x = to_f32(r);
    if x.is_finite() {
        Ok(x)
    } else {
        Err(wrong_parameter(name, r, "is not a finite number"))
    }
}

/// A discharge maximum of the car (DC_BPT): its magnitude, finite. ISO 15118-20 sends the
/// discharge limits as positive magnitudes (our car and Josev do); a negative one is read as
/// the same magnitude, as before this check existed.
pub(crate) fn ev_discharge_maximum(r: &RationalNumberType, name: &str) -> Result<f32, Refusal> {
    ev_signed(r, name).map(f32::abs)
}

/// An optional maximum of the car (the Scheduled charge loop's EVMaximum*): no bound
/// (`INFINITY`) when absent.
pub(crate) fn ev_optional(
    r: Option<&RationalNumberType>,
    name: &str,
    check: fn(&RationalNumberType, &str) -> Result<f32, Refusal>,
) -> Result<f32, Refusal> {
    r.map_or(Ok(f32::INFINITY), |r| check(r, name))
}

/// `x` within `lo..=hi` without a panic: a NaN `x` counts as 0, `lo > hi` gives `hi`.
/// Every caller's bounds are finite or infinite numbers, never NaN (the checks above).
pub(crate) fn within(x: f32, lo: f32, hi: f32) -> f32 {
    let x = if x.is_nan() { 0.0 } else { x };
    x.max(lo).min(hi)
}

/// The highest current at which `power` is not exceeded at `voltage`. The power supply's output
/// never exceeds its voltage set-point, so a current limit of `power / set-point voltage`
/// bounds the power. No bound at 0 V (no power flows).
fn current_for_power(power: f32, voltage: f32) -> f32 {
    if voltage > 0.0 {
        power / voltage
    } else {
        f32::INFINITY
    }
}

/// Upper bounds on the output, all magnitudes: finite and ≥ 0, or infinite (no bound).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct PowerLimits {
    pub(crate) max_voltage: f32,
    pub(crate) max_charge_current: f32,
    pub(crate) max_charge_power: f32,
    /// Zero when discharging is not allowed (the DC service).
    pub(crate) max_discharge_current: f32,
    pub(crate) max_discharge_power: f32,
}

impl PowerLimits {
    /// No bound at all: the neutral element of [`Self::and`].
    pub(crate) const NONE: Self = Self {
        max_voltage: f32::INFINITY,
        max_charge_current: f32::INFINITY,
        max_charge_power: f32::INFINITY,
        max_discharge_current: f32::INFINITY,
        max_discharge_power: f32::INFINITY,
    };

    /// The charger's own limits ([`evse_dc::limits`]); `bpt`: its configured discharge limits
    /// when the DC_BPT service runs (without, nothing may be discharged).
    pub(crate) fn charger(dc: &DcLimits, bpt: Option<&EvseBptLimits>) -> Self {
        let (discharge_current, discharge_power) = bpt.map_or((0.0, 0.0), |b| {
            (
                evse_dc::configured(b.max_discharge_current.0),
                evse_dc::configured(b.max_discharge_power.0),
            )
        });
        Self {
            max_voltage: dc.max_voltage,
            max_charge_current: dc.max_current,
            max_charge_power: dc.max_power,
            max_discharge_current: discharge_current,
            max_discharge_power: discharge_power,
        }
    }

    /// The tighter of both limits, bound by bound.
    pub(crate) fn and(self, other: Self) -> Self {
        Self {
            max_voltage: self.max_voltage.min(other.max_voltage),
            max_charge_current: self.max_charge_current.min(other.max_charge_current),
            max_charge_power: self.max_charge_power.min(other.max_charge_power),
            max_discharge_current: self.max_discharge_current.min(other.max_discharge_current),
            max_discharge_power: self.max_discharge_power.min(other.max_discharge_power),
        }
    }

    /// The voltage set-point for a `wanted` voltage: within 0 V and the maximum.
    pub(crate) fn voltage(&self, wanted: f32) -> f32 {
        within(wanted, 0.0, self.max_voltage)
    }

    /// The current window at voltage set-point `voltage`: (most negative, most positive)
    /// amperes, bounded by the current and the power limits.
    pub(crate) fn current_window(&self, voltage: f32) -> (f32, f32) {
        let up = self
            .max_charge_current
            .min(current_for_power(self.max_charge_power, voltage));
        let down = self
            .max_discharge_current
            .min(current_for_power(self.max_discharge_power, voltage));
        (-down, up)
    }

    /// The current set-point for a `wanted` current (negative = discharge) at voltage
    /// set-point `voltage`.
    pub(crate) fn current(&self, wanted: f32, voltage: f32) -> f32 {
        let (low, high) = self.current_window(voltage);
        within(wanted, low, high)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(value: i16, exponent: i8) -> RationalNumberType {
        RationalNumberType { exponent, value }
    }

    #[test]
    fn rationals_that_are_not_finite_or_negative_are_refused() {
        // {0, 127} is 0 × ∞ = NaN in f32; {1, 40} is ∞.
        assert!(to_f32(&r(0, 127)).is_nan());
        for bad in [r(0, 127), r(1, 40), r(-1, 0)] {
            let (code, _) = ev_non_negative(&bad, "EVMaximumChargeCurrent").unwrap_err();
            assert_eq!(code, ResponseCodeType::FAILED_WrongChargeParameter);
        }
        assert!(ev_signed(&r(1, 40), "EVTargetCurrent").is_err());
        assert_eq!(ev_signed(&r(-25, 0), "EVTargetCurrent"), Ok(-25.0));
        assert_eq!(ev_non_negative(&r(4000, -1), "EVTargetVoltage"), Ok(400.0));
        assert_eq!(ev_discharge_maximum(&r(-30, 0), "x"), Ok(30.0));
        assert_eq!(ev_optional(None, "x", ev_non_negative), Ok(f32::INFINITY));
        assert!(ev_optional(Some(&r(-1, 0)), "x", ev_non_negative).is_err());
    }

    #[test]
    fn discharge_limits_that_are_no_physical_maximum_allow_no_discharge() {
        let dc = DcLimits {
            max_voltage: 500.0,
            max_current: 200.0,
            max_power: 50_000.0,
            min_voltage: 150.0,
            min_current: 0.0,
            current_regulation_tolerance: 5.0,
            peak_current_ripple: 5.0,
        };
        let mut bpt = EvseBptLimits::default();
        assert_eq!(PowerLimits::charger(&dc, None).max_discharge_current, 0.0);
        for bad in [-10.0, f32::NAN, f32::INFINITY] {
            bpt.max_discharge_current.0 = bad;
            bpt.max_discharge_power.0 = bad;
            let l = PowerLimits::charger(&dc, Some(&bpt));
            assert_eq!((l.max_discharge_current, l.max_discharge_power), (0.0, 0.0));
        }
    }

    #[test]
    fn set_points_respect_every_bound_and_never_panic() {
        let charger = PowerLimits {
            max_voltage: 500.0,
            max_charge_current: 200.0,
            max_charge_power: 50_000.0,
            max_discharge_current: 0.0,
            max_discharge_power: 0.0,
        };
        let car = PowerLimits {
            max_voltage: 420.0,
            max_charge_current: 100.0,
            max_charge_power: 20_000.0,
            ..PowerLimits::NONE
        };
        let both = charger.and(car);
        assert_eq!(both.voltage(450.0), 420.0);
        // 20 kW at 400 V: 50 A.
        assert_eq!(both.current(150.0, 400.0), 50.0);
        // No discharge in the DC service.
        assert_eq!(both.current(-20.0, 400.0), 0.0);
        // A window with min > max (a zero bound) neither panics nor goes beyond it.
        let none = PowerLimits {
            max_charge_current: 0.0,
            ..both
        };
        assert_eq!(none.current(10.0, 400.0), 0.0);
        assert_eq!(both.current(10.0, 0.0), 10.0);
    }
}
