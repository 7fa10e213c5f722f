//! Rules that a type alone cannot express: ranges, and limits between settings.

use super::error::ConfigError;
use super::values::Duration;
use super::{Loaded, Origin};

/// One broken rule: the setting to blame and what is allowed.
struct Broken {
    section: &'static str,
    key: &'static str,
    allowed: String,
}

/// Checks the rules; the error names the setting, preferring one that came from the file.
pub(super) fn validate(loaded: &Loaded) -> Result<(), ConfigError> {
    let Some(broken) = rules(loaded).into_iter().next() else {
        return Ok(());
    };
    let (line, key, value) = match loaded.origin(broken.section, broken.key) {
        Origin::File { line, key, value } => (Some(*line), key.clone(), value.clone()),
        Origin::CommandLine { option } => (
            None,
            (*option).to_owned(),
            loaded
                .value(broken.section, broken.key)
                .unwrap_or_else(|| "unset".to_owned()),
        ),
        Origin::Default => (
            None,
            format!("{}.{} (default)", broken.section, broken.key),
            loaded
                .value(broken.section, broken.key)
                .unwrap_or_else(|| "unset".to_owned()),
        ),
    };
    Err(ConfigError::InvalidValue {
        path: loaded.path.clone().unwrap_or_default(),
        line,
        key,
        value,
        allowed: broken.allowed,
    })
}

/// Every broken rule.
fn rules(loaded: &Loaded) -> Vec<Broken> {
    let c = &loaded.config;
    let mut broken = Vec::new();
    let mut rule = |ok: bool, section, key, allowed: &str| {
        if !ok {
            broken.push(Broken {
                section,
                key,
                allowed: allowed.to_owned(),
            });
        }
    };
    // Between two settings, blame the one the file set (a default cannot be wrong alone).
    let blame = |section, a: &'static str, b: &'static str| {
        if loaded.origin(section, a) == &Origin::Default {
            b
        } else {
            a
        }
    };

    rule(
        c.session.precharge_delta_max > 0.0 && c.session.precharge_delta_max <= 50.0,
        "session",
        "precharge_delta_max",
        "more than 0 V and at most 50 V: the contactors close at this voltage difference",
    );
    rule(
        !c.session.protocols.is_empty(),
        "session",
        "protocols",
        "at least one of din, iso2, iso20-dc, iso20-bpt",
    );
    let protocols = &c.session.protocols;
    rule(
        protocols
            .iter()
            .enumerate()
            .all(|(i, p)| !protocols[..i].contains(p)),
        "session",
        "protocols",
        "each protocol at most once",
    );
    rule(
        c.session
            .evcc_id
            .as_ref()
            .is_none_or(|id| id.len() == 12 && id.chars().all(|ch| ch.is_ascii_hexdigit())),
        "session",
        "evcc_id",
        "12 hex digits (a MAC address without separators)",
    );
    rule(c.sdp.max_requests >= 1, "sdp", "max_requests", "at least 1");
    // [V2G2-159]: the EVCC waits at least 250 ms for an SDP response before repeating.
    rule(
        c.sdp.response_timeout >= Duration::from_millis(250),
        "sdp",
        "response_timeout",
        "at least 250ms [V2G2-159]",
    );
    for (port, key) in [(c.sdp.tcp_port, "tcp_port"), (c.sdp.tls_port, "tls_port")] {
        rule(
            port.is_none_or(|p| p >= 49152),
            "sdp",
            key,
            "a port from the dynamic range 49152 to 65535 (cars such as Josev reject others)",
        );
    }
    // CM_SLAC_PARM.CNF and CM_START_ATTEN_CHAR.IND carry TT_EVSE_match_MNBC as one byte in
    // units of 100 ms (ISO 15118-3, field TIME_OUT).
    rule(
        c.slac.tt_evse_match_mnbc.is_none_or(|d| {
            let millis = d.get().as_millis();
            millis.is_multiple_of(100) && millis <= 25_500
        }),
        "slac",
        "TT_EVSE_match_MNBC",
        "a multiple of 100ms up to 25.5s (it is sent in units of 100 ms)",
    );
    rule(c.mqtt.port >= 1, "mqtt", "port", "1 to 65535");
    rule(c.serial.baud >= 1, "serial", "baud", "at least 1");
    rule(
        c.can.mapping_period > Duration::from_millis(0),
        "can",
        "mapping_period",
        "more than 0ms",
    );
    // A zero timeout makes the CHAdeMO BMS's 0x102 stale on every cycle.
    rule(
        c.can.rx_timeout > Duration::from_millis(0),
        "can",
        "rx_timeout",
        "more than 0ms",
    );

    let ch = &c.charging;
    for (value, key) in [
        (ch.full_soc, "full_soc"),
        (ch.bulk_soc, "bulk_soc"),
        (ch.stop_soc, "stop_soc"),
        (ch.soc_simulation_start, "soc_simulation_start"),
    ] {
        rule(value <= 100, "charging", key, "0 to 100 (%)");
    }
    for (value, key) in [
        (ch.target_voltage, "target_voltage"),
        (ch.target_current, "target_current"),
        (ch.battery_voltage, "battery_voltage"),
        (ch.evse_min_voltage, "evse_min_voltage"),
        (ch.evse_min_current, "evse_min_current"),
        (
            ch.evse_current_regulation_tolerance,
            "evse_current_regulation_tolerance",
        ),
        (ch.evse_peak_current_ripple, "evse_peak_current_ripple"),
    ] {
        rule(
            value.is_finite() && value >= 0.0,
            "charging",
            key,
            "a number, 0 or more",
        );
    }
    for (value, key) in [
        (ch.max_voltage, "max_voltage"),
        (ch.max_current, "max_current"),
        (ch.max_power, "max_power"),
        (ch.evse_max_voltage, "evse_max_voltage"),
        (ch.evse_max_current, "evse_max_current"),
        (ch.evse_max_power, "evse_max_power"),
    ] {
        rule(
            value.is_finite() && value > 0.0,
            "charging",
            key,
            "a number, more than 0",
        );
    }
    rule(
        ch.target_voltage <= ch.max_voltage,
        "charging",
        blame("charging", "target_voltage", "max_voltage"),
        "charging.target_voltage must not exceed charging.max_voltage",
    );
    rule(
        ch.battery_voltage <= ch.max_voltage,
        "charging",
        blame("charging", "battery_voltage", "max_voltage"),
        "charging.battery_voltage must not exceed charging.max_voltage",
    );
    rule(
        ch.target_current <= ch.max_current,
        "charging",
        blame("charging", "target_current", "max_current"),
        "charging.target_current must not exceed charging.max_current",
    );
    rule(
        ch.evse_min_voltage <= ch.evse_max_voltage,
        "charging",
        blame("charging", "evse_min_voltage", "evse_max_voltage"),
        "charging.evse_min_voltage must not exceed charging.evse_max_voltage",
    );
    rule(
        ch.evse_min_current <= ch.evse_max_current,
        "charging",
        blame("charging", "evse_min_current", "evse_max_current"),
        "charging.evse_min_current must not exceed charging.evse_max_current",
    );
    rule(
        !c.soc_callback.enabled || c.soc_callback.endpoint.is_some(),
        "soc_callback",
        "enabled",
        "true only together with soc_callback.endpoint",
    );
    broken
}
