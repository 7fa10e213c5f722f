//! The EV and EVSE machines wired back to back without modems (`--no-modem`, a veth pair),
//! plus the checks a machine must do on its own: RunID filtering, garbage input.
// Helpers outside #[test] functions unwrap too: a failure here is a test failure.
#![allow(clippy::unwrap_used)]

use ccs_proto::homeplug::slac_msg::SlacParmCnf;
use ccs_proto::homeplug::{MacAddress, Mme, MmeFrame, Nid, Nmk, RunId};
use ccs_proto::slac::keys::SecurityLevel;
use ccs_proto::slac::{
    EvSlac, EvSlacConfig, EvseSlac, EvseSlacConfig, ModemMode, SlacError, SlacEvent, SlacTimer,
};
use ccs_proto::time::{Duration, Instant};

const EV: MacAddress = MacAddress([0x02, 0, 0, 0, 0, 0x0e]);
const EVSE: MacAddress = MacAddress([0x02, 0, 0, 0, 0, 0x05]);

fn configs() -> (EvSlacConfig, EvseSlacConfig) {
    let mut ev = EvSlacConfig::default();
    ev.modem = ModemMode::None;
    let mut evse = EvseSlacConfig::default();
    evse.modem = ModemMode::None;
    (ev, evse)
}

