//! V2G message types and their EXI grammars, generated from the official schemas.
//!
//! One module per schema family, each behind a feature: `app_handshake` (SupportedAppProtocol),
//! `din` (DIN SPEC 70121), `iso2` (ISO 15118-2:2013), `iso20::{common, dc, ac, wpt, acdp}`
//! (ISO 15118-20). The generated files are written by `cargo xtask codegen` from the XSDs in
//! `../shared/schemas`, carry an `@generated` header and are never edited by hand; ergonomic
//! additions go in hand-written sibling modules.
//!
//! Depends only on `ccs-exi` (the runtime) and, for JSON, serde.
#![forbid(unsafe_code)]
