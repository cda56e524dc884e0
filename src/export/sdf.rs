//! SDF export (`.sdf`, or `.sdf.gz` gzip-compressed): one V2000 record per product, with 2D
//! coordinates from RDKit's depictor, the `.smi` id (`<rule>:<parent>:<site>`) as the title line
//! and every column of the Parquet/CSV export as an SD data field (`> <name>`), the same
//! columns from the same definition (`columns.rs`); null cells are left out.
//!
//! Written through the same atomic protocol as every export (temp file, fsync, validation,
//! rename) and validated streaming: the record count read back (every record ends with `M  END`
//! then `$$$$`) must equal the products written. Molblocks are made in parallel per batch; a
//! product RDKit cannot write (never seen: products are sanitized canonical SMILES) stops the
//! export with an error naming it rather than leaving it out.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

use arrow_array::RecordBatch;
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use rayon::prelude::*;

use super::columns::ColumnsBuilder;
use super::text::{smi_id, text_columns, TextReport};
use crate::chem::smiles_to_molblock;
use crate::error::{ExportError, Result};
use crate::publish::AtomicFile;
use crate::reader::Reader;
use crate::store::JobMeta;

/// Products per batch: molblocks of one batch are made in parallel.
const SDF_BATCH: usize = 2048;

/// Writes all products of `job` to `dest` as SDF (gzip-compressed with `gzip`); returns the
/// record count.
pub(super) fn export_sdf(
    store: &Reader,
    job: &JobMeta,
    dest: &Path,
    gzip: bool,
    inchikeys: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
) -> Result<u64> {
    let (target, file) = AtomicFile::create(dest)?;
    let buffered = BufWriter::with_capacity(1 << 20, file);
    let mut w: Box<dyn Write> = if gzip {
        Box::new(flate2::write::GzEncoder::new(buffered, flate2::Compression::default()))
    } else {
        Box::new(buffered)
    };
    let mut rows = 0u64;
    let mut cols = ColumnsBuilder::new(job).inchikeys(inchikeys);
    let mut batch: Vec<(String, String)> = Vec::with_capacity(SDF_BATCH);
    let mut scan = store.scan_from(&job.id, &[])?;
    loop {
        let next = scan.next().transpose()?;
        if let Some((smiles, rec)) = next.as_ref() {
            cols.push(smiles, rec);
            batch.push((smiles.clone(), smi_id(job, rec)));
        }
        if batch.len() >= SDF_BATCH || (next.is_none() && !batch.is_empty()) {
            let table = cols
                .finish()
                .and_then(|b| text_columns(&b))
                .map_err(|source| ExportError::Csv { path: dest.into(), source })?;
            write_records(&mut w, &batch, &table, dest)?;
            rows += batch.len() as u64;
            batch.clear();
        }
        if next.is_none() {
            break;
        }
    }
    // close the gzip stream (its trailer) and flush everything to the file
    w.flush().map_err(|source| ExportError::Io { path: dest.into(), context: "flush", source })?;
    drop(w);
    target.commit(|tmp| {
        let found = verify_sdf(tmp)?.records;
        if found != rows {
            return Err(ExportError::Validation {
                path: dest.into(),
                reason: format!("{found} records, {rows} written"),
            }
            .into());
        }
        Ok(())
    })?;
    Ok(rows)
}

fn write_records(w: &mut dyn Write, batch: &[(String, String)], table: &RecordBatch, dest: &Path) -> Result<()> {
    let io = |source| ExportError::Io { path: dest.into(), context: "write", source };
    let blocks: Vec<Result<String, ExportError>> = batch
        .par_iter()
        .map(|(smiles, _)| {
            smiles_to_molblock(smiles).map_err(|e| ExportError::Validation {
                path: dest.into(),
                reason: format!("product {smiles}: RDKit cannot write a molblock: {e}"),
            })
        })
        .collect();
    let options = FormatOptions::default();
    let formatters = table
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| ExportError::Csv { path: dest.into(), source })?;
    let schema = table.schema();
    for (i, ((_, title), block)) in batch.iter().zip(blocks).enumerate() {
        let block = block?;
        // RDKit writes an empty title line: put the product's id there
        let body = block.split_once('\n').map_or(block.as_str(), |(_, rest)| rest);
        write!(w, "{title}\n{body}").map_err(io)?;
        for (f, (col, fmt)) in schema.fields().iter().zip(table.columns().iter().zip(&formatters)) {
            if col.is_null(i) {
                continue;
            }
            // a data value ends at the first empty line: keep values on one line
            let value = fmt.value(i).to_string().replace(['\n', '\r'], " ");
            write!(w, "> <{}>\n{value}\n\n", f.name()).map_err(io)?;
        }
        w.write_all(b"$$$$\n").map_err(io)?;
    }
    Ok(())
}

/// Checks an SDF export (gzip recognised by content), streaming: every record has a molblock
/// ending in `M  END`, then data fields, then `$$$$`, and the file ends with a whole record.
/// `columns` is the number of data fields of the first record.
pub fn verify_sdf(path: &Path) -> Result<TextReport, ExportError> {
    let invalid = |reason: String| ExportError::Validation { path: path.into(), reason };
    let io = |source| ExportError::Io { path: path.into(), context: "read", source };
    let mut file = File::open(path).map_err(|source| ExportError::Io { path: path.into(), context: "open", source })?;
    let mut magic = [0u8; 2];
    let gz = file.read(&mut magic).map_err(io)? == 2 && magic == [0x1f, 0x8b];
    let file = File::open(path).map_err(io)?;
    let reader: Box<dyn BufRead> = if gz {
        Box::new(BufReader::with_capacity(1 << 20, flate2::read::MultiGzDecoder::new(file)))
    } else {
        Box::new(BufReader::with_capacity(1 << 20, file))
    };
    let (mut records, mut fields, mut first_fields) = (0u64, 0usize, None);
    let (mut ended, mut in_record) = (false, false);
    let mut line_no = 0u64;
    for line in reader.split(b'\n') {
        let line = line.map_err(|e| invalid(format!("line {}: {e}", line_no + 1)))?;
        line_no += 1;
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        in_record = true;
        if line == b"M  END" {
            if ended {
                return Err(invalid(format!("line {line_no}: a second `M  END` in record {}", records + 1)));
            }
            ended = true;
        } else if line == b"$$$$" {
            if !ended {
                return Err(invalid(format!("record {} (line {line_no}) has no `M  END`", records + 1)));
            }
            records += 1;
            first_fields.get_or_insert(fields);
            (fields, ended, in_record) = (0, false, false);
        } else if ended && line.starts_with(b"> ") {
            fields += 1;
        }
    }
    if in_record {
        return Err(invalid(format!("the last record (after {records}) is not ended by `$$$$`: cut short")));
    }
    Ok(TextReport { records, columns: first_fields.unwrap_or(0) })
}