/// Runs both machines over a perfect 1 ms link until the EV reports, at most `limit`.
fn run(
    ev: &mut EvSlac,
    evse: &mut EvseSlac,
    mut now: Instant,
    limit: Instant,
) -> (Vec<SlacEvent>, Vec<SlacEvent>) {
    let (mut ev_events, mut evse_events) = (Vec::new(), Vec::new());
    for _ in 0..100_000 {
        let mut moved = false;
        while let Some(f) = ev.poll_transmit() {
            evse.handle_frame(now, &f).unwrap();
            moved = true;
        }
        while let Some(f) = evse.poll_transmit() {
            ev.handle_frame(now, &f).unwrap();
            moved = true;
        }
        while let Some(e) = ev.poll_event() {
            ev_events.push(e);
        }
        while let Some(e) = evse.poll_event() {
            evse_events.push(e);
        }
        if ev_events
            .iter()
            .any(|e| matches!(e, SlacEvent::Paired { .. } | SlacEvent::Failed { .. }))
        {
            break;
        }
        if moved {
            continue;
        }
        let Some(next) = [ev.poll_timeout(), evse.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
        else {
            break;
        };
        if next > limit {
            break;
        }
        now = now.max(next);
        ev.handle_timeout(now);
        evse.handle_timeout(now);
    }
    (ev_events, evse_events)
}

#[test]
fn direct_link_pairs_without_modems() {
    let (ev_config, evse_config) = configs();
    let now = Instant::ZERO;
    let nmk = Nmk([0x5a; 16]);
    let mut evse = EvseSlac::new(evse_config, EVSE, nmk, now);
    assert!(evse.is_ready());
    let mut ev = EvSlac::new(ev_config, EV, [1; 32]);
    ev.start(now);
    let (ev_events, evse_events) = run(&mut ev, &mut evse, now, Instant::from_millis(10_000));
    let nid = Nid::from_nmk(&nmk, SecurityLevel::SimpleConnect);
    assert_eq!(
        ev_events.last(),
        Some(&SlacEvent::Paired {
            nmk,
            nid,
            evse_mac: EVSE,
            ev_mac: EV,
            run_id: ev.run_id()
        })
    );
    assert!(evse_events.contains(&SlacEvent::Paired {
        nmk,
        nid,
        evse_mac: EVSE,
        ev_mac: EV,
        run_id: ev.run_id()
    }));
    assert_eq!(evse.matched_ev(), Some(EV));
    // No modem: the charger reports the fixed profile for the ten sounds it heard.
    assert!(
        ev_events
            .iter()
            .any(|e| matches!(e, SlacEvent::AttenuationReported { evse_mac: EVSE, .. }))
    );
}

#[test]
fn a_cnf_for_another_run_is_ignored() {
    let (ev_config, _) = configs();
    let mut ev = EvSlac::new(ev_config, EV, [2; 32]);
    let now = Instant::ZERO;
    ev.start(now);
    let req = MmeFrame::parse(&ev.poll_transmit().unwrap()).unwrap();
    let Mme::SlacParmReq(req) = req.body else {
        panic!("{req}")
    };
    let cnf = |run_id: RunId| {
        MmeFrame::new(
            EV,
            EVSE,
            Mme::SlacParmCnf(SlacParmCnf {
                msound_target: MacAddress::BROADCAST,
                num_sounds: 10,
                time_out: 6,
                resp_type: 1,
                forwarding_sta: EV,
                application_type: 0,
                security_type: 0,
                run_id,
            }),
        )
        .emit()
    };
    let mut wrong = req.run_id;
    wrong.0[0] ^= 1;
    ev.handle_frame(now, &cnf(wrong)).unwrap();
    // Still waiting: the next deadline is the PARM.REQ retry at TT_match_response.
    assert_eq!(ev.poll_timeout(), Some(now + Duration::from_millis(200)));
    ev.handle_frame(now, &cnf(req.run_id)).unwrap();
    // Accepted: TP_match_sequence before the first START_ATTEN_CHAR.
    assert_eq!(ev.poll_timeout(), Some(now + Duration::from_millis(50)));
}

#[test]
fn garbage_frames_are_rejected_without_disturbing_either_machine() {
    let (ev_config, evse_config) = configs();
    let now = Instant::ZERO;
    let mut evse = EvseSlac::new(evse_config, EVSE, Nmk([1; 16]), now);
    let mut ev = EvSlac::new(ev_config, EV, [3; 32]);
    ev.start(now);
    // A truncated PARM.CNF and an IPv6 frame.
    let mut truncated = EV.0.to_vec();
    truncated.extend_from_slice(&EVSE.0);
    truncated.extend_from_slice(&[0x88, 0xe1, 0x01, 0x65, 0x60, 0, 0, 0xff]);
    assert!(ev.handle_frame(now, &truncated).is_err());
    assert!(evse.handle_frame(now, &truncated).is_err());
    let mut ipv6 = truncated.clone();
    ipv6[12] = 0x86;
    ipv6[13] = 0xdd;
    assert!(ev.handle_frame(now, &ipv6).is_ok());
    assert!(evse.handle_frame(now, &[0u8; 3]).is_err());
    let (ev_events, _) = run(&mut ev, &mut evse, now, Instant::from_millis(10_000));
    assert!(matches!(ev_events.last(), Some(SlacEvent::Paired { .. })));
}

#[test]
fn without_a_charger_the_ev_gives_up_after_c_conn_max_match_attempts() {
    let (ev_config, _) = configs();
    let mut ev = EvSlac::new(ev_config, EV, [4; 32]);
    let mut now = Instant::ZERO;
    ev.start(now);
    let mut requests = 0;
    let mut events = Vec::new();
    for _ in 0..1000 {
        while let Some(f) = ev.poll_transmit() {
            assert!(matches!(
                MmeFrame::parse(&f).unwrap().body,
                Mme::SlacParmReq(_)
            ));
            requests += 1;
        }
        while let Some(e) = ev.poll_event() {
            events.push(e);
        }
        let Some(next) = ev.poll_timeout() else { break };
        now = next;
        ev.handle_timeout(now);
    }
    assert_eq!(requests, 9, "3 attempts x (1 + C_EV_match_retry)");
    assert_eq!(
        events.last(),
        Some(&SlacEvent::Failed {
            reason: SlacError::Timeout(SlacTimer::TtMatchResponse)
        })
    );
    assert!(!ev.is_active());
    // 3 x 600 ms of waiting + 2 x TT_matching_rate.
    assert_eq!(now, Instant::from_millis(3 * 600 + 2 * 400));
}

#[test]
fn the_charger_reports_slac_init_timeout() {
    let (_, evse_config) = configs();
    let now = Instant::ZERO;
    let mut evse = EvseSlac::new(evse_config, EVSE, Nmk([1; 16]), now);
    while evse.poll_event().is_some() {}
    evse.arm_slac_init(now);
    assert_eq!(evse.poll_timeout(), Some(Instant::from_millis(40_000)));
    evse.handle_timeout(Instant::from_millis(40_000));
    assert_eq!(evse.poll_event(), Some(SlacEvent::SlacInitTimeout));
    assert_eq!(evse.poll_timeout(), None);
}

#[test]
fn a_second_car_starting_mid_run_does_not_abort_the_first() {
    // Cross-talk at a multi-charger site: the charger hears a neighbour's car start SLAC
    // while its own car is sounding. Both runs go on, keyed by (MAC, RunID).
    let (ev_config, evse_config) = configs();
    let mut now = Instant::ZERO;
    let nmk = Nmk([0x77; 16]);
    let mut evse = EvseSlac::new(evse_config, EVSE, nmk, now);
    let ev_b_mac = MacAddress([0x02, 0, 0, 0, 0, 0x0b]);
    let mut ev_a = EvSlac::new(ev_config.clone(), EV, [5; 32]);
    let mut ev_b = EvSlac::new(ev_config, ev_b_mac, [6; 32]);
    ev_a.start(now);
    let mut b_started = false;
    let (mut a_events, mut b_events, mut evse_events) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..100_000 {
        if !b_started && now >= Instant::from_millis(150) {
            ev_b.start(now);
            b_started = true;
        }
        // A shared medium: broadcasts reach everyone else, unicast only its destination.
        let mut moved = false;
        let mut frames = Vec::new();
        while let Some(f) = ev_a.poll_transmit() {
            frames.push((EV, f));
        }
        while let Some(f) = ev_b.poll_transmit() {
            frames.push((ev_b_mac, f));
        }
        while let Some(f) = evse.poll_transmit() {
            frames.push((EVSE, f));
        }
        for (from, f) in frames {
            moved = true;
            let to = MacAddress(f[0..6].try_into().unwrap());
            if from != EVSE && (to == EVSE || to.is_group()) {
                evse.handle_frame(now, &f).unwrap();
            }
            if from != EV && (to == EV || to.is_group()) {
                ev_a.handle_frame(now, &f).unwrap();
            }
            if from != ev_b_mac && (to == ev_b_mac || to.is_group()) {
                ev_b.handle_frame(now, &f).unwrap();
            }
        }
        a_events.extend(std::iter::from_fn(|| ev_a.poll_event()));
        b_events.extend(std::iter::from_fn(|| ev_b.poll_event()));
        evse_events.extend(std::iter::from_fn(|| evse.poll_event()));
        let done = |events: &Vec<SlacEvent>| {
            events
                .iter()
                .any(|e| matches!(e, SlacEvent::Paired { .. } | SlacEvent::Failed { .. }))
        };
        if done(&a_events) && done(&b_events) {
            break;
        }
        if moved {
            continue;
        }
        let next = [
            ev_a.poll_timeout(),
            ev_b.poll_timeout(),
            evse.poll_timeout(),
            (!b_started).then_some(Instant::from_millis(150)),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap();
        assert!(next < Instant::from_millis(20_000), "stuck");
        now = now.max(next);
        ev_a.handle_timeout(now);
        ev_b.handle_timeout(now);
        evse.handle_timeout(now);
    }
    assert!(
        matches!(a_events.last(), Some(SlacEvent::Paired { .. })),
        "{a_events:?}"
    );
    assert!(
        matches!(b_events.last(), Some(SlacEvent::Paired { .. })),
        "{b_events:?}"
    );
    assert!(
        !a_events
            .iter()
            .any(|e| matches!(e, SlacEvent::AttemptFailed { .. })),
        "{a_events:?}"
    );
    assert!(
        !evse_events
            .iter()
            .any(|e| matches!(e, SlacEvent::SessionFailed { .. })),
        "{evse_events:?}"
    );
}

#[test]
fn pyplc_broadcast_atten_char_ind_is_not_taken_for_a_charger() {
    // pyPLC's EVSE abuses broadcast CM_ATTEN_CHAR.IND as a power-supply channel (Tesla
    // Model X capture); even with our RunID in it, it is no charger's report.
    use ccs_proto::homeplug::slac_msg::AttenCharInd;
    let (ev_config, evse_config) = configs();
    let now = Instant::ZERO;
    let mut ev = EvSlac::new(ev_config, EV, [7; 32]);
    let mut evse = EvseSlac::new(evse_config, EVSE, Nmk([1; 16]), now);
    ev.start(now);
    // Let the EV get to sounding.
    while let Some(f) = ev.poll_transmit() {
        evse.handle_frame(now, &f).unwrap();
    }
    while let Some(f) = evse.poll_transmit() {
        ev.handle_frame(now, &f).unwrap();
    }
    let special = MmeFrame::new(
        MacAddress::BROADCAST,
        MacAddress([0x02, 0, 0, 0, 0, 0x99]),
        Mme::AttenCharInd(AttenCharInd {
            application_type: 0,
            security_type: 0,
            source_address: MacAddress::BROADCAST,
            run_id: ev.run_id(),
            source_id: [0; 17],
            resp_id: [0; 17],
            num_sounds: 10,
            groups: {
                let mut g = vec![0u8; 58];
                g[..3].copy_from_slice(&[0xaf, 0xfe, 0xdc]);
                g
            },
        }),
    );
    ev.handle_frame(now, &special.emit()).unwrap();
    assert!(
        ev.poll_transmit().is_none(),
        "no ATTEN_CHAR.RSP to a broadcast IND"
    );
    let (events, _) = run(&mut ev, &mut evse, now, Instant::from_millis(10_000));
    let chosen: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            SlacEvent::EvseChosen {
                evse_mac,
                candidates,
                ..
            } => Some((*evse_mac, *candidates)),
            _ => None,
        })
        .collect();
    assert_eq!(chosen, vec![(EVSE, 1)]);
}

