//! Our car against charger answers seen in the field: the quirk knobs of `EvccQuirks`.
// Test helpers unwrap: a malformed vector is a test failure.
#![allow(clippy::unwrap_used)]

use ccs_msg::din::{
    self, BodyElement, DC_EVSEStatusCodeType, IsolationLevelType, ResponseCodeType as R,
};
use ccs_proto::hardware::{HardwareCommand, Measurement, Percent, Volts};
use ccs_proto::session::din::values::{self, EvseDcParameters};
use ccs_proto::session::{EvccConfig, EvccSession, Outcome, SessionError, Transmit, V2gSession};
use ccs_proto::time::{Duration, Instant};
use ccs_proto::v2gtp::PayloadType;

struct Car {
    evcc: EvccSession,
    now: Instant,
}

impl Car {
    fn new(config: EvccConfig) -> Self {
        let now = Instant::ZERO;
        let mut evcc = EvccSession::new(config, [2, 0, 0, 0, 0, 1], now);
        evcc.handle_measurement(now, Measurement::Soc(Percent(40.0)));
        evcc.handle_measurement(now, Measurement::BatteryVoltage(Volts(350.0)));
        evcc.handle_connected(now);
        let mut car = Self { evcc, now };
        assert!(car.sent().is_some());
        car.answer(&ccs_testdata::hex("80400040"));
        car
    }

    /// The last message the car sent, decoded as DIN (None for none / the handshake).
    fn sent(&mut self) -> Option<Vec<u8>> {
        let mut last = None;
        while let Some(t) = self.evcc.poll_transmit() {
            if let Transmit::Message { payload, .. } = t {
                last = Some(payload);
            }
        }
        last
    }

    fn answer(&mut self, bytes: &[u8]) -> Option<din::V2G_Message> {
        self.now += Duration::from_millis(10);
        self.evcc.handle_message(self.now, PayloadType::Exi, bytes);
        self.sent().and_then(|b| din::decode(&b).ok())
    }

    fn answer_msg(&mut self, msg: &din::V2G_Message) -> Option<din::V2G_Message> {
        self.answer(&din::encode(msg).unwrap())
    }
}

#[test]
fn abb_ok_in_session_setup_res_and_a_4_byte_session_id_are_accepted() {
    let mut car = Car::new(EvccConfig::default());
    // Supercharger-style 4-byte SessionID, ABB-style `OK`.
    let sid = [0x06, 0xef, 0x00, 0x71];
    let next = car
        .answer_msg(&values::session_setup_res(&sid, R::OK, b"ZZ00000"))
        .expect("ServiceDiscoveryReq");
    assert!(matches!(
        next.body.body_element,
        Some(BodyElement::ServiceDiscoveryReq(_))
    ));
    // pyPLC's vector EDB_06ef0071.
    assert_eq!(
        values::hex(&din::encode(&next).unwrap()),
        "809a0101bbc01c5198"
    );
}

#[test]
fn without_the_quirks_the_car_refuses() {
    let mut config = EvccConfig::default();
    config.quirks.accept_ok_in_session_setup_res = false;
    let mut car = Car::new(config.clone());
    car.answer_msg(&values::session_setup_res(&[1; 8], R::OK, b"ZZ00000"));
    assert!(matches!(
        car.evcc.outcome(),
        Some(Outcome::Failed(SessionError::PeerRefused(_)))
    ));

    config.quirks.accept_short_session_id = false;
    let mut car = Car::new(config);
    car.answer_msg(&values::session_setup_res(
        &[1; 4],
        R::OK_NewSessionEstablished,
        b"ZZ",
    ));
    assert!(matches!(
        car.evcc.outcome(),
        Some(Outcome::Failed(SessionError::PeerMisbehaved(_)))
    ));
}

fn to_charge_parameter_discovery(car: &mut Car, sid: &[u8]) {
    car.answer_msg(&values::session_setup_res(
        sid,
        R::OK_NewSessionEstablished,
        b"ZZ",
    ));
    car.answer_msg(&values::service_discovery_res(sid, R::OK));
    car.answer_msg(&values::service_payment_selection_res(sid, R::OK));
    let next = car
        .answer_msg(&values::contract_authentication_res(sid, R::OK, true))
        .unwrap();
    assert!(matches!(
        next.body.body_element,
        Some(BodyElement::ChargeParameterDiscoveryReq(_))
    ));
}

