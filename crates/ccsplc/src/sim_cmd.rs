//! `ccsplc sim`: a car and a charger in this process over the simulated powerline (simulated
//! modems, SLAC, SDP, TCP, the V2G sessions, battery, contactors and power supply), shown
//! live, with a summary at the end. Exit 0 only if both sessions completed.
//!
//! The world runs in virtual time as fast as it can (or paced to the wall clock with
//! `--realtime`, and always with `--web`: a live dashboard needs real time); every line
//! carries the virtual timestamp and the DC link's voltage, current and the battery's SoC.
//! Repeated messages (CableCheck, PreCharge, CurrentDemand) are shown
//! at most once per virtual second.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::process::ExitCode;
use std::rc::Rc;

use anyhow::Context as _;
use ccs_proto::capture::{RecorderConfig, SectionInfo, SessionRecorder, Timestamp};
use ccs_proto::hardware::Percent;
use ccs_proto::session::{
    self, EvccConfig, EvccSession, Outcome, SeccConfig, SeccSession, V2gSession,
};
use ccs_proto::time::{Duration, Instant};
use ccs_sim::world::{
    LinkMode, SessionFactory, SessionSlot, Side, SimReport, StopCondition, StopReason, World,
    WorldConfig, WorldEvent, WorldEventKind,
};

use crate::cli::SimArgs;
use crate::config::Config;
use crate::trace_text::{TraceText, slac_text};
use crate::web::{self, sim_feed::SimFeed};

mod fault;
mod pnc;

/// Exit code when the session did not complete.
const EXIT_FAILED: u8 = 1;
/// Runs `ccsplc sim`.
pub(crate) fn run(args: &SimArgs) -> anyhow::Result<ExitCode> {
    if args.list_faults {
        return Ok(fault::list());
    }
    let mut loaded = Config::load(args.config.as_deref())?;
    loaded.apply_command_line(&args.common);
    loaded.log_warnings();
    if args.common.interface.is_some() {
        tracing::warn!("sim uses no network interface; --interface is ignored");
    }
    let config = &loaded.config;

    let seed = args
        .seed
        .or(config.general.rng_seed)
        .unwrap_or_else(fresh_seed);
    if let Some(name) = &args.fault {
        // `--protocol` picks the case of that protocol (`--protocol iso2 --fault
        // tcp-reset-charging` runs `iso2-tcp-reset-charging`).
        let protocol = args.common.protocols.first().map(|&p| fault::protocol(p));
        return fault::run(name, protocol, seed);
    }
    let pnc = if args.pnc {
        if config.protocols().first() != Some(&session::Protocol::Iso15118_2) {
            anyhow::bail!("--pnc is ISO 15118-2 Plug & Charge: it needs --protocol iso2");
        }
        Some(pnc::SimPnc::new()?)
    } else {
        None
    };
    let world_config = world_config(args, config, seed);
    let mut header = header(&world_config, &config.protocols());
    if pnc.is_some() {
        header.push_str(", Plug & Charge over TLS 1.2 (throw-away test PKI)");
    }
    let plugged = Side::Evse(world_config.plugged_charger);
    let mut world = World::new(world_config, sessions(config, pnc.as_ref()))
        .context("the simulation cannot be set up")?;
    if let Some(pnc) = &pnc {
        world.set_stream_security(pnc.security());
    }
    // `--pcap FILE`, else the next numbered file of `capture.folder`.
    let pcap = match (&args.common.pcap, &config.capture.folder) {
        (Some(path), _) => Some(path.clone()),
        (None, Some(dir)) => Some(
            crate::run::record::next_session_file(dir)
                .with_context(|| format!("capture folder {}", dir.display()))?,
        ),
        (None, None) => None,
    };
    let recorder = match &pcap {
        Some(path) => Some(start_recording(&mut world, path, plugged, &header)?),
        None => None,
    };
    let (dashboard, mut controls) = web::start(web::Mode::Sim, &config.web)?;
    if let Some(path) = &pcap {
        dashboard.capture_file(path);
    }
    let mut feed = SimFeed::new(dashboard.clone());
    let realtime = args.realtime || dashboard.is_enabled();
    println!("{header}");

    let wall_start = std::time::Instant::now();
    let mut display = Display::default();
    while world.step() {
        if realtime {
            pace(wall_start, world.now());
        }
        while let Some(control) = controls.try_recv() {
            web::sim_feed::apply(&mut world, &dashboard, control);
        }
        feed.measurements(&world);
        show_events(&mut world, &mut display, recorder.as_ref(), &feed);
    }
    show_events(&mut world, &mut display, recorder.as_ref(), &feed);
    dashboard.drain(std::time::Duration::from_secs(2));
    let report = world.report();
    let summary = summary(&report, wall_start.elapsed());
    println!("{summary}");
    if let (Some(recorder), Some(path)) = (recorder, &pcap) {
        finish_recording(&recorder, path, world.now(), &summary);
    }
    Ok(if report.completed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    })
}

