//! ISO 15118-2:2014 charging sessions (the 2013 schema, `urn:iso:15118:2:2013:MsgDef`): the
//! car's and the charger's machines after the app handshake, DC and AC, External Identification
//! Means (EIM) and Plug & Charge (PnC, contract certificates over TLS).
//!
//! Read ISO 15118-2 §8.4 (messages and response codes), §8.8.4 (the message sequences,
//! Figures 104-107), §8.7 (timing: Table 109 `V2G_EVCC_Msg_Timeout` per message, Table 110
//! the SECC's performance times, Table 112 the sequence/ongoing/cable-check/pre-charge timers),
//! Annex J (signatures) and `reference/pyplc-behaviour.md` §6 before changing these files.
//!
//! The machines are reached through [`crate::session::EvccSession`] and
//! [`crate::session::SeccSession`]; they share the car's and the charger's DC power path with
//! the DIN machines (`session::ev_dc`, `session::evse_dc`), the timer table and the outbox.
//! Plug & Charge needs cryptography the core does not do itself: the car signs through a
//! [`pnc::ContractSigner`], the charger verifies through a [`pnc::ContractVerifier`] and hands
//! certificate installation and update to a [`pnc::CertificateBackend`] (`ccs-linux` implements
//! all three with OpenSSL).

mod config;
pub(crate) mod evcc;
pub mod msg;
pub mod pnc;
pub(crate) mod secc;

pub use config::{
    AcEvParameters, AcEvseParameters, ContractCredentials, EnergyTransfer, EvOptions,
    EvccIso2Timeouts, EvseOptions, PaymentMethod, ValueAddedService,
};
pub use secc::SeccPnc;
