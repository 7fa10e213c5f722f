//! SLAC end to end under the virtual clock: the EV and EVSE machines of ccs-proto, each host
//! behind a simulated modem on the simulated powerline. Every run is bounded in virtual time
//! and in steps, so a broken machine fails the test instead of hanging it.
// Helpers outside #[test] functions unwrap too: a failure here is a test failure.
#![allow(clippy::unwrap_used)]

use ccs_proto::homeplug::{MacAddress, MmType, Mme, MmeFrame, Nid, Nmk};
use ccs_proto::slac::keys::SecurityLevel;
use ccs_proto::slac::{EvSlacConfig, EvseSlacConfig, SlacError, SlacEvent, SlacTimer, SlacTimings};
use ccs_proto::time::Duration;
use ccs_sim::modem::{ChipFlavour, ModemConfig, ModemRole};
use ccs_sim::powerline::{StationId, Verdict};
use ccs_sim::slac_sim::{Party, SlacSim};

const EV_MAC: MacAddress = MacAddress([0x04, 0x65, 0x65, 0x00, 0x64, 0xc3]);
const EV_MODEM: MacAddress = MacAddress([0x04, 0x65, 0x65, 0xff, 0xff, 0xff]);
const EVSE_MAC: MacAddress = MacAddress([0x62, 0x57, 0x25, 0x18, 0x44, 0xbe]);
const EVSE_MODEM: MacAddress = MacAddress([0x98, 0x48, 0x27, 0x5a, 0x3c, 0xe4]);
const NEIGHBOUR_MAC: MacAddress = MacAddress([0x62, 0x57, 0x25, 0x18, 0x44, 0xbf]);
const NEIGHBOUR_MODEM: MacAddress = MacAddress([0x98, 0x48, 0x27, 0x5a, 0x3c, 0xe5]);

fn nmk(n: u8) -> Nmk {
    Nmk([n; 16])
}

fn ev_modem() -> ModemConfig {
    ModemConfig::new(ModemRole::Pev, ChipFlavour::Qca7000, EV_MODEM)
}

fn evse_modem(flavour: ChipFlavour) -> ModemConfig {
    ModemConfig::new(ModemRole::Evse, flavour, EVSE_MODEM)
}

/// One charger (QCA7000 modem) and the car, 20 dB apart.
fn pair(seed: u64) -> (SlacSim, StationId) {
    let mut sim = SlacSim::new(seed);
    sim.add_evse(
        EvseSlacConfig::default(),
        EVSE_MAC,
        Some(evse_modem(ChipFlavour::Qca7000)),
        nmk(0x11),
    );
    settle(&mut sim);
    let ev = sim.add_ev(EvSlacConfig::default(), EV_MAC, ev_modem(), [7; 32]);
    (sim, ev)
}

/// Lets the chargers key their modems (they restart with the new key) before a car arrives.
fn settle(sim: &mut SlacSim) {
    sim.run_for(Duration::from_secs(3));
}

fn ev_outcome(sim: &mut SlacSim, within: Duration) -> Option<SlacEvent> {
    sim.run_until(within, |party, e| {
        party == Party::Ev && matches!(e, SlacEvent::Paired { .. } | SlacEvent::Failed { .. })
    })
    .map(|(_, _, e)| e)
}

fn attempt_failures(sim: &SlacSim, party: Party) -> Vec<SlacError> {
    sim.events_of(party)
        .into_iter()
        .filter_map(|e| match e {
            SlacEvent::AttemptFailed { reason } => Some(reason),
            _ => None,
        })
        .collect()
}

