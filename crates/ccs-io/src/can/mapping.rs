//! User-defined CAN mappings: each signal is an id, a byte offset and length, an endianness,
//! signedness, a scale and an offset (value = raw · scale + bias). Inputs become
//! measurements; outputs are sent periodically, one frame per id with all its signals.

use std::collections::BTreeMap;

use ccs_proto::hardware::{
    ContactorRequest, CpState, HardwareCommand, LockRequest, Measurement, MeasurementKind,
};
use tokio::time::Duration;

use super::CanFrame;
use super::foccci::info_number;
use crate::adapter::AdapterError;

/// Byte order of a multi-byte signal.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Endianness {
    /// Least significant byte first (Intel).
    Little,
    /// Most significant byte first (Motorola).
    Big,
}

/// Where a signal sits in which frame, and how raw bits become a value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SignalLayout {
    /// The frame identifier.
    pub id: u32,
    /// 29-bit identifier.
    pub extended: bool,
    /// First byte of the signal (0–7).
    pub offset: u8,
    /// Length in bytes (1–4).
    pub length: u8,
    /// Byte order.
    pub endianness: Endianness,
    /// Two's complement.
    pub signed: bool,
    /// value = raw · scale + bias.
    pub scale: f32,
    /// value = raw · scale + bias.
    pub bias: f32,
}

impl SignalLayout {
    /// An unsigned little-endian signal with scale 1 and no bias.
    pub fn new(id: u32, offset: u8, length: u8) -> Self {
        Self {
            id,
            extended: false,
            offset,
            length,
            endianness: Endianness::Little,
            signed: false,
            scale: 1.0,
            bias: 0.0,
        }
    }

    fn check(&self) -> Result<(), String> {
        let max_id = if self.extended { 0x1FFF_FFFF } else { 0x7FF };
        if self.id > max_id {
            return Err(format!("CAN id {:#x} out of range", self.id));
        }
        if !(1..=4).contains(&self.length) || self.offset + self.length > 8 {
            return Err(format!(
                "CAN id {:#x}: signal at byte {} with {} bytes does not fit 1–4 bytes in 8",
                self.id, self.offset, self.length
            ));
        }
        if self.scale == 0.0 || !self.scale.is_finite() || !self.bias.is_finite() {
            return Err(format!(
                "CAN id {:#x}: scale must be finite and non-zero",
                self.id
            ));
        }
        Ok(())
    }

    fn end(&self) -> usize {
        usize::from(self.offset + self.length)
    }

    /// The value in `data`, if the frame is long enough.
    pub fn read(&self, data: &[u8]) -> Option<f32> {
        let bytes = data.get(usize::from(self.offset)..self.end())?;
        let mut raw: u32 = 0;
        for i in 0..bytes.len() {
            let b = match self.endianness {
                Endianness::Big => bytes[i],
                Endianness::Little => bytes[bytes.len() - 1 - i],
            };
            raw = (raw << 8) | u32::from(b);
        }
        let bits = 8 * u32::from(self.length);
        let raw = if self.signed {
            // Sign-extend from `bits` to 32 bits.
            let shift = 32 - bits;
            f64::from(((raw << shift) as i32) >> shift)
        } else {
            f64::from(raw)
        };
        Some((raw * f64::from(self.scale) + f64::from(self.bias)) as f32)
    }

    /// Writes `value` into `data`, rounded and saturated to the signal's range.
    pub fn write(&self, data: &mut [u8], value: f32) {
        let bits = 8 * u32::from(self.length);
        let raw = ((f64::from(value) - f64::from(self.bias)) / f64::from(self.scale)).round();
        let (min, max) = if self.signed {
            (
                -(2f64.powi(bits as i32 - 1)),
                2f64.powi(bits as i32 - 1) - 1.0,
            )
        } else {
            (0.0, 2f64.powi(bits as i32) - 1.0)
        };
        let raw = raw.clamp(min, max) as i64 as u32;
        let Some(bytes) = data.get_mut(usize::from(self.offset)..self.end()) else {
            return;
        };
        let n = bytes.len();
        for (i, byte) in bytes.iter_mut().enumerate() {
            let shift = match self.endianness {
                Endianness::Little => 8 * i,
                Endianness::Big => 8 * (n - 1 - i),
            };
            *byte = (raw >> shift) as u8;
        }
    }
}

