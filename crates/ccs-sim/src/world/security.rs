//! A TLS layer between a host's V2GTP stream and its simulated TCP connection. The world
//! does no cryptography itself: whoever builds the world plugs in a sans-IO byte filter (the
//! `ccsplc` binary plugs in `ccs_linux::tls_memory::MemoryTls`, the real driver's OpenSSL
//! contexts over memory), and the world moves bytes through it.

use super::report::Side;

/// A sans-IO secure channel: ciphertext in and out on the TCP side, plaintext in and out on
/// the V2GTP side.
pub trait StreamSecurity {
    /// Ciphertext that arrived over TCP.
    fn receive_ciphertext(&mut self, bytes: &[u8]);
    /// Plaintext (V2GTP) to protect and send.
    fn send_plaintext(&mut self, bytes: &[u8]);
    /// Ciphertext ready for TCP.
    fn take_ciphertext(&mut self) -> Vec<u8>;
    /// Plaintext that arrived.
    fn take_plaintext(&mut self) -> Vec<u8>;
    /// Whether the handshake has completed (the session starts then).
    fn is_established(&self) -> bool;
    /// Why the channel failed, if it did (the connection is then closed).
    fn failure(&self) -> Option<String>;
    /// What was negotiated, for the event log (e.g. `TLSv1.2 ECDHE-ECDSA-AES128-SHA256`).
    fn description(&self) -> String;
    /// Sends the closing alert.
    fn close(&mut self);
}

/// Makes the secure channel of a host's connection, when its TCP connection comes up.
pub type SecurityFactory = dyn FnMut(Side) -> Box<dyn StreamSecurity>;
