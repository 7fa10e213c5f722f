//! MQTT with the pyPLC topic profile ([`profile`]), through rumqttc.
//!
//! The adapter connects to the broker, subscribes to the inputs of its role on every
//! (re)connect, turns incoming payloads into [`Measurement`]s, and publishes the commands it
//! receives on change and at a limited rate, plus a JSON `status` topic with everything at
//! once. A lost broker is a [`HardwareFaultKind::ConnectionLost`] fault (cleared on
//! reconnect, after which every output is published again); an input that stops updating is a
//! [`HardwareFaultKind::StaleInput`] fault.

pub mod profile;
mod publisher;

use std::collections::BTreeMap;

use ccs_proto::hardware::{HardwareCommand, HardwareFaultKind, Measurement, MeasurementKind};
use rumqttc::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, Packet, QoS};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::{Duration, Instant};

use self::profile::Urgency;
pub use self::profile::{MqttRole, PayloadError};
use self::publisher::Publisher;
use crate::adapter::{AdapterError, AdapterIo, HardwareAdapter};

/// How to reach the broker and what to expect from it. The binary maps pyPlc.ini's
/// `mqtt_broker` / `mqtt_topic` onto `host` / `base_topic`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct MqttConfig {
    /// Car or charger mode: decides which topics are inputs and which outputs.
    pub role: MqttRole,
    /// Broker host name or address (pyPLC `mqtt_broker`, default `localhost`).
    pub host: String,
    /// Broker port (pyPLC: fixed 1883).
    pub port: u16,
    /// Topic prefix (pyPLC `mqtt_topic`, default `pyPlc`); topics are `<base>/<name>`.
    pub base_topic: String,
    /// MQTT client identifier. pyPLC uses `pyplc`; the default `ccsplc` lets both run against
    /// one broker.
    pub client_id: String,
    /// User name and password, if the broker wants them.
    pub credentials: Option<(String, String)>,
    /// Keep-alive interval (pyPLC: 60 s).
    pub keep_alive: Duration,
    /// Status values are published at most this often per topic (pyPLC: 1 s). Actuator
    /// requests (`cpstate`, `relay_request`, `lock_request`, and in charger mode the power
    /// supply's `target_voltage` / `target_current`) are never held back.
    pub min_publish_interval: Duration,
    /// Pause between reconnect attempts.
    pub reconnect_delay: Duration,
    /// An input not updated for this long is reported stale; `None` disables the check.
    /// The inputs of `watched_inputs` are watched once they have arrived, those of
    /// `required_inputs` from the start.
    pub input_timeout: Option<Duration>,
    /// The inputs watched for staleness once they have arrived (default: the cyclic inputs
    /// of the role, [`profile::periodic_inputs`]; event-like inputs such as `enabled` are
    /// published only on change and must not go stale).
    pub watched_inputs: Vec<MeasurementKind>,
    /// Inputs that must arrive within `input_timeout` of the start even if never seen.
    pub required_inputs: Vec<MeasurementKind>,
    /// Connect with TLS (feature `mqtt-tls`; the platform's root certificates).
    pub tls: bool,
    /// Charger: whether this adapter is the power supply's back end (pyPLC's
    /// `charge_parameter_backend = mqtt`): it publishes the set-points (`target_voltage`,
    /// `target_current`) and reads the supply's values (`charger_*`). pyPLC does neither
    /// without that key: its charger then has a dummy power supply.
    pub power_supply: bool,
}

impl MqttConfig {
    /// pyPLC's defaults for `role`: `localhost:1883`, base `pyPlc`, 1 s rate limit, no stale
    /// check.
    pub fn new(role: MqttRole) -> Self {
        Self {
            role,
            host: "localhost".to_owned(),
            port: 1883,
            base_topic: "pyPlc".to_owned(),
            client_id: "ccsplc".to_owned(),
            credentials: None,
            keep_alive: Duration::from_secs(60),
            min_publish_interval: Duration::from_secs(1),
            reconnect_delay: Duration::from_secs(1),
            input_timeout: None,
            watched_inputs: profile::periodic_inputs(role).to_vec(),
            required_inputs: Vec::new(),
            tls: false,
            power_supply: true,
        }
    }
}

