//! Emitter: Rust types, grammars and codecs for one grammar set at a time.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use anyhow::{Context, Result, bail};

use crate::grammar::{Category, Grammar, Kind, exi_order};
use crate::xsd::{ComplexType, Content, Facets, Particle, QName, SchemaSet, Term, TypeRef, XS};

/// One grammar set to generate: an entry schema and the module that gets its document codec.
pub(crate) struct SetSpec {
    pub(crate) folder: &'static str,
    pub(crate) entry: &'static str,
    pub(crate) module: &'static str,
    pub(crate) title: &'static str,
}

/// Which generated module holds the types of a namespace.
fn module_of(ns: &str) -> Result<&'static str> {
    Ok(match ns {
        "http://www.w3.org/2000/09/xmldsig#" => "xmldsig",
        "urn:iso:15118:2:2010:AppProtocol" => "app_handshake",
        "urn:iso:std:iso:15118:-20:CommonTypes" => "iso20_types",
        "urn:iso:std:iso:15118:-20:CommonMessages" => "iso20_common",
        "urn:iso:std:iso:15118:-20:DC" => "iso20_dc",
        "urn:iso:std:iso:15118:-20:AC" => "iso20_ac",
        "urn:iso:std:iso:15118:-20:WPT" => "iso20_wpt",
        "urn:iso:std:iso:15118:-20:ACDP" => "iso20_acdp",
        _ if ns.starts_with("urn:din:70121:2012:") => "din",
        _ if ns.starts_with("urn:iso:15118:2:2013:") => "iso2",
        _ => bail!("no module for namespace {ns:?}"),
    })
}

#[derive(Default)]
struct ModuleOut {
    title: String,
    items: Vec<String>,
    names: BTreeSet<String>,
}

/// Collects generated modules across grammar sets.
#[derive(Default)]
pub(crate) struct Generator {
    modules: BTreeMap<&'static str, ModuleOut>,
    /// Complex type key -> (module, Rust name).
    complex_done: HashMap<String, (&'static str, String)>,
    /// Generated complex types (module, name) whose content cannot be built (required
    /// wildcards).
    unproducible: BTreeSet<(&'static str, String)>,
    /// Enumerated simple type key -> (module, Rust name).
    enums_done: HashMap<String, (&'static str, String)>,
}

/// How a simple value is held and coded.
#[derive(Clone, Debug)]
struct SimpleRepr {
    rust: String,
    decode: String,
    /// Statement encoding `v` (a reference).
    encode: String,
    serde_with: Option<&'static str>,
    /// Expression producing a random valid value from `r`.
    random: String,
}

#[derive(Clone, Debug)]
enum Codec {
    /// Path of a generated type, and whether a valid value of it can be built (false for
    /// types whose content requires wildcard elements).
    Complex(String, bool),
    Simple(SimpleRepr),
}

impl Codec {
    fn producible(&self) -> bool {
        match self {
            Self::Complex(_, p) => *p,
            Self::Simple(_) => true,
        }
    }
    fn random(&self) -> String {
        match self {
            Self::Complex(p, _) => format!("{p}::random(r)"),
            Self::Simple(s) => s.random.clone(),
        }
    }
    fn rust(&self) -> String {
        match self {
            Self::Complex(p, _) => p.clone(),
            Self::Simple(s) => s.rust.clone(),
        }
    }
    fn decode_content(&self) -> String {
        match self {
            Self::Complex(p, _) => format!("<{p} as ExiContent>::decode_content(d)?"),
            Self::Simple(s) => format!("{{ d.only()?; let v = {}; d.only()?; v }}", s.decode),
        }
    }
    fn encode_content(&self, v: &str) -> String {
        match self {
            Self::Complex(..) => format!("ExiContent::encode_content({v}, e)?;"),
            Self::Simple(s) => format!("e.only(); {{ let v = {v}; {} }} e.only();", s.encode),
        }
    }
}

#[derive(Clone, Debug)]
enum Leaf {
    Attr {
        codec: SimpleRepr,
        qname: QName,
    },
    Elem {
        members: Vec<(usize, QName, Codec)>,
        group_enum: Option<String>,
    },
    Any,
    Chars {
        codec: SimpleRepr,
    },
}

pub(crate) fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// `EVSEPresentVoltage` -> `evse_present_voltage`, `DC_EVStatus` -> `dc_ev_status`.
pub(crate) fn snake(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' || c == '-' || c == '.' {
            if !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
            continue;
        }
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if (prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower))
                && !out.ends_with('_')
            {
                out.push('_');
            }
        }
        out.extend(c.to_lowercase());
    }
    const KEYWORDS: &[&str] = &[
        "type", "match", "ref", "self", "fn", "mod", "use", "struct", "enum", "impl", "loop",
        "move", "box", "in", "where", "as", "const", "static", "crate", "super", "trait", "final",
    ];
    if KEYWORDS.contains(&out.as_str()) {
        out = format!("r#{out}");
    }
    out
}

fn variant_ident(s: &str) -> String {
    let mut v: String = s
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if v.starts_with(|c: char| c.is_ascii_digit()) {
        v = format!("V{v}");
    }
    upper_first(&v)
}

fn doc(text: &str) -> String {
    format!("/// {}\n", text.replace('\n', " "))
}

impl Generator {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn module(&mut self, m: &'static str) -> &mut ModuleOut {
        self.modules.entry(m).or_default()
    }

    fn claim_name(&mut self, m: &'static str, name: &str) -> Result<()> {
        if !self.module(m).names.insert(name.to_owned()) {
            bail!("two generated items named {name} in module {m}");
        }
        Ok(())
    }

    fn path_from(current: &str, module: &str, name: &str) -> String {
        if current == module {
            name.to_owned()
        } else {
            format!("super::{module}::{name}")
        }
    }

    /// Returns the finished files: (file name, contents without formatting).
    pub(crate) fn files(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut mod_rs = String::from(
            "// @generated by cargo xtask codegen — do not edit\n\
             //! Generated message types and grammars, one module per schema namespace.\n\n",
        );
        for (name, m) in &self.modules {
            let feature = match *name {
                "app_handshake" => "feature = \"app_handshake\"",
                "din" => "feature = \"din\"",
                "iso2" => "feature = \"iso2\"",
                "xmldsig" => "any(feature = \"din\", feature = \"iso2\", feature = \"iso20\")",
                _ => "feature = \"iso20\"",
            };
            let _ = writeln!(mod_rs, "#[cfg({feature})]\npub(crate) mod {name};");
            let mut text = String::from("// @generated by cargo xtask codegen — do not edit\n");
            let title = if m.title.is_empty() {
                module_title(name)
            } else {
                m.title.clone()
            };
            let _ = writeln!(text, "//! {title}");
            text.push_str(
                "#![allow(non_camel_case_types, clippy::upper_case_acronyms, clippy::large_enum_variant, \
                 clippy::needless_late_init, unused_imports, unused_mut, clippy::match_single_binding, \
                 clippy::redundant_locals, clippy::too_many_lines, clippy::absurd_extreme_comparisons, \
                 unused_comparisons, unused_variables, unused_assignments, clippy::manual_range_contains, clippy::needless_borrow, clippy::needless_borrows_for_generic_args, clippy::single_match, clippy::collapsible_else_if, clippy::let_and_return, clippy::blocks_in_conditions, clippy::bool_comparison, clippy::nonminimal_bool, clippy::redundant_pattern_matching, clippy::enum_variant_names)]\n\n",
            );
            text.push_str(
                "use alloc::string::String;\nuse alloc::vec::Vec;\n\n\
                 use ccs_exi::{BigInt, Decoder, Encoder, Error, ErrorKind, Production};\n\n\
                 use crate::codec::ExiContent;\nuse crate::rt;\n\n",
            );
            for item in &m.items {
                text.push_str(item);
                text.push('\n');
            }
            out.push((format!("{name}.rs"), text));
        }
        out.push(("mod.rs".to_owned(), mod_rs));
        out
    }

