//! The simulated modem on its own, as a TAP-based driver would use it: host frames in,
//! outputs out at the virtual time they are due.
// Helpers outside #[test] functions unwrap too: a failure here is a test failure.
#![allow(clippy::unwrap_used)]

use ccs_proto::homeplug::key_msg::{GetKeyReq, SetKeyReq};
use ccs_proto::homeplug::slac_msg::MnbcSoundInd;
use ccs_proto::homeplug::{MacAddress, Mme, MmeFrame, Nid, Nmk, Oui, RunId};
use ccs_proto::time::{Duration, Instant};
use ccs_sim::modem::{ChipFlavour, LineFrame, ModemConfig, ModemOutput, ModemRole, SimModem};
use ccs_sim::powerline::Powerline;

const HOST: MacAddress = MacAddress([0x02, 0, 0, 0, 0, 0x01]);
const MODEM: MacAddress = MacAddress([0x98, 0x48, 0x27, 0, 0, 0x01]);

fn request(body: Mme) -> Vec<u8> {
    MmeFrame::new(MacAddress::QCA_LOCALCAST, HOST, body).emit()
}

/// Everything the modem emits up to `until`, with the time it came out.
fn drain(modem: &mut SimModem, until: Instant) -> Vec<(Instant, ModemOutput)> {
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let Some(next) = modem.poll_timeout() else {
            break;
        };
        if next > until {
            break;
        }
        modem.handle_timeout(next);
        while let Some(o) = modem.poll_output(next) {
            out.push((next, o));
        }
    }
    out
}

fn host_frames(outputs: &[(Instant, ModemOutput)]) -> Vec<(Instant, MmeFrame)> {
    outputs
        .iter()
        .filter_map(|(t, o)| match o {
            ModemOutput::ToHost(f) => MmeFrame::parse(f).ok().map(|f| (*t, f)),
            ModemOutput::ToLine(_) => None,
        })
        .collect()
}

#[test]
fn answers_sw_ver_from_its_own_mac_within_a_few_ms() {
    let t0 = Instant::ZERO;
    let mut modem = SimModem::new(
        ModemConfig::new(ModemRole::Pev, ChipFlavour::TpLinkQca7420, MODEM),
        1,
        t0,
    );
    modem.handle_host_frame(t0, &request(Mme::SwVerReq));
    let frames = host_frames(&drain(&mut modem, Instant::from_millis(50)));
    let (at, cnf) = &frames[0];
    assert_eq!(*at, Instant::from_millis(2));
    assert_eq!((cnf.source, cnf.destination), (MODEM, HOST));
    let Mme::SwVerCnf(v) = &cnf.body else {
        panic!("{cnf}")
    };
    assert_eq!(v.version, "MAC-QCA7420-1.4.0.20-00-20171027-CS");
    assert_eq!(v.device_class, 0x20);
}