/// The MQTT adapter.
#[derive(Debug)]
pub struct MqttAdapter {
    config: MqttConfig,
}

impl MqttAdapter {
    /// An adapter for `config`; nothing happens until the hub runs it.
    pub fn new(config: MqttConfig) -> Self {
        Self { config }
    }

    fn options(&self) -> Result<MqttOptions, AdapterError> {
        let c = &self.config;
        if c.base_topic.is_empty() || c.base_topic.contains(['#', '+']) {
            return Err(AdapterError::Config(format!(
                "MQTT base topic {:?} must be non-empty and free of wildcards",
                c.base_topic
            )));
        }
        let mut options = MqttOptions::new(&c.client_id, &c.host, c.port);
        options.set_keep_alive(c.keep_alive);
        options.set_clean_session(true);
        if let Some((user, pass)) = &c.credentials {
            options.set_credentials(user, pass);
        }
        if c.tls {
            #[cfg(feature = "mqtt-tls")]
            options.set_transport(rumqttc::Transport::tls_with_default_config());
            #[cfg(not(feature = "mqtt-tls"))]
            return Err(AdapterError::Config(
                "MQTT over TLS needs ccs-io's feature `mqtt-tls`".to_owned(),
            ));
        }
        Ok(options)
    }
}

/// What the adapter keeps between events.
struct Session {
    io: AdapterIo,
    role: MqttRole,
    /// [`MqttConfig::power_supply`].
    power_supply: bool,
    /// A `charger_*` value arrived although MQTT is not the power supply (said once).
    ignored_power_supply: bool,
    base: String,
    publisher: Publisher,
    watch: crate::stale::InputWatch,
    status: BTreeMap<&'static str, Value>,
    status_dirty: bool,
}

impl Session {
    fn topic(&self, name: &str) -> String {
        format!("{}/{name}", self.base)
    }

    fn command(&mut self, cmd: &HardwareCommand) {
        if !self.power_supply && matches!(cmd, HardwareCommand::PowerSupply(_)) {
            return;
        }
        for (name, payload, urgency) in profile::outputs(self.role, cmd) {
            // Numbers as JSON numbers, words ("on", "B") and texts as strings.
            let is_text = matches!(name, "fsm_state" | "evccid");
            let value = payload
                .parse::<f64>()
                .ok()
                .filter(|_| !is_text)
                .and_then(serde_json::Number::from_f64)
                .map_or_else(|| Value::String(payload.clone()), Value::Number);
            self.note_status(name, value);
            self.publisher.offer(&self.topic(name), payload, urgency);
        }
    }

    /// A `charger_*` value while MQTT is not the power supply: dropped, said once.
    fn ignore_power_supply_value(&mut self, topic: &str) {
        if !std::mem::replace(&mut self.ignored_power_supply, true) {
            tracing::warn!(
                adapter = self.io.name(),
                topic,
                "power-supply values ignored: MQTT is not the power supply's back end \
                 (charge_parameter_backend = mqtt is not set)"
            );
        }
    }

    /// A message on a subscribed topic; `retained`: the broker kept it from earlier and
    /// replays it at (re)connection.
    fn incoming(&mut self, topic: &str, payload: &[u8], retained: bool) {
        let Some(name) = topic
            .strip_prefix(self.base.as_str())
            .and_then(|t| t.strip_prefix('/'))
        else {
            return;
        };
        match profile::parse_input(self.role, name, payload) {
            None => {}
            // A retained isolation verdict was measured whenever it was published: replayed at
            // a reconnection it would count as fresh and could finish a cable check or keep a
            // charge going on a monitor that has fallen silent.
            Some(Ok(Measurement::Isolation(_))) if retained => {
                tracing::debug!(
                    adapter = self.io.name(),
                    "retained isolation verdict ignored"
                );
            }
            Some(Ok(m)) if !self.power_supply && is_power_supply_value(m.kind()) => {
                self.ignore_power_supply_value(name);
            }
            Some(Ok(m)) => {
                if self.watch.arrived(m.kind(), Instant::now()) {
                    self.io
                        .fault_cleared(HardwareFaultKind::StaleInput(m.kind()));
                }
                if let Some(&static_name) = profile::input_topics(self.role)
                    .iter()
                    .find(|n| **n == name)
                {
                    self.note_status(static_name, measurement_json(&m));
                }
                self.io.measurement(m);
            }
            Some(Err(e)) => tracing::warn!(adapter = self.io.name(), "{e}"),
        }
    }

