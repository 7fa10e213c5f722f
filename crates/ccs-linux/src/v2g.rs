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
            ended: false,
        }
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
        self.stream.flush().await.map_err(ConnectionError::Broken)
    }

    /// The next event: a whole message, a clean close, or a failure. Cancel-safe.
    pub async fn next_event(&mut self) -> V2gEvent {
        if self.ended {
            return V2gEvent::Closed;
        }
        loop {
            match self.deframer.poll_message() {
                Ok(Some(message)) => return V2gEvent::Message(message),
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
