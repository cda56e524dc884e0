//! `xfstore bench-transform`: the bare transform loop, the yardstick for ingest's overhead.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use xfstore::{
    bare_loop, human, peak_rss, InputColumns, InputFile, RuleSet, DEFAULT_BATCH_ROWS, DEFAULT_SMILES_COLUMN,
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
