//! The simulated powerline: a shared medium joining simulated modems, each with a host on its
//! Ethernet side. Sans-IO like the modems: hosts' frames go in with
//! [`Powerline::handle_host_frame`], frames for hosts come out of
//! [`Powerline::poll_host_transmit`], and [`Powerline::poll_timeout`] says when to call
//! [`Powerline::handle_timeout`] next.
//!
//! Every frame is a plain Ethernet frame, so the same line carries SLAC now and IPv6 (SDP,
//! V2GTP over TCP) once the modems have formed an AVLN; a TAP-based driver feeds each TAP
//! device's frames in as one station and writes what comes out back to that TAP.
//!
//! Knobs: per-link attenuation, loss, latency, a fault hook on every frame a host puts on the
//! line, and the per-modem knobs of [`ModemConfig`]. Everything random comes from one seeded
//! ChaCha RNG, so a run is reproducible.

use std::collections::{BTreeMap, VecDeque};

use ccs_proto::time::{Duration, Instant};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

use crate::modem::{LineFrame, ModemConfig, ModemOutput, SimModem};

/// A station on the line: one modem and the host behind it.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct StationId(pub usize);

/// What the fault hook decides for a frame.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Verdict {
    /// Deliver (possibly after the hook changed the bytes).
    Deliver,
    /// Lose it on the line.
    Drop,
}

/// Called for every host frame a modem puts on the line, with the sending station; may change
/// the bytes or drop the frame.
pub type FaultHook = Box<dyn FnMut(StationId, &mut Vec<u8>) -> Verdict>;

#[derive(Debug)]
struct InFlight {
    at: Instant,
    sequence: u64,
    to: StationId,
    frame: LineFrame,
    attenuation_db: u8,
}

/// The powerline with its modems.
pub struct Powerline {
    modems: Vec<SimModem>,
    attenuation: BTreeMap<(StationId, StationId), u8>,
    default_attenuation_db: u8,
    loss_per_million: u32,
    latency: (Duration, Duration),
    fault: Option<FaultHook>,
    in_flight: Vec<InFlight>,
    sequence: u64,
    to_hosts: VecDeque<(StationId, Vec<u8>)>,
    rng: ChaCha8Rng,
    seed: u64,
    /// The latest arrival scheduled per link: a link delivers in order, as a real one does
    /// (per-frame random latency alone would reorder frames sent back to back).
    last_arrival: BTreeMap<(StationId, StationId), Instant>,
}

impl core::fmt::Debug for Powerline {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Powerline")
            .field("modems", &self.modems.len())
            .field("in_flight", &self.in_flight.len())
            .finish_non_exhaustive()
    }
}

impl Powerline {
    /// An empty line; `seed` makes every random choice reproducible.
    pub fn new(seed: u64) -> Self {
        Self {
            modems: Vec::new(),
            attenuation: BTreeMap::new(),
            default_attenuation_db: 20,
            loss_per_million: 0,
            latency: (Duration::from_millis(1), Duration::from_millis(3)),
            fault: None,
            in_flight: Vec::new(),
            sequence: 0,
            to_hosts: VecDeque::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            seed,
            last_arrival: BTreeMap::new(),
        }
    }

    /// The usual setup: a car's modem and a charger's modem on one line (for a TAP bridge or
    /// an in-process session). Returns the line and the (car, charger) stations.
    pub fn with_pair(
        seed: u64,
        now: Instant,
        ev_modem: ModemConfig,
        evse_modem: ModemConfig,
    ) -> (Self, StationId, StationId) {
        let mut line = Self::new(seed);
        let ev = line.add_modem(ev_modem, now);
        let evse = line.add_modem(evse_modem, now);
        (line, ev, evse)
    }

