//! The unlock at the end of the car's session, contactors open.
//!
//! The unlock waits for the voltage (IEC 61851-23: the DC coupler may be unlocked only
//! below 60 V d.c., [`EvccConfig::unlock_voltage_limit`]). Every reading since CP state B
//! (the stop's first) must be below the limit:
//!
//! - The charger's last EVSEPresentVoltage after CP state B (WeldingDetection, whatever its
//!   response code): at or above the limit the connector stays locked at once, as no newer
//!   report will come (the dangerous quirk
//!   [`crate::session::EvccQuirks::danger_unlock_despite_charger_voltage`] ignores it, for
//!   chargers that report a stale or simulated voltage there, and says so).
//! - A car with an inlet voltage measurement waits for a fresh reading newer than CP state B
//!   below the limit; if none comes within
//!   [`crate::session::EvccTimeouts::unlock_voltage_timeout`] the connector stays locked and
//!   the session fails (`connector stays locked: ...`, the charger's output is live).
//! - If that measurement failed its plausibility check in this session (it read 0 V while
//!   the charger said 400 V: one of the two is wrong, and the car cannot tell which), its
//!   reading counts only together with a charger report below the limit since the stop.
//!   Without one (a safe shutdown sends no more requests) the connector stays locked: the
//!   car has no trustworthy evidence that the connector is dead, and unlocking onto a live
//!   output is the worse mistake (the inlet lock's manual release is the way out).
//! - With neither an inlet measurement nor a report since the stop (a safe shutdown of a
//!   car without one, pyPLC's devices) the car unlocks as pyPLC does and says in a status
//!   text that the voltage was not verified.
//!
//! AC sessions (ISO 15118-2 AC) skip this: the 60 V d.c. rule is IEC 61851-23's, for the DC
//! coupler; the AC connector's lock follows IEC 61851-1 (the charger switches its supply off
//! when the car leaves state C), and a DC inlet sensor says nothing about the AC pins.

use super::{EvPowerPath, PowerDone, Wait};
use crate::hardware::{Amps, HardwareCommand, LockRequest, Volts};
use crate::session::SessionError;
use crate::session::config::EvccConfig;
use crate::session::outbox::Outbox;
use crate::session::timers::{Timer, TimerTable};
use crate::time::Instant;

impl EvPowerPath {
    /// A WeldingDetectionRes's EVSEPresentVoltage, whatever its response code (a FAILED
    /// response still reporting 400 V is evidence all the same): one of the unlock's inputs,
    /// and the decaying voltage for the BMS and displays, as in the charge loop.
    pub(crate) fn welding_report(&mut self, now: Instant, out: &mut Outbox, volts: f32) {
        self.charger_voltage = Some((now, volts));
        out.command(HardwareCommand::ChargerPresent {
            voltage: Volts(volts),
            current: Amps(0.0),
        });
        out.update_values(|v| {
            v.present_voltage = Some(volts);
            v.present_current = Some(0.0);
        });
    }

