//! The async raw Ethernet link for HomePlug management messages (EtherType `0x88E1`): an
//! AF_PACKET socket ([`crate::sys::packet`]) under tokio's `AsyncFd`.

use std::io;

use tokio::io::unix::AsyncFd;

use crate::error::LinkError;
use crate::iface::Interface;
use crate::sys::packet::{PacketSocket, PacketType};

/// The EtherType of HomePlug AV / Green PHY management messages.
pub const ETHERTYPE_HOMEPLUG_AV: u16 = 0x88E1;

/// `ETH_P_ALL` of `packet(7)`: a socket opened with it sees every frame of the interface, of
/// any EtherType, in both directions (for recording a session: [`RawLink::recv_any`]).
pub const ETHERTYPE_ALL: u16 = 0x0003;

/// An async AF_PACKET socket for one EtherType on one interface.
///
/// Call order: `open`, then `send`/`recv` from any task (both take `&self`; `recv` is
/// cancel-safe, so it can sit in a `tokio::select!` with the core's timer).
#[derive(Debug)]
pub struct RawLink {
    fd: AsyncFd<PacketSocket>,
}

impl RawLink {
    /// Opens the socket for `ethertype` on `iface`. Needs CAP_NET_RAW.
    pub fn open(iface: &Interface, ethertype: u16) -> Result<Self, LinkError> {
        Self::open_index(&iface.name, iface.index, ethertype)
    }

    /// Opens the socket by interface index (for interfaces without an IPv6 address yet).
    pub fn open_index(name: &str, index: u32, ethertype: u16) -> Result<Self, LinkError> {
        let socket = PacketSocket::open(index, ethertype)
            .map_err(|e| LinkError::io(format!("AF_PACKET socket on {name}"), e))?;
        let fd = crate::sys::register_async(socket)
            .map_err(|e| LinkError::io(format!("registering AF_PACKET socket on {name}"), e))?;
        Ok(Self { fd })
    }

    /// Sends one frame (the caller pads it to 60 bytes where needed).
    pub async fn send(&self, frame: &[u8]) -> io::Result<()> {
        loop {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|inner| inner.get_ref().send(frame)) {
                Ok(result) => return result.map(|_| ()),
                Err(_would_block) => continue,
            }
        }
    }

    /// Receives one frame into `buf`, our own outgoing frames included (a socket opened for
    /// [`ETHERTYPE_ALL`] sees both directions); says whether it was outgoing.
    pub async fn recv_any(&self, buf: &mut [u8]) -> io::Result<(usize, bool)> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|inner| inner.get_ref().recv(buf)) {
                Ok(Ok((n, kind))) => return Ok((n, kind == PacketType::Outgoing)),
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }

    /// Receives one frame into `buf`, skipping our own outgoing frames.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|inner| inner.get_ref().recv(buf)) {
                Ok(Ok((_, PacketType::Outgoing))) => continue,
                Ok(Ok((n, _))) => return Ok(n),
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }
}
