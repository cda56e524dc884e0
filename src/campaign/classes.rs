//! The class configuration of halogenation steps: per compound class and per level (`k1`,
//! `k2`, ...) the rules that apply, a site cap per rule, the sugar mask, and classes or levels
//! switched off (schema: `schemas/classes.schema.json`, the replaced pipeline's configuration:
//! `configs/halogenation.yaml`).
//!
//! A campaign names it (`classes_file`, relative to the campaign file, or `classes` inline) and
//! a step selects a level with `rules: {by_class: k1}`: each of the step's streams then gets the
//! rules of its own class at that level. A rule entry is a rule name or an X-template name
//! (`RING_SP3__CH__TO__{X}`: all its halogens), optionally with a cap: `{rule: NAME, cap: 12}`.
//! The cap and the mask make a rule variant with its own hash ([`crate::Rule::variant`]), so a
//! job never resumes under other settings.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::CampaignError;
use crate::rules::RuleSet;

/// A class configuration: one entry per class.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClassTable {
    /// Per class, its levels, or `off`.
    pub classes: BTreeMap<String, ClassEntry>,
}

/// The keyword switching a class or a level off.
pub const OFF: &str = "off";

/// One class: `off`, or its levels.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum ClassEntry {
    /// `off`: no halogenation step makes anything of this class.
    Off(String),
    /// Its settings.
    On(ClassDef),
}

/// The settings of one class.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClassDef {
    /// Mask sugar rings at every level of this class (a level may say otherwise).
    #[serde(default)]
    pub sugar_mask: bool,
    /// Per level (`k1`, `k2`, ...), the rules, or `off`.
    pub levels: BTreeMap<String, LevelEntry>,
}

/// One level of one class: `off`, or its rules.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum LevelEntry {
    /// `off`.
    Off(String),
    /// Its rules.
    On(LevelDef),
}

/// The rules of one class at one level.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LevelDef {
    /// Overrides the class's `sugar_mask`.
    #[serde(default)]
    pub sugar_mask: Option<bool>,
    /// Rule names or X-template names, each optionally capped.
    pub rules: Vec<RuleEntry>,
}

/// A rule of a level: a name, or a name with a cap on sites per parent.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum RuleEntry {
    /// A rule or X-template name, uncapped (the rule file's cap).
    Name(String),
    /// A rule or X-template name with a cap.
    Capped(CappedRule),
}

/// A rule with a cap.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CappedRule {
    /// Rule or X-template name.
    pub rule: String,
    /// Most sites transformed per parent (-1: no cap); over it, the sites first in canonical
    /// atom rank are kept.
    pub cap: i64,
}

impl RuleEntry {
    fn parts(&self) -> (&str, Option<i64>) {
        match self {
            RuleEntry::Name(n) => (n, None),
            RuleEntry::Capped(c) => (&c.rule, Some(c.cap)),
        }
    }
}

/// One rule of a stream with its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleUse {
    /// The rule's name (an X-template expanded).
    pub rule: String,
    /// Site cap replacing the rule file's, if any.
    pub cap: Option<i64>,
    /// Mask sugar rings.
    pub sugar_mask: bool,
}

/// What a class table says for one class at one level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LevelRules {
    /// The class, or this level of it, is switched off.
    Off,
    /// These rules, in entry order (a template's halogens in F, Cl, Br, I order).
    Rules(Vec<RuleUse>),
}

impl ClassTable {
    /// Reads a class file.
    pub fn load(path: &Path) -> Result<Self, CampaignError> {
        let text = std::fs::read_to_string(path).map_err(|source| CampaignError::Io { path: path.into(), source })?;
        serde_yaml_ng::from_str(&text).map_err(|source| CampaignError::Yaml { path: path.into(), source })
    }

