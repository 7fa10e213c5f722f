//! V2G message types and their EXI codecs, generated from the official schemas.
//!
//! # Modules
//!
//! One module per schema family, each behind a feature:
//!
//! | module | schema | root(s) |
//! |---|---|---|
//! | [`app_handshake`] | SupportedAppProtocol | `supportedAppProtocolReq` / `Res` |
//! | [`din`] | DIN SPEC 70121 | `V2G_Message` |
//! | [`iso2`] | ISO 15118-2:2013 | `V2G_Message` |
//! | [`iso20::common`], [`iso20::dc`], [`iso20::ac`], [`iso20::wpt`], [`iso20::acdp`] | ISO 15118-20 | every message is its own root |
//! | [`xmldsig`] | W3C XML Signature (the `Signature` header and `SignedInfo` fragments) | — |
//! | [`iso20::types`] | ISO 15118-20 CommonTypes (shared by the five -20 sets) | — |
//!
//! # Using it
//!
//! ```
//! use ccs_msg::din;
//!
//! // A DIN SessionSetupReq as an EV sends it (exi-v2g.md §1.3).
//! let bytes = [
//!     0x80, 0x9a, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11, 0xd0, 0x1a, 0x12,
//!     0x1d, 0xc9, 0x83, 0xcd, 0x60, 0x00,
//! ];
//! let msg: din::V2G_Message = din::decode(&bytes)?;
//! let Some(din::BodyElement::SessionSetupReq(req)) = &msg.body.body_element else {
//!     panic!("not a SessionSetupReq");
//! };
//! assert_eq!(req.evccid, [0x84, 0x87, 0x72, 0x60, 0xf3, 0x58]);
//! assert_eq!(din::encode(&msg)?, bytes);
//! # Ok::<(), ccs_exi::Error>(())
//! ```
//!
//! - Types are the schema's, with the first letter upper-cased and otherwise spelled as the
//!   schema spells them (`V2G_Message`, `SessionSetupReqType`, `ResponseCodeType::OK`,
//!   `DC_EVStatusType`), so they can be looked up in the standard. Fields are snake case
//!   (`evse_present_voltage`); JSON (feature `serde`) uses the exact schema names.
//! - Optional elements are `Option`, repeated ones `Vec` (the schema maximum is enforced on
//!   decode and encode), choices and substitution groups are enums (the DIN/ISO-2 `Body` holds
//!   an `Option<BodyElement>` with one variant per message), enumerations are enums, restricted
//!   numbers are plain integers whose facets are checked on encode.
//! - DIN and ISO-2: [`din::decode`] / [`din::encode`] (and the same in [`iso2`]) for the
//!   `V2G_Message` root. ISO-20 and the app handshake: `decode` / `encode` on the module's
//!   `Document` enum (one variant per root element), e.g. [`iso20::dc::decode`].
//! - Signatures (Plug & Charge): every module that has a grammar set has a `Fragment` enum whose
//!   `encode` produces the EXI fragment a signature digests, e.g.
//!   `iso2::Fragment::AuthorizationReq(..).encode()`; `SignedInfo` is digested with the xmldsig
//!   grammar alone: [`xmldsig::Fragment`].
//! - Errors are [`ccs_exi::Error`]: kind, bit position and what was expected. Decoding never
//!   panics and never allocates more than the input could encode.
//!
//! # Leniency
//!
//! Decoding is lenient where real peers deviate, encoding is strict (see `rt`): minimum and
//! exact lengths are not enforced on decode (pyPLC sends a zero-length DIN SessionID; EVs send a
//! 1-byte one); bytes after the final padding are ignored. Maximum lengths, array bounds and
//! integer ranges are always enforced. String-table hits are rejected ([`ccs_exi::ErrorKind::StringTableHit`]):
//! V2G encoders never emit them.
//!
//! # Not supported
//!
//! Wildcard content (`xs:any`) and untyped character data in xmldsig's mixed content (e.g. an
//! `Object`'s content, `SignatureProperty`, PGP/SPKI extension elements): they widen the event
//! codes as the schema requires, but decoding one is [`ccs_exi::ErrorKind::UnsupportedEvent`].
//! The 2016 ISO 15118-2 DIS ("iso2" in OpenV2G naming) is not supported.
//!
//! The generated files are written by `cargo xtask codegen` from the XSDs in `../shared/schemas`,
//! carry an `@generated` header and are never edited by hand.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod codec;
mod generated;
#[cfg(any(test, feature = "random"))]
pub mod random;
pub mod relaxed;
mod rt;
#[cfg(feature = "serde")]
mod serde_util;
#[cfg(all(
    test,
    feature = "app_handshake",
    feature = "din",
    feature = "iso2",
    feature = "iso20"
))]
mod tests;

pub use ccs_exi::{Error, ErrorKind};

/// SupportedAppProtocol (the app handshake, `urn:iso:15118:2:2010:AppProtocol`).
#[cfg(feature = "app_handshake")]
pub mod app_handshake {
    use alloc::vec::Vec;

