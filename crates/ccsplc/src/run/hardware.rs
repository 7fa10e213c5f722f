//! The hardware hub of `ev` and `evse`, built from the configuration, and the pump that
//! connects it to the session driver: commands from the session fan out to the adapters,
//! measurements and faults flow back into the current session.
//!
//! With no hardware configured, the simulated vehicle (for `ev`) or charger (for `evse`) of
//! `ccs-io` stands in, on a plant of its own: the other side of the DC link is a real peer in
//! another process, so the plant's far side is idle. For the car this means the inlet
//! measures nothing: the simulated inlet voltage is not passed on (the session then trusts
//! EVSEPresentVoltage, pyPLC's default), instead of failing the plausibility check against a
//! charger that is not wired to this simulation.

use std::sync::{Arc, Mutex};

use anyhow::bail;
use ccs_io::mqtt::{MqttAdapter, MqttRole};
use ccs_io::serial::{SerialAdapter, SerialConfig, SerialProtocol};
use ccs_io::sim::{SharedPlant, SimAdapter, SimSide};
use ccs_io::{Clock, HardwareHub};
use ccs_proto::hardware::{
    ContactorRequest, CpState, HardwareCommand, HardwareEvent, Measurement, PowerSupplySetpoint,
};
use ccs_sim::physics::PlantConfig;
use tokio::sync::mpsc;

use super::operator::OperatorInputs;
use crate::config::{
    AnalogInputDevice, ChargeParameterBackend, Config, DigitalOutputDevice, EvseEnvironment,
};
use crate::web::Dashboard;

/// Which side this process plays.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum Side {
    /// The car.
    Vehicle,
    /// The charger.
    Charger,
}

/// Where the current session's hardware events go, and the operator inputs so far.
#[derive(Debug, Default)]
struct Route {
    session: Option<mpsc::UnboundedSender<HardwareEvent>>,
    operator: OperatorInputs,
}

/// The route, shared by the pump and the runner.
type Sink = Arc<Mutex<Route>>;

fn lock(sink: &Sink) -> std::sync::MutexGuard<'_, Route> {
    sink.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Which adapter measurements the pump drops (see the module doc).
#[derive(Clone, Copy, Debug, Default)]
struct Hide {
    inlet: bool,
    authorization: bool,
}

impl Hide {
    fn hides(self, m: &Measurement) -> bool {
        match m {
            Measurement::InletVoltage(_) => self.inlet,
            Measurement::Authorized(_) => self.authorization,
            _ => false,
        }
    }
}

/// The running hub: send commands here, attach each session's event channel.
#[derive(Debug)]
pub(crate) struct Hardware {
    commands: mpsc::UnboundedSender<HardwareCommand>,
    sink: Sink,
    /// The adapters' names, for the start line.
    pub(crate) adapters: Vec<String>,
    task: tokio::task::JoinHandle<()>,
    dashboard: Dashboard,
}

impl Hardware {
    /// Builds the hub from `config` for `side` and starts it on the current runtime; every
    /// command and measurement is also shown on `dashboard`.
    pub(crate) fn start(
        config: &Config,
        side: Side,
        dashboard: &Dashboard,
    ) -> anyhow::Result<Self> {
        let clock = Clock::new();
        let mut hub = HardwareHub::new(clock);
        let h = &config.hardware;
        let mut hide = Hide::default();
        if config.simulated_hardware() {
            let plant = SharedPlant::new(PlantConfig::default(), clock);
            hub.spawn(SimAdapter::new(
                plant,
                match side {
                    Side::Vehicle => SimSide::Vehicle,
                    Side::Charger => SimSide::Charger,
                },
            ));
            hide = Hide {
                inlet: side == Side::Vehicle,
                authorization: side == Side::Charger,
            };
        } else {
            let mqtt = h.digital_output_device == DigitalOutputDevice::Mqtt
                || h.analog_input_device == AnalogInputDevice::Mqtt
                || h.charge_parameter_backend == ChargeParameterBackend::Mqtt;
            if mqtt {
                hub.spawn(MqttAdapter::new(config.mqtt.adapter(match side {
                    Side::Vehicle => MqttRole::Vehicle,
                    Side::Charger => MqttRole::Charger,
                })));
            }
            let serial = match (h.digital_output_device, h.analog_input_device) {
                (DigitalOutputDevice::Celeron55device, _)
                | (_, AnalogInputDevice::Celeron55device) => Some(SerialProtocol::Celeron55),
                (DigitalOutputDevice::Dieter, _) | (_, AnalogInputDevice::Dieter) => {
                    Some(SerialProtocol::Dieter)
                }
                _ => None,
            };
            if let Some(protocol) = serial {
                let mut s = SerialConfig::new(protocol);
                s.port.clone_from(&config.serial.port);
                s.baud = config.serial.baud;
                s.display = h.display_via_serial;
                hub.spawn(SerialAdapter::new(s));
            }
            // Refuse rather than run a session whose hardware is silently missing.
            if h.digital_output_device == DigitalOutputDevice::Beaglebone
                || h.charge_parameter_backend == ChargeParameterBackend::Chademo
                || h.evse_environment == EvseEnvironment::Focccicape
            {
                bail!(
                    "the configured hardware (BeagleBone GPIO, CHAdeMO or FoccciCape CAN) is \
                     not wired into `ev`/`evse` in this build; use MQTT or a serial device"
                );
            }
        }
        let adapters = hub.adapter_names().map(str::to_owned).collect();
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let sink: Sink = Arc::default();
        let task = tokio::spawn(pump(
            hub,
            commands_rx,
            Arc::clone(&sink),
            hide,
            dashboard.clone(),
        ));
        Ok(Self {
            commands,
            sink,
            adapters,
            task,
            dashboard: dashboard.clone(),
        })
    }

