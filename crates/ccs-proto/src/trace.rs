//! One readable line per V2G message, the same in the live trace of `ev`/`evse`/`sim`, in
//! `listen` and in `ccsplc decode`:
//!
//! ```text
//! [700] CurrentDemandReq U=388.0V I=1.0A SoC=93%
//! [700] CurrentDemandRes U=387.0V I=1.0A EVSE_Ready
//! [540] ChargeParameterDiscoveryRes OK Finished Umax=450.0V Imax=200.0A Pmax=10000W
//! ```
//!
//! The bracketed number is pyPLC's and ccs32clara's checkpoint of the phase the message
//! belongs to ([`Phase::checkpoint`]), so that logs can be laid side by side.
//!
//! The session machines call [`V2gSummary::from_din`] (or `from_iso2`, `from_iso20_dc`, …) on
//! the typed message they send or received; the capture decoder calls
//! [`V2gSummary::from_json`] on what it decoded.
//!
//! The summary is built from the message's serde JSON (`ccs-msg` with its `serde` feature), so
//! one piece of code serves DIN 70121, ISO 15118-2 and ISO 15118-20: the schemas share the
//! element names that matter (`EVTargetVoltage`, `EVSEPresentCurrent`, `EVRESSSOC` /
//! `PresentSOC`, `ResponseCode`, …). Physical values are read as DIN/ISO-2
//! `{Multiplier, Value}` or ISO-20 `{Exponent, Value}`.
//!
//! ```
//! use ccs_proto::trace::V2gSummary;
//!
//! let fields = serde_json::json!({
//!     "DC_EVStatus": {"EVRESSSOC": 55, "EVReady": true, "EVErrorCode": "NO_ERROR"},
//!     "EVTargetVoltage": {"Multiplier": -1, "Unit": "V", "Value": 3800},
//!     "EVTargetCurrent": {"Multiplier": 0, "Unit": "A", "Value": 120},
//! });
//! let line = V2gSummary::from_json("CurrentDemandReq", &fields);
//! assert_eq!(line.to_string(), "[700] CurrentDemandReq U=380.0V I=120.0A SoC=55%");
//! ```

use core::fmt;

use serde_json::Value;

use crate::session::{ChargingValues, Phase};

/// The phase a V2G message belongs to (by name; PowerDelivery by its start/stop field).
/// Names are the schema element names of any of the supported schemas.
pub fn phase_of(message: &str, fields: &Value) -> Option<Phase> {
    let base = message
        .strip_suffix("Req")
        .or_else(|| message.strip_suffix("Res"))
        .unwrap_or(message);
    let base = base
        .strip_prefix("DC_")
        .or_else(|| base.strip_prefix("AC_"))
        .unwrap_or(base);
    Some(match base {
        "supportedAppProtocol" => Phase::Handshake,
        "SessionSetup" => Phase::SessionSetup,
        "ServiceDiscovery"
        | "ServiceDetail"
        | "ServicePaymentSelection"
        | "PaymentServiceSelection"
        | "ServiceSelection"
        | "PaymentDetails"
        | "CertificateInstallation"
        | "CertificateUpdate" => Phase::ServiceSelection,
        "ContractAuthentication" | "Authorization" | "AuthorizationSetup" => Phase::Authorization,
        "ChargeParameterDiscovery" | "ScheduleExchange" => Phase::ChargeParameterDiscovery,
        "CableCheck" => Phase::CableCheck,
        "PreCharge" => Phase::PreCharge,
        "PowerDelivery" => {
            if is_power_delivery_stop(fields) {
                Phase::PowerDeliveryStop
            } else {
                Phase::PowerDeliveryStart
            }
        }
        "CurrentDemand" | "ChargingStatus" | "ChargeLoop" => Phase::Charging,
        "WeldingDetection" => Phase::WeldingDetection,
        "SessionStop" => Phase::SessionStop,
        _ => return None,
    })
}

