//! A test-only V2G session pair: a plain-text request/response protocol that walks the
//! physical steps of a DC session (lock, cable check at 450 V, precharge to the battery
//! voltage, contactors, charging loop, stop with current falling, contactors open, session
//! end), so the world's orchestration and physics are exercised without depending on any real
//! protocol's machines.
#![allow(dead_code)]

use std::collections::VecDeque;

use ccs_proto::hardware::{
    Amps, ContactorRequest, CpState, HardwareCommand, HardwareFault, IsolationStatus, LockRequest,
    Measurement, PowerSupplySetpoint, Volts,
};
use ccs_proto::session::{
    Disconnect, Outcome, Phase, Role, SessionError, SessionEvent, Transmit, V2gSession,
};
use ccs_proto::time::Instant;
use ccs_proto::v2gtp::PayloadType;

#[derive(Default)]
struct Queues {
    transmits: VecDeque<Transmit>,
    commands: VecDeque<HardwareCommand>,
    events: VecDeque<SessionEvent>,
    finished: bool,
}

impl Queues {
    fn send(&mut self, text: String, name: &'static str) {
        self.events.push_back(SessionEvent::Sent {
            name,
            summary: text.clone(),
        });
        self.transmits.push_back(Transmit::Message {
            payload_type: PayloadType::Exi,
            payload: text.into_bytes(),
        });
    }

    fn finish(&mut self, outcome: Outcome) {
        if !self.finished {
            self.finished = true;
            self.events
                .push_back(SessionEvent::PhaseChanged(Phase::Finished));
            self.events.push_back(SessionEvent::Finished(outcome));
        }
    }
}

fn name_of(word: &str) -> &'static str {
    match word {
        "HELLO" => "HelloReq",
        "CABLECHECK" => "CableCheckReq",
        "PRECHARGE" => "PreChargeReq",
        "START" => "PowerDeliveryStartReq",
        "CURRENT" => "CurrentDemandReq",
        "STOPPOWER" => "PowerDeliveryStopReq",
        "WELDING" => "WeldingReq",
        "END" => "SessionStopReq",
        _ => "UnknownReq",
    }
}

macro_rules! common_polls {
    () => {
        fn poll_transmit(&mut self) -> Option<Transmit> {
            self.q.transmits.pop_front()
        }
        fn poll_command(&mut self) -> Option<HardwareCommand> {
            self.q.commands.pop_front()
        }
        fn poll_event(&mut self) -> Option<SessionEvent> {
            self.q.events.pop_front()
        }
        fn poll_timeout(&self) -> Option<Instant> {
            None
        }
        fn handle_timeout(&mut self, _now: Instant) {}
        fn is_finished(&self) -> bool {
            self.q.finished
        }
        fn handle_hardware_fault(&mut self, _now: Instant, fault: HardwareFault) {
            self.q
                .finish(Outcome::Failed(SessionError::Hardware(fault)));
        }
    };
}

#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum EvStep {
    Idle,
    Hello,
    CableCheck,
    PreCharge,
    Start,
    Charging,
    StopPower,
    Welding,
    End,
    Done,
}

/// The car side.
pub(crate) struct ToyEvcc {
    q: Queues,
    step: EvStep,
    battery_v: f32,
    target_v: f32,
    target_i: f32,
    inlet_v: f32,
    contactors_closed: bool,
    stop: bool,
}

impl ToyEvcc {
    pub(crate) fn new() -> Self {
        Self {
            q: Queues::default(),
            step: EvStep::Idle,
            battery_v: 0.0,
            target_v: 0.0,
            target_i: 0.0,
            inlet_v: 0.0,
            contactors_closed: false,
            stop: false,
        }
    }

    fn phase(&mut self, phase: Phase) {
        self.q.events.push_back(SessionEvent::PhaseChanged(phase));
    }

    fn request(&mut self, step: EvStep) {
        self.step = step;
        let text = match step {
            EvStep::Hello => "HELLO".to_string(),
            EvStep::CableCheck => "CABLECHECK".to_string(),
            EvStep::PreCharge => format!("PRECHARGE {:.1}", self.battery_v),
            EvStep::Start => "START".to_string(),
            EvStep::Charging => format!("CURRENT {:.1} {:.1}", self.target_v, self.target_i),
            EvStep::StopPower => "STOPPOWER".to_string(),
            EvStep::Welding => "WELDING".to_string(),
            EvStep::End => "END".to_string(),
            EvStep::Idle | EvStep::Done => return,
        };
        let word = text.split(' ').next().unwrap_or("");
        let name = name_of(word);
        self.q.send(text, name);
    }

