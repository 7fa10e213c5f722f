//! From the configuration to the configuration types of the protocol core and the adapters,
//! so that every command maps the file the same way.

use ccs_io::gpio::GpioConfig;
use ccs_io::mqtt::{MqttConfig, MqttRole};
use ccs_io::soc_callback::SocCallbackConfig;
use ccs_linux::tls::TlsProfile;
use ccs_proto::hardware::WattHours;
use ccs_proto::sdp::{SdpClientConfig, TlsWish};
use ccs_proto::session;
use ccs_proto::slac::{self, EvSlacConfig, EvseSlacConfig, ModemMode, SlacTimings};

use crate::cli;

use super::values::{AttenuationSource, ControlMode, Protocol, SlacProfile, TlsMode};
use super::{Config, Gpio, Mqtt, Sdp, Slac, SocCallback};

impl From<cli::Protocol> for Protocol {
    fn from(protocol: cli::Protocol) -> Self {
        match protocol {
            cli::Protocol::Din => Self::Din,
            cli::Protocol::Iso2 => Self::Iso2,
            cli::Protocol::Iso20Dc => Self::Iso20Dc,
            cli::Protocol::Iso20Bpt => Self::Iso20Bpt,
        }
    }
}

impl From<Protocol> for session::Protocol {
    fn from(protocol: Protocol) -> Self {
        match protocol {
            Protocol::Din => Self::Din70121,
            Protocol::Iso2 => Self::Iso15118_2,
            Protocol::Iso20Dc => Self::Iso15118_20Dc,
            Protocol::Iso20Bpt => Self::Iso15118_20DcBpt,
        }
    }
}

#[allow(
    dead_code,
    reason = "API for ev, evse, sim and listen, which are not built yet"
)]
impl Config {
    /// `--no-modem` / `general.no_modem`: no modem management.
    pub(crate) fn modem_mode(&self) -> ModemMode {
        if self.general.no_modem {
            ModemMode::None
        } else {
            ModemMode::Qca
        }
    }

    /// The car's SLAC configuration.
    pub(crate) fn ev_slac(&self) -> EvSlacConfig {
        let mut ev = EvSlacConfig::default();
        ev.timings = self.slac.timings();
        ev.modem = self.modem_mode();
        ev.wait_for_link = self.slac.wait_for_link;
        ev.max_mean_attenuation_db = self.slac.max_mean_attenuation_db;
        ev.set_key_result_zero_is_success = self.slac.set_key_result_zero_is_success;
        ev
    }

    /// The charger's SLAC configuration.
    pub(crate) fn evse_slac(&self) -> EvseSlacConfig {
        let mut evse = EvseSlacConfig::default();
        evse.timings = self.slac.timings();
        evse.modem = self.modem_mode();
        evse.attenuation_source = match self.slac.attenuation_source {
            AttenuationSource::MeasuredElseFixed => slac::AttenuationSource::MeasuredElseFixed,
            AttenuationSource::AlwaysFixed => slac::AttenuationSource::AlwaysFixed,
        };
        evse.attenuation_offset_db = self.slac.attenuation_offset_db;
        evse.set_key_result_zero_is_success = self.slac.set_key_result_zero_is_success;
        evse
    }

    /// The car's SDP client configuration (TLS wish from `tls.mode`).
    pub(crate) fn sdp_client(&self) -> SdpClientConfig {
        self.sdp.client(self.tls.mode)
    }

    /// The protocols in priority order, as the session machines name them.
    pub(crate) fn protocols(&self) -> Vec<session::Protocol> {
        self.session.protocols.iter().map(|&p| p.into()).collect()
    }

    /// The TLS rules of the offered protocols: TLS 1.3 for ISO 15118-20 (§7.7.3), TLS 1.2
    /// for ISO 15118-2 ([V2G2-067]), either per connection when both are offered (the
    /// session then keeps ISO 15118-20 to TLS 1.3 connections).
    pub(crate) fn tls_profile(&self) -> TlsProfile {
        let protocols = &self.session.protocols;
        let iso20 = protocols
            .iter()
            .any(|p| matches!(p, Protocol::Iso20Dc | Protocol::Iso20Bpt));
        match (iso20, protocols.contains(&Protocol::Iso2)) {
            // Each connection: TLS 1.3 for a car that asks for it, TLS 1.2 for any other.
            (true, true) => TlsProfile::Iso15118_2Or20,
            (true, false) => TlsProfile::Iso15118_20,
            // DIN SPEC 70121 has no TLS: ISO 15118-2's rules are the only ones that apply.
            (false, _) => TlsProfile::Iso15118_2,
        }
    }
}

