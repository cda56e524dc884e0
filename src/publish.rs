//! Publishing files and folders atomically: one protocol for everything xfstore hands to a
//! reader (exports, a campaign's export folder, a partitioned run's plans, units and shards).
//! Build under a temp name beside the destination, fsync, rename into place, fsync the parent
//! folder: a reader sees the previous complete result or the new one, never a partial one.
//!
//! Temp names carry the host and the process (`.NAME.tmp-HOST-PID`, and `.NAME.old-HOST-PID`
//! for a folder moved aside), so the next publisher of the same destination removes what
//! processes of this host left when they died. Those of other hosts are left alone: on a
//! shared file system, whether their process lives cannot be told from here.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The error of a file operation on `path`.
pub(crate) fn io_at<'a>(path: &'a Path, context: &'static str) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Publish { path: path.into(), context, source }
}

/// This machine's name (temp names carry it: a pid means nothing on another host).
pub(crate) fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty() && !h.contains(['/', '\0']))
        .unwrap_or_else(|| "localhost".into())
}

fn file_name(dest: &Path) -> String {
    dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// `dest`'s folder (`.` for a bare file name).
pub(crate) fn parent_dir(dest: &Path) -> PathBuf {
    match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.into(),
        _ => PathBuf::from("."),
    }
}

fn prefix(dest: &Path, tag: &str) -> String {
    format!(".{}.{tag}-{}-", file_name(dest), host())
}

fn beside(dest: &Path, tag: &str) -> PathBuf {
    parent_dir(dest).join(format!("{}{}", prefix(dest, tag), std::process::id()))
}

/// A temp path beside `dest`, named for this host and process.
pub(crate) fn temp_beside(dest: &Path) -> PathBuf {
    beside(dest, "tmp")
}

/// Removes the temp files and folders of `dest` left by processes of this host that are gone
/// (or by this one).
pub(crate) fn remove_stale(dest: &Path) {
    let prefixes = ["tmp", "old"].map(|tag| prefix(dest, tag));
    let Ok(entries) = std::fs::read_dir(parent_dir(dest)) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = prefixes.iter().find_map(|p| name.strip_prefix(p.as_str())?.parse::<u32>().ok());
        let Some(pid) = pid else { continue };
        if pid == std::process::id() || !Path::new(&format!("/proc/{pid}")).exists() {
            let p = e.path();
            let _ = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
        }
    }
}

/// fsyncs a folder (its entries: a rename into it, a file created in it).
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_at(dir, "fsync folder"))
}

/// Writes `bytes` to `path` and fsyncs it (not atomically: for files inside a temp folder that
/// is published as a whole).
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = File::create(path).map_err(io_at(path, "create"))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(io_at(path, "write"))
}

/// [`write_synced`] of `value` as pretty JSON.
pub(crate) fn write_json_synced(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    write_synced(path, &serde_json::to_vec_pretty(value).expect("serializes"))
}

/// Writes `bytes` to `dest` atomically.
pub(crate) fn publish_file(dest: &Path, bytes: &[u8]) -> Result<()> {
    let (target, mut file) = AtomicFile::create(dest)?;
    file.write_all(bytes).map_err(io_at(dest, "write"))?;
    drop(file);
    target.commit(|_| Ok(()))
}

/// A file being written under a temp name, to replace `dest` on [`AtomicFile::commit`]; removed
/// if dropped before.
pub(crate) struct AtomicFile {
    dest: PathBuf,
    tmp: PathBuf,
    committed: bool,
}

