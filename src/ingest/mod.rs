//! `xfstore ingest`: stream an input (any format of [`crate::input`]) through rules into the store.
//!
//! Write path (see ARCHITECTURE.md): the reader yields bounded record batches from the job's
//! committed offset; the pipeline cuts them into batches sized by the bytes their products hold
//! ([`flow`]), transforms each in parallel on the rayon pool, and a single writer thread commits
//! batches strictly in input order, each atomically with the products, the counters and the new
//! offset (a bulk-loaded SST per job, `store/write.rs`; novelty and properties decided before the
//! writer, `novelty.rs`). Bytes in flight are bounded by the memory budget and RSS is watched, so
//! memory does not grow with the input, its skew or the size of its molecules.

mod bare;
pub(crate) mod batch;
pub(crate) mod flow;
pub(crate) mod job;
mod novelty;
mod pipeline;
mod progress;
mod replay;

use std::collections::BTreeMap;
use std::time::Instant;

pub use bare::{bare_loop, BareReport};

pub use job::job_id;
pub use replay::{record_product_stream, RecordReport};

pub use crate::transform::DEFAULT_MAX_HEAVY_ATOMS;

/// Default for [`IngestOptions::batch_rows`].
pub const DEFAULT_BATCH_ROWS: usize = 4096;
/// Default name of the SMILES column.
pub const DEFAULT_SMILES_COLUMN: &str = "smiles";

use crate::budget::MemoryBudget;
use crate::error::{IngestError, Result};
use crate::input::{GrowthView, InputColumns, InputFile, InputFormat, InputSpec};
use crate::rules::{Rule, RuleSet};
use crate::store::{JobMeta, JobState, ReadOnlyStore, RejectRecord, Store};
use crate::transform::RowOptions;
use pipeline::{Pipeline, Source};
use progress::Progress;

/// What to ingest and how: built by [`IngestOptions::new`] (or [`IngestOptions::for_rules`])
/// and the chainable setters below, e.g.
/// `IngestOptions::new("lib.smi", rules).budget(budget).with_props(false)`.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// The input: a Parquet file, folder or glob, a SMILES, CSV, TSV or SDF file (optionally
    /// gzip), or other jobs' products (see [`crate::InputFile`]).
    pub(crate) input: InputSpec,
    /// The input's format, when not the one its path implies.
    pub(crate) format: Option<InputFormat>,
    /// The input's key in the store (names its jobs `<key>/<rule>` and its rejects); default
    /// [`InputFile::default_key`].
    pub(crate) input_key: Option<String>,
    /// Rule names, all applied in one pass over the input (one job each).
    pub(crate) rules: Vec<String>,
    /// Site caps and sugar masks replacing the rule file's, by rule name (a campaign's class
    /// configuration, or `--site-cap` / `--sugar-mask`).
    pub(crate) rule_settings: BTreeMap<String, RuleSettings>,
    /// Name of the SMILES column.
    pub(crate) smiles_column: String,
    /// Optional id column, carried into each product's provenance.
    pub(crate) id_column: Option<String>,
    /// Input columns carried (as text) into each product's provenance and the export.
    pub(crate) carry_columns: Vec<String>,
    /// Most rows in one batch; batches are usually smaller, sized by the bytes their products
    /// hold.
    pub(crate) batch_rows: usize,
    /// Sizes batches and the bytes in flight, and the RSS above which ingest holds back.
    /// The store's cache and memtables are sized from the same budget by the caller
    /// ([`crate::store::StoreOptions::from_budget`]).
    pub(crate) budget: MemoryBudget,
    /// Compute MW, TPSA, HBD, HBA, cLogP, RotB for each product.
    pub(crate) with_props: bool,
    /// Rows with more heavy atoms than this are rejected as `too_large` before RDKit parses
    /// them (see [`DEFAULT_MAX_HEAVY_ATOMS`]).
    pub(crate) max_heavy_atoms: u32,
    /// Maintain the parent -> products index (`query --parent`); costs one canonicalization
    /// per input row.
    pub(crate) index_parents: bool,
    /// Drop existing jobs of this input x rules and start afresh.
    pub(crate) restart: bool,
    /// Redo (instead of refusing) exactly the jobs whose input or rule changed otherwise
    /// than by growth.
    pub(crate) redo_changed: bool,
    /// Stop after this many input rows in this run (the job stays resumable).
    pub(crate) max_rows: Option<u64>,
    /// Talk on stderr: where a job resumes, and a progress bar when stderr is a terminal.
    pub(crate) progress: bool,
    /// How products reach the store (the default is the fast one; the other is kept for
    /// comparison).
    pub(crate) write_path: WritePath,
    /// Keep only the products whose properties satisfy this predicate (a campaign step's
    /// `keep:`); the others are counted (`filtered`), not stored.
    pub(crate) keep: Option<crate::Keep>,
    /// Shared with another thread: asks the run to stop at the next batch (what was committed
    /// stays; the job resumes from there) and reports its progress. None: run to the end.
    pub(crate) control: Option<std::sync::Arc<RunControl>>,
}

