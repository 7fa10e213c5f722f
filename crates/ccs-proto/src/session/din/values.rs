//! DIN SPEC 70121 messages as our car and charger send them: one builder per message, with
//! pyPLC's field layout (`reference/pyplc-behaviour.md` §9.2), which real cars and chargers
//! accept. Given the same values, every builder produces the bytes OpenV2Gx produces for
//! pyPLC (`vectors/openv2gx_encoder_outputs.tsv`, checked by `tests/din_openv2gx.rs`).
//!
//! The machines (the car's and the charger's DIN session) use these builders with their own values;
//! nothing else builds DIN messages.

use ccs_msg::din::{
    BodyElement, BodyType, CableCheckReqType, CableCheckResType, ChargeParameterDiscoveryReqType,
    ChargeParameterDiscoveryResType, ContractAuthenticationReqType, ContractAuthenticationResType,
    CurrentDemandReqType, CurrentDemandResType, DC_EVChargeParameterType, DC_EVErrorCodeType,
    DC_EVPowerDeliveryParameterType, DC_EVSEChargeParameterType, DC_EVSEStatusCodeType,
    DC_EVSEStatusType, DC_EVStatusType, EVChargeParameter, EVPowerDeliveryParameter,
    EVRequestedEnergyTransferType, EVSEChargeParameter, EVSENotificationType, EVSEProcessingType,
    EVSEStatus, EVSESupportedEnergyTransferType, IsolationLevelType, MessageHeaderType,
    PMaxScheduleEntryType, PMaxScheduleType, PaymentOptionType, PaymentOptionsType,
    PhysicalValueType, PowerDeliveryReqType, PowerDeliveryResType, PreChargeReqType,
    PreChargeResType, RelativeTimeIntervalType, ResponseCodeType, SAScheduleListType,
    SAScheduleTupleType, SASchedules, SelectedServiceListType, SelectedServiceType,
    ServiceCategoryType, ServiceChargeType, ServiceDiscoveryReqType, ServiceDiscoveryResType,
    ServicePaymentSelectionReqType, ServicePaymentSelectionResType, ServiceTagType,
    SessionSetupReqType, SessionSetupResType, SessionStopResType, SessionStopType, TimeInterval,
    UnitSymbolType, V2G_Message, WeldingDetectionReqType, WeldingDetectionResType,
};

use crate::hardware::IsolationStatus;

/// The SessionID a car sends in SessionSetupReq before it has one: 8 zero bytes (as OpenV2Gx
/// encodes it for pyPLC; the Ioniq sends the same).
pub const NO_SESSION_ID: [u8; 8] = [0; 8];

/// The DIN request/response pairs of a DC session, in sequence order.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum MessageKind {
    /// SessionSetupReq/Res.
    SessionSetup,
    /// ServiceDiscoveryReq/Res.
    ServiceDiscovery,
    /// ServicePaymentSelectionReq/Res.
    ServicePaymentSelection,
    /// ContractAuthenticationReq/Res.
    ContractAuthentication,
    /// ChargeParameterDiscoveryReq/Res.
    ChargeParameterDiscovery,
    /// CableCheckReq/Res.
    CableCheck,
    /// PreChargeReq/Res.
    PreCharge,
    /// PowerDeliveryReq/Res.
    PowerDelivery,
    /// CurrentDemandReq/Res.
    CurrentDemand,
    /// WeldingDetectionReq/Res.
    WeldingDetection,
    /// SessionStopReq/Res.
    SessionStop,
}

