//! The raw-socket module: the only place in ccsplc where `unsafe` is allowed.
//!
//! It will wrap AF_PACKET sockets (`socket(2)`, `bind(2)` to a `sockaddr_ll`) and TAP devices
//! (`/dev/net/tun`, `TUNSETIFF`) behind a safe API. Every `unsafe` block carries a `SAFETY:`
//! comment.
#![allow(unsafe_code)]
