//! What the dashboard knows: the current [`Status`], the bounded [`History`] of events and value
//! samples, and the [`Update`]s sent to browsers. Pure data: every change takes the time as
//! milliseconds since the dashboard started, so tests need no clock.

use std::collections::VecDeque;

use ccs_proto::hardware::{
    ContactorRequest, CpState, HardwareCommand, IsolationStatus, LockRequest, Measurement,
};
use ccs_proto::session::{ChargingValues, Outcome, Phase, SessionEvent};
use ccs_proto::slac::SlacEvent;
use serde::Serialize;

use super::{DashboardControl, Mode, ModemStatus, SlacStatus};

/// How many of the last V2G messages the status carries.
const RECENT_MESSAGES: usize = 12;
/// The shortest interval between two recorded value samples at first; it doubles each time the
/// sample buffer is thinned out.
const FIRST_SAMPLE_INTERVAL_MS: u64 = 100;
/// Changes of the status alone (a measurement, a set-point) go to browsers at most this often;
/// events and samples go at once.
pub(crate) const STATUS_INTERVAL_MS: u64 = 100;

/// The bounds of the history.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) struct Capacity {
    /// Events kept (a ring: the oldest go first).
    pub(crate) events: usize,
    /// Value samples kept (thinned out to every second one when full, so that the chart always
    /// covers the whole session).
    pub(crate) samples: usize,
}

impl Default for Capacity {
    fn default() -> Self {
        Self {
            events: 1000,
            samples: 1800,
        }
    }
}

/// Which controls the dashboard offers and what they need, as shown to clients.
#[derive(Clone, Debug, Default, Eq, PartialEq, Serialize)]
pub(crate) struct ControlAccess {
    /// `POST /api/stop` is offered.
    pub(crate) stop: bool,
    /// `POST /api/authorize` is offered (charger and simulator).
    pub(crate) authorize: bool,
    /// `POST /api/enable` is offered (charger and simulator).
    pub(crate) enable: bool,
    /// The controls need `Authorization: Bearer <token>`.
    pub(crate) token_required: bool,
    /// Why the controls are not offered, when they are not.
    pub(crate) disabled_reason: Option<String>,
    /// The authorization as last set from the dashboard or measured.
    pub(crate) authorized: Option<bool>,
    /// The enable switch as last set from the dashboard or measured.
    pub(crate) enabled: Option<bool>,
}

/// The state of one part of the link (modem, SLAC), for display.
#[derive(Clone, Debug, Default, Eq, PartialEq, Serialize)]
pub(crate) struct Component {
    /// A short machine-readable state, e.g. `found`, `paired`.
    pub(crate) state: &'static str,
    /// Details for people (firmware, MAC addresses, the reason of a failure).
    pub(crate) detail: Option<String>,
}

/// Where the charging session is.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SessionState {
    /// No session yet.
    #[default]
    Idle,
    /// A session is running.
    Running,
    /// The last session completed normally.
    Completed,
    /// The last session failed (and went through the safe shutdown).
    Failed,
}

/// The session phase with its checkpoint number.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub(crate) struct PhaseInfo {
    /// The phase's name, e.g. `CableCheck`.
    pub(crate) name: &'static str,
    /// pyPLC's / ccs32clara's checkpoint number.
    pub(crate) checkpoint: u16,
}

/// The charging session.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(crate) struct SessionStatus {
    /// Counts sessions since start (0 = none yet).
    pub(crate) number: u32,
    /// Idle, running, completed, failed.
    pub(crate) state: SessionState,
    /// The negotiated protocol, e.g. `DIN 70121`.
    pub(crate) protocol: Option<String>,
    /// The current phase.
    pub(crate) phase: Option<PhaseInfo>,
    /// Why the session failed.
    pub(crate) error: Option<String>,
    /// A stop was requested from the dashboard during this session.
    pub(crate) stop_requested: bool,
}

