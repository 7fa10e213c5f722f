//! Whole ISO 15118-20 DC and DC_BPT sessions: our car against our charger over an in-memory
//! connection, with the physics of ccs-sim, under a virtual clock. Scheduled and dynamic
//! control, vehicle-to-home discharge, charger stops, refusals and timeouts.

#[path = "din_support/mod.rs"]
mod din_support;

use ccs_msg::iso20::types::{EVSEStatusType, EvseNotificationType, ResponseCodeType};
use ccs_msg::iso20::{common, dc};
use ccs_proto::hardware::{Amps, ContactorRequest, CpState, HardwareCommand, LockRequest, Watts};
use ccs_proto::session::iso20::values::{Message, MessageKind};
use ccs_proto::session::iso20::{Authorization, ControlMode, pnc};
use ccs_proto::session::{
    EvccConfig, Outcome, Protocol, ProtocolOffer, SeccConfig, SessionError, SessionEvent,
    Transport, V2gSession,
};
use ccs_proto::time::Duration;
use ccs_sim::physics::PlantConfig;
use din_support::{Fate, Pair, Side, actuator_commands};
use sha2::Digest as _;
use std::sync::Arc;

fn car(protocol: Protocol, mode: ControlMode, charge_secs: u64) -> EvccConfig {
    let mut c = EvccConfig::default();
    c.protocols = vec![ProtocolOffer {
        protocol,
        priority: 1,
        schema_id: 1,
    }];
    c.iso20.control_mode = mode;
    c.charge_duration = Some(Duration::from_secs(charge_secs));
    // The in-memory connection has no TLS (the TLS tests below turn this off).
    c.iso20.allow_without_tls = true;
    c
}

fn charger(protocols: &[Protocol]) -> SeccConfig {
    let mut c = SeccConfig::default();
    c.protocols = protocols.to_vec();
    c.iso20.allow_without_tls = true;
    c
}

/// A plant whose power supply can sink 40 A (a bidirectional charger).
fn bidirectional_plant() -> PlantConfig {
    let mut p = PlantConfig::default();
    p.power_supply.max_sink_current = Amps(40.0);
    p.initial_soc = ccs_proto::hardware::Percent(60.0);
    p
}

const BOTH: [Protocol; 2] = [Protocol::Iso15118_20Dc, Protocol::Iso15118_20DcBpt];

const SEQUENCE: [&str; 16] = [
    "supportedAppProtocolReq",
    "SessionSetupReq",
    "AuthorizationSetupReq",
    "AuthorizationReq",
    "ServiceDiscoveryReq",
    "ServiceDetailReq",
    "ServiceSelectionReq",
    "DC_ChargeParameterDiscoveryReq",
    "ScheduleExchangeReq",
    "DC_CableCheckReq",
    "DC_PreChargeReq",
    "PowerDeliveryReq",
    "DC_ChargeLoopReq",
    "PowerDeliveryReq",
    "DC_WeldingDetectionReq",
    "SessionStopReq",
];

const SAFE_ORDER: [HardwareCommand; 6] = [
    HardwareCommand::CpState(CpState::C),
    HardwareCommand::ConnectorLock(LockRequest::Lock),
    HardwareCommand::Contactors(ContactorRequest::Closed),
    HardwareCommand::CpState(CpState::B),
    HardwareCommand::Contactors(ContactorRequest::Open),
    HardwareCommand::ConnectorLock(LockRequest::Unlock),
];

fn received(p: &Pair, side: Side) -> Vec<(&'static str, String)> {
    let events = match side {
        Side::Car => &p.car_events,
        Side::Charger => &p.charger_events,
    };
    events
        .iter()
        .filter_map(|(_, e)| match e {
            SessionEvent::Received { name, summary } => Some((*name, summary.clone())),
            _ => None,
        })
        .collect()
}

fn run_completed(p: &mut Pair) {
    p.connect();
    assert!(p.run(Duration::from_secs(300)), "session did not finish");
    assert_eq!(
        p.car_outcome(),
        Some(Outcome::Completed),
        "{:?}",
        p.car_events
    );
    assert_eq!(p.charger_outcome(), Some(Outcome::Completed));
    let mut sent = p.sent(Side::Car);
    sent.dedup();
    assert_eq!(sent, SEQUENCE);
    assert_eq!(actuator_commands(&p.car_commands), SAFE_ORDER);
    p.settle(Duration::from_secs(1));
    assert!(!p.plant.contactors_closed());
    assert!(!p.plant.locked());
    assert_eq!(p.car.poll_timeout(), None);
    assert_eq!(p.charger.poll_timeout(), None);
}

fn charge_loop_currents(p: &Pair) -> Vec<f32> {
    p.car_events
        .iter()
        .filter_map(|(_, e)| match e {
            SessionEvent::Values(v) => v.present_current,
            _ => None,
        })
        .collect()
}

#[test]
fn dc_scheduled_session_charges_the_battery() {
    let mut p = Pair::new(
        car(Protocol::Iso15118_20Dc, ControlMode::Scheduled, 20),
        charger(&[Protocol::Iso15118_20Dc]),
        PlantConfig::default(),
    );
    let soc = p.plant.battery().soc();
    run_completed(&mut p);
    assert!(p.plant.battery().soc() > soc, "the battery was charged");
    let step = p.plant.last_contactor_close_step().expect("closed");
    assert!(step.0 < 10.0, "contactors closed on a {step} step");
    // The charger selected DC (ServiceID 2) with the Scheduled parameter set.
    let selection = received(&p, Side::Charger)
        .into_iter()
        .find(|(n, _)| *n == "ServiceSelectionReq")
        .expect("selection");
    assert_eq!(selection.1, "ServiceID=2 ParameterSetID=1");
    assert!(charge_loop_currents(&p).iter().any(|&i| i > 5.0));
}

