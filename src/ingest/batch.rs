//! One input batch: transform all rows in parallel (rayon), then fold the outcomes chunk by
//! chunk, in input order, into per-job deltas (counters + products merged per key, first
//! provenance kept). With a [`Novelty`] check, each product new to the batch is classified as
//! new to the store or not as its chunk is folded, and properties are computed then, in
//! parallel, for the new ones only, on the molecules the transform kept (so never twice for one
//! product, and bit-identical to computing them at once).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use rayon::prelude::*;

use super::novelty::Novelty;
use crate::budget::{pickled_bytes, product_in_flight_bytes, ROW_FIXED_BYTES};
use crate::chem::{PickledMol, PropsMode, SiteOutcome};
use crate::error::Result;
use crate::input::InputBatch;
use crate::rules::Rule;
use crate::store::{Counters, ProductRecord, Props, RejectRecord, Store};
use crate::transform::{transform_row_with, Reject, RowMols, RowOptions, Transformed};

/// What a batch adds to one job.
#[derive(Default)]
pub struct JobDelta {
    pub counters: Counters,
    pub products: Vec<(String, ProductRecord)>,
    /// (canonical parent, product) pairs for the parent index, one per distinct pair of a row.
    pub parent_links: Vec<(String, String)>,
    /// Root rows for the lineage index (a file input's rows that made products).
    pub roots: Vec<crate::store::RootRow>,
    /// Per product (same order), whether its key is new to the store; None without a novelty
    /// check (the commit then reads the keys).
    pub novel: Option<Vec<bool>>,
    /// Product key -> its index in `products`.
    index: HashMap<String, usize>,
}

impl JobDelta {
    /// Drops the products at `dropped` (indices at or after `first_new`, the current chunk's;
    /// ascending) that a property filter rejected: counted as `filtered` (their occurrences),
    /// out of the products, their verdicts (`verdicts`, from `first_new`) and the parent links.
    /// Returns their keys.
    fn drop_filtered(&mut self, first_new: usize, dropped: &[usize], verdicts: &mut Vec<bool>) -> Vec<String> {
        let mut keys = Vec::with_capacity(dropped.len());
        let mut keep_mask = vec![true; self.products.len() - first_new];
        for &k in dropped {
            keep_mask[k - first_new] = false;
            self.counters.filtered += self.products[k].1.occurrences;
            keys.push(self.products[k].0.clone());
        }
        let tail = self.products.split_off(first_new);
        self.products.extend(tail.into_iter().zip(&keep_mask).filter(|(_, k)| **k).map(|(p, _)| p));
        let mut mask = keep_mask.iter();
        verdicts.retain(|_| *mask.next().unwrap_or(&true));
        for key in &keys {
            self.index.remove(key);
        }
        for (i, (key, _)) in self.products.iter().enumerate().skip(first_new) {
            self.index.insert(key.clone(), i);
        }
        let gone: std::collections::HashSet<&str> = keys.iter().map(String::as_str).collect();
        self.parent_links.retain(|(_, product)| !gone.contains(product.as_str()));
        keys
    }
}

/// A transformed batch, ready to commit.
pub struct PreparedBatch {
    /// Row number just past the batch: every job's offset after the commit.
    pub end_row: u64,
    /// One delta per job, in job order.
    pub jobs: Vec<JobDelta>,
    /// Rejected rows of the batch, as stored: (input row, record).
    pub rejected: Vec<(u64, RejectRecord)>,
    /// Products whose properties were computed for this batch (the ones new to the store).
    pub props_computed: u64,
}

/// Consecutive input rows and their transform outcomes.
pub struct Chunk {
    pub rows: InputBatch,
    pub outcomes: Vec<Result<Transformed, Reject>>,
    /// Per row, the product molecules kept for properties computed later ([`PropsMode::Later`]);
    /// empty otherwise.
    pub mols: Vec<RowMols>,
}

impl Chunk {
    /// Transforms every row of `rows` with `rules`, in parallel on the rayon pool, computing
    /// properties as `mode` says. `opts.canonical_parent` also canonicalizes parents for the
    /// (canonical parent, product) links.
    pub fn transform(rows: InputBatch, rules: &[&Rule], opts: &RowOptions, mode: PropsMode) -> Self {
        Self::transform_within(&rows, rules, opts, mode, ChunkLimit::NONE)
    }

