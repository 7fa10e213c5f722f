//! The pyPLC MQTT topic profile: which topic carries what, in which direction, as what text.
//!
//! Topics are `<base>/<name>` (base `pyPlc` by default), payloads plain text, exactly as
//! pyPLC's `hardwareInterface.py` and the openinverter wiki page "PyPLC" have them
//! (`reference/pyplc-behaviour.md` §11.2). Inputs are the bare topic names (pyPLC subscribes
//! to `<base>/battery_voltage`, not to a `/set` suffix).
//!
//! | topic | car mode | charger mode |
//! |---|---|---|
//! | `battery_voltage` | in: present battery voltage | – |
//! | `target_voltage` | in: target voltage | out: target voltage the car asks for |
//! | `target_current` | in: current request | out: current the car asks for |
//! | `soc` | in: SoC to report | out: SoC reported by the car (only if > 0) |
//! | `inlet_voltage` | in: inlet voltage | – |
//! | `enabled` | – | in: `1` / `0` (0 = stop request) |
//! | `fsm_state` | out | out |
//! | `cpstate` | out: `B` / `C` | – |
//! | `relay_request` | out: `on` / `off` | – |
//! | `lock_request` | out: `lock` / `unlock` | – |
//! | `charger_max_voltage`, `charger_max_current` | out: charger limits | in: power supply maximums |
//! | `charger_voltage`, `charger_current` | out: charger present values | in: power supply present values |
//! | `evccid` | – | out |
//! | `battery_capacity` | – | out: Wh |
//!
//! ccsplc extensions (pyPLC has no such topics; harmless to pyPLC back ends):
//! car-mode inputs `contactor_confirmed`, `lock_confirmed`, `plugged_in` (`1`/`0`, the
//! celeron55 device's names); charger-mode inputs `charger_max_power` (W), `isolation`
//! (`valid`, `invalid`, `warning`, `fault`, `no_imd`), `authorized` (`1`/`0`); charger-mode
//! outputs `full_soc` (%) and `energy_request` (Wh), so that the SoC callback's data is on
//! MQTT too (uhi22/pyPLC#47); and the output `status`: one JSON object with every value at
//! once.
//!
//! Inputs that a BMS or power supply publishes cyclically ([`periodic_inputs`]) are watched:
//! one that stops updating is a stale-input fault. Event-like inputs (`enabled`,
//! `authorized`, the confirmations) are published on change and never go stale.
//!
//! One deliberate difference from pyPLC: in charger mode pyPLC stores `charger_current` in the
//! same variable as `target_current` (a quirk, §11.2); here it is the power supply's present
//! current, as the wiki table describes it.

use ccs_proto::hardware::{
    Amps, ContactorRequest, CpState, HardwareCommand, IsolationStatus, LockRequest, Measurement,
    MeasurementKind, Percent, Volts, WattHours, Watts,
};

/// Which side of the cable this adapter serves; decides the direction of each topic.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum MqttRole {
    /// Car mode (pyPLC `PevMode`): the MQTT peer is the BMS / vehicle controller.
    Vehicle,
    /// Charger mode (pyPLC `EvseMode`): the MQTT peer is the power supply / charge point.
    Charger,
}

/// A payload that cannot be read as what its topic carries.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("topic {topic}: cannot read {payload:?} as {expected}")]
pub struct PayloadError {
    /// The topic name (without base).
    pub topic: String,
    /// The payload as received (lossy UTF-8).
    pub payload: String,
    /// What was expected.
    pub expected: &'static str,
}

/// The topic names (without base) this role subscribes to.
pub fn input_topics(role: MqttRole) -> &'static [&'static str] {
    match role {
        MqttRole::Vehicle => &[
            "battery_voltage",
            "target_voltage",
            "target_current",
            "soc",
            "inlet_voltage",
            "contactor_confirmed",
            "lock_confirmed",
            "plugged_in",
        ],
        MqttRole::Charger => &[
            "charger_max_voltage",
            "charger_max_current",
            "charger_voltage",
            "charger_current",
            "enabled",
            "charger_max_power",
            "isolation",
            "authorized",
        ],
    }
}

