//! The whole stack in one deterministic world: a car and one or more chargers, each host with
//! its SLAC machine, SDP client or server, a TCP endpoint carrying V2GTP and its V2G session,
//! joined by a [`Medium`], plus the physics of battery, contactors, power supply and DC link.
//!
//! Driving is quinn-proto's `Pair::drive`: [`World::step`] jumps the virtual clock to the
//! earliest deadline of anything in the world (frames in flight, SLAC/SDP/TCP/session timers,
//! host processing delays, the measurement tick), runs what is due, and moves every output
//! along until nothing moves. Nothing reads a wall clock, all randomness (RunIDs, NMKs,
//! SessionIDs via the session factory, ports, delays, loss) comes from one seed, so the same
//! configuration gives the same [`SimReport`]. The world always stops: at the end of the
//! sessions, at a failure, or at the virtual-time and step limits.
//!
//! ```text
//!   EV host                                         EVSE host(s)
//!   EvSlac ─┐                                     ┌─ EvseSlac
//!   SdpClient ─ UDP [ff02::1]:15118 ──────────────── SdpServer
//!   TcpEndpoint ⇄ V2GTP (encode / Deframer) ⇄ ──── TcpEndpoint (port from SDP)
//!   V2gSession (EVCC)                               V2gSession (SECC)
//!        │ commands / measurements                        │
//!        └────────────── DcPlant (battery, contactors, power supply, DC link) ─┘
//! ```
//!
//! Every frame crossing the medium is a whole Ethernet frame (SLAC MMEs, IPv6 + UDP/TCP with
//! real link-local addresses, ports, sequence numbers and checksums); [`World::set_frame_tap`]
//! sees each one as the host's interface does, which is what a capture needs.

pub mod frames;
mod hooks;
mod host;
pub mod medium;
mod report;
mod security;
pub mod tcp;

use core::net::{Ipv6Addr, SocketAddrV6};
use std::collections::{BTreeMap, VecDeque};

use ccs_proto::hardware::{Percent, Volts};
use ccs_proto::homeplug::{MacAddress, Nmk};
use ccs_proto::sdp::{
    SDP_MULTICAST_ADDRESS, SDP_SERVER_PORT, SdpClient, SdpClientConfig, SdpClientEvent,
    SdpConfigError, SdpServer, SdpServerConfig, SdpServerEvent,
};
use ccs_proto::session::{Disconnect, Phase, SessionEvent, Transmit, V2gSession};
use ccs_proto::slac::{
    AttenuationSource, EvSlac, EvSlacConfig, EvseSlac, EvseSlacConfig, ModemMode, SlacEvent,
};
use ccs_proto::time::{Duration, Instant};
use ccs_proto::v2gtp::{self, Deframer, DeframerConfig};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

use crate::modem::{ChipFlavour, ModemConfig, ModemRole};
use crate::physics::{DcPlant, PlantConfig};
use crate::powerline::Powerline;
use frames::{IpFrame, Transport, link_local_from_mac, multicast_mac};
pub use hooks::{FrameAction, FrameFilter};
use host::{Host, Inbound, Sdp, Slac};
use medium::{DirectLine, Medium};
pub use report::{
    Direction, FrameRecord, MessageCounts, PhaseRecord, Side, SimReport, StopReason, WorldEvent,
    WorldEventKind, WorldFailure,
};
pub use security::{SecurityFactory, StreamSecurity};
use tcp::{TcpConfig, TcpEndpoint, TcpEvent};

/// How the hosts are joined.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum LinkMode {
    /// Each host behind a simulated HomePlug modem on the simulated powerline (the
    /// default): the chargers key their modems, the car's SLAC finds its modem, sounds are
    /// measured per link, and IPv6 crosses only once the modems have formed the AVLN.
    Powerline,
    /// A shared wire without modems (pyPLC's simulation mode, `--no-modem`): SLAC runs with
    /// [`ModemMode::None`]; each charger reports its configured link attenuation as its
    /// profile, so the car's choice of the nearest charger is exercised.
    NoModem,
    /// The link counts as paired (`--no-slac`): no SLAC, SDP starts at once.
    Paired,
}

/// One charger in the world.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ChargerConfig {
    /// The charger host's MAC.
    pub mac: MacAddress,
    /// Attenuation between the car and this charger, dB (own plug ≈ 20, neighbour ≈ 35).
    pub attenuation_db: u8,
    /// How long the charger takes to answer a V2G request (uniform range).
    pub response_delay: (Duration, Duration),
}

impl ChargerConfig {
    /// A charger with MAC `mac`, 20 dB away, answering in 10–40 ms (field-timing.md: the
    /// Alpitronic about 7 ms, the Compleo 26–30 ms, pyPLC 90–130 ms).
    pub fn new(mac: MacAddress) -> Self {
        Self {
            mac,
            attenuation_db: 20,
            response_delay: (Duration::from_millis(10), Duration::from_millis(40)),
        }
    }

    /// The same charger at `db` of attenuation from the car.
    pub fn with_attenuation(mut self, db: u8) -> Self {
        self.attenuation_db = db;
        self
    }
}

/// When the car stops charging on its own.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct StopCondition {
    /// Stop after this long in the charging loop.
    pub charge_duration: Option<Duration>,
    /// Stop when the battery reaches this SoC.
    pub target_soc: Option<Percent>,
}

impl StopCondition {
    /// Stop after `duration` in the charging loop.
    pub fn after(duration: Duration) -> Self {
        Self {
            charge_duration: Some(duration),
            target_soc: None,
        }
    }

    /// Stop when the battery reaches `soc`.
    pub fn at_soc(soc: Percent) -> Self {
        Self {
            charge_duration: None,
            target_soc: Some(soc),
        }
    }
}

