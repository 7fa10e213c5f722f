//! Decode and encode times of real messages (from `vectors/pyplc_vectors.tsv` and the Josev
//! interop capture): `cargo bench -p ccs-msg --bench codec`.

#![allow(missing_docs, clippy::unwrap_used)]

#[path = "../tests/support/mod.rs"]
mod support;

#[path = "shared/messages.rs"]
mod messages;

use std::hint::black_box;

use ccs_msg::{app_handshake, din, iso2, iso20};
use criterion::{Criterion, criterion_group, criterion_main};
use messages::{josev_message, pyplc_vector};

fn bench_din(c: &mut Criterion, name: &str, bytes: &[u8]) {
    let msg = din::decode(bytes).unwrap();
    assert_eq!(din::encode(&msg).unwrap(), bytes);
    c.bench_function(&format!("decode {name} ({} B)", bytes.len()), |b| {
        b.iter(|| din::decode(black_box(bytes)).unwrap())
    });
    c.bench_function(&format!("encode {name} ({} B)", bytes.len()), |b| {
        b.iter(|| din::encode(black_box(&msg)).unwrap())
    });
}

fn codec(c: &mut Criterion) {
    bench_din(
        c,
        "DIN CurrentDemandReq",
        &pyplc_vector("din", "CurrentDemandReq"),
    );
    bench_din(
        c,
        "DIN CurrentDemandRes",
        &pyplc_vector("din", "CurrentDemandRes"),
    );
    bench_din(
        c,
        "DIN SessionSetupRes",
        &pyplc_vector("din", "SessionSetupRes"),
    );

    let sap = pyplc_vector("apphand", "supportedAppProtocolReq");
    let doc = app_handshake::decode(&sap).unwrap();
    assert_eq!(doc.encode().unwrap(), sap);
    c.bench_function(
        &format!("decode supportedAppProtocolReq ({} B)", sap.len()),
        |b| b.iter(|| app_handshake::decode(black_box(&sap)).unwrap()),
    );
    c.bench_function(
        &format!("encode supportedAppProtocolReq ({} B)", sap.len()),
        |b| b.iter(|| black_box(&doc).encode().unwrap()),
    );

    let iso2_cd = josev_message(0x8001, |p| {
        p.starts_with(&[0x80, 0x98])
            && matches!(
                iso2::decode(p).map(|m| m.body.body_element),
                Ok(Some(iso2::BodyElement::CurrentDemandReq(_)))
            )
    });
    let msg = iso2::decode(&iso2_cd).unwrap();
    assert_eq!(iso2::encode(&msg).unwrap(), iso2_cd);
    c.bench_function(
        &format!("decode ISO-2 CurrentDemandReq ({} B)", iso2_cd.len()),
        |b| b.iter(|| iso2::decode(black_box(&iso2_cd)).unwrap()),
    );
    c.bench_function(
        &format!("encode ISO-2 CurrentDemandReq ({} B)", iso2_cd.len()),
        |b| b.iter(|| iso2::encode(black_box(&msg)).unwrap()),
    );

    let loop_req = josev_message(0x8004, |p| {
        matches!(
            iso20::dc::decode(p),
            Ok(iso20::dc::Document::DC_ChargeLoopReq(_))
        )
    });
    let doc = iso20::dc::decode(&loop_req).unwrap();
    assert_eq!(doc.encode().unwrap(), loop_req);
    c.bench_function(
        &format!("decode ISO-20 DC_ChargeLoopReq ({} B)", loop_req.len()),
        |b| b.iter(|| iso20::dc::decode(black_box(&loop_req)).unwrap()),
    );
    c.bench_function(
        &format!("encode ISO-20 DC_ChargeLoopReq ({} B)", loop_req.len()),
        |b| b.iter(|| black_box(&doc).encode().unwrap()),
    );
}

criterion_group!(benches, codec);
criterion_main!(benches);
