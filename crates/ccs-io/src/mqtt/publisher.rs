//! Publish on change, at a limited rate: pyPLC throttles state and power requests to one per
//! second (`reference/pyplc-behaviour.md` §11.2). Here only status is throttled; actuator
//! requests, the power supply's set-points among them, go out at once.

use std::collections::BTreeMap;

use tokio::time::{Duration, Instant};

use super::profile::Urgency;

#[derive(Debug)]
struct TopicState {
    urgency: Urgency,
    sent: Option<(String, Instant)>,
    pending: Option<String>,
    /// When the pending value was offered, for sending in the order of the commands: the
    /// safe shutdown's CP state B, relay off and unlock must reach the BMS in that order.
    offered: u64,
}

/// Decides which topic payloads go out when.
#[derive(Debug)]
pub(crate) struct Publisher {
    min_interval: Duration,
    topics: BTreeMap<String, TopicState>,
    offers: u64,
}

impl Publisher {
    pub(crate) fn new(min_interval: Duration) -> Self {
        Self {
            min_interval,
            topics: BTreeMap::new(),
            offers: 0,
        }
    }

    /// Offers a new value for `topic`; it goes out if it differs from what was sent last.
    pub(crate) fn offer(&mut self, topic: &str, payload: String, urgency: Urgency) {
        self.offers += 1;
        let state = self
            .topics
            .entry(topic.to_owned())
            .or_insert_with(|| TopicState {
                urgency,
                sent: None,
                pending: None,
                offered: 0,
            });
        let unchanged = state.sent.as_ref().is_some_and(|(p, _)| *p == payload);
        state.pending = if unchanged { None } else { Some(payload) };
        state.offered = self.offers;
    }

    /// Everything due at `now`, in the order it was offered; each is marked as sent.
    pub(crate) fn due(&mut self, now: Instant) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (topic, state) in &mut self.topics {
            let ready = match (&state.pending, &state.sent, state.urgency) {
                (None, _, _) => false,
                (Some(_), _, Urgency::Actuator) | (Some(_), None, _) => true,
                (Some(_), Some((_, at)), Urgency::Status) => {
                    now.saturating_duration_since(*at) >= self.min_interval
                }
            };
            if ready && let Some(payload) = state.pending.take() {
                state.sent = Some((payload.clone(), now));
                out.push((state.offered, topic.clone(), payload));
            }
        }
        out.sort_by_key(|(offered, _, _)| *offered);
        out.into_iter().map(|(_, t, p)| (t, p)).collect()
    }

    /// How urgently `topic`'s values go out (`None` for a topic never offered).
    pub(crate) fn urgency(&self, topic: &str) -> Option<Urgency> {
        self.topics.get(topic).map(|s| s.urgency)
    }

    /// Lifts the rate limit for what is pending now (at the end, nothing may be held back).
    pub(crate) fn release_all(&mut self) {
        for state in self.topics.values_mut() {
            if state.pending.is_some() {
                state.sent = None;
            }
        }
    }

    /// When the next held-back value becomes due.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.topics
            .values()
            .filter(|s| s.pending.is_some())
            .map(|s| match &s.sent {
                Some((_, at)) if s.urgency == Urgency::Status => *at + self.min_interval,
                _ => Instant::now(),
            })
            .min()
    }

    /// After a reconnect: the broker forgot everything (QoS 0, not retained), so every last
    /// value goes out again at once.
    pub(crate) fn republish_all(&mut self) {
        for state in self.topics.values_mut() {
            if state.pending.is_none() {
                state.pending = state.sent.take().map(|(p, _)| p);
            } else {
                state.sent = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use ccs_proto::hardware::{Amps, HardwareCommand, PowerSupplySetpoint, Volts};

    use super::*;
    use crate::mqtt::{MqttRole, profile};

    #[test]
    fn status_is_rate_limited_and_latest_wins_actuators_are_not() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut p = Publisher::new(s(1));
        p.offer("fsm_state", "a".into(), Urgency::Status);
        assert_eq!(p.due(t0), [("fsm_state".into(), "a".into())]);
        p.offer("fsm_state", "b".into(), Urgency::Status);
        p.offer("fsm_state", "c".into(), Urgency::Status);
        p.offer("cpstate", "C".into(), Urgency::Actuator);
        assert_eq!(p.due(t0), [("cpstate".into(), "C".into())]);
        p.offer("cpstate", "B".into(), Urgency::Actuator);
        assert_eq!(p.due(t0), [("cpstate".into(), "B".into())]);
        assert_eq!(p.next_deadline(), Some(t0 + s(1)));
        assert_eq!(p.due(t0 + s(1)), [("fsm_state".into(), "c".into())]);
        // Unchanged values are not sent again.
        p.offer("fsm_state", "c".into(), Urgency::Status);
        assert_eq!(p.due(t0 + s(5)), []);
        assert_eq!(p.next_deadline(), None);
    }

    #[test]
    fn due_values_keep_the_order_of_the_commands() {
        let t0 = Instant::now();
        let mut p = Publisher::new(Duration::from_secs(1));
        p.offer("relay_request", "off".into(), Urgency::Actuator);
        p.offer("lock_request", "unlock".into(), Urgency::Actuator);
        p.offer("cpstate", "B".into(), Urgency::Actuator);
        assert_eq!(
            p.due(t0),
            [
                ("relay_request".into(), "off".into()),
                ("lock_request".into(), "unlock".into()),
                ("cpstate".into(), "B".into())
            ]
        );
    }

    #[test]
    fn a_power_supply_off_right_after_a_set_point_is_not_held_back() {
        let t0 = Instant::now();
        let mut p = Publisher::new(Duration::from_secs(1));
        let offer = |p: &mut Publisher, sp| {
            let command = HardwareCommand::PowerSupply(sp);
            for (topic, payload, urgency) in profile::outputs(MqttRole::Charger, &command) {
                p.offer(topic, payload, urgency);
            }
        };
        offer(
            &mut p,
            PowerSupplySetpoint {
                enabled: true,
                voltage: Volts(400.0),
                current: Amps(100.0),
            },
        );
        assert_eq!(
            p.due(t0),
            [
                ("target_current".into(), "100".into()),
                ("target_voltage".into(), "400".into())
            ]
        );
        offer(&mut p, PowerSupplySetpoint::OFF);
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!(
            p.due(t1),
            [
                ("target_current".into(), "0".into()),
                ("target_voltage".into(), "0".into())
            ]
        );
        assert_eq!(p.urgency("target_current"), Some(Urgency::Actuator));
    }

    #[test]
    fn release_all_lifts_the_rate_limit() {
        let t0 = Instant::now();
        let mut p = Publisher::new(Duration::from_secs(1));
        p.offer("fsm_state", "PreCharging".into(), Urgency::Status);
        assert_eq!(p.due(t0).len(), 1);
        p.offer("fsm_state", "Stopped".into(), Urgency::Status);
        assert_eq!(p.due(t0), []);
        p.release_all();
        assert_eq!(p.due(t0), [("fsm_state".into(), "Stopped".into())]);
    }

    #[test]
    fn republish_all_sends_every_last_value_at_once() {
        let t0 = Instant::now();
        let mut p = Publisher::new(Duration::from_secs(1));
        p.offer("a", "1".into(), Urgency::Status);
        p.offer("b", "2".into(), Urgency::Actuator);
        assert_eq!(p.due(t0).len(), 2);
        p.republish_all();
        assert_eq!(
            p.due(t0),
            [("a".into(), "1".into()), ("b".into(), "2".into())]
        );
    }
}