impl Slac {
    /// The profile's timing with every timer and counter of the file put in.
    pub(crate) fn timings(&self) -> SlacTimings {
        let mut t = match self.profile {
            SlacProfile::Standard => SlacTimings::default(),
            SlacProfile::Pyplc => SlacTimings::pyplc_compatible(),
        };
        let set = |field: &mut ccs_proto::time::Duration, value: Option<super::Duration>| {
            if let Some(value) = value {
                *field = value.into();
            }
        };
        set(&mut t.tt_evse_slac_init, self.tt_evse_slac_init);
        set(&mut t.tt_match_sequence, self.tt_match_sequence);
        set(&mut t.tp_match_sequence, self.tp_match_sequence);
        set(&mut t.tt_match_response, self.tt_match_response);
        set(
            &mut t.tp_ev_batch_msg_interval,
            self.tp_ev_batch_msg_interval,
        );
        set(&mut t.tt_evse_match_mnbc, self.tt_evse_match_mnbc);
        set(&mut t.tp_evse_avg_atten_calc, self.tp_evse_avg_atten_calc);
        set(&mut t.tt_ev_atten_results, self.tt_ev_atten_results);
        set(&mut t.tp_ev_match_session, self.tp_ev_match_session);
        set(&mut t.tt_evse_match_session, self.tt_evse_match_session);
        set(&mut t.tt_match_join, self.tt_match_join);
        set(&mut t.tt_matching_rate, self.tt_matching_rate);
        set(&mut t.modem_response_timeout, self.modem_response_timeout);
        set(
            &mut t.link_status_poll_interval,
            self.link_status_poll_interval,
        );
        t.c_ev_match_retry = self.c_ev_match_retry.unwrap_or(t.c_ev_match_retry);
        t.c_ev_start_atten_char_inds = self
            .c_ev_start_atten_char_inds
            .unwrap_or(t.c_ev_start_atten_char_inds);
        t.c_ev_match_mnbc = self.c_ev_match_mnbc.unwrap_or(t.c_ev_match_mnbc);
        t.c_conn_max_match = self.c_conn_max_match.unwrap_or(t.c_conn_max_match);
        t.modem_request_attempts = self
            .modem_request_attempts
            .unwrap_or(t.modem_request_attempts);
        t
    }
}

impl Sdp {
    /// The SDP client configuration for `tls`.
    pub(crate) fn client(&self, tls: TlsMode) -> SdpClientConfig {
        let mut client = SdpClientConfig::default();
        client.sdp_response_timeout = self.response_timeout.into();
        client.max_requests = self.max_requests;
        client.require_dynamic_port = self.require_dynamic_port;
        client.tls = match tls {
            TlsMode::Off => TlsWish::NoTls,
            TlsMode::Optional => TlsWish::PreferTls {
                fallback_after: self.tls_fallback_after,
            },
            TlsMode::Required => TlsWish::RequireTls,
        };
        client
    }
}

impl Gpio {
    /// Whether the GPIO adapter drives an output line (CP state, contactor, lock): real
    /// actuators, which no simulated plant may confirm.
    pub(crate) fn drives_outputs(&self) -> bool {
        self.chip.is_some()
            && (self.cp_line.is_some() || self.contactor_line.is_some() || self.lock_line.is_some())
    }

    /// The GPIO adapter's configuration, if a chip is set.
    pub(crate) fn adapter(&self) -> Option<GpioConfig> {
        let chip = self.chip.as_ref()?;
        let mut gpio = GpioConfig::new(chip);
        gpio.cp_line = self.cp_line;
        gpio.contactor_line = self.contactor_line;
        gpio.lock_line = self.lock_line;
        gpio.stop_button_line = self.stop_button_line;
        gpio.stop_button_active_low = self.stop_button_active_low;
        gpio.contactor_feedback_line = self.contactor_feedback_line;
        Some(gpio)
    }
}

