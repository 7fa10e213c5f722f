//! `ccsplc listen` joins a charging network with a sniffed key (pyPLC's
//! `smart_listener_configuration = 1`), over the TAP modem simulator with three hosts in
//! three namespaces: a car and a charger pair by SLAC through their simulated modems; the
//! listener's modem hears the CM_SLAC_MATCH.CNF (as pyPLC's listener's TP-Link did in the field
//! captures), the listener sets its NMK into that modem, the modem joins the AVLN, and the
//! listener decodes the V2G session live and in its recording.
//!
//! The listener's modem forwards foreign unicast here (`forward_foreign_unicast`); a real
//! TP-Link does not, so in the field the TCP part stays hidden (see `ccsplc listen --help`).
//!
//! Needs root (namespaces, TAP devices, raw sockets).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use ccs_linux::clock::Clock;
use ccs_linux::modem_sim::PowerlineForwarder;
use ccs_linux::tap::TapBridge;
use ccs_proto::homeplug::MacAddress;
use ccs_sim::modem::{ChipFlavour, ModemConfig, ModemRole};
use common::{Netns, Proc, TwoHosts, ccsplc, decode, unique};

const SESSION_LIMIT: Duration = Duration::from_secs(90);
const LISTENER_MODEM_MAC: MacAddress = MacAddress([0x98, 0x48, 0x27, 0x00, 0x00, 0x03]);

#[test]
fn the_listener_joins_with_the_sniffed_key_and_decodes_the_session() {
    let hosts = TwoHosts::new();
    let listener_ns = Netns::new(unique("lis"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (ev_ns, evse_ns, lis_ns) = (
        hosts.ev.name.clone(),
        hosts.evse.name.clone(),
        listener_ns.name.clone(),
    );
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    // The simulated line is not Send (its fault hook), so it lives on its own thread.
    let bridge = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let clock = Clock::new();
            let mut listener_modem = ModemConfig::new(
                ModemRole::Pev,
                ChipFlavour::TpLinkQca7420,
                LISTENER_MODEM_MAC,
            );
            listener_modem.forward_foreign_slac = true;
            listener_modem.forward_foreign_unicast = true;
            let forwarder = PowerlineForwarder::tp_link_pair(0x11_57E4, clock.now())
                .with_listener_modem(listener_modem, clock.now());
            let mut bridge = TapBridge::create(&ev_ns, &evse_ns, "plc0", forwarder, clock).unwrap();
            bridge.add_listener(&lis_ns, "plc0").unwrap();
            ready_tx.send(()).unwrap();
            let forwarder = bridge
                .run(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
            (forwarder.link_up(), forwarder.listener_joined())
        })
    });
    ready_rx.recv().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let listen_pcap = dir.path().join("listen.pcapng");
    // Default configuration: smart_listener = "join".
    let mut listener = Proc::spawn_in(
        &listener_ns.name,
        "listen",
        dir.path(),
        ccsplc(),
        &[
            "listen",
            "--interface",
            "plc0",
            "--pcap",
            listen_pcap.to_str().unwrap(),
        ],
        &[],
    );
    let mut evse = Proc::spawn_in(
        &hosts.evse.name,
        "evse",
        dir.path(),
        ccsplc(),
        &["evse", "--interface", "plc0", "--once"],
        &[],
    );
    let mut ev = Proc::spawn_in(
        &hosts.ev.name,
        "ev",
        dir.path(),
        ccsplc(),
        &["ev", "--interface", "plc0", "--charge-seconds", "4"],
        &[],
    );
    let ev_code = ev.wait_for(SESSION_LIMIT);
    let evse_code = evse.wait_for(Duration::from_secs(15));
    listener.signal("-INT");
    let listen_code = listener.wait_for(Duration::from_secs(10));
    let _ = stop.send(());
    let (link_up, listener_joined) = bridge.join().unwrap();
    let (ev_out, listen_out) = (ev.output(), listener.output());
    let all = format!(
        "--- ev:\n{ev_out}\n--- evse:\n{}\n--- listen:\n{listen_out}",
        evse.output()
    );
    assert_eq!(ev_code, Some(0), "{all}");
    assert_eq!(evse_code, Some(0), "{all}");
    assert_eq!(listen_code, Some(0), "{all}");
    assert!(link_up, "car and charger modems formed no AVLN");
    assert!(ev_out.contains("SLAC paired"), "{all}");

    // The key came from the sniffed CM_SLAC_MATCH.CNF, went into the listener's modem, and
    // the modem joined the car's and charger's network.
    assert!(listen_out.contains("CM_SLAC_MATCH.CNF"), "{listen_out}");
    assert!(
        listen_out.contains("joining the charging network: SET_KEY"),
        "{listen_out}"
    );
    assert!(listener_joined, "the listener's modem did not join:\n{all}");
    // After joining, the V2G traffic reaches the listener and is decoded live ...
    for seen in ["CurrentDemandReq", "CurrentDemandRes", "SessionStopRes"] {
        assert!(
            listen_out.contains(seen),
            "the listener missed {seen}:\n{listen_out}"
        );
    }
    // ... and its recording tells the same story, with its own log lines.
    let out = decode(&listen_pcap);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("CM_SET_KEY.REQ"), "{text}");
    assert!(text.contains("CurrentDemandReq"), "{text}");
    assert!(text.contains(" LOG "), "{text}");
}
