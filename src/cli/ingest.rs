//! `xfstore ingest`: options, the run, and its summary.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use xfstore::internal::human;
use xfstore::{
    write_rejects, Durability, IngestOptions, IngestPlan, IngestReport, InputFormat, InputSpec, MemoryBudget, RuleSet,
    StoreOptions, WritePath, DEFAULT_BATCH_ROWS, DEFAULT_MAX_HEAVY_ATOMS, DEFAULT_SMILES_COLUMN,
};

use super::StoreArg;

/// Arguments of `xfstore ingest`.
#[derive(Args)]
pub struct IngestArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Input: a Parquet file, a folder of Parquet parts (a split export too), a quoted glob
    /// ('parts/*.parquet'), a .smi/.smiles, .csv, .tsv or .sdf file (each optionally .gz), or
    /// job:<ID>[,<ID>...] for the deduplicated products of jobs in this store.
    #[arg(long)]
    input: InputSpec,
    /// Rule name, or X-template name such as 'RING_SP3__CH__TO__{X}' for all its halogens
    /// (repeatable: several rules in one pass over the input).
    #[arg(long = "rule", required = true)]
    rules: Vec<String>,
    #[command(flatten)]
    transform: TransformArgs,
    /// Most input rows per batch (one atomic commit per batch); batches are cut smaller to
    /// hold about the same number of PRODUCTS whatever the rows yield.
    #[arg(long, default_value_t = DEFAULT_BATCH_ROWS)]
    batch_rows: usize,
    /// Memory budget for the whole process (RocksDB cache and memtables, products in
    /// flight); ingest holds back when RSS goes over it. E.g. 1GiB, 512MiB, 4G.
    #[arg(long, default_value_t = MemoryBudget::default())]
    memory_budget: MemoryBudget,
    /// Discard the existing job(s) for this input and rules and start afresh.
    #[arg(long)]
    restart: bool,
    /// fsync the WAL at every commit (survives power loss, not only process death).
    #[arg(long)]
    sync: bool,
    /// Process at most this many input rows in this run, then stop (resume later).
    #[arg(long)]
    max_rows: Option<u64>,
    /// Write every rejected input row (row, id, SMILES, reason, RDKit message) to this TSV.
    #[arg(long)]
    rejects: Option<PathBuf>,
    /// Total memtable budget in bytes (tests use tiny values to force frequent flushes).
    #[arg(long, hide = true)]
    write_buffer_bytes: Option<usize>,
    /// Write path: `blind` (default) or `read-modify-write` (the previous path, for
    /// benchmarks and comparisons; properties for every product).
    #[arg(long, hide = true, value_parser = parse_write_path, default_value = "blind")]
    write_path: WritePath,
}

/// How rows are read and transformed: the options `ingest` and `plan` share.
#[derive(Args)]
pub struct TransformArgs {
    /// Read the input as this format instead of the one its name implies (parquet, smiles,
    /// csv, tsv, sdf); gzip is recognised by content.
    #[arg(long)]
    format: Option<InputFormat>,
    /// Name of the input in the store: jobs are <NAME>/<rule> (default: the file name without
    /// its extensions; the folder name; the job ids).
    #[arg(long)]
    name: Option<String>,
    /// Most sites transformed per parent by every rule of this run (-1: no cap), replacing the
    /// rule file's; over it, the sites first in RDKit's canonical atom ranking are kept.
    #[arg(long, allow_negative_numbers = true)]
    site_cap: Option<i64>,
    /// Never transform a site on a sugar ring, its oxygens or its hydroxymethyl (pyranoses and
    /// furanoses, see ARCHITECTURE.md); masked matches are counted per job.
    #[arg(long)]
    sugar_mask: bool,
    /// Rule file (default: the built-in configs/transforms.yaml).
    #[arg(long)]
    pub rules_file: Option<PathBuf>,
    /// Name of the SMILES column.
    #[arg(long, default_value = DEFAULT_SMILES_COLUMN)]
    smiles_column: String,
    /// Optional id column carried into provenance (for SDF: a data field; the default id of
    /// an SDF record is its title line, of a SMILES line the text after the SMILES).
    #[arg(long, alias = "id-field")]
    id_column: Option<String>,
    /// Input column to carry into the export as `source_<COL>` (repeatable).
    #[arg(long = "carry")]
    carry: Vec<String>,
    /// Reject (as `too_large`) input SMILES with more heavy atoms than this, counted before
    /// parsing: RDKit's parse time grows steeply with size (a 5,000-atom chain takes ~80 s).
    #[arg(long, default_value_t = DEFAULT_MAX_HEAVY_ATOMS)]
    pub max_heavy_atoms: u32,
    /// Skip computing product properties (MW, TPSA, ...).
    #[arg(long)]
    pub no_props: bool,
}

impl TransformArgs {
    /// The rule file's rules, or the built-in ones.
    pub fn rule_set(&self) -> Result<RuleSet> {
        Ok(RuleSet::load_or_builtin(self.rules_file.as_deref())?)
    }

    /// Ingest options for `input` x `rules` (X-template names resolved to their rules) with
    /// these settings; everything else at its default.
    pub fn options(&self, input: InputSpec, rule_set: &RuleSet, rules: &[String]) -> Result<IngestOptions> {
        Ok(IngestOptions::for_rules(input, rule_set, rules, self.site_cap, self.sugar_mask)?
            .format(self.format)
            .input_key(self.name.clone())
            .smiles_column(&self.smiles_column)
            .id_column(self.id_column.clone())
            .carry_columns(self.carry.clone())
            .with_props(!self.no_props)
            .max_heavy_atoms(self.max_heavy_atoms))
    }
}

