//! Our charger against recorded car requests (`vectors/pyplc_vectors.tsv`: Ioniq, Tesla
//! Model X/Y, Polestar 2, Audi Q4, pyPLC's own car), and its refusals: sequence errors,
//! unknown SessionIDs, undecodable requests.
// Test helpers unwrap: a malformed vector is a test failure.
#![allow(clippy::unwrap_used)]

use ccs_msg::din::{self, BodyElement, ResponseCodeType as R, V2G_Message};
use ccs_proto::hardware::{HardwareCommand, Measurement};
use ccs_proto::session::din::values::{self, ChargeParameters, MessageKind};
use ccs_proto::session::{
    Outcome, SeccConfig, SeccSession, SessionError, SessionEvent, Transmit, V2gSession,
};
use ccs_proto::time::Instant;
use ccs_proto::v2gtp::PayloadType;

const DIN_REQ: &[u8] = &[
    0x80, 0x00, 0xdb, 0xab, 0x93, 0x71, 0xd3, 0x23, 0x4b, 0x71, 0xd1, 0xb9, 0x81, 0x89, 0x91, 0x89,
    0xd1, 0x91, 0x81, 0x89, 0x91, 0xd2, 0x6b, 0x9b, 0x3a, 0x23, 0x2b, 0x30, 0x02, 0x00, 0x00, 0x04,
    0x00, 0x40,
];

/// A charger without power hardware: simulated voltages, no isolation monitor.
fn config() -> SeccConfig {
    let mut c = SeccConfig::default();
    c.evse_simulate_precharge = true;
    c.isolation_monitor = false;
    c.cable_check_duration = ccs_proto::time::Duration::ZERO;
    c
}

struct Charger {
    secc: SeccSession,
    now: Instant,
}

impl Charger {
    fn new(session_id: [u8; 8]) -> Self {
        let now = Instant::from_millis(1000);
        let mut secc = SeccSession::new(config(), session_id, now);
        secc.handle_connected(now);
        secc.handle_message(now, PayloadType::Exi, DIN_REQ);
        let mut c = Self { secc, now };
        let res = c.take_response().expect("handshake response");
        assert_eq!(values::hex(&res), "80400040");
        c
    }

    fn take_response(&mut self) -> Option<Vec<u8>> {
        let mut found = None;
        while let Some(t) = self.secc.poll_transmit() {
            if let Transmit::Message { payload, .. } = t {
                found = Some(payload);
            }
        }
        while self.secc.poll_command().is_some() {}
        found
    }

    fn request(&mut self, msg: &V2G_Message) -> V2G_Message {
        self.request_bytes(&din::encode(msg).unwrap())
    }

    fn request_bytes(&mut self, bytes: &[u8]) -> V2G_Message {
        self.now += ccs_proto::time::Duration::from_millis(100);
        self.secc.handle_message(self.now, PayloadType::Exi, bytes);
        let res = self.take_response().expect("a response");
        din::decode(&res).expect("our response decodes")
    }
}

fn code(msg: &V2G_Message) -> R {
    use BodyElement as B;
    match msg.body.body_element.as_ref().unwrap() {
        B::SessionSetupRes(r) => r.response_code,
        B::ServiceDiscoveryRes(r) => r.response_code,
        B::ServicePaymentSelectionRes(r) => r.response_code,
        B::ContractAuthenticationRes(r) => r.response_code,
        B::ChargeParameterDiscoveryRes(r) => r.response_code,
        B::CableCheckRes(r) => r.response_code,
        B::PreChargeRes(r) => r.response_code,
        B::PowerDeliveryRes(r) => r.response_code,
        B::CurrentDemandRes(r) => r.response_code,
        B::WeldingDetectionRes(r) => r.response_code,
        B::SessionStopRes(r) => r.response_code,
        other => panic!("not a response: {other:?}"),
    }
}

