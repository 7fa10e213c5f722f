//! Loading whole files: pyPLC's template, its TOML twin, and every kind of bad file.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::*;

/// A file with `text` and name `name` in a fresh directory (kept alive by the guard).
fn file(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    (dir, path)
}

fn load(name: &str, text: &str) -> Result<Loaded, ConfigError> {
    let (_dir, path) = file(name, text);
    Config::load(Some(&path))
}

fn template() -> PathBuf {
    ccs_testdata::shared_path("vectors/pyPlc.ini.template")
}

fn template_twin() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pyplc-template.toml")
}

/// The line of `key = ` in `text`, 1-based.
fn line_of_key(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| l.starts_with(&format!("{key} =")))
        .unwrap()
        + 1
}

fn invalid(result: Result<Loaded, ConfigError>) -> (Option<usize>, String, String, String) {
    match result {
        Err(ConfigError::InvalidValue {
            line,
            key,
            value,
            allowed,
            ..
        }) => (line, key, value, allowed),
        other => panic!("expected InvalidValue, got {other:?}"),
    }
}

#[test]
fn no_file_means_every_default() {
    let loaded = Config::load(None).unwrap();
    assert_eq!(loaded.config, Config::default());
    assert!(loaded.origins.is_empty() && loaded.warnings.is_empty());
    assert_eq!(loaded.origin("general", "mode"), &Origin::Default);
}

#[test]
fn the_pyplc_template_loads_without_warnings_and_every_key_is_understood() {
    let loaded = Config::load(Some(&template())).unwrap();
    assert_eq!(loaded.format, Some(Format::PyPlcIni));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let text = std::fs::read_to_string(template()).unwrap();
    let template_keys: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains('='))
        .map(|l| l.split('=').next().unwrap().trim().to_owned())
        .collect();
    assert_eq!(template_keys.len(), 35, "pyPLC's template has 35 keys");
    for key in &template_keys {
        let used = loaded
            .origins
            .values()
            .any(|o| matches!(o, Origin::File { key: k, .. } if k == key));
        let ignored = loaded.ignored.iter().any(|i| &i.key == key);
        assert!(used != ignored, "{key}: used {used}, ignored {ignored}");
    }
    let c = &loaded.config;
    assert_eq!(c.general.mode, Mode::Ev);
    assert_eq!(c.general.interface, "eth0");
    assert_eq!(
        c.hardware.digital_output_device,
        DigitalOutputDevice::Dieter
    );
    assert!(c.hardware.display_via_serial);
    assert_eq!(c.charging.target_voltage, 270.0);
    assert_eq!(c.session.precharge_delta_max, 10.0);
    assert_eq!(c.soc_callback.fallback_energy_capacity, 27_000);
    assert_eq!(c.listen.smart_listener, SmartListener::Join);
    assert!(c.capture.udp_syslog);
    assert_eq!(
        loaded.origin("general", "interface"),
        &Origin::File {
            line: line_of_key(&text, "eth_interface"),
            key: "eth_interface".into(),
            value: "eth0".into(),
        }
    );
}

#[test]
fn the_template_and_its_toml_twin_give_the_same_config() {
    let ini = Config::load(Some(&template())).unwrap();
    let toml = Config::load(Some(&template_twin())).unwrap();
    assert_eq!(toml.format, Some(Format::Toml));
    assert!(toml.warnings.is_empty(), "{:?}", toml.warnings);
    assert_eq!(ini.config, toml.config);
    // And the template is not just the defaults: the comparison above means something.
    assert_ne!(ini.config, Config::default());
}

#[test]
fn missing_keys_take_their_defaults() {
    let loaded = load("a.ini", "[general]\nmode = EvseMode\n").unwrap();
    let mut wanted = Config::default();
    wanted.general.mode = Mode::Evse;
    assert_eq!(loaded.config, wanted);
    assert_eq!(loaded.origins.len(), 1);
}

#[test]
fn ini_booleans_take_every_configparser_spelling() {
    for (text, wanted) in [("YES", true), ("off", false), ("1", true), ("False", false)] {
        let loaded = load("a.ini", &format!("[general]\nsoc_simulation = {text}\n")).unwrap();
        assert_eq!(loaded.config.charging.soc_simulation, wanted, "{text}");
    }
}

