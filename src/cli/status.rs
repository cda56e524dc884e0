//! `xfstore status`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use xfstore::internal::time_left;
use xfstore::{campaign_status, next_run, status, status_document, Reader, RunOptions, StoreKind};

use super::StoreArg;

/// Arguments of `xfstore status`.
#[derive(Args)]
pub struct StatusArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
    /// List the jobs of this campaign file (started or not), with the expected time left.
    #[arg(long)]
    campaign: Option<PathBuf>,
    /// Rule file of the campaign (default: the campaign's `rules_file`, else built-in).
    #[arg(long, requires = "campaign")]
    rules_file: Option<PathBuf>,
}

pub fn run(a: StatusArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let db = Reader::open(&a.store.store)?;
    if let Some(path) = &a.campaign {
        return campaign(&db, path, &a, out);
    }
    if a.json {
        writeln!(out, "{}", status_document(&db)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    match db.kind() {
        StoreKind::PartitionedRun | StoreKind::PartitionedCampaign => super::partition::status(&db, out)?,
        _ => write!(out, "{}", status(&db)?.to_text())?,
    }
    Ok(ExitCode::SUCCESS)
}

fn campaign(db: &Reader, path: &std::path::Path, a: &StatusArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let (c, rules, _) = xfstore::Campaign::load(path, a.rules_file.as_deref())?;
    let jobs = campaign_status(db, &c)?;
    // what the next `run` does: known for a store (a partitioned campaign is planned instead)
    let next = db.single().map(|s| next_run(Some(s), &rules, &c, &RunOptions::default())).transpose()?;
    let (left, unknown) = time_left(&jobs);
    if a.json {
        let rows: Vec<serde_json::Value> = jobs
            .iter()
            .map(|j| {
                let m = j.meta.as_ref();
                serde_json::json!({
                    "job": j.id, "stream": j.stream, "step": j.step, "class": j.class, "rule": j.rule,
                    "state": state(j.meta.as_ref()),
                    "rows_done": m.map(|m| m.offset), "rows_total": m.map(|m| m.input.rows),
                    "products": m.map(|m| m.counters.site_products), "unique": m.map(|m| m.counters.unique_products),
                    "busy_secs": m.map(|m| m.busy_secs), "eta_secs": j.eta_secs,
                })
            })
            .collect();
        let doc = serde_json::json!({"campaign": path.display().to_string(), "jobs": rows,
            "eta_secs": left, "streams_without_estimate": unknown, "next_run": next});
        writeln!(out, "{doc}")?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{:<64} {:<9} {:>21} {:>12} {:>12} {:>9} {:>9}",
        "job", "state", "rows done/total", "products", "unique", "secs", "eta"
    )?;
    for j in &jobs {
        let m = j.meta.as_ref();
        let rows = m.map_or("-".into(), |m| format!("{}/{}", m.offset, m.input.rows));
        writeln!(
            out,
            "{:<64} {:<9} {:>21} {:>12} {:>12} {:>9} {:>9}",
            j.id,
            state(m),
            rows,
            m.map_or("-".into(), |m| m.counters.site_products.to_string()),
            m.map_or("-".into(), |m| m.counters.unique_products.to_string()),
            m.map_or("-".into(), |m| format!("{:.1}", m.busy_secs)),
            j.eta_secs.map_or("?".into(), |e| format!("{e:.0} s")),
        )?;
    }
    let done = jobs.iter().filter(|j| state(j.meta.as_ref()) == "complete").count();
    write!(
        out,
        "campaign {}: {done} of {} job(s) complete; expected time left {left:.0} s",
        path.display(),
        jobs.len()
    )?;
    if unknown > 0 {
        write!(out, " + {unknown} stream(s) not yet estimable (their upstream is not built)")?;
    }
    writeln!(out)?;
    if let Some(next) = next {
        writeln!(out, "next run:")?;
        for s in next {
            writeln!(out, "  {}", s.summary())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn state(m: Option<&xfstore::JobMeta>) -> &'static str {
    match m {
        None => "pending",
        Some(m) => m.state.name(),
    }
}
