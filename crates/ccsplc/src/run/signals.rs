//! Ctrl-C and SIGTERM: the first is the user's stop request (the session winds down normally:
//! PowerDelivery stop, WeldingDetection, SessionStop), the second forces the safe state and
//! ends the process at once.

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

/// Counts SIGINT and SIGTERM.
#[derive(Clone, Debug)]
pub(crate) struct Signals {
    count: watch::Receiver<u32>,
}

impl Signals {
    /// Installs the handlers (on the current runtime).
    pub(crate) fn install() -> anyhow::Result<Self> {
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let (tx, count) = watch::channel(0u32);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
                tx.send_modify(|n| *n += 1);
            }
        });
        Ok(Self { count })
    }

    /// How many signals arrived so far.
    pub(crate) fn count(&self) -> u32 {
        *self.count.borrow()
    }

    /// Waits for the next signal; returns the count so far.
    pub(crate) async fn next(&mut self) -> u32 {
        if self.count.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
        *self.count.borrow_and_update()
    }
}
