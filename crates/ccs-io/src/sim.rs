//! The simulated vehicle and charger as hardware adapters: `ccs-sim`'s physics
//! ([`DcPlant`]) behind the same trait as real hardware. The default when no other adapter is
//! configured; `ccsplc sim` runs one adapter per side on one shared plant, so the car's
//! contactors and the charger's power supply act on the same DC link.

use std::sync::{Arc, Mutex, MutexGuard};

use ccs_proto::hardware::Measurement;
use ccs_sim::physics::{DcPlant, PlantConfig};
use tokio::time::{Duration, MissedTickBehavior};

use crate::adapter::{AdapterError, AdapterIo, Clock, HardwareAdapter};

/// One plant shared by the vehicle-side and the charger-side adapter.
#[derive(Clone, Debug)]
pub struct SharedPlant {
    plant: Arc<Mutex<DcPlant>>,
    clock: Clock,
}

impl SharedPlant {
    /// A plant at rest, on `clock` (the same clock the hubs use).
    pub fn new(config: PlantConfig, clock: Clock) -> Self {
        Self {
            plant: Arc::new(Mutex::new(DcPlant::new(config, clock.now()))),
            clock,
        }
    }

    /// The plant advanced to now, for inspection (tests, the dashboard).
    pub fn lock(&self) -> Result<MutexGuard<'_, DcPlant>, AdapterError> {
        let mut plant = self
            .plant
            .lock()
            .map_err(|_| AdapterError::Device("simulated plant poisoned by a panic".to_owned()))?;
        plant.advance(self.clock.now());
        Ok(plant)
    }
}

/// Which side of the plant an adapter serves.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum SimSide {
    /// The car: battery/BMS values, inlet voltage, contactor and lock feedback.
    Vehicle,
    /// The charger: power supply, isolation monitor, user stop, authorization.
    Charger,
}

/// A hardware adapter backed by the simulated plant.
#[derive(Debug)]
pub struct SimAdapter {
    plant: SharedPlant,
    side: SimSide,
    period: Duration,
}

impl SimAdapter {
    /// An adapter for `side` of `plant`, reporting every 100 ms (a BMS / PSU controller
    /// rate).
    pub fn new(plant: SharedPlant, side: SimSide) -> Self {
        Self {
            plant,
            side,
            period: Duration::from_millis(100),
        }
    }

    /// Reports every `period` instead.
    pub fn with_period(mut self, period: Duration) -> Self {
        self.period = period;
        self
    }

    fn measurements(&self) -> Result<Vec<Measurement>, AdapterError> {
        let plant = self.plant.lock()?;
        Ok(match self.side {
            SimSide::Vehicle => plant.vehicle_measurements(),
            SimSide::Charger => plant.charger_measurements(),
        })
    }
}

impl HardwareAdapter for SimAdapter {
    fn name(&self) -> String {
        match self.side {
            SimSide::Vehicle => "sim-vehicle".to_owned(),
            SimSide::Charger => "sim-charger".to_owned(),
        }
    }

    async fn run(self, mut io: AdapterIo) -> Result<(), AdapterError> {
        let mut tick = tokio::time::interval(self.period);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                cmd = io.next_command() => {
                    let Some(cmd) = cmd else { return Ok(()) };
                    let now = self.plant.clock.now();
                    self.plant.lock()?.command(now, &cmd);
                }
                _ = tick.tick() => {
                    for m in self.measurements()? {
                        io.measurement(m);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HardwareHub;
    use ccs_proto::hardware::{
        Amps, ContactorRequest, HardwareCommand, LockRequest, PowerSupplySetpoint, Volts,
    };

    /// Runs both hubs until `done` holds for the car's and the charger's snapshots.
    async fn run_until(
        car: &mut HardwareHub,
        charger: &mut HardwareHub,
        mut done: impl FnMut(&HardwareHub, &HardwareHub) -> bool,
    ) {
        for _ in 0..10_000 {
            if done(car, charger) {
                return;
            }
            tokio::select! {
                _ = car.recv() => {}
                _ = charger.recv() => {}
            }
        }
        panic!("condition never held");
    }

    #[tokio::test(start_paused = true)]
    async fn the_car_and_the_charger_see_one_dc_link() {
        let clock = Clock::new();
        let plant = SharedPlant::new(PlantConfig::default(), clock);
        let mut car = HardwareHub::new(clock);
        let mut charger = HardwareHub::new(clock);
        car.spawn(SimAdapter::new(plant.clone(), SimSide::Vehicle));
        charger.spawn(SimAdapter::new(plant.clone(), SimSide::Charger));

        run_until(&mut car, &mut charger, |car, ch| {
            car.snapshot().battery_voltage.value().is_some()
                && ch.snapshot().power_supply_max_voltage.value() == Some(Volts(500.0))
        })
        .await;
        let battery = car.snapshot().battery_voltage.value().unwrap();

        // Charger precharges to the battery voltage; the car sees it at its inlet.
        car.send(&HardwareCommand::ConnectorLock(LockRequest::Lock));
        charger.send(&HardwareCommand::PowerSupply(PowerSupplySetpoint {
            enabled: true,
            voltage: battery,
            current: Amps(2.0),
        }));
        run_until(&mut car, &mut charger, |car, _| {
            car.snapshot()
                .inlet_voltage
                .value()
                .is_some_and(|v| (v.0 - battery.0).abs() < 1.0)
                && car.snapshot().connector_locked.value() == Some(true)
        })
        .await;

        // The car closes its contactors; the charger delivers current into the battery.
        car.send(&HardwareCommand::Contactors(ContactorRequest::Closed));
        run_until(&mut car, &mut charger, |car, _| {
            car.snapshot().contactors_closed.value() == Some(true)
        })
        .await;
        charger.send(&HardwareCommand::PowerSupply(PowerSupplySetpoint {
            enabled: true,
            voltage: Volts(410.0),
            current: Amps(50.0),
        }));
        run_until(&mut car, &mut charger, |_, ch| {
            ch.snapshot().power_supply_current.value() == Some(Amps(50.0))
        })
        .await;
        let guard = plant.lock().unwrap();
        assert!(guard.last_contactor_close_step().unwrap().0 < 1.0);
        assert!(guard.battery().soc().0 > 30.0);
    }
}