#[test]
fn a_bad_ini_boolean_names_line_key_and_the_spellings() {
    let (line, key, value, allowed) = invalid(load(
        "a.ini",
        "[general]\nmode = PevMode\n\nSOC_Simulation = maybe\n",
    ));
    assert_eq!(line, Some(4));
    assert_eq!(key, "SOC_Simulation");
    assert_eq!(value, "maybe");
    assert!(
        allowed.contains("yes/no") && allowed.contains("1/0"),
        "{allowed}"
    );
}

#[test]
fn a_bad_ini_number_names_line_and_key() {
    let (line, key, _, allowed) = invalid(load("a.ini", "[general]\nserial_baud = fast\n"));
    assert_eq!((line, key.as_str()), (Some(2), "serial_baud"));
    assert!(allowed.contains("whole number"), "{allowed}");
    let (line, key, _, allowed) = invalid(load("a.ini", "[general]\nserial_baud = -5\n"));
    assert_eq!((line, key.as_str()), (Some(2), "serial_baud"));
    assert!(allowed.contains("from 0 to 4294967295"), "{allowed}");
}

#[test]
fn a_bad_ini_device_lists_the_allowed_ones() {
    let (line, key, value, allowed) = invalid(load(
        "a.ini",
        "[general]\ndigital_output_device = arduino\n",
    ));
    assert_eq!(
        (line, key.as_str(), value.as_str()),
        (Some(2), "digital_output_device", "arduino")
    );
    for name in ["none", "dieter", "beaglebone", "celeron55device", "mqtt"] {
        assert!(allowed.contains(name), "{allowed}");
    }
    // pyPLC's names in another case are accepted.
    let loaded = load("a.ini", "[general]\ndigital_output_device = MQTT\n").unwrap();
    assert_eq!(
        loaded.config.hardware.digital_output_device,
        DigitalOutputDevice::Mqtt
    );
}

#[test]
fn unknown_ini_keys_and_sections_are_warnings_with_their_line() {
    let loaded = load(
        "a.ini",
        "[general]\nmode = PevMode\nfoo = 1\n[extra]\nbar = 2\n",
    )
    .unwrap();
    let messages: Vec<(Option<usize>, &str)> = loaded
        .warnings
        .iter()
        .map(|w| (w.line, w.message.as_str()))
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(messages[0].0, Some(4));
    assert!(messages[0].1.contains("[extra]"));
    assert_eq!(messages[1].0, Some(3));
    assert!(messages[1].1.contains("`foo`"));
    assert_eq!(loaded.config.general.mode, Mode::Ev);
}

#[test]
fn pyplc_mode_texts_other_than_its_names_mean_listen_with_a_warning() {
    let loaded = load("a.ini", "[general]\nmode = CarMode\n").unwrap();
    assert_eq!(loaded.config.general.mode, Mode::Listen);
    assert_eq!(loaded.warnings.len(), 1);
    assert!(loaded.warnings[0].message.contains("CarMode"));
    let loaded = load("a.ini", "[general]\nmode = ListenMode\n").unwrap();
    assert!(loaded.warnings.is_empty());
}

#[test]
fn a_true_is_simulation_without_modems_is_ignored_with_a_warning() {
    let loaded = load("a.ini", "[general]\nis_simulation_without_modems = true\n").unwrap();
    assert!(!loaded.config.general.no_modem);
    assert_eq!(loaded.ignored.len(), 1);
    assert_eq!(loaded.warnings.len(), 1);
    assert_eq!(loaded.warnings[0].line, Some(2));
}

#[test]
fn quoted_ini_values_and_a_misspelt_general_are_pointed_out() {
    let loaded = load("a.ini", "[general]\neth_interface = \"eth1\"\n").unwrap();
    assert_eq!(loaded.config.general.interface, "\"eth1\"");
    assert_eq!(loaded.warnings.len(), 1);
    assert!(loaded.warnings[0].message.contains("quotes"));
    let loaded = load("a.ini", "[General]\nmode = PevMode\n").unwrap();
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.message.contains("case-sensitive")),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn default_section_keys_apply_unless_general_sets_them() {
    let loaded = load(
        "a.ini",
        "[DEFAULT]\nserial_baud = 9600\nmqtt_topic = d\n[general]\nmqtt_topic = g\n",
    )
    .unwrap();
    assert_eq!(loaded.config.serial.baud, 9600);
    assert_eq!(loaded.config.mqtt.topic, "g");
    assert!(loaded.warnings.is_empty());
}

#[test]
fn an_ini_without_general_is_all_defaults_with_a_warning() {
    let loaded = load("a.ini", "[other]\nmode = PevMode\n").unwrap();
    assert_eq!(loaded.config, Config::default());
    assert_eq!(loaded.warnings.len(), 2);
}