    fn fail(&mut self, error: SessionError) {
        self.step = EvStep::Done;
        self.q
            .commands
            .push_back(HardwareCommand::Contactors(ContactorRequest::Open));
        self.q.transmits.push_back(Transmit::Close);
        self.q.finish(Outcome::Failed(error));
    }
}

impl V2gSession for ToyEvcc {
    fn role(&self) -> Role {
        Role::Evcc
    }

    fn handle_connected(&mut self, _now: Instant) {
        self.phase(Phase::Handshake);
        self.request(EvStep::Hello);
    }

    fn handle_message(&mut self, _now: Instant, _pt: PayloadType, payload: &[u8]) {
        let text = String::from_utf8_lossy(payload).to_string();
        let words: Vec<&str> = text.split(' ').collect();
        let number = |i: usize| words.get(i).and_then(|w| w.parse::<f32>().ok());
        self.q.events.push_back(SessionEvent::Received {
            name: "ToyRes",
            summary: text.clone(),
        });
        match self.step {
            EvStep::Hello => {
                self.phase(Phase::SessionSetup);
                self.q
                    .commands
                    .push_back(HardwareCommand::CpState(CpState::C));
                self.q
                    .commands
                    .push_back(HardwareCommand::ConnectorLock(LockRequest::Lock));
                self.phase(Phase::CableCheck);
                self.request(EvStep::CableCheck);
            }
            EvStep::CableCheck if words.first() == Some(&"DONE") => {
                self.phase(Phase::PreCharge);
                self.request(EvStep::PreCharge);
            }
            EvStep::CableCheck => self.request(EvStep::CableCheck),
            EvStep::PreCharge => {
                if self.contactors_closed {
                    self.phase(Phase::PowerDeliveryStart);
                    self.request(EvStep::Start);
                } else {
                    // DESIGN.md rule 5: close only when precharge matched the battery.
                    if (self.inlet_v - self.battery_v).abs() < 5.0 {
                        self.q
                            .commands
                            .push_back(HardwareCommand::Contactors(ContactorRequest::Closed));
                    }
                    self.request(EvStep::PreCharge);
                }
            }
            EvStep::Start => {
                self.phase(Phase::Charging);
                self.request(EvStep::Charging);
            }
            EvStep::Charging => {
                if let (Some(v), Some(i)) = (number(1), number(2)) {
                    self.q.commands.push_back(HardwareCommand::ChargerPresent {
                        voltage: Volts(v),
                        current: Amps(i),
                    });
                }
                if self.stop || self.target_i <= 0.0 {
                    self.phase(Phase::PowerDeliveryStop);
                    self.request(EvStep::StopPower);
                } else {
                    self.request(EvStep::Charging);
                }
            }
            EvStep::StopPower => {
                self.q
                    .commands
                    .push_back(HardwareCommand::CpState(CpState::B));
                self.phase(Phase::WeldingDetection);
                self.request(EvStep::Welding);
            }
            EvStep::Welding => {
                if number(2).is_some_and(|i| i < 1.0) {
                    self.q
                        .commands
                        .push_back(HardwareCommand::Contactors(ContactorRequest::Open));
                    self.phase(Phase::SessionStop);
                    self.request(EvStep::End);
                } else {
                    self.request(EvStep::Welding);
                }
            }
            EvStep::End => {
                self.q
                    .commands
                    .push_back(HardwareCommand::ConnectorLock(LockRequest::Unlock));
                self.step = EvStep::Done;
                self.q.transmits.push_back(Transmit::Close);
                self.q.finish(Outcome::Completed);
            }
            EvStep::Idle | EvStep::Done => {
                self.fail(SessionError::PeerMisbehaved("response to nothing".into()));
            }
        }
    }

    fn handle_disconnected(&mut self, _now: Instant, reason: Disconnect) {
        if !self.q.finished {
            self.fail(SessionError::ConnectionLost(format!("{reason:?}")));
        }
    }

