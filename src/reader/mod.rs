//! One read type for every folder xfstore builds: a store (`xfstore ingest` / `run`), a
//! partitioned run (`xfstore plan` + map + reduce) or a partitioned campaign (every stream a
//! partitioned run). Queries, exports, reports, status and the Python module read through a
//! [`Reader`], so whatever built the folder (one machine, a shell loop, Ray) it reads the same.
//!
//! Why it can: a partitioned run's shards hold disjoint products (a product's partition is a
//! function of its canonical SMILES), so a lookup asks one shard, a scan merges the shards in key
//! order (`scan.rs`) and a job's record is the units' and shards' markers summed
//! ([`crate::ShardedStatus`]); a single store is the case of one shard holding every key.

mod scan;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::error::{Result, StoreError};
use crate::input::InputSpec;
use crate::partition::{is_partitioned, is_partitioned_campaign, CampaignPlan, ShardedStore};
use crate::store::{JobMeta, ProductRecord, ReadOnlyStore, SharedCache, Store, StoreOptions};
pub(crate) use scan::MergedScan;

/// What kind of folder a [`Reader`] opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreKind {
    /// One store (RocksDB folder).
    Store,
    /// A partitioned run folder (`plan.json`, units, shards).
    PartitionedRun,
    /// A partitioned campaign folder (`campaign.json`, one partitioned run per stream).
    PartitionedCampaign,
}

impl StoreKind {
    /// The folder kind of `path`, from its markers (it may not exist yet: then a store).
    pub fn of(path: &Path) -> Self {
        if is_partitioned_campaign(path) {
            StoreKind::PartitionedCampaign
        } else if is_partitioned(path) {
            StoreKind::PartitionedRun
        } else {
            StoreKind::Store
        }
    }

    /// Lowercase name, as `xfstore status --json` prints it.
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Store => "store",
            StoreKind::PartitionedRun => "partitioned_run",
            StoreKind::PartitionedCampaign => "partitioned_campaign",
        }
    }
}

/// Any store folder, read-only: see the module documentation.
pub struct Reader {
    path: PathBuf,
    kind: StoreKind,
    inner: Inner,
}

enum Inner {
    Store(ReadOnlyStore),
    /// A store this process writes (the Python module's `Store(path, read_only=False)`): reads
    /// see its own commits.
    Writer(Store),
    /// The runs of a partitioned run (one) or campaign (one per planned stream), and the run
    /// holding each job.
    Sharded {
        runs: Vec<ShardedStore>,
        job_run: BTreeMap<String, usize>,
    },
}

