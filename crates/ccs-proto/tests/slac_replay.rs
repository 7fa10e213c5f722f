//! Replays of real cars: every SLAC frame a car sent in a capture of pyPLC's charger mode is
//! played, with its original timing, into our `EvseSlac` (in the place of pyPLC, with pyPLC's
//! MAC). The car does not react to us, so this checks that what real cars send, in the order
//! and at the pace they send it, is accepted, and that each of our answers is there before the
//! car's next message needs it. Captures: `captures/` (see its README).

// Helpers outside #[test] functions unwrap too: a failure here is a test failure.
#![allow(clippy::unwrap_used)]

use ccs_proto::homeplug::{MacAddress, MmType, Mme, MmeFrame, RunId};
use ccs_proto::slac::{EvSlac, EvSlacConfig, EvseSlac, EvseSlacConfig, ModemMode, SlacEvent};
use ccs_proto::time::Instant;
use ccs_testdata::shared_path;

/// (microseconds since the first frame, frame) of every Ethernet frame in a pcap or pcapng
/// file (little-endian files, Ethernet link type, microsecond timestamps: all of ours).
fn read_capture(name: &str) -> Vec<(i64, Vec<u8>)> {
    let bytes = std::fs::read(shared_path(&format!("captures/{name}"))).unwrap();
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    let mut frames = Vec::new();
    if u32_at(0) == 0xa1b2_c3d4 {
        assert_eq!(u32_at(20), 1, "{name}: not Ethernet");
        let mut at = 24;
        while at + 16 <= bytes.len() {
            let ts = i64::from(u32_at(at)) * 1_000_000 + i64::from(u32_at(at + 4));
            let len = u32_at(at + 8) as usize;
            frames.push((ts, bytes[at + 16..at + 16 + len].to_vec()));
            at += 16 + len;
        }
    } else {
        assert_eq!(u32_at(0), 0x0a0d_0d0a, "{name}: neither pcap nor pcapng");
        // Timestamp units per interface, from the if_tsresol option (default microseconds).
        let mut units_per_second: Vec<i64> = Vec::new();
        let mut at = 0;
        while at + 12 <= bytes.len() {
            let (kind, len) = (u32_at(at), u32_at(at + 4) as usize);
            if kind == 1 {
                let mut per_second = 1_000_000;
                let mut option = at + 16;
                while option + 4 <= at + len - 4 {
                    let code = u16::from_le_bytes([bytes[option], bytes[option + 1]]);
                    let olen =
                        usize::from(u16::from_le_bytes([bytes[option + 2], bytes[option + 3]]));
                    if code == 0 {
                        break;
                    }
                    if code == 9 {
                        let v = bytes[option + 4];
                        assert!(v & 0x80 == 0, "{name}: binary if_tsresol");
                        per_second = 10i64.pow(u32::from(v));
                    }
                    option += 4 + olen.div_ceil(4) * 4;
                }
                units_per_second.push(per_second);
            }
            if kind == 6 {
                let interface = u32_at(at + 8) as usize;
                let raw = (i64::from(u32_at(at + 12)) << 32) | i64::from(u32_at(at + 16));
                let ts = i64::try_from(
                    i128::from(raw) * 1_000_000 / i128::from(units_per_second[interface]),
                )
                .unwrap();
                let caplen = u32_at(at + 20) as usize;
                frames.push((ts, bytes[at + 28..at + 28 + caplen].to_vec()));
            }
            at += len;
        }
    }
    let start = frames.first().map_or(0, |(t, _)| *t);
    frames.into_iter().map(|(t, f)| (t - start, f)).collect()
}

struct Replay {
    car: MacAddress,
    charger: MacAddress,
    /// The car's SLAC frames with their times.
    car_frames: Vec<(Instant, MmeFrame)>,
}

