//! Whole DIN sessions between two `ccsplc` processes, each in its own network namespace:
//! `ccsplc ev` against `ccsplc evse`, over a veth pair with `--no-slac`, and over the TAP
//! modem simulator of `ccs-linux` (two simulated TP-Link modems that carry only SLAC until the
//! AVLN is keyed) with the whole link setup: modem discovery, SLAC, SDP, TCP, DIN. Both must
//! exit 0, the car's trace must show CurrentDemand, and both recordings must decode.
//!
//! Needs root (namespaces, raw sockets, TAP devices).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use ccs_linux::clock::Clock;
use ccs_linux::modem_sim::PowerlineForwarder;
use ccs_linux::tap::TapBridge;
use common::{Proc, TwoHosts, assert_recording_decodes, ccsplc, decode};

/// Generous: a session is ~10 s; SLAC over the simulated modems takes a few more.
const SESSION_LIMIT: Duration = Duration::from_secs(90);

/// Runs `ccsplc evse --once` and `ccsplc ev --charge-seconds 2` on `ifname` in the two
/// namespaces with `flags`; returns both outputs after asserting exit 0 and the recordings.
fn ev_against_evse(
    hosts: &TwoHosts,
    ev_if: &str,
    evse_if: &str,
    flags: &[&str],
) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    // A passive listener next to the charger: it must see and decode the whole session.
    let listen_config = dir.path().join("listen.toml");
    std::fs::write(&listen_config, "[listen]\nsmart_listener = \"passive\"\n").unwrap();
    let listen_pcap = dir.path().join("listen.pcapng");
    let mut listener = Proc::spawn_in(
        &hosts.evse.name,
        "listen",
        dir.path(),
        ccsplc(),
        &[
            "listen",
            "--config",
            listen_config.to_str().unwrap(),
            "--interface",
            evse_if,
            "--pcap",
            listen_pcap.to_str().unwrap(),
        ],
        &[],
    );
    let evse_pcap = dir.path().join("evse.pcapng");
    let ev_pcap = dir.path().join("ev.pcapng");
    let mut evse_args = vec!["evse", "--interface", evse_if, "--once", "--pcap"];
    evse_args.push(evse_pcap.to_str().unwrap());
    evse_args.extend_from_slice(flags);
    let mut evse = Proc::spawn_in(
        &hosts.evse.name,
        "evse",
        dir.path(),
        ccsplc(),
        &evse_args,
        &[],
    );
    let mut ev_args = vec![
        "ev",
        "--interface",
        ev_if,
        "--charge-seconds",
        "2",
        "--pcap",
    ];
    ev_args.push(ev_pcap.to_str().unwrap());
    ev_args.extend_from_slice(flags);
    let mut ev = Proc::spawn_in(&hosts.ev.name, "ev", dir.path(), ccsplc(), &ev_args, &[]);

    let ev_code = ev.wait_for(SESSION_LIMIT);
    let evse_code = evse.wait_for(Duration::from_secs(15));
    let (ev_out, evse_out) = (ev.output(), evse.output());
    let both = format!("--- ev:\n{ev_out}\n--- evse:\n{evse_out}");
    assert_eq!(ev_code, Some(0), "the car did not complete:\n{both}");
    assert_eq!(evse_code, Some(0), "the charger did not complete:\n{both}");
    assert!(ev_out.contains("-> CurrentDemandReq"), "{both}");
    assert!(ev_out.contains("<- CurrentDemandRes"), "{both}");
    assert!(evse_out.contains("<- CurrentDemandReq"), "{both}");
    assert!(ev_out.contains("Result: session completed"), "{both}");
    for checkpoint in [" 700 ", " 900 ", "1000 session completed"] {
        assert!(
            ev_out.contains(checkpoint),
            "no checkpoint {checkpoint:?}:\n{both}"
        );
    }
    // Ctrl-C ends the listener normally.
    listener.signal("-INT");
    let listen_code = listener.wait_for(Duration::from_secs(10));
    let listen_out = listener.output();
    assert_eq!(listen_code, Some(0), "listener:\n{listen_out}");
    for seen in [
        "SDP",
        "CurrentDemandReq",
        "CurrentDemandRes",
        "SessionStopRes",
        "summary:",
    ] {
        assert!(
            listen_out.contains(seen),
            "the listener missed {seen}:\n{listen_out}"
        );
    }
    let listen_decoded = decode(&listen_pcap);
    assert!(listen_decoded.status.success(), "{listen_decoded:?}");
    let ev_decoded = assert_recording_decodes(&ev_pcap);
    let evse_decoded = assert_recording_decodes(&evse_pcap);
    // Each file holds the whole conversation on the wire: SDP and the TCP connection too.
    for decoded in [&ev_decoded, &evse_decoded] {
        assert!(decoded.contains("SDP   request"), "{decoded}");
        assert!(decoded.contains("SessionStopRes"), "{decoded}");
    }
    (format!("{ev_out}\n--- listen:\n{listen_out}"), ev_decoded)
}

