//! XSD front end: reads the constructs the V2G schemas use into an owned model, and fails
//! loudly on anything else (exi-v2g.md §7: no patterns, unions, lists, groups, restrictions of
//! complex types).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

pub(crate) const XS: &str = "http://www.w3.org/2001/XMLSchema";

/// A qualified name. EXI sorts qnames by local name, then by namespace URI.
#[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub(crate) struct QName {
    pub(crate) local: String,
    pub(crate) ns: String,
}

impl QName {
    pub(crate) fn new(ns: &str, local: &str) -> Self {
        Self {
            local: local.to_owned(),
            ns: ns.to_owned(),
        }
    }
}

impl std::fmt::Display for QName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{{{}}}{}", self.ns, self.local)
    }
}

/// Where a type comes from.
#[derive(Clone, Debug)]
pub(crate) enum TypeRef {
    /// A named type (built-in types have the XML Schema namespace).
    Named(QName),
    /// An anonymous complex type, named after its element.
    AnonComplex(Box<ComplexType>),
    /// An anonymous simple type.
    AnonSimple(Box<SimpleType>),
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Facets {
    pub(crate) min_inclusive: Option<i128>,
    pub(crate) max_inclusive: Option<i128>,
    pub(crate) length: Option<u64>,
    pub(crate) min_length: Option<u64>,
    pub(crate) max_length: Option<u64>,
    pub(crate) enumeration: Vec<String>,
}

// Some fields are read only through `Debug` in error messages.
#[allow(dead_code)]
#[derive(Clone, Debug)]
pub(crate) struct SimpleType {
    pub(crate) name: Option<QName>,
    pub(crate) base: QName,
    pub(crate) facets: Facets,
}

#[derive(Clone, Debug)]
pub(crate) struct Attribute {
    pub(crate) name: QName,
    pub(crate) ty: TypeRef,
    pub(crate) required: bool,
}

#[derive(Clone, Debug)]
pub(crate) enum Content {
    Empty,
    /// Simple content (a built-in or named simple type, possibly via simpleContent extension).
    Simple(TypeRef),
    Particle(Particle),
}

// Some fields are read only through `Debug` in error messages.
#[allow(dead_code)]
#[derive(Clone, Debug)]
pub(crate) struct ComplexType {
    pub(crate) name: Option<QName>,
    pub(crate) is_abstract: bool,
    pub(crate) mixed: bool,
    /// complexContent/simpleContent extension base.
    pub(crate) base: Option<QName>,
    pub(crate) attributes: Vec<Attribute>,
    pub(crate) content: Content,
}

#[derive(Clone, Debug)]
pub(crate) struct Particle {
    pub(crate) min: u32,
    /// `None` = unbounded.
    pub(crate) max: Option<u32>,
    pub(crate) term: Term,
}

#[derive(Clone, Debug)]
pub(crate) enum Term {
    /// A local element declaration.
    Local {
        name: QName,
        ty: TypeRef,
    },
    /// A reference to a global element (substitution groups expand here).
    Ref(QName),
    Any,
    Sequence(Vec<Particle>),
    Choice(Vec<Particle>),
}

// Some fields are read only through `Debug` in error messages.
#[allow(dead_code)]
#[derive(Clone, Debug)]
pub(crate) struct GlobalElement {
    pub(crate) name: QName,
    pub(crate) ty: TypeRef,
    pub(crate) is_abstract: bool,
    pub(crate) substitution_group: Option<QName>,
}

/// Everything reachable from one entry schema (its imports included): one EXI grammar set.
#[derive(Debug, Default)]
pub(crate) struct SchemaSet {
    pub(crate) elements: BTreeMap<QName, GlobalElement>,
    pub(crate) complex_types: BTreeMap<QName, ComplexType>,
    pub(crate) simple_types: BTreeMap<QName, SimpleType>,
    /// Every element qname declared anywhere (global or local), for fragment grammars, with
    /// the types declared for it.
    pub(crate) all_element_names: BTreeMap<QName, Vec<(String, TypeRef)>>,
    loaded: BTreeSet<PathBuf>,
}

struct FileCtx {
    target_ns: String,
    element_qualified: bool,
    attribute_qualified: bool,
}

impl SchemaSet {
    pub(crate) fn load(entry: &Path) -> Result<Self> {
        let mut set = Self::default();
        set.load_file(entry)?;
        Ok(set)
    }

