//! Typed errors of the library, one enum per subsystem, gathered in [`Error`].
//!
//! Every variant carries the context a user needs (which file, which rule, which column) and,
//! where another library failed, that library's error as its `source`. The enums are
//! `#[non_exhaustive]`: new failure kinds can be added without breaking a `match`. The binary
//! adds its own context with `anyhow`; the library never panics on bad input.

use std::path::PathBuf;

use thiserror::Error;

/// RDKit-level failures. RDKit reports them as C++ exception messages, kept as text.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ChemError {
    /// The SMILES does not parse (syntax, or an embedded NUL byte).
    #[error("cannot parse SMILES {smiles:?}: {reason}")]
    Parse {
        /// The SMILES as given.
        smiles: String,
        /// RDKit's message.
        reason: String,
    },
    /// The SMILES parses but the molecule cannot be sanitized (valence, kekulization).
    #[error("cannot sanitize molecule {smiles:?}: {reason}")]
    Sanitize {
        /// The SMILES as given.
        smiles: String,
        /// RDKit's message.
        reason: String,
    },
    /// A SMARTS or reaction SMARTS is not valid, or not a single-reactant reaction.
    #[error("invalid SMARTS {smarts:?}: {reason}")]
    Smarts {
        /// The SMARTS as given.
        smarts: String,
        /// RDKit's message, or what is wrong with the reaction's shape.
        reason: String,
    },
    /// Any other exception RDKit raised (its message).
    #[error("RDKit error: {0}")]
    Rdkit(String),
}

/// Problems with the rule file.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RuleError {
    /// The rule file cannot be read.
    #[error("cannot read rule file {path}: {source}")]
    Io {
        /// The rule file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The rule file is well-formed YAML but not a valid rule file (e.g. its version).
    #[error("rule file {path} is not valid: {reason}")]
    Format {
        /// The rule file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The rule file does not parse as a rule file (YAML syntax, unknown or missing fields).
    #[error("rule file {path} is not valid YAML for a rule file: {source}")]
    Yaml {
        /// The rule file.
        path: PathBuf,
        /// The YAML parser's error.
        source: serde_yaml_ng::Error,
    },
    /// One rule is invalid (its SMARTS, its site cap).
    #[error("rule {rule}: {reason}")]
    Invalid {
        /// The rule's name.
        rule: String,
        /// What is wrong.
        reason: String,
    },
    /// No rule of this name.
    #[error("unknown rule {name:?}; known rules: {known}")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The names that exist, comma-separated.
        known: String,
    },
}

