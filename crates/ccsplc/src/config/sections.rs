//! The sections of the configuration, one struct per TOML table.
//!
//! Every field says what it means, its unit, its default and the pyPlc.ini key that sets it
//! (if any). Timers are named as the standard names them; unset timers take the standard's
//! value from the protocol core. Field quirks name the car or charger that needs them.

use std::path::PathBuf;

use super::schema::{
    config_section, ini_energy_capacity_tens_of_wh, ini_mode, ini_precharge_source,
    ini_smart_listener,
};
use super::values::{
    AnalogInputDevice, AttenuationSource, CanSignal, ChargeParameterBackend, ControlMode,
    DigitalOutputDevice, Duration, EvseEnvironment, Mode, PrechargeVoltageSource, Protocol,
    SlacProfile, SmartListener, TlsMode,
};

config_section! {
    /// The role, the network interface and process-level behaviour.
    pub(crate) struct General in "general" {
        /// The role when the command does not name one: `ev` (car), `evse` (charger) or
        /// `listen`. `ccsplc ev`, `evse` and `listen` override it, as pyPLC's command-line
        /// letters P/E/L did. Default: `listen`. pyPLC: `mode` (`PevMode` = ev,
        /// `EvseMode` = evse, any other text = listen).
        #[ini = "mode", via = ini_mode]
        mode: Mode = Mode::Listen,
        /// The network interface the powerline modem is on; `--interface` overrides it.
        /// Default: `eth0`. pyPLC: `eth_interface`.
        #[ini = "eth_interface"]
        interface: String = "eth0".to_owned(),
        /// The link is already paired (a veth pair, or a modem paired by other means): skip
        /// SLAC and modem management and start at SDP. Same as `--no-slac`. Default: false.
        no_slac: bool = false,
        /// Run SLAC on a direct link without modems (pyPLC's simulation mode `S`): no modem
        /// management, a fixed attenuation profile. Same as `--no-modem`. Default: false.
        /// (pyPLC's `is_simulation_without_modems` is never read by pyPLC and is not read
        /// here either.)
        no_modem: bool = false,
        /// Exit when a charging session ends, so that a service manager starts one process
        /// (and one log) per charging session. Default: false. pyPLC: `exit_on_session_end`.
        #[ini = "exit_on_session_end"]
        exit_on_session_end: bool = false,
        /// Exit at start when the interface has no IPv6 link-local address (no modem link);
        /// false keeps running for tests without a modem. Default: true.
        /// pyPLC: `exit_if_no_local_link_address_is_found`.
        #[ini = "exit_if_no_local_link_address_is_found"]
        exit_if_no_link_local_address: bool = true,
        /// Seed for every random number ccsplc draws (SLAC RunID, NMK, NID, SessionID): the
        /// same seed gives the same numbers, for reproducible tests. Unset: drawn from the
        /// operating system. Never set it on a charger in service. Default: unset.
        #[example = "42"]
        rng_seed: Option<u64> = None,
    }
}

