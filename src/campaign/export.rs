//! `xfstore export --campaign`: one validated file per job plus `index.json`, published as a
//! whole. Files are written into a temp folder beside the destination (each through the same
//! atomic, validated protocol as a single export), the index last, everything fsynced, then the
//! folder is put in place in one step (exchanged with a previous export where the system can),
//! so a reader finds the previous campaign export or the new one, never a mix.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Campaign;
use crate::error::{CampaignError, ExportError, Result};
use crate::export::{export, ExportOptions, Format, TextFormat};
use crate::publish::{replace_folder, write_json_synced};
use crate::reader::Reader;
use crate::store::JobState;

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
    /// File name inside the export folder: `<stream>__<rule>.<ext>`.
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

/// Exports every job of `c` into the folder `dest` (`ext`: parquet, csv or smi). Jobs missing
/// or not complete are refused unless `allow_incomplete` (then missing jobs are left out and
/// partial ones exported as far as committed).
pub fn export_campaign(
    store: &Reader,
    c: &Campaign,
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
    replace_folder(dest, |tmp| {
        let mut index = CampaignExport {
            format: "xfstore-campaign-export-v1".into(),
            campaign: c.path.display().to_string(),
            jobs: Vec::new(),
        };
        for (s, rule, meta) in &plan {
            let file = format!("{}__{}.{ext}", s.key, rule);
            let mut opts = template.clone();
            opts.output = tmp.join(&file);
            opts.format = format;
            opts.allow_incomplete = allow_incomplete;
            let r = export(store, meta, &opts)?;
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