/// The charging values: what the session reported, completed by the hardware.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub(crate) struct Values {
    /// State of charge, percent.
    pub(crate) soc: Option<f32>,
    /// The battery's own voltage (measured on the car side), volts.
    pub(crate) battery_voltage: Option<f32>,
    /// The voltage the car asks for, volts.
    pub(crate) target_voltage: Option<f32>,
    /// The current the car asks for, amperes.
    pub(crate) target_current: Option<f32>,
    /// The charger's present output voltage, volts.
    pub(crate) present_voltage: Option<f32>,
    /// The charger's present output current, amperes.
    pub(crate) present_current: Option<f32>,
    /// present voltage × present current, watts.
    pub(crate) present_power: Option<f32>,
    /// The charger's maximum voltage, volts.
    pub(crate) evse_max_voltage: Option<f32>,
    /// The charger's maximum current, amperes.
    pub(crate) evse_max_current: Option<f32>,
    /// The charger's maximum power, watts.
    pub(crate) evse_max_power: Option<f32>,
}

/// The hardware: the last commands and measurements.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(crate) struct HardwareStatus {
    /// The CP state the car switched to (`B`, `C`).
    pub(crate) cp_state: Option<&'static str>,
    /// The contactor request (`open`, `closed`).
    pub(crate) contactors_request: Option<&'static str>,
    /// Contactor feedback: closed.
    pub(crate) contactors_closed: Option<bool>,
    /// The lock request (`locked`, `unlocked`).
    pub(crate) lock_request: Option<&'static str>,
    /// Lock feedback: locked.
    pub(crate) connector_locked: Option<bool>,
    /// A connector is plugged in.
    pub(crate) plugged_in: Option<bool>,
    /// The voltage at the car's inlet, volts.
    pub(crate) inlet_voltage: Option<f32>,
    /// What the car's BMS asks for (before the session turns it into EVTargetVoltage), volts.
    pub(crate) bms_target_voltage: Option<f32>,
    /// What the car's BMS asks for (EVTargetCurrent while charging), amperes.
    pub(crate) bms_target_current: Option<f32>,
    /// The power supply set-point: on.
    pub(crate) power_supply_enabled: Option<bool>,
    /// The power supply set-point voltage, volts.
    pub(crate) power_supply_setpoint_voltage: Option<f32>,
    /// The power supply set-point current, amperes.
    pub(crate) power_supply_setpoint_current: Option<f32>,
    /// The power supply's measured output voltage, volts.
    pub(crate) power_supply_voltage: Option<f32>,
    /// The power supply's measured output current, amperes.
    pub(crate) power_supply_current: Option<f32>,
    /// The isolation monitor's verdict.
    pub(crate) isolation: Option<&'static str>,
    /// The car's EVCCID.
    pub(crate) evcc_id: Option<String>,
    /// The session's state text for displays (pyPLC's `fsm_state`).
    pub(crate) session_state: Option<String>,
}

/// A V2G message sent or received.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub(crate) struct MessageEntry {
    /// When, ms since the dashboard started.
    pub(crate) t_ms: u64,
    /// `sent` or `received`.
    pub(crate) direction: Direction,
    /// The message name, e.g. `CurrentDemandReq`.
    pub(crate) name: String,
    /// Key values.
    pub(crate) summary: String,
}

/// Which way a message went, seen from this side.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Direction {
    /// We sent it.
    Sent,
    /// We received it.
    Received,
}

/// The sizes of the history, for clients that keep their own copy.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, Serialize)]
pub(crate) struct HistoryInfo {
    /// Events held.
    pub(crate) events: usize,
    /// Most events held.
    pub(crate) event_capacity: usize,
    /// Samples held.
    pub(crate) samples: usize,
    /// Most samples held.
    pub(crate) sample_capacity: usize,
    /// The shortest interval between samples now, ms.
    pub(crate) sample_interval_ms: u64,
}

/// Everything shown at a glance: the body of `GET /api/status`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Status {
    /// `ev`, `evse` or `sim`.
    pub(crate) mode: Mode,
    /// The ccsplc version.
    pub(crate) version: &'static str,
    /// The number of the last update; grows by one with every change.
    pub(crate) seq: u64,
    /// Milliseconds since the dashboard started (at the last update).
    pub(crate) t_ms: u64,
    /// When the dashboard started, ms since the Unix epoch.
    pub(crate) started_unix_ms: u64,
    /// The local powerline modem.
    pub(crate) modem: Component,
    /// SLAC matching.
    pub(crate) slac: Component,
    /// SDP and the TCP/TLS connection, as text.
    pub(crate) link: Option<String>,
    /// The charging session.
    pub(crate) session: SessionStatus,
    /// The charging values.
    pub(crate) values: Values,
    /// Hardware commands and measurements.
    pub(crate) hardware: HardwareStatus,
    /// The last V2G messages, oldest first.
    pub(crate) messages: VecDeque<MessageEntry>,
    /// The controls offered.
    pub(crate) controls: ControlAccess,
    /// The file name of the last capture (download at `/api/capture`).
    pub(crate) capture: Option<String>,
    /// The history's size.
    pub(crate) history: HistoryInfo,
}

