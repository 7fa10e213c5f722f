//! A read-only view of the first TLS record a client sends, its ClientHello (RFC 8446
//! §4.1.2, which TLS 1.2 clients send in the same shape, RFC 5246 §7.4.1.2): enough to tell
//! which TLS versions and key exchange groups the client offers before any handshake runs.
//!
//! A charger offering both ISO 15118-2 (TLS 1.2, secp256r1) and ISO 15118-20 (TLS 1.3,
//! secp521r1 or X448) picks the context for a car from this, so that each connection follows
//! exactly one standard's profile.

/// TLS record content type `handshake` (RFC 8446 §5.1).
const CONTENT_HANDSHAKE: u8 = 22;
/// Handshake message type `client_hello` (RFC 8446 §4).
const CLIENT_HELLO: u8 = 1;
/// Extension `supported_groups` (RFC 8446 §4.2.7).
const EXT_SUPPORTED_GROUPS: u16 = 10;
/// Extension `supported_versions` (RFC 8446 §4.2.1).
const EXT_SUPPORTED_VERSIONS: u16 = 43;
/// TLS 1.3 in `supported_versions`.
const TLS_1_3: u16 = 0x0304;
/// The named groups of ISO 15118-20 (RFC 8446 §4.2.7).
const SECP521R1: u16 = 0x0019;
const X448: u16 = 0x001e;

/// Why the bytes are not (yet) a ClientHello.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum HelloError {
    /// The first record has not fully arrived.
    Incomplete,
    /// Not a TLS handshake record holding a whole ClientHello.
    NotAClientHello,
}

/// The extensions of a ClientHello.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientHello<'a> {
    extensions: &'a [u8],
}

/// A cursor over big-endian fields; every read fails rather than run past the end.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], HelloError> {
        if self.0.len() < n {
            return Err(HelloError::NotAClientHello);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, HelloError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, HelloError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A vector with a length prefix of `width` bytes.
    fn vector(&mut self, width: usize) -> Result<&'a [u8], HelloError> {
        let len = match width {
            1 => usize::from(self.u8()?),
            _ => usize::from(self.u16()?),
        };
        self.take(len)
    }
}

impl<'a> ClientHello<'a> {
    /// The ClientHello in the first record of `bytes`, what a server has received so far.
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Self, HelloError> {
        let Some(header) = bytes.get(..5) else {
            return Err(HelloError::Incomplete);
        };
        if header[0] != CONTENT_HANDSHAKE {
            return Err(HelloError::NotAClientHello);
        }
        let record_len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        let Some(record) = bytes.get(5..5 + record_len) else {
            return Err(HelloError::Incomplete);
        };
        let mut f = Fields(record);
        if f.u8()? != CLIENT_HELLO {
            return Err(HelloError::NotAClientHello);
        }
        let len = f.take(3)?;
        let len = usize::from(len[0]) << 16 | usize::from(len[1]) << 8 | usize::from(len[2]);
        // A ClientHello split over several records is legal but not met in V2G.
        let mut f = Fields(f.take(len)?);
        f.take(2 + 32)?; // legacy_version, random
        f.vector(1)?; // legacy_session_id
        f.vector(2)?; // cipher_suites
        f.vector(1)?; // legacy_compression_methods
        let extensions = if f.0.is_empty() {
            &[][..]
        } else {
            f.vector(2)?
        };
        Ok(Self { extensions })
    }