/// Prints (and records, and shows on the dashboard) the events of the last step.
fn show_events(
    world: &mut World,
    display: &mut Display,
    recorder: Option<&SharedRecorder>,
    feed: &SimFeed,
) {
    while let Some(event) = world.poll_event() {
        feed.event(&event);
        if let Some(line) = display.line(world, &event) {
            println!("{line}");
            if let Some(r) = recorder {
                let mut r = r.borrow_mut();
                r.record_log(Timestamp::from_instant(event.at), &line);
                // A full disk stops the recording, never the session: say so once.
                if let Some(e) = r.take_error() {
                    println!("capture stopped: {e} (the session goes on)");
                }
            }
        }
    }
}

/// The recording shared by the world's frame tap and the display.
type SharedRecorder = Rc<RefCell<SessionRecorder<BufWriter<File>>>>;

/// `--pcap FILE`: a pcapng file of what the charger host's interface sees (SLAC with its
/// modem and the car, SDP, TCP with V2GTP), with every display line as a packet comment.
fn start_recording(
    world: &mut World,
    path: &Path,
    side: Side,
    header: &str,
) -> anyhow::Result<SharedRecorder> {
    let file = File::create(path)
        .with_context(|| format!("cannot create the capture file {}", path.display()))?;
    let config = RecorderConfig {
        interface_name: "sim".to_owned(),
        interface_description: Some(format!(
            "simulated HomePlug modem interface of the {side} host"
        )),
        section: SectionInfo {
            application: Some(format!("ccsplc {}", env!("CARGO_PKG_VERSION"))),
            comment: Some(header.to_owned()),
            ..SectionInfo::default()
        },
        ..RecorderConfig::default()
    };
    let recorder = Rc::new(RefCell::new(SessionRecorder::new(
        BufWriter::new(file),
        &config,
    )));
    let tap = Rc::clone(&recorder);
    world.set_frame_tap(Box::new(move |record| {
        if record.side == side {
            tap.borrow_mut()
                .record_frame(Timestamp::from_instant(record.at), record.frame);
        }
    }));
    Ok(recorder)
}

/// Writes the summary into the capture, flushes it and reports trouble (a failed capture does
/// not change the exit code: the session is what counts).
fn finish_recording(recorder: &SharedRecorder, path: &Path, end: Instant, summary: &str) {
    let mut r = recorder.borrow_mut();
    r.record_log(Timestamp::from_instant(end), summary.trim());
    r.flush();
    match r.health().error.clone() {
        Some(e) => eprintln!(
            "ccsplc sim: the capture {} is incomplete: {e}",
            path.display()
        ),
        None => println!(
            "Capture: {} ({} records)",
            path.display(),
            r.health().written
        ),
    }
}

