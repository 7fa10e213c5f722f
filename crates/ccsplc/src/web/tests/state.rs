//! The model without a server: sessions, values, samples, hardware.

use ccs_proto::hardware::{
    Amps, ContactorRequest, CpState, HardwareCommand, Measurement, PowerSupplySetpoint, Volts,
};
use ccs_proto::homeplug::{MacAddress, Nid, Nmk, RunId};
use ccs_proto::session::{ChargingValues, Outcome, Phase, SessionError, SessionEvent};
use ccs_proto::slac::{SlacError, SlacEvent};

use crate::web::state::{Capacity, ControlAccess, EventKind, SessionState, State};
use crate::web::{DashboardControl, Mode};

fn state(samples: usize) -> State {
    State::new(
        Mode::Sim,
        0,
        ControlAccess::default(),
        Capacity {
            events: 100,
            samples,
        },
    )
}

fn values(t: u64, s: &mut State, voltage: f32) {
    s.session_event(
        t,
        &SessionEvent::Values(ChargingValues {
            present_voltage: Some(voltage),
            present_current: Some(10.0),
            ..ChargingValues::default()
        }),
    );
}

#[test]
fn samples_keep_the_whole_session_by_thinning_out() {
    let mut s = state(8);
    // One value every 100 ms for 10 s: far more than 8 samples.
    for k in 0..100_u64 {
        values(k * 100, &mut s, k as f32);
    }
    let samples = &s.history().samples;
    assert!(samples.len() <= 8, "{}", samples.len());
    assert!(samples.len() >= 4, "{}", samples.len());
    // Still spans the session from its start to (nearly) now, in time order.
    assert_eq!(samples.front().unwrap().t_ms, 0);
    assert!(samples.back().unwrap().t_ms >= 8_000);
    assert!(
        samples
            .iter()
            .zip(samples.iter().skip(1))
            .all(|(a, b)| a.t_ms < b.t_ms)
    );
    assert!(s.status().history.sample_interval_ms > 100);
}

#[test]
fn samples_closer_than_the_interval_are_not_recorded() {
    let mut s = state(100);
    values(0, &mut s, 1.0);
    values(50, &mut s, 2.0);
    values(100, &mut s, 3.0);
    let v: Vec<_> = s.history().samples.iter().map(|x| x.voltage).collect();
    assert_eq!(v, [Some(1.0), Some(3.0)]);
    // The status always has the latest value.
    assert_eq!(s.status().values.present_voltage, Some(3.0));
}

#[test]
fn values_overlay_and_power_follows() {
    let mut s = state(10);
    s.session_event(
        0,
        &SessionEvent::Values(ChargingValues {
            soc: Some(40.0),
            present_voltage: Some(400.0),
            present_current: Some(50.0),
            ..ChargingValues::default()
        }),
    );
    // A later report that does not know the SoC keeps the old one.
    s.session_event(
        500,
        &SessionEvent::Values(ChargingValues {
            present_current: Some(100.0),
            ..ChargingValues::default()
        }),
    );
    let v = s.status().values;
    assert_eq!(v.soc, Some(40.0));
    assert_eq!(v.present_power, Some(40_000.0));
    s.command(
        600,
        &HardwareCommand::ChargerPresent {
            voltage: Volts(200.0),
            current: Amps(10.0),
        },
    );
    assert_eq!(s.status().values.present_power, Some(2_000.0));
}

#[test]
fn a_session_runs_finishes_and_a_new_one_resets_the_values() {
    let mut s = state(10);
    assert_eq!(s.status().session.state, SessionState::Idle);
    s.session_event(0, &SessionEvent::PhaseChanged(Phase::Charging));
    values(100, &mut s, 380.0);
    s.control(150, DashboardControl::Stop);
    assert!(s.status().session.stop_requested);
    s.session_event(
        180,
        &SessionEvent::Failing(SessionError::Timeout("V2G_EVCC_Sequence_Timeout")),
    );
    assert_eq!(s.status().session.state, SessionState::Running);
    assert!(
        s.status().session.error.is_some(),
        "the failure shows at once"
    );
    s.session_event(
        200,
        &SessionEvent::Finished(Outcome::Failed(SessionError::Timeout(
            "V2G_EVCC_Sequence_Timeout",
        ))),
    );
    assert_eq!(s.status().session.state, SessionState::Failed);
    assert_eq!(
        s.status().session.error.as_deref(),
        Some("timeout: V2G_EVCC_Sequence_Timeout")
    );
    let change = s.session_event(300, &SessionEvent::PhaseChanged(Phase::Handshake));
    assert!(change.samples_reset);
    let status = s.status();
    assert_eq!(status.session.number, 2);
    assert_eq!(status.session.state, SessionState::Running);
    assert!(!status.session.stop_requested);
    assert_eq!(status.session.error, None);
    assert_eq!(status.values.present_voltage, None);
    assert!(s.history().samples.is_empty());
}

