//! Whole DIN 70121 sessions: our car against our charger over an in-memory connection, with
//! the physics of ccs-sim, under a virtual clock. Normal ends and every failure path, with the
//! exact order of the car's safety commands.
// Test helpers unwrap: a malformed vector is a test failure.
#![allow(clippy::unwrap_used)]

mod din_support;

use ccs_msg::din::{self, BodyElement, DC_EVSEStatusCodeType, ResponseCodeType};
use ccs_proto::hardware::{
    ContactorRequest, CpState, HardwareCommand, HardwareFault, HardwareFaultKind, LockRequest,
};
use ccs_proto::session::din::values::{self, MessageKind};
use ccs_proto::session::{
    Disconnect, EvccConfig, Outcome, Phase, SeccConfig, SessionError, SessionEvent, V2gSession,
};
use ccs_proto::time::Duration;
use ccs_sim::physics::PlantConfig;
use din_support::{Fate, Pair, Side, actuator_commands};

fn car_config(charge_secs: u64) -> EvccConfig {
    let mut c = EvccConfig::default();
    c.charge_duration = Some(Duration::from_secs(charge_secs));
    c
}

const SAFE_ORDER: [HardwareCommand; 3] = [
    HardwareCommand::CpState(CpState::B),
    HardwareCommand::Contactors(ContactorRequest::Open),
    HardwareCommand::ConnectorLock(LockRequest::Unlock),
];

const NORMAL_START: [HardwareCommand; 3] = [
    HardwareCommand::CpState(CpState::C),
    HardwareCommand::ConnectorLock(LockRequest::Lock),
    HardwareCommand::Contactors(ContactorRequest::Closed),
];

fn pair(charge_secs: u64) -> Pair {
    Pair::new(
        car_config(charge_secs),
        SeccConfig::default(),
        PlantConfig::default(),
    )
}

#[test]
fn full_din_session_charges_and_completes() {
    let mut p = pair(20);
    let soc_before = p.plant.battery().soc();
    p.connect();
    assert!(p.run(Duration::from_secs(120)), "session did not finish");
    assert_eq!(p.car_outcome(), Some(Outcome::Completed));
    assert_eq!(p.charger_outcome(), Some(Outcome::Completed));

    // The whole DIN sequence, in order, loops collapsed.
    let mut sent = p.sent(Side::Car);
    sent.dedup();
    assert_eq!(
        sent,
        [
            "supportedAppProtocolReq",
            "SessionSetupReq",
            "ServiceDiscoveryReq",
            "ServicePaymentSelectionReq",
            "ContractAuthenticationReq",
            "ChargeParameterDiscoveryReq",
            "CableCheckReq",
            "PreChargeReq",
            "PowerDeliveryReq",
            "CurrentDemandReq",
            "PowerDeliveryReq",
            "WeldingDetectionReq",
            "SessionStopReq",
        ]
    );
    // Lock before CableCheck, contactors only after PreCharge, the stop in the safe order.
    assert_eq!(
        actuator_commands(&p.car_commands),
        [&NORMAL_START[..], &SAFE_ORDER[..]].concat()
    );
    // PreCharge matched: the contactors closed on a small voltage step.
    p.settle(Duration::from_secs(1));
    let step = p
        .plant
        .last_contactor_close_step()
        .expect("contactors closed");
    assert!(step.0 < 10.0, "contactors closed with a {step} step");
    assert!(
        p.plant.battery().soc().0 > soc_before.0,
        "the battery was charged"
    );
    assert!(!p.plant.contactors_closed());
    assert!(!p.plant.locked());
    // Checkpoints in pyPLC's order.
    let phases: Vec<u16> = p
        .car_events
        .iter()
        .filter_map(|(_, e)| match e {
            SessionEvent::PhaseChanged(ph) => Some(ph.checkpoint()),
            _ => None,
        })
        .collect();
    let mut sorted = phases.clone();
    sorted.sort_unstable();
    assert_eq!(phases, sorted, "phases went backwards: {phases:?}");
    assert!(phases.contains(&700) && phases.contains(&850) && phases.contains(&900));
    // Nothing left to do.
    assert_eq!(p.car.poll_timeout(), None);
    assert_eq!(p.charger.poll_timeout(), None);
}

#[test]
fn charger_reports_real_voltage_and_current_while_charging() {
    let mut p = pair(10);
    p.connect();
    assert!(p.run(Duration::from_secs(60)));
    let currents: Vec<(f32, f32)> = p
        .car_events
        .iter()
        .filter_map(|(_, e)| match e {
            SessionEvent::Values(v) => Some((v.present_voltage?, v.present_current?)),
            _ => None,
        })
        .collect();
    assert!(
        currents.iter().any(|&(u, i)| u > 300.0 && i > 20.0),
        "{currents:?}"
    );
}