    fn load_file(&mut self, path: &Path) -> Result<()> {
        let path = path
            .canonicalize()
            .with_context(|| format!("schema {} not found", path.display()))?;
        if !self.loaded.insert(path.clone()) {
            return Ok(());
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let opts = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        };
        let doc = roxmltree::Document::parse_with_options(&text, opts)
            .with_context(|| format!("cannot parse {}", path.display()))?;
        let root = doc.root_element();
        let ctx = FileCtx {
            target_ns: root.attribute("targetNamespace").unwrap_or("").to_owned(),
            element_qualified: root.attribute("elementFormDefault") == Some("qualified"),
            attribute_qualified: root.attribute("attributeFormDefault") == Some("qualified"),
        };
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        for child in xs_children(root) {
            match child.tag_name().name() {
                "import" | "include" => {
                    let loc = child
                        .attribute("schemaLocation")
                        .context("import without schemaLocation")?;
                    self.load_file(&dir.join(loc))?;
                }
                "annotation" => {}
                "element" => {
                    let name = QName::new(&ctx.target_ns, req(child, "name")?);
                    let ty = self.element_type(child, &ctx, &name)?;
                    let substitution_group = match child.attribute("substitutionGroup") {
                        Some(q) => Some(resolve(child, q)?),
                        None => None,
                    };
                    self.note_element(&name, &ty);
                    self.elements.insert(
                        name.clone(),
                        GlobalElement {
                            name,
                            ty,
                            is_abstract: child.attribute("abstract") == Some("true"),
                            substitution_group,
                        },
                    );
                }
                "complexType" => {
                    let name = QName::new(&ctx.target_ns, req(child, "name")?);
                    let ct = self.complex_type(child, &ctx, Some(name.clone()))?;
                    self.complex_types.insert(name, ct);
                }
                "simpleType" => {
                    let name = QName::new(&ctx.target_ns, req(child, "name")?);
                    let st = simple_type(child, Some(name.clone()))?;
                    self.simple_types.insert(name, st);
                }
                other => bail!("{}: unsupported top-level xs:{other}", path.display()),
            }
        }
        Ok(())
    }

    fn note_element(&mut self, name: &QName, ty: &TypeRef) {
        let key = match ty {
            TypeRef::Named(q) => q.to_string(),
            TypeRef::AnonComplex(_) | TypeRef::AnonSimple(_) => format!("anonymous in {name}"),
        };
        let entry = self.all_element_names.entry(name.clone()).or_default();
        if !entry.iter().any(|(k, _)| *k == key) {
            entry.push((key, ty.clone()));
        }
    }

    fn element_type(
        &mut self,
        node: roxmltree::Node<'_, '_>,
        ctx: &FileCtx,
        name: &QName,
    ) -> Result<TypeRef> {
        if let Some(t) = node.attribute("type") {
            return Ok(TypeRef::Named(resolve(node, t)?));
        }
        for child in xs_children(node) {
            match child.tag_name().name() {
                "complexType" => {
                    let mut ct = self.complex_type(child, ctx, None)?;
                    ct.name = Some(name.clone());
                    return Ok(TypeRef::AnonComplex(Box::new(ct)));
                }
                "simpleType" => {
                    return Ok(TypeRef::AnonSimple(Box::new(simple_type(child, None)?)));
                }
                "annotation" => {}
                other => bail!("element {name}: unsupported xs:{other}"),
            }
        }
        // No type: xs:anyType. The V2G schemas never do this.
        bail!("element {name} has no type (xs:anyType is not supported)")
    }

    fn complex_type(
        &mut self,
        node: roxmltree::Node<'_, '_>,
        ctx: &FileCtx,
        name: Option<QName>,
    ) -> Result<ComplexType> {
        let mut ct = ComplexType {
            name,
            is_abstract: node.attribute("abstract") == Some("true"),
            mixed: node.attribute("mixed") == Some("true"),
            base: None,
            attributes: Vec::new(),
            content: Content::Empty,
        };
        for child in xs_children(node) {
            match child.tag_name().name() {
                "annotation" => {}
                "sequence" | "choice" => ct.content = Content::Particle(self.particle(child, ctx)?),
                "attribute" => ct.attributes.push(attribute(child, ctx)?),
                "complexContent" | "simpleContent" => {
                    let simple = child.tag_name().name() == "simpleContent";
                    if child.attribute("mixed") == Some("true") {
                        ct.mixed = true;
                    }
                    for ext in xs_children(child) {
                        match ext.tag_name().name() {
                            "annotation" => {}
                            "extension" => {
                                let base = resolve(ext, req(ext, "base")?)?;
                                if simple {
                                    ct.content = Content::Simple(TypeRef::Named(base));
                                } else {
                                    ct.base = Some(base);
                                }
                                for item in xs_children(ext) {
                                    match item.tag_name().name() {
                                        "sequence" | "choice" => {
                                            ct.content =
                                                Content::Particle(self.particle(item, ctx)?);
                                        }
                                        "attribute" => ct.attributes.push(attribute(item, ctx)?),
                                        "annotation" => {}
                                        other => bail!("unsupported xs:{other} in an extension"),
                                    }
                                }
                            }
                            other => bail!("unsupported xs:{other} (only extension is handled)"),
                        }
                    }
                }
                other => bail!("unsupported xs:{other} in a complexType"),
            }
        }
        Ok(ct)
    }

