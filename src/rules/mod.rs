//! Transform rules: the YAML rule file (`configs/transforms.yaml`), validated and compiled.
//!
//! The loader rejects unknown fields, duplicate names and invalid SMARTS with a message naming
//! the rule. A copy of the default rule file is embedded in the binary, so `xfstore` works from
//! any directory without `--rules`.
//!
//! **X-templated rules.** An entry with `halogens: [F, Cl, Br, I]` and the placeholder `{X}` in
//! its name and SMIRKS is one rule per halogen (`RING_SP3__CH__TO__{X}` gives
//! `RING_SP3__CH__TO__F` ... `RING_SP3__CH__TO__I`), so a halogenation is written once and its
//! four variants cannot drift apart. Each expanded rule remembers its template and halogen
//! (reports group by them), and wherever a rule name is expected, the template name selects all
//! of its variants ([`RuleSet::resolve`]).
//!
//! **Variants.** A campaign may cap a rule's sites or mask sugar rings for one class and step:
//! [`Rule::variant`] is the same compiled rule with another cap or mask, and another hash, so a
//! job never resumes under different settings.

mod def;

use std::path::Path;
use std::sync::Arc;

pub use def::{Defaults, Expanded, RuleDef, RuleFile, HALOGENS, HALOGEN_PLACEHOLDER};

use crate::chem::{Pattern, Reaction};
use crate::error::RuleError;

/// The rule file shipped with xfstore, embedded at build time.
pub const DEFAULT_RULES_YAML: &str = include_str!("../../configs/transforms.yaml");

/// A rule ready to run: the definition plus its compiled reaction and site query. Cloning
/// shares the compiled RDKit objects.
#[derive(Clone)]
pub struct Rule {
    /// The rule as written in the rule file (an X-template filled in for one halogen).
    pub def: RuleDef,
    /// The template's name (with `{X}`) for an X-templated rule, else the rule's name.
    pub template: String,
    /// The halogen of an X-templated rule.
    pub halogen: Option<String>,
    /// The compiled reaction.
    pub reaction: Arc<Reaction>,
    /// The compiled site query.
    pub query: Arc<Pattern>,
    /// Site cap per molecule; 0 = no cap. Over the cap, the sites kept are those whose mapped
    /// atoms come first in RDKit's canonical atom ranking (see [`crate::chem::Reaction::run`]).
    pub max_sites: u32,
    /// Sites on sugar rings are not transformed (see [`crate::chem::sugar_mask`]); they are
    /// counted as masked.
    pub sugar_mask: bool,
    /// Hash of the rule definition (name, SMARTS, cap, mask); a job refuses to resume if it
    /// changes.
    pub hash: u64,
}

impl Rule {
    /// This rule with its products filtered by `keep`: another hash (a job never resumes or
    /// grows under another filter, and a changed filter is a changed rule).
    pub fn keeping(&self, keep: Option<&crate::Keep>) -> Rule {
        match keep {
            None => self.clone(),
            Some(k) => {
                let mut h = xxhash_rust::xxh3::Xxh3::new();
                h.update(&self.hash.to_le_bytes());
                h.update(b"keep\0");
                h.update(k.text().as_bytes());
                Rule { hash: h.digest(), ..self.clone() }
            }
        }
    }

    /// The rule as a job records it (name, label, family, SMIRKS, hash).
    pub fn info(&self) -> crate::store::RuleInfo {
        crate::store::RuleInfo {
            name: self.def.name.clone(),
            label: self.def.label.clone(),
            family: self.def.family.clone(),
            smirks: self.def.smirks.clone(),
            hash: self.hash,
        }
    }

    /// This rule with another site cap (`None`: keep the rule file's; -1: no cap) and sugar
    /// mask. Shares the compiled reaction.
    pub fn variant(&self, cap: Option<i64>, sugar_mask: bool) -> Result<Rule, RuleError> {
        let cap = match cap {
            Some(c) => c,
            None if self.max_sites == 0 => -1,
            None => i64::from(self.max_sites),
        };
        let max_sites = cap_of(&self.def.name, cap)?;
        Ok(Rule { max_sites, sugar_mask, hash: self.def.fingerprint(cap, sugar_mask), ..self.clone() })
    }

    /// The cap as the rule file writes it: -1 for none.
    pub fn cap(&self) -> i64 {
        if self.max_sites == 0 {
            -1
        } else {
            i64::from(self.max_sites)
        }
    }
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

    /// The rules of `file`, or the built-in rules when None: what every command with a
    /// `--rules-file` option loads.
    pub fn load_or_builtin(file: Option<&Path>) -> Result<Self, RuleError> {
        match file {
            Some(p) => Self::load(p),
            None => Self::builtin(),
        }
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
        let expanded = file.expand(origin)?;
        let rules = expanded.into_iter().map(|e| compile(e, &file.defaults)).collect::<Result<Vec<_>, _>>()?;
        Ok(Self { rules })
    }

    /// Every rule, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Looks a rule up by name.
    pub fn get(&self, name: &str) -> Result<&Rule, RuleError> {
        self.rules.iter().find(|r| r.def.name == name).ok_or_else(|| self.unknown(name))
    }

    /// A rule name, or an X-template's name (with `{X}`) standing for all of its variants.
    pub fn resolve(&self, name: &str) -> Result<Vec<&Rule>, RuleError> {
        if name.contains(HALOGEN_PLACEHOLDER) {
            let all: Vec<&Rule> = self.rules.iter().filter(|r| r.template == name).collect();
            if all.is_empty() {
                return Err(self.unknown(name));
            }
            return Ok(all);
        }
        self.get(name).map(|r| vec![r])
    }

