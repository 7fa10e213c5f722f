//! Integers of any size, for unbounded `xs:integer` values (certificate serial numbers).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

/// An integer of any size: sign and magnitude, as EXI codes `xs:integer`.
///
/// The value is `magnitude` for non-negative numbers; EXI codes a negative `v` as sign 1 and
/// magnitude `-v - 1`, and this type stores the value itself, so `-1` has magnitude `[1]`.
#[derive(Clone, Debug, Default, Eq, Hash, PartialEq)]
pub struct BigInt {
    /// True for values below zero.
    pub negative: bool,
    /// Absolute value, big-endian, without leading zero octets (empty for zero).
    pub magnitude: Vec<u8>,
}

impl BigInt {
    /// The value of a small integer.
    pub fn from_i128(value: i128) -> Self {
        let negative = value < 0;
        let magnitude = value.unsigned_abs().to_be_bytes();
        Self::new(negative, &magnitude)
    }

    /// A value from its sign and big-endian magnitude (leading zeros are dropped).
    pub fn new(negative: bool, magnitude: &[u8]) -> Self {
        let start = magnitude
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(magnitude.len());
        let magnitude = magnitude[start..].to_vec();
        let negative = negative && !magnitude.is_empty();
        Self {
            negative,
            magnitude,
        }
    }

    /// Builds the value from EXI's sign bit and 7-bit groups (least significant first).
    pub(crate) fn from_groups(negative: bool, groups: &[u8]) -> Self {
        // Assemble the coded magnitude in little-endian bits.
        let mut le = Vec::with_capacity(groups.len());
        let mut acc = 0u32;
        let mut nbits = 0;
        for &g in groups {
            acc |= u32::from(g) << nbits;
            nbits += 7;
            while nbits >= 8 {
                le.push(acc as u8);
                acc >>= 8;
                nbits -= 8;
            }
        }
        if nbits > 0 {
            le.push(acc as u8);
        }
        le.reverse();
        let mut value = Self::new(false, &le);
        if negative {
            // Coded magnitude m stands for -(m + 1).
            value.increment();
            value.negative = true;
        }
        value
    }

    /// EXI's 7-bit groups (least significant first) of the coded magnitude.
    pub(crate) fn to_groups(&self) -> Vec<u8> {
        let mut coded = self.clone();
        if self.negative {
            coded.decrement();
        }
        let mut groups = Vec::new();
        let mut acc = 0u32;
        let mut nbits = 0;
        for &b in coded.magnitude.iter().rev() {
            acc |= u32::from(b) << nbits;
            nbits += 8;
            while nbits >= 7 {
                groups.push((acc & 0x7f) as u8);
                acc >>= 7;
                nbits -= 7;
            }
        }
        if nbits > 0 {
            groups.push((acc & 0x7f) as u8);
        }
        while groups.len() > 1 && groups.last() == Some(&0) {
            groups.pop();
        }
        if groups.is_empty() {
            groups.push(0);
        }
        groups
    }

    fn increment(&mut self) {
        for b in self.magnitude.iter_mut().rev() {
            let (v, carry) = b.overflowing_add(1);
            *b = v;
            if !carry {
                return;
            }
        }
        self.magnitude.insert(0, 1);
    }

    fn decrement(&mut self) {
        for b in self.magnitude.iter_mut().rev() {
            let (v, borrow) = b.overflowing_sub(1);
            *b = v;
            if !borrow {
                break;
            }
        }
        let start = self
            .magnitude
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(self.magnitude.len());
        self.magnitude.drain(..start);
    }
}

impl fmt::Display for BigInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Repeated division by 10 over the big-endian magnitude.
        let mut digits = Vec::new();
        let mut rest = self.magnitude.clone();
        while !rest.is_empty() {
            let mut remainder = 0u32;
            for b in rest.iter_mut() {
                let cur = (remainder << 8) | u32::from(*b);
                *b = (cur / 10) as u8;
                remainder = cur % 10;
            }
            digits.push(b'0' + remainder as u8);
            let start = rest.iter().position(|&b| b != 0).unwrap_or(rest.len());
            rest.drain(..start);
        }
        if digits.is_empty() {
            digits.push(b'0');
        }
        if self.negative {
            f.write_str("-")?;
        }
        digits.reverse();
        f.write_str(&String::from_utf8_lossy(&digits))
    }
}

/// A decimal string that is not an integer.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct ParseBigIntError;

impl fmt::Display for ParseBigIntError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a decimal integer")
    }
}

impl FromStr for BigInt {
    type Err = ParseBigIntError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (negative, digits) = match s.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseBigIntError);
        }
        let mut magnitude: Vec<u8> = Vec::new();
        for d in digits.bytes() {
            let mut carry = u32::from(d - b'0');
            for b in magnitude.iter_mut().rev() {
                let cur = u32::from(*b) * 10 + carry;
                *b = cur as u8;
                carry = cur >> 8;
            }
            while carry > 0 {
                magnitude.insert(0, carry as u8);
                carry >>= 8;
            }
        }
        Ok(Self::new(negative, &magnitude))
    }
}
