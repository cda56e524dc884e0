//! Opening a store and the RocksDB options it runs with.

use std::path::{Path, PathBuf};

use rocksdb::{BlockBasedIndexType, BlockBasedOptions, Cache, ColumnFamilyDescriptor, DBCompressionType, Options};

use super::schema::{
    pending_drop_key, CF_META, FORMAT_VERSION, KEY_FORMAT_VERSION, KEY_INDEX_VERSION, KEY_LINEAGE, KEY_RDKIT_VERSION,
    LINKS_IN_PRODUCTS_VERSION,
};
use super::{Db, ReadOnlyStore, Store};
use crate::budget::MemoryBudget;
use crate::error::StoreError;

/// Read-write (one process at a time) or read-only (any number, even during an ingest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpenMode {
    ReadWrite,
    ReadOnly,
    /// Read-only, by the writer that holds the lock, before it opens the store: nothing can
    /// delete a table under it, so it opens them lazily like the writer.
    Check,
}

/// How far a committed batch is guaranteed to survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// The WAL write reaches the OS before the commit returns: survives kill -9 / OOM of the
    /// process, not a power loss or kernel crash.
    #[default]
    Process,
    /// The WAL is fsynced at every commit: survives power loss, at a cost per checkpoint.
    Sync,
}

/// Memory and durability settings of a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Shared LRU block cache for all column families.
    pub block_cache_bytes: usize,
    /// Cap on all memtables together (RocksDB's write-buffer manager).
    pub write_buffer_bytes: usize,
    /// How far a committed batch must survive (process death, or power loss too).
    pub durability: Durability,
    /// A whole-key bloom filter over the memtables of product families this process creates:
    /// only the read-modify-write path ([`crate::WritePath::ReadModifyWrite`]) reads memtables
    /// (the default path bulk-loads SST files and never writes one). Off by default: RocksDB
    /// allocates the filter with every memtable, and its arena around it (see [`cf_options`]).
    pub memtable_bloom: bool,
    /// Table files kept open at once (RocksDB's `max_open_files`): [`MemoryBudget::open_files`],
    /// within what the process may open ([`fd_room`]). Stores opened together (the shards of a
    /// partitioned folder) share it.
    pub open_files: usize,
}

impl Default for StoreOptions {
    /// Sized from the default 1 GiB budget: 128 MiB of block cache, 128 MiB of memtables.
    fn default() -> Self {
        Self::from_budget(&MemoryBudget::default())
    }
}

impl StoreOptions {
    /// Block cache and memtables sized from `budget` (1/8 each, see [`crate::budget`]).
    pub fn from_budget(budget: &MemoryBudget) -> Self {
        Self {
            block_cache_bytes: budget.block_cache_bytes(),
            write_buffer_bytes: budget.write_buffer_bytes(),
            durability: Durability::Process,
            memtable_bloom: false,
            open_files: budget.open_files().min(fd_room()),
        }
    }

    /// The same settings for one of `n` stores opened together: each keeps an `n`th of the open
    /// files (the block cache is shared, see [`SharedCache`]).
    pub(crate) fn one_of(&self, n: usize) -> Self {
        Self { open_files: (self.open_files / n.max(1)).max(MIN_OPEN_FILES), ..self.clone() }
    }
}

/// Most table files the writer keeps open.
const WRITER_OPEN_FILES: usize = 512;

/// Fewest table files a store keeps open.
const MIN_OPEN_FILES: usize = 20; // RocksDB's own floor

/// File descriptors the stores of this process may hold: half of the open-file limit, which is
/// first raised to its hard limit (Debian's soft limit is 1,024, its hard limit far above; a
/// store of a few thousand table files needs more), less a reserve for inputs, exports and run
/// files.
fn fd_room() -> usize {
    static ROOM: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *ROOM.get_or_init(|| {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let mut limit = getrlimit(Resource::Nofile);
        if limit.current < limit.maximum
            && setrlimit(Resource::Nofile, Rlimit { current: limit.maximum, ..limit }).is_ok()
        {
            limit.current = limit.maximum;
        }
        let current = limit.current.map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
        (current.saturating_sub(256) / 2).max(MIN_OPEN_FILES)
    })
}

