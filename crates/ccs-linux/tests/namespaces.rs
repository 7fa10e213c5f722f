//! Namespace tests: a car-side and a charger-side host in two network namespaces, joined by a
//! veth pair (a paired link: `--no-slac`) or by the TAP bridge of the modem simulator, talking
//! through the real kernel: SDP over UDP/IPv6 multicast, V2GTP over TCP, TLS 1.2 and 1.3, raw
//! HomePlug frames. Each test builds and removes its own namespaces. Needs root.
// Tests may unwrap (COMMON.md); clippy.toml allows it only inside `#[test]` functions, and
// the helpers here are plain functions of the test crate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{Ipv6Addr, SocketAddrV6};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use ccs_linux::clock::Clock;
use ccs_linux::link::{Link, LinkMode};
use ccs_linux::raw::ETHERTYPE_HOMEPLUG_AV;
use ccs_linux::sdp::{DEFAULT_SDP_HOP_LIMIT, DiscoveredSecc, SdpResponder, discover_secc};
use ccs_linux::tap::{AlwaysBridge, TapBridge};
use ccs_linux::tcp::{ConnectOptions, V2gListener, connect};
use ccs_linux::tls::testing::TestPki;
use ccs_linux::tls::{TlsClientConfig, TlsProfile, TlsServerConfig};
use ccs_linux::v2g::{TlsInfo, V2gConnection, V2gEvent};
use ccs_linux::{ConnectionError, LinkError};
use ccs_proto::sdp::{
    DYNAMIC_PORTS, SdpClientConfig, SdpServer, SdpServerConfig, SdpServerStats, TlsWish,
};
use ccs_proto::v2gtp::{DeframerConfig, PayloadType};
use common::{TwoHosts, join, ready, spawn_async_in};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

/// The messages the car sends and expects back: a small EXI message, one large enough to be
/// split into several TCP segments, and an ISO 15118-20 DC message.
fn test_messages() -> Vec<(PayloadType, Vec<u8>)> {
    vec![
        (PayloadType::Exi, vec![0x80, 0x00, 0xDB, 0xAB, 0x93, 0x71]),
        (
            PayloadType::Exi,
            (0..20_000u32).map(|i| (i % 251) as u8).collect(),
        ),
        (PayloadType::Iso20Dc, vec![0x80, 0x04]),
    ]
}

/// What the two sides of a test share: a sequence counter to order events across namespaces
/// without clocks, and the charger's signal that its SDP server is listening.
#[derive(Default)]
struct Shared {
    seq: AtomicU32,
    sdp_ready: tokio::sync::Notify,
    raw_ready: tokio::sync::Notify,
}

fn new_shared() -> Arc<Shared> {
    Arc::new(Shared::default())
}

/// How one served connection ended, seen from the charger.
#[derive(Debug)]
struct Served {
    echoed: usize,
    tls: Option<TlsInfo>,
    end: V2gEvent,
    /// The value of the shared sequence counter when the connection ended.
    ended_at_seq: u32,
}

/// What the charger did.
#[derive(Debug)]
struct SeccOutcome {
    announced_port: u16,
    served: Vec<Served>,
    sdp: SdpServerStats,
}

/// Echoes every message until the connection ends.
async fn echo(mut conn: V2gConnection, seq: &AtomicU32) -> Served {
    let tls = conn.tls_info().cloned();
    let mut echoed = 0;
    loop {
        match conn.next_event().await {
            V2gEvent::Message(m) => {
                conn.send(m.payload_type, &m.payload).await.unwrap();
                echoed += 1;
            }
            end => {
                return Served {
                    echoed,
                    tls,
                    end,
                    ended_at_seq: seq.fetch_add(1, Ordering::SeqCst),
                };
            }
        }
    }
}

