//! Writing the products of a job as one or more Parquet files ("parts"), each closed, fsynced
//! and validated (footer, schema, row count) before it counts as written.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use super::columns::{CampaignCols, ColumnsBuilder};
use super::{validate_file, ExportOptions};
use crate::error::StoreError;
use crate::error::{ExportError, Result};
use crate::store::{JobMeta, ProductRecord};

/// A finished, validated part.
#[derive(Debug, Clone)]
pub(crate) struct Part {
    pub path: PathBuf,
    pub rows: u64,
    pub bytes: u64,
}

fn parquet_err(path: &Path) -> impl Fn(parquet::errors::ParquetError) -> ExportError + '_ {
    move |source| ExportError::Parquet { path: path.into(), source }
}

fn writer_props(opts: &ExportOptions, job: &JobMeta, path: &Path) -> Result<WriterProperties, ExportError> {
    let provenance = super::provenance(job).into_iter().map(|(k, v)| KeyValue::new(k, v)).collect();
    Ok(WriterProperties::builder()
        .set_key_value_metadata(Some(provenance))
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).map_err(parquet_err(path))?))
        .set_max_row_group_row_count(Some(opts.row_group_rows.max(1)))
        .set_created_by(format!("xfstore {}", env!("CARGO_PKG_VERSION")))
        .build())
}

struct Open {
    writer: ArrowWriter<File>,
    path: PathBuf,
    rows: u64,
}

impl Open {
    fn size(&self) -> u64 {
        (self.writer.bytes_written() + self.writer.in_progress_size()) as u64
    }

    fn close(self) -> Result<Part, ExportError> {
        let Open { writer, path, rows } = self;
        writer.close().map_err(parquet_err(&path))?;
        File::open(&path).and_then(|f| f.sync_all()).map_err(|source| ExportError::Io {
            path: path.clone(),
            context: "fsync part",
            source,
        })?;
        let found = validate_file(&path)?;
        if found != rows {
            return Err(ExportError::Validation {
                path,
                reason: format!("file has {found} rows, {rows} were written"),
            });
        }
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        Ok(Part { path, rows, bytes })
    }
}

/// Streams the job's products into parts. `next_path(i)` names part `i`; a new part starts
/// when the current one reaches `split_rows` rows or `split_bytes` bytes (0 = no limit).
/// `first_file` is used for part 0 when given (the single-file export's temp file). `rows` are
/// the job's products in key order; `campaign`: the columns of a campaign dataset too.
pub(super) fn write_parts(
    rows: impl Iterator<Item = Result<(String, ProductRecord), StoreError>>,
    job: &JobMeta,
    opts: &ExportOptions,
    mut first_file: Option<File>,
    next_path: impl Fn(usize) -> PathBuf,
    campaign: Option<&CampaignCols<'_>>,
) -> Result<Vec<Part>> {
    let mut cols = ColumnsBuilder::with_campaign(job, campaign).inchikeys(opts.inchikey_counter());
    let schema: SchemaRef = cols.schema();
    let mut parts = Vec::new();
    let mut current: Option<Open> = None;
    let batch_rows = opts.batch_rows.max(1);
    let mut index = 0usize;
    let mut flush =
        |cols: &mut ColumnsBuilder, current: &mut Option<Open>, parts: &mut Vec<Part>, last: bool| -> Result<()> {
            if cols.len() > 0 {
                if current.is_none() {
                    let path = next_path(index);
                    index += 1;
                    *current = Some(open(first_file.take(), path, schema.clone(), opts, job)?);
                }
                let open = current.as_mut().expect("part is open");
                let batch = cols.finish().map_err(|source| ExportError::Arrow { path: open.path.clone(), source })?;
                open.rows += batch.num_rows() as u64;
                open.writer.write(&batch).map_err(parquet_err(&open.path))?;
                // Bound the encoder's buffered row group by bytes too (the memory budget's share).
                if open.writer.in_progress_size() >= opts.row_group_bytes.max(1) {
                    open.writer.flush().map_err(parquet_err(&open.path))?;
                }
            }
            let full = current.as_ref().is_some_and(|o| {
                (opts.split_rows > 0 && o.rows >= opts.split_rows)
                    || (opts.split_bytes > 0 && o.size() >= opts.split_bytes)
            });
            if full || last {
                if let Some(o) = current.take() {
                    parts.push(o.close()?);
                }
            }
            Ok(())
        };
    for item in rows {
        let (smiles, rec) = item?;
        cols.push(&smiles, &rec);
        let room = current.as_ref().map_or(opts.split_rows, |o| opts.split_rows.saturating_sub(o.rows));
        if cols.len() >= batch_rows || (opts.split_rows > 0 && cols.len() as u64 >= room) {
            flush(&mut cols, &mut current, &mut parts, false)?;
        }
    }
    flush(&mut cols, &mut current, &mut parts, true)?;
    if parts.is_empty() {
        // an empty job still yields one valid (empty) file
        let o = open(first_file.take(), next_path(0), schema, opts, job)?;
        parts.push(o.close()?);
    }
    Ok(parts)
}

fn open(
    file: Option<File>,
    path: PathBuf,
    schema: SchemaRef,
    opts: &ExportOptions,
    job: &JobMeta,
) -> Result<Open, ExportError> {
    let file = match file {
        Some(f) => f,
        None => File::create(&path).map_err(|source| ExportError::Io {
            path: path.clone(),
            context: "create part",
            source,
        })?,
    };
    let props = writer_props(opts, job, &path)?;
    let writer = ArrowWriter::try_new(file, schema, Some(props)).map_err(parquet_err(&path))?;
    Ok(Open { writer, path, rows: 0 })
}
