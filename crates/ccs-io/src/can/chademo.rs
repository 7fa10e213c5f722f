//! pyPLC's CHAdeMO bridge (`charge_parameter_backend = chademo`, car mode): the vehicle's
//! CHAdeMO BMS frames feed the CCS session, the charger's limits and present values go back
//! in CHAdeMO charger frames (`reference/pyplc-behaviour.md` §11.3).
//!
//! | ID | dir | bytes |
//! |---|---|---|
//! | 0x100 | in | 0–1 LE battery voltage (custom extension, enabled by reporting protocol version 10); 6 capacity |
//! | 0x102 | in | 1–2 LE target voltage; 3 current request; 6 charged rate (SoC = rate / capacity · 100) |
//! | 0x108 | out, on each 0x100 | `[0, maxV lo, maxV hi, maxI, 0, 0, 0, 0]` |
//! | 0x109 | out, on each 0x100 | `[10, V lo, V hi, I, 0, status, 0, 0]`, status 4 (connector locked) if maxV > 0 |
//!
//! No 0x102 for more than 1 s → current request 0 A (and a stale-input fault).

use ccs_proto::hardware::{Amps, HardwareCommand, Measurement, MeasurementKind, Percent, Volts};
use tokio::time::Duration;

use super::{CanFrame, le_u16};

/// pyPLC: "if nothing was received for over a second, time out" (current request → 0).
const CURRENT_REQUEST_TIMEOUT: Duration = Duration::from_secs(1);

/// The protocol number reported in 0x109 byte 0; 10 makes the bridge send the momentary
/// battery voltage in 0x100 bytes 0–1 (pyPLC's custom extension).
const PROTOCOL_VERSION: u8 = 10;

/// The CHAdeMO-bridge codec.
#[derive(Clone, Debug)]
pub struct ChademoBridge {
    current_request_timeout: Duration,
    capacity: u8,
    max_charger_voltage: u16,
    max_charger_current: u8,
    charger_voltage: u16,
    charger_current: u8,
}

impl ChademoBridge {
    /// A bridge that knows nothing yet (limits 0 until ChargeParameterDiscovery).
    pub fn new() -> Self {
        Self {
            current_request_timeout: CURRENT_REQUEST_TIMEOUT,
            capacity: 0,
            max_charger_voltage: 0,
            max_charger_current: 0,
            charger_voltage: 0,
            charger_current: 0,
        }
    }

    /// Without a 0x102 frame for `timeout` the current request drops to 0 A (pyPLC: 1 s).
    #[must_use]
    pub fn with_current_request_timeout(mut self, timeout: Duration) -> Self {
        self.current_request_timeout = timeout;
        self
    }

    pub(crate) fn current_request_timeout(&self) -> Duration {
        self.current_request_timeout
    }

    pub(crate) fn on_frame(&mut self, frame: &CanFrame) -> (Vec<Measurement>, Vec<CanFrame>) {
        if frame.is_extended() {
            return (Vec::new(), Vec::new());
        }
        let d = frame.data();
        match frame.id() {
            0x100 => {
                self.capacity = d.get(6).copied().unwrap_or(0);
                let m = vec![Measurement::BatteryVoltage(Volts(f32::from(le_u16(d, 0))))];
                (m, self.replies())
            }
            0x102 => {
                let mut m = vec![
                    Measurement::TargetVoltage(Volts(f32::from(le_u16(d, 1)))),
                    Measurement::TargetCurrent(Amps(f32::from(d.get(3).copied().unwrap_or(0)))),
                ];
                if self.capacity > 0
                    && let Some(&rate) = d.get(6)
                {
                    let soc = f32::from(rate) / f32::from(self.capacity) * 100.0;
                    m.push(Measurement::Soc(Percent(soc.min(100.0))));
                }
                (m, Vec::new())
            }
            _ => (Vec::new(), Vec::new()),
        }
    }

