//! `ccsplc ev`: one charging session as the car.
//!
//! Modem (unless `--no-slac`/`--no-modem`) → SLAC as EV → SDP client → TCP (TLS when the
//! configuration allows it and the charger offers it) → the EVCC session with the hardware
//! hub → summary. Exit 0 only when the session completed. With `--web` the dashboard shows it
//! live; its Stop is a stop request like Ctrl-C.
//!
//! The car always exits after its session: pyPLC's `exit_on_session_end` was made for this
//! (one process and one log per session; a wrapper script or systemd restarts the process for
//! the next plug-in), and a car that has finished charging has nothing more to say until it
//! is unplugged and plugged in again.

use std::process::ExitCode;

use anyhow::Context as _;
use ccs_linux::clock::Clock;
use ccs_linux::link::Link;
use ccs_linux::sdp::{DEFAULT_SDP_HOP_LIMIT, discover_secc};
use ccs_linux::slac::{random_bytes, run_slac};
use ccs_linux::tcp::{ConnectOptions, connect};
use ccs_linux::tls::TlsClientConfig;
use ccs_proto::homeplug::MacAddress;
use ccs_proto::session::{EvccSession, Outcome};
use ccs_proto::slac::EvSlac;

use super::display::{CHECKPOINT_SDP, CHECKPOINT_TCP, Trace, outcome_text};
use super::hardware::{Hardware, Side};
use super::record::{Recording, spawn_frame_capture};
use super::signals::Signals;
use super::{DRAIN_DASHBOARD, show_link};
use super::{EXIT_FAILED, block_on_safely, load, mode_text, open_link, recording_target, runtime};
use crate::cli::RoleArgs;
use crate::config::{Config, Iso2Car, Iso20Car, TlsMode};
use crate::web::{self, Controls, Dashboard, DashboardControl};

/// Runs `ccsplc ev`.
pub(crate) fn run(args: &RoleArgs) -> anyhow::Result<ExitCode> {
    let loaded = load(args.config.as_deref(), Some(&args.common))?;
    let config = loaded.config;
    let target = recording_target(&config, args.common.pcap.as_ref());
    let (dashboard, controls) = web::start(web::Mode::Ev, &config.web)?;
    let completed = block_on_safely(&runtime()?, car(&config, target, &dashboard, controls))?;
    // Let the page show how the session ended before the server goes away.
    dashboard.drain(DRAIN_DASHBOARD);
    Ok(if completed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    })
}

/// The TLS client settings of the configuration, if TLS may be used.
fn tls_client(config: &Config) -> anyhow::Result<Option<TlsClientConfig>> {
    if config.tls.mode == TlsMode::Off {
        return Ok(None);
    }
    let anchors = config
        .tls
        .trust_anchors
        .clone()
        .context("tls.mode allows TLS but tls.trust_anchors is not set")?;
    let mut tls = TlsClientConfig::new(config.tls_profile(), anchors);
    tls.certificate_chain
        .clone_from(&config.tls.certificate_chain);
    tls.private_key.clone_from(&config.tls.private_key);
    tls.key_log.clone_from(&config.tls.key_log);
    Ok(Some(tls))
}

