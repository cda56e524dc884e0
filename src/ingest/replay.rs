//! The writer benchmark's input: a recorded product stream, replayed through the real ingest
//! pipeline with RDKit taken out.
//!
//! Why: the write path (fold, dedup, commit, RocksDB's own flushes and compactions) must keep
//! up with 16-32 transform cores, which this 2-core machine cannot show by running the
//! transform. So the transform's outcomes of a real job (one product per matched site, with its
//! real duplicate rate) are recorded ONCE to a Parquet file (`record_product_stream`), and
//! [`IngestPlan::replay`](super::IngestPlan::replay) runs the ingest again reading them instead
//! of calling RDKit: the same reader, batches, flow control, fold and writer thread, so what it
//! measures is the ceiling of everything but chemistry.
//!
//! The stream file has one row per site outcome and one per rejected input row, in input order:
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `row` | uint64 | input row |
//! | `kind` | uint8 | 0 product, 1 site RDKit could not sanitize, 2 rejected row |
//! | `product` | utf8 | canonical SMILES of the product (kind 0) |
//! | `site_atoms` | utf8 | the site's parent atoms, space-separated (kinds 0 and 1) |
//! | `canonical_parent` | utf8 | the parent's canonical SMILES (kind 0) |
//! | `detail` | utf8 | RDKit's message (kinds 1 and 2) |
//!
//! Rows without any entry matched no site. Only single-rule jobs are recorded; properties are
//! not (the benchmark is of the write path).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{StringBuilder, UInt64Builder, UInt8Builder};
use arrow_array::cast::AsArray;
use arrow_array::types::{UInt64Type, UInt8Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use super::batch::Chunk;
use crate::chem::SiteOutcome;
use crate::error::{IngestError, Result};
use crate::input::{InputBatch, InputFile};
use crate::rules::Rule;
use crate::transform::{Reject, RowOptions, Transformed};

/// Footer key holding the number of input rows the stream covers.
const ROWS_KEY: &str = "xfstore.stream.rows";

const KIND_PRODUCT: u8 = 0;
const KIND_SANITIZE_FAILED: u8 = 1;
const KIND_REJECTED: u8 = 2;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("row", DataType::UInt64, false),
        Field::new("kind", DataType::UInt8, false),
        Field::new("product", DataType::Utf8, true),
        Field::new("site_atoms", DataType::Utf8, true),
        Field::new("canonical_parent", DataType::Utf8, true),
        Field::new("detail", DataType::Utf8, true),
    ]))
}

fn stream_err(path: &Path, detail: impl std::fmt::Display) -> IngestError {
    IngestError::Stream { path: path.into(), detail: detail.to_string() }
}

/// What `record_product_stream` wrote.
#[derive(Debug, Clone, Default)]
pub struct RecordReport {
    /// Input rows transformed.
    pub rows: u64,
    /// Products recorded (one per parent x site).
    pub products: u64,
    /// Wall-clock seconds (RDKit's transform, the cost the replay leaves out).
    pub elapsed_secs: f64,
}

/// Transforms up to `limit` rows of `input` with `rule` (no properties, parents canonicalized
/// as ingest does for its parent index) and records every outcome to the Parquet file `out`
/// (written to `out.tmp`, renamed when complete).
pub fn record_product_stream(input: &InputFile, rule: &Rule, out: &Path, limit: Option<u64>) -> Result<RecordReport> {
    let started = std::time::Instant::now();
    let tmp = PathBuf::from(format!("{}.tmp", out.display()));
    let file = File::create(&tmp).map_err(|e| stream_err(&tmp, e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).map_err(|e| stream_err(out, e))?))
        .build();
    let mut writer = ArrowWriter::try_new(file, schema(), Some(props)).map_err(|e| stream_err(&tmp, e))?;
    let opts = RowOptions { with_props: false, canonical_parent: true, ..RowOptions::default() };
    let mut report = RecordReport::default();
    for batch in input.batches(None, 0, 4096, limit)? {
        let chunk = Chunk::transform(batch?, &[rule], &opts, crate::chem::PropsMode::None);
        report.rows += chunk.rows.len() as u64;
        report.products += chunk.products();
        let rb = encode_chunk(&chunk).map_err(|e| stream_err(&tmp, e))?;
        writer.write(&rb).map_err(|e| stream_err(&tmp, e))?;
    }
    writer.append_key_value_metadata(KeyValue::new(ROWS_KEY.to_owned(), report.rows.to_string()));
    writer.close().map_err(|e| stream_err(&tmp, e))?;
    std::fs::rename(&tmp, out).map_err(|e| stream_err(out, e))?;
    report.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(report)
}

