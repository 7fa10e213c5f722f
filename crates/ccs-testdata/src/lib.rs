//! Test support: where the shared field data lives, a reader for its TSV files, test PKIs
//! ([`make_test_pki`]), the Josev peer's process ([`josev_python`], [`ProcessGroup`]) and network
//! namespaces ([`netns`]).
//!
//! The field data (real EXI messages, HomePlug frames, captures, the XSDs) is never copied into
//! this repository. Tests read it from `$CCSPLC_SHARED`, or from `../shared` beside the
//! repository. A test that needs it and cannot find it fails with a message that says what is
//! missing. Only tests and benchmarks depend on this crate.
#![forbid(unsafe_code)]
// Test support: a missing or broken data file is a test failure, so panicking is the point.
#![allow(clippy::unwrap_used, clippy::panic)]

mod josev;
pub mod netns;
mod pki;

use std::path::PathBuf;

pub use josev::{ProcessGroup, josev_python, stop_process_group};
pub use pki::{PkiProfile, make_test_pki};

/// The shared data folder: `$CCSPLC_SHARED`, else `shared/` beside the workspace root.
///
/// # Panics
/// If the folder does not exist, with a message naming where it looked.
pub fn shared_dir() -> PathBuf {
    let dir = match std::env::var_os("CCSPLC_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    assert!(
        dir.is_dir(),
        "the shared field data is missing: looked for {} (set CCSPLC_SHARED to its path)",
        dir.display()
    );
    dir
}

/// A file or folder inside the shared data, e.g. `shared_path("vectors/pyplc_vectors.tsv")`.
///
/// # Panics
/// If it does not exist.
pub fn shared_path(relative: &str) -> PathBuf {
    let path = shared_dir().join(relative);
    assert!(
        path.exists(),
        "shared data file missing: {} (is ../shared complete?)",
        path.display()
    );
    path
}

/// One row of a TSV file, with access to its columns by header name.
#[derive(Clone, Debug)]
pub struct Row {
    /// 1-based line number in the file (the header is line 1).
    pub line: usize,
    columns: std::sync::Arc<Vec<String>>,
    fields: Vec<String>,
}

impl Row {
    /// The value in column `name`.
    ///
    /// # Panics
    /// If the file has no such column.
    pub fn get(&self, name: &str) -> &str {
        let index = self
            .columns
            .iter()
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("no column {name:?} (columns: {:?})", self.columns));
        self.fields.get(index).map_or("", String::as_str)
    }
}

/// Reads a tab-separated file with a header line from the shared data.
///
/// # Panics
/// If the file is missing or unreadable.
pub fn read_tsv(relative: &str) -> Vec<Row> {
    let path = shared_path(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let columns = std::sync::Arc::new(header.split('\t').map(str::to_owned).collect::<Vec<_>>());
    lines
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| Row {
            line: i + 2,
            columns: columns.clone(),
            fields: l.split('\t').map(str::to_owned).collect(),
        })
        .collect()
}

/// Decodes a hex string (no separators), as the vector files write bytes.
///
/// # Panics
/// On odd length or a non-hex digit.
pub fn hex(text: &str) -> Vec<u8> {
    let text = text.trim();
    assert!(text.len().is_multiple_of(2), "odd-length hex: {text:?}");
    (0..text.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&text[i..i + 2], 16).unwrap_or_else(|_| panic!("bad hex: {text:?}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_key_derivation_vectors() {
        let rows = read_tsv("vectors/slac_key_derivation.tsv");
        assert!(rows.iter().any(|r| r.get("kind") == "NMK_from_password"));
        assert_eq!(hex("0a0B"), vec![0x0a, 0x0b]);
    }
}