impl SocCallback {
    /// The SoC callback adapter's configuration, if enabled (validation makes sure an
    /// enabled callback has an endpoint).
    pub(crate) fn adapter(&self) -> Option<SocCallbackConfig> {
        let endpoint = self.endpoint.as_ref().filter(|_| self.enabled)?;
        let mut callback = SocCallbackConfig::new(endpoint.clone());
        callback.fallback_energy_capacity = (self.fallback_energy_capacity > 0)
            .then_some(WattHours(self.fallback_energy_capacity as f32));
        Some(callback)
    }
}

#[allow(dead_code, reason = "API for ev and evse, which are not built yet")]
impl Mqtt {
    /// The MQTT adapter's configuration for `role` (pyPLC's topic profile).
    pub(crate) fn adapter(&self, role: MqttRole) -> MqttConfig {
        let mut mqtt = MqttConfig::new(role);
        mqtt.host.clone_from(&self.broker);
        mqtt.port = self.port;
        mqtt.base_topic.clone_from(&self.topic);
        mqtt.client_id.clone_from(&self.client_id);
        mqtt.credentials = self
            .username
            .clone()
            .map(|user| (user, self.password.clone().unwrap_or_default()));
        mqtt.keep_alive = self.keepalive.get();
        mqtt.min_publish_interval = self.publish_interval.get();
        mqtt.reconnect_delay = self.reconnect_delay.get();
        mqtt.input_timeout = Some(self.input_timeout.get()).filter(|d| !d.is_zero());
        mqtt.tls = self.tls;
        mqtt
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Duration;

    #[test]
    fn defaults_give_the_cores_defaults() {
        let c = Config::default();
        assert_eq!(c.ev_slac(), EvSlacConfig::default());
        assert_eq!(c.evse_slac(), EvseSlacConfig::default());
        assert_eq!(c.sdp_client(), SdpClientConfig::default());
        assert_eq!(
            c.protocols(),
            vec![session::Protocol::Din70121, session::Protocol::Iso15118_2]
        );
    }

    #[test]
    fn the_pyplc_profile_is_the_cores_pyplc_timing() {
        let mut c = Config::default();
        c.slac.profile = SlacProfile::Pyplc;
        assert_eq!(c.slac.timings(), SlacTimings::pyplc_compatible());
    }

    #[test]
    fn timers_set_in_the_file_replace_the_profiles() {
        let mut c = Config::default();
        c.slac.profile = SlacProfile::Pyplc;
        c.slac.tt_match_join = Some(Duration::from_secs(20));
        c.slac.c_ev_match_mnbc = Some(5);
        c.general.no_modem = true;
        let ev = c.ev_slac();
        assert_eq!(
            ev.timings.tt_match_join,
            ccs_proto::time::Duration::from_secs(20)
        );
        assert_eq!(ev.timings.c_ev_match_mnbc, 5);
        // Untouched values stay the profile's.
        assert_eq!(
            ev.timings.tp_ev_match_session,
            SlacTimings::pyplc_compatible().tp_ev_match_session
        );
        assert_eq!(ev.modem, ModemMode::None);
    }

    #[test]
    fn tls_mode_becomes_the_sdp_wish() {
        let mut c = Config::default();
        c.tls.mode = TlsMode::Optional;
        c.sdp.tls_fallback_after = Some(50);
        assert_eq!(
            c.sdp_client().tls,
            TlsWish::PreferTls {
                fallback_after: Some(50)
            }
        );
        c.tls.mode = TlsMode::Required;
        assert_eq!(c.sdp_client().tls, TlsWish::RequireTls);
    }

    #[test]
    fn gpio_and_soc_callback_settings_reach_their_adapters() {
        let mut c = Config::default();
        assert!(c.gpio.adapter().is_none());
        assert!(c.soc_callback.adapter().is_none());
        c.gpio.chip = Some("/dev/gpiochip1".into());
        c.gpio.cp_line = Some(17);
        c.gpio.contactor_feedback_line = Some(24);
        let gpio = c.gpio.adapter().unwrap();
        assert_eq!(gpio.chip, std::path::Path::new("/dev/gpiochip1"));
        assert_eq!((gpio.cp_line, gpio.contactor_line), (Some(17), None));
        assert_eq!(gpio.contactor_feedback_line, Some(24));
        c.soc_callback.endpoint = Some("http://evse.local/ev_state".into());
        assert!(c.soc_callback.adapter().is_none(), "not enabled");
        c.soc_callback.enabled = true;
        let callback = c.soc_callback.adapter().unwrap();
        assert_eq!(callback.endpoint, "http://evse.local/ev_state");
        assert_eq!(callback.fallback_energy_capacity, Some(WattHours(27_000.0)));
        c.soc_callback.fallback_energy_capacity = 0;
        assert_eq!(
            c.soc_callback.adapter().unwrap().fallback_energy_capacity,
            None
        );
    }

    #[test]
    fn mqtt_settings_reach_the_adapter() {
        let mut c = Config::default();
        c.mqtt.broker = "broker.local".into();
        c.mqtt.username = Some("u".into());
        c.mqtt.input_timeout = Duration::from_secs(3);
        let mqtt = c.mqtt.adapter(MqttRole::Vehicle);
        assert_eq!(mqtt.host, "broker.local");
        assert_eq!(mqtt.base_topic, "pyPlc");
        assert_eq!(mqtt.credentials, Some(("u".into(), String::new())));
        assert_eq!(mqtt.input_timeout, Some(std::time::Duration::from_secs(3)));
        c.mqtt.input_timeout = Duration::from_secs(0);
        assert_eq!(c.mqtt.adapter(MqttRole::Vehicle).input_timeout, None);
        let defaults = MqttConfig::new(MqttRole::Vehicle);
        assert_eq!(mqtt.keep_alive, defaults.keep_alive);
        assert_eq!(mqtt.min_publish_interval, defaults.min_publish_interval);
        assert_eq!(mqtt.reconnect_delay, defaults.reconnect_delay);
    }
}

/// The car's ISO 15118-2 setup: the session options and the Plug & Charge keys.
#[derive(Debug)]
pub(crate) struct Iso2Car {
    /// `EvccConfig::iso2`.
    pub(crate) options: session::iso2::EvOptions,
    /// The contract key (`EvccSession::set_contract_signer`).
    pub(crate) signer: Option<std::sync::Arc<dyn session::iso2::pnc::ContractSigner>>,
    /// The OEM provisioning identity (`EvccSession::set_certificate_installer`).
    pub(crate) installer: Option<std::sync::Arc<dyn session::iso2::pnc::CertificateInstaller>>,
}

impl super::Iso2 {
    /// The car's ISO 15118-2 options and keys; the V2G roots for a contract installation are
    /// `tls.trust_anchors`.
    pub(crate) fn car(&self, tls: &super::Tls) -> Result<Iso2Car, ccs_linux::LinkError> {
        use ccs_linux::pnc::{OpensslCertificateInstaller, OpensslSigner, load_contract};
        use session::iso2::{EnergyTransfer, PaymentMethod};
        let mut options = session::iso2::EvOptions::default();
        options.energy_transfer = if self.ac {
            EnergyTransfer::AcThreePhase
        } else {
            EnergyTransfer::DcExtended
        };
        options.pause_instead_of_terminate = self.pause_instead_of_terminate;
        let mut car = Iso2Car {
            options,
            signer: None,
            installer: None,
        };
        if !self.plug_and_charge {
            return Ok(car);
        }
        car.options.payment = PaymentMethod::Contract;
        if let (Some(chain), Some(key)) = (&self.contract_chain, &self.contract_key) {
            car.options.contract = Some(load_contract(chain)?);
            car.signer = Some(std::sync::Arc::new(OpensslSigner::from_pem_file(key)?));
        }
        if let (Some(chain), Some(key), Some(roots)) = (
            &self.oem_provisioning_chain,
            &self.oem_provisioning_key,
            &tls.trust_anchors,
        ) {
            car.installer = Some(std::sync::Arc::new(
                OpensslCertificateInstaller::from_pem_files(
                    chain,
                    key,
                    std::slice::from_ref(roots),
                )?,
            ));
        }
        if car.signer.is_none() && car.installer.is_none() {
            return Err(ccs_linux::LinkError::Config(
                "iso2.plug_and_charge needs iso2.contract_chain and iso2.contract_key, or the \
                 OEM provisioning chain and key and tls.trust_anchors"
                    .into(),
            ));
        }
        Ok(car)
    }