/// The sessions on both sides: the car offers `protocols` (`--protocol`, in priority order;
/// DIN when none), the charger accepts DIN and ISO 15118-2 and follows the car's priorities,
/// within the DC limits of the configuration (`[charging] evse_max_*`).
/// The charger's SessionID comes from the world's seeded entropy, the car's EVCCID is its MAC.
/// With `pnc`, the car pays with its contract and the charger verifies it (the connection is
/// TLS: the world's stream security).
fn sessions(config: &Config, pnc: Option<&pnc::SimPnc>) -> Box<SessionFactory<'static>> {
    let protocols = &config.protocols();
    let mut car = EvccConfig::default();
    // The simulated link has no TLS; ISO 15118-20 runs over it all the same.
    car.iso20.allow_without_tls = true;
    if !protocols.is_empty() {
        car.protocols = protocols
            .iter()
            .zip(1u8..)
            .map(|(&protocol, priority)| session::ProtocolOffer {
                protocol,
                priority,
                schema_id: priority,
            })
            .collect();
    }
    let mut charger = SeccConfig::default();
    charger.limits = config.secc_config().limits;
    charger.protocols = vec![
        session::Protocol::Din70121,
        session::Protocol::Iso15118_2,
        session::Protocol::Iso15118_20Dc,
        session::Protocol::Iso15118_20DcBpt,
    ];
    charger.iso20.allow_without_tls = true;
    if let Some(pnc) = pnc {
        pnc.configure_car(&mut car);
        pnc.configure_charger(&mut charger);
    }
    let signer = pnc.map(pnc::SimPnc::signer);
    let secc_pnc = pnc.map(|p| p.secc_pnc([0; 16]));
    Box::new(move |slot: &SessionSlot| -> Box<dyn V2gSession> {
        match slot.side {
            Side::Ev => {
                let mut session = EvccSession::new(car.clone(), slot.mac.0, slot.now);
                if let Some(signer) = &signer {
                    session.set_contract_signer(signer.clone());
                }
                Box::new(session)
            }
            Side::Evse(_) => {
                let mut session_id = [0u8; 8];
                session_id.copy_from_slice(&slot.entropy[..8]);
                let mut session = SeccSession::new(charger.clone(), session_id, slot.now);
                if let Some(pnc) = &secc_pnc {
                    // A fresh GenChallenge per session, from the world's seeded entropy.
                    let mut pnc = pnc.clone();
                    pnc.gen_challenge.copy_from_slice(&slot.entropy[8..24]);
                    session.set_tls(true);
                    session.set_pnc(pnc);
                }
                Box::new(session)
            }
        }
    })
}

/// A seed from the process's hash randomness and the time: different on every run.
fn fresh_seed() -> u64 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    h.finish()
}

fn world_config(args: &SimArgs, config: &Config, seed: u64) -> WorldConfig {
    let mut w = WorldConfig::default();
    w.seed = seed;
    w.link = if config.general.no_slac {
        LinkMode::Paired
    } else if config.general.no_modem {
        LinkMode::NoModem
    } else {
        LinkMode::Powerline
    };
    if config
        .protocols()
        .contains(&session::Protocol::Iso15118_20DcBpt)
    {
        // Bidirectional power transfer: the simulated charger can sink what the car sends
        // (vehicle-to-home).
        w.plant.power_supply.max_sink_current = ccs_proto::hardware::Amps(40.0);
    }
    w.ev_slac = config.ev_slac();
    w.evse_slac = config.evse_slac();
    w.sdp_client = config.sdp_client();
    let duration = config.charging.charge_duration.map(Duration::from);
    w.stop = match (duration, args.target_soc) {
        (None, None) => StopCondition::after(Duration::from_secs(60)),
        (Some(d), None) => StopCondition::after(d),
        (None, Some(soc)) => StopCondition::at_soc(Percent(soc)),
        (Some(d), Some(soc)) => {
            let mut s = StopCondition::after(d);
            s.target_soc = Some(Percent(soc));
            s
        }
    };
    // Room for the whole session around the charging time: a full battery from 30 % at
    // 50 kW takes about 50 minutes of virtual time.
    let charge_limit = w
        .stop
        .charge_duration
        .unwrap_or(Duration::from_secs(4 * 3600));
    w.time_limit = charge_limit + Duration::from_secs(300);
    w.max_steps = 50_000_000;
    w
}

fn header(w: &WorldConfig, protocols: &[session::Protocol]) -> String {
    let link = match w.link {
        LinkMode::Powerline => "over the simulated powerline (HomePlug modems)",
        LinkMode::NoModem => "on a direct link without modems",
        LinkMode::Paired => "on an already paired link (no SLAC)",
        _ => "on a simulated link",
    };
    let stop = match (w.stop.charge_duration, w.stop.target_soc) {
        (Some(d), Some(soc)) => format!("charging {} s or to {:.0} %", d.as_secs_f64(), soc.0),
        (Some(d), None) => format!("charging {} s", d.as_secs_f64()),
        (None, Some(soc)) => format!("charging to {:.0} %", soc.0),
        (None, None) => "charging until full".to_owned(),
    };
    let offered = match protocols {
        [] => session::Protocol::Din70121.to_string(),
        _ => protocols
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" or "),
    };
    format!(
        "ccsplc sim: {offered}, car and charger {link}, SoC {:.0} %, {stop} (seed {})",
        w.plant.initial_soc.0, w.seed
    )
}

