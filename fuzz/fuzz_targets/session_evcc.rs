//! The car's session machine fed arbitrary events in arbitrary order by
//! `ccs_sim::faults::hostile::HostileDriver`: valid DIN responses of every kind with fuzzed
//! fields and SessionIDs, raw bytes, time jumps, measurements, stop requests, disconnects,
//! adapter faults. Nothing may panic, outputs per event stay bounded, and a finished session
//! sends nothing new.
#![no_main]

use ccs_proto::session::Role;
use ccs_sim::faults::hostile::HostileDriver;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| HostileDriver::run(Role::Evcc, data));