impl MessageKind {
    /// The request's name as in the schema.
    pub const fn request_name(self) -> &'static str {
        match self {
            Self::SessionSetup => "SessionSetupReq",
            Self::ServiceDiscovery => "ServiceDiscoveryReq",
            Self::ServicePaymentSelection => "ServicePaymentSelectionReq",
            Self::ContractAuthentication => "ContractAuthenticationReq",
            Self::ChargeParameterDiscovery => "ChargeParameterDiscoveryReq",
            Self::CableCheck => "CableCheckReq",
            Self::PreCharge => "PreChargeReq",
            Self::PowerDelivery => "PowerDeliveryReq",
            Self::CurrentDemand => "CurrentDemandReq",
            Self::WeldingDetection => "WeldingDetectionReq",
            Self::SessionStop => "SessionStopReq",
        }
    }

    /// The response's name as in the schema.
    pub const fn response_name(self) -> &'static str {
        match self {
            Self::SessionSetup => "SessionSetupRes",
            Self::ServiceDiscovery => "ServiceDiscoveryRes",
            Self::ServicePaymentSelection => "ServicePaymentSelectionRes",
            Self::ContractAuthentication => "ContractAuthenticationRes",
            Self::ChargeParameterDiscovery => "ChargeParameterDiscoveryRes",
            Self::CableCheck => "CableCheckRes",
            Self::PreCharge => "PreChargeRes",
            Self::PowerDelivery => "PowerDeliveryRes",
            Self::CurrentDemand => "CurrentDemandRes",
            Self::WeldingDetection => "WeldingDetectionRes",
            Self::SessionStop => "SessionStopRes",
        }
    }

    /// The kind of a request body; `None` for responses and messages a DC session never uses.
    pub fn of_request(body: &BodyElement) -> Option<Self> {
        Some(match body {
            BodyElement::SessionSetupReq(_) => Self::SessionSetup,
            BodyElement::ServiceDiscoveryReq(_) => Self::ServiceDiscovery,
            BodyElement::ServicePaymentSelectionReq(_) => Self::ServicePaymentSelection,
            BodyElement::ContractAuthenticationReq(_) => Self::ContractAuthentication,
            BodyElement::ChargeParameterDiscoveryReq(_) => Self::ChargeParameterDiscovery,
            BodyElement::CableCheckReq(_) => Self::CableCheck,
            BodyElement::PreChargeReq(_) => Self::PreCharge,
            BodyElement::PowerDeliveryReq(_) => Self::PowerDelivery,
            BodyElement::CurrentDemandReq(_) => Self::CurrentDemand,
            BodyElement::WeldingDetectionReq(_) => Self::WeldingDetection,
            BodyElement::SessionStopReq(_) => Self::SessionStop,
            _ => return None,
        })
    }

    /// The kind of a response body; `None` for requests and unused messages.
    pub fn of_response(body: &BodyElement) -> Option<Self> {
        Some(match body {
            BodyElement::SessionSetupRes(_) => Self::SessionSetup,
            BodyElement::ServiceDiscoveryRes(_) => Self::ServiceDiscovery,
            BodyElement::ServicePaymentSelectionRes(_) => Self::ServicePaymentSelection,
            BodyElement::ContractAuthenticationRes(_) => Self::ContractAuthentication,
            BodyElement::ChargeParameterDiscoveryRes(_) => Self::ChargeParameterDiscovery,
            BodyElement::CableCheckRes(_) => Self::CableCheck,
            BodyElement::PreChargeRes(_) => Self::PreCharge,
            BodyElement::PowerDeliveryRes(_) => Self::PowerDelivery,
            BodyElement::CurrentDemandRes(_) => Self::CurrentDemand,
            BodyElement::WeldingDetectionRes(_) => Self::WeldingDetection,
            BodyElement::SessionStopRes(_) => Self::SessionStop,
            _ => return None,
        })
    }
}

/// A DIN `PhysicalValueType` for `value`: the smallest multiplier (0..=3) whose value fits
/// the schema's `short`, rounded to the nearest unit (pyPLC sends whole volts and amperes with
/// multiplier 0, and 98 kW as 9800·10¹ W).
pub fn physical(value: f32, unit: UnitSymbolType) -> PhysicalValueType {
    let mut multiplier = 0i8;
    let mut scaled = value;
    while scaled.round().abs() > f32::from(i16::MAX) && multiplier < 3 {
        multiplier += 1;
        scaled /= 10.0;
    }
    PhysicalValueType {
        multiplier,
        unit: Some(unit),
        // Saturating float-to-int conversion; values beyond ±32767·10³ do not occur in DC.
        value: scaled.round() as i16,
    }
}

/// The value of a DIN `PhysicalValueType` as a float (`Value · 10^Multiplier`).
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

/// The car's DC_EVStatus as pyPLC sends it: no conditioning flags, `NO_ERROR`.
pub fn dc_ev_status(ready: bool, soc: u8) -> DC_EVStatusType {
    DC_EVStatusType {
        ev_ready: ready,
        ev_cabin_conditioning: None,
        evress_conditioning: None,
        ev_error_code: DC_EVErrorCodeType::NO_ERROR,
        evresssoc: soc,
    }
}

/// The charger's DC_EVSEStatus: NotificationMaxDelay 0, notification None.
pub fn dc_evse_status(
    isolation: Option<IsolationLevelType>,
    code: DC_EVSEStatusCodeType,
) -> DC_EVSEStatusType {
    DC_EVSEStatusType {
        evse_isolation_status: isolation,
        evse_status_code: code,
        notification_max_delay: 0,
        evse_notification: EVSENotificationType::None,
    }
}

// ----- requests (car)

/// SessionSetupReq with `EVCCID` (our MAC, 6 bytes; pyPLC Issue20) and no SessionID yet.
pub fn session_setup_req(evcc_id: &[u8]) -> V2G_Message {
    message(
        &NO_SESSION_ID,
        BodyElement::SessionSetupReq(SessionSetupReqType {
            evccid: evcc_id.to_vec(),
        }),
    )
}

