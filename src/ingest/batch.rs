//! One input batch: transform all rows in parallel (rayon), then fold the outcomes in input
//! order into per-job deltas (counters + products merged per key, first provenance kept).

use std::collections::HashMap;

use rayon::prelude::*;

use super::reader::InputBatch;
use crate::chem::SiteOutcome;
use crate::rules::Rule;
use crate::store::{Counters, ProductRecord, RejectRecord};
use crate::transform::{transform_row, Reject, Transformed};

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

/// Transforms `batch` for every job. Rows before a job's `offsets[j]` are already committed
/// for that job and are not counted again.
/// `index_parents` also records (canonical parent, product) links.
pub fn prepare(
    batch: &InputBatch,
    rules: &[&Rule],
    offsets: &[u64],
    with_props: bool,
    index_parents: bool,
) -> PreparedBatch {
    let outcomes: Vec<Result<Transformed, Reject>> = (0..batch.len())
        .into_par_iter()
        .map(|i| transform_row(batch.smiles(i), rules, with_props, index_parents))
        .collect();
    let jobs = (0..rules.len()).map(|j| fold_job(batch, &outcomes, j, offsets[j])).collect();
    let rejected = outcomes
        .iter()
        .enumerate()
        .filter_map(|(i, o)| {
            o.as_ref().err().map(|r| {
                let rec = RejectRecord {
                    id: batch.id(i),
                    smiles: batch.smiles(i).map(str::to_owned),
                    reason: r.key().to_owned(),
                    detail: r.detail().to_owned(),
                };
                (batch.first_row + i as u64, rec)
            })
        })
        .collect();
    PreparedBatch { end_row: batch.first_row + batch.len() as u64, jobs, rejected }
}

fn fold_job(batch: &InputBatch, outcomes: &[Result<Transformed, Reject>], job: usize, offset: u64) -> JobDelta {
    let mut delta = JobDelta::default();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, outcome) in outcomes.iter().enumerate() {
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
