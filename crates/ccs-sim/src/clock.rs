//! The virtual clock: time only moves when the simulation says so, straight to the next
//! deadline, so a 12 s SLAC timeout takes no real time.

use ccs_proto::time::{Duration, Instant};

/// A clock that starts at [`Instant::ZERO`] and is advanced by hand.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct VirtualClock {
    now: Instant,
}

impl VirtualClock {
    /// A clock at the epoch.
    pub const fn new() -> Self {
        Self { now: Instant::ZERO }
    }

    /// The current virtual time.
    pub const fn now(&self) -> Instant {
        self.now
    }

    /// Jumps to `at`; never goes backwards.
    pub fn advance_to(&mut self, at: Instant) {
        self.now = self.now.max(at);
    }

    /// Moves forward by `by`.
    pub fn advance_by(&mut self, by: Duration) {
        self.now += by;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_goes_backwards() {
        let mut clock = VirtualClock::new();
        clock.advance_to(Instant::from_millis(10));
        clock.advance_to(Instant::from_millis(5));
        assert_eq!(clock.now(), Instant::from_millis(10));
        clock.advance_by(Duration::from_millis(5));
        assert_eq!(clock.now(), Instant::from_millis(15));
    }
}
