//! V2GTP, the V2G Transfer Protocol (ISO 15118-2 §7.8.3, DIN SPEC 70121 §8.7.3, ISO 15118-20
//! §7.8.3): the 8-byte header in front of every SDP datagram and every EXI message on TCP/TLS.
//!
//! Read ISO 15118-2 §7.8.3 (header, Table 9 payload types) and `reference/homeplug-slac.md` §7
//! before changing this file.
//!
//! ```text
//!  0         1                 2-3            4-7
//!  version   inverse version   payload type   payload length     payload ...
//!  0x01      0xFE              u16 BE         u32 BE
//! ```
//!
//! Three layers, smoltcp style:
//!
//! - [`Header`]: a checked view over the 8 header bytes (`new_checked`, getters, setters).
//! - [`HeaderRepr`]: the legal header values (`parse` / `emit`); `parse` rejects a wrong
//!   version, so a `HeaderRepr` always describes a version-1 header.
//! - [`Deframer`]: turns a TCP byte stream into whole messages. TCP splits and coalesces
//!   segments, so "not enough bytes yet" ([`None`]) is kept apart from "malformed" (an error).
//!   After an error the connection must be closed ([`DeframeError`]); the deframer stays failed.

use core::fmt;

/// The length of the V2GTP header.
pub const HEADER_LEN: usize = 8;

/// The protocol version that ISO 15118-2/-20 and DIN SPEC 70121 define (§7.8.3.2).
pub const PROTOCOL_VERSION: u8 = 0x01;

/// The bitwise inverse of [`PROTOCOL_VERSION`], sent as a plausibility check (§7.8.3.2).
pub const INVERSE_PROTOCOL_VERSION: u8 = !PROTOCOL_VERSION;

/// The payload types of V2GTP (ISO 15118-2 Table 10, ISO 15118-20 Table 13).
///
/// Unknown values never fail to parse: they become [`PayloadType::Unknown`]. Values
/// `0xA000..=0xFFFF` are reserved for manufacturer-specific use
/// ([`PayloadType::is_manufacturer_specific`]).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum PayloadType {
    /// `0x8001`: an EXI-coded V2G message (DIN SPEC 70121, ISO 15118-2) or, in ISO 15118-20, the
    /// SupportedAppProtocol handshake ("SAP").
    Exi,
    /// `0x8002`: ISO 15118-20 CommonMessages ("mainstream").
    Iso20Mainstream,
    /// `0x8003`: ISO 15118-20 AC messages.
    Iso20Ac,
    /// `0x8004`: ISO 15118-20 DC messages.
    Iso20Dc,
    /// `0x8005`: ISO 15118-20 ACDP messages.
    Iso20Acdp,
    /// `0x8006`: ISO 15118-20 WPT messages.
    Iso20Wpt,
    /// `0x8101`: ISO 15118-20 schedule renegotiation side stream.
    Iso20ScheduleRenegotiation,
    /// `0x8102`: ISO 15118-20 metering confirmation side stream.
    Iso20MeteringConfirmation,
    /// `0x8103`: ISO 15118-20 ACDP system status side stream.
    Iso20AcdpSystemStatus,
    /// `0x8104`: ISO 15118-20 parking status side stream.
    Iso20ParkingStatus,
    /// `0x9000`: SECC Discovery Protocol request (UDP only).
    SdpRequest,
    /// `0x9001`: SECC Discovery Protocol response (UDP only).
    SdpResponse,
    /// `0x9002`: ISO 15118-20 SDP request for wireless / ACDP (UDP only).
    SdpRequestWireless,
    /// `0x9003`: ISO 15118-20 SDP response for wireless / ACDP (UDP only).
    SdpResponseWireless,
    /// Any other value, kept as it was on the wire.
    Unknown(u16),
}

