//! Texts made from the table of settings: the `config check` report, the `config init`
//! file, and the settings reference in `docs/configuration.md`.

use std::fmt::Write as _;

use toml::Value;

#[cfg(test)]
use super::ini::IGNORED_KEYS;
use super::load::SECTIONS;
#[cfg(test)]
use super::schema::one_line;
use super::{Config, Loaded, Origin};

/// The configuration as a TOML document (unset options are absent).
fn document(config: &Config) -> toml::Table {
    match Value::try_from(config) {
        Ok(Value::Table(table)) => table,
        // Every field serializes (strings, numbers, booleans, arrays of names); a failure
        // would be a bug in a value type, shown as "unset" rather than a crash.
        _ => toml::Table::new(),
    }
}

/// The value of `section.key` in TOML syntax; `None` when it is unset.
pub(super) fn value_of(config: &Config, section: &str, key: &str) -> Option<String> {
    document(config)
        .get(section)
        .and_then(|s| s.get(key))
        .map(ToString::to_string)
}

/// The doc comment as `# ` comment lines.
fn comment(doc: &str, out: &mut String) {
    for line in doc.lines() {
        let line = line.strip_prefix(' ').unwrap_or(line);
        if line.is_empty() {
            out.push_str("#\n");
        } else {
            let _ = writeln!(out, "# {line}");
        }
    }
}

/// What `config check` prints: every setting with its value and origin, the pyPLC keys that
/// are not used, and the warnings.
pub(super) fn check_report(loaded: &Loaded) -> String {
    let mut out = String::new();
    match (&loaded.path, loaded.format) {
        (Some(path), Some(format)) => {
            let _ = writeln!(out, "# {} ({format})", path.display());
        }
        _ => out.push_str("# no file: all defaults\n"),
    }
    let _ = writeln!(
        out,
        "# {} settings from the file, the others are defaults",
        loaded.origins.len()
    );
    let document = document(&loaded.config);
    for section in SECTIONS {
        let _ = writeln!(out, "\n[{}]", section.name);
        let values = document.get(section.name);
        for setting in section.settings {
            let value = values
                .and_then(|v| v.get(setting.key))
                .map_or_else(|| "(unset)".to_owned(), ToString::to_string);
            let origin = match loaded.origin(section.name, setting.key) {
                Origin::Default => "default".to_owned(),
                Origin::File { line, key, value } => format!("line {line}: {key} = {value}"),
                Origin::CommandLine { option } => format!("command line {option}"),
            };
            let assignment = format!("{} = {value}", setting.key);
            let _ = writeln!(out, "{assignment:<48} # {origin}");
        }
    }
    if !loaded.ignored.is_empty() {
        out.push_str("\n# pyPLC keys that ccsplc reads but does not use:\n");
        for ignored in &loaded.ignored {
            let _ = writeln!(
                out,
                "#   line {}: {}: {}",
                ignored.line, ignored.key, ignored.why
            );
        }
    }
    if loaded.warnings.is_empty() {
        out.push_str("\n# no warnings\n");
    } else {
        let _ = writeln!(out, "\n# {} warnings:", loaded.warnings.len());
        for warning in &loaded.warnings {
            let _ = writeln!(out, "warning: {warning}");
        }
    }
    out
}

/// The commented default TOML file of `config init`. It loads back to `Config::default()`.
pub(super) fn init_template() -> String {
    let mut out = String::from(
        "# ccsplc configuration, written by `ccsplc config init`.\n\
         #\n\
         # Every setting is shown with its default value; settings that are unset by default\n\
         # are commented out with an example. Delete what you do not change: a missing key\n\
         # takes its default. ccsplc also reads pyPLC's pyPlc.ini as it is; the pyPLC name of a\n\
         # setting is given where there is one. Durations are milliseconds (400) or a number\n\
         # with a unit (\"400ms\", \"1.5s\", \"2min\"). Reference: docs/configuration.md.\n",
    );
    let document = document(&Config::default());
    for section in SECTIONS {
        out.push('\n');
        comment(section.doc, &mut out);
        let _ = writeln!(out, "[{}]", section.name);
        let values = document.get(section.name);
        for setting in section.settings {
            out.push('\n');
            comment(setting.doc, &mut out);
            match (values.and_then(|v| v.get(setting.key)), setting.example) {
                (Some(value), _) => {
                    let _ = writeln!(out, "{} = {value}", setting.key);
                }
                (None, Some(example)) => {
                    let _ = writeln!(out, "# {} = {example}", setting.key);
                }
                (None, None) => {
                    let _ = writeln!(out, "# {} =", setting.key);
                }
            }
        }
    }
    out
}