/// The inputs of this role that a BMS or power supply publishes cyclically: each is watched
/// for staleness once it has arrived.
pub fn periodic_inputs(role: MqttRole) -> &'static [MeasurementKind] {
    use MeasurementKind as K;
    match role {
        MqttRole::Vehicle => &[
            K::BatteryVoltage,
            K::TargetVoltage,
            K::TargetCurrent,
            K::Soc,
            K::InletVoltage,
        ],
        // The isolation monitor's verdict too: a charger must monitor the insulation during
        // the whole energy transfer (IEC 61851-23), so a silent monitor is a fault.
        MqttRole::Charger => &[K::PowerSupplyVoltage, K::PowerSupplyCurrent, K::Isolation],
    }
}

/// Reads one input: `None` if `name` is not an input of this role.
pub fn parse_input(
    role: MqttRole,
    name: &str,
    payload: &[u8],
) -> Option<Result<Measurement, PayloadError>> {
    let text = String::from_utf8_lossy(payload);
    let text = text.trim();
    let err = |expected| PayloadError {
        topic: name.to_owned(),
        payload: text.to_owned(),
        expected,
    };
    let number = || parse_number(text).ok_or_else(|| err("a number"));
    let flag = || parse_flag(text).ok_or_else(|| err("1/0, on/off or true/false"));
    let m = match (role, name) {
        (MqttRole::Vehicle, "battery_voltage") => {
            number().map(|v| Measurement::BatteryVoltage(Volts(v)))
        }
        (MqttRole::Vehicle, "target_voltage") => {
            number().map(|v| Measurement::TargetVoltage(Volts(v)))
        }
        (MqttRole::Vehicle, "target_current") => {
            number().map(|v| Measurement::TargetCurrent(Amps(v)))
        }
        (MqttRole::Vehicle, "soc") => number().map(|v| Measurement::Soc(Percent(v))),
        (MqttRole::Vehicle, "inlet_voltage") => {
            number().map(|v| Measurement::InletVoltage(Volts(v)))
        }
        (MqttRole::Vehicle, "contactor_confirmed") => flag().map(Measurement::ContactorsClosed),
        (MqttRole::Vehicle, "lock_confirmed") => flag().map(Measurement::ConnectorLocked),
        (MqttRole::Vehicle, "plugged_in") => flag().map(Measurement::PluggedIn),
        (MqttRole::Charger, "charger_max_voltage") => {
            number().map(|v| Measurement::PowerSupplyMaxVoltage(Volts(v)))
        }
        (MqttRole::Charger, "charger_max_current") => {
            number().map(|v| Measurement::PowerSupplyMaxCurrent(Amps(v)))
        }
        (MqttRole::Charger, "charger_max_power") => {
            number().map(|v| Measurement::PowerSupplyMaxPower(Watts(v)))
        }
        (MqttRole::Charger, "charger_voltage") => {
            number().map(|v| Measurement::PowerSupplyVoltage(Volts(v)))
        }
        (MqttRole::Charger, "charger_current") => {
            number().map(|v| Measurement::PowerSupplyCurrent(Amps(v)))
        }
        (MqttRole::Charger, "enabled") => flag().map(Measurement::ChargingEnabled),
        (MqttRole::Charger, "authorized") => flag().map(Measurement::Authorized),
        (MqttRole::Charger, "isolation") => parse_isolation(text)
            .map(Measurement::Isolation)
            .ok_or_else(|| err("valid, invalid, warning, fault or no_imd")),
        _ => return None,
    };
    Some(m)
}

/// How urgently an output must go out.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum Urgency {
    /// Actuator requests (CP, relay, lock, the power supply's set-points): at once, at QoS 1,
    /// never held back by the rate limit. A power-supply OFF that waited for the rate limit
    /// would leave current flowing while the car opens its contactors (~300 ms after CP
    /// state B).
    Actuator,
    /// Status and values: on change, at most once per publish interval.
    Status,
}