/// The requests that lead our charger to the point where `kind` is due.
fn lead_up(kind: MessageKind, sid: &[u8]) -> Vec<V2G_Message> {
    use MessageKind as K;
    let order = [
        K::SessionSetup,
        K::ServiceDiscovery,
        K::ServicePaymentSelection,
        K::ContractAuthentication,
        K::ChargeParameterDiscovery,
        K::CableCheck,
        K::PreCharge,
    ];
    let build = |k: MessageKind| match k {
        K::SessionSetup => values::session_setup_req(&[2, 0, 0, 0, 0, 1]),
        K::ServiceDiscovery => values::service_discovery_req(sid),
        K::ServicePaymentSelection => values::service_payment_selection_req(sid, 1),
        K::ContractAuthentication => values::contract_authentication_req(sid),
        K::ChargeParameterDiscovery => {
            values::charge_parameter_discovery_req(sid, &ChargeParameters::pyplc(30))
        }
        K::CableCheck => values::cable_check_req(sid, 30),
        _ => values::pre_charge_req(sid, 30, 350.0, 1.0),
    };
    let upto = match kind {
        K::SessionStop | K::SessionSetup => 0,
        K::ServiceDiscovery => 1,
        K::ServicePaymentSelection => 2,
        K::ContractAuthentication => 3,
        K::ChargeParameterDiscovery => 4,
        K::CableCheck => 5,
        K::PreCharge => 6,
        K::PowerDelivery | K::CurrentDemand | K::WeldingDetection => 7,
    };
    let mut msgs: Vec<V2G_Message> = order[..upto].iter().map(|k| build(*k)).collect();
    if kind == K::SessionStop {
        msgs.push(build(K::SessionSetup));
    }
    if matches!(kind, K::CurrentDemand | K::WeldingDetection) {
        msgs.push(values::power_delivery_req(sid, 30, true));
    }
    if kind == K::WeldingDetection {
        msgs.push(values::power_delivery_req(sid, 30, false));
    }
    msgs
}