    pub(crate) fn generate_set(&mut self, set: &SchemaSet, spec: &SetSpec) -> Result<()> {
        self.module(spec.module).title = spec.title.to_owned();
        // Document grammar: all global elements, EXI order, plus SE(*).
        let mut globals: Vec<&QName> = set.elements.keys().collect();
        globals.sort_by(|a, b| exi_order(a, b));
        let mut doc_variants = Vec::new();
        let mut used = BTreeSet::new();
        for q in &globals {
            let el = &set.elements[*q];
            let codec = self.codec_for(set, &el.ty, spec.module, q)?;
            let mut v = variant_ident(&q.local);
            while !used.insert(v.clone()) {
                v.push('_');
            }
            doc_variants.push((v, (*q).clone(), Some(codec)));
        }
        self.emit_root_enum(spec, "Document", &doc_variants, false)?;

        // Fragment grammar: every element qname declared anywhere, EXI order, SE(*), ED.

        let mut names: Vec<&QName> = set.all_element_names.keys().collect();
        names.sort_by(|a, b| exi_order(a, b));
        let mut frag_variants = Vec::new();
        let mut used = BTreeSet::new();
        for q in names {
            let decls = &set.all_element_names[q];
            let codec = if decls.len() == 1 {
                Some(self.codec_for(set, &decls[0].1, spec.module, q)?)
            } else {
                // Several types for one qname: the relaxed grammar (`crate::relaxed`).
                None
            };
            let mut v = variant_ident(&q.local);
            while !used.insert(v.clone()) {
                v.push('_');
            }
            frag_variants.push((v, q.clone(), codec));
        }
        // A qname declared with several types is coded with the relaxed Element Fragment
        // grammar (EXI 1.0 §8.5.3), whose codes index every attribute qname of the set.
        if frag_variants.iter().any(|(_, _, codec)| codec.is_none()) {
            self.emit_fragment_attributes(spec, set)?;
        }
        self.emit_root_enum(spec, "Fragment", &frag_variants, true)?;
        Ok(())
    }

    fn emit_root_enum(
        &mut self,
        spec: &SetSpec,
        name: &str,
        variants: &[(String, QName, Option<Codec>)],
        fragment: bool,
    ) -> Result<()> {
        self.claim_name(spec.module, name)?;
        let count = variants.len() + 1 + usize::from(fragment);
        let mut t = String::new();
        let what = if fragment {
            format!(
                "An EXI fragment of {}: one element, coded with the fragment grammar (EXI 1.0 \
                 §8.4.2) whose first event code indexes every element qname declared in the schema \
                 set ({} qnames + SE(*) + ED), as signatures are computed (exi-v2g.md §1.6). \
                 Elements whose qname is declared with several types hold a \
                 [`crate::relaxed::RelaxedElement`] (EXI 1.0 §8.5.3).",
                spec.title,
                variants.len()
            )
        } else {
            format!(
                "An EXI document of {}: the root element, one of the {} global elements in EXI \
                 order (their index is the 'DocContent' event code).",
                spec.title,
                variants.len()
            )
        };
        t.push_str(&doc(&what));
        t.push_str("#[derive(Clone, Debug, Eq, PartialEq)]\n");
        t.push_str(
            "#[cfg_attr(feature = \"serde\", derive(serde::Serialize, serde::Deserialize))]\n",
        );
        t.push_str(&format!("pub enum {name} {{\n"));
        for (v, q, codec) in variants {
            let Some(codec) = codec else {
                if fragment {
                    t.push_str(&doc(&format!(
                        "`{}` ({}), declared with several types: the relaxed grammar",
                        q.local, q.ns
                    )));
                    t.push_str(&format!(
                        "#[cfg_attr(feature = \"serde\", serde(rename = \"{}\"))]\n{v}(crate::relaxed::RelaxedElement),\n",
                        q.local
                    ));
                }
                continue;
            };
            t.push_str(&doc(&format!("`{}` ({})", q.local, q.ns)));
            if let Codec::Simple(s) = codec
                && let Some(w) = s.serde_with
            {
                t.push_str(&format!(
                    "#[cfg_attr(feature = \"serde\", serde(with = \"{w}\"))]\n"
                ));
            }
            // A local name declared in two namespaces keeps its unique variant name in JSON.
            let rename = if *v == variant_ident(&q.local) {
                q.local.clone()
            } else {
                v.clone()
            };
            t.push_str(&format!(
                "#[cfg_attr(feature = \"serde\", serde(rename = \"{rename}\"))]\n{v}({}),\n",
                codec.rust()
            ));
        }
        t.push_str("}\n\n");
        let code_fn = if fragment { "fragment" } else { "document" };
        t.push_str(&format!("impl {name} {{\n"));
        let ok: Vec<_> = variants
            .iter()
            .filter_map(|(v, _, c)| c.as_ref().filter(|c| c.producible()).map(|c| (v, c)))
            .collect();
        t.push_str("/// A random valid value (property tests and fuzzing).\n#[cfg(any(test, feature = \"random\"))]\n");
        t.push_str(&format!(
            "pub fn random(r: &mut crate::random::Rng) -> Self {{\nmatch r.below({}) {{\n",
            ok.len()
        ));
        for (i, (v, c)) in ok.iter().enumerate() {
            let arm = if i + 1 == ok.len() {
                "_".to_owned()
            } else {
                i.to_string()
            };
            t.push_str(&format!("{arm} => Self::{v}({}),\n", c.random()));
        }
        t.push_str("}\n}\n\n");
        t.push_str(&doc(&format!(
            "Decodes a whole {code_fn} stream (header `0x80` included)."
        )));
        t.push_str("pub fn decode(bytes: &[u8]) -> Result<Self, Error> {\n");
        t.push_str("let mut dec = Decoder::new(bytes);\nlet d = &mut dec;\nd.header()?;\n");
        t.push_str(&format!("d.set_expected(\"{name} root element\");\n"));
        t.push_str(&format!("let value = match d.plain_code({count})? {{\n"));
        for (i, (v, _q, codec)) in variants.iter().enumerate() {
            if let Some(codec) = codec {
                t.push_str(&format!("{i} => Self::{v}({}),\n", codec.decode_content()));
            } else if fragment {
                t.push_str(&format!(
                    "{i} => Self::{v}(crate::relaxed::RelaxedElement::decode_content(d, FRAGMENT_ATTRIBUTES, {})?),\n",
                    variants.len()
                ));
            }
        }
        t.push_str(
            "_ => return Err(d.error(ErrorKind::UnsupportedEvent(\"root element without a generated grammar\"))),\n};\n",
        );
        if fragment {
            t.push_str(&format!(
                "d.set_expected(\"ED\");\nif d.plain_code({count})? != {} {{ return Err(d.error(ErrorKind::UnsupportedEvent(\"more than one fragment element\"))); }}\n",
                count - 1
            ));
        }
        t.push_str("d.finish()?;\nOk(value)\n}\n\n");
        t.push_str(&doc(&format!(
            "Encodes the {code_fn}: header `0x80`, the element, padding."
        )));
        t.push_str("pub fn encode(&self) -> Result<Vec<u8>, Error> {\n");
        t.push_str("let mut enc = Encoder::new();\nlet e = &mut enc;\ne.header();\nmatch self {\n");
        for (i, (v, _q, codec)) in variants.iter().enumerate() {
            if let Some(codec) = codec {
                t.push_str(&format!(
                    "Self::{v}(v) => {{ e.plain_code({count}, {i}); {} }}\n",
                    codec.encode_content("v")
                ));
            } else if fragment {
                t.push_str(&format!(
                    "Self::{v}(v) => {{ e.plain_code({count}, {i}); v.encode_content(e, FRAGMENT_ATTRIBUTES, {})?; }}\n",
                    variants.len()
                ));
            }
        }
        t.push_str("}\n");
        if fragment {
            t.push_str(&format!("e.plain_code({count}, {});\n", count - 1));
        }
        t.push_str("Ok(enc.finish())\n}\n}\n");
        self.module(spec.module).items.push(t);
        Ok(())
    }

    /// `FRAGMENT_ATTRIBUTES`: every attribute qname of the set in EXI order, which the relaxed
    /// Element Fragment grammar (EXI 1.0 §8.5.3) indexes. Every attribute type of the V2G
    /// schemas is string-coded; anything else fails the generation.
    fn emit_fragment_attributes(&mut self, spec: &SetSpec, set: &SchemaSet) -> Result<()> {
        let mut types: Vec<&ComplexType> = set.complex_types.values().collect();
        for decls in set.all_element_names.values() {
            for (_, ty) in decls {
                if let TypeRef::AnonComplex(ct) = ty {
                    types.push(ct);
                }
            }
        }
        let mut names = BTreeSet::new();
        for ct in types {
            for a in &ct.attributes {
                let repr = self.simple_repr(set, &a.ty, spec.module, &a.name)?;
                if repr.rust != "String" {
                    bail!("attribute {} is not string-coded ({})", a.name, repr.rust);
                }
                names.insert(a.name.clone());
            }
        }
        let mut names: Vec<QName> = names.into_iter().collect();
        names.sort_by(exi_order);
        let mut t = doc(&format!(
            "Every attribute qname of {} in EXI order ({}): the relaxed Element Fragment grammar \
             (EXI 1.0 §8.5.3) indexes them.",
            spec.title,
            names.len()
        ));
        t.push_str("pub const FRAGMENT_ATTRIBUTES: &[crate::relaxed::AttributeName] = &[\n");
        for q in &names {
            t.push_str(&format!("(\"{}\", \"{}\"),\n", q.ns, q.local));
        }
        t.push_str("];\n");
        self.module(spec.module).items.push(t);
        Ok(())
    }

