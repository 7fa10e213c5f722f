//! The charger's session machine fed arbitrary events in arbitrary order (see
//! `session_evcc.rs`): valid DIN requests of every kind with fuzzed fields and SessionIDs, raw
//! bytes, time jumps, measurements, stop requests, disconnects, adapter faults.
#![no_main]

use ccs_proto::session::Role;
use ccs_sim::faults::hostile::HostileDriver;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| HostileDriver::run(Role::Secc, data));
