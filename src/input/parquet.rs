//! Parquet inputs: one file, a folder of parts (xfstore's own split exports are checked against
//! their manifest.json) or a glob, read as one table whose rows are numbered across the parts in
//! path order. String columns may be utf8, large_utf8, utf8_view or dictionary-encoded (a pandas
//! categorical); dictionary columns are cast to utf8 batch by batch.
//!
//! Fingerprint: xxh3 over every part's name, size and footer (schema + row-group metadata), so a
//! part added, removed, renamed or rewritten is a different input.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Schema};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;

use super::cells::{is_text, is_textual};
use super::{InputBatch, InputColumns, Scanned};
use crate::error::InputError;

/// One Parquet part: its path, rows and the projected root columns.
struct Part {
    path: PathBuf,
    rows: u64,
    roots: Vec<usize>,
}

/// A Parquet input of one or more parts.
pub(super) struct ParquetInput {
    parts: Vec<Part>,
    cols: InputColumns,
    /// A folder or glob: after each part, (size, rows, fingerprint) of the parts so far, which
    /// is what an input of those parts alone recorded (growth by new parts: [`Self::extends`]).
    prefixes: Vec<(u64, u64, u64)>,
}

/// Where the parts of a Parquet input come from.
pub(super) enum Layout<'a> {
    File(&'a Path),
    Folder(&'a Path),
    Glob(&'a str),
}

impl ParquetInput {
    /// Lists and checks the parts (readable footers, the columns present with usable types, a
    /// split export's parts matching its manifest), and fingerprints them.
    pub(super) fn open(layout: Layout<'_>, cols: &InputColumns) -> Result<(Self, Scanned), InputError> {
        let single = matches!(layout, Layout::File(_));
        let paths = match layout {
            Layout::File(p) => vec![p.to_path_buf()],
            Layout::Folder(dir) => folder_parts(dir)?,
            Layout::Glob(pattern) => glob_parts(pattern)?,
        };
        let mut parts = Vec::with_capacity(paths.len());
        let mut prefixes = Vec::with_capacity(paths.len());
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        // one file: the xxh3 of its footer alone, as stores before folders and globs recorded it
        let mut footer_hash = 0;
        let (mut size, mut rows) = (0u64, 0u64);
        for path in paths {
            let open_err = |source| InputError::Open { path: path.clone(), source };
            let file = File::open(&path).map_err(open_err)?;
            let len = file.metadata().map_err(open_err)?.len();
            let builder = ParquetRecordBatchReaderBuilder::try_new(file)
                .map_err(|source| InputError::Parquet { path: path.clone(), source })?;
            let schema = builder.schema().clone();
            let n = u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
            let roots = roots(&path, &schema, cols)?;
            let footer = footer_bytes(&path).map_err(open_err)?;
            hasher.update(path.file_name().map(|n| n.as_encoded_bytes()).unwrap_or_default());
            hasher.update(&len.to_le_bytes());
            hasher.update(&footer);
            size += len;
            rows += n;
            if single {
                footer_hash = xxhash_rust::xxh3::xxh3_64(&footer);
            } else {
                prefixes.push((size, rows, hasher.digest()));
            }
            parts.push(Part { path, rows: n, roots });
        }
        if rows == 0 {
            return Err(InputError::Empty { path: parts.first().map_or_else(PathBuf::new, |p| p.path.clone()) });
        }
        let fingerprint = if single { footer_hash } else { hasher.digest() };
        Ok((Self { parts, cols: cols.clone(), prefixes }, Scanned { rows, size, fingerprint }))
    }

    /// Whether this folder or glob is the input of `size` bytes, `rows` rows and `fingerprint`
    /// with parts added after its parts (in path order): its first parts, byte-identical names,
    /// sizes and footers, fingerprint as it did. A single file cannot tell from its footer
    /// alone: false (its growth is proven by the content hash, `ingest/job.rs`).
    pub(super) fn extends(&self, size: u64, rows: u64, fingerprint: u64) -> bool {
        self.prefixes[..self.prefixes.len().saturating_sub(1)].contains(&(size, rows, fingerprint))
    }

    /// Whether this is one file (not a folder or glob).
    pub(super) fn is_single(&self) -> bool {
        self.prefixes.is_empty()
    }

    /// Batches of at most `batch_rows` rows from global row `offset`, at most `limit` rows.
    pub(super) fn batches(
        &self,
        offset: u64,
        batch_rows: usize,
        limit: Option<u64>,
    ) -> Result<impl Iterator<Item = Result<InputBatch, InputError>> + '_, InputError> {
        Ok(PartsReader {
            input: self,
            next_part: 0,
            part_start: 0,
            current: None,
            skip: offset,
            left: limit.unwrap_or(u64::MAX),
            batch_rows,
            next_row: offset,
        })
    }

    fn open_part(&self, k: usize, offset: u64, batch_rows: usize) -> Result<ParquetRecordBatchReader, InputError> {
        let part = &self.parts[k];
        let parquet_err = |source| InputError::Parquet { path: part.path.clone(), source };
        let file = File::open(&part.path).map_err(|source| InputError::Open { path: part.path.clone(), source })?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet_err)?;
        let mask = ProjectionMask::roots(builder.parquet_schema(), part.roots.iter().copied());
        builder
            .with_projection(mask)
            .with_batch_size(batch_rows.max(1))
            .with_offset(usize::try_from(offset).unwrap_or(usize::MAX))
            .build()
            .map_err(parquet_err)
    }
}

