//! The one trait every adapter implements, and the hub that runs several of them at once.
//!
//! An adapter is a task: it takes [`HardwareCommand`]s from its [`AdapterIo`] and reports
//! [`HardwareEvent`]s (measurements, faults) through it. The [`HardwareHub`] spawns each
//! adapter on tokio, fans every command out to all of them (each ignores what it has no
//! output for: GPIO drives the CP line, MQTT publishes the rest), merges their events into one
//! stream, keeps the [`MeasurementSnapshot`] and turns an adapter that stops into
//! [`HardwareFaultKind::AdapterStopped`], so a session never runs on without its hardware.
//!
//! The driver loop of a session is:
//!
//! ```no_run
//! # async fn demo(mut hub: ccs_io::HardwareHub) {
//! loop {
//!     let Some(event) = hub.recv().await else { break };
//!     // hub.snapshot() is already updated; faults go to the session:
//!     // session.handle_hardware(hub.now(), &event.event, hub.snapshot());
//!     // for cmd in session.poll_hardware() { hub.send(cmd) }
//! #   let _ = event;
//! }
//! # }
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use ccs_proto::hardware::{
    HardwareCommand, HardwareEvent, HardwareFault, HardwareFaultKind, Measurement,
    MeasurementSnapshot,
};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Why an adapter ended with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdapterError {
    /// The configuration cannot work (bad topic, unknown device, bad mapping).
    #[error("configuration: {0}")]
    Config(String),
    /// The device or transport failed for good.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The device sent something the adapter cannot make sense of, repeatedly.
    #[error("device: {0}")]
    Device(String),
}

/// A hardware adapter: translates commands to a transport and the transport's data to
/// measurements. Implementations: [`crate::mqtt::MqttAdapter`], [`crate::can::CanAdapter`],
/// [`crate::serial::SerialAdapter`], [`crate::sim::SimAdapter`], `crate::gpio::GpioAdapter`
/// (feature `gpio`).
pub trait HardwareAdapter: Send + 'static {
    /// A short name for logs and faults (`mqtt`, `can-chademo`, `sim-vehicle`, ...).
    fn name(&self) -> String;

    /// Runs until the hub goes away ([`AdapterIo::next_command`] returns `None`) or the
    /// adapter fails for good. Transient trouble (a lost broker) is reported as a fault through
    /// `io` and retried, not returned.
    fn run(self, io: AdapterIo) -> impl Future<Output = Result<(), AdapterError>> + Send;
}

/// An event with the name of the adapter it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct SourcedEvent {
    /// The adapter's name.
    pub adapter: Arc<str>,
    /// What it reported.
    pub event: HardwareEvent,
}

/// An adapter's end of the hub: commands in, events out.
#[derive(Debug)]
pub struct AdapterIo {
    name: Arc<str>,
    commands: mpsc::UnboundedReceiver<HardwareCommand>,
    events: mpsc::UnboundedSender<SourcedEvent>,
}

impl AdapterIo {
    /// A stand-alone pair for tests and custom drivers: the adapter's end, a sender for
    /// commands, and a receiver of its events.
    pub fn detached(
        name: &str,
    ) -> (
        Self,
        mpsc::UnboundedSender<HardwareCommand>,
        mpsc::UnboundedReceiver<SourcedEvent>,
    ) {
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        (
            Self {
                name: name.into(),
                commands: cmd_rx,
                events: ev_tx,
            },
            cmd_tx,
            ev_rx,
        )
    }

    /// The adapter's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The next command; `None` when the hub is gone and the adapter should end.
    pub async fn next_command(&mut self) -> Option<HardwareCommand> {
        self.commands.recv().await
    }

    /// Reports an event.
    pub fn report(&self, event: HardwareEvent) {
        // A closed hub means we are shutting down; the event has no reader then.
        let _ = self.events.send(SourcedEvent {
            adapter: self.name.clone(),
            event,
        });
    }

    /// Reports a measurement.
    pub fn measurement(&self, measurement: Measurement) {
        self.report(HardwareEvent::Measurement(measurement));
    }

    /// Reports a fault of this adapter.
    pub fn fault(&self, kind: HardwareFaultKind) {
        self.report(HardwareEvent::Fault(self.fault_value(kind)));
    }

