//! `xfstore verify`: an export (Parquet file, split folder, CSV, .smi) or a whole store.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;
use xfstore::{verify_export as verify, verify_folder, verify_text, Format, ReadOnlyStore};

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
        let db = ReadOnlyStore::open(store)?;
        let report = db.verify()?;
        for cf in &report.column_families {
            match &cf.error {
                None => writeln!(out, "  ok       {} ({} keys)", cf.name, cf.keys)?,
                Some(e) => writeln!(out, "  DAMAGED  {}: {e}", cf.name)?,
            }
        }
        if report.is_ok() {
            writeln!(out, "{}: valid, {} column families checked", store.display(), report.column_families.len())?;
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!("xfstore: {}: damaged; jobs affected: {}", store.display(), report.damaged_jobs().join(", "));
        return Ok(exit(false));
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
