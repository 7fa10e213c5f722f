//! ISO 15118-2 messages as our car and charger build and read them: the request/response
//! kinds, physical values, the header, the minimal FAILED responses and one-line summaries.

use ccs_msg::iso2::{
    AC_EVSEChargeParameterType, AC_EVSEStatusType, AuthorizationResType, BodyElement, BodyType,
    CableCheckResType, CertificateChainType, CertificateInstallationResType,
    CertificateUpdateResType, ChargeParameterDiscoveryResType, ChargeServiceType,
    ChargingStatusResType, ContractSignatureEncryptedPrivateKeyType, CurrentDemandResType,
    DC_EVErrorCodeType, DC_EVSEChargeParameterType, DC_EVSEStatusCodeType, DC_EVSEStatusType,
    DC_EVStatusType, DiffieHellmanPublickeyType, EMAIDType, EVChargeParameter, EVSEChargeParameter,
    EVSENotificationType, EVSEProcessingType, EVSEStatus, EnergyTransferModeType,
    IsolationLevelType, MessageHeaderType, MeteringReceiptResType, PaymentDetailsResType,
    PaymentOptionListType, PaymentOptionType, PaymentServiceSelectionResType, PhysicalValueType,
    PowerDeliveryResType, PreChargeResType, ResponseCodeType, ServiceCategoryType,
    ServiceDetailResType, ServiceDiscoveryResType, SessionSetupResType, SessionStopResType,
    SupportedEnergyTransferModeType, UnitSymbolType, V2G_Message, WeldingDetectionResType,
};

use super::config::{EnergyTransfer, PaymentMethod};

/// The SessionID a car sends in SessionSetupReq before it has one: all zeros, 8 bytes, as
/// Josev and OpenV2G send it.
pub const NO_SESSION_ID: [u8; 8] = [0; 8];

/// The ServiceID of the charge service (ISO 15118-2 §8.6.2.2: 1 = AC_DC_Charging).
pub const CHARGE_SERVICE_ID: u16 = 1;

/// The ServiceID of the certificate installation/update service (§8.6.2.2: 2 = Certificate).
pub const CERTIFICATE_SERVICE_ID: u16 = 2;

/// The request/response pairs of ISO 15118-2.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[allow(missing_docs)]
pub enum MessageKind {
    SessionSetup,
    ServiceDiscovery,
    ServiceDetail,
    PaymentServiceSelection,
    CertificateInstallation,
    CertificateUpdate,
    PaymentDetails,
    Authorization,
    ChargeParameterDiscovery,
    CableCheck,
    PreCharge,
    PowerDelivery,
    CurrentDemand,
    ChargingStatus,
    MeteringReceipt,
    WeldingDetection,
    SessionStop,
}