#[test]
fn ev_and_charger_pair_and_the_modems_form_an_avln() {
    let (mut sim, ev_station) = pair(1);
    let start = sim.clock.now();
    let outcome = ev_outcome(&mut sim, Duration::from_secs(30)).expect("the EV reports");
    let expected_nid = Nid::from_nmk(&nmk(0x11), SecurityLevel::SimpleConnect);
    let SlacEvent::Paired {
        nmk: got_nmk,
        nid,
        evse_mac,
        ev_mac,
        ..
    } = outcome
    else {
        panic!("expected Paired, got {outcome:?}");
    };
    assert_eq!(
        (got_nmk, nid, evse_mac, ev_mac),
        (nmk(0x11), expected_nid, EVSE_MAC, EV_MAC)
    );
    // Both sides report it; the EV found its modem first.
    assert!(
        sim.events_of(Party::Evse(0))
            .iter()
            .any(|e| matches!(e, SlacEvent::Paired { ev_mac, .. } if *ev_mac == EV_MAC))
    );
    assert!(
        matches!(sim.events_of(Party::Ev)[0], SlacEvent::ModemFound { modem_mac, .. } if modem_mac == EV_MODEM)
    );
    // The EV's modem really joined: link up, same key as the charger's.
    let modem = sim.line.modem(ev_station).unwrap();
    assert!(modem.link_up());
    assert_eq!(modem.key().nid, expected_nid);
    assert!(attempt_failures(&sim, Party::Ev).is_empty());
    // A whole SLAC (modem start-up, keys, join) takes a few virtual seconds, well within
    // TT_match_join.
    let took = sim.clock.now() - start;
    assert!(took < Duration::from_secs(4), "{took}");
}

#[test]
fn the_wire_sequence_is_the_standard_one() {
    let (mut sim, _) = pair(2);
    ev_outcome(&mut sim, Duration::from_secs(30)).unwrap();
    let ev_types: Vec<MmType> = sim
        .transcript
        .iter()
        .filter(|(_, p, _)| *p == Party::Ev)
        .map(|(_, _, f)| MmeFrame::parse(f).unwrap().mmtype())
        .collect();
    let count = |t: MmType| ev_types.iter().filter(|&&x| x == t).count();
    assert_eq!(ev_types[0], MmType::VsSwVerReq);
    assert_eq!(ev_types[1], MmType::CmSlacParmReq);
    assert_eq!(count(MmType::CmStartAttenCharInd), 3);
    assert_eq!(count(MmType::CmMnbcSoundInd), 10);
    assert_eq!(count(MmType::CmAttenCharRsp), 1);
    assert_eq!(count(MmType::CmSlacMatchReq), 1);
    assert_eq!(count(MmType::CmSetKeyReq), 1);
    // PARM.CNF exactly as real cars require: FF.. 0A 06 01, the EV's MAC, the echoed RunID.
    let run_id = sim.ev().unwrap().run_id();
    let (_, _, cnf) = sim
        .transcript
        .iter()
        .find(|(_, p, f)| {
            *p == Party::Evse(0) && MmeFrame::parse(f).unwrap().mmtype() == MmType::CmSlacParmCnf
        })
        .unwrap();
    assert_eq!(cnf.len(), 60);
    assert_eq!(&cnf[19..25], &[0xff; 6]);
    assert_eq!(&cnf[25..28], &[0x0a, 0x06, 0x01]);
    assert_eq!(&cnf[28..34], EV_MAC.as_bytes());
    assert_eq!(&cnf[34..36], &[0, 0]);
    assert_eq!(&cnf[36..44], run_id.as_bytes());
    // Sounds are TP_EV_batch_msg_interval apart.
    let sound_times: Vec<_> = sim
        .transcript
        .iter()
        .filter(|(_, p, f)| {
            *p == Party::Ev && MmeFrame::parse(f).unwrap().mmtype() == MmType::CmMnbcSoundInd
        })
        .map(|(t, _, _)| *t)
        .collect();
    for pair in sound_times.windows(2) {
        assert_eq!(pair[1] - pair[0], Duration::from_millis(20));
    }
}

