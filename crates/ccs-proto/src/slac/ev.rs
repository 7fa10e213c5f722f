//! The EV side of SLAC (ISO 15118-3 §9.2–9.4, Annex A.9; homeplug-slac.md §3.1–3.4).

use std::collections::VecDeque;

use sha2::{Digest, Sha256};

use crate::homeplug::slac_msg::{
    APPLICATION_TYPE_PEV_EVSE, AttenCharInd, AttenCharRsp, MATCH_REQ_MVF_LENGTH, MatchFields,
    MnbcSoundInd, SECURITY_TYPE_NONE, SlacMatchReq, SlacParmReq, StartAttenCharInd,
};
use crate::homeplug::{MacAddress, Mme, MmeFrame, Nid, Nmk, RunId, WireError};
use crate::time::Instant;

use super::modem::{ModemControl, ModemReply, set_key_accepted};
use super::timer::TimerTable;
use super::{EvSlacConfig, LinkDetection, ModemMode, SlacError, SlacEvent, SlacTimer};

/// More chargers than any site has; INDs beyond this are ignored.
const MAX_CANDIDATES: usize = 32;

/// A charger that answered the sounding.
#[derive(Clone, Debug)]
struct Candidate {
    evse_mac: MacAddress,
    mean_db: f64,
}

#[derive(Clone, Debug)]
enum State {
    /// Not started, or paired, or given up.
    Idle,
    FindingModem {
        sent: u32,
    },
    WaitingParmCnf {
        sent: u32,
    },
    /// Sounding and, in parallel, collecting ATTEN_CHAR.IND until TT_EV_atten_results.
    Characterising {
        starts_sent: u8,
        sounds_sent: u8,
        candidates: Vec<Candidate>,
        window_closed: bool,
    },
    WaitingMatchCnf {
        chosen: Candidate,
        sent: u32,
    },
    SettingKey {
        chosen: Candidate,
        nid: Nid,
        nmk: Nmk,
        sent: u32,
    },
    WaitingLink {
        chosen: Candidate,
        nid: Nid,
        nmk: Nmk,
    },
    /// TT_matching_rate before the next attempt.
    Pausing,
}

/// The EV's SLAC machine.
///
/// # Driving it
///
/// 1. `EvSlac::new(config, our_mac, entropy)`; `entropy` (32 random bytes from the caller)
///    seeds the RunIDs and sounding RND values; the machine draws no random numbers itself.
/// 2. [`EvSlac::start`] when the CP shows 5 % PWM (or at once if there is no CP).
/// 3. Then loop:
///    - feed every received Ethernet frame to [`EvSlac::handle_frame`] (any EtherType; frames
///      that are not for us are ignored),
///    - call [`EvSlac::handle_timeout`] when the deadline from [`EvSlac::poll_timeout`] has
///      passed,
///    - after either, drain [`EvSlac::poll_transmit`] (frames to send, padded to 60 bytes),
///      then [`EvSlac::poll_event`], then read [`EvSlac::poll_timeout`] again.
///
/// It ends with [`SlacEvent::Paired`] or [`SlacEvent::Failed`]; in between,
/// [`SlacEvent::AttemptFailed`] reports each failed attempt before the next one starts.
#[derive(Debug)]
pub struct EvSlac {
    config: EvSlacConfig,
    our_mac: MacAddress,
    entropy: [u8; 32],
    draws: u64,
    modem: ModemControl,
    timers: TimerTable,
    state: State,
    attempts: u32,
    run_id: RunId,
    random: [u8; 16],
    last_rsp_at: Option<Instant>,
    transmits: VecDeque<Vec<u8>>,
    events: VecDeque<SlacEvent>,
}

