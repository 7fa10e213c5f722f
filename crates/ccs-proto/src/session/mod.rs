//! The seam between a V2G application session and the driver that runs it.
//!
//! A charging session, as car (EVCC) or as charger (SECC), for any protocol the handshake picks
//! (DIN SPEC 70121, ISO 15118-2, ISO 15118-20), is one [`V2gSession`]: a sans-IO state machine
//! that the driver (the Linux driver of `ccs-linux`, or the simulator of `ccs-sim`) feeds with
//! connection events, V2GTP messages, hardware measurements, stop requests and timeouts, and
//! polls for what to transmit, what to command the hardware, what happened, and when to wake it
//! next. The session owns the app handshake: the EVCC sends supportedAppProtocolReq as soon as
//! the connection is up, and both sides switch to the negotiated protocol's machine.
//!
//! # The driving loop
//!
//! ```text
//!   loop {
//!       wait for: a V2GTP message | connection up/down | measurement | stop | poll_timeout()
//!       call the matching handle_*(now, ...)
//!       while let Some(t) = session.poll_transmit() { send it / close the connection }
//!       while let Some(c) = session.poll_command() { hand it to the hardware adapters }
//!       while let Some(e) = session.poll_event()   { log it, show it, record it }
//!       if session.is_finished() { break }
//!   }
//! ```
//!
//! Polls are cheap and idempotent; call all of them after every `handle_*`. Safety does not
//! depend on the driver's timing: every wait the session needs (contactors confirmed, current
//! fallen, voltage low) is a deadline in [`V2gSession::poll_timeout`].
//!
//! # The sessions
//!
//! - [`EvccSession::new`]`(`[`EvccConfig`]`, our_mac, now)`: the car. Sends
//!   supportedAppProtocolReq on [`V2gSession::handle_connected`], checks the answer, then runs
//!   the negotiated protocol (DIN SPEC 70121: [`din`]).
//! - [`SeccSession::new`]`(`[`SeccConfig`]`, session_id, now)`: the charger, one object per
//!   connection; `session_id` is 8 fresh random bytes drawn by the driver.
//! - [`config`]: the standard's timers and pyPLC's settings with pyPLC's meaning;
//!   [`DriverPolicy`] holds the two pyPLC settings that act between sessions.
//! - [`handshake`]: the app handshake (offer, selection by priority, checks).
//! - [`timers`]: the timer table, named as the standards name the timers.
//!
//! Both dispatch to the negotiated protocol through a private enum; adding ISO 15118-2 or -20
//! means adding a variant there, a machine module next to [`din`], and the protocol to
//! [`handshake::is_implemented`].

use core::fmt;

pub mod config;
pub mod din;
mod ev_dc;
mod evcc;
mod evse_dc;
pub mod handshake;
pub mod iso2;
pub mod iso20;
mod outbox;
mod secc;
pub mod timers;

pub use config::{
    DriverPolicy, EvParameters, EvccConfig, EvccQuirks, EvccTimeouts, EvseLimits,
    PrechargeVoltageSource, ProtocolOffer, ProtocolSelection, SeccConfig, SeccTimeouts,
};
pub use evcc::EvccSession;
pub use secc::SeccSession;

use crate::hardware::{HardwareCommand, HardwareFault, Measurement};
use crate::time::Instant;
use crate::v2gtp::PayloadType;

/// Which side of the cable a session plays.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Role {
    /// The vehicle: EV communication controller, the TCP client.
    Evcc,
    /// The charger: supply equipment communication controller, the TCP server.
    Secc,
}

/// A V2G protocol the handshake can negotiate, in the namespaces of the app handshake.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum Protocol {
    /// DIN SPEC 70121:2014, `urn:din:70121:2012:MsgDef`.
    Din70121,
    /// ISO 15118-2:2013, `urn:iso:15118:2:2013:MsgDef`.
    Iso15118_2,
    /// ISO 15118-20 DC, `urn:iso:std:iso:15118:-20:DC`.
    Iso15118_20Dc,
    /// ISO 15118-20 DC with bidirectional power transfer (DC_BPT service).
    Iso15118_20DcBpt,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Din70121 => "DIN 70121",
            Self::Iso15118_2 => "ISO 15118-2",
            Self::Iso15118_20Dc => "ISO 15118-20 DC",
            Self::Iso15118_20DcBpt => "ISO 15118-20 DC_BPT",
        })
    }
}

/// What carries a session: plain TCP or TLS of a version. The driver tells the session before
/// [`V2gSession::handle_connected`] ([`V2gSession::set_transport`]); ISO 15118-20 is negotiated
/// only over TLS 1.3.
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum Transport {
    /// Plain TCP (what a driver that says nothing has).
    #[default]
    Tcp,
    /// TLS 1.2 (ISO 15118-2).
    Tls12,
    /// TLS 1.3 (ISO 15118-20).
    Tls13,
}

