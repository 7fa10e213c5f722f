//! The ISO 15118-20 charger against a car whose values are hostile or change under way: what
//! the car sends must never panic the charger or reach the power supply unchecked, the car's
//! limits bound every set-point, the cable check needs a verdict at the test voltage, and the
//! isolation monitor is watched while the output is live. Our car against our charger with the physics of ccs-sim under a virtual clock; the
//! car's requests are rewritten on the wire.

#[path = "din_support/mod.rs"]
mod din_support;

use ccs_msg::iso20::dc;
use ccs_msg::iso20::types::{RationalNumberType, ResponseCodeType};
use ccs_proto::hardware::{
    HardwareCommand, IsolationStatus, Measurement, PowerSupplySetpoint, Volts,
};
use ccs_proto::session::iso20::ControlMode;
use ccs_proto::session::iso20::values::{Message, MessageKind};
use ccs_proto::session::{
    EvccConfig, Outcome, Protocol, ProtocolOffer, SeccConfig, SessionError, SessionEvent,
};
use ccs_proto::time::Duration;
use ccs_sim::physics::{IsolationConfig, IsolationMonitor, PlantConfig};
use din_support::{Fate, Pair, Side};

fn car(protocol: Protocol, mode: ControlMode, charge_secs: u64) -> EvccConfig {
    let mut c = EvccConfig::default();
    c.protocols = vec![ProtocolOffer {
        protocol,
        priority: 1,
        schema_id: 1,
    }];
    c.iso20.control_mode = mode;
    c.charge_duration = Some(Duration::from_secs(charge_secs));
    c.iso20.allow_without_tls = true;
    c
}

fn charger(protocol: Protocol) -> SeccConfig {
    let mut c = SeccConfig::default();
    c.protocols = vec![protocol];
    c.iso20.allow_without_tls = true;
    c
}

fn dc_pair(mode: ControlMode) -> Pair {
    Pair::new(
        car(Protocol::Iso15118_20Dc, mode, 10),
        charger(Protocol::Iso15118_20Dc),
        PlantConfig::default(),
    )
}

fn rational(value: i16, exponent: i8) -> RationalNumberType {
    RationalNumberType { exponent, value }
}

/// Rewrites the car's requests named `name` with `change` (the first `n` of them).
fn rewrite(
    p: &mut Pair,
    name: &'static str,
    n: usize,
    mut change: impl FnMut(&mut Message) + 'static,
) {
    let mut done = 0;
    p.filter = Some(Box::new(move |side, bytes| {
        if done >= n || side != Side::Car {
            return Fate::Deliver;
        }
        // A DC message may also decode in the CommonMessages grammar: match the name.
        let Some((pt, mut msg)) = [
            ccs_proto::v2gtp::PayloadType::Iso20Mainstream,
            ccs_proto::v2gtp::PayloadType::Iso20Dc,
        ]
        .into_iter()
        .filter_map(|pt| Message::decode(pt, bytes).ok().map(|m| (pt, m)))
        .find(|(_, m)| m.request_kind().map(MessageKind::request_name) == Some(name)) else {
            return Fate::Deliver;
        };
        done += 1;
        change(&mut msg);
        let (encoded_pt, bytes) = msg.encode().expect("encodes");
        assert_eq!(encoded_pt, pt);
        Fate::Replace(bytes)
    }));
}

/// The charger's power supply commands, in order.
fn supply_commands(p: &Pair) -> Vec<PowerSupplySetpoint> {
    p.charger_commands
        .iter()
        .filter_map(|(_, c)| match c {
            HardwareCommand::PowerSupply(s) => Some(*s),
            _ => None,
        })
        .collect()
}

/// The responses the car received named `name`, as summaries.
fn responses(p: &Pair, name: &str) -> Vec<String> {
    p.car_events
        .iter()
        .filter_map(|(_, e)| match e {
            SessionEvent::Received { name: n, summary } if *n == name => Some(summary.clone()),
            _ => None,
        })
        .collect()
}

