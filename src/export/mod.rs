//! `xfstore export`: stream a job's products into a Parquet file (or a folder of Parquet parts,
//! or `.smi` / CSV text), atomically and validated.
//!
//! The scan reads a read-only (point-in-time) view of the store; rows are written in record
//! batches of `batch_rows` and row groups of `row_group_rows`, so memory is bounded by one row
//! group whatever the job's size. A single file goes through [`crate::publish::AtomicFile`]: fsync,
//! re-open and validate (footer, schema, row count), rename, fsync the folder. A split export
//! (`folder.rs`) is built in a temp folder and renamed into place as a whole.

mod columns;
pub(crate) mod folder;
pub(crate) mod part;
mod rejects;
mod sdf;
mod text;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{ExportError, Result};
use crate::publish::AtomicFile;
use crate::reader::Reader;
use crate::store::{JobMeta, JobState};
pub(crate) use columns::CampaignCols;
pub use columns::{check_schema, job_schema, Column, ColumnType, CAMPAIGN_COLUMNS, COLUMNS, INCHIKEY_COLUMNS};
pub use folder::{verify_folder, Manifest, MANIFEST};
pub use rejects::write_rejects;
pub use text::{TextFormat, TextReport};

/// Default for [`ExportOptions::row_group_rows`].
pub const DEFAULT_ROW_GROUP_ROWS: usize = 131_072;

/// Prefix of the provenance keys written in each Parquet export's footer (key-value metadata).
pub const PROVENANCE_PREFIX: &str = "xfstore.";

/// Where an export comes from, as (key, value) pairs for the Parquet footer: the xfstore and
/// RDKit builds, the job, its rule (name and SMIRKS), its input (path and fingerprint) and how
/// much of it was committed when the export's snapshot was taken.
pub fn provenance(job: &JobMeta) -> Vec<(String, String)> {
    let i = &job.input;
    [
        ("version", env!("CARGO_PKG_VERSION").to_owned()),
        ("rdkit_version", job.rdkit_version.clone()),
        ("job", job.id.clone()),
        ("rule", job.rule.name.clone()),
        ("rule_smirks", job.rule.smirks.clone()),
        ("input_path", i.path.clone()),
        ("input_fingerprint", format!("size={} rows={} footer_xxh3={:016x}", i.size, i.rows, i.footer_hash)),
        ("rows_done", job.offset.min(i.rows).to_string()),
        ("rows_total", i.rows.to_string()),
        ("complete", (job.state == JobState::Complete).to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (format!("{PROVENANCE_PREFIX}{k}"), v))
    .collect()
}

/// File formats of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Parquet (zstd), the default.
    Parquet,
    /// Text: CSV or SMILES.
    Text(TextFormat),
}

impl Format {
    /// From the output's extension: `.smi`, `.csv`, `.sdf`, `.sdf.gz`, anything else Parquet.
    pub fn from_path(path: &Path) -> Self {
        let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
        if name.ends_with(".sdf.gz") {
            return Format::Text(TextFormat::SdfGz);
        }
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("smi") => Format::Text(TextFormat::Smi),
            Some("csv") => Format::Text(TextFormat::Csv),
            Some("sdf") => Format::Text(TextFormat::Sdf),
            _ => Format::Parquet,
        }
    }
}

