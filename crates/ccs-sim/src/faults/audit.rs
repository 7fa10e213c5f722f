//! The safety audit of a run (DESIGN.md rule 5), from the car's commands and the physics:
//! current down before the contactors open, contactors open before the connector unlocks,
//! never an open under load, never an unlock with the contactors closed or onto a live
//! connector, and at the end the power supply off, no current, contactors open.

use ccs_proto::hardware::{ContactorRequest, CpState, HardwareCommand, LockRequest};
use ccs_proto::time::Instant;

use crate::physics::DcPlant;
use crate::world::{Side, WorldEvent, WorldEventKind};

/// Above this current (A) opening the contactors is a violation: DC contactors are rated to
/// break only small currents; the charger must have ramped down first (IEC 61851-23 gives it
/// 100 ms after CP state B).
pub const OPEN_UNDER_LOAD_LIMIT: f32 = 2.0;

/// At or above this voltage at the connector (V) unlocking is a violation: the DC coupler may
/// be unlocked only below 60 V d.c. (IEC 61851-23).
pub const UNLOCK_VOLTAGE_LIMIT: f32 = 60.0;

/// One safety-relevant command of the car, with the physics at that moment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SafetyStep {
    /// When.
    pub at: Instant,
    /// The command.
    pub command: SafetyCommand,
    /// The DC current at that moment, A.
    pub current: f32,
    /// Whether the contactors were physically closed at that moment.
    pub contactors_closed: bool,
    /// The voltage at the vehicle inlet (the DC link, charger side) at that moment, V.
    pub inlet_voltage: f32,
}

/// The car's commands that the shutdown order is about.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum SafetyCommand {
    /// CP state B (asks the charger to stop the current).
    CpStateB,
    /// Contactors closed.
    CloseContactors,
    /// Contactors open.
    OpenContactors,
    /// Connector unlocked.
    Unlock,
}

/// What the audit found; [`SafetyAudit::violations`] empty = safe.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SafetyAudit {
    /// The car's safety commands in order.
    pub steps: Vec<SafetyStep>,
    /// Every rule broken, in words.
    pub violations: Vec<String>,
    /// Whether the contactors ever closed.
    pub contactors_ever_closed: bool,
    /// The highest current seen while the contactors were closed, A.
    pub max_current: f32,
    last_closed: bool,
    last_locked: bool,
    last_current: f32,
}

impl SafetyAudit {
    /// Looks at one world event (call for every event, in order).
    pub fn event(&mut self, event: &WorldEvent, plant: &DcPlant) {
        if event.side != Side::Ev {
            return;
        }
        let WorldEventKind::Command(command) = &event.kind else {
            return;
        };
        let command = match command {
            HardwareCommand::CpState(CpState::B) => SafetyCommand::CpStateB,
            HardwareCommand::Contactors(ContactorRequest::Closed) => SafetyCommand::CloseContactors,
            HardwareCommand::Contactors(ContactorRequest::Open) => SafetyCommand::OpenContactors,
            HardwareCommand::ConnectorLock(LockRequest::Unlock) => SafetyCommand::Unlock,
            _ => return,
        };
        let current = plant.power_supply().current().0;
        let closed = plant.contactors_closed();
        if command == SafetyCommand::OpenContactors && closed && current > OPEN_UNDER_LOAD_LIMIT {
            self.violations.push(format!(
                "{:.3} s: contactors commanded open under {current:.1} A",
                secs(event.at)
            ));
        }
        if command == SafetyCommand::Unlock && closed {
            self.violations.push(format!(
                "{:.3} s: unlock commanded with the contactors closed",
                secs(event.at)
            ));
        }
        let inlet_voltage = plant.inlet_voltage().0;
        if command == SafetyCommand::Unlock && inlet_voltage.abs() >= UNLOCK_VOLTAGE_LIMIT {
            self.violations.push(format!(
                "{:.3} s: unlock commanded with {inlet_voltage:.1} V at the inlet",
                secs(event.at)
            ));
        }
        self.steps.push(SafetyStep {
            at: event.at,
            command,
            current,
            contactors_closed: closed,
            inlet_voltage,
        });
    }

    /// Looks at the physics after a step.
    pub fn physics(&mut self, now: Instant, plant: &DcPlant) {
        let closed = plant.contactors_closed();
        let locked = plant.locked();
        let current = plant.power_supply().current().0;
        if closed {
            self.contactors_ever_closed = true;
            self.max_current = self.max_current.max(current);
        }
        if self.last_closed && !closed && self.last_current > OPEN_UNDER_LOAD_LIMIT {
            self.violations.push(format!(
                "{:.3} s: contactors opened under {:.1} A",
                secs(now),
                self.last_current
            ));
        }
        if self.last_locked && !locked && closed {
            self.violations.push(format!(
                "{:.3} s: connector unlocked with the contactors closed",
                secs(now)
            ));
        }
        self.last_closed = closed;
        self.last_locked = locked;
        self.last_current = if closed { current } else { 0.0 };
    }

    /// Checks the end state and the order of the shutdown; call once when the world ended.
    pub fn finish(&mut self, plant: &DcPlant, car_finished: bool) {
        if plant.contactors_closed() {
            self.violations
                .push("the contactors are still closed at the end".into());
        }
        if plant.power_supply().setpoint().enabled {
            self.violations
                .push("the power supply is still on at the end".into());
        }
        let current = plant.power_supply().current().0;
        if current.abs() > OPEN_UNDER_LOAD_LIMIT && plant.contactors_closed() {
            self.violations
                .push(format!("{current:.1} A still flowing at the end"));
        }
        if !self.contactors_ever_closed || !car_finished {
            return;
        }
        // After the last close: CP state B (or an open at low current), then open, then
        // unlock.
        let Some(last_close) = self
            .steps
            .iter()
            .rposition(|s| s.command == SafetyCommand::CloseContactors)
        else {
            return;
        };
        let after = &self.steps[last_close..];
        let open = after
            .iter()
            .position(|s| s.command == SafetyCommand::OpenContactors);
        let unlock = after
            .iter()
            .position(|s| s.command == SafetyCommand::Unlock);
        let cp_b = after
            .iter()
            .position(|s| s.command == SafetyCommand::CpStateB);
        match (cp_b, open, unlock) {
            (_, None, _) => self
                .violations
                .push("the contactors were never commanded open".into()),
            (Some(b), Some(o), _) if b > o => self
                .violations
                .push("contactors opened before CP state B".into()),
            (None, Some(_), _) => self
                .violations
                .push("contactors opened without CP state B".into()),
            (_, Some(o), Some(u)) if u < o => self
                .violations
                .push("connector unlocked before the contactors opened".into()),
            _ => {}
        }
    }
}

fn secs(at: Instant) -> f64 {
    at.total_micros() as f64 / 1e6
}