#[test]
fn evse_shutdown_from_a_charger_stop_ends_normally() {
    let mut p = pair(600);
    p.connect();
    let mut stopped_at = None;
    let done = p.run_until(Duration::from_secs(120), |p| {
        if stopped_at.is_none() && p.charging() {
            // The user presses stop at the charger (MQTT `enabled` = 0).
            p.plant.set_charging_enabled(false);
            stopped_at = Some(p.now);
        }
        false
    });
    assert!(done);
    assert!(stopped_at.is_some());
    assert_eq!(p.car_outcome(), Some(Outcome::Completed));
    assert_eq!(p.charger_outcome(), Some(Outcome::Completed));
    assert!(p.charger.stopped_by_user());
    let sent = p.sent(Side::Car);
    assert!(
        sent.ends_with(&["PowerDeliveryReq", "WeldingDetectionReq", "SessionStopReq"])
            || sent.contains(&"WeldingDetectionReq")
    );
    assert_eq!(
        actuator_commands(&p.car_commands),
        [&NORMAL_START[..], &SAFE_ORDER[..]].concat()
    );
    let shutdown_seen = p.car_events.iter().any(|(_, e)| {
        matches!(e, SessionEvent::Received { name: "CurrentDemandRes", summary } if summary.contains("EVSE_Shutdown"))
    });
    assert!(shutdown_seen);
}

#[test]
fn user_stop_in_the_car_ends_normally() {
    let mut p = pair(600);
    p.connect();
    let mut requested = false;
    let done = p.run_until(Duration::from_secs(120), |p| {
        if !requested && p.charging() {
            requested = true;
            p.car.handle_stop_request(p.now);
        }
        false
    });
    assert!(done);
    assert_eq!(p.car_outcome(), Some(Outcome::Completed));
    assert_eq!(p.charger_outcome(), Some(Outcome::Completed));
    assert_eq!(
        actuator_commands(&p.car_commands),
        [&NORMAL_START[..], &SAFE_ORDER[..]].concat()
    );
}

#[test]
fn battery_full_ends_normally() {
    let mut plant = PlantConfig::default();
    plant.initial_soc = ccs_proto::hardware::Percent(99.9);
    let mut car = EvccConfig::default();
    car.ev.full_soc = ccs_proto::hardware::Percent(100.0);
    let mut p = Pair::new(car, SeccConfig::default(), plant);
    p.connect();
    assert!(p.run(Duration::from_secs(600)));
    assert_eq!(p.car_outcome(), Some(Outcome::Completed));
}

/// Runs a session that fails in the charge loop by `inject` and checks the safe shutdown.
fn assert_safe_shutdown_in_charge_loop(
    inject: impl FnMut(&mut Pair) -> bool,
    expect: impl Fn(&SessionError) -> bool,
) -> Pair {
    let mut p = pair(600);
    p.connect();
    let mut inject = inject;
    let mut injected = false;
    let done = p.run_until(Duration::from_secs(120), |p| {
        if !injected && p.charging() {
            injected = inject(p);
        }
        false
    });
    assert!(injected, "never reached the charge loop");
    assert!(p.car.is_finished(), "the car hangs");
    let _ = done;
    let mut p = p;
    let Some(Outcome::Failed(e)) = p.car_outcome() else {
        panic!("car outcome {:?}", p.car_outcome());
    };
    assert!(expect(&e), "unexpected error {e:?}");
    let actuators = actuator_commands(&p.car_commands);
    assert_eq!(actuators, [&NORMAL_START[..], &SAFE_ORDER[..]].concat());
    // In the charge loop the current was flowing: the contactors opened only after the
    // current-fall wait, never together with CP state B.
    let at = |wanted: &HardwareCommand| {
        p.car_commands
            .iter()
            .rev()
            .find(|(_, c)| c == wanted)
            .map(|(t, _)| *t)
            .unwrap()
    };
    let cp_b = at(&SAFE_ORDER[0]);
    let open = at(&SAFE_ORDER[1]);
    assert!(open > cp_b, "contactors opened at CP B ({cp_b})");
    // The contactors opened and then the lock.
    p.settle(Duration::from_secs(1));
    assert!(!p.plant.contactors_closed());
    assert!(!p.plant.locked());
    // After the failure, the car sent no PowerDelivery/CurrentDemand any more.
    assert_eq!(p.car.poll_timeout(), None);
    p
}

#[test]
fn connection_lost_in_charge_loop_goes_through_safe_shutdown() {
    assert_safe_shutdown_in_charge_loop(
        |p| {
            p.connected = false;
            p.car
                .handle_disconnected(p.now, Disconnect::Broken("reset".into()));
            p.charger
                .handle_disconnected(p.now, Disconnect::Broken("reset".into()));
            true
        },
        |e| matches!(e, SessionError::ConnectionLost(_)),
    );
}

