//! Talking to the local QCA modem: find it and its firmware (VS_SW_VER), key it (CM_SET_KEY),
//! read the link status (VS_PL_LNK_STATUS, CM_NW_INFO), reset it (VS_RS_DEV).
//!
//! Requests go to the localcast address `00:B0:52:00:00:01` until the modem is known, then to
//! its MAC; never broadcast (a broadcast SET_KEY can reach modems already in an AVLN;
//! homeplug-slac.md §2.12).

use crate::homeplug::key_msg::{SET_KEY_RESULT_QCA_ACCEPTED, SetKeyReq};
use crate::homeplug::network_msg::NwInfoCnf;
use crate::homeplug::{MacAddress, Mme, MmeFrame, Nid, Nmk};

/// An answer from the local modem.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ModemReply {
    /// VS_SW_VER.CNF.
    SoftwareVersion {
        /// The modem's MAC.
        modem_mac: MacAddress,
        /// Firmware string.
        firmware: String,
        /// Device class (`20` QCA7420, `22` QCA7000/7005).
        device_class: u8,
    },
    /// CM_SET_KEY.CNF.
    SetKey {
        /// The Result byte (QCA: `01` = accepted).
        result: u8,
    },
    /// VS_PL_LNK_STATUS.CNF.
    LinkStatus {
        /// True if the modem reports the link to a peer up.
        up: bool,
    },
    /// CM_NW_INFO.CNF.
    NetworkInfo(NwInfoCnf),
    /// VS_RS_DEV.CNF: the modem reboots now.
    Reset,
}

/// The host's view of its modem: where to send requests, and which frames are its answers.
#[derive(Clone, Debug)]
pub struct ModemControl {
    host_mac: MacAddress,
    modem_mac: Option<MacAddress>,
}

impl ModemControl {
    /// A modem not found yet.
    pub const fn new(host_mac: MacAddress) -> Self {
        Self {
            host_mac,
            modem_mac: None,
        }
    }

    /// The modem's MAC, once it answered.
    pub const fn modem_mac(&self) -> Option<MacAddress> {
        self.modem_mac
    }

    fn destination(&self) -> MacAddress {
        self.modem_mac.unwrap_or(MacAddress::QCA_LOCALCAST)
    }

    fn request(&self, body: Mme) -> MmeFrame {
        MmeFrame::new(self.destination(), self.host_mac, body)
    }

    /// VS_SW_VER.REQ, always to localcast: only the directly attached modem answers.
    pub fn software_version_request(&self) -> MmeFrame {
        MmeFrame::new(MacAddress::QCA_LOCALCAST, self.host_mac, Mme::SwVerReq)
    }

    /// CM_SET_KEY.REQ with the NMK and NID (ISO nonces: zero).
    pub fn set_key_request(&self, nid: Nid, nmk: Nmk) -> MmeFrame {
        self.request(Mme::SetKeyReq(SetKeyReq::new(nid, nmk)))
    }

    /// VS_PL_LNK_STATUS.REQ.
    pub fn link_status_request(&self) -> MmeFrame {
        self.request(Mme::PlLinkStatusReq)
    }

    /// CM_NW_INFO.REQ.
    pub fn network_info_request(&self) -> MmeFrame {
        self.request(Mme::NwInfoReq)
    }

    /// VS_RS_DEV.REQ.
    pub fn reset_request(&self) -> MmeFrame {
        self.request(Mme::RsDevReq)
    }

    /// If `frame` is an answer of our modem to us, what it says. Learns the modem's MAC from
    /// VS_SW_VER.CNF; other answers are accepted only from that MAC once it is known.
    pub fn classify(&mut self, frame: &MmeFrame) -> Option<ModemReply> {
        if frame.destination != self.host_mac {
            return None;
        }
        if let Mme::SwVerCnf(cnf) = &frame.body {
            if self.modem_mac.is_none() {
                self.modem_mac = Some(frame.source);
            }
            return (Some(frame.source) == self.modem_mac).then(|| ModemReply::SoftwareVersion {
                modem_mac: frame.source,
                firmware: cnf.version.clone(),
                device_class: cnf.device_class,
            });
        }
        if self.modem_mac.is_some_and(|m| m != frame.source) {
            return None;
        }
        match &frame.body {
            Mme::SetKeyCnf(cnf) => Some(ModemReply::SetKey { result: cnf.result }),
            Mme::PlLinkStatusCnf(cnf) => Some(ModemReply::LinkStatus { up: cnf.is_up() }),
            Mme::NwInfoCnf(cnf) => Some(ModemReply::NetworkInfo(cnf.clone())),
            Mme::RsDevCnf(_) => Some(ModemReply::Reset),
            _ => None,
        }
    }
}

/// Does a CM_SET_KEY.CNF Result mean the key was applied? QCA modems answer `01` on success
/// (homeplug-slac.md §2.13); `00` counts only if the configuration says so.
pub fn set_key_accepted(result: u8, zero_is_success: bool) -> bool {
    result == SET_KEY_RESULT_QCA_ACCEPTED || (zero_is_success && result == 0)
}