async fn car(
    config: &Config,
    target: super::record::Target,
    dashboard: &Dashboard,
    mut controls: Controls,
) -> anyhow::Result<bool> {
    let mut signals = Signals::install()?;
    let credentials = Credentials::load(config)?;
    let link = open_link(config).await?;
    let iface = link.interface.clone();
    let header = format!(
        "ccsplc ev: car on {} ({}, {}), protocols {:?}",
        iface.name,
        iface.mac_string(),
        mode_text(link.mode),
        config.protocols()
    );
    let recording = Recording::new(target, &iface.name, "car", &header);
    let capture = spawn_frame_capture(&recording, &iface.name, iface.index);
    if let Some(path) = recording.current_file() {
        dashboard.capture_file(&path);
    }
    show_link(dashboard, link.mode);
    let hardware = Hardware::start(config, Side::Vehicle, dashboard)?;
    let mut trace = Trace::new("EV", recording.clone());
    trace.show_on(dashboard.clone());
    trace.line(&header);
    trace.line(&format!("hardware: {}", hardware.adapters.join(", ")));
    let clock = Clock::new();

    let outcome = connect_and_charge(
        config,
        &credentials,
        &link,
        &clock,
        &hardware,
        &mut trace,
        &mut signals,
        &mut controls,
    )
    .await;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            trace.line(&format!("failed: {e:#}"));
            dashboard.note(format!("failed: {e:#}"));
            None
        }
    };
    let completed = matches!(outcome, Some(Outcome::Completed));
    trace.line(&format!(
        "summary: session {}, {} messages, {} in the charge loop",
        outcome_text(outcome.as_ref()),
        trace.messages,
        trace.charge_loop
    ));
    hardware.force_safe_state();
    hardware.stop().await;
    if let Some(capture) = capture {
        // Let the last frames (TCP FIN) reach the capture.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        capture.abort();
    }
    for (path, records) in recording.finish() {
        println!("Capture: {} ({records} records)", path.display());
    }
    println!(
        "Result: session {}",
        if completed { "completed" } else { "FAILED" }
    );
    Ok(completed)
}

/// SLAC, SDP, TCP and the session; a Ctrl-C or the dashboard's Stop before the session ends
/// the attempt.
async fn connect_and_charge(
    config: &Config,
    credentials: &Credentials,
    link: &Link,
    clock: &Clock,
    hardware: &Hardware,
    trace: &mut Trace,
    signals: &mut Signals,
    controls: &mut Controls,
) -> anyhow::Result<Option<Outcome>> {
    let iface = &link.interface;
    let dashboard = trace.dashboard().clone();
    // The setup borrows the trace; it ends before the session takes it.
    let conn = {
        let setup = async {
            if let Some(raw) = &link.raw {
                let mut machine = EvSlac::new(
                    config.ev_slac(),
                    MacAddress::from(iface.mac),
                    random_bytes()?,
                );
                machine.start(clock.now());
                run_slac(raw, &mut machine, clock, |e| trace.slac(e))
                    .await
                    .context("SLAC")?;
            }
            let found = discover_secc(iface, config.sdp_client(), DEFAULT_SDP_HOP_LIMIT, clock)
                .await
                .context("SDP")?;
            let sdp_text = format!(
                "SDP: charger at {}, {}",
                found.address,
                if found.tls { "TLS" } else { "no TLS" }
            );
            dashboard.link(sdp_text.as_str());
            trace.line_at(CHECKPOINT_SDP, &sdp_text);
            let mut options = ConnectOptions::default();
            options.tls.clone_from(&credentials.tls);
            let conn = connect(found.address, found.tls, &options)
                .await
                .context("connecting to the charger")?;
            let tls_text = conn
                .tls_info()
                .map_or_else(String::new, |t| format!(" ({} {})", t.version, t.cipher));
            let tcp_text = format!("TCP connected to {}{tls_text}", conn.peer());
            dashboard.link(tcp_text.as_str());
            trace.line_at(CHECKPOINT_TCP, &tcp_text);
            anyhow::Ok(conn)
        };
        tokio::pin!(setup);
        loop {
            tokio::select! {
                conn = &mut setup => break conn?,
                _ = signals.next() => anyhow::bail!("stopped by the user before the session started"),
                control = controls.recv() => match control {
                    DashboardControl::Stop => {
                        anyhow::bail!("stopped from the dashboard before the session started")
                    }
                    // Not offered to the car (the dashboard refuses them).
                    other => tracing::debug!("dashboard: {other:?} is the charger's; ignored"),
                },
            }
        }
    };
    let mut session = credentials.new_session(config, iface.mac, clock.now());
    let outcome = super::session::drive(
        conn,
        &mut session,
        clock,
        hardware,
        trace,
        signals,
        controls,
    )
    .await?;
    if let (Some(id), Some(file)) = (
        session.paused_session_id(),
        config.iso2.paused_session_file.as_deref(),
    ) {
        keep_paused_session(file, &id, trace);
    }
    Ok(outcome)
}