#[test]
fn silent_charger_times_out_with_the_current_demand_timeout() {
    let p = assert_safe_shutdown_in_charge_loop(
        |p| {
            p.filter = Some(Box::new(|from, _| {
                if from == Side::Charger {
                    Fate::Drop
                } else {
                    Fate::Deliver
                }
            }));
            true
        },
        |e| *e == SessionError::Timeout("V2G_EVCC_Msg_Timeout"),
    );
    // The charger notices the closed connection and switches off.
    assert!(matches!(p.charger_outcome(), Some(Outcome::Failed(_))));
    assert!(p.charger_commands.iter().rev().any(|(_, c)| matches!(
        c,
        HardwareCommand::PowerSupply(s) if !s.enabled
    )));
}

#[test]
fn hardware_fault_goes_through_safe_shutdown() {
    assert_safe_shutdown_in_charge_loop(
        |p| {
            p.car.handle_hardware_fault(
                p.now,
                HardwareFault {
                    adapter: "mqtt".into(),
                    kind: HardwareFaultKind::ConnectionLost,
                },
            );
            true
        },
        |e| matches!(e, SessionError::Hardware(_)),
    );
}

fn rewrite_current_demand_res(
    change: impl Fn(&mut din::CurrentDemandResType) + 'static,
) -> din_support::Filter {
    Box::new(move |from, payload| {
        if from != Side::Charger {
            return Fate::Deliver;
        }
        let Ok(mut msg) = din::decode(payload) else {
            return Fate::Deliver;
        };
        if let Some(BodyElement::CurrentDemandRes(res)) = msg.body.body_element.as_mut() {
            change(res);
            return Fate::Replace(din::encode(&msg).unwrap());
        }
        Fate::Deliver
    })
}

#[test]
fn failed_response_code_goes_through_safe_shutdown() {
    assert_safe_shutdown_in_charge_loop(
        |p| {
            p.filter = Some(rewrite_current_demand_res(|r| {
                r.response_code = ResponseCodeType::FAILED;
            }));
            true
        },
        |e| matches!(e, SessionError::PeerRefused(_)),
    );
}

#[test]
fn emergency_shutdown_goes_through_safe_shutdown() {
    assert_safe_shutdown_in_charge_loop(
        |p| {
            p.filter = Some(rewrite_current_demand_res(|r| {
                r.dc_evse_status.evse_status_code = DC_EVSEStatusCodeType::EVSE_EmergencyShutdown;
            }));
            true
        },
        |e| matches!(e, SessionError::PeerRefused(s) if s.contains("EmergencyShutdown")),
    );
}

#[test]
fn wrong_session_id_from_the_charger_goes_through_safe_shutdown() {
    assert_safe_shutdown_in_charge_loop(
        |p| {
            p.filter = Some(Box::new(|from, payload| {
                if from != Side::Charger {
                    return Fate::Deliver;
                }
                let Ok(mut msg) = din::decode(payload) else {
                    return Fate::Deliver;
                };
                msg.header.session_id = vec![9; 8];
                Fate::Replace(din::encode(&msg).unwrap())
            }));
            true
        },
        |e| matches!(e, SessionError::PeerMisbehaved(_)),
    );
}

/// The charger reports 100 V while the car's inlet reads the battery's voltage: the safe
/// shutdown, and the connector stays locked, as the inlet measurement that failed its
/// plausibility check cannot prove the connector dead afterwards (no charger report after the
/// stop does either).
#[test]
fn implausible_inlet_voltage_goes_through_safe_shutdown_and_stays_locked() {
    let mut p = pair(600);
    p.connect();
    let mut injected = false;
    p.run_until(Duration::from_secs(120), |p| {
        if !injected && p.charging() {
            injected = true;
            p.filter = Some(rewrite_current_demand_res(|r| {
                r.evse_present_voltage = values::physical(100.0, din::UnitSymbolType::V);
            }));
        }
        false
    });
    assert!(injected, "never reached the charge loop");
    assert!(p.car.is_finished(), "the car hangs");
    let Some(Outcome::Failed(SessionError::Physical(why))) = p.car_outcome() else {
        panic!("car outcome {:?}", p.car_outcome());
    };
    assert!(
        why.contains("disagrees with EVSEPresentVoltage 100.0 V"),
        "{why}"
    );
    let actuators = actuator_commands(&p.car_commands);
    assert_eq!(
        actuators,
        [&NORMAL_START[..], &SAFE_ORDER[..2]].concat(),
        "CP B and contactors open, no unlock"
    );
    let stays_locked = p.car_events.iter().any(|(_, e)| {
        matches!(e, SessionEvent::Failing(SessionError::Physical(why))
            if why.starts_with("connector stays locked: the inlet voltage measurement failed its plausibility check"))
    });
    assert!(stays_locked, "{:?}", p.car_events);
    p.settle(Duration::from_secs(1));
    assert!(!p.plant.contactors_closed());
    assert!(p.plant.locked());
}

