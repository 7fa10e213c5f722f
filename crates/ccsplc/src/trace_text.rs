//! The text of the live trace lines, shared by `ccsplc sim` and the commands on real
//! interfaces (`ev`, `evse`, `listen`), so that both print the same words for the same event.

use std::collections::BTreeMap;

use ccs_proto::hardware::{ContactorRequest, CpState, HardwareCommand, LockRequest};
use ccs_proto::session::{Outcome, SessionEvent};
use ccs_proto::slac::SlacEvent;
use ccs_proto::time::{Duration, Instant};

/// Turns session events and hardware commands of one side into trace texts, showing a
/// repeated message (CableCheck, PreCharge, CurrentDemand) at most once per second.
#[derive(Debug, Default)]
pub(crate) struct TraceText {
    /// Per message name: when it was last shown.
    last_shown: BTreeMap<&'static str, Instant>,
    supply_on: Option<bool>,
    /// Also show received messages (`<- name`): on real interfaces, where the peer is
    /// another process. `ccsplc sim` shows both sides' sent messages instead.
    pub(crate) show_received: bool,
}

impl TraceText {
    /// Text for received messages too.
    pub(crate) fn with_received() -> Self {
        Self {
            show_received: true,
            ..Self::default()
        }
    }

    fn throttled(&mut self, now: Instant, name: &'static str) -> bool {
        if let Some(at) = self.last_shown.get(name)
            && now < *at + Duration::from_secs(1)
        {
            return true;
        }
        self.last_shown.insert(name, now);
        false
    }

    /// The text for a session event at `now`, `None` for events not shown.
    pub(crate) fn session(&mut self, now: Instant, e: &SessionEvent) -> Option<String> {
        match e {
            SessionEvent::ProtocolNegotiated {
                protocol,
                schema_id,
            } => Some(format!("protocol {protocol} (SchemaID {schema_id})")),
            SessionEvent::PhaseChanged(phase) => {
                Some(format!("phase {phase:?} ({})", phase.checkpoint()))
            }
            SessionEvent::Sent { name, summary } => {
                if self.throttled(now, name) {
                    return None;
                }
                Some(message_text("->", name, summary))
            }
            SessionEvent::Received { name, summary } if self.show_received => {
                if self.throttled(now, name) {
                    return None;
                }
                Some(message_text("<-", name, summary))
            }
            SessionEvent::Failing(error) => Some(format!("failure, safe shutdown: {error}")),
            SessionEvent::Finished(Outcome::Completed) => Some("session completed".to_owned()),
            SessionEvent::Finished(Outcome::Failed(error)) => {
                Some(format!("session failed: {error}"))
            }
            _ => None,
        }
    }

    /// The text for a hardware command, `None` for commands not shown.
    pub(crate) fn command(&mut self, command: &HardwareCommand) -> Option<String> {
        match command {
            HardwareCommand::CpState(CpState::B) => Some("CP state B".to_owned()),
            HardwareCommand::CpState(CpState::C) => Some("CP state C".to_owned()),
            HardwareCommand::Contactors(ContactorRequest::Closed) => {
                Some("contactors: close".to_owned())
            }
            HardwareCommand::Contactors(ContactorRequest::Open) => {
                Some("contactors: open".to_owned())
            }
            HardwareCommand::ConnectorLock(LockRequest::Lock) => Some("connector: lock".to_owned()),
            HardwareCommand::ConnectorLock(LockRequest::Unlock) => {
                Some("connector: unlock".to_owned())
            }
            HardwareCommand::PowerSupply(s) if self.supply_on != Some(s.enabled) => {
                self.supply_on = Some(s.enabled);
                Some(if s.enabled {
                    format!(
                        "power supply on: {:.1} V, {:.1} A",
                        s.voltage.0, s.current.0
                    )
                } else {
                    "power supply off".to_owned()
                })
            }
            _ => None,
        }
    }
}

fn message_text(arrow: &str, name: &str, summary: &str) -> String {
    if summary.is_empty() {
        format!("{arrow} {name}")
    } else {
        format!("{arrow} {name} {summary}")
    }
}

/// The text for a SLAC event, `None` for events not shown.
pub(crate) fn slac_text(e: &SlacEvent) -> Option<String> {
    Some(match e {
        SlacEvent::ModemFound {
            modem_mac,
            firmware,
        } => format!("modem {modem_mac} found ({firmware})"),
        SlacEvent::Ready { nid } => format!("SLAC ready, modem keyed (NID {nid})"),
        SlacEvent::SessionStarted { ev_mac, .. } => format!("SLAC: car {ev_mac} started matching"),
        SlacEvent::AttenuationReported { evse_mac, mean_db } => {
            format!("SLAC: attenuation {mean_db:.1} dB to {evse_mac}")
        }
        SlacEvent::EvseChosen {
            evse_mac,
            mean_db,
            candidates,
        } => format!("SLAC: chose {evse_mac} ({mean_db:.1} dB, {candidates} answered)"),
        SlacEvent::Paired {
            evse_mac,
            ev_mac,
            nid,
            ..
        } => {
            format!("SLAC paired: car {ev_mac} with charger {evse_mac} (NID {nid})")
        }
        SlacEvent::AttemptFailed { reason } => format!("SLAC attempt failed: {reason:?}"),
        SlacEvent::Failed { reason } => format!("SLAC failed: {reason:?}"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_messages_are_shown_once_per_second() {
        let mut text = TraceText::default();
        let sent = SessionEvent::Sent {
            name: "CurrentDemandReq",
            summary: String::new(),
        };
        let shown: Vec<i64> = [0, 100, 900, 1000, 1100, 2500]
            .into_iter()
            .filter(|&ms| text.session(Instant::from_millis(ms), &sent).is_some())
            .collect();
        assert_eq!(shown, vec![0, 1000, 2500]);
    }

    #[test]
    fn received_messages_only_when_asked() {
        let received = SessionEvent::Received {
            name: "CurrentDemandRes",
            summary: "U=400.0V".into(),
        };
        assert_eq!(TraceText::default().session(Instant::ZERO, &received), None);
        assert_eq!(
            TraceText::with_received()
                .session(Instant::ZERO, &received)
                .as_deref(),
            Some("<- CurrentDemandRes U=400.0V")
        );
    }
}