    /// The codec of an element or attribute type, generating the type when needed.
    fn codec_for(
        &mut self,
        set: &SchemaSet,
        ty: &TypeRef,
        current: &'static str,
        owner: &QName,
    ) -> Result<Codec> {
        match ty {
            TypeRef::AnonComplex(ct) => {
                let key = format!("anon:{owner}");
                let module = module_of(&owner.ns).or_else(|_| Ok::<_, anyhow::Error>(current))?;
                let (m, n) = self.ensure_complex(set, &key, ct, module)?;
                let ok = !self.unproducible.contains(&(m, n.clone()));
                Ok(Codec::Complex(Self::path_from(current, m, &n), ok))
            }
            TypeRef::Named(q) if set.complex_types.contains_key(q) => {
                let key = q.to_string();
                let module = module_of(&q.ns)?;
                let ct = set.complex_types[q].clone();
                let (m, n) = self.ensure_complex(set, &key, &ct, module)?;
                let ok = !self.unproducible.contains(&(m, n.clone()));
                Ok(Codec::Complex(Self::path_from(current, m, &n), ok))
            }
            _ => Ok(Codec::Simple(self.simple_repr(set, ty, current, owner)?)),
        }
    }

    fn simple_repr(
        &mut self,
        set: &SchemaSet,
        ty: &TypeRef,
        current: &'static str,
        owner: &QName,
    ) -> Result<SimpleRepr> {
        // Walk the restriction chain to the built-in type, derived facets winning.
        let mut facets = Facets::default();
        let mut enum_owner: Option<QName> = None;
        let mut merge = |f: &Facets, name: Option<&QName>, enum_owner: &mut Option<QName>| {
            facets.min_inclusive = facets.min_inclusive.or(f.min_inclusive);
            facets.max_inclusive = facets.max_inclusive.or(f.max_inclusive);
            facets.length = facets.length.or(f.length);
            facets.min_length = facets.min_length.or(f.min_length);
            facets.max_length = facets.max_length.or(f.max_length);
            if facets.enumeration.is_empty() && !f.enumeration.is_empty() {
                facets.enumeration = f.enumeration.clone();
                *enum_owner = name.cloned();
            }
        };
        let mut base = match ty {
            TypeRef::Named(q) => q.clone(),
            TypeRef::AnonSimple(st) => {
                merge(&st.facets, None, &mut enum_owner);
                st.base.clone()
            }
            TypeRef::AnonComplex(_) => bail!("complex type where a simple type is needed"),
        };
        while base.ns != XS {
            let Some(st) = set.simple_types.get(&base) else {
                bail!("unknown simple type {base}");
            };
            merge(&st.facets, Some(&base), &mut enum_owner);
            base = st.base.clone();
        }
        let what = owner.local.clone();
        if !facets.enumeration.is_empty() {
            let Some(eq) = enum_owner else {
                bail!("anonymous enumeration in {owner} is not supported");
            };
            let path = self.ensure_enum(&eq, &facets.enumeration, current)?;
            let bits = crate::range_width(facets.enumeration.len() as u64 - 1);
            return Ok(SimpleRepr {
                rust: path.clone(),
                decode: format!("rt::enumeration(d, {bits}, {path}::from_index)?"),
                encode: format!("e.nbit({bits}, v.index() as u64);"),
                serde_with: None,
                random: format!(
                    "{path}::ALL[r.below({}) as usize]",
                    facets.enumeration.len()
                ),
            });
        }
        let b = base.local.as_str();
        let (lo, hi): (i128, i128) = match b {
            "boolean" => {
                return Ok(SimpleRepr {
                    rust: "bool".into(),
                    decode: "d.boolean()?".into(),
                    encode: "e.boolean(*v);".into(),
                    serde_with: None,
                    random: "r.chance()".into(),
                });
            }
            "string" | "anyURI" | "ID" | "IDREF" | "NCName" | "token" | "normalizedString"
            | "Name" => {
                let (min, max) = lengths(&facets);
                return Ok(SimpleRepr {
                    rust: "String".into(),
                    decode: format!("rt::string(d, {min}, {max}, \"{what}\")?"),
                    encode: format!("rt::put_string(e, v, {min}, {max}, \"{what}\")?;"),
                    serde_with: None,
                    random: format!("r.string({min}, {max})"),
                });
            }
            "hexBinary" | "base64Binary" => {
                let (min, max) = lengths(&facets);
                return Ok(SimpleRepr {
                    rust: "Vec<u8>".into(),
                    decode: format!("rt::binary(d, {min}, {max}, \"{what}\")?"),
                    encode: format!("rt::put_binary(e, v, {min}, {max}, \"{what}\")?;"),
                    serde_with: Some("crate::serde_util::hex"),
                    random: format!("r.bytes({min}, {max})"),
                });
            }
            "integer" if facets.min_inclusive.is_none() && facets.max_inclusive.is_none() => {
                return Ok(SimpleRepr {
                    rust: "BigInt".into(),
                    decode: "d.big_integer()?".into(),
                    encode: "e.big_integer(v);".into(),
                    serde_with: Some("crate::serde_util::bigint"),
                    random: "r.big_int()".into(),
                });
            }
            "byte" => (-128, 127),
            "unsignedByte" => (0, 255),
            "short" => (-32768, 32767),
            "unsignedShort" => (0, 65535),
            "int" => (i128::from(i32::MIN), i128::from(i32::MAX)),
            "unsignedInt" => (0, i128::from(u32::MAX)),
            "long" => (i128::from(i64::MIN), i128::from(i64::MAX)),
            "unsignedLong" | "nonNegativeInteger" => (0, i128::from(u64::MAX)),
            "integer" => (i128::from(i64::MIN), i128::from(i64::MAX)),
            other => bail!("built-in type xs:{other} is not supported ({owner})"),
        };
        let min = facets.min_inclusive.unwrap_or(lo).max(lo);
        let max = facets.max_inclusive.unwrap_or(hi).min(hi);
        let rust = int_type(min, max);
        let (decode, encode) = if max - min < 4096 {
            let bits = crate::range_width((max - min) as u64);
            (
                format!("rt::nbit_int(d, {bits}, {min}, {max}, \"{what}\")?"),
                format!("rt::put_nbit_int(e, i128::from(*v), {bits}, {min}, {max}, \"{what}\")?;"),
            )
        } else if min >= 0 {
            (
                format!("rt::unsigned_int(d, {min}, {max}, \"{what}\")?"),
                format!("rt::put_unsigned_int(e, i128::from(*v), {min}, {max}, \"{what}\")?;"),
            )
        } else {
            (
                format!("rt::signed_int(d, {min}, {max}, \"{what}\")?"),
                format!("rt::put_signed_int(e, i128::from(*v), {min}, {max}, \"{what}\")?;"),
            )
        };
        Ok(SimpleRepr {
            rust: rust.into(),
            decode,
            encode,
            serde_with: None,
            random: format!("r.int({min}, {max}) as {rust}"),
        })
    }

    fn ensure_enum(
        &mut self,
        q: &QName,
        values: &[String],
        current: &'static str,
    ) -> Result<String> {
        let key = q.to_string();
        if let Some((m, n)) = self.enums_done.get(&key) {
            return Ok(Self::path_from(current, m, n));
        }
        let module = module_of(&q.ns)?;
        let name = upper_first(&q.local);
        self.claim_name(module, &name)?;
        self.enums_done.insert(key, (module, name.clone()));
        let mut t = String::new();
        t.push_str(&doc(&format!(
            "`{}` ({}): an enumeration, coded as an n-bit index in schema order.",
            q.local, q.ns
        )));
        t.push_str("#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]\n");
        t.push_str(
            "#[cfg_attr(feature = \"serde\", derive(serde::Serialize, serde::Deserialize))]\n",
        );
        t.push_str(&format!("pub enum {name} {{\n"));
        let mut idents = Vec::new();
        for v in values {
            let mut id = variant_ident(v);
            while idents.contains(&id) {
                id.push('_');
            }
            t.push_str(&doc(&format!("`{v}`")));
            t.push_str(&format!(
                "#[cfg_attr(feature = \"serde\", serde(rename = \"{v}\"))]\n{id},\n"
            ));
            idents.push(id);
        }
        t.push_str("}\n\n");
        t.push_str(&format!("impl {name} {{\n"));
        t.push_str(&doc(
            "Every value, in schema order (the index is the EXI code).",
        ));
        t.push_str(&format!("pub const ALL: [Self; {}] = [", values.len()));
        for id in &idents {
            t.push_str(&format!("Self::{id}, "));
        }
        t.push_str("];\n\n");
        t.push_str(&doc("The value with EXI index `index`."));
        t.push_str("pub fn from_index(index: u64) -> Option<Self> { usize::try_from(index).ok().and_then(|i| Self::ALL.get(i).copied()) }\n\n");
        t.push_str(&doc("The EXI index of this value."));
        t.push_str("pub fn index(self) -> usize { match self {\n");
        for (i, id) in idents.iter().enumerate() {
            t.push_str(&format!("Self::{id} => {i},\n"));
        }
        t.push_str("} }\n\n");
        t.push_str(&doc("The value as the schema spells it."));
        t.push_str("pub fn as_str(self) -> &'static str { match self {\n");
        for (v, id) in values.iter().zip(&idents) {
            t.push_str(&format!("Self::{id} => \"{v}\",\n"));
        }
        t.push_str("} }\n}\n");
        self.module(module).items.push(t);
        Ok(Self::path_from(current, module, &name))
    }

