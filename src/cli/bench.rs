//! `xfstore bench-transform`: the bare transform loop, the yardstick for ingest's overhead;
//! `xfstore bench-writer`: the write path alone, replaying a recorded product stream.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use xfstore::internal::{bare_loop, human, peak_rss, record_product_stream};
use xfstore::{
    CommitPoint, IngestOptions, IngestPlan, InputColumns, InputFile, MemoryBudget, RuleSet, Store, StoreOptions,
    WritePath, DEFAULT_BATCH_ROWS, DEFAULT_SMILES_COLUMN,
};

/// Arguments of `xfstore bench-transform`.
#[derive(Args)]
pub struct BenchTransformArgs {
    #[arg(long)]
    input: PathBuf,
    #[arg(long = "rule", required = true)]
    rules: Vec<String>,
    #[arg(long, default_value = DEFAULT_SMILES_COLUMN)]
    smiles_column: String,
    #[arg(long, default_value_t = DEFAULT_BATCH_ROWS)]
    batch_rows: usize,
    #[arg(long)]
    no_props: bool,
    #[arg(long)]
    max_rows: Option<u64>,
}

pub fn run(a: BenchTransformArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let rule_set = RuleSet::builtin()?;
    let rules: Vec<_> = a.rules.iter().map(|n| rule_set.get(n)).collect::<Result<_, _>>()?;
    let cols = InputColumns { smiles: a.smiles_column, ..InputColumns::default() };
    let file = InputFile::open(&a.input, &cols)?;
    let r = bare_loop(&file, &rules, a.batch_rows, !a.no_props, a.max_rows)?;
    let secs = r.elapsed_secs.max(1e-9);
    writeln!(
        out,
        "bare loop: {} rows ({} rejected), {} products in {:.2} s = {:.0} rows/s, {:.0} products/s; peak RSS {}",
        r.rows,
        r.rejected,
        r.site_products,
        r.elapsed_secs,
        r.rows as f64 / secs,
        r.site_products as f64 / secs,
        human(peak_rss())
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `xfstore bench-writer`.
#[derive(Args)]
pub struct BenchWriterArgs {
    /// The input the stream was (or is to be) recorded from.
    #[arg(long)]
    input: PathBuf,
    /// The one rule of the job.
    #[arg(long)]
    rule: String,
    /// The recorded product stream (Parquet); recorded first when the file does not exist.
    #[arg(long)]
    stream: PathBuf,
    /// A store path that does not exist yet: the replay writes a fresh store there.
    #[arg(long)]
    store: PathBuf,
    #[arg(long, default_value_t = MemoryBudget::default())]
    memory_budget: MemoryBudget,
    /// Report throughput per slice of this many products.
    #[arg(long, default_value_t = 1_000_000)]
    slice: u64,
    /// Rows to record (all by default; only when the stream is recorded).
    #[arg(long)]
    max_rows: Option<u64>,
    /// `blind` (default) or `read-modify-write` (the previous path).
    #[arg(long, value_parser = super::ingest::parse_write_path, default_value = "blind")]
    write_path: WritePath,
}

/// `xfstore bench-writer`: the write path's ceiling. Replays a recorded product stream (the
/// transform's real outcomes, with their real duplicate rate) through the whole ingest
/// pipeline minus RDKit, and prints products/s per slice as the store grows, then totals:
/// products/s, the share of time in commits, peak RSS and store bytes per product.
pub fn run_writer(a: BenchWriterArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let rule_set = RuleSet::builtin()?;
    let cols = InputColumns { smiles: DEFAULT_SMILES_COLUMN.into(), ..InputColumns::default() };
    if !a.stream.exists() {
        let file = InputFile::open(&a.input, &cols)?;
        let r = record_product_stream(&file, rule_set.get(&a.rule)?, &a.stream, a.max_rows)?;
        writeln!(
            out,
            "recorded {}: {} rows, {} products in {:.1} s (RDKit, {:.0} products/s)",
            a.stream.display(),
            r.rows,
            r.products,
            r.elapsed_secs,
            r.products as f64 / r.elapsed_secs.max(1e-9)
        )?;
    }
    if a.store.exists() {
        anyhow::bail!("{} exists: the replay writes a fresh store", a.store.display());
    }
    let opts = IngestOptions::new(&a.input, vec![a.rule.clone()]).budget(a.memory_budget).write_path(a.write_path);
    let plan = IngestPlan::new(&rule_set, opts)?;
    let so = StoreOptions {
        memtable_bloom: a.write_path == WritePath::ReadModifyWrite,
        ..StoreOptions::from_budget(&a.memory_budget)
    };
    let store = Store::open(&a.store, &so)?;
    let r = plan.replay(&store, &a.stream)?;
    writeln!(out, "slice\tproducts\tunique\tsecs\tproducts_per_s\tcommit_share\twriter_ceiling")?;
    let mut prev = CommitPoint::default();
    let mut next = a.slice.max(1);
    let last = r.timeline.last().copied().unwrap_or_default();
    for p in &r.timeline {
        if p.site_products < next && p != &last {
            continue;
        }
        let (dp, dt) = (p.site_products - prev.site_products, (p.secs - prev.secs).max(1e-9));
        writeln!(
            out,
            "{}\t{}\t{}\t{:.2}\t{:.0}\t{:.3}\t{:.0}",
            next / a.slice.max(1),
            p.site_products,
            p.unique_products,
            p.secs,
            dp as f64 / dt,
            (p.commit_secs - prev.commit_secs) / dt,
            dp as f64 / (p.commit_cpu_secs - prev.commit_cpu_secs).max(1e-9)
        )?;
        prev = *p;
        while next <= p.site_products {
            next += a.slice.max(1);
        }
    }
    let disk = store.disk_bytes();
    let unique: u64 = r.jobs.iter().map(|j| j.meta.counters.unique_products).sum();
    writeln!(
        out,
        "total: {} products ({} unique) in {:.2} s = {:.0} products/s; commits {:.1} s ({:.1}%), writer CPU {:.1} s \
         = ceiling {:.0} products/s; peak RSS {}; store {} ({:.1} bytes/product)",
        r.site_products,
        unique,
        r.elapsed_secs,
        r.site_products as f64 / r.elapsed_secs.max(1e-9),
        r.commit_secs,
        100.0 * r.commit_secs / r.elapsed_secs.max(1e-9),
        r.commit_cpu_secs,
        r.site_products as f64 / r.commit_cpu_secs.max(1e-9),
        human(peak_rss()),
        human(disk),
        disk as f64 / unique.max(1) as f64
    )?;
    Ok(ExitCode::SUCCESS)
}