/// Export settings: [`ExportOptions::new`] and the chainable setters below, e.g.
/// `ExportOptions::new("out.parquet").split_rows(1_000_000)`.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Destination file or folder.
    pub(crate) output: PathBuf,
    /// File format (from the destination's extension by [`ExportOptions::new`]).
    pub(crate) format: Format,
    /// Rows per record batch handed to the writer.
    pub(crate) batch_rows: usize,
    /// Most rows per Parquet row group.
    pub(crate) row_group_rows: usize,
    /// A row group is also closed once its encoded size reaches this many bytes
    /// ([`crate::budget::MemoryBudget::row_group_bytes`]).
    pub(crate) row_group_bytes: usize,
    /// Split into a folder of parts of at most this many rows (0 = no limit).
    pub(crate) split_rows: u64,
    /// Split into a folder of parts of about this many bytes (0 = no limit).
    pub(crate) split_bytes: u64,
    /// Export a job that is not complete (its footer says so); refused otherwise.
    pub(crate) allow_incomplete: bool,
    /// Add the InChIKey columns ([`columns::INCHIKEY_COLUMNS`]).
    pub(crate) inchikey: bool,
    /// Products (and parents) whose InChIKey the library could not make, over every file written
    /// with these options.
    pub(crate) inchikey_failed: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl ExportOptions {
    /// Options for an export to `output`, the format from its extension.
    pub fn new(output: impl Into<PathBuf>) -> Self {
        let output = output.into();
        Self {
            format: Format::from_path(&output),
            output,
            batch_rows: 8192,
            row_group_rows: DEFAULT_ROW_GROUP_ROWS,
            row_group_bytes: crate::budget::MemoryBudget::default().row_group_bytes(),
            split_rows: 0,
            split_bytes: 0,
            allow_incomplete: false,
            inchikey: false,
            inchikey_failed: Default::default(),
        }
    }

    /// Add `inchikey` and `parent_inchikey` columns (standard InChIKeys from the IUPAC InChI
    /// library, computed as the products are written; the SMILES format has no columns and
    /// refuses it).
    pub fn inchikey(mut self, inchikey: bool) -> Self {
        self.inchikey = inchikey;
        self
    }

    /// InChIKeys the library could not make so far, over every file written with these
    /// options (a campaign export's files share them).
    pub fn inchikey_failed(&self) -> u64 {
        self.inchikey_failed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The InChIKey failure counter when the InChIKey columns are asked for.
    pub(crate) fn inchikey_counter(&self) -> Option<std::sync::Arc<std::sync::atomic::AtomicU64>> {
        self.inchikey.then(|| self.inchikey_failed.clone())
    }
    /// Rows per record batch handed to the writer.
    pub fn batch_rows(mut self, batch_rows: usize) -> Self {
        self.batch_rows = batch_rows;
        self
    }

    /// Most rows per Parquet row group.
    pub fn row_group_rows(mut self, row_group_rows: usize) -> Self {
        self.row_group_rows = row_group_rows;
        self
    }

    /// Closes a row group once its encoded size reaches this many bytes ([`crate::budget::MemoryBudget::row_group_bytes`]).
    pub fn row_group_bytes(mut self, row_group_bytes: usize) -> Self {
        self.row_group_bytes = row_group_bytes;
        self
    }

    /// Split into a folder of parts of at most this many rows (0 = no limit).
    pub fn split_rows(mut self, split_rows: u64) -> Self {
        self.split_rows = split_rows;
        self
    }

    /// Split into a folder of parts of about this many bytes (0 = no limit).
    pub fn split_bytes(mut self, split_bytes: u64) -> Self {
        self.split_bytes = split_bytes;
        self
    }

    /// Whether to export a job that is not complete (its footer says so); refused otherwise.
    pub fn allow_incomplete(mut self, allow_incomplete: bool) -> Self {
        self.allow_incomplete = allow_incomplete;
        self
    }

    /// Whether the export is one Parquet file or folder, not split into parts: what a
    /// partitioned job can write as one part per shard.
    pub fn is_unsplit_parquet(&self) -> bool {
        self.format == Format::Parquet && self.split_rows == 0 && self.split_bytes == 0
    }
}

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct ExportReport {
    /// Rows written.
    pub rows: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Number of files written (more than one for a split export).
    pub files: usize,
    /// Wall-clock seconds.
    pub elapsed_secs: f64,
    /// Whether the job was complete in the snapshot exported.
    pub complete: bool,
    /// InChIKeys (of products and of their first parents) the library could not make, left
    /// null (`--inchikey`; 0 otherwise).
    pub inchikey_failed: u64,
}

/// Exports all products of `job` to `opts.output`.
///
/// `job` is the job's metadata as read from `store` (the same snapshot); a job that is not
/// complete is refused unless [`ExportOptions::allow_incomplete`]. A partitioned job's shards
/// are merged in key order: the file is the one a single store's export of the same products
/// writes.
pub fn export(store: &Reader, job: &JobMeta, opts: &ExportOptions) -> Result<ExportReport> {
    let started = Instant::now();
    let dest = &opts.output;
    store.stores_of(&job.id)?; // a partitioned job: every shard reduced, or the shard that is not
    let complete = check_complete(job, opts)?;
    let report = |rows, bytes, files| ExportReport {
        rows,
        bytes,
        files,
        elapsed_secs: started.elapsed().as_secs_f64(),
        complete,
        inchikey_failed: opts.inchikey_failed.load(std::sync::atomic::Ordering::Relaxed),
    };
    if let Format::Text(f) = opts.format {
        if opts.inchikey && f == TextFormat::Smi {
            return Err(ExportError::Validation {
                path: dest.clone(),
                reason: "--inchikey: a SMILES file has no columns; export Parquet, CSV or SDF".into(),
            }
            .into());
        }
        let keys = opts.inchikey_counter();
        let rows = match f {
            TextFormat::Sdf | TextFormat::SdfGz => sdf::export_sdf(store, job, dest, f == TextFormat::SdfGz, keys)?,
            _ => text::export_text(store, job, dest, f, keys)?,
        };
        let bytes = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
        return Ok(report(rows, bytes, 1));
    }
    if opts.split_rows > 0 || opts.split_bytes > 0 {
        let parts = folder::export_folder(store, job, opts)?;
        let (rows, bytes) = parts.iter().fold((0, 0), |(r, b), p| (r + p.rows, b + p.bytes));
        return Ok(report(rows, bytes, parts.len()));
    }
    let (rows, bytes) = write_one_file(store, job, opts, None)?;
    Ok(report(rows, bytes, 1))
}

/// The job's products as one Parquet file at `opts.output` (atomically, validated); with the
/// columns of a campaign dataset when `campaign` is given. (Rows, bytes).
fn write_one_file(
    store: &Reader,
    job: &JobMeta,
    opts: &ExportOptions,
    campaign: Option<&CampaignCols<'_>>,
) -> Result<(u64, u64)> {
    let dest = &opts.output;
    let (target, file) = AtomicFile::create(dest)?;
    let tmp = target.temp_path().to_owned();
    let parts = part::write_parts(store.scan_from(&job.id, &[])?, job, opts, Some(file), |_| tmp.clone(), campaign)?;
    let rows = parts.iter().map(|p| p.rows).sum();
    // the part was already fsynced and validated against its own row count
    target.commit(|_| Ok(()))?;
    Ok((rows, std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0)))
}

