//! A small deterministic random source for building valid messages in property tests and
//! fuzz targets (feature `random`; always on in this crate's unit tests).
//!
//! Every generated type has `random(&mut Rng) -> Self`, which respects the schema facets
//! (lengths, ranges, occurrence bounds), so the result encodes, and decoding it gives it back.

use alloc::string::String;
use alloc::vec::Vec;

use ccs_exi::BigInt;

/// SplitMix64: small, fast, good enough for test data; seeded by the caller.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
    /// Unbounded integers get up to this many magnitude octets.
    big_int_octets: u64,
}

impl Rng {
    /// A source seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            state: seed,
            big_int_octets: 20,
        }
    }

    /// The same, but unbounded integers (xs:integer) stay within 56 bits, for codecs that
    /// hold them in an `i64` (the `iso15118` crate does).
    pub fn with_big_ints_in_i64(mut self) -> Self {
        self.big_int_octets = 7;
        self
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    /// A fair coin.
    pub fn chance(&mut self) -> bool {
        self.next() & 1 == 1
    }

    /// An integer in `min..=max`, often one of the bounds.
    pub fn int(&mut self, min: i128, max: i128) -> i128 {
        match self.below(8) {
            0 => min,
            1 => max,
            _ => {
                let span = (max - min) as u128 + 1;
                let pick = (u128::from(self.next()) << 64 | u128::from(self.next())) % span;
                min + pick as i128
            }
        }
    }

    /// A repetition count in `min..=max`, at most three more than `min`.
    pub fn count(&mut self, min: usize, max: usize) -> usize {
        let top = max.min(min.saturating_add(3));
        min + self.below((top - min) as u64 + 1) as usize
    }

    fn length(&mut self, min: usize, max: usize) -> usize {
        let top = max.min(min.saturating_add(24));
        min + self.below((top - min) as u64 + 1) as usize
    }

    /// A string of `min..=max` characters (capped), including non-ASCII ones.
    pub fn string(&mut self, min: usize, max: usize) -> String {
        const CHARS: [char; 8] = ['a', 'Z', '0', ':', ' ', 'ü', '€', '😀'];
        (0..self.length(min, max))
            .map(|_| CHARS[self.below(CHARS.len() as u64) as usize])
            .collect()
    }

    /// `min..=max` random octets (capped).
    pub fn bytes(&mut self, min: usize, max: usize) -> Vec<u8> {
        (0..self.length(min, max))
            .map(|_| self.next() as u8)
            .collect()
    }

    /// An unbounded integer, sometimes wider than 64 bits.
    pub fn big_int(&mut self) -> BigInt {
        let octets = self.below(self.big_int_octets + 1);
        let magnitude: Vec<u8> = (0..octets).map(|_| self.next() as u8).collect();
        BigInt::new(self.chance(), &magnitude)
    }
}
