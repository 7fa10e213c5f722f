//! What ISO 15118-2 adds to the session configuration: payment, energy transfer mode, AC
//! parameters, the Plug & Charge credentials and the timers that differ from DIN.

use crate::hardware::{Amps, Volts, WattHours};
use crate::time::Duration;

/// How the car pays / how the charger identifies the customer (PaymentOptionType).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum PaymentMethod {
    /// External identification means: RFID card, app, free charging (`ExternalPayment`).
    ExternalPayment,
    /// Plug & Charge with a contract certificate (`Contract`); only over TLS.
    Contract,
}

/// The energy transfer the car asks for (RequestedEnergyTransferMode).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum EnergyTransfer {
    /// `DC_core`.
    DcCore,
    /// `DC_extended` (the CCS Combo 2 DC mode Josev and most cars use).
    DcExtended,
    /// `DC_combo_core`.
    DcComboCore,
    /// `DC_unique`.
    DcUnique,
    /// `AC_single_phase_core`.
    AcSinglePhase,
    /// `AC_three_phase_core`.
    AcThreePhase,
}

impl EnergyTransfer {
    /// Whether this is a DC mode.
    pub const fn is_dc(self) -> bool {
        matches!(
            self,
            Self::DcCore | Self::DcExtended | Self::DcComboCore | Self::DcUnique
        )
    }
}

/// The car's Plug & Charge contract: certificate chain and eMAID. The private key stays with
/// the [`super::pnc::ContractSigner`].
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct ContractCredentials {
    /// DER: the contract certificate (leaf).
    pub certificate: Vec<u8>,
    /// DER: the sub-CA certificates, leaf's issuer first (at most 2, [V2G2-656]).
    pub sub_certificates: Vec<Vec<u8>>,
    /// The eMAID (the contract ID, the leaf's subject CN).
    pub emaid: String,
}

/// The car's AC parameters (AC_EVChargeParameter).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct AcEvParameters {
    /// EAmount: the energy the car wants.
    pub energy_amount: WattHours,
    /// EVMaxVoltage.
    pub max_voltage: Volts,
    /// EVMaxCurrent (per phase).
    pub max_current: Amps,
    /// EVMinCurrent.
    pub min_current: Amps,
}

impl Default for AcEvParameters {
    fn default() -> Self {
        Self {
            energy_amount: WattHours(20_000.0),
            max_voltage: Volts(400.0),
            max_current: Amps(32.0),
            min_current: Amps(6.0),
        }
    }
}

/// The car's ISO 15118-2 timers where they differ from DIN's (ISO 15118-2 Tables 109 and 112).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct EvccIso2Timeouts {
    /// `V2G_EVCC_Msg_Timeout` for ServiceDetail, PaymentDetails, PowerDelivery,
    /// CertificateInstallation and CertificateUpdate (Table 109: 5 s; the others 2 s, and
    /// CurrentDemand 250 ms as in DIN).
    pub long_msg_timeout: Duration,
    /// `V2G_EVCC_CableCheck_Timeout` (Table 112: 40 s).
    pub cable_check_timeout: Duration,
    /// Pause between ChargingStatusReqs in the AC loop.
    pub charging_status_interval: Duration,
}

impl Default for EvccIso2Timeouts {
    fn default() -> Self {
        Self {
            long_msg_timeout: Duration::from_secs(5),
            cable_check_timeout: Duration::from_secs(40),
            charging_status_interval: Duration::from_millis(250),
        }
    }
}

/// The car's ISO 15118-2 options ([`crate::session::EvccConfig::iso2`]).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct EvOptions {
    /// RequestedEnergyTransferMode (`DC_extended` by default).
    pub energy_transfer: EnergyTransfer,
    /// EIM or Plug & Charge. With `Contract`, [`EvOptions::contract`] must be set and the
    /// session needs a [`super::pnc::ContractSigner`].
    pub payment: PaymentMethod,
    /// The contract for Plug & Charge.
    pub contract: Option<ContractCredentials>,
    /// Ask ServiceDetail for every value-added service the charger lists ([V2G2-422]: needed
    /// before such a service can be selected).
    pub request_service_details: bool,
    /// Send a ChargingProfile in PowerDeliveryReq(Start) that follows the chosen PMaxSchedule.
    pub send_charging_profile: bool,
    /// MaxEntriesSAScheduleTuple in ChargeParameterDiscoveryReq.
    pub max_entries_sa_schedule_tuple: Option<u16>,
    /// DepartureTime in ChargeParameterDiscoveryReq, seconds from now.
    pub departure_time: Option<u32>,
    /// SessionStopReq asks for `Pause` instead of `Terminate` (the session can be resumed with
    /// the same SessionID, ISO 15118-2 §8.4.3.2).
    pub pause_instead_of_terminate: bool,
    /// Rejoin a paused session: SessionSetupReq carries this SessionID (the one of the
    /// session ended with SessionStop(Pause)) instead of zeros, and the charger answers
    /// `OK_OldSessionJoined` with it, or `OK_NewSessionEstablished` with a new one (ISO
    /// 15118-2 §8.4.3.2, SessionSetupRes).
    pub resume_session_id: Option<Vec<u8>>,
    /// The AC parameters (AC modes only).
    pub ac: AcEvParameters,
    /// Timers that differ from DIN.
    pub timeouts: EvccIso2Timeouts,
}

