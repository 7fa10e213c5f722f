//! ISO 15118-20 message plumbing shared by the car and the charger: which message travels in
//! which grammar set (and V2GTP payload type), RationalNumber conversions, the header, the
//! refusal responses, and one-line summaries for the live trace.
//!
//! Read ISO 15118-20:2022 §8.3 (message definitions) and `reference/exi-v2g.md` §1.2 (every
//! message is its own root element; CommonMessages travel as `0x8002`, DC as `0x8004`).

use ccs_msg::iso20::common::{
    self, AuthorizationSetupResType, AuthorizationSetupResType_ASResAuthorizationMode,
    AuthorizationType, Dynamic_SEResControlModeType, EIM_ASResAuthorizationModeType,
    ParameterSetType, ParameterType, ParameterType_Choice,
    ScheduleExchangeResType_SEResControlMode, ServiceListType, ServiceParameterListType,
    ServiceType,
};
use ccs_msg::iso20::dc::{
    self, CLResControlMode, DC_CPDResEnergyTransferMode, DC_CPDResEnergyTransferModeType,
    Scheduled_DC_CLResControlModeType,
};
use ccs_msg::iso20::types::{
    MessageHeaderType, ProcessingType, RationalNumberType, ResponseCodeType,
};

use crate::session::SessionError;
use crate::v2gtp::PayloadType;

/// ServiceID of the DC energy transfer service (ISO 15118-20 Table 204).
pub const SERVICE_DC: u16 = 2;
/// ServiceID of the DC_BPT energy transfer service (ISO 15118-20 Table 204).
pub const SERVICE_DC_BPT: u16 = 6;
/// The SessionID of SessionSetupReq: eight zero bytes (no session yet).
pub const NO_SESSION_ID: [u8; 8] = [0; 8];

/// The request/response pairs of an ISO 15118-20 DC session.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum MessageKind {
    /// SessionSetupReq/Res.
    SessionSetup,
    /// AuthorizationSetupReq/Res.
    AuthorizationSetup,
    /// AuthorizationReq/Res.
    Authorization,
    /// ServiceDiscoveryReq/Res.
    ServiceDiscovery,
    /// ServiceDetailReq/Res.
    ServiceDetail,
    /// ServiceSelectionReq/Res.
    ServiceSelection,
    /// DC_ChargeParameterDiscoveryReq/Res.
    ChargeParameterDiscovery,
    /// ScheduleExchangeReq/Res.
    ScheduleExchange,
    /// DC_CableCheckReq/Res.
    CableCheck,
    /// DC_PreChargeReq/Res.
    PreCharge,
    /// PowerDeliveryReq/Res.
    PowerDelivery,
    /// DC_ChargeLoopReq/Res.
    ChargeLoop,
    /// DC_WeldingDetectionReq/Res.
    WeldingDetection,
    /// SessionStopReq/Res.
    SessionStop,
    /// MeteringConfirmationReq/Res (the charger asked with EVSENotification
    /// `MeteringConfirmation`).
    MeteringConfirmation,
}

impl MessageKind {
    /// The V2GTP payload type the message travels with.
    pub const fn payload_type(self) -> PayloadType {
        match self {
            Self::ChargeParameterDiscovery
            | Self::CableCheck
            | Self::PreCharge
            | Self::ChargeLoop
            | Self::WeldingDetection => PayloadType::Iso20Dc,
            _ => PayloadType::Iso20Mainstream,
        }
    }

