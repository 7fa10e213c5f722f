//! What carries the hosts' Ethernet frames: a [`Medium`].
//!
//! The world does not care whether the frames cross simulated HomePlug modems (the powerline,
//! with AVLN gating and attenuation profiles) or a plain shared wire without modems (pyPLC's
//! simulation mode, `--no-modem`, and `--no-slac` where the link counts as already paired).
//! Either way every frame is a whole Ethernet frame, so the frame tap of the world sees what a
//! capture on the host's interface would.

use core::fmt;

use ccs_proto::time::{Duration, Instant};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

use crate::powerline::{Powerline, StationId};

/// A sans-IO carrier of Ethernet frames between numbered stations (one host each).
pub trait Medium: fmt::Debug {
    /// A frame the host of `station` puts on its interface.
    fn handle_host_frame(&mut self, now: Instant, station: usize, frame: &[u8]);
    /// The next frame for a host, with the station it is for.
    fn poll_host_transmit(&mut self) -> Option<(usize, Vec<u8>)>;
    /// When [`Medium::handle_timeout`] must run next.
    fn poll_timeout(&self) -> Option<Instant>;
    /// Delivers what is due at `now`.
    fn handle_timeout(&mut self, now: Instant);
    /// The probability that a host frame is lost from now on, 0.0–1.0.
    fn set_loss(&mut self, probability: f64);
    /// Reboots the modem of `station` now; false if this medium has no modems.
    fn reboot_station(&mut self, now: Instant, station: usize) -> bool {
        let _ = (now, station);
        false
    }
}

/// The simulated powerline with its modems: station `n` is the modem added `n`-th.
impl Medium for Powerline {
    fn handle_host_frame(&mut self, now: Instant, station: usize, frame: &[u8]) {
        Self::handle_host_frame(self, now, StationId(station), frame);
    }

    fn poll_host_transmit(&mut self) -> Option<(usize, Vec<u8>)> {
        Self::poll_host_transmit(self).map(|(StationId(n), frame)| (n, frame))
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Self::poll_timeout(self)
    }

    fn handle_timeout(&mut self, now: Instant) {
        Self::handle_timeout(self, now);
    }

    fn set_loss(&mut self, probability: f64) {
        Self::set_loss(self, probability);
    }

    fn reboot_station(&mut self, now: Instant, station: usize) -> bool {
        match self.modem_mut(StationId(station)) {
            Some(modem) => {
                modem.reboot_now(now);
                true
            }
            None => false,
        }
    }
}

#[derive(Debug)]
struct InFlight {
    at: Instant,
    sequence: u64,
    to: usize,
    frame: Vec<u8>,
}

/// A shared wire without modems: every frame reaches every other station after a latency
/// drawn from a range, unless the seeded loss drops it. Hosts filter by destination MAC, as
/// Ethernet hosts do.
#[derive(Debug)]
pub struct DirectLine {
    stations: usize,
    latency: (Duration, Duration),
    loss_per_million: u32,
    in_flight: Vec<InFlight>,
    sequence: u64,
    delivered: std::collections::VecDeque<(usize, Vec<u8>)>,
    rng: ChaCha8Rng,
    /// The latest arrival per (from, to): the wire delivers in order.
    last_arrival: std::collections::BTreeMap<(usize, usize), Instant>,
}

impl DirectLine {
    /// A wire for `stations` hosts.
    pub fn new(stations: usize, seed: u64) -> Self {
        Self {
            stations,
            latency: (Duration::from_millis(1), Duration::from_millis(3)),
            loss_per_million: 0,
            in_flight: Vec::new(),
            sequence: 0,
            delivered: std::collections::VecDeque::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            last_arrival: std::collections::BTreeMap::new(),
        }
    }

    /// The latency range (uniform), default 1–3 ms.
    pub fn set_latency(&mut self, min: Duration, max: Duration) {
        self.latency = (min, max.max(min));
    }

    /// The probability that a frame is lost, 0.0–1.0.
    pub fn set_loss(&mut self, probability: f64) {
        self.loss_per_million = (probability.clamp(0.0, 1.0) * 1e6) as u32;
    }

    fn latency(&mut self) -> Duration {
        let (min, max) = self.latency;
        let span = max.total_micros() - min.total_micros();
        let extra = if span == 0 {
            0
        } else {
            self.rng.next_u64() % (span + 1)
        };
        Duration::from_micros(min.total_micros() + extra)
    }
}

impl Medium for DirectLine {
    fn handle_host_frame(&mut self, now: Instant, station: usize, frame: &[u8]) {
        for to in (0..self.stations).filter(|&to| to != station) {
            if self.loss_per_million > 0 && self.rng.next_u32() % 1_000_000 < self.loss_per_million
            {
                continue;
            }
            let drawn = now + self.latency();
            let at = self
                .last_arrival
                .get(&(station, to))
                .map_or(drawn, |last| drawn.max(*last));
            self.last_arrival.insert((station, to), at);
            self.sequence += 1;
            self.in_flight.push(InFlight {
                at,
                sequence: self.sequence,
                to,
                frame: frame.to_vec(),
            });
        }
    }

    fn poll_host_transmit(&mut self) -> Option<(usize, Vec<u8>)> {
        self.delivered.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.in_flight.iter().map(|f| f.at).min()
    }

    fn handle_timeout(&mut self, now: Instant) {
        let mut due: Vec<InFlight> = Vec::new();
        let mut i = 0;
        while i < self.in_flight.len() {
            if self.in_flight[i].at <= now {
                due.push(self.in_flight.swap_remove(i));
            } else {
                i += 1;
            }
        }
        due.sort_by_key(|f| (f.at, f.sequence));
        self.delivered
            .extend(due.into_iter().map(|f| (f.to, f.frame)));
    }

    fn set_loss(&mut self, probability: f64) {
        Self::set_loss(self, probability);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_reach_every_other_station_in_order_after_the_latency() {
        let mut line = DirectLine::new(3, 1);
        line.set_latency(Duration::from_millis(2), Duration::from_millis(2));
        line.handle_host_frame(Instant::ZERO, 0, b"one");
        line.handle_host_frame(Instant::ZERO, 0, b"two");
        assert_eq!(line.poll_timeout(), Some(Instant::from_millis(2)));
        line.handle_timeout(Instant::from_millis(1));
        assert_eq!(line.poll_host_transmit(), None);
        line.handle_timeout(Instant::from_millis(2));
        let got: Vec<_> = core::iter::from_fn(|| line.poll_host_transmit()).collect();
        assert_eq!(
            got,
            vec![
                (1, b"one".to_vec()),
                (2, b"one".to_vec()),
                (1, b"two".to_vec()),
                (2, b"two".to_vec())
            ]
        );
    }

    #[test]
    fn back_to_back_frames_keep_their_order_whatever_the_latency() {
        let mut line = DirectLine::new(2, 7);
        line.set_latency(Duration::from_millis(1), Duration::from_millis(9));
        for n in 0..50u8 {
            line.handle_host_frame(Instant::from_micros(i64::from(n) * 10), 0, &[n]);
        }
        line.handle_timeout(Instant::from_millis(100));
        let got: Vec<u8> = core::iter::from_fn(|| line.poll_host_transmit())
            .map(|(_, f)| f[0])
            .collect();
        assert_eq!(got, (0..50).collect::<Vec<u8>>());
    }

    #[test]
    fn full_loss_delivers_nothing() {
        let mut line = DirectLine::new(2, 1);
        line.set_loss(1.0);
        line.handle_host_frame(Instant::ZERO, 0, b"x");
        assert_eq!(line.poll_timeout(), None);
    }
}
