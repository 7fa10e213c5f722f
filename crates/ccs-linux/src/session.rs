//! The session driver: runs a [`V2gSession`] (DIN, ISO 15118-2 or -20, car or charger) over a
//! [`V2gConnection`], with the hardware adapters and the user's stop request as channels.
//!
//! This is the loop of the `ccs_proto::session` module docs, made async: wait for a message,
//! a connection change, a hardware event, a stop request or the session's deadline; hand it
//! to the matching `handle_*`; then drain `poll_transmit`, `poll_command` and `poll_event`.

use ccs_proto::hardware::{HardwareCommand, HardwareEvent};
use ccs_proto::session::{Disconnect, Outcome, SessionEvent, Transmit, Transport, V2gSession};
use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::v2g::{V2gConnection, V2gEvent};

/// The session's channels to the rest of the program.
#[derive(Debug)]
pub struct SessionIo {
    /// Measurements and faults from the hardware adapters. When every sender is gone, the
    /// driver stops listening (the session notices stale values itself).
    pub hardware: mpsc::UnboundedReceiver<HardwareEvent>,
    /// The user's stop requests (dashboard, MQTT, Ctrl-C).
    pub stop: mpsc::UnboundedReceiver<()>,
    /// Commands for the hardware adapters.
    pub commands: mpsc::UnboundedSender<HardwareCommand>,
    /// Everything the session reports, for logs, the dashboard and captures.
    pub events: mpsc::UnboundedSender<SessionEvent>,
}

async fn next_connection_event(conn: &mut Option<V2gConnection>) -> V2gEvent {
    match conn {
        Some(conn) => conn.next_event().await,
        None => std::future::pending().await,
    }
}

async fn next_or_pending<T>(rx: &mut mpsc::UnboundedReceiver<T>, open: bool) -> Option<T> {
    if open {
        rx.recv().await
    } else {
        std::future::pending().await
    }
}