impl PayloadType {
    /// Whether this payload type may appear on the TCP/TLS connection of a V2G session (the EXI
    /// types of DIN, ISO 15118-2 and ISO 15118-20); the SDP types are UDP-only.
    pub fn is_v2g_stream_type(self) -> bool {
        matches!(
            self,
            Self::Exi
                | Self::Iso20Mainstream
                | Self::Iso20Ac
                | Self::Iso20Dc
                | Self::Iso20Acdp
                | Self::Iso20Wpt
                | Self::Iso20ScheduleRenegotiation
                | Self::Iso20MeteringConfirmation
                | Self::Iso20AcdpSystemStatus
                | Self::Iso20ParkingStatus
        )
    }

    /// Whether the value lies in the manufacturer-specific range `0xA000..=0xFFFF`.
    pub fn is_manufacturer_specific(self) -> bool {
        u16::from(self) >= 0xA000
    }
}

impl From<u16> for PayloadType {
    fn from(raw: u16) -> Self {
        match raw {
            0x8001 => Self::Exi,
            0x8002 => Self::Iso20Mainstream,
            0x8003 => Self::Iso20Ac,
            0x8004 => Self::Iso20Dc,
            0x8005 => Self::Iso20Acdp,
            0x8006 => Self::Iso20Wpt,
            0x8101 => Self::Iso20ScheduleRenegotiation,
            0x8102 => Self::Iso20MeteringConfirmation,
            0x8103 => Self::Iso20AcdpSystemStatus,
            0x8104 => Self::Iso20ParkingStatus,
            0x9000 => Self::SdpRequest,
            0x9001 => Self::SdpResponse,
            0x9002 => Self::SdpRequestWireless,
            0x9003 => Self::SdpResponseWireless,
            other => Self::Unknown(other),
        }
    }
}

impl From<PayloadType> for u16 {
    fn from(t: PayloadType) -> Self {
        match t {
            PayloadType::Exi => 0x8001,
            PayloadType::Iso20Mainstream => 0x8002,
            PayloadType::Iso20Ac => 0x8003,
            PayloadType::Iso20Dc => 0x8004,
            PayloadType::Iso20Acdp => 0x8005,
            PayloadType::Iso20Wpt => 0x8006,
            PayloadType::Iso20ScheduleRenegotiation => 0x8101,
            PayloadType::Iso20MeteringConfirmation => 0x8102,
            PayloadType::Iso20AcdpSystemStatus => 0x8103,
            PayloadType::Iso20ParkingStatus => 0x8104,
            PayloadType::SdpRequest => 0x9000,
            PayloadType::SdpResponse => 0x9001,
            PayloadType::SdpRequestWireless => 0x9002,
            PayloadType::SdpResponseWireless => 0x9003,
            PayloadType::Unknown(raw) => raw,
        }
    }
}

impl fmt::Display for PayloadType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::Exi => "EXI",
            Self::Iso20Mainstream => "ISO20-mainstream",
            Self::Iso20Ac => "ISO20-AC",
            Self::Iso20Dc => "ISO20-DC",
            Self::Iso20Acdp => "ISO20-ACDP",
            Self::Iso20Wpt => "ISO20-WPT",
            Self::Iso20ScheduleRenegotiation => "ISO20-schedule-renegotiation",
            Self::Iso20MeteringConfirmation => "ISO20-metering-confirmation",
            Self::Iso20AcdpSystemStatus => "ISO20-ACDP-system-status",
            Self::Iso20ParkingStatus => "ISO20-parking-status",
            Self::SdpRequest => "SDP-request",
            Self::SdpResponse => "SDP-response",
            Self::SdpRequestWireless => "SDP-request-wireless",
            Self::SdpResponseWireless => "SDP-response-wireless",
            Self::Unknown(raw) => return write!(f, "unknown(0x{raw:04X})"),
        };
        write!(f, "{name}(0x{:04X})", u16::from(*self))
    }
}

mod field {
    use core::ops::Range;

    pub(super) const VERSION: usize = 0;
    pub(super) const INVERSE_VERSION: usize = 1;
    pub(super) const PAYLOAD_TYPE: Range<usize> = 2..4;
    pub(super) const PAYLOAD_LENGTH: Range<usize> = 4..8;
}

