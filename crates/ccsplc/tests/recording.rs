//! Session recordings of real processes (issue 10 item 1): a TLS session's pcapng carries the
//! keys (decryption secrets block) and the decrypted V2GTP messages, so `ccsplc decode` shows
//! the conversation and tshark decrypts the TLS records with no key log file.
//!
//! Needs root (namespaces, raw sockets).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ccs_linux::tls::testing::TestPki;
use ccs_proto::capture::{CaptureReader, LinkType, SECRETS_TYPE_TLS_KEY_LOG};
use common::{
    Proc, SESSION_LIMIT, TwoHosts, assert_both_complete, ccsplc, decode, spawn_ev, spawn_evse,
    wait_both,
};
use serde_json::Value;

/// The charger's TLS port (fixed, so tshark can be told to read it as TLS).
const TLS_PORT: u16 = 50_123;

fn json_events(file: &Path) -> Vec<Value> {
    let out = Command::new(ccsplc())
        .args(["decode", "--json"])
        .arg(file)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The key log text of every decryption secrets block, and the number of exported PDUs.
fn secrets_and_plaintext(file: &Path) -> (String, usize) {
    let bytes = std::fs::read(file).unwrap();
    let mut reader = CaptureReader::new(&bytes).unwrap();
    let decrypted = reader
        .by_ref()
        .filter_map(Result::ok)
        .filter(|p| p.link_type == LinkType::WiresharkUpperPdu)
        .count();
    let keys = reader
        .decryption_secrets()
        .iter()
        .filter(|s| s.secrets_type == SECRETS_TYPE_TLS_KEY_LOG)
        .map(|s| String::from_utf8_lossy(&s.data).into_owned())
        .collect();
    (keys, decrypted)
}

/// tshark's decryption of the TLS records of interface 0 with only the keys in the file:
/// the decrypted application data of every record, hex. (`scripts/setup.sh` installs tshark.)
fn tshark_decrypted(file: &Path) -> Vec<String> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(["-d", &format!("tcp.port=={TLS_PORT},tls")])
        .args(["-Y", "frame.interface_id == 0 && tls.app_data"])
        .args(["-T", "fields", "-e", "data.data"])
        .output()
        .expect("tshark is missing: scripts/setup.sh installs it (Debian package tshark)");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_tls_session_recording_holds_its_keys_and_its_plaintext() {
    let hosts = TwoHosts::new().with_veth();
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path()).unwrap();
    let evse_config = dir.path().join("evse.toml");
    std::fs::write(
        &evse_config,
        format!(
            "[tls]\nmode = \"required\"\ncertificate_chain = {:?}\nprivate_key = {:?}\n\
             [sdp]\ntls_port = {TLS_PORT}\n",
            pki.secc.chain, pki.secc.key
        ),
    )
    .unwrap();
    let ev_config = dir.path().join("ev.toml");
    std::fs::write(
        &ev_config,
        format!(
            "[tls]\nmode = \"required\"\ntrust_anchors = {:?}\n",
            pki.root
        ),
    )
    .unwrap();
    let (ev_pcap, evse_pcap) = (dir.path().join("ev.pcapng"), dir.path().join("evse.pcapng"));
    let mut evse = spawn_evse(
        &hosts,
        dir.path(),
        Some(&evse_config),
        &["--pcap", evse_pcap.to_str().unwrap()],
    );
    let mut ev = spawn_ev(
        &hosts,
        dir.path(),
        Some(&ev_config),
        &["--charge-seconds", "2", "--pcap", ev_pcap.to_str().unwrap()],
    );
    let both = assert_both_complete(&mut ev, &mut evse, SESSION_LIMIT);
    assert!(both.contains("TLSv1.2"), "no TLS:\n{both}");

    for pcap in [&ev_pcap, &evse_pcap] {
        let (keys, decrypted) = secrets_and_plaintext(pcap);
        assert!(
            keys.starts_with("CLIENT_RANDOM "),
            "{}: no TLS 1.2 key in the file: {keys:?}",
            pcap.display()
        );
        let out = decode(pcap);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}:\n{text}", pcap.display());
        assert!(text.contains(" 0 errors"), "{text}");
        assert!(text.contains("TLS EV starts the handshake"), "{text}");
        let events = json_events(pcap);
        let v2g: Vec<&str> = events
            .iter()
            .filter(|e| e["kind"] == "v2g")
            .map(|e| e["message"].as_str().unwrap())
            .collect();
        // Every decrypted message is decoded once, in order, with its direction.
        assert_eq!(v2g.len(), decrypted, "{v2g:?}");
        assert_eq!(v2g.first(), Some(&"supportedAppProtocolReq"));
        assert_eq!(v2g.last(), Some(&"SessionStopRes"));
        assert!(v2g.contains(&"CurrentDemandReq"), "{v2g:?}");
        let first = events.iter().find(|e| e["kind"] == "v2g").unwrap();
        assert_eq!(first["direction"], "EV->EVSE", "{first}");

        // tshark decrypts the real TLS records with the keys of the file alone, and finds
        // the same V2GTP bytes.
        let records = tshark_decrypted(pcap);
        assert!(
            records.len() >= decrypted,
            "{}: tshark decrypted {} records, ccsplc recorded {decrypted} messages",
            pcap.display(),
            records.len()
        );
        assert!(records.iter().all(|r| r.starts_with("01fe")), "{records:?}");
    }
}

/// A tmpfs of `size` mounted on `dir`, unmounted on drop.
struct TinyDisk(std::path::PathBuf);