/// The charger: V2G listener on a dynamic port, SDP server announcing it, `connections` cars
/// served one after the other.
async fn secc(
    ifname: &'static str,
    tls: Option<TlsServerConfig>,
    sdp_config: fn(Ipv6Addr, u16) -> SdpServerConfig,
    connections: usize,
    shared: Arc<Shared>,
) -> SeccOutcome {
    let iface = ready(ifname).await;
    let listener = V2gListener::bind(&iface, 0, tls.as_ref(), DeframerConfig::default()).unwrap();
    let server = SdpServer::new(sdp_config(iface.link_local, listener.port())).unwrap();
    let responder = SdpResponder::bind(&iface, server, Clock::new()).unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let sdp = tokio::spawn(responder.run(None, async {
        let _ = stopped.await;
    }));
    shared.sdp_ready.notify_one();
    let mut served = Vec::new();
    for _ in 0..connections {
        let conn = tokio::time::timeout(Duration::from_secs(20), listener.accept())
            .await
            .expect("no car connected within 20 s")
            .unwrap();
        served.push(echo(conn, &shared.seq).await);
    }
    let _ = stop.send(());
    let sdp = sdp.await.unwrap().unwrap();
    SeccOutcome {
        announced_port: listener.port(),
        served,
        sdp,
    }
}

/// What the car saw.
#[derive(Debug)]
struct EvOutcome {
    discovered: DiscoveredSecc,
    tls: Option<TlsInfo>,
}

/// The car: SDP, connect, send each message and check its echo, close cleanly.
async fn evcc(
    ifname: &'static str,
    sdp: SdpClientConfig,
    tls: Option<TlsClientConfig>,
    shared: Arc<Shared>,
) -> EvOutcome {
    let iface = ready(ifname).await;
    shared.sdp_ready.notified().await;
    let discovered = discover_secc(&iface, sdp, DEFAULT_SDP_HOP_LIMIT, &Clock::new())
        .await
        .unwrap();
    let mut options = ConnectOptions::default();
    options.tls = tls;
    let mut conn = connect(discovered.address, discovered.tls, &options)
        .await
        .unwrap();
    for (payload_type, payload) in test_messages() {
        conn.send(payload_type, &payload).await.unwrap();
        match conn.next_event().await {
            V2gEvent::Message(m) => {
                assert_eq!(m.payload_type, payload_type);
                assert_eq!(m.payload, payload);
            }
            other => panic!("expected the echo, got {other:?}"),
        }
    }
    let tls = conn.tls_info().cloned();
    conn.close().await.unwrap();
    EvOutcome { discovered, tls }
}

fn no_tls_sdp(address: Ipv6Addr, port: u16) -> SdpServerConfig {
    SdpServerConfig::no_tls(address, port)
}

fn tls_only_sdp(address: Ipv6Addr, port: u16) -> SdpServerConfig {
    SdpServerConfig::tls_only(address, port)
}

fn strict_no_tls_sdp(address: Ipv6Addr, port: u16) -> SdpServerConfig {
    let mut config = SdpServerConfig::no_tls(address, port);
    config.answer_tls_request_without_tls = false;
    config
}

#[test]
fn sdp_then_tcp_echo_over_veth() {
    let hosts = TwoHosts::new().with_veth();
    let shared = new_shared();
    let secc = spawn_async_in(&hosts.evse.name, {
        let shared = shared.clone();
        move || secc("evse0", None, no_tls_sdp, 1, shared)
    });
    let ev = spawn_async_in(&hosts.ev.name, move || async move {
        // A malformed datagram first: the SDP server must count and ignore it.
        let iface = ready("ev0").await;
        shared.sdp_ready.notified().await;
        shared.sdp_ready.notify_one(); // for evcc() below
        let garbage =
            tokio::net::UdpSocket::bind(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 0, 0, 0))
                .await
                .unwrap();
        let to = SocketAddrV6::new("ff02::1".parse().unwrap(), 15118, 0, iface.index);
        garbage
            .send_to(&[0x01, 0xFE, 0x90, 0x00], to)
            .await
            .unwrap();
        evcc("ev0", SdpClientConfig::default(), None, shared).await
    });
    let ev = join(ev);
    let secc = join(secc);

    assert!(DYNAMIC_PORTS.contains(&secc.announced_port));
    assert_eq!(ev.discovered.address.port(), secc.announced_port);
    assert!(ev.discovered.address.ip().is_unicast_link_local());
    assert_ne!(ev.discovered.address.scope_id(), 0);
    assert!(!ev.discovered.tls);
    assert!(ev.tls.is_none());
    assert_eq!(secc.served.len(), 1);
    assert_eq!(secc.served[0].echoed, test_messages().len());
    assert!(matches!(secc.served[0].end, V2gEvent::Closed));
    assert!(secc.sdp.answered >= 1);
    assert!(
        secc.sdp.malformed >= 1,
        "malformed SDP not counted: {:?}",
        secc.sdp
    );
}

