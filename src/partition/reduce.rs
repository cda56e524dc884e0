//! `xfstore reduce DIR --partition P`: partition P of every unit's run file, merged by key into
//! shard store P by bulk load.
//!
//! The merge is a k-way merge over the units' sorted rows of partition P (one decoded batch of
//! 1,024 rows per run file in memory). For a product found by several units the record of the
//! lowest unit is kept (units are ascending row ranges and each keeps its lowest row, then
//! site: the single-machine rule) and occurrences are summed. Merged products go to the
//! store's bulk-load commit (`Store::commit`, every key new: one sorted SST per job and flush,
//! ingested, no memtable, no WAL, no read), then parent links and rejected rows. Each run file's
//! partition is checked against the xxh3 its map step recorded before the shard is published.
//!
//! The shard is built in a temp folder and renamed into place with its done marker inside: a
//! killed reduce leaves no shard and the next one starts over; two reduces of one partition
//! both finish and the second discards its copy.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::files::read_marker;
use super::layout::{shard_dir, unit_dir, RUN_FILE, SHARD_DONE};
use super::map::{unit_done, UnitDone};
use super::plan::{BuildId, Plan};
use super::runfile::{Cursor, KIND_LINK, KIND_PRODUCT, KIND_REJECT, KIND_ROOT};
use crate::budget::MemoryBudget;
use crate::error::{PartitionError, Result};
use crate::ingest::job::now_unix;
use crate::publish::{host, publish_new_folder, write_json_synced};
use crate::store::schema::split_root_row_key;
use crate::store::{
    decode, Durability, JobBatch, JobMeta, JobState, ProductRecord, RejectBatch, RejectRecord, RootRow, Store,
    StoreOptions,
};

/// Products (or links, or rejects) per bulk-load commit.
const FLUSH_ROWS: usize = 100_000;

/// One job's part of a shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardJob {
    /// Job id.
    pub id: String,
    /// Products (one per parent x site) whose key is in this partition.
    pub site_products: u64,
    /// Distinct products in this partition.
    pub unique_products: u64,
    /// Parent links.
    pub parent_links: u64,
}

/// A finished shard (the done marker inside its folder).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardDone {
    /// Partition number.
    pub partition: u32,
    /// The build that reduced it.
    pub build: BuildId,
    /// Per job, in rule order.
    pub jobs: Vec<ShardJob>,
    /// Rejected input rows routed to this shard.
    pub rejects: u64,
    /// Run files merged.
    pub units: u32,
    /// Seconds the reduce took.
    pub elapsed_secs: f64,
    /// Host that reduced it.
    pub host: String,
}

/// What `reduce` did.
#[derive(Debug, Clone)]
pub struct ReduceReport {
    /// The shard's done marker.
    pub done: ShardDone,
    /// True when the shard was already done (nothing was run).
    pub skipped: bool,
}

/// The done marker of shard `p`, if the shard is done.
pub fn shard_done(dir: &Path, p: u32) -> Result<Option<ShardDone>> {
    read_marker(&shard_dir(dir, p).join(SHARD_DONE))
}