/// Why bytes are not a V2GTP header or message.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum HeaderError {
    /// Fewer than 8 bytes (or fewer than the announced payload in a datagram).
    Truncated,
    /// Version/inverse version are not `01`/`FE` (§7.8.3.2).
    WrongVersion {
        /// The version byte received.
        version: u8,
        /// The inverse version byte received.
        inverse: u8,
    },
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("invalid message: V2GTP header or payload truncated"),
            Self::WrongVersion { version, inverse } => write!(
                f,
                "invalid message: V2GTP version {version:02X}/{inverse:02X}, expected 01/FE"
            ),
        }
    }
}

impl core::error::Error for HeaderError {}

/// A checked view over a V2GTP header (and whatever follows it).
#[derive(Clone, Copy, Debug)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    /// Wraps `buffer` without checking its length; accessors may panic on short buffers. Use
    /// [`Header::new_checked`] for anything that came from outside.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps `buffer` after checking that it holds at least a whole header.
    pub fn new_checked(buffer: T) -> Result<Self, HeaderError> {
        let header = Self::new_unchecked(buffer);
        header.check_len()?;
        Ok(header)
    }

    /// Checks that the buffer holds at least [`HEADER_LEN`] bytes; after this no accessor
    /// panics.
    pub fn check_len(&self) -> Result<(), HeaderError> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(HeaderError::Truncated)
        } else {
            Ok(())
        }
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The protocol version byte.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION]
    }

    /// The inverse protocol version byte.
    pub fn inverse_version(&self) -> u8 {
        self.buffer.as_ref()[field::INVERSE_VERSION]
    }

    /// The payload type.
    pub fn payload_type(&self) -> PayloadType {
        let b = &self.buffer.as_ref()[field::PAYLOAD_TYPE];
        PayloadType::from(u16::from_be_bytes([b[0], b[1]]))
    }

    /// The announced payload length (big-endian on the wire).
    pub fn payload_length(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::PAYLOAD_LENGTH];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// The bytes after the header that belong to the payload, as far as they are present.
    pub fn payload(&self) -> &[u8] {
        let data = &self.buffer.as_ref()[HEADER_LEN..];
        let announced = usize::try_from(self.payload_length()).unwrap_or(usize::MAX);
        &data[..announced.min(data.len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Header<T> {
    /// Sets the version and inverse version bytes.
    pub fn set_version(&mut self, version: u8, inverse: u8) {
        let b = self.buffer.as_mut();
        b[field::VERSION] = version;
        b[field::INVERSE_VERSION] = inverse;
    }

    /// Sets the payload type.
    pub fn set_payload_type(&mut self, payload_type: PayloadType) {
        self.buffer.as_mut()[field::PAYLOAD_TYPE]
            .copy_from_slice(&u16::from(payload_type).to_be_bytes());
    }

    /// Sets the payload length.
    pub fn set_payload_length(&mut self, length: u32) {
        self.buffer.as_mut()[field::PAYLOAD_LENGTH].copy_from_slice(&length.to_be_bytes());
    }
}

/// The legal values of a V2GTP header: version 1 with a payload type and length.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct HeaderRepr {
    /// What the payload is.
    pub payload_type: PayloadType,
    /// How many payload bytes follow the header.
    pub payload_length: u32,
}

impl HeaderRepr {
    /// Parses a header view; a version other than `01`/`FE` is an error (§7.8.3.2).
    pub fn parse<T: AsRef<[u8]>>(header: &Header<T>) -> Result<Self, HeaderError> {
        header.check_len()?;
        if header.version() != PROTOCOL_VERSION
            || header.inverse_version() != INVERSE_PROTOCOL_VERSION
        {
            return Err(HeaderError::WrongVersion {
                version: header.version(),
                inverse: header.inverse_version(),
            });
        }
        Ok(Self {
            payload_type: header.payload_type(),
            payload_length: header.payload_length(),
        })
    }

    /// The length of the emitted header.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header into `header`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, header: &mut Header<T>) {
        header.set_version(PROTOCOL_VERSION, INVERSE_PROTOCOL_VERSION);
        header.set_payload_type(self.payload_type);
        header.set_payload_length(self.payload_length);
    }

    /// The header as 8 bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut bytes = [0; HEADER_LEN];
        self.emit(&mut Header::new_unchecked(&mut bytes[..]));
        bytes
    }
}