#[test]
fn ev_and_evse_processes_charge_over_a_veth_pair_without_slac() {
    let hosts = TwoHosts::new().with_veth();
    let (ev_out, _) = ev_against_evse(&hosts, "ev0", "evse0", &["--no-slac"]);
    assert!(
        !ev_out.contains("SLAC paired"),
        "SLAC ran with --no-slac:\n{ev_out}"
    );
}

#[test]
fn ev_and_evse_processes_pair_and_charge_over_the_tap_modem_simulator() {
    let hosts = TwoHosts::new();
    // The simulated line is not Send (its fault hook), so it lives on its own thread.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (ev_ns, evse_ns) = (hosts.ev.name.clone(), hosts.evse.name.clone());
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let bridge = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let clock = Clock::new();
            let forwarder = PowerlineForwarder::tp_link_pair(0x5EED, clock.now());
            let bridge = TapBridge::create(&ev_ns, &evse_ns, "plc0", forwarder, clock).unwrap();
            ready_tx.send(()).unwrap();
            let forwarder = bridge
                .run(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
            forwarder.link_up()
        })
    });
    ready_rx.recv().unwrap();
    let (ev_out, ev_decoded) = ev_against_evse(&hosts, "plc0", "plc0", &[]);
    let _ = stop.send(());
    let link_up = bridge.join().unwrap();

    assert!(ev_out.contains("SLAC paired"), "{ev_out}");
    assert!(
        ev_out.contains("charger MAC"),
        "the listener saw no charger:\n{ev_out}"
    );
    assert!(ev_out.contains(" 100 "), "no SLAC checkpoint:\n{ev_out}");
    assert!(
        ev_decoded.contains("SLAC"),
        "no SLAC in the car's recording"
    );
    assert!(link_up, "the simulated modems do not report the AVLN");
}

/// Ctrl-C at the car is the user's stop request: the session winds down normally
/// (PowerDelivery stop, WeldingDetection, SessionStop) and the car exits 0.
#[test]
fn ctrl_c_at_the_car_ends_charging_normally() {
    let hosts = TwoHosts::new().with_veth();
    let dir = tempfile::tempdir().unwrap();
    let mut evse = Proc::spawn_in(
        &hosts.evse.name,
        "evse",
        dir.path(),
        ccsplc(),
        &["evse", "--interface", "evse0", "--no-slac", "--once"],
        &[],
    );
    // No --charge-seconds: the simulated battery would charge for an hour.
    let mut ev = Proc::spawn_in(
        &hosts.ev.name,
        "ev",
        dir.path(),
        ccsplc(),
        &["ev", "--interface", "ev0", "--no-slac"],
        &[],
    );
    let charging = std::time::Instant::now();
    while !ev.output().contains("-> CurrentDemandReq") {
        assert!(
            charging.elapsed() < SESSION_LIMIT,
            "no CurrentDemand:\n{}",
            ev.output()
        );
        assert_eq!(ev.wait_for(Duration::ZERO), None, "{}", ev.output());
        std::thread::sleep(Duration::from_millis(200));
    }
    ev.signal("-INT");
    let ev_code = ev.wait_for(Duration::from_secs(30));
    let evse_code = evse.wait_for(Duration::from_secs(15));
    let out = format!("{}\n--- evse:\n{}", ev.output(), evse.output());
    assert_eq!(ev_code, Some(0), "{out}");
    assert_eq!(evse_code, Some(0), "{out}");
    assert!(out.contains("stop requested"), "{out}");
    assert!(out.contains("<- SessionStopRes"), "{out}");
}
