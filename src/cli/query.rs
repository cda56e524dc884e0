//! `xfstore query`: single lookups, batches from a file or stdin, parent lookups, in any store
//! folder (a store, a partitioned run or campaign).

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use xfstore::internal::{to_json_line, to_text};
use xfstore::{
    descendants, lineage, lookup_query, lookup_stream, parse_query_line, products_of_parent, select_jobs, Descendants,
    Lineage, Query, QueryOutcome, Reader, DEFAULT_MAX_PATHS,
};

use super::{exit, StoreArg};

/// Arguments of `xfstore query`.
#[derive(Args)]
pub struct QueryArgs {
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
    /// Treat each SMILES as a PRODUCT and print every path from an original input molecule to
    /// it (rules, intermediate products, the original rows and ids).
    #[arg(long, conflicts_with_all = ["file", "parent"])]
    lineage: bool,
    /// Treat each query as an input id (or, when no input row has that id, a SMILES) and list
    /// everything made from its molecule across all steps.
    #[arg(long, conflicts_with_all = ["file", "parent", "lineage"])]
    descendants: bool,
    /// Most paths a --lineage lists (it says when it cut them).
    #[arg(long, default_value_t = DEFAULT_MAX_PATHS)]
    max_paths: usize,
    /// Look queries up one after another on one thread (default for a file: parallel).
    #[arg(long)]
    sequential: bool,
    /// Print lookups/s (and p50/p99 latency when sequential) on stderr.
    #[arg(long)]
    timing: bool,
}

pub fn run(a: QueryArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let db = Reader::open(&a.store.store)?;
    let jobs = select_jobs(&db, a.job.as_deref(), a.rule.as_deref())?;
    let mut queries: Vec<Query> = a.smiles.into_iter().map(|s| Query { smiles: s, id: None }).collect();
    let mut all_found = true;
    let json = a.json;
    let mut print = |o: &QueryOutcome| -> std::io::Result<()> {
        all_found &= o.is_found();
        if json {
            writeln!(out, "{}", to_json_line(o))
        } else {
            write!(out, "{}", to_text(o))
        }
    };
    if a.lineage || a.descendants {
        let mut found = true;
        for q in &queries {
            found &= if a.lineage {
                let l = lineage(&db, &q.smiles, a.max_paths)?;
                print_lineage(out, &l, json)?;
                !l.paths.is_empty()
            } else {
                let d = descendants(&db, &q.smiles)?;
                print_descendants(out, &d, json)?;
                !d.products.is_empty()
            };
        }
        return Ok(exit(found));
    }
    if a.parent {
        for q in &queries {
            print(&products_of_parent(&db, &jobs, &q.smiles)?)?;
        }
        return Ok(exit(all_found));
    }
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut n = 0u64;
    if let Some(path) = &a.file {
        let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(BufReader::new(File::open(path).with_context(|| format!("opening {}", path.display()))?))
        };
        if a.sequential {
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
        print(&o)?;
        n += 1;
    }
    if a.timing {
        report_timing(n, started.elapsed(), &mut latencies);
    }
    Ok(exit(all_found))
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

/// A lineage as text (a block per path) or one JSON line.
fn print_lineage(out: &mut dyn Write, l: &Lineage, json: bool) -> Result<()> {
    if json {
        writeln!(out, "{}", serde_json::to_string(l)?)?;
        return Ok(());
    }
    let cut = if l.truncated { " (cut at --max-paths)" } else { "" };
    writeln!(out, "{} -> {}: {} path(s){cut}", l.query, l.canonical, l.paths.len())?;
    for (i, p) in l.paths.iter().enumerate() {
        let rows: Vec<String> = p
            .rows
            .iter()
            .map(|r| match &r.id {
                Some(id) => format!("row {} id {id}", r.row),
                None => format!("row {}", r.row),
            })
            .collect();
        writeln!(out, "  path {}: {} (input {}: {})", i + 1, p.root, p.input, rows.join(", "))?;
        for (k, s) in p.steps.iter().enumerate() {
            writeln!(out, "    {}. {} [{}] -> {}", k + 1, s.rule, s.job, s.product)?;
        }
    }
    Ok(())
}

/// Descendants as text (a header line, then `depth job rule parent product` per line, tab
/// separated) or one JSON line.
fn print_descendants(out: &mut dyn Write, d: &Descendants, json: bool) -> Result<()> {
    if json {
        writeln!(out, "{}", serde_json::to_string(d)?)?;
        return Ok(());
    }
    writeln!(out, "# {} (by {}): {} product(s) from {}", d.query, d.by, d.products.len(), d.molecules.join(", "))?;
    writeln!(out, "depth\tjob\trule\tparent\tproduct")?;
    for p in &d.products {
        writeln!(out, "{}\t{}\t{}\t{}\t{}", p.depth, p.job, p.rule, p.parent, p.product)?;
    }
    Ok(())
}
