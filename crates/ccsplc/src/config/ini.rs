//! pyPLC's `pyPlc.ini`, read as Python's configparser reads it.
//!
//! configparser rules kept here: sections `[name]` (case-sensitive; `[DEFAULT]` supplies
//! values to every section); `key = value` or `key: value`, split at the first `=` or `:`;
//! keys are lower-cased; values are trimmed; a line whose first non-blank character is `#` or
//! `;` is a comment, while a `#` later in a line is part of the value; a more indented line
//! continues the value before it; a key before any section, a line without `=`, a repeated
//! section and a repeated key are errors. `%` interpolation is not done (pyPLC's template
//! has no `%`).

use std::path::Path;

use super::error::{ConfigError, Warning};
use super::load::{Entry, Ignored, Parsed, SECTIONS};
use super::schema::{IniKey, Section, Setting, ini_bool, ini_mode_is_known};

/// The one section pyPLC reads.
const GENERAL: &str = "general";
/// configparser's section whose keys apply to every section.
const DEFAULT: &str = "DEFAULT";

/// pyPLC keys that ccsplc understands but does not use, with the reason.
pub(crate) const IGNORED_KEYS: &[(&str, &str)] = &[
    (
        "eth_windows_interface_name",
        "the Npcap device name on Windows; ccsplc runs on Linux and uses `eth_interface`",
    ),
    (
        "is_simulation_without_modems",
        "pyPLC documents it but never reads it; ccsplc does not either (use `--no-modem` or \
         `general.no_modem`)",
    ),
];

/// One `key = value` line.
#[derive(Debug)]
struct IniOption {
    /// Lower-cased, as configparser's `optionxform` does.
    key: String,
    /// As written.
    written: String,
    value: String,
    line: usize,
}

/// One `[section]` with its keys.
#[derive(Debug)]
struct IniSection {
    name: String,
    line: usize,
    options: Vec<IniOption>,
}

/// Splits `text` into sections and keys, with configparser's rules.
fn parse(path: &Path, text: &str) -> Result<Vec<IniSection>, ConfigError> {
    let syntax = |line, message: String| ConfigError::Syntax {
        path: path.to_owned(),
        line,
        message,
    };
    let mut sections: Vec<IniSection> = Vec::new();
    // Indentation of the last section or key line: a deeper line continues the value.
    let mut indent_level = 0;
    let mut in_value = false;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let indent = raw.len() - raw.trim_start().len();
        if in_value && indent > indent_level {
            if let Some(option) = sections.last_mut().and_then(|s| s.options.last_mut()) {
                option.value.push('\n');
                option.value.push_str(trimmed);
            }
            continue;
        }
        indent_level = indent;
        if let Some(header) = trimmed.strip_prefix('[')
            && let Some(end) = header.rfind(']')
            && end > 0
        {
            let name = &header[..end];
            if let Some(first) = sections.iter().find(|s| s.name == name) {
                return Err(syntax(
                    line,
                    format!("section [{name}] again (first on line {})", first.line),
                ));
            }
            sections.push(IniSection {
                name: name.to_owned(),
                line,
                options: Vec::new(),
            });
            in_value = false;
            continue;
        }
        let Some(section) = sections.last_mut() else {
            return Err(syntax(
                line,
                "a key before the first section header; pyPLC's file starts with [general]"
                    .to_owned(),
            ));
        };
        let Some(split) = trimmed.find(['=', ':']) else {
            return Err(syntax(
                line,
                format!("expected `key = value`, found `{trimmed}`"),
            ));
        };
        let written = trimmed[..split].trim_end();
        if written.is_empty() {
            return Err(syntax(line, "a value without a key".to_owned()));
        }
        let key = written.to_lowercase();
        if let Some(first) = section.options.iter().find(|o| o.key == key) {
            return Err(syntax(
                line,
                format!(
                    "key `{written}` again in [{}] (first on line {})",
                    section.name, first.line
                ),
            ));
        }
        section.options.push(IniOption {
            key,
            written: written.to_owned(),
            value: trimmed[split + 1..].trim().to_owned(),
            line,
        });
        in_value = true;
    }
    // configparser strips the end of values that were continued over blank lines.
    for option in sections.iter_mut().flat_map(|s| &mut s.options) {
        option.value.truncate(option.value.trim_end().len());
    }
    Ok(sections)
}

/// The setting that a pyPLC key sets.
fn setting_of(ini_key: &str) -> Option<(&'static Section, &'static Setting, &'static IniKey)> {
    SECTIONS.iter().find_map(|section| {
        section.settings.iter().find_map(|setting| {
            setting
                .ini
                .as_ref()
                .filter(|ini| ini.key == ini_key)
                .map(|ini| (*section, setting, ini))
        })
    })
}

