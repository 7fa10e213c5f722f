//! The charger's CurrentDemand response time over a real TCP connection: from the request's
//! bytes leaving the car's socket to the whole response arriving back, per request.
//!
//! The charger is ccsplc's own: a DIN [`SeccSession`] (brought into the CurrentDemand loop by
//! our car under the virtual clock) behind [`run_session`] on a [`V2gListener`], fed with
//! measurements every 20 ms as the hardware adapters would. The car side is a plain blocking
//! socket that sends the same CurrentDemandReq (V2GTP-framed) again as soon as the response
//! is in, and records each round trip.
//!
//! ```text
//! cd_latency [--requests N]                      # both ends in this process, over [::1]
//! cd_latency --serve IFACE [--port P]           # the charger, on IFACE's link-local address
//! cd_latency --client ADDR%IFACE [--port P] [--requests N]   # the car
//! ```
//!
//! `scripts/bench.sh` runs it over loopback and over a veth pair between two network
//! namespaces. Results are printed as percentiles in microseconds; see BENCHMARKS.md.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "../../ccs-proto/tests/din_support/mod.rs"]
mod din_support;

use std::io::{Read, Write};
use std::net::{Ipv6Addr, SocketAddrV6, TcpStream};
use std::time::{Duration, Instant};

use ccs_linux::clock::Clock;
use ccs_linux::iface::Interface;
use ccs_linux::session::{SessionIo, run_session};
use ccs_linux::tcp::V2gListener;
use ccs_proto::hardware::HardwareEvent;
use ccs_proto::session::{Outcome, SessionEvent};
use ccs_proto::v2gtp::{self, DeframerConfig, PayloadType};
use din_support::{Pair, Side};
use tokio::sync::mpsc;

const DEFAULT_PORT: u16 = 61_851;
const WARMUP: usize = 200;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// Our car and charger under the virtual clock until the charger has answered its first
/// CurrentDemandReq: the charger session in the loop, the plant, and that request.
fn charger_in_current_demand() -> (Pair, Vec<u8>) {
    let mut pair = Pair::din();
    pair.connect();
    pair.run_until(ccs_proto::time::Duration::from_secs(120), |p| {
        p.charger_events.iter().any(
            |(_, e)| matches!(e, SessionEvent::Sent { name, .. } if *name == "CurrentDemandRes"),
        )
    });
    let request = pair
        .transcript
        .iter()
        .rev()
        .find(|(side, _)| *side == Side::Car)
        .map(|(_, bytes)| bytes.clone())
        .expect("the car sent no request");
    (pair, request)
}

