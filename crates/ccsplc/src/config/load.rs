//! From a file to a [`Loaded`] configuration: both formats become a list of entries
//! (setting, TOML value, where it was written), each entry is checked on its own so that an
//! error names its line and key, then all of them together, then the rules between settings.

use std::collections::BTreeMap;
use std::path::Path;

use toml::Value;

use super::error::{ConfigError, Warning, line_of};
use super::ini::IGNORED_KEYS;
use super::schema::{Section, Setting};
use super::sections::{
    Can, CanInputs, CanOutputs, Capture, Charging, General, Gpio, Hardware, Iso2, Iso20, Listen,
    Log, Mqtt, Sdp, Serial, Session, Slac, SocCallback, Tls, Web,
};
use super::{Config, Format, Loaded, Origin};

/// Every section, in the order of [`Config`]'s fields.
pub(crate) const SECTIONS: &[&Section] = &[
    &General::SECTION,
    &Slac::SECTION,
    &Sdp::SECTION,
    &Session::SECTION,
    &Charging::SECTION,
    &Hardware::SECTION,
    &Mqtt::SECTION,
    &Gpio::SECTION,
    &Can::SECTION,
    &CanInputs::SECTION,
    &CanOutputs::SECTION,
    &Serial::SECTION,
    &Capture::SECTION,
    &Log::SECTION,
    &Web::SECTION,
    &Tls::SECTION,
    &Iso2::SECTION,
    &Iso20::SECTION,
    &SocCallback::SECTION,
    &Listen::SECTION,
];

/// One setting written in the file.
#[derive(Debug)]
pub(super) struct Entry {
    pub(super) section: &'static Section,
    pub(super) setting: &'static Setting,
    /// The value as TOML (an ini value converted).
    pub(super) value: Value,
    /// The key as written: pyPLC's name in an ini file, `section.key` in TOML.
    pub(super) key: String,
    /// The value as written.
    pub(super) written: String,
    pub(super) line: usize,
}

/// A pyPLC key that ccsplc understands and deliberately does not use.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) struct Ignored {
    /// The key as written.
    pub(crate) key: String,
    /// 1-based line number.
    pub(crate) line: usize,
    /// Why ccsplc does not use it.
    pub(crate) why: &'static str,
}

/// What a reader found in a file.
#[derive(Debug, Default)]
pub(super) struct Parsed {
    pub(super) entries: Vec<Entry>,
    pub(super) warnings: Vec<Warning>,
    pub(super) ignored: Vec<Ignored>,
}

/// Guesses the format: by extension (`.ini`, `.cfg`, `.toml`), else by content (a
/// `[general]` section with a key that only pyPLC uses, or text that is not TOML but has a
/// `[general]` section, is pyPLC's).
pub(super) fn detect_format(path: &Path, text: &str) -> Format {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("ini" | "cfg") => return Format::PyPlcIni,
        Some("toml") => return Format::Toml,
        _ => {}
    }
    let has_general = text.lines().any(|l| l.trim() == "[general]");
    let has_pyplc_key = text.lines().any(|line| {
        let key = line.split(['=', ':']).next().unwrap_or("").trim();
        is_pyplc_only_key(&key.to_lowercase())
    });
    if has_general && (has_pyplc_key || text.parse::<toml::Table>().is_err()) {
        Format::PyPlcIni
    } else {
        Format::Toml
    }
}

/// A pyPLC ini key that is not also the name of a TOML key in `[general]`.
fn is_pyplc_only_key(key: &str) -> bool {
    let is_ini_key = IGNORED_KEYS.iter().any(|(k, _)| *k == key)
        || SECTIONS
            .iter()
            .flat_map(|s| s.settings)
            .any(|s| s.ini.as_ref().is_some_and(|ini| ini.key == key));
    is_ini_key && General::SECTION.settings.iter().all(|s| s.key != key)
}

