//! Elements of a fragment whose qname the schema set declares with several types (ISO 15118-2
//! `eMAID`: `eMAIDType` in PaymentDetailsReq, `EMAIDType` with an `Id` in
//! CertificateInstallationRes and CertificateUpdateRes). EXI 1.0 §8.5.3 codes their content
//! with the relaxed *Element Fragment grammar*: any attribute qname of the schema set, in any
//! order, then untyped character content; its event codes index every attribute qname (`n`,
//! sorted) and every element qname (`m`, the fragment's own list).
//!
//! ```text
//! ElementFragment0: AT(A_0..A_n-1) 0..n-1, AT(*) n, SE(F_0..F_m-1) n+1..n+m, SE(*) n+m+1,
//!                   EE n+m+2, CH[untyped] n+m+3
//! ElementFragment2: SE(F_0..F_m-1) 0..m-1, SE(*) m, EE m+1, CH[untyped] m+2
//! ```
//!
//! No undeclared productions are added (no escape slot): the grammar already admits every
//! event. Checked against the Exificient-made eMAID vectors of the signed
//! CertificateInstallationRes (RISE-V2G, Josev, current OpenV2G; exi-v2g.md §1.6). Child
//! elements (SE) are not supported: the V2G schemas declare none inside these elements.

use alloc::string::String;
use alloc::vec::Vec;

use ccs_exi::{Decoder, Encoder, Error, ErrorKind};

/// An attribute qname of a schema set: (namespace URI, local name). The generated module of
/// each set lists them in EXI order as `FRAGMENT_ATTRIBUTES`.
pub type AttributeName = (&'static str, &'static str);

/// One attribute of a [`RelaxedElement`].
#[derive(Clone, Debug, Eq, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RelaxedAttribute {
    /// Namespace URI of the attribute ("" when unqualified).
    pub namespace: String,
    /// Local name, e.g. `Id`.
    pub local_name: String,
    /// The value, as characters (every attribute type of the V2G schemas is string-coded).
    pub value: String,
}

/// An element coded with the relaxed Element Fragment grammar: attributes in stream order
/// and its character content.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RelaxedElement {
    /// Attributes in the order they are coded.
    pub attributes: Vec<RelaxedAttribute>,
    /// Character content; `None` for an empty element.
    pub text: Option<String>,
}

impl RelaxedElement {
    /// Decodes the content after the element's SE event, up to and including its EE.
    /// `attributes` are the set's attribute qnames in EXI order, `elements` the number of
    /// element qnames in the set's fragment grammar.
    pub fn decode_content(
        d: &mut Decoder<'_>,
        attributes: &[AttributeName],
        elements: usize,
    ) -> Result<Self, Error> {
        let n = attributes.len() as u32;
        let m = elements as u32;
        let mut out = Self::default();
        let previous = d.set_expected("relaxed element fragment content");
        // ElementFragment0: attributes, then EE or CH.
        loop {
            let code = d.plain_code(n + m + 4)?;
            match code {
                c if c < n => {
                    let (ns, local) = attributes[c as usize];
                    let value = d.string(usize::MAX)?;
                    out.attributes.push(RelaxedAttribute {
                        namespace: ns.into(),
                        local_name: local.into(),
                        value,
                    });
                }
                c if c == n + m + 2 => {
                    d.set_expected(previous);
                    return Ok(out);
                }
                c if c == n + m + 3 => {
                    out.text = Some(d.string(usize::MAX)?);
                    break;
                }
                c if c == n => return Err(d.error(ErrorKind::UnsupportedEvent("AT(*)"))),
                _ => return Err(d.error(ErrorKind::UnsupportedEvent("SE in a relaxed element"))),
            }
        }
        // ElementFragment2: more characters or EE.
        loop {
            let code = d.plain_code(m + 3)?;
            match code {
                c if c == m + 1 => break,
                c if c == m + 2 => {
                    let more = d.string(usize::MAX)?;
                    if let Some(text) = &mut out.text {
                        text.push_str(&more);
                    }
                }
                _ => return Err(d.error(ErrorKind::UnsupportedEvent("SE in a relaxed element"))),
            }
        }
        d.set_expected(previous);
        Ok(out)
    }

    /// Encodes the content after the element's SE event, up to and including its EE. An
    /// attribute whose qname the set does not declare is [`ErrorKind::NotInGrammar`].
    pub fn encode_content(
        &self,
        e: &mut Encoder,
        attributes: &[AttributeName],
        elements: usize,
    ) -> Result<(), Error> {
        let n = attributes.len() as u32;
        let m = elements as u32;
        for a in &self.attributes {
            let index = attributes
                .iter()
                .position(|(ns, local)| *ns == a.namespace && *local == a.local_name)
                .ok_or_else(|| {
                    e.error(ErrorKind::NotInGrammar("attribute of a relaxed element"))
                })?;
            e.plain_code(n + m + 4, index as u32);
            e.string(&a.value);
        }
        match &self.text {
            Some(text) => {
                e.plain_code(n + m + 4, n + m + 3);
                e.string(text);
                e.plain_code(m + 3, m + 1);
            }
            None => e.plain_code(n + m + 4, n + m + 2),
        }
        Ok(())
    }
}