#[test]
fn charger_serves_cars_one_at_a_time_and_reports_how_each_ended() {
    let hosts = TwoHosts::new().with_veth();
    let shared = new_shared();
    let secc = spawn_async_in(&hosts.evse.name, {
        let shared = shared.clone();
        move || secc("evse0", None, no_tls_sdp, 3, shared)
    });
    let ev = spawn_async_in(&hosts.ev.name, {
        let shared = shared.clone();
        move || async move {
            let iface = ready("ev0").await;
            shared.sdp_ready.notified().await;
            let found = discover_secc(
                &iface,
                SdpClientConfig::default(),
                DEFAULT_SDP_HOP_LIMIT,
                &Clock::new(),
            )
            .await
            .unwrap();
            let options = ConnectOptions::default();
            // Car A is served; car B connects meanwhile and must wait for its turn.
            let mut a = connect(found.address, false, &options).await.unwrap();
            a.send(PayloadType::Exi, b"A").await.unwrap();
            assert!(matches!(a.next_event().await, V2gEvent::Message(m) if m.payload == b"A"));
            let mut b = connect(found.address, false, &options).await.unwrap();
            b.send(PayloadType::Exi, b"B").await.unwrap();
            let b_echo = tokio::spawn(async move {
                let event = b.next_event().await;
                let at = shared.seq.fetch_add(1, Ordering::SeqCst);
                (event, at, b)
            });
            a.close().await.unwrap();
            let (event, b_echo_at, b) = b_echo.await.unwrap();
            assert!(matches!(event, V2gEvent::Message(m) if m.payload == b"B"));
            b.close().await.unwrap();

            // Car C sends a header with a wrong version: the charger closes the connection.
            let mut c = tokio::net::TcpStream::connect(found.address).await.unwrap();
            let good = ccs_proto::v2gtp::encode(PayloadType::Exi, b"C").unwrap();
            c.write_all(&good).await.unwrap();
            let mut echo = vec![0u8; good.len()];
            c.read_exact(&mut echo).await.unwrap();
            assert_eq!(echo, good);
            let mut bad = good.clone();
            bad[0] = 0x02;
            bad[1] = 0xFD;
            c.write_all(&bad).await.unwrap();
            let mut rest = Vec::new();
            c.read_to_end(&mut rest).await.unwrap();
            assert!(rest.is_empty(), "the charger answered a bad header");
            b_echo_at
        }
    });
    let b_echo_at = join(ev);
    let secc = join(secc);
    assert_eq!(secc.served.len(), 3);
    assert!(
        secc.served[0].ended_at_seq < b_echo_at,
        "car B was answered before car A's connection ended"
    );
    assert_eq!(secc.served[0].echoed, 1);
    assert!(matches!(secc.served[0].end, V2gEvent::Closed));
    assert_eq!(secc.served[1].echoed, 1);
    assert!(matches!(secc.served[1].end, V2gEvent::Closed));
    assert_eq!(secc.served[2].echoed, 1);
    assert!(matches!(
        secc.served[2].end,
        V2gEvent::Failed(ConnectionError::Framing(
            ccs_proto::v2gtp::DeframeError::WrongVersion {
                version: 0x02,
                inverse: 0xFD
            }
        ))
    ));
}

