//! The plan of a partitioned run (`plan.json`): what every map and reduce step needs, fixed
//! once, so steps on any machine agree on the input, the rules, the units and the number of
//! partitions. A step refuses a plan made by another xfstore, RDKit, store or run-file format
//! (products would not be the same keys, or files not the same bytes), and a plan whose input
//! changed since.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::files::read_json;
use super::layout::{shard_dir, shard_reduced, PLAN_FILE, SHARD_DONE};
use super::{PARTITION_SEED, RUN_FORMAT};
use crate::error::{PartitionError, Result};
use crate::ingest::{IngestOptions, IngestPlan, RuleSettings};
use crate::input::{InputFile, InputFormat, InputSpec};
use crate::publish::publish_file;
use crate::rules::RuleSet;
use crate::store::{InputInfo, RuleInfo};

/// Format tag of `plan.json`.
pub const PLAN_FORMAT: &str = "xfstore-partitioned-plan-v1";
/// Default rows per unit: a unit's distinct products are held in memory by its map step
/// (about 0.3 KiB each with properties), so 20,000 drug-sized rows (~100k products per rule)
/// take tens of MiB.
pub const DEFAULT_UNIT_ROWS: u64 = 20_000;

/// What identifies the build that made a file: steps refuse files of another build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildId {
    /// xfstore's version.
    pub xfstore: String,
    /// RDKit's version (it canonicalizes the keys).
    pub rdkit: String,
    /// The store format version shards are written in.
    pub store_format: u32,
    /// The record codec version of run files and shards.
    pub codec: u8,
    /// The run-file format version.
    pub run_format: u32,
    /// The partition hash: `xxh3-64` and its seed.
    pub partition_hash: String,
}

impl BuildId {
    /// This build's identity.
    pub fn current() -> Self {
        Self {
            xfstore: env!("CARGO_PKG_VERSION").to_owned(),
            rdkit: crate::chem::rdkit_version(),
            store_format: crate::store::schema::FORMAT_VERSION,
            codec: crate::store::CODEC_VERSION,
            run_format: RUN_FORMAT,
            partition_hash: format!("xxh3-64 seed {PARTITION_SEED:#018x}"),
        }
    }
}

/// The input of a partitioned run, as planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanInput {
    /// Absolute path (or glob) of the input: every machine must see it at this path.
    pub spec: String,
    /// Format, when not the one the path implies.
    pub format: Option<InputFormat>,
    /// The input's key (jobs are `<key>/<rule>`).
    pub key: String,
    /// Columns and fingerprint when planned (a map step refuses an input that changed).
    pub info: InputInfo,
    /// For a `job:` input (a partitioned campaign's chained step): the upstream stream's run
    /// folder, whose shards hold the jobs.
    #[serde(default)]
    pub upstream: Option<PathBuf>,
}

/// One rule of the run: its definition as planned and the settings it runs with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRule {
    /// Name, label, family, SMIRKS and hash (a map step refuses a rule whose hash changed).
    pub info: RuleInfo,
    /// Site cap replacing the rule file's, if any.
    pub cap: Option<i64>,
    /// Whether the sugar mask applies.
    pub sugar_mask: bool,
}

/// A unit of work: consecutive input rows, mapped by one `xfstore map --unit K`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanUnit {
    /// First input row.
    pub first_row: u64,
    /// Rows in the unit.
    pub rows: u64,
}

/// A partitioned run's plan, stored as `plan.json` in the run folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// [`PLAN_FORMAT`].
    pub format: String,
    /// The build that made the plan (steps of another build refuse it).
    pub build: BuildId,
    /// Number of partitions (= shard stores).
    pub partitions: u32,
    /// The input.
    pub input: PlanInput,
    /// The rule file the rules came from (absolute), or None for the built-in rules.
    pub rules_file: Option<PathBuf>,
    /// The rules, one job each.
    pub rules: Vec<PlanRule>,
    /// Whether products get properties.
    pub with_props: bool,
    /// Rows with more heavy atoms are rejected as `too_large`.
    pub max_heavy_atoms: u32,
    /// The step's property filter (`keep:`), as written; part of each rule's hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep: Option<String>,
    /// The units, in input order.
    pub units: Vec<PlanUnit>,
}

