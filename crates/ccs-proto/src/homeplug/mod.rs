//! HomePlug Green PHY management messages (MMEs) as checked views over bytes.
//!
//! Read `reference/homeplug-slac.md` §1–2 before working on this module: every offset here is
//! taken from there (and from ISO 15118-3 Annex A, HomePlug GP 1.1 §11).
//!
//! Layers, bottom to top:
//!
//! - [`ethernet`]: the Ethernet II header ([`EthernetFrame`] view, [`EthernetRepr`]), with an
//!   optional 802.1Q tag stripped on parse.
//! - [`mme`]: the MME header ([`MmeHeader`] view, [`MmeHeaderRepr`]): MMV, the little-endian
//!   [`MmType`], the fragmentation fields of MMV ≥ 1 and the OUI of vendor MMEs.
//! - [`slac_msg`], [`key_msg`], [`network_msg`], [`vendor_msg`]: one `Repr` per message body with
//!   `parse(&[u8])` / `emit(&mut Vec<u8>)`; every read is bounds-checked, so no input can panic.
//! - [`MmeFrame`]: a whole frame (Ethernet + MME header + [`Mme`] body), the type the SLAC
//!   machines, the simulator and the capture decoder use. Its `Display` is the pretty-printer.
//!
//! Numbers: MMTYPE and the other multi-byte numeric fields are little-endian; MAC addresses,
//! RunIDs, NIDs, NMKs, OUIs and nonces are opaque byte strings in transmission order.
//! Emitted frames are padded with zeros to the 60-byte Ethernet minimum; received frames may be
//! shorter (Linux veth/TAP do not pad, captures taken on the sender show unpadded frames).
//!
//! Not supported: fragmented MMEs (NF_MI > 0; no SLAC or management message used here needs
//! them: they parse as [`Mme::Other`]), the security-type-1 cipher suite lists of
//! CM_SLAC_PARM (never seen in the field).

use core::fmt;

macro_rules! byte_string {
    ($(#[$meta:meta])* $name:ident, $len:expr) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, Eq, Hash, Ord, PartialEq, PartialOrd)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// The length on the wire, in bytes.
            pub const LEN: usize = $len;

            /// The bytes in transmission order.
            pub const fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }
        }

        impl From<[u8; $len]> for $name {
            fn from(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                for b in &self.0 {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }
    };
}

pub mod ethernet;
pub mod key_msg;
pub mod message;
pub mod mme;
pub mod network_msg;
mod pretty;
pub mod slac_msg;
pub mod vendor_msg;
mod wire;

pub use ethernet::{EtherType, EthernetFrame, EthernetRepr};
pub use message::{Mme, MmeFrame};
pub use mme::{MmType, MmeHeader, MmeHeaderRepr, Mmv, Oui};

/// An IEEE 802 MAC address.
#[derive(Clone, Copy, Debug, Default, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct MacAddress(pub [u8; 6]);

impl MacAddress {
    /// `FF:FF:FF:FF:FF:FF`.
    pub const BROADCAST: Self = Self([0xff; 6]);
    /// The QCA "localcast" address `00:B0:52:00:00:01`: "the modem I am wired to"; only the
    /// local QCA device answers (homeplug-slac.md §1.1).
    pub const QCA_LOCALCAST: Self = Self([0x00, 0xb0, 0x52, 0x00, 0x00, 0x01]);

    /// True for broadcast and multicast addresses (group bit set).
    pub const fn is_group(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// True for `FF:FF:FF:FF:FF:FF`.
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// The six bytes in transmission order.
    pub const fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }
}

impl From<[u8; 6]> for MacAddress {
    fn from(bytes: [u8; 6]) -> Self {
        Self(bytes)
    }
}

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

byte_string!(
    /// The 8-byte RunID the EV chooses per matching run and every SLAC message repeats
    /// (ISO 15118-3 Table A.2 ff.; homeplug-slac.md §3.4).
    RunId,
    8
);

byte_string!(
    /// Network Membership Key: the AES-128 key that admits a station to an AVLN.
    Nmk,
    16
);

byte_string!(
    /// Network Identifier: 54 bits in 7 bytes (the top two bits of the last byte are zero;
    /// bits 4–5 of the last byte carry the security level when derived).
    Nid,
    7
);

/// Why a frame could not be parsed. Every variant is the sender's fault (an invalid message)
/// except [`WireError::NotHomePlug`], which just says the frame is something else.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum WireError {
    /// The frame ends before a field that must be there.
    Truncated {
        /// Bytes needed to read the field.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// The EtherType is not HomePlug AV (0x88E1): IPv6, ARP, HomePlug 1.0 …; skip the frame.
    NotHomePlug(EtherType),
    /// A field holds a value the message layout does not allow (e.g. more AAG groups than fit).
    InvalidField(&'static str),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { needed, available } => {
                write!(f, "frame truncated: needs {needed} bytes, has {available}")
            }
            Self::NotHomePlug(t) => write!(f, "not a HomePlug AV frame (EtherType {t})"),
            Self::InvalidField(field) => write!(f, "invalid field {field}"),
        }
    }
}

impl std::error::Error for WireError {}

/// The minimum Ethernet frame length without FCS; every emitted frame is padded to it.
pub const MIN_FRAME_LEN: usize = 60;