config_section! {
    /// SLAC (ISO 15118-3): matching car and charger over the powerline, and the modem.
    /// `profile` picks the base timing; each timer or counter set here replaces the profile's
    /// value. Names are those of ISO 15118-3 Table A.3; each says the standard's value.
    pub(crate) struct Slac in "slac" {
        /// The base timing: `standard` (ISO 15118-3 values) or `pyplc` (pyPLC's car: 30 ms
        /// message spacing, about 0.9 s from CM_ATTEN_CHAR.RSP to CM_SLAC_MATCH.REQ as the
        /// Hyundai Ioniq does, 10 matching attempts). Default: `standard`.
        profile: SlacProfile = SlacProfile::Standard,
        /// Charger: from plug-in (CP state B with 5 %) until the first CM_SLAC_PARM.REQ
        /// (standard: 20 s to 50 s; profile: 40 s as EVerest). Unit: duration.
        /// Default: unset (profile).
        #[key = "TT_EVSE_SLAC_init"]
        #[example = "\"40s\""]
        tt_evse_slac_init: Option<Duration> = None,
        /// Waiting time for the next request of a sequence, e.g. CM_SLAC_PARM.CNF to the first
        /// CM_START_ATTEN_CHAR.IND (standard: 400 ms). Default: unset (profile).
        #[key = "TT_match_sequence"]
        #[example = "\"400ms\""]
        tt_match_sequence: Option<Duration> = None,
        /// Car: the pause before the next message of a sequence (standard: 0 to 100 ms,
        /// profile 50 ms; Supercharger and Compleo stopped answering when pyPLC waited about
        /// 250 ms). Default: unset (profile).
        #[key = "TP_match_sequence"]
        #[example = "\"50ms\""]
        tp_match_sequence: Option<Duration> = None,
        /// Waiting time for a response: CM_SLAC_PARM.CNF, CM_SLAC_MATCH.CNF,
        /// CM_ATTEN_CHAR.RSP (standard: 200 ms). Default: unset (profile).
        #[key = "TT_match_response"]
        #[example = "\"200ms\""]
        tt_match_response: Option<Duration> = None,
        /// Car: spacing of the CM_START_ATTEN_CHAR.IND and CM_MNBC_SOUND.IND messages
        /// (standard: 20 ms to 50 ms, profile 20 ms). Default: unset (profile).
        #[key = "TP_EV_batch_msg_interval"]
        #[example = "\"20ms\""]
        tp_ev_batch_msg_interval: Option<Duration> = None,
        /// Charger: the sounding window after CM_START_ATTEN_CHAR.IND (standard: 600 ms),
        /// sent as the TIME_OUT byte in units of 100 ms (6; 10 broke a Compleo, pyPLC
        /// Issue13). Allowed: a multiple of 100 ms up to 25.5 s. Default: unset (profile).
        #[key = "TT_EVSE_match_MNBC"]
        #[example = "\"600ms\""]
        tt_evse_match_mnbc: Option<Duration> = None,
        /// Charger: from the end of sounding to CM_ATTEN_CHAR.IND (standard: at most 100 ms,
        /// profile 0). Default: unset (profile).
        #[key = "TP_EVSE_avg_atten_calc"]
        #[example = "\"0ms\""]
        tp_evse_avg_atten_calc: Option<Duration> = None,
        /// Car: the window in which CM_ATTEN_CHAR.IND from all chargers are collected
        /// (standard: 1200 ms). Default: unset (profile).
        #[key = "TT_EV_atten_results"]
        #[example = "\"1200ms\""]
        tt_ev_atten_results: Option<Duration> = None,
        /// Car: from CM_ATTEN_CHAR.RSP to CM_SLAC_MATCH.REQ (standard: at most 500 ms,
        /// profile 0; real cars take 0.5 s to 1 s). Default: unset (profile).
        #[key = "TP_EV_match_session"]
        #[example = "\"0ms\""]
        tp_ev_match_session: Option<Duration> = None,
        /// Charger: from CM_ATTEN_CHAR.RSP until CM_SLAC_MATCH.REQ (standard: 10 s).
        /// Default: unset (profile).
        #[key = "TT_EVSE_match_session"]
        #[example = "\"10s\""]
        tt_evse_match_session: Option<Duration> = None,
        /// Car: from CM_SLAC_MATCH.CNF until the link is up, else matching failed
        /// (standard: 12 s; an Alpitronic modem needed 7 s). Default: unset (profile).
        #[key = "TT_match_join"]
        #[example = "\"12s\""]
        tt_match_join: Option<Duration> = None,
        /// Car: the pause before a failed matching is restarted (standard: 400 ms).
        /// Default: unset (profile).
        #[key = "TT_matching_rate"]
        #[example = "\"400ms\""]
        tt_matching_rate: Option<Duration> = None,
        /// Retries of CM_SLAC_PARM.REQ and CM_SLAC_MATCH.REQ, and of CM_ATTEN_CHAR.IND by the
        /// charger (standard: 2). Unit: count. Default: unset (profile).
        #[key = "C_EV_match_retry"]
        #[example = "2"]
        c_ev_match_retry: Option<u32> = None,
        /// Car: number of CM_START_ATTEN_CHAR.IND sent (standard: 3). Unit: count.
        /// Default: unset (profile).
        #[key = "C_EV_start_atten_char_inds"]
        #[example = "3"]
        c_ev_start_atten_char_inds: Option<u8> = None,
        /// Car: number of CM_MNBC_SOUND.IND sent (standard: 10). Unit: count.
        /// Default: unset (profile).
        #[key = "C_EV_match_MNBC"]
        #[example = "10"]
        c_ev_match_mnbc: Option<u8> = None,
        /// Car: matching attempts before SLAC fails (standard: at least 3; profile 3, pyplc
        /// profile 10). Unit: count. Default: unset (profile).
        #[key = "C_conn_max_match"]
        #[example = "3"]
        c_conn_max_match: Option<u32> = None,
        /// Not in ISO 15118-3: how long to wait for the local modem's answer (VS_SW_VER,
        /// CM_SET_KEY) before asking again (profile: 1 s, as EVerest). Default: unset
        /// (profile).
        #[example = "\"1s\""]
        modem_response_timeout: Option<Duration> = None,
        /// Not in ISO 15118-3: requests to the modem before giving up, per step (profile: 3).
        /// Unit: count. Default: unset (profile).
        #[example = "3"]
        modem_request_attempts: Option<u32> = None,
        /// Not in ISO 15118-3: period of VS_PL_LNK_STATUS polls while waiting for the link
        /// (profile: 100 ms). Default: unset (profile).
        #[example = "\"100ms\""]
        link_status_poll_interval: Option<Duration> = None,
        /// Car: report the pairing only when the modem reports the link up
        /// (VS_PL_LNK_STATUS); false reports it after the accepted CM_SET_KEY.
        /// Default: true.
        wait_for_link: bool = true,
        /// Car: refuse chargers whose mean attenuation exceeds this (open-plc-utils `pev`:
        /// 40 dB). Unit: dB. Unset: take the best charger whatever its attenuation.
        /// Default: unset.
        #[example = "40.0"]
        max_mean_attenuation_db: Option<f64> = None,
        /// Charger: where the attenuation in CM_ATTEN_CHAR.IND comes from:
        /// `measured_else_fixed` (the modem's CM_ATTEN_PROFILE.IND; pyPLC's fixed profile when
        /// the modem reports none, as a TP-Link AR7420 does, open-plc-utils#156) or
        /// `always_fixed` (pyPLC). Default: `measured_else_fixed`.
        attenuation_source: AttenuationSource = AttenuationSource::MeasuredElseFixed,
        /// Charger: added to every averaged attenuation group (real chargers subtract a
        /// calibration offset: Alpitronic about -10 dB, dSPACE about -4 dB). Unit: dB.
        /// Default: 0.
        attenuation_offset_db: i16 = 0,
        /// Count CM_SET_KEY.CNF result 0x00 as success, as the HomePlug specification words
        /// it. QCA7000/7005/7420 modems answer 0x01 when they accepted the key and 0x00 when
        /// they did not apply it (pyPLC, EVerest#2324), so this stays false for them.
        /// Default: false.
        set_key_result_zero_is_success: bool = false,
    }
}

config_section! {
    /// SDP, the SECC Discovery Protocol (UDP port 15118 on ff02::1).
    pub(crate) struct Sdp in "sdp" {
        /// Car: how long to wait for an SDP response before the next request; at least
        /// 250 ms [V2G2-159] (pyPLC: 500 ms). Unit: duration. Default: 250ms.
        response_timeout: Duration = Duration::from_millis(250),
        /// Car: how many SDP requests in a row before SDP fails (50 [V2G2-161]). Unit: count.
        /// Default: 50.
        max_requests: u32 = 50,
        /// Car, with `tls.mode = "optional"`: after this many unanswered requests for TLS, ask
        /// for plain TCP instead, as the Audi Q4 does after 50. Unset: keep asking for TLS.
        /// Default: unset.
        #[example = "50"]
        tls_fallback_after: Option<u32> = None,
        /// Car: reject chargers that announce a port outside 49152-65535 (Josev does). Off
        /// because pyPLC chargers announce 15118. Default: false.
        require_dynamic_port: bool = false,
        /// Charger: the plain TCP port announced in the SDP response, from 49152-65535. Unset:
        /// a new port from that range per charging session (Josev's car rejects ports outside
        /// it, so pyPLC's fixed 15118 is not allowed). Default: unset.
        #[example = "61851"]
        tcp_port: Option<u16> = None,
        /// Charger: the TLS port announced in the SDP response, from 49152-65535. Unset: a new
        /// port per charging session. Default: unset.
        #[example = "61852"]
        tls_port: Option<u16> = None,
        /// Quirk, charger: answer an SDP request that asks for TLS with the plain TCP port
        /// when TLS is off, so that the car falls back (Tesla Model X, Kia EV3 and Audi Q4 do;
        /// uhi22/pyPLC#42). Default: true.
        answer_tls_request_without_tls: bool = true,
    }
}