    /// Every problem of the table against `rules` (unknown rules, bad caps, misspelt `off`,
    /// a rule twice in one level), one line each.
    pub fn problems(&self, rules: &RuleSet) -> Vec<String> {
        let mut out = Vec::new();
        for (class, entry) in &self.classes {
            match entry {
                ClassEntry::Off(k) if k != OFF => {
                    out.push(format!("class {class}: {k:?} is neither `{OFF}` nor settings"))
                }
                ClassEntry::Off(_) => {}
                ClassEntry::On(def) => {
                    for (level, l) in &def.levels {
                        match l {
                            LevelEntry::Off(k) if k != OFF => {
                                out.push(format!("class {class} level {level}: {k:?} is neither `{OFF}` nor rules"))
                            }
                            LevelEntry::Off(_) => {}
                            LevelEntry::On(l) => {
                                let mut seen = Vec::new();
                                for e in &l.rules {
                                    let (name, cap) = e.parts();
                                    match rules.resolve(name) {
                                        Ok(rs) => {
                                            for r in rs {
                                                if seen.contains(&r.def.name) {
                                                    out.push(format!(
                                                        "class {class} level {level}: rule {} is listed twice",
                                                        r.def.name
                                                    ));
                                                }
                                                seen.push(r.def.name.clone());
                                            }
                                        }
                                        Err(_) => {
                                            out.push(format!("class {class} level {level}: unknown rule {name:?}"))
                                        }
                                    }
                                    if let Some(c) = cap {
                                        if c != -1 && c < 1 {
                                            out.push(format!(
                                                "class {class} level {level}: rule {name}: cap must be -1 (none) or >= 1, got {c}"
                                            ));
                                        }
                                    }
                                }
                                if l.rules.is_empty() {
                                    out.push(format!("class {class} level {level}: no rules (write `{OFF}` instead)"));
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// The rules of `class` at `level`, or why there are none (`Err`: the class or level is not
    /// in the table). Call [`ClassTable::problems`] first: unknown rules are skipped here.
    pub fn level(&self, class: &str, level: &str, rules: &RuleSet) -> Result<LevelRules, String> {
        let def = match self.classes.get(class) {
            None => return Err(format!("class {class} has no entry in the class configuration (add it, or `{OFF}`)")),
            Some(ClassEntry::Off(_)) => return Ok(LevelRules::Off),
            Some(ClassEntry::On(def)) => def,
        };
        let l = match def.levels.get(level) {
            None => {
                return Err(format!(
                    "class {class} has no level {level:?} in the class configuration (add it, or `{OFF}`)"
                ))
            }
            Some(LevelEntry::Off(_)) => return Ok(LevelRules::Off),
            Some(LevelEntry::On(l)) => l,
        };
        let sugar_mask = l.sugar_mask.unwrap_or(def.sugar_mask);
        let mut out = Vec::new();
        for e in &l.rules {
            let (name, cap) = e.parts();
            for r in rules.resolve(name).unwrap_or_default() {
                out.push(RuleUse { rule: r.def.name.clone(), cap, sugar_mask });
            }
        }
        Ok(LevelRules::Rules(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(yaml: &str) -> ClassTable {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    const YAML: &str = r#"classes:
  polyphenol:
    sugar_mask: true
    levels:
      k1:
        rules:
          - {rule: "HALO_AROMATIC_CH__H__TO__{X}", cap: 12}
          - RING_SP3__CH__TO__Cl
      k2: off
  polysaccharide: off
"#;

    #[test]
    fn levels_expand_templates_with_caps_and_masks() {
        let rules = RuleSet::builtin().unwrap();
        let t = table(YAML);
        assert!(t.problems(&rules).is_empty(), "{:?}", t.problems(&rules));
        let LevelRules::Rules(k1) = t.level("polyphenol", "k1", &rules).unwrap() else { panic!() };
        let names: Vec<&str> = k1.iter().map(|u| u.rule.as_str()).collect();
        assert_eq!(
            names,
            [
                "HALO_AROMATIC_CH__H__TO__F",
                "HALO_AROMATIC_CH__H__TO__Cl",
                "HALO_AROMATIC_CH__H__TO__Br",
                "HALO_AROMATIC_CH__H__TO__I",
                "RING_SP3__CH__TO__Cl"
            ]
        );
        assert_eq!((k1[0].cap, k1[0].sugar_mask), (Some(12), true));
        assert_eq!((k1[4].cap, k1[4].sugar_mask), (None, true));
        assert_eq!(t.level("polyphenol", "k2", &rules).unwrap(), LevelRules::Off);
        assert_eq!(t.level("polysaccharide", "k1", &rules).unwrap(), LevelRules::Off);
        assert!(t.level("lipid", "k1", &rules).unwrap_err().contains("no entry"));
        assert!(t.level("polyphenol", "k3", &rules).unwrap_err().contains("no level"));
    }

    #[test]
    fn problems_are_listed() {
        let rules = RuleSet::builtin().unwrap();
        let bad = YAML
            .replace("cap: 12", "cap: 0")
            .replace("RING_SP3__CH__TO__Cl", "RING_SP3__CH__TO__At")
            .replace("k2: off", "k2: of");
        let p = table(&bad).problems(&rules);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p.iter().any(|l| l.contains("cap must be")));
        assert!(p.iter().any(|l| l.contains("unknown rule \"RING_SP3__CH__TO__At\"")));
        assert!(p.iter().any(|l| l.contains("\"of\"")));
        let twice = YAML.replace("RING_SP3__CH__TO__Cl", "HALO_AROMATIC_CH__H__TO__Br");
        assert!(table(&twice).problems(&rules)[0].contains("listed twice"));
    }

    /// The shipped class configuration is valid against the built-in rules and has every class.
    #[test]
    fn shipped_configuration_is_valid() {
        let rules = RuleSet::builtin().unwrap();
        let t = table(include_str!("../../configs/halogenation.yaml"));
        assert!(t.problems(&rules).is_empty(), "{:?}", t.problems(&rules));
        for class in crate::campaign::plan::KNOWN_CLASSES {
            assert!(t.classes.contains_key(class), "{class} missing");
            for level in ["k1", "k2"] {
                t.level(class, level, &rules).unwrap();
            }
        }
    }
}
