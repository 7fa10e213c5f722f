//! The live trace of `ev`, `evse` and `listen`: one line per event, in the format of
//! `ccsplc sim` (time, side, text, then the DC values), each message with the checkpoint
//! number of its phase as pyPLC and ccs32clara print them (100 SLAC, 200 SDP, 300 TCP, 400
//! handshake ... 900 SessionStop). Every line also goes into the recording, and every SLAC
//! and session event to the dashboard (`--web`).

use ccs_proto::session::{ChargingValues, Outcome, SessionEvent};
use ccs_proto::slac::SlacEvent;

use super::record::Recording;
use crate::trace_text::{TraceText, slac_text};
use crate::web::Dashboard;

/// Checkpoint of the link setup steps before the V2G phases (pyPLC's numbering).
pub(crate) const CHECKPOINT_SLAC: u16 = 100;
/// SDP.
pub(crate) const CHECKPOINT_SDP: u16 = 200;
/// The TCP (or TLS) connection.
pub(crate) const CHECKPOINT_TCP: u16 = 300;

/// Prints trace lines for one side and records them.
#[derive(Debug)]
pub(crate) struct Trace {
    start: std::time::Instant,
    side: &'static str,
    checkpoint: u16,
    text: TraceText,
    values: ChargingValues,
    recording: Recording,
    dashboard: Dashboard,
    /// Messages sent and received in the current session.
    pub(crate) messages: u32,
    /// Charge-loop messages (DIN/ISO-2 CurrentDemand, ISO-2 AC ChargingStatus, ISO 15118-20
    /// DC_ChargeLoop) sent and received in the current session.
    pub(crate) charge_loop: u32,
}

impl Trace {
    /// A trace for `side` ("EV", "EVSE", "LISTEN").
    pub(crate) fn new(side: &'static str, recording: Recording) -> Self {
        Self {
            start: std::time::Instant::now(),
            side,
            checkpoint: 0,
            text: TraceText::with_received(),
            values: ChargingValues::default(),
            recording,
            dashboard: Dashboard::disabled(),
            messages: 0,
            charge_loop: 0,
        }
    }

    /// The recording the lines go into.
    pub(crate) fn recording(&self) -> &Recording {
        &self.recording
    }

    /// Also shows the SLAC and session events on `dashboard`.
    pub(crate) fn show_on(&mut self, dashboard: Dashboard) {
        self.dashboard = dashboard;
    }

    /// The dashboard the events go to (disabled without `--web`).
    pub(crate) fn dashboard(&self) -> &Dashboard {
        &self.dashboard
    }

    /// Starts counting for a new session.
    pub(crate) fn new_session(&mut self) {
        self.dashboard.session_started();
        self.messages = 0;
        self.charge_loop = 0;
        self.values = ChargingValues::default();
        self.text = TraceText::with_received();
    }

    /// Prints and records `text` at checkpoint `checkpoint`.
    pub(crate) fn line_at(&mut self, checkpoint: u16, text: &str) {
        self.checkpoint = checkpoint;
        self.line(text);
    }

    /// Prints and records `text` at the current checkpoint.
    pub(crate) fn line(&mut self, text: &str) {
        let v = &self.values;
        let line = format!(
            "[{:>9.3}] {:<5} {:>4} {text:<62} | {:>6.1} V {:>6.1} A  SoC {:>5.1} %",
            self.start.elapsed().as_secs_f64(),
            self.side,
            self.checkpoint,
            v.present_voltage.unwrap_or(0.0),
            v.present_current.unwrap_or(0.0),
            v.soc.unwrap_or(0.0),
        );
        println!("{line}");
        self.recording.log(&line);
    }

    /// A SLAC event.
    pub(crate) fn slac(&mut self, event: &SlacEvent) {
        self.dashboard.slac_event(event);
        if let Some(text) = slac_text(event) {
            self.line_at(CHECKPOINT_SLAC, &text);
        }
    }

    /// A session event; repeated messages are shown at most once per second.
    pub(crate) fn session(&mut self, event: &SessionEvent) {
        self.dashboard.session_event(event);
        match event {
            SessionEvent::PhaseChanged(phase) => self.checkpoint = phase.checkpoint(),
            SessionEvent::Values(v) => {
                self.values = *v;
                return;
            }
            SessionEvent::Sent { name, .. } | SessionEvent::Received { name, .. } => {
                self.messages += 1;
                if is_charge_loop(name) {
                    self.charge_loop += 1;
                }
            }
            _ => {}
        }
        let now = ccs_proto::time::Instant::from_micros(
            i64::try_from(self.start.elapsed().as_micros()).unwrap_or(i64::MAX),
        );
        if let Some(text) = self.text.session(now, event) {
            self.line(&text);
        }
    }

    /// A hardware command of the session.
    pub(crate) fn command(&mut self, command: &ccs_proto::hardware::HardwareCommand) {
        if let Some(text) = self.text.command(command) {
            self.line(&text);
        }
    }
}

/// "completed" or "failed (why)".
pub(crate) fn outcome_text(outcome: Option<&Outcome>) -> String {
    match outcome {
        Some(Outcome::Completed) => "completed".to_owned(),
        Some(Outcome::Failed(e)) => format!("failed ({e})"),
        None => "did not finish".to_owned(),
    }
}

/// Whether `name` is a message of the charge loop, in any protocol.
fn is_charge_loop(name: &str) -> bool {
    ["CurrentDemand", "ChargingStatus", "DC_ChargeLoop"]
        .iter()
        .any(|loop_name| name.starts_with(loop_name))
}
