//! Linux drivers for ccsplc: the thin async loops that connect the sans-IO core of
//! `ccs-proto` to real interfaces.
//!
//! Layers, bottom to top:
//!
//! - [`sys`]: the only `unsafe` code of the project, behind a safe API: AF_PACKET sockets,
//!   interface addresses (`getifaddrs`), TAP devices, network namespaces.
//! - [`iface::Interface`]: the PLC interface's index, MAC and link-local IPv6 address, read from
//!   the kernel. [`link::Link`] opens it for one of the three [`link::LinkMode`]s
//!   (`--no-slac`, `--no-modem`, or a real modem).
//! - [`raw::RawLink`]: async raw Ethernet for HomePlug (`0x88E1`), the SLAC transport;
//!   [`slac::run_slac`] drives the car's or the charger's SLAC machine over it.
//! - [`sdp`]: SDP over UDP/IPv6 — [`sdp::discover_secc`] for the car,
//!   [`sdp::SdpResponder`] for the charger.
//! - [`tcp`] and [`tls`]: the V2G connection over TCP or TLS (OpenSSL; TLS 1.2 with the
//!   ISO 15118-2 CBC suite, TLS 1.3 for ISO 15118-20), [`tcp::V2gListener`] for the charger and
//!   [`tcp::connect`] for the car, both yielding a [`v2g::V2gConnection`] that carries whole
//!   V2GTP messages. [`tls_memory`]: the same TLS contexts over memory, for the simulator.
//! - [`session::run_session`]: runs any `ccs_proto::session::V2gSession` over a V2G
//!   connection, with the hardware adapters and stop requests as channels.
//! - [`pnc`]: ISO 15118-2 Plug & Charge cryptography with OpenSSL (contract signatures, chain
//!   validation, a file-based certificate backend) behind the core's traits.
//! - [`tap`]: the TAP bridge of the modem simulator for namespace tests: one TAP device in each
//!   of two namespaces, frames moved between them by a pluggable [`tap::Forwarder`]:
//!   [`tap::AlwaysBridge`] (a cable) or [`modem_sim::PowerlineForwarder`] (two simulated
//!   modems from `ccs-sim` that let only SLAC through until the AVLN is up).
//! - [`clock::Clock`]: maps the real clock onto the core's `Instant`.
//!
//! Everything here needs Linux; raw sockets need CAP_NET_RAW, TAP devices and namespaces
//! CAP_NET_ADMIN.
// `deny`, not `forbid`, so that the `sys` module alone can allow `unsafe`.
#![deny(unsafe_code)]

mod client_hello;
pub mod clock;
pub mod error;
pub mod iface;
pub mod link;
pub mod modem_sim;
pub mod pnc;
pub mod pnc20;
pub mod raw;
pub mod sdp;
pub mod session;
pub mod slac;
pub mod sys;
pub mod tap;
pub mod tcp;
pub mod tls;
pub mod tls_memory;
pub mod v2g;

pub use error::{ConnectionError, LinkError};
