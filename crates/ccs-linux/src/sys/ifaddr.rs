//! What the kernel knows about an interface: its index (`if_nametoindex(3)`), its MAC and IPv6
//! addresses (`getifaddrs(3)`), and whether an IPv6 address is still tentative (duplicate
//! address detection running), from the kernel's `/proc/thread-self/net/if_inet6`.

use std::ffi::{CStr, CString};
use std::io;
use std::net::Ipv6Addr;

/// The IFA_F_TENTATIVE flag of `/proc/net/if_inet6` (`include/uapi/linux/if_addr.h`).
const IFA_F_TENTATIVE: u32 = 0x40;
/// The IFA_F_DADFAILED flag.
const IFA_F_DADFAILED: u32 = 0x08;

/// The index of the interface called `name`.
pub fn interface_index(name: &str) -> io::Result<u32> {
    let c_name = CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface name has a NUL"))?;
    // SAFETY: `c_name` is a valid NUL-terminated string for the duration of the call.
    let index = unsafe { libc::if_nametoindex(c_name.as_ptr()) };
    if index == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(index)
    }
}

/// The link-layer and IPv6 addresses of one interface.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct InterfaceAddresses {
    /// The 6-byte MAC address, if the interface has one.
    pub mac: Option<[u8; 6]>,
    /// Every IPv6 address with its scope id (non-zero for link-local addresses).
    pub ipv6: Vec<(Ipv6Addr, u32)>,
}

/// Owns the list returned by `getifaddrs` and frees it on drop.
struct IfAddrs(*mut libc::ifaddrs);

impl Drop for IfAddrs {
    fn drop(&mut self) {
        // SAFETY: the pointer came from a successful `getifaddrs` and is freed exactly once.
        unsafe { libc::freeifaddrs(self.0) }
    }
}

/// The MAC and IPv6 addresses of the interface called `name`, from `getifaddrs(3)`.
pub fn interface_addresses(name: &str) -> io::Result<InterfaceAddresses> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: `head` is a valid out-pointer; on success the list is owned by `IfAddrs`.
    super::cvt(unsafe { libc::getifaddrs(&mut head) })?;
    let list = IfAddrs(head);
    let mut out = InterfaceAddresses::default();
    let mut cursor = list.0;
    while !cursor.is_null() {
        // SAFETY: `cursor` points into the list owned by `list`, which is alive.
        let entry = unsafe { &*cursor };
        cursor = entry.ifa_next;
        if entry.ifa_name.is_null() || entry.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: `ifa_name` is a NUL-terminated string owned by the list.
        let entry_name = unsafe { CStr::from_ptr(entry.ifa_name) };
        if entry_name.to_bytes() != name.as_bytes() {
            continue;
        }
        // SAFETY: `ifa_addr` is non-null and points at a sockaddr of at least its family's
        // header size.
        let family = libc::c_int::from(unsafe { (*entry.ifa_addr).sa_family });
        match family {
            libc::AF_PACKET => {
                // SAFETY: for AF_PACKET, getifaddrs stores a `sockaddr_ll`.
                let ll = unsafe { &*entry.ifa_addr.cast::<libc::sockaddr_ll>() };
                if ll.sll_halen == 6 {
                    let mut mac = [0; 6];
                    mac.copy_from_slice(&ll.sll_addr[..6]);
                    out.mac = Some(mac);
                }
            }
            libc::AF_INET6 => {
                // SAFETY: for AF_INET6, getifaddrs stores a `sockaddr_in6`.
                let sin6 = unsafe { &*entry.ifa_addr.cast::<libc::sockaddr_in6>() };
                out.ipv6
                    .push((Ipv6Addr::from(sin6.sin6_addr.s6_addr), sin6.sin6_scope_id));
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The state of an IPv6 address from duplicate address detection.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum DadState {
    /// DAD still running: the address cannot be bound yet.
    Tentative,
    /// DAD failed: another host has the address.
    Failed,
    /// Usable.
    Ready,
}

/// The DAD state of `address` on interface `name`, from `/proc/net/if_inet6`; `None` if the
/// interface does not have the address.
pub fn ipv6_dad_state(name: &str, address: Ipv6Addr) -> io::Result<Option<DadState>> {
    // `/proc/net` follows the process's (main thread's) namespace; `thread-self` follows the
    // calling thread's, which differs on threads that entered a namespace with `setns`.
    let table = std::fs::read_to_string("/proc/thread-self/net/if_inet6")?;
    Ok(parse_if_inet6(&table, name, address))
}

/// Parses the kernel's `if_inet6` table: `address ifindex prefixlen scope flags name`, the
/// address as 32 hex digits, the numbers in hex.
fn parse_if_inet6(table: &str, name: &str, address: Ipv6Addr) -> Option<DadState> {
    table.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [addr_hex, _ifindex, _prefix, _scope, flags_hex, ifname] = fields[..] else {
            return None;
        };
        if ifname != name {
            return None;
        }
        let raw = u128::from_str_radix(addr_hex, 16).ok()?;
        if Ipv6Addr::from(raw) != address {
            return None;
        }
        let flags = u32::from_str_radix(flags_hex, 16).ok()?;
        Some(if flags & IFA_F_DADFAILED != 0 {
            DadState::Failed
        } else if flags & IFA_F_TENTATIVE != 0 {
            DadState::Tentative
        } else {
            DadState::Ready
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_has_an_index_and_a_name_lookup_fails_cleanly() {
        assert!(interface_index("lo").unwrap() > 0);
        assert!(interface_index("no-such-if0").is_err());
        assert!(interface_index("bad\0name").is_err());
    }

    #[test]
    fn if_inet6_table_is_parsed_with_flags() {
        let table = "fe80000000000000b0a1b2fffec3d4e5 03 40 20 40  ev0\n\
                     fe80000000000000b0a1b2fffec3d4e6 03 40 20 80  ev0\n\
                     00000000000000000000000000000001 01 80 10 80       lo\n";
        let a: Ipv6Addr = "fe80::b0a1:b2ff:fec3:d4e5".parse().unwrap();
        let b: Ipv6Addr = "fe80::b0a1:b2ff:fec3:d4e6".parse().unwrap();
        assert_eq!(parse_if_inet6(table, "ev0", a), Some(DadState::Tentative));
        assert_eq!(parse_if_inet6(table, "ev0", b), Some(DadState::Ready));
        assert_eq!(parse_if_inet6(table, "lo", a), None);
        assert_eq!(
            parse_if_inet6(table, "lo", Ipv6Addr::LOCALHOST),
            Some(DadState::Ready)
        );
    }
}
