//! `xfstore map DIR --unit K`: one unit's rows through the same transform as a single-machine
//! ingest (`Chunk::transform`, the same per-row options, properties once per product distinct
//! within the unit, from its first provenance), deduplicated within the unit by the same fold
//! (first provenance = lowest row, then site; occurrences summed), written as one run file
//! sorted by (partition, kind, job, key) with the unit's counters in its done marker.
//!
//! Idempotent: a unit with a done marker is skipped; a killed map leaves only a temp folder
//! (removed by the next map of that unit on the same host); two maps of one unit both finish
//! and the second discards its copy (`files.rs`).

use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::files::read_marker;
use super::layout::{unit_dir, RUN_FILE, UNIT_DONE};
use super::partition_of;
use super::plan::{BuildId, Plan};
use super::runfile::{self, RunRecord, KIND_LINK, KIND_PRODUCT, KIND_REJECT, KIND_ROOT};
use crate::budget::MemoryBudget;
use crate::chem::PropsMode;
use crate::error::{PartitionError, Result};
use crate::ingest::batch::{BatchBuilder, Chunk, ChunkLimit};
use crate::ingest::flow::CHUNK_ROWS_PER_THREAD;
use crate::ingest::DEFAULT_BATCH_ROWS;
use crate::publish::{host, publish_new_folder, write_json_synced};
use crate::rules::Rule;
use crate::store::schema::{parent_link_key, root_row_key};
use crate::store::{encode, Counters};

/// A finished unit: what its map step found (the folder's done marker).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitDone {
    /// Unit number.
    pub unit: u32,
    /// First input row.
    pub first_row: u64,
    /// Rows mapped.
    pub rows: u64,
    /// The build that mapped it.
    pub build: BuildId,
    /// Per job (rule order): the unit's counters; `unique_products` counts products distinct
    /// within the unit.
    pub counters: Vec<Counters>,
    /// Rows of the run file.
    pub records: u64,
    /// Size of the run file.
    pub run_bytes: u64,
    /// Per partition: the xxh3 of its rows (checked by the reduce step).
    pub partition_hashes: Vec<u64>,
    /// Products whose properties were computed (distinct within the unit).
    pub props_computed: u64,
    /// Seconds the map took.
    pub elapsed_secs: f64,
    /// Host that mapped it.
    pub host: String,
}

/// What `map` did.
#[derive(Debug, Clone)]
pub struct MapReport {
    /// The unit's done marker.
    pub done: UnitDone,
    /// True when the unit was already done (nothing was run).
    pub skipped: bool,
}

/// The done marker of unit `k`, if the unit is done.
pub fn unit_done(dir: &Path, k: u32) -> Result<Option<UnitDone>> {
    read_marker(&unit_dir(dir, k).join(UNIT_DONE))
}

/// Maps unit `unit` of the run planned in `dir`, holding at most half of `budget` in products.
pub fn map_unit(dir: &Path, unit: u32, budget: MemoryBudget) -> Result<MapReport> {
    let started = Instant::now();
    let plan = Plan::load(dir)?;
    let count = plan.units.len() as u32;
    let u = *plan.units.get(unit as usize).ok_or(PartitionError::OutOfRange {
        path: dir.into(),
        what: "unit",
        index: unit,
        count,
    })?;
    if let Some(done) = unit_done(dir, unit)? {
        return Ok(MapReport { done, skipped: true });
    }
    let published = publish_new_folder(&unit_dir(dir, unit), true, |tmp| {
        map_into(dir, &plan, unit, u.first_row, u.rows, budget, tmp, started)
    })?;
    let Some(done) = published else {
        // another process finished the unit first: its marker stands
        let theirs = unit_done(dir, unit)?.ok_or_else(|| PartitionError::NotReady {
            path: dir.into(),
            reason: format!("unit {unit} was published without its done marker"),
        })?;
        return Ok(MapReport { done: theirs, skipped: true });
    };
    crate::failpoint::hit("partition.map.published");
    Ok(MapReport { done, skipped: false })
}