/// Problems with an input file.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum InputError {
    /// The input cannot be opened or read.
    #[error("cannot open input {path}: {source}")]
    Open {
        /// The input file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The input is not a Parquet file this build can read (footer, schema).
    #[error("{path} is not a readable Parquet file: {source}")]
    Parquet {
        /// The input file.
        path: PathBuf,
        /// The Parquet reader's error.
        source: parquet::errors::ParquetError,
    },
    /// Rows of the input cannot be decoded (a damaged page, say).
    #[error("{path}: reading rows from {row}: {source}")]
    Read {
        /// The input file.
        path: PathBuf,
        /// First row of the batch being decoded.
        row: u64,
        /// The Arrow reader's error.
        source: arrow_schema::ArrowError,
    },
    /// A decoded batch lacks a column the file's schema has (a reader defect, not bad input).
    #[error("{path}: column {column:?} missing from a record batch")]
    MissingInBatch {
        /// The input file.
        path: PathBuf,
        /// The column.
        column: String,
    },
    /// The input has no column of that name.
    #[error("{path} has no column {column:?}; columns are: {available}")]
    MissingColumn {
        /// The input file.
        path: PathBuf,
        /// The column asked for.
        column: String,
        /// The columns that exist, comma-separated.
        available: String,
    },
    /// The column has a type that cannot hold SMILES (or ids, or carried text).
    #[error("{path}: column {column:?} has type {found}, expected a string column")]
    ColumnType {
        /// The input file.
        path: PathBuf,
        /// The column.
        column: String,
        /// Its type, or why it cannot be used.
        found: String,
    },
    /// The input's format cannot be read as asked (an unknown extension, a folder of other
    /// files, a glob matching nothing, a split export that does not match its manifest).
    #[error("{path}: {reason}")]
    Format {
        /// The input.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A text input cannot be read past a row (a truncated or damaged gzip stream, an I/O
    /// error, a CSV quoting error).
    #[error("{path}: cannot read past row {row}: {source}")]
    Decode {
        /// The input file.
        path: PathBuf,
        /// Rows read before the error.
        row: u64,
        /// The decoder's or the OS error.
        source: std::io::Error,
    },
    /// A job input (`job:<ID>`) cannot be read: no such job, or it is not complete.
    #[error("input {spec}: {reason}")]
    Upstream {
        /// The input as given.
        spec: String,
        /// What is wrong.
        reason: String,
    },
    /// The input holds no rows.
    #[error("{path} contains no rows")]
    Empty {
        /// The input file.
        path: PathBuf,
    },
}

/// Problems with the store (RocksDB and the value codec).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// RocksDB failed (including a checksum mismatch: a damaged file).
    #[error("store {path}: {context}: {source}")]
    Db {
        /// The store's folder.
        path: PathBuf,
        /// What was being done.
        context: &'static str,
        /// RocksDB's error.
        source: rocksdb::Error,
    },
    /// A file operation on the store's folder failed (creating it, its lock file).
    #[error("store {path}: {context}: {source}")]
    Io {
        /// The store's folder.
        path: PathBuf,
        /// What was being done.
        context: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The store is not in a state this build can use (its meta column family is missing).
    #[error("store {path}: {context}: {reason}")]
    Invalid {
        /// The store's folder.
        path: PathBuf,
        /// What was being done.
        context: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The store was written in a layout this build does not read.
    #[error(
        "store {path} has format version {found}, this build reads version {expected}{}",
        if *found == 1 { " (version 1 encoded records with bincode, since replaced by postcard): ingest again into a new store" } else { "" }
    )]
    FormatVersion {
        /// The store's folder.
        path: PathBuf,
        /// The store's format version.
        found: u32,
        /// The version this build reads.
        expected: u32,
    },
    /// A stored value does not decode.
    #[error("corrupt value in store ({what}): {reason}")]
    Codec {
        /// Which value (its key, or the record's name).
        what: String,
        /// The decoder's message.
        reason: String,
    },
    /// Another process is writing to the store.
    #[error("store {path} is locked by pid {} (an ingest is running); read-only commands (status, query, export) still work", pid.map(|p| p.to_string()).unwrap_or_else(|| "?".into()))]
    Locked {
        /// The store's folder.
        path: PathBuf,
        /// The writer's pid, when its lock file names it.
        pid: Option<u32>,
    },
    /// The store's own records disagree with RocksDB's view of its files (e.g. a MANIFEST cut
    /// short): nothing was opened for writing, so nothing was deleted.
    #[error(
        "store {path} is damaged: {} ({} problem(s){}); refused to open it for writing, nothing was written or deleted. \
         Restore the store from a copy, or see `xfstore verify --store {path}`",
        damage.first().map(ToString::to_string).unwrap_or_default(),
        damage.len(),
        if *unlisted_files > 0 { format!("; {unlisted_files} .sst file(s) in the folder that RocksDB no longer lists") } else { String::new() }
    )]
    Damaged {
        /// The store's folder.
        path: PathBuf,
        /// What disagrees.
        damage: Vec<crate::store::Damage>,
        /// `.sst` files in the folder RocksDB's view does not list (the lost data, when many).
        unlisted_files: usize,
    },
    /// There is no store at this path.
    #[error("no store at {path} (run `xfstore ingest` first)")]
    Missing {
        /// The path given.
        path: PathBuf,
    },
    /// No job with this id (or for this rule) in the store.
    #[error("no job {job:?} in store; jobs: {known}")]
    UnknownJob {
        /// The job id or rule name asked for.
        job: String,
        /// The jobs that exist, comma-separated.
        known: String,
    },
}

/// Refusals of an ingest run.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum IngestError {
    /// Resuming a job whose input, columns or rule changed since it started.
    #[error(
        "job {job}: {what} changed since the job started ({detail}); rerun with --restart to start the job afresh"
    )]
    Mismatch {
        /// The job id.
        job: String,
        /// What changed (the input file, its columns, the rule definition).
        what: &'static str,
        /// Before and after.
        detail: String,
    },
    /// The store's keys were canonicalized by another RDKit than the one linked.
    #[error("store was built with RDKit {store}, this binary links RDKit {linked}: canonical SMILES may differ")]
    RdkitVersion {
        /// The store's RDKit version.
        store: String,
        /// The linked RDKit version.
        linked: String,
    },
    /// An input key (`--name`, a campaign's stream) that cannot name jobs.
    #[error("input key {key:?} cannot name jobs: it must be non-empty text without NUL")]
    BadKey {
        /// The key given.
        key: String,
    },
    /// No rule was given.
    #[error("no rule given: pass --rule NAME (repeatable)")]
    NoRule,
    /// A property filter cannot run as asked.
    #[error("keep {keep:?}: {reason}")]
    Keep {
        /// The filter.
        keep: String,
        /// Why not.
        reason: &'static str,
    },
    /// A recorded product stream (the writer benchmark's input) could not be written or read.
    #[error("product stream {path}: {detail}")]
    Stream {
        /// The stream file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The writer thread failed or panicked (its message).
    #[error("writer thread failed: {0}")]
    Writer(String),
    /// The memory budget is below what the store's column families need
    /// ([`crate::MemoryBudget::check_families`]).
    #[error("{0}")]
    Budget(String),
}

