//! Publishing a step's output atomically on shared storage: written under a temp name that
//! names the host and process (`.NAME.tmp-HOST-PID`), fsynced, then renamed into place. A folder
//! carries its done marker inside, so the rename publishes the data and the marker together; a
//! reader sees a finished unit or shard, or none. Two processes doing the same step (a retried
//! task whose first attempt still runs) both finish; the second rename finds the first's
//! folder and discards its own copy.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::error::{PartitionError, Result};

fn io<'a>(path: &'a Path, context: &'static str) -> impl FnOnce(std::io::Error) -> PartitionError + 'a {
    move |source| PartitionError::Io { path: path.into(), context, source }
}

/// This machine's name (temp names carry it: a pid means nothing on another host).
pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty() && !h.contains(['/', '\0']))
        .unwrap_or_else(|| "localhost".into())
}

fn temp_prefix(name: &str) -> String {
    format!(".{name}.tmp-{}-", host())
}

/// A fresh temp path beside `dest`, named for this host and process.
pub fn temp_beside(dest: &Path) -> PathBuf {
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    dest.with_file_name(format!("{}{}", temp_prefix(&name), std::process::id()))
}

/// Removes temp files and folders of `dest` left by processes of this host that are gone.
/// (Those of other hosts are left alone: whether their process lives cannot be told here.)
pub fn remove_stale(dest: &Path) {
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let prefix = temp_prefix(&name);
    let Some(dir) = dest.parent() else { return };
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let fname = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = fname.strip_prefix(&prefix).and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid == std::process::id() || !Path::new(&format!("/proc/{pid}")).exists() {
            let p = e.path();
            let _ = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
        }
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir, "fsync folder"))?;
    Ok(())
}

/// Writes `bytes` to `dest` atomically (temp, fsync, rename, fsync the folder).
pub fn publish_file(dest: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_beside(dest);
    let mut f = File::create(&tmp).map_err(io(&tmp, "create"))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(io(&tmp, "write"))?;
    drop(f);
    std::fs::rename(&tmp, dest).map_err(io(dest, "rename into place"))?;
    sync_dir(dest.parent().unwrap_or(Path::new(".")))
}

/// Writes `value` as JSON to `path` (not atomically: for files inside a temp folder).
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    let mut f = File::create(path).map_err(io(path, "create"))?;
    let json = serde_json::to_vec_pretty(value).expect("serializes");
    f.write_all(&json).and_then(|_| f.sync_all()).map_err(io(path, "write"))?;
    Ok(())
}

/// Reads a JSON file.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).map_err(io(path, "read"))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| PartitionError::Plan { path: path.into(), reason: format!("not valid: {e}") }.into())
}

/// Reads a step's done marker at `path`: None when the step is not done.
pub fn read_marker<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    if !path.exists() {
        return Ok(None);
    }
    read_json(path).map(Some)
}

/// Moves the finished temp folder `tmp` to `dest`. Returns false (and removes `tmp`) when
/// `dest` already exists: another process finished the same step first.
pub fn publish_dir(tmp: &Path, dest: &Path) -> Result<bool> {
    sync_dir(tmp)?;
    if dest.exists() {
        let _ = std::fs::remove_dir_all(tmp);
        return Ok(false);
    }
    match std::fs::rename(tmp, dest) {
        Ok(()) => {}
        // rename(2) onto a non-empty folder: another process got there between the check and now
        Err(e) if dest.exists() && matches!(e.raw_os_error(), Some(39) | Some(17)) => {
            let _ = std::fs::remove_dir_all(tmp);
            return Ok(false);
        }
        Err(e) => return Err(io(dest, "rename into place")(e).into()),
    }
    sync_dir(dest.parent().unwrap_or(Path::new(".")))?;
    Ok(true)
}

/// A step's output folder `dest`, built in a fresh temp folder beside it by `build` and
/// published with [`publish_dir`] (`create_tmp`: whether to create the temp folder first; a
/// RocksDB store creates its own). Stale temp folders of this host are removed first; on error
/// the temp folder is removed. Returns None when another process published `dest` first.
pub fn build_and_publish<T>(
    dest: &Path,
    create_tmp: bool,
    build: impl FnOnce(&Path) -> Result<T>,
) -> Result<Option<T>> {
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent, "create folder"))?;
    }
    remove_stale(dest);
    let tmp = temp_beside(dest);
    if create_tmp {
        std::fs::create_dir(&tmp).map_err(io(&tmp, "create"))?;
    }
    let value = match build(&tmp) {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    Ok(publish_dir(&tmp, dest)?.then_some(value))
}