impl Transport {
    /// The transport of an OpenSSL protocol version string (`TLSv1.2`, `TLSv1.3`); `None` =
    /// plain TCP. Any other TLS version counts as TLS 1.2 (not good enough for ISO 15118-20).
    pub fn from_tls_version(version: Option<&str>) -> Self {
        match version {
            None => Self::Tcp,
            Some("TLSv1.3") => Self::Tls13,
            Some(_) => Self::Tls12,
        }
    }

    /// Whether ISO 15118-20 may run over this transport (TLS 1.3, or `allow_without_tls`).
    pub(crate) fn carries_iso20(self, allow_without_tls: bool) -> bool {
        self == Self::Tls13 || allow_without_tls
    }
}

/// What the driver must do on the connection.
#[derive(Clone, Debug, Eq, PartialEq)]
#[must_use]
pub enum Transmit {
    /// Send this payload, V2GTP-framed with this payload type.
    Message {
        /// The V2GTP payload type (`Exi` for the handshake, DIN and ISO 15118-2).
        payload_type: PayloadType,
        /// The EXI stream.
        payload: Vec<u8>,
    },
    /// Close the connection (after SessionStop, or because the session failed).
    Close,
}

/// A connection that went away.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Disconnect {
    /// The peer closed the connection cleanly (TCP FIN / TLS close_notify).
    Closed,
    /// The connection broke (reset, TLS error, V2GTP framing error); the text says how.
    Broken(String),
}

/// Where a session is, with pyPLC's and ccs32clara's checkpoint numbers so that logs can be
/// compared line by line with theirs.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum Phase {
    /// Waiting for the connection or the handshake (checkpoint 400).
    Handshake,
    /// SessionSetup (500).
    SessionSetup,
    /// ServiceDiscovery, ServiceDetail and payment selection (510-520).
    ServiceSelection,
    /// ContractAuthentication / Authorization (530).
    Authorization,
    /// ChargeParameterDiscovery (540).
    ChargeParameterDiscovery,
    /// CP state C and connector lock (550-555).
    ConnectAndLock,
    /// CableCheck (560).
    CableCheck,
    /// PreCharge (570).
    PreCharge,
    /// PowerDelivery start and contactors closed (590).
    PowerDeliveryStart,
    /// The CurrentDemand / ChargeLoop (700).
    Charging,
    /// PowerDelivery stop, CP state B, current down, contactors open (806-810).
    PowerDeliveryStop,
    /// WeldingDetection (850).
    WeldingDetection,
    /// SessionStop (900).
    SessionStop,
    /// The safe shutdown sequence after a failure.
    SafeShutdown,
    /// Nothing more to do.
    Finished,
}

impl Phase {
    /// The checkpoint number pyPLC and ccs32clara print for this phase.
    pub fn checkpoint(self) -> u16 {
        match self {
            Self::Handshake => 400,
            Self::SessionSetup => 500,
            Self::ServiceSelection => 510,
            Self::Authorization => 530,
            Self::ChargeParameterDiscovery => 540,
            Self::ConnectAndLock => 550,
            Self::CableCheck => 560,
            Self::PreCharge => 570,
            Self::PowerDeliveryStart => 590,
            Self::Charging => 700,
            Self::PowerDeliveryStop => 806,
            Self::WeldingDetection => 850,
            Self::SessionStop => 900,
            Self::SafeShutdown => 990,
            Self::Finished => 1000,
        }
    }
}

/// The charging values of the moment, for the live trace, the dashboard and the value plots.
/// Every field is what this side knows right now; `None` = not known yet.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ChargingValues {
    /// The car's state of charge, percent.
    pub soc: Option<f32>,
    /// The voltage the car asks for (EVTargetVoltage), volts.
    pub target_voltage: Option<f32>,
    /// The current the car asks for (EVTargetCurrent), amperes.
    pub target_current: Option<f32>,
    /// The charger's present output voltage (EVSEPresentVoltage), volts.
    pub present_voltage: Option<f32>,
    /// The charger's present output current (EVSEPresentCurrent), amperes.
    pub present_current: Option<f32>,
    /// The charger's maximum voltage, volts.
    pub evse_max_voltage: Option<f32>,
    /// The charger's maximum current, amperes.
    pub evse_max_current: Option<f32>,
    /// The charger's maximum power, watts.
    pub evse_max_power: Option<f32>,
}