    /// A sender for the session's commands.
    pub(crate) fn commands(&self) -> mpsc::UnboundedSender<HardwareCommand> {
        self.commands.clone()
    }

    /// A receiver of the hardware events, for the next session (the previous one's is
    /// closed). It starts with the dashboard's operator switches, if any were set.
    pub(crate) fn attach(&self) -> mpsc::UnboundedReceiver<HardwareEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut route = lock(&self.sink);
        for m in route.operator.for_new_session() {
            let _ = tx.send(HardwareEvent::Measurement(m));
        }
        route.session = Some(tx);
        rx
    }

    /// A switch of the charger's operator from the dashboard (`Measurement::Authorized` or
    /// `Measurement::ChargingEnabled`): combined with the adapters' inputs, handed to the
    /// current session and kept for the next ones.
    pub(crate) fn operator_input(&self, measurement: Measurement) {
        let mut route = lock(&self.sink);
        let Some(combined) = route.operator.dashboard_sets(measurement) else {
            return;
        };
        self.dashboard.measurement(&combined);
        if let Some(tx) = route.session.as_ref() {
            let _ = tx.send(HardwareEvent::Measurement(combined));
        }
    }

    /// The forced safe state (second Ctrl-C): power off, contactors open, CP state B. The
    /// connector stays locked: unlocking before the contactors have opened could draw an arc.
    pub(crate) fn force_safe_state(&self) {
        for command in [
            HardwareCommand::PowerSupply(PowerSupplySetpoint::OFF),
            HardwareCommand::Contactors(ContactorRequest::Open),
            HardwareCommand::CpState(CpState::B),
        ] {
            let _ = self.commands.send(command);
        }
    }

    /// Stops the adapters.
    pub(crate) fn stop(self) {
        self.task.abort();
    }
}

async fn pump(
    mut hub: HardwareHub,
    mut commands: mpsc::UnboundedReceiver<HardwareCommand>,
    sink: Sink,
    hide: Hide,
    dashboard: Dashboard,
) {
    let mut hub_open = true;
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(c) => {
                    dashboard.command(&c);
                    hub.send(&c);
                }
                None => return,
            },
            event = hub.recv(), if hub_open => {
                let Some(event) = event else {
                    // No adapter is left (each one's end was reported as a fault).
                    hub_open = false;
                    continue;
                };
                let mut route = lock(&sink);
                let event = match event.event {
                    HardwareEvent::Measurement(m) if hide.hides(&m) => continue,
                    HardwareEvent::Measurement(m) => {
                        let m = route.operator.adapter_reports(m);
                        dashboard.measurement(&m);
                        HardwareEvent::Measurement(m)
                    }
                    other @ (HardwareEvent::Fault(_) | HardwareEvent::FaultCleared(_)) => {
                        dashboard.note(hardware_text(&other));
                        other
                    }
                    other => other,
                };
                if let Some(tx) = route.session.as_ref() {
                    let _ = tx.send(event);
                }
            }
        }
    }
}

/// A fault or its end, for the dashboard's event list.
fn hardware_text(event: &HardwareEvent) -> String {
    match event {
        HardwareEvent::Fault(f) => format!("hardware fault: {f}"),
        HardwareEvent::FaultCleared(f) => format!("hardware fault cleared: {f}"),
        other => format!("hardware: {other:?}"),
    }
}