/// The session ended with `response` refused as `code`, the charger failed with `blame`, every
/// set-point was finite, and the output was switched off at the end.
fn assert_refused_with_output_off(
    p: &Pair,
    response: &str,
    code: ResponseCodeType,
    blame: fn(&SessionError) -> bool,
) {
    let got = responses(p, response);
    let code = format!("{code:?}");
    assert!(
        got.last().is_some_and(|s| s.starts_with(&code)),
        "{response}: {got:?}"
    );
    match p.charger_outcome() {
        Some(Outcome::Failed(e)) => assert!(blame(&e), "{e:?}"),
        other => panic!("charger: {other:?}"),
    }
    assert!(matches!(p.car_outcome(), Some(Outcome::Failed(_))));
    let supply = supply_commands(p);
    assert!(
        supply
            .iter()
            .all(|s| s.voltage.0.is_finite() && s.current.0.is_finite()),
        "{supply:?}"
    );
    assert_eq!(supply.last(), Some(&PowerSupplySetpoint::OFF));
    assert!(!p.plant.contactors_closed());
}

fn peer_misbehaved(e: &SessionError) -> bool {
    matches!(e, SessionError::PeerMisbehaved(_))
}

#[test]
fn a_negative_ev_maximum_charge_current_is_refused_in_charge_parameter_discovery() {
    // f32::clamp(0, -1) panics: before the check this panicked in the first DC_ChargeLoopReq
    // with the contactors closed.
    let mut p = dc_pair(ControlMode::Scheduled);
    rewrite(&mut p, "DC_ChargeParameterDiscoveryReq", 1, |m| {
        if let Message::Dc(dc::Document::DC_ChargeParameterDiscoveryReq(r)) = m
            && let dc::DC_CPDReqEnergyTransferMode::DC_CPDReqEnergyTransferMode(t) =
                &mut r.dc_cpd_req_energy_transfer_mode
        {
            t.ev_maximum_charge_current = rational(-1, 0);
        }
    });
    p.connect();
    assert!(p.run(Duration::from_secs(60)));
    assert_refused_with_output_off(
        &p,
        "DC_ChargeParameterDiscoveryRes",
        ResponseCodeType::FAILED_WrongChargeParameter,
        peer_misbehaved,
    );
    assert!(!p.sent(Side::Car).contains(&"DC_ChargeLoopReq"));
}

#[test]
fn bpt_discharge_limits_that_are_not_finite_are_refused() {
    let mut p = Pair::new(
        car(Protocol::Iso15118_20DcBpt, ControlMode::Dynamic, 10),
        charger(Protocol::Iso15118_20DcBpt),
        PlantConfig::default(),
    );
    rewrite(&mut p, "DC_ChargeParameterDiscoveryReq", 1, |m| {
        if let Message::Dc(dc::Document::DC_ChargeParameterDiscoveryReq(r)) = m
            && let dc::DC_CPDReqEnergyTransferMode::BPT_DC_CPDReqEnergyTransferMode(t) =
                &mut r.dc_cpd_req_energy_transfer_mode
        {
            t.ev_maximum_discharge_current = rational(1, 40);
        }
    });
    p.connect();
    assert!(p.run(Duration::from_secs(60)));
    assert_refused_with_output_off(
        &p,
        "DC_ChargeParameterDiscoveryRes",
        ResponseCodeType::FAILED_WrongChargeParameter,
        peer_misbehaved,
    );
}

#[test]
fn a_precharge_target_of_exponent_127_is_refused_and_the_output_switched_off() {
    // {0, 127} is 0 × 10^127 = 0 × ∞ = NaN as f32; it went to the power supply as the
    // voltage set-point.
    let mut p = dc_pair(ControlMode::Scheduled);
    rewrite(&mut p, "DC_PreChargeReq", 1, |m| {
        if let Message::Dc(dc::Document::DC_PreChargeReq(r)) = m {
            r.ev_target_voltage = rational(0, 127);
        }
    });
    p.connect();
    assert!(p.run(Duration::from_secs(60)));
    assert_refused_with_output_off(
        &p,
        "DC_PreChargeRes",
        ResponseCodeType::FAILED_WrongChargeParameter,
        peer_misbehaved,
    );
}

#[test]
fn an_infinite_target_current_in_the_charge_loop_is_refused_and_the_output_switched_off() {
    let mut p = dc_pair(ControlMode::Scheduled);
    let mut seen = 0;
    rewrite(&mut p, "DC_ChargeLoopReq", 3, move |m| {
        seen += 1;
        if seen == 3
            && let Message::Dc(dc::Document::DC_ChargeLoopReq(r)) = m
            && let dc::CLReqControlMode::Scheduled_DC_CLReqControlMode(c) =
                &mut r.cl_req_control_mode
        {
            c.ev_target_current = rational(1, 40);
        }
    });
    p.connect();
    assert!(p.run(Duration::from_secs(60)));
    assert_refused_with_output_off(
        &p,
        "DC_ChargeLoopRes",
        ResponseCodeType::FAILED_WrongChargeParameter,
        peer_misbehaved,
    );
    // The output was live before the refusal.
    assert!(
        supply_commands(&p)
            .iter()
            .any(|s| s.enabled && s.current.0 > 0.0)
    );
}

