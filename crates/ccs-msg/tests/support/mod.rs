//! A minimal pcap reader for tests: Ethernet / IPv6 / TCP payloads reassembled per direction,
//! cut into V2GTP messages (ISO 15118-2 §7.8: version 0x01, inverse 0xFE, payload type u16 BE,
//! length u32 BE, then the payload).

// Test support: a malformed capture is a test failure, so unwrapping is the point.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;

/// One V2GTP message found in a capture.
#[derive(Clone, Debug)]
pub(crate) struct V2gtpMessage {
    /// V2GTP payload type: 0x8001 SAP/DIN/ISO-2, 0x8002 ISO-20 common, 0x8003 AC, 0x8004 DC,
    /// 0x8005 ACDP, 0x8006 WPT.
    pub(crate) payload_type: u16,
    /// The EXI stream.
    pub(crate) payload: Vec<u8>,
}

/// Every V2GTP message of every TCP stream in a classic little- or big-endian pcap file with
/// Ethernet link type.
pub(crate) fn v2gtp_messages(pcap: &[u8]) -> Vec<V2gtpMessage> {
    let le = match pcap.get(..4) {
        Some([0xd4, 0xc3, 0xb2, 0xa1]) => true,
        Some([0xa1, 0xb2, 0xc3, 0xd4]) => false,
        _ => panic!("not a classic pcap file"),
    };
    let u32_at = |b: &[u8], at: usize| {
        let raw: [u8; 4] = b[at..at + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(raw)
        } else {
            u32::from_be_bytes(raw)
        }
    };
    assert_eq!(u32_at(pcap, 20), 1, "link type must be Ethernet");
    // Flow (src, dst addresses and ports) -> (next expected sequence number, bytes).
    let mut flows: HashMap<Vec<u8>, (Option<u32>, Vec<u8>)> = HashMap::new();
    let mut order = Vec::new();
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let caplen = u32_at(pcap, at + 8) as usize;
        let frame = &pcap[at + 16..at + 16 + caplen];
        at += 16 + caplen;
        if frame.len() < 14 + 40 || frame[12..14] != [0x86, 0xdd] || frame[14 + 6] != 6 {
            continue; // not IPv6 + TCP
        }
        let ip = &frame[14..];
        let payload_len = u16::from_be_bytes([ip[4], ip[5]]) as usize;
        let tcp = &ip[40..40 + payload_len];
        let data_offset = usize::from(tcp[12] >> 4) * 4;
        let seq = u32::from_be_bytes(tcp[4..8].try_into().unwrap());
        let syn = tcp[13] & 0x02 != 0;
        let data = &tcp[data_offset..];
        let mut key = ip[8..40].to_vec();
        key.extend_from_slice(&tcp[..4]);
        if !flows.contains_key(&key) {
            order.push(key.clone());
        }
        let flow = flows.entry(key).or_insert((None, Vec::new()));
        if syn {
            flow.0 = Some(seq.wrapping_add(1));
            continue;
        }
        let next = flow.0.get_or_insert(seq);
        if data.is_empty() || seq != *next {
            continue; // retransmission or out of order: the captures have none we need
        }
        *next = seq.wrapping_add(data.len() as u32);
        flow.1.extend_from_slice(data);
    }
    let mut out = Vec::new();
    for key in order {
        let stream = &flows[&key].1;
        let mut pos = 0;
        while pos + 8 <= stream.len() {
            assert_eq!(stream[pos..pos + 2], [0x01, 0xfe], "V2GTP header at {pos}");
            let payload_type = u16::from_be_bytes([stream[pos + 2], stream[pos + 3]]);
            let len = u32::from_be_bytes(stream[pos + 4..pos + 8].try_into().unwrap()) as usize;
            out.push(V2gtpMessage {
                payload_type,
                payload: stream[pos + 8..pos + 8 + len].to_vec(),
            });
            pos += 8 + len;
        }
    }
    out
}
