//! The Internet checksum (RFC 1071) and the pseudo-headers of RFC 8200 §8.1 and RFC 768.

use core::net::{Ipv4Addr, Ipv6Addr};

use super::ipv6::IpProtocol;

/// The ones'-complement sum of `data` as 16-bit big-endian words (odd tail padded with zero),
/// not yet folded or inverted.
pub fn sum(data: &[u8]) -> u32 {
    let mut acc: u64 = 0;
    let mut chunks = data.chunks_exact(2);
    for w in &mut chunks {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u64::from(u16::from_be_bytes([*last, 0]));
    }
    fold64(acc)
}

fn fold64(mut acc: u64) -> u32 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    // `acc` is at most 0xffff here.
    u32::try_from(acc).unwrap_or(0xffff)
}

/// Folds partial sums into the final checksum (inverted). A result of 0 is left as 0; UDP over
/// IPv6 must send 0xFFFF instead (RFC 8200 §8.1), see [`udp_result`].
pub fn combine(parts: &[u32]) -> u16 {
    let acc: u64 = parts.iter().map(|&p| u64::from(p)).sum();
    let folded = fold64(acc);
    !u16::try_from(folded).unwrap_or(0xffff)
}

/// The UDP rule: a computed checksum of zero is transmitted as all ones (RFC 768, RFC 8200
/// §8.1), because zero means "no checksum" in IPv4 and is forbidden in IPv6.
pub const fn udp_result(checksum: u16) -> u16 {
    if checksum == 0 { 0xffff } else { checksum }
}

/// The IPv6 pseudo-header sum (RFC 8200 §8.1): addresses, upper-layer length, next header.
pub fn pseudo_header_v6(src: &Ipv6Addr, dst: &Ipv6Addr, protocol: IpProtocol, len: u32) -> u32 {
    let mut acc = u64::from(sum(&src.octets())) + u64::from(sum(&dst.octets()));
    acc += u64::from(len >> 16) + u64::from(len & 0xffff);
    acc += u64::from(u8::from(protocol));
    fold64(acc)
}

/// The IPv4 pseudo-header sum (RFC 768): addresses, zero, protocol, UDP/TCP length.
pub fn pseudo_header_v4(src: &Ipv4Addr, dst: &Ipv4Addr, protocol: IpProtocol, len: u16) -> u32 {
    let mut acc = u64::from(sum(&src.octets())) + u64::from(sum(&dst.octets()));
    acc += u64::from(u8::from(protocol)) + u64::from(len);
    fold64(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the sum of 00 01 f2 03 f4 f5 f6 f7 is ddf2 (folded), checksum 220d.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum(&data), 0xddf2);
        assert_eq!(combine(&[sum(&data)]), 0x220d);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(sum(&[0x12]), 0x1200);
        assert_eq!(udp_result(0), 0xffff);
    }
}