fn encode_chunk(chunk: &Chunk) -> std::result::Result<RecordBatch, arrow_schema::ArrowError> {
    let mut row = UInt64Builder::new();
    let mut kind = UInt8Builder::new();
    let (mut product, mut atoms, mut parent, mut detail) =
        (StringBuilder::new(), StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
    let join = |a: &[u32]| a.iter().map(u32::to_string).collect::<Vec<_>>().join(" ");
    for (i, outcome) in chunk.outcomes.iter().enumerate() {
        let r = chunk.rows.first_row + i as u64;
        match outcome {
            Err(reject) => {
                row.append_value(r);
                kind.append_value(KIND_REJECTED);
                product.append_null();
                atoms.append_null();
                parent.append_null();
                detail.append_value(format!("{}: {}", reject.key(), reject.detail()));
            }
            Ok(t) => {
                for site in t.per_rule.iter().flatten() {
                    row.append_value(r);
                    match site {
                        SiteOutcome::Product { smiles, site_atoms, .. } => {
                            kind.append_value(KIND_PRODUCT);
                            product.append_value(smiles);
                            atoms.append_value(join(site_atoms));
                            parent.append_option(t.canonical_parent.as_deref());
                            detail.append_null();
                        }
                        SiteOutcome::SanitizeFailed { site_atoms, reason } => {
                            kind.append_value(KIND_SANITIZE_FAILED);
                            product.append_null();
                            atoms.append_value(join(site_atoms));
                            parent.append_null();
                            detail.append_value(reason);
                        }
                    }
                }
            }
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(row.finish()),
        Arc::new(kind.finish()),
        Arc::new(product.finish()),
        Arc::new(atoms.finish()),
        Arc::new(parent.finish()),
        Arc::new(detail.finish()),
    ];
    RecordBatch::try_new(schema(), columns)
}

/// The reject recorded as `key: detail`, with its original reason key.
fn reject_of(recorded: &str) -> Reject {
    let (key, detail) = recorded.split_once(": ").unwrap_or(("rdkit_error", recorded));
    let detail = detail.to_owned();
    match key {
        "null_smiles" => Reject::NullSmiles,
        "parse_error" => Reject::Parse(detail),
        "sanitize_error" => Reject::Sanitize(detail),
        "malformed_record" => Reject::Malformed(detail),
        "too_large" => Reject::RecordTooLarge(detail),
        _ => Reject::Rdkit(detail),
    }
}

/// Reads a recorded stream back as chunk outcomes, in input order.
pub(super) struct StreamReader {
    /// Input rows the stream covers (a replay stops there).
    pub rows: u64,
    path: PathBuf,
    reader: ParquetRecordBatchReader,
    current: Option<RecordBatch>,
    at: usize,
}

impl StreamReader {
    /// Opens a stream file written by `record_product_stream`.
    pub(super) fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| stream_err(path, e))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| stream_err(path, e))?;
        if builder.schema().fields() != schema().fields() {
            return Err(stream_err(path, "not a product stream (columns differ)").into());
        }
        let rows = builder
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .and_then(|kv| kv.iter().find(|kv| kv.key == ROWS_KEY))
            .and_then(|kv| kv.value.as_deref()?.parse().ok())
            .ok_or_else(|| stream_err(path, format!("no {ROWS_KEY} in the footer: not a complete stream")))?;
        let reader = builder.with_batch_size(65_536).build().map_err(|e| stream_err(path, e))?;
        Ok(Self { rows, path: path.into(), reader, current: None, at: 0 })
    }

    /// The recorded outcomes of the rows of `rows` (which must follow the rows asked for
    /// before), as a chunk.
    pub(super) fn chunk(&mut self, rows: InputBatch) -> Result<Chunk> {
        let first = rows.first_row;
        let end = first + rows.len() as u64;
        let empty = || Ok(Transformed { canonical_parent: None, per_rule: vec![Vec::new()], masked: vec![0] });
        let mut outcomes: Vec<std::result::Result<Transformed, Reject>> = (0..rows.len()).map(|_| empty()).collect();
        loop {
            if self.current.as_ref().is_none_or(|b| self.at >= b.num_rows()) {
                match self.reader.next() {
                    None => break,
                    Some(b) => {
                        self.current = Some(b.map_err(|e| stream_err(&self.path, e))?);
                        self.at = 0;
                        continue;
                    }
                }
            }
            let b = self.current.as_ref().expect("checked above");
            let row = b.column(0).as_primitive::<UInt64Type>().value(self.at);
            if row >= end {
                break;
            }
            if row < first {
                return Err(stream_err(&self.path, format!("row {row} out of order (reading from {first})")).into());
            }
            let kind = b.column(1).as_primitive::<UInt8Type>().value(self.at);
            let text = |c: usize| {
                let a = b.column(c).as_string::<i32>();
                (!a.is_null(self.at)).then(|| a.value(self.at).to_owned())
            };
            let atoms = || -> Vec<u32> {
                text(3).unwrap_or_default().split_whitespace().filter_map(|a| a.parse().ok()).collect()
            };
            let slot = &mut outcomes[(row - first) as usize];
            match (kind, slot.as_mut()) {
                (KIND_REJECTED, _) => *slot = Err(reject_of(&text(5).unwrap_or_default())),
                (KIND_PRODUCT, Ok(t)) => {
                    t.canonical_parent = text(4);
                    let smiles = text(2).ok_or_else(|| stream_err(&self.path, "product without SMILES"))?;
                    t.per_rule[0].push(SiteOutcome::Product { smiles, site_atoms: atoms(), props: None });
                }
                (KIND_SANITIZE_FAILED, Ok(t)) => t.per_rule[0]
                    .push(SiteOutcome::SanitizeFailed { site_atoms: atoms(), reason: text(5).unwrap_or_default() }),
                (k, _) => return Err(stream_err(&self.path, format!("row {row}: unexpected entry kind {k}")).into()),
            }
            self.at += 1;
        }
        Ok(Chunk { rows, outcomes, mols: Vec::new() })
    }
}
