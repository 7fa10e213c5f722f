//! `ccsplc decode FILE`: the whole conversation in a capture, decoded.
//!
//! - [`engine`]: link layer (Ethernet, VLAN tags, Linux cooked captures), HomePlug MMEs, SDP,
//!   TCP reassembly per connection into the V2GTP deframer, the schema from the handshake,
//!   pyPLC's UDP syslog lines and pcapng comments.
//! - [`event`]: one event per thing that happened; text lines or `--json` lines.
//! - [`values`]: `--values out.csv`, the charging values per V2G message.
//! - [`plot`]: `--plot out.svg`, voltage, current and SoC over time with the phases marked.
//!
//! The line of a V2G message is [`ccs_proto::trace::V2gSummary`], the same as in the live trace.

mod engine;
pub(crate) use engine::LiveDecoder;
mod event;
mod plot;
mod tcp;
mod v2g;
mod values;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::DecodeArgs;

/// Runs `ccsplc decode`. Exit code 0 if every frame decoded, 1 if some could not be (they are
/// reported as `error` events), an error if the file is not a capture.
pub(crate) fn run(args: &DecodeArgs) -> anyhow::Result<ExitCode> {
    match run_inner(args) {
        // `ccsplc decode x.pcap | head` is not an error.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(ExitCode::SUCCESS)
        }
        other => other,
    }
}

fn run_inner(args: &DecodeArgs) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let decoding = engine::decode_capture(&bytes)
        .with_context(|| format!("{} is not a readable capture", args.file.display()))?;

    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for event in &decoding.events {
        if args.json {
            writeln!(out, "{}", event.to_json())?;
        } else {
            writeln!(out, "{}", event.to_text())?;
        }
    }
    let s = &decoding.stats;
    let summary = format!(
        "{}: {} frames, {} SLAC/HomePlug, {} SDP, {} TCP events, {} V2G messages ({} not decoded), {} log lines, {} errors",
        args.file.display(),
        s.frames,
        s.slac,
        s.sdp,
        s.tcp,
        s.v2g,
        s.v2g_failed,
        s.logs,
        s.errors
    );
    if args.json {
        eprintln!("{summary}");
    } else {
        writeln!(out, "{summary}")?;
    }
    out.flush()?;

    let samples = values::samples(&decoding.events);
    if let Some(path) = &args.values {
        let file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut w = BufWriter::new(file);
        values::write_csv(&samples, &mut w)?;
        w.flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.plot {
        let title = args.file.file_name().map_or_else(
            || args.file.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let svg = plot::render(&title, &samples, &values::bands(&samples));
        std::fs::write(path, svg).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(if s.errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
