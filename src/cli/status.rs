//! `xfstore status`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use xfstore::{status, status_json, ReadOnlyStore};

use super::StoreArg;

/// Arguments of `xfstore status`.
#[derive(Args)]
pub struct StatusArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

pub fn run(a: StatusArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let db = ReadOnlyStore::open(&a.store.store)?;
    let st = status(&db)?;
    if a.json {
        writeln!(out, "{}", status_json(&st))?;
    } else {
        write!(out, "{}", st.to_text())?;
    }
    Ok(ExitCode::SUCCESS)
}
