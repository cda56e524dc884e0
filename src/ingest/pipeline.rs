//! The ingest pipeline of one run: a feeder (this thread) cuts the input into batches sized by
//! [`Flow`], transforms each on the rayon pool, and hands it to a single writer thread that
//! commits batches strictly in input order, each as ONE WriteBatch holding the products, the
//! counters and the new offset. At most [`IN_FLIGHT`] prepared batches, and at most the budget's
//! products, wait for the writer.

use std::sync::mpsc::sync_channel;
use std::time::Instant;

use super::batch::{prepare, PreparedBatch};
use super::flow::{Flow, Sizer};
use super::progress::Progress;
use super::reader::{Batches, InputBatch};
use super::{job, IngestOptions};
use crate::error::{IngestError, InputError, Result};
use crate::rules::Rule;
use crate::store::{JobBatch, JobMeta, JobState, RejectBatch, RejectRecord, Store};

/// Prepared batches allowed to wait for the writer (products in flight are bounded separately).
pub const IN_FLIGHT: usize = 2;

/// What the pipeline did.
pub(super) struct Outcome {
    pub rejected: Vec<(u64, RejectRecord)>,
    pub site_products: u64,
    pub peak_rss: u64,
    pub throttled: u64,
}

/// Everything one run needs.
pub(super) struct Pipeline<'a> {
    pub store: &'a Store,
    pub rules: &'a [&'a Rule],
    pub opts: &'a IngestOptions,
    pub input_key: &'a str,
    pub rows_total: u64,
    /// Per job: the offset it resumed from.
    pub resumed: &'a [u64],
}

impl Pipeline<'_> {
    pub(super) fn run(&self, metas: &mut [JobMeta], batches: Batches, progress: &Progress) -> Result<Outcome> {
        let flow = Flow::new(self.opts.budget, self.opts.batch_rows);
        let (tx, rx) = sync_channel::<(PreparedBatch, u64)>(IN_FLIGHT);
        std::thread::scope(|s| {
            let writer = s.spawn(|| self.write(metas, rx, &flow, progress));
            let fed = self.feed(batches, &flow, tx);
            let written = writer.join().map_err(|_| IngestError::Writer("writer thread panicked".into()))?;
            let (rejected, site_products) = written?;
            fed?;
            Ok(Outcome { rejected, site_products, peak_rss: flow.peak_rss(), throttled: flow.throttled() })
        })
    }

    fn feed(&self, batches: Batches, flow: &Flow, tx: std::sync::mpsc::SyncSender<(PreparedBatch, u64)>) -> Result<()> {
        let mut slicer = Slicer { batches, current: None, at: 0 };
        let mut sizer = Sizer::new();
        loop {
            let rows = flow.next_batch_rows(&sizer);
            let Some(batch) = slicer.take(rows)? else { return Ok(()) };
            let opts = self.opts;
            let prepared = prepare(&batch, self.rules, self.resumed, opts.with_props, opts.index_parents);
            let products: u64 = prepared.jobs.iter().map(|j| j.counters.site_products).sum();
            sizer.observe(batch.len(), products);
            flow.prepared(products);
            if tx.send((prepared, products)).is_err() {
                return Ok(()); // the writer failed; its error is reported by run()
            }
        }
    }

    fn write(
        &self,
        metas: &mut [JobMeta],
        rx: std::sync::mpsc::Receiver<(PreparedBatch, u64)>,
        flow: &Flow,
        progress: &Progress,
    ) -> Result<(Vec<(u64, RejectRecord)>, u64)> {
        let mut last = Instant::now();
        let mut rejected = Vec::new();
        let mut made = 0u64;
        for (prepared, products) in rx {
            let now = Instant::now();
            let busy = now.duration_since(last).as_secs_f64();
            last = now;
            let mut batch_jobs = Vec::with_capacity(metas.len());
            for (meta, delta) in metas.iter_mut().zip(prepared.jobs) {
                if prepared.end_row <= meta.offset {
                    continue;
                }
                made += delta.counters.site_products;
                meta.counters.add(&delta.counters);
                meta.offset = prepared.end_row;
                meta.busy_secs += busy;
                meta.updated_unix = job::now_unix();
                if meta.offset >= self.rows_total {
                    meta.state = JobState::Complete;
                }
                batch_jobs.push(JobBatch { meta, products: delta.products, parent_links: delta.parent_links });
            }
            let rejects = RejectBatch { input_key: self.input_key, rows: &prepared.rejected };
            self.store.commit(&mut batch_jobs, rejects)?;
            drop(batch_jobs);
            flow.committed(products);
            progress.advance(prepared.end_row, made, flow.last_rss());
            let room = 10_000usize.saturating_sub(rejected.len());
            rejected.extend(prepared.rejected.into_iter().take(room));
        }
        progress.finish();
        Ok((rejected, made))
    }
}

/// Cuts the reader's record batches into batches of any requested size (zero-copy slices).
struct Slicer {
    batches: Batches,
    current: Option<InputBatch>,
    at: usize,
}

impl Slicer {
    fn take(&mut self, rows: usize) -> Result<Option<InputBatch>, InputError> {
        loop {
            if let Some(cur) = &self.current {
                if self.at < cur.len() {
                    let n = rows.min(cur.len() - self.at);
                    let out = cur.slice(self.at, n);
                    self.at += n;
                    return Ok(Some(out));
                }
            }
            match self.batches.next() {
                None => return Ok(None),
                Some(next) => {
                    self.current = Some(next?);
                    self.at = 0;
                }
            }
        }
    }
}
