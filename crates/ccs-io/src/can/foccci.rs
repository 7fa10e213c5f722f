//! pyPLC's FoccciCape status frames (`evsemode_environment = focccicape`, charger mode on a
//! BeagleBone; `reference/pyplc-behaviour.md` §11.3, `hardwareInterface.py`
//! `mainfunction_focccicape`):
//!
//! | ID | period | bytes |
//! |---|---|---|
//! | 0x678 | every cycle | `[info number, SoC, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77]` |
//! | 0x679 | every cycle | `[U_target, I_target, U_present, I_present]`, each u16 LE |
//! | 0x67A | every 30 cycles | `[PEV MAC ×6, log index u16 LE]` |
//!
//! A pyPLC cycle is nominally 30 ms. The info number comes from the session's state text
//! ([`info_number`]).

use ccs_proto::hardware::HardwareCommand;
use tokio::time::Duration;

use super::CanFrame;

/// pyPLC's INFONR codes (`pyPlcInfoNumbers.py`) by the state names pyPLC's EVSE and SLAC
/// report, and by ccsplc's session phases (`ccs_proto::session::Phase`, which the session
/// sends as [`HardwareCommand::SessionState`]), matched without case, spaces or underscores.
/// Other texts (notes such as "session paused") give 0; the codecs then keep the last
/// number.
pub fn info_number(state: &str) -> u8 {
    let key: String = state
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    match key.as_str() {
        "waitingforapphandshake" | "waitingfapphandshake" | "handshake" => 1,
        "stopped" | "finished" => 2,
        "schemanegotiated" => 3,
        "sessionestablished" | "sessionsetup" => 4,
        "servicesdiscovered" | "servicediscovery" | "serviceselection" => 5,
        "servicepaymentselected" | "paymentserviceselected" => 6,
        "powerdelivery" | "powerdeliverystart" | "powerdeliverystop" => 7,
        "chargeparameterdiscovery" => 8,
        "cablecheck" => 9,
        "precharging" | "precharge" => 10,
        "contractauthentication" => 11,
        "authorization" => 12,
        "currentdemand" | "charging" => 13,
        "weldingdetection" => 14,
        "sessionstop" => 15,
        "stoppedforever" => 16,
        "tcpconnbroken" => 17,
        "listeningtcp" => 18,
        "tcpconnected" => 19,
        "slacparamreq" => 20,
        "slacsounding" => 21,
        "slacmatch" => 22,
        _ => 0,
    }
}

/// The FoccciCape status codec.
#[derive(Clone, Debug)]
pub struct FoccciCape {
    period: Duration,
    cycle: u32,
    info_number: u8,
    soc: u8,
    target_voltage: u16,
    target_current: u16,
    present_voltage: u16,
    present_current: u16,
    pev_mac: [u8; 6],
    log_index: u16,
}

impl FoccciCape {
    /// A codec sending every `period` (pyPLC: one 30 ms cycle); `log_index` goes into 0x67A
    /// (pyPLC reads it from `log/logindex`, 65535 if unknown).
    pub fn new(period: Duration, log_index: u16) -> Self {
        Self {
            period,
            cycle: 0,
            info_number: 0,
            soc: 0,
            target_voltage: 0,
            target_current: 0,
            present_voltage: 0,
            present_current: 0,
            pev_mac: [0; 6],
            log_index,
        }
    }

    pub(crate) fn period(&self) -> Duration {
        self.period
    }

    pub(crate) fn on_command(&mut self, command: &HardwareCommand) {
        match command {
            HardwareCommand::SessionState(text) => {
                if let number @ 1.. = info_number(text) {
                    self.info_number = number;
                }
            }
            HardwareCommand::VehicleBattery(report) => {
                self.soc = report.soc.0.clamp(0.0, 100.0) as u8;
            }
            HardwareCommand::PowerSupply(sp) => {
                self.target_voltage = to_u16(sp.voltage.0);
                self.target_current = to_u16(sp.current.0);
            }
            HardwareCommand::ChargerPresent { voltage, current } => {
                self.present_voltage = to_u16(voltage.0);
                self.present_current = to_u16(current.0);
            }
            HardwareCommand::EvccId(id) => {
                if let Some(mac) = parse_mac(id) {
                    self.pev_mac = mac;
                }
            }
            _ => {}
        }
    }

