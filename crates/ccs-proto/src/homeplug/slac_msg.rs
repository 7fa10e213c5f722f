//! The SLAC messages of ISO 15118-3 Annex A (Tables A.1–A.11) plus CM_ATTEN_PROFILE.IND.
//!
//! Offsets in the comments are from byte 0 of the Ethernet frame, as in homeplug-slac.md §2;
//! the bodies here start at offset 19 (MMV 1.1 header).

use super::wire::{Reader, Writer};
use super::{MacAddress, Nid, Nmk, RunId, WireError};

/// APPLICATION_TYPE `00`: PEV–EVSE matching, the only value ISO 15118-3 defines.
pub const APPLICATION_TYPE_PEV_EVSE: u8 = 0x00;
/// SECURITY_TYPE `00`: no security, the only value seen in the field.
pub const SECURITY_TYPE_NONE: u8 = 0x00;
/// The number of attenuation groups a Green PHY modem reports.
pub const ATTEN_GROUPS: usize = 58;
/// MVFLength of CM_SLAC_MATCH.REQ (62, little-endian on the wire: `3E 00`).
pub const MATCH_REQ_MVF_LENGTH: u16 = 0x3e;
/// MVFLength of CM_SLAC_MATCH.CNF (86: `56 00`).
pub const MATCH_CNF_MVF_LENGTH: u16 = 0x56;

fn groups(reader: &mut Reader<'_>, count: u8) -> Result<Vec<u8>, WireError> {
    Ok(reader.take(usize::from(count))?.to_vec())
}

fn group_count(groups: &[u8]) -> u8 {
    u8::try_from(groups.len()).unwrap_or(u8::MAX)
}

/// CM_SLAC_PARM.REQ (Table A.1), EV → broadcast.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct SlacParmReq {
    /// 19: APPLICATION_TYPE.
    pub application_type: u8,
    /// 20: SECURITY_TYPE.
    pub security_type: u8,
    /// 21–28: RunID.
    pub run_id: RunId,
}

impl SlacParmReq {
    /// Reads the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        Ok(Self {
            application_type: r.u8()?,
            security_type: r.u8()?,
            run_id: r.run_id()?,
        })
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        Writer::new(out)
            .u8(self.application_type)
            .u8(self.security_type)
            .bytes(&self.run_id.0);
    }
}

/// CM_SLAC_PARM.CNF (Table A.2), EVSE → EV.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct SlacParmCnf {
    /// 19–24: M-SOUND_TARGET, `FF…FF`.
    pub msound_target: MacAddress,
    /// 25: NUM_SOUNDS, `0A`.
    pub num_sounds: u8,
    /// 26: TIME_OUT in 100 ms, `06`.
    pub time_out: u8,
    /// 27: RESP_TYPE, `01`.
    pub resp_type: u8,
    /// 28–33: FORWARDING_STA = the EV host MAC.
    pub forwarding_sta: MacAddress,
    /// 34: APPLICATION_TYPE.
    pub application_type: u8,
    /// 35: SECURITY_TYPE.
    pub security_type: u8,
    /// 36–43: the RunID of the REQ.
    pub run_id: RunId,
}

impl SlacParmCnf {
    /// Reads the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        Ok(Self {
            msound_target: r.mac()?,
            num_sounds: r.u8()?,
            time_out: r.u8()?,
            resp_type: r.u8()?,
            forwarding_sta: r.mac()?,
            application_type: r.u8()?,
            security_type: r.u8()?,
            run_id: r.run_id()?,
        })
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        Writer::new(out)
            .bytes(&self.msound_target.0)
            .u8(self.num_sounds)
            .u8(self.time_out)
            .u8(self.resp_type)
            .bytes(&self.forwarding_sta.0)
            .u8(self.application_type)
            .u8(self.security_type)
            .bytes(&self.run_id.0);
    }
}

