//! Which schema a V2G payload is in, and decoding it to serde JSON.
//!
//! The schema follows from the app handshake of the connection (supportedAppProtocolReq lists
//! namespaces with SchemaIDs, supportedAppProtocolRes picks one), for ISO 15118-20 from the
//! V2GTP payload type (0x8002 CommonMessages, 0x8003 AC, 0x8004 DC, 0x8005 ACDP, 0x8006 WPT;
//! homeplug-slac.md §7). A connection whose handshake is not in the capture is taken as DIN
//! 70121 (what every capture so far speaks), with ISO 15118-2 as the second guess.

use ccs_proto::v2gtp::PayloadType;
use serde_json::Value;

/// A schema the decoder can decode with.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum Schema {
    AppHandshake,
    Din,
    Iso2,
    Iso20Common,
    Iso20Dc,
    Iso20Ac,
    Iso20Acdp,
    Iso20Wpt,
}

impl Schema {
    /// The name used on the command line (`ccsplc exi --schema`) and in JSON output.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::AppHandshake => "apphand",
            Self::Din => "din",
            Self::Iso2 => "iso2",
            Self::Iso20Common => "iso20-common",
            Self::Iso20Dc => "iso20-dc",
            Self::Iso20Ac => "iso20-ac",
            Self::Iso20Acdp => "iso20-acdp",
            Self::Iso20Wpt => "iso20-wpt",
        }
    }

    /// The ISO 15118-20 grammar set a V2GTP payload type selects.
    pub(crate) fn for_iso20_payload(t: PayloadType) -> Option<Self> {
        match u16::from(t) {
            0x8002 => Some(Self::Iso20Common),
            0x8003 => Some(Self::Iso20Ac),
            0x8004 => Some(Self::Iso20Dc),
            0x8005 => Some(Self::Iso20Acdp),
            0x8006 => Some(Self::Iso20Wpt),
            _ => None,
        }
    }
}

/// What the handshake negotiated for the EXI payload type 0x8001.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) enum Negotiated {
    /// DIN 70121 (also Tesla's `urn:tesla:din:2018:MsgDef`, which is DIN on the wire).
    Din,
    /// ISO 15118-2:2013.
    Iso2,
    /// ISO 15118-20: the payload types carry the messages; 0x8001 stays the handshake.
    Iso20,
    /// A namespace without a codec here (e.g. the ISO 15118-2:2010 draft).
    Unsupported(String),
}

impl Negotiated {
    /// From a handshake namespace.
    pub(crate) fn from_namespace(ns: &str) -> Self {
        match ns {
            "urn:din:70121:2012:MsgDef" => Self::Din,
            "urn:iso:15118:2:2013:MsgDef" => Self::Iso2,
            ns if ns.starts_with("urn:iso:std:iso:15118:-20:") => Self::Iso20,
            // Tesla offers `urn:tesla:din:2018:MsgDef` next to DIN; it is the DIN schema.
            ns if ns.contains(":din:") => Self::Din,
            other => Self::Unsupported(other.to_owned()),
        }
    }
}

/// A decoded message: its element name, its content as JSON, and (DIN/ISO-2) the header.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Decoded {
    pub(crate) message: String,
    pub(crate) fields: Value,
    pub(crate) header: Option<Value>,
}

/// `{"Name": {...}}` → (Name, {...}).
fn single_key(v: Value) -> Result<(String, Value), String> {
    match v {
        Value::Object(map) if map.len() == 1 => {
            let Some((k, v)) = map.into_iter().next() else {
                return Err("empty document".to_owned());
            };
            Ok((k, v))
        }
        other => Err(format!("unexpected JSON shape {other}")),
    }
}

fn to_json<T: serde::Serialize>(msg: &T) -> Result<Value, String> {
    serde_json::to_value(msg).map_err(|e| format!("JSON: {e}"))
}

