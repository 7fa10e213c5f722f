//! A synthetic charging session that feeds a dashboard the way a runner does (SLAC events,
//! session events, hardware commands and measurements) at a real-time pace, and obeys the
//! dashboard's controls. Stands in for `ccsplc sim` in the tests of the server and the page.

use std::time::{Duration, Instant};

use ccs_proto::hardware::{
    Amps, ContactorRequest, CpState, HardwareCommand, IsolationStatus, LockRequest, Measurement,
    Percent, PowerSupplySetpoint, Volts,
};
use ccs_proto::homeplug::{MacAddress, Nid, Nmk, RunId};
use ccs_proto::session::{ChargingValues, Outcome, Phase, Protocol, SessionEvent};
use ccs_proto::slac::SlacEvent;

use crate::web::{Controls, Dashboard, DashboardControl, ModemStatus};

/// How the synthetic session ended.
#[derive(Debug, Eq, PartialEq)]
pub(crate) enum Ending {
    /// The dashboard's stop button.
    StoppedFromDashboard,
    /// The charging time ran out.
    TimeUp,
}

/// What the synthetic session saw of the controls.
#[derive(Debug)]
pub(crate) struct Report {
    /// How it ended.
    pub(crate) ending: Ending,
    /// Every control received, in order.
    pub(crate) controls: Vec<DashboardControl>,
    /// CurrentDemand steps done.
    pub(crate) charging_steps: u32,
}

const EV_MAC: MacAddress = MacAddress([0x02, 0x00, 0x00, 0x00, 0x00, 0x01]);
const EVSE_MAC: MacAddress = MacAddress([0x02, 0x00, 0x00, 0x00, 0x00, 0x02]);

fn exchange(dashboard: &Dashboard, request: &'static str, response: &'static str, summary: &str) {
    dashboard.session_event(&SessionEvent::Sent {
        name: request,
        summary: summary.to_owned(),
    });
    dashboard.session_event(&SessionEvent::Received {
        name: response,
        summary: "ResponseCode=OK".to_owned(),
    });
}

fn phase(dashboard: &Dashboard, phase: Phase) {
    dashboard.session_event(&SessionEvent::PhaseChanged(phase));
}