/// ServiceDiscoveryReq without scope or category.
pub fn service_discovery_req(session_id: &[u8]) -> V2G_Message {
    message(
        session_id,
        BodyElement::ServiceDiscoveryReq(ServiceDiscoveryReqType {
            service_scope: None,
            service_category: None,
        }),
    )
}

/// ServicePaymentSelectionReq: ExternalPayment for the charge service `service_id`.
pub fn service_payment_selection_req(session_id: &[u8], service_id: u16) -> V2G_Message {
    message(
        session_id,
        BodyElement::ServicePaymentSelectionReq(ServicePaymentSelectionReqType {
            selected_payment_option: PaymentOptionType::ExternalPayment,
            selected_service_list: SelectedServiceListType {
                selected_service: vec![SelectedServiceType {
                    service_id,
                    parameter_set_id: None,
                }],
            },
        }),
    )
}

/// ContractAuthenticationReq, empty (ExternalPayment).
pub fn contract_authentication_req(session_id: &[u8]) -> V2G_Message {
    message(
        session_id,
        BodyElement::ContractAuthenticationReq(ContractAuthenticationReqType {
            id: None,
            gen_challenge: None,
        }),
    )
}

/// The values of a ChargeParameterDiscoveryReq.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChargeParameters {
    /// EVRESSSOC, percent.
    pub soc: u8,
    /// EVMaximumCurrentLimit, A.
    pub max_current: f32,
    /// EVMaximumPowerLimit, W.
    pub max_power: f32,
    /// EVMaximumVoltageLimit, V.
    pub max_voltage: f32,
    /// EVEnergyCapacity, Wh.
    pub energy_capacity: f32,
    /// EVEnergyRequest, Wh.
    pub energy_request: f32,
    /// FullSOC, percent.
    pub full_soc: u8,
    /// BulkSOC, percent.
    pub bulk_soc: u8,
}

impl ChargeParameters {
    /// pyPLC's fixed values (OpenV2Gx `EDE`): 100 A, 98 kW, 398 V, 28 kWh, 20 kWh, 100 %, 80 %.
    pub const fn pyplc(soc: u8) -> Self {
        Self {
            soc,
            max_current: 100.0,
            max_power: 98_000.0,
            max_voltage: 398.0,
            energy_capacity: 28_000.0,
            energy_request: 20_000.0,
            full_soc: 100,
            bulk_soc: 80,
        }
    }
}

/// ChargeParameterDiscoveryReq for DC_extended; EVReady false as pyPLC sends it.
pub fn charge_parameter_discovery_req(session_id: &[u8], p: &ChargeParameters) -> V2G_Message {
    message(
        session_id,
        BodyElement::ChargeParameterDiscoveryReq(ChargeParameterDiscoveryReqType {
            ev_requested_energy_transfer_type: EVRequestedEnergyTransferType::DC_extended,
            ev_charge_parameter: EVChargeParameter::DC_EVChargeParameter(
                DC_EVChargeParameterType {
                    dc_ev_status: dc_ev_status(false, p.soc),
                    ev_maximum_current_limit: physical(p.max_current, UnitSymbolType::A),
                    ev_maximum_power_limit: Some(physical(p.max_power, UnitSymbolType::W)),
                    ev_maximum_voltage_limit: physical(p.max_voltage, UnitSymbolType::V),
                    ev_energy_capacity: Some(physical(p.energy_capacity, UnitSymbolType::Wh)),
                    ev_energy_request: Some(physical(p.energy_request, UnitSymbolType::Wh)),
                    full_soc: Some(p.full_soc),
                    bulk_soc: Some(p.bulk_soc),
                },
            ),
        }),
    )
}

/// CableCheckReq: EVReady, NO_ERROR, SoC.
pub fn cable_check_req(session_id: &[u8], soc: u8) -> V2G_Message {
    message(
        session_id,
        BodyElement::CableCheckReq(CableCheckReqType {
            dc_ev_status: dc_ev_status(true, soc),
        }),
    )
}

/// PreChargeReq: the battery voltage as EVTargetVoltage and a small EVTargetCurrent.
pub fn pre_charge_req(
    session_id: &[u8],
    soc: u8,
    target_voltage: f32,
    target_current: f32,
) -> V2G_Message {
    message(
        session_id,
        BodyElement::PreChargeReq(PreChargeReqType {
            dc_ev_status: dc_ev_status(true, soc),
            ev_target_voltage: physical(target_voltage, UnitSymbolType::V),
            ev_target_current: physical(target_current, UnitSymbolType::A),
        }),
    )
}

