//! `xfstore verify`: an export (Parquet file, split folder, CSV, .smi) or a whole store.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;
use xfstore::{verify_export as verify, verify_folder, verify_text, Format, ReadOnlyStore, Reader};

use super::exit;

/// Arguments of `xfstore verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// Export to check: a Parquet file, a split-export folder, a `.csv` or a `.smi` file.
    #[arg(required_unless_present = "store", conflicts_with = "store")]
    file: Option<PathBuf>,
    /// Check every file of this store instead: each block's checksum, read from disk (not the
    /// cache); names the jobs whose data is damaged.
    #[arg(long)]
    store: Option<PathBuf>,
    /// Also decode every row (Parquet).
    #[arg(long)]
    full: bool,
}

pub fn run(a: VerifyArgs, out: &mut dyn Write) -> Result<ExitCode> {
    if let Some(store) = &a.store {
        return verify_store(store, out);
    }
    let Some(file) = a.file else { bail!("pass an export to check, or --store DIR") };
    let result = if file.is_dir() {
        verify_folder(&file, a.full).map(|m| {
            format!(
                "{}: valid split export of job {}, {} rows in {} part(s)\n",
                file.display(),
                m.job,
                m.rows,
                m.parts.len()
            )
        })
    } else {
        match Format::from_path(&file) {
            Format::Text(f) => verify_text(&file, f).map(|r| {
                format!("{}: valid {}, {} records ({} columns)\n", file.display(), f.name(), r.records, r.columns)
            }),
            Format::Parquet => verify(&file, a.full).map(|r| {
                let mut s = format!("{}: valid, {} rows in {} row group(s)\n", file.display(), r.rows, r.row_groups);
                for (name, ty) in &r.columns {
                    s += &format!("  {name}: {ty}\n");
                }
                for (k, v) in &r.provenance {
                    s += &format!("  {k} = {v}\n");
                }
                s
            }),
        }
    };
    match result {
        Ok(text) => {
            write!(out, "{text}")?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("xfstore: {e}");
            Ok(exit(false))
        }
    }
}

/// `verify --store`: every block's checksum, then the job records against RocksDB's view and
/// the folder's files against RocksDB's live files; for a partitioned run or campaign, of every
/// shard.
fn verify_store(path: &std::path::Path, out: &mut dyn Write) -> Result<ExitCode> {
    let reader = Reader::open(path)?;
    let stores = reader.stores()?;
    let (mut damaged, mut families) = (Vec::new(), 0);
    for db in &stores {
        if stores.len() > 1 {
            writeln!(out, "shard {}:", db.path().display())?;
        }
        let (problems, n) = verify_one(db, out)?;
        damaged.extend(problems);
        families += n;
    }
    if damaged.is_empty() {
        let shards = if stores.len() > 1 { format!(" ({} shards)", stores.len()) } else { String::new() };
        writeln!(
            out,
            "{}: valid{shards}, {families} column families checked, job records agree with them",
            path.display()
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let more = damaged.len().saturating_sub(5);
    damaged.truncate(5);
    let more = if more > 0 { format!(" and {more} more (listed above)") } else { String::new() };
    eprintln!("xfstore: {}: damaged; jobs affected: {}{more}", path.display(), damaged.join(", "));
    if stores.iter().any(|db| db.writer_pid().is_some()) {
        eprintln!("xfstore: a writer is running: check again once it has stopped");
    }
    Ok(exit(false))
}

/// Checks one store, printing a line per column family and problem; returns the problems and
/// the number of column families checked.
fn verify_one(db: &ReadOnlyStore, out: &mut dyn Write) -> Result<(Vec<String>, usize)> {
    let report = db.verify()?;
    for cf in &report.column_families {
        match &cf.error {
            None => writeln!(out, "  ok       {} ({} keys)", cf.name, cf.keys)?,
            Some(e) => writeln!(out, "  DAMAGED  {}: {e}", cf.name)?,
        }
    }
    let damage = db.check_records()?;
    for d in &damage {
        writeln!(out, "  DAMAGED  {d}")?;
    }
    let files = db.check_files()?;
    let unlisted_bytes: u64 = files.unlisted.iter().map(|(_, b)| b).sum();
    writeln!(
        out,
        "  files    {} live, {} .sst in the folder not listed by RocksDB ({}), {} listed but missing",
        files.live,
        files.unlisted.len(),
        xfstore::internal::human(unlisted_bytes),
        files.missing.len()
    )?;
    for name in &files.missing {
        writeln!(out, "  DAMAGED  live file {name} is missing")?;
    }
    let mut problems = if report.is_ok() { Vec::new() } else { report.damaged_jobs() };
    problems.extend(damage.iter().map(ToString::to_string));
    problems.extend(files.missing.iter().map(|f| format!("live file {f} is missing")));
    Ok((problems, report.column_families.len()))
}