#[test]
fn the_ev_picks_the_nearer_of_two_chargers() {
    let mut sim = SlacSim::new(3);
    // Charger 0 is the neighbour (35 dB), charger 1 our own plug (18 dB).
    sim.add_evse(
        EvseSlacConfig::default(),
        NEIGHBOUR_MAC,
        Some(ModemConfig::new(
            ModemRole::Evse,
            ChipFlavour::Qca7000,
            NEIGHBOUR_MODEM,
        )),
        nmk(0x22),
    );
    sim.add_evse(
        EvseSlacConfig::default(),
        EVSE_MAC,
        Some(evse_modem(ChipFlavour::Qca7000)),
        nmk(0x11),
    );
    settle(&mut sim);
    let ev = sim.add_ev(EvSlacConfig::default(), EV_MAC, ev_modem(), [9; 32]);
    sim.line.set_attenuation(ev, StationId(0), 35);
    sim.line.set_attenuation(ev, StationId(1), 18);
    let outcome = ev_outcome(&mut sim, Duration::from_secs(30)).unwrap();
    assert!(
        matches!(outcome, SlacEvent::Paired { evse_mac, nmk: k, .. } if evse_mac == EVSE_MAC && k == nmk(0x11)),
        "{outcome:?}"
    );
    let chosen = sim.events_of(Party::Ev).into_iter().find_map(|e| match e {
        SlacEvent::EvseChosen {
            evse_mac,
            mean_db,
            candidates,
        } => Some((evse_mac, mean_db, candidates)),
        _ => None,
    });
    let (mac, mean, candidates) = chosen.unwrap();
    assert_eq!((mac, candidates), (EVSE_MAC, 2));
    assert!((16.0..=20.0).contains(&mean), "{mean}");
    // Both chargers got their ATTEN_CHAR.RSP; only ours got the MATCH.REQ.
    let to = |mac: MacAddress, t: MmType| {
        sim.transcript
            .iter()
            .filter(|(_, p, f)| {
                *p == Party::Ev && {
                    let f = MmeFrame::parse(f).unwrap();
                    f.destination == mac && f.mmtype() == t
                }
            })
            .count()
    };
    assert_eq!(to(NEIGHBOUR_MAC, MmType::CmAttenCharRsp), 1);
    assert_eq!(to(EVSE_MAC, MmType::CmAttenCharRsp), 1);
    assert_eq!(to(NEIGHBOUR_MAC, MmType::CmSlacMatchReq), 0);
    // The neighbour's session ends with a timeout, not a hang.
    assert!(
        sim.run_until(Duration::from_secs(15), |p, e| p == Party::Evse(0)
            && matches!(
                e,
                SlacEvent::SessionFailed {
                    ev_mac: EV_MAC,
                    reason: SlacError::Timeout(SlacTimer::TtEvseMatchSession),
                    ..
                }
            ))
        .is_some()
    );
}

#[test]
fn a_tp_link_charger_modem_reports_no_groups_and_the_fixed_profile_is_sent() {
    let mut sim = SlacSim::new(4);
    sim.add_evse(
        EvseSlacConfig::default(),
        EVSE_MAC,
        Some(evse_modem(ChipFlavour::TpLinkQca7420)),
        nmk(0x11),
    );
    settle(&mut sim);
    sim.add_ev(EvSlacConfig::default(), EV_MAC, ev_modem(), [1; 32]);
    assert!(matches!(
        ev_outcome(&mut sim, Duration::from_secs(30)),
        Some(SlacEvent::Paired { .. })
    ));
    let ind = sim
        .transcript
        .iter()
        .filter(|(_, p, _)| *p == Party::Evse(0))
        .find_map(|(_, _, f)| match MmeFrame::parse(f).unwrap().body {
            Mme::AttenCharInd(ind) => Some(ind),
            _ => None,
        })
        .unwrap();
    assert_eq!(ind.groups, ccs_proto::slac::PYPLC_FIXED_PROFILE.to_vec());
    assert_eq!(ind.num_sounds, 10);
}

