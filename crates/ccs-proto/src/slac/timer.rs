//! The ISO 15118-3 timers (Annex A, Table A.3 "SLAC timing parameters") and the one timer
//! table each SLAC machine keeps: a fixed array of deadlines, next deadline = minimum.

use core::fmt;

use crate::time::Instant;

/// A timer of the SLAC machines, named as ISO 15118-3 names it (two are ours and say so).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum SlacTimer {
    /// TT_EVSE_SLAC_init: EVSE, 5 % PWM seen → first CM_SLAC_PARM.REQ.
    TtEvseSlacInit,
    /// TT_match_sequence: EVSE, CM_SLAC_PARM.CNF → CM_START_ATTEN_CHAR.IND.
    TtMatchSequence,
    /// TP_match_sequence: EV, gap before the next message of a sequence (CNF → START).
    TpMatchSequence,
    /// TT_match_response: waiting for a response (EV: PARM.CNF, MATCH.CNF; EVSE:
    /// ATTEN_CHAR.RSP).
    TtMatchResponse,
    /// TP_EV_batch_msg_interval: EV, spacing of START_ATTEN_CHAR and MNBC_SOUND.
    TpEvBatchMsgInterval,
    /// TT_EVSE_match_MNBC: EVSE sounding window after the first START_ATTEN_CHAR.
    TtEvseMatchMnbc,
    /// TP_EVSE_avg_atten_calc: EVSE, end of sounding → ATTEN_CHAR.IND.
    TpEvseAvgAttenCalc,
    /// TT_EV_atten_results: EV window to collect ATTEN_CHAR.IND from every EVSE.
    TtEvAttenResults,
    /// TP_EV_match_session: EV, ATTEN_CHAR.RSP → CM_SLAC_MATCH.REQ.
    TpEvMatchSession,
    /// TT_EVSE_match_session: EVSE, ATTEN_CHAR.RSP → CM_SLAC_MATCH.REQ.
    TtEvseMatchSession,
    /// TT_match_join: EV, MATCH.CNF → link established.
    TtMatchJoin,
    /// TT_matching_rate: EV, pause before restarting a failed matching.
    TtMatchingRate,
    /// Not in ISO 15118-3: how long the host waits for its modem to answer a management
    /// request (VS_SW_VER, CM_SET_KEY). EVerest uses 1 s.
    ModemResponse,
    /// Not in ISO 15118-3: the period of VS_PL_LNK_STATUS polls while waiting for the link.
    LinkStatusPoll,
}

impl SlacTimer {
    /// Every timer, in table order.
    pub const ALL: [Self; 14] = [
        Self::TtEvseSlacInit,
        Self::TtMatchSequence,
        Self::TpMatchSequence,
        Self::TtMatchResponse,
        Self::TpEvBatchMsgInterval,
        Self::TtEvseMatchMnbc,
        Self::TpEvseAvgAttenCalc,
        Self::TtEvAttenResults,
        Self::TpEvMatchSession,
        Self::TtEvseMatchSession,
        Self::TtMatchJoin,
        Self::TtMatchingRate,
        Self::ModemResponse,
        Self::LinkStatusPoll,
    ];

    const fn index(self) -> usize {
        self as usize
    }

    /// The name as the standard writes it.
    pub const fn iso_name(self) -> &'static str {
        match self {
            Self::TtEvseSlacInit => "TT_EVSE_SLAC_init",
            Self::TtMatchSequence => "TT_match_sequence",
            Self::TpMatchSequence => "TP_match_sequence",
            Self::TtMatchResponse => "TT_match_response",
            Self::TpEvBatchMsgInterval => "TP_EV_batch_msg_interval",
            Self::TtEvseMatchMnbc => "TT_EVSE_match_MNBC",
            Self::TpEvseAvgAttenCalc => "TP_EVSE_avg_atten_calc",
            Self::TtEvAttenResults => "TT_EV_atten_results",
            Self::TpEvMatchSession => "TP_EV_match_session",
            Self::TtEvseMatchSession => "TT_EVSE_match_session",
            Self::TtMatchJoin => "TT_match_join",
            Self::TtMatchingRate => "TT_matching_rate",
            Self::ModemResponse => "modem_response (not ISO)",
            Self::LinkStatusPoll => "link_status_poll (not ISO)",
        }
    }
}

impl fmt::Display for SlacTimer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.iso_name())
    }
}

/// One deadline per timer.
#[derive(Clone, Debug, Default)]
pub(crate) struct TimerTable {
    deadlines: [Option<Instant>; SlacTimer::ALL.len()],
}

impl TimerTable {
    pub(crate) fn set(&mut self, timer: SlacTimer, at: Instant) {
        self.deadlines[timer.index()] = Some(at);
    }

    pub(crate) fn stop(&mut self, timer: SlacTimer) {
        self.deadlines[timer.index()] = None;
    }

    pub(crate) fn stop_all(&mut self) {
        self.deadlines = Default::default();
    }

    pub(crate) fn is_armed(&self, timer: SlacTimer) -> bool {
        self.deadlines[timer.index()].is_some()
    }

    /// The earliest deadline.
    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// The earliest timer that has expired at `now`, disarmed.
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<SlacTimer> {
        let (timer, _) = SlacTimer::ALL
            .iter()
            .filter_map(|&t| self.deadlines[t.index()].map(|at| (t, at)))
            .filter(|&(_, at)| at <= now)
            .min_by_key(|&(_, at)| at)?;
        self.stop(timer);
        Some(timer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_timeout_is_the_minimum_and_expiry_pops_in_order() {
        let mut table = TimerTable::default();
        table.set(SlacTimer::TtMatchJoin, Instant::from_millis(500));
        table.set(SlacTimer::LinkStatusPoll, Instant::from_millis(100));
        assert_eq!(table.next_timeout(), Some(Instant::from_millis(100)));
        assert_eq!(table.pop_expired(Instant::from_millis(50)), None);
        assert_eq!(
            table.pop_expired(Instant::from_millis(600)),
            Some(SlacTimer::LinkStatusPoll)
        );
        assert_eq!(
            table.pop_expired(Instant::from_millis(600)),
            Some(SlacTimer::TtMatchJoin)
        );
        assert_eq!(table.next_timeout(), None);
    }
}
