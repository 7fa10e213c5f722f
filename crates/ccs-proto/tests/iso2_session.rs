//! Whole ISO 15118-2 sessions: our car against our charger over an in-memory connection, with
//! the physics of ccs-sim, under a virtual clock (the same harness as the DIN sessions). DC and
//! AC, EIM and Plug & Charge (with a test signer), the EVSE notifications, and the response
//! codes and sequence errors the charger answers with.

#[path = "din_support/mod.rs"]
#[allow(clippy::assign_op_pattern)]
mod support;

use std::sync::Arc;

use ccs_msg::iso2::{
    self, BodyElement, CertificateChainType, CertificateInstallationReqType,
    CertificateUpdateReqType, ListOfRootCertificateIDsType, ResponseCodeType,
};
use ccs_proto::hardware::{ContactorRequest, CpState, HardwareCommand, LockRequest};
use ccs_proto::session::iso2::msg::{self, MessageKind};
use ccs_proto::session::iso2::pnc::{
    BackendResponse, CertificateBackend, CertificateInstaller as _, ContractSigner,
    ContractVerifier, PncError, VerifiedContract, sha256,
};
use ccs_proto::session::iso2::{ContractCredentials, EnergyTransfer, PaymentMethod, SeccPnc};
use ccs_proto::session::{
    EvccConfig, Outcome, Protocol, ProtocolOffer, SeccConfig, SessionError, SessionEvent,
    V2gSession,
};
use ccs_proto::time::{Duration, Instant};
use ccs_proto::v2gtp::PayloadType;
use ccs_sim::physics::PlantConfig;
use support::{Fate, Pair, Side, actuator_commands};

const CHALLENGE: [u8; 16] = *b"ccsplc-challenge";

fn car_config(charge_secs: u64) -> EvccConfig {
    let mut c = EvccConfig::default();
    c.protocols = vec![ProtocolOffer {
        protocol: Protocol::Iso15118_2,
        priority: 1,
        schema_id: 1,
    }];
    c.charge_duration = Some(Duration::from_secs(charge_secs));
    c
}

fn charger_config() -> SeccConfig {
    let mut c = SeccConfig::default();
    c.protocols = vec![Protocol::Din70121, Protocol::Iso15118_2];
    c
}

fn pair_with(car: EvccConfig, charger: SeccConfig) -> Pair {
    Pair::new(car, charger, PlantConfig::default())
}

fn iso2_pair(charge_secs: u64) -> Pair {
    pair_with(car_config(charge_secs), charger_config())
}

/// A test "key": the signature is two SHA-256 over the key and the data, so a signature made
/// with another key, or over other bytes, does not verify. The certificate *is* the key.
#[derive(Debug)]
struct TestKey(Vec<u8>);

fn test_signature(key: &[u8], data: &[u8]) -> Vec<u8> {
    [sha256(&[key, data].concat()), sha256(&[data, key].concat())].concat()
}

impl ContractSigner for TestKey {
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, PncError> {
        Ok(test_signature(&self.0, data))
    }
}

/// Accepts chains whose leaf starts with `CONTRACT`; `EXPIRED` is an expired certificate.
#[derive(Debug)]
struct TestVerifier;

impl ContractVerifier for TestVerifier {
    fn verify_chain(&self, chain: &CertificateChainType) -> Result<VerifiedContract, PncError> {
        if chain.certificate.starts_with(b"EXPIRED") {
            return Err(PncError::CertificateExpired("contract".into()));
        }
        if !chain.certificate.starts_with(b"CONTRACT") {
            return Err(PncError::CertChain("unknown issuer".into()));
        }
        Ok(VerifiedContract {
            common_name: Some("DEPNX1234567890".into()),
        })
    }

    fn verify_signature(
        &self,
        certificate: &[u8],
        data: &[u8],
        signature: &[u8],
    ) -> Result<(), PncError> {
        if test_signature(certificate, data) == signature {
            Ok(())
        } else {
            Err(PncError::Signature("does not verify".into()))
        }
    }
}

/// A backend that answers every request with a fixed CertificateInstallationRes.
#[derive(Debug)]
struct FixedBackend;

impl CertificateBackend for FixedBackend {
    fn certificate_installation(
        &self,
        req: &CertificateInstallationReqType,
    ) -> Result<BackendResponse, PncError> {
        let mut body = msg::failed_response(
            &[0; 8],
            MessageKind::CertificateInstallation,
            ResponseCodeType::OK,
            "ZZ00000",
            true,
        )
        .body
        .body_element
        .ok_or_else(|| PncError::Backend("no body".into()))?;
        if let BodyElement::CertificateInstallationRes(res) = &mut body {
            res.contract_signature_cert_chain.certificate = req.oem_provisioning_cert.clone();
            res.e_maid.value = "DEPNX1234567890".into();
        }
        Ok(BackendResponse {
            signature: None,
            body,
        })
    }

    fn certificate_update(
        &self,
        _: &CertificateUpdateReqType,
    ) -> Result<BackendResponse, PncError> {
        Err(PncError::Backend("no update for this contract".into()))
    }
}

fn contract(certificate: &[u8]) -> ContractCredentials {
    ContractCredentials {
        certificate: certificate.to_vec(),
        sub_certificates: vec![b"MO-SUB-CA-1".to_vec()],
        emaid: "DEPNX1234567890".into(),
    }
}

/// A Plug & Charge pair: the car's contract `certificate`, signed with `key`; the charger on
/// TLS with the test verifier.
fn pnc_pair(certificate: &[u8], key: &[u8], charger: SeccConfig) -> Pair {
    let mut car = car_config(5);
    car.iso2.payment = PaymentMethod::Contract;
    car.iso2.contract = Some(contract(certificate));
    let mut p = pair_with(car, charger);
    p.car.set_contract_signer(Arc::new(TestKey(key.to_vec())));
    p.charger.set_tls(true);
    p.charger.set_pnc(SeccPnc {
        verifier: Arc::new(TestVerifier),
        backend: Some(Arc::new(FixedBackend)),
        gen_challenge: CHALLENGE,
    });
    p
}

const SAFE_ORDER: [HardwareCommand; 3] = [
    HardwareCommand::CpState(CpState::B),
    HardwareCommand::Contactors(ContactorRequest::Open),
    HardwareCommand::ConnectorLock(LockRequest::Unlock),
];

const NORMAL_START: [HardwareCommand; 3] = [
    HardwareCommand::CpState(CpState::C),
    HardwareCommand::ConnectorLock(LockRequest::Lock),
    HardwareCommand::Contactors(ContactorRequest::Closed),
];

fn dedup_sent(p: &Pair, side: Side) -> Vec<&'static str> {
    let mut sent = p.sent(side);
    sent.dedup();
    sent
}

