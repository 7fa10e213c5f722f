//! Why a configuration could not be loaded, and what merely deserves a warning.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// A configuration that cannot be used. Every variant is the configuration's fault and says
/// where: file, line, key, and what is allowed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ConfigError {
    /// The file cannot be read (missing, no permission, not UTF-8 ...).
    #[error("cannot read configuration file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The file is not valid ini or TOML.
    #[error("{}, line {line}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A value that the setting does not allow.
    #[error("{}: bad value for {key}: `{value}`: {allowed}", Place { path, line: *line })]
    InvalidValue {
        /// The file.
        path: PathBuf,
        /// 1-based line number of the key; `None` when the value is a default that conflicts
        /// with a value in the file.
        line: Option<usize>,
        /// The key as written in the file (pyPLC's name in an ini file, `section.key` in TOML).
        key: String,
        /// The value as written.
        value: String,
        /// What is allowed instead.
        allowed: String,
    },
}

/// `file, line N`, or just `file`.
struct Place<'a> {
    path: &'a Path,
    line: Option<usize>,
}

impl fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}, line {line}", self.path.display()),
            None => write!(f, "{}", self.path.display()),
        }
    }
}

/// Something in the file that ccsplc ignores or reads differently than the user may expect:
/// an unknown key or section, or a pyPLC value with a surprising meaning.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) struct Warning {
    /// The file.
    pub(crate) path: PathBuf,
    /// 1-based line number, if the warning is about one line.
    pub(crate) line: Option<usize>,
    /// What is the matter.
    pub(crate) message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            Place {
                path: &self.path,
                line: self.line
            },
            self.message
        )
    }
}

/// The 1-based line of a byte offset in `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()
        .get(..end)
        .map_or(0, |before| before.iter().filter(|&&b| b == b'\n').count())
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_one_based() {
        let text = "a\nbb\nccc";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, 2), 2);
        assert_eq!(line_of(text, 5), 3);
        assert_eq!(line_of(text, 999), 3);
    }

    #[test]
    fn invalid_values_name_file_line_key_and_what_is_allowed() {
        let e = ConfigError::InvalidValue {
            path: PathBuf::from("pyPlc.ini"),
            line: Some(42),
            key: "soc_simulation".into(),
            value: "maybe".into(),
            allowed: "expected yes/no".into(),
        };
        assert_eq!(
            e.to_string(),
            "pyPlc.ini, line 42: bad value for soc_simulation: `maybe`: expected yes/no"
        );
    }
}
