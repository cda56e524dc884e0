//! `xfstore run CAMPAIGN.yaml`: validate the whole campaign, then run its streams in order.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use xfstore::internal::human;
use xfstore::{
    next_run, run_campaign, Campaign, Durability, MemoryBudget, Reader, RuleSet, RunOptions, Store, StoreOptions,
    StreamSource, DEFAULT_BATCH_ROWS,
};

use super::StoreArg;

/// Arguments of `xfstore run`.
#[derive(Args)]
pub struct RunArgs {
    /// The campaign file (see configs/campaign.example.yaml).
    campaign: PathBuf,
    #[command(flatten)]
    store: StoreArg,
    /// Rule file (default: the campaign's `rules_file`, else the built-in rules).
    #[arg(long)]
    rules_file: Option<PathBuf>,
    /// Validate the campaign and print its plan; run nothing.
    #[arg(long)]
    check: bool,
    /// Memory budget of each ingest (see `ingest --memory-budget`).
    #[arg(long, default_value_t = MemoryBudget::default())]
    memory_budget: MemoryBudget,
    /// Most input rows per batch.
    #[arg(long, default_value_t = DEFAULT_BATCH_ROWS)]
    batch_rows: usize,
    /// Skip product properties in every job.
    #[arg(long)]
    no_props: bool,
    /// fsync the WAL at every commit.
    #[arg(long)]
    sync: bool,
    /// Redo exactly the jobs whose input or rule (SMARTS, cap, sugar mask) changed otherwise
    /// than by growth, and the streams made from them, instead of stopping at the first.
    #[arg(long)]
    redo_changed: bool,
}

pub fn run(a: RunArgs, out: &mut dyn Write) -> Result<ExitCode> {
    // every problem of the file is reported before the store is created or touched
    let (c, rules, _) = Campaign::load(&a.campaign, a.rules_file.as_deref())?;
    print_plan(&c, out)?;
    let opts = RunOptions::default()
        .budget(a.memory_budget)
        .batch_rows(a.batch_rows)
        .no_props(a.no_props)
        .progress(true)
        .redo_changed(a.redo_changed);
    if a.check {
        print_next(&a.store.store, &c, &rules, &opts, out)?;
        return Ok(ExitCode::SUCCESS);
    }
    out.flush()?;
    let so = StoreOptions {
        durability: if a.sync { Durability::Sync } else { Durability::Process },
        ..StoreOptions::from_budget(&a.memory_budget)
    };
    let db = Store::open(&a.store.store, &so)?;
    let report = run_campaign(&db, &rules, &c, &opts, |s, r| match r {
        None => eprintln!("== {} ({} rule(s), class {})", s.key, s.rules.len(), s.class),
        Some(r) => {
            if let Some(i) = &r.ingest {
                let _ = super::ingest::print_report(i, &mut std::io::stderr());
            }
        }
    })
    .map_err(|e| match e {
        xfstore::Error::Ingest(xfstore::IngestError::Mismatch { .. }) => anyhow::anyhow!(
            "{e}\n`xfstore run --redo-changed` redoes exactly the jobs that changed and the streams made from them"
        ),
        e => e.into(),
    })?;
    writeln!(
        out,
        "{:<40} {:>6} {:>10} {:>10} {:>12} {:>12} {:>9} {:>10} {:>10}",
        "stream", "jobs", "rows", "rows/s", "products", "unique", "secs", "products/s", "peak RSS"
    )?;
    let all_jobs = db.jobs()?;
    for (s, r) in c.streams.iter().zip(&report.streams) {
        let jobs = all_jobs.iter().filter(|j| j.input_key == s.key).collect::<Vec<_>>();
        let unique: u64 = jobs.iter().map(|j| j.counters.unique_products).sum();
        match &r.ingest {
            None => writeln!(
                out,
                "{:<40} {:>6} {:>10} {:>10} {:>12} {:>12} {:>9} {:>10} {:>10}",
                s.key,
                jobs.len(),
                jobs.first().map_or(0, |j| j.input.rows),
                "-",
                jobs.iter().map(|j| j.counters.site_products).sum::<u64>(),
                unique,
                "done",
                "-",
                "-"
            )?,
            Some(i) => {
                let secs = i.elapsed_secs.max(1e-9);
                writeln!(
                    out,
                    "{:<40} {:>6} {:>10} {:>10.0} {:>12} {:>12} {:>9.1} {:>10.0} {:>10}",
                    s.key,
                    jobs.len(),
                    i.rows,
                    i.rows as f64 / secs,
                    i.site_products,
                    unique,
                    i.elapsed_secs,
                    i.site_products as f64 / secs,
                    human(i.peak_rss)
                )?
            }
        }
    }
    let peak = report.streams.iter().filter_map(|r| r.ingest.as_ref()).map(|i| i.peak_rss).max().unwrap_or(0);
    if let Some(note) = super::ingest::over_budget(peak, a.memory_budget.bytes()) {
        writeln!(out, "{note}")?;
        eprintln!("{note}");
    }
    let disk = db.disk_bytes();
    writeln!(
        out,
        "campaign {}: {} stream(s), {} job(s), {:.1} s; store {} on disk",
        a.campaign.display(),
        c.streams.len(),
        c.jobs().len(),
        report.elapsed_secs,
        human(disk)
    )?;
    Ok(ExitCode::SUCCESS)
}

/// What the next run will do with each stream of `c` in the store at `path` (`run --check`).
pub(super) fn print_next(
    path: &Path,
    c: &Campaign,
    rules: &RuleSet,
    opts: &RunOptions,
    out: &mut dyn Write,
) -> Result<()> {
    let reader = if path.exists() { Some(Reader::open(path)?) } else { None };
    let single = match &reader {
        Some(r) if r.single().is_none() => {
            writeln!(out, "next run: {} is a {}; see `xfstore status --store`", path.display(), r.kind().name())?;
            return Ok(());
        }
        Some(r) => r.single(),
        None => None,
    };
    let note = if single.is_none() { " (no store yet: every job is new)" } else { "" };
    writeln!(out, "next run into {}{note}:", path.display())?;
    for s in next_run(single, rules, c, opts)? {
        writeln!(out, "  {}", s.summary())?;
    }
    Ok(())
}

fn print_plan(c: &Campaign, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "campaign {}: {} stream(s), {} job(s)", c.path.display(), c.streams.len(), c.jobs().len())?;
    for s in &c.streams {
        let from = match &s.source {
            StreamSource::File { path, .. } => path.clone(),
            StreamSource::Stream { key, jobs } => format!("products of {key} ({} job(s), deduplicated)", jobs.len()),
        };
        let rules = match s.rules.len() {
            0..=4 => s.rules.join(", "),
            n => format!("{n} rules ({}, ...)", s.rules[..2].join(", ")),
        };
        writeln!(out, "  {} [{}] <- {}: {rules}", s.key, s.class, from)?;
    }
    for n in &c.notes {
        writeln!(out, "  note: {n}")?;
    }
    Ok(())
}
