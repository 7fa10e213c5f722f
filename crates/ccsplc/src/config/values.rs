//! The value types of settings that are more than a number, a string or a flag.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What ccsplc is when the command line does not say (pyPLC's `mode`).
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Mode {
    /// The car (EVCC); pyPLC's `PevMode`.
    Ev,
    /// The charger (SECC); pyPLC's `EvseMode`.
    Evse,
    /// A passive listener; pyPLC's `ListenMode` (and any other value of pyPLC's `mode`).
    Listen,
}

/// A V2G protocol, as offered by the car or accepted by the charger.
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub(crate) enum Protocol {
    /// DIN SPEC 70121 (DC).
    #[serde(rename = "din")]
    Din,
    /// ISO 15118-2:2013.
    #[serde(rename = "iso2")]
    Iso2,
    /// ISO 15118-20, DC charging.
    #[serde(rename = "iso20-dc")]
    Iso20Dc,
    /// ISO 15118-20, bidirectional DC.
    #[serde(rename = "iso20-bpt")]
    Iso20Bpt,
}

/// The device that drives the digital outputs: CP state, contactors, connector lock
/// (pyPLC's `digital_output_device`).
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DigitalOutputDevice {
    /// No outputs (bench tests, simulation).
    None,
    /// uhi22/dieter: an Arduino on the serial port.
    Dieter,
    /// BeagleBone GPIO (P9_41 = CP state C, P9_17 = contactor).
    Beaglebone,
    /// celeron55's serial measuring and switching device.
    Celeron55device,
    /// Commands published on MQTT (`cpstate`, `relay_request`, `lock_request`).
    Mqtt,
}

/// The device that measures the inlet voltage on the car side (pyPLC's
/// `analog_input_device`).
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum AnalogInputDevice {
    /// No measurement.
    None,
    /// The high-voltage dieter on the serial port.
    Dieter,
    /// celeron55's serial device (`inlet_v=`).
    Celeron55device,
    /// The MQTT topic `inlet_voltage`.
    Mqtt,
}

/// Where the battery/charger parameters come from (pyPLC's `charge_parameter_backend`).
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ChargeParameterBackend {
    /// The constants of `[charging]`.
    None,
    /// A CHAdeMO vehicle on CAN (CCS charger to CHAdeMO car bridge).
    Chademo,
    /// MQTT topics (a BMS or a power supply controller).
    Mqtt,
}

/// The hardware ccsplc runs on as a charger (pyPLC's `evsemode_environment`).
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum EvseEnvironment {
    /// Nothing special.
    None,
    /// A BeagleBone with the FoccciCape: CAN status frames, GPIO, the DiDeBoCCS power supply.
    Focccicape,
}

/// Which voltage ends precharge on the car side.
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum PrechargeVoltageSource {
    /// EVSEPresentVoltage as the charger reports it in PreChargeRes.
    Charger,
    /// The inlet voltage measured by `hardware.analog_input_device`.
    Inlet,
}

/// What the listener does besides listening (pyPLC's `smart_listener_configuration`).
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SmartListener {
    /// Only listen (pyPLC 0).
    Passive,
    /// Configure the local modem with the key sniffed from CM_SLAC_MATCH.CNF to join the
    /// charging network (pyPLC 1).
    Join,
    /// Join, and send one syslog frame per cycle from a spoofed source MAC (pyPLC 2 and more).
    JoinAndSpoof,
}

/// The base timing of SLAC, before the timers set in `[slac]`.
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SlacProfile {
    /// The values of ISO 15118-3 Table A.3.
    Standard,
    /// pyPLC's car timing.
    Pyplc,
}

/// Where a charger's reported attenuation comes from.
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum AttenuationSource {
    /// The modem's profiles; the fixed profile when it reports none.
    MeasuredElseFixed,
    /// Always pyPLC's fixed profile.
    AlwaysFixed,
}

/// Who decides the power in ISO 15118-20 (the `ControlMode` service parameter).
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ControlMode {
    /// The car follows a schedule and sends its target voltage and current.
    Scheduled,
    /// The charger decides the power within the car's limits.
    Dynamic,
}

/// Whether V2G runs over TLS.
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum TlsMode {
    /// Plain TCP only; a charger answers TLS requests in SDP with "no TLS".
    Off,
    /// TLS when the peer asks for it (charger) or offers it (car), else plain TCP.
    Optional,
    /// TLS only; refuse plain TCP.
    Required,
}

/// A span of time in a configuration file: an integer is milliseconds; a string is a number
/// with a unit, `ms`, `s` or `min` (`"400ms"`, `"1.5 s"`, `"2min"`).
#[derive(Clone, Copy, Debug, Default, Eq, Ord, PartialEq, PartialOrd)]
pub(crate) struct Duration(std::time::Duration);