#[allow(clippy::too_many_arguments)]
fn map_into(
    dir: &Path,
    plan: &Plan,
    unit: u32,
    first_row: u64,
    rows: u64,
    budget: MemoryBudget,
    tmp: &Path,
    started: Instant,
) -> Result<UnitDone> {
    let rule_set = plan.rule_set()?;
    let ingest = plan.open_ingest(dir, &rule_set)?;
    let rules: Vec<&Rule> = ingest.rules().iter().collect();
    let row_opts = ingest.options().row_options();
    let mode = if plan.with_props { PropsMode::Later } else { PropsMode::None };
    let mut builder = BatchBuilder::new(&vec![0; rules.len()], false).keep(ingest.options().keep.clone());
    let limit = budget.bytes() / 2;
    let mut held = 0u64;
    let chunk_rows = CHUNK_ROWS_PER_THREAD * rayon::current_num_threads();
    for batch in ingest.input().batches(None, first_row, DEFAULT_BATCH_ROWS, Some(rows))? {
        let batch = batch?;
        let mut at = 0;
        while at < batch.len() {
            // a chunk stops at the unit's limit and keeps at most the budget's share of pickles
            let part = batch.slice(at, chunk_rows.min(batch.len() - at));
            let within = ChunkLimit { bytes: limit - held + 1, mol_bytes: budget.molecule_bytes() };
            let chunk = Chunk::transform_within(&part, &rules, &row_opts, mode, within);
            at += chunk.rows.len();
            held += chunk.bytes();
            if held > limit {
                return Err(PartitionError::UnitTooLarge { path: dir.into(), unit, bytes: held, limit }.into());
            }
            builder.add(chunk, None)?;
            crate::failpoint::hit("partition.map.chunk");
        }
    }
    let prepared = builder.finish();
    let p = plan.partitions;
    let mut records = Vec::new();
    let mut counters = Vec::with_capacity(prepared.jobs.len());
    for (j, mut delta) in prepared.jobs.into_iter().enumerate() {
        let job = j as u32;
        delta.counters.unique_products = delta.products.len() as u64;
        counters.push(delta.counters);
        for (key, rec) in delta.products {
            let partition = partition_of(key.as_bytes(), p);
            records.push(RunRecord { partition, kind: KIND_PRODUCT, job, key: key.into_bytes(), value: encode(&rec) });
        }
        delta.parent_links.sort_unstable();
        delta.parent_links.dedup();
        for (parent, product) in delta.parent_links {
            let partition = partition_of(product.as_bytes(), p);
            let key = parent_link_key(&parent, &product);
            records.push(RunRecord { partition, kind: KIND_LINK, job, key, value: Vec::new() });
        }
        for (parent, row, id) in delta.roots {
            let partition = partition_of(parent.as_bytes(), p);
            let key = root_row_key(&parent, row);
            records.push(RunRecord {
                partition,
                kind: KIND_ROOT,
                job,
                key,
                value: id.unwrap_or_default().into_bytes(),
            });
        }
    }
    for (row, rec) in prepared.rejected {
        let key = row.to_be_bytes();
        let partition = partition_of(&key, p);
        records.push(RunRecord { partition, kind: KIND_REJECT, job: 0, key: key.to_vec(), value: encode(&rec) });
    }
    let n = records.len() as u64;
    let run = tmp.join(RUN_FILE);
    let partition_hashes = runfile::write(&run, records, p)?;
    let run_bytes = std::fs::metadata(&run).map(|m| m.len()).unwrap_or(0);
    let done = UnitDone {
        unit,
        first_row,
        rows,
        build: plan.build.clone(),
        counters,
        records: n,
        run_bytes,
        partition_hashes,
        props_computed: prepared.props_computed,
        elapsed_secs: started.elapsed().as_secs_f64(),
        host: host(),
    };
    write_json_synced(&tmp.join(UNIT_DONE), &done)?;
    Ok(done)
}