/// A value the session commands, as a number for a CAN signal.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[non_exhaustive]
pub enum OutputSignal {
    /// 1 = CP state C, 0 = B.
    CpStateC,
    /// 1 = contactors closed requested.
    ContactorsClosed,
    /// 1 = lock requested.
    ConnectorLock,
    /// 1 = power supply on.
    PowerSupplyEnabled,
    /// Power-supply voltage set-point, V.
    PowerSupplyVoltage,
    /// Power-supply current set-point, A.
    PowerSupplyCurrent,
    /// The charger's maximum voltage (car side), V.
    ChargerMaxVoltage,
    /// The charger's maximum current (car side), A.
    ChargerMaxCurrent,
    /// The charger's present voltage, V.
    ChargerVoltage,
    /// The charger's present current, A.
    ChargerCurrent,
    /// The SoC the car reported (charger side), %.
    VehicleSoc,
    /// pyPLC's INFONR of the session state.
    InfoNumber,
}

impl OutputSignal {
    /// Whether the signal drives something that acts on the DC link or the connector (CP
    /// state, contactors, lock, power supply), rather than a value shown to a BMS or display.
    pub fn is_actuator(self) -> bool {
        match self {
            Self::CpStateC
            | Self::ContactorsClosed
            | Self::ConnectorLock
            | Self::PowerSupplyEnabled
            | Self::PowerSupplyVoltage
            | Self::PowerSupplyCurrent => true,
            Self::ChargerMaxVoltage
            | Self::ChargerMaxCurrent
            | Self::ChargerVoltage
            | Self::ChargerCurrent
            | Self::VehicleSoc
            | Self::InfoNumber => false,
        }
    }
}

/// One signal of a mapping.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SignalMapping<S> {
    /// What the signal means.
    pub signal: S,
    /// Where it is.
    pub layout: SignalLayout,
}

/// A user-defined mapping.
#[derive(Clone, Debug)]
pub struct CanMapping {
    inputs: Vec<SignalMapping<MeasurementKind>>,
    outputs: Vec<SignalMapping<OutputSignal>>,
    /// How often the output frames are sent (`None`: never).
    pub period: Option<Duration>,
    /// Inputs not updated for this long are stale (`None`: not checked).
    pub input_timeout: Option<Duration>,
    values: BTreeMap<OutputSignal, f32>,
}

impl CanMapping {
    /// Checks every signal's layout.
    pub fn new(
        inputs: Vec<SignalMapping<MeasurementKind>>,
        outputs: Vec<SignalMapping<OutputSignal>>,
        period: Option<Duration>,
        input_timeout: Option<Duration>,
    ) -> Result<Self, AdapterError> {
        for layout in inputs
            .iter()
            .map(|s| &s.layout)
            .chain(outputs.iter().map(|s| &s.layout))
        {
            layout.check().map_err(AdapterError::Config)?;
        }
        Ok(Self {
            inputs,
            outputs,
            period,
            input_timeout,
            values: BTreeMap::new(),
        })
    }

    pub(crate) fn decode(&self, frame: &CanFrame) -> Vec<Measurement> {
        self.inputs
            .iter()
            .filter(|s| s.layout.id == frame.id() && s.layout.extended == frame.is_extended())
            .filter_map(|s| {
                let value = s.layout.read(frame.data())?;
                Some(Measurement::from_number(s.signal, value))
            })
            .collect()
    }

    pub(crate) fn on_command(&mut self, command: &HardwareCommand) {
        use OutputSignal as O;
        let flag = |b: bool| if b { 1.0 } else { 0.0 };
        let mut set = |signal, value| {
            self.values.insert(signal, value);
        };
        match command {
            HardwareCommand::CpState(cp) => set(O::CpStateC, flag(*cp == CpState::C)),
            HardwareCommand::Contactors(r) => {
                set(O::ContactorsClosed, flag(*r == ContactorRequest::Closed));
            }
            HardwareCommand::ConnectorLock(r) => {
                set(O::ConnectorLock, flag(*r == LockRequest::Lock))
            }
            HardwareCommand::PowerSupply(sp) => {
                set(O::PowerSupplyEnabled, flag(sp.enabled));
                set(O::PowerSupplyVoltage, sp.voltage.0);
                set(O::PowerSupplyCurrent, sp.current.0);
            }
            HardwareCommand::ChargerLimits {
                max_voltage,
                max_current,
            } => {
                set(O::ChargerMaxVoltage, max_voltage.0);
                set(O::ChargerMaxCurrent, max_current.0);
            }
            HardwareCommand::ChargerPresent { voltage, current } => {
                set(O::ChargerVoltage, voltage.0);
                set(O::ChargerCurrent, current.0);
            }
            HardwareCommand::VehicleBattery(r) => set(O::VehicleSoc, r.soc.0),
            HardwareCommand::SessionState(text) => {
                if let number @ 1.. = info_number(text) {
                    set(O::InfoNumber, f32::from(number));
                }
            }
            _ => {}
        }
    }