#[test]
fn a_lost_last_sound_still_gets_an_atten_char_ind_after_the_window() {
    let (mut sim, _) = {
        let mut sim = SlacSim::new(5);
        sim.add_evse(
            EvseSlacConfig::default(),
            EVSE_MAC,
            Some(evse_modem(ChipFlavour::Qca7000)),
            nmk(0x11),
        );
        (sim, ())
    };
    sim.line
        .set_fault(Box::new(|_, frame| match MmeFrame::parse(frame) {
            Ok(MmeFrame {
                body: Mme::MnbcSoundInd(s),
                ..
            }) if s.count == 0 => Verdict::Drop,
            _ => Verdict::Deliver,
        }));
    settle(&mut sim);
    sim.add_ev(EvSlacConfig::default(), EV_MAC, ev_modem(), [2; 32]);
    assert!(matches!(
        ev_outcome(&mut sim, Duration::from_secs(30)),
        Some(SlacEvent::Paired { .. })
    ));
    let ind = sim
        .transcript
        .iter()
        .filter(|(_, p, _)| *p == Party::Evse(0))
        .find_map(|(_, _, f)| match MmeFrame::parse(f).unwrap().body {
            Mme::AttenCharInd(ind) => Some(ind),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        ind.num_sounds, 9,
        "the IND reports the sounds actually measured"
    );
}

#[test]
fn a_lost_parm_cnf_is_retried_with_the_same_run_id() {
    let (mut sim, _) = {
        let mut sim = SlacSim::new(6);
        sim.add_evse(
            EvseSlacConfig::default(),
            EVSE_MAC,
            Some(evse_modem(ChipFlavour::Qca7000)),
            nmk(0x11),
        );
        (sim, ())
    };
    let mut dropped = 0;
    sim.line.set_fault(Box::new(move |_, frame| {
        if dropped == 0 && MmeFrame::parse(frame).is_ok_and(|f| f.mmtype() == MmType::CmSlacParmCnf)
        {
            dropped += 1;
            return Verdict::Drop;
        }
        Verdict::Deliver
    }));
    settle(&mut sim);
    sim.add_ev(EvSlacConfig::default(), EV_MAC, ev_modem(), [3; 32]);
    assert!(matches!(
        ev_outcome(&mut sim, Duration::from_secs(30)),
        Some(SlacEvent::Paired { .. })
    ));
    let reqs: Vec<_> = sim
        .transcript
        .iter()
        .filter(|(_, p, _)| *p == Party::Ev)
        .filter_map(|(t, _, f)| match MmeFrame::parse(f).unwrap().body {
            Mme::SlacParmReq(r) => Some((*t, r.run_id)),
            _ => None,
        })
        .collect();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].1, reqs[1].1);
    assert_eq!(
        reqs[1].0 - reqs[0].0,
        Duration::from_millis(200),
        "TT_match_response"
    );
    assert!(attempt_failures(&sim, Party::Ev).is_empty());
}

#[test]
fn a_cnf_with_the_wrong_run_id_is_ignored_and_the_ev_fails_cleanly() {
    let mut sim = SlacSim::new(7);
    sim.add_evse(
        EvseSlacConfig::default(),
        EVSE_MAC,
        Some(evse_modem(ChipFlavour::Qca7000)),
        nmk(0x11),
    );
    // The charger garbles the RunID of every PARM.CNF (as pyPLC once did; the Taycan ignores
    // such CNFs).
    sim.line.set_fault(Box::new(|_, frame| {
        if MmeFrame::parse(frame).is_ok_and(|f| f.mmtype() == MmType::CmSlacParmCnf) {
            frame[36] ^= 0xff;
        }
        Verdict::Deliver
    }));
    settle(&mut sim);
    sim.add_ev(EvSlacConfig::default(), EV_MAC, ev_modem(), [4; 32]);
    let outcome = ev_outcome(&mut sim, Duration::from_secs(60)).unwrap();
    assert_eq!(
        outcome,
        SlacEvent::Failed {
            reason: SlacError::Timeout(SlacTimer::TtMatchResponse)
        }
    );
    // C_conn_max_match = 3 attempts, each with a new RunID and 1 + C_EV_match_retry REQs.
    let failures = attempt_failures(&sim, Party::Ev);
    assert_eq!(failures.len(), 2);
    let run_ids: std::collections::BTreeSet<_> = sim
        .transcript
        .iter()
        .filter_map(|(_, p, f)| match (p, MmeFrame::parse(f).unwrap().body) {
            (Party::Ev, Mme::SlacParmReq(r)) => Some(r.run_id),
            _ => None,
        })
        .collect();
    assert_eq!(run_ids.len(), 3);
    assert_eq!(
        sim.transcript
            .iter()
            .filter(|(_, p, f)| *p == Party::Ev
                && MmeFrame::parse(f).unwrap().mmtype() == MmType::CmSlacParmReq)
            .count(),
        9
    );
}

#[test]
fn a_slow_charger_is_waited_for_within_the_timers() {
    let (mut sim, _) = pair(8);
    // 150 ms per frame is slower than any real charger but inside TT_match_response (200 ms).
    sim.set_evse_host_delay(0, Duration::from_millis(150));
    assert!(matches!(
        ev_outcome(&mut sim, Duration::from_secs(30)),
        Some(SlacEvent::Paired { .. })
    ));
}

