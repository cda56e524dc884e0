//! `xfstore export`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;
use xfstore::internal::{human, peak_rss};
use xfstore::{
    export, export_campaign, export_shard_parts, select_jobs, ExportOptions, MemoryBudget, Reader, StoreOptions,
    DEFAULT_ROW_GROUP_ROWS,
};

use super::StoreArg;

/// Arguments of `xfstore export`.
#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Rule whose job to export (when the store has one job for it).
    #[arg(long)]
    rule: Option<String>,
    /// Job id (`<input stem>/<rule>`), see `xfstore status`.
    #[arg(long)]
    job: Option<String>,
    /// Destination: `.parquet` (default), `.csv`, `.smi`, `.sdf` or `.sdf.gz`, from the extension; with
    /// --campaign a folder. A partitioned job to a name without an extension: a folder of one
    /// Parquet part per shard plus manifest.json; to a `.parquet` name: one file, its shards merged.
    #[arg(long)]
    output: PathBuf,
    /// Export every job of this campaign file: one file per job named <stream>__<rule>.<ext>
    /// plus index.json, the folder published as a whole.
    #[arg(long, conflicts_with_all = ["rule", "job", "split_rows", "split_bytes"])]
    campaign: Option<PathBuf>,
    /// With --campaign: the files' format (parquet, csv, smi, sdf, sdf.gz).
    #[arg(long, default_value = "parquet", requires = "campaign")]
    format: String,
    /// Rule file of the campaign (default: the campaign's `rules_file`, else built-in).
    #[arg(long, requires = "campaign")]
    rules_file: Option<PathBuf>,
    /// Rows per row group (a row group also ends at 1/8 of the memory budget in bytes).
    #[arg(long, default_value_t = DEFAULT_ROW_GROUP_ROWS)]
    row_group_rows: usize,
    /// Memory budget (block cache, row group being encoded). E.g. 1GiB, 512MiB.
    #[arg(long, default_value_t = MemoryBudget::default())]
    memory_budget: MemoryBudget,
    /// Write a folder of Parquet parts of at most N rows each, plus manifest.json.
    #[arg(long, value_name = "N")]
    split_rows: Option<u64>,
    /// Write a folder of Parquet parts of about N bytes each, plus manifest.json.
    #[arg(long, value_name = "N")]
    split_bytes: Option<u64>,
    /// Export a job that is not complete (still running or interrupted): the file holds the
    /// products of the rows committed so far, and its metadata says so.
    #[arg(long)]
    allow_incomplete: bool,
    /// Add `inchikey` and `parent_inchikey` columns: standard InChIKeys from the IUPAC InChI
    /// library (stereo from the molecule), computed while writing (~1 ms per product, one at a
    /// time: the library is not thread-safe). Parquet, CSV and SDF.
    #[arg(long)]
    inchikey: bool,
}

pub fn run(a: ExportArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let db = Reader::open_with(&a.store.store, &StoreOptions::from_budget(&a.memory_budget))?;
    let opts = ExportOptions::new(&a.output)
        .row_group_rows(a.row_group_rows)
        .row_group_bytes(a.memory_budget.row_group_bytes())
        .inchikey(a.inchikey);
    if let Some(path) = &a.campaign {
        return campaign(&db, path, &a, &opts, out);
    }
    let jobs = select_jobs(&db, a.job.as_deref(), a.rule.as_deref())?;
    let job = match jobs.as_slice() {
        [one] => one,
        [] => bail!("the store has no jobs; pass --rule or --job"),
        many => bail!(
            "{} jobs match; pick one with --job: {}",
            many.len(),
            many.iter().map(|j| j.id.as_str()).collect::<Vec<_>>().join(", ")
        ),
    };
    let opts = opts
        .split_rows(a.split_rows.unwrap_or(0))
        .split_bytes(a.split_bytes.unwrap_or(0))
        .allow_incomplete(a.allow_incomplete);
    // a partitioned job to a folder: one part per shard, no merge; to a `.parquet` file (or
    // text, or split): its shards merged in key order, as a store's export
    let to_file = a.output.extension().is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
    let per_shard = db.single().is_none() && opts.is_unsplit_parquet() && !to_file;
    let r = if per_shard { export_shard_parts(&db, job, &opts) } else { export(&db, job, &opts) }
        .with_context(|| format!("exporting job {}", job.id))?;
    if !r.complete {
        eprintln!(
            "xfstore: warning: job {} is not complete (row {} of {}): the export holds the rows committed so far",
            job.id, job.offset, job.input.rows
        );
    }
    writeln!(
        out,
        "export {}: {} rows -> {} ({} file(s), {} bytes, {:.2} s, {:.0} rows/s, peak RSS {})",
        job.id,
        r.rows,
        a.output.display(),
        r.files,
        r.bytes,
        r.elapsed_secs,
        r.rows as f64 / r.elapsed_secs.max(1e-9),
        human(peak_rss())
    )?;
    warn_inchikeys(r.inchikey_failed);
    Ok(ExitCode::SUCCESS)
}

/// Says how many InChIKeys the library could not make (left null), if any.
fn warn_inchikeys(failed: u64) {
    if failed > 0 {
        eprintln!(
            "xfstore: warning: the InChI library made no InChIKey for {failed} product(s) or parent(s): left null"
        );
    }
}

/// `--campaign`: every job of the campaign, one file each, plus the index.
fn campaign(db: &Reader, path: &Path, a: &ExportArgs, opts: &ExportOptions, out: &mut dyn Write) -> Result<ExitCode> {
    let (c, rules, _) = xfstore::Campaign::load(path, a.rules_file.as_deref())?;
    let started = std::time::Instant::now();
    let index = export_campaign(db, &c, &rules, &a.output, &a.format, a.allow_incomplete, opts)?;
    for e in &index.jobs {
        writeln!(out, "  {} -> {} ({} rows{})", e.job, e.file, e.rows, if e.complete { "" } else { ", INCOMPLETE" })?;
    }
    writeln!(
        out,
        "export campaign {}: {} job(s), {} rows -> {} ({:.2} s, peak RSS {})",
        path.display(),
        index.jobs.len(),
        index.jobs.iter().map(|e| e.rows).sum::<u64>(),
        a.output.display(),
        started.elapsed().as_secs_f64(),
        human(peak_rss())
    )?;
    warn_inchikeys(opts.inchikey_failed());
    Ok(ExitCode::SUCCESS)
}
