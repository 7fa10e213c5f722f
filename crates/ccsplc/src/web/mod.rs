//! The live dashboard: a web page, served by the running `ev`, `evse` or `sim` command, that
//! shows what pyPLC's Tkinter window showed (mode, state, SoC, target and present voltage and
//! current) and more (modem, SLAC, protocol, phase, the last messages, limits, a chart of the
//! session), and offers the controls stop, authorize and enable. The API behind the page is
//! documented in `docs/dashboard.md`.
//!
//! # Wiring it into a runner
//!
//! ```ignore
//! use crate::web::{self, DashboardControl, Mode};
//!
//! // Once, after loading the configuration (and `apply_command_line`). Without an address
//! // in `[web]` / `--web` this gives a dashboard that ignores everything and no controls.
//! let (dashboard, mut controls) = web::start(Mode::Sim, &loaded.config.web)?;
//!
//! // In the driving loop, for whatever happens:
//! dashboard.session_event(&event);          // every ccs_proto::session::SessionEvent
//! dashboard.slac_event(&slac_event);        // every ccs_proto::slac::SlacEvent
//! dashboard.command(&hardware_command);     // every HardwareCommand handed to the adapters
//! dashboard.measurement(&measurement);      // every Measurement from the adapters
//! dashboard.link("SDP: charger at [fe80::1]:15118"); // SDP / TCP progress, as text
//!
//! // And the controls, e.g. in a `tokio::select!` next to the other inputs
//! // (`controls.recv().await`), or polled (`controls.try_recv()`):
//! match controls.recv().await {
//!     DashboardControl::Stop => session.handle_stop_request(now),
//!     DashboardControl::Authorize(yes) => feed(Measurement::Authorized(yes)),
//!     DashboardControl::Enable(yes) => feed(Measurement::ChargingEnabled(yes)),
//! }
//! ```
//!
//! Every method of [`Dashboard`] is synchronous and cheap (a mutex and a broadcast); the
//! server runs on its own thread with its own small tokio runtime, so it works next to any
//! driver, async or not.
//!
//! # Access
//!
//! Reading (the page, status, history, capture, events) is open to whoever reaches the address.
//! The controls need the token (`[web] token` / `--web-token`, sent as `Authorization: Bearer`)
//! unless the server listens on loopback only; see [`access`].

mod access;
mod server;
pub(crate) mod sim_feed;
mod state;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use ccs_proto::hardware::{HardwareCommand, Measurement};
use ccs_proto::session::SessionEvent;
use ccs_proto::slac::SlacEvent;
use serde::Serialize;
use tokio::sync::{broadcast, mpsc};

use crate::config::Web;
use access::Access;
pub(crate) use state::Capacity;
use state::{Change, Component, ControlAccess, Snapshot, State};

/// How many updates a slow browser may fall behind before it gets a fresh snapshot instead.
const UPDATE_BACKLOG: usize = 256;
/// How many controls may wait for the runner.
const CONTROL_BACKLOG: usize = 16;

/// Which command serves the dashboard.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code, reason = "API for the runners (ev, evse, sim)")]
pub(crate) enum Mode {
    /// `ccsplc ev`: the car.
    Ev,
    /// `ccsplc evse`: the charger.
    Evse,
    /// `ccsplc sim`: car and charger simulated.
    Sim,
}

impl Mode {
    /// Whether the authorization control applies: the charger's; the simulated charger
    /// authorizes by itself.
    fn offers_authorize(self) -> bool {
        self == Self::Evse
    }

    /// Whether the enable switch applies: the charger's, real or simulated.
    fn offers_enable(self) -> bool {
        matches!(self, Self::Evse | Self::Sim)
    }
}

/// A control from the dashboard, for the runner to carry out.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum DashboardControl {
    /// Stop charging: a normal stop (`V2gSession::handle_stop_request`).
    Stop,
    /// Charger: the authorization input of the session (`Measurement::Authorized`).
    Authorize(bool),
    /// Charger: the enable switch (`Measurement::ChargingEnabled`); `false` stops charging.
    Enable(bool),
}

