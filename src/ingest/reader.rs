//! Streaming Parquet input: validation before anything is written, a fingerprint to recognise
//! the same file on resume, and bounded record batches starting at any row offset.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Schema};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;

use super::cells::{is_text, is_textual, text_at};
use crate::error::InputError;
use crate::store::InputInfo;

/// Which columns of the input to read besides nothing else.
#[derive(Debug, Clone, Default)]
pub struct InputColumns {
    /// Name of the SMILES column.
    pub smiles: String,
    /// Optional id column.
    pub id: Option<String>,
    /// Columns copied (as text) into each product's provenance and export.
    pub carry: Vec<String>,
}

/// An input file, opened and checked.
pub struct InputFile {
    path: PathBuf,
    info: InputInfo,
    roots: Vec<usize>,
}

impl InputFile {
    /// Opens `path`, checks it is a complete, non-empty Parquet file with a string SMILES
    /// column and the other requested columns (of types that can be rendered as text), and
    /// fingerprints it.
    pub fn open(path: &Path, cols: &InputColumns) -> Result<Self, InputError> {
        let parquet_err = |source| InputError::Parquet { path: path.into(), source };
        let file = File::open(path).map_err(|source| InputError::Open { path: path.into(), source })?;
        let size = file.metadata().map_err(|source| InputError::Open { path: path.into(), source })?.len();
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet_err)?;
        let schema = builder.schema().clone();
        let rows = u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
        let smiles_idx = find(path, &schema, &cols.smiles, is_text)?;
        let mut roots = vec![smiles_idx];
        for name in cols.id.iter().chain(&cols.carry) {
            if name == &cols.smiles {
                return Err(InputError::ColumnType {
                    path: path.into(),
                    column: name.clone(),
                    found: "the SMILES column itself".into(),
                });
            }
            roots.push(find(path, &schema, name, is_textual)?);
        }
        roots.sort_unstable();
        roots.dedup();
        if rows == 0 {
            return Err(InputError::Empty { path: path.into() });
        }
        let footer_hash = footer_hash(path).map_err(|source| InputError::Open { path: path.into(), source })?;
        let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.into());
        let info = InputInfo {
            path: abs.display().to_string(),
            size,
            rows,
            footer_hash,
            smiles_column: cols.smiles.clone(),
            id_column: cols.id.clone(),
            carry_columns: cols.carry.clone(),
        };
        Ok(Self { path: path.into(), info, roots })
    }

    /// Path, size, row count, footer hash and columns of the input.
    pub fn info(&self) -> &InputInfo {
        &self.info
    }

    /// Batches of at most `batch_rows` rows, starting at row `offset`, at most `limit` rows.
    pub fn batches(&self, offset: u64, batch_rows: usize, limit: Option<u64>) -> Result<Batches, InputError> {
        let parquet_err = |source| InputError::Parquet { path: self.path.clone(), source };
        let file = File::open(&self.path).map_err(|source| InputError::Open { path: self.path.clone(), source })?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet_err)?;
        let mask = ProjectionMask::roots(builder.parquet_schema(), self.roots.iter().copied());
        let builder = match limit {
            Some(n) => builder.with_limit(usize::try_from(n).unwrap_or(usize::MAX)),
            None => builder,
        };
        let reader = builder
            .with_projection(mask)
            .with_batch_size(batch_rows)
            .with_offset(usize::try_from(offset).unwrap_or(usize::MAX))
            .build()
            .map_err(parquet_err)?;
        Ok(Batches { reader, path: self.path.clone(), info: self.info.clone(), next_row: offset })
    }
}

fn find(path: &Path, schema: &Schema, name: &str, ok: fn(&DataType) -> bool) -> Result<usize, InputError> {
    let idx = schema.index_of(name).map_err(|_| InputError::MissingColumn {
        path: path.into(),
        column: name.to_owned(),
        available: schema.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", "),
    })?;
    let dt = schema.field(idx).data_type();
    if !ok(dt) {
        return Err(InputError::ColumnType { path: path.into(), column: name.to_owned(), found: dt.to_string() });
    }
    Ok(idx)
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

/// A batch of input rows: their first row number, SMILES, optional ids and carried columns.
pub struct InputBatch {
    pub first_row: u64,
    pub smiles: ArrayRef,
    pub ids: Option<ArrayRef>,
    pub carried: Vec<ArrayRef>,
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
        super::cells::str_at(&self.smiles, i)
    }

    /// Id of row `i` as text (None when there is no id column or the cell is null).
    pub fn id(&self, i: usize) -> Option<String> {
        text_at(self.ids.as_ref()?, i)
    }

    /// Rows `start..start + len` of the batch (zero-copy).
    pub fn slice(&self, start: usize, len: usize) -> InputBatch {
        InputBatch {
            first_row: self.first_row + start as u64,
            smiles: self.smiles.slice(start, len),
            ids: self.ids.as_ref().map(|a| a.slice(start, len)),
            carried: self.carried.iter().map(|a| a.slice(start, len)).collect(),
        }
    }

    /// Bytes of text a product record copies from row `i`: its SMILES, id and carried cells
    /// (non-string cells counted at 24 bytes, their longest rendering), without rendering them.
    pub fn row_text_len(&self, i: usize) -> usize {
        let cell = |a: &ArrayRef| match super::cells::str_at(a, i) {
            Some(s) => s.len(),
            None if a.is_null(i) => 0,
            None => 24,
        };
        self.smiles(i).map_or(0, str::len) + self.ids.iter().chain(&self.carried).map(cell).sum::<usize>()
    }

    /// Carried cells of row `i`, as text, in `carry_columns` order.
    pub fn carried(&self, i: usize) -> Vec<Option<String>> {
        self.carried.iter().map(|a| text_at(a, i)).collect()
    }
}

/// Iterator over input batches.
pub struct Batches {
    reader: ParquetRecordBatchReader,
    path: PathBuf,
    info: InputInfo,
    next_row: u64,
}

impl Batches {
    fn split(&self, batch: &RecordBatch) -> Result<InputBatch, InputError> {
        // Projected columns come back in file order, so look them up by name.
        let column = |name: &str| {
            batch
                .column_by_name(name)
                .cloned()
                .ok_or_else(|| InputError::MissingInBatch { path: self.path.clone(), column: name.to_owned() })
        };
        Ok(InputBatch {
            first_row: self.next_row,
            smiles: column(&self.info.smiles_column)?,
            ids: self.info.id_column.as_deref().map(column).transpose()?,
            carried: self.info.carry_columns.iter().map(|c| column(c)).collect::<Result<_, _>>()?,
        })
    }
}

impl Iterator for Batches {
    type Item = Result<InputBatch, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch = match self.reader.next()? {
            Ok(b) => b,
            Err(source) => return Some(Err(InputError::Read { path: self.path.clone(), row: self.next_row, source })),
        };
        let out = self.split(&batch);
        self.next_row += batch.num_rows() as u64;
        Some(out)
    }
}
