//! The serde model of the rule file (see `schemas/transforms.schema.json`).

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::RuleError;

/// Whole rule file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    pub version: u32,
    #[serde(default)]
    pub defaults: Defaults,
    pub rules: Vec<RuleDef>,
}

/// File-wide defaults.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Maximum matched sites transformed per molecule; -1 = no cap.
    pub max_sites_per_mol: i64,
}

impl Default for Defaults {
    fn default() -> Self {
        Self { max_sites_per_mol: -1 }
    }
}

/// One transform rule.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    /// Unique name, e.g. `FG_PHENOL_OH__OH__TO__OMe`.
    pub name: String,
    #[serde(default)]
    /// Short code of the replaced pipeline, if any.
    pub code: Option<String>,
    /// Human label, e.g. `OH->OMe`.
    pub label: String,
    /// Rule family, e.g. `phenol_mod`.
    pub family: String,
    #[serde(default)]
    /// Compound classes the rule applies to.
    pub scope_classes: Vec<String>,
    /// SMARTS of the site the rule transforms.
    pub query_smarts: String,
    /// Reaction SMARTS: one reactant template, one product template.
    pub smirks: String,
    #[serde(default)]
    /// Atom-map numbers of the site atoms (for display).
    pub highlight_mapnums: Vec<u32>,
    #[serde(default)]
    /// Most sites transformed per molecule (-1: no cap; default from the file's defaults).
    pub max_sites_per_mol: Option<i64>,
    /// Halogens this entry is a template for: `{X}` in `name`, `code`, `label`, `query_smarts`
    /// and `smirks` stands for each of them, one rule per halogen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub halogens: Vec<String>,
}

/// The placeholder of an X-templated rule.
pub const HALOGEN_PLACEHOLDER: &str = "{X}";

/// The halogens a template may name, in the order they are expanded.
pub const HALOGENS: [&str; 4] = ["F", "Cl", "Br", "I"];

/// A rule of the file after template expansion: its definition (placeholders filled in), the
/// template it came from and its halogen.
#[derive(Debug, Clone, PartialEq)]
pub struct Expanded {
    /// The rule as if written out by hand.
    pub def: RuleDef,
    /// The entry's name with the placeholder (`RING_SP3__CH__TO__{X}`); the rule's own name
    /// when it is not templated.
    pub template: String,
    /// The halogen filled in, for templated rules.
    pub halogen: Option<String>,
}

impl RuleFile {
    /// Expands X-templated entries (one rule per halogen, in [`HALOGENS`] order) and checks
    /// what does not need RDKit: version, names, placeholders, duplicates after expansion.
    pub(crate) fn expand(&self, origin: &Path) -> Result<Vec<Expanded>, RuleError> {
        if self.version != 1 {
            return Err(RuleError::Format {
                path: origin.into(),
                reason: format!("unsupported rule file version {} (expected 1)", self.version),
            });
        }
        let mut out = Vec::with_capacity(self.rules.len());
        for r in &self.rules {
            let invalid = |reason: String| RuleError::Invalid { rule: r.name.clone(), reason };
            let texts = [Some(&r.name), r.code.as_ref(), Some(&r.label), Some(&r.query_smarts), Some(&r.smirks)];
            let has_placeholder = texts.iter().flatten().any(|t| t.contains(HALOGEN_PLACEHOLDER));
            if r.halogens.is_empty() {
                if has_placeholder {
                    return Err(invalid(format!("{HALOGEN_PLACEHOLDER} is used but `halogens` is empty")));
                }
                out.push(Expanded { def: r.clone(), template: r.name.clone(), halogen: None });
                continue;
            }
            for field in [&r.name, &r.smirks] {
                if !field.contains(HALOGEN_PLACEHOLDER) {
                    return Err(invalid(format!(
                        "a rule with `halogens` needs {HALOGEN_PLACEHOLDER} in its name and smirks"
                    )));
                }
            }
            let mut seen_x = HashSet::new();
            for x in &r.halogens {
                if !HALOGENS.contains(&x.as_str()) {
                    return Err(invalid(format!("unknown halogen {x:?}; known: {}", HALOGENS.join(", "))));
                }
                if !seen_x.insert(x.as_str()) {
                    return Err(invalid(format!("halogen {x} is listed twice")));
                }
            }
            for x in HALOGENS.iter().filter(|x| seen_x.contains(**x)) {
                let fill = |t: &str| t.replace(HALOGEN_PLACEHOLDER, x);
                let def = RuleDef {
                    name: fill(&r.name),
                    code: r.code.as_deref().map(fill),
                    label: fill(&r.label),
                    query_smarts: fill(&r.query_smarts),
                    smirks: fill(&r.smirks),
                    halogens: vec![],
                    ..r.clone()
                };
                out.push(Expanded { def, template: r.name.clone(), halogen: Some((*x).to_owned()) });
            }
        }
        let mut seen = HashSet::new();
        for Expanded { def: r, .. } in &out {
            if r.name.is_empty() || !r.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                return Err(RuleError::Invalid {
                    rule: r.name.clone(),
                    reason: "name must be non-empty ASCII letters, digits, '_' or '-'".into(),
                });
            }
            if !seen.insert(r.name.as_str()) {
                return Err(RuleError::Invalid { rule: r.name.clone(), reason: "duplicate rule name".into() });
            }
        }
        Ok(out)
    }
}

impl RuleDef {
    /// Stable hash of everything that changes the products of this rule: name, reaction,
    /// site cap and sugar mask. The text hashed for an uncapped, unmasked rule is the same as
    /// before caps were ordered and masks existed, so such jobs resume across the change; a
    /// capped rule hashes its (new) canonical-rank cap order, so a job capped in RDKit's match
    /// order refuses to resume.
    pub(crate) fn fingerprint(&self, effective_cap: i64, sugar_mask: bool) -> u64 {
        let mut text = format!("{}\u{1f}{}\u{1f}{}", self.name, self.smirks, effective_cap);
        if effective_cap > 0 {
            text.push_str("\u{1f}cap-order=canonical-rank");
        }
        if sugar_mask {
            text.push_str("\u{1f}sugar-mask=1");
        }
        xxhash_rust::xxh3::xxh3_64(text.as_bytes())
    }
}
