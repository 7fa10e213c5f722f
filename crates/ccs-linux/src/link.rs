//! The three ways the link can be set up, as chosen on the command line.
//!
//! | mode | flags | raw socket (SLAC) | modem management | V2G starts at |
//! |---|---|---|---|---|
//! | [`LinkMode::Modem`] | (none) | yes | yes | SLAC |
//! | [`LinkMode::NoModem`] | `--no-modem` | yes | no (fixed attenuation profile) | SLAC |
//! | [`LinkMode::NoSlac`] | `--no-slac` | no | no | SDP |

use std::time::Duration;

use crate::error::LinkError;
use crate::iface::Interface;
use crate::raw::{ETHERTYPE_HOMEPLUG_AV, RawLink};

/// How the link to the peer is set up.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum LinkMode {
    /// A HomePlug Green PHY modem: SLAC over the raw socket, modem management (SET_KEY ...).
    Modem,
    /// SLAC on a direct link (veth, TAP) without a modem, as pyPLC's simulation mode does:
    /// SLAC over the raw socket, no modem management, a fixed attenuation profile.
    NoModem,
    /// The link is already paired (veth, or a modem paired by other means): skip SLAC and
    /// modem management, start at SDP.
    NoSlac,
}

impl LinkMode {
    /// The mode selected by the `--no-slac` and `--no-modem` flags (`--no-slac` wins; the CLI
    /// rejects both together).
    pub fn from_flags(no_slac: bool, no_modem: bool) -> Self {
        match (no_slac, no_modem) {
            (true, _) => Self::NoSlac,
            (false, true) => Self::NoModem,
            (false, false) => Self::Modem,
        }
    }

    /// Whether SLAC runs (and a raw socket is needed).
    pub fn runs_slac(self) -> bool {
        !matches!(self, Self::NoSlac)
    }

    /// Whether the modem is managed (SET_KEY, GET_KEY, VS_SW_VER ...).
    pub fn manages_modem(self) -> bool {
        matches!(self, Self::Modem)
    }
}

/// An opened link: the interface, and the raw socket when SLAC runs.
#[derive(Debug)]
pub struct Link {
    /// The mode.
    pub mode: LinkMode,
    /// The interface.
    pub interface: Interface,
    /// The HomePlug raw socket, present unless [`LinkMode::NoSlac`].
    pub raw: Option<RawLink>,
}

impl Link {
    /// Opens the interface `name` for `mode`, waiting up to `ready_timeout` for its link-local
    /// address.
    pub async fn open(
        mode: LinkMode,
        name: &str,
        ready_timeout: Duration,
    ) -> Result<Self, LinkError> {
        let interface = Interface::wait_ready(name, ready_timeout).await?;
        let raw = if mode.runs_slac() {
            Some(RawLink::open(&interface, ETHERTYPE_HOMEPLUG_AV)?)
        } else {
            None
        };
        Ok(Self {
            mode,
            interface,
            raw,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_select_the_mode() {
        assert_eq!(LinkMode::from_flags(false, false), LinkMode::Modem);
        assert_eq!(LinkMode::from_flags(false, true), LinkMode::NoModem);
        assert_eq!(LinkMode::from_flags(true, false), LinkMode::NoSlac);
        assert!(LinkMode::NoModem.runs_slac() && !LinkMode::NoModem.manages_modem());
        assert!(!LinkMode::NoSlac.runs_slac());
        assert!(LinkMode::Modem.manages_modem());
    }
}
