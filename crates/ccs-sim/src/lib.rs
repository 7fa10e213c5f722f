//! Deterministic simulation for ccsplc: whole charging sessions in milliseconds, no hardware.
//!
//! This crate will hold:
//!
//! - a virtual clock that jumps to the earliest deadline any machine reports,
//! - an in-memory powerline with simulated HomePlug modems (VS_SW_VER, SET_KEY with the old key
//!   in effect for a while and a reboot gap, GET_KEY, ATTEN_PROFILE per sound, AVLN gating:
//!   only SLAC crosses until both modems hold the same NMK and NID),
//! - in-memory UDP and TCP links for SDP and V2GTP,
//! - seeded loss, latency and fault injection,
//! - physical models: battery (capacity, SoC), contactors with delay, power supply with ramps
//!   and limits, inlet voltage, isolation monitor.
//!
//! It is used by the tests, the benchmarks and `ccsplc sim`. It may depend on `ccs-proto` only
//! (and on small crates such as a seeded RNG); it does no I/O and reads no wall clock.
#![forbid(unsafe_code)]

pub mod clock;
pub mod modem;
pub mod physics;
pub mod powerline;
pub mod slac_sim;
