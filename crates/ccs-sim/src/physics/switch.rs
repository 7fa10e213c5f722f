//! A switch that follows its request after a fixed delay: contactors, the connector lock.

use ccs_proto::time::{Duration, Instant};

/// Something mechanical that takes `delay` to follow a request (a contactor, a lock motor).
#[derive(Clone, Debug, PartialEq)]
pub struct DelayedSwitch {
    delay: Duration,
    requested: bool,
    state: bool,
    requested_at: Instant,
}

impl DelayedSwitch {
    /// An open (`false`) switch that takes `delay` to follow a request.
    pub fn new(delay: Duration) -> Self {
        Self {
            delay,
            requested: false,
            state: false,
            requested_at: Instant::ZERO,
        }
    }

    /// Asks for `on` at `now`; a repeated request does not restart the delay.
    pub fn request(&mut self, now: Instant, on: bool) {
        self.advance(now);
        if on != self.requested {
            self.requested = on;
            self.requested_at = now;
        }
    }

    /// Lets time pass up to `now`.
    pub fn advance(&mut self, now: Instant) {
        if self.state != self.requested && now >= self.requested_at + self.delay {
            self.state = self.requested;
        }
    }

    /// The actual position (after [`advance`](Self::advance)).
    pub fn is_on(&self) -> bool {
        self.state
    }

    /// The requested position.
    pub fn requested(&self) -> bool {
        self.requested
    }

    /// When the switch will reach the requested position, if it is still moving.
    pub fn settles_at(&self) -> Option<Instant> {
        (self.state != self.requested).then(|| self.requested_at + self.delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_request_after_the_delay() {
        let ms = Instant::from_millis;
        let mut s = DelayedSwitch::new(Duration::from_millis(50));
        s.request(ms(100), true);
        s.advance(ms(149));
        assert!(!s.is_on());
        assert_eq!(s.settles_at(), Some(ms(150)));
        s.request(ms(120), true); // repeated: no restart
        s.advance(ms(150));
        assert!(s.is_on());
        assert_eq!(s.settles_at(), None);
        s.request(ms(200), false);
        s.advance(ms(249));
        assert!(s.is_on());
        s.advance(ms(250));
        assert!(!s.is_on());
    }
}
