//! Every frame of `vectors/pyplc_homeplug_frames.tsv` (real captures) parses, and re-emits
//! byte-identical where identity is possible.
//!
//! What is not preserved, by design: padding. Emitted frames are zero-padded to exactly 60
//! bytes, so (a) frames captured unpadded on the sending host (< 60 bytes) re-emit as the same
//! bytes plus zero padding, and (b) frames longer than their message (QCA pads CM_GET_KEY.CNF
//! to 425 bytes, CM_ATTEN_CHAR.RSP to 70 …) re-emit without the tail; the test checks that
//! the dropped tail is all zeros, i.e. that no information is lost. Frames of types we do not
//! model ([`Mme::Other`]) keep their body verbatim and so re-emit identically.

use ccs_proto::homeplug::{EtherType, Mme, MmeFrame, WireError};
use ccs_testdata::{hex, read_tsv};

#[test]
fn every_captured_frame_parses_and_reemits() {
    let rows = read_tsv("vectors/pyplc_homeplug_frames.tsv");
    assert!(
        rows.len() > 400,
        "expected the 434 frames, got {}",
        rows.len()
    );
    let (mut mmes, mut others, mut skipped) = (0, 0, 0);
    for row in &rows {
        let bytes = hex(row.get("hex"));
        let kind = row.get("frame_type");
        let context = format!("line {} ({kind}, {})", row.line, row.get("source_file"));
        if kind.starts_with("SDP") || kind.starts_with("ICMPv6") {
            assert_eq!(
                MmeFrame::parse(&bytes),
                Err(WireError::NotHomePlug(EtherType::Ipv6)),
                "{context}"
            );
            skipped += 1;
            continue;
        }
        let frame = MmeFrame::parse(&bytes).unwrap_or_else(|e| panic!("{context}: {e}"));
        assert_eq!(frame.source.to_string(), row.get("src_mac"), "{context}");
        assert_eq!(
            frame.destination.to_string(),
            row.get("dst_mac"),
            "{context}"
        );
        if matches!(frame.body, Mme::Other { .. }) {
            others += 1;
        } else {
            mmes += 1;
        }
        let emitted = frame.emit();
        let common = emitted.len().min(bytes.len());
        assert_eq!(emitted[..common], bytes[..common], "{context}: {frame}");
        assert!(
            emitted[common..].iter().all(|&b| b == 0) && emitted.len() >= 60,
            "{context}: only zero padding may be added"
        );
        assert!(
            bytes[common..].iter().all(|&b| b == 0),
            "{context}: a non-zero tail was dropped: {frame}"
        );
        // And the re-emitted frame parses to the same value.
        assert_eq!(MmeFrame::parse(&emitted).unwrap(), frame, "{context}");
    }
    assert_eq!(skipped, 20 + 19 + 20 + 18);
    assert!(mmes > 250, "typed MMEs: {mmes}");
    assert!(others > 30, "untyped MMEs: {others}");
}

#[test]
fn the_frame_kinds_decode_to_the_named_types() {
    let rows = read_tsv("vectors/pyplc_homeplug_frames.tsv");
    for row in &rows {
        let kind = row.get("frame_type");
        let Ok(frame) = MmeFrame::parse(&hex(row.get("hex"))) else {
            continue;
        };
        let expected = match kind {
            "CM_SLAC_PARAM.REQ" => "CM_SLAC_PARM.REQ",
            "CM_SLAC_PARAM.CNF" => "CM_SLAC_PARM.CNF",
            "VS_SW_VER.REQ (GET_SW)" => "VS_SW_VER.REQ",
            "VS_SW_VER.CNF (GET_SW)" => "VS_SW_VER.CNF",
            k if k.starts_with("VS vendor-specific 0xA14E") => "VS_ATTEN_CHAR.IND(0xA14E)",
            k if k.starts_with("MMTYPE 0x") => continue,
            k => k,
        };
        assert_eq!(frame.mmtype().to_string(), expected, "line {}", row.line);
        assert!(
            !matches!(frame.body, Mme::Other { .. }) || frame.mmtype().name().is_some(),
            "line {}",
            row.line
        );
    }
}
