//! The charger's DC power path (`session::evse_dc`) in whole DIN and ISO 15118-2 sessions: what
//! reaches the power supply when the power supply, the isolation monitor or the car report
//! values that are wrong, out of range or alarming. Our car against our charger with the
//! physics of ccs-sim under a virtual clock (the harness of `din_session.rs`).
// Test helpers unwrap: a missing message is a test failure.
#![allow(clippy::unwrap_used)]

#[path = "din_support/mod.rs"]
#[allow(clippy::assign_op_pattern)]
mod support;

use ccs_msg::{din, iso2};
use ccs_proto::hardware::{
    Amps, HardwareCommand, IsolationStatus, Measurement, PowerSupplySetpoint,
};
use ccs_proto::session::{
    EvccConfig, Outcome, Protocol, ProtocolOffer, SeccConfig, SessionError, V2gSession,
};
use ccs_proto::time::{Duration, Instant};
use ccs_sim::physics::PlantConfig;
use support::{Fate, Pair, Side};

/// The two protocols whose charger side shares `evse_dc`.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Proto {
    Din,
    Iso2,
}

const BOTH: [Proto; 2] = [Proto::Din, Proto::Iso2];

fn pair(proto: Proto, charge_secs: u64, charger: SeccConfig) -> Pair {
    let mut car = EvccConfig::default();
    car.charge_duration = Some(Duration::from_secs(charge_secs));
    if proto == Proto::Iso2 {
        car.protocols = vec![ProtocolOffer {
            protocol: Protocol::Iso15118_2,
            priority: 1,
            schema_id: 1,
        }];
    }
    let mut charger = charger;
    charger.protocols = vec![Protocol::Din70121, Protocol::Iso15118_2];
    Pair::new(car, charger, PlantConfig::default())
}

/// Every power supply set-point the charger commanded, with its time.
fn setpoints(p: &Pair) -> Vec<(Instant, PowerSupplySetpoint)> {
    p.charger_commands
        .iter()
        .filter_map(|(t, c)| match c {
            HardwareCommand::PowerSupply(s) => Some((*t, *s)),
            _ => None,
        })
        .collect()
}

/// The set-points commanded while the power supply was on.
fn enabled_setpoints(p: &Pair) -> Vec<PowerSupplySetpoint> {
    setpoints(p)
        .into_iter()
        .map(|(_, s)| s)
        .filter(|s| s.enabled)
        .collect()
}

/// Whether the charger's last power supply command was OFF.
fn ends_off(p: &Pair) -> bool {
    setpoints(p).last().is_some_and(|(_, s)| !s.enabled)
}

/// Rewrites, from the `after`-th on, the car's CurrentDemandReq (DIN or ISO-2) with `din` or
/// `iso2`.
fn rewrite_current_demand(
    after: usize,
    din: impl Fn(&mut din::CurrentDemandReqType) + 'static,
    iso2: impl Fn(&mut iso2::CurrentDemandReqType) + 'static,
) -> support::Filter {
    let mut seen = 0;
    Box::new(move |from, payload| {
        if from != Side::Car {
            return Fate::Deliver;
        }
        if let Ok(mut m) = din::decode(payload)
            && let Some(din::BodyElement::CurrentDemandReq(r)) = &mut m.body.body_element
        {
            seen += 1;
            if seen > after {
                din(r);
                return Fate::Replace(din::encode(&m).expect("encodes"));
            }
        } else if let Ok(mut m) = iso2::decode(payload)
            && let Some(iso2::BodyElement::CurrentDemandReq(r)) = &mut m.body.body_element
        {
            seen += 1;
            if seen > after {
                iso2(r);
                return Fate::Replace(iso2::encode(&m).expect("encodes"));
            }
        }
        Fate::Deliver
    })
}

/// Everything the charger sent, in order.
fn charger_sent(p: &Pair) -> impl Iterator<Item = &[u8]> {
    p.transcript
        .iter()
        .filter(|(side, _)| *side == Side::Charger)
        .map(|(_, bytes)| bytes.as_slice())
}