/// One thing that happened, as kept in the history.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Event {
    /// The update number at which it happened.
    pub(crate) seq: u64,
    /// When, ms since the dashboard started.
    pub(crate) t_ms: u64,
    /// What happened.
    #[serde(flatten)]
    pub(crate) kind: EventKind,
}

/// What happened; `kind` in JSON.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum EventKind {
    /// The modem's state changed.
    Modem {
        /// As in [`Status::modem`].
        state: &'static str,
        /// Details.
        detail: Option<String>,
    },
    /// SLAC's state changed.
    Slac {
        /// As in [`Status::slac`].
        state: &'static str,
        /// Details.
        detail: Option<String>,
    },
    /// SDP or the connection changed.
    Link {
        /// What happened.
        text: String,
    },
    /// A new charging session started.
    SessionStarted {
        /// Its number.
        number: u32,
    },
    /// The handshake chose a protocol.
    Protocol {
        /// E.g. `DIN 70121`.
        protocol: String,
        /// The SchemaID chosen.
        schema_id: u8,
    },
    /// The session entered a phase.
    Phase {
        /// The phase's name.
        name: &'static str,
        /// Its checkpoint number.
        checkpoint: u16,
    },
    /// A V2G message.
    Message {
        /// Sent or received.
        direction: Direction,
        /// Its name.
        name: String,
        /// Key values.
        summary: String,
    },
    /// A command to the hardware.
    Hardware {
        /// The command, for people.
        text: String,
    },
    /// The session detected a failure; the safe shutdown follows.
    Failing {
        /// What failed, with whose fault it was.
        error: String,
    },
    /// The session ended.
    Finished {
        /// It ran to SessionStop.
        completed: bool,
        /// Why it failed.
        error: Option<String>,
    },
    /// Someone used a control.
    Control {
        /// `stop`, `authorize`, `enable`.
        control: &'static str,
        /// The value set (authorize, enable).
        value: Option<bool>,
    },
    /// A remark from the runner.
    Note {
        /// The text.
        text: String,
    },
}

/// One point of the chart.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub(crate) struct Sample {
    /// When, ms since the dashboard started.
    pub(crate) t_ms: u64,
    /// Charger output voltage, volts.
    pub(crate) voltage: Option<f32>,
    /// Charger output current, amperes.
    pub(crate) current: Option<f32>,
    /// Target voltage, volts.
    pub(crate) target_voltage: Option<f32>,
    /// Target current, amperes.
    pub(crate) target_current: Option<f32>,
    /// State of charge, percent.
    pub(crate) soc: Option<f32>,
}

/// The session history: the body of `GET /api/history`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(crate) struct History {
    /// The last events, oldest first.
    pub(crate) events: VecDeque<Event>,
    /// Value samples of the current session, oldest first.
    pub(crate) samples: VecDeque<Sample>,
    /// Events that fell out of the ring.
    pub(crate) events_dropped: u64,
}

/// One change, as sent to browsers (SSE `update`).
#[derive(Debug, Serialize)]
pub(crate) struct Update<'a> {
    /// The update number (= `status.seq`).
    pub(crate) seq: u64,
    /// The event, if this change is one worth keeping.
    pub(crate) event: Option<&'a Event>,
    /// The value sample, if one was recorded.
    pub(crate) sample: Option<&'a Sample>,
    /// Whether the samples were reset (a new session).
    pub(crate) samples_reset: bool,
    /// The status after the change.
    pub(crate) status: &'a Status,
}

/// Status and history together: what a new browser gets first (SSE `snapshot`).
#[derive(Debug, Serialize)]
pub(crate) struct Snapshot<'a> {
    /// The status.
    pub(crate) status: &'a Status,
    /// The history.
    pub(crate) history: &'a History,
}

