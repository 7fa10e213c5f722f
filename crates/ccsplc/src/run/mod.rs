//! `ccsplc ev`, `ccsplc evse` and `ccsplc listen` on a real network interface.
//!
//! The wiring, in order: configuration ([`crate::config`]) → the link ([`Link::open`] in the
//! mode of `--no-slac` / `--no-modem`) → SLAC ([`ccs_linux::slac`]) → SDP
//! ([`ccs_linux::sdp`]) → TCP or TLS ([`ccs_linux::tcp`]) → the session machine
//! (`ccs_proto::session`) driven by [`ccs_linux::session::run_session`] → the hardware hub
//! ([`hardware`]) → the recording ([`record`]) → the live trace ([`display`]).
//!
//! - [`ev`]: one charging session as the car, then exit (pyPLC's `exit_on_session_end` is
//!   always true for the car: one process, one session, one log; a wrapper restarts it).
//! - [`evse`]: the charger, serving cars one after another until Ctrl-C (or `--once`).
//! - [`listen`]: passive: every frame on the interface, decoded live.

#[cfg(test)]
mod can_sessions;
mod display;
mod ev;
mod evse;
mod hardware;
mod listen;
mod operator;
pub(crate) mod record;
mod session;
mod signals;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use ccs_linux::link::{Link, LinkMode};

pub(crate) use ev::run as ev;
pub(crate) use evse::run as evse;
pub(crate) use listen::run as listen;

use crate::config::{Config, Loaded};
use crate::web::{Dashboard, ModemStatus, SlacStatus};
use record::Target;

/// Exit code of a session that did not complete (or a setup that failed).
const EXIT_FAILED: u8 = 1;

/// How long the dashboard's browsers get to see the end before the process exits.
const DRAIN_DASHBOARD: Duration = Duration::from_secs(1);

/// How long the interface may take to come up with its link-local address.
const INTERFACE_READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Loads the configuration and puts the command-line options over it.
fn load(path: Option<&Path>, common: Option<&crate::cli::CommonArgs>) -> anyhow::Result<Loaded> {
    let mut loaded = Config::load(path)?;
    if let Some(common) = common {
        loaded.apply_command_line(common);
    }
    loaded.log_warnings();
    Ok(loaded)
}

/// `--pcap FILE` wins over `capture.folder`.
fn recording_target(config: &Config, pcap: Option<&PathBuf>) -> Target {
    match (pcap, &config.capture.folder) {
        (Some(file), _) => Target::File(file.clone()),
        (None, Some(folder)) => Target::Folder(folder.clone()),
        (None, None) => Target::Off,
    }
}

/// How long the adapters get after a panic to put out the safe state: the hub's own
/// shutdown time plus a margin.
const PANIC_FLUSH: Duration = Duration::from_millis(1500);

/// Runs a command's `future` on `rt`. A panic that unwinds out of it has dropped the hardware
/// hub on its way, which queued the safe state ([`hardware`]); the adapters get
/// [`PANIC_FLUSH`] to put it out before the runtime goes away, and the command fails. This
/// needs `panic = "unwind"` (the default; no profile of the workspace may set `abort`).
fn block_on_safely<T>(
    rt: &tokio::runtime::Runtime,
    future: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt.block_on(future))) {
        Ok(result) => result,
        Err(_) => {
            // The panic's message is already on stderr (the default hook).
            rt.block_on(async { tokio::time::sleep(PANIC_FLUSH).await });
            anyhow::bail!("internal error (a panic): the safe state was sent to the hardware")
        }
    }
}

/// A tokio runtime for one command.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Opens the interface of the configuration in the mode of its flags.
async fn open_link(config: &Config) -> anyhow::Result<Link> {
    let mode = LinkMode::from_flags(config.general.no_slac, config.general.no_modem);
    let name = &config.general.interface;
    Link::open(mode, name, INTERFACE_READY_TIMEOUT)
        .await
        .with_context(|| format!("cannot open the interface {name}"))
}

/// What the dashboard can say about the modem and SLAC before the first SLAC event.
fn show_link(dashboard: &Dashboard, mode: LinkMode) {
    match mode {
        LinkMode::Modem => dashboard.modem(ModemStatus::Searching),
        LinkMode::NoModem => dashboard.modem(ModemStatus::NotUsed),
        LinkMode::NoSlac => {
            dashboard.modem(ModemStatus::NotUsed);
            dashboard.slac(SlacStatus::Skipped);
        }
    }
}

/// The link mode in words, for the start line.
fn mode_text(mode: LinkMode) -> &'static str {
    match mode {
        LinkMode::Modem => "HomePlug modem",
        LinkMode::NoModem => "direct link without modem (--no-modem)",
        LinkMode::NoSlac => "paired link, no SLAC (--no-slac)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcap_option_wins_over_the_folder() {
        let mut c = Config::default();
        assert_eq!(recording_target(&c, None), Target::Off);
        c.capture.folder = Some(PathBuf::from("/tmp/caps"));
        assert_eq!(
            recording_target(&c, None),
            Target::Folder(PathBuf::from("/tmp/caps"))
        );
        let file = PathBuf::from("x.pcapng");
        assert_eq!(recording_target(&c, Some(&file)), Target::File(file));
    }
}