impl Reader {
    /// Opens the folder at `path`, whatever its kind, with the default memory settings.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, &StoreOptions::default())
    }

    /// [`Reader::open`] with explicit memory settings: the shards of a partitioned folder
    /// share one block cache of the options' size.
    pub fn open_with(path: &Path, options: &StoreOptions) -> Result<Self> {
        let kind = StoreKind::of(path);
        let dirs = match kind {
            StoreKind::Store => {
                let inner = Inner::Store(ReadOnlyStore::open_with(path, options)?);
                return Ok(Self { path: path.into(), kind, inner });
            }
            StoreKind::PartitionedRun => vec![path.to_path_buf()],
            StoreKind::PartitionedCampaign => CampaignPlan::load(path)?.run_dirs(path),
        };
        let cache = SharedCache::new(options.block_cache_bytes)?;
        let mut runs = Vec::with_capacity(dirs.len());
        let mut job_run = BTreeMap::new();
        for dir in &dirs {
            let run = ShardedStore::open_with(dir, &options.one_of(dirs.len()), Some(cache.clone()))?;
            for id in run.plan().job_ids() {
                job_run.insert(id, runs.len());
            }
            runs.push(run);
        }
        Ok(Self { path: path.into(), kind, inner: Inner::Sharded { runs, job_run } })
    }

    /// Reads through a store this process writes to.
    pub fn from_writer(store: Store) -> Self {
        Self { path: store.path().to_path_buf(), kind: StoreKind::Store, inner: Inner::Writer(store) }
    }

    /// The writer, for a reader made by [`Reader::from_writer`].
    pub fn writer(&self) -> Option<&Store> {
        match &self.inner {
            Inner::Writer(w) => Some(w),
            _ => None,
        }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What kind of folder it is.
    pub fn kind(&self) -> StoreKind {
        self.kind
    }

    /// The single store, when the folder is one.
    pub fn single(&self) -> Option<&ReadOnlyStore> {
        match &self.inner {
            Inner::Store(s) => Some(s),
            Inner::Writer(w) => Some(w),
            Inner::Sharded { .. } => None,
        }
    }

    /// The partitioned runs (one for a run, one per planned stream for a campaign; none for a
    /// store).
    pub fn runs(&self) -> &[ShardedStore] {
        match &self.inner {
            Inner::Sharded { runs, .. } => runs,
            _ => &[],
        }
    }

    /// The streams of a partitioned campaign not planned yet (their upstream is not reduced);
    /// none for any other folder.
    pub fn waiting(&self) -> Result<Vec<String>> {
        Ok(match self.kind {
            StoreKind::PartitionedCampaign => CampaignPlan::load(&self.path)?.waiting(&self.path),
            _ => Vec::new(),
        })
    }

    /// Every job's record, ordered by id (for a partitioned folder, summed over its units and
    /// shards as [`crate::ShardedStatus`] does).
    pub fn jobs(&self) -> Result<Vec<JobMeta>> {
        if let Some(s) = self.single() {
            return Ok(s.jobs()?);
        }
        let mut all = Vec::new();
        for run in self.runs() {
            all.extend(run.status()?.job_metas());
        }
        all.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(all)
    }

    /// One job's record, None if the folder has no such job (yet).
    pub fn job(&self, id: &str) -> Result<Option<JobMeta>> {
        match &self.inner {
            Inner::Sharded { runs, job_run } => match job_run.get(id) {
                Some(&r) => Ok(runs[r].status()?.job_metas().into_iter().find(|m| m.id == id)),
                None => Ok(None),
            },
            _ => Ok(self.single().expect("a store").job(id)?),
        }
    }

    /// What `job` reads: a file, or other jobs (`job:`; in a partitioned campaign, the jobs of
    /// its upstream run, as planned).
    pub(crate) fn input_spec(&self, job: &JobMeta) -> Result<InputSpec> {
        match &self.inner {
            Inner::Sharded { runs, job_run } => {
                Ok(InputSpec::parse(&runs[self.run_of(job_run, &job.id)?].plan().input.spec))
            }
            _ => Ok(InputSpec::parse(&job.input.path)),
        }
    }

    /// The store holding `canonical` in job `job`: the store itself, or the shard of the
    /// product's partition (an error if that shard is not reduced yet).
    pub(crate) fn store_for(&self, job: &str, canonical: &str) -> Result<&ReadOnlyStore> {
        match &self.inner {
            Inner::Sharded { runs, job_run } => {
                let run = &runs[self.run_of(job_run, job)?];
                run.shard(run.partition_of(canonical))
            }
            _ => Ok(self.single().expect("a store")),
        }
    }

    /// The record of `canonical` in job `job` (in its partition's shard), None if the job does
    /// not hold it.
    pub(crate) fn product(&self, job: &str, canonical: &str) -> Result<Option<ProductRecord>> {
        Ok(self.store_for(job, canonical)?.product(job, canonical)?)
    }

    /// The jobs that may hold this canonical SMILES, from the key index of each store that can
    /// hold it (the store, or per run the shard of its partition): one seek each. None when a
    /// store has no index (written before format 4): ask every job. A superset: confirm hits.
    pub(crate) fn jobs_holding(&self, canonical: &str) -> Result<Option<BTreeSet<String>>> {
        let stores: Vec<&ReadOnlyStore> = match &self.inner {
            Inner::Sharded { runs, .. } => {
                runs.iter().map(|run| run.shard(run.partition_of(canonical))).collect::<Result<_>>()?
            }
            _ => vec![self.single().expect("a store")],
        };
        let mut jobs = BTreeSet::new();
        for store in stores {
            match store.jobs_holding(canonical)? {
                Some(found) => jobs.extend(found),
                None => return Ok(None),
            }
        }
        Ok(Some(jobs))
    }

    /// Every store holding products of `job`: the store itself, or every shard of its run.
    pub(crate) fn stores_of(&self, job: &str) -> Result<Vec<&ReadOnlyStore>> {
        match &self.inner {
            Inner::Sharded { runs, job_run } => {
                let run = &runs[self.run_of(job_run, job)?];
                (0..run.plan().partitions).map(|p| run.shard(p)).collect()
            }
            _ => Ok(vec![self.single().expect("a store")]),
        }
    }

    /// Every store of the folder: the store itself, or every shard of every run (an error if
    /// one is not reduced yet).
    pub fn stores(&self) -> Result<Vec<&ReadOnlyStore>> {
        match self.single() {
            Some(s) => Ok(vec![s]),
            None => {
                let mut all = Vec::new();
                for run in self.runs() {
                    for p in 0..run.plan().partitions {
                        all.push(run.shard(p)?);
                    }
                }
                Ok(all)
            }
        }
    }

    /// `job`'s products in key order from the first key at or after `from`.
    pub(crate) fn scan_from(&self, job: &str, from: &[u8]) -> Result<MergedScan<'_>> {
        let scans = self.stores_of(job)?.into_iter().map(|s| s.scan_from(job, from)).collect::<Result<_, _>>()?;
        Ok(MergedScan::new(scans))
    }

    /// Bytes on disk: the store's files, or every file of a partitioned folder (shards, run
    /// files, markers).
    pub fn disk_bytes(&self) -> u64 {
        match self.single() {
            Some(s) => s.disk_bytes(),
            None => dir_bytes(&self.path),
        }
    }

    fn run_of(&self, job_run: &BTreeMap<String, usize>, job: &str) -> Result<usize> {
        job_run.get(job).copied().ok_or_else(|| {
            let known = job_run.keys().cloned().collect::<Vec<_>>().join(", ");
            StoreError::UnknownJob { job: job.to_owned(), known }.into()
        })
    }
}

/// Bytes of the files under `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

impl From<ReadOnlyStore> for Reader {
    fn from(store: ReadOnlyStore) -> Self {
        Self { path: store.path().to_path_buf(), kind: StoreKind::Store, inner: Inner::Store(store) }
    }
}
