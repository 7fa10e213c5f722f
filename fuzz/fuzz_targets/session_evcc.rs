//! The car's session machine fed arbitrary events in arbitrary order by
//! `ccs_sim::faults::hostile::HostileDriver::run_any`: the first byte picks the protocol (DIN
//! SPEC 70121, ISO 15118-2, ISO 15118-20 DC); then responses of every kind (DIN: built with
//! fuzzed fields; ISO: a good session's, as recorded or with another SessionID, a FAILED code,
//! an EVSE notification), raw bytes of every payload type, time jumps, measurements, stop
//! requests, disconnects, adapter faults. Nothing may panic, outputs per event stay bounded,
//! and a finished session sends nothing new.
#![no_main]

use ccs_proto::session::Role;
use ccs_sim::faults::hostile::HostileDriver;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| HostileDriver::run_any(Role::Evcc, data));