    /// The request's element name.
    pub const fn request_name(self) -> &'static str {
        match self {
            Self::SessionSetup => "SessionSetupReq",
            Self::AuthorizationSetup => "AuthorizationSetupReq",
            Self::Authorization => "AuthorizationReq",
            Self::ServiceDiscovery => "ServiceDiscoveryReq",
            Self::ServiceDetail => "ServiceDetailReq",
            Self::ServiceSelection => "ServiceSelectionReq",
            Self::ChargeParameterDiscovery => "DC_ChargeParameterDiscoveryReq",
            Self::ScheduleExchange => "ScheduleExchangeReq",
            Self::CableCheck => "DC_CableCheckReq",
            Self::PreCharge => "DC_PreChargeReq",
            Self::PowerDelivery => "PowerDeliveryReq",
            Self::ChargeLoop => "DC_ChargeLoopReq",
            Self::WeldingDetection => "DC_WeldingDetectionReq",
            Self::SessionStop => "SessionStopReq",
            Self::MeteringConfirmation => "MeteringConfirmationReq",
        }
    }

    /// The response's element name.
    pub const fn response_name(self) -> &'static str {
        match self {
            Self::SessionSetup => "SessionSetupRes",
            Self::AuthorizationSetup => "AuthorizationSetupRes",
            Self::Authorization => "AuthorizationRes",
            Self::ServiceDiscovery => "ServiceDiscoveryRes",
            Self::ServiceDetail => "ServiceDetailRes",
            Self::ServiceSelection => "ServiceSelectionRes",
            Self::ChargeParameterDiscovery => "DC_ChargeParameterDiscoveryRes",
            Self::ScheduleExchange => "ScheduleExchangeRes",
            Self::CableCheck => "DC_CableCheckRes",
            Self::PreCharge => "DC_PreChargeRes",
            Self::PowerDelivery => "PowerDeliveryRes",
            Self::ChargeLoop => "DC_ChargeLoopRes",
            Self::WeldingDetection => "DC_WeldingDetectionRes",
            Self::SessionStop => "SessionStopRes",
            Self::MeteringConfirmation => "MeteringConfirmationRes",
        }
    }
}

/// One decoded ISO 15118-20 message of either grammar set the DC session uses.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    /// A CommonMessages document (`0x8002`).
    Common(common::Document),
    /// A DC document (`0x8004`).
    Dc(dc::Document),
}

impl Message {
    /// Decodes `payload` with the grammar set its V2GTP payload type names.
    pub fn decode(payload_type: PayloadType, payload: &[u8]) -> Result<Self, SessionError> {
        match payload_type {
            PayloadType::Iso20Mainstream => common::decode(payload)
                .map(Self::Common)
                .map_err(|e| SessionError::InvalidMessage(e.to_string())),
            PayloadType::Iso20Dc => dc::decode(payload)
                .map(Self::Dc)
                .map_err(|e| SessionError::InvalidMessage(e.to_string())),
            other => Err(SessionError::InvalidMessage(format!(
                "V2GTP payload type {other:?} in an ISO 15118-20 DC session"
            ))),
        }
    }

    /// Encodes the message; returns its payload type and bytes.
    pub fn encode(&self) -> Result<(PayloadType, Vec<u8>), ccs_msg::Error> {
        match self {
            Self::Common(doc) => Ok((PayloadType::Iso20Mainstream, common::encode(doc)?)),
            Self::Dc(doc) => Ok((PayloadType::Iso20Dc, dc::encode(doc)?)),
        }
    }

    /// Which request this is, if it is one of a DC session.
    pub fn request_kind(&self) -> Option<MessageKind> {
        use MessageKind as K;
        Some(match self {
            Self::Common(d) => match d {
                common::Document::SessionSetupReq(_) => K::SessionSetup,
                common::Document::AuthorizationSetupReq(_) => K::AuthorizationSetup,
                common::Document::AuthorizationReq(_) => K::Authorization,
                common::Document::ServiceDiscoveryReq(_) => K::ServiceDiscovery,
                common::Document::ServiceDetailReq(_) => K::ServiceDetail,
                common::Document::ServiceSelectionReq(_) => K::ServiceSelection,
                common::Document::ScheduleExchangeReq(_) => K::ScheduleExchange,
                common::Document::PowerDeliveryReq(_) => K::PowerDelivery,
                common::Document::SessionStopReq(_) => K::SessionStop,
                common::Document::MeteringConfirmationReq(_) => K::MeteringConfirmation,
                _ => return None,
            },
            Self::Dc(d) => match d {
                dc::Document::DC_ChargeParameterDiscoveryReq(_) => K::ChargeParameterDiscovery,
                dc::Document::DC_CableCheckReq(_) => K::CableCheck,
                dc::Document::DC_PreChargeReq(_) => K::PreCharge,
                dc::Document::DC_ChargeLoopReq(_) => K::ChargeLoop,
                dc::Document::DC_WeldingDetectionReq(_) => K::WeldingDetection,
                _ => return None,
            },
        })
    }

