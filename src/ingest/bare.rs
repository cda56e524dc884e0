//! The bare transform loop: the same reader and the same per-row transform as ingest, in
//! parallel on the rayon pool, with nothing else (no dedup, no store, no flow control). It is the
//! yardstick for the pipeline's own cost: ingest throughput divided by this loop's is the share
//! of time left to RDKit (`xfstore bench-transform`, `tools/bench_ingest.sh`).

use std::time::Instant;

use rayon::prelude::*;

use super::reader::InputFile;
use crate::chem::SiteOutcome;
use crate::error::Result;
use crate::rules::Rule;
use crate::transform::transform_row;

/// What the bare loop did.
#[derive(Debug, Clone, Default)]
pub struct BareReport {
    pub rows: u64,
    /// Rows RDKit could not parse or sanitize.
    pub rejected: u64,
    /// Products (one per parent x site), over all rules.
    pub site_products: u64,
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
    for batch in input.batches(0, batch_rows.max(1), limit)? {
        let batch = batch?;
        let (products, rejected) = (0..batch.len())
            .into_par_iter()
            .map(|i| match transform_row(batch.smiles(i), rules, with_props, false) {
                Ok(t) => {
                    let n = t.per_rule.iter().flatten().filter(|s| matches!(s, SiteOutcome::Product { .. })).count();
                    (n as u64, 0u64)
                }
                Err(_) => (0, 1),
            })
            .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        report.rows += batch.len() as u64;
        report.site_products += products;
        report.rejected += rejected;
    }
    report.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(report)
}
