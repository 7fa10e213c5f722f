//! The PLC interface as the kernel knows it: index, MAC and link-local IPv6 address.

use std::net::{Ipv6Addr, SocketAddrV6};
use std::time::Duration;

use crate::error::LinkError;
use crate::sys::ifaddr::{self, DadState};

/// A network interface with what V2G needs of it.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Interface {
    /// The name, e.g. `eth1` or `plc0`.
    pub name: String,
    /// The interface index (the scope id of its link-local addresses).
    pub index: u32,
    /// The MAC address (the host MAC used in SLAC and as the EVCCID).
    pub mac: [u8; 6],
    /// The first link-local IPv6 address whose duplicate address detection has finished.
    pub link_local: Ipv6Addr,
}

impl Interface {
    /// Reads the interface from the kernel now; fails if it has no MAC or no usable
    /// link-local address yet.
    pub fn lookup(name: &str) -> Result<Self, LinkError> {
        let index = ifaddr::interface_index(name)
            .map_err(|e| LinkError::io(format!("interface {name}"), e))?;
        let addrs = ifaddr::interface_addresses(name)
            .map_err(|e| LinkError::io(format!("addresses of {name}"), e))?;
        let mac = addrs.mac.ok_or_else(|| {
            LinkError::io(
                format!("MAC of {name}"),
                std::io::Error::new(std::io::ErrorKind::NotFound, "no Ethernet address"),
            )
        })?;
        let link_local = addrs
            .ipv6
            .iter()
            .map(|(addr, _)| *addr)
            .filter(|addr| addr.is_unicast_link_local())
            .find(|addr| {
                matches!(
                    ifaddr::ipv6_dad_state(name, *addr),
                    Ok(Some(DadState::Ready))
                )
            })
            .ok_or_else(|| LinkError::NoLinkLocalAddress {
                interface: name.to_owned(),
            })?;
        Ok(Self {
            name: name.to_owned(),
            index,
            mac,
            link_local,
        })
    }

    /// Waits until the interface exists and has a usable link-local address (after the link
    /// comes up, DAD takes about 1–2 s), polling every 50 ms.
    pub async fn wait_ready(name: &str, timeout: Duration) -> Result<Self, LinkError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match Self::lookup(name) {
                Ok(iface) => return Ok(iface),
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    return Err(LinkError::Timeout(format!(
                        "interface {name} not ready after {timeout:?}: {e}"
                    )));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// The socket address `[link_local%index]:port`.
    pub fn socket_addr(&self, port: u16) -> SocketAddrV6 {
        SocketAddrV6::new(self.link_local, port, 0, self.index)
    }

    /// `address` on this interface's link: the scope id is added for link-local addresses.
    pub fn scoped(&self, address: Ipv6Addr, port: u16) -> SocketAddrV6 {
        let scope = if address.is_unicast_link_local() || address.is_multicast() {
            self.index
        } else {
            0
        };
        SocketAddrV6::new(address, port, 0, scope)
    }

    /// The MAC as `aa:bb:cc:dd:ee:ff`.
    pub fn mac_string(&self) -> String {
        let m = self.mac;
        format!(
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}
