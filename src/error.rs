//! Typed errors of the library, one enum per subsystem, gathered in [`Error`].
//!
//! Every variant carries the context a user needs (which file, which rule, which column).
//! The binary adds its own context with `anyhow`; the library never panics on bad input.

use std::path::PathBuf;

use thiserror::Error;

/// RDKit-level failures.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ChemError {
    #[error("cannot parse SMILES {smiles:?}: {reason}")]
    Parse { smiles: String, reason: String },
    #[error("cannot sanitize molecule {smiles:?}: {reason}")]
    Sanitize { smiles: String, reason: String },
    #[error("invalid SMARTS {smarts:?}: {reason}")]
    Smarts { smarts: String, reason: String },
    #[error("RDKit error: {0}")]
    Rdkit(String),
}

/// Problems with the rule file.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RuleError {
    #[error("cannot read rule file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("rule file {path} is not valid: {reason}")]
    Format { path: PathBuf, reason: String },
    #[error("rule file {path} is not valid YAML for a rule file: {source}")]
    Yaml { path: PathBuf, source: serde_yaml_ng::Error },
    #[error("rule {rule}: {reason}")]
    Invalid { rule: String, reason: String },
    #[error("unknown rule {name:?}; known rules: {known}")]
    Unknown { name: String, known: String },
}

/// Problems with an input file.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum InputError {
    #[error("cannot open input {path}: {source}")]
    Open { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a readable Parquet file: {source}")]
    Parquet { path: PathBuf, source: parquet::errors::ParquetError },
    #[error("{path}: reading rows from {row}: {source}")]
    Read { path: PathBuf, row: u64, source: arrow_schema::ArrowError },
    #[error("{path}: column {column:?} missing from a record batch")]
    MissingInBatch { path: PathBuf, column: String },
    #[error("{path} has no column {column:?}; columns are: {available}")]
    MissingColumn { path: PathBuf, column: String, available: String },
    #[error("{path}: column {column:?} has type {found}, expected a string column")]
    ColumnType { path: PathBuf, column: String, found: String },
    #[error("{path} contains no rows")]
    Empty { path: PathBuf },
}

/// Problems with the store (RocksDB and the value codec).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("store {path}: {context}: {source}")]
    Db { path: PathBuf, context: &'static str, source: rocksdb::Error },
    #[error("store {path}: {context}: {source}")]
    Io { path: PathBuf, context: &'static str, source: std::io::Error },
    #[error("store {path}: {context}: {reason}")]
    Invalid { path: PathBuf, context: &'static str, reason: &'static str },
    #[error(
        "store {path} has format version {found}, this build reads version {expected}{}",
        if *found == 1 { " (version 1 encoded records with bincode, since replaced by postcard): ingest again into a new store" } else { "" }
    )]
    FormatVersion { path: PathBuf, found: u32, expected: u32 },
    #[error("corrupt value in store ({what}): {reason}")]
    Codec { what: String, reason: String },
    #[error("store {path} is locked by pid {} (an ingest is running); read-only commands (status, query, export) still work", pid.map(|p| p.to_string()).unwrap_or_else(|| "?".into()))]
    Locked { path: PathBuf, pid: Option<u32> },
    #[error("no store at {path} (run `xfstore ingest` first)")]
    Missing { path: PathBuf },
    #[error("no job {job:?} in store; jobs: {known}")]
    UnknownJob { job: String, known: String },
}

/// Refusals of an ingest run.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum IngestError {
    #[error(
        "job {job}: {what} changed since the job started ({detail}); rerun with --restart to start the job afresh"
    )]
    Mismatch { job: String, what: &'static str, detail: String },
    #[error("store was built with RDKit {store}, this binary links RDKit {linked}: canonical SMILES may differ")]
    RdkitVersion { store: String, linked: String },
    #[error("no rule given: pass --rule NAME (repeatable)")]
    NoRule,
    #[error("writer thread failed: {0}")]
    Writer(String),
}

/// Problems while exporting.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ExportError {
    #[error("export to {path}: {context}: {source}")]
    Io { path: PathBuf, context: &'static str, source: std::io::Error },
    #[error("export to {path}: Parquet writer: {source}")]
    Parquet { path: PathBuf, source: parquet::errors::ParquetError },
    #[error("export to {path}: building a record batch: {source}")]
    Arrow { path: PathBuf, source: arrow_schema::ArrowError },
    #[error("export to {path}: CSV writer: {source}")]
    Csv { path: PathBuf, source: arrow_schema::ArrowError },
    #[error("export to {path} failed validation: {reason}")]
    Validation { path: PathBuf, reason: String },
    #[error(
        "job {job} is not complete (row {done} of {total} committed): the export would hold only part of it; \
         finish the ingest first, or pass --allow-incomplete"
    )]
    Incomplete { job: String, done: u64, total: u64 },
}

/// Any library error.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Chem(#[from] ChemError),
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error("{context}: {source}")]
    Io { context: &'static str, source: std::io::Error },
}

/// Result alias for the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;
