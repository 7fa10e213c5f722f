//! TCP (and TLS on top of it) on the PLC interface's link-local address.
//!
//! The charger binds its announced port on `[link-local%if]` and serves one car at a time:
//! later cars wait in the listen backlog and are accepted in turn after the current
//! connection ends. The car connects to the address SDP announced, with the interface's scope
//! id and a timeout.

use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{SocketAddr, SocketAddrV6};
use std::pin::Pin;
use std::time::Duration;

use ccs_proto::sdp::DYNAMIC_PORTS;
use ccs_proto::v2gtp::DeframerConfig;
use openssl::ssl::SslConnector;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, TcpStream};
use tokio_openssl::SslStream;

use crate::error::LinkError;
use crate::iface::Interface;
use crate::tls::{self, TlsClientConfig, TlsServerConfig};
use crate::v2g::{TlsInfo, V2gConnection};

/// How many cars may wait for their turn in the listen backlog.
const BACKLOG: i32 = 4;

/// The default time a TLS handshake may take before the connection is dropped.
pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// The charger's V2G listener.
///
/// Call order: [`V2gListener::bind`], announce [`V2gListener::port`] via SDP, then loop:
/// [`V2gListener::accept`] → serve that connection to its end → accept the next.
pub struct V2gListener {
    listener: TcpListener,
    local: SocketAddrV6,
    tls: Option<tls::Acceptor>,
    deframer: DeframerConfig,
    handshake_timeout: Duration,
}

impl std::fmt::Debug for V2gListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("V2gListener")
            .field("local", &self.local)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// A random port from the dynamic range, from the standard library's per-process random keys
/// (no RNG crate needed for this).
fn random_dynamic_port() -> u16 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    let span = u64::from(DYNAMIC_PORTS.end() - DYNAMIC_PORTS.start()) + 1;
    let offset = u16::try_from(hasher.finish() % span).unwrap_or(0);
    DYNAMIC_PORTS.start() + offset
}

fn bind_listener(address: SocketAddrV6) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::IPV6, Type::STREAM, Some(Protocol::TCP))?;
    socket.set_only_v6(true)?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::V6(address).into())?;
    socket.listen(BACKLOG)?;
    TcpListener::from_std(socket.into())
}

impl V2gListener {
    /// Binds `port` (0: a random free port from 49152–65535) on the interface's link-local
    /// address; with `tls`, every accepted connection does the TLS handshake first.
    pub fn bind(
        iface: &Interface,
        port: u16,
        tls: Option<&TlsServerConfig>,
        deframer: DeframerConfig,
    ) -> Result<Self, LinkError> {
        let acceptor = tls.map(tls::build_acceptor).transpose()?;
        let context = format!("V2G listener on {}", iface.name);
        let listener = if port != 0 {
            bind_listener(iface.socket_addr(port)).map_err(|e| LinkError::io(context.clone(), e))?
        } else {
            let mut attempt = 0;
            loop {
                attempt += 1;
                match bind_listener(iface.socket_addr(random_dynamic_port())) {
                    Ok(listener) => break listener,
                    Err(e) if e.kind() == io::ErrorKind::AddrInUse && attempt < 32 => continue,
                    Err(e) => return Err(LinkError::io(context, e)),
                }
            }
        };
        let local = match listener.local_addr() {
            Ok(SocketAddr::V6(local)) => local,
            Ok(SocketAddr::V4(_)) => unreachable_v4(),
            Err(e) => return Err(LinkError::io(context, e)),
        };
        Ok(Self {
            listener,
            local,
            tls: acceptor,
            deframer,
            handshake_timeout: DEFAULT_TLS_HANDSHAKE_TIMEOUT,
        })
    }

    /// Sets how long a TLS handshake may take.
    pub fn set_handshake_timeout(&mut self, timeout: Duration) {
        self.handshake_timeout = timeout;
    }