#[test]
fn pyplc_style_charger_with_a_simulated_precharge_voltage_precharges() {
    // pyPLC's EVSE default `evse_simulate_precharge`: the reported voltage rises towards the
    // car's target (`ccsplc evse` without hardware runs this way). The car has no inlet sensor,
    // like pyPLC's simulated car: the simulated voltage is not on the plant's inlet.
    let mut sc = charger(&[Protocol::Iso15118_20Dc]);
    sc.evse_simulate_precharge = true;
    let mut ec = car(Protocol::Iso15118_20Dc, ControlMode::Scheduled, 5);
    ec.inlet_voltage_plausibility_tolerance = None;
    let mut p = Pair::new(ec, sc, PlantConfig::default());
    p.connect();
    assert!(p.run(Duration::from_secs(120)), "session did not finish");
    assert_eq!(
        p.car_outcome(),
        Some(Outcome::Completed),
        "{:?}",
        p.car_events
    );
    let precharge: Vec<String> = received(&p, Side::Car)
        .into_iter()
        .filter(|(n, _)| *n == "DC_PreChargeRes")
        .map(|(_, s)| s)
        .collect();
    assert!(precharge.len() >= 2, "{precharge:?}");
    assert_ne!(
        precharge[0],
        precharge[precharge.len() - 1],
        "the voltage rose"
    );
    assert!(p.sent(Side::Car).contains(&"DC_ChargeLoopReq"));
}

#[test]
fn dc_dynamic_session_lets_the_charger_decide_the_current() {
    let mut sc = charger(&[Protocol::Iso15118_20Dc]);
    sc.iso20.dynamic_current = Some(Amps(40.0));
    // The plant's 50 kW: a power supply's report only lowers the configured maximum, and
    // the default 10 kW (pyPLC's) would bound the current below 40 A at 410 V.
    sc.limits.max_power = Watts(50_000.0);
    let mut p = Pair::new(
        car(Protocol::Iso15118_20Dc, ControlMode::Dynamic, 20),
        sc,
        PlantConfig::default(),
    );
    let soc = p.plant.battery().soc();
    run_completed(&mut p);
    assert!(p.plant.battery().soc() > soc);
    let selection = received(&p, Side::Charger)
        .into_iter()
        .find(|(n, _)| *n == "ServiceSelectionReq")
        .expect("selection");
    assert_eq!(selection.1, "ServiceID=2 ParameterSetID=2");
    // The car's request carries no target current; the charger's 40 A decides.
    let currents = charge_loop_currents(&p);
    let peak = currents.iter().copied().fold(0.0f32, f32::max);
    assert!((35.0..=41.0).contains(&peak), "{currents:?}");
}

#[test]
fn bpt_scheduled_vehicle_to_home_discharges_the_battery() {
    let mut c = car(Protocol::Iso15118_20DcBpt, ControlMode::Scheduled, 30);
    c.iso20.bpt.discharge_current = Some(Amps(25.0));
    let mut p = Pair::new(c, charger(&BOTH), bidirectional_plant());
    let soc = p.plant.battery().soc();
    run_completed(&mut p);
    assert!(
        p.plant.battery().soc() < soc,
        "energy flowed out of the battery: {} -> {}",
        soc,
        p.plant.battery().soc()
    );
    let selection = received(&p, Side::Charger)
        .into_iter()
        .find(|(n, _)| *n == "ServiceSelectionReq")
        .expect("selection");
    assert_eq!(selection.1, "ServiceID=6 ParameterSetID=1");
    // Negative target currents in the loop, negative present currents back.
    let loop_reqs: Vec<String> = received(&p, Side::Charger)
        .into_iter()
        .filter(|(n, _)| *n == "DC_ChargeLoopReq")
        .map(|(_, s)| s)
        .collect();
    assert!(
        loop_reqs.iter().all(|s| s.contains("/-25.0A")),
        "{loop_reqs:?}"
    );
    assert!(charge_loop_currents(&p).iter().any(|&i| i < -20.0));
    let pd = received(&p, Side::Charger)
        .into_iter()
        .find(|(n, _)| *n == "PowerDeliveryReq")
        .expect("PowerDeliveryReq");
    assert!(pd.1.contains("Discharge"), "{pd:?}");
}

#[test]
fn bpt_dynamic_charger_draws_power_from_the_car() {
    let mut c = car(Protocol::Iso15118_20DcBpt, ControlMode::Dynamic, 30);
    c.iso20.bpt.discharge_current = None;
    let mut sc = charger(&BOTH);
    // The home's energy manager asks for 20 A out of the car.
    sc.iso20.dynamic_current = Some(Amps(-20.0));
    let mut p = Pair::new(c, sc, bidirectional_plant());
    let soc = p.plant.battery().soc();
    run_completed(&mut p);
    assert!(p.plant.battery().soc() < soc);
    let currents = charge_loop_currents(&p);
    let lowest = currents.iter().copied().fold(0.0f32, f32::min);
    assert!((-21.0..=-15.0).contains(&lowest), "{currents:?}");
}

#[test]
fn discharge_is_clamped_to_the_cars_limit() {
    let mut c = car(Protocol::Iso15118_20DcBpt, ControlMode::Dynamic, 20);
    c.iso20.bpt.max_discharge_current = Amps(10.0);
    c.iso20.bpt.discharge_current = None;
    let mut sc = charger(&BOTH);
    sc.iso20.dynamic_current = Some(Amps(-35.0));
    let mut p = Pair::new(c, sc, bidirectional_plant());
    run_completed(&mut p);
    let lowest = charge_loop_currents(&p).into_iter().fold(0.0f32, f32::min);
    assert!((-10.5..-5.0).contains(&lowest), "{lowest}");
}

#[test]
fn a_dc_only_charger_gives_a_bpt_car_dc_when_it_also_offered_dc() {
    let mut c = car(Protocol::Iso15118_20DcBpt, ControlMode::Scheduled, 10);
    c.protocols.push(ProtocolOffer {
        protocol: Protocol::Iso15118_20Dc,
        priority: 2,
        schema_id: 2,
    });
    let mut p = Pair::new(
        c,
        charger(&[Protocol::Iso15118_20Dc]),
        PlantConfig::default(),
    );
    let soc = p.plant.battery().soc();
    run_completed(&mut p);
    assert!(p.plant.battery().soc() > soc);
}

#[test]
fn a_bpt_only_car_refuses_a_dc_only_charger() {
    let mut p = Pair::new(
        car(Protocol::Iso15118_20DcBpt, ControlMode::Scheduled, 10),
        charger(&[Protocol::Iso15118_20Dc]),
        PlantConfig::default(),
    );
    p.connect();
    assert!(p.run(Duration::from_secs(60)));
    assert!(matches!(
        p.car_outcome(),
        Some(Outcome::Failed(SessionError::PeerIncompatible(_)))
    ));
    assert!(!p.plant.contactors_closed());
}

