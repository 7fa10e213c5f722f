//! `ccsplc config check` and `ccsplc config init` through the real binary: exit codes and
//! what the user reads.
// Test helpers outside #[test] functions: a failure is a panic with the error.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ccsplc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ccsplc"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn check(path: &Path) -> Output {
    ccsplc(&["config", "check", path.to_str().unwrap()])
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn template() -> PathBuf {
    ccs_testdata::shared_path("vectors/pyPlc.ini.template")
}

#[test]
fn check_prints_every_setting_with_its_origin_for_the_pyplc_template() {
    let output = check(&template());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(out.contains("(pyPLC ini)"), "{out}");
    // Values from the file name their line and pyPLC's key and text.
    assert!(out.contains("mode = \"ev\""), "{out}");
    assert!(out.contains("# line 10: mode = PevMode"), "{out}");
    assert!(out.contains("# line 24: eth_interface = eth0"), "{out}");
    assert!(out.contains("fallback_energy_capacity = 27000"), "{out}");
    // Everything else is marked as a default.
    assert!(out.contains("port = 1883"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("port = 1883") && l.ends_with("# default"))
    );
    // The two pyPLC keys that are read but not used are listed.
    assert!(out.contains("eth_windows_interface_name"), "{out}");
    assert!(out.contains("is_simulation_without_modems"), "{out}");
    assert!(out.contains("# no warnings"), "{out}");
    // Every section of the TOML format appears.
    for section in [
        "general",
        "slac",
        "sdp",
        "session",
        "charging",
        "hardware",
        "mqtt",
        "can",
        "serial",
        "capture",
        "log",
        "web",
        "tls",
        "soc_callback",
        "listen",
    ] {
        assert!(
            out.contains(&format!("\n[{section}]\n")),
            "[{section}] missing"
        );
    }
}

#[test]
fn check_accepts_the_toml_twin_of_the_template() {
    let twin = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pyplc-template.toml");
    let output = check(&twin);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(out.contains("(TOML)"));
    assert!(out.contains("# line 5: general.mode = \"ev\""), "{out}");
}

#[test]
fn check_warns_about_unknown_keys_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let ini = write(
        &dir,
        "pyPlc.ini",
        "[general]\nmode = EvseMode\nfrobnicate = 1\n",
    );
    let output = check(&ini);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = stdout(&output);
    let warning = out
        .lines()
        .find(|l| l.starts_with("warning:"))
        .unwrap_or_else(|| panic!("no warning in {out}"));
    assert!(
        warning.contains("line 3") && warning.contains("`frobnicate`"),
        "{warning}"
    );

    let toml = write(&dir, "c.toml", "[mqtt]\nbroker = \"b\"\nqos = 1\n");
    let output = check(&toml);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("line 3: unknown key `qos` in [mqtt]"));
}

#[test]
fn a_bad_boolean_exits_1_naming_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let ini = write(
        &dir,
        "pyPlc.ini",
        "[general]\nmode = PevMode\nlight_bulb_demo = perhaps\n",
    );
    let output = check(&ini);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains(ini.to_str().unwrap()), "{err}");
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("light_bulb_demo"), "{err}");
    assert!(err.contains("yes/no"), "{err}");
    assert!(stdout(&output).is_empty());
}

#[test]
fn a_bad_value_exits_1_naming_line_key_and_what_is_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let ini = write(
        &dir,
        "pyPlc.ini",
        "[general]\n\nanalog_input_device = voltmeter\n",
    );
    let output = check(&ini);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("line 3") && err.contains("analog_input_device"),
        "{err}"
    );
    assert!(err.contains("celeron55device"), "{err}");

    let toml = write(
        &dir,
        "c.toml",
        "[serial]\nport = \"auto\"\nbaud = \"fast\"\n",
    );
    let output = check(&toml);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("line 3") && err.contains("serial.baud"),
        "{err}"
    );
}

#[test]
fn a_syntax_error_exits_1_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let ini = write(
        &dir,
        "pyPlc.ini",
        "[general]\nmode = PevMode\nthis line has no equals\n",
    );
    let output = check(&ini);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("line 3"), "{}", stderr(&output));
}

#[test]
fn an_unreadable_file_exits_1_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.ini");
    let output = check(&missing);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("cannot read configuration file"), "{err}");
    assert!(err.contains("missing.ini"), "{err}");
}

#[test]
fn init_writes_a_file_that_checks_clean_and_does_not_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ccsplc.toml");
    let output = ccsplc(&["config", "init", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(written.contains("[general]") && written.contains("pyPLC: `eth_interface`"));

    let output = check(&path);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("# no warnings"));

    // A second init refuses to overwrite the file.
    std::fs::write(&path, "keep me").unwrap();
    let output = ccsplc(&["config", "init", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("not overwritten"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");
}

#[test]
fn init_without_a_file_prints_the_same_text_to_stdout() {
    let output = ccsplc(&["config", "init"]);
    assert_eq!(output.status.code(), Some(0));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    assert_eq!(
        ccsplc(&["config", "init", path.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(stdout(&output), std::fs::read_to_string(&path).unwrap());
}

#[test]
fn check_shows_what_the_charger_would_refuse_at_start() {
    let dir = tempfile::tempdir().unwrap();
    // MQTT, but not as the power supply: ccsplc evse refuses this (the output would be
    // simulated without saying so), and so does config check for a charger.
    let text = "[general]\nmode = \"evse\"\n[hardware]\ndigital_output_device = \"mqtt\"\n";
    let output = check(&write(&dir, "charger.toml", text));
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(
        stderr(&output).contains("hardware.charge_parameter_backend"),
        "{}",
        stderr(&output)
    );
    // Said explicitly: accepted, with the charger's warnings.
    let text = format!("{text}[charging]\nevse_simulate_precharge = true\n");
    let output = check(&write(&dir, "charger2.toml", &text));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("# charger: ")
            && stdout(&output).contains("isolation is NOT monitored"),
        "{}",
        stdout(&output)
    );
}