/// What to plan: an ingest's options (input, rules, settings) cut into units and partitions.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// The input, rules and per-row settings, as for [`crate::ingest`]; a `job:` input cannot be
    /// planned (its rows live in one store).
    pub ingest: IngestOptions,
    /// The rule file (None: built-in rules); recorded so every step loads the same rules.
    pub rules_file: Option<PathBuf>,
    /// Number of partitions (shard stores), at least 1.
    pub partitions: u32,
    /// Rows per unit, at least 1.
    pub unit_rows: u64,
    /// For a `job:` input: the run folder whose shards hold the upstream jobs (reduced).
    pub upstream: Option<PathBuf>,
}

fn plan_err(dir: &Path, reason: impl Into<String>) -> PartitionError {
    PartitionError::Plan { path: dir.into(), reason: reason.into() }
}

/// Validates the input and rules (nothing is written when they are bad), cuts the input into
/// units and writes `DIR/plan.json` atomically. Idempotent: a folder holding the same plan is
/// left as it is; one holding a different plan is refused.
pub fn plan(rule_set: &RuleSet, opts: &PlanOptions, dir: &Path) -> Result<Plan> {
    plan_in(rule_set, opts, dir, true)
}

/// [`plan`]; `may_grow`: whether a run planned before over fewer rows of the same input may
/// grow (a stream of a partitioned campaign may not: the streams made from it would be stale).
pub(super) fn plan_in(rule_set: &RuleSet, opts: &PlanOptions, dir: &Path, may_grow: bool) -> Result<Plan> {
    if opts.partitions == 0 || opts.unit_rows == 0 {
        return Err(plan_err(dir, "--partitions and --unit-rows must be at least 1").into());
    }
    if opts.ingest.input.is_jobs() && opts.upstream.is_none() {
        return Err(plan_err(dir, "a job: input lives in one store and cannot be partitioned; export it first").into());
    }
    let mut ingest = opts.ingest.clone();
    // every machine opens the input at the path in the plan (a job input: the upstream run's
    // shards)
    if let Some(path) = opts.ingest.input.path() {
        ingest.input = InputSpec::Path(if path.exists() {
            std::fs::canonicalize(path).map_err(|source| PartitionError::Io {
                path: path.into(),
                context: "resolve input",
                source,
            })?
        } else if path.is_absolute() {
            path.into() // a glob
        } else {
            let cwd = std::env::current_dir().map_err(|source| PartitionError::Io {
                path: dir.into(),
                context: "working folder",
                source,
            })?;
            cwd.join(path)
        });
    }
    let upstream = match &opts.upstream {
        Some(u) => Some(std::fs::canonicalize(u).map_err(|source| PartitionError::Io {
            path: u.clone(),
            context: "resolve upstream run",
            source,
        })?),
        None => None,
    };
    let checked = match &upstream {
        Some(u) => IngestPlan::new_sharded(rule_set, ingest.clone(), open_shards(u)?)?,
        None => IngestPlan::new(rule_set, ingest.clone())?,
    };
    let info = checked.input().info().clone();
    let rules = checked
        .rules()
        .iter()
        .map(|r| PlanRule {
            info: r.info(),
            cap: ingest.rule_settings.get(&r.def.name).and_then(|s| s.cap),
            sugar_mask: ingest.rule_settings.get(&r.def.name).is_some_and(|s| s.sugar_mask),
        })
        .collect();
    let units = units(0, info.rows, opts.unit_rows);
    let rules_file = match &opts.rules_file {
        Some(p) => Some(std::fs::canonicalize(p).map_err(|source| PartitionError::Io {
            path: p.clone(),
            context: "resolve rule file",
            source,
        })?),
        None => None,
    };
    let plan = Plan {
        format: PLAN_FORMAT.into(),
        build: BuildId::current(),
        partitions: opts.partitions,
        input: PlanInput {
            spec: ingest.input.to_string(),
            format: ingest.format,
            key: checked.input_key().to_owned(),
            info,
            upstream,
        },
        rules_file,
        rules,
        with_props: ingest.with_props,
        keep: ingest.keep.as_ref().map(|k| k.text().to_owned()),
        max_heavy_atoms: ingest.max_heavy_atoms,
        units,
    };
    let path = dir.join(PLAN_FILE);
    if path.exists() {
        let existing = Plan::load(dir)?;
        // the same input, rules and settings: the plan stands, with its units (a grown run's
        // are its first units and those added for the new rows)
        let mut as_planned = plan.clone();
        as_planned.units = existing.units.clone();
        if as_planned == existing {
            return Ok(existing);
        }
        let Some(grown) = grown(&existing, &plan, checked.input(), opts.unit_rows)? else {
            return Err(plan_err(
                dir,
                "already holds a different plan (input, rules, partitions or units differ, and the input did not \
                 only grow); plan into a new folder",
            )
            .into());
        };
        if !may_grow {
            let reason = "its input grew; a stream of a partitioned campaign does not grow in place (the streams \
                          made from it would be stale): plan the campaign into a new folder";
            return Err(plan_err(dir, reason).into());
        }
        // the shards hold the old rows' products only: removed before the plan names the new
        // units, so no reader or reduce ever takes them for the grown run's (a kill between
        // leaves the old plan without shards: reduce rebuilds them, or planning again grows)
        for p in 0..existing.partitions {
            remove_shard(dir, p)?;
        }
        publish_file(&path, &serde_json::to_vec_pretty(&grown).expect("a plan serializes"))?;
        return Ok(grown);
    }
    std::fs::create_dir_all(dir).map_err(|source| PartitionError::Io {
        path: dir.into(),
        context: "create run folder",
        source,
    })?;
    let json = serde_json::to_vec_pretty(&plan).expect("a plan serializes");
    publish_file(&path, &json)?;
    Ok(plan)
}

