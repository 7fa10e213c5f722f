//! One V2G session on an open connection, shared by `ev` and `evse`: the session driver of
//! `ccs-linux` with the hardware hub, the trace, the stop signals and the dashboard's controls
//! around it.

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

/// Runs `session` on `conn` to its end, showing it live. The first Ctrl-C is a stop request,
/// the second forces the safe state and exits the process; the dashboard's Stop is a stop
/// request too.
pub(crate) async fn drive<S: V2gSession + ?Sized>(
    mut conn: V2gConnection,
    session: &mut S,
    clock: &Clock,
    hardware: &Hardware,
    trace: &mut Trace,
    signals: &mut Signals,
    controls: &mut Controls,
) -> Option<Outcome> {
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
    let session_done = async move {
        let mut io = io;
        run_session(conn, session, clock, &mut io).await
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
    outcome
}
