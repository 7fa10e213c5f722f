//! The car's DC power path, shared by every protocol's EVCC: the readings the requests carry
//! (SoC, battery voltage, targets) and the hardware sequence around the messages (connector
//! lock, contactors closed after PreCharge, the safe shutdown: CP state B, current fallen,
//! contactors open and confirmed, unlock).
//!
//! Protocol machines own the message sequence and call [`EvPowerPath`] at the hardware steps;
//! it commands the hardware through the [`Outbox`], arms its timers in the machine's
//! [`TimerTable`], and reports with [`PowerDone`] when a step has finished.
//!
//! Safety (DESIGN.md rule 5): the contactors close only when the protocol machine says PreCharge
//! matched; after CP state B they open only once the current has fallen (or the charger had its
//! [`crate::session::EvccTimeouts::current_fall_timeout`]); the connector unlocks only after the
//! contactors confirmed open. If they never confirm, the connector stays locked.
//!
//! The unlock rule (below 60 V) is in `unlock`, the inlet voltage plausibility check in
//! `inlet`, the values the requests carry in `readings`.
//!
//! Opening after the timeout is deliberate (a charger that keeps driving current would
//! otherwise keep charging the battery with no one in control) and loud: when the car's own
//! [`Measurement::InletCurrent`] (newer than CP state B) still shows current, or, without
//! one, the charger's last reported current was above the threshold when the safe shutdown
//! began, the car raises `contactors opened under load: ...` as a
//! [`SessionError::Physical`] (the outcome of a normal stop; an event on top of the failure
//! that started a safe shutdown). A normal stop without a reading of the car's own says in a
//! status text that the current was not verified (the charger's last report predates the
//! stop).

mod ending;
mod inlet;
mod readings;
mod unlock;

use crate::hardware::{ContactorRequest, CpState, HardwareCommand, LockRequest, Measurement};
use crate::session::config::EvccConfig;
use crate::session::outbox::Outbox;
use crate::session::timers::{Timer, TimerTable};
use crate::session::{SessionError, SessionEvent};
use crate::time::Instant;

pub(crate) use ending::EvEnding;
pub(crate) use inlet::{InletAgreement, InletPlausibility};
pub(crate) use readings::EvReadings;

/// What follows once the contactors are open.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum AfterOpen {
    /// A normal stop: the protocol goes on (WeldingDetection, SessionStop).
    Continue,
    /// The safe shutdown: unlock and end.
    Unlock,
}

/// A hardware wait of the power path.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Wait {
    Lock,
    ContactorsClosed,
    CurrentFall(AfterOpen),
    ContactorsOpen(AfterOpen),
    /// Contactors open, waiting for the inlet voltage to fall below the unlock limit.
    Unlock,
}

/// A finished hardware step.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum PowerDone {
    /// The connector is locked.
    Locked,
    /// The contactors are closed.
    ContactorsClosed,
    /// The contactors are open after a normal stop ([`AfterOpen::Continue`]).
    ContactorsOpen,
    /// The connector is unlocked (commanded; the voltage was below the unlock limit, or not
    /// known at all): the session may end.
    Unlocked,
    /// A step failed (no lock or close confirmation): the safe shutdown follows.
    Failed(SessionError),
    /// The contactors never confirmed open, or the inlet stayed live: the session ends here
    /// and the connector stays locked (never unlock with the contactors closed or onto a live
    /// connector).
    StayLocked(SessionError),
}

/// The car's contactors, lock and CP state during one session.
#[derive(Clone, Debug, Default)]
pub(crate) struct EvPowerPath {
    wait: Option<Wait>,
    locked: bool,
    /// Whether the lock was ever commanded (only then does the unlock wait for the voltage).
    lock_commanded: bool,
    contactors_commanded_closed: bool,
    /// The charger's last reported current (decides whether the current has fallen).
    pub(crate) present_current: Option<f32>,
    /// When CP state B was first commanded since the lock (readings older than this say
    /// nothing about the current fall or the voltage after the stop).
    cp_b_at: Option<Instant>,
    /// The charger's last EVSEPresentVoltage and when it arrived.
    charger_voltage: Option<(Instant, f32)>,
    inlet: InletPlausibility,
    /// The inlet measurement failed its plausibility check in this session: its readings no
    /// longer prove the connector dead (see `unlock`).
    inlet_distrusted: bool,
    /// An AC session: the unlock needs no DC voltage check (see `unlock`).
    ac: bool,
}

