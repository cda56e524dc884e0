//! The `--json` output of `query` and `status`, as its own types. The stored records
//! (`store::records`) are encoded for disk by the codec; these views borrow from them and fix
//! the JSON field names, so a change to an on-disk record cannot silently change what scripts
//! read, and JSON concerns (names, tags, skipped fields) stay out of the records.

use serde::Serialize;

use super::status::{JobStatus, StoreStatus};
use super::{Hit, QueryOutcome, RunState};
use crate::error::Result;
use crate::partition::{ShardedJob, ShardedStatus};
use crate::reader::{Reader, StoreKind};
use crate::store::{Counters, InputInfo, Props, RuleInfo};

#[derive(Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
enum Outcome<'a> {
    Found {
        query: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a str>,
        canonical: &'a str,
        hits: Vec<HitView<'a>>,
    },
    NotFound {
        query: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a str>,
        canonical: &'a str,
    },
    Invalid {
        query: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a str>,
        error: &'a str,
    },
}

#[derive(Serialize)]
struct HitView<'a> {
    smiles: &'a str,
    job: &'a str,
    rule: &'a str,
    label: &'a str,
    parent_row: u64,
    parent_id: Option<&'a str>,
    parent_smiles: &'a str,
    site_index: u32,
    site_atoms: &'a [u32],
    occurrences: u64,
    props: Option<PropsView>,
    carried: &'a [Option<String>],
}

#[derive(Serialize)]
struct PropsView {
    mw: f64,
    tpsa: f64,
    hbd: u32,
    hba: u32,
    clogp: f64,
    rotb: u32,
}

impl From<&Props> for PropsView {
    fn from(p: &Props) -> Self {
        Self { mw: p.mw, tpsa: p.tpsa, hbd: p.hbd, hba: p.hba, clogp: p.clogp, rotb: p.rotb }
    }
}

impl<'a> From<&'a Hit> for HitView<'a> {
    fn from(h: &'a Hit) -> Self {
        let r = &h.record;
        Self {
            smiles: &h.smiles,
            job: &h.job,
            rule: &h.rule,
            label: &h.label,
            parent_row: r.parent_row,
            parent_id: r.parent_id.as_deref(),
            parent_smiles: &r.parent_smiles,
            site_index: r.site_index,
            site_atoms: &r.site_atoms,
            occurrences: r.occurrences,
            props: r.props.as_ref().map(PropsView::from),
            carried: &r.carried,
        }
    }
}

/// One query outcome as one JSON object (no trailing newline).
pub fn to_json_line(o: &QueryOutcome) -> String {
    let view = match o {
        QueryOutcome::Found { query, id, canonical, hits } => {
            Outcome::Found { query, id: id.as_deref(), canonical, hits: hits.iter().map(HitView::from).collect() }
        }
        QueryOutcome::NotFound { query, id, canonical } => Outcome::NotFound { query, id: id.as_deref(), canonical },
        QueryOutcome::Invalid { query, id, error } => Outcome::Invalid { query, id: id.as_deref(), error },
    };
    serde_json::to_string(&view).expect("plain views serialize")
}

#[derive(Serialize)]
struct StatusView<'a> {
    kind: &'static str,
    path: &'a str,
    disk_bytes: u64,
    writer_pid: Option<u32>,
    jobs: Vec<JobView<'a>>,
}

#[derive(Serialize)]
struct JobView<'a> {
    state: &'static str,
    id: &'a str,
    input_key: &'a str,
    input: InputView<'a>,
    rule: RuleView<'a>,
    rdkit_version: &'a str,
    offset: u64,
    counters: CountersView<'a>,
    committed_state: &'static str,
    busy_secs: f64,
    created_unix: u64,
    updated_unix: u64,
}

#[derive(Serialize)]
struct InputView<'a> {
    path: &'a str,
    size: u64,
    rows: u64,
    footer_hash: u64,
    smiles_column: &'a str,
    id_column: Option<&'a str>,
    carry_columns: &'a [String],
}

#[derive(Serialize)]
struct RuleView<'a> {
    name: &'a str,
    label: &'a str,
    family: &'a str,
    smirks: &'a str,
    hash: u64,
}

#[derive(Serialize)]
struct CountersView<'a> {
    inputs: u64,
    failed: &'a std::collections::BTreeMap<String, u64>,
    no_site: u64,
    site_products: u64,
    product_failed: u64,
    unique_products: u64,
    masked_sites: u64,
    filtered: u64,
}