#[test]
fn cable_check_that_never_finishes_times_out_after_38_s() {
    // An isolation monitor that never gives a verdict (no voltage reaches it).
    let mut plant = PlantConfig::default();
    plant.isolation.min_test_voltage = ccs_proto::hardware::Volts(10_000.0);
    let mut p = Pair::new(car_config(10), SeccConfig::default(), plant);
    p.connect();
    p.run(Duration::from_secs(120));
    assert!(p.car.is_finished());
    assert_eq!(
        p.car_outcome(),
        Some(Outcome::Failed(SessionError::Timeout(
            "V2G_EVCC_CableCheck_Timeout"
        )))
    );
    let first_cable_check = p
        .car_events
        .iter()
        .find(|(_, e)| {
            matches!(
                e,
                SessionEvent::Sent {
                    name: "CableCheckReq",
                    ..
                }
            )
        })
        .map(|(t, _)| *t)
        .unwrap();
    let failed_at = p
        .car_events
        .iter()
        .find(|(_, e)| matches!(e, SessionEvent::PhaseChanged(Phase::SafeShutdown)))
        .map(|(t, _)| *t)
        .unwrap();
    let took = failed_at.saturating_duration_since(first_cable_check);
    assert!(
        took >= Duration::from_secs(38) && took < Duration::from_millis(38_500),
        "{took}"
    );
    // Never closed the contactors; CP B and unlock at the end.
    let actuators = actuator_commands(&p.car_commands);
    assert!(!actuators.contains(&HardwareCommand::Contactors(ContactorRequest::Closed)));
    assert_eq!(
        actuators.last(),
        Some(&HardwareCommand::ConnectorLock(LockRequest::Unlock))
    );
}

#[test]
fn contactors_that_do_not_open_keep_the_connector_locked() {
    let mut p = pair(600);
    p.connect();
    let mut injected = false;
    p.run_until(Duration::from_secs(60), |p| {
        if !injected && p.charging() {
            injected = true;
            p.car.handle_stop_request(p.now);
            // Welded contactors: the feedback keeps saying "closed".
            p.contactors_welded = true;
        }
        p.car.is_finished()
    });
    assert!(p.car.is_finished());
    assert!(matches!(
        p.car_outcome(),
        Some(Outcome::Failed(SessionError::Physical(_)))
    ));
    let actuators = actuator_commands(&p.car_commands);
    assert!(!actuators.contains(&HardwareCommand::ConnectorLock(LockRequest::Unlock)));
}

#[test]
fn the_charger_answers_a_sequence_error_and_switches_off() {
    // A car that jumps from SessionSetup straight to CableCheck.
    let mut p = pair(10);
    p.filter = Some(Box::new(|from, payload| {
        if from != Side::Car {
            return Fate::Deliver;
        }
        let Ok(msg) = din::decode(payload) else {
            return Fate::Deliver; // the handshake
        };
        if matches!(
            msg.body.body_element,
            Some(BodyElement::ServiceDiscoveryReq(_))
        ) {
            return Fate::Replace(
                din::encode(&values::cable_check_req(&msg.header.session_id, 30)).unwrap(),
            );
        }
        Fate::Deliver
    }));
    p.connect();
    p.run(Duration::from_secs(10));
    let res = p
        .charger_events
        .iter()
        .find_map(|(_, e)| match e {
            SessionEvent::Sent {
                name: "CableCheckRes",
                summary,
            } => Some(summary.clone()),
            _ => None,
        })
        .expect("a CableCheckRes");
    assert!(res.starts_with("FAILED_SequenceError"), "{res}");
    assert!(matches!(
        p.charger_outcome(),
        Some(Outcome::Failed(SessionError::PeerMisbehaved(_)))
    ));
    assert!(p.car.is_finished());
    let _ = MessageKind::CableCheck;
}

#[test]
fn precharge_can_end_on_the_measured_inlet_voltage() {
    // pyPLC `use_evsepresentvoltage_for_precharge_end = no`.
    let mut car = car_config(5);
    car.precharge_voltage_source = ccs_proto::session::PrechargeVoltageSource::InletVoltage;
    let mut p = Pair::new(car, SeccConfig::default(), PlantConfig::default());
    p.connect();
    assert!(p.run(Duration::from_secs(60)));
    assert_eq!(p.car_outcome(), Some(Outcome::Completed));
    p.settle(Duration::from_secs(1));
    assert!(p.plant.last_contactor_close_step().unwrap().0 < 10.0);
}

