//! The real clock, mapped onto the core's [`ccs_proto::time::Instant`].

use ccs_proto::time::{Duration, Instant};

/// A monotonic clock whose epoch is its creation; hands `now` to the sans-IO core and turns the
/// core's deadlines back into tokio instants.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    epoch: tokio::time::Instant,
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock {
    /// A clock whose epoch is now.
    pub fn new() -> Self {
        Self {
            epoch: tokio::time::Instant::now(),
        }
    }

    /// The current time for the core.
    pub fn now(&self) -> Instant {
        let since = Duration::from(self.epoch.elapsed());
        Instant::ZERO + since
    }

    /// The tokio instant of a core deadline (for `tokio::time::sleep_until`).
    pub fn deadline(&self, at: Instant) -> tokio::time::Instant {
        let since = at.saturating_duration_since(Instant::ZERO);
        self.epoch + core::time::Duration::from(since)
    }
}
