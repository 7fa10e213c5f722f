//! SDP over UDP/IPv6 on the PLC interface: the async drivers around
//! [`ccs_proto::sdp::SdpClient`] and [`ccs_proto::sdp::SdpServer`].
//!
//! The client sends from its link-local address to `[ff02::1%if]:15118` and waits for the
//! unicast answer; the server listens on `[::]:15118` bound to the interface
//! (`SO_BINDTODEVICE`), so several chargers on one host each answer only their own link.

use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};

use ccs_proto::sdp::{
    SDP_MULTICAST_ADDRESS, SDP_SERVER_PORT, SdpClient, SdpClientConfig, SdpClientEvent,
    SdpClientStats, SdpServer, SdpServerEvent, SdpServerStats,
};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::error::LinkError;
use crate::iface::Interface;

/// The hop limit of SDP requests. Cars send 1, 10, 64 or 255; pyPLC's 10 is listed among its
/// defects (`reference/pyplc-behaviour.md` §14.2), 255 is what the reference recommends.
pub const DEFAULT_SDP_HOP_LIMIT: u32 = 255;

/// Largest datagram we read; SDP messages are 10 and 28 bytes, anything longer is malformed.
const MAX_DATAGRAM: usize = 512;

/// What SDP found: where to connect.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct DiscoveredSecc {
    /// The SECC's address with the interface's scope id, ready for `connect`.
    pub address: SocketAddrV6,
    /// Whether the announced port speaks TLS.
    pub tls: bool,
    /// The client's counters at the end.
    pub stats: SdpClientStats,
}

fn udp6_socket(context: &str) -> Result<Socket, LinkError> {
    let socket = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))
        .map_err(|e| LinkError::io(context.to_owned(), e))?;
    socket
        .set_only_v6(true)
        .and_then(|()| socket.set_nonblocking(true))
        .map_err(|e| LinkError::io(context.to_owned(), e))?;
    Ok(socket)
}

fn into_tokio(socket: Socket, context: &str) -> Result<UdpSocket, LinkError> {
    UdpSocket::from_std(socket.into()).map_err(|e| LinkError::io(context.to_owned(), e))
}

/// Runs the SDP client on `iface` until a SECC answers acceptably or the client gives up
/// ([`ccs_proto::sdp::SdpClientError`] inside [`LinkError::Sdp`]).
pub async fn discover_secc(
    iface: &Interface,
    config: SdpClientConfig,
    hop_limit: u32,
    clock: &Clock,
) -> Result<DiscoveredSecc, LinkError> {
    let context = format!("SDP client on {}", iface.name);
    let socket = udp6_socket(&context)?;
    socket
        .set_multicast_if_v6(iface.index)
        .and_then(|()| socket.set_multicast_hops_v6(hop_limit))
        .and_then(|()| socket.set_multicast_loop_v6(false))
        .and_then(|()| socket.bind(&SocketAddr::V6(iface.socket_addr(0)).into()))
        .map_err(|e| LinkError::io(context.clone(), e))?;
    let socket = into_tokio(socket, &context)?;
    let destination = SocketAddrV6::new(SDP_MULTICAST_ADDRESS, SDP_SERVER_PORT, 0, iface.index);

    let mut client = SdpClient::new(config);
    client.start(clock.now());
    let mut buf = [0u8; MAX_DATAGRAM];
    loop {
        while let Some(datagram) = client.poll_transmit() {
            socket
                .send_to(&datagram, destination)
                .await
                .map_err(|e| LinkError::io(context.clone(), e))?;
        }
        while let Some(event) = client.poll_event() {
            match event {
                SdpClientEvent::Discovered(endpoint) => {
                    tracing::info!(
                        address = %endpoint.address, port = endpoint.port, tls = endpoint.tls,
                        "SDP: found the SECC"
                    );
                    return Ok(DiscoveredSecc {
                        address: iface.scoped(endpoint.address, endpoint.port),
                        tls: endpoint.tls,
                        stats: client.stats(),
                    });
                }
                SdpClientEvent::Failed(error) => return Err(error.into()),
                SdpClientEvent::Rejected(why) => tracing::warn!(%why, "SDP: answer rejected"),
                SdpClientEvent::FellBackToNoTls => {
                    tracing::info!("SDP: no answer to TLS requests, asking for no TLS");
                }
            }
        }
        let Some(deadline) = client.poll_timeout() else {
            return Err(LinkError::Timeout(
                "SDP client stopped without a result".into(),
            ));
        };
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                let (n, from) = received.map_err(|e| LinkError::io(context.clone(), e))?;
                tracing::trace!(%from, len = n, "SDP: datagram");
                client.handle_datagram(clock.now(), &buf[..n]);
            }
            () = tokio::time::sleep_until(clock.deadline(deadline)) => {
                client.handle_timeout(clock.now());
            }
        }
    }
}

