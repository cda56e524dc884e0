//! Transform rules: the YAML rule file (`configs/transforms.yaml`), validated and compiled.
//!
//! The loader rejects unknown fields, duplicate names and invalid SMARTS with a message naming
//! the rule. A copy of the default rule file is embedded in the binary, so `xfstore` works from
//! any directory without `--rules`.

mod def;

use std::path::Path;

pub use def::{Defaults, RuleDef, RuleFile};

use crate::chem::{Pattern, Reaction};
use crate::error::RuleError;

/// The rule file shipped with xfstore, embedded at build time.
pub const DEFAULT_RULES_YAML: &str = include_str!("../../configs/transforms.yaml");

/// A rule ready to run: the definition plus its compiled reaction and site query.
pub struct Rule {
    /// The rule as written in the rule file.
    pub def: RuleDef,
    /// The compiled reaction.
    pub reaction: Reaction,
    /// The compiled site query.
    pub query: Pattern,
    /// Site cap per molecule; 0 = no cap.
    pub max_sites: u32,
    /// Hash of the rule definition (name, SMARTS, cap); a job refuses to resume if it changes.
    pub hash: u64,
}

/// All rules of a rule file, compiled.
pub struct RuleSet {
    rules: Vec<Rule>,
}

impl RuleSet {
    /// Loads the embedded default rule file.
    pub fn builtin() -> Result<Self, RuleError> {
        Self::from_yaml(DEFAULT_RULES_YAML, Path::new("<builtin configs/transforms.yaml>"))
    }

    /// Loads a rule file from disk.
    pub fn load(path: &Path) -> Result<Self, RuleError> {
        let text = std::fs::read_to_string(path).map_err(|source| RuleError::Io { path: path.into(), source })?;
        Self::from_yaml(&text, path)
    }

    /// Parses and compiles rule YAML; `origin` names the source in error messages.
    pub fn from_yaml(text: &str, origin: &Path) -> Result<Self, RuleError> {
        let file: RuleFile =
            serde_yaml_ng::from_str(text).map_err(|source| RuleError::Yaml { path: origin.into(), source })?;
        file.validate(origin)?;
        let rules = file.rules.iter().map(|d| compile(d, &file.defaults)).collect::<Result<Vec<_>, _>>()?;
        Ok(Self { rules })
    }

    /// Every rule, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Looks a rule up by name.
    pub fn get(&self, name: &str) -> Result<&Rule, RuleError> {
        self.rules.iter().find(|r| r.def.name == name).ok_or_else(|| RuleError::Unknown {
            name: name.to_owned(),
            known: self.rules.iter().map(|r| r.def.name.as_str()).collect::<Vec<_>>().join(", "),
        })
    }
}

fn compile(def: &RuleDef, defaults: &Defaults) -> Result<Rule, RuleError> {
    let invalid = |reason: String| RuleError::Invalid { rule: def.name.clone(), reason };
    let reaction = Reaction::from_smarts(&def.smirks).map_err(|e| invalid(format!("smirks: {e}")))?;
    let query = Pattern::from_smarts(&def.query_smarts).map_err(|e| invalid(format!("query_smarts: {e}")))?;
    let cap = def.max_sites_per_mol.unwrap_or(defaults.max_sites_per_mol);
    let max_sites = match cap {
        -1 => 0,
        n if n >= 1 => u32::try_from(n).map_err(|_| invalid(format!("max_sites_per_mol {n} is too large")))?,
        n => return Err(invalid(format!("max_sites_per_mol must be -1 (no cap) or >= 1, got {n}"))),
    };
    let hash = def.fingerprint(cap);
    Ok(Rule { def: def.clone(), reaction, query, max_sites, hash })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_compile() {
        let set = RuleSet::builtin().unwrap();
        assert!(set.get("FG_PHENOL_OH__OH__TO__OMe").is_ok());
        assert!(set.get("FG_CARBOXYL__COOH__TO__COOMe").is_ok());
        assert!(matches!(set.get("nope"), Err(RuleError::Unknown { .. })));
    }

    fn load(yaml: &str) -> Result<RuleSet, RuleError> {
        RuleSet::from_yaml(yaml, Path::new("test.yaml"))
    }

    const GOOD: &str = "version: 1\ndefaults: {max_sites_per_mol: -1}\nrules:\n  - name: R1\n    label: a\n    family: f\n    query_smarts: \"[c][OX2H]\"\n    smirks: \"[c:1][OX2H:2]>>[c:1][O:2]C\"\n";

    #[test]
    fn good_file_loads() {
        assert_eq!(load(GOOD).unwrap().rules().len(), 1);
    }

    #[test]
    fn unknown_field_is_rejected() {
        let err = load(&GOOD.replace("family: f", "family: f\n    colour: red")).err().unwrap();
        assert!(err.to_string().contains("colour"), "{err}");
    }

    #[test]
    fn invalid_smarts_names_the_rule() {
        let err = load(&GOOD.replace("[c:1][O:2]C\"", "[c:1][O:2\"")).err().unwrap();
        let msg = err.to_string();
        assert!(msg.contains("R1") && msg.contains("smirks"), "{msg}");
    }

    #[test]
    fn duplicate_names_and_bad_caps_are_rejected() {
        let dup = format!("{GOOD}{}", &GOOD[GOOD.find("  - name").unwrap()..]);
        assert!(load(&dup).err().unwrap().to_string().contains("duplicate"));
        let bad_cap = GOOD.replace("max_sites_per_mol: -1", "max_sites_per_mol: 0");
        assert!(load(&bad_cap).err().unwrap().to_string().contains("max_sites_per_mol"));
    }
}