    /// The charger's ISO 15118-2 options, and its Plug & Charge setup when contract roots
    /// are configured.
    pub(crate) fn charger(&self) -> Result<Iso2Charger, ccs_linux::LinkError> {
        use ccs_linux::pnc::{FileCertificateBackend, OpensslVerifier};
        let mut options = session::iso2::EvseOptions::default();
        options.evse_id.clone_from(&self.evse_id);
        options.receipt_required = self.receipt_required;
        let Some(roots) = &self.contract_roots else {
            return Ok(Iso2Charger {
                options,
                verifier: None,
                backend: None,
            });
        };
        Ok(Iso2Charger {
            options,
            verifier: Some(std::sync::Arc::new(OpensslVerifier::from_pem_files(
                std::slice::from_ref(roots),
            )?)),
            backend: self.certificate_backend_dir.as_ref().map(|dir| {
                std::sync::Arc::new(FileCertificateBackend::new(dir.clone()))
                    as std::sync::Arc<dyn session::iso2::pnc::CertificateBackend>
            }),
        })
    }
}

/// The charger's ISO 15118-2 setup, loaded once for every session.
#[derive(Debug)]
pub(crate) struct Iso2Charger {
    /// `SeccConfig::iso2`.
    pub(crate) options: session::iso2::EvseOptions,
    /// Checks contract chains against the MO roots; `None`: no Plug & Charge.
    verifier: Option<std::sync::Arc<dyn session::iso2::pnc::ContractVerifier>>,
    /// The certificate service (installation, update), if offered.
    backend: Option<std::sync::Arc<dyn session::iso2::pnc::CertificateBackend>>,
}

impl Iso2Charger {
    /// The Plug & Charge setup of one session with its fresh random `gen_challenge`;
    /// `None` without contract roots.
    pub(crate) fn pnc(&self, gen_challenge: [u8; 16]) -> Option<session::iso2::SeccPnc> {
        Some(session::iso2::SeccPnc {
            verifier: self.verifier.clone()?,
            backend: self.backend.clone(),
            gen_challenge,
        })
    }
}

/// The car's ISO 15118-20 setup: the session options and the Plug & Charge key.
#[derive(Debug)]
pub(crate) struct Iso20Car {
    /// `EvccConfig::iso20`'s control mode, authorization and TLS rule.
    control_mode: session::iso20::ControlMode,
    authorization: session::iso20::Authorization,
    allow_without_tls: bool,
    /// The contract key (`EvccSession::set_iso20_signer`).
    signer: Option<std::sync::Arc<dyn session::iso20::pnc::ContractSigner>>,
}

impl Iso20Car {
    /// Puts the options into `car` and the key into `session`'s setter via the returned
    /// signer.
    pub(crate) fn configure(
        &self,
        car: &mut session::EvccConfig,
    ) -> Option<std::sync::Arc<dyn session::iso20::pnc::ContractSigner>> {
        car.iso20.control_mode = self.control_mode;
        car.iso20.authorization = self.authorization.clone();
        car.iso20.allow_without_tls = self.allow_without_tls;
        self.signer.clone()
    }
}

/// The charger's ISO 15118-20 setup, loaded once for every session.
#[derive(Debug)]
pub(crate) struct Iso20Charger {
    allow_without_tls: bool,
    /// Checks contract chains against the MO roots; `None`: no Plug & Charge.
    verifier: Option<std::sync::Arc<dyn session::iso20::pnc::ContractVerifier>>,
}

impl Iso20Charger {
    /// Puts the options of one session into `charger`, with its fresh random
    /// `gen_challenge`; returns the verifier for `SeccSession::set_iso20_verifier`.
    pub(crate) fn configure(
        &self,
        charger: &mut session::SeccConfig,
        gen_challenge: [u8; 16],
    ) -> Option<std::sync::Arc<dyn session::iso20::pnc::ContractVerifier>> {
        charger.iso20.allow_without_tls = self.allow_without_tls;
        charger.iso20.offer_pnc = self.verifier.is_some();
        charger.iso20.gen_challenge = gen_challenge;
        self.verifier.clone()
    }
}

impl super::Iso20 {
    /// The car's ISO 15118-20 options and contract key.
    pub(crate) fn car(&self) -> Result<Iso20Car, ccs_linux::LinkError> {
        use ccs_linux::pnc::load_contract;
        use ccs_linux::pnc20::Iso20Signer;
        let mut car = Iso20Car {
            control_mode: match self.control_mode {
                ControlMode::Scheduled => session::iso20::ControlMode::Scheduled,
                ControlMode::Dynamic => session::iso20::ControlMode::Dynamic,
            },
            authorization: session::iso20::Authorization::Eim,
            allow_without_tls: self.allow_without_tls,
            signer: None,
        };
        if !self.plug_and_charge {
            return Ok(car);
        }
        let (Some(chain), Some(key)) = (&self.contract_chain, &self.contract_key) else {
            return Err(ccs_linux::LinkError::Config(
                "iso20.plug_and_charge needs iso20.contract_chain and iso20.contract_key".into(),
            ));
        };
        let contract = load_contract(chain)?;
        car.authorization = session::iso20::Authorization::PnC {
            contract_certificate: contract.certificate,
            sub_certificates: contract.sub_certificates,
        };
        car.signer = Some(std::sync::Arc::new(Iso20Signer::from_pem_file(key)?));
        Ok(car)
    }

