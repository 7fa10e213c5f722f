//! One-line, tcpdump-like `Display` for MMEs: the capture decoder and listen mode print these.

use core::fmt;

use super::{Mme, MmeFrame};

fn mean(groups: &[u8]) -> String {
    if groups.is_empty() {
        return "-".to_owned();
    }
    let sum: u32 = groups.iter().map(|&g| u32::from(g)).sum();
    format!("{:.1}dB", f64::from(sum) / groups.len() as f64)
}

impl fmt::Display for MmeFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} > {} {} {}",
            self.source,
            self.destination,
            self.mmtype(),
            self.body
        )
    }
}

impl fmt::Display for Mme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SlacParmReq(m) => write!(f, "run_id={}", m.run_id),
            Self::SlacParmCnf(m) => write!(
                f,
                "run_id={} num_sounds={} time_out={} resp_type={} forwarding_sta={}",
                m.run_id, m.num_sounds, m.time_out, m.resp_type, m.forwarding_sta
            ),
            Self::StartAttenCharInd(m) => write!(
                f,
                "run_id={} num_sounds={} time_out={} forwarding_sta={}",
                m.run_id, m.num_sounds, m.time_out, m.forwarding_sta
            ),
            Self::MnbcSoundInd(m) => write!(f, "run_id={} cnt={}", m.run_id, m.count),
            Self::AttenProfileInd(m) => write!(
                f,
                "pev={} groups={} mean={}",
                m.pev_mac,
                m.groups.len(),
                mean(&m.groups)
            ),
            Self::AttenCharInd(m) => write!(
                f,
                "run_id={} source={} sounds={} groups={} mean={}",
                m.run_id,
                m.source_address,
                m.num_sounds,
                m.groups.len(),
                mean(&m.groups)
            ),
            Self::AttenCharRsp(m) => write!(
                f,
                "run_id={} source={} result={}",
                m.run_id, m.source_address, m.result
            ),
            Self::ValidateReq(m) => write!(
                f,
                "signal_type={} timer={} result={}",
                m.signal_type, m.timer, m.result
            ),
            Self::ValidateCnf(m) => write!(
                f,
                "signal_type={} toggles={} result={}",
                m.signal_type, m.toggle_num, m.result
            ),
            Self::SlacMatchReq(m) => write!(
                f,
                "run_id={} pev={} evse={}",
                m.fields.run_id, m.fields.pev_mac, m.fields.evse_mac
            ),
            Self::SlacMatchCnf(m) => write!(
                f,
                "run_id={} pev={} evse={} nid={} nmk={}",
                m.fields.run_id, m.fields.pev_mac, m.fields.evse_mac, m.nid, m.nmk
            ),
            Self::SetKeyReq(m) => write!(f, "nid={} nmk={}", m.nid, m.new_key),
            Self::SetKeyCnf(m) => write!(f, "result={:02x}", m.result),
            Self::GetKeyReq(m) => write!(f, "nid={}", m.nid),
            Self::GetKeyCnf(m) => match &m.key {
                Some(key) => write!(f, "result={:02x} nid={} key={key}", m.result, m.nid),
                None => write!(f, "result={:02x} nid={}", m.result, m.nid),
            },
            Self::NwInfoCnf(m) => {
                write!(f, "networks={}", m.networks.len())?;
                for n in &m.networks {
                    write!(
                        f,
                        " [nid={} tei={} role={} cco={}]",
                        n.nid, n.tei, n.station_role, n.cco_mac
                    )?;
                }
                Ok(())
            }
            Self::SwVerCnf(m) => write!(
                f,
                "status={} class=0x{:02x} version={:?}",
                m.status, m.device_class, m.version
            ),
            Self::RsDevCnf(m) => write!(f, "status={}", m.status),
            Self::PlLinkStatusCnf(m) => write!(
                f,
                "status={} link={}",
                m.status,
                if m.is_up() { "up" } else { "down" }
            ),
            Self::VsAttenCharInd(m) => write!(
                f,
                "pev={} groups={} mean={}",
                m.pev_mac,
                m.groups.len(),
                mean(&m.groups)
            ),
            Self::NwInfoReq | Self::SwVerReq | Self::RsDevReq | Self::PlLinkStatusReq => Ok(()),
            Self::Other { body, .. } => write!(f, "({} bytes)", body.len()),
        }
    }
}
