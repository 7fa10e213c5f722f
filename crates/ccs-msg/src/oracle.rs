//! Differential tests against an independent codec: the `iso15118` crate (hupe1980, generated
//! by its own Rust generator from the same XSDs; dev-dependency only, exi-v2g.md §4).
//!
//! Both codecs implement the one V2G profile (schema-informed, bit-packed, non-strict, literal
//! strings), in which a value has exactly one encoding. So the two type systems are compared
//! through that canonical form instead of a hand-written field mapping: for a random valid
//! message of ours,
//!
//! 1. our encoding decodes with `iso15118` (it accepts our bytes),
//! 2. `iso15118` re-encodes what it decoded to exactly our bytes (it read the same values:
//!    any value it got wrong would change its encoding), and
//! 3. that encoding of theirs decodes with ours to the message we started from.
//!
//! Covered: ISO 15118-2, the five ISO 15118-20 sets, the app handshake (documents), the
//! fragments of ISO-2 and ISO-20 whose element `iso15118` can code as a fragment (its global
//! elements), and `SignedInfo` in the xmldsig-only fragment grammar. `iso15118` has no DIN.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use iso15118::exi::{ExiDocument, ExiError};
use proptest::prelude::*;

use crate::random::Rng;
use crate::{app_handshake, xmldsig};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What one comparison showed (a disagreement is a test failure instead).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Outcome {
    /// Both codecs read and wrote the same bytes for the same value.
    Agreed,
    /// `iso15118` has no codec for this root element (e.g. the xmldsig global elements as
    /// ISO-20 documents, or fragments of local elements).
    RootUnknown,
}

/// Steps 1-3 for one stream `ours` (our encoding of `value`): `theirs_decode` and
/// `theirs_encode` are `iso15118`'s codec for the same root, `ours_decode` ours;
/// `root_unknown` says whether `iso15118` lacks a codec for the root element.
fn agree<T, V: PartialEq + core::fmt::Debug>(
    what: &str,
    value: &V,
    ours: &[u8],
    theirs_decode: impl Fn(&[u8]) -> Result<T, ExiError>,
    theirs_encode: impl Fn(&T) -> Result<Vec<u8>, ExiError>,
    ours_decode: impl Fn(&[u8]) -> Result<V, crate::Error>,
    root_unknown: impl Fn() -> bool,
) -> Result<Outcome, TestCaseError> {
    let theirs = match theirs_decode(ours) {
        Ok(theirs) => theirs,
        Err(ExiError::UnknownEventCode) if root_unknown() => return Ok(Outcome::RootUnknown),
        Err(e) => {
            return Err(TestCaseError::fail(format!(
                "{what}: iso15118 rejects our encoding {} with {e:?}; value {value:?}",
                hex(ours)
            )));
        }
    };
    let again = theirs_encode(&theirs).map_err(|e| {
        TestCaseError::fail(format!(
            "{what}: iso15118 cannot re-encode what it decoded from {}: {e:?}",
            hex(ours)
        ))
    })?;
    prop_assert_eq!(
        hex(&again),
        hex(ours),
        "{}: iso15118 encodes differently; value {:?}",
        what,
        value
    );
    let back = ours_decode(&again)
        .map_err(|e| TestCaseError::fail(format!("{what}: we reject iso15118's bytes: {e}")))?;
    prop_assert_eq!(&back, value, "{}", what);
    Ok(Outcome::Agreed)
}

/// Whether `iso15118` lacks a codec for the root element of `bytes`, whose first event code
/// has `width` bits: it decodes the root alone (header, that code, zero bits) and answers
/// `UnknownEventCode` at once for a root it does not code. A disagreement inside an element
/// shows differently: the zero bits after a known root are event code 0, valid in every
/// state, so the probe then fails with a truncation instead.
fn root_unknown_to_iso15118(
    bytes: &[u8],
    width: u32,
    theirs_decode: impl Fn(&[u8]) -> Result<(), ExiError>,
) -> bool {
    let mut d = ccs_exi::Decoder::new(bytes);
    let Ok(code) = d.header().and_then(|()| d.bits(width)) else {
        return false;
    };
    let mut e = ccs_exi::Encoder::new();
    e.header();
    e.bits(width, code);
    theirs_decode(&e.finish()) == Err(ExiError::UnknownEventCode)
}