/// RocksDB's `max_open_files` for a store opened in `mode`.
///
/// A reader opens every table file at once (-1) whenever it may hold them all: a file opened
/// lazily, after the MANIFEST was read, may be one a writer's compaction has deleted since
/// ("IO error: No such file or directory" on a lookup, seen in CI while the CLI ingested),
/// whereas a file open before its unlink stays readable. So the reader's view stays whole for
/// as long as it is open, whether the writer was running when it opened or started later (a
/// notebook's `Store` kept open across an ingest). It may hold them all when they fit its
/// share of open files ([`StoreOptions::open_files`]), or, with a writer running now, the
/// process's room for descriptors. Cost: opening a 283-job store of 518 tables takes ~0.3 s
/// longer (a one-key `query` 0.1 -> 0.4 s), +8 MiB. A reader of a store larger than that
/// opens tables lazily, and a read racing a compaction fails with that error naming the file:
/// nothing is read wrong.
fn open_files_limit(path: &Path, mode: OpenMode, so: &StoreOptions) -> i32 {
    let budgeted = i32::try_from(so.open_files.max(MIN_OPEN_FILES)).unwrap_or(i32::MAX);
    if mode != OpenMode::ReadOnly {
        return budgeted;
    }
    let tables = std::fs::read_dir(path).map_or(usize::MAX, |dir| {
        dir.filter_map(Result::ok).filter(|e| e.file_name().to_string_lossy().ends_with(".sst")).count()
    });
    let room = if super::lock::holder(path).is_some() { fd_room() } else { so.open_files };
    if tables <= room {
        -1
    } else {
        budgeted
    }
}