#[cfg(test)]
/// Marks the start of the generated part of `docs/configuration.md`.
pub(super) const DOC_BEGIN: &str =
    "<!-- BEGIN GENERATED by `CCSPLC_BLESS=1 cargo test -p ccsplc config::`; do not edit -->";
#[cfg(test)]
/// Marks its end.
pub(super) const DOC_END: &str = "<!-- END GENERATED -->";

#[cfg(test)]
/// The settings reference in Markdown, between [`DOC_BEGIN`] and [`DOC_END`].
pub(super) fn markdown_reference() -> String {
    let cell = |text: &str| text.replace('|', "\\|");
    let mut out = format!("{DOC_BEGIN}\n");
    let document = document(&Config::default());
    for section in SECTIONS {
        let _ = writeln!(
            out,
            "\n### `[{}]`\n\n{}\n",
            section.name,
            one_line(section.doc)
        );
        out.push_str("| TOML key | pyPLC key | default | meaning |\n|---|---|---|---|\n");
        let values = document.get(section.name);
        for setting in section.settings {
            let default = values.and_then(|v| v.get(setting.key)).map_or_else(
                || "unset".to_owned(),
                |v| format!("`{}`", cell(&v.to_string())),
            );
            let ini = setting
                .ini
                .as_ref()
                .map_or_else(|| "—".to_owned(), |ini| format!("`{}`", ini.key));
            let _ = writeln!(
                out,
                "| `{}` | {ini} | {default} | {} |",
                setting.key,
                cell(&setting.summary())
            );
        }
    }
    out.push_str("\n### pyPLC keys that ccsplc reads but does not use\n\n");
    out.push_str("| pyPLC key | why |\n|---|---|\n");
    for (key, why) in IGNORED_KEYS {
        let _ = writeln!(out, "| `{key}` | {} |", cell(why));
    }
    out.push_str(DOC_END);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn the_init_template_loads_back_to_the_defaults() {
        let config: Config = toml::from_str(&init_template()).unwrap();
        assert_eq!(config, Config::default());
    }

    #[test]
    fn uncommenting_every_example_gives_a_valid_file() {
        let uncommented: String = init_template()
            .lines()
            .map(|line| {
                let setting = line.strip_prefix("# ").filter(|rest| {
                    rest.split_once(" = ").is_some_and(|(key, _)| {
                        SECTIONS
                            .iter()
                            .flat_map(|s| s.settings)
                            .any(|s| s.key == key)
                    })
                });
                format!("{}\n", setting.unwrap_or(line))
            })
            .collect();
        let config: Config = toml::from_str(&uncommented).unwrap();
        assert_eq!(config.general.rng_seed, Some(42));
        assert!(config.slac.tt_match_sequence.is_some());
    }

    #[test]
    fn every_setting_is_documented_with_its_default_and_pyplc_key() {
        for section in SECTIONS {
            assert!(
                !section.doc.trim().is_empty(),
                "[{}] has no doc",
                section.name
            );
            for setting in section.settings {
                let name = format!("{}.{}", section.name, setting.key);
                assert!(
                    setting.doc.contains("Default"),
                    "{name}: the doc comment does not state the default"
                );
                if let Some(ini) = &setting.ini {
                    assert!(
                        setting.doc.contains(&format!("pyPLC: `{}`", ini.key)),
                        "{name}: the doc comment does not name pyPLC's key `{}`",
                        ini.key
                    );
                }
            }
        }
    }

    /// `docs/configuration.md` holds [`markdown_reference`] verbatim. With `CCSPLC_BLESS=1`
    /// the test rewrites the file instead of failing.
    #[test]
    fn the_settings_reference_in_the_docs_is_current() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
        let mut text = std::fs::read_to_string(&path).unwrap();
        let (Some(begin), Some(end)) = (text.find(DOC_BEGIN), text.find(DOC_END)) else {
            panic!("{} lacks the generated-section markers", path.display());
        };
        let end = end + DOC_END.len() + 1;
        let wanted = markdown_reference();
        if text.get(begin..end) != Some(wanted.as_str()) {
            assert!(
                std::env::var_os("CCSPLC_BLESS").is_some(),
                "docs/configuration.md is stale: run `CCSPLC_BLESS=1 cargo test -p ccsplc \
                 config::` and commit the file"
            );
            text = format!(
                "{}{wanted}{}",
                &text[..begin],
                text.get(end..).unwrap_or("")
            );
            std::fs::write(&path, &text).unwrap();
        }
        for section in SECTIONS {
            for setting in section.settings {
                assert!(text.contains(&format!("| `{}` |", setting.key)));
            }
        }
    }
}
