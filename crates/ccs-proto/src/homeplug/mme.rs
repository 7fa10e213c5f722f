//! The MME header that follows the Ethernet header (HomePlug AV 1.1 §11.1, homeplug-slac.md
//! §1.1): MMV, MMTYPE (little-endian), FMI/FMSN when MMV ≥ 1, and the OUI of vendor MMEs.

use core::fmt;

use super::WireError;

macro_rules! mm_types {
    ($( $(#[$meta:meta])* $variant:ident = $value:literal, $name:literal; )*) => {
        /// The MMTYPE of a management message. Unknown values parse to
        /// [`MmType::Unknown`] and never fail.
        #[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
        #[non_exhaustive]
        pub enum MmType {
            $( $(#[$meta])* $variant, )*
            /// Any other MMTYPE, kept as it was on the wire.
            Unknown(u16),
        }

        impl From<u16> for MmType {
            fn from(raw: u16) -> Self {
                match raw {
                    $( $value => Self::$variant, )*
                    other => Self::Unknown(other),
                }
            }
        }

        impl From<MmType> for u16 {
            fn from(t: MmType) -> Self {
                match t {
                    $( MmType::$variant => $value, )*
                    MmType::Unknown(raw) => raw,
                }
            }
        }

        impl MmType {
            /// The name as the HomePlug and ISO 15118-3 documents write it, if known.
            pub const fn name(self) -> Option<&'static str> {
                match self {
                    $( Self::$variant => Some($name), )*
                    Self::Unknown(_) => None,
                }
            }
        }
    };
}

mm_types! {
    /// CC_DISCOVER_LIST.REQ (station list query).
    CcDiscoverListReq = 0x0014, "CC_DISCOVER_LIST.REQ";
    /// CC_DISCOVER_LIST.CNF.
    CcDiscoverListCnf = 0x0015, "CC_DISCOVER_LIST.CNF";
    /// CM_ENCRYPTED_PAYLOAD.IND.
    CmEncryptedPayloadInd = 0x6006, "CM_ENCRYPTED_PAYLOAD.IND";
    /// CM_ENCRYPTED_PAYLOAD.RSP.
    CmEncryptedPayloadRsp = 0x6007, "CM_ENCRYPTED_PAYLOAD.RSP";
    /// CM_SET_KEY.REQ: host → local modem, sets NMK and NID.
    CmSetKeyReq = 0x6008, "CM_SET_KEY.REQ";
    /// CM_SET_KEY.CNF.
    CmSetKeyCnf = 0x6009, "CM_SET_KEY.CNF";
    /// CM_GET_KEY.REQ.
    CmGetKeyReq = 0x600c, "CM_GET_KEY.REQ";
    /// CM_GET_KEY.CNF.
    CmGetKeyCnf = 0x600d, "CM_GET_KEY.CNF";
    /// CM_AMP_MAP.REQ.
    CmAmpMapReq = 0x601c, "CM_AMP_MAP.REQ";
    /// CM_AMP_MAP.CNF.
    CmAmpMapCnf = 0x601d, "CM_AMP_MAP.CNF";
    /// CM_BRG_INFO.REQ.
    CmBrgInfoReq = 0x6020, "CM_BRG_INFO.REQ";
    /// CM_BRG_INFO.CNF.
    CmBrgInfoCnf = 0x6021, "CM_BRG_INFO.CNF";
    /// CM_NW_INFO.REQ.
    CmNwInfoReq = 0x6038, "CM_NW_INFO.REQ";
    /// CM_NW_INFO.CNF.
    CmNwInfoCnf = 0x6039, "CM_NW_INFO.CNF";
    /// CM_NW_STATS.REQ.
    CmNwStatsReq = 0x6048, "CM_NW_STATS.REQ";
    /// CM_NW_STATS.CNF.
    CmNwStatsCnf = 0x6049, "CM_NW_STATS.CNF";
    /// CM_SLAC_PARM.REQ (ISO 15118-3 Table A.1).
    CmSlacParmReq = 0x6064, "CM_SLAC_PARM.REQ";
    /// CM_SLAC_PARM.CNF (Table A.2).
    CmSlacParmCnf = 0x6065, "CM_SLAC_PARM.CNF";
    /// CM_START_ATTEN_CHAR.IND (Table A.4).
    CmStartAttenCharInd = 0x606a, "CM_START_ATTEN_CHAR.IND";
    /// CM_ATTEN_CHAR.IND (Table A.6).
    CmAttenCharInd = 0x606e, "CM_ATTEN_CHAR.IND";
    /// CM_ATTEN_CHAR.RSP (Table A.7).
    CmAttenCharRsp = 0x606f, "CM_ATTEN_CHAR.RSP";
    /// CM_MNBC_SOUND.IND (Table A.5).
    CmMnbcSoundInd = 0x6076, "CM_MNBC_SOUND.IND";
    /// CM_VALIDATE.REQ (Table A.8).
    CmValidateReq = 0x6078, "CM_VALIDATE.REQ";
    /// CM_VALIDATE.CNF (Table A.9).
    CmValidateCnf = 0x6079, "CM_VALIDATE.CNF";
    /// CM_SLAC_MATCH.REQ (Table A.10).
    CmSlacMatchReq = 0x607c, "CM_SLAC_MATCH.REQ";
    /// CM_SLAC_MATCH.CNF (Table A.11).
    CmSlacMatchCnf = 0x607d, "CM_SLAC_MATCH.CNF";
    /// CM_ATTEN_PROFILE.IND: EVSE modem → EVSE host, one per received sound.
    CmAttenProfileInd = 0x6086, "CM_ATTEN_PROFILE.IND";
    /// QCA VS_SW_VER.REQ.
    VsSwVerReq = 0xa000, "VS_SW_VER.REQ";
    /// QCA VS_SW_VER.CNF.
    VsSwVerCnf = 0xa001, "VS_SW_VER.CNF";
    /// QCA VS_RS_DEV.REQ (reset the device).
    VsRsDevReq = 0xa01c, "VS_RS_DEV.REQ";
    /// QCA VS_RS_DEV.CNF.
    VsRsDevCnf = 0xa01d, "VS_RS_DEV.CNF";
    /// QCA VS_LNK_STATS.REQ.
    VsLnkStatsReq = 0xa030, "VS_LNK_STATS.REQ";
    /// QCA VS_LNK_STATS.CNF.
    VsLnkStatsCnf = 0xa031, "VS_LNK_STATS.CNF";
    /// QCA VS_NW_INFO.REQ.
    VsNwInfoReq = 0xa038, "VS_NW_INFO.REQ";
    /// QCA VS_NW_INFO.CNF.
    VsNwInfoCnf = 0xa039, "VS_NW_INFO.CNF";
    /// QCA VS_SET_KEY.REQ.
    VsSetKeyReq = 0xa050, "VS_SET_KEY.REQ";
    /// QCA VS_SET_KEY.CNF.
    VsSetKeyCnf = 0xa051, "VS_SET_KEY.CNF";
    /// QCA VS_HOST_ACTION.IND.
    VsHostActionInd = 0xa062, "VS_HOST_ACTION.IND";
    /// QCA VS_HOST_ACTION.RSP.
    VsHostActionRsp = 0xa063, "VS_HOST_ACTION.RSP";
    /// QCA VS_OP_ATTRIBUTES.REQ.
    VsOpAttributesReq = 0xa068, "VS_OP_ATTRIBUTES.REQ";
    /// QCA VS_OP_ATTRIBUTES.CNF.
    VsOpAttributesCnf = 0xa069, "VS_OP_ATTRIBUTES.CNF";
    /// QCA VS_PL_LNK_STATUS.REQ.
    VsPlLnkStatusReq = 0xa0b8, "VS_PL_LNK_STATUS.REQ";
    /// QCA VS_PL_LNK_STATUS.CNF.
    VsPlLnkStatusCnf = 0xa0b9, "VS_PL_LNK_STATUS.CNF";
    /// QCA attenuation characteristics indication (homeplug-slac.md §2.6).
    VsAttenCharInd = 0xa14e, "VS_ATTEN_CHAR.IND(0xA14E)";
}

impl MmType {
    /// Vendor-specific MMEs (0xA000–0xBFFF) carry a 3-byte OUI before their payload.
    pub fn is_vendor_specific(self) -> bool {
        (0xa000..0xc000).contains(&u16::from(self))
    }

    /// The message kind from bits 1..0: 0 REQ, 1 CNF, 2 IND, 3 RSP.
    pub fn mode_bits(self) -> u8 {
        (u16::from(self) & 0x3) as u8
    }

    /// True for the SLAC messages of ISO 15118-3 (0x6064–0x6087), which modems carry between
    /// stations that are not yet in one AVLN.
    pub fn is_slac(self) -> bool {
        (0x6064..=0x6087).contains(&u16::from(self))
    }
}

impl fmt::Display for MmType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "MMTYPE 0x{:04x}", u16::from(*self)),
        }
    }
}

