//! The store: RocksDB behind a small typed API. This folder is the only code that touches
//! RocksDB.
//!
//! - `schema.rs`: column families, keys, format version;
//! - `codec.rs`: versioned value encoding;
//! - `records.rs`: the stored records;
//! - `open.rs`: opening (read-write or read-only) and tuning;
//! - `lock.rs`: the single-writer lock (pid file + flock);
//! - `write.rs`: the atomic batch commit (products + counters + input offset: a bulk-loaded SST
//!   per job, or one WriteBatch on the read-modify-write path);
//! - `merge.rs`: the occurrences merge operator of the product families;
//! - `read.rs`: lookups and scans;
//! - `verify.rs`: checksums of every block (`xfstore verify --store`);
//! - `consistency.rs`: the store's records against RocksDB's view (a cut MANIFEST).

mod codec;
mod consistency;
pub mod lock;
mod merge;
mod open;
mod read;
pub mod records;
pub mod schema;
mod verify;
mod write;

use std::path::{Path, PathBuf};

use rocksdb::{DBWithThreadMode, MultiThreaded};

pub(crate) use codec::{decode, encode, CODEC_VERSION};
pub use consistency::{Damage, FileCheck};
pub use open::{Durability, SharedCache, StoreOptions};
pub use read::{ProductScan, RejectScan, StoreMemory};
pub use records::{
    Counters, InputInfo, JobMeta, JobState, ProductRecord, Props, RejectRecord, RowsHash, RuleInfo, UpstreamRead,
    UpstreamReads,
};
pub use verify::{CfCheck, VerifyStoreReport};
pub(crate) use write::Supplied;
pub use write::{JobBatch, RejectBatch, RootRow};

use crate::error::StoreError;

type Db = DBWithThreadMode<MultiThreaded>;

/// Default store directory, relative to the working directory.
pub const DEFAULT_STORE_DIR: &str = ".xfstore";

/// A store opened for reading: lookups, scans, status, export, verify. Any number of
/// processes can hold one, even while another ingests (each sees a consistent point-in-time
/// view). It has no write methods at all: a program holding one cannot write, which the
/// type system checks (redb's `ReadOnlyDatabase`), instead of a runtime check per write.
pub struct ReadOnlyStore {
    db: Db,
    path: PathBuf,
    /// Whether this is the view of the writing [`Store`] (for [`ReadOnlyStore::writer_pid`]).
    is_writer: bool,
    /// The store's format version (`schema.rs`): from 4 the `keys` family lists the jobs of
    /// every product key, from 5 the parent links are in the products families.
    version: u32,
}

/// A store opened for writing (one process at a time, under the store's lock). It reads too:
/// it dereferences to [`ReadOnlyStore`], so everything that reads takes a `&ReadOnlyStore` and
/// accepts either.
pub struct Store {
    reader: ReadOnlyStore,
    durability: Durability,
    /// Options for column families created later (shares the block cache).
    cf_options: rocksdb::Options,
    /// Options for families written blind (parents, rejects): no memtable bloom filter.
    cf_options_blind: rocksdb::Options,
    /// Options the bulk-load SST files are written with: the families' table options (bloom
    /// filters, partitioned index) without compression, since compaction rewrites (and
    /// compresses) every ingested file anyway.
    sst_options: rocksdb::Options,
    /// Number of the next bulk-load SST file (`write.rs`).
    next_sst: std::sync::atomic::AtomicU64,
    /// The block cache, shared by every family ([`Store::fit_block_cache`]).
    cache: rocksdb::Cache,
    /// Writer lock. Declared after `reader` (the RocksDB handle) so it is released last.
    _lock: lock::WriterLock,
}

impl std::ops::Deref for Store {
    type Target = ReadOnlyStore;

    fn deref(&self) -> &ReadOnlyStore {
        &self.reader
    }
}

impl Store {
    /// Opens (creating if needed) a store for writing. Fails if another process holds it.
    pub fn open(path: &Path, options: &StoreOptions) -> Result<Self, StoreError> {
        open::open_writer(path, options)
    }

    /// Resizes the block cache to `bytes` (evicting what does not fit): a writer sizes it from
    /// the budget left beside its families ([`crate::MemoryBudget::for_families`]), known only
    /// once the store is open.
    pub(crate) fn fit_block_cache(&self, bytes: usize) {
        self.cache.clone().set_capacity(bytes);
    }
}

impl ReadOnlyStore {
    /// Opens an existing store read-only: a consistent point-in-time view that works while
    /// another process ingests into it.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        open::open_reader(path, &StoreOptions::default())
    }

    /// [`ReadOnlyStore::open`] with explicit memory settings.
    pub fn open_with(path: &Path, options: &StoreOptions) -> Result<Self, StoreError> {
        open::open_reader(path, options)
    }

    /// [`ReadOnlyStore::open_with`], its blocks in a cache shared with other stores.
    pub(crate) fn open_sharing(path: &Path, options: &StoreOptions, cache: &SharedCache) -> Result<Self, StoreError> {
        open::open_reader_sharing(path, options, cache)
    }

    /// The store's folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Pid of the process currently writing to this store, if any.
    pub fn writer_pid(&self) -> Option<u32> {
        if self.is_writer {
            Some(std::process::id())
        } else {
            lock::holder(&self.path)
        }
    }

    fn db_err(&self, context: &'static str, e: rocksdb::Error) -> StoreError {
        StoreError::Db { path: self.path.clone(), context, source: e }
    }
}
