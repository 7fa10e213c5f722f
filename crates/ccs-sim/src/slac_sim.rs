//! A SLAC scenario under the virtual clock: one EV and any number of chargers, each host with
//! its simulated modem on one powerline, driven until a condition holds or time runs out.
//!
//! The driving loop is the one every real driver runs (quinn's `drive`): deliver what is due,
//! run expired timers, drain transmits and events, jump the clock to the earliest deadline.

use std::collections::VecDeque;

use ccs_proto::homeplug::{MacAddress, Nmk};
use ccs_proto::slac::{EvSlac, EvSlacConfig, EvseSlac, EvseSlacConfig, SlacEvent};
use ccs_proto::time::{Duration, Instant};

use crate::clock::VirtualClock;
use crate::modem::ModemConfig;
use crate::powerline::{Powerline, StationId};

/// Who an event came from.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Party {
    /// The car (there is one per scenario).
    Ev,
    /// Charger number `n`, in the order added.
    Evse(usize),
}

/// A host: its SLAC machine's station, a processing delay, and frames waiting for it.
#[derive(Debug)]
struct Host {
    station: Option<StationId>,
    delay: Duration,
    inbox: VecDeque<(Instant, Vec<u8>)>,
}

impl Host {
    fn new(station: Option<StationId>) -> Self {
        Self {
            station,
            delay: Duration::ZERO,
            inbox: VecDeque::new(),
        }
    }
}

/// The scenario.
#[derive(Debug)]
pub struct SlacSim {
    /// The virtual clock.
    pub clock: VirtualClock,
    /// The powerline and its modems.
    pub line: Powerline,
    ev: Option<(EvSlac, Host)>,
    evses: Vec<(EvseSlac, Host)>,
    /// Every event so far, with its time and source.
    pub events: Vec<(Instant, Party, SlacEvent)>,
    /// Every frame a host sent: time, sender, bytes.
    pub transcript: Vec<(Instant, Party, Vec<u8>)>,
}

