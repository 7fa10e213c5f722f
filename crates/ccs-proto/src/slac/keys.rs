//! NMK and NID derivation (HomePlug AV 1.1 §13.5; homeplug-slac.md §3.5), as QCA's
//! `HPAVKeyNID`/`HPAVKeyNMK`, libslac and pyslac compute them.

use sha2::{Digest, Sha256};

use crate::homeplug::{Nid, Nmk};

/// The salt appended to a password to derive an NMK (NMK-HS).
const NMK_SALT: [u8; 8] = [0x08, 0x85, 0x6d, 0xaf, 0x7c, 0xf5, 0x81, 0x86];
/// The salt appended to a device password to derive a DAK.
const DAK_SALT: [u8; 8] = [0x08, 0x85, 0x6d, 0xaf, 0x7c, 0xf5, 0x81, 0x85];

/// The security level encoded into bits 4–5 of the last NID byte.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub enum SecurityLevel {
    /// 0: simple connect, what ISO 15118-3 uses.
    #[default]
    SimpleConnect,
    /// 1: secure (high security).
    Secure,
}

/// PBKDF1 with SHA-256 and no salt beyond the input: hash once, then `rounds - 1` re-hashes.
fn pbkdf1(input: &[u8], rounds: usize) -> [u8; 32] {
    let mut hash: [u8; 32] = Sha256::digest(input).into();
    for _ in 1..rounds {
        hash = Sha256::digest(hash).into();
    }
    hash
}

fn from_password(password: &[u8], salt: &[u8; 8]) -> [u8; 16] {
    let mut input = password.to_vec();
    input.extend_from_slice(salt);
    let hash = pbkdf1(&input, 1000);
    let mut key = [0u8; 16];
    key.copy_from_slice(&hash[..16]);
    key
}

impl Nmk {
    /// The NMK of a network password (NMK-HS): SHA-256(password ‖ salt), re-hashed 999
    /// times, first 16 bytes. `HomePlugAV` gives `50D3E493…`.
    pub fn from_password(password: &[u8]) -> Self {
        Self(from_password(password, &NMK_SALT))
    }

    /// A fresh NMK from 16 random bytes the caller drew from a CSPRNG. ISO 15118-3 wants one
    /// per charging session; the core draws no random numbers itself.
    pub const fn from_random(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }
}

/// The DAK (device access key) of a device password, same scheme as the NMK with another salt.
pub fn dak_from_password(password: &[u8]) -> [u8; 16] {
    from_password(password, &DAK_SALT)
}

impl Nid {
    /// The NID of an NMK: five SHA-256 rounds over the NMK, the first 52 bits, and the security
    /// level in bits 4–5 of the last byte (bits 6–7 stay zero).
    pub fn from_nmk(nmk: &Nmk, level: SecurityLevel) -> Self {
        let hash = pbkdf1(&nmk.0, 5);
        let mut nid = [0u8; 7];
        nid[..6].copy_from_slice(&hash[..6]);
        let level_bits: u8 = match level {
            SecurityLevel::SimpleConnect => 0,
            SecurityLevel::Secure => 1,
        };
        nid[6] = (hash[6] >> 4) | (level_bits << 4);
        Self(nid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_password_gives_the_reference_nmk_and_nid() {
        let nmk = Nmk::from_password(b"HomePlugAV");
        assert_eq!(nmk.to_string(), "50d3e4933f855b7040784df815aa8db7");
        assert_eq!(
            Nid::from_nmk(&nmk, SecurityLevel::SimpleConnect).to_string(),
            "b0f2e695666b03"
        );
        assert_eq!(
            Nid::from_nmk(&nmk, SecurityLevel::Secure).to_string(),
            "b0f2e695666b13"
        );
    }
}