    /// The end of the session, contactors open: unlock once the voltage allows it (see the
    /// module docs). `None`: waiting for the inlet voltage to fall.
    pub(crate) fn unlock(
        &mut self,
        now: Instant,
        out: &mut Outbox,
        config: &EvccConfig,
        timers: &mut TimerTable,
    ) -> Option<PowerDone> {
        if !self.lock_commanded {
            // Never locked: nothing holds the connector, the unlock is a formality.
            return Some(self.unlocked_now(out, timers));
        }
        if self.ac {
            // AC: IEC 61851-1's rule, not IEC 61851-23's 60 V d.c. one; the charger switched
            // its supply off when the car left state C, and there is no DC output to wait for.
            return Some(self.unlocked_now(out, timers));
        }
        let limit = config.unlock_voltage_limit;
        let live = |v: f32| v.abs() >= limit.0;
        let inlet = self.inlet_after_stop(now, out, config);
        let mut charger = self.charger_after_stop();
        let mut ignored = None;
        if let Some(v) = charger.filter(|v| live(*v)) {
            // No newer report will come: a live one keeps the connector locked at once,
            // whatever the inlet says (every reading since the stop must be below the limit).
            if !config.quirks.danger_unlock_despite_charger_voltage {
                return Some(self.stay_locked(
                    out,
                    timers,
                    format!(
                        "connector stays locked: the charger reported {v:.1} V after the \
                         stop, not below {limit} (its output is live)"
                    ),
                ));
            }
            ignored = Some(v);
            charger = None;
        }
        let verdict = match (inlet, charger) {
            // The inlet failed its plausibility check: its reading counts only together with
            // a charger report below the limit since the stop.
            (InletAfterStop::Reading(_) | InletAfterStop::Pending, None)
                if self.inlet_distrusted =>
            {
                Verdict::StayLocked(format!(
                    "connector stays locked: the inlet voltage measurement failed its \
                     plausibility check in this session and no charger report since the stop \
                     shows the voltage below {limit}"
                ))
            }
            (InletAfterStop::Reading(v), _) if !live(v) => Verdict::Unlock,
            (InletAfterStop::Reading(_) | InletAfterStop::Pending, _) => Verdict::Wait,
            (InletAfterStop::Unmeasured, Some(_)) => Verdict::Unlock,
            (InletAfterStop::Unmeasured, None) => {
                if ignored.is_none() {
                    out.command(HardwareCommand::SessionState(
                        "unlocking without a voltage check (no inlet voltage measurement, no \
                         charger report since the stop)"
                            .into(),
                    ));
                }
                Verdict::Unlock
            }
        };
        match verdict {
            Verdict::Unlock => {
                if let Some(v) = ignored {
                    let basis = match inlet {
                        InletAfterStop::Reading(u) => format!("inlet voltage {u:.1} V"),
                        _ => "no inlet voltage measurement".to_owned(),
                    };
                    out.command(HardwareCommand::SessionState(format!(
                        "unlocking although the charger reported {v:.1} V after the stop \
                         (quirk danger_unlock_despite_charger_voltage; {basis})"
                    )));
                }
                Some(self.unlocked_now(out, timers))
            }
            Verdict::StayLocked(why) => Some(self.stay_locked(out, timers, why)),
            Verdict::Wait => {
                if self.wait != Some(Wait::Unlock) {
                    self.wait = Some(Wait::Unlock);
                    timers.set(
                        Timer::UnlockVoltage,
                        now + config.timeouts.unlock_voltage_timeout,
                    );
                }
                None
            }
        }
    }

    /// [`Timer::UnlockVoltage`] expired: the inlet stayed live, the connector stays locked.
    pub(super) fn unlock_timed_out(
        &mut self,
        now: Instant,
        out: &mut Outbox,
        config: &EvccConfig,
        timers: &mut TimerTable,
    ) -> PowerDone {
        let limit = config.unlock_voltage_limit;
        let waited = config.timeouts.unlock_voltage_timeout.total_millis();
        let last = match self.inlet_after_stop(now, out, config) {
            InletAfterStop::Reading(v) => format!("inlet voltage {v:.1} V"),
            _ => "no fresh inlet voltage reading".into(),
        };
        self.stay_locked(
            out,
            timers,
            format!(
                "connector stays locked: {last}, not below {limit} within {waited} ms \
                 of the contactors opening (the charger's output is live)"
            ),
        )
    }

    fn unlocked_now(&mut self, out: &mut Outbox, timers: &mut TimerTable) -> PowerDone {
        timers.stop(Timer::UnlockVoltage);
        self.wait = None;
        out.command(HardwareCommand::ConnectorLock(LockRequest::Unlock));
        PowerDone::Unlocked
    }

    fn stay_locked(&mut self, out: &mut Outbox, timers: &mut TimerTable, why: String) -> PowerDone {
        timers.stop(Timer::UnlockVoltage);
        self.wait = None;
        out.command(HardwareCommand::SessionState(why.clone()));
        PowerDone::StayLocked(SessionError::Physical(why))
    }

    /// The car's inlet measurement since CP state B.
    fn inlet_after_stop(&self, now: Instant, out: &Outbox, config: &EvccConfig) -> InletAfterStop {
        let inlet = &out.snapshot.inlet_voltage;
        let Some(at) = inlet.updated_at() else {
            return InletAfterStop::Unmeasured;
        };
        // Only a fresh reading from after the stop counts.
        match inlet.fresh(now, config.measurement_max_age) {
            Ok(v) if self.after_cp_b(at) => InletAfterStop::Reading(v.0),
            _ => InletAfterStop::Pending,
        }
    }

