//! The real messages the codec benchmarks and `examples/codec_loop.rs` time: pyPLC vectors and
//! messages of the Josev interop capture. Shared by both through `#[path]`.

use crate::support;

/// The pyPLC vector of `message` in `schema`, preferring one recorded from a real capture.
pub(crate) fn pyplc_vector(schema: &str, message: &str) -> Vec<u8> {
    let rows = ccs_testdata::read_tsv("vectors/pyplc_vectors.tsv");
    let row = rows
        .iter()
        .find(|r| {
            r.get("schema") == schema
                && r.get("message") == message
                && r.get("notes").contains("capture")
        })
        .or_else(|| {
            rows.iter()
                .find(|r| r.get("schema") == schema && r.get("message") == message)
        })
        .unwrap();
    ccs_testdata::hex(row.get("hex"))
}

/// The first V2GTP payload of `payload_type` in the Josev capture that `matches`.
pub(crate) fn josev_message(payload_type: u16, matches: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let pcap = std::fs::read(ccs_testdata::shared_path(
        "captures/interop_josev0.31.2_secc-evcc_din-iso2-iso20dc_veth.pcap",
    ))
    .unwrap();
    support::v2gtp_messages(&pcap)
        .into_iter()
        .find(|m| m.payload_type == payload_type && matches(&m.payload))
        .unwrap()
        .payload
}
