//! Another job's products as an input (`--input job:<ID>[,<ID>...]`): the deduplicated union of
//! one or more jobs of the same store, read in key order (a k-way merge of the jobs' product
//! scans; each scan is a RocksDB iterator, a consistent snapshot of its column family).
//!
//! A row is a distinct product (canonical SMILES) of the union, numbered in key order, so a
//! resume at row N skips the first N keys of the merge. The row's SMILES is the upstream product
//! (which becomes the parent of what is made from it), its id the upstream record's parent id
//! (the original molecule's id, carried down a chain of steps), its carried cells the upstream
//! record's carried cells by column name. When several jobs hold a key, the first job listed
//! supplies them.
//!
//! Only complete jobs can be read. The fingerprint covers each upstream job's id, RDKit, rule,
//! input fingerprint and counters (no timestamps), so a job rebuilt from another input or rule
//! since is a changed input and a resume is refused, while one rebuilt identically is not.

use std::iter::Peekable;
use std::sync::Arc;

use arrow_array::{ArrayRef, StringArray, UInt64Array};

use super::{batched, InputBatch, InputColumns, InputSpec, Scanned};
use crate::error::InputError;
use crate::store::{
    JobMeta, JobState, ProductRecord, ProductScan, ReadOnlyStore, Supplied, UpstreamRead, UpstreamReads,
};

/// The upstream jobs of a job input.
pub(super) struct JobInput {
    jobs: Vec<String>,
    /// Per upstream job, per requested carried column: its index in that job's carried cells.
    carry_at: Vec<Vec<Option<usize>>>,
    /// The shard stores of a partitioned run the jobs are read from (their keys are disjoint:
    /// the union is the same merge over every shard's scans); empty: the store passed in.
    shards: Vec<ReadOnlyStore>,
    /// The upstream jobs as they are now (of the first store).
    now: Vec<UpstreamRead>,
}

/// The rows a job growing from its upstream's earlier versions reads: the keys new since (not
/// in any upstream job as it was read then), in key order, numbered after the rows read then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrowthView {
    /// Per upstream job (in the input's order), the version read then (None: a job added to
    /// the upstream since, none of whose keys was read through it).
    before: Vec<Option<u64>>,
    /// Rows read then: the first new key is row `rows_before`.
    rows_before: u64,
}

/// The fingerprint of a set of upstream jobs as they are now.
pub fn upstream_fingerprint(metas: &[JobMeta]) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(b"jobs");
    for m in metas {
        h.update(m.id.as_bytes());
        h.update(&[0]);
        h.update(m.rdkit_version.as_bytes());
        h.update(&[0]);
        // No timestamps: the same upstream rebuilt identically is the same input (its content is
        // a function of its input, rule and RDKit), and exports of a campaign are then
        // byte-identical however often it was interrupted.
        for v in [
            m.input.rows,
            m.counters.inputs,
            m.offset,
            m.rule.hash,
            m.input.footer_hash,
            m.counters.site_products,
            m.counters.unique_products,
        ] {
            h.update(&v.to_le_bytes());
        }
    }
    h.digest()
}

impl JobInput {
    /// Checks that every job exists and is complete and that the carried columns exist
    /// upstream, counts the distinct products of the union and fingerprints the jobs.
    pub(super) fn open(
        jobs: &[String],
        cols: &InputColumns,
        store: &ReadOnlyStore,
    ) -> Result<(Self, Scanned), InputError> {
        Self::open_from(jobs, cols, &[store])
    }

    /// As [`JobInput::open`], the jobs read from every shard store of a partitioned run.
    pub(super) fn open_sharded(
        jobs: &[String],
        cols: &InputColumns,
        shards: Vec<ReadOnlyStore>,
    ) -> Result<(Self, Scanned), InputError> {
        let refs: Vec<&ReadOnlyStore> = shards.iter().collect();
        let (mut input, scanned) = Self::open_from(jobs, cols, &refs)?;
        input.shards = shards;
        Ok((input, scanned))
    }