/// Options shared by every column family: bloom filters (most upsert probes miss),
/// LZ4 on upper levels and ZSTD at the bottom, index/filter blocks in the bounded cache.
///
/// Index and filters are PARTITIONED (two-level index, 4 KiB partitions): a whole-file filter
/// of a large SST (several MiB for millions of keys) does not fit one shard of the sharded LRU
/// cache, so it was re-read from disk and checksummed on every point lookup (measured: 2 ms per
/// lookup on a 5M-product store, 80% in `MaybeReadBlockAndLoadToCache<ParsedFullFilterBlock>`).
/// Partitions are small cache citizens; only the top-level index/filter is pinned.
///
/// `memtable_bloom` gives each memtable a whole-key bloom filter for the upserts of a job being
/// written by read-modify-write (most probes are misses: new products). RocksDB allocates it
/// with every memtable, written to or not, for as long as the family is open, so it goes only to
/// product families created by this process, sized at 0.5% of the write buffer, and only when
/// [`StoreOptions::memtable_bloom`] asks for it. Measured on a 390-job campaign store (~800
/// families): `status` peaked at 882 MiB with a 2% filter on every family, 254 MiB without.
/// The filter is also why the arena block is small: RocksDB's arena gives an allocation under a
/// quarter of its block size a whole new block, so an 80 KiB filter took a 2 MiB block (the
/// default, 1/8 of the write buffer) per family created, and the default path, which never
/// reads memtables, still made one per family: heaptrack on the natural campaign found 147 MiB
/// of a 199 MiB heap peak there (#27). With blocks of 1/64 of the write buffer the filter is
/// allocated alone.
pub(super) fn cf_options(cache: &Cache, write_buffer_bytes: usize, memtable_bloom: bool) -> Options {
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    table.set_bloom_filter(10.0, false);
    table.set_index_type(BlockBasedIndexType::TwoLevelIndexSearch);
    table.set_partition_filters(true);
    table.set_metadata_block_size(4096);
    table.set_cache_index_and_filter_blocks(true);
    table.set_pin_top_level_index_and_filter(true);
    table.set_pin_l0_filter_and_index_blocks_in_cache(true);
    table.set_block_size(16 << 10);
    table.set_format_version(5);
    let mut o = Options::default();
    o.set_block_based_table_factory(&table);
    // products families: occurrences added by blind `Merge` writes (see `merge.rs`); harmless
    // on the other families, which are never merged into
    o.set_merge_operator(super::merge::MERGE_OPERATOR_NAME, super::merge::full_merge, super::merge::partial_merge);
    o.set_compression_type(DBCompressionType::Lz4);
    o.set_bottommost_compression_type(DBCompressionType::Zstd);
    o.set_write_buffer_size((write_buffer_bytes / 4).max(64 << 10));
    o.set_arena_block_size((write_buffer_bytes / 4 / 64).max(4 << 10));
    // Upserts probe the memtables first and mostly miss (new products): a whole-key bloom
    // filter over each memtable (2% of its size) answers those misses without a skiplist walk.
    if memtable_bloom {
        o.set_memtable_whole_key_filtering(true);
        o.set_memtable_prefix_bloom_ratio(MEMTABLE_BLOOM_RATIO);
    }
    // Universal (tiered) compaction: batches arrive as sorted SST files of random keys, each
    // overlapping everything already stored; leveled compaction rewrote the whole bottom level
    // for every few files (measured on the MOSES stream: 109k products/s at 10M keys, falling);
    // universal merges runs of similar size (write amplification ~log of the run count):
    // 260k. Stores written with leveled compaction open and continue under it.
    o.set_compaction_style(rocksdb::DBCompactionStyle::Universal);
    let mut universal = rocksdb::UniversalCompactOptions::default();
    universal.set_size_ratio(1);
    universal.set_min_merge_width(4);
    universal.set_max_size_amplification_percent(200);
    o.set_universal_compaction_options(&universal);
    o.set_level_compaction_dynamic_level_bytes(false);
    o.set_level_zero_file_num_compaction_trigger(8);
    o.set_level_zero_slowdown_writes_trigger(24);
    o.set_level_zero_stop_writes_trigger(32);
    // Bulk load: write SST data to disk in 1 MiB steps instead of one burst per file.
    o.set_bytes_per_sync(1 << 20);
    o
}

/// Read-only opens retried when they race with the writer deleting a file (20 ms apart).
const READ_ONLY_OPEN_RETRIES: u32 = 150;

/// Memtable bloom filter size as a share of the write buffer (see [`cf_options`]).
const MEMTABLE_BLOOM_RATIO: f64 = 0.005;

/// Opens the store at `path` for writing: takes the writer lock, creates the store if needed,
/// finishes drops left pending by a killed `--restart`.
pub(super) fn open_writer(path: &Path, so: &StoreOptions) -> Result<Store, StoreError> {
    std::fs::create_dir_all(path).map_err(|source| StoreError::Io {
        path: path.into(),
        context: "create store directory",
        source,
    })?;
    // the lock is taken before RocksDB reads anything of the store
    let lock = super::lock::acquire(path)?;
    if path.join("CURRENT").exists() {
        // before RocksDB opens it for writing, which deletes every file its view does not list
        let check = StoreOptions { block_cache_bytes: 8 << 20, ..so.clone() };
        let (reader, _) = open_db(path, OpenMode::Check, &check, None)?;
        super::consistency::refuse_damaged(&reader)?;
    }
    // the write path reads only the families of the jobs being written (and scans upstream
    // ones in order): a few hundred files, where a campaign's writer would otherwise keep up
    // to the budget's share open (~12 KiB each) for jobs it has finished with
    let so = &StoreOptions { open_files: so.open_files.min(WRITER_OPEN_FILES), ..so.clone() };
    let (reader, cache) = open_db(path, OpenMode::ReadWrite, so, None)?;
    let mut store = Store {
        reader,
        durability: so.durability,
        cf_options: cf_options(&cache, so.write_buffer_bytes, so.memtable_bloom),
        cf_options_blind: cf_options(&cache, so.write_buffer_bytes, false),
        sst_options: {
            let mut o = cf_options(&cache, so.write_buffer_bytes, false);
            o.set_compression_type(DBCompressionType::None);
            o.set_bottommost_compression_type(DBCompressionType::None);
            o
        },
        next_sst: std::sync::atomic::AtomicU64::new(0),
        cache,
        _lock: lock,
    };
    store.finish_pending_drops()?;
    store.reconcile_sentinels()?;
    store.upgrade()?;
    Ok(store)
}