#[test]
fn charger_stop_sends_terminate_and_the_car_winds_down_normally() {
    let mut p = Pair::new(
        car(Protocol::Iso15118_20Dc, ControlMode::Scheduled, 600),
        charger(&[Protocol::Iso15118_20Dc]),
        PlantConfig::default(),
    );
    p.connect();
    let mut stopped = false;
    let done = p.run_until(Duration::from_secs(120), |p| {
        if !stopped && p.sent(Side::Car).contains(&"DC_ChargeLoopReq") {
            p.plant.set_charging_enabled(false);
            stopped = true;
        }
        false
    });
    assert!(done && stopped);
    assert_eq!(p.car_outcome(), Some(Outcome::Completed));
    assert!(p.charger.stopped_by_user());
    assert!(
        received(&p, Side::Car)
            .iter()
            .any(|(n, s)| *n == "DC_ChargeLoopRes" && s.contains("Terminate"))
    );
    let mut sent = p.sent(Side::Car);
    sent.dedup();
    assert!(sent.ends_with(&[
        "DC_ChargeLoopReq",
        "PowerDeliveryReq",
        "DC_WeldingDetectionReq",
        "SessionStopReq"
    ]));
    assert_eq!(actuator_commands(&p.car_commands), SAFE_ORDER);
}

#[test]
fn user_stop_at_the_car_ends_normally() {
    let mut p = Pair::new(
        car(Protocol::Iso15118_20Dc, ControlMode::Dynamic, 600),
        charger(&[Protocol::Iso15118_20Dc]),
        PlantConfig::default(),
    );
    p.connect();
    let mut stopped = false;
    assert!(p.run_until(Duration::from_secs(120), |p| {
        if !stopped && p.sent(Side::Car).contains(&"DC_ChargeLoopReq") {
            p.car.handle_stop_request(p.now);
            stopped = true;
        }
        false
    }));
    assert_eq!(p.car_outcome(), Some(Outcome::Completed));
    assert_eq!(p.charger_outcome(), Some(Outcome::Completed));
}

/// Replaces the car's message `name` once with `replacement` (a request of the car's own
/// making that the charger must refuse).
fn replace_first(p: &mut Pair, name: &'static str, replacement: Message) {
    let mut done = false;
    p.filter = Some(Box::new(move |side, bytes| {
        if done || side != Side::Car {
            return Fate::Deliver;
        }
        let is_it = [
            ccs_proto::v2gtp::PayloadType::Iso20Mainstream,
            ccs_proto::v2gtp::PayloadType::Iso20Dc,
        ]
        .into_iter()
        .filter_map(|pt| Message::decode(pt, bytes).ok())
        .any(|m| m.request_kind().map(MessageKind::request_name) == Some(name));
        if !is_it {
            return Fate::Deliver;
        }
        done = true;
        let (_, bytes) = replacement.encode().expect("encodes");
        Fate::Replace(bytes)
    }));
}

#[test]
fn an_out_of_order_request_is_a_sequence_error_and_the_car_shuts_down_safely() {
    let mut p = Pair::new(
        car(Protocol::Iso15118_20Dc, ControlMode::Scheduled, 10),
        charger(&[Protocol::Iso15118_20Dc]),
        PlantConfig::default(),
    );
    // The car's ServiceDiscoveryReq arrives as a SessionStop... no: as a PowerDeliveryReq(Start).
    let sid = din_support::SESSION_ID.to_vec();
    let bogus = Message::Common(common::Document::PowerDeliveryReq(
        common::PowerDeliveryReqType {
            header: ccs_proto::session::iso20::values::header(&sid, 0),
            ev_processing: ccs_msg::iso20::types::ProcessingType::Finished,
            charge_progress: common::ChargeProgressType::Start,
            ev_power_profile: None,
            bpt_channel_selection: None,
        },
    ));
    replace_first(&mut p, "ServiceDiscoveryReq", bogus);
    p.connect();
    assert!(p.run(Duration::from_secs(60)));
    assert!(matches!(
        p.charger_outcome(),
        Some(Outcome::Failed(SessionError::PeerMisbehaved(_)))
    ));
    // The car got the refusal (in a PowerDeliveryRes it did not expect) and failed safely.
    assert!(matches!(p.car_outcome(), Some(Outcome::Failed(_))));
    let sent = p.sent(Side::Charger);
    assert_eq!(sent.last(), Some(&"PowerDeliveryRes"));
    assert!(!p.plant.contactors_closed());
}

#[test]
fn an_unknown_session_id_is_refused() {
    let mut p = Pair::new(
        car(Protocol::Iso15118_20Dc, ControlMode::Scheduled, 10),
        charger(&[Protocol::Iso15118_20Dc]),
        PlantConfig::default(),
    );
    let bogus = Message::Common(common::Document::AuthorizationSetupReq(
        common::AuthorizationSetupReqType {
            header: ccs_proto::session::iso20::values::header(&[9; 8], 0),
        },
    ));
    replace_first(&mut p, "AuthorizationSetupReq", bogus);
    p.connect();
    assert!(p.run(Duration::from_secs(60)));
    let res = received(&p, Side::Car);
    assert!(
        res.iter()
            .any(|(n, s)| *n == "AuthorizationSetupRes" && s.starts_with("FAILED_UnknownSession")),
        "{res:?}"
    );
    assert!(matches!(
        p.car_outcome(),
        Some(Outcome::Failed(SessionError::PeerRefused(_)))
    ));
}

#[test]
fn authorization_waits_while_ongoing_then_continues() {
    let mut sc = charger(&[Protocol::Iso15118_20Dc]);
    sc.authorize_automatically = false;
    let mut plant = PlantConfig::default();
    plant.authorization_delay = Duration::from_secs(3);
    let mut p = Pair::new(
        car(Protocol::Iso15118_20Dc, ControlMode::Scheduled, 5),
        sc,
        plant,
    );
    run_completed(&mut p);
    let auth: Vec<String> = received(&p, Side::Car)
        .into_iter()
        .filter(|(n, _)| *n == "AuthorizationRes")
        .map(|(_, s)| s)
        .collect();
    assert!(auth.len() > 2, "{auth:?}");
    assert!(auth[0].contains("Ongoing"));
    assert!(auth.last().is_some_and(|s| s.contains("Finished")));
}

/// Test crypto for Plug & Charge: the contract "key" is the certificate's bytes and a
/// signature is SHA-512(certificate ‖ data), so a signature verifies only with the certificate
/// that made it and only over the bytes signed; a chain is trusted when its leaf is
/// [`TRUSTED_CONTRACT`] (the OpenSSL implementation is tested in ccs-linux).
#[derive(Debug)]
struct TestContract(Vec<u8>);

