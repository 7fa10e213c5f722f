//! Deterministic simulation for ccsplc: whole charging sessions in milliseconds, no hardware.
//!
//! - [`world`]: the full stack in one process: a car and its chargers with SLAC, SDP, TCP
//!   carrying V2GTP, their V2G sessions and the physics, under a virtual clock that jumps to
//!   the earliest deadline; seeded loss and latency; a [`world::SimReport`] at the end. This
//!   is what `ccsplc sim` runs.
//! - [`powerline`], [`modem`]: the simulated HomePlug powerline and its modems (SET_KEY,
//!   AVLN gating, attenuation profiles); [`slac_sim`]: SLAC-only scenarios; [`clock`]: the
//!   virtual clock.
//! - [`faults`]: the named fault catalogue (pyPLC's sixteen cases and far more), each run in
//!   the world with a safety audit of the shutdown; `ccsplc sim --fault NAME` runs one.
//! - [`physics`]: battery (capacity, SoC), contactors with delay, power supply with ramps and
//!   limits, inlet voltage, isolation monitor.
//!
//! It is used by the tests, the benchmarks and `ccsplc sim`. It may depend on `ccs-proto` only
//! (and on small crates such as a seeded RNG); it does no I/O and reads no wall clock.
#![forbid(unsafe_code)]

pub mod clock;
pub mod faults;
pub mod modem;
pub mod physics;
pub mod powerline;
pub mod slac_sim;
pub mod world;
