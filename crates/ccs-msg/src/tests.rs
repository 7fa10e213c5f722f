//! Property tests: random valid messages of every schema round-trip, and arbitrary bytes never
//! panic the decoders (the normal-test-suite twin of the cargo-fuzz targets in `fuzz/`).

use alloc::vec::Vec;

use proptest::prelude::*;

use crate::random::Rng;
use crate::{app_handshake, din, iso2, iso20, xmldsig};

/// For one schema's `Document` and `Fragment`: random valid value -> encode -> decode gives
/// the value back, and re-encoding gives the same bytes.
macro_rules! round_trip_tests {
    ($($test:ident: $module:path;)*) => {$(
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(400))]
            #[test]
            fn $test(seed: u64) {
                use $module as m;
                let mut r = Rng::new(seed);
                let doc = m::Document::random(&mut r);
                let bytes = doc.encode().map_err(|e| TestCaseError::fail(format!("{e}: {doc:?}")))?;
                let back = m::Document::decode(&bytes).map_err(|e| TestCaseError::fail(format!("{e}: {doc:?}")))?;
                prop_assert_eq!(&back, &doc);
                prop_assert_eq!(back.encode().ok(), Some(bytes));
                let frag = m::Fragment::random(&mut r);
                let bytes = frag.encode().map_err(|e| TestCaseError::fail(format!("{e}: {frag:?}")))?;
                let back = m::Fragment::decode(&bytes).map_err(|e| TestCaseError::fail(format!("{e}: {frag:?}")))?;
                prop_assert_eq!(back, frag);
            }
        }
    )*};
}

round_trip_tests! {
    random_app_handshake_messages_round_trip: app_handshake;
    random_din_messages_round_trip: din;
    random_iso2_messages_round_trip: iso2;
    random_iso20_common_messages_round_trip: iso20::common;
    random_iso20_dc_messages_round_trip: iso20::dc;
    random_iso20_ac_messages_round_trip: iso20::ac;
    random_iso20_wpt_messages_round_trip: iso20::wpt;
    random_iso20_acdp_messages_round_trip: iso20::acdp;
    random_xmldsig_fragments_round_trip: xmldsig;
}

/// Decodes with every grammar; whatever decodes must re-encode and decode to the same value.
fn decode_everything(bytes: &[u8]) -> Result<(), TestCaseError> {
    macro_rules! check {
        ($($module:path),*) => {$({
            use $module as m;
            if let Ok(doc) = m::Document::decode(bytes) {
                // Lenient decoding may accept what strict encoding refuses (e.g. a short
                // SessionID in ISO-20); what encodes must decode to the same value.
                if let Ok(again) = doc.encode() {
                    prop_assert_eq!(m::Document::decode(&again).ok(), Some(doc));
                }
            }
            if let Ok(frag) = m::Fragment::decode(bytes) {
                if let Ok(again) = frag.encode() {
                    prop_assert_eq!(m::Fragment::decode(&again).ok(), Some(frag));
                }
            }
        })*};
    }
    check!(
        app_handshake,
        din,
        iso2,
        iso20::common,
        iso20::dc,
        iso20::ac,
        iso20::wpt,
        iso20::acdp,
        xmldsig
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn arbitrary_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..200), second: u8) {
        let mut bytes = Vec::from([0x80, second]);
        bytes.extend(tail);
        decode_everything(&bytes)?;
    }

    #[test]
    fn mutated_valid_messages_never_panic(seed: u64, flips in proptest::collection::vec((any::<usize>(), 0u8..8), 1..4), cut: usize) {
        let mut r = Rng::new(seed);
        let mut bytes = din::Document::random(&mut r).encode().map_err(|e| TestCaseError::fail(format!("{e}")))?;
        bytes.extend(iso20::dc::Document::random(&mut r).encode().map_err(|e| TestCaseError::fail(format!("{e}")))?);
        for (at, bit) in flips {
            let len = bytes.len();
            bytes[1 + at % (len - 1)] ^= 1 << bit;
        }
        decode_everything(&bytes)?;
        let cut = cut % bytes.len();
        decode_everything(&bytes[..cut])?;
    }
}

#[test]
fn truncated_messages_are_typed_errors() {
    // Every proper prefix of real DIN messages fails with a typed error, most with
    // UnexpectedEnd (a prefix may also end where the padding is read as a wrong event).
    let rows = ccs_testdata::read_tsv("vectors/pyplc_vectors.tsv");
    let mut checked = 0;
    for row in rows.iter().filter(|r| r.get("schema") == "din").step_by(40) {
        let bytes = ccs_testdata::hex(row.get("hex"));
        let Ok(msg) = din::decode(&bytes) else {
            continue;
        };
        let full = din::encode(&msg).expect("re-encodes");
        for cut in 0..full.len() {
            let error = din::decode(&full[..cut]).expect_err("a prefix is not a message");
            if cut + 1 < full.len() {
                assert!(
                    matches!(error.kind, crate::ErrorKind::UnexpectedEnd),
                    "{} prefix {cut}: {error}",
                    row.get("hex")
                );
            }
        }
        checked += 1;
    }
    assert!(checked > 50, "only {checked} messages checked");
}