impl MessageKind {
    /// The request's name as in the schema.
    pub const fn request_name(self) -> &'static str {
        match self {
            Self::SessionSetup => "SessionSetupReq",
            Self::ServiceDiscovery => "ServiceDiscoveryReq",
            Self::ServiceDetail => "ServiceDetailReq",
            Self::PaymentServiceSelection => "PaymentServiceSelectionReq",
            Self::CertificateInstallation => "CertificateInstallationReq",
            Self::CertificateUpdate => "CertificateUpdateReq",
            Self::PaymentDetails => "PaymentDetailsReq",
            Self::Authorization => "AuthorizationReq",
            Self::ChargeParameterDiscovery => "ChargeParameterDiscoveryReq",
            Self::CableCheck => "CableCheckReq",
            Self::PreCharge => "PreChargeReq",
            Self::PowerDelivery => "PowerDeliveryReq",
            Self::CurrentDemand => "CurrentDemandReq",
            Self::ChargingStatus => "ChargingStatusReq",
            Self::MeteringReceipt => "MeteringReceiptReq",
            Self::WeldingDetection => "WeldingDetectionReq",
            Self::SessionStop => "SessionStopReq",
        }
    }

    /// The response's name as in the schema.
    pub const fn response_name(self) -> &'static str {
        match self {
            Self::SessionSetup => "SessionSetupRes",
            Self::ServiceDiscovery => "ServiceDiscoveryRes",
            Self::ServiceDetail => "ServiceDetailRes",
            Self::PaymentServiceSelection => "PaymentServiceSelectionRes",
            Self::CertificateInstallation => "CertificateInstallationRes",
            Self::CertificateUpdate => "CertificateUpdateRes",
            Self::PaymentDetails => "PaymentDetailsRes",
            Self::Authorization => "AuthorizationRes",
            Self::ChargeParameterDiscovery => "ChargeParameterDiscoveryRes",
            Self::CableCheck => "CableCheckRes",
            Self::PreCharge => "PreChargeRes",
            Self::PowerDelivery => "PowerDeliveryRes",
            Self::CurrentDemand => "CurrentDemandRes",
            Self::ChargingStatus => "ChargingStatusRes",
            Self::MeteringReceipt => "MeteringReceiptRes",
            Self::WeldingDetection => "WeldingDetectionRes",
            Self::SessionStop => "SessionStopRes",
        }
    }

    /// The kind of a request body; `None` for responses and the abstract BodyElement.
    pub fn of_request(body: &BodyElement) -> Option<Self> {
        use BodyElement as B;
        Some(match body {
            B::SessionSetupReq(_) => Self::SessionSetup,
            B::ServiceDiscoveryReq(_) => Self::ServiceDiscovery,
            B::ServiceDetailReq(_) => Self::ServiceDetail,
            B::PaymentServiceSelectionReq(_) => Self::PaymentServiceSelection,
            B::CertificateInstallationReq(_) => Self::CertificateInstallation,
            B::CertificateUpdateReq(_) => Self::CertificateUpdate,
            B::PaymentDetailsReq(_) => Self::PaymentDetails,
            B::AuthorizationReq(_) => Self::Authorization,
            B::ChargeParameterDiscoveryReq(_) => Self::ChargeParameterDiscovery,
            B::CableCheckReq(_) => Self::CableCheck,
            B::PreChargeReq(_) => Self::PreCharge,
            B::PowerDeliveryReq(_) => Self::PowerDelivery,
            B::CurrentDemandReq(_) => Self::CurrentDemand,
            B::ChargingStatusReq(_) => Self::ChargingStatus,
            B::MeteringReceiptReq(_) => Self::MeteringReceipt,
            B::WeldingDetectionReq(_) => Self::WeldingDetection,
            B::SessionStopReq(_) => Self::SessionStop,
            _ => return None,
        })
    }

    /// The kind of a response body; `None` for requests.
    pub fn of_response(body: &BodyElement) -> Option<Self> {
        use BodyElement as B;
        Some(match body {
            B::SessionSetupRes(_) => Self::SessionSetup,
            B::ServiceDiscoveryRes(_) => Self::ServiceDiscovery,
            B::ServiceDetailRes(_) => Self::ServiceDetail,
            B::PaymentServiceSelectionRes(_) => Self::PaymentServiceSelection,
            B::CertificateInstallationRes(_) => Self::CertificateInstallation,
            B::CertificateUpdateRes(_) => Self::CertificateUpdate,
            B::PaymentDetailsRes(_) => Self::PaymentDetails,
            B::AuthorizationRes(_) => Self::Authorization,
            B::ChargeParameterDiscoveryRes(_) => Self::ChargeParameterDiscovery,
            B::CableCheckRes(_) => Self::CableCheck,
            B::PreChargeRes(_) => Self::PreCharge,
            B::PowerDeliveryRes(_) => Self::PowerDelivery,
            B::CurrentDemandRes(_) => Self::CurrentDemand,
            B::ChargingStatusRes(_) => Self::ChargingStatus,
            B::MeteringReceiptRes(_) => Self::MeteringReceipt,
            B::WeldingDetectionRes(_) => Self::WeldingDetection,
            B::SessionStopRes(_) => Self::SessionStop,
            _ => return None,
        })
    }
}