/// PowerDeliveryReq: `ReadyToChargeState` as a boolean (pyPLC Issue16), conditioning and
/// BulkChargingComplete sent as false, ChargingComplete = `!ready_to_charge` is not used by
/// pyPLC (always false).
pub fn power_delivery_req(session_id: &[u8], soc: u8, ready_to_charge: bool) -> V2G_Message {
    message(
        session_id,
        BodyElement::PowerDeliveryReq(PowerDeliveryReqType {
            ready_to_charge_state: ready_to_charge,
            charging_profile: None,
            ev_power_delivery_parameter: Some(
                EVPowerDeliveryParameter::DC_EVPowerDeliveryParameter(
                    DC_EVPowerDeliveryParameterType {
                        dc_ev_status: DC_EVStatusType {
                            ev_cabin_conditioning: Some(false),
                            evress_conditioning: Some(false),
                            ..dc_ev_status(true, soc)
                        },
                        bulk_charging_complete: Some(false),
                        charging_complete: false,
                    },
                ),
            ),
        }),
    )
}

/// The values of a CurrentDemandReq.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CurrentDemand {
    /// EVRESSSOC, percent.
    pub soc: u8,
    /// EVTargetCurrent, A.
    pub target_current: f32,
    /// EVTargetVoltage, V.
    pub target_voltage: f32,
    /// EVMaximumVoltageLimit, EVMaximumCurrentLimit, EVMaximumPowerLimit (V, A, W); pyPLC
    /// sends none, a Plugit HUBE S needs them.
    pub limits: Option<(f32, f32, f32)>,
    /// ChargingComplete.
    pub charging_complete: bool,
}

/// CurrentDemandReq; RemainingTimeToFullSoC 1200 s and RemainingTimeToBulkSoC 600 s as pyPLC.
pub fn current_demand_req(session_id: &[u8], d: &CurrentDemand) -> V2G_Message {
    let limits = d.limits.map(|(u, i, p)| {
        (
            physical(u, UnitSymbolType::V),
            physical(i, UnitSymbolType::A),
            physical(p, UnitSymbolType::W),
        )
    });
    message(
        session_id,
        BodyElement::CurrentDemandReq(CurrentDemandReqType {
            dc_ev_status: dc_ev_status(true, d.soc),
            ev_target_current: physical(d.target_current, UnitSymbolType::A),
            ev_maximum_voltage_limit: limits.as_ref().map(|l| l.0.clone()),
            ev_maximum_current_limit: limits.as_ref().map(|l| l.1.clone()),
            ev_maximum_power_limit: limits.map(|l| l.2),
            bulk_charging_complete: Some(false),
            charging_complete: d.charging_complete,
            remaining_time_to_full_so_c: Some(physical(1200.0, UnitSymbolType::S)),
            remaining_time_to_bulk_so_c: Some(physical(600.0, UnitSymbolType::S)),
            ev_target_voltage: physical(d.target_voltage, UnitSymbolType::V),
        }),
    )
}

/// WeldingDetectionReq: EVReady, NO_ERROR, SoC.
pub fn welding_detection_req(session_id: &[u8], soc: u8) -> V2G_Message {
    message(
        session_id,
        BodyElement::WeldingDetectionReq(WeldingDetectionReqType {
            dc_ev_status: dc_ev_status(true, soc),
        }),
    )
}

/// SessionStopReq (empty).
pub fn session_stop_req(session_id: &[u8]) -> V2G_Message {
    message(session_id, BodyElement::SessionStopReq(SessionStopType {}))
}

// ----- responses (charger)

/// SessionSetupRes with EVSEID and no DateTimeNow.
pub fn session_setup_res(session_id: &[u8], code: ResponseCodeType, evse_id: &[u8]) -> V2G_Message {
    message(
        session_id,
        BodyElement::SessionSetupRes(SessionSetupResType {
            response_code: code,
            evseid: evse_id.to_vec(),
            date_time_now: None,
        }),
    )
}

/// The ServiceID of the one charge service.
pub const CHARGE_SERVICE_ID: u16 = 1;

/// ServiceDiscoveryRes: ExternalPayment, charge service 1, EVCharging, not free, DC_extended.
pub fn service_discovery_res(session_id: &[u8], code: ResponseCodeType) -> V2G_Message {
    message(
        session_id,
        BodyElement::ServiceDiscoveryRes(ServiceDiscoveryResType {
            response_code: code,
            payment_options: PaymentOptionsType {
                payment_option: vec![PaymentOptionType::ExternalPayment],
            },
            charge_service: ServiceChargeType {
                service_tag: ServiceTagType {
                    service_id: CHARGE_SERVICE_ID,
                    service_name: None,
                    service_category: ServiceCategoryType::EVCharging,
                    service_scope: None,
                },
                free_service: false,
                energy_transfer_type: EVSESupportedEnergyTransferType::DC_extended,
            },
            service_list: None,
        }),
    )
}

