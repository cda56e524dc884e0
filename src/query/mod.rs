//! Reads for users: `xfstore query` (look products up by any SMILES spelling (canonicalized with the same RDKit
//! settings as ingest) across the selected jobs) and `xfstore status` (`status.rs`).

mod format;
mod status;

use serde::Serialize;

pub use format::{to_json_line, to_text};
pub use status::{status, JobStatus, RunState, StoreStatus};

use crate::chem::canonicalize;
use crate::error::{Result, StoreError};
use crate::store::{JobMeta, ProductRecord, Store};

/// One stored product matching a query, in one job.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub job: String,
    pub rule: String,
    pub label: String,
    #[serde(flatten)]
    pub record: ProductRecord,
}

/// Outcome of one query SMILES.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum QueryOutcome {
    Found { query: String, canonical: String, hits: Vec<Hit> },
    NotFound { query: String, canonical: String },
    Invalid { query: String, error: String },
}

impl QueryOutcome {
    pub fn is_found(&self) -> bool {
        matches!(self, QueryOutcome::Found { .. })
    }
}

/// Jobs selected by an optional job id and/or rule name (all jobs when both are None).
pub fn select_jobs(store: &Store, job: Option<&str>, rule: Option<&str>) -> Result<Vec<JobMeta>> {
    let all = store.jobs()?;
    let known = || all.iter().map(|j| j.id.clone()).collect::<Vec<_>>().join(", ");
    let picked: Vec<JobMeta> = all
        .iter()
        .filter(|j| job.is_none_or(|id| j.id == id) && rule.is_none_or(|r| j.rule.name == r))
        .cloned()
        .collect();
    if picked.is_empty() && (job.is_some() || rule.is_some()) {
        let wanted = job.or(rule).unwrap_or_default().to_owned();
        return Err(StoreError::UnknownJob { job: wanted, known: known() }.into());
    }
    Ok(picked)
}

/// Looks one SMILES up in `jobs`.
pub fn lookup(store: &Store, jobs: &[JobMeta], query: &str) -> Result<QueryOutcome> {
    let canonical = match canonicalize(query) {
        Ok(c) => c,
        Err(e) => return Ok(QueryOutcome::Invalid { query: query.to_owned(), error: e.to_string() }),
    };
    let mut hits = Vec::new();
    for job in jobs {
        if let Some(record) = store.product(&job.id, &canonical)? {
            hits.push(Hit { job: job.id.clone(), rule: job.rule.name.clone(), label: job.rule.label.clone(), record });
        }
    }
    Ok(if hits.is_empty() {
        QueryOutcome::NotFound { query: query.to_owned(), canonical }
    } else {
        QueryOutcome::Found { query: query.to_owned(), canonical, hits }
    })
}
