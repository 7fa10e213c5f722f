//! A whole HomePlug frame as a value: Ethernet header, MME header and a typed body.

use super::key_msg::{GetKeyCnf, GetKeyReq, SetKeyCnf, SetKeyReq};
use super::network_msg::NwInfoCnf;
use super::slac_msg::{
    AttenCharInd, AttenCharRsp, AttenProfileInd, MnbcSoundInd, SlacMatchCnf, SlacMatchReq,
    SlacParmCnf, SlacParmReq, StartAttenCharInd, ValidateCnf, ValidateReq,
};
use super::vendor_msg::{PlLinkStatusCnf, RsDevCnf, SwVerCnf, VsAttenCharInd};
use super::{
    EtherType, EthernetFrame, EthernetRepr, MIN_FRAME_LEN, MacAddress, MmType, MmeHeader,
    MmeHeaderRepr, Mmv, Oui, WireError,
};

/// The body of a management message, typed where we know the layout.
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum Mme {
    /// CM_SLAC_PARM.REQ.
    SlacParmReq(SlacParmReq),
    /// CM_SLAC_PARM.CNF.
    SlacParmCnf(SlacParmCnf),
    /// CM_START_ATTEN_CHAR.IND.
    StartAttenCharInd(StartAttenCharInd),
    /// CM_MNBC_SOUND.IND.
    MnbcSoundInd(MnbcSoundInd),
    /// CM_ATTEN_PROFILE.IND.
    AttenProfileInd(AttenProfileInd),
    /// CM_ATTEN_CHAR.IND.
    AttenCharInd(AttenCharInd),
    /// CM_ATTEN_CHAR.RSP.
    AttenCharRsp(AttenCharRsp),
    /// CM_VALIDATE.REQ.
    ValidateReq(ValidateReq),
    /// CM_VALIDATE.CNF.
    ValidateCnf(ValidateCnf),
    /// CM_SLAC_MATCH.REQ.
    SlacMatchReq(SlacMatchReq),
    /// CM_SLAC_MATCH.CNF.
    SlacMatchCnf(SlacMatchCnf),
    /// CM_SET_KEY.REQ.
    SetKeyReq(SetKeyReq),
    /// CM_SET_KEY.CNF.
    SetKeyCnf(SetKeyCnf),
    /// CM_GET_KEY.REQ.
    GetKeyReq(GetKeyReq),
    /// CM_GET_KEY.CNF.
    GetKeyCnf(GetKeyCnf),
    /// CM_NW_INFO.REQ (empty body).
    NwInfoReq,
    /// CM_NW_INFO.CNF.
    NwInfoCnf(NwInfoCnf),
    /// VS_SW_VER.REQ (QCA; the body is ignored: empty or a cookie).
    SwVerReq,
    /// VS_SW_VER.CNF.
    SwVerCnf(SwVerCnf),
    /// VS_RS_DEV.REQ (empty body).
    RsDevReq,
    /// VS_RS_DEV.CNF.
    RsDevCnf(RsDevCnf),
    /// VS_PL_LNK_STATUS.REQ (empty body).
    PlLinkStatusReq,
    /// VS_PL_LNK_STATUS.CNF.
    PlLinkStatusCnf(PlLinkStatusCnf),
    /// QCA 0xA14E attenuation characteristics.
    VsAttenCharInd(VsAttenCharInd),
    /// Any other MME (unknown MMTYPE, a layout we do not model, a fragment, or a vendor MME of
    /// another vendor): the body as it was, without padding.
    Other {
        /// The message type.
        mmtype: MmType,
        /// The bytes after the MME header.
        body: Vec<u8>,
    },
}