#[test]
fn a_negative_target_current_in_the_dc_service_is_refused() {
    let mut p = dc_pair(ControlMode::Scheduled);
    rewrite(&mut p, "DC_ChargeLoopReq", 1, |m| {
        if let Message::Dc(dc::Document::DC_ChargeLoopReq(r)) = m
            && let dc::CLReqControlMode::Scheduled_DC_CLReqControlMode(c) =
                &mut r.cl_req_control_mode
        {
            c.ev_target_current = rational(-50, 0);
        }
    });
    p.connect();
    assert!(p.run(Duration::from_secs(60)));
    assert_refused_with_output_off(
        &p,
        "DC_ChargeLoopRes",
        ResponseCodeType::FAILED_WrongChargeParameter,
        peer_misbehaved,
    );
}

/// Every current set-point the charger gave the power supply after PowerDelivery(Start).
fn loop_currents(p: &Pair) -> Vec<f32> {
    let start = p
        .car_first("PowerDeliveryReq")
        .expect("the car started the power");
    p.charger_commands
        .iter()
        .filter(|(t, _)| *t >= start)
        .filter_map(|(_, c)| match c {
            HardwareCommand::PowerSupply(s) if s.enabled => Some(s.current.0),
            _ => None,
        })
        .collect()
}

#[test]
fn dynamic_mode_follows_the_maximum_current_the_car_sends_in_each_loop() {
    // The car announced 100 A in DC_ChargeParameterDiscoveryReq; in the loop it tapers to 10 A.
    let mut p = dc_pair(ControlMode::Dynamic);
    rewrite(&mut p, "DC_ChargeLoopReq", usize::MAX, |m| {
        if let Message::Dc(dc::Document::DC_ChargeLoopReq(r)) = m
            && let dc::CLReqControlMode::Dynamic_DC_CLReqControlMode(c) = &mut r.cl_req_control_mode
        {
            c.ev_maximum_charge_current = rational(10, 0);
        }
    });
    p.connect();
    assert!(p.run(Duration::from_secs(120)));
    assert_eq!(p.charger_outcome(), Some(Outcome::Completed));
    let currents = loop_currents(&p);
    assert!(!currents.is_empty());
    assert!(currents.iter().all(|&i| i <= 10.0), "{currents:?}");
    assert!(currents.iter().any(|&i| i >= 9.0), "{currents:?}");
}

#[test]
fn dynamic_mode_follows_the_maximum_power_the_car_sends_in_each_loop() {
    let mut p = dc_pair(ControlMode::Dynamic);
    rewrite(&mut p, "DC_ChargeLoopReq", usize::MAX, |m| {
        if let Message::Dc(dc::Document::DC_ChargeLoopReq(r)) = m
            && let dc::CLReqControlMode::Dynamic_DC_CLReqControlMode(c) = &mut r.cl_req_control_mode
        {
            c.ev_maximum_charge_power = rational(2000, 0);
        }
    });
    p.connect();
    assert!(p.run(Duration::from_secs(120)));
    assert_eq!(p.charger_outcome(), Some(Outcome::Completed));
    // The set-point voltage is the car's maximum (410 V): 2 kW is at most 4.9 A there.
    let currents = loop_currents(&p);
    assert!(!currents.is_empty());
    assert!(
        currents.iter().all(|&i| i <= 2000.0 / 410.0 + 0.01),
        "{currents:?}"
    );
}

#[test]
fn bpt_dynamic_discharge_follows_the_cars_loop_limit() {
    // The charger's energy manager wants 25 A out of the car; the car allows 5 A in the loop.
    let mut sc = charger(Protocol::Iso15118_20DcBpt);
    sc.iso20.dynamic_current = Some(ccs_proto::hardware::Amps(-25.0));
    let mut plant = PlantConfig::default();
    plant.power_supply.max_sink_current = ccs_proto::hardware::Amps(40.0);
    plant.initial_soc = ccs_proto::hardware::Percent(60.0);
    let mut p = Pair::new(
        car(Protocol::Iso15118_20DcBpt, ControlMode::Dynamic, 10),
        sc,
        plant,
    );
    rewrite(&mut p, "DC_ChargeLoopReq", usize::MAX, |m| {
        if let Message::Dc(dc::Document::DC_ChargeLoopReq(r)) = m
            && let dc::CLReqControlMode::BPT_Dynamic_DC_CLReqControlMode(c) =
                &mut r.cl_req_control_mode
        {
            c.ev_maximum_discharge_current = rational(5, 0);
        }
    });
    p.connect();
    assert!(p.run(Duration::from_secs(120)));
    assert_eq!(p.charger_outcome(), Some(Outcome::Completed));
    let currents = loop_currents(&p);
    assert!(!currents.is_empty());
    assert!(currents.iter().all(|&i| i >= -5.0), "{currents:?}");
    assert!(currents.iter().any(|&i| i <= -4.9), "{currents:?}");
}

