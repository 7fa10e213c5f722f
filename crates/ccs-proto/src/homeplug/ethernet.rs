//! Ethernet II header (IEEE 802.3), with the optional 802.1Q tag some captures carry.

use core::fmt;

use super::{MacAddress, WireError};

/// The EtherType field. Big-endian on the wire, like every EtherType.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum EtherType {
    /// 0x88E1 HomePlug AV / Green PHY management messages.
    HomePlugAv,
    /// 0x86DD IPv6 (SDP, V2GTP, neighbour discovery).
    Ipv6,
    /// 0x8100 an IEEE 802.1Q VLAN tag (stripped by [`EthernetFrame`]).
    Vlan,
    /// 0x887B HomePlug 1.0 (not used by CCS).
    HomePlug10,
    /// Any other value.
    Unknown(u16),
}

impl From<u16> for EtherType {
    fn from(raw: u16) -> Self {
        match raw {
            0x88e1 => Self::HomePlugAv,
            0x86dd => Self::Ipv6,
            0x8100 => Self::Vlan,
            0x887b => Self::HomePlug10,
            other => Self::Unknown(other),
        }
    }
}

impl From<EtherType> for u16 {
    fn from(t: EtherType) -> Self {
        match t {
            EtherType::HomePlugAv => 0x88e1,
            EtherType::Ipv6 => 0x86dd,
            EtherType::Vlan => 0x8100,
            EtherType::HomePlug10 => 0x887b,
            EtherType::Unknown(raw) => raw,
        }
    }
}

impl fmt::Display for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HomePlugAv => write!(f, "HomePlugAV(0x88e1)"),
            Self::Ipv6 => write!(f, "IPv6(0x86dd)"),
            Self::Vlan => write!(f, "802.1Q(0x8100)"),
            Self::HomePlug10 => write!(f, "HomePlug1.0(0x887b)"),
            Self::Unknown(raw) => write!(f, "0x{raw:04x}"),
        }
    }
}

mod field {
    use core::ops::Range;
    pub(super) const DESTINATION: Range<usize> = 0..6;
    pub(super) const SOURCE: Range<usize> = 6..12;
    pub(super) const ETHERTYPE: Range<usize> = 12..14;
    /// With an 802.1Q tag: TCI at 14..16, the real EtherType at 16..18.
    pub(super) const VLAN_TCI: Range<usize> = 14..16;
    pub(super) const VLAN_ETHERTYPE: Range<usize> = 16..18;
    pub(super) const HEADER_LEN: usize = 14;
    pub(super) const VLAN_HEADER_LEN: usize = 18;
}

