//! `xfstore report`: a campaign's products per class x step x rule x halogen, as a table per
//! class and step (X-templated rules as a rule x halogen matrix) or as CSV.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use xfstore::{campaign_report, Reader, ReportRow, HALOGENS, REPORT_COLUMNS};

use super::StoreArg;

/// Arguments of `xfstore report`.
#[derive(Args)]
pub struct ReportArgs {
    #[command(flatten)]
    store: StoreArg,
    /// The campaign file whose jobs to report.
    #[arg(long)]
    campaign: PathBuf,
    /// Rule file of the campaign (default: the campaign's `rules_file`, else built-in).
    #[arg(long)]
    rules_file: Option<PathBuf>,
    /// Write the report as CSV to this file ('-': standard output) instead of the tables.
    #[arg(long)]
    csv: Option<PathBuf>,
}

pub fn run(a: ReportArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let (c, rules, _) = xfstore::Campaign::load(&a.campaign, a.rules_file.as_deref())?;
    let db = Reader::open(&a.store.store)?;
    let rows = campaign_report(&db, &c, &rules)?;
    match &a.csv {
        Some(p) if p.as_os_str() == "-" => write_csv(&rows, out)?,
        Some(p) => {
            let mut f = std::io::BufWriter::new(std::fs::File::create(p)?);
            write_csv(&rows, &mut f)?;
            f.flush()?;
            writeln!(out, "report: {} rows written to {}", rows.len(), p.display())?;
        }
        None => write_tables(&rows, out)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn write_csv(rows: &[ReportRow], out: &mut dyn Write) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(REPORT_COLUMNS)?;
    for r in rows {
        w.write_record(r.values())?;
    }
    w.flush()?;
    Ok(())
}

/// Per class and step: one line per rule, `products / unique` per halogen for X-templated
/// rules, then the totals with masked sites.
fn write_tables(rows: &[ReportRow], out: &mut dyn Write) -> Result<()> {
    let mut groups: Vec<(&str, &str)> = Vec::new();
    for r in rows {
        if !groups.contains(&(&r.class, &r.step)) {
            groups.push((&r.class, &r.step));
        }
    }
    for (class, step) in groups {
        let mine: Vec<&ReportRow> = rows.iter().filter(|r| r.class == class && r.step == step).collect();
        let (jobs, complete) = mine.iter().fold((0, 0), |(j, c), r| (j + r.jobs, c + r.complete));
        writeln!(out, "{class} / {step}: {complete} of {jobs} jobs complete (products / unique)")?;
        let mut names: Vec<&str> = Vec::new();
        for r in &mine {
            if !names.contains(&r.rule.as_str()) {
                names.push(&r.rule);
            }
        }
        let width = names.iter().map(|n| n.len()).max().unwrap_or(4).max(4);
        let header: String = HALOGENS.iter().map(|h| format!(" {h:>21}")).collect();
        writeln!(out, "  {:<width$}{header} {:>21} {:>10}", "rule", "total", "masked")?;
        let cell = |p: u64, u: u64| format!("{p} / {u}");
        for name in names {
            let of_rule: Vec<&&ReportRow> = mine.iter().filter(|r| r.rule == name).collect();
            let per_x: String = HALOGENS
                .iter()
                .map(|h| match of_rule.iter().find(|r| r.halogen == *h) {
                    Some(r) => format!(" {:>21}", cell(r.products, r.unique)),
                    None => format!(" {:>21}", if of_rule.iter().all(|r| r.halogen.is_empty()) { "" } else { "-" }),
                })
                .collect();
            let (p, u, m) =
                of_rule.iter().fold((0, 0, 0), |(p, u, m), r| (p + r.products, u + r.unique, m + r.masked_sites));
            writeln!(out, "  {name:<width$}{per_x} {:>21} {m:>10}", cell(p, u))?;
        }
        let (p, u, m) = mine.iter().fold((0, 0, 0), |(p, u, m), r| (p + r.products, u + r.unique, m + r.masked_sites));
        writeln!(out, "  {:<width$}{} {:>21} {m:>10}", "all rules", " ".repeat(22 * HALOGENS.len()), cell(p, u))?;
    }
    Ok(())
}