#[test]
fn the_ev_keys_its_modem_with_the_nid_from_match_cnf_not_a_derived_one() {
    use ccs_proto::homeplug::key_msg::SetKeyCnf;
    use ccs_proto::homeplug::vendor_msg::{PlLinkStatusCnf, SwVerCnf};
    let modem = MacAddress([0x98, 0x48, 0x27, 0, 0, 0x0e]);
    let mut config = EvSlacConfig::default();
    config.modem = ModemMode::Qca;
    let mut evse_config = EvseSlacConfig::default();
    evse_config.modem = ModemMode::None;
    let mut now = Instant::ZERO;
    let mut ev = EvSlac::new(config, EV, [8; 32]);
    let mut evse = EvseSlac::new(evse_config, EVSE, Nmk([0x33; 16]), now);
    ev.start(now);
    // A fake modem: answers VS_SW_VER, SET_KEY (01) and link status (up).
    let from_modem = |body| MmeFrame::new(EV, modem, body).emit();
    let mut set_key = None;
    let mut events = Vec::new();
    for _ in 0..10_000 {
        let mut frames = Vec::new();
        while let Some(f) = ev.poll_transmit() {
            frames.push(f);
        }
        for f in &frames {
            let parsed = MmeFrame::parse(f).unwrap();
            match &parsed.body {
                Mme::SwVerReq => ev
                    .handle_frame(
                        now,
                        &from_modem(Mme::SwVerCnf(SwVerCnf {
                            status: 0,
                            device_class: 0x22,
                            version: "MAC-QCA7005-1.1.0.730-04-20140815-CS".into(),
                            trailing: vec![],
                        })),
                    )
                    .unwrap(),
                Mme::SetKeyReq(req) => {
                    assert_eq!(
                        parsed.destination, modem,
                        "to the modem found, not broadcast"
                    );
                    set_key = Some(req.clone());
                    ev.handle_frame(
                        now,
                        &from_modem(Mme::SetKeyCnf(SetKeyCnf {
                            result: 0x01,
                            my_nonce: [1; 4],
                            your_nonce: req.my_nonce,
                            pid: 4,
                            prn: 0,
                            pmn: 0xff,
                            cco_capability: 0,
                        })),
                    )
                    .unwrap();
                }
                Mme::PlLinkStatusReq => ev
                    .handle_frame(
                        now,
                        &from_modem(Mme::PlLinkStatusCnf(PlLinkStatusCnf {
                            status: 0,
                            link_status: 1,
                        })),
                    )
                    .unwrap(),
                Mme::SlacMatchReq(_)
                | Mme::SlacParmReq(_)
                | Mme::StartAttenCharInd(_)
                | Mme::MnbcSoundInd(_)
                | Mme::AttenCharRsp(_) => {
                    evse.handle_frame(now, f).unwrap();
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        while let Some(f) = evse.poll_transmit() {
            let mut f = f;
            // Replace the charger's (derived) NID with a random one, as pyPLC and dSPACE send.
            if MmeFrame::parse(&f).unwrap().mmtype() == ccs_proto::homeplug::MmType::CmSlacMatchCnf
            {
                f[85..92].copy_from_slice(&[0x01, 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x07]);
            }
            ev.handle_frame(now, &f).unwrap();
        }
        events.extend(std::iter::from_fn(|| ev.poll_event()));
        if events
            .iter()
            .any(|e| matches!(e, SlacEvent::Paired { .. } | SlacEvent::Failed { .. }))
        {
            break;
        }
        if !frames.is_empty() {
            continue;
        }
        let Some(next) = [ev.poll_timeout(), evse.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
        else {
            break;
        };
        now = now.max(next);
        ev.handle_timeout(now);
        evse.handle_timeout(now);
    }
    let random_nid = Nid([0x01, 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x07]);
    let set_key = set_key.expect("SET_KEY sent");
    assert_eq!(set_key.nid, random_nid);
    assert_eq!(set_key.new_key, Nmk([0x33; 16]));
    assert!(
        matches!(events.last(), Some(SlacEvent::Paired { nid, .. }) if *nid == random_nid),
        "{events:?}"
    );
    assert!(
        matches!(events.first(), Some(SlacEvent::ModemFound { modem_mac, .. }) if *modem_mac == modem)
    );
}

#[test]
fn zero_durations_in_the_configuration_do_not_hang_the_machines() {
    let (mut ev_config, mut evse_config) = configs();
    let mut zero = ccs_proto::slac::SlacTimings::default();
    zero.tp_match_sequence = Duration::ZERO;
    zero.tp_ev_batch_msg_interval = Duration::ZERO;
    zero.tt_matching_rate = Duration::ZERO;
    zero.link_status_poll_interval = Duration::ZERO;
    zero.tt_ev_atten_results = Duration::ZERO;
    ev_config.timings = zero.clone();
    evse_config.timings = zero;
    let now = Instant::ZERO;
    let mut evse = EvseSlac::new(evse_config, EVSE, Nmk([2; 16]), now);
    let mut ev = EvSlac::new(ev_config, EV, [9; 32]);
    ev.start(now);
    let (events, _) = run(&mut ev, &mut evse, now, Instant::from_millis(60_000));
    assert!(
        matches!(
            events.last(),
            Some(SlacEvent::Paired { .. } | SlacEvent::Failed { .. })
        ),
        "{events:?}"
    );
}
