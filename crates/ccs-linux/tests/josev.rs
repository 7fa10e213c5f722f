//! Interop with Josev (the Python package `iso15118` 0.31.2, `reference/ecosystem.md` §5.1):
//! Josev's SECC runs in the charger's namespace; our SDP client must get a valid answer from it
//! (a port from the dynamic range) and our TCP connect to that port must succeed. The full
//! session against Josev needs the session machines and comes with them.
//!
//! Needs root and Josev in `.venv/josev` (`scripts/setup-josev.sh`, run by `scripts/setup.sh`).
// Tests may unwrap (COMMON.md); clippy.toml allows it only inside `#[test]` functions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use ccs_linux::clock::Clock;
use ccs_linux::sdp::{DEFAULT_SDP_HOP_LIMIT, discover_secc};
use ccs_linux::sys::netns::spawn_command_in_netns;
use ccs_linux::tcp::{ConnectOptions, connect};
use ccs_proto::sdp::{DYNAMIC_PORTS, SdpClientConfig};
use ccs_testdata::{ProcessGroup, josev_python};
use common::{TwoHosts, join, ready, spawn_async_in};

#[test]
fn josev_secc_answers_our_sdp_and_accepts_our_tcp_connection() {
    let python = josev_python();
    let hosts = TwoHosts::new().with_veth();
    let workdir = tempfile::tempdir().unwrap();
    let log_path = workdir.path().join("secc.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut command = Command::new(&python);
    command
        .args(["-m", "iso15118.secc.main"])
        // An empty working directory: Josev reads a `.env` file from it if there is one.
        .current_dir(workdir.path())
        .env("NETWORK_INTERFACE", "evse0")
        .env("PROTOCOLS", "DIN_SPEC_70121,ISO_15118_2,ISO_15118_20_DC")
        .env("AUTH_MODES", "EIM")
        .env("LOG_LEVEL", "INFO")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    let secc = ProcessGroup {
        child: spawn_command_in_netns(&mut command, &hosts.evse.name).unwrap(),
    };

    let ev = spawn_async_in(&hosts.ev.name, || async {
        let iface = ready("ev0").await;
        // Josev's JVM takes a few seconds to start: allow 100 requests (25 s).
        let mut config = SdpClientConfig::default();
        config.max_requests = 100;
        config.require_dynamic_port = true;
        let found = discover_secc(&iface, config, DEFAULT_SDP_HOP_LIMIT, &Clock::new())
            .await
            .map_err(|e| e.to_string())?;
        let conn = connect(found.address, found.tls, &ConnectOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        let peer = conn.peer();
        conn.close().await.map_err(|e| e.to_string())?;
        Ok::<_, String>((found, peer))
    });
    let result = join(ev);
    drop(secc);
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let (found, peer) = result.unwrap_or_else(|e| panic!("{e}\nJosev SECC log:\n{log}"));

    assert!(
        DYNAMIC_PORTS.contains(&found.address.port()),
        "Josev announced port {}",
        found.address.port()
    );
    assert!(!found.tls, "Josev answered a no-TLS request with TLS");
    assert!(found.address.ip().is_unicast_link_local());
    assert_eq!(peer, found.address);
    assert!(
        log.contains("SDPRequest") || log.contains("SDP"),
        "Josev's log does not mention SDP:\n{log}"
    );
}

#[test]
fn josev_evcc_finds_our_sdp_server_and_sends_its_handshake_over_our_v2gtp() {
    use ccs_linux::sdp::SdpResponder;
    use ccs_linux::tcp::V2gListener;
    use ccs_linux::v2g::V2gEvent;
    use ccs_proto::sdp::{SdpServer, SdpServerConfig};
    use ccs_proto::v2gtp::{DeframerConfig, PayloadType};

    let python = josev_python();
    let hosts = TwoHosts::new().with_veth();
    let workdir = tempfile::tempdir().unwrap();
    let config_path = workdir.path().join("evcc_config.json");
    std::fs::write(
        &config_path,
        r#"{"supportedProtocols": ["DIN_SPEC_70121"], "energyTransferMode": "DC_extended",
            "isCertInstallNeeded": false, "useTls": false, "chargeLoopCycle": 10}"#,
    )
    .unwrap();

    // Josev's EVCC gives up after its SDP retries: start it only once our responder listens and
    // its own ev0 has a usable link-local address (DAD done), or a loaded machine makes this flaky.
    let (listening, responder_bound) = std::sync::mpsc::channel::<()>();
    let secc = spawn_async_in(&hosts.evse.name, move || async move {
        let iface = ready("evse0").await;
        let listener = V2gListener::bind(&iface, 0, None, DeframerConfig::default()).unwrap();
        let server =
            SdpServer::new(SdpServerConfig::no_tls(iface.link_local, listener.port())).unwrap();
        let responder = SdpResponder::bind(&iface, server, Clock::new()).unwrap();
        let _ = listening.send(());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let sdp = tokio::spawn(responder.run(None, async {
            let _ = stopped.await;
        }));
        let accepted = tokio::time::timeout(Duration::from_secs(30), listener.accept()).await;
        let first = match accepted {
            Ok(Ok(mut conn)) => {
                let event = tokio::time::timeout(Duration::from_secs(30), conn.next_event()).await;
                let _ = conn.close().await;
                match event {
                    Ok(V2gEvent::Message(m)) => Ok(m),
                    other => Err(format!("no handshake message: {other:?}")),
                }
            }
            other => Err(format!("Josev did not connect: {other:?}")),
        };
        let _ = stop.send(());
        let stats = sdp.await.unwrap().unwrap();
        (first, stats)
    });
    let log_path = workdir.path().join("evcc.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut command = Command::new(&python);
    command
        .args(["-m", "iso15118.evcc.main"])
        .arg(&config_path)
        .current_dir(workdir.path())
        .env("NETWORK_INTERFACE", "ev0")
        .env("LOG_LEVEL", "INFO")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    responder_bound
        .recv_timeout(Duration::from_secs(30))
        .expect("our SDP responder is bound");
    join(spawn_async_in(&hosts.ev.name, || async {
        ready("ev0").await;
    }));
    let evcc = ProcessGroup {
        child: spawn_command_in_netns(&mut command, &hosts.ev.name).unwrap(),
    };
    let (first, stats) = join(secc);
    drop(evcc);
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let message = first.unwrap_or_else(|e| panic!("{e}\nJosev EVCC log:\n{log}"));
    assert_eq!(message.payload_type, PayloadType::Exi);
    // An EXI stream starts with the EXI header byte 0x80 (no cookie, no options).
    assert_eq!(message.payload.first(), Some(&0x80), "{message:?}");
    assert!(stats.answered >= 1, "{stats:?}");
}