impl EvPowerPath {
    /// The power path of an AC session (ISO 15118-2 AC): the unlock is not held back by the
    /// DC voltage rule (see `unlock`).
    pub(crate) fn ac() -> Self {
        Self {
            ac: true,
            ..Self::default()
        }
    }

    /// Compares a response's EVSEPresentVoltage `reported` with the car's inlet measurement
    /// ([`InletPlausibility::check`]); a failed check also makes the unlock distrust the
    /// inlet measurement.
    pub(crate) fn check_inlet(
        &mut self,
        now: Instant,
        out: &Outbox,
        config: &EvccConfig,
        reported: f32,
    ) -> Result<InletAgreement, SessionError> {
        let checked = self.inlet.check(now, out, config, reported);
        self.inlet_distrusted |= checked.is_err();
        checked
    }

    /// Whether the connector has been locked in this session.
    pub(crate) fn is_locked(&self) -> bool {
        self.locked
    }

    /// Whether the contactors are open and the unlock waits for the voltage to fall: a
    /// failure now (the charger closing the connection) changes nothing, the voltage decides.
    pub(crate) fn is_unlocking(&self) -> bool {
        self.wait == Some(Wait::Unlock)
    }

    /// Whether we are waiting for the lock or the contactors to close (a stop may cut these
    /// short).
    pub(crate) fn is_waiting_to_start(&self) -> bool {
        matches!(self.wait, Some(Wait::Lock | Wait::ContactorsClosed))
    }

    /// Stops waiting for the lock or the contactors to close (a stop request cut it short).
    pub(crate) fn abandon_start(&mut self, timers: &mut TimerTable) {
        if self.is_waiting_to_start() {
            self.wait = None;
            timers.stop(Timer::ConnectorLock);
            timers.stop(Timer::ContactorsClosed);
        }
    }

    /// The connector lock, with CP state C first when `cp_c` (DC: before CableCheck,
    /// Alpitronic needs state C first, pyPLC Issue12).
    pub(crate) fn lock(
        &mut self,
        now: Instant,
        out: &mut Outbox,
        config: &EvccConfig,
        timers: &mut TimerTable,
        cp_c: bool,
    ) -> Option<PowerDone> {
        if cp_c {
            out.command(HardwareCommand::CpState(CpState::C));
        }
        self.cp_b_at = None;
        out.command(HardwareCommand::ConnectorLock(LockRequest::Lock));
        self.lock_commanded = true;
        self.wait = Some(Wait::Lock);
        timers.set(Timer::ConnectorLock, now + config.timeouts.lock_timeout);
        let already = out
            .snapshot
            .connector_locked
            .fresh(now, config.measurement_max_age)
            == Ok(true);
        (already && config.lock_feedback).then(|| self.locked_now(timers))
    }

    fn locked_now(&mut self, timers: &mut TimerTable) -> PowerDone {
        timers.stop(Timer::ConnectorLock);
        self.wait = None;
        self.locked = true;
        PowerDone::Locked
    }

    /// PreCharge matched: close the contactors and wait for the feedback.
    pub(crate) fn close_contactors(
        &mut self,
        now: Instant,
        out: &mut Outbox,
        config: &EvccConfig,
        timers: &mut TimerTable,
    ) -> Option<PowerDone> {
        self.contactors_commanded_closed = true;
        out.command(HardwareCommand::Contactors(ContactorRequest::Closed));
        self.wait = Some(Wait::ContactorsClosed);
        timers.set(
            Timer::ContactorsClosed,
            now + config.timeouts.contactors_closed_timeout,
        );
        let already = out
            .snapshot
            .contactors_closed
            .fresh(now, config.measurement_max_age)
            == Ok(true);
        (already && config.contactor_feedback).then(|| self.closed_now(timers))
    }

    fn closed_now(&mut self, timers: &mut TimerTable) -> PowerDone {
        timers.stop(Timer::ContactorsClosed);
        self.wait = None;
        PowerDone::ContactorsClosed
    }