    /// The charger's last EVSEPresentVoltage, if it came after CP state B (WeldingDetection).
    fn charger_after_stop(&self) -> Option<f32> {
        self.charger_voltage
            .filter(|(at, _)| self.after_cp_b(*at))
            .map(|(_, v)| v)
    }

    fn after_cp_b(&self, at: Instant) -> bool {
        self.cp_b_at.is_none_or(|b| at >= b)
    }
}

/// What the unlock rule decides now.
enum Verdict {
    Unlock,
    /// Wait for a fresh inlet reading below the limit.
    Wait,
    StayLocked(String),
}

/// The car's inlet voltage measurement after the stop.
#[derive(Clone, Copy, Debug, PartialEq)]
enum InletAfterStop {
    /// The car has no inlet voltage measurement (pyPLC's devices).
    Unmeasured,
    /// The car measures its inlet, but has no fresh reading from after CP state B yet.
    Pending,
    /// A fresh reading newer than CP state B.
    Reading(f32),
}

#[cfg(test)]
mod tests {
    use super::super::AfterOpen;
    use super::*;
    use crate::hardware::Measurement;
    use crate::time::Duration;

    fn inlet_at(out: &mut Outbox, at: Instant, volts: f32) {
        out.snapshot
            .apply(at, Measurement::InletVoltage(Volts(volts)));
    }

    /// A locked session whose contactors closed: the safe shutdown begins at `t0` with no
    /// current flowing; `before` is the hook to feed readings from before CP state B, `after`
    /// those between CP state B and the contactors' open feedback (at `t0` + 50 ms). Returns
    /// what the open feedback brought.
    struct Shutdown {
        config: EvccConfig,
        out: Outbox,
        timers: TimerTable,
        power: EvPowerPath,
        opened_at: Instant,
        done: Option<PowerDone>,
    }

    fn shut_down(
        before: impl FnOnce(&mut EvPowerPath, &mut Outbox, Instant),
        after: impl FnOnce(&mut EvPowerPath, &mut Outbox, Instant),
    ) -> Shutdown {
        shut_down_with(EvccConfig::default(), before, after)
    }

    fn shut_down_with(
        config: EvccConfig,
        before: impl FnOnce(&mut EvPowerPath, &mut Outbox, Instant),
        after: impl FnOnce(&mut EvPowerPath, &mut Outbox, Instant),
    ) -> Shutdown {
        let mut out = Outbox::new();
        let mut timers = TimerTable::default();
        let mut power = EvPowerPath::default();
        let t0 = Instant::ZERO + Duration::from_secs(30);
        power.lock(
            t0 - Duration::from_secs(20),
            &mut out,
            &config,
            &mut timers,
            true,
        );
        power.handle_measurement(
            t0 - Duration::from_secs(20),
            &mut out,
            &config,
            &mut timers,
            Measurement::ConnectorLocked(true),
        );
        power.close_without_waiting(&mut out);
        power.present_current = Some(0.0);
        before(&mut power, &mut out, t0);
        assert_eq!(
            power.power_down(t0, &mut out, &config, &mut timers, AfterOpen::Unlock),
            None
        );
        let opened_at = t0 + Duration::from_millis(50);
        after(&mut power, &mut out, opened_at);
        let feedback = Measurement::ContactorsClosed(false);
        out.snapshot.apply(opened_at, feedback);
        let done = power.handle_measurement(opened_at, &mut out, &config, &mut timers, feedback);
        Shutdown {
            config,
            out,
            timers,
            power,
            opened_at,
            done,
        }
    }

    impl Shutdown {
        fn unlock_commanded(&mut self) -> bool {
            commands(&mut self.out).contains(&HardwareCommand::ConnectorLock(LockRequest::Unlock))
        }

        fn inlet(&mut self, at: Instant, volts: f32) -> Option<PowerDone> {
            let m = Measurement::InletVoltage(Volts(volts));
            self.out.snapshot.apply(at, m);
            self.power
                .handle_measurement(at, &mut self.out, &self.config, &mut self.timers, m)
        }
    }

