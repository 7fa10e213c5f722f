//! `ccsplc decode` on captures built here: TCP segments split, coalesced, repeated and
//! reordered; VLAN tags; Linux cooked captures; recorder comments; broken files.
// Test helpers outside #[test] functions: a failure is a panic with the error.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use ccs_proto::capture::{
    CaptureReader, Interface, LinkType, LogStyle, PcapWriter, PcapngWriter, RecorderConfig,
    SectionInfo, SessionRecorder, Timestamp, TimestampResolution,
};
use ccs_proto::homeplug::MacAddress;
use ccs_proto::v2gtp::{self, PayloadType};
use ccs_proto::wire::frame::{Endpoint, TcpFlow, TcpSegment, build_tcp_frame};
use ccs_proto::wire::{LinkFrame, TcpFlags};
use serde_json::Value;

/// A DIN session's first messages, from 2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng.
const HANDSHAKE_REQ: &str = "8000dbab9371d3234b71d1b981899189d191818991d26b9b3a232b30020000040040";
const HANDSHAKE_RES: &str = "80400040";
const SESSION_SETUP_REQ: &str = "809a02000000000000000011d01811959401930c00";
const SESSION_SETUP_RES: &str = "809a02004080c1014181c211e0201d6968c0c0c0c0c080";
const CURRENT_DEMAND_REQ: &str = "809a02004080c1014181c210d100000ba0406014010285010004061a01e04070c84c0400c081e00604000040a1503c00";

fn framed(hex: &str) -> Vec<u8> {
    v2gtp::encode(PayloadType::Exi, &ccs_testdata::hex(hex)).unwrap()
}

fn run(path: &Path, json: bool) -> (Vec<String>, i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ccsplc"));
    cmd.arg("decode").arg(path).env_remove("RUST_LOG");
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().unwrap();
    (
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect(),
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn events(path: &Path) -> (Vec<Value>, i32) {
    let (lines, code, _) = run(path, true);
    (
        lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
        code,
    )
}

fn v2g_messages(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["kind"] == "v2g")
        .map(|e| e["message"].as_str().unwrap().to_owned())
        .collect()
}

fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    let mut file = Vec::new();
    let mut w = PcapWriter::new(
        &mut file,
        LinkType::Ethernet,
        65535,
        TimestampResolution::Micro,
    )
    .unwrap();
    for (n, f) in frames.iter().enumerate() {
        w.write_packet(Timestamp::from_micros(1_000_000 + 10_000 * n as u64), f)
            .unwrap();
    }
    std::fs::write(path, file).unwrap();
}

fn endpoints() -> (Endpoint, Endpoint) {
    (
        Endpoint::link_local(MacAddress([0x04, 0x65, 0x65, 0x00, 0x64, 0xc3]), 50106),
        Endpoint::link_local(MacAddress([0xc4, 0x93, 0x00, 0x00, 0x00, 0x01]), 15118),
    )
}

