//! Configuration: pyPLC's `pyPlc.ini` as it is, or ccsplc's own TOML file.
//!
//! [`Config`] holds every setting, grouped in sections as in the TOML file (`[general]`,
//! `[slac]`, `[sdp]`, `[session]`, `[charging]`, `[hardware]`, `[mqtt]`, `[gpio]`, `[can]`,
//! `[can_inputs]`, `[can_outputs]`, `[serial]`, `[capture]`, `[log]`, `[web]`, `[tls]`,
//! `[iso2]`, `[iso20]`, `[soc_callback]`, `[listen]`). Each field's doc comment gives its
//! meaning, unit, default and pyPLC key; the same text is the table in
//! `docs/configuration.md` and the comments of `ccsplc config init`.
//!
//! [`Config::load`] reads either format into a [`Loaded`]: the configuration, where each
//! setting came from, and warnings (unknown keys and sections). A missing key takes its
//! default (pyPLC stopped instead); a bad value is a [`ConfigError`] naming file, line, key
//! and what is allowed.

mod bridge;
mod can_mapping;
mod charger_safety;
mod command;
mod error;
mod ini;
mod load;
mod render;
mod schema;
mod sections;
mod session_configs;
mod validate;
mod values;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub(crate) use bridge::{Iso2Car, Iso2Charger, Iso20Car, Iso20Charger};
pub(crate) use can_mapping::MappingSide;
pub(crate) use command::{check, init};
pub(crate) use error::{ConfigError, Warning};
pub(crate) use load::Ignored;
pub(crate) use sections::{
    Can, CanInputs, CanOutputs, Capture, Charging, General, Gpio, Hardware, Iso2, Iso20, Listen,
    Log, Mqtt, Sdp, Serial, Session, Slac, SocCallback, Tls, Web,
};
// The value types are named by the commands that read the configuration (ev, evse, sim,
// listen) once they are built.
#[allow(unused_imports, reason = "API for the commands that are not built yet")]
pub(crate) use values::{
    AnalogInputDevice, AttenuationSource, CanSignal, ChargeParameterBackend, ControlMode,
    DigitalOutputDevice, Duration, EvseEnvironment, Mode, PrechargeVoltageSource, Protocol,
    SlacProfile, SmartListener, TlsMode,
};

/// Every setting of ccsplc. `Config::default()` is what applies when no file is given.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
#[serde(default)]
#[non_exhaustive]
pub(crate) struct Config {
    /// Role, interface, process behaviour.
    pub(crate) general: General,
    /// SLAC timers and modem quirks.
    pub(crate) slac: Slac,
    /// SECC discovery.
    pub(crate) sdp: Sdp,
    /// V2G protocols, timeouts, identities, peer quirks.
    pub(crate) session: Session,
    /// Battery and charger parameters, simulations.
    pub(crate) charging: Charging,
    /// Hardware adapters.
    pub(crate) hardware: Hardware,
    /// MQTT broker and topics.
    pub(crate) mqtt: Mqtt,
    /// GPIO lines.
    pub(crate) gpio: Gpio,
    /// CAN interface.
    pub(crate) can: Can,
    /// User-defined CAN mapping: inputs.
    pub(crate) can_inputs: CanInputs,
    /// User-defined CAN mapping: outputs.
    pub(crate) can_outputs: CanOutputs,
    /// Serial port.
    pub(crate) serial: Serial,
    /// Captures.
    pub(crate) capture: Capture,
    /// Extra log output.
    pub(crate) log: Log,
    /// Dashboard.
    pub(crate) web: Web,
    /// TLS certificates.
    pub(crate) tls: Tls,
    /// ISO 15118-2: payment, AC/DC, Plug & Charge certificates.
    pub(crate) iso2: Iso2,
    /// ISO 15118-20: control mode, Plug & Charge certificates.
    pub(crate) iso20: Iso20,
    /// HTTP callback with the car's battery data.
    pub(crate) soc_callback: SocCallback,
    /// Listener.
    pub(crate) listen: Listen,
}

/// The two file formats.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum Format {
    /// pyPLC's `pyPlc.ini` (section `[general]`, pyPLC's key names).
    PyPlcIni,
    /// ccsplc's TOML file (sections as in [`Config`]).
    Toml,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PyPlcIni => "pyPLC ini",
            Self::Toml => "TOML",
        })
    }
}

/// Where a setting's value came from.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) enum Origin {
    /// Not in the file: the default.
    Default,
    /// A command-line option, which wins over the file.
    CommandLine {
        /// The option, e.g. `--interface`.
        option: &'static str,
    },
    /// Written in the file.
    File {
        /// 1-based line number.
        line: usize,
        /// The key as written (pyPLC's name in an ini file, `section.key` in TOML).
        key: String,
        /// The value as written.
        value: String,
    },
}