    #[test]
    fn with_an_inlet_measurement_the_unlock_waits_until_the_voltage_is_below_60_v() {
        let mut s = shut_down(|_, _, _| {}, |_, out, at| inlet_at(out, at, 400.0));
        assert_eq!(s.done, None);
        assert!(!s.unlock_commanded());
        assert!(s.power.is_unlocking());
        let t = s.opened_at + Duration::from_millis(900);
        assert_eq!(s.inlet(t, 61.0), None);
        assert!(!s.unlock_commanded());
        assert_eq!(
            s.inlet(t + Duration::from_millis(100), 59.0),
            Some(PowerDone::Unlocked)
        );
        assert!(s.unlock_commanded());
        assert!(!s.power.is_unlocking());
        assert_eq!(s.timers.deadline(Timer::UnlockVoltage), None);
    }

    #[test]
    fn an_inlet_that_stays_live_keeps_the_connector_locked_and_fails() {
        let mut s = shut_down(|_, _, _| {}, |_, out, at| inlet_at(out, at, 400.0));
        let expiry = s.opened_at + s.config.timeouts.unlock_voltage_timeout;
        assert_eq!(s.timers.deadline(Timer::UnlockVoltage), Some(expiry));
        assert_eq!(
            s.inlet(expiry - Duration::from_millis(100), 390.0),
            None,
            "still live, still waiting"
        );
        assert_eq!(s.timers.pop_expired(expiry), Some(Timer::UnlockVoltage));
        let done = s.power.handle_timer(
            expiry,
            &mut s.out,
            &s.config,
            &mut s.timers,
            Timer::UnlockVoltage,
        );
        let Some(PowerDone::StayLocked(SessionError::Physical(why))) = done else {
            panic!("{done:?}");
        };
        assert_eq!(
            why,
            "connector stays locked: inlet voltage 390.0 V, not below 60.0 V within 5000 ms of \
             the contactors opening (the charger's output is live)"
        );
        assert!(!s.unlock_commanded());
        assert!(!s.power.is_unlocking());
    }

    #[test]
    fn an_inlet_reading_from_before_the_stop_does_not_count() {
        // 0 V read before CP state B says nothing about the charger's output after it.
        let mut s = shut_down(
            |_, out, t0| inlet_at(out, t0 - Duration::from_millis(10), 0.0),
            |_, _, _| {},
        );
        assert_eq!(s.done, None);
        assert!(!s.unlock_commanded());
        assert_eq!(
            s.inlet(s.opened_at + Duration::from_millis(20), 0.0),
            Some(PowerDone::Unlocked)
        );
    }

    #[test]
    fn the_quirk_unlocks_despite_a_live_charger_report_and_says_so() {
        let mut config = EvccConfig::default();
        config.quirks.danger_unlock_despite_charger_voltage = true;
        let mut s = shut_down_with(
            config,
            |_, _, _| {},
            |power, out, at| power.welding_report(at, out, 410.0),
        );
        assert_eq!(s.done, Some(PowerDone::Unlocked));
        let said = commands(&mut s.out);
        assert!(said.contains(&HardwareCommand::ConnectorLock(LockRequest::Unlock)));
        assert!(
            said.iter()
                .any(|c| matches!(c, HardwareCommand::SessionState(t)
            if t.starts_with("unlocking although the charger reported 410.0 V")))
        );
    }