    /// Which response this is, if it is one of a DC session.
    pub fn response_kind(&self) -> Option<MessageKind> {
        use MessageKind as K;
        Some(match self {
            Self::Common(d) => match d {
                common::Document::SessionSetupRes(_) => K::SessionSetup,
                common::Document::AuthorizationSetupRes(_) => K::AuthorizationSetup,
                common::Document::AuthorizationRes(_) => K::Authorization,
                common::Document::ServiceDiscoveryRes(_) => K::ServiceDiscovery,
                common::Document::ServiceDetailRes(_) => K::ServiceDetail,
                common::Document::ServiceSelectionRes(_) => K::ServiceSelection,
                common::Document::ScheduleExchangeRes(_) => K::ScheduleExchange,
                common::Document::PowerDeliveryRes(_) => K::PowerDelivery,
                common::Document::SessionStopRes(_) => K::SessionStop,
                common::Document::MeteringConfirmationRes(_) => K::MeteringConfirmation,
                _ => return None,
            },
            Self::Dc(d) => match d {
                dc::Document::DC_ChargeParameterDiscoveryRes(_) => K::ChargeParameterDiscovery,
                dc::Document::DC_CableCheckRes(_) => K::CableCheck,
                dc::Document::DC_PreChargeRes(_) => K::PreCharge,
                dc::Document::DC_ChargeLoopRes(_) => K::ChargeLoop,
                dc::Document::DC_WeldingDetectionRes(_) => K::WeldingDetection,
                _ => return None,
            },
        })
    }

    /// The message header (every request and response has one).
    pub fn header(&self) -> Option<&MessageHeaderType> {
        Some(match self {
            Self::Common(d) => match d {
                common::Document::SessionSetupReq(m) => &m.header,
                common::Document::SessionSetupRes(m) => &m.header,
                common::Document::AuthorizationSetupReq(m) => &m.header,
                common::Document::AuthorizationSetupRes(m) => &m.header,
                common::Document::AuthorizationReq(m) => &m.header,
                common::Document::AuthorizationRes(m) => &m.header,
                common::Document::ServiceDiscoveryReq(m) => &m.header,
                common::Document::ServiceDiscoveryRes(m) => &m.header,
                common::Document::ServiceDetailReq(m) => &m.header,
                common::Document::ServiceDetailRes(m) => &m.header,
                common::Document::ServiceSelectionReq(m) => &m.header,
                common::Document::ServiceSelectionRes(m) => &m.header,
                common::Document::ScheduleExchangeReq(m) => &m.header,
                common::Document::ScheduleExchangeRes(m) => &m.header,
                common::Document::PowerDeliveryReq(m) => &m.header,
                common::Document::PowerDeliveryRes(m) => &m.header,
                common::Document::SessionStopReq(m) => &m.header,
                common::Document::SessionStopRes(m) => &m.header,
                common::Document::MeteringConfirmationReq(m) => &m.header,
                common::Document::MeteringConfirmationRes(m) => &m.header,
                _ => return None,
            },
            Self::Dc(d) => match d {
                dc::Document::DC_ChargeParameterDiscoveryReq(m) => &m.header,
                dc::Document::DC_ChargeParameterDiscoveryRes(m) => &m.header,
                dc::Document::DC_CableCheckReq(m) => &m.header,
                dc::Document::DC_CableCheckRes(m) => &m.header,
                dc::Document::DC_PreChargeReq(m) => &m.header,
                dc::Document::DC_PreChargeRes(m) => &m.header,
                dc::Document::DC_ChargeLoopReq(m) => &m.header,
                dc::Document::DC_ChargeLoopRes(m) => &m.header,
                dc::Document::DC_WeldingDetectionReq(m) => &m.header,
                dc::Document::DC_WeldingDetectionRes(m) => &m.header,
                _ => return None,
            },
        })
    }