    /// The data of extension `kind`, if present.
    fn extension(&self, kind: u16) -> Option<&'a [u8]> {
        let mut f = Fields(self.extensions);
        while !f.0.is_empty() {
            let ty = f.u16().ok()?;
            let data = f.vector(2).ok()?;
            if ty == kind {
                return Some(data);
            }
        }
        None
    }

    /// The 16-bit entries of extension `kind`'s list (a length prefix of `width` bytes).
    fn list(&self, kind: u16, width: usize) -> Vec<u16> {
        let Some(data) = self.extension(kind) else {
            return Vec::new();
        };
        let mut f = Fields(data);
        let Ok(list) = f.vector(width) else {
            return Vec::new();
        };
        list.chunks_exact(2)
            .map(|p| u16::from_be_bytes([p[0], p[1]]))
            .collect()
    }

    /// The versions of `supported_versions`; empty for a client that knows only TLS 1.2.
    pub(crate) fn supported_versions(&self) -> Vec<u16> {
        self.list(EXT_SUPPORTED_VERSIONS, 1)
    }

    /// The groups of `supported_groups`.
    pub(crate) fn supported_groups(&self) -> Vec<u16> {
        self.list(EXT_SUPPORTED_GROUPS, 2)
    }

    /// Whether this car asks for ISO 15118-20's TLS: TLS 1.3 with secp521r1 or X448
    /// (ISO 15118-20 §7.7.3). An ISO 15118-2 car whose TLS stack also speaks TLS 1.3 offers
    /// neither group and keeps TLS 1.2 ([V2G2-067]).
    pub(crate) fn asks_for_iso15118_20(&self) -> bool {
        self.supported_versions().contains(&TLS_1_3)
            && self
                .supported_groups()
                .iter()
                .any(|g| *g == SECP521R1 || *g == X448)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ISO 15118-2's named group.
    const SECP256R1: u16 = 0x0017;

    /// A ClientHello record with these extensions (type, data).
    fn record(extensions: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut ext = Vec::new();
        for (ty, data) in extensions {
            ext.extend_from_slice(&ty.to_be_bytes());
            ext.extend_from_slice(&(data.len() as u16).to_be_bytes());
            ext.extend_from_slice(data);
        }
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.push(0); // session id
        body.extend_from_slice(&[0, 2, 0x13, 0x02]); // one cipher suite
        body.extend_from_slice(&[1, 0]); // null compression
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut hs = vec![CLIENT_HELLO, 0];
        hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
        hs.extend_from_slice(&body);
        let mut rec = vec![CONTENT_HANDSHAKE, 3, 1];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }

    fn versions(v: &[u16]) -> (u16, Vec<u8>) {
        let mut data = vec![(v.len() * 2) as u8];
        v.iter()
            .for_each(|x| data.extend_from_slice(&x.to_be_bytes()));
        (EXT_SUPPORTED_VERSIONS, data)
    }

    fn groups(g: &[u16]) -> (u16, Vec<u8>) {
        let mut data = ((g.len() * 2) as u16).to_be_bytes().to_vec();
        g.iter()
            .for_each(|x| data.extend_from_slice(&x.to_be_bytes()));
        (EXT_SUPPORTED_GROUPS, data)
    }

    #[test]
    fn the_standard_a_car_asks_for_follows_its_versions_and_groups() {
        let ask = |ext: &[(u16, Vec<u8>)]| {
            ClientHello::parse(&record(ext))
                .unwrap()
                .asks_for_iso15118_20()
        };
        assert!(ask(&[versions(&[TLS_1_3]), groups(&[SECP521R1])]));
        assert!(ask(&[
            groups(&[X448, SECP256R1]),
            versions(&[TLS_1_3, 0x0303])
        ]));
        // TLS 1.3 with secp256r1 only: an ISO 15118-2 car on a modern stack.
        assert!(!ask(&[versions(&[TLS_1_3, 0x0303]), groups(&[SECP256R1])]));
        // TLS 1.2 only (no supported_versions), whatever the groups.
        assert!(!ask(&[groups(&[SECP521R1, SECP256R1])]));
        assert!(!ask(&[]));
    }

    #[test]
    fn a_partial_record_is_incomplete_and_garbage_is_refused() {
        let full = record(&[versions(&[TLS_1_3]), groups(&[SECP521R1])]);
        for cut in [0, 4, 5, full.len() - 1] {
            assert_eq!(
                ClientHello::parse(&full[..cut]).err(),
                Some(HelloError::Incomplete),
                "{cut}"
            );
        }
        assert!(ClientHello::parse(&full).is_ok());
        // An HTTP request, a V2GTP header, a truncated handshake inside a whole record.
        assert_eq!(
            ClientHello::parse(b"GET / HTTP/1.1\r\n").err(),
            Some(HelloError::NotAClientHello)
        );
        assert_eq!(
            ClientHello::parse(&[0x01, 0xfe, 0x80, 0x01, 0, 0, 0, 0]).err(),
            Some(HelloError::NotAClientHello)
        );
        assert_eq!(
            ClientHello::parse(&[CONTENT_HANDSHAKE, 3, 1, 0, 4, CLIENT_HELLO, 0, 0, 9]).err(),
            Some(HelloError::NotAClientHello)
        );
    }
}
