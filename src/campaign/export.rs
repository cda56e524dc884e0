//! `xfstore export --campaign`: one validated file per job plus `index.json`, published as a
//! whole. Files are written into a temp folder beside the destination (each through the same
//! atomic, validated protocol as a single export), the index last, everything fsynced, then the
//! folder is put in place in one step (exchanged with a previous export where the system can),
//! so a reader finds the previous campaign export or the new one, never a mix.
//!
//! Parquet makes one Hive-partitioned dataset (#32): `class=<class>/step=<step>/rule=<rule>/
//! part-<stream>.parquet`, every file with the same columns ([`crate::CAMPAIGN_COLUMNS`] and
//! every carried column of the campaign), so DuckDB, polars and pyarrow read the folder as one
//! table with `class`, `step` and `rule` columns. A row's `k` and `root_smiles` follow its
//! first provenance up the chain (`Lineage`): the parent key in the upstream jobs (the first
//! holding it supplies it, as the step read it), up to the original input. CSV, SMILES and SDF
//! keep a file per job.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Campaign, Stream, StreamSource};
use crate::error::{CampaignError, ExportError, Result};
use crate::export::{export, export_in_campaign, CampaignCols, ExportOptions, Format, TextFormat};
use crate::publish::{replace_folder, write_json_synced};
use crate::reader::Reader;
use crate::rules::RuleSet;
use crate::store::{JobState, ProductRecord};

/// Name of the index of a campaign export.
pub const CAMPAIGN_INDEX: &str = "index.json";

/// One job's file in a campaign export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignExportEntry {
    /// Job id.
    pub job: String,
    /// Step.
    pub step: String,
    /// Stream (`<step>.<input or upstream stream>`).
    pub stream: String,
    /// Class carried down from the original input.
    pub class: String,
    /// Rule.
    pub rule: String,
    /// File inside the export folder: `class=<class>/step=<step>/rule=<rule>/part-<stream>.parquet`
    /// (Parquet), `<stream>__<rule>.<ext>` (other formats).
    pub file: String,
    /// Rows written.
    pub rows: u64,
    /// Whether the job was complete.
    pub complete: bool,
}

/// The index of a campaign export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignExport {
    /// Format tag (`xfstore-campaign-export-v1`).
    pub format: String,
    /// The campaign file exported.
    pub campaign: String,
    /// One entry per job, in campaign order.
    pub jobs: Vec<CampaignExportEntry>,
}

/// Exports every job of `c` into the folder `dest` (`ext`: parquet, csv or smi; `rules`: the
/// campaign's rule set, which says which rules add a halogen). Jobs missing or not complete are
/// refused unless `allow_incomplete` (then missing jobs are left out and partial ones exported
/// as far as committed).
pub fn export_campaign(
    store: &Reader,
    c: &Campaign,
    rules: &RuleSet,
    dest: &Path,
    ext: &str,
    allow_incomplete: bool,
    template: &ExportOptions,
) -> Result<CampaignExport> {
    let format = match ext {
        "parquet" => Format::Parquet,
        "csv" => Format::Text(TextFormat::Csv),
        "smi" => Format::Text(TextFormat::Smi),
        "sdf" => Format::Text(TextFormat::Sdf),
        "sdf.gz" => Format::Text(TextFormat::SdfGz),
        other => {
            return Err(CampaignError::Export {
                reason: format!("unknown format {other:?}: parquet, csv, smi, sdf or sdf.gz"),
            }
            .into())
        }
    };
    let mut plan = Vec::new();
    let mut missing = Vec::new();
    for s in &c.streams {
        for (rule, id) in s.rules.iter().zip(s.jobs()) {
            match store.job(&id)? {
                Some(m) if m.state == JobState::Complete || allow_incomplete => plan.push((s, rule, m)),
                Some(m) => missing.push(format!("{id} (row {} of {})", m.offset, m.input.rows)),
                None if allow_incomplete => {}
                None => missing.push(format!("{id} (not started)")),
            }
        }
    }
    if !missing.is_empty() {
        let reason = format!(
            "{} job(s) not complete: {}; finish the campaign (`xfstore run`) or pass --allow-incomplete",
            missing.len(),
            missing.join(", ")
        );
        return Err(CampaignError::Export { reason }.into());
    }
    if dest.exists() && !dest.join(CAMPAIGN_INDEX).exists() {
        return Err(ExportError::Validation {
            path: dest.into(),
            reason: format!("exists and is not a campaign export (no {CAMPAIGN_INDEX}); refusing to replace it"),
        }
        .into());
    }
    // every carried column of the campaign, in order of first appearance: each file has them
    let mut carry: Vec<String> = Vec::new();
    for (_, _, m) in &plan {
        for col in &m.input.carry_columns {
            if !carry.contains(col) {
                carry.push(col.clone());
            }
        }
    }
    let lineage = Lineage { store, c, rules, cache: RefCell::default() };
    replace_folder(dest, |tmp| {
        let mut index = CampaignExport {
            format: if format == Format::Parquet { "xfstore-campaign-export-v2" } else { "xfstore-campaign-export-v1" }
                .into(),
            campaign: c.path.display().to_string(),
            jobs: Vec::new(),
        };
        for (s, rule, meta) in &plan {
            let mut opts = template.clone();
            opts.format = format;
            opts.allow_incomplete = allow_incomplete;
            let (file, r) = if format == Format::Parquet {
                let file = hive_path(s, rule);
                opts.output = tmp.join(&file);
                create_parent(&opts.output)?;
                let resolve = |rec: &ProductRecord| lineage.above(s, rec).map_err(|e| e.to_string());
                let cols = CampaignCols { carry: &carry, halogen: lineage.halogen(rule)?, lineage: &resolve };
                (file, export_in_campaign(store, meta, &opts, &cols)?)
            } else {
                let file = format!("{}__{}.{ext}", s.key, rule);
                opts.output = tmp.join(&file);
                (file, export(store, meta, &opts)?)
            };
            index.jobs.push(CampaignExportEntry {
                job: meta.id.clone(),
                step: s.step.clone(),
                stream: s.key.clone(),
                class: s.class.clone(),
                rule: (*rule).clone(),
                file,
                rows: r.rows,
                complete: r.complete,
            });
        }
        write_json_synced(&tmp.join(CAMPAIGN_INDEX), &index)?;
        Ok(index)
    })
}