/// Reduces partition `partition` of the run planned in `dir` into its shard store. Every unit
/// must be mapped.
pub fn reduce_partition(dir: &Path, partition: u32, budget: MemoryBudget) -> Result<ReduceReport> {
    let started = Instant::now();
    let plan = Plan::load(dir)?;
    if partition >= plan.partitions {
        return Err(PartitionError::OutOfRange {
            path: dir.into(),
            what: "partition",
            index: partition,
            count: plan.partitions,
        }
        .into());
    }
    if let Some(done) = shard_done(dir, partition)? {
        return Ok(ReduceReport { done, skipped: true });
    }
    let mut units = Vec::with_capacity(plan.units.len());
    let mut missing = Vec::new();
    for k in 0..plan.units.len() as u32 {
        match unit_done(dir, k)? {
            Some(d) => units.push(d),
            None => missing.push(k),
        }
    }
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(10).map(|k| k.to_string()).collect();
        return Err(PartitionError::NotReady {
            path: dir.into(),
            reason: format!(
                "{} of {} units are not mapped yet (units {}{}); run `xfstore map` for them first",
                missing.len(),
                plan.units.len(),
                shown.join(", "),
                if missing.len() > 10 { ", ..." } else { "" }
            ),
        }
        .into());
    }
    let published = publish_new_folder(&shard_dir(dir, partition), false, |tmp| {
        let done = build_shard(dir, &plan, partition, &units, budget, tmp, started)?;
        crate::failpoint::hit("partition.reduce.built");
        Ok(done)
    })?;
    let Some(done) = published else {
        // another process reduced the partition first: its shard stands
        let theirs = shard_done(dir, partition)?.ok_or_else(|| PartitionError::NotReady {
            path: dir.into(),
            reason: format!("shard {partition} was published without its done marker"),
        })?;
        return Ok(ReduceReport { done: theirs, skipped: true });
    };
    Ok(ReduceReport { done, skipped: false })
}

/// The job records a shard starts with (complete once the reduce ends).
fn shard_metas(plan: &Plan) -> Vec<JobMeta> {
    let now = now_unix();
    plan.rules
        .iter()
        .zip(plan.job_ids())
        .map(|(r, id)| {
            let (key, input) = (plan.input.key.clone(), plan.input.info.clone());
            JobMeta::fresh(id, key, input, r.info.clone(), plan.build.rdkit.clone(), now)
        })
        .collect()
}

/// Rows of one kind and job waiting for a commit.
#[derive(Default)]
struct Pending {
    products: Vec<(String, ProductRecord)>,
    links: Vec<(String, String)>,
    roots: Vec<RootRow>,
    rejects: Vec<(u64, RejectRecord)>,
}

struct Shard<'a> {
    store: Store,
    metas: Vec<JobMeta>,
    jobs: Vec<ShardJob>,
    input_key: &'a str,
    rejects: u64,
}

impl<'a> Shard<'a> {
    /// A new shard store in `tmp` with the plan's jobs registered (written durably: a shard is
    /// published once, by rename).
    fn open(plan: &'a Plan, tmp: &Path, budget: MemoryBudget) -> Result<Self> {
        let options = StoreOptions { durability: Durability::Sync, ..StoreOptions::from_budget(&budget) };
        let store = Store::open(tmp, &options)?;
        let metas = shard_metas(plan);
        for m in &metas {
            store.register_job(m)?;
        }
        let jobs = metas
            .iter()
            .map(|m| ShardJob { id: m.id.clone(), site_products: 0, unique_products: 0, parent_links: 0 })
            .collect();
        Ok(Shard { store, metas, jobs, input_key: &plan.input.key, rejects: 0 })
    }

    /// Completes the shard's jobs (every input row is accounted for: the rows' own counters
    /// live in the units' done markers; a shard holds its partition's products), compacts it,
    /// closes it and writes its done marker into `tmp`.
    fn finish(mut self, plan: &Plan, partition: u32, units: u32, tmp: &Path, started: Instant) -> Result<ShardDone> {
        let rows = plan.input.info.rows;
        let mut finals: Vec<JobBatch<'_>> = self
            .metas
            .iter_mut()
            .map(|meta| {
                meta.offset = rows;
                meta.state = JobState::Complete;
                meta.busy_secs = started.elapsed().as_secs_f64();
                meta.updated_unix = now_unix();
                JobBatch {
                    meta,
                    products: Vec::new(),
                    parent_links: Vec::new(),
                    roots: Vec::new(),
                    novel: Some(Vec::new()),
                }
            })
            .collect();
        self.store.commit(&mut finals, RejectBatch { input_key: &plan.input.key, rows: &[] })?;
        drop(finals);
        // the shard is written once: one compaction leaves each family one compressed sorted
        // run (bulk-loaded files are written uncompressed; uncompacted, MOSES shards took 3.5x
        // the single store's bytes)
        self.store.compact()?;
        let done = ShardDone {
            partition,
            build: plan.build.clone(),
            jobs: self.jobs,
            rejects: self.rejects,
            units,
            elapsed_secs: started.elapsed().as_secs_f64(),
            host: host(),
        };
        drop(self.store);
        write_json_synced(&tmp.join(SHARD_DONE), &done)?;
        Ok(done)
    }