/// Reads the parts in order, from a global row offset.
struct PartsReader<'a> {
    input: &'a ParquetInput,
    next_part: usize,
    /// Global row of the first row of `next_part`.
    part_start: u64,
    current: Option<(usize, ParquetRecordBatchReader)>,
    /// Rows still to skip before the first batch.
    skip: u64,
    /// Rows still allowed by the limit.
    left: u64,
    batch_rows: usize,
    next_row: u64,
}

impl Iterator for PartsReader<'_> {
    type Item = Result<InputBatch, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.left == 0 {
                return None;
            }
            if self.current.is_none() {
                // find the part holding the next row, skipping whole parts
                let part = self.input.parts.get(self.next_part)?;
                let k = self.next_part;
                self.next_part += 1;
                let start = self.part_start;
                self.part_start += part.rows;
                if self.skip >= start + part.rows {
                    continue;
                }
                let local = self.skip.saturating_sub(start);
                match self.input.open_part(k, local, self.batch_rows) {
                    Ok(r) => self.current = Some((k, r)),
                    Err(e) => return Some(Err(e)),
                }
            }
            let (k, reader) = self.current.as_mut()?;
            let path = &self.input.parts[*k].path;
            match reader.next() {
                None => self.current = None,
                Some(Err(source)) => {
                    self.left = 0;
                    return Some(Err(InputError::Read { path: path.clone(), row: self.next_row, source }));
                }
                Some(Ok(batch)) => {
                    let batch =
                        if (batch.num_rows() as u64) > self.left { batch.slice(0, self.left as usize) } else { batch };
                    let out = split(path, &batch, &self.input.cols, self.next_row);
                    self.next_row += batch.num_rows() as u64;
                    self.left -= batch.num_rows() as u64;
                    return Some(out);
                }
            }
        }
    }
}

fn split(path: &Path, batch: &RecordBatch, cols: &InputColumns, first_row: u64) -> Result<InputBatch, InputError> {
    // Projected columns come back in file order, so look them up by name.
    let column = |name: &str| -> Result<ArrayRef, InputError> {
        let a = batch
            .column_by_name(name)
            .cloned()
            .ok_or_else(|| InputError::MissingInBatch { path: path.into(), column: name.to_owned() })?;
        if let DataType::Dictionary(_, _) = a.data_type() {
            return arrow_cast::cast(&a, &DataType::Utf8).map_err(|source| InputError::Read {
                path: path.into(),
                row: first_row,
                source,
            });
        }
        Ok(a)
    };
    Ok(InputBatch {
        first_row,
        smiles: column(&cols.smiles)?,
        ids: cols.id.as_deref().map(column).transpose()?,
        carried: cols.carry.iter().map(|c| column(c)).collect::<Result<_, _>>()?,
        bad: vec![],
        source_rows: None,
    })
}

/// The root columns to read: SMILES, id and carried, each present with a usable type.
fn roots(path: &Path, schema: &Schema, cols: &InputColumns) -> Result<Vec<usize>, InputError> {
    let mut roots = vec![find(path, schema, &cols.smiles, is_text)?];
    for name in cols.id.iter().chain(&cols.carry) {
        if name == &cols.smiles {
            return Err(InputError::ColumnType {
                path: path.into(),
                column: name.clone(),
                found: "the SMILES column itself".into(),
            });
        }
        roots.push(find(path, schema, name, is_textual)?);
    }
    roots.sort_unstable();
    roots.dedup();
    Ok(roots)
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

/// The parts of a folder: `*.parquet` in name order. A folder with `manifest.json` (an xfstore
/// split export) is verified against it first: every listed part present with its row count,
/// none extra.
fn folder_parts(dir: &Path) -> Result<Vec<PathBuf>, InputError> {
    let format = |reason: String| InputError::Format { path: dir.into(), reason };
    if dir.join(crate::export::MANIFEST).exists() {
        let m = crate::export::verify_folder(dir, false)
            .map_err(|e| format(format!("split export does not match its manifest: {e}")))?;
        return Ok(m.parts.iter().map(|p| dir.join(&p.file)).collect());
    }
    let rd = std::fs::read_dir(dir).map_err(|source| InputError::Open { path: dir.into(), source })?;
    let mut parts: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "parquet" || e == "pq"))
        .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .collect();
    parts.sort();
    if parts.is_empty() {
        return Err(format("folder holds no .parquet files".into()));
    }
    Ok(parts)
}

fn glob_parts(pattern: &str) -> Result<Vec<PathBuf>, InputError> {
    let format = |reason: String| InputError::Format { path: pattern.into(), reason };
    let paths = glob::glob(pattern).map_err(|e| format(format!("bad glob pattern: {e}")))?;
    let mut parts = Vec::new();
    for p in paths {
        let p = p.map_err(|e| format(e.to_string()))?;
        if p.is_file() {
            parts.push(p);
        }
    }
    parts.sort();
    if parts.is_empty() {
        return Err(format("the pattern matches no file".into()));
    }
    Ok(parts)
}

/// The Parquet footer (metadata + length + magic).
fn footer_bytes(path: &Path) -> std::io::Result<Vec<u8>> {
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
    Ok(footer)
}