/// Every enabled power supply set-point after PowerDelivery(Start): (volts, amperes).
fn loop_set_points(p: &Pair) -> Vec<(f32, f32)> {
    let start = p
        .car_first("PowerDeliveryReq")
        .expect("the car started the power");
    p.charger_commands
        .iter()
        .filter(|(t, _)| *t >= start)
        .filter_map(|(_, c)| match c {
            HardwareCommand::PowerSupply(s) if s.enabled => Some((s.voltage.0, s.current.0)),
            _ => None,
        })
        .collect()
}

#[test]
fn scheduled_mode_caps_the_target_at_the_cars_maximum_voltage_and_power() {
    // The car announced 3.5 kW in DC_ChargeParameterDiscoveryReq, then asks for 600 V in the
    // loop (its maximum is 410 V, the charger's 450 V) at its 100 A.
    let mut p = dc_pair(ControlMode::Scheduled);
    rewrite(&mut p, "DC_ChargeParameterDiscoveryReq", 1, |m| {
        if let Message::Dc(dc::Document::DC_ChargeParameterDiscoveryReq(r)) = m
            && let dc::DC_CPDReqEnergyTransferMode::DC_CPDReqEnergyTransferMode(t) =
                &mut r.dc_cpd_req_energy_transfer_mode
        {
            t.ev_maximum_charge_power = rational(3500, 0);
        }
    });
    p.connect();
    // One filter at a time: the loop's rewrite once the CPD went by.
    let mut loop_rewritten = false;
    p.run_until(Duration::from_secs(120), |p| {
        if !loop_rewritten && p.car_first("DC_ChargeParameterDiscoveryRes").is_some() {
            loop_rewritten = true;
            rewrite(p, "DC_ChargeLoopReq", usize::MAX, |m| {
                if let Message::Dc(dc::Document::DC_ChargeLoopReq(r)) = m
                    && let dc::CLReqControlMode::Scheduled_DC_CLReqControlMode(c) =
                        &mut r.cl_req_control_mode
                {
                    c.ev_target_voltage = rational(600, 0);
                }
            });
        }
        false
    });
    assert_eq!(p.charger_outcome(), Some(Outcome::Completed));
    assert!(p.charger_events.iter().any(|(_, e)| matches!(e,
        SessionEvent::Received { name: "DC_ChargeLoopReq", summary } if summary.contains("target=600.0V"))));
    let set_points = loop_set_points(&p);
    assert!(!set_points.is_empty());
    for &(u, i) in &set_points {
        assert!(u <= 410.0, "{set_points:?}");
        assert!(u * i <= 3500.0 + 0.5, "{set_points:?}");
    }
    assert!(
        set_points.iter().any(|&(u, i)| u * i >= 3400.0),
        "{set_points:?}"
    );
}

#[test]
fn scheduled_mode_follows_the_maximum_current_the_car_sends_in_the_loop() {
    // The optional EVMaximumChargeCurrent of Scheduled_DC_CLReqControlMode: 10 A while the
    // target stays at the car's 100 A.
    let mut p = dc_pair(ControlMode::Scheduled);
    rewrite(&mut p, "DC_ChargeLoopReq", usize::MAX, |m| {
        if let Message::Dc(dc::Document::DC_ChargeLoopReq(r)) = m
            && let dc::CLReqControlMode::Scheduled_DC_CLReqControlMode(c) =
                &mut r.cl_req_control_mode
        {
            c.ev_maximum_charge_current = Some(rational(10, 0));
        }
    });
    p.connect();
    assert!(p.run(Duration::from_secs(120)));
    assert_eq!(p.charger_outcome(), Some(Outcome::Completed));
    let currents = loop_currents(&p);
    assert!(!currents.is_empty());
    assert!(currents.iter().all(|&i| i <= 10.0), "{currents:?}");
    assert!(currents.iter().any(|&i| i >= 9.0), "{currents:?}");
}

