//! The system-call module: the only place in ccsplc where `unsafe` is allowed.
//!
//! Each submodule wraps one kernel facility behind a safe API over owned file descriptors:
//!
//! - [`packet`]: AF_PACKET raw sockets bound to one EtherType on one interface (HomePlug
//!   `0x88E1`), `packet(7)`.
//! - [`ifaddr`]: the interface index, MAC and IPv6 addresses, from `if_nametoindex(3)` and
//!   `getifaddrs(3)`, plus the DAD state from the kernel's `/proc/net/if_inet6`.
//! - [`tap`]: TAP devices (`/dev/net/tun`, `TUNSETIFF`) and bringing an interface up
//!   (`SIOCSIFFLAGS`), for the modem simulator.
//! - [`netns`]: running a closure on a thread that has entered a named network namespace
//!   (`setns(2)`), for the namespace tests and the modem simulator.
//!
//! Every `unsafe` block carries a `SAFETY:` comment.
#![allow(unsafe_code)]

pub mod ifaddr;
pub mod netns;
pub mod packet;
pub mod tap;

use std::io;

/// Turns a `-1` return of a libc call into the `errno` error.
fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Turns a `-1` return of a libc call returning `ssize_t` into the `errno` error.
fn cvt_size(ret: libc::ssize_t) -> io::Result<usize> {
    usize::try_from(ret).map_err(|_| io::Error::last_os_error())
}

/// Copies an interface name into a NUL-terminated `IFNAMSIZ` array.
fn ifname_array(name: &str) -> io::Result<[libc::c_char; libc::IFNAMSIZ]> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid interface name {name:?}"),
        ));
    }
    let mut out = [0 as libc::c_char; libc::IFNAMSIZ];
    for (dst, src) in out.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    Ok(out)
}

/// Types of this module that own exactly one descriptor for their whole life.
trait OwnsFd: std::os::fd::AsRawFd {}

impl OwnsFd for packet::PacketSocket {}
impl OwnsFd for tap::TapDevice {}

/// Registers one of this module's descriptor owners ([`packet::PacketSocket`],
/// [`tap::TapDevice`]) with tokio's reactor. Must be called inside a tokio runtime.
#[allow(private_bounds)]
pub fn register_async<T: OwnsFd>(inner: T) -> io::Result<tokio::io::unix::AsyncFd<T>> {
    // SAFETY: `T` owns an `OwnedFd` that it never replaces or closes before it is dropped, and
    // its `as_raw_fd` always returns that descriptor, as `AsyncFd::register` requires.
    unsafe { tokio::io::unix::AsyncFd::register(inner) }.map_err(|e| e.into_parts().1)
}
