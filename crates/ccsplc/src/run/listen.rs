//! `ccsplc listen`: a passive listener on the modem interface (pyPLC's listen mode).
//!
//! Every frame of the interface (an AF_PACKET socket for all EtherTypes) is decoded as it
//! arrives with the engine of `ccsplc decode` ([`LiveDecoder`]): SLAC, SDP, and whatever V2G
//! traffic reaches this host, each V2G message as the one-line [`ccs_proto::trace`] summary.
//! Charger MACs (from CM_SLAC_PARM.CNF and CM_SLAC_MATCH.CNF) are logged once each, and to
//! `log.evse_mac_file` with `log.log_evse_mac`.
//!
//! `listen.smart_listener = "join"` (pyPLC `smart_listener_configuration = 1`, the default):
//! the NMK and NID of a CM_SLAC_MATCH.CNF seen on the line are set into the local modem
//! (CM_SET_KEY.REQ), so that it joins the charging network of that car and charger.
//!
//! Limits of TP-Link modems (AR7420/QCA7420): a modem forwards to its host only broadcast,
//! multicast and unicast addressed to that host. After joining, SDP (multicast) is seen, but
//! the unicast TCP/V2G traffic between car and charger is not forwarded: the V2G session
//! stays invisible (pyPLC #38, #39). Spoofing the car's or charger's MAC shows some frames but
//! disturbs the session and is not implemented (`join_and_spoof` behaves like `join`). On a
//! port mirror or a veth/TAP test link everything is seen.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use ccs_linux::raw::{ETHERTYPE_ALL, RawLink};
use ccs_proto::capture::{LinkType, Packet};
use ccs_proto::homeplug::key_msg::SetKeyReq;
use ccs_proto::homeplug::{MacAddress, Mme, MmeFrame};

use super::display::Trace;
use super::record::{Recording, wall_timestamp};
use super::signals::Signals;
use super::{load, recording_target, runtime};
use crate::cli::ListenArgs;
use crate::config::{Config, SmartListener};
use crate::decode_cmd::LiveDecoder;

/// Runs `ccsplc listen`.
pub(crate) fn run(args: &ListenArgs) -> anyhow::Result<ExitCode> {
    let mut loaded = load(args.config.as_deref(), None)?;
    if let Some(interface) = &args.interface {
        loaded.config.general.interface.clone_from(interface);
    }
    let config = loaded.config;
    let target = recording_target(&config, args.pcap.as_ref());
    runtime()?.block_on(async move { listen(&config, target).await })?;
    Ok(ExitCode::SUCCESS)
}

/// What a HomePlug frame tells the listener.
#[derive(Debug, Eq, PartialEq)]
enum Finding {
    /// A charger's host MAC.
    Charger(MacAddress),
    /// The key of a car's and charger's AVLN.
    Key(SetKeyReq),
}

fn findings(frame: &[u8]) -> Vec<Finding> {
    let Ok(f) = MmeFrame::parse(frame) else {
        return Vec::new();
    };
    match &f.body {
        Mme::SlacParmCnf(_) => vec![Finding::Charger(f.source)],
        Mme::SlacMatchCnf(m) => vec![
            Finding::Charger(m.fields.evse_mac),
            Finding::Key(SetKeyReq::new(m.nid, m.nmk)),
        ],
        _ => Vec::new(),
    }
}

fn log_mac(config: &Config, mac: MacAddress) {
    if !config.log.log_evse_mac {
        return;
    }
    let path = &config.log.evse_mac_file;
    let stamp = wall_timestamp().as_secs_f64();
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| writeln!(f, "{stamp:.3} SECC MAC {mac}"));
    if let Err(e) = written {
        tracing::warn!("cannot append to {}: {e}", path.display());
    }
}

async fn listen(config: &Config, target: super::record::Target) -> anyhow::Result<()> {
    let mut signals = Signals::install()?;
    let name = &config.general.interface;
    let index = ccs_linux::sys::ifaddr::interface_index(name)
        .with_context(|| format!("interface {name}"))?;
    let mac = ccs_linux::sys::ifaddr::interface_addresses(name)
        .ok()
        .and_then(|a| a.mac)
        .unwrap_or_default();
    let raw = RawLink::open_index(name, index, ETHERTYPE_ALL)
        .with_context(|| format!("listening on {name} (needs CAP_NET_RAW)"))?;
    let header = format!(
        "ccsplc listen: on {name}, {:?} (Ctrl-C ends)",
        config.listen.smart_listener
    );
    let recording = Recording::new(target, name, "listener", &header);
    let mut trace = Trace::new("LISTEN", recording.clone());
    trace.line(&header);
    let mut decoder = LiveDecoder::new();
    let mut chargers = BTreeSet::new();
    let mut keys_set = BTreeSet::new();
    let mut buf = vec![0u8; 65_536];
    loop {
        let received = tokio::select! {
            r = raw.recv_any(&mut buf) => r,
            _ = signals.next() => break,
        };
        let (n, _outgoing) = received.context("receiving")?;
        let frame = &buf[..n];
        let timestamp = wall_timestamp();
        recording.frame(timestamp, frame);
        let packet = Packet {
            timestamp,
            interface: 0,
            link_type: LinkType::Ethernet,
            data: frame,
            original_len: u32::try_from(n).unwrap_or(u32::MAX),
            comments: Vec::new(),
        };
        for event in decoder.packet(&packet) {
            println!("{}", event.to_text());
        }
        for finding in findings(frame) {
            match finding {
                Finding::Charger(charger) => {
                    if chargers.insert(charger) {
                        trace.line(&format!("charger MAC {charger} seen"));
                        log_mac(config, charger);
                    }
                }
                Finding::Key(key) => {
                    if config.listen.smart_listener == SmartListener::Passive
                        || !keys_set.insert(key.nid)
                    {
                        continue;
                    }
                    let set_key = MmeFrame::new(
                        MacAddress::QCA_LOCALCAST,
                        MacAddress::from(mac),
                        Mme::SetKeyReq(key.clone()),
                    );
                    let bytes = set_key.emit();
                    // A socket does not receive its own frames: record it here.
                    recording.frame(wall_timestamp(), &bytes);
                    match raw.send(&bytes).await {
                        Ok(()) => trace.line(&format!(
                            "joining the charging network: SET_KEY NID {} into the local modem",
                            key.nid
                        )),
                        Err(e) => trace.line(&format!("SET_KEY to the local modem failed: {e}")),
                    }
                }
            }
        }
    }
    let s = decoder.stats();
    trace.line(&format!(
        "summary: {} frames, {} SLAC/HomePlug, {} SDP, {} V2G messages, {} charger(s)",
        s.frames,
        s.slac,
        s.sdp,
        s.v2g,
        chargers.len()
    ));
    for (path, records) in recording.finish() {
        println!("Capture: {} ({records} records)", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccs_proto::homeplug::{Nid, Nmk};

    #[test]
    fn a_parm_cnf_names_the_charger_and_other_frames_nothing() {
        let charger = MacAddress([2, 0, 0, 0, 0, 5]);
        let key = SetKeyReq::new(Nid::from([1, 2, 3, 4, 5, 6, 7]), Nmk::from([9; 16]));
        let frame = MmeFrame::new(MacAddress([2, 0, 0, 0, 0, 1]), charger, Mme::SetKeyReq(key));
        // A SET_KEY is none of the listener's business.
        assert_eq!(findings(&frame.emit()), vec![]);
        assert_eq!(findings(&[0u8; 10]), vec![]);
    }
}
