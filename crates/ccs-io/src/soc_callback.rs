//! pyPLC's SoC callback (charger mode, `soc_callback_enabled`): the vehicle's SoC, full SoC,
//! battery capacity, energy request and EVCCID as an HTTP POST to `soc_callback_endpoint`,
//! as SmartEVSE consumes it (pyPLC `evseNoGui.py`, `reference/pyplc-behaviour.md` §10):
//!
//! ```text
//! POST <endpoint>?current_soc=55&full_soc=100&energy_capacity=64000&energy_request=20000&evccid=0a1b2c3d4e5f
//! ```
//!
//! Capacity and request are in Wh, `-1` when unknown (pyPLC turns the car's 0 into -1 too);
//! without a capacity from the car the configured fallback is sent. pyPLC posts on every
//! request that carries a SoC; this adapter posts when the values change, at most once per
//! `min_interval`. A failing endpoint is logged, not a fault: it must not stop a DC session.

use std::fmt::Write as _;

use ccs_proto::hardware::{HardwareCommand, VehicleBatteryReport, WattHours};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Duration, Instant};

use crate::adapter::{AdapterError, AdapterIo, HardwareAdapter};

/// Where to post and what to assume.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SocCallbackConfig {
    /// `http://host[:port]/path` (pyPLC `soc_callback_endpoint`; SmartEVSE:
    /// `http://<ip>/ev_state`). Only plain HTTP.
    pub endpoint: String,
    /// Sent when the car reports no capacity. pyPLC's `soc_fallback_energy_capacity` is in
    /// units of 10 Wh (2700 → 27 kWh): the binary multiplies by 10.
    pub fallback_energy_capacity: Option<WattHours>,
    /// At most one post per this interval.
    pub min_interval: Duration,
    /// Connect + request + response timeout.
    pub timeout: Duration,
}

impl SocCallbackConfig {
    /// Posts to `endpoint`, pyPLC's fallback (27 kWh), at most once a second.
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            fallback_energy_capacity: Some(WattHours(27_000.0)),
            min_interval: Duration::from_secs(1),
            timeout: Duration::from_secs(5),
        }
    }
}

/// A parsed `http://` URL.
#[derive(Clone, Debug, Eq, PartialEq)]
struct HttpUrl {
    host: String,
    port: u16,
    path: String,
}

fn parse_url(url: &str) -> Result<HttpUrl, AdapterError> {
    let bad = |why: &str| AdapterError::Config(format!("soc_callback_endpoint {url:?}: {why}"));
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| bad("only http:// is supported"))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    // `host`, `host:port`, `[v6]` or `[v6]:port`.
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            match after.strip_prefix(':') {
                Some(p) => (host, p.parse().map_err(|_| bad("bad port"))?),
                None => (host, 80),
            }
        }
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(|_| bad("bad port"))?),
            None => (authority, 80),
        },
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    Ok(HttpUrl {
        host: host.to_owned(),
        port,
        path: if path.is_empty() {
            "/".to_owned()
        } else {
            path.to_owned()
        },
    })
}

/// The newest report, keeping what an earlier one said and this one leaves out: the car sends
/// its capacity in ChargeParameterDiscoveryReq and in CurrentDemandReq only its SoC.
fn merge(old: Option<VehicleBatteryReport>, new: VehicleBatteryReport) -> VehicleBatteryReport {
    let Some(old) = old else { return new };
    VehicleBatteryReport {
        soc: new.soc,
        full_soc: new.full_soc.or(old.full_soc),
        energy_capacity: new.energy_capacity.or(old.energy_capacity),
        energy_request: new.energy_request.or(old.energy_request),
    }
}

/// The query pyPLC sends, values as integers.
fn query(report: &VehicleBatteryReport, evccid: &str, fallback: Option<WattHours>) -> String {
    let wh = |v: Option<WattHours>| v.filter(|w| w.0 > 0.0).map(|w| w.0.round() as i64);
    let capacity = wh(report.energy_capacity)
        .or_else(|| wh(fallback))
        .unwrap_or(-1);
    let request = wh(report.energy_request).unwrap_or(-1);
    let full = report.full_soc.map_or(-1, |p| p.0.round() as i64);
    let mut q = format!(
        "current_soc={}&full_soc={full}&energy_capacity={capacity}&energy_request={request}&evccid=",
        report.soc.0.round() as i64
    );
    for b in evccid.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            q.push(char::from(b));
        } else {
            let _ = write!(q, "%{b:02X}");
        }
    }
    q
}

async fn post(url: &HttpUrl, query: &str) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect((url.host.as_str(), url.port)).await?;
    let separator = if url.path.contains('?') { '&' } else { '?' };
    let request = format!(
        "POST {}{separator}{query} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        url.path, url.host
    );
    stream.write_all(request.as_bytes()).await?;
    let mut head = Vec::new();
    let mut buf = [0u8; 256];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 4096 {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let status = String::from_utf8_lossy(&head)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "no HTTP status"))?;
    Ok(status)
}

/// The SoC callback as an adapter: it only listens to commands.
#[derive(Debug)]
pub struct SocCallbackAdapter {
    config: SocCallbackConfig,
}

