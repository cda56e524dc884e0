//! The store: RocksDB behind a small typed API. This folder is the only code that touches
//! RocksDB.
//!
//! - `schema.rs`: column families, keys, format version;
//! - `codec.rs`: versioned value encoding;
//! - `records.rs`: the stored records;
//! - `open.rs`: opening (read-write or read-only) and tuning;
//! - `lock.rs`: the single-writer lock (pid file + flock);
//! - `write.rs`: the atomic batch commit (products + counters + input offset in one WriteBatch);
//! - `read.rs`: lookups and scans;
//! - `verify.rs`: checksums of every block (`xfstore verify --store`).

mod codec;
pub mod lock;
mod open;
mod read;
pub mod records;
pub mod schema;
mod verify;
mod write;

use std::path::{Path, PathBuf};

use rocksdb::{DBWithThreadMode, MultiThreaded};

pub use open::{Durability, OpenMode, StoreOptions};
pub use read::{ProductScan, RejectScan};
pub use records::{Counters, InputInfo, JobMeta, JobState, ProductRecord, Props, RejectRecord, RuleInfo};
pub use verify::{CfCheck, VerifyStoreReport};
pub use write::{JobBatch, RejectBatch};

use crate::error::StoreError;

type Db = DBWithThreadMode<MultiThreaded>;

/// Default store directory, relative to the working directory.
pub const DEFAULT_STORE_DIR: &str = ".xfstore";

/// An open store.
pub struct Store {
    db: Db,
    path: PathBuf,
    mode: OpenMode,
    durability: Durability,
    /// Options for column families created later (shares the block cache).
    cf_options: rocksdb::Options,
    /// Writer lock (read-write mode only). Declared after `db` so it is released last.
    _lock: Option<lock::WriterLock>,
}

impl Store {
    /// Opens (creating if needed) a store for writing. Fails if another process holds it.
    pub fn open(path: &Path, options: &StoreOptions) -> Result<Self, StoreError> {
        open::open(path, OpenMode::ReadWrite, options)
    }

    /// Opens an existing store read-only: a consistent point-in-time view that works while
    /// another process ingests into it.
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        open::open(path, OpenMode::ReadOnly, &StoreOptions::default())
    }

    /// [`Store::open_read_only`] with explicit memory settings.
    pub fn open_read_only_with(path: &Path, options: &StoreOptions) -> Result<Self, StoreError> {
        open::open(path, OpenMode::ReadOnly, options)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Pid of the process currently writing to this store, if any (never this read-only one).
    pub fn writer_pid(&self) -> Option<u32> {
        match self.mode {
            OpenMode::ReadWrite => Some(std::process::id()),
            OpenMode::ReadOnly => lock::holder(&self.path),
        }
    }

    fn db_err(&self, context: &'static str, e: rocksdb::Error) -> StoreError {
        StoreError::Db { path: self.path.clone(), context, source: e }
    }
}
