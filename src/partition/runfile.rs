//! Run files: what one map step found, as one Parquet file sorted by (partition, kind, job,
//! key). Every partition's rows are whole row groups of their own, and the footer lists each
//! partition's row groups, so a reduce step reads exactly its partition of every run file and
//! nothing else. Values are store records in the store's versioned codec (the same bytes a
//! shard keeps). Per partition, an xxh3 of its rows (kinds, jobs, keys and values, in order)
//! goes into the unit's done marker; the reduce step recomputes it as it merges and refuses a
//! run file whose partition does not hash the same (damage the Parquet decoder did not see).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, BinaryArray, RecordBatch, UInt32Array, UInt8Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use xxhash_rust::xxh3::Xxh3;

use crate::error::{PartitionError, Result};

/// A product record (key: canonical SMILES; value: codec(ProductRecord) with the unit's
/// occurrences).
pub const KIND_PRODUCT: u8 = 0;
/// A parent link (key: the parent index key; value: empty), in its product's partition.
pub const KIND_LINK: u8 = 1;
/// A rejected input row (key: row u64 BE; value: codec(RejectRecord); job 0).
pub const KIND_REJECT: u8 = 2;
/// A root row of a file-input job (key: canonical molecule, NUL, row u64 BE; value: its id,
/// UTF-8, empty without one), in its molecule's partition.
pub const KIND_ROOT: u8 = 3;

const META_ROW_GROUPS: &str = "xfstore.run.row_groups";
const META_ROWS: &str = "xfstore.run.rows";
const BATCH_ROWS: usize = 8192;
/// Rows per decoded batch when reading: a reduce holds one per run file.
const READ_BATCH_ROWS: usize = 1024;

/// One row of a run file.
pub struct RunRecord {
    pub partition: u32,
    pub kind: u8,
    pub job: u32,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("partition", DataType::UInt32, false),
        Field::new("kind", DataType::UInt8, false),
        Field::new("job", DataType::UInt32, false),
        Field::new("key", DataType::Binary, false),
        Field::new("value", DataType::Binary, false),
    ]))
}

fn pq_err(path: &Path) -> impl Fn(parquet::errors::ParquetError) -> PartitionError + '_ {
    move |source| PartitionError::Parquet { path: path.into(), source }
}

fn bad(path: &Path, reason: impl Into<String>) -> PartitionError {
    PartitionError::RunFile { path: path.into(), reason: reason.into() }
}

/// Adds one row to a partition's hash.
pub fn hash_row(h: &mut Xxh3, kind: u8, job: u32, key: &[u8], value: &[u8]) {
    h.update(&[kind]);
    h.update(&job.to_le_bytes());
    h.update(&(key.len() as u64).to_le_bytes());
    h.update(key);
    h.update(&(value.len() as u64).to_le_bytes());
    h.update(value);
}

/// Sorts `records` and writes them to `path` (fsynced). Returns the xxh3 of each partition's
/// rows (see [`hash_row`]).
pub fn write(path: &Path, mut records: Vec<RunRecord>, partitions: u32) -> Result<Vec<u64>> {
    records.sort_unstable_by(|a, b| (a.partition, a.kind, a.job, &a.key).cmp(&(b.partition, b.kind, b.job, &b.key)));
    let file =
        File::create(path).map_err(|source| PartitionError::Io { path: path.into(), context: "create", source })?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_dictionary_enabled(false)
        .set_statistics_enabled(EnabledStatistics::None)
        .set_max_row_group_row_count(Some(1 << 20))
        .build();
    let mut writer = ArrowWriter::try_new(file, schema(), Some(props)).map_err(pq_err(path))?;
    let mut groups: Vec<[usize; 2]> = Vec::with_capacity(partitions as usize);
    let mut hashes = Vec::with_capacity(partitions as usize);
    let mut at = 0;
    for p in 0..partitions {
        let end = at + records[at..].iter().take_while(|r| r.partition == p).count();
        let first = writer.flushed_row_groups().len();
        let mut h = Xxh3::new();
        for chunk in records[at..end].chunks(BATCH_ROWS) {
            for r in chunk {
                hash_row(&mut h, r.kind, r.job, &r.key, &r.value);
            }
            let cols: Vec<ArrayRef> = vec![
                Arc::new(UInt32Array::from_iter_values(chunk.iter().map(|r| r.partition))),
                Arc::new(UInt8Array::from_iter_values(chunk.iter().map(|r| r.kind))),
                Arc::new(UInt32Array::from_iter_values(chunk.iter().map(|r| r.job))),
                Arc::new(BinaryArray::from_iter_values(chunk.iter().map(|r| r.key.as_slice()))),
                Arc::new(BinaryArray::from_iter_values(chunk.iter().map(|r| r.value.as_slice()))),
            ];
            let batch = RecordBatch::try_new(schema(), cols).map_err(|e| bad(path, e.to_string()))?;
            writer.write(&batch).map_err(pq_err(path))?;
        }
        writer.flush().map_err(pq_err(path))?;
        groups.push([first, writer.flushed_row_groups().len() - first]);
        hashes.push(h.digest());
        at = end;
    }
    if at != records.len() {
        return Err(bad(path, format!("a record has partition >= {partitions}")).into());
    }
    writer.append_key_value_metadata(KeyValue::new(
        META_ROW_GROUPS.into(),
        serde_json::to_string(&groups).expect("serializes"),
    ));
    writer.append_key_value_metadata(KeyValue::new(META_ROWS.into(), records.len().to_string()));
    let file = writer.into_inner().map_err(pq_err(path))?;
    file.sync_all().map_err(|source| PartitionError::Io { path: path.into(), context: "fsync", source })?;
    Ok(hashes)
}