const TRUSTED_CONTRACT: &[u8] = &[0x30, 0x82, 0x01, 0x00, 0x42];

impl pnc::ContractSigner for TestContract {
    fn suite(&self) -> pnc::SignatureSuite {
        pnc::SignatureSuite::EcdsaSecp521r1Sha512
    }
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, pnc::PncError> {
        Ok(sha2::Sha512::digest([self.0.as_slice(), data].concat()).to_vec())
    }
}

#[derive(Debug)]
struct TestRoots;

impl pnc::ContractVerifier for TestRoots {
    fn verify_chain(
        &self,
        leaf: &[u8],
        subs: &[Vec<u8>],
    ) -> Result<pnc::VerifiedContract, pnc::PncError> {
        if leaf == TRUSTED_CONTRACT && !subs.is_empty() {
            Ok(pnc::VerifiedContract {
                common_name: Some("DEPNXC000000001".into()),
            })
        } else {
            Err(pnc::PncError::CertChain("unknown issuer".into()))
        }
    }
    fn verify_signature(
        &self,
        _: pnc::SignatureSuite,
        certificate: &[u8],
        data: &[u8],
        signature: &[u8],
    ) -> Result<(), pnc::PncError> {
        let signer = TestContract(certificate.to_vec());
        if pnc::ContractSigner::sign(&signer, data)? == signature {
            Ok(())
        } else {
            Err(pnc::PncError::Signature("ECDSA verification failed".into()))
        }
    }
}

/// A PnC pair: the car with the contract `certificate` and its key, the charger with the test
/// roots, GenChallenge 0x42…, both over "TLS 1.3".
fn pnc_pair(certificate: &[u8]) -> Pair {
    let mut c = car(Protocol::Iso15118_20Dc, ControlMode::Scheduled, 5);
    c.iso20.allow_without_tls = false;
    c.iso20.authorization = Authorization::PnC {
        contract_certificate: certificate.to_vec(),
        sub_certificates: vec![vec![0x30, 0x01]],
    };
    let mut sc = charger(&[Protocol::Iso15118_20Dc]);
    sc.iso20.allow_without_tls = false;
    sc.iso20.offer_pnc = true;
    sc.iso20.gen_challenge = [0x42; 16];
    let mut p = Pair::new(c, sc, PlantConfig::default());
    p.car.set_transport(Transport::Tls13);
    p.charger.set_transport(Transport::Tls13);
    p.car
        .set_iso20_signer(Arc::new(TestContract(certificate.to_vec())));
    p.charger.set_iso20_verifier(Arc::new(TestRoots));
    p
}

fn authorization_res(p: &Pair) -> Vec<String> {
    received(p, Side::Car)
        .into_iter()
        .filter(|(n, _)| *n == "AuthorizationRes")
        .map(|(_, s)| s)
        .collect()
}

#[test]
fn pnc_with_a_valid_signature_and_the_right_challenge_charges() {
    let mut p = pnc_pair(TRUSTED_CONTRACT);
    run_completed(&mut p);
    assert!(
        received(&p, Side::Charger)
            .iter()
            .any(|(n, s)| *n == "AuthorizationReq" && s == "PnC")
    );
    assert!(p.charger_events.iter().any(|(_, e)| matches!(
        e,
        SessionEvent::Received { name: "contract", summary } if summary.contains("DEPNXC000000001")
    )));
    // The AuthorizationReq carries the header signature over PnC_AReqAuthorizationMode.
    let signed = p.transcript.iter().any(|(side, bytes)| {
        *side == Side::Car
            && matches!(
                Message::decode(ccs_proto::v2gtp::PayloadType::Iso20Mainstream, bytes),
                Ok(Message::Common(common::Document::AuthorizationReq(req)))
                    if req.header.signature.as_ref().is_some_and(|s| {
                        s.signed_info.reference[0].uri.as_deref() == Some("#id1")
                            && s.signed_info.signature_method.algorithm.ends_with("ecdsa-sha512")
                    })
            )
    });
    assert!(signed, "AuthorizationReq without the SHA-512 signature");
}

#[test]
fn pnc_with_the_wrong_challenge_is_refused_and_ends_with_session_stop() {
    let mut p = pnc_pair(TRUSTED_CONTRACT);
    // The challenge is altered on its way to the car: the car signs (validly) a challenge the
    // charger never issued, so the charger answers WARNING_ChallengeInvalid.
    p.filter = Some(Box::new(|side, bytes| {
        let Ok(Message::Common(common::Document::AuthorizationSetupRes(mut res))) =
            Message::decode(ccs_proto::v2gtp::PayloadType::Iso20Mainstream, bytes)
        else {
            return Fate::Deliver;
        };
        assert_eq!(side, Side::Charger);
        if let common::AuthorizationSetupResType_ASResAuthorizationMode::PnC_ASResAuthorizationMode(
            m,
        ) = &mut res.as_res_authorization_mode
        {
            m.gen_challenge = vec![0; 16];
        }
        let msg = Message::Common(common::Document::AuthorizationSetupRes(res));
        Fate::Replace(msg.encode().expect("encodes").1)
    }));
    p.connect();
    assert!(p.run(Duration::from_secs(60)));
    let auth = authorization_res(&p);
    assert!(
        auth.iter()
            .any(|s| s.starts_with("WARNING_ChallengeInvalid")),
        "{auth:?}"
    );
    assert_eq!(p.sent(Side::Car).last(), Some(&"SessionStopReq"));
    assert!(matches!(
        p.car_outcome(),
        Some(Outcome::Failed(SessionError::PeerRefused(_)))
    ));
    assert_eq!(p.charger_outcome(), Some(Outcome::Completed));
}

#[test]
fn a_pnc_authorization_changed_after_signing_fails_with_signature_error() {
    let mut p = pnc_pair(TRUSTED_CONTRACT);
    p.filter = Some(Box::new(|_, bytes| {
        let Ok(Message::Common(common::Document::AuthorizationReq(mut req))) =
            Message::decode(ccs_proto::v2gtp::PayloadType::Iso20Mainstream, bytes)
        else {
            return Fate::Deliver;
        };
        if let common::AuthorizationReqType_AReqAuthorizationMode::PnC_AReqAuthorizationMode(m) =
            &mut req.a_req_authorization_mode
        {
            m.gen_challenge[0] ^= 1;
        }
        let msg = Message::Common(common::Document::AuthorizationReq(req));
        Fate::Replace(msg.encode().expect("encodes").1)
    }));
    p.connect();
    assert!(p.run(Duration::from_secs(60)));
    let auth = authorization_res(&p);
    assert_eq!(auth.len(), 1);
    assert!(auth[0].starts_with("FAILED_SignatureError"), "{auth:?}");
    assert!(matches!(
        p.charger_outcome(),
        Some(Outcome::Failed(SessionError::PeerMisbehaved(_)))
    ));
    assert!(matches!(
        p.car_outcome(),
        Some(Outcome::Failed(SessionError::PeerRefused(_)))
    ));
    assert!(!p.charging());
}

