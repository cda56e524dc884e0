//! Campaigns: the whole library build (parents -> 1X -> 2X -> every rule in scope) as one
//! resumable command.
//!
//! A campaign file ([`file`]) is validated into streams ([`plan`]): one ingest per (step,
//! original input), with one job per rule. [`run`] runs the streams in dependency order, each
//! through the same ingest as `xfstore ingest` (so the same crash protocol: every batch commits
//! its products and its offset atomically), reading a step's products straight from the
//! store (`job:` inputs). A complete stream is skipped; a partial one resumes at its offset; a
//! stream whose upstream changed since it started is refused by ingest's fingerprint check. So
//! a campaign killed at any moment and run again loses and doubles nothing.

pub mod classes;
mod export;
pub mod file;
mod next;
mod plan;
mod report;

use std::time::Instant;

pub use classes::{ClassTable, LevelRules, RuleUse};
pub use export::{export_campaign, CampaignExport, CampaignExportEntry};
pub use file::{ByClass, CampaignFile, CampaignOptions, InputDef, RuleSelection, StepDef};
pub use next::{next_run, JobNext, NextJob, StreamNext};
pub use plan::{Campaign, Stream, StreamSource};
pub use report::{report, ReportRow, REPORT_COLUMNS};

use crate::budget::MemoryBudget;
use crate::error::Result;
use crate::ingest::job::grows_from;
use crate::ingest::{IngestOptions, IngestPlan, IngestReport, DEFAULT_BATCH_ROWS};
use crate::input::{upstream_fingerprint, InputFile, InputSpec};
use crate::reader::Reader;
use crate::rules::RuleSet;
use crate::store::{JobMeta, JobState, ReadOnlyStore, Store, UpstreamRead};
use crate::transform::DEFAULT_MAX_HEAVY_ATOMS;

/// How a campaign runs (the campaign file's `options` fill in what is not set here):
/// [`RunOptions::default`] and the chainable setters below.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Memory budget of every ingest.
    pub(crate) budget: MemoryBudget,
    /// Most rows per batch.
    pub(crate) batch_rows: usize,
    /// Skip product properties (also when the campaign file says so).
    pub(crate) no_props: bool,
    /// Size guard; the campaign file's value, else [`DEFAULT_MAX_HEAVY_ATOMS`].
    pub(crate) max_heavy_atoms: Option<u32>,
    /// Progress on stderr.
    pub(crate) progress: bool,
    /// Redo, instead of stopping at, the jobs whose input or rule changed otherwise than by
    /// growth (and, in turn, the streams made from them).
    pub(crate) redo_changed: bool,
    /// Stop (and progress) from another thread, passed to every stream's ingest; a stopped
    /// campaign runs no further stream.
    pub(crate) control: Option<std::sync::Arc<crate::ingest::RunControl>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            budget: MemoryBudget::default(),
            batch_rows: DEFAULT_BATCH_ROWS,
            no_props: false,
            max_heavy_atoms: None,
            progress: false,
            redo_changed: false,
            control: None,
        }
    }
}

impl RunOptions {
    /// Memory budget of every ingest.
    pub fn budget(mut self, budget: MemoryBudget) -> Self {
        self.budget = budget;
        self
    }

    /// Most rows per batch.
    pub fn batch_rows(mut self, batch_rows: usize) -> Self {
        self.batch_rows = batch_rows;
        self
    }

    /// Whether to skip product properties (also when the campaign file says so).
    pub fn no_props(mut self, no_props: bool) -> Self {
        self.no_props = no_props;
        self
    }

    /// Size guard; None: the campaign file's value, else the default.
    pub fn max_heavy_atoms(mut self, max_heavy_atoms: Option<u32>) -> Self {
        self.max_heavy_atoms = max_heavy_atoms;
        self
    }

    /// Whether to report progress on stderr.
    pub fn progress(mut self, progress: bool) -> Self {
        self.progress = progress;
        self
    }