    fn note_status(&mut self, name: &'static str, value: Value) {
        if self.status.get(name) != Some(&value) {
            self.status.insert(name, value);
            self.status_dirty = true;
        }
    }

    fn offer_status(&mut self) {
        if std::mem::take(&mut self.status_dirty) {
            let json = Value::Object(
                self.status
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect(),
            );
            let topic = self.topic("status");
            self.publisher
                .offer(&topic, json.to_string(), Urgency::Status);
        }
    }
}

fn measurement_json(m: &Measurement) -> Value {
    let number =
        |v: f32| serde_json::Number::from_f64(f64::from(v)).map_or(Value::Null, Value::Number);
    match *m {
        Measurement::BatteryVoltage(v)
        | Measurement::TargetVoltage(v)
        | Measurement::InletVoltage(v)
        | Measurement::PowerSupplyVoltage(v)
        | Measurement::PowerSupplyMaxVoltage(v) => number(v.0),
        Measurement::TargetCurrent(a)
        | Measurement::PowerSupplyCurrent(a)
        | Measurement::PowerSupplyMaxCurrent(a) => number(a.0),
        Measurement::Soc(p) => number(p.0),
        Measurement::PowerSupplyMaxPower(w) => number(w.0),
        Measurement::ContactorsClosed(b)
        | Measurement::ConnectorLocked(b)
        | Measurement::PluggedIn(b)
        | Measurement::ChargingEnabled(b)
        | Measurement::Authorized(b) => Value::Bool(b),
        Measurement::Isolation(s) => Value::String(format!("{s:?}")),
        _ => Value::Null,
    }
}

/// Polls the event loop in its own task (rumqttc's `poll` is not meant to be raced in a
/// `select!`), forwarding everything; after an error it waits before polling again, which
/// is when rumqttc reconnects.
async fn pump(
    mut eventloop: EventLoop,
    tx: mpsc::Sender<Result<Event, ConnectionError>>,
    reconnect_delay: Duration,
) {
    loop {
        let result = eventloop.poll().await;
        let failed = result.is_err();
        if tx.send(result).await.is_err() {
            return;
        }
        if failed {
            tokio::time::sleep(reconnect_delay).await;
        }
    }
}