impl Mme {
    /// The MMTYPE of this body.
    pub fn mmtype(&self) -> MmType {
        match self {
            Self::SlacParmReq(_) => MmType::CmSlacParmReq,
            Self::SlacParmCnf(_) => MmType::CmSlacParmCnf,
            Self::StartAttenCharInd(_) => MmType::CmStartAttenCharInd,
            Self::MnbcSoundInd(_) => MmType::CmMnbcSoundInd,
            Self::AttenProfileInd(_) => MmType::CmAttenProfileInd,
            Self::AttenCharInd(_) => MmType::CmAttenCharInd,
            Self::AttenCharRsp(_) => MmType::CmAttenCharRsp,
            Self::ValidateReq(_) => MmType::CmValidateReq,
            Self::ValidateCnf(_) => MmType::CmValidateCnf,
            Self::SlacMatchReq(_) => MmType::CmSlacMatchReq,
            Self::SlacMatchCnf(_) => MmType::CmSlacMatchCnf,
            Self::SetKeyReq(_) => MmType::CmSetKeyReq,
            Self::SetKeyCnf(_) => MmType::CmSetKeyCnf,
            Self::GetKeyReq(_) => MmType::CmGetKeyReq,
            Self::GetKeyCnf(_) => MmType::CmGetKeyCnf,
            Self::NwInfoReq => MmType::CmNwInfoReq,
            Self::NwInfoCnf(_) => MmType::CmNwInfoCnf,
            Self::SwVerReq => MmType::VsSwVerReq,
            Self::SwVerCnf(_) => MmType::VsSwVerCnf,
            Self::RsDevReq => MmType::VsRsDevReq,
            Self::RsDevCnf(_) => MmType::VsRsDevCnf,
            Self::PlLinkStatusReq => MmType::VsPlLnkStatusReq,
            Self::PlLinkStatusCnf(_) => MmType::VsPlLnkStatusCnf,
            Self::VsAttenCharInd(_) => MmType::VsAttenCharInd,
            Self::Other { mmtype, .. } => *mmtype,
        }
    }

    /// Parses the body of an MME with the given header. Known types with a malformed body are
    /// an error (the sender's fault); unknown types become [`Mme::Other`].
    pub fn parse(header: &MmeHeaderRepr, body: &[u8]) -> Result<Self, WireError> {
        let other = || Self::Other {
            mmtype: header.mmtype,
            body: body.to_vec(),
        };
        if header.is_fragmented() {
            return Ok(other());
        }
        if header.mmtype.is_vendor_specific() {
            let qca = header.oui == Oui::QCA;
            // 0xA14E comes with OUI 00 00 00 from some QCA7005s (homeplug-slac.md §2.6).
            let atten_oui = qca || header.oui == Oui::ZERO;
            return Ok(match header.mmtype {
                MmType::VsSwVerReq if qca => Self::SwVerReq,
                MmType::VsSwVerCnf if qca => Self::SwVerCnf(SwVerCnf::parse(body)?),
                MmType::VsRsDevReq if qca => Self::RsDevReq,
                MmType::VsRsDevCnf if qca => Self::RsDevCnf(RsDevCnf::parse(body)?),
                MmType::VsPlLnkStatusReq if qca => Self::PlLinkStatusReq,
                MmType::VsPlLnkStatusCnf if qca => {
                    Self::PlLinkStatusCnf(PlLinkStatusCnf::parse(body)?)
                }
                MmType::VsAttenCharInd if atten_oui => {
                    Self::VsAttenCharInd(VsAttenCharInd::parse(body)?)
                }
                _ => other(),
            });
        }
        Ok(match header.mmtype {
            MmType::CmSlacParmReq => Self::SlacParmReq(SlacParmReq::parse(body)?),
            MmType::CmSlacParmCnf => Self::SlacParmCnf(SlacParmCnf::parse(body)?),
            MmType::CmStartAttenCharInd => Self::StartAttenCharInd(StartAttenCharInd::parse(body)?),
            MmType::CmMnbcSoundInd => Self::MnbcSoundInd(MnbcSoundInd::parse(body)?),
            MmType::CmAttenProfileInd => Self::AttenProfileInd(AttenProfileInd::parse(body)?),
            MmType::CmAttenCharInd => Self::AttenCharInd(AttenCharInd::parse(body)?),
            MmType::CmAttenCharRsp => Self::AttenCharRsp(AttenCharRsp::parse(body)?),
            MmType::CmValidateReq => Self::ValidateReq(ValidateReq::parse(body)?),
            MmType::CmValidateCnf => Self::ValidateCnf(ValidateCnf::parse(body)?),
            MmType::CmSlacMatchReq => Self::SlacMatchReq(SlacMatchReq::parse(body)?),
            MmType::CmSlacMatchCnf => Self::SlacMatchCnf(SlacMatchCnf::parse(body)?),
            MmType::CmSetKeyReq => Self::SetKeyReq(SetKeyReq::parse(body)?),
            MmType::CmSetKeyCnf => Self::SetKeyCnf(SetKeyCnf::parse(body)?),
            MmType::CmGetKeyReq => Self::GetKeyReq(GetKeyReq::parse(body)?),
            MmType::CmGetKeyCnf => Self::GetKeyCnf(GetKeyCnf::parse(body)?),
            MmType::CmNwInfoReq => Self::NwInfoReq,
            MmType::CmNwInfoCnf => Self::NwInfoCnf(NwInfoCnf::parse(body)?),
            _ => other(),
        })
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        match self {
            Self::SlacParmReq(m) => m.emit(out),
            Self::SlacParmCnf(m) => m.emit(out),
            Self::StartAttenCharInd(m) => m.emit(out),
            Self::MnbcSoundInd(m) => m.emit(out),
            Self::AttenProfileInd(m) => m.emit(out),
            Self::AttenCharInd(m) => m.emit(out),
            Self::AttenCharRsp(m) => m.emit(out),
            Self::ValidateReq(m) => m.emit(out),
            Self::ValidateCnf(m) => m.emit(out),
            Self::SlacMatchReq(m) => m.emit(out),
            Self::SlacMatchCnf(m) => m.emit(out),
            Self::SetKeyReq(m) => m.emit(out),
            Self::SetKeyCnf(m) => m.emit(out),
            Self::GetKeyReq(m) => m.emit(out),
            Self::GetKeyCnf(m) => m.emit(out),
            Self::NwInfoCnf(m) => m.emit(out),
            Self::SwVerCnf(m) => m.emit(out),
            Self::RsDevCnf(m) => m.emit(out),
            Self::PlLinkStatusCnf(m) => m.emit(out),
            Self::VsAttenCharInd(m) => m.emit(out),
            Self::NwInfoReq | Self::SwVerReq | Self::RsDevReq | Self::PlLinkStatusReq => {}
            Self::Other { body, .. } => out.extend_from_slice(body),
        }
    }
}

