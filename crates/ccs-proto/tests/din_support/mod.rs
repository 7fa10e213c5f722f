//! A deterministic pair: our car and our charger joined by an in-memory connection, with the
//! physics of `ccs-sim` (battery, power supply, contactors, lock, isolation monitor) behind
//! the hardware seam, under a virtual clock.
// Test helpers unwrap: a malformed vector is a test failure.
#![allow(clippy::unwrap_used)]
#![allow(dead_code, unreachable_pub)]

use ccs_proto::hardware::{
    Amps, HardwareCommand, HardwareFault, HardwareFaultKind, Measurement, PowerSupplySetpoint,
    Volts,
};
use ccs_proto::session::{
    Disconnect, EvccConfig, EvccSession, Outcome, SeccConfig, SeccSession, SessionEvent, Transmit,
    V2gSession,
};
use ccs_proto::time::{Duration, Instant};
use ccs_sim::physics::{DcPlant, PlantConfig};

/// The car's MAC (EVCCID).
pub const CAR_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0xca, 0xfe, 0x01];
/// The SessionID the charger hands out.
pub const SESSION_ID: [u8; 8] = [0x5e, 0x55, 0x10, 0x4e, 0x1d, 0x00, 0x00, 0x01];

/// What may happen to a message on its way.
pub type Filter = Box<dyn FnMut(Side, &[u8]) -> Fate>;

/// Who sent a message.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Side {
    Car,
    Charger,
}

/// A message's fate.
pub enum Fate {
    Deliver,
    Drop,
    Replace(Vec<u8>),
}

pub struct Pair {
    pub now: Instant,
    pub car: EvccSession,
    pub charger: SeccSession,
    pub plant: DcPlant,
    pub car_commands: Vec<(Instant, HardwareCommand)>,
    pub charger_commands: Vec<(Instant, HardwareCommand)>,
    pub car_events: Vec<(Instant, SessionEvent)>,
    pub charger_events: Vec<(Instant, SessionEvent)>,
    pub filter: Option<Filter>,
    pub connected: bool,
    /// Feed the plant's measurements every this often.
    pub tick: Duration,
    /// Welded contactors: the car's feedback says "closed" whatever was commanded.
    pub contactors_welded: bool,
    /// A car without a BMS SoC.
    pub hide_soc: bool,
    /// A car without an inlet voltage measurement (pyPLC's devices).
    pub hide_inlet_voltage: bool,
    /// Every message delivered, in order.
    pub transcript: Vec<(Side, Vec<u8>)>,
    /// Measurements fed to the charger after the plant's at every step (a power supply or
    /// isolation monitor that reports something else than the plant).
    pub charger_overrides: Vec<Measurement>,
    /// The charger's isolation monitor fell silent: the plant's verdicts are dropped.
    pub hide_isolation: bool,
}

impl Pair {
    pub fn new(car: EvccConfig, charger: SeccConfig, plant: PlantConfig) -> Self {
        let now = Instant::ZERO;
        Self {
            now,
            car: EvccSession::new(car, CAR_MAC, now),
            charger: SeccSession::new(charger, SESSION_ID, now),
            plant: DcPlant::new(plant, now),
            car_commands: Vec::new(),
            charger_commands: Vec::new(),
            car_events: Vec::new(),
            charger_events: Vec::new(),
            filter: None,
            connected: false,
            tick: Duration::from_millis(10),
            contactors_welded: false,
            hide_soc: false,
            hide_inlet_voltage: false,
            transcript: Vec::new(),
            charger_overrides: Vec::new(),
            hide_isolation: false,
        }
    }

    /// The default pair: DIN, a healthy plant.
    pub fn din() -> Self {
        Self::new(
            EvccConfig::default(),
            SeccConfig::default(),
            PlantConfig::default(),
        )
    }

    pub fn connect(&mut self) {
        self.connected = true;
        self.feed_measurements();
        self.charger.handle_connected(self.now);
        self.car.handle_connected(self.now);
        self.exchange();
    }