#[test]
fn a_charger_slower_than_tt_match_response_is_caught_by_the_retries() {
    let (mut sim, _) = pair(9);
    // 450 ms per frame: every answer misses its TT_match_response, but a retry's window
    // catches the answer to the first request.
    sim.set_evse_host_delay(0, Duration::from_millis(450));
    let outcome = ev_outcome(&mut sim, Duration::from_secs(60)).unwrap();
    assert!(matches!(outcome, SlacEvent::Paired { .. }), "{outcome:?}");
    let sent = |t: MmType| {
        sim.transcript
            .iter()
            .filter(|(_, p, f)| *p == Party::Ev && MmeFrame::parse(f).unwrap().mmtype() == t)
            .count()
    };
    assert!(sent(MmType::CmSlacParmReq) > 1);
    assert!(sent(MmType::CmSlacMatchReq) > 1);
}

#[test]
fn a_charger_far_too_slow_makes_the_ev_fail_after_its_attempts() {
    let (mut sim, _) = pair(9);
    sim.set_evse_host_delay(0, Duration::from_millis(700));
    let outcome = ev_outcome(&mut sim, Duration::from_secs(60)).unwrap();
    assert_eq!(
        outcome,
        SlacEvent::Failed {
            reason: SlacError::Timeout(SlacTimer::TtMatchResponse)
        }
    );
    assert_eq!(attempt_failures(&sim, Party::Ev).len(), 2);
}

#[test]
fn set_key_rejected_by_the_ev_modem_ends_in_a_clean_failure() {
    let mut sim = SlacSim::new(10);
    sim.add_evse(
        EvseSlacConfig::default(),
        EVSE_MAC,
        Some(evse_modem(ChipFlavour::Qca7000)),
        nmk(0x11),
    );
    let mut modem = ev_modem();
    modem.set_key_result = 0x00;
    settle(&mut sim);
    sim.add_ev(EvSlacConfig::default(), EV_MAC, modem, [5; 32]);
    let outcome = ev_outcome(&mut sim, Duration::from_secs(60)).unwrap();
    assert_eq!(
        outcome,
        SlacEvent::Failed {
            reason: SlacError::KeyRejected { result: 0 }
        }
    );
    assert_eq!(
        attempt_failures(&sim, Party::Ev),
        vec![SlacError::KeyRejected { result: 0 }; 2]
    );
}

#[test]
fn set_key_rejected_by_the_charger_modem_stops_the_charger() {
    let mut sim = SlacSim::new(11);
    let mut modem = evse_modem(ChipFlavour::Qca7000);
    modem.set_key_result = 0x00;
    sim.add_evse(EvseSlacConfig::default(), EVSE_MAC, Some(modem), nmk(0x11));
    let event = sim.run_until(Duration::from_secs(5), |_, e| {
        matches!(e, SlacEvent::Failed { .. })
    });
    assert_eq!(
        event.map(|(_, _, e)| e),
        Some(SlacEvent::Failed {
            reason: SlacError::KeyRejected { result: 0 }
        })
    );
    assert!(!sim.evse(0).unwrap().is_ready());
}

#[test]
fn a_link_that_never_comes_up_fails_after_tt_match_join() {
    let mut sim = SlacSim::new(12);
    sim.add_evse(
        EvseSlacConfig::default(),
        EVSE_MAC,
        Some(evse_modem(ChipFlavour::Qca7000)),
        nmk(0x11),
    );
    let mut modem = ev_modem();
    modem.join_never_completes = true;
    settle(&mut sim);
    sim.add_ev(EvSlacConfig::default(), EV_MAC, modem, [6; 32]);
    let outcome = ev_outcome(&mut sim, Duration::from_secs(120)).unwrap();
    assert_eq!(
        outcome,
        SlacEvent::Failed {
            reason: SlacError::Timeout(SlacTimer::TtMatchJoin)
        }
    );
    assert_eq!(attempt_failures(&sim, Party::Ev).len(), 2);
    // Three attempts, each ending TT_match_join after its SET_KEY.CNF.
    assert!(sim.clock.now().total_millis() > 36_000);
}