config_section! {
    /// The V2G session: protocols, timeouts, identities and the quirks of real peers.
    /// Timeouts left unset take the value of DIN 70121 / ISO 15118-2 / ISO 15118-20 as the
    /// protocol core defines it; each says the standard's value.
    pub(crate) struct Session in "session" {
        /// The protocols, highest priority first: what the car offers in
        /// SupportedAppProtocolReq, or what the charger accepts (it picks the first one of
        /// this list that the car offers, pyPLC's "DIN when offered" rule). `--protocol`
        /// overrides it. Values: `din`, `iso2`, `iso20-dc`, `iso20-bpt`.
        /// Default: `["din", "iso2"]`.
        protocols: Vec<Protocol> = vec![Protocol::Din, Protocol::Iso2],
        /// Car: how long to wait for each response (standard: 2 s for most messages, 250 ms
        /// for CurrentDemandRes in DIN 70121). Setting it sets it for every message; pyPLC
        /// used 2 s to 6 s. Unit: duration. Default: unset (standard).
        #[key = "V2G_EVCC_Msg_Timeout"]
        #[example = "\"2s\""]
        v2g_evcc_msg_timeout: Option<Duration> = None,
        /// Car: how long a charger may answer EVSEProcessing = Ongoing (standard: 60 s).
        /// Default: unset (standard).
        #[key = "V2G_EVCC_Ongoing_Timeout"]
        #[example = "\"60s\""]
        v2g_evcc_ongoing_timeout: Option<Duration> = None,
        /// Car: from the TCP connection to SessionSetupRes (standard: 20 s).
        /// Default: unset (standard).
        #[key = "V2G_EVCC_CommunicationSetup_Timeout"]
        #[example = "\"20s\""]
        v2g_evcc_communication_setup_timeout: Option<Duration> = None,
        /// Car: from SessionSetup until charging can start (DIN 70121: 150 s).
        /// Default: unset (standard).
        #[key = "V2G_EVCC_ReadyToCharge_Timeout"]
        #[example = "\"150s\""]
        v2g_evcc_ready_to_charge_timeout: Option<Duration> = None,
        /// Car: the whole cable check (DIN 70121: 40 s). Default: unset (standard).
        #[key = "V2G_EVCC_CableCheck_Timeout"]
        #[example = "\"40s\""]
        v2g_evcc_cable_check_timeout: Option<Duration> = None,
        /// Car: the whole precharge (DIN 70121: 7 s; pyPLC allowed 30 s for slow power
        /// stages). Default: unset (standard).
        #[key = "V2G_EVCC_PreCharge_Timeout"]
        #[example = "\"7s\""]
        v2g_evcc_pre_charge_timeout: Option<Duration> = None,
        /// Car, with an inlet voltage measurement: how long to wait, contactors open, for the
        /// inlet to fall below 60 V before unlocking (IEC 61851-23: unlock only below 60 V
        /// d.c.); then the connector stays locked and the session fails. Raise it for a
        /// charger whose output discharges slowly. Default: unset (5 s).
        #[example = "\"5s\""]
        unlock_voltage_timeout: Option<Duration> = None,
        /// Charger: how long to wait for the car's next request (standard: 60 s).
        /// Default: unset (standard).
        #[key = "V2G_SECC_Sequence_Timeout"]
        #[example = "\"60s\""]
        v2g_secc_sequence_timeout: Option<Duration> = None,
        /// Car: precharge is done when the voltage (see `precharge_voltage_source`) is within
        /// this much of the battery voltage; only then the contactors close. Unit: V.
        /// Allowed: more than 0, at most 50. Default: 10.
        /// pyPLC: `u_delta_max_for_end_of_precharge`.
        #[ini = "u_delta_max_for_end_of_precharge"]
        precharge_delta_max: f64 = 10.0,
        /// Car: which voltage ends precharge: `charger` (EVSEPresentVoltage of PreChargeRes)
        /// or `inlet` (measured by `hardware.analog_input_device`). Default: `charger`.
        /// pyPLC: `use_evsepresentvoltage_for_precharge_end` (yes = charger, no = inlet).
        #[ini = "use_evsepresentvoltage_for_precharge_end", via = ini_precharge_source]
        precharge_voltage_source: PrechargeVoltageSource = PrechargeVoltageSource::Charger,
        /// Charger: after a stop by the operator, accept the next charging session; false
        /// stays stopped until restart. Default: true.
        /// pyPLC: `allow_new_session_after_stopping`.
        #[ini = "allow_new_session_after_stopping"]
        allow_new_session_after_stop: bool = true,
        /// Charger: authorize every car at once (pyPLC's behaviour: ContractAuthentication /
        /// Authorization answered `Finished`, external identification means). `false` answers
        /// `Ongoing` until the authorization input says yes: MQTT `authorized`, or Authorize on
        /// the dashboard (`--web`). Default: true.
        authorize_automatically: bool = true,
        /// Charger: the EVSEID sent in SessionSetupRes (`ZZ00000` = none, pyPLC's value).
        /// Default: `ZZ00000`.
        evse_id: String = "ZZ00000".to_owned(),
        /// Car: the EVCCID sent in SessionSetupReq, 12 hex digits. Unset: the MAC address of
        /// the interface (some chargers insist on it, pyPLC Issue20). Default: unset.
        #[example = "\"0265656565ab\""]
        evcc_id: Option<String> = None,
        /// Quirk, car: accept ResponseCode `OK` in SessionSetupRes where
        /// `OK_NewSessionEstablished` is due (ABB Terra 53 and HPC). Default: true.
        accept_ok_for_new_session: bool = true,
        /// Dangerous quirk, car: the charger's report of 60 V or more after the stop does not
        /// keep the connector locked; the car's inlet voltage measurement decides, and without
        /// one the car unlocks unverified (Josev's SECC simulator, pyPLC's charger report a
        /// stale or simulated voltage there). Unsafe at a charger whose output is really live.
        /// Default: false (the connector stays locked and the session fails).
        danger_unlock_despite_charger_voltage: bool = false,
        /// Quirk, car: accept EVSEProcessing = Finished together with EVSE_NotReady in
        /// ChargeParameterDiscoveryRes (Compleo Cito). Default: true.
        accept_finished_with_evse_not_ready: bool = true,
        /// Quirk, car: send EVMaximumVoltageLimit, EVMaximumCurrentLimit and
        /// EVMaximumPowerLimit in CurrentDemandReq (optional in the schema; a Plugit HUBE S
        /// stops without them, ccs32clara PR #59). Default: true.
        send_ev_maximum_limits_in_current_demand: bool = true,
        /// Charger: run pyPLC's fault-injection test cases (1 to 16, one per charging
        /// session); never with a real car. Default: false. pyPLC: `testsuite_enable`.
        #[ini = "testsuite_enable"]
        pyplc_testsuite: bool = false,
    }
}