/// Serves one connection with the charger in the CurrentDemand loop; returns how many
/// CurrentDemandRes it sent.
fn serve(iface: Interface, port: u16, ready: Option<std::sync::mpsc::Sender<()>>) -> usize {
    let (pair, _) = charger_in_current_demand();
    let mut charger = pair.charger.clone();
    let measurements = pair.plant.charger_measurements();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let listener = V2gListener::bind(&iface, port, None, DeframerConfig::default())
            .expect("cannot bind the charger's port");
        if let Some(ready) = ready {
            let _ = ready.send(());
        }
        eprintln!("charger listening on {}", listener.local_addr());
        let conn = listener.accept().await.expect("accept");
        let (hw_tx, hardware) = mpsc::unbounded_channel();
        let (_stop_tx, stop) = mpsc::unbounded_channel();
        let (commands, _commands_rx) = mpsc::unbounded_channel();
        let (events, mut events_rx) = mpsc::unbounded_channel();
        // The hardware adapters publish continuously; the session needs fresh values.
        tokio::spawn(async move {
            loop {
                for m in &measurements {
                    if hw_tx.send(HardwareEvent::Measurement(*m)).is_err() {
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        let counter = tokio::spawn(async move {
            let mut answered = 0;
            while let Some(e) = events_rx.recv().await {
                match e {
                    SessionEvent::Sent {
                        name: "CurrentDemandRes",
                        ..
                    } => answered += 1,
                    SessionEvent::Failing(err) => eprintln!("charger failing: {err}"),
                    _ => {}
                }
            }
            answered
        });
        let mut io = SessionIo {
            hardware,
            stop,
            commands,
            events,
        };
        let outcome = run_session(conn, &mut charger, &Clock::new(), &mut io).await;
        if let Some(Outcome::Failed(e)) = outcome {
            eprintln!("charger session failed: {e}");
        }
        drop(io);
        counter.await.unwrap()
    })
}

/// Sends `requests` CurrentDemandReq one after the other; returns the round-trip times.
fn client(address: SocketAddrV6, requests: usize) -> Vec<Duration> {
    let (_, request) = charger_in_current_demand();
    let frame = v2gtp::encode(PayloadType::Exi, &request).unwrap();
    let mut stream = TcpStream::connect(address).expect("cannot connect to the charger");
    stream.set_nodelay(true).unwrap();
    let mut header = [0u8; v2gtp::HEADER_LEN];
    let mut payload = vec![0u8; 256];
    let mut times = Vec::with_capacity(requests);
    for n in 0..WARMUP + requests {
        let start = Instant::now();
        stream.write_all(&frame).unwrap();
        stream.read_exact(&mut header).unwrap();
        let view = v2gtp::Header::new_unchecked(&header[..]);
        let repr = v2gtp::HeaderRepr::parse(&view)
            .unwrap_or_else(|e| panic!("bad V2GTP header {header:02x?}: {e:?}"));
        let len = repr.payload_length as usize;
        payload.resize(len, 0);
        stream.read_exact(&mut payload).unwrap();
        let elapsed = start.elapsed();
        if n >= WARMUP {
            times.push(elapsed);
        }
    }
    times
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p / 100.0).round() as usize;
    sorted[idx].as_secs_f64() * 1e6
}

fn report(label: &str, mut times: Vec<Duration>) {
    times.sort();
    let mean = times.iter().sum::<Duration>().as_secs_f64() * 1e6 / times.len() as f64;
    println!(
        "{label}: n={} min={:.1} p50={:.1} p90={:.1} p99={:.1} p99.9={:.1} max={:.1} mean={:.1} (us)",
        times.len(),
        percentile(&times, 0.0),
        percentile(&times, 50.0),
        percentile(&times, 90.0),
        percentile(&times, 99.0),
        percentile(&times, 99.9),
        percentile(&times, 100.0),
        mean
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let requests: usize = arg(&args, "--requests").map_or(10_000, |s| s.parse().unwrap());
    let port: u16 = arg(&args, "--port").map_or(DEFAULT_PORT, |s| s.parse().unwrap());
    if let Some(name) = arg(&args, "--serve") {
        let iface = Interface::lookup(&name).expect("interface");
        let answered = serve(iface, port, None);
        eprintln!("charger answered {answered} CurrentDemandReq");
        return;
    }
    if let Some(target) = arg(&args, "--client") {
        let (ip, scope) = target.split_once('%').unwrap_or((&target, "lo"));
        let ip: Ipv6Addr = ip.parse().expect("IPv6 address");
        let index = ccs_linux::sys::ifaddr::interface_index(scope).expect("interface");
        let times = client(SocketAddrV6::new(ip, port, 0, index), requests);
        report(
            &format!("CurrentDemand round trip to [{target}]:{port}"),
            times,
        );
        return;
    }
    // Both ends in this process over the loopback interface.
    let iface = Interface {
        name: "lo".to_owned(),
        index: 0,
        mac: [0x02, 0, 0, 0, 0x5e, 0x01],
        link_local: Ipv6Addr::LOCALHOST,
    };
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || serve(iface, port, Some(ready_tx)));
    ready_rx.recv().unwrap();
    let times = client(SocketAddrV6::new(Ipv6Addr::LOCALHOST, port, 0, 0), requests);
    let answered = server.join().unwrap();
    assert_eq!(answered, WARMUP + requests, "every request answered");
    report("CurrentDemand round trip over TCP loopback [::1]", times);
}