#[test]
fn hardware_commands_become_events_only_when_they_change_something() {
    let mut s = state(10);
    s.command(0, &HardwareCommand::CpState(CpState::C));
    s.command(1, &HardwareCommand::CpState(CpState::C));
    s.command(2, &HardwareCommand::Contactors(ContactorRequest::Closed));
    s.command(
        3,
        &HardwareCommand::PowerSupply(PowerSupplySetpoint {
            enabled: true,
            voltage: Volts(400.0),
            current: Amps(100.0),
        }),
    );
    s.command(
        4,
        &HardwareCommand::PowerSupply(PowerSupplySetpoint {
            enabled: true,
            voltage: Volts(401.0),
            current: Amps(100.0),
        }),
    );
    s.measurement(5, &Measurement::ContactorsClosed(true));
    let texts: Vec<String> = s
        .history()
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Hardware { text } => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        texts,
        [
            "CP state C",
            "contactors closed",
            "power supply on (400.0 V, 100.0 A)"
        ]
    );
    let hw = &s.status().hardware;
    assert_eq!(hw.power_supply_setpoint_voltage, Some(401.0));
    assert_eq!(hw.contactors_closed, Some(true));
}

#[test]
fn slac_events_set_modem_and_slac_state() {
    let mut s = state(10);
    s.slac_event(
        0,
        &SlacEvent::ModemFound {
            modem_mac: MacAddress([0, 0xb0, 0x52, 0, 0, 1]),
            firmware: "MAC-QCA7420-1.4".to_owned(),
        },
    );
    assert_eq!(s.status().modem.state, "found");
    assert!(
        s.status()
            .modem
            .detail
            .as_deref()
            .unwrap()
            .contains("MAC-QCA7420-1.4")
    );
    s.slac_event(
        1,
        &SlacEvent::Paired {
            nmk: Nmk([0; 16]),
            nid: Nid([0; 7]),
            evse_mac: MacAddress([2, 0, 0, 0, 0, 2]),
            ev_mac: MacAddress([2, 0, 0, 0, 0, 1]),
            run_id: RunId([0; 8]),
        },
    );
    assert_eq!(s.status().slac.state, "paired");
    s.slac_event(
        2,
        &SlacEvent::Failed {
            reason: SlacError::NoCharger,
        },
    );
    assert_eq!(s.status().slac.state, "failed");
    assert_eq!(s.history().events.len(), 3);
}

#[test]
fn the_recent_messages_are_bounded() {
    let mut s = state(10);
    for i in 0..30 {
        s.session_event(
            i,
            &SessionEvent::Received {
                name: "CurrentDemandRes",
                summary: format!("{i}"),
            },
        );
    }
    let m = &s.status().messages;
    assert_eq!(m.len(), 12);
    assert_eq!(m.back().unwrap().summary, "29");
    assert_eq!(m.front().unwrap().summary, "18");
}

#[test]
fn status_only_changes_are_coalesced_events_are_not() {
    let mut s = state(10);
    let change = s.note(1_000, "first".to_owned());
    assert!(s.send_now(&change), "an event goes at once");
    let change = s.measurement(1_010, &Measurement::Soc(ccs_proto::hardware::Percent(50.0)));
    assert!(!s.send_now(&change), "a measurement right after waits");
    let change = s.measurement(1_020, &Measurement::Soc(ccs_proto::hardware::Percent(51.0)));
    assert!(!s.send_now(&change));
    assert!(!s.flush_due(1_050), "not yet due");
    assert!(s.flush_due(1_100), "due 100 ms after the last update");
    assert!(!s.flush_due(1_300), "nothing left to send");
    let change = s.note(1_301, "second".to_owned());
    assert!(s.send_now(&change), "events are never held back");
    let change = s.measurement(1_500, &Measurement::Soc(ccs_proto::hardware::Percent(52.0)));
    assert!(
        s.send_now(&change),
        "a measurement long after the last update goes at once"
    );
}

#[test]
fn late_values_do_not_start_a_new_session() {
    let mut s = state(10);
    s.session_event(0, &SessionEvent::PhaseChanged(Phase::Charging));
    s.session_event(10, &SessionEvent::Finished(Outcome::Completed));
    values(20, &mut s, 12.0);
    assert_eq!(s.status().session.number, 1);
    assert_eq!(s.status().session.state, SessionState::Completed);
    s.session_event(
        30,
        &SessionEvent::Sent {
            name: "SessionSetupReq",
            summary: String::new(),
        },
    );
    assert_eq!(s.status().session.number, 2);
}
