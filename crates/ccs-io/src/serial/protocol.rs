//! The serial line protocols of pyPLC's devices, as sans-IO codecs
//! (`reference/pyplc-behaviour.md` §11.1, `hardwareInterface.py`):
//!
//! - **dieter** (Arduino, uhi22/dieter): every 16 cycles (≈ 0.5 s) `do000<outvalue>\n`, the
//!   output bits being bit0 CP state C, bit1 power relay, bit2 relay2; it answers `A0=nnnn`
//!   (4-digit ADC) → U_inlet = n / 1024 · 1.08 · 6250 / 9.4 V. Unlike pyPLC, a changed word is
//!   also sent at once: opening the relay must not wait for the next period, which may never
//!   come when the process exits after its safe shutdown.
//! - **celeron55device**: commands `cp=0|1`, `contactor=0|1`, `lock`, `unlock` (one per line);
//!   reports `inlet_v=`, `dc_link_v=`, `cp_pwm=`, `cp_output_state=`,
//!   `ccs_contactor_wanted_closed=`, `max_charge_a=` (capped at 250 A), `soc_percent=`,
//!   `contactor_confirmed=`, `plugged_in=`.
//! - **display** (WIFI_KIT_32 with uhi22/SerialToOLED): three lines `lc<text>\n`; with the
//!   celeron55 device `disp0=…\ndisp1=…\ndisp2=…\n`. Updated on every state change.

use ccs_proto::hardware::{
    Amps, ContactorRequest, CpState, HardwareCommand, LockRequest, Measurement, Percent, Volts,
};

/// Which device protocol speaks on the port.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum SerialProtocol {
    /// uhi22's "dieter" Arduino: CP and relay outputs, inlet voltage ADC.
    Dieter,
    /// celeron55's vehicle interface device.
    Celeron55,
    /// Only the OLED display.
    DisplayOnly,
}

/// pyPLC: `EVMaximumCurrentLimit = 250` caps the celeron55 device's `max_charge_a`.
const CELERON55_MAX_CURRENT: f32 = 250.0;

/// The codec for one port: bytes in → measurements, commands → bytes out.
#[derive(Debug)]
pub struct SerialCodec {
    protocol: SerialProtocol,
    display: bool,
    rx: String,
    /// pyPLC's output bit field: bit0 CP state C, bit1 power relay, bit2 relay2.
    outputs: u8,
    state_text: String,
    charger_line: String,
    soc_line: String,
}

impl SerialCodec {
    /// A codec for `protocol`, with or without the OLED display on the same port.
    pub fn new(protocol: SerialProtocol, display: bool) -> Self {
        Self {
            protocol,
            display: display || protocol == SerialProtocol::DisplayOnly,
            rx: String::new(),
            outputs: 0,
            state_text: String::new(),
            charger_line: String::new(),
            soc_line: String::new(),
        }
    }

    /// Received bytes (any chunking); the measurements in the lines completed so far.
    pub fn on_bytes(&mut self, bytes: &[u8]) -> Vec<Measurement> {
        // pyPLC drops chunks that are not UTF-8; lossy keeps the rest of the line usable.
        self.rx.push_str(&String::from_utf8_lossy(bytes));
        let mut out = Vec::new();
        while let Some(end) = self.rx.find('\n') {
            let line: String = self.rx.drain(..=end).collect();
            if let Some(m) = self.parse_line(line.trim()) {
                out.push(m);
            }
        }
        // A device that never sends a newline must not grow the buffer without bound.
        if self.rx.len() > 256 {
            self.rx.clear();
        }
        out
    }

    fn parse_line(&self, line: &str) -> Option<Measurement> {
        match self.protocol {
            SerialProtocol::Dieter => {
                // "A0=nnnn" may come with other text around it on the line.
                let at = line.find("A0=")?;
                let digits = line.get(at + 3..at + 7)?;
                let n: u16 = digits.parse().ok()?;
                let volts = f32::from(n) / 1024.0 * 1.08 * 6250.0 / 9.4;
                Some(Measurement::InletVoltage(Volts(volts)))
            }
            SerialProtocol::Celeron55 => {
                let (key, value) = line.split_once('=')?;
                let int = || value.trim().parse::<i32>().ok();
                let number = || int().map(|v| v as f32);
                match key {
                    "inlet_v" => Some(Measurement::InletVoltage(Volts(number()?))),
                    "dc_link_v" => Some(Measurement::BatteryVoltage(Volts(number()?))),
                    "max_charge_a" => Some(Measurement::TargetCurrent(Amps(
                        number()?.min(CELERON55_MAX_CURRENT),
                    ))),
                    "soc_percent" => Some(Measurement::Soc(Percent(number()?))),
                    "contactor_confirmed" => Some(Measurement::ContactorsClosed(int()? != 0)),
                    "plugged_in" => Some(Measurement::PluggedIn(int()? != 0)),
                    "cp_output_state" => {
                        let confirmed = (int()? != 0) == (self.outputs & 1 != 0);
                        if !confirmed {
                            tracing::warn!("celeron55 device: CP state MISMATCH");
                        }
                        None
                    }
                    "ccs_contactor_wanted_closed" => {
                        let confirmed = (int()? != 0) == (self.outputs & 2 != 0);
                        if !confirmed {
                            tracing::warn!("celeron55 device: contactor request MISMATCH");
                        }
                        None
                    }
                    "cp_pwm" => None,
                    _ => {
                        tracing::debug!("celeron55 device: unknown line {line:?}");
                        None
                    }
                }
            }
            SerialProtocol::DisplayOnly => None,
        }
    }

