//! The charger's session machine fed arbitrary events in arbitrary order (see
//! `session_evcc.rs`): the first byte picks DIN, ISO 15118-2 or ISO 15118-20 DC; then requests
//! of every kind (DIN: built with fuzzed fields; ISO: a good session's, as recorded or edited),
//! raw bytes, time jumps, measurements, stop requests, disconnects, adapter faults.
#![no_main]

use ccs_proto::session::Role;
use ccs_sim::faults::hostile::HostileDriver;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| HostileDriver::run_any(Role::Secc, data));
