//! `xfstore report`: what a campaign made, per class x step x rule x halogen, from the job
//! counters the store keeps exactly (committed with the products). X-templated rules report
//! under their template with the halogen in its own column, so the rule x halogen matrix of
//! each class reads off directly; other rules have no halogen.
//!
//! `unique` is the sum of the jobs' distinct products: exact per job; two streams of one class
//! (two inputs of the same class) that make the same product count it once each.

use super::plan::Campaign;
use crate::error::Result;
use crate::reader::Reader;
use crate::rules::RuleSet;
use crate::store::JobState;

/// One line of the report: the jobs of one rule (template + halogen) in one step for one class.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportRow {
    /// Compound class.
    pub class: String,
    /// Campaign step.
    pub step: String,
    /// Rule name, or X-template name for halogenation rules.
    pub rule: String,
    /// Halogen of an X-templated rule, else empty.
    pub halogen: String,
    /// Jobs counted (one per stream of the class in the step).
    pub jobs: u64,
    /// Jobs complete.
    pub complete: u64,
    /// Input rows read.
    pub rows: u64,
    /// Products, one per (parent, site), before dedup.
    pub products: u64,
    /// Distinct products, summed over the jobs.
    pub unique: u64,
    /// Matches the sugar mask kept from being transformed.
    pub masked_sites: u64,
    /// Products the step's property filter dropped.
    pub filtered: u64,
}

/// The report's columns, in CSV order.
pub const REPORT_COLUMNS: [&str; 11] =
    ["class", "step", "rule", "halogen", "jobs", "complete", "rows", "products", "unique", "masked_sites", "filtered"];

impl ReportRow {
    /// The row's values in [`REPORT_COLUMNS`] order.
    pub fn values(&self) -> [String; 11] {
        [
            self.class.clone(),
            self.step.clone(),
            self.rule.clone(),
            self.halogen.clone(),
            self.jobs.to_string(),
            self.complete.to_string(),
            self.rows.to_string(),
            self.products.to_string(),
            self.unique.to_string(),
            self.masked_sites.to_string(),
            self.filtered.to_string(),
        ]
    }
}

/// The report rows of campaign `c`, ordered by class, step (campaign order), rule (rule-file
/// order) and halogen (F, Cl, Br, I); jobs not started count as jobs with zeros.
pub fn report(store: &Reader, c: &Campaign, rules: &RuleSet) -> Result<Vec<ReportRow>> {
    let step_pos = |s: &str| c.file.steps.iter().position(|d| d.name == s).unwrap_or(usize::MAX);
    let rule_pos = |r: &str| rules.rules().iter().position(|d| d.def.name == r).unwrap_or(usize::MAX);
    let mut rows: Vec<(usize, usize, ReportRow)> = Vec::new();
    for s in &c.streams {
        for (rule, id) in s.rules.iter().zip(s.jobs()) {
            let (name, halogen) = match rules.get(rule) {
                Ok(r) if r.halogen.is_some() => (r.template.clone(), r.halogen.clone().unwrap_or_default()),
                _ => (rule.clone(), String::new()),
            };
            let key = (s.class.as_str(), s.step.as_str(), name.as_str(), halogen.as_str());
            let at = match rows.iter().position(|(_, _, r)| (&*r.class, &*r.step, &*r.rule, &*r.halogen) == key) {
                Some(at) => at,
                None => {
                    let row = ReportRow {
                        class: s.class.clone(),
                        step: s.step.clone(),
                        rule: name,
                        halogen,
                        ..Default::default()
                    };
                    rows.push((step_pos(&s.step), rule_pos(rule), row));
                    rows.len() - 1
                }
            };
            let row = &mut rows[at].2;
            row.jobs += 1;
            if let Some(m) = store.job(&id)? {
                row.complete += u64::from(m.state == JobState::Complete);
                row.rows += m.offset;
                row.products += m.counters.site_products;
                row.unique += m.counters.unique_products;
                row.masked_sites += m.counters.masked_sites;
                row.filtered += m.counters.filtered;
            }
        }
    }
    rows.sort_by(|a, b| (&a.2.class, a.0, a.1).cmp(&(&b.2.class, b.0, b.1)));
    Ok(rows.into_iter().map(|(_, _, r)| r).collect())
}
