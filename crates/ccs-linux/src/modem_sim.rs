//! The modem simulator for real interfaces: the simulated HomePlug modems and powerline of
//! `ccs-sim` as the [`Forwarder`] of a [`crate::tap::TapBridge`].
//!
//! With it, a car and a charger in two network namespaces see what they would see behind two
//! TP-Link modems: the modems answer VS_SW_VER and CM_SET_KEY themselves, the charger's modem
//! emits CM_ATTEN_PROFILE.IND for each sound, and **nothing but SLAC crosses until SLAC has
//! keyed both modems into one AVLN** — so SDP before pairing fails as it does in the field
//! (`reference/homeplug-slac.md` §8.3).

use ccs_proto::homeplug::MacAddress;
use ccs_proto::time::Instant;
use ccs_sim::modem::{ChipFlavour, ModemConfig, ModemRole};
use ccs_sim::powerline::{Powerline, StationId};

use crate::tap::{Forwarder, Side};

/// The car's modem MAC in the default pair (a TP-Link-style address, not the host's).
pub const EV_MODEM_MAC: MacAddress = MacAddress([0x98, 0x48, 0x27, 0x00, 0x00, 0x01]);
/// The charger's modem MAC in the default pair.
pub const EVSE_MODEM_MAC: MacAddress = MacAddress([0x98, 0x48, 0x27, 0x00, 0x00, 0x02]);

/// A simulated powerline with one modem per side.
#[derive(Debug)]
pub struct PowerlineForwarder {
    line: Powerline,
    ev: StationId,
    evse: StationId,
    listener: Option<StationId>,
}

impl PowerlineForwarder {
    /// Wraps a line whose stations `ev` and `evse` carry the two TAPs.
    pub fn new(line: Powerline, ev: StationId, evse: StationId) -> Self {
        Self {
            line,
            ev,
            evse,
            listener: None,
        }
    }

    /// Adds the modem of a listener's host ([`Side::Listener`]) to the line, powered up at
    /// `now`. A TP-Link in PEV mode joins the charging network once its host sets the key.
    pub fn with_listener_modem(mut self, config: ModemConfig, now: Instant) -> Self {
        self.listener = Some(self.line.add_modem(config, now));
        self
    }

    /// A line with a PEV-PIB and an EVSE-PIB TP-Link (QCA7420) modem with the simulator's
    /// default timings, powered up at `now`; `seed` makes its random choices reproducible.
    pub fn tp_link_pair(seed: u64, now: Instant) -> Self {
        let mut line = Powerline::new(seed);
        let ev = line.add_modem(
            ModemConfig::new(ModemRole::Pev, ChipFlavour::TpLinkQca7420, EV_MODEM_MAC),
            now,
        );
        let evse = line.add_modem(
            ModemConfig::new(ModemRole::Evse, ChipFlavour::TpLinkQca7420, EVSE_MODEM_MAC),
            now,
        );
        Self::new(line, ev, evse)
    }

    /// The line, for its modems' state (e.g. whether the link is up).
    pub fn powerline(&self) -> &Powerline {
        &self.line
    }

    /// The station of a side (`None`: no listener modem was added).
    pub fn station(&self, side: Side) -> Option<StationId> {
        match side {
            Side::Ev => Some(self.ev),
            Side::Evse => Some(self.evse),
            Side::Listener => self.listener,
        }
    }

    /// Whether the listener's modem is associated with the charger's AVLN.
    pub fn listener_joined(&self) -> bool {
        self.listener
            .and_then(|s| self.line.modem(s))
            .is_some_and(|m| m.link_up())
    }

    /// Whether both modems report the AVLN link up.
    pub fn link_up(&self) -> bool {
        [self.ev, self.evse]
            .iter()
            .all(|s| self.line.modem(*s).is_some_and(|m| m.link_up()))
    }
}

impl Forwarder for PowerlineForwarder {
    fn handle_frame(&mut self, now: Instant, from: Side, frame: &[u8]) {
        if let Some(station) = self.station(from) {
            self.line.handle_host_frame(now, station, frame);
        }
    }

    fn poll_transmit(&mut self) -> Option<(Side, Vec<u8>)> {
        while let Some((station, frame)) = self.line.poll_host_transmit() {
            if station == self.ev {
                return Some((Side::Ev, frame));
            }
            if station == self.evse {
                return Some((Side::Evse, frame));
            }
            if Some(station) == self.listener {
                return Some((Side::Listener, frame));
            }
            // A station without a TAP (a neighbour modem added by a test): nobody to tell.
        }
        None
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.line.poll_timeout()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.line.handle_timeout(now);
    }
}
