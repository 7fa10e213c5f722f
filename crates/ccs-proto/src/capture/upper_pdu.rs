//! Wireshark's exported PDUs (`LINKTYPE_WIRESHARK_UPPER_PDU`, 252): the way a capture carries a
//! protocol's messages without the layers below, e.g. the plaintext of a TLS connection.
//!
//! A packet is a list of tags (2-byte type, 2-byte length, value; all big-endian; strings
//! padded with NULs to 4 bytes, the padding counted in the length) ended by tag 0, then the
//! PDU. Tag numbers are those of Wireshark's `wiretap/exported_pdu_tlvs.h`. Wireshark calls
//! the dissector named by tag 12 (`v2gtp` is dsV2Gshark's; without the plugin the bytes are
//! shown as "Exported PDU") and shows the addresses and ports of tags 22, 23, 25, 26.

use core::net::Ipv6Addr;

const TAG_END: u16 = 0;
const TAG_DISSECTOR_NAME: u16 = 12;
const TAG_IPV6_SRC: u16 = 22;
const TAG_IPV6_DST: u16 = 23;
const TAG_SRC_PORT: u16 = 25;
const TAG_DST_PORT: u16 = 26;
const TAG_COL_PROT_TEXT: u16 = 33;
const TAG_COL_INFO_TEXT: u16 = 36;

/// The dissector name under which ccsplc records V2GTP messages (dsV2Gshark's `v2gtp`).
pub const V2GTP_DISSECTOR: &str = "v2gtp";

/// The tags of one exported PDU that ccsplc writes and reads. Unknown tags are skipped when
/// reading.
///
/// No port-type tag is written on purpose: with it, Wireshark would hand the PDU to
/// dsV2Gshark as a TCP segment to reassemble, without the TCP state that needs.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct UpperPdu {
    /// Tag 12: the dissector for the PDU, e.g. [`V2GTP_DISSECTOR`].
    pub dissector: String,
    /// Tag 22: the IPv6 source address.
    pub src: Option<Ipv6Addr>,
    /// Tag 23: the IPv6 destination address.
    pub dst: Option<Ipv6Addr>,
    /// Tag 25: the source port.
    pub src_port: Option<u16>,
    /// Tag 26: the destination port.
    pub dst_port: Option<u16>,
    /// Tag 33: the text for Wireshark's protocol column.
    pub protocol_text: Option<String>,
    /// Tag 36: the text for Wireshark's info column (Wireshark ≥ 4.2 shows it).
    pub info_text: Option<String>,
}

fn push_tag(out: &mut Vec<u8>, tag: u16, value: &[u8]) {
    let padded = value.len().div_ceil(4) * 4;
    let Ok(len) = u16::try_from(padded) else {
        return;
    };
    out.extend_from_slice(&tag.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(value);
    out.resize(out.len() + padded - value.len(), 0);
}

fn text(value: &[u8]) -> String {
    String::from_utf8_lossy(value)
        .trim_end_matches('\0')
        .to_owned()
}

impl UpperPdu {
    /// The tags followed by `pdu`: the data of one packet of link type 252.
    pub fn emit(&self, pdu: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(96 + pdu.len());
        push_tag(&mut out, TAG_DISSECTOR_NAME, self.dissector.as_bytes());
        if let Some(src) = self.src {
            push_tag(&mut out, TAG_IPV6_SRC, &src.octets());
        }
        if let Some(dst) = self.dst {
            push_tag(&mut out, TAG_IPV6_DST, &dst.octets());
        }
        if let Some(port) = self.src_port {
            push_tag(&mut out, TAG_SRC_PORT, &u32::from(port).to_be_bytes());
        }
        if let Some(port) = self.dst_port {
            push_tag(&mut out, TAG_DST_PORT, &u32::from(port).to_be_bytes());
        }
        if let Some(t) = &self.protocol_text {
            push_tag(&mut out, TAG_COL_PROT_TEXT, t.as_bytes());
        }
        if let Some(t) = &self.info_text {
            push_tag(&mut out, TAG_COL_INFO_TEXT, t.as_bytes());
        }
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(pdu);
        out
    }

    /// The tags and the PDU of a packet of link type 252; `None` if the tag list is cut
    /// short or never ends.
    pub fn parse(data: &[u8]) -> Option<(Self, &[u8])> {
        let mut pdu = Self::default();
        let mut rest = data;
        loop {
            let header = rest.get(..4)?;
            let tag = u16::from_be_bytes([header[0], header[1]]);
            let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
            let value = rest.get(4..4 + len)?;
            rest = &rest[4 + len..];
            let port = || {
                let b: [u8; 4] = value.try_into().ok()?;
                u16::try_from(u32::from_be_bytes(b)).ok()
            };
            let address = || <[u8; 16]>::try_from(value).ok().map(Ipv6Addr::from);
            match tag {
                TAG_END => return Some((pdu, rest)),
                TAG_DISSECTOR_NAME => pdu.dissector = text(value),
                TAG_IPV6_SRC => pdu.src = address(),
                TAG_IPV6_DST => pdu.dst = address(),
                TAG_SRC_PORT => pdu.src_port = port(),
                TAG_DST_PORT => pdu.dst_port = port(),
                TAG_COL_PROT_TEXT => pdu.protocol_text = Some(text(value)),
                TAG_COL_INFO_TEXT => pdu.info_text = Some(text(value)),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_and_strings_are_padded() {
        let pdu = UpperPdu {
            dissector: V2GTP_DISSECTOR.to_owned(),
            src: Some("fe80::1".parse().unwrap()),
            dst: Some("fe80::2".parse().unwrap()),
            src_port: Some(50_000),
            dst_port: Some(15_118),
            protocol_text: Some("V2GTP".to_owned()),
            info_text: Some("decrypted".to_owned()),
        };
        let bytes = pdu.emit(&[0x01, 0xfe, 0x80, 0x01, 0, 0, 0, 0]);
        // Tag 12, length 8 ("v2gtp" + 3 NULs).
        assert_eq!(&bytes[..12], b"\x00\x0c\x00\x08v2gtp\0\0\0");
        let (back, rest) = UpperPdu::parse(&bytes).unwrap();
        assert_eq!(back, pdu);
        assert_eq!(rest, [0x01, 0xfe, 0x80, 0x01, 0, 0, 0, 0]);
    }

    #[test]
    fn cut_tag_lists_are_refused() {
        let bytes = UpperPdu::default().emit(&[]);
        assert!(UpperPdu::parse(&bytes[..bytes.len() - 1]).is_none());
        assert!(UpperPdu::parse(&[0, 12, 0, 40, b'x']).is_none());
        assert!(UpperPdu::parse(&[]).is_none());
    }
}
