//! The Qualcomm (QCA) vendor MMEs used in practice (homeplug-slac.md §2.6, §2.17). Bodies
//! start after the OUI (offset 20 for MMV 1.0).

use super::wire::{Reader, Writer};
use super::{MacAddress, WireError};

/// VS_SW_VER.CNF device class of the QCA7420/AR7420 family (TP-Link TL-PA4010).
pub const DEVICE_CLASS_QCA7420: u8 = 0x20;
/// VS_SW_VER.CNF device class of the QCA7000/7005 family.
pub const DEVICE_CLASS_QCA7000: u8 = 0x22;

/// VS_SW_VER.CNF, modem → host: the firmware string. QCA modems send 297-byte frames with a
/// fixed-size version field and more fields behind it; those bytes are kept in `trailing` so
/// that a real frame re-emits identically.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct SwVerCnf {
    /// 20: MSTATUS (`00` ok).
    pub status: u8,
    /// 21: device class, see [`DEVICE_CLASS_QCA7420`].
    pub device_class: u8,
    /// 23…: the version string without its NUL terminator, e.g.
    /// `MAC-QCA7420-1.4.0.20-00-20171027-CS`.
    pub version: String,
    /// Everything after the `length` bytes of the version field (22).
    pub trailing: Vec<u8>,
}

impl SwVerCnf {
    /// Reads the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let status = r.u8()?;
        let device_class = r.u8()?;
        let len = r.u8()?;
        let field = r.take(usize::from(len))?;
        // The field is the string and one NUL (length = string + 1); anything else would
        // not re-emit as it came.
        let Some((&0, text)) = field.split_last() else {
            return Err(WireError::InvalidField(
                "VS_SW_VER.CNF version not NUL-terminated",
            ));
        };
        if text.contains(&0) {
            return Err(WireError::InvalidField(
                "VS_SW_VER.CNF version has an inner NUL",
            ));
        }
        let version = String::from_utf8_lossy(text).into_owned();
        Ok(Self {
            status,
            device_class,
            version,
            trailing: r.rest().to_vec(),
        })
    }

    /// Appends the body: the version string with its NUL, length byte = string + 1.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let text = self.version.as_bytes();
        let text = text.get(..253).unwrap_or(text);
        Writer::new(out)
            .u8(self.status)
            .u8(self.device_class)
            .u8(u8::try_from(text.len() + 1).unwrap_or(u8::MAX))
            .bytes(text)
            .u8(0)
            .bytes(&self.trailing);
    }
}

/// VS_RS_DEV.CNF / VS_PL_LNK_STATUS.CNF share the MSTATUS byte at 20.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct RsDevCnf {
    /// 20: MSTATUS (`00` ok; the device reboots afterwards).
    pub status: u8,
}

impl RsDevCnf {
    /// Reads the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        Ok(Self {
            status: Reader::new(body).u8()?,
        })
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.status);
    }
}

/// VS_PL_LNK_STATUS.CNF: is the powerline link to a peer in the AVLN up.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct PlLinkStatusCnf {
    /// 20: MSTATUS (`00` ok).
    pub status: u8,
    /// 21: LinkStatus, `01` = up.
    pub link_status: u8,
}

impl PlLinkStatusCnf {
    /// Reads the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        Ok(Self {
            status: r.u8()?,
            link_status: r.u8()?,
        })
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.status, self.link_status]);
    }

    /// True if the modem reports an established link.
    pub fn is_up(&self) -> bool {
        self.status == 0 && self.link_status == 0x01
    }
}

/// QCA attenuation characteristics indication 0xA14E, modem → broadcast, one per sound
/// (homeplug-slac.md §2.6). The OUI is `00 B0 52` or, on some QCA7005s, `00 00 00`.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct VsAttenCharInd {
    /// 20–25: the PEV MAC.
    pub pev_mac: MacAddress,
    /// 27–35: unknown fields (`00 10` then zeros in every capture).
    pub unknown: [u8; 9],
    /// 36…: AAG per group (NumGroups at 26).
    pub groups: Vec<u8>,
}

impl VsAttenCharInd {
    /// The unknown bytes 27–35 as every capture shows them.
    pub const UNKNOWN_AS_SEEN: [u8; 9] = [0x00, 0x10, 0, 0, 0, 0, 0, 0, 0];

    /// Reads the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let pev_mac = r.mac()?;
        let count = r.u8()?;
        let unknown = r.array()?;
        Ok(Self {
            pev_mac,
            unknown,
            groups: r.take(usize::from(count))?.to_vec(),
        })
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        Writer::new(out)
            .bytes(&self.pev_mac.0)
            .u8(u8::try_from(self.groups.len()).unwrap_or(u8::MAX))
            .bytes(&self.unknown)
            .bytes(&self.groups);
    }
}