    /// Reports that a fault of this adapter is gone.
    pub fn fault_cleared(&self, kind: HardwareFaultKind) {
        self.report(HardwareEvent::FaultCleared(self.fault_value(kind)));
    }

    fn fault_value(&self, kind: HardwareFaultKind) -> HardwareFault {
        HardwareFault {
            adapter: self.name.to_string(),
            kind,
        }
    }
}

/// Maps tokio's monotonic clock onto the core's [`ccs_proto::time::Instant`] (microseconds
/// since the hub was created).
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    epoch: tokio::time::Instant,
}

impl Clock {
    /// A clock whose epoch is now.
    pub fn new() -> Self {
        Self {
            epoch: tokio::time::Instant::now(),
        }
    }

    /// The current time as the core sees it.
    pub fn now(&self) -> ccs_proto::time::Instant {
        let since = tokio::time::Instant::now().saturating_duration_since(self.epoch);
        ccs_proto::time::Instant::from_micros(i64::try_from(since.as_micros()).unwrap_or(i64::MAX))
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs several adapters at once: commands fan out to all, events merge into one stream.
#[derive(Debug)]
pub struct HardwareHub {
    clock: Clock,
    adapters: Vec<(Arc<str>, mpsc::UnboundedSender<HardwareCommand>)>,
    events_tx: mpsc::UnboundedSender<SourcedEvent>,
    events_rx: mpsc::UnboundedReceiver<SourcedEvent>,
    tasks: JoinSet<Result<(), AdapterError>>,
    task_names: HashMap<tokio::task::Id, Arc<str>>,
    snapshot: MeasurementSnapshot,
}

impl HardwareHub {
    /// An empty hub using `clock` for the snapshot's arrival times.
    pub fn new(clock: Clock) -> Self {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        Self {
            clock,
            adapters: Vec::new(),
            events_tx,
            events_rx,
            tasks: JoinSet::new(),
            task_names: HashMap::new(),
            snapshot: MeasurementSnapshot::default(),
        }
    }

    /// Spawns `adapter` on the current tokio runtime.
    pub fn spawn<A: HardwareAdapter>(&mut self, adapter: A) {
        let name: Arc<str> = adapter.name().into();
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let io = AdapterIo {
            name: name.clone(),
            commands: cmd_rx,
            events: self.events_tx.clone(),
        };
        self.adapters.push((name.clone(), cmd_tx));
        let task = self.tasks.spawn(adapter.run(io));
        self.task_names.insert(task.id(), name);
    }

    /// The names of the adapters spawned so far.
    pub fn adapter_names(&self) -> impl Iterator<Item = &str> {
        self.adapters.iter().map(|(name, _)| &**name)
    }

    /// Sends `command` to every adapter.
    pub fn send(&self, command: &HardwareCommand) {
        for (_, tx) in &self.adapters {
            // An adapter that ended is reported through `recv` as AdapterStopped.
            let _ = tx.send(command.clone());
        }
    }

    /// The next event from any adapter, with the snapshot already updated for measurements.
    /// An adapter that ends (with or without an error, or by panicking) yields a
    /// [`HardwareFaultKind::AdapterStopped`] fault. `None` once no adapter is left.
    /// Cancel-safe: usable in `tokio::select!`.
    pub async fn recv(&mut self) -> Option<SourcedEvent> {
        if self.tasks.is_empty() {
            // The hub holds a sender itself, so the channel never closes: drain and stop.
            return self.events_rx.try_recv().ok().map(|e| self.note(e));
        }
        tokio::select! {
            biased;
            Some(event) = self.events_rx.recv() => Some(self.note(event)),
            Some(joined) = self.tasks.join_next_with_id() => {
                let (id, detail) = match joined {
                    Ok((id, Ok(()))) => (id, "ended".to_owned()),
                    Ok((id, Err(e))) => (id, e.to_string()),
                    Err(e) => (e.id(), e.to_string()),
                };
                let adapter = self.task_names.remove(&id).unwrap_or_else(|| "unknown".into());
                tracing::error!(%adapter, %detail, "hardware adapter stopped");
                self.adapters.retain(|(name, _)| *name != adapter);
                Some(SourcedEvent {
                    adapter: adapter.clone(),
                    event: HardwareEvent::Fault(HardwareFault {
                        adapter: adapter.to_string(),
                        kind: HardwareFaultKind::AdapterStopped,
                    }),
                })
            }
        }
    }

    fn note(&mut self, event: SourcedEvent) -> SourcedEvent {
        if let HardwareEvent::Measurement(m) = event.event {
            self.snapshot.apply(self.clock.now(), m);
        }
        event
    }

    /// The latest value of every measurement.
    pub fn snapshot(&self) -> &MeasurementSnapshot {
        &self.snapshot
    }

    /// The current time on the hub's clock.
    pub fn now(&self) -> ccs_proto::time::Instant {
        self.clock.now()
    }

    /// Ends every adapter the orderly way: each sees the end of its commands after the last
    /// one sent (so the safe state still goes out) and may finish its work for up to
    /// `timeout`; what is still running then is aborted.
    pub async fn shutdown(mut self, timeout: std::time::Duration) {
        self.adapters.clear();
        let tasks = &mut self.tasks;
        let all_ended = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(timeout, all_ended).await.is_err() {
            tracing::warn!("hardware adapters did not end in time; aborting them");
        }
        // Dropping the JoinSet aborts whatever is left.
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccs_proto::hardware::{CpState, Volts};

    /// Echoes every CP command back as an inlet voltage (B = 1 V, C = 2 V); ends on
    /// `SessionState("quit")`.
    struct Echo(&'static str);

    impl HardwareAdapter for Echo {
        fn name(&self) -> String {
            self.0.to_owned()
        }

        async fn run(self, mut io: AdapterIo) -> Result<(), AdapterError> {
            while let Some(cmd) = io.next_command().await {
                match cmd {
                    HardwareCommand::CpState(CpState::B) => {
                        io.measurement(Measurement::InletVoltage(Volts(1.0)));
                    }
                    HardwareCommand::CpState(CpState::C) => {
                        io.measurement(Measurement::InletVoltage(Volts(2.0)));
                    }
                    HardwareCommand::SessionState(s) if s == "quit" => {
                        return Err(AdapterError::Device("told to quit".into()));
                    }
                    _ => {}
                }
            }
            Ok(())
        }
    }

    #[tokio::test]
    async fn hub_fans_out_commands_merges_events_and_reports_stopped_adapters() {
        let mut hub = HardwareHub::new(Clock::new());
        hub.spawn(Echo("a"));
        hub.spawn(Echo("b"));
        hub.send(&HardwareCommand::CpState(CpState::C));
        let mut sources = Vec::new();
        for _ in 0..2 {
            let ev = hub.recv().await.unwrap();
            assert_eq!(
                ev.event,
                HardwareEvent::Measurement(Measurement::InletVoltage(Volts(2.0)))
            );
            sources.push(ev.adapter.to_string());
        }
        sources.sort();
        assert_eq!(sources, ["a", "b"]);
        assert_eq!(hub.snapshot().inlet_voltage.value(), Some(Volts(2.0)));

        hub.send(&HardwareCommand::SessionState("quit".into()));
        for _ in 0..2 {
            let ev = hub.recv().await.unwrap();
            assert!(
                matches!(
                    &ev.event,
                    HardwareEvent::Fault(HardwareFault { kind: HardwareFaultKind::AdapterStopped, adapter })
                        if *adapter == *ev.adapter
                ),
                "{ev:?}"
            );
        }
        assert_eq!(hub.adapter_names().count(), 0);
        assert_eq!(hub.recv().await, None);
    }

    /// Records every command until its commands end, then reports how many it saw.
    struct Counter(tokio::sync::oneshot::Sender<usize>);

    impl HardwareAdapter for Counter {
        fn name(&self) -> String {
            "counter".to_owned()
        }

        async fn run(self, mut io: AdapterIo) -> Result<(), AdapterError> {
            let mut n = 0;
            while io.next_command().await.is_some() {
                n += 1;
            }
            let _ = self.0.send(n);
            Ok(())
        }
    }

    #[tokio::test]
    async fn shutdown_lets_adapters_take_the_last_commands() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let mut hub = HardwareHub::new(Clock::new());
        hub.spawn(Counter(tx));
        hub.send(&HardwareCommand::CpState(CpState::C));
        hub.send(&HardwareCommand::CpState(CpState::B));
        hub.shutdown(std::time::Duration::from_secs(5)).await;
        assert_eq!(rx.await.unwrap(), 2);
    }
}