impl Default for EvOptions {
    fn default() -> Self {
        Self {
            energy_transfer: EnergyTransfer::DcExtended,
            payment: PaymentMethod::ExternalPayment,
            contract: None,
            request_service_details: false,
            send_charging_profile: true,
            max_entries_sa_schedule_tuple: None,
            departure_time: None,
            pause_instead_of_terminate: false,
            resume_session_id: None,
            ac: AcEvParameters::default(),
            timeouts: EvccIso2Timeouts::default(),
        }
    }
}

/// The charger's AC parameters (AC_EVSEChargeParameter, ChargingStatusRes).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct AcEvseParameters {
    /// EVSENominalVoltage.
    pub nominal_voltage: Volts,
    /// EVSEMaxCurrent (per phase).
    pub max_current: Amps,
    /// Whether a residual current device has tripped (RCD in AC_EVSEStatus).
    pub rcd: bool,
}

impl Default for AcEvseParameters {
    fn default() -> Self {
        Self {
            nominal_voltage: Volts(230.0),
            max_current: Amps(16.0),
            rcd: false,
        }
    }
}

/// A value-added service the charger offers in ServiceDiscoveryRes' ServiceList.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ValueAddedService {
    /// ServiceID (ISO 15118-2 §8.6.2.2: 2 = certificate installation/update, 3 = Internet).
    pub id: u16,
    /// ServiceName.
    pub name: String,
}

/// The charger's ISO 15118-2 options ([`crate::session::SeccConfig::iso2`]).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct EvseOptions {
    /// EVSEID (ISO 15118-2 Annex H, e.g. `DE*PNX*E12345*1`; `ZZ00000` = none).
    pub evse_id: String,
    /// The payment options offered. `Contract` is offered only on a TLS connection
    /// ([`crate::session::SeccSession::set_tls`]).
    pub payment_options: Vec<PaymentMethod>,
    /// The energy transfer modes of the charge service.
    pub energy_transfers: Vec<EnergyTransfer>,
    /// Value-added services (ServiceList); the certificate service (ID 2) is added on TLS
    /// connections when a [`super::pnc::CertificateBackend`] is set.
    pub services: Vec<ValueAddedService>,
    /// Ask the car for a MeteringReceipt (ReceiptRequired in CurrentDemandRes /
    /// ChargingStatusRes; only with Plug & Charge, where the receipt is signed).
    pub receipt_required: bool,
    /// Send a SalesTariff with the SAScheduleTuple (Plug & Charge; signed by the charger's
    /// backend in real deployments, unsigned here).
    pub sales_tariff: bool,
    /// PMax of the one PMaxScheduleEntry, watts (defaults to the DC maximum power).
    pub schedule_p_max: Option<f32>,
    /// The AC parameters.
    pub ac: AcEvseParameters,
    /// The MeterID in MeterInfo.
    pub meter_id: String,
    /// The SessionID of a session the car paused (SessionStop(Pause)) on this charger: a
    /// SessionSetupReq that carries it rejoins that session with `OK_OldSessionJoined`
    /// (ISO 15118-2 §8.4.3.2). The driver keeps it from the paused session's
    /// [`crate::session::SessionEvent`]s.
    pub paused_session_id: Option<Vec<u8>>,
}

impl Default for EvseOptions {
    fn default() -> Self {
        Self {
            evse_id: "ZZ00000".into(),
            payment_options: vec![PaymentMethod::ExternalPayment, PaymentMethod::Contract],
            energy_transfers: vec![
                EnergyTransfer::DcExtended,
                EnergyTransfer::DcCore,
                EnergyTransfer::AcThreePhase,
                EnergyTransfer::AcSinglePhase,
            ],
            services: Vec::new(),
            receipt_required: false,
            sales_tariff: false,
            schedule_p_max: None,
            ac: AcEvseParameters::default(),
            meter_id: "ccsplc-meter-1".into(),
            paused_session_id: None,
        }
    }
}
