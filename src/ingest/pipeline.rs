//! The ingest pipeline of one run: a feeder (this thread) transforms the input chunk by chunk on
//! the rayon pool, gathers chunks into batches of about the bytes [`Flow`] allows, and hands
//! each batch to a single writer thread that commits batches strictly in input order (by bulk
//! load: one sorted SST per job whose ingestion carries the products, the counters and the new
//! offset; see `store/write.rs`). The feeder also decides which products are new to the store
//! (`novelty.rs`) and computes their properties, so the writer never reads. At most
//! [`IN_FLIGHT`] prepared batches, and at most the budget's in-flight bytes, wait for the writer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
use std::time::Instant;

use super::batch::{BatchBuilder, Chunk, ChunkLimit, PreparedBatch};
use super::flow::{Flow, Sizer};
use super::novelty::Novelty;
use super::progress::Progress;
use super::replay::StreamReader;
use super::{job, CommitPoint, IngestOptions, IngestReport, WritePath};
use crate::budget::MemoryBudget;
use crate::chem::PropsMode;
use crate::error::{IngestError, InputError, Result};
use crate::input::{Batches, InputBatch};
use crate::rules::Rule;
use crate::store::{JobBatch, JobMeta, JobState, RejectBatch, RejectRecord, Store};

/// Prepared batches allowed to wait for the writer (bytes in flight are bounded separately).
pub const IN_FLIGHT: usize = 2;

/// Where a chunk's transform outcomes come from.
#[derive(Clone, Copy)]
pub(super) enum Source<'a> {
    /// RDKit, on the rayon pool (every real ingest).
    Rdkit,
    /// A recorded product stream (the writer benchmark, see `replay.rs`).
    Replay(&'a std::sync::Mutex<StreamReader>),
}

/// Everything one run needs.
pub(super) struct Pipeline<'a> {
    pub source: Source<'a>,
    pub store: &'a Store,
    pub rules: &'a [&'a Rule],
    pub opts: &'a IngestOptions,
    /// `opts.budget` as this store's writer keeps it ([`MemoryBudget::for_families`]).
    pub budget: MemoryBudget,
    pub input_key: &'a str,
    pub rows_total: u64,
    /// Per job: the offset it resumed from.
    pub resumed: &'a [u64],
    /// Per job: whether it grows from new upstream keys (products it holds get properties
    /// too, see [`BatchBuilder::props_for_known`]).
    pub growing: &'a [bool],
}

