//! The V2G connection: whole V2GTP messages over a TCP or TLS byte stream.

use std::fmt;
use std::net::SocketAddrV6;

use ccs_proto::v2gtp::{self, Deframer, DeframerConfig, Message, PayloadType};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::ConnectionError;

/// A byte stream a V2G connection can run over (plain TCP or TLS).
pub(crate) trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send + Sync {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> ByteStream for T {}

/// What TLS negotiated, for logs and tests.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct TlsInfo {
    /// The protocol version, e.g. `TLSv1.2`.
    pub version: String,
    /// The cipher suite in OpenSSL's naming, e.g. `ECDHE-ECDSA-AES128-SHA256`.
    pub cipher: String,
    /// The subject of the peer's certificate, if it sent one.
    pub peer_subject: Option<String>,
}

/// The NSS key log lines (`CLIENT_RANDOM …` for TLS 1.2, `CLIENT_TRAFFIC_SECRET_0 …` and
/// friends for TLS 1.3) of one TLS connection: what Wireshark needs to decrypt it. `Debug`
/// shows only the number of lines.
#[derive(Clone, Eq, PartialEq)]
pub struct TlsSecrets(String);

impl TlsSecrets {
    /// The lines, each ending in a newline.
    pub fn nss_key_log(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TlsSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TlsSecrets({} lines)", self.0.lines().count())
    }
}

/// Which way a message went, seen from this host.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum TapDirection {
    /// We sent it.
    Sent,
    /// The peer sent it.
    Received,
}

/// Sees every whole V2GTP message (8-byte header and payload) of a connection in plaintext,
/// after decryption and before encryption: how a TLS session is recorded readable.
pub type PlaintextTap = Box<dyn FnMut(TapDirection, &[u8]) + Send + Sync>;

/// What happened on a V2G connection.
#[derive(Debug)]
pub enum V2gEvent {
    /// A whole message arrived.
    Message(Message),
    /// The peer closed the connection cleanly, between two messages.
    Closed,
    /// The connection ended otherwise: broken, or closed by us after a V2GTP error.
    Failed(ConnectionError),
}

/// One V2G connection to a peer (the car's connection to the charger, or one the charger
/// accepted).
///
/// Call order: `send` a message, then `next_event` until the answer (or the end) arrives; both
/// may be used in any order. `next_event` is cancel-safe, so it can race a timer in
/// `tokio::select!`. After [`V2gEvent::Closed`] or [`V2gEvent::Failed`] the connection is over
/// and `next_event` keeps returning [`V2gEvent::Closed`].
pub struct V2gConnection {
    stream: Box<dyn ByteStream>,
    deframer: Deframer,
    peer: SocketAddrV6,
    tls: Option<TlsInfo>,
    local: Option<SocketAddrV6>,
    secrets: Option<TlsSecrets>,
    tap: Option<PlaintextTap>,
    ended: bool,
}

impl fmt::Debug for V2gConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("V2gConnection")
            .field("peer", &self.peer)
            .field("tls", &self.tls)
            .field("buffered", &self.deframer.buffered())
            .field("ended", &self.ended)
            .finish()
    }
}

impl V2gConnection {
    pub(crate) fn new(
        stream: Box<dyn ByteStream>,
        peer: SocketAddrV6,
        tls: Option<TlsInfo>,
        config: DeframerConfig,
    ) -> Self {
        Self {
            stream,
            deframer: Deframer::new(config),
            peer,
            tls,
            local: None,
            secrets: None,
            tap: None,
            ended: false,
        }
    }

    /// Adds our own address and, for TLS, the connection's key log lines.
    pub(crate) fn with_details(
        mut self,
        local: Option<SocketAddrV6>,
        secrets: Option<String>,
    ) -> Self {
        self.local = local;
        self.secrets = secrets.filter(|s| !s.is_empty()).map(TlsSecrets);
        self
    }

    /// Our own address on the connection, when the socket told it.
    pub fn local(&self) -> Option<SocketAddrV6> {
        self.local
    }

    /// The TLS secrets of the connection (TLS only), for a recording's decryption secrets
    /// block.
    pub fn tls_secrets(&self) -> Option<&TlsSecrets> {
        self.secrets.as_ref()
    }

    /// From now on, `tap` sees every message sent and received, whole and in plaintext.
    pub fn set_plaintext_tap(&mut self, tap: PlaintextTap) {
        self.tap = Some(tap);
    }

    /// The peer's address.
    pub fn peer(&self) -> SocketAddrV6 {
        self.peer
    }

    /// What TLS negotiated, `None` on plain TCP.
    pub fn tls_info(&self) -> Option<&TlsInfo> {
        self.tls.as_ref()
    }

    /// Sends one whole message (header and payload in one write).
    pub async fn send(
        &mut self,
        payload_type: PayloadType,
        payload: &[u8],
    ) -> Result<(), ConnectionError> {
        let frame = v2gtp::encode(payload_type, payload)
            .ok_or(ConnectionError::PayloadTooLong(payload.len()))?;
        self.stream
            .write_all(&frame)
            .await
            .map_err(ConnectionError::Broken)?;
        self.stream.flush().await.map_err(ConnectionError::Broken)?;
        if let Some(tap) = self.tap.as_mut() {
            tap(TapDirection::Sent, &frame);
        }
        Ok(())
    }