    fn handle_measurement(&mut self, _now: Instant, m: Measurement) {
        match m {
            Measurement::BatteryVoltage(v) => self.battery_v = v.0,
            Measurement::TargetVoltage(v) => self.target_v = v.0,
            Measurement::TargetCurrent(i) => self.target_i = i.0,
            Measurement::InletVoltage(v) => self.inlet_v = v.0,
            Measurement::ContactorsClosed(c) => self.contactors_closed = c,
            _ => {}
        }
    }

    fn handle_stop_request(&mut self, _now: Instant) {
        self.stop = true;
    }

    common_polls!();
}

/// The charger side.
pub(crate) struct ToySecc {
    q: Queues,
    isolation: IsolationStatus,
    ps_v: f32,
    ps_i: f32,
    ended: bool,
}

impl ToySecc {
    pub(crate) fn new() -> Self {
        Self {
            q: Queues::default(),
            isolation: IsolationStatus::Invalid,
            ps_v: 0.0,
            ps_i: 0.0,
            ended: false,
        }
    }

    fn supply(&mut self, enabled: bool, v: f32, i: f32) {
        self.q
            .commands
            .push_back(HardwareCommand::PowerSupply(PowerSupplySetpoint {
                enabled,
                voltage: Volts(v),
                current: Amps(i),
            }));
    }
}

impl V2gSession for ToySecc {
    fn role(&self) -> Role {
        Role::Secc
    }

    fn handle_connected(&mut self, _now: Instant) {
        self.q
            .events
            .push_back(SessionEvent::PhaseChanged(Phase::Handshake));
    }

    fn handle_message(&mut self, _now: Instant, _pt: PayloadType, payload: &[u8]) {
        let text = String::from_utf8_lossy(payload).to_string();
        let words: Vec<&str> = text.split(' ').collect();
        let number = |i: usize| words.get(i).and_then(|w| w.parse::<f32>().ok());
        let word = words.first().copied().unwrap_or("");
        self.q.events.push_back(SessionEvent::Received {
            name: name_of(word),
            summary: text.clone(),
        });
        let present = format!("PRESENT {:.1} {:.1}", self.ps_v, self.ps_i);
        let answer = match word {
            "HELLO" => "OK".to_string(),
            "CABLECHECK" if self.isolation == IsolationStatus::Valid => {
                self.supply(false, 0.0, 0.0);
                "DONE".to_string()
            }
            "CABLECHECK" => {
                self.supply(true, 450.0, 1.0);
                "ONGOING".to_string()
            }
            "PRECHARGE" => {
                self.supply(true, number(1).unwrap_or(0.0), 2.0);
                present
            }
            "START" => "OK".to_string(),
            "CURRENT" => {
                self.supply(true, number(1).unwrap_or(0.0), number(2).unwrap_or(0.0));
                present
            }
            "STOPPOWER" => {
                self.supply(false, 0.0, 0.0);
                "OK".to_string()
            }
            "WELDING" => present,
            "END" => {
                self.ended = true;
                "BYE".to_string()
            }
            _ => "FAILED".to_string(),
        };
        self.q.send(answer, "ToyRes");
    }

    fn handle_disconnected(&mut self, _now: Instant, reason: Disconnect) {
        self.supply(false, 0.0, 0.0);
        self.q.transmits.push_back(Transmit::Close);
        if self.ended && reason == Disconnect::Closed {
            self.q.finish(Outcome::Completed);
        } else {
            self.q
                .finish(Outcome::Failed(SessionError::ConnectionLost(format!(
                    "{reason:?}"
                ))));
        }
    }

    fn handle_measurement(&mut self, _now: Instant, m: Measurement) {
        match m {
            Measurement::Isolation(s) => self.isolation = s,
            Measurement::PowerSupplyVoltage(v) => self.ps_v = v.0,
            Measurement::PowerSupplyCurrent(i) => self.ps_i = i.0,
            _ => {}
        }
    }

    fn handle_stop_request(&mut self, _now: Instant) {}

    common_polls!();
}

/// The session factory for the world: toy sessions on every host.
pub(crate) fn toy_sessions(slot: &ccs_sim::world::SessionSlot) -> Box<dyn V2gSession> {
    match slot.side {
        ccs_sim::world::Side::Ev => Box::new(ToyEvcc::new()),
        ccs_sim::world::Side::Evse(_) => Box::new(ToySecc::new()),
    }
}
