//! Whole sessions under the virtual clock: SLAC → SDP → TCP → sessions → stop, with the
//! test-only toy sessions of `support` (protocol-independent orchestration).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod support;

use std::cell::RefCell;
use std::rc::Rc;

use ccs_proto::hardware::Percent;
use ccs_proto::homeplug::MacAddress;
use ccs_proto::session::{Outcome, Phase};
use ccs_proto::time::Duration;
use ccs_sim::world::frames::{IpFrame, Transport};
use ccs_sim::world::{
    ChargerConfig, Direction, LinkMode, Side, SimReport, StopCondition, World, WorldConfig,
    WorldEvent, WorldEventKind, WorldFailure,
};

use support::toy_sessions;

/// The default configuration changed by `f` (the config is `#[non_exhaustive]`).
fn config(f: impl FnOnce(&mut WorldConfig)) -> WorldConfig {
    let mut c = WorldConfig::default();
    f(&mut c);
    c
}

fn run_logged(config: WorldConfig) -> (SimReport, Vec<WorldEvent>) {
    let mut world = World::new(config, Box::new(toy_sessions)).unwrap();
    let mut log = Vec::new();
    while world.step() {
        while let Some(e) = world.poll_event() {
            log.push(e);
        }
    }
    (world.report(), log)
}

fn assert_completed(report: &SimReport, log: &[WorldEvent]) {
    if !report.completed() {
        for e in log.iter().rev().take(60).rev() {
            eprintln!("{:>8} {} {:?}", e.at.total_millis(), e.side, e.kind);
        }
    }
    assert!(report.completed(), "{report:#?}");
}

#[test]
fn a_whole_session_completes_under_virtual_time() {
    let (report, log) = run_logged(WorldConfig::default());
    assert_completed(&report, &log);

    // The milestones come in order, with realistic virtual timing.
    let paired = report.slac_paired_at.unwrap();
    let discovered = report.sdp_discovered_at.unwrap();
    let connected = report.tcp_connected_at.unwrap();
    assert!(paired < discovered && discovered < connected);
    // Plug-in at 3 s; matching takes 1–2 s (the Ioniq: 1.46 s PARM.REQ → MATCH.CNF), then
    // the car's modem applies the key, restarts and joins (about 1.7 s more here).
    let slac = paired.total_millis() - 3_000;
    assert!(slac > 1_000 && slac < 5_000, "SLAC took {slac} ms");
    let charging = report.phase_at(Side::Ev, Phase::Charging).unwrap();
    let stop = report.phase_at(Side::Ev, Phase::PowerDeliveryStop).unwrap();
    let charged_for = stop.saturating_duration_since(charging);
    assert!(
        charged_for >= Duration::from_secs(60) && charged_for < Duration::from_secs(61),
        "charged for {charged_for:?}"
    );
    // The stop was the world's, for the charge time.
    assert!(log.iter().any(|e| matches!(
        e.kind,
        WorldEventKind::StopRequested(ccs_sim::world::StopReason::ChargeTimeReached)
    )));
    // Physics: the battery took energy, precharge matched before the contactors closed.
    assert!(report.soc_end.0 > report.soc_start.0);
    assert!(report.energy_wh > 100.0, "{}", report.energy_wh);
    assert!(report.max_current > 100.0);
    assert!(report.contactor_close_step.unwrap() < 5.0);
    assert_eq!(report.matched_charger, Some(0));
    assert_eq!(
        report.messages.ev_sent, report.messages.evse_sent,
        "every request answered"
    );
    assert!(report.messages.by_name["CurrentDemandReq"] > 300);
    assert_eq!(report.tcp_retransmissions, 0);
}

#[test]
fn same_seed_same_report_other_seed_other_details() {
    let seeded = |seed| config(|c| c.seed = seed);
    let a = run_logged(seeded(7));
    let b = run_logged(seeded(7));
    assert_eq!(a.0, b.0);
    assert_eq!(a.1, b.1);
    let c = run_logged(seeded(8));
    assert!(c.0.completed());
    assert_ne!(a.0.ended_at, c.0.ended_at, "delays are drawn from the seed");
}

