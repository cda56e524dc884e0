//! The bare transform loop: the same reader and the same parallel chunk transform as ingest
//! ([`Chunk::transform`]), with nothing else (no dedup, no store, no flow control). It is the
//! yardstick for the pipeline's own cost: ingest throughput divided by this loop's is the share
//! of time left to RDKit (`xfstore bench-transform`, `tools/bench_ingest.py`).

use std::time::Instant;

use super::batch::Chunk;
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
    for batch in input.batches(None, 0, batch_rows.max(1), limit)? {
        let chunk = Chunk::transform(batch?, rules, &RowOptions { with_props, ..RowOptions::default() });
        report.rows += chunk.rows.len() as u64;
        report.site_products += chunk.products();
        report.rejected += chunk.rejected();
    }
    report.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(report)
}
