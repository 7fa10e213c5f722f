//! Parse and emit times of HomePlug MMEs captured from real modems and cars
//! (`vectors/pyplc_homeplug_frames.tsv`), and V2GTP framing: `cargo bench -p ccs-proto --bench
//! wire` (or `scripts/bench.sh`). Figures and their meaning: BENCHMARKS.md.

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use ccs_proto::homeplug::MmeFrame;
use ccs_proto::v2gtp::{self, Deframer, DeframerConfig, PayloadType};
use criterion::{Criterion, criterion_group, criterion_main};

/// The first captured frame of `frame_type` that is `length` bytes long.
fn captured_frame(frame_type: &str, length: &str) -> Vec<u8> {
    let rows = ccs_testdata::read_tsv("vectors/pyplc_homeplug_frames.tsv");
    let row = rows
        .iter()
        .find(|r| r.get("frame_type") == frame_type && r.get("length") == length)
        .unwrap_or_else(|| panic!("no {frame_type} of {length} bytes in the vectors"));
    ccs_testdata::hex(row.get("hex"))
}

fn bench_mme(c: &mut Criterion, name: &str, bytes: &[u8]) {
    let frame = MmeFrame::parse(bytes).unwrap();
    // What we emit must be what the modem or car sent (padding included), or the figure would
    // not be for the real frame.
    assert_eq!(frame.emit(), bytes, "{name} does not round-trip");
    c.bench_function(&format!("MME parse {name} ({} B)", bytes.len()), |b| {
        b.iter(|| MmeFrame::parse(black_box(bytes)).unwrap())
    });
    c.bench_function(&format!("MME emit {name} ({} B)", bytes.len()), |b| {
        let mut out = Vec::with_capacity(128);
        b.iter(|| {
            out.clear();
            black_box(&frame).emit_into(&mut out);
            black_box(out.len())
        })
    });
}

fn mme(c: &mut Criterion) {
    bench_mme(
        c,
        "CM_SLAC_PARM.REQ",
        &captured_frame("CM_SLAC_PARAM.REQ", "60"),
    );
    bench_mme(
        c,
        "CM_ATTEN_CHAR.IND",
        &captured_frame("CM_ATTEN_CHAR.IND", "129"),
    );
    // 85 bytes: the 58-group attenuation profile the charger's modem reports per sound.
    bench_mme(
        c,
        "CM_ATTEN_PROFILE.IND 58 groups",
        &captured_frame("CM_ATTEN_PROFILE.IND", "85"),
    );
}

/// The DIN CurrentDemandReq of a Hyundai Ioniq (35 bytes of EXI), the message of the loop.
fn current_demand_req() -> Vec<u8> {
    let rows = ccs_testdata::read_tsv("vectors/pyplc_vectors.tsv");
    let row = rows
        .iter()
        .find(|r| r.get("schema") == "din" && r.get("message") == "CurrentDemandReq")
        .unwrap();
    ccs_testdata::hex(row.get("hex"))
}

fn v2gtp(c: &mut Criterion) {
    let payload = current_demand_req();
    let frame = v2gtp::encode(PayloadType::Exi, &payload).unwrap();
    c.bench_function(
        &format!("V2GTP encode ({} B payload)", payload.len()),
        |b| b.iter(|| v2gtp::encode(PayloadType::Exi, black_box(&payload)).unwrap()),
    );
    // One message arriving whole in one read, as TCP on a quiet link delivers it.
    c.bench_function("V2GTP deframe, whole segment", |b| {
        let mut deframer = Deframer::new(DeframerConfig::default());
        b.iter(|| {
            deframer.push(black_box(&frame));
            deframer.poll_message().unwrap().unwrap()
        })
    });
    // The worst ordinary case: the header split from the payload and the payload split
    // again (three segments, a poll after each).
    c.bench_function("V2GTP deframe, 3 split segments", |b| {
        let mut deframer = Deframer::new(DeframerConfig::default());
        let (head, rest) = frame.split_at(5);
        let (middle, tail) = rest.split_at(10);
        b.iter(|| {
            for part in [head, middle] {
                deframer.push(black_box(part));
                assert!(deframer.poll_message().unwrap().is_none());
            }
            deframer.push(black_box(tail));
            deframer.poll_message().unwrap().unwrap()
        })
    });
}

criterion_group!(benches, mme, v2gtp);
criterion_main!(benches);