impl Pipeline<'_> {
    /// Streams `batches` into the store and records what it did in `report`.
    pub(super) fn run(
        &self,
        metas: &mut [JobMeta],
        batches: Batches<'_>,
        progress: &Progress,
        report: &mut IngestReport,
    ) -> Result<()> {
        let flow = Flow::new(self.budget, self.opts.batch_rows);
        let (tx, rx) = sync_channel::<(PreparedBatch, Load)>(IN_FLIGHT);
        let committed = AtomicU64::new(0);
        let job_ids: Vec<String> = metas.iter().map(|m| m.id.clone()).collect();
        std::thread::scope(|s| {
            let writer = s.spawn(|| {
                // poisons the flow however the writer ends (error, panic, end of input), so a
                // feeder waiting for room is released
                let _poison = PoisonOnDrop(&flow);
                self.write(metas, rx, &flow, progress, &committed)
            });
            let fed = self.feed(batches, &flow, tx, job_ids, &committed);
            let written = writer.join().map_err(|_| IngestError::Writer("writer thread panicked".into()))?;
            let w = written?;
            fed?;
            report.rejected = w.rejected;
            report.site_products = w.made;
            report.batches = w.batches;
            report.max_batch_products = w.max_batch_products;
            report.max_batch_bytes = w.max_batch_bytes;
            report.commit_secs = w.commit_secs;
            report.timeline = w.timeline;
            report.props_computed = w.props_computed;
            report.commit_cpu_secs = w.commit_cpu_secs;
            report.peak_rss = flow.peak_rss();
            report.store_memory = self.store.memory();
            report.throttled = flow.throttled();
            Ok(())
        })
    }

    fn feed(
        &self,
        batches: Batches<'_>,
        flow: &Flow,
        tx: std::sync::mpsc::SyncSender<(PreparedBatch, Load)>,
        job_ids: Vec<String>,
        committed: &AtomicU64,
    ) -> Result<()> {
        let mut slicer = Slicer { batches, current: None, at: 0 };
        let mut sizer = Sizer::new();
        let row_opts = self.opts.row_options();
        let blind = self.opts.write_path == WritePath::Blind;
        // blind: novelty decided here, properties only for products new to the store
        let mut novelty = blind.then(|| Novelty::new(job_ids, committed));
        let mode = match (self.opts.with_props, blind) {
            (false, _) => PropsMode::None,
            (true, true) => PropsMode::Later,
            (true, false) => PropsMode::Now,
        };
        loop {
            if self.opts.control.as_ref().is_some_and(|c| c.stop_requested()) {
                return Ok(()); // asked to stop: what was sent is committed, nothing more
            }
            let Some(target) = flow.wait_for_room() else {
                return Ok(()); // the writer is gone; its error is reported by run()
            };
            let (mut builder, mut rows, mut load) = (
                BatchBuilder::new(self.resumed, blind).props_for_known(self.growing).keep(self.opts.keep.clone()),
                0usize,
                Load::default(),
            );
            // One chunk of lookahead: chunk k is folded (novelty reads) while chunk k + 1 is
            // transformed, so the cores do not wait for the fold: +2-3% on MOSES without
            // properties. Not with properties computed in the fold: there it measured 7% slower
            // (two chunks' molecules alive, the fold's own parallel work competing).
            let lookahead = mode != PropsMode::Later;
            let mut pending: Option<Chunk> = None;
            while load.bytes < target && rows < flow.max_rows() {
                let want = sizer.chunk_rows(target - load.bytes, flow.mol_room()).min(flow.max_rows() - rows);
                let Some(part) = slicer.take(want)? else { break };
                let taken = part.len();
                let limit = ChunkLimit { bytes: target - load.bytes, mol_bytes: flow.mol_room() };
                let novelty = &mut novelty;
                let (added, chunk) = rayon::join(
                    || match pending.take() {
                        Some(c) => builder.add(c, novelty.as_mut().map(|n| (n, self.store))),
                        None => Ok(()),
                    },
                    || -> Result<Chunk> {
                        Ok(match &self.source {
                            Source::Rdkit => Chunk::transform_within(&part, self.rules, &row_opts, mode, limit),
                            Source::Replay(stream) => stream.lock().expect("stream reader lock").chunk(part)?,
                        })
                    },
                );
                added?;
                let chunk = chunk?;
                slicer.give_back(taken - chunk.rows.len());
                let bytes = chunk.bytes();
                sizer.observe(chunk.rows.len(), bytes, chunk.mol_bytes());
                rows += chunk.rows.len();
                load.bytes += bytes;
                load.products += chunk.products();
                if lookahead {
                    pending = Some(chunk);
                } else {
                    builder.add(chunk, novelty.as_mut().map(|n| (n, self.store)))?;
                }
                if flow.pressed() {
                    break; // RSS near the budget: commit what is built, then drain
                }
            }
            if let Some(c) = pending {
                builder.add(c, novelty.as_mut().map(|n| (n, self.store)))?;
            }
            if rows == 0 {
                return Ok(());
            }
            let prepared = builder.finish();
            if let Some(n) = novelty.as_mut() {
                n.seal();
            }
            flow.prepared(load.bytes);
            if tx.send((prepared, load)).is_err() {
                return Ok(()); // the writer failed; its error is reported by run()
            }
        }
    }

    fn write(
        &self,
        metas: &mut [JobMeta],
        rx: std::sync::mpsc::Receiver<(PreparedBatch, Load)>,
        flow: &Flow,
        progress: &Progress,
        committed: &AtomicU64,
    ) -> Result<Written> {
        let mut last = Instant::now();
        let started = last;
        let mut w = Written::default();
        for (prepared, load) in rx {
            w.batches += 1;
            w.props_computed += prepared.props_computed;
            w.max_batch_products = w.max_batch_products.max(load.products);
            w.max_batch_bytes = w.max_batch_bytes.max(load.bytes);
            let now = Instant::now();
            let busy = now.duration_since(last).as_secs_f64();
            last = now;
            let mut batch_jobs = Vec::with_capacity(metas.len());
            for (meta, delta) in metas.iter_mut().zip(prepared.jobs) {
                if prepared.end_row <= meta.offset {
                    continue;
                }
                w.made += delta.counters.site_products;
                meta.counters.add(&delta.counters);
                meta.offset = prepared.end_row;
                meta.busy_secs += busy;
                meta.updated_unix = job::now_unix();
                if meta.offset >= self.rows_total {
                    meta.state = JobState::Complete;
                }
                batch_jobs.push(JobBatch {
                    meta,
                    products: delta.products,
                    parent_links: delta.parent_links,
                    roots: delta.roots,
                    novel: delta.novel,
                });
            }
            let rejects = RejectBatch { input_key: self.input_key, rows: &prepared.rejected };
            let commit_started = Instant::now();
            let cpu_started = thread_cpu_secs();
            if crate::failpoint::hit("store.commit") {
                return Err(IngestError::Writer("injected commit failure (failpoint store.commit)".into()).into());
            }
            self.store.commit(&mut batch_jobs, rejects)?;
            committed.fetch_add(1, Ordering::Release);
            w.commit_secs += commit_started.elapsed().as_secs_f64();
            w.commit_cpu_secs += thread_cpu_secs() - cpu_started;
            drop(batch_jobs);
            w.timeline.push(CommitPoint {
                end_row: prepared.end_row,
                site_products: w.made,
                unique_products: metas.iter().map(|m| m.counters.unique_products).sum(),
                secs: started.elapsed().as_secs_f64(),
                commit_secs: w.commit_secs,
                commit_cpu_secs: w.commit_cpu_secs,
            });
            flow.committed(load.bytes);
            progress.advance(prepared.end_row, w.made, flow.last_rss(), || self.store.memory());
            if let Some(c) = &self.opts.control {
                c.committed(prepared.end_row, w.made);
            }
            let room = 10_000usize.saturating_sub(w.rejected.len());
            w.rejected.extend(prepared.rejected.into_iter().take(room));
        }
        progress.finish();
        Ok(w)
    }
}