config_section! {
    /// Battery and charger parameters, and the simulations of pyPLC.
    pub(crate) struct Charging in "charging" {
        /// Car: EVTargetVoltage in CurrentDemandReq when no backend
        /// (`hardware.charge_parameter_backend`) provides it. Unit: V. Must not exceed
        /// `max_voltage`. Default: 270. pyPLC: `charge_target_voltage`.
        #[ini = "charge_target_voltage"]
        target_voltage: f64 = 270.0,
        /// Car: EVTargetCurrent when no backend provides it. Unit: A. Must not exceed
        /// `max_current`. Default: 10.
        target_current: f64 = 10.0,
        /// Car: the battery voltage (the PreChargeReq target) when no configured device
        /// measures it (simulated hardware, `dieter`, `beaglebone`/GPIO), as pyPLC. With a
        /// device that measures it (`celeron55device` `dc_link_v`, MQTT `battery_voltage`,
        /// CHAdeMO) the measurement is required. Unit: V. Default: 230.
        battery_voltage: f64 = 230.0,
        /// Car: EVMaximumVoltageLimit. Unit: V. Default: 410 (ccs32clara; pyPLC's 398 made
        /// an Ionity charger stop).
        max_voltage: f64 = 410.0,
        /// Car: EVMaximumCurrentLimit. Unit: A. Default: 125.
        max_current: f64 = 125.0,
        /// Car: EVMaximumPowerLimit. Unit: W. Default: 100000.
        max_power: f64 = 100_000.0,
        /// Car: EVEnergyCapacity. Unit: Wh. Default: 28000.
        energy_capacity: u32 = 28_000,
        /// Car: EVEnergyRequest. Unit: Wh. Default: 20000.
        energy_request: u32 = 20_000,
        /// Car: FullSOC, the SoC at which the battery counts as full. Unit: %. Default: 100.
        full_soc: u8 = 100,
        /// Car: BulkSOC, the SoC at which bulk charging ends. Unit: %. Default: 80.
        bulk_soc: u8 = 80,
        /// Car: stop charging when the SoC reaches this (pyPLC: 98). Unit: %. Default: 98.
        stop_soc: u8 = 98,
        /// Car: simulate a rising SoC while the contactors are closed. Default: true.
        /// pyPLC: `soc_simulation`.
        #[ini = "soc_simulation"]
        soc_simulation: bool = true,
        /// Car: the SoC the simulation starts from. Unit: %. Default: 20.
        soc_simulation_start: u8 = 20,
        /// Car: stop after this long in CurrentDemand; `--charge-seconds` overrides it.
        /// Unset: until the battery is full. Default: unset.
        #[example = "\"2min\""]
        charge_duration: Option<Duration> = None,
        /// Car: test with a resistive load (light bulb, kettle) instead of a battery: keep the
        /// contactor open at the end of precharge and close both relays 2 s into
        /// CurrentDemand. Never with a real battery. Default: false.
        /// pyPLC: `light_bulb_demo`.
        #[ini = "light_bulb_demo"]
        light_bulb_demo: bool = false,
        /// Car: show the measured inlet voltage instead of the charger's EVSEPresentVoltage
        /// in the charging status. Default: false.
        /// pyPLC: `use_physical_inlet_voltage_during_chargeloop`.
        #[ini = "use_physical_inlet_voltage_during_chargeloop"]
        show_inlet_voltage: bool = false,
        /// Charger: report a simulated output voltage to the car (rising during PreCharge,
        /// falling in WeldingDetection) instead of the power supply's measurement. Only
        /// without a real power supply (the simulated charger, or pyPLC's dummy power supply
        /// with no power-supply adapter at all): with MQTT or a mapped CAN power supply the
        /// measurement is always reported; `true` in a TOML file is then refused, and in a
        /// pyPlc.ini (whose template says `yes`) ignored with a warning. Default: true.
        /// pyPLC: `evse_simulate_precharge`.
        #[ini = "evse_simulate_precharge"]
        evse_simulate_precharge: bool = true,
        /// Charger: CableCheck waits for an isolation monitor's verdict (MQTT `isolation`,
        /// `can_inputs.isolation`; the simulated charger has one) and tells the car what it
        /// says. With a real power supply one of those inputs is required. `false` only for a
        /// charger without an isolation monitor: CableCheck then tells the car isolation
        /// `Valid` after 0.5 s without measuring anything, and `ccsplc evse` warns at start.
        /// Without any power-supply adapter (pyPLC's dummy power supply) and no monitor input
        /// it is off as well, with the same warning. Default: true. pyPLC: `isolation_monitor`
        /// is ccsplc's own key in a pyPlc.ini (pyPLC has no isolation monitor and ignores
        /// keys it does not know).
        #[ini = "isolation_monitor"]
        isolation_monitor: bool = true,
        /// Charger: EVSEMaximumVoltageLimit. Unit: V. Default: 450.
        evse_max_voltage: f64 = 450.0,
        /// Charger: EVSEMinimumVoltageLimit. Unit: V. Default: 200.
        evse_min_voltage: f64 = 200.0,
        /// Charger: EVSEMaximumCurrentLimit. Unit: A. Default: 200.
        evse_max_current: f64 = 200.0,
        /// Charger: EVSEMinimumCurrentLimit. Unit: A. Default: 1.
        evse_min_current: f64 = 1.0,
        /// Charger: EVSEMaximumPowerLimit. Unit: W. Default: 50000.
        evse_max_power: f64 = 50_000.0,
        /// Charger: EVSECurrentRegulationTolerance. Unit: A. Default: 5.
        evse_current_regulation_tolerance: f64 = 5.0,
        /// Charger: EVSEPeakCurrentRipple. Unit: A. Default: 5.
        evse_peak_current_ripple: f64 = 5.0,
    }
}

config_section! {
    /// The hardware adapters: outputs, measurements, parameter backends.
    pub(crate) struct Hardware in "hardware" {
        /// The device for CP state, contactors and connector lock: `none`, `dieter`,
        /// `beaglebone`, `celeron55device` or `mqtt`. Default: `none`.
        /// pyPLC: `digital_output_device` (its template says `dieter`).
        #[ini = "digital_output_device"]
        digital_output_device: DigitalOutputDevice = DigitalOutputDevice::None,
        /// Car: the device that measures the inlet voltage: `none`, `dieter`,
        /// `celeron55device` or `mqtt`. Default: `none`. pyPLC: `analog_input_device`.
        #[ini = "analog_input_device"]
        analog_input_device: AnalogInputDevice = AnalogInputDevice::None,
        /// Where battery (car) or power supply (charger) parameters come from: `none` (the
        /// constants of `[charging]`), `chademo` (a CHAdeMO car on CAN) or `mqtt`.
        /// Default: `none`. pyPLC: `charge_parameter_backend`.
        #[ini = "charge_parameter_backend"]
        charge_parameter_backend: ChargeParameterBackend = ChargeParameterBackend::None,
        /// Charger: the hardware environment: `none` or `focccicape` (BeagleBone with
        /// FoccciCape: CAN status frames, GPIO, DiDeBoCCS power supply). Default: `none`.
        /// pyPLC: `evsemode_environment`.
        #[ini = "evsemode_environment"]
        evse_environment: EvseEnvironment = EvseEnvironment::None,
        /// Charger, experimental: send every power supply set-point as pyPLC's special
        /// broadcast CM_ATTEN_CHAR.IND (uhi22/stepup-test). Default: false.
        /// pyPLC: `evse_power_supply_control_via_special_homeplug_message`.
        #[ini = "evse_power_supply_control_via_special_homeplug_message"]
        psu_via_special_homeplug_message: bool = false,
        /// Show the status on an OLED display on the serial port (uhi22/SerialToOLED).
        /// Default: false. pyPLC: `display_via_serial` (its template says yes).
        #[ini = "display_via_serial"]
        display_via_serial: bool = false,
    }
}