impl SocCallbackAdapter {
    /// An adapter for `config`.
    pub fn new(config: SocCallbackConfig) -> Self {
        Self { config }
    }
}

impl HardwareAdapter for SocCallbackAdapter {
    fn name(&self) -> String {
        "soc-callback".to_owned()
    }

    async fn run(self, mut io: AdapterIo) -> Result<(), AdapterError> {
        let url = parse_url(&self.config.endpoint)?;
        let mut evccid = String::new();
        let mut report: Option<VehicleBatteryReport> = None;
        let mut sent: Option<String> = None;
        let mut last_post: Option<Instant> = None;
        loop {
            let pending = report
                .map(|r| query(&r, &evccid, self.config.fallback_energy_capacity))
                .filter(|q| sent.as_ref() != Some(q));
            let due = pending
                .as_ref()
                .map(|_| last_post.map_or_else(Instant::now, |t| t + self.config.min_interval));
            tokio::select! {
                cmd = io.next_command() => match cmd {
                    None => return Ok(()),
                    Some(HardwareCommand::EvccId(id)) => evccid = id,
                    Some(HardwareCommand::VehicleBattery(r)) => report = Some(merge(report, r)),
                    Some(_) => {}
                },
                () = crate::sleep_until(due) => {
                    let Some(q) = pending else { continue };
                    last_post = Some(Instant::now());
                    match tokio::time::timeout(self.config.timeout, post(&url, &q)).await {
                        Ok(Ok(status)) if (200..300).contains(&status) => {}
                        Ok(Ok(status)) => tracing::warn!("SoC callback: HTTP {status}"),
                        Ok(Err(e)) => tracing::warn!("SoC callback: {e}"),
                        Err(_) => tracing::warn!("SoC callback: no answer in time"),
                    }
                    sent = Some(q);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccs_proto::hardware::Percent;

    #[test]
    fn urls_parse_with_and_without_port_and_path() {
        assert_eq!(
            parse_url("http://10.0.0.1/ev_state").unwrap(),
            HttpUrl {
                host: "10.0.0.1".into(),
                port: 80,
                path: "/ev_state".into()
            }
        );
        assert_eq!(
            parse_url("http://localhost:8080").unwrap(),
            HttpUrl {
                host: "localhost".into(),
                port: 8080,
                path: "/".into()
            }
        );
        assert_eq!(parse_url("http://[fe80::1]:81/x").unwrap().host, "fe80::1");
        assert!(parse_url("https://x/").is_err());
        assert!(parse_url("http://:80/").is_err());
    }

    #[test]
    fn query_uses_minus_one_for_unknowns_and_the_fallback_capacity() {
        let r = VehicleBatteryReport {
            soc: Percent(42.4),
            full_soc: None,
            energy_capacity: Some(WattHours(0.0)),
            energy_request: None,
        };
        assert_eq!(
            query(&r, "ab:cd", Some(WattHours(27_000.0))),
            "current_soc=42&full_soc=-1&energy_capacity=27000&energy_request=-1&evccid=ab%3Acd"
        );
        assert_eq!(
            query(&r, "", None),
            "current_soc=42&full_soc=-1&energy_capacity=-1&energy_request=-1&evccid="
        );
    }

    #[test]
    fn later_reports_keep_what_earlier_ones_said() {
        let first = VehicleBatteryReport {
            soc: Percent(40.0),
            full_soc: Some(Percent(95.0)),
            energy_capacity: Some(WattHours(64_000.0)),
            energy_request: Some(WattHours(30_000.0)),
        };
        let later = VehicleBatteryReport {
            soc: Percent(41.0),
            ..VehicleBatteryReport::default()
        };
        assert_eq!(
            merge(Some(first), later),
            VehicleBatteryReport {
                soc: Percent(41.0),
                ..first
            }
        );
        assert_eq!(merge(None, later), later);
    }

    #[tokio::test]
    async fn posts_vehicle_data_to_the_endpoint() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut config = SocCallbackConfig::new(format!("http://127.0.0.1:{port}/ev_state"));
        config.min_interval = Duration::from_millis(10);
        let (io, commands, _events) = AdapterIo::detached("soc-callback");
        tokio::spawn(SocCallbackAdapter::new(config).run(io));
        commands
            .send(HardwareCommand::EvccId("0a1b2c3d4e5f".into()))
            .unwrap();
        commands
            .send(HardwareCommand::VehicleBattery(VehicleBatteryReport {
                soc: Percent(55.0),
                full_soc: Some(Percent(100.0)),
                energy_capacity: Some(WattHours(64_000.0)),
                energy_request: Some(WattHours(20_000.0)),
            }))
            .unwrap();
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 512];
        while !request.ends_with(b"\r\n\r\n") {
            let n = conn.read(&mut buf).await.unwrap();
            assert!(n > 0, "connection closed early");
            request.extend_from_slice(&buf[..n]);
        }
        conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
        let request = String::from_utf8(request).unwrap();
        assert!(
            request.starts_with(
                "POST /ev_state?current_soc=55&full_soc=100&energy_capacity=64000&energy_request=20000&evccid=0a1b2c3d4e5f HTTP/1.1\r\n"
            ),
            "{request}"
        );
        assert!(request.contains("\r\nHost: 127.0.0.1\r\n"), "{request}");
    }
}
