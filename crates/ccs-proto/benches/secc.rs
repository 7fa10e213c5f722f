//! The charger's own processing time for one CurrentDemandReq, in process, without sockets:
//! request bytes in ([`V2gSession::handle_message`]: EXI decode, checks, hardware set-point,
//! EXI encode) to response bytes out ([`V2gSession::poll_transmit`] plus V2GTP framing).
//! `cargo bench -p ccs-proto --bench secc`. Over TCP: `ccs-linux/examples/cd_latency.rs`.

#![allow(missing_docs, clippy::unwrap_used)]

#[path = "../tests/din_support/mod.rs"]
mod din_support;

use std::hint::black_box;

use ccs_proto::session::{SessionEvent, Transmit, V2gSession};
use ccs_proto::time::Duration;
use ccs_proto::v2gtp::{self, PayloadType};
use criterion::{Criterion, criterion_group, criterion_main};
use din_support::{Pair, Side};

/// Our car and our charger run under the virtual clock until the charger has answered its
/// first CurrentDemandReq; returns the pair and that request's bytes.
fn pair_in_current_demand() -> (Pair, Vec<u8>) {
    let mut pair = Pair::din();
    pair.connect();
    pair.run_until(Duration::from_secs(120), |p| {
        p.charger_events.iter().any(
            |(_, e)| matches!(e, SessionEvent::Sent { name, .. } if *name == "CurrentDemandRes"),
        )
    });
    let request = pair
        .transcript
        .iter()
        .rev()
        .find(|(side, _)| *side == Side::Car)
        .map(|(_, bytes)| bytes.clone())
        .unwrap();
    (pair, request)
}

fn secc_current_demand(c: &mut Criterion) {
    let (pair, request) = pair_in_current_demand();
    let now = pair.now;
    let mut charger = pair.charger.clone();
    c.bench_function("SECC CurrentDemandReq -> Res, in process", |b| {
        b.iter(|| {
            charger.handle_message(now, PayloadType::Exi, black_box(&request));
            let Some(Transmit::Message { payload, .. }) = charger.poll_transmit() else {
                panic!("the charger did not answer");
            };
            let frame = v2gtp::encode(PayloadType::Exi, &payload).unwrap();
            while charger.poll_command().is_some() {}
            while charger.poll_event().is_some() {}
            assert!(!charger.is_finished());
            frame
        })
    });
}

criterion_group!(benches, secc_current_demand);
criterion_main!(benches);
