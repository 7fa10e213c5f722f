//! Time as the protocol core sees it: an instant on some monotonic clock and a duration.
//!
//! The core never reads a clock. Drivers pass `now` in; the real driver maps
//! `std::time::Instant` onto [`Instant`], the simulator runs a virtual clock, and the capture
//! replay builds instants from capture timestamps. Microsecond resolution is far finer than any
//! V2G or SLAC timer (the tightest, `TT_EV_atten_results`, is in tens of milliseconds).

use core::fmt;
use core::ops::{Add, AddAssign, Sub};

/// A point in time, in microseconds since an arbitrary epoch chosen by the driver.
#[derive(Clone, Copy, Debug, Default, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct Instant {
    micros: i64,
}

impl Instant {
    /// The driver's epoch.
    pub const ZERO: Self = Self { micros: 0 };

    /// An instant `micros` microseconds after the epoch.
    pub const fn from_micros(micros: i64) -> Self {
        Self { micros }
    }

    /// An instant `millis` milliseconds after the epoch.
    pub const fn from_millis(millis: i64) -> Self {
        Self {
            micros: millis.saturating_mul(1000),
        }
    }

    /// Microseconds since the epoch.
    pub const fn total_micros(self) -> i64 {
        self.micros
    }

    /// Milliseconds since the epoch, rounded down.
    pub const fn total_millis(self) -> i64 {
        self.micros.div_euclid(1000)
    }

    /// The time from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration::from_micros(
            u64::try_from(self.micros.saturating_sub(earlier.micros)).unwrap_or(0),
        )
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.micros < 0 { "-" } else { "" };
        let abs = self.micros.unsigned_abs();
        write!(
            f,
            "{sign}{}.{:03}s",
            abs / 1_000_000,
            (abs % 1_000_000) / 1000
        )
    }
}

/// A span of time, in microseconds.
#[derive(Clone, Copy, Debug, Default, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct Duration {
    micros: u64,
}

impl Duration {
    /// No time at all.
    pub const ZERO: Self = Self { micros: 0 };

    /// A duration of `micros` microseconds.
    pub const fn from_micros(micros: u64) -> Self {
        Self { micros }
    }

    /// A duration of `millis` milliseconds.
    pub const fn from_millis(millis: u64) -> Self {
        Self {
            micros: millis.saturating_mul(1000),
        }
    }

    /// A duration of `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self {
            micros: secs.saturating_mul(1_000_000),
        }
    }

    /// The duration in microseconds.
    pub const fn total_micros(self) -> u64 {
        self.micros
    }

    /// The duration in milliseconds, rounded down.
    pub const fn total_millis(self) -> u64 {
        self.micros / 1000
    }

    /// The duration in seconds as a float, for display and physics.
    pub fn as_secs_f64(self) -> f64 {
        self.micros as f64 / 1e6
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.micros.is_multiple_of(1_000_000) {
            write!(f, "{}s", self.micros / 1_000_000)
        } else if self.micros.is_multiple_of(1000) {
            write!(f, "{}ms", self.micros / 1000)
        } else {
            write!(f, "{}us", self.micros)
        }
    }
}

impl From<core::time::Duration> for Duration {
    fn from(d: core::time::Duration) -> Self {
        Self::from_micros(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    }
}

impl From<Duration> for core::time::Duration {
    fn from(d: Duration) -> Self {
        Self::from_micros(d.micros)
    }
}

impl Add<Duration> for Instant {
    type Output = Self;
    fn add(self, rhs: Duration) -> Self {
        Self {
            micros: self
                .micros
                .saturating_add(i64::try_from(rhs.micros).unwrap_or(i64::MAX)),
        }
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl Sub<Duration> for Instant {
    type Output = Self;
    fn sub(self, rhs: Duration) -> Self {
        Self {
            micros: self
                .micros
                .saturating_sub(i64::try_from(rhs.micros).unwrap_or(i64::MAX)),
        }
    }
}

impl Sub for Instant {
    type Output = Duration;
    /// The time from `rhs` to `self`, saturating at zero.
    fn sub(self, rhs: Self) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl Add for Duration {
    type Output = Self;
    fn add(self, rhs: Self) -> Self {
        Self {
            micros: self.micros.saturating_add(rhs.micros),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instant_arithmetic_saturates_instead_of_wrapping() {
        let t = Instant::from_millis(1500);
        assert_eq!(
            t + Duration::from_millis(500),
            Instant::from_secs_for_test(2)
        );
        assert_eq!(
            Instant::from_millis(100) - Instant::from_millis(200),
            Duration::ZERO
        );
        assert_eq!(
            Instant::from_micros(i64::MAX) + Duration::from_secs(1),
            Instant::from_micros(i64::MAX)
        );
    }

    #[test]
    fn display_is_readable() {
        assert_eq!(Instant::from_micros(2_345_678).to_string(), "2.345s");
        assert_eq!(Duration::from_millis(250).to_string(), "250ms");
        assert_eq!(Duration::from_secs(2).to_string(), "2s");
    }

    impl Instant {
        fn from_secs_for_test(s: i64) -> Self {
            Self::from_millis(s * 1000)
        }
    }
}