    /// Commands the contactors closed without waiting (pyPLC `light_bulb_demo`: 2 s into the
    /// charge loop).
    pub(crate) fn close_without_waiting(&mut self, out: &mut Outbox) {
        self.contactors_commanded_closed = true;
        out.command(HardwareCommand::Contactors(ContactorRequest::Closed));
    }

    /// CP state B, then (once the current has fallen) the contactors open.
    pub(crate) fn power_down(
        &mut self,
        now: Instant,
        out: &mut Outbox,
        config: &EvccConfig,
        timers: &mut TimerTable,
        after: AfterOpen,
    ) -> Option<PowerDone> {
        match self.wait {
            // Already powering down: keep going, but end the way now asked for.
            Some(Wait::CurrentFall(_)) => {
                self.wait = Some(Wait::CurrentFall(after));
                timers.set(
                    Timer::CurrentFall,
                    now + config.timeouts.current_fall_timeout,
                );
                return None;
            }
            Some(Wait::ContactorsOpen(_)) => {
                self.wait = Some(Wait::ContactorsOpen(after));
                timers.set(
                    Timer::ContactorsOpen,
                    now + config.timeouts.contactors_open_timeout,
                );
                return None;
            }
            // Contactors open already: the voltage decides the unlock.
            Some(Wait::Unlock) => return None,
            _ => {}
        }
        out.command(HardwareCommand::CpState(CpState::B));
        // The stop's first CP state B: a later one (the safe shutdown after a normal stop)
        // must not turn the reports in between (WeldingDetection) into reports from before.
        self.cp_b_at.get_or_insert(now);
        let current_low = self
            .present_current
            .is_none_or(|i| i.abs() < config.current_fall_threshold.0);
        if !self.contactors_commanded_closed || (current_low && after == AfterOpen::Unlock) {
            self.open(now, out, config, timers, after)
        } else {
            self.wait = Some(Wait::CurrentFall(after));
            timers.set(
                Timer::CurrentFall,
                now + config.timeouts.current_fall_timeout,
            );
            None
        }
    }

    fn open(
        &mut self,
        now: Instant,
        out: &mut Outbox,
        config: &EvccConfig,
        timers: &mut TimerTable,
        after: AfterOpen,
    ) -> Option<PowerDone> {
        out.command(HardwareCommand::Contactors(ContactorRequest::Open));
        self.wait = Some(Wait::ContactorsOpen(after));
        timers.set(
            Timer::ContactorsOpen,
            now + config.timeouts.contactors_open_timeout,
        );
        let feedback = out
            .snapshot
            .contactors_closed
            .fresh(now, config.measurement_max_age);
        let open_now = if self.contactors_commanded_closed {
            feedback == Ok(false)
        } else {
            feedback != Ok(true)
        };
        if config.contactor_feedback && open_now {
            self.opened_now(now, out, config, timers, after)
        } else {
            None
        }
    }

    fn opened_now(
        &mut self,
        now: Instant,
        out: &mut Outbox,
        config: &EvccConfig,
        timers: &mut TimerTable,
        after: AfterOpen,
    ) -> Option<PowerDone> {
        timers.stop(Timer::ContactorsOpen);
        self.wait = None;
        self.contactors_commanded_closed = false;
        match after {
            AfterOpen::Continue => Some(PowerDone::ContactorsOpen),
            AfterOpen::Unlock => self.unlock(now, out, config, timers),
        }
    }
}

impl EvPowerPath {
    /// A measurement that may end a wait (the caller applied it to the snapshot already).
    pub(crate) fn handle_measurement(
        &mut self,
        now: Instant,
        out: &mut Outbox,
        config: &EvccConfig,
        timers: &mut TimerTable,
        measurement: Measurement,
    ) -> Option<PowerDone> {
        match (self.wait?, measurement) {
            (Wait::Lock, Measurement::ConnectorLocked(true)) if config.lock_feedback => {
                Some(self.locked_now(timers))
            }
            (Wait::ContactorsClosed, Measurement::ContactorsClosed(true))
                if config.contactor_feedback =>
            {
                Some(self.closed_now(timers))
            }
            (Wait::ContactorsOpen(after), Measurement::ContactorsClosed(false))
                if config.contactor_feedback =>
            {
                self.opened_now(now, out, config, timers, after)
            }
            (Wait::Unlock, Measurement::InletVoltage(_)) => self.unlock(now, out, config, timers),
            _ => None,
        }
    }