    /// One frame per output id, with every signal of that id (0 until commanded: CP B,
    /// contactors open, power supply off).
    pub(crate) fn encode_outputs(&self) -> Vec<CanFrame> {
        let mut frames: BTreeMap<(u32, bool), [u8; 9]> = BTreeMap::new();
        for s in &self.outputs {
            let entry = frames
                .entry((s.layout.id, s.layout.extended))
                .or_insert([0; 9]);
            let value = self.values.get(&s.signal).copied().unwrap_or(0.0);
            s.layout.write(&mut entry[..8], value);
            entry[8] = entry[8].max(s.layout.offset + s.layout.length);
        }
        frames
            .into_iter()
            .filter_map(|((id, extended), bytes)| {
                let data = &bytes[..usize::from(bytes[8])];
                if extended {
                    CanFrame::extended(id, data)
                } else {
                    u16::try_from(id)
                        .ok()
                        .and_then(|id| CanFrame::standard(id, data))
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccs_proto::hardware::{Amps, PowerSupplySetpoint, Volts};

    #[test]
    fn layouts_read_and_write_both_byte_orders_and_signs() {
        let mut le = SignalLayout::new(0x200, 1, 2);
        le.scale = 0.1;
        let mut data = [0u8; 8];
        le.write(&mut data, 398.7);
        assert_eq!(data[1..3], 3987u16.to_le_bytes());
        assert!((le.read(&data).unwrap() - 398.7).abs() < 1e-3);

        let be = SignalLayout {
            endianness: Endianness::Big,
            signed: true,
            ..SignalLayout::new(0x200, 4, 2)
        };
        be.write(&mut data, -20.0);
        assert_eq!(data[4..6], (-20i16).to_be_bytes());
        assert_eq!(be.read(&data), Some(-20.0));
        // Saturation instead of wrapping.
        be.write(&mut data, 1e9);
        assert_eq!(be.read(&data), Some(32767.0));
        // A frame too short for the signal yields nothing.
        assert_eq!(be.read(&data[..5]), None);
    }

    #[test]
    fn bad_layouts_are_configuration_errors() {
        let bad = SignalMapping {
            signal: MeasurementKind::Soc,
            layout: SignalLayout::new(0x100, 6, 4),
        };
        assert!(matches!(
            CanMapping::new(vec![bad], vec![], None, None),
            Err(AdapterError::Config(_))
        ));
    }

    #[test]
    fn inputs_decode_and_outputs_share_frames_per_id() {
        let volts = SignalLayout {
            scale: 0.1,
            ..SignalLayout::new(0x300, 0, 2)
        };
        let mut m = CanMapping::new(
            vec![
                SignalMapping {
                    signal: MeasurementKind::BatteryVoltage,
                    layout: volts,
                },
                SignalMapping {
                    signal: MeasurementKind::Soc,
                    layout: SignalLayout::new(0x300, 2, 1),
                },
            ],
            vec![
                SignalMapping {
                    signal: OutputSignal::PowerSupplyVoltage,
                    layout: SignalLayout::new(0x310, 0, 2),
                },
                SignalMapping {
                    signal: OutputSignal::PowerSupplyCurrent,
                    layout: SignalLayout::new(0x310, 2, 2),
                },
                SignalMapping {
                    signal: OutputSignal::PowerSupplyEnabled,
                    layout: SignalLayout::new(0x311, 0, 1),
                },
            ],
            Some(Duration::from_millis(100)),
            None,
        )
        .unwrap();
        let frame = CanFrame::standard(0x300, &[0x8C, 0x0F, 55]).unwrap();
        assert_eq!(
            m.decode(&frame),
            [
                Measurement::BatteryVoltage(Volts(398.0)),
                Measurement::Soc(ccs_proto::hardware::Percent(55.0))
            ]
        );
        assert_eq!(
            m.encode_outputs(),
            [
                CanFrame::standard(0x310, &[0, 0, 0, 0]).unwrap(),
                CanFrame::standard(0x311, &[0]).unwrap(),
            ]
        );
        m.on_command(&HardwareCommand::PowerSupply(PowerSupplySetpoint {
            enabled: true,
            voltage: Volts(400.0),
            current: Amps(125.0),
        }));
        assert_eq!(
            m.encode_outputs(),
            [
                CanFrame::standard(0x310, &[0x90, 0x01, 125, 0]).unwrap(),
                CanFrame::standard(0x311, &[1]).unwrap(),
            ]
        );
    }
}
