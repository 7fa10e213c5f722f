//! The named fault cases. pyPLC's sixteen (its `mytestsuite.py`, for the car against a
//! misbehaving charger) come first under their pyPLC numbers (where pyPLC waits for the third
//! PreChargeRes, we hit the first: the simulated charger matches the battery voltage in one
//! or two rounds), then their mirror for our
//! charger against a misbehaving car, then the link, host and hardware faults.

use ccs_proto::session::{Phase, Protocol, Role};
use ccs_proto::time::Duration;

mod iso;

use super::peer::{Tamper, TamperAction};
use super::wire::{EvseNotice, Refusal as R};
use super::{Blame, Expected, FaultCase, HostEvent, Injection, SlacFrameFault, Trigger};
use crate::world::Side;

/// HomePlug MMTYPEs of the SLAC exchange as the hosts send them (ISO 15118-3 Table A.1 and
/// HomePlug GP §11.5), with our short names.
const SLAC_FRAMES: [(u16, &str, &str); 9] = [
    (0x6064, "slac-parm-req", "CM_SLAC_PARM.REQ (car)"),
    (0x6065, "slac-parm-cnf", "CM_SLAC_PARM.CNF (charger)"),
    (0x606a, "start-atten-char", "CM_START_ATTEN_CHAR.IND (car)"),
    (0x6076, "mnbc-sound", "CM_MNBC_SOUND.IND (car)"),
    (0x606e, "atten-char-ind", "CM_ATTEN_CHAR.IND (charger)"),
    (0x606f, "atten-char-rsp", "CM_ATTEN_CHAR.RSP (car)"),
    (0x607c, "slac-match-req", "CM_SLAC_MATCH.REQ (car)"),
    (0x607d, "slac-match-cnf", "CM_SLAC_MATCH.CNF (charger)"),
    (0x6008, "set-key-req", "CM_SET_KEY.REQ (host to its modem)"),
];

const PHASES: [(Phase, &str); 7] = [
    (Phase::SessionSetup, "session-setup"),
    (Phase::ServiceSelection, "service-selection"),
    (Phase::ChargeParameterDiscovery, "charge-parameter"),
    (Phase::CableCheck, "cable-check"),
    (Phase::PreCharge, "pre-charge"),
    (Phase::Charging, "charging"),
    (Phase::WeldingDetection, "welding-detection"),
];

fn case(
    name: impl Into<String>,
    description: impl Into<String>,
    under_test: Role,
    injection: Injection,
    expected: Expected,
) -> FaultCase {
    FaultCase {
        name: name.into(),
        description: description.into(),
        under_test,
        protocol: Protocol::Din70121,
        injection,
        expected,
        answer: None,
        expects_open_under_load: false,
    }
}

fn charger_sends(message: &'static str, after: u32, action: TamperAction) -> Injection {
    Injection::Charger(Tamper {
        message,
        after,
        action,
    })
}

fn car_sends(message: &'static str, after: u32, action: TamperAction) -> Injection {
    Injection::Car(Tamper {
        message,
        after,
        action,
    })
}

fn at(side: Side, phase: Phase, on: Side, event: HostEvent) -> Injection {
    Injection::At {
        trigger: Trigger {
            side,
            phase,
            delay: if phase == Phase::Charging {
                Duration::from_secs(1)
            } else {
                Duration::ZERO
            },
        },
        on,
        event,
    }
}

const REFUSED: Expected = Expected::Fails(&[Blame::PeerRefused]);
const TIMEOUT: Expected = Expected::Fails(&[Blame::Timeout]);
const MISBEHAVED: Expected = Expected::Fails(&[Blame::PeerMisbehaved]);
const LOST: Expected = Expected::Fails(&[Blame::ConnectionLost]);