#[test]
fn broken_connection_is_reported_as_failure() {
    let hosts = TwoHosts::new().with_veth();
    let shared = new_shared();
    let secc = spawn_async_in(&hosts.evse.name, {
        let shared = shared.clone();
        move || secc("evse0", None, no_tls_sdp, 1, shared)
    });
    let ev = spawn_async_in(&hosts.ev.name, || async {
        let iface = ready("ev0").await;
        let found = discover_secc(
            &iface,
            SdpClientConfig::default(),
            DEFAULT_SDP_HOP_LIMIT,
            &Clock::new(),
        )
        .await
        .unwrap();
        let mut stream = tokio::net::TcpStream::connect(found.address).await.unwrap();
        let frame = ccs_proto::v2gtp::encode(PayloadType::Exi, b"x").unwrap();
        stream.write_all(&frame).await.unwrap();
        let mut echo = vec![0u8; frame.len()];
        stream.read_exact(&mut echo).await.unwrap();
        assert_eq!(echo, frame);
        // Reset instead of a clean close.
        stream.set_zero_linger().unwrap();
        drop(stream);
    });
    join(ev);
    let secc = join(secc);
    assert_eq!(secc.served[0].echoed, 1);
    assert!(
        matches!(
            secc.served[0].end,
            V2gEvent::Failed(ConnectionError::Broken(_))
        ),
        "got {:?}",
        secc.served[0].end
    );
}

#[test]
fn sdp_tls_request_fallbacks() {
    let hosts = TwoHosts::new().with_veth();
    let shared = new_shared();
    // A strict no-TLS charger ignores TLS requests: the car falls back after 3.
    let secc_strict = spawn_async_in(&hosts.evse.name, {
        let shared = shared.clone();
        move || secc("evse0", None, strict_no_tls_sdp, 1, shared)
    });
    let ev = spawn_async_in(&hosts.ev.name, move || async move {
        let mut config = SdpClientConfig::default();
        config.tls = TlsWish::PreferTls {
            fallback_after: Some(3),
        };
        evcc("ev0", config, None, shared).await
    });
    let ev = join(ev);
    let strict = join(secc_strict);
    assert!(!ev.discovered.tls);
    assert!(
        ev.discovered.stats.requests_sent >= 4,
        "stats: {:?}",
        ev.discovered.stats
    );
    // The three TLS requests were ignored, the first no-TLS one answered.
    assert_eq!(strict.sdp.ignored, 3, "stats: {:?}", strict.sdp);
    assert_eq!(strict.sdp.answered, 1, "stats: {:?}", strict.sdp);

    // A pyPLC-style charger answers the TLS request with no-TLS at once.
    let shared = new_shared();
    let secc_pyplc = spawn_async_in(&hosts.evse.name, {
        let shared = shared.clone();
        move || secc("evse0", None, no_tls_sdp, 1, shared)
    });
    let ev = spawn_async_in(&hosts.ev.name, move || async move {
        let mut config = SdpClientConfig::default();
        config.tls = TlsWish::PreferTls {
            fallback_after: None,
        };
        evcc("ev0", config, None, shared).await
    });
    let ev = join(ev);
    let pyplc = join(secc_pyplc);
    assert!(!ev.discovered.tls);
    assert_eq!(pyplc.sdp.ignored, 0);
}

fn tls_pki() -> (tempfile::TempDir, TestPki) {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path()).unwrap();
    (dir, pki)
}

#[test]
fn tls12_iso15118_2_echo_with_key_log() {
    let hosts = TwoHosts::new().with_veth();
    let (dir, pki) = tls_pki();
    let key_log = dir.path().join("keys.log");
    let mut server = TlsServerConfig::new(
        TlsProfile::Iso15118_2,
        pki.secc.chain.clone(),
        pki.secc.key.clone(),
    );
    server.key_log = Some(key_log.clone());
    let client = TlsClientConfig::new(TlsProfile::Iso15118_2, pki.root.clone());

    let shared = new_shared();
    let secc = spawn_async_in(&hosts.evse.name, {
        let shared = shared.clone();
        move || secc("evse0", Some(server), tls_only_sdp, 1, shared)
    });
    let ev = spawn_async_in(&hosts.ev.name, move || async move {
        let mut config = SdpClientConfig::default();
        config.tls = TlsWish::RequireTls;
        evcc("ev0", config, Some(client), shared).await
    });
    let ev = join(ev);
    let secc = join(secc);

    assert!(ev.discovered.tls);
    let tls = ev.tls.expect("TLS info");
    assert_eq!(tls.version, "TLSv1.2");
    assert_eq!(tls.cipher, "ECDHE-ECDSA-AES128-SHA256");
    assert!(tls.peer_subject.unwrap().contains("ccsplc test SECC"));
    let served = &secc.served[0];
    assert_eq!(served.echoed, test_messages().len());
    assert_eq!(
        served.tls.as_ref().unwrap().cipher,
        "ECDHE-ECDSA-AES128-SHA256"
    );
    // One-sided authentication in ISO 15118-2: the car presents no certificate.
    assert_eq!(served.tls.as_ref().unwrap().peer_subject, None);
    assert!(matches!(served.end, V2gEvent::Closed));
    let log = std::fs::read_to_string(&key_log).unwrap();
    assert!(
        log.lines().any(|l| l.starts_with("CLIENT_RANDOM ")),
        "key log: {log}"
    );
}