/// Whether `code` is a positive response code (`OK*`).
pub fn is_ok(code: ResponseCodeType) -> bool {
    matches!(
        code,
        ResponseCodeType::OK
            | ResponseCodeType::OK_NewSessionEstablished
            | ResponseCodeType::OK_OldSessionJoined
            | ResponseCodeType::OK_CertificateExpiresSoon
    )
}

/// An ISO-2 `PhysicalValueType` for `value`: one decimal (multiplier −1) when it fits the
/// schema's `short`, else the smallest positive multiplier (up to 3) that fits.
pub fn physical(value: f32, unit: UnitSymbolType) -> PhysicalValueType {
    let mut multiplier = -1i8;
    let mut scaled = value * 10.0;
    while scaled.round().abs() > f32::from(i16::MAX) && multiplier < 3 {
        multiplier += 1;
        scaled /= 10.0;
    }
    PhysicalValueType {
        multiplier,
        unit,
        // Saturating float-to-int conversion; values beyond ±32767·10³ do not occur.
        value: scaled.round() as i16,
    }
}

/// The value of an ISO-2 `PhysicalValueType` (`Value · 10^Multiplier`).
pub fn physical_value(p: &PhysicalValueType) -> f32 {
    f32::from(p.value) * 10f32.powi(i32::from(p.multiplier))
}

/// A `V2G_Message` with `session_id` in the header.
pub fn message(session_id: &[u8], body: BodyElement) -> V2G_Message {
    V2G_Message {
        header: MessageHeaderType {
            session_id: session_id.to_vec(),
            notification: None,
            signature: None,
        },
        body: BodyType {
            body_element: Some(body),
        },
    }
}

/// The car's DC_EVStatus.
pub fn dc_ev_status(ready: bool, soc: u8) -> DC_EVStatusType {
    DC_EVStatusType {
        ev_ready: ready,
        ev_error_code: DC_EVErrorCodeType::NO_ERROR,
        evresssoc: soc.min(100),
    }
}

/// The charger's DC_EVSEStatus.
pub fn dc_evse_status(
    isolation: Option<IsolationLevelType>,
    code: DC_EVSEStatusCodeType,
    notification: EVSENotificationType,
) -> DC_EVSEStatusType {
    DC_EVSEStatusType {
        notification_max_delay: 0,
        evse_notification: notification,
        evse_isolation_status: isolation,
        evse_status_code: code,
    }
}

/// The charger's AC_EVSEStatus.
pub fn ac_evse_status(notification: EVSENotificationType, rcd: bool) -> AC_EVSEStatusType {
    AC_EVSEStatusType {
        notification_max_delay: 0,
        evse_notification: notification,
        rcd,
    }
}

impl From<EnergyTransfer> for EnergyTransferModeType {
    fn from(t: EnergyTransfer) -> Self {
        match t {
            EnergyTransfer::DcCore => Self::DC_core,
            EnergyTransfer::DcExtended => Self::DC_extended,
            EnergyTransfer::DcComboCore => Self::DC_combo_core,
            EnergyTransfer::DcUnique => Self::DC_unique,
            EnergyTransfer::AcSinglePhase => Self::AC_single_phase_core,
            EnergyTransfer::AcThreePhase => Self::AC_three_phase_core,
        }
    }
}

impl From<EnergyTransferModeType> for EnergyTransfer {
    fn from(t: EnergyTransferModeType) -> Self {
        match t {
            EnergyTransferModeType::DC_core => Self::DcCore,
            EnergyTransferModeType::DC_extended => Self::DcExtended,
            EnergyTransferModeType::DC_combo_core => Self::DcComboCore,
            EnergyTransferModeType::DC_unique => Self::DcUnique,
            EnergyTransferModeType::AC_single_phase_core => Self::AcSinglePhase,
            EnergyTransferModeType::AC_three_phase_core => Self::AcThreePhase,
        }
    }
}

impl From<PaymentMethod> for PaymentOptionType {
    fn from(p: PaymentMethod) -> Self {
        match p {
            PaymentMethod::ExternalPayment => Self::ExternalPayment,
            PaymentMethod::Contract => Self::Contract,
        }
    }
}