#[test]
fn an_absent_charger_modem_leaves_the_ev_failing_cleanly() {
    let mut sim = SlacSim::new(13);
    let mut modem = evse_modem(ChipFlavour::Qca7000);
    modem.absent = true;
    sim.add_evse(EvseSlacConfig::default(), EVSE_MAC, Some(modem), nmk(0x11));
    settle(&mut sim);
    sim.add_ev(EvSlacConfig::default(), EV_MAC, ev_modem(), [8; 32]);
    let outcome = ev_outcome(&mut sim, Duration::from_secs(60)).unwrap();
    assert_eq!(
        outcome,
        SlacEvent::Failed {
            reason: SlacError::Timeout(SlacTimer::TtMatchResponse)
        }
    );
    assert!(sim.events_of(Party::Evse(0)).contains(&SlacEvent::Failed {
        reason: SlacError::ModemNotFound
    }));
}

#[test]
fn a_second_parm_req_mid_session_restarts_the_charger() {
    let (mut sim, _) = pair(14);
    // Let the first run get into sounding, then restart the EV (a car restarting SLAC).
    sim.run_until(Duration::from_secs(5), |p, e| {
        p == Party::Evse(0) && matches!(e, SlacEvent::SessionStarted { .. })
    })
    .unwrap();
    sim.run_for(Duration::from_millis(120));
    let now = sim.clock.now();
    sim.ev().unwrap().start(now);
    sim.flush();
    assert!(matches!(
        ev_outcome(&mut sim, Duration::from_secs(30)),
        Some(SlacEvent::Paired { .. })
    ));
    let evse_events = sim.events_of(Party::Evse(0));
    assert!(
        evse_events.iter().any(|e| matches!(
            e,
            SlacEvent::SessionFailed {
                ev_mac: EV_MAC,
                reason: SlacError::Restarted,
                ..
            }
        )),
        "{evse_events:?}"
    );
    let sessions = evse_events
        .iter()
        .filter(|e| matches!(e, SlacEvent::SessionStarted { .. }))
        .count();
    assert_eq!(sessions, 2);
    // The CNF that paired echoes the second RunID.
    let run_id = sim.ev().unwrap().run_id();
    assert!(
        evse_events
            .iter()
            .any(|e| matches!(e, SlacEvent::Paired { run_id: r, .. } if *r == run_id))
    );
}

#[test]
fn the_charger_serves_several_evs_in_a_row_with_fresh_keys() {
    let (mut sim, _) = pair(15);
    assert!(matches!(
        ev_outcome(&mut sim, Duration::from_secs(30)),
        Some(SlacEvent::Paired { .. })
    ));
    // Unplug: the charger re-keys for the next car.
    let now = sim.clock.now();
    sim.ev().unwrap().stop();
    sim.evse(0).unwrap().next_session(now, nmk(0x33));
    sim.flush();
    sim.run_until(Duration::from_secs(5), |p, e| {
        p == Party::Evse(0) && matches!(e, SlacEvent::Ready { .. })
    })
    .unwrap();
    let second_ev = MacAddress([0x02, 0, 0, 0, 0, 0x02]);
    let second_modem = MacAddress([0x02, 0, 0, 0, 0, 0x03]);
    let station = sim.replace_ev(
        EvSlacConfig::default(),
        second_ev,
        ModemConfig::new(ModemRole::Pev, ChipFlavour::TpLinkQca7420, second_modem),
        [10; 32],
    );
    let outcome = ev_outcome(&mut sim, Duration::from_secs(30)).unwrap();
    let expected_nid = Nid::from_nmk(&nmk(0x33), SecurityLevel::SimpleConnect);
    assert!(
        matches!(outcome, SlacEvent::Paired { nmk: k, nid, ev_mac, .. } if k == nmk(0x33) && nid == expected_nid && ev_mac == second_ev),
        "{outcome:?}"
    );
    assert!(sim.line.modem(station).unwrap().link_up());
    // The first car's modem was dropped from the AVLN by the re-keying.
    assert!(!sim.line.modem(StationId(1)).unwrap().link_up());
}