    fn open_from(
        jobs: &[String],
        cols: &InputColumns,
        stores: &[&ReadOnlyStore],
    ) -> Result<(Self, Scanned), InputError> {
        let spec = InputSpec::Jobs(jobs.to_vec()).to_string();
        let upstream = |reason: String| InputError::Upstream { spec: spec.clone(), reason };
        if jobs.is_empty() {
            return Err(upstream("no job id after `job:`".into()));
        }
        let mut metas = Vec::with_capacity(jobs.len() * stores.len());
        for store in stores {
            for id in jobs {
                let meta = store
                    .job(id)
                    .map_err(|e| upstream(e.to_string()))?
                    .ok_or_else(|| upstream(format!("no job {id} in the store")))?;
                if meta.state != JobState::Complete {
                    return Err(upstream(format!(
                        "job {id} is not complete (row {} of {}); finish it first",
                        meta.offset, meta.input.rows
                    )));
                }
                metas.push(meta);
            }
        }
        let mut carry_at = Vec::with_capacity(jobs.len());
        for m in &metas[..jobs.len()] {
            carry_at.push(cols.carry.iter().map(|c| m.input.carry_columns.iter().position(|u| u == c)).collect());
        }
        for (k, c) in cols.carry.iter().enumerate() {
            if carry_at.iter().all(|v: &Vec<Option<usize>>| v[k].is_none()) {
                return Err(InputError::MissingColumn {
                    path: spec.as_str().into(),
                    column: c.clone(),
                    available: metas[0].input.carry_columns.join(", "),
                });
            }
        }
        let now = metas[..jobs.len()].iter().map(UpstreamRead::from).collect();
        let input = JobInput { jobs: jobs.to_vec(), carry_at, shards: Vec::new(), now };
        let mut rows = 0u64;
        for item in input.merge_over(stores, None)? {
            item?;
            rows += 1;
        }
        // An upstream job with no products is a complete job like any other: the jobs reading it
        // have no rows and complete at once (refusing it stopped every campaign with a step
        // that matches nothing in one class, on every rerun: #28).
        let size = metas.iter().map(|m| m.counters.unique_products).sum();
        Ok((input, Scanned { rows, size, fingerprint: upstream_fingerprint(&metas) }))
    }

    /// Whether the jobs are read from the shards of a partitioned run (no store needed).
    pub(super) fn is_sharded(&self) -> bool {
        !self.shards.is_empty()
    }

    /// The merge over the jobs' scans in every store of `stores`, job-major: keys of different
    /// stores are disjoint (shards), so equal keys meet only between jobs of one store, and the
    /// first job listed supplies the record, as with one store.
    fn merge_over<'s>(&self, stores: &[&'s ReadOnlyStore], view: Option<&GrowthView>) -> Result<Merge<'s>, InputError> {
        let mut scans = Vec::with_capacity(self.jobs.len() * stores.len());
        for (j, id) in self.jobs.iter().enumerate() {
            for store in stores {
                let scan = store
                    .scan(id)
                    .map_err(|e| InputError::Upstream { spec: self.jobs.join(","), reason: e.to_string() })?;
                scans.push((j, scan.peekable()));
            }
        }
        Ok(Merge { scans, before: view.map(|v| v.before.clone()) })
    }

    /// The upstream jobs as they are now: what a job made from this input records as read.
    pub(super) fn now(&self) -> &[UpstreamRead] {
        &self.now
    }

    /// The view of a job that read `reads.before` (its rows below `reads.rows_before`) and
    /// grows to the upstream as it is now (jobs added to it since read in full); None when
    /// `reads.before` is empty (every key is a row).
    pub(super) fn view(&self, reads: &UpstreamReads) -> Option<GrowthView> {
        if reads.before.is_empty() {
            return None;
        }
        let before = self.jobs.iter().map(|id| reads.before.iter().find(|r| &r.job == id).map(|r| r.version)).collect();
        Some(GrowthView { before, rows_before: reads.rows_before })
    }

    fn merge<'s>(
        &'s self,
        store: Option<&'s ReadOnlyStore>,
        view: Option<&GrowthView>,
    ) -> Result<Merge<'s>, InputError> {
        let stores: Vec<&ReadOnlyStore> =
            if self.is_sharded() { self.shards.iter().collect() } else { store.into_iter().collect() };
        if stores.is_empty() {
            return Err(InputError::Upstream {
                spec: self.jobs.join(","),
                reason: "no store to read the jobs from".into(),
            });
        }
        self.merge_over(&stores, view)
    }

    /// Batches of at most `batch_rows` rows from row `offset`, at most `limit` rows; with a
    /// growth `view`, only the keys new since it, numbered from its `rows_before`.
    pub(super) fn batches<'s>(
        &'s self,
        store: Option<&'s ReadOnlyStore>,
        offset: u64,
        batch_rows: usize,
        limit: Option<u64>,
        view: Option<&GrowthView>,
    ) -> Result<impl Iterator<Item = Result<InputBatch, InputError>> + 's, InputError> {
        let base = view.map_or(0, |v| v.rows_before);
        let rows = self.merge(store, view)?.filter(|r| !r.as_ref().is_ok_and(|r| r.old));
        batched(rows, offset.saturating_sub(base), batch_rows, limit, move |first_row, items: Vec<Row>| {
            let col = |f: &dyn Fn(&Row) -> Option<&str>| -> ArrayRef {
                Arc::new(items.iter().map(f).collect::<StringArray>())
            };
            let carried =
                (0..self.carry_at.first().map_or(0, Vec::len)).map(|k| col(&|r| self.carried(r, k))).collect();
            InputBatch {
                first_row: base + first_row,
                smiles: col(&|r| Some(r.key.as_str())),
                ids: Some(col(&|r| r.rec.parent_id.as_deref())),
                carried,
                bad: vec![],
                source_rows: Some(Arc::new(items.iter().map(|r| r.rec.parent_row).collect::<UInt64Array>())),
            }
        })
    }

    /// Carried cell `k` of a row: from its supplying job's record.
    fn carried<'r>(&self, r: &'r Row, k: usize) -> Option<&'r str> {
        self.carry_at[r.job][k].and_then(|at| r.rec.carried.get(at)?.as_deref())
    }

    /// The old keys of a growth `view` whose supplied values may have changed since they were
    /// read (see [`Row::resupplied`]): (key, source row, id, carried cells), in key order.
    /// What the products made from them must now carry as their first provenance's.
    pub(super) fn resupplied<'s>(
        &'s self,
        store: Option<&'s ReadOnlyStore>,
        view: &GrowthView,
    ) -> Result<impl Iterator<Item = Result<Supplied, InputError>> + 's, InputError> {
        let width = self.carry_at.first().map_or(0, Vec::len);
        Ok(self.merge(store, Some(view))?.filter(|r| !r.as_ref().is_ok_and(|r| !r.resupplied)).map(move |r| {
            let r = r?;
            let carried = (0..width).map(|k| self.carried(&r, k).map(str::to_owned)).collect();
            Ok(Supplied { key: r.key.clone(), row: r.rec.parent_row, id: r.rec.parent_id.clone(), carried })
        }))
    }
}

