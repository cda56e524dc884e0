//! One input batch: transform all rows in parallel (rayon), then fold the outcomes in input
//! order into per-job deltas (counters + products merged per key, first provenance kept).

use std::collections::HashMap;

use rayon::prelude::*;

use crate::budget::{product_in_flight_bytes, ROW_FIXED_BYTES};
use crate::chem::SiteOutcome;
use crate::input::InputBatch;
use crate::rules::Rule;
use crate::store::{Counters, ProductRecord, RejectRecord};
use crate::transform::{transform_row, Reject, RowOptions, Transformed};

/// What a batch adds to one job.
#[derive(Default)]
pub struct JobDelta {
    pub counters: Counters,
    pub products: Vec<(String, ProductRecord)>,
    /// (canonical parent, product) pairs for the parent index, one per distinct pair of a row.
    pub parent_links: Vec<(String, String)>,
}

/// A transformed batch, ready to commit.
pub struct PreparedBatch {
    /// Row number just past the batch: every job's offset after the commit.
    pub end_row: u64,
    /// One delta per job, in job order.
    pub jobs: Vec<JobDelta>,
    /// Rejected rows of the batch, as stored: (input row, record).
    pub rejected: Vec<(u64, RejectRecord)>,
}

/// Consecutive input rows and their transform outcomes.
pub struct Chunk {
    pub rows: InputBatch,
    pub outcomes: Vec<Result<Transformed, Reject>>,
}

impl Chunk {
    /// Transforms every row of `rows` with `rules`, in parallel on the rayon pool.
    /// `opts.canonical_parent` also canonicalizes parents for the (canonical parent, product)
    /// links.
    pub fn transform(rows: InputBatch, rules: &[&Rule], opts: &RowOptions) -> Self {
        let outcomes = (0..rows.len())
            .into_par_iter()
            .map(|i| match rows.bad(i) {
                Some(reject) => Err(reject.clone()),
                None => transform_row(rows.smiles(i), rules, opts),
            })
            .collect();
        Self { rows, outcomes }
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
        let rows = self.outcomes.iter().enumerate();
        rows.map(|(i, o)| {
            let Ok(t) = o else { return ROW_FIXED_BYTES };
            let parent_len = self.rows.row_text_len(i);
            let products = t.per_rule.iter().flatten().map(|site| match site {
                SiteOutcome::Product { smiles, .. } => product_in_flight_bytes(smiles.len(), parent_len),
                SiteOutcome::SanitizeFailed { .. } => 0,
            });
            ROW_FIXED_BYTES + t.canonical_parent.as_ref().map_or(0, |p| p.len() as u64) + products.sum::<u64>()
        })
        .sum()
    }

    /// Rows RDKit rejected (null, unparsable, unsanitizable).
    pub fn rejected(&self) -> u64 {
        self.outcomes.iter().filter(|o| o.is_err()).count() as u64
    }
}

/// Folds consecutive chunks into one batch: per job, counters and products merged per key
/// (first provenance kept). Rows before a job's `offsets[j]` are already committed for that job
/// and are not counted again.
pub fn fold(chunks: Vec<Chunk>, jobs: usize, offsets: &[u64]) -> PreparedBatch {
    let end_row = chunks.last().map_or(0, |c| c.rows.first_row + c.rows.len() as u64);
    let jobs = (0..jobs).map(|j| fold_job(&chunks, j, offsets[j])).collect();
    let mut rejected = Vec::new();
    for Chunk { rows, outcomes } in &chunks {
        for (i, o) in outcomes.iter().enumerate() {
            if let Err(r) = o {
                let rec = RejectRecord {
                    id: rows.id(i),
                    smiles: rows.smiles(i).map(str::to_owned),
                    reason: r.key().to_owned(),
                    detail: r.detail(),
                };
                rejected.push((rows.first_row + i as u64, rec));
            }
        }
    }
    PreparedBatch { end_row, jobs, rejected }
}

fn fold_job(chunks: &[Chunk], job: usize, offset: u64) -> JobDelta {
    let mut delta = JobDelta::default();
    let mut index: HashMap<String, usize> = HashMap::new();
    let rows = chunks.iter().flat_map(|c| c.outcomes.iter().enumerate().map(move |(i, o)| (&c.rows, i, o)));
    for (batch, i, outcome) in rows {
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
                    match index.get(smiles) {
                        Some(&k) => delta.products[k].1.occurrences += 1,
                        None => {
                            index.insert(smiles.clone(), delta.products.len());
                            let rec = ProductRecord {
                                parent_row: row,
                                parent_id: batch.id(i),
                                parent_smiles: batch.smiles(i).unwrap_or_default().to_owned(),
                                site_index: site_index as u32,
                                site_atoms: site_atoms.clone(),
                                occurrences: 1,
                                props: props.map(Into::into),
                                carried: batch.carried(i),
                            };
                            delta.products.push((smiles.clone(), rec));
                        }
                    }
                }
            }
        }
    }
    delta
}
