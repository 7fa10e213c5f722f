//! Hardware adapters for ccsplc, behind one small trait.
//!
//! The protocol core (`ccs-proto`) emits commands (CP state B/C, contactor and lock requests,
//! power-supply set-points, status) and consumes measurements (battery and inlet voltage, SoC,
//! contactor and lock feedback, power-supply voltage and current, isolation, stop/enable,
//! authorization) as plain values: [`ccs_proto::hardware`]. The adapters here translate them:
//!
//! - [`mqtt`]: MQTT with the pyPLC topic profile (`pyPlc/...`, as on the openinverter wiki),
//! - [`can`]: CAN (pyPLC's CHAdeMO-bridge and FoccciCape layouts and user mappings; SocketCAN
//!   behind the `socketcan` feature),
//! - [`serial`]: serial devices (`dieter`, `celeron55device`, the serial OLED display),
//! - [`gpio`]: GPIO through the Linux character device (the adapter needs feature `gpio`),
//! - [`sim`]: the simulated vehicle and charger of `ccs-sim` (the default when nothing else is
//!   configured),
//! - [`soc_callback`]: pyPLC's SoC HTTP callback (SmartEVSE).
//!
//! Every adapter implements [`HardwareAdapter`]; a [`HardwareHub`] runs several at once (MQTT
//! for values and GPIO for the CP line, say), fans commands out to all of them and merges their
//! measurements and faults into one stream and one [`MeasurementSnapshot`](ccs_proto::hardware::MeasurementSnapshot).
//! May depend on `ccs-proto`, `ccs-sim` and the client crates of each transport; never on the
//! session machines' internals.
//!
//! Features: `mqtt-tls` (MQTT over TLS), `socketcan` (real CAN buses), `gpio` (the GPIO
//! adapter). None changes behaviour; each only adds a transport.
//!
//! Not supported (pyPLC has them): the DiDeBoCCS power supply's BeagleBone ADC and set-point
//! pins, BeagleBone pin names (use chip line offsets), the FoccciCape demo relay blinking, the
//! cable-check sequence on the power supply (the charger session commands it through
//! [`PowerSupply`](ccs_proto::hardware::HardwareCommand::PowerSupply) set-points), and the
//! special HomePlug power-supply message (a link-layer concern).
#![forbid(unsafe_code)]

pub mod adapter;
pub mod can;
pub mod gpio;
pub mod mqtt;
pub mod serial;
pub mod sim;
pub mod soc_callback;
mod stale;

pub use adapter::{AdapterError, AdapterIo, Clock, HardwareAdapter, HardwareHub, SourcedEvent};

/// Sleeps until `deadline`, or forever if there is none (for `select!` branches).
pub(crate) async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
