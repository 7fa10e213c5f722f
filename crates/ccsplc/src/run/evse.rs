//! `ccsplc evse`: the charger, serving cars one after another.
//!
//! SLAC as EVSE runs for the whole process (each car that plugs in is matched; after a
//! session the modem gets a fresh NMK for the next car), the SDP server answers on
//! UDP 15118 from the start, the V2G listener waits on a dynamic port (plain TCP, and TLS when
//! the configuration has certificates), and every connection gets a fresh [`SeccSession`] with
//! a fresh random SessionID. Runs until Ctrl-C, or for one session with `--once`.
//!
//! pyPLC's `allow_new_session_after_stopping = no`: after a session the user stopped at the
//! charger, no further car is served; `exit_on_session_end = yes`: the process ends after the
//! first session.
//!
//! With `--web` the dashboard shows it live; its controls: Stop (the running session's stop
//! request), Authorize and Enable (the session's authorization input and enable switch, kept
//! for the next car too; see [`super::operator`]).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use ccs_linux::clock::Clock;
use ccs_linux::raw::RawLink;
use ccs_linux::sdp::SdpResponder;
use ccs_linux::slac::{random_bytes, random_nmk};
use ccs_linux::tcp::V2gListener;
use ccs_linux::tls::{TlsIdentity, TlsProfile, TlsServerConfig};
use ccs_linux::v2g::V2gConnection;
use ccs_proto::homeplug::MacAddress;
use ccs_proto::sdp::{SdpServer, SdpServerConfig, SdpServerEvent};
use ccs_proto::session::{Outcome, SeccSession};
use ccs_proto::slac::{EvseSlac, SlacEvent};
use ccs_proto::v2gtp::DeframerConfig;
use tokio::sync::mpsc;

use super::display::{CHECKPOINT_TCP, Trace, outcome_text};
use super::hardware::{Hardware, Side};
use super::record::{Recording, spawn_frame_capture};
use super::session::apply_control;
use super::signals::Signals;
use super::{DRAIN_DASHBOARD, show_link};
use super::{EXIT_FAILED, block_on_safely, load, mode_text, open_link, recording_target, runtime};
use crate::cli::RoleArgs;
use crate::config::{Config, Iso2Charger, Iso20Charger, TlsMode};
use crate::web::{self, Controls, Dashboard};

/// Runs `ccsplc evse`.
pub(crate) fn run(args: &RoleArgs) -> anyhow::Result<ExitCode> {
    let loaded = load(args.config.as_deref(), Some(&args.common))?;
    for warning in loaded.check_charger()? {
        tracing::warn!("{warning}");
    }
    let config = loaded.config;
    let target = recording_target(&config, args.common.pcap.as_ref());
    let once = args.once;
    let (dashboard, controls) = web::start(web::Mode::Evse, &config.web)?;
    let ok = block_on_safely(
        &runtime()?,
        charger(&config, target, once, &dashboard, controls),
    )?;
    // Let the page show how the last session ended before the server goes away.
    dashboard.drain(DRAIN_DASHBOARD);
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    })
}

/// The TLS server settings of the configuration, if TLS is offered.
fn tls_server(config: &Config) -> anyhow::Result<Option<TlsServerConfig>> {
    if config.tls.mode == TlsMode::Off {
        return Ok(None);
    }
    let t = &config.tls;
    let iso2 = identity(&t.certificate_chain, &t.private_key, "")?;
    let iso20 = identity(&t.iso20_certificate_chain, &t.iso20_private_key, "iso20_")?;
    let profile = config.tls_profile();
    let tls = match profile {
        TlsProfile::Iso15118_20 => iso20
            .or(iso2)
            .map(|id| TlsServerConfig::new(profile, id.certificate_chain, id.private_key)),
        _ => iso2.map(|id| {
            let mut tls = TlsServerConfig::new(profile, id.certificate_chain, id.private_key);
            tls.iso20_identity = iso20;
            tls
        }),
    };
    let Some(mut tls) = tls else {
        anyhow::bail!(
            "tls.mode offers TLS but tls.certificate_chain and tls.private_key are unset"
        );
    };
    tls.client_ca.clone_from(&config.tls.client_ca);
    tls.key_log.clone_from(&config.tls.key_log);
    Ok(Some(tls))
}

