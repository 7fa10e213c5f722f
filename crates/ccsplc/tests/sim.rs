//! `ccsplc sim` as a user runs it: the real binary, its output and its exit code.

use std::process::Command;

fn ccsplc(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ccsplc"))
        .args(args)
        .output()
        .expect("the ccsplc binary runs")
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
