//! The writer lock: `<store>/xfstore.lock`, held with an exclusive `flock` (std `File::try_lock`) by the one process that
//! writes, holding its pid. The kernel drops the lock when that process dies (even by
//! SIGKILL), so a crashed ingest never leaves a stale lock behind. Readers never take it; they
//! use it to tell a running job from an interrupted one.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::error::StoreError;

/// File name of the lock inside the store directory.
pub const LOCK_FILE: &str = "xfstore.lock";

/// Times a writer finding the lock held retries, 10 ms apart, before reporting the store
/// locked: a reader's probe ([`holder`]) holds it for microseconds, a writer for its run.
const PROBE_WAITS: u32 = 20;

/// An acquired writer lock; released on drop (or process death).
#[derive(Debug)]
pub struct WriterLock {
    _file: File,
}

/// Takes the writer lock of the store at `dir`, or reports who holds it.
pub fn acquire(dir: &Path) -> Result<WriterLock, StoreError> {
    let path = dir.join(LOCK_FILE);
    let io = |context: &'static str| move |source: std::io::Error| StoreError::Io { path: dir.into(), context, source };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io("open lock file"))?;
    // a reader asking whether a writer runs ([`holder`]) holds a shared lock for a moment:
    // a writer starting then waits that moment out instead of reporting the store locked
    let mut attempts = 0;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) if attempts < PROBE_WAITS => {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(StoreError::Locked { path: dir.into(), pid: read_pid(&mut file) })
            }
            Err(TryLockError::Error(e)) => return Err(io("lock store")(e)),
        }
    }
    file.set_len(0).map_err(io("write lock file"))?;
    file.seek(SeekFrom::Start(0)).map_err(io("write lock file"))?;
    write!(file, "{}", std::process::id()).map_err(io("write lock file"))?;
    file.flush().map_err(io("write lock file"))?;
    Ok(WriterLock { _file: file })
}

/// The pid of the process writing to the store at `dir` right now, if any.
pub fn holder(dir: &Path) -> Option<u32> {
    let mut file = File::open(dir.join(LOCK_FILE)).ok()?;
    match file.try_lock_shared() {
        Ok(()) => None, // nobody holds it exclusively; our shared lock is released with `file`
        Err(_) => Some(read_pid(&mut file).unwrap_or(0)),
    }
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut s = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut s).ok()?;
    s.trim().parse().ok()
}
