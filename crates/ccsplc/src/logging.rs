//! Logging through `tracing`: verbosity from `-v`/`-q`, millisecond timestamps, and an optional
//! copy of every line in a file.

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::Context as _;
use clap::Args;
use tracing_subscriber::fmt::time::ChronoLocal;
use tracing_subscriber::prelude::*;
use tracing_subscriber::{EnvFilter, fmt};

/// Logging options shared by every subcommand.
#[derive(Args, Debug)]
pub(crate) struct LogOptions {
    /// More detail: -v shows debug messages, -vv everything (trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Less output: -q shows only warnings and errors, -qq only errors.
    #[arg(short, long, action = clap::ArgAction::Count, global = true, conflicts_with = "verbose")]
    quiet: u8,
    /// Also append every log line to this file.
    #[arg(long, value_name = "FILE", global = true)]
    log_file: Option<PathBuf>,
}

impl LogOptions {
    fn level(&self) -> &'static str {
        match (self.verbose, self.quiet) {
            (0, 0) => "info",
            (1, _) => "debug",
            (v, _) if v >= 2 => "trace",
            (_, 1) => "warn",
            _ => "error",
        }
    }
}

/// Installs the global subscriber. `RUST_LOG` overrides the level from `-v`/`-q`.
pub(crate) fn init(options: &LogOptions) -> anyhow::Result<()> {
    let filter =
        || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(options.level()));
    let timer = ChronoLocal::new("%Y-%m-%d %H:%M:%S%.3f".to_owned());
    let stderr = fmt::layer()
        .with_writer(std::io::stderr)
        .with_timer(timer.clone())
        .with_target(false)
        .with_filter(filter());
    let file = match &options.log_file {
        Some(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening log file {}", path.display()))?;
            Some(
                fmt::layer()
                    .with_writer(Mutex::new(file))
                    .with_ansi(false)
                    .with_timer(timer)
                    .with_filter(filter()),
            )
        }
        None => None,
    };
    tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .try_init()
        .context("installing the log subscriber")
}
