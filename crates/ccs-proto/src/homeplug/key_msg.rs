//! CM_SET_KEY and CM_GET_KEY (HomePlug AV 1.1 §11.5.3–11.5.6; homeplug-slac.md §2.12–2.14).

use super::wire::{Reader, Writer};
use super::{Nid, Nmk, WireError};

/// KeyType `01`: an NMK (AES-128).
pub const KEY_TYPE_NMK: u8 = 0x01;
/// PID `04`: HLE protocol, the value every SLAC stack uses.
pub const PID_HLE: u8 = 0x04;
/// NewEKS `01`: the new key is an NMK.
pub const NEW_EKS_NMK: u8 = 0x01;
/// CM_SET_KEY.CNF Result as QCA modems send it when they **accepted** the key. The HomePlug
/// spec says `00` means success, but every QCA modem in every capture answers `01` on success
/// and `00` only for requests it did not apply (homeplug-slac.md §2.13; pyPLC; EVerest
/// PR #2324).
pub const SET_KEY_RESULT_QCA_ACCEPTED: u8 = 0x01;
/// CM_GET_KEY.CNF Result `00`: key granted.
pub const GET_KEY_RESULT_GRANTED: u8 = 0x00;
/// CM_GET_KEY.CNF Result `01`: refused.
pub const GET_KEY_RESULT_REFUSED: u8 = 0x01;

/// CM_SET_KEY.REQ, host → its local modem.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct SetKeyReq {
    /// 19: KeyType (`01` NMK).
    pub key_type: u8,
    /// 20–23: MyNonce (`00000000` per ISO, `AAAAAAAA` from pyPLC; both accepted).
    pub my_nonce: [u8; 4],
    /// 24–27: YourNonce.
    pub your_nonce: [u8; 4],
    /// 28: PID (`04`).
    pub pid: u8,
    /// 29–30: PRN (LE).
    pub prn: u16,
    /// 31: PMN.
    pub pmn: u8,
    /// 32: CCo capability.
    pub cco_capability: u8,
    /// 33–39: NID.
    pub nid: Nid,
    /// 40: NewEKS / PEKS (`01`).
    pub new_eks: u8,
    /// 41–56: NewKey = NMK.
    pub new_key: Nmk,
}

impl SetKeyReq {
    /// A request as ISO 15118-3 wants it: NMK key type, zero nonces, PID 4.
    pub const fn new(nid: Nid, nmk: Nmk) -> Self {
        Self {
            key_type: KEY_TYPE_NMK,
            my_nonce: [0; 4],
            your_nonce: [0; 4],
            pid: PID_HLE,
            prn: 0,
            pmn: 0,
            cco_capability: 0,
            nid,
            new_eks: NEW_EKS_NMK,
            new_key: nmk,
        }
    }

    /// Reads the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        Ok(Self {
            key_type: r.u8()?,
            my_nonce: r.array()?,
            your_nonce: r.array()?,
            pid: r.u8()?,
            prn: r.u16_le()?,
            pmn: r.u8()?,
            cco_capability: r.u8()?,
            nid: r.nid()?,
            new_eks: r.u8()?,
            new_key: r.nmk()?,
        })
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        Writer::new(out)
            .u8(self.key_type)
            .bytes(&self.my_nonce)
            .bytes(&self.your_nonce)
            .u8(self.pid)
            .u16_le(self.prn)
            .u8(self.pmn)
            .u8(self.cco_capability)
            .bytes(&self.nid.0)
            .u8(self.new_eks)
            .bytes(&self.new_key.0);
    }
}

/// CM_SET_KEY.CNF, modem → host.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct SetKeyCnf {
    /// 19: Result; see [`SET_KEY_RESULT_QCA_ACCEPTED`].
    pub result: u8,
    /// 20–23: MyNonce (modem-chosen).
    pub my_nonce: [u8; 4],
    /// 24–27: YourNonce (echo of the request's MyNonce).
    pub your_nonce: [u8; 4],
    /// 28: PID.
    pub pid: u8,
    /// 29–30: PRN (LE).
    pub prn: u16,
    /// 31: PMN (`FF` on QCA).
    pub pmn: u8,
    /// 32: CCo capability.
    pub cco_capability: u8,
}

