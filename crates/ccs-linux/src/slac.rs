//! The SLAC driver: runs a sans-IO SLAC machine of `ccs_proto::slac` ([`EvSlac`] for the car,
//! [`EvseSlac`] for the charger) over the raw HomePlug link until the two are paired.
//!
//! The driver supplies what the core may not produce itself: the real clock and the random
//! bytes (the EV's RunID/RND entropy, the charger's session NMK), from OpenSSL's CSPRNG.

use ccs_proto::homeplug::{MacAddress, Nid, Nmk, RunId};
use ccs_proto::slac::{EvSlac, EvseSlac, SlacEvent};
use ccs_proto::time::Instant;

use crate::clock::Clock;
use crate::error::LinkError;
use crate::raw::RawLink;

/// A SLAC machine as the driver loop sees it: the four verbs of the sans-IO core.
pub trait SlacMachine {
    /// A received Ethernet frame; malformed HomePlug frames are an error to log.
    fn handle_frame(
        &mut self,
        now: Instant,
        frame: &[u8],
    ) -> Result<(), ccs_proto::homeplug::WireError>;
    /// The deadline from [`SlacMachine::poll_timeout`] has passed.
    fn handle_timeout(&mut self, now: Instant);
    /// The next frame to send.
    fn poll_transmit(&mut self) -> Option<Vec<u8>>;
    /// The next event.
    fn poll_event(&mut self) -> Option<SlacEvent>;
    /// The next deadline.
    fn poll_timeout(&self) -> Option<Instant>;
}

macro_rules! impl_slac_machine {
    ($t:ty) => {
        impl SlacMachine for $t {
            fn handle_frame(
                &mut self,
                now: Instant,
                frame: &[u8],
            ) -> Result<(), ccs_proto::homeplug::WireError> {
                <$t>::handle_frame(self, now, frame)
            }
            fn handle_timeout(&mut self, now: Instant) {
                <$t>::handle_timeout(self, now)
            }
            fn poll_transmit(&mut self) -> Option<Vec<u8>> {
                <$t>::poll_transmit(self)
            }
            fn poll_event(&mut self) -> Option<SlacEvent> {
                <$t>::poll_event(self)
            }
            fn poll_timeout(&self) -> Option<Instant> {
                <$t>::poll_timeout(self)
            }
        }
    };
}

impl_slac_machine!(EvSlac);
impl_slac_machine!(EvseSlac);

/// The result of a successful match.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct SlacPaired {
    /// The AVLN's NMK.
    pub nmk: Nmk,
    /// The AVLN's NID.
    pub nid: Nid,
    /// The charger's host MAC.
    pub evse_mac: MacAddress,
    /// The car's host MAC.
    pub ev_mac: MacAddress,
    /// The RunID of the successful run.
    pub run_id: RunId,
}

/// Largest frame read from the raw socket.
const MAX_FRAME: usize = 1522;

/// Drives `machine` over `raw` until it reports [`SlacEvent::Paired`] (returned) or
/// [`SlacEvent::Failed`] (an error). Every event is also handed to `on_event` (for logs,
/// CP signalling on [`SlacEvent::SlacInitTimeout`], ...). Start the machine before calling
/// (`EvSlac::start`; an `EvseSlac` starts when created).
pub async fn run_slac<M: SlacMachine>(
    raw: &RawLink,
    machine: &mut M,
    clock: &Clock,
    mut on_event: impl FnMut(&SlacEvent),
) -> Result<SlacPaired, LinkError> {
    let mut buf = vec![0u8; MAX_FRAME];
    loop {
        while let Some(frame) = machine.poll_transmit() {
            raw.send(&frame)
                .await
                .map_err(|e| LinkError::io("sending a SLAC frame", e))?;
        }
        while let Some(event) = machine.poll_event() {
            on_event(&event);
            match event {
                SlacEvent::Paired {
                    nmk,
                    nid,
                    evse_mac,
                    ev_mac,
                    run_id,
                } => {
                    return Ok(SlacPaired {
                        nmk,
                        nid,
                        evse_mac,
                        ev_mac,
                        run_id,
                    });
                }
                SlacEvent::Failed { reason } => return Err(LinkError::Slac(reason)),
                other => tracing::debug!(event = ?other, "SLAC"),
            }
        }
        let deadline = machine.poll_timeout();
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(clock.deadline(at)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            received = raw.recv(&mut buf) => {
                let n = received.map_err(|e| LinkError::io("receiving a SLAC frame", e))?;
                if let Err(e) = machine.handle_frame(clock.now(), &buf[..n]) {
                    tracing::warn!(error = %e, "SLAC: malformed HomePlug frame dropped");
                }
            }
            () = sleep => machine.handle_timeout(clock.now()),
        }
    }
}

/// `N` bytes from OpenSSL's CSPRNG (for the EV's entropy and the charger's NMKs).
pub fn random_bytes<const N: usize>() -> Result<[u8; N], LinkError> {
    let mut out = [0u8; N];
    openssl::rand::rand_bytes(&mut out)
        .map_err(|e| LinkError::Config(format!("no random bytes from OpenSSL: {e}")))?;
    Ok(out)
}

/// A fresh session NMK for the charger.
pub fn random_nmk() -> Result<Nmk, LinkError> {
    random_bytes::<16>().map(Nmk::from)
}