#[test]
fn the_car_picks_the_nearer_of_two_chargers() {
    let near = MacAddress([0x02, 0, 0, 0, 0x5e, 0x01]);
    let far = MacAddress([0x02, 0, 0, 0, 0x5e, 0x02]);
    for (link, plugged, chargers) in [
        (
            LinkMode::Powerline,
            1,
            vec![
                ChargerConfig::new(far).with_attenuation(35),
                ChargerConfig::new(near).with_attenuation(20),
            ],
        ),
        (
            LinkMode::Powerline,
            0,
            vec![
                ChargerConfig::new(near).with_attenuation(18),
                ChargerConfig::new(far).with_attenuation(40),
            ],
        ),
        (
            LinkMode::NoModem,
            1,
            vec![
                ChargerConfig::new(far).with_attenuation(30),
                ChargerConfig::new(near).with_attenuation(22),
            ],
        ),
    ] {
        let (report, log) = run_logged(config(|c| {
            c.link = link;
            c.chargers = chargers;
            c.plugged_charger = plugged;
            c.stop = StopCondition::after(Duration::from_secs(10));
        }));
        assert_completed(&report, &log);
        assert_eq!(report.matched_charger, Some(plugged));
        // Both chargers heard the car's SLAC, only the matched one spoke V2G.
        let other = Side::Evse(1 - plugged);
        assert!(
            log.iter()
                .any(|e| e.side == other && matches!(e.kind, WorldEventKind::Slac(_)))
        );
        assert!(!log.iter().any(|e| e.side == other
            && matches!(
                e.kind,
                WorldEventKind::TcpConnected { .. } | WorldEventKind::Session(_)
            )));
    }
}

#[test]
fn lossy_line_still_completes_with_retransmissions() {
    let mut retransmitted = 0;
    for seed in 1..=4 {
        let (report, log) = run_logged(config(|c| {
            c.seed = seed;
            c.loss = 0.02;
            c.stop = StopCondition::after(Duration::from_secs(20));
        }));
        assert_completed(&report, &log);
        retransmitted += report.tcp_retransmissions;
    }
    assert!(retransmitted > 0, "2 % loss must have hit some segment");
}

#[test]
fn a_dead_line_fails_cleanly_within_the_limits() {
    let (report, _) = run_logged(config(|c| c.loss = 1.0));
    assert!(!report.completed());
    assert!(
        matches!(
            report.failure,
            Some(WorldFailure::Slac(_) | WorldFailure::TimeLimit(_))
        ),
        "{:?}",
        report.failure
    );
    assert_eq!(report.tcp_connected_at, None);
    assert!(report.ended_at <= ccs_proto::time::Instant::ZERO + Duration::from_secs(600));
}

#[test]
fn a_link_that_dies_mid_session_ends_the_world_within_its_limits() {
    // The toy sessions have no timers: each side notices only through TCP's retransmission
    // limit, and a side with nothing unacknowledged would wait forever, which the world's
    // time limit ends.
    let mut world = World::new(
        config(|c| {
            c.stop = StopCondition::after(Duration::from_secs(600));
            c.time_limit = Duration::from_secs(120);
            c.tcp.max_retransmissions = 3;
        }),
        Box::new(toy_sessions),
    )
    .unwrap();
    let mut broke = false;
    while world.step() {
        while world.poll_event().is_some() {}
        if !broke && world.report().phase_at(Side::Ev, Phase::Charging).is_some() {
            world.set_loss(1.0);
            broke = true;
        }
    }
    let report = world.report();
    assert!(broke);
    assert!(!report.completed());
    assert!(
        matches!(report.ev_outcome, Some(Outcome::Failed(_))),
        "{report:?}"
    );
    assert!(report.tcp_retransmissions >= 3);
    match &report.evse_outcome {
        Some(Outcome::Failed(_)) => assert_eq!(report.failure, None),
        None => assert_eq!(
            report.failure,
            Some(WorldFailure::TimeLimit(
                ccs_proto::time::Instant::ZERO + Duration::from_secs(120)
            ))
        ),
        Some(Outcome::Completed) => panic!("the charger cannot complete over a dead link"),
    }
}