/// Every message `side` sent with that name, decoded.
fn sent_bodies(p: &Pair, side: Side, name: &str) -> Vec<String> {
    let events = match side {
        Side::Car => &p.car_events,
        Side::Charger => &p.charger_events,
    };
    events
        .iter()
        .filter_map(|(_, e)| match e {
            SessionEvent::Sent { name: n, summary } if *n == name => Some(summary.clone()),
            _ => None,
        })
        .collect()
}

fn negotiated(p: &Pair) -> Option<Protocol> {
    p.car_events.iter().find_map(|(_, e)| match e {
        SessionEvent::ProtocolNegotiated { protocol, .. } => Some(*protocol),
        _ => None,
    })
}

#[test]
fn full_iso2_dc_eim_session_charges_and_completes() {
    let mut p = iso2_pair(20);
    let soc_before = p.plant.battery().soc();
    p.connect();
    assert!(p.run(Duration::from_secs(120)), "session did not finish");
    assert_eq!(negotiated(&p), Some(Protocol::Iso15118_2));
    assert_eq!(p.car_outcome(), Some(Outcome::Completed));
    assert_eq!(p.charger_outcome(), Some(Outcome::Completed));
    assert_eq!(
        dedup_sent(&p, Side::Car),
        [
            "supportedAppProtocolReq",
            "SessionSetupReq",
            "ServiceDiscoveryReq",
            "PaymentServiceSelectionReq",
            "AuthorizationReq",
            "ChargeParameterDiscoveryReq",
            "CableCheckReq",
            "PreChargeReq",
            "PowerDeliveryReq",
            "CurrentDemandReq",
            "PowerDeliveryReq",
            "WeldingDetectionReq",
            "SessionStopReq",
        ]
    );
    assert_eq!(
        actuator_commands(&p.car_commands),
        [&NORMAL_START[..], &SAFE_ORDER[..]].concat()
    );
    // The car followed the charger's schedule: Start with a ChargingProfile, then Stop.
    let deliveries = sent_bodies(&p, Side::Car, "PowerDeliveryReq");
    assert!(
        deliveries[0].starts_with("Start SAScheduleTupleID=1 profile=1"),
        "{deliveries:?}"
    );
    assert!(deliveries[1].starts_with("Stop"), "{deliveries:?}");
    p.settle(Duration::from_secs(1));
    let step = p
        .plant
        .last_contactor_close_step()
        .expect("contactors closed");
    assert!(step.0 < 10.0, "contactors closed with a {step} step");
    assert!(
        p.plant.battery().soc().0 > soc_before.0,
        "the battery was charged"
    );
    assert!(!p.plant.contactors_closed());
    assert!(!p.plant.locked());
    assert_eq!(p.car.poll_timeout(), None);
    assert_eq!(p.charger.poll_timeout(), None);
}

#[test]
fn charger_prefers_iso2_when_the_car_ranks_it_first() {
    let mut car = car_config(3);
    car.protocols = vec![
        ProtocolOffer {
            protocol: Protocol::Iso15118_2,
            priority: 1,
            schema_id: 2,
        },
        ProtocolOffer {
            protocol: Protocol::Din70121,
            priority: 2,
            schema_id: 1,
        },
    ];
    let mut p = pair_with(car, charger_config());
    p.connect();
    assert!(p.run(Duration::from_secs(60)));
    assert_eq!(negotiated(&p), Some(Protocol::Iso15118_2));
    assert_eq!(p.car_outcome(), Some(Outcome::Completed));
}

#[test]
fn ac_session_runs_the_charging_status_loop() {
    let mut car = car_config(5);
    car.iso2.energy_transfer = EnergyTransfer::AcThreePhase;
    let mut p = pair_with(car, charger_config());
    p.connect();
    assert!(p.run(Duration::from_secs(60)), "session did not finish");
    assert_eq!(p.car_outcome(), Some(Outcome::Completed));
    assert_eq!(p.charger_outcome(), Some(Outcome::Completed));
    assert_eq!(
        dedup_sent(&p, Side::Car),
        [
            "supportedAppProtocolReq",
            "SessionSetupReq",
            "ServiceDiscoveryReq",
            "PaymentServiceSelectionReq",
            "AuthorizationReq",
            "ChargeParameterDiscoveryReq",
            "PowerDeliveryReq",
            "ChargingStatusReq",
            "PowerDeliveryReq",
            "SessionStopReq",
        ]
    );
    let cpd = sent_bodies(&p, Side::Car, "ChargeParameterDiscoveryReq");
    assert!(cpd[0].starts_with("AC_three_phase_core"), "{cpd:?}");
    let res = sent_bodies(&p, Side::Charger, "ChargeParameterDiscoveryRes");
    assert!(
        res[0].contains("U=230V Imax=16V") || res[0].contains("U=230V Imax=16A"),
        "{res:?}"
    );
    assert!(sent_bodies(&p, Side::Charger, "ChargingStatusRes").len() > 5);
    // AC: no DC contactors; CP state C with PowerDelivery(Start), B after the stop.
    let actuators = actuator_commands(&p.car_commands);
    assert_eq!(
        actuators,
        [
            HardwareCommand::ConnectorLock(LockRequest::Lock),
            HardwareCommand::CpState(CpState::C),
            HardwareCommand::CpState(CpState::B),
            HardwareCommand::ConnectorLock(LockRequest::Unlock),
        ]
    );
    // The charger switched its supply on for the car and off again.
    let supply: Vec<bool> = p
        .charger_commands
        .iter()
        .filter_map(|(_, c)| match c {
            HardwareCommand::PowerSupply(s) => Some(s.enabled),
            _ => None,
        })
        .collect();
    assert!(
        supply.contains(&true) && supply.last() == Some(&false),
        "{supply:?}"
    );
}

#[test]
fn dc_car_at_an_ac_only_charger_is_incompatible() {
    let mut charger = charger_config();
    charger.iso2.energy_transfers = vec![EnergyTransfer::AcThreePhase];
    let mut p = pair_with(car_config(5), charger);
    p.connect();
    assert!(p.run(Duration::from_secs(30)));
    assert!(matches!(
        p.car_outcome(),
        Some(Outcome::Failed(SessionError::PeerIncompatible(_)))
    ));
}