#[test]
fn ini_syntax_errors_name_the_line() {
    match load("a.ini", "[general]\nmode = PevMode\nmode = EvseMode\n") {
        Err(ConfigError::Syntax { line, message, .. }) => {
            assert_eq!(line, 3);
            assert!(message.contains("mode"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_unreadable_file_is_a_read_error_naming_it() {
    let missing = Path::new("/nonexistent/ccsplc/pyPlc.ini");
    match Config::load(Some(missing)) {
        Err(e @ ConfigError::Read { .. }) => {
            assert!(
                e.to_string().contains("/nonexistent/ccsplc/pyPlc.ini"),
                "{e}"
            );
        }
        other => panic!("{other:?}"),
    }
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        Config::load(Some(dir.path())),
        Err(ConfigError::Read { .. })
    ));
}

#[test]
fn a_bad_toml_value_names_line_key_and_what_is_allowed() {
    let text = "[general]\nmode = \"ev\"\n\n[mqtt]\nport = 70000\n";
    let (line, key, value, allowed) = invalid(load("c.toml", text));
    assert_eq!(
        (line, key.as_str(), value.as_str()),
        (Some(5), "mqtt.port", "70000")
    );
    assert!(allowed.contains("from 0 to 65535"), "{allowed}");

    let (line, key, _, allowed) = invalid(load("c.toml", "[general]\nmode = \"car\"\n"));
    assert_eq!((line, key.as_str()), (Some(2), "general.mode"));
    assert!(
        allowed.contains("`ev`") && allowed.contains("`listen`"),
        "{allowed}"
    );

    let (line, key, _, allowed) = invalid(load("c.toml", "[sdp]\nresponse_timeout = \"soon\"\n"));
    assert_eq!((line, key.as_str()), (Some(2), "sdp.response_timeout"));
    assert!(allowed.contains("400ms"), "{allowed}");

    let (line, key, _, allowed) = invalid(load("c.toml", "[charging]\nsoc_simulation = \"yes\"\n"));
    assert_eq!((line, key.as_str()), (Some(2), "charging.soc_simulation"));
    assert!(allowed.contains("bool"), "{allowed}");
}

#[test]
fn toml_values_of_every_shape_load() {
    let text = r#"
[session]
protocols = ["iso2", "din"]
V2G_EVCC_Msg_Timeout = "2s"
precharge_delta_max = 5.5
[slac]
TT_match_sequence = 450
C_EV_match_retry = 3
[general]
rng_seed = 7
"#;
    let loaded = load("c.toml", text).unwrap();
    let c = &loaded.config;
    assert_eq!(c.session.protocols, vec![Protocol::Iso2, Protocol::Din]);
    assert_eq!(c.session.v2g_evcc_msg_timeout, Some(Duration::from_secs(2)));
    assert_eq!(c.session.precharge_delta_max, 5.5);
    assert_eq!(c.slac.tt_match_sequence, Some(Duration::from_millis(450)));
    assert_eq!(c.slac.c_ev_match_retry, Some(3));
    assert_eq!(c.general.rng_seed, Some(7));
    assert_eq!(
        loaded.origin("slac", "TT_match_sequence"),
        &Origin::File {
            line: 7,
            key: "slac.TT_match_sequence".into(),
            value: "450".into()
        }
    );
}

#[test]
fn unknown_toml_keys_are_warnings_with_a_hint() {
    let text = "[general]\neth_interface = \"eth1\"\nMode = \"ev\"\nport = 1\n[slac]\ntt_match_sequence = 1\n[gneral]\n";
    let loaded = load("c.toml", text).unwrap();
    let w: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(w.len(), 5, "{w:#?}");
    let find = |needle: &str| {
        w.iter()
            .find(|m| m.contains(needle))
            .unwrap_or_else(|| panic!("no warning with {needle}: {w:#?}"))
    };
    assert!(
        find("`eth_interface`").contains("line 2")
            && find("`eth_interface`").contains("`interface`")
    );
    assert!(find("`Mode`").contains("did you mean `mode`"));
    assert!(find("`port`").contains("[mqtt]"));
    assert!(find("`tt_match_sequence`").contains("`TT_match_sequence`"));
    assert!(find("[gneral]").contains("line 7"));
    assert_eq!(loaded.config, Config::default());
}

#[test]
fn a_toml_syntax_error_names_the_line() {
    match load("c.toml", "[general]\nmode = \"ev\"\ninterface = \n") {
        Err(ConfigError::Syntax { line, .. }) => assert_eq!(line, 3),
        other => panic!("{other:?}"),
    }
}

#[test]
fn limits_between_settings_blame_the_setting_from_the_file() {
    let (line, key, value, allowed) =
        invalid(load("a.ini", "[general]\ncharge_target_voltage = 450\n"));
    assert_eq!(
        (line, key.as_str(), value.as_str()),
        (Some(2), "charge_target_voltage", "450")
    );
    assert!(allowed.contains("max_voltage"), "{allowed}");

    let (line, key, _, _) = invalid(load("c.toml", "[charging]\nmax_voltage = 200\n"));
    assert_eq!((line, key.as_str()), (Some(2), "charging.max_voltage"));

    let (line, key, _, allowed) = invalid(load(
        "a.ini",
        "[general]\nu_delta_max_for_end_of_precharge = 100\n",
    ));
    assert_eq!(
        (line, key.as_str()),
        (Some(2), "u_delta_max_for_end_of_precharge")
    );
    assert!(allowed.contains("50 V"), "{allowed}");

    let (_, key, _, _) = invalid(load(
        "c.toml",
        "[session]\nprotocols = [\"din\", \"din\"]\n",
    ));
    assert_eq!(key, "session.protocols");
    let (_, key, _, _) = invalid(load("c.toml", "[soc_callback]\nenabled = true\n"));
    assert_eq!(key, "soc_callback.enabled");
    let (_, key, _, _) = invalid(load("c.toml", "[charging]\nfull_soc = 101\n"));
    assert_eq!(key, "charging.full_soc");
}

#[test]
fn protocol_limits_are_enforced_with_their_reason() {
    let (_, key, _, allowed) = invalid(load("c.toml", "[sdp]\nresponse_timeout = 100\n"));
    assert_eq!(key, "sdp.response_timeout");
    assert!(allowed.contains("[V2G2-159]"), "{allowed}");
    let (_, key, _, allowed) = invalid(load("c.toml", "[sdp]\ntcp_port = 15118\n"));
    assert_eq!(key, "sdp.tcp_port");
    assert!(allowed.contains("49152"), "{allowed}");
    let (_, key, _, _) = invalid(load("c.toml", "[slac]\nTT_EVSE_match_MNBC = \"650ms\"\n"));
    assert_eq!(key, "slac.TT_EVSE_match_MNBC");
    assert!(load("c.toml", "[slac]\nTT_EVSE_match_MNBC = \"1s\"\n").is_ok());
}

#[test]
fn a_zero_can_receive_timeout_is_refused() {
    let (line, key, value, allowed) = invalid(load("c.toml", "[can]\nrx_timeout = \"0s\"\n"));
    assert_eq!((line, key.as_str()), (Some(2), "can.rx_timeout"));
    assert_eq!(value, "\"0s\"");
    assert!(allowed.contains("more than 0ms"), "{allowed}");
    assert!(load("c.toml", "[can]\nrx_timeout = \"200ms\"\n").is_ok());
}

#[test]
fn a_byte_order_mark_does_not_hide_the_first_section() {
    let loaded = load("a.ini", "\u{feff}[general]\nmode = EvseMode\n").unwrap();
    assert_eq!(loaded.config.general.mode, Mode::Evse);
}

#[test]
fn command_line_options_win_over_the_file_and_say_so() {
    use clap::Parser as _;

    let (_dir, path) = file("a.ini", "[general]\neth_interface = eth1\nmode = PevMode\n");
    let mut loaded = Config::load(Some(&path)).unwrap();
    let cli = crate::cli::Cli::try_parse_from([
        "ccsplc",
        "ev",
        "--interface",
        "ev0",
        "--protocol",
        "iso2",
        "--protocol",
        "din",
        "--no-slac",
        "--charge-seconds",
        "30",
    ])
    .unwrap();
    let crate::cli::Command::Ev(args) = cli.command else {
        panic!("not ev");
    };
    loaded.apply_command_line(&args.common);
    let c = &loaded.config;
    assert_eq!(c.general.interface, "ev0");
    assert_eq!(c.session.protocols, vec![Protocol::Iso2, Protocol::Din]);
    assert!(c.general.no_slac && !c.general.no_modem);
    assert_eq!(c.charging.charge_duration, Some(Duration::from_secs(30)));
    assert_eq!(
        loaded.origin("general", "interface"),
        &Origin::CommandLine {
            option: "--interface"
        }
    );
    // What the command line does not touch keeps its origin.
    assert!(matches!(
        loaded.origin("general", "mode"),
        Origin::File { line: 3, .. }
    ));
    assert_eq!(loaded.origin("web", "address"), &Origin::Default);
}

#[test]
fn the_tls_profile_follows_every_offered_protocol_not_only_the_first() {
    use ccs_linux::tls::TlsProfile;
    let profile = |protocols: &str| {
        let text = format!("[session]\nprotocols = {protocols}\n");
        load("c.toml", &text).unwrap().config.tls_profile()
    };
    assert_eq!(profile(r#"["din", "iso2"]"#), TlsProfile::Iso15118_2);
    assert_eq!(profile(r#"["iso20-bpt", "din"]"#), TlsProfile::Iso15118_20);
    // Both standards, in either order: TLS 1.3 or TLS 1.2 per connection, as the car offers.
    assert_eq!(
        profile(r#"["iso20-dc", "iso2"]"#),
        TlsProfile::Iso15118_2Or20
    );
    assert_eq!(
        profile(r#"["din", "iso2", "iso20-dc"]"#),
        TlsProfile::Iso15118_2Or20
    );
}

/// The charger's SECC configuration and start-up checks for a file.
fn charger(
    name: &str,
    text: &str,
) -> (
    ccs_proto::session::SeccConfig,
    Result<Vec<Warning>, ConfigError>,
) {
    let loaded = load(name, text).unwrap();
    (loaded.config.secc_config(), loaded.check_charger())
}

#[test]
fn the_simulated_charger_simulates_its_output_and_its_isolation_monitor() {
    let (secc, checks) = charger("c.toml", "[general]\nmode = \"evse\"\n");
    assert!(secc.evse_simulate_precharge && secc.isolation_monitor);
    assert_eq!(checks.unwrap(), []);
}

#[test]
fn a_real_power_supply_is_never_simulated_to_the_car() {
    // Only the power supply on MQTT, nothing else changed: the default
    // evse_simulate_precharge = true must not report a made-up voltage to the car.
    let (secc, checks) = charger(
        "c.toml",
        "[hardware]\ncharge_parameter_backend = \"mqtt\"\n",
    );
    assert!(!secc.evse_simulate_precharge);
    // MQTT carries the isolation monitor's verdict (topic `isolation`): CableCheck waits.
    assert!(secc.isolation_monitor);
    assert_eq!(checks.unwrap(), []);
    let (secc, _) = charger(
        "c.toml",
        "[can_outputs]\npower_supply_voltage = \"id=0x430 offset=0 length=2 scale=0.1\"\n\
         [can_inputs]\nisolation = \"id=0x422 offset=0 length=1\"\n",
    );
    assert!(!secc.evse_simulate_precharge && secc.isolation_monitor);
}

#[test]
fn simulate_precharge_with_a_real_power_supply_is_refused_in_toml() {
    let text = "[hardware]\ncharge_parameter_backend = \"mqtt\"\n\n\
                [charging]\nevse_simulate_precharge = true\n";
    let (_, checks) = charger("c.toml", text);
    let (line, key, value, allowed) = invalid(checks.map(|_| Loaded::defaults()));
    assert_eq!(line, Some(5));
    assert_eq!(key, "charging.evse_simulate_precharge");
    assert_eq!(value, "true");
    assert!(
        allowed.starts_with("false: with a real power supply"),
        "{allowed}"
    );
}

#[test]
fn simulate_precharge_from_a_pyplc_ini_with_a_real_power_supply_is_ignored_with_a_warning() {
    // pyPLC's template says `yes` and pyPLC exits on a missing key: refusing it would refuse
    // nearly every pyPlc.ini that drives a power supply over MQTT.
    let text = "[general]\nmode = EvseMode\ndigital_output_device = mqtt\n\
                charge_parameter_backend = mqtt\nevse_simulate_precharge = yes\n";
    let (secc, checks) = charger("pyPlc.ini", text);
    assert!(!secc.evse_simulate_precharge);
    let warnings = checks.unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].line, Some(5));
    assert!(
        warnings[0]
            .message
            .starts_with("evse_simulate_precharge = yes is ignored"),
        "{}",
        warnings[0].message
    );
}

#[test]
fn a_real_power_supply_without_an_isolation_input_is_refused_unless_turned_off() {
    let can_supply = "[can_outputs]\npower_supply_voltage = \"id=0x430 offset=0 length=2\"\n";
    let (_, checks) = charger("c.toml", can_supply);
    let (line, key, value, allowed) = invalid(checks.map(|_| Loaded::defaults()));
    assert_eq!(
        (line, key.as_str(), value.as_str()),
        (None, "charging.isolation_monitor (default)", "true")
    );
    assert!(allowed.contains("can_inputs.isolation"), "{allowed}");
    // A charger without a monitor may say so; it is told loudly at every start.
    let text = format!("{can_supply}[charging]\nisolation_monitor = false\n");
    let (secc, checks) = charger("c.toml", &text);
    assert!(!secc.isolation_monitor);
    let warnings = checks.unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].line, Some(4));
    assert!(warnings[0].message.contains("isolation is NOT monitored"));
}

#[test]
fn a_pyplc_charger_with_mqtt_but_no_mqtt_power_supply_keeps_its_dummy_power_supply() {
    // pyPLC sets and reads the power supply over MQTT only with charge_parameter_backend =
    // mqtt; MQTT for the outputs alone publishes the state. Nothing drives the output: it is
    // simulated as in pyPLC, and no isolation topic is waited for.
    let text = "[general]\nmode = EvseMode\ndigital_output_device = mqtt\n\
                evse_simulate_precharge = yes\n";
    let (secc, checks) = charger("pyPlc.ini", text);
    assert!(secc.evse_simulate_precharge && !secc.isolation_monitor);
    let warnings = checks.unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.message.contains("isolation is NOT monitored")),
        "{warnings:?}"
    );
    let loaded = load("pyPlc.ini", text).unwrap();
    assert!(loaded.config.uses_mqtt() && !loaded.config.mqtt_power_supply());
}

#[test]
fn a_pyplc_ini_may_say_its_charger_has_no_isolation_monitor() {
    // An MQTT power supply without an IMD: pyPLC has no key for it, ccsplc's own key works
    // in the ini too (pyPLC ignores keys it does not know).
    let text = "[general]\nmode = EvseMode\ndigital_output_device = mqtt\n\
                charge_parameter_backend = mqtt\nevse_simulate_precharge = no\n\
                isolation_monitor = no\n";
    let (secc, checks) = charger("pyPlc.ini", text);
    assert!(!secc.isolation_monitor && !secc.evse_simulate_precharge);
    let warnings = checks.unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].line, Some(6));
    assert!(warnings[0].message.contains("isolation is NOT monitored"));
}

#[test]
fn the_pyplc_template_as_charger_has_a_dummy_power_supply_and_says_so() {
    // pyPLC's template: digital_output_device = dieter, no power-supply adapter at all. The
    // output is simulated as in pyPLC, nothing can report isolation: two warnings.
    let loaded = Config::load(Some(&template())).unwrap();
    let secc = loaded.config.secc_config();
    assert!(secc.evse_simulate_precharge && !secc.isolation_monitor);
    let warnings = loaded.check_charger().unwrap();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].message.contains("isolation is NOT monitored"));
    assert!(warnings[1].message.contains("no power-supply adapter"));
}

