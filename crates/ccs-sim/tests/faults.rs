//! The fault-injection suite: every case of `ccs_sim::faults::catalogue()` runs in the world
//! under the virtual clock and must show its expected reaction, a safe shutdown (current
//! down, contactors open, then unlock; never an open under load, an unlock while closed or an
//! unlock with 60 V or more at the inlet),
//! no hang (bounded virtual time and steps) and a reason that names whose fault it was.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use ccs_proto::session::{Outcome, Role, SessionError};
use ccs_sim::faults::{self, Blame, Expected, FaultRun, FaultSetup, audit::SafetyCommand};

fn run(name: &str) -> FaultRun {
    let case = faults::find(name).unwrap_or_else(|| panic!("{name} is not in the catalogue"));
    faults::run(&case, &FaultSetup::new(&case, 7), &mut |_, _| {}).unwrap()
}

fn failed_with(run: &FaultRun) -> &SessionError {
    match run.outcome() {
        Some(Outcome::Failed(e)) => e,
        other => panic!("{}: expected a failure, got {other:?}", run.case.name),
    }
}

#[test]
fn every_case_in_the_catalogue_shows_its_expected_reaction_safely_and_in_bounded_time() {
    let catalogue = faults::catalogue();
    assert!(catalogue.len() >= 80, "{} cases", catalogue.len());
    let mut bad = Vec::new();
    for case in &catalogue {
        let run = faults::run(case, &FaultSetup::new(case, 7), &mut |_, _| {}).unwrap();
        println!(
            "{:<48} {:>8.1}s  {}",
            case.name,
            run.ended_at.total_millis() as f64 / 1000.0,
            run.reason()
        );
        if let Err(problems) = run.check() {
            bad.push(format!("{}: {}", case.name, problems.join("; ")));
        }
    }
    assert!(
        bad.is_empty(),
        "{} cases failed:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn names_are_unique_and_pyplc_cases_keep_their_numbers() {
    let catalogue = faults::catalogue();
    let mut names: Vec<&str> = catalogue.iter().map(|c| c.name.as_str()).collect();
    let count = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), count, "duplicate names");
    for n in 1..=16 {
        let prefix = format!("pyplc-{n:02}-");
        assert_eq!(
            catalogue
                .iter()
                .filter(|c| c.name.starts_with(&prefix))
                .count(),
            1,
            "{prefix}"
        );
    }
    // Both roles are under test.
    assert!(catalogue.iter().any(|c| c.under_test == Role::Secc));
    assert!(catalogue.iter().any(|c| c.under_test == Role::Evcc));
}

#[test]
fn a_failed_cable_check_ends_with_the_charger_blamed_and_the_connector_unlocked() {
    let run = run("pyplc-02-cable-check-failed");
    let e = failed_with(&run);
    assert_eq!(Blame::of(e), Blame::PeerRefused);
    assert!(e.to_string().contains("FAILED"), "{e}");
    // The contactors never closed; the car went to CP state B and unlocked.
    assert!(!run.audit.contactors_ever_closed);
    let commands: Vec<SafetyCommand> = run.audit.steps.iter().map(|s| s.command).collect();
    assert_eq!(
        commands.last(),
        Some(&SafetyCommand::Unlock),
        "{commands:?}"
    );
    assert!(commands.contains(&SafetyCommand::CpStateB));
}

#[test]
fn a_malfunction_while_charging_opens_the_contactors_only_after_the_current_fell() {
    let run = run("pyplc-14-current-demand-evse-malfunction");
    assert_eq!(Blame::of(failed_with(&run)), Blame::PeerRefused);
    assert!(run.audit.contactors_ever_closed && run.audit.max_current > 10.0);
    let steps = &run.audit.steps;
    let open = steps
        .iter()
        .rposition(|s| s.command == SafetyCommand::OpenContactors)
        .unwrap();
    let unlock = steps
        .iter()
        .rposition(|s| s.command == SafetyCommand::Unlock)
        .unwrap();
    let cp_b = steps
        .iter()
        .rposition(|s| s.command == SafetyCommand::CpStateB)
        .unwrap();
    assert!(cp_b < open && open < unlock, "{steps:?}");
    assert!(steps[open].current < faults::audit::OPEN_UNDER_LOAD_LIMIT);
    assert!(!steps[unlock].contactors_closed);
    assert!(
        run.audit.violations.is_empty(),
        "{:?}",
        run.audit.violations
    );
}

