//! The TAP bridge: the kernel half of the modem simulator for namespace tests.
//!
//! One TAP device in the car's namespace and one in the charger's play the two hosts' Ethernet
//! ports on the modems; a [`Forwarder`] plays the modems and the powerline between them and
//! decides which frame reaches the other side, when, and whether the modems answer
//! themselves. The plain [`AlwaysBridge`] forwards everything at once (a cable); the simulated
//! modem pair of `ccs-sim` withholds everything but SLAC until the two modems have formed an
//! AVLN (`reference/homeplug-slac.md` §8.2–8.3).
//!
//! Inside each namespace the interface looks like a real PLC interface: ccsplc opens
//! AF_PACKET on it, the kernel brings up link-local IPv6, SDP and TCP use the kernel stack.

use std::collections::VecDeque;
use std::io;

use ccs_proto::time::Instant;
use tokio::io::unix::AsyncFd;

use crate::clock::Clock;
use crate::error::LinkError;
use crate::sys::netns;
use crate::sys::tap::{self, TapDevice};

/// Which host on the simulated powerline.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Side {
    /// The car's modem / host.
    Ev,
    /// The charger's modem / host.
    Evse,
    /// A third host with its own modem on the same line: a listener
    /// ([`TapBridge::add_listener`]).
    Listener,
}

impl Side {
    /// The other end of the car–charger cable (a listener's frames go to the charger).
    pub fn other(self) -> Self {
        match self {
            Self::Ev => Self::Evse,
            Self::Evse | Self::Listener => Self::Ev,
        }
    }
}

/// The modems and the medium between the two TAPs, as a sans-IO machine.
///
/// Call order (by [`TapBridge::run`]): for each frame a host sends,
/// [`Forwarder::handle_frame`]; then write out everything [`Forwarder::poll_transmit`] returns
/// (to the host on that side); sleep until [`Forwarder::poll_timeout`] and then call
/// [`Forwarder::handle_timeout`].
pub trait Forwarder {
    /// A frame the host on side `from` sent (its modem receives it).
    fn handle_frame(&mut self, now: Instant, from: Side, frame: &[u8]);
    /// The next frame to deliver to the host on the given side.
    fn poll_transmit(&mut self) -> Option<(Side, Vec<u8>)>;
    /// When [`Forwarder::handle_timeout`] is due (delayed delivery, modem timers).
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    /// Time has advanced to `now`.
    fn handle_timeout(&mut self, now: Instant) {
        let _ = now;
    }
}

/// A forwarder that is a plain cable: every frame goes to the other side at once.
#[derive(Debug, Default)]
pub struct AlwaysBridge {
    queue: VecDeque<(Side, Vec<u8>)>,
    forwarded: u64,
}

impl AlwaysBridge {
    /// A new bridge.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many frames were forwarded.
    pub fn forwarded(&self) -> u64 {
        self.forwarded
    }
}

impl Forwarder for AlwaysBridge {
    fn handle_frame(&mut self, _now: Instant, from: Side, frame: &[u8]) {
        self.forwarded += 1;
        self.queue.push_back((from.other(), frame.to_vec()));
    }

    fn poll_transmit(&mut self) -> Option<(Side, Vec<u8>)> {
        self.queue.pop_front()
    }
}

/// An async TAP device.
#[derive(Debug)]
pub struct AsyncTap {
    fd: AsyncFd<TapDevice>,
}

impl AsyncTap {
    /// Registers a TAP device with tokio.
    pub fn new(device: TapDevice) -> io::Result<Self> {
        Ok(Self {
            fd: crate::sys::register_async(device)?,
        })
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        self.fd.get_ref().name()
    }

    /// Reads one frame the host sent.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|inner| inner.get_ref().read(buf)) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }

    /// Delivers one frame to the host.
    pub async fn write(&self, frame: &[u8]) -> io::Result<()> {
        loop {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|inner| inner.get_ref().write(frame)) {
                Ok(result) => return result.map(|_| ()),
                Err(_would_block) => continue,
            }
        }
    }
}

/// Creates the TAP interface `name` inside the network namespace `netns` and brings it up.
/// The device stays in that namespace; its descriptor is returned to the caller's thread.
pub fn create_tap_in_netns(netns_name: &str, name: &str) -> Result<TapDevice, LinkError> {
    let owned_name = name.to_owned();
    netns::run_in_netns(netns_name, move || {
        let device = TapDevice::create(&owned_name)?;
        tap::set_link_up(&owned_name)?;
        Ok::<_, io::Error>(device)
    })
    .and_then(|r| r)
    .map_err(|e| LinkError::io(format!("TAP {name} in namespace {netns_name}"), e))
}