impl Store {
    /// Brings a store of an older format to [`FORMAT_VERSION`] (readers take it as it is): the
    /// key index built (before 4), the parent links moved into the products families (before
    /// 5). A store older than 7 keeps no lineage index for the families it has (`KEY_LINEAGE`
    /// stays absent: lineage queries refuse it). Each step is idempotent and the version is
    /// written, synced, only after them all, so a kill leaves an old store the next writer
    /// upgrades again; the families the move emptied are dropped after that, as pending drops
    /// (a kill leaves them to the next open).
    fn upgrade(&mut self) -> Result<(), StoreError> {
        if self.reader.version >= FORMAT_VERSION {
            return Ok(());
        }
        eprintln!(
            "store {}: upgrading from format {} to {} (once; readers are unaffected)",
            self.path.display(),
            self.reader.version,
            FORMAT_VERSION
        );
        if self.reader.version < KEY_INDEX_VERSION {
            self.build_key_index()?;
        }
        let moved = if self.reader.version < LINKS_IN_PRODUCTS_VERSION { self.move_parent_links()? } else { vec![] };
        // the new version and the drops of the families moved, in one synced batch: a kill
        // after it leaves drops the next open finishes, as after `drop_job`
        let meta = self.meta_cf()?;
        let mut batch = rocksdb::WriteBatch::default();
        batch.put_cf(&meta, KEY_FORMAT_VERSION, FORMAT_VERSION.to_le_bytes());
        for name in &moved {
            batch.put_cf(&meta, pending_drop_key(name), []);
        }
        let mut opts = rocksdb::WriteOptions::default();
        opts.set_sync(true);
        self.db.write_opt(batch, &opts).map_err(|e| self.db_err("upgrade format version", e))?;
        drop(meta);
        self.reader.version = FORMAT_VERSION;
        self.finish_pending_drops()
    }
}

/// Opens an existing store at `path` read-only.
pub(super) fn open_reader(path: &Path, so: &StoreOptions) -> Result<ReadOnlyStore, StoreError> {
    open_db(path, OpenMode::ReadOnly, so, None).map(|(reader, _)| reader)
}

/// One block cache shared by many stores opened read-only together (the shards of a
/// partitioned campaign: one cache per shard would multiply the budget's share by their
/// number).
#[derive(Clone)]
pub struct SharedCache(Cache);

impl SharedCache {
    /// A cache of `bytes`.
    pub fn new(bytes: usize) -> Result<Self, StoreError> {
        Cache::new_lru_cache(bytes).map(SharedCache).map_err(|source| StoreError::Db {
            path: PathBuf::new(),
            context: "create block cache",
            source,
        })
    }
}

/// Opens an existing store at `path` read-only, its blocks in `cache`.
pub(super) fn open_reader_sharing(
    path: &Path,
    so: &StoreOptions,
    cache: &SharedCache,
) -> Result<ReadOnlyStore, StoreError> {
    open_db(path, OpenMode::ReadOnly, so, Some(&cache.0)).map(|(reader, _)| reader)
}

