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
//!
//! Several adapters run at once: MQTT, a serial device, GPIO (`[gpio]`, feature `gpio`), CAN
//! on SocketCAN (the CHAdeMO bridge for the car, the FoccciCape status frames for the
//! charger, a user-defined mapping for either; a layout of the other side is refused) and,
//! for the charger, the SoC callback (`[soc_callback]`). Hardware faults (a lost broker, an
//! input that stopped updating, an adapter that ended) stop the current session safely; a
//! fault that is still active when the next session starts is handed to that session at
//! once, together with the latest value of every measurement (a stop switch or a limit
//! published before the car arrived still counts).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::bail;
use ccs_io::can::{
    CanAdapter, CanLayout, CanMapping, ChademoBridge, FoccciCape, SignalMapping, SocketCanBus,
};
use ccs_io::mqtt::{MqttAdapter, MqttRole};
use ccs_io::serial::{SerialAdapter, SerialConfig, SerialProtocol};
use ccs_io::sim::{SharedPlant, SimAdapter, SimSide};
use ccs_io::soc_callback::SocCallbackAdapter;
use ccs_io::{Clock, HardwareHub};
use ccs_proto::hardware::{
    ContactorRequest, CpState, HardwareCommand, HardwareEvent, HardwareFault, Measurement,
    MeasurementKind, PowerSupplySetpoint,
};
use ccs_sim::physics::PlantConfig;
use tokio::sync::mpsc;

use super::operator::OperatorInputs;
use crate::config::{
    AnalogInputDevice, ChargeParameterBackend, Config, DigitalOutputDevice, EvseEnvironment,
    MappingSide,
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

/// Where the current session's hardware events go, the operator inputs so far, and what a
/// later session must learn.
#[derive(Debug, Default)]
struct Route {
    session: Option<mpsc::UnboundedSender<HardwareEvent>>,
    operator: OperatorInputs,
    memory: Memory,
}

/// How long the adapters get at the end to put out the last commands (the safe state).
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);

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

impl Side {
    /// Whether this side's session uses a signal of `owner`.
    fn owns(self, owner: MappingSide) -> bool {
        matches!(
            (self, owner),
            (_, MappingSide::Both)
                | (Self::Vehicle, MappingSide::Car)
                | (Self::Charger, MappingSide::Charger)
        )
    }
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

/// The safe state: power off, contactors open, CP state B. The connector stays locked:
/// unlocking before the contactors have opened could draw an arc.
const SAFE_STATE: [HardwareCommand; 3] = [
    HardwareCommand::PowerSupply(PowerSupplySetpoint::OFF),
    HardwareCommand::Contactors(ContactorRequest::Open),
    HardwareCommand::CpState(CpState::B),
];

/// Sends the safe state to the hub when a panic unwinds past the [`Hardware`] (a panic
/// outside the session, which [`super::session::drive`] does not catch): the hub then ends
/// with the safe state as the adapters' last commands, which they put out while the runner
/// waits ([`super::block_on_safely`]).
#[derive(Debug)]
struct SafeStateOnUnwind(mpsc::UnboundedSender<HardwareCommand>);

impl Drop for SafeStateOnUnwind {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for command in SAFE_STATE {
                let _ = self.0.send(command);
            }
        }
    }
}

