//! Partitioned campaigns: every stream of a campaign planned as its own partitioned run
//! (`DIR/streams/<stream>/`, each an ordinary run folder with its plan, units and shards),
//! listed in `DIR/campaign.json` with the options they were planned with. Schedulers run the
//! planned streams' units and partitions like those of any run (`python -m xfstore_ray DIR`,
//! `tools/partitioned_run.sh DIR` go through the list, stage by stage).
//!
//! A chained step (a stream reading another stream's products) is planned once its upstream
//! run is reduced: its rows are the upstream's distinct products in their global key order, a
//! merge over the upstream's shards (`InputFile::open_sharded`), numbered as a single-machine
//! `job:` input numbers them, so provenance is the same. Planning again (`xfstore plan --resume
//! DIR`) plans the streams whose upstream has finished since; streams already planned are
//! left as they are.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::files::read_json;
use super::layout::{is_partitioned, stream_dir, CAMPAIGN_PLAN_FILE};
use super::plan::{plan_in, Plan, PlanOptions};
use super::sharded::ShardedStore;
use crate::campaign::{stream_options, Campaign, RunOptions, StreamSource};
use crate::error::{PartitionError, Result};
use crate::publish::publish_file;
use crate::rules::RuleSet;

/// Format tag of `campaign.json`.
pub const CAMPAIGN_PLAN_FORMAT: &str = "xfstore-partitioned-campaign-v1";

/// A partitioned campaign: its streams' run folders and the options they are planned with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignPlan {
    /// [`CAMPAIGN_PLAN_FORMAT`].
    pub format: String,
    /// The campaign file (absolute).
    pub campaign: PathBuf,
    /// Stream keys, in the campaign's order; stream `k`'s run folder is `DIR/streams/k`.
    pub streams: Vec<String>,
    /// Partitions of every stream's run.
    pub partitions: u32,
    /// Rows per unit of every stream's run.
    pub unit_rows: u64,
    /// The rule file, if not the built-in one.
    pub rules_file: Option<PathBuf>,
    /// Products without properties.
    pub no_props: bool,
    /// The size guard, when given.
    pub max_heavy_atoms: Option<u32>,
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

    /// Run folders of the streams planned so far, in order.
    pub fn run_dirs(&self, dir: &Path) -> Vec<PathBuf> {
        self.streams.iter().map(|k| stream_dir(dir, k)).filter(|d| is_partitioned(d)).collect()
    }

    /// Streams not planned yet (waiting for their upstream to be reduced).
    pub fn waiting(&self, dir: &Path) -> Vec<String> {
        self.streams.iter().filter(|k| !is_partitioned(&stream_dir(dir, k))).cloned().collect()
    }
}

/// Plans the streams of campaign `c` (read from `campaign_path`) as partitioned runs under
/// `dir`, with the options a `xfstore run` of it would use (`run`): every stream reading a file,
/// and every chained stream whose upstream run is reduced; the others wait (returned as None).
/// Idempotent as [`plan`] is: planning again plans what became ready.
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
) -> Result<(CampaignPlan, Vec<Option<Plan>>)> {
    let campaign = std::fs::canonicalize(campaign_path).unwrap_or_else(|_| campaign_path.to_path_buf());
    let list = CampaignPlan {
        format: CAMPAIGN_PLAN_FORMAT.into(),
        campaign,
        streams: c.streams.iter().map(|s| s.key.clone()).collect(),
        partitions,
        unit_rows,
        rules_file: rules_file.clone(),
        no_props: run.no_props,
        max_heavy_atoms: run.max_heavy_atoms,
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
        std::fs::create_dir_all(dir).map_err(|source| PartitionError::Io {
            path: dir.into(),
            context: "create run folder",
            source,
        })?;
        publish_file(&path, &serde_json::to_vec_pretty(&list).expect("serializes"))?;
    }
    let mut plans = Vec::with_capacity(c.streams.len());
    for s in &c.streams {
        let upstream = match &s.source {
            StreamSource::File { .. } => None,
            StreamSource::Stream { key, .. } => {
                let up = stream_dir(dir, key);
                let ready = is_partitioned(&up) && ShardedStore::open(&up)?.status()?.is_complete();
                if !ready {
                    plans.push(None);
                    continue;
                }
                Some(up)
            }
        };
        let opts = PlanOptions {
            ingest: stream_options(c, s, run),
            rules_file: rules_file.clone(),
            partitions,
            unit_rows,
            upstream,
        };
        plans.push(Some(plan_in(rule_set, &opts, &stream_dir(dir, &s.key), false)?));
    }
    Ok((list, plans))
}