fn compleo_res(sid: &[u8]) -> din::V2G_Message {
    values::charge_parameter_discovery_res(
        sid,
        R::OK,
        true,
        values::dc_evse_status(
            Some(IsolationLevelType::Invalid),
            DC_EVSEStatusCodeType::EVSE_NotReady,
        ),
        &EvseDcParameters::PYPLC,
    )
}

#[test]
fn compleo_finished_with_evse_not_ready_counts_as_finished() {
    let sid = [1; 8];
    let mut car = Car::new(EvccConfig::default());
    to_charge_parameter_discovery(&mut car, &sid);
    car.answer_msg(&compleo_res(&sid));
    let commands: Vec<HardwareCommand> = std::iter::from_fn(|| car.evcc.poll_command()).collect();
    assert!(commands.contains(&HardwareCommand::CpState(ccs_proto::hardware::CpState::C)));

    let mut config = EvccConfig::default();
    config
        .quirks
        .accept_finished_not_ready_in_charge_parameter_discovery = false;
    let mut car = Car::new(config);
    to_charge_parameter_discovery(&mut car, &sid);
    car.answer_msg(&compleo_res(&sid));
    let commands: Vec<HardwareCommand> = std::iter::from_fn(|| car.evcc.poll_command()).collect();
    assert!(!commands.contains(&HardwareCommand::CpState(ccs_proto::hardware::CpState::C)));
    // It asks again after the pacing interval.
    let at = car.evcc.poll_timeout().unwrap();
    car.evcc.handle_timeout(at);
    let again = car.sent().and_then(|b| din::decode(&b).ok()).unwrap();
    assert!(matches!(
        again.body.body_element,
        Some(BodyElement::ChargeParameterDiscoveryReq(_))
    ));
}

#[test]
fn handshake_response_is_checked() {
    let mut evcc = EvccSession::new(EvccConfig::default(), [2, 0, 0, 0, 0, 1], Instant::ZERO);
    evcc.handle_connected(Instant::ZERO);
    while evcc.poll_transmit().is_some() {}
    // OK but SchemaID 0, which the car did not offer (it offered 1).
    evcc.handle_message(
        Instant::ZERO,
        PayloadType::Exi,
        &ccs_testdata::hex("80400000"),
    );
    assert!(matches!(
        evcc.outcome(),
        Some(Outcome::Failed(SessionError::PeerMisbehaved(_)))
    ));
    // No handshake answer at all: V2G_EVCC_Msg_Timeout (2 s).
    let mut evcc = EvccSession::new(EvccConfig::default(), [2, 0, 0, 0, 0, 1], Instant::ZERO);
    evcc.handle_connected(Instant::ZERO);
    let deadline = evcc.poll_timeout().unwrap();
    assert_eq!(deadline, Instant::from_millis(2000));
    evcc.handle_timeout(deadline);
    assert_eq!(
        evcc.outcome(),
        Some(&Outcome::Failed(SessionError::Timeout(
            "V2G_EVCC_Msg_Timeout"
        )))
    );
}

#[test]
fn session_setup_request_carries_our_mac() {
    let mut evcc = EvccSession::new(
        EvccConfig::default(),
        [0xdc, 0x0e, 0xa1, 0x11, 0x67, 0x08],
        Instant::ZERO,
    );
    evcc.handle_connected(Instant::ZERO);
    while evcc.poll_transmit().is_some() {}
    evcc.handle_message(
        Instant::ZERO,
        PayloadType::Exi,
        &ccs_testdata::hex("80400040"),
    );
    let Some(Transmit::Message { payload, .. }) = evcc.poll_transmit() else {
        panic!("no SessionSetupReq");
    };
    // OpenV2Gx EDA_dc0ea1116708.
    assert_eq!(
        values::hex(&payload),
        "809a02000000000000000011d01b703a84459c2000"
    );
}
