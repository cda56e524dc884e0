//! `xfstore plan`, `map`, `reduce`: the steps of a partitioned run (any scheduler runs them;
//! `python -m xfstore_ray` and `tools/partitioned_run.sh` are two), and the sharded-store side
//! of `status`, `query` and `export`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::ingest::TransformArgs;
use anyhow::Result;
use clap::Args;
use xfstore::internal::human;
use xfstore::{
    is_partitioned_campaign, map_unit, plan_campaign, plan_partitioned, reduce_partition, shard_done, unit_done,
    Campaign, CampaignPlan, InputSpec, JobState, MemoryBudget, Plan, PlanOptions, Reader, RunOptions, ShardedStatus,
    DEFAULT_UNIT_ROWS,
};

/// Arguments of `xfstore plan`.
#[derive(Args)]
pub struct PlanArgs {
    /// A campaign file: every stream planned as its own run under OUT/streams/<stream>, a
    /// chained step once its upstream is reduced (then `plan --resume`); instead of --input
    /// and --rule.
    campaign: Option<PathBuf>,
    /// Run folder to create (on storage every machine sees at the same path).
    #[arg(long)]
    out: PathBuf,
    /// Number of partitions: shard stores, and reduce steps.
    #[arg(long, required_unless_present = "resume")]
    partitions: Option<u32>,
    /// Plan the streams of the partitioned campaign in OUT whose upstream step is now reduced,
    /// with the options it was planned with.
    #[arg(long, conflicts_with_all = ["campaign", "input", "rules"])]
    resume: bool,
    /// Input rows per unit (one map step each; a unit's distinct products are held in memory).
    #[arg(long, default_value_t = DEFAULT_UNIT_ROWS)]
    unit_rows: u64,
    /// Input: a Parquet file, folder or glob, a .smi/.csv/.tsv/.sdf file (optionally .gz); its
    /// absolute path is recorded, so every machine must see it there.
    #[arg(long, required_unless_present_any = ["campaign", "resume"], conflicts_with = "campaign")]
    input: Option<InputSpec>,
    /// Rule name or X-template name (repeatable: one job each).
    #[arg(long = "rule", required_unless_present_any = ["campaign", "resume"], conflicts_with = "campaign")]
    rules: Vec<String>,
    #[command(flatten)]
    transform: TransformArgs,
}

/// Arguments of `xfstore map`.
#[derive(Args)]
pub struct MapArgs {
    /// Run folder made by `xfstore plan`.
    dir: PathBuf,
    /// Unit to map (`--list-pending` lists those not done).
    #[arg(long, required_unless_present_any = ["all", "list_pending"])]
    unit: Option<u32>,
    /// Map every unit not done yet, one after another.
    #[arg(long, conflicts_with = "unit")]
    all: bool,
    /// Print the units not done yet, one per line (for a shell loop or a job array).
    #[arg(long, conflicts_with_all = ["unit", "all"])]
    list_pending: bool,
    /// Memory budget; a unit may hold half of it in products.
    #[arg(long, default_value_t = MemoryBudget::default())]
    memory_budget: MemoryBudget,
}

/// Arguments of `xfstore reduce`.
#[derive(Args)]
pub struct ReduceArgs {
    /// Run folder made by `xfstore plan`, every unit mapped.
    dir: PathBuf,
    /// Partition to reduce into its shard store.
    #[arg(long, required_unless_present_any = ["all", "list_pending"])]
    partition: Option<u32>,
    /// Reduce every partition not done yet, one after another.
    #[arg(long, conflicts_with = "partition")]
    all: bool,
    /// Print the partitions not reduced yet, one per line.
    #[arg(long, conflicts_with_all = ["partition", "all"])]
    list_pending: bool,
    /// Memory budget of the shard store being written.
    #[arg(long, default_value_t = MemoryBudget::default())]
    memory_budget: MemoryBudget,
}

