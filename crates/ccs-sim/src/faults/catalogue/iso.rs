//! The DIN cases again for ISO 15118-2 and ISO 15118-20 DC, under the names `iso2-…` and
//! `iso20-…`: the charger refuses each step (a FAILED response code), withholds a response,
//! stalls, announces a shutdown, emergency shutdown or malfunction (ISO 15118-2) or a
//! Terminate/Pause notification (ISO 15118-20); the car sends a request out of sequence,
//! with a foreign SessionID, stalls, reports an error; either side resets the TCP connection
//! or the user stops, in each phase.

use ccs_proto::session::{Protocol, Role};

use super::super::peer::TamperAction::{
    EvRessMalfunction, EvseStatus, Resend, ResponseCode, Stall, Suppress, WrongSessionId,
};
use super::super::wire::{EvseNotice, Refusal as R};
use super::{
    Expected, FaultCase, HostEvent, LOST, MISBEHAVED, PHASES, REFUSED, Side, TIMEOUT, at,
    car_sends, case, charger_sends,
};

/// A request and its response, by name.
#[derive(Clone, Copy)]
struct Pair {
    req: &'static str,
    res: &'static str,
}

const fn pair(req: &'static str, res: &'static str) -> Pair {
    Pair { req, res }
}

const SESSION_SETUP: Pair = pair("SessionSetupReq", "SessionSetupRes");
const SERVICE_DISCOVERY: Pair = pair("ServiceDiscoveryReq", "ServiceDiscoveryRes");
const POWER_DELIVERY: Pair = pair("PowerDeliveryReq", "PowerDeliveryRes");
const SCHEDULE_EXCHANGE: Pair = pair("ScheduleExchangeReq", "ScheduleExchangeRes");

/// The names of one protocol's DC messages.
struct Names {
    protocol: Protocol,
    /// `iso2`, `iso20`.
    short: &'static str,
    /// ServicePaymentSelection (ISO 15118-2) or ServiceSelection (-20).
    selection: Pair,
    /// Authorization (-2) or AuthorizationSetup (-20), the first authorization step.
    authorization: Pair,
    charge_parameter: Pair,
    cable_check: Pair,
    pre_charge: Pair,
    /// CurrentDemand (-2) or DC_ChargeLoop (-20).
    charge_loop: Pair,
}

const ISO2: Names = Names {
    protocol: Protocol::Iso15118_2,
    short: "iso2",
    selection: pair("PaymentServiceSelectionReq", "PaymentServiceSelectionRes"),
    authorization: pair("AuthorizationReq", "AuthorizationRes"),
    charge_parameter: pair("ChargeParameterDiscoveryReq", "ChargeParameterDiscoveryRes"),
    cable_check: pair("CableCheckReq", "CableCheckRes"),
    pre_charge: pair("PreChargeReq", "PreChargeRes"),
    charge_loop: pair("CurrentDemandReq", "CurrentDemandRes"),
};

const ISO20: Names = Names {
    protocol: Protocol::Iso15118_20Dc,
    short: "iso20",
    selection: pair("ServiceSelectionReq", "ServiceSelectionRes"),
    authorization: pair("AuthorizationSetupReq", "AuthorizationSetupRes"),
    charge_parameter: pair(
        "DC_ChargeParameterDiscoveryReq",
        "DC_ChargeParameterDiscoveryRes",
    ),
    cable_check: pair("DC_CableCheckReq", "DC_CableCheckRes"),
    pre_charge: pair("DC_PreChargeReq", "DC_PreChargeRes"),
    charge_loop: pair("DC_ChargeLoopReq", "DC_ChargeLoopRes"),
};

/// Every ISO 15118-2 and ISO 15118-20 case.
pub(super) fn iso_cases(out: &mut Vec<FaultCase>) {
    for names in [ISO2, ISO20] {
        let mut cases = Vec::new();
        charger_misbehaves(&names, &mut cases);
        car_misbehaves(&names, &mut cases);
        host_cases(&names, &mut cases);
        super::current_does_not_fall(&mut cases);
        for mut c in cases {
            c.name = format!("{}-{}", names.short, c.name);
            c.description = format!("{} ({})", c.description, names.protocol);
            c.protocol = names.protocol;
            out.push(c);
        }
    }
}

