//! A partitioned run's folder read as one store: a lookup goes to its partition's shard (the
//! canonical SMILES decides the partition, as it did for the map step); a parent lookup asks
//! every shard's parent index; status sums the units' row counters and the shards' product
//! counters; an export writes one validated part per shard plus a manifest, as one folder.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::map::{unit_done, UnitDone};
use super::partition_of;
use super::plan::{Plan, PLAN_FILE};
use super::reduce::{shard_dir, shard_done, ShardDone};
use crate::chem::canonicalize;
use crate::error::{PartitionError, Result};
use crate::export::{ExportOptions, ExportReport};
use crate::query::{lookup_query, products_of_parent, select_jobs, Query, QueryOutcome};
use crate::store::{Counters, JobMeta, JobState, ReadOnlyStore};

/// Whether `dir` is a partitioned run folder (it holds a `plan.json`).
pub fn is_partitioned(dir: &Path) -> bool {
    dir.join(PLAN_FILE).is_file()
}

/// A partitioned run folder, read-only: the plan, the done markers, the shards.
pub struct ShardedStore {
    dir: PathBuf,
    plan: Plan,
    /// Shards opened so far (each opened once, on first use).
    shards: Vec<std::sync::OnceLock<ReadOnlyStore>>,
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
}

impl ShardedStore {
    /// Opens the run folder `dir` (any build's: reading does not depend on it).
    pub fn open(dir: &Path) -> Result<Self> {
        let plan = Plan::load_any(dir)?;
        let shards = (0..plan.partitions).map(|_| std::sync::OnceLock::new()).collect();
        Ok(Self { dir: dir.into(), plan, shards })
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
        let store = ReadOnlyStore::open(&shard_dir(&self.dir, p))?;
        Ok(cell.get_or_init(|| store))
    }

    /// Looks a query up in its partition's shard (`job` / `rule` select jobs as for a store).
    pub fn lookup(&self, query: &Query, job: Option<&str>, rule: Option<&str>) -> Result<QueryOutcome> {
        let p = match canonicalize(&query.smiles) {
            Ok(c) => self.partition_of(&c),
            Err(e) => {
                return Ok(QueryOutcome::Invalid {
                    query: query.smiles.clone(),
                    id: query.id.clone(),
                    error: e.to_string(),
                })
            }
        };
        let shard = self.shard(p)?;
        let jobs = select_jobs(shard, job, rule)?;
        lookup_query(shard, &jobs, query)
    }

    /// The products made from `parent` (any spelling), from every shard's parent index.
    pub fn products_of_parent(&self, parent: &str, job: Option<&str>, rule: Option<&str>) -> Result<QueryOutcome> {
        let mut merged: Option<QueryOutcome> = None;
        for p in 0..self.plan.partitions {
            let shard = self.shard(p)?;
            let jobs = select_jobs(shard, job, rule)?;
            let outcome = products_of_parent(shard, &jobs, parent)?;
            merged = Some(match (merged, outcome) {
                (None, o) => o,
                (
                    Some(QueryOutcome::Found { query, id, canonical, mut hits }),
                    QueryOutcome::Found { hits: more, .. },
                ) => {
                    hits.extend(more);
                    QueryOutcome::Found { query, id, canonical, hits }
                }
                (Some(QueryOutcome::NotFound { .. }), found @ QueryOutcome::Found { .. }) => found,
                (Some(m), _) => m,
            });
        }
        if let Some(QueryOutcome::Found { hits, .. }) = merged.as_mut() {
            hits.sort_by(|a, b| (&a.job, &a.smiles).cmp(&(&b.job, &b.smiles)));
        }
        merged.ok_or_else(|| PartitionError::Plan { path: self.dir.clone(), reason: "no partitions".into() }.into())
    }

    /// Progress and totals.
    pub fn status(&self) -> Result<ShardedStatus> {
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
        Ok(ShardedStatus { dir: self.dir.clone(), plan: self.plan.clone(), units, shards, jobs })
    }

    /// The job id selected by `job` or `rule` (exactly one job must match).
    pub fn select_job(&self, job: Option<&str>, rule: Option<&str>) -> Result<String> {
        let ids = self.plan.job_ids();
        let picked: Vec<&String> = ids
            .iter()
            .zip(&self.plan.rules)
            .filter(|(id, r)| job.is_none_or(|j| j == id.as_str()) && rule.is_none_or(|n| n == r.info.name))
            .map(|(id, _)| id)
            .collect();
        match picked.as_slice() {
            [one] => Ok((*one).clone()),
            _ => Err(crate::error::StoreError::UnknownJob {
                job: job.or(rule).unwrap_or("(none given)").to_owned(),
                known: format!("{} (pick one with --job or --rule)", ids.join(", ")),
            }
            .into()),
        }
    }

    /// Exports job `job` as a folder of one validated Parquet part per shard plus
    /// `manifest.json` (`opts.output`), published as a whole. Every shard must be reduced.
    pub fn export(&self, job: &str, opts: &ExportOptions) -> Result<ExportReport> {
        let started = Instant::now();
        let mut shards: Vec<(&ReadOnlyStore, JobMeta)> = Vec::with_capacity(self.plan.partitions as usize);
        for p in 0..self.plan.partitions {
            let store = self.shard(p)?;
            let meta = store.job(job)?.ok_or_else(|| crate::error::StoreError::UnknownJob {
                job: job.to_owned(),
                known: self.plan.job_ids().join(", "),
            })?;
            shards.push((store, meta));
        }
        let parts = crate::export::folder::export_shards(&shards, opts)?;
        Ok(ExportReport {
            rows: parts.iter().map(|p| p.rows).sum(),
            bytes: parts.iter().map(|p| p.bytes).sum(),
            files: parts.len(),
            elapsed_secs: started.elapsed().as_secs_f64(),
            complete: true,
        })
    }
}