/// A whole HomePlug frame: what the SLAC machines send and receive.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct MmeFrame {
    /// Destination MAC.
    pub destination: MacAddress,
    /// Source MAC.
    pub source: MacAddress,
    /// 802.1Q TCI if the frame was tagged (never set on frames we build).
    pub vlan_tci: Option<u16>,
    /// The MME header.
    pub header: MmeHeaderRepr,
    /// The typed body.
    pub body: Mme,
}

impl MmeFrame {
    /// A frame with the header real devices use for this body: MMV 1.1 for public MMEs,
    /// MMV 1.0 with the QCA OUI for vendor MMEs.
    pub fn new(destination: MacAddress, source: MacAddress, body: Mme) -> Self {
        let mmtype = body.mmtype();
        let header = if mmtype.is_vendor_specific() {
            MmeHeaderRepr::qca(mmtype)
        } else {
            MmeHeaderRepr::public(mmtype)
        };
        Self {
            destination,
            source,
            vlan_tci: None,
            header,
            body,
        }
    }

    /// Parses a frame. Frames of another EtherType fail with [`WireError::NotHomePlug`] (skip
    /// them); unknown MMTYPEs parse to [`Mme::Other`]; short (unpadded) frames are fine as
    /// long as the fields are there. Trailing padding is ignored.
    pub fn parse(bytes: &[u8]) -> Result<Self, WireError> {
        let ethernet = EthernetFrame::new_checked(bytes)?;
        let eth = EthernetRepr::parse(&ethernet);
        if eth.ethertype != EtherType::HomePlugAv {
            return Err(WireError::NotHomePlug(eth.ethertype));
        }
        let header = MmeHeader::new_checked(ethernet.payload())?;
        let header_repr = MmeHeaderRepr::parse(&header);
        let body = Mme::parse(&header_repr, header.payload())?;
        Ok(Self {
            destination: eth.destination,
            source: eth.source,
            vlan_tci: eth.vlan_tci,
            header: header_repr,
            body,
        })
    }

    /// The MMTYPE.
    pub fn mmtype(&self) -> MmType {
        self.header.mmtype
    }

    /// Serialises the frame, padded with zeros to [`MIN_FRAME_LEN`].
    pub fn emit(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MIN_FRAME_LEN);
        self.emit_into(&mut out);
        out
    }

    /// Appends the frame, padded with zeros to 60 bytes, to `out`.
    pub fn emit_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        EthernetRepr {
            destination: self.destination,
            source: self.source,
            vlan_tci: self.vlan_tci,
            ethertype: EtherType::HomePlugAv,
        }
        .emit(out);
        self.header.emit(out);
        self.body.emit(out);
        let len = out.len() - start;
        if len < MIN_FRAME_LEN {
            out.resize(start + MIN_FRAME_LEN, 0);
        }
    }

    /// True if this is a MME of the MMV 1.1 layout.
    pub fn is_mmv_1_1(&self) -> bool {
        self.header.mmv == Mmv::V1_1
    }
}