    /// The next event: a whole message, a clean close, or a failure. Cancel-safe.
    pub async fn next_event(&mut self) -> V2gEvent {
        if self.ended {
            return V2gEvent::Closed;
        }
        loop {
            match self.deframer.poll_message() {
                Ok(Some(message)) => {
                    if let Some(tap) = self.tap.as_mut()
                        && let Some(frame) = v2gtp::encode(message.payload_type, &message.payload)
                    {
                        tap(TapDirection::Received, &frame);
                    }
                    return V2gEvent::Message(message);
                }
                Ok(None) => {}
                Err(error) => {
                    // Closing the connection is the standard's reaction to a bad header
                    // (§7.8.3.2); the peer's data after it cannot be resynchronised.
                    self.ended = true;
                    let _ = self.stream.shutdown().await;
                    return V2gEvent::Failed(ConnectionError::Framing(error));
                }
            }
            let spare = self.deframer.spare_capacity();
            let read = self.stream.read(spare).await;
            match read {
                Ok(0) => {
                    self.ended = true;
                    return match self.deframer.finish() {
                        Ok(()) => V2gEvent::Closed,
                        Err(error) => V2gEvent::Failed(ConnectionError::Framing(error)),
                    };
                }
                Ok(n) => self.deframer.commit(n),
                Err(error) => {
                    self.ended = true;
                    return V2gEvent::Failed(ConnectionError::Broken(error));
                }
            }
        }
    }

    /// Closes the connection (TLS close_notify, then TCP FIN).
    pub async fn close(mut self) -> Result<(), ConnectionError> {
        self.ended = true;
        self.stream
            .shutdown()
            .await
            .map_err(ConnectionError::Broken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccs_proto::v2gtp::DeframeError;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    fn pair(max: u32) -> (V2gConnection, DuplexStream) {
        let (ours, theirs) = tokio::io::duplex(64);
        let peer: SocketAddrV6 = "[fe80::1%1]:50000".parse().unwrap();
        let conn = V2gConnection::new(
            Box::new(ours),
            peer,
            None,
            DeframerConfig::with_max_payload_len(max),
        );
        (conn, theirs)
    }

    fn frame(t: PayloadType, payload: &[u8]) -> Vec<u8> {
        v2gtp::encode(t, payload).unwrap()
    }

    #[tokio::test]
    async fn split_and_coalesced_messages_arrive_whole() {
        let (mut conn, mut peer) = pair(4096);
        let mut wire = frame(PayloadType::Exi, &[0x80; 300]);
        wire.extend(frame(PayloadType::Iso20Dc, &[1, 2, 3]));
        let writer = tokio::spawn(async move {
            // Odd-sized pieces straddle the message boundary.
            for chunk in wire.chunks(7) {
                peer.write_all(chunk).await.unwrap();
            }
            peer.shutdown().await.unwrap();
        });
        let V2gEvent::Message(first) = conn.next_event().await else {
            panic!("expected a message");
        };
        assert_eq!(first.payload, vec![0x80; 300]);
        let V2gEvent::Message(second) = conn.next_event().await else {
            panic!("expected a message");
        };
        assert_eq!(second.payload_type, PayloadType::Iso20Dc);
        assert_eq!(second.payload, vec![1, 2, 3]);
        assert!(matches!(conn.next_event().await, V2gEvent::Closed));
        assert!(matches!(conn.next_event().await, V2gEvent::Closed));
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn close_inside_a_message_is_a_failure() {
        let (mut conn, mut peer) = pair(4096);
        peer.write_all(&frame(PayloadType::Exi, &[9; 20])[..12])
            .await
            .unwrap();
        drop(peer);
        assert!(matches!(
            conn.next_event().await,
            V2gEvent::Failed(ConnectionError::Framing(DeframeError::TruncatedAtClose {
                buffered: 12
            }))
        ));
    }

    #[tokio::test]
    async fn bad_header_closes_our_side() {
        let (mut conn, mut peer) = pair(16);
        peer.write_all(&frame(PayloadType::Exi, &[0; 17]))
            .await
            .unwrap();
        assert!(matches!(
            conn.next_event().await,
            V2gEvent::Failed(ConnectionError::Framing(DeframeError::PayloadTooLong {
                length: 17,
                max: 16
            }))
        ));
        // We shut our side down: the peer reads end of stream (after what it has not read).
        let mut rest = Vec::new();
        peer.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
    }

    #[tokio::test]
    async fn send_frames_the_payload() {
        let (mut conn, mut peer) = pair(4096);
        conn.send(PayloadType::Exi, &[0x80, 0x98]).await.unwrap();
        let mut got = [0u8; 10];
        peer.read_exact(&mut got).await.unwrap();
        assert_eq!(got, [0x01, 0xFE, 0x80, 0x01, 0, 0, 0, 2, 0x80, 0x98]);
    }
}