    /// A command; the bytes to write now.
    pub fn on_command(&mut self, command: &HardwareCommand) -> Vec<u8> {
        let mut out = String::new();
        let celeron = self.protocol == SerialProtocol::Celeron55;
        let outputs_before = self.outputs;
        match command {
            HardwareCommand::CpState(cp) => {
                let c = *cp == CpState::C;
                self.set_bit(0, c);
                if celeron {
                    out.push_str(if c { "cp=1\n" } else { "cp=0\n" });
                }
            }
            HardwareCommand::Contactors(req) => {
                let closed = *req == ContactorRequest::Closed;
                self.set_bit(1, closed);
                if celeron {
                    out.push_str(if closed {
                        "contactor=1\n"
                    } else {
                        "contactor=0\n"
                    });
                }
            }
            HardwareCommand::ConnectorLock(req) if celeron => {
                out.push_str(if *req == LockRequest::Lock {
                    "lock\n"
                } else {
                    "unlock\n"
                });
            }
            HardwareCommand::SessionState(text) if *text != self.state_text => {
                self.state_text.clone_from(text);
                out.push_str(&self.display_text());
            }
            HardwareCommand::ChargerPresent { voltage, current } => {
                self.charger_line = format!("{:.0}V {:.0}A", voltage.0, current.0);
            }
            HardwareCommand::VehicleBattery(report) => {
                self.soc_line = format!("SoC {:.0}%", report.soc.0);
            }
            _ => {}
        }
        if self.protocol == SerialProtocol::Dieter && self.outputs != outputs_before {
            out.insert_str(0, &self.dieter_word());
        }
        out.into_bytes()
    }

    /// The dieter's output message.
    fn dieter_word(&self) -> String {
        format!("do000{}\n", self.outputs)
    }

    fn set_bit(&mut self, bit: u8, on: bool) {
        if on {
            self.outputs |= 1 << bit;
        } else {
            self.outputs &= !(1 << bit);
        }
    }

    fn display_text(&self) -> String {
        if !self.display {
            return String::new();
        }
        let lines = [&self.state_text, &self.charger_line, &self.soc_line];
        // The display protocol is line based: a newline inside a text would split it.
        let clean = |s: &String| s.replace(['\n', '\r'], " ");
        if self.protocol == SerialProtocol::Celeron55 {
            lines
                .iter()
                .enumerate()
                .map(|(i, l)| format!("disp{i}={}\n", clean(l)))
                .collect()
        } else {
            lines.iter().map(|l| format!("lc{}\n", clean(l))).collect()
        }
    }

    /// The periodic output (dieter: `do000<outvalue>\n`, sent every 16 pyPLC cycles).
    pub fn on_tick(&mut self) -> Vec<u8> {
        match self.protocol {
            SerialProtocol::Dieter => self.dieter_word().into_bytes(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dieter_outputs_and_adc() {
        let mut c = SerialCodec::new(SerialProtocol::Dieter, false);
        assert_eq!(c.on_tick(), b"do0000\n");
        // A change is sent at once, a repetition is left to the period.
        assert_eq!(
            c.on_command(&HardwareCommand::CpState(CpState::C)),
            b"do0001\n"
        );
        assert!(
            c.on_command(&HardwareCommand::CpState(CpState::C))
                .is_empty()
        );
        c.on_command(&HardwareCommand::Contactors(ContactorRequest::Closed));
        assert_eq!(c.on_tick(), b"do0003\n");
        // 0512 → 512/1024 · 1.08 · 6250/9.4 = 359.04 V, split across reads.
        assert!(c.on_bytes(b"A0=05").is_empty());
        let m = c.on_bytes(b"12\r\n");
        let [Measurement::InletVoltage(Volts(v))] = m[..] else {
            panic!("{m:?}")
        };
        assert!((v - 359.04).abs() < 0.01, "{v}");
        assert!(c.on_bytes(b"A0=xx12\n").is_empty());
    }

    #[test]
    fn celeron55_lines_both_ways() {
        let mut c = SerialCodec::new(SerialProtocol::Celeron55, true);
        assert_eq!(
            c.on_command(&HardwareCommand::CpState(CpState::C)),
            b"cp=1\n"
        );
        assert_eq!(
            c.on_command(&HardwareCommand::Contactors(ContactorRequest::Open)),
            b"contactor=0\n"
        );
        assert_eq!(
            c.on_command(&HardwareCommand::ConnectorLock(LockRequest::Unlock)),
            b"unlock\n"
        );
        let m = c.on_bytes(
            b"inlet_v=355\ndc_link_v=360\nmax_charge_a=300\nsoc_percent=61\ncontactor_confirmed=1\nplugged_in=0\ncp_pwm=5\ngarbage\n",
        );
        assert_eq!(
            m,
            [
                Measurement::InletVoltage(Volts(355.0)),
                Measurement::BatteryVoltage(Volts(360.0)),
                Measurement::TargetCurrent(Amps(250.0)),
                Measurement::Soc(Percent(61.0)),
                Measurement::ContactorsClosed(true),
                Measurement::PluggedIn(false),
            ]
        );
        assert_eq!(
            c.on_command(&HardwareCommand::SessionState("CableCheck".into())),
            b"disp0=CableCheck\ndisp1=\ndisp2=\n"
        );
    }

    #[test]
    fn display_lines_on_state_change_only() {
        let mut c = SerialCodec::new(SerialProtocol::DisplayOnly, true);
        c.on_command(&HardwareCommand::ChargerPresent {
            voltage: Volts(398.4),
            current: Amps(100.0),
        });
        assert_eq!(
            c.on_command(&HardwareCommand::SessionState("CurrentDemand".into())),
            b"lcCurrentDemand\nlc398V 100A\nlc\n"
        );
        assert!(
            c.on_command(&HardwareCommand::SessionState("CurrentDemand".into()))
                .is_empty()
        );
        assert!(c.on_tick().is_empty());
    }
}
