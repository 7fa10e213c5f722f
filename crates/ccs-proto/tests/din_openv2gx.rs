//! Byte compatibility with pyPLC: every DIN and handshake row of
//! `vectors/openv2gx_encoder_outputs.tsv` is rebuilt with our message builders from the values
//! its OpenV2Gx command names (grammar: `reference/pyplc-behaviour.md` §9.1) and must give the
//! same bytes.
//!
//! Not reproduced: the `E1…` rows (ISO 15118-2:2013 responses of pyPLC's EVSE mode), because
//! this crate has no ISO 15118-2 machine yet; they are listed by `iso2_rows_are_the_only_gap`.
// Test helpers unwrap: a malformed vector is a test failure.
#![allow(clippy::unwrap_used)]

use ccs_msg::app_handshake::{Document, ResponseCodeType as AppCode, SupportedAppProtocolRes};
use ccs_msg::din::{self, DC_EVSEStatusCodeType, IsolationLevelType, ResponseCodeType as R};
use ccs_proto::session::din::values::{
    self, ChargeParameters, CurrentDemand, EvseDcParameters, PresentOutput,
};
use ccs_proto::session::{Protocol, ProtocolOffer, handshake};

/// pyPLC's charger SessionID (fixed in fsmEvse).
const PYPLC_SESSION_ID: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

/// `DC_EVSEStatusCodeType` by its schema index, as the OpenV2Gx command passes it.
fn status_code(index: &str) -> DC_EVSEStatusCodeType {
    use DC_EVSEStatusCodeType as C;
    let all = [
        C::EVSE_NotReady,
        C::EVSE_Ready,
        C::EVSE_Shutdown,
        C::EVSE_UtilityInterruptEvent,
        C::EVSE_IsolationMonitoringActive,
        C::EVSE_EmergencyShutdown,
        C::EVSE_Malfunction,
    ];
    all[index.parse::<usize>().unwrap()]
}

fn num(s: &str) -> f32 {
    s.parse::<f32>().unwrap()
}

fn soc(s: &str) -> u8 {
    s.parse::<u8>().unwrap()
}