/// The dashboard's model, changed by the runner's reports.
#[derive(Debug)]
pub(crate) struct State {
    status: Status,
    history: History,
    capacity: Capacity,
    sample_interval_ms: u64,
    /// When the last update went to the browsers.
    last_sent_ms: Option<u64>,
    /// A status change has not been sent yet.
    unsent: bool,
}

/// What one change produced, for the broadcast.
#[derive(Debug, Default)]
pub(crate) struct Change {
    /// An event was recorded (the last in the history).
    pub(crate) event: bool,
    /// A sample was recorded (the last in the history).
    pub(crate) sample: bool,
    /// The samples were cleared.
    pub(crate) samples_reset: bool,
}

impl State {
    /// An empty model.
    pub(crate) fn new(
        mode: Mode,
        started_unix_ms: u64,
        controls: ControlAccess,
        capacity: Capacity,
    ) -> Self {
        let capacity = Capacity {
            events: capacity.events.max(1),
            samples: capacity.samples.max(2),
        };
        Self {
            status: Status {
                mode,
                version: env!("CARGO_PKG_VERSION"),
                seq: 0,
                t_ms: 0,
                started_unix_ms,
                modem: Component {
                    state: "unknown",
                    detail: None,
                },
                slac: Component {
                    state: "unknown",
                    detail: None,
                },
                link: None,
                session: SessionStatus::default(),
                values: Values::default(),
                hardware: HardwareStatus::default(),
                messages: VecDeque::new(),
                controls,
                capture: None,
                history: HistoryInfo::default(),
            },
            history: History::default(),
            capacity,
            sample_interval_ms: FIRST_SAMPLE_INTERVAL_MS,
            last_sent_ms: None,
            unsent: false,
        }
    }

    /// Whether the update of `change` goes to the browsers now. Events and samples always do;
    /// a change of the status alone waits until [`STATUS_INTERVAL_MS`] after the last update
    /// ([`State::flush_due`] sends it then), so that a flood of measurements does not flood a
    /// phone.
    pub(crate) fn send_now(&mut self, change: &Change) -> bool {
        let t_ms = self.status.t_ms;
        let quiet = !change.event && !change.sample && !change.samples_reset;
        let recent = self
            .last_sent_ms
            .is_some_and(|last| t_ms < last.saturating_add(STATUS_INTERVAL_MS));
        if quiet && recent {
            self.unsent = true;
            return false;
        }
        self.last_sent_ms = Some(t_ms);
        self.unsent = false;
        true
    }

    /// Whether a status change was held back; it counts as sent now.
    pub(crate) fn take_unsent(&mut self) -> bool {
        let unsent = self.unsent;
        if unsent {
            self.last_sent_ms = Some(self.status.t_ms);
            self.unsent = false;
        }
        unsent
    }

    /// Whether a held-back status change is due at `t_ms`; if so it counts as sent.
    pub(crate) fn flush_due(&mut self, t_ms: u64) -> bool {
        let due = self.unsent
            && self
                .last_sent_ms
                .is_none_or(|last| t_ms >= last.saturating_add(STATUS_INTERVAL_MS));
        if due {
            self.last_sent_ms = Some(t_ms);
            self.unsent = false;
        }
        due
    }

    /// The status.
    pub(crate) fn status(&self) -> &Status {
        &self.status
    }

    /// The history.
    pub(crate) fn history(&self) -> &History {
        &self.history
    }