#[test]
fn a_contract_from_an_unknown_root_gets_a_certificate_warning() {
    let mut p = pnc_pair(&[0x30, 0x82, 0x01, 0x00, 0x66]);
    p.connect();
    assert!(p.run(Duration::from_secs(60)));
    let auth = authorization_res(&p);
    assert!(
        auth.iter()
            .any(|s| s.starts_with("WARNING_CertificateValidationError")),
        "{auth:?}"
    );
    assert_eq!(p.sent(Side::Car).last(), Some(&"SessionStopReq"));
    assert_eq!(p.charger_outcome(), Some(Outcome::Completed));
}

#[test]
fn without_a_verifier_the_charger_offers_no_pnc_and_the_car_uses_eim() {
    let mut p = pnc_pair(TRUSTED_CONTRACT);
    let mut sc = charger(&[Protocol::Iso15118_20Dc]);
    sc.iso20.offer_pnc = true;
    p.charger = ccs_proto::session::SeccSession::new(sc, [0x42; 8], p.now);
    p.charger.set_tls(true);
    run_completed(&mut p);
    assert!(
        received(&p, Side::Charger)
            .iter()
            .any(|(n, s)| *n == "AuthorizationReq" && s == "EIM")
    );
}

#[test]
fn iso20_is_refused_on_a_connection_that_is_not_tls13() {
    for transport in [Transport::Tcp, Transport::Tls12] {
        // The charger on TLS 1.2 refuses the car's ISO 15118-20 offer in the handshake.
        let mut p = pnc_pair(TRUSTED_CONTRACT);
        p.charger.set_transport(transport);
        p.connect();
        assert!(p.run(Duration::from_secs(10)));
        let Some(Outcome::Failed(SessionError::PeerIncompatible(why))) = p.charger_outcome() else {
            panic!("{:?}", p.charger_outcome());
        };
        assert!(why.contains("TLS 1.3"), "{why}");
        assert!(received(&p, Side::Car)
            .iter()
            .any(|(n, s)| *n == "supportedAppProtocolRes" && s.contains("Failed_NoNegotiation")));
        // The car on such a connection does not offer ISO 15118-20 at all.
        let mut p = pnc_pair(TRUSTED_CONTRACT);
        p.car.set_transport(transport);
        p.connect();
        assert!(p.run(Duration::from_secs(10)));
        assert!(matches!(
            p.car_outcome(),
            Some(Outcome::Failed(SessionError::Config(_)))
        ));
        assert!(p.sent(Side::Car).is_empty(), "nothing offered");
    }
}

#[test]
fn schedule_renegotiation_runs_schedule_exchange_again_with_the_power_on() {
    let mut p = Pair::new(
        car(Protocol::Iso15118_20Dc, ControlMode::Scheduled, 6),
        charger(&[Protocol::Iso15118_20Dc]),
        PlantConfig::default(),
    );
    p.connect();
    // About two seconds into the charge loop the charger's energy manager asks for a new
    // schedule.
    assert!(!p.run_until(Duration::from_secs(120), |p| {
        p.sent(Side::Car)
            .iter()
            .filter(|n| **n == "DC_ChargeLoopReq")
            .count()
            >= 20
    }));
    p.charger.request_renegotiation();
    assert!(p.run(Duration::from_secs(120)));
    assert_eq!(
        p.car_outcome(),
        Some(Outcome::Completed),
        "{:?}",
        p.car_events
    );
    assert_eq!(p.charger_outcome(), Some(Outcome::Completed));
    let mut sent = p.sent(Side::Car);
    sent.dedup();
    let loop_at = sent
        .iter()
        .position(|n| *n == "DC_ChargeLoopReq")
        .expect("a charge loop");
    assert_eq!(
        &sent[loop_at..],
        [
            "DC_ChargeLoopReq",
            "PowerDeliveryReq",
            "ScheduleExchangeReq",
            "PowerDeliveryReq",
            "DC_ChargeLoopReq",
            "PowerDeliveryReq",
            "DC_WeldingDetectionReq",
            "SessionStopReq"
        ]
    );
    let charger_got = received(&p, Side::Charger);
    assert!(
        charger_got
            .iter()
            .any(|(n, s)| *n == "PowerDeliveryReq" && s.starts_with("ScheduleRenegotiation"))
    );
    // The contactors stayed closed through the renegotiation: closed once, opened once.
    assert_eq!(actuator_commands(&p.car_commands), SAFE_ORDER);
}

#[test]
fn the_car_confirms_the_meter_reading_when_the_charger_asks_and_signs_it_with_pnc() {
    let mut p = pnc_pair(TRUSTED_CONTRACT);
    let mut sc = charger(&[Protocol::Iso15118_20Dc]);
    sc.iso20.allow_without_tls = false;
    sc.iso20.offer_pnc = true;
    sc.iso20.gen_challenge = [0x42; 16];
    sc.iso20.metering_confirmation_after = Some(20);
    p.charger = ccs_proto::session::SeccSession::new(sc, [0x42; 8], p.now);
    p.charger.set_transport(Transport::Tls13);
    p.charger.set_iso20_verifier(Arc::new(TestRoots));
    p.connect();
    assert!(p.run(Duration::from_secs(120)));
    assert_eq!(
        p.car_outcome(),
        Some(Outcome::Completed),
        "{:?}",
        p.car_events
    );
    assert_eq!(p.charger_outcome(), Some(Outcome::Completed));
    let sent = p.sent(Side::Car);
    assert_eq!(
        sent.iter()
            .filter(|n| **n == "MeteringConfirmationReq")
            .count(),
        1
    );
    let confirm = received(&p, Side::Charger)
        .into_iter()
        .find(|(n, _)| *n == "MeteringConfirmationReq")
        .expect("MeteringConfirmationReq");
    assert!(confirm.1.ends_with("signed"), "{confirm:?}");
    // The reading is the energy metered over the first 20 loops (≈2 s at up to 40 kW).
    let wh: u64 = confirm
        .1
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a reading");
    assert!((1..=30).contains(&wh), "{confirm:?}");
    assert!(
        received(&p, Side::Car)
            .iter()
            .any(|(n, s)| *n == "MeteringConfirmationRes" && s == "OK")
    );
}

