//! The real DIN 70121 session machines of ccs-proto in the whole world: SLAC over the
//! simulated modems, SDP, TCP, the handshake, the DIN sequence with the physics, and the stop.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use ccs_proto::hardware::{ContactorRequest, HardwareCommand};
use ccs_proto::session::{
    EvccConfig, EvccSession, Phase, SeccConfig, SeccSession, SessionEvent, V2gSession,
};
use ccs_proto::time::{Duration, Instant};
use ccs_sim::world::{
    LinkMode, SessionSlot, Side, SimReport, StopCondition, World, WorldConfig, WorldEvent,
    WorldEventKind,
};

fn din_sessions(slot: &SessionSlot) -> Box<dyn V2gSession> {
    match slot.side {
        Side::Ev => Box::new(EvccSession::new(
            EvccConfig::default(),
            slot.mac.0,
            slot.now,
        )),
        Side::Evse(_) => {
            let mut id = [0u8; 8];
            id.copy_from_slice(&slot.entropy[..8]);
            Box::new(SeccSession::new(SeccConfig::default(), id, slot.now))
        }
    }
}

/// Runs the world; records the charging current whenever the car commands its contactors.
fn run(config: WorldConfig) -> (SimReport, Vec<WorldEvent>, Vec<(ContactorRequest, f32)>) {
    let mut world = World::new(config, Box::new(din_sessions)).unwrap();
    let mut log = Vec::new();
    let mut contactors = Vec::new();
    while world.step() {
        while let Some(e) = world.poll_event() {
            if let WorldEventKind::Command(HardwareCommand::Contactors(req)) = e.kind {
                contactors.push((req, world.plant().power_supply().current().0));
            }
            log.push(e);
        }
    }
    let report = world.report();
    if !report.completed() {
        for e in log.iter().rev().take(40).rev() {
            eprintln!("{:>8} {} {:?}", e.at.total_millis(), e.side, e.kind);
        }
    }
    (report, log, contactors)
}

#[test]
fn a_din_session_charges_over_the_simulated_powerline_and_stops_safely() {
    let mut config = WorldConfig::default();
    config.stop = StopCondition::after(Duration::from_secs(30));
    let (report, log, contactors) = run(config);
    assert!(report.completed(), "{report:#?}");

    // The whole DIN sequence ran on both sides.
    for phase in [
        Phase::SessionSetup,
        Phase::CableCheck,
        Phase::PreCharge,
        Phase::Charging,
        Phase::WeldingDetection,
        Phase::SessionStop,
    ] {
        assert!(report.phase_at(Side::Ev, phase).is_some(), "car {phase:?}");
        assert!(
            report.phase_at(Side::Evse(0), phase).is_some(),
            "charger {phase:?}"
        );
    }
    assert!(log.iter().any(|e| matches!(
        &e.kind,
        WorldEventKind::Session(SessionEvent::ProtocolNegotiated { .. })
    )));
    let charging = report.phase_at(Side::Ev, Phase::Charging).unwrap();
    let stop = report.phase_at(Side::Ev, Phase::PowerDeliveryStop).unwrap();
    let charged = stop.saturating_duration_since(charging);
    assert!(charged >= Duration::from_secs(30) && charged < Duration::from_secs(32));
    assert!(report.messages.by_name["CurrentDemandReq"] > 100);
    // Energy flowed, but never more than the charger's announced maximum power allows
    // (SeccConfig's default 10 kW, for at most 32 s).
    let max_wh = f64::from(SeccConfig::default().limits.max_power.0) * 32.0 / 3600.0;
    assert!(
        report.energy_wh > 50.0 && report.energy_wh <= max_wh,
        "{} Wh",
        report.energy_wh
    );
    assert!(report.soc_end.0 > report.soc_start.0);
    // A lossless line delivers in order: nothing had to be sent twice (the SECC's FIN right
    // behind SessionStopRes used to overtake it).
    assert_eq!(report.tcp_retransmissions, 0);

    // Safety (DESIGN.md rule 5): the contactors closed after precharge matched, and opened
    // only after the current had fallen.
    assert!(report.contactor_close_step.unwrap() < 20.0);
    let opened: Vec<f32> = contactors
        .iter()
        .filter(|(r, _)| *r == ContactorRequest::Open)
        .map(|(_, i)| *i)
        .collect();
    assert!(!opened.is_empty());
    assert!(
        opened.iter().all(|i| *i < 1.0),
        "opened under load: {opened:?}"
    );
}

#[test]
fn din_over_every_link_mode_and_a_lossy_line() {
    for (link, loss, seed) in [
        (LinkMode::NoModem, 0.0, 3),
        (LinkMode::Paired, 0.0, 4),
        (LinkMode::Powerline, 0.01, 5),
    ] {
        let mut config = WorldConfig::default();
        config.link = link;
        config.loss = loss;
        config.seed = seed;
        config.stop = StopCondition::after(Duration::from_secs(10));
        let (report, _, _) = run(config);
        assert!(report.completed(), "{link:?} loss {loss}: {report:#?}");
    }
}