    /// Like [`Chunk::transform`], but stops taking rows once what the rows done so far hold
    /// reaches `limit`: the chunk is then the rows `0..n` of `rows` (at least one; zero-copy
    /// slices), and the caller takes the rest again. The threads take rows in order from one counter
    /// and check the limit before each, so a chunk holds at most the limit plus one row per
    /// thread, however its rows differ (a run of 224-product natural products after light
    /// rows made one chunk hold 4x the batch target when its size came from an estimate).
    pub fn transform_within(
        rows: &InputBatch,
        rules: &[&Rule],
        opts: &RowOptions,
        mode: PropsMode,
        limit: ChunkLimit,
    ) -> Self {
        let len = rows.len();
        let (next, held, mols_held) = (AtomicUsize::new(0), AtomicU64::new(0), AtomicU64::new(0));
        let over = || held.load(Relaxed) >= limit.bytes.max(1) || mols_held.load(Relaxed) >= limit.mol_bytes.max(1);
        let threads = rayon::current_num_threads();
        let done: Vec<Vec<(usize, Outcome, RowMols)>> = (0..threads)
            .into_par_iter()
            .with_max_len(1)
            .map(|_| {
                let mut mine = Vec::new();
                // checked before taking a row, so every row taken is done: the rows done are
                // always a prefix of the chunk
                while !over() {
                    let i = next.fetch_add(1, Relaxed);
                    if i >= len {
                        break;
                    }
                    let (outcome, mols) = transform_one(rows, i, rules, opts, mode);
                    held.fetch_add(row_bytes(rows, i, &outcome), Relaxed);
                    mols_held.fetch_add(mols.iter().flatten().flatten().map(pickled_bytes).sum(), Relaxed);
                    mine.push((i, outcome, mols));
                }
                mine
            })
            .collect();
        let mut done: Vec<_> = done.into_iter().flatten().collect();
        done.sort_unstable_by_key(|(i, ..)| *i);
        debug_assert!(done.iter().enumerate().all(|(k, (i, ..))| k == *i), "rows done are a prefix");
        let taken = done.len();
        let (outcomes, mols): (Vec<_>, Vec<_>) = done.into_iter().map(|(_, o, m)| (o, m)).unzip();
        let mols = if mode == PropsMode::Later { mols } else { Vec::new() };
        Self { rows: rows.slice(0, taken), outcomes, mols }
    }

    /// Products (one per parent x site) over all rules.
    pub fn products(&self) -> u64 {
        self.outcomes.iter().flatten().map(Transformed::products).sum()
    }

    /// Bytes the chunk's work holds until committed, as the budget counts them
    /// ([`product_in_flight_bytes`] per product, from the actual lengths of the product SMILES
    /// and of the parent's SMILES, id and carried cells, plus a fixed cost and the canonical
    /// parent per row).
    pub fn bytes(&self) -> u64 {
        self.outcomes.iter().enumerate().map(|(i, o)| row_bytes(&self.rows, i, o)).sum()
    }

    /// Bytes of the product molecules the chunk keeps for properties ([`pickled_bytes`] each):
    /// held until the chunk is folded, so they bound the chunk's size, not the batch's.
    pub fn mol_bytes(&self) -> u64 {
        self.mols.iter().flatten().flatten().flatten().map(pickled_bytes).sum()
    }

    /// Rows RDKit rejected (null, unparsable, unsanitizable).
    pub fn rejected(&self) -> u64 {
        self.outcomes.iter().filter(|o| o.is_err()).count() as u64
    }
}

/// What one chunk may hold before it stops taking rows ([`Chunk::transform_within`]).
#[derive(Clone, Copy, Debug)]
pub struct ChunkLimit {
    /// Bytes in flight, as [`Chunk::bytes`] counts them.
    pub bytes: u64,
    /// Bytes of kept product molecules, as [`Chunk::mol_bytes`] counts them.
    pub mol_bytes: u64,
}

impl ChunkLimit {
    /// No limit: every row of the chunk is transformed.
    pub const NONE: Self = Self { bytes: u64::MAX, mol_bytes: u64::MAX };
}

type Outcome = std::result::Result<Transformed, Reject>;