#[test]
fn a_forged_meter_confirmation_ends_the_session() {
    let mut p = pnc_pair(TRUSTED_CONTRACT);
    let mut sc = charger(&[Protocol::Iso15118_20Dc]);
    sc.iso20.offer_pnc = true;
    sc.iso20.gen_challenge = [0x42; 16];
    sc.iso20.metering_confirmation_after = Some(2);
    p.charger = ccs_proto::session::SeccSession::new(sc, [0x42; 8], p.now);
    p.charger.set_transport(Transport::Tls13);
    p.charger.set_iso20_verifier(Arc::new(TestRoots));
    p.filter = Some(Box::new(|_, bytes| {
        let Ok(Message::Common(common::Document::MeteringConfirmationReq(mut req))) =
            Message::decode(ccs_proto::v2gtp::PayloadType::Iso20Mainstream, bytes)
        else {
            return Fate::Deliver;
        };
        req.signed_metering_data
            .meter_info
            .charged_energy_reading_wh += 1000;
        let msg = Message::Common(common::Document::MeteringConfirmationReq(req));
        Fate::Replace(msg.encode().expect("encodes").1)
    }));
    p.connect();
    assert!(p.run(Duration::from_secs(120)));
    assert!(
        received(&p, Side::Car)
            .iter()
            .any(|(n, s)| *n == "MeteringConfirmationRes"
                && s.starts_with("FAILED_MeteringSignatureNotValid"))
    );
    assert!(matches!(p.charger_outcome(), Some(Outcome::Failed(_))));
    assert!(matches!(p.car_outcome(), Some(Outcome::Failed(_))));
    p.settle(Duration::from_secs(1));
    assert!(!p.plant.contactors_closed());
}

#[test]
fn a_lost_charge_loop_response_times_out_after_half_a_second_and_shuts_down_safely() {
    let mut p = Pair::new(
        car(Protocol::Iso15118_20Dc, ControlMode::Scheduled, 600),
        charger(&[Protocol::Iso15118_20Dc]),
        PlantConfig::default(),
    );
    let mut loops = 0;
    p.filter = Some(Box::new(move |side, bytes| {
        if side == Side::Charger
            && let Ok(m) = Message::decode(ccs_proto::v2gtp::PayloadType::Iso20Dc, bytes)
            && m.response_kind() == Some(MessageKind::ChargeLoop)
        {
            loops += 1;
            if loops > 5 {
                return Fate::Drop;
            }
        }
        Fate::Deliver
    }));
    p.connect();
    assert!(p.run(Duration::from_secs(60)));
    assert_eq!(
        p.car_outcome(),
        Some(Outcome::Failed(SessionError::Timeout(
            "V2G_EVCC_Msg_Timeout"
        )))
    );
    // The request that went unanswered and the failure are 0.5 s apart.
    let last_req = p
        .car_events
        .iter()
        .rev()
        .find(|(_, e)| {
            matches!(
                e,
                SessionEvent::Sent {
                    name: "DC_ChargeLoopReq",
                    ..
                }
            )
        })
        .map(|(t, _)| *t)
        .expect("request");
    let failed = p
        .car_events
        .iter()
        .find(|(_, e)| matches!(e, SessionEvent::Failing(_)))
        .map(|(t, _)| *t)
        .expect("error");
    assert_eq!(failed - last_req, Duration::from_millis(500));
    let cmds = actuator_commands(&p.car_commands);
    assert_eq!(cmds, SAFE_ORDER);
}

#[test]
fn the_charger_times_out_a_silent_car() {
    // The car waits longer than the charger (the timers are configurable).
    let mut c = car(Protocol::Iso15118_20Dc, ControlMode::Scheduled, 10);
    c.iso20.timeouts.service_detail_msg_timeout = Duration::from_secs(90);
    let mut p = Pair::new(
        c,
        charger(&[Protocol::Iso15118_20Dc]),
        PlantConfig::default(),
    );
    p.filter = Some(Box::new(|side, bytes| {
        // Everything after the handshake from the car after ServiceDiscovery is lost.
        if side == Side::Car
            && Message::decode(ccs_proto::v2gtp::PayloadType::Iso20Mainstream, bytes)
                .ok()
                .and_then(|m| m.request_kind())
                == Some(MessageKind::ServiceDetail)
        {
            return Fate::Drop;
        }
        Fate::Deliver
    }));
    p.connect();
    assert!(p.run(Duration::from_secs(120)));
    assert_eq!(
        p.charger_outcome(),
        Some(Outcome::Failed(SessionError::Timeout(
            "V2G_SECC_Sequence_Timeout"
        )))
    );
    let timed_out = p
        .charger_events
        .iter()
        .find(|(_, e)| matches!(e, SessionEvent::Finished(_)))
        .map(|(t, _)| *t)
        .expect("finished");
    let last_res = p
        .charger_events
        .iter()
        .rev()
        .find(|(_, e)| matches!(e, SessionEvent::Sent { .. }))
        .map(|(t, _)| *t)
        .expect("a response");
    assert_eq!(timed_out - last_res, Duration::from_secs(60));
    // The car lost the connection and shut down safely.
    assert!(matches!(
        p.car_outcome(),
        Some(Outcome::Failed(SessionError::ConnectionLost(_)))
    ));
}

#[test]
fn the_refusal_codes_end_the_session() {
    // FAILED_ServiceSelectionInvalid: a parameter set that was not offered.
    let mut p = Pair::new(
        car(Protocol::Iso15118_20Dc, ControlMode::Scheduled, 10),
        charger(&[Protocol::Iso15118_20Dc]),
        PlantConfig::default(),
    );
    let sid = din_support::SESSION_ID.to_vec();
    let bogus = Message::Common(common::Document::ServiceSelectionReq(
        common::ServiceSelectionReqType {
            header: ccs_proto::session::iso20::values::header(&sid, 0),
            selected_energy_transfer_service: common::SelectedServiceType {
                service_id: 2,
                parameter_set_id: 9,
            },
            selected_vas_list: None,
        },
    ));
    replace_first(&mut p, "ServiceSelectionReq", bogus);
    p.connect();
    assert!(p.run(Duration::from_secs(60)));
    assert!(
        received(&p, Side::Car)
            .iter()
            .any(|(n, s)| *n == "ServiceSelectionRes"
                && s.starts_with(&format!(
                    "{:?}",
                    ResponseCodeType::FAILED_ServiceSelectionInvalid
                )))
    );
    assert!(matches!(
        p.car_outcome(),
        Some(Outcome::Failed(SessionError::PeerRefused(_)))
    ));
}