/// CM_START_ATTEN_CHAR.IND (Table A.4), EV → broadcast, three times.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct StartAttenCharInd {
    /// 19: APPLICATION_TYPE.
    pub application_type: u8,
    /// 20: SECURITY_TYPE.
    pub security_type: u8,
    /// 21: NUM_SOUNDS.
    pub num_sounds: u8,
    /// 22: TIME_OUT in 100 ms.
    pub time_out: u8,
    /// 23: RESP_TYPE.
    pub resp_type: u8,
    /// 24–29: FORWARDING_STA = EV host MAC.
    pub forwarding_sta: MacAddress,
    /// 30–37: RunID.
    pub run_id: RunId,
}

impl StartAttenCharInd {
    /// Reads the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        Ok(Self {
            application_type: r.u8()?,
            security_type: r.u8()?,
            num_sounds: r.u8()?,
            time_out: r.u8()?,
            resp_type: r.u8()?,
            forwarding_sta: r.mac()?,
            run_id: r.run_id()?,
        })
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        Writer::new(out)
            .u8(self.application_type)
            .u8(self.security_type)
            .u8(self.num_sounds)
            .u8(self.time_out)
            .u8(self.resp_type)
            .bytes(&self.forwarding_sta.0)
            .bytes(&self.run_id.0);
    }
}

/// CM_MNBC_SOUND.IND (Table A.5), EV → broadcast, ten times.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct MnbcSoundInd {
    /// 19: APPLICATION_TYPE.
    pub application_type: u8,
    /// 20: SECURITY_TYPE.
    pub security_type: u8,
    /// 21–37: SenderID (zeros in practice).
    pub sender_id: [u8; 17],
    /// 38: CNT, remaining sounds (9 … 0).
    pub count: u8,
    /// 39–46: RunID.
    pub run_id: RunId,
    /// 47–54: reserved (zeros).
    pub reserved: [u8; 8],
    /// 55–70: RND.
    pub random: [u8; 16],
}

impl MnbcSoundInd {
    /// Reads the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        Ok(Self {
            application_type: r.u8()?,
            security_type: r.u8()?,
            sender_id: r.array()?,
            count: r.u8()?,
            run_id: r.run_id()?,
            reserved: r.array()?,
            random: r.array()?,
        })
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        Writer::new(out)
            .u8(self.application_type)
            .u8(self.security_type)
            .bytes(&self.sender_id)
            .u8(self.count)
            .bytes(&self.run_id.0)
            .bytes(&self.reserved)
            .bytes(&self.random);
    }
}

/// CM_ATTEN_PROFILE.IND, EVSE modem → EVSE host, one per received sound. NumGroups is 58 on
/// QCA7000/7005 modems and **0** on a TP-Link AR7420 (homeplug-slac.md §2.5).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AttenProfileInd {
    /// 19–24: the PEV host MAC (source of the sound).
    pub pev_mac: MacAddress,
    /// 26: reserved.
    pub reserved: u8,
    /// 27…: AAG per group in dB; the length is NumGroups (25).
    pub groups: Vec<u8>,
}

impl AttenProfileInd {
    /// Reads the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let pev_mac = r.mac()?;
        let count = r.u8()?;
        let reserved = r.u8()?;
        Ok(Self {
            pev_mac,
            reserved,
            groups: groups(&mut r, count)?,
        })
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        Writer::new(out)
            .bytes(&self.pev_mac.0)
            .u8(group_count(&self.groups))
            .u8(self.reserved)
            .bytes(&self.groups);
    }
}

/// CM_ATTEN_CHAR.IND (Table A.6), EVSE → EV.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AttenCharInd {
    /// 19: APPLICATION_TYPE.
    pub application_type: u8,
    /// 20: SECURITY_TYPE.
    pub security_type: u8,
    /// 21–26: SOURCE_ADDRESS = the EV host MAC.
    pub source_address: MacAddress,
    /// 27–34: RunID.
    pub run_id: RunId,
    /// 35–51: SOURCE_ID (zeros).
    pub source_id: [u8; 17],
    /// 52–68: RESP_ID (zeros).
    pub resp_id: [u8; 17],
    /// 69: NUM_SOUNDS actually used.
    pub num_sounds: u8,
    /// 71…: averaged AAG per group; the length is NumGroups (70).
    pub groups: Vec<u8>,
}

