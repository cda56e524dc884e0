//! `xfstore compact`.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use xfstore::{Store, StoreOptions};

use super::StoreArg;

/// Arguments of `xfstore compact`.
#[derive(Args)]
pub struct CompactArgs {
    #[command(flatten)]
    store: StoreArg,
}

pub fn run(a: CompactArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let started = Instant::now();
    let db = Store::open(&a.store.store, &StoreOptions::default())?;
    let before = db.disk_bytes();
    db.compact()?;
    let secs = started.elapsed().as_secs_f64();
    writeln!(out, "compact {}: {} -> {} bytes in {secs:.1} s", a.store.store.display(), before, db.disk_bytes())?;
    Ok(ExitCode::SUCCESS)
}
