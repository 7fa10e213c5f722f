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

use crate::hardware::{
    ContactorRequest, CpState, HardwareCommand, HardwareFault, HardwareFaultKind, LockRequest,
    Measurement,
};
use crate::session::SessionError;
use crate::session::config::EvccConfig;
use crate::session::outbox::Outbox;
use crate::session::timers::{Timer, TimerTable};
use crate::time::Instant;

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
}

/// A finished hardware step.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum PowerDone {
    /// The connector is locked.
    Locked,
    /// The contactors are closed.
    ContactorsClosed,
    /// The contactors are open; after [`AfterOpen::Unlock`] the unlock is already commanded.
    ContactorsOpen(AfterOpen),
    /// A step failed (no lock or close confirmation): the safe shutdown follows.
    Failed(SessionError),
    /// The contactors never confirmed open: the session ends here and the connector stays
    /// locked (never unlock with the contactors closed).
    StayLocked(SessionError),
}

/// The car's contactors, lock and CP state during one session.
#[derive(Clone, Debug, Default)]
pub(crate) struct EvPowerPath {
    wait: Option<Wait>,
    locked: bool,
    contactors_commanded_closed: bool,
    /// The charger's last reported current (decides whether the current has fallen).
    pub(crate) present_current: Option<f32>,
}

impl EvPowerPath {
    /// Whether the connector has been locked in this session.
    pub(crate) fn is_locked(&self) -> bool {
        self.locked
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
        out.command(HardwareCommand::ConnectorLock(LockRequest::Lock));
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
            _ => {}
        }
        out.command(HardwareCommand::CpState(CpState::B));
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
        (config.contactor_feedback && open_now).then(|| self.opened_now(out, timers, after))
    }

    fn opened_now(
        &mut self,
        out: &mut Outbox,
        timers: &mut TimerTable,
        after: AfterOpen,
    ) -> PowerDone {
        timers.stop(Timer::ContactorsOpen);
        self.wait = None;
        self.contactors_commanded_closed = false;
        if after == AfterOpen::Unlock {
            out.command(HardwareCommand::ConnectorLock(LockRequest::Unlock));
        }
        PowerDone::ContactorsOpen(after)
    }

    /// A measurement that may end a wait.
    pub(crate) fn handle_measurement(
        &mut self,
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
                Some(self.opened_now(out, timers, after))
            }
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
                self.open(now, out, config, timers, after)
            }
            (Timer::ContactorsOpen, Wait::ContactorsOpen(after)) => {
                if !config.contactor_feedback {
                    return Some(self.opened_now(out, timers, after));
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
            _ => None,
        }
    }
}

/// The readings the car's requests carry, from the hardware snapshot or the configured
/// fallbacks.
pub(crate) struct EvReadings<'a> {
    /// The session's configuration.
    pub(crate) config: &'a EvccConfig,
    /// pyPLC `soc_simulation`: the simulated SoC.
    pub(crate) simulated_soc: f32,
}

impl EvReadings<'_> {
    /// The SoC to report (percent, rounded).
    pub(crate) fn soc(&self, now: Instant, out: &Outbox) -> Result<u8, SessionError> {
        match out.snapshot.soc.fresh(now, self.config.measurement_max_age) {
            Ok(soc) => Ok(soc.0.clamp(0.0, 100.0).round() as u8),
            Err(_) if self.config.soc_simulation => {
                Ok(self.simulated_soc.clamp(0.0, 100.0).round() as u8)
            }
            Err(e) => Err(SessionError::Hardware(HardwareFault {
                adapter: "session".into(),
                kind: HardwareFaultKind::Device(e.to_string()),
            })),
        }
    }

    /// The battery voltage (PreCharge target), measured or the configured fallback.
    pub(crate) fn battery_voltage(&self, now: Instant, out: &Outbox) -> Result<f32, SessionError> {
        match out
            .snapshot
            .battery_voltage
            .fresh(now, self.config.measurement_max_age)
        {
            Ok(v) => Ok(v.0),
            Err(e) => self
                .config
                .fallback_battery_voltage
                .map(|v| v.0)
                .ok_or_else(|| SessionError::Physical(format!("battery voltage: {e}"))),
        }
    }

    /// EVTargetVoltage and EVTargetCurrent: the BMS's, else the configured ones, capped by
    /// the car's maxima.
    pub(crate) fn target(&self, now: Instant, out: &Outbox) -> (f32, f32) {
        let max_age = self.config.measurement_max_age;
        let u = out
            .snapshot
            .target_voltage
            .fresh(now, max_age)
            .map_or(self.config.charge_target_voltage.0, |v| v.0);
        let i = out
            .snapshot
            .target_current
            .fresh(now, max_age)
            .map_or(self.config.charge_target_current.0, |a| a.0);
        (
            u.min(self.config.ev.max_voltage.0),
            i.min(self.config.ev.max_current.0),
        )
    }

    /// ccs32clara's plausibility check: the measured inlet voltage agrees with what the
    /// charger reports.
    pub(crate) fn check_inlet_plausible(
        &self,
        now: Instant,
        out: &Outbox,
        reported: f32,
    ) -> Result<(), SessionError> {
        let Some(tolerance) = self.config.inlet_voltage_plausibility_tolerance else {
            return Ok(());
        };
        let Ok(inlet) = out
            .snapshot
            .inlet_voltage
            .fresh(now, self.config.measurement_max_age)
        else {
            return Ok(());
        };
        if (inlet.0 - reported).abs() > tolerance.0 {
            return Err(SessionError::Physical(format!(
                "inlet voltage {inlet} disagrees with EVSEPresentVoltage {reported} V"
            )));
        }
        Ok(())
    }

    /// The charger's voltage that decides the end of PreCharge (reported or measured).
    pub(crate) fn precharge_voltage(
        &self,
        now: Instant,
        out: &Outbox,
        reported: f32,
    ) -> Result<f32, SessionError> {
        match self.config.precharge_voltage_source {
            crate::session::PrechargeVoltageSource::EvsePresentVoltage => Ok(reported),
            crate::session::PrechargeVoltageSource::InletVoltage => out
                .snapshot
                .inlet_voltage
                .fresh(now, self.config.measurement_max_age)
                .map(|v| v.0)
                .map_err(|e| SessionError::Physical(e.to_string())),
        }
    }

    /// Whether PreCharge is done: |U_charger − U_battery| below pyPLC's
    /// `u_delta_max_for_end_of_precharge`.
    pub(crate) fn precharge_matched(
        &self,
        now: Instant,
        out: &Outbox,
        reported: f32,
    ) -> Result<bool, SessionError> {
        self.check_inlet_plausible(now, out, reported)?;
        let charger = self.precharge_voltage(now, out, reported)?;
        let battery = self.battery_voltage(now, out)?;
        Ok((charger - battery).abs() < self.config.u_delta_max_for_end_of_precharge.0)
    }
}
