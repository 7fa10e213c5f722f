//! From the configuration to the session machines' configurations ([`EvccConfig`],
//! [`SeccConfig`]) and the driver's policy ([`DriverPolicy`]): pyPLC's settings that shape a
//! session, with pyPLC's meaning (`reference/pyplc-behaviour.md` §9, §10).

use ccs_io::can::OutputSignal;
use ccs_proto::hardware::{Amps, MeasurementKind, Percent, Volts, WattHours, Watts};
use ccs_proto::session::{
    self, DriverPolicy, EvccConfig, PrechargeVoltageSource as CorePrechargeSource, ProtocolOffer,
    SeccConfig,
};

use super::Config;
use super::values::{AnalogInputDevice, ChargeParameterBackend, DigitalOutputDevice};
use super::values::{PrechargeVoltageSource, Protocol};

/// The SchemaID the car announces for each protocol (pyPLC and the Ioniq use 1 for DIN).
fn schema_id(protocol: Protocol) -> u8 {
    match protocol {
        Protocol::Din => 1,
        Protocol::Iso2 => 2,
        Protocol::Iso20Dc => 3,
        Protocol::Iso20Bpt => 4,
    }
}

fn volts(v: f64) -> Volts {
    Volts(v as f32)
}

fn amps(a: f64) -> Amps {
    Amps(a as f32)
}

impl Config {
    /// Whether no hardware adapter is configured: the simulated vehicle or charger of
    /// `ccs-io` stands in (it reports every value, feedback included). Everything that
    /// measures or actuates is hardware and replaces the simulation: CAN inputs of a
    /// user-defined mapping, mapped outputs that drive an actuator (CP state, contactors,
    /// lock, power supply) and GPIO output lines. A real contactor or power supply must never
    /// run on the simulated plant's confirmations and voltages. What only shows the session
    /// (the FoccciCape status frames, the mapped charger values, SoC and INFONR, the serial
    /// display, the SoC callback) runs next to the simulation.
    pub(crate) fn simulated_hardware(&self) -> bool {
        let h = &self.hardware;
        h.digital_output_device == DigitalOutputDevice::None
            && h.analog_input_device == AnalogInputDevice::None
            && h.charge_parameter_backend == ChargeParameterBackend::None
            && self.can_mapping_inputs().is_empty()
            && !self
                .can_mapping_outputs()
                .iter()
                .any(|s| s.signal.is_actuator())
            && !self.gpio.drives_outputs()
    }

    /// Whether the MQTT adapter runs: any of the three pyPLC device keys says `mqtt`.
    pub(crate) fn uses_mqtt(&self) -> bool {
        let h = &self.hardware;
        !self.simulated_hardware()
            && (h.digital_output_device == DigitalOutputDevice::Mqtt
                || h.analog_input_device == AnalogInputDevice::Mqtt
                || h.charge_parameter_backend == ChargeParameterBackend::Mqtt)
    }

    /// Charger: whether the MQTT adapter is the power supply's back end (`target_voltage` /
    /// `target_current` out, `charger_voltage` / `charger_current` in): pyPLC's
    /// `charge_parameter_backend = mqtt`. MQTT for the other devices alone publishes the
    /// state and reads `enabled`, as in pyPLC.
    pub(crate) fn mqtt_power_supply(&self) -> bool {
        self.uses_mqtt() && self.hardware.charge_parameter_backend == ChargeParameterBackend::Mqtt
    }

    /// Charger: whether a hardware adapter sets or measures a real power supply: MQTT as its
    /// back end or a mapped CAN power-supply signal. Without one (and without the simulated
    /// charger) the charger has pyPLC's dummy power supply: nothing is switched or measured.
    pub(crate) fn real_power_supply(&self) -> bool {
        use MeasurementKind as K;
        use OutputSignal as O;
        self.mqtt_power_supply()
            || self.can_mapping_inputs().iter().any(|s| {
                matches!(
                    s.signal,
                    K::PowerSupplyVoltage
                        | K::PowerSupplyCurrent
                        | K::PowerSupplyMaxVoltage
                        | K::PowerSupplyMaxCurrent
                        | K::PowerSupplyMaxPower
                )
            })
            || self.can_mapping_outputs().iter().any(|s| {
                matches!(
                    s.signal,
                    O::PowerSupplyEnabled | O::PowerSupplyVoltage | O::PowerSupplyCurrent
                )
            })
    }

    /// Charger: whether an adapter reports an isolation monitor's verdict: the simulated
    /// charger, `can_inputs.isolation`, or MQTT `isolation` next to a real power supply (with
    /// pyPLC's dummy power supply nothing is energized, and no pyPLC back end publishes it).
    pub(crate) fn has_isolation_input(&self) -> bool {
        self.simulated_hardware()
            || self.can_inputs.isolation.is_some()
            || (self.uses_mqtt() && self.real_power_supply())
    }

