//! The charger's operator inputs as the session sees them: the authorization input
//! (`Measurement::Authorized`) and the enable switch (`Measurement::ChargingEnabled`), each
//! combined from the hardware adapters (MQTT `authorized` / `enabled`, a GPIO switch) and the
//! dashboard's controls, and kept across sessions so that a car that plugs in after
//! "Authorize" or "Disable" is treated accordingly from its first message.
//!
//! - Authorized when any source authorizes (a card reader behind MQTT, or the dashboard).
//! - Enabled unless a source disables (either switch stops charging). Each adapter keeps its
//!   own latest value: the simulated charger's periodic "enabled" must not undo a GPIO stop
//!   button held down next to it.

use std::collections::BTreeMap;

use ccs_proto::hardware::Measurement;

/// The latest operator inputs of every source.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub(crate) struct OperatorInputs {
    /// Per adapter (by name).
    adapter_authorized: BTreeMap<String, bool>,
    adapter_enabled: BTreeMap<String, bool>,
    dashboard_authorized: Option<bool>,
    dashboard_enabled: Option<bool>,
}

impl OperatorInputs {
    /// Authorized if any source says so; `None` until a source has said anything.
    pub(crate) fn authorized(&self) -> Option<bool> {
        if self.adapter_authorized.is_empty() && self.dashboard_authorized.is_none() {
            return None;
        }
        Some(
            self.adapter_authorized.values().any(|&a| a) || self.dashboard_authorized == Some(true),
        )
    }

    /// Enabled unless a source disables; `None` until a source has said anything.
    pub(crate) fn enabled(&self) -> Option<bool> {
        if self.adapter_enabled.is_empty() && self.dashboard_enabled.is_none() {
            return None;
        }
        Some(self.adapter_enabled.values().all(|&e| e) && self.dashboard_enabled != Some(false))
    }

    /// Takes a measurement from `adapter`; returns what the session gets: the combined value
    /// for the two operator inputs, anything else as it is.
    pub(crate) fn adapter_reports(
        &mut self,
        adapter: &str,
        measurement: Measurement,
    ) -> Measurement {
        match measurement {
            Measurement::Authorized(a) => {
                self.adapter_authorized.insert(adapter.to_owned(), a);
                Measurement::Authorized(self.authorized().unwrap_or(a))
            }
            Measurement::ChargingEnabled(e) => {
                self.adapter_enabled.insert(adapter.to_owned(), e);
                Measurement::ChargingEnabled(self.enabled().unwrap_or(e))
            }
            other => other,
        }
    }

    /// Takes a switch from the dashboard (`Authorized` or `ChargingEnabled`; anything else is
    /// not the dashboard's and gives `None`); returns the combined value for the session.
    pub(crate) fn dashboard_sets(&mut self, measurement: Measurement) -> Option<Measurement> {
        match measurement {
            Measurement::Authorized(a) => {
                self.dashboard_authorized = Some(a);
                self.authorized().map(Measurement::Authorized)
            }
            Measurement::ChargingEnabled(e) => {
                self.dashboard_enabled = Some(e);
                self.enabled().map(Measurement::ChargingEnabled)
            }
            _ => None,
        }
    }

