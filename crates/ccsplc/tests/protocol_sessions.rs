//! `ccsplc ev` against `ccsplc evse` with ISO 15118-2 and ISO 15118-20: two processes in two
//! network namespaces joined by a veth pair (`--no-slac`), each with its simulated hardware,
//! configured only through their TOML files and `--protocol`, as a user runs them.
//!
//! Checked: the negotiated protocol and TLS version, the payment (external identification,
//! or Plug & Charge with the contract from `[iso2]`), the charge loop, and that both sides
//! report a completed session. The test PKIs come from `scripts/make-test-pki.sh`.
//!
//! Needs root (namespaces) and the openssl command.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use ccs_testdata::{PkiProfile, make_test_pki};
use common::{
    Proc, SESSION_LIMIT, TwoHosts, assert_both_complete, spawn_ev, spawn_evse,
    spawn_evse_until_stopped,
};

/// What both processes printed, once both have ended.
struct Ran {
    ev: String,
    evse: String,
}

impl Ran {
    fn both(&self) -> String {
        format!("--- ev:\n{}\n--- evse:\n{}", self.ev, self.evse)
    }

    fn assert_ev_shows(&self, needle: &str) {
        assert!(self.ev.contains(needle), "no {needle:?}:\n{}", self.both());
    }
}

/// Writes `toml` to `dir/name` and returns the path.
fn write_config(dir: &Path, name: &str, toml: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, toml).unwrap();
    path
}

/// Runs `evse --once` and `ev --charge-seconds 3` with `protocol` and the two configurations;
/// asserts that both completed.
fn run_pair(dir: &Path, protocol: &str, evse_toml: &str, ev_toml: &str) -> Ran {
    let hosts = TwoHosts::new().with_veth();
    let evse_config = write_config(dir, "evse.toml", evse_toml);
    let ev_config = write_config(dir, "ev.toml", ev_toml);
    let mut evse = spawn_evse(&hosts, dir, Some(&evse_config), &["--protocol", protocol]);
    let mut ev = spawn_ev(
        &hosts,
        dir,
        Some(&ev_config),
        &["--charge-seconds", "3", "--protocol", protocol],
    );
    assert_both_complete(&mut ev, &mut evse, SESSION_LIMIT);
    let ran = Ran {
        ev: ev.output(),
        evse: evse.output(),
    };
    assert!(
        ran.ev.contains("Result: session completed"),
        "{}",
        ran.both()
    );
    assert!(
        ran.evse.contains("Result: 1 session(s), all completed"),
        "{}",
        ran.both()
    );
    ran
}

/// Runs `ev --charge-seconds 2 --protocol protocol` with `config` in `dir/name` against a
/// charger that keeps serving; asserts the car completed and returns what it printed.
fn run_car(
    hosts: &TwoHosts,
    evse: &Proc,
    dir: &Path,
    name: &str,
    protocol: &str,
    config: &Path,
) -> String {
    let run = dir.join(name);
    std::fs::create_dir_all(&run).unwrap();
    let mut ev = spawn_ev(
        hosts,
        &run,
        Some(config),
        &["--charge-seconds", "2", "--protocol", protocol],
    );
    let code = ev.wait_for(SESSION_LIMIT);
    let out = ev.output();
    assert_eq!(
        code,
        Some(0),
        "{name}:\n{out}\n--- evse:\n{}",
        evse.output()
    );
    out
}

/// Stops a charger that kept serving (SIGINT) and asserts it completed `sessions` sessions.
fn stop_serving(mut evse: Proc, sessions: usize) {
    evse.signal("-INT");
    let code = evse.wait_for(Duration::from_secs(15));
    let out = evse.output();
    assert_eq!(code, Some(0), "{out}");
    let result = format!("Result: {sessions} session(s), all completed");
    assert!(out.contains(&result), "{out}");
}

#[test]
fn iso2_with_external_identification_over_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let ran = run_pair(dir.path(), "iso2", "", "");
    ran.assert_ev_shows("protocol ISO 15118-2 (SchemaID 2)");
    ran.assert_ev_shows("-> PaymentServiceSelectionReq ExternalPayment");
    ran.assert_ev_shows("-> CurrentDemandReq");
    assert!(!ran.ev.contains("TLSv1"), "{}", ran.both());
}

