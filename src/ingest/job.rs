//! Creating or resuming a job: identity, fingerprints and the refusal to resume on a changed
//! input, rule or RDKit.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::chem::rdkit_version;
use crate::error::{IngestError, Result};
use crate::input::InputFile;
use crate::rules::Rule;
use crate::store::{JobMeta, JobState, Store};

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

/// Returns the job's metadata: resumed if it exists and matches, fresh otherwise.
pub(super) fn prepare_job(store: &Store, input: &InputFile, key: &str, rule: &Rule, restart: bool) -> Result<JobMeta> {
    let id = job_id(key, &rule.def.name);
    if let Some(existing) = store.job(&id)? {
        if restart {
            store.drop_job(&id, &existing.input_key)?;
        } else {
            let mut existing = existing;
            if check_same(&existing, input, rule)? == Same::Grown {
                // the old rows are as they were: the job goes on with the rows appended
                existing.input = input.info().clone();
                existing.state = JobState::Partial;
            }
            store.register_job(&existing)?; // creates column families added by newer versions
            return Ok(existing);
        }
    }
    let meta = JobMeta::fresh(id, key.to_owned(), input.info().clone(), rule.info(), rdkit_version(), now_unix());
    store.register_job(&meta)?;
    Ok(meta)
}

/// How a job's input compares with what the job was made from.
#[derive(Debug, PartialEq, Eq)]
enum Same {
    /// The same rows.
    Rows,
    /// The same rows, then more (appended to a text file).
    Grown,
}

fn check_same(job: &JobMeta, input: &InputFile, rule: &Rule) -> Result<Same> {
    let mismatch = |what, detail: String| Err(IngestError::Mismatch { job: job.id.clone(), what, detail }.into());
    let (old, new) = (&job.input, input.info());
    let mut same = Same::Rows;
    if !old.same_rows(new) && job.rule.hash == rule.hash && input.extends(old)? {
        same = Same::Grown;
    } else if !old.same_rows(new) {
        return mismatch(
            "the input",
            format!(
                "was {} rows, size {}, fingerprint {:016x}; now {} rows, size {}, fingerprint {:016x}",
                old.rows, old.size, old.footer_hash, new.rows, new.size, new.footer_hash
            ),
        );
    }
    if !old.same_columns(new) {
        let was = format!("smiles {:?}, id {:?}, carry {:?}", old.smiles_column, old.id_column, old.carry_columns);
        return mismatch("the input columns", format!("were {was}"));
    }
    if job.rule.hash != rule.hash {
        return mismatch("the rule definition", format!("smirks was {:?}, now {:?}", job.rule.smirks, rule.def.smirks));
    }
    Ok(same)
}
