//! `ccsplc sim [--protocol P] --fault NAME` and `--list-faults`: one case of the fault catalogue
//! (`ccs_sim::faults`) in the simulated world, shown live like a normal run, then a summary
//! that names the fault, the reaction of the session under test, whether that was the expected
//! one, and the safety audit of the shutdown. Exit 0 when the session under test rode through
//! the fault (or stopped normally), 1 when it failed (safely or not), 2 for an unknown name.

use std::process::ExitCode;

use ccs_proto::session::{Protocol, Role};
use ccs_sim::faults::{self, FaultCase, FaultRun, FaultSetup};

use super::{Display, EXIT_FAILED};

/// Exit code for a fault name that is not in the catalogue (a usage error).
const EXIT_UNKNOWN_FAULT: u8 = 2;

/// `--list-faults`: one line per case, name and description (which names the protocol for
/// the ISO 15118-2 and -20 cases).
pub(super) fn list() -> ExitCode {
    let catalogue = faults::catalogue();
    let width = catalogue.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for case in &catalogue {
        println!("{:<width$}  {}", case.name, case.description);
    }
    ExitCode::SUCCESS
}

/// The session protocol of a `--protocol` value.
pub(super) fn protocol(p: crate::cli::Protocol) -> Protocol {
    match p {
        crate::cli::Protocol::Din => Protocol::Din70121,
        crate::cli::Protocol::Iso2 => Protocol::Iso15118_2,
        crate::cli::Protocol::Iso20Dc => Protocol::Iso15118_20Dc,
        crate::cli::Protocol::Iso20Bpt => Protocol::Iso15118_20DcBpt,
    }
}

/// `--fault NAME` with the world's `seed`; with `--protocol`, the case of that protocol.
pub(super) fn run(name: &str, protocol: Option<Protocol>, seed: u64) -> anyhow::Result<ExitCode> {
    let found = match protocol {
        Some(protocol) => faults::find_for(protocol, name),
        None => faults::find(name),
    };
    let Some(case) = found else {
        let with = protocol.map_or(String::new(), |p| format!(" for {p}"));
        eprintln!(
            "ccsplc sim: unknown fault {name:?}{with}; `ccsplc sim --list-faults` lists them"
        );
        return Ok(ExitCode::from(EXIT_UNKNOWN_FAULT));
    };
    println!(
        "ccsplc sim: fault {} ({}), {}, seed {seed}",
        case.name, case.description, case.protocol
    );
    let mut display = Display::default();
    let run = faults::run(&case, &FaultSetup::new(&case, seed), &mut |world, event| {
        if let Some(line) = display.line(world, event) {
            println!("{line}");
        }
    })?;
    println!("{}", summary(&case, &run));
    Ok(if run.session_completed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    })
}

fn summary(case: &FaultCase, run: &FaultRun) -> String {
    let under_test = match case.under_test {
        Role::Evcc => "car",
        Role::Secc => "charger",
    };
    let mut out = String::from("\nFault summary\n");
    let mut line = |k: &str, v: String| out.push_str(&format!("  {k:<12} {v}\n"));
    line("fault", format!("{}: {}", case.name, case.description));
    line("under test", format!("our {under_test}"));
    line(
        "injected",
        if run.injected { "yes" } else { "no" }.to_owned(),
    );
    line("reason", run.reason());
    line(
        "safety",
        if run.audit.violations.is_empty() {
            "ok: current down, contactors open, then unlock".to_owned()
        } else if case.expects_open_under_load {
            format!(
                "the charger's fault, as this case makes it: {}",
                run.audit.violations.join("; ")
            )
        } else {
            run.audit.violations.join("; ")
        },
    );
    line(
        "expected",
        match run.check() {
            Ok(()) => format!("{:?}: as expected", case.expected),
            Err(problems) => format!(
                "{:?}: NOT as expected: {}",
                case.expected,
                problems.join("; ")
            ),
        },
    );
    out.push_str(&format!(
        "\nResult: {}",
        if run.session_completed() {
            "session rode through the fault"
        } else {
            "session failed"
        }
    ));
    out
}