#[test]
fn pnc_dc_session_signs_authorization_and_metering_receipt() {
    let mut charger = charger_config();
    charger.iso2.receipt_required = true;
    charger.iso2.sales_tariff = true;
    let mut p = pnc_pair(b"CONTRACT-leaf", b"CONTRACT-leaf", charger);
    p.connect();
    assert!(p.run(Duration::from_secs(60)), "session did not finish");
    assert_eq!(p.car_outcome(), Some(Outcome::Completed));
    assert_eq!(p.charger_outcome(), Some(Outcome::Completed));
    let sent = dedup_sent(&p, Side::Car);
    assert_eq!(
        sent[..6],
        [
            "supportedAppProtocolReq",
            "SessionSetupReq",
            "ServiceDiscoveryReq",
            "PaymentServiceSelectionReq",
            "PaymentDetailsReq",
            "AuthorizationReq",
        ]
    );
    assert!(sent.contains(&"MeteringReceiptReq"), "{sent:?}");
    // The challenge came back in the signed AuthorizationReq.
    let auth = sent_bodies(&p, Side::Car, "AuthorizationReq");
    assert!(auth[0].contains(&msg::hex(&CHALLENGE)), "{auth:?}");
    let receipts = sent_bodies(&p, Side::Charger, "MeteringReceiptRes");
    assert_eq!(receipts, ["OK"]);
}

fn assert_refused(p: &Pair, code: ResponseCodeType, response: &str) {
    let sent = sent_bodies(p, Side::Charger, response);
    assert!(
        sent.last()
            .is_some_and(|s| s.starts_with(&format!("{code:?}"))),
        "{response}: {sent:?}"
    );
    assert!(
        matches!(p.car_outcome(), Some(Outcome::Failed(SessionError::PeerRefused(ref s))) if s.contains(&format!("{code:?}"))),
        "{:?}",
        p.car_outcome()
    );
    assert!(matches!(p.charger_outcome(), Some(Outcome::Failed(_))));
    // The car went through its safe shutdown and unlocked.
    let actuators = actuator_commands(&p.car_commands);
    assert_eq!(
        actuators.last(),
        Some(&HardwareCommand::ConnectorLock(LockRequest::Unlock))
    );
}

#[test]
fn pnc_signature_with_another_key_is_a_signature_error() {
    let mut p = pnc_pair(b"CONTRACT-leaf", b"some-other-key", charger_config());
    p.connect();
    assert!(p.run(Duration::from_secs(30)));
    assert_refused(
        &p,
        ResponseCodeType::FAILED_SignatureError,
        "AuthorizationRes",
    );
}

#[test]
fn pnc_expired_contract_is_refused_in_payment_details() {
    let mut p = pnc_pair(b"EXPIRED-leaf", b"EXPIRED-leaf", charger_config());
    p.connect();
    assert!(p.run(Duration::from_secs(30)));
    assert_refused(
        &p,
        ResponseCodeType::FAILED_CertificateExpired,
        "PaymentDetailsRes",
    );
}

#[test]
fn pnc_untrusted_contract_is_a_chain_error() {
    let mut p = pnc_pair(b"SELF-SIGNED", b"SELF-SIGNED", charger_config());
    p.connect();
    assert!(p.run(Duration::from_secs(30)));
    assert_refused(
        &p,
        ResponseCodeType::FAILED_CertChainError,
        "PaymentDetailsRes",
    );
}

/// Rewrites the car's requests of one kind.
fn rewrite_request(
    kind: MessageKind,
    mut change: impl FnMut(&mut iso2::V2G_Message) + 'static,
) -> support::Filter {
    Box::new(move |from, payload| {
        if from != Side::Car {
            return Fate::Deliver;
        }
        let Ok(mut msg) = iso2::decode(payload) else {
            return Fate::Deliver; // the handshake
        };
        if msg
            .body
            .body_element
            .as_ref()
            .and_then(MessageKind::of_request)
            != Some(kind)
        {
            return Fate::Deliver;
        }
        change(&mut msg);
        Fate::Replace(iso2::encode(&msg).expect("the rewritten message encodes"))
    })
}

#[test]
fn pnc_wrong_challenge_is_refused() {
    let mut p = pnc_pair(b"CONTRACT-leaf", b"CONTRACT-leaf", charger_config());
    p.filter = Some(rewrite_request(MessageKind::Authorization, |m| {
        if let Some(BodyElement::AuthorizationReq(r)) = &mut m.body.body_element {
            r.gen_challenge = Some(vec![0; 16]);
        }
    }));
    p.connect();
    assert!(p.run(Duration::from_secs(30)));
    assert_refused(
        &p,
        ResponseCodeType::FAILED_ChallengeInvalid,
        "AuthorizationRes",
    );
}

#[test]
fn pnc_is_not_offered_without_tls() {
    let mut p = pnc_pair(b"CONTRACT-leaf", b"CONTRACT-leaf", charger_config());
    p.charger.set_tls(false);
    p.connect();
    assert!(p.run(Duration::from_secs(30)));
    let offer = sent_bodies(&p, Side::Charger, "ServiceDiscoveryRes");
    assert!(offer[0].contains("payment=[ExternalPayment]"), "{offer:?}");
    assert!(matches!(
        p.car_outcome(),
        Some(Outcome::Failed(SessionError::PeerIncompatible(_)))
    ));
}