/// Plans (again) the streams of the campaign at `path` under `dir`: every stream reading a file,
/// and every chained stream whose upstream run is reduced.
fn plan_a_campaign(
    path: &Path,
    rules_file: Option<PathBuf>,
    run: RunOptions,
    partitions: u32,
    unit_rows: u64,
    dir: &Path,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let (c, rules, rules_file) = Campaign::load(path, rules_file.as_deref())?;
    let (list, plans) = plan_campaign(&rules, &c, path, &run, rules_file, partitions, unit_rows, dir)?;
    for (key, p) in list.streams.iter().zip(&plans) {
        match p {
            Some(p) => writeln!(
                out,
                "  {key}: {} rows in {} units, {} job(s)",
                p.input.info.rows,
                p.units.len(),
                p.rules.len()
            )?,
            None => writeln!(out, "  {key}: waiting for its upstream step to be reduced")?,
        }
    }
    let waiting = plans.iter().filter(|p| p.is_none()).count();
    writeln!(
        out,
        "plan {}: campaign {} as {} partitioned runs of {} partitions (OUT/streams/<stream>){}",
        dir.display(),
        path.display(),
        plans.len() - waiting,
        partitions,
        match waiting {
            0 => String::new(),
            n => format!("; {n} waiting: map and reduce these, then `xfstore plan --resume --out {}`", dir.display()),
        }
    )?;
    Ok(ExitCode::SUCCESS)
}

pub fn plan(a: PlanArgs, out: &mut dyn Write) -> Result<ExitCode> {
    if a.resume {
        let c = CampaignPlan::load(&a.out)?;
        let run = RunOptions::default().no_props(c.no_props).max_heavy_atoms(c.max_heavy_atoms);
        return plan_a_campaign(&c.campaign, c.rules_file, run, c.partitions, c.unit_rows, &a.out, out);
    }
    let partitions = a.partitions.expect("clap requires --partitions without --resume");
    if let Some(path) = a.campaign.clone() {
        let t = &a.transform;
        let run = RunOptions::default().no_props(t.no_props).max_heavy_atoms(Some(t.max_heavy_atoms));
        return plan_a_campaign(&path, t.rules_file.clone(), run, partitions, a.unit_rows, &a.out, out);
    }
    let input = a.input.clone().expect("clap requires --input without a campaign");
    let rule_set = a.transform.rule_set()?;
    let ingest = a.transform.options(input, &rule_set, &a.rules)?;
    let rules_file = a.transform.rules_file.clone();
    let opts = PlanOptions { ingest, rules_file, partitions, unit_rows: a.unit_rows, upstream: None };
    let before = Plan::load_any(&a.out).ok(); // none yet (or unreadable: planning says why)
    let p = plan_partitioned(&rule_set, &opts, &a.out)?;
    if let Some(b) = before.filter(|b| b.units.len() < p.units.len()) {
        writeln!(
            out,
            "plan {}: the input grew from {} to {} rows (the old rows proven unchanged): units {}..{} added for \
             the new rows; the {} shards were removed, `xfstore reduce` rebuilds them from every unit",
            a.out.display(),
            b.input.info.rows,
            p.input.info.rows,
            b.units.len(),
            p.units.len() - 1,
            p.partitions
        )?;
    }
    writeln!(
        out,
        "plan {}: {} rows of {} in {} units of up to {} rows, {} partitions, {} job(s): {}",
        a.out.display(),
        p.input.info.rows,
        p.input.spec,
        p.units.len(),
        a.unit_rows,
        p.partitions,
        p.rules.len(),
        p.job_ids().join(", ")
    )?;
    Ok(ExitCode::SUCCESS)
}

/// The run folders of `dir`: its streams' for a partitioned campaign, else itself.
fn run_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(if is_partitioned_campaign(dir) { CampaignPlan::load(dir)?.run_dirs(dir) } else { vec![dir.to_path_buf()] })
}