/// ServicePaymentSelectionRes.
pub fn service_payment_selection_res(session_id: &[u8], code: ResponseCodeType) -> V2G_Message {
    message(
        session_id,
        BodyElement::ServicePaymentSelectionRes(ServicePaymentSelectionResType {
            response_code: code,
        }),
    )
}

fn processing(finished: bool) -> EVSEProcessingType {
    if finished {
        EVSEProcessingType::Finished
    } else {
        EVSEProcessingType::Ongoing
    }
}

/// ContractAuthenticationRes: `Finished` once authorized, else `Ongoing`.
pub fn contract_authentication_res(
    session_id: &[u8],
    code: ResponseCodeType,
    finished: bool,
) -> V2G_Message {
    message(
        session_id,
        BodyElement::ContractAuthenticationRes(ContractAuthenticationResType {
            response_code: code,
            evse_processing: processing(finished),
        }),
    )
}

/// The charger's DC parameters in ChargeParameterDiscoveryRes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EvseDcParameters {
    /// EVSEMaximumCurrentLimit, A.
    pub max_current: f32,
    /// EVSEMaximumPowerLimit, W.
    pub max_power: f32,
    /// EVSEMaximumVoltageLimit, V.
    pub max_voltage: f32,
    /// EVSEMinimumCurrentLimit, A.
    pub min_current: f32,
    /// EVSEMinimumVoltageLimit, V.
    pub min_voltage: f32,
    /// EVSECurrentRegulationTolerance, A.
    pub current_regulation_tolerance: f32,
    /// EVSEPeakCurrentRipple, A.
    pub peak_current_ripple: f32,
    /// PMax of the one PMaxScheduleEntry (pyPLC: 50).
    pub schedule_p_max: i16,
    /// SAScheduleTupleID of the one SAScheduleTuple (pyPLC: 0).
    pub schedule_tuple_id: i16,
}

impl EvseDcParameters {
    /// pyPLC's fixed values (OpenV2Gx `EDe`).
    pub const PYPLC: Self = Self {
        max_current: 200.0,
        max_power: 10_000.0,
        max_voltage: 450.0,
        min_current: 1.0,
        min_voltage: 200.0,
        current_regulation_tolerance: 5.0,
        peak_current_ripple: 5.0,
        schedule_p_max: 50,
        schedule_tuple_id: 0,
    };
}

/// The power limit as pyPLC writes it: 10·10³ W (multiplier 3), not 10000·10⁰.
fn power_in_kilowatts(watts: f32) -> PhysicalValueType {
    let kw = watts / 1000.0;
    if kw.fract() == 0.0 && kw.abs() <= f32::from(i16::MAX) {
        PhysicalValueType {
            multiplier: 3,
            unit: Some(UnitSymbolType::W),
            value: kw as i16,
        }
    } else {
        physical(watts, UnitSymbolType::W)
    }
}

/// ChargeParameterDiscoveryRes with the SAScheduleList that the BMW iX3 and Togg need (pyPLC
/// #14) and a full DC parameter set; isolation `Invalid` and `EVSE_Ready` as pyPLC sends it.
pub fn charge_parameter_discovery_res(
    session_id: &[u8],
    code: ResponseCodeType,
    finished: bool,
    status: DC_EVSEStatusType,
    p: &EvseDcParameters,
) -> V2G_Message {
    let amps = |a: f32| physical(a, UnitSymbolType::A);
    message(
        session_id,
        BodyElement::ChargeParameterDiscoveryRes(ChargeParameterDiscoveryResType {
            response_code: code,
            evse_processing: processing(finished),
            sa_schedules: SASchedules::SAScheduleList(SAScheduleListType {
                sa_schedule_tuple: vec![SAScheduleTupleType {
                    sa_schedule_tuple_id: p.schedule_tuple_id,
                    p_max_schedule: PMaxScheduleType {
                        p_max_schedule_id: 0,
                        p_max_schedule_entry: vec![PMaxScheduleEntryType {
                            time_interval: TimeInterval::RelativeTimeInterval(
                                RelativeTimeIntervalType {
                                    start: 0,
                                    duration: None,
                                },
                            ),
                            p_max: p.schedule_p_max,
                        }],
                    },
                    sales_tariff: None,
                }],
            }),
            evse_charge_parameter: EVSEChargeParameter::DC_EVSEChargeParameter(
                DC_EVSEChargeParameterType {
                    dc_evse_status: status,
                    evse_maximum_current_limit: amps(p.max_current),
                    evse_maximum_power_limit: Some(power_in_kilowatts(p.max_power)),
                    evse_maximum_voltage_limit: physical(p.max_voltage, UnitSymbolType::V),
                    evse_minimum_current_limit: amps(p.min_current),
                    evse_minimum_voltage_limit: physical(p.min_voltage, UnitSymbolType::V),
                    evse_current_regulation_tolerance: Some(amps(p.current_regulation_tolerance)),
                    evse_peak_current_ripple: amps(p.peak_current_ripple),
                    evse_energy_to_be_delivered: None,
                },
            ),
        }),
    )
}

