//! Feeding the dashboard from `ccsplc sim`'s world, and carrying out its controls there.
//!
//! The page shows the session as the car sees it (the car's messages, phases and outcome),
//! SLAC and the link as both hosts report them, the values of both sessions, every hardware
//! command, and the simulated hardware's measurements.

use ccs_proto::session::SessionEvent;
use ccs_proto::time::{Duration, Instant};
use ccs_sim::world::{Side, StopReason, World, WorldEvent, WorldEventKind};

use super::{Dashboard, DashboardControl};

/// How often the simulated hardware's measurements go to the dashboard, in virtual time.
const MEASUREMENT_INTERVAL: Duration = Duration::from_millis(200);

/// Passes the world's events and measurements to a dashboard.
#[derive(Debug)]
pub(crate) struct SimFeed {
    dashboard: Dashboard,
    last_measured: Option<Instant>,
}

impl SimFeed {
    /// A feed into `dashboard` (a disabled dashboard makes this a no-op).
    pub(crate) fn new(dashboard: Dashboard) -> Self {
        Self {
            dashboard,
            last_measured: None,
        }
    }

    /// One world event.
    pub(crate) fn event(&self, event: &WorldEvent) {
        let d = &self.dashboard;
        if !d.is_enabled() {
            return;
        }
        match (&event.kind, event.side) {
            (WorldEventKind::Slac(e), _) => d.slac_event(e),
            (WorldEventKind::SdpDiscovered(e), _) => d.link(format!(
                "SDP: charger at [{}]:{}{}",
                e.address,
                e.port,
                if e.tls { ", TLS" } else { "" }
            )),
            (WorldEventKind::TcpConnected { remote, .. }, Side::Ev) => d.link(format!(
                "TCP connected to [{}]:{}",
                remote.ip(),
                remote.port()
            )),
            (WorldEventKind::TcpClosed, Side::Ev) => d.link("TCP closed"),
            (WorldEventKind::Session(e), Side::Ev) => d.session_event(e),
            // The charger's present output is in its values; its view of the rest repeats
            // the car's.
            (WorldEventKind::Session(e @ SessionEvent::Values(_)), Side::Evse(_)) => {
                d.session_event(e);
            }
            (WorldEventKind::Session(SessionEvent::Failing(error)), Side::Evse(_)) => {
                d.note(format!("charger: failure, safe shutdown: {error}"));
            }
            (WorldEventKind::Command(c), _) => d.command(c),
            (WorldEventKind::StopRequested(reason), _) => d.note(match reason {
                StopReason::ChargeTimeReached => "charging time reached: stop requested".to_owned(),
                StopReason::TargetSocReached(soc) => {
                    format!("SoC {:.1} % reached: stop requested", soc.0)
                }
                StopReason::UserRequest => "stop requested from the dashboard".to_owned(),
                other => format!("stop requested: {other:?}"),
            }),
            _ => {}
        }
    }

    /// The simulated hardware's measurements, at most every [`MEASUREMENT_INTERVAL`] of
    /// virtual time.
    pub(crate) fn measurements(&mut self, world: &World) {
        if !self.dashboard.is_enabled() {
            return;
        }
        let now = world.now();
        if self
            .last_measured
            .is_some_and(|last| now < last + MEASUREMENT_INTERVAL)
        {
            return;
        }
        self.last_measured = Some(now);
        let plant = world.plant();
        for m in plant
            .vehicle_measurements()
            .into_iter()
            .chain(plant.charger_measurements())
        {
            self.dashboard.measurement(&m);
        }
    }
}

/// Carries out a dashboard control in the world. Authorization is not offered in the
/// simulator (its charger authorizes after a configured delay).
pub(crate) fn apply(world: &mut World, dashboard: &Dashboard, control: DashboardControl) {
    match control {
        DashboardControl::Stop => {
            if !world.request_user_stop() {
                dashboard.note("stop: the car has no session yet, nothing to stop");
            }
        }
        DashboardControl::Enable(enabled) => world.set_charging_enabled(enabled),
        DashboardControl::Authorize(_) => {
            dashboard.note("authorize: the simulated charger authorizes by itself");
        }
    }
}
