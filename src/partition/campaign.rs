//! Partitioned campaigns: every stream of a campaign planned as its own partitioned run
//! (`DIR/streams/<stream>/`, each an ordinary run folder with its plan, units and shards),
//! listed in `DIR/campaign.json`, written last. Schedulers run the streams' units and
//! partitions like those of any run (`python -m xfstore_ray DIR`, `tools/partitioned_run.sh
//! DIR` go through the list).
//!
//! Only streams that read files can be planned: a chained step (a stream reading another
//! stream's products) would read the upstream's shards, numbered in the global key order of
//! their union (the row numbers provenance records), which needs the upstream reduced before it
//! can be planned. Such campaigns are refused, before anything is written, naming the steps;
//! their chained steps run with `xfstore run`, or partitioned after exporting the upstream step
//! to files.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::files::{publish_file, read_json};
use super::plan::{plan, Plan, PlanOptions};
use crate::campaign::{stream_options, Campaign, RunOptions, StreamSource};
use crate::error::{PartitionError, Result};
use crate::rules::RuleSet;

/// Name of the campaign list inside a run folder.
pub const CAMPAIGN_PLAN_FILE: &str = "campaign.json";
/// Format tag of `campaign.json`.
pub const CAMPAIGN_PLAN_FORMAT: &str = "xfstore-partitioned-campaign-v1";

/// A partitioned campaign: its streams' run folders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignPlan {
    /// [`CAMPAIGN_PLAN_FORMAT`].
    pub format: String,
    /// The campaign file (absolute).
    pub campaign: PathBuf,
    /// Stream keys, in the campaign's order; stream `k`'s run folder is `DIR/streams/k`.
    pub streams: Vec<String>,
}

impl CampaignPlan {
    /// Reads `DIR/campaign.json`.
    pub fn load(dir: &Path) -> Result<Self> {
        let p: CampaignPlan = read_json(&dir.join(CAMPAIGN_PLAN_FILE))?;
        if p.format != CAMPAIGN_PLAN_FORMAT {
            return Err(PartitionError::Plan {
                path: dir.into(),
                reason: format!("{CAMPAIGN_PLAN_FILE} has format {:?}, expected {CAMPAIGN_PLAN_FORMAT:?}", p.format),
            }
            .into());
        }
        Ok(p)
    }

    /// Run folder of each stream, in order.
    pub fn run_dirs(&self, dir: &Path) -> Vec<PathBuf> {
        self.streams.iter().map(|k| stream_dir(dir, k)).collect()
    }
}

/// Whether `dir` is a partitioned campaign folder (it holds a `campaign.json`).
pub fn is_partitioned_campaign(dir: &Path) -> bool {
    dir.join(CAMPAIGN_PLAN_FILE).is_file()
}

fn stream_dir(dir: &Path, key: &str) -> PathBuf {
    dir.join("streams").join(key)
}

/// Plans every stream of campaign `c` (read from `campaign_path`) as a partitioned run under
/// `dir`, with the options a `xfstore run` of it would use (`run`), then writes the list.
/// Idempotent as [`plan`] is; a campaign with chained steps is refused before anything is
/// written.
#[allow(clippy::too_many_arguments)]
pub fn plan_campaign(
    rule_set: &RuleSet,
    c: &Campaign,
    campaign_path: &Path,
    run: &RunOptions,
    rules_file: Option<PathBuf>,
    partitions: u32,
    unit_rows: u64,
    dir: &Path,
) -> Result<(CampaignPlan, Vec<Plan>)> {
    let chained: Vec<String> = c
        .streams
        .iter()
        .filter_map(|s| match &s.source {
            StreamSource::Stream { key, .. } => Some(format!("{} (reads {key})", s.key)),
            StreamSource::File { .. } => None,
        })
        .collect();
    if !chained.is_empty() {
        return Err(PartitionError::Plan {
            path: dir.into(),
            reason: format!(
                "{} stream(s) read another step's products, which a partitioned run cannot plan yet: {}; \
                 run the campaign with `xfstore run`, or partition the steps that read files (export the \
                 upstream step and give it as an input)",
                chained.len(),
                chained.join(", ")
            ),
        }
        .into());
    }
    let mut plans = Vec::with_capacity(c.streams.len());
    for s in &c.streams {
        let opts =
            PlanOptions { ingest: stream_options(c, s, run), rules_file: rules_file.clone(), partitions, unit_rows };
        plans.push(plan(rule_set, &opts, &stream_dir(dir, &s.key))?);
    }
    let campaign = std::fs::canonicalize(campaign_path).unwrap_or_else(|_| campaign_path.to_path_buf());
    let list = CampaignPlan {
        format: CAMPAIGN_PLAN_FORMAT.into(),
        campaign,
        streams: c.streams.iter().map(|s| s.key.clone()).collect(),
    };
    let path = dir.join(CAMPAIGN_PLAN_FILE);
    if path.exists() {
        if CampaignPlan::load(dir)? != list {
            return Err(PartitionError::Plan {
                path: dir.into(),
                reason: "already holds a different campaign plan; plan into a new folder".into(),
            }
            .into());
        }
    } else {
        publish_file(&path, &serde_json::to_vec_pretty(&list).expect("serializes"))?;
    }
    Ok((list, plans))
}