    /// Effective attributes and content of a complex type (extensions flattened).
    fn effective(
        set: &SchemaSet,
        ct: &ComplexType,
    ) -> Result<(Vec<crate::xsd::Attribute>, Content, bool)> {
        let mut attrs = Vec::new();
        let mut parts = Vec::new();
        let mut mixed = ct.mixed;
        let mut simple = None;
        if let Some(base) = &ct.base {
            let Some(b) = set.complex_types.get(base) else {
                bail!("extension of unknown complex type {base}");
            };
            let (a, c, m) = Self::effective(set, b)?;
            attrs.extend(a);
            mixed |= m;
            match c {
                Content::Empty => {}
                Content::Particle(p) => parts.push(p),
                Content::Simple(s) => simple = Some(s),
            }
        }
        attrs.extend(ct.attributes.iter().cloned());
        match &ct.content {
            Content::Empty => {}
            Content::Particle(p) => parts.push(p.clone()),
            Content::Simple(s) => simple = Some(s.clone()),
        }
        let content = if let Some(s) = simple {
            if !parts.is_empty() {
                bail!("simple content with particles");
            }
            // simpleContent extension of a complex type with simple content.
            let s = match &s {
                TypeRef::Named(q) if set.complex_types.contains_key(q) => {
                    let (_, c, _) = Self::effective(set, &set.complex_types[q])?;
                    match c {
                        Content::Simple(inner) => inner,
                        _ => bail!("simpleContent of a complex type without simple content"),
                    }
                }
                _ => s,
            };
            Content::Simple(s)
        } else if parts.is_empty() {
            Content::Empty
        } else if parts.len() == 1 {
            Content::Particle(parts.remove(0))
        } else {
            Content::Particle(Particle {
                min: 1,
                max: Some(1),
                term: Term::Sequence(parts),
            })
        };
        attrs.sort_by(|a, b| exi_order(&a.name, &b.name));
        Ok((attrs, content, mixed))
    }

    /// Generates a complex type once; returns (module, Rust name).
    fn ensure_complex(
        &mut self,
        set: &SchemaSet,
        key: &str,
        ct: &ComplexType,
        module: &'static str,
    ) -> Result<(&'static str, String)> {
        if let Some(done) = self.complex_done.get(key) {
            return Ok(done.clone());
        }
        let qn = ct.name.clone().context("complex type without a name")?;
        let name = upper_first(&qn.local);
        self.claim_name(module, &name)?;
        self.complex_done
            .insert(key.to_owned(), (module, name.clone()));
        let text = TypeGen::generate(self, set, ct, module, &name, &qn)
            .with_context(|| format!("in complex type {qn}"))?;
        self.module(module).items.push(text);
        Ok((module, name))
    }
}

fn lengths(f: &Facets) -> (String, String) {
    let min = f.length.or(f.min_length).unwrap_or(0);
    let max = f.length.or(f.max_length);
    (
        min.to_string(),
        max.map_or_else(|| "usize::MAX".to_owned(), |m| m.to_string()),
    )
}

fn int_type(min: i128, max: i128) -> &'static str {
    if min >= 0 {
        if max <= i128::from(u8::MAX) {
            "u8"
        } else if max <= i128::from(u16::MAX) {
            "u16"
        } else if max <= i128::from(u32::MAX) {
            "u32"
        } else {
            "u64"
        }
    } else if min >= i128::from(i8::MIN) && max <= i128::from(i8::MAX) {
        "i8"
    } else if min >= i128::from(i16::MIN) && max <= i128::from(i16::MAX) {
        "i16"
    } else if min >= i128::from(i32::MIN) && max <= i128::from(i32::MAX) {
        "i32"
    } else {
        "i64"
    }
}

/// Generation of one complex type: struct, helper enums/structs, grammar module, codec.
struct TypeGen<'a> {
    gen_: &'a mut Generator,
    set: &'a SchemaSet,
    module: &'static str,
    name: String,
    g: Grammar,
    leaves: HashMap<usize, Leaf>,
    /// Field name and value type name for groups and choices.
    names: HashMap<usize, (String, String)>,
    states: Vec<Vec<usize>>,
    extra: String,
}

impl<'a> TypeGen<'a> {
    fn generate(
        gen_: &'a mut Generator,
        set: &'a SchemaSet,
        ct: &ComplexType,
        module: &'static str,
        name: &str,
        qn: &QName,
    ) -> Result<String> {
        let (attrs, content, mixed) = Generator::effective(set, ct)?;
        let mut tg = TypeGen {
            gen_,
            set,
            module,
            name: name.to_owned(),
            g: Grammar::new(),
            leaves: HashMap::new(),
            names: HashMap::new(),
            states: Vec::new(),
            extra: String::new(),
        };
        let mut items = Vec::new();
        for a in &attrs {
            let codec = tg.gen_.simple_repr(set, &a.ty, module, &a.name)?;
            let t = tg.g.terminal(
                Category::Attribute,
                format!("At{}", variant_ident(&a.name.local)),
                format!("AT({})", a.name.local),
            );
            let n =
                tg.g.node(u32::from(a.required), Some(1), Kind::Leaf(vec![t]))?;
            tg.leaves.insert(
                n,
                Leaf::Attr {
                    codec,
                    qname: a.name.clone(),
                },
            );
            items.push(n);
        }
        match &content {
            Content::Empty => {}
            Content::Simple(s) => {
                let codec = tg.gen_.simple_repr(set, s, module, qn)?;
                let t =
                    tg.g.terminal(Category::TypedChars, "Chars".into(), "CH".into());
                let n = tg.g.node(1, Some(1), Kind::Leaf(vec![t]))?;
                tg.leaves.insert(n, Leaf::Chars { codec });
                items.push(n);
            }
            Content::Particle(p) => {
                let n = tg.build(p)?;
                // Flatten a top-level sequence that occurs once into the root.
                match &tg.g.nodes[n].kind {
                    Kind::Sequence(children)
                        if tg.g.nodes[n].min == 1 && tg.g.nodes[n].max == Some(1) =>
                    {
                        items.extend(children.clone());
                    }
                    _ => items.push(n),
                }
            }
        }
        tg.g.finish(items, mixed)?;
        tg.name_groups(tg.g.root, name)?;
        tg.emit(qn)
    }

