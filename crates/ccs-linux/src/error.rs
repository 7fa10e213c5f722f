//! The errors of the drivers, with blame: the local system, the peer, a timeout, the
//! configuration.

use std::io;

use ccs_proto::sdp::{SdpClientError, SdpConfigError};
use ccs_proto::v2gtp::DeframeError;

/// An error of a link driver.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// A system call failed (local: missing interface, permissions, address in use ...).
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// The error from the kernel.
        #[source]
        source: io::Error,
    },
    /// The interface has no usable (non-tentative) link-local IPv6 address.
    #[error("interface {interface} has no usable link-local IPv6 address")]
    NoLinkLocalAddress {
        /// The interface.
        interface: String,
    },
    /// Timeout: something did not happen in time.
    #[error("timeout: {0}")]
    Timeout(String),
    /// SLAC gave up (the inner error says why and whose fault it is).
    #[error("SLAC failed: {0}")]
    Slac(ccs_proto::slac::SlacError),
    /// SDP found no charger.
    #[error(transparent)]
    Sdp(#[from] SdpClientError),
    /// The SDP server configuration is invalid.
    #[error(transparent)]
    SdpConfig(#[from] SdpConfigError),
    /// Configuration: a TLS file or setting is wrong.
    #[error("configuration: {0}")]
    Config(String),
    /// The TLS handshake failed (peer incompatible or misbehaved, or a certificate problem).
    #[error("TLS handshake with {peer} failed: {detail}")]
    TlsHandshake {
        /// The peer.
        peer: String,
        /// What OpenSSL said.
        detail: String,
    },
}

impl LinkError {
    /// An I/O error with what we were doing.
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

/// Why a V2G connection ended other than by a clean close.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The stream broke (reset, TLS alert, ...).
    #[error("connection broken: {0}")]
    Broken(#[source] io::Error),
    /// The peer sent something that is not V2GTP; we closed the connection (§7.8.3.2).
    #[error("connection closed after a V2GTP error: {0}")]
    Framing(#[from] DeframeError),
    /// A payload too long for V2GTP (over 4 GiB) was handed to `send`.
    #[error("payload of {0} bytes cannot be framed")]
    PayloadTooLong(usize),
}