// ----- H3: values from outside the process never panic the charger or reach a set-point

#[test]
fn a_negative_maximum_current_from_the_power_supply_is_ignored_during_current_demand() {
    for proto in BOTH {
        let mut p = pair(proto, 10, SeccConfig::default());
        p.connect();
        let mut injected = false;
        // MQTT `charger_max_current = -1` while charging: `clamp(0, -1)` used to panic.
        p.run_until(Duration::from_secs(120), |p| {
            if !injected && p.charging() {
                injected = true;
                p.charger_overrides = vec![Measurement::PowerSupplyMaxCurrent(Amps(-1.0))];
            }
            false
        });
        assert!(injected, "{proto:?}: never charged");
        assert_eq!(p.charger_outcome(), Some(Outcome::Completed), "{proto:?}");
        let limit = SeccConfig::default().limits.max_current.0;
        for s in enabled_setpoints(&p) {
            assert!(
                s.current.0.is_finite() && (0.0..=limit).contains(&s.current.0),
                "{proto:?}: {s:?}"
            );
            assert!(
                s.voltage.0.is_finite() && s.voltage.0 >= 0.0,
                "{proto:?}: {s:?}"
            );
        }
        assert!(ends_off(&p), "{proto:?}");
    }
}

#[test]
fn a_negative_target_voltage_from_the_car_is_refused_with_the_power_off() {
    for proto in BOTH {
        let mut p = pair(proto, 30, SeccConfig::default());
        p.filter = Some(rewrite_current_demand(
            3,
            |r| r.ev_target_voltage.value = -400,
            |r| r.ev_target_voltage.value = -400,
        ));
        p.connect();
        p.run(Duration::from_secs(120));
        assert!(
            matches!(
                p.charger_outcome(),
                Some(Outcome::Failed(SessionError::PeerMisbehaved(_)))
            ),
            "{proto:?}: {:?}",
            p.charger_outcome()
        );
        let codes = dc_statuses(&p, "CurrentDemandRes");
        assert_eq!(
            codes.last().map(|(code, _, _)| code.as_str()),
            Some("FAILED"),
            "{proto:?}"
        );
        assert!(
            enabled_setpoints(&p).iter().all(|s| s.voltage.0 >= 0.0),
            "{proto:?}"
        );
        assert!(ends_off(&p), "{proto:?}");
    }
}

#[test]
fn a_negative_maximum_current_from_the_car_is_refused_with_the_power_off() {
    for proto in BOTH {
        let mut p = pair(proto, 30, SeccConfig::default());
        p.filter = Some(rewrite_current_demand(
            3,
            |r| {
                if let Some(i) = &mut r.ev_maximum_current_limit {
                    i.value = -5;
                }
            },
            |r| {
                if let Some(i) = &mut r.ev_maximum_current_limit {
                    i.value = -5;
                }
            },
        ));
        p.connect();
        p.run(Duration::from_secs(120));
        assert!(
            matches!(
                p.charger_outcome(),
                Some(Outcome::Failed(SessionError::PeerMisbehaved(_)))
            ),
            "{proto:?}: {:?}",
            p.charger_outcome()
        );
        assert!(ends_off(&p), "{proto:?}");
    }
}

// ----- M1, M4: the car's maxima and the maximum power bound the set-points

/// The set-points after the car's `n`-th CurrentDemandReq was answered (the charge loop).
fn charge_loop_setpoints(p: &Pair) -> Vec<PowerSupplySetpoint> {
    let Some(start) = p.car_first("CurrentDemandReq") else {
        return Vec::new();
    };
    setpoints(p)
        .into_iter()
        .filter(|(t, s)| *t >= start && s.enabled)
        .map(|(_, s)| s)
        .collect()
}