    fn replies(&self) -> Vec<CanFrame> {
        let [maxv_lo, maxv_hi] = self.max_charger_voltage.to_le_bytes();
        let [v_lo, v_hi] = self.charger_voltage.to_le_bytes();
        let status = if self.max_charger_voltage > 0 { 4 } else { 0 };
        [
            CanFrame::standard(
                0x108,
                &[0, maxv_lo, maxv_hi, self.max_charger_current, 0, 0, 0, 0],
            ),
            CanFrame::standard(
                0x109,
                &[
                    PROTOCOL_VERSION,
                    v_lo,
                    v_hi,
                    self.charger_current,
                    0,
                    status,
                    0,
                    0,
                ],
            ),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    pub(crate) fn on_command(&mut self, command: &HardwareCommand) {
        match command {
            HardwareCommand::ChargerLimits {
                max_voltage,
                max_current,
            } => {
                self.max_charger_voltage = to_u16(max_voltage.0);
                self.max_charger_current = to_u8(max_current.0);
            }
            HardwareCommand::ChargerPresent { voltage, current } => {
                self.charger_voltage = to_u16(voltage.0);
                self.charger_current = to_u8(current.0);
            }
            _ => {}
        }
    }

    pub(crate) fn on_stale(&mut self, kind: MeasurementKind) -> Vec<Measurement> {
        if kind == MeasurementKind::TargetCurrent {
            vec![Measurement::TargetCurrent(Amps(0.0))]
        } else {
            Vec::new()
        }
    }
}

impl Default for ChademoBridge {
    fn default() -> Self {
        Self::new()
    }
}

/// pyPLC truncates with `int()`; the CHAdeMO fields are one byte (current) or two (voltage).
fn to_u16(v: f32) -> u16 {
    v.clamp(0.0, f32::from(u16::MAX)) as u16
}

fn to_u8(v: f32) -> u8 {
    v.clamp(0.0, f32::from(u8::MAX)) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bms_frames_become_measurements_and_0x100_is_answered() {
        let mut c = ChademoBridge::new();
        c.on_command(&HardwareCommand::ChargerLimits {
            max_voltage: Volts(500.0),
            max_current: Amps(125.0),
        });
        c.on_command(&HardwareCommand::ChargerPresent {
            voltage: Volts(366.9),
            current: Amps(98.0),
        });
        // 0x100: 360 V = 0x0168, capacity 200 in byte 6.
        let f = CanFrame::standard(0x100, &[0x68, 0x01, 0, 0, 0, 0, 200, 0]).unwrap();
        let (m, replies) = c.on_frame(&f);
        assert_eq!(m, [Measurement::BatteryVoltage(Volts(360.0))]);
        assert_eq!(
            replies,
            [
                CanFrame::standard(0x108, &[0, 0xF4, 0x01, 125, 0, 0, 0, 0]).unwrap(),
                CanFrame::standard(0x109, &[10, 0x6E, 0x01, 98, 0, 4, 0, 0]).unwrap(),
            ]
        );
        // 0x102: target 410 V = 0x019A, 100 A, charged rate 150 of 200 = 75 %.
        let f = CanFrame::standard(0x102, &[0, 0x9A, 0x01, 100, 0, 0, 150, 0]).unwrap();
        let (m, replies) = c.on_frame(&f);
        assert_eq!(
            m,
            [
                Measurement::TargetVoltage(Volts(410.0)),
                Measurement::TargetCurrent(Amps(100.0)),
                Measurement::Soc(Percent(75.0)),
            ]
        );
        assert!(replies.is_empty());
    }

    #[test]
    fn status_says_unlocked_while_no_limits_are_known_and_short_frames_are_safe() {
        let mut c = ChademoBridge::new();
        let (m, replies) = c.on_frame(&CanFrame::standard(0x100, &[0x10]).unwrap());
        assert_eq!(m, [Measurement::BatteryVoltage(Volts(0.0))]);
        assert_eq!(replies[1].data()[5], 0);
        // No capacity known: no SoC from 0x102.
        let (m, _) = c.on_frame(&CanFrame::standard(0x102, &[0, 1, 1, 1, 0, 0, 9]).unwrap());
        assert_eq!(m.len(), 2);
    }
}