/// Sleeps until the wall clock has caught up with virtual time.
fn pace(start: std::time::Instant, now: Instant) {
    let target =
        start + std::time::Duration::from_micros(u64::try_from(now.total_micros()).unwrap_or(0));
    let wall = std::time::Instant::now();
    if target > wall {
        std::thread::sleep(target - wall);
    }
}

fn seconds(at: Instant) -> f64 {
    at.total_micros() as f64 / 1e6
}

/// Turns world events into display lines, throttling repeats (the texts are
/// [`crate::trace_text`]'s, shared with `ev`, `evse` and `listen`).
#[derive(Debug, Default)]
struct Display {
    /// Per side: what was shown when.
    texts: BTreeMap<Side, TraceText>,
}

impl Display {
    fn line(&mut self, world: &World, event: &WorldEvent) -> Option<String> {
        let text = self.describe(event)?;
        let plant = world.plant();
        Some(format!(
            "[{:>9.3}] {:<5} {text:<62} | {:>6.1} V {:>6.1} A  SoC {:>5.1} %",
            seconds(event.at),
            event.side.to_string(),
            plant.inlet_voltage().0,
            if plant.contactors_closed() {
                plant.power_supply().current().0
            } else {
                0.0
            },
            plant.battery().soc().0,
        ))
    }

    fn describe(&mut self, event: &WorldEvent) -> Option<String> {
        match &event.kind {
            WorldEventKind::Slac(e) => slac_text(e),
            WorldEventKind::SdpDiscovered(e) => Some(format!(
                "SDP: charger at [{}]:{}, {}",
                e.address,
                e.port,
                if e.tls { "TLS" } else { "no TLS" }
            )),
            WorldEventKind::SdpAnswered { to, port } => Some(format!(
                "SDP: answered [{}]:{} with port {port}",
                to.ip(),
                to.port()
            )),
            WorldEventKind::TcpConnected { local, remote } => Some(format!(
                "TCP connected [{}]:{} -> [{}]:{}",
                local.ip(),
                local.port(),
                remote.ip(),
                remote.port()
            )),
            WorldEventKind::TlsEstablished(what) => Some(format!("TLS established: {what}")),
            WorldEventKind::TlsFailed(why) => Some(format!("TLS failed: {why}")),
            WorldEventKind::TcpClosed => Some("TCP closed".to_owned()),
            WorldEventKind::Session(e) => self
                .texts
                .entry(event.side)
                .or_default()
                .session(event.at, e),
            WorldEventKind::Command(c) => self.texts.entry(event.side).or_default().command(c),
            WorldEventKind::StopRequested(StopReason::ChargeTimeReached) => {
                Some("charging time reached: stop requested".to_owned())
            }
            WorldEventKind::StopRequested(StopReason::TargetSocReached(soc)) => {
                Some(format!("SoC {:.1} % reached: stop requested", soc.0))
            }
            WorldEventKind::StopRequested(_) => Some("stop requested".to_owned()),
            _ => None,
        }
    }
}

fn outcome_text(outcome: Option<&Outcome>) -> String {
    match outcome {
        Some(Outcome::Completed) => "completed".to_owned(),
        Some(Outcome::Failed(e)) => format!("failed ({e})"),
        None => "did not finish".to_owned(),
    }
}

fn at_text(at: Option<Instant>) -> String {
    at.map_or_else(|| "-".to_owned(), |t| format!("{:.3} s", seconds(t)))
}

