//! Detects inputs that stopped updating, for adapters whose devices publish periodically.

use std::collections::{BTreeMap, BTreeSet};

use ccs_proto::hardware::MeasurementKind;
use tokio::time::{Duration, Instant};

/// Tracks when each input last arrived and which ones are overdue.
///
/// An input is watched once it has arrived (a device that publishes it has shown up) or from
/// the start if it is listed as required. It becomes stale when it has not been updated for
/// `timeout`; it is reported once and cleared when it arrives again. With
/// [`only`](Self::only), inputs outside the given set (event-like ones such as a stop switch
/// that is published only when it changes) are never watched.
#[derive(Debug)]
pub(crate) struct InputWatch {
    timeout: Option<Duration>,
    last: BTreeMap<MeasurementKind, Instant>,
    stale: BTreeSet<MeasurementKind>,
    only: Option<BTreeSet<MeasurementKind>>,
}

impl InputWatch {
    pub(crate) fn new(
        timeout: Option<Duration>,
        required: &[MeasurementKind],
        start: Instant,
    ) -> Self {
        Self {
            timeout,
            last: required.iter().map(|&k| (k, start)).collect(),
            stale: BTreeSet::new(),
            only: None,
        }
    }

    /// Watches only `kinds` (and the required inputs); other arrivals are ignored.
    pub(crate) fn only(mut self, kinds: &[MeasurementKind]) -> Self {
        self.only = Some(kinds.iter().copied().collect());
        self
    }

    /// Notes an arrival; returns `true` if the input had been reported stale.
    pub(crate) fn arrived(&mut self, kind: MeasurementKind, now: Instant) -> bool {
        let watched = self.last.contains_key(&kind)
            || self.only.as_ref().is_none_or(|only| only.contains(&kind));
        if !watched {
            return false;
        }
        self.last.insert(kind, now);
        self.stale.remove(&kind)
    }

    /// The inputs that became stale at `now` (each reported once).
    pub(crate) fn newly_stale(&mut self, now: Instant) -> Vec<MeasurementKind> {
        let Some(timeout) = self.timeout else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (&kind, &at) in &self.last {
            if now.saturating_duration_since(at) >= timeout && self.stale.insert(kind) {
                out.push(kind);
            }
        }
        out
    }

    /// When the next input becomes stale, if any is watched.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let timeout = self.timeout?;
        self.last
            .iter()
            .filter(|(kind, _)| !self.stale.contains(kind))
            .map(|(_, &at)| at + timeout)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_inputs_go_stale_from_the_start_others_once_seen() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut w = InputWatch::new(Some(ms(100)), &[MeasurementKind::Soc], t0);
        assert_eq!(w.next_deadline(), Some(t0 + ms(100)));
        assert!(!w.arrived(MeasurementKind::BatteryVoltage, t0 + ms(50)));
        assert_eq!(w.newly_stale(t0 + ms(99)), []);
        assert_eq!(w.newly_stale(t0 + ms(100)), [MeasurementKind::Soc]);
        assert_eq!(w.newly_stale(t0 + ms(120)), []);
        assert_eq!(w.next_deadline(), Some(t0 + ms(150)));
        assert_eq!(
            w.newly_stale(t0 + ms(150)),
            [MeasurementKind::BatteryVoltage]
        );
        assert!(w.arrived(MeasurementKind::Soc, t0 + ms(200)));
        assert_eq!(w.next_deadline(), Some(t0 + ms(300)));
    }

    #[test]
    fn only_the_listed_inputs_are_watched() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut w = InputWatch::new(Some(ms(100)), &[], t0).only(&[MeasurementKind::Soc]);
        assert!(!w.arrived(MeasurementKind::ChargingEnabled, t0));
        assert_eq!(w.next_deadline(), None);
        assert!(!w.arrived(MeasurementKind::Soc, t0));
        assert_eq!(w.newly_stale(t0 + ms(100)), [MeasurementKind::Soc]);
    }

    #[test]
    fn no_timeout_means_nothing_is_ever_stale() {
        let t0 = Instant::now();
        let mut w = InputWatch::new(None, &[MeasurementKind::Soc], t0);
        assert_eq!(w.newly_stale(t0 + Duration::from_secs(3600)), []);
        assert_eq!(w.next_deadline(), None);
    }
}