    /// A normal stop up to WeldingDetection: locked, contactors closed, PowerDelivery(stop),
    /// CP state B at `t0`, contactors open and confirmed.
    fn normal_stop_until_welding_detection(
        config: &EvccConfig,
    ) -> (EvPowerPath, Outbox, TimerTable, Instant) {
        let mut out = Outbox::new();
        let mut timers = TimerTable::default();
        let mut power = EvPowerPath::default();
        let t0 = Instant::ZERO + Duration::from_secs(30);
        power.lock(
            t0 - Duration::from_secs(20),
            &mut out,
            config,
            &mut timers,
            true,
        );
        let locked = Measurement::ConnectorLocked(true);
        power.handle_measurement(
            t0 - Duration::from_secs(20),
            &mut out,
            config,
            &mut timers,
            locked,
        );
        power.close_without_waiting(&mut out);
        power.present_current = Some(0.0);
        assert_eq!(
            power.power_down(t0, &mut out, config, &mut timers, AfterOpen::Continue),
            None
        );
        let fallen = t0 + config.timeouts.current_fall_timeout;
        assert_eq!(timers.pop_expired(fallen), Some(Timer::CurrentFall));
        power.handle_timer(fallen, &mut out, config, &mut timers, Timer::CurrentFall);
        let opened_at = fallen + Duration::from_millis(50);
        let open = Measurement::ContactorsClosed(false);
        out.snapshot.apply(opened_at, open);
        assert_eq!(
            power.handle_measurement(opened_at, &mut out, config, &mut timers, open),
            Some(PowerDone::ContactorsOpen)
        );
        (power, out, timers, opened_at)
    }

    /// WeldingDetection reported 300 V, then the charger dropped the connection around
    /// SessionStop: the safe shutdown commands CP state B a second time, and that must not
    /// make the 300 V report count as older than the stop (it used to: "unlocking without a
    /// voltage check" onto a live output).
    #[test]
    fn a_failure_after_welding_detection_keeps_the_charger_report_as_evidence() {
        let config = EvccConfig::default();
        let (mut power, mut out, mut timers, opened_at) =
            normal_stop_until_welding_detection(&config);
        let welding = opened_at + Duration::from_millis(100);
        power.welding_report(welding, &mut out, 300.0);
        let lost = welding + Duration::from_secs(2);
        let done = power.power_down(lost, &mut out, &config, &mut timers, AfterOpen::Unlock);
        let Some(PowerDone::StayLocked(SessionError::Physical(why))) = done else {
            panic!("{done:?}");
        };
        assert!(
            why.contains("the charger reported 300.0 V after the stop"),
            "{why}"
        );
        while let Some(c) = out.poll_command() {
            assert_ne!(c, HardwareCommand::ConnectorLock(LockRequest::Unlock));
        }
    }

    #[test]
    fn without_an_inlet_measurement_the_charger_report_after_the_stop_decides() {
        // WeldingDetection reported 300 V: no newer report will come, stay locked at once.
        let mut s = shut_down(
            |_, _, _| {},
            |power, out, at| power.welding_report(at, out, 300.0),
        );
        let Some(PowerDone::StayLocked(SessionError::Physical(why))) = &s.done else {
            panic!("{:?}", s.done);
        };
        assert!(
            why.starts_with("connector stays locked: the charger reported 300.0 V after the stop"),
            "{why}"
        );
        assert!(!s.unlock_commanded());
        // 20 V: unlock.
        let mut s = shut_down(
            |_, _, _| {},
            |power, out, at| power.welding_report(at, out, 20.0),
        );
        assert_eq!(s.done, Some(PowerDone::Unlocked));
        assert!(s.unlock_commanded());
        // A report from before the stop (the charge loop's 400 V) is no evidence either way:
        // pyPLC's behaviour, unlock, and say the voltage was not verified.
        let mut s = shut_down(
            |power, out, t0| power.welding_report(t0 - Duration::from_millis(100), out, 400.0),
            |_, _, _| {},
        );
        assert_eq!(s.done, Some(PowerDone::Unlocked));
        let said = commands(&mut s.out);
        assert!(said.contains(&HardwareCommand::ConnectorLock(LockRequest::Unlock)));
        assert!(
            said.iter()
                .any(|c| matches!(c, HardwareCommand::SessionState(t)
                if t.starts_with("unlocking without a voltage check"))),
            "{said:?}"
        );
    }

    /// The charger said 400 V while the inlet read 0 V for the debounce time: the session
    /// fails and the inlet measurement is distrusted from then on.
    fn distrust_the_inlet(power: &mut EvPowerPath, out: &mut Outbox, t0: Instant) {
        let config = EvccConfig::default();
        let start = t0 - Duration::from_secs(5);
        let mut failed = false;
        for ms in (0..=2000).step_by(100) {
            let t = start + Duration::from_millis(ms);
            inlet_at(out, t, 0.0);
            failed |= power.check_inlet(t, out, &config, 400.0).is_err();
        }
        assert!(failed);
    }