/// The local modem, as the runner sees it.
#[derive(Clone, Debug, Eq, PartialEq)]
#[allow(dead_code, reason = "API for the runners (ev, evse, sim)")]
pub(crate) enum ModemStatus {
    /// Looking for the modem (VS_SW_VER sent).
    Searching,
    /// The modem answered; firmware and MAC.
    Found {
        /// For people: firmware and MAC.
        detail: String,
    },
    /// No modem answered, or it refused; why.
    Missing(String),
    /// No modem management (`--no-modem`, `--no-slac`).
    NotUsed,
}

impl ModemStatus {
    fn component(&self) -> Component {
        let (state, detail) = match self {
            Self::Searching => ("searching", None),
            Self::Found { detail } => ("found", Some(detail.clone())),
            Self::Missing(why) => ("missing", Some(why.clone())),
            Self::NotUsed => ("not_used", None),
        };
        Component { state, detail }
    }
}

/// SLAC, as the runner sees it.
#[derive(Clone, Debug, Eq, PartialEq)]
#[allow(dead_code, reason = "API for the runners (ev, evse, sim)")]
pub(crate) enum SlacStatus {
    /// Waiting for a car (charger) or for the CP state (car); what for.
    Waiting(String),
    /// Matching; how far.
    Matching(String),
    /// Paired; with whom.
    Paired(String),
    /// Gave up; why.
    Failed(String),
    /// SLAC is not done (`--no-slac`).
    Skipped,
}

impl SlacStatus {
    fn component(&self) -> Component {
        let (state, detail) = match self {
            Self::Waiting(s) => ("waiting", Some(s.clone())),
            Self::Matching(s) => ("matching", Some(s.clone())),
            Self::Paired(s) => ("paired", Some(s.clone())),
            Self::Failed(s) => ("failed", Some(s.clone())),
            Self::Skipped => ("skipped", None),
        };
        Component { state, detail }
    }
}

/// What the dashboard needs to start.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    /// Which command serves it.
    pub(crate) mode: Mode,
    /// Where to listen, e.g. `127.0.0.1:8080`, `0.0.0.0:80`, `[::]:8080`, `localhost:0`.
    pub(crate) address: String,
    /// The controls' token.
    pub(crate) token: Option<String>,
    /// Offer controls at all.
    pub(crate) allow_control: bool,
    /// The history's bounds.
    pub(crate) capacity: Capacity,
}

impl Options {
    /// From the `[web]` section (with `--web` / `--web-token` applied); `None` without an
    /// address.
    pub(crate) fn from_config(mode: Mode, web: &Web) -> Option<Self> {
        Some(Self {
            mode,
            address: web.address.clone()?,
            token: web.token.clone().filter(|t| !t.is_empty()),
            allow_control: web.allow_control,
            capacity: Capacity::default(),
        })
    }
}

/// One update as sent to browsers: its number and its JSON text.
#[derive(Debug)]
struct Broadcast {
    seq: u64,
    json: String,
}

/// The state shared between the runner's [`Dashboard`] handles and the server.
#[derive(Debug)]
struct Hub {
    state: Mutex<State>,
    updates: broadcast::Sender<Arc<Broadcast>>,
    started: std::time::Instant,
    capture: Mutex<Option<PathBuf>>,
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves the model as it was: still worth showing.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Applies one change and tells the browsers, under one lock so that updates go out in
    /// the order of their sequence numbers.
    fn apply(&self, f: impl FnOnce(&mut State, u64) -> Change) {
        let t_ms = self.now_ms();
        let mut state = self.lock();
        let change = f(&mut state, t_ms);
        if self.updates.receiver_count() == 0 || !state.send_now(&change) {
            return;
        }
        self.send(&state, &change);
    }

    /// Sends a status change that [`State::send_now`] held back, once it is due.
    fn flush(&self) {
        let t_ms = self.now_ms();
        let mut state = self.lock();
        if state.flush_due(t_ms) && self.updates.receiver_count() > 0 {
            self.send(&state, &Change::default());
        }
    }

    /// Sends a held-back status change now.
    fn flush_now(&self) {
        let mut state = self.lock();
        if state.take_unsent() && self.updates.receiver_count() > 0 {
            self.send(&state, &Change::default());
        }
    }

