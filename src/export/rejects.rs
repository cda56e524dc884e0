//! The rejects report: every input row that produced nothing, with the reason, as TSV
//! (`row  id  smiles  reason  detail`), written atomically like every export.

use std::io::{BufWriter, Write};
use std::path::Path;

use crate::error::{ExportError, Result};
use crate::publish::AtomicFile;
use crate::store::ReadOnlyStore;

/// Writes the rejected rows of input `input_key` to `dest`; returns how many.
pub fn write_rejects(store: &ReadOnlyStore, input_key: &str, dest: &Path) -> Result<u64> {
    let io = |context: &'static str| move |source| ExportError::Io { path: dest.into(), context, source };
    let (target, file) = AtomicFile::create(dest)?;
    let mut w = BufWriter::new(file);
    writeln!(w, "row\tid\tsmiles\treason\tdetail").map_err(io("write rejects"))?;
    let mut n = 0u64;
    for item in store.rejects(input_key)? {
        let (row, r) = item?;
        let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
        writeln!(
            w,
            "{row}\t{}\t{}\t{}\t{}",
            clean(r.id.as_deref().unwrap_or("")),
            clean(r.smiles.as_deref().unwrap_or("")),
            r.reason,
            clean(&r.detail)
        )
        .map_err(io("write rejects"))?;
        n += 1;
    }
    super::text::finish(target, w, dest, n + 1, false)?;
    Ok(n)
}
