//! The EVSE side of SLAC (ISO 15118-3 §9.2–9.4, Annex A.9; homeplug-slac.md §3.1–3.3, §4.2).

use std::collections::VecDeque;

use crate::homeplug::slac_msg::{
    APPLICATION_TYPE_PEV_EVSE, ATTEN_GROUPS, AttenCharInd, MATCH_CNF_MVF_LENGTH, MatchFields,
    SECURITY_TYPE_NONE, SlacMatchCnf, SlacMatchReq, SlacParmCnf,
};
use crate::homeplug::{MacAddress, Mme, MmeFrame, Nid, Nmk, RunId, WireError};
use crate::time::Instant;

use super::modem::{ModemControl, ModemReply, set_key_accepted};
use super::timer::TimerTable;
use super::{AttenuationSource, EvseSlacConfig, ModemMode, SlacError, SlacEvent, SlacTimer};

/// One car's matching run, keyed by (EV MAC, RunID) (homeplug-slac.md §3.4).
#[derive(Clone, Debug)]
struct Session {
    ev_mac: MacAddress,
    run_id: RunId,
    step: Step,
    /// Sum per group of the measured profiles.
    sums: [u32; ATTEN_GROUPS],
    measured_profiles: u32,
    empty_profiles: u32,
    sounds: u32,
    ind_sent: u32,
    pev_id: [u8; 17],
}

#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Step {
    /// PARM.CNF sent; TT_match_sequence runs until START_ATTEN_CHAR.
    WaitingStartAtten,
    /// TT_EVSE_match_MNBC runs; sounds and profiles are collected.
    Sounding,
    /// ATTEN_CHAR.IND sent; TT_match_response runs until ATTEN_CHAR.RSP.
    WaitingAttenRsp,
    /// TT_EVSE_match_session runs until SLAC_MATCH.REQ.
    WaitingMatchReq,
    /// MATCH.CNF sent; a repeated MATCH.REQ gets the same CNF.
    Matched,
}

#[derive(Clone, Debug)]
enum State {
    FindingModem {
        sent: u32,
    },
    SettingKey {
        sent: u32,
    },
    /// Keyed and waiting for (or serving) cars.
    Ready {
        session: Option<Box<Session>>,
    },
    /// The modem is missing or refuses the key.
    Failed,
}

/// The charger's SLAC machine.
///
/// # Driving it
///
/// 1. `EvseSlac::new(config, our_mac, nmk, now)` with a fresh NMK from the caller's CSPRNG;
///    the NID is derived from it. With a modem, the machine finds it (VS_SW_VER) and keys it
///    (CM_SET_KEY); [`SlacEvent::Ready`] follows. Without, it is ready at once.
/// 2. Optionally [`EvseSlac::arm_slac_init`] when the CP enters B/C/D with 5 % PWM.
/// 3. Loop as for [`super::EvSlac`]: [`EvseSlac::handle_frame`] for every received frame,
///    [`EvseSlac::handle_timeout`] at [`EvseSlac::poll_timeout`], then drain
///    [`EvseSlac::poll_transmit`] and [`EvseSlac::poll_event`].
/// 4. After the charging session (unplug), [`EvseSlac::next_session`] with a new NMK re-keys
///    the modem (which also drops the old car from the AVLN) for the next car.
///
/// A new CM_SLAC_PARM.REQ in any state starts a fresh run: cars restart SLAC by themselves
/// after any failure (EVerest PR #1181 `reset_instead_of_fail`).
#[derive(Debug)]
pub struct EvseSlac {
    config: EvseSlacConfig,
    our_mac: MacAddress,
    nmk: Nmk,
    nid: Nid,
    modem: ModemControl,
    timers: TimerTable,
    state: State,
    transmits: VecDeque<Vec<u8>>,
    events: VecDeque<SlacEvent>,
}

impl EvseSlac {
    /// A charger with host MAC `our_mac` and session key `nmk`.
    pub fn new(config: EvseSlacConfig, our_mac: MacAddress, nmk: Nmk, now: Instant) -> Self {
        let nid = Nid::from_nmk(&nmk, config.security_level);
        let mut this = Self {
            config,
            our_mac,
            nmk,
            nid,
            modem: ModemControl::new(our_mac),
            timers: TimerTable::default(),
            state: State::Failed,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        };
        match this.config.modem {
            ModemMode::Qca => this.send_modem_probe(now, 0),
            ModemMode::None => this.become_ready(),
        }
        this
    }