impl Duration {
    /// `millis` milliseconds.
    pub(crate) const fn from_millis(millis: u64) -> Self {
        Self(std::time::Duration::from_millis(millis))
    }

    /// `secs` seconds.
    pub(crate) const fn from_secs(secs: u64) -> Self {
        Self(std::time::Duration::from_secs(secs))
    }

    /// As a standard library duration.
    pub(crate) const fn get(self) -> std::time::Duration {
        self.0
    }
}

impl From<Duration> for ccs_proto::time::Duration {
    fn from(d: Duration) -> Self {
        Self::from_micros(u64::try_from(d.0.as_micros()).unwrap_or(u64::MAX))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0.as_millis();
        if millis != 0 && millis.is_multiple_of(60_000) {
            write!(f, "{}min", millis / 60_000)
        } else if millis != 0 && millis.is_multiple_of(1000) {
            write!(f, "{}s", millis / 1000)
        } else {
            write!(f, "{millis}ms")
        }
    }
}

/// Why a text is not a [`Duration`].
#[derive(Debug, thiserror::Error)]
#[error("expected a duration such as 400 (milliseconds), \"400ms\", \"1.5s\" or \"2min\"")]
pub(crate) struct DurationError;

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let millis_per_unit = match unit.trim() {
            "" | "ms" => 1.0,
            "s" => 1000.0,
            "min" => 60_000.0,
            _ => return Err(DurationError),
        };
        let number: f64 = number.parse().map_err(|_| DurationError)?;
        let millis = number * millis_per_unit;
        // A day is far beyond any protocol timer; it also keeps the cast below exact.
        if !(0.0..=86_400_000.0).contains(&millis) || millis.fract() != 0.0 {
            return Err(DurationError);
        }
        // Exact: checked above to be a whole number in 0..=86_400_000.
        Ok(Self::from_millis(millis as u64))
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl serde::de::Visitor<'_> for Visitor {
            type Value = Duration;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a duration such as 400 (milliseconds), \"400ms\", \"1.5s\" or \"2min\"",
                )
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Duration, E> {
                u64::try_from(v)
                    .map(Duration::from_millis)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Duration, E> {
                Ok(Duration::from_millis(v))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
                v.parse()
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Str(v), &self))
            }
        }

        deserializer.deserialize_any(Visitor)
    }
}

/// Where one signal of a user-defined CAN mapping sits, written as `key=value` words:
/// `"id=0x356 offset=0 length=2 endian=little signed=false scale=0.1 bias=0"`. `id`, `offset`
/// (byte 0–7) and `length` (1–4 bytes) are required; `endian` (`little` or `big`, default
/// little), `signed` (default false), `scale` (default 1), `bias` (default 0; value = raw ·
/// scale + bias) and `extended` (a 29-bit id, default false) are optional.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct CanSignal(ccs_io::can::SignalLayout);

impl CanSignal {
    /// The layout for the CAN adapter.
    pub(crate) const fn layout(self) -> ccs_io::can::SignalLayout {
        self.0
    }
}

/// What a CAN signal may look like, for error messages.
const CAN_SIGNAL_FORMAT: &str = "expected `id=<id> offset=<0-7> length=<1-4>`, optionally \
    followed by `endian=little|big`, `signed=true|false`, `scale=<number>`, `bias=<number>`, \
    `extended=true|false`";

/// Why a text is not a [`CanSignal`].
#[derive(Debug, thiserror::Error)]
#[error("{problem}; {CAN_SIGNAL_FORMAT}")]
pub(crate) struct CanSignalError {
    problem: String,
}

fn can_number<T: FromStr>(key: &str, text: &str) -> Result<T, CanSignalError> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16)
            .ok()
            .and_then(|n| n.to_string().parse().ok()),
        None => text.parse().ok(),
    };
    parsed.ok_or_else(|| CanSignalError {
        problem: format!("`{key}={text}` is not a number in range"),
    })
}

fn can_flag(key: &str, text: &str) -> Result<bool, CanSignalError> {
    match text {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(CanSignalError {
            problem: format!("`{key}={text}`: true or false"),
        }),
    }
}

