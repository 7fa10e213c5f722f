//! Inputs the fuzz targets (`fuzz/`) found crashing, kept as regression tests: each runs
//! through the same hostile driver as the target and must not panic or abort.

use ccs_proto::session::Role;
use ccs_sim::faults::hostile::HostileDriver;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or(0))
        .collect()
}

/// session_evcc, crash-86c02bec: a raw DIN message whose xmldsig DSAKeyValue carries a
/// base64Binary length of 2^61; `len * 8` overflowed past the remaining-bits check and the
/// decoder asked for a 2^61-byte buffer (an abort in release, an overflow panic in debug).
/// Fixed in `ccs_exi::Decoder::binary`/`string` (compare in octets).
#[test]
fn session_evcc_huge_binary_length_in_a_signature() {
    let script = unhex(
        "0060ca837f7c7c80460404040404040404050004040404040404040404040404040404040404040404\
         040404040404040404040404044545456b00000100007f330008333333323232357f3335333333337100\
         020404044545456b00000100007f330008333333323232357f333533333333710002327f",
    );
    HostileDriver::run(Role::Evcc, &script);
    HostileDriver::run(Role::Secc, &script);
}

/// The same overflow at the EXI runtime: a binary or string length of 2^61 in a stream of
/// ten bytes is an error (the stream ends), not an allocation.
#[test]
fn a_length_beyond_the_input_is_an_error_not_an_allocation() {
    // EXI unsigned integer 2^61: eight continuation groups of 0, then 0x20.
    let huge = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0x00];
    assert!(ccs_exi::Decoder::new(&huge).binary(usize::MAX).is_err());
    let mut huge_string = huge;
    huge_string[8] = 0x20; // 2^61 + 2 - 2 characters: code = len + 2
    assert!(
        ccs_exi::Decoder::new(&huge_string)
            .string(usize::MAX)
            .is_err()
    );
}