/// Reads a pyPlc.ini: the keys of `[general]` (and `[DEFAULT]`) become entries; other
/// sections and unknown keys become warnings.
pub(super) fn read(path: &Path, text: &str) -> Result<Parsed, ConfigError> {
    let sections = parse(path, text)?;
    let mut parsed = Parsed::default();
    let warn = |line, message| Warning {
        path: path.to_owned(),
        line: Some(line),
        message,
    };
    let general = sections.iter().find(|s| s.name == GENERAL);
    let defaults = sections.iter().find(|s| s.name == DEFAULT);
    if general.is_none() {
        parsed.warnings.push(Warning {
            path: path.to_owned(),
            line: None,
            message: format!(
                "no [{GENERAL}] section (the one pyPLC reads): every setting takes its default"
            ),
        });
    }
    for section in &sections {
        if section.name != GENERAL && section.name != DEFAULT {
            let hint = if section.name.eq_ignore_ascii_case(GENERAL) {
                " (section names are case-sensitive)"
            } else {
                ""
            };
            parsed.warnings.push(warn(
                section.line,
                format!(
                    "section [{}] ignored: pyPLC reads only [{GENERAL}]{hint}",
                    section.name
                ),
            ));
        }
    }
    // configparser: a [general] key wins over the same [DEFAULT] key.
    let options = general.into_iter().flat_map(|s| &s.options).chain(
        defaults
            .into_iter()
            .flat_map(|s| &s.options)
            .filter(|d| general.is_none_or(|g| g.options.iter().all(|o| o.key != d.key))),
    );
    for option in options {
        if let Some((_, why)) = IGNORED_KEYS.iter().find(|(key, _)| *key == option.key) {
            parsed.ignored.push(Ignored {
                key: option.written.clone(),
                line: option.line,
                why,
            });
            if option.key == "is_simulation_without_modems" && ini_bool(&option.value) != Ok(false)
            {
                parsed.warnings.push(warn(
                    option.line,
                    format!(
                        "`is_simulation_without_modems = {}` has no effect (pyPLC never read it \
                         either); use --no-modem",
                        option.value
                    ),
                ));
            }
            continue;
        }
        let Some((section, setting, ini)) = setting_of(&option.key) else {
            parsed.warnings.push(warn(
                option.line,
                format!("unknown key `{}` in [{GENERAL}]: ignored", option.written),
            ));
            continue;
        };
        let value = (ini.convert)(&option.value).map_err(|allowed| ConfigError::InvalidValue {
            path: path.to_owned(),
            line: Some(option.line),
            key: option.written.clone(),
            value: option.value.clone(),
            allowed,
        })?;
        let quoted = ['"', '\''].iter().any(|&q| {
            option.value.len() >= 2 && option.value.starts_with(q) && option.value.ends_with(q)
        });
        if quoted {
            parsed.warnings.push(warn(
                option.line,
                format!(
                    "the quotes around `{}` are part of the value in an ini file (as in pyPLC)",
                    option.value
                ),
            ));
        }
        if option.key == "mode" && !ini_mode_is_known(&option.value) {
            parsed.warnings.push(warn(
                option.line,
                format!(
                    "`mode = {}` is neither PevMode nor EvseMode: listen mode, as in pyPLC",
                    option.value
                ),
            ));
        }
        parsed.entries.push(Entry {
            section,
            setting,
            value,
            key: option.written.clone(),
            written: option.value.clone(),
            line: option.line,
        });
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sections(text: &str) -> Vec<IniSection> {
        parse(Path::new("t.ini"), text).unwrap()
    }

    fn syntax_error(text: &str) -> (usize, String) {
        match parse(Path::new("t.ini"), text) {
            Err(ConfigError::Syntax { line, message, .. }) => (line, message),
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn keys_are_lower_cased_and_split_at_the_first_delimiter() {
        let s = sections("[general]\nMQTT_Broker = a=b:c\nlogging_url: http://x/y\n");
        let o = &s[0].options;
        assert_eq!(
            (o[0].key.as_str(), o[0].value.as_str()),
            ("mqtt_broker", "a=b:c")
        );
        assert_eq!(o[0].written, "MQTT_Broker");
        assert_eq!(
            (o[1].key.as_str(), o[1].value.as_str()),
            ("logging_url", "http://x/y")
        );
        assert_eq!(o[1].line, 3);
    }

    #[test]
    fn only_whole_line_comments_are_comments() {
        let s = sections("# c\n[general]\n  ; c\nmqtt_topic = a # not a comment\n");
        assert_eq!(s[0].options[0].value, "a # not a comment");
        assert_eq!(s[0].options.len(), 1);
    }

    #[test]
    fn indented_lines_continue_a_value() {
        let s = sections("[general]\nmqtt_topic = a\n  b\n\nserial_baud = 1\n");
        assert_eq!(s[0].options[0].value, "a\nb");
        assert_eq!(s[0].options[1].value, "1");
    }

    #[test]
    fn configparser_errors_name_their_line() {
        assert_eq!(syntax_error("mode = PevMode\n").0, 1);
        let (line, message) = syntax_error("[general]\nmode PevMode\n");
        assert_eq!(line, 2);
        assert!(message.contains("key = value"), "{message}");
        let (line, message) = syntax_error("[general]\nmode = a\nMODE = b\n");
        assert_eq!(line, 3);
        assert!(message.contains("first on line 2"), "{message}");
        assert_eq!(syntax_error("[general]\n[x]\n[general]\n").0, 3);
        assert_eq!(syntax_error("[general]\n= 1\n").0, 2);
    }
}