/// Reads from `tap`, or waits forever when there is none.
async fn read_optional(tap: Option<&AsyncTap>, buf: &mut [u8]) -> io::Result<usize> {
    match tap {
        Some(tap) => tap.read(buf).await,
        None => std::future::pending().await,
    }
}

/// Largest frame moved: a full Ethernet frame with a VLAN tag.
const MAX_FRAME: usize = 1522;

/// Two TAP devices and the forwarder between them.
#[derive(Debug)]
pub struct TapBridge<F> {
    ev: AsyncTap,
    evse: AsyncTap,
    listener: Option<AsyncTap>,
    forwarder: F,
    clock: Clock,
}

impl<F: Forwarder> TapBridge<F> {
    /// Creates TAP `ifname` in namespace `ev_netns` and in `evse_netns` and bridges them
    /// through `forwarder`.
    pub fn create(
        ev_netns: &str,
        evse_netns: &str,
        ifname: &str,
        forwarder: F,
        clock: Clock,
    ) -> Result<Self, LinkError> {
        let ev = create_tap_in_netns(ev_netns, ifname)?;
        let evse = create_tap_in_netns(evse_netns, ifname)?;
        Self::from_devices(ev, evse, forwarder, clock)
    }

    /// Bridges two existing TAP devices.
    pub fn from_devices(
        ev: TapDevice,
        evse: TapDevice,
        forwarder: F,
        clock: Clock,
    ) -> Result<Self, LinkError> {
        let register = |d: TapDevice| {
            let name = d.name().to_owned();
            AsyncTap::new(d).map_err(|e| LinkError::io(format!("registering TAP {name}"), e))
        };
        Ok(Self {
            ev: register(ev)?,
            evse: register(evse)?,
            listener: None,
            forwarder,
            clock,
        })
    }

    /// Adds a third TAP `ifname` in namespace `netns`: the listener's host
    /// ([`Side::Listener`]).
    pub fn add_listener(&mut self, netns: &str, ifname: &str) -> Result<(), LinkError> {
        let device = create_tap_in_netns(netns, ifname)?;
        let tap = AsyncTap::new(device)
            .map_err(|e| LinkError::io(format!("registering TAP {ifname}"), e))?;
        self.listener = Some(tap);
        Ok(())
    }

    /// The forwarder (for its counters).
    pub fn forwarder(&self) -> &F {
        &self.forwarder
    }

    async fn flush(&mut self) -> io::Result<()> {
        while let Some((side, frame)) = self.forwarder.poll_transmit() {
            let tap = match side {
                Side::Ev => &self.ev,
                Side::Evse => &self.evse,
                Side::Listener => match &self.listener {
                    Some(tap) => tap,
                    None => continue,
                },
            };
            tap.write(&frame).await?;
        }
        Ok(())
    }

    /// Moves frames until `stop` resolves or a device fails; returns the forwarder.
    pub async fn run(mut self, stop: impl Future<Output = ()>) -> Result<F, LinkError> {
        let mut stop = std::pin::pin!(stop);
        let mut ev_buf = vec![0u8; MAX_FRAME];
        let mut evse_buf = vec![0u8; MAX_FRAME];
        let mut listener_buf = vec![0u8; MAX_FRAME];
        let fail = |e: io::Error| LinkError::io("TAP bridge", e);
        loop {
            self.flush().await.map_err(fail)?;
            let timeout = self.forwarder.poll_timeout();
            let sleep = async {
                match timeout {
                    Some(at) => tokio::time::sleep_until(self.clock.deadline(at)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = &mut stop => return Ok(self.forwarder),
                n = self.ev.read(&mut ev_buf) => {
                    let n = n.map_err(fail)?;
                    self.forwarder.handle_frame(self.clock.now(), Side::Ev, &ev_buf[..n]);
                }
                n = self.evse.read(&mut evse_buf) => {
                    let n = n.map_err(fail)?;
                    self.forwarder.handle_frame(self.clock.now(), Side::Evse, &evse_buf[..n]);
                }
                n = read_optional(self.listener.as_ref(), &mut listener_buf) => {
                    let n = n.map_err(fail)?;
                    let now = self.clock.now();
                    self.forwarder.handle_frame(now, Side::Listener, &listener_buf[..n]);
                }
                () = sleep => self.forwarder.handle_timeout(self.clock.now()),
            }
        }
    }
}