impl<'a> From<&'a Counters> for CountersView<'a> {
    fn from(c: &'a Counters) -> Self {
        Self {
            inputs: c.inputs,
            failed: &c.failed,
            no_site: c.no_site,
            site_products: c.site_products,
            product_failed: c.product_failed,
            unique_products: c.unique_products,
            masked_sites: c.masked_sites,
            filtered: c.filtered,
        }
    }
}

impl<'a> From<&'a InputInfo> for InputView<'a> {
    fn from(i: &'a InputInfo) -> Self {
        Self {
            path: &i.path,
            size: i.size,
            rows: i.rows,
            footer_hash: i.footer_hash,
            smiles_column: &i.smiles_column,
            id_column: i.id_column.as_deref(),
            carry_columns: &i.carry_columns,
        }
    }
}

impl<'a> From<&'a RuleInfo> for RuleView<'a> {
    fn from(r: &'a RuleInfo) -> Self {
        Self { name: &r.name, label: &r.label, family: &r.family, smirks: &r.smirks, hash: r.hash }
    }
}

fn run_state(s: RunState) -> &'static str {
    match s {
        RunState::Complete => "complete",
        RunState::Running => "running",
        RunState::Interrupted => "interrupted",
    }
}

impl<'a> From<&'a JobStatus> for JobView<'a> {
    fn from(j: &'a JobStatus) -> Self {
        let m = &j.meta;
        Self {
            state: run_state(j.state),
            id: &m.id,
            input_key: &m.input_key,
            input: InputView::from(&m.input),
            rule: RuleView::from(&m.rule),
            rdkit_version: &m.rdkit_version,
            offset: m.offset,
            counters: CountersView::from(&m.counters),
            committed_state: m.state.name(),
            busy_secs: m.busy_secs,
            created_unix: m.created_unix,
            updated_unix: m.updated_unix,
        }
    }
}

/// `xfstore status --json`: the store and its jobs, pretty-printed.
pub fn status_json(st: &StoreStatus) -> String {
    let view = StatusView {
        kind: StoreKind::Store.name(),
        path: &st.path,
        disk_bytes: st.disk_bytes,
        writer_pid: st.writer_pid,
        jobs: st.jobs.iter().map(JobView::from).collect(),
    };
    serde_json::to_string_pretty(&view).expect("plain views serialize")
}

/// A partitioned run's progress: the plan's size, units mapped, shards reduced, and per job the
/// units' row counters with the shards' distinct products.
#[derive(Serialize)]
struct RunView<'a> {
    kind: &'static str,
    run: &'a std::path::Path,
    partitions: u32,
    rows: u64,
    units: usize,
    units_done: usize,
    shards_done: usize,
    complete: bool,
    jobs: Vec<RunJobView<'a>>,
}

#[derive(Serialize)]
struct RunJobView<'a> {
    job: &'a str,
    rule: &'a str,
    state: &'static str,
    inputs: u64,
    failed: &'a std::collections::BTreeMap<String, u64>,
    no_site: u64,
    products: u64,
    product_failed: u64,
    masked_sites: u64,
    unique: u64,
    /// Products the reduced shards hold (equal to `products` once complete: a check).
    shard_products: u64,
}

/// A stream of a partitioned campaign not planned yet: its upstream is not reduced.
#[derive(Serialize)]
struct WaitingView<'a> {
    kind: &'static str,
    stream: &'a str,
}

/// A partitioned campaign as one object: every planned stream's run, the streams waiting for
/// their upstream.
#[derive(Serialize)]
struct CampaignRunsView<'a> {
    kind: &'static str,
    campaign: &'a std::path::Path,
    complete: bool,
    waiting: &'a [String],
    runs: Vec<RunView<'a>>,
}

impl<'a> From<&'a ShardedJob> for RunJobView<'a> {
    fn from(j: &'a ShardedJob) -> Self {
        let c = &j.counters;
        Self {
            job: &j.id,
            rule: &j.rule,
            state: j.state.name(),
            inputs: c.inputs,
            failed: &c.failed,
            no_site: c.no_site,
            products: c.site_products,
            product_failed: c.product_failed,
            masked_sites: c.masked_sites,
            unique: c.unique_products,
            shard_products: j.shard_site_products,
        }
    }
}