/// Transforms row `i` of `rows` (a row the reader rejected stays rejected).
fn transform_one(
    rows: &InputBatch,
    i: usize,
    rules: &[&Rule],
    opts: &RowOptions,
    mode: PropsMode,
) -> (Outcome, RowMols) {
    match rows.bad(i) {
        Some(reject) => (Err(reject.clone()), Vec::new()),
        None => match transform_row_with(rows.smiles(i), rules, opts, mode) {
            Ok((t, mols)) => (Ok(t), mols),
            Err(r) => (Err(r), Vec::new()),
        },
    }
}

/// Bytes row `i`'s outcome holds until committed ([`product_in_flight_bytes`] per product, from
/// the actual lengths of the product SMILES and of the parent's SMILES, id and carried cells,
/// plus a fixed cost and the canonical parent).
fn row_bytes(rows: &InputBatch, i: usize, outcome: &Outcome) -> u64 {
    let Ok(t) = outcome else { return ROW_FIXED_BYTES };
    let parent_len = rows.row_text_len(i);
    let products = t.per_rule.iter().flatten().map(|site| match site {
        SiteOutcome::Product { smiles, .. } => product_in_flight_bytes(smiles.len(), parent_len),
        SiteOutcome::SanitizeFailed { .. } => 0,
    });
    ROW_FIXED_BYTES + t.canonical_parent.as_ref().map_or(0, |p| p.len() as u64) + products.sum::<u64>()
}

/// A batch being assembled, chunk by chunk, in input order.
pub struct BatchBuilder {
    jobs: Vec<JobDelta>,
    props_computed: u64,
    rejected: Vec<(u64, RejectRecord)>,
    end_row: u64,
    offsets: Vec<u64>,
    /// Keep only the products whose properties satisfy this (computed properties only: a product
    /// the store holds already passed it).
    keep: Option<crate::Keep>,
    /// Per job: products the store holds get properties too (a job growing from new upstream
    /// keys: its first provenance may move to this batch's parent, whose product molecule
    /// then gives the properties, `store/merge.rs`; their last bits depend on the molecule's
    /// atom order).
    props_for_known: Vec<bool>,
}

impl BatchBuilder {
    /// An empty batch for jobs that resumed at `offsets` (rows before a job's offset are
    /// already committed for it and are not counted again).
    pub fn new(offsets: &[u64], with_novelty: bool) -> Self {
        let jobs =
            offsets.iter().map(|_| JobDelta { novel: with_novelty.then(Vec::new), ..JobDelta::default() }).collect();
        let props_for_known = vec![false; offsets.len()];
        Self {
            jobs,
            props_computed: 0,
            rejected: Vec::new(),
            end_row: 0,
            offsets: offsets.to_vec(),
            props_for_known,
            keep: None,
        }
    }

    /// Keep only the products whose computed properties satisfy `keep`.
    pub fn keep(mut self, keep: Option<crate::Keep>) -> Self {
        self.keep = keep;
        self
    }

    /// Per job, whether products the store already holds get properties too.
    pub fn props_for_known(mut self, flags: &[bool]) -> Self {
        self.props_for_known = flags.to_vec();
        self
    }

