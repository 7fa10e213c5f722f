//! Hardware adapters for ccsplc, behind one small trait.
//!
//! The protocol core (`ccs-proto`) emits commands (CP state B/C, contactor and lock requests,
//! power-supply set-points, status) and consumes measurements (battery and inlet voltage, SoC,
//! contactor and lock feedback, power-supply voltage and current, isolation, stop/enable,
//! authorization) as plain values. The adapters here translate them:
//!
//! - MQTT with the pyPLC topic profile (`pyPlc/...`, as on the openinverter wiki),
//! - CAN (SocketCAN; pyPLC's CHAdeMO-bridge and FoccciCape layouts and user mappings),
//! - serial devices (`dieter`, `celeron55device`, the serial OLED display),
//! - GPIO through the Linux character device,
//! - the simulated vehicle and charger of `ccs-sim`.
//!
//! Several adapters can be active at once. May depend on `ccs-proto` and the client crates of
//! each transport; never on the session machines' internals.
#![forbid(unsafe_code)]