#[test]
fn iso2_plug_and_charge_over_tls_1_2_with_the_contract_of_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    std::fs::create_dir(&pki).unwrap();
    make_test_pki(&pki, PkiProfile::Iso15118_2);
    let p = |name: &str| pki.join(name).to_str().unwrap().to_owned();
    let evse = format!(
        "[tls]\nmode = \"required\"\ncertificate_chain = {:?}\nprivate_key = {:?}\n\
         [iso2]\ncontract_roots = {:?}\nreceipt_required = true\n",
        p("secc_chain.pem"),
        p("secc.key"),
        p("mo_root.pem"),
    );
    let ev = format!(
        "[tls]\nmode = \"required\"\ntrust_anchors = {:?}\n\
         [iso2]\nplug_and_charge = true\ncontract_chain = {:?}\ncontract_key = {:?}\n",
        p("v2g_root.pem"),
        p("contract_chain.pem"),
        p("contract.key"),
    );
    let ran = run_pair(dir.path(), "iso2", &evse, &ev);
    ran.assert_ev_shows("TLSv1.2 ECDHE-ECDSA-AES128-SHA256");
    ran.assert_ev_shows("-> PaymentServiceSelectionReq Contract");
    // The eMAID is the contract certificate's CommonName (make-test-pki.sh's default).
    ran.assert_ev_shows("-> PaymentDetailsReq eMAID=DEPNXC000000001");
    ran.assert_ev_shows("<- AuthorizationRes OK Finished");
    // The charger asked for a signed receipt and accepted it.
    ran.assert_ev_shows("<- MeteringReceiptRes OK");
}

/// The ISO 15118-20 TLS settings: the charger's SECC certificate, and the car's OEM
/// provisioning certificate for mutual authentication.
fn iso20_tls(pki: &Path) -> (String, String) {
    let p = |name: &str| pki.join(name).to_str().unwrap().to_owned();
    let evse = format!(
        "[tls]\nmode = \"required\"\ncertificate_chain = {:?}\nprivate_key = {:?}\n\
         client_ca = {:?}\n",
        p("secc_chain.pem"),
        p("secc.key"),
        p("oem_root.pem"),
    );
    let ev = format!(
        "[tls]\nmode = \"required\"\ntrust_anchors = {:?}\ncertificate_chain = {:?}\n\
         private_key = {:?}\n",
        p("v2g_root.pem"),
        p("oem_prov_chain.pem"),
        p("oem_prov.key"),
    );
    (evse, ev)
}

#[test]
fn iso20_over_tls_1_3_with_mutual_authentication_dc_with_plug_and_charge_bpt_dynamic() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    std::fs::create_dir(&pki).unwrap();
    make_test_pki(&pki, PkiProfile::Iso15118_20);
    let (evse_tls, ev_tls) = iso20_tls(&pki);
    let p = |name: &str| pki.join(name).to_str().unwrap().to_owned();
    // DC: Plug & Charge with the contract of [iso20], checked against the MO root.
    let evse = format!(
        "{evse_tls}[iso20]\ncontract_roots = {:?}\n",
        p("mo_root.pem")
    );
    let ev = format!(
        "{ev_tls}[iso20]\nplug_and_charge = true\ncontract_chain = {:?}\ncontract_key = {:?}\n",
        p("contract_chain.pem"),
        p("contract.key"),
    );
    let run = dir.path().join("dc");
    std::fs::create_dir(&run).unwrap();
    let ran = run_pair(&run, "iso20-dc", &evse, &ev);
    ran.assert_ev_shows("TLSv1.3 TLS_AES_256_GCM_SHA384");
    ran.assert_ev_shows("protocol ISO 15118-20 DC (SchemaID");
    ran.assert_ev_shows("<- AuthorizationSetupRes OK services=[EIM, PnC]");
    ran.assert_ev_shows("-> AuthorizationReq PnC");
    ran.assert_ev_shows("<- AuthorizationRes OK Finished");
    ran.assert_ev_shows("-> DC_ChargeLoopReq");
    ran.assert_ev_shows("<- DC_ChargeLoopRes OK");
    ran.assert_ev_shows("-> DC_WeldingDetectionReq");

    // DC_BPT: external identification, the charger decides the power (dynamic mode).
    let ev = format!("{ev_tls}[iso20]\ncontrol_mode = \"dynamic\"\n");
    let run = dir.path().join("bpt");
    std::fs::create_dir(&run).unwrap();
    let ran = run_pair(&run, "iso20-bpt", &evse_tls, &ev);
    ran.assert_ev_shows("protocol ISO 15118-20 DC_BPT");
    ran.assert_ev_shows("-> AuthorizationReq EIM");
    ran.assert_ev_shows("-> ServiceSelectionReq ServiceID=6 ParameterSetID=2");
    ran.assert_ev_shows("-> DC_ChargeLoopReq");
}

