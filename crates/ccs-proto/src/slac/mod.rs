//! SLAC (ISO 15118-3 Annex A): matching an EV to its charger over HomePlug Green PHY, for
//! both sides, plus the management of the local modem.
//!
//! Read ISO 15118-3 §9 and Annex A, and `reference/homeplug-slac.md` §3–4 first.
//!
//! - [`EvSlac`]: the car. PARM.REQ (with retries) → 3 × START_ATTEN_CHAR and 10 × MNBC_SOUND
//!   at TP_EV_batch_msg_interval → every ATTEN_CHAR.IND within TT_EV_atten_results answered
//!   with ATTEN_CHAR.RSP, the lowest mean attenuation chosen → SLAC_MATCH (with retries) →
//!   CM_SET_KEY with the NMK **and the NID copied from MATCH.CNF** → link up within
//!   TT_match_join. Any failure starts over with a new RunID after TT_matching_rate.
//! - [`EvseSlac`]: the charger. Keys its modem with a fresh NMK and the NID derived from it,
//!   answers PARM.REQ echoing the RunID, averages the modem's CM_ATTEN_PROFILE.IND (or sends a
//!   fixed profile for modems that measure nothing), sends ATTEN_CHAR.IND after the last
//!   profile or when TT_EVSE_match_MNBC runs out, answers SLAC_MATCH, and serves the next EV
//!   after [`EvseSlac::next_session`].
//! - [`modem`]: requests to and answers from the local QCA modem.
//! - [`keys`]: NMK/NID derivation. [`timer`]: the ISO timer names and the timer table.
//!
//! Both machines are sans-IO: they take `now` and raw frames, and hand back frames to send,
//! their next deadline and events. See [`EvSlac`] for the call order.

mod config;
mod error;
mod ev;
mod evse;
pub mod keys;
pub mod modem;
pub mod timer;

pub use config::{
    AttenuationSource, EvSlacConfig, EvseSlacConfig, LinkDetection, ModemMode, PYPLC_FIXED_PROFILE,
    SlacTimings,
};
pub use error::{Blame, SlacError};
pub use ev::EvSlac;
pub use evse::EvseSlac;
pub use timer::SlacTimer;

use crate::homeplug::{MacAddress, Nid, Nmk, RunId};

/// What a SLAC machine reports to its driver.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum SlacEvent {
    /// The local modem answered VS_SW_VER.
    ModemFound {
        /// The modem's own MAC (not the host's).
        modem_mac: MacAddress,
        /// Its firmware string, e.g. `MAC-QCA7420-1.4.0.20-00-20171027-CS`.
        firmware: String,
    },
    /// EVSE: the modem accepted the session key; PARM.REQ will be answered now.
    Ready {
        /// The NID of the charger's AVLN.
        nid: Nid,
    },
    /// EVSE: a car started matching (CM_SLAC_PARM.REQ answered).
    SessionStarted {
        /// The car's host MAC.
        ev_mac: MacAddress,
        /// Its RunID.
        run_id: RunId,
    },
    /// EVSE: the attenuation report (CM_ATTEN_CHAR.IND) went to a car.
    AttenuationSent {
        /// The car's host MAC.
        ev_mac: MacAddress,
        /// Mean attenuation over the groups sent, dB.
        mean_db: f64,
    },
    /// EV: a charger reported its attenuation (CM_ATTEN_CHAR.IND), and was answered.
    AttenuationReported {
        /// The charger's host MAC.
        evse_mac: MacAddress,
        /// Mean attenuation over the groups, dB.
        mean_db: f64,
    },
    /// EV: the charger with the lowest attenuation was chosen.
    EvseChosen {
        /// The charger's host MAC.
        evse_mac: MacAddress,
        /// Its mean attenuation, dB.
        mean_db: f64,
        /// How many chargers answered.
        candidates: usize,
    },
    /// Matching succeeded. EV: the modem holds the key (and reports the link, unless
    /// disabled). EVSE: CM_SLAC_MATCH.CNF was sent.
    Paired {
        /// The AVLN's NMK.
        nmk: Nmk,
        /// The AVLN's NID (as the charger sent it).
        nid: Nid,
        /// The charger's host MAC.
        evse_mac: MacAddress,
        /// The car's host MAC.
        ev_mac: MacAddress,
        /// The RunID of the successful run.
        run_id: RunId,
    },
    /// EV: one matching attempt failed; a new attempt (new RunID) follows after
    /// TT_matching_rate.
    AttemptFailed {
        /// Why.
        reason: SlacError,
    },
    /// EVSE: one car's matching run ended without a match; the charger keeps serving.
    SessionFailed {
        /// The car's host MAC.
        ev_mac: MacAddress,
        /// The run's RunID.
        run_id: RunId,
        /// Why.
        reason: SlacError,
    },
    /// EVSE: no CM_SLAC_PARM.REQ within TT_EVSE_SLAC_init; the driver signals E/F for
    /// T_step_EF and re-arms ([`EvseSlac::arm_slac_init`]).
    SlacInitTimeout,
    /// The machine gave up and stopped (EV: C_conn_max_match attempts used up; either side:
    /// the modem cannot be found or refuses the key).
    Failed {
        /// Why.
        reason: SlacError,
    },
}