    /// Whether to redo, instead of stopping at, the jobs whose input or rule changed otherwise than by growth (and the streams made from them).
    pub fn redo_changed(mut self, redo_changed: bool) -> Self {
        self.redo_changed = redo_changed;
        self
    }

    /// A handle another thread uses to stop the campaign (after the batch being committed)
    /// and follow its progress.
    pub fn control(mut self, control: std::sync::Arc<crate::ingest::RunControl>) -> Self {
        self.control = Some(control);
        self
    }
}

/// What happened to one stream in one run.
#[derive(Debug, Clone)]
pub struct StreamReport {
    /// The stream's key.
    pub key: String,
    /// The ingest's report; None when the stream was already complete and skipped.
    pub ingest: Option<IngestReport>,
}

/// What a campaign run did.
#[derive(Debug, Clone, Default)]
pub struct CampaignReport {
    /// Per stream, in run order.
    pub streams: Vec<StreamReport>,
    /// Wall-clock seconds of the whole run.
    pub elapsed_secs: f64,
    /// The run stopped early ([`crate::RunControl::stop`]); run it again to resume.
    pub stopped: bool,
}

/// The ingest options of one stream.
pub(crate) fn stream_options(c: &Campaign, s: &Stream, opts: &RunOptions) -> IngestOptions {
    let mut o = IngestOptions::new(s.input_spec(), s.rules.clone());
    o.input_key = Some(s.key.clone());
    o.rule_settings = s.rule_settings.clone();
    o.keep = s.keep.clone();
    o.budget = opts.budget;
    o.batch_rows = opts.batch_rows;
    o.with_props = !(opts.no_props || c.file.options.no_props);
    o.max_heavy_atoms = opts.max_heavy_atoms.or(c.file.options.max_heavy_atoms).unwrap_or(DEFAULT_MAX_HEAVY_ATOMS);
    o.progress = opts.progress;
    o.redo_changed = opts.redo_changed;
    o.control = opts.control.clone();
    match &s.source {
        StreamSource::File { format, columns, .. } => {
            o.format = *format;
            o.smiles_column = columns.smiles.clone();
            o.id_column = columns.id.clone();
            o.carry_columns = columns.carry.clone();
        }
        StreamSource::Stream { .. } => {
            // carried columns follow the chain down from the original input
            let root = c.file.inputs.iter().find(|i| i.name == s.root);
            o.carry_columns = root.map(|r| r.carry.clone()).unwrap_or_default();
        }
    }
    o
}

/// Whether every job of `s` is complete and was made from its input as it is now (a file: its
/// fingerprint, which reads a text file once; another stream: the upstream jobs' metadata)
/// with its rule as `rules` and the class settings define it now; such a stream needs no
/// work. When the input or a rule changed, the stream is not done and its ingest refuses to
/// resume with the reason (or, with [`RunOptions::redo_changed`], redoes those jobs).
pub(crate) fn stream_done(store: &ReadOnlyStore, rules: &RuleSet, s: &Stream) -> Result<bool> {
    let mut metas = Vec::new();
    for (id, name) in s.jobs().into_iter().zip(&s.rules) {
        match store.job(&id)? {
            Some(m) if m.state == JobState::Complete && m.rule.hash == rule_hash(rules, s, name)? => metas.push(m),
            _ => return Ok(false),
        }
    }
    if let StreamSource::Stream { jobs, .. } = &s.source {
        let Some(now) = upstream_now(store, jobs)? else { return Ok(false) };
        return Ok(metas.iter().all(|m| m.input.footer_hash == now));
    }
    if let StreamSource::File { path, format, columns } = &s.source {
        let now = InputFile::open_in(&InputSpec::Path(path.into()), *format, columns, None)?;
        return Ok(metas.iter().all(|m| m.input.same_rows(now.info()) && m.input.same_columns(now.info())));
    }
    Ok(true)
}

