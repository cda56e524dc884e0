//! Text exports: `.smi` (SMILES + id, for cheminformatics tools) and CSV (every column of the
//! Parquet schema, RFC 4180 quoting), written and validated through the same atomic protocol.

use std::io::{BufWriter, Write};
use std::path::Path;

use super::atomic::AtomicFile;
use super::schema::job_schema;
use crate::error::{ExportError, Result};
use crate::store::{JobMeta, ProductRecord, Store};

/// Text formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    /// `SMILES<TAB><rule>:<parent id or row>:<site>` per line, no header.
    Smi,
    /// Header + one row per product, same columns as the Parquet export.
    Csv,
}

/// Writes all products of `job` to `dest` in `format`; returns the row count.
pub fn export_text(store: &Store, job: &JobMeta, dest: &Path, format: TextFormat) -> Result<u64> {
    let io = |context: &'static str| move |source| ExportError::Io { path: dest.into(), context, source };
    let (target, file) = AtomicFile::create(dest)?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let header = format == TextFormat::Csv;
    if header {
        let names: Vec<String> =
            job_schema(&job.input.carry_columns).fields().iter().map(|f| f.name().clone()).collect();
        writeln!(w, "{}", names.join(",")).map_err(io("write"))?;
    }
    let mut rows = 0u64;
    for item in store.scan(&job.id)? {
        let (smiles, rec) = item?;
        match format {
            TextFormat::Smi => writeln!(w, "{smiles}\t{}", smi_id(job, &rec)),
            TextFormat::Csv => writeln!(w, "{}", csv_row(job, &smiles, &rec)),
        }
        .map_err(io("write"))?;
        rows += 1;
    }
    finish(target, w, dest, rows + u64::from(header), true)?;
    Ok(rows)
}

/// Flushes `w`, then commits `target` after checking the file holds `records` records (lines;
/// with `quoted`, line breaks inside CSV quotes do not count).
pub(super) fn finish(
    target: AtomicFile,
    w: BufWriter<std::fs::File>,
    dest: &Path,
    records: u64,
    quoted: bool,
) -> Result<(), ExportError> {
    let io = |context: &'static str| move |source| ExportError::Io { path: dest.into(), context, source };
    w.into_inner().map_err(|e| io("flush")(e.into_error()))?;
    target.commit(|tmp| {
        let text = std::fs::read(tmp).map_err(io("re-read"))?;
        let found = if quoted { count_records(&text) } else { text.iter().filter(|&&b| b == b'\n').count() as u64 };
        if found != records {
            return Err(ExportError::Validation {
                path: dest.into(),
                reason: format!("{found} records, {records} written"),
            });
        }
        Ok(())
    })
}

fn smi_id(job: &JobMeta, r: &ProductRecord) -> String {
    let parent = r.parent_id.clone().unwrap_or_else(|| format!("row{}", r.parent_row));
    format!("{}:{}:{}", job.rule.name, parent.replace(char::is_whitespace, "_"), r.site_index)
}

fn csv_row(job: &JobMeta, smiles: &str, r: &ProductRecord) -> String {
    let num = |v: Option<String>| v.unwrap_or_default();
    let p = r.props.as_ref();
    let atoms = r.site_atoms.iter().map(u32::to_string).collect::<Vec<_>>().join(";");
    let mut fields = vec![
        quote(smiles),
        quote(&job.rule.name),
        quote(&job.rule.label),
        r.site_index.to_string(),
        quote(&atoms),
        quote(&r.parent_smiles),
        r.parent_row.to_string(),
        quote(r.parent_id.as_deref().unwrap_or("")),
        r.occurrences.to_string(),
        num(p.map(|p| p.mw.to_string())),
        num(p.map(|p| p.tpsa.to_string())),
        num(p.map(|p| p.hbd.to_string())),
        num(p.map(|p| p.hba.to_string())),
        num(p.map(|p| p.clogp.to_string())),
        num(p.map(|p| p.rotb.to_string())),
    ];
    fields.extend(r.carried.iter().map(|v| quote(v.as_deref().unwrap_or(""))));
    fields.join(",")
}

/// RFC 4180: quote fields holding a comma, quote or line break; double inner quotes.
fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// Number of records (lines ending outside quotes) in CSV/SMI text.
fn count_records(text: &[u8]) -> u64 {
    let mut in_quotes = false;
    let mut n = 0;
    for &b in text {
        match b {
            b'"' => in_quotes = !in_quotes,
            b'\n' if !in_quotes => n += 1,
            _ => {}
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_record_counting() {
        assert_eq!(quote("CCO"), "CCO");
        assert_eq!(quote("a,b"), "\"a,b\"");
        assert_eq!(quote("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(count_records(b"h\n\"a\nb\",1\nc,2\n"), 3);
    }
}
