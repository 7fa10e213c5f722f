//! Linux SocketCAN through the `socketcan` crate (feature `socketcan`).

use std::io;

use socketcan::{EmbeddedFrame, ExtendedId, Id, StandardId};

use super::{CanBus, CanFrame};

/// A SocketCAN interface (`can0`, `vcan0`) opened for raw classic frames.
#[derive(Debug)]
pub struct SocketCanBus {
    socket: socketcan::tokio::CanSocket,
}

impl SocketCanBus {
    /// Opens `interface` (e.g. `can0`; pyPLC uses `can0` at 500 kbit/s set up by its
    /// starter.sh).
    pub fn open(interface: &str) -> io::Result<Self> {
        Ok(Self {
            socket: socketcan::tokio::CanSocket::open(interface)?,
        })
    }
}

impl CanBus for SocketCanBus {
    async fn send(&mut self, frame: CanFrame) -> io::Result<()> {
        let id: Id = if frame.is_extended() {
            ExtendedId::new(frame.id()).map(Id::Extended)
        } else {
            u16::try_from(frame.id())
                .ok()
                .and_then(StandardId::new)
                .map(Id::Standard)
        }
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "CAN id out of range"))?;
        let frame = socketcan::CanFrame::new(id, frame.data())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "CAN frame too long"))?;
        self.socket.write_frame(frame).await
    }

    async fn recv(&mut self) -> io::Result<CanFrame> {
        loop {
            let frame = self.socket.read_frame().await?;
            // Remote and error frames carry no signals.
            if let socketcan::CanFrame::Data(data) = frame {
                let converted = match data.id() {
                    Id::Standard(id) => CanFrame::standard(id.as_raw(), data.data()),
                    Id::Extended(id) => CanFrame::extended(id.as_raw(), data.data()),
                };
                if let Some(frame) = converted {
                    return Ok(frame);
                }
            }
        }
    }
}