    /// The response code of a response.
    pub fn response_code(&self) -> Option<ResponseCodeType> {
        Some(match self {
            Self::Common(d) => match d {
                common::Document::SessionSetupRes(m) => m.response_code,
                common::Document::AuthorizationSetupRes(m) => m.response_code,
                common::Document::AuthorizationRes(m) => m.response_code,
                common::Document::ServiceDiscoveryRes(m) => m.response_code,
                common::Document::ServiceDetailRes(m) => m.response_code,
                common::Document::ServiceSelectionRes(m) => m.response_code,
                common::Document::ScheduleExchangeRes(m) => m.response_code,
                common::Document::PowerDeliveryRes(m) => m.response_code,
                common::Document::SessionStopRes(m) => m.response_code,
                common::Document::MeteringConfirmationRes(m) => m.response_code,
                _ => return None,
            },
            Self::Dc(d) => match d {
                dc::Document::DC_ChargeParameterDiscoveryRes(m) => m.response_code,
                dc::Document::DC_CableCheckRes(m) => m.response_code,
                dc::Document::DC_PreChargeRes(m) => m.response_code,
                dc::Document::DC_ChargeLoopRes(m) => m.response_code,
                dc::Document::DC_WeldingDetectionRes(m) => m.response_code,
                _ => return None,
            },
        })
    }

    /// A one-line summary of the key values, for [`crate::session::SessionEvent`].
    pub fn summary(&self) -> String {
        let mut s = String::new();
        if let Some(code) = self.response_code() {
            s.push_str(&format!("{code:?}"));
        }
        let mut add = |part: String| {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(&part);
        };
        match self {
            Self::Common(common::Document::SessionSetupReq(m)) => add(format!("EVCCID={}", m.evccid)),
            Self::Common(common::Document::SessionSetupRes(m)) => {
                add(format!("SessionID={} EVSEID={}", hex(&m.header.session_id), m.evseid));
            }
            Self::Common(common::Document::AuthorizationSetupRes(m)) => {
                add(format!("services={:?}", m.authorization_services));
            }
            Self::Common(common::Document::AuthorizationReq(m)) => {
                add(format!("{:?}", m.selected_authorization_service));
            }
            Self::Common(common::Document::AuthorizationRes(m)) => {
                add(format!("{:?}", m.evse_processing));
            }
            Self::Common(common::Document::ServiceDiscoveryRes(m)) => add(format!(
                "services={:?}",
                m.energy_transfer_service_list
                    .service
                    .iter()
                    .map(|s| s.service_id)
                    .collect::<Vec<_>>()
            )),
            Self::Common(common::Document::ServiceDetailReq(m)) => {
                add(format!("ServiceID={}", m.service_id));
            }
            Self::Common(common::Document::ServiceSelectionReq(m)) => add(format!(
                "ServiceID={} ParameterSetID={}",
                m.selected_energy_transfer_service.service_id,
                m.selected_energy_transfer_service.parameter_set_id
            )),
            Self::Common(common::Document::ScheduleExchangeReq(m)) => add(match &m.se_req_control_mode {
                common::ScheduleExchangeReqType_SEReqControlMode::Dynamic_SEReqControlMode(_) => {
                    "Dynamic".into()
                }
                common::ScheduleExchangeReqType_SEReqControlMode::Scheduled_SEReqControlMode(_) => {
                    "Scheduled".into()
                }
            }),
            Self::Common(common::Document::ScheduleExchangeRes(m)) => {
                add(format!("{:?}", m.evse_processing));
            }
            Self::Common(common::Document::PowerDeliveryReq(m)) => add(format!(
                "{:?} {:?}{}",
                m.charge_progress,
                m.ev_processing,
                m.bpt_channel_selection
                    .map(|c| format!(" {c:?}"))
                    .unwrap_or_default()
            )),
            Self::Common(common::Document::PowerDeliveryRes(m)) => {
                if let Some(st) = &m.evse_status {
                    add(format!("{:?}", st.evse_notification));
                }
            }
            Self::Common(common::Document::SessionStopReq(m)) => {
                add(format!("{:?}", m.charging_session));
            }
            Self::Common(common::Document::MeteringConfirmationReq(m)) => add(format!(
                "{} Wh{}",
                m.signed_metering_data.meter_info.charged_energy_reading_wh,
                if m.header.signature.is_some() {
                    " signed"
                } else {
                    ""
                }
            )),
            Self::Dc(dc::Document::DC_CableCheckRes(m)) => add(format!("{:?}", m.evse_processing)),
            Self::Dc(dc::Document::DC_PreChargeReq(m)) => add(format!(
                "{:?} U={:.1}V target={:.1}V",
                m.ev_processing,
                to_f32(&m.ev_present_voltage),
                to_f32(&m.ev_target_voltage)
            )),
            Self::Dc(dc::Document::DC_PreChargeRes(m)) => {
                add(format!("U={:.1}V", to_f32(&m.evse_present_voltage)));
            }
            Self::Dc(dc::Document::DC_ChargeLoopReq(m)) => {
                let soc = m
                    .display_parameters
                    .as_ref()
                    .and_then(|d| d.present_soc)
                    .map(|s| format!(" SoC={s}%"))
                    .unwrap_or_default();
                let target = match &m.cl_req_control_mode {
                    dc::CLReqControlMode::Scheduled_DC_CLReqControlMode(c) => format!(
                        " target={:.1}V/{:.1}A",
                        to_f32(&c.ev_target_voltage),
                        to_f32(&c.ev_target_current)
                    ),
                    dc::CLReqControlMode::BPT_Scheduled_DC_CLReqControlMode(c) => format!(
                        " target={:.1}V/{:.1}A",
                        to_f32(&c.ev_target_voltage),
                        to_f32(&c.ev_target_current)
                    ),
                    _ => " dynamic".into(),
                };
                add(format!("U={:.1}V{target}{soc}", to_f32(&m.ev_present_voltage)));
            }
            Self::Dc(dc::Document::DC_ChargeLoopRes(m)) => {
                add(format!(
                    "U={:.1}V I={:.1}A",
                    to_f32(&m.evse_present_voltage),
                    to_f32(&m.evse_present_current)
                ));
                if let Some(st) = &m.evse_status {
                    add(format!("{:?}", st.evse_notification));
                }
            }
            Self::Dc(dc::Document::DC_WeldingDetectionRes(m)) => {
                add(format!("U={:.1}V", to_f32(&m.evse_present_voltage)));
            }
            _ => {}
        }
        s
    }
}