#[test]
fn charger_renegotiation_runs_charge_parameter_discovery_again() {
    let mut p = iso2_pair(6);
    p.connect();
    let mut asked = false;
    let finished = p.run_until(Duration::from_secs(60), |p| {
        if !asked && p.charging() {
            asked = true;
            p.charger.request_renegotiation();
        }
        false
    });
    assert!(finished);
    assert_eq!(p.car_outcome(), Some(Outcome::Completed));
    let deliveries: Vec<String> = sent_bodies(&p, Side::Car, "PowerDeliveryReq")
        .into_iter()
        .map(|s| s.split(' ').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(deliveries, ["Start", "Renegotiate", "Start", "Stop"]);
    assert_eq!(
        sent_bodies(&p, Side::Car, "ChargeParameterDiscoveryReq").len(),
        2
    );
    // CableCheck and PreCharge are not repeated; the contactors stayed closed.
    let mut sent = dedup_sent(&p, Side::Car);
    sent.retain(|n| *n == "CableCheckReq");
    assert_eq!(sent.len(), 1);
    let closes = actuator_commands(&p.car_commands)
        .iter()
        .filter(|c| **c == HardwareCommand::Contactors(ContactorRequest::Closed))
        .count();
    assert_eq!(closes, 1);
}

#[test]
fn charger_stop_charging_notification_ends_normally() {
    let mut p = iso2_pair(600);
    p.connect();
    let mut stopped = false;
    assert!(p.run_until(Duration::from_secs(120), |p| {
        if !stopped
            && p.sent(Side::Car)
                .iter()
                .filter(|n| **n == "CurrentDemandReq")
                .count()
                > 5
        {
            stopped = true;
            p.charger.handle_stop_request(p.now);
        }
        false
    }));
    assert_eq!(p.car_outcome(), Some(Outcome::Completed));
    assert_eq!(p.charger_outcome(), Some(Outcome::Completed));
    let res = sent_bodies(&p, Side::Charger, "CurrentDemandRes");
    assert!(
        res.iter().any(|s| s.contains("EVSE_Shutdown StopCharging")),
        "{res:?}"
    );
    assert!(p.sent(Side::Car).contains(&"WeldingDetectionReq"));
    assert!(!p.plant.contactors_closed());
}

#[test]
fn user_stop_in_the_car_pauses_the_session_when_configured() {
    let mut car = car_config(600);
    car.iso2.pause_instead_of_terminate = true;
    let mut p = pair_with(car, charger_config());
    p.connect();
    let mut stopped = false;
    assert!(p.run_until(Duration::from_secs(120), |p| {
        if !stopped && p.charging() {
            stopped = true;
            p.car.handle_stop_request(p.now);
        }
        false
    }));
    assert_eq!(p.car_outcome(), Some(Outcome::Completed));
    assert_eq!(sent_bodies(&p, Side::Car, "SessionStopReq"), ["Pause"]);
}

#[test]
fn out_of_order_request_is_a_sequence_error() {
    let mut p = iso2_pair(5);
    // The car's PaymentServiceSelectionReq becomes a CableCheckReq.
    p.filter = Some(rewrite_request(MessageKind::PaymentServiceSelection, |m| {
        m.body.body_element = Some(BodyElement::CableCheckReq(iso2::CableCheckReqType {
            dc_ev_status: msg::dc_ev_status(true, 50),
        }));
    }));
    p.connect();
    assert!(p.run(Duration::from_secs(30)));
    let res = sent_bodies(&p, Side::Charger, "CableCheckRes");
    assert_eq!(res.len(), 1);
    assert!(res[0].starts_with("FAILED_SequenceError"), "{res:?}");
    assert!(matches!(
        p.charger_outcome(),
        Some(Outcome::Failed(SessionError::PeerMisbehaved(_)))
    ));
    // The car got a response it did not ask for.
    assert!(matches!(
        p.car_outcome(),
        Some(Outcome::Failed(SessionError::PeerMisbehaved(_)))
    ));
}

#[test]
fn request_with_another_session_id_is_unknown_session() {
    let mut p = iso2_pair(5);
    p.filter = Some(rewrite_request(MessageKind::Authorization, |m| {
        m.header.session_id = vec![9; 8];
    }));
    p.connect();
    assert!(p.run(Duration::from_secs(30)));
    assert_refused(
        &p,
        ResponseCodeType::FAILED_UnknownSession,
        "AuthorizationRes",
    );
}

#[test]
fn payment_option_not_offered_is_refused() {
    let mut p = iso2_pair(5);
    p.filter = Some(rewrite_request(MessageKind::PaymentServiceSelection, |m| {
        if let Some(BodyElement::PaymentServiceSelectionReq(r)) = &mut m.body.body_element {
            r.selected_payment_option = iso2::PaymentOptionType::Contract;
        }
    }));
    p.connect();
    assert!(p.run(Duration::from_secs(30)));
    assert_refused(
        &p,
        ResponseCodeType::FAILED_PaymentSelectionInvalid,
        "PaymentServiceSelectionRes",
    );
}

#[test]
fn no_charge_service_selected_is_refused() {
    let mut p = iso2_pair(5);
    p.filter = Some(rewrite_request(MessageKind::PaymentServiceSelection, |m| {
        if let Some(BodyElement::PaymentServiceSelectionReq(r)) = &mut m.body.body_element {
            r.selected_service_list.selected_service[0].service_id = 77;
        }
    }));
    p.connect();
    assert!(p.run(Duration::from_secs(30)));
    assert_refused(
        &p,
        ResponseCodeType::FAILED_NoChargeServiceSelected,
        "PaymentServiceSelectionRes",
    );
}

#[test]
fn wrong_energy_transfer_mode_and_parameters_are_refused() {
    let mut charger = charger_config();
    charger.iso2.energy_transfers = vec![EnergyTransfer::DcExtended];
    let mut p = pair_with(car_config(5), charger.clone());
    p.filter = Some(rewrite_request(
        MessageKind::ChargeParameterDiscovery,
        |m| {
            if let Some(BodyElement::ChargeParameterDiscoveryReq(r)) = &mut m.body.body_element {
                r.requested_energy_transfer_mode =
                    iso2::EnergyTransferModeType::AC_single_phase_core;
            }
        },
    ));
    p.connect();
    assert!(p.run(Duration::from_secs(30)));
    assert_refused(
        &p,
        ResponseCodeType::FAILED_WrongEnergyTransferMode,
        "ChargeParameterDiscoveryRes",
    );

    // [V2G2-477]: DC mode with AC parameters.
    charger.iso2.energy_transfers = vec![EnergyTransfer::DcExtended, EnergyTransfer::DcCore];
    let mut p = pair_with(car_config(5), charger);
    p.filter = Some(rewrite_request(
        MessageKind::ChargeParameterDiscovery,
        |m| {
            if let Some(BodyElement::ChargeParameterDiscoveryReq(r)) = &mut m.body.body_element {
                r.requested_energy_transfer_mode = iso2::EnergyTransferModeType::DC_core;
                r.ev_charge_parameter =
                    iso2::EVChargeParameter::AC_EVChargeParameter(iso2::AC_EVChargeParameterType {
                        departure_time: None,
                        e_amount: msg::physical(1000.0, iso2::UnitSymbolType::Wh),
                        ev_max_voltage: msg::physical(400.0, iso2::UnitSymbolType::V),
                        ev_max_current: msg::physical(16.0, iso2::UnitSymbolType::A),
                        ev_min_current: msg::physical(6.0, iso2::UnitSymbolType::A),
                    });
            }
        },
    ));
    p.connect();
    assert!(p.run(Duration::from_secs(30)));
    assert_refused(
        &p,
        ResponseCodeType::FAILED_WrongChargeParameter,
        "ChargeParameterDiscoveryRes",
    );
}

#[test]
fn charging_profile_above_the_schedule_is_refused() {
    let mut p = iso2_pair(5);
    p.filter = Some(rewrite_request(MessageKind::PowerDelivery, |m| {
        if let Some(BodyElement::PowerDeliveryReq(r)) = &mut m.body.body_element
            && let Some(profile) = &mut r.charging_profile
        {
            profile.profile_entry[0].charging_profile_entry_max_power =
                msg::physical(1.0e6, iso2::UnitSymbolType::W);
        }
    }));
    p.connect();
    assert!(p.run(Duration::from_secs(60)));
    assert_refused(
        &p,
        ResponseCodeType::FAILED_ChargingProfileInvalid,
        "PowerDeliveryRes",
    );
}

#[test]
fn unknown_sa_schedule_tuple_is_a_tariff_selection_error() {
    let mut p = iso2_pair(5);
    p.filter = Some(rewrite_request(MessageKind::PowerDelivery, |m| {
        if let Some(BodyElement::PowerDeliveryReq(r)) = &mut m.body.body_element {
            r.sa_schedule_tuple_id = 7;
        }
    }));
    p.connect();
    assert!(p.run(Duration::from_secs(60)));
    assert_refused(
        &p,
        ResponseCodeType::FAILED_TariffSelectionInvalid,
        "PowerDeliveryRes",
    );
}

/// Rewrites the charger's responses of one kind.
fn rewrite_response(
    kind: MessageKind,
    mut change: impl FnMut(&mut iso2::V2G_Message) + 'static,
) -> support::Filter {
    Box::new(move |from, payload| {
        if from != Side::Charger {
            return Fate::Deliver;
        }
        let Ok(mut msg) = iso2::decode(payload) else {
            return Fate::Deliver;
        };
        if msg
            .body
            .body_element
            .as_ref()
            .and_then(MessageKind::of_response)
            != Some(kind)
        {
            return Fate::Deliver;
        }
        change(&mut msg);
        Fate::Replace(iso2::encode(&msg).expect("the rewritten message encodes"))
    })
}

#[test]
fn every_failed_response_code_ends_the_car_in_the_safe_state() {
    use MessageKind as K;
    for (kind, code) in [
        (K::SessionSetup, ResponseCodeType::FAILED),
        (K::ServiceDiscovery, ResponseCodeType::FAILED),
        (
            K::PaymentServiceSelection,
            ResponseCodeType::FAILED_PaymentSelectionInvalid,
        ),
        (K::Authorization, ResponseCodeType::FAILED),
        (
            K::ChargeParameterDiscovery,
            ResponseCodeType::FAILED_WrongChargeParameter,
        ),
        (K::CableCheck, ResponseCodeType::FAILED),
        (K::PreCharge, ResponseCodeType::FAILED),
        (
            K::PowerDelivery,
            ResponseCodeType::FAILED_PowerDeliveryNotApplied,
        ),
        (K::CurrentDemand, ResponseCodeType::FAILED),
        (K::CurrentDemand, ResponseCodeType::FAILED_ContactorError),
    ] {
        let mut p = iso2_pair(5);
        p.filter = Some(rewrite_response(kind, move |m| {
            *m = msg::failed_response(&m.header.session_id, kind, code, "ZZ00000", true);
        }));
        p.connect();
        assert!(p.run(Duration::from_secs(60)), "{kind:?}");
        let outcome = p.car_outcome();
        assert!(
            matches!(&outcome, Some(Outcome::Failed(SessionError::PeerRefused(s))) if s.contains(&format!("{code:?}"))),
            "{kind:?} {code:?}: {outcome:?}"
        );
        let actuators = actuator_commands(&p.car_commands);
        if actuators.contains(&HardwareCommand::ConnectorLock(LockRequest::Lock)) {
            // Locked before: the safe order at the end.
            assert_eq!(actuators[actuators.len() - 3..], SAFE_ORDER, "{kind:?}");
        }
        assert!(!p.plant.contactors_closed(), "{kind:?}");
    }
}

#[test]
fn evse_emergency_shutdown_and_isolation_fault_fail_safely() {
    for change in [
        |r: &mut iso2::CurrentDemandResType| {
            r.dc_evse_status.evse_status_code = iso2::DC_EVSEStatusCodeType::EVSE_EmergencyShutdown;
        },
        |r: &mut iso2::CurrentDemandResType| {
            r.dc_evse_status.evse_isolation_status = Some(iso2::IsolationLevelType::Fault);
        },
    ] {
        let mut p = iso2_pair(30);
        let mut n = 0;
        p.filter = Some(rewrite_response(MessageKind::CurrentDemand, move |m| {
            n += 1;
            if n > 3
                && let Some(BodyElement::CurrentDemandRes(r)) = &mut m.body.body_element
            {
                change(r);
            }
        }));
        p.connect();
        assert!(p.run(Duration::from_secs(60)));
        assert!(matches!(
            p.car_outcome(),
            Some(Outcome::Failed(SessionError::PeerRefused(_)))
        ));
        let actuators = actuator_commands(&p.car_commands);
        assert_eq!(actuators[actuators.len() - 3..], SAFE_ORDER);
    }
}

#[test]
fn silent_charger_times_out_with_the_current_demand_timeout() {
    let mut p = iso2_pair(30);
    let mut n = 0;
    p.filter = Some(rewrite_response(MessageKind::CurrentDemand, |_| {}));
    p.filter = Some(Box::new(move |from, payload| {
        if from == Side::Charger
            && iso2::decode(payload).is_ok_and(|m| {
                matches!(m.body.body_element, Some(BodyElement::CurrentDemandRes(_)))
            })
        {
            n += 1;
            if n > 3 {
                return Fate::Drop;
            }
        }
        Fate::Deliver
    }));
    p.connect();
    assert!(p.run(Duration::from_secs(120)));
    assert_eq!(
        p.car_outcome(),
        Some(Outcome::Failed(SessionError::Timeout(
            "V2G_EVCC_Msg_Timeout"
        )))
    );
    // The last CurrentDemandReq went out 250 ms before the timeout.
    let last_req = p
        .car_events
        .iter()
        .rev()
        .find(|(_, e)| {
            matches!(
                e,
                SessionEvent::Sent {
                    name: "CurrentDemandReq",
                    ..
                }
            )
        })
        .map(|(t, _)| *t)
        .unwrap();
    let failed_at = p
        .car_events
        .iter()
        .find(|(_, e)| matches!(e, SessionEvent::Finished(_)))
        .map(|(t, _)| *t)
        .unwrap();
    let waited = failed_at.saturating_duration_since(last_req);
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
    // The car closed the connection in its safe shutdown.
    assert!(matches!(
        p.charger_outcome(),
        Some(Outcome::Failed(SessionError::ConnectionLost(_)))
    ));
}

#[test]
fn power_delivery_gets_the_5_s_message_timeout() {
    let mut p = iso2_pair(5);
    p.filter = Some(Box::new(|from, payload| {
        if from == Side::Charger
            && iso2::decode(payload).is_ok_and(|m| {
                matches!(m.body.body_element, Some(BodyElement::PowerDeliveryRes(_)))
            })
        {
            return Fate::Drop;
        }
        Fate::Deliver
    }));
    p.connect();
    assert!(p.run(Duration::from_secs(120)));
    let sent_at = p
        .car_events
        .iter()
        .find(|(_, e)| {
            matches!(
                e,
                SessionEvent::Sent {
                    name: "PowerDeliveryReq",
                    ..
                }
            )
        })
        .map(|(t, _)| *t)
        .unwrap();
    // The failure, not the end: the session finishes only once the charger's output fell
    // below 60 V and the connector unlocked.
    let failed_at = p
        .car_events
        .iter()
        .find(|(_, e)| matches!(e, SessionEvent::Failing(_)))
        .map(|(t, _)| *t)
        .unwrap();
    let waited = failed_at.saturating_duration_since(sent_at);
    assert!(
        waited >= Duration::from_secs(5) && waited < Duration::from_secs(6),
        "{waited:?}"
    );
}

/// Drives the charger alone with hand-built requests (the car side of certificate
/// installation is not built): the request is passed to the backend and its answer relayed.
#[test]
fn certificate_installation_is_passed_to_the_backend() {
    let mut charger =
        ccs_proto::session::SeccSession::new(charger_config(), support::SESSION_ID, Instant::ZERO);
    charger.set_tls(true);
    charger.set_pnc(SeccPnc {
        verifier: Arc::new(TestVerifier),
        backend: Some(Arc::new(FixedBackend)),
        gen_challenge: CHALLENGE,
    });
    let now = Instant::ZERO;
    let mut send = |body: Option<BodyElement>, sid: &[u8]| -> Vec<u8> {
        let bytes = match body {
            Some(b) => iso2::encode(&msg::message(sid, b)).unwrap(),
            None => {
                let req = ccs_proto::session::handshake::request(&car_config(1).protocols);
                ccs_msg::app_handshake::encode(
                    &ccs_msg::app_handshake::Document::SupportedAppProtocolReq(req),
                )
                .unwrap()
            }
        };
        charger.handle_message(now, PayloadType::Exi, &bytes);
        let mut last = Vec::new();
        while let Some(t) = charger.poll_transmit() {
            if let ccs_proto::session::Transmit::Message { payload, .. } = t {
                last = payload;
            }
        }
        last
    };
    let sid = support::SESSION_ID;
    send(None, &sid);
    send(
        Some(BodyElement::SessionSetupReq(iso2::SessionSetupReqType {
            evccid: support::CAR_MAC.to_vec(),
        })),
        &[0; 8],
    );
    let res = iso2::decode(&send(
        Some(BodyElement::ServiceDiscoveryReq(
            iso2::ServiceDiscoveryReqType {
                service_scope: None,
                service_category: None,
            },
        )),
        &sid,
    ))
    .unwrap();
    let Some(BodyElement::ServiceDiscoveryRes(res)) = res.body.body_element else {
        panic!("no ServiceDiscoveryRes");
    };
    let services: Vec<u16> = res
        .service_list
        .unwrap()
        .service
        .iter()
        .map(|s| s.service_id)
        .collect();
    assert_eq!(services, [2], "the certificate service is offered on TLS");
    let detail = iso2::decode(&send(
        Some(BodyElement::ServiceDetailReq(iso2::ServiceDetailReqType {
            service_id: 2,
        })),
        &sid,
    ))
    .unwrap();
    let Some(BodyElement::ServiceDetailRes(detail)) = detail.body.body_element else {
        panic!("no ServiceDetailRes");
    };
    assert_eq!(
        detail.service_parameter_list.unwrap().parameter_set.len(),
        2
    );
    send(
        Some(BodyElement::PaymentServiceSelectionReq(
            iso2::PaymentServiceSelectionReqType {
                selected_payment_option: iso2::PaymentOptionType::Contract,
                selected_service_list: iso2::SelectedServiceListType {
                    selected_service: vec![
                        iso2::SelectedServiceType {
                            service_id: 1,
                            parameter_set_id: None,
                        },
                        iso2::SelectedServiceType {
                            service_id: 2,
                            parameter_set_id: Some(1),
                        },
                    ],
                },
            },
        )),
        &sid,
    );
    let res = iso2::decode(&send(
        Some(BodyElement::CertificateInstallationReq(
            CertificateInstallationReqType {
                id: "ID1".into(),
                oem_provisioning_cert: b"OEM-PROV".to_vec(),
                list_of_root_certificate_i_ds: ListOfRootCertificateIDsType {
                    root_certificate_id: vec![ccs_msg::xmldsig::X509IssuerSerialType {
                        x509_issuer_name: "CN=V2GRootCA".into(),
                        x509_serial_number: ccs_exi::BigInt::from_i128(12345),
                    }],
                },
            },
        )),
        &sid,
    ))
    .unwrap();
    assert_eq!(res.header.session_id, sid);
    let Some(BodyElement::CertificateInstallationRes(res)) = res.body.body_element else {
        panic!("no CertificateInstallationRes");
    };
    assert_eq!(res.response_code, ResponseCodeType::OK);
    assert_eq!(res.contract_signature_cert_chain.certificate, b"OEM-PROV");
    assert_eq!(res.e_maid.value, "DEPNX1234567890");
    assert!(!charger.is_finished());
}

/// The car's OEM provisioning identity for the tests: signs with the key `OEM`, and
/// "installs" the test contract whose certificate is in the backend's response.
#[derive(Debug)]
struct TestInstaller;

impl ContractSigner for TestInstaller {
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, PncError> {
        Ok(test_signature(b"OEM", data))
    }
}

impl ccs_proto::session::iso2::pnc::CertificateInstaller for TestInstaller {
    fn oem_provisioning_certificate(&self) -> Vec<u8> {
        b"CONTRACT-installed".to_vec()
    }

    fn root_certificate_ids(&self) -> Vec<ccs_msg::xmldsig::X509IssuerSerialType> {
        vec![ccs_msg::xmldsig::X509IssuerSerialType {
            x509_issuer_name: "CN=V2GRootCA".into(),
            x509_serial_number: ccs_exi::BigInt::from_i128(1),
        }]
    }

    fn install(
        &self,
        res: &iso2::CertificateInstallationResType,
        _signature: Option<&ccs_msg::xmldsig::SignatureType>,
    ) -> Result<ccs_proto::session::iso2::pnc::InstalledContract, PncError> {
        // FixedBackend echoes the OEM certificate as the contract certificate.
        let certificate = res.contract_signature_cert_chain.certificate.clone();
        Ok(ccs_proto::session::iso2::pnc::InstalledContract {
            credentials: ContractCredentials {
                certificate: certificate.clone(),
                sub_certificates: Vec::new(),
                emaid: res.e_maid.value.clone(),
            },
            signer: Arc::new(TestKey(certificate)),
        })
    }
}

#[test]
fn car_without_contract_installs_one_then_charges_with_it() {
    let mut car = car_config(3);
    car.iso2.payment = PaymentMethod::Contract;
    let mut p = pair_with(car, charger_config());
    p.car.set_certificate_installer(Arc::new(TestInstaller));
    p.charger.set_tls(true);
    p.charger.set_pnc(SeccPnc {
        verifier: Arc::new(TestVerifier),
        backend: Some(Arc::new(FixedBackend)),
        gen_challenge: CHALLENGE,
    });
    p.connect();
    assert!(p.run(Duration::from_secs(60)), "session did not finish");
    assert_eq!(p.car_outcome(), Some(Outcome::Completed));
    assert_eq!(p.charger_outcome(), Some(Outcome::Completed));
    let sent = dedup_sent(&p, Side::Car);
    assert_eq!(
        sent[3..7],
        [
            "PaymentServiceSelectionReq",
            "CertificateInstallationReq",
            "PaymentDetailsReq",
            "AuthorizationReq",
        ]
    );
    // The certificate service was selected with parameter set 1 (Installation).
    let selection = sent_bodies(&p, Side::Car, "PaymentServiceSelectionReq");
    assert_eq!(selection, ["Contract services=[1, 2]"]);
    // The installed contract signed the AuthorizationReq and the charger verified it.
    let details = sent_bodies(&p, Side::Car, "PaymentDetailsReq");
    assert_eq!(details, ["eMAID=DEPNX1234567890"]);
}

#[test]
fn car_without_contract_at_a_charger_without_the_service_is_incompatible() {
    let mut car = car_config(3);
    car.iso2.payment = PaymentMethod::Contract;
    let mut p = pair_with(car, charger_config());
    p.car.set_certificate_installer(Arc::new(TestInstaller));
    p.charger.set_tls(true);
    p.charger.set_pnc(SeccPnc {
        verifier: Arc::new(TestVerifier),
        backend: None,
        gen_challenge: CHALLENGE,
    });
    p.connect();
    assert!(p.run(Duration::from_secs(30)));
    assert!(matches!(
        p.car_outcome(),
        Some(Outcome::Failed(SessionError::PeerIncompatible(_)))
    ));
}

/// The SessionSetupRes response codes the charger sent.
fn session_setup_codes(p: &Pair) -> Vec<String> {
    sent_bodies(p, Side::Charger, "SessionSetupRes")
        .iter()
        .map(|s| s.split_whitespace().next().unwrap_or_default().to_owned())
        .collect()
}

/// The SessionIDs in the headers of the car's requests after SessionSetup.
fn car_session_ids(p: &Pair) -> Vec<Vec<u8>> {
    p.transcript
        .iter()
        .filter(|(side, _)| *side == Side::Car)
        .filter_map(|(_, bytes)| iso2::decode(bytes).ok())
        .filter(|m| !matches!(m.body.body_element, Some(BodyElement::SessionSetupReq(_))))
        .map(|m| m.header.session_id)
        .collect()
}

#[test]
fn a_paused_session_is_rejoined_with_ok_old_session_joined() {
    // First session: the car pauses (SessionStop Pause) under the charger's SessionID.
    let mut car = car_config(600);
    car.iso2.pause_instead_of_terminate = true;
    let mut first = pair_with(car.clone(), charger_config());
    first.connect();
    let mut stopped = false;
    assert!(first.run_until(Duration::from_secs(120), |p| {
        if !stopped && p.charging() {
            stopped = true;
            p.car.handle_stop_request(p.now);
        }
        false
    }));
    assert_eq!(sent_bodies(&first, Side::Car, "SessionStopReq"), ["Pause"]);
    let paused = support::SESSION_ID.to_vec();
    // Both drivers learn the paused SessionID from the ended sessions.
    assert_eq!(first.charger.paused_session_id(), Some(paused.clone()));
    assert_eq!(first.car.paused_session_id(), Some(paused.clone()));
    assert!(first.charger_commands.iter().any(|(_, c)| matches!(
        c,
        HardwareCommand::SessionState(s) if s.contains(&msg::hex(&paused))
    )));

    // Second connection: the charger would hand out a new SessionID, but the car comes back
    // with the paused one and the charger knows it.
    let mut car = car_config(3);
    car.iso2.resume_session_id = Some(paused.clone());
    let mut charger = charger_config();
    charger.iso2.paused_session_id = Some(paused.clone());
    let mut second = pair_with(car, charger.clone());
    second.charger = ccs_proto::session::SeccSession::new(charger, [7; 8], second.now);
    second.connect();
    assert!(second.run(Duration::from_secs(120)));
    assert_eq!(session_setup_codes(&second), ["OK_OldSessionJoined"]);
    let ids = car_session_ids(&second);
    assert!(!ids.is_empty());
    assert!(ids.iter().all(|id| *id == paused), "{ids:?}");
    assert_eq!(second.car_outcome(), Some(Outcome::Completed));
    assert_eq!(second.charger_outcome(), Some(Outcome::Completed));
    // This time the car terminated: nothing to rejoin.
    assert_eq!(second.charger.paused_session_id(), None);
    assert_eq!(second.car.paused_session_id(), None);
}

#[test]
fn an_unknown_paused_session_id_gets_a_new_session() {
    let mut car = car_config(3);
    car.iso2.resume_session_id = Some(vec![9; 8]);
    let mut p = pair_with(car, charger_config());
    p.connect();
    assert!(p.run(Duration::from_secs(120)));
    assert_eq!(session_setup_codes(&p), ["OK_NewSessionEstablished"]);
    let ids = car_session_ids(&p);
    assert!(ids.iter().all(|id| id == &support::SESSION_ID), "{ids:?}");
    assert_eq!(p.car_outcome(), Some(Outcome::Completed));
}

#[test]
fn ok_old_session_joined_without_asking_to_rejoin_is_refused_by_the_car() {
    let mut p = iso2_pair(3);
    p.filter = Some(rewrite_response(MessageKind::SessionSetup, |m| {
        if let Some(BodyElement::SessionSetupRes(res)) = &mut m.body.body_element {
            res.response_code = ResponseCodeType::OK_OldSessionJoined;
        }
    }));
    p.connect();
    assert!(p.run(Duration::from_secs(30)));
    assert!(matches!(
        p.car_outcome(),
        Some(Outcome::Failed(SessionError::PeerRefused(_)))
    ));
    assert!(!p.sent(Side::Car).contains(&"ServiceDiscoveryReq"));
}

/// A backend that renews every contract: CertificateUpdateRes with the certificate
/// `CONTRACT-renewed`.
#[derive(Debug)]
struct RenewingBackend;

impl CertificateBackend for RenewingBackend {
    fn certificate_installation(
        &self,
        _: &CertificateInstallationReqType,
    ) -> Result<BackendResponse, PncError> {
        Err(PncError::Backend("installation not offered".into()))
    }

    fn certificate_update(
        &self,
        req: &CertificateUpdateReqType,
    ) -> Result<BackendResponse, PncError> {
        let mut body = msg::failed_response(
            &[0; 8],
            MessageKind::CertificateUpdate,
            ResponseCodeType::OK,
            "ZZ00000",
            true,
        )
        .body
        .body_element
        .ok_or_else(|| PncError::Backend("no body".into()))?;
        if let BodyElement::CertificateUpdateRes(res) = &mut body {
            res.contract_signature_cert_chain.certificate = b"CONTRACT-renewed".to_vec();
            res.e_maid.value.clone_from(&req.e_maid);
        }
        Ok(BackendResponse {
            signature: None,
            body,
        })
    }
}

/// The car's current contract key ("certificate" = key, as `TestKey`), renewing it.
#[derive(Debug)]
struct TestUpdater(Vec<u8>);

impl ContractSigner for TestUpdater {
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, PncError> {
        Ok(test_signature(&self.0, data))
    }
}

impl ccs_proto::session::iso2::pnc::CertificateUpdater for TestUpdater {
    fn root_certificate_ids(&self) -> Vec<ccs_msg::xmldsig::X509IssuerSerialType> {
        TestInstaller.root_certificate_ids()
    }

    fn update(
        &self,
        res: &iso2::CertificateUpdateResType,
        _signature: Option<&ccs_msg::xmldsig::SignatureType>,
    ) -> Result<ccs_proto::session::iso2::pnc::InstalledContract, PncError> {
        let certificate = res.contract_signature_cert_chain.certificate.clone();
        Ok(ccs_proto::session::iso2::pnc::InstalledContract {
            credentials: ContractCredentials {
                certificate: certificate.clone(),
                sub_certificates: Vec::new(),
                emaid: res.e_maid.value.clone(),
            },
            signer: Arc::new(TestKey(certificate)),
        })
    }
}

fn renewing_pair(updater_key: &[u8]) -> Pair {
    let mut p = pnc_pair(b"CONTRACT-A", b"CONTRACT-A", charger_config());
    p.car
        .set_certificate_updater(Arc::new(TestUpdater(updater_key.to_vec())));
    p.charger.set_pnc(SeccPnc {
        verifier: Arc::new(TestVerifier),
        backend: Some(Arc::new(RenewingBackend)),
        gen_challenge: CHALLENGE,
    });
    p
}

#[test]
fn car_renews_its_contract_with_certificate_update_then_charges_with_the_new_one() {
    let mut p = renewing_pair(b"CONTRACT-A");
    p.connect();
    assert!(p.run(Duration::from_secs(60)), "session did not finish");
    assert_eq!(p.car_outcome(), Some(Outcome::Completed));
    assert_eq!(p.charger_outcome(), Some(Outcome::Completed));
    let sent = dedup_sent(&p, Side::Car);
    assert_eq!(
        sent[3..7],
        [
            "PaymentServiceSelectionReq",
            "CertificateUpdateReq",
            "PaymentDetailsReq",
            "AuthorizationReq",
        ]
    );
    // The certificate service with parameter set 2 (Update).
    let selection = sent_bodies(&p, Side::Car, "PaymentServiceSelectionReq");
    assert_eq!(selection, ["Contract services=[1, 2]"]);
    assert_eq!(
        sent_bodies(&p, Side::Charger, "CertificateUpdateRes"),
        ["OK"]
    );
    // PaymentDetails carries the renewed certificate, whose key signed AuthorizationReq (the
    // charger verified it with that certificate: AuthorizationRes OK).
    let details = p
        .transcript
        .iter()
        .filter(|(side, _)| *side == Side::Car)
        .filter_map(|(_, b)| iso2::decode(b).ok())
        .find_map(|m| match m.body.body_element {
            Some(BodyElement::PaymentDetailsReq(r)) => Some(r),
            _ => None,
        })
        .expect("PaymentDetailsReq");
    assert_eq!(
        details.contract_signature_cert_chain.certificate,
        b"CONTRACT-renewed"
    );
    assert_eq!(
        sent_bodies(&p, Side::Charger, "AuthorizationRes"),
        ["OK Finished"]
    );
}

#[test]
fn certificate_update_signed_with_another_key_is_a_signature_error() {
    let mut p = renewing_pair(b"NOT-THE-CONTRACT-KEY");
    p.connect();
    assert!(p.run(Duration::from_secs(30)));
    assert_refused(
        &p,
        ResponseCodeType::FAILED_SignatureError,
        "CertificateUpdateRes",
    );
}

#[test]
fn car_keeps_its_contract_at_a_charger_without_the_certificate_service() {
    let mut p = renewing_pair(b"CONTRACT-A");
    p.charger.set_pnc(SeccPnc {
        verifier: Arc::new(TestVerifier),
        backend: None,
        gen_challenge: CHALLENGE,
    });
    p.connect();
    assert!(p.run(Duration::from_secs(60)));
    assert_eq!(p.car_outcome(), Some(Outcome::Completed));
    assert!(!p.sent(Side::Car).contains(&"CertificateUpdateReq"));
}

/// A car without an inlet voltage measurement and a charger whose WeldingDetectionRes says
/// FAILED but still reports 400 V: the report is evidence all the same, the connector stays
/// locked (it used to count only with an OK response code).
#[test]
fn a_failed_welding_detection_reporting_400_v_keeps_the_connector_locked() {
    let mut p = iso2_pair(2);
    p.hide_inlet_voltage = true;
    p.filter = Some(rewrite_response(MessageKind::WeldingDetection, |msg| {
        if let Some(BodyElement::WeldingDetectionRes(res)) = msg.body.body_element.as_mut() {
            res.response_code = ResponseCodeType::FAILED;
            res.evse_present_voltage.multiplier = 0;
            res.evse_present_voltage.value = 400;
        }
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

/// AC: the car's inlet sensor reads the mains (230 V RMS) throughout, yet the connector
/// unlocks at the end: IEC 61851-23's 60 V d.c. rule is for DC couplers; the AC connector's
/// lock follows IEC 61851-1 (the charger switches its supply off when the car leaves state
/// C). Nor does an AC session say it unlocked "without a voltage check".
#[test]
fn an_ac_session_unlocks_without_the_dc_voltage_rule() {
    use ccs_proto::hardware::{Measurement, Volts};

    let mut car = car_config(5);
    car.iso2.energy_transfer = EnergyTransfer::AcThreePhase;
    let mut p = pair_with(car, charger_config());
    p.hide_inlet_voltage = true;
    p.connect();
    let finished = p.run_until(Duration::from_secs(60), |p| {
        p.car
            .handle_measurement(p.now, Measurement::InletVoltage(Volts(230.0)));
        false
    });
    assert!(finished, "session did not finish");
    assert_eq!(p.car_outcome(), Some(Outcome::Completed));
    let actuators = actuator_commands(&p.car_commands);
    assert_eq!(
        actuators.last(),
        Some(&HardwareCommand::ConnectorLock(LockRequest::Unlock))
    );
    let said: Vec<&String> = p
        .car_commands
        .iter()
        .filter_map(|(_, c)| match c {
            HardwareCommand::SessionState(t) => Some(t),
            _ => None,
        })
        .collect();
    assert!(
        !said.iter().any(|t| t.contains("voltage check")),
        "{said:?}"
    );
}