/// Management Message Version.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Mmv {
    /// `00` HomePlug AV 1.0: no fragmentation fields (QCA vendor MMEs use it).
    V1_0,
    /// `01` HomePlug AV 1.1 / Green PHY: FMI and FMSN follow MMTYPE (all SLAC MMEs).
    V1_1,
    /// `02` HomePlug AV 2.0 (FMI present).
    V2_0,
    /// Any other version; treated as carrying FMI.
    Unknown(u8),
}

impl From<u8> for Mmv {
    fn from(raw: u8) -> Self {
        match raw {
            0 => Self::V1_0,
            1 => Self::V1_1,
            2 => Self::V2_0,
            other => Self::Unknown(other),
        }
    }
}

impl From<Mmv> for u8 {
    fn from(v: Mmv) -> Self {
        match v {
            Mmv::V1_0 => 0,
            Mmv::V1_1 => 1,
            Mmv::V2_0 => 2,
            Mmv::Unknown(raw) => raw,
        }
    }
}

impl Mmv {
    /// True if two fragmentation bytes (FMI, FMSN) follow MMTYPE.
    pub fn has_fragment_info(self) -> bool {
        self != Self::V1_0
    }
}

/// A vendor OUI, e.g. QCA `00 B0 52`.
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq)]
pub struct Oui(pub [u8; 3]);