/// The topics (without base) and payloads a command becomes for this role; empty if the role
/// has no output for it.
pub(crate) fn outputs(
    role: MqttRole,
    command: &HardwareCommand,
) -> Vec<(&'static str, String, Urgency)> {
    use Urgency::{Actuator, Status};
    match (role, command) {
        (_, HardwareCommand::SessionState(text)) => {
            vec![("fsm_state", pyplc_state_text(text).to_owned(), Status)]
        }
        (MqttRole::Vehicle, HardwareCommand::CpState(cp)) => {
            let text = match cp {
                CpState::B => "B",
                CpState::C => "C",
            };
            vec![("cpstate", text.to_owned(), Actuator)]
        }
        (MqttRole::Vehicle, HardwareCommand::Contactors(req)) => {
            let text = match req {
                ContactorRequest::Open => "off",
                ContactorRequest::Closed => "on",
            };
            vec![("relay_request", text.to_owned(), Actuator)]
        }
        (MqttRole::Vehicle, HardwareCommand::ConnectorLock(req)) => {
            let text = match req {
                LockRequest::Lock => "lock",
                LockRequest::Unlock => "unlock",
            };
            vec![("lock_request", text.to_owned(), Actuator)]
        }
        (
            MqttRole::Vehicle,
            HardwareCommand::ChargerLimits {
                max_voltage,
                max_current,
            },
        ) => vec![
            ("charger_max_voltage", format_number(max_voltage.0), Status),
            ("charger_max_current", format_number(max_current.0), Status),
        ],
        (MqttRole::Vehicle, HardwareCommand::ChargerPresent { voltage, current }) => vec![
            ("charger_voltage", format_number(voltage.0), Status),
            ("charger_current", format_number(current.0), Status),
        ],
        (MqttRole::Charger, HardwareCommand::PowerSupply(sp)) => {
            // pyPLC publishes 0 V / 0 A when its PSU mode is "init" or welding detection.
            let (u, i) = if sp.enabled {
                (sp.voltage.0, sp.current.0)
            } else {
                (0.0, 0.0)
            };
            // Set-points are commands to the power supply, not status: pyPLC rate-limits
            // them to 1/s (§11.2), which delays every stop by up to a second; here they go
            // out at once, current first so that a stop lowers the current before the
            // voltage.
            vec![
                ("target_current", format_number(i), Actuator),
                ("target_voltage", format_number(u), Actuator),
            ]
        }
        (MqttRole::Charger, HardwareCommand::EvccId(id)) => vec![("evccid", id.clone(), Status)],
        (MqttRole::Charger, HardwareCommand::VehicleBattery(report)) => {
            let mut out = Vec::new();
            // pyPLC: "if soc > 0: publish soc".
            if report.soc.0 > 0.0 {
                out.push(("soc", format_number(report.soc.0), Status));
            }
            if let Some(WattHours(wh)) = report.energy_capacity {
                out.push(("battery_capacity", format_number(wh), Status));
            }
            if let Some(Percent(full)) = report.full_soc {
                out.push(("full_soc", format_number(full), Status));
            }
            if let Some(WattHours(wh)) = report.energy_request {
                out.push(("energy_request", format_number(wh), Status));
            }
            out
        }
        _ => Vec::new(),
    }
}

/// The session's phase (`ccs_proto::session::Phase`, as its name) in the words pyPLC's
/// charger publishes on `fsm_state` (`fsmEvse.py` `publishStatus`), which back-end scripts
/// compare against (`simulateMqttBackend.py` looks for "CableCheck" and "PreCharging"). Texts
/// pyPLC has no word for pass unchanged.
pub fn pyplc_state_text(phase: &str) -> &str {
    match phase {
        "Handshake" => "Waiting f AppHandShake",
        "SessionSetup" => "Schema negotiated",
        "ServiceSelection" => "Session established",
        "ChargeParameterDiscovery" => "ChargeParamDiscovery",
        "PreCharge" => "PreCharging",
        "PowerDeliveryStart" | "PowerDeliveryStop" => "PowerDelivery",
        "Charging" => "CurrentDemand",
        other => other,
    }
}

/// Numbers as pyPLC's back ends read them (`float(payload)`): `350`, `350.5`, `-12`.
pub(crate) fn format_number(value: f32) -> String {
    if value.is_finite() {
        format!("{value}")
    } else {
        "0".to_owned()
    }
}

fn parse_number(text: &str) -> Option<f32> {
    text.parse::<f32>().ok().filter(|v| v.is_finite())
}

/// pyPLC reads `enabled` with `bool(int(payload))`; also accept the usual words.
fn parse_flag(text: &str) -> Option<bool> {
    if let Ok(n) = text.parse::<i64>() {
        return Some(n != 0);
    }
    match text.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" => Some(true),
        "off" | "false" | "no" => Some(false),
        _ => None,
    }
}

