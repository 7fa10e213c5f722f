//! One decoded V2G message of any of the protocols the sessions speak (DIN SPEC 70121,
//! ISO 15118-2, ISO 15118-20 DC), with the few edits a misbehaving peer makes to it: a FAILED
//! response instead, a different SessionID, an EVSE status or notification, an EV error. The
//! tampering peer ([`super::peer`]) and the hostile script ([`super::hostile`]) share it.

use ccs_msg::din;
use ccs_msg::iso2;
use ccs_msg::iso20::common;
use ccs_msg::iso20::dc;
use ccs_msg::iso20::types::{
    EVSEStatusType, EvseNotificationType, MessageHeaderType, ResponseCodeType as Iso20Code,
};
use ccs_proto::session::Protocol;
use ccs_proto::session::din::values as din_values;
use ccs_proto::session::iso2::msg as iso2_msg;
use ccs_proto::session::iso20::values::{self as iso20_values, Message as Iso20Message};
use ccs_proto::v2gtp::PayloadType;

/// The charger's identity in refusals the peer makes up.
const EVSE_ID: &str = "ZZ00000";

/// A refusal, named the same in every protocol (DIN SPEC 70121 Table 54, ISO 15118-2 Table
/// 105, ISO 15118-20 Table 214).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum Refusal {
    /// `FAILED`.
    Failed,
    /// `FAILED_SequenceError`.
    SequenceError,
    /// `FAILED_ServiceSelectionInvalid`.
    ServiceSelectionInvalid,
    /// `FAILED_UnknownSession`.
    UnknownSession,
}

impl Refusal {
    /// The response code's name as in every schema.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Failed => "FAILED",
            Self::SequenceError => "FAILED_SequenceError",
            Self::ServiceSelectionInvalid => "FAILED_ServiceSelectionInvalid",
            Self::UnknownSession => "FAILED_UnknownSession",
        }
    }

    fn din(self) -> din::ResponseCodeType {
        match self {
            Self::Failed => din::ResponseCodeType::FAILED,
            Self::SequenceError => din::ResponseCodeType::FAILED_SequenceError,
            Self::ServiceSelectionInvalid => din::ResponseCodeType::FAILED_ServiceSelectionInvalid,
            Self::UnknownSession => din::ResponseCodeType::FAILED_UnknownSession,
        }
    }

    fn iso2(self) -> iso2::ResponseCodeType {
        match self {
            Self::Failed => iso2::ResponseCodeType::FAILED,
            Self::SequenceError => iso2::ResponseCodeType::FAILED_SequenceError,
            Self::ServiceSelectionInvalid => iso2::ResponseCodeType::FAILED_ServiceSelectionInvalid,
            Self::UnknownSession => iso2::ResponseCodeType::FAILED_UnknownSession,
        }
    }

    fn iso20(self) -> Iso20Code {
        match self {
            Self::Failed => Iso20Code::FAILED,
            Self::SequenceError => Iso20Code::FAILED_SequenceError,
            Self::ServiceSelectionInvalid => Iso20Code::FAILED_ServiceSelectionInvalid,
            Self::UnknownSession => Iso20Code::FAILED_UnknownSession,
        }
    }
}

/// What the charger announces in its status: DIN and ISO 15118-2 carry a DC_EVSEStatusCode
/// and an EVSENotification, ISO 15118-20 an EVSENotification only (a charger that must stop
/// at once answers with a FAILED response code instead, [`Refusal::Failed`]).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum EvseNotice {
    /// DC_EVSEStatusCode `EVSE_Shutdown` (a normal stop).
    Shutdown,
    /// DC_EVSEStatusCode `EVSE_EmergencyShutdown`.
    EmergencyShutdown,
    /// DC_EVSEStatusCode `EVSE_Malfunction`.
    Malfunction,
    /// EVSENotification `StopCharging` (DIN, ISO 15118-2; a normal stop).
    StopCharging,
    /// EVSENotification `Terminate` (ISO 15118-20; a normal stop).
    Terminate,
    /// EVSENotification `Pause` (ISO 15118-20; the car stops and ends with SessionStop Pause).
    Pause,
}

/// One decoded message; see the module docs.
#[derive(Clone, Debug, PartialEq)]
pub enum PeerMessage {
    /// DIN SPEC 70121.
    Din(din::V2G_Message),
    /// ISO 15118-2.
    Iso2(iso2::V2G_Message),
    /// ISO 15118-20 (CommonMessages or DC).
    Iso20(Iso20Message),
}

