//! TLS over memory: the same OpenSSL contexts as the real connections ([`crate::tls`]: the
//! ISO 15118-2 and -20 profiles, certificates from the configured PEM files), driven as a
//! sans-IO byte filter so that a simulation can run TLS over its own simulated TCP.
//!
//! The caller moves bytes: ciphertext that arrived ([`MemoryTls::receive_ciphertext`]),
//! plaintext to protect ([`MemoryTls::send_plaintext`]), then takes what is ready
//! ([`MemoryTls::take_ciphertext`], [`MemoryTls::take_plaintext`]). The handshake advances
//! whenever bytes move; plaintext written before it completes is held back until then.

use std::collections::VecDeque;
use std::io::{self, Read, Write};

use openssl::ssl::{ErrorCode, Ssl, SslStream};

use crate::error::LinkError;
use crate::tls::{self, TlsClientConfig, TlsServerConfig};

/// The memory "socket" under the TLS stream: what arrived, and what TLS wrote.
#[derive(Debug, Default)]
struct Pipe {
    incoming: VecDeque<u8>,
    outgoing: Vec<u8>,
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.incoming.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.incoming.len());
        for (slot, byte) in buf.iter_mut().zip(self.incoming.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outgoing.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One side of a TLS connection over memory; see the module docs.
pub struct MemoryTls {
    stream: SslStream<Pipe>,
    server: bool,
    established: bool,
    /// Plaintext written before the handshake completed.
    pending: Vec<u8>,
    plaintext: Vec<u8>,
    failure: Option<String>,
    peer_closed: bool,
}

impl std::fmt::Debug for MemoryTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryTls")
            .field("server", &self.server)
            .field("established", &self.established)
            .field("failure", &self.failure)
            .finish_non_exhaustive()
    }
}

impl MemoryTls {
    /// The charger's side, with the acceptor of [`TlsServerConfig`]. One profile only: a
    /// charger serving both standards picks its context from the car's ClientHello, which
    /// this filter does not wait for.
    pub fn server(config: &TlsServerConfig) -> Result<Self, LinkError> {
        let tls::Acceptor::One(acceptor) = tls::build_acceptor(config)? else {
            return Err(LinkError::Config(
                "TLS over memory serves one profile, not ISO 15118-2 and -20 per car".into(),
            ));
        };
        let ssl = Ssl::new(acceptor.context()).map_err(|e| LinkError::Config(e.to_string()))?;
        Self::new(ssl, true)
    }

    /// The car's side, with the connector of [`TlsClientConfig`]: the charger's chain is
    /// checked against the trust anchors, not against a host name (V2G peers are addressed
    /// by link-local IP).
    pub fn client(config: &TlsClientConfig) -> Result<Self, LinkError> {
        let connector = tls::build_connector(config)?;
        let ssl = connector
            .configure()
            .map_err(|e| LinkError::Config(e.to_string()))?
            .verify_hostname(false)
            .use_server_name_indication(false)
            .into_ssl("")
            .map_err(|e| LinkError::Config(e.to_string()))?;
        Self::new(ssl, false)
    }

    fn new(mut ssl: Ssl, server: bool) -> Result<Self, LinkError> {
        if server {
            ssl.set_accept_state();
        } else {
            ssl.set_connect_state();
        }
        let stream =
            SslStream::new(ssl, Pipe::default()).map_err(|e| LinkError::Config(e.to_string()))?;
        let mut tls = Self {
            stream,
            server,
            established: false,
            pending: Vec::new(),
            plaintext: Vec::new(),
            failure: None,
            peer_closed: false,
        };
        // The client's ClientHello is ready at once.
        tls.advance();
        Ok(tls)
    }

    /// Whether the handshake has completed.
    pub fn is_established(&self) -> bool {
        self.established
    }

    /// Why the connection failed (handshake refused, bad record), if it did.
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// Whether the peer sent close_notify.
    pub fn is_peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// The negotiated protocol version and cipher suite, once established.
    pub fn negotiated(&self) -> Option<(String, String)> {
        let ssl = self.stream.ssl();
        let cipher = ssl.current_cipher()?;
        self.established
            .then(|| (ssl.version_str().to_owned(), cipher.name().to_owned()))
    }

    /// Ciphertext from the peer.
    pub fn receive_ciphertext(&mut self, bytes: &[u8]) {
        self.stream.get_mut().incoming.extend(bytes.iter().copied());
        self.advance();
    }

