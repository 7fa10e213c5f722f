//! The EVSE side of SLAC (ISO 15118-3 §9.2–9.4, Annex A.9; homeplug-slac.md §3.1–3.4, §4.2).
//!
//! Several matching runs can be in flight at once, keyed by (EV MAC, RunID) as EVerest does:
//! at a multi-charger site every charger hears every car's broadcasts, so a neighbour's car
//! starting SLAC must not abort the run of the car at our plug. Each run has its own timers;
//! the machine's own table holds the modem timers and TT_EVSE_SLAC_init.

use std::collections::VecDeque;

use crate::homeplug::slac_msg::{
    APPLICATION_TYPE_PEV_EVSE, ATTEN_GROUPS, AttenCharInd, AttenCharRsp, AttenProfileInd,
    MATCH_CNF_MVF_LENGTH, MatchFields, SECURITY_TYPE_NONE, SlacMatchCnf, SlacMatchReq, SlacParmCnf,
    ValidateCnf, ValidateReq,
};
use crate::homeplug::{MacAddress, Mme, MmeFrame, Nid, Nmk, RunId, WireError};
use crate::time::Instant;

use super::modem::{ModemControl, ModemReply, set_key_accepted};
use super::timer::TimerTable;
use super::{AttenuationSource, EvseSlacConfig, ModemMode, SlacError, SlacEvent, SlacTimer};

/// At most this many runs at once; a new car beyond it supersedes the oldest unmatched run.
const MAX_SESSIONS: usize = 8;

/// One car's matching run.
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
    timers: TimerTable,
}

impl Session {
    fn new(ev_mac: MacAddress, run_id: RunId) -> Self {
        Self {
            ev_mac,
            run_id,
            step: Step::WaitingStartAtten,
            sums: [0; ATTEN_GROUPS],
            measured_profiles: 0,
            empty_profiles: 0,
            sounds: 0,
            ind_sent: 0,
            timers: TimerTable::default(),
        }
    }
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

#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum State {
    FindingModem {
        sent: u32,
    },
    SettingKey {
        sent: u32,
    },
    /// The modem accepted the key; it is restarting with it (old key in effect, then a
    /// reboot). CM_NW_INFO is polled until it reports the new NID.
    WaitingNetwork,
    /// Keyed and waiting for (or serving) cars.
    Ready,
    /// The modem is missing or refuses the key.
    Failed,
}

