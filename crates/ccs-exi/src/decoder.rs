//! The bit reader: decodes the EXI datatypes of the V2G profile from a byte slice.

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::{Error, ErrorKind};
use crate::{BigInt, HEADER, Production, code_width};

/// Reads an EXI stream MSB first. Never panics and never allocates more than the stream could
/// hold: every length is checked against the bits that remain before anything is allocated.
#[derive(Clone, Debug)]
pub struct Decoder<'a> {
    data: &'a [u8],
    bit: usize,
    expected: &'static str,
    /// The last (up to) eight bytes of `data` followed by zeros, so that reads near the end
    /// take the same eight-byte window as the rest.
    tail: [u8; 16],
    /// Index in `data` of `tail[0]`.
    tail_start: usize,
}

impl<'a> Decoder<'a> {
    /// A decoder at the start of `data` (the header byte included).
    pub fn new(data: &'a [u8]) -> Self {
        let tail_start = data.len().saturating_sub(8);
        let mut tail = [0u8; 16];
        for (to, from) in tail
            .iter_mut()
            .zip(data.get(tail_start..).unwrap_or_default())
        {
            *to = *from;
        }
        Self {
            data,
            bit: 0,
            expected: "EXI header",
            tail,
            tail_start,
        }
    }

    /// The current position in bits from the start.
    pub fn bit_position(&self) -> usize {
        self.bit
    }

    /// Bits left in the stream.
    pub fn remaining_bits(&self) -> usize {
        (self.data.len() * 8).saturating_sub(self.bit)
    }