impl From<PaymentOptionType> for PaymentMethod {
    fn from(p: PaymentOptionType) -> Self {
        match p {
            PaymentOptionType::ExternalPayment => Self::ExternalPayment,
            PaymentOptionType::Contract => Self::Contract,
        }
    }
}

/// The eMAID placeholder of a FAILED certificate response.
const NO_EMAID: &str = "ZZ000000000000";

fn empty_chain() -> CertificateChainType {
    CertificateChainType {
        id: None,
        certificate: Vec::new(),
        sub_certificates: None,
    }
}

/// The minimal schema-valid response of `kind` with a FAILED `code`: what the SECC sends when
/// it refuses a request ([V2G2-736], [V2G2-538]: mandatory fields with minimal content).
/// `dc` picks the DC or AC variant where the response has one.
pub fn failed_response(
    session_id: &[u8],
    kind: MessageKind,
    code: ResponseCodeType,
    evse_id: &str,
    dc: bool,
) -> V2G_Message {
    use MessageKind as K;
    let volts = |v: f32| physical(v, UnitSymbolType::V);
    let amps = |a: f32| physical(a, UnitSymbolType::A);
    let dc_status = || {
        dc_evse_status(
            None,
            DC_EVSEStatusCodeType::EVSE_NotReady,
            EVSENotificationType::None,
        )
    };
    let ac_status = || ac_evse_status(EVSENotificationType::None, false);
    let status = || {
        if dc {
            EVSEStatus::DC_EVSEStatus(dc_status())
        } else {
            EVSEStatus::AC_EVSEStatus(ac_status())
        }
    };
    let body = match kind {
        K::SessionSetup => BodyElement::SessionSetupRes(SessionSetupResType {
            response_code: code,
            evseid: evse_id.to_owned(),
            evse_time_stamp: None,
        }),
        K::ServiceDiscovery => BodyElement::ServiceDiscoveryRes(ServiceDiscoveryResType {
            response_code: code,
            payment_option_list: PaymentOptionListType {
                payment_option: vec![PaymentOptionType::ExternalPayment],
            },
            charge_service: ChargeServiceType {
                service_id: CHARGE_SERVICE_ID,
                service_name: None,
                service_category: ServiceCategoryType::EVCharging,
                service_scope: None,
                free_service: false,
                supported_energy_transfer_mode: SupportedEnergyTransferModeType {
                    energy_transfer_mode: vec![EnergyTransferModeType::DC_extended],
                },
            },
            service_list: None,
        }),
        K::ServiceDetail => BodyElement::ServiceDetailRes(ServiceDetailResType {
            response_code: code,
            service_id: 0,
            service_parameter_list: None,
        }),
        K::PaymentServiceSelection => {
            BodyElement::PaymentServiceSelectionRes(PaymentServiceSelectionResType {
                response_code: code,
            })
        }
        K::CertificateInstallation => {
            BodyElement::CertificateInstallationRes(CertificateInstallationResType {
                response_code: code,
                sa_provisioning_certificate_chain: empty_chain(),
                contract_signature_cert_chain: empty_chain(),
                contract_signature_encrypted_private_key:
                    ContractSignatureEncryptedPrivateKeyType {
                        id: "id1".into(),
                        value: Vec::new(),
                    },
                d_hpublickey: DiffieHellmanPublickeyType {
                    id: "id2".into(),
                    value: Vec::new(),
                },
                e_maid: EMAIDType {
                    id: "id3".into(),
                    // The schema wants 14 or 15 characters even in a FAILED response.
                    value: NO_EMAID.into(),
                },
            })
        }
        K::CertificateUpdate => BodyElement::CertificateUpdateRes(CertificateUpdateResType {
            response_code: code,
            sa_provisioning_certificate_chain: empty_chain(),
            contract_signature_cert_chain: empty_chain(),
            contract_signature_encrypted_private_key: ContractSignatureEncryptedPrivateKeyType {
                id: "id1".into(),
                value: Vec::new(),
            },
            d_hpublickey: DiffieHellmanPublickeyType {
                id: "id2".into(),
                value: Vec::new(),
            },
            e_maid: EMAIDType {
                id: "id3".into(),
                value: NO_EMAID.into(),
            },
            retry_counter: None,
        }),
        K::PaymentDetails => BodyElement::PaymentDetailsRes(PaymentDetailsResType {
            response_code: code,
            gen_challenge: vec![0; 16],
            evse_time_stamp: 0,
        }),
        K::Authorization => BodyElement::AuthorizationRes(AuthorizationResType {
            response_code: code,
            evse_processing: EVSEProcessingType::Finished,
        }),
        K::ChargeParameterDiscovery => {
            BodyElement::ChargeParameterDiscoveryRes(ChargeParameterDiscoveryResType {
                response_code: code,
                evse_processing: EVSEProcessingType::Finished,
                sa_schedules: None,
                evse_charge_parameter: if dc {
                    EVSEChargeParameter::DC_EVSEChargeParameter(DC_EVSEChargeParameterType {
                        dc_evse_status: dc_status(),
                        evse_maximum_current_limit: amps(0.0),
                        evse_maximum_power_limit: physical(0.0, UnitSymbolType::W),
                        evse_maximum_voltage_limit: volts(0.0),
                        evse_minimum_current_limit: amps(0.0),
                        evse_minimum_voltage_limit: volts(0.0),
                        evse_current_regulation_tolerance: None,
                        evse_peak_current_ripple: amps(0.0),
                        evse_energy_to_be_delivered: None,
                    })
                } else {
                    EVSEChargeParameter::AC_EVSEChargeParameter(AC_EVSEChargeParameterType {
                        ac_evse_status: ac_status(),
                        evse_nominal_voltage: volts(0.0),
                        evse_max_current: amps(0.0),
                    })
                },
            })
        }
        K::CableCheck => BodyElement::CableCheckRes(CableCheckResType {
            response_code: code,
            dc_evse_status: dc_status(),
            evse_processing: EVSEProcessingType::Finished,
        }),
        K::PreCharge => BodyElement::PreChargeRes(PreChargeResType {
            response_code: code,
            dc_evse_status: dc_status(),
            evse_present_voltage: volts(0.0),
        }),
        K::PowerDelivery => BodyElement::PowerDeliveryRes(PowerDeliveryResType {
            response_code: code,
            evse_status: status(),
        }),
        K::CurrentDemand => BodyElement::CurrentDemandRes(CurrentDemandResType {
            response_code: code,
            dc_evse_status: dc_status(),
            evse_present_voltage: volts(0.0),
            evse_present_current: amps(0.0),
            evse_current_limit_achieved: false,
            evse_voltage_limit_achieved: false,
            evse_power_limit_achieved: false,
            evse_maximum_voltage_limit: None,
            evse_maximum_current_limit: None,
            evse_maximum_power_limit: None,
            evseid: evse_id.to_owned(),
            sa_schedule_tuple_id: 1,
            meter_info: None,
            receipt_required: None,
        }),
        K::ChargingStatus => BodyElement::ChargingStatusRes(ChargingStatusResType {
            response_code: code,
            evseid: evse_id.to_owned(),
            sa_schedule_tuple_id: 1,
            evse_max_current: None,
            meter_info: None,
            receipt_required: None,
            ac_evse_status: ac_status(),
        }),
        K::MeteringReceipt => BodyElement::MeteringReceiptRes(MeteringReceiptResType {
            response_code: code,
            evse_status: status(),
        }),
        K::WeldingDetection => BodyElement::WeldingDetectionRes(WeldingDetectionResType {
            response_code: code,
            dc_evse_status: dc_status(),
            evse_present_voltage: volts(0.0),
        }),
        K::SessionStop => BodyElement::SessionStopRes(SessionStopResType {
            response_code: code,
        }),
    };
    message(session_id, body)
}