/// Our bytes for one OpenV2Gx command; `None` = not a command we build.
fn build(command: &str) -> Option<Vec<u8>> {
    let schema = &command[1..2];
    let letter = &command[2..3];
    let params: Vec<&str> = command[3..].split('_').filter(|p| !p.is_empty()).collect();
    if schema == "h" {
        // Eh__<SchemaID>
        let res = SupportedAppProtocolRes {
            response_code: AppCode::OK_SuccessfulNegotiation,
            schema_id: Some(command[4..].parse().unwrap()),
        };
        return Some(Document::SupportedAppProtocolRes(res).encode().unwrap());
    }
    if schema == "H" {
        let offer = |protocol, priority, schema_id| ProtocolOffer {
            protocol,
            priority,
            schema_id,
        };
        let offers = match &command[4..] {
            "0" => vec![offer(Protocol::Din70121, 1, 0)],
            "1" => vec![offer(Protocol::Iso15118_2, 1, 0)],
            _ => vec![
                offer(Protocol::Din70121, 2, 0),
                offer(Protocol::Iso15118_2, 1, 1),
            ],
        };
        let doc = Document::SupportedAppProtocolReq(handshake::request(&offers));
        return Some(doc.encode().unwrap());
    }
    if schema != "D" {
        return None;
    }
    let sid_param = || ccs_testdata::hex(params[0]);
    let sid = PYPLC_SESSION_ID;
    let msg = match letter {
        "A" => values::session_setup_req(&ccs_testdata::hex(params[0])),
        "a" => values::session_setup_res(&sid, R::OK_NewSessionEstablished, b"ZZ00000"),
        "B" => values::service_discovery_req(&sid_param()),
        "b" => values::service_discovery_res(&sid, R::OK),
        "C" => values::service_payment_selection_req(&sid_param(), values::CHARGE_SERVICE_ID),
        "c" => values::service_payment_selection_res(&sid, R::OK),
        "L" => values::contract_authentication_req(&sid_param()),
        "l" => values::contract_authentication_res(&sid, R::OK, params[0] == "1"),
        "E" => values::charge_parameter_discovery_req(
            &sid_param(),
            &ChargeParameters::pyplc(soc(params[1])),
        ),
        "e" => values::charge_parameter_discovery_res(
            &sid,
            R::OK,
            true,
            values::dc_evse_status(
                Some(IsolationLevelType::Invalid),
                DC_EVSEStatusCodeType::EVSE_Ready,
            ),
            &EvseDcParameters::PYPLC,
        ),
        "F" => values::cable_check_req(&sid_param(), soc(params[1])),
        // pyPLC: `_1` = Ongoing, `_0` = Finished.
        "f" => values::cable_check_res(&sid, R::OK, params[0] == "0"),
        "G" => values::pre_charge_req(&sid_param(), soc(params[1]), num(params[2]), 1.0),
        "g" => values::pre_charge_res(
            &sid,
            R::OK,
            DC_EVSEStatusCodeType::EVSE_Ready,
            num(params[0]),
        ),
        "H" => values::power_delivery_req(&sid_param(), soc(params[1]), params[2] == "1"),
        "h" => values::power_delivery_res(&sid, R::OK, DC_EVSEStatusCodeType::EVSE_Ready),
        "I" => values::current_demand_req(
            &sid_param(),
            &CurrentDemand {
                soc: soc(params[1]),
                target_current: num(params[2]),
                target_voltage: num(params[3]),
                limits: None,
                charging_complete: false,
            },
        ),
        "i" => values::current_demand_res(
            &sid,
            R::OK,
            status_code(params[2]),
            &PresentOutput {
                voltage: num(params[0]),
                current: num(params[1]),
                current_limit_achieved: true,
                voltage_limit_achieved: false,
                power_limit_achieved: false,
            },
        ),
        "J" => values::welding_detection_req(&sid_param(), soc(params[1])),
        "j" => values::welding_detection_res(
            &sid,
            R::OK,
            DC_EVSEStatusCodeType::EVSE_NotReady,
            num(params[0]),
        ),
        "K" => values::session_stop_req(&sid_param()),
        "k" => values::session_stop_res(&sid, R::OK),
        _ => return None,
    };
    Some(din::encode(&msg).unwrap())
}

#[test]
fn every_din_and_handshake_row_is_reproduced_byte_for_byte() {
    let rows = ccs_testdata::read_tsv("vectors/openv2gx_encoder_outputs.tsv");
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for row in &rows {
        let command = row.get("command");
        let Some(ours) = build(command) else { continue };
        checked += 1;
        let expected = ccs_testdata::hex(row.get("hex"));
        if ours != expected {
            mismatches.push(format!(
                "{command}: ours {} expected {}",
                values::hex(&ours),
                row.get("hex")
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert_eq!(checked, 32, "DIN + handshake rows checked");
}

#[test]
fn iso2_rows_are_the_only_gap() {
    let rows = ccs_testdata::read_tsv("vectors/openv2gx_encoder_outputs.tsv");
    let skipped: Vec<&str> = rows
        .iter()
        .map(|r| r.get("command"))
        .filter(|c| build(c).is_none())
        .collect();
    assert!(!skipped.is_empty());
    for command in &skipped {
        assert!(command.starts_with("E1"), "{command} is not reproduced");
    }
    assert_eq!(skipped.len(), 13, "{skipped:?}");
}

#[test]
fn the_pyplc_car_handshake_is_the_ioniqs() {
    // pyPLC's car sends the Ioniq's request verbatim (DIN, SchemaID 1, priority 1); our default
    // offer gives the same bytes.
    let offers = ccs_proto::session::EvccConfig::default().protocols;
    let doc = Document::SupportedAppProtocolReq(handshake::request(&offers));
    assert_eq!(
        values::hex(&doc.encode().unwrap()),
        "8000dbab9371d3234b71d1b981899189d191818991d26b9b3a232b30020000040040"
    );
}