/// Opens RocksDB at `path` (the writer already holds the lock) and checks the store's format;
/// returns the reader and the block cache that column families created later must share (a
/// new one of the options' size unless `shared` is given).
fn open_db(
    path: &Path,
    mode: OpenMode,
    so: &StoreOptions,
    shared: Option<&Cache>,
) -> Result<(ReadOnlyStore, Cache), StoreError> {
    let db_err =
        |context: &'static str| move |source: rocksdb::Error| StoreError::Db { path: path.into(), context, source };
    let cache = match shared {
        Some(c) => c.clone(),
        None => Cache::new_lru_cache(so.block_cache_bytes).map_err(db_err("create block cache"))?,
    };
    let mut db_opts = cf_options(&cache, so.write_buffer_bytes, false);
    db_opts.set_db_write_buffer_size(so.write_buffer_bytes);
    // lazily opened, kept open up to the limit: a lookup across many jobs probes a table of
    // each, and reopening one costs a footer, properties and index read (see `open_files`)
    db_opts.set_max_open_files(open_files_limit(path, mode, so));
    // compactions (the bulk of the write path's CPU, see ARCHITECTURE.md) run beside the
    // transform: half the cores, at least 2
    db_opts.set_max_background_jobs((std::thread::available_parallelism().map_or(2, |n| n.get()) / 2).max(2) as i32);
    db_opts.set_keep_log_file_num(20);
    let exists = path.join("CURRENT").exists();
    if mode != OpenMode::ReadWrite && !exists {
        return Err(StoreError::Missing { path: path.into() });
    }
    let mut cfs = if exists { Db::list_cf(&db_opts, path).map_err(db_err("list column families"))? } else { vec![] };
    if !cfs.iter().any(|c| c == CF_META) {
        cfs.push(CF_META.to_owned());
    }
    let descriptors = || -> Vec<_> {
        cfs.iter()
            .map(|name| ColumnFamilyDescriptor::new(name, cf_options(&cache, so.write_buffer_bytes, false)))
            .collect()
    };
    let db = match mode {
        OpenMode::ReadWrite => {
            db_opts.create_if_missing(true);
            db_opts.create_missing_column_families(true);
            Db::open_cf_descriptors(&db_opts, path, descriptors()).map_err(db_err("open for writing"))?
        }
        OpenMode::ReadOnly | OpenMode::Check => {
            // A reader opening while the writer compacts can find a file the MANIFEST it read
            // still lists already deleted (frequent with bulk loads: every batch adds files
            // and compactions retire them). The view is consistent once open: retry the open,
            // a few seconds at most, for exactly that error.
            let mut attempt = 0;
            loop {
                match Db::open_cf_descriptors_read_only(&db_opts, path, descriptors(), false) {
                    Ok(db) => break db,
                    Err(e) if attempt < READ_ONLY_OPEN_RETRIES && e.as_ref().contains("No such file or directory") => {
                        attempt += 1;
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                    Err(e) => return Err(db_err("open read-only")(e)),
                }
            }
        }
    };
    let mut reader = ReadOnlyStore { db, path: path.into(), is_writer: mode == OpenMode::ReadWrite, version: 0 };
    reader.version = reader.check_format(mode == OpenMode::ReadWrite)?;
    Ok((reader, cache))
}

impl ReadOnlyStore {
    /// Checks the format version and RDKit version; on a new store opened for writing
    /// (`initialise`), writes them. Returns the store's version (an older one readable as is
    /// is upgraded by the writer's open, see [`open_writer`]).
    fn check_format(&self, initialise: bool) -> Result<u32, StoreError> {
        let meta = self.meta_cf()?;
        let found = self.db.get_cf(&meta, KEY_FORMAT_VERSION).map_err(|e| self.db_err("read format version", e))?;
        match found {
            Some(bytes) => {
                let found = <[u8; 4]>::try_from(bytes.as_slice())
                    .map(u32::from_le_bytes)
                    .map_err(|_| StoreError::Codec { what: "format_version".into(), reason: "not 4 bytes".into() })?;
                // versions 2 and 3 read the same (3 added occurrences operands, 4 the key
                // index); the writer's open marks the store 4 once it is indexed, so an older
                // binary refuses what it could not read
                if !(2..=FORMAT_VERSION).contains(&found) {
                    return Err(StoreError::FormatVersion { path: self.path.clone(), found, expected: FORMAT_VERSION });
                }
                Ok(found)
            }
            None if initialise => {
                let mut batch = rocksdb::WriteBatch::default();
                batch.put_cf(&meta, KEY_FORMAT_VERSION, FORMAT_VERSION.to_le_bytes());
                batch.put_cf(&meta, KEY_RDKIT_VERSION, crate::chem::rdkit_version().as_bytes());
                batch.put_cf(&meta, KEY_LINEAGE, []);
                self.db.write(batch).map_err(|e| self.db_err("initialise store", e))?;
                Ok(FORMAT_VERSION)
            }
            None => Err(StoreError::Missing { path: self.path.clone() }),
        }
    }

    /// RDKit version that wrote the store's keys.
    pub fn rdkit_version(&self) -> Result<Option<String>, StoreError> {
        let meta = self.meta_cf()?;
        let v = self.db.get_cf(&meta, KEY_RDKIT_VERSION).map_err(|e| self.db_err("read rdkit version", e))?;
        Ok(v.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    pub(super) fn meta_cf(&self) -> Result<std::sync::Arc<rocksdb::BoundColumnFamily<'_>>, StoreError> {
        self.db.cf_handle(CF_META).ok_or_else(|| StoreError::Invalid {
            path: self.path.clone(),
            context: "open meta column family",
            reason: "missing",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema::{self, CF_KEYS};
    use crate::store::{JobBatch, JobMeta, ProductRecord, RejectBatch};

    #[test]
    fn a_store_of_the_old_bincode_format_is_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        {
            let store = Store::open(&path, &StoreOptions::default()).unwrap();
            let meta = store.meta_cf().unwrap();
            store.db.put_cf(&meta, KEY_FORMAT_VERSION, 1u32.to_le_bytes()).unwrap();
        }
        for err in
            [Store::open(&path, &StoreOptions::default()).err().unwrap(), ReadOnlyStore::open(&path).err().unwrap()]
        {
            let msg = err.to_string();
            assert!(matches!(err, StoreError::FormatVersion { found: 1, expected: FORMAT_VERSION, .. }), "{msg}");
            assert!(msg.contains("bincode") && msg.contains("ingest again into a new store"), "{msg}");
        }
    }

    /// A store made before format 7 has families without the lineage index: the writer marks
    /// it 7 but leaves `lineage` unset, and a lineage query refuses it with a clear message
    /// (no silently partial answer).
    #[test]
    fn a_store_older_than_the_lineage_index_is_refused_by_lineage_queries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        {
            let store = Store::open(&path, &StoreOptions::default()).unwrap();
            assert!(store.has_lineage().unwrap(), "a new store has the index");
            let meta = store.meta_cf().unwrap();
            store.db.put_cf(&meta, KEY_FORMAT_VERSION, 6u32.to_le_bytes()).unwrap();
            store.db.delete_cf(&meta, KEY_LINEAGE).unwrap();
        }
        let store = Store::open(&path, &StoreOptions::default()).unwrap();
        assert_eq!(store.reader.version, FORMAT_VERSION);
        assert!(!store.has_lineage().unwrap(), "an upgraded store does not claim the index");
        drop(store);
        let reader = crate::reader::Reader::open(&path).unwrap();
        for err in [
            crate::query::lineage(&reader, "Oc1ccccc1", 10).err().unwrap(),
            crate::query::descendants(&reader, "Oc1ccccc1").err().unwrap(),
        ] {
            let msg = err.to_string();
            assert!(msg.contains("before the lineage index (format 7)") && msg.contains("new store"), "{msg}");
        }
    }

    fn product() -> ProductRecord {
        ProductRecord::for_test()
    }

    /// Versions 2 and 3 have no key index: readers take them as they are (a lookup asks every
    /// job), and a writer's open indexes every product key and marks the store 4, so an older
    /// build refuses what it could not keep indexed.
    #[test]
    fn an_older_store_is_read_as_is_and_indexed_when_opened_for_writing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let version = |s: &ReadOnlyStore| s.db.get_cf(&s.meta_cf().unwrap(), KEY_FORMAT_VERSION).unwrap().unwrap();
        for old in [2u32, 3] {
            let _ = std::fs::remove_dir_all(&path);
            {
                let store = Store::open(&path, &StoreOptions::default()).unwrap();
                for id in ["in/A", "in/B"] {
                    let mut meta = JobMeta::for_test(id);
                    store.register_job(&meta).unwrap();
                    let products = vec![("COc1ccccc1".to_owned(), product())];
                    let batch = JobBatch {
                        meta: &mut meta,
                        products,
                        parent_links: vec![],
                        roots: vec![],
                        novel: Some(vec![true]),
                    };
                    store.commit(&mut [batch], RejectBatch { input_key: "in", rows: &[] }).unwrap();
                }
                assert_eq!(store.jobs_holding("COc1ccccc1").unwrap(), Some(vec!["in/A".into(), "in/B".into()]));
                // as an older build left it: no key index, a parent-index family per job
                store.db.drop_cf(CF_KEYS).unwrap();
                for id in ["in/A", "in/B"] {
                    store.db.create_cf(schema::parents_cf(id), &rocksdb::Options::default()).unwrap();
                }
                store.db.put_cf(&store.meta_cf().unwrap(), KEY_FORMAT_VERSION, old.to_le_bytes()).unwrap();
            }
            let reader = ReadOnlyStore::open(&path).unwrap();
            assert_eq!(version(&reader), old.to_le_bytes());
            assert_eq!(reader.jobs_holding("COc1ccccc1").unwrap(), None, "no index: ask every job");
            assert!(reader.product("in/A", "COc1ccccc1").unwrap().is_some());
            drop(reader);
            let store = Store::open(&path, &StoreOptions::default()).unwrap();
            assert_eq!(version(&store), FORMAT_VERSION.to_le_bytes());
            assert_eq!(store.jobs_holding("COc1ccccc1").unwrap(), Some(vec!["in/A".into(), "in/B".into()]));
            assert_eq!(store.jobs_holding("CCO").unwrap(), Some(vec![]));
            assert_eq!(store.jobs_holding("COc1ccccc").unwrap(), Some(vec![]), "a prefix is another key");
        }
        assert_eq!(FORMAT_VERSION, 7);
    }

    /// The column families a store holds: one products family per job (format 5), no
    /// `parents/` family.
    fn families(path: &Path) -> Vec<String> {
        Db::list_cf(&rocksdb::Options::default(), path).unwrap()
    }

    /// Format 4 kept the parent index in a `parents/<job>` family per job. A reader takes
    /// such a store as it is; a writer's open moves the links into the products families,
    /// marks the store 5 and drops the old families. Every state a kill can leave (links
    /// moved but the store still 4; the store 5 but old families left) opens to the same
    /// store, and the products and their lookups never change.
    #[test]
    fn a_format_4_parent_index_is_read_as_is_and_moved_when_opened_for_writing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let links = |s: &ReadOnlyStore, job: &str| {
            let mut l = s.products_of_parent(job, "Oc1ccccc1").unwrap();
            l.extend(s.products_of_parent(job, "Oc1ccc(O)cc1").unwrap());
            l
        };
        let products = |s: &ReadOnlyStore, job: &str| s.scan(job).unwrap().map(|r| r.unwrap().0).collect::<Vec<_>>();
        let version = |s: &ReadOnlyStore| s.db.get_cf(&s.meta_cf().unwrap(), KEY_FORMAT_VERSION).unwrap().unwrap();
        let jobs = ["in/A", "in/B"];
        let (want_links, want_products);
        {
            let store = Store::open(&path, &StoreOptions::default()).unwrap();
            for id in jobs {
                let mut meta = JobMeta::for_test(id);
                store.register_job(&meta).unwrap();
                let products = vec![("COc1ccccc1".to_owned(), product()), ("COc1ccc(O)cc1".to_owned(), product())];
                let parent_links = vec![
                    ("Oc1ccccc1".to_owned(), "COc1ccccc1".to_owned()),
                    ("Oc1ccc(O)cc1".to_owned(), "COc1ccc(O)cc1".to_owned()),
                ];
                let batch =
                    JobBatch { meta: &mut meta, products, parent_links, roots: vec![], novel: Some(vec![true, true]) };
                store.commit(&mut [batch], RejectBatch { input_key: "in", rows: &[] }).unwrap();
            }
            assert!(families(&path).iter().all(|f| !f.starts_with("parents/")), "{:?}", families(&path));
            want_links = links(&store, "in/A");
            want_products = products(&store, "in/A");
            assert_eq!(want_links, ["COc1ccccc1", "COc1ccc(O)cc1"]);
            assert_eq!(want_products, ["COc1ccc(O)cc1", "COc1ccccc1"], "links are not products");
            // as format 4 left it: the links in a family of their own
            let mut opts = rocksdb::Options::default();
            opts.create_if_missing(true);
            for id in jobs {
                store.db.create_cf(schema::parents_cf(id), &opts).unwrap();
                let old = store.db.cf_handle(&schema::parents_cf(id)).unwrap();
                let cf = store.products_cf(id).unwrap();
                for (parent, product) in [("Oc1ccccc1", "COc1ccccc1"), ("Oc1ccc(O)cc1", "COc1ccc(O)cc1")] {
                    store.db.put_cf(&old, schema::parent_link_key(parent, product), []).unwrap();
                }
                // in/B as a kill after its links were moved (before the version was written)
                // left it: in both places
                if id == "in/A" {
                    store.db.delete_range_cf(&cf, b"\0\x01".as_slice(), schema::FIRST_PRODUCT_KEY).unwrap();
                }
            }
            store.db.put_cf(&store.meta_cf().unwrap(), KEY_FORMAT_VERSION, 4u32.to_le_bytes()).unwrap();
        }
        let reader = ReadOnlyStore::open(&path).unwrap();
        assert_eq!(version(&reader), 4u32.to_le_bytes());
        assert_eq!(links(&reader, "in/A"), want_links, "a format-4 reader reads the old family");
        assert!(reader.check_records().unwrap().is_empty());
        drop(reader);
        // the writer moves in/A's links, and in/B's again (the same keys)
        let store = Store::open(&path, &StoreOptions::default()).unwrap();
        assert_eq!(version(&store), FORMAT_VERSION.to_le_bytes());
        for id in jobs {
            assert_eq!(links(&store, id), want_links, "{id}");
            assert_eq!(products(&store, id), want_products, "{id}");
        }
        assert!(families(&path).iter().all(|f| !f.starts_with("parents/")), "{:?}", families(&path));
        let mut opts = rocksdb::Options::default();
        opts.create_if_missing(true);
        store.db.create_cf(schema::parents_cf("in/A"), &opts).unwrap();
        // as a kill after the version was written, before the moved families were dropped
        let pending = pending_drop_key(&schema::parents_cf("in/A"));
        store.db.put_cf(&store.meta_cf().unwrap(), pending, []).unwrap();
        drop(store);
        let reader = ReadOnlyStore::open(&path).unwrap();
        assert_eq!(links(&reader, "in/A"), want_links, "format 5 reads the products family");
        assert!(reader.check_records().unwrap().is_empty());
        drop(reader);
        drop(Store::open(&path, &StoreOptions::default()).unwrap());
        assert!(families(&path).iter().all(|f| !f.starts_with("parents/")), "{:?}", families(&path));
    }
}