impl EvSlac {
    /// A machine for the host with MAC `our_mac`.
    pub fn new(config: EvSlacConfig, our_mac: MacAddress, entropy: [u8; 32]) -> Self {
        Self {
            config,
            our_mac,
            entropy,
            draws: 0,
            modem: ModemControl::new(our_mac),
            timers: TimerTable::default(),
            state: State::Idle,
            attempts: 0,
            run_id: RunId::default(),
            random: [0; 16],
            last_rsp_at: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The RunID of the current attempt.
    pub const fn run_id(&self) -> RunId {
        self.run_id
    }

    /// The local modem's MAC, once found.
    pub const fn modem_mac(&self) -> Option<MacAddress> {
        self.modem.modem_mac()
    }

    /// True while matching is in progress.
    pub fn is_active(&self) -> bool {
        !matches!(self.state, State::Idle)
    }

    /// Starts (or restarts) matching: finds the modem first unless it is known or there is
    /// none, then runs up to C_conn_max_match attempts.
    pub fn start(&mut self, now: Instant) {
        self.timers.stop_all();
        self.attempts = 0;
        if self.config.modem == ModemMode::Qca && self.modem.modem_mac().is_none() {
            self.send_modem_probe(now, 0);
        } else {
            self.begin_attempt(now);
        }
    }

    /// Stops whatever is in progress (CP left 5 %, unplugged). No event.
    pub fn stop(&mut self) {
        self.timers.stop_all();
        self.state = State::Idle;
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
        // Bounded: a zero interval in the configuration cannot spin here; what is left runs
        // on the next call (the deadline is still due).
        for _ in 0..64 {
            let Some(timer) = self.timers.pop_expired(now) else {
                break;
            };
            self.on_timer(now, timer);
        }
    }

    /// Takes a received frame. Frames of other EtherTypes, for other hosts, or not expected
    /// now are ignored (`Ok`); a malformed HomePlug frame is an error to log, and is dropped.
    pub fn handle_frame(&mut self, now: Instant, bytes: &[u8]) -> Result<(), WireError> {
        let frame = match MmeFrame::parse(bytes) {
            Ok(frame) => frame,
            Err(WireError::NotHomePlug(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        // Unicast to another host reaches raw sockets too (pkttype OTHERHOST).
        if frame.destination != self.our_mac && !frame.destination.is_group() {
            return Ok(());
        }
        if let Some(reply) = self.modem.classify(&frame) {
            self.on_modem_reply(now, reply);
            return Ok(());
        }
        match &frame.body {
            Mme::SlacParmCnf(cnf) => self.on_parm_cnf(now, &frame, cnf.run_id),
            Mme::AttenCharInd(ind) => self.on_atten_char_ind(now, &frame, ind),
            // Table A.11: the CNF must be for our run, from the charger we chose, to us.
            Mme::SlacMatchCnf(cnf)
                if cnf.fields.run_id == self.run_id
                    && cnf.fields.pev_mac == self.our_mac
                    && frame.destination == self.our_mac =>
            {
                self.on_match_cnf(now, frame.source, cnf.nid, cnf.nmk);
            }
            _ => {}
        }
        Ok(())
    }

    fn push(&mut self, frame: &MmeFrame) {
        self.transmits.push_back(frame.emit());
    }

    fn draw(&mut self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.entropy);
        hasher.update(self.draws.to_le_bytes());
        self.draws += 1;
        hasher.finalize().into()
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

    fn begin_attempt(&mut self, now: Instant) {
        let draw = self.draw();
        let mut run_id = [0u8; 8];
        run_id.copy_from_slice(&draw[..8]);
        self.run_id = RunId(run_id);
        self.random.copy_from_slice(&draw[8..24]);
        self.last_rsp_at = None;
        self.attempts += 1;
        self.send_parm_req(now, 0);
    }

    fn send_parm_req(&mut self, now: Instant, sent_before: u32) {
        let frame = MmeFrame::new(
            MacAddress::BROADCAST,
            self.our_mac,
            Mme::SlacParmReq(SlacParmReq {
                application_type: APPLICATION_TYPE_PEV_EVSE,
                security_type: SECURITY_TYPE_NONE,
                run_id: self.run_id,
            }),
        );
        self.push(&frame);
        self.state = State::WaitingParmCnf {
            sent: sent_before + 1,
        };
        self.timers.set(
            SlacTimer::TtMatchResponse,
            now + self.config.timings.tt_match_response,
        );
    }

    /// Ends the current attempt; another follows after TT_matching_rate unless
    /// C_conn_max_match attempts are used up.
    fn fail_attempt(&mut self, now: Instant, reason: SlacError) {
        self.timers.stop_all();
        if self.attempts >= self.config.timings.c_conn_max_match {
            self.state = State::Idle;
            self.events.push_back(SlacEvent::Failed { reason });
        } else {
            self.state = State::Pausing;
            self.events.push_back(SlacEvent::AttemptFailed { reason });
            self.timers.set(
                SlacTimer::TtMatchingRate,
                now + self.config.timings.tt_matching_rate,
            );
        }
    }

    fn on_timer(&mut self, now: Instant, timer: SlacTimer) {
        let retries = self.config.timings.c_ev_match_retry;
        let modem_attempts = self.config.timings.modem_request_attempts;
        match (timer, core::mem::replace(&mut self.state, State::Idle)) {
            (SlacTimer::ModemResponse, State::FindingModem { sent }) => {
                if sent < modem_attempts {
                    self.send_modem_probe(now, sent);
                } else {
                    self.timers.stop_all();
                    self.events.push_back(SlacEvent::Failed {
                        reason: SlacError::ModemNotFound,
                    });
                }
            }
            (SlacTimer::TtMatchResponse, State::WaitingParmCnf { sent }) => {
                // C_EV_match_retry: the REQ is repeated, then the attempt fails.
                if sent <= retries {
                    self.send_parm_req(now, sent);
                } else {
                    self.fail_attempt(now, SlacError::Timeout(SlacTimer::TtMatchResponse));
                }
            }
            (
                SlacTimer::TpMatchSequence | SlacTimer::TpEvBatchMsgInterval,
                State::Characterising {
                    starts_sent,
                    sounds_sent,
                    candidates,
                    window_closed,
                },
            ) => self.send_next_batch_message(
                now,
                starts_sent,
                sounds_sent,
                candidates,
                window_closed,
            ),
            (
                SlacTimer::TtEvAttenResults,
                State::Characterising {
                    starts_sent,
                    sounds_sent,
                    candidates,
                    ..
                },
            ) => {
                let sounding_done = starts_sent >= self.config.timings.c_ev_start_atten_char_inds
                    && sounds_sent >= self.config.timings.c_ev_match_mnbc;
                self.state = State::Characterising {
                    starts_sent,
                    sounds_sent,
                    candidates,
                    window_closed: true,
                };
                if sounding_done {
                    self.choose(now);
                }
            }
            (SlacTimer::TpEvMatchSession, State::WaitingMatchCnf { chosen, sent: 0 }) => {
                self.send_match_req(now, chosen, 0);
            }
            (SlacTimer::TtMatchResponse, State::WaitingMatchCnf { chosen, sent }) => {
                if sent <= retries {
                    self.send_match_req(now, chosen, sent);
                } else {
                    self.fail_attempt(now, SlacError::Timeout(SlacTimer::TtMatchResponse));
                }
            }
            (
                SlacTimer::ModemResponse,
                State::SettingKey {
                    chosen,
                    nid,
                    nmk,
                    sent,
                },
            ) => {
                if sent < modem_attempts {
                    self.send_set_key(now, chosen, nid, nmk, sent);
                } else {
                    self.fail_attempt(now, SlacError::ModemNotResponding);
                }
            }
            (SlacTimer::LinkStatusPoll, state @ State::WaitingLink { .. }) => {
                self.state = state;
                let frame = match self.config.link_detection {
                    LinkDetection::PlLinkStatus => self.modem.link_status_request(),
                    LinkDetection::NetworkInfo => self.modem.network_info_request(),
                };
                self.push(&frame);
                self.timers.set(
                    SlacTimer::LinkStatusPoll,
                    now + self.config.timings.link_status_poll_interval,
                );
            }
            (SlacTimer::TtMatchJoin, State::WaitingLink { .. }) => {
                self.fail_attempt(now, SlacError::Timeout(SlacTimer::TtMatchJoin));
            }
            (SlacTimer::TtMatchingRate, State::Pausing) => self.begin_attempt(now),
            (_, state) => self.state = state,
        }
    }

    fn send_next_batch_message(
        &mut self,
        now: Instant,
        mut starts_sent: u8,
        mut sounds_sent: u8,
        candidates: Vec<Candidate>,
        window_closed: bool,
    ) {
        let t = &self.config.timings;
        let (starts, sounds, time_out) = (
            t.c_ev_start_atten_char_inds,
            t.c_ev_match_mnbc,
            t.time_out_field(),
        );
        if starts_sent == 0 && sounds_sent == 0 {
            // TT_EV_atten_results runs from the first START_ATTEN_CHAR.IND.
            self.timers
                .set(SlacTimer::TtEvAttenResults, now + t.tt_ev_atten_results);
        }
        if starts_sent < starts {
            let frame = MmeFrame::new(
                MacAddress::BROADCAST,
                self.our_mac,
                Mme::StartAttenCharInd(StartAttenCharInd {
                    application_type: APPLICATION_TYPE_PEV_EVSE,
                    security_type: SECURITY_TYPE_NONE,
                    num_sounds: sounds,
                    time_out,
                    resp_type: 0x01,
                    forwarding_sta: self.our_mac,
                    run_id: self.run_id,
                }),
            );
            self.push(&frame);
            starts_sent += 1;
        } else if sounds_sent < sounds {
            sounds_sent += 1;
            let frame = MmeFrame::new(
                MacAddress::BROADCAST,
                self.our_mac,
                Mme::MnbcSoundInd(MnbcSoundInd {
                    application_type: APPLICATION_TYPE_PEV_EVSE,
                    security_type: SECURITY_TYPE_NONE,
                    sender_id: [0; 17],
                    count: sounds - sounds_sent,
                    run_id: self.run_id,
                    reserved: [0; 8],
                    random: self.random,
                }),
            );
            self.push(&frame);
        }
        let done = starts_sent >= starts && sounds_sent >= sounds;
        if !done {
            self.timers.set(
                SlacTimer::TpEvBatchMsgInterval,
                now + self.config.timings.tp_ev_batch_msg_interval,
            );
        }
        self.state = State::Characterising {
            starts_sent,
            sounds_sent,
            candidates,
            window_closed,
        };
        if done && window_closed {
            self.choose(now);
        }
    }

    /// After TT_EV_atten_results: the charger with the lowest mean attenuation (§3.3).
    fn choose(&mut self, now: Instant) {
        let State::Characterising { candidates, .. } =
            core::mem::replace(&mut self.state, State::Idle)
        else {
            return;
        };
        let count = candidates.len();
        let best = candidates
            .into_iter()
            .reduce(|best, c| if c.mean_db < best.mean_db { c } else { best });
        let Some(best) = best else {
            self.fail_attempt(now, SlacError::NoCharger);
            return;
        };
        if let Some(limit) = self.config.max_mean_attenuation_db
            && best.mean_db > limit
        {
            self.fail_attempt(
                now,
                SlacError::AttenuationTooHigh {
                    best_mean_db: best.mean_db,
                },
            );
            return;
        }
        self.events.push_back(SlacEvent::EvseChosen {
            evse_mac: best.evse_mac,
            mean_db: best.mean_db,
            candidates: count,
        });
        // TP_EV_match_session counts from the last ATTEN_CHAR.RSP.
        let at = self
            .last_rsp_at
            .map_or(now, |t| t + self.config.timings.tp_ev_match_session)
            .max(now);
        self.state = State::WaitingMatchCnf {
            chosen: best,
            sent: 0,
        };
        self.timers.set(SlacTimer::TpEvMatchSession, at);
    }

    fn send_match_req(&mut self, now: Instant, chosen: Candidate, sent_before: u32) {
        let frame = MmeFrame::new(
            chosen.evse_mac,
            self.our_mac,
            Mme::SlacMatchReq(SlacMatchReq {
                fields: MatchFields {
                    application_type: APPLICATION_TYPE_PEV_EVSE,
                    security_type: SECURITY_TYPE_NONE,
                    mvf_length: MATCH_REQ_MVF_LENGTH,
                    pev_id: [0; 17],
                    pev_mac: self.our_mac,
                    evse_id: [0; 17],
                    evse_mac: chosen.evse_mac,
                    run_id: self.run_id,
                    reserved: [0; 8],
                },
            }),
        );
        self.push(&frame);
        self.state = State::WaitingMatchCnf {
            chosen,
            sent: sent_before + 1,
        };
        self.timers.set(
            SlacTimer::TtMatchResponse,
            now + self.config.timings.tt_match_response,
        );
    }

    fn send_set_key(&mut self, now: Instant, chosen: Candidate, nid: Nid, nmk: Nmk, sent: u32) {
        let frame = self.modem.set_key_request(nid, nmk);
        self.push(&frame);
        self.state = State::SettingKey {
            chosen,
            nid,
            nmk,
            sent: sent + 1,
        };
        self.timers.set(
            SlacTimer::ModemResponse,
            now + self.config.timings.modem_response_timeout,
        );
    }

    fn on_parm_cnf(&mut self, now: Instant, frame: &MmeFrame, run_id: RunId) {
        // Table A.2: a CNF with another RunID is not ours (the Taycan ignores such CNFs).
        if run_id != self.run_id
            || frame.destination != self.our_mac
            || !matches!(self.state, State::WaitingParmCnf { .. })
        {
            return;
        }
        self.timers.stop(SlacTimer::TtMatchResponse);
        self.state = State::Characterising {
            starts_sent: 0,
            sounds_sent: 0,
            candidates: Vec::new(),
            window_closed: false,
        };
        self.timers.set(
            SlacTimer::TpMatchSequence,
            now + self.config.timings.tp_match_sequence,
        );
    }

    fn send_atten_char_rsp(&mut self, now: Instant, evse_mac: MacAddress) {
        let frame = MmeFrame::new(
            evse_mac,
            self.our_mac,
            Mme::AttenCharRsp(AttenCharRsp {
                application_type: APPLICATION_TYPE_PEV_EVSE,
                security_type: SECURITY_TYPE_NONE,
                source_address: self.our_mac,
                run_id: self.run_id,
                source_id: [0; 17],
                resp_id: [0; 17],
                result: 0,
            }),
        );
        self.push(&frame);
        self.last_rsp_at = Some(now);
    }

    fn on_atten_char_ind(&mut self, now: Instant, frame: &MmeFrame, ind: &AttenCharInd) {
        // Table A.6: only unicast INDs of our run count; pyPLC broadcasts ATTEN_CHAR.IND as a
        // private power-supply channel, which must not be taken for SLAC.
        if ind.run_id != self.run_id || frame.destination != self.our_mac {
            return;
        }
        let evse_mac = frame.source;
        match &mut self.state {
            State::Characterising {
                candidates,
                window_closed: false,
                ..
            } => {
                let Some(mean_db) = ind.mean_attenuation() else {
                    return;
                };
                candidates.retain(|c| c.evse_mac != evse_mac);
                // Bounded: a flood of INDs from made-up MACs cannot grow it without end.
                if candidates.len() >= MAX_CANDIDATES {
                    return;
                }
                candidates.push(Candidate { evse_mac, mean_db });
                self.events
                    .push_back(SlacEvent::AttenuationReported { evse_mac, mean_db });
                self.send_atten_char_rsp(now, evse_mac);
            }
            // The charger re-sends its IND when our RSP got lost: answer again.
            State::Characterising { candidates, .. }
                if candidates.iter().any(|c| c.evse_mac == evse_mac) =>
            {
                self.send_atten_char_rsp(now, evse_mac);
            }
            State::WaitingMatchCnf { chosen, .. } if chosen.evse_mac == evse_mac => {
                self.send_atten_char_rsp(now, evse_mac);
            }
            _ => {}
        }
    }

    fn on_match_cnf(&mut self, now: Instant, source: MacAddress, nid: Nid, nmk: Nmk) {
        // Repeated CNFs (answers to our retries) arrive in later states: ignore them.
        let State::WaitingMatchCnf { chosen, sent } = &self.state else {
            return;
        };
        if chosen.evse_mac != source || *sent == 0 {
            return;
        }
        let chosen = chosen.clone();
        self.timers.stop(SlacTimer::TtMatchResponse);
        match self.config.modem {
            // The NID is copied from the CNF, never re-derived: pyPLC and dSPACE chargers send
            // NIDs that are not derived from the NMK (homeplug-slac.md §3.5).
            ModemMode::Qca => self.send_set_key(now, chosen, nid, nmk, 0),
            ModemMode::None => self.paired(chosen, nid, nmk),
        }
    }

    fn paired(&mut self, chosen: Candidate, nid: Nid, nmk: Nmk) {
        self.timers.stop_all();
        self.state = State::Idle;
        self.events.push_back(SlacEvent::Paired {
            nmk,
            nid,
            evse_mac: chosen.evse_mac,
            ev_mac: self.our_mac,
            run_id: self.run_id,
        });
    }

    fn on_modem_reply(&mut self, now: Instant, reply: ModemReply) {
        match (reply, core::mem::replace(&mut self.state, State::Idle)) {
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
                self.begin_attempt(now);
            }
            (
                ModemReply::SetKey { result },
                State::SettingKey {
                    chosen, nid, nmk, ..
                },
            ) => {
                self.timers.stop(SlacTimer::ModemResponse);
                if !set_key_accepted(result, self.config.set_key_result_zero_is_success) {
                    self.fail_attempt(now, SlacError::KeyRejected { result });
                } else if self.config.wait_for_link {
                    self.state = State::WaitingLink { chosen, nid, nmk };
                    self.timers.set(
                        SlacTimer::TtMatchJoin,
                        now + self.config.timings.tt_match_join,
                    );
                    self.timers.set(
                        SlacTimer::LinkStatusPoll,
                        now + self.config.timings.link_status_poll_interval,
                    );
                } else {
                    self.paired(chosen, nid, nmk);
                }
            }
            (ModemReply::LinkStatus { up: true }, State::WaitingLink { chosen, nid, nmk }) => {
                self.paired(chosen, nid, nmk);
            }
            (ModemReply::NetworkInfo(info), State::WaitingLink { chosen, nid, nmk })
                if info.networks.iter().any(|n| n.nid == nid) =>
            {
                self.paired(chosen, nid, nmk);
            }
            (_, state) => self.state = state,
        }
    }
}