#[test]
fn oversize_lengths_fail_before_allocating() {
    // A DIN V2G_Message whose SessionID (at most 8 octets) claims 2^40 octets.
    let mut e = ccs_exi::Encoder::new();
    e.header();
    e.plain_code(82, 77); // V2G_Message
    e.only(); // SE(Header)
    e.only(); // SE(SessionID)
    e.only(); // CH
    e.unsigned(1 << 40);
    let bytes = e.finish();
    let error = din::decode(&bytes).expect_err("oversize length");
    assert!(
        matches!(error.kind, crate::ErrorKind::Facet { what: "length", .. }),
        "{error}"
    );
    // An unbounded string (xmldsig X509IssuerName has no maxLength) fails on the bits left.
    let mut d = ccs_exi::Decoder::new(&[0xff, 0xff, 0x7f]);
    assert_eq!(
        d.string(usize::MAX).unwrap_err().kind,
        crate::ErrorKind::UnexpectedEnd
    );
}

#[test]
fn string_table_hits_are_rejected() {
    // supportedAppProtocolReq whose ProtocolNamespace is coded as a local table hit (0).
    let bytes = [0x80, 0x00, 0x00, 0x00];
    let error = app_handshake::decode(&bytes).expect_err("table hit");
    assert_eq!(error.kind, crate::ErrorKind::StringTableHit, "{error}");
}

#[test]
fn second_level_events_are_rejected() {
    // DIN V2G_Message whose first event takes the escape code (1 of 1 bit).
    let bytes = [0x80, 0x9b, 0x00];
    let error = din::decode(&bytes).expect_err("escape");
    assert_eq!(error.kind, crate::ErrorKind::SecondLevelEvent, "{error}");
    assert_eq!(error.bit_position, 16);
}

#[test]
fn wrong_header_is_rejected() {
    let error = iso2::decode(&[0xa0, 0x98]).expect_err("header");
    assert_eq!(error.kind, crate::ErrorKind::BadHeader(0xa0));
}

#[test]
fn emaid_fragment_matches_the_exificient_vectors() {
    // The signed eMAID of CertificateInstallationRes / CertificateUpdateRes (EMAIDType with
    // its Id) as Exificient codes it (RISE-V2G, Josev, current OpenV2G; exi-v2g.md §1.6): the
    // relaxed Element Fragment grammar, AT({MsgDataTypes}Id) = 4 of 9 bits, CH = 256, EE, ED.
    let vectors = [
        ("i", "80ec0201b4c0045552d4d5d24c4c8ccd0d4d8dce0e507d3d00"),
        ("id", "80ec020234b240045552d4d5d24c4c8ccd0d4d8dce0e507d3d00"),
        (
            "id4",
            "80ec0202b4b21a40045552d4d5d24c4c8ccd0d4d8dce0e507d3d00",
        ),
        (
            "id44",
            "80ec020334b21a1a40045552d4d5d24c4c8ccd0d4d8dce0e507d3d00",
        ),
        (
            "id4456",
            "80ec020434b21a1a1a9b40045552d4d5d24c4c8ccd0d4d8dce0e507d3d00",
        ),
    ];
    for (id, hex) in vectors {
        let fragment = iso2::Fragment::EMAID(crate::relaxed::RelaxedElement {
            attributes: alloc::vec![crate::relaxed::RelaxedAttribute {
                namespace: "urn:iso:15118:2:2013:MsgDataTypes".into(),
                local_name: "Id".into(),
                value: id.into(),
            }],
            text: Some("UKSWI123456789A".into()),
        });
        let bytes = ccs_testdata::hex(hex);
        assert_eq!(fragment.encode().unwrap(), bytes, "Id {id}");
        assert_eq!(iso2::Fragment::decode(&bytes).unwrap(), fragment, "Id {id}");
    }
    // An attribute the schema set does not declare cannot be coded.
    let stray = iso2::Fragment::EMAID(crate::relaxed::RelaxedElement {
        attributes: alloc::vec![crate::relaxed::RelaxedAttribute {
            namespace: String::new(),
            local_name: "Stray".into(),
            value: "x".into(),
        }],
        text: None,
    });
    assert!(matches!(
        stray.encode().unwrap_err().kind,
        crate::ErrorKind::NotInGrammar(_)
    ));
}