    fn build(&mut self, p: &Particle) -> Result<usize> {
        match &p.term {
            Term::Local { name, ty } => {
                let codec = self.gen_.codec_for(self.set, ty, self.module, name)?;
                let t = self.g.terminal(
                    Category::Element,
                    variant_ident(&name.local),
                    format!("SE({})", name.local),
                );
                let n = self.g.node(p.min, p.max, Kind::Leaf(vec![t]))?;
                self.leaves.insert(
                    n,
                    Leaf::Elem {
                        members: vec![(t, name.clone(), codec)],
                        group_enum: None,
                    },
                );
                Ok(n)
            }
            Term::Ref(head) => {
                let members = self.substitution_members(head)?;
                let mut out = Vec::new();
                let mut terms = Vec::new();
                for m in &members {
                    let el = &self.set.elements[m];
                    let codec = self.gen_.codec_for(self.set, &el.ty, self.module, m)?;
                    let t = self.g.terminal(
                        Category::Element,
                        variant_ident(&m.local),
                        format!("SE({})", m.local),
                    );
                    terms.push(t);
                    out.push((t, m.clone(), codec));
                }
                let group_enum = if out.len() > 1 {
                    if module_of(&head.ns)? != self.module && !matches!(self.module, "din" | "iso2")
                    {
                        // Types shared by several grammar sets must not depend on the set.
                        if matches!(self.module, "xmldsig" | "iso20_types") {
                            bail!("substitution group {head} inside a shared module");
                        }
                    }
                    Some(self.ensure_group_enum(head, &out)?)
                } else {
                    None
                };
                let n = self.g.node(p.min, p.max, Kind::Leaf(terms))?;
                self.leaves.insert(
                    n,
                    Leaf::Elem {
                        members: out,
                        group_enum,
                    },
                );
                Ok(n)
            }
            Term::Any => {
                let t = self
                    .g
                    .terminal(Category::Wildcard, "AnyElement".into(), "SE(*)".into());
                let n = self.g.node(p.min, p.max, Kind::Leaf(vec![t]))?;
                self.leaves.insert(n, Leaf::Any);
                Ok(n)
            }
            Term::Sequence(items) | Term::Choice(items) => {
                let is_seq = matches!(p.term, Term::Sequence(_));
                // A group with one particle is that particle with combined occurrences.
                if items.len() == 1 {
                    let inner = &items[0];
                    if inner.min <= 1 && inner.max == Some(1) {
                        let merged = Particle {
                            min: p.min.min(inner.min.max(p.min)).min(p.min * inner.min),
                            max: p.max,
                            term: inner.term.clone(),
                        };
                        return self.build(&merged);
                    }
                    if p.min == 1 && p.max == Some(1) {
                        return self.build(inner);
                    }
                }
                let mut children = Vec::new();
                for i in items {
                    let c = self.build(i)?;
                    // Flatten nested sequences that occur once.
                    if is_seq
                        && let Kind::Sequence(grand) = &self.g.nodes[c].kind
                        && self.g.nodes[c].min == 1
                        && self.g.nodes[c].max == Some(1)
                    {
                        children.extend(grand.clone());
                        continue;
                    }
                    children.push(c);
                }
                let kind = if is_seq {
                    Kind::Sequence(children)
                } else {
                    Kind::Choice(children)
                };
                self.g.node(p.min, p.max, kind)
            }
        }
    }

    /// The head and every element that substitutes it (transitively), in EXI order. The head
    /// is included even when abstract, as every V2G codec does (exi-v2g.md §1.2).
    fn substitution_members(&self, head: &QName) -> Result<Vec<QName>> {
        if !self.set.elements.contains_key(head) {
            bail!("reference to unknown element {head}");
        }
        let mut members = vec![head.clone()];
        let mut i = 0;
        while i < members.len() {
            let cur = members[i].clone();
            for (q, el) in &self.set.elements {
                if el.substitution_group.as_ref() == Some(&cur) && !members.contains(q) {
                    members.push(q.clone());
                }
            }
            i += 1;
        }
        members.sort_by(exi_order);
        Ok(members)
    }

    fn ensure_group_enum(
        &mut self,
        head: &QName,
        members: &[(usize, QName, Codec)],
    ) -> Result<String> {
        let module = self.module;
        let name = upper_first(&head.local);
        let key = format!("group:{module}:{head}");
        if let Some((m, n)) = self.gen_.enums_done.get(&key) {
            return Ok(Generator::path_from(module, m, n));
        }
        let mut name = name;
        if self.gen_.module(module).names.contains(&name) {
            name.push_str("Group");
        }
        self.gen_.claim_name(module, &name)?;
        self.gen_.enums_done.insert(key, (module, name.clone()));
        let mut t = String::new();
        t.push_str(&doc(&format!(
            "The substitution group of `{}`: the head and every element that may stand for it, \
             in EXI order.",
            head.local
        )));
        t.push_str("#[derive(Clone, Debug, Eq, PartialEq)]\n");
        t.push_str(
            "#[cfg_attr(feature = \"serde\", derive(serde::Serialize, serde::Deserialize))]\n",
        );
        t.push_str(&format!("pub enum {name} {{\n"));
        for (_, q, codec) in members {
            t.push_str(&doc(&format!("`{}` ({})", q.local, q.ns)));
            t.push_str(&format!(
                "#[cfg_attr(feature = \"serde\", serde(rename = \"{}\"))]\n{}({}),\n",
                q.local,
                variant_ident(&q.local),
                codec.rust()
            ));
        }
        t.push_str("}\n");
        self.gen_.module(module).items.push(t);
        Ok(name)
    }

    /// Names the fields and helper types of groups (choices, nested sequences).
    fn name_groups(&mut self, n: usize, owner: &str) -> Result<()> {
        let kind = self.g.nodes[n].kind.clone();
        match kind {
            Kind::Leaf(_) => {}
            Kind::Sequence(children) | Kind::Choice(children) => {
                if n != self.g.root {
                    let base = self.group_label(n);
                    let mut ty = format!("{owner}_{base}");
                    while self.gen_.module(self.module).names.contains(&ty) {
                        ty.push('_');
                    }
                    self.gen_.claim_name(self.module, &ty)?;
                    self.names.insert(n, (snake(&base), ty));
                }
                let owner = self
                    .names
                    .get(&n)
                    .map_or_else(|| owner.to_owned(), |(_, t)| t.clone());
                for c in children {
                    self.name_groups(c, &owner)?;
                }
            }
        }
        Ok(())
    }

    /// A readable label for a group: the common suffix of its alternatives' names
    /// (`EIM_AReqAuthorizationMode | PnC_AReqAuthorizationMode` -> `AReqAuthorizationMode`),
    /// or the names of its elements joined.
    fn group_label(&self, n: usize) -> String {
        let names: Vec<String> = self
            .g
            .first(n)
            .iter()
            .map(|&t| self.g.terminals[t].variant.clone())
            .filter(|v| v != "AnyElement")
            .collect();
        let is_choice = matches!(self.g.nodes[n].kind, Kind::Choice(_));
        if is_choice && names.len() > 1 {
            let first = &names[0];
            let mut len = 0;
            while len < first.len()
                && names.iter().all(|s| {
                    s.len() > len
                        && s.as_bytes()[s.len() - 1 - len]
                            == first.as_bytes()[first.len() - 1 - len]
                })
            {
                len += 1;
            }
            let mut suffix = &first[first.len() - len..];
            // Start at a word boundary.
            while let Some(c) = suffix.chars().next() {
                if c.is_uppercase() {
                    break;
                }
                suffix = &suffix[c.len_utf8()..];
            }
            let suffix = suffix.trim_start_matches('_');
            if suffix.len() >= 3 {
                return suffix.to_owned();
            }
            return "Choice".to_owned();
        }
        let all: Vec<String> = self
            .leaf_names(n)
            .into_iter()
            .filter(|v| v != "AnyElement")
            .collect();
        if !all.is_empty() && all.len() <= 2 {
            all.join("")
        } else if is_choice {
            "Choice".to_owned()
        } else {
            "Group".to_owned()
        }
    }

    fn leaf_names(&self, n: usize) -> Vec<String> {
        match &self.g.nodes[n].kind {
            Kind::Leaf(t) => vec![self.g.terminals[t[0]].variant.clone()],
            Kind::Sequence(c) | Kind::Choice(c) => {
                c.iter().flat_map(|&c| self.leaf_names(c)).collect()
            }
        }
    }

    fn state(&mut self, s: Vec<usize>) -> String {
        let i = match self.states.iter().position(|x| *x == s) {
            Some(i) => i,
            None => {
                self.states.push(s);
                self.states.len() - 1
            }
        };
        format!("g::S{i}")
    }

    fn pattern(&self, terms: &[usize]) -> String {
        let v: Vec<String> = terms
            .iter()
            .map(|&t| format!("P::{}", self.g.terminals[t].variant))
            .collect();
        v.join(" | ")
    }

    /// Rust type of one occurrence of node `n` (None: no value, e.g. a wildcard).
    fn value_type(&self, n: usize) -> Option<String> {
        match &self.g.nodes[n].kind {
            Kind::Leaf(_) => match &self.leaves[&n] {
                Leaf::Attr { codec, .. } | Leaf::Chars { codec } => Some(codec.rust.clone()),
                Leaf::Elem {
                    members,
                    group_enum,
                } => Some(group_enum.clone().unwrap_or_else(|| members[0].2.rust())),
                Leaf::Any => None,
            },
            Kind::Sequence(_) | Kind::Choice(_) => Some(self.names[&n].1.clone()),
        }
    }

    fn occurs_type(&self, n: usize) -> Option<String> {
        let v = self.value_type(n)?;
        let node = &self.g.nodes[n];
        Some(match (node.min, node.max) {
            (1, Some(1)) => v,
            (0, Some(1)) => format!("Option<{v}>"),
            _ => format!("Vec<{v}>"),
        })
    }