    /// What a new session gets before anything else: the dashboard's switches that were set
    /// (combined with the adapters'). The adapters' own values reach it when they next report.
    pub(crate) fn for_new_session(&self) -> Vec<Measurement> {
        let mut out = Vec::new();
        if self.dashboard_authorized.is_some()
            && let Some(a) = self.authorized()
        {
            out.push(Measurement::Authorized(a));
        }
        if self.dashboard_enabled.is_some()
            && let Some(e) = self.enabled()
        {
            out.push(Measurement::ChargingEnabled(e));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccs_proto::hardware::{Percent, Volts};

    #[test]
    fn any_source_authorizes() {
        let mut inputs = OperatorInputs::default();
        assert_eq!(inputs.authorized(), None);
        assert_eq!(
            inputs.adapter_reports("mqtt", Measurement::Authorized(false)),
            Measurement::Authorized(false)
        );
        assert_eq!(
            inputs.dashboard_sets(Measurement::Authorized(true)),
            Some(Measurement::Authorized(true))
        );
        // The card reader still says no: the dashboard's yes stands.
        assert_eq!(
            inputs.adapter_reports("mqtt", Measurement::Authorized(false)),
            Measurement::Authorized(true)
        );
        assert_eq!(
            inputs.dashboard_sets(Measurement::Authorized(false)),
            Some(Measurement::Authorized(false))
        );
        assert_eq!(
            inputs.adapter_reports("mqtt", Measurement::Authorized(true)),
            Measurement::Authorized(true)
        );
    }

    #[test]
    fn either_switch_disables() {
        let mut inputs = OperatorInputs::default();
        assert_eq!(inputs.enabled(), None);
        assert_eq!(
            inputs.adapter_reports("mqtt", Measurement::ChargingEnabled(true)),
            Measurement::ChargingEnabled(true)
        );
        assert_eq!(
            inputs.dashboard_sets(Measurement::ChargingEnabled(false)),
            Some(Measurement::ChargingEnabled(false))
        );
        // The adapter's periodic "enabled" does not undo the dashboard's switch.
        assert_eq!(
            inputs.adapter_reports("mqtt", Measurement::ChargingEnabled(true)),
            Measurement::ChargingEnabled(false)
        );
        assert_eq!(
            inputs.dashboard_sets(Measurement::ChargingEnabled(true)),
            Some(Measurement::ChargingEnabled(true))
        );
        assert_eq!(
            inputs.adapter_reports("mqtt", Measurement::ChargingEnabled(false)),
            Measurement::ChargingEnabled(false)
        );
    }

    #[test]
    fn one_adapters_periodic_enabled_does_not_undo_anothers_stop() {
        let mut inputs = OperatorInputs::default();
        inputs.adapter_reports("sim-charger", Measurement::ChargingEnabled(true));
        assert_eq!(
            inputs.adapter_reports("gpio", Measurement::ChargingEnabled(false)),
            Measurement::ChargingEnabled(false)
        );
        // The simulated charger says "enabled" again 100 ms later: the button still holds.
        assert_eq!(
            inputs.adapter_reports("sim-charger", Measurement::ChargingEnabled(true)),
            Measurement::ChargingEnabled(false)
        );
        assert_eq!(
            inputs.adapter_reports("gpio", Measurement::ChargingEnabled(true)),
            Measurement::ChargingEnabled(true)
        );
        // Authorization: any adapter's yes counts, whatever the others say later.
        inputs.adapter_reports("mqtt", Measurement::Authorized(true));
        assert_eq!(
            inputs.adapter_reports("sim-charger", Measurement::Authorized(false)),
            Measurement::Authorized(true)
        );
    }

    #[test]
    fn other_measurements_pass_and_are_not_the_dashboards() {
        let mut inputs = OperatorInputs::default();
        let soc = Measurement::Soc(Percent(40.0));
        assert_eq!(inputs.adapter_reports("mqtt", soc), soc);
        assert_eq!(
            inputs.dashboard_sets(Measurement::BatteryVoltage(Volts(1.0))),
            None
        );
        assert_eq!(inputs, OperatorInputs::default());
    }

    #[test]
    fn a_new_session_gets_the_dashboards_switches_only() {
        let mut inputs = OperatorInputs::default();
        inputs.adapter_reports("mqtt", Measurement::Authorized(true));
        inputs.adapter_reports("mqtt", Measurement::ChargingEnabled(true));
        assert!(inputs.for_new_session().is_empty());
        inputs.dashboard_sets(Measurement::ChargingEnabled(false));
        assert_eq!(
            inputs.for_new_session(),
            vec![Measurement::ChargingEnabled(false)]
        );
        inputs.dashboard_sets(Measurement::Authorized(false));
        assert_eq!(
            inputs.for_new_session(),
            vec![
                Measurement::Authorized(true),
                Measurement::ChargingEnabled(false)
            ]
        );
    }
}