    fn unknown(&self, name: &str) -> RuleError {
        let mut known: Vec<&str> = Vec::new();
        for r in &self.rules {
            if r.halogen.is_some() && !known.contains(&r.template.as_str()) {
                known.push(&r.template);
            }
            known.push(&r.def.name);
        }
        RuleError::Unknown { name: name.to_owned(), known: known.join(", ") }
    }
}

fn cap_of(rule: &str, cap: i64) -> Result<u32, RuleError> {
    let invalid = |reason: String| RuleError::Invalid { rule: rule.to_owned(), reason };
    match cap {
        -1 => Ok(0),
        n if n >= 1 => u32::try_from(n).map_err(|_| invalid(format!("max_sites_per_mol {n} is too large"))),
        n => Err(invalid(format!("max_sites_per_mol must be -1 (no cap) or >= 1, got {n}"))),
    }
}

fn compile(e: Expanded, defaults: &Defaults) -> Result<Rule, RuleError> {
    let Expanded { def, template, halogen } = e;
    let invalid = |reason: String| RuleError::Invalid { rule: def.name.clone(), reason };
    let reaction = Reaction::from_smarts(&def.smirks).map_err(|e| invalid(format!("smirks: {e}")))?;
    let query = Pattern::from_smarts(&def.query_smarts).map_err(|e| invalid(format!("query_smarts: {e}")))?;
    let cap = def.max_sites_per_mol.unwrap_or(defaults.max_sites_per_mol);
    let max_sites = cap_of(&def.name, cap)?;
    let hash = def.fingerprint(cap, false);
    Ok(Rule {
        def,
        template,
        halogen,
        reaction: Arc::new(reaction),
        query: Arc::new(query),
        max_sites,
        sugar_mask: false,
        hash,
    })
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

    const TEMPLATE: &str = "version: 1\nrules:\n  - name: RING_SP3__CH__TO__{X}\n    code: RSP3_{X}\n    label: \"C-H->{X}\"\n    family: halogenation\n    halogens: [I, F]\n    query_smarts: \"[C;R;H1,H2:1]\"\n    smirks: \"[C;R;H1,H2:1]>>[C;R:1]{X}\"\n";

    #[test]
    fn x_templates_expand_one_rule_per_halogen() {
        let set = load(TEMPLATE).unwrap();
        let names: Vec<&str> = set.rules().iter().map(|r| r.def.name.as_str()).collect();
        // expanded in the order F, Cl, Br, I whatever order the file lists them in
        assert_eq!(names, ["RING_SP3__CH__TO__F", "RING_SP3__CH__TO__I"]);
        let i = set.get("RING_SP3__CH__TO__I").unwrap();
        assert_eq!(i.def.smirks, "[C;R;H1,H2:1]>>[C;R:1]I");
        assert_eq!((i.def.label.as_str(), i.def.code.as_deref()), ("C-H->I", Some("RSP3_I")));
        assert_eq!((i.template.as_str(), i.halogen.as_deref()), ("RING_SP3__CH__TO__{X}", Some("I")));
        assert_eq!(set.resolve("RING_SP3__CH__TO__{X}").unwrap().len(), 2);
        assert_eq!(set.resolve("RING_SP3__CH__TO__F").unwrap().len(), 1);
        assert!(set.resolve("NOPE__{X}").is_err());
        // the built-in file's templates
        let builtin = RuleSet::builtin().unwrap();
        assert_eq!(builtin.resolve("RING_SP3__CH__TO__{X}").unwrap().len(), 4);
        assert_eq!(builtin.get("HALO_AROMATIC_CH__H__TO__Cl").unwrap().def.smirks, "[cH:1]>>[c:1]Cl");
    }

    #[test]
    fn bad_templates_are_rejected() {
        let no_x = TEMPLATE.replace("[C;R:1]{X}", "[C;R:1]Cl");
        assert!(load(&no_x).err().unwrap().to_string().contains("{X}"));
        let bad = TEMPLATE.replace("[I, F]", "[F, At]");
        assert!(load(&bad).err().unwrap().to_string().contains("At"));
        let twice = TEMPLATE.replace("[I, F]", "[F, F]");
        assert!(load(&twice).err().unwrap().to_string().contains("twice"));
        let stray = GOOD.replace("[c:1][O:2]C", "[c:1][O:2]{X}");
        assert!(load(&stray).err().unwrap().to_string().contains("halogens"));
    }

    #[test]
    fn variants_change_cap_mask_and_hash_only() {
        let set = RuleSet::builtin().unwrap();
        let r = set.get("HALO_AROMATIC_CH__H__TO__Cl").unwrap();
        let capped = r.variant(Some(12), false).unwrap();
        let masked = r.variant(None, true).unwrap();
        assert_eq!((capped.max_sites, capped.sugar_mask), (12, false));
        assert_eq!((masked.max_sites, masked.sugar_mask), (0, true));
        let hashes = [r.hash, capped.hash, masked.hash, r.variant(None, false).unwrap().hash];
        assert_eq!(hashes[3], hashes[0]);
        assert!(hashes[0] != hashes[1] && hashes[1] != hashes[2] && hashes[0] != hashes[2]);
        assert!(r.variant(Some(0), false).is_err());
    }

    #[test]
    fn duplicate_names_and_bad_caps_are_rejected() {
        let dup = format!("{GOOD}{}", &GOOD[GOOD.find("  - name").unwrap()..]);
        assert!(load(&dup).err().unwrap().to_string().contains("duplicate"));
        let bad_cap = GOOD.replace("max_sites_per_mol: -1", "max_sites_per_mol: 0");
        assert!(load(&bad_cap).err().unwrap().to_string().contains("max_sites_per_mol"));
    }
}