    fn serde_with(&self, n: usize) -> Option<&'static str> {
        let Kind::Leaf(_) = self.g.nodes[n].kind else {
            return None;
        };
        let w = match &self.leaves[&n] {
            Leaf::Attr { codec, .. } | Leaf::Chars { codec } => codec.serde_with,
            Leaf::Elem {
                members,
                group_enum: None,
            } => match &members[0].2 {
                Codec::Simple(s) => s.serde_with,
                Codec::Complex(..) => None,
            },
            _ => None,
        }?;
        let node = &self.g.nodes[n];
        Some(match (node.min, node.max) {
            (1, Some(1)) => w,
            (0, Some(1)) if w.ends_with("hex") => "crate::serde_util::hex_opt",
            (0, Some(1)) => "crate::serde_util::bigint_opt",
            _ if w.ends_with("hex") => "crate::serde_util::hex_vec",
            _ => "crate::serde_util::bigint_vec",
        })
    }

    /// (field name, schema name) of a node that produces a value.
    fn field_name(&self, n: usize) -> (String, String) {
        if let Some((f, _)) = self.names.get(&n) {
            return (f.clone(), f.clone());
        }
        match &self.leaves[&n] {
            Leaf::Attr { qname, .. } => (snake(&qname.local), qname.local.clone()),
            Leaf::Chars { .. } => ("value".into(), "$value".into()),
            Leaf::Elem {
                members,
                group_enum,
            } => {
                let q = &members[0].1;
                if group_enum.is_some() {
                    // The head sorts anywhere: name the field after the group enum.
                    let head = group_enum.clone().unwrap_or_default();
                    let head = head.rsplit("::").next().unwrap_or_default().to_owned();
                    (snake(head.trim_end_matches("Group")), head)
                } else {
                    (snake(&q.local), q.local.clone())
                }
            }
            Leaf::Any => ("any".into(), "any".into()),
        }
    }

    fn children(&self, n: usize) -> Vec<usize> {
        match &self.g.nodes[n].kind {
            Kind::Sequence(c) | Kind::Choice(c) => c.clone(),
            Kind::Leaf(_) => Vec::new(),
        }
    }

    /// Struct fields (doc, attributes, declaration) for the value-producing children of a
    /// sequence node.
    fn struct_fields(&self, seq: usize) -> Result<String> {
        let mut out = String::new();
        let mut seen = BTreeSet::new();
        for c in self.children(seq) {
            let Some(ty) = self.occurs_type(c) else {
                continue;
            };
            let (field, schema) = self.field_name(c);
            if !seen.insert(field.clone()) {
                bail!("two fields named {field} in {}", self.name);
            }
            let node = &self.g.nodes[c];
            let occurs = match (node.min, node.max) {
                (1, Some(1)) => "required".to_owned(),
                (0, Some(1)) => "optional".to_owned(),
                (min, Some(max)) => format!("{min} to {max} times"),
                (min, None) => format!("at least {min} times"),
            };
            let is_group_like = !matches!(self.g.nodes[c].kind, Kind::Leaf(_))
                || matches!(
                    &self.leaves.get(&c),
                    Some(Leaf::Elem {
                        group_enum: Some(_),
                        ..
                    })
                );
            out.push_str(&doc(&format!("`{schema}` ({occurs}).")));
            let mut serde = Vec::new();
            if is_group_like && matches!((node.min, node.max), (_, Some(1))) {
                serde.push("flatten".to_owned());
            } else {
                serde.push(format!("rename = \"{schema}\""));
                match (node.min, node.max) {
                    (1, Some(1)) => {}
                    (0, Some(1)) => {
                        serde.push("default".into());
                        serde.push("skip_serializing_if = \"Option::is_none\"".into());
                    }
                    _ => {
                        serde.push("default".into());
                        serde.push("skip_serializing_if = \"Vec::is_empty\"".into());
                    }
                }
            }
            if let Some(w) = self.serde_with(c) {
                serde.push(format!("with = \"{w}\""));
            }
            out.push_str(&format!(
                "#[cfg_attr(feature = \"serde\", serde({}))]\npub {field}: {ty},\n",
                serde.join(", ")
            ));
        }
        Ok(out)
    }

    fn emit(mut self, qn: &QName) -> Result<String> {
        let root = self.g.root;
        let fields = self.struct_fields(root)?;
        let helper_types = self.helper_types(root)?;
        let init = self.g.initial();
        let init_state = self.state(init);
        let decode_body = self.decode_seq_fields(root)?;
        let field_list: Vec<String> = self
            .children(root)
            .into_iter()
            .filter(|&c| self.value_type(c).is_some())
            .map(|c| self.field_name(c).0)
            .collect();
        let encode_body = self.encode_seq_fields(root, "self")?;
        let end = self.g.end;
        let name = self.name.clone();
        let mut t = String::new();
        t.push_str(&doc(&format!("`{}` ({}).", qn.local, qn.ns)));
        t.push_str("#[derive(Clone, Debug, Eq, PartialEq)]\n");
        t.push_str(
            "#[cfg_attr(feature = \"serde\", derive(serde::Serialize, serde::Deserialize))]\n",
        );
        if fields.is_empty() {
            t.push_str(&format!("pub struct {name} {{}}\n\n"));
        } else {
            t.push_str(&format!("pub struct {name} {{\n{fields}}}\n\n"));
        }
        t.push_str(&helper_types);
        t.push_str(&self.extra);
        let random = self.random_fn();
        t.push_str(&random);
        // Codec.
        t.push_str(&format!("impl ExiContent for {name} {{\n"));
        t.push_str("fn decode_content(d: &mut Decoder<'_>) -> Result<Self, Error> {\n");
        t.push_str(&format!("use {}::{{self as g, P}};\n", grammar_mod(&name)));
        t.push_str(&format!("let outer = d.set_expected(\"{name}\");\n"));
        t.push_str(&format!("let mut ev = d.event({init_state})?;\n"));
        t.push_str(&decode_body);
        t.push_str(&format!(
            "if ev != P::{} {{ return Err(rt::unexpected(d, ev)); }}\n",
            self.g.terminals[end].variant
        ));
        t.push_str(&format!(
            "d.set_expected(outer);\nOk(Self {{ {} }})\n}}\n\n",
            field_list.join(", ")
        ));
        t.push_str("fn encode_content(&self, e: &mut Encoder) -> Result<(), Error> {\n");
        t.push_str(&format!("use {}::{{self as g, P}};\n", grammar_mod(&name)));
        t.push_str(&format!("let outer = e.set_expected(\"{name}\");\n"));
        t.push_str(&format!("let mut s: &[P] = {init_state};\n"));
        t.push_str(&encode_body);
        t.push_str(&format!(
            "e.event(s, P::{})?;\ne.set_expected(outer);\nOk(())\n}}\n}}\n\n",
            self.g.terminals[end].variant
        ));
        // Grammar module.
        t.push_str(&format!(
            "/// Grammar of `{}`: its first-level productions per state, in event-code order \
             (EXI 1.0 §8.5.4, non-strict: the code width counts one more for the escape).\n",
            qn.local
        ));
        t.push_str(&format!("mod {} {{\n", grammar_mod(&name)));
        t.push_str("/// A production of this grammar.\n#[derive(Clone, Copy, Debug, Eq, PartialEq)]\npub(super) enum P {\n");
        for term in &self.g.terminals {
            t.push_str(&format!("/// {}\n{},\n", term.label, term.variant));
        }
        t.push_str("}\n\nimpl ccs_exi::Production for P {\nfn name(self) -> &'static str {\nmatch self {\n");
        for term in &self.g.terminals {
            t.push_str(&format!("Self::{} => \"{}\",\n", term.variant, term.label));
        }
        t.push_str("}\n}\n\nfn unsupported(self) -> Option<&'static str> {\nmatch self {\n");
        for term in &self.g.terminals {
            if matches!(term.category, Category::Wildcard | Category::UntypedChars) {
                t.push_str(&format!(
                    "Self::{} => Some(\"{}\"),\n",
                    term.variant, term.label
                ));
            }
        }
        t.push_str("_ => None,\n}\n}\n}\n\n");
        for (i, s) in self.states.iter().enumerate() {
            let list: Vec<String> = s
                .iter()
                .map(|&x| format!("P::{}", self.g.terminals[x].variant))
                .collect();
            t.push_str(&format!(
                "/// {} ({} bit(s))\npub(super) const S{i}: &[P] = &[{}];\n",
                self.g.describe(s),
                ccs_code_width(s.len() as u32 + 1),
                list.join(", ")
            ));
        }
        t.push_str("}\n");
        Ok(t)
    }

    /// Structs and enums for the nested groups of the type.
    fn helper_types(&self, n: usize) -> Result<String> {
        let mut out = String::new();
        for c in self.children(n) {
            if let Some((_, ty)) = self.names.get(&c) {
                match &self.g.nodes[c].kind {
                    Kind::Sequence(_) => {
                        out.push_str(&doc(&format!("A sequence inside `{}`.", self.name)));
                        out.push_str("#[derive(Clone, Debug, Eq, PartialEq)]\n");
                        out.push_str("#[cfg_attr(feature = \"serde\", derive(serde::Serialize, serde::Deserialize))]\n");
                        let f = self.struct_fields(c)?;
                        out.push_str(&format!("pub struct {ty} {{\n{f}}}\n\n"));
                    }
                    Kind::Choice(alts) => {
                        out.push_str(&doc(&format!("A choice inside `{}`.", self.name)));
                        out.push_str("#[derive(Clone, Debug, Eq, PartialEq)]\n");
                        out.push_str("#[cfg_attr(feature = \"serde\", derive(serde::Serialize, serde::Deserialize))]\n");
                        out.push_str(&format!("pub enum {ty} {{\n"));
                        for &a in alts {
                            let Some(vt) = self.occurs_type(a) else {
                                continue;
                            };
                            let (v, schema) = self.alt_variant(a);
                            out.push_str(&doc(&format!("`{schema}`")));
                            if let Some(w) = self.serde_with(a) {
                                out.push_str(&format!(
                                    "#[cfg_attr(feature = \"serde\", serde(with = \"{w}\"))]\n"
                                ));
                            }
                            out.push_str(&format!(
                                "#[cfg_attr(feature = \"serde\", serde(rename = \"{schema}\"))]\n{v}({vt}),\n"
                            ));
                        }
                        out.push_str("}\n\n");
                    }
                    Kind::Leaf(_) => {}
                }
                out.push_str(&self.helper_types(c)?);
            }
        }
        Ok(out)
    }

    fn alt_variant(&self, a: usize) -> (String, String) {
        let (_, schema) = self.field_name(a);
        (variant_ident(&schema), schema)
    }

    fn decode_seq_fields(&mut self, seq: usize) -> Result<String> {
        let mut out = String::new();
        for c in self.children(seq) {
            if self.value_type(c).is_none() {
                // Wildcards only widen the event codes; `Decoder::event` rejects them.
                continue;
            }
            let expr = self.decode_occurs(c)?;
            let (f, _) = self.field_name(c);
            out.push_str(&format!("let {f} = {expr};\n"));
        }
        Ok(out)
    }

    /// Decodes one occurrence of a leaf's value (its event was read already).
    fn decode_leaf_value(&self, n: usize) -> String {
        match &self.leaves[&n] {
            Leaf::Attr { codec, .. } | Leaf::Chars { codec } => codec.decode.clone(),
            Leaf::Elem {
                members,
                group_enum,
            } => match group_enum {
                None => members[0].2.decode_content(),
                Some(en) => {
                    let mut s = String::from("match ev {\n");
                    for (t, q, codec) in members {
                        s.push_str(&format!(
                            "P::{} => {en}::{}({}),\n",
                            self.g.terminals[*t].variant,
                            variant_ident(&q.local),
                            codec.decode_content()
                        ));
                    }
                    s.push_str("_ => return Err(rt::unexpected(d, ev)),\n}");
                    s
                }
            },
            Leaf::Any => "()".into(),
        }
    }

    fn decode_occurs(&mut self, n: usize) -> Result<String> {
        let node = self.g.nodes[n].clone();
        let pat = self.pattern(&self.g.first(n));
        let is_leaf = matches!(node.kind, Kind::Leaf(_));
        if is_leaf && matches!(self.leaves[&n], Leaf::Any) {
            // Wildcards only widen event codes; `Decoder::event` rejects them.
            return Ok("()".into());
        }
        let one = |tg: &mut Self, count: u32| -> Result<String> {
            if is_leaf {
                let after = tg.g.after(n, count);
                let st = tg.state(after);
                Ok(format!(
                    "{{ let v = {}; ev = d.event({st})?; v }}",
                    tg.decode_leaf_value(n)
                ))
            } else {
                tg.decode_group_one(n)
            }
        };
        Ok(match (node.min, node.max) {
            (1, Some(1)) => {
                let body = one(self, 1)?;
                format!(
                    "{{ if !matches!(ev, {pat}) {{ return Err(rt::unexpected(d, ev)); }} {body} }}"
                )
            }
            (0, Some(1)) => {
                let body = one(self, 1)?;
                format!("if matches!(ev, {pat}) {{ Some({body}) }} else {{ None }}")
            }
            (min, max) => {
                let min_check = if min == 1 {
                    "if items.is_empty() { return Err(rt::unexpected(d, ev)); }\n".to_owned()
                } else if min > 0 {
                    format!("if items.len() < {min} {{ return Err(rt::unexpected(d, ev)); }}\n")
                } else {
                    String::new()
                };
                if is_leaf {
                    let next = self.count_state(n, "items.len()");
                    format!(
                        "{{ let mut items = Vec::new();\nwhile matches!(ev, {pat}) {{\nitems.push({});\nev = d.event({next})?;\n}}\n{min_check}items }}",
                        self.decode_leaf_value(n)
                    )
                } else {
                    let _ = max;
                    let body = self.decode_group_one(n)?;
                    format!(
                        "{{ let mut items = Vec::new();\nwhile matches!(ev, {pat}) {{\nitems.push({body});\n}}\n{min_check}items }}"
                    )
                }
            }
        })
    }

    /// The state after a repeated leaf, chosen by its count so far (`count` is an expression).
    fn count_state(&mut self, n: usize, count: &str) -> String {
        let node = self.g.nodes[n].clone();
        let mut arms = Vec::new();
        if node.min > 1 {
            let s = self.g.after(n, 1);
            arms.push((format!("{count} < {}", node.min), self.state(s)));
        }
        let mid = node.min.max(1);
        if node.max.is_none_or(|m| mid < m) {
            let s = self.g.after(n, mid);
            let cond = node.max.map(|m| format!("{count} < {m}"));
            arms.push((cond.unwrap_or_default(), self.state(s)));
        }
        if let Some(m) = node.max {
            let s = self.g.after(n, m);
            arms.push((String::new(), self.state(s)));
        }
        // Build an if/else chain; the last arm is the fallback.
        let mut expr = String::new();
        let last = arms.len() - 1;
        for (i, (cond, st)) in arms.iter().enumerate() {
            if i == last || cond.is_empty() {
                if i == 0 {
                    expr = st.clone();
                } else {
                    expr.push_str(&format!(" else {{ {st} }}"));
                }
                break;
            }
            if i == 0 {
                expr.push_str(&format!("if {cond} {{ {st} }}"));
            } else {
                expr.push_str(&format!(" else if {cond} {{ {st} }}"));
            }
        }
        expr
    }

    fn decode_group_one(&mut self, n: usize) -> Result<String> {
        let ty = self.names[&n].1.clone();
        match self.g.nodes[n].kind.clone() {
            Kind::Sequence(children) => {
                let body = self.decode_seq_fields(n)?;
                let fields: Vec<String> = children
                    .into_iter()
                    .filter(|&c| self.value_type(c).is_some())
                    .map(|c| self.field_name(c).0)
                    .collect();
                Ok(format!("{{ {body} {ty} {{ {} }} }}", fields.join(", ")))
            }
            Kind::Choice(alts) => {
                let mut s = String::from("match ev {\n");
                for a in alts {
                    if self.value_type(a).is_none() {
                        continue;
                    }
                    let pat = self.pattern(&self.g.first(a));
                    let (v, _) = self.alt_variant(a);
                    let expr = self.decode_occurs(a)?;
                    s.push_str(&format!("{pat} => {ty}::{v}({expr}),\n"));
                }
                s.push_str("_ => return Err(rt::unexpected(d, ev)),\n}");
                Ok(s)
            }
            Kind::Leaf(_) => bail!("not a group"),
        }
    }

    fn encode_seq_fields(&mut self, seq: usize, base: &str) -> Result<String> {
        let mut out = String::new();
        for c in self.children(seq) {
            if self.value_type(c).is_none() {
                continue;
            }
            let (f, _) = self.field_name(c);
            out.push_str(&self.encode_occurs(c, &format!("&{base}.{f}"))?);
        }
        Ok(out)
    }

    fn encode_leaf_value(&mut self, n: usize, v: &str, count: Option<&str>) -> String {
        let after = match count {
            None => {
                let s = self.g.after(n, 1);
                self.state(s)
            }
            Some(c) => self.count_state(n, c),
        };
        match self.leaves[&n].clone() {
            Leaf::Attr { codec, .. } | Leaf::Chars { codec } => {
                let t = self.first_variant(n);
                format!(
                    "e.event(s, P::{t})?; {{ let v = {v}; {} }} s = {after};\n",
                    codec.encode
                )
            }
            Leaf::Elem {
                members,
                group_enum,
            } => match group_enum {
                None => {
                    let t = self.first_variant(n);
                    format!(
                        "e.event(s, P::{t})?; {} s = {after};\n",
                        members[0].2.encode_content(v)
                    )
                }
                Some(en) => {
                    let mut s = format!("match {v} {{\n");
                    for (t, q, codec) in &members {
                        s.push_str(&format!(
                            "{en}::{}(x) => {{ e.event(s, P::{})?; {} }}\n",
                            variant_ident(&q.local),
                            self.g.terminals[*t].variant,
                            codec.encode_content("x")
                        ));
                    }
                    s.push_str(&format!("}}\ns = {after};\n"));
                    s
                }
            },
            Leaf::Any => String::new(),
        }
    }

    fn first_variant(&self, n: usize) -> String {
        let Kind::Leaf(t) = &self.g.nodes[n].kind else {
            return String::new();
        };
        self.g.terminals[t[0]].variant.clone()
    }

    fn encode_occurs(&mut self, n: usize, v: &str) -> Result<String> {
        let node = self.g.nodes[n].clone();
        let is_leaf = matches!(node.kind, Kind::Leaf(_));
        let (_, schema) = self.field_name(n);
        Ok(match (node.min, node.max) {
            (1, Some(1)) => {
                if is_leaf {
                    self.encode_leaf_value(n, v, None)
                } else {
                    self.encode_group_one(n, v)?
                }
            }
            (0, Some(1)) => {
                let body = if is_leaf {
                    self.encode_leaf_value(n, "x", None)
                } else {
                    self.encode_group_one(n, "x")?
                };
                format!("if let Some(x) = {v} {{\n{body}}}\n")
            }
            (min, max) => {
                let max_s = max.map_or_else(|| "usize::MAX".to_owned(), |m| m.to_string());
                let check =
                    format!("rt::check_occurs(e, ({v}).len(), {min}, {max_s}, \"{schema}\")?;\n");
                if is_leaf {
                    let body = self.encode_leaf_value(n, "x", Some("(i + 1)"));
                    format!("{check}for (i, x) in ({v}).iter().enumerate() {{\n{body}}}\n")
                } else {
                    let body = self.encode_group_one(n, "x")?;
                    format!("{check}for x in {v} {{\n{body}}}\n")
                }
            }
        })
    }

    fn encode_group_one(&mut self, n: usize, v: &str) -> Result<String> {
        let ty = self.names[&n].1.clone();
        match self.g.nodes[n].kind.clone() {
            Kind::Sequence(_) => {
                let body = self.encode_seq_fields(n, &format!("({v})"))?;
                Ok(format!("{{\n{body}}}\n"))
            }
            Kind::Choice(alts) => {
                let mut s = format!("match {v} {{\n");
                for a in alts {
                    if self.value_type(a).is_none() {
                        continue;
                    }
                    let (var, _) = self.alt_variant(a);
                    let body = self.encode_occurs(a, "y")?;
                    s.push_str(&format!("{ty}::{var}(y) => {{\n{body}}}\n"));
                }
                s.push_str("}\n");
                Ok(s)
            }
            Kind::Leaf(_) => bail!("not a group"),
        }
    }
}