#[test]
fn target_soc_stops_the_charge() {
    let (report, log) = run_logged(config(|c| {
        c.stop = StopCondition::at_soc(Percent(30.5));
        c.plant.initial_soc = Percent(30.0);
    }));
    assert_completed(&report, &log);
    assert!(
        report.soc_end.0 >= 30.5 && report.soc_end.0 < 30.7,
        "{:?}",
        report.soc_end
    );
    assert!(log.iter().any(|e| matches!(
        e.kind,
        WorldEventKind::StopRequested(ccs_sim::world::StopReason::TargetSocReached(_))
    )));
}

#[test]
fn tiny_segments_split_every_v2gtp_message_and_the_deframer_copes() {
    let (report, log) = run_logged(config(|c| {
        c.tcp.mss = 5;
        c.stop = StopCondition::after(Duration::from_secs(5));
    }));
    assert_completed(&report, &log);
}

#[test]
fn no_modem_link_completes_with_slac_on_the_bare_wire() {
    let (report, log) = run_logged(config(|c| {
        c.link = LinkMode::NoModem;
        c.stop = StopCondition::after(Duration::from_secs(5));
    }));
    assert_completed(&report, &log);
    assert!(report.slac_paired_at.is_some());
}

#[test]
fn paired_link_skips_slac() {
    let (report, log) = run_logged(config(|c| {
        c.link = LinkMode::Paired;
        c.stop = StopCondition::after(Duration::from_secs(5));
    }));
    assert_completed(&report, &log);
    assert_eq!(report.slac_paired_at, None);
    assert!(
        !log.iter()
            .any(|e| matches!(e.kind, WorldEventKind::Slac(_)))
    );
}

#[test]
fn the_frame_tap_sees_real_frames_with_real_addresses_and_ports() {
    let mut world = World::new(
        config(|c| c.stop = StopCondition::after(Duration::from_secs(2))),
        Box::new(toy_sessions),
    )
    .unwrap();
    type Captured = Vec<(Side, Direction, Vec<u8>)>;
    let frames: Rc<RefCell<Captured>> = Rc::default();
    let sink = Rc::clone(&frames);
    world.set_frame_tap(Box::new(move |r| {
        sink.borrow_mut()
            .push((r.side, r.direction, r.frame.to_vec()));
    }));
    let report = world.run();
    assert!(report.completed());
    let frames = frames.borrow();
    let sent: Vec<_> = frames
        .iter()
        .filter(|(_, d, _)| *d == Direction::Sent)
        .collect();
    assert_eq!(sent.len() as u64, report.frames_sent);
    // SLAC first (EtherType 88E1), then the SDP request to [ff02::1]:15118.
    assert_eq!(&sent[0].2[12..14], &[0x88, 0xe1]);
    let ip: Vec<IpFrame> = sent
        .iter()
        .filter_map(|(_, _, f)| IpFrame::parse(f).ok())
        .collect();
    let Transport::Udp { dst_port, .. } = &ip[0].transport else {
        panic!("first IP frame is not SDP: {:?}", ip[0]);
    };
    assert_eq!(*dst_port, 15118);
    assert_eq!(ip[0].dst, "ff02::1".parse::<core::net::Ipv6Addr>().unwrap());
    // The TCP port is the one the SDP response announced, from the dynamic range.
    let sdp_port = ip
        .iter()
        .find_map(|f| match &f.transport {
            Transport::Udp {
                src_port: 15118,
                payload,
                ..
            } => Some(u16::from_be_bytes([payload[24], payload[25]])),
            _ => None,
        })
        .unwrap();
    assert!(sdp_port >= 49152);
    let syn = ip
        .iter()
        .find_map(|f| match &f.transport {
            Transport::Tcp(s) => Some(s.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(syn.dst_port, sdp_port);
    assert_eq!(syn.flags, ccs_sim::world::frames::TcpFlags::SYN);
}