#[test]
fn hardware_without_feedback_runs_on_the_timers() {
    // pyPLC with a dieter/beaglebone device: no contactor or lock feedback, no SoC (simulated),
    // fixed battery voltage.
    let mut car = car_config(5);
    car.contactor_feedback = false;
    car.lock_feedback = false;
    let mut p = Pair::new(car, SeccConfig::default(), PlantConfig::default());
    p.connect();
    assert!(p.run(Duration::from_secs(60)));
    assert_eq!(p.car_outcome(), Some(Outcome::Completed));
    // Contactors open for their full confirmation time before the unlock.
    let t = |wanted: &HardwareCommand| {
        p.car_commands
            .iter()
            .rev()
            .find(|(_, c)| c == wanted)
            .map(|(t, _)| *t)
            .unwrap()
    };
    let open = t(&HardwareCommand::Contactors(ContactorRequest::Open));
    let unlock = t(&HardwareCommand::ConnectorLock(LockRequest::Unlock));
    assert!(unlock.saturating_duration_since(open) >= Duration::from_secs(2));
}

#[test]
fn light_bulb_demo_closes_the_contactors_in_the_charge_loop() {
    let mut car = car_config(5);
    car.light_bulb_demo = true;
    let mut p = Pair::new(car, SeccConfig::default(), PlantConfig::default());
    p.connect();
    assert!(p.run(Duration::from_secs(60)));
    assert_eq!(p.car_outcome(), Some(Outcome::Completed));
    let first_current_demand = p
        .car_events
        .iter()
        .find(|(_, e)| {
            matches!(
                e,
                SessionEvent::Sent {
                    name: "CurrentDemandReq",
                    ..
                }
            )
        })
        .map(|(t, _)| *t)
        .unwrap();
    let closed = p
        .car_commands
        .iter()
        .find(|(_, c)| *c == HardwareCommand::Contactors(ContactorRequest::Closed))
        .map(|(t, _)| *t)
        .unwrap();
    assert!(closed.saturating_duration_since(first_current_demand) >= Duration::from_secs(2));
}

#[test]
fn simulated_soc_without_a_bms() {
    // No SoC measurement at all: pyPLC's soc_simulation counts up from 20 %.
    let mut car = car_config(600);
    car.soc_simulation = true;
    car.ev.full_soc = ccs_proto::hardware::Percent(30.0);
    let mut p = Pair::new(car, SeccConfig::default(), PlantConfig::default());
    p.hide_soc = true;
    p.connect();
    assert!(p.run(Duration::from_secs(120)));
    assert_eq!(p.car_outcome(), Some(Outcome::Completed));
    let socs: Vec<String> = p
        .car_events
        .iter()
        .filter_map(|(_, e)| match e {
            SessionEvent::Sent {
                name: "CurrentDemandReq",
                summary,
            } => Some(summary.clone()),
            _ => None,
        })
        .collect();
    assert!(socs.first().unwrap().contains("SoC=20%"), "{socs:?}");
    assert!(
        socs.last().unwrap().contains("SoC=30%") || socs.last().unwrap().contains("SoC=29%"),
        "{socs:?}"
    );
}

/// A stop at the charger as soon as the car has sent `trigger`: both sides end normally.
fn charger_stop_when(trigger: &'static str) -> Pair {
    let mut charger = SeccConfig::default();
    charger.authorize_automatically = false;
    let mut plant = PlantConfig::default();
    plant.authorization_delay = Duration::from_secs(3600);
    let mut p = Pair::new(car_config(600), charger, plant);
    p.connect();
    let mut stopped = false;
    let done = p.run_until(Duration::from_secs(120), |p| {
        if !stopped && p.sent(Side::Car).contains(&trigger) {
            stopped = true;
            p.charger.handle_stop_request(p.now);
        }
        false
    });
    assert!(stopped && done, "trigger {trigger}");
    assert_eq!(
        p.car_outcome(),
        Some(Outcome::Completed),
        "trigger {trigger}"
    );
    assert_eq!(
        p.charger_outcome(),
        Some(Outcome::Completed),
        "trigger {trigger}"
    );
    p
}

#[test]
fn charger_stop_during_authorization_ends_normally_before_locking() {
    let p = charger_stop_when("ContractAuthenticationReq");
    let sent = p.sent(Side::Car);
    assert_eq!(sent.last(), Some(&"SessionStopReq"));
    assert!(!sent.contains(&"CableCheckReq"));
    let actuators = actuator_commands(&p.car_commands);
    assert!(!actuators.contains(&HardwareCommand::CpState(CpState::C)));
}