/// The charger's SLAC machine.
///
/// # Driving it
///
/// 1. `EvseSlac::new(config, our_mac, nmk, now)` with a fresh NMK from the caller's CSPRNG;
///    the NID is derived from it. With a modem, the machine finds it (VS_SW_VER) and keys it
///    (CM_SET_KEY), then polls CM_NW_INFO until the modem reports the new NID (it keeps the old
///    key for a while and reboots); [`SlacEvent::Ready`] follows. Without, it is ready at once.
/// 2. Optionally [`EvseSlac::arm_slac_init`] when the CP enters B/C/D with 5 % PWM.
/// 3. Loop as for [`super::EvSlac`]: [`EvseSlac::handle_frame`] for every received frame,
///    [`EvseSlac::handle_timeout`] at [`EvseSlac::poll_timeout`], then drain
///    [`EvseSlac::poll_transmit`] and [`EvseSlac::poll_event`].
/// 4. After the charging session (unplug), [`EvseSlac::next_session`] with a new NMK re-keys
///    the modem (which also drops the old car from the AVLN) for the next car.
///
/// A new CM_SLAC_PARM.REQ from a car starts a fresh run for it in any state: cars restart SLAC
/// by themselves after any failure (EVerest PR #1181 `reset_instead_of_fail`).
#[derive(Debug)]
pub struct EvseSlac {
    config: EvseSlacConfig,
    our_mac: MacAddress,
    nmk: Nmk,
    nid: Nid,
    modem: ModemControl,
    timers: TimerTable,
    state: State,
    sessions: Vec<Session>,
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
            sessions: Vec::new(),
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
        self.state == State::Ready
    }

    /// The car that completed SLAC_MATCH with us, if any.
    pub fn matched_ev(&self) -> Option<MacAddress> {
        self.sessions
            .iter()
            .find(|s| s.step == Step::Matched)
            .map(|s| s.ev_mac)
    }

    /// Starts TT_EVSE_SLAC_init: call when the CP enters B, C or D with 5 % PWM.
    pub fn arm_slac_init(&mut self, now: Instant) {
        self.timers.set(
            SlacTimer::TtEvseSlacInit,
            now + self.config.timings.tt_evse_slac_init,
        );
    }

    /// Ends every run and re-keys the modem with a fresh NMK (and its derived NID) for the
    /// next car.
    pub fn next_session(&mut self, now: Instant, nmk: Nmk) {
        self.timers.stop_all();
        self.sessions.clear();
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
        self.sessions
            .iter()
            .filter_map(|s| s.timers.next_timeout())
            .chain(self.timers.next_timeout())
            .min()
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
        // Bounded, see `EvSlac::handle_timeout`.
        for _ in 0..64 {
            let Some(timer) = self.timers.pop_expired(now) else {
                break;
            };
            self.on_timer(now, timer);
        }
        // Each pass handles one expired session timer; bounded by the timers that exist.
        for _ in 0..self.sessions.len() * SlacTimer::ALL.len() {
            let Some((index, timer)) = self
                .sessions
                .iter_mut()
                .enumerate()
                .find_map(|(i, s)| s.timers.pop_expired(now).map(|t| (i, t)))
            else {
                break;
            };
            self.with_session(index, |this, s| this.on_session_timer(now, s, timer));
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
        if self.state != State::Ready {
            return Ok(());
        }
        let source = frame.source;
        match &frame.body {
            // Table A.1: only PEV–EVSE matching without security is defined.
            Mme::SlacParmReq(req)
                if req.application_type == APPLICATION_TYPE_PEV_EVSE
                    && req.security_type == SECURITY_TYPE_NONE =>
            {
                self.on_parm_req(now, source, req.run_id);
            }
            Mme::StartAttenCharInd(ind) => {
                self.for_run(source, ind.run_id, |this, s| this.on_start_atten(now, s));
            }
            Mme::MnbcSoundInd(sound) => {
                self.for_run(source, sound.run_id, |this, s| this.on_sound(now, s));
            }
            // The profile comes from our own modem and names the car; it has no RunID.
            Mme::AttenProfileInd(profile) if Some(source) == self.modem.modem_mac() => {
                let index = self
                    .sessions
                    .iter()
                    .position(|s| s.ev_mac == profile.pev_mac && s.step == Step::Sounding);
                if let Some(index) = index {
                    self.with_session(index, |this, s| this.on_profile(now, s, profile));
                }
            }
            Mme::AttenCharRsp(rsp) => {
                self.for_run(source, rsp.run_id, |this, s| this.on_atten_rsp(now, s, rsp));
            }
            // Table A.10: addressed to us, for our MAC, about this car's run.
            Mme::SlacMatchReq(req)
                if frame.destination == self.our_mac
                    && req.fields.evse_mac == self.our_mac
                    && req.fields.pev_mac == source =>
            {
                self.for_run(source, req.fields.run_id, |this, s| {
                    this.on_match_req(s, req)
                });
            }
            Mme::ValidateReq(req) if self.sessions.iter().any(|s| s.ev_mac == source) => {
                self.on_validate_req(source, req);
            }
            _ => {}
        }
        Ok(())
    }

    /// Runs `f` on the run of (`ev_mac`, `run_id`), if there is one.
    fn for_run(
        &mut self,
        ev_mac: MacAddress,
        run_id: RunId,
        f: impl FnOnce(&mut Self, &mut Session) -> bool,
    ) {
        if let Some(index) = self
            .sessions
            .iter()
            .position(|s| s.ev_mac == ev_mac && s.run_id == run_id)
        {
            self.with_session(index, f);
        }
    }

    /// Takes session `index` out, runs `f` on it, and puts it back unless `f` returns false.
    fn with_session(&mut self, index: usize, f: impl FnOnce(&mut Self, &mut Session) -> bool) {
        if index >= self.sessions.len() {
            return;
        }
        let mut session = self.sessions.remove(index);
        if f(self, &mut session) {
            self.sessions
                .insert(index.min(self.sessions.len()), session);
        }
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

    fn poll_network(&mut self, now: Instant) {
        let frame = self.modem.network_info_request();
        self.push(&frame);
        self.timers.set(
            SlacTimer::LinkStatusPoll,
            now + self.config.timings.link_status_poll_interval,
        );
    }

    fn become_ready(&mut self) {
        self.state = State::Ready;
        self.events.push_back(SlacEvent::Ready { nid: self.nid });
    }

    fn fail(&mut self, reason: SlacError) {
        self.timers.stop_all();
        self.sessions.clear();
        self.state = State::Failed;
        self.events.push_back(SlacEvent::Failed { reason });
    }

    fn session_failed(&mut self, s: &Session, reason: SlacError) {
        self.events.push_back(SlacEvent::SessionFailed {
            ev_mac: s.ev_mac,
            run_id: s.run_id,
            reason,
        });
    }

    fn on_modem_reply(&mut self, now: Instant, reply: ModemReply) {
        match (reply, self.state) {
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
                    self.state = State::WaitingNetwork;
                    self.timers.set(
                        SlacTimer::ModemResponse,
                        now + self.config.timings.modem_network_timeout,
                    );
                    self.poll_network(now);
                } else {
                    // Advertising a key the modem never got would strand the car
                    // (EVerest PR #2324): stop here.
                    self.fail(SlacError::KeyRejected { result });
                }
            }
            (ModemReply::NetworkInfo(info), State::WaitingNetwork)
                if info.networks.iter().any(|n| n.nid == self.nid) =>
            {
                self.timers.stop(SlacTimer::ModemResponse);
                self.timers.stop(SlacTimer::LinkStatusPoll);
                self.become_ready();
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, now: Instant, timer: SlacTimer) {
        let attempts = self.config.timings.modem_request_attempts;
        match (timer, self.state) {
            (SlacTimer::ModemResponse, State::FindingModem { sent }) => {
                if sent < attempts {
                    self.send_modem_probe(now, sent);
                } else {
                    self.fail(SlacError::ModemNotFound);
                }
            }
            (SlacTimer::ModemResponse, State::SettingKey { sent }) => {
                if sent < attempts {
                    self.send_set_key(now, sent);
                } else {
                    self.fail(SlacError::ModemNotResponding);
                }
            }
            (SlacTimer::LinkStatusPoll, State::WaitingNetwork) => self.poll_network(now),
            (SlacTimer::ModemResponse, State::WaitingNetwork) => {
                // The modem never listed the new network; carry on, the car's join will tell.
                self.timers.stop(SlacTimer::LinkStatusPoll);
                self.become_ready();
            }
            (SlacTimer::TtEvseSlacInit, State::Ready) if self.sessions.is_empty() => {
                self.events.push_back(SlacEvent::SlacInitTimeout);
            }
            _ => {}
        }
    }

    fn on_parm_req(&mut self, now: Instant, ev_mac: MacAddress, run_id: RunId) {
        self.timers.stop(SlacTimer::TtEvseSlacInit);
        let existing = self.sessions.iter().position(|s| s.ev_mac == ev_mac);
        // Cars send the REQ up to three times before the CNF reaches them: a repeat before
        // sounding starts is answered again, not a new run.
        let repeat = existing.is_some_and(|i| {
            let s = &self.sessions[i];
            s.run_id == run_id && s.step == Step::WaitingStartAtten
        });
        if let Some(index) = existing
            && !repeat
        {
            // The same (MAC, RunID) restarts that run [V2G3-A09-16]; a new RunID from the
            // same car replaces its old run.
            let old = self.sessions.remove(index);
            if old.step != Step::Matched {
                self.session_failed(&old, SlacError::Restarted);
            }
        }
        if !repeat {
            if self.sessions.len() >= MAX_SESSIONS {
                let oldest = self
                    .sessions
                    .iter()
                    .position(|s| s.step != Step::Matched)
                    .unwrap_or(0);
                let old = self.sessions.remove(oldest);
                self.session_failed(&old, SlacError::Superseded);
            }
            self.sessions.push(Session::new(ev_mac, run_id));
            self.events
                .push_back(SlacEvent::SessionStarted { ev_mac, run_id });
        }
        let Some(session) = self.sessions.iter_mut().find(|s| s.ev_mac == ev_mac) else {
            return;
        };
        let t = &self.config.timings;
        session
            .timers
            .set(SlacTimer::TtMatchSequence, now + t.tt_match_sequence);
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
        self.push(&frame);
    }

    fn on_start_atten(&mut self, now: Instant, s: &mut Session) -> bool {
        // The first of the three starts TT_EVSE_match_MNBC; the others are repeats
        // (open-plc-utils PR #194, EVerest #1014).
        if s.step == Step::WaitingStartAtten {
            s.step = Step::Sounding;
            s.timers.stop(SlacTimer::TtMatchSequence);
            s.timers.set(
                SlacTimer::TtEvseMatchMnbc,
                now + self.config.timings.tt_evse_match_mnbc,
            );
        }
        true
    }

    fn on_sound(&mut self, now: Instant, s: &mut Session) -> bool {
        if s.step == Step::Sounding {
            s.sounds = s.sounds.saturating_add(1);
            self.check_sounding_complete(now, s);
        }
        true
    }

    fn on_profile(&mut self, now: Instant, s: &mut Session, profile: &AttenProfileInd) -> bool {
        if profile.groups.len() == ATTEN_GROUPS {
            for (sum, &g) in s.sums.iter_mut().zip(&profile.groups) {
                *sum = sum.saturating_add(u32::from(g));
            }
            s.measured_profiles = s.measured_profiles.saturating_add(1);
        } else {
            // TP-Link AR7420: NumGroups 0, nothing measured.
            s.empty_profiles = s.empty_profiles.saturating_add(1);
        }
        self.check_sounding_complete(now, s);
        true
    }

    /// All sounds in: answer after TP_EVSE_avg_atten_calc. With a modem the profiles count
    /// (the last one arrives a few ms after the last sound); without, the sounds.
    fn check_sounding_complete(&self, now: Instant, s: &mut Session) {
        let expected = u32::from(self.config.timings.c_ev_match_mnbc);
        let complete = match self.config.modem {
            ModemMode::Qca => s.measured_profiles.saturating_add(s.empty_profiles) >= expected,
            ModemMode::None => s.sounds >= expected,
        };
        if complete && !s.timers.is_armed(SlacTimer::TpEvseAvgAttenCalc) {
            s.timers.set(
                SlacTimer::TpEvseAvgAttenCalc,
                now + self.config.timings.tp_evse_avg_atten_calc,
            );
        }
    }

    fn on_atten_rsp(&mut self, now: Instant, s: &mut Session, rsp: &AttenCharRsp) -> bool {
        if s.step != Step::WaitingAttenRsp {
            return true;
        }
        s.timers.stop(SlacTimer::TtMatchResponse);
        if rsp.result != 0 {
            self.session_failed(
                s,
                SlacError::CharacterisationRejected { result: rsp.result },
            );
            return false;
        }
        s.step = Step::WaitingMatchReq;
        s.timers.set(
            SlacTimer::TtEvseMatchSession,
            now + self.config.timings.tt_evse_match_session,
        );
        true
    }

    fn on_session_timer(&mut self, now: Instant, s: &mut Session, timer: SlacTimer) -> bool {
        match (timer, s.step) {
            (SlacTimer::TtMatchSequence, Step::WaitingStartAtten) => {
                self.session_failed(s, SlacError::Timeout(timer));
                false
            }
            // Window over or last profile in: report what arrived, even if sounds were lost.
            (SlacTimer::TtEvseMatchMnbc | SlacTimer::TpEvseAvgAttenCalc, Step::Sounding) => {
                s.timers.stop(SlacTimer::TtEvseMatchMnbc);
                s.timers.stop(SlacTimer::TpEvseAvgAttenCalc);
                if s.sounds == 0 && s.measured_profiles == 0 && s.empty_profiles == 0 {
                    // Not one sound heard: there is nothing to characterise, and a fixed
                    // profile would claim a closeness nobody measured (and win the car's
                    // choice over the charger it is really plugged into).
                    self.session_failed(s, SlacError::Timeout(timer));
                    return false;
                }
                self.send_atten_char_ind(now, s);
                true
            }
            (SlacTimer::TtMatchResponse, Step::WaitingAttenRsp) => {
                // C_EV_match_retry re-sends of the IND (EVerest PR #1069), then give up.
                if s.ind_sent <= self.config.timings.c_ev_match_retry {
                    self.send_atten_char_ind(now, s);
                    true
                } else {
                    self.session_failed(s, SlacError::Timeout(timer));
                    false
                }
            }
            (SlacTimer::TtEvseMatchSession, Step::WaitingMatchReq) => {
                self.session_failed(s, SlacError::Timeout(timer));
                false
            }
            _ => true,
        }
    }

    /// The averaged profile (truncating division as open-plc-utils and EVerest do) plus the
    /// offset, or the fixed profile when nothing was measured; and NUM_SOUNDS.
    fn attenuation_profile(&self, s: &Session) -> (Vec<u8>, u8) {
        let heard = s
            .sounds
            .max(s.measured_profiles.saturating_add(s.empty_profiles));
        if self.config.attenuation_source == AttenuationSource::AlwaysFixed
            || s.measured_profiles == 0
        {
            return (
                self.config.fixed_profile.to_vec(),
                u8::try_from(heard).unwrap_or(u8::MAX),
            );
        }
        let offset = i64::from(self.config.attenuation_offset_db);
        let groups = s
            .sums
            .iter()
            .map(|&sum| {
                let average = i64::from(sum / s.measured_profiles);
                u8::try_from((average + offset).clamp(0, 255)).unwrap_or(u8::MAX)
            })
            .collect();
        (groups, u8::try_from(s.measured_profiles).unwrap_or(u8::MAX))
    }

    fn send_atten_char_ind(&mut self, now: Instant, s: &mut Session) {
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
        self.push(&frame);
        if s.ind_sent == 0 {
            self.events.push_back(SlacEvent::AttenuationSent {
                ev_mac: s.ev_mac,
                mean_db,
            });
        }
        s.ind_sent += 1;
        s.step = Step::WaitingAttenRsp;
        s.timers.set(
            SlacTimer::TtMatchResponse,
            now + self.config.timings.tt_match_response,
        );
    }

    fn on_match_req(&mut self, s: &mut Session, req: &SlacMatchReq) -> bool {
        // Lenient: a car whose RSP got lost may go straight to MATCH.REQ.
        if !matches!(
            s.step,
            Step::WaitingAttenRsp | Step::WaitingMatchReq | Step::Matched
        ) {
            return true;
        }
        let first = s.step != Step::Matched;
        s.step = Step::Matched;
        s.timers.stop_all();
        let cnf = SlacMatchCnf {
            fields: MatchFields {
                application_type: APPLICATION_TYPE_PEV_EVSE,
                security_type: SECURITY_TYPE_NONE,
                mvf_length: MATCH_CNF_MVF_LENGTH,
                pev_id: req.fields.pev_id,
                pev_mac: s.ev_mac,
                evse_id: [0; 17],
                evse_mac: self.our_mac,
                run_id: s.run_id,
                reserved: [0; 8],
            },
            nid: self.nid,
            reserved: 0,
            nmk: self.nmk,
        };
        let frame = MmeFrame::new(s.ev_mac, self.our_mac, Mme::SlacMatchCnf(cnf));
        self.push(&frame);
        if first {
            self.events.push_back(SlacEvent::Paired {
                nmk: self.nmk,
                nid: self.nid,
                evse_mac: self.our_mac,
                ev_mac: s.ev_mac,
                run_id: s.run_id,
            });
        }
        true
    }

    fn on_validate_req(&mut self, ev_mac: MacAddress, req: &ValidateReq) {
        // Table A.9: this charger does not count S2 toggles; like EVerest's it answers with
        // the configured result (failure by default), and cars go on to CM_SLAC_MATCH.
        let cnf = ValidateCnf {
            signal_type: req.signal_type,
            toggle_num: 0,
            result: self.config.validate_result,
        };
        let frame = MmeFrame::new(ev_mac, self.our_mac, Mme::ValidateCnf(cnf));
        self.push(&frame);
    }
}