#[test]
fn the_cars_maximum_voltage_and_current_bound_the_set_points() {
    for proto in BOTH {
        let mut charger = SeccConfig::default();
        // Enough power that only the current limits count.
        charger.limits.max_power = ccs_proto::hardware::Watts(400_000.0);
        let mut p = pair(proto, 10, charger);
        // Targets above the car's own maxima (410 V from ChargeParameterDiscovery, 50 A in
        // CurrentDemandReq); the charger allows 450 V, 200 A.
        p.filter = Some(rewrite_current_demand(
            0,
            |r| {
                r.ev_target_voltage.value = 440;
                r.ev_target_voltage.multiplier = 0;
                r.ev_target_current.value = 150;
                r.ev_target_current.multiplier = 0;
                r.ev_maximum_voltage_limit = None;
                if let Some(i) = &mut r.ev_maximum_current_limit {
                    i.value = 50;
                    i.multiplier = 0;
                }
            },
            |r| {
                r.ev_target_voltage.value = 440;
                r.ev_target_voltage.multiplier = 0;
                r.ev_target_current.value = 150;
                r.ev_target_current.multiplier = 0;
                r.ev_maximum_voltage_limit = None;
                if let Some(i) = &mut r.ev_maximum_current_limit {
                    i.value = 50;
                    i.multiplier = 0;
                }
            },
        ));
        p.connect();
        p.run(Duration::from_secs(120));
        let loop_setpoints = charge_loop_setpoints(&p);
        assert!(!loop_setpoints.is_empty(), "{proto:?}: never charged");
        for s in loop_setpoints {
            assert!(s.voltage.0 <= 410.0, "{proto:?}: {s:?}");
            assert!(s.current.0 <= 50.0, "{proto:?}: {s:?}");
        }
    }
}

/// The (EVSEPresentVoltage, EVSEPresentCurrent) of every CurrentDemandRes, in order.
fn present_outputs(p: &Pair) -> Vec<(f32, f32)> {
    let din_value = ccs_proto::session::din::values::physical_value;
    let iso2_value = ccs_proto::session::iso2::msg::physical_value;
    charger_sent(p)
        .filter_map(|bytes| {
            if let Ok(m) = din::decode(bytes)
                && let Some(din::BodyElement::CurrentDemandRes(r)) = m.body.body_element
            {
                return Some((
                    din_value(&r.evse_present_voltage),
                    din_value(&r.evse_present_current),
                ));
            }
            if let Ok(m) = iso2::decode(bytes)
                && let Some(iso2::BodyElement::CurrentDemandRes(r)) = m.body.body_element
            {
                return Some((
                    iso2_value(&r.evse_present_voltage),
                    iso2_value(&r.evse_present_current),
                ));
            }
            None
        })
        .collect()
}

#[test]
fn the_current_keeps_within_the_announced_maximum_power() {
    for proto in BOTH {
        // The defaults: 10 kW, 200 A; the car asks for 100 A at its 410 V maximum while the
        // battery sits near 350 V (35 kW without the power limit).
        let mut p = pair(proto, 10, SeccConfig::default());
        p.connect();
        assert!(p.run(Duration::from_secs(120)), "{proto:?}");
        let max_power = SeccConfig::default().limits.max_power.0;
        let loop_setpoints = charge_loop_setpoints(&p);
        assert!(!loop_setpoints.is_empty(), "{proto:?}: never charged");
        // Every current set-point within P / the lowest voltage the output can have.
        let min_voltage = SeccConfig::default().limits.min_voltage.0;
        for s in loop_setpoints {
            assert!(s.current.0 <= max_power / min_voltage, "{proto:?}: {s:?}");
        }
        // The power delivered, as measured and reported: within 10 kW (plus the rounding of
        // the reported values and the 100 ms until the next set-point).
        let outputs = present_outputs(&p);
        let peak = outputs.iter().map(|(u, i)| u * i).fold(0.0, f32::max);
        assert!(peak > 0.8 * max_power, "{proto:?}: peak {peak} W");
        assert!(
            peak <= 1.03 * max_power,
            "{proto:?}: peak {peak} W: {outputs:?}"
        );
    }
}