config_section! {
    /// MQTT: pyPLC's topics under a base topic, for a BMS, a power supply or a dashboard.
    pub(crate) struct Mqtt in "mqtt" {
        /// The broker's host name or address. Default: `localhost`. pyPLC: `mqtt_broker`.
        #[ini = "mqtt_broker"]
        broker: String = "localhost".to_owned(),
        /// The broker's port (pyPLC: always 1883). Default: 1883.
        port: u16 = 1883,
        /// The base topic; topics are `<topic>/<name>`. Default: `pyPlc`. pyPLC: `mqtt_topic`.
        #[ini = "mqtt_topic"]
        topic: String = "pyPlc".to_owned(),
        /// The MQTT client id (pyPLC: `pyplc`). Default: `ccsplc`.
        client_id: String = "ccsplc".to_owned(),
        /// User name for the broker. Unset: anonymous. Default: unset.
        #[example = "\"ccsplc\""]
        username: Option<String> = None,
        /// Password for the broker. Default: unset.
        #[example = "\"secret\""]
        password: Option<String> = None,
        /// Connect with TLS, checking the broker against the system's root certificates (then
        /// the port is usually 8883). Default: false.
        tls: bool = false,
        /// MQTT keep-alive interval (pyPLC: 60 s). Unit: duration. Default: 60s.
        keepalive: Duration = Duration::from_secs(60),
        /// Shortest interval between two publications of a state or value on one topic
        /// (pyPLC: 1 s). Actuator requests (`cpstate`, `relay_request`, `lock_request`, the
        /// power supply's `target_voltage` / `target_current`) are never held back. Unit:
        /// duration. Default: 1s.
        publish_interval: Duration = Duration::from_secs(1),
        /// Pause between attempts to reconnect to the broker. Unit: duration. Default: 1s.
        reconnect_delay: Duration = Duration::from_secs(1),
        /// A cyclic input topic (car: `battery_voltage`, `target_voltage`, `target_current`,
        /// `soc`, `inlet_voltage`; charger: `charger_voltage`, `charger_current`) that has
        /// arrived once and is then not updated for this long is a hardware fault, which
        /// stops charging safely, even when the session does not read the value at the
        /// moment. Event-like topics (`enabled`, `authorized`, the confirmations, the charger
        /// maxima) never go stale. The BMS or power supply must publish the cyclic ones more
        /// often than this (the session itself refuses values older than 5 s). `0s` turns the
        /// check off (pyPLC has none). Unit: duration. Default: 5s.
        input_timeout: Duration = Duration::from_secs(5),
    }
}

config_section! {
    /// GPIO through the Linux character device (`/dev/gpiochipN`), next to the other
    /// adapters (e.g. MQTT for the values, GPIO for the CP line). Lines are offsets on the
    /// chip (`gpioinfo` lists them), active high unless said otherwise. Needs a build with
    /// the `gpio` feature. pyPLC's `digital_output_device = beaglebone` (P9_41 = CP, P9_17 =
    /// power relay) is this section with the offsets of those pins. An output line replaces
    /// the simulated car or charger (real actuators never run on simulated feedback). At
    /// exit the CP and contactor lines go inactive; the lock line stays as the session left
    /// it.
    pub(crate) struct Gpio in "gpio" {
        /// The GPIO chip; set: the GPIO adapter runs. Default: unset.
        #[example = "\"/dev/gpiochip0\""]
        chip: Option<PathBuf> = None,
        /// Car: the CP state output, active = state C (the 1.3 kΩ switched in). Default: unset.
        #[example = "17"]
        cp_line: Option<u32> = None,
        /// Car: the contactor relay output, active = closed. Default: unset.
        #[example = "27"]
        contactor_line: Option<u32> = None,
        /// Car: the connector lock output, active = locked. Default: unset.
        #[example = "22"]
        lock_line: Option<u32> = None,
        /// A stop button input (debounced over 3 samples of 30 ms, stop held for 3 s, as on
        /// the FoccciCape): pressed = stop charging. Default: unset.
        #[example = "23"]
        stop_button_line: Option<u32> = None,
        /// The stop button reads low when pressed (FoccciCape P9_30). Default: true.
        stop_button_active_low: bool = true,
        /// Car: the contactors' auxiliary contact, active = closed; set: the car waits for it
        /// before going on. Default: unset.
        #[example = "24"]
        contactor_feedback_line: Option<u32> = None,
    }
}

config_section! {
    /// CAN (SocketCAN): pyPLC's CHAdeMO bridge (`hardware.charge_parameter_backend =
    /// "chademo"`, car), the FoccciCape status frames (`hardware.evse_environment =
    /// "focccicape"`, charger) and user-defined mappings (`[can_inputs]`, `[can_outputs]`).
    pub(crate) struct Can in "can" {
        /// The SocketCAN interface; bring it up first with
        /// `ip link set can0 up type can bitrate 500000` (pyPLC: can0 at 500 kbit/s).
        /// Default: `can0`.
        interface: String = "can0".to_owned(),
        /// CHAdeMO bridge: without a 0x102 frame for this long the current request drops to 0
        /// and the session stops on a stale-input fault (pyPLC: 1 s, without the stop).
        /// More than 0. Unit: duration. Default: 1s.
        rx_timeout: Duration = Duration::from_secs(1),
        /// User-defined mapping: how often the `[can_outputs]` frames are sent, one frame per
        /// id with all its signals. Unit: duration. Default: 100ms.
        mapping_period: Duration = Duration::from_millis(100),
        /// User-defined mapping: a `[can_inputs]` signal that has arrived once and is then not
        /// updated for this long is a hardware fault, which stops charging safely. `0s` turns
        /// the check off. Unit: duration. Default: 1s.
        mapping_input_timeout: Duration = Duration::from_secs(1),
    }
}

