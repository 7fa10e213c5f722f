//! CM_NW_INFO (HomePlug AV 1.1 §11.5.19; homeplug-slac.md §2.16): "which AVLN am I in".

use super::wire::{Reader, Writer};
use super::{MacAddress, Nid, WireError};

/// StationRole `02`: the station is the CCo of the network.
pub const STATION_ROLE_CCO: u8 = 0x02;
/// StationRole `00`: an ordinary station.
pub const STATION_ROLE_STA: u8 = 0x00;

/// One network of a CM_NW_INFO.CNF (18 bytes on the wire).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct NetworkInfo {
    /// NID.
    pub nid: Nid,
    /// Short network ID.
    pub snid: u8,
    /// The station's TEI in that network.
    pub tei: u8,
    /// StationRole: `00` STA, `01` PCo, `02` CCo.
    pub station_role: u8,
    /// The CCo's MAC.
    pub cco_mac: MacAddress,
    /// Access (`00` in-home).
    pub access: u8,
    /// NumCoordNWs.
    pub num_coord_networks: u8,
}

/// CM_NW_INFO.CNF: the networks the modem is a member of (0 while it is not in an AVLN).
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct NwInfoCnf {
    /// The networks.
    pub networks: Vec<NetworkInfo>,
}

impl NwInfoCnf {
    /// Reads the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let count = r.u8()?;
        let networks = (0..count)
            .map(|_| {
                Ok(NetworkInfo {
                    nid: r.nid()?,
                    snid: r.u8()?,
                    tei: r.u8()?,
                    station_role: r.u8()?,
                    cco_mac: r.mac()?,
                    access: r.u8()?,
                    num_coord_networks: r.u8()?,
                })
            })
            .collect::<Result<Vec<_>, WireError>>()?;
        Ok(Self { networks })
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let mut w = Writer::new(out);
        w.u8(u8::try_from(self.networks.len()).unwrap_or(u8::MAX));
        for n in self.networks.iter().take(usize::from(u8::MAX)) {
            w.bytes(&n.nid.0)
                .u8(n.snid)
                .u8(n.tei)
                .u8(n.station_role)
                .bytes(&n.cco_mac.0)
                .u8(n.access)
                .u8(n.num_coord_networks);
        }
    }
}