/// A dataset file's path: Hive partitions `class=`, `step=`, `rule=` (values escaped as Hive
/// does: `%XX` for the characters it reserves), then `part-<stream>.parquet` (two inputs of
/// one class share a partition, one file each).
fn hive_path(s: &Stream, rule: &str) -> String {
    let esc = |v: &str| -> String {
        v.chars()
            .map(|ch| match ch {
                'A'..='Z' | 'a'..='z' | '0'..='9' | '_' | '-' | '.' => ch.to_string(),
                other => other.to_string().bytes().map(|b| format!("%{b:02X}")).collect(),
            })
            .collect()
    };
    format!("class={}/step={}/rule={}/part-{}.parquet", esc(&s.class), esc(&s.step), esc(rule), esc(&s.key))
}

fn create_parent(path: &Path) -> Result<()> {
    let dir = path.parent().unwrap_or(path);
    std::fs::create_dir_all(dir)
        .map_err(|source| ExportError::Io { path: dir.into(), context: "create partition folder", source }.into())
}

/// Follows products up their first provenance to the original input molecule (`k`,
/// `root_smiles`), with a bounded cache of the parents already followed.
struct Lineage<'a> {
    store: &'a Reader,
    c: &'a Campaign,
    rules: &'a RuleSet,
    /// (stream key, parent key) -> (halogens added up to and including the parent, root).
    cache: RefCell<HashMap<(String, String), (u32, String)>>,
}

/// Most parents a campaign export keeps followed (~250 bytes each with their keys: ~16 MiB).
const LINEAGE_CACHE: usize = 1 << 16;

impl Lineage<'_> {
    /// The halogen rule `name` adds, if any.
    fn halogen(&self, name: &str) -> Result<Option<&str>> {
        Ok(self.rules.get(name)?.halogen.as_deref())
    }

    /// For a product of stream `s`: halogens added before `s`'s rule, and the original input
    /// molecule's SMILES.
    fn above(&self, s: &Stream, rec: &ProductRecord) -> Result<(u32, String)> {
        let StreamSource::Stream { key, jobs } = &s.source else {
            return Ok((0, rec.parent_smiles.clone())); // the parent is the original molecule
        };
        let cache_key = (key.clone(), rec.parent_smiles.clone());
        if let Some(hit) = self.cache.borrow().get(&cache_key) {
            return Ok(hit.clone());
        }
        let up = self.c.streams.iter().find(|u| &u.key == key).ok_or_else(|| CampaignError::Export {
            reason: format!("stream {} reads {key}, which the campaign does not have", s.key),
        })?;
        for (id, rule) in jobs.iter().zip(&up.rules) {
            let Some(parent) = self.store.product(id, &rec.parent_smiles)? else {
                continue;
            };
            let (k, root) = self.above(up, &parent)?;
            let found = (k + u32::from(self.halogen(rule)?.is_some()), root);
            let mut cache = self.cache.borrow_mut();
            if cache.len() >= LINEAGE_CACHE {
                cache.clear();
            }
            cache.insert(cache_key, found.clone());
            return Ok(found);
        }
        Err(CampaignError::Export {
            reason: format!("{}: parent {} is in none of its upstream jobs", s.key, rec.parent_smiles),
        }
        .into())
    }
}
