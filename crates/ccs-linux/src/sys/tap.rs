//! TAP devices (`/dev/net/tun` with `IFF_TAP | IFF_NO_PI`): a virtual Ethernet interface whose
//! far end is a file descriptor. The kernel's frames on the interface (IPv6, ND, whatever the
//! host sends, including to AF_PACKET sockets) are read from the descriptor; frames written to
//! it arrive on the interface as if from the wire. Also: bringing an interface up and setting
//! its MAC with `SIOCSIFFLAGS`/`SIOCSIFHWADDR` (`netdevice(7)`).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use super::{cvt, cvt_size, ifname_array};

/// A TAP device; the interface disappears when this is dropped (unless made persistent).
#[derive(Debug)]
pub struct TapDevice {
    fd: OwnedFd,
    name: String,
}

impl TapDevice {
    /// Creates the TAP interface `name` in the calling thread's network namespace and opens its
    /// non-blocking descriptor. Needs CAP_NET_ADMIN.
    pub fn create(name: &str) -> io::Result<Self> {
        let ifr_name = ifname_array(name)?;
        // SAFETY: the path is a valid NUL-terminated string; the descriptor is owned below.
        let raw = cvt(unsafe {
            libc::open(
                c"/dev/net/tun".as_ptr(),
                libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        })?;
        // SAFETY: `raw` is a fresh, valid descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: `ifreq` is plain old data; all-zero is a valid value.
        let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
        ifr.ifr_name = ifr_name;
        ifr.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
        // SAFETY: TUNSETIFF reads and writes an `ifreq`, which `ifr` is.
        cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut ifr) })?;
        Ok(Self {
            fd,
            name: name.to_owned(),
        })
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads one frame the host sent on the interface. `WouldBlock` when none is waiting.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
        cvt_size(unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) })
    }

    /// Delivers one frame to the host, as if it had arrived from the wire.
    pub fn write(&self, frame: &[u8]) -> io::Result<usize> {
        // SAFETY: `frame` is valid for reads of `frame.len()` bytes.
        cvt_size(unsafe { libc::write(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len()) })
    }
}

impl AsRawFd for TapDevice {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for TapDevice {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// A datagram socket for interface ioctls in the calling thread's namespace.
fn ioctl_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain system call; the descriptor is owned below.
    let raw =
        cvt(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `raw` is a fresh, valid descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Brings the interface `name` up (like `ip link set NAME up`).
pub fn set_link_up(name: &str) -> io::Result<()> {
    let sock = ioctl_socket()?;
    // SAFETY: `ifreq` is plain old data; all-zero is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    ifr.ifr_name = ifname_array(name)?;
    // SAFETY: SIOCGIFFLAGS fills `ifru_flags` of the `ifreq`.
    cvt(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr) })?;
    // SAFETY: the kernel has just written `ifru_flags`, the active union member.
    let flags = unsafe { ifr.ifr_ifru.ifru_flags };
    ifr.ifr_ifru.ifru_flags = flags | libc::IFF_UP as libc::c_short;
    // SAFETY: SIOCSIFFLAGS reads the `ifreq`.
    cvt(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &ifr) })?;
    Ok(())
}

/// Sets the MAC address of the interface `name` (do it before bringing it up).
pub fn set_mac(name: &str, mac: [u8; 6]) -> io::Result<()> {
    let sock = ioctl_socket()?;
    // SAFETY: `ifreq` is plain old data; all-zero is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    ifr.ifr_name = ifname_array(name)?;
    // SAFETY: `sockaddr` is plain old data; all-zero is a valid value.
    let mut hw: libc::sockaddr = unsafe { std::mem::zeroed() };
    hw.sa_family = libc::ARPHRD_ETHER;
    for (dst, src) in hw.sa_data.iter_mut().zip(mac) {
        *dst = src as libc::c_char;
    }
    ifr.ifr_ifru.ifru_hwaddr = hw;
    // SAFETY: SIOCSIFHWADDR reads the `ifreq` with `ifru_hwaddr` set.
    cvt(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFHWADDR, &ifr) })?;
    Ok(())
}