    pub(crate) fn on_tick(&mut self) -> Vec<CanFrame> {
        self.cycle = self.cycle.wrapping_add(1);
        let [ut0, ut1] = self.target_voltage.to_le_bytes();
        let [it0, it1] = self.target_current.to_le_bytes();
        let [up0, up1] = self.present_voltage.to_le_bytes();
        let [ip0, ip1] = self.present_current.to_le_bytes();
        let mut frames = vec![
            CanFrame::standard(
                0x678,
                &[
                    self.info_number,
                    self.soc,
                    0x22,
                    0x33,
                    0x44,
                    0x55,
                    0x66,
                    0x77,
                ],
            ),
            CanFrame::standard(0x679, &[ut0, ut1, it0, it1, up0, up1, ip0, ip1]),
        ];
        if self.cycle.is_multiple_of(30) {
            let mut data = [0; 8];
            data[..6].copy_from_slice(&self.pev_mac);
            data[6..].copy_from_slice(&self.log_index.to_le_bytes());
            frames.push(CanFrame::standard(0x67A, &data));
        }
        frames.into_iter().flatten().collect()
    }
}

fn to_u16(v: f32) -> u16 {
    v.clamp(0.0, f32::from(u16::MAX)) as u16
}

/// An EVCCID as the MAC it is in DIN 70121: 12 hex digits, with or without `:`.
fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let hex: String = text.chars().filter(|c| *c != ':' && *c != '-').collect();
    if hex.len() != 12 {
        return None;
    }
    let mut mac = [0; 6];
    for (i, byte) in mac.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccs_proto::hardware::{Amps, Percent, PowerSupplySetpoint, VehicleBatteryReport, Volts};

    #[test]
    fn status_frames_carry_state_soc_and_power_values() {
        let mut f = FoccciCape::new(Duration::from_millis(30), 0x1234);
        f.on_command(&HardwareCommand::SessionState("CurrentDemand".into()));
        f.on_command(&HardwareCommand::VehicleBattery(VehicleBatteryReport {
            soc: Percent(57.6),
            ..Default::default()
        }));
        f.on_command(&HardwareCommand::PowerSupply(PowerSupplySetpoint {
            enabled: true,
            voltage: Volts(400.0),
            current: Amps(300.0),
        }));
        f.on_command(&HardwareCommand::ChargerPresent {
            voltage: Volts(398.0),
            current: Amps(299.0),
        });
        f.on_command(&HardwareCommand::EvccId("0a:1b:2c:3d:4e:5f".into()));
        let frames = f.on_tick();
        assert_eq!(
            frames,
            [
                CanFrame::standard(0x678, &[13, 57, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77]).unwrap(),
                CanFrame::standard(0x679, &[0x90, 0x01, 0x2C, 0x01, 0x8E, 0x01, 0x2B, 0x01])
                    .unwrap(),
            ]
        );
        for _ in 0..28 {
            assert_eq!(f.on_tick().len(), 2);
        }
        let frames = f.on_tick();
        assert_eq!(
            frames[2],
            CanFrame::standard(0x67A, &[0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f, 0x34, 0x12]).unwrap()
        );
    }

    #[test]
    fn info_numbers_match_pyplc_state_texts() {
        assert_eq!(info_number("Waiting f AppHandShake"), 1);
        assert_eq!(info_number("Schema negotiated"), 3);
        assert_eq!(info_number("PreCharging"), 10);
        assert_eq!(info_number("TCP conn broken"), 17);
        assert_eq!(info_number("something else"), 0);
        // ccsplc's session phases.
        assert_eq!(info_number("CableCheck"), 9);
        assert_eq!(info_number("PreCharge"), 10);
        assert_eq!(info_number("Charging"), 13);
        assert_eq!(info_number("WeldingDetection"), 14);
    }

    #[test]
    fn notes_that_are_no_state_keep_the_info_number() {
        let mut f = FoccciCape::new(Duration::from_millis(30), 0);
        f.on_command(&HardwareCommand::SessionState("Charging".into()));
        f.on_command(&HardwareCommand::SessionState("session paused".into()));
        assert_eq!(f.on_tick()[0].data()[0], 13);
    }
}
