//! Test support: a mosquitto broker of our own on a free loopback port, and a test client.

// Test support: a panic here is a test failure, so unwrapping is fine.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ccs_io::SourcedEvent;
use ccs_proto::hardware::HardwareEvent;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;

/// A mosquitto process killed when dropped.
pub struct Broker {
    pub port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

fn mosquitto_binary() -> PathBuf {
    for candidate in ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"] {
        if std::path::Path::new(candidate).exists() {
            return candidate.into();
        }
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("mosquitto"))
            .find(|p| p.exists())
    });
    found.expect("mosquitto is not installed: run scripts/setup.sh (apt-get install mosquitto)")
}

impl Broker {
    /// Starts a broker on a free port.
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut broker = Self {
            port,
            child: None,
            dir: tempfile::tempdir().unwrap(),
        };
        broker.restart();
        broker
    }

    /// Starts (again) on the same port.
    pub fn restart(&mut self) {
        assert!(self.child.is_none());
        let conf = self.dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {} 127.0.0.1\nallow_anonymous true\npersistence false\n",
                self.port
            ),
        )
        .unwrap();
        let child = Command::new(mosquitto_binary())
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        for _ in 0..200 {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("mosquitto did not start listening on port {}", self.port);
    }

    /// Kills the broker (the port stays ours for `restart`).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A test client standing in for the BMS or the power supply: subscribes to everything under
/// `base/#` and collects what it sees.
pub struct TestClient {
    pub client: AsyncClient,
    pub seen: mpsc::UnboundedReceiver<(String, String)>,
    /// Received but not yet consumed by `expect` / `next_on` (they look for one topic).
    unread: std::collections::VecDeque<(String, String)>,
    base: String,
}

impl TestClient {
    pub async fn connect(port: u16, base: &str) -> Self {
        static NEXT_ID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut options = MqttOptions::new(format!("test-peer-{id}"), "127.0.0.1", port);
        options.set_keep_alive(Duration::from_secs(5));
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let (tx, seen) = mpsc::unbounded_channel();
        let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
        let sub = client.clone();
        let filter = format!("{base}/#");
        tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        sub.subscribe(filter.clone(), QoS::AtLeastOnce)
                            .await
                            .unwrap();
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = ready_tx.send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let payload = String::from_utf8_lossy(&p.payload).into_owned();
                        if tx.send((p.topic.clone(), payload)).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(10), ready_rx.recv())
            .await
            .expect("test client did not subscribe");
        Self {
            client,
            seen,
            unread: std::collections::VecDeque::new(),
            base: base.to_owned(),
        }
    }

    pub async fn publish(&self, name: &str, payload: &str) {
        self.client
            .publish(
                format!("{}/{name}", self.base),
                QoS::AtLeastOnce,
                false,
                payload,
            )
            .await
            .unwrap();
    }

    /// The next unread message on `base/name`; messages on other topics stay unread.
    pub async fn next_on(&mut self, name: &str) -> String {
        let topic = format!("{}/{name}", self.base);
        if let Some(i) = self.unread.iter().position(|(t, _)| *t == topic) {
            return self.unread.remove(i).map(|(_, p)| p).unwrap();
        }
        let wait = async {
            while let Some((t, p)) = self.seen.recv().await {
                if t == topic {
                    return p;
                }
                self.unread.push_back((t, p));
            }
            panic!("test client ended");
        };
        tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .unwrap_or_else(|_| panic!("nothing on {topic}"))
    }

    /// The topics of messages received so far but not consumed, after draining what has
    /// arrived.
    pub fn unread_topics(&mut self) -> Vec<String> {
        while let Ok(message) = self.seen.try_recv() {
            self.unread.push_back(message);
        }
        self.unread.iter().map(|(t, _)| t.clone()).collect()
    }

    /// Waits for `base/name` to carry `payload`, skipping earlier messages on that topic.
    pub async fn expect(&mut self, name: &str, payload: &str) {
        let mut skipped = Vec::new();
        loop {
            let p = tokio::time::timeout(Duration::from_secs(10), self.next_on(name))
                .await
                .unwrap_or_else(|_| panic!("no {payload:?} on {name}; saw {skipped:?}"));
            if p == payload {
                return;
            }
            skipped.push(p);
        }
    }
}

/// Waits for an event matching `pred` (skipping others), with a generous timeout.
pub async fn wait_for_event(
    events: &mut mpsc::UnboundedReceiver<SourcedEvent>,
    what: &str,
    mut pred: impl FnMut(&HardwareEvent) -> bool,
) -> HardwareEvent {
    let wait = async {
        while let Some(ev) = events.recv().await {
            if pred(&ev.event) {
                return ev.event;
            }
        }
        panic!("adapter ended while waiting for {what}");
    };
    tokio::time::timeout(Duration::from_secs(15), wait)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// A TCP relay in front of the broker with a gate: while closed, new connections are dropped
/// at once. Lets a test decide when the adapter may reconnect.
pub struct Relay {
    pub port: u16,
    open: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Relay {
    pub async fn start(upstream: u16) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = std::sync::Arc::new(AtomicBool::new(true));
        let gate = open.clone();
        tokio::spawn(async move {
            while let Ok((mut down, _)) = listener.accept().await {
                if !gate.load(Ordering::SeqCst) {
                    continue;
                }
                tokio::spawn(async move {
                    if let Ok(mut up) =
                        tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                    }
                });
            }
        });
        Self { port, open }
    }

    pub fn set_open(&self, open: bool) {
        self.open.store(open, std::sync::atomic::Ordering::SeqCst);
    }
}