    /// Names what is being decoded, for error messages. Returns the previous name.
    #[inline]
    pub fn set_expected(&mut self, expected: &'static str) -> &'static str {
        core::mem::replace(&mut self.expected, expected)
    }

    /// An error of `kind` at the current position.
    #[cold]
    #[inline(never)]
    pub fn error(&self, kind: ErrorKind) -> Error {
        Error::new(kind, self.bit, self.expected)
    }

    /// Reads the header: exactly `0x80` (distinguishing bits `10`, no options, version 1).
    pub fn header(&mut self) -> Result<(), Error> {
        let byte = self.bits(8)? as u8;
        if byte != HEADER {
            self.bit = 0;
            return Err(self.error(ErrorKind::BadHeader(byte)));
        }
        Ok(())
    }

    /// The eight bytes from the current one, shifted so that the next bit is the MSB (at
    /// least 57 valid bits, zeros after the end); `None` if fewer than `n` bits remain.
    #[inline(always)]
    fn window(&self, n: u32) -> Option<u64> {
        let byte = self.bit / 8;
        let bytes = match self
            .data
            .get(byte..)
            .and_then(|rest| rest.first_chunk::<8>())
        {
            Some(bytes) => bytes,
            None => {
                if self.bit + n as usize > self.data.len() * 8 {
                    return None;
                }
                self.tail
                    .get(byte.wrapping_sub(self.tail_start)..)?
                    .first_chunk::<8>()?
            }
        };
        Some(u64::from_be_bytes(*bytes) << (self.bit % 8))
    }

    /// Reads `n` bits (at most 64) as an unsigned number, MSB first.
    #[inline(always)]
    pub fn bits(&mut self, n: u32) -> Result<u64, Error> {
        debug_assert!(n <= 64);
        if n > 56 {
            return self.wide_bits(n);
        }
        let Some(window) = self.window(n) else {
            return Err(self.error(ErrorKind::UnexpectedEnd));
        };
        // Two shifts, so that n = 0 needs no branch (a shift by 64 would overflow).
        let value = (window >> 1) >> (63 - n);
        self.bit += n as usize;
        Ok(value)
    }

    /// [`Self::bits`] for 57 to 64 bits: in two reads.
    #[inline(never)]
    fn wide_bits(&mut self, n: u32) -> Result<u64, Error> {
        if n as usize > self.remaining_bits() {
            return Err(self.error(ErrorKind::UnexpectedEnd));
        }
        let high = self.bits(n - 32)?;
        let low = self.bits(32)?;
        Ok(high << 32 | low)
    }

    /// Reads the event code of a grammar state with `productions` first-level productions plus
    /// the non-strict escape slot, and returns the production taken. The escape (second-level
    /// events) and productions we do not decode are errors.
    #[inline(always)]
    pub fn event<P: Production>(&mut self, productions: &[P]) -> Result<P, Error> {
        let count = productions.len() as u32;
        let code = self.bits(code_width(count + 1))? as u32;
        match productions.get(code as usize) {
            Some(&p) => match p.unsupported() {
                Some(what) => Err(self.error(ErrorKind::UnsupportedEvent(what))),
                None => Ok(p),
            },
            None if code == count => Err(self.error(ErrorKind::SecondLevelEvent)),
            None => Err(self.error(ErrorKind::InvalidEventCode {
                code,
                productions: count,
            })),
        }
    }

    /// Reads the event code of a state whose only first-level production is the expected one
    /// (CH of a simple-typed element, or its EE): one bit, 0.
    #[inline(always)]
    pub fn only(&mut self) -> Result<(), Error> {
        match self.bits(1)? {
            0 => Ok(()),
            _ => Err(self.error(ErrorKind::SecondLevelEvent)),
        }
    }

    /// Reads an event code without an escape slot (document and fragment content): returns the
    /// index among `count` productions.
    #[inline]
    pub fn plain_code(&mut self, count: u32) -> Result<u32, Error> {
        let code = self.bits(code_width(count))? as u32;
        if code >= count {
            return Err(self.error(ErrorKind::InvalidEventCode {
                code,
                productions: count,
            }));
        }
        Ok(code)
    }

    /// Reads a boolean (one bit).
    #[inline(always)]
    pub fn boolean(&mut self) -> Result<bool, Error> {
        Ok(self.bits(1)? == 1)
    }

    /// Reads an n-bit unsigned integer (bounded integer ranges and enumerations).
    #[inline(always)]
    pub fn nbit(&mut self, n: u32) -> Result<u64, Error> {
        self.bits(n)
    }

    /// Reads an EXI unsigned integer (7-bit groups, least significant first) into a `u64`.
    #[inline(always)]
    pub fn unsigned(&mut self) -> Result<u64, Error> {
        // Fast path: values below 2^14 (lengths, characters, most physical values) in one or
        // two octets, read from one window.
        if let Some(window) = self.window(16) {
            let first = window >> 56;
            if first & 0x80 == 0 {
                self.bit += 8;
                return Ok(first);
            }
            let second = (window >> 48) & 0xff;
            if second & 0x80 == 0 {
                self.bit += 16;
                return Ok((first & 0x7f) | second << 7);
            }
        }
        self.unsigned_slow()
    }

    /// [`Self::unsigned`] octet by octet.
    #[inline(never)]
    fn unsigned_slow(&mut self) -> Result<u64, Error> {
        let mut value = 0u64;
        let mut shift = 0u32;
        loop {
            let octet = self.bits(8)?;
            let group = octet & 0x7f;
            if shift >= 64 || (shift > 0 && group >> (64 - shift) != 0) {
                if group != 0 {
                    return Err(self.error(ErrorKind::IntegerOverflow));
                }
            } else {
                value |= group << shift;
            }
            if octet & 0x80 == 0 {
                return Ok(value);
            }
            shift = shift.saturating_add(7);
        }
    }

    /// Reads an EXI integer (sign bit, then the magnitude as unsigned) into an `i64`.
    #[inline]
    pub fn signed(&mut self) -> Result<i64, Error> {
        let negative = self.boolean()?;
        let magnitude = self.unsigned()?;
        if negative {
            // EXI codes -1 as sign 1, magnitude 0.
            let m = i64::try_from(magnitude).map_err(|_| self.error(ErrorKind::IntegerOverflow))?;
            Ok(-m - 1)
        } else {
            i64::try_from(magnitude).map_err(|_| self.error(ErrorKind::IntegerOverflow))
        }
    }

    /// Reads an EXI integer of any size (xs:integer, e.g. certificate serial numbers).
    pub fn big_integer(&mut self) -> Result<BigInt, Error> {
        let negative = self.boolean()?;
        let mut groups = Vec::new();
        loop {
            let octet = self.bits(8)? as u8;
            groups.push(octet & 0x7f);
            if octet & 0x80 == 0 {
                break;
            }
        }
        Ok(BigInt::from_groups(negative, &groups))
    }

    /// Reads a length-prefixed binary value (hexBinary, base64Binary) of at most `max` octets.
    pub fn binary(&mut self, max: usize) -> Result<Vec<u8>, Error> {
        let len = self.unsigned()?;
        if len > max as u64 {
            return Err(self.error(ErrorKind::Facet {
                what: "length",
                value: i128::from(len),
                min: 0,
                max: max as i128,
            }));
        }
        let len = len as usize;
        if len > self.remaining_bits() / 8 {
            return Err(self.error(ErrorKind::UnexpectedEnd));
        }
        let start = self.bit / 8;
        let offset = (self.bit % 8) as u32;
        let out = if offset == 0 {
            self.data.get(start..start + len).map(<[u8]>::to_vec)
        } else {
            // Unaligned: each octet straddles two bytes; the length check above guarantees
            // the byte after the last one exists.
            self.data.get(start..=start + len).map(|bytes| {
                bytes
                    .windows(2)
                    .map(|w| (w[0] << offset) | (w[1] >> (8 - offset)))
                    .collect()
            })
        };
        let Some(out) = out else {
            return Err(self.error(ErrorKind::UnexpectedEnd));
        };
        self.bit += len * 8;
        Ok(out)
    }

    /// Reads a string value of at most `max` characters. Only literals are accepted: a string
    /// table hit (length codes 0 and 1) is an error.
    pub fn string(&mut self, max: usize) -> Result<String, Error> {
        let code = self.unsigned()?;
        if code < 2 {
            return Err(self.error(ErrorKind::StringTableHit));
        }
        let len = code - 2;
        if len > max as u64 {
            return Err(self.error(ErrorKind::Facet {
                what: "length",
                value: i128::from(len),
                min: 0,
                max: max as i128,
            }));
        }
        let len = len as usize;
        // Every character takes at least one octet.
        if len > self.remaining_bits() / 8 {
            return Err(self.error(ErrorKind::UnexpectedEnd));
        }
        let mut out = String::with_capacity(len);
        for _ in 0..len {
            let c = self.unsigned()?;
            let ch = u32::try_from(c)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| self.error(ErrorKind::InvalidCharacter(c)))?;
            out.push(ch);
        }
        Ok(out)
    }

    /// Ends the stream: the rest of the current byte is padding. Bytes after it are tolerated
    /// (lenient: tux-evse's encoder appended some, exi-v2g.md §1.7 item 1).
    pub fn finish(&mut self) -> Result<(), Error> {
        Ok(())
    }
}