    fn feed_measurements(&mut self) {
        for m in self.plant.vehicle_measurements() {
            let m = match m {
                Measurement::ContactorsClosed(_) if self.contactors_welded => {
                    Measurement::ContactorsClosed(true)
                }
                Measurement::Soc(_) if self.hide_soc => continue,
                Measurement::InletVoltage(_) if self.hide_inlet_voltage => continue,
                m => m,
            };
            self.car.handle_measurement(self.now, m);
        }
        for m in self.plant.charger_measurements() {
            if self.hide_isolation && matches!(m, Measurement::Isolation(_)) {
                continue;
            }
            self.charger.handle_measurement(self.now, m);
        }
        for m in self.charger_overrides.clone() {
            self.charger.handle_measurement(self.now, m);
        }
    }

    /// Moves every queued transmit, command and event until nothing moves.
    pub fn exchange(&mut self) {
        loop {
            let mut moved = false;
            while let Some(t) = self.car.poll_transmit() {
                moved = true;
                self.deliver(Side::Car, t);
            }
            while let Some(t) = self.charger.poll_transmit() {
                moved = true;
                self.deliver(Side::Charger, t);
            }
            while let Some(c) = self.car.poll_command() {
                moved = true;
                self.plant.command(self.now, &c);
                self.car_commands.push((self.now, c));
            }
            while let Some(c) = self.charger.poll_command() {
                moved = true;
                self.plant.command(self.now, &c);
                self.charger_commands.push((self.now, c));
            }
            while let Some(e) = self.car.poll_event() {
                self.car_events.push((self.now, e));
            }
            while let Some(e) = self.charger.poll_event() {
                self.charger_events.push((self.now, e));
            }
            if !moved {
                break;
            }
        }
    }

    fn deliver(&mut self, from: Side, t: Transmit) {
        match t {
            Transmit::Message {
                payload_type,
                payload,
            } => {
                if !self.connected {
                    return;
                }
                let payload = match self.filter.as_mut().map(|f| f(from, &payload)) {
                    Some(Fate::Drop) => return,
                    Some(Fate::Replace(p)) => p,
                    Some(Fate::Deliver) | None => payload,
                };
                self.transcript.push((from, payload.clone()));
                match from {
                    Side::Car => self
                        .charger
                        .handle_message(self.now, payload_type, &payload),
                    Side::Charger => self.car.handle_message(self.now, payload_type, &payload),
                }
            }
            Transmit::Close => {
                if self.connected {
                    self.connected = false;
                    match from {
                        Side::Car => self
                            .charger
                            .handle_disconnected(self.now, Disconnect::Closed),
                        Side::Charger => self.car.handle_disconnected(self.now, Disconnect::Closed),
                    }
                }
            }
        }
    }

    /// Runs until both sessions are finished or `limit` of virtual time has passed; returns
    /// whether both finished. Every step feeds the plant's measurements (the sim's adapters
    /// publish continuously).
    pub fn run_until(
        &mut self,
        limit: Duration,
        mut stop_early: impl FnMut(&mut Self) -> bool,
    ) -> bool {
        let end = self.now + limit;
        let mut steps = 0u32;
        while self.now < end {
            self.exchange();
            if self.car.is_finished() && self.charger.is_finished() {
                return true;
            }
            if stop_early(self) {
                return false;
            }
            let mut next = self.now + self.tick;
            for d in [self.car.poll_timeout(), self.charger.poll_timeout()]
                .into_iter()
                .flatten()
            {
                next = next.min(d.max(self.now));
            }
            if next == self.now {
                next = self.now + Duration::from_micros(1);
            }
            self.now = next;
            self.plant.advance(self.now);
            self.feed_measurements();
            if self.car.poll_timeout().is_some_and(|d| d <= self.now) {
                self.car.handle_timeout(self.now);
            }
            if self.charger.poll_timeout().is_some_and(|d| d <= self.now) {
                self.charger.handle_timeout(self.now);
            }
            steps += 1;
            assert!(steps < 2_000_000, "no progress");
        }
        self.exchange();
        self.car.is_finished() && self.charger.is_finished()
    }

