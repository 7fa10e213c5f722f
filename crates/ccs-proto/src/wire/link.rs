//! Ethernet II frames with any number of IEEE 802.1Q / 802.1ad VLAN tags.
//!
//! [`crate::homeplug::EthernetFrame`] strips one 802.1Q tag, which is all the SLAC code needs;
//! captures from a switch port or a Raspberry Pi on a tagged network may carry stacked tags
//! (802.1ad S-tag `0x88A8`, then 802.1Q C-tag `0x8100`). [`LinkFrame`] peels them all off.

use super::{WireError, be16, need};
use crate::homeplug::{EtherType, MacAddress};

const TPID_8021Q: u16 = 0x8100;
const TPID_8021AD: u16 = 0x88a8;
/// Legacy QinQ TPID some switches use.
const TPID_QINQ_LEGACY: u16 = 0x9100;
/// More tags than this is not a real frame.
const MAX_TAGS: usize = 4;

/// One VLAN tag: its TPID and tag control information (PCP, DEI, VID).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct VlanTag {
    /// The tag protocol identifier (`0x8100`, `0x88A8`, `0x9100`).
    pub tpid: u16,
    /// The tag control information.
    pub tci: u16,
}

impl VlanTag {
    /// The VLAN identifier (low 12 bits of the TCI).
    pub const fn vid(&self) -> u16 {
        self.tci & 0x0fff
    }
}

/// An Ethernet frame split into addresses, VLAN tags, EtherType and payload.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct LinkFrame<'a> {
    /// Destination MAC.
    pub destination: MacAddress,
    /// Source MAC.
    pub source: MacAddress,
    /// VLAN tags, outermost first (empty for an untagged frame).
    pub vlan_tags: Vec<VlanTag>,
    /// The EtherType behind the tags.
    pub ethertype: EtherType,
    /// The bytes after the header (may include Ethernet padding).
    pub payload: &'a [u8],
}

impl<'a> LinkFrame<'a> {
    /// Splits a frame. Fails only if it ends inside the header or has absurdly many tags.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, WireError> {
        need(bytes.len(), 14)?;
        let mut destination = [0; 6];
        destination.copy_from_slice(&bytes[0..6]);
        let mut source = [0; 6];
        source.copy_from_slice(&bytes[6..12]);
        let mut at = 12;
        let mut vlan_tags = Vec::new();
        loop {
            let tpid = be16(bytes, at);
            if !matches!(tpid, TPID_8021Q | TPID_8021AD | TPID_QINQ_LEGACY) {
                break;
            }
            if vlan_tags.len() == MAX_TAGS {
                return Err(WireError::Malformed("more than 4 VLAN tags"));
            }
            need(bytes.len(), at + 6)?;
            vlan_tags.push(VlanTag {
                tpid,
                tci: be16(bytes, at + 2),
            });
            at += 4;
        }
        Ok(Self {
            destination: MacAddress(destination),
            source: MacAddress(source),
            vlan_tags,
            ethertype: EtherType::from(be16(bytes, at)),
            payload: &bytes[at + 2..],
        })
    }

    /// The header length (14 plus 4 per tag).
    pub fn header_len(&self) -> usize {
        14 + 4 * self.vlan_tags.len()
    }

    /// Appends the header (addresses, tags, EtherType) to `out`.
    pub fn emit_header(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.destination.0);
        out.extend_from_slice(&self.source.0);
        for tag in &self.vlan_tags {
            out.extend_from_slice(&tag.tpid.to_be_bytes());
            out.extend_from_slice(&tag.tci.to_be_bytes());
        }
        out.extend_from_slice(&u16::from(self.ethertype).to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(tags: &[(u16, u16)], ethertype: u16) -> Vec<u8> {
        let mut b = vec![0xff; 6];
        b.extend_from_slice(&[2, 0, 0, 0, 0, 1]);
        for (tpid, tci) in tags {
            b.extend_from_slice(&tpid.to_be_bytes());
            b.extend_from_slice(&tci.to_be_bytes());
        }
        b.extend_from_slice(&ethertype.to_be_bytes());
        b
    }

    #[test]
    fn untagged_single_and_stacked_tags() {
        let plain = header(&[], 0x86dd);
        let f = LinkFrame::parse(&plain).unwrap();
        assert!(f.vlan_tags.is_empty());
        assert_eq!(f.ethertype, EtherType::Ipv6);

        let mut q = header(&[(0x8100, 0x2005)], 0x88e1);
        q.push(0x01);
        let f = LinkFrame::parse(&q).unwrap();
        assert_eq!(f.vlan_tags[0].vid(), 5);
        assert_eq!(f.ethertype, EtherType::HomePlugAv);
        assert_eq!(f.payload, &[0x01]);

        let qinq = header(&[(0x88a8, 100), (0x8100, 200)], 0x86dd);
        let f = LinkFrame::parse(&qinq).unwrap();
        assert_eq!(f.vlan_tags.len(), 2);
        assert_eq!(f.header_len(), 22);
        let mut out = Vec::new();
        f.emit_header(&mut out);
        assert_eq!(out, qinq);
    }

    #[test]
    fn truncated_tag_and_tag_flood_are_errors() {
        let mut b = header(&[], 0x8100);
        b.push(0);
        assert!(matches!(
            LinkFrame::parse(&b),
            Err(WireError::Truncated { .. })
        ));
        let flood = header(&[(0x8100, 1); 5], 0x86dd);
        assert!(matches!(
            LinkFrame::parse(&flood),
            Err(WireError::Malformed(_))
        ));
    }
}
