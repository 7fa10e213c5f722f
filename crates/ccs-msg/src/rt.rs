//! Value codecs with facet checks, shared by the generated grammars.
//!
//! Decoding policy ("lenient in"): maximum lengths and integer ranges are always enforced
//! (memory safety, and a value outside its n-bit range cannot be represented); minimum and
//! exact lengths are *not* enforced on decode, because real peers send e.g. a zero-length DIN
//! SessionID (pyPLC's `809a0011d00000`, accepted by OpenV2G and libcbv2g). Encoding ("strict
//! out") checks every facet.

// A build with only some schemas uses only some of these codecs.
#![cfg_attr(
    not(all(feature = "din", feature = "iso2", feature = "iso20")),
    allow(dead_code)
)]

use alloc::string::String;
use alloc::vec::Vec;

use ccs_exi::{Decoder, Encoder, Error, ErrorKind, Production};

/// An event that the grammar allows but the generated code does not expect here.
pub(crate) fn unexpected<P: Production>(d: &Decoder<'_>, ev: P) -> Error {
    d.error(ErrorKind::NotInGrammar(ev.name()))
}

fn facet(what: &'static str, value: i128, min: i128, max: i128) -> ErrorKind {
    ErrorKind::Facet {
        what,
        value,
        min,
        max,
    }
}

/// An enumeration index of `bits` bits.
#[inline(always)]
pub(crate) fn enumeration<T>(
    d: &mut Decoder<'_>,
    bits: u32,
    from_index: fn(u64) -> Option<T>,
) -> Result<T, Error> {
    let index = d.nbit(bits)?;
    match from_index(index) {
        Some(value) => Ok(value),
        None => Err(bad_enumeration(d, index, bits)),
    }
}

#[cold]
#[inline(never)]
fn bad_enumeration(d: &Decoder<'_>, index: u64, bits: u32) -> Error {
    d.error(ErrorKind::Facet {
        what: "enumeration index",
        value: i128::from(index),
        min: 0,
        max: (1i128 << bits) - 1,
    })
}

#[inline(always)]
fn convert<T: TryFrom<i128>>(
    d: &Decoder<'_>,
    value: i128,
    min: i128,
    max: i128,
    what: &'static str,
) -> Result<T, Error> {
    if value < min || value > max {
        return Err(out_of_range(d, value, min, max, what));
    }
    match T::try_from(value) {
        Ok(v) => Ok(v),
        Err(_) => Err(d.error(ErrorKind::IntegerOverflow)),
    }
}

#[cold]
#[inline(never)]
fn out_of_range(d: &Decoder<'_>, value: i128, min: i128, max: i128, what: &'static str) -> Error {
    d.error(facet(what, value, min, max))
}

/// A bounded integer coded as n-bit offset from `min`.
#[inline(always)]
pub(crate) fn nbit_int<T: TryFrom<i128>>(
    d: &mut Decoder<'_>,
    bits: u32,
    min: i128,
    max: i128,
    what: &'static str,
) -> Result<T, Error> {
    let raw = d.nbit(bits)?;
    convert(d, i128::from(raw) + min, min, max, what)
}

/// A non-negative integer coded as EXI unsigned integer.
#[inline(always)]
pub(crate) fn unsigned_int<T: TryFrom<i128>>(
    d: &mut Decoder<'_>,
    min: i128,
    max: i128,
    what: &'static str,
) -> Result<T, Error> {
    let raw = d.unsigned()?;
    convert(d, i128::from(raw), min, max, what)
}

/// A signed integer coded as EXI integer.
#[inline(always)]
pub(crate) fn signed_int<T: TryFrom<i128>>(
    d: &mut Decoder<'_>,
    min: i128,
    max: i128,
    what: &'static str,
) -> Result<T, Error> {
    let raw = d.signed()?;
    convert(d, i128::from(raw), min, max, what)
}

/// A string of at most `max` characters (the minimum is not enforced on decode).
pub(crate) fn string(
    d: &mut Decoder<'_>,
    _min: usize,
    max: usize,
    what: &'static str,
) -> Result<String, Error> {
    let previous = d.set_expected(what);
    let s = d.string(max)?;
    d.set_expected(previous);
    Ok(s)
}

/// Binary of at most `max` octets (the minimum is not enforced on decode).
pub(crate) fn binary(
    d: &mut Decoder<'_>,
    _min: usize,
    max: usize,
    what: &'static str,
) -> Result<Vec<u8>, Error> {
    let previous = d.set_expected(what);
    let b = d.binary(max)?;
    d.set_expected(previous);
    Ok(b)
}

fn check_range(
    e: &Encoder,
    value: i128,
    min: i128,
    max: i128,
    what: &'static str,
) -> Result<(), Error> {
    if value < min || value > max {
        return Err(e.error(facet(what, value, min, max)));
    }
    Ok(())
}

/// Encodes a bounded integer as n-bit offset from `min`.
pub(crate) fn put_nbit_int(
    e: &mut Encoder,
    value: i128,
    bits: u32,
    min: i128,
    max: i128,
    what: &'static str,
) -> Result<(), Error> {
    check_range(e, value, min, max, what)?;
    e.nbit(bits, (value - min) as u64);
    Ok(())
}

/// Encodes a non-negative integer as EXI unsigned integer.
pub(crate) fn put_unsigned_int(
    e: &mut Encoder,
    value: i128,
    min: i128,
    max: i128,
    what: &'static str,
) -> Result<(), Error> {
    check_range(e, value, min, max, what)?;
    e.unsigned(value as u64);
    Ok(())
}

/// Encodes a signed integer as EXI integer.
pub(crate) fn put_signed_int(
    e: &mut Encoder,
    value: i128,
    min: i128,
    max: i128,
    what: &'static str,
) -> Result<(), Error> {
    check_range(e, value, min, max, what)?;
    e.signed(value as i64);
    Ok(())
}

/// Encodes a string after checking its length facets.
pub(crate) fn put_string(
    e: &mut Encoder,
    value: &str,
    min: usize,
    max: usize,
    what: &'static str,
) -> Result<(), Error> {
    let len = value.chars().count();
    if len < min || len > max {
        return Err(e.error(facet(what, len as i128, min as i128, max as i128)));
    }
    e.string(value);
    Ok(())
}

/// Encodes binary after checking its length facets.
pub(crate) fn put_binary(
    e: &mut Encoder,
    value: &[u8],
    min: usize,
    max: usize,
    what: &'static str,
) -> Result<(), Error> {
    if value.len() < min || value.len() > max {
        return Err(e.error(facet(what, value.len() as i128, min as i128, max as i128)));
    }
    e.binary(value);
    Ok(())
}

/// Checks the number of occurrences of a repeated element before encoding it.
pub(crate) fn check_occurs(
    e: &Encoder,
    count: usize,
    min: usize,
    max: usize,
    what: &'static str,
) -> Result<(), Error> {
    if count < min || count > max {
        return Err(e.error(facet(what, count as i128, min as i128, max as i128)));
    }
    Ok(())
}
