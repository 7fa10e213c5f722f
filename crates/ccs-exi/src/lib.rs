//! The EXI runtime of ccsplc: the small, hand-written part of the V2G codec.
//!
//! V2G messages are EXI streams in one fixed profile (schema-informed, bit-packed, non-strict,
//! header byte `0x80`, literal strings only; see `shared/reference/exi-v2g.md` §1). This crate
//! holds what every generated grammar needs and nothing schema-specific:
//!
//! - a bit reader ([`Decoder`]) and a bit writer ([`Encoder`]), MSB first,
//! - EXI unsigned and signed integers of any length ([`BigInt`]), n-bit unsigned values,
//!   booleans,
//! - strings (literal values only, as V2G requires: a string-table hit is decoded as the typed
//!   error [`ErrorKind::StringTableHit`]) and binary (hex/base64) values,
//! - event codes with the non-strict escape slot ([`Production`]) and the header `0x80`,
//! - typed errors ([`Error`]) that say at which bit and what was expected.
//!
//! Decoding never panics and never allocates more than the input could encode: a length is
//! checked against its facet maximum and against the bits left before anything is allocated.
//!
//! The generated message types and grammars live in `ccs-msg`. This crate is `no_std` +
//! `alloc` (feature `std`, default, only adds nothing but `std::error::Error` through `core`).
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![warn(clippy::std_instead_of_core, clippy::alloc_instead_of_core)]

extern crate alloc;

mod bigint;
mod decoder;
mod encoder;
mod error;

pub use bigint::{BigInt, ParseBigIntError};
pub use decoder::Decoder;
pub use encoder::Encoder;
pub use error::{Error, ErrorKind};

/// The only EXI header V2G uses: distinguishing bits `10`, no options, version 1.
pub const HEADER: u8 = 0x80;

/// A first-level production of a grammar state, as the generated grammars name them.
pub trait Production: Copy {
    /// The event, for error messages (e.g. `SE(SessionID)`).
    fn name(self) -> &'static str;

    /// `Some(what)` for productions that exist only to count in the event code width and that
    /// we do not decode (xmldsig wildcards, untyped character data).
    fn unsupported(self) -> Option<&'static str> {
        None
    }
}

/// Bits of an event code that distinguishes `codes` values: ceil(log2(codes)).
pub const fn code_width(codes: u32) -> u32 {
    if codes <= 1 {
        0
    } else {
        32 - (codes - 1).leading_zeros()
    }
}

/// Bits of an n-bit unsigned integer for a range of `span + 1` values (EXI 1.0 §7.1.9).
pub const fn range_width(span: u64) -> u32 {
    if span == 0 {
        0
    } else {
        64 - span.leading_zeros()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    #[test]
    fn code_widths_follow_the_non_strict_rule() {
        assert_eq!(code_width(2), 1); // one production + escape
        assert_eq!(code_width(4), 2); // three productions + escape
        assert_eq!(code_width(82), 7); // DIN document: 81 globals + SE(*)
        assert_eq!(code_width(1), 0);
        assert_eq!(range_width(100), 7);
        assert_eq!(range_width(6), 3);
    }

    #[test]
    fn integers_round_trip() {
        let mut e = Encoder::new();
        e.unsigned(0);
        e.unsigned(300);
        e.unsigned(u64::MAX);
        e.signed(-1);
        e.signed(i64::MIN);
        e.bits(3, 5);
        let bytes = e.finish();
        let mut d = Decoder::new(&bytes);
        assert_eq!(d.unsigned().unwrap(), 0);
        assert_eq!(d.unsigned().unwrap(), 300);
        assert_eq!(d.unsigned().unwrap(), u64::MAX);
        assert_eq!(d.signed().unwrap(), -1);
        assert_eq!(d.signed().unwrap(), i64::MIN);
        assert_eq!(d.bits(3).unwrap(), 5);
    }

    #[test]
    fn unsigned_overflow_is_an_error() {
        let bytes = vec![0xff; 12];
        let mut d = Decoder::new(&bytes);
        assert_eq!(d.unsigned().unwrap_err().kind, ErrorKind::IntegerOverflow);
    }

    #[test]
    fn big_integers_round_trip() {
        for text in [
            "0",
            "1",
            "-1",
            "-128",
            "123456789012345678901234567890123456789012345",
        ] {
            let v: BigInt = text.parse().unwrap();
            assert_eq!(v.to_string(), text);
            let mut e = Encoder::new();
            e.big_integer(&v);
            let bytes = e.finish();
            assert_eq!(Decoder::new(&bytes).big_integer().unwrap(), v);
        }
    }

    #[test]
    fn strings_and_binary_round_trip_and_hits_are_rejected() {
        let mut e = Encoder::new();
        e.string("Grüße");
        e.binary(&[1, 2, 3]);
        let bytes = e.finish();
        let mut d = Decoder::new(&bytes);
        assert_eq!(d.string(100).unwrap(), "Grüße");
        assert_eq!(d.binary(3).unwrap(), vec![1, 2, 3]);
        let mut d = Decoder::new(&[0x00]);
        assert_eq!(d.string(10).unwrap_err().kind, ErrorKind::StringTableHit);
        // An oversize length fails before allocating.
        let mut d = Decoder::new(&[0xff, 0xff, 0x7f]);
        assert!(matches!(
            d.binary(usize::MAX).unwrap_err().kind,
            ErrorKind::UnexpectedEnd
        ));
    }

    #[test]
    fn header_must_be_0x80() {
        assert!(Decoder::new(&[0x80]).header().is_ok());
        assert_eq!(
            Decoder::new(&[0xa0]).header().unwrap_err().kind,
            ErrorKind::BadHeader(0xa0)
        );
        assert_eq!(
            Decoder::new(&[]).header().unwrap_err().kind,
            ErrorKind::UnexpectedEnd
        );
    }
}
