//! `ccsplc exi decode|encode`: single EXI messages to JSON and back.
//!
//! JSON is the schema's structure with the schema's names, keyed by the root element:
//! `{"V2G_Message":{"Header":{"SessionID":"00"},"Body":{"SessionSetupReq":{"EVCCID":"…"}}}}`.
//! Binary values are lowercase hex. One item per line; a bad item prints an error for that
//! line and processing continues; the exit code is non-zero if any item failed.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use ccs_msg::{app_handshake, din, iso2, iso20};

use crate::cli::{ExiCommand, Schema};

/// Runs `ccsplc exi ...`.
pub(crate) fn run(command: ExiCommand) -> Result<ExitCode> {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failed = 0usize;
    match command {
        ExiCommand::Decode(args) => {
            let items: Vec<String> = if args.hex.is_empty() {
                stdin.lock().lines().collect::<Result<_, _>>()?
            } else {
                args.hex
            };
            for (i, item) in items.iter().enumerate() {
                let item = item.trim();
                if item.is_empty() {
                    continue;
                }
                match decode_item(args.schema, item) {
                    Ok(json) => writeln!(out, "{json}")?,
                    Err(e) => {
                        failed += 1;
                        eprintln!("item {}: {e:#}", i + 1);
                    }
                }
            }
        }
        ExiCommand::Encode(args) => {
            for (i, line) in stdin.lock().lines().enumerate() {
                let line = line?;
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                match encode_item(args.schema, line) {
                    Ok(bytes) => writeln!(out, "{}", to_hex(&bytes))?,
                    Err(e) => {
                        failed += 1;
                        eprintln!("line {}: {e:#}", i + 1);
                    }
                }
            }
        }
    }
    out.flush()?;
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Picks the schema from the first bytes (exi-v2g.md §1.2). `80 9a` is only DIN (an ISO-20
/// root is always followed by two zero bits). `80 00` / `80 40` are taken as the handshake, as
/// on a V2GTP 0x8001 connection; note that ISO-20 AuthorizationReq (common) and
/// MeteringConfirmationReq / DC_ChargeParameterDiscoveryRes start the same way, so ISO-20 needs
/// an explicit `--schema`. `80 98` (ISO-2 V2G_Message or ISO-20 SessionStopRes) is refused.
fn detect(bytes: &[u8]) -> Result<Schema> {
    match bytes {
        [0x80, 0x9a, ..] => Ok(Schema::Din),
        [0x80, 0x00 | 0x40, ..] => Ok(Schema::Apphand),
        [0x80, 0x98, ..] => bail!(
            "80 98 is ambiguous: an ISO 15118-2 V2G_Message or an ISO 15118-20 SessionStopRes; \
             give --schema iso2 or --schema iso20-common"
        ),
        [0x80, second, ..] => bail!(
            "cannot tell the schema from 80 {second:02x} (ISO 15118-20 messages of all five sets \
             share their first bytes); give --schema"
        ),
        _ => bail!("not an EXI stream of the V2G profile (must start with 80)"),
    }
}

fn decode_item(schema: Schema, item: &str) -> Result<String> {
    let bytes = parse_hex(item)?;
    let schema = match schema {
        Schema::Auto => detect(&bytes)?,
        s => s,
    };
    let json = match schema {
        Schema::Apphand => serde_json::to_string(&app_handshake::decode(&bytes)?),
        Schema::Din => serde_json::to_string(&din::Document::decode(&bytes)?),
        Schema::Iso2 => serde_json::to_string(&iso2::Document::decode(&bytes)?),
        Schema::Iso20Common => serde_json::to_string(&iso20::common::decode(&bytes)?),
        Schema::Iso20Dc => serde_json::to_string(&iso20::dc::decode(&bytes)?),
        Schema::Iso20Ac => serde_json::to_string(&iso20::ac::decode(&bytes)?),
        Schema::Iso20Wpt => serde_json::to_string(&iso20::wpt::decode(&bytes)?),
        Schema::Iso20Acdp => serde_json::to_string(&iso20::acdp::decode(&bytes)?),
        Schema::Auto => unreachable!("resolved above"),
    };
    Ok(json?)
}

fn encode_item(schema: Schema, line: &str) -> Result<Vec<u8>> {
    fn parse<T: serde::de::DeserializeOwned>(line: &str) -> Result<T> {
        serde_json::from_str(line).context("JSON does not match the schema")
    }
    Ok(match schema {
        Schema::Apphand => parse::<app_handshake::Document>(line)?.encode()?,
        Schema::Din => parse::<din::Document>(line)?.encode()?,
        Schema::Iso2 => parse::<iso2::Document>(line)?.encode()?,
        Schema::Iso20Common => parse::<iso20::common::Document>(line)?.encode()?,
        Schema::Iso20Dc => parse::<iso20::dc::Document>(line)?.encode()?,
        Schema::Iso20Ac => parse::<iso20::ac::Document>(line)?.encode()?,
        Schema::Iso20Wpt => parse::<iso20::wpt::Document>(line)?.encode()?,
        Schema::Iso20Acdp => parse::<iso20::acdp::Document>(line)?.encode()?,
        Schema::Auto => bail!(
            "encode needs an explicit --schema (JSON roots such as V2G_Message exist in several schemas)"
        ),
    })
}

/// Hex digits to bytes (whitespace and a `0x` prefix are ignored).
pub(crate) fn parse_hex(text: &str) -> Result<Vec<u8>> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let digits = digits.strip_prefix("0x").unwrap_or(&digits);
    if !digits.len().is_multiple_of(2) {
        bail!("odd number of hex digits");
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            digits
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| anyhow!("invalid hex digit near position {i}"))
        })
        .collect()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
