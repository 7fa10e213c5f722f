//! The command line: the contract of `shared/DESIGN.md` ("The command line").

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::logging::LogOptions;

/// ccsplc: a CCS charging communication controller.
///
/// Talks to a car as the charger (SECC) or to a charger as the car (EVCC) over a HomePlug
/// Green PHY powerline modem (e.g. a TP-Link TL-PA4010 on the control pilot): SLAC, SDP,
/// V2GTP over TCP/IPv6, DIN 70121, ISO 15118-2 and ISO 15118-20.
#[derive(Debug, Parser)]
#[command(name = "ccsplc", version, about, long_about = None, propagate_version = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) log: LogOptions,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// What ccsplc should do.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a whole charging session between a simulated car and a simulated charger in this
    /// process (simulated modems, battery and power supply). Needs no root and no hardware.
    /// Exits 0 only if the session completed.
    Sim(SimArgs),
    /// Be the car (EVCC) on a real interface: pair with the charger (SLAC), find it (SDP) and
    /// charge. Exits after the session (0 if it completed): pyPLC's `exit_on_session_end`,
    /// always on for the car. Ctrl-C stops charging normally; a second Ctrl-C forces the safe
    /// state and exits at once.
    Ev(RoleArgs),
    /// Be the charger (SECC) on a real interface: pair with cars that plug in and serve their
    /// charging sessions, one after another, until Ctrl-C (or one with `--once`).
    Evse(RoleArgs),
    /// Listen passively on the interface and log the SLAC, SDP and V2G traffic that is seen.
    ///
    /// Every frame is decoded live (as `ccsplc decode` does) and recorded with `--pcap` or
    /// `capture.folder`; charger MACs are logged. With `listen.smart_listener = "join"` (pyPLC
    /// `smart_listener_configuration = 1`) the NMK/NID seen in CM_SLAC_MATCH.CNF are set into
    /// the local modem so that it joins the car's and charger's network.
    ///
    /// Limits of TP-Link modems (AR7420/QCA7420), from pyPLC's field captures: the modem
    /// passes SLAC to its host before any network exists, so the key is sniffed; after the
    /// SET_KEY it restarts for more than 5 s, so the start of a session (SDP) can be missed;
    /// a modem whose transmit path is cut cannot join. Joined, it forwards only broadcast,
    /// multicast and unicast for its own host: SDP requests are seen, the unicast TCP/V2G
    /// session between car and charger is not. Spoofing a MAC shows some of it but disturbs
    /// the session and is not done (`join_and_spoof` acts as `join`). A port mirror, or a
    /// modem that forwards foreign unicast, shows all of it, decoded live.
    Listen(ListenArgs),
    /// Convert single EXI messages to JSON and back.
    #[command(subcommand)]
    Exi(ExiCommand),
    /// Decode a capture (pcap or pcapng): SLAC, SDP and every V2G message with its fields and
    /// timing.
    Decode(DecodeArgs),
    /// Check or create a configuration file (pyPLC's `pyPlc.ini` or ccsplc's TOML).
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// A V2G protocol, as offered by the car or accepted by the charger.
#[derive(Clone, Copy, Debug, Eq, PartialEq, ValueEnum)]
pub(crate) enum Protocol {
    /// DIN SPEC 70121 (DC).
    Din,
    /// ISO 15118-2:2013.
    Iso2,
    /// ISO 15118-20, DC charging.
    #[value(name = "iso20-dc")]
    Iso20Dc,
    /// ISO 15118-20, bidirectional DC (vehicle-to-home / vehicle-to-grid).
    #[value(name = "iso20-bpt")]
    Iso20Bpt,
}

/// Options shared by `sim`, `ev` and `evse`.
#[derive(Args, Debug)]
pub(crate) struct CommonArgs {
    /// The network interface the modem is on (overrides `eth_interface` of the config).
    #[arg(long, short = 'i', value_name = "IF")]
    pub(crate) interface: Option<String>,
    /// A protocol to offer (car) or accept (charger). Repeat in priority order, highest first.
    #[arg(long = "protocol", value_enum, value_name = "P")]
    pub(crate) protocols: Vec<Protocol>,
    /// The link is already paired (a veth pair, or a modem paired by other means): skip SLAC
    /// and modem management and start at SDP.
    #[arg(long)]
    pub(crate) no_slac: bool,
    /// Run SLAC on a direct link without modems, as pyPLC's simulation mode does: no modem
    /// management, a fixed attenuation profile.
    #[arg(long, conflicts_with = "no_slac")]
    pub(crate) no_modem: bool,
    /// Car: stop after this many seconds of CurrentDemand (default: until the battery is full).
    #[arg(long, value_name = "N")]
    pub(crate) charge_seconds: Option<u64>,
    /// Write everything that crosses the link to this capture file.
    #[arg(long, value_name = "FILE")]
    pub(crate) pcap: Option<PathBuf>,
    /// Serve the live dashboard on this address, e.g. 127.0.0.1:8080.
    #[arg(long, value_name = "ADDR")]
    pub(crate) web: Option<String>,
    /// The token the dashboard's controls require off loopback (overrides `[web] token`; a
    /// config file keeps it out of the process list).
    #[arg(long, value_name = "TOKEN")]
    pub(crate) web_token: Option<String>,
}

