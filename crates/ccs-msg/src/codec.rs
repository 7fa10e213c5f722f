//! The trait every generated type implements: its EXI content, from the state after its
//! start-element event up to and including its end-element event.

use ccs_exi::{Decoder, Encoder, Error};

/// A type with an EXI grammar (generated). Most callers use the per-schema `decode`/`encode`
/// functions instead; this trait is for the document, fragment and nested element codecs.
pub trait ExiContent: Sized {
    /// Decodes the element content (attributes, children, EE) after its SE event.
    fn decode_content(d: &mut Decoder<'_>) -> Result<Self, Error>;
    /// Encodes the element content (attributes, children, EE) after its SE event. Checks the
    /// schema facets: an out-of-range value is an error, never silently clipped.
    fn encode_content(&self, e: &mut Encoder) -> Result<(), Error>;
}