impl PeerMessage {
    /// Decodes `payload` as a message of `protocol`; `None` if it is not one (the app
    /// handshake, garbage).
    pub fn decode(protocol: Protocol, payload_type: PayloadType, payload: &[u8]) -> Option<Self> {
        let msg = match protocol {
            Protocol::Din70121 => Self::Din(din::decode(payload).ok()?),
            Protocol::Iso15118_2 => Self::Iso2(iso2::decode(payload).ok()?),
            Protocol::Iso15118_20Dc | Protocol::Iso15118_20DcBpt => {
                Self::Iso20(Iso20Message::decode(payload_type, payload).ok()?)
            }
            _ => return None,
        };
        msg.name().is_some().then_some(msg)
    }

    /// The V2GTP payload type and the bytes.
    pub fn encode(&self) -> Option<(PayloadType, Vec<u8>)> {
        match self {
            Self::Din(m) => Some((PayloadType::Exi, din::encode(m).ok()?)),
            Self::Iso2(m) => Some((PayloadType::Exi, iso2::encode(m).ok()?)),
            Self::Iso20(m) => m.encode().ok(),
        }
    }

    /// The element name as in the schema (`CableCheckRes`, `DC_ChargeLoopRes`, ...).
    pub fn name(&self) -> Option<&'static str> {
        match self {
            Self::Din(m) => {
                let body = m.body.body_element.as_ref()?;
                din_values::MessageKind::of_request(body)
                    .map(din_values::MessageKind::request_name)
                    .or_else(|| {
                        din_values::MessageKind::of_response(body)
                            .map(din_values::MessageKind::response_name)
                    })
            }
            Self::Iso2(m) => {
                let body = m.body.body_element.as_ref()?;
                iso2_msg::MessageKind::of_request(body)
                    .map(iso2_msg::MessageKind::request_name)
                    .or_else(|| {
                        iso2_msg::MessageKind::of_response(body)
                            .map(iso2_msg::MessageKind::response_name)
                    })
            }
            Self::Iso20(m) => m
                .request_kind()
                .map(iso20_values::MessageKind::request_name)
                .or_else(|| {
                    m.response_kind()
                        .map(iso20_values::MessageKind::response_name)
                }),
        }
    }

    /// The response code's name, for responses.
    pub fn response_code(&self) -> Option<String> {
        match self {
            Self::Din(m) => {
                din_response_code(m.body.body_element.as_ref()?).map(|c| format!("{c:?}"))
            }
            Self::Iso2(m) => {
                iso2_response_code(m.body.body_element.as_ref()?).map(|c| format!("{c:?}"))
            }
            Self::Iso20(m) => m.response_code().map(|c| format!("{c:?}")),
        }
    }

    /// The charger's DC_EVSEStatusCode (DIN, ISO 15118-2) or EVSENotification (ISO 15118-20)
    /// in PreChargeRes, CurrentDemandRes, DC_ChargeLoopRes.
    pub fn evse_status(&self) -> Option<String> {
        match self {
            Self::Din(m) => match m.body.body_element.as_ref()? {
                din::BodyElement::PreChargeRes(r) => Some(&r.dc_evse_status),
                din::BodyElement::CurrentDemandRes(r) => Some(&r.dc_evse_status),
                _ => None,
            }
            .map(|s| format!("{:?}", s.evse_status_code)),
            Self::Iso2(m) => match m.body.body_element.as_ref()? {
                iso2::BodyElement::PreChargeRes(r) => Some(&r.dc_evse_status),
                iso2::BodyElement::CurrentDemandRes(r) => Some(&r.dc_evse_status),
                _ => None,
            }
            .map(|s| format!("{:?}", s.evse_status_code)),
            Self::Iso20(Iso20Message::Dc(dc::Document::DC_ChargeLoopRes(r))) => r
                .evse_status
                .as_ref()
                .map(|s| format!("{:?}", s.evse_notification)),
            Self::Iso20(_) => None,
        }
    }

    /// The SessionID in the header.
    pub fn session_id(&self) -> Vec<u8> {
        match self {
            Self::Din(m) => m.header.session_id.clone(),
            Self::Iso2(m) => m.header.session_id.clone(),
            Self::Iso20(m) => m.header().map(|h| h.session_id.clone()).unwrap_or_default(),
        }
    }

    /// Replaces the SessionID in the header.
    pub fn set_session_id(&mut self, id: &[u8]) {
        match self {
            Self::Din(m) => m.header.session_id = id.to_vec(),
            Self::Iso2(m) => m.header.session_id = id.to_vec(),
            Self::Iso20(m) => {
                if let Some(h) = iso20_header_mut(m) {
                    h.session_id = id.to_vec();
                }
            }
        }
    }

    /// A response of the same kind that carries `refusal` and neutral mandatory content (what
    /// a charger sends when it refuses); `None` for requests.
    pub fn refused(&self, refusal: Refusal) -> Option<Self> {
        Some(match self {
            Self::Din(m) => {
                let kind = din_values::MessageKind::of_response(m.body.body_element.as_ref()?)?;
                Self::Din(din_values::failed_response(
                    &m.header.session_id,
                    kind,
                    refusal.din(),
                    EVSE_ID.as_bytes(),
                ))
            }
            Self::Iso2(m) => {
                let kind = iso2_msg::MessageKind::of_response(m.body.body_element.as_ref()?)?;
                Self::Iso2(iso2_msg::failed_response(
                    &m.header.session_id,
                    kind,
                    refusal.iso2(),
                    EVSE_ID,
                    true,
                ))
            }
            Self::Iso20(m) => {
                let kind = m.response_kind()?;
                let header = m.header()?.clone();
                Self::Iso20(iso20_values::refusal(kind, header, refusal.iso20()))
            }
        })
    }

    /// Puts `notice` into the charger's status of PreChargeRes / CurrentDemandRes (DIN,
    /// ISO 15118-2) or DC_ChargeLoopRes (ISO 15118-20); `false` if this message has none or
    /// the protocol cannot say it.
    pub fn set_evse_notice(&mut self, notice: EvseNotice) -> bool {
        match self {
            Self::Din(m) => {
                use din::{DC_EVSEStatusCodeType as C, EVSENotificationType as N};
                let status = match m.body.body_element.as_mut() {
                    Some(din::BodyElement::PreChargeRes(r)) => &mut r.dc_evse_status,
                    Some(din::BodyElement::CurrentDemandRes(r)) => &mut r.dc_evse_status,
                    _ => return false,
                };
                match notice {
                    EvseNotice::Shutdown => status.evse_status_code = C::EVSE_Shutdown,
                    EvseNotice::EmergencyShutdown => {
                        status.evse_status_code = C::EVSE_EmergencyShutdown;
                    }
                    EvseNotice::Malfunction => status.evse_status_code = C::EVSE_Malfunction,
                    EvseNotice::StopCharging => status.evse_notification = N::StopCharging,
                    EvseNotice::Terminate | EvseNotice::Pause => return false,
                }
                true
            }
            Self::Iso2(m) => {
                use iso2::{DC_EVSEStatusCodeType as C, EVSENotificationType as N};
                let status = match m.body.body_element.as_mut() {
                    Some(iso2::BodyElement::PreChargeRes(r)) => &mut r.dc_evse_status,
                    Some(iso2::BodyElement::CurrentDemandRes(r)) => &mut r.dc_evse_status,
                    _ => return false,
                };
                match notice {
                    EvseNotice::Shutdown => status.evse_status_code = C::EVSE_Shutdown,
                    EvseNotice::EmergencyShutdown => {
                        status.evse_status_code = C::EVSE_EmergencyShutdown;
                    }
                    EvseNotice::Malfunction => status.evse_status_code = C::EVSE_Malfunction,
                    EvseNotice::StopCharging => status.evse_notification = N::StopCharging,
                    EvseNotice::Terminate | EvseNotice::Pause => return false,
                }
                true
            }
            Self::Iso20(Iso20Message::Dc(dc::Document::DC_ChargeLoopRes(r))) => {
                let notification = match notice {
                    EvseNotice::Terminate => EvseNotificationType::Terminate,
                    EvseNotice::Pause => EvseNotificationType::Pause,
                    _ => return false,
                };
                r.evse_status = Some(EVSEStatusType {
                    notification_max_delay: 0,
                    evse_notification: notification,
                });
                true
            }
            Self::Iso20(_) => false,
        }
    }

    /// Makes the car's DC_EVStatus of PreChargeReq / CurrentDemandReq say "not ready,
    /// FAILED_EVRESSMalfunction" (DIN, ISO 15118-2; ISO 15118-20 has no such field).
    pub fn set_ev_ress_malfunction(&mut self) -> bool {
        match self {
            Self::Din(m) => {
                let status = match m.body.body_element.as_mut() {
                    Some(din::BodyElement::PreChargeReq(r)) => &mut r.dc_ev_status,
                    Some(din::BodyElement::CurrentDemandReq(r)) => &mut r.dc_ev_status,
                    _ => return false,
                };
                status.ev_error_code = din::DC_EVErrorCodeType::FAILED_EVRESSMalfunction;
                status.ev_ready = false;
                true
            }
            Self::Iso2(m) => {
                let status = match m.body.body_element.as_mut() {
                    Some(iso2::BodyElement::PreChargeReq(r)) => &mut r.dc_ev_status,
                    Some(iso2::BodyElement::CurrentDemandReq(r)) => &mut r.dc_ev_status,
                    _ => return false,
                };
                status.ev_error_code = iso2::DC_EVErrorCodeType::FAILED_EVRESSMalfunction;
                status.ev_ready = false;
                true
            }
            Self::Iso20(_) => false,
        }
    }
}