#[test]
fn din_runs_are_reproducible() {
    let config = || {
        let mut c = WorldConfig::default();
        c.seed = 42;
        c.stop = StopCondition::after(Duration::from_secs(5));
        c
    };
    let (a, log_a, _) = run(config());
    let (b, log_b, _) = run(config());
    assert!(a.completed());
    assert_eq!(a, b);
    assert_eq!(log_a, log_b);
}

#[test]
fn a_link_lost_while_charging_ends_both_sides_in_the_safe_state() {
    let mut config = WorldConfig::default();
    config.stop = StopCondition::after(Duration::from_secs(600));
    config.time_limit = Duration::from_secs(200);
    let mut world = World::new(config, Box::new(din_sessions)).unwrap();
    let mut broke_at = None;
    let mut opened_at_current = Vec::new();
    let mut log = Vec::new();
    while world.step() {
        while let Some(e) = world.poll_event() {
            if let WorldEventKind::Command(HardwareCommand::Contactors(ContactorRequest::Open)) =
                e.kind
            {
                opened_at_current.push(world.plant().power_supply().current().0);
            }
            log.push(e);
        }
        // Ten seconds into the charging loop the powerline goes dead.
        if broke_at.is_none()
            && world
                .report()
                .phase_at(Side::Ev, Phase::Charging)
                .is_some_and(|t| world.now() >= t + Duration::from_secs(10))
        {
            world.set_loss(1.0);
            broke_at = Some(world.now());
        }
    }
    let report = world.report();
    let broke_at = broke_at.unwrap();
    assert!(!report.completed());
    assert!(
        matches!(
            report.ev_outcome,
            Some(ccs_proto::session::Outcome::Failed(_))
        ),
        "{:?}",
        report.ev_outcome
    );
    // The car noticed within its message timeout, not at the world's time limit.
    let car_done = log
        .iter()
        .find(|e| {
            e.side == Side::Ev
                && matches!(e.kind, WorldEventKind::Session(SessionEvent::Finished(_)))
        })
        .unwrap()
        .at;
    assert!(
        car_done < broke_at + Duration::from_secs(10),
        "{car_done:?}"
    );
    // Safe state: power off, contactors opened without load, nothing flows at the end.
    assert!(!opened_at_current.is_empty());
    assert!(
        opened_at_current.iter().all(|i| *i < 1.0),
        "{opened_at_current:?}"
    );
    assert!(!world.plant().contactors_closed());
    assert!(world.plant().power_supply().current().0.abs() < 0.1);
}

#[test]
fn a_car_that_arrives_long_after_power_up_still_gets_a_fresh_charger_session() {
    // The SECC's V2G_SECC_Sequence_Timeout (60 s) runs from the TCP connection, not from
    // the charger's power-up: the session is made when the car connects.
    let mut config = WorldConfig::default();
    config.slac_start_delay = Duration::from_secs(90);
    config.stop = StopCondition::after(Duration::from_secs(5));
    let (report, _, _) = run(config);
    assert!(report.completed(), "{report:#?}");
    assert!(report.tcp_connected_at.unwrap() > Instant::ZERO + Duration::from_secs(90));
}

#[test]
fn a_user_stop_ends_charging_early_and_normally() {
    let mut config = WorldConfig::default();
    config.stop = StopCondition::after(Duration::from_secs(600));
    let mut world = World::new(config, Box::new(din_sessions)).unwrap();
    assert!(
        !world.request_user_stop(),
        "no session yet: nothing to stop"
    );
    let mut charging_since = None;
    let mut stop_events = 0;
    while world.step() {
        while let Some(e) = world.poll_event() {
            match e.kind {
                WorldEventKind::Session(SessionEvent::PhaseChanged(Phase::Charging))
                    if e.side == Side::Ev =>
                {
                    charging_since = Some(e.at);
                }
                WorldEventKind::StopRequested(ccs_sim::world::StopReason::UserRequest) => {
                    stop_events += 1;
                }
                _ => {}
            }
        }
        if let Some(since) = charging_since
            && world.now() >= since + Duration::from_secs(5)
        {
            assert!(world.request_user_stop());
            assert!(world.request_user_stop(), "a second press changes nothing");
        }
    }
    let report = world.report();
    assert!(report.completed(), "{report:#?}");
    assert_eq!(stop_events, 1);
    let charged = report
        .phase_at(Side::Ev, Phase::PowerDeliveryStop)
        .unwrap()
        .saturating_duration_since(report.phase_at(Side::Ev, Phase::Charging).unwrap());
    assert!(
        charged < Duration::from_secs(10),
        "stopped after {charged:?}, not after the configured 600 s"
    );
}