/// Runs `session` over `conn` until the session is finished; returns its outcome (`None` only
/// if the session finished without reporting one, which a correct session never does).
///
/// The connection is up when this is called: [`V2gSession::handle_connected`] comes first.
/// A connection that closes or breaks is reported with [`V2gSession::handle_disconnected`];
/// [`Transmit::Close`] closes it. Commands and events whose receivers are gone are dropped.
pub async fn run_session<S: V2gSession + ?Sized>(
    conn: V2gConnection,
    session: &mut S,
    clock: &Clock,
    io: &mut SessionIo,
) -> Option<Outcome> {
    // The session decides what may run on this connection (ISO 15118-20 only over TLS 1.3).
    session.set_transport(Transport::from_tls_version(
        conn.tls_info().map(|t| t.version.as_str()),
    ));
    let mut conn = Some(conn);
    let mut outcome = None;
    let mut hardware_open = true;
    let mut stop_open = true;
    session.handle_connected(clock.now());
    loop {
        while let Some(transmit) = session.poll_transmit() {
            match transmit {
                Transmit::Message {
                    payload_type,
                    payload,
                } => {
                    let Some(c) = conn.as_mut() else {
                        tracing::debug!("session: message dropped, the connection is gone");
                        continue;
                    };
                    if let Err(e) = c.send(payload_type, &payload).await {
                        conn = None;
                        session.handle_disconnected(clock.now(), Disconnect::Broken(e.to_string()));
                    }
                }
                Transmit::Close => {
                    if let Some(c) = conn.take()
                        && let Err(e) = c.close().await
                    {
                        tracing::debug!(error = %e, "session: closing the connection");
                    }
                }
            }
        }
        while let Some(command) = session.poll_command() {
            let _ = io.commands.send(command);
        }
        while let Some(event) = session.poll_event() {
            if let SessionEvent::Finished(o) = &event {
                outcome = Some(o.clone());
            }
            let _ = io.events.send(event);
        }
        if session.is_finished() {
            if let Some(c) = conn.take() {
                let _ = c.close().await;
            }
            return outcome;
        }
        let deadline = session.poll_timeout();
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(clock.deadline(at)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            event = next_connection_event(&mut conn) => match event {
                V2gEvent::Message(m) => {
                    session.handle_message(clock.now(), m.payload_type, &m.payload);
                }
                V2gEvent::Closed => {
                    conn = None;
                    session.handle_disconnected(clock.now(), Disconnect::Closed);
                }
                V2gEvent::Failed(e) => {
                    conn = None;
                    session.handle_disconnected(clock.now(), Disconnect::Broken(e.to_string()));
                }
            },
            hardware = next_or_pending(&mut io.hardware, hardware_open) => match hardware {
                Some(HardwareEvent::Measurement(m)) => session.handle_measurement(clock.now(), m),
                Some(HardwareEvent::Fault(f)) => session.handle_hardware_fault(clock.now(), f),
                Some(_) => {}
                None => hardware_open = false,
            },
            stop = next_or_pending(&mut io.stop, stop_open) => match stop {
                Some(()) => session.handle_stop_request(clock.now()),
                None => stop_open = false,
            },
            () = sleep => session.handle_timeout(clock.now()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccs_proto::hardware::{HardwareFault, Measurement};
    use ccs_proto::session::{Role, SessionError};
    use ccs_proto::time::{Duration, Instant};
    use ccs_proto::v2gtp::{DeframerConfig, PayloadType};
    use std::collections::VecDeque;
    use std::net::SocketAddrV6;

    /// A toy car: sends "1", "2", "3", each after the previous echo, then closes; fails on a
    /// lost connection or when no echo comes within a second.
    #[derive(Default)]
    struct ToyEvcc {
        next: u8,
        transmits: VecDeque<Transmit>,
        events: VecDeque<SessionEvent>,
        deadline: Option<Instant>,
        finished: bool,
    }

    impl ToyEvcc {
        fn send_next(&mut self, now: Instant) {
            self.next += 1;
            self.transmits.push_back(Transmit::Message {
                payload_type: PayloadType::Exi,
                payload: vec![self.next],
            });
            self.deadline = Some(now + Duration::from_secs(1));
        }
        fn finish(&mut self, outcome: Outcome) {
            self.finished = true;
            self.deadline = None;
            self.events.push_back(SessionEvent::Finished(outcome));
        }
    }

    impl V2gSession for ToyEvcc {
        fn role(&self) -> Role {
            Role::Evcc
        }
        fn handle_connected(&mut self, now: Instant) {
            self.send_next(now);
        }
        fn handle_message(&mut self, now: Instant, _: PayloadType, payload: &[u8]) {
            assert_eq!(payload, [self.next]);
            if self.next == 3 {
                self.transmits.push_back(Transmit::Close);
                self.finish(Outcome::Completed);
            } else {
                self.send_next(now);
            }
        }
        fn handle_disconnected(&mut self, _: Instant, reason: Disconnect) {
            self.finish(Outcome::Failed(SessionError::ConnectionLost(format!(
                "{reason:?}"
            ))));
        }
        fn handle_measurement(&mut self, _: Instant, _: Measurement) {}
        fn handle_hardware_fault(&mut self, _: Instant, _: HardwareFault) {}
        fn handle_stop_request(&mut self, _: Instant) {}
        fn handle_timeout(&mut self, _: Instant) {
            self.finish(Outcome::Failed(SessionError::Timeout("toy")));
        }
        fn poll_transmit(&mut self) -> Option<Transmit> {
            self.transmits.pop_front()
        }
        fn poll_command(&mut self) -> Option<HardwareCommand> {
            None
        }
        fn poll_event(&mut self) -> Option<SessionEvent> {
            self.events.pop_front()
        }
        fn poll_timeout(&self) -> Option<Instant> {
            self.deadline
        }
        fn is_finished(&self) -> bool {
            self.finished
        }
    }

    fn io() -> (SessionIo, mpsc::UnboundedReceiver<SessionEvent>) {
        let (_hw_tx, hardware) = mpsc::unbounded_channel();
        let (_stop_tx, stop) = mpsc::unbounded_channel();
        let (commands, _) = mpsc::unbounded_channel();
        let (events, events_rx) = mpsc::unbounded_channel();
        (
            SessionIo {
                hardware,
                stop,
                commands,
                events,
            },
            events_rx,
        )
    }

    fn connection() -> (V2gConnection, tokio::io::DuplexStream) {
        let (ours, theirs) = tokio::io::duplex(1024);
        let peer: SocketAddrV6 = "[fe80::1%1]:50000".parse().unwrap();
        let conn = V2gConnection::new(Box::new(ours), peer, None, DeframerConfig::default());
        (conn, theirs)
    }

    #[tokio::test]
    async fn session_runs_to_completion_against_an_echo() {
        let (conn, peer) = connection();
        let echo = tokio::spawn(async move {
            let peer_conn = V2gConnection::new(
                Box::new(peer),
                "[fe80::2%1]:50001".parse().unwrap(),
                None,
                DeframerConfig::default(),
            );
            let mut peer_conn = peer_conn;
            let mut echoed = 0;
            loop {
                match peer_conn.next_event().await {
                    V2gEvent::Message(m) => {
                        peer_conn.send(m.payload_type, &m.payload).await.unwrap();
                        echoed += 1;
                    }
                    V2gEvent::Closed => return echoed,
                    V2gEvent::Failed(e) => panic!("{e}"),
                }
            }
        });
        let (mut io, mut events) = io();
        let mut session = ToyEvcc::default();
        let outcome = run_session(conn, &mut session, &Clock::new(), &mut io).await;
        assert_eq!(outcome, Some(Outcome::Completed));
        assert_eq!(echo.await.unwrap(), 3);
        assert_eq!(
            events.recv().await,
            Some(SessionEvent::Finished(Outcome::Completed))
        );
    }

    #[tokio::test]
    async fn a_closed_connection_reaches_the_session() {
        let (conn, peer) = connection();
        drop(peer);
        let (mut io, _events) = io();
        let mut session = ToyEvcc::default();
        let outcome = run_session(conn, &mut session, &Clock::new(), &mut io).await;
        assert!(
            matches!(
                outcome,
                Some(Outcome::Failed(SessionError::ConnectionLost(_)))
            ),
            "{outcome:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_session_deadline_fires() {
        // The peer stays connected but never answers.
        let (conn, _peer) = connection();
        let (mut io, _events) = io();
        let mut session = ToyEvcc::default();
        let outcome = run_session(conn, &mut session, &Clock::new(), &mut io).await;
        assert_eq!(outcome, Some(Outcome::Failed(SessionError::Timeout("toy"))));
    }
}