impl SetKeyCnf {
    /// Reads the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        Ok(Self {
            result: r.u8()?,
            my_nonce: r.array()?,
            your_nonce: r.array()?,
            pid: r.u8()?,
            prn: r.u16_le()?,
            pmn: r.u8()?,
            cco_capability: r.u8()?,
        })
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        Writer::new(out)
            .u8(self.result)
            .bytes(&self.my_nonce)
            .bytes(&self.your_nonce)
            .u8(self.pid)
            .u16_le(self.prn)
            .u8(self.pmn)
            .u8(self.cco_capability);
    }
}

/// CM_GET_KEY.REQ (pyPLC's modem probe).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct GetKeyReq {
    /// 19: RequestType (`00` direct).
    pub request_type: u8,
    /// 20: RequestedKeyType (`01` NMK).
    pub requested_key_type: u8,
    /// 21–27: NID.
    pub nid: Nid,
    /// 28–31: MyNonce.
    pub my_nonce: [u8; 4],
    /// 32: PID.
    pub pid: u8,
    /// 33–34: PRN (LE).
    pub prn: u16,
    /// 35: PMN.
    pub pmn: u8,
}

impl GetKeyReq {
    /// Reads the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        Ok(Self {
            request_type: r.u8()?,
            requested_key_type: r.u8()?,
            nid: r.nid()?,
            my_nonce: r.array()?,
            pid: r.u8()?,
            prn: r.u16_le()?,
            pmn: r.u8()?,
        })
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        Writer::new(out)
            .u8(self.request_type)
            .u8(self.requested_key_type)
            .bytes(&self.nid.0)
            .bytes(&self.my_nonce)
            .u8(self.pid)
            .u16_le(self.prn)
            .u8(self.pmn);
    }
}

/// CM_GET_KEY.CNF. QCA pads it to 425 bytes (zeros); the padding is not kept.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct GetKeyCnf {
    /// 19: Result (`00` granted, `01` refused).
    pub result: u8,
    /// 20: KeyType.
    pub key_type: u8,
    /// 21–24: MyNonce.
    pub my_nonce: [u8; 4],
    /// 25–28: YourNonce.
    pub your_nonce: [u8; 4],
    /// 29–35: the modem's current NID (reported even when refused).
    pub nid: Nid,
    /// 36: EKS.
    pub eks: u8,
    /// 37: PID.
    pub pid: u8,
    /// 38–39: PRN (LE).
    pub prn: u16,
    /// 40: PMN.
    pub pmn: u8,
    /// 41–56: the key; read only when granted (Result `00`) and the frame carries it.
    pub key: Option<Nmk>,
}

impl GetKeyCnf {
    /// Reads the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let mut cnf = Self {
            result: r.u8()?,
            key_type: r.u8()?,
            my_nonce: r.array()?,
            your_nonce: r.array()?,
            nid: r.nid()?,
            eks: r.u8()?,
            pid: r.u8()?,
            prn: r.u16_le()?,
            pmn: r.u8()?,
            key: None,
        };
        // Refused answers carry no key, only zero padding (QCA pads to 425 bytes).
        if cnf.result == GET_KEY_RESULT_GRANTED {
            cnf.key = r.nmk().ok();
        }
        Ok(cnf)
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let mut w = Writer::new(out);
        w.u8(self.result)
            .u8(self.key_type)
            .bytes(&self.my_nonce)
            .bytes(&self.your_nonce)
            .bytes(&self.nid.0)
            .u8(self.eks)
            .u8(self.pid)
            .u16_le(self.prn)
            .u8(self.pmn);
        if let Some(key) = &self.key {
            w.bytes(&key.0);
        }
    }
}