/// Frames `payload` as one V2GTP message: header followed by the payload.
///
/// Fails only if the payload is longer than `u32::MAX` bytes, which V2GTP cannot express.
pub fn encode(payload_type: PayloadType, payload: &[u8]) -> Option<Vec<u8>> {
    let payload_length = u32::try_from(payload.len()).ok()?;
    let header = HeaderRepr {
        payload_type,
        payload_length,
    };
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&header.to_bytes());
    out.extend_from_slice(payload);
    Some(out)
}

/// Parses one whole V2GTP message from a datagram (SDP over UDP): the header must be valid and
/// the payload complete; bytes after the announced payload are ignored.
pub fn parse_datagram(datagram: &[u8]) -> Result<(HeaderRepr, &[u8]), HeaderError> {
    let header = Header::new_checked(datagram)?;
    let repr = HeaderRepr::parse(&header)?;
    let available = &datagram[HEADER_LEN..];
    let payload_len = usize::try_from(repr.payload_length).unwrap_or(usize::MAX);
    let Some(payload) = available.get(..payload_len) else {
        return Err(HeaderError::Truncated);
    };
    Ok((repr, payload))
}

/// One whole V2GTP message as it came off the stream.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Message {
    /// The payload type from the header.
    pub payload_type: PayloadType,
    /// The payload (e.g. an EXI document), without the header.
    pub payload: Vec<u8>,
}

/// The default largest payload the [`Deframer`] accepts: 64 KiB, room for ISO 15118-2
/// certificate installation responses and ISO 15118-20 schedules, far below anything that
/// could exhaust memory.
pub const DEFAULT_MAX_PAYLOAD_LEN: u32 = 64 * 1024;

/// How much the [`Deframer`] reads at a time when it does not know yet how much it needs.
const READ_CHUNK: usize = 4096;

/// Why a stream cannot be deframed. Each one means the V2GTP entity shall close the TCP
/// connection (ISO 15118-2 §7.8.3.2: a header that fails the checks is not processed further,
/// and since the stream cannot be resynchronised behind it, the connection is closed).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum DeframeError {
    /// The header's version is not `01`/`FE` (invalid message).
    WrongVersion {
        /// The version byte received.
        version: u8,
        /// The inverse version byte received.
        inverse: u8,
    },
    /// The payload type is unknown or not allowed on a V2G stream (peer incompatible).
    UnsupportedPayloadType(PayloadType),
    /// The announced payload is longer than the configured maximum (peer misbehaved).
    PayloadTooLong {
        /// The announced length.
        length: u32,
        /// The configured maximum.
        max: u32,
    },
    /// The stream ended in the middle of a message (invalid message).
    TruncatedAtClose {
        /// How many bytes of the unfinished message had arrived.
        buffered: usize,
    },
}

impl fmt::Display for DeframeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongVersion { version, inverse } => write!(
                f,
                "invalid message: V2GTP version {version:02X}/{inverse:02X}, expected 01/FE"
            ),
            Self::UnsupportedPayloadType(t) => {
                write!(f, "peer incompatible: V2GTP payload type {t} not supported")
            }
            Self::PayloadTooLong { length, max } => write!(
                f,
                "peer misbehaved: V2GTP payload of {length} bytes exceeds the maximum of {max}"
            ),
            Self::TruncatedAtClose { buffered } => write!(
                f,
                "invalid message: stream closed with {buffered} bytes of an unfinished V2GTP message"
            ),
        }
    }
}

impl core::error::Error for DeframeError {}

/// Configuration of a [`Deframer`].
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub struct DeframerConfig {
    /// The largest payload accepted; longer ones close the connection. Default
    /// [`DEFAULT_MAX_PAYLOAD_LEN`].
    pub max_payload_len: u32,
}

