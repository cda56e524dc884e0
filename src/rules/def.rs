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
}

impl RuleFile {
    /// Structural checks that do not need RDKit.
    pub(crate) fn validate(&self, origin: &Path) -> Result<(), RuleError> {
        if self.version != 1 {
            return Err(RuleError::Format {
                path: origin.into(),
                reason: format!("unsupported rule file version {} (expected 1)", self.version),
            });
        }
        let mut seen = HashSet::new();
        for r in &self.rules {
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
        Ok(())
    }
}

impl RuleDef {
    /// Stable hash of everything that changes the products of this rule.
    pub(crate) fn fingerprint(&self, effective_cap: i64) -> u64 {
        let text = format!("{}\u{1f}{}\u{1f}{}", self.name, self.smirks, effective_cap);
        xxhash_rust::xxh3::xxh3_64(text.as_bytes())
    }
}