impl FromStr for CanSignal {
    type Err = CanSignalError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        use ccs_io::can::{CanMapping, Endianness, SignalLayout, SignalMapping};
        let (mut id, mut offset, mut length) = (None, None, None);
        let mut layout = SignalLayout::new(0, 0, 1);
        for word in text.split_whitespace() {
            let Some((key, value)) = word.split_once('=') else {
                return Err(CanSignalError {
                    problem: format!("`{word}` is not `key=value`"),
                });
            };
            match key {
                "id" => id = Some(can_number::<u32>(key, value)?),
                "offset" => offset = Some(can_number::<u8>(key, value)?),
                "length" => length = Some(can_number::<u8>(key, value)?),
                "endian" => {
                    layout.endianness = match value {
                        "little" => Endianness::Little,
                        "big" => Endianness::Big,
                        _ => {
                            return Err(CanSignalError {
                                problem: format!("`endian={value}`: little or big"),
                            });
                        }
                    };
                }
                "signed" => layout.signed = can_flag(key, value)?,
                "extended" => layout.extended = can_flag(key, value)?,
                "scale" => layout.scale = can_number::<f32>(key, value)?,
                "bias" => layout.bias = can_number::<f32>(key, value)?,
                _ => {
                    return Err(CanSignalError {
                        problem: format!("unknown word `{key}`"),
                    });
                }
            }
        }
        let (Some(id), Some(offset), Some(length)) = (id, offset, length) else {
            return Err(CanSignalError {
                problem: "id, offset and length are required".to_owned(),
            });
        };
        layout.id = id;
        layout.offset = offset;
        layout.length = length;
        // The adapter's own check (id range, fit in 8 bytes, usable scale).
        let signal = SignalMapping {
            signal: ccs_io::can::OutputSignal::CpStateC,
            layout,
        };
        CanMapping::new(Vec::new(), vec![signal], None, None).map_err(|e| CanSignalError {
            problem: e.to_string(),
        })?;
        Ok(Self(layout))
    }
}

impl fmt::Display for CanSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.0;
        write!(
            f,
            "id={:#x} offset={} length={} endian={} signed={} scale={} bias={}",
            l.id,
            l.offset,
            l.length,
            match l.endianness {
                ccs_io::can::Endianness::Little => "little",
                ccs_io::can::Endianness::Big => "big",
            },
            l.signed,
            l.scale,
            l.bias
        )?;
        if l.extended {
            f.write_str(" extended=true")?;
        }
        Ok(())
    }
}

impl Serialize for CanSignal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CanSignal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_and_without_units() {
        assert_eq!(
            "400".parse::<Duration>().unwrap(),
            Duration::from_millis(400)
        );
        assert_eq!(
            "400ms".parse::<Duration>().unwrap(),
            Duration::from_millis(400)
        );
        assert_eq!(
            "1.5 s".parse::<Duration>().unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(
            "2min".parse::<Duration>().unwrap(),
            Duration::from_secs(120)
        );
        for bad in ["", "s", "-1s", "1h", "0.5ms", "1e3", "fast"] {
            assert!(bad.parse::<Duration>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn durations_print_in_the_largest_whole_unit_and_read_back() {
        for (millis, text) in [
            (0, "0ms"),
            (250, "250ms"),
            (2000, "2s"),
            (1500, "1500ms"),
            (120_000, "2min"),
        ] {
            let d = Duration::from_millis(millis);
            assert_eq!(d.to_string(), text);
            assert_eq!(text.parse::<Duration>().unwrap(), d);
        }
    }

    #[test]
    fn durations_convert_to_the_core_duration() {
        let core: ccs_proto::time::Duration = Duration::from_millis(1500).into();
        assert_eq!(core, ccs_proto::time::Duration::from_millis(1500));
    }

    #[test]
    fn can_signals_parse_with_defaults_and_print_back() {
        let s: CanSignal = "id=0x356 offset=2 length=2 scale=0.1".parse().unwrap();
        let l = s.layout();
        assert_eq!((l.id, l.offset, l.length), (0x356, 2, 2));
        assert_eq!(l.endianness, ccs_io::can::Endianness::Little);
        assert!(!l.signed && !l.extended);
        assert_eq!(s.to_string().parse::<CanSignal>().unwrap(), s);
        let e: CanSignal =
            "id=0x18FF50E5 extended=true offset=0 length=4 endian=big signed=true bias=-40"
                .parse()
                .unwrap();
        assert_eq!(e.layout().bias, -40.0);
        assert_eq!(e.to_string().parse::<CanSignal>().unwrap(), e);
    }

    #[test]
    fn bad_can_signals_say_what_is_wrong_and_what_is_allowed() {
        for (text, problem) in [
            ("id=0x356 offset=0", "id, offset and length are required"),
            ("id=0x356 offset=6 length=4", "does not fit"),
            ("id=0x800 offset=0 length=1", "out of range"),
            ("id=0x356 offset=0 length=2 endian=middle", "little or big"),
            ("id=0x356 offset=0 length=2 scale=0", "non-zero"),
            (
                "id=0x356 offset=0 length=2 colour=red",
                "unknown word `colour`",
            ),
            ("id=0x356 offset=0 length", "`length` is not `key=value`"),
            ("id=zz offset=0 length=1", "`id=zz` is not a number"),
        ] {
            let message = text.parse::<CanSignal>().unwrap_err().to_string();
            assert!(message.contains(problem), "{text}: {message}");
            assert!(message.contains("expected `id=<id>"), "{text}: {message}");
        }
    }
}