/// A one-line summary of the key values of an ISO-2 body, for
/// [`crate::session::SessionEvent`].
pub fn summary(body: &BodyElement) -> String {
    let v = physical_value;
    use BodyElement as B;
    match body {
        B::SessionSetupReq(r) => format!("EVCCID={}", hex(&r.evccid)),
        B::SessionSetupRes(r) => format!("{:?} EVSEID={}", r.response_code, r.evseid),
        B::ServiceDiscoveryRes(r) => format!(
            "{:?} payment={:?} modes={:?} services={}",
            r.response_code,
            r.payment_option_list.payment_option,
            r.charge_service
                .supported_energy_transfer_mode
                .energy_transfer_mode,
            r.service_list.as_ref().map_or(0, |l| l.service.len())
        ),
        B::ServiceDetailReq(r) => format!("ServiceID={}", r.service_id),
        B::ServiceDetailRes(r) => format!("{:?} ServiceID={}", r.response_code, r.service_id),
        B::PaymentServiceSelectionReq(r) => format!(
            "{:?} services={:?}",
            r.selected_payment_option,
            r.selected_service_list
                .selected_service
                .iter()
                .map(|s| s.service_id)
                .collect::<Vec<_>>()
        ),
        B::PaymentDetailsReq(r) => format!("eMAID={}", r.e_maid),
        B::PaymentDetailsRes(r) => format!(
            "{:?} GenChallenge={}",
            r.response_code,
            hex(&r.gen_challenge)
        ),
        B::AuthorizationReq(r) => format!(
            "Id={:?} GenChallenge={}",
            r.id,
            r.gen_challenge.as_deref().map(hex).unwrap_or_default()
        ),
        B::AuthorizationRes(r) => format!("{:?} {:?}", r.response_code, r.evse_processing),
        B::ChargeParameterDiscoveryReq(r) => match &r.ev_charge_parameter {
            EVChargeParameter::DC_EVChargeParameter(p) => format!(
                "{:?} SoC={}% Umax={}V Imax={}A",
                r.requested_energy_transfer_mode,
                p.dc_ev_status.evresssoc,
                v(&p.ev_maximum_voltage_limit),
                v(&p.ev_maximum_current_limit)
            ),
            EVChargeParameter::AC_EVChargeParameter(p) => format!(
                "{:?} E={}Wh Umax={}V Imax={}A",
                r.requested_energy_transfer_mode,
                v(&p.e_amount),
                v(&p.ev_max_voltage),
                v(&p.ev_max_current)
            ),
            EVChargeParameter::EVChargeParameter(_) => {
                format!("{:?}", r.requested_energy_transfer_mode)
            }
        },
        B::ChargeParameterDiscoveryRes(r) => match &r.evse_charge_parameter {
            EVSEChargeParameter::DC_EVSEChargeParameter(p) => format!(
                "{:?} {:?} {:?} Umax={}V Imax={}A",
                r.response_code,
                r.evse_processing,
                p.dc_evse_status.evse_status_code,
                v(&p.evse_maximum_voltage_limit),
                v(&p.evse_maximum_current_limit)
            ),
            EVSEChargeParameter::AC_EVSEChargeParameter(p) => format!(
                "{:?} {:?} U={}V Imax={}A",
                r.response_code,
                r.evse_processing,
                v(&p.evse_nominal_voltage),
                v(&p.evse_max_current)
            ),
            EVSEChargeParameter::EVSEChargeParameter(_) => {
                format!("{:?} {:?}", r.response_code, r.evse_processing)
            }
        },
        B::CableCheckReq(r) => format!("SoC={}%", r.dc_ev_status.evresssoc),
        B::CableCheckRes(r) => format!(
            "{:?} {:?} {:?} {:?}",
            r.response_code,
            r.evse_processing,
            r.dc_evse_status.evse_status_code,
            r.dc_evse_status.evse_isolation_status
        ),
        B::PreChargeReq(r) => format!(
            "U={}V I={}A SoC={}%",
            v(&r.ev_target_voltage),
            v(&r.ev_target_current),
            r.dc_ev_status.evresssoc
        ),
        B::PreChargeRes(r) => format!(
            "{:?} {:?} U={}V",
            r.response_code,
            r.dc_evse_status.evse_status_code,
            v(&r.evse_present_voltage)
        ),
        B::PowerDeliveryReq(r) => format!(
            "{:?} SAScheduleTupleID={} profile={}",
            r.charge_progress,
            r.sa_schedule_tuple_id,
            r.charging_profile
                .as_ref()
                .map_or(0, |p| p.profile_entry.len())
        ),
        B::PowerDeliveryRes(r) => format!("{:?}", r.response_code),
        B::CurrentDemandReq(r) => format!(
            "U={}V I={}A SoC={}% complete={}",
            v(&r.ev_target_voltage),
            v(&r.ev_target_current),
            r.dc_ev_status.evresssoc,
            r.charging_complete
        ),
        B::CurrentDemandRes(r) => format!(
            "{:?} {:?} {:?} U={}V I={}A receipt={:?}",
            r.response_code,
            r.dc_evse_status.evse_status_code,
            r.dc_evse_status.evse_notification,
            v(&r.evse_present_voltage),
            v(&r.evse_present_current),
            r.receipt_required
        ),
        B::ChargingStatusRes(r) => format!(
            "{:?} {:?} Imax={:?}A receipt={:?}",
            r.response_code,
            r.ac_evse_status.evse_notification,
            r.evse_max_current.as_ref().map(v),
            r.receipt_required
        ),
        B::MeteringReceiptReq(r) => format!(
            "Id={:?} meter={} reading={:?}",
            r.id, r.meter_info.meter_id, r.meter_info.meter_reading
        ),
        B::WeldingDetectionReq(r) => format!("SoC={}%", r.dc_ev_status.evresssoc),
        B::WeldingDetectionRes(r) => {
            format!("{:?} U={}V", r.response_code, v(&r.evse_present_voltage))
        }
        B::SessionStopReq(r) => format!("{:?}", r.charging_session),
        B::PaymentServiceSelectionRes(PaymentServiceSelectionResType { response_code })
        | B::SessionStopRes(SessionStopResType { response_code }) => format!("{response_code:?}"),
        B::MeteringReceiptRes(r) => format!("{:?}", r.response_code),
        B::CertificateInstallationReq(r) => format!("Id={}", r.id),
        B::CertificateInstallationRes(r) => format!("{:?}", r.response_code),
        B::CertificateUpdateReq(r) => format!("Id={} eMAID={}", r.id, r.e_maid),
        B::CertificateUpdateRes(r) => format!("{:?}", r.response_code),
        _ => String::new(),
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn physical_values_keep_a_decimal_where_they_can() {
        let p = physical(398.5, UnitSymbolType::V);
        assert_eq!((p.multiplier, p.value), (-1, 3985));
        let p = physical(98_000.0, UnitSymbolType::W);
        assert_eq!((p.multiplier, p.value), (1, 9800));
        assert!((physical_value(&physical(123.4, UnitSymbolType::A)) - 123.4).abs() < 1e-3);
    }

    #[test]
    fn every_failed_response_encodes_and_is_of_its_kind() {
        use MessageKind as K;
        for kind in [
            K::SessionSetup,
            K::ServiceDiscovery,
            K::ServiceDetail,
            K::PaymentServiceSelection,
            K::CertificateInstallation,
            K::CertificateUpdate,
            K::PaymentDetails,
            K::Authorization,
            K::ChargeParameterDiscovery,
            K::CableCheck,
            K::PreCharge,
            K::PowerDelivery,
            K::CurrentDemand,
            K::ChargingStatus,
            K::MeteringReceipt,
            K::WeldingDetection,
            K::SessionStop,
        ] {
            for dc in [true, false] {
                let m = failed_response(&[1; 8], kind, ResponseCodeType::FAILED, "ZZ00000", dc);
                let bytes = ccs_msg::iso2::encode(&m).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
                let back = ccs_msg::iso2::decode(&bytes).unwrap();
                let body = back.body.body_element.as_ref().unwrap();
                assert_eq!(MessageKind::of_response(body), Some(kind));
            }
        }
    }
}
