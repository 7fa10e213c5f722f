//! The sans-IO core of ccsplc.
//!
//! Everything here is a value-in, value-out state machine: it takes `now` as an argument,
//! returns what to transmit, the next deadline and events as values, and never sleeps, reads a
//! clock, draws random numbers or touches a socket. The drivers (`ccs-linux`, `ccs-sim`) are
//! thin loops around it.
//!
//! Layers, bottom to top (each a module as it is built):
//!
//! - [`time`]: the crate's own `Instant` and `Duration`, so replayed captures and the virtual
//!   clock of `ccs-sim` drive the same code as the real clock.
//! - HomePlug Green PHY management messages as checked wire views, and SLAC (ISO 15118-3) for
//!   the car and the charger.
//! - SDP (ISO 15118-2 §7.10) and V2GTP framing.
//! - The app handshake (SupportedAppProtocol) and the EVCC and SECC charging sessions for
//!   DIN 70121, ISO 15118-2 and ISO 15118-20.
//! - [`hardware`]: the hardware seam: commands out (CP state, contactors, lock, power-supply
//!   set-points) and measurements in, as plain values. The core never calls an adapter.
//!
//! May depend on `ccs-exi` and `ccs-msg`; nothing that does I/O.
#![forbid(unsafe_code)]

pub mod capture;
pub mod hardware;
pub mod homeplug;
pub mod sdp;
pub mod session;
pub mod slac;
pub mod time;
pub mod trace;
pub mod v2gtp;
pub mod wire;
