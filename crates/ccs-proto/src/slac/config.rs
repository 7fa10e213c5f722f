//! Configuration of the SLAC machines: the ISO 15118-3 timing parameters with the standard's
//! values as defaults, and the documented field profiles.

use crate::homeplug::slac_msg::ATTEN_GROUPS;
use crate::time::Duration;

use super::keys::SecurityLevel;

/// The timing parameters and counters of ISO 15118-3 Table A.3 (names in snake case), plus two
/// host/modem values the standard does not define.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SlacTimings {
    /// TT_EVSE_SLAC_init: 20–50 s; 40 s as EVerest.
    pub tt_evse_slac_init: Duration,
    /// TT_match_sequence: 400 ms.
    pub tt_match_sequence: Duration,
    /// TP_match_sequence: 0–100 ms; 50 ms. (Supercharger and Compleo did not answer when an
    /// EV waited ≳ 250 ms between PARM.CNF and START_ATTEN_CHAR.)
    pub tp_match_sequence: Duration,
    /// TT_match_response: 200 ms.
    pub tt_match_response: Duration,
    /// TP_EV_batch_msg_interval: 20–50 ms; 20 ms (Ioniq, EVerest).
    pub tp_ev_batch_msg_interval: Duration,
    /// TT_EVSE_match_MNBC: 600 ms, sent as TIME_OUT `06` (in 100 ms) — Compleo ignored
    /// START_ATTEN_CHAR with `0A` (pyPLC Issue13), so keep the default.
    pub tt_evse_match_mnbc: Duration,
    /// TP_EVSE_avg_atten_calc: ≤ 100 ms; 0 (answer as soon as the last profile is in).
    pub tp_evse_avg_atten_calc: Duration,
    /// TT_EV_atten_results: 1200 ms.
    pub tt_ev_atten_results: Duration,
    /// TP_EV_match_session: ≤ 500 ms; measured from the last ATTEN_CHAR.RSP, but the EV never
    /// sends MATCH.REQ before TT_EV_atten_results has closed (it has to choose first). 0.
    pub tp_ev_match_session: Duration,
    /// TT_EVSE_match_session: 10 s. Real cars wait 0.5–1 s between RSP and MATCH.REQ (Ioniq
    /// 860–890 ms, Polestar 1012 ms, Tesla 745 ms), far above TP_EV_match_session: a charger
    /// must not be stricter than this.
    pub tt_evse_match_session: Duration,
    /// TT_match_join: 12 s.
    pub tt_match_join: Duration,
    /// TT_matching_rate: 400 ms.
    pub tt_matching_rate: Duration,
    /// C_EV_match_retry: 2 (PARM.REQ and MATCH.REQ retries; EVSE re-sends of ATTEN_CHAR.IND).
    pub c_ev_match_retry: u32,
    /// C_EV_start_atten_char_inds: 3.
    pub c_ev_start_atten_char_inds: u8,
    /// C_EV_match_MNBC: 10 sounds.
    pub c_ev_match_mnbc: u8,
    /// C_conn_max_match: matching attempts before the EV reports failure (≥ 3).
    pub c_conn_max_match: u32,
    /// Not ISO: how long to wait for the local modem's answer (VS_SW_VER, CM_SET_KEY) before
    /// asking again; EVerest's SET_KEY timeout of 1 s works for QCA7000/7005/CG5317.
    pub modem_response_timeout: Duration,
    /// Not ISO: requests to the modem before giving up (per step).
    pub modem_request_attempts: u32,
    /// Not ISO: period of VS_PL_LNK_STATUS polls while waiting for the link (EVerest 100 ms),
    /// and of CM_NW_INFO polls while the charger's modem restarts with its new key. Each poll
    /// is one 60-byte MME to the local modem; a longer period only delays the pairing by up
    /// to one period after the modem has joined (BENCHMARKS.md §6).
    pub link_status_poll_interval: Duration,
    /// Not ISO: how long the charger waits for its modem to report the new network after
    /// CM_SET_KEY (a QCA EVSE modem re-appears as CCo 5–7 s after being re-keyed,
    /// homeplug-slac.md §2.16). When it runs out the charger carries on regardless.
    pub modem_network_timeout: Duration,
}