#[test]
fn pyplc_timing_profile_pairs_with_a_patient_charger() {
    let mut sim = SlacSim::new(16);
    let mut evse = EvseSlacConfig::default();
    evse.timings = SlacTimings::pyplc_compatible();
    sim.add_evse(
        evse,
        EVSE_MAC,
        Some(evse_modem(ChipFlavour::TpLinkQca7420)),
        nmk(0x11),
    );
    let mut ev = EvSlacConfig::default();
    ev.timings = SlacTimings::pyplc_compatible();
    settle(&mut sim);
    sim.add_ev(ev, EV_MAC, ev_modem(), [11; 32]);
    assert!(matches!(
        ev_outcome(&mut sim, Duration::from_secs(30)),
        Some(SlacEvent::Paired { .. })
    ));
    // MATCH.REQ came ≥ 900 ms after the ATTEN_CHAR.RSP, as a real car does it.
    let time_of = |t: MmType| {
        sim.transcript
            .iter()
            .find(|(_, p, f)| *p == Party::Ev && MmeFrame::parse(f).unwrap().mmtype() == t)
            .map(|(at, _, _)| *at)
            .unwrap()
    };
    assert!(
        time_of(MmType::CmSlacMatchReq) - time_of(MmType::CmAttenCharRsp)
            >= Duration::from_millis(900)
    );
}

#[test]
fn lossy_line_still_pairs_or_fails_cleanly_for_many_seeds() {
    for seed in 0..20 {
        let (mut sim, _) = pair(100 + seed);
        sim.line.set_loss(0.05);
        let outcome = ev_outcome(&mut sim, Duration::from_secs(120));
        assert!(
            matches!(
                outcome,
                Some(SlacEvent::Paired { .. } | SlacEvent::Failed { .. })
            ),
            "seed {seed}: {outcome:?}"
        );
    }
}

#[test]
fn after_pairing_non_slac_frames_cross_the_line_and_before_they_do_not() {
    let (mut sim, ev_station) = pair(17);
    // An IPv6 frame from the EV before pairing is dropped by the line.
    let ipv6 = |src: MacAddress, dst: MacAddress| {
        let mut f = dst.as_bytes().to_vec();
        f.extend_from_slice(src.as_bytes());
        f.extend_from_slice(&[0x86, 0xdd]);
        f.resize(70, 0x42);
        f
    };
    let now = sim.clock.now();
    sim.line
        .handle_host_frame(now, ev_station, &ipv6(EV_MAC, EVSE_MAC));
    sim.line.handle_timeout(now + Duration::from_millis(20));
    let mut delivered = Vec::new();
    while let Some(x) = sim.line.poll_host_transmit() {
        delivered.push(x);
    }
    assert!(delivered.iter().all(|(_, f)| f[12..14] != [0x86, 0xdd]));
    assert!(matches!(
        ev_outcome(&mut sim, Duration::from_secs(30)),
        Some(SlacEvent::Paired { .. })
    ));
    let now = sim.clock.now();
    sim.line
        .handle_host_frame(now, ev_station, &ipv6(EV_MAC, EVSE_MAC));
    sim.line.handle_timeout(now + Duration::from_millis(20));
    let mut delivered = Vec::new();
    while let Some(x) = sim.line.poll_host_transmit() {
        delivered.push(x);
    }
    assert!(
        delivered
            .iter()
            .any(|(s, f)| *s == StationId(0) && f[12..14] == [0x86, 0xdd]),
        "{delivered:?}"
    );
}

#[test]
fn a_lost_match_cnf_is_retried_and_the_charger_resends_the_same_cnf() {
    let mut sim = SlacSim::new(18);
    sim.add_evse(
        EvseSlacConfig::default(),
        EVSE_MAC,
        Some(evse_modem(ChipFlavour::Qca7000)),
        nmk(0x11),
    );
    let mut dropped = false;
    sim.line.set_fault(Box::new(move |_, frame| {
        if !dropped && MmeFrame::parse(frame).is_ok_and(|f| f.mmtype() == MmType::CmSlacMatchCnf) {
            dropped = true;
            return Verdict::Drop;
        }
        Verdict::Deliver
    }));
    settle(&mut sim);
    sim.add_ev(EvSlacConfig::default(), EV_MAC, ev_modem(), [12; 32]);
    assert!(matches!(
        ev_outcome(&mut sim, Duration::from_secs(30)),
        Some(SlacEvent::Paired { .. })
    ));
    let cnfs: Vec<_> = sim
        .transcript
        .iter()
        .filter(|(_, p, f)| {
            *p == Party::Evse(0) && MmeFrame::parse(f).unwrap().mmtype() == MmType::CmSlacMatchCnf
        })
        .map(|(_, _, f)| f.clone())
        .collect();
    assert_eq!(cnfs.len(), 2);
    assert_eq!(cnfs[0], cnfs[1], "the repeated REQ gets the identical CNF");
    // Paired is reported once on the charger.
    let paired = sim
        .events_of(Party::Evse(0))
        .iter()
        .filter(|e| matches!(e, SlacEvent::Paired { .. }))
        .count();
    assert_eq!(paired, 1);
}