/// A warning when the process's peak RSS went over the budget: never silently (the flow
/// control holds batches back above 90% of it, but what a run holds besides its batches, such
/// as the column families of a store of many jobs, it cannot shrink).
pub fn over_budget(peak: u64, budget: u64) -> Option<String> {
    (peak > budget).then(|| {
        format!(
            "warning: peak RSS {} went over the memory budget {} by {}; give a larger --memory-budget",
            human(peak),
            human(budget),
            human(peak - budget)
        )
    })
}

/// `blind` or `read-modify-write`.
pub fn parse_write_path(s: &str) -> Result<WritePath, String> {
    match s {
        "blind" => Ok(WritePath::Blind),
        "read-modify-write" => Ok(WritePath::ReadModifyWrite),
        other => Err(format!("unknown write path {other:?}: blind or read-modify-write")),
    }
}

pub fn run(a: IngestArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let rule_set = a.transform.rule_set()?;
    let opts = a
        .transform
        .options(a.input, &rule_set, &a.rules)?
        .batch_rows(a.batch_rows)
        .budget(a.memory_budget)
        .restart(a.restart)
        .max_rows(a.max_rows)
        .progress(true)
        .write_path(a.write_path);
    let mut so = StoreOptions {
        durability: if a.sync { Durability::Sync } else { Durability::Process },
        memtable_bloom: a.write_path == WritePath::ReadModifyWrite,
        ..opts.store_options()
    };
    if let Some(bytes) = a.write_buffer_bytes {
        so.write_buffer_bytes = bytes;
    }
    let (plan, db) = IngestPlan::with_store(&rule_set, opts, &a.store.store, &so)?;
    let report = plan.run(&db)?;
    print_report(&report, out)?;
    let disk = db.disk_bytes();
    let unique: u64 = db.jobs()?.iter().map(|j| j.counters.unique_products).sum();
    writeln!(
        out,
        "store {}: {} on disk, {} products in all jobs, {:.0} bytes/product",
        a.store.store.display(),
        human(disk),
        unique,
        disk as f64 / unique.max(1) as f64
    )?;
    if let Some(path) = a.rejects {
        let n = write_rejects(&db, plan.input_key(), &path)?;
        writeln!(out, "rejects: {n} rows -> {}", path.display())?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn print_report(r: &IngestReport, out: &mut dyn Write) -> std::io::Result<()> {
    for j in &r.jobs {
        let m = &j.meta;
        let c = &m.counters;
        let resumed = match j.resumed_from {
            0 => String::new(),
            n if n >= m.input.rows => " (already complete, nothing to do)".to_owned(),
            n => format!(" (resumed at row {n})"),
        };
        let failed = c.failed.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");
        let mut masked = match c.masked_sites {
            0 => String::new(),
            n => format!(", {n} sites masked"),
        };
        if c.filtered > 0 {
            masked.push_str(&format!(", {} filtered by keep", c.filtered));
        }
        writeln!(
            out,
            "ingest {}{resumed}: {} inputs, {} failed [{}], {} without site, {} products ({} unsanitizable{masked}), {} unique",
            m.id,
            c.inputs,
            c.failed_total(),
            failed,
            c.no_site,
            c.site_products,
            c.product_failed,
            c.unique_products
        )?;
    }
    let secs = r.elapsed_secs.max(1e-9);
    writeln!(
        out,
        "run: {} rows, {} products in {:.2} s = {:.0} rows/s, {:.0} products/s; peak RSS {} (budget {}{})",
        r.rows,
        r.site_products,
        r.elapsed_secs,
        r.rows as f64 / secs,
        r.site_products as f64 / secs,
        human(r.peak_rss),
        human(r.budget.bytes()),
        match r.throttled {
            0 => String::new(),
            n => format!(", held back {n} times"),
        }
    )?;
    if let Some(note) = over_budget(r.peak_rss, r.budget.bytes()) {
        writeln!(out, "{note}")?;
    }
    let m = &r.store_memory;
    writeln!(
        out,
        "rocksdb holds: block cache {} ({} pinned), memtables {}, table readers {}",
        human(m.block_cache),
        human(m.pinned),
        human(m.memtables),
        human(m.table_readers)
    )?;
    if r.batches > 0 {
        writeln!(
            out,
            "batches: {} committed, the largest {} products ({} in flight); commits took {:.1} s ({:.1}% of the run){}",
            r.batches,
            r.max_batch_products,
            human(r.max_batch_bytes),
            r.commit_secs,
            100.0 * r.commit_secs / secs,
            match r.props_computed {
                0 => String::new(),
                n => format!("; properties computed for {n} new products"),
            }
        )?;
    }
    for (row, rej) in r.rejected.iter().take(5) {
        eprintln!("  rejected row {row}: {} ({})", rej.reason, rej.detail);
    }
    if r.rejected.len() > 5 {
        eprintln!("  ... {} more rejected rows", r.rejected.len() - 5);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::over_budget;

    #[test]
    fn a_peak_over_the_budget_is_a_warning() {
        assert_eq!(over_budget(256 << 20, 256 << 20), None);
        let note = over_budget(265 << 20, 256 << 20).unwrap();
        assert!(note.starts_with("warning: peak RSS 265 MiB went over the memory budget 256 MiB by 9 MiB"), "{note}");
    }
}