/// pyPLC's test cases 1–16 (`reference/pyplc-behaviour.md` §12), for our car.
fn pyplc_cases(out: &mut Vec<FaultCase>) {
    use TamperAction::{EvseStatus, ResponseCode, Suppress};
    let rows: [(&str, &str, Injection, Expected); 16] = [
        (
            "session-setup-sequence-error",
            "SessionSetupRes with FAILED_SequenceError",
            charger_sends("SessionSetupRes", 0, ResponseCode(R::SequenceError)),
            REFUSED,
        ),
        (
            "cable-check-failed",
            "CableCheckRes FAILED",
            charger_sends("CableCheckRes", 0, ResponseCode(R::Failed)),
            REFUSED,
        ),
        (
            "service-discovery-sequence-error",
            "ServiceDiscoveryRes FAILED_SequenceError",
            charger_sends("ServiceDiscoveryRes", 0, ResponseCode(R::SequenceError)),
            REFUSED,
        ),
        (
            "payment-selection-sequence-error",
            "ServicePaymentSelectionRes FAILED_SequenceError",
            charger_sends(
                "ServicePaymentSelectionRes",
                0,
                ResponseCode(R::SequenceError),
            ),
            REFUSED,
        ),
        (
            "contract-authentication-sequence-error",
            "ContractAuthenticationRes FAILED_SequenceError",
            charger_sends(
                "ContractAuthenticationRes",
                0,
                ResponseCode(R::SequenceError),
            ),
            REFUSED,
        ),
        (
            "charge-parameter-service-selection-invalid",
            "ChargeParameterDiscoveryRes FAILED_ServiceSelectionInvalid",
            charger_sends(
                "ChargeParameterDiscoveryRes",
                0,
                ResponseCode(R::ServiceSelectionInvalid),
            ),
            REFUSED,
        ),
        (
            "pre-charge-failed",
            "PreChargeRes FAILED",
            charger_sends("PreChargeRes", 0, ResponseCode(R::Failed)),
            REFUSED,
        ),
        (
            "power-delivery-failed",
            "PowerDeliveryRes (start) FAILED",
            charger_sends("PowerDeliveryRes", 0, ResponseCode(R::Failed)),
            REFUSED,
        ),
        (
            "current-demand-failed",
            "the 11th CurrentDemandRes FAILED",
            charger_sends("CurrentDemandRes", 10, ResponseCode(R::Failed)),
            REFUSED,
        ),
        (
            "no-cable-check-res",
            "the charger never answers CableCheckReq",
            charger_sends("CableCheckRes", 0, Suppress),
            TIMEOUT,
        ),
        (
            "no-pre-charge-res",
            "the charger never answers PreChargeReq",
            charger_sends("PreChargeRes", 0, Suppress),
            TIMEOUT,
        ),
        (
            "pre-charge-evse-shutdown",
            "PreChargeRes says EVSE_Shutdown (a normal stop)",
            charger_sends("PreChargeRes", 0, EvseStatus(EvseNotice::Shutdown)),
            Expected::Completes,
        ),
        (
            "current-demand-evse-shutdown",
            "the 21st CurrentDemandRes says EVSE_Shutdown (a normal stop)",
            charger_sends("CurrentDemandRes", 20, EvseStatus(EvseNotice::Shutdown)),
            Expected::Completes,
        ),
        (
            "current-demand-evse-malfunction",
            "the 6th CurrentDemandRes says EVSE_Malfunction",
            charger_sends("CurrentDemandRes", 5, EvseStatus(EvseNotice::Malfunction)),
            REFUSED,
        ),
        (
            "no-current-demand-res",
            "the charger stops answering after 30 CurrentDemandReqs",
            charger_sends("CurrentDemandRes", 30, Suppress),
            TIMEOUT,
        ),
        (
            "good-case",
            "no fault: the whole session",
            Injection::None,
            Expected::Completes,
        ),
    ];
    for (n, (name, description, injection, expected)) in rows.into_iter().enumerate() {
        out.push(case(
            format!("pyplc-{:02}-{name}", n + 1),
            format!("pyPLC test case {}: {description}", n + 1),
            Role::Evcc,
            injection,
            expected,
        ));
    }
}