/// A loaded configuration with the provenance of every setting.
#[derive(Clone, Debug)]
pub(crate) struct Loaded {
    /// The settings.
    pub(crate) config: Config,
    /// The file, or `None` when no file was given.
    pub(crate) path: Option<PathBuf>,
    /// The file's format.
    pub(crate) format: Option<Format>,
    /// Settings written in the file, by `(section, key)`; all others are defaults.
    pub(crate) origins: BTreeMap<(&'static str, &'static str), Origin>,
    /// Unknown keys and sections, and pyPLC values with a surprising meaning.
    pub(crate) warnings: Vec<Warning>,
    /// pyPLC keys that ccsplc understands and does not use.
    pub(crate) ignored: Vec<Ignored>,
}

impl Config {
    /// Loads `path` (pyPLC ini or TOML, see [`Format`]); `None` gives the defaults.
    ///
    /// Warnings are collected in [`Loaded::warnings`], not logged: call
    /// [`Loaded::log_warnings`] (commands) or print them (`config check`).
    pub(crate) fn load(path: Option<&Path>) -> Result<Loaded, ConfigError> {
        let Some(path) = path else {
            return Ok(Loaded::defaults());
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        // A UTF-8 byte order mark, as Windows editors write it, is not part of the first key.
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let format = load::detect_format(path, text);
        let parsed = match format {
            Format::PyPlcIni => ini::read(path, text)?,
            Format::Toml => load::read_toml(path, text)?,
        };
        let loaded = load::build(path, format, parsed)?;
        tracing::debug!(
            "configuration {} ({format}): {} settings from the file, {} warnings",
            path.display(),
            loaded.origins.len(),
            loaded.warnings.len()
        );
        Ok(loaded)
    }
}

impl Loaded {
    /// All defaults, no file.
    pub(crate) fn defaults() -> Self {
        Self {
            config: Config::default(),
            path: None,
            format: None,
            origins: BTreeMap::new(),
            warnings: Vec::new(),
            ignored: Vec::new(),
        }
    }

    /// Where the setting `section.key` (TOML names) came from.
    pub(crate) fn origin(&self, section: &str, key: &str) -> &Origin {
        self.origins
            .iter()
            .find(|((s, k), _)| *s == section && *k == key)
            .map_or(&Origin::Default, |(_, origin)| origin)
    }

    /// The value of `section.key` in TOML syntax; `None` when it is unset.
    pub(crate) fn value(&self, section: &str, key: &str) -> Option<String> {
        render::value_of(&self.config, section, key)
    }

    /// Puts the options shared by `ev`, `evse` and `sim` over the file's settings
    /// (`--interface`, `--protocol`, `--no-slac`, `--no-modem`, `--charge-seconds`,
    /// `--web`, `--web-token`), and records them as their origin. `--pcap` is the command's own
    /// business.
    #[allow(
        dead_code,
        reason = "API for ev, evse and sim, which are not built yet"
    )]
    pub(crate) fn apply_command_line(&mut self, args: &crate::cli::CommonArgs) {
        let c = &mut self.config;
        let mut set = Vec::new();
        if let Some(interface) = &args.interface {
            c.general.interface.clone_from(interface);
            set.push(("general", "interface", "--interface"));
        }
        if !args.protocols.is_empty() {
            c.session.protocols = args.protocols.iter().map(|&p| p.into()).collect();
            set.push(("session", "protocols", "--protocol"));
        }
        if args.no_slac {
            c.general.no_slac = true;
            set.push(("general", "no_slac", "--no-slac"));
        }
        if args.no_modem {
            c.general.no_modem = true;
            set.push(("general", "no_modem", "--no-modem"));
        }
        if let Some(seconds) = args.charge_seconds {
            c.charging.charge_duration = Some(Duration::from_secs(seconds));
            set.push(("charging", "charge_duration", "--charge-seconds"));
        }
        if let Some(address) = &args.web {
            c.web.address = Some(address.clone());
            set.push(("web", "address", "--web"));
        }
        if let Some(token) = &args.web_token {
            c.web.token = Some(token.clone());
            set.push(("web", "token", "--web-token"));
        }
        for (section, key, option) in set {
            self.origins
                .insert((section, key), Origin::CommandLine { option });
        }
    }

    /// Logs every warning with `tracing::warn!`.
    #[allow(
        dead_code,
        reason = "API for ev, evse, sim and listen, which are not built yet"
    )]
    pub(crate) fn log_warnings(&self) {
        for warning in &self.warnings {
            tracing::warn!("{warning}");
        }
    }
}

#[cfg(test)]
mod tests;