impl Oui {
    /// Qualcomm Atheros.
    pub const QCA: Self = Self([0x00, 0xb0, 0x52]);
    /// `00 00 00`, which the FoccciCape QCA7005 and dSPACE's QCA modems put into 0xA14E.
    pub const ZERO: Self = Self([0, 0, 0]);
}

impl fmt::Display for Oui {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}{:02x}{:02x}", self.0[0], self.0[1], self.0[2])
    }
}

mod field {
    pub(super) const MMV: usize = 0;
    pub(super) const MMTYPE: core::ops::Range<usize> = 1..3;
    pub(super) const FMI: usize = 3;
    pub(super) const FMSN: usize = 4;
}

/// A view of the MME header at the start of an Ethernet payload. After
/// [`MmeHeader::new_checked`] no accessor panics.
#[derive(Clone, Copy, Debug)]
pub struct MmeHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> MmeHeader<T> {
    /// Wraps the Ethernet payload without checking its length.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps the Ethernet payload, failing unless the whole header (with FMI and OUI where the
    /// MMV and MMTYPE call for them) is present.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let header = Self::new_unchecked(buffer);
        header.check_len()?;
        Ok(header)
    }

    /// Fails unless the header fits.
    pub fn check_len(&self) -> Result<(), WireError> {
        let len = self.buffer.as_ref().len();
        if len < 3 {
            return Err(WireError::Truncated {
                needed: 3,
                available: len,
            });
        }
        let needed = self.header_len();
        if len < needed {
            return Err(WireError::Truncated {
                needed,
                available: len,
            });
        }
        Ok(())
    }

    /// The management message version.
    pub fn mmv(&self) -> Mmv {
        Mmv::from(self.buffer.as_ref()[field::MMV])
    }

    /// The MMTYPE, read little-endian.
    pub fn mmtype(&self) -> MmType {
        let b = &self.buffer.as_ref()[field::MMTYPE];
        MmType::from(u16::from_le_bytes([b[0], b[1]]))
    }

    /// `(FMI, FMSN)` if the MMV carries them.
    pub fn fragment_info(&self) -> Option<(u8, u8)> {
        let b = self.buffer.as_ref();
        self.mmv()
            .has_fragment_info()
            .then(|| (b[field::FMI], b[field::FMSN]))
    }

    fn oui_offset(&self) -> usize {
        if self.mmv().has_fragment_info() { 5 } else { 3 }
    }

    /// The OUI of a vendor-specific MME.
    pub fn oui(&self) -> Option<Oui> {
        self.mmtype().is_vendor_specific().then(|| {
            let at = self.oui_offset();
            let b = &self.buffer.as_ref()[at..at + 3];
            Oui([b[0], b[1], b[2]])
        })
    }

    /// Length of the MME header: 3 (MMV 0) or 5 (MMV ≥ 1), plus 3 for a vendor OUI.
    pub fn header_len(&self) -> usize {
        let base = self.oui_offset();
        if self.mmtype().is_vendor_specific() {
            base + 3
        } else {
            base
        }
    }

    /// The MME payload (MMENTRY) after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

