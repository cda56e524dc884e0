//! `xfstore` command line: argument parsing and printing only; the library does the work.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use xfstore::budget::{human, peak_rss, MemoryBudget};
use xfstore::export::{export, verify, verify_folder, write_rejects, ExportOptions};
use xfstore::ingest::{bare_loop, input_key, IngestOptions, IngestPlan, IngestReport, InputColumns, InputFile};
use xfstore::query::{
    lookup_query, lookup_stream, parse_query_line, products_of_parent, select_jobs, status, to_json_line, to_text,
    Query, QueryOutcome,
};
use xfstore::rules::RuleSet;
use xfstore::store::{Durability, Store, StoreOptions, DEFAULT_STORE_DIR};

/// mimalloc for the whole process. Built with its `override` feature it also defines `malloc`/`free`,
/// which the dynamic linker then binds for RDKit and RocksDB too: RDKit's per-product molecule copies
/// spent about a quarter of ingest's CPU in glibc malloc; this cut CPU per product ~1.25x
/// (ARCHITECTURE.md, "Allocator").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        /// Most input rows per batch (one atomic commit per batch); batches are cut smaller to
        /// hold about the same number of PRODUCTS whatever the rows yield.
        #[arg(long, default_value_t = 4096)]
        batch_rows: usize,
        /// Memory budget for the whole process (RocksDB cache and memtables, products in
        /// flight); ingest holds back when RSS goes over it. E.g. 1GiB, 512MiB, 4G.
        #[arg(long, default_value = "1GiB")]
        memory_budget: MemoryBudget,
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
        /// Rows per row group (a row group also ends at 1/8 of the memory budget in bytes).
        #[arg(long, default_value_t = 131_072)]
        row_group_rows: usize,
        /// Memory budget (block cache, row group being encoded). E.g. 1GiB, 512MiB.
        #[arg(long, default_value = "1GiB")]
        memory_budget: MemoryBudget,
        /// Write a folder of Parquet parts of at most N rows each, plus manifest.json.
        #[arg(long, value_name = "N")]
        split_rows: Option<u64>,
        /// Write a folder of Parquet parts of about N bytes each, plus manifest.json.
        #[arg(long, value_name = "N")]
        split_bytes: Option<u64>,
    },
    /// Look products up by SMILES (any spelling). Exit code 1 when any is not found.
    Query {
        #[command(flatten)]
        store: StoreArg,
        /// SMILES to look up.
        #[arg(required_unless_present = "file")]
        smiles: Vec<String>,
        /// Query file: one SMILES per line, optionally followed by an id ("-" = stdin).
        #[arg(long)]
        file: Option<PathBuf>,
        #[arg(long)]
        rule: Option<String>,
        #[arg(long)]
        job: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// Treat each SMILES as a PARENT and list the products made from it.
        #[arg(long, conflicts_with = "file")]
        parent: bool,
        /// Look queries up one after another on one thread (default for a file: parallel).
        #[arg(long)]
        sequential: bool,
        /// Print lookups/s (and p50/p99 latency when sequential) on stderr.
        #[arg(long)]
        timing: bool,
    },
    /// Validate an exported Parquet file or split-export folder (footer, schema, row counts,
    /// manifest); non-zero exit if corrupt or partial.
    Verify {
        file: PathBuf,
        /// Also decode every row.
        #[arg(long)]
        full: bool,
    },
    /// Rewrite the store's files with the current options and merge levels (maintenance).
    Compact {
        #[command(flatten)]
        store: StoreArg,
    },
    /// Benchmark yardstick: the bare transform loop (same reader, same per-row transform, in
    /// parallel) with no dedup and no store. Ingest's products/s over this loop's is the share
    /// of time left to RDKit.
    BenchTransform {
        #[arg(long)]
        input: PathBuf,
        #[arg(long = "rule", required = true)]
        rules: Vec<String>,
        #[arg(long, default_value = "smiles")]
        smiles_column: String,
        #[arg(long, default_value_t = 4096)]
        batch_rows: usize,
        #[arg(long)]
        no_props: bool,
        #[arg(long)]
        max_rows: Option<u64>,
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
            memory_budget,
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
            opts.budget = memory_budget;
            opts.with_props = !no_props;
            opts.restart = restart;
            opts.max_rows = max_rows;
            opts.progress = true;
            // Validate input and rules before the store is created or touched.
            let plan = IngestPlan::new(&rule_set, opts)?;
            let mut so = StoreOptions {
                durability: if sync { Durability::Sync } else { Durability::Process },
                ..StoreOptions::from_budget(&memory_budget)
            };
            if let Some(bytes) = write_buffer_bytes {
                so.write_buffer_bytes = bytes;
            }
            let db = Store::open(&store.store, &so)?;
            let report = plan.run(&db)?;
            print_ingest(&report);
            let disk = db.disk_bytes();
            let unique: u64 = db.jobs()?.iter().map(|j| j.counters.unique_products).sum();
            println!(
                "store {}: {} on disk, {} products in all jobs, {:.0} bytes/product",
                store.store.display(),
                human(disk),
                unique,
                disk as f64 / unique.max(1) as f64
            );
            if let Some(path) = rejects {
                let n = write_rejects(&db, &input_key(plan.input()), &path)?;
                println!("rejects: {n} rows -> {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Export { store, rule, job, output, row_group_rows, memory_budget, split_rows, split_bytes } => {
            let db = Store::open_read_only_with(&store.store, &StoreOptions::from_budget(&memory_budget))?;
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
            opts.row_group_bytes = memory_budget.row_group_bytes();
            opts.split_rows = split_rows.unwrap_or(0);
            opts.split_bytes = split_bytes.unwrap_or(0);
            let r = export(&db, job, &opts).with_context(|| format!("exporting job {}", job.id))?;
            println!(
                "export {}: {} rows -> {} ({} file(s), {} bytes, {:.2} s, {:.0} rows/s, peak RSS {})",
                job.id,
                r.rows,
                output.display(),
                r.files,
                r.bytes,
                r.elapsed_secs,
                r.rows as f64 / r.elapsed_secs.max(1e-9),
                human(peak_rss())
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Query { store, smiles, file, rule, job, json, parent, sequential, timing } => {
            let db = Store::open_read_only(&store.store)?;
            let jobs = select_jobs(&db, job.as_deref(), rule.as_deref())?;
            let mut queries: Vec<Query> = smiles.into_iter().map(|s| Query { smiles: s, id: None }).collect();
            let mut all_found = true;
            let mut print = |o: &QueryOutcome| {
                all_found &= o.is_found();
                if json {
                    println!("{}", to_json_line(o));
                } else {
                    print!("{}", to_text(o));
                }
            };
            if parent {
                for q in &queries {
                    print(&products_of_parent(&db, &jobs, &q.smiles)?);
                }
                return Ok(if all_found { ExitCode::SUCCESS } else { ExitCode::from(1) });
            }
            let started = Instant::now();
            let mut latencies = Vec::new();
            let mut n = 0u64;
            if let Some(path) = &file {
                let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
                    Box::new(std::io::stdin().lock())
                } else {
                    Box::new(BufReader::new(File::open(path).with_context(|| format!("opening {}", path.display()))?))
                };
                if sequential {
                    for line in reader.lines() {
                        queries.extend(parse_query_line(&line?));
                    }
                } else {
                    n += lookup_stream(&db, &jobs, reader, true, |o| print(&o))?;
                }
            }
            for q in &queries {
                let t = Instant::now();
                let o = lookup_query(&db, &jobs, q)?;
                latencies.push(t.elapsed());
                print(&o);
                n += 1;
            }
            if timing {
                report_timing(n, started.elapsed(), &mut latencies);
            }
            Ok(if all_found { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Verify { file, full } if file.is_dir() => match verify_folder(&file, full) {
            Ok(m) => {
                println!(
                    "{}: valid split export of job {}, {} rows in {} part(s)",
                    file.display(),
                    m.job,
                    m.rows,
                    m.parts.len()
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("xfstore: {e}");
                Ok(ExitCode::from(1))
            }
        },
        Command::Verify { file, full } => match verify(&file, full) {
            Ok(r) => {
                println!("{}: valid, {} rows in {} row group(s)", file.display(), r.rows, r.row_groups);
                for (name, ty) in &r.columns {
                    println!("  {name}: {ty}");
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("xfstore: {e}");
                Ok(ExitCode::from(1))
            }
        },
        Command::Compact { store } => {
            let started = Instant::now();
            let db = Store::open(&store.store, &StoreOptions::default())?;
            let before = db.disk_bytes();
            db.compact()?;
            let secs = started.elapsed().as_secs_f64();
            println!("compact {}: {} -> {} bytes in {secs:.1} s", store.store.display(), before, db.disk_bytes());
            Ok(ExitCode::SUCCESS)
        }
        Command::BenchTransform { input, rules, smiles_column, batch_rows, no_props, max_rows } => {
            let rule_set = RuleSet::builtin()?;
            let rules: Vec<_> = rules.iter().map(|n| rule_set.get(n)).collect::<Result<_, _>>()?;
            let cols = InputColumns { smiles: smiles_column, ..InputColumns::default() };
            let file = InputFile::open(&input, &cols)?;
            let r = bare_loop(&file, &rules, batch_rows, !no_props, max_rows)?;
            let secs = r.elapsed_secs.max(1e-9);
            println!(
                "bare loop: {} rows ({} rejected), {} products in {:.2} s = {:.0} rows/s, {:.0} products/s; peak RSS {}",
                r.rows,
                r.rejected,
                r.site_products,
                r.elapsed_secs,
                r.rows as f64 / secs,
                r.site_products as f64 / secs,
                human(peak_rss())
            );
            Ok(ExitCode::SUCCESS)
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
    let secs = r.elapsed_secs.max(1e-9);
    println!(
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
    );
    if r.batches > 0 {
        println!(
            "batches: {} committed, the largest {} products ({} in flight); commits took {:.1} s ({:.1}% of the run)",
            r.batches,
            r.max_batch_products,
            human(r.max_batch_bytes),
            r.commit_secs,
            100.0 * r.commit_secs / secs
        );
    }
    for (row, rej) in r.rejected.iter().take(5) {
        eprintln!("  rejected row {row}: {} ({})", rej.reason, rej.detail);
    }
    if r.rejected.len() > 5 {
        eprintln!("  ... {} more rejected rows", r.rejected.len() - 5);
    }
}

fn report_timing(n: u64, total: Duration, latencies: &mut [Duration]) {
    let secs = total.as_secs_f64().max(1e-9);
    eprint!("timing: {n} lookups in {secs:.3} s = {:.0} lookups/s", n as f64 / secs);
    if !latencies.is_empty() {
        latencies.sort_unstable();
        let at = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
        eprint!(", latency p50 {:.1} us, p99 {:.1} us", at(0.50).as_secs_f64() * 1e6, at(0.99).as_secs_f64() * 1e6);
    }
    eprintln!();
}