// ----- H2: the isolation monitor is watched during the whole energy transfer

/// The (response code, EVSEStatusCode, EVSEIsolationStatus) of `element` if it is one of the
/// DC responses `variants` of the generated module `module` (DIN and ISO-2 share the shape,
/// not the types) and named `name`.
macro_rules! dc_status_of {
    ($module:ident, $element:expr, $name:expr, [$($variant:ident),*]) => {
        match $element {
            $(Some($module::BodyElement::$variant(r)) if $name == stringify!($variant) => {
                let s = r.dc_evse_status;
                Some((
                    format!("{:?}", r.response_code),
                    format!("{:?}", s.evse_status_code),
                    format!("{:?}", s.evse_isolation_status),
                ))
            })*
            _ => None,
        }
    };
}

/// The charger's (response code, EVSEStatusCode, EVSEIsolationStatus) of every `name`
/// ("CableCheckRes", "PreChargeRes" or "CurrentDemandRes"), in order.
fn dc_statuses(p: &Pair, name: &str) -> Vec<(String, String, String)> {
    charger_sent(p)
        .filter_map(|bytes| {
            if let Ok(m) = din::decode(bytes) {
                return dc_status_of!(
                    din,
                    m.body.body_element,
                    name,
                    [PreChargeRes, CableCheckRes, CurrentDemandRes]
                );
            }
            if let Ok(m) = iso2::decode(bytes) {
                return dc_status_of!(
                    iso2,
                    m.body.body_element,
                    name,
                    [PreChargeRes, CableCheckRes, CurrentDemandRes]
                );
            }
            None
        })
        .collect()
}

/// Runs a session in which the isolation monitor reports `status` from the moment the car
/// first sent `request`; returns when that was.
fn isolation_from(p: &mut Pair, request: &str, status: IsolationStatus) -> Instant {
    let mut from = None;
    p.connect();
    p.run_until(Duration::from_secs(120), |p| {
        if from.is_none()
            && let Some(t) = p.car_first(request)
        {
            from = Some(t);
            p.charger_overrides = vec![Measurement::Isolation(status)];
        }
        false
    });
    from.unwrap_or_else(|| panic!("the car never sent {request}"))
}

#[test]
fn an_isolation_fault_in_current_demand_ends_the_session_with_the_power_off() {
    for proto in BOTH {
        let mut p = pair(proto, 30, SeccConfig::default());
        let from = isolation_from(&mut p, "CurrentDemandReq", IsolationStatus::Fault);
        assert!(
            matches!(
                p.charger_outcome(),
                Some(Outcome::Failed(SessionError::Physical(_)))
            ),
            "{proto:?}: {:?}",
            p.charger_outcome()
        );
        let last = dc_statuses(&p, "CurrentDemandRes").pop().unwrap();
        assert_eq!(
            last,
            (
                "FAILED".into(),
                "EVSE_EmergencyShutdown".into(),
                "Some(Fault)".into()
            ),
            "{proto:?}"
        );
        // Not a single set-point with the power on once the fault was there (the fault
        // arrives with the plant's next measurements, one tick after `from`).
        let tick = p.tick;
        assert!(
            setpoints(&p)
                .iter()
                .all(|(t, s)| *t <= from + tick || !s.enabled),
            "{proto:?}"
        );
        assert!(ends_off(&p), "{proto:?}");
    }
}

/// The fault switches the output off when it arrives, not at the car's next request.
#[test]
fn an_isolation_fault_switches_the_power_off_before_the_next_request() {
    for proto in BOTH {
        let mut p = pair(proto, 30, SeccConfig::default());
        let from = isolation_from(&mut p, "CurrentDemandReq", IsolationStatus::Fault);
        let next_request = car_sent_nth(&p, "CurrentDemandReq", 2).unwrap();
        let off = setpoints(&p)
            .into_iter()
            .find(|(t, s)| *t > from && !s.enabled)
            .map(|(t, _)| t)
            .unwrap();
        assert!(
            off < next_request,
            "{proto:?}: off at {off:?}, next request {next_request:?}"
        );
    }
}