    /// The charger's ISO 15118-20 options, and its contract verifier when contract roots are
    /// configured.
    pub(crate) fn charger(&self) -> Result<Iso20Charger, ccs_linux::LinkError> {
        use ccs_linux::pnc20::Iso20Verifier;
        let verifier = match &self.contract_roots {
            Some(roots) => Some(std::sync::Arc::new(Iso20Verifier::from_pem_files(
                std::slice::from_ref(roots),
            )?)
                as std::sync::Arc<dyn session::iso20::pnc::ContractVerifier>),
            None => None,
        };
        Ok(Iso20Charger {
            allow_without_tls: self.allow_without_tls,
            verifier,
        })
    }
}

#[cfg(test)]
mod iso2_tests {
    use super::super::{Iso2, Iso20, Tls};

    #[test]
    fn iso2_defaults_are_dc_eim_without_pnc() {
        let car = Iso2::default().car(&Tls::default()).unwrap();
        assert!(car.options.energy_transfer.is_dc());
        assert_eq!(
            car.options.payment,
            ccs_proto::session::iso2::PaymentMethod::ExternalPayment
        );
        assert!(car.signer.is_none() && car.installer.is_none());
        let charger = Iso2::default().charger().unwrap();
        assert_eq!(charger.options.evse_id, "ZZ00000");
        assert!(charger.pnc([7; 16]).is_none());
    }

    #[test]
    fn iso20_plug_and_charge_without_keys_is_a_configuration_error() {
        let iso20 = Iso20 {
            plug_and_charge: true,
            ..Iso20::default()
        };
        let err = iso20.car().unwrap_err();
        assert!(err.to_string().contains("iso20.contract_chain"), "{err}");
        let charger = Iso20::default().charger().unwrap();
        let mut secc = ccs_proto::session::SeccConfig::default();
        assert!(charger.configure(&mut secc, [1; 16]).is_none());
        assert!(!secc.iso20.offer_pnc);
    }

    #[test]
    fn plug_and_charge_without_keys_is_a_configuration_error() {
        let iso2 = Iso2 {
            plug_and_charge: true,
            ..Iso2::default()
        };
        let err = iso2.car(&Tls::default()).unwrap_err();
        assert!(err.to_string().contains("iso2.contract_chain"), "{err}");
    }
}