#[test]
fn tcp_reassembly_handles_split_coalesced_repeated_and_reordered_segments() {
    let (ev, evse) = endpoints();
    let (c_isn, s_isn) = (1000u32, 7_000_000u32);
    let mut flow = TcpFlow::new(ev, evse, c_isn, s_isn);
    let mut frames = flow.open();
    let seg = |src: &Endpoint, dst: &Endpoint, seq: u32, ack: u32, payload: &[u8]| {
        build_tcp_frame(
            src,
            dst,
            &TcpSegment {
                seq_number: seq,
                ack_number: ack,
                flags: TcpFlags::PSH | TcpFlags::ACK,
                window: 1000,
                payload,
            },
        )
    };
    // EV: the handshake request split into three segments, the middle one repeated.
    let req = framed(HANDSHAKE_REQ);
    let mut c_seq = c_isn + 1;
    let mut s_seq = s_isn + 1;
    let parts = [&req[..5], &req[5..20], &req[20..]];
    frames.push(seg(&ev, &evse, c_seq, s_seq, parts[0]));
    frames.push(seg(&ev, &evse, c_seq + 5, s_seq, parts[1]));
    frames.push(seg(&ev, &evse, c_seq + 5, s_seq, parts[1]));
    frames.push(seg(&ev, &evse, c_seq + 20, s_seq, parts[2]));
    c_seq += req.len() as u32;
    // EVSE: handshake response and SessionSetupRes... first the response alone.
    let res = framed(HANDSHAKE_RES);
    frames.push(seg(&evse, &ev, s_seq, c_seq, &res));
    s_seq += res.len() as u32;
    // EV: SessionSetupReq and a CurrentDemandReq coalesced into one segment, sent twice
    // (a retransmission).
    let mut two = framed(SESSION_SETUP_REQ);
    two.extend(framed(CURRENT_DEMAND_REQ));
    frames.push(seg(&ev, &evse, c_seq, s_seq, &two));
    frames.push(seg(&ev, &evse, c_seq, s_seq, &two));
    c_seq += two.len() as u32;
    // EVSE: SessionSetupRes in two segments that arrive in the wrong order.
    let setup_res = framed(SESSION_SETUP_RES);
    frames.push(seg(&evse, &ev, s_seq + 10, c_seq, &setup_res[10..]));
    frames.push(seg(&evse, &ev, s_seq, c_seq, &setup_res[..10]));
    frames.extend(flow.close());

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reassembly.pcap");
    write_pcap(&path, &frames);
    let (events, code) = events(&path);
    assert_eq!(code, 0, "{events:#?}");
    assert_eq!(
        v2g_messages(&events),
        [
            "supportedAppProtocolReq",
            "supportedAppProtocolRes",
            "SessionSetupReq",
            "CurrentDemandReq",
            "SessionSetupRes",
        ]
    );
    let directions: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "v2g")
        .map(|e| e["direction"].as_str().unwrap())
        .collect();
    assert_eq!(
        directions,
        ["EV->EVSE", "EVSE->EV", "EV->EVSE", "EV->EVSE", "EVSE->EV"]
    );
    let tcp: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "tcp")
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(tcp, ["SYN", "SYN-ACK", "FIN", "FIN"]);
    let demand = events
        .iter()
        .find(|e| e["message"] == "CurrentDemandReq")
        .unwrap();
    assert_eq!(demand["schema"], "din");
    assert_eq!(demand["checkpoint"], 700);
    assert_eq!(demand["fields"]["DC_EVStatus"]["EVRESSSOC"], 93);
    // Text mode shows the same conversation with the trace line.
    let (lines, _, _) = run(&path, false);
    assert!(
        lines.iter().any(|l| l.contains("EV->EVSE")
            && l.contains("[700] CurrentDemandReq U=388.0V I=1.0A SoC=93%")),
        "{lines:#?}"
    );
}

/// Inserts 802.1Q tags (one, or an 802.1ad + 802.1Q stack) into every frame of a capture.
fn tagged(frame: &[u8], stacked: bool) -> Vec<u8> {
    let mut out = frame[..12].to_vec();
    if stacked {
        out.extend_from_slice(&[0x88, 0xa8, 0x00, 0x64]);
    }
    out.extend_from_slice(&[0x81, 0x00, 0x20, 0x05]);
    out.extend_from_slice(&frame[12..]);
    out
}

/// Linux cooked v1: packet type, ARPHRD_ETHER, address length 6, source MAC, protocol.
fn cooked(frame: &[u8]) -> Vec<u8> {
    let link = LinkFrame::parse(frame).unwrap();
    let packet_type: u16 = if link.destination.is_group() { 1 } else { 0 };
    let mut out = packet_type.to_be_bytes().to_vec();
    out.extend_from_slice(&[0, 1, 0, 6]);
    out.extend_from_slice(&frame[6..12]);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&frame[12..]);
    out
}