fn car_slac_frames(name: &str) -> Replay {
    let frames: Vec<(Instant, MmeFrame)> = read_capture(name)
        .into_iter()
        .filter_map(|(t, f)| {
            MmeFrame::parse(&f)
                .ok()
                .map(|m| (Instant::from_micros(t), m))
        })
        .collect();
    let car = frames
        .iter()
        .find(|(_, f)| f.mmtype() == MmType::CmSlacParmReq)
        .map(|(_, f)| f.source)
        .unwrap();
    let charger = frames
        .iter()
        .find(|(_, f)| f.mmtype() == MmType::CmSlacParmCnf && f.destination == car)
        .map(|(_, f)| f.source)
        .unwrap();
    let car_frames = frames
        .into_iter()
        .filter(|(_, f)| f.source == car && f.mmtype().is_slac())
        .collect();
    Replay {
        car,
        charger,
        car_frames,
    }
}

/// Plays the car's frames into our charger; returns what we sent and reported.
fn replay(replay: &Replay) -> (Vec<(Instant, MmeFrame)>, Vec<SlacEvent>) {
    let mut config = EvseSlacConfig::default();
    config.modem = ModemMode::None;
    let start = replay.car_frames[0].0;
    let mut evse = EvseSlac::new(
        config,
        replay.charger,
        ccs_proto::homeplug::Nmk([0x42; 16]),
        start,
    );
    let (mut sent, mut events) = (Vec::new(), Vec::new());
    for (at, frame) in &replay.car_frames {
        // Timers first: everything due before the car's next frame happens before it.
        while let Some(next) = evse.poll_timeout().filter(|n| n <= at) {
            evse.handle_timeout(next);
            sent.extend(
                std::iter::from_fn(|| evse.poll_transmit())
                    .map(|f| (next, MmeFrame::parse(&f).unwrap())),
            );
        }
        evse.handle_frame(*at, &frame.emit()).unwrap();
        sent.extend(
            std::iter::from_fn(|| evse.poll_transmit())
                .map(|f| (*at, MmeFrame::parse(&f).unwrap())),
        );
        events.extend(std::iter::from_fn(|| evse.poll_event()));
    }
    (sent, events)
}

fn run_ids_of(frames: &[(Instant, MmeFrame)], mmtype: MmType) -> Vec<RunId> {
    frames
        .iter()
        .filter_map(|(_, f)| match &f.body {
            Mme::SlacParmReq(m) if mmtype == MmType::CmSlacParmReq => Some(m.run_id),
            Mme::SlacParmCnf(m) if mmtype == MmType::CmSlacParmCnf => Some(m.run_id),
            _ => None,
        })
        .collect()
}

fn assert_real_car_pairs(name: &str) {
    let r = car_slac_frames(name);
    let (sent, events) = replay(&r);
    let paired = events.iter().find_map(|e| match e {
        SlacEvent::Paired { ev_mac, run_id, .. } => Some((*ev_mac, *run_id)),
        _ => None,
    });
    let Some((ev_mac, run_id)) = paired else {
        panic!("{name}: no pairing; events {events:?}");
    };
    assert_eq!(ev_mac, r.car, "{name}");
    // Every PARM.REQ got a CNF echoing its RunID, the matched run among them.
    let asked = run_ids_of(&r.car_frames, MmType::CmSlacParmReq);
    let answered = run_ids_of(&sent, MmType::CmSlacParmCnf);
    assert_eq!(asked, answered, "{name}");
    assert!(asked.contains(&run_id));
    // The attenuation report went out before the car's ATTEN_CHAR.RSP for that run.
    let ind_at = sent
        .iter()
        .find(|(_, f)| f.mmtype() == MmType::CmAttenCharInd)
        .map(|(t, _)| *t)
        .unwrap();
    let rsp_at = r
        .car_frames
        .iter()
        .find(|(_, f)| f.mmtype() == MmType::CmAttenCharRsp)
        .map(|(t, _)| *t)
        .unwrap();
    assert!(
        ind_at <= rsp_at,
        "{name}: IND {ind_at} after the car's RSP {rsp_at}"
    );
    // And MATCH.CNF carries our key to the car.
    assert!(sent.iter().any(|(_, f)| matches!(&f.body, Mme::SlacMatchCnf(c) if c.fields.pev_mac == r.car && c.nmk.0 == [0x42; 16])), "{name}");
}