    /// Folds the next chunk in. With `novelty`, the chunk's products new to the batch are
    /// classified against the store; then, if the chunk kept its product molecules, the
    /// properties of the products new to the store are computed (in parallel), and only theirs.
    /// Without `novelty` but with kept molecules, every product new to the batch gets them.
    pub fn add(&mut self, mut chunk: Chunk, mut novelty: Option<(&mut Novelty, &Store)>) -> Result<()> {
        self.end_row = chunk.rows.first_row + chunk.rows.len() as u64;
        for (j, delta) in self.jobs.iter_mut().enumerate() {
            let first_new = delta.products.len();
            let sources = fold_job(delta, &chunk, j, self.offsets[j]);
            let keys: Vec<&str> = delta.products[first_new..].iter().map(|(k, _)| k.as_str()).collect();
            let mut verdicts = match novelty.as_mut() {
                Some((check, store)) => check.classify(store, j, &keys)?,
                // no store to ask (a partitioned run's map step): every product new to the
                // batch is new, and gets its properties now, from its first provenance
                None if !chunk.mols.is_empty() => vec![true; keys.len()],
                None => continue,
            };
            if !chunk.mols.is_empty() {
                // the molecules of the products new to the store, moved out of the chunk
                let todo: Vec<(usize, PickledMol)> = sources
                    .iter()
                    .zip(&verdicts)
                    .enumerate()
                    .filter(|(_, (_, novel))| **novel || self.props_for_known[j])
                    .filter_map(|(k, (&(row, site), _))| {
                        chunk.mols[row].get_mut(j)?.get_mut(site)?.take().map(|m| (first_new + k, m))
                    })
                    .collect();
                let props: Vec<(usize, Option<crate::chem::MolProps>)> =
                    todo.into_par_iter().map(|(k, mol)| (k, mol.props().ok())).collect();
                self.props_computed += props.len() as u64;
                let mut dropped = Vec::new();
                for (k, p) in props {
                    let p: Option<Props> = p.map(Into::into);
                    if let (Some(keep), Some(p)) = (&self.keep, &p) {
                        if !keep.keeps(p) {
                            dropped.push(k);
                        }
                    }
                    delta.products[k].1.props = p;
                }
                if !dropped.is_empty() {
                    let forgotten = delta.drop_filtered(first_new, &dropped, &mut verdicts);
                    if let Some((check, _)) = novelty.as_mut() {
                        check.forget(j, &forgotten);
                    }
                }
            }
            if novelty.is_some() {
                delta.novel.get_or_insert_with(Vec::new).extend(verdicts);
            }
        }
        for (i, o) in chunk.outcomes.iter().enumerate() {
            if let Err(r) = o {
                let rows = &chunk.rows;
                let rec = RejectRecord {
                    id: rows.id(i),
                    smiles: rows.smiles(i).map(str::to_owned),
                    reason: r.key().to_owned(),
                    detail: r.detail(),
                };
                self.rejected.push((rows.first_row + i as u64, rec));
            }
        }
        Ok(())
    }

    /// The assembled batch.
    pub fn finish(self) -> PreparedBatch {
        PreparedBatch {
            end_row: self.end_row,
            jobs: self.jobs,
            rejected: self.rejected,
            props_computed: self.props_computed,
        }
    }
}

/// Folds one chunk into a job's delta; returns, for each product the chunk added to the
/// delta (new to the batch), the (row in chunk, site) it came from.
fn fold_job(delta: &mut JobDelta, chunk: &Chunk, job: usize, offset: u64) -> Vec<(usize, usize)> {
    let mut sources = Vec::new();
    let batch = &chunk.rows;
    for (i, outcome) in chunk.outcomes.iter().enumerate() {
        let row = batch.first_row + i as u64;
        if row < offset {
            continue;
        }
        let c = &mut delta.counters;
        c.inputs += 1;
        let sites = match outcome {
            Err(reject) => {
                *c.failed.entry(reject.key().to_owned()).or_default() += 1;
                continue;
            }
            Ok(t) => t,
        };
        c.masked_sites += u64::from(sites.masked[job]);
        let sites = &sites.per_rule[job];
        let parent = outcome.as_ref().ok().and_then(|t| t.canonical_parent.as_ref());
        let links_from = delta.parent_links.len();
        if sites.is_empty() {
            c.no_site += 1;
        }
        if let Some(p) = parent.filter(|_| batch.source_rows.is_none()) {
            delta.roots.push((p.clone(), row, batch.id(i).filter(|id| !id.is_empty())));
        }
        for (site_index, site) in sites.iter().enumerate() {
            match site {
                SiteOutcome::SanitizeFailed { .. } => delta.counters.product_failed += 1,
                SiteOutcome::Product { smiles, site_atoms, props } => {
                    delta.counters.site_products += 1;
                    if let Some(p) = parent {
                        if !delta.parent_links[links_from..].iter().any(|(_, q)| q == smiles) {
                            delta.parent_links.push((p.clone(), smiles.clone()));
                        }
                    }
                    match delta.index.get(smiles) {
                        Some(&k) => delta.products[k].1.occurrences += 1,
                        None => {
                            delta.index.insert(smiles.clone(), delta.products.len());
                            let rec = ProductRecord {
                                parent_row: batch.source_row(i),
                                parent_id: batch.id(i),
                                parent_smiles: batch.smiles(i).unwrap_or_default().to_owned(),
                                site_index: site_index as u32,
                                site_atoms: site_atoms.clone(),
                                occurrences: 1,
                                props: props.map(Into::into),
                                carried: batch.carried(i),
                                since: 0, // stamped by the writer
                                moved: 0,
                            };
                            delta.products.push((smiles.clone(), rec));
                            sources.push((i, site_index));
                        }
                    }
                }
            }
        }
    }
    sources
}