/// K-way merge of the upstream scans in key order, each key once (from the first job holding it).
struct Merge<'s> {
    /// (upstream job index, its scan in one store), job-major.
    scans: Vec<(usize, Peekable<ProductScan<'s>>)>,
    /// Per upstream job index, the version read before a growth (see [`GrowthView`]); None:
    /// every key is new.
    before: Option<Vec<Option<u64>>>,
}

impl GrowthView {
    /// Rows read before the growth: the first new key is this row.
    pub fn rows_before(&self) -> u64 {
        self.rows_before
    }
}

/// One key of the merge: the key, the index of the upstream job that supplies its record (the
/// first listed holding it), the record, and what a growth sees of it.
struct Row {
    key: String,
    job: usize,
    rec: ProductRecord,
    /// The key was in the upstream as read before the growth (a row read then).
    old: bool,
    /// An old key whose supplied record may differ from what was read then: another job
    /// supplies it now, or its provenance moved since.
    resupplied: bool,
}

impl Iterator for Merge<'_> {
    type Item = Result<Row, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut best: Option<(usize, String)> = None;
        for (i, (j, scan)) in self.scans.iter_mut().enumerate() {
            match scan.peek() {
                Some(Err(_)) => {
                    let Some(Err(e)) = scan.next() else { unreachable!() };
                    return Some(Err(InputError::Upstream {
                        spec: format!("upstream job #{j}"),
                        reason: e.to_string(),
                    }));
                }
                Some(Ok((k, _))) if best.as_ref().is_none_or(|(_, b)| k < b) => best = Some((i, k.clone())),
                None | Some(Ok(_)) => {}
            }
        }
        let (i, key) = best?;
        let j = self.scans[i].0;
        let (_, rec) = self.scans[i].1.next()?.ok()?;
        let before = &self.before;
        let read_then = |j: usize, since: u64| before.as_ref().is_some_and(|b| b[j].is_some_and(|v| since <= v));
        // the job that supplied the key before the growth: the first holding it then
        let mut old_supplier = read_then(j, rec.since).then_some(j);
        for (k, scan) in &mut self.scans[i + 1..] {
            if matches!(scan.peek(), Some(Ok((key2, _))) if *key2 == key) {
                if let Some(Ok((_, other))) = scan.next() {
                    if old_supplier.is_none() && read_then(*k, other.since) {
                        old_supplier = Some(*k);
                    }
                }
            }
        }
        let old = old_supplier.is_some();
        let resupplied = old_supplier.is_some_and(|o| o != j || !read_then(j, rec.moved));
        Some(Ok(Row { key, job: j, rec, old, resupplied }))
    }
}