    /// Commits what is pending for `job` (products and links by bulk load, rejects by batch).
    fn flush(&mut self, job: usize, pending: &mut Pending) -> Result<()> {
        let products = std::mem::take(&mut pending.products);
        let links = std::mem::take(&mut pending.links);
        let roots = std::mem::take(&mut pending.roots);
        if !products.is_empty() || !links.is_empty() || !roots.is_empty() {
            let meta = &mut self.metas[job];
            let occurrences: u64 = products.iter().map(|(_, r)| r.occurrences).sum();
            meta.counters.site_products += occurrences;
            self.jobs[job].site_products += occurrences;
            self.jobs[job].parent_links += links.len() as u64;
            let novel = Some(vec![true; products.len()]);
            let before = meta.counters.unique_products;
            self.store.commit(
                &mut [JobBatch { meta, products, parent_links: links, roots, novel }],
                RejectBatch { input_key: self.input_key, rows: &[] },
            )?;
            self.jobs[job].unique_products += self.metas[job].counters.unique_products - before;
        }
        if !pending.rejects.is_empty() {
            self.rejects += pending.rejects.len() as u64;
            self.store.commit(&mut [], RejectBatch { input_key: self.input_key, rows: &pending.rejects })?;
            pending.rejects.clear();
        }
        Ok(())
    }
}

/// Builds shard `partition` in the temp folder `tmp`: the k-way merge of every unit's run file
/// (`merge_row` per key), the digests checked, the jobs completed and compacted, the marker
/// written last.
fn build_shard(
    dir: &Path,
    plan: &Plan,
    partition: u32,
    units: &[UnitDone],
    budget: MemoryBudget,
    tmp: &Path,
    started: Instant,
) -> Result<ShardDone> {
    let mut shard = Shard::open(plan, tmp, budget)?;
    let mut cursors = Vec::with_capacity(units.len());
    for u in units {
        cursors.push(Cursor::open(&unit_dir(dir, u.unit).join(RUN_FILE), partition)?);
    }
    // heap of (kind, job, key, unit): equal keys pop in unit order, lowest (first rows) first
    let mut heap = BinaryHeap::with_capacity(cursors.len());
    for (i, c) in cursors.iter().enumerate() {
        if let Some((kind, job, key)) = c.head() {
            heap.push(Reverse((kind, job, key.to_vec(), i)));
        }
    }
    let mut pending = Pending::default();
    let mut group: Option<(u8, u32)> = None;
    while let Some(Reverse((kind, job, key, first))) = heap.pop() {
        if let Some((_, j)) = group.filter(|g| *g != (kind, job)) {
            shard.flush(j as usize, &mut pending)?;
        }
        group = Some((kind, job));
        if job as usize >= shard.metas.len() {
            let reason = format!("row of job {job}; the plan has {} jobs", shard.metas.len());
            return Err(run_err(&cursors[first], reason));
        }
        // every unit holding this key, in unit order (the heap pops equal keys by unit)
        let mut holders = vec![first];
        while let Some(Reverse((k2, j2, key2, _))) = heap.peek() {
            if (*k2, *j2, key2.as_slice()) != (kind, job, key.as_slice()) {
                break;
            }
            let Some(Reverse((_, _, _, i))) = heap.pop() else { break };
            holders.push(i);
        }
        merge_row(kind, key, &holders, &cursors, &mut pending)?;
        for i in holders {
            cursors[i].advance()?;
            if let Some((k, j, key)) = cursors[i].head() {
                heap.push(Reverse((k, j, key.to_vec(), i)));
            }
        }
        if pending.products.len() + pending.links.len() + pending.roots.len() + pending.rejects.len() >= FLUSH_ROWS {
            shard.flush(job as usize, &mut pending)?;
        }
    }
    if let Some((_, j)) = group {
        shard.flush(j as usize, &mut pending)?;
    }
    check_digests(dir, partition, &cursors, units)?;
    shard.finish(plan, partition, units.len() as u32, tmp, started)
}