#[test]
fn charger_stop_during_cable_check_ends_normally_without_closing_contactors() {
    let mut charger = SeccConfig::default();
    charger.authorize_automatically = true;
    let mut p = Pair::new(car_config(600), charger, PlantConfig::default());
    p.connect();
    let mut stopped = false;
    assert!(p.run_until(Duration::from_secs(120), |p| {
        if !stopped && p.sent(Side::Car).contains(&"CableCheckReq") {
            stopped = true;
            p.charger.handle_stop_request(p.now);
        }
        false
    }));
    assert_eq!(p.car_outcome(), Some(Outcome::Completed));
    assert_eq!(p.charger_outcome(), Some(Outcome::Completed));
    let mut sent = p.sent(Side::Car);
    sent.dedup();
    assert!(
        sent.ends_with(&[
            "CableCheckReq",
            "PowerDeliveryReq",
            "WeldingDetectionReq",
            "SessionStopReq"
        ]),
        "{sent:?}"
    );
    assert_eq!(
        actuator_commands(&p.car_commands),
        [
            HardwareCommand::CpState(CpState::C),
            HardwareCommand::ConnectorLock(LockRequest::Lock),
            HardwareCommand::CpState(CpState::B),
            HardwareCommand::Contactors(ContactorRequest::Open),
            HardwareCommand::ConnectorLock(LockRequest::Unlock),
        ]
    );
}

#[test]
fn every_message_of_a_session_decodes_and_reencodes_identically() {
    let mut p = pair(5);
    p.connect();
    assert!(p.run(Duration::from_secs(60)));
    assert!(p.transcript.len() > 40);
    let (handshake, rest) = p.transcript.split_at(2);
    for (_, bytes) in handshake {
        let doc = ccs_msg::app_handshake::decode(bytes).unwrap();
        assert_eq!(&doc.encode().unwrap(), bytes);
    }
    for (side, bytes) in rest {
        let msg = din::decode(bytes).unwrap();
        assert_eq!(&din::encode(&msg).unwrap(), bytes, "{side:?}");
        let expected_sid = if matches!(msg.body.body_element, Some(BodyElement::SessionSetupReq(_)))
        {
            values::NO_SESSION_ID.to_vec()
        } else {
            din_support::SESSION_ID.to_vec()
        };
        assert_eq!(msg.header.session_id, expected_sid);
        // The charger's responses carry what real cars need (pyplc-behaviour.md §9.2, §14.1).
        match &msg.body.body_element {
            Some(BodyElement::CurrentDemandRes(r)) => {
                assert!(values::physical_value(&r.evse_present_voltage) > 100.0);
                assert_eq!(
                    r.dc_evse_status.evse_isolation_status,
                    Some(din::IsolationLevelType::Valid)
                );
            }
            Some(BodyElement::ChargeParameterDiscoveryRes(r)) => {
                assert!(matches!(
                    r.sa_schedules,
                    din::SASchedules::SAScheduleList(_)
                ));
            }
            Some(BodyElement::CurrentDemandReq(r)) => {
                // The Plugit HUBE S needs the EV maximum limits.
                assert!(r.ev_maximum_voltage_limit.is_some());
                assert!(r.ev_maximum_current_limit.is_some());
                assert!(r.ev_maximum_power_limit.is_some());
            }
            Some(BodyElement::PowerDeliveryReq(r)) => {
                assert!(r.ev_power_delivery_parameter.is_some());
            }
            _ => {}
        }
    }
}

#[test]
fn pyplc_style_charger_with_simulated_voltage_and_no_imd() {
    // pyPLC's EVSE defaults: evse_simulate_precharge = yes, no isolation monitor.
    let mut charger = SeccConfig::default();
    charger.evse_simulate_precharge = true;
    charger.isolation_monitor = false;
    // The simulated voltage is not what the plant's inlet shows; a car with an inlet sensor
    // catches that (see the next test), so this car has none, like pyPLC's simulated car.
    let mut car = car_config(5);
    car.inlet_voltage_plausibility_tolerance = None;
    let mut p = Pair::new(car, charger, PlantConfig::default());
    p.connect();
    assert!(p.run(Duration::from_secs(60)));
    assert_eq!(p.car_outcome(), Some(Outcome::Completed));
    assert_eq!(p.charger_outcome(), Some(Outcome::Completed));
    let welding: Vec<&str> = p.sent(Side::Car);
    let rounds = welding
        .iter()
        .filter(|n| **n == "WeldingDetectionReq")
        .count();
    assert!(rounds < 10, "the simulated voltage fell: {rounds} rounds");
}