/// Exports `job` as one file of a campaign's Parquet dataset (`campaign`: its columns).
pub(crate) fn export_in_campaign(
    store: &Reader,
    job: &JobMeta,
    opts: &ExportOptions,
    campaign: &CampaignCols<'_>,
) -> Result<ExportReport> {
    let started = Instant::now();
    store.stores_of(&job.id)?;
    let complete = check_complete(job, opts)?;
    let (rows, bytes) = write_one_file(store, job, opts, Some(campaign))?;
    Ok(ExportReport {
        rows,
        bytes,
        files: 1,
        elapsed_secs: started.elapsed().as_secs_f64(),
        complete,
        inchikey_failed: opts.inchikey_failed.load(std::sync::atomic::Ordering::Relaxed),
    })
}

/// Exports a partitioned job as a folder of one validated Parquet part per shard (its products
/// of the job, no merge) plus `manifest.json` (`opts.output`), published as a whole; for a
/// store, the one part of its products. Every shard must be reduced.
pub fn export_shard_parts(store: &Reader, job: &JobMeta, opts: &ExportOptions) -> Result<ExportReport> {
    let started = Instant::now();
    let shards = store.stores_of(&job.id)?;
    let complete = check_complete(job, opts)?;
    let parts = folder::export_shards(&shards, job, opts)?;
    Ok(ExportReport {
        rows: parts.iter().map(|p| p.rows).sum(),
        bytes: parts.iter().map(|p| p.bytes).sum(),
        files: parts.len(),
        elapsed_secs: started.elapsed().as_secs_f64(),
        complete,
        inchikey_failed: opts.inchikey_failed.load(std::sync::atomic::Ordering::Relaxed),
    })
}

/// Whether `job` is complete; an error if not, unless the options allow it.
fn check_complete(job: &JobMeta, opts: &ExportOptions) -> Result<bool> {
    let complete = job.state == JobState::Complete;
    if !complete && !opts.allow_incomplete {
        return Err(ExportError::Incomplete { job: job.id.clone(), done: job.offset, total: job.input.rows }.into());
    }
    Ok(complete)
}

/// A job's products as Arrow record batches of the export schema ([`job_schema`]), in key
/// order, `batch_rows` at a time: what an export writes, for a program to read directly (the
/// Python module's `Store.products`, through the Arrow C stream interface). It owns its store,
/// so it can outlive the caller's borrow; each batch resumes the scan after the last key, on the
/// read-only store's point-in-time view.
pub struct ProductBatches {
    store: std::sync::Arc<Reader>,
    job: JobMeta,
    schema: arrow_schema::SchemaRef,
    batch_rows: usize,
    /// The key to resume from (the last key read, plus a NUL byte: the next possible key).
    next: Option<Vec<u8>>,
    /// With the InChIKey columns: the count of keys the library could not make (left null).
    inchikeys: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
}