/// The plan `existing` grown to the input `now`, when `planned` (the plan of `now` from
/// scratch) differs from it only by rows appended to the input, proven unchanged before them
/// (text: the old bytes; a Parquet folder or glob: the old parts): `existing`'s units stay as
/// they are (their run files hold the old rows' products) and units of `unit_rows` cover the
/// new rows. None otherwise (a single Parquet file cannot prove its old rows here); an error
/// when the input cannot be read to prove them.
fn grown(existing: &Plan, planned: &Plan, now: &InputFile, unit_rows: u64) -> Result<Option<Plan>> {
    let (old, new) = (&existing.input.info, &planned.input.info);
    let mut same = planned.clone();
    same.input.info = old.clone();
    same.units = existing.units.clone();
    if same != *existing || existing.input.upstream.is_some() || new.rows <= old.rows || !now.extends(old)? {
        return Ok(None);
    }
    let mut grown = planned.clone();
    grown.units = existing.units.clone();
    grown.units.extend(units(old.rows, new.rows, unit_rows));
    Ok(Some(grown))
}

/// Units of up to `unit_rows` rows covering rows `from..to`.
fn units(from: u64, to: u64, unit_rows: u64) -> Vec<PlanUnit> {
    (from..to)
        .step_by(unit_rows as usize)
        .map(|first_row| PlanUnit { first_row, rows: unit_rows.min(to - first_row) })
        .collect()
}

/// Removes shard `p` of the run in `dir` (done marker first, so a kill midway leaves a folder
/// that no reader takes for a reduced shard and the next reduce replaces).
fn remove_shard(dir: &Path, p: u32) -> Result<()> {
    let shard = shard_dir(dir, p);
    let io = |context| {
        let path = shard.clone();
        move |source| PartitionError::Io { path, context, source }
    };
    match std::fs::remove_file(shard.join(SHARD_DONE)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io("remove shard marker")(e).into()),
        _ => {}
    }
    if shard.exists() {
        std::fs::remove_dir_all(&shard).map_err(io("remove shard"))?;
    }
    Ok(())
}

impl Plan {
    /// Reads `DIR/plan.json` and refuses a plan made by another build.
    pub fn load(dir: &Path) -> Result<Self> {
        let plan = Self::load_any(dir)?;
        let current = BuildId::current();
        if plan.build != current {
            return Err(plan_err(
                dir,
                format!(
                    "the plan was made by another build ({}); this is {}: plan the run again with this build",
                    describe(&plan.build),
                    describe(&current)
                ),
            )
            .into());
        }
        Ok(plan)
    }

    /// Reads `DIR/plan.json` whatever build made it (reading a finished run's shards does not
    /// depend on the build).
    pub fn load_any(dir: &Path) -> Result<Self> {
        let path = dir.join(PLAN_FILE);
        if !path.exists() {
            return Err(
                plan_err(dir, format!("no {PLAN_FILE}: not a partitioned run folder (run `xfstore plan`)")).into()
            );
        }
        let plan: Plan = read_json(&path)?;
        if plan.format != PLAN_FORMAT {
            return Err(
                plan_err(dir, format!("{PLAN_FILE} has format {:?}, expected {PLAN_FORMAT:?}", plan.format)).into()
            );
        }
        if plan.partitions == 0 {
            return Err(plan_err(dir, "the plan has 0 partitions").into());
        }
        Ok(plan)
    }

