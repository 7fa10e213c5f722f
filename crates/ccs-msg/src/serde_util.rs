//! JSON representation of binary values (lowercase hex, as pyPLC and OpenV2Gx print them) and
//! of unbounded integers (decimal strings).

// A build with only some schemas uses only some of these codecs.
#![cfg_attr(
    not(all(feature = "din", feature = "iso2", feature = "iso20")),
    allow(dead_code)
)]

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex<E: serde::de::Error>(text: &str) -> Result<Vec<u8>, E> {
    if !text.len().is_multiple_of(2) {
        return Err(E::custom("odd number of hex digits"));
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| E::custom("invalid hex digit"))
        })
        .collect()
}

/// `Vec<u8>` as a hex string.
pub(crate) mod hex {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&to_hex(v))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        from_hex(&String::deserialize(d)?)
    }
}

/// `Option<Vec<u8>>` as an optional hex string.
pub(crate) mod hex_opt {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_some(&to_hex(v)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|t| from_hex(&t))
            .transpose()
    }
}

/// `Vec<Vec<u8>>` as a list of hex strings.
pub(crate) mod hex_vec {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|b| to_hex(b)))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|t| from_hex(t))
            .collect()
    }
}

/// `BigInt` as a decimal string.
pub(crate) mod bigint {
    use super::*;
    use ccs_exi::BigInt;

    pub(crate) fn serialize<S: Serializer>(v: &BigInt, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BigInt, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(|_| D::Error::custom("not a decimal integer"))
    }
}

/// `Option<BigInt>` as an optional decimal string.
pub(crate) mod bigint_opt {
    use super::*;
    use ccs_exi::BigInt;

    pub(crate) fn serialize<S: Serializer>(v: &Option<BigInt>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_some(&v.to_string()),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<BigInt>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|t| {
                t.parse()
                    .map_err(|_| D::Error::custom("not a decimal integer"))
            })
            .transpose()
    }
}
