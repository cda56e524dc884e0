//! The command line: one args struct and one handler per command (ripgrep's layout), defaults
//! taken from the library's constants. Handlers print through the caller's writer (stdout,
//! locked and buffered by `main`), so a closed pipe is an I/O error that `main` turns into a
//! quiet exit instead of a panic.

mod bench;
mod compact;
mod export;
mod ingest;
mod partition;
mod query;
mod report;
mod run;
mod status;
mod verify;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use xfstore::DEFAULT_STORE_DIR;

/// `xfstore` and its commands.
#[derive(Parser)]
#[command(name = "xfstore", version, about = "Incremental reaction-transform store for virtual chemical libraries")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The store a command works on.
#[derive(Args)]
pub struct StoreArg {
    /// Store directory (created by ingest), or a partitioned run folder (made by `plan`).
    #[arg(long, default_value = DEFAULT_STORE_DIR)]
    pub store: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Transform an input (Parquet, SMILES, CSV/TSV, SDF, gzip, or job:ID products) with one or
    /// more rules into the store (resumable).
    Ingest(ingest::IngestArgs),
    /// Run a campaign file: every step's jobs in dependency order, resumable, skipping
    /// complete jobs. The whole file is validated first.
    Run(run::RunArgs),
    /// Write a job's products to Parquet, CSV or SMILES, atomically and validated.
    Export(export::ExportArgs),
    /// Look products up by SMILES (any spelling). Exit code 1 when any is not found.
    Query(query::QueryArgs),
    /// Validate an export (Parquet file, split-export folder, CSV or .smi) or, with --store, every
    /// file of a store; exit code 1 if anything is corrupt or partial.
    Verify(verify::VerifyArgs),
    /// Rewrite the store's files with the current options and merge levels (maintenance).
    Compact(compact::CompactArgs),
    /// Benchmark yardstick: the bare transform loop (same reader, same per-row transform, in
    /// parallel) with no dedup and no store. Ingest's products/s over this loop's is the share
    /// of time left to RDKit.
    BenchTransform(bench::BenchTransformArgs),
    /// Benchmark of the write path alone: replays a recorded product stream (recorded first
    /// if needed) through ingest minus RDKit; products/s per slice as the store grows.
    BenchWriter(bench::BenchWriterArgs),
    /// List the store's jobs with their progress and counters.
    Status(status::StatusArgs),
    /// A campaign's products and unique products per class x step x rule x halogen, as tables
    /// or CSV.
    Report(report::ReportArgs),
    /// Plan a partitioned run: cut an ingest into units of input rows and partitions of the
    /// product keys, in a run folder (then `map` each unit, `reduce` each partition).
    Plan(partition::PlanArgs),
    /// Partitioned run: transform one unit into a run file sorted by (partition, key).
    Map(partition::MapArgs),
    /// Partitioned run: merge one partition of every run file into its shard store.
    Reduce(partition::ReduceArgs),
}

/// Runs one parsed command line, printing results to `out`; the exit code distinguishes
/// success (0) from a negative answer (1: not found, invalid file).
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<ExitCode> {
    let code = match cli.command {
        Command::Ingest(a) => ingest::run(a, out)?,
        Command::Run(a) => run::run(a, out)?,
        Command::Export(a) => export::run(a, out)?,
        Command::Query(a) => query::run(a, out)?,
        Command::Verify(a) => verify::run(a, out)?,
        Command::Compact(a) => compact::run(a, out)?,
        Command::BenchTransform(a) => bench::run(a, out)?,
        Command::BenchWriter(a) => bench::run_writer(a, out)?,
        Command::Status(a) => status::run(a, out)?,
        Command::Report(a) => report::run(a, out)?,
        Command::Plan(a) => partition::plan(a, out)?,
        Command::Map(a) => partition::map(a, out)?,
        Command::Reduce(a) => partition::reduce(a, out)?,
    };
    out.flush()?;
    Ok(code)
}

/// Exit code 0 if `ok`, else 1.
fn exit(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
