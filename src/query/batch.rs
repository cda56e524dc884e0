//! Batch lookups from a query file (`.smi`: one SMILES per line, optionally followed by
//! whitespace and an id; blank lines and `#` comments skipped), streamed in chunks so memory
//! stays bounded, canonicalized in parallel on the rayon pool, printed in input order.

use std::io::BufRead;

use rayon::prelude::*;

use super::{lookup, QueryOutcome};
use crate::error::{Error, Result};
use crate::reader::Reader;
use crate::store::JobMeta;

/// Queries canonicalized and looked up together.
pub const CHUNK: usize = 4096;

/// One query: a SMILES and an optional id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The SMILES, any spelling.
    pub smiles: String,
    /// The query's id, echoed in its outcome.
    pub id: Option<String>,
}

/// Parses one line of a query file; None for blank lines and comments.
pub fn parse_query_line(line: &str) -> Option<Query> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut parts = line.splitn(2, char::is_whitespace);
    let smiles = parts.next()?.to_owned();
    let id = parts.next().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    Some(Query { smiles, id })
}

/// Looks one query up; the outcome carries the query's id.
pub fn lookup_query(store: &Reader, jobs: &[JobMeta], q: &Query) -> Result<QueryOutcome> {
    lookup(store, jobs, &q.smiles).map(|o| o.with_id(q.id.clone()))
}

/// Looks up every query read from `reader`, calling `emit` per outcome in input order.
/// `parallel` spreads each chunk over the rayon pool. Returns the number of queries; stops at
/// the first error of `emit` (e.g. a closed output pipe).
pub fn lookup_stream(
    store: &Reader,
    jobs: &[JobMeta],
    reader: impl BufRead,
    parallel: bool,
    mut emit: impl FnMut(QueryOutcome) -> std::io::Result<()>,
) -> Result<u64> {
    let mut chunk: Vec<Query> = Vec::with_capacity(CHUNK);
    let mut total = 0u64;
    let mut flush = |chunk: &mut Vec<Query>| -> Result<()> {
        let run = |q: &Query| lookup_query(store, jobs, q);
        let outcomes: Vec<Result<QueryOutcome>> =
            if parallel { chunk.par_iter().map(run).collect() } else { chunk.iter().map(run).collect() };
        for o in outcomes {
            emit(o?).map_err(|source| Error::Io { context: "writing query results", source })?;
        }
        chunk.clear();
        Ok(())
    };
    for line in reader.lines() {
        let line = line.map_err(|source| Error::Io { context: "reading queries", source })?;
        if let Some(q) = parse_query_line(&line) {
            chunk.push(q);
            total += 1;
            if chunk.len() == CHUNK {
                flush(&mut chunk)?;
            }
        }
    }
    flush(&mut chunk)?;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_lines() {
        assert_eq!(parse_query_line("  "), None);
        assert_eq!(parse_query_line("# comment"), None);
        assert_eq!(parse_query_line("CCO"), Some(Query { smiles: "CCO".into(), id: None }));
        assert_eq!(
            parse_query_line("c1ccccc1O\tphenol 1"),
            Some(Query { smiles: "c1ccccc1O".into(), id: Some("phenol 1".into()) })
        );
    }
}
