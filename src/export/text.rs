//! Text exports: `.smi` (SMILES + id, for cheminformatics tools) and CSV (the Parquet export's
//! record batches written by arrow-csv, RFC 4180 quoting; the site-atom list as `3;4`), written
//! through the same atomic protocol and validated streaming, by their own rules.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};

use super::columns::{check_header, ColumnsBuilder};
use crate::error::{ExportError, Result};
use crate::publish::AtomicFile;
use crate::reader::Reader;
use crate::store::{JobMeta, ProductRecord};

/// Text formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    /// `SMILES<TAB><rule>:<parent id or row>:<site>` per line, no header.
    Smi,
    /// Header + one row per product, same columns as the Parquet export.
    Csv,
    /// SDF: a molblock with 2D coordinates per product, the columns as SD data fields.
    Sdf,
    /// SDF, gzip-compressed (`.sdf.gz`).
    SdfGz,
}

impl TextFormat {
    /// `CSV` or `SMILES`.
    pub fn name(&self) -> &'static str {
        match self {
            TextFormat::Smi => "SMILES",
            TextFormat::Csv => "CSV",
            TextFormat::Sdf => "SDF",
            TextFormat::SdfGz => "SDF (gzip)",
        }
    }
}

/// Read size of the streaming validation: memory stays at this whatever the file's size.
const READ_CHUNK: usize = 1 << 20;

/// Rows per record batch handed to the CSV writer.
const CSV_BATCH_ROWS: usize = 8192;

/// Writes all products of `job` to `dest` as CSV or SMILES (SDF: `sdf.rs`); returns the row count.
/// Writes `job`'s products as SMILES or CSV; `inchikeys`: the InChIKey columns (CSV), failures
/// counted there.
pub(super) fn export_text(
    store: &Reader,
    job: &JobMeta,
    dest: &Path,
    format: TextFormat,
    inchikeys: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
) -> Result<u64> {
    let io = |context: &'static str| move |source| ExportError::Io { path: dest.into(), context, source };
    let csv_err = |source: arrow_schema::ArrowError| ExportError::Csv { path: dest.into(), source };
    let (target, file) = AtomicFile::create(dest)?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let mut rows = 0u64;
    match format {
        TextFormat::Smi => {
            for item in store.scan_from(&job.id, &[])? {
                let (smiles, rec) = item?;
                writeln!(w, "{smiles}\t{}", smi_id(job, &rec)).map_err(io("write"))?;
                rows += 1;
            }
        }
        TextFormat::Sdf | TextFormat::SdfGz => unreachable!("written by sdf.rs"),
        TextFormat::Csv => {
            let mut cols = ColumnsBuilder::new(job).inchikeys(inchikeys);
            let mut csv = arrow_csv::WriterBuilder::new().with_header(true).build(&mut w);
            let flush = |cols: &mut ColumnsBuilder, csv: &mut arrow_csv::Writer<_>| -> Result<(), ExportError> {
                let batch = cols.finish().map_err(csv_err)?;
                csv.write(&text_columns(&batch).map_err(csv_err)?).map_err(csv_err)
            };
            for item in store.scan_from(&job.id, &[])? {
                let (smiles, rec) = item?;
                cols.push(&smiles, &rec);
                rows += 1;
                if cols.len() >= CSV_BATCH_ROWS {
                    flush(&mut cols, &mut csv)?;
                }
            }
            if cols.len() > 0 || rows == 0 {
                flush(&mut cols, &mut csv)?; // an empty job still gets its header
            }
            drop(csv);
        }
    }
    let header = u64::from(format == TextFormat::Csv);
    finish(target, w, dest, rows + header, format == TextFormat::Csv)?;
    Ok(rows)
}