/// DIN/ISO-2: `{"Body": {"Name": {...}}, "Header": {...}}`.
fn v2g_message(v: Value) -> Result<Decoded, String> {
    let Value::Object(mut map) = v else {
        return Err("V2G_Message is not an object".to_owned());
    };
    let header = map.remove("Header");
    let body = map.remove("Body").unwrap_or(Value::Null);
    let (message, fields) = match body {
        Value::Object(b) if b.is_empty() => ("V2G_Message (empty body)".to_owned(), Value::Null),
        other => single_key(other)?,
    };
    Ok(Decoded {
        message,
        fields,
        header,
    })
}

fn document(v: Value) -> Result<Decoded, String> {
    let (message, fields) = single_key(v)?;
    Ok(Decoded {
        message,
        fields,
        header: None,
    })
}

/// Decodes an EXI document with a schema. The error is the codec's, as text.
pub(crate) fn decode(schema: Schema, exi: &[u8]) -> Result<Decoded, String> {
    let e = |e: ccs_msg::Error| e.to_string();
    match schema {
        Schema::AppHandshake => {
            document(to_json(&ccs_msg::app_handshake::decode(exi).map_err(e)?)?)
        }
        Schema::Din => v2g_message(to_json(&ccs_msg::din::decode(exi).map_err(e)?)?),
        Schema::Iso2 => v2g_message(to_json(&ccs_msg::iso2::decode(exi).map_err(e)?)?),
        Schema::Iso20Common => document(to_json(&ccs_msg::iso20::common::decode(exi).map_err(e)?)?),
        Schema::Iso20Dc => document(to_json(&ccs_msg::iso20::dc::decode(exi).map_err(e)?)?),
        Schema::Iso20Ac => document(to_json(&ccs_msg::iso20::ac::decode(exi).map_err(e)?)?),
        Schema::Iso20Acdp => document(to_json(&ccs_msg::iso20::acdp::decode(exi).map_err(e)?)?),
        Schema::Iso20Wpt => document(to_json(&ccs_msg::iso20::wpt::decode(exi).map_err(e)?)?),
    }
}

/// The handshake state of one TCP connection.
#[derive(Clone, Debug, Default)]
pub(crate) struct Handshake {
    /// (SchemaID, namespace) offered in supportedAppProtocolReq.
    offered: Vec<(u64, String)>,
    /// What the response chose; `None` before it (or if it failed).
    negotiated: Option<Negotiated>,
    /// True once a handshake message was seen on this connection.
    seen: bool,
}

/// The outcome of decoding one V2GTP message of a connection.
pub(crate) enum Outcome {
    Decoded(Schema, Decoded),
    Failed { schema: Schema, reason: String },
    Unsupported(String),
}

impl Handshake {
    fn learn(&mut self, d: &Decoded) {
        self.seen = true;
        match d.message.as_str() {
            "supportedAppProtocolReq" => {
                self.offered.clear();
                if let Some(Value::Array(list)) = d.fields.get("AppProtocol") {
                    for p in list {
                        let id = p.get("SchemaID").and_then(Value::as_u64).unwrap_or(0);
                        let ns = p
                            .get("ProtocolNamespace")
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        self.offered.push((id, ns.to_owned()));
                    }
                }
            }
            "supportedAppProtocolRes" => {
                let chosen = d.fields.get("SchemaID").and_then(Value::as_u64);
                self.negotiated = chosen.and_then(|id| {
                    self.offered
                        .iter()
                        .find(|(offered, _)| *offered == id)
                        .map(|(_, ns)| Negotiated::from_namespace(ns))
                });
                // A positive response without a matching request in the capture: DIN.
                if self.negotiated.is_none() && chosen.is_some() {
                    self.negotiated = Some(Negotiated::Din);
                }
            }
            _ => {}
        }
    }

