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
mod run;
mod sim_cmd;
mod trace_text;
mod web;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, ConfigCommand};

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
        Command::Ev(args) => run::ev(&args),
        Command::Evse(args) => run::evse(&args),
        Command::Listen(args) => run::listen(&args),
        Command::Exi(command) => exi_cmd::run(command),
        Command::Decode(args) => decode_cmd::run(&args),
        Command::Config(ConfigCommand::Check(args)) => config::check(&args.file),
        Command::Config(ConfigCommand::Init(args)) => config::init(args.file.as_deref()),
    }
}