#[test]
fn link_detection_by_cm_nw_info_works_too() {
    let mut sim = SlacSim::new(19);
    sim.add_evse(
        EvseSlacConfig::default(),
        EVSE_MAC,
        Some(evse_modem(ChipFlavour::Qca7000)),
        nmk(0x11),
    );
    settle(&mut sim);
    let mut config = EvSlacConfig::default();
    config.link_detection = ccs_proto::slac::LinkDetection::NetworkInfo;
    let station = sim.add_ev(config, EV_MAC, ev_modem(), [13; 32]);
    assert!(matches!(
        ev_outcome(&mut sim, Duration::from_secs(30)),
        Some(SlacEvent::Paired { .. })
    ));
    assert!(sim.line.modem(station).unwrap().link_up());
    assert!(
        sim.transcript.iter().any(|(_, p, f)| *p == Party::Ev
            && MmeFrame::parse(f).unwrap().mmtype() == MmType::CmNwInfoReq)
    );
}

#[test]
fn repeated_parm_req_before_sounding_is_answered_not_restarted() {
    let (mut sim, ev_station) = pair(20);
    // A car that sends its PARM.REQ twice with one RunID, 20 ms apart (the Ioniq does).
    let run_started = sim
        .run_until(Duration::from_secs(5), |p, e| {
            p == Party::Evse(0) && matches!(e, SlacEvent::SessionStarted { .. })
        })
        .unwrap();
    let req = sim
        .transcript
        .iter()
        .rev()
        .find(|(_, p, f)| {
            *p == Party::Ev && MmeFrame::parse(f).unwrap().mmtype() == MmType::CmSlacParmReq
        })
        .map(|(_, _, f)| f.clone())
        .unwrap();
    let now = sim.clock.now();
    sim.line.handle_host_frame(now, ev_station, &req);
    sim.flush();
    assert!(matches!(
        ev_outcome(&mut sim, Duration::from_secs(30)),
        Some(SlacEvent::Paired { .. })
    ));
    let evse_events = sim.events_of(Party::Evse(0));
    assert_eq!(
        evse_events
            .iter()
            .filter(|e| matches!(e, SlacEvent::SessionStarted { .. }))
            .count(),
        1
    );
    assert!(
        !evse_events
            .iter()
            .any(|e| matches!(e, SlacEvent::SessionFailed { .. })),
        "{evse_events:?} after {run_started:?}"
    );
}

#[test]
fn a_charger_that_heard_no_sound_sends_no_attenuation_and_the_ev_retries() {
    let mut sim = SlacSim::new(21);
    sim.add_evse(
        EvseSlacConfig::default(),
        EVSE_MAC,
        Some(evse_modem(ChipFlavour::TpLinkQca7420)),
        nmk(0x11),
    );
    // Every sound of the first attempt is lost; the EV's next attempt gets through.
    let mut lost = 0;
    sim.line.set_fault(Box::new(move |_, frame| {
        if lost < 10 && MmeFrame::parse(frame).is_ok_and(|f| f.mmtype() == MmType::CmMnbcSoundInd) {
            lost += 1;
            return Verdict::Drop;
        }
        Verdict::Deliver
    }));
    settle(&mut sim);
    sim.add_ev(EvSlacConfig::default(), EV_MAC, ev_modem(), [14; 32]);
    assert!(matches!(
        ev_outcome(&mut sim, Duration::from_secs(30)),
        Some(SlacEvent::Paired { .. })
    ));
    assert_eq!(
        attempt_failures(&sim, Party::Ev),
        vec![SlacError::NoCharger]
    );
    assert!(sim.events_of(Party::Evse(0)).iter().any(|e| matches!(
        e,
        SlacEvent::SessionFailed {
            reason: SlacError::Timeout(SlacTimer::TtEvseMatchMnbc),
            ..
        }
    )));
    let inds = sim
        .transcript
        .iter()
        .filter(|(_, p, f)| {
            *p == Party::Evse(0) && MmeFrame::parse(f).unwrap().mmtype() == MmType::CmAttenCharInd
        })
        .count();
    assert_eq!(inds, 1, "only the second attempt was characterised");
}
