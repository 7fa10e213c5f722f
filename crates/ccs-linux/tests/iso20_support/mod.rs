//! Shared by the ISO 15118-20 namespace tests: the simulated DC link behind a session's
//! hardware channels, and what a finished session reports.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use ccs_linux::clock::Clock;
use ccs_linux::session::SessionIo;
use ccs_linux::v2g::TlsInfo;
use ccs_proto::hardware::{HardwareCommand, HardwareEvent, Measurement};
use ccs_proto::session::{Outcome, SessionEvent};
use ccs_sim::physics::DcPlant;
use tokio::sync::mpsc;

pub type Plant = Arc<Mutex<DcPlant>>;

/// Which side of the plant a session drives.
#[derive(Clone, Copy)]
pub enum Side {
    Car,
    /// The car without battery and inlet voltage readings (a charger that reports no real
    /// voltage, e.g. Josev's simulated one).
    CarWithoutBattery,
    Charger,
}

/// The session's hardware: every 20 ms the plant's measurements for `side`; every command
/// applied to the plant. Returns the channels for `run_session` and the recorded events.
pub fn hardware(
    plant: Plant,
    clock: Clock,
    side: Side,
) -> (SessionIo, mpsc::UnboundedReceiver<SessionEvent>) {
    let (hw_tx, hw_rx) = mpsc::unbounded_channel();
    let (_stop_tx, stop_rx) = mpsc::unbounded_channel();
    let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel::<HardwareCommand>();
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let _keep_stop_open = _stop_tx;
        let mut tick = tokio::time::interval(StdDuration::from_millis(20));
        loop {
            tokio::select! {
                cmd = cmd_rx.recv() => {
                    let Some(cmd) = cmd else { return };
                    plant.lock().unwrap().command(clock.now(), &cmd);
                }
                _ = tick.tick() => {
                    let measurements = {
                        let mut p = plant.lock().unwrap();
                        p.advance(clock.now());
                        match side {
                            Side::Car => p.vehicle_measurements(),
                            Side::CarWithoutBattery => p
                                .vehicle_measurements()
                                .into_iter()
                                .filter(|m| {
                                    !matches!(
                                        m,
                                        Measurement::BatteryVoltage(_)
                                            | Measurement::InletVoltage(_)
                                    )
                                })
                                .collect(),
                            Side::Charger => p.charger_measurements(),
                        }
                    };
                    for m in measurements {
                        if hw_tx.send(HardwareEvent::Measurement(m)).is_err() {
                            return;
                        }
                    }
                }
            }
        }
    });
    let io = SessionIo {
        hardware: hw_rx,
        stop: stop_rx,
        commands: cmd_tx,
        events: ev_tx,
    };
    (io, ev_rx)
}

pub struct Ran {
    pub outcome: Option<Outcome>,
    pub tls: Option<TlsInfo>,
    pub events: Vec<SessionEvent>,
}

pub fn drain(mut rx: mpsc::UnboundedReceiver<SessionEvent>) -> Vec<SessionEvent> {
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    events
}
