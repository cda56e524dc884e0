//! `xfstore ingest`: stream an input Parquet file through rules into the store.
//!
//! Write path (see ARCHITECTURE.md): the reader yields bounded record batches from the job's
//! committed offset; each batch is transformed in parallel on the rayon pool; a single writer
//! thread commits batches strictly in input order, each as ONE WriteBatch holding the
//! products, the counters and the new offset. At most [`IN_FLIGHT`] prepared batches wait for
//! the writer, so memory does not grow with the input.

mod batch;
mod cells;
mod job;
mod progress;
pub mod reader;

use std::path::PathBuf;
use std::sync::mpsc::sync_channel;
use std::time::Instant;

pub use batch::{prepare, PreparedBatch};
pub use job::{input_key, job_id};
pub use reader::{InputColumns, InputFile};

use crate::error::{IngestError, Result};
use crate::rules::{Rule, RuleSet};
use crate::store::{JobBatch, JobMeta, JobState, RejectBatch, RejectRecord, Store};
use progress::Progress;

/// Prepared batches allowed to wait for the writer.
pub const IN_FLIGHT: usize = 2;

/// What to ingest and how.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub input: PathBuf,
    pub rules: Vec<String>,
    pub smiles_column: String,
    pub id_column: Option<String>,
    /// Input columns carried (as text) into each product's provenance and the export.
    pub carry_columns: Vec<String>,
    pub batch_rows: usize,
    /// Compute MW, TPSA, HBD, HBA, cLogP, RotB for each product.
    pub with_props: bool,
    /// Maintain the parent -> products index (`query --parent`); costs one canonicalization
    /// per input row.
    pub index_parents: bool,
    /// Drop existing jobs of this input x rules and start afresh.
    pub restart: bool,
    /// Stop after this many input rows in this run (the job stays resumable).
    pub max_rows: Option<u64>,
    /// Talk on stderr: where a job resumes, and a progress bar when stderr is a terminal.
    pub progress: bool,
}

impl IngestOptions {
    pub fn new(input: impl Into<PathBuf>, rules: Vec<String>) -> Self {
        Self {
            input: input.into(),
            rules,
            smiles_column: "smiles".into(),
            id_column: None,
            carry_columns: vec![],
            batch_rows: 1024,
            with_props: true,
            index_parents: true,
            restart: false,
            max_rows: None,
            progress: false,
        }
    }
}

/// Result of one job in one run.
#[derive(Debug, Clone)]
pub struct JobReport {
    /// The job's metadata after the run (totals over all runs).
    pub meta: JobMeta,
    /// Offset the run started from (0 for a fresh job).
    pub resumed_from: u64,
}

/// Result of an ingest run.
#[derive(Debug, Clone)]
pub struct IngestReport {
    pub jobs: Vec<JobReport>,
    /// Input rows processed by this run.
    pub rows: u64,
    /// Products (one per parent x site) made by this run, over all jobs.
    pub site_products: u64,
    pub elapsed_secs: f64,
    /// Rows rejected by this run, (input row, record), first 10,000 kept; all of them are in
    /// the store (`Store::rejects`).
    pub rejected: Vec<(u64, RejectRecord)>,
}

/// A validated ingest: the input file is open and checked and the rules are resolved, without
/// touching any store, so bad input fails before anything is written.
pub struct IngestPlan<'r> {
    input: InputFile,
    rules: Vec<&'r Rule>,
    opts: IngestOptions,
}

/// Runs an ingest into an open (read-write) store: [`IngestPlan::new`] then [`IngestPlan::run`].
pub fn ingest(store: &Store, rule_set: &RuleSet, opts: &IngestOptions) -> Result<IngestReport> {
    IngestPlan::new(rule_set, opts.clone())?.run(store)
}