    /// Every command queued so far, taken out.
    fn commands(out: &mut Outbox) -> Vec<HardwareCommand> {
        std::iter::from_fn(|| out.poll_command()).collect()
    }

    fn status_texts(out: &mut Outbox) -> Vec<String> {
        commands(out)
            .into_iter()
            .filter_map(|c| match c {
                HardwareCommand::SessionState(t) => Some(t),
                _ => None,
            })
            .collect()
    }

    /// After the plausibility check failed on a 0 V inlet against the charger's 400 V, the
    /// same 0 V reading after the stop proves nothing: the connector stays locked (it used
    /// to unlock at once on it).
    #[test]
    fn an_inlet_that_failed_its_plausibility_check_alone_does_not_unlock() {
        let mut s = shut_down(distrust_the_inlet, |_, out, at| inlet_at(out, at, 0.0));
        let Some(PowerDone::StayLocked(SessionError::Physical(why))) = &s.done else {
            panic!("{:?}", s.done);
        };
        assert!(
            why.starts_with(
                "connector stays locked: the inlet voltage measurement failed its plausibility \
                 check in this session"
            ),
            "{why}"
        );
        assert!(!s.unlock_commanded());
        // With the charger's report below the limit since the stop, both agree: unlock.
        let mut s = shut_down(distrust_the_inlet, |power, out, at| {
            power.welding_report(at, out, 20.0);
            inlet_at(out, at, 0.0);
        });
        assert_eq!(s.done, Some(PowerDone::Unlocked));
        assert!(s.unlock_commanded());
    }

    /// Both an inlet reading and a charger report since the stop: every one must be below
    /// the limit (the inlet's 0 V used to outvote the charger's 300 V).
    #[test]
    fn a_live_charger_report_after_the_stop_outweighs_a_low_inlet_reading() {
        let mut s = shut_down(
            |_, _, _| {},
            |power, out, at| {
                power.welding_report(at, out, 300.0);
                inlet_at(out, at, 0.0);
            },
        );
        let Some(PowerDone::StayLocked(SessionError::Physical(why))) = &s.done else {
            panic!("{:?}", s.done);
        };
        assert!(
            why.starts_with("connector stays locked: the charger reported 300.0 V after the stop"),
            "{why}"
        );
        assert!(!s.unlock_commanded());
        // The dangerous quirk lets the inlet decide, and says so.
        let mut config = EvccConfig::default();
        config.quirks.danger_unlock_despite_charger_voltage = true;
        let mut s = shut_down_with(
            config,
            |_, _, _| {},
            |power, out, at| {
                power.welding_report(at, out, 300.0);
                inlet_at(out, at, 0.0);
            },
        );
        assert_eq!(s.done, Some(PowerDone::Unlocked));
        let said = status_texts(&mut s.out);
        assert!(
            said.iter().any(|t| t
                == "unlocking although the charger reported 300.0 V after the stop (quirk \
                    danger_unlock_despite_charger_voltage; inlet voltage 0.0 V)"),
            "{said:?}"
        );
    }

    /// AC (ISO 15118-2 AC): the DC rule does not apply; an inlet sensor reading the mains
    /// does not hold the unlock back, and no "voltage not checked" text.
    #[test]
    fn an_ac_session_unlocks_without_the_dc_voltage_rule() {
        let config = EvccConfig::default();
        let mut out = Outbox::new();
        let mut timers = TimerTable::default();
        let mut power = EvPowerPath::ac();
        let t0 = Instant::ZERO + Duration::from_secs(30);
        power.lock(t0, &mut out, &config, &mut timers, false);
        let locked = Measurement::ConnectorLocked(true);
        power.handle_measurement(t0, &mut out, &config, &mut timers, locked);
        let stop = t0 + Duration::from_secs(10);
        inlet_at(&mut out, stop, 230.0);
        out.snapshot
            .apply(stop, Measurement::ContactorsClosed(false));
        assert_eq!(
            power.power_down(stop, &mut out, &config, &mut timers, AfterOpen::Unlock),
            Some(PowerDone::Unlocked)
        );
        assert!(status_texts(&mut out).is_empty());
    }
}