    /// Lets the plant settle for `d` after the sessions ended (the lock motor takes time).
    pub fn settle(&mut self, d: Duration) {
        self.now += d;
        self.plant.advance(self.now);
    }

    pub fn run(&mut self, limit: Duration) -> bool {
        self.run_until(limit, |_| false)
    }

    /// The names of the messages `side` sent, in order.
    pub fn sent(&self, side: Side) -> Vec<&'static str> {
        let events = match side {
            Side::Car => &self.car_events,
            Side::Charger => &self.charger_events,
        };
        events
            .iter()
            .filter_map(|(_, e)| match e {
                SessionEvent::Sent { name, .. } => Some(*name),
                _ => None,
            })
            .collect()
    }

    pub fn car_outcome(&self) -> Option<Outcome> {
        self.car.outcome().cloned()
    }

    pub fn charger_outcome(&self) -> Option<Outcome> {
        self.charger.outcome().cloned()
    }

    /// Whether the car is in the CurrentDemand loop.
    pub fn charging(&self) -> bool {
        self.sent(Side::Car).contains(&"CurrentDemandReq")
    }

    /// When the car first sent or received the message `name`.
    pub fn car_first(&self, name: &str) -> Option<Instant> {
        self.car_events.iter().find_map(|(t, e)| match e {
            SessionEvent::Sent { name: n, .. } | SessionEvent::Received { name: n, .. }
                if *n == name =>
            {
                Some(*t)
            }
            _ => None,
        })
    }

    /// Runs a connected session in which the car waits for its inlet to fall below 60 V after
    /// SessionStop while a hardware fault arrives: once the car sent `welding_request` the
    /// charger's output is held live at 400 V; 500 ms after SessionStopRes the car gets a
    /// fault of adapter "gpio"; 500 ms later the output is switched off and discharges.
    /// Returns when the fault came.
    pub fn fault_while_the_unlock_waits(&mut self, welding_request: &str) -> Instant {
        let mut energized = false;
        let mut faulted_at = None;
        let mut released = false;
        self.run_until(Duration::from_secs(120), |p| {
            if !energized && p.car_first(welding_request).is_some() {
                energized = true;
                p.plant.command(
                    p.now,
                    &HardwareCommand::PowerSupply(PowerSupplySetpoint {
                        enabled: true,
                        voltage: Volts(400.0),
                        current: Amps(1.0),
                    }),
                );
                p.plant.set_supply_stuck(true);
            }
            let Some(stopped) = p.car_first("SessionStopRes") else {
                return false;
            };
            if faulted_at.is_none() && p.now >= stopped + Duration::from_millis(500) {
                faulted_at = Some(p.now);
                p.car.handle_hardware_fault(
                    p.now,
                    HardwareFault {
                        adapter: "gpio".into(),
                        kind: HardwareFaultKind::ConnectionLost,
                    },
                );
            }
            if !released && faulted_at.is_some_and(|at| p.now >= at + Duration::from_millis(500)) {
                // The power stage recovers and switches off: the output discharges.
                released = true;
                p.plant.set_supply_stuck(false);
                p.plant.command(
                    p.now,
                    &HardwareCommand::PowerSupply(PowerSupplySetpoint::OFF),
                );
            }
            false
        });
        assert!(released, "never waited to unlock");
        faulted_at.expect("the fault was raised")
    }
}

/// The car's safety-relevant commands (CP state, contactors, lock), in order.
pub fn actuator_commands(commands: &[(Instant, HardwareCommand)]) -> Vec<HardwareCommand> {
    commands
        .iter()
        .filter(|(_, c)| {
            matches!(
                c,
                HardwareCommand::CpState(_)
                    | HardwareCommand::Contactors(_)
                    | HardwareCommand::ConnectorLock(_)
            )
        })
        .map(|(_, c)| c.clone())
        .collect()
}
