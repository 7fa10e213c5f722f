//! Linux drivers for ccsplc: the thin async loops that connect the sans-IO core of
//! `ccs-proto` to real interfaces.
//!
//! This crate will hold:
//!
//! - [`sys`]: the AF_PACKET raw socket for EtherType 0x88E1 (HomePlug) and the TAP device,
//!   the only `unsafe` code of the project, behind a safe API;
//! - the interface's MAC and link-local IPv6 address, read from the kernel;
//! - SDP over a UDP6 multicast socket, V2GTP over TCP, TLS 1.2/1.3 via OpenSSL with an optional
//!   NSS key log;
//! - the pcap/pcapng writer for session captures;
//! - the TAP-based modem simulator for namespace tests;
//! - the async driver loop (tokio) that feeds `now`, frames and timeouts to the core.
//!
//! May depend on `ccs-proto`, `ccs-sim` (for the TAP modem simulator), tokio and OpenSSL.
// `deny`, not `forbid`, so that the `sys` module alone can allow `unsafe`.
#![deny(unsafe_code)]

pub mod sys;
