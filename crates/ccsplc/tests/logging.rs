//! Logging through the real binary: `--log-file` gets every line with a millisecond time
//! stamp, `-v` adds debug lines, `-q` keeps errors.
// Test helpers outside #[test] functions: a failure is a panic with the error.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

fn ccsplc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ccsplc"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

/// `YYYY-MM-DD HH:MM:SS.mmm ` at the start of `line`.
fn has_millisecond_timestamp(line: &str) -> bool {
    let b = line.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    b.len() > 24
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b' '
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..23)
        && b[23] == b' '
}

/// Runs `config check` on a file with a bad value, logging to a file; returns the log.
fn log_of_failed_check(dir: &Path, flags: &[&str]) -> String {
    let config = dir.join("bad.ini");
    std::fs::write(&config, "[general]\nsoc_simulation = maybe\n").unwrap();
    let log = dir.join("ccsplc.log");
    let mut args = flags.to_vec();
    args.extend(["--log-file", log.to_str().unwrap(), "config", "check"]);
    args.push(config.to_str().unwrap());
    let output = ccsplc(&args);
    assert_eq!(output.status.code(), Some(1));
    std::fs::read_to_string(&log).unwrap()
}

#[test]
fn the_log_file_gets_the_error_with_a_millisecond_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_of_failed_check(dir.path(), &[]);
    let line = log
        .lines()
        .find(|l| l.contains("ERROR"))
        .unwrap_or_else(|| panic!("no ERROR line in the log: {log:?}"));
    assert!(has_millisecond_timestamp(line), "{line}");
    assert!(
        line.contains("soc_simulation") && line.contains("line 2"),
        "{line}"
    );
    // No colour codes in the file.
    assert!(!log.contains('\u{1b}'), "{log:?}");
    // Info level by default: no debug lines.
    assert!(!log.contains("DEBUG"), "{log}");
}

#[test]
fn verbose_adds_debug_lines_and_quiet_keeps_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.ini");
    std::fs::write(&good, "[general]\nmode = PevMode\n").unwrap();
    let log = dir.path().join("verbose.log");
    let output = ccsplc(&[
        "-v",
        "--log-file",
        log.to_str().unwrap(),
        "config",
        "check",
        good.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0));
    let text = std::fs::read_to_string(&log).unwrap();
    let debug = text
        .lines()
        .find(|l| l.contains("DEBUG"))
        .unwrap_or_else(|| panic!("no DEBUG line with -v: {text:?}"));
    assert!(has_millisecond_timestamp(debug), "{debug}");
    assert!(debug.contains("good.ini"), "{debug}");

    let quiet = tempfile::tempdir().unwrap();
    let log = log_of_failed_check(quiet.path(), &["-qq"]);
    assert!(log.lines().any(|l| l.contains("ERROR")), "{log}");
}

#[test]
fn the_timestamp_check_rejects_lines_without_milliseconds() {
    assert!(has_millisecond_timestamp("2026-11-25 17:15:44.186 ERROR x"));
    assert!(!has_millisecond_timestamp("2026-11-25 17:15:44 ERROR x"));
    assert!(!has_millisecond_timestamp(
        "ERROR 2026-11-25 17:15:44.186 x"
    ));
}