#[test]
fn tls13_iso15118_20_mutual_auth_echo() {
    let hosts = TwoHosts::new().with_veth();
    let (dir, pki) = tls_pki();
    let key_log = dir.path().join("keys13.log");
    let mut server = TlsServerConfig::new(
        TlsProfile::Iso15118_20,
        pki.secc.chain.clone(),
        pki.secc.key.clone(),
    );
    server.client_ca = Some(pki.root.clone());
    let mut client = TlsClientConfig::new(TlsProfile::Iso15118_20, pki.root.clone());
    client.certificate_chain = Some(pki.evcc.chain.clone());
    client.private_key = Some(pki.evcc.key.clone());
    client.key_log = Some(key_log.clone());

    let shared = new_shared();
    let secc = spawn_async_in(&hosts.evse.name, {
        let shared = shared.clone();
        move || secc("evse0", Some(server), tls_only_sdp, 1, shared)
    });
    let ev = spawn_async_in(&hosts.ev.name, move || async move {
        let mut config = SdpClientConfig::default();
        config.tls = TlsWish::RequireTls;
        evcc("ev0", config, Some(client), shared).await
    });
    let ev = join(ev);
    let secc = join(secc);

    let tls = ev.tls.expect("TLS info");
    assert_eq!(tls.version, "TLSv1.3");
    assert_eq!(tls.cipher, "TLS_AES_256_GCM_SHA384");
    let served = &secc.served[0];
    assert_eq!(served.echoed, test_messages().len());
    assert!(
        served
            .tls
            .as_ref()
            .and_then(|t| t.peer_subject.clone())
            .is_some_and(|s| s.contains("ccsplc test EVCC")),
        "the charger must have seen the car's certificate: {served:?}"
    );
    let log = std::fs::read_to_string(&key_log).unwrap();
    assert!(log.contains("CLIENT_TRAFFIC_SECRET_0"), "key log: {log}");
}

#[test]
fn tls_handshake_fails_against_an_untrusted_charger() {
    let hosts = TwoHosts::new().with_veth();
    let (_dir, pki) = tls_pki();
    let (_other_dir, other) = tls_pki();
    let server = TlsServerConfig::new(
        TlsProfile::Iso15118_2,
        pki.secc.chain.clone(),
        pki.secc.key.clone(),
    );
    // The car trusts a different root.
    let client = TlsClientConfig::new(TlsProfile::Iso15118_2, other.root.clone());
    let secc = spawn_async_in(&hosts.evse.name, move || async move {
        let iface = ready("evse0").await;
        let listener =
            V2gListener::bind(&iface, 0, Some(&server), DeframerConfig::default()).unwrap();
        let port = listener.port();
        let (tx, rx) = oneshot::channel::<()>();
        let responder = SdpResponder::bind(
            &iface,
            SdpServer::new(tls_only_sdp(iface.link_local, port)).unwrap(),
            Clock::new(),
        )
        .unwrap();
        let sdp = tokio::spawn(responder.run(None, async {
            let _ = rx.await;
        }));
        let accepted = listener.accept().await;
        let _ = tx.send(());
        let _ = sdp.await;
        accepted.map(|_| ())
    });
    let ev = spawn_async_in(&hosts.ev.name, move || async move {
        let iface = ready("ev0").await;
        let mut config = SdpClientConfig::default();
        config.tls = TlsWish::RequireTls;
        let found = discover_secc(&iface, config, DEFAULT_SDP_HOP_LIMIT, &Clock::new())
            .await
            .unwrap();
        let mut options = ConnectOptions::default();
        options.tls = Some(client);
        connect(found.address, true, &options).await.map(|_| ())
    });
    let ev = join(ev);
    let secc = join(secc);
    assert!(
        matches!(ev, Err(LinkError::TlsHandshake { .. })),
        "got {ev:?}"
    );
    assert!(secc.is_err(), "the charger accepted a failed handshake");
}