    fn send(&self, state: &State, change: &Change) {
        let update = state.update(change);
        match serde_json::to_string(&update) {
            // No receiver left between the count and the send is harmless.
            Ok(json) => drop(self.updates.send(Arc::new(Broadcast {
                seq: update.seq,
                json,
            }))),
            Err(e) => tracing::warn!("dashboard: cannot encode an update: {e}"),
        }
    }

    /// The status and history as one JSON text, and a receiver of every later update.
    fn subscribe(&self) -> (String, broadcast::Receiver<Arc<Broadcast>>) {
        let state = self.lock();
        let receiver = self.updates.subscribe();
        let snapshot = Snapshot {
            status: state.status(),
            history: state.history(),
        };
        let json = serde_json::to_string(&snapshot).unwrap_or_else(|e| {
            tracing::warn!("dashboard: cannot encode the snapshot: {e}");
            "{}".to_owned()
        });
        (json, receiver)
    }
}

/// The runner's handle to the dashboard: report what happens. Cheap to clone; a disabled
/// dashboard (no `--web`) ignores everything.
#[derive(Clone, Debug, Default)]
pub(crate) struct Dashboard {
    hub: Option<Arc<Hub>>,
    local_addr: Option<SocketAddr>,
}

#[allow(dead_code, reason = "API for the runners (ev, evse, sim)")]
impl Dashboard {
    /// A dashboard that shows nothing and ignores everything.
    pub(crate) fn disabled() -> Self {
        Self::default()
    }

    /// Whether a server is running.
    pub(crate) fn is_enabled(&self) -> bool {
        self.hub.is_some()
    }

    /// The address the server listens on (with the real port when `:0` was asked for).
    pub(crate) fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    fn apply(&self, f: impl FnOnce(&mut State, u64) -> Change) {
        if let Some(hub) = &self.hub {
            hub.apply(f);
        }
    }

    /// A session event (phase, protocol, messages, values, the end).
    pub(crate) fn session_event(&self, event: &SessionEvent) {
        self.apply(|s, t| s.session_event(t, event));
    }

    /// A new charging session begins (a new car). Also implied by the first session event
    /// after a finished session.
    pub(crate) fn session_started(&self) {
        self.apply(State::session_started);
    }

    /// A SLAC event (modem found, matching, paired, failed).
    pub(crate) fn slac_event(&self, event: &SlacEvent) {
        self.apply(|s, t| s.slac_event(t, event));
    }

    /// The modem's state, where the runner knows more than the SLAC events say.
    pub(crate) fn modem(&self, status: ModemStatus) {
        self.apply(|s, t| s.modem(t, &status));
    }

    /// SLAC's state, where the runner knows more than the SLAC events say (e.g. skipped).
    pub(crate) fn slac(&self, status: SlacStatus) {
        self.apply(|s, t| s.slac(t, &status));
    }

    /// SDP or connection progress, as text (e.g. `TCP connected to [fe80::1]:57122`).
    pub(crate) fn link(&self, text: impl Into<String>) {
        let text = text.into();
        self.apply(|s, t| s.link(t, text));
    }

    /// A command handed to the hardware adapters.
    pub(crate) fn command(&self, command: &HardwareCommand) {
        self.apply(|s, t| s.command(t, command));
    }

    /// A measurement from the hardware adapters.
    pub(crate) fn measurement(&self, measurement: &Measurement) {
        self.apply(|s, t| s.measurement(t, measurement));
    }

    /// A remark for the event list.
    pub(crate) fn note(&self, text: impl Into<String>) {
        let text = text.into();
        self.apply(|s, t| s.note(t, text));
    }

    /// Gives the browsers up to `max_wait` to receive everything reported so far: call it
    /// before the process ends, so that the page shows how the session ended.
    pub(crate) fn drain(&self, max_wait: std::time::Duration) {
        let Some(hub) = &self.hub else { return };
        let deadline = std::time::Instant::now() + max_wait;
        hub.flush_now();
        while !hub.updates.is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        // Taken from the channel is not yet written to the socket.
        let rest = deadline.saturating_duration_since(std::time::Instant::now());
        std::thread::sleep(rest.min(std::time::Duration::from_millis(200)));
    }

