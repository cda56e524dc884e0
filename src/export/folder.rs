//! Split exports: a folder of Parquet parts (`part-00000.parquet`, ...) plus `manifest.json`,
//! committed as a whole. Parts are written and validated in a temp folder next to the
//! destination, the manifest is written last, everything is fsynced, then the temp folder is
//! renamed to the destination. An existing destination is swapped with the new folder in one
//! step (Linux `renameat2(RENAME_EXCHANGE)`), so a reader always finds a complete folder, old
//! or new; the old one, now at the temp name, is then removed. Where the exchange is not
//! supported (other systems, some file systems) the old folder is renamed aside first, which
//! leaves an instant with no folder. Leftovers of a killed export are removed by the next
//! export to the same destination.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::atomic::{self, io_err, parent_dir};
use super::part::{write_parts, Part};
use super::ExportOptions;
use crate::error::{ExportError, Result};
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

fn sibling(dest: &Path, tag: &str) -> PathBuf {
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    parent_dir(dest).join(format!(".{name}.xfstore-{tag}-{}", std::process::id()))
}

/// Removes `.NAME.xfstore-{tmp,old}-PID` folders of processes that are gone.
fn remove_stale(dest: &Path) {
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let prefixes = ["tmp", "old"].map(|tag| format!(".{name}.xfstore-{tag}-"));
    atomic::remove_stale(&parent_dir(dest), &prefixes, |p| std::fs::remove_dir_all(p));
}

/// Writes a split export of `job` to the folder `opts.output`.
pub(super) fn export_folder(store: &Reader, job: &JobMeta, opts: &ExportOptions) -> Result<Vec<Part>> {
    let dest = &opts.output;
    write_folder(dest, job, |tmp| {
        let rows = store.scan_from(&job.id, &[])?;
        write_parts(rows, job, opts, None, |i| tmp.join(format!("part-{i:05}.parquet")))
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
            parts.append(&mut write_parts(store.scan(&job.id)?, job, &one_part, None, |_| path.clone())?);
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
    let parts = publish_folder(dest, |tmp| {
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
        let mpath = tmp.join(MANIFEST);
        let mut f = File::create(&mpath).map_err(io_err(dest, "write manifest"))?;
        f.write_all(serde_json::to_string_pretty(&manifest).unwrap_or_default().as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(io_err(dest, "write manifest"))?;
        verify_folder_synced(tmp, dest)?;
        Ok(parts)
    })?;
    let parts =
        parts.into_iter().map(|p| Part { path: dest.join(p.path.file_name().unwrap_or_default()), ..p }).collect();
    Ok(parts)
}

fn verify_folder_synced(tmp: &Path, dest: &Path) -> Result<()> {
    File::open(tmp).and_then(|d| d.sync_all()).map_err(io_err(dest, "fsync temp folder"))?;
    verify_folder(tmp, false)?;
    Ok(())
}

/// Builds the folder `dest` as a whole: `fill` writes into a fresh temp folder beside it, which
/// is then fsynced and put in place in one step ([`replace_dir`]), the parent fsynced and the
/// previous folder removed. On error the temp folder is removed and `dest` is untouched.
/// Leftovers of a killed run are removed first ([`remove_stale`]).
pub(crate) fn publish_folder<T>(dest: &Path, fill: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    std::fs::create_dir_all(parent_dir(dest)).map_err(io_err(dest, "create parent folder"))?;
    remove_stale(dest);
    let tmp = sibling(dest, "tmp");
    std::fs::create_dir(&tmp).map_err(io_err(dest, "create temp folder"))?;
    let filled = fill(&tmp).and_then(|v| {
        File::open(&tmp).and_then(|d| d.sync_all()).map_err(io_err(dest, "fsync temp folder"))?;
        Ok(v)
    });
    let value = match filled {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    let old = replace_dir(&tmp, dest)?;
    File::open(parent_dir(dest)).and_then(|d| d.sync_all()).map_err(io_err(dest, "fsync destination folder"))?;
    if let Some(old) = old {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(value)
}

/// Puts folder `tmp` at `dest`. An existing `dest` is exchanged with `tmp` atomically where
/// the system can (`renameat2(RENAME_EXCHANGE)`), else moved aside first; returns where the old
/// folder now is, for the caller to remove.
fn replace_dir(tmp: &Path, dest: &Path) -> Result<Option<PathBuf>, ExportError> {
    if !dest.exists() {
        std::fs::rename(tmp, dest).map_err(io_err(dest, "rename into place"))?;
        return Ok(None);
    }
    let cwd = rustix::fs::CWD;
    match rustix::fs::renameat_with(cwd, tmp, cwd, dest, rustix::fs::RenameFlags::EXCHANGE) {
        Ok(()) => return Ok(Some(tmp.to_owned())),
        // not supported here: fall back to two renames
        Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {}
        Err(e) => return Err(io_err(dest, "exchange with the previous export")(e.into())),
    }
    let old = sibling(dest, "old");
    std::fs::rename(dest, &old).map_err(io_err(dest, "move previous export aside"))?;
    std::fs::rename(tmp, dest).map_err(io_err(dest, "rename into place"))?;
    Ok(Some(old))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    /// A reader polling the destination while it is replaced again and again never finds it
    /// missing (with two renames it did: the instant between them).
    #[test]
    fn replacing_a_folder_leaves_no_instant_without_it() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("export");
        std::fs::create_dir(&dest).unwrap();
        std::fs::write(dest.join(MANIFEST), "0").unwrap();
        let (stop, misses, polls) = (AtomicBool::new(false), AtomicU64::new(0), AtomicU64::new(0));
        std::thread::scope(|s| {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    polls.fetch_add(1, Ordering::Relaxed);
                    if std::fs::metadata(dest.join(MANIFEST)).is_err() {
                        misses.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
            for i in 1..=500 {
                let tmp = dir.path().join(format!("tmp{i}"));
                std::fs::create_dir(&tmp).unwrap();
                std::fs::write(tmp.join(MANIFEST), i.to_string()).unwrap();
                let old = replace_dir(&tmp, &dest).unwrap().unwrap();
                assert_eq!(std::fs::read_to_string(old.join(MANIFEST)).unwrap(), (i - 1).to_string());
                std::fs::remove_dir_all(old).unwrap();
            }
            stop.store(true, Ordering::Relaxed);
        });
        assert_eq!(std::fs::read_to_string(dest.join(MANIFEST)).unwrap(), "500");
        assert!(polls.load(Ordering::Relaxed) > 500);
        assert_eq!(misses.load(Ordering::Relaxed), 0, "the destination was missing while being replaced");
    }
}