/// A read/write view of an Ethernet II frame. After [`EthernetFrame::new_checked`] no
/// accessor panics.
#[derive(Clone, Copy, Debug)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Wraps a buffer without checking its length; call [`Self::check_len`] before reading.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps a buffer that holds at least a whole header (including an 802.1Q tag if the
    /// EtherType says there is one).
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let frame = Self::new_unchecked(buffer);
        frame.check_len()?;
        Ok(frame)
    }

    /// Fails unless the header fits.
    pub fn check_len(&self) -> Result<(), WireError> {
        let len = self.buffer.as_ref().len();
        let needed = if len >= field::HEADER_LEN && self.outer_ethertype() == 0x8100 {
            field::VLAN_HEADER_LEN
        } else {
            field::HEADER_LEN
        };
        if len < needed {
            return Err(WireError::Truncated {
                needed,
                available: len,
            });
        }
        Ok(())
    }

    fn outer_ethertype(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::ETHERTYPE];
        u16::from_be_bytes([b[0], b[1]])
    }

    fn mac_at(&self, range: core::ops::Range<usize>) -> MacAddress {
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&self.buffer.as_ref()[range]);
        MacAddress(mac)
    }

    /// The destination address.
    pub fn destination(&self) -> MacAddress {
        self.mac_at(field::DESTINATION)
    }

    /// The source address.
    pub fn source(&self) -> MacAddress {
        self.mac_at(field::SOURCE)
    }

    /// The 802.1Q tag control information, if the frame is tagged.
    pub fn vlan_tci(&self) -> Option<u16> {
        (self.outer_ethertype() == 0x8100).then(|| {
            let b = &self.buffer.as_ref()[field::VLAN_TCI];
            u16::from_be_bytes([b[0], b[1]])
        })
    }

    /// The EtherType of the payload (behind the VLAN tag, if any).
    pub fn ethertype(&self) -> EtherType {
        if self.vlan_tci().is_some() {
            let b = &self.buffer.as_ref()[field::VLAN_ETHERTYPE];
            EtherType::from(u16::from_be_bytes([b[0], b[1]]))
        } else {
            EtherType::from(self.outer_ethertype())
        }
    }

    /// The header length: 14, or 18 with a VLAN tag.
    pub fn header_len(&self) -> usize {
        if self.vlan_tci().is_some() {
            field::VLAN_HEADER_LEN
        } else {
            field::HEADER_LEN
        }
    }

    /// The bytes after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Sets the destination address.
    pub fn set_destination(&mut self, mac: MacAddress) {
        self.buffer.as_mut()[field::DESTINATION].copy_from_slice(&mac.0);
    }

    /// Sets the source address.
    pub fn set_source(&mut self, mac: MacAddress) {
        self.buffer.as_mut()[field::SOURCE].copy_from_slice(&mac.0);
    }
}

/// The Ethernet header as a value.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct EthernetRepr {
    /// Destination address.
    pub destination: MacAddress,
    /// Source address.
    pub source: MacAddress,
    /// 802.1Q tag control information, if the frame was tagged.
    pub vlan_tci: Option<u16>,
    /// EtherType of the payload.
    pub ethertype: EtherType,
}

impl EthernetRepr {
    /// Reads the header of a checked frame.
    pub fn parse<T: AsRef<[u8]>>(frame: &EthernetFrame<T>) -> Self {
        Self {
            destination: frame.destination(),
            source: frame.source(),
            vlan_tci: frame.vlan_tci(),
            ethertype: frame.ethertype(),
        }
    }

    /// The header length in bytes.
    pub const fn buffer_len(&self) -> usize {
        if self.vlan_tci.is_some() {
            field::VLAN_HEADER_LEN
        } else {
            field::HEADER_LEN
        }
    }

    /// Appends the header to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.destination.0);
        out.extend_from_slice(&self.source.0);
        if let Some(tci) = self.vlan_tci {
            out.extend_from_slice(&0x8100u16.to_be_bytes());
            out.extend_from_slice(&tci.to_be_bytes());
        }
        out.extend_from_slice(&u16::from(self.ethertype).to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_a_vlan_tag() {
        let mut bytes = vec![0xff; 6];
        bytes.extend_from_slice(&[1, 2, 3, 4, 5, 6, 0x81, 0x00, 0x00, 0x05, 0x88, 0xe1, 0x01]);
        let frame = EthernetFrame::new_checked(&bytes[..]).unwrap();
        assert_eq!(frame.vlan_tci(), Some(5));
        assert_eq!(frame.ethertype(), EtherType::HomePlugAv);
        assert_eq!(frame.payload(), &[0x01]);
        let repr = EthernetRepr::parse(&frame);
        let mut out = Vec::new();
        repr.emit(&mut out);
        assert_eq!(out, &bytes[..18]);
    }

    #[test]
    fn short_frames_are_rejected_not_panicking() {
        assert!(EthernetFrame::new_checked(&[0u8; 13][..]).is_err());
        let mut tagged = vec![0u8; 12];
        tagged.extend_from_slice(&[0x81, 0x00, 0x00]);
        assert!(EthernetFrame::new_checked(&tagged[..]).is_err());
    }
}