fn din_response_code(body: &din::BodyElement) -> Option<din::ResponseCodeType> {
    use din::BodyElement as B;
    Some(match body {
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
        _ => return None,
    })
}

fn iso2_response_code(body: &iso2::BodyElement) -> Option<iso2::ResponseCodeType> {
    use iso2::BodyElement as B;
    Some(match body {
        B::SessionSetupRes(r) => r.response_code,
        B::ServiceDiscoveryRes(r) => r.response_code,
        B::ServiceDetailRes(r) => r.response_code,
        B::PaymentServiceSelectionRes(r) => r.response_code,
        B::CertificateInstallationRes(r) => r.response_code,
        B::CertificateUpdateRes(r) => r.response_code,
        B::PaymentDetailsRes(r) => r.response_code,
        B::AuthorizationRes(r) => r.response_code,
        B::ChargeParameterDiscoveryRes(r) => r.response_code,
        B::CableCheckRes(r) => r.response_code,
        B::PreChargeRes(r) => r.response_code,
        B::PowerDeliveryRes(r) => r.response_code,
        B::CurrentDemandRes(r) => r.response_code,
        B::ChargingStatusRes(r) => r.response_code,
        B::MeteringReceiptRes(r) => r.response_code,
        B::WeldingDetectionRes(r) => r.response_code,
        B::SessionStopRes(r) => r.response_code,
        _ => return None,
    })
}