/// DIN: `ReadyToChargeState` false; ISO-2/-20: `ChargeProgress` "Stop" (or "ScheduleRenegotiation"
/// counts as start). A PowerDeliveryRes carries neither: it is classed as start.
fn is_power_delivery_stop(fields: &Value) -> bool {
    match (
        find(fields, "ReadyToChargeState"),
        find(fields, "ChargeProgress"),
    ) {
        (Some(Value::Bool(ready)), _) => !ready,
        (_, Some(Value::String(p))) => p == "Stop" || p == "Standby",
        _ => false,
    }
}

/// The first value under `key`, searched depth-first through objects and arrays.
pub fn find<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Object(map) => map
            .get(key)
            .or_else(|| map.values().find_map(|child| find(child, key))),
        Value::Array(items) => items.iter().find_map(|child| find(child, key)),
        _ => None,
    }
}

/// A physical value: `{Multiplier|Exponent, Value}` → value × 10^m; a plain number as is.
pub fn physical(v: &Value) -> Option<f32> {
    match v {
        Value::Number(n) => n.as_f64().map(|x| x as f32),
        Value::Object(map) => {
            let value = map.get("Value")?.as_f64()?;
            let exponent = map
                .get("Multiplier")
                .or_else(|| map.get("Exponent"))
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let exponent = i32::try_from(exponent.clamp(-20, 20)).unwrap_or(0);
            Some((value * 10f64.powi(exponent)) as f32)
        }
        _ => None,
    }
}

fn first_physical(fields: &Value, keys: &[&str]) -> Option<f32> {
    keys.iter().find_map(|k| find(fields, k).and_then(physical))
}

/// The charging values a message carries (fields it does not carry stay `None`).
pub fn charging_values(fields: &Value) -> ChargingValues {
    ChargingValues {
        soc: first_physical(fields, &["EVRESSSOC", "PresentSOC"]),
        target_voltage: first_physical(fields, &["EVTargetVoltage"]),
        target_current: first_physical(fields, &["EVTargetCurrent"]),
        present_voltage: first_physical(fields, &["EVSEPresentVoltage"]),
        present_current: first_physical(fields, &["EVSEPresentCurrent"]),
        evse_max_voltage: first_physical(
            fields,
            &[
                "EVSEMaximumVoltageLimit",
                "EVSEMaximumVoltage",
                "EVSEMaximumChargeVoltage",
            ],
        ),
        evse_max_current: first_physical(
            fields,
            &[
                "EVSEMaximumCurrentLimit",
                "EVSEMaximumCurrent",
                "EVSEMaximumChargeCurrent",
            ],
        ),
        evse_max_power: first_physical(
            fields,
            &[
                "EVSEMaximumPowerLimit",
                "EVSEMaximumPower",
                "EVSEMaximumChargePower",
            ],
        ),
    }
}

