//! DIN SPEC 70121:2014 DC charging: the car's and the charger's session after the app
//! handshake, and the message builders both use.
//!
//! The machines are reached through [`crate::session::EvccSession`] and
//! [`crate::session::SeccSession`], which run the handshake first and then dispatch to the
//! negotiated protocol.

pub(crate) mod evcc;
pub(crate) mod secc;
pub mod values;