/// The running hub: send commands here, attach each session's event channel.
#[derive(Debug)]
pub(crate) struct Hardware {
    commands: mpsc::UnboundedSender<HardwareCommand>,
    unwind: SafeStateOnUnwind,
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
        Self::start_on(config, side, dashboard, &CanBuses::SocketCan)
    }

    /// [`start`](Self::start) with the CAN adapters on `can`.
    pub(super) fn start_on(
        config: &Config,
        side: Side,
        dashboard: &Dashboard,
        can: &CanBuses,
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
            if config.uses_mqtt() {
                let mut mqtt = config.mqtt.adapter(match side {
                    Side::Vehicle => MqttRole::Vehicle,
                    Side::Charger => MqttRole::Charger,
                });
                mqtt.power_supply = config.mqtt_power_supply();
                hub.spawn(MqttAdapter::new(mqtt));
            }
            // Refuse rather than run a session whose hardware is silently missing.
            if h.digital_output_device == DigitalOutputDevice::Beaglebone
                && config.gpio.chip.is_none()
            {
                bail!(
                    "digital_output_device = beaglebone drives GPIO lines: set [gpio] chip and \
                     the line offsets (cp_line = P9_41, contactor_line = P9_17)"
                );
            }
        }
        for layout in can_layouts(config, side)? {
            can.spawn(&mut hub, &config.can.interface, layout)?;
        }
        if let Some(serial) = serial_adapter(config) {
            hub.spawn(serial);
        }
        if let Some(gpio) = config.gpio.adapter() {
            #[cfg(feature = "gpio")]
            hub.spawn(ccs_io::gpio::GpioAdapter::new(gpio));
            #[cfg(not(feature = "gpio"))]
            bail!(
                "[gpio] chip = {} is set, but this ccsplc was built without GPIO support \
                 (cargo build --features gpio)",
                gpio.chip.display()
            );
        }
        if side == Side::Charger
            && let Some(callback) = config.soc_callback.adapter()
        {
            hub.spawn(SocCallbackAdapter::new(callback));
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
            unwind: SafeStateOnUnwind(commands.clone()),
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
        for event in route.memory.replay() {
            let _ = tx.send(event);
        }
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

    /// The forced safe state (second Ctrl-C, a panic): [`SAFE_STATE`].
    pub(crate) fn force_safe_state(&self) {
        for command in SAFE_STATE {
            let _ = self.commands.send(command);
        }
    }

    /// Stops the adapters after they have put out the commands sent so far (the safe state
    /// of [`force_safe_state`](Self::force_safe_state) above all).
    pub(crate) async fn stop(self) {
        let Self {
            commands,
            unwind,
            task,
            ..
        } = self;
        drop((commands, unwind));
        let abort = task.abort_handle();
        if tokio::time::timeout(SHUTDOWN_TIMEOUT * 2, task)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
}

/// The serial adapter for the configured device, or for the OLED display alone: pyPLC shows
/// its state on the display in both modes, whatever else is configured.
fn serial_adapter(config: &Config) -> Option<SerialAdapter> {
    let h = &config.hardware;
    let protocol = match (h.digital_output_device, h.analog_input_device) {
        (DigitalOutputDevice::Celeron55device, _) | (_, AnalogInputDevice::Celeron55device) => {
            SerialProtocol::Celeron55
        }
        (DigitalOutputDevice::Dieter, _) | (_, AnalogInputDevice::Dieter) => SerialProtocol::Dieter,
        _ if h.display_via_serial => SerialProtocol::DisplayOnly,
        _ => return None,
    };
    let mut s = SerialConfig::new(protocol);
    s.port.clone_from(&config.serial.port);
    s.baud = config.serial.baud;
    s.display = h.display_via_serial;
    s.input_timeout = Some(config.serial.input_timeout.get()).filter(|d| !d.is_zero());
    Some(SerialAdapter::new(s))
}

/// Where the CAN adapters' buses come from.
#[derive(Debug)]
pub(super) enum CanBuses {
    /// `[can] interface` through SocketCAN, opened once per adapter.
    SocketCan,
    /// A node of this in-memory bus per adapter (tests: this kernel has no CAN).
    #[cfg(test)]
    Memory(ccs_io::can::MemoryCanBus),
}

impl CanBuses {
    /// Runs `layout` on a bus of its own.
    fn spawn(
        &self,
        hub: &mut HardwareHub,
        interface: &str,
        layout: CanLayout,
    ) -> anyhow::Result<()> {
        match self {
            Self::SocketCan => {
                let bus = SocketCanBus::open(interface).map_err(|e| {
                    anyhow::anyhow!(
                        "cannot open the CAN interface {interface} ([can] interface): {e}; \
                         bring it up with `ip link set {interface} up type can bitrate 500000`"
                    )
                })?;
                hub.spawn(CanAdapter::new(bus, layout));
            }
            #[cfg(test)]
            Self::Memory(bus) => hub.spawn(CanAdapter::new(bus.node(), layout)),
        }
        Ok(())
    }
}

/// pyPLC's main cycle, the period of the FoccciCape status frames.
const FOCCCI_CYCLE: Duration = Duration::from_millis(30);

/// pyPLC's FoccciCape sends the log file index in 0x67A; 0xFFFF = none (ccsplc numbers no
/// log files).
const FOCCCI_NO_LOG_INDEX: u16 = 0xFFFF;

/// The CAN layouts the configuration asks for on `side`. A layout or a mapped signal of the
/// other side is refused: it would sit on the bus doing nothing.
fn can_layouts(config: &Config, side: Side) -> anyhow::Result<Vec<CanLayout>> {
    let h = &config.hardware;
    let mut layouts = Vec::new();
    if h.charge_parameter_backend == ChargeParameterBackend::Chademo {
        if side != Side::Vehicle {
            bail!(
                "hardware.charge_parameter_backend = chademo bridges a CHAdeMO car's BMS into \
                 the CCS car: it works with `ccsplc ev`, not with `ccsplc evse`"
            );
        }
        let bridge = ChademoBridge::new().with_current_request_timeout(config.can.rx_timeout.get());
        layouts.push(CanLayout::Chademo(bridge));
    }
    if h.evse_environment == EvseEnvironment::Focccicape {
        if side != Side::Charger {
            bail!(
                "hardware.evse_environment = focccicape sends the charger's status frames: it \
                 works with `ccsplc evse`, not with `ccsplc ev`"
            );
        }
        layouts.push(CanLayout::Foccci(FoccciCape::new(
            FOCCCI_CYCLE,
            FOCCCI_NO_LOG_INDEX,
        )));
    }
    if config.has_can_mapping() {
        let inputs = config.can_mapping_inputs();
        let outputs = config.can_mapping_outputs();
        let wrong_side = inputs
            .iter()
            .map(|s| (s.key, s.side))
            .chain(outputs.iter().map(|s| (s.key, s.side)))
            .find(|(_, owner)| !side.owns(*owner));
        if let Some((key, owner)) = wrong_side {
            let (whose, command) = match owner {
                MappingSide::Car => ("the car's", "`ccsplc ev`"),
                _ => ("the charger's", "`ccsplc evse`"),
            };
            bail!("{key} is {whose} signal: set it only for {command}");
        }
        let mapping = CanMapping::new(
            inputs
                .iter()
                .map(|s| SignalMapping {
                    signal: s.signal,
                    layout: s.layout,
                })
                .collect(),
            outputs
                .iter()
                .map(|s| SignalMapping {
                    signal: s.signal,
                    layout: s.layout,
                })
                .collect(),
            Some(config.can.mapping_period.get()).filter(|d| !d.is_zero()),
            Some(config.can.mapping_input_timeout.get()).filter(|d| !d.is_zero()),
        )?;
        layouts.push(CanLayout::Mapping(mapping));
    }
    Ok(layouts)
}

/// What a session attached later must know: the faults still active and the latest value of
/// every measurement.
#[derive(Debug, Default)]
struct Memory {
    faults: Vec<HardwareFault>,
    latest: BTreeMap<MeasurementKind, Measurement>,
}

impl Memory {
    fn note(&mut self, event: &HardwareEvent) {
        match event {
            HardwareEvent::Measurement(m) => {
                self.latest.insert(m.kind(), *m);
            }
            HardwareEvent::Fault(f) if !self.faults.contains(f) => self.faults.push(f.clone()),
            HardwareEvent::FaultCleared(f) => self.faults.retain(|active| active != f),
            _ => {}
        }
    }

    /// The events that bring a new session up to date: values first, then the faults.
    fn replay(&self) -> impl Iterator<Item = HardwareEvent> + '_ {
        let values = self.latest.values().map(|m| HardwareEvent::Measurement(*m));
        values.chain(self.faults.iter().cloned().map(HardwareEvent::Fault))
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
            biased;
            command = commands.recv() => match command {
                Some(c) => {
                    dashboard.command(&c);
                    hub.send(&c);
                }
                None => break,
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
                        let m = route.operator.adapter_reports(&event.adapter, m);
                        dashboard.measurement(&m);
                        HardwareEvent::Measurement(m)
                    }
                    other @ (HardwareEvent::Fault(_) | HardwareEvent::FaultCleared(_)) => {
                        let text = hardware_text(&other);
                        tracing::warn!("{text}");
                        dashboard.note(text);
                        other
                    }
                    other => other,
                };
                route.memory.note(&event);
                if let Some(tx) = route.session.as_ref() {
                    let _ = tx.send(event);
                }
            }
        }
    }
    hub.shutdown(SHUTDOWN_TIMEOUT).await;
}