/// The batch with list columns rendered as text (`3;4`), which CSV cannot hold otherwise.
pub(super) fn text_columns(batch: &RecordBatch) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let schema = batch.schema();
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(fields.capacity());
    for (f, col) in schema.fields().iter().zip(batch.columns()) {
        if let DataType::List(_) = f.data_type() {
            let list = col.as_list::<i32>();
            let text: StringArray = (0..list.len())
                .map(|i| {
                    list.is_valid(i).then(|| {
                        let v = list.value(i);
                        let v = v.as_primitive::<arrow_array::types::UInt32Type>();
                        v.values().iter().map(u32::to_string).collect::<Vec<_>>().join(";")
                    })
                })
                .collect();
            fields.push(Field::new(f.name(), DataType::Utf8, f.is_nullable()));
            columns.push(Arc::new(text));
        } else {
            fields.push(f.as_ref().clone());
            columns.push(col.clone());
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

/// Flushes `w`, then commits `target` after checking the file holds `records` records (lines;
/// with `quoted`, line breaks inside CSV quotes do not count).
pub(super) fn finish(
    target: AtomicFile,
    w: BufWriter<std::fs::File>,
    dest: &Path,
    records: u64,
    quoted: bool,
) -> Result<()> {
    let io = |context: &'static str| move |source| ExportError::Io { path: dest.into(), context, source };
    w.into_inner().map_err(|e| io("flush")(e.into_error()))?;
    target.commit(|tmp| {
        let file = File::open(tmp).map_err(io("re-read"))?;
        let found = count_records(file, quoted).map_err(io("re-read"))?;
        if found != records {
            return Err(ExportError::Validation {
                path: dest.into(),
                reason: format!("{found} records, {records} written"),
            }
            .into());
        }
        Ok(())
    })
}

pub(super) fn smi_id(job: &JobMeta, r: &ProductRecord) -> String {
    let parent = r.parent_id.clone().unwrap_or_else(|| format!("row{}", r.parent_row));
    format!("{}:{}:{}", job.rule.name, parent.replace(char::is_whitespace, "_"), r.site_index)
}

/// Number of records (lines; with `quoted`, lines ending outside CSV quotes) in a text file,
/// streaming (memory does not grow with the file).
fn count_records(reader: impl Read, quoted: bool) -> std::io::Result<u64> {
    let mut counter = RecordCounter { inner: reader, quoted, in_quotes: false, records: 0 };
    std::io::copy(&mut counter, &mut std::io::sink())?;
    Ok(counter.records)
}

/// A reader that counts the records (line breaks; with `quoted`, outside CSV quotes) of the
/// bytes read through it, so a parser and the count share one pass over the file.
struct RecordCounter<R> {
    inner: R,
    quoted: bool,
    in_quotes: bool,
    records: u64,
}

impl<R: Read> Read for RecordCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let len = self.inner.read(buf)?;
        for &b in &buf[..len] {
            match b {
                b'"' if self.quoted => self.in_quotes = !self.in_quotes,
                b'\n' if !self.in_quotes => self.records += 1,
                _ => {}
            }
        }
        Ok(len)
    }
}

/// What `verify_text` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextReport {
    /// Records, not counting the CSV header.
    pub records: u64,
    /// Fields per record.
    pub columns: usize,
}

/// [`verify_text`](super::verify_text) of a CSV or `.smi` file (SDF: `sdf.rs`).
pub(super) fn verify_lines(path: &Path, format: TextFormat) -> Result<TextReport, ExportError> {
    let invalid = |reason: String| ExportError::Validation { path: path.into(), reason };
    let file = File::open(path).map_err(|source| ExportError::Io { path: path.into(), context: "open", source })?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut last = [0u8; 1];
    if len > 0 {
        use std::os::unix::fs::FileExt;
        file.read_exact_at(&mut last, len - 1).map_err(|e| invalid(e.to_string()))?;
    }
    if len == 0 || last[0] != b'\n' {
        return Err(invalid("does not end with a line break: cut short or not an export".into()));
    }
    let reader = BufReader::with_capacity(READ_CHUNK, file);
    match format {
        TextFormat::Smi => {
            let mut records = 0u64;
            for line in reader.split(b'\n') {
                let line = line.map_err(|e| invalid(e.to_string()))?;
                records += 1;
                let fields = line.split(|&b| b == b'\t').count();
                if fields != 2 || line.starts_with(b"\t") || line.contains(&0) {
                    return Err(invalid(format!("line {records}: expected SMILES<TAB>id, found {fields} field(s)")));
                }
            }
            Ok(TextReport { records, columns: 2 })
        }
        TextFormat::Sdf | TextFormat::SdfGz => unreachable!("verified by sdf.rs"),
        TextFormat::Csv => {
            let counter = RecordCounter { inner: reader, quoted: true, in_quotes: false, records: 0 };
            let mut csv = csv::ReaderBuilder::new().has_headers(true).from_reader(counter);
            let header = csv.headers().map_err(|e| invalid(format!("header: {e}")))?.clone();
            check_header(header.iter()).map_err(invalid)?;
            let mut records = 0u64;
            let mut record = csv::ByteRecord::new();
            loop {
                match csv.read_byte_record(&mut record) {
                    Ok(false) => break,
                    Ok(true) => records += 1,
                    Err(e) => return Err(invalid(format!("record {}: {e}", records + 1))),
                }
            }
            // the csv reader accepts a quote left open at the end of the file as a last field:
            // the line breaks counted outside quotes on the same pass tell
            let lines = csv.into_inner().records;
            if lines != records + 1 {
                return Err(invalid(format!("{records} records parsed, {} line breaks outside quotes", lines)));
            }
            Ok(TextReport { records, columns: header.len() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_counting() {
        assert_eq!(count_records(&b"h\n\"a\nb\",1\nc,2\n"[..], true).unwrap(), 3);
        assert_eq!(count_records(&b"h\n\"a\nb\",1\nc,2\n"[..], false).unwrap(), 4);
    }
}
