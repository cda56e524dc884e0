//! Creating or resuming a job: identity, fingerprints and the refusal to resume on a changed
//! input, rule or RDKit.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::chem::rdkit_version;
use crate::error::{IngestError, Result};
use crate::input::InputFile;
use crate::rules::Rule;
use crate::store::{InputInfo, JobMeta, JobState, ReadOnlyStore, RowsHash, Store, UpstreamRead, UpstreamReads};

pub(crate) fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Job id of the input with key `input_key` x `rule`: `<input key>/<rule name>`.
pub fn job_id(input_key: &str, rule: &str) -> String {
    format!("{input_key}/{rule}")
}

/// Refuses to add keys canonicalized by a different RDKit.
pub(super) fn check_rdkit(store: &Store) -> Result<()> {
    let linked = rdkit_version();
    match store.rdkit_version()? {
        Some(v) if v != linked => Err(IngestError::RdkitVersion { store: v, linked }.into()),
        _ => Ok(()),
    }
}

/// What to do with an existing job that does not match its input or rule any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OnChange {
    /// Refuse ([`IngestError::Mismatch`]).
    Refuse,
    /// Drop it and start afresh, saying why (`run --redo-changed`).
    Redo,
}

/// Returns the job's metadata: resumed if it exists and matches, fresh otherwise (`restart`:
/// always fresh).
pub(super) fn prepare_job(
    store: &Store,
    input: &InputFile,
    key: &str,
    rule: &Rule,
    restart: bool,
    on_change: OnChange,
) -> Result<JobMeta> {
    let id = job_id(key, &rule.def.name);
    if let Some(mut existing) = store.job(&id)? {
        let same = if restart { None } else { Some(check_same(store, &existing, input, rule)) };
        match same {
            Some(Err(crate::Error::Ingest(IngestError::Mismatch { job, what, detail })))
                if on_change == OnChange::Redo =>
            {
                eprintln!("job {job}: {what} changed since the job was made ({detail}); redoing it");
                store.drop_job(&id, &existing.input_key)?;
            }
            Some(same) => {
                if same? == Same::Grown {
                    // the old rows are as they were: the job goes on with the rows appended (a
                    // job input: with the upstream keys new since), its products from now on
                    // stamped with a new version
                    existing.input = input.info().clone();
                    existing.state = JobState::Partial;
                    existing.version = store.next_generation()?;
                    if let (Some(u), Some(now)) = (&mut existing.upstream, input.upstream_now()) {
                        u.before = std::mem::replace(&mut u.now, now.to_vec());
                        u.rows_before = existing.offset;
                    }
                }
                store.register_job(&existing)?; // creates column families added by newer versions
                record_rows(store, &existing.input_key, input)?;
                return Ok(existing);
            }
            None => store.drop_job(&id, &existing.input_key)?,
        }
    }
    let mut meta = JobMeta::fresh(id, key.to_owned(), input.info().clone(), rule.info(), rdkit_version(), now_unix());
    (meta.born, meta.version) = {
        let g = store.next_generation()?;
        (g, g)
    };
    meta.upstream = input.upstream_now().map(|now| UpstreamReads { now: now.to_vec(), ..UpstreamReads::default() });
    store.register_job(&meta)?;
    record_rows(store, key, input)?;
    Ok(meta)
}

/// Records the content hash of a single Parquet input's current version, once per version
/// (one read of the file), so that a rewrite with rows appended can be told from a change
/// later ([`grown_parquet_file`]).
fn record_rows(store: &Store, input_key: &str, input: &InputFile) -> Result<()> {
    if !input.is_parquet_file() || store.rows_hashes(input_key)?.iter().any(|v| v.describes(input.info())) {
        return Ok(());
    }
    let all = input.row_hashes(&[])?.all;
    let info = input.info();
    let version = RowsHash { rows: info.rows, size: info.size, fingerprint: info.footer_hash, hash: all };
    Ok(store.add_rows_hash(input_key, version)?)
}

/// Whether a single Parquet input is the version `old` with rows appended: the first
/// `old.rows` rows of the file now hash as that version's rows did when recorded. Some(the
/// version to record) when it is; None when not, or when no hash of `old` was recorded (stores
/// made before hashes were, or another kind of input). Reads only.
fn grown_parquet_file(
    store: &ReadOnlyStore,
    input_key: &str,
    old: &InputInfo,
    input: &InputFile,
) -> Result<Option<RowsHash>> {
    let new = input.info();
    if !input.is_parquet_file() || new.rows <= old.rows || !new.same_columns(old) {
        return Ok(None);
    }
    let versions = store.rows_hashes(input_key)?;
    let Some(then) = versions.iter().find(|v| v.describes(old)) else {
        return Ok(None);
    };
    // every recorded version's row count at once: the jobs of the input's other rules may
    // have been made from another version
    let now = input.row_hashes(&versions.iter().map(|v| v.rows).collect::<Vec<_>>())?;
    if now.at(old.rows) != Some(then.hash) {
        return Ok(None);
    }
    Ok(Some(RowsHash { rows: new.rows, size: new.size, fingerprint: new.footer_hash, hash: now.all }))
}