impl<'a> From<&'a ShardedStatus> for RunView<'a> {
    fn from(st: &'a ShardedStatus) -> Self {
        Self {
            kind: StoreKind::PartitionedRun.name(),
            run: &st.dir,
            partitions: st.plan.partitions,
            rows: st.plan.input.info.rows,
            units: st.units.len(),
            units_done: st.units_done(),
            shards_done: st.shards_done(),
            complete: st.is_complete(),
            jobs: st.jobs.iter().map(RunJobView::from).collect(),
        }
    }
}

/// `xfstore status --json` of any store folder (`schemas/status.schema.json`), each object's
/// `kind` saying which view it is: a store's jobs with their records (one object); a
/// partitioned run's progress (units, shards) and per-job counters (one line); a partitioned
/// campaign as JSON lines, one `partitioned_run` per planned stream, then one `waiting` per
/// stream whose upstream is not reduced yet. Schedulers read this instead of the folder's
/// files.
pub fn status_document(reader: &Reader) -> Result<String> {
    if reader.kind() != StoreKind::PartitionedCampaign {
        return status_summary(reader);
    }
    let (runs, waiting) = progress(reader)?;
    let mut lines: Vec<String> = runs.iter().map(|r| to_json(&RunView::from(r))).collect();
    let kind = "waiting";
    lines.extend(waiting.iter().map(|stream| to_json(&WaitingView { kind, stream })));
    Ok(lines.join("\n"))
}

/// The status of any store folder as one JSON object: [`status_document`]'s, except that a
/// partitioned campaign is one `partitioned_campaign` object holding its runs and the streams
/// waiting (the Python module's `Store.status()`).
pub fn status_summary(reader: &Reader) -> Result<String> {
    if reader.kind() == StoreKind::Store {
        return Ok(status_json(&super::status(reader)?));
    }
    let (runs, waiting) = progress(reader)?;
    Ok(match reader.kind() {
        StoreKind::PartitionedCampaign => to_json(&CampaignRunsView {
            kind: StoreKind::PartitionedCampaign.name(),
            campaign: reader.path(),
            complete: waiting.is_empty() && runs.iter().all(ShardedStatus::is_complete),
            waiting: &waiting,
            runs: runs.iter().map(RunView::from).collect(),
        }),
        _ => to_json(&RunView::from(&runs[0])),
    })
}

/// A partitioned folder's runs' progress, and the streams not planned yet (a campaign's).
fn progress(reader: &Reader) -> Result<(Vec<ShardedStatus>, Vec<String>)> {
    let runs = reader.runs().iter().map(|r| r.status()).collect::<Result<_>>()?;
    Ok((runs, reader.waiting()?))
}

fn to_json(view: &impl Serialize) -> String {
    serde_json::to_string(view).expect("plain views serialize")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ProductRecord;

    /// The JSON scripts read is pinned here, field by field.
    #[test]
    fn query_json_is_stable() {
        let record = ProductRecord {
            parent_row: 8,
            parent_id: None,
            parent_smiles: "Oc1ccccc1".into(),
            site_index: 0,
            site_atoms: vec![3, 6],
            occurrences: 2,
            props: Some(Props { mw: 108.5, tpsa: 9.25, hbd: 0, hba: 1, clogp: 1.5, rotb: 1 }),
            carried: vec![Some("x".into())],
            since: 0,
            moved: 0,
        };
        let hit =
            Hit { smiles: "COc1ccccc1".into(), job: "in/R".into(), rule: "R".into(), label: "a->b".into(), record };
        let found = QueryOutcome::Found {
            query: "c1ccccc1OC".into(),
            id: Some("q1".into()),
            canonical: "COc1ccccc1".into(),
            hits: vec![hit],
        };
        assert_eq!(
            to_json_line(&found),
            r#"{"status":"found","query":"c1ccccc1OC","id":"q1","canonical":"COc1ccccc1","hits":[{"smiles":"COc1ccccc1","job":"in/R","rule":"R","label":"a->b","parent_row":8,"parent_id":null,"parent_smiles":"Oc1ccccc1","site_index":0,"site_atoms":[3,6],"occurrences":2,"props":{"mw":108.5,"tpsa":9.25,"hbd":0,"hba":1,"clogp":1.5,"rotb":1},"carried":["x"]}]}"#
        );
        let invalid = QueryOutcome::Invalid { query: "C1CC".into(), id: None, error: "no".into() };
        assert_eq!(to_json_line(&invalid), r#"{"status":"invalid","query":"C1CC","error":"no"}"#);
    }
}