    /// What the handshake negotiated.
    #[cfg(test)]
    pub(crate) fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    /// Decodes one V2GTP message of this connection.
    pub(crate) fn decode(&mut self, payload_type: PayloadType, exi: &[u8]) -> Outcome {
        if let Some(schema) = Schema::for_iso20_payload(payload_type) {
            return match decode(schema, exi) {
                Ok(d) => Outcome::Decoded(schema, d),
                Err(reason) => Outcome::Failed { schema, reason },
            };
        }
        if payload_type != PayloadType::Exi {
            return Outcome::Unsupported(format!("V2GTP payload type {payload_type}"));
        }
        // Before the response (or for ISO-20, where 0x8001 carries only the handshake) a
        // message on 0x8001 is a handshake message if it decodes as one.
        let expect_handshake =
            matches!(self.negotiated, None | Some(Negotiated::Iso20)) || !self.seen;
        if expect_handshake && let Ok(d) = decode(Schema::AppHandshake, exi) {
            self.learn(&d);
            return Outcome::Decoded(Schema::AppHandshake, d);
        }
        let candidates: &[Schema] = match &self.negotiated {
            Some(Negotiated::Din) => &[Schema::Din],
            Some(Negotiated::Iso2) => &[Schema::Iso2],
            Some(Negotiated::Iso20) => &[Schema::AppHandshake],
            Some(Negotiated::Unsupported(ns)) => {
                return Outcome::Unsupported(format!("no codec for the negotiated namespace {ns}"));
            }
            // No handshake in the capture: DIN first, then ISO 15118-2.
            None => &[Schema::Din, Schema::Iso2],
        };
        let mut first_error = None;
        for &schema in candidates {
            match decode(schema, exi) {
                Ok(d) => return Outcome::Decoded(schema, d),
                Err(reason) => {
                    first_error.get_or_insert((schema, reason));
                }
            }
        }
        let (schema, reason) = first_error.unwrap_or_else(|| (Schema::Din, "no schema".to_owned()));
        Outcome::Failed { schema, reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// From 2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng: handshake, then DIN SessionSetupReq.
    #[test]
    fn handshake_then_din() {
        let mut hs = Handshake::default();
        let req = hex("8000dbab9371d3234b71d1b981899189d191818991d26b9b3a232b30020000040040");
        let Outcome::Decoded(schema, d) = hs.decode(PayloadType::Exi, &req) else {
            panic!("handshake request not decoded");
        };
        assert_eq!(schema, Schema::AppHandshake);
        assert_eq!(d.message, "supportedAppProtocolReq");
        let Outcome::Decoded(_, d) = hs.decode(PayloadType::Exi, &hex("80400040")) else {
            panic!("handshake response not decoded");
        };
        assert_eq!(d.message, "supportedAppProtocolRes");
        assert_eq!(hs.negotiated(), Some(&Negotiated::Din));
        let Outcome::Decoded(schema, d) = hs.decode(
            PayloadType::Exi,
            &hex("809a02000000000000000011d01811959401930c00"),
        ) else {
            panic!("SessionSetupReq not decoded");
        };
        assert_eq!(
            (schema, d.message.as_str()),
            (Schema::Din, "SessionSetupReq")
        );
        assert_eq!(d.header.unwrap()["SessionID"], "0000000000000000");
    }

    #[test]
    fn without_handshake_din_is_assumed_and_garbage_fails() {
        let mut hs = Handshake::default();
        let Outcome::Decoded(schema, _) = hs.decode(
            PayloadType::Exi,
            &hex("809a02000000000000000011d01811959401930c00"),
        ) else {
            panic!("not decoded");
        };
        assert_eq!(schema, Schema::Din);
        assert!(matches!(
            hs.decode(PayloadType::Exi, &[0x80, 0xff, 0xff]),
            Outcome::Failed { .. }
        ));
        assert!(matches!(
            hs.decode(PayloadType::Unknown(0xa000), &[0x80]),
            Outcome::Unsupported(_)
        ));
    }

    #[test]
    fn namespaces() {
        assert_eq!(
            Negotiated::from_namespace("urn:tesla:din:2018:MsgDef"),
            Negotiated::Din
        );
        assert_eq!(
            Negotiated::from_namespace("urn:iso:std:iso:15118:-20:DC"),
            Negotiated::Iso20
        );
        assert!(matches!(
            Negotiated::from_namespace("urn:iso:15118:2:2010:MsgDef"),
            Negotiated::Unsupported(_)
        ));
    }
}