/// A verdict wavering at the threshold (Fault, then Valid before the car's next request) must
/// not switch the output back on: the fault ends the energy transfer.
#[test]
fn an_isolation_fault_stays_a_fault_when_the_monitor_says_valid_again() {
    for proto in BOTH {
        let mut p = pair(proto, 30, SeccConfig::default());
        let mut fault_at = None;
        p.connect();
        p.run_until(Duration::from_secs(120), |p| {
            match fault_at {
                None => {
                    if p.car_first("CurrentDemandReq").is_some() {
                        fault_at = Some(p.now);
                        p.charger_overrides = vec![Measurement::Isolation(IsolationStatus::Fault)];
                    }
                }
                Some(at) if p.now >= at + p.tick + p.tick + p.tick => {
                    p.charger_overrides = vec![Measurement::Isolation(IsolationStatus::Valid)];
                }
                Some(_) => {}
            }
            false
        });
        let from = fault_at.unwrap();
        assert!(
            matches!(
                p.charger_outcome(),
                Some(Outcome::Failed(SessionError::Physical(_)))
            ),
            "{proto:?}: {:?}",
            p.charger_outcome()
        );
        let tick = p.tick;
        assert!(
            setpoints(&p)
                .iter()
                .all(|(t, s)| *t <= from + tick || !s.enabled),
            "{proto:?}: the output came back on after the fault"
        );
        let last = dc_statuses(&p, "CurrentDemandRes").pop().unwrap();
        assert_eq!(last.1, "EVSE_EmergencyShutdown", "{proto:?}");
    }
}

/// A monitor that falls silent while the output is live ends the energy transfer; the car is
/// told the insulation is unknown (Invalid, EVSE_Malfunction), not that it is faulty.
#[test]
fn a_silent_isolation_monitor_ends_the_charge_as_a_malfunction() {
    for proto in BOTH {
        let mut p = pair(proto, 60, SeccConfig::default());
        let mut silent_from = None;
        p.connect();
        p.run_until(Duration::from_secs(120), |p| {
            if silent_from.is_none() && p.car_first("CurrentDemandReq").is_some() {
                silent_from = Some(p.now);
                p.hide_isolation = true;
            }
            false
        });
        let from = silent_from.unwrap();
        let Some(Outcome::Failed(SessionError::Physical(why))) = p.charger_outcome() else {
            panic!("{proto:?}: {:?}", p.charger_outcome());
        };
        assert!(
            why.starts_with("isolation not monitored"),
            "{proto:?}: {why}"
        );
        let last = dc_statuses(&p, "CurrentDemandRes").pop().unwrap();
        assert_eq!(
            last,
            (
                "FAILED".into(),
                "EVSE_Malfunction".into(),
                "Some(Invalid)".into()
            ),
            "{proto:?}"
        );
        // Within the verdict's maximum age and the car's next request.
        let off = setpoints(&p)
            .into_iter()
            .find(|(t, s)| *t > from && !s.enabled)
            .map(|(t, _)| t)
            .unwrap();
        assert!(
            off <= from + Duration::from_secs(6),
            "{proto:?}: off at {off:?}"
        );
        assert!(ends_off(&p), "{proto:?}");
    }
}

#[test]
fn an_isolation_fault_in_pre_charge_ends_the_session_with_the_power_off() {
    for proto in BOTH {
        let mut p = pair(proto, 30, SeccConfig::default());
        isolation_from(&mut p, "PreChargeReq", IsolationStatus::Fault);
        assert!(
            matches!(
                p.charger_outcome(),
                Some(Outcome::Failed(SessionError::Physical(_)))
            ),
            "{proto:?}: {:?}",
            p.charger_outcome()
        );
        let last = dc_statuses(&p, "PreChargeRes").pop().unwrap();
        assert_eq!(
            (last.0.as_str(), last.1.as_str(), last.2.as_str()),
            ("FAILED", "EVSE_EmergencyShutdown", "Some(Fault)"),
            "{proto:?}"
        );
        assert!(!p.charging(), "{proto:?}");
        assert!(ends_off(&p), "{proto:?}");
    }
}

