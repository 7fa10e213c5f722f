//! `ccsplc decode` over every capture in `../shared/captures`: zero undecodable frames, the
//! JSON-lines contract, agreement with pyPLC's own `.decoded.txt`, and the values and plot of a
//! known session.
// Test helpers outside #[test] functions: a failure is a panic with the error.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use ccs_proto::trace::find;
use serde_json::Value;

fn decode_json(path: &Path, extra: &[&str]) -> (Vec<Value>, i32) {
    let (events, code, _) = decode_json_with_summary(path, extra);
    (events, code)
}

/// Also returns the summary line the decoder prints on stderr with `--json`.
fn decode_json_with_summary(path: &Path, extra: &[&str]) -> (Vec<Value>, i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ccsplc"))
        .arg("decode")
        .arg("--json")
        .arg(path)
        .args(extra)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let events = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let summary = String::from_utf8(out.stderr).unwrap();
    (events, out.status.code().unwrap_or(-1), summary)
}

/// "FILE: 730 frames, ..." → 730.
fn frames_in(summary: &str) -> usize {
    let (_, rest) = summary.rsplit_once(": ").unwrap();
    let rest = rest.split(" frames").next().unwrap();
    rest.parse().unwrap()
}

fn captures() -> Vec<PathBuf> {
    let dir = ccs_testdata::shared_path("captures");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("captures folder {} missing: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.to_string_lossy();
            n.ends_with(".pcap") || n.ends_with(".pcapng")
        })
        .collect();
    files.sort();
    files
}

/// The JSON-lines contract of `--json` (DESIGN.md, issue 10 item 1).
fn check_event(e: &Value) {
    let obj = e
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {e}"));
    assert!(obj["time"].as_f64().is_some_and(|t| t >= 0.0), "{e}");
    assert!(obj["frame"].as_u64().is_some(), "{e}");
    let kind = obj["kind"].as_str().unwrap();
    match kind {
        "v2g" => {
            assert!(obj["schema"].as_str().is_some_and(|s| !s.is_empty()), "{e}");
            assert!(
                obj["message"].as_str().is_some_and(|s| !s.is_empty()),
                "{e}"
            );
            assert!(obj.contains_key("fields"), "{e}");
        }
        "error" => assert!(obj["reason"].as_str().is_some_and(|s| !s.is_empty()), "{e}"),
        "log" => assert!(obj["text"].is_string(), "{e}"),
        "slac" | "sdp" | "tcp" => assert!(obj["message"].is_string(), "{e}"),
        other => panic!("unknown kind {other}: {e}"),
    }
}

#[test]
fn every_capture_decodes_without_a_single_error() {
    let files = captures();
    assert!(
        files.len() >= 30,
        "expected the 30+ captures of ../shared/captures"
    );
    let mut failures = Vec::new();
    println!(
        "{:<95} {:>6} {:>5} {:>4} {:>5} {:>5} {:>6}",
        "capture", "frames", "slac", "sdp", "tcp", "v2g", "errors"
    );
    for file in &files {
        let (events, code, summary) = decode_json_with_summary(file, &[]);
        let frames = frames_in(summary.lines().last().unwrap_or_default());
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        let mut last_frame = 0;
        for e in &events {
            check_event(e);
            *counts.entry(e["kind"].as_str().unwrap()).or_default() += 1;
            // Events come in capture order.
            let frame = e["frame"].as_u64().unwrap();
            assert!(
                frame >= last_frame,
                "{}: frames out of order",
                file.display()
            );
            last_frame = frame;
            if e["kind"] == "error" {
                failures.push(format!("{}: {}", file.display(), e["reason"]));
            }
        }
        let n = |k: &str| counts.get(k).copied().unwrap_or(0);
        println!(
            "{:<95} {:>6} {:>5} {:>4} {:>5} {:>5} {:>6}",
            file.file_name().unwrap().to_string_lossy(),
            frames,
            n("slac"),
            n("sdp"),
            n("tcp"),
            n("v2g"),
            n("error")
        );
        assert_eq!(
            code,
            if n("error") == 0 { 0 } else { 1 },
            "{}",
            file.display()
        );
        assert!(
            frames >= last_frame as usize && frames > 0,
            "{}",
            file.display()
        );
    }
    assert!(
        failures.is_empty(),
        "undecoded frames:\n{}",
        failures.join("\n")
    );
}