/// A CM_SLAC_PARM.REQ-shaped broadcast frame from `mac`, padded to 60 bytes.
fn homeplug_frame(src: [u8; 6], marker: u8) -> Vec<u8> {
    let mut frame = vec![0xFF; 6];
    frame.extend_from_slice(&src);
    frame.extend_from_slice(&ETHERTYPE_HOMEPLUG_AV.to_be_bytes());
    frame.extend_from_slice(&[0x01, 0x64, 0x60, 0x00, 0x00, 0x00, 0x00, marker]);
    frame.resize(60, 0);
    frame
}

#[test]
fn homeplug_frames_cross_a_direct_link_without_modem() {
    let hosts = TwoHosts::new().with_veth();
    let (ready_tx, ready_rx) = oneshot::channel::<()>();
    let evse = spawn_async_in(&hosts.evse.name, move || async move {
        let link = Link::open(LinkMode::NoModem, "evse0", common::READY_TIMEOUT)
            .await
            .unwrap();
        let raw = link.raw.as_ref().expect("SLAC needs the raw socket");
        let _ = ready_tx.send(());
        let mut buf = [0u8; 1514];
        let n = raw.recv(&mut buf).await.unwrap();
        let request = buf[..n].to_vec();
        raw.send(&homeplug_frame(link.interface.mac, 0xBB))
            .await
            .unwrap();
        (request, link.interface.mac)
    });
    let ev = spawn_async_in(&hosts.ev.name, move || async move {
        let no_slac = Link::open(LinkMode::NoSlac, "ev0", common::READY_TIMEOUT)
            .await
            .unwrap();
        assert!(no_slac.raw.is_none(), "--no-slac opens no raw socket");
        let link = Link::open(LinkMode::NoModem, "ev0", common::READY_TIMEOUT)
            .await
            .unwrap();
        let raw = link.raw.as_ref().unwrap();
        ready_rx.await.unwrap();
        raw.send(&homeplug_frame(link.interface.mac, 0xAA))
            .await
            .unwrap();
        // The first frame we see is the answer, not our own transmission.
        let mut buf = [0u8; 1514];
        let n = raw.recv(&mut buf).await.unwrap();
        (buf[..n].to_vec(), link.interface.mac)
    });
    let (answer, ev_mac) = join(ev);
    let (request, evse_mac) = join(evse);
    assert_eq!(request, homeplug_frame(ev_mac, 0xAA));
    assert_eq!(answer, homeplug_frame(evse_mac, 0xBB));
    assert_ne!(ev_mac, evse_mac);
}