    /// The bound port, to announce via SDP.
    pub fn port(&self) -> u16 {
        self.local.port()
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddrV6 {
        self.local
    }

    /// Whether accepted connections speak TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Waits for the next car and, with TLS, completes the handshake. A failed handshake is
    /// an error for this car only; call `accept` again for the next.
    pub async fn accept(&self) -> Result<V2gConnection, LinkError> {
        let (stream, peer) = self
            .listener
            .accept()
            .await
            .map_err(|e| LinkError::io("accepting a V2G connection", e))?;
        let peer = match peer {
            SocketAddr::V6(peer) => peer,
            SocketAddr::V4(_) => unreachable_v4(),
        };
        let _ = stream.set_nodelay(true);
        let local = local_v6(&stream);
        match &self.tls {
            None => Ok(
                V2gConnection::new(Box::new(stream), peer, None, self.deframer)
                    .with_details(local, None),
            ),
            Some(acceptor) => {
                let (tls, slot) =
                    tokio::time::timeout(self.handshake_timeout, acceptor.accept(stream))
                        .await
                        .map_err(|_| LinkError::Timeout(format!("TLS handshake with {peer}")))?
                        .map_err(|detail| LinkError::TlsHandshake {
                            peer: peer.to_string(),
                            detail,
                        })?;
                let info = tls_info(tls.ssl());
                tracing::info!(%peer, version = %info.version, cipher = %info.cipher, "TLS accepted");
                Ok(
                    V2gConnection::new(Box::new(tls), peer, Some(info), self.deframer)
                        .with_details(local, taken(slot.as_ref())),
                )
            }
        }
    }
}

/// Our own address on a connected socket.
fn local_v6(stream: &TcpStream) -> Option<SocketAddrV6> {
    match stream.local_addr() {
        Ok(SocketAddr::V6(local)) => Some(local),
        _ => None,
    }
}

/// The key log lines a handshake left in its slot.
fn taken(slot: Option<&tls::SecretsSlot>) -> Option<String> {
    slot.and_then(|s| s.lock().ok().map(|lines| lines.clone()))
}

/// IPv6 sockets bound with `only_v6` never yield IPv4 addresses.
fn unreachable_v4() -> ! {
    unreachable!("an IPv6-only socket reported an IPv4 address")
}

pub(crate) fn tls_info(ssl: &openssl::ssl::SslRef) -> TlsInfo {
    TlsInfo {
        version: ssl.version_str().to_owned(),
        cipher: ssl
            .current_cipher()
            .map(|c| c.name().to_owned())
            .unwrap_or_default(),
        peer_subject: ssl.peer_certificate().map(|cert| {
            cert.subject_name()
                .entries()
                .filter_map(|e| e.data().to_string().ok())
                .collect::<Vec<_>>()
                .join(",")
        }),
    }
}

/// How the car connects.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// How long the TCP connect (and the TLS handshake) may take.
    pub timeout: Duration,
    /// TLS settings; required when SDP announced a TLS port.
    pub tls: Option<TlsClientConfig>,
    /// The V2GTP limits.
    pub deframer: DeframerConfig,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(2),
            tls: None,
            deframer: DeframerConfig::default(),
        }
    }
}

/// Pause between TCP connects that the charger refused.
const REFUSED_CONNECT_RETRY: Duration = Duration::from_millis(50);

/// Connects over TCP, trying again while the charger refuses: a charger may announce its port
/// in the SDP response a moment before it listens on it (Josev's SECC does). The caller's
/// timeout around this bounds the retries; any other error ends them at once.
async fn connect_when_listening(address: SocketAddrV6) -> Result<TcpStream, LinkError> {
    loop {
        match TcpStream::connect(SocketAddr::V6(address)).await {
            Ok(stream) => return Ok(stream),
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                tracing::debug!(%address, "TCP connect refused; trying again");
                tokio::time::sleep(REFUSED_CONNECT_RETRY).await;
            }
            Err(e) => return Err(LinkError::io(format!("connecting to {address}"), e)),
        }
    }
}

/// Connects to the SECC at `address` (with scope id, as [`crate::sdp::DiscoveredSecc`] gives
/// it); with `use_tls`, does the TLS handshake with `options.tls`.
pub async fn connect(
    address: SocketAddrV6,
    use_tls: bool,
    options: &ConnectOptions,
) -> Result<V2gConnection, LinkError> {
    let connector: Option<SslConnector> = if use_tls {
        let Some(config) = &options.tls else {
            return Err(LinkError::Config(
                "the SECC announced TLS but no TLS client configuration is set".into(),
            ));
        };
        Some(tls::build_connector(config)?)
    } else {
        None
    };
    let work = async {
        let stream = connect_when_listening(address).await?;
        let _ = stream.set_nodelay(true);
        let local = local_v6(&stream);
        match connector {
            None => Ok(
                V2gConnection::new(Box::new(stream), address, None, options.deframer)
                    .with_details(local, None),
            ),
            Some(connector) => {
                let fail = |detail: String| LinkError::TlsHandshake {
                    peer: address.to_string(),
                    detail,
                };
                let mut ssl = connector
                    .configure()
                    .map_err(|e| fail(e.to_string()))?
                    // V2G peers are addressed by link-local IP; ISO 15118 checks the
                    // certificate chain, not a host name.
                    .verify_hostname(false)
                    .use_server_name_indication(false)
                    .into_ssl("")
                    .map_err(|e| fail(e.to_string()))?;
                let slot = tls::collect_secrets(&mut ssl);
                let mut tls = SslStream::new(ssl, stream).map_err(|e| fail(e.to_string()))?;
                Pin::new(&mut tls)
                    .connect()
                    .await
                    .map_err(|e| fail(e.to_string()))?;
                let info = tls_info(tls.ssl());
                tracing::info!(%address, version = %info.version, cipher = %info.cipher, "TLS connected");
                Ok(
                    V2gConnection::new(Box::new(tls), address, Some(info), options.deframer)
                        .with_details(local, taken(slot.as_ref())),
                )
            }
        }
    };
    tokio::time::timeout(options.timeout, work)
        .await
        .map_err(|_| LinkError::Timeout(format!("connecting to {address}")))?
}