#[test]
fn hyundai_ioniq_pairs() {
    assert_real_car_pairs("2023-04-16_at_home_Ioniq_in_currentDemandLoop.pcapng");
    assert_real_car_pairs("2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng");
    assert_real_car_pairs("2026-02-03_pyPLC_FoccciCape_with_Ioniq_runs_10_minutes.pcap");
}

#[test]
fn tesla_model_y_and_x_pair() {
    assert_real_car_pairs("2024-04-20_ModelY_pyPLC_stop_in_precharge.pcapng");
    assert_real_car_pairs("2025-07-22_pyPLC_with_tesla_model_x_plaid_until_charging_loop.pcapng");
}

#[test]
fn polestar_2_pairs() {
    assert_real_car_pairs("2024-06-11_Griffigroen_polestar2_stop_in_precharge.pcapng");
}

#[test]
fn audi_q4_pairs() {
    // The Q4 sends MATCH.REQ 6 ms after its ATTEN_CHAR.RSP.
    assert_real_car_pairs("2026-02-08_pyPLC_FoccciCape_AudiQ4_break_after_cableCheck.pcap");
}

#[test]
fn pyplc_pev_simulation_pairs() {
    assert_real_car_pairs("interop_pyplc-e19519f_evse-pev-sim_din_veth.pcap");
}

#[test]
fn taycan_requests_all_get_their_own_run_id_back() {
    // pyPLC once answered the Taycan with the wrong RunID and the car kept asking with new
    // ones; we echo each.
    for name in [
        "2023-05-03_TaycanLeftside_slacFail.pcapng",
        "2023-05-03_TaycanRightside_slacFail.pcapng",
    ] {
        let r = car_slac_frames(name);
        let (sent, _) = replay(&r);
        let asked = run_ids_of(&r.car_frames, MmType::CmSlacParmReq);
        assert!(asked.len() >= 2, "{name}");
        assert_eq!(asked, run_ids_of(&sent, MmType::CmSlacParmCnf), "{name}");
    }
}

