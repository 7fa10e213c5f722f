//! The bit writer: encodes the EXI datatypes of the V2G profile.

use alloc::vec::Vec;

use crate::error::{Error, ErrorKind};
use crate::{BigInt, HEADER, Production, code_width};

/// Writes an EXI stream MSB first into a growing buffer.
#[derive(Clone, Debug, Default)]
pub struct Encoder {
    /// Complete bytes.
    buf: Vec<u8>,
    /// Pending bits (the low `pending` bits of `acc`; higher bits are stale), fewer than 32
    /// between calls.
    acc: u64,
    pending: u32,
    expected: &'static str,
}

impl Encoder {
    /// An empty encoder.
    pub fn new() -> Self {
        Self {
            buf: Vec::with_capacity(64),
            ..Self::default()
        }
    }

    /// Bits written so far.
    pub fn bit_position(&self) -> usize {
        self.buf.len() * 8 + self.pending as usize
    }

    /// Names what is being encoded, for error messages. Returns the previous name.
    #[inline]
    pub fn set_expected(&mut self, expected: &'static str) -> &'static str {
        core::mem::replace(&mut self.expected, expected)
    }

    /// An error of `kind` at the current position.
    pub fn error(&self, kind: ErrorKind) -> Error {
        Error::new(kind, self.bit_position(), self.expected)
    }

    /// Writes the header byte `0x80`.
    pub fn header(&mut self) {
        self.bits(8, u64::from(HEADER));
    }

    /// Writes the low `n` bits of `value` (n at most 64), MSB first.
    #[inline(always)]
    pub fn bits(&mut self, n: u32, value: u64) {
        debug_assert!(n <= 64);
        if n > 32 {
            self.wide_bits(n, value);
            return;
        }
        self.short_bits(n, value);
    }

    /// [`Self::bits`] for 33 to 64 bits: in two writes (not recursive, so `bits` inlines).
    #[inline(never)]
    fn wide_bits(&mut self, n: u32, value: u64) {
        self.short_bits(n - 32, value >> 32);
        self.short_bits(32, value & 0xffff_ffff);
    }

    /// [`Self::bits`] for at most 32 bits.
    #[inline(always)]
    fn short_bits(&mut self, n: u32, value: u64) {
        // `pending` < 32 and n <= 32: the accumulator holds them all.
        self.acc = (self.acc << n) | (value & ((1u64 << n) - 1));
        self.pending += n;
        if self.pending >= 32 {
            self.pending -= 32;
            let word = (self.acc >> self.pending) as u32;
            self.buf.extend_from_slice(&word.to_be_bytes());
        }
    }

    /// Writes the event code of `production` in a state with the given first-level
    /// productions (plus the non-strict escape slot).
    #[inline(always)]
    pub fn event<P: Production + PartialEq>(
        &mut self,
        productions: &[P],
        production: P,
    ) -> Result<(), Error> {
        let Some(code) = productions.iter().position(|p| *p == production) else {
            return Err(self.error(ErrorKind::NotInGrammar(production.name())));
        };
        self.bits(code_width(productions.len() as u32 + 1), code as u64);
        Ok(())
    }

    /// Writes the event code of the only production of a state (one bit, 0).
    #[inline(always)]
    pub fn only(&mut self) {
        self.bits(1, 0);
    }

    /// Writes an event code without escape slot (document and fragment content).
    #[inline]
    pub fn plain_code(&mut self, count: u32, code: u32) {
        self.bits(code_width(count), u64::from(code));
    }

    /// Writes a boolean.
    #[inline(always)]
    pub fn boolean(&mut self, value: bool) {
        self.bits(1, u64::from(value));
    }

    /// Writes an n-bit unsigned integer.
    #[inline(always)]
    pub fn nbit(&mut self, n: u32, value: u64) {
        self.bits(n, value);
    }

    /// Writes an EXI unsigned integer.
    #[inline(always)]
    pub fn unsigned(&mut self, mut value: u64) {
        if value < 0x80 {
            self.bits(8, value);
            return;
        }
        loop {
            let group = value & 0x7f;
            value >>= 7;
            if value == 0 {
                self.bits(8, group);
                return;
            }
            self.bits(8, group | 0x80);
        }
    }

    /// Writes an EXI integer (sign bit and magnitude; -1 is sign 1, magnitude 0).
    #[inline]
    pub fn signed(&mut self, value: i64) {
        if value < 0 {
            self.boolean(true);
            self.unsigned((-(value + 1)) as u64);
        } else {
            self.boolean(false);
            self.unsigned(value as u64);
        }
    }

    /// Writes an EXI integer of any size.
    pub fn big_integer(&mut self, value: &BigInt) {
        self.boolean(value.negative);
        let groups = value.to_groups();
        let last = groups.len().saturating_sub(1);
        for (i, g) in groups.iter().enumerate() {
            let more = if i < last { 0x80 } else { 0 };
            self.bits(8, u64::from(g | more));
        }
    }

    /// Writes a length-prefixed binary value.
    pub fn binary(&mut self, value: &[u8]) {
        self.unsigned(value.len() as u64);
        let mut words = value.chunks_exact(4);
        for word in &mut words {
            self.bits(
                32,
                u64::from_be_bytes([0, 0, 0, 0, word[0], word[1], word[2], word[3]]),
            );
        }
        for &b in words.remainder() {
            self.bits(8, u64::from(b));
        }
    }

    /// Writes a string value as a literal (length + 2, then the code points).
    pub fn string(&mut self, value: &str) {
        self.unsigned(value.chars().count() as u64 + 2);
        for c in value.chars() {
            self.unsigned(u64::from(u32::from(c)));
        }
    }

    /// Pads with zero bits to the byte boundary and returns the stream.
    pub fn finish(mut self) -> Vec<u8> {
        if self.pending > 0 {
            // The pending bits, MSB-aligned in a u64 (1 <= pending < 32), then zero bits.
            let aligned = (self.acc << (64 - self.pending)).to_be_bytes();
            let used = self.pending.div_ceil(8) as usize;
            self.buf
                .extend_from_slice(aligned.get(..used).unwrap_or_default());
        }
        self.buf
    }
}