impl AtomicFile {
    /// Creates the temp file beside `dest` (and `dest`'s folder), after removing stale temps.
    pub(crate) fn create(dest: &Path) -> Result<(Self, File)> {
        if dest.file_name().is_none() {
            return Err(Error::Publish {
                path: dest.into(),
                context: "create temp file",
                source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "the destination has no file name"),
            });
        }
        std::fs::create_dir_all(parent_dir(dest)).map_err(io_at(dest, "create destination folder"))?;
        remove_stale(dest);
        let tmp = temp_beside(dest);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(io_at(dest, "create temp file"))?;
        Ok((Self { dest: dest.into(), tmp, committed: false }, file))
    }

    /// The temp file (to read it back for validation).
    pub(crate) fn temp_path(&self) -> &Path {
        &self.tmp
    }

    /// fsyncs the temp file, runs `validate` on it, renames it over the destination and fsyncs
    /// the folder.
    pub(crate) fn commit(mut self, validate: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
        File::open(&self.tmp).and_then(|f| f.sync_all()).map_err(io_at(&self.dest, "fsync temp file"))?;
        validate(&self.tmp)?;
        std::fs::rename(&self.tmp, &self.dest).map_err(io_at(&self.dest, "rename into place"))?;
        self.committed = true;
        sync_dir(&parent_dir(&self.dest))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Builds `fill`'s output in a fresh temp folder beside `dest`, which is fsynced and put in
/// place in one step, replacing any previous `dest` ([`replace_dir`]); the parent is fsynced
/// and the previous folder removed. On error the temp folder is removed and `dest` untouched.
pub(crate) fn replace_folder<T>(dest: &Path, fill: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    let tmp = fresh_folder(dest, true)?;
    let value = fill_synced(&tmp, fill)?;
    let old = replace_dir(&tmp, dest)?;
    sync_dir(&parent_dir(dest))?;
    if let Some(old) = old {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(value)
}

/// Builds `build`'s output in a fresh temp folder beside `dest` (`create_tmp`: create it
/// first; a RocksDB store creates its own) and moves it to `dest` unless another process
/// published `dest` first (a retried task whose first attempt still runs): then the copy is
/// discarded and the result is None. On error the temp folder is removed.
pub(crate) fn publish_new_folder<T>(
    dest: &Path,
    create_tmp: bool,
    build: impl FnOnce(&Path) -> Result<T>,
) -> Result<Option<T>> {
    let tmp = fresh_folder(dest, create_tmp)?;
    let value = fill_synced(&tmp, build)?;
    if dest.exists() {
        let _ = std::fs::remove_dir_all(&tmp);
        return Ok(None);
    }
    match std::fs::rename(&tmp, dest) {
        Ok(()) => {}
        // rename(2) onto a non-empty folder: another process got there between the check and now
        Err(e) if dest.exists() && matches!(e.raw_os_error(), Some(39) | Some(17)) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Ok(None);
        }
        Err(e) => return Err(io_at(dest, "rename into place")(e)),
    }
    sync_dir(&parent_dir(dest))?;
    Ok(Some(value))
}

/// The temp folder path beside `dest` (created when `create`), after removing stale ones.
fn fresh_folder(dest: &Path, create: bool) -> Result<PathBuf> {
    std::fs::create_dir_all(parent_dir(dest)).map_err(io_at(dest, "create parent folder"))?;
    remove_stale(dest);
    let tmp = temp_beside(dest);
    if create {
        std::fs::create_dir(&tmp).map_err(io_at(dest, "create temp folder"))?;
    }
    Ok(tmp)
}

/// Runs `fill` on the temp folder and fsyncs it; removes it on error.
fn fill_synced<T>(tmp: &Path, fill: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    match fill(tmp).and_then(|v| sync_dir(tmp).map(|_| v)) {
        Ok(v) => Ok(v),
        Err(e) => {
            let _ = std::fs::remove_dir_all(tmp);
            Err(e)
        }
    }
}

/// Puts folder `tmp` at `dest`. An existing `dest` is exchanged with `tmp` atomically where
/// the system can (`renameat2(RENAME_EXCHANGE)`), else moved aside first; returns where the old
/// folder now is, for the caller to remove.
fn replace_dir(tmp: &Path, dest: &Path) -> Result<Option<PathBuf>> {
    if !dest.exists() {
        std::fs::rename(tmp, dest).map_err(io_at(dest, "rename into place"))?;
        return Ok(None);
    }
    let cwd = rustix::fs::CWD;
    match rustix::fs::renameat_with(cwd, tmp, cwd, dest, rustix::fs::RenameFlags::EXCHANGE) {
        Ok(()) => return Ok(Some(tmp.to_owned())),
        // not supported here: fall back to two renames
        Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {}
        Err(e) => return Err(io_at(dest, "exchange with the previous version")(e.into())),
    }
    let old = beside(dest, "old");
    std::fs::rename(dest, &old).map_err(io_at(dest, "move the previous version aside"))?;
    std::fs::rename(tmp, dest).map_err(io_at(dest, "rename into place"))?;
    Ok(Some(old))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    #[test]
    fn a_file_is_replaced_only_on_commit_and_stale_temps_go() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.bin");
        std::fs::write(&dest, b"old").unwrap();
        // a stale temp of a dead process of this host, and one of another host
        let stale = dir.path().join(format!(".out.bin.tmp-{}-999999999", host()));
        let foreign = dir.path().join(".out.bin.tmp-elsewhere-999999999");
        std::fs::write(&stale, b"junk").unwrap();
        std::fs::write(&foreign, b"theirs").unwrap();

        let (af, mut f) = AtomicFile::create(&dest).unwrap();
        assert!(!stale.exists() && foreign.exists());
        f.write_all(b"new").unwrap();
        drop(f);
        assert_eq!(std::fs::read(&dest).unwrap(), b"old");
        let refused = std::io::Error::other("no");
        assert!(af.commit(|p| Err(io_at(p, "validate")(refused))).is_err());
        assert_eq!(std::fs::read(&dest).unwrap(), b"old", "failed validation keeps the old file");

        publish_file(&dest, b"new").unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"new");
        std::fs::remove_file(&foreign).unwrap();
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    }

    /// A failed build leaves no temp folder and no destination; a second publisher of a step
    /// already published discards its copy.
    #[test]
    fn a_new_folder_is_published_once() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("unit-00000");
        let failed = publish_new_folder(&dest, true, |tmp| -> Result<()> {
            std::fs::write(tmp.join("x"), "1").unwrap();
            Err(io_at(tmp, "build")(std::io::Error::other("killed")))
        });
        assert!(failed.is_err() && !dest.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "the temp folder is gone");
        let first = publish_new_folder(&dest, true, |tmp| write_synced(&tmp.join("x"), b"first"));
        assert_eq!(first.unwrap(), Some(()));
        let second = publish_new_folder(&dest, true, |tmp| write_synced(&tmp.join("x"), b"second"));
        assert_eq!(second.unwrap(), None);
        assert_eq!(std::fs::read(dest.join("x")).unwrap(), b"first");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// A reader polling the destination while it is replaced again and again never finds it
    /// missing (with two renames it did: the instant between them).
    #[test]
    fn replacing_a_folder_leaves_no_instant_without_it() {
        const MARK: &str = "manifest.json";
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("export");
        std::fs::create_dir(&dest).unwrap();
        std::fs::write(dest.join(MARK), "0").unwrap();
        let (stop, misses, polls) = (AtomicBool::new(false), AtomicU64::new(0), AtomicU64::new(0));
        std::thread::scope(|s| {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    polls.fetch_add(1, Ordering::Relaxed);
                    if std::fs::metadata(dest.join(MARK)).is_err() {
                        misses.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
            for i in 1..=500 {
                let tmp = dir.path().join(format!("tmp{i}"));
                std::fs::create_dir(&tmp).unwrap();
                std::fs::write(tmp.join(MARK), i.to_string()).unwrap();
                let old = replace_dir(&tmp, &dest).unwrap().unwrap();
                assert_eq!(std::fs::read_to_string(old.join(MARK)).unwrap(), (i - 1).to_string());
                std::fs::remove_dir_all(old).unwrap();
            }
            stop.store(true, Ordering::Relaxed);
        });
        assert_eq!(std::fs::read_to_string(dest.join(MARK)).unwrap(), "500");
        assert!(polls.load(Ordering::Relaxed) > 500);
        assert_eq!(misses.load(Ordering::Relaxed), 0, "the destination was missing while being replaced");
        replace_folder(&dest, |tmp| write_synced(&tmp.join(MARK), b"501")).unwrap();
        assert_eq!(std::fs::read_to_string(dest.join(MARK)).unwrap(), "501");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "the old folder is removed");
    }
}