    /// A timer of the power path expired (the caller popped it). `None` also for timers that
    /// are not the power path's.
    pub(crate) fn handle_timer(
        &mut self,
        now: Instant,
        out: &mut Outbox,
        config: &EvccConfig,
        timers: &mut TimerTable,
        timer: Timer,
    ) -> Option<PowerDone> {
        match (timer, self.wait?) {
            (Timer::ConnectorLock, Wait::Lock) if !config.lock_feedback => {
                Some(self.locked_now(timers))
            }
            (Timer::ConnectorLock, Wait::Lock) => {
                self.wait = None;
                Some(PowerDone::Failed(SessionError::Timeout(timer.name())))
            }
            (Timer::ContactorsClosed, Wait::ContactorsClosed) if !config.contactor_feedback => {
                Some(self.closed_now(timers))
            }
            (Timer::ContactorsClosed, Wait::ContactorsClosed) => {
                self.wait = None;
                Some(PowerDone::Failed(SessionError::Physical(
                    "the contactors did not confirm closed".into(),
                )))
            }
            (Timer::CurrentFall, Wait::CurrentFall(after)) => {
                // The charger had its time: open anyway (see the module docs), and say so.
                let under_load = self.current_not_fallen(now, out, config, after);
                let opened = self.open(now, out, config, timers, after);
                match (under_load, after) {
                    // A normal stop becomes the safe shutdown, which ends failed with this.
                    (Some(e), AfterOpen::Continue) => Some(PowerDone::Failed(e)),
                    // Already failing with the first error: this one on top, in the log.
                    (Some(e), AfterOpen::Unlock) => {
                        out.event(SessionEvent::Failing(e));
                        opened
                    }
                    (None, _) => opened,
                }
            }
            (Timer::ContactorsOpen, Wait::ContactorsOpen(after)) => {
                if !config.contactor_feedback {
                    return self.opened_now(now, out, config, timers, after);
                }
                // Never unlock with the contactors closed.
                self.wait = None;
                out.command(HardwareCommand::SessionState(
                    "contactors did not open: connector stays locked".into(),
                ));
                Some(PowerDone::StayLocked(SessionError::Physical(
                    "the contactors did not confirm open".into(),
                )))
            }
            (Timer::UnlockVoltage, Wait::Unlock) => {
                Some(self.unlock_timed_out(now, out, config, timers))
            }
            _ => None,
        }
    }
}