/// What the car proves itself with, read before it connects (a missing file fails at once):
/// its TLS settings, its ISO 15118-2 and -20 options and Plug & Charge keys.
pub(super) struct Credentials {
    tls: Option<TlsClientConfig>,
    iso2: Iso2Car,
    iso20: Iso20Car,
}

impl Credentials {
    pub(super) fn load(config: &Config) -> anyhow::Result<Self> {
        Ok(Self {
            tls: tls_client(config)?,
            iso2: {
                let mut iso2 = config
                    .iso2
                    .car(&config.tls)
                    .context("the [iso2] configuration")?;
                iso2.options.resume_session_id = config
                    .iso2
                    .paused_session_file
                    .as_deref()
                    .and_then(take_paused_session);
                iso2
            },
            iso20: config.iso20.car().context("the [iso20] configuration")?,
        })
    }

    /// The car's session: the configuration's machines with the ISO 15118-2/-20 options and
    /// keys.
    pub(super) fn new_session(
        &self,
        config: &Config,
        mac: [u8; 6],
        now: ccs_proto::time::Instant,
    ) -> EvccSession {
        let mut evcc = config.evcc_config();
        evcc.iso2 = self.iso2.options.clone();
        let iso20_signer = self.iso20.configure(&mut evcc);
        let mut session = EvccSession::new(evcc, mac, now);
        if let Some(signer) = iso20_signer {
            session.set_iso20_signer(signer);
        }
        if let Some(signer) = &self.iso2.signer {
            session.set_contract_signer(signer.clone());
        }
        if let Some(installer) = &self.iso2.installer {
            session.set_certificate_installer(installer.clone());
        }
        session
    }
}

/// The SessionID of a paused session from `file` (hex), which is removed: the car rejoins
/// once. A missing file is no pause; an unreadable one is reported and ignored (a new session
/// is as good).
fn take_paused_session(file: &std::path::Path) -> Option<Vec<u8>> {
    let text = std::fs::read_to_string(file).ok()?;
    if let Err(e) = std::fs::remove_file(file) {
        tracing::warn!("cannot remove {}: {e}", file.display());
    }
    // An ISO 15118-2 SessionID: 1 to 8 bytes.
    let id = crate::exi_cmd::parse_hex(text.trim())
        .ok()
        .filter(|id| (1..=8).contains(&id.len()));
    if id.is_none() {
        tracing::warn!(
            "{}: not a SessionID in hex ({:?}); starting a new session",
            file.display(),
            text.trim()
        );
    }
    id
}

/// Writes the paused session's `id` to `file` for the next run.
fn keep_paused_session(file: &std::path::Path, id: &[u8], trace: &mut Trace) {
    let hex: String = id.iter().map(|b| format!("{b:02X}")).collect();
    match std::fs::write(file, format!("{hex}\n")) {
        Ok(()) => trace.line(&format!(
            "session paused: SessionID {hex} kept in {} for the next run",
            file.display()
        )),
        Err(e) => trace.line(&format!(
            "session paused, but {} cannot be written: {e}",
            file.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paused_session_file_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("paused");
        std::fs::write(&file, "0A1B2C3D4E5F6071\n").unwrap();
        assert_eq!(
            take_paused_session(&file),
            Some(vec![0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f, 0x60, 0x71])
        );
        assert!(!file.exists());
        assert_eq!(take_paused_session(&file), None);
        for bad in ["", "0A1", "zz", "00112233445566778899"] {
            std::fs::write(&file, bad).unwrap();
            assert_eq!(take_paused_session(&file), None, "{bad:?}");
        }
    }
}