/// CableCheckRes. `Ongoing` → EVSE_IsolationMonitoringActive + isolation Invalid; `Finished`
/// → EVSE_Ready + isolation Valid: the Audi Q4 aborts after 60 s on Finished + EVSE_NotReady
/// (pyPLC, 2026-02-19).
pub fn cable_check_res(session_id: &[u8], code: ResponseCodeType, finished: bool) -> V2G_Message {
    let status = if finished {
        dc_evse_status(
            Some(IsolationLevelType::Valid),
            DC_EVSEStatusCodeType::EVSE_Ready,
        )
    } else {
        dc_evse_status(
            Some(IsolationLevelType::Invalid),
            DC_EVSEStatusCodeType::EVSE_IsolationMonitoringActive,
        )
    };
    cable_check_res_with_status(session_id, code, finished, status)
}

/// CableCheckRes with an explicit status (e.g. EVSE_Shutdown on a stop request).
pub fn cable_check_res_with_status(
    session_id: &[u8],
    code: ResponseCodeType,
    finished: bool,
    status: DC_EVSEStatusType,
) -> V2G_Message {
    message(
        session_id,
        BodyElement::CableCheckRes(CableCheckResType {
            response_code: code,
            dc_evse_status: status,
            evse_processing: processing(finished),
        }),
    )
}

/// DIN's `isolationLevelType` for the isolation monitor's verdict. DIN has no `No_IMD`: a
/// charger without a monitor reports `Valid`, as pyPLC does.
pub fn isolation_level(status: IsolationStatus) -> IsolationLevelType {
    match status {
        IsolationStatus::Invalid => IsolationLevelType::Invalid,
        IsolationStatus::Valid | IsolationStatus::NoImd => IsolationLevelType::Valid,
        IsolationStatus::Warning => IsolationLevelType::Warning,
        IsolationStatus::Fault => IsolationLevelType::Fault,
    }
}

/// PreChargeRes: isolation Valid, the status code, EVSEPresentVoltage (pyPLC sends it
/// without a unit).
pub fn pre_charge_res(
    session_id: &[u8],
    code: ResponseCodeType,
    status_code: DC_EVSEStatusCodeType,
    present_voltage: f32,
) -> V2G_Message {
    pre_charge_res_with_status(
        session_id,
        code,
        dc_evse_status(Some(IsolationLevelType::Valid), status_code),
        present_voltage,
    )
}

/// PreChargeRes with an explicit DC_EVSEStatus (the measured isolation status).
pub fn pre_charge_res_with_status(
    session_id: &[u8],
    code: ResponseCodeType,
    status: DC_EVSEStatusType,
    present_voltage: f32,
) -> V2G_Message {
    message(
        session_id,
        BodyElement::PreChargeRes(PreChargeResType {
            response_code: code,
            dc_evse_status: status,
            evse_present_voltage: PhysicalValueType {
                unit: None,
                ..physical(present_voltage, UnitSymbolType::V)
            },
        }),
    )
}

/// PowerDeliveryRes with a DC_EVSEStatus: isolation Valid and the status code.
pub fn power_delivery_res(
    session_id: &[u8],
    code: ResponseCodeType,
    status_code: DC_EVSEStatusCodeType,
) -> V2G_Message {
    power_delivery_res_with_status(
        session_id,
        code,
        dc_evse_status(Some(IsolationLevelType::Valid), status_code),
    )
}

/// PowerDeliveryRes with an explicit DC_EVSEStatus (the measured isolation status).
pub fn power_delivery_res_with_status(
    session_id: &[u8],
    code: ResponseCodeType,
    status: DC_EVSEStatusType,
) -> V2G_Message {
    message(
        session_id,
        BodyElement::PowerDeliveryRes(PowerDeliveryResType {
            response_code: code,
            evse_status: EVSEStatus::DC_EVSEStatus(status),
        }),
    )
}

/// The charger's present output and limit flags for CurrentDemandRes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PresentOutput {
    /// EVSEPresentVoltage, V.
    pub voltage: f32,
    /// EVSEPresentCurrent, A.
    pub current: f32,
    /// EVSECurrentLimitAchieved (pyPLC always sends true).
    pub current_limit_achieved: bool,
    /// EVSEVoltageLimitAchieved.
    pub voltage_limit_achieved: bool,
    /// EVSEPowerLimitAchieved.
    pub power_limit_achieved: bool,
}

