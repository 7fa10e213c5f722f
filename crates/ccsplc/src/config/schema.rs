//! The table of settings: one entry per field of [`Config`](super::Config), made by the same
//! macro that declares the field, so the loaders, `config check`, `config init` and
//! `docs/configuration.md` can never disagree with the struct.

use toml::Value;

use super::values::{
    AnalogInputDevice, ChargeParameterBackend, DigitalOutputDevice, EvseEnvironment, Mode,
    PrechargeVoltageSource, SmartListener,
};

/// One section of the TOML file (`[general]`, `[slac]`, ...).
#[derive(Debug)]
pub(crate) struct Section {
    /// The TOML table name.
    pub(crate) name: &'static str,
    /// What the section is about (the struct's doc comment).
    pub(crate) doc: &'static str,
    /// Its settings, in declaration order.
    pub(crate) settings: &'static [Setting],
}

/// One setting: a field of a section struct.
#[derive(Debug)]
pub(crate) struct Setting {
    /// The TOML key inside the section.
    pub(crate) key: &'static str,
    /// The field's doc comment: meaning, unit, default, pyPLC key.
    pub(crate) doc: &'static str,
    /// The pyPlc.ini key that sets it, if pyPLC has one.
    pub(crate) ini: Option<IniKey>,
    /// For a setting that is unset by default: an example value in TOML syntax.
    pub(crate) example: Option<&'static str>,
}

#[cfg(test)]
impl Setting {
    /// The doc comment as one line of prose.
    pub(crate) fn summary(&self) -> String {
        one_line(self.doc)
    }
}

/// Joins the lines of a doc comment into one line.
#[cfg(test)]
pub(crate) fn one_line(doc: &str) -> String {
    doc.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A pyPlc.ini key and how its text becomes the TOML value of the setting.
#[derive(Debug)]
pub(crate) struct IniKey {
    /// The key as pyPLC spells it (configparser lower-cases keys).
    pub(crate) key: &'static str,
    /// Text of the ini file to the TOML value; the error says what is allowed.
    pub(crate) convert: fn(&str) -> Result<Value, String>,
}

/// How the text of a pyPlc.ini value becomes a TOML value of a setting's type. Type checks
/// that serde does anyway (enum variants, integer ranges) happen after this step.
pub(crate) trait IniValue {
    /// Converts the text; the error says what is allowed.
    fn from_ini(text: &str) -> Result<Value, String>;
}

/// What a pyPLC boolean may be: Python configparser's `getboolean`, any case.
pub(crate) const INI_BOOLEANS: &str = "expected yes/no, true/false, on/off or 1/0";

/// Python configparser's `getboolean`.
pub(crate) fn ini_bool(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Ok(true),
        "0" | "no" | "false" | "off" => Ok(false),
        _ => Err(INI_BOOLEANS.to_owned()),
    }
}

impl IniValue for bool {
    fn from_ini(text: &str) -> Result<Value, String> {
        ini_bool(text).map(Value::Boolean)
    }
}

impl IniValue for String {
    fn from_ini(text: &str) -> Result<Value, String> {
        Ok(Value::String(text.to_owned()))
    }
}

impl IniValue for Option<String> {
    fn from_ini(text: &str) -> Result<Value, String> {
        Ok(Value::String(text.to_owned()))
    }
}

macro_rules! ini_integer {
    ($($ty:ty),*) => {$(
        impl IniValue for $ty {
            fn from_ini(text: &str) -> Result<Value, String> {
                // The range of the type is checked when the value is deserialized.
                text.trim().parse::<i64>().map(Value::Integer).map_err(|_| {
                    format!(
                        "expected a whole number from {} to {}",
                        <$ty>::MIN,
                        <$ty>::MAX
                    )
                })
            }
        }
    )*};
}
ini_integer!(u8, u16, u32, u64);

impl IniValue for f64 {
    fn from_ini(text: &str) -> Result<Value, String> {
        match text.trim().parse::<Self>() {
            Ok(v) if v.is_finite() => Ok(Value::Float(v)),
            _ => Err("expected a number".to_owned()),
        }
    }
}

/// pyPLC compares its device names exactly; ccsplc takes them in any case and lets serde
/// check the name (its error lists the allowed ones).
macro_rules! ini_enum {
    ($($ty:ty),*) => {$(
        impl IniValue for $ty {
            fn from_ini(text: &str) -> Result<Value, String> {
                Ok(Value::String(text.trim().to_ascii_lowercase()))
            }
        }
    )*};
}
ini_enum!(
    DigitalOutputDevice,
    AnalogInputDevice,
    ChargeParameterBackend,
    EvseEnvironment
);

/// pyPLC's `mode`: `PevMode`, `EvseMode`; pyPLC runs any other value as the listener.
pub(crate) fn ini_mode(text: &str) -> Result<Value, String> {
    let mode = match text.trim().to_ascii_lowercase().as_str() {
        "pevmode" => Mode::Ev,
        "evsemode" => Mode::Evse,
        _ => Mode::Listen,
    };
    Value::try_from(mode).map_err(|e| e.to_string())
}

/// Whether pyPLC's `mode` text is one of its names; other texts mean listen mode silently
/// in pyPLC, so ccsplc warns about them.
pub(crate) fn ini_mode_is_known(text: &str) -> bool {
    matches!(
        text.trim().to_ascii_lowercase().as_str(),
        "pevmode" | "evsemode" | "listenmode"
    )
}

/// pyPLC's `use_evsepresentvoltage_for_precharge_end`: yes = the charger's
/// EVSEPresentVoltage, no = the measured inlet voltage.
pub(crate) fn ini_precharge_source(text: &str) -> Result<Value, String> {
    let source = if ini_bool(text)? {
        PrechargeVoltageSource::Charger
    } else {
        PrechargeVoltageSource::Inlet
    };
    Value::try_from(source).map_err(|e| e.to_string())
}