/// Reads a TOML file: known keys become entries, anything else a warning.
pub(super) fn read_toml(path: &Path, text: &str) -> Result<Parsed, ConfigError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Syntax {
        path: path.to_owned(),
        line: e.span().map_or(1, |span| line_of(text, span.start)),
        message: e.message().to_owned(),
    })?;
    let lines = key_lines(text);
    let line = |section: &str, key: Option<&str>| {
        lines
            .get(&(section.to_owned(), key.map(str::to_owned)))
            .copied()
            .unwrap_or(1)
    };
    let mut parsed = Parsed::default();
    for (name, value) in &table {
        let Some(section) = SECTIONS.iter().copied().find(|s| s.name == name) else {
            parsed.warnings.push(Warning {
                path: path.to_owned(),
                line: Some(line(name, None)),
                message: format!(
                    "unknown {}: ignored{}",
                    what(name, value),
                    suggest(name, None)
                ),
            });
            continue;
        };
        let Value::Table(keys) = value else {
            return Err(ConfigError::InvalidValue {
                path: path.to_owned(),
                line: Some(line(name, None)),
                key: name.clone(),
                value: value.to_string(),
                allowed: format!("expected a table: [{name}]"),
            });
        };
        for (key, value) in keys {
            let at = line(name, Some(key));
            let Some(setting) = section.settings.iter().find(|s| s.key == key) else {
                parsed.warnings.push(Warning {
                    path: path.to_owned(),
                    line: Some(at),
                    message: format!(
                        "unknown key `{key}` in [{name}]: ignored{}",
                        suggest(key, Some(section))
                    ),
                });
                continue;
            };
            parsed.entries.push(Entry {
                section,
                setting,
                value: value.clone(),
                key: format!("{name}.{key}"),
                written: value.to_string(),
                line: at,
            });
        }
    }
    Ok(parsed)
}

/// "section [x]" or "key `x`", for a top-level item.
fn what(name: &str, value: &Value) -> String {
    if value.is_table() {
        format!("section [{name}]")
    } else {
        format!("key `{name}` outside any section")
    }
}

/// The line of every top-level item `(name, None)` and of every key in a table
/// `(name, Some(key))`.
fn key_lines(text: &str) -> BTreeMap<(String, Option<String>), usize> {
    let mut lines = BTreeMap::new();
    let Ok(document) = toml::de::DeTable::parse(text) else {
        return lines;
    };
    for (name, value) in document.get_ref() {
        let name_text = name.get_ref().to_string();
        lines.insert((name_text.clone(), None), line_of(text, name.span().start));
        if let Some(table) = value.get_ref().as_table() {
            for key in table.keys() {
                lines.insert(
                    (name_text.clone(), Some(key.get_ref().to_string())),
                    line_of(text, key.span().start),
                );
            }
        }
    }
    lines
}

/// A hint for an unknown key or section name: the same name in another case, in another
/// section, or pyPLC's name of a setting.
fn suggest(name: &str, section: Option<&Section>) -> String {
    let lower = name.to_lowercase();
    let Some(section) = section else {
        if let Some(s) = SECTIONS.iter().find(|s| s.name.to_lowercase() == lower) {
            return format!(" (did you mean [{}]?)", s.name);
        }
        if let Some((s, k)) = find_key(|_, setting| setting.key.to_lowercase() == lower) {
            return format!(" (it belongs in [{}] as `{}`)", s.name, k.key);
        }
        return String::new();
    };
    if let Some(k) = section
        .settings
        .iter()
        .find(|s| s.key.to_lowercase() == lower)
    {
        return format!(" (did you mean `{}`?)", k.key);
    }
    if let Some((s, k)) =
        find_key(|_, setting| setting.ini.as_ref().is_some_and(|ini| ini.key == lower))
    {
        return format!(
            " (`{name}` is pyPLC's name; in TOML it is `{}` in [{}])",
            k.key, s.name
        );
    }
    if let Some((s, k)) = find_key(|s, setting| s.name != section.name && setting.key == name) {
        return format!(" (it belongs in [{}] as `{}`)", s.name, k.key);
    }
    String::new()
}

fn find_key(
    matches: impl Fn(&Section, &Setting) -> bool,
) -> Option<(&'static Section, &'static Setting)> {
    SECTIONS.iter().find_map(|section| {
        section
            .settings
            .iter()
            .find(|setting| matches(section, setting))
            .map(|setting| (*section, setting))
    })
}

/// A TOML document holding `entries`.
fn document<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> toml::Table {
    let mut document = toml::Table::new();
    for entry in entries {
        if let Value::Table(section) = document
            .entry(entry.section.name)
            .or_insert_with(|| Value::Table(toml::Table::new()))
        {
            section.insert(entry.setting.key.to_owned(), entry.value.clone());
        }
    }
    document
}

/// The message of a serde error, without the key path that the entry names anyway, and
/// with Rust's integer type names spelled out as ranges.
fn allowed(error: &toml::de::Error) -> String {
    let message = error.message().trim();
    let mut message = message
        .split_once("\nin `")
        .map_or(message, |(m, _)| m)
        .trim()
        .to_owned();
    for (name, range) in [
        ("u8", "a whole number from 0 to 255"),
        ("u16", "a whole number from 0 to 65535"),
        ("u32", "a whole number from 0 to 4294967295"),
        ("u64", "a whole number from 0 to 18446744073709551615"),
    ] {
        if let Some(stripped) = message.strip_suffix(&format!("expected {name}")) {
            message = format!("{stripped}expected {range}");
        }
    }
    message
}

