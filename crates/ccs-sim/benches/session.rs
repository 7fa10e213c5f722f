//! One whole simulated charging session per iteration, under the virtual clock: modems, SLAC,
//! SDP, TCP, the DIN sessions of car and charger and the physics, from plug-in to SessionStop
//! with 60 s of CurrentDemand (about 600 request/response pairs at the car's 100 ms pace).
//! `cargo bench -p ccs-sim --bench session`; the inverse of the time is sessions per second on
//! one core.

#![allow(missing_docs, clippy::unwrap_used)]

use ccs_proto::session::{
    EvccConfig, EvccSession, SeccConfig, SeccSession, SessionEvent, V2gSession,
};
use ccs_sim::world::{LinkMode, SessionFactory, SessionSlot, Side, World, WorldConfig};
use criterion::{Criterion, criterion_group, criterion_main};

fn din_sessions() -> Box<SessionFactory<'static>> {
    Box::new(|slot: &SessionSlot| -> Box<dyn V2gSession> {
        match slot.side {
            Side::Ev => Box::new(EvccSession::new(
                EvccConfig::default(),
                slot.mac.0,
                slot.now,
            )),
            Side::Evse(_) => {
                let mut id = [0u8; 8];
                id.copy_from_slice(&slot.entropy[..8]);
                Box::new(SeccSession::new(SeccConfig::default(), id, slot.now))
            }
        }
    })
}

/// Runs one session to its end, draining the events as `ccsplc sim` does; returns how many
/// CurrentDemandReq the car sent.
fn run_session(link: LinkMode) -> usize {
    let mut config = WorldConfig::default();
    config.link = link;
    let mut world = World::new(config, din_sessions()).unwrap();
    let mut current_demands = 0;
    while world.step() {
        while let Some(e) = world.poll_event() {
            if let ccs_sim::world::WorldEventKind::Session(SessionEvent::Sent { name, .. }) = e.kind
                && name == "CurrentDemandReq"
            {
                current_demands += 1;
            }
        }
    }
    assert!(world.report().completed(), "{:?}", world.report().failure);
    current_demands
}

fn session(c: &mut Criterion) {
    let mut group = c.benchmark_group("full DIN session, 60 s charging, virtual clock");
    group.sample_size(10);
    for (name, link) in [
        ("powerline (modems + SLAC)", LinkMode::Powerline),
        ("paired link (--no-slac)", LinkMode::Paired),
    ] {
        let loops = run_session(link);
        group.bench_function(format!("{name}, {loops} CurrentDemand"), |b| {
            b.iter(|| run_session(link))
        });
    }
    group.finish();
}

criterion_group!(benches, session);
criterion_main!(benches);