#[test]
fn answers_every_recorded_car_request_with_ok() {
    let rows = ccs_testdata::read_tsv("vectors/pyplc_vectors.tsv");
    let mut checked = 0;
    let mut failures = Vec::new();
    for row in rows.iter().filter(|r| r.get("schema") == "din") {
        let bytes = ccs_testdata::hex(row.get("hex"));
        let Ok(msg) = din::decode(&bytes) else {
            continue;
        };
        let Some(kind) = msg
            .body
            .body_element
            .as_ref()
            .and_then(MessageKind::of_request)
        else {
            continue;
        };
        // The charger hands out the SessionID the recorded car used.
        let sid = &msg.header.session_id;
        let mut session_id = [0u8; 8];
        if kind != MessageKind::SessionSetup {
            if sid.len() != 8 {
                continue; // the 4-byte Supercharger IDs are charger-made, not ours
            }
            session_id.copy_from_slice(sid);
        }
        let mut charger = Charger::new(session_id);
        for m in lead_up(kind, &session_id) {
            let res = charger.request(&m);
            assert!(
                matches!(code(&res), R::OK | R::OK_NewSessionEstablished),
                "lead-up for {kind:?} refused: {res:?}"
            );
        }
        let res = charger.request_bytes(&bytes);
        let res_kind = res
            .body
            .body_element
            .as_ref()
            .and_then(MessageKind::of_response);
        let ok = matches!(code(&res), R::OK | R::OK_NewSessionEstablished);
        if res_kind != Some(kind) || !ok || res.header.session_id != session_id {
            failures.push(format!(
                "line {} {}: {:?}",
                row.line,
                row.get("message"),
                res.body.body_element
            ));
        }
        checked += 1;
    }
    assert!(checked > 1000, "only {checked} requests checked");
    assert!(
        failures.is_empty(),
        "{} refused:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn unknown_session_id_is_refused_and_ends_the_session() {
    let mut c = Charger::new([7; 8]);
    let res = c.request(&values::session_setup_req(&[2, 0, 0, 0, 0, 1]));
    assert_eq!(res.header.session_id, vec![7; 8]);
    let res = c.request(&values::service_discovery_req(&[9; 8]));
    assert_eq!(code(&res), R::FAILED_UnknownSession);
    assert!(matches!(
        c.secc.outcome(),
        Some(Outcome::Failed(SessionError::PeerMisbehaved(_)))
    ));
}

#[test]
fn sequence_errors_are_refused_with_failed_sequence_error() {
    let sid = [3; 8];
    let cases: Vec<(Vec<V2G_Message>, V2G_Message)> = vec![
        (vec![], values::service_discovery_req(&sid)),
        (
            lead_up(MessageKind::ServiceDiscovery, &sid),
            values::cable_check_req(&sid, 30),
        ),
        (
            lead_up(MessageKind::CableCheck, &sid),
            values::power_delivery_req(&sid, 30, true),
        ),
        (
            lead_up(MessageKind::CurrentDemand, &sid),
            values::pre_charge_req(&sid, 30, 350.0, 1.0),
        ),
    ];
    for (before, wrong) in cases {
        let mut c = Charger::new(sid);
        for m in &before {
            c.request(m);
        }
        let res = c.request(&wrong);
        assert_eq!(code(&res), R::FAILED_SequenceError, "{wrong:?}");
        assert_eq!(
            res.body
                .body_element
                .as_ref()
                .and_then(MessageKind::of_response),
            wrong
                .body
                .body_element
                .as_ref()
                .and_then(MessageKind::of_request)
        );
        assert!(c.secc.is_finished());
    }
}

#[test]
fn a_request_that_does_not_decode_gets_failed_and_power_off() {
    let mut c = Charger::new([4; 8]);
    c.request(&values::session_setup_req(&[2, 0, 0, 0, 0, 1]));
    c.now += ccs_proto::time::Duration::from_millis(100);
    c.secc
        .handle_message(c.now, PayloadType::Exi, &[0x80, 0x9a, 0xff, 0xff]);
    let mut response = None;
    let mut closed = false;
    while let Some(t) = c.secc.poll_transmit() {
        match t {
            Transmit::Message { payload, .. } => response = Some(payload),
            Transmit::Close => closed = true,
        }
    }
    let res = din::decode(&response.unwrap()).unwrap();
    // The response the sequence expected next, with FAILED.
    assert!(matches!(
        res.body.body_element,
        Some(BodyElement::ServiceDiscoveryRes(_))
    ));
    assert_eq!(code(&res), R::FAILED);
    assert!(closed);
    let mut off = false;
    while let Some(cmd) = c.secc.poll_command() {
        off |= matches!(cmd, HardwareCommand::PowerSupply(s) if !s.enabled);
    }
    assert!(off, "power supply not switched off");
    assert!(matches!(
        c.secc.outcome(),
        Some(Outcome::Failed(SessionError::InvalidMessage(_)))
    ));
}

#[test]
fn authorization_stays_ongoing_until_authorized() {
    let sid = [5; 8];
    let mut cfg = config();
    cfg.authorize_automatically = false;
    let now = Instant::ZERO;
    let mut secc = SeccSession::new(cfg, sid, now);
    secc.handle_message(now, PayloadType::Exi, DIN_REQ);
    let mut c = Charger { secc, now };
    c.take_response();
    for m in lead_up(MessageKind::ContractAuthentication, &sid) {
        c.request(&m);
    }
    for _ in 0..3 {
        let res = c.request(&values::contract_authentication_req(&sid));
        assert!(matches!(
            res.body.body_element,
            Some(BodyElement::ContractAuthenticationRes(ref r))
                if r.evse_processing == din::EVSEProcessingType::Ongoing
        ));
    }
    c.secc
        .handle_measurement(c.now, Measurement::Authorized(true));
    let res = c.request(&values::contract_authentication_req(&sid));
    assert!(matches!(
        res.body.body_element,
        Some(BodyElement::ContractAuthenticationRes(ref r))
            if r.evse_processing == din::EVSEProcessingType::Finished
    ));
    // ChargeParameterDiscoveryRes carries the SAScheduleList (pyPLC #14).
    let res = c.request(&values::charge_parameter_discovery_req(
        &sid,
        &ChargeParameters::pyplc(30),
    ));
    assert!(matches!(
        res.body.body_element,
        Some(BodyElement::ChargeParameterDiscoveryRes(ref r))
            if matches!(r.sa_schedules, din::SASchedules::SAScheduleList(_))
    ));
}

#[test]
fn handshake_without_a_common_protocol_is_refused() {
    let now = Instant::ZERO;
    let mut secc = SeccSession::new(config(), [1; 8], now);
    // EH__1: ISO 15118-2 only.
    let iso_only = ccs_testdata::hex(
        "8000ebab9371d34b9b79d189a98989c1d191d191818999d26b9b3a232b30020000000040",
    );
    secc.handle_message(now, PayloadType::Exi, &iso_only);
    let Some(Transmit::Message { payload, .. }) = secc.poll_transmit() else {
        panic!("no response");
    };
    let doc = ccs_msg::app_handshake::decode(&payload).unwrap();
    assert!(matches!(
        doc,
        ccs_msg::app_handshake::Document::SupportedAppProtocolRes(ref r)
            if r.response_code == ccs_msg::app_handshake::ResponseCodeType::Failed_NoNegotiation
    ));
    assert_eq!(secc.poll_transmit(), Some(Transmit::Close));
    assert!(secc.is_finished());
    let negotiated = std::iter::from_fn(|| secc.poll_event())
        .any(|e| matches!(e, SessionEvent::ProtocolNegotiated { .. }));
    assert!(!negotiated);
}

#[test]
fn sequence_timeout_switches_the_power_supply_off() {
    let now = Instant::ZERO;
    let mut secc = SeccSession::new(config(), [1; 8], now);
    let deadline = secc.poll_timeout().unwrap();
    assert_eq!(deadline, now + ccs_proto::time::Duration::from_secs(60));
    secc.handle_timeout(deadline);
    assert!(secc.is_finished());
    assert_eq!(
        secc.outcome(),
        Some(&Outcome::Failed(SessionError::Timeout(
            "V2G_SECC_Sequence_Timeout"
        )))
    );
}

#[test]
fn every_recorded_car_handshake_gets_din_with_its_schema_id() {
    let rows = ccs_testdata::read_tsv("vectors/pyplc_vectors.tsv");
    let mut checked = 0;
    for row in rows
        .iter()
        .filter(|r| r.get("message") == "supportedAppProtocolReq")
    {
        let bytes = ccs_testdata::hex(row.get("hex"));
        let Ok(ccs_msg::app_handshake::Document::SupportedAppProtocolReq(req)) =
            ccs_msg::app_handshake::decode(&bytes)
        else {
            continue;
        };
        let din_entry = req
            .app_protocol
            .iter()
            // OpenV2G's example offers DIN 1.0: another major version does not match.
            .find(|p| {
                p.protocol_namespace == "urn:din:70121:2012:MsgDef" && p.version_number_major == 2
            });
        let mut secc = SeccSession::new(config(), [1; 8], Instant::ZERO);
        secc.handle_message(Instant::ZERO, PayloadType::Exi, &bytes);
        let Some(Transmit::Message { payload, .. }) = secc.poll_transmit() else {
            panic!("no response to line {}", row.line);
        };
        let Ok(ccs_msg::app_handshake::Document::SupportedAppProtocolRes(res)) =
            ccs_msg::app_handshake::decode(&payload)
        else {
            panic!("bad response");
        };
        match din_entry {
            Some(entry) => {
                assert_eq!(res.schema_id, Some(entry.schema_id), "line {}", row.line);
                assert!(!secc.is_finished());
            }
            None => {
                assert_eq!(res.schema_id, None);
                assert!(secc.is_finished());
            }
        }
        checked += 1;
    }
    assert!(checked >= 5, "{checked}");
}

/// A small deterministic generator for garbage (no RNG crate needed).
fn garbage(seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let len = (next() % 64) as usize;
    let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
    if seed.is_multiple_of(2) && bytes.len() >= 2 {
        // Mostly valid EXI + DIN root, so the decoder gets further.
        bytes[0] = 0x80;
        bytes[1] = 0x9a;
    }
    bytes
}

#[test]
fn garbage_requests_end_the_session_safely_without_panicking() {
    for seed in 0..500u64 {
        let sid = [6; 8];
        let mut c = Charger::new(sid);
        let steps = seed % 5;
        let mut lead = lead_up(MessageKind::CurrentDemand, &sid);
        lead.truncate(steps as usize);
        for m in &lead {
            c.request(m);
        }
        let bytes = garbage(seed);
        c.now += ccs_proto::time::Duration::from_millis(10);
        c.secc.handle_message(c.now, PayloadType::Exi, &bytes);
        if din::decode(&bytes).is_err() {
            assert!(c.secc.is_finished(), "seed {seed}: still running");
            let off = std::iter::from_fn(|| c.secc.poll_command())
                .any(|cmd| matches!(cmd, HardwareCommand::PowerSupply(s) if !s.enabled));
            assert!(off, "seed {seed}: power supply not switched off");
        }
    }
}

#[test]
fn garbage_responses_send_the_car_into_the_safe_shutdown() {
    use ccs_proto::session::{EvccConfig, EvccSession};
    for seed in 0..300u64 {
        let now = Instant::ZERO;
        let mut car = EvccSession::new(EvccConfig::default(), [2, 0, 0, 0, 0, 1], now);
        car.handle_connected(now);
        if !seed.is_multiple_of(3) {
            car.handle_message(now, PayloadType::Exi, &ccs_testdata::hex("80400040"));
        }
        car.handle_message(now, PayloadType::Exi, &garbage(seed));
        // Garbage either fails to decode or is not the due response: the car ends.
        assert!(
            car.is_finished() || car.poll_timeout().is_some(),
            "seed {seed}"
        );
        for _ in 0..100 {
            let Some(deadline) = car.poll_timeout() else {
                break;
            };
            car.handle_timeout(deadline);
        }
        assert!(car.is_finished(), "seed {seed}: the car hangs");
        assert!(
            matches!(car.outcome(), Some(Outcome::Failed(_))),
            "seed {seed}"
        );
    }
}