config_section! {
    /// User-defined CAN mapping, inputs: each setting is a value the session reads, taken
    /// from a CAN frame on `can.interface`. The value is a string of `key=value` words:
    /// `id` (11-bit, or 29-bit with `extended=true`), `offset` (first byte, 0-7) and
    /// `length` (1-4 bytes) are required; `endian` (`little` or `big`), `signed`
    /// (`true`/`false`), `scale` and `bias` (value = raw · scale + bias) are optional,
    /// default `little`, `false`, 1 and 0. Flags are 0 = false, anything else true. Each
    /// signal belongs to one side (car or charger); a signal of the other side is refused
    /// at start. Any signal set here runs the mapping and replaces the simulated car or
    /// charger. pyPLC has no such mapping.
    pub(crate) struct CanInputs in "can_inputs" {
        /// Car: the battery voltage, V (the PreCharge target). Default: unset.
        #[example = "\"id=0x356 offset=0 length=2 scale=0.1\""]
        battery_voltage: Option<CanSignal> = None,
        /// Car: the BMS's EVTargetVoltage, V. Default: unset.
        #[example = "\"id=0x351 offset=0 length=2 scale=0.1\""]
        target_voltage: Option<CanSignal> = None,
        /// Car: the BMS's EVTargetCurrent, A. Default: unset.
        #[example = "\"id=0x351 offset=2 length=2 scale=0.1\""]
        target_current: Option<CanSignal> = None,
        /// Car: the state of charge, %. Default: unset.
        #[example = "\"id=0x355 offset=0 length=2\""]
        soc: Option<CanSignal> = None,
        /// Car: the measured inlet voltage, V. Default: unset.
        #[example = "\"id=0x360 offset=0 length=2 scale=0.1\""]
        inlet_voltage: Option<CanSignal> = None,
        /// Car: the measured inlet current, A (signed when it can flow back). Default: unset.
        #[example = "\"id=0x360 offset=2 length=2 signed=true scale=0.1\""]
        inlet_current: Option<CanSignal> = None,
        /// Car: the contactors' feedback, non-zero = closed. Default: unset.
        #[example = "\"id=0x361 offset=0 length=1\""]
        contactors_closed: Option<CanSignal> = None,
        /// Car: the connector lock's feedback, non-zero = locked. Default: unset.
        #[example = "\"id=0x361 offset=1 length=1\""]
        connector_locked: Option<CanSignal> = None,
        /// Charger: the power supply's present output voltage, V. Default: unset.
        #[example = "\"id=0x420 offset=0 length=2 scale=0.1\""]
        power_supply_voltage: Option<CanSignal> = None,
        /// Charger: the power supply's present output current, A. Default: unset.
        #[example = "\"id=0x420 offset=2 length=2 scale=0.1\""]
        power_supply_current: Option<CanSignal> = None,
        /// Charger: the power supply's maximum voltage, V. Default: unset.
        #[example = "\"id=0x421 offset=0 length=2\""]
        power_supply_max_voltage: Option<CanSignal> = None,
        /// Charger: the power supply's maximum current, A. Default: unset.
        #[example = "\"id=0x421 offset=2 length=2\""]
        power_supply_max_current: Option<CanSignal> = None,
        /// Charger: the power supply's maximum power, W. Default: unset.
        #[example = "\"id=0x421 offset=4 length=2 scale=10\""]
        power_supply_max_power: Option<CanSignal> = None,
        /// Charger: the isolation monitor: 1 valid, 2 warning, 3 fault, 4 no IMD, else
        /// invalid (ISO 15118-2 `isolationLevelType`). Default: unset.
        #[example = "\"id=0x422 offset=0 length=1\""]
        isolation: Option<CanSignal> = None,
        /// Charger: the enable switch, 0 = stop charging. Default: unset.
        #[example = "\"id=0x423 offset=0 length=1\""]
        charging_enabled: Option<CanSignal> = None,
        /// Charger: the authorization input, non-zero = authorized (with
        /// `session.authorize_automatically = false`). Default: unset.
        #[example = "\"id=0x423 offset=1 length=1\""]
        authorized: Option<CanSignal> = None,
    }
}

config_section! {
    /// User-defined CAN mapping, outputs: each setting is a value the session commands,
    /// sent every `can.mapping_period` in a frame on `can.interface`, one frame per id with
    /// all its signals (0 until the session commands the value). The value is written as in
    /// `[can_inputs]`; flags are sent as 1 or 0. Each signal belongs to a side, as in
    /// `[can_inputs]`. An actuator (`cp_state_c`, `contactors_closed`, `connector_lock`,
    /// `power_supply_*`) replaces the simulated car or charger; the other signals only show
    /// the session and run next to it. pyPLC has no such mapping.
    pub(crate) struct CanOutputs in "can_outputs" {
        /// Car: 1 = CP state C, 0 = B. Default: unset.
        #[example = "\"id=0x370 offset=0 length=1\""]
        cp_state_c: Option<CanSignal> = None,
        /// Car: 1 = close the contactors. Default: unset.
        #[example = "\"id=0x370 offset=1 length=1\""]
        contactors_closed: Option<CanSignal> = None,
        /// Car: 1 = lock the connector. Default: unset.
        #[example = "\"id=0x370 offset=2 length=1\""]
        connector_lock: Option<CanSignal> = None,
        /// Car: the charger's EVSEMaximumVoltageLimit, V, for the BMS. Default: unset.
        #[example = "\"id=0x371 offset=0 length=2\""]
        charger_max_voltage: Option<CanSignal> = None,
        /// Car: the charger's EVSEMaximumCurrentLimit, A, for the BMS. Default: unset.
        #[example = "\"id=0x371 offset=2 length=2\""]
        charger_max_current: Option<CanSignal> = None,
        /// Both sides: the charger's EVSEPresentVoltage, V (the car: as received, for the
        /// BMS; the charger: as sent). Default: unset.
        #[example = "\"id=0x372 offset=0 length=2 scale=0.1\""]
        charger_voltage: Option<CanSignal> = None,
        /// Both sides: the charger's EVSEPresentCurrent, A (as `charger_voltage`).
        /// Default: unset.
        #[example = "\"id=0x372 offset=2 length=2 scale=0.1\""]
        charger_current: Option<CanSignal> = None,
        /// Charger: 1 = power supply on. Default: unset.
        #[example = "\"id=0x430 offset=0 length=1\""]
        power_supply_enabled: Option<CanSignal> = None,
        /// Charger: the power supply's voltage set-point, V. Default: unset.
        #[example = "\"id=0x431 offset=0 length=2 scale=0.1\""]
        power_supply_voltage: Option<CanSignal> = None,
        /// Charger: the power supply's current set-point, A. Default: unset.
        #[example = "\"id=0x431 offset=2 length=2 scale=0.1\""]
        power_supply_current: Option<CanSignal> = None,
        /// Charger: the SoC the car reported, %. Default: unset.
        #[example = "\"id=0x432 offset=0 length=1\""]
        vehicle_soc: Option<CanSignal> = None,
        /// Both sides: pyPLC's INFONR of the session state (8 ChargeParameterDiscovery,
        /// 9 CableCheck, 10 PreCharging, 13 CurrentDemand, 14 WeldingDetection; the table
        /// is in `docs/hardware.md`). Default: unset.
        #[example = "\"id=0x433 offset=0 length=1\""]
        info_number: Option<CanSignal> = None,
    }
}