/// Replaces the plant's isolation monitor, once the car has sent `request`, with one that
/// measures a 20 kΩ insulation (40 Ω/V at 500 V rated: a fault by IEC 61851-23) at once.
fn isolation_fails_after(p: &mut Pair, request: &str) -> bool {
    let mut failed = false;
    p.run_until(Duration::from_secs(120), |p| {
        if !failed && p.sent(Side::Car).contains(&request) {
            failed = true;
            let mut c = IsolationConfig::default();
            c.resistance_ohm = 20e3;
            c.measure_time = Duration::ZERO;
            *p.plant.isolation_mut() = IsolationMonitor::new(c);
        }
        false
    })
}

fn isolation_fault(e: &SessionError) -> bool {
    matches!(e, SessionError::Physical(s) if s.contains("isolation fault"))
}

#[test]
fn an_isolation_fault_in_the_charge_loop_ends_the_session_with_the_output_off() {
    let mut p = dc_pair(ControlMode::Scheduled);
    p.connect();
    assert!(isolation_fails_after(&mut p, "DC_ChargeLoopReq"));
    assert_refused_with_output_off(
        &p,
        "DC_ChargeLoopRes",
        ResponseCodeType::FAILED,
        isolation_fault,
    );
    // The output was live and delivering current when the fault came.
    assert!(loop_currents(&p).iter().any(|&i| i > 0.0));
}

#[test]
fn an_isolation_fault_in_precharge_ends_the_session_with_the_output_off() {
    let mut p = dc_pair(ControlMode::Dynamic);
    p.connect();
    assert!(isolation_fails_after(&mut p, "DC_PreChargeReq"));
    assert_refused_with_output_off(
        &p,
        "DC_PreChargeRes",
        ResponseCodeType::FAILED,
        isolation_fault,
    );
    assert!(!p.sent(Side::Car).contains(&"DC_ChargeLoopReq"));
}

// ----- M5: the cable check needs a verdict measured at the test voltage (IEC 61851-23)

/// A monitor that keeps reporting Valid (a verdict from before this cable check) and a
/// power supply output held at 0 V.
fn stale_valid_verdict_at_0_v() -> Vec<Measurement> {
    vec![
        Measurement::Isolation(IsolationStatus::Valid),
        Measurement::PowerSupplyVoltage(Volts(0.0)),
    ]
}

#[test]
fn a_valid_verdict_without_the_test_voltage_never_finishes_the_cable_check() {
    let mut p = dc_pair(ControlMode::Scheduled);
    p.charger_overrides = stale_valid_verdict_at_0_v();
    p.connect();
    assert!(p.run(Duration::from_secs(120)));
    let cable_checks = responses(&p, "DC_CableCheckRes");
    assert!(!cable_checks.is_empty());
    assert!(
        cable_checks.iter().all(|s| s.contains("Ongoing")),
        "{cable_checks:?}"
    );
    assert!(!p.sent(Side::Car).contains(&"DC_PreChargeReq"));
    // The test voltage was commanded, and switched off when the car gave up.
    assert!(
        supply_commands(&p)
            .iter()
            .any(|s| s.enabled && s.voltage.0 >= 60.0)
    );
    assert_eq!(supply_commands(&p).last(), Some(&PowerSupplySetpoint::OFF));
    assert!(!p.plant.contactors_closed());
}

#[test]
fn a_valid_verdict_from_before_the_test_voltage_does_not_finish_the_cable_check() {
    // The output is held at 0 V for the first 3 s of the cable check, then follows the set-point;
    // the monitor reports Valid all along.
    let held = Duration::from_secs(3);
    let mut p = dc_pair(ControlMode::Scheduled);
    p.charger_overrides = stale_valid_verdict_at_0_v();
    p.connect();
    assert!(p.run_until(Duration::from_secs(120), |p| {
        if p.car_first("DC_CableCheckReq")
            .is_some_and(|started| p.now.saturating_duration_since(started) >= held)
        {
            p.charger_overrides
                .retain(|m| !matches!(m, Measurement::PowerSupplyVoltage(_)));
        }
        false
    }));
    assert_eq!(p.charger_outcome(), Some(Outcome::Completed));
    let started = p.car_first("DC_CableCheckReq").expect("a cable check");
    let pre_charge = p.car_first("DC_PreChargeReq").expect("a precharge");
    assert!(pre_charge.saturating_duration_since(started) >= held);
}