/// pyPLC's `smart_listener_configuration`: 0 listen, 1 join, 2 or more join and spoof.
pub(crate) fn ini_smart_listener(text: &str) -> Result<Value, String> {
    let level: i64 = text
        .trim()
        .parse()
        .map_err(|_| "expected a whole number: 0, 1 or 2".to_owned())?;
    let listener = match level {
        i64::MIN..=0 => SmartListener::Passive,
        1 => SmartListener::Join,
        _ => SmartListener::JoinAndSpoof,
    };
    Value::try_from(listener).map_err(|e| e.to_string())
}

/// pyPLC's `soc_fallback_energy_capacity` is in units of 10 Wh (`evseNoGui.py` multiplies it
/// by 10 before it reports Wh); ccsplc keeps Wh. pyPLC takes 0 or less as "no fallback".
pub(crate) fn ini_energy_capacity_tens_of_wh(text: &str) -> Result<Value, String> {
    let tens: i64 = text
        .trim()
        .parse()
        .map_err(|_| "expected a whole number (units of 10 Wh)".to_owned())?;
    tens.max(0)
        .checked_mul(10)
        .map(Value::Integer)
        .ok_or_else(|| "number too large".to_owned())
}

/// Declares a section struct, its `Default` and its [`Section`] table together.
///
/// Each field: doc comment, then optionally `#[key = "TomlName"]` (when the TOML key is not
/// the field name), `#[ini = "pyplc_key"]` or `#[ini = "pyplc_key", via = converter]`,
/// `#[example = "toml value"]` (for settings that are unset by default), then
/// `name: Type = default,`.
macro_rules! config_section {
    (@key $field:ident) => { stringify!($field) };
    (@key $field:ident, $key:literal) => { $key };
    (@ini $ty:ty) => { None };
    (@ini $ty:ty, $ini:literal) => {
        Some($crate::config::schema::IniKey {
            key: $ini,
            convert: <$ty as $crate::config::schema::IniValue>::from_ini,
        })
    };
    (@ini $ty:ty, $ini:literal, $via:path) => {
        Some($crate::config::schema::IniKey { key: $ini, convert: $via })
    };
    (@example) => { None };
    (@example $example:literal) => { Some($example) };
    (
        $(#[doc = $section_doc:literal])*
        $vis:vis struct $name:ident in $section:literal {
            $(
                $(#[doc = $doc:literal])*
                $(#[key = $key:literal])?
                $(#[ini = $ini:literal $(, via = $via:path)?])?
                $(#[example = $example:literal])?
                $field:ident : $ty:ty = $default:expr,
            )*
        }
    ) => {
        $(#[doc = $section_doc])*
        #[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
        #[serde(default)]
        #[non_exhaustive]
        $vis struct $name {
            $(
                $(#[doc = $doc])*
                $(#[serde(rename = $key)])?
                pub(crate) $field: $ty,
            )*
        }

        impl Default for $name {
            fn default() -> Self {
                Self { $($field: $default,)* }
            }
        }

        impl $name {
            /// This section's entry in the table of settings.
            pub(crate) const SECTION: $crate::config::schema::Section =
                $crate::config::schema::Section {
                    name: $section,
                    doc: concat!($($section_doc, "\n",)*),
                    settings: &[$(
                        $crate::config::schema::Setting {
                            key: config_section!(@key $field $(, $key)?),
                            doc: concat!($($doc, "\n",)*),
                            ini: config_section!(@ini $ty $(, $ini $(, $via)?)?),
                            example: config_section!(@example $($example)?),
                        },
                    )*],
                };
        }
    };
}
pub(crate) use config_section;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_booleans_are_configparsers_in_any_case() {
        for yes in ["1", "yes", "YES", "True", "on", " On "] {
            assert_eq!(ini_bool(yes), Ok(true), "{yes}");
        }
        for no in ["0", "no", "No", "FALSE", "off"] {
            assert_eq!(ini_bool(no), Ok(false), "{no}");
        }
        for bad in ["", "y", "2", "enabled", "yes # comment"] {
            assert_eq!(ini_bool(bad), Err(INI_BOOLEANS.to_owned()), "{bad}");
        }
    }

    #[test]
    fn ini_mode_maps_anything_unknown_to_listen_as_pyplc_does() {
        assert_eq!(ini_mode("PevMode").unwrap(), Value::String("ev".into()));
        assert_eq!(ini_mode("EvseMode").unwrap(), Value::String("evse".into()));
        assert_eq!(
            ini_mode("ListenMode").unwrap(),
            Value::String("listen".into())
        );
        assert_eq!(ini_mode("Pev").unwrap(), Value::String("listen".into()));
        assert!(ini_mode_is_known("listenmode"));
        assert!(!ini_mode_is_known("Pev"));
    }

    #[test]
    fn ini_smart_listener_levels() {
        let level = |t| ini_smart_listener(t).unwrap();
        assert_eq!(level("0"), Value::String("passive".into()));
        assert_eq!(level("1"), Value::String("join".into()));
        assert_eq!(level("7"), Value::String("join_and_spoof".into()));
        assert!(ini_smart_listener("one").is_err());
    }

    #[test]
    fn ini_energy_capacity_is_tens_of_wh() {
        assert_eq!(
            ini_energy_capacity_tens_of_wh("2700"),
            Ok(Value::Integer(27000))
        );
        assert_eq!(ini_energy_capacity_tens_of_wh("-1"), Ok(Value::Integer(0)));
        assert!(ini_energy_capacity_tens_of_wh("27.5").is_err());
    }
}
