//! A partitioned run's folder: its plan, its done markers and its shards (each a store, opened
//! read-only on first use). Status sums the units' row counters and the shards' product
//! counters. Reading products across shards (a lookup routed to its partition's shard, scans
//! merged in key order) is the [`crate::Reader`]'s, for runs and campaigns alike.

use std::path::{Path, PathBuf};

use super::layout::shard_dir;
use super::map::{unit_done, UnitDone};
use super::partition_of;
use super::plan::Plan;
use super::reduce::{shard_done, ShardDone};
use crate::error::{PartitionError, Result};
use crate::store::{Counters, JobMeta, JobState, ReadOnlyStore, SharedCache, StoreOptions};

/// A partitioned run folder, read-only: the plan, the done markers, the shards.
pub struct ShardedStore {
    dir: PathBuf,
    plan: Plan,
    /// How shards are opened, and the block cache they share.
    options: StoreOptions,
    cache: Option<SharedCache>,
    /// Shards opened so far (each opened once, on first use).
    shards: Vec<std::sync::OnceLock<ReadOnlyStore>>,
    /// The status once the run is complete: published markers never change, so it is read
    /// once (a reader asking for job records would otherwise re-read every marker per call).
    complete: std::sync::OnceLock<ShardedStatus>,
}

/// One job of a sharded store, over all units and shards.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardedJob {
    /// Job id.
    pub id: String,
    /// Rule name.
    pub rule: String,
    /// Row counters summed over the mapped units; `unique_products` summed over the reduced
    /// shards; `site_products` from the units.
    pub counters: Counters,
    /// `site_products` summed over the reduced shards (equal to the units' once all are
    /// reduced: a check of the reduce).
    pub shard_site_products: u64,
    /// Complete when every unit is mapped and every shard reduced.
    pub state: JobState,
}

/// Progress and totals of a partitioned run.
#[derive(Debug, Clone)]
pub struct ShardedStatus {
    /// The run folder.
    pub dir: PathBuf,
    /// The plan.
    pub plan: Plan,
    /// Done marker of each unit (None: not mapped yet).
    pub units: Vec<Option<UnitDone>>,
    /// Done marker of each shard (None: not reduced yet).
    pub shards: Vec<Option<ShardDone>>,
    /// Per job.
    pub jobs: Vec<ShardedJob>,
}

impl ShardedStatus {
    /// Units mapped.
    pub fn units_done(&self) -> usize {
        self.units.iter().flatten().count()
    }

    /// Shards reduced.
    pub fn shards_done(&self) -> usize {
        self.shards.iter().flatten().count()
    }

    /// Whether every unit is mapped and every shard reduced.
    pub fn is_complete(&self) -> bool {
        self.units_done() == self.units.len() && self.shards_done() == self.shards.len()
    }

    /// Each job's record as a single store would hold it after the same work: rows done are
    /// the mapped units' rows, counters as in [`ShardedStatus::jobs`], seconds the units' and
    /// shards' summed, complete once every unit is mapped and every shard reduced.
    pub(crate) fn job_metas(&self) -> Vec<JobMeta> {
        let input = &self.plan.input;
        let rows: u64 = self.units.iter().flatten().map(|u| u.rows).sum();
        let secs: f64 = self.units.iter().flatten().map(|u| u.elapsed_secs).sum::<f64>()
            + self.shards.iter().flatten().map(|s| s.elapsed_secs).sum::<f64>();
        self.jobs
            .iter()
            .zip(&self.plan.rules)
            .map(|(j, rule)| {
                let mut meta = JobMeta::fresh(
                    j.id.clone(),
                    input.key.clone(),
                    input.info.clone(),
                    rule.info.clone(),
                    self.plan.build.rdkit.clone(),
                    0,
                );
                meta.offset = rows;
                meta.counters = j.counters.clone();
                meta.state = j.state;
                meta.busy_secs = secs;
                meta
            })
            .collect()
    }
}

impl ShardedStore {
    /// Opens the run folder `dir` (any build's: reading does not depend on it).
    pub fn open(dir: &Path) -> Result<Self> {
        Self::open_with(dir, &StoreOptions::default(), None)
    }

    /// [`ShardedStore::open`] with the shards' memory settings, their blocks in `cache` when
    /// given (one cache for every shard of a campaign).
    pub(crate) fn open_with(dir: &Path, options: &StoreOptions, cache: Option<SharedCache>) -> Result<Self> {
        let plan = Plan::load_any(dir)?;
        let shards = (0..plan.partitions).map(|_| std::sync::OnceLock::new()).collect();
        Ok(Self { dir: dir.into(), plan, options: options.clone(), cache, shards, complete: Default::default() })
    }

    /// The plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The partition a canonical SMILES belongs to.
    pub fn partition_of(&self, canonical: &str) -> u32 {
        partition_of(canonical.as_bytes(), self.plan.partitions)
    }

    /// Shard `p`, read-only (opened on first use, then kept); an error if it is not reduced yet.
    pub fn shard(&self, p: u32) -> Result<&ReadOnlyStore> {
        let cell = self.shards.get(p as usize).ok_or(PartitionError::OutOfRange {
            path: self.dir.clone(),
            what: "partition",
            index: p,
            count: self.plan.partitions,
        })?;
        if let Some(store) = cell.get() {
            return Ok(store);
        }
        if shard_done(&self.dir, p)?.is_none() {
            return Err(PartitionError::NotReady {
                path: self.dir.clone(),
                reason: format!(
                    "shard {p} is not reduced yet (run `xfstore reduce {} --partition {p}`)",
                    self.dir.display()
                ),
            }
            .into());
        }
        let path = shard_dir(&self.dir, p);
        let options = self.options.one_of(self.plan.partitions as usize);
        let store = match &self.cache {
            Some(cache) => ReadOnlyStore::open_sharing(&path, &options, cache)?,
            None => ReadOnlyStore::open_with(&path, &options)?,
        };
        Ok(cell.get_or_init(|| store))
    }

    /// Progress and totals.
    pub fn status(&self) -> Result<ShardedStatus> {
        if let Some(done) = self.complete.get() {
            return Ok(done.clone());
        }
        let units: Vec<Option<UnitDone>> =
            (0..self.plan.units.len() as u32).map(|k| unit_done(&self.dir, k)).collect::<Result<_>>()?;
        let shards: Vec<Option<ShardDone>> =
            (0..self.plan.partitions).map(|p| shard_done(&self.dir, p)).collect::<Result<_>>()?;
        let complete = units.iter().all(Option::is_some) && shards.iter().all(Option::is_some);
        let jobs = self
            .plan
            .job_ids()
            .into_iter()
            .zip(&self.plan.rules)
            .enumerate()
            .map(|(j, (id, rule))| {
                let mut counters = Counters::default();
                for u in units.iter().flatten() {
                    if let Some(c) = u.counters.get(j) {
                        counters.add(c);
                    }
                }
                let mut shard_site_products = 0;
                for s in shards.iter().flatten() {
                    if let Some(sj) = s.jobs.get(j) {
                        counters.unique_products += sj.unique_products;
                        shard_site_products += sj.site_products;
                    }
                }
                let state = if complete { JobState::Complete } else { JobState::Partial };
                ShardedJob { id, rule: rule.info.name.clone(), counters, shard_site_products, state }
            })
            .collect();
        let status = ShardedStatus { dir: self.dir.clone(), plan: self.plan.clone(), units, shards, jobs };
        if complete {
            let _ = self.complete.set(status.clone());
        }
        Ok(status)
    }
}