#[test]
fn tap_bridge_carries_sdp_tcp_and_homeplug_frames() {
    let hosts = TwoHosts::new();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let bridge = rt
        .block_on(async {
            TapBridge::create(
                &hosts.ev.name,
                &hosts.evse.name,
                "plc0",
                AlwaysBridge::new(),
                Clock::new(),
            )
        })
        .unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let bridge = rt.spawn(bridge.run(async {
        let _ = stopped.await;
    }));

    let shared = new_shared();
    let secc = spawn_async_in(&hosts.evse.name, {
        let shared = shared.clone();
        move || async move {
            let outcome = secc("plc0", None, no_tls_sdp, 1, shared.clone()).await;
            let link = Link::open(LinkMode::Modem, "plc0", common::READY_TIMEOUT)
                .await
                .unwrap();
            let raw = link.raw.as_ref().unwrap();
            shared.raw_ready.notify_one();
            let mut buf = [0u8; 1514];
            let n = raw.recv(&mut buf).await.unwrap();
            (outcome, buf[..n].to_vec())
        }
    });
    let ev = spawn_async_in(&hosts.ev.name, move || async move {
        let outcome = evcc("plc0", SdpClientConfig::default(), None, shared.clone()).await;
        let link = Link::open(LinkMode::Modem, "plc0", common::READY_TIMEOUT)
            .await
            .unwrap();
        shared.raw_ready.notified().await;
        let frame = homeplug_frame(link.interface.mac, 0xCC);
        link.raw.as_ref().unwrap().send(&frame).await.unwrap();
        (outcome, frame)
    });
    let (ev, sent_frame) = join(ev);
    let (secc, received_frame) = join(secc);
    let _ = stop.send(());
    let forwarder = rt.block_on(bridge).unwrap().unwrap();

    assert_eq!(ev.discovered.address.port(), secc.announced_port);
    assert_eq!(secc.served[0].echoed, test_messages().len());
    assert_eq!(received_frame, sent_frame);
    // Neighbour discovery, SDP, TCP and the HomePlug frame all went through the bridge.
    assert!(
        forwarder.forwarded() > 10,
        "only {} frames",
        forwarder.forwarded()
    );
}

/// SLAC on a direct link without modems (`--no-modem`): both SLAC machines over raw sockets on
/// the veth pair, then SDP and TCP as after a real pairing.
#[test]
fn slac_then_sdp_and_tcp_over_veth_without_modem() {
    use ccs_linux::slac::{random_bytes, random_nmk, run_slac};
    use ccs_proto::homeplug::MacAddress;
    use ccs_proto::slac::{EvSlac, EvSlacConfig, EvseSlac, EvseSlacConfig, ModemMode};

    let hosts = TwoHosts::new().with_veth();
    let shared = new_shared();
    let evse = spawn_async_in(&hosts.evse.name, {
        let shared = shared.clone();
        move || async move {
            let link = Link::open(LinkMode::NoModem, "evse0", common::READY_TIMEOUT)
                .await
                .unwrap();
            let clock = Clock::new();
            let mut config = EvseSlacConfig::default();
            config.modem = ModemMode::None;
            let mut machine = EvseSlac::new(
                config,
                MacAddress::from(link.interface.mac),
                random_nmk().unwrap(),
                clock.now(),
            );
            shared.raw_ready.notify_one();
            let paired = run_slac(link.raw.as_ref().unwrap(), &mut machine, &clock, |_| {})
                .await
                .unwrap();
            let outcome = secc("evse0", None, no_tls_sdp, 1, shared).await;
            (paired, outcome)
        }
    });
    let ev = spawn_async_in(&hosts.ev.name, move || async move {
        let link = Link::open(LinkMode::NoModem, "ev0", common::READY_TIMEOUT)
            .await
            .unwrap();
        let clock = Clock::new();
        let mut config = EvSlacConfig::default();
        config.modem = ModemMode::None;
        let mut machine = EvSlac::new(
            config,
            MacAddress::from(link.interface.mac),
            random_bytes().unwrap(),
        );
        shared.raw_ready.notified().await;
        machine.start(clock.now());
        let paired = run_slac(link.raw.as_ref().unwrap(), &mut machine, &clock, |_| {})
            .await
            .unwrap();
        let outcome = evcc("ev0", SdpClientConfig::default(), None, shared).await;
        (paired, outcome, link.interface.mac)
    });
    let (ev_paired, ev, ev_mac) = join(ev);
    let (evse_paired, secc) = join(evse);
    assert_eq!(ev_paired.nmk, evse_paired.nmk);
    assert_eq!(ev_paired.nid, evse_paired.nid);
    assert_eq!(ev_paired.run_id, evse_paired.run_id);
    assert_eq!(ev_paired.ev_mac, MacAddress::from(ev_mac));
    assert_eq!(ev.discovered.address.port(), secc.announced_port);
    assert_eq!(secc.served[0].echoed, test_messages().len());
}

