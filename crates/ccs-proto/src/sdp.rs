//! SDP, the SECC Discovery Protocol (ISO 15118-2 §7.10.1; the same in DIN SPEC 70121 and
//! ISO 15118-20): how the car finds the charger's IPv6 address, TCP port and security choice.
//!
//! Read ISO 15118-2 §7.10.1 and `reference/homeplug-slac.md` §7 first. The requirement IDs
//! below are the ones other implementations (RISE-V2G, EVerest, AUTOSAR-style EVCCs) cite for
//! these checks; they were not re-read against the standard's text.
//!
//! The car (SDP client, [`SdpClient`]) multicasts a request to `[ff02::1]:15118` over UDP
//! ([V2G2-125]); the charger (SDP server, [`SdpServer`]) answers by unicast with its link-local
//! address, the TCP port it listens on and whether that port speaks TLS. Both messages are
//! V2GTP-framed (payload types `0x9000`/`0x9001`, [V2G2-140], [V2G2-152]).
//!
//! Both machines are sans-IO: the driver feeds datagrams and `now`, and sends what
//! `poll_transmit` returns. Malformed datagrams are counted and otherwise ignored.

use core::fmt;
use core::net::{Ipv6Addr, SocketAddrV6};
use std::collections::VecDeque;

use crate::time::{Duration, Instant};
use crate::v2gtp::{self, HEADER_LEN, HeaderError, HeaderRepr, PayloadType};

/// The UDP port of the SDP server ([V2G2-125]).
pub const SDP_SERVER_PORT: u16 = 15118;

/// The destination of SDP requests: all nodes on the link ([V2G2-125]).
pub const SDP_MULTICAST_ADDRESS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// The dynamic/private port range (IETF RFC 6335) from which the SECC must pick its TCP port;
/// real EVCCs (Josev's `MIN_TCP_PORT`/`MAX_TCP_PORT`) reject answers outside it.
pub const DYNAMIC_PORTS: core::ops::RangeInclusive<u16> = 49152..=65535;

/// The payload length of an SDP request.
pub const REQUEST_PAYLOAD_LEN: u32 = 2;
/// The payload length of an SDP response.
pub const RESPONSE_PAYLOAD_LEN: u32 = 20;
/// A whole SDP request datagram: header + security + transport.
pub const REQUEST_LEN: usize = HEADER_LEN + REQUEST_PAYLOAD_LEN as usize;
/// A whole SDP response datagram: header + address + port + security + transport.
pub const RESPONSE_LEN: usize = HEADER_LEN + RESPONSE_PAYLOAD_LEN as usize;

/// The security byte of SDP ([V2G2-142], ISO 15118-2 Table 16).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Security {
    /// `0x00`: TLS.
    Tls,
    /// `0x10`: no transport layer security.
    NoTls,
    /// Any other value.
    Unknown(u8),
}

impl From<u8> for Security {
    fn from(raw: u8) -> Self {
        match raw {
            0x00 => Self::Tls,
            0x10 => Self::NoTls,
            other => Self::Unknown(other),
        }
    }
}

impl From<Security> for u8 {
    fn from(s: Security) -> Self {
        match s {
            Security::Tls => 0x00,
            Security::NoTls => 0x10,
            Security::Unknown(raw) => raw,
        }
    }
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tls => f.write_str("TLS"),
            Self::NoTls => f.write_str("no-TLS"),
            Self::Unknown(raw) => write!(f, "unknown(0x{raw:02X})"),
        }
    }
}

/// The transport protocol byte of SDP ([V2G2-142], ISO 15118-2 Table 16). Only TCP is allowed
/// for V2G communication.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Transport {
    /// `0x00`: TCP.
    Tcp,
    /// `0x10`: UDP (reserved; not used for V2G messages).
    Udp,
    /// Any other value.
    Unknown(u8),
}

impl From<u8> for Transport {
    fn from(raw: u8) -> Self {
        match raw {
            0x00 => Self::Tcp,
            0x10 => Self::Udp,
            other => Self::Unknown(other),
        }
    }
}

impl From<Transport> for u8 {
    fn from(t: Transport) -> Self {
        match t {
            Transport::Tcp => 0x00,
            Transport::Udp => 0x10,
            Transport::Unknown(raw) => raw,
        }
    }
}

/// Why a datagram is not an SDP message.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum SdpParseError {
    /// The V2GTP header is broken or the payload truncated.
    Header(HeaderError),
    /// A valid V2GTP message, but not the expected SDP payload type.
    UnexpectedPayloadType(PayloadType),
    /// The payload length is not the one SDP defines.
    WrongPayloadLength(u32),
}

impl fmt::Display for SdpParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Header(e) => write!(f, "{e}"),
            Self::UnexpectedPayloadType(t) => {
                write!(
                    f,
                    "invalid message: payload type {t} where SDP was expected"
                )
            }
            Self::WrongPayloadLength(n) => {
                write!(f, "invalid message: SDP payload of {n} bytes")
            }
        }
    }
}

impl core::error::Error for SdpParseError {}

