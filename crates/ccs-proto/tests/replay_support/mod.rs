//! Capture reading for the V2G replays: every V2GTP message of every TCP stream in a pcap or
//! pcapng file (read with `ccs_proto::capture`), with its time and whether the TCP client
//! (the car) sent it. Retransmissions and out-of-order segments are skipped: the captures
//! need no more.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;

use ccs_proto::capture::CaptureReader;
use ccs_testdata::shared_path;

/// One V2GTP message in a capture.
#[derive(Clone, Debug)]
pub(crate) struct Recorded {
    /// Microseconds since the first packet of the capture.
    pub(crate) at_us: i64,
    /// Sent by the TCP client (the car).
    pub(crate) from_car: bool,
    /// The EXI payload.
    pub(crate) payload: Vec<u8>,
    /// Which TCP connection (0, 1, ... in order of the first SYN).
    pub(crate) connection: usize,
}

/// The V2GTP messages of `captures/<name>`, in capture order per direction and merged by
/// time.
pub(crate) fn v2g_messages(name: &str) -> Vec<Recorded> {
    let bytes = std::fs::read(shared_path(&format!("captures/{name}")))
        .unwrap_or_else(|e| panic!("captures/{name}: {e}"));
    // (client addr+port, server addr+port) -> connection number; per direction: the next
    // sequence number and the bytes not yet cut into messages.
    let mut connections: HashMap<(Vec<u8>, Vec<u8>), usize> = HashMap::new();
    let mut streams: HashMap<(usize, bool), (Option<u32>, Vec<u8>)> = HashMap::new();
    let mut out = Vec::new();
    let mut first: Option<i64> = None;
    for packet in CaptureReader::new(&bytes).unwrap() {
        let Ok(packet) = packet else { break };
        let frame = packet.data;
        let ts = packet.timestamp.as_micros() as i64;
        let t0 = *first.get_or_insert(ts);
        if frame.len() < 14 + 40 + 20 || frame[12..14] != [0x86, 0xdd] || frame[20] != 6 {
            continue;
        }
        let ip = &frame[14..];
        let payload_len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
        let Some(tcp) = ip.get(40..40 + payload_len) else {
            continue;
        };
        let flags = tcp[13];
        let (syn, ack) = (flags & 0x02 != 0, flags & 0x10 != 0);
        let src = [&ip[8..24], &tcp[0..2]].concat();
        let dst = [&ip[24..40], &tcp[2..4]].concat();
        if syn && !ack {
            let n = connections.len();
            connections.entry((src.clone(), dst.clone())).or_insert(n);
        }
        let (connection, from_car) = if let Some(n) = connections.get(&(src.clone(), dst.clone())) {
            (*n, true)
        } else if let Some(n) = connections.get(&(dst, src)) {
            (*n, false)
        } else {
            continue;
        };
        let seq = u32::from_be_bytes(tcp[4..8].try_into().unwrap());
        let data = &tcp[usize::from(tcp[12] >> 4) * 4..];
        let stream = streams
            .entry((connection, from_car))
            .or_insert((None, Vec::new()));
        if syn {
            stream.0 = Some(seq.wrapping_add(1));
            continue;
        }
        let next = stream.0.get_or_insert(seq);
        if data.is_empty() || seq != *next {
            continue;
        }
        *next = seq.wrapping_add(data.len() as u32);
        stream.1.extend_from_slice(data);
        // Cut whole V2GTP messages off the front.
        while stream.1.len() >= 8 && stream.1[..2] == [0x01, 0xfe] {
            let len = u32::from_be_bytes(stream.1[4..8].try_into().unwrap()) as usize;
            if stream.1.len() < 8 + len {
                break;
            }
            let payload = stream.1[8..8 + len].to_vec();
            stream.1.drain(..8 + len);
            out.push(Recorded {
                at_us: ts - t0,
                from_car,
                payload,
                connection,
            });
        }
    }
    out.sort_by_key(|m| m.at_us);
    out
}