#[test]
fn our_charger_answers_a_request_out_of_sequence_with_sequence_error_and_switches_off() {
    let run = run("car-sequence-error-current-demand");
    assert_eq!(Blame::of(failed_with(&run)), Blame::PeerMisbehaved);
    assert!(
        run.peer.received.iter().any(|o| o.name == "PreChargeRes"
            && o.response_code.as_deref() == Some("FAILED_SequenceError"))
    );
    // It was charging: the charger switched off and the car still opened only at low current.
    assert!(run.audit.contactors_ever_closed);
    assert!(
        run.audit.violations.is_empty(),
        "{:?}",
        run.audit.violations
    );
}

#[test]
fn a_car_that_goes_silent_is_timed_out_by_the_secc_sequence_timer() {
    let run = run("car-stalls-current-demand");
    assert_eq!(
        failed_with(&run),
        &SessionError::Timeout("V2G_SECC_Sequence_Timeout")
    );
    // 60 s after the last response, not much later.
    let charging = run
        .report
        .phase_at(
            ccs_sim::world::Side::Evse(0),
            ccs_proto::session::Phase::Charging,
        )
        .unwrap();
    let lasted = run
        .ended_at
        .saturating_duration_since(charging)
        .as_secs_f64();
    assert!((60.0..70.0).contains(&lasted), "{lasted}");
}

#[test]
fn losing_every_slac_parm_req_fails_the_link_and_powers_nothing() {
    let run = run("slac-lose-all-slac-parm-req");
    assert_eq!(run.case.expected, Expected::LinkFails);
    assert!(run.check().is_ok(), "{:?}", run.check());
    assert!(!run.audit.contactors_ever_closed);
    assert!(run.report.tcp_connected_at.is_none());
}

#[test]
fn an_oversize_announcement_closes_the_connection() {
    let run = run("oversize-from-charger");
    assert_eq!(Blame::of(failed_with(&run)), Blame::ConnectionLost);
    assert!(run.check().is_ok(), "{:?}", run.check());
}

#[test]
fn a_car_reporting_a_battery_fault_gets_evse_shutdown_and_no_more_current() {
    let run = run("car-error-current-demand");
    assert!(run.check().is_ok(), "{:?}", run.check());
    // The first CurrentDemandRes after the car's error (the 11th) says EVSE_Shutdown.
    let answers: Vec<_> = run
        .peer
        .received
        .iter()
        .filter(|o| o.name == "CurrentDemandRes")
        .collect();
    assert!(answers.len() > 10);
    assert!(
        answers[..10]
            .iter()
            .all(|o| o.evse_status.as_deref() == Some("EVSE_Ready"))
    );
    assert_eq!(answers[10].evse_status.as_deref(), Some("EVSE_Shutdown"));
}

#[test]
fn a_charger_whose_current_does_not_fall_is_reported_and_the_car_opens_but_stays_locked() {
    for name in [
        "charger-current-does-not-fall",
        "iso2-charger-current-does-not-fall",
        "iso20-charger-current-does-not-fall",
    ] {
        let run = run(name);
        let e = failed_with(&run);
        assert_eq!(Blame::of(e), Blame::Physical, "{name}");
        assert!(
            e.to_string()
                .contains("contactors opened under load: inlet current"),
            "{name}: {e}"
        );
        // CP state B, then (after current_fall_timeout, deliberately under load) open; the
        // stuck power stage keeps the inlet live, so the connector never unlocks.
        let steps = &run.audit.steps;
        let cp_b = steps
            .iter()
            .rposition(|s| s.command == SafetyCommand::CpStateB)
            .unwrap();
        let open = steps
            .iter()
            .rposition(|s| s.command == SafetyCommand::OpenContactors)
            .unwrap();
        assert!(cp_b < open, "{name}: {steps:?}");
        assert!(steps[open].current > 10.0, "{name}: {:?}", steps[open]);
        let waited = steps[open].at.saturating_duration_since(steps[cp_b].at);
        assert_eq!(waited.total_millis(), 300, "{name}");
        assert!(
            !steps.iter().any(|s| s.command == SafetyCommand::Unlock),
            "{name}: unlocked onto the live output: {steps:?}"
        );
        assert!(run.check().is_ok(), "{name}: {:?}", run.check());
    }
}

#[test]
fn an_iso20_charger_stopped_before_power_flows_refuses_the_next_request_and_ends_stopped() {
    let run = run("iso20-charger-stop-cable-check");
    assert!(run.session_completed(), "{}", run.reason());
    // The car got FAILED in the response to its next request, and nothing was ever powered.
    assert!(
        run.report.ev_outcome.as_ref().is_some_and(|o| matches!(
            o,
            Outcome::Failed(SessionError::PeerRefused(why)) if why.contains("FAILED")
        )),
        "{:?}",
        run.report.ev_outcome
    );
    assert!(!run.audit.contactors_ever_closed);
    assert!(
        run.audit.violations.is_empty(),
        "{:?}",
        run.audit.violations
    );
}
