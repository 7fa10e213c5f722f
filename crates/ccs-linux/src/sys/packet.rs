//! AF_PACKET raw sockets (`packet(7)`): whole Ethernet frames of one EtherType on one
//! interface, e.g. HomePlug AV / Green PHY management messages (`0x88E1`).
//!
//! The socket is bound to the interface and the EtherType, so the kernel filters for us; a
//! socket bound to one EtherType does not see its own transmissions (`reference/homeplug-slac.md`
//! §8.1). It is non-blocking and close-on-exec, ready for `tokio::io::unix::AsyncFd`.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use super::{cvt, cvt_size};

/// What `recvfrom` says about a frame (`sll_pkttype` of `packet(7)`).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum PacketType {
    /// Addressed to this host.
    Host,
    /// Broadcast.
    Broadcast,
    /// Multicast.
    Multicast,
    /// Unicast to another host (seen without promiscuous mode on veth).
    OtherHost,
    /// Sent by this host.
    Outgoing,
    /// Any other value.
    Unknown(u8),
}

impl From<u8> for PacketType {
    fn from(raw: u8) -> Self {
        match raw {
            0 => Self::Host,
            1 => Self::Broadcast,
            2 => Self::Multicast,
            3 => Self::OtherHost,
            4 => Self::Outgoing,
            other => Self::Unknown(other),
        }
    }
}

/// A non-blocking AF_PACKET/SOCK_RAW socket bound to one EtherType on one interface.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: u32,
    ethertype: u16,
}

impl PacketSocket {
    /// Opens a socket for `ethertype` frames on the interface with index `ifindex`. Needs
    /// CAP_NET_RAW.
    pub fn open(ifindex: u32, ethertype: u16) -> io::Result<Self> {
        let protocol = libc::c_int::from(ethertype.to_be());
        // SAFETY: plain system call with constant arguments; the returned descriptor is owned
        // below.
        let raw = cvt(unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                protocol,
            )
        })?;
        // SAFETY: `raw` is a fresh, valid descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let ifindex_c = libc::c_int::try_from(ifindex).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "interface index too large")
        })?;
        // SAFETY: `sockaddr_ll` is plain old data; all-zero is a valid value.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as libc::c_ushort;
        addr.sll_protocol = ethertype.to_be();
        addr.sll_ifindex = ifindex_c;
        // SAFETY: `addr` is a valid `sockaddr_ll` and the length passed is its size.
        cvt(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                std::ptr::from_ref(&addr).cast::<libc::sockaddr>(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })?;
        Ok(Self {
            fd,
            ifindex,
            ethertype,
        })
    }

    /// The interface index the socket is bound to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The EtherType the socket is bound to.
    pub fn ethertype(&self) -> u16 {
        self.ethertype
    }

    /// Sends one whole Ethernet frame (destination MAC first, no FCS). The kernel does not pad:
    /// the caller pads to 60 bytes where the protocol needs it.
    pub fn send(&self, frame: &[u8]) -> io::Result<usize> {
        // SAFETY: the pointer and length describe `frame`, which outlives the call.
        cvt_size(unsafe {
            libc::send(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                libc::MSG_DONTWAIT,
            )
        })
    }

    /// Receives one whole frame into `buf`; returns its length (truncated to `buf`) and how the
    /// kernel classified it. `WouldBlock` when nothing is waiting.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, PacketType)> {
        // SAFETY: `sockaddr_ll` is plain old data; all-zero is a valid value.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut addr_len = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes; `addr`/`addr_len` describe a
        // writable `sockaddr_ll`.
        let n = cvt_size(unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
                std::ptr::from_mut(&mut addr).cast::<libc::sockaddr>(),
                &mut addr_len,
            )
        })?;
        Ok((n.min(buf.len()), PacketType::from(addr.sll_pkttype)))
    }
}

impl AsRawFd for PacketSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for PacketSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
