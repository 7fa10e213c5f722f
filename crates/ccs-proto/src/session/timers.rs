//! The timer table of the V2G sessions: one variant per timer, named as the standards name them.
//!
//! Read DIN SPEC 70121:2014 §9.6 (Table 75: `V2G_EVCC_Msg_Timeout` per message; Table 76/77:
//! sequence, ongoing, cable-check and pre-charge timers) and ISO 15118-2:2014 §8.8 (Tables 109
//! and 112) before changing the defaults in [`crate::session::config`]. The timers without a name
//! in the standards (connector lock, contactors, current fall, unlock voltage, pacing) guard the
//! vehicle's own hardware steps; their defaults come from pyPLC and ccs32clara field experience
//! (the unlock voltage's limit from IEC 61851-23).

use core::fmt;

use crate::time::Instant;

/// A timer a session can arm. At most one deadline per timer.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Timer {
    /// `V2G_EVCC_Msg_Timeout`: how long the EVCC waits for the response to its request
    /// (DIN 70121 Table 75: 2 s, CurrentDemand 250 ms).
    EvccMsg,
    /// `V2G_EVCC_Sequence_Timeout`: how long the EVCC may take between a response and its next
    /// request, including its own hardware waits (DIN 70121 Table 76: 40 s).
    EvccSequence,
    /// `V2G_EVCC_Ongoing_Timeout`: how long ContractAuthentication and
    /// ChargeParameterDiscovery may stay `Ongoing` (60 s).
    EvccOngoing,
    /// `V2G_EVCC_CableCheck_Timeout`: the whole CableCheck loop (DIN 70121:2014 Table 77: 38 s).
    EvccCableCheck,
    /// `V2G_EVCC_PreCharge_Timeout`: the whole PreCharge loop (DIN 70121 Table 77: 7 s).
    EvccPreCharge,
    /// `V2G_SECC_Sequence_Timeout`: how long the SECC waits for the next request after a
    /// response (DIN 70121 Table 76, ISO 15118-2 Table 109: 60 s).
    SeccSequence,
    /// The connector lock feedback must confirm "locked" within this time.
    ConnectorLock,
    /// The contactor feedback must confirm "closed" within this time.
    ContactorsClosed,
    /// After CP state B: the current must fall below the threshold within this time; at expiry
    /// the sequence goes on (the charger had its chance to ramp down).
    CurrentFall,
    /// The contactor feedback must confirm "open" within this time.
    ContactorsOpen,
    /// The inlet voltage must fall below the unlock limit (60 V, IEC 61851-23) within this
    /// time; at expiry the connector stays locked.
    UnlockVoltage,
    /// The pause before the next request of a loop (Ongoing repeats, PreCharge, CurrentDemand,
    /// WeldingDetection).
    Pacing,
}

impl Timer {
    /// Every timer, in table order.
    pub const ALL: [Self; 12] = [
        Self::EvccMsg,
        Self::EvccSequence,
        Self::EvccOngoing,
        Self::EvccCableCheck,
        Self::EvccPreCharge,
        Self::SeccSequence,
        Self::ConnectorLock,
        Self::ContactorsClosed,
        Self::CurrentFall,
        Self::ContactorsOpen,
        Self::UnlockVoltage,
        Self::Pacing,
    ];

    const fn index(self) -> usize {
        self as usize
    }

    /// The timer's name as the standard writes it (or a descriptive name for the vehicle's
    /// hardware timers), for logs and [`crate::session::SessionError::Timeout`].
    pub const fn name(self) -> &'static str {
        match self {
            Self::EvccMsg => "V2G_EVCC_Msg_Timeout",
            Self::EvccSequence => "V2G_EVCC_Sequence_Timeout",
            Self::EvccOngoing => "V2G_EVCC_Ongoing_Timeout",
            Self::EvccCableCheck => "V2G_EVCC_CableCheck_Timeout",
            Self::EvccPreCharge => "V2G_EVCC_PreCharge_Timeout",
            Self::SeccSequence => "V2G_SECC_Sequence_Timeout",
            Self::ConnectorLock => "connector lock confirmation",
            Self::ContactorsClosed => "contactor close confirmation",
            Self::CurrentFall => "current fall after CP state B",
            Self::ContactorsOpen => "contactor open confirmation",
            Self::UnlockVoltage => "inlet voltage below the unlock limit",
            Self::Pacing => "request pacing",
        }
    }
}

impl fmt::Display for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One optional deadline per [`Timer`]; the next timeout is the earliest of them.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct TimerTable {
    deadlines: [Option<Instant>; Timer::ALL.len()],
}

impl TimerTable {
    /// Arms `timer` to expire at `at` (replacing an earlier deadline).
    pub fn set(&mut self, timer: Timer, at: Instant) {
        self.deadlines[timer.index()] = Some(at);
    }

    /// Disarms `timer`.
    pub fn stop(&mut self, timer: Timer) {
        self.deadlines[timer.index()] = None;
    }

    /// Disarms every timer.
    pub fn stop_all(&mut self) {
        self.deadlines = Default::default();
    }

    /// The deadline of `timer`, if armed.
    pub fn deadline(&self, timer: Timer) -> Option<Instant> {
        self.deadlines[timer.index()]
    }

    /// Whether `timer` is armed.
    pub fn is_armed(&self, timer: Timer) -> bool {
        self.deadline(timer).is_some()
    }

    /// The earliest armed deadline.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// The armed timer with the earliest deadline at or before `now`, disarmed on return.
    pub fn pop_expired(&mut self, now: Instant) -> Option<Timer> {
        let timer = Timer::ALL
            .iter()
            .copied()
            .filter(|t| self.deadline(*t).is_some_and(|at| at <= now))
            .min_by_key(|t| self.deadline(*t))?;
        self.stop(timer);
        Some(timer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_timeout_is_the_earliest_armed_deadline() {
        let mut table = TimerTable::default();
        assert_eq!(table.next_timeout(), None);
        table.set(Timer::EvccSequence, Instant::from_millis(40_000));
        table.set(Timer::EvccMsg, Instant::from_millis(2_000));
        assert_eq!(table.next_timeout(), Some(Instant::from_millis(2_000)));
        table.stop(Timer::EvccMsg);
        assert_eq!(table.next_timeout(), Some(Instant::from_millis(40_000)));
    }

    #[test]
    fn pop_expired_returns_earliest_first_and_disarms() {
        let mut table = TimerTable::default();
        table.set(Timer::Pacing, Instant::from_millis(300));
        table.set(Timer::EvccPreCharge, Instant::from_millis(200));
        table.set(Timer::EvccCableCheck, Instant::from_millis(900));
        let now = Instant::from_millis(500);
        assert_eq!(table.pop_expired(now), Some(Timer::EvccPreCharge));
        assert_eq!(table.pop_expired(now), Some(Timer::Pacing));
        assert_eq!(table.pop_expired(now), None);
        assert!(table.is_armed(Timer::EvccCableCheck));
    }

    #[test]
    fn names_follow_the_standard() {
        assert_eq!(
            Timer::EvccCableCheck.to_string(),
            "V2G_EVCC_CableCheck_Timeout"
        );
        assert_eq!(Timer::SeccSequence.name(), "V2G_SECC_Sequence_Timeout");
        for (i, t) in Timer::ALL.iter().enumerate() {
            assert_eq!(t.index(), i);
        }
    }
}
