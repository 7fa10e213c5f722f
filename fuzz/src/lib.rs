//! Shared body of the EXI fuzz targets: decode arbitrary bytes as a document and as a fragment
//! of one schema; whatever decodes and re-encodes (lenient decoding may accept what strict
//! encoding refuses) must decode again to the same value and re-encode to the same bytes.
//! The decoder must never panic and never allocate more than the input could encode.
#![forbid(unsafe_code)]

/// Runs the property for one schema module (`ccs_msg::din`, `ccs_msg::iso20::dc`, ...).
#[macro_export]
macro_rules! exi_round_trip {
    ($module:path, $data:expr) => {{
        use $module as m;
        let data: &[u8] = $data;
        if let Ok(doc) = m::Document::decode(data) {
            if let Ok(bytes) = doc.encode() {
                let again = m::Document::decode(&bytes).expect("re-encoded document decodes");
                assert_eq!(again, doc, "document changed through encode/decode");
                assert_eq!(again.encode().ok(), Some(bytes), "document re-encodes differently");
            }
        }
        if let Ok(frag) = m::Fragment::decode(data) {
            if let Ok(bytes) = frag.encode() {
                let again = m::Fragment::decode(&bytes).expect("re-encoded fragment decodes");
                assert_eq!(again, frag, "fragment changed through encode/decode");
            }
        }
    }};
}