/// CurrentDemandRes: isolation Valid, the status code, present voltage and current, the limit
/// flags, no maximum limits (as pyPLC).
pub fn current_demand_res(
    session_id: &[u8],
    code: ResponseCodeType,
    status_code: DC_EVSEStatusCodeType,
    out: &PresentOutput,
) -> V2G_Message {
    current_demand_res_with_status(
        session_id,
        code,
        dc_evse_status(Some(IsolationLevelType::Valid), status_code),
        out,
    )
}

/// CurrentDemandRes with an explicit DC_EVSEStatus (the measured isolation status).
pub fn current_demand_res_with_status(
    session_id: &[u8],
    code: ResponseCodeType,
    status: DC_EVSEStatusType,
    out: &PresentOutput,
) -> V2G_Message {
    message(
        session_id,
        BodyElement::CurrentDemandRes(CurrentDemandResType {
            response_code: code,
            dc_evse_status: status,
            evse_present_voltage: physical(out.voltage, UnitSymbolType::V),
            evse_present_current: physical(out.current, UnitSymbolType::A),
            evse_current_limit_achieved: out.current_limit_achieved,
            evse_voltage_limit_achieved: out.voltage_limit_achieved,
            evse_power_limit_achieved: out.power_limit_achieved,
            evse_maximum_voltage_limit: None,
            evse_maximum_current_limit: None,
            evse_maximum_power_limit: None,
        }),
    )
}

/// WeldingDetectionRes with the present voltage; DC_EVSEStatus with the status code and no
/// isolation status (pyPLC leaves it at `EVSE_NotReady`).
pub fn welding_detection_res(
    session_id: &[u8],
    code: ResponseCodeType,
    status_code: DC_EVSEStatusCodeType,
    present_voltage: f32,
) -> V2G_Message {
    message(
        session_id,
        BodyElement::WeldingDetectionRes(WeldingDetectionResType {
            response_code: code,
            dc_evse_status: dc_evse_status(None, status_code),
            evse_present_voltage: physical(present_voltage, UnitSymbolType::V),
        }),
    )
}

/// SessionStopRes.
pub fn session_stop_res(session_id: &[u8], code: ResponseCodeType) -> V2G_Message {
    message(
        session_id,
        BodyElement::SessionStopRes(SessionStopResType {
            response_code: code,
        }),
    )
}

/// The response of `kind` carrying a FAILED response code, with neutral content (power off,
/// EVSE_Shutdown): what the charger sends when it refuses a request.
pub fn failed_response(
    session_id: &[u8],
    kind: MessageKind,
    code: ResponseCodeType,
    evse_id: &[u8],
) -> V2G_Message {
    use DC_EVSEStatusCodeType::EVSE_Shutdown;
    let off = PresentOutput {
        voltage: 0.0,
        current: 0.0,
        current_limit_achieved: false,
        voltage_limit_achieved: false,
        power_limit_achieved: false,
    };
    let status = dc_evse_status(Some(IsolationLevelType::Invalid), EVSE_Shutdown);
    match kind {
        MessageKind::SessionSetup => session_setup_res(session_id, code, evse_id),
        MessageKind::ServiceDiscovery => service_discovery_res(session_id, code),
        MessageKind::ServicePaymentSelection => service_payment_selection_res(session_id, code),
        MessageKind::ContractAuthentication => contract_authentication_res(session_id, code, true),
        MessageKind::ChargeParameterDiscovery => {
            charge_parameter_discovery_res(session_id, code, true, status, &EvseDcParameters::PYPLC)
        }
        MessageKind::CableCheck => cable_check_res_with_status(session_id, code, true, status),
        MessageKind::PreCharge => pre_charge_res(session_id, code, EVSE_Shutdown, 0.0),
        MessageKind::PowerDelivery => power_delivery_res(session_id, code, EVSE_Shutdown),
        MessageKind::CurrentDemand => current_demand_res(session_id, code, EVSE_Shutdown, &off),
        MessageKind::WeldingDetection => {
            welding_detection_res(session_id, code, EVSE_Shutdown, 0.0)
        }
        MessageKind::SessionStop => session_stop_res(session_id, code),
    }
}