/// `[tls] {prefix}certificate_chain` with its `{prefix}private_key`, if set.
fn identity(
    chain: &Option<PathBuf>,
    key: &Option<PathBuf>,
    prefix: &str,
) -> anyhow::Result<Option<TlsIdentity>> {
    match (chain, key) {
        (Some(chain), Some(key)) => Ok(Some(TlsIdentity::new(chain.clone(), key.clone()))),
        (None, None) => Ok(None),
        _ => anyhow::bail!(
            "tls.{prefix}certificate_chain and tls.{prefix}private_key go together: set both"
        ),
    }
}

/// The listeners: plain TCP unless TLS is required, TLS when configured.
struct Listeners {
    plain: Option<V2gListener>,
    tls: Option<V2gListener>,
}

impl Listeners {
    fn bind(config: &Config, iface: &ccs_linux::iface::Interface) -> anyhow::Result<Self> {
        let tls_config = tls_server(config)?;
        let plain = if config.tls.mode == TlsMode::Required {
            None
        } else {
            Some(V2gListener::bind(
                iface,
                config.sdp.tcp_port.unwrap_or(0),
                None,
                DeframerConfig::default(),
            )?)
        };
        let tls = match &tls_config {
            Some(t) => Some(V2gListener::bind(
                iface,
                config.sdp.tls_port.unwrap_or(0),
                Some(t),
                DeframerConfig::default(),
            )?),
            None => None,
        };
        Ok(Self { plain, tls })
    }

    fn sdp_config(&self, config: &Config, iface: &ccs_linux::iface::Interface) -> SdpServerConfig {
        let address = iface.link_local;
        let mut sdp = match (&self.plain, &self.tls) {
            (Some(p), Some(t)) => SdpServerConfig::both(address, p.port(), t.port()),
            (None, Some(t)) => SdpServerConfig::tls_only(address, t.port()),
            (Some(p), None) => SdpServerConfig::no_tls(address, p.port()),
            (None, None) => SdpServerConfig::no_tls(address, 0),
        };
        if self.tls.is_none() {
            sdp.answer_tls_request_without_tls = config.sdp.answer_tls_request_without_tls;
        }
        sdp
    }