/// A handle on a running ingest from another thread (the Python module's progress callback and
/// Ctrl-C): [`RunControl::stop`] makes the run stop after the batch being committed, as if it
/// had been killed there (resumable), but cleanly; the counters follow each commit.
#[derive(Debug, Default)]
pub struct RunControl {
    stop: std::sync::atomic::AtomicBool,
    rows: std::sync::atomic::AtomicU64,
    products: std::sync::atomic::AtomicU64,
}

impl RunControl {
    /// A fresh handle (not stopped, nothing done).
    pub fn new() -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self::default())
    }

    /// Asks the run to stop after the batch it is committing.
    pub fn stop(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether a stop was asked for.
    pub fn stop_requested(&self) -> bool {
        self.stop.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Input rows committed so far by the current ingest (its jobs' offset).
    pub fn rows(&self) -> u64 {
        self.rows.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Products (one per parent x site) committed so far by this run.
    pub fn products(&self) -> u64 {
        self.products.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn committed(&self, rows: u64, products: u64) {
        self.rows.store(rows, std::sync::atomic::Ordering::Relaxed);
        self.products.store(products, std::sync::atomic::Ordering::Relaxed);
    }
}

/// How an ingest writes products (see ARCHITECTURE.md, "Write path"). Both give the same store
/// contents: products, occurrences, first provenance, properties, counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WritePath {
    /// Novelty decided before the writer (in parallel), blind `Put`/`Merge` writes, properties
    /// computed only for products new to the store.
    #[default]
    Blind,
    /// The previous path: the writer reads every key of a batch, then writes; properties
    /// computed for every product. Kept for the writer benchmark's side-by-side figures.
    ReadModifyWrite,
}

impl IngestOptions {
    /// Options for ingesting `input` with `rules`, everything else at its default.
    pub fn new(input: impl Into<InputSpec>, rules: Vec<String>) -> Self {
        Self {
            input: input.into(),
            format: None,
            input_key: None,
            rules,
            rule_settings: BTreeMap::new(),
            smiles_column: DEFAULT_SMILES_COLUMN.into(),
            id_column: None,
            carry_columns: vec![],
            batch_rows: DEFAULT_BATCH_ROWS,
            budget: MemoryBudget::default(),
            with_props: true,
            max_heavy_atoms: DEFAULT_MAX_HEAVY_ATOMS,
            index_parents: true,
            restart: false,
            redo_changed: false,
            max_rows: None,
            progress: false,
            write_path: WritePath::Blind,
            control: None,
            keep: None,
        }
    }

    /// Options for ingesting `input` with the rules `names` select in `rule_set` (rule names,
    /// or X-template names standing for each of their halogens), every rule with the site cap
    /// and sugar mask given (`cap` None and `sugar_mask` false: the rule file's); everything
    /// else at its default. What `xfstore ingest`, `xfstore plan` and the Python module build.
    pub fn for_rules(
        input: impl Into<InputSpec>,
        rule_set: &RuleSet,
        names: &[String],
        cap: Option<i64>,
        sugar_mask: bool,
    ) -> Result<Self> {
        let mut rules = Vec::new();
        for n in names {
            rules.extend(rule_set.resolve(n)?.into_iter().map(|r| r.def.name.clone()));
        }
        let mut opts = Self::new(input, rules);
        if cap.is_some() || sugar_mask {
            let settings = RuleSettings { cap, sugar_mask };
            opts.rule_settings = opts.rules.iter().map(|r| (r.clone(), settings)).collect();
        }
        Ok(opts)
    }

    /// Store options sized by this ingest's budget ([`crate::StoreOptions::from_budget`]).
    pub fn store_options(&self) -> crate::store::StoreOptions {
        crate::store::StoreOptions::from_budget(&self.budget)
    }

    /// The input's format, when not the one its path implies.
    pub fn format(mut self, format: Option<InputFormat>) -> Self {
        self.format = format;
        self
    }

    /// The input's key in the store (names its jobs `<key>/<rule>`); None: [`InputFile::default_key`].
    pub fn input_key(mut self, input_key: Option<String>) -> Self {
        self.input_key = input_key;
        self
    }

    /// Name of the SMILES column.
    pub fn smiles_column(mut self, smiles_column: impl Into<String>) -> Self {
        self.smiles_column = smiles_column.into();
        self
    }

    /// The id column, carried into each product's provenance.
    pub fn id_column(mut self, id_column: Option<String>) -> Self {
        self.id_column = id_column;
        self
    }

    /// Input columns carried (as text) into each product's provenance and the export.
    pub fn carry_columns(mut self, carry_columns: Vec<String>) -> Self {
        self.carry_columns = carry_columns;
        self
    }

    /// Most rows in one batch (batches are usually smaller, sized by their products' bytes).
    pub fn batch_rows(mut self, batch_rows: usize) -> Self {
        self.batch_rows = batch_rows;
        self
    }

    /// The memory budget (batches, bytes in flight, the RSS mark); size the store with [`IngestOptions::store_options`].
    pub fn budget(mut self, budget: MemoryBudget) -> Self {
        self.budget = budget;
        self
    }

    /// Whether to compute MW, TPSA, HBD, HBA, cLogP and RotB for each product.
    pub fn with_props(mut self, with_props: bool) -> Self {
        self.with_props = with_props;
        self
    }

    /// Rows with more heavy atoms are rejected as `too_large` before RDKit parses them.
    pub fn max_heavy_atoms(mut self, max_heavy_atoms: u32) -> Self {
        self.max_heavy_atoms = max_heavy_atoms;
        self
    }

    /// Whether to maintain the parent -> products index (`query --parent`).
    pub fn index_parents(mut self, index_parents: bool) -> Self {
        self.index_parents = index_parents;
        self
    }

    /// Whether to drop the existing jobs of this input x rules and start afresh.
    pub fn restart(mut self, restart: bool) -> Self {
        self.restart = restart;
        self
    }

    /// Whether to redo, instead of refusing, exactly the jobs whose input or rule changed
    /// otherwise than by growth (each named on stderr).
    pub fn redo_changed(mut self, redo_changed: bool) -> Self {
        self.redo_changed = redo_changed;
        self
    }

    /// Stop after this many input rows in this run (the jobs stay resumable).
    pub fn max_rows(mut self, max_rows: Option<u64>) -> Self {
        self.max_rows = max_rows;
        self
    }

    /// Whether to talk on stderr (where a job resumes, a progress bar on a terminal).
    pub fn progress(mut self, progress: bool) -> Self {
        self.progress = progress;
        self
    }

    /// How products reach the store.
    pub fn write_path(mut self, write_path: WritePath) -> Self {
        self.write_path = write_path;
        self
    }

    /// Keep only the products whose properties satisfy `keep` (needs properties).
    pub fn keep(mut self, keep: Option<crate::Keep>) -> Self {
        self.keep = keep;
        self
    }

    /// A handle another thread uses to stop the run and follow its progress.
    pub fn control(mut self, control: std::sync::Arc<RunControl>) -> Self {
        self.control = Some(control);
        self
    }

    /// How each row is transformed.
    pub fn row_options(&self) -> RowOptions {
        RowOptions {
            with_props: self.with_props,
            canonical_parent: self.index_parents,
            max_heavy_atoms: self.max_heavy_atoms,
        }
    }
}

/// How one rule runs in one ingest, replacing the rule file's settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuleSettings {
    /// Most sites per parent (-1: none); `None` keeps the rule file's cap.
    pub cap: Option<i64>,
    /// Never transform a site on a sugar ring (see [`crate::chem`]); masked matches are
    /// counted in the job's `masked_sites`.
    pub sugar_mask: bool,
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
#[derive(Debug, Clone, Default)]
pub struct IngestReport {
    /// Per job: its metadata after the run and where the run started.
    pub jobs: Vec<JobReport>,
    /// Input rows processed by this run.
    pub rows: u64,
    /// Products (one per parent x site) made by this run, over all jobs.
    pub site_products: u64,
    /// Wall-clock seconds.
    pub elapsed_secs: f64,
    /// Rows rejected by this run, (input row, record), first 10,000 kept; all of them are in
    /// the store (`Store::rejects`).
    pub rejected: Vec<(u64, RejectRecord)>,
    /// The budget the run was held to.
    pub budget: MemoryBudget,
    /// Peak RSS of the process during the run, in bytes (0 when nothing was run).
    pub peak_rss: u64,
    /// Batches held back because RSS was over the budget.
    pub throttled: u64,
    /// What RocksDB held in memory when the run ended (its own estimates).
    pub store_memory: crate::store::StoreMemory,
    /// Batches committed by this run, and the most products and in-flight bytes (as
    /// [`crate::budget::product_in_flight_bytes`] counts them) one of them held.
    pub batches: u64,
    /// Most products one batch held.
    pub max_batch_products: u64,
    /// Most in-flight bytes one batch held.
    pub max_batch_bytes: u64,
    /// Seconds the writer spent in `Store::commit` (sorting, SST writing and ingestion; with the
    /// read-modify-write path, dedup lookups and the WriteBatch), running
    /// beside the transform on the same cores.
    pub commit_secs: f64,
    /// One point per committed batch, in commit order: throughput as the store grows.
    pub timeline: Vec<CommitPoint>,
    /// CPU seconds the writer thread used in `Store::commit` (see [`CommitPoint`]).
    pub commit_cpu_secs: f64,
    /// Products whose properties this run computed: with the blind write path, exactly the
    /// products new to the store (0 with the read-modify-write path, which computes them for
    /// every product inside the transform and does not count them).
    pub props_computed: u64,
    /// The run stopped early because [`RunControl::stop`] was called (the jobs are resumable).
    pub stopped: bool,
}

/// The state of a run right after one of its commits.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CommitPoint {
    /// Input rows committed (the jobs' offset).
    pub end_row: u64,
    /// Products (one per parent x site) committed by this run so far.
    pub site_products: u64,
    /// Distinct products in the run's jobs (whole jobs, earlier runs included).
    pub unique_products: u64,
    /// Seconds since the run's writer started.
    pub secs: f64,
    /// Of which in `Store::commit`.
    pub commit_secs: f64,
    /// CPU seconds the writer thread used in `Store::commit` so far (its own cost, without
    /// waits for RocksDB's background work): the writer's ceiling is products over this.
    pub commit_cpu_secs: f64,
}

/// A validated ingest: the input file is open and checked and the rules are resolved, without
/// touching any store, so bad input fails before anything is written.
pub struct IngestPlan<'r> {
    input: InputFile,
    key: String,
    rules: Vec<Rule>,
    opts: IngestOptions,
    _rules: std::marker::PhantomData<&'r RuleSet>,
}

/// Runs an ingest into an open (read-write) store: [`IngestPlan::new`] then [`IngestPlan::run`].
pub fn ingest(store: &Store, rule_set: &RuleSet, opts: &IngestOptions) -> Result<IngestReport> {
    IngestPlan::new(rule_set, opts.clone())?.run(store)
}

impl<'r> IngestPlan<'r> {
    /// Checks the input (readable, SMILES column present and textual, not empty) and resolves
    /// the rule names. A `job:` input needs the store: [`IngestPlan::new_in`].
    pub fn new(rule_set: &'r RuleSet, opts: IngestOptions) -> Result<Self> {
        Self::open(rule_set, opts, None)
    }

    /// As [`IngestPlan::new`], reading `job:` inputs from `store`.
    pub fn new_in(rule_set: &'r RuleSet, opts: IngestOptions, store: &ReadOnlyStore) -> Result<Self> {
        Self::open(rule_set, opts, Some(store))
    }

    /// Checks the input and rules and opens the store at `path` for writing, in the order that
    /// leaves nothing behind when either is bad: a file input is checked before the store is
    /// created; a job input, read from the store, once it is open. What `xfstore ingest` and
    /// Python's `ingest()` do.
    pub fn with_store(
        rule_set: &'r RuleSet,
        opts: IngestOptions,
        path: &std::path::Path,
        so: &crate::store::StoreOptions,
    ) -> Result<(Self, Store)> {
        if opts.input.is_jobs() {
            let store = Store::open(path, so)?;
            Ok((Self::new_in(rule_set, opts, &store)?, store))
        } else {
            let plan = Self::new(rule_set, opts)?;
            Ok((plan, Store::open(path, so)?))
        }
    }

    /// As [`IngestPlan::new_in`], reading a `job:` input from the shard stores of a partitioned
    /// run (a partitioned campaign's chained step).
    pub(crate) fn new_sharded(rule_set: &'r RuleSet, opts: IngestOptions, shards: Vec<ReadOnlyStore>) -> Result<Self> {
        Self::open_with(rule_set, opts, move |spec, _, cols| InputFile::open_sharded(spec, cols, shards))
    }

    fn open(rule_set: &'r RuleSet, opts: IngestOptions, store: Option<&ReadOnlyStore>) -> Result<Self> {
        Self::open_with(rule_set, opts, |spec, format, cols| InputFile::open_in(spec, format, cols, store))
    }

    fn open_with(
        rule_set: &'r RuleSet,
        opts: IngestOptions,
        open_input: impl FnOnce(
            &InputSpec,
            Option<InputFormat>,
            &InputColumns,
        ) -> Result<InputFile, crate::error::InputError>,
    ) -> Result<Self> {
        if opts.rules.is_empty() {
            return Err(IngestError::NoRule.into());
        }
        if let Some(k) = &opts.keep {
            let reason = if !opts.with_props {
                Some("filters on properties: run with properties")
            } else if opts.write_path != WritePath::Blind {
                Some("runs on the default write path only")
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(IngestError::Keep { keep: k.text().to_owned(), reason }.into());
            }
        }
        let mut rules: Vec<Rule> = Vec::with_capacity(opts.rules.len());
        for n in &opts.rules {
            let r = rule_set.get(n)?;
            let rule = match opts.rule_settings.get(n) {
                Some(s) => r.variant(s.cap, s.sugar_mask)?,
                None => r.clone(),
            };
            rules.push(rule.keeping(opts.keep.as_ref()));
        }
        let cols = InputColumns {
            smiles: opts.smiles_column.clone(),
            id: opts.id_column.clone(),
            carry: opts.carry_columns.clone(),
        };
        let input = open_input(&opts.input, opts.format, &cols)?;
        let key = opts.input_key.clone().unwrap_or_else(|| input.default_key().to_owned());
        if key.is_empty() || key.contains('\0') {
            return Err(IngestError::BadKey { key }.into());
        }
        Ok(Self { input, key, rules, opts, _rules: std::marker::PhantomData })
    }

    /// The input's key in the store (its jobs are `<key>/<rule>`).
    pub fn input_key(&self) -> &str {
        &self.key
    }

    /// The validated input.
    pub fn input(&self) -> &InputFile {
        &self.input
    }

    /// The resolved rules (with the run's caps and masks), one job each.
    pub(crate) fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The options the plan was made with.
    pub(crate) fn options(&self) -> &IngestOptions {
        &self.opts
    }

    /// Creates or resumes the jobs and streams the remaining rows into `store`.
    pub fn run(&self, store: &Store) -> Result<IngestReport> {
        let rules: Vec<&Rule> = self.rules.iter().collect();
        run(store, &self.input, &self.key, &rules, &self.opts, Source::Rdkit)
    }

    /// Runs as [`IngestPlan::run`], but takes each row's transform outcome from a product
    /// stream recorded by `internal::record_product_stream` from the same input and the plan's single
    /// rule, instead of calling RDKit: the writer benchmark (`xfstore bench-writer`). Products
    /// carry no properties.
    pub fn replay(&self, store: &Store, stream: &std::path::Path) -> Result<IngestReport> {
        if self.rules.len() != 1 {
            return Err(
                IngestError::Stream { path: stream.into(), detail: "a replay runs exactly one rule".into() }.into()
            );
        }
        let reader = replay::StreamReader::open(stream)?;
        let max_rows = Some(reader.rows.min(self.opts.max_rows.unwrap_or(u64::MAX)));
        let reader = std::sync::Mutex::new(reader);
        let rules: Vec<&Rule> = self.rules.iter().collect();
        let opts = IngestOptions { with_props: false, index_parents: true, max_rows, ..self.opts.clone() };
        run(store, &self.input, &self.key, &rules, &opts, Source::Replay(&reader))
    }
}

fn run(
    store: &Store,
    input: &InputFile,
    key: &str,
    rules: &[&Rule],
    opts: &IngestOptions,
    source: Source<'_>,
) -> Result<IngestReport> {
    let started = Instant::now();
    job::check_rdkit(store)?;
    let new_jobs = rules.iter().map(|r| store.job(&job::job_id(key, &r.def.name))).filter(|j| matches!(j, Ok(None)));
    let families = store.family_count()? + new_jobs.count();
    // the families' fixed memory comes off the top of the shares, the block cache's included
    let budget = opts.budget.for_families(families).map_err(IngestError::Budget)?;
    store.fit_block_cache(budget.block_cache_bytes());
    let on_change = if opts.redo_changed { job::OnChange::Redo } else { job::OnChange::Refuse };
    let mut metas: Vec<JobMeta> =
        rules.iter().map(|r| job::prepare_job(store, input, key, r, opts.restart, on_change)).collect::<Result<_>>()?;
    let input_key = key.to_owned();
    let resumed: Vec<u64> = metas.iter().map(|m| m.offset).collect();
    let rows_total = input.info().rows;
    let start = resumed.iter().copied().min().unwrap_or(rows_total);
    let mut report = IngestReport { budget: opts.budget, ..IngestReport::default() };

    if opts.progress && start > 0 && start < rows_total {
        eprintln!("resuming at row {start} of {rows_total} ({} rows already committed)", start);
    }
    // Jobs reading other jobs that grow read only the upstream keys new since they last read
    // them (a view of the input); jobs made or resumed from every key read them all. One pass
    // per kind: a rule added to a step reads every key, its step's other jobs only the new ones.
    let mut groups: Vec<(Option<GrowthView>, Vec<usize>)> = Vec::new();
    for (i, m) in metas.iter().enumerate() {
        let view = m.upstream.as_ref().and_then(|u| input.growth_view(u));
        if let Some(view) = &view {
            repair_before_growth(store, input, m, view)?;
        }
        if m.offset >= rows_total && !matches!(source, Source::Replay(_)) {
            continue; // complete jobs need no work; a replay replays all
        }
        match groups.iter_mut().find(|(v, _)| *v == view) {
            Some((_, jobs)) => jobs.push(i),
            None => groups.push((view, vec![i])),
        }
    }
    for (view, todo) in groups {
        let rules: Vec<&Rule> = todo.iter().map(|&i| rules[i]).collect();
        let resumed: Vec<u64> = todo.iter().map(|&i| metas[i].offset).collect();
        let start = resumed.iter().copied().min().unwrap_or(rows_total);
        if let (Some(view), true) = (&view, opts.progress) {
            eprintln!(
                "{} job(s) growing: {} upstream product(s) new since the {} read before",
                todo.len(),
                rows_total - view.rows_before(),
                view.rows_before()
            );
        }
        let progress = Progress::new(opts.progress, rows_total, start, budget);
        // The reader decodes up to batch_rows rows at a time; the pipeline slices them further.
        let batches = input.batches_in(Some(store), start, opts.batch_rows.max(1), opts.max_rows, view.as_ref())?;
        let mut active: Vec<JobMeta> = todo.iter().map(|&i| metas[i].clone()).collect();
        let growing: Vec<bool> = active.iter().map(JobMeta::grows_from_keys).collect();
        let pipeline = Pipeline {
            growing: &growing,
            source,
            store,
            rules: &rules,
            opts,
            budget,
            input_key: &input_key,
            rows_total,
            resumed: &resumed,
        };
        pipeline.run(&mut active, batches, &progress, &mut report)?;
        for (i, meta) in todo.into_iter().zip(active) {
            metas[i] = meta;
        }
        if opts.control.as_ref().is_some_and(|c| c.stop_requested()) {
            report.stopped = metas.iter().any(|m| m.offset < rows_total);
            break;
        }
    }
    // rows committed by this run (all of them, or up to --max-rows, or up to a stop)
    report.rows = metas.iter().zip(&resumed).map(|(m, r)| m.offset.saturating_sub(*r)).max().unwrap_or(0);
    // An input with no rows (an upstream job that made no products), or a growth with no new
    // upstream key, has nothing to commit: its jobs are complete as they stand.
    for meta in metas.iter_mut().filter(|m| m.offset >= rows_total && m.state != JobState::Complete) {
        meta.state = JobState::Complete;
        meta.updated_unix = job::now_unix();
        store.register_job(meta)?;
    }
    report.elapsed_secs = started.elapsed().as_secs_f64();
    report.jobs = metas.into_iter().zip(resumed).map(|(meta, resumed_from)| JobReport { meta, resumed_from }).collect();
    Ok(report)
}

/// Before a job reading other jobs reads the keys new since it last read them: its products
/// made from an old key take the values that key supplies now (another upstream job may supply
/// it, or its own first provenance moved to a new, smaller parent). Only at the growth's
/// start (a partial job at its old rows); idempotent, so a kill part-way repeats it.
fn repair_before_growth(store: &Store, input: &InputFile, meta: &JobMeta, view: &GrowthView) -> Result<()> {
    if meta.state == JobState::Complete || meta.upstream.as_ref().is_none_or(|u| meta.offset != u.rows_before) {
        return Ok(());
    }
    store.repair_provenance(meta, input.resupplied(Some(store), view)?)?;
    Ok(())
}
