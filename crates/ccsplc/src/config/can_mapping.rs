//! The user-defined CAN mapping of `[can_inputs]` and `[can_outputs]` as the CAN adapter's
//! signals, each with the side (car or charger) whose session reads or commands it.

use ccs_io::can::{OutputSignal, SignalLayout};
use ccs_proto::hardware::MeasurementKind;

use super::Config;
use super::values::CanSignal;

/// Whose session reads an input or commands an output.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum MappingSide {
    /// Only the car's.
    Car,
    /// Only the charger's.
    Charger,
    /// Both.
    Both,
}

/// One configured signal of the mapping.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct MappedSignal<S> {
    /// The TOML key, as `section.key`.
    pub(crate) key: &'static str,
    /// What the signal means.
    pub(crate) signal: S,
    /// Whose signal it is.
    pub(crate) side: MappingSide,
    /// Where it sits.
    pub(crate) layout: SignalLayout,
}

fn mapped<S>(
    key: &'static str,
    signal: S,
    side: MappingSide,
    setting: Option<CanSignal>,
) -> Option<MappedSignal<S>> {
    setting.map(|s| MappedSignal {
        key,
        signal,
        side,
        layout: s.layout(),
    })
}

impl Config {
    /// The configured `[can_inputs]`.
    pub(crate) fn can_mapping_inputs(&self) -> Vec<MappedSignal<MeasurementKind>> {
        use MappingSide::{Car, Charger};
        use MeasurementKind as K;
        let i = &self.can_inputs;
        [
            mapped(
                "can_inputs.battery_voltage",
                K::BatteryVoltage,
                Car,
                i.battery_voltage,
            ),
            mapped(
                "can_inputs.target_voltage",
                K::TargetVoltage,
                Car,
                i.target_voltage,
            ),
            mapped(
                "can_inputs.target_current",
                K::TargetCurrent,
                Car,
                i.target_current,
            ),
            mapped("can_inputs.soc", K::Soc, Car, i.soc),
            mapped(
                "can_inputs.inlet_voltage",
                K::InletVoltage,
                Car,
                i.inlet_voltage,
            ),
            mapped(
                "can_inputs.inlet_current",
                K::InletCurrent,
                Car,
                i.inlet_current,
            ),
            mapped(
                "can_inputs.contactors_closed",
                K::ContactorsClosed,
                Car,
                i.contactors_closed,
            ),
            mapped(
                "can_inputs.connector_locked",
                K::ConnectorLocked,
                Car,
                i.connector_locked,
            ),
            mapped(
                "can_inputs.power_supply_voltage",
                K::PowerSupplyVoltage,
                Charger,
                i.power_supply_voltage,
            ),
            mapped(
                "can_inputs.power_supply_current",
                K::PowerSupplyCurrent,
                Charger,
                i.power_supply_current,
            ),
            mapped(
                "can_inputs.power_supply_max_voltage",
                K::PowerSupplyMaxVoltage,
                Charger,
                i.power_supply_max_voltage,
            ),
            mapped(
                "can_inputs.power_supply_max_current",
                K::PowerSupplyMaxCurrent,
                Charger,
                i.power_supply_max_current,
            ),
            mapped(
                "can_inputs.power_supply_max_power",
                K::PowerSupplyMaxPower,
                Charger,
                i.power_supply_max_power,
            ),
            mapped("can_inputs.isolation", K::Isolation, Charger, i.isolation),
            mapped(
                "can_inputs.charging_enabled",
                K::ChargingEnabled,
                Charger,
                i.charging_enabled,
            ),
            mapped(
                "can_inputs.authorized",
                K::Authorized,
                Charger,
                i.authorized,
            ),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The configured `[can_outputs]`.
    pub(crate) fn can_mapping_outputs(&self) -> Vec<MappedSignal<OutputSignal>> {
        use MappingSide::{Both, Car, Charger};
        use OutputSignal as O;
        let o = &self.can_outputs;
        [
            mapped("can_outputs.cp_state_c", O::CpStateC, Car, o.cp_state_c),
            mapped(
                "can_outputs.contactors_closed",
                O::ContactorsClosed,
                Car,
                o.contactors_closed,
            ),
            mapped(
                "can_outputs.connector_lock",
                O::ConnectorLock,
                Car,
                o.connector_lock,
            ),
            mapped(
                "can_outputs.charger_max_voltage",
                O::ChargerMaxVoltage,
                Car,
                o.charger_max_voltage,
            ),
            mapped(
                "can_outputs.charger_max_current",
                O::ChargerMaxCurrent,
                Car,
                o.charger_max_current,
            ),
            mapped(
                "can_outputs.charger_voltage",
                O::ChargerVoltage,
                Both,
                o.charger_voltage,
            ),
            mapped(
                "can_outputs.charger_current",
                O::ChargerCurrent,
                Both,
                o.charger_current,
            ),
            mapped(
                "can_outputs.power_supply_enabled",
                O::PowerSupplyEnabled,
                Charger,
                o.power_supply_enabled,
            ),
            mapped(
                "can_outputs.power_supply_voltage",
                O::PowerSupplyVoltage,
                Charger,
                o.power_supply_voltage,
            ),
            mapped(
                "can_outputs.power_supply_current",
                O::PowerSupplyCurrent,
                Charger,
                o.power_supply_current,
            ),
            mapped(
                "can_outputs.vehicle_soc",
                O::VehicleSoc,
                Charger,
                o.vehicle_soc,
            ),
            mapped(
                "can_outputs.info_number",
                O::InfoNumber,
                Both,
                o.info_number,
            ),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// Whether a user-defined CAN mapping is configured at all.
    pub(crate) fn has_can_mapping(&self) -> bool {
        !self.can_mapping_inputs().is_empty() || !self.can_mapping_outputs().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigError, Loaded};

    fn load(text: &str) -> Result<Loaded, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ccsplc.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(Some(&path))
    }

    #[test]
    fn mapped_signals_come_with_their_key_and_side() {
        let loaded = load(
            "[can_inputs]\n\
             soc = \"id=0x355 offset=0 length=1\"\n\
             authorized = \"id=0x423 offset=1 length=1\"\n\
             [can_outputs]\n\
             info_number = \"id=0x433 offset=0 length=1\"\n",
        )
        .unwrap();
        let c = &loaded.config;
        let inputs: Vec<_> = c
            .can_mapping_inputs()
            .iter()
            .map(|s| (s.key, s.signal, s.side))
            .collect();
        assert_eq!(
            inputs,
            [
                ("can_inputs.soc", MeasurementKind::Soc, MappingSide::Car),
                (
                    "can_inputs.authorized",
                    MeasurementKind::Authorized,
                    MappingSide::Charger
                ),
            ]
        );
        let outputs = c.can_mapping_outputs();
        assert_eq!(outputs.len(), 1);
        assert_eq!(outputs[0].side, MappingSide::Both);
        assert_eq!(outputs[0].layout.id, 0x433);
        // Mapped inputs are hardware: no simulated car or charger next to them.
        assert!(c.has_can_mapping() && !c.simulated_hardware());
    }

    #[test]
    fn actuator_outputs_replace_the_simulation_display_outputs_do_not() {
        // What only shows the session may run next to the simulated car or charger.
        for key in [
            "charger_max_voltage",
            "charger_max_current",
            "charger_voltage",
            "charger_current",
            "vehicle_soc",
            "info_number",
        ] {
            let c = load(&format!(
                "[can_outputs]\n{key} = \"id=0x433 offset=0 length=1\"\n"
            ))
            .unwrap()
            .config;
            assert!(c.has_can_mapping() && c.simulated_hardware(), "{key}");
        }
        // A real contactor, lock, CP switch or power supply must never run on the simulated
        // plant's confirmations, lock feedback and voltages.
        for key in [
            "cp_state_c",
            "contactors_closed",
            "connector_lock",
            "power_supply_enabled",
            "power_supply_voltage",
            "power_supply_current",
        ] {
            let c = load(&format!(
                "[can_outputs]\n{key} = \"id=0x370 offset=0 length=1\"\n\
                 info_number = \"id=0x433 offset=0 length=1\"\n"
            ))
            .unwrap()
            .config;
            assert!(!c.simulated_hardware(), "{key}");
        }
    }

    #[test]
    fn a_bad_signal_names_file_line_key_and_the_format() {
        let e = load(
            "[can]\ninterface = \"can1\"\n\n[can_inputs]\nsoc = \"id=0x355 offset=7 length=2\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("ccsplc.toml, line 5"), "{e}");
        assert!(e.contains("bad value for can_inputs.soc"), "{e}");
        assert!(e.contains("does not fit"), "{e}");
        assert!(
            e.contains("expected `id=<id> offset=<0-7> length=<1-4>`"),
            "{e}"
        );
        let e = load("[can_outputs]\ncp_state_c = 5\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("can_outputs.cp_state_c"), "{e}");
        let e = load("[can]\nmapping_period = 0\n").unwrap_err().to_string();
        assert!(
            e.contains("can.mapping_period") && e.contains("more than 0ms"),
            "{e}"
        );
    }
}