    /// The session NMK.
    pub const fn nmk(&self) -> Nmk {
        self.nmk
    }

    /// The NID derived from it.
    pub const fn nid(&self) -> Nid {
        self.nid
    }

    /// The local modem's MAC, once found.
    pub const fn modem_mac(&self) -> Option<MacAddress> {
        self.modem.modem_mac()
    }

    /// True once the modem is keyed (or there is none) and PARM.REQ is answered.
    pub fn is_ready(&self) -> bool {
        matches!(self.state, State::Ready { .. })
    }

    /// The car currently matched, if any.
    pub fn matched_ev(&self) -> Option<MacAddress> {
        match &self.state {
            State::Ready {
                session: Some(s), ..
            } if s.step == Step::Matched => Some(s.ev_mac),
            _ => None,
        }
    }

    /// Starts TT_EVSE_SLAC_init: call when the CP enters B, C or D with 5 % PWM.
    pub fn arm_slac_init(&mut self, now: Instant) {
        self.timers.set(
            SlacTimer::TtEvseSlacInit,
            now + self.config.timings.tt_evse_slac_init,
        );
    }

    /// Ends the current car's session and re-keys the modem with a fresh NMK (and its derived
    /// NID) for the next one.
    pub fn next_session(&mut self, now: Instant, nmk: Nmk) {
        self.timers.stop_all();
        self.nmk = nmk;
        self.nid = Nid::from_nmk(&nmk, self.config.security_level);
        match self.config.modem {
            ModemMode::Qca if self.modem.modem_mac().is_some() => self.send_set_key(now, 0),
            ModemMode::Qca => self.send_modem_probe(now, 0),
            ModemMode::None => self.become_ready(),
        }
    }