/// README of the captures: "184 V2G messages, all validated by the dsV2Gshark dissector" and
/// "676 V2G messages validated by dsV2Gshark": an independent count.
#[test]
fn interop_captures_have_the_v2g_message_counts_dsv2gshark_found() {
    for (name, expected, schemas) in [
        (
            "interop_josev0.31.2_secc-evcc_din-iso2-iso20dc_veth.pcap",
            184,
            &["apphand", "din", "iso2", "iso20-common", "iso20-dc"][..],
        ),
        (
            "interop_pyplc-e19519f_evse-pev-sim_din_veth.pcap",
            676,
            &["apphand", "din"][..],
        ),
    ] {
        let (events, _) = decode_json(&ccs_testdata::shared_path(&format!("captures/{name}")), &[]);
        let v2g: Vec<&Value> = events.iter().filter(|e| e["kind"] == "v2g").collect();
        assert_eq!(v2g.len(), expected, "{name}");
        let mut seen: Vec<&str> = v2g.iter().map(|e| e["schema"].as_str().unwrap()).collect();
        seen.sort_unstable();
        seen.dedup();
        let mut want = schemas.to_vec();
        want.sort_unstable();
        assert_eq!(seen, want, "{name}");
    }
}

/// One message of a pyPLC `.decoded.txt`.
struct PyMessage {
    hex: String,
    name: String,
    fields: BTreeMap<String, String>,
}

fn read_pyplc_decoded(path: &Path) -> Vec<PyMessage> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    let mut current: Option<PyMessage> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Packet #") {
            // `Packet #14 [2023-05-24 20:34:09.446521] 809a02… means:`
            let hex = rest.split(' ').nth(3).unwrap_or_default().to_owned();
            current = Some(PyMessage {
                hex,
                name: String::new(),
                fields: BTreeMap::new(),
            });
        } else if line == "}" {
            out.extend(current.take());
        } else if let (Some(m), Some((k, v))) = (current.as_mut(), line.split_once("\": \"")) {
            let key = k.trim_start_matches('"').to_owned();
            let value = v
                .trim_end_matches([',', ' '])
                .trim_end_matches('"')
                .to_owned();
            if key == "msgName" {
                m.name = value;
            } else {
                m.fields.insert(key, value);
            }
        }
    }
    out
}

fn py_physical(m: &PyMessage, name: &str) -> Option<f64> {
    let value: f64 = m.fields.get(&format!("{name}.Value"))?.parse().ok()?;
    let mult: i32 = m.fields.get(&format!("{name}.Multiplier"))?.parse().ok()?;
    Some(value * 10f64.powi(mult))
}

