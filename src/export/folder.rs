//! Split exports: a folder of Parquet parts (`part-00000.parquet`, ...) plus `manifest.json`,
//! committed as a whole. Parts are written and validated in a temp folder next to the
//! destination, the manifest is written last, everything is fsynced, then the temp folder is
//! renamed to the destination. An existing destination is swapped with the new folder in one
//! step (Linux `renameat2(RENAME_EXCHANGE)`), so a reader always finds a complete folder, old
//! or new; the old one, now at the temp name, is then removed. Where the exchange is not
//! supported (other systems, some file systems) the old folder is renamed aside first, which
//! leaves an instant with no folder. Leftovers of a killed export are removed by the next
//! export to the same destination.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::part::{write_parts, Part};
use super::ExportOptions;
use crate::error::{ExportError, Result};
use crate::publish::{replace_folder, write_json_synced};
use crate::reader::Reader;
use crate::store::{JobMeta, ReadOnlyStore};

/// Name of the manifest inside a split export.
pub const MANIFEST: &str = "manifest.json";

/// The manifest of a split export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Manifest format tag (`xfstore-products-parquet-v1`).
    pub format: String,
    /// Job id exported.
    pub job: String,
    /// Rule name of the job.
    pub rule: String,
    /// Rows in all parts.
    pub rows: u64,
    /// The parts, in order.
    pub parts: Vec<ManifestPart>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestPart {
    pub file: String,
    pub rows: u64,
    pub bytes: u64,
}

/// Writes a split export of `job` to the folder `opts.output`.
pub(super) fn export_folder(store: &Reader, job: &JobMeta, opts: &ExportOptions) -> Result<Vec<Part>> {
    let dest = &opts.output;
    write_folder(dest, job, |tmp| {
        let rows = store.scan_from(&job.id, &[])?;
        write_parts(rows, job, opts, None, |i| tmp.join(format!("part-{i:05}.parquet")), None)
    })
}

/// Writes one part per shard (`part-<shard>.parquet`, each that shard's products of the job)
/// and the manifest, as one folder published as a whole: a partitioned job's export, without
/// merging the shards. `shards` are every shard's store, in partition order.
pub(super) fn export_shards(shards: &[&ReadOnlyStore], job: &JobMeta, opts: &ExportOptions) -> Result<Vec<Part>> {
    let one_part = ExportOptions { split_rows: 0, split_bytes: 0, ..opts.clone() };
    write_folder(&opts.output, job, |tmp| {
        let mut parts = Vec::with_capacity(shards.len());
        for (i, store) in shards.iter().enumerate() {
            let path = tmp.join(format!("part-{i:05}.parquet"));
            parts.append(&mut write_parts(store.scan(&job.id)?, job, &one_part, None, |_| path.clone(), None)?);
        }
        Ok(parts)
    })
}

/// Publishes the folder `dest` whose parts `write` writes into the temp folder, with the
/// manifest, validated.
fn write_folder(dest: &Path, job: &JobMeta, write: impl FnOnce(&Path) -> Result<Vec<Part>>) -> Result<Vec<Part>> {
    if dest.exists() && !dest.join(MANIFEST).exists() {
        return Err(ExportError::Validation {
            path: dest.into(),
            reason: "exists and is not an xfstore split export (no manifest.json); refusing to replace it".into(),
        }
        .into());
    }
    let parts = replace_folder(dest, |tmp| {
        let parts = write(tmp)?;
        let manifest = Manifest {
            format: "xfstore-products-parquet-v1".into(),
            job: job.id.clone(),
            rule: job.rule.name.clone(),
            rows: parts.iter().map(|p| p.rows).sum(),
            parts: parts
                .iter()
                .map(|p| ManifestPart {
                    file: p.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                    rows: p.rows,
                    bytes: p.bytes,
                })
                .collect(),
        };
        write_json_synced(&tmp.join(MANIFEST), &manifest)?;
        verify_folder(tmp, false)?;
        Ok(parts)
    })?;
    let parts =
        parts.into_iter().map(|p| Part { path: dest.join(p.path.file_name().unwrap_or_default()), ..p }).collect();
    Ok(parts)
}

/// Verifies a split export: the manifest parses, every listed part is a valid export with the
/// listed row count, no part file is missing or extra. Returns the manifest.
pub fn verify_folder(dir: &Path, full: bool) -> Result<Manifest, ExportError> {
    let invalid = |reason: String| ExportError::Validation { path: dir.into(), reason };
    let text = std::fs::read_to_string(dir.join(MANIFEST)).map_err(|e| invalid(format!("manifest.json: {e}")))?;
    let m: Manifest = serde_json::from_str(&text).map_err(|e| invalid(format!("manifest.json: {e}")))?;
    let mut total = 0;
    for p in &m.parts {
        let r = super::verify(&dir.join(&p.file), full)?;
        if r.rows != p.rows {
            return Err(invalid(format!("{} has {} rows, the manifest says {}", p.file, r.rows, p.rows)));
        }
        total += r.rows;
    }
    if total != m.rows {
        return Err(invalid(format!("parts hold {total} rows, the manifest says {}", m.rows)));
    }
    let on_disk = std::fs::read_dir(dir)
        .map_err(|e| invalid(e.to_string()))?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".parquet"))
        .count();
    if on_disk != m.parts.len() {
        return Err(invalid(format!("{on_disk} part files on disk, {} in the manifest", m.parts.len())));
    }
    Ok(m)
}