    /// Job ids, in rule order.
    pub fn job_ids(&self) -> Vec<String> {
        self.rules.iter().map(|r| crate::ingest::job_id(&self.input.key, &r.info.name)).collect()
    }

    /// The ingest options a map step runs the unit with.
    pub(super) fn ingest_options(&self) -> IngestOptions {
        let info = &self.input.info;
        // the spec as written by `plan`: an absolute path, or `job:` ids
        let mut o = IngestOptions::new(
            InputSpec::parse(&self.input.spec),
            self.rules.iter().map(|r| r.info.name.clone()).collect(),
        );
        o.format = self.input.format;
        o.input_key = Some(self.input.key.clone());
        o.smiles_column = info.smiles_column.clone();
        o.id_column = info.id_column.clone();
        o.carry_columns = info.carry_columns.clone();
        o.with_props = self.with_props;
        o.max_heavy_atoms = self.max_heavy_atoms;
        // parsed when planned; were it not to parse now, the rules' hashes (which include the
        // filter) would differ from the plan's and the map step would refuse them
        o.keep = self.keep.as_deref().and_then(|k| crate::Keep::parse(k).ok());
        o.rule_settings = self
            .rules
            .iter()
            .filter(|r| r.cap.is_some() || r.sugar_mask)
            .map(|r| (r.info.name.clone(), RuleSettings { cap: r.cap, sugar_mask: r.sugar_mask }))
            .collect::<BTreeMap<_, _>>();
        o
    }

    /// Loads the plan's rule file and opens its input; refuses a rule or an input that is not
    /// the one planned.
    pub(super) fn open_ingest<'r>(&self, dir: &Path, rule_set: &'r RuleSet) -> Result<IngestPlan<'r>> {
        let checked = match &self.input.upstream {
            Some(u) => IngestPlan::new_sharded(rule_set, self.ingest_options(), open_shards(u)?)?,
            None => IngestPlan::new(rule_set, self.ingest_options())?,
        };
        let now = checked.input().info();
        let was = &self.input.info;
        if !was.same_rows(now) || !was.same_columns(now) {
            return Err(plan_err(
                dir,
                format!(
                    "the input {} changed since the plan (was {} rows, size {}, fingerprint {:016x}; now {} rows, size {}, fingerprint {:016x})",
                    self.input.spec, was.rows, was.size, was.footer_hash, now.rows, now.size, now.footer_hash
                ),
            )
            .into());
        }
        for (planned, rule) in self.rules.iter().zip(checked.rules()) {
            if planned.info.hash != rule.hash {
                return Err(plan_err(
                    dir,
                    format!("rule {} changed since the plan (SMIRKS now {:?})", planned.info.name, rule.def.smirks),
                )
                .into());
            }
        }
        Ok(checked)
    }

    /// The plan's rule set (its rule file, or the built-in rules).
    pub(super) fn rule_set(&self) -> Result<RuleSet> {
        Ok(RuleSet::load_or_builtin(self.rules_file.as_deref())?)
    }
}

/// Every shard store of the run in `dir`, read-only; an error unless all are reduced.
pub(super) fn open_shards(dir: &Path) -> Result<Vec<crate::store::ReadOnlyStore>> {
    let plan = Plan::load_any(dir)?;
    let mut shards = Vec::with_capacity(plan.partitions as usize);
    for p in 0..plan.partitions {
        if !shard_reduced(dir, p) {
            return Err(PartitionError::NotReady {
                path: dir.into(),
                reason: format!("shard {p} is not reduced yet: a step reading this run waits for it"),
            }
            .into());
        }
        shards.push(crate::store::ReadOnlyStore::open(&shard_dir(dir, p))?);
    }
    Ok(shards)
}

fn describe(b: &BuildId) -> String {
    format!(
        "xfstore {}, RDKit {}, store format {}, codec {}, run format {}, {}",
        b.xfstore, b.rdkit, b.store_format, b.codec, b.run_format, b.partition_hash
    )
}