/// How a job's input and rule compare with what the job was made from.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Compared {
    /// The same rows and rule.
    Same,
    /// The same rows, then more (appended to a text file, new parts of a Parquet folder, a
    /// Parquet file rewritten with rows after its old ones; proven, not assumed), and the same
    /// rule. `record`: the new version's row hash, to record when the job goes on.
    Grown {
        /// The content hash of a single Parquet file's new version.
        record: Option<RowsHash>,
    },
    /// Changed otherwise than by growth: what, and how.
    Changed {
        /// "the input", "the input columns" or "the rule definition".
        what: &'static str,
        /// Was and is now.
        detail: String,
    },
}

/// Compares `job` with `input` as it is now and the rule as it is now (`rule`). Reads only.
pub(crate) fn compare(store: &ReadOnlyStore, job: &JobMeta, input: &InputFile, rule: &Rule) -> Result<Compared> {
    let (old, new) = (&job.input, input.info());
    let mut same = Compared::Same;
    if !old.same_rows(new) && job.rule.hash == rule.hash {
        if upstream_grew(job, input) || input.extends(old)? {
            same = Compared::Grown { record: None };
        } else if let Some(version) = grown_parquet_file(store, &job.input_key, old, input)? {
            same = Compared::Grown { record: Some(version) };
        }
    }
    if same == Compared::Same && !old.same_rows(new) {
        let detail = format!(
            "was {} rows, size {}, fingerprint {:016x}; now {} rows, size {}, fingerprint {:016x}",
            old.rows, old.size, old.footer_hash, new.rows, new.size, new.footer_hash
        );
        return Ok(Compared::Changed { what: "the input", detail });
    }
    if !old.same_columns(new) {
        let was = format!("smiles {:?}, id {:?}, carry {:?}", old.smiles_column, old.id_column, old.carry_columns);
        return Ok(Compared::Changed { what: "the input columns", detail: format!("were {was}") });
    }
    if job.rule.hash != rule.hash {
        let detail = format!("smirks was {:?}, now {:?}", job.rule.smirks, rule.def.smirks);
        return Ok(Compared::Changed { what: "the rule definition", detail });
    }
    Ok(same)
}

/// Whether `job`, complete and made from other jobs, can read the keys they hold now beyond
/// those it read: each upstream job it read is still upstream, the one it read (same id, same
/// `born`: not redone) at the same or a later version, in the same order among themselves
/// (the first job holding a key supplies it); jobs added upstream since are read in full.
/// Keys never leave a job that grows, so its rows read then are still rows, and the keys new
/// since are the growth.
fn upstream_grew(job: &JobMeta, input: &InputFile) -> bool {
    input.upstream_now().is_some_and(|now| grows_from(job, now))
}

/// As [`upstream_grew`], with the upstream jobs as they are now (`now`, in the input's order).
pub(crate) fn grows_from(job: &JobMeta, now: &[UpstreamRead]) -> bool {
    let Some(u) = &job.upstream else { return false };
    if job.state != JobState::Complete || job.offset != job.input.rows {
        return false;
    }
    let mut at = 0; // where the previous recorded job is in `now`
    for read in &u.now {
        let Some(k) = now.iter().position(|n| n.job == read.job) else { return false };
        let n = &now[k];
        if k < at || n.born != read.born || read.born == 0 || n.version < read.version {
            return false;
        }
        at = k;
    }
    true
}

/// How a job's input compares with what the job was made from.
#[derive(Debug, PartialEq, Eq)]
enum Same {
    /// The same rows.
    Rows,
    /// The same rows, then more.
    Grown,
}

fn check_same(store: &Store, job: &JobMeta, input: &InputFile, rule: &Rule) -> Result<Same> {
    match compare(store, job, input, rule)? {
        Compared::Same => Ok(Same::Rows),
        Compared::Grown { record } => {
            if let Some(version) = record {
                store.add_rows_hash(&job.input_key, version)?;
            }
            Ok(Same::Grown)
        }
        Compared::Changed { what, detail } => Err(IngestError::Mismatch { job: job.id.clone(), what, detail }.into()),
    }
}