/// Poisons the flow when dropped: the writer thread holds one for its whole life.
struct PoisonOnDrop<'a>(&'a Flow);

impl Drop for PoisonOnDrop<'_> {
    fn drop(&mut self) {
        self.0.poison();
    }
}

/// What one prepared batch holds: products, and bytes as the budget counts them.
#[derive(Default, Clone, Copy)]
struct Load {
    products: u64,
    bytes: u64,
}

/// What the writer committed.
#[derive(Default)]
struct Written {
    rejected: Vec<(u64, RejectRecord)>,
    made: u64,
    batches: u64,
    max_batch_products: u64,
    max_batch_bytes: u64,
    commit_secs: f64,
    timeline: Vec<CommitPoint>,
    props_computed: u64,
    commit_cpu_secs: f64,
}

/// CPU seconds this thread has used (the writer's own cost, apart from waits).
fn thread_cpu_secs() -> f64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

/// Cuts the reader's record batches into batches of any requested size (zero-copy slices).
struct Slicer<'a> {
    batches: Batches<'a>,
    current: Option<InputBatch>,
    at: usize,
}

impl Slicer<'_> {
    /// Returns the last `rows` rows taken, which the next take gives again (a chunk that
    /// stopped at its limit).
    fn give_back(&mut self, rows: usize) {
        debug_assert!(rows <= self.at);
        self.at -= rows;
    }

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