/// The header of an ISO 15118-20 DC-session message, for editing.
fn iso20_header_mut(m: &mut Iso20Message) -> Option<&mut MessageHeaderType> {
    use common::Document as C;
    use dc::Document as D;
    Some(match m {
        Iso20Message::Common(d) => match d {
            C::SessionSetupReq(m) => &mut m.header,
            C::SessionSetupRes(m) => &mut m.header,
            C::AuthorizationSetupReq(m) => &mut m.header,
            C::AuthorizationSetupRes(m) => &mut m.header,
            C::AuthorizationReq(m) => &mut m.header,
            C::AuthorizationRes(m) => &mut m.header,
            C::ServiceDiscoveryReq(m) => &mut m.header,
            C::ServiceDiscoveryRes(m) => &mut m.header,
            C::ServiceDetailReq(m) => &mut m.header,
            C::ServiceDetailRes(m) => &mut m.header,
            C::ServiceSelectionReq(m) => &mut m.header,
            C::ServiceSelectionRes(m) => &mut m.header,
            C::ScheduleExchangeReq(m) => &mut m.header,
            C::ScheduleExchangeRes(m) => &mut m.header,
            C::PowerDeliveryReq(m) => &mut m.header,
            C::PowerDeliveryRes(m) => &mut m.header,
            C::SessionStopReq(m) => &mut m.header,
            C::SessionStopRes(m) => &mut m.header,
            _ => return None,
        },
        Iso20Message::Dc(d) => match d {
            D::DC_ChargeParameterDiscoveryReq(m) => &mut m.header,
            D::DC_ChargeParameterDiscoveryRes(m) => &mut m.header,
            D::DC_CableCheckReq(m) => &mut m.header,
            D::DC_CableCheckRes(m) => &mut m.header,
            D::DC_PreChargeReq(m) => &mut m.header,
            D::DC_PreChargeRes(m) => &mut m.header,
            D::DC_ChargeLoopReq(m) => &mut m.header,
            D::DC_ChargeLoopRes(m) => &mut m.header,
            D::DC_WeldingDetectionReq(m) => &mut m.header,
            D::DC_WeldingDetectionRes(m) => &mut m.header,
            _ => return None,
        },
    })
}