/// The summary printed at the end.
fn summary(r: &SimReport, wall: std::time::Duration) -> String {
    let mut out = String::from("\nSummary\n");
    let mut line = |k: &str, v: String| {
        out.push_str(&format!("  {k:<12} {v}\n"));
    };
    line("car", outcome_text(r.ev_outcome.as_ref()));
    line("charger", outcome_text(r.evse_outcome.as_ref()));
    if let Some(f) = &r.failure {
        line("stopped", f.to_string());
    }
    line(
        "milestones",
        format!(
            "SLAC paired {}, SDP {}, TCP {}",
            at_text(r.slac_paired_at),
            at_text(r.sdp_discovered_at),
            at_text(r.tcp_connected_at)
        ),
    );
    let ev_phases: Vec<String> = r
        .phases
        .iter()
        .filter(|p| p.side == Side::Ev)
        .map(|p| format!("{:?} {:.1}", p.phase, seconds(p.at)))
        .collect();
    if !ev_phases.is_empty() {
        line("car phases", ev_phases.join(", "));
    }
    let charging = r
        .phase_at(Side::Ev, session::Phase::Charging)
        .zip(r.phase_at(Side::Ev, session::Phase::PowerDeliveryStop))
        .map(|(a, b)| b.saturating_duration_since(a).as_secs_f64());
    line(
        "energy",
        format!(
            "{:.0} Wh in {}, SoC {:.1} % -> {:.1} %, up to {:.1} A",
            r.energy_wh,
            charging.map_or_else(|| "no charging loop".to_owned(), |s| format!("{s:.1} s")),
            r.soc_start.0,
            r.soc_end.0,
            r.max_current
        ),
    );
    let mut names: Vec<(&&str, &u32)> = r.messages.by_name.iter().collect();
    names.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let top: Vec<String> = names
        .iter()
        .take(4)
        .map(|(n, c)| format!("{n} {c}"))
        .collect();
    line(
        "messages",
        format!(
            "car sent {}, charger sent {} ({})",
            r.messages.ev_sent,
            r.messages.evse_sent,
            top.join(", ")
        ),
    );
    line(
        "link",
        format!(
            "{} frames, {} TCP retransmissions",
            r.frames_sent, r.tcp_retransmissions
        ),
    );
    line(
        "time",
        format!(
            "{:.3} s simulated in {:.2} s (seed {})",
            seconds(r.ended_at),
            wall.as_secs_f64(),
            r.seed
        ),
    );
    out.push_str(if r.completed() {
        "Result: session completed\n"
    } else {
        "Result: session FAILED\n"
    });
    out
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::cli::{Cli, Command};
    use ccs_proto::session::SessionEvent;

    fn sim_args(args: &[&str]) -> SimArgs {
        let argv = ["ccsplc", "sim"].iter().chain(args);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Sim(a) => a,
            other => panic!("not sim: {other:?}"),
        }
    }

    fn world_for(args: &[&str]) -> WorldConfig {
        let args = sim_args(args);
        let mut loaded = crate::config::Loaded::defaults();
        loaded.apply_command_line(&args.common);
        world_config(&args, &loaded.config, 9)
    }

    #[test]
    fn options_shape_the_world() {
        let w = world_for(&[]);
        assert_eq!(w.link, LinkMode::Powerline);
        assert_eq!(w.stop.charge_duration, Some(Duration::from_secs(60)));
        assert_eq!(w.stop.target_soc, None);
        assert_eq!(w.seed, 9);

        let w = world_for(&["--no-modem", "--charge-seconds", "5"]);
        assert_eq!(w.link, LinkMode::NoModem);
        assert_eq!(w.stop.charge_duration, Some(Duration::from_secs(5)));
        assert!(w.time_limit > Duration::from_secs(5));

        let w = world_for(&["--no-slac", "--target-soc", "80"]);
        assert_eq!(w.link, LinkMode::Paired);
        assert_eq!(w.stop.charge_duration, None);
        assert_eq!(w.stop.target_soc, Some(Percent(80.0)));
        assert!(w.time_limit >= Duration::from_secs(3600));
    }

    #[test]
    fn repeated_messages_are_shown_once_per_virtual_second() {
        let mut display = Display::default();
        let sent = |ms: i64| WorldEvent {
            at: Instant::from_millis(ms),
            side: Side::Ev,
            kind: WorldEventKind::Session(SessionEvent::Sent {
                name: "CurrentDemandReq",
                summary: String::new(),
            }),
        };
        let shown: Vec<i64> = [0, 100, 900, 1000, 1100, 2500]
            .into_iter()
            .filter(|&ms| display.describe(&sent(ms)).is_some())
            .collect();
        assert_eq!(shown, vec![0, 1000, 2500]);
    }
}