fn parse_sdp(datagram: &[u8], expected: PayloadType, len: u32) -> Result<&[u8], SdpParseError> {
    let (
        HeaderRepr {
            payload_type,
            payload_length,
        },
        payload,
    ) = v2gtp::parse_datagram(datagram).map_err(SdpParseError::Header)?;
    if payload_type != expected {
        return Err(SdpParseError::UnexpectedPayloadType(payload_type));
    }
    if payload_length != len {
        return Err(SdpParseError::WrongPayloadLength(payload_length));
    }
    Ok(payload)
}

fn header_bytes(payload_type: PayloadType, payload_length: u32) -> [u8; HEADER_LEN] {
    HeaderRepr {
        payload_type,
        payload_length,
    }
    .to_bytes()
}

/// An SDP request (EV → `[ff02::1]:15118`), [V2G2-140] to [V2G2-142].
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct SdpRequestRepr {
    /// Whether the car asks for TLS.
    pub security: Security,
    /// The transport the car asks for (TCP).
    pub transport: Transport,
}

impl SdpRequestRepr {
    /// Parses a whole datagram (V2GTP header included).
    pub fn parse(datagram: &[u8]) -> Result<Self, SdpParseError> {
        let p = parse_sdp(datagram, PayloadType::SdpRequest, REQUEST_PAYLOAD_LEN)?;
        Ok(Self {
            security: Security::from(p[0]),
            transport: Transport::from(p[1]),
        })
    }

    /// The whole datagram, V2GTP header included.
    pub fn emit(&self) -> [u8; REQUEST_LEN] {
        let mut out = [0; REQUEST_LEN];
        out[..HEADER_LEN]
            .copy_from_slice(&header_bytes(PayloadType::SdpRequest, REQUEST_PAYLOAD_LEN));
        out[HEADER_LEN] = u8::from(self.security);
        out[HEADER_LEN + 1] = u8::from(self.transport);
        out
    }
}

/// An SDP response (SECC → the requester), [V2G2-152] to [V2G2-156].
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct SdpResponseRepr {
    /// The SECC's IPv6 address (link-local).
    pub address: Ipv6Addr,
    /// The TCP port the SECC listens on.
    pub port: u16,
    /// Whether that port speaks TLS.
    pub security: Security,
    /// The transport (TCP).
    pub transport: Transport,
}

impl SdpResponseRepr {
    /// Parses a whole datagram (V2GTP header included).
    pub fn parse(datagram: &[u8]) -> Result<Self, SdpParseError> {
        let p = parse_sdp(datagram, PayloadType::SdpResponse, RESPONSE_PAYLOAD_LEN)?;
        let mut address = [0; 16];
        address.copy_from_slice(&p[..16]);
        Ok(Self {
            address: Ipv6Addr::from(address),
            port: u16::from_be_bytes([p[16], p[17]]),
            security: Security::from(p[18]),
            transport: Transport::from(p[19]),
        })
    }

    /// The whole datagram, V2GTP header included.
    pub fn emit(&self) -> [u8; RESPONSE_LEN] {
        let mut out = [0; RESPONSE_LEN];
        out[..HEADER_LEN].copy_from_slice(&header_bytes(
            PayloadType::SdpResponse,
            RESPONSE_PAYLOAD_LEN,
        ));
        out[HEADER_LEN..HEADER_LEN + 16].copy_from_slice(&self.address.octets());
        out[HEADER_LEN + 16..HEADER_LEN + 18].copy_from_slice(&self.port.to_be_bytes());
        out[HEADER_LEN + 18] = u8::from(self.security);
        out[HEADER_LEN + 19] = u8::from(self.transport);
        out
    }
}

// ------------------------------------------------------------------------------------------
// The SDP client (EVCC)
// ------------------------------------------------------------------------------------------

/// What the car asks for in the Security byte, and what answers it accepts.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum TlsWish {
    /// Ask for no TLS; accept only no-TLS answers.
    NoTls,
    /// Ask for TLS; accept a TLS or a no-TLS answer (Josev's `use_tls` without `enforce_tls`;
    /// the Tesla Model X continued without TLS when pyPLC answered no-TLS).
    PreferTls {
        /// After this many unanswered TLS requests, ask for no TLS instead and start a new
        /// series of requests, as the Audi Q4 does (50 × TLS, then no-TLS;
        /// `captures/2026-02-08_pyPLC_FoccciCape_AudiQ4_break_after_cableCheck.pcap`).
        /// `None`: keep asking for TLS.
        fallback_after: Option<u32>,
    },
    /// Ask for TLS and accept only TLS answers (Josev's `enforce_tls`).
    RequireTls,
}

/// Configuration of the [`SdpClient`]; `Default` holds the standard's values.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub struct SdpClientConfig {
    /// How long to wait for an answer before repeating the request: at least 250 ms
    /// ([V2G2-159]).
    pub sdp_response_timeout: Duration,
    /// How many requests in a row before giving up: 50 ([V2G2-161]).
    pub max_requests: u32,
    /// What to ask for and accept.
    pub tls: TlsWish,
    /// Reject answers whose port lies outside 49152–65535. Off by default (lenient in): a
    /// pyPLC charger announces its fixed port 15118, and pyPLC cars connect to it.
    pub require_dynamic_port: bool,
}

