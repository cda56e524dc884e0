//! `xfstore` command line: argument parsing and printing only; the library does the work.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use xfstore::export::{export, write_rejects, ExportOptions};
use xfstore::ingest::{input_key, IngestOptions, IngestPlan, IngestReport};
use xfstore::query::{lookup, select_jobs, status, to_json_line, to_text};
use xfstore::rules::RuleSet;
use xfstore::store::{Durability, Store, StoreOptions, DEFAULT_STORE_DIR};

#[derive(Parser)]
#[command(name = "xfstore", version, about = "Incremental reaction-transform store for virtual chemical libraries")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct StoreArg {
    /// Store directory (created by ingest).
    #[arg(long, default_value = DEFAULT_STORE_DIR)]
    store: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Transform an input Parquet file with one or more rules into the store (resumable).
    Ingest {
        #[command(flatten)]
        store: StoreArg,
        /// Input Parquet file.
        #[arg(long)]
        input: PathBuf,
        /// Rule name (repeatable: several rules in one pass over the input).
        #[arg(long = "rule", required = true)]
        rules: Vec<String>,
        /// Rule file (default: the built-in configs/transforms.yaml).
        #[arg(long)]
        rules_file: Option<PathBuf>,
        /// Name of the SMILES column.
        #[arg(long, default_value = "smiles")]
        smiles_column: String,
        /// Optional id column carried into provenance.
        #[arg(long)]
        id_column: Option<String>,
        /// Input column to carry into the export as `source_<COL>` (repeatable).
        #[arg(long = "carry")]
        carry: Vec<String>,
        /// Input rows per batch (one atomic commit per batch).
        #[arg(long, default_value_t = 1024)]
        batch_rows: usize,
        /// Skip computing product properties (MW, TPSA, ...).
        #[arg(long)]
        no_props: bool,
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
    },
    /// Write a job's products to a Parquet file, atomically and validated.
    Export {
        #[command(flatten)]
        store: StoreArg,
        /// Rule whose job to export (when the store has one job for it).
        #[arg(long)]
        rule: Option<String>,
        /// Job id (`<input stem>/<rule>`), see `xfstore status`.
        #[arg(long)]
        job: Option<String>,
        /// Destination Parquet file.
        #[arg(long)]
        output: PathBuf,
        /// Rows per row group.
        #[arg(long, default_value_t = 131_072)]
        row_group_rows: usize,
    },
    /// Look products up by SMILES (any spelling). Exit code 1 when any is not found.
    Query {
        #[command(flatten)]
        store: StoreArg,
        /// SMILES to look up.
        #[arg(required = true)]
        smiles: Vec<String>,
        #[arg(long)]
        rule: Option<String>,
        #[arg(long)]
        job: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// List the store's jobs with their progress and counters.
    Status {
        #[command(flatten)]
        store: StoreArg,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xfstore: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Ingest {
            store,
            input,
            rules,
            rules_file,
            smiles_column,
            id_column,
            carry,
            batch_rows,
            no_props,
            restart,
            sync,
            rejects,
            max_rows,
            write_buffer_bytes,
        } => {
            let rule_set = match rules_file {
                Some(p) => RuleSet::load(&p)?,
                None => RuleSet::builtin()?,
            };
            let mut opts = IngestOptions::new(input, rules);
            opts.smiles_column = smiles_column;
            opts.id_column = id_column;
            opts.carry_columns = carry;
            opts.batch_rows = batch_rows;
            opts.with_props = !no_props;
            opts.restart = restart;
            opts.max_rows = max_rows;
            opts.progress = true;
            // Validate input and rules before the store is created or touched.
            let plan = IngestPlan::new(&rule_set, opts)?;
            let mut so = StoreOptions {
                durability: if sync { Durability::Sync } else { Durability::Process },
                ..StoreOptions::default()
            };
            if let Some(bytes) = write_buffer_bytes {
                so.write_buffer_bytes = bytes;
            }
            let db = Store::open(&store.store, &so)?;
            let report = plan.run(&db)?;
            print_ingest(&report);
            if let Some(path) = rejects {
                let n = write_rejects(&db, &input_key(plan.input()), &path)?;
                println!("rejects: {n} rows -> {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Export { store, rule, job, output, row_group_rows } => {
            let db = Store::open_read_only(&store.store)?;
            let jobs = select_jobs(&db, job.as_deref(), rule.as_deref())?;
            let job = match jobs.as_slice() {
                [one] => one,
                [] => bail!("the store has no jobs; pass --rule or --job"),
                many => bail!(
                    "{} jobs match; pick one with --job: {}",
                    many.len(),
                    many.iter().map(|j| j.id.as_str()).collect::<Vec<_>>().join(", ")
                ),
            };
            let mut opts = ExportOptions::new(&output);
            opts.row_group_rows = row_group_rows;
            let r = export(&db, job, &opts).with_context(|| format!("exporting job {}", job.id))?;
            println!(
                "export {}: {} rows -> {} ({} bytes, {:.2} s, {:.0} rows/s)",
                job.id,
                r.rows,
                output.display(),
                r.bytes,
                r.elapsed_secs,
                r.rows as f64 / r.elapsed_secs.max(1e-9)
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Query { store, smiles, rule, job, json } => {
            let db = Store::open_read_only(&store.store)?;
            let jobs = select_jobs(&db, job.as_deref(), rule.as_deref())?;
            let mut all_found = true;
            for q in &smiles {
                let outcome = lookup(&db, &jobs, q)?;
                all_found &= outcome.is_found();
                if json {
                    println!("{}", to_json_line(&outcome));
                } else {
                    print!("{}", to_text(&outcome));
                }
            }
            Ok(if all_found { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Status { store, json } => {
            let db = Store::open_read_only(&store.store)?;
            let st = status(&db)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&st)?);
            } else {
                print!("{}", st.to_text());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_ingest(r: &IngestReport) {
    for j in &r.jobs {
        let m = &j.meta;
        let c = &m.counters;
        let resumed = match j.resumed_from {
            0 => String::new(),
            n if n >= m.input.rows => " (already complete, nothing to do)".to_owned(),
            n => format!(" (resumed at row {n})"),
        };
        let failed = c.failed.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");
        println!(
            "ingest {}{resumed}: {} inputs, {} failed [{}], {} without site, {} products ({} unsanitizable), {} unique",
            m.id,
            c.inputs,
            c.failed_total(),
            failed,
            c.no_site,
            c.site_products,
            c.product_failed,
            c.unique_products
        );
    }
    println!(
        "run: {} rows, {} products in {:.2} s = {:.0} products/s",
        r.rows,
        r.site_products,
        r.elapsed_secs,
        r.site_products as f64 / r.elapsed_secs.max(1e-9)
    );
    for rej in r.rejected.iter().take(5) {
        eprintln!("  rejected row {}: {} ({})", rej.row, rej.reject.key(), rej.reject.detail());
    }
    if r.rejected.len() > 5 {
        eprintln!("  ... {} more rejected rows", r.rejected.len() - 5);
    }
}