impl Default for SlacTimings {
    fn default() -> Self {
        Self {
            tt_evse_slac_init: Duration::from_secs(40),
            tt_match_sequence: Duration::from_millis(400),
            tp_match_sequence: Duration::from_millis(50),
            tt_match_response: Duration::from_millis(200),
            tp_ev_batch_msg_interval: Duration::from_millis(20),
            tt_evse_match_mnbc: Duration::from_millis(600),
            tp_evse_avg_atten_calc: Duration::ZERO,
            tt_ev_atten_results: Duration::from_millis(1200),
            tp_ev_match_session: Duration::ZERO,
            tt_evse_match_session: Duration::from_secs(10),
            tt_match_join: Duration::from_secs(12),
            tt_matching_rate: Duration::from_millis(400),
            c_ev_match_retry: 2,
            c_ev_start_atten_char_inds: 3,
            c_ev_match_mnbc: 10,
            c_conn_max_match: 3,
            modem_response_timeout: Duration::from_secs(1),
            modem_request_attempts: 3,
            link_status_poll_interval: Duration::from_millis(100),
            modem_network_timeout: Duration::from_secs(10),
        }
    }
}

impl SlacTimings {
    /// The pyPLC-compatible profile: pyPLC's EV paces its batches with its 30 ms main loop and
    /// waits ~0.9 s between ATTEN_CHAR.RSP and MATCH.REQ, copied from the Hyundai Ioniq
    /// (860–980 ms; `reference/pyplc-behaviour.md` §4, `captures/interop_pyplc-…_veth.pcap`).
    /// It retries PARM.REQ about every second for as long as it runs; here 10 attempts.
    /// The EVSE side of this profile is the default, which is already as patient as real cars
    /// need (TT_EVSE_match_session 10 s).
    pub fn pyplc_compatible() -> Self {
        Self {
            tp_match_sequence: Duration::from_millis(30),
            tp_ev_batch_msg_interval: Duration::from_millis(30),
            tp_ev_match_session: Duration::from_millis(900),
            c_conn_max_match: 10,
            ..Self::default()
        }
    }

    /// TIME_OUT as sent in CM_SLAC_PARM.CNF / START_ATTEN_CHAR (units of 100 ms).
    pub fn time_out_field(&self) -> u8 {
        u8::try_from(self.tt_evse_match_mnbc.total_millis() / 100).unwrap_or(u8::MAX)
    }
}

/// Whether a HomePlug modem sits between the host and the powerline.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
#[non_exhaustive]
pub enum ModemMode {
    /// A QCA-based modem (TP-Link TL-PA4010, QCA7000/7005): find it with VS_SW_VER at the
    /// localcast address, key it with CM_SET_KEY, watch the link with VS_PL_LNK_STATUS.
    #[default]
    Qca,
    /// No modem (`--no-modem`, pyPLC's simulation mode): no modem management, no attenuation
    /// profiles; pairing ends with the MATCH exchange.
    None,
}

/// The EV side's configuration.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct EvSlacConfig {
    /// Timers and counters.
    pub timings: SlacTimings,
    /// The modem in front of the host.
    pub modem: ModemMode,
    /// Wait until the modem reports the link (VS_PL_LNK_STATUS = 1) before reporting the
    /// pairing; without it, [`super::SlacEvent::Paired`] follows the accepted SET_KEY.
    pub wait_for_link: bool,
    /// How the EV learns that its modem has joined the charger's AVLN.
    pub link_detection: LinkDetection,
    /// Refuse chargers whose mean attenuation exceeds this (open-plc-utils `pev` uses 40 dB);
    /// `None` takes the best one whatever it is.
    pub max_mean_attenuation_db: Option<f64>,
    /// Accept CM_SET_KEY.CNF Result `00` as success, as the HomePlug spec words it. QCA modems
    /// answer `01` when they accepted the key and `00` only when they did not apply it
    /// (homeplug-slac.md §2.13), so this is off.
    pub set_key_result_zero_is_success: bool,
}

