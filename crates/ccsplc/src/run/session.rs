//! One V2G session on an open connection, shared by `ev` and `evse`: the session driver of
//! `ccs-linux` with the hardware hub, the trace, the stop signals and the dashboard's controls
//! around it.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use ccs_linux::clock::Clock;
use ccs_linux::session::{SessionIo, run_session};
use ccs_linux::v2g::V2gConnection;
use ccs_proto::hardware::Measurement;
use ccs_proto::session::{Outcome, V2gSession};
use tokio::sync::mpsc;

use super::display::Trace;
use super::hardware::Hardware;
use super::signals::Signals;
use crate::web::{Controls, DashboardControl};

/// Exit code after the second Ctrl-C (128 + SIGINT, as shells report it).
pub(crate) const EXIT_FORCED: i32 = 130;

/// Carries out a control from the dashboard: a stop goes to `stop` (the running session's stop
/// request; `None` when no session runs), the charger's switches to the hardware hub, which
/// keeps them for the next session. Returns whether it was a stop that reached a session.
pub(crate) fn apply_control(
    control: DashboardControl,
    trace: &mut Trace,
    hardware: &Hardware,
    stop: Option<&mpsc::UnboundedSender<()>>,
) -> bool {
    match control {
        DashboardControl::Stop => match stop {
            Some(stop) => {
                trace.line("stop requested from the dashboard");
                stop.send(()).is_ok()
            }
            None => {
                trace.line("stop from the dashboard: no session is running, nothing to stop");
                false
            }
        },
        DashboardControl::Authorize(authorized) => {
            trace.line(if authorized {
                "authorized from the dashboard"
            } else {
                "authorization withdrawn from the dashboard"
            });
            hardware.operator_input(Measurement::Authorized(authorized));
            false
        }
        DashboardControl::Enable(enabled) => {
            trace.line(if enabled {
                "charging enabled from the dashboard"
            } else {
                "charging disabled from the dashboard"
            });
            hardware.operator_input(Measurement::ChargingEnabled(enabled));
            false
        }
    }
}

/// The session panicked (a bug, reached e.g. by data from outside). [`drive`] has already
/// sent the safe state to the hardware; the caller stops the hub (which lets the adapters put
/// it out) and ends the process with a failure.
#[derive(Debug, thiserror::Error)]
#[error("the session panicked: {0}")]
pub(crate) struct SessionPanicked(pub(crate) String);

/// Polls a future, turning a panic inside it into `Err` with the panic's message. The future
/// is dropped as soon as it has finished or panicked, so that whatever it owns (the session's
/// channels) closes at once.
struct CatchPanic<F> {
    inner: Option<Pin<Box<F>>>,
}

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Pending;
        };
        let polled = std::panic::catch_unwind(AssertUnwindSafe(|| inner.as_mut().poll(cx)));
        let result = match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(output)) => Ok(output),
            Err(payload) => Err(panic_text(payload.as_ref())),
        };
        self.inner = None;
        Poll::Ready(result)
    }
}

/// The message of a panic payload (`panic!` with a literal or a formatted text).
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}

/// Runs `session` on `conn` to its end, showing it live. The first Ctrl-C is a stop request,
/// the second forces the safe state and exits the process; the dashboard's Stop is a stop
/// request too. A panic in the session does not unwind past the hardware: the commands it
/// sent before are forwarded, then the safe state (power supply off, contactors open, CP
/// state B) follows, and [`SessionPanicked`] tells the caller to stop the hub and fail.
pub(crate) async fn drive<S: V2gSession + ?Sized>(
    mut conn: V2gConnection,
    session: &mut S,
    clock: &Clock,
    hardware: &Hardware,
    trace: &mut Trace,
    signals: &mut Signals,
    controls: &mut Controls,
) -> Result<Option<Outcome>, SessionPanicked> {
    // TLS: the keys and the plaintext go into the recording (see `record`).
    trace.recording().tls_connection(&mut conn);
    let (stop_tx, stop_rx) = mpsc::unbounded_channel();
    let (commands_tx, mut commands_rx) = mpsc::unbounded_channel();
    let (events_tx, mut events_rx) = mpsc::unbounded_channel();
    let io = SessionIo {
        hardware: hardware.attach(),
        stop: stop_rx,
        commands: commands_tx,
        events: events_tx,
    };
    // A Ctrl-C before the connection came up is a stop request too.
    if signals.count() > 0 {
        let _ = stop_tx.send(());
    }
    let session_done = CatchPanic {
        inner: Some(Box::pin(async move {
            let mut io = io;
            run_session(conn, session, clock, &mut io).await
        })),
    };
    let to_hub = hardware.commands();
    let supervise = async {
        let (mut events_open, mut commands_open) = (true, true);
        while events_open || commands_open {
            tokio::select! {
                event = events_rx.recv(), if events_open => match event {
                    Some(e) => trace.session(&e),
                    None => events_open = false,
                },
                command = commands_rx.recv(), if commands_open => match command {
                    Some(c) => {
                        trace.command(&c);
                        let _ = to_hub.send(c);
                    }
                    None => commands_open = false,
                },
                n = signals.next() => {
                    if n >= 2 {
                        trace.line("second stop signal: forcing the safe state and exiting");
                        hardware.force_safe_state();
                        // Let the adapters act on the commands before the process ends.
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                        std::process::exit(EXIT_FORCED);
                    }
                    trace.line("stop requested (Ctrl-C again forces the safe state)");
                    let _ = stop_tx.send(());
                }
                control = controls.recv() => {
                    apply_control(control, trace, hardware, Some(&stop_tx));
                }
            }
        }
    };
    let (outcome, ()) = tokio::join!(session_done, supervise);
    outcome.map_err(|message| {
        // The session's last commands are forwarded by now (its channels closed when it was
        // dropped): the safe state comes after them.
        trace.line(&format!(
            "the session panicked ({message}): forcing the safe state"
        ));
        hardware.force_safe_state();
        SessionPanicked(message)
    })
}