fn parse_isolation(text: &str) -> Option<IsolationStatus> {
    match text.to_ascii_lowercase().as_str() {
        "valid" => Some(IsolationStatus::Valid),
        "invalid" => Some(IsolationStatus::Invalid),
        "warning" => Some(IsolationStatus::Warning),
        "fault" => Some(IsolationStatus::Fault),
        "no_imd" | "noimd" => Some(IsolationStatus::NoImd),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccs_proto::hardware::{PowerSupplySetpoint, VehicleBatteryReport};

    #[test]
    fn inputs_follow_the_role() {
        assert_eq!(
            parse_input(MqttRole::Vehicle, "battery_voltage", b" 350.5\n"),
            Some(Ok(Measurement::BatteryVoltage(Volts(350.5))))
        );
        // target_voltage is an output in charger mode, not an input.
        assert_eq!(parse_input(MqttRole::Charger, "target_voltage", b"1"), None);
        assert_eq!(
            parse_input(MqttRole::Charger, "enabled", b"0"),
            Some(Ok(Measurement::ChargingEnabled(false)))
        );
        assert_eq!(
            parse_input(MqttRole::Charger, "charger_current", b"12"),
            Some(Ok(Measurement::PowerSupplyCurrent(Amps(12.0))))
        );
        assert!(matches!(
            parse_input(MqttRole::Vehicle, "soc", b"full"),
            Some(Err(PayloadError {
                expected: "a number",
                ..
            }))
        ));
        assert!(matches!(
            parse_input(MqttRole::Vehicle, "soc", b"NaN"),
            Some(Err(_))
        ));
    }

    #[test]
    fn every_input_topic_parses_a_plausible_payload() {
        for role in [MqttRole::Vehicle, MqttRole::Charger] {
            for name in input_topics(role) {
                let payload: &[u8] = if *name == "isolation" { b"valid" } else { b"1" };
                assert!(
                    matches!(parse_input(role, name, payload), Some(Ok(_))),
                    "{role:?} {name}"
                );
            }
        }
    }

    #[test]
    fn outputs_use_pyplc_words_and_numbers() {
        let out = |role, cmd| {
            outputs(role, &cmd)
                .into_iter()
                .map(|(t, p, _)| (t, p))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            out(MqttRole::Vehicle, HardwareCommand::CpState(CpState::C)),
            [("cpstate", "C".to_owned())]
        );
        assert_eq!(
            out(
                MqttRole::Vehicle,
                HardwareCommand::Contactors(ContactorRequest::Open)
            ),
            [("relay_request", "off".to_owned())]
        );
        assert_eq!(
            out(
                MqttRole::Charger,
                HardwareCommand::PowerSupply(PowerSupplySetpoint {
                    enabled: true,
                    voltage: Volts(398.5),
                    current: Amps(120.0),
                })
            ),
            [
                ("target_current", "120".to_owned()),
                ("target_voltage", "398.5".to_owned())
            ]
        );
        assert_eq!(
            out(
                MqttRole::Charger,
                HardwareCommand::PowerSupply(PowerSupplySetpoint::OFF)
            ),
            [
                ("target_current", "0".to_owned()),
                ("target_voltage", "0".to_owned())
            ]
        );
        // The power supply's set-points are actuator commands (at once, QoS 1), like CP,
        // relay and lock.
        assert!(
            outputs(
                MqttRole::Charger,
                &HardwareCommand::PowerSupply(PowerSupplySetpoint::OFF)
            )
            .iter()
            .all(|(_, _, urgency)| *urgency == Urgency::Actuator)
        );
        // The car side has no power supply; the charger side no CP output.
        assert!(
            out(
                MqttRole::Vehicle,
                HardwareCommand::PowerSupply(PowerSupplySetpoint::OFF)
            )
            .is_empty()
        );
        assert!(out(MqttRole::Charger, HardwareCommand::CpState(CpState::B)).is_empty());
        // pyPLC's state words, which back-end scripts compare against.
        for (phase, text) in [
            ("Handshake", "Waiting f AppHandShake"),
            ("PreCharge", "PreCharging"),
            ("Charging", "CurrentDemand"),
            ("CableCheck", "CableCheck"),
            ("WeldingDetection", "WeldingDetection"),
            ("SessionStop", "SessionStop"),
        ] {
            assert_eq!(
                out(
                    MqttRole::Charger,
                    HardwareCommand::SessionState(phase.into())
                ),
                [("fsm_state", text.to_owned())]
            );
        }
        assert_eq!(
            out(
                MqttRole::Charger,
                HardwareCommand::VehicleBattery(VehicleBatteryReport {
                    soc: Percent(0.0),
                    energy_capacity: Some(WattHours(64000.0)),
                    ..Default::default()
                })
            ),
            [("battery_capacity", "64000".to_owned())]
        );
    }
}