/// Turns what a reader found into a checked configuration.
pub(super) fn build(path: &Path, format: Format, parsed: Parsed) -> Result<Loaded, ConfigError> {
    for entry in &parsed.entries {
        if let Err(e) = document([entry]).try_into::<Config>() {
            return Err(ConfigError::InvalidValue {
                path: path.to_owned(),
                line: Some(entry.line),
                key: entry.key.clone(),
                value: entry.written.clone(),
                allowed: allowed(&e),
            });
        }
    }
    // Every entry deserializes on its own and entries never overlap, so this cannot fail;
    // if it did, the first entry is blamed rather than panicking.
    let config = document(&parsed.entries)
        .try_into::<Config>()
        .map_err(|e| ConfigError::InvalidValue {
            path: path.to_owned(),
            line: parsed.entries.first().map(|e| e.line),
            key: parsed
                .entries
                .first()
                .map_or_else(String::new, |e| e.key.clone()),
            value: parsed
                .entries
                .first()
                .map_or_else(String::new, |e| e.written.clone()),
            allowed: allowed(&e),
        })?;
    let origins = parsed
        .entries
        .into_iter()
        .map(|e| {
            (
                (e.section.name, e.setting.key),
                Origin::File {
                    line: e.line,
                    key: e.key,
                    value: e.written,
                },
            )
        })
        .collect();
    let loaded = Loaded {
        config,
        path: Some(path.to_owned()),
        format: Some(format),
        origins,
        warnings: parsed.warnings,
        ignored: parsed.ignored,
    };
    super::validate::validate(&loaded)?;
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_the_fields_of_config() {
        let Value::Table(document) = Value::try_from(Config::default()).unwrap() else {
            panic!("Config is not a table");
        };
        let names: Vec<&str> = SECTIONS.iter().map(|s| s.name).collect();
        let fields: Vec<&str> = document.keys().map(String::as_str).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        let mut fields_sorted = fields.clone();
        fields_sorted.sort_unstable();
        assert_eq!(sorted, fields_sorted);
    }

    #[test]
    fn every_serialized_key_is_in_the_table_and_the_reverse() {
        let Value::Table(document) = Value::try_from(Config::default()).unwrap() else {
            panic!("Config is not a table");
        };
        for section in SECTIONS {
            let Some(Value::Table(keys)) = document.get(section.name) else {
                panic!("no section {}", section.name);
            };
            for key in keys.keys() {
                assert!(
                    section.settings.iter().any(|s| s.key == key),
                    "{}.{key} is not in the table",
                    section.name
                );
            }
            for setting in section.settings {
                // Unset options are not serialized; they must have an example instead.
                assert!(
                    keys.contains_key(setting.key) || setting.example.is_some(),
                    "{}.{} has neither a default value nor an example",
                    section.name,
                    setting.key
                );
            }
        }
    }

    #[test]
    fn ini_keys_are_unique_and_lower_case() {
        let mut keys: Vec<&str> = SECTIONS
            .iter()
            .flat_map(|s| s.settings)
            .filter_map(|s| s.ini.as_ref().map(|i| i.key))
            .chain(IGNORED_KEYS.iter().map(|(k, _)| *k))
            .collect();
        assert!(keys.iter().all(|k| *k == k.to_lowercase()));
        let count = keys.len();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), count, "an ini key is mapped twice");
    }

    #[test]
    fn format_is_guessed_from_extension_then_content() {
        let ini = "[general]\neth_interface = eth1\n";
        let toml = "[general]\ninterface = \"eth1\"\n";
        assert_eq!(detect_format(Path::new("a.ini"), toml), Format::PyPlcIni);
        assert_eq!(detect_format(Path::new("a.toml"), ini), Format::Toml);
        assert_eq!(
            detect_format(Path::new("a.template"), ini),
            Format::PyPlcIni
        );
        assert_eq!(detect_format(Path::new("a.conf"), toml), Format::Toml);
        assert_eq!(
            detect_format(Path::new("a"), "[general]\nmode = PevMode\n"),
            Format::PyPlcIni
        );
        assert_eq!(
            detect_format(Path::new("a"), "[mqtt]\nport = 1\n"),
            Format::Toml
        );
    }
}
