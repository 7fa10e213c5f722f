//! Why SLAC failed, and whose fault it was.

use core::fmt;

use super::SlacTimer;

/// Whose fault a failure is.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum Blame {
    /// The peer (or our modem) did not answer in time.
    Timeout,
    /// The peer sent something that breaks the procedure.
    PeerMisbehaved,
    /// The local modem is missing or refused a request.
    Modem,
    /// Our own configuration rules the result out.
    Configuration,
}

/// A SLAC failure.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum SlacError {
    /// A timer ran out (the standard's name says which step).
    Timeout(SlacTimer),
    /// No modem answered VS_SW_VER at the localcast address.
    ModemNotFound,
    /// The modem did not confirm CM_SET_KEY.
    ModemNotResponding,
    /// The modem answered CM_SET_KEY.CNF with a result that means "not applied".
    KeyRejected {
        /// The Result byte (QCA: `01` = accepted).
        result: u8,
    },
    /// No charger answered the sounding with a CM_ATTEN_CHAR.IND.
    NoCharger,
    /// Every charger's attenuation is above the configured maximum.
    AttenuationTooHigh {
        /// The best mean attenuation seen, dB.
        best_mean_db: f64,
    },
    /// The car reported a failed attenuation characterisation (ATTEN_CHAR.RSP Result ≠ 0).
    CharacterisationRejected {
        /// The Result byte.
        result: u8,
    },
    /// The car started a new matching run (a new CM_SLAC_PARM.REQ) before this one ended.
    Restarted,
    /// More cars than the charger tracks at once started matching; the oldest run was dropped.
    Superseded,
}

impl SlacError {
    /// Whose fault it is.
    pub fn blame(&self) -> Blame {
        match self {
            Self::Timeout(_) | Self::NoCharger => Blame::Timeout,
            Self::ModemNotFound | Self::ModemNotResponding | Self::KeyRejected { .. } => {
                Blame::Modem
            }
            Self::AttenuationTooHigh { .. } => Blame::Configuration,
            Self::CharacterisationRejected { .. } | Self::Restarted | Self::Superseded => {
                Blame::PeerMisbehaved
            }
        }
    }
}

impl fmt::Display for SlacError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout(timer) => write!(f, "{timer} expired"),
            Self::ModemNotFound => write!(f, "no modem answered VS_SW_VER"),
            Self::ModemNotResponding => write!(f, "the modem did not confirm CM_SET_KEY"),
            Self::KeyRejected { result } => {
                write!(
                    f,
                    "the modem rejected the key (CM_SET_KEY.CNF result {result:02x})"
                )
            }
            Self::NoCharger => write!(f, "no charger answered the sounding"),
            Self::AttenuationTooHigh { best_mean_db } => {
                write!(
                    f,
                    "best charger attenuation {best_mean_db:.1} dB is above the limit"
                )
            }
            Self::CharacterisationRejected { result } => {
                write!(
                    f,
                    "the car rejected the attenuation report (result {result})"
                )
            }
            Self::Restarted => write!(f, "the car restarted matching"),
            Self::Superseded => write!(f, "superseded by a newer car's run"),
        }
    }
}

impl std::error::Error for SlacError {}