impl Default for DeframerConfig {
    fn default() -> Self {
        Self {
            max_payload_len: DEFAULT_MAX_PAYLOAD_LEN,
        }
    }
}

impl DeframerConfig {
    /// A configuration with the given maximum payload length.
    pub fn with_max_payload_len(max_payload_len: u32) -> Self {
        Self { max_payload_len }
    }
}

/// Turns a V2GTP byte stream (TCP or TLS) into whole messages.
///
/// Call order: the driver reads into [`Deframer::spare_capacity`] and reports the count with
/// [`Deframer::commit`] (or copies with [`Deframer::push`]), then calls
/// [`Deframer::poll_message`] until it returns `Ok(None)` ("need more bytes"). On end of stream
/// it calls [`Deframer::finish`] to learn whether the stream ended cleanly between messages.
///
/// The header is checked as soon as its 8 bytes are in, before any payload is buffered: a wrong
/// version, a payload type not allowed on a V2G stream, or a length above
/// [`DeframerConfig::max_payload_len`] is an error, and the deframer then stays failed (the
/// connection must be closed). The buffer never grows beyond `8 + max_payload_len` bytes.
#[derive(Debug)]
pub struct Deframer {
    config: DeframerConfig,
    buffer: Vec<u8>,
    filled: usize,
    failed: Option<DeframeError>,
}

