//! Atomic file replacement: write to a temp file in the destination folder, fsync, validate,
//! rename over the destination, fsync the folder. A reader sees the old complete file or the
//! new complete file, never a partial one. Temp files of killed exports are removed by the
//! next export to the same destination.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::error::ExportError;

const TMP_MARK: &str = ".xfstore-tmp-";

/// A pending replacement of `dest`.
pub struct AtomicFile {
    dest: PathBuf,
    tmp: PathBuf,
    committed: bool,
}

pub(crate) fn io_err<'a>(path: &'a Path, context: &'static str) -> impl FnOnce(std::io::Error) -> ExportError + 'a {
    move |source| ExportError::Io { path: path.into(), context, source }
}

impl AtomicFile {
    /// Creates the temp file next to `dest`, after removing stale temps of dead exporters.
    pub fn create(dest: &Path) -> Result<(Self, File), ExportError> {
        let name = dest
            .file_name()
            .ok_or_else(|| ExportError::Validation {
                path: dest.into(),
                reason: "destination has no file name".into(),
            })?
            .to_string_lossy()
            .into_owned();
        let dir = parent_dir(dest);
        std::fs::create_dir_all(&dir).map_err(io_err(dest, "create destination folder"))?;
        remove_stale_temps(&dir, &name);
        let tmp = dir.join(format!(".{name}{TMP_MARK}{}", std::process::id()));
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(io_err(dest, "create temp file"))?;
        Ok((Self { dest: dest.into(), tmp, committed: false }, file))
    }

    /// Path of the temp file (to re-open it for validation).
    pub fn temp_path(&self) -> &Path {
        &self.tmp
    }

    /// fsyncs the temp file, runs `validate` on it, renames it over the destination and
    /// fsyncs the folder.
    pub fn commit(mut self, validate: impl FnOnce(&Path) -> Result<(), ExportError>) -> Result<(), ExportError> {
        File::open(&self.tmp).and_then(|f| f.sync_all()).map_err(io_err(&self.dest, "fsync temp file"))?;
        validate(&self.tmp)?;
        std::fs::rename(&self.tmp, &self.dest).map_err(io_err(&self.dest, "rename into place"))?;
        self.committed = true;
        File::open(parent_dir(&self.dest))
            .and_then(|d| d.sync_all())
            .map_err(io_err(&self.dest, "fsync destination folder"))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

pub(crate) fn parent_dir(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.into(),
        _ => PathBuf::from("."),
    }
}

/// Removes `.<name>.xfstore-tmp-<pid>` files whose pid is no longer running.
fn remove_stale_temps(dir: &Path, name: &str) {
    remove_stale(dir, &[format!(".{name}{TMP_MARK}")], |p| std::fs::remove_file(p));
}

/// Removes the entries of `dir` named `<prefix><pid>` (for any of `prefixes`) left by a process
/// that is gone, or by this one, with `remove`.
pub(super) fn remove_stale(dir: &Path, prefixes: &[String], remove: impl Fn(&Path) -> std::io::Result<()>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let fname = e.file_name().to_string_lossy().into_owned();
        let pid = prefixes.iter().find_map(|p| fname.strip_prefix(p.as_str())?.parse::<u32>().ok());
        if let Some(pid) = pid {
            if pid == std::process::id() || !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = remove(&e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn replaces_only_on_commit_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.bin");
        std::fs::write(&dest, b"old").unwrap();
        // a stale temp of a dead process
        let stale = dir.path().join(".out.bin.xfstore-tmp-999999999");
        std::fs::write(&stale, b"junk").unwrap();

        let (af, mut f) = AtomicFile::create(&dest).unwrap();
        assert!(!stale.exists());
        f.write_all(b"new").unwrap();
        drop(f);
        assert_eq!(std::fs::read(&dest).unwrap(), b"old");
        let failed = af.commit(|_| Err(ExportError::Validation { path: dest.clone(), reason: "no".into() }));
        assert!(failed.is_err());
        assert_eq!(std::fs::read(&dest).unwrap(), b"old", "failed validation keeps the old file");

        let (af, mut f) = AtomicFile::create(&dest).unwrap();
        f.write_all(b"new").unwrap();
        drop(f);
        af.commit(|_| Ok(())).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"new");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    }
}