/// The whole scenario.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct WorldConfig {
    /// The seed of every random choice.
    pub seed: u64,
    /// How the hosts are joined.
    pub link: LinkMode,
    /// The car host's MAC.
    pub ev_mac: MacAddress,
    /// The chargers (at least one).
    pub chargers: Vec<ChargerConfig>,
    /// The charger whose cable is in the car's inlet (the physics joins these two).
    pub plugged_charger: usize,
    /// The car's think time before it handles a message (field-timing.md §3: 40–120 ms).
    pub ev_think_time: (Duration, Duration),
    /// Latency of the line, per frame (uniform range).
    pub line_latency: (Duration, Duration),
    /// Probability that a frame is lost on the line.
    pub loss: f64,
    /// The simulated TCP.
    pub tcp: TcpConfig,
    /// The battery, contactors, power supply and isolation.
    pub plant: PlantConfig,
    /// The car's modem (its MAC is derived from the car's; [`LinkMode::Powerline`] only).
    pub ev_modem: ModemConfig,
    /// The chargers' modems (MACs derived from each charger's).
    pub charger_modem: ModemConfig,
    /// The car's SLAC (its modem mode is set from [`WorldConfig::link`]).
    pub ev_slac: EvSlacConfig,
    /// The chargers' SLAC (modem mode and profile are set from the link and the charger).
    pub evse_slac: EvseSlacConfig,
    /// The car's SDP client.
    pub sdp_client: SdpClientConfig,
    /// From power-up to the car plugging in and starting SLAC. The chargers' modems need
    /// about 1.5 s to restart with their session key (homeplug-slac.md §8.3), so a car that
    /// comes earlier is not heard until they are back.
    pub slac_start_delay: Duration,
    /// From pairing to the car's first SDP request (the Polestar 2 waits 0.5 s, the Ioniq
    /// 4.1 s: field-timing.md).
    pub sdp_start_delay: Duration,
    /// How often the hardware reports measurements to the sessions.
    pub measurement_interval: Duration,
    /// When the car stops charging.
    pub stop: StopCondition,
    /// The world gives up when virtual time passes this.
    pub time_limit: Duration,
    /// The world gives up after this many steps.
    pub max_steps: u64,
}

impl Default for WorldConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            link: LinkMode::Powerline,
            ev_mac: MacAddress([0x02, 0x00, 0x00, 0x00, 0x0e, 0x01]),
            chargers: vec![ChargerConfig::new(MacAddress([
                0x02, 0x00, 0x00, 0x00, 0x5e, 0x01,
            ]))],
            plugged_charger: 0,
            ev_think_time: (Duration::from_millis(40), Duration::from_millis(80)),
            line_latency: (Duration::from_millis(1), Duration::from_millis(3)),
            loss: 0.0,
            tcp: TcpConfig::default(),
            plant: PlantConfig::default(),
            ev_modem: ModemConfig::new(ModemRole::Pev, ChipFlavour::Qca7000, MacAddress::default()),
            charger_modem: ModemConfig::new(
                ModemRole::Evse,
                ChipFlavour::Qca7000,
                MacAddress::default(),
            ),
            ev_slac: EvSlacConfig::default(),
            evse_slac: EvseSlacConfig::default(),
            sdp_client: SdpClientConfig::default(),
            slac_start_delay: Duration::from_secs(3),
            sdp_start_delay: Duration::from_millis(500),
            measurement_interval: Duration::from_millis(100),
            stop: StopCondition {
                charge_duration: Some(Duration::from_secs(60)),
                target_soc: None,
            },
            time_limit: Duration::from_secs(600),
            max_steps: 5_000_000,
        }
    }
}

/// A configuration the world cannot run.
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum WorldConfigError {
    /// No charger.
    NoCharger,
    /// `plugged_charger` names no charger.
    NoSuchPluggedCharger(usize),
    /// Two hosts share a MAC.
    DuplicateMac(MacAddress),
    /// The charger's SDP server refuses its configuration.
    Sdp(SdpConfigError),
}

impl core::fmt::Display for WorldConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoCharger => f.write_str("configuration: the world needs at least one charger"),
            Self::NoSuchPluggedCharger(n) => {
                write!(f, "configuration: plugged charger {n} does not exist")
            }
            Self::DuplicateMac(m) => write!(f, "configuration: MAC {m} used twice"),
            Self::Sdp(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for WorldConfigError {}

/// What a session factory is told about the session it makes.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct SessionSlot {
    /// The host the session runs on.
    pub side: Side,
    /// The host's MAC (the EVCCID of DIN/ISO is the car's MAC).
    pub mac: MacAddress,
    /// 32 bytes from the world's seeded RNG, for SessionIDs and anything else random.
    pub entropy: [u8; 32],
    /// When the session is made (its TCP connection just came up).
    pub now: Instant,
}

/// Makes a host's session (EVCC for [`Side::Ev`], SECC for [`Side::Evse`]) when its TCP
/// connection comes up.
pub type SessionFactory<'a> = dyn FnMut(&SessionSlot) -> Box<dyn V2gSession> + 'a;