/// The charger's side of a capture of pyPLC as the car: its PARM.CNF, ATTEN_CHAR.IND and
/// SLAC_MATCH.CNF to the car, played to our `EvSlac` each when our EV is ready for it, with
/// the RunID rewritten to ours. Checks that real chargers' answers are accepted as they are
/// (field layout, real attenuation values, their NID copied, not re-derived).
fn assert_real_charger_answers_are_accepted(name: &str) {
    let frames: Vec<MmeFrame> = read_capture(name)
        .into_iter()
        .filter_map(|(_, f)| MmeFrame::parse(&f).ok())
        .collect();
    let car = frames
        .iter()
        .find(|f| f.mmtype() == MmType::CmSlacParmReq)
        .unwrap()
        .source;
    let answer = |t: MmType| {
        frames
            .iter()
            .find(|f| f.mmtype() == t && f.destination == car)
            .cloned()
            .unwrap_or_else(|| panic!("{name}: no {t}"))
    };
    let (cnf, ind, match_cnf) = (
        answer(MmType::CmSlacParmCnf),
        answer(MmType::CmAttenCharInd),
        answer(MmType::CmSlacMatchCnf),
    );
    let charger = match_cnf.source;
    let mut config = EvSlacConfig::default();
    config.modem = ModemMode::None;
    let mut ev = EvSlac::new(config, car, [9; 32]);
    let mut now = Instant::ZERO;
    ev.start(now);
    let mut events = Vec::new();
    let mut sent = Vec::new();
    let mut pending = vec![match_cnf, ind, cnf];
    for _ in 0..10_000 {
        sent.extend(
            std::iter::from_fn(|| ev.poll_transmit()).map(|f| MmeFrame::parse(&f).unwrap()),
        );
        events.extend(std::iter::from_fn(|| ev.poll_event()));
        if events
            .iter()
            .any(|e| matches!(e, SlacEvent::Paired { .. } | SlacEvent::Failed { .. }))
        {
            break;
        }
        // Play the next recorded answer once the question it answers has gone out.
        let asked = |t: MmType| sent.iter().any(|f: &MmeFrame| f.mmtype() == t);
        let ready = pending.last().is_some_and(|next| match next.mmtype() {
            MmType::CmSlacParmCnf => asked(MmType::CmSlacParmReq),
            MmType::CmAttenCharInd => {
                sent.iter()
                    .filter(|f| f.mmtype() == MmType::CmMnbcSoundInd)
                    .count()
                    == 10
            }
            _ => asked(MmType::CmSlacMatchReq),
        });
        if ready && let Some(next) = pending.pop() {
            let mut bytes = next.emit();
            let at = match next.mmtype() {
                MmType::CmSlacParmCnf => 36,
                MmType::CmAttenCharInd => 27,
                _ => 69,
            };
            bytes[at..at + 8].copy_from_slice(ev.run_id().as_bytes());
            ev.handle_frame(now, &bytes).unwrap();
            continue;
        }
        let Some(next) = ev.poll_timeout() else { break };
        now = next;
        ev.handle_timeout(now);
    }
    let Some(SlacEvent::Paired {
        nid, nmk, evse_mac, ..
    }) = events.last().cloned()
    else {
        panic!("{name}: {events:?}");
    };
    let Mme::SlacMatchCnf(recorded) = &frames
        .iter()
        .find(|f| f.mmtype() == MmType::CmSlacMatchCnf)
        .unwrap()
        .body
    else {
        unreachable!()
    };
    assert_eq!(
        (nid, nmk, evse_mac),
        (recorded.nid, recorded.nmk, charger),
        "{name}"
    );
    let Mme::AttenCharInd(recorded_ind) = &frames
        .iter()
        .find(|f| f.mmtype() == MmType::CmAttenCharInd && f.destination == car)
        .unwrap()
        .body
    else {
        unreachable!()
    };
    let chosen = events.iter().find_map(|e| match e {
        SlacEvent::EvseChosen { mean_db, .. } => Some(*mean_db),
        _ => None,
    });
    assert_eq!(chosen, recorded_ind.mean_attenuation(), "{name}");
    let match_req = sent
        .iter()
        .find(|f| f.mmtype() == MmType::CmSlacMatchReq)
        .unwrap();
    assert_eq!(match_req.destination, charger);
}

#[test]
fn alpitronic_answers_are_accepted() {
    assert_real_charger_answers_are_accepted(
        "2022-11-17_Dehner_Alpitronic_until_SdpRequest.pcapng",
    );
    assert_real_charger_answers_are_accepted("2022-11-25_v0.2_alpi_SDP_ok_TCP_fail.pcapng");
}

#[test]
fn abb_answers_are_accepted() {
    assert_real_charger_answers_are_accepted(
        "2022-11-25_v0.2_ABB_until_ChargeParamDiscovery.pcapng",
    );
}

#[test]
fn compleo_answers_are_accepted() {
    assert_real_charger_answers_are_accepted("2022-12-13_compleo_with_bulb.pcapng");
}

#[test]
fn tesla_supercharger_answers_are_accepted() {
    assert_real_charger_answers_are_accepted("2023-03-02_SuperCharger_CableCheck_error.pcapng");
}

#[test]
fn pyplc_charger_answers_with_a_non_derived_nid_are_accepted() {
    // pyPLC's EVSE sends a random NID that is not derived from its NMK; the EV must copy it.
    assert_real_charger_answers_are_accepted("interop_pyplc-e19519f_evse-pev-sim_din_veth.pcap");
}