/// Aborts the pump task when the adapter ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl HardwareAdapter for MqttAdapter {
    fn name(&self) -> String {
        "mqtt".to_owned()
    }

    async fn run(self, io: AdapterIo) -> Result<(), AdapterError> {
        let options = self.options()?;
        let config = self.config;
        let (client, eventloop) = AsyncClient::new(options, 256);
        let (net_tx, mut net_rx) = mpsc::channel(64);
        let _pump = AbortOnDrop(tokio::spawn(pump(
            eventloop,
            net_tx,
            config.reconnect_delay,
        )));
        let start = Instant::now();
        let role = config.role;
        let watched: Vec<_> = config
            .watched_inputs
            .iter()
            .copied()
            .filter(|&kind| config.power_supply || !is_power_supply_value(kind))
            .collect();
        let mut s = Session {
            role,
            power_supply: config.power_supply,
            ignored_power_supply: false,
            base: config.base_topic.clone(),
            publisher: Publisher::new(config.min_publish_interval),
            watch: crate::stale::InputWatch::new(
                config.input_timeout,
                &config.required_inputs,
                start,
            )
            .only(&watched),
            status: BTreeMap::from([(
                "role",
                Value::String(
                    match role {
                        MqttRole::Vehicle => "vehicle",
                        MqttRole::Charger => "charger",
                    }
                    .to_owned(),
                ),
            )]),
            status_dirty: true,
            io,
        };
        let mut connected = false;
        let mut lost_reported = false;

        loop {
            let publish_deadline = if connected {
                s.publisher.next_deadline()
            } else {
                None
            };
            let deadline = [publish_deadline, s.watch.next_deadline()]
                .into_iter()
                .flatten()
                .min();
            tokio::select! {
                cmd = s.io.next_command() => {
                    let Some(cmd) = cmd else {
                        if connected {
                            flush(&mut s, &client, &mut net_rx).await;
                        }
                        return Ok(());
                    };
                    s.command(&cmd);
                }
                event = net_rx.recv() => match event {
                    Some(Ok(Event::Incoming(Packet::ConnAck(_)))) => {
                        tracing::info!(host = %config.host, port = config.port, "MQTT connected");
                        connected = true;
                        for name in profile::input_topics(role) {
                            if let Err(e) = client.try_subscribe(s.topic(name), QoS::AtMostOnce) {
                                tracing::warn!("MQTT subscribe {name}: {e}");
                            }
                        }
                        s.publisher.republish_all();
                        if std::mem::take(&mut lost_reported) {
                            s.io.fault_cleared(HardwareFaultKind::ConnectionLost);
                        }
                    }
                    Some(Ok(Event::Incoming(Packet::Publish(p)))) => s.incoming(&p.topic, &p.payload, p.retain),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        connected = false;
                        if !lost_reported {
                            tracing::warn!(host = %config.host, port = config.port, "MQTT connection lost: {e}");
                            lost_reported = true;
                            s.io.fault(HardwareFaultKind::ConnectionLost);
                        }
                    }
                    None => return Err(AdapterError::Device("MQTT event loop ended".to_owned())),
                },
                () = crate::sleep_until(deadline) => {}
            }
            let now = Instant::now();
            for kind in s.watch.newly_stale(now) {
                tracing::warn!(input = %kind, "MQTT input not updated in time");
                s.io.fault(HardwareFaultKind::StaleInput(kind));
            }
            if connected {
                s.offer_status();
                publish(&client, &mut s.publisher, now);
            }
        }
    }
}

/// Publishes what is due: actuator requests at QoS 1 (the broker confirms them; a lost
/// power-supply OFF is not an option), status at QoS 0 as pyPLC does.
fn publish(client: &AsyncClient, publisher: &mut Publisher, now: Instant) {
    for (topic, payload) in publisher.due(now) {
        let qos = match publisher.urgency(&topic) {
            Some(Urgency::Actuator) => QoS::AtLeastOnce,
            Some(Urgency::Status) | None => QoS::AtMostOnce,
        };
        if let Err(e) = client.try_publish(topic.as_str(), qos, false, payload) {
            tracing::warn!("MQTT publish {topic}: {e}");
        }
    }
}

/// How long the adapter may take at the end to get its last values out.
const FLUSH_TIMEOUT: Duration = Duration::from_millis(500);

/// The hub is going away (the process ends): the last values, the safe state above all, go
/// out at once regardless of the rate limit, then the client disconnects cleanly.
async fn flush(
    s: &mut Session,
    client: &AsyncClient,
    net_rx: &mut mpsc::Receiver<Result<Event, ConnectionError>>,
) {
    s.offer_status();
    s.publisher.release_all();
    publish(client, &mut s.publisher, Instant::now());
    if client.try_disconnect().is_err() {
        return;
    }
    let drained = async {
        while let Some(event) = net_rx.recv().await {
            match event {
                Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    let _ = tokio::time::timeout(FLUSH_TIMEOUT, drained).await;
}

/// A value of the power supply (`charger_*` topics), read only by its back end.
fn is_power_supply_value(kind: MeasurementKind) -> bool {
    use MeasurementKind as K;
    matches!(
        kind,
        K::PowerSupplyVoltage
            | K::PowerSupplyCurrent
            | K::PowerSupplyMaxVoltage
            | K::PowerSupplyMaxCurrent
            | K::PowerSupplyMaxPower
    )
}
