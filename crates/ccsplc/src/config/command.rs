//! `ccsplc config check` and `ccsplc config init`.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

use super::Config;
use super::render::{check_report, init_template};
use super::values::Mode;

/// Prints every setting of `file` with its value and origin, then the warnings; for a
/// charger (`mode = evse`) also what `ccsplc evse` would refuse or warn about at start. A bad
/// value or an unreadable file is an error (exit code 1, from `main`).
pub(crate) fn check(file: &Path) -> anyhow::Result<ExitCode> {
    let loaded = Config::load(Some(file))?;
    print!("{}", check_report(&loaded));
    if loaded.config.general.mode == Mode::Evse {
        for warning in loaded.check_charger()? {
            println!("# charger: {warning}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the commented default TOML file to `file`, or to stdout. An existing file is not
/// overwritten.
pub(crate) fn init(file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let text = init_template();
    match file {
        None => print!("{text}"),
        Some(path) => {
            let mut out = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .with_context(|| {
                    format!(
                        "cannot create {} (an existing file is not overwritten)",
                        path.display()
                    )
                })?;
            out.write_all(text.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
