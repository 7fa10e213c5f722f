//! What the decoder reports, one event per thing that happened, as text or as JSON lines.

use ccs_proto::trace::V2gSummary;
use serde_json::{Value, json};

use super::v2g::Schema;

/// One line of output.
#[derive(Clone, Debug)]
pub(crate) struct Event {
    /// Seconds since the first packet of the capture.
    pub(crate) time: f64,
    /// The packet number (1-based, as Wireshark counts).
    pub(crate) frame: usize,
    /// `EV->EVSE`, `EVSE->EV`, or the addresses when the roles are unknown.
    pub(crate) direction: String,
    pub(crate) body: Body,
}

#[derive(Clone, Debug)]
pub(crate) enum Body {
    Slac {
        message: String,
        summary: String,
    },
    Sdp {
        message: &'static str,
        summary: String,
        fields: Value,
    },
    Tcp {
        event: &'static str,
        summary: String,
    },
    V2g {
        schema: Schema,
        message: String,
        fields: Value,
        header: Option<Value>,
        summary: Box<V2gSummary>,
        /// The EXI document, hex (as pyPLC's logs show it).
        exi: String,
    },
    Log {
        text: String,
    },
    Error {
        reason: String,
    },
}

impl Event {
    /// The `kind` of the JSON output.
    pub(crate) fn kind(&self) -> &'static str {
        match self.body {
            Body::Slac { .. } => "slac",
            Body::Sdp { .. } => "sdp",
            Body::Tcp { .. } => "tcp",
            Body::V2g { .. } => "v2g",
            Body::Log { .. } => "log",
            Body::Error { .. } => "error",
        }
    }

    /// One JSON object.
    pub(crate) fn to_json(&self) -> Value {
        let mut v = json!({
            "time": (self.time * 1e6).round() / 1e6,
            "frame": self.frame,
            "kind": self.kind(),
            "direction": self.direction,
        });
        let extra = match &self.body {
            Body::Slac { message, summary } => json!({"message": message, "summary": summary}),
            Body::Sdp {
                message,
                summary,
                fields,
            } => json!({"message": message, "summary": summary, "fields": fields}),
            Body::Tcp { event, summary } => json!({"message": event, "summary": summary}),
            Body::V2g {
                schema,
                message,
                fields,
                header,
                summary,
                exi,
            } => {
                let mut o = json!({
                    "schema": schema.name(),
                    "message": message,
                    "fields": fields,
                    "summary": summary.to_string(),
                    "exi": exi,
                });
                if let Some(h) = header {
                    o["header"] = h.clone();
                }
                if let Some(c) = summary.checkpoint() {
                    o["checkpoint"] = json!(c);
                }
                o
            }
            Body::Log { text } => json!({"text": text}),
            Body::Error { reason } => json!({"reason": reason}),
        };
        if let (Value::Object(o), Value::Object(e)) = (&mut v, extra) {
            o.extend(e);
        }
        v
    }

    /// One readable line.
    pub(crate) fn to_text(&self) -> String {
        let what = match &self.body {
            Body::Slac { summary, .. } => format!("SLAC  {summary}"),
            Body::Sdp { summary, .. } => format!("SDP   {summary}"),
            Body::Tcp { summary, .. } => format!("TCP   {summary}"),
            Body::V2g {
                schema, summary, ..
            } => format!("V2G   {summary} ({})", schema.name()),
            // Multi-line log texts (pyPLC logs decoded JSON) continue indented.
            Body::Log { text } => format!(
                "LOG   {}",
                text.replace('\n', "\n                            ")
            ),
            Body::Error { reason } => format!("ERROR frame {}: {reason}", self.frame),
        };
        format!("{:>10.3}  {:<9} {what}", self.time, self.direction)
    }
}