/// Whether a response code lets the session go on (`OK*`). `WARNING_*` codes are judged by the
/// message that carries them; `FAILED*` ends the session.
pub const fn is_ok(code: ResponseCodeType) -> bool {
    matches!(
        code,
        ResponseCodeType::OK
            | ResponseCodeType::OK_CertificateExpiresSoon
            | ResponseCodeType::OK_NewSessionEstablished
            | ResponseCodeType::OK_OldSessionJoined
            | ResponseCodeType::OK_PowerToleranceConfirmed
    )
}

/// Whether a response code is one of the `FAILED*` family.
pub const fn is_failed(code: ResponseCodeType) -> bool {
    matches!(
        code,
        ResponseCodeType::FAILED
            | ResponseCodeType::FAILED_AssociationError
            | ResponseCodeType::FAILED_ContactorError
            | ResponseCodeType::FAILED_EVPowerProfileInvalid
            | ResponseCodeType::FAILED_EVPowerProfileViolation
            | ResponseCodeType::FAILED_MeteringSignatureNotValid
            | ResponseCodeType::FAILED_NoEnergyTransferServiceSelected
            | ResponseCodeType::FAILED_NoServiceRenegotiationSupported
            | ResponseCodeType::FAILED_PauseNotAllowed
            | ResponseCodeType::FAILED_PowerDeliveryNotApplied
            | ResponseCodeType::FAILED_PowerToleranceNotConfirmed
            | ResponseCodeType::FAILED_ScheduleRenegotiation
            | ResponseCodeType::FAILED_ScheduleSelectionInvalid
            | ResponseCodeType::FAILED_SequenceError
            | ResponseCodeType::FAILED_ServiceIDInvalid
            | ResponseCodeType::FAILED_ServiceSelectionInvalid
            | ResponseCodeType::FAILED_SignatureError
            | ResponseCodeType::FAILED_UnknownSession
            | ResponseCodeType::FAILED_WrongChargeParameter
    )
}

/// A RationalNumber's value: `Value × 10^Exponent`.
pub fn to_f32(r: &RationalNumberType) -> f32 {
    f32::from(r.value) * 10f32.powi(i32::from(r.exponent))
}

