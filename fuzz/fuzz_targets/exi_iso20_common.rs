//! Fuzz target: `ccs_msg::iso20::common` decode, and decode -> encode -> decode agree.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ccs_fuzz::exi_round_trip!(ccs_msg::iso20::common, data);
});
