//! Reads for users: `xfstore query` looks products up by any SMILES spelling (canonicalized with
//! the same RDKit settings as ingest) across the selected jobs, one at a time or as a streamed
//! batch (`batch.rs`); `xfstore status` (`status.rs`).
//!
//! Embedding the store in another Rust program: see the crate documentation.

mod batch;
mod format;
mod json;
mod lineage;
mod status;

pub use batch::{lookup_query, lookup_stream, parse_query_line, Query};

pub use format::to_text;
pub use json::{status_document, status_json, status_summary, to_json_line};
pub use lineage::{
    descendants, descendants_batch, lineage, lineage_batch, Descendant, Descendants, Lineage, LineagePath, LineageStep,
    RootRow, DEFAULT_MAX_PATHS,
};
pub use status::{status, JobStatus, RunState, StoreStatus};

use std::collections::BTreeSet;

use crate::chem::canonicalize;
use crate::error::{Result, StoreError};
use crate::reader::Reader;
use crate::store::{JobMeta, ProductRecord};

/// One stored product matching a query, in one job.
#[derive(Debug, Clone)]
pub struct Hit {
    /// Canonical SMILES of the product.
    pub smiles: String,
    /// Job id.
    pub job: String,
    /// Rule name of the job.
    pub rule: String,
    /// Rule label, e.g. `OH->OMe`.
    pub label: String,
    /// The stored record: first provenance, occurrences, properties.
    pub record: ProductRecord,
}

/// Outcome of one query SMILES.
#[derive(Debug, Clone)]
pub enum QueryOutcome {
    /// The product is in at least one selected job.
    Found {
        /// The query as given.
        query: String,
        /// The query's id, if it had one.
        id: Option<String>,
        /// Canonical SMILES of the query.
        canonical: String,
        /// One hit per job holding the product.
        hits: Vec<Hit>,
    },
    /// The query parses but is in none of the selected jobs.
    NotFound {
        /// The query as given.
        query: String,
        /// The query's id, if it had one.
        id: Option<String>,
        /// Canonical SMILES of the query.
        canonical: String,
    },
    /// The query does not parse.
    Invalid {
        /// The query as given.
        query: String,
        /// The query's id, if it had one.
        id: Option<String>,
        /// RDKit's message.
        error: String,
    },
}

impl QueryOutcome {
    /// Whether the product was found.
    pub fn is_found(&self) -> bool {
        matches!(self, QueryOutcome::Found { .. })
    }

    fn with_id(mut self, new_id: Option<String>) -> Self {
        match &mut self {
            QueryOutcome::Found { id, .. } | QueryOutcome::NotFound { id, .. } | QueryOutcome::Invalid { id, .. } => {
                *id = new_id
            }
        }
        self
    }
}

impl Reader {
    /// Looks a SMILES (any spelling) up in every job of the store, the partitioned run or the
    /// partitioned campaign ([`lookup`] over all of [`Reader::jobs`]).
    pub fn lookup(&self, smiles: &str) -> Result<QueryOutcome> {
        lookup(self, &self.jobs()?, smiles)
    }
}

/// Jobs selected by an optional job id and/or rule name (all jobs when both are None).
pub fn select_jobs(store: &Reader, job: Option<&str>, rule: Option<&str>) -> Result<Vec<JobMeta>> {
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

fn hit(job: &JobMeta, smiles: String, record: ProductRecord) -> Hit {
    Hit { smiles, job: job.id.clone(), rule: job.rule.name.clone(), label: job.rule.label.clone(), record }
}

/// Lists the products made from a parent (any spelling), via the parent index of `jobs`: per
/// job, in product key order (a partitioned folder's shards each index the links of their
/// own products, so every shard is asked and the job's hits sorted).
pub fn products_of_parent(store: &Reader, jobs: &[JobMeta], parent: &str) -> Result<QueryOutcome> {
    search(parent, |canonical, hits| {
        for job in jobs {
            let mut mine = Vec::new();
            for shard in store.stores_of(&job.id)? {
                for product in shard.products_of_parent(&job.id, canonical)? {
                    if let Some(record) = shard.product(&job.id, &product)? {
                        mine.push(hit(job, product, record));
                    }
                }
            }
            mine.sort_by(|a, b| a.smiles.cmp(&b.smiles));
            hits.extend(mine);
        }
        Ok(())
    })
}

/// Looks one SMILES up in `jobs` (in a partitioned folder, in the shard of its partition):
/// only in the jobs the key index names, or in every job of a store without one.
///
/// A query spelled exactly as a stored key (an exported product's SMILES, the usual join) is
/// that product: it is answered from the key index without RDKit, whose canonicalization is
/// ~70% of a lookup's CPU on natural products. The answer is the one canonicalizing gives
/// whenever canonicalization is idempotent on stored keys (it was on 34,814 keys sampled from
/// the 390 jobs of the natural campaign); where it is not, the stored product is found, where
/// canonicalizing its key again would have missed it.
pub fn lookup(store: &Reader, jobs: &[JobMeta], query: &str) -> Result<QueryOutcome> {
    let holding = if query.is_empty() || query.contains('\0') { None } else { store.jobs_holding(query)? };
    if let Some(holding) = holding.filter(|h| !h.is_empty()) {
        let mut hits = Vec::new();
        collect_hits(store, jobs, Some(&holding), query, &mut hits)?;
        if !hits.is_empty() {
            return Ok(QueryOutcome::Found { query: query.to_owned(), id: None, canonical: query.to_owned(), hits });
        }
    }
    search(query, |canonical, hits| collect_hits(store, jobs, store.jobs_holding(canonical)?.as_ref(), canonical, hits))
}

/// The hits of the key `canonical` in `jobs`, asking only those in `holding` (the key index's
/// answer; every job when None).
fn collect_hits(
    store: &Reader,
    jobs: &[JobMeta],
    holding: Option<&BTreeSet<String>>,
    canonical: &str,
    hits: &mut Vec<Hit>,
) -> Result<()> {
    for job in jobs {
        if holding.is_some_and(|h| !h.contains(&job.id)) {
            continue;
        }
        if let Some(record) = store.product(&job.id, canonical)? {
            hits.push(hit(job, canonical.to_owned(), record));
        }
    }
    Ok(())
}

/// Canonicalizes `query` (an unparsable query is an `Invalid` outcome, not an error), lets
/// `find` collect hits for the canonical SMILES, and wraps them in an outcome.
fn search(query: &str, find: impl FnOnce(&str, &mut Vec<Hit>) -> Result<()>) -> Result<QueryOutcome> {
    let canonical = match canonicalize(query) {
        Ok(c) => c,
        Err(e) => return Ok(QueryOutcome::Invalid { query: query.to_owned(), id: None, error: e.to_string() }),
    };
    let mut hits = Vec::new();
    find(&canonical, &mut hits)?;
    Ok(if hits.is_empty() {
        QueryOutcome::NotFound { query: query.to_owned(), id: None, canonical }
    } else {
        QueryOutcome::Found { query: query.to_owned(), id: None, canonical, hits }
    })
}