impl SlacSim {
    /// An empty scenario on a line seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            clock: VirtualClock::new(),
            line: Powerline::new(seed),
            ev: None,
            evses: Vec::new(),
            events: Vec::new(),
            transcript: Vec::new(),
        }
    }

    /// Adds the car with its modem; it starts matching at once.
    pub fn add_ev(
        &mut self,
        config: EvSlacConfig,
        host_mac: MacAddress,
        modem: ModemConfig,
        entropy: [u8; 32],
    ) -> StationId {
        let now = self.clock.now();
        let station = self.line.add_modem(modem, now);
        let mut slac = EvSlac::new(config, host_mac, entropy);
        slac.start(now);
        self.ev = Some((slac, Host::new(Some(station))));
        self.flush();
        station
    }

    /// Adds a charger with its modem (or `None`: a host without modem, which hears nothing).
    pub fn add_evse(
        &mut self,
        config: EvseSlacConfig,
        host_mac: MacAddress,
        modem: Option<ModemConfig>,
        nmk: Nmk,
    ) -> usize {
        let now = self.clock.now();
        let station = modem.map(|m| self.line.add_modem(m, now));
        let slac = EvseSlac::new(config, host_mac, nmk, now);
        self.evses.push((slac, Host::new(station)));
        self.flush();
        self.evses.len() - 1
    }

    /// Makes charger `n`'s host take `delay` to process each received frame (a slow charger).
    pub fn set_evse_host_delay(&mut self, n: usize, delay: Duration) {
        if let Some((_, host)) = self.evses.get_mut(n) {
            host.delay = delay;
        }
    }

    /// The car's machine.
    pub fn ev(&mut self) -> Option<&mut EvSlac> {
        self.ev.as_mut().map(|(slac, _)| slac)
    }

    /// Charger `n`'s machine.
    pub fn evse(&mut self, n: usize) -> Option<&mut EvseSlac> {
        self.evses.get_mut(n).map(|(slac, _)| slac)
    }

    /// Replaces the car (the next one plugs in), with a new modem; it starts at once.
    pub fn replace_ev(
        &mut self,
        config: EvSlacConfig,
        host_mac: MacAddress,
        modem: ModemConfig,
        entropy: [u8; 32],
    ) -> StationId {
        self.add_ev(config, host_mac, modem, entropy)
    }

    /// The events of one party, in order.
    pub fn events_of(&self, party: Party) -> Vec<SlacEvent> {
        self.events
            .iter()
            .filter(|(_, p, _)| *p == party)
            .map(|(_, _, e)| e.clone())
            .collect()
    }

    /// Passes every pending transmit and event along; the time does not move.
    pub fn flush(&mut self) {
        let now = self.clock.now();
        for _ in 0..10_000 {
            let mut progressed = false;
            if let Some((slac, host)) = &mut self.ev {
                while let Some(frame) = slac.poll_transmit() {
                    progressed = true;
                    self.transcript.push((now, Party::Ev, frame.clone()));
                    if let Some(station) = host.station {
                        self.line.handle_host_frame(now, station, &frame);
                    }
                }
                while let Some(event) = slac.poll_event() {
                    self.events.push((now, Party::Ev, event));
                }
            }
            for (n, (slac, host)) in self.evses.iter_mut().enumerate() {
                while let Some(frame) = slac.poll_transmit() {
                    progressed = true;
                    self.transcript.push((now, Party::Evse(n), frame.clone()));
                    if let Some(station) = host.station {
                        self.line.handle_host_frame(now, station, &frame);
                    }
                }
                while let Some(event) = slac.poll_event() {
                    self.events.push((now, Party::Evse(n), event));
                }
            }
            while let Some((station, frame)) = self.line.poll_host_transmit() {
                progressed = true;
                let at = now;
                if let Some((_, host)) = &mut self.ev
                    && host.station == Some(station)
                {
                    host.inbox.push_back((at + host.delay, frame));
                    continue;
                }
                if let Some((_, host)) = self
                    .evses
                    .iter_mut()
                    .find(|(_, h)| h.station == Some(station))
                {
                    host.inbox.push_back((at + host.delay, frame));
                }
            }
            progressed |= self.deliver_due(now);
            if !progressed {
                return;
            }
        }
    }

    fn deliver_due(&mut self, now: Instant) -> bool {
        let mut progressed = false;
        if let Some((slac, host)) = &mut self.ev {
            while host.inbox.front().is_some_and(|(at, _)| *at <= now) {
                if let Some((_, frame)) = host.inbox.pop_front() {
                    // Malformed frames are the sender's fault; the machine drops them.
                    let _ = slac.handle_frame(now, &frame);
                    progressed = true;
                }
            }
        }
        for (slac, host) in &mut self.evses {
            while host.inbox.front().is_some_and(|(at, _)| *at <= now) {
                if let Some((_, frame)) = host.inbox.pop_front() {
                    let _ = slac.handle_frame(now, &frame);
                    progressed = true;
                }
            }
        }
        progressed
    }

    /// The earliest deadline of anything in the scenario.
    pub fn next_deadline(&self) -> Option<Instant> {
        let ev = self
            .ev
            .iter()
            .flat_map(|(slac, host)| [slac.poll_timeout(), host.inbox.front().map(|(at, _)| *at)]);
        let evses = self
            .evses
            .iter()
            .flat_map(|(slac, host)| [slac.poll_timeout(), host.inbox.front().map(|(at, _)| *at)]);
        ev.chain(evses)
            .flatten()
            .chain(self.line.poll_timeout())
            .min()
    }

    /// One step: jump to the next deadline (if it is before `limit`) and run everything due.
    /// Returns false when nothing is left to do before `limit`.
    pub fn step(&mut self, limit: Instant) -> bool {
        let Some(next) = self.next_deadline() else {
            return false;
        };
        if next > limit {
            return false;
        }
        self.clock.advance_to(next);
        let now = self.clock.now();
        self.line.handle_timeout(now);
        if let Some((slac, _)) = &mut self.ev {
            slac.handle_timeout(now);
        }
        for (slac, _) in &mut self.evses {
            slac.handle_timeout(now);
        }
        self.flush();
        true
    }

    /// Runs until `done` holds for an event, or until `for_at_most` of virtual time has passed
    /// (also bounded in steps, so it cannot hang). Returns the matching event.
    pub fn run_until(
        &mut self,
        for_at_most: Duration,
        mut done: impl FnMut(Party, &SlacEvent) -> bool,
    ) -> Option<(Instant, Party, SlacEvent)> {
        let limit = self.clock.now() + for_at_most;
        let mut seen = self.events.len();
        for _ in 0..1_000_000 {
            if let Some(found) = self.events[seen..]
                .iter()
                .find(|(_, p, e)| done(*p, e))
                .cloned()
            {
                return Some(found);
            }
            seen = self.events.len();
            if !self.step(limit) {
                break;
            }
        }
        self.events[seen..]
            .iter()
            .find(|(_, p, e)| done(*p, e))
            .cloned()
    }

    /// Runs for `duration` of virtual time.
    pub fn run_for(&mut self, duration: Duration) {
        let limit = self.clock.now() + duration;
        for _ in 0..1_000_000 {
            if !self.step(limit) {
                break;
            }
        }
        self.clock.advance_to(limit);
    }
}
