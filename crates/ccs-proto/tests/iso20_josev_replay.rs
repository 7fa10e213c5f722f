//! Our charger answers the requests Josev's EVCC (iso15118 0.31.2) sent to Josev's SECC in a
//! recorded ISO 15118-20 DC session (`captures/interop_josev0.31.2_secc-evcc_din-iso2-iso20dc_veth.pcap`):
//! every request, played at its recorded time, gets the response of the same kind with an OK
//! code, and the session completes.

use ccs_proto::hardware::Measurement;
use ccs_proto::session::iso20::values::{Message, MessageKind};
use ccs_proto::session::{Outcome, Protocol, SeccConfig, SeccSession, Transmit, V2gSession};
use ccs_proto::time::{Duration, Instant};
use ccs_proto::v2gtp::PayloadType;
use ccs_sim::physics::{DcPlant, PlantConfig};

const CAPTURE: &str = "captures/interop_josev0.31.2_secc-evcc_din-iso2-iso20dc_veth.pcap";

/// One V2GTP message of the capture: time (µs), TCP source port, payload type, payload.
struct Recorded {
    at_us: i64,
    src_port: u16,
    payload_type: u16,
    payload: Vec<u8>,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The V2GTP messages of a classic little-endian Ethernet pcap, reassembled per TCP direction.
fn v2gtp_messages(pcap: &[u8]) -> Vec<Recorded> {
    assert_eq!(
        &pcap[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "little-endian µs pcap"
    );
    let le32 = |at: usize| u32::from_le_bytes([pcap[at], pcap[at + 1], pcap[at + 2], pcap[at + 3]]);
    let mut buffers: std::collections::HashMap<(u16, u16), Vec<u8>> = Default::default();
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= pcap.len() {
        let (sec, usec, len) = (le32(off), le32(off + 4), le32(off + 8) as usize);
        let frame = &pcap[off + 16..off + 16 + len];
        off += 16 + len;
        if be16(frame, 12) != 0x86dd || frame[14 + 6] != 6 {
            continue;
        }
        let tcp = &frame[14 + 40..];
        let (sport, dport) = (be16(tcp, 0), be16(tcp, 2));
        let data = &tcp[usize::from(tcp[12] >> 4) * 4..];
        if data.is_empty() {
            continue;
        }
        let buf = buffers.entry((sport, dport)).or_default();
        buf.extend_from_slice(data);
        while buf.len() >= 8 {
            let n = be32(buf, 4) as usize;
            if buf.len() < 8 + n {
                break;
            }
            out.push(Recorded {
                at_us: i64::from(sec) * 1_000_000 + i64::from(usec),
                src_port: sport,
                payload_type: be16(buf, 2),
                payload: buf[8..8 + n].to_vec(),
            });
            buf.drain(..8 + n);
        }
    }
    out
}

#[test]
fn our_charger_answers_josevs_iso20_dc_car() {
    let pcap = std::fs::read(ccs_testdata::shared_path(CAPTURE)).expect("the Josev capture");
    let all = v2gtp_messages(&pcap);
    // The ISO-20 session is the last one: from the last handshake request on.
    let start = all
        .iter()
        .rposition(|m| m.payload_type == 0x8001 && m.payload.starts_with(&[0x80, 0x00]))
        .expect("a handshake");
    let session = &all[start..];
    let car_port = session[0].src_port;
    let requests: Vec<&Recorded> = session.iter().filter(|m| m.src_port == car_port).collect();
    let recorded_responses: Vec<&Recorded> =
        session.iter().filter(|m| m.src_port != car_port).collect();
    assert_eq!(requests.len(), 33, "the ISO-20 DC session of the capture");

    // Josev's SECC handed out this SessionID; ours must, for the car's requests to match.
    let first_res = Message::decode(
        PayloadType::from(recorded_responses[1].payload_type),
        &recorded_responses[1].payload,
    )
    .expect("SessionSetupRes");
    let session_id: [u8; 8] = first_res
        .header()
        .expect("header")
        .session_id
        .as_slice()
        .try_into()
        .expect("8 bytes");

    let mut config = SeccConfig::default();
    config.protocols = vec![Protocol::Iso15118_20Dc, Protocol::Iso15118_20DcBpt];
    // The capture was made with Josev's `useTls: false`.
    config.iso20.allow_without_tls = true;
    // Josev's car repeats CableCheckReq only once (≈180 ms later): answer by the timer.
    config.isolation_monitor = false;
    config.cable_check_duration = Duration::from_millis(100);
    let t0 = requests[0].at_us;
    let mut plant = DcPlant::new(PlantConfig::default(), Instant::ZERO);
    let mut secc = SeccSession::new(config, session_id, Instant::ZERO);
    secc.handle_connected(Instant::ZERO);
    for (i, req) in requests.iter().enumerate() {
        let now = Instant::from_micros(req.at_us - t0);
        plant.advance(now);
        for m in plant.charger_measurements() {
            secc.handle_measurement(now, m);
        }
        secc.handle_measurement(now, Measurement::Authorized(true));
        secc.handle_message(now, PayloadType::from(req.payload_type), &req.payload);
        while let Some(c) = secc.poll_command() {
            plant.command(now, &c);
        }
        let mut answers = Vec::new();
        while let Some(t) = secc.poll_transmit() {
            answers.push(t);
        }
        let Some(Transmit::Message {
            payload_type,
            payload,
        }) = answers.first()
        else {
            panic!("no answer to request {i}");
        };
        let recorded = recorded_responses[i];
        assert_eq!(
            u16::from(*payload_type),
            recorded.payload_type,
            "request {i}"
        );
        if i == 0 {
            continue; // the handshake
        }
        let ours = Message::decode(*payload_type, payload).expect("our response decodes");
        let theirs = Message::decode(*payload_type, &recorded.payload).expect("recorded");
        let kind = ours.response_kind();
        assert_eq!(kind, theirs.response_kind(), "request {i}");
        let code = ours.response_code().expect("a response code");
        assert!(
            ccs_proto::session::iso20::values::is_ok(code),
            "request {i}: {:?} answered {code:?}",
            kind.map(MessageKind::response_name)
        );
    }
    assert_eq!(secc.outcome(), Some(&Outcome::Completed));
}