/// The whole link setup of a real charging station, in the kernel: two TAPs joined by the
/// simulated TP-Link modems of `ccs-sim`. Before SLAC, SDP gets no answer (the modems carry
/// only SLAC); SLAC keys both modems into one AVLN; then SDP and TCP work.
#[test]
fn slac_then_sdp_and_tcp_over_the_tap_modem_simulator() {
    use ccs_linux::modem_sim::PowerlineForwarder;
    use ccs_linux::slac::{random_bytes, random_nmk, run_slac};
    use ccs_proto::homeplug::MacAddress;
    use ccs_proto::sdp::SdpClientError;
    use ccs_proto::slac::{EvSlac, EvSlacConfig, EvseSlac, EvseSlacConfig};

    let hosts = TwoHosts::new();
    // The simulated line is not Send (its fault hook), so it lives on its own thread.
    let (stop, stopped) = oneshot::channel::<()>();
    let (ev_ns, evse_ns) = (hosts.ev.name.clone(), hosts.evse.name.clone());
    let (bridge_ready_tx, bridge_ready_rx) = std::sync::mpsc::channel();
    let bridge = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let clock = Clock::new();
            let forwarder = PowerlineForwarder::tp_link_pair(0x5EED, clock.now());
            let bridge = TapBridge::create(&ev_ns, &evse_ns, "plc0", forwarder, clock).unwrap();
            bridge_ready_tx.send(()).unwrap();
            let forwarder = bridge
                .run(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
            forwarder.link_up()
        })
    });
    bridge_ready_rx.recv().unwrap();

    let shared = new_shared();
    let evse = spawn_async_in(&hosts.evse.name, {
        let shared = shared.clone();
        move || async move {
            let link = Link::open(LinkMode::Modem, "plc0", common::READY_TIMEOUT)
                .await
                .unwrap();
            let clock = Clock::new();
            let mut machine = EvseSlac::new(
                EvseSlacConfig::default(),
                MacAddress::from(link.interface.mac),
                random_nmk().unwrap(),
                clock.now(),
            );
            let slac = run_slac(link.raw.as_ref().unwrap(), &mut machine, &clock, |_| {});
            // The SDP server and the listener run from the start, as on a real charger.
            let v2g = secc("plc0", None, no_tls_sdp, 1, shared);
            let (paired, outcome) = tokio::join!(slac, v2g);
            (paired.unwrap(), outcome)
        }
    });
    let ev = spawn_async_in(&hosts.ev.name, move || async move {
        let link = Link::open(LinkMode::Modem, "plc0", common::READY_TIMEOUT)
            .await
            .unwrap();
        shared.sdp_ready.notified().await;
        // Before pairing: the charger's SDP server is up, but the modems carry no IPv6.
        let mut quick = SdpClientConfig::default();
        quick.max_requests = 4;
        let before = discover_secc(&link.interface, quick, DEFAULT_SDP_HOP_LIMIT, &Clock::new())
            .await
            .map(|found| found.address);
        let clock = Clock::new();
        let mut machine = EvSlac::new(
            EvSlacConfig::default(),
            MacAddress::from(link.interface.mac),
            random_bytes().unwrap(),
        );
        machine.start(clock.now());
        let paired = run_slac(link.raw.as_ref().unwrap(), &mut machine, &clock, |_| {})
            .await
            .unwrap();
        shared.sdp_ready.notify_one(); // evcc() waits for it again
        let outcome = evcc("plc0", SdpClientConfig::default(), None, shared).await;
        (before, paired, outcome)
    });
    let (before, ev_paired, ev) = join(ev);
    let (evse_paired, secc) = join(evse);
    let _ = stop.send(());
    let link_up = bridge.join().unwrap();

    assert!(
        matches!(
            before,
            Err(LinkError::Sdp(SdpClientError::NoResponse { requests: 4 }))
        ),
        "SDP crossed the modems before SLAC: {before:?}"
    );
    assert_eq!(ev_paired.nmk, evse_paired.nmk);
    assert_eq!(ev_paired.nid, evse_paired.nid);
    assert_eq!(ev.discovered.address.port(), secc.announced_port);
    assert_eq!(secc.served[0].echoed, test_messages().len());
    assert!(link_up, "the simulated modems do not report the AVLN");
}