/// Rewrites the charger's `n`-th DC_ChargeLoopRes (and every later one) to carry
/// `notification`.
fn notify_from_loop(p: &mut Pair, n: usize, notification: EvseNotificationType) {
    let mut seen = 0;
    p.filter = Some(Box::new(move |side, bytes| {
        if side != Side::Charger {
            return Fate::Deliver;
        }
        let Ok(Message::Dc(dc::Document::DC_ChargeLoopRes(mut res))) =
            Message::decode(ccs_proto::v2gtp::PayloadType::Iso20Dc, bytes)
        else {
            return Fate::Deliver;
        };
        seen += 1;
        if seen < n {
            return Fate::Deliver;
        }
        res.evse_status = Some(EVSEStatusType {
            notification_max_delay: 10,
            evse_notification: notification,
        });
        let msg = Message::Dc(dc::Document::DC_ChargeLoopRes(res));
        Fate::Replace(msg.encode().expect("encodes").1)
    }));
}

#[test]
fn pause_notification_ends_with_session_stop_pause() {
    let mut p = Pair::new(
        car(Protocol::Iso15118_20Dc, ControlMode::Scheduled, 600),
        charger(&[Protocol::Iso15118_20Dc]),
        PlantConfig::default(),
    );
    notify_from_loop(&mut p, 5, EvseNotificationType::Pause);
    p.connect();
    assert!(p.run(Duration::from_secs(120)));
    assert_eq!(p.car_outcome(), Some(Outcome::Completed));
    let stop = received(&p, Side::Charger)
        .into_iter()
        .find(|(n, _)| *n == "SessionStopReq")
        .expect("SessionStopReq");
    assert_eq!(stop.1, "Pause");
    assert_eq!(actuator_commands(&p.car_commands), SAFE_ORDER);
    // The car stopped at the fifth loop: it sent no more than five DC_ChargeLoopReqs.
    let loops = p
        .sent(Side::Car)
        .iter()
        .filter(|n| **n == "DC_ChargeLoopReq")
        .count();
    assert_eq!(loops, 5);
}

#[test]
fn terminate_and_service_renegotiation_end_the_charge_normally() {
    // ServiceRenegotiation: this car does not renegotiate services, it ends the session
    // (ScheduleRenegotiation is renegotiated: see schedule_renegotiation_runs_…).
    for notification in [
        EvseNotificationType::Terminate,
        EvseNotificationType::ServiceRenegotiation,
    ] {
        let mut p = Pair::new(
            car(Protocol::Iso15118_20Dc, ControlMode::Dynamic, 600),
            charger(&[Protocol::Iso15118_20Dc]),
            PlantConfig::default(),
        );
        notify_from_loop(&mut p, 3, notification);
        p.connect();
        assert!(p.run(Duration::from_secs(120)), "{notification:?}");
        assert_eq!(
            p.car_outcome(),
            Some(Outcome::Completed),
            "{notification:?}"
        );
        let stop = received(&p, Side::Charger)
            .into_iter()
            .find(|(n, _)| *n == "SessionStopReq")
            .expect("SessionStopReq");
        assert_eq!(stop.1, "Terminate", "{notification:?}");
    }
}

#[test]
fn exit_standby_does_not_stop_the_charge() {
    // (MeteringConfirmation is answered with MeteringConfirmationReq: see
    // the_car_confirms_the_meter_reading_….)
    let notification = EvseNotificationType::ExitStandby;
    let mut p = Pair::new(
        car(Protocol::Iso15118_20Dc, ControlMode::Scheduled, 5),
        charger(&[Protocol::Iso15118_20Dc]),
        PlantConfig::default(),
    );
    notify_from_loop(&mut p, 2, notification);
    p.connect();
    assert!(p.run(Duration::from_secs(120)));
    assert_eq!(p.car_outcome(), Some(Outcome::Completed));
    // The charge ran its 5 s (≈50 loops at 100 ms), not two.
    let loops = p
        .sent(Side::Car)
        .iter()
        .filter(|n| **n == "DC_ChargeLoopReq")
        .count();
    assert!(loops > 30, "{notification:?}: {loops}");
}

#[test]
fn a_metering_confirmation_request_without_a_reading_fails_safely() {
    let mut p = Pair::new(
        car(Protocol::Iso15118_20Dc, ControlMode::Scheduled, 5),
        charger(&[Protocol::Iso15118_20Dc]),
        PlantConfig::default(),
    );
    notify_from_loop(&mut p, 2, EvseNotificationType::MeteringConfirmation);
    p.connect();
    assert!(p.run(Duration::from_secs(120)));
    assert!(matches!(
        p.car_outcome(),
        Some(Outcome::Failed(SessionError::PeerMisbehaved(_)))
    ));
    assert_eq!(actuator_commands(&p.car_commands), SAFE_ORDER);
}

#[test]
fn authorization_that_never_finishes_hits_the_ongoing_timeout() {
    let mut sc = charger(&[Protocol::Iso15118_20Dc]);
    sc.authorize_automatically = false;
    let mut plant = PlantConfig::default();
    plant.authorization_delay = Duration::from_secs(3600);
    let mut c = car(Protocol::Iso15118_20Dc, ControlMode::Scheduled, 5);
    c.iso20.timeouts.ongoing_timeout = Duration::from_secs(20);
    let mut p = Pair::new(c, sc, plant);
    p.connect();
    assert!(p.run(Duration::from_secs(120)));
    assert_eq!(
        p.car_outcome(),
        Some(Outcome::Failed(SessionError::Timeout(
            "V2G_EVCC_Ongoing_Timeout"
        )))
    );
    let first = p
        .car_events
        .iter()
        .find(|(_, e)| {
            matches!(
                e,
                SessionEvent::Sent {
                    name: "AuthorizationReq",
                    ..
                }
            )
        })
        .map(|(t, _)| *t)
        .expect("AuthorizationReq");
    let failed = p
        .car_events
        .iter()
        .find(|(_, e)| matches!(e, SessionEvent::Failing(_)))
        .map(|(t, _)| *t)
        .expect("failure");
    // Armed with the AuthorizationSetupRes, just before the first AuthorizationReq.
    assert_eq!(failed - first, Duration::from_secs(20));
    assert!(!p.plant.locked());
}