/// Our car against a charger that refuses, withholds, stalls or announces a stop.
fn charger_misbehaves(n: &Names, out: &mut Vec<FaultCase>) {
    let mut refusals = vec![
        ("session-setup", SESSION_SETUP, 0, R::SequenceError),
        ("service-discovery", SERVICE_DISCOVERY, 0, R::SequenceError),
        (
            "service-selection",
            n.selection,
            0,
            R::ServiceSelectionInvalid,
        ),
        ("authorization", n.authorization, 0, R::Failed),
        ("charge-parameter", n.charge_parameter, 0, R::Failed),
        ("cable-check", n.cable_check, 0, R::Failed),
        ("pre-charge", n.pre_charge, 0, R::Failed),
        ("power-delivery", POWER_DELIVERY, 0, R::Failed),
        ("charge-loop", n.charge_loop, 10, R::Failed),
    ];
    if n.protocol == Protocol::Iso15118_20Dc {
        refusals.push(("schedule-exchange", SCHEDULE_EXCHANGE, 0, R::Failed));
    }
    for (step, stem, after, refusal) in refusals {
        out.push(case(
            format!("{step}-refused"),
            format!("the charger answers {} with {}", stem.res, refusal.name()),
            Role::Evcc,
            charger_sends(stem.res, after, ResponseCode(refusal)),
            REFUSED,
        ));
    }
    for (step, stem, after) in [
        ("cable-check", n.cable_check, 0),
        ("pre-charge", n.pre_charge, 0),
        ("power-delivery", POWER_DELIVERY, 0),
        ("charge-loop", n.charge_loop, 30),
    ] {
        out.push(case(
            format!("no-{step}-res"),
            format!(
                "the charger never answers {} (after {after} answers)",
                stem.req
            ),
            Role::Evcc,
            charger_sends(stem.res, after, Suppress),
            TIMEOUT,
        ));
    }
    let notices: Vec<(&str, Pair, u32, EvseNotice, Expected)> = match n.protocol {
        Protocol::Iso15118_2 => vec![
            (
                "pre-charge-evse-shutdown",
                n.pre_charge,
                0,
                EvseNotice::Shutdown,
                Expected::Completes,
            ),
            (
                "charge-loop-evse-shutdown",
                n.charge_loop,
                20,
                EvseNotice::Shutdown,
                Expected::Completes,
            ),
            (
                "charge-loop-stop-charging",
                n.charge_loop,
                20,
                EvseNotice::StopCharging,
                Expected::Completes,
            ),
            (
                "charge-loop-evse-emergency-shutdown",
                n.charge_loop,
                5,
                EvseNotice::EmergencyShutdown,
                REFUSED,
            ),
            (
                "charge-loop-evse-malfunction",
                n.charge_loop,
                5,
                EvseNotice::Malfunction,
                REFUSED,
            ),
            (
                "pre-charge-evse-malfunction",
                n.pre_charge,
                0,
                EvseNotice::Malfunction,
                REFUSED,
            ),
        ],
        _ => vec![
            (
                "charge-loop-terminate",
                n.charge_loop,
                20,
                EvseNotice::Terminate,
                Expected::Completes,
            ),
            (
                "charge-loop-pause",
                n.charge_loop,
                20,
                EvseNotice::Pause,
                Expected::Completes,
            ),
        ],
    };
    for (label, stem, after, notice, expected) in notices {
        out.push(case(
            label,
            format!("{} says {notice:?} (after {after} normal ones)", stem.res),
            Role::Evcc,
            charger_sends(stem.res, after, EvseStatus(notice)),
            expected,
        ));
    }
    for (step, stem, after) in [
        ("cable-check", n.cable_check, 1),
        ("charging", n.charge_loop, 20),
    ] {
        out.push(case(
            format!("charger-stalls-{step}"),
            format!(
                "the charger stops sending at {} (no answer, no close)",
                stem.res
            ),
            Role::Evcc,
            charger_sends(stem.res, after, Stall),
            TIMEOUT,
        ));
    }
}

