//! The V2GTP deframer over a TCP stream cut anywhere: whatever arrives, it yields whole
//! messages no larger than its maximum, or an error, and the same messages however the
//! stream was cut.
#![no_main]

use ccs_proto::v2gtp::{Deframer, DeframerConfig};
use libfuzzer_sys::fuzz_target;

fn messages(data: &[u8], cuts: &[usize]) -> (Vec<(u16, Vec<u8>)>, bool) {
    let mut d = Deframer::new(DeframerConfig::default());
    let mut out = Vec::new();
    let mut rest = data;
    let mut cut = cuts.iter().copied().cycle();
    // Bounded: every round either consumes bytes or stops.
    for _ in 0..data.len() + 2 {
        let n = cut.next().unwrap_or(1).clamp(1, rest.len().max(1)).min(rest.len());
        let taken = d.push(&rest[..n]);
        rest = &rest[taken..];
        loop {
            match d.poll_message() {
                Ok(Some(m)) => {
                    assert!(m.payload.len() as u32 <= DeframerConfig::default().max_payload_len);
                    out.push((u16::from(m.payload_type), m.payload));
                }
                Ok(None) => break,
                Err(_) => return (out, true),
            }
        }
        if rest.is_empty() {
            break;
        }
    }
    (out, false)
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let whole = messages(data, &[usize::MAX]);
    let cuts = [usize::from(split % 13) + 1, 1, 7, usize::from(split)];
    let pieces = messages(data, &cuts);
    assert_eq!(whole, pieces, "the cut points changed the messages");
});
