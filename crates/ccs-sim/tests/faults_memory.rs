//! Bounded resources: whatever a hostile peer sends, our sessions keep a bounded amount of
//! memory. 10,000 hostile messages per protocol (valid DIN, ISO 15118-2 and ISO 15118-20
//! messages of every kind in random order with random fields and SessionIDs, raw garbage, huge payloads, time jumps, stops, disconnects;
//! new session objects as a driver makes them for the next car) leave the outstanding heap no
//! larger than after the first few hundred, measured with a counting global allocator.
//!
//! The V2GTP deframer in front of a session is bounded by its maximum payload length (a
//! header announcing 2 GB closes the connection without allocating it): checked here too.

use std::alloc::System;

use ccs_proto::session::{Protocol, Role};
use ccs_proto::v2gtp::{Deframer, DeframerConfig};
use ccs_sim::faults::hostile::HostileDriver;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The allocator's counters are global: a test that measures holds this, so that the other
/// test's allocations (1 MiB of deframer input, thousands of messages) never land in its
/// measurement when the harness runs both at once.
static MEASURING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn measuring() -> std::sync::MutexGuard<'static, ()> {
    MEASURING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A deterministic byte stream (xorshift) for the scripts.
struct Noise(u64);

impl Noise {
    fn byte(&mut self) -> u8 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 32) as u8
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }
}

/// Bytes allocated and not yet freed since `region` started (may be negative: frees of
/// older allocations).
fn outstanding(region: &Region<'_, System>) -> i64 {
    let s = region.change();
    s.bytes_allocated as i64 - s.bytes_deallocated as i64
}

fn hostile_messages(role: Role, protocol: Protocol, messages: usize) -> (Vec<i64>, usize) {
    let mut noise = Noise(0x2545_f491_4f6c_dd1d ^ (role == Role::Secc) as u64);
    let mut driver = HostileDriver::with_protocol(role, protocol);
    let region = Region::new(GLOBAL);
    let mut samples = Vec::new();
    let mut restarts = 0;
    for n in 0..messages {
        match noise.byte() % 8 {
            // Mostly valid messages of any kind, in any order.
            0..=4 => {
                let (kind, field) = (noise.byte(), noise.byte());
                let sid = if noise.byte().is_multiple_of(4) {
                    vec![0xde, 0xad]
                } else {
                    vec![1, 2, 3, 4, 5, 6, 7, 8]
                };
                driver.send_message(kind, field, &sid);
            }
            // Garbage of any length up to 64 KiB.
            5 => {
                let len = usize::from(noise.byte()) * 256;
                let garbage = noise.bytes(len);
                driver.send_raw(0x8001, &garbage);
            }
            // Time jumps, stops, disconnects and the rest of the script language.
            _ => {
                let script = noise.bytes(4);
                let mut s: &[u8] = &script;
                driver.step(&mut s);
            }
        }
        if driver.is_finished() {
            // The driver drops the finished session and makes a new one for the next car:
            // never more than one session's state.
            driver.restart();
            restarts += 1;
        }
        if n % 500 == 499 {
            samples.push(outstanding(&region));
        }
    }
    (samples, restarts)
}

#[test]
fn ten_thousand_hostile_messages_keep_the_heap_flat_for_car_and_charger() {
    let _alone = measuring();
    let protocols = [
        Protocol::Din70121,
        Protocol::Iso15118_2,
        Protocol::Iso15118_20Dc,
    ];
    for (role, protocol) in protocols
        .into_iter()
        .flat_map(|p| [(Role::Evcc, p), (Role::Secc, p)])
    {
        // The good session the ISO messages come from is recorded once, before measuring.
        let _ = ccs_sim::faults::transcript::good_session(protocol);
        let (samples, restarts) = hostile_messages(role, protocol, 10_000);
        assert_eq!(samples.len(), 20);
        // Many sessions were driven to their end and replaced (the peer cannot keep one
        // alive forever, nor make us keep old ones).
        assert!(restarts > 50, "{role:?} {protocol}: {restarts} restarts");
        // After the first 500 messages, the outstanding heap never exceeds a bound that does
        // not depend on the number of messages: the first sample plus 64 KiB of slack for
        // one session's buffers, and no upward trend.
        let bound = samples[0].max(0) + 64 * 1024;
        let worst = samples.iter().copied().max().unwrap_or(0);
        assert!(
            worst <= bound,
            "{role:?} {protocol}: {samples:?} (bound {bound})"
        );
        let early: i64 = samples[..10].iter().sum::<i64>() / 10;
        let late: i64 = samples[10..].iter().sum::<i64>() / 10;
        assert!(
            late <= early + 16 * 1024,
            "{role:?} {protocol}: outstanding heap grows: early {early}, late {late}: {samples:?}"
        );
    }
}

#[test]
fn the_deframer_never_allocates_what_a_header_announces() {
    let _alone = measuring();
    // V2GTP header announcing 0x7fff_fff0 bytes, then 1 MiB of data.
    let mut stream = vec![0x01, 0xfe, 0x80, 0x01, 0x7f, 0xff, 0xff, 0xf0];
    stream.extend(std::iter::repeat_n(0x55, 1 << 20));
    let region = Region::new(GLOBAL);
    let mut d = Deframer::new(DeframerConfig::default());
    let mut rest: &[u8] = &stream;
    let mut failed = false;
    for _ in 0..stream.len() {
        let taken = d.push(rest);
        rest = &rest[taken..];
        if d.poll_message().is_err() {
            failed = true;
            break;
        }
        if taken == 0 {
            break;
        }
    }
    assert!(failed, "the oversize header was not refused");
    let peak = region.change().bytes_allocated;
    assert!(
        peak < 256 * 1024,
        "the deframer allocated {peak} bytes for a refused message"
    );
}