impl AttenCharInd {
    /// Reads the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let application_type = r.u8()?;
        let security_type = r.u8()?;
        let source_address = r.mac()?;
        let run_id = r.run_id()?;
        let source_id = r.array()?;
        let resp_id = r.array()?;
        let num_sounds = r.u8()?;
        let count = r.u8()?;
        Ok(Self {
            application_type,
            security_type,
            source_address,
            run_id,
            source_id,
            resp_id,
            num_sounds,
            groups: groups(&mut r, count)?,
        })
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        Writer::new(out)
            .u8(self.application_type)
            .u8(self.security_type)
            .bytes(&self.source_address.0)
            .bytes(&self.run_id.0)
            .bytes(&self.source_id)
            .bytes(&self.resp_id)
            .u8(self.num_sounds)
            .u8(group_count(&self.groups))
            .bytes(&self.groups);
    }

    /// The mean attenuation over all groups in dB, or `None` without groups.
    pub fn mean_attenuation(&self) -> Option<f64> {
        if self.groups.is_empty() {
            return None;
        }
        let sum: u32 = self.groups.iter().map(|&g| u32::from(g)).sum();
        Some(f64::from(sum) / self.groups.len() as f64)
    }
}

/// CM_ATTEN_CHAR.RSP (Table A.7), EV → every EVSE that sent an IND.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AttenCharRsp {
    /// 19: APPLICATION_TYPE.
    pub application_type: u8,
    /// 20: SECURITY_TYPE.
    pub security_type: u8,
    /// 21–26: SOURCE_ADDRESS = EV host MAC.
    pub source_address: MacAddress,
    /// 27–34: RunID.
    pub run_id: RunId,
    /// 35–51: SOURCE_ID (zeros).
    pub source_id: [u8; 17],
    /// 52–68: RESP_ID (zeros).
    pub resp_id: [u8; 17],
    /// 69: Result, `00` = success.
    pub result: u8,
}

impl AttenCharRsp {
    /// Reads the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        Ok(Self {
            application_type: r.u8()?,
            security_type: r.u8()?,
            source_address: r.mac()?,
            run_id: r.run_id()?,
            source_id: r.array()?,
            resp_id: r.array()?,
            result: r.u8()?,
        })
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        Writer::new(out)
            .u8(self.application_type)
            .u8(self.security_type)
            .bytes(&self.source_address.0)
            .bytes(&self.run_id.0)
            .bytes(&self.source_id)
            .bytes(&self.resp_id)
            .u8(self.result);
    }
}

/// CM_VALIDATE.REQ (Table A.8), optional.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ValidateReq {
    /// 19: SignalType (`00`: the EV toggles S2).
    pub signal_type: u8,
    /// 20: Timer (toggle window, 100 ms steps).
    pub timer: u8,
    /// 21: Result (`01` ready).
    pub result: u8,
}

impl ValidateReq {
    /// Reads the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        Ok(Self {
            signal_type: r.u8()?,
            timer: r.u8()?,
            result: r.u8()?,
        })
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        Writer::new(out)
            .u8(self.signal_type)
            .u8(self.timer)
            .u8(self.result);
    }
}

/// CM_VALIDATE.CNF (Table A.9), optional.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ValidateCnf {
    /// 19: SignalType.
    pub signal_type: u8,
    /// 20: ToggleNum.
    pub toggle_num: u8,
    /// 21: Result: `00` not ready, `01` ready, `02` success, `03` failure, `04` not required.
    pub result: u8,
}

impl ValidateCnf {
    /// Reads the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        Ok(Self {
            signal_type: r.u8()?,
            toggle_num: r.u8()?,
            result: r.u8()?,
        })
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        Writer::new(out)
            .u8(self.signal_type)
            .u8(self.toggle_num)
            .u8(self.result);
    }
}