/// A fault or its end, for the dashboard's event list.
fn hardware_text(event: &HardwareEvent) -> String {
    match event {
        HardwareEvent::Fault(f) => format!("hardware fault: {f}"),
        HardwareEvent::FaultCleared(f) => format!("hardware fault cleared: {f}"),
        other => format!("hardware: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccs_io::HardwareAdapter as _;
    use ccs_proto::hardware::{HardwareFaultKind, Volts};

    use crate::config::Config;

    fn start_error(config: &Config, side: Side) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async { Hardware::start(config, side, &Dashboard::disabled()).map(|_| ()) })
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn beaglebone_outputs_need_the_gpio_lines() {
        let mut config = Config::default();
        config.hardware.digital_output_device = DigitalOutputDevice::Beaglebone;
        assert!(start_error(&config, Side::Vehicle).contains("[gpio] chip"));
    }

    #[cfg(not(feature = "gpio"))]
    #[test]
    fn gpio_without_the_feature_is_refused_not_ignored() {
        let mut config = Config::default();
        config.gpio.chip = Some("/dev/gpiochip0".into());
        assert!(start_error(&config, Side::Vehicle).contains("--features gpio"));
    }

    fn layout_names(config: &Config, side: Side) -> anyhow::Result<Vec<String>> {
        let layouts = can_layouts(config, side)?;
        Ok(layouts
            .into_iter()
            .map(|l| CanAdapter::new(ccs_io::can::MemoryCanBus::new(), l).name())
            .collect())
    }

    #[test]
    fn can_layouts_run_on_their_side_only() {
        let mut chademo = Config::default();
        chademo.hardware.charge_parameter_backend = ChargeParameterBackend::Chademo;
        assert_eq!(
            layout_names(&chademo, Side::Vehicle).unwrap(),
            ["can-chademo"]
        );
        let e = layout_names(&chademo, Side::Charger)
            .unwrap_err()
            .to_string();
        assert!(e.contains("charge_parameter_backend = chademo") && e.contains("`ccsplc ev`"));

        let mut foccci = Config::default();
        foccci.hardware.evse_environment = EvseEnvironment::Focccicape;
        assert_eq!(
            layout_names(&foccci, Side::Charger).unwrap(),
            ["can-focccicape"]
        );
        let e = layout_names(&foccci, Side::Vehicle)
            .unwrap_err()
            .to_string();
        assert!(e.contains("evse_environment = focccicape") && e.contains("`ccsplc evse`"));

        let mut mapped = Config::default();
        mapped.can_inputs.power_supply_voltage =
            Some("id=0x420 offset=0 length=2".parse().unwrap());
        mapped.can_outputs.info_number = Some("id=0x433 offset=0 length=1".parse().unwrap());
        assert_eq!(
            layout_names(&mapped, Side::Charger).unwrap(),
            ["can-mapping"]
        );
        let e = layout_names(&mapped, Side::Vehicle)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("can_inputs.power_supply_voltage is the charger's signal"),
            "{e}"
        );
        assert!(
            layout_names(&Config::default(), Side::Vehicle)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_missing_can_interface_says_how_to_bring_it_up() {
        // No such interface on any machine (and this kernel has no CAN at all).
        let mut config = Config::default();
        config.hardware.charge_parameter_backend = ChargeParameterBackend::Chademo;
        config.can.interface = "nocan7".into();
        let e = start_error(&config, Side::Vehicle);
        assert!(e.contains("cannot open the CAN interface nocan7"), "{e}");
        assert!(
            e.contains("ip link set nocan7 up type can bitrate 500000"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn the_charger_runs_mqtt_and_the_soc_callback_side_by_side() {
        let mut config = Config::default();
        config.hardware.charge_parameter_backend = ChargeParameterBackend::Mqtt;
        config.mqtt.broker = "127.0.0.1".into();
        config.soc_callback.enabled = true;
        config.soc_callback.endpoint = Some("http://127.0.0.1:9/ev_state".into());
        let charger = Hardware::start(&config, Side::Charger, &Dashboard::disabled()).unwrap();
        assert_eq!(charger.adapters, ["mqtt", "soc-callback"]);
        charger.stop().await;
        // The car has no SoC callback.
        let car = Hardware::start(&config, Side::Vehicle, &Dashboard::disabled()).unwrap();
        assert_eq!(car.adapters, ["mqtt"]);
        car.stop().await;
    }

    #[tokio::test]
    async fn the_serial_display_runs_alone_in_both_modes() {
        let mut config = Config::default();
        config.hardware.display_via_serial = true;
        config.serial.port = "/nonexistent/tty".into();
        for side in [Side::Vehicle, Side::Charger] {
            let hardware = Hardware::start(&config, side, &Dashboard::disabled()).unwrap();
            // Next to the simulation: the display is no battery or power supply.
            assert_eq!(hardware.adapters[1..], ["serial-display"], "{side:?}");
            hardware.stop().await;
        }
        config.hardware.display_via_serial = false;
        let hardware = Hardware::start(&config, Side::Charger, &Dashboard::disabled()).unwrap();
        assert_eq!(hardware.adapters, ["sim-charger"]);
        hardware.stop().await;
    }

    #[tokio::test]
    async fn a_mapped_actuator_runs_without_the_simulated_car() {
        let start = |config: &Config| {
            let can = CanBuses::Memory(ccs_io::can::MemoryCanBus::new());
            Hardware::start_on(config, Side::Vehicle, &Dashboard::disabled(), &can).unwrap()
        };
        let mut config = Config::default();
        config.can_outputs.info_number = Some("id=0x373 offset=0 length=1".parse().unwrap());
        // A display output runs next to the simulation.
        let car = start(&config);
        assert_eq!(car.adapters, ["sim-vehicle", "can-mapping"]);
        car.stop().await;
        // Real contactors never run on the simulated plant's confirmations.
        config.can_outputs.contactors_closed = Some("id=0x370 offset=1 length=1".parse().unwrap());
        let car = start(&config);
        assert_eq!(car.adapters, ["can-mapping"]);
        car.stop().await;
    }

    #[test]
    fn a_later_session_learns_active_faults_and_latest_values() {
        let lost = HardwareFault {
            adapter: "mqtt".into(),
            kind: HardwareFaultKind::ConnectionLost,
        };
        let stale = HardwareFault {
            adapter: "mqtt".into(),
            kind: HardwareFaultKind::StaleInput(MeasurementKind::Soc),
        };
        let mut memory = Memory::default();
        for event in [
            HardwareEvent::Measurement(Measurement::ChargingEnabled(false)),
            HardwareEvent::Measurement(Measurement::BatteryVoltage(Volts(350.0))),
            HardwareEvent::Fault(lost.clone()),
            HardwareEvent::Fault(stale.clone()),
            HardwareEvent::Measurement(Measurement::BatteryVoltage(Volts(351.0))),
            HardwareEvent::FaultCleared(lost),
        ] {
            memory.note(&event);
        }
        let replayed: Vec<_> = memory.replay().collect();
        assert_eq!(
            replayed,
            [
                HardwareEvent::Measurement(Measurement::BatteryVoltage(Volts(351.0))),
                HardwareEvent::Measurement(Measurement::ChargingEnabled(false)),
                HardwareEvent::Fault(stale),
            ]
        );
    }
}