#[test]
fn a_car_that_paused_rejoins_its_session_on_its_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let hosts = TwoHosts::new().with_veth();
    let paused = dir.path().join("paused-session");
    let ev_config = write_config(
        dir.path(),
        "ev.toml",
        &format!("[iso2]\npause_instead_of_terminate = true\npaused_session_file = {paused:?}\n"),
    );
    let evse = spawn_evse_until_stopped(&hosts, dir.path(), None, &["--protocol", "iso2"]);
    let run_car = |name| run_car(&hosts, &evse, dir.path(), name, "iso2", &ev_config);
    let first = run_car("first");
    assert!(
        first.contains("<- SessionSetupRes OK_NewSessionEstablished"),
        "{first}"
    );
    let kept = std::fs::read_to_string(&paused).expect("the paused SessionID was kept");
    let id = kept.trim().to_owned();
    assert_eq!(id.len(), 16, "{kept:?}");
    assert!(
        first.contains(&format!("SessionID {id} kept in")),
        "{first}"
    );

    // The next run reads the file (and removes it) and rejoins: the charger knows the ID.
    let second = run_car("second");
    assert!(
        second.contains("<- SessionSetupRes OK_OldSessionJoined"),
        "{second}"
    );
    // It paused again, under the same SessionID.
    assert_eq!(std::fs::read_to_string(&paused).unwrap().trim(), id);

    stop_serving(evse, 2);
}

#[test]
fn a_charger_offering_both_standards_serves_each_car_its_own_tls_version_and_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = |name: &str, profile| {
        let d = dir.path().join(name);
        std::fs::create_dir(&d).unwrap();
        make_test_pki(&d, profile);
        move |file: &str| d.join(file).to_str().unwrap().to_owned()
    };
    let (iso2, iso20) = (
        pki("pki2", PkiProfile::Iso15118_2),
        pki("pki20", PkiProfile::Iso15118_20),
    );
    // One charger, two PKIs: secp256r1 for ISO 15118-2 cars, secp521r1 for ISO 15118-20 ones,
    // mutual authentication for the latter only.
    let evse_config = write_config(
        dir.path(),
        "evse.toml",
        &format!(
            "[tls]\nmode = \"required\"\ncertificate_chain = {:?}\nprivate_key = {:?}\n\
             iso20_certificate_chain = {:?}\niso20_private_key = {:?}\nclient_ca = {:?}\n\
             [iso2]\ncontract_roots = {:?}\n[iso20]\ncontract_roots = {:?}\n",
            iso2("secc_chain.pem"),
            iso2("secc.key"),
            iso20("secc_chain.pem"),
            iso20("secc.key"),
            iso20("oem_root.pem"),
            iso2("mo_root.pem"),
            iso20("mo_root.pem"),
        ),
    );
    let hosts = TwoHosts::new().with_veth();
    let evse = spawn_evse_until_stopped(
        &hosts,
        dir.path(),
        Some(&evse_config),
        &["--protocol", "iso20-dc", "--protocol", "iso2"],
    );
    let run_car = |name: &str, protocol, toml: String| {
        let config = write_config(dir.path(), &format!("{name}.toml"), &toml);
        run_car(&hosts, &evse, dir.path(), name, protocol, &config)
    };
    // An ISO 15118-2 car trusts only the secp256r1 root and has no certificate of its own.
    let car2 = run_car(
        "iso2",
        "iso2",
        format!(
            "[tls]\nmode = \"required\"\ntrust_anchors = {:?}\n\
             [iso2]\nplug_and_charge = true\ncontract_chain = {:?}\ncontract_key = {:?}\n",
            iso2("v2g_root.pem"),
            iso2("contract_chain.pem"),
            iso2("contract.key"),
        ),
    );
    assert!(car2.contains("TLSv1.2 ECDHE-ECDSA-AES128-SHA256"), "{car2}");
    assert!(car2.contains("<- AuthorizationRes OK Finished"), "{car2}");
    // An ISO 15118-20 car trusts only the secp521r1 root and authenticates itself.
    let car20 = run_car(
        "iso20",
        "iso20-dc",
        format!(
            "[tls]\nmode = \"required\"\ntrust_anchors = {:?}\ncertificate_chain = {:?}\n\
             private_key = {:?}\n\
             [iso20]\nplug_and_charge = true\ncontract_chain = {:?}\ncontract_key = {:?}\n",
            iso20("v2g_root.pem"),
            iso20("oem_prov_chain.pem"),
            iso20("oem_prov.key"),
            iso20("contract_chain.pem"),
            iso20("contract.key"),
        ),
    );
    assert!(car20.contains("TLSv1.3 TLS_AES_256_GCM_SHA384"), "{car20}");
    assert!(
        car20.contains("protocol ISO 15118-20 DC (SchemaID"),
        "{car20}"
    );
    assert!(car20.contains("-> AuthorizationReq PnC"), "{car20}");

    stop_serving(evse, 2);
}