/// The fields CM_SLAC_MATCH.REQ and .CNF share (Tables A.10, A.11, offsets 19–84).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct MatchFields {
    /// 19: APPLICATION_TYPE.
    pub application_type: u8,
    /// 20: SECURITY_TYPE.
    pub security_type: u8,
    /// 21–22: MVFLength, little-endian (REQ 62, CNF 86).
    pub mvf_length: u16,
    /// 23–39: PEV_ID (zeros).
    pub pev_id: [u8; 17],
    /// 40–45: PEV_MAC.
    pub pev_mac: MacAddress,
    /// 46–62: EVSE_ID (zeros).
    pub evse_id: [u8; 17],
    /// 63–68: EVSE_MAC.
    pub evse_mac: MacAddress,
    /// 69–76: RunID.
    pub run_id: RunId,
    /// 77–84: reserved (zeros).
    pub reserved: [u8; 8],
}

impl MatchFields {
    fn parse(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Self {
            application_type: r.u8()?,
            security_type: r.u8()?,
            mvf_length: r.u16_le()?,
            pev_id: r.array()?,
            pev_mac: r.mac()?,
            evse_id: r.array()?,
            evse_mac: r.mac()?,
            run_id: r.run_id()?,
            reserved: r.array()?,
        })
    }

    fn emit(&self, out: &mut Vec<u8>) {
        Writer::new(out)
            .u8(self.application_type)
            .u8(self.security_type)
            .u16_le(self.mvf_length)
            .bytes(&self.pev_id)
            .bytes(&self.pev_mac.0)
            .bytes(&self.evse_id)
            .bytes(&self.evse_mac.0)
            .bytes(&self.run_id.0)
            .bytes(&self.reserved);
    }
}

/// CM_SLAC_MATCH.REQ (Table A.10), EV → the chosen EVSE.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct SlacMatchReq {
    /// All fields (MVFLength 62).
    pub fields: MatchFields,
}

impl SlacMatchReq {
    /// Reads the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        Ok(Self {
            fields: MatchFields::parse(&mut Reader::new(body))?,
        })
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        self.fields.emit(out);
    }
}

/// CM_SLAC_MATCH.CNF (Table A.11), EVSE → EV: carries the NID and NMK in clear.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct SlacMatchCnf {
    /// Offsets 19–84 (MVFLength 86).
    pub fields: MatchFields,
    /// 85–91: NID of the EVSE's AVLN.
    pub nid: Nid,
    /// 92: reserved.
    pub reserved: u8,
    /// 93–108: NMK.
    pub nmk: Nmk,
}

impl SlacMatchCnf {
    /// Reads the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        Ok(Self {
            fields: MatchFields::parse(&mut r)?,
            nid: r.nid()?,
            reserved: r.u8()?,
            nmk: r.nmk()?,
        })
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        self.fields.emit(out);
        Writer::new(out)
            .bytes(&self.nid.0)
            .u8(self.reserved)
            .bytes(&self.nmk.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_bodies_fail_without_panicking() {
        let body = [0u8; 40];
        for len in 0..body.len() {
            let b = &body[..len];
            let _ = SlacParmReq::parse(b);
            let _ = SlacParmCnf::parse(b);
            let _ = StartAttenCharInd::parse(b);
            let _ = MnbcSoundInd::parse(b);
            let _ = AttenProfileInd::parse(b);
            let _ = AttenCharInd::parse(b);
            let _ = AttenCharRsp::parse(b);
            let _ = SlacMatchReq::parse(b);
            let _ = SlacMatchCnf::parse(b);
        }
        assert!(SlacMatchCnf::parse(&body).is_err());
        assert!(SlacParmReq::parse(&body[..9]).is_err());
        assert!(SlacParmReq::parse(&body[..10]).is_ok());
    }

    #[test]
    fn atten_char_ind_group_count_must_fit() {
        let mut body = vec![0u8; 52];
        body[50] = 10; // NUM_SOUNDS
        body[51] = 58; // NumGroups, but no groups follow
        assert!(AttenCharInd::parse(&body).is_err());
        body.extend_from_slice(&[20; 58]);
        let ind = AttenCharInd::parse(&body).unwrap();
        assert_eq!(ind.mean_attenuation(), Some(20.0));
    }
}