    /// The update that the last change made.
    pub(crate) fn update(&self, change: &Change) -> Update<'_> {
        Update {
            seq: self.status.seq,
            event: change.event.then(|| self.history.events.back()).flatten(),
            sample: change.sample.then(|| self.history.samples.back()).flatten(),
            samples_reset: change.samples_reset,
            status: &self.status,
        }
    }

    /// Applies a session event.
    pub(crate) fn session_event(&mut self, t_ms: u64, event: &SessionEvent) -> Change {
        let mut change = self.begin(t_ms);
        // What a new session begins with; late values or the other side's end of the last
        // session do not start one.
        let begins = matches!(
            event,
            SessionEvent::PhaseChanged(_)
                | SessionEvent::ProtocolNegotiated { .. }
                | SessionEvent::Sent { .. }
                | SessionEvent::Received { .. }
        );
        if begins
            && matches!(
                self.status.session.state,
                SessionState::Idle | SessionState::Completed | SessionState::Failed
            )
        {
            self.start_session(t_ms, &mut change);
        }
        match event {
            SessionEvent::ProtocolNegotiated {
                protocol,
                schema_id,
            } => {
                self.status.session.protocol = Some(protocol.to_string());
                self.record(
                    t_ms,
                    EventKind::Protocol {
                        protocol: protocol.to_string(),
                        schema_id: *schema_id,
                    },
                    &mut change,
                );
            }
            SessionEvent::PhaseChanged(phase) => {
                let info = PhaseInfo {
                    name: phase_name(*phase),
                    checkpoint: phase.checkpoint(),
                };
                self.record(
                    t_ms,
                    EventKind::Phase {
                        name: info.name,
                        checkpoint: info.checkpoint,
                    },
                    &mut change,
                );
                self.status.session.phase = Some(info);
            }
            SessionEvent::Sent { name, summary } => {
                self.message(t_ms, Direction::Sent, name, summary, &mut change);
            }
            SessionEvent::Received { name, summary } => {
                self.message(t_ms, Direction::Received, name, summary, &mut change);
            }
            SessionEvent::Values(values) => {
                self.values(values);
                self.sample(t_ms, &mut change);
            }
            SessionEvent::Failing(error) => {
                let error = error.to_string();
                self.status.session.error = Some(error.clone());
                self.record(t_ms, EventKind::Failing { error }, &mut change);
            }
            SessionEvent::Finished(outcome) => {
                let (state, error) = match outcome {
                    Outcome::Completed => (SessionState::Completed, None),
                    Outcome::Failed(e) => (SessionState::Failed, Some(e.to_string())),
                };
                self.status.session.state = state;
                self.status.session.error.clone_from(&error);
                self.record(
                    t_ms,
                    EventKind::Finished {
                        completed: state == SessionState::Completed,
                        error,
                    },
                    &mut change,
                );
            }
            other => {
                self.record(
                    t_ms,
                    EventKind::Note {
                        text: format!("{other:?}"),
                    },
                    &mut change,
                );
            }
        }
        self.finish(change)
    }

    /// Starts a new session explicitly (the runner knows a new car arrived).
    pub(crate) fn session_started(&mut self, t_ms: u64) -> Change {
        let mut change = self.begin(t_ms);
        self.start_session(t_ms, &mut change);
        self.finish(change)
    }

    /// Applies a hardware command.
    pub(crate) fn command(&mut self, t_ms: u64, command: &HardwareCommand) -> Change {
        let mut change = self.begin(t_ms);
        let hw = &mut self.status.hardware;
        let text = match command {
            HardwareCommand::CpState(cp) => {
                let s = match cp {
                    CpState::B => "B",
                    CpState::C => "C",
                };
                if hw.cp_state == Some(s) {
                    return self.finish(change);
                }
                hw.cp_state = Some(s);
                Some(format!("CP state {s}"))
            }
            HardwareCommand::Contactors(request) => {
                let s = match request {
                    ContactorRequest::Open => "open",
                    ContactorRequest::Closed => "closed",
                };
                let new = hw.contactors_request != Some(s);
                hw.contactors_request = Some(s);
                new.then(|| format!("contactors {s}"))
            }
            HardwareCommand::ConnectorLock(request) => {
                let s = match request {
                    LockRequest::Lock => "locked",
                    LockRequest::Unlock => "unlocked",
                };
                let new = hw.lock_request != Some(s);
                hw.lock_request = Some(s);
                new.then(|| format!("connector {s}"))
            }
            HardwareCommand::PowerSupply(setpoint) => {
                let was_enabled = hw.power_supply_enabled;
                hw.power_supply_enabled = Some(setpoint.enabled);
                hw.power_supply_setpoint_voltage = Some(setpoint.voltage.0);
                hw.power_supply_setpoint_current = Some(setpoint.current.0);
                (was_enabled != Some(setpoint.enabled)).then(|| {
                    if setpoint.enabled {
                        format!(
                            "power supply on ({}, {})",
                            setpoint.voltage, setpoint.current
                        )
                    } else {
                        "power supply off".to_owned()
                    }
                })
            }
            HardwareCommand::SessionState(text) => {
                hw.session_state = Some(text.clone());
                None
            }
            HardwareCommand::ChargerLimits {
                max_voltage,
                max_current,
            } => {
                self.status.values.evse_max_voltage = Some(max_voltage.0);
                self.status.values.evse_max_current = Some(max_current.0);
                None
            }
            HardwareCommand::ChargerPresent { voltage, current } => {
                self.status.values.present_voltage = Some(voltage.0);
                self.status.values.present_current = Some(current.0);
                self.update_power();
                None
            }
            HardwareCommand::EvccId(id) => {
                let new = hw.evcc_id.as_deref() != Some(id.as_str());
                hw.evcc_id = Some(id.clone());
                new.then(|| format!("EVCCID {id}"))
            }
            HardwareCommand::VehicleBattery(report) => {
                self.status.values.soc = Some(report.soc.0);
                None
            }
            other => Some(format!("{other:?}")),
        };
        if let Some(text) = text {
            self.record(t_ms, EventKind::Hardware { text }, &mut change);
        }
        self.finish(change)
    }

    /// Applies a measurement. Measurements update the status only; they are not events.
    pub(crate) fn measurement(&mut self, t_ms: u64, measurement: &Measurement) -> Change {
        let change = self.begin(t_ms);
        let hw = &mut self.status.hardware;
        let values = &mut self.status.values;
        match *measurement {
            Measurement::BatteryVoltage(v) => values.battery_voltage = Some(v.0),
            // The session's targets (values) are what was asked on the wire; the BMS's wish
            // differs during precharge and the wind-down.
            Measurement::TargetVoltage(v) => hw.bms_target_voltage = Some(v.0),
            Measurement::TargetCurrent(a) => hw.bms_target_current = Some(a.0),
            Measurement::Soc(p) => values.soc = Some(p.0),
            Measurement::InletVoltage(v) => hw.inlet_voltage = Some(v.0),
            Measurement::ContactorsClosed(b) => hw.contactors_closed = Some(b),
            Measurement::ConnectorLocked(b) => hw.connector_locked = Some(b),
            Measurement::PluggedIn(b) => hw.plugged_in = Some(b),
            Measurement::PowerSupplyVoltage(v) => hw.power_supply_voltage = Some(v.0),
            Measurement::PowerSupplyCurrent(a) => hw.power_supply_current = Some(a.0),
            Measurement::PowerSupplyMaxVoltage(v) => values.evse_max_voltage = Some(v.0),
            Measurement::PowerSupplyMaxCurrent(a) => values.evse_max_current = Some(a.0),
            Measurement::PowerSupplyMaxPower(w) => values.evse_max_power = Some(w.0),
            Measurement::Isolation(i) => hw.isolation = Some(isolation_name(i)),
            Measurement::ChargingEnabled(b) => self.status.controls.enabled = Some(b),
            Measurement::Authorized(b) => self.status.controls.authorized = Some(b),
            _ => {}
        }
        self.finish(change)
    }

    /// Applies a SLAC event: modem and SLAC state, and an event for the history.
    pub(crate) fn slac_event(&mut self, t_ms: u64, event: &SlacEvent) -> Change {
        match event {
            SlacEvent::ModemFound {
                modem_mac,
                firmware,
            } => self.modem(
                t_ms,
                &ModemStatus::Found {
                    detail: format!("{firmware} ({modem_mac})"),
                },
            ),
            SlacEvent::Ready { nid } => self.slac(
                t_ms,
                &SlacStatus::Waiting(format!("modem keyed, NID {nid}; waiting for a car")),
            ),
            SlacEvent::SessionStarted { ev_mac, run_id } => self.slac(
                t_ms,
                &SlacStatus::Matching(format!("car {ev_mac}, RunID {run_id}")),
            ),
            SlacEvent::AttenuationSent { ev_mac, mean_db } => self.slac(
                t_ms,
                &SlacStatus::Matching(format!("car {ev_mac}: attenuation {mean_db:.1} dB sent")),
            ),
            SlacEvent::AttenuationReported { evse_mac, mean_db } => self.slac(
                t_ms,
                &SlacStatus::Matching(format!("charger {evse_mac}: {mean_db:.1} dB")),
            ),
            SlacEvent::EvseChosen {
                evse_mac,
                mean_db,
                candidates,
            } => self.slac(
                t_ms,
                &SlacStatus::Matching(format!(
                    "chose charger {evse_mac} ({mean_db:.1} dB, {candidates} answered)"
                )),
            ),
            SlacEvent::Paired {
                nid,
                evse_mac,
                ev_mac,
                ..
            } => self.slac(
                t_ms,
                &SlacStatus::Paired(format!("car {ev_mac} ↔ charger {evse_mac}, NID {nid}")),
            ),
            SlacEvent::AttemptFailed { reason } => self.slac(
                t_ms,
                &SlacStatus::Matching(format!("attempt failed, retrying: {reason}")),
            ),
            SlacEvent::SessionFailed { ev_mac, reason, .. } => self.slac(
                t_ms,
                &SlacStatus::Waiting(format!("car {ev_mac} did not match: {reason}")),
            ),
            SlacEvent::SlacInitTimeout => self.slac(
                t_ms,
                &SlacStatus::Waiting("no car within TT_EVSE_SLAC_init; waiting again".to_owned()),
            ),
            SlacEvent::Failed { reason } => {
                self.slac(t_ms, &SlacStatus::Failed(reason.to_string()))
            }
            other => self.note(t_ms, format!("SLAC: {other:?}")),
        }
    }

    /// Sets the modem's state.
    pub(crate) fn modem(&mut self, t_ms: u64, modem: &ModemStatus) -> Change {
        let mut change = self.begin(t_ms);
        let component = modem.component();
        self.status.modem = component.clone();
        self.record(
            t_ms,
            EventKind::Modem {
                state: component.state,
                detail: component.detail,
            },
            &mut change,
        );
        self.finish(change)
    }

    /// Sets SLAC's state.
    pub(crate) fn slac(&mut self, t_ms: u64, slac: &SlacStatus) -> Change {
        let mut change = self.begin(t_ms);
        let component = slac.component();
        self.status.slac = component.clone();
        self.record(
            t_ms,
            EventKind::Slac {
                state: component.state,
                detail: component.detail,
            },
            &mut change,
        );
        self.finish(change)
    }

    /// Sets the SDP / connection text.
    pub(crate) fn link(&mut self, t_ms: u64, text: String) -> Change {
        let mut change = self.begin(t_ms);
        self.status.link = Some(text.clone());
        self.record(t_ms, EventKind::Link { text }, &mut change);
        self.finish(change)
    }

    /// Records a remark.
    pub(crate) fn note(&mut self, t_ms: u64, text: String) -> Change {
        let mut change = self.begin(t_ms);
        self.record(t_ms, EventKind::Note { text }, &mut change);
        self.finish(change)
    }

    /// Records the last capture's file name.
    pub(crate) fn capture(&mut self, t_ms: u64, name: Option<String>) -> Change {
        let change = self.begin(t_ms);
        self.status.capture = name;
        self.finish(change)
    }

    /// Records a control that was handed to the runner.
    pub(crate) fn control(&mut self, t_ms: u64, control: DashboardControl) -> Change {
        let mut change = self.begin(t_ms);
        let (name, value) = match control {
            DashboardControl::Stop => {
                self.status.session.stop_requested = true;
                ("stop", None)
            }
            DashboardControl::Authorize(b) => {
                self.status.controls.authorized = Some(b);
                ("authorize", Some(b))
            }
            DashboardControl::Enable(b) => {
                self.status.controls.enabled = Some(b);
                ("enable", Some(b))
            }
        };
        self.record(
            t_ms,
            EventKind::Control {
                control: name,
                value,
            },
            &mut change,
        );
        self.finish(change)
    }

    fn begin(&mut self, t_ms: u64) -> Change {
        self.status.seq += 1;
        self.status.t_ms = t_ms;
        Change::default()
    }

    fn finish(&mut self, change: Change) -> Change {
        self.status.history = HistoryInfo {
            events: self.history.events.len(),
            event_capacity: self.capacity.events,
            samples: self.history.samples.len(),
            sample_capacity: self.capacity.samples,
            sample_interval_ms: self.sample_interval_ms,
        };
        change
    }

    fn start_session(&mut self, t_ms: u64, change: &mut Change) {
        let number = self.status.session.number + 1;
        self.status.session = SessionStatus {
            number,
            state: SessionState::Running,
            ..SessionStatus::default()
        };
        let keep_limits = self.status.values;
        self.status.values = Values {
            evse_max_voltage: keep_limits.evse_max_voltage,
            evse_max_current: keep_limits.evse_max_current,
            evse_max_power: keep_limits.evse_max_power,
            ..Values::default()
        };
        self.status.messages.clear();
        self.history.samples.clear();
        self.sample_interval_ms = FIRST_SAMPLE_INTERVAL_MS;
        change.samples_reset = true;
        self.record(t_ms, EventKind::SessionStarted { number }, change);
    }

    fn record(&mut self, t_ms: u64, kind: EventKind, change: &mut Change) {
        if self.history.events.len() >= self.capacity.events {
            self.history.events.pop_front();
            self.history.events_dropped += 1;
        }
        self.history.events.push_back(Event {
            seq: self.status.seq,
            t_ms,
            kind,
        });
        change.event = true;
    }

    fn message(
        &mut self,
        t_ms: u64,
        direction: Direction,
        name: &str,
        summary: &str,
        change: &mut Change,
    ) {
        if self.status.messages.len() >= RECENT_MESSAGES {
            self.status.messages.pop_front();
        }
        self.status.messages.push_back(MessageEntry {
            t_ms,
            direction,
            name: name.to_owned(),
            summary: summary.to_owned(),
        });
        self.record(
            t_ms,
            EventKind::Message {
                direction,
                name: name.to_owned(),
                summary: summary.to_owned(),
            },
            change,
        );
    }

    /// Overlays what the session knows: a `None` keeps the value from elsewhere (hardware,
    /// the other side in the simulator).
    fn values(&mut self, new: &ChargingValues) {
        let v = &mut self.status.values;
        let overlay = |old: &mut Option<f32>, new: Option<f32>| {
            if new.is_some() {
                *old = new;
            }
        };
        overlay(&mut v.soc, new.soc);
        overlay(&mut v.target_voltage, new.target_voltage);
        overlay(&mut v.target_current, new.target_current);
        overlay(&mut v.present_voltage, new.present_voltage);
        overlay(&mut v.present_current, new.present_current);
        overlay(&mut v.evse_max_voltage, new.evse_max_voltage);
        overlay(&mut v.evse_max_current, new.evse_max_current);
        overlay(&mut v.evse_max_power, new.evse_max_power);
        self.update_power();
    }

    fn update_power(&mut self) {
        let v = &mut self.status.values;
        v.present_power = v.present_voltage.zip(v.present_current).map(|(u, i)| u * i);
    }

    /// Records a chart sample unless the last one is younger than the sample interval; thins
    /// the samples out to every second one (and doubles the interval) when they are full.
    fn sample(&mut self, t_ms: u64, change: &mut Change) {
        if let Some(last) = self.history.samples.back()
            && t_ms < last.t_ms.saturating_add(self.sample_interval_ms)
        {
            return;
        }
        if self.history.samples.len() >= self.capacity.samples {
            let mut index = 0;
            self.history.samples.retain(|_| {
                index += 1;
                index % 2 == 1
            });
            self.sample_interval_ms = self.sample_interval_ms.saturating_mul(2);
        }
        let v = &self.status.values;
        self.history.samples.push_back(Sample {
            t_ms,
            voltage: v.present_voltage,
            current: v.present_current,
            target_voltage: v.target_voltage,
            target_current: v.target_current,
            soc: v.soc,
        });
        change.sample = true;
    }
}

/// The phase's name as in the standard's message names.
fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Handshake => "Handshake",
        Phase::SessionSetup => "SessionSetup",
        Phase::ServiceSelection => "ServiceSelection",
        Phase::Authorization => "Authorization",
        Phase::ChargeParameterDiscovery => "ChargeParameterDiscovery",
        Phase::ConnectAndLock => "ConnectAndLock",
        Phase::CableCheck => "CableCheck",
        Phase::PreCharge => "PreCharge",
        Phase::PowerDeliveryStart => "PowerDeliveryStart",
        Phase::Charging => "Charging",
        Phase::PowerDeliveryStop => "PowerDeliveryStop",
        Phase::WeldingDetection => "WeldingDetection",
        Phase::SessionStop => "SessionStop",
        Phase::SafeShutdown => "SafeShutdown",
        Phase::Finished => "Finished",
        _ => "Unknown",
    }
}

fn isolation_name(status: IsolationStatus) -> &'static str {
    match status {
        IsolationStatus::Invalid => "invalid",
        IsolationStatus::Valid => "valid",
        IsolationStatus::Warning => "warning",
        IsolationStatus::Fault => "fault",
        IsolationStatus::NoImd => "no_imd",
    }
}