    /// Charger: whether the output voltage reported to the car is simulated (pyPLC
    /// `evse_simulate_precharge`). Never with a real power supply: the car would close its
    /// contactors onto a voltage that only exists in the simulation, and after the stop be
    /// told the output is below 60 V (IEC 61851-23: safe to unlock) while it may be live.
    pub(crate) fn simulates_charger_output(&self) -> bool {
        self.charging.evse_simulate_precharge && !self.real_power_supply()
    }

    /// Charger: whether CableCheck waits for an isolation monitor's verdict. Off when the
    /// configuration turns it off, and with pyPLC's dummy power supply when nothing could
    /// report one (`ccsplc evse` warns at start). With a real power supply it stays on even
    /// without an input (`ccsplc evse` refuses that configuration): better a CableCheck that
    /// never ends than a made-up `Valid`.
    pub(crate) fn monitors_isolation(&self) -> bool {
        self.charging.isolation_monitor && (self.has_isolation_input() || self.real_power_supply())
    }

    /// Whether the configured devices report contactor feedback. pyPLC's devices other than
    /// `celeron55device` (`contactor_confirmed=`) have none (its `hardwareInterface.py`
    /// assumes the switching happened); the simulated vehicle reports it, and so do a mapped
    /// CAN input `can_inputs.contactors_closed` and a GPIO `contactor_feedback_line`.
    fn has_contactor_feedback(&self) -> bool {
        self.simulated_hardware()
            || self.hardware.digital_output_device == DigitalOutputDevice::Celeron55device
            || self.can_inputs.contactors_closed.is_some()
            || self.gpio.contactor_feedback_line.is_some()
    }

    /// Whether a configured device reports the connector lock's state: the simulated vehicle
    /// and a mapped CAN input `can_inputs.connector_locked`. No pyPLC device has lock
    /// feedback (`isConnectorLocked()` is always true), the celeron55 device included:
    /// waiting for it would time out every session.
    fn has_lock_feedback(&self) -> bool {
        self.simulated_hardware() || self.can_inputs.connector_locked.is_some()
    }

    /// Whether a configured device measures the battery voltage: the MQTT adapter
    /// (`battery_voltage`), the celeron55 device (`dc_link_v=`), a CHAdeMO car or a mapped
    /// CAN input `can_inputs.battery_voltage`.
    fn measures_battery_voltage(&self) -> bool {
        let h = &self.hardware;
        let celeron55 = h.digital_output_device == DigitalOutputDevice::Celeron55device
            || h.analog_input_device == AnalogInputDevice::Celeron55device;
        let mqtt = h.digital_output_device == DigitalOutputDevice::Mqtt
            || h.analog_input_device == AnalogInputDevice::Mqtt;
        celeron55
            || mqtt
            || h.charge_parameter_backend != ChargeParameterBackend::None
            || self.can_inputs.battery_voltage.is_some()
    }

    /// The car's session configuration: protocols in priority order, the standard's timers
    /// with the file's overrides, pyPLC's precharge and charge-loop settings, the quirks.
    pub(crate) fn evcc_config(&self) -> EvccConfig {
        let s = &self.session;
        let c = &self.charging;
        let mut e = EvccConfig::default();
        e.protocols = s
            .protocols
            .iter()
            .enumerate()
            .map(|(i, &p)| ProtocolOffer {
                protocol: session::Protocol::from(p),
                priority: u8::try_from(i + 1).unwrap_or(20).min(20),
                schema_id: schema_id(p),
            })
            .collect();
        let t = &mut e.timeouts;
        if let Some(d) = s.v2g_evcc_msg_timeout {
            t.msg_timeout = d.into();
            t.current_demand_msg_timeout = d.into();
        }
        if let Some(d) = s.v2g_evcc_ongoing_timeout {
            t.ongoing_timeout = d.into();
        }
        if let Some(d) = s.v2g_evcc_cable_check_timeout {
            t.cable_check_timeout = d.into();
        }
        if let Some(d) = s.v2g_evcc_pre_charge_timeout {
            t.pre_charge_timeout = d.into();
        }
        if let Some(d) = s.unlock_voltage_timeout {
            t.unlock_voltage_timeout = d.into();
        }
        e.quirks.accept_ok_in_session_setup_res = s.accept_ok_for_new_session;
        e.quirks.danger_unlock_despite_charger_voltage = s.danger_unlock_despite_charger_voltage;
        e.quirks
            .accept_finished_not_ready_in_charge_parameter_discovery =
            s.accept_finished_with_evse_not_ready;
        e.ev.max_voltage = volts(c.max_voltage);
        e.ev.max_current = amps(c.max_current);
        e.ev.max_power = Watts(c.max_power as f32);
        e.ev.energy_capacity = WattHours(c.energy_capacity as f32);
        e.ev.energy_request = WattHours(c.energy_request as f32);
        e.ev.full_soc = Percent(f32::from(c.full_soc));
        e.ev.bulk_soc = Percent(f32::from(c.bulk_soc));
        e.ev.send_limits_in_current_demand = s.send_ev_maximum_limits_in_current_demand;
        e.u_delta_max_for_end_of_precharge = volts(s.precharge_delta_max);
        e.precharge_voltage_source = match s.precharge_voltage_source {
            PrechargeVoltageSource::Charger => CorePrechargeSource::EvsePresentVoltage,
            PrechargeVoltageSource::Inlet => CorePrechargeSource::InletVoltage,
        };
        e.use_physical_inlet_voltage_during_chargeloop = c.show_inlet_voltage;
        e.charge_target_voltage = volts(c.target_voltage);
        e.charge_target_current = amps(c.target_current);
        // pyPLC without a battery backend charges as if the battery had `battery_voltage`
        // (a dieter or GPIO car has no way to measure it); where a device measures it, the
        // measurement is required: a device that fell silent must not turn into a guess.
        e.fallback_battery_voltage = (self.simulated_hardware()
            || !self.measures_battery_voltage())
        .then(|| volts(c.battery_voltage));
        e.soc_simulation = c.soc_simulation;
        e.light_bulb_demo = c.light_bulb_demo;
        e.contactor_feedback = self.has_contactor_feedback();
        e.lock_feedback = self.has_lock_feedback();
        e.charge_duration = c.charge_duration.map(Into::into);
        e
    }