/// Rows of one partition of one run file, in order.
pub struct Cursor {
    path: PathBuf,
    reader: ParquetRecordBatchReader,
    batch: Option<Cols>,
    at: usize,
    /// The last row of the previous batch (order is checked across batches too).
    last: Option<(u8, u32, Vec<u8>)>,
    hash: Xxh3,
}

struct Cols {
    kind: UInt8Array,
    job: UInt32Array,
    key: BinaryArray,
    value: BinaryArray,
}

impl Cursor {
    /// Opens partition `partition` of the run file at `path`.
    pub fn open(path: &Path, partition: u32) -> Result<Self> {
        let file =
            File::open(path).map_err(|source| PartitionError::Io { path: path.into(), context: "open", source })?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(pq_err(path))?;
        if builder.schema().fields() != schema().fields() {
            return Err(bad(path, "not a run file (unexpected columns)").into());
        }
        let meta = builder.metadata().file_metadata();
        let kv = |k: &str| {
            meta.key_value_metadata()
                .into_iter()
                .flatten()
                .find(|e| e.key == k)
                .and_then(|e| e.value.clone())
                .ok_or_else(|| bad(path, format!("footer has no {k}")))
        };
        let groups: Vec<[usize; 2]> =
            serde_json::from_str(&kv(META_ROW_GROUPS)?).map_err(|e| bad(path, format!("{META_ROW_GROUPS}: {e}")))?;
        let rows: i64 = kv(META_ROWS)?.parse().map_err(|_| bad(path, format!("{META_ROWS} is not a number")))?;
        if rows != meta.num_rows() {
            return Err(bad(path, format!("footer says {} rows, {META_ROWS} says {rows}", meta.num_rows())).into());
        }
        let [first, n] = *groups
            .get(partition as usize)
            .ok_or_else(|| bad(path, format!("has {} partitions, not {}", groups.len(), partition + 1)))?;
        if first + n > builder.metadata().num_row_groups() {
            return Err(bad(path, "lists row groups it does not have").into());
        }
        let reader = builder
            .with_row_groups((first..first + n).collect())
            .with_batch_size(READ_BATCH_ROWS)
            .build()
            .map_err(pq_err(path))?;
        let mut c = Self { path: path.into(), reader, batch: None, at: 0, last: None, hash: Xxh3::new() };
        c.next_batch()?;
        Ok(c)
    }

    fn next_batch(&mut self) -> Result<()> {
        if let Some(b) = &self.batch {
            let i = b.key.len() - 1;
            self.last = Some((b.kind.value(i), b.job.value(i), b.key.value(i).to_vec()));
        }
        self.batch = None;
        self.at = 0;
        while let Some(batch) = self.reader.next() {
            let batch = batch.map_err(|e| bad(&self.path, format!("decoding rows: {e}")))?;
            if batch.num_rows() == 0 {
                continue;
            }
            let col = |i: usize| batch.column(i).clone();
            let cols = (|| {
                Some(Cols {
                    kind: col(1).as_any().downcast_ref::<UInt8Array>()?.clone(),
                    job: col(2).as_any().downcast_ref::<UInt32Array>()?.clone(),
                    key: col(3).as_any().downcast_ref::<BinaryArray>()?.clone(),
                    value: col(4).as_any().downcast_ref::<BinaryArray>()?.clone(),
                })
            })()
            .ok_or_else(|| bad(&self.path, "unexpected column types"))?;
            self.batch = Some(cols);
            self.check_order()?;
            break;
        }
        Ok(())
    }

    fn check_order(&mut self) -> Result<()> {
        let Some(b) = &self.batch else { return Ok(()) };
        let i = self.at;
        let here = (b.kind.value(i), b.job.value(i), b.key.value(i));
        let before = if i > 0 {
            Some((b.kind.value(i - 1), b.job.value(i - 1), b.key.value(i - 1)))
        } else {
            self.last.as_ref().map(|(k, j, key)| (*k, *j, key.as_slice()))
        };
        if before.is_some_and(|before| before >= here) {
            return Err(bad(&self.path, "rows are not sorted by (kind, job, key): damaged").into());
        }
        Ok(())
    }

    /// The current row's (kind, job, key), or None at the end.
    pub fn head(&self) -> Option<(u8, u32, &[u8])> {
        let b = self.batch.as_ref()?;
        Some((b.kind.value(self.at), b.job.value(self.at), b.key.value(self.at)))
    }

    /// The current row's value.
    pub fn value(&self) -> &[u8] {
        let b = self.batch.as_ref().expect("value() at the end");
        b.value.value(self.at)
    }

    /// Moves to the next row (hashing the current one).
    pub fn advance(&mut self) -> Result<()> {
        let Some(b) = &self.batch else { return Ok(()) };
        hash_row(
            &mut self.hash,
            b.kind.value(self.at),
            b.job.value(self.at),
            b.key.value(self.at),
            b.value.value(self.at),
        );
        self.at += 1;
        if self.at >= b.key.len() {
            self.next_batch()
        } else {
            self.check_order()
        }
    }

    /// The xxh3 of the rows read so far (all of them at the end).
    pub fn digest(&self) -> u64 {
        self.hash.digest()
    }

    /// The run file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
