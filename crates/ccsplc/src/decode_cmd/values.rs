//! The charging values over time: one sample per V2G message, as CSV and as input of the plot.

use std::io::{self, Write};

use ccs_proto::session::{ChargingValues, Phase};

use super::event::{Body, Event};

/// One V2G message's values.
#[derive(Clone, Debug)]
pub(crate) struct Sample {
    pub(crate) time: f64,
    pub(crate) message: String,
    pub(crate) phase: Option<Phase>,
    pub(crate) values: ChargingValues,
    /// Which session of the capture (a new one starts with each supportedAppProtocolReq).
    pub(crate) session: usize,
}

/// One sample per decoded V2G message, in capture order.
pub(crate) fn samples(events: &[Event]) -> Vec<Sample> {
    let mut session = 0;
    let mut seen_any = false;
    events
        .iter()
        .filter_map(|e| match &e.body {
            Body::V2g {
                message, summary, ..
            } => {
                if message == "supportedAppProtocolReq" && seen_any {
                    session += 1;
                }
                seen_any = true;
                Some(Sample {
                    time: e.time,
                    message: message.clone(),
                    phase: summary.phase,
                    values: summary.values,
                    session,
                })
            }
            _ => None,
        })
        .collect()
}

/// The CSV header: the value names are the schema's element names.
pub(crate) const CSV_HEADER: &str = "time,message,phase,checkpoint,EVTargetVoltage,EVTargetCurrent,\
EVSEPresentVoltage,EVSEPresentCurrent,SoC,EVSEMaxVoltage,EVSEMaxCurrent,EVSEMaxPower";

fn cell(v: Option<f32>) -> String {
    v.map(|x| format!("{x}")).unwrap_or_default()
}

/// Writes the samples as CSV: one row per V2G message; a value the message does not carry is
/// empty.
pub(crate) fn write_csv(samples: &[Sample], mut out: impl Write) -> io::Result<()> {
    writeln!(out, "{CSV_HEADER}")?;
    for s in samples {
        let v = &s.values;
        let (phase, checkpoint) = match s.phase {
            Some(p) => (format!("{p:?}"), p.checkpoint().to_string()),
            None => (String::new(), String::new()),
        };
        writeln!(
            out,
            "{:.6},{},{},{},{},{},{},{},{},{},{},{}",
            s.time,
            s.message,
            phase,
            checkpoint,
            cell(v.target_voltage),
            cell(v.target_current),
            cell(v.present_voltage),
            cell(v.present_current),
            cell(v.soc),
            cell(v.evse_max_voltage),
            cell(v.evse_max_current),
            cell(v.evse_max_power),
        )?;
    }
    Ok(())
}

/// A time span in which the session was in one phase.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Band {
    /// First message of the phase.
    pub(crate) start: f64,
    /// Start of the next phase of the session, or the last message of this one.
    pub(crate) end: f64,
    pub(crate) phase: Phase,
}

/// The phases over time: a band starts with the first message of a phase and ends where the
/// next phase of the same session starts, or with its last message (the end of a session).
pub(crate) fn bands(samples: &[Sample]) -> Vec<Band> {
    let mut out: Vec<Band> = Vec::new();
    let mut band_session = usize::MAX;
    for s in samples {
        let Some(phase) = s.phase else { continue };
        let same_session = band_session == s.session;
        band_session = s.session;
        match out.last_mut() {
            Some(b) if b.phase == phase && same_session => b.end = s.time,
            Some(b) => {
                if same_session {
                    b.end = s.time;
                }
                out.push(Band {
                    start: s.time,
                    end: s.time,
                    phase,
                });
            }
            None => out.push(Band {
                start: s.time,
                end: s.time,
                phase,
            }),
        }
    }
    out
}