/// A run file's error: `cursor`'s file named, with the reason.
fn run_err(cursor: &Cursor, reason: impl Into<String>) -> crate::Error {
    PartitionError::RunFile { path: cursor.path().into(), reason: reason.into() }.into()
}

/// Folds one key held by the units `holders` (in unit order, the first the lowest) into the
/// rows waiting for the next commit: a product keeps the first unit's record with every unit's
/// occurrences summed; a parent link, a root row and a rejected row are taken once.
fn merge_row(kind: u8, key: Vec<u8>, holders: &[usize], cursors: &[Cursor], pending: &mut Pending) -> Result<()> {
    let first = &cursors[holders[0]];
    // a value that does not decode: the run file is damaged (named, with the codec's reason)
    let damaged = |c: &Cursor, e: crate::error::StoreError| {
        run_err(c, format!("damaged value for key {:?}: {e}", String::from_utf8_lossy(&key)))
    };
    match kind {
        KIND_PRODUCT => {
            let mut rec: ProductRecord = decode(first.value(), "product").map_err(|e| damaged(first, e))?;
            for &i in &holders[1..] {
                let other: ProductRecord =
                    decode(cursors[i].value(), "product").map_err(|e| damaged(&cursors[i], e))?;
                rec.occurrences += other.occurrences;
            }
            let smiles = String::from_utf8(key).map_err(|_| run_err(first, "a product key is not UTF-8"))?;
            pending.products.push((smiles, rec));
        }
        KIND_LINK => {
            let text = std::str::from_utf8(&key).ok();
            let Some((parent, product)) = text.and_then(|t| t.split_once('\0')) else {
                return Err(run_err(first, "a parent link key is not parent NUL product"));
            };
            pending.links.push((parent.to_owned(), product.to_owned()));
        }
        KIND_ROOT => {
            let Some((parent, row)) = split_root_row_key(&key) else {
                return Err(run_err(first, "a root row key is not molecule NUL row"));
            };
            let parent = parent.to_owned();
            let id = String::from_utf8(first.value().to_vec())
                .map_err(|_| run_err(first, "a root row's id is not UTF-8"))?;
            pending.roots.push((parent, row, Some(id).filter(|id| !id.is_empty())));
        }
        KIND_REJECT => {
            let row = <[u8; 8]>::try_from(key.as_slice())
                .map(u64::from_be_bytes)
                .map_err(|_| run_err(first, "a reject key is not a row"))?;
            let rec = decode(first.value(), "rejected row").map_err(|e| damaged(first, e))?;
            pending.rejects.push((row, rec));
        }
        other => return Err(run_err(first, format!("unknown row kind {other}"))),
    }
    Ok(())
}

/// Checks that every run file's rows of `partition` hash as its map step recorded.
fn check_digests(dir: &Path, partition: u32, cursors: &[Cursor], units: &[UnitDone]) -> Result<()> {
    for (c, u) in cursors.iter().zip(units) {
        let want = u.partition_hashes.get(partition as usize).copied();
        if want != Some(c.digest()) {
            return Err(run_err(
                c,
                format!(
                    "partition {partition} does not hash as its map step recorded ({:016x} vs {:016x}): damaged; \
                     delete the unit's folder ({}) and map it again",
                    c.digest(),
                    want.unwrap_or_default(),
                    unit_dir(dir, u.unit).display()
                ),
            ));
        }
    }
    Ok(())
}