#[test]
fn a_toml_charger_with_mqtt_but_no_mqtt_power_supply_must_say_its_output_is_simulated() {
    // MQTT for the outputs alone used to make MQTT the power supply; now it neither sets nor
    // reads one, and a silently simulated output would tell the car what is not there.
    let text = "[hardware]\ndigital_output_device = \"mqtt\"\n";
    let (_, checks) = charger("c.toml", text);
    let (_, key, value, allowed) = invalid(checks.map(|_| Loaded::defaults()));
    assert_eq!(
        (key.as_str(), value.as_str()),
        ("hardware.charge_parameter_backend", "none")
    );
    assert!(
        allowed.contains("evse_simulate_precharge = true"),
        "{allowed}"
    );
    // Said explicitly: the dummy power supply, with its warnings.
    let text = format!("{text}[charging]\nevse_simulate_precharge = true\n");
    let (secc, checks) = charger("c.toml", &text);
    assert!(secc.evse_simulate_precharge && !secc.isolation_monitor);
    assert!(checks.is_ok());
}

#[test]
fn an_mqtt_isolation_monitor_counts_next_to_a_can_power_supply() {
    let text = "[hardware]\ndigital_output_device = \"mqtt\"\n\
                [can_outputs]\npower_supply_voltage = \"id=0x430 offset=0 length=2\"\n";
    let (secc, checks) = charger("c.toml", text);
    assert!(!secc.evse_simulate_precharge && secc.isolation_monitor);
    assert!(checks.is_ok(), "{checks:?}");
}