    /// Plaintext to protect and send.
    pub fn send_plaintext(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        self.advance();
    }

    /// Ciphertext for the peer (handshake and records).
    pub fn take_ciphertext(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.stream.get_mut().outgoing)
    }

    /// Plaintext that arrived.
    pub fn take_plaintext(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.plaintext)
    }

    /// Sends close_notify.
    pub fn close(&mut self) {
        if self.established && self.failure.is_none() {
            let _ = self.stream.shutdown();
        }
    }

    fn fail(&mut self, e: &openssl::ssl::Error) {
        if self.failure.is_none() {
            self.failure = Some(e.to_string());
        }
    }

    /// Runs the handshake, writes pending plaintext and reads what can be read.
    fn advance(&mut self) {
        if self.failure.is_some() {
            return;
        }
        if !self.established {
            match self.stream.do_handshake() {
                Ok(()) => self.established = true,
                Err(e) if matches!(e.code(), ErrorCode::WANT_READ | ErrorCode::WANT_WRITE) => {
                    return;
                }
                Err(e) => return self.fail(&e),
            }
        }
        while !self.pending.is_empty() {
            match self.stream.ssl_write(&self.pending) {
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(e) if matches!(e.code(), ErrorCode::WANT_READ | ErrorCode::WANT_WRITE) => {
                    break;
                }
                Err(e) => return self.fail(&e),
            }
        }
        let mut buf = [0u8; 4096];
        loop {
            match self.stream.ssl_read(&mut buf) {
                Ok(0) => break,
                Ok(n) => self.plaintext.extend_from_slice(&buf[..n]),
                Err(e) if e.code() == ErrorCode::ZERO_RETURN => {
                    self.peer_closed = true;
                    break;
                }
                Err(e) if matches!(e.code(), ErrorCode::WANT_READ | ErrorCode::WANT_WRITE) => {
                    break;
                }
                Err(e) => return self.fail(&e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::TlsProfile;
    use crate::tls::testing::TestPki;

    /// Moves bytes between the two sides until nothing moves.
    fn pump(a: &mut MemoryTls, b: &mut MemoryTls) {
        for _ in 0..20 {
            let ab = a.take_ciphertext();
            let ba = b.take_ciphertext();
            if ab.is_empty() && ba.is_empty() {
                return;
            }
            b.receive_ciphertext(&ab);
            a.receive_ciphertext(&ba);
        }
    }

    #[test]
    fn iso2_profile_handshakes_and_carries_data_both_ways() {
        let dir = tempfile::tempdir().unwrap();
        let pki = TestPki::generate(dir.path()).unwrap();
        let mut server = MemoryTls::server(&TlsServerConfig::new(
            TlsProfile::Iso15118_2,
            pki.secc.chain.clone(),
            pki.secc.key.clone(),
        ))
        .unwrap();
        let mut client =
            MemoryTls::client(&TlsClientConfig::new(TlsProfile::Iso15118_2, pki.root)).unwrap();
        // Written before the handshake: held back, then delivered.
        client.send_plaintext(b"supportedAppProtocolReq");
        pump(&mut client, &mut server);
        assert!(client.is_established() && server.is_established());
        let (version, cipher) = server.negotiated().unwrap();
        assert_eq!(version, "TLSv1.2");
        assert_eq!(cipher, "ECDHE-ECDSA-AES128-SHA256");
        assert_eq!(server.take_plaintext(), b"supportedAppProtocolReq");
        server.send_plaintext(b"supportedAppProtocolRes");
        pump(&mut client, &mut server);
        assert_eq!(client.take_plaintext(), b"supportedAppProtocolRes");
        server.close();
        pump(&mut client, &mut server);
        assert!(client.is_peer_closed());
    }

    #[test]
    fn a_charger_outside_the_trust_anchors_fails_the_handshake() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let ours = TestPki::generate(&a).unwrap();
        let theirs = TestPki::generate(&b).unwrap();
        let mut server = MemoryTls::server(&TlsServerConfig::new(
            TlsProfile::Iso15118_2,
            theirs.secc.chain.clone(),
            theirs.secc.key.clone(),
        ))
        .unwrap();
        let mut client =
            MemoryTls::client(&TlsClientConfig::new(TlsProfile::Iso15118_2, ours.root)).unwrap();
        pump(&mut client, &mut server);
        assert!(!client.is_established());
        assert!(client.failure().is_some());
    }
}