impl Default for EvSlacConfig {
    fn default() -> Self {
        Self {
            timings: SlacTimings::default(),
            modem: ModemMode::Qca,
            wait_for_link: true,
            link_detection: LinkDetection::PlLinkStatus,
            max_mean_attenuation_db: None,
            set_key_result_zero_is_success: false,
        }
    }
}

/// How the link is detected after CM_SET_KEY (homeplug-slac.md §3.6).
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
#[non_exhaustive]
pub enum LinkDetection {
    /// Poll QCA VS_PL_LNK_STATUS until it reports `01` (EVerest, the ISO 15118-5 suite).
    #[default]
    PlLinkStatus,
    /// Poll the standard CM_NW_INFO until the modem lists a network with the charger's NID
    /// (for modems that do not implement the QCA vendor MME).
    NetworkInfo,
}

/// The fixed profile pyPLC's EVSE sends: 58 × 9 dB, the last three `0F 13 19` (copied from an
/// Alpitronic trace). All zeros reportedly make the Ioniq stop.
pub const PYPLC_FIXED_PROFILE: [u8; ATTEN_GROUPS] = {
    let mut p = [9u8; ATTEN_GROUPS];
    p[55] = 0x0f;
    p[56] = 0x13;
    p[57] = 0x19;
    p
};

/// Where the EVSE's reported attenuation comes from.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
#[non_exhaustive]
pub enum AttenuationSource {
    /// Average the modem's CM_ATTEN_PROFILE.IND; if it reports no groups (TP-Link AR7420,
    /// open-plc-utils #156) or none arrived, send the fixed profile.
    #[default]
    MeasuredElseFixed,
    /// Always send the fixed profile, as pyPLC does.
    AlwaysFixed,
}

/// The EVSE side's configuration.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct EvseSlacConfig {
    /// Timers and counters.
    pub timings: SlacTimings,
    /// The modem in front of the host.
    pub modem: ModemMode,
    /// Where the attenuation reported in ATTEN_CHAR.IND comes from.
    pub attenuation_source: AttenuationSource,
    /// The profile sent when nothing was measured (58 values, dB). Beware at multi-charger
    /// sites: a charger that reports a fixed low profile can win a car's choice over the
    /// charger it is plugged into, which measured honestly. A charger that heard no sound at
    /// all sends nothing.
    pub fixed_profile: [u8; ATTEN_GROUPS],
    /// Added to every averaged group (saturating); real chargers subtract a calibration
    /// offset (Alpitronic ≈ −10 dB, dSPACE ≈ −4 dB).
    pub attenuation_offset_db: i16,
    /// Security level for the NID derived from the session NMK (ISO: simple connect).
    pub security_level: SecurityLevel,
    /// See [`EvSlacConfig::set_key_result_zero_is_success`].
    pub set_key_result_zero_is_success: bool,
    /// The Result of CM_VALIDATE.CNF (Table A.9): this charger cannot count S2 toggles.
    /// `03` (failure) as EVerest's EVSE answers in the field; `04` would say "not required".
    /// No car in the captures sends CM_VALIDATE at all.
    pub validate_result: u8,
}

impl Default for EvseSlacConfig {
    fn default() -> Self {
        Self {
            timings: SlacTimings::default(),
            modem: ModemMode::Qca,
            attenuation_source: AttenuationSource::MeasuredElseFixed,
            fixed_profile: PYPLC_FIXED_PROFILE,
            attenuation_offset_db: 0,
            security_level: SecurityLevel::SimpleConnect,
            set_key_result_zero_is_success: false,
            validate_result: 0x03,
        }
    }
}