impl TinyDisk {
    fn mount(dir: &Path, size: &str) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(status.success(), "mount tmpfs on {}", dir.display());
        Self(dir.to_owned())
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A full disk never stops a session: the charger records into a numbered file in a folder on
/// an 8 KiB tmpfs, the car into /dev/full (every write: "no space left"). Both complete the
/// session and say once that the recording stopped.
///
/// tcpdump records the same session as a Raspberry Pi user would: `-i any` (Linux cooked v2)
/// and on the interface with nanosecond timestamps; `ccsplc decode` reads both.
#[test]
fn a_full_disk_stops_the_recording_and_never_the_session() {
    let hosts = TwoHosts::new().with_veth();
    let dir = tempfile::tempdir().unwrap();
    let (any_pcap, nano_pcap) = (dir.path().join("any.pcap"), dir.path().join("nano.pcap"));
    let tcpdump = |name, args: &[&str]| {
        Proc::spawn_in(&hosts.evse.name, name, dir.path(), "tcpdump", args, &[])
    };
    let mut dumps = [
        tcpdump(
            "tcpdump-any",
            &["-i", "any", "-U", "-w", any_pcap.to_str().unwrap()],
        ),
        tcpdump(
            "tcpdump-nano",
            &[
                "-i",
                "evse0",
                "--time-stamp-precision=nano",
                "-U",
                "-w",
                nano_pcap.to_str().unwrap(),
            ],
        ),
    ];
    // tcpdump says "listening on" once its capture runs.
    let started = std::time::Instant::now();
    while !dumps.iter().all(|d| d.output().contains("listening on")) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "tcpdump did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let folder = dir.path().join("captures");
    let _disk = TinyDisk::mount(&folder, "8k");
    let evse_config = dir.path().join("evse.toml");
    std::fs::write(&evse_config, format!("[capture]\nfolder = {folder:?}\n")).unwrap();
    let mut evse = spawn_evse(&hosts, dir.path(), Some(&evse_config), &[]);
    let mut ev = spawn_ev(
        &hosts,
        dir.path(),
        None,
        &["--charge-seconds", "2", "--pcap", "/dev/full"],
    );
    let ended = wait_both(&mut ev, &mut evse, SESSION_LIMIT);
    let (ev_out, evse_out) = (ev.output(), evse.output());
    let both = ended.text;
    assert_eq!(ended.ev, Some(0), "{both}");
    assert_eq!(ended.evse, Some(0), "{both}");
    for out in [&ev_out, &evse_out] {
        assert!(out.contains("Result: session completed") || out.contains("completed"));
        assert_eq!(
            out.matches("No space left on device (os error 28) (the session goes on)")
                .count(),
            1,
            "{both}"
        );
    }
    // The charger's file is the first of the folder's numbered files, cut where the disk
    // filled up; what is in it still decodes.
    let first = folder.join("session_0001.pcapng");
    assert!(first.exists(), "{both}");
    let out = decode(&first);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("SDP"), "{text}");

    // tcpdump may lag behind on a loaded machine, and drops what it has not read when
    // interrupted: wait until both files hold the end of the session (-U writes each packet).
    let waiting = std::time::Instant::now();
    while ![&any_pcap, &nano_pcap]
        .iter()
        .all(|p| String::from_utf8_lossy(&decode(p).stdout).contains("FIN EV closes"))
        && waiting.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    for dump in &mut dumps {
        dump.signal("-INT");
        assert_eq!(
            dump.wait_for(Duration::from_secs(10)),
            Some(0),
            "{}",
            dump.output()
        );
    }
    for (pcap, link_type) in [
        (&any_pcap, LinkType::LinuxSll2),
        (&nano_pcap, LinkType::Ethernet),
    ] {
        let bytes = std::fs::read(pcap).unwrap();
        let reader = CaptureReader::new(&bytes).unwrap();
        assert_eq!(reader.interfaces()[0].link_type, link_type);
        let text = assert_recording_decodes_without_log(pcap);
        assert!(text.contains("EV->EVSE  SDP   request"), "{text}");
        assert!(text.contains("SessionStopRes"), "{text}");
    }
}

/// `ccsplc decode` of a capture by another tool: exit 0, no errors, CurrentDemand both ways.
fn assert_recording_decodes_without_log(file: &Path) -> String {
    let out = decode(file);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}:\n{text}", file.display());
    assert!(text.contains(" 0 errors"), "{text}");
    assert!(text.contains("CurrentDemandReq"), "{text}");
    assert!(text.contains("CurrentDemandRes"), "{text}");
    text
}

/// `ccsplc sim` records into numbered files of `capture.folder`, and into a full disk without
/// failing the session.
#[test]
fn sim_records_numbered_files_and_survives_a_full_disk() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("caps");
    let config = dir.path().join("sim.toml");
    std::fs::write(&config, format!("[capture]\nfolder = {folder:?}\n")).unwrap();
    for _ in 0..2 {
        let out = Command::new(ccsplc())
            .args(["sim", "--charge-seconds", "5", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    let mut names: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["session_0001.pcapng", "session_0002.pcapng"]);
    common::assert_recording_decodes(&folder.join("session_0002.pcapng"));

    let out = Command::new(ccsplc())
        .args(["sim", "--charge-seconds", "5", "--pcap", "/dev/full"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(text.contains("Result: session completed"), "{text}");
    assert!(
        text.contains("capture stopped: No space left on device"),
        "{text}"
    );
}