/// A one-line summary of the key values of a DIN body, for [`crate::session::SessionEvent`].
pub fn summary(body: &BodyElement) -> String {
    fn v(p: &PhysicalValueType) -> f32 {
        physical_value(p)
    }
    match body {
        BodyElement::SessionSetupReq(r) => format!("EVCCID={}", hex(&r.evccid)),
        BodyElement::SessionSetupRes(r) => {
            format!("{:?} EVSEID={}", r.response_code, hex(&r.evseid))
        }
        BodyElement::ServiceDiscoveryRes(r) => format!(
            "{:?} payment={:?} service={} {:?}",
            r.response_code,
            r.payment_options.payment_option,
            r.charge_service.service_tag.service_id,
            r.charge_service.energy_transfer_type
        ),
        BodyElement::ServicePaymentSelectionReq(r) => {
            format!("{:?}", r.selected_payment_option)
        }
        BodyElement::ContractAuthenticationRes(r) => {
            format!("{:?} {:?}", r.response_code, r.evse_processing)
        }
        BodyElement::ChargeParameterDiscoveryReq(r) => match &r.ev_charge_parameter {
            EVChargeParameter::DC_EVChargeParameter(p) => format!(
                "SoC={}% Umax={}V Imax={}A",
                p.dc_ev_status.evresssoc,
                v(&p.ev_maximum_voltage_limit),
                v(&p.ev_maximum_current_limit)
            ),
            other => format!("{other:?}"),
        },
        BodyElement::ChargeParameterDiscoveryRes(r) => match &r.evse_charge_parameter {
            EVSEChargeParameter::DC_EVSEChargeParameter(p) => format!(
                "{:?} {:?} {:?} Umax={}V Imax={}A",
                r.response_code,
                r.evse_processing,
                p.dc_evse_status.evse_status_code,
                v(&p.evse_maximum_voltage_limit),
                v(&p.evse_maximum_current_limit)
            ),
            _ => format!("{:?} {:?} (not DC)", r.response_code, r.evse_processing),
        },
        BodyElement::CableCheckReq(r) => format!("SoC={}%", r.dc_ev_status.evresssoc),
        BodyElement::CableCheckRes(r) => format!(
            "{:?} {:?} {:?} {:?}",
            r.response_code,
            r.evse_processing,
            r.dc_evse_status.evse_status_code,
            r.dc_evse_status.evse_isolation_status
        ),
        BodyElement::PreChargeReq(r) => format!(
            "U={}V I={}A SoC={}%",
            v(&r.ev_target_voltage),
            v(&r.ev_target_current),
            r.dc_ev_status.evresssoc
        ),
        BodyElement::PreChargeRes(r) => format!(
            "{:?} {:?} U={}V",
            r.response_code,
            r.dc_evse_status.evse_status_code,
            v(&r.evse_present_voltage)
        ),
        BodyElement::PowerDeliveryReq(r) => {
            format!("ReadyToChargeState={}", r.ready_to_charge_state)
        }
        BodyElement::PowerDeliveryRes(r) => format!("{:?}", r.response_code),
        BodyElement::CurrentDemandReq(r) => format!(
            "U={}V I={}A SoC={}% complete={}",
            v(&r.ev_target_voltage),
            v(&r.ev_target_current),
            r.dc_ev_status.evresssoc,
            r.charging_complete
        ),
        BodyElement::CurrentDemandRes(r) => format!(
            "{:?} {:?} U={}V I={}A",
            r.response_code,
            r.dc_evse_status.evse_status_code,
            v(&r.evse_present_voltage),
            v(&r.evse_present_current)
        ),
        BodyElement::WeldingDetectionReq(r) => format!("SoC={}%", r.dc_ev_status.evresssoc),
        BodyElement::WeldingDetectionRes(r) => {
            format!("{:?} U={}V", r.response_code, v(&r.evse_present_voltage))
        }
        BodyElement::ServicePaymentSelectionRes(r) => format!("{:?}", r.response_code),
        BodyElement::SessionStopRes(r) => format!("{:?}", r.response_code),
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
    fn physical_values_pick_the_smallest_multiplier() {
        let p = physical(98_000.0, UnitSymbolType::W);
        assert_eq!((p.multiplier, p.value), (1, 9800));
        let p = physical(229.4, UnitSymbolType::V);
        assert_eq!((p.multiplier, p.value), (0, 229));
        assert_eq!(
            physical_value(&physical(98_000.0, UnitSymbolType::W)),
            98_000.0
        );
        let p = PhysicalValueType {
            multiplier: -1,
            unit: None,
            value: 3985,
        };
        assert!((physical_value(&p) - 398.5).abs() < 1e-3);
    }

    #[test]
    fn failed_responses_are_of_the_requested_kind() {
        for kind in [
            MessageKind::SessionSetup,
            MessageKind::CableCheck,
            MessageKind::CurrentDemand,
            MessageKind::SessionStop,
        ] {
            let m = failed_response(&[1; 8], kind, ResponseCodeType::FAILED, b"ZZ");
            let body = m.body.body_element.as_ref().map(MessageKind::of_response);
            assert_eq!(body, Some(Some(kind)));
            assert!(ccs_msg::din::encode(&m).is_ok(), "{kind:?}");
        }
    }
}