/// A V2G message reduced to what a person watching a session wants to see.
#[derive(Clone, Debug, PartialEq)]
pub struct V2gSummary {
    /// The message name (`CurrentDemandReq`, `supportedAppProtocolRes`, …).
    pub message: String,
    /// The phase it belongs to, if it is a session message.
    pub phase: Option<Phase>,
    /// The response code, if it is a response.
    pub response_code: Option<String>,
    /// The charging values it carries.
    pub values: ChargingValues,
    /// Other telling fields, in display order: EVSEProcessing, EVSEStatusCode when not
    /// ready, EVErrorCode when not NO_ERROR, isolation status, ReadyToChargeState /
    /// ChargeProgress, the protocols offered or the SchemaID chosen.
    pub notes: Vec<String>,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl V2gSummary {
    /// Summarises a message from its name and its serde JSON (the element's content).
    pub fn from_json(message: &str, fields: &Value) -> Self {
        let mut notes = Vec::new();
        if let Some(Value::Array(protocols)) = find(fields, "AppProtocol") {
            for p in protocols {
                let ns = p
                    .get("ProtocolNamespace")
                    .and_then(text)
                    .unwrap_or_default();
                let id = p.get("SchemaID").and_then(text).unwrap_or_default();
                let prio = p.get("Priority").and_then(text).unwrap_or_default();
                notes.push(format!("{ns}(id={id},prio={prio})"));
            }
        } else if message == "supportedAppProtocolRes"
            && let Some(id) = find(fields, "SchemaID").and_then(text)
        {
            notes.push(format!("SchemaID={id}"));
        }
        if let Some(p) = find(fields, "EVSEProcessing").and_then(text) {
            notes.push(p);
        }
        if let Some(s) = find(fields, "EVSEStatusCode").and_then(text)
            && s != "EVSE_Ready"
        {
            notes.push(s);
        } else if message.ends_with("Res") && find(fields, "EVSEStatusCode").is_some() {
            notes.push("EVSE_Ready".to_owned());
        }
        if let Some(e) = find(fields, "EVErrorCode").and_then(text)
            && e != "NO_ERROR"
        {
            notes.push(e);
        }
        if let Some(i) = find(fields, "EVSEIsolationStatus").and_then(text)
            && message.contains("CableCheck")
        {
            notes.push(format!("isolation={i}"));
        }
        if let Some(r) = find(fields, "ReadyToChargeState").and_then(text) {
            notes.push(format!("ReadyToCharge={r}"));
        }
        if let Some(p) = find(fields, "ChargeProgress").and_then(text) {
            notes.push(format!("ChargeProgress={p}"));
        }
        if let Some(c) = find(fields, "ChargingComplete").and_then(text)
            && c == "true"
        {
            notes.push("ChargingComplete".to_owned());
        }
        Self {
            message: message.to_owned(),
            phase: phase_of(message, fields),
            response_code: find(fields, "ResponseCode").and_then(text),
            values: charging_values(fields),
            notes,
        }
    }

    /// Summarises a DIN 70121 message as the session machines hold it.
    pub fn from_din(msg: &ccs_msg::din::V2G_Message) -> Option<Self> {
        Self::from_v2g_message(serde_json::to_value(msg).ok()?)
    }

    /// Summarises an ISO 15118-2 message as the session machines hold it.
    pub fn from_iso2(msg: &ccs_msg::iso2::V2G_Message) -> Option<Self> {
        Self::from_v2g_message(serde_json::to_value(msg).ok()?)
    }

    /// Summarises an ISO 15118-20 CommonMessages document.
    pub fn from_iso20_common(doc: &ccs_msg::iso20::common::Document) -> Option<Self> {
        Self::from_document(serde_json::to_value(doc).ok()?)
    }

    /// Summarises an ISO 15118-20 DC document.
    pub fn from_iso20_dc(doc: &ccs_msg::iso20::dc::Document) -> Option<Self> {
        Self::from_document(serde_json::to_value(doc).ok()?)
    }

    /// Summarises an app handshake document.
    pub fn from_app_handshake(doc: &ccs_msg::app_handshake::Document) -> Option<Self> {
        Self::from_document(serde_json::to_value(doc).ok()?)
    }

    /// `{"Body": {"Name": {...}}, "Header": …}` (DIN, ISO-2).
    fn from_v2g_message(v: Value) -> Option<Self> {
        Self::from_document(v.get("Body")?.clone())
    }

    /// `{"Name": {...}}` (ISO-20 documents, the app handshake, a DIN/ISO-2 body).
    fn from_document(v: Value) -> Option<Self> {
        let Value::Object(map) = v else { return None };
        let (name, fields) = map.into_iter().next()?;
        Some(Self::from_json(&name, &fields))
    }

    /// The checkpoint number of the message's phase.
    pub fn checkpoint(&self) -> Option<u16> {
        self.phase.map(Phase::checkpoint)
    }
}

impl fmt::Display for V2gSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(c) = self.checkpoint() {
            write!(f, "[{c}] ")?;
        }
        f.write_str(&self.message)?;
        if let Some(rc) = &self.response_code {
            write!(f, " {rc}")?;
        }
        let v = &self.values;
        let is_request = self.message.ends_with("Req");
        // The car's wish in requests, the charger's measurement in responses.
        let (u, i) = if is_request {
            (v.target_voltage, v.target_current)
        } else {
            (v.present_voltage, v.present_current)
        };
        if let Some(u) = u {
            write!(f, " U={u:.1}V")?;
        }
        if let Some(i) = i {
            write!(f, " I={i:.1}A")?;
        }
        if let Some(soc) = v.soc {
            write!(f, " SoC={soc:.0}%")?;
        }
        for note in &self.notes {
            write!(f, " {note}")?;
        }
        if let Some(u) = v.evse_max_voltage {
            write!(f, " Umax={u:.1}V")?;
        }
        if let Some(i) = v.evse_max_current {
            write!(f, " Imax={i:.1}A")?;
        }
        if let Some(p) = v.evse_max_power {
            write!(f, " Pmax={p:.0}W")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn din_charge_parameter_discovery_res() {
        let fields = json!({
            "DC_EVSEChargeParameter": {
                "DC_EVSEStatus": {"EVSEIsolationStatus": "Valid", "EVSEStatusCode": "EVSE_Ready"},
                "EVSEMaximumCurrentLimit": {"Multiplier": 0, "Value": 200},
                "EVSEMaximumPowerLimit": {"Multiplier": 3, "Value": 10},
                "EVSEMaximumVoltageLimit": {"Multiplier": 0, "Value": 450}
            },
            "EVSEProcessing": "Finished",
            "ResponseCode": "OK"
        });
        let s = V2gSummary::from_json("ChargeParameterDiscoveryRes", &fields);
        assert_eq!(
            s.to_string(),
            "[540] ChargeParameterDiscoveryRes OK Finished EVSE_Ready Umax=450.0V Imax=200.0A Pmax=10000W"
        );
    }

    #[test]
    fn iso20_rational_numbers_and_power_delivery_stop() {
        let fields = json!({
            "Header": {"SessionID": "01", "TimeStamp": 0},
            "EVSEPresentVoltage": {"Exponent": 0, "Value": 400},
            "EVSEPresentCurrent": {"Exponent": -1, "Value": 1234},
            "ResponseCode": "OK"
        });
        let s = V2gSummary::from_json("DC_ChargeLoopRes", &fields);
        assert_eq!(s.phase, Some(Phase::Charging));
        assert_eq!(s.to_string(), "[700] DC_ChargeLoopRes OK U=400.0V I=123.4A");
        let stop = V2gSummary::from_json("PowerDeliveryReq", &json!({"ChargeProgress": "Stop"}));
        assert_eq!(stop.checkpoint(), Some(806));
        let start = V2gSummary::from_json("PowerDeliveryReq", &json!({"ReadyToChargeState": true}));
        assert_eq!(start.checkpoint(), Some(590));
    }

    #[test]
    fn typed_din_message() {
        // A CurrentDemandReq of the Ioniq at 93 % (2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng).
        let hex = "809a02004080c1014181c210d100000ba0406014010285010004061a01e04070c84c0400c081e00604000040a1503c00";
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let msg = ccs_msg::din::decode(&bytes).unwrap();
        let s = V2gSummary::from_din(&msg).unwrap();
        assert_eq!(
            s.to_string(),
            "[700] CurrentDemandReq U=388.0V I=1.0A SoC=93%"
        );
    }

    #[test]
    fn handshake_lists_the_offered_protocols() {
        let req = json!({"AppProtocol": [
            {"ProtocolNamespace": "urn:din:70121:2012:MsgDef", "SchemaID": 1, "Priority": 1,
             "VersionNumberMajor": 2, "VersionNumberMinor": 0}]});
        assert_eq!(
            V2gSummary::from_json("supportedAppProtocolReq", &req).to_string(),
            "[400] supportedAppProtocolReq urn:din:70121:2012:MsgDef(id=1,prio=1)"
        );
        let res = json!({"ResponseCode": "OK_SuccessfulNegotiation", "SchemaID": 1});
        assert_eq!(
            V2gSummary::from_json("supportedAppProtocolRes", &res).to_string(),
            "[400] supportedAppProtocolRes OK_SuccessfulNegotiation SchemaID=1"
        );
    }
}