/// The hash of rule `name` as stream `s` applies it (with its class's cap and sugar mask).
fn rule_hash(rules: &RuleSet, s: &Stream, name: &str) -> Result<u64> {
    let rule = rules.get(name)?;
    let rule = match s.rule_settings.get(name) {
        Some(settings) => rule.variant(settings.cap, settings.sugar_mask)?,
        None => rule.clone(),
    };
    Ok(rule.keeping(s.keep.as_ref()).info().hash)
}

/// The fingerprint of the upstream `jobs` as they are now; None while one does not exist yet.
fn upstream_now(store: &ReadOnlyStore, jobs: &[String]) -> Result<Option<u64>> {
    Ok(upstream_jobs(store, jobs)?.map(|up| upstream_fingerprint(&up)))
}

/// The records of the upstream `jobs`; None while one does not exist yet.
fn upstream_jobs(store: &ReadOnlyStore, jobs: &[String]) -> Result<Option<Vec<JobMeta>>> {
    let mut up = Vec::with_capacity(jobs.len());
    for id in jobs {
        match store.job(id)? {
            Some(m) => up.push(m),
            None => return Ok(None),
        }
    }
    Ok(Some(up))
}

/// Whether some job of `s` (a chained stream) was made from its upstream jobs as they were
/// before they changed otherwise than by growth (redone, or a job made by an older version
/// that recorded no upstream versions; or grown while the job was part-way): the upstream
/// fingerprint it recorded is not theirs now, and it cannot read only the keys new since
/// (`ingest::job::grows_from`). Such a job is redone from row 0; a job whose upstream grew
/// reads the new keys only.
fn upstream_changed(store: &ReadOnlyStore, s: &Stream) -> Result<bool> {
    let StreamSource::Stream { jobs, .. } = &s.source else { return Ok(false) };
    let Some(up) = upstream_jobs(store, jobs)? else { return Ok(false) };
    let now = upstream_fingerprint(&up);
    let reads: Vec<UpstreamRead> = up.iter().map(UpstreamRead::from).collect();
    for id in s.jobs() {
        if store.job(&id)?.is_some_and(|m| m.input.footer_hash != now && !grows_from(&m, &reads)) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Runs every stream of `c` in order into `store`, skipping complete ones; `on_stream` is
/// called before (`None`) and after (`Some`) each stream that runs.
pub fn run(
    store: &Store,
    rules: &RuleSet,
    c: &Campaign,
    opts: &RunOptions,
    mut on_stream: impl FnMut(&Stream, Option<&StreamReport>),
) -> Result<CampaignReport> {
    let started = Instant::now();
    let mut report = CampaignReport::default();
    // the whole campaign's families, before hours of work: each stream checks its own too
    let mut new_jobs = 0;
    for id in c.jobs() {
        new_jobs += usize::from(store.job(&id)?.is_none());
    }
    let families = store.family_count()? + new_jobs;
    opts.budget.check_families(families).map_err(crate::error::IngestError::Budget)?;
    for s in &c.streams {
        if opts.control.as_ref().is_some_and(|c| c.stop_requested()) {
            report.stopped = true;
            break;
        }
        if stream_done(store, rules, s)? {
            report.streams.push(StreamReport { key: s.key.clone(), ingest: None });
            continue;
        }
        on_stream(s, None);
        let mut o = stream_options(c, s, opts);
        if upstream_changed(store, s)? {
            // what the upstream streams hold now is another input: this stream (and, in turn,
            // the streams made from it) is redone, nothing else
            if opts.progress {
                eprintln!("{}: its upstream jobs changed since it was made; redoing it", s.key);
            }
            o.restart = true;
        }
        let plan = IngestPlan::new_in(rules, o, store)?;
        let r = StreamReport { key: s.key.clone(), ingest: Some(plan.run(store)?) };
        on_stream(s, Some(&r));
        let stopped = r.ingest.as_ref().is_some_and(|i| i.stopped);
        report.streams.push(r);
        if stopped {
            report.stopped = true;
            break;
        }
    }
    report.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(report)
}

/// One job of a campaign as the store has it now.
#[derive(Debug, Clone)]
pub struct CampaignJob {
    /// Job id.
    pub id: String,
    /// Its stream.
    pub stream: String,
    /// Its step.
    pub step: String,
    /// The class carried down.
    pub class: String,
    /// Its rule.
    pub rule: String,
    /// The job's metadata; None when it has not started.
    pub meta: Option<JobMeta>,
    /// Expected seconds left: from the job's own rate when started, else from the campaign's
    /// mean seconds per input row and the upstream's distinct products (an upper bound on the
    /// rows); None when nothing is known yet.
    pub eta_secs: Option<f64>,
}

/// Every job of the campaign with its state and an estimate of the time left.
pub fn status(store: &Reader, c: &Campaign) -> Result<Vec<CampaignJob>> {
    let mut out = Vec::new();
    for s in &c.streams {
        for (rule, id) in s.rules.iter().zip(s.jobs()) {
            let meta = store.job(&id)?;
            out.push(CampaignJob {
                id,
                stream: s.key.clone(),
                step: s.step.clone(),
                class: s.class.clone(),
                rule: rule.clone(),
                meta,
                eta_secs: None,
            });
        }
    }
    // A stream's jobs run together: its time is its slowest job's; secs/row over all streams.
    let (mut secs, mut rows) = (0.0, 0u64);
    for s in &c.streams {
        let metas: Vec<&JobMeta> = out.iter().filter(|j| j.stream == s.key).filter_map(|j| j.meta.as_ref()).collect();
        if let Some(m) = metas.iter().max_by(|a, b| a.busy_secs.total_cmp(&b.busy_secs)) {
            secs += m.busy_secs;
            rows += m.offset;
        }
    }
    let per_row = (rows > 0).then(|| secs / rows as f64);
    let upstream_rows = |s: &Stream, out: &[CampaignJob]| -> Option<u64> {
        let StreamSource::Stream { jobs, .. } = &s.source else { return None };
        jobs.iter().map(|id| out.iter().find(|j| &j.id == id)?.meta.as_ref().map(|m| m.counters.unique_products)).sum()
    };
    for k in 0..out.len() {
        let eta = match &out[k].meta {
            Some(m) if m.state == JobState::Complete => Some(0.0),
            Some(m) if m.offset > 0 => Some(m.busy_secs / m.offset as f64 * (m.input.rows - m.offset) as f64),
            Some(m) => per_row.map(|p| p * m.input.rows as f64),
            None => {
                let s = c.streams.iter().find(|s| s.key == out[k].stream);
                s.and_then(|s| upstream_rows(s, &out)).zip(per_row).map(|(r, p)| r as f64 * p)
            }
        };
        out[k].eta_secs = eta;
    }
    Ok(out)
}

/// Expected seconds left for the whole campaign (each stream counts once: its jobs run in one
/// pass), and how many streams have no estimate yet.
pub fn time_left(jobs: &[CampaignJob]) -> (f64, usize) {
    let mut streams: Vec<(&str, Option<f64>)> = Vec::new();
    for j in jobs {
        match streams.iter_mut().find(|(s, _)| *s == j.stream) {
            Some((_, eta)) => *eta = eta.zip(j.eta_secs).map(|(a, b)| a.max(b)),
            None => streams.push((&j.stream, j.eta_secs)),
        }
    }
    let known = streams.iter().filter_map(|(_, e)| *e).sum();
    (known, streams.iter().filter(|(_, e)| e.is_none()).count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_counts_each_stream_once_at_its_slowest_job() {
        let job = |stream: &str, eta: Option<f64>| CampaignJob {
            id: format!("{stream}/r"),
            stream: stream.into(),
            step: "s".into(),
            class: "c".into(),
            rule: "r".into(),
            meta: None,
            eta_secs: eta,
        };
        let jobs =
            [job("a", Some(10.0)), job("a", Some(30.0)), job("b", Some(5.0)), job("c", None), job("c", Some(1.0))];
        assert_eq!(time_left(&jobs), (35.0, 1));
    }
}
