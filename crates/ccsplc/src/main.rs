//! `ccsplc`: a CCS charging communication controller, as car (EVCC) or charger (SECC).
//!
//! This binary only wires things together: the command line ([`cli`]), logging
//! ([`logging`]), configuration ([`config`]), and the drivers of `ccs-linux` and `ccs-sim` around the
//! protocol core of `ccs-proto`. It is the only crate that uses `anyhow`.
#![forbid(unsafe_code)]

mod cli;
mod config;
mod decode_cmd;
mod exi_cmd;
mod logging;
mod sim_cmd;
mod web;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, ConfigCommand};

/// Exit code of a command whose capability is not built yet (and of usage errors).
const EXIT_NOT_AVAILABLE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = logging::init(&cli.log) {
        eprintln!("ccsplc: cannot set up logging: {e:#}");
        return ExitCode::FAILURE;
    }
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("ccsplc: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Sim(args) => sim_cmd::run(&args),
        Command::Ev(_) => not_built(
            "ev",
            "the car role needs the session machines and link drivers",
        ),
        Command::Evse(_) => not_built(
            "evse",
            "the charger role needs the session machines and link drivers",
        ),
        Command::Listen(_) => not_built("listen", "listen mode needs the link drivers"),
        Command::Exi(command) => exi_cmd::run(command),
        Command::Decode(args) => decode_cmd::run(&args),
        Command::Config(ConfigCommand::Check(args)) => config::check(&args.file),
        Command::Config(ConfigCommand::Init(args)) => config::init(args.file.as_deref()),
    }
}

/// Says plainly that a command is not available yet and exits with code 2: no fake output.
fn not_built(command: &str, why: &str) -> anyhow::Result<ExitCode> {
    eprintln!("ccsplc {command}: not available in this build yet ({why}).");
    Ok(ExitCode::from(EXIT_NOT_AVAILABLE))
}