/// Arguments of `ccsplc sim`.
#[derive(Args, Debug)]
pub(crate) struct SimArgs {
    /// The configuration file (pyPlc.ini or TOML); defaults apply where it is silent.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) common: CommonArgs,
    /// Car: stop charging when the battery reaches this state of charge, in percent
    /// (with `--charge-seconds`, whichever comes first). With neither, `sim` charges for 60 s.
    #[arg(long, value_name = "P", value_parser = parse_percent)]
    pub(crate) target_soc: Option<f32>,
    /// Seed of every random choice of the simulation (RunIDs, NMKs, SessionIDs, ports,
    /// delays); the same seed replays the same session. Default: `general.rng_seed` of the
    /// configuration, else a fresh one (printed at the start).
    #[arg(long, value_name = "N")]
    pub(crate) seed: Option<u64>,
    /// Pace the simulation to the wall clock (one simulated second per second) instead of
    /// running as fast as possible.
    #[arg(long)]
    pub(crate) realtime: bool,
    /// Inject a fault from the robustness suite by name.
    #[arg(long, value_name = "NAME")]
    pub(crate) fault: Option<String>,
    /// List the faults that `--fault` knows and exit.
    #[arg(long)]
    pub(crate) list_faults: bool,
    /// ISO 15118-2 Plug & Charge (needs `--protocol iso2`): TLS 1.2 on the simulated TCP
    /// with a throw-away test PKI, the car pays with a contract certificate (PaymentDetails,
    /// signed AuthorizationReq and MeteringReceiptReq) and the charger verifies it.
    #[arg(long)]
    pub(crate) pnc: bool,
}

/// Arguments of `ccsplc ev` and `ccsplc evse`.
#[derive(Args, Debug)]
pub(crate) struct RoleArgs {
    /// The configuration file (pyPlc.ini or TOML); defaults apply where it is silent.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) common: CommonArgs,
    /// Charger: serve one session, then exit (0 only if it completed). The car always exits
    /// after its session.
    #[arg(long)]
    pub(crate) once: bool,
}

/// Arguments of `ccsplc listen`.
#[derive(Args, Debug)]
pub(crate) struct ListenArgs {
    /// The configuration file (pyPlc.ini or TOML); defaults apply where it is silent.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// The network interface the modem is on (overrides `eth_interface` of the config).
    #[arg(long, short = 'i', value_name = "IF")]
    pub(crate) interface: Option<String>,
    /// Write everything seen to this capture file.
    #[arg(long, value_name = "FILE")]
    pub(crate) pcap: Option<PathBuf>,
}

/// The schema of an EXI message.
#[derive(Clone, Copy, Debug, Eq, PartialEq, ValueEnum)]
pub(crate) enum Schema {
    /// Pick the schema from the first bytes where that is unambiguous.
    Auto,
    /// SupportedAppProtocol (the app handshake).
    Apphand,
    /// DIN SPEC 70121.
    Din,
    /// ISO 15118-2:2013.
    Iso2,
    /// ISO 15118-20 CommonMessages.
    #[value(name = "iso20-common")]
    Iso20Common,
    /// ISO 15118-20 DC.
    #[value(name = "iso20-dc")]
    Iso20Dc,
    /// ISO 15118-20 AC.
    #[value(name = "iso20-ac")]
    Iso20Ac,
    /// ISO 15118-20 WPT.
    #[value(name = "iso20-wpt")]
    Iso20Wpt,
    /// ISO 15118-20 ACDP.
    #[value(name = "iso20-acdp")]
    Iso20Acdp,
}

/// `ccsplc exi ...`
#[derive(Debug, Subcommand)]
pub(crate) enum ExiCommand {
    /// EXI (hex) to JSON: one JSON object per message. With no HEX arguments, reads one hex
    /// message per line from stdin.
    Decode(ExiDecodeArgs),
    /// JSON to EXI (hex): reads one JSON object per line from stdin.
    Encode(ExiEncodeArgs),
}

/// Arguments of `ccsplc exi decode`.
#[derive(Args, Debug)]
pub(crate) struct ExiDecodeArgs {
    /// The schema of the messages.
    #[arg(long, short = 's', value_enum)]
    pub(crate) schema: Schema,
    /// Messages as hex strings; read from stdin, one per line, when none is given.
    #[arg(value_name = "HEX")]
    pub(crate) hex: Vec<String>,
}

/// Arguments of `ccsplc exi encode`.
#[derive(Args, Debug)]
pub(crate) struct ExiEncodeArgs {
    /// The schema of the messages.
    #[arg(long, short = 's', value_enum)]
    pub(crate) schema: Schema,
}

/// Arguments of `ccsplc decode`.
#[derive(Args, Debug)]
pub(crate) struct DecodeArgs {
    /// The capture to decode (pcap or pcapng).
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// One JSON object per line and event instead of readable text.
    #[arg(long)]
    pub(crate) json: bool,
    /// Write the time series of charging values to this CSV file.
    #[arg(long, value_name = "FILE")]
    pub(crate) values: Option<PathBuf>,
    /// Draw the charging values over time into this SVG file.
    #[arg(long, value_name = "FILE")]
    pub(crate) plot: Option<PathBuf>,
}

/// `ccsplc config ...`
#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Read a pyPlc.ini or TOML file and print every setting with its value and where it came
    /// from (file or default). Exits non-zero on a bad value.
    Check(ConfigCheckArgs),
    /// Write a commented default TOML configuration.
    Init(ConfigInitArgs),
}

/// Arguments of `ccsplc config check`.
#[derive(Args, Debug)]
pub(crate) struct ConfigCheckArgs {
    /// The file to check.
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
}

/// Arguments of `ccsplc config init`.
#[derive(Args, Debug)]
pub(crate) struct ConfigInitArgs {
    /// Where to write the file; stdout when not given.
    #[arg(value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
}

/// A state of charge in percent, 0 to 100.
fn parse_percent(text: &str) -> Result<f32, String> {
    let value: f32 = text
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if (0.0..=100.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{value} is not between 0 and 100"))
    }
}