#[test]
fn the_measured_isolation_status_is_reported_while_charging() {
    for proto in BOTH {
        let mut p = pair(proto, 10, SeccConfig::default());
        isolation_from(&mut p, "CurrentDemandReq", IsolationStatus::Warning);
        // A warning does not stop the charge (IEC 61851-23), it is reported.
        assert_eq!(p.charger_outcome(), Some(Outcome::Completed), "{proto:?}");
        let reported: Vec<String> = dc_statuses(&p, "CurrentDemandRes")
            .into_iter()
            .map(|(_, _, isolation)| isolation)
            .collect();
        assert!(
            reported.contains(&"Some(Warning)".to_string()),
            "{proto:?}: {reported:?}"
        );
        assert_eq!(
            reported.first().map(String::as_str),
            Some("Some(Valid)"),
            "{proto:?}"
        );
    }
}

// ----- M3: the car's DC_EVStatus stops the power in both protocols

/// When the car sent its `n`-th (1-based) `name`.
fn car_sent_nth(p: &Pair, name: &str, n: usize) -> Option<Instant> {
    p.car_events
        .iter()
        .filter(|(_, e)| matches!(e, ccs_proto::session::SessionEvent::Sent { name: m, .. } if *m == name))
        .nth(n - 1)
        .map(|(t, _)| *t)
}

fn assert_stops_after_the_third_current_demand(p: &Pair, proto: Proto, what: &str) {
    let statuses = dc_statuses(p, "CurrentDemandRes");
    assert!(statuses.len() > 3, "{proto:?} {what}: {statuses:?}");
    assert_eq!(statuses[2].1, "EVSE_Ready", "{proto:?} {what}");
    assert_eq!(statuses[3].1, "EVSE_Shutdown", "{proto:?} {what}");
    let from = car_sent_nth(p, "CurrentDemandReq", 4).unwrap();
    assert!(
        setpoints(p).iter().all(|(t, s)| *t < from || !s.enabled),
        "{proto:?} {what}: power after the stop"
    );
    assert!(ends_off(p), "{proto:?} {what}");
}

#[test]
fn a_car_not_ready_in_current_demand_gets_the_power_off() {
    for proto in BOTH {
        let mut p = pair(proto, 30, SeccConfig::default());
        p.filter = Some(rewrite_current_demand(
            3,
            |r| r.dc_ev_status.ev_ready = false,
            |r| r.dc_ev_status.ev_ready = false,
        ));
        p.connect();
        p.run(Duration::from_secs(120));
        assert_stops_after_the_third_current_demand(&p, proto, "EVReady false");
    }
}

#[test]
fn a_car_reporting_an_error_in_current_demand_gets_the_power_off() {
    for proto in BOTH {
        let mut p = pair(proto, 30, SeccConfig::default());
        p.filter = Some(rewrite_current_demand(
            3,
            |r| {
                r.dc_ev_status.ev_error_code =
                    din::DC_EVErrorCodeType::FAILED_RESSTemperatureInhibit
            },
            |r| {
                r.dc_ev_status.ev_error_code =
                    iso2::DC_EVErrorCodeType::FAILED_RESSTemperatureInhibit;
            },
        ));
        p.connect();
        p.run(Duration::from_secs(120));
        assert_stops_after_the_third_current_demand(&p, proto, "EVErrorCode");
    }
}

// ----- M5: the cable check needs a verdict measured at the test voltage

