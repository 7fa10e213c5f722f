//! The V2G messages of the Josev interop capture (EXIficient-encoded DIN, ISO 15118-2 and
//! ISO 15118-20 DC sessions) and of the pyPLC interop capture (OpenV2Gx-encoded DIN) decode and
//! re-encode to identical bytes.

mod support;

use ccs_msg::{app_handshake, din, iso2, iso20};
use ccs_testdata::shared_path;

/// Which grammar decodes a message: the V2GTP payload type, and for 0x8001 the negotiated
/// protocol, which the capture's first bytes tell apart here (exi-v2g.md §1.2).
fn round_trip(payload_type: u16, bytes: &[u8]) -> Result<(&'static str, Vec<u8>), ccs_msg::Error> {
    Ok(match (payload_type, bytes.get(..2)) {
        (0x8001, Some([0x80, 0x00 | 0x40])) => (
            "apphand",
            app_handshake::encode(&app_handshake::decode(bytes)?)?,
        ),
        (0x8001, Some([0x80, 0x9a])) => ("din", din::encode(&din::decode(bytes)?)?),
        (0x8001, Some([0x80, 0x98])) => ("iso2", iso2::encode(&iso2::decode(bytes)?)?),
        (0x8002, _) => ("iso20-common", iso20::common::decode(bytes)?.encode()?),
        (0x8003, _) => ("iso20-ac", iso20::ac::decode(bytes)?.encode()?),
        (0x8004, _) => ("iso20-dc", iso20::dc::decode(bytes)?.encode()?),
        (0x8005, _) => ("iso20-acdp", iso20::acdp::decode(bytes)?.encode()?),
        (0x8006, _) => ("iso20-wpt", iso20::wpt::decode(bytes)?.encode()?),
        other => panic!("unexpected V2GTP payload {other:x?}"),
    })
}

fn check_capture(file: &str) -> std::collections::BTreeMap<&'static str, usize> {
    let pcap = std::fs::read(shared_path(file)).expect("capture readable");
    let messages = support::v2gtp_messages(&pcap);
    let mut per_schema = std::collections::BTreeMap::new();
    let mut failures = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        match round_trip(m.payload_type, &m.payload) {
            Ok((schema, out)) if out == m.payload => *per_schema.entry(schema).or_insert(0) += 1,
            Ok((schema, out)) => failures.push(format!(
                "#{i} {schema}: re-encoded differently\n  in  {}\n  out {}",
                hex(&m.payload),
                hex(&out)
            )),
            Err(e) => failures.push(format!(
                "#{i} {:#x}: {e}: {}",
                m.payload_type,
                hex(&m.payload)
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    per_schema
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn josev_din_iso2_iso20_capture_round_trips() {
    let counts = check_capture("captures/interop_josev0.31.2_secc-evcc_din-iso2-iso20dc_veth.pcap");
    // 184 V2G messages: three sessions, each with its handshake.
    assert_eq!(counts.values().sum::<usize>(), 184, "{counts:?}");
    for schema in ["apphand", "din", "iso2", "iso20-common", "iso20-dc"] {
        assert!(
            counts.get(schema).copied().unwrap_or(0) > 0,
            "no {schema} in {counts:?}"
        );
    }
}

#[test]
fn pyplc_din_capture_round_trips() {
    let counts = check_capture("captures/interop_pyplc-e19519f_evse-pev-sim_din_veth.pcap");
    assert_eq!(counts.values().sum::<usize>(), 676, "{counts:?}");
}

/// The Josev SECC signs the ISO-2 SalesTariff (Id "id1"): the Reference's DigestValue is the
/// SHA-256 of the EXI fragment of that SalesTariff ([V2G2-771], exi-v2g.md §1.6). Our fragment
/// encoding must produce exactly the bytes the signer hashed.
#[test]
fn iso2_sales_tariff_fragment_matches_the_signed_digest() {
    use sha2::{Digest, Sha256};

    let pcap = std::fs::read(shared_path(
        "captures/interop_josev0.31.2_secc-evcc_din-iso2-iso20dc_veth.pcap",
    ))
    .expect("capture readable");
    let mut checked = 0;
    for m in support::v2gtp_messages(&pcap) {
        if m.payload_type != 0x8001 || !m.payload.starts_with(&[0x80, 0x98]) {
            continue;
        }
        let msg = iso2::decode(&m.payload).expect("ISO-2 message decodes");
        let Some(signature) = &msg.header.signature else {
            continue;
        };
        let Some(iso2::BodyElement::ChargeParameterDiscoveryRes(res)) = &msg.body.body_element
        else {
            continue;
        };
        let Some(iso2::SASchedules::SAScheduleList(list)) = &res.sa_schedules else {
            panic!("signed response without schedules");
        };
        let tariff = list.sa_schedule_tuple[0]
            .sales_tariff
            .clone()
            .expect("signed tariff");
        let reference = &signature.signed_info.reference[0];
        assert_eq!(reference.uri.as_deref(), Some("#id1"));
        let fragment = iso2::Fragment::SalesTariff(tariff)
            .encode()
            .expect("fragment encodes");
        assert_eq!(
            Sha256::digest(&fragment).as_slice(),
            reference.digest_value.as_slice()
        );
        checked += 1;
    }
    assert!(
        checked > 0,
        "no signed ChargeParameterDiscoveryRes in the capture"
    );
}

/// The independent `iso15118` crate (dev-dependency; exi-v2g.md §4) reads every ISO-2,
/// ISO-20 and handshake message of the Josev capture too, and its own encoding of what it
/// read is the same bytes, which we decode and re-encode identically (the round trip above):
/// three codecs (EXIficient, `iso15118`, ours) agree on every real message.
#[test]
fn iso15118_crate_agrees_on_the_josev_capture() {
    use iso15118::exi::ExiDocument;

    fn theirs<T: ExiDocument>(bytes: &[u8]) -> Result<Vec<u8>, iso15118::exi::ExiError> {
        T::from_bytes(bytes)?.to_vec()
    }
    let pcap = std::fs::read(shared_path(
        "captures/interop_josev0.31.2_secc-evcc_din-iso2-iso20dc_veth.pcap",
    ))
    .expect("capture readable");
    let mut compared = 0;
    for m in support::v2gtp_messages(&pcap) {
        let again = match (m.payload_type, m.payload.get(..2)) {
            (0x8001, Some([0x80, 0x00])) => {
                theirs::<iso15118::app_protocol::SupportedAppProtocolReq>(&m.payload)
            }
            (0x8001, Some([0x80, 0x40])) => {
                theirs::<iso15118::app_protocol::SupportedAppProtocolRes>(&m.payload)
            }
            (0x8001, Some([0x80, 0x98])) => theirs::<iso15118::iso2::Document>(&m.payload),
            (0x8002, _) => theirs::<iso15118::iso20::messages::Document>(&m.payload),
            (0x8004, _) => theirs::<iso15118::iso20::dc::Document>(&m.payload),
            // DIN: iso15118 has none.
            _ => continue,
        };
        let again = again.unwrap_or_else(|e| panic!("iso15118: {e:?} on {}", hex(&m.payload)));
        assert_eq!(
            hex(&again),
            hex(&m.payload),
            "iso15118 re-encodes differently"
        );
        let (_, ours) = round_trip(m.payload_type, &again).expect("ours decodes");
        assert_eq!(ours, again);
        compared += 1;
    }
    assert!(compared > 100, "only {compared} messages compared");
}
