//! The serde model of a campaign file (schema: `schemas/campaign.schema.json`, example:
//! `configs/campaign.example.yaml`). Unknown fields are refused, so a typo is an error, not a
//! silently ignored setting.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use super::classes::ClassEntry;
use crate::input::InputFormat;

/// A whole campaign file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignFile {
    /// Rule file, relative to the campaign file (default: the built-in rules).
    #[serde(default)]
    pub rules_file: Option<PathBuf>,
    /// Class configuration file for `rules: {by_class: LEVEL}` steps, relative to the campaign
    /// file (see `configs/halogenation.yaml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes_file: Option<PathBuf>,
    /// The class configuration written inline instead (the `classes` map of a class file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<BTreeMap<String, ClassEntry>>,
    /// Settings for every job of the campaign.
    #[serde(default)]
    pub options: CampaignOptions,
    /// The molecules the campaign starts from.
    pub inputs: Vec<InputDef>,
    /// The steps, each applying rules to inputs or to earlier steps' products.
    pub steps: Vec<StepDef>,
}

/// Settings for every job of a campaign (the CLI can override them).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignOptions {
    /// Skip product properties.
    #[serde(default)]
    pub no_props: bool,
    /// Size guard (see `ingest --max-heavy-atoms`).
    #[serde(default)]
    pub max_heavy_atoms: Option<u32>,
}

/// One input of a campaign.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InputDef {
    /// Name used by steps' `from` and in job names (letters, digits, `_`, `-`).
    pub name: String,
    /// File, folder or glob, relative to the campaign file.
    pub path: String,
    /// Compound class, carried down to every step made from this input (`rules: in_scope`).
    pub class: String,
    /// Format, when not the one the path implies.
    #[serde(default)]
    pub format: Option<InputFormat>,
    /// SMILES column (Parquet, CSV, TSV).
    #[serde(default)]
    pub smiles_column: Option<String>,
    /// Id column (an SD data field for SDF).
    #[serde(default)]
    pub id_column: Option<String>,
    /// Columns carried into every product's provenance, down the whole chain of steps.
    #[serde(default)]
    pub carry: Vec<String>,
}

/// One step of a campaign.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StepDef {
    /// Name used by later steps' `from` and in job names.
    pub name: String,
    /// Inputs or earlier steps whose molecules this step transforms; each is read separately
    /// (a step is the deduplicated union of its jobs' products, per original input).
    pub from: Vec<String>,
    /// Rule names (or X-template names), or `in_scope` (every rule whose `scope_classes` holds
    /// the class), or a list mixing both; or `{by_class: LEVEL}`: each stream's class's rules at
    /// that level of the class configuration.
    pub rules: RuleSelection,
    /// Keep only the products whose properties satisfy this predicate ([`crate::Keep`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep: Option<String>,
}

/// Which rules a step applies.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum RuleSelection {
    /// `in_scope` (the only keyword).
    Keyword(String),
    /// Rule names, where `in_scope` may also appear.
    List(Vec<String>),
    /// A level of the class configuration.
    ByClass(ByClass),
}

/// `{by_class: LEVEL}`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ByClass {
    /// The level (`k1`, `k2`, ...).
    pub by_class: String,
}

/// The keyword selecting every rule in scope for the class.
pub const IN_SCOPE: &str = "in_scope";

impl RuleSelection {
    /// The entries as a list (none for `by_class`).
    pub fn entries(&self) -> Vec<&str> {
        match self {
            RuleSelection::Keyword(k) => vec![k.as_str()],
            RuleSelection::List(v) => v.iter().map(String::as_str).collect(),
            RuleSelection::ByClass(_) => vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(v: &serde_json::Value) -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    }

    /// `schemas/campaign.schema.json` names exactly the fields of the serde model, and the
    /// example campaign parses.
    #[test]
    fn schema_file_is_current() {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../schemas/campaign.schema.json")).unwrap();
        let file = CampaignFile {
            rules_file: Some("r.yaml".into()),
            classes_file: Some("c.yaml".into()),
            classes: Some(BTreeMap::new()),
            options: CampaignOptions { no_props: true, max_heavy_atoms: Some(9) },
            inputs: vec![InputDef {
                name: "a".into(),
                path: "a.smi".into(),
                class: "other".into(),
                format: Some(InputFormat::Smiles),
                smiles_column: Some("s".into()),
                id_column: Some("i".into()),
                carry: vec!["c".into()],
            }],
            steps: vec![StepDef {
                name: "s".into(),
                from: vec!["a".into()],
                rules: RuleSelection::List(vec![]),
                keep: Some("MW <= 600".into()),
            }],
        };
        let v = serde_json::to_value(&file).unwrap();
        let p = &schema["properties"];
        assert_eq!(keys(p), keys(&v));
        assert_eq!(keys(&p["options"]["properties"]), keys(&v["options"]));
        assert_eq!(keys(&p["inputs"]["items"]["properties"]), keys(&v["inputs"][0]));
        assert_eq!(keys(&p["steps"]["items"]["properties"]), keys(&v["steps"][0]));
        let by_class = serde_json::to_value(RuleSelection::ByClass(ByClass { by_class: "k1".into() })).unwrap();
        let rule_forms = p["steps"]["items"]["properties"]["rules"]["oneOf"].as_array().unwrap();
        assert_eq!(keys(&rule_forms[2]["properties"]), keys(&by_class));
        // the class file's schema names the class table's fields
        let classes: serde_json::Value =
            serde_json::from_str(include_str!("../../schemas/classes.schema.json")).unwrap();
        assert_eq!(keys(&classes["properties"]), ["classes"]);
        let defs = &classes["$defs"];
        assert_eq!(keys(&defs["class"]["properties"]), ["levels", "sugar_mask"]);
        assert_eq!(keys(&defs["level"]["properties"]), ["rules", "sugar_mask"]);
        assert_eq!(keys(&defs["capped"]["properties"]), ["cap", "rule"]);
        assert_eq!(p["classes"]["$ref"], "classes.schema.json#/properties/classes");
        let formats: Vec<&str> = p["inputs"]["items"]["properties"]["format"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        assert_eq!(formats, InputFormat::ALL.map(|(n, _)| n));
        let example: CampaignFile =
            serde_yaml_ng::from_str(include_str!("../../configs/campaign.example.yaml")).unwrap();
        assert_eq!(example.steps.len(), 3);
        assert_eq!(example.steps[2].rules, RuleSelection::Keyword(IN_SCOPE.into()));
    }
}