/// Whose fault a failed session was, and what exactly happened.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum SessionError {
    /// The peer sent bytes that are not a valid message of the negotiated schema.
    InvalidMessage(String),
    /// The peer broke the protocol: wrong order, wrong SessionID, a response to nothing.
    PeerMisbehaved(String),
    /// The peer is valid but we cannot work with it (no common protocol, unsupported
    /// service).
    PeerIncompatible(String),
    /// The peer refused: a FAILED response code, or an EVSE status that ends the session.
    PeerRefused(String),
    /// A timer of the standard ran out; the text names it (e.g. `V2G_EVCC_Sequence_Timeout`).
    Timeout(&'static str),
    /// The connection closed or broke before the session ended.
    ConnectionLost(String),
    /// A hardware input was stale or an adapter was lost.
    Hardware(HardwareFault),
    /// A physical check failed on our side (precharge never matched, contactors did not
    /// confirm, welding detection voltage stayed high).
    Physical(String),
    /// Our own configuration makes the session impossible.
    Config(String),
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidMessage(s) => write!(f, "invalid message from the peer: {s}"),
            Self::PeerMisbehaved(s) => write!(f, "peer misbehaved: {s}"),
            Self::PeerIncompatible(s) => write!(f, "peer incompatible: {s}"),
            Self::PeerRefused(s) => write!(f, "peer refused: {s}"),
            Self::Timeout(timer) => write!(f, "timeout: {timer}"),
            Self::ConnectionLost(s) => write!(f, "connection lost: {s}"),
            Self::Hardware(fault) => write!(f, "hardware: {fault}"),
            Self::Physical(s) => write!(f, "physical check failed: {s}"),
            Self::Config(s) => write!(f, "configuration: {s}"),
        }
    }
}

/// How a session ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The whole sequence ran to SessionStop (a stop requested by the user, the car or the
    /// charger, including EVSE_Shutdown, is a normal end).
    Completed,
    /// The session failed and went through the safe shutdown sequence.
    Failed(SessionError),
}

/// Something that happened in a session, for logs, the live trace, the dashboard and captures.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// The handshake settled on a protocol.
    ProtocolNegotiated {
        /// The protocol.
        protocol: Protocol,
        /// The SchemaID of the car's offer that was chosen.
        schema_id: u8,
    },
    /// The session entered a new phase.
    PhaseChanged(Phase),
    /// A message was sent: its name (as in the schema) and a one-line summary of key values.
    Sent {
        /// The message name, e.g. `CurrentDemandReq`.
        name: &'static str,
        /// Key values, e.g. `U=380.0V I=120.0A SoC=55%`.
        summary: String,
    },
    /// A message was received: name and summary as for [`SessionEvent::Sent`].
    Received {
        /// The message name.
        name: &'static str,
        /// Key values.
        summary: String,
    },
    /// The charging values changed.
    Values(ChargingValues),
    /// A failure was detected; the safe shutdown sequence follows, and
    /// [`SessionEvent::Finished`] with the same error ends it.
    Failing(SessionError),
    /// The session is over; no more output will follow except what is already queued.
    Finished(Outcome),
}

/// A V2G application session, car or charger, any protocol. See the module docs for the loop.
pub trait V2gSession {
    /// Which side this session plays.
    fn role(&self) -> Role;

    /// What the connection is (plain TCP, TLS 1.2, TLS 1.3); call it before
    /// [`V2gSession::handle_connected`]. Without the call the session assumes plain TCP and
    /// refuses ISO 15118-20.
    fn set_transport(&mut self, transport: Transport) {
        let _ = transport;
    }

    /// The TCP/TLS connection to the peer is up. The EVCC sends its handshake request now.
    fn handle_connected(&mut self, now: Instant);

    /// A whole V2GTP message arrived (the driver has removed the 8-byte header).
    fn handle_message(&mut self, now: Instant, payload_type: PayloadType, payload: &[u8]);

    /// The connection went away.
    fn handle_disconnected(&mut self, now: Instant, reason: Disconnect);

    /// A measurement arrived from the hardware adapters.
    fn handle_measurement(&mut self, now: Instant, measurement: Measurement);

    /// A hardware adapter reported a fault (stale input, lost broker): safe shutdown.
    fn handle_hardware_fault(&mut self, now: Instant, fault: HardwareFault);

    /// The user asked to stop charging (dashboard, MQTT `enabled` = 0, Ctrl-C). A normal stop:
    /// the session winds down through PowerDelivery stop, WeldingDetection and SessionStop.
    fn handle_stop_request(&mut self, now: Instant);

    /// The deadline last returned by [`V2gSession::poll_timeout`] has passed.
    fn handle_timeout(&mut self, now: Instant);

    /// The next thing to do on the connection.
    #[must_use]
    fn poll_transmit(&mut self) -> Option<Transmit>;

    /// The next command for the hardware.
    #[must_use]
    fn poll_command(&mut self) -> Option<HardwareCommand>;

    /// The next event for logs and displays.
    #[must_use]
    fn poll_event(&mut self) -> Option<SessionEvent>;

    /// When [`V2gSession::handle_timeout`] must be called next, if at all.
    #[must_use]
    fn poll_timeout(&self) -> Option<Instant>;

    /// Whether the session is over (its [`SessionEvent::Finished`] has been queued).
    fn is_finished(&self) -> bool;
}