impl ProductBatches {
    /// Batches of `job`'s products from `store`.
    pub fn new(store: std::sync::Arc<Reader>, job: JobMeta, batch_rows: usize) -> Self {
        let schema = job_schema(&job.input.carry_columns);
        Self { store, job, schema, batch_rows: batch_rows.max(1), next: Some(Vec::new()), inchikeys: None }
    }

    /// With `inchikey` and `parent_inchikey` columns (as `export --inchikey`).
    pub fn with_inchikeys(mut self) -> Self {
        let failed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        self.schema = columns::ColumnsBuilder::new(&self.job).inchikeys(Some(failed.clone())).schema();
        self.inchikeys = Some(failed);
        self
    }

    /// The batches' schema.
    pub fn schema(&self) -> arrow_schema::SchemaRef {
        self.schema.clone()
    }

    fn next_batch(&mut self, from: &[u8]) -> Result<Option<arrow_array::RecordBatch>> {
        let mut cols = columns::ColumnsBuilder::new(&self.job).inchikeys(self.inchikeys.clone());
        let mut last = None;
        for item in self.store.scan_from(&self.job.id, from)?.take(self.batch_rows) {
            let (smiles, rec) = item?;
            cols.push(&smiles, &rec);
            last = Some(smiles);
        }
        let Some(last) = last else { return Ok(None) };
        self.next = (cols.len() == self.batch_rows).then(|| {
            let mut k = last.into_bytes();
            k.push(0);
            k
        });
        let batch = cols.finish().map_err(|source| ExportError::Arrow { path: PathBuf::from(&self.job.id), source })?;
        Ok(Some(batch))
    }
}

impl Iterator for ProductBatches {
    type Item = Result<arrow_array::RecordBatch, arrow_schema::ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let from = self.next.take()?;
        self.next_batch(&from).map_err(|e| arrow_schema::ArrowError::ExternalError(Box::new(e))).transpose()
    }
}

/// Checks a CSV, `.smi` or SDF (`sdf.rs`) export by its own rules, streaming (memory does not
/// grow with the file): CSV has the export's header (the fixed columns, then only `source_*` columns) and
/// every record has the header's number of fields with balanced quotes; `.smi` has exactly
/// `SMILES<TAB>id` on every line. Both end with a line break (a cut file does not).
pub fn verify_text(path: &Path, format: TextFormat) -> Result<TextReport, ExportError> {
    match format {
        TextFormat::Sdf | TextFormat::SdfGz => sdf::verify_sdf(path),
        _ => text::verify_lines(path, format),
    }
}

/// Re-opens a written file and checks footer, schema and row count; returns the row count.
pub fn validate_file(path: &Path) -> Result<u64, ExportError> {
    let invalid = |reason: String| ExportError::Validation { path: path.into(), reason };
    let file = File::open(path).map_err(|source| ExportError::Io { path: path.into(), context: "open", source })?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| invalid(format!("unreadable footer: {e}")))?;
    check_schema(builder.schema()).map_err(invalid)?;
    Ok(u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0))
}

/// What `xfstore verify` found in a file.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// Rows, from the footer.
    pub rows: u64,
    /// Row groups.
    pub row_groups: usize,
    /// (name, Arrow type) of every column.
    pub columns: Vec<(String, String)>,
    /// The export's provenance from its footer ([`provenance`]; empty for files written before
    /// it was recorded).
    pub provenance: Vec<(String, String)>,
}

/// Validates an exported file: footer, schema, row count; with `full`, also decodes every row
/// and checks the decoded count equals the footer's.
pub fn verify(path: &Path, full: bool) -> Result<VerifyReport, ExportError> {
    let rows = validate_file(path)?;
    let invalid = |reason: String| ExportError::Validation { path: path.into(), reason };
    let file = File::open(path).map_err(|source| ExportError::Io { path: path.into(), context: "open", source })?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| invalid(e.to_string()))?;
    let columns = builder.schema().fields().iter().map(|f| (f.name().clone(), f.data_type().to_string())).collect();
    let row_groups = builder.metadata().num_row_groups();
    let provenance = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .into_iter()
        .flatten()
        .filter(|kv| kv.key.starts_with(PROVENANCE_PREFIX))
        .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
        .collect();
    if full {
        let mut seen = 0u64;
        for batch in builder.build().map_err(|e| invalid(e.to_string()))? {
            seen += batch.map_err(|e| invalid(format!("decoding rows: {e}")))?.num_rows() as u64;
        }
        if seen != rows {
            return Err(invalid(format!("decoded {seen} rows, footer says {rows}")));
        }
    }
    Ok(VerifyReport { rows, row_groups, columns, provenance })
}