impl Default for SdpClientConfig {
    fn default() -> Self {
        Self {
            sdp_response_timeout: Duration::from_millis(250),
            max_requests: 50,
            tls: TlsWish::NoTls,
            require_dynamic_port: false,
        }
    }
}

/// Where the charger waits for the car's TCP (or TLS) connection.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct SeccEndpoint {
    /// The SECC's address from the response (link-local; the driver adds the scope id).
    pub address: Ipv6Addr,
    /// The TCP port from the response; the car must connect to exactly this port.
    pub port: u16,
    /// `true` if the port speaks TLS.
    pub tls: bool,
}

/// Why an SDP answer was not acceptable to the client.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum SdpRejection {
    /// The transport byte is not TCP.
    NotTcp(Transport),
    /// The security byte is neither TLS nor no-TLS.
    UnknownSecurity(u8),
    /// The SECC offers TLS but the car asked for none, or the reverse with [`TlsWish::RequireTls`].
    SecurityMismatch {
        /// What the car asked for.
        requested: Security,
        /// What the SECC answered.
        answered: Security,
    },
    /// Port 0, or outside the dynamic range when [`SdpClientConfig::require_dynamic_port`].
    BadPort(u16),
    /// The address is unspecified or multicast.
    BadAddress(Ipv6Addr),
}

impl fmt::Display for SdpRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotTcp(t) => write!(f, "transport {:02X} is not TCP", u8::from(*t)),
            Self::UnknownSecurity(raw) => write!(f, "security byte {raw:02X} is unknown"),
            Self::SecurityMismatch {
                requested,
                answered,
            } => write!(f, "asked for {requested}, SECC answered {answered}"),
            Self::BadPort(p) => write!(f, "port {p} not acceptable"),
            Self::BadAddress(a) => write!(f, "address {a} not acceptable"),
        }
    }
}

/// Why SDP failed on the client side.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum SdpClientError {
    /// Timeout: no answer to `requests` requests ([V2G2-161]).
    NoResponse {
        /// How many requests went out in the last series.
        requests: u32,
    },
    /// Peer incompatible: answers came, but none was acceptable; the last reason is kept.
    NoAcceptableResponse {
        /// How many requests went out in the last series.
        requests: u32,
        /// Why the last answer was rejected.
        last: SdpRejection,
    },
}

impl fmt::Display for SdpClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoResponse { requests } => {
                write!(f, "timeout: no SDP response to {requests} requests")
            }
            Self::NoAcceptableResponse { requests, last } => write!(
                f,
                "peer incompatible: no acceptable SDP response to {requests} requests (last: {last})"
            ),
        }
    }
}

impl core::error::Error for SdpClientError {}

/// What the [`SdpClient`] reports.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum SdpClientEvent {
    /// A SECC answered acceptably: connect to it.
    Discovered(SeccEndpoint),
    /// An answer was rejected (the client keeps asking).
    Rejected(SdpRejection),
    /// The car switched from asking TLS to asking no-TLS ([`TlsWish::PreferTls`]).
    FellBackToNoTls,
    /// SDP failed: fall back to basic charging or restart later.
    Failed(SdpClientError),
}

/// Counters of the [`SdpClient`].
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct SdpClientStats {
    /// Requests handed out by `poll_transmit`.
    pub requests_sent: u32,
    /// Datagrams that were not SDP responses at all.
    pub malformed: u32,
    /// SDP responses that were rejected.
    pub rejected: u32,
}

#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum ClientState {
    Idle,
    Requesting {
        security: Security,
        sent: u32,
        deadline: Instant,
        fell_back: bool,
        last_rejection: Option<SdpRejection>,
    },
    Discovered(SeccEndpoint),
    Failed(SdpClientError),
}

/// The SDP client of the car.
///
/// Call order: [`SdpClient::start`] once (e.g. when the link is up); then, in a loop, send
/// everything [`SdpClient::poll_transmit`] returns to `[ff02::1%if]:15118`, take the events
/// from [`SdpClient::poll_event`], sleep until [`SdpClient::poll_timeout`] or a datagram
/// arrives, and feed it with [`SdpClient::handle_datagram`] or call
/// [`SdpClient::handle_timeout`]. The loop ends with [`SdpClientEvent::Discovered`] or
/// [`SdpClientEvent::Failed`].
#[derive(Debug)]
pub struct SdpClient {
    config: SdpClientConfig,
    state: ClientState,
    pending_request: Option<[u8; REQUEST_LEN]>,
    events: VecDeque<SdpClientEvent>,
    stats: SdpClientStats,
}

