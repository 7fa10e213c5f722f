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

/// The session fuzz targets reach the ISO 15118-2 and ISO 15118-20 machines: the first byte
/// picks the protocol, and the messages come from a good session of that protocol, which has
/// every request and response of the DC sequence.
#[test]
fn the_hostile_script_speaks_iso_15118_2_and_20_with_every_dc_message() {
    use ccs_proto::session::Protocol;
    use ccs_sim::faults::transcript;
    use ccs_sim::faults::wire::PeerMessage;
    let names = |protocol, sent: &[transcript::Sent]| -> Vec<&'static str> {
        sent.iter()
            .filter_map(|(t, p)| PeerMessage::decode(protocol, *t, p).and_then(|m| m.name()))
            .collect()
    };
    for (protocol, requests) in [
        (
            Protocol::Iso15118_2,
            [
                "SessionSetupReq",
                "PaymentServiceSelectionReq",
                "CableCheckReq",
                "PreChargeReq",
                "PowerDeliveryReq",
                "CurrentDemandReq",
                "WeldingDetectionReq",
                "SessionStopReq",
            ],
        ),
        (
            Protocol::Iso15118_20Dc,
            [
                "SessionSetupReq",
                "ServiceSelectionReq",
                "DC_CableCheckReq",
                "DC_PreChargeReq",
                "PowerDeliveryReq",
                "DC_ChargeLoopReq",
                "DC_WeldingDetectionReq",
                "SessionStopReq",
            ],
        ),
    ] {
        let good = transcript::good_session(protocol);
        let car = names(protocol, &good.car);
        let charger = names(protocol, &good.charger);
        for request in requests {
            assert!(car.contains(&request), "{protocol}: {request} in {car:?}");
            let response = request.replace("Req", "Res");
            assert!(
                charger.contains(&response.as_str()),
                "{protocol}: {response} in {charger:?}"
            );
        }
    }
    // Scripts of every protocol run through both machines without a panic.
    let mut noise = 0x9e37_79b9_7f4a_7c15_u64;
    for n in 0..300u32 {
        let script: Vec<u8> = (0..200)
            .map(|_| {
                noise ^= noise << 13;
                noise ^= noise >> 7;
                noise ^= noise << 17;
                (noise >> 24) as u8
            })
            .collect();
        let mut script = script;
        script[0] = (n % 3) as u8;
        HostileDriver::run_any(Role::Evcc, &script);
        HostileDriver::run_any(Role::Secc, &script);
    }
}
