//! CAN: pyPLC's CHAdeMO-bridge and FoccciCape frame layouts and user-defined mappings, over
//! any [`CanBus`]: Linux SocketCAN (feature `socketcan`) or the in-memory bus
//! ([`MemoryCanBus`]) that tests and machines without CAN use.
//!
//! Each layout is a sans-IO codec ([`CanLayout`]): frames in → measurements (and reply
//! frames), commands in → stored state, ticks → periodic frames. The adapter
//! ([`CanAdapter`]) only moves frames between the bus and the codec. Byte layouts:
//! `reference/pyplc-behaviour.md` §11.3.

mod chademo;
mod foccci;
mod mapping;
mod memory;
#[cfg(feature = "socketcan")]
mod socket;

use std::future::Future;
use std::io;

use ccs_proto::hardware::{HardwareCommand, HardwareFaultKind, Measurement, MeasurementKind};
use tokio::time::{Duration, Instant, MissedTickBehavior};

pub use self::chademo::ChademoBridge;
pub use self::foccci::{FoccciCape, info_number};
pub use self::mapping::{CanMapping, Endianness, OutputSignal, SignalLayout, SignalMapping};
pub use self::memory::MemoryCanBus;
#[cfg(feature = "socketcan")]
pub use self::socket::SocketCanBus;
use crate::adapter::{AdapterError, AdapterIo, HardwareAdapter};
use crate::stale::InputWatch;

/// A classic CAN frame (up to 8 data bytes).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct CanFrame {
    id: u32,
    extended: bool,
    len: u8,
    data: [u8; 8],
}

impl CanFrame {
    /// A standard-ID (11-bit) frame; `None` if the id or the length is out of range.
    pub fn standard(id: u16, data: &[u8]) -> Option<Self> {
        (id <= 0x7FF).then_some(())?;
        Self::build(u32::from(id), false, data)
    }

    /// An extended-ID (29-bit) frame; `None` if the id or the length is out of range.
    pub fn extended(id: u32, data: &[u8]) -> Option<Self> {
        (id <= 0x1FFF_FFFF).then_some(())?;
        Self::build(id, true, data)
    }

    fn build(id: u32, extended: bool, data: &[u8]) -> Option<Self> {
        let len = u8::try_from(data.len()).ok().filter(|&l| l <= 8)?;
        let mut bytes = [0; 8];
        bytes[..data.len()].copy_from_slice(data);
        Some(Self {
            id,
            extended,
            len,
            data: bytes,
        })
    }

    /// The identifier.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Whether the identifier is a 29-bit one.
    pub fn is_extended(&self) -> bool {
        self.extended
    }

    /// The data bytes.
    pub fn data(&self) -> &[u8] {
        &self.data[..usize::from(self.len)]
    }
}

/// A CAN bus as the adapter sees it. `recv` must be cancel-safe (it is raced against
/// commands and ticks).
pub trait CanBus: Send + 'static {
    /// Sends one frame.
    fn send(&mut self, frame: CanFrame) -> impl Future<Output = io::Result<()>> + Send;
    /// The next frame from another node.
    fn recv(&mut self) -> impl Future<Output = io::Result<CanFrame>> + Send;
}

/// What a layout does with frames, commands and time.
#[derive(Debug)]
pub enum CanLayout {
    /// pyPLC `charge_parameter_backend = chademo` (car mode).
    Chademo(ChademoBridge),
    /// pyPLC `evsemode_environment = focccicape` (charger mode).
    Foccci(FoccciCape),
    /// A user-defined signal mapping.
    Mapping(CanMapping),
}