fn rewrite(
    capture: &str,
    dir: &Path,
    link_type: LinkType,
    f: impl Fn(&[u8]) -> Vec<u8>,
) -> std::path::PathBuf {
    let bytes = std::fs::read(ccs_testdata::shared_path(&format!("captures/{capture}"))).unwrap();
    let mut file = Vec::new();
    let mut w = PcapWriter::new(&mut file, link_type, 65535, TimestampResolution::Nano).unwrap();
    for p in CaptureReader::new(&bytes).unwrap() {
        let p = p.unwrap();
        w.write_packet(p.timestamp, &f(p.data)).unwrap();
    }
    let path = dir.join(format!("{capture}.{link_type}.pcap"));
    std::fs::write(&path, file).unwrap();
    path
}

#[test]
fn vlan_tagged_and_cooked_captures_decode_like_the_original() {
    let capture = "2024-06-11_Griffigroen_polestar2_stop_in_precharge.pcapng";
    let (original, _) = events(&ccs_testdata::shared_path(&format!("captures/{capture}")));
    let summary = |ev: &[Value]| -> Vec<(String, String, String)> {
        ev.iter()
            .filter(|e| e["kind"] != "log")
            .map(|e| {
                (
                    e["kind"].as_str().unwrap().to_owned(),
                    e["direction"].as_str().unwrap_or_default().to_owned(),
                    e["message"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    };
    let want = summary(&original);
    assert!(want.iter().filter(|(k, _, _)| k == "v2g").count() > 40);
    let dir = tempfile::tempdir().unwrap();
    for stacked in [false, true] {
        let path = rewrite(capture, dir.path(), LinkType::Ethernet, |f| {
            tagged(f, stacked)
        });
        let (got, code) = events(&path);
        assert_eq!(code, 0);
        assert_eq!(summary(&got), want, "stacked tags: {stacked}");
    }
    let path = rewrite(capture, dir.path(), LinkType::LinuxSll, cooked);
    let (got, code) = events(&path);
    assert_eq!(code, 0);
    // Cooked captures lose the destination MAC, so only the messages are compared.
    let messages = |s: Vec<(String, String, String)>| -> Vec<(String, String)> {
        s.into_iter().map(|(k, _, m)| (k, m)).collect()
    };
    assert_eq!(messages(summary(&got)), messages(want));
}

/// Linux cooked v2 (`tcpdump -i any` with libpcap ≥ 1.10): protocol, reserved, interface
/// index, ARPHRD_ETHER, packet type, address length 6, source MAC padded to 8.
fn cooked_v2(frame: &[u8]) -> Vec<u8> {
    let link = LinkFrame::parse(frame).unwrap();
    let packet_type: u8 = if link.destination.is_group() { 1 } else { 0 };
    let mut out = frame[12..14].to_vec();
    out.extend_from_slice(&[0, 0, 0, 0, 0, 3, 0, 1, packet_type, 6]);
    out.extend_from_slice(&frame[6..12]);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&frame[14..]);
    out
}

/// The same capture in every container and link type the decoder must read (issue 10 item 2):
/// pcap with µs and ns timestamps, pcapng, Ethernet, Linux cooked v1 and v2 (a Raspberry Pi's
/// `tcpdump -i any`), 802.1Q-tagged inside pcapng. The V2G messages and their times agree.
#[test]
fn every_container_and_link_type_gives_the_same_messages() {
    let capture = "2024-06-11_Griffigroen_polestar2_stop_in_precharge.pcapng";
    let bytes = std::fs::read(ccs_testdata::shared_path(&format!("captures/{capture}"))).unwrap();
    let packets: Vec<_> = CaptureReader::new(&bytes).unwrap().flatten().collect();
    let messages = |path: &Path| -> Vec<(String, String)> {
        let (events, code) = events(path);
        assert_eq!(code, 0, "{}", path.display());
        events
            .iter()
            .filter(|e| e["kind"] == "v2g")
            .map(|e| {
                (
                    format!("{:.3}", e["time"].as_f64().unwrap()),
                    e["message"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let dir = tempfile::tempdir().unwrap();
    let want = messages(&ccs_testdata::shared_path(&format!("captures/{capture}")));
    assert!(want.len() > 40);

    let mut variants = Vec::new();
    for (name, link_type, resolution, convert) in [
        (
            "micro.pcap",
            LinkType::Ethernet,
            TimestampResolution::Micro,
            (|f: &[u8]| f.to_vec()) as fn(&[u8]) -> Vec<u8>,
        ),
        (
            "nano.pcap",
            LinkType::Ethernet,
            TimestampResolution::Nano,
            |f: &[u8]| f.to_vec(),
        ),
        (
            "sll.pcap",
            LinkType::LinuxSll,
            TimestampResolution::Micro,
            cooked,
        ),
        (
            "sll2.pcap",
            LinkType::LinuxSll2,
            TimestampResolution::Nano,
            cooked_v2,
        ),
    ] {
        let mut file = Vec::new();
        let mut w = PcapWriter::new(&mut file, link_type, 65535, resolution).unwrap();
        for p in &packets {
            w.write_packet(p.timestamp, &convert(p.data)).unwrap();
        }
        let path = dir.path().join(name);
        std::fs::write(&path, file).unwrap();
        variants.push(path);
    }
    for (name, link_type, convert) in [
        (
            "sll2.pcapng",
            LinkType::LinuxSll2,
            cooked_v2 as fn(&[u8]) -> Vec<u8>,
        ),
        ("vlan.pcapng", LinkType::Ethernet, |f: &[u8]| {
            tagged(f, false)
        }),
    ] {
        let mut file = Vec::new();
        let mut w = PcapngWriter::new(&mut file, &SectionInfo::default()).unwrap();
        let iface = w
            .add_interface(&Interface {
                link_type,
                ..Interface::ethernet("any")
            })
            .unwrap();
        for p in &packets {
            w.write_packet(iface, p.timestamp, &convert(p.data), None)
                .unwrap();
        }
        let path = dir.path().join(name);
        std::fs::write(&path, file).unwrap();
        variants.push(path);
    }
    for path in &variants {
        assert_eq!(messages(path), want, "{}", path.display());
    }
}

#[test]
fn recorder_comments_and_syslog_lines_are_log_events() {
    let (ev, evse) = endpoints();
    let mut flow = TcpFlow::new(ev, evse, 1, 2);
    let dir = tempfile::tempdir().unwrap();
    for style in [LogStyle::Comment, LogStyle::Syslog] {
        let config = RecorderConfig {
            log_style: style,
            ..RecorderConfig::default()
        };
        let mut rec = SessionRecorder::new(Vec::new(), &config);
        for (n, f) in flow.open().iter().enumerate() {
            rec.record_frame(Timestamp::from_micros(n as u64), f);
        }
        rec.record_log(
            Timestamp::from_micros(50),
            "[50ms] checkpoint 400: handshake",
        );
        rec.record_frame(
            Timestamp::from_micros(60),
            &flow.client_sends(&framed(HANDSHAKE_REQ)),
        );
        let path = dir.path().join("rec.pcapng");
        std::fs::write(&path, rec.finish().unwrap()).unwrap();
        let (events, code) = events(&path);
        assert_eq!(code, 0, "{events:#?}");
        let logs: Vec<&Value> = events.iter().filter(|e| e["kind"] == "log").collect();
        // Syslog style: the frame is a syslog line and carries the text as comment too.
        let want = if style == LogStyle::Comment { 1 } else { 2 };
        assert_eq!(logs.len(), want, "{style:?}: {events:#?}");
        assert!(
            logs.iter()
                .all(|l| l["text"] == "[50ms] checkpoint 400: handshake")
        );
        assert_eq!(v2g_messages(&events), ["supportedAppProtocolReq"]);
        flow = TcpFlow::new(ev, evse, 1, 2);
    }
}

#[test]
fn a_truncated_capture_decodes_up_to_the_cut_and_says_so() {
    let bytes = std::fs::read(ccs_testdata::shared_path(
        "captures/2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng",
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.pcapng");
    std::fs::write(&path, &bytes[..bytes.len() * 2 / 3 + 7]).unwrap();
    let (events, code) = events(&path);
    assert_eq!(code, 1);
    let last = events.last().unwrap();
    assert_eq!(last["kind"], "error");
    assert!(
        last["reason"].as_str().unwrap().contains("truncated"),
        "{last}"
    );
    assert!(
        v2g_messages(&events).len() > 40,
        "everything before the cut is decoded"
    );
}

#[test]
fn garbage_and_empty_files_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in [
        ("garbage.pcap", b"this is not a capture at all".to_vec()),
        ("empty.pcap", Vec::new()),
        ("header-only.pcap", 0xa1b2_c3d4u32.to_le_bytes().to_vec()),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let (out, code, err) = run(&path, true);
        assert_eq!(code, 1, "{name}");
        assert!(out.is_empty(), "{name}");
        assert!(err.contains("not a readable capture"), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
    let (_, code, err) = run(&dir.path().join("missing.pcap"), false);
    assert_eq!(code, 1);
    assert!(err.contains("cannot read"), "{err}");
}

/// Frames that are garbage inside a valid file: each is an error event, decoding goes on.
#[test]
fn undecodable_frames_are_reported_and_decoding_goes_on() {
    let (ev, evse) = endpoints();
    let mut flow = TcpFlow::new(ev, evse, 10, 20);
    let mut frames = flow.open();
    frames.push(flow.client_sends(&framed("80ffffffff")));
    frames.push(flow.client_sends(&[0x02, 0xfd, 0x80, 0x01, 0, 0, 0, 1, 0]));
    let mut broken_ip = frames[0].clone();
    broken_ip.truncate(30);
    frames.push(broken_ip);
    frames.push(vec![0xff; 13]);
    // A new connection after the broken one still decodes.
    let mut flow = TcpFlow::new(ev, evse, 100, 200);
    frames.extend(flow.open());
    frames.push(flow.client_sends(&framed(HANDSHAKE_REQ)));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken-frames.pcap");
    // pcapng this time, with an interface of its own.
    let mut file = Vec::new();
    let mut w = PcapngWriter::new(&mut file, &SectionInfo::default()).unwrap();
    let eth = w.add_interface(&Interface::ethernet("eth1")).unwrap();
    for (n, f) in frames.iter().enumerate() {
        w.write_packet(eth, Timestamp::from_micros(n as u64 * 1000), f, None)
            .unwrap();
    }
    std::fs::write(&path, file).unwrap();
    let (events, code) = events(&path);
    assert_eq!(code, 1);
    let reasons: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "error")
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:#?}");
    assert!(
        reasons[0].starts_with("V2G message not decoded"),
        "{}",
        reasons[0]
    );
    assert!(reasons[1].starts_with("V2GTP"), "{}", reasons[1]);
    assert!(reasons[2].starts_with("IPv6"), "{}", reasons[2]);
    assert!(reasons[3].starts_with("Ethernet"), "{}", reasons[3]);
    assert_eq!(v2g_messages(&events), ["supportedAppProtocolReq"]);
}

#[test]
fn a_tls_connection_is_reported_once_and_not_misread() {
    let (ev, evse) = endpoints();
    let mut flow = TcpFlow::new(ev, evse, 10, 20);
    let mut frames = flow.open();
    // ClientHello and ServerHello records (content type 22, TLS 1.2), then application data.
    frames.push(flow.client_sends(&[0x16, 0x03, 0x03, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00]));
    frames.push(flow.server_sends(&[0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00]));
    frames.push(flow.client_sends(&[0x17, 0x03, 0x03, 0x00, 0x02, 0xab, 0xcd]));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tls.pcap");
    write_pcap(&path, &frames);
    let (events, code) = events(&path);
    assert_eq!(code, 1);
    let errors: Vec<&Value> = events.iter().filter(|e| e["kind"] == "error").collect();
    assert_eq!(errors.len(), 2, "once per direction: {errors:#?}");
    assert!(
        errors[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("TLS-encrypted")
    );
    assert!(v2g_messages(&events).is_empty());
}