impl SdpClient {
    /// A client that has not started yet.
    pub fn new(config: SdpClientConfig) -> Self {
        Self {
            config,
            state: ClientState::Idle,
            pending_request: None,
            events: VecDeque::new(),
            stats: SdpClientStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SdpClientConfig {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> SdpClientStats {
        self.stats
    }

    /// The endpoint, once discovered.
    pub fn endpoint(&self) -> Option<SeccEndpoint> {
        match self.state {
            ClientState::Discovered(e) => Some(e),
            _ => None,
        }
    }

    /// Whether the client has finished (discovered or failed).
    pub fn is_finished(&self) -> bool {
        matches!(
            self.state,
            ClientState::Discovered(_) | ClientState::Failed(_)
        )
    }

    /// Starts (or restarts) a series of requests; the first is due now.
    pub fn start(&mut self, now: Instant) {
        let security = match self.config.tls {
            TlsWish::NoTls => Security::NoTls,
            TlsWish::PreferTls { .. } | TlsWish::RequireTls => Security::Tls,
        };
        self.begin_series(now, security, false);
    }

    fn begin_series(&mut self, now: Instant, security: Security, fell_back: bool) {
        self.state = ClientState::Requesting {
            security,
            sent: 0,
            deadline: now,
            fell_back,
            last_rejection: None,
        };
        self.send_request(now);
    }

    fn send_request(&mut self, now: Instant) {
        if let ClientState::Requesting {
            security,
            sent,
            deadline,
            ..
        } = &mut self.state
        {
            *sent += 1;
            // [V2G2-159]: wait at least `sdp_response_timeout` for the answer.
            *deadline = now + self.config.sdp_response_timeout;
            self.pending_request = Some(
                SdpRequestRepr {
                    security: *security,
                    transport: Transport::Tcp,
                }
                .emit(),
            );
        }
    }

    /// Call when [`SdpClient::poll_timeout`] has passed: repeats the request ([V2G2-160]) or
    /// gives up after [`SdpClientConfig::max_requests`] ([V2G2-161]).
    pub fn handle_timeout(&mut self, now: Instant) {
        let ClientState::Requesting {
            security,
            sent,
            deadline,
            fell_back,
            last_rejection,
        } = self.state
        else {
            return;
        };
        if now < deadline {
            return;
        }
        let fallback_due = match self.config.tls {
            TlsWish::PreferTls {
                fallback_after: Some(n),
            } => security == Security::Tls && !fell_back && sent >= n.min(self.config.max_requests),
            _ => false,
        };
        if fallback_due {
            self.events.push_back(SdpClientEvent::FellBackToNoTls);
            self.begin_series(now, Security::NoTls, true);
            return;
        }
        if sent < self.config.max_requests {
            self.send_request(now);
            return;
        }
        let error = match last_rejection {
            Some(last) => SdpClientError::NoAcceptableResponse {
                requests: sent,
                last,
            },
            None => SdpClientError::NoResponse { requests: sent },
        };
        self.pending_request = None;
        self.state = ClientState::Failed(error);
        self.events.push_back(SdpClientEvent::Failed(error));
    }

    /// Feeds a datagram that arrived on the client's socket.
    pub fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) {
        let ClientState::Requesting { security, .. } = self.state else {
            return;
        };
        let Ok(response) = SdpResponseRepr::parse(datagram) else {
            self.stats.malformed += 1;
            return;
        };
        match self.check_response(security, &response) {
            Ok(endpoint) => {
                self.pending_request = None;
                self.state = ClientState::Discovered(endpoint);
                self.events.push_back(SdpClientEvent::Discovered(endpoint));
            }
            Err(rejection) => {
                self.stats.rejected += 1;
                if let ClientState::Requesting { last_rejection, .. } = &mut self.state {
                    *last_rejection = Some(rejection);
                }
                self.events.push_back(SdpClientEvent::Rejected(rejection));
            }
        }
        let _ = now;
    }

    fn check_response(
        &self,
        requested: Security,
        r: &SdpResponseRepr,
    ) -> Result<SeccEndpoint, SdpRejection> {
        // [V2G2-156]: only TCP is a valid transport for V2G messages.
        if r.transport != Transport::Tcp {
            return Err(SdpRejection::NotTcp(r.transport));
        }
        let tls = match r.security {
            Security::Tls => true,
            Security::NoTls => false,
            Security::Unknown(raw) => return Err(SdpRejection::UnknownSecurity(raw)),
        };
        let acceptable = match self.config.tls {
            TlsWish::NoTls => !tls,
            TlsWish::PreferTls { .. } => true,
            TlsWish::RequireTls => tls,
        };
        if !acceptable {
            return Err(SdpRejection::SecurityMismatch {
                requested,
                answered: r.security,
            });
        }
        if r.port == 0 || (self.config.require_dynamic_port && !DYNAMIC_PORTS.contains(&r.port)) {
            return Err(SdpRejection::BadPort(r.port));
        }
        if r.address.is_unspecified() || r.address.is_multicast() {
            return Err(SdpRejection::BadAddress(r.address));
        }
        Ok(SeccEndpoint {
            address: r.address,
            port: r.port,
            tls,
        })
    }

    /// The next request datagram to send to `[ff02::1]:15118` on the interface.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<[u8; REQUEST_LEN]> {
        let datagram = self.pending_request.take()?;
        self.stats.requests_sent += 1;
        Some(datagram)
    }

    /// When [`SdpClient::handle_timeout`] should be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            ClientState::Requesting { deadline, .. } => Some(deadline),
            _ => None,
        }
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<SdpClientEvent> {
        self.events.pop_front()
    }
}

