//! Project automation. `cargo xtask codegen [--check] [--schemas DIR]` generates the message
//! types and grammars of `ccs-msg` from the V2G schemas (exi-v2g.md §7): the XSDs are read
//! with roxmltree (`xsd`), each complex type's EXI grammar is derived (`grammar`), and Rust
//! types plus a `match`-per-state codec are written (`emit`), formatted with rustfmt, into
//! `crates/ccs-msg/src/generated/`. `--check` fails when the committed files are stale.
#![forbid(unsafe_code)]

mod emit;
mod grammar;
mod xsd;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::emit::{Generator, SetSpec};

/// The grammar sets, in generation order. Each set's entry schema pulls in its imports; the
/// module named here gets the set's document and fragment codecs.
const SETS: &[SetSpec] = &[
    SetSpec {
        folder: "apphand",
        entry: "V2G_CI_AppProtocol.xsd",
        module: "app_handshake",
        title: "SupportedAppProtocol (urn:iso:15118:2:2010:AppProtocol)",
    },
    SetSpec {
        folder: "iso15118-2",
        entry: "xmldsig-core-schema.xsd",
        module: "xmldsig",
        title: "W3C XML Signature (xmldsig-core), as used by DIN 70121, ISO 15118-2 and -20",
    },
    SetSpec {
        folder: "din70121",
        entry: "V2G_CI_MsgDef.xsd",
        module: "din",
        title: "DIN SPEC 70121 (urn:din:70121:2012:MsgDef)",
    },
    SetSpec {
        folder: "iso15118-2",
        entry: "V2G_CI_MsgDef.xsd",
        module: "iso2",
        title: "ISO 15118-2:2013 (urn:iso:15118:2:2013:MsgDef)",
    },
    SetSpec {
        folder: "iso15118-20",
        entry: "V2G_CI_CommonMessages.xsd",
        module: "iso20_common",
        title: "ISO 15118-20 CommonMessages (urn:iso:std:iso:15118:-20:CommonMessages)",
    },
    SetSpec {
        folder: "iso15118-20",
        entry: "V2G_CI_DC.xsd",
        module: "iso20_dc",
        title: "ISO 15118-20 DC (urn:iso:std:iso:15118:-20:DC)",
    },
    SetSpec {
        folder: "iso15118-20",
        entry: "V2G_CI_AC.xsd",
        module: "iso20_ac",
        title: "ISO 15118-20 AC (urn:iso:std:iso:15118:-20:AC)",
    },
    SetSpec {
        folder: "iso15118-20",
        entry: "V2G_CI_WPT.xsd",
        module: "iso20_wpt",
        title: "ISO 15118-20 WPT (urn:iso:std:iso:15118:-20:WPT)",
    },
    SetSpec {
        folder: "iso15118-20",
        entry: "V2G_CI_ACDP.xsd",
        module: "iso20_acdp",
        title: "ISO 15118-20 ACDP (urn:iso:std:iso:15118:-20:ACDP)",
    },
];

/// Bits of an n-bit unsigned integer for `span + 1` values.
pub(crate) fn range_width(span: u64) -> u32 {
    if span == 0 {
        0
    } else {
        64 - span.leading_zeros()
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("codegen") => match codegen(&args[1..]) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("xtask codegen: {e:#}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!("usage: cargo xtask codegen [--check] [--schemas DIR]");
            ExitCode::from(2)
        }
    }
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn codegen(args: &[String]) -> Result<ExitCode> {
    let mut check = false;
    let mut schemas = workspace_root().join("../shared/schemas");
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--check" => check = true,
            "--schemas" => schemas = PathBuf::from(it.next().context("--schemas needs a DIR")?),
            other => bail!("unknown argument {other}"),
        }
    }
    let mut generator = Generator::new();
    for spec in SETS {
        let entry = schemas.join(spec.folder).join(spec.entry);
        let set = xsd::SchemaSet::load(&entry)?;
        generator
            .generate_set(&set, spec)
            .with_context(|| format!("generating {}", spec.module))?;
    }
    let out_dir = workspace_root().join("crates/ccs-msg/src/generated");
    let mut stale = Vec::new();
    for (name, text) in generator.files() {
        let formatted = rustfmt(&text).with_context(|| format!("formatting {name}"))?;
        let path = out_dir.join(&name);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current != formatted {
            if check {
                stale.push(name);
            } else {
                std::fs::create_dir_all(&out_dir)?;
                std::fs::write(&path, formatted)?;
                eprintln!("wrote {}", path.display());
            }
        }
    }
    if !stale.is_empty() {
        eprintln!(
            "generated code is stale ({}): run cargo xtask codegen and commit",
            stale.join(", ")
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn rustfmt(text: &str) -> Result<String> {
    use std::io::Write;
    let mut child = std::process::Command::new("rustfmt")
        .args(["--edition", "2024", "--config", "style_edition=2024"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("cannot run rustfmt")?;
    child
        .stdin
        .take()
        .context("rustfmt stdin")?
        .write_all(text.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        let dump = std::env::temp_dir().join("xtask-unformatted.rs");
        let _ = std::fs::write(&dump, text);
        bail!(
            "rustfmt failed (input in {}): {}",
            dump.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}