/// The RationalNumber closest to `x` with the finest exponent (−3 … 3) whose value fits an
/// `i16`; values beyond ±32767 × 10³ saturate.
pub fn rational(x: f32) -> RationalNumberType {
    if !x.is_finite() || x == 0.0 {
        return RationalNumberType {
            exponent: 0,
            value: 0,
        };
    }
    for exponent in -3i8..=3 {
        let scaled = (x / 10f32.powi(i32::from(exponent))).round();
        if scaled.abs() <= f32::from(i16::MAX) {
            return RationalNumberType {
                exponent,
                value: scaled as i16,
            };
        }
    }
    RationalNumberType {
        exponent: 3,
        value: if x > 0.0 { i16::MAX } else { i16::MIN + 1 },
    }
}

/// A message header for `session_id` at `time_stamp` (seconds since 1970, from the driver's
/// clock offset; the core reads no clock).
pub fn header(session_id: &[u8], time_stamp: u64) -> MessageHeaderType {
    MessageHeaderType {
        session_id: session_id.to_vec(),
        time_stamp,
        signature: None,
    }
}

/// Bytes as upper-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// A response of `kind` that carries only `code` and the mandatory elements with neutral
/// values: what the charger sends when it refuses a request (FAILED_SequenceError,
/// FAILED_UnknownSession, FAILED …) before it ends the session.
pub fn refusal(kind: MessageKind, header: MessageHeaderType, code: ResponseCodeType) -> Message {
    use MessageKind as K;
    let zero = RationalNumberType {
        exponent: 0,
        value: 0,
    };
    match kind {
        K::SessionSetup => Message::Common(common::Document::SessionSetupRes(
            common::SessionSetupResType {
                header,
                response_code: code,
                evseid: "ZZ00000".into(),
            },
        )),
        K::AuthorizationSetup => Message::Common(common::Document::AuthorizationSetupRes(
            AuthorizationSetupResType {
                header,
                response_code: code,
                authorization_services: vec![AuthorizationType::EIM],
                certificate_installation_service: false,
                as_res_authorization_mode:
                    AuthorizationSetupResType_ASResAuthorizationMode::EIM_ASResAuthorizationMode(
                        EIM_ASResAuthorizationModeType {},
                    ),
            },
        )),
        K::Authorization => Message::Common(common::Document::AuthorizationRes(
            common::AuthorizationResType {
                header,
                response_code: code,
                evse_processing: ProcessingType::Finished,
            },
        )),
        K::ServiceDiscovery => Message::Common(common::Document::ServiceDiscoveryRes(
            common::ServiceDiscoveryResType {
                header,
                response_code: code,
                service_renegotiation_supported: false,
                energy_transfer_service_list: ServiceListType {
                    service: vec![ServiceType {
                        service_id: SERVICE_DC,
                        free_service: false,
                    }],
                },
                vas_list: None,
            },
        )),
        K::ServiceDetail => Message::Common(common::Document::ServiceDetailRes(
            common::ServiceDetailResType {
                header,
                response_code: code,
                service_id: SERVICE_DC,
                service_parameter_list: ServiceParameterListType {
                    parameter_set: vec![ParameterSetType {
                        parameter_set_id: 1,
                        parameter: vec![ParameterType {
                            name: "Connector".into(),
                            choice: ParameterType_Choice::IntValue(2),
                        }],
                    }],
                },
            },
        )),
        K::ServiceSelection => Message::Common(common::Document::ServiceSelectionRes(
            common::ServiceSelectionResType {
                header,
                response_code: code,
            },
        )),
        K::ChargeParameterDiscovery => Message::Dc(dc::Document::DC_ChargeParameterDiscoveryRes(
            dc::DC_ChargeParameterDiscoveryResType {
                header,
                response_code: code,
                dc_cpd_res_energy_transfer_mode:
                    DC_CPDResEnergyTransferMode::DC_CPDResEnergyTransferMode(
                        DC_CPDResEnergyTransferModeType {
                            evse_maximum_charge_power: zero.clone(),
                            evse_minimum_charge_power: zero.clone(),
                            evse_maximum_charge_current: zero.clone(),
                            evse_minimum_charge_current: zero.clone(),
                            evse_maximum_voltage: zero.clone(),
                            evse_minimum_voltage: zero,
                            evse_power_ramp_limitation: None,
                        },
                    ),
            },
        )),
        K::ScheduleExchange => Message::Common(common::Document::ScheduleExchangeRes(
            common::ScheduleExchangeResType {
                header,
                response_code: code,
                evse_processing: ProcessingType::Finished,
                go_to_pause: None,
                se_res_control_mode:
                    ScheduleExchangeResType_SEResControlMode::Dynamic_SEResControlMode(
                        Dynamic_SEResControlModeType {
                            departure_time: None,
                            minimum_soc: None,
                            target_soc: None,
                            schedule: None,
                        },
                    ),
            },
        )),
        K::CableCheck => Message::Dc(dc::Document::DC_CableCheckRes(dc::DC_CableCheckResType {
            header,
            response_code: code,
            evse_processing: ProcessingType::Finished,
        })),
        K::PreCharge => Message::Dc(dc::Document::DC_PreChargeRes(dc::DC_PreChargeResType {
            header,
            response_code: code,
            evse_present_voltage: zero,
        })),
        K::PowerDelivery => Message::Common(common::Document::PowerDeliveryRes(
            common::PowerDeliveryResType {
                header,
                response_code: code,
                evse_status: None,
            },
        )),
        K::ChargeLoop => Message::Dc(dc::Document::DC_ChargeLoopRes(dc::DC_ChargeLoopResType {
            header,
            response_code: code,
            evse_status: None,
            meter_info: None,
            receipt: None,
            evse_present_current: zero.clone(),
            evse_present_voltage: zero,
            evse_power_limit_achieved: false,
            evse_current_limit_achieved: false,
            evse_voltage_limit_achieved: false,
            cl_res_control_mode: CLResControlMode::Scheduled_DC_CLResControlMode(
                Scheduled_DC_CLResControlModeType {
                    evse_maximum_charge_power: None,
                    evse_minimum_charge_power: None,
                    evse_maximum_charge_current: None,
                    evse_maximum_voltage: None,
                },
            ),
        })),
        K::WeldingDetection => Message::Dc(dc::Document::DC_WeldingDetectionRes(
            dc::DC_WeldingDetectionResType {
                header,
                response_code: code,
                evse_present_voltage: zero,
            },
        )),
        K::SessionStop => Message::Common(common::Document::SessionStopRes(
            common::SessionStopResType {
                header,
                response_code: code,
            },
        )),
        K::MeteringConfirmation => Message::Common(common::Document::MeteringConfirmationRes(
            common::MeteringConfirmationResType {
                header,
                response_code: code,
            },
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rationals_keep_the_resolution_that_fits() {
        for x in [0.0f32, 1.0, 400.0, 399.7, -30.0, 98_000.0, 20_000.0, 0.125] {
            let r = rational(x);
            let back = to_f32(&r);
            assert!(
                (back - x).abs() <= x.abs() * 1e-3 + 1e-3,
                "{x} -> {r:?} -> {back}"
            );
        }
        assert_eq!(
            rational(400.0),
            RationalNumberType {
                exponent: -1,
                value: 4000
            }
        );
    }

    #[test]
    fn every_refusal_encodes_and_decodes_as_its_kind() {
        use MessageKind as K;
        for kind in [
            K::SessionSetup,
            K::AuthorizationSetup,
            K::Authorization,
            K::ServiceDiscovery,
            K::ServiceDetail,
            K::ServiceSelection,
            K::ChargeParameterDiscovery,
            K::ScheduleExchange,
            K::CableCheck,
            K::PreCharge,
            K::PowerDelivery,
            K::ChargeLoop,
            K::WeldingDetection,
            K::SessionStop,
            K::MeteringConfirmation,
        ] {
            let msg = refusal(
                kind,
                header(&[1; 8], 7),
                ResponseCodeType::FAILED_SequenceError,
            );
            let (pt, bytes) = msg.encode().expect("encodes");
            assert_eq!(pt, kind.payload_type());
            let back = Message::decode(pt, &bytes).expect("decodes");
            assert_eq!(back.response_kind(), Some(kind));
            assert_eq!(
                back.response_code(),
                Some(ResponseCodeType::FAILED_SequenceError)
            );
        }
    }
}