/// Runs the session: the setup at `step` per message, then CurrentDemand every `step` until
/// the dashboard says stop or `max_charging` has passed, then the normal wind-down.
pub(crate) fn run(
    dashboard: &Dashboard,
    controls: &mut Controls,
    step: Duration,
    max_charging: Duration,
) -> Report {
    let pause = || std::thread::sleep(step);
    let mut seen = Vec::new();

    dashboard.modem(ModemStatus::Searching);
    pause();
    dashboard.slac_event(&SlacEvent::ModemFound {
        modem_mac: MacAddress([0x00, 0xb0, 0x52, 0x00, 0x00, 0x42]),
        firmware: "MAC-QCA7420-1.4.0.20-00-20171027-CS".to_owned(),
    });
    dashboard.slac_event(&SlacEvent::SessionStarted {
        ev_mac: EV_MAC,
        run_id: RunId([1, 2, 3, 4, 5, 6, 7, 8]),
    });
    pause();
    dashboard.slac_event(&SlacEvent::Paired {
        nmk: Nmk([0x11; 16]),
        nid: Nid([0x22; 7]),
        evse_mac: EVSE_MAC,
        ev_mac: EV_MAC,
        run_id: RunId([1, 2, 3, 4, 5, 6, 7, 8]),
    });
    dashboard.link("SDP: charger at [fe80::2]:15118, TCP");
    pause();
    dashboard.link("TCP connected to [fe80::2]:15118");
    phase(dashboard, Phase::Handshake);
    dashboard.session_event(&SessionEvent::ProtocolNegotiated {
        protocol: Protocol::Din70121,
        schema_id: 1,
    });
    for (p, req, res, summary) in [
        (
            Phase::SessionSetup,
            "SessionSetupReq",
            "SessionSetupRes",
            "EVCCID=020000000001",
        ),
        (
            Phase::ServiceSelection,
            "ServiceDiscoveryReq",
            "ServiceDiscoveryRes",
            "",
        ),
        (
            Phase::Authorization,
            "ContractAuthenticationReq",
            "ContractAuthenticationRes",
            "",
        ),
        (
            Phase::ChargeParameterDiscovery,
            "ChargeParameterDiscoveryReq",
            "ChargeParameterDiscoveryRes",
            "Umax=400.0V Imax=125.0A SoC=30%",
        ),
    ] {
        phase(dashboard, p);
        exchange(dashboard, req, res, summary);
        pause();
    }
    dashboard.command(&HardwareCommand::EvccId("020000000001".to_owned()));
    dashboard.command(&HardwareCommand::ChargerLimits {
        max_voltage: Volts(500.0),
        max_current: Amps(125.0),
    });
    dashboard.measurement(&Measurement::PowerSupplyMaxPower(
        ccs_proto::hardware::Watts(50_000.0),
    ));
    phase(dashboard, Phase::ConnectAndLock);
    dashboard.command(&HardwareCommand::ConnectorLock(LockRequest::Lock));
    dashboard.command(&HardwareCommand::CpState(CpState::C));
    dashboard.measurement(&Measurement::ConnectorLocked(true));
    pause();
    phase(dashboard, Phase::CableCheck);
    dashboard.measurement(&Measurement::Isolation(IsolationStatus::Valid));
    exchange(dashboard, "CableCheckReq", "CableCheckRes", "");
    pause();
    phase(dashboard, Phase::PreCharge);
    let battery = 360.0_f32;
    dashboard.measurement(&Measurement::BatteryVoltage(Volts(battery)));
    for k in 1..=4 {
        let u = battery * k as f32 / 4.0;
        dashboard.session_event(&SessionEvent::Values(ChargingValues {
            soc: Some(30.0),
            target_voltage: Some(battery),
            target_current: Some(2.0),
            present_voltage: Some(u),
            present_current: Some(0.0),
            ..ChargingValues::default()
        }));
        exchange(
            dashboard,
            "PreChargeReq",
            "PreChargeRes",
            &format!("U={battery:.1}V I=2.0A"),
        );
        pause();
    }
    phase(dashboard, Phase::PowerDeliveryStart);
    exchange(
        dashboard,
        "PowerDeliveryReq",
        "PowerDeliveryRes",
        "ReadyToChargeState=true",
    );
    dashboard.command(&HardwareCommand::Contactors(ContactorRequest::Closed));
    dashboard.measurement(&Measurement::ContactorsClosed(true));
    phase(dashboard, Phase::Charging);

    let started = Instant::now();
    let mut steps = 0_u32;
    let mut current = 0.0_f32;
    let mut enabled = true;
    let ending = loop {
        if let Some(control) = controls.try_recv() {
            seen.push(control);
            match control {
                DashboardControl::Stop => break Ending::StoppedFromDashboard,
                DashboardControl::Authorize(yes) => {
                    dashboard.measurement(&Measurement::Authorized(yes));
                }
                DashboardControl::Enable(yes) => {
                    enabled = yes;
                    dashboard.measurement(&Measurement::ChargingEnabled(yes));
                    if !yes {
                        break Ending::StoppedFromDashboard;
                    }
                }
            }
        }
        if started.elapsed() >= max_charging {
            break Ending::TimeUp;
        }
        steps += 1;
        let soc = 30.0 + steps as f32 * 0.2;
        current = (current + 12.0).min(120.0);
        let voltage = battery + 5.0 + current * 0.15 + (steps % 7) as f32 * 0.3;
        dashboard.session_event(&SessionEvent::Values(ChargingValues {
            soc: Some(soc),
            target_voltage: Some(400.0),
            target_current: Some(120.0),
            present_voltage: Some(voltage),
            present_current: Some(current),
            evse_max_voltage: Some(500.0),
            evse_max_current: Some(125.0),
            evse_max_power: Some(50_000.0),
        }));
        dashboard.measurement(&Measurement::Soc(Percent(soc)));
        dashboard.command(&HardwareCommand::PowerSupply(PowerSupplySetpoint {
            enabled,
            voltage: Volts(400.0),
            current: Amps(120.0),
        }));
        dashboard.measurement(&Measurement::PowerSupplyVoltage(Volts(voltage)));
        dashboard.measurement(&Measurement::PowerSupplyCurrent(Amps(current)));
        exchange(
            dashboard,
            "CurrentDemandReq",
            "CurrentDemandRes",
            &format!("U=400.0V I=120.0A SoC={soc:.0}% | present {voltage:.1}V {current:.1}A"),
        );
        pause();
    };

    phase(dashboard, Phase::PowerDeliveryStop);
    exchange(
        dashboard,
        "PowerDeliveryReq",
        "PowerDeliveryRes",
        "ReadyToChargeState=false",
    );
    dashboard.command(&HardwareCommand::CpState(CpState::B));
    while current > 0.0 {
        current = (current - 40.0).max(0.0);
        dashboard.session_event(&SessionEvent::Values(ChargingValues {
            present_current: Some(current),
            target_current: Some(0.0),
            ..ChargingValues::default()
        }));
        pause();
    }
    dashboard.command(&HardwareCommand::PowerSupply(PowerSupplySetpoint::OFF));
    dashboard.command(&HardwareCommand::Contactors(ContactorRequest::Open));
    dashboard.measurement(&Measurement::ContactorsClosed(false));
    phase(dashboard, Phase::WeldingDetection);
    exchange(
        dashboard,
        "WeldingDetectionReq",
        "WeldingDetectionRes",
        "U=12.0V",
    );
    pause();
    phase(dashboard, Phase::SessionStop);
    exchange(dashboard, "SessionStopReq", "SessionStopRes", "");
    dashboard.command(&HardwareCommand::ConnectorLock(LockRequest::Unlock));
    phase(dashboard, Phase::Finished);
    dashboard.session_event(&SessionEvent::Finished(Outcome::Completed));
    Report {
        ending,
        controls: seen,
        charging_steps: steps,
    }
}