#[test]
fn a_stale_isolation_verdict_without_the_test_voltage_never_finishes_the_cable_check() {
    for proto in BOTH {
        let mut p = pair(proto, 30, SeccConfig::default());
        // The monitor keeps saying Valid (left from before), but the power supply's output
        // stays at 0 V: nothing was measured at the test voltage.
        p.charger_overrides = vec![
            Measurement::Isolation(IsolationStatus::Valid),
            Measurement::PowerSupplyVoltage(ccs_proto::hardware::Volts(0.0)),
        ];
        p.connect();
        p.run(Duration::from_secs(120));
        assert!(p.car_first("CableCheckReq").is_some(), "{proto:?}");
        assert!(p.car_first("PreChargeReq").is_none(), "{proto:?}");
        assert!(ends_off(&p), "{proto:?}");
    }
}

#[test]
fn a_healthy_plant_finishes_the_cable_check_after_the_monitor_measured_at_the_test_voltage() {
    for proto in BOTH {
        let mut p = pair(proto, 5, SeccConfig::default());
        p.connect();
        assert!(p.run(Duration::from_secs(120)), "{proto:?}");
        assert_eq!(p.charger_outcome(), Some(Outcome::Completed), "{proto:?}");
        // The simulated monitor needs 1 s above 100 V: the check cannot end before.
        let started = p.car_first("CableCheckReq").unwrap();
        let pre_charge = p.car_first("PreChargeReq").unwrap();
        assert!(
            pre_charge.saturating_duration_since(started) >= Duration::from_secs(1),
            "{proto:?}"
        );
    }
}

// ----- Q3: a stop requested before PowerDelivery(Start) switches off at once

/// The name of a car request (DIN or ISO-2), `None` for the handshake.
fn request_name(bytes: &[u8]) -> Option<&'static str> {
    if let Ok(m) = din::decode(bytes) {
        return m
            .body
            .body_element
            .as_ref()
            .and_then(ccs_proto::session::din::values::MessageKind::of_request)
            .map(ccs_proto::session::din::values::MessageKind::request_name);
    }
    iso2::decode(bytes)
        .ok()?
        .body
        .body_element
        .as_ref()
        .and_then(ccs_proto::session::iso2::msg::MessageKind::of_request)
        .map(ccs_proto::session::iso2::msg::MessageKind::request_name)
}

#[test]
fn a_stop_before_power_delivery_start_switches_the_power_supply_off_at_once() {
    for proto in BOTH {
        // The car's requests of a whole session, up to its PowerDeliveryReq(Start).
        let mut recorded = pair(proto, 5, SeccConfig::default());
        recorded.connect();
        assert!(recorded.run(Duration::from_secs(120)), "{proto:?}");
        let mut requests: Vec<Vec<u8>> = Vec::new();
        for (side, bytes) in &recorded.transcript {
            let name = request_name(bytes);
            if *side != Side::Car {
                continue;
            }
            if name == Some("CableCheckReq") {
                // A charger without an isolation monitor finishes at the first one.
                requests.retain(|r| request_name(r) != Some("CableCheckReq"));
            }
            requests.push(bytes.clone());
            if name == Some("PowerDeliveryReq") {
                break;
            }
        }
        let (start, lead_up) = requests.split_last().unwrap();
        // Played into a charger without power hardware, which is told to stop after the
        // last PreChargeRes: the precharge set-point is on.
        let mut config = SeccConfig::default();
        config.protocols = vec![Protocol::Din70121, Protocol::Iso15118_2];
        config.isolation_monitor = false;
        config.cable_check_duration = Duration::ZERO;
        config.evse_simulate_precharge = true;
        let mut now = Instant::from_millis(1_000);
        let mut secc = ccs_proto::session::SeccSession::new(config, support::SESSION_ID, now);
        secc.handle_connected(now);
        let mut supply = PowerSupplySetpoint::OFF;
        for request in lead_up {
            now += Duration::from_millis(100);
            secc.handle_message(now, ccs_proto::v2gtp::PayloadType::Exi, request);
            while secc.poll_transmit().is_some() {}
            while let Some(c) = secc.poll_command() {
                if let HardwareCommand::PowerSupply(s) = c {
                    supply = s;
                }
            }
        }
        assert!(
            supply.enabled,
            "{proto:?}: PreCharge left no set-point: {supply:?}"
        );
        secc.handle_stop_request(now);
        now += Duration::from_millis(100);
        secc.handle_message(now, ccs_proto::v2gtp::PayloadType::Exi, start);
        let mut commands = Vec::new();
        while let Some(c) = secc.poll_command() {
            commands.push(c);
        }
        assert!(
            commands.contains(&HardwareCommand::PowerSupply(PowerSupplySetpoint::OFF)),
            "{proto:?}: the answer to PowerDeliveryReq(Start) left the supply on: {commands:?}"
        );
        assert!(
            secc.outcome().is_none(),
            "{proto:?}: the stop is an orderly one"
        );
    }
}