/// Called for every frame at every host's interface.
pub type FrameTap = Box<dyn FnMut(&FrameRecord<'_>)>;

const EV: usize = 0;

/// The world; see the module docs.
pub struct World {
    config: WorldConfig,
    now: Instant,
    rng: ChaCha8Rng,
    medium: Box<dyn Medium>,
    hosts: Vec<Host>,
    plant: DcPlant,
    events: VecDeque<WorldEvent>,
    tap: Option<FrameTap>,
    filter: Option<FrameFilter>,
    next_measurement: Instant,
    slac_start_at: Option<Instant>,
    charging_since: Option<Instant>,
    stop_requested: bool,
    sessions_done_at: Option<Instant>,
    sessions: Box<SessionFactory<'static>>,
    security: Option<Box<SecurityFactory>>,
    steps: u64,
    ended: bool,
    report: SimReport,
}

impl core::fmt::Debug for World {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("World")
            .field("now", &self.now)
            .field("hosts", &self.hosts)
            .field("steps", &self.steps)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

fn draw_in(rng: &mut ChaCha8Rng, (min, max): (Duration, Duration)) -> Duration {
    let span = max.total_micros().saturating_sub(min.total_micros());
    let extra = if span == 0 {
        0
    } else {
        rng.next_u64() % (span + 1)
    };
    Duration::from_micros(min.total_micros() + extra)
}

/// A modem's own MAC: the TP-Link OUI `98:48:27` and the host's last three bytes.
fn modem_mac(host: MacAddress) -> MacAddress {
    let h = host.0;
    MacAddress([0x98, 0x48, 0x27, h[3], h[4], h[5]])
}

fn draw_port(rng: &mut ChaCha8Rng) -> u16 {
    // The dynamic range 49152–65535 (RFC 6335), as SECCs must use for V2G ([V2G2-064]).
    49_152 + (rng.next_u32() % 16_384) as u16
}

fn draw_bytes<const N: usize>(rng: &mut ChaCha8Rng) -> [u8; N] {
    let mut b = [0u8; N];
    rng.fill_bytes(&mut b);
    b
}

impl World {
    /// Builds the world at virtual time zero: hosts powered up, the car plugged into
    /// `plugged_charger`; the car starts SLAC after [`WorldConfig::slac_start_delay`].
    pub fn new(
        config: WorldConfig,
        sessions: Box<SessionFactory<'static>>,
    ) -> Result<Self, WorldConfigError> {
        if config.chargers.is_empty() {
            return Err(WorldConfigError::NoCharger);
        }
        if config.plugged_charger >= config.chargers.len() {
            return Err(WorldConfigError::NoSuchPluggedCharger(
                config.plugged_charger,
            ));
        }
        let mut macs = vec![config.ev_mac];
        for c in &config.chargers {
            if macs.contains(&c.mac) {
                return Err(WorldConfigError::DuplicateMac(c.mac));
            }
            macs.push(c.mac);
        }
        let now = Instant::ZERO;
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let medium: Box<dyn Medium> = match config.link {
            LinkMode::Powerline => {
                let mut line = Powerline::new(rng.next_u64());
                line.set_latency(config.line_latency.0, config.line_latency.1);
                line.set_loss(config.loss);
                let mut modem = config.ev_modem.clone();
                modem.mac = modem_mac(config.ev_mac);
                let ev = line.add_modem(modem, now);
                for c in &config.chargers {
                    let mut modem = config.charger_modem.clone();
                    modem.mac = modem_mac(c.mac);
                    let station = line.add_modem(modem, now);
                    line.set_attenuation(ev, station, c.attenuation_db);
                }
                Box::new(line)
            }
            LinkMode::NoModem | LinkMode::Paired => {
                let mut line = DirectLine::new(config.chargers.len() + 1, rng.next_u64());
                line.set_latency(config.line_latency.0, config.line_latency.1);
                line.set_loss(config.loss);
                Box::new(line)
            }
        };

        let mut hosts = Vec::with_capacity(config.chargers.len() + 1);
        let ev_slac = match config.link {
            LinkMode::Powerline => {
                let mut c = config.ev_slac.clone();
                c.modem = ModemMode::Qca;
                Slac::Ev(EvSlac::new(c, config.ev_mac, draw_bytes(&mut rng)))
            }
            LinkMode::NoModem => {
                let mut c = config.ev_slac.clone();
                c.modem = ModemMode::None;
                Slac::Ev(EvSlac::new(c, config.ev_mac, draw_bytes(&mut rng)))
            }
            LinkMode::Paired => Slac::Off,
        };
        let slot = SessionSlot {
            side: Side::Ev,
            mac: config.ev_mac,
            entropy: draw_bytes(&mut rng),
            now,
        };
        let sdp_port = draw_port(&mut rng);
        let sdp_start = match config.link {
            LinkMode::Paired => Some(now + config.slac_start_delay),
            LinkMode::Powerline | LinkMode::NoModem => None,
        };
        hosts.push(Host {
            side: Side::Ev,
            mac: config.ev_mac,
            ip: link_local_from_mac(config.ev_mac),
            slac: ev_slac,
            sdp: Sdp::Client {
                client: SdpClient::new(config.sdp_client),
                port: sdp_port,
                start_at: sdp_start,
            },
            tcp: None,
            tcp_port: draw_port(&mut rng),
            tcp_closed_reported: false,
            tls: None,
            tls_reported: false,
            deframer: Deframer::new(DeframerConfig::default()),
            session: None,
            slot,
            inbox: VecDeque::new(),
            delay: config.ev_think_time,
            neighbours: BTreeMap::new(),
            outcome: None,
            disconnect_delivered: false,
            measurements_blocked: false,
        });
        for (n, charger) in config.chargers.iter().enumerate() {
            let slac = match config.link {
                LinkMode::Powerline => {
                    let mut c = config.evse_slac.clone();
                    c.modem = ModemMode::Qca;
                    let nmk = Nmk(draw_bytes(&mut rng));
                    Slac::Evse(EvseSlac::new(c, charger.mac, nmk, now))
                }
                LinkMode::NoModem => {
                    let mut c = config.evse_slac.clone();
                    c.modem = ModemMode::None;
                    c.attenuation_source = AttenuationSource::AlwaysFixed;
                    c.fixed_profile = [charger.attenuation_db; 58];
                    let nmk = Nmk(draw_bytes(&mut rng));
                    Slac::Evse(EvseSlac::new(c, charger.mac, nmk, now))
                }
                LinkMode::Paired => Slac::Off,
            };
            let ip = link_local_from_mac(charger.mac);
            let port = draw_port(&mut rng);
            let server =
                SdpServer::new(SdpServerConfig::no_tls(ip, port)).map_err(WorldConfigError::Sdp)?;
            let slot = SessionSlot {
                side: Side::Evse(n),
                mac: charger.mac,
                entropy: draw_bytes(&mut rng),
                now,
            };
            let address = SocketAddrV6::new(ip, port, 0, 0);
            hosts.push(Host {
                side: Side::Evse(n),
                mac: charger.mac,
                ip,
                slac,
                sdp: Sdp::Server(server),
                tcp: Some(TcpEndpoint::listen(config.tcp, address, rng.next_u32())),
                tcp_port: port,
                tcp_closed_reported: false,
                tls: None,
                tls_reported: false,
                deframer: Deframer::new(DeframerConfig::default()),
                session: None,
                slot,
                inbox: VecDeque::new(),
                delay: charger.response_delay,
                neighbours: BTreeMap::new(),
                outcome: None,
                disconnect_delivered: false,
                measurements_blocked: false,
            });
        }
        let plant = DcPlant::new(config.plant.clone(), now);
        let soc = plant.battery().soc();
        let report = SimReport {
            seed: config.seed,
            ev_outcome: None,
            evse_outcome: None,
            failure: None,
            matched_charger: None,
            slac_paired_at: None,
            sdp_discovered_at: None,
            tcp_connected_at: None,
            phases: Vec::new(),
            ended_at: now,
            soc_start: soc,
            soc_end: soc,
            energy_wh: 0.0,
            max_current: 0.0,
            messages: MessageCounts::default(),
            frames_sent: 0,
            tcp_retransmissions: 0,
            contactor_close_step: None,
        };
        let mut world = Self {
            now,
            rng,
            medium,
            hosts,
            plant,
            events: VecDeque::new(),
            tap: None,
            filter: None,
            next_measurement: now,
            slac_start_at: None,
            charging_since: None,
            stop_requested: false,
            sessions_done_at: None,
            sessions,
            security: None,
            steps: 0,
            ended: false,
            report,
            config,
        };
        if matches!(world.hosts[EV].slac, Slac::Ev(_)) {
            world.slac_start_at = Some(now + world.config.slac_start_delay);
        } else {
            world.report.matched_charger = Some(world.config.plugged_charger);
        }
        // The hosts' first frames go out at the first step (time zero), once a frame tap
        // can be installed.
        Ok(world)
    }

    /// Runs every V2G connection over a secure channel made by `factory` (TLS): the chargers
    /// announce TLS in SDP and the car asks for it ([V2G2-151]); each session starts once its
    /// handshake has completed. Call before the first step.
    pub fn set_stream_security(&mut self, factory: Box<SecurityFactory>) {
        self.security = Some(factory);
        let mut client = self.config.sdp_client;
        client.tls = ccs_proto::sdp::TlsWish::RequireTls;
        for host in &mut self.hosts {
            match &mut host.sdp {
                Sdp::Client { client: c, .. } => *c = SdpClient::new(client),
                Sdp::Server(server) => {
                    if let Ok(s) = SdpServer::new(SdpServerConfig::tls_only(host.ip, host.tcp_port))
                    {
                        *server = s;
                    }
                }
            }
        }
    }

    /// Installs the frame tap (replacing an earlier one).
    pub fn set_frame_tap(&mut self, tap: FrameTap) {
        self.tap = Some(tap);
    }

    /// The virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The physics (battery, power supply, DC link).
    pub fn plant(&self) -> &DcPlant {
        &self.plant
    }

    /// The configuration.
    pub fn config(&self) -> &WorldConfig {
        &self.config
    }

    /// Whether the world has stopped.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Asks the car to stop charging now, as its user would (the dashboard's stop button):
    /// the session winds down normally. `false` when the car has no session yet, so there is
    /// nothing to stop; `true` also when a stop was already requested.
    pub fn request_user_stop(&mut self) -> bool {
        if self.stop_requested {
            return true;
        }
        if self.hosts[EV].session.is_none() {
            return false;
        }
        self.request_stop(StopReason::UserRequest);
        true
    }

    /// The plugged charger's enable switch (`false`: its user asks to stop charging); the
    /// charger's session sees it with the next measurements.
    pub fn set_charging_enabled(&mut self, enabled: bool) {
        self.plant.set_charging_enabled(enabled);
    }

    /// Changes the line's loss probability from now on (e.g. 1.0: the link breaks).
    pub fn set_loss(&mut self, probability: f64) {
        self.medium.set_loss(probability);
    }

    /// The next event for displays and logs.
    pub fn poll_event(&mut self) -> Option<WorldEvent> {
        self.events.pop_front()
    }

    /// The report so far (final once [`World::is_ended`]).
    pub fn report(&self) -> SimReport {
        let mut r = self.report.clone();
        r.soc_end = self.plant.battery().soc();
        let capacity = f64::from(self.plant.battery().config().capacity.0);
        r.energy_wh = f64::from(r.soc_end.0 - r.soc_start.0) / 100.0 * capacity;
        r.tcp_retransmissions = self
            .hosts
            .iter()
            .filter_map(|h| h.tcp.as_ref())
            .map(TcpEndpoint::retransmitted_segments)
            .sum();
        r.contactor_close_step = self.plant.last_contactor_close_step().map(|v| v.0);
        r
    }

    /// Runs to the end, discarding events; returns the report.
    pub fn run(&mut self) -> SimReport {
        while self.step() {
            self.events.clear();
        }
        self.events.clear();
        self.report()
    }

    /// The earliest deadline of anything in the world.
    fn next_deadline(&self) -> Option<Instant> {
        let stop = match (self.charging_since, self.config.stop.charge_duration) {
            (Some(since), Some(d)) if !self.stop_requested => Some(since + d),
            _ => None,
        };
        self.hosts
            .iter()
            .map(Host::poll_timeout)
            .chain([
                self.medium.poll_timeout(),
                Some(self.next_measurement),
                self.slac_start_at,
                stop,
            ])
            .flatten()
            .min()
    }

    /// One step: jump to the next deadline and run everything due. Returns false once the
    /// world has ended (sessions over, failure, or a limit).
    pub fn step(&mut self) -> bool {
        if self.ended {
            return false;
        }
        if self.steps >= self.config.max_steps {
            self.end(Some(WorldFailure::StepLimit(self.steps)));
            return false;
        }
        self.steps += 1;
        let limit = Instant::ZERO + self.config.time_limit;
        let next = self.next_deadline().unwrap_or(limit);
        if next > limit {
            self.now = limit;
            self.plant.advance(limit);
            self.end(Some(WorldFailure::TimeLimit(limit)));
            return false;
        }
        self.now = self.now.max(next);
        let now = self.now;
        self.plant.advance(now);

        if self.medium.poll_timeout().is_some_and(|t| t <= now) {
            self.medium.handle_timeout(now);
        }
        if self.slac_start_at.is_some_and(|t| t <= now) {
            self.slac_start_at = None;
            if let Slac::Ev(slac) = &mut self.hosts[EV].slac {
                slac.start(now);
            }
        }
        for host in &mut self.hosts {
            if host.slac.poll_timeout().is_some_and(|t| t <= now) {
                host.slac.handle_timeout(now);
            }
            if let Sdp::Client {
                client, start_at, ..
            } = &mut host.sdp
            {
                if start_at.is_some_and(|t| t <= now) {
                    *start_at = None;
                    client.start(now);
                } else if client.poll_timeout().is_some_and(|t| t <= now) {
                    client.handle_timeout(now);
                }
            }
            if let Some(tcp) = &mut host.tcp
                && tcp.poll_timeout().is_some_and(|t| t <= now)
            {
                tcp.handle_timeout(now);
            }
            if let Some(session) = &mut host.session
                && session.poll_timeout().is_some_and(|t| t <= now)
            {
                session.handle_timeout(now);
            }
        }
        self.deliver_inbound();
        if self.next_measurement <= now {
            self.measure();
            self.next_measurement = now + self.config.measurement_interval;
        }
        if let (Some(since), Some(d)) = (self.charging_since, self.config.stop.charge_duration)
            && !self.stop_requested
            && now >= since + d
        {
            self.request_stop(StopReason::ChargeTimeReached);
        }
        self.flush();
        self.check_end();
        true
    }

    fn deliver_inbound(&mut self) {
        let now = self.now;
        for host in &mut self.hosts {
            while host.inbox.front().is_some_and(|(at, _)| *at <= now) {
                let Some((_, item)) = host.inbox.pop_front() else {
                    break;
                };
                let Some(session) = &mut host.session else {
                    continue;
                };
                if session.is_finished() {
                    continue;
                }
                match item {
                    Inbound::Message(m) => {
                        session.handle_message(now, m.payload_type, &m.payload);
                    }
                    Inbound::Disconnected(d) => {
                        if !host.disconnect_delivered {
                            host.disconnect_delivered = true;
                            session.handle_disconnected(now, d);
                        }
                    }
                }
            }
        }
    }

    /// Hands each session what its hardware measures now.
    fn measure(&mut self) {
        let current = self.plant.power_supply().current().0;
        if self.plant.contactors_closed() && current > self.report.max_current {
            self.report.max_current = current;
        }
        self.feed_measurements(EV);
        self.feed_measurements(1 + self.config.plugged_charger);
        if let Some(target) = self.config.stop.target_soc
            && self.charging_since.is_some()
            && !self.stop_requested
            && self.plant.battery().soc() >= target
        {
            self.request_stop(StopReason::TargetSocReached(target));
        }
    }

    /// What host `i`'s hardware measures now: the car's BMS, inlet and contactors; the
    /// plugged charger's power supply and isolation monitor (other chargers measure nothing
    /// of this car).
    fn feed_measurements(&mut self, i: usize) {
        if self.hosts[i].measurements_blocked {
            return;
        }
        let measurements = if i == EV {
            self.plant.vehicle_measurements()
        } else if i == 1 + self.config.plugged_charger {
            self.plant.charger_measurements()
        } else {
            return;
        };
        if let Some(session) = &mut self.hosts[i].session {
            for m in measurements {
                session.handle_measurement(self.now, m);
            }
        }
    }

    /// Makes host `i`'s session if it has none yet, and brings it up to date with the
    /// hardware.
    fn ensure_session(&mut self, i: usize) {
        if self.hosts[i].session.is_some() {
            return;
        }
        let mut slot = self.hosts[i].slot;
        slot.now = self.now;
        self.hosts[i].session = Some((self.sessions)(&slot));
        self.feed_measurements(i);
    }

    fn request_stop(&mut self, reason: StopReason) {
        self.stop_requested = true;
        if let Some(session) = &mut self.hosts[EV].session {
            session.handle_stop_request(self.now);
        }
        self.push_event(Side::Ev, WorldEventKind::StopRequested(reason));
    }

    fn push_event(&mut self, side: Side, kind: WorldEventKind) {
        self.events.push_back(WorldEvent {
            at: self.now,
            side,
            kind,
        });
    }

    /// Moves every output along until nothing moves (bounded).
    fn flush(&mut self) {
        for _ in 0..100_000 {
            let mut progressed = false;
            for i in 0..self.hosts.len() {
                progressed |= self.drain_host(i);
            }
            while let Some((station, frame)) = self.medium.poll_host_transmit() {
                progressed = true;
                self.receive_frame(station, &frame);
            }
            if !progressed {
                return;
            }
        }
    }

    fn tap(&mut self, side: Side, direction: Direction, frame: &[u8]) {
        if let Some(tap) = &mut self.tap {
            tap(&FrameRecord {
                at: self.now,
                side,
                direction,
                frame,
            });
        }
    }

    fn send_frame(&mut self, i: usize, frame: &[u8]) {
        self.report.frames_sent += 1;
        self.tap(self.hosts[i].side, Direction::Sent, frame);
        self.filtered_send(i, frame);
    }

    fn send_ip(&mut self, i: usize, dst: Ipv6Addr, hop_limit: u8, transport: Transport) {
        let host = &self.hosts[i];
        let dst_mac = if dst.is_multicast() {
            multicast_mac(dst)
        } else if let Some(mac) = host.neighbours.get(&dst) {
            *mac
        } else {
            // No neighbour entry: a real stack would solicit; the simulation's hosts always
            // learn the peer from a received frame first, so this is dropped.
            return;
        };
        let frame = IpFrame {
            dst_mac,
            src_mac: host.mac,
            src: host.ip,
            dst,
            hop_limit,
            transport,
        }
        .emit();
        self.send_frame(i, &frame);
    }

    /// Drains one host's machines; true if anything moved.
    fn drain_host(&mut self, i: usize) -> bool {
        let now = self.now;
        let side = self.hosts[i].side;
        let mut progressed = false;

        while let Some(frame) = self.hosts[i].slac.poll_transmit() {
            progressed = true;
            self.send_frame(i, &frame);
        }
        while let Some(event) = self.hosts[i].slac.poll_event() {
            progressed = true;
            self.on_slac_event(i, event);
        }

        progressed |= self.drain_sdp(i);

        // Session → TCP, hardware, events.
        while let Some(t) = self.hosts[i]
            .session
            .as_mut()
            .and_then(|s| s.poll_transmit())
        {
            progressed = true;
            let host = &mut self.hosts[i];
            match t {
                Transmit::Message {
                    payload_type,
                    payload,
                } => match (
                    &mut host.tls,
                    &mut host.tcp,
                    v2gtp::encode(payload_type, &payload),
                ) {
                    (Some(tls), _, Some(bytes)) => tls.send_plaintext(&bytes),
                    (None, Some(tcp), Some(bytes)) => tcp.send(&bytes),
                    _ => {}
                },
                Transmit::Close => {
                    if let Some(tls) = &mut host.tls {
                        tls.close();
                        if let Some(tcp) = &mut host.tcp {
                            tcp.send(&tls.take_ciphertext());
                        }
                    }
                    if let Some(tcp) = &mut host.tcp {
                        tcp.close();
                    }
                }
            }
        }
        while let Some(command) = self.hosts[i]
            .session
            .as_mut()
            .and_then(|s| s.poll_command())
        {
            progressed = true;
            if i == EV || i == 1 + self.config.plugged_charger {
                self.plant.command(now, &command);
            }
            self.push_event(side, WorldEventKind::Command(command));
        }
        while let Some(event) = self.hosts[i].session.as_mut().and_then(|s| s.poll_event()) {
            progressed = true;
            self.on_session_event(i, event);
        }

        progressed |= self.pump_security(i);

        // TCP → frames, events.
        if let Some(tcp) = &mut self.hosts[i].tcp {
            tcp.flush(now);
        }
        while let Some(segment) = self.hosts[i]
            .tcp
            .as_mut()
            .and_then(TcpEndpoint::poll_segment)
        {
            let Some(remote) = self.hosts[i].tcp.as_ref().and_then(TcpEndpoint::remote) else {
                continue;
            };
            progressed = true;
            self.send_ip(i, *remote.ip(), 64, Transport::Tcp(segment));
        }
        while let Some(event) = self.hosts[i].tcp.as_mut().and_then(TcpEndpoint::poll_event) {
            progressed = true;
            self.on_tcp_event(i, event);
        }
        if let Some(tcp) = &self.hosts[i].tcp
            && tcp.is_closed()
            && tcp.remote().is_some()
            && !self.hosts[i].tcp_closed_reported
        {
            self.hosts[i].tcp_closed_reported = true;
            self.push_event(side, WorldEventKind::TcpClosed);
        }
        progressed
    }

    fn drain_sdp(&mut self, i: usize) -> bool {
        let mut progressed = false;
        let side = self.hosts[i].side;
        match &mut self.hosts[i].sdp {
            Sdp::Client { client, port, .. } => {
                let port = *port;
                let mut requests = Vec::new();
                while let Some(r) = client.poll_transmit() {
                    requests.push(r);
                }
                let mut events = Vec::new();
                while let Some(e) = client.poll_event() {
                    events.push(e);
                }
                for r in requests {
                    progressed = true;
                    // [V2G2-125]: to all nodes, port 15118; hop limit 255 as link-local
                    // multicast senders commonly use.
                    self.send_ip(
                        i,
                        SDP_MULTICAST_ADDRESS,
                        255,
                        Transport::Udp {
                            src_port: port,
                            dst_port: SDP_SERVER_PORT,
                            payload: r.to_vec(),
                        },
                    );
                }
                for e in events {
                    progressed = true;
                    match e {
                        SdpClientEvent::Discovered(endpoint) => {
                            self.report.sdp_discovered_at.get_or_insert(self.now);
                            let host = &mut self.hosts[i];
                            let remote = SocketAddrV6::new(endpoint.address, endpoint.port, 0, 0);
                            let iss = self.rng.next_u32();
                            host.tcp = Some(TcpEndpoint::connect(
                                self.config.tcp,
                                self.now,
                                host.tcp_address(),
                                remote,
                                iss,
                            ));
                            self.push_event(side, WorldEventKind::SdpDiscovered(endpoint));
                        }
                        SdpClientEvent::Failed(err) => {
                            self.end(Some(WorldFailure::Sdp(err)));
                        }
                        SdpClientEvent::Rejected(_) | SdpClientEvent::FellBackToNoTls => {}
                    }
                }
            }
            Sdp::Server(server) => {
                let mut answers = Vec::new();
                while let Some(t) = server.poll_transmit() {
                    answers.push(t);
                }
                let mut events = Vec::new();
                while let Some(e) = server.poll_event() {
                    events.push(e);
                }
                for t in answers {
                    progressed = true;
                    self.send_ip(
                        i,
                        *t.to.ip(),
                        255,
                        Transport::Udp {
                            src_port: SDP_SERVER_PORT,
                            dst_port: t.to.port(),
                            payload: t.datagram.to_vec(),
                        },
                    );
                }
                for e in events {
                    progressed = true;
                    if let SdpServerEvent::Answered { from, port, .. } = e {
                        self.push_event(side, WorldEventKind::SdpAnswered { to: from, port });
                    }
                }
            }
        }
        progressed
    }

    fn on_slac_event(&mut self, i: usize, event: SlacEvent) {
        let side = self.hosts[i].side;
        match &event {
            SlacEvent::Paired { evse_mac, .. } if i == EV => {
                self.report.slac_paired_at.get_or_insert(self.now);
                self.report.matched_charger =
                    self.config.chargers.iter().position(|c| c.mac == *evse_mac);
                let start = self.now + self.config.sdp_start_delay;
                if let Sdp::Client { start_at, .. } = &mut self.hosts[EV].sdp {
                    *start_at = Some(start);
                }
            }
            SlacEvent::Failed { reason } if i == EV => {
                let text = format!("{reason:?}");
                self.push_event(side, WorldEventKind::Slac(event));
                self.end(Some(WorldFailure::Slac(text)));
                return;
            }
            _ => {}
        }
        self.push_event(side, WorldEventKind::Slac(event));
    }

    fn on_session_event(&mut self, i: usize, event: SessionEvent) {
        let side = self.hosts[i].side;
        match &event {
            SessionEvent::PhaseChanged(phase) => {
                self.report.phases.push(PhaseRecord {
                    at: self.now,
                    side,
                    phase: *phase,
                });
                if i == EV && *phase == Phase::Charging {
                    self.charging_since.get_or_insert(self.now);
                }
            }
            SessionEvent::Sent { name, .. } => {
                if i == EV {
                    self.report.messages.ev_sent += 1;
                } else {
                    self.report.messages.evse_sent += 1;
                }
                *self.report.messages.by_name.entry(name).or_default() += 1;
            }
            SessionEvent::Finished(outcome) => {
                self.hosts[i].outcome = Some(outcome.clone());
            }
            _ => {}
        }
        self.push_event(side, WorldEventKind::Session(event));
    }

    fn on_tcp_event(&mut self, i: usize, event: TcpEvent) {
        let now = self.now;
        let side = self.hosts[i].side;
        let delay = draw_in(&mut self.rng, self.hosts[i].delay);
        let host = &mut self.hosts[i];
        match event {
            TcpEvent::Connected => {
                let (local, remote) = match &host.tcp {
                    Some(tcp) => (tcp.local(), tcp.remote()),
                    None => return,
                };
                if i == EV {
                    self.report.tcp_connected_at.get_or_insert(now);
                }
                if let Some(remote) = remote {
                    self.push_event(side, WorldEventKind::TcpConnected { local, remote });
                }
                match &mut self.security {
                    // The session starts when the TLS handshake is done (`pump_security`).
                    Some(factory) => self.hosts[i].tls = Some(factory(side)),
                    None => self.start_session(i),
                }
            }
            TcpEvent::Data(bytes) => {
                let plain;
                let bytes = match &mut host.tls {
                    Some(tls) => {
                        tls.receive_ciphertext(&bytes);
                        plain = tls.take_plaintext();
                        &plain
                    }
                    None => &bytes,
                };
                let mut rest: &[u8] = bytes;
                loop {
                    let taken = host.deframer.push(rest);
                    rest = &rest[taken..];
                    let mut broken = None;
                    loop {
                        match host.deframer.poll_message() {
                            Ok(Some(m)) => host.enqueue(now + delay, Inbound::Message(m)),
                            Ok(None) => break,
                            Err(e) => {
                                broken = Some(e);
                                break;
                            }
                        }
                    }
                    if let Some(e) = broken {
                        // ISO 15118-2 §7.8.3.2: a bad header closes the connection.
                        host.enqueue(
                            now + delay,
                            Inbound::Disconnected(Disconnect::Broken(e.to_string())),
                        );
                        if let Some(tcp) = &mut host.tcp {
                            tcp.close();
                        }
                        break;
                    }
                    if rest.is_empty() || taken == 0 {
                        break;
                    }
                }
            }
            TcpEvent::PeerClosed => {
                let reason = match host.deframer.finish() {
                    Ok(()) => Disconnect::Closed,
                    Err(e) => Disconnect::Broken(e.to_string()),
                };
                host.enqueue(now + delay, Inbound::Disconnected(reason));
                // Close our side too once the session is done with it (it sends Close);
                // a session that already finished gets it closed here.
                if host.session_finished()
                    && let Some(tcp) = &mut host.tcp
                {
                    tcp.close();
                }
            }
            TcpEvent::Reset => host.enqueue(
                now,
                Inbound::Disconnected(Disconnect::Broken("connection reset".into())),
            ),
            TcpEvent::TimedOut => host.enqueue(
                now,
                Inbound::Disconnected(Disconnect::Broken("TCP retransmissions exhausted".into())),
            ),
        }
    }

    /// Starts host `i`'s session on its connection.
    fn start_session(&mut self, i: usize) {
        self.ensure_session(i);
        if let Some(session) = &mut self.hosts[i].session {
            session.handle_connected(self.now);
        }
    }

    /// Moves host `i`'s TLS ciphertext to TCP, starts the session once the handshake is done
    /// and ends the connection when the channel failed.
    fn pump_security(&mut self, i: usize) -> bool {
        let now = self.now;
        let side = self.hosts[i].side;
        let host = &mut self.hosts[i];
        let (Some(tls), Some(tcp)) = (&mut host.tls, &mut host.tcp) else {
            return false;
        };
        let mut progressed = false;
        let cipher = tls.take_ciphertext();
        if !cipher.is_empty() {
            progressed = true;
            tcp.send(&cipher);
        }
        if let Some(why) = tls.failure()
            && !host.tls_reported
        {
            host.tls_reported = true;
            tcp.close();
            let text = format!("TLS: {why}");
            host.enqueue(now, Inbound::Disconnected(Disconnect::Broken(text.clone())));
            self.push_event(side, WorldEventKind::TlsFailed(text));
            return true;
        }
        if tls.is_established() && !host.tls_reported {
            host.tls_reported = true;
            let description = tls.description();
            self.push_event(side, WorldEventKind::TlsEstablished(description));
            self.start_session(i);
            return true;
        }
        progressed
    }

    /// A frame arrives at host `i`'s interface.
    fn receive_frame(&mut self, i: usize, frame: &[u8]) {
        let now = self.now;
        self.tap(self.hosts[i].side, Direction::Received, frame);
        let is_ipv6 = frame.get(12..14) == Some(&frames::ETHERTYPE_IPV6.to_be_bytes()[..]);
        if !is_ipv6 {
            self.hosts[i].slac.handle_frame(now, frame);
            return;
        }
        let Ok(packet) = IpFrame::parse(frame) else {
            return;
        };
        let host = &mut self.hosts[i];
        let for_us = packet.dst_mac == host.mac || packet.dst_mac.is_group();
        let to_us = packet.dst == host.ip || packet.dst.is_multicast();
        if !for_us || !to_us || packet.src_mac == host.mac {
            return;
        }
        // Without modems there is no AVLN to keep other stations out; the hosts accept IP
        // only from the station SLAC paired them with, as the modems would.
        if self.config.link == LinkMode::NoModem {
            let partner = match &host.slac {
                Slac::Evse(slac) => slac.matched_ev(),
                _ => self
                    .report
                    .matched_charger
                    .and_then(|n| self.config.chargers.get(n))
                    .map(|c| c.mac),
            };
            if partner != Some(packet.src_mac) {
                return;
            }
        }
        host.neighbours.insert(packet.src, packet.src_mac);
        match packet.transport {
            Transport::Udp {
                src_port,
                dst_port,
                payload,
            } => {
                let from = SocketAddrV6::new(packet.src, src_port, 0, 0);
                match &mut host.sdp {
                    Sdp::Server(server) if dst_port == SDP_SERVER_PORT => {
                        server.handle_datagram(now, from, &payload);
                    }
                    Sdp::Client { client, port, .. } if dst_port == *port => {
                        client.handle_datagram(now, &payload);
                    }
                    _ => {}
                }
            }
            Transport::Tcp(segment) => {
                let from = SocketAddrV6::new(packet.src, segment.src_port, 0, 0);
                if let Some(tcp) = &mut host.tcp
                    && segment.dst_port == tcp.local().port()
                {
                    tcp.handle_segment(now, from, &segment);
                }
            }
        }
    }

    /// Ends the world when both sessions of the pair are over and their connection is
    /// closed (or one second has passed since, for a peer that never closes).
    fn check_end(&mut self) {
        if self.ended {
            return;
        }
        let ev_done = self.hosts[EV].session_finished();
        let evse = self.report.matched_charger.map(|n| n + 1);
        let evse_done = evse.is_none_or(|n| self.hosts[n].session_finished());
        if !(ev_done && evse_done) {
            return;
        }
        let done_at = *self.sessions_done_at.get_or_insert(self.now);
        let closed = [Some(EV), evse].into_iter().flatten().all(|n| {
            self.hosts[n]
                .tcp
                .as_ref()
                .is_none_or(TcpEndpoint::is_closed)
        });
        if closed || self.now >= done_at + Duration::from_secs(1) {
            self.end(None);
        }
    }

    fn end(&mut self, failure: Option<WorldFailure>) {
        if self.ended {
            return;
        }
        self.ended = true;
        self.report.failure = failure;
        self.report.ended_at = self.now;
        self.report.ev_outcome = self.hosts[EV].outcome.clone();
        self.report.evse_outcome = self
            .report
            .matched_charger
            .and_then(|n| self.hosts[n + 1].outcome.clone());
    }

    /// The voltage on the DC link (the car's inlet, the charger's output).
    pub fn link_voltage(&self) -> Volts {
        self.plant.inlet_voltage()
    }
}