    /// The next deadline, if any.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_timeout()
    }

    /// The next frame to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmits.pop_front()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<SlacEvent> {
        self.events.pop_front()
    }

    /// Runs every timer that has expired at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_expired(now) {
            self.on_timer(now, timer);
        }
    }

    /// Takes a received frame; see [`super::EvSlac::handle_frame`].
    pub fn handle_frame(&mut self, now: Instant, bytes: &[u8]) -> Result<(), WireError> {
        let frame = match MmeFrame::parse(bytes) {
            Ok(frame) => frame,
            Err(WireError::NotHomePlug(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        if frame.destination != self.our_mac && !frame.destination.is_group() {
            return Ok(());
        }
        if let Some(reply) = self.modem.classify(&frame) {
            self.on_modem_reply(now, reply);
            return Ok(());
        }
        let State::Ready { session } = &mut self.state else {
            return Ok(());
        };
        match &frame.body {
            // Table A.1: only PEV–EVSE matching without security is defined.
            Mme::SlacParmReq(req)
                if req.application_type == APPLICATION_TYPE_PEV_EVSE
                    && req.security_type == SECURITY_TYPE_NONE =>
            {
                self.on_parm_req(now, frame.source, req.run_id);
            }
            Mme::StartAttenCharInd(ind) => {
                if let Some(s) = session
                    && s.ev_mac == frame.source
                    && s.run_id == ind.run_id
                    && s.step == Step::WaitingStartAtten
                {
                    // The first of the three starts TT_EVSE_match_MNBC; the others are
                    // repeats (open-plc-utils PR #194, EVerest #1014).
                    s.step = Step::Sounding;
                    self.timers.stop(SlacTimer::TtMatchSequence);
                    self.timers.set(
                        SlacTimer::TtEvseMatchMnbc,
                        now + self.config.timings.tt_evse_match_mnbc,
                    );
                }
            }
            Mme::MnbcSoundInd(sound) => {
                if let Some(s) = session
                    && s.ev_mac == frame.source
                    && s.run_id == sound.run_id
                    && s.step == Step::Sounding
                {
                    s.sounds += 1;
                    self.check_sounding_complete(now);
                }
            }
            Mme::AttenProfileInd(profile) => {
                if let Some(s) = session
                    && s.ev_mac == profile.pev_mac
                    && s.step == Step::Sounding
                    && Some(frame.source) == self.modem.modem_mac()
                {
                    if profile.groups.len() == ATTEN_GROUPS {
                        for (sum, &g) in s.sums.iter_mut().zip(&profile.groups) {
                            *sum += u32::from(g);
                        }
                        s.measured_profiles += 1;
                    } else {
                        // TP-Link AR7420: NumGroups 0, nothing measured.
                        s.empty_profiles += 1;
                    }
                    self.check_sounding_complete(now);
                }
            }
            Mme::AttenCharRsp(rsp) => {
                if let Some(s) = session
                    && s.ev_mac == frame.source
                    && s.run_id == rsp.run_id
                    && s.step == Step::WaitingAttenRsp
                {
                    self.timers.stop(SlacTimer::TtMatchResponse);
                    if rsp.result == 0 {
                        s.step = Step::WaitingMatchReq;
                        self.timers.set(
                            SlacTimer::TtEvseMatchSession,
                            now + self.config.timings.tt_evse_match_session,
                        );
                    } else {
                        let result = rsp.result;
                        self.end_session(SlacError::CharacterisationRejected { result });
                    }
                }
            }
            Mme::SlacMatchReq(req) => self.on_match_req(frame.source, req),
            _ => {}
        }
        Ok(())
    }

    fn push(&mut self, frame: &MmeFrame) {
        self.transmits.push_back(frame.emit());
    }

    fn send_modem_probe(&mut self, now: Instant, sent_before: u32) {
        let frame = self.modem.software_version_request();
        self.push(&frame);
        self.state = State::FindingModem {
            sent: sent_before + 1,
        };
        self.timers.set(
            SlacTimer::ModemResponse,
            now + self.config.timings.modem_response_timeout,
        );
    }

    fn send_set_key(&mut self, now: Instant, sent_before: u32) {
        let frame = self.modem.set_key_request(self.nid, self.nmk);
        self.push(&frame);
        self.state = State::SettingKey {
            sent: sent_before + 1,
        };
        self.timers.set(
            SlacTimer::ModemResponse,
            now + self.config.timings.modem_response_timeout,
        );
    }

    fn become_ready(&mut self) {
        self.state = State::Ready { session: None };
        self.events.push_back(SlacEvent::Ready { nid: self.nid });
    }

    fn fail(&mut self, reason: SlacError) {
        self.timers.stop_all();
        self.state = State::Failed;
        self.events.push_back(SlacEvent::Failed { reason });
    }

    /// The current car's run ends without a match; the next PARM.REQ starts afresh.
    fn end_session(&mut self, reason: SlacError) {
        self.stop_session_timers();
        if let State::Ready { session } = &mut self.state {
            *session = None;
        }
        self.events.push_back(SlacEvent::AttemptFailed { reason });
    }

    fn stop_session_timers(&mut self) {
        for timer in [
            SlacTimer::TtMatchSequence,
            SlacTimer::TtEvseMatchMnbc,
            SlacTimer::TpEvseAvgAttenCalc,
            SlacTimer::TtMatchResponse,
            SlacTimer::TtEvseMatchSession,
        ] {
            self.timers.stop(timer);
        }
    }

    fn on_modem_reply(&mut self, now: Instant, reply: ModemReply) {
        match (reply, &self.state) {
            (
                ModemReply::SoftwareVersion {
                    modem_mac,
                    firmware,
                    ..
                },
                State::FindingModem { .. },
            ) => {
                self.timers.stop(SlacTimer::ModemResponse);
                self.events.push_back(SlacEvent::ModemFound {
                    modem_mac,
                    firmware,
                });
                self.send_set_key(now, 0);
            }
            (ModemReply::SetKey { result }, State::SettingKey { .. }) => {
                self.timers.stop(SlacTimer::ModemResponse);
                if set_key_accepted(result, self.config.set_key_result_zero_is_success) {
                    self.become_ready();
                } else {
                    // Advertising a key the modem never got would strand the car
                    // (EVerest PR #2324): stop here.
                    self.fail(SlacError::KeyRejected { result });
                }
            }
            _ => {}
        }
    }

    fn on_parm_req(&mut self, now: Instant, ev_mac: MacAddress, run_id: RunId) {
        let State::Ready { session } = &mut self.state else {
            return;
        };
        if let Some(old) = session.as_ref()
            && (old.ev_mac != ev_mac || old.run_id != run_id)
            && old.step != Step::Matched
        {
            self.events.push_back(SlacEvent::AttemptFailed {
                reason: SlacError::Restarted,
            });
        }
        // The same (MAC, RunID) restarts that run [V2G3-A09-16]; a new one replaces it.
        *session = Some(Box::new(Session {
            ev_mac,
            run_id,
            step: Step::WaitingStartAtten,
            sums: [0; ATTEN_GROUPS],
            measured_profiles: 0,
            empty_profiles: 0,
            sounds: 0,
            ind_sent: 0,
            pev_id: [0; 17],
        }));
        self.stop_session_timers();
        self.timers.stop(SlacTimer::TtEvseSlacInit);
        let t = &self.config.timings;
        // Table A.2 exactly as real cars require it (open-plc-utils PR #134): FF…FF, 0A, 06,
        // 01, the EV's MAC, 00 00, the echoed RunID.
        let frame = MmeFrame::new(
            ev_mac,
            self.our_mac,
            Mme::SlacParmCnf(SlacParmCnf {
                msound_target: MacAddress::BROADCAST,
                num_sounds: t.c_ev_match_mnbc,
                time_out: t.time_out_field(),
                resp_type: 0x01,
                forwarding_sta: ev_mac,
                application_type: APPLICATION_TYPE_PEV_EVSE,
                security_type: SECURITY_TYPE_NONE,
                run_id,
            }),
        );
        self.timers
            .set(SlacTimer::TtMatchSequence, now + t.tt_match_sequence);
        self.push(&frame);
        self.events
            .push_back(SlacEvent::SessionStarted { ev_mac, run_id });
    }

    fn check_sounding_complete(&mut self, now: Instant) {
        let State::Ready {
            session: Some(s), ..
        } = &self.state
        else {
            return;
        };
        let expected = u32::from(self.config.timings.c_ev_match_mnbc);
        let complete = match self.config.modem {
            ModemMode::Qca => s.measured_profiles + s.empty_profiles >= expected,
            ModemMode::None => s.sounds >= expected,
        };
        if complete && !self.timers.is_armed(SlacTimer::TpEvseAvgAttenCalc) {
            self.timers.set(
                SlacTimer::TpEvseAvgAttenCalc,
                now + self.config.timings.tp_evse_avg_atten_calc,
            );
        }
    }

    /// The averaged profile (truncating division as open-plc-utils and EVerest do) plus the
    /// offset, or the fixed profile when nothing was measured.
    fn attenuation_profile(&self, s: &Session) -> (Vec<u8>, u8) {
        let sounds =
            u8::try_from(s.sounds.max(s.measured_profiles + s.empty_profiles)).unwrap_or(u8::MAX);
        if self.config.attenuation_source == AttenuationSource::AlwaysFixed
            || s.measured_profiles == 0
        {
            return (self.config.fixed_profile.to_vec(), sounds);
        }
        let offset = i32::from(self.config.attenuation_offset_db);
        let groups = s
            .sums
            .iter()
            .map(|&sum| {
                let avg = i32::try_from(sum / s.measured_profiles).unwrap_or(i32::MAX);
                u8::try_from((avg + offset).clamp(0, 255)).unwrap_or(u8::MAX)
            })
            .collect();
        (groups, u8::try_from(s.measured_profiles).unwrap_or(u8::MAX))
    }

    fn send_atten_char_ind(&mut self, now: Instant) {
        let State::Ready {
            session: Some(s), ..
        } = &self.state
        else {
            return;
        };
        let (groups, num_sounds) = self.attenuation_profile(s);
        let ind = AttenCharInd {
            application_type: APPLICATION_TYPE_PEV_EVSE,
            security_type: SECURITY_TYPE_NONE,
            source_address: s.ev_mac,
            run_id: s.run_id,
            source_id: [0; 17],
            resp_id: [0; 17],
            num_sounds,
            groups,
        };
        let mean_db = ind.mean_attenuation().unwrap_or_default();
        let frame = MmeFrame::new(s.ev_mac, self.our_mac, Mme::AttenCharInd(ind));
        let first = s.ind_sent == 0;
        self.push(&frame);
        if let State::Ready {
            session: Some(s), ..
        } = &mut self.state
        {
            s.ind_sent += 1;
            s.step = Step::WaitingAttenRsp;
        }
        if first {
            self.events.push_back(SlacEvent::AttenuationReported {
                evse_mac: self.our_mac,
                mean_db,
            });
        }
        self.timers.set(
            SlacTimer::TtMatchResponse,
            now + self.config.timings.tt_match_response,
        );
    }

    fn on_match_req(&mut self, source: MacAddress, req: &SlacMatchReq) {
        let State::Ready {
            session: Some(s), ..
        } = &mut self.state
        else {
            return;
        };
        let f = &req.fields;
        // Table A.10: the request must be this run's, from its car, for us.
        if s.ev_mac != source
            || f.run_id != s.run_id
            || f.pev_mac != s.ev_mac
            || f.evse_mac != self.our_mac
        {
            return;
        }
        // Lenient: a car whose RSP got lost may go straight to MATCH.REQ.
        if !matches!(
            s.step,
            Step::WaitingAttenRsp | Step::WaitingMatchReq | Step::Matched
        ) {
            return;
        }
        let first = s.step != Step::Matched;
        s.step = Step::Matched;
        s.pev_id = f.pev_id;
        let (ev_mac, run_id) = (s.ev_mac, s.run_id);
        self.timers.stop(SlacTimer::TtMatchResponse);
        self.timers.stop(SlacTimer::TtEvseMatchSession);
        let cnf = SlacMatchCnf {
            fields: MatchFields {
                application_type: APPLICATION_TYPE_PEV_EVSE,
                security_type: SECURITY_TYPE_NONE,
                mvf_length: MATCH_CNF_MVF_LENGTH,
                pev_id: f.pev_id,
                pev_mac: ev_mac,
                evse_id: [0; 17],
                evse_mac: self.our_mac,
                run_id,
                reserved: [0; 8],
            },
            nid: self.nid,
            reserved: 0,
            nmk: self.nmk,
        };
        let frame = MmeFrame::new(ev_mac, self.our_mac, Mme::SlacMatchCnf(cnf));
        self.push(&frame);
        if first {
            self.events.push_back(SlacEvent::Paired {
                nmk: self.nmk,
                nid: self.nid,
                evse_mac: self.our_mac,
                ev_mac,
                run_id,
            });
        }
    }

    fn on_timer(&mut self, now: Instant, timer: SlacTimer) {
        let attempts = self.config.timings.modem_request_attempts;
        match (timer, &self.state) {
            (SlacTimer::ModemResponse, &State::FindingModem { sent }) => {
                if sent < attempts {
                    self.send_modem_probe(now, sent);
                } else {
                    self.fail(SlacError::ModemNotFound);
                }
            }
            (SlacTimer::ModemResponse, &State::SettingKey { sent }) => {
                if sent < attempts {
                    self.send_set_key(now, sent);
                } else {
                    self.fail(SlacError::ModemNotResponding);
                }
            }
            (SlacTimer::TtEvseSlacInit, State::Ready { session: None }) => {
                self.events.push_back(SlacEvent::SlacInitTimeout);
            }
            (SlacTimer::TtMatchSequence, State::Ready { session: Some(_) }) => {
                self.end_session(SlacError::Timeout(SlacTimer::TtMatchSequence));
            }
            // Window over or last profile in: report what arrived, even if sounds were lost.
            (
                SlacTimer::TtEvseMatchMnbc | SlacTimer::TpEvseAvgAttenCalc,
                State::Ready {
                    session: Some(s), ..
                },
            ) if s.step == Step::Sounding => {
                self.timers.stop(SlacTimer::TtEvseMatchMnbc);
                self.timers.stop(SlacTimer::TpEvseAvgAttenCalc);
                self.send_atten_char_ind(now);
            }
            (
                SlacTimer::TtMatchResponse,
                State::Ready {
                    session: Some(s), ..
                },
            ) if s.step == Step::WaitingAttenRsp => {
                // C_EV_match_retry re-sends of the IND (EVerest PR #1069), then give up.
                if s.ind_sent <= self.config.timings.c_ev_match_retry {
                    self.send_atten_char_ind(now);
                } else {
                    self.end_session(SlacError::Timeout(SlacTimer::TtMatchResponse));
                }
            }
            (SlacTimer::TtEvseMatchSession, State::Ready { session: Some(_) }) => {
                self.end_session(SlacError::Timeout(SlacTimer::TtEvseMatchSession));
            }
            _ => {}
        }
    }
}
