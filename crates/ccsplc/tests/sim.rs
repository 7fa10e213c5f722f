//! `ccsplc sim` as a user runs it: the real binary, its output and its exit code.

use std::process::Command;

fn ccsplc(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ccsplc"))
        .args(args)
        .output()
        .expect("the ccsplc binary runs")
}

#[test]
fn sim_runs_a_whole_din_session_and_exits_0_with_a_summary() {
    let out = ccsplc(&["sim"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Live lines with virtual time, values and the phases, then the summary.
    assert!(stdout.contains("SLAC paired"), "{stdout}");
    assert!(stdout.contains("SDP: charger at [fe80::"), "{stdout}");
    assert!(stdout.contains("-> SessionSetupReq"), "{stdout}");
    assert!(stdout.contains("phase Charging (700)"), "{stdout}");
    assert!(stdout.contains("-> CurrentDemandReq"), "{stdout}");
    assert!(
        stdout.contains("charging time reached: stop requested"),
        "{stdout}"
    );
    assert!(stdout.contains("SoC"), "{stdout}");
    assert!(stdout.contains("\nSummary\n"), "{stdout}");
    assert!(stdout.contains("  car          completed"), "{stdout}");
    assert!(stdout.contains("  charger      completed"), "{stdout}");
    assert!(
        stdout.trim_end().ends_with("Result: session completed"),
        "{stdout}"
    );
}

#[test]
fn the_same_seed_prints_the_same_session() {
    let args = ["sim", "--seed", "7", "--charge-seconds", "3", "--no-modem"];
    let a = ccsplc(&args);
    let b = ccsplc(&args);
    assert_eq!(a.status.code(), Some(0));
    // Everything but the wall-clock time in the summary's last lines is identical.
    let strip = |o: &std::process::Output| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.contains("simulated in"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&a), strip(&b));
    assert!(strip(&a)[0].contains("seed 7"));
}

#[test]
fn target_soc_ends_the_charge() {
    let out = ccsplc(&["sim", "--target-soc", "30.2", "--seed", "3"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("SoC 30 % reached: stop requested")
            || stdout.contains("reached: stop requested"),
        "{stdout}"
    );
}

#[test]
fn protocols_not_built_yet_exit_2_with_a_clear_message() {
    for protocol in ["iso2", "iso20-dc", "iso20-bpt"] {
        let out = ccsplc(&["sim", "--protocol", protocol]);
        assert_eq!(out.status.code(), Some(2), "--protocol {protocol}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("protocol {protocol} is not supported yet")),
            "{stderr}"
        );
        assert!(out.stdout.is_empty(), "nothing pretends to run");
    }
}

#[test]
fn target_soc_outside_0_to_100_is_a_usage_error() {
    let out = ccsplc(&["sim", "--target-soc", "120"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("between 0 and 100"));
}