// ------------------------------------------------------------------------------------------
// The SDP server (SECC)
// ------------------------------------------------------------------------------------------

/// Configuration of the [`SdpServer`].
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub struct SdpServerConfig {
    /// The SECC's link-local address on the PLC interface, announced in every response.
    pub address: Ipv6Addr,
    /// The plain TCP port, if the SECC offers plain TCP (from 49152–65535).
    pub no_tls_port: Option<u16>,
    /// The TLS port, if the SECC offers TLS (from 49152–65535).
    pub tls_port: Option<u16>,
    /// Answer a request for TLS with the no-TLS port when there is no TLS port. pyPLC does this
    /// (uhi22/pyPLC#42) because the Tesla Model X, Kia EV3 and Audi Q4 ask for TLS and then
    /// accept no-TLS; without it those cars only fall back after their own series of 50
    /// requests, or not at all.
    pub answer_tls_request_without_tls: bool,
}

impl SdpServerConfig {
    /// A no-TLS SECC on `port`, answering TLS requests with no-TLS as pyPLC does.
    pub fn no_tls(address: Ipv6Addr, port: u16) -> Self {
        Self {
            address,
            no_tls_port: Some(port),
            tls_port: None,
            answer_tls_request_without_tls: true,
        }
    }

    /// A TLS-only SECC on `port`.
    pub fn tls_only(address: Ipv6Addr, port: u16) -> Self {
        Self {
            address,
            no_tls_port: None,
            tls_port: Some(port),
            answer_tls_request_without_tls: false,
        }
    }

    /// A SECC with both ports: each request is answered with what it asked for.
    pub fn both(address: Ipv6Addr, no_tls_port: u16, tls_port: u16) -> Self {
        Self {
            address,
            no_tls_port: Some(no_tls_port),
            tls_port: Some(tls_port),
            answer_tls_request_without_tls: false,
        }
    }
}

/// A configuration error of the [`SdpServer`].
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum SdpConfigError {
    /// Neither a TLS nor a no-TLS port.
    NoPort,
    /// A port outside 49152–65535: EVCCs such as Josev reject it.
    PortOutsideDynamicRange(u16),
}

impl fmt::Display for SdpConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoPort => f.write_str("configuration: the SDP server needs a TCP or TLS port"),
            Self::PortOutsideDynamicRange(p) => write!(
                f,
                "configuration: port {p} is outside 49152-65535, which cars reject"
            ),
        }
    }
}

impl core::error::Error for SdpConfigError {}

/// Why the [`SdpServer`] did not answer a request.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum SdpIgnoreReason {
    /// The car asked for a transport other than TCP.
    NotTcp(Transport),
    /// The security byte is unknown.
    UnknownSecurity(u8),
    /// The car asked for TLS, there is no TLS port, and
    /// [`SdpServerConfig::answer_tls_request_without_tls`] is off.
    TlsNotOffered,
    /// Too many answers are waiting to be sent (a flood); this one was dropped.
    QueueFull,
}

/// What the [`SdpServer`] reports.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum SdpServerEvent {
    /// A request was answered.
    Answered {
        /// The requester.
        from: SocketAddrV6,
        /// What it asked for.
        requested: Security,
        /// What it was told.
        answered: Security,
        /// The port announced.
        port: u16,
    },
    /// A well-formed request was not answered.
    Ignored {
        /// The requester.
        from: SocketAddrV6,
        /// Why.
        reason: SdpIgnoreReason,
    },
}

/// A response datagram for the driver to send.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct SdpServerTransmit {
    /// Where to send it: the request's source address and port.
    pub to: SocketAddrV6,
    /// The response, V2GTP header included.
    pub datagram: [u8; RESPONSE_LEN],
}

/// Counters of the [`SdpServer`].
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct SdpServerStats {
    /// Requests answered.
    pub answered: u32,
    /// Well-formed requests not answered.
    pub ignored: u32,
    /// Datagrams that were not SDP requests.
    pub malformed: u32,
}

/// At most this many responses or events wait in the server's queues; beyond that requests are
/// dropped (a flooding peer cannot make us allocate).
const SERVER_QUEUE_LIMIT: usize = 32;

/// The SDP server of the charger.
///
/// Call order: for every datagram on UDP port 15118, [`SdpServer::handle_datagram`]; then
/// send everything [`SdpServer::poll_transmit`] returns and drain [`SdpServer::poll_event`].
/// The server has no timers.
#[derive(Debug)]
pub struct SdpServer {
    config: SdpServerConfig,
    transmits: VecDeque<SdpServerTransmit>,
    events: VecDeque<SdpServerEvent>,
    stats: SdpServerStats,
    last_request_at: Option<Instant>,
}