    /// Plugs in a modem (powered up at `now`).
    pub fn add_modem(&mut self, config: ModemConfig, now: Instant) -> StationId {
        let id = StationId(self.modems.len());
        let seed = self.seed ^ (id.0 as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.modems.push(SimModem::new(config, seed, now));
        id
    }

    /// The modem of a station.
    pub fn modem(&self, station: StationId) -> Option<&SimModem> {
        self.modems.get(station.0)
    }

    /// The modem of a station, to change its knobs mid-run (e.g. a join that stops working).
    pub fn modem_mut(&mut self, station: StationId) -> Option<&mut SimModem> {
        self.modems.get_mut(station.0)
    }

    /// The number of stations.
    pub fn stations(&self) -> usize {
        self.modems.len()
    }

    /// The attenuation between two stations (both directions), dB.
    pub fn set_attenuation(&mut self, a: StationId, b: StationId, db: u8) {
        self.attenuation.insert((a, b), db);
        self.attenuation.insert((b, a), db);
    }

    /// The attenuation of links not set explicitly (default 20 dB).
    pub fn set_default_attenuation(&mut self, db: u8) {
        self.default_attenuation_db = db;
    }

    /// Probability that a frame is lost on a link, 0.0–1.0.
    pub fn set_loss(&mut self, probability: f64) {
        self.loss_per_million = (probability.clamp(0.0, 1.0) * 1e6) as u32;
    }

    /// Latency range of the line (uniform), default 1–3 ms.
    pub fn set_latency(&mut self, min: Duration, max: Duration) {
        self.latency = (min, max.max(min));
    }

    /// Installs a fault hook (replacing any earlier one).
    pub fn set_fault(&mut self, hook: FaultHook) {
        self.fault = Some(hook);
    }

    /// A frame from the host of `station`.
    pub fn handle_host_frame(&mut self, now: Instant, station: StationId, frame: &[u8]) {
        if let Some(modem) = self.modems.get_mut(station.0) {
            modem.handle_host_frame(now, frame);
        }
        self.pump(now);
    }

    /// The next frame for a host, with the station it is for.
    pub fn poll_host_transmit(&mut self) -> Option<(StationId, Vec<u8>)> {
        self.to_hosts.pop_front()
    }

    /// The next time something happens on the line or in a modem.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let flight = self.in_flight.iter().map(|f| f.at).min();
        let modems = self.modems.iter().filter_map(SimModem::poll_timeout).min();
        flight.into_iter().chain(modems).min()
    }

    /// Delivers what is due and runs the modems' timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        for modem in &mut self.modems {
            modem.handle_timeout(now);
        }
        self.pump(now);
    }

    fn attenuation_db(&self, from: StationId, to: StationId) -> u8 {
        self.attenuation
            .get(&(from, to))
            .copied()
            .unwrap_or(self.default_attenuation_db)
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

    fn lost(&mut self) -> bool {
        self.loss_per_million > 0 && self.rng.next_u32() % 1_000_000 < self.loss_per_million
    }

    /// Moves frames until nothing more is due at `now`.
    fn pump(&mut self, now: Instant) {
        // Bounded: each round either delivers something or stops.
        for _ in 0..100_000 {
            let mut progressed = false;
            for index in 0..self.modems.len() {
                while let Some(output) = self.modems[index].poll_output(now) {
                    progressed = true;
                    match output {
                        ModemOutput::ToHost(frame) => {
                            self.to_hosts.push_back((StationId(index), frame));
                        }
                        ModemOutput::ToLine(frame) => self.transmit(now, StationId(index), frame),
                    }
                }
            }
            let due = self
                .in_flight
                .iter()
                .enumerate()
                .filter(|(_, f)| f.at <= now)
                .min_by_key(|(_, f)| (f.at, f.sequence))
                .map(|(i, _)| i);
            if let Some(i) = due {
                let f = self.in_flight.swap_remove(i);
                if let Some(modem) = self.modems.get_mut(f.to.0) {
                    modem.handle_line_frame(now, &f.frame, f.attenuation_db);
                    modem.handle_timeout(now);
                }
                progressed = true;
            }
            if !progressed {
                return;
            }
        }
    }

    fn transmit(&mut self, now: Instant, from: StationId, mut frame: LineFrame) {
        if let (LineFrame::Data { frame: bytes, .. }, Some(hook)) = (&mut frame, &mut self.fault)
            && hook(from, bytes) == Verdict::Drop
        {
            return;
        }
        for to in (0..self.modems.len()).map(StationId) {
            if to == from {
                continue;
            }
            // Loss applies to host data only; beacons and association are modelled as reliable.
            if matches!(frame, LineFrame::Data { .. }) && self.lost() {
                continue;
            }
            let drawn = now + self.latency();
            let at = self
                .last_arrival
                .get(&(from, to))
                .map_or(drawn, |last| drawn.max(*last));
            self.last_arrival.insert((from, to), at);
            self.sequence += 1;
            let attenuation_db = self.attenuation_db(from, to);
            self.in_flight.push(InFlight {
                at,
                sequence: self.sequence,
                to,
                frame: frame.clone(),
                attenuation_db,
            });
        }
    }
}