/// Our charger against a car that sends out of sequence, with a foreign SessionID, stalls or
/// reports an error.
fn car_misbehaves(n: &Names, out: &mut Vec<FaultCase>) {
    for (step, instead_of, after, earlier) in [
        ("cable-check", n.cable_check, 0, SERVICE_DISCOVERY),
        ("pre-charge", n.pre_charge, 0, n.cable_check),
        ("power-delivery", POWER_DELIVERY, 0, n.cable_check),
        ("charge-loop", n.charge_loop, 10, n.pre_charge),
    ] {
        let mut c = case(
            format!("car-sequence-error-{step}"),
            format!(
                "the car sends {} again instead of {}: FAILED_SequenceError",
                earlier.req, instead_of.req
            ),
            Role::Secc,
            car_sends(instead_of.req, after, Resend(earlier.req)),
            MISBEHAVED,
        );
        c.answer = Some((earlier.res, R::SequenceError.name()));
        out.push(c);
    }
    for (step, stem, after) in [
        ("service-discovery", SERVICE_DISCOVERY, 0),
        ("cable-check", n.cable_check, 0),
        ("charge-loop", n.charge_loop, 5),
    ] {
        let mut c = case(
            format!("car-unknown-session-{step}"),
            format!(
                "the car sends {} with a SessionID it was never given: FAILED_UnknownSession",
                stem.req
            ),
            Role::Secc,
            car_sends(stem.req, after, WrongSessionId),
            MISBEHAVED,
        );
        c.answer = Some((stem.res, R::UnknownSession.name()));
        out.push(c);
    }
    for (step, stem, after) in [
        ("service-discovery", SERVICE_DISCOVERY, 0),
        ("pre-charge", n.pre_charge, 0),
        ("charge-loop", n.charge_loop, 30),
    ] {
        out.push(case(
            format!("car-stalls-{step}"),
            format!(
                "the car stops sending (no {}, no close): V2G_SECC_Sequence_Timeout, power off",
                stem.req
            ),
            Role::Secc,
            car_sends(stem.req, after, Stall),
            TIMEOUT,
        ));
    }
    if n.protocol == Protocol::Iso15118_2 {
        for (step, stem, after) in [
            ("pre-charge", n.pre_charge, 0),
            ("charge-loop", n.charge_loop, 10),
        ] {
            out.push(case(
                format!("car-error-{step}"),
                format!(
                    "{} reports EVReady=false and FAILED_EVRESSMalfunction: the charger switches off",
                    stem.req
                ),
                Role::Secc,
                car_sends(stem.req, after, EvRessMalfunction),
                Expected::Completes,
            ));
        }
    }
}

/// A TCP reset by either side and a stop request at either side, in each phase.
fn host_cases(_: &Names, out: &mut Vec<FaultCase>) {
    let ev = Side::Ev;
    let evse = Side::Evse(0);
    for (phase, label) in PHASES {
        out.push(case(
            format!("tcp-reset-{label}"),
            format!("the charger resets the TCP connection in {phase:?}"),
            Role::Evcc,
            at(ev, phase, evse, HostEvent::TcpReset),
            LOST,
        ));
        out.push(case(
            format!("tcp-reset-by-car-{label}"),
            format!("the car resets the TCP connection in {phase:?}"),
            Role::Secc,
            at(ev, phase, ev, HostEvent::TcpReset),
            LOST,
        ));
        out.push(case(
            format!("car-stop-{label}"),
            format!("the user stops charging at the car in {phase:?}"),
            Role::Evcc,
            at(ev, phase, ev, HostEvent::StopRequest),
            Expected::Completes,
        ));
        out.push(case(
            format!("charger-stop-{label}"),
            format!("the user stops charging at the charger in {phase:?}"),
            Role::Secc,
            at(ev, phase, evse, HostEvent::StopRequest),
            Expected::Completes,
        ));
    }
}