#[test]
fn an_isolation_fault_in_cable_check_fails_and_the_car_shuts_down_safely() {
    // 20 kΩ at 500 V rated: 40 Ω/V, a fault by IEC 61851-23.
    let mut plant = PlantConfig::default();
    plant.isolation.resistance_ohm = 20e3;
    let mut p = Pair::new(
        car(Protocol::Iso15118_20Dc, ControlMode::Scheduled, 10),
        charger(&[Protocol::Iso15118_20Dc]),
        plant,
    );
    p.connect();
    assert!(p.run(Duration::from_secs(120)));
    assert!(
        received(&p, Side::Car)
            .iter()
            .any(|(n, s)| *n == "DC_CableCheckRes" && s.starts_with("FAILED"))
    );
    assert!(matches!(
        p.car_outcome(),
        Some(Outcome::Failed(SessionError::PeerRefused(_)))
    ));
    assert!(matches!(
        p.charger_outcome(),
        Some(Outcome::Failed(SessionError::Physical(_)))
    ));
    // Locked for CableCheck, then B, open (never closed) and unlock.
    assert_eq!(
        actuator_commands(&p.car_commands),
        [
            HardwareCommand::CpState(CpState::C),
            HardwareCommand::ConnectorLock(LockRequest::Lock),
            HardwareCommand::CpState(CpState::B),
            HardwareCommand::Contactors(ContactorRequest::Open),
            HardwareCommand::ConnectorLock(LockRequest::Unlock),
        ]
    );
}

#[test]
fn plug_and_charge_is_offered_only_over_tls() {
    let mut c = car(Protocol::Iso15118_20Dc, ControlMode::Scheduled, 3);
    c.iso20.authorization = Authorization::PnC {
        contract_certificate: vec![0x30, 0x82, 0x01, 0x00],
        sub_certificates: vec![vec![0x30, 0x01]],
    };
    let mut sc = charger(&[Protocol::Iso15118_20Dc]);
    sc.iso20.offer_pnc = true;
    // Plain TCP: the charger offers EIM only and the PnC car falls back to EIM.
    let mut p = Pair::new(c, sc, PlantConfig::default());
    run_completed(&mut p);
    let got = received(&p, Side::Car);
    assert!(
        got.iter()
            .any(|(n, s)| *n == "AuthorizationSetupRes" && s == "OK services=[EIM]"),
        "{got:?}"
    );
    assert!(
        received(&p, Side::Charger)
            .iter()
            .any(|(n, s)| *n == "AuthorizationReq" && s == "EIM")
    );
}

/// A car without an inlet voltage measurement and a charger whose DC_WeldingDetectionRes
/// says FAILED but still reports 400 V: the report is evidence all the same, the connector
/// stays locked (a FAILED response was never recorded).
#[test]
fn a_failed_welding_detection_reporting_400_v_keeps_the_connector_locked() {
    let mut p = Pair::new(
        car(Protocol::Iso15118_20Dc, ControlMode::Scheduled, 2),
        charger(&[Protocol::Iso15118_20Dc]),
        PlantConfig::default(),
    );
    p.hide_inlet_voltage = true;
    p.filter = Some(Box::new(|side, bytes| {
        if side != Side::Charger {
            return Fate::Deliver;
        }
        let Ok(mut msg) = Message::decode(ccs_proto::v2gtp::PayloadType::Iso20Dc, bytes) else {
            return Fate::Deliver;
        };
        let Message::Dc(dc::Document::DC_WeldingDetectionRes(res)) = &mut msg else {
            return Fate::Deliver;
        };
        res.response_code = ResponseCodeType::FAILED;
        res.evse_present_voltage.exponent = 0;
        res.evse_present_voltage.value = 400;
        Fate::Replace(msg.encode().expect("encodes").1)
    }));
    p.connect();
    p.run(Duration::from_secs(120));
    assert!(p.car.is_finished(), "the car hangs");
    let Some(Outcome::Failed(SessionError::Physical(why))) = p.car_outcome() else {
        panic!("car outcome {:?}", p.car_outcome());
    };
    assert!(
        why.starts_with("connector stays locked: the charger reported 400.0 V after the stop"),
        "{why}"
    );
    let actuators = actuator_commands(&p.car_commands);
    assert!(
        !actuators.contains(&HardwareCommand::ConnectorLock(LockRequest::Unlock)),
        "{actuators:?}"
    );
}

/// A hardware fault while the car waits for the inlet to fall below 60 V after SessionStop
/// (the charger said 20 V in WeldingDetection, but its stuck output keeps the inlet at
/// 400 V for a while): the unlock still waits for the voltage, and the session ends Failed
/// with the fault, not Completed.
#[test]
fn a_hardware_fault_while_waiting_to_unlock_ends_the_session_failed() {
    let mut p = Pair::new(
        car(Protocol::Iso15118_20Dc, ControlMode::Scheduled, 2),
        charger(&[Protocol::Iso15118_20Dc]),
        PlantConfig::default(),
    );
    p.filter = Some(Box::new(|side, bytes| {
        if side != Side::Charger {
            return Fate::Deliver;
        }
        let Ok(mut msg) = Message::decode(ccs_proto::v2gtp::PayloadType::Iso20Dc, bytes) else {
            return Fate::Deliver;
        };
        let Message::Dc(dc::Document::DC_WeldingDetectionRes(res)) = &mut msg else {
            return Fate::Deliver;
        };
        res.evse_present_voltage.exponent = 0;
        res.evse_present_voltage.value = 20;
        Fate::Replace(msg.encode().expect("encodes").1)
    }));
    p.connect();
    let faulted_at = p.fault_while_the_unlock_waits("DC_WeldingDetectionReq");
    let Some(Outcome::Failed(SessionError::Hardware(fault))) = p.car_outcome() else {
        panic!("car outcome {:?}", p.car_outcome());
    };
    assert_eq!(fault.adapter, "gpio");
    let unlocked_at = p
        .car_commands
        .iter()
        .find(|(_, c)| *c == HardwareCommand::ConnectorLock(LockRequest::Unlock))
        .map(|(t, _)| *t)
        .expect("the car unlocks once the output discharged");
    assert!(unlocked_at > faulted_at);
}