    /// The charger's session configuration: accepted protocols, EVSEID, DC limits, timers.
    pub(crate) fn secc_config(&self) -> SeccConfig {
        let s = &self.session;
        let c = &self.charging;
        let mut e = SeccConfig::default();
        e.protocols = self.protocols();
        if let Some(d) = s.v2g_secc_sequence_timeout {
            e.timeouts.sequence_timeout = d.into();
        }
        e.evse_id = s.evse_id.as_bytes().to_vec();
        e.limits.max_voltage = volts(c.evse_max_voltage);
        e.limits.min_voltage = volts(c.evse_min_voltage);
        e.limits.max_current = amps(c.evse_max_current);
        e.limits.min_current = amps(c.evse_min_current);
        e.limits.max_power = Watts(c.evse_max_power as f32);
        e.limits.current_regulation_tolerance = amps(c.evse_current_regulation_tolerance);
        e.limits.peak_current_ripple = amps(c.evse_peak_current_ripple);
        e.evse_simulate_precharge = self.simulates_charger_output();
        e.authorize_automatically = s.authorize_automatically;
        e.isolation_monitor = self.monitors_isolation();
        e
    }

    /// What the drivers do between sessions.
    pub(crate) fn driver_policy(&self) -> DriverPolicy {
        let mut p = DriverPolicy::default();
        p.exit_on_session_end = self.general.exit_on_session_end;
        p.allow_new_session_after_stopping = self.session.allow_new_session_after_stop;
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Duration;

    #[test]
    fn pyplc_settings_reach_the_car() {
        let mut c = Config::default();
        c.session.precharge_delta_max = 5.0;
        c.session.precharge_voltage_source = PrechargeVoltageSource::Inlet;
        c.charging.show_inlet_voltage = true;
        c.charging.target_voltage = 380.0;
        c.charging.soc_simulation = false;
        c.charging.light_bulb_demo = true;
        c.charging.charge_duration = Some(Duration::from_secs(7));
        let e = c.evcc_config();
        assert_eq!(e.u_delta_max_for_end_of_precharge, Volts(5.0));
        assert_eq!(
            e.precharge_voltage_source,
            CorePrechargeSource::InletVoltage
        );
        assert!(e.use_physical_inlet_voltage_during_chargeloop);
        assert_eq!(e.charge_target_voltage, Volts(380.0));
        assert!(!e.soc_simulation && e.light_bulb_demo);
        assert_eq!(
            e.charge_duration,
            Some(ccs_proto::time::Duration::from_secs(7))
        );
        assert_eq!(e.protocols[0].protocol, session::Protocol::Din70121);
        assert_eq!((e.protocols[0].priority, e.protocols[0].schema_id), (1, 1));
        // The simulated vehicle reports feedback and may use pyPLC's battery voltage.
        assert!(e.contactor_feedback && e.lock_feedback);
        assert_eq!(e.fallback_battery_voltage, Some(Volts(230.0)));
    }

    #[test]
    fn the_unlock_voltage_timeout_reaches_the_car() {
        let mut c = Config::default();
        assert_eq!(
            c.evcc_config().timeouts.unlock_voltage_timeout,
            ccs_proto::time::Duration::from_secs(5)
        );
        c.session.unlock_voltage_timeout = Some(Duration::from_secs(12));
        assert_eq!(
            c.evcc_config().timeouts.unlock_voltage_timeout,
            ccs_proto::time::Duration::from_secs(12)
        );
    }

    #[test]
    fn devices_without_feedback_are_waited_for() {
        let mut c = Config::default();
        c.hardware.digital_output_device = DigitalOutputDevice::Dieter;
        c.charging.battery_voltage = 355.0;
        let e = c.evcc_config();
        assert!(!e.contactor_feedback && !e.lock_feedback);
        // The dieter measures no battery: pyPLC's configured battery voltage stands in.
        assert_eq!(e.fallback_battery_voltage, Some(Volts(355.0)));
        c.hardware.digital_output_device = DigitalOutputDevice::Celeron55device;
        let e = c.evcc_config();
        // celeron55's device confirms the contactors but has no lock feedback (pyPLC's
        // `isConnectorLocked()` is always true), and it measures the battery (`dc_link_v`).
        assert!(e.contactor_feedback && !e.lock_feedback);
        assert_eq!(e.fallback_battery_voltage, None);
        c.hardware.digital_output_device = DigitalOutputDevice::Dieter;
        c.hardware.charge_parameter_backend = ChargeParameterBackend::Mqtt;
        assert_eq!(c.evcc_config().fallback_battery_voltage, None);
    }

    fn signal(text: &str) -> Option<crate::config::values::CanSignal> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn a_mapped_battery_voltage_is_required_not_replaced_by_the_configured_one() {
        let mut c = Config::default();
        c.can_inputs.battery_voltage = signal("id=0x356 offset=0 length=2 scale=0.1");
        // A frame that never arrives (a wrong id) must stop the car, not make PreCharge
        // aim at charging.battery_voltage (230 V) with a 385 V battery behind the contactors.
        assert_eq!(c.evcc_config().fallback_battery_voltage, None);
        // Another mapped input alone measures no battery: pyPLC's setting stands in.
        let mut c = Config::default();
        c.can_inputs.soc = signal("id=0x355 offset=0 length=1");
        assert_eq!(c.evcc_config().fallback_battery_voltage, Some(Volts(230.0)));
    }

    #[test]
    fn mapped_contactor_and_lock_feedback_are_waited_for() {
        let mut c = Config::default();
        c.can_inputs.soc = signal("id=0x355 offset=0 length=1");
        let e = c.evcc_config();
        assert!(!e.contactor_feedback && !e.lock_feedback);
        // A welded contactor reported on CAN must be seen, not timed out as "opened".
        c.can_inputs.contactors_closed = signal("id=0x361 offset=0 length=1");
        let e = c.evcc_config();
        assert!(e.contactor_feedback && !e.lock_feedback);
        c.can_inputs.connector_locked = signal("id=0x361 offset=1 length=1");
        let e = c.evcc_config();
        assert!(e.contactor_feedback && e.lock_feedback);
    }

    #[test]
    fn gpio_output_lines_replace_the_simulation() {
        let mut c = Config::default();
        c.gpio.chip = Some("/dev/gpiochip0".into());
        c.gpio.stop_button_line = Some(23);
        assert!(c.simulated_hardware());
        for line in 0..3 {
            let mut c = c.clone();
            match line {
                0 => c.gpio.cp_line = Some(17),
                1 => c.gpio.contactor_line = Some(27),
                _ => c.gpio.lock_line = Some(22),
            }
            assert!(!c.simulated_hardware(), "{line}");
            // Without feedback the car assumes the contactors switched (pyPLC's devices), and
            // charging.battery_voltage is the PreCharge target, as with the dieter.
            let e = c.evcc_config();
            assert!(!e.contactor_feedback && !e.lock_feedback);
        }
    }

    #[test]
    fn charger_settings_and_policy() {
        let mut c = Config::default();
        c.charging.evse_simulate_precharge = false;
        c.charging.evse_max_current = 125.0;
        c.session.evse_id = "DE*ABC".into();
        c.session.allow_new_session_after_stop = false;
        c.general.exit_on_session_end = true;
        assert!(c.secc_config().authorize_automatically);
        c.session.authorize_automatically = false;
        let s = c.secc_config();
        assert!(!s.authorize_automatically);
        assert!(!s.evse_simulate_precharge);
        assert_eq!(s.limits.max_current, Amps(125.0));
        assert_eq!(s.evse_id, b"DE*ABC".to_vec());
        let p = c.driver_policy();
        assert!(p.exit_on_session_end && !p.allow_new_session_after_stopping);
    }
}