impl Deframer {
    /// An empty deframer.
    pub fn new(config: DeframerConfig) -> Self {
        Self {
            config,
            buffer: Vec::new(),
            filled: 0,
            failed: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &DeframerConfig {
        &self.config
    }

    /// How many bytes are buffered and not yet returned as messages.
    pub fn buffered(&self) -> usize {
        self.filled
    }

    /// The largest number of bytes the buffer may ever hold.
    fn limit(&self) -> usize {
        HEADER_LEN.saturating_add(usize::try_from(self.config.max_payload_len).unwrap_or(0))
    }

    /// Free space to read into. Empty only while a whole message is waiting to be taken with
    /// [`Deframer::poll_message`] and the buffer is at its limit, or after a failure.
    pub fn spare_capacity(&mut self) -> &mut [u8] {
        if self.failed.is_some() {
            return &mut [];
        }
        let wanted = self.filled.saturating_add(READ_CHUNK).min(self.limit());
        if self.buffer.len() < wanted {
            self.buffer.resize(wanted, 0);
        }
        &mut self.buffer[self.filled..]
    }

    /// Records that `n` bytes were written into [`Deframer::spare_capacity`].
    pub fn commit(&mut self, n: usize) {
        self.filled = self.filled.saturating_add(n).min(self.buffer.len());
    }

    /// Copies as many of `bytes` as fit; returns how many were taken. The rest must be pushed
    /// again after [`Deframer::poll_message`] has made room.
    pub fn push(&mut self, bytes: &[u8]) -> usize {
        let mut taken = 0;
        while taken < bytes.len() {
            let spare = self.spare_capacity();
            let n = spare.len().min(bytes.len() - taken);
            if n == 0 {
                break;
            }
            spare[..n].copy_from_slice(&bytes[taken..taken + n]);
            self.commit(n);
            taken += n;
        }
        taken
    }

    /// The next whole message, `Ok(None)` if more bytes are needed, or the reason the
    /// connection must be closed.
    pub fn poll_message(&mut self) -> Result<Option<Message>, DeframeError> {
        if let Some(err) = self.failed {
            return Err(err);
        }
        if self.filled < HEADER_LEN {
            return Ok(None);
        }
        let header = match self.check_header() {
            Ok(header) => header,
            Err(err) => {
                self.failed = Some(err);
                return Err(err);
            }
        };
        // `check_header` bounded the length by `max_payload_len`, so this cannot overflow.
        let payload_len = usize::try_from(header.payload_length).unwrap_or(usize::MAX);
        let total = HEADER_LEN + payload_len;
        if self.filled < total {
            return Ok(None);
        }
        let payload = self.buffer[HEADER_LEN..total].to_vec();
        self.buffer.copy_within(total..self.filled, 0);
        self.filled -= total;
        if self.filled == 0 && self.buffer.len() > READ_CHUNK {
            // Give back the memory of a large message once it is delivered.
            self.buffer.truncate(READ_CHUNK);
            self.buffer.shrink_to(READ_CHUNK);
        }
        Ok(Some(Message {
            payload_type: header.payload_type,
            payload,
        }))
    }

    /// Checks the buffered header (§7.8.3.2): version, payload type, length.
    fn check_header(&self) -> Result<HeaderRepr, DeframeError> {
        let view = Header::new_unchecked(&self.buffer[..HEADER_LEN]);
        let repr = HeaderRepr::parse(&view).map_err(|_| DeframeError::WrongVersion {
            version: view.version(),
            inverse: view.inverse_version(),
        })?;
        if !repr.payload_type.is_v2g_stream_type() {
            return Err(DeframeError::UnsupportedPayloadType(repr.payload_type));
        }
        if repr.payload_length > self.config.max_payload_len {
            return Err(DeframeError::PayloadTooLong {
                length: repr.payload_length,
                max: self.config.max_payload_len,
            });
        }
        Ok(repr)
    }

    /// Call at end of stream: `Ok(())` if it ended between messages, an error if it ended
    /// inside one (or the deframer had already failed).
    pub fn finish(&self) -> Result<(), DeframeError> {
        if let Some(err) = self.failed {
            return Err(err);
        }
        if self.filled == 0 {
            Ok(())
        } else {
            Err(DeframeError::TruncatedAtClose {
                buffered: self.filled,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The SDP request of a no-TLS car and the first handshake message of a pyPLC EV
    // (reference/homeplug-slac.md §7, reference/pyplc-behaviour.md §8).
    const SDP_REQUEST: [u8; 10] = [0x01, 0xFE, 0x90, 0x00, 0x00, 0x00, 0x00, 0x02, 0x10, 0x00];

    #[test]
    fn header_deconstruct() {
        let header = Header::new_checked(&SDP_REQUEST[..]).unwrap();
        assert_eq!(header.version(), 0x01);
        assert_eq!(header.inverse_version(), 0xFE);
        assert_eq!(header.payload_type(), PayloadType::SdpRequest);
        assert_eq!(header.payload_length(), 2);
        assert_eq!(header.payload(), &[0x10, 0x00]);
    }

    #[test]
    fn header_construct() {
        let repr = HeaderRepr {
            payload_type: PayloadType::SdpRequest,
            payload_length: 2,
        };
        assert_eq!(repr.to_bytes(), SDP_REQUEST[..8]);
        assert_eq!(
            HeaderRepr::parse(&Header::new_checked(&SDP_REQUEST[..]).unwrap()),
            Ok(repr)
        );
    }

    #[test]
    fn header_too_short_and_wrong_version_are_errors() {
        assert_eq!(
            Header::new_checked(&SDP_REQUEST[..7]).unwrap_err(),
            HeaderError::Truncated
        );
        let mut bad = SDP_REQUEST;
        bad[1] = 0xFF;
        assert_eq!(
            parse_datagram(&bad),
            Err(HeaderError::WrongVersion {
                version: 0x01,
                inverse: 0xFF
            })
        );
        assert_eq!(
            parse_datagram(&SDP_REQUEST[..9]),
            Err(HeaderError::Truncated)
        );
    }

    #[test]
    fn payload_types_round_trip_and_unknown_is_kept() {
        for raw in [
            0x8001, 0x8002, 0x8003, 0x8004, 0x8005, 0x8006, 0x8101, 0x8102, 0x8103, 0x8104, 0x9000,
            0x9001, 0x9002, 0x9003, 0x0000, 0x1234, 0xA000, 0xFFFF,
        ] {
            assert_eq!(u16::from(PayloadType::from(raw)), raw);
        }
        assert_eq!(PayloadType::from(0x1234), PayloadType::Unknown(0x1234));
        assert!(PayloadType::from(0xA001).is_manufacturer_specific());
        assert!(!PayloadType::Exi.is_manufacturer_specific());
        assert_eq!(PayloadType::Exi.to_string(), "EXI(0x8001)");
        assert_eq!(PayloadType::Unknown(0x1234).to_string(), "unknown(0x1234)");
    }

    fn exi(payload: &[u8]) -> Vec<u8> {
        encode(PayloadType::Exi, payload).unwrap()
    }

    #[test]
    fn deframer_yields_a_message_split_byte_by_byte() {
        let wire = exi(&[0x80, 0x00, 0xDB, 0xAB]);
        let mut d = Deframer::new(DeframerConfig::default());
        for (i, b) in wire.iter().enumerate() {
            assert_eq!(d.poll_message(), Ok(None), "complete too early at byte {i}");
            assert_eq!(d.push(&[*b]), 1);
        }
        let msg = d.poll_message().unwrap().unwrap();
        assert_eq!(msg.payload_type, PayloadType::Exi);
        assert_eq!(msg.payload, vec![0x80, 0x00, 0xDB, 0xAB]);
        assert_eq!(d.poll_message(), Ok(None));
        assert_eq!(d.finish(), Ok(()));
    }

    #[test]
    fn deframer_separates_coalesced_messages() {
        let mut wire = exi(&[1, 2, 3]);
        wire.extend(encode(PayloadType::Iso20Dc, &[]).unwrap());
        wire.extend(exi(&[4]));
        wire.extend(&exi(&[5, 6])[..5]);
        let mut d = Deframer::new(DeframerConfig::default());
        assert_eq!(d.push(&wire), wire.len());
        assert_eq!(d.poll_message().unwrap().unwrap().payload, vec![1, 2, 3]);
        let empty = d.poll_message().unwrap().unwrap();
        assert_eq!(empty.payload_type, PayloadType::Iso20Dc);
        assert!(empty.payload.is_empty());
        assert_eq!(d.poll_message().unwrap().unwrap().payload, vec![4]);
        assert_eq!(d.poll_message(), Ok(None));
        assert_eq!(
            d.finish(),
            Err(DeframeError::TruncatedAtClose { buffered: 5 })
        );
    }

    #[test]
    fn deframer_rejects_wrong_version_before_payload_and_stays_failed() {
        let mut wire = exi(&[1, 2, 3]);
        wire[0] = 0x02;
        wire[1] = 0xFD;
        let mut d = Deframer::new(DeframerConfig::default());
        d.push(&wire[..8]);
        let err = DeframeError::WrongVersion {
            version: 0x02,
            inverse: 0xFD,
        };
        assert_eq!(d.poll_message(), Err(err));
        assert_eq!(d.poll_message(), Err(err));
        assert!(d.spare_capacity().is_empty());
        assert_eq!(d.finish(), Err(err));
    }

    #[test]
    fn deframer_rejects_unknown_and_sdp_payload_types() {
        for raw in [0x1234, 0x9000, 0xA000] {
            let mut d = Deframer::new(DeframerConfig::default());
            d.push(&encode(PayloadType::from(raw), &[0]).unwrap());
            assert_eq!(
                d.poll_message(),
                Err(DeframeError::UnsupportedPayloadType(PayloadType::from(raw)))
            );
        }
    }

    #[test]
    fn deframer_rejects_oversized_payload_from_the_header_alone() {
        let mut d = Deframer::new(DeframerConfig::with_max_payload_len(16));
        let header = HeaderRepr {
            payload_type: PayloadType::Exi,
            payload_length: u32::MAX,
        };
        d.push(&header.to_bytes());
        assert_eq!(
            d.poll_message(),
            Err(DeframeError::PayloadTooLong {
                length: u32::MAX,
                max: 16
            })
        );
    }

    #[test]
    fn deframer_never_buffers_more_than_header_plus_maximum() {
        let max = 100u32;
        let mut d = Deframer::new(DeframerConfig::with_max_payload_len(max));
        let mut wire = Vec::new();
        for i in 0..50u8 {
            wire.extend(exi(&[i; 100]));
        }
        let mut offset = 0;
        let mut seen = 0;
        while offset < wire.len() {
            let spare = d.spare_capacity().len();
            assert!(d.buffered() + spare <= HEADER_LEN + max as usize);
            offset += d.push(&wire[offset..]);
            while let Some(msg) = d.poll_message().unwrap() {
                assert_eq!(msg.payload, vec![seen; 100]);
                seen += 1;
            }
        }
        assert_eq!(seen, 50);
    }

    #[test]
    fn deframer_accepts_payload_of_exactly_the_maximum() {
        let mut d = Deframer::new(DeframerConfig::with_max_payload_len(10));
        let wire = exi(&[7; 10]);
        assert_eq!(d.push(&wire), wire.len());
        assert_eq!(d.poll_message().unwrap().unwrap().payload, vec![7; 10]);
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn stream_payload_type() -> impl Strategy<Value = PayloadType> {
        prop::sample::select(vec![
            PayloadType::Exi,
            PayloadType::Iso20Mainstream,
            PayloadType::Iso20Dc,
            PayloadType::Iso20ParkingStatus,
        ])
    }

    proptest! {
        /// However TCP cuts the stream, the same messages come out, in order.
        #[test]
        fn any_segmentation_yields_the_same_messages(
            messages in prop::collection::vec(
                (stream_payload_type(), prop::collection::vec(any::<u8>(), 0..300)), 0..8),
            cuts in prop::collection::vec(1usize..64, 1..64),
        ) {
            let wire: Vec<u8> = messages
                .iter()
                .flat_map(|(t, p)| encode(*t, p).unwrap())
                .collect();
            let mut d = Deframer::new(DeframerConfig::with_max_payload_len(300));
            let mut out = Vec::new();
            let mut offset = 0;
            let mut cut = cuts.iter().cycle();
            while offset < wire.len() {
                let end = (offset + cut.next().copied().unwrap_or(1)).min(wire.len());
                let mut piece = &wire[offset..end];
                while !piece.is_empty() {
                    let taken = d.push(piece);
                    piece = &piece[taken..];
                    while let Some(m) = d.poll_message().unwrap() {
                        out.push((m.payload_type, m.payload));
                    }
                }
                offset = end;
            }
            prop_assert_eq!(d.finish(), Ok(()));
            prop_assert_eq!(out, messages);
        }

        /// Arbitrary bytes never panic the deframer and never make it hold more than the
        /// header plus the maximum payload.
        #[test]
        fn arbitrary_bytes_are_bounded_and_never_panic(
            bytes in prop::collection::vec(any::<u8>(), 0..2000),
            max in 0u32..512,
        ) {
            let mut d = Deframer::new(DeframerConfig::with_max_payload_len(max));
            let mut rest = &bytes[..];
            loop {
                let taken = d.push(rest);
                rest = &rest[taken..];
                prop_assert!(d.buffered() <= HEADER_LEN + max as usize);
                match d.poll_message() {
                    Ok(Some(m)) => prop_assert!(m.payload.len() <= max as usize),
                    Ok(None) if rest.is_empty() => break,
                    Ok(None) => prop_assert!(taken > 0 || d.spare_capacity().is_empty()),
                    Err(_) => break,
                }
            }
        }

        /// SDP parsers accept any datagram without panicking, and what they accept re-emits to
        /// the same bytes.
        #[test]
        fn sdp_parsers_never_panic_and_round_trip(
            bytes in prop::collection::vec(any::<u8>(), 0..40),
        ) {
            if let Ok(r) = crate::sdp::SdpRequestRepr::parse(&bytes) {
                prop_assert_eq!(&r.emit()[..], &bytes[..crate::sdp::REQUEST_LEN]);
            }
            if let Ok(r) = crate::sdp::SdpResponseRepr::parse(&bytes) {
                prop_assert_eq!(&r.emit()[..], &bytes[..crate::sdp::RESPONSE_LEN]);
            }
        }
    }
}