/// The MME header as a value.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct MmeHeaderRepr {
    /// The version: SLAC and other public MMEs use 1.1, QCA vendor MMEs mostly 1.0.
    pub mmv: Mmv,
    /// The message type.
    pub mmtype: MmType,
    /// `(FMI, FMSN)`: `(0, 0)` for every unfragmented MME. Ignored when `mmv` is 1.0.
    pub fragment: (u8, u8),
    /// The OUI; emitted only for vendor-specific MMTYPEs.
    pub oui: Oui,
}

impl MmeHeaderRepr {
    /// The header of a public MME (MMV 1.1, no fragmentation).
    pub const fn public(mmtype: MmType) -> Self {
        Self {
            mmv: Mmv::V1_1,
            mmtype,
            fragment: (0, 0),
            oui: Oui::QCA,
        }
    }

    /// The header of a QCA vendor MME as the modems use it (MMV 1.0, OUI `00 B0 52`).
    pub const fn qca(mmtype: MmType) -> Self {
        Self {
            mmv: Mmv::V1_0,
            mmtype,
            fragment: (0, 0),
            oui: Oui::QCA,
        }
    }

    /// Reads a checked header.
    pub fn parse<T: AsRef<[u8]>>(header: &MmeHeader<T>) -> Self {
        Self {
            mmv: header.mmv(),
            mmtype: header.mmtype(),
            fragment: header.fragment_info().unwrap_or((0, 0)),
            oui: header.oui().unwrap_or(Oui::QCA),
        }
    }

    /// True if this header starts a fragmented MME (more than one fragment or not the first).
    pub fn is_fragmented(&self) -> bool {
        self.mmv.has_fragment_info() && self.fragment.0 != 0
    }

    /// Appends the header to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(u8::from(self.mmv));
        out.extend_from_slice(&u16::from(self.mmtype).to_le_bytes());
        if self.mmv.has_fragment_info() {
            out.push(self.fragment.0);
            out.push(self.fragment.1);
        }
        if self.mmtype.is_vendor_specific() {
            out.extend_from_slice(&self.oui.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mmtype_is_little_endian_and_unknown_values_survive() {
        let header = MmeHeader::new_checked(&[0x01, 0x64, 0x60, 0x00, 0x00][..]).unwrap();
        assert_eq!(header.mmtype(), MmType::CmSlacParmReq);
        assert_eq!(header.fragment_info(), Some((0, 0)));
        assert_eq!(header.header_len(), 5);
        let odd = MmeHeader::new_checked(&[0x01, 0x34, 0x12, 0x00, 0x00][..]).unwrap();
        assert_eq!(odd.mmtype(), MmType::Unknown(0x1234));
        assert_eq!(u16::from(odd.mmtype()), 0x1234);
        assert_eq!(odd.mmtype().to_string(), "MMTYPE 0x1234");
    }

    #[test]
    fn vendor_header_in_both_mmv_layouts() {
        let v10 = MmeHeader::new_checked(&[0x00, 0x00, 0xa0, 0x00, 0xb0, 0x52, 0xaa][..]).unwrap();
        assert_eq!(v10.mmv(), Mmv::V1_0);
        assert_eq!(v10.fragment_info(), None);
        assert_eq!(v10.oui(), Some(Oui::QCA));
        assert_eq!(v10.payload(), &[0xaa]);
        let v11 =
            MmeHeader::new_checked(&[0x01, 0x38, 0xa0, 0x00, 0x00, 0x00, 0xb0, 0x52][..]).unwrap();
        assert_eq!(v11.oui(), Some(Oui::QCA));
        assert_eq!(v11.header_len(), 8);
        let mut out = Vec::new();
        MmeHeaderRepr::parse(&v11).emit(&mut out);
        assert_eq!(out, [0x01, 0x38, 0xa0, 0x00, 0x00, 0x00, 0xb0, 0x52]);
    }

    #[test]
    fn truncated_header_is_an_error() {
        assert!(MmeHeader::new_checked(&[0x01, 0x64][..]).is_err());
        assert!(MmeHeader::new_checked(&[0x01, 0x64, 0x60, 0x00][..]).is_err());
        assert!(MmeHeader::new_checked(&[0x00, 0x00, 0xa0, 0x00, 0xb0][..]).is_err());
    }
}