    /// The capture file being written (offered at `/api/capture`).
    pub(crate) fn capture_file(&self, path: &Path) {
        let Some(hub) = &self.hub else { return };
        *hub.capture.lock().unwrap_or_else(PoisonError::into_inner) = Some(path.to_owned());
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        hub.apply(|s, t| s.capture(t, name));
    }
}

/// The controls from the dashboard, for the runner.
#[derive(Debug)]
pub(crate) struct Controls {
    receiver: Option<mpsc::Receiver<DashboardControl>>,
}

#[allow(dead_code, reason = "API for the runners (ev, evse, sim)")]
impl Controls {
    /// No controls ever (no dashboard).
    pub(crate) fn none() -> Self {
        Self { receiver: None }
    }

    /// The next control. Never completes when there is no dashboard, so it can sit in a
    /// `tokio::select!` unconditionally.
    pub(crate) async fn recv(&mut self) -> DashboardControl {
        if let Some(receiver) = &mut self.receiver
            && let Some(control) = receiver.recv().await
        {
            return control;
        }
        std::future::pending().await
    }

    /// A control if one is waiting, for runners that poll.
    pub(crate) fn try_recv(&mut self) -> Option<DashboardControl> {
        self.receiver.as_mut()?.try_recv().ok()
    }
}

/// Starts the dashboard that `[web]` (with `--web`, `--web-token` applied) asks for, or a
/// disabled one when it has no address.
#[allow(dead_code, reason = "API for the runners (ev, evse, sim)")]
pub(crate) fn start(mode: Mode, web: &Web) -> anyhow::Result<(Dashboard, Controls)> {
    match Options::from_config(mode, web) {
        Some(options) => start_with(options),
        None => Ok((Dashboard::disabled(), Controls::none())),
    }
}

/// Binds `options.address` (errors come back here, before anything runs) and serves the
/// dashboard on a thread of its own.
pub(crate) fn start_with(options: Options) -> anyhow::Result<(Dashboard, Controls)> {
    let listener = std::net::TcpListener::bind(options.address.as_str())
        .with_context(|| format!("dashboard: cannot listen on {}", options.address))?;
    listener
        .set_nonblocking(true)
        .context("dashboard: cannot make the socket non-blocking")?;
    let local_addr = listener
        .local_addr()
        .context("dashboard: no local address")?;
    let access = Access::new(
        local_addr,
        options.token.clone(),
        options.allow_control,
        options.mode.offers_authorize(),
        options.mode.offers_enable(),
    );
    if let Some(warning) = access.warning() {
        tracing::warn!("dashboard: {warning}");
    }
    let started_unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let controls: ControlAccess = access.offered();
    let (updates, _) = broadcast::channel(UPDATE_BACKLOG);
    let hub = Arc::new(Hub {
        state: Mutex::new(State::new(
            options.mode,
            started_unix_ms,
            controls,
            options.capacity,
        )),
        updates,
        started: std::time::Instant::now(),
        capture: Mutex::new(None),
    });
    let (control_tx, control_rx) = mpsc::channel(CONTROL_BACKLOG);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("dashboard: cannot start its runtime")?;
    let server_hub = Arc::clone(&hub);
    std::thread::Builder::new()
        .name("dashboard".to_owned())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::error!("dashboard: cannot use the socket: {e}");
                        return;
                    }
                };
                let flush_hub = Arc::clone(&server_hub);
                tokio::spawn(async move {
                    let period = std::time::Duration::from_millis(state::STATUS_INTERVAL_MS);
                    let mut ticks = tokio::time::interval(period);
                    loop {
                        ticks.tick().await;
                        flush_hub.flush();
                    }
                });
                let app = server::router(server::AppState::new(server_hub, access, control_tx));
                if let Err(e) = axum::serve(listener, app).await {
                    tracing::error!("dashboard: server stopped: {e}");
                }
            });
        })
        .context("dashboard: cannot start its thread")?;
    if local_addr.ip().is_unspecified() {
        tracing::info!(
            "dashboard on port {} of every address of this machine: http://<address>:{}/",
            local_addr.port(),
            local_addr.port()
        );
    } else {
        tracing::info!("dashboard on http://{local_addr}/");
    }
    Ok((
        Dashboard {
            hub: Some(hub),
            local_addr: Some(local_addr),
        },
        Controls {
            receiver: Some(control_rx),
        },
    ))
}