impl EvPowerPath {
    /// At the end of [`crate::session::EvccTimeouts::current_fall_timeout`]: the error to
    /// raise if the current evidently did not fall (see the module docs).
    fn current_not_fallen(
        &self,
        now: Instant,
        out: &mut Outbox,
        config: &EvccConfig,
        after: AfterOpen,
    ) -> Option<SessionError> {
        let threshold = config.current_fall_threshold.0;
        let waited = config.timeouts.current_fall_timeout.total_millis();
        let reading = &out.snapshot.inlet_current;
        let own = reading
            .fresh(now, config.measurement_max_age)
            .ok()
            .filter(|_| reading.updated_at() >= self.cp_b_at);
        match (own, self.present_current, after) {
            (Some(i), ..) if i.0.abs() >= threshold => Some(SessionError::Physical(format!(
                "contactors opened under load: inlet current {:.1} A (the car's measurement) \
                 did not fall below {threshold} A within {waited} ms of CP state B",
                i.0
            ))),
            (Some(_), ..) => None,
            (None, Some(i), AfterOpen::Unlock) if i.abs() >= threshold => {
                Some(SessionError::Physical(format!(
                    "contactors opened under load: charger current {i:.1} A (its last report) \
                     did not fall below {threshold} A within {waited} ms as far as the car \
                     knows (no newer reading)"
                )))
            }
            (None, ..) => {
                if self.contactors_commanded_closed {
                    out.command(HardwareCommand::SessionState(format!(
                        "contactors open {waited} ms after CP state B; current fall not \
                         verified (no inlet current measurement)"
                    )));
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::Amps;
    use crate::session::Phase;
    use crate::time::Duration;

    /// Contactors closed, charging at `reported` A (the charger's last report), then a power
    /// down: returns what the end of `current_fall_timeout` brings and the outbox.
    fn power_down_while(
        reported: f32,
        own: Option<f32>,
        after: AfterOpen,
    ) -> (Option<PowerDone>, Outbox) {
        let config = EvccConfig::default();
        let mut out = Outbox::new();
        out.set_phase(Phase::Charging);
        let mut timers = TimerTable::default();
        let mut power = EvPowerPath::default();
        let t0 = Instant::ZERO + Duration::from_secs(10);
        power.close_without_waiting(&mut out);
        power.present_current = Some(reported);
        assert_eq!(
            power.power_down(t0, &mut out, &config, &mut timers, after),
            None
        );
        if let Some(i) = own {
            out.snapshot.apply(
                t0 + Duration::from_millis(200),
                Measurement::InletCurrent(Amps(i)),
            );
        }
        let end = t0 + config.timeouts.current_fall_timeout;
        assert_eq!(timers.pop_expired(end), Some(Timer::CurrentFall));
        let done = power.handle_timer(end, &mut out, &config, &mut timers, Timer::CurrentFall);
        // Opening is deliberate: the contactors are commanded open in every case.
        let mut commands = Vec::new();
        while let Some(c) = out.poll_command() {
            commands.push(c);
        }
        assert!(
            commands.contains(&HardwareCommand::Contactors(ContactorRequest::Open)),
            "{commands:?}"
        );
        (done, out)
    }

    fn failing_events(out: &mut Outbox) -> Vec<String> {
        let mut v = Vec::new();
        while let Some(e) = out.poll_event() {
            if let SessionEvent::Failing(e) = e {
                v.push(e.to_string());
            }
        }
        v
    }

    #[test]
    fn a_normal_stop_whose_current_the_car_sees_still_flowing_fails_loudly() {
        let (done, _) = power_down_while(100.0, Some(80.0), AfterOpen::Continue);
        let Some(PowerDone::Failed(SessionError::Physical(why))) = done else {
            panic!("{done:?}");
        };
        assert!(
            why.starts_with("contactors opened under load: inlet current 80.0 A")
                && why.contains("within 300 ms"),
            "{why}"
        );
    }

    #[test]
    fn a_normal_stop_whose_current_fell_opens_quietly() {
        let (done, mut out) = power_down_while(100.0, Some(0.3), AfterOpen::Continue);
        assert!(!matches!(done, Some(PowerDone::Failed(_))), "{done:?}");
        assert!(failing_events(&mut out).is_empty());
    }

    #[test]
    fn a_safe_shutdown_with_the_charger_still_reporting_current_says_it_opened_under_load() {
        // No reading of the car's own: the charger's last report (100 A) is all it knows.
        let (done, mut out) = power_down_while(100.0, None, AfterOpen::Unlock);
        assert!(!matches!(done, Some(PowerDone::Failed(_))), "{done:?}");
        let failing = failing_events(&mut out);
        assert_eq!(failing.len(), 1, "{failing:?}");
        assert!(
            failing[0].contains(
                "contactors opened under load: charger current 100.0 A (its last report) did \
                 not fall below 1 A within 300 ms as far as the car knows (no newer reading)"
            ),
            "{failing:?}"
        );
    }

    #[test]
    fn an_old_reading_of_the_car_says_nothing_about_the_fall() {
        // A reading from before CP state B does not count: the charger's report decides.
        let config = EvccConfig::default();
        let mut out = Outbox::new();
        let mut timers = TimerTable::default();
        let mut power = EvPowerPath::default();
        let t0 = Instant::ZERO + Duration::from_secs(10);
        out.snapshot.apply(t0, Measurement::InletCurrent(Amps(0.0)));
        power.close_without_waiting(&mut out);
        power.present_current = Some(50.0);
        power.power_down(
            t0 + Duration::from_millis(1),
            &mut out,
            &config,
            &mut timers,
            AfterOpen::Unlock,
        );
        let end = t0 + Duration::from_secs(1);
        power.handle_timer(end, &mut out, &config, &mut timers, Timer::CurrentFall);
        let failing = failing_events(&mut out);
        assert!(
            failing.iter().any(|f| f.contains("charger current 50.0 A")),
            "{failing:?}"
        );
    }
}