impl TypeGen<'_> {
    /// Whether one occurrence of node `n` can be built (no required wildcard inside).
    fn can(&self, n: usize) -> bool {
        match &self.g.nodes[n].kind {
            Kind::Leaf(_) => match &self.leaves[&n] {
                Leaf::Attr { .. } | Leaf::Chars { .. } => true,
                Leaf::Any => false,
                Leaf::Elem { members, .. } => members.iter().any(|(_, _, c)| c.producible()),
            },
            Kind::Sequence(c) => c.iter().all(|&c| self.satisfiable(c)),
            Kind::Choice(c) => c
                .iter()
                .any(|&c| self.value_type(c).is_some() && self.can(c)),
        }
    }

    fn satisfiable(&self, n: usize) -> bool {
        self.g.nodes[n].min == 0 || self.can(n)
    }

    fn random_value(&self, n: usize) -> String {
        match &self.g.nodes[n].kind {
            Kind::Leaf(_) => match &self.leaves[&n] {
                Leaf::Attr { codec, .. } | Leaf::Chars { codec } => codec.random.clone(),
                Leaf::Elem {
                    members,
                    group_enum: None,
                } => members[0].2.random(),
                Leaf::Elem {
                    members,
                    group_enum: Some(en),
                } => {
                    let ok: Vec<_> = members.iter().filter(|(_, _, c)| c.producible()).collect();
                    let mut s = format!("match r.below({}) {{\n", ok.len());
                    for (i, (_, q, c)) in ok.iter().enumerate() {
                        let arm = if i + 1 == ok.len() {
                            "_".to_owned()
                        } else {
                            i.to_string()
                        };
                        s.push_str(&format!(
                            "{arm} => {en}::{}({}),\n",
                            variant_ident(&q.local),
                            c.random()
                        ));
                    }
                    s.push('}');
                    s
                }
                Leaf::Any => "()".into(),
            },
            Kind::Sequence(children) => {
                let ty = &self.names[&n].1;
                let fields: Vec<String> = children
                    .iter()
                    .filter(|&&c| self.value_type(c).is_some())
                    .map(|&c| format!("{}: {}", self.field_name(c).0, self.random_occurs(c)))
                    .collect();
                format!("{ty} {{ {} }}", fields.join(", "))
            }
            Kind::Choice(alts) => {
                let ty = &self.names[&n].1;
                let ok: Vec<usize> = alts
                    .iter()
                    .copied()
                    .filter(|&a| self.value_type(a).is_some() && self.satisfiable(a))
                    .collect();
                let mut s = format!("match r.below({}) {{\n", ok.len());
                for (i, &a) in ok.iter().enumerate() {
                    let arm = if i + 1 == ok.len() {
                        "_".to_owned()
                    } else {
                        i.to_string()
                    };
                    let (v, _) = self.alt_variant(a);
                    s.push_str(&format!("{arm} => {ty}::{v}({}),\n", self.random_occurs(a)));
                }
                s.push('}');
                s
            }
        }
    }

    fn random_occurs(&self, n: usize) -> String {
        let node = &self.g.nodes[n];
        let can = self.can(n);
        match (node.min, node.max) {
            (1, Some(1)) => self.random_value(n),
            (0, Some(1)) if can => format!(
                "if r.chance() {{ Some({}) }} else {{ None }}",
                self.random_value(n)
            ),
            (0, Some(1)) => "None".into(),
            (min, max) if can => {
                let max = max.map_or_else(|| "usize::MAX".to_owned(), |m| m.to_string());
                format!(
                    "(0..r.count({min}, {max})).map(|_| {}).collect()",
                    self.random_value(n)
                )
            }
            _ => "Vec::new()".into(),
        }
    }

    fn random_fn(&mut self) -> String {
        let root = self.g.root;
        let producible = self.children(root).iter().all(|&c| self.satisfiable(c));
        if !producible {
            self.gen_
                .unproducible
                .insert((self.module, self.name.clone()));
        }
        let fields: Vec<String> = self
            .children(root)
            .into_iter()
            .filter(|&c| self.value_type(c).is_some())
            .map(|c| format!("{}: {}", self.field_name(c).0, self.random_occurs(c)))
            .collect();
        let note = if producible {
            "A random valid value (property tests and fuzzing)."
        } else {
            "A random value; this type requires wildcard content we do not model, so it will not encode."
        };
        format!(
            "#[cfg(any(test, feature = \"random\"))]\nimpl {} {{\n/// {note}\npub fn random(r: &mut crate::random::Rng) -> Self {{\nlet _ = &r;\nSelf {{ {} }}\n}}\n}}\n\n",
            self.name,
            fields.join(", ")
        )
    }
}

fn grammar_mod(name: &str) -> String {
    format!("grammar_{}", snake(name).trim_start_matches("r#"))
}

fn ccs_code_width(codes: u32) -> u32 {
    if codes <= 1 {
        0
    } else {
        32 - (codes - 1).leading_zeros()
    }
}

fn module_title(name: &str) -> String {
    match name {
        "iso20_types" => "ISO 15118-20 CommonTypes (urn:iso:std:iso:15118:-20:CommonTypes), shared by the five -20 grammar sets".into(),
        other => other.into(),
    }
}