/// Problems while exporting.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ExportError {
    /// A file operation failed.
    #[error("export to {path}: {context}: {source}")]
    Io {
        /// The destination.
        path: PathBuf,
        /// What was being done.
        context: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The Parquet writer failed.
    #[error("export to {path}: Parquet writer: {source}")]
    Parquet {
        /// The destination (or part file).
        path: PathBuf,
        /// The Parquet writer's error.
        source: parquet::errors::ParquetError,
    },
    /// A record batch of the export's columns could not be built.
    #[error("export to {path}: building a record batch: {source}")]
    Arrow {
        /// The destination (or part file).
        path: PathBuf,
        /// Arrow's error.
        source: arrow_schema::ArrowError,
    },
    /// The CSV writer failed.
    #[error("export to {path}: CSV writer: {source}")]
    Csv {
        /// The destination.
        path: PathBuf,
        /// arrow-csv's error.
        source: arrow_schema::ArrowError,
    },
    /// A written or checked file is not a complete, valid export.
    #[error("export to {path} failed validation: {reason}")]
    Validation {
        /// The file or folder checked.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The job is not complete and `allow_incomplete` was not given.
    #[error(
        "job {job} is not complete (row {done} of {total} committed): the export would hold only part of it; \
         finish the ingest first, or pass --allow-incomplete"
    )]
    Incomplete {
        /// The job id.
        job: String,
        /// Input rows committed.
        done: u64,
        /// Input rows in all.
        total: u64,
    },
}

/// Any library error.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// See [`ChemError`].
    #[error(transparent)]
    Chem(#[from] ChemError),
    /// See [`RuleError`].
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// See [`InputError`].
    #[error(transparent)]
    Input(#[from] InputError),
    /// See [`StoreError`].
    #[error(transparent)]
    Store(#[from] StoreError),
    /// See [`ExportError`].
    #[error(transparent)]
    Export(#[from] ExportError),
    /// See [`IngestError`].
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// See [`CampaignError`].
    #[error(transparent)]
    Campaign(#[from] CampaignError),
    /// See [`PartitionError`].
    #[error(transparent)]
    Partition(#[from] PartitionError),
    /// Publishing a result (an export, a run folder's plan, unit or shard) failed: the file
    /// operation on `path` (the previous version, if any, is untouched).
    #[error("{path}: {context}: {source}")]
    Publish {
        /// The file or folder being published, or its temp copy.
        path: PathBuf,
        /// What was being done.
        context: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// Reading queries or writing results failed (e.g. a closed output pipe).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
}

/// A campaign file that cannot be used, or a campaign that cannot go on.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CampaignError {
    /// The file cannot be read.
    #[error("cannot read campaign {path}: {source}")]
    Io {
        /// The campaign file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid YAML or has unknown or missing fields.
    #[error("campaign {path}: {source}")]
    Yaml {
        /// The campaign file.
        path: PathBuf,
        /// The YAML parser's error.
        source: serde_yaml_ng::Error,
    },
    /// The file parses but does not make a campaign; every problem found, one per line.
    #[error("campaign {path} has {} problem(s); nothing was run:\n  - {}", problems.len(), problems.join("\n  - "))]
    Invalid {
        /// The campaign file.
        path: PathBuf,
        /// Each problem.
        problems: Vec<String>,
    },
    /// A campaign export cannot be written as asked (jobs missing or not complete).
    #[error("campaign export: {reason}")]
    Export {
        /// Why.
        reason: String,
    },
}

/// A partitioned run (`plan` / `map` / `reduce`, a sharded store) that cannot go on.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PartitionError {
    /// A file or folder of the run cannot be read or written.
    #[error("partitioned run {path}: {context}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What was being done.
        context: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The plan (`plan.json`) is missing, unreadable, or made by another build.
    #[error("partitioned run {path}: {reason}")]
    Plan {
        /// The run folder.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A run file of a map step is damaged or not what its done marker says.
    #[error("run file {path}: {reason}")]
    RunFile {
        /// The run file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A step was asked for before the steps it needs finished (a reduce before every map).
    #[error("partitioned run {path}: {reason}")]
    NotReady {
        /// The run folder.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// A unit or partition number outside the plan.
    #[error("partitioned run {path}: {what} {index} is not in the plan (0..{count})")]
    OutOfRange {
        /// The run folder.
        path: PathBuf,
        /// `unit` or `partition`.
        what: &'static str,
        /// The number asked for.
        index: u32,
        /// How many the plan has.
        count: u32,
    },
    /// A unit's products do not fit the memory the map step may use.
    #[error("partitioned run {path}: unit {unit} holds {bytes} bytes of products, over the map's limit of {limit}; plan again with a smaller --unit-rows (or a larger --memory-budget)")]
    UnitTooLarge {
        /// The run folder.
        path: PathBuf,
        /// The unit.
        unit: u32,
        /// Bytes held when the limit was passed.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// A Parquet run file could not be written or read.
    #[error("run file {path}: {source}")]
    Parquet {
        /// The run file.
        path: PathBuf,
        /// The Parquet library's error.
        source: parquet::errors::ParquetError,
    },
}

/// Result alias for the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;