config_section! {
    /// The serial port of serial devices (dieter, celeron55device, OLED display).
    pub(crate) struct Serial in "serial" {
        /// The device path, or `auto` for the first USB serial port. Default: `auto`.
        /// pyPLC: `serial_port`.
        #[ini = "serial_port"]
        port: String = "auto".to_owned(),
        /// Unit: baud. Default: 19200. pyPLC: `serial_baud`.
        #[ini = "serial_baud"]
        baud: u32 = 19_200,
        /// A value the device has sent (`inlet_v=`, `A0=`, ...) and then not updated for this
        /// long is a hardware fault, which stops charging safely; the devices send every value
        /// cyclically. `0s` turns the check off (pyPLC has none). Unit: duration. Default: 5s.
        input_timeout: Duration = Duration::from_secs(5),
    }
}

config_section! {
    /// Captures of the link traffic.
    pub(crate) struct Capture in "capture" {
        /// Write one pcapng file per charging session into this folder (`--pcap` writes one
        /// file for the whole run). Unset: no automatic captures. Default: unset.
        #[example = "\"/var/log/ccsplc\""]
        folder: Option<PathBuf> = None,
        /// Send every log line also as a UDP syslog broadcast (port 514) on the powerline
        /// interface, so it appears inside captures. The broadcasts can disturb chargers
        /// (pyPLC's warning): for development only. Default: false.
        /// pyPLC: `udp_syslog_enable` (its template says yes).
        #[ini = "udp_syslog_enable"]
        udp_syslog: bool = false,
    }
}

config_section! {
    /// Extra log output (besides `-v`, `-q` and `--log-file`).
    pub(crate) struct Log in "log" {
        /// Car and listener: append the charger's MAC address with a time stamp to
        /// `evse_mac_file`. Default: false. pyPLC: `log_the_evse_mac_to_file`.
        #[ini = "log_the_evse_mac_to_file"]
        log_evse_mac: bool = false,
        /// The file for `log_evse_mac`. Default: `MacLog.txt`.
        evse_mac_file: PathBuf = PathBuf::from("MacLog.txt"),
        /// Charger: log every state change of the session at info level. Default: false.
        /// pyPLC: `evse_printtrace`.
        #[ini = "evse_printtrace"]
        evse_trace: bool = false,
        /// Charger: log every response sent, decoded. Default: false.
        /// pyPLC: `evse_show_decoded_transmit_message`.
        #[ini = "evse_show_decoded_transmit_message"]
        show_decoded_transmit: bool = false,
        /// Listener: log the EXI bytes of every V2G message seen. Default: false.
        /// pyPLC: `sniffer_print_raw_exi`.
        #[ini = "sniffer_print_raw_exi"]
        print_raw_exi: bool = false,
    }
}

config_section! {
    /// The live dashboard.
    pub(crate) struct Web in "web" {
        /// Serve the dashboard on this address; `--web` overrides it. Unset: no dashboard.
        /// Default: unset.
        #[example = "\"127.0.0.1:8080\""]
        address: Option<String> = None,
        /// The token the dashboard's controls (stop, authorize, enable) require when it listens
        /// on anything but loopback (`Authorization: Bearer <token>` or `?token=`);
        /// `--web-token` overrides it. Unset: off loopback the dashboard is read-only; on
        /// loopback no token is needed. Reading (status, history, capture) never needs it.
        /// Default: unset.
        #[example = "\"change-me\""]
        token: Option<String> = None,
        /// Offer the dashboard's controls at all (stop charging; as charger also authorize
        /// and enable). false: the dashboard only shows. Default: true.
        allow_control: bool = true,
    }
}

config_section! {
    /// TLS for V2G (ISO 15118-2 and -20): the certificates, as PEM files.
    pub(crate) struct Tls in "tls" {
        /// `off`, `optional` (the car asks for TLS and accepts plain TCP; the charger offers
        /// both) or `required`. Default: `off`.
        mode: TlsMode = TlsMode::Off,
        /// Charger: the SECC certificate chain, leaf first. Car: its own chain, for mutual
        /// authentication (ISO 15118-20 only). Default: unset.
        #[example = "\"/etc/ccsplc/secc-chain.pem\""]
        certificate_chain: Option<PathBuf> = None,
        /// The private key of `certificate_chain`. Default: unset.
        #[example = "\"/etc/ccsplc/secc.key\""]
        private_key: Option<PathBuf> = None,
        /// Charger offering ISO 15118-20: the SECC chain of its TLS 1.3 connections
        /// (secp521r1), when it differs from `certificate_chain`. A charger offering ISO
        /// 15118-2 too serves each car the chain of the TLS version the car asks for: TLS 1.3
        /// and this chain, or TLS 1.2 and `certificate_chain`. Default: unset.
        #[example = "\"/etc/ccsplc/secc20-chain.pem\""]
        iso20_certificate_chain: Option<PathBuf> = None,
        /// The private key of `iso20_certificate_chain`. Default: unset.
        #[example = "\"/etc/ccsplc/secc20.key\""]
        iso20_private_key: Option<PathBuf> = None,
        /// Car: the V2G root certificates a charger's chain must lead to. Default: unset.
        #[example = "\"/etc/ccsplc/v2g-root.pem\""]
        trust_anchors: Option<PathBuf> = None,
        /// Charger: trust anchors for car certificates; with it an ISO 15118-20 car must
        /// present one (mutual authentication). ISO 15118-2 cars are never asked: only the
        /// SECC authenticates there ([V2G2-068]). Default: unset.
        #[example = "\"/etc/ccsplc/oem-root.pem\""]
        client_ca: Option<PathBuf> = None,
        /// Append TLS secrets to this NSS key log file, so Wireshark can decrypt captures.
        /// For testing only. Default: unset.
        #[example = "\"/tmp/ccsplc-keys.log\""]
        key_log: Option<PathBuf> = None,
    }
}