/// The mirror for our charger: a car that sends requests out of sequence, with a foreign
/// SessionID, that stops sending, or that reports an error.
fn car_misbehaves(out: &mut Vec<FaultCase>) {
    use TamperAction::{EvRessMalfunction, Resend, Stall, WrongSessionId};
    let sequence: [(&str, &'static str, u32, &'static str, &'static str); 8] = [
        (
            "service-discovery",
            "ServiceDiscoveryReq",
            0,
            "SessionSetupReq",
            "SessionSetupRes",
        ),
        (
            "payment-selection",
            "ServicePaymentSelectionReq",
            0,
            "ServiceDiscoveryReq",
            "ServiceDiscoveryRes",
        ),
        (
            "contract-authentication",
            "ContractAuthenticationReq",
            0,
            "ServicePaymentSelectionReq",
            "ServicePaymentSelectionRes",
        ),
        (
            "charge-parameter",
            "ChargeParameterDiscoveryReq",
            0,
            "ServiceDiscoveryReq",
            "ServiceDiscoveryRes",
        ),
        (
            "cable-check",
            "CableCheckReq",
            0,
            "ContractAuthenticationReq",
            "ContractAuthenticationRes",
        ),
        (
            "pre-charge",
            "PreChargeReq",
            0,
            "CableCheckReq",
            "CableCheckRes",
        ),
        (
            "power-delivery",
            "PowerDeliveryReq",
            0,
            "CableCheckReq",
            "CableCheckRes",
        ),
        (
            "current-demand",
            "CurrentDemandReq",
            10,
            "PreChargeReq",
            "PreChargeRes",
        ),
    ];
    for (name, instead_of, after, earlier, response) in sequence {
        let mut c = case(
            format!("car-sequence-error-{name}"),
            format!("the car sends {earlier} again instead of {instead_of}: FAILED_SequenceError"),
            Role::Secc,
            car_sends(instead_of, after, Resend(earlier)),
            MISBEHAVED,
        );
        c.answer = Some((response, R::SequenceError.name()));
        out.push(c);
    }
    for (name, message, after, response) in [
        (
            "session-setup",
            "ServiceDiscoveryReq",
            0,
            "ServiceDiscoveryRes",
        ),
        ("cable-check", "CableCheckReq", 0, "CableCheckRes"),
        ("current-demand", "CurrentDemandReq", 5, "CurrentDemandRes"),
    ] {
        let mut c = case(
            format!("car-unknown-session-{name}"),
            format!(
                "the car sends {message} with a SessionID it was never given: FAILED_UnknownSession"
            ),
            Role::Secc,
            car_sends(message, after, WrongSessionId),
            MISBEHAVED,
        );
        c.answer = Some((response, R::UnknownSession.name()));
        out.push(c);
    }
    for (name, message, after) in [
        ("service-discovery", "ServiceDiscoveryReq", 0),
        ("cable-check", "CableCheckReq", 1),
        ("pre-charge", "PreChargeReq", 0),
        ("current-demand", "CurrentDemandReq", 30),
    ] {
        out.push(case(
            format!("car-stalls-{name}"),
            format!("the car stops sending (no {message}, no close): V2G_SECC_Sequence_Timeout, power off"),
            Role::Secc,
            car_sends(message, after, Stall),
            TIMEOUT,
        ));
    }
    for (name, message, after) in [
        ("pre-charge", "PreChargeReq", 0),
        ("current-demand", "CurrentDemandReq", 10),
    ] {
        out.push(case(
            format!("car-error-{name}"),
            format!("{message} reports EVReady=false and FAILED_EVRESSMalfunction: the charger switches off and answers EVSE_Shutdown"),
            Role::Secc,
            car_sends(message, after, EvRessMalfunction),
            Expected::Completes,
        ));
    }
    out.push(case(
        "charger-stalls-cable-check",
        "the charger stops sending in CableCheck (no answer, no close)",
        Role::Evcc,
        charger_sends("CableCheckRes", 1, Stall),
        TIMEOUT,
    ));
    out.push(case(
        "charger-stalls-charging",
        "the charger stops sending in the charging loop (no answer, no close)",
        Role::Evcc,
        charger_sends("CurrentDemandRes", 20, Stall),
        TIMEOUT,
    ));
}

/// Lost and duplicated SLAC frames.
fn slac_cases(out: &mut Vec<FaultCase>) {
    for (mmtype, name, what) in SLAC_FRAMES {
        out.push(case(
            format!("slac-lose-first-{name}"),
            format!("the first {what} is lost on the line: SLAC retries"),
            Role::Evcc,
            Injection::Slac {
                mmtype,
                fault: SlacFrameFault::LoseFirst(1),
            },
            Expected::Completes,
        ));
        out.push(case(
            format!("slac-duplicate-{name}"),
            format!("every {what} arrives twice"),
            Role::Evcc,
            Injection::Slac {
                mmtype,
                fault: SlacFrameFault::DuplicateAll,
            },
            Expected::Completes,
        ));
    }
    for (mmtype, name, what) in [SLAC_FRAMES[0], SLAC_FRAMES[7]] {
        out.push(case(
            format!("slac-lose-all-{name}"),
            format!("every {what} is lost: SLAC gives up, nothing is powered"),
            Role::Evcc,
            Injection::Slac {
                mmtype,
                fault: SlacFrameFault::LoseAll,
            },
            Expected::LinkFails,
        ));
    }
}

/// Connection, modem, stream and hardware faults, and stop requests, in each phase.
fn host_cases(out: &mut Vec<FaultCase>) {
    let ev = Side::Ev;
    let evse = Side::Evse(0);
    for (phase, name) in PHASES {
        out.push(case(
            format!("tcp-reset-{name}"),
            format!("the charger resets the TCP connection in {phase:?}"),
            Role::Evcc,
            at(ev, phase, evse, HostEvent::TcpReset),
            LOST,
        ));
        out.push(case(
            format!("car-stop-{name}"),
            format!("the user stops charging at the car in {phase:?}"),
            Role::Evcc,
            at(ev, phase, ev, HostEvent::StopRequest),
            Expected::Completes,
        ));
        out.push(case(
            format!("charger-stop-{name}"),
            format!("the user stops charging at the charger in {phase:?}"),
            Role::Secc,
            at(ev, phase, evse, HostEvent::StopRequest),
            Expected::Completes,
        ));
    }
    out.push(case(
        "tcp-reset-by-car-charging",
        "the car resets the TCP connection while charging",
        Role::Secc,
        at(ev, Phase::Charging, ev, HostEvent::TcpReset),
        LOST,
    ));
    out.push(case(
        "modem-reboot-car-charging",
        "the car's modem reboots while charging (the link is gone for about a second)",
        Role::Evcc,
        at(ev, Phase::Charging, ev, HostEvent::ModemReboot),
        TIMEOUT,
    ));
    out.push(case(
        "modem-reboot-charger-charging",
        "the charger's modem reboots while charging",
        Role::Evcc,
        at(ev, Phase::Charging, evse, HostEvent::ModemReboot),
        TIMEOUT,
    ));
    out.push(case(
        "modem-reboot-car-service-selection",
        "the car's modem reboots before charging: TCP rides through within V2G_EVCC_Msg_Timeout",
        Role::Evcc,
        at(ev, Phase::ServiceSelection, ev, HostEvent::ModemReboot),
        Expected::Completes,
    ));
    for (who, on, under_test, other) in [
        ("charger", evse, Role::Evcc, "car"),
        ("car", ev, Role::Secc, "charger"),
    ] {
        out.push(case(
            format!("stream-cut-by-{who}"),
            format!("the {who} cuts the V2GTP stream inside a message while charging: the {other} sees a broken connection"),
            under_test,
            at(ev, Phase::Charging, on, HostEvent::StreamCut),
            LOST,
        ));
        out.push(case(
            format!("oversize-from-{who}"),
            format!(
                "the {who} announces a 2 GB V2GTP message: the {other} closes without allocating it"
            ),
            under_test,
            at(ev, Phase::Charging, on, HostEvent::Oversize),
            LOST,
        ));
        out.push(case(
            format!("bad-header-from-{who}"),
            format!("the {who} sends a V2GTP header with a wrong protocol version"),
            under_test,
            at(ev, Phase::Charging, on, HostEvent::BadHeader),
            LOST,
        ));
        out.push(case(
            format!("garbage-from-{who}"),
            format!("the {who} sends a well-framed V2GTP message whose EXI is garbage"),
            under_test,
            at(ev, Phase::Charging, on, HostEvent::Garbage),
            Expected::Fails(&[Blame::InvalidMessage, Blame::PeerMisbehaved]),
        ));
    }
    for (who, on, under_test) in [("car", ev, Role::Evcc), ("charger", evse, Role::Secc)] {
        out.push(case(
            format!("adapter-lost-{who}"),
            format!("the {who}'s hardware adapter reports its connection lost while charging (MQTT broker gone)"),
            under_test,
            at(ev, Phase::Charging, on, HostEvent::AdapterLost),
            Expected::Fails(&[Blame::Hardware]),
        ));
        out.push(case(
            format!("adapter-silent-{who}"),
            format!("the {who}'s hardware stops reporting while charging, without saying so (stale inputs)"),
            under_test,
            at(ev, Phase::Charging, on, HostEvent::AdapterSilent),
            Expected::Fails(&[Blame::Hardware, Blame::Physical]),
        ));
    }
}

/// The charger's current does not fall after the car stops (a stuck power stage): the car
/// opens after `current_fall_timeout` anyway, says it opened under load, and keeps the
/// connector locked while the stuck output stays live.
fn current_does_not_fall(out: &mut Vec<FaultCase>) {
    let mut c = case(
        "charger-current-does-not-fall",
        "the charger's power stage sticks and keeps driving current after the user stops at the car: the car opens after current_fall_timeout, reports opening under load, and keeps the connector locked on the live output",
        Role::Evcc,
        at(
            Side::Ev,
            Phase::Charging,
            Side::Ev,
            HostEvent::ChargerKeepsCurrent,
        ),
        Expected::Fails(&[Blame::Physical]),
    );
    c.expects_open_under_load = true;
    out.push(c);
}

/// Every case, in a fixed order.
pub fn catalogue() -> Vec<FaultCase> {
    let mut out = Vec::new();
    pyplc_cases(&mut out);
    car_misbehaves(&mut out);
    slac_cases(&mut out);
    host_cases(&mut out);
    current_does_not_fall(&mut out);
    iso::iso_cases(&mut out);
    out
}