/// `value` without the xmldsig content that `iso15118` does not model and refuses to decode
/// (`UnsupportedOption`): a Signature's `KeyInfo` and `Object`, a Transform's `XPath`. Done on
/// the JSON form, so that it reaches every nesting depth of every message type.
fn without_unmodelled<T: serde::Serialize + serde::de::DeserializeOwned>(value: T) -> T {
    fn strip(json: &mut serde_json::Value) {
        match json {
            serde_json::Value::Object(map) => {
                if map.contains_key("SignedInfo") && map.contains_key("SignatureValue") {
                    map.remove("KeyInfo");
                    map.remove("Object");
                }
                map.remove("x_path");
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut json = serde_json::to_value(&value).expect("our types serialize");
    strip(&mut json);
    serde_json::from_value(json).expect("fewer optional parts are still valid")
}

/// The root element's name of a document or fragment (its JSON tag).
fn root_name(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(map)) => map.keys().next().cloned().unwrap_or_default(),
        _ => String::new(),
    }
}

/// What one seed compared: (root element, outcome) for its document and its fragment.
type Checked = Vec<(String, Outcome)>;

/// Runs `check` for seeds `0..SEEDS` and requires that every root element that `iso15118`
/// codes was compared at least once, and at least `min_compared` messages in all.
fn coverage(check: impl Fn(u64) -> Result<Checked, TestCaseError>, min_compared: usize) {
    const SEEDS: u64 = 1000;
    let mut agreed = alloc::collections::BTreeMap::<String, usize>::new();
    for seed in 0..SEEDS {
        let checked = check(seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        for (root, outcome) in checked {
            if outcome != Outcome::RootUnknown {
                *agreed.entry(root).or_default() += usize::from(outcome == Outcome::Agreed);
            }
        }
    }
    let never: Vec<&String> = agreed
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(r, _)| r)
        .collect();
    assert!(never.is_empty(), "never compared: {never:?}");
    let compared: usize = agreed.values().sum();
    assert!(
        compared >= min_compared,
        "only {compared} of {SEEDS} seeds' messages were compared (want {min_compared})"
    );
}

macro_rules! oracle_tests {
    ($($name:ident: $ours:path => $theirs:path, at least $min:literal compared;)*) => {$(
        mod $name {
            use super::*;
            use $ours as m;
            use $theirs as t;

            /// One random document and one random fragment.
            fn check(seed: u64) -> Result<Checked, TestCaseError> {
                let mut r = Rng::new(seed).with_big_ints_in_i64();
                let doc = without_unmodelled(m::Document::random(&mut r));
                let bytes = doc.encode().map_err(|e| TestCaseError::fail(format!("{e}")))?;
                let doc_outcome = agree(
                    "document",
                    &doc,
                    &bytes,
                    <t::Document as ExiDocument>::from_bytes,
                    |v: &t::Document| v.to_vec(),
                    m::Document::decode,
                    || root_unknown_to_iso15118(&bytes, t::DOCUMENT_WIDTH, |b| {
                        <t::Document as ExiDocument>::from_bytes(b).map(|_| ())
                    }),
                )?;
                let frag = without_unmodelled(m::Fragment::random(&mut r));
                let bytes = frag.encode().map_err(|e| TestCaseError::fail(format!("{e}")))?;
                let frag_outcome = agree(
                    "fragment",
                    &frag,
                    &bytes,
                    t::Document::from_fragment,
                    t::Document::to_fragment,
                    m::Fragment::decode,
                    || root_unknown_to_iso15118(&bytes, t::FRAGMENT_WIDTH, |b| {
                        t::Document::from_fragment(b).map(|_| ())
                    }),
                )?;
                Ok(Vec::from([
                    (root_name(&doc), doc_outcome),
                    (format!("fragment {}", root_name(&frag)), frag_outcome),
                ]))
            }

            proptest! {
                #![proptest_config(ProptestConfig::with_cases(300))]
                #[test]
                fn random_messages_agree(seed: u64) {
                    check(seed)?;
                }
            }

            #[test]
            fn most_random_messages_are_compared() {
                coverage(check, $min);
            }
        }
    )*};
}

oracle_tests! {
    iso2_: crate::iso2 => iso15118::iso2, at least 900 compared;
    iso20_common: crate::iso20::common => iso15118::iso20::messages, at least 500 compared;
    iso20_dc: crate::iso20::dc => iso15118::iso20::dc, at least 480 compared;
    iso20_ac: crate::iso20::ac => iso15118::iso20::ac, at least 400 compared;
    iso20_wpt: crate::iso20::wpt => iso15118::iso20::wpt, at least 320 compared;
    iso20_acdp: crate::iso20::acdp => iso15118::iso20::acdp, at least 240 compared;
}

/// The app handshake (no fragments: it is never signed).
fn check_app_handshake(seed: u64) -> Result<Checked, TestCaseError> {
    use iso15118::app_protocol::{SupportedAppProtocolReq, SupportedAppProtocolRes};
    let mut r = Rng::new(seed).with_big_ints_in_i64();
    let doc = without_unmodelled(app_handshake::Document::random(&mut r));
    let bytes = doc
        .encode()
        .map_err(|e| TestCaseError::fail(format!("{e}")))?;
    let outcome = match &doc {
        app_handshake::Document::SupportedAppProtocolReq(_) => agree(
            "supportedAppProtocolReq",
            &doc,
            &bytes,
            SupportedAppProtocolReq::from_bytes,
            |v: &SupportedAppProtocolReq| v.to_vec(),
            app_handshake::decode,
            || false,
        )?,
        app_handshake::Document::SupportedAppProtocolRes(_) => agree(
            "supportedAppProtocolRes",
            &doc,
            &bytes,
            SupportedAppProtocolRes::from_bytes,
            |v: &SupportedAppProtocolRes| v.to_vec(),
            app_handshake::decode,
            || false,
        )?,
    };
    Ok(Vec::from([(root_name(&doc), outcome)]))
}

/// `SignedInfo` is what a Plug & Charge signature signs, coded with the xmldsig schema alone
/// (exi-v2g.md §1.6).
fn check_signed_info(seed: u64) -> Result<Checked, TestCaseError> {
    use iso15118::iso2::SignedInfo;
    let mut r = Rng::new(seed).with_big_ints_in_i64();
    let frag = without_unmodelled(xmldsig::Fragment::SignedInfo(
        xmldsig::SignedInfoType::random(&mut r),
    ));
    let bytes = frag
        .encode()
        .map_err(|e| TestCaseError::fail(format!("{e}")))?;
    let outcome = agree(
        "SignedInfo fragment",
        &frag,
        &bytes,
        SignedInfo::from_xmldsig_fragment,
        SignedInfo::to_xmldsig_fragment,
        xmldsig::Fragment::decode,
        || false,
    )?;
    Ok(Vec::from([(root_name(&frag), outcome)]))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn app_handshake_agrees_with_iso15118_crate(seed: u64) {
        check_app_handshake(seed)?;
    }

    #[test]
    fn signed_info_fragment_agrees_with_iso15118_crate(seed: u64) {
        check_signed_info(seed)?;
    }
}

#[test]
fn most_random_handshakes_and_signed_infos_are_compared() {
    coverage(check_app_handshake, 1000);
    coverage(check_signed_info, 1000);
}

/// Where `iso15118` 0.7.0 is wrong and we are right: xmldsig's `HMACOutputLength` (and
/// `X509SerialNumber`) are `xs:integer`, unbounded by the schema, coded as EXI Integer of any
/// length (EXI 1.0 §7.1.5). `iso15118` holds them in an `i64` and refuses a larger value with
/// `IntegerOverflow`; certificate serial numbers are up to 20 octets (RFC 5280 §4.1.2.2).
/// This test pins the difference so that we notice when either side changes.
#[test]
fn iso15118_crate_refuses_integers_beyond_i64_that_the_schema_allows() {
    let mut r = Rng::new(7);
    let mut signed_info = xmldsig::SignedInfoType::random(&mut r);
    signed_info.signature_method.hmac_output_length =
        Some(ccs_exi::BigInt::new(false, &[1, 0, 0, 0, 0, 0, 0, 0, 0]));
    let frag = without_unmodelled(xmldsig::Fragment::SignedInfo(signed_info));
    let bytes = frag.encode().expect("2^64 is a valid xs:integer");
    assert_eq!(xmldsig::Fragment::decode(&bytes).expect("ours"), frag);
    assert_eq!(
        iso15118::iso2::SignedInfo::from_xmldsig_fragment(&bytes),
        Err(ExiError::IntegerOverflow)
    );
}