impl CanLayout {
    fn name(&self) -> &'static str {
        match self {
            Self::Chademo(_) => "can-chademo",
            Self::Foccci(_) => "can-focccicape",
            Self::Mapping(_) => "can-mapping",
        }
    }

    /// A frame arrived: the measurements it carries and the frames to send in reply.
    pub fn on_frame(&mut self, frame: &CanFrame) -> (Vec<Measurement>, Vec<CanFrame>) {
        match self {
            Self::Chademo(c) => c.on_frame(frame),
            Self::Foccci(_) => (Vec::new(), Vec::new()),
            Self::Mapping(m) => (m.decode(frame), Vec::new()),
        }
    }

    /// A command from the session.
    pub fn on_command(&mut self, command: &HardwareCommand) {
        match self {
            Self::Chademo(c) => c.on_command(command),
            Self::Foccci(f) => f.on_command(command),
            Self::Mapping(m) => m.on_command(command),
        }
    }

    /// The periodic frames due on this tick.
    pub fn on_tick(&mut self) -> Vec<CanFrame> {
        match self {
            Self::Chademo(_) => Vec::new(),
            Self::Foccci(f) => f.on_tick(),
            Self::Mapping(m) => m.encode_outputs(),
        }
    }

    /// The frames to send once when the adapter ends, which must not wait for a tick that
    /// never comes: a mapping's outputs with the session's last commands (the safe state;
    /// nothing is added on top: the lock output stays as the session left it), the
    /// FoccciCape's status frames with the final state. The CHAdeMO bridge only answers.
    pub fn on_exit(&mut self) -> Vec<CanFrame> {
        match self {
            Self::Mapping(m) => m.encode_outputs(),
            Self::Foccci(f) => f.on_tick(),
            Self::Chademo(_) => Vec::new(),
        }
    }

    /// How often [`on_tick`](Self::on_tick) wants to run.
    pub fn period(&self) -> Option<Duration> {
        match self {
            Self::Chademo(_) => None,
            Self::Foccci(f) => Some(f.period()),
            Self::Mapping(m) => m.period,
        }
    }

    /// Inputs that must keep arriving, and their maximum age.
    fn input_timeout(&self) -> Option<Duration> {
        match self {
            Self::Chademo(c) => Some(c.current_request_timeout()),
            Self::Foccci(_) => None,
            Self::Mapping(m) => m.input_timeout,
        }
    }

    /// Measurements to report when `kind` went stale (pyPLC: no 0x102 for 1 s → 0 A).
    fn on_stale(&mut self, kind: MeasurementKind) -> Vec<Measurement> {
        match self {
            Self::Chademo(c) => c.on_stale(kind),
            _ => Vec::new(),
        }
    }
}

/// The CAN adapter: one layout on one bus.
#[derive(Debug)]
pub struct CanAdapter<B> {
    bus: B,
    layout: CanLayout,
}

impl<B: CanBus> CanAdapter<B> {
    /// Runs `layout` on `bus`.
    pub fn new(bus: B, layout: CanLayout) -> Self {
        Self { bus, layout }
    }
}

impl<B: CanBus> HardwareAdapter for CanAdapter<B> {
    fn name(&self) -> String {
        self.layout.name().to_owned()
    }

    async fn run(self, mut io: AdapterIo) -> Result<(), AdapterError> {
        let Self {
            mut bus,
            mut layout,
        } = self;
        let mut tick = tokio::time::interval(layout.period().unwrap_or(Duration::from_secs(3600)));
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let ticking = layout.period().is_some();
        let mut watch = InputWatch::new(layout.input_timeout(), &[], Instant::now());
        let mut bus_down = false;
        loop {
            let stale_at = watch.next_deadline();
            let mut outgoing = Vec::new();
            tokio::select! {
                cmd = io.next_command() => {
                    let Some(cmd) = cmd else {
                        for frame in layout.on_exit() {
                            if let Err(e) = bus.send(frame).await {
                                tracing::warn!(adapter = io.name(), "CAN send at exit: {e}");
                                break;
                            }
                        }
                        return Ok(());
                    };
                    layout.on_command(&cmd);
                }
                frame = bus.recv() => match frame {
                    Ok(frame) => {
                        if std::mem::take(&mut bus_down) {
                            io.fault_cleared(HardwareFaultKind::ConnectionLost);
                        }
                        let (measurements, replies) = layout.on_frame(&frame);
                        for m in measurements {
                            if watch.arrived(m.kind(), Instant::now()) {
                                io.fault_cleared(HardwareFaultKind::StaleInput(m.kind()));
                            }
                            io.measurement(m);
                        }
                        outgoing = replies;
                    }
                    Err(e) => {
                        if !bus_down {
                            tracing::warn!(adapter = io.name(), "CAN receive: {e}");
                            bus_down = true;
                            io.fault(HardwareFaultKind::ConnectionLost);
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                _ = tick.tick(), if ticking => outgoing = layout.on_tick(),
                () = crate::sleep_until(stale_at) => {
                    for kind in watch.newly_stale(Instant::now()) {
                        for m in layout.on_stale(kind) {
                            io.measurement(m);
                        }
                        io.fault(HardwareFaultKind::StaleInput(kind));
                    }
                }
            }
            for frame in outgoing {
                if let Err(e) = bus.send(frame).await {
                    // pyPLC ignores transmit errors on the FoccciCape; we report them once.
                    if !bus_down {
                        tracing::warn!(adapter = io.name(), "CAN send: {e}");
                        bus_down = true;
                        io.fault(HardwareFaultKind::ConnectionLost);
                    }
                }
            }
        }
    }
}

/// Reads `len` bytes at `offset` as an unsigned little-endian number; 0 if out of range.
pub(crate) fn le_u16(data: &[u8], offset: usize) -> u16 {
    match data.get(offset..offset + 2) {
        Some(&[lo, hi]) => u16::from_le_bytes([lo, hi]),
        _ => 0,
    }
}