    async fn accept(&self) -> Result<V2gConnection, ccs_linux::LinkError> {
        async fn one(l: Option<&V2gListener>) -> Result<V2gConnection, ccs_linux::LinkError> {
            match l {
                Some(l) => l.accept().await,
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            c = one(self.plain.as_ref()) => c,
            c = one(self.tls.as_ref()) => c,
        }
    }
}

/// The charger's SLAC, for the whole run: matches each car that plugs in; a message on
/// `next_car` re-keys the modem with a fresh NMK after a session.
async fn slac_loop(
    raw: RawLink,
    mut machine: EvseSlac,
    clock: Clock,
    events: mpsc::UnboundedSender<SlacEvent>,
    mut next_car: mpsc::UnboundedReceiver<()>,
) {
    let mut buf = vec![0u8; 1522];
    loop {
        while let Some(frame) = machine.poll_transmit() {
            if let Err(e) = raw.send(&frame).await {
                tracing::warn!("SLAC: sending: {e}");
            }
        }
        while let Some(event) = machine.poll_event() {
            let _ = events.send(event);
        }
        let deadline = machine.poll_timeout();
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(clock.deadline(at)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            received = raw.recv(&mut buf) => match received {
                Ok(n) => {
                    if let Err(e) = machine.handle_frame(clock.now(), &buf[..n]) {
                        tracing::debug!("SLAC: malformed HomePlug frame dropped: {e}");
                    }
                }
                Err(e) => {
                    tracing::error!("SLAC: the raw socket failed: {e}");
                    return;
                }
            },
            () = sleep => machine.handle_timeout(clock.now()),
            next = next_car.recv() => match next {
                Some(()) => match random_nmk() {
                    Ok(nmk) => machine.next_session(clock.now(), nmk),
                    Err(e) => tracing::error!("SLAC: no fresh NMK: {e}"),
                },
                None => return,
            },
        }
    }
}

async fn charger(
    config: &Config,
    target: super::record::Target,
    once: bool,
    dashboard: &Dashboard,
    mut controls: Controls,
) -> anyhow::Result<bool> {
    let mut signals = Signals::install()?;
    let policy = config.driver_policy();
    // The Plug & Charge roots are read once, before the first car: a missing file fails now.
    let pnc = ChargerPnc::load(config)?;
    let mut link = open_link(config).await?;
    let iface = link.interface.clone();
    let listeners = Listeners::bind(config, &iface)?;
    let sdp_config = listeners.sdp_config(config, &iface);
    let header = format!(
        "ccsplc evse: charger on {} ({}, {}), port {}, protocols {:?}",
        iface.name,
        iface.mac_string(),
        mode_text(link.mode),
        sdp_config
            .no_tls_port
            .map_or_else(String::new, |p| p.to_string()),
        config.protocols(),
    );
    let recording = Recording::new(target, &iface.name, "charger", &header);
    let capture = spawn_frame_capture(&recording, &iface.name, iface.index);
    if let Some(path) = recording.current_file() {
        dashboard.capture_file(&path);
    }
    show_link(dashboard, link.mode);
    let hardware = Hardware::start(config, Side::Charger, dashboard)?;
    let mut trace = Trace::new("EVSE", recording.clone());
    trace.show_on(dashboard.clone());
    trace.line(&header);
    trace.line(&format!("hardware: {}", hardware.adapters.join(", ")));
    let clock = Clock::new();

    let (slac_tx, mut slac_events) = mpsc::unbounded_channel();
    let (next_car, next_car_rx) = mpsc::unbounded_channel();
    let slac = match link.raw.take() {
        Some(raw) => {
            let machine = EvseSlac::new(
                config.evse_slac(),
                MacAddress::from(iface.mac),
                random_nmk()?,
                clock.now(),
            );
            Some(tokio::spawn(slac_loop(
                raw,
                machine,
                clock,
                slac_tx,
                next_car_rx,
            )))
        }
        None => None,
    };
    let server = SdpServer::new(sdp_config).context("SDP server")?;
    let responder = SdpResponder::bind(&iface, server, clock)?;
    let (stop_sdp, sdp_stopped) = tokio::sync::oneshot::channel::<()>();
    let (sdp_tx, mut sdp_events) = mpsc::unbounded_channel();
    let sdp = tokio::spawn(responder.run(Some(sdp_tx), async {
        let _ = sdp_stopped.await;
    }));

    let mut sessions = 0u32;
    let mut paused: Option<Vec<u8>> = None;
    let mut all_completed = true;
    let mut panicked = None;
    loop {
        let conn = tokio::select! {
            conn = listeners.accept() => conn,
            Some(event) = slac_events.recv() => {
                trace.slac(&event);
                continue;
            }
            Some(event) = sdp_events.recv() => {
                if let SdpServerEvent::Answered { from, port, .. } = event {
                    dashboard.link(format!("SDP: answered [{}] with port {port}", from.ip()));
                }
                continue;
            }
            _ = signals.next() => {
                trace.line("stopped by the user");
                break;
            }
            control = controls.recv() => {
                apply_control(control, &mut trace, &hardware, None);
                continue;
            }
        };
        let conn = match conn {
            Ok(conn) => conn,
            Err(e) => {
                // A TLS handshake that failed, a car that went away: wait for the next one.
                trace.line(&format!("connection failed: {e}"));
                continue;
            }
        };
        let tls_text = conn
            .tls_info()
            .map_or_else(String::new, |t| format!(" ({} {})", t.version, t.cipher));
        trace.new_session();
        let tcp_text = format!("TCP connection from {}{tls_text}", conn.peer());
        dashboard.link(tcp_text.as_str());
        trace.line_at(CHECKPOINT_TCP, &tcp_text);
        let session_id: [u8; 8] = random_bytes()?;
        let mut session = pnc.new_session(config, session_id, paused.take(), clock.now())?;
        let outcome = super::session::drive(
            conn,
            &mut session,
            &clock,
            &hardware,
            &mut trace,
            &mut signals,
            &mut controls,
        )
        .await;
        sessions += 1;
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(e) => {
                // The safe state is on its way; serve no further car with a broken session
                // machine: stop the hub below (the adapters put the safe state out) and fail.
                all_completed = false;
                panicked = Some(e);
                break;
            }
        };
        // ISO 15118-2 §8.4.3.2: a car that paused may come back with this SessionID.
        paused = session.paused_session_id();
        let completed = matches!(outcome, Some(Outcome::Completed));
        all_completed &= completed;
        trace.line(&format!(
            "summary: session {sessions} {}, {} messages, {} in the charge loop",
            outcome_text(outcome.as_ref()),
            trace.messages,
            trace.charge_loop
        ));
        let _ = next_car.send(());
        if once || policy.exit_on_session_end {
            break;
        }
        if session.stopped_by_user() && !policy.allow_new_session_after_stopping {
            trace.line(
                "stopped at the charger: no new session (allow_new_session_after_stopping = no)",
            );
            break;
        }
        if signals.count() > 0 {
            break;
        }
        recording.next_session();
        if let Some(path) = recording.current_file() {
            dashboard.capture_file(&path);
        }
    }
    let _ = stop_sdp.send(());
    let _ = sdp.await;
    if let Some(slac) = slac {
        slac.abort();
    }
    hardware.force_safe_state();
    hardware.stop().await;
    if let Some(capture) = capture {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        capture.abort();
    }
    for (path, records) in recording.finish() {
        println!("Capture: {} ({records} records)", path.display());
    }
    println!(
        "Result: {sessions} session(s), {}",
        if all_completed {
            "all completed"
        } else {
            "some FAILED"
        }
    );
    match panicked {
        Some(e) => Err(e.into()),
        None => Ok(all_completed),
    }
}