impl SdpServer {
    /// A server; the ports must come from the dynamic range.
    pub fn new(config: SdpServerConfig) -> Result<Self, SdpConfigError> {
        if config.no_tls_port.is_none() && config.tls_port.is_none() {
            return Err(SdpConfigError::NoPort);
        }
        for port in [config.no_tls_port, config.tls_port].into_iter().flatten() {
            if !DYNAMIC_PORTS.contains(&port) {
                return Err(SdpConfigError::PortOutsideDynamicRange(port));
            }
        }
        Ok(Self {
            config,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: SdpServerStats::default(),
            last_request_at: None,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SdpServerConfig {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> SdpServerStats {
        self.stats
    }

    /// When the last well-formed request arrived.
    pub fn last_request_at(&self) -> Option<Instant> {
        self.last_request_at
    }

    /// Decides which port and security to announce for a request.
    fn choose(&self, requested: Security) -> Result<(Security, u16), SdpIgnoreReason> {
        let c = &self.config;
        match requested {
            Security::Tls => match (c.tls_port, c.no_tls_port) {
                (Some(port), _) => Ok((Security::Tls, port)),
                (None, Some(port)) if c.answer_tls_request_without_tls => {
                    Ok((Security::NoTls, port))
                }
                _ => Err(SdpIgnoreReason::TlsNotOffered),
            },
            Security::NoTls => match (c.no_tls_port, c.tls_port) {
                (Some(port), _) => Ok((Security::NoTls, port)),
                // The SECC decides; a TLS-only SECC says so and the car may fall back to
                // basic charging.
                (None, Some(port)) => Ok((Security::Tls, port)),
                (None, None) => Err(SdpIgnoreReason::TlsNotOffered),
            },
            Security::Unknown(raw) => Err(SdpIgnoreReason::UnknownSecurity(raw)),
        }
    }

    /// Feeds a datagram received on UDP port 15118 from `from`.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddrV6, datagram: &[u8]) {
        let Ok(request) = SdpRequestRepr::parse(datagram) else {
            self.stats.malformed += 1;
            return;
        };
        self.last_request_at = Some(now);
        let decision = if request.transport == Transport::Tcp {
            self.choose(request.security)
        } else {
            Err(SdpIgnoreReason::NotTcp(request.transport))
        };
        let decision = match decision {
            Ok(_) if self.transmits.len() >= SERVER_QUEUE_LIMIT => Err(SdpIgnoreReason::QueueFull),
            d => d,
        };
        let event = match decision {
            Ok((answered, port)) => {
                self.stats.answered += 1;
                let datagram = SdpResponseRepr {
                    address: self.config.address,
                    port,
                    security: answered,
                    transport: Transport::Tcp,
                }
                .emit();
                self.transmits
                    .push_back(SdpServerTransmit { to: from, datagram });
                SdpServerEvent::Answered {
                    from,
                    requested: request.security,
                    answered,
                    port,
                }
            }
            Err(reason) => {
                self.stats.ignored += 1;
                SdpServerEvent::Ignored { from, reason }
            }
        };
        if self.events.len() < SERVER_QUEUE_LIMIT {
            self.events.push_back(event);
        }
    }

    /// The next response to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<SdpServerTransmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<SdpServerEvent> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_TLS_REQUEST: [u8; 10] = [0x01, 0xFE, 0x90, 0x00, 0x00, 0x00, 0x00, 0x02, 0x10, 0x00];
    const TLS_REQUEST: [u8; 10] = [0x01, 0xFE, 0x90, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00];

    /// ABB Triple's answer: fe80::5610:ecff:fea1:f3e2, port 0xD121, no TLS, TCP
    /// (reference/homeplug-slac.md §7).
    const ABB_RESPONSE: [u8; 28] = [
        0x01, 0xFE, 0x90, 0x01, 0x00, 0x00, 0x00, 0x14, 0xFE, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x56, 0x10, 0xEC, 0xFF, 0xFE, 0xA1, 0xF3, 0xE2, 0xD1, 0x21, 0x10, 0x00,
    ];

    fn abb_address() -> Ipv6Addr {
        "fe80::5610:ecff:fea1:f3e2".parse().unwrap()
    }

    fn ev_address() -> SocketAddrV6 {
        "[fe80::665:65ff:fe00:64c3%2]:50032".parse().unwrap()
    }

    fn t(ms: i64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn request_parse_and_emit() {
        let r = SdpRequestRepr::parse(&NO_TLS_REQUEST).unwrap();
        assert_eq!(r.security, Security::NoTls);
        assert_eq!(r.transport, Transport::Tcp);
        assert_eq!(r.emit(), NO_TLS_REQUEST);
        assert_eq!(
            SdpRequestRepr::parse(&TLS_REQUEST).unwrap().security,
            Security::Tls
        );
    }

    #[test]
    fn response_parse_and_emit() {
        let r = SdpResponseRepr::parse(&ABB_RESPONSE).unwrap();
        assert_eq!(r.address, abb_address());
        assert_eq!(r.port, 53537);
        assert_eq!(r.security, Security::NoTls);
        assert_eq!(r.transport, Transport::Tcp);
        assert_eq!(r.emit(), ABB_RESPONSE);
    }

    #[test]
    fn malformed_sdp_is_a_typed_error() {
        assert_eq!(
            SdpRequestRepr::parse(&ABB_RESPONSE),
            Err(SdpParseError::UnexpectedPayloadType(
                PayloadType::SdpResponse
            ))
        );
        let mut long = [0u8; 11];
        long[..8].copy_from_slice(&NO_TLS_REQUEST[..8]);
        long[7] = 3;
        assert_eq!(
            SdpRequestRepr::parse(&long),
            Err(SdpParseError::WrongPayloadLength(3))
        );
        assert!(matches!(
            SdpResponseRepr::parse(&ABB_RESPONSE[..20]),
            Err(SdpParseError::Header(HeaderError::Truncated))
        ));
        assert!(SdpRequestRepr::parse(&[]).is_err());
    }

    #[test]
    fn client_repeats_every_250ms_and_gives_up_after_50() {
        let mut c = SdpClient::new(SdpClientConfig::default());
        c.start(t(0));
        let mut sent = 0;
        let mut now = t(0);
        loop {
            while let Some(d) = c.poll_transmit() {
                assert_eq!(d, NO_TLS_REQUEST);
                sent += 1;
            }
            let Some(deadline) = c.poll_timeout() else {
                break;
            };
            assert_eq!(deadline, now + Duration::from_millis(250));
            // Nothing happens before the deadline.
            c.handle_timeout(deadline - Duration::from_millis(1));
            assert!(c.poll_transmit().is_none());
            now = deadline;
            c.handle_timeout(now);
        }
        assert_eq!(sent, 50);
        assert_eq!(now, t(50 * 250));
        assert_eq!(
            c.poll_event(),
            Some(SdpClientEvent::Failed(SdpClientError::NoResponse {
                requests: 50
            }))
        );
        assert!(c.is_finished());
    }

    #[test]
    fn client_takes_the_first_acceptable_answer_and_counts_malformed() {
        let mut c = SdpClient::new(SdpClientConfig::default());
        c.start(t(0));
        assert!(c.poll_transmit().is_some());
        c.handle_datagram(t(10), &[0x01, 0xFE, 0x90]);
        c.handle_datagram(t(11), &NO_TLS_REQUEST);
        assert_eq!(c.stats().malformed, 2);
        c.handle_datagram(t(12), &ABB_RESPONSE);
        let endpoint = SeccEndpoint {
            address: abb_address(),
            port: 53537,
            tls: false,
        };
        assert_eq!(c.poll_event(), Some(SdpClientEvent::Discovered(endpoint)));
        assert_eq!(c.endpoint(), Some(endpoint));
        assert_eq!(c.poll_timeout(), None);
    }

    #[test]
    fn client_rejects_tls_answer_when_it_asked_for_none_and_reports_why() {
        let mut c = SdpClient::new(SdpClientConfig {
            max_requests: 2,
            ..SdpClientConfig::default()
        });
        c.start(t(0));
        let _ = c.poll_transmit();
        let mut tls = ABB_RESPONSE;
        tls[26] = 0x00;
        c.handle_datagram(t(5), &tls);
        let rejection = SdpRejection::SecurityMismatch {
            requested: Security::NoTls,
            answered: Security::Tls,
        };
        assert_eq!(c.poll_event(), Some(SdpClientEvent::Rejected(rejection)));
        c.handle_timeout(t(250));
        let _ = c.poll_transmit();
        c.handle_timeout(t(500));
        assert_eq!(
            c.poll_event(),
            Some(SdpClientEvent::Failed(
                SdpClientError::NoAcceptableResponse {
                    requests: 2,
                    last: rejection
                }
            ))
        );
    }

    #[test]
    fn client_lenient_about_port_15118_unless_configured() {
        let mut pyplc = ABB_RESPONSE;
        pyplc[24..26].copy_from_slice(&15118u16.to_be_bytes());
        let mut lenient = SdpClient::new(SdpClientConfig::default());
        lenient.start(t(0));
        lenient.handle_datagram(t(1), &pyplc);
        assert_eq!(lenient.endpoint().map(|e| e.port), Some(15118));

        let mut strict = SdpClient::new(SdpClientConfig {
            require_dynamic_port: true,
            ..SdpClientConfig::default()
        });
        strict.start(t(0));
        strict.handle_datagram(t(1), &pyplc);
        assert_eq!(
            strict.poll_event(),
            Some(SdpClientEvent::Rejected(SdpRejection::BadPort(15118)))
        );
        assert_eq!(strict.endpoint(), None);
    }

    #[test]
    fn client_prefer_tls_falls_back_after_n_requests() {
        let mut c = SdpClient::new(SdpClientConfig {
            tls: TlsWish::PreferTls {
                fallback_after: Some(3),
            },
            ..SdpClientConfig::default()
        });
        c.start(t(0));
        let mut datagrams = Vec::new();
        let mut now = t(0);
        while datagrams.len() < 5 {
            while let Some(d) = c.poll_transmit() {
                datagrams.push(d);
            }
            now = c.poll_timeout().unwrap();
            c.handle_timeout(now);
        }
        assert_eq!(&datagrams[..3], &[TLS_REQUEST; 3]);
        assert_eq!(datagrams[3], NO_TLS_REQUEST);
        assert_eq!(c.poll_event(), Some(SdpClientEvent::FellBackToNoTls));
        let _ = now;
        // A no-TLS answer is acceptable when TLS was only preferred.
        c.handle_datagram(t(2000), &ABB_RESPONSE);
        assert_eq!(c.endpoint().map(|e| e.tls), Some(false));
    }

    #[test]
    fn client_require_tls_accepts_tls_answer() {
        let mut c = SdpClient::new(SdpClientConfig {
            tls: TlsWish::RequireTls,
            ..SdpClientConfig::default()
        });
        c.start(t(0));
        assert_eq!(c.poll_transmit(), Some(TLS_REQUEST));
        let mut tls = ABB_RESPONSE;
        tls[26] = 0x00;
        c.handle_datagram(t(3), &tls);
        assert_eq!(c.endpoint().map(|e| e.tls), Some(true));
    }

    #[test]
    fn server_rejects_ports_outside_the_dynamic_range() {
        assert_eq!(
            SdpServer::new(SdpServerConfig::no_tls(abb_address(), 15118)).unwrap_err(),
            SdpConfigError::PortOutsideDynamicRange(15118)
        );
        let none = SdpServerConfig {
            no_tls_port: None,
            ..SdpServerConfig::no_tls(abb_address(), 50000)
        };
        assert_eq!(SdpServer::new(none).unwrap_err(), SdpConfigError::NoPort);
    }

    #[test]
    fn server_answers_with_its_address_port_and_choice() {
        let mut s = SdpServer::new(SdpServerConfig::no_tls(abb_address(), 53537)).unwrap();
        s.handle_datagram(t(0), ev_address(), &NO_TLS_REQUEST);
        let tx = s.poll_transmit().unwrap();
        assert_eq!(tx.to, ev_address());
        assert_eq!(tx.datagram, ABB_RESPONSE);
        // pyPLC-style: a TLS request gets the no-TLS answer.
        s.handle_datagram(t(1), ev_address(), &TLS_REQUEST);
        assert_eq!(s.poll_transmit().unwrap().datagram, ABB_RESPONSE);
        assert_eq!(s.stats().answered, 2);
    }

    #[test]
    fn server_policies_tls_only_and_both() {
        let mut tls_only = SdpServer::new(SdpServerConfig::tls_only(abb_address(), 60000)).unwrap();
        tls_only.handle_datagram(t(0), ev_address(), &NO_TLS_REQUEST);
        let r = SdpResponseRepr::parse(&tls_only.poll_transmit().unwrap().datagram).unwrap();
        assert_eq!((r.security, r.port), (Security::Tls, 60000));

        let mut both = SdpServer::new(SdpServerConfig::both(abb_address(), 50000, 50001)).unwrap();
        both.handle_datagram(t(0), ev_address(), &TLS_REQUEST);
        both.handle_datagram(t(0), ev_address(), &NO_TLS_REQUEST);
        let a = SdpResponseRepr::parse(&both.poll_transmit().unwrap().datagram).unwrap();
        let b = SdpResponseRepr::parse(&both.poll_transmit().unwrap().datagram).unwrap();
        assert_eq!((a.security, a.port), (Security::Tls, 50001));
        assert_eq!((b.security, b.port), (Security::NoTls, 50000));

        let strict_no_tls = SdpServerConfig {
            answer_tls_request_without_tls: false,
            ..SdpServerConfig::no_tls(abb_address(), 50000)
        };
        let mut s = SdpServer::new(strict_no_tls).unwrap();
        s.handle_datagram(t(0), ev_address(), &TLS_REQUEST);
        assert!(s.poll_transmit().is_none());
        assert_eq!(
            s.poll_event(),
            Some(SdpServerEvent::Ignored {
                from: ev_address(),
                reason: SdpIgnoreReason::TlsNotOffered
            })
        );
    }

    #[test]
    fn server_counts_malformed_and_ignores_udp_requests() {
        let mut s = SdpServer::new(SdpServerConfig::no_tls(abb_address(), 50000)).unwrap();
        s.handle_datagram(t(0), ev_address(), &[0xFF; 10]);
        s.handle_datagram(t(0), ev_address(), &ABB_RESPONSE);
        let mut udp = NO_TLS_REQUEST;
        udp[9] = 0x10;
        s.handle_datagram(t(0), ev_address(), &udp);
        assert!(s.poll_transmit().is_none());
        assert_eq!(s.stats().malformed, 2);
        assert_eq!(s.stats().ignored, 1);
    }

    #[test]
    fn server_queue_is_bounded_under_a_flood() {
        let mut s = SdpServer::new(SdpServerConfig::no_tls(abb_address(), 50000)).unwrap();
        for i in 0..1000 {
            s.handle_datagram(t(i), ev_address(), &NO_TLS_REQUEST);
        }
        let mut n = 0;
        while s.poll_transmit().is_some() {
            n += 1;
        }
        assert_eq!(n, SERVER_QUEUE_LIMIT);
    }
}