config_section! {
    /// ISO 15118-2: payment (EIM or Plug & Charge), AC or DC, and the Plug & Charge
    /// certificates and keys, as PEM files (`scripts/make-test-pki.sh` makes a test set).
    pub(crate) struct Iso2 in "iso2" {
        /// Car: pay with a contract certificate (Plug & Charge, needs `tls.mode` optional or
        /// required) instead of external identification (RFID, app). Default: false.
        plug_and_charge: bool = false,
        /// Car: charge with AC (`AC_three_phase_core`, the ChargingStatus loop) instead of DC
        /// (`DC_extended`). Default: false.
        ac: bool = false,
        /// Car: end the session with SessionStop `Pause` instead of `Terminate`.
        /// Default: false.
        pause_instead_of_terminate: bool = false,
        /// Car: a file in which `ccsplc ev` keeps the SessionID of a session the charger let
        /// it pause, so that its next run rejoins that session (ISO 15118-2 §8.4.3.2,
        /// `OK_OldSessionJoined`); read and removed at start. Default: unset.
        #[example = "\"/var/lib/ccsplc/paused-session\""]
        paused_session_file: Option<PathBuf> = None,
        /// Car: the contract certificate chain, leaf first (its CommonName is the eMAID).
        /// Unset with `plug_and_charge`: install one with the OEM provisioning certificate.
        /// Default: unset.
        #[example = "\"/etc/ccsplc/contract-chain.pem\""]
        contract_chain: Option<PathBuf> = None,
        /// Car: the contract's private key, unencrypted. Default: unset.
        #[example = "\"/etc/ccsplc/contract.key\""]
        contract_key: Option<PathBuf> = None,
        /// Car: the OEM provisioning certificate (leaf first), for CertificateInstallation.
        /// Default: unset.
        #[example = "\"/etc/ccsplc/oem-prov-chain.pem\""]
        oem_provisioning_chain: Option<PathBuf> = None,
        /// Car: the OEM provisioning private key, unencrypted. Default: unset.
        #[example = "\"/etc/ccsplc/oem-prov.key\""]
        oem_provisioning_key: Option<PathBuf> = None,
        /// Charger: the EVSEID (ISO 15118-2 Annex H; `ZZ00000` = none). Default: `ZZ00000`.
        evse_id: String = "ZZ00000".to_owned(),
        /// Charger: the trust anchors of contract chains (MO roots, V2G root). Set: Plug &
        /// Charge is offered on TLS connections. Default: unset.
        #[example = "\"/etc/ccsplc/mo-roots.pem\""]
        contract_roots: Option<PathBuf> = None,
        /// Charger: a directory with prepared `CertificateInstallationRes.exi` /
        /// `CertificateUpdateRes.exi` (a file-based certificate backend, for tests). Set: the
        /// certificate service is offered on TLS connections. Default: unset.
        #[example = "\"/etc/ccsplc/cps\""]
        certificate_backend_dir: Option<PathBuf> = None,
        /// Charger: ask Plug & Charge cars for a signed MeteringReceipt. Default: false.
        receipt_required: bool = false,
    }
}

config_section! {
    /// ISO 15118-20: who decides the power, and Plug & Charge with the contract certificate
    /// and key as PEM files (`CURVE=secp521r1 DIGEST=sha512 scripts/make-test-pki.sh DIR`
    /// makes a test set).
    pub(crate) struct Iso20 in "iso20" {
        /// Car: `scheduled` (the car follows a schedule and sends its targets) or `dynamic`
        /// (the charger decides the power within the car's limits). The charger offers both.
        /// Default: `scheduled`.
        control_mode: ControlMode = ControlMode::Scheduled,
        /// Car: pay with the contract certificate (Plug & Charge: the car signs
        /// PnC_AReqAuthorizationMode with ECDSA secp521r1/SHA-512) instead of external
        /// identification. Needs `contract_chain` and `contract_key`. Default: false.
        plug_and_charge: bool = false,
        /// Car: the contract certificate chain, leaf first. Default: unset.
        #[example = "\"/etc/ccsplc/contract20-chain.pem\""]
        contract_chain: Option<PathBuf> = None,
        /// Car: the contract's private key (secp521r1), unencrypted. Default: unset.
        #[example = "\"/etc/ccsplc/contract20.key\""]
        contract_key: Option<PathBuf> = None,
        /// Charger: the trust anchors of contract chains (MO roots). Set: Plug & Charge is
        /// offered on TLS 1.3 connections. Default: unset.
        #[example = "\"/etc/ccsplc/mo-roots.pem\""]
        contract_roots: Option<PathBuf> = None,
        /// Both: run ISO 15118-20 on plain TCP or TLS 1.2 too. ISO 15118-20 requires TLS 1.3
        /// (§7.7.3); this is for test peers that run without TLS (Josev's default). Never on
        /// a public charger. Default: false.
        allow_without_tls: bool = false,
    }
}

config_section! {
    /// Charger: report what the car says about its battery to an HTTP endpoint (SmartEVSE).
    pub(crate) struct SocCallback in "soc_callback" {
        /// Enable the callback (needs `endpoint`). Default: false.
        /// pyPLC: `soc_callback_enabled`.
        #[ini = "soc_callback_enabled"]
        enabled: bool = false,
        /// The URL, without a trailing slash; ccsplc sends an HTTP POST to it with
        /// `?current_soc=&full_soc=&energy_capacity=&energy_request=&evccid=` (-1 for what the
        /// car does not say), as pyPLC does. Default: unset. pyPLC: `soc_callback_endpoint`.
        #[ini = "soc_callback_endpoint"]
        #[example = "\"http://smartevse.local/ev_state\""]
        endpoint: Option<String> = None,
        /// The battery capacity to report when the car sends no EVEnergyCapacity; 0 reports
        /// -1 (unknown). Unit: Wh. Default: 27000. pyPLC: `soc_fallback_energy_capacity`, in
        /// units of 10 Wh (2700 there is 27000 here; 0 or less there is 0 here).
        #[ini = "soc_fallback_energy_capacity", via = ini_energy_capacity_tens_of_wh]
        fallback_energy_capacity: u32 = 27_000,
    }
}

config_section! {
    /// The listener (`ccsplc listen`).
    pub(crate) struct Listen in "listen" {
        /// `passive` (only listen), `join` (configure the local modem with the key seen in
        /// CM_SLAC_MATCH.CNF to join the charging network) or `join_and_spoof` (also send
        /// frames from a spoofed MAC; disturbs the session). Default: `join`.
        /// pyPLC: `smart_listener_configuration` (0 = passive, 1 = join, 2 and more =
        /// join_and_spoof).
        #[ini = "smart_listener_configuration", via = ini_smart_listener]
        smart_listener: SmartListener = SmartListener::Join,
        /// Send each charger MAC seen to this URL (HTTP GET with `chargerMac`, `loops`, `pos`).
        /// Default: unset. pyPLC: `logging_url`.
        #[ini = "logging_url"]
        #[example = "\"http://example.org/pyPlcLogging/addLog.php\""]
        logging_url: Option<String> = None,
    }
}