    pub use crate::generated::app_handshake::*;

    /// Decodes a handshake message (`supportedAppProtocolReq` or `Res`).
    pub fn decode(bytes: &[u8]) -> Result<Document, ccs_exi::Error> {
        Document::decode(bytes)
    }

    /// Encodes a handshake message.
    pub fn encode(doc: &Document) -> Result<Vec<u8>, ccs_exi::Error> {
        doc.encode()
    }
}

/// W3C XML Signature types (shared by all V2G schemas) and the xmldsig-only fragment grammar
/// with which `SignedInfo` is digested.
#[cfg(any(feature = "din", feature = "iso2", feature = "iso20"))]
pub mod xmldsig {
    pub use crate::generated::xmldsig::*;
}

#[cfg(any(feature = "din", feature = "iso2"))]
macro_rules! v2g_message_schema {
    ($name:literal) => {
        /// Decodes a `V2G_Message` document. Any other root element is
        /// [`ccs_exi::ErrorKind::UnexpectedRoot`].
        pub fn decode(bytes: &[u8]) -> Result<V2G_Message, ccs_exi::Error> {
            match Document::decode(bytes)? {
                Document::V2G_Message(m) => Ok(m),
                _ => Err(ccs_exi::Error::new(
                    ccs_exi::ErrorKind::UnexpectedRoot("V2G_Message"),
                    0,
                    $name,
                )),
            }
        }

        /// Encodes a `V2G_Message` document (facets checked).
        pub fn encode(msg: &V2G_Message) -> Result<Vec<u8>, ccs_exi::Error> {
            let mut e = ccs_exi::Encoder::new();
            e.header();
            e.plain_code(DOCUMENT_ROOTS, V2G_MESSAGE_ROOT);
            crate::codec::ExiContent::encode_content(msg, &mut e)?;
            Ok(e.finish())
        }
    };
}

/// DIN SPEC 70121 (`urn:din:70121:2012:MsgDef`).
#[cfg(feature = "din")]
pub mod din {
    use alloc::vec::Vec;

    pub use crate::generated::din::*;

    /// DocContent productions: 81 global elements + SE(*).
    const DOCUMENT_ROOTS: u32 = 82;
    /// Event code of `V2G_Message` in DocContent (exi-v2g.md §1.2).
    const V2G_MESSAGE_ROOT: u32 = 77;
    v2g_message_schema!("DIN V2G_Message");
}

/// ISO 15118-2:2013 (`urn:iso:15118:2:2013:MsgDef`; OpenV2G's "iso1").
#[cfg(feature = "iso2")]
pub mod iso2 {
    use alloc::vec::Vec;

    pub use crate::generated::iso2::*;

    /// DocContent productions: 80 global elements + SE(*).
    const DOCUMENT_ROOTS: u32 = 81;
    /// Event code of `V2G_Message` in DocContent (exi-v2g.md §1.2).
    const V2G_MESSAGE_ROOT: u32 = 76;
    v2g_message_schema!("ISO-2 V2G_Message");
}

/// ISO 15118-20: one module per grammar set; every message is its own root element.
#[cfg(feature = "iso20")]
pub mod iso20 {
    macro_rules! iso20_set {
        ($(#[$doc:meta])* $name:ident, $generated:ident) => {
            $(#[$doc])*
            pub mod $name {
                use alloc::vec::Vec;

                pub use crate::generated::$generated::*;

                /// Decodes a message of this grammar set (the root element picks the variant).
                pub fn decode(bytes: &[u8]) -> Result<Document, ccs_exi::Error> {
                    Document::decode(bytes)
                }

                /// Encodes a message of this grammar set (facets checked).
                pub fn encode(doc: &Document) -> Result<Vec<u8>, ccs_exi::Error> {
                    doc.encode()
                }
            }
        };
    }

    iso20_set!(
        /// CommonMessages (`urn:iso:std:iso:15118:-20:CommonMessages`; V2GTP 0x8002).
        common, iso20_common
    );
    iso20_set!(
        /// DC (`urn:iso:std:iso:15118:-20:DC`; V2GTP 0x8004).
        dc, iso20_dc
    );
    iso20_set!(
        /// AC (`urn:iso:std:iso:15118:-20:AC`; V2GTP 0x8003).
        ac, iso20_ac
    );
    iso20_set!(
        /// WPT (`urn:iso:std:iso:15118:-20:WPT`; V2GTP 0x8006).
        wpt, iso20_wpt
    );
    iso20_set!(
        /// ACDP (`urn:iso:std:iso:15118:-20:ACDP`; V2GTP 0x8005).
        acdp, iso20_acdp
    );

    /// CommonTypes (`urn:iso:std:iso:15118:-20:CommonTypes`), shared by the five sets.
    pub mod types {
        pub use crate::generated::iso20_types::*;
    }
}