impl<'r> IngestPlan<'r> {
    /// Checks the input (readable Parquet, SMILES column present and textual, not empty) and
    /// resolves the rule names.
    pub fn new(rule_set: &'r RuleSet, opts: IngestOptions) -> Result<Self> {
        if opts.rules.is_empty() {
            return Err(IngestError::NoRule.into());
        }
        let rules: Vec<&Rule> = opts.rules.iter().map(|n| rule_set.get(n)).collect::<Result<_, _>>()?;
        let cols = InputColumns {
            smiles: opts.smiles_column.clone(),
            id: opts.id_column.clone(),
            carry: opts.carry_columns.clone(),
        };
        let input = InputFile::open(&opts.input, &cols)?;
        Ok(Self { input, rules, opts })
    }

    pub fn input(&self) -> &InputFile {
        &self.input
    }

    /// Creates or resumes the jobs and streams the remaining rows into `store`.
    pub fn run(&self, store: &Store) -> Result<IngestReport> {
        run(store, &self.input, &self.rules, &self.opts)
    }
}

fn run(store: &Store, input: &InputFile, rules: &[&Rule], opts: &IngestOptions) -> Result<IngestReport> {
    let started = Instant::now();
    job::check_rdkit(store)?;
    let mut metas: Vec<JobMeta> =
        rules.iter().map(|r| job::prepare_job(store, input, r, opts.restart)).collect::<Result<_>>()?;
    let input_key = job::input_key(input);
    let resumed: Vec<u64> = metas.iter().map(|m| m.offset).collect();
    let rows_total = input.info().rows;
    let start = resumed.iter().copied().min().unwrap_or(rows_total);
    let mut report = IngestReport { jobs: vec![], rows: 0, site_products: 0, elapsed_secs: 0.0, rejected: vec![] };

    if opts.progress && start > 0 && start < rows_total {
        eprintln!("resuming at row {start} of {rows_total} ({} rows already committed)", start);
    }
    if start < rows_total {
        let progress = Progress::new(opts.progress, rows_total, start);
        let batches = input.batches(start, opts.batch_rows.max(1), opts.max_rows)?;
        let (tx, rx) = sync_channel::<PreparedBatch>(IN_FLIGHT);
        let run = std::thread::scope(|s| -> Result<()> {
            let writer = s.spawn(|| -> Result<(Vec<(u64, RejectRecord)>, u64)> {
                let mut last = Instant::now();
                let mut rejected = Vec::new();
                let mut made = 0u64;
                for prepared in rx {
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
                        if meta.offset >= rows_total {
                            meta.state = JobState::Complete;
                        }
                        batch_jobs.push(JobBatch { meta, products: delta.products, parent_links: delta.parent_links });
                    }
                    store.commit(&mut batch_jobs, RejectBatch { input_key: &input_key, rows: &prepared.rejected })?;
                    progress.advance(prepared.end_row, made);
                    let room = 10_000usize.saturating_sub(rejected.len());
                    rejected.extend(prepared.rejected.into_iter().take(room));
                }
                progress.finish();
                Ok((rejected, made))
            });
            let feed = || -> Result<()> {
                for batch in batches {
                    let batch = batch?;
                    let prepared = prepare(&batch, rules, &resumed, opts.with_props, opts.index_parents);
                    if tx.send(prepared).is_err() {
                        break; // writer failed; its error is reported below
                    }
                }
                Ok(())
            };
            let fed = feed();
            drop(tx);
            let written = writer.join().map_err(|_| IngestError::Writer("writer thread panicked".into()))?;
            let (rejected, made) = written?;
            fed?;
            report.rejected = rejected;
            report.site_products = made;
            Ok(())
        });
        run?;
        report.rows = opts.max_rows.map_or(rows_total - start, |m| m.min(rows_total - start));
    }
    report.elapsed_secs = started.elapsed().as_secs_f64();
    report.jobs = metas.into_iter().zip(resumed).map(|(meta, resumed_from)| JobReport { meta, resumed_from }).collect();
    Ok(report)
}