/// The charger's ISO 15118-2 and -20 options and Plug & Charge verifiers, read once before
/// the first car (a missing file fails at once).
pub(super) struct ChargerPnc {
    iso2: Iso2Charger,
    iso20: Iso20Charger,
}

impl ChargerPnc {
    /// Reads the options and roots of `[iso2]` and `[iso20]`.
    pub(super) fn load(config: &Config) -> anyhow::Result<Self> {
        Ok(Self {
            iso2: config.iso2.charger().context("the [iso2] configuration")?,
            iso20: config
                .iso20
                .charger()
                .context("the [iso20] configuration")?,
        })
    }

    /// A session for the next car: a fresh SessionID (or the `paused` one of the previous
    /// session, which the car may rejoin), and a fresh GenChallenge for Plug & Charge (the
    /// random challenge the car signs in its authorization request).
    pub(super) fn new_session(
        &self,
        config: &Config,
        session_id: [u8; 8],
        paused: Option<Vec<u8>>,
        now: ccs_proto::time::Instant,
    ) -> anyhow::Result<SeccSession> {
        let mut secc = config.secc_config();
        secc.iso2 = self.iso2.options.clone();
        secc.iso2.paused_session_id = paused;
        let iso20_verifier = self.iso20.configure(&mut secc, random_bytes()?);
        let mut session = SeccSession::new(secc, session_id, now);
        if let Some(pnc) = self.iso2.pnc(random_bytes()?) {
            session.set_pnc(pnc);
        }
        if let Some(verifier) = iso20_verifier {
            session.set_iso20_verifier(verifier);
        }
        Ok(session)
    }
}