#[test]
fn set_key_keeps_the_old_key_then_reboots_then_uses_the_new_one() {
    let t0 = Instant::ZERO;
    let config = ModemConfig::new(ModemRole::Evse, ChipFlavour::Qca7000, MODEM);
    let (apply, reboot) = (config.key_apply_delay, config.reboot_time);
    let mut modem = SimModem::new(config, 2, t0);
    let old = modem.key();
    let nmk = Nmk([0x42; 16]);
    let nid = Nid([1, 2, 3, 4, 5, 6, 7]);
    modem.handle_host_frame(t0, &request(Mme::SetKeyReq(SetKeyReq::new(nid, nmk))));
    let frames = host_frames(&drain(&mut modem, Instant::from_millis(10)));
    assert!(matches!(&frames[0].1.body, Mme::SetKeyCnf(c) if c.result == 0x01 && c.pmn == 0xff));
    // Old key still in effect just before key_apply_delay.
    drain(&mut modem, t0 + apply - Duration::from_millis(1));
    assert_eq!(modem.key(), old);
    let get_key = |nid| {
        request(Mme::GetKeyReq(GetKeyReq {
            request_type: 0,
            requested_key_type: 1,
            nid,
            my_nonce: [0xaa; 4],
            pid: 4,
            prn: 0,
            pmn: 0,
        }))
    };
    // Rebooting: no answers at all.
    let during = t0 + apply + Duration::from_millis(10);
    drain(&mut modem, during);
    assert!(modem.is_rebooting(during));
    modem.handle_host_frame(during, &get_key(nid));
    assert!(host_frames(&drain(&mut modem, during + Duration::from_millis(50))).is_empty());
    // After the reboot the new key is in effect; GET_KEY grants it only with the right NID
    // and always reports the current NID.
    let after = t0 + apply + reboot + Duration::from_millis(10);
    drain(&mut modem, after);
    assert_eq!(modem.key().nmk, nmk);
    modem.handle_host_frame(after, &get_key(Nid([9; 7])));
    modem.handle_host_frame(after, &get_key(nid));
    let answers = host_frames(&drain(&mut modem, after + Duration::from_millis(50)));
    let cnfs: Vec<_> = answers
        .iter()
        .filter_map(|(_, f)| match &f.body {
            Mme::GetKeyCnf(c) => Some(c.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(cnfs.len(), 2);
    assert_eq!(
        (cnfs[0].result, cnfs[0].nid, cnfs[0].key),
        (0x01, nid, None)
    );
    assert_eq!((cnfs[1].result, cnfs[1].key), (0x00, Some(nmk)));
}

#[test]
fn reset_answers_then_reboots() {
    let t0 = Instant::ZERO;
    let mut modem = SimModem::new(
        ModemConfig::new(ModemRole::Pev, ChipFlavour::Qca7000, MODEM),
        3,
        t0,
    );
    modem.handle_host_frame(t0, &request(Mme::RsDevReq));
    let frames = host_frames(&drain(&mut modem, Instant::from_millis(10)));
    assert!(matches!(frames[0].1.body, Mme::RsDevCnf(_)));
    assert!(modem.is_rebooting(Instant::from_millis(10)));
}

#[test]
fn unknown_requests_to_the_modem_get_no_answer() {
    let t0 = Instant::ZERO;
    let mut modem = SimModem::new(
        ModemConfig::new(ModemRole::Pev, ChipFlavour::Qca7000, MODEM),
        4,
        t0,
    );
    let frame = MmeFrame::new(
        MacAddress::QCA_LOCALCAST,
        HOST,
        Mme::Other {
            mmtype: 0xa068u16.into(),
            body: vec![0; 5],
        },
    );
    modem.handle_host_frame(t0, &frame.emit());
    assert!(drain(&mut modem, Instant::from_millis(50)).is_empty());
}

fn sound(count: u8) -> Vec<u8> {
    MmeFrame::new(
        MacAddress::BROADCAST,
        HOST,
        Mme::MnbcSoundInd(MnbcSoundInd {
            application_type: 0,
            security_type: 0,
            sender_id: [0; 17],
            count,
            run_id: RunId([1; 8]),
            reserved: [0; 8],
            random: [0xff; 16],
        }),
    )
    .emit()
}

#[test]
fn an_evse_modem_measures_sounds_in_both_flavours() {
    for (flavour, groups) in [(ChipFlavour::Qca7000, 58), (ChipFlavour::TpLinkQca7420, 0)] {
        let t0 = Instant::ZERO;
        let mut config = ModemConfig::new(ModemRole::Evse, flavour, MODEM);
        config.atten_char_oui = Oui::ZERO;
        let mut modem = SimModem::new(config, 5, t0);
        drain(&mut modem, t0);
        let line = LineFrame::Data {
            from_modem: MacAddress([9; 6]),
            avln: None,
            frame: sound(9),
        };
        modem.handle_line_frame(t0, &line, 30);
        let outputs = drain(&mut modem, Instant::from_millis(20));
        let frames = host_frames(&outputs);
        assert!(
            matches!(frames[0].1.body, Mme::MnbcSoundInd(_)),
            "the sound itself goes to the host"
        );
        let profile = frames
            .iter()
            .find_map(|(t, f)| match &f.body {
                Mme::AttenProfileInd(p) => Some((*t, p.clone())),
                _ => None,
            })
            .unwrap();
        assert_eq!(profile.1.pev_mac, HOST);
        assert_eq!(profile.1.groups.len(), groups);
        assert!(profile.1.groups.iter().all(|&g| (28..=32).contains(&g)));
        assert!(profile.0 > t0 && profile.0 <= Instant::from_millis(8));
        let twin = frames
            .iter()
            .find(|(_, f)| matches!(f.body, Mme::VsAttenCharInd(_)))
            .unwrap();
        assert_eq!(twin.1.header.oui, Oui::ZERO);
        // The twin is broadcast over the line as well.
        assert!(
            outputs
                .iter()
                .any(|(_, o)| matches!(o, ModemOutput::ToLine(LineFrame::Data { .. })))
        );
    }
}

#[test]
fn broadcast_get_key_is_answered_by_the_remote_modem_inside_an_avln() {
    // pyPLC counts modems this way: two answers once the AVLN exists.
    let t0 = Instant::ZERO;
    let ev_modem = MacAddress([0x98, 0x48, 0x27, 0, 0, 0x02]);
    let (mut line, ev, evse) = Powerline::with_pair(
        6,
        t0,
        ModemConfig::new(ModemRole::Pev, ChipFlavour::Qca7000, ev_modem),
        ModemConfig::new(ModemRole::Evse, ChipFlavour::Qca7000, MODEM),
    );
    let nmk = Nmk([0x11; 16]);
    let nid = Nid([7; 7]);
    let evse_host = MacAddress([0x02, 0, 0, 0, 0, 0x05]);
    for (station, host) in [(evse, evse_host), (ev, HOST)] {
        let set_key = MmeFrame::new(
            MacAddress::QCA_LOCALCAST,
            host,
            Mme::SetKeyReq(SetKeyReq::new(nid, nmk)),
        );
        line.handle_host_frame(t0, station, &set_key.emit());
    }
    let mut now = t0;
    for _ in 0..10_000 {
        match line.poll_timeout() {
            Some(next) if next <= Instant::from_secs_f64_for_test(4.0) => {
                now = next;
                line.handle_timeout(now);
            }
            _ => break,
        }
    }
    while line.poll_host_transmit().is_some() {}
    assert!(line.modem(ev).unwrap().link_up() && line.modem(evse).unwrap().link_up());
    let get_key = MmeFrame::new(
        MacAddress::BROADCAST,
        HOST,
        Mme::GetKeyReq(GetKeyReq {
            request_type: 0,
            requested_key_type: 1,
            nid,
            my_nonce: [0xaa; 4],
            pid: 4,
            prn: 0,
            pmn: 0,
        }),
    );
    line.handle_host_frame(now, ev, &get_key.emit());
    let mut answers = Vec::new();
    let until = now + Duration::from_millis(50);
    for _ in 0..10_000 {
        while let Some((station, f)) = line.poll_host_transmit() {
            if station == ev
                && let Ok(MmeFrame {
                    source,
                    body: Mme::GetKeyCnf(c),
                    ..
                }) = MmeFrame::parse(&f)
            {
                answers.push((source, c.result));
            }
        }
        match line.poll_timeout() {
            Some(next) if next <= until => line.handle_timeout(next),
            _ => break,
        }
    }
    answers.sort();
    assert_eq!(answers, vec![(MODEM, 0x01), (ev_modem, 0x00)]);
}

trait ForTest {
    fn from_secs_f64_for_test(secs: f64) -> Self;
}

impl ForTest for Instant {
    fn from_secs_f64_for_test(secs: f64) -> Self {
        Self::from_micros((secs * 1e6) as i64)
    }
}
