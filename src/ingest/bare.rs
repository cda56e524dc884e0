//! The bare transform loop: the same reader and the same parallel chunk transform as ingest
//! ([`Chunk::transform`]), with nothing else (no store, no flow control). With properties, it
//! computes them as ingest does, once per distinct product (first seen, from the molecules the
//! transform kept; an in-memory set of the keys seen), so it is the yardstick for the
//! pipeline's own cost: ingest throughput divided by this loop's is the share of time left to
//! RDKit (`xfstore bench-transform`, `tools/bench/bench_ingest.py`).

use std::collections::HashSet;
use std::time::Instant;

use rayon::prelude::*;

use super::batch::Chunk;
use crate::chem::{PropsMode, SiteOutcome};
use crate::error::Result;
use crate::input::InputFile;
use crate::rules::Rule;
use crate::transform::RowOptions;

/// What the bare loop did.
#[derive(Debug, Clone, Default)]
pub struct BareReport {
    /// Input rows transformed.
    pub rows: u64,
    /// Rows RDKit could not parse or sanitize.
    pub rejected: u64,
    /// Products (one per parent x site), over all rules.
    pub site_products: u64,
    /// Products whose properties were computed (the distinct ones; 0 without properties).
    pub props_computed: u64,
    /// Wall-clock seconds.
    pub elapsed_secs: f64,
}

/// Transforms up to `limit` rows of `input` with `rules`, `batch_rows` rows at a time, and
/// counts the products.
pub fn bare_loop(
    input: &InputFile,
    rules: &[&Rule],
    batch_rows: usize,
    with_props: bool,
    limit: Option<u64>,
) -> Result<BareReport> {
    let started = Instant::now();
    let mut report = BareReport::default();
    let mode = if with_props { PropsMode::Later } else { PropsMode::None };
    let mut seen: Vec<HashSet<String>> = rules.iter().map(|_| HashSet::new()).collect();
    // chunks as small as ingest's (at most CHUNK_ROWS_PER_THREAD rows per thread), so the
    // product molecules kept for properties stay few
    let chunk_rows = super::flow::CHUNK_ROWS_PER_THREAD * rayon::current_num_threads();
    for batch in input.batches(None, 0, batch_rows.max(1), limit)? {
        let batch = batch?;
        for part in batch.chunks(chunk_rows) {
            let mut chunk = Chunk::transform(part, rules, &RowOptions { with_props, ..RowOptions::default() }, mode);
            let mut todo = Vec::new();
            for (row, outcome) in chunk.outcomes.iter().enumerate() {
                let Ok(t) = outcome else { continue };
                for (j, sites) in t.per_rule.iter().enumerate() {
                    for (site, outcome) in sites.iter().enumerate() {
                        if let SiteOutcome::Product { smiles, .. } = outcome {
                            if with_props && seen[j].insert(smiles.clone()) {
                                todo.extend(chunk.mols[row][j][site].take());
                            }
                        }
                    }
                }
            }
            report.props_computed += todo.into_par_iter().map(|m| m.props().is_ok() as u64).sum::<u64>();
            report.rows += chunk.rows.len() as u64;
            report.site_products += chunk.products();
            report.rejected += chunk.rejected();
        }
    }
    report.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(report)
}