pub fn map(a: MapArgs, out: &mut dyn Write) -> Result<ExitCode> {
    if is_partitioned_campaign(&a.dir) {
        anyhow::ensure!(
            a.unit.is_none(),
            "{} is a partitioned campaign: map a unit of one stream's folder ({}/streams/<stream>)",
            a.dir.display(),
            a.dir.display()
        );
        for d in run_dirs(&a.dir)? {
            if a.list_pending {
                for k in pending_units(&d)? {
                    writeln!(out, "{} {k}", d.display())?;
                }
            } else {
                writeln!(out, "== {}", d.display())?;
                map(
                    MapArgs { dir: d, unit: None, all: true, list_pending: false, memory_budget: a.memory_budget },
                    out,
                )?;
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    if a.list_pending {
        for k in pending_units(&a.dir)? {
            writeln!(out, "{k}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    // one unit (a scheduler's task) reads no other unit's marker
    let units = if a.all { pending_units(&a.dir)? } else { vec![a.unit.expect("clap requires --unit")] };
    for k in units {
        let r = map_unit(&a.dir, k, a.memory_budget)?;
        let d = &r.done;
        let products: u64 = d.counters.iter().map(|c| c.site_products).sum();
        let unique: u64 = d.counters.iter().map(|c| c.unique_products).sum();
        if r.skipped {
            writeln!(out, "map unit {k}: already done (rows {}..{}), skipped", d.first_row, d.first_row + d.rows)?;
        } else {
            writeln!(
                out,
                "map unit {k}: rows {}..{}, {} products, {} distinct in the unit, run file {} ({} records) in {:.2} s = {:.0} products/s",
                d.first_row,
                d.first_row + d.rows,
                products,
                unique,
                human(d.run_bytes),
                d.records,
                d.elapsed_secs,
                products as f64 / d.elapsed_secs.max(1e-9)
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Units of the run in `dir` not mapped yet.
fn pending_units(dir: &Path) -> Result<Vec<u32>> {
    let plan = xfstore::Plan::load(dir)?;
    Ok((0..plan.units.len() as u32).filter(|&k| unit_done(dir, k).map_or(true, |d| d.is_none())).collect())
}

/// Partitions of the run in `dir` not reduced yet.
fn pending_partitions(dir: &Path) -> Result<Vec<u32>> {
    let plan = xfstore::Plan::load(dir)?;
    Ok((0..plan.partitions).filter(|&p| shard_done(dir, p).map_or(true, |s| s.is_none())).collect())
}

pub fn reduce(a: ReduceArgs, out: &mut dyn Write) -> Result<ExitCode> {
    if is_partitioned_campaign(&a.dir) {
        anyhow::ensure!(
            a.partition.is_none(),
            "{} is a partitioned campaign: reduce a partition of one stream's folder ({}/streams/<stream>)",
            a.dir.display(),
            a.dir.display()
        );
        for d in run_dirs(&a.dir)? {
            if a.list_pending {
                for p in pending_partitions(&d)? {
                    writeln!(out, "{} {p}", d.display())?;
                }
            } else {
                writeln!(out, "== {}", d.display())?;
                let args = ReduceArgs {
                    dir: d,
                    partition: None,
                    all: true,
                    list_pending: false,
                    memory_budget: a.memory_budget,
                };
                reduce(args, out)?;
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    if a.list_pending {
        for p in pending_partitions(&a.dir)? {
            writeln!(out, "{p}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let parts = if a.all { pending_partitions(&a.dir)? } else { vec![a.partition.expect("clap requires --partition")] };
    for p in parts {
        let r = reduce_partition(&a.dir, p, a.memory_budget)?;
        let d = &r.done;
        if r.skipped {
            writeln!(out, "reduce partition {p}: already done, skipped")?;
            continue;
        }
        let products: u64 = d.jobs.iter().map(|j| j.site_products).sum();
        let unique: u64 = d.jobs.iter().map(|j| j.unique_products).sum();
        writeln!(
            out,
            "reduce partition {p}: {} run files, {} products -> {} unique, {} rejected rows, in {:.2} s = {:.0} products/s",
            d.units,
            products,
            unique,
            d.rejects,
            d.elapsed_secs,
            products as f64 / d.elapsed_secs.max(1e-9)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `xfstore status --store DIR` on a partitioned run or campaign, as text: every run's
/// progress and jobs, then the streams not planned yet (`--json`: [`xfstore::status_document`]).
pub fn status(reader: &Reader, out: &mut dyn Write) -> Result<()> {
    for run in reader.runs() {
        run_status(&run.status()?, out)?;
    }
    let waiting = reader.waiting()?;
    if !waiting.is_empty() {
        writeln!(out, "not planned yet (waiting for their upstream step): {}", waiting.join(", "))?;
    }
    Ok(())
}

fn run_status(st: &ShardedStatus, out: &mut dyn Write) -> Result<()> {
    let dir = &st.dir;
    writeln!(
        out,
        "partitioned run {}: {} rows of {}; units mapped {}/{}, shards reduced {}/{}{}",
        dir.display(),
        st.plan.input.info.rows,
        st.plan.input.spec,
        st.units_done(),
        st.units.len(),
        st.shards_done(),
        st.shards.len(),
        if st.is_complete() { " (complete)" } else { "" }
    )?;
    for j in &st.jobs {
        let c = &j.counters;
        let check = if st.is_complete() && j.shard_site_products != c.site_products {
            format!(" MISMATCH: shards hold {} products", j.shard_site_products)
        } else {
            String::new()
        };
        writeln!(
            out,
            "  {}: {} inputs, {} failed, {} without site, {} products, {} unique{}{check}",
            j.id,
            c.inputs,
            c.failed_total(),
            c.no_site,
            c.site_products,
            c.unique_products,
            if j.state == JobState::Complete { "" } else { " (so far)" }
        )?;
    }
    Ok(())
}
