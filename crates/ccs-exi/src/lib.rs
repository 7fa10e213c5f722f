//! The EXI runtime of ccsplc: the small, hand-written part of the V2G codec.
//!
//! V2G messages are EXI streams in one fixed profile (schema-informed, bit-packed, non-strict,
//! header byte `0x80`, literal strings only; see `shared/reference/exi-v2g.md` §1). This crate
//! holds what every generated grammar needs and nothing schema-specific:
//!
//! - a bit reader and a bit writer (MSB first),
//! - EXI unsigned and signed integers of any length, n-bit unsigned values, booleans,
//! - strings (literal values only, as V2G requires) and binary (hex/base64) values,
//! - event codes and the header,
//! - typed errors that say where in the stream and what was expected.
//!
//! The generated message types and grammars live in `ccs-msg`, which is the only crate that
//! depends on this one. This crate is `no_std` + `alloc` and depends on nothing heavy.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![warn(clippy::std_instead_of_core, clippy::alloc_instead_of_core)]

extern crate alloc;