#[test]
fn a_negative_target_voltage_in_pre_charge_is_refused_with_the_power_off() {
    for proto in BOTH {
        let mut p = pair(proto, 30, SeccConfig::default());
        p.filter = Some(Box::new(|from, payload: &[u8]| {
            if from != Side::Car {
                return Fate::Deliver;
            }
            if let Ok(mut m) = din::decode(payload)
                && let Some(din::BodyElement::PreChargeReq(r)) = &mut m.body.body_element
            {
                r.ev_target_voltage.value = -400;
                return Fate::Replace(din::encode(&m).unwrap());
            }
            if let Ok(mut m) = iso2::decode(payload)
                && let Some(iso2::BodyElement::PreChargeReq(r)) = &mut m.body.body_element
            {
                r.ev_target_voltage.value = -400;
                return Fate::Replace(iso2::encode(&m).unwrap());
            }
            Fate::Deliver
        }));
        p.connect();
        p.run(Duration::from_secs(120));
        assert!(
            matches!(
                p.charger_outcome(),
                Some(Outcome::Failed(SessionError::PeerMisbehaved(_)))
            ),
            "{proto:?}: {:?}",
            p.charger_outcome()
        );
        let last = dc_statuses(&p, "PreChargeRes").pop().unwrap();
        assert_eq!(last.0, "FAILED", "{proto:?}");
        // Only the cable check's test voltage was ever commanded: no set-point from the car.
        assert!(
            enabled_setpoints(&p).iter().all(|s| s.voltage.0 > 0.0),
            "{proto:?}"
        );
        assert!(!p.charging(), "{proto:?}");
        assert!(ends_off(&p), "{proto:?}");
    }
}

#[test]
fn a_cable_check_reports_the_monitors_warning() {
    for proto in BOTH {
        let mut car = EvccConfig::default();
        car.charge_duration = Some(Duration::from_secs(5));
        if proto == Proto::Iso2 {
            car.protocols = vec![ProtocolOffer {
                protocol: Protocol::Iso15118_2,
                priority: 1,
                schema_id: 1,
            }];
        }
        let mut charger = SeccConfig::default();
        charger.protocols = vec![Protocol::Din70121, Protocol::Iso15118_2];
        // 100 kΩ on a 500 V circuit: 200 Ω/V, a warning (IEC 61851-23), not a fault.
        let mut plant = PlantConfig::default();
        plant.isolation.resistance_ohm = 100e3;
        let mut p = Pair::new(car, charger, plant);
        p.connect();
        assert!(p.run(Duration::from_secs(120)), "{proto:?}");
        assert_eq!(p.charger_outcome(), Some(Outcome::Completed), "{proto:?}");
        let finished = dc_statuses(&p, "CableCheckRes").pop().unwrap();
        assert_eq!(
            (finished.1.as_str(), finished.2.as_str()),
            ("EVSE_Ready", "Some(Warning)"),
            "{proto:?}"
        );
        let charging = dc_statuses(&p, "CurrentDemandRes").pop().unwrap();
        assert_eq!(charging.2, "Some(Warning)", "{proto:?}");
    }
}
