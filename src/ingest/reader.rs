//! Streaming Parquet input: validation before anything is written, a fingerprint to recognise
//! the same file on resume, and bounded record batches starting at any row offset.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, UInt32Type, UInt64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;

use crate::error::InputError;
use crate::store::InputInfo;

/// An input file, opened and checked.
pub struct InputFile {
    path: PathBuf,
    info: InputInfo,
    smiles_idx: usize,
    id_idx: Option<usize>,
}

impl InputFile {
    /// Opens `path`, checks it is a complete Parquet file with a string `smiles_column` (and
    /// `id_column` if given), and fingerprints it.
    pub fn open(path: &Path, smiles_column: &str, id_column: Option<&str>) -> Result<Self, InputError> {
        let parquet_err = |reason: String| InputError::Parquet { path: path.into(), reason };
        let file = File::open(path).map_err(|source| InputError::Open { path: path.into(), source })?;
        let size = file.metadata().map_err(|source| InputError::Open { path: path.into(), source })?.len();
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| parquet_err(e.to_string()))?;
        let schema = builder.schema().clone();
        let rows = u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
        let find = |name: &str| {
            schema.index_of(name).map_err(|_| InputError::MissingColumn {
                path: path.into(),
                column: name.to_owned(),
                available: schema.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", "),
            })
        };
        let smiles_idx = find(smiles_column)?;
        let dt = schema.field(smiles_idx).data_type();
        if !matches!(dt, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) {
            return Err(InputError::ColumnType {
                path: path.into(),
                column: smiles_column.into(),
                found: dt.to_string(),
            });
        }
        let id_idx = id_column.map(find).transpose()?;
        if let Some(i) = id_idx {
            let dt = schema.field(i).data_type();
            if !matches!(
                dt,
                DataType::Utf8
                    | DataType::LargeUtf8
                    | DataType::Utf8View
                    | DataType::Int32
                    | DataType::Int64
                    | DataType::UInt32
                    | DataType::UInt64
            ) {
                return Err(InputError::ColumnType {
                    path: path.into(),
                    column: schema.field(i).name().clone(),
                    found: dt.to_string(),
                });
            }
        }
        if rows == 0 {
            return Err(InputError::Empty { path: path.into() });
        }
        let footer_hash = footer_hash(path).map_err(|e| parquet_err(format!("reading footer: {e}")))?;
        let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.into());
        let info = InputInfo {
            path: abs.display().to_string(),
            size,
            rows,
            footer_hash,
            smiles_column: smiles_column.to_owned(),
            id_column: id_column.map(str::to_owned),
        };
        Ok(Self { path: path.into(), info, smiles_idx, id_idx })
    }

    pub fn info(&self) -> &InputInfo {
        &self.info
    }

    /// Batches of at most `batch_rows` rows, starting at row `offset`, at most `limit` rows.
    pub fn batches(&self, offset: u64, batch_rows: usize, limit: Option<u64>) -> Result<Batches, InputError> {
        let parquet_err = |reason: String| InputError::Parquet { path: self.path.clone(), reason };
        let file = File::open(&self.path).map_err(|source| InputError::Open { path: self.path.clone(), source })?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| parquet_err(e.to_string()))?;
        let roots: Vec<usize> = std::iter::once(self.smiles_idx).chain(self.id_idx).collect();
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        let builder = match limit {
            Some(n) => builder.with_limit(usize::try_from(n).unwrap_or(usize::MAX)),
            None => builder,
        };
        let reader = builder
            .with_projection(mask)
            .with_batch_size(batch_rows)
            .with_offset(usize::try_from(offset).unwrap_or(usize::MAX))
            .build()
            .map_err(|e| parquet_err(e.to_string()))?;
        Ok(Batches {
            reader,
            path: self.path.clone(),
            smiles_column: self.info.smiles_column.clone(),
            id_column: self.info.id_column.clone(),
            next_row: offset,
        })
    }
}

/// xxh3 of the Parquet footer (metadata + length + magic).
fn footer_hash(path: &Path) -> std::io::Result<u64> {
    let mut f = File::open(path)?;
    let len = f.seek(SeekFrom::End(0))?;
    let mut tail = [0u8; 8];
    f.seek(SeekFrom::Start(len.saturating_sub(8)))?;
    f.read_exact(&mut tail)?;
    let meta_len = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    let start = len.saturating_sub(8 + meta_len);
    f.seek(SeekFrom::Start(start))?;
    let mut footer = Vec::with_capacity((len - start) as usize);
    f.take(len - start).read_to_end(&mut footer)?;
    Ok(xxhash_rust::xxh3::xxh3_64(&footer))
}

/// A batch of input rows: their first row number, SMILES and optional ids.
pub struct InputBatch {
    pub first_row: u64,
    pub smiles: ArrayRef,
    pub ids: Option<ArrayRef>,
}

impl InputBatch {
    pub fn len(&self) -> usize {
        self.smiles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.smiles.is_empty()
    }

    /// SMILES of row `i` of the batch (None when null).
    pub fn smiles(&self, i: usize) -> Option<&str> {
        string_at(&self.smiles, i)
    }

    /// Id of row `i` as text (None when there is no id column or the cell is null).
    pub fn id(&self, i: usize) -> Option<String> {
        let a = self.ids.as_ref()?;
        if a.is_null(i) {
            return None;
        }
        match a.data_type() {
            DataType::Int32 => Some(a.as_primitive::<Int32Type>().value(i).to_string()),
            DataType::Int64 => Some(a.as_primitive::<Int64Type>().value(i).to_string()),
            DataType::UInt32 => Some(a.as_primitive::<UInt32Type>().value(i).to_string()),
            DataType::UInt64 => Some(a.as_primitive::<UInt64Type>().value(i).to_string()),
            _ => string_at(a, i).map(str::to_owned),
        }
    }
}

fn string_at(a: &ArrayRef, i: usize) -> Option<&str> {
    if a.is_null(i) {
        return None;
    }
    match a.data_type() {
        DataType::Utf8 => Some(a.as_string::<i32>().value(i)),
        DataType::LargeUtf8 => Some(a.as_string::<i64>().value(i)),
        DataType::Utf8View => Some(a.as_string_view().value(i)),
        _ => None,
    }
}

/// Iterator over input batches.
pub struct Batches {
    reader: ParquetRecordBatchReader,
    path: PathBuf,
    smiles_column: String,
    id_column: Option<String>,
    next_row: u64,
}

impl Iterator for Batches {
    type Item = Result<InputBatch, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch: RecordBatch = match self.reader.next()? {
            Ok(b) => b,
            Err(e) => return Some(Err(InputError::Parquet { path: self.path.clone(), reason: e.to_string() })),
        };
        let first_row = self.next_row;
        self.next_row += batch.num_rows() as u64;
        // Projected columns come back in file order, so look them up by name.
        let column = |name: &str| {
            batch.column_by_name(name).cloned().ok_or_else(|| InputError::Parquet {
                path: self.path.clone(),
                reason: format!("column {name:?} missing from a record batch"),
            })
        };
        let smiles = match column(&self.smiles_column) {
            Ok(c) => c,
            Err(e) => return Some(Err(e)),
        };
        let ids = match self.id_column.as_deref().map(column).transpose() {
            Ok(c) => c,
            Err(e) => return Some(Err(e)),
        };
        Some(Ok(InputBatch { first_row, smiles, ids }))
    }
}
