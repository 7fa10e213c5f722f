//! Typed decode and encode errors that say where in the stream and what was expected.

use core::fmt;

/// Why an EXI stream could not be decoded, or a value could not be encoded.
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The stream ended before the message did.
    UnexpectedEnd,
    /// The first byte is not the V2G header `0x80` (EXI header without options or cookie).
    BadHeader(u8),
    /// An event code outside the productions of the current grammar state.
    InvalidEventCode {
        /// The code read.
        code: u32,
        /// How many first-level productions the state has.
        productions: u32,
    },
    /// The escape to second-level events (xsi:type, xsi:nil, undeclared content). No V2G codec
    /// emits them; we reject them (exi-v2g.md §1.4).
    SecondLevelEvent,
    /// A declared production we do not decode: wildcard (`xs:any`) element content or untyped
    /// character data in xmldsig's mixed content.
    UnsupportedEvent(&'static str),
    /// A value string-table hit. V2G encoders write every value as a literal ([V2G2-099]);
    /// OpenV2G and libcbv2g reject hits too.
    StringTableHit,
    /// A value outside its schema facets (length, range, enumeration).
    Facet {
        /// The schema type or field.
        what: &'static str,
        /// The value or length seen.
        value: i128,
        /// Allowed minimum.
        min: i128,
        /// Allowed maximum.
        max: i128,
    },
    /// An integer too large for the Rust type that holds it.
    IntegerOverflow,
    /// A string character that is not a Unicode scalar value.
    InvalidCharacter(u64),
    /// A value that the encoder cannot place in the current grammar state (e.g. a choice that
    /// the schema does not allow here).
    NotInGrammar(&'static str),
    /// The root element is not the one the caller asked for.
    UnexpectedRoot(&'static str),
}

/// An EXI error: what went wrong, at which bit of the stream, and in which element.
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub struct Error {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Bit offset in the stream (header included) where it was noticed.
    pub bit_position: usize,
    /// What the codec expected at that point (grammar state or element), for humans.
    pub expected: &'static str,
}

impl Error {
    /// A new error.
    pub fn new(kind: ErrorKind, bit_position: usize, expected: &'static str) -> Self {
        Self {
            kind,
            bit_position,
            expected,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedEnd => write!(f, "stream ends too early"),
            Self::BadHeader(b) => write!(f, "EXI header is 0x{b:02x}, expected 0x80"),
            Self::InvalidEventCode { code, productions } => {
                write!(f, "event code {code} outside the {productions} productions")
            }
            Self::SecondLevelEvent => write!(f, "second-level event (escape code) not supported"),
            Self::UnsupportedEvent(what) => write!(f, "unsupported event {what}"),
            Self::StringTableHit => write!(f, "string table hit (V2G requires literal strings)"),
            Self::Facet {
                what,
                value,
                min,
                max,
            } => write!(f, "{what}: {value} outside {min}..={max}"),
            Self::IntegerOverflow => write!(f, "integer too large"),
            Self::InvalidCharacter(c) => write!(f, "invalid character code point {c:#x}"),
            Self::NotInGrammar(what) => write!(f, "{what} not allowed by the grammar here"),
            Self::UnexpectedRoot(what) => write!(f, "root element is not {what}"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "EXI: {} at bit {} (expected {})",
            self.kind, self.bit_position, self.expected
        )
    }
}

impl core::error::Error for Error {}
