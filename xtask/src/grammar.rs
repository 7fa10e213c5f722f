//! Grammar derivation: EXI 1.0 §8.5.4 schema-informed element grammars with the non-strict
//! augmentation (exi-v2g.md §1.4).
//!
//! Each complex type becomes a tree of particles (attributes first, sorted by qname, then the
//! content model). The first-level productions of a state are the terminals that may come
//! next, sorted as EXI 1.0 §8.5.4.3 requires: AT(qname) by qname, SE(qname) in schema order,
//! SE(*), EE, then CH. The non-strict escape slot (second-level events) is counted by the
//! runtime when it computes the event-code width (`productions + 1`).
//!
//! A state is identified by "what was consumed last and how often": for an element particle
//! with `maxOccurs` > 1 the state depends only on whether the count is below `minOccurs`,
//! between the bounds, or at `maxOccurs`, so `maxOccurs="2048"` costs three states, not 2048.
//! Model groups (sequence, choice) may repeat only once or without bound, which keeps their
//! loop-back static; anything else fails loudly.

use anyhow::{Result, bail};

use crate::xsd::QName;

/// Sort category of a terminal (EXI 1.0 §8.5.4.3).
#[derive(Clone, Copy, Debug, Eq, Ord, PartialEq, PartialOrd)]
pub(crate) enum Category {
    Attribute,
    Element,
    Wildcard,
    EndElement,
    UntypedChars,
    TypedChars,
}

/// One first-level production target of the type's grammar.
#[derive(Clone, Debug)]
pub(crate) struct Terminal {
    pub(crate) category: Category,
    /// Rust variant name in the generated production enum.
    pub(crate) variant: String,
    /// Human label, e.g. `SE(SessionID)`.
    pub(crate) label: String,
}

#[derive(Clone, Debug)]
pub(crate) enum Kind {
    /// Leaf with its terminals (several for a substitution group, sorted by qname).
    Leaf(Vec<usize>),
    Sequence(Vec<usize>),
    Choice(Vec<usize>),
}

#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub(crate) min: u32,
    pub(crate) max: Option<u32>,
    pub(crate) kind: Kind,
    pub(crate) parent: Option<usize>,
}

/// The particle tree of one type and its terminals.
#[derive(Clone, Debug, Default)]
pub(crate) struct Grammar {
    pub(crate) nodes: Vec<Node>,
    pub(crate) terminals: Vec<Terminal>,
    pub(crate) root: usize,
    pub(crate) end: usize,
    pub(crate) mixed_chars: Option<usize>,
}

impl Grammar {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn terminal(&mut self, category: Category, variant: String, label: String) -> usize {
        let mut variant = variant;
        let base = variant.clone();
        let mut n = 2;
        while self.terminals.iter().any(|t| t.variant == variant) {
            variant = format!("{base}{n}");
            n += 1;
        }
        self.terminals.push(Terminal {
            category,
            variant,
            label,
        });
        self.terminals.len() - 1
    }

    pub(crate) fn node(&mut self, min: u32, max: Option<u32>, kind: Kind) -> Result<usize> {
        if let Kind::Sequence(_) | Kind::Choice(_) = kind
            && (min > 1 || !matches!(max, Some(1) | None))
        {
            bail!("a model group with occurrences {min}..{max:?} is not supported");
        }
        let id = self.nodes.len();
        if let Kind::Sequence(children) | Kind::Choice(children) = &kind {
            for &c in children {
                self.nodes[c].parent = Some(id);
            }
        }
        self.nodes.push(Node {
            min,
            max,
            kind,
            parent: None,
        });
        Ok(id)
    }

    /// Finishes the tree: the root sequence, EE and (for mixed content) untyped CH.
    pub(crate) fn finish(&mut self, items: Vec<usize>, mixed: bool) -> Result<()> {
        self.root = self.node(1, Some(1), Kind::Sequence(items))?;
        self.end = self.terminal(Category::EndElement, "EE".into(), "EE".into());
        if mixed {
            self.mixed_chars = Some(self.terminal(
                Category::UntypedChars,
                "MixedChars".into(),
                "CH (untyped, mixed content)".into(),
            ));
        }
        Ok(())
    }

    pub(crate) fn nullable(&self, n: usize) -> bool {
        let node = &self.nodes[n];
        node.min == 0
            || match &node.kind {
                Kind::Leaf(_) => false,
                Kind::Sequence(c) => c.iter().all(|&c| self.nullable(c)),
                Kind::Choice(c) => c.iter().any(|&c| self.nullable(c)),
            }
    }

    pub(crate) fn first(&self, n: usize) -> Vec<usize> {
        match &self.nodes[n].kind {
            Kind::Leaf(t) => t.clone(),
            Kind::Sequence(children) => {
                let mut out = Vec::new();
                for &c in children {
                    out.extend(self.first(c));
                    if !self.nullable(c) {
                        break;
                    }
                }
                out
            }
            Kind::Choice(children) => children.iter().flat_map(|&c| self.first(c)).collect(),
        }
    }

    /// What may follow once node `n` is complete (its own repetition excluded).
    fn rest(&self, n: usize) -> Vec<usize> {
        let Some(p) = self.nodes[n].parent else {
            return vec![self.end];
        };
        let mut out = Vec::new();
        if let Kind::Sequence(children) = &self.nodes[p].kind {
            let index = children
                .iter()
                .position(|&c| c == n)
                .unwrap_or(children.len());
            for &s in &children[index + 1..] {
                out.extend(self.first(s));
                if !self.nullable(s) {
                    return out;
                }
            }
        }
        if self.nodes[p].max != Some(1) {
            out.extend(self.first(p));
        }
        out.extend(self.rest(p));
        out
    }

    /// The first state of the type grammar.
    pub(crate) fn initial(&self) -> Vec<usize> {
        let mut out = self.first(self.root);
        if self.nullable(self.root) {
            out.push(self.end);
        }
        self.sorted(out)
    }

    /// The state after the `count`-th occurrence of leaf `n`.
    pub(crate) fn after(&self, n: usize, count: u32) -> Vec<usize> {
        let node = &self.nodes[n];
        let mut out = Vec::new();
        if node.max.is_none_or(|m| count < m) {
            out.extend(self.first(n));
        }
        if count >= node.min {
            out.extend(self.rest(n));
        }
        self.sorted(out)
    }

    fn sorted(&self, mut out: Vec<usize>) -> Vec<usize> {
        // Mixed content adds untyped CH to the content states only (EXI 1.0 §8.5.4.1.3.2);
        // an attribute state gets it only through the content productions it shares.
        let in_content = out
            .iter()
            .any(|&t| self.terminals[t].category != Category::Attribute);
        if let Some(ch) = self.mixed_chars
            && in_content
        {
            out.push(ch);
        }
        out.sort_by_key(|&t| (self.terminals[t].category, t));
        out.dedup();
        out
    }

    /// Names a production list for comments: `[SE(A), SE(B), EE]`.
    pub(crate) fn describe(&self, state: &[usize]) -> String {
        let labels: Vec<&str> = state
            .iter()
            .map(|&t| self.terminals[t].label.as_str())
            .collect();
        format!("[{}]", labels.join(", "))
    }
}

/// EXI order of qnames: local name, then namespace URI.
pub(crate) fn exi_order(a: &QName, b: &QName) -> std::cmp::Ordering {
    (a.local.as_str(), a.ns.as_str()).cmp(&(b.local.as_str(), b.ns.as_str()))
}
