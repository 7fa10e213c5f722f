//! An in-memory CAN bus: every node sees every frame the other nodes send. For tests and for
//! machines without CAN (this project's CI kernel has no `AF_CAN`).

use std::io;

use tokio::sync::broadcast;

use super::{CanBus, CanFrame};

/// One node on an in-memory bus; [`node`](Self::node) adds another node to the same bus.
#[derive(Debug)]
pub struct MemoryCanBus {
    id: u64,
    next_id: std::sync::Arc<std::sync::atomic::AtomicU64>,
    tx: broadcast::Sender<(u64, CanFrame)>,
    rx: broadcast::Receiver<(u64, CanFrame)>,
}

impl MemoryCanBus {
    /// A new bus with one node.
    pub fn new() -> Self {
        let (tx, rx) = broadcast::channel(1024);
        Self {
            id: 0,
            next_id: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(1)),
            tx,
            rx,
        }
    }

    /// Another node on the same bus.
    pub fn node(&self) -> Self {
        Self {
            id: self
                .next_id
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            next_id: self.next_id.clone(),
            tx: self.tx.clone(),
            rx: self.tx.subscribe(),
        }
    }
}

impl Default for MemoryCanBus {
    fn default() -> Self {
        Self::new()
    }
}

impl CanBus for MemoryCanBus {
    async fn send(&mut self, frame: CanFrame) -> io::Result<()> {
        // No receiver is fine: a bus with nobody listening just carries the frame away.
        let _ = self.tx.send((self.id, frame));
        Ok(())
    }

    async fn recv(&mut self) -> io::Result<CanFrame> {
        loop {
            match self.rx.recv().await {
                Ok((from, frame)) if from != self.id => return Ok(frame),
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("in-memory CAN bus: node lost {n} frames");
                }
                Err(broadcast::error::RecvError::Closed) => {
                    return Err(io::Error::new(io::ErrorKind::BrokenPipe, "CAN bus closed"));
                }
            }
        }
    }
}