/// The charger's SDP server on one interface.
///
/// Call order: [`SdpResponder::bind`] (after the V2G listener is bound, so the announced port
/// is open), then [`SdpResponder::run`] in its own task for as long as the charger serves cars.
#[derive(Debug)]
pub struct SdpResponder {
    socket: UdpSocket,
    server: SdpServer,
    interface: String,
    clock: Clock,
}

impl SdpResponder {
    /// Binds UDP port 15118 on `iface` ([V2G2-125]) for `server`.
    pub fn bind(iface: &Interface, server: SdpServer, clock: Clock) -> Result<Self, LinkError> {
        let context = format!("SDP server on {}", iface.name);
        let socket = udp6_socket(&context)?;
        socket
            .set_reuse_address(true)
            .and_then(|()| socket.bind_device(Some(iface.name.as_bytes())))
            .and_then(|()| {
                socket.bind(
                    &SocketAddr::V6(SocketAddrV6::new(
                        Ipv6Addr::UNSPECIFIED,
                        SDP_SERVER_PORT,
                        0,
                        0,
                    ))
                    .into(),
                )
            })
            .map_err(|e| LinkError::io(context.clone(), e))?;
        // Receiving ff02::1 needs no membership (every interface is in all-nodes); joining
        // makes the intent explicit and is harmless when the kernel says it already is.
        if let Err(e) = socket.join_multicast_v6(&SDP_MULTICAST_ADDRESS, iface.index) {
            tracing::debug!(error = %e, "SDP server: joining ff02::1");
        }
        Ok(Self {
            socket: into_tokio(socket, &context)?,
            server,
            interface: iface.name.clone(),
            clock,
        })
    }

    /// The counters so far.
    pub fn stats(&self) -> SdpServerStats {
        self.server.stats()
    }

    /// Answers requests until `stop` resolves (then returns the counters) or the socket
    /// fails; events go to `events` if given.
    pub async fn run(
        mut self,
        events: Option<mpsc::UnboundedSender<SdpServerEvent>>,
        stop: impl Future<Output = ()>,
    ) -> Result<SdpServerStats, LinkError> {
        let context = format!("SDP server on {}", self.interface);
        let mut buf = [0u8; MAX_DATAGRAM];
        let mut stop = std::pin::pin!(stop);
        loop {
            let received = tokio::select! {
                () = &mut stop => return Ok(self.server.stats()),
                received = self.socket.recv_from(&mut buf) => received,
            };
            let (n, from) = received.map_err(|e| LinkError::io(context.clone(), e))?;
            let SocketAddr::V6(from) = from else {
                continue;
            };
            self.server
                .handle_datagram(self.clock.now(), from, &buf[..n]);
            while let Some(tx) = self.server.poll_transmit() {
                if let Err(e) = self.socket.send_to(&tx.datagram, tx.to).await {
                    // One unreachable car must not stop the server.
                    tracing::warn!(to = %tx.to, error = %e, "SDP server: sending the response");
                }
            }
            while let Some(event) = self.server.poll_event() {
                tracing::debug!(?event, "SDP server");
                if let Some(events) = &events {
                    let _ = events.send(event);
                }
            }
        }
    }
}
