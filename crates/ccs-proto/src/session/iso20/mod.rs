//! ISO 15118-20 DC and DC_BPT (bidirectional) charging: the car's and the charger's session
//! after the app handshake, scheduled and dynamic control modes, EIM and Plug & Charge
//! authorization.
//!
//! The machines are reached through [`crate::session::EvccSession`] and
//! [`crate::session::SeccSession`]: the handshake negotiates `urn:iso:std:iso:15118:-20:DC`
//! ([`crate::session::Protocol::Iso15118_20Dc`] or
//! [`crate::session::Protocol::Iso15118_20DcBpt`]); which energy service runs (DC = ServiceID 2,
//! DC_BPT = 6) is decided in ServiceDiscovery/ServiceSelection. Messages travel as V2GTP
//! `0x8002` (CommonMessages) and `0x8004` (DC).
//!
//! The message sequence (ISO 15118-20:2022 §8.8.2, as Josev 0.31.2 runs it): SessionSetup →
//! AuthorizationSetup → Authorization (while Ongoing) → ServiceDiscovery → ServiceDetail →
//! ServiceSelection → DC_ChargeParameterDiscovery → ScheduleExchange (while Ongoing) →
//! DC_CableCheck (while Ongoing) → DC_PreCharge (until matched, then once with EVProcessing
//! Finished) → PowerDelivery(Start) → DC_ChargeLoop → PowerDelivery(Stop) →
//! DC_WeldingDetection → SessionStop.
//!
//! ISO 15118-20 requires TLS 1.3 for every session: both session objects refuse to negotiate
//! ISO 15118-20 on a connection that is not TLS 1.3 ([`crate::session::Transport`], told by the
//! driver), unless `allow_without_tls` is set (the simulator, Josev without TLS). The drivers
//! (`ccs_linux::tls::TlsProfile::Iso15118_20`) provide TLS 1.3 with mutual authentication.
//!
//! Plug & Charge ([`pnc`]): the car signs `PnC_AReqAuthorizationMode` with its contract key
//! ([`pnc::ContractSigner`]), the charger validates the chain and the signature
//! ([`pnc::ContractVerifier`]) and checks the GenChallenge.

pub mod config;
pub(crate) mod evcc;
pub mod pnc;
pub(crate) mod secc;
mod secc_limits;
pub mod values;

pub use config::{
    Authorization, BptParameters, ControlMode, EvseBptLimits, Iso20EvccConfig, Iso20SeccConfig,
    Iso20Timeouts,
};