/// pyPLC's pcapConverter (OpenV2Gx) decodes every TCP payload, retransmissions included, and
/// fails on the handshake; we decode each message once. Our messages must be pyPLC's, the same
/// bytes in the same order with the same names, SoC, voltages and currents; every message pyPLC
/// has beyond ours must be a byte-identical repeat of an earlier one (a TCP retransmission).
#[test]
fn message_names_and_values_match_pyplc_decoded_txt() {
    for name in [
        "2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng",
        "2024-04-20_ModelY_pyPLC_stop_in_precharge.pcapng",
        "2024-06-11_Griffigroen_polestar2_stop_in_precharge.pcapng",
        "2024-06-18_Griffigroen_pyPLC_polestar2_discharging_with_additional_prechargeCircuit.pcapng",
        "2023-04-19_compleo_pyPlc_lightbulb_failedBadRegulation.pcapng",
        "2023-04-19_westparkAlpi_pyPlc_lightbulb_1fail_1ok.pcapng",
    ] {
        let capture = ccs_testdata::shared_path(&format!("captures/{name}"));
        let py: Vec<PyMessage> = read_pyplc_decoded(&ccs_testdata::shared_path(&format!(
            "captures/{name}.decoded.txt"
        )))
        .into_iter()
        .filter(|m| !m.name.is_empty())
        .collect();
        let (events, _) = decode_json(&capture, &[]);
        let ours: Vec<&Value> = events
            .iter()
            .filter(|e| e["kind"] == "v2g" && e["schema"] != "apphand")
            .collect();
        let mut seen_hex = std::collections::HashSet::new();
        let mut i = 0;
        let mut compared_values = 0;
        for m in &py {
            let matches = ours.get(i).is_some_and(|o| o["exi"] == m.hex.as_str());
            if !matches {
                assert!(
                    seen_hex.contains(&m.hex),
                    "{name}: pyPLC has {} ({}) where we have {:?}, and it is no repeat",
                    m.name,
                    m.hex,
                    ours.get(i).map(|o| o["message"].clone())
                );
                continue;
            }
            seen_hex.insert(m.hex.clone());
            assert_eq!(ours[i]["message"], m.name.as_str(), "{name}: {}", m.hex);
            let fields = &ours[i]["fields"];
            if let Some(soc) = m.fields.get("DC_EVStatus.EVRESSSOC") {
                let ours_soc = find(fields, "EVRESSSOC").and_then(Value::as_f64).unwrap();
                assert_eq!(ours_soc, soc.parse::<f64>().unwrap(), "{name} {}", m.name);
                compared_values += 1;
            }
            for quantity in ["EVTargetVoltage", "EVSEPresentVoltage", "EVTargetCurrent"] {
                if let Some(v) = py_physical(m, quantity) {
                    let o = find(fields, quantity).unwrap();
                    let ours_v = o["Value"].as_f64().unwrap()
                        * 10f64.powi(i32::try_from(o["Multiplier"].as_i64().unwrap()).unwrap());
                    assert!((ours_v - v).abs() < 1e-6, "{name} {} {quantity}", m.name);
                    compared_values += 1;
                }
            }
            i += 1;
        }
        assert_eq!(
            i,
            ours.len(),
            "{name}: messages of ours that pyPLC does not have"
        );
        assert!(
            compared_values > 20,
            "{name}: only {compared_values} values compared"
        );
    }
}

#[test]
fn values_csv_of_the_ioniq_at_93_percent() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("values.csv");
    let svg = dir.path().join("plot.svg");
    let capture = ccs_testdata::shared_path("captures/2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng");
    let (_, code) = decode_json(
        &capture,
        &[
            "--values",
            csv.to_str().unwrap(),
            "--plot",
            svg.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0);
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    for column in [
        "time",
        "message",
        "phase",
        "checkpoint",
        "EVTargetVoltage",
        "EVTargetCurrent",
        "EVSEPresentVoltage",
        "EVSEPresentCurrent",
        "SoC",
        "EVSEMaxVoltage",
        "EVSEMaxCurrent",
        "EVSEMaxPower",
    ] {
        assert!(header.contains(&column), "missing column {column}");
    }
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 138, "one row per V2G message");
    let numbers = |name: &str| -> Vec<f64> {
        rows.iter()
            .filter_map(|r| r[col(name)].parse().ok())
            .collect()
    };
    let soc = numbers("SoC");
    assert!(soc.len() > 50);
    assert!(
        soc.iter().all(|s| (90.0..=95.0).contains(s)),
        "SoC around 93 %"
    );
    let present = numbers("EVSEPresentVoltage");
    let top = present.iter().copied().fold(0.0, f64::max);
    assert!((400.0..430.0).contains(&top), "charging voltage {top}");
    // One ChargeParameterDiscoveryRes: the charger's 450 V limit.
    assert_eq!(numbers("EVSEMaxVoltage"), vec![450.0]);
    let times = numbers("time");
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "time runs forward");
    assert!(
        rows.iter()
            .any(|r| r[col("phase")] == "Charging" && r[col("checkpoint")] == "700")
    );

    let plot = std::fs::read_to_string(&svg).unwrap();
    assert!(plot.starts_with("<svg"));
    assert!(
        plot.contains("2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng"),
        "title"
    );
    for label in [
        "voltage (V)",
        "current (A)",
        "SoC (%)",
        "CurrentDemand 700",
        "PreCharge 570",
    ] {
        assert!(plot.contains(label), "plot lacks {label}");
    }
    assert!(
        plot.matches("<polyline").count() >= 5,
        "U, I, targets, SoC drawn"
    );
}