#[test]
fn a_car_with_an_inlet_sensor_catches_a_simulated_charger_voltage() {
    let mut charger = SeccConfig::default();
    charger.evse_simulate_precharge = true;
    let mut p = Pair::new(car_config(5), charger, PlantConfig::default());
    p.connect();
    p.run(Duration::from_secs(60));
    assert!(matches!(
        p.car_outcome(),
        Some(Outcome::Failed(SessionError::Physical(_)))
    ));
    let actuators = actuator_commands(&p.car_commands);
    assert!(!actuators.contains(&HardwareCommand::Contactors(ContactorRequest::Closed)));
    // The car cannot tell a simulated charger voltage from a broken inlet sensor under a
    // live output: it stays locked rather than unlock on the reading it found implausible.
    assert!(
        !actuators.contains(&HardwareCommand::ConnectorLock(LockRequest::Unlock)),
        "{actuators:?}"
    );
}

/// A charger whose output comes back on after the contactors opened (a stuck power stage
/// re-energizing the cable): WeldingDetection sees the voltage stay up, SessionStop goes
/// through, and the car must not unlock onto the live connector (IEC 61851-23: below 60 V
/// only): the charger's own report after the stop keeps it locked at once, whatever the
/// inlet says. Virtual time, driven step by step.
#[test]
fn a_connector_that_stays_live_after_session_stop_is_never_unlocked() {
    use ccs_proto::hardware::{Amps, PowerSupplySetpoint, Volts};

    let mut p = pair(2);
    p.connect();
    let mut energized_at = None;
    p.run_until(Duration::from_secs(120), |p| {
        let welding = p.car_events.iter().any(|(_, e)| {
            matches!(
                e,
                SessionEvent::Sent {
                    name: "WeldingDetectionReq",
                    ..
                }
            )
        });
        if welding && energized_at.is_none() {
            energized_at = Some(p.now);
            p.plant.command(
                p.now,
                &HardwareCommand::PowerSupply(PowerSupplySetpoint {
                    enabled: true,
                    voltage: Volts(400.0),
                    current: Amps(1.0),
                }),
            );
            p.plant.set_supply_stuck(true);
        }
        false
    });
    let energized_at = energized_at.expect("WeldingDetection never started");
    assert!(p.car.is_finished(), "the car hangs");
    assert!(p.sent(Side::Car).contains(&"SessionStopReq"));
    let Some(Outcome::Failed(SessionError::Physical(why))) = p.car_outcome() else {
        panic!("car outcome {:?}", p.car_outcome());
    };
    assert!(
        why.starts_with(
            "connector stays locked: the charger reported 400.0 V after the stop, not below 60.0 V"
        ),
        "{why}"
    );
    let actuators = actuator_commands(&p.car_commands);
    assert!(
        !actuators.contains(&HardwareCommand::ConnectorLock(LockRequest::Unlock)),
        "{actuators:?}"
    );
    // No newer report will come: it decided at SessionStopRes, without waiting.
    let at = |wanted: fn(&SessionEvent) -> bool| {
        p.car_events
            .iter()
            .find(|(_, e)| wanted(e))
            .map(|(t, _)| *t)
            .unwrap()
    };
    let stop_res = at(|e| {
        matches!(
            e,
            SessionEvent::Received {
                name: "SessionStopRes",
                ..
            }
        )
    });
    assert!(stop_res > energized_at);
    assert_eq!(at(|e| matches!(e, SessionEvent::Finished(_))), stop_res);
    p.settle(Duration::from_secs(1));
    assert!(p.plant.locked());
}