    fn particle(&mut self, node: roxmltree::Node<'_, '_>, ctx: &FileCtx) -> Result<Particle> {
        let min = match node.attribute("minOccurs") {
            Some(v) => v.parse().context("minOccurs")?,
            None => 1,
        };
        let max = match node.attribute("maxOccurs") {
            Some("unbounded") => None,
            Some(v) => Some(v.parse().context("maxOccurs")?),
            None => Some(1),
        };
        let term = match node.tag_name().name() {
            "element" => {
                if let Some(r) = node.attribute("ref") {
                    Term::Ref(resolve(node, r)?)
                } else {
                    let local = req(node, "name")?;
                    let ns = if ctx.element_qualified || node.attribute("form") == Some("qualified")
                    {
                        ctx.target_ns.as_str()
                    } else {
                        ""
                    };
                    let name = QName::new(ns, local);
                    let ty = self.element_type(node, ctx, &name)?;
                    self.note_element(&name, &ty);
                    Term::Local { name, ty }
                }
            }
            "any" => Term::Any,
            "sequence" | "choice" => {
                let mut items = Vec::new();
                for child in xs_children(node) {
                    match child.tag_name().name() {
                        "annotation" => {}
                        "element" | "any" | "sequence" | "choice" => {
                            items.push(self.particle(child, ctx)?);
                        }
                        other => bail!("unsupported xs:{other} in a model group"),
                    }
                }
                if node.tag_name().name() == "sequence" {
                    Term::Sequence(items)
                } else {
                    Term::Choice(items)
                }
            }
            other => bail!("unsupported particle xs:{other}"),
        };
        Ok(Particle { min, max, term })
    }
}

fn attribute(node: roxmltree::Node<'_, '_>, ctx: &FileCtx) -> Result<Attribute> {
    if node.attribute("ref").is_some() {
        bail!("attribute references are not supported");
    }
    let local = req(node, "name")?;
    let ns = if ctx.attribute_qualified || node.attribute("form") == Some("qualified") {
        ctx.target_ns.as_str()
    } else {
        ""
    };
    let ty = if let Some(t) = node.attribute("type") {
        TypeRef::Named(resolve(node, t)?)
    } else {
        let st = xs_children(node)
            .find(|c| c.tag_name().name() == "simpleType")
            .context("attribute without type")?;
        TypeRef::AnonSimple(Box::new(simple_type(st, None)?))
    };
    Ok(Attribute {
        name: QName::new(ns, local),
        ty,
        required: node.attribute("use") == Some("required"),
    })
}

fn simple_type(node: roxmltree::Node<'_, '_>, name: Option<QName>) -> Result<SimpleType> {
    let mut restriction = None;
    for child in xs_children(node) {
        match child.tag_name().name() {
            "annotation" => {}
            "restriction" => restriction = Some(child),
            other => bail!("simpleType {name:?}: unsupported xs:{other} (lists and unions)"),
        }
    }
    let r = restriction.context("simpleType without restriction")?;
    let base = resolve(r, req(r, "base")?)?;
    let mut facets = Facets::default();
    for f in xs_children(r) {
        let value = f.attribute("value").unwrap_or("");
        let int = || -> Result<i128> { value.parse().with_context(|| format!("facet {value}")) };
        let len = || -> Result<u64> { value.parse().with_context(|| format!("facet {value}")) };
        match f.tag_name().name() {
            "annotation" => {}
            "enumeration" => facets.enumeration.push(value.to_owned()),
            "minInclusive" => facets.min_inclusive = Some(int()?),
            "maxInclusive" => facets.max_inclusive = Some(int()?),
            "minExclusive" => facets.min_inclusive = Some(int()? + 1),
            "maxExclusive" => facets.max_inclusive = Some(int()? - 1),
            "length" => facets.length = Some(len()?),
            "minLength" => facets.min_length = Some(len()?),
            "maxLength" => facets.max_length = Some(len()?),
            other => bail!("simpleType {name:?}: unsupported facet xs:{other}"),
        }
    }
    Ok(SimpleType { name, base, facets })
}

fn xs_children<'a, 'input>(
    node: roxmltree::Node<'a, 'input>,
) -> impl Iterator<Item = roxmltree::Node<'a, 'input>> {
    node.children()
        .filter(|c| c.is_element() && c.tag_name().namespace() == Some(XS))
}

fn req<'a>(node: roxmltree::Node<'a, '_>, attr: &str) -> Result<&'a str> {
    node.attribute(attr)
        .with_context(|| format!("<{}> without {attr}", node.tag_name().name()))
}

/// Resolves a `prefix:local` reference with the namespaces in scope at `node`.
fn resolve(node: roxmltree::Node<'_, '_>, qname: &str) -> Result<QName> {
    let (prefix, local) = match qname.split_once(':') {
        Some((p, l)) => (Some(p), l),
        None => (None, qname),
    };
    let ns = node.lookup_namespace_uri(prefix).unwrap_or("");
    if prefix.is_some() && ns.is_empty() {
        bail!("unknown namespace prefix in {qname}");
    }
    Ok(QName::new(ns, local))
}
