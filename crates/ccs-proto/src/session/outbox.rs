//! What a session has to say, queued until the driver polls it, and what it knows about the
//! hardware. Shared by the handshake and every protocol machine of one session.

use std::collections::VecDeque;

use crate::hardware::{Amps, HardwareCommand, MeasurementSnapshot, Volts};
use crate::session::{ChargingValues, Outcome, Phase, SessionEvent, Transmit};
use crate::v2gtp::PayloadType;

/// The queues of one session and its view of the hardware.
#[derive(Clone, Debug)]
pub(crate) struct Outbox {
    transmits: VecDeque<Transmit>,
    commands: VecDeque<HardwareCommand>,
    events: VecDeque<SessionEvent>,
    phase: Phase,
    values: ChargingValues,
    outcome: Option<Outcome>,
    /// The charger: its present output (EVSEPresentVoltage / EVSEPresentCurrent) also goes
    /// to the hardware as [`HardwareCommand::ChargerPresent`], for status displays (the
    /// car sends that command itself, from the responses it receives).
    report_present_output: bool,
    /// The latest hardware readings, applied as they arrive.
    pub(crate) snapshot: MeasurementSnapshot,
    /// The charger's isolation monitor reported a fault in this session: it stays a fault
    /// whatever the monitor says next (IEC 61851-23: an insulation fault ends the energy
    /// transfer; a verdict wavering at the threshold must not switch the output back on).
    pub(crate) isolation_fault: bool,
}

impl Outbox {
    pub(crate) fn new() -> Self {
        Self {
            transmits: VecDeque::new(),
            commands: VecDeque::new(),
            events: VecDeque::new(),
            phase: Phase::Handshake,
            values: ChargingValues::default(),
            outcome: None,
            report_present_output: false,
            snapshot: MeasurementSnapshot::default(),
            isolation_fault: false,
        }
    }

    /// The charger's outbox: see `report_present_output`.
    pub(crate) fn for_charger() -> Self {
        Self {
            report_present_output: true,
            ..Self::new()
        }
    }

    /// Queues an EXI message and its [`SessionEvent::Sent`].
    pub(crate) fn send(&mut self, payload: Vec<u8>, name: &'static str, summary: String) {
        self.send_as(PayloadType::Exi, payload, name, summary);
    }

    /// Queues a message with its own V2GTP payload type (ISO 15118-20: `0x8002` for the
    /// common messages, `0x8004` for DC) and its [`SessionEvent::Sent`].
    pub(crate) fn send_as(
        &mut self,
        payload_type: PayloadType,
        payload: Vec<u8>,
        name: &'static str,
        summary: String,
    ) {
        self.transmits.push_back(Transmit::Message {
            payload_type,
            payload,
        });
        self.events.push_back(SessionEvent::Sent { name, summary });
    }

    /// Queues a [`SessionEvent::Received`].
    pub(crate) fn received(&mut self, name: &'static str, summary: String) {
        self.events
            .push_back(SessionEvent::Received { name, summary });
    }

    /// Asks the driver to close the connection (once).
    pub(crate) fn close(&mut self) {
        if !self.transmits.contains(&Transmit::Close) {
            self.transmits.push_back(Transmit::Close);
        }
    }

    pub(crate) fn command(&mut self, command: HardwareCommand) {
        self.commands.push_back(command);
    }

    pub(crate) fn event(&mut self, event: SessionEvent) {
        self.events.push_back(event);
    }

    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    /// Enters `phase`: a [`SessionEvent::PhaseChanged`] and the state text for displays.
    pub(crate) fn set_phase(&mut self, phase: Phase) {
        if self.phase != phase {
            self.phase = phase;
            self.events.push_back(SessionEvent::PhaseChanged(phase));
            self.commands
                .push_back(HardwareCommand::SessionState(format!("{phase:?}")));
        }
    }

    /// Changes the charging values; a [`SessionEvent::Values`] if anything changed.
    pub(crate) fn update_values(&mut self, change: impl FnOnce(&mut ChargingValues)) {
        let before = self.values;
        change(&mut self.values);
        if self.values != before {
            self.events.push_back(SessionEvent::Values(self.values));
        }
        let present = |v: &ChargingValues| (v.present_voltage, v.present_current);
        if self.report_present_output
            && present(&self.values) != present(&before)
            && let (Some(voltage), current) = present(&self.values)
        {
            self.commands.push_back(HardwareCommand::ChargerPresent {
                voltage: Volts(voltage),
                current: Amps(current.unwrap_or(0.0)),
            });
        }
    }

    /// Ends the session (once): phase Finished and [`SessionEvent::Finished`].
    pub(crate) fn finish(&mut self, outcome: Outcome) {
        if self.outcome.is_some() {
            return;
        }
        self.set_phase(Phase::Finished);
        self.outcome = Some(outcome.clone());
        self.events.push_back(SessionEvent::Finished(outcome));
    }

    pub(crate) fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.outcome.is_some()
    }

    pub(crate) fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub(crate) fn poll_command(&mut self) -> Option<HardwareCommand> {
        self.commands.pop_front()
    }

    pub(crate) fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commands(out: &mut Outbox) -> Vec<HardwareCommand> {
        out.commands.drain(..).collect()
    }

    #[test]
    fn the_charger_reports_its_present_output_when_it_changes() {
        let mut out = Outbox::for_charger();
        out.update_values(|v| v.soc = Some(50.0));
        assert!(commands(&mut out).is_empty());
        out.update_values(|v| v.present_voltage = Some(380.0));
        let present = |voltage, current| HardwareCommand::ChargerPresent {
            voltage: Volts(voltage),
            current: Amps(current),
        };
        assert_eq!(commands(&mut out), [present(380.0, 0.0)]);
        out.update_values(|v| v.present_current = Some(99.5));
        assert_eq!(commands(&mut out), [present(380.0, 99.5)]);
        out.update_values(|v| v.present_current = Some(99.5));
        assert!(commands(&mut out).is_empty());
        // The car reports what it received itself.
        let mut car = Outbox::new();
        car.update_values(|v| v.present_voltage = Some(380.0));
        assert!(commands(&mut car).is_empty());
    }
}