/// A car without an inlet voltage measurement: WeldingDetection reports the stuck output's
/// 400 V, then the connection breaks 500 ms into SessionStop, and the safe shutdown commands
/// CP state B a second time. The 400 V report is still the evidence: the connector stays
/// locked (it used to count as older than the stop: "unlocking without a voltage check").
#[test]
fn a_failure_after_welding_detection_at_400_v_keeps_the_connector_locked() {
    use ccs_proto::hardware::{Amps, PowerSupplySetpoint, Volts};

    let mut p = pair(2);
    p.hide_inlet_voltage = true;
    p.filter = Some(Box::new(|from, payload| {
        let stop_req = din::decode(payload)
            .is_ok_and(|m| matches!(m.body.body_element, Some(BodyElement::SessionStopReq(_))));
        if from == Side::Car && stop_req {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    }));
    p.connect();
    let sent = |p: &Pair, name: &str| {
        p.car_events
            .iter()
            .find(|(_, e)| matches!(e, SessionEvent::Sent { name: n, .. } if *n == name))
            .map(|(t, _)| *t)
    };
    let mut energized = false;
    let mut broken = false;
    p.run_until(Duration::from_secs(120), |p| {
        if sent(p, "WeldingDetectionReq").is_some() && !energized {
            energized = true;
            p.plant.command(
                p.now,
                &HardwareCommand::PowerSupply(PowerSupplySetpoint {
                    enabled: true,
                    voltage: Volts(400.0),
                    current: Amps(1.0),
                }),
            );
            p.plant.set_supply_stuck(true);
        }
        if let Some(at) = sent(p, "SessionStopReq") {
            // The request is lost on the way; the break comes later.
            p.connected = false;
            if !broken && p.now >= at + Duration::from_millis(500) {
                broken = true;
                p.car
                    .handle_disconnected(p.now, Disconnect::Broken("reset".into()));
            }
        }
        false
    });
    assert!(energized && broken, "never reached SessionStop");
    assert!(p.car.is_finished(), "the car hangs");
    assert!(
        matches!(
            p.car_outcome(),
            Some(Outcome::Failed(SessionError::ConnectionLost(_)))
        ),
        "{:?}",
        p.car_outcome()
    );
    let stays_locked = p.car_events.iter().any(|(_, e)| {
        matches!(e, SessionEvent::Failing(SessionError::Physical(why))
            if why.starts_with("connector stays locked: the charger reported 400.0 V after the stop"))
    });
    assert!(stays_locked, "{:?}", p.car_events);
    let actuators = actuator_commands(&p.car_commands);
    assert!(
        !actuators.contains(&HardwareCommand::ConnectorLock(LockRequest::Unlock)),
        "{actuators:?}"
    );
}

/// A hardware fault while the car waits for the inlet to fall below 60 V after SessionStop
/// (the charger's output is still live for a moment): the unlock goes on once the voltage
/// allows it, but the session ends Failed with the fault, not Completed (it used to be
/// dropped without a word).
#[test]
fn a_hardware_fault_while_waiting_to_unlock_ends_the_session_failed() {
    let mut p = pair(2);
    // The charger's WeldingDetectionRes says 20 V (so only the car's inlet holds the unlock
    // back).
    p.filter = Some(Box::new(|from, payload| {
        let Ok(mut msg) = din::decode(payload) else {
            return Fate::Deliver;
        };
        match msg.body.body_element.as_mut() {
            Some(BodyElement::WeldingDetectionRes(res)) if from == Side::Charger => {
                res.evse_present_voltage.multiplier = 0;
                res.evse_present_voltage.value = 20;
                Fate::Replace(din::encode(&msg).unwrap())
            }
            _ => Fate::Deliver,
        }
    }));
    p.connect();
    let faulted_at = p.fault_while_the_unlock_waits("WeldingDetectionReq");
    let Some(Outcome::Failed(SessionError::Hardware(fault))) = p.car_outcome() else {
        panic!("car outcome {:?}", p.car_outcome());
    };
    assert_eq!(fault.adapter, "gpio");
    assert!(
        p.car_events
            .iter()
            .any(|(_, e)| matches!(e, SessionEvent::Failing(SessionError::Hardware(_))))
    );
    // Still the voltage decided the unlock: after the fault, once below 60 V.
    let unlocked_at = p
        .car_commands
        .iter()
        .find(|(_, c)| *c == HardwareCommand::ConnectorLock(LockRequest::Unlock))
        .map(|(t, _)| *t)
        .expect("the car unlocks once the output discharged");
    assert!(unlocked_at > faulted_at);
}

/// A car without an inlet voltage measurement and a charger whose WeldingDetectionRes says
/// FAILED but still reports 400 V at its output: the report is evidence all the same, the
/// connector stays locked (it used to count only with an OK response code).
#[test]
fn a_failed_welding_detection_reporting_400_v_keeps_the_connector_locked() {
    let mut p = pair(2);
    p.hide_inlet_voltage = true;
    p.filter = Some(Box::new(|from, payload| {
        let Ok(mut msg) = din::decode(payload) else {
            return Fate::Deliver;
        };
        match msg.body.body_element.as_mut() {
            Some(BodyElement::WeldingDetectionRes(res)) if from == Side::Charger => {
                res.response_code = ResponseCodeType::FAILED;
                res.evse_present_voltage.multiplier = 0;
                res.evse_present_voltage.value = 400;
                Fate::Replace(din::encode(&msg).unwrap())
            }
            _ => Fate::Deliver,
        }
    }));
    p.connect();
    p.run(Duration::from_secs(120));
    assert!(p.car.is_finished(), "the car hangs");
    assert!(p.sent(Side::Car).contains(&"SessionStopReq"));
    let Some(Outcome::Failed(SessionError::Physical(why))) = p.car_outcome() else {
        panic!("car outcome {:?}", p.car_outcome());
    };
    assert!(
        why.starts_with("connector stays locked: the charger reported 400.0 V after the stop"),
        "{why}"
    );
    let actuators = actuator_commands(&p.car_commands);
    assert!(
        !actuators.contains(&HardwareCommand::ConnectorLock(LockRequest::Unlock)),
        "{actuators:?}"
    );
}
