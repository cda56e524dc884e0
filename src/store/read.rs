//! Reads: the job table, point lookups and full scans of a job's products or an input's rejects.

use std::sync::Arc;

use rocksdb::{BoundColumnFamily, DBIteratorWithThreadMode, IteratorMode, ReadOptions};

use super::codec::decode;
use super::records::{JobMeta, ProductRecord, RejectRecord, RowsHash};
use super::schema::{
    family_link_key_into, family_reverse_link_key_into, family_root_key_into, job_key, key_index_key, parent_link_key,
    parents_cf, products_cf, rejects_cf, rows_key, split_root_row_key, CF_KEYS, FIRST_PRODUCT_KEY, KEY_INDEX_VERSION,
    KEY_JOB_PREFIX, KEY_LINEAGE, LINKS_IN_PRODUCTS_VERSION, ROOTS_END, ROOTS_START,
};
use super::{Db, ReadOnlyStore};
use crate::error::StoreError;

/// Readahead of one scan, per SST file it reads (RocksDB's own cap for automatic readahead).
/// A scan holds one such buffer per file of its column family, and a `job:` input scans every
/// upstream job at once (12-20 k2 jobs for an fg stream), so 4 MiB (before) could hold tens of
/// MiB at once. Cutting it did not measurably lower the natural campaign's peak RSS (#27,
/// BENCHMARKS.md): it bounds a holder, it was not the one that ran over.
const SCAN_READAHEAD_BYTES: usize = 256 << 10;

/// What RocksDB holds in memory, by its own estimates (see [`ReadOnlyStore::memory`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct StoreMemory {
    /// Block cache in use (data, index and filter blocks), pinned blocks included.
    pub block_cache: u64,
    /// Of which pinned (top-level index and filter of every open file, L0 partitions).
    pub pinned: u64,
    /// Memtables of every job's column families.
    pub memtables: u64,
    /// Table readers of open SST files, outside the cache.
    pub table_readers: u64,
}

/// A raw (key, value) pair read from RocksDB.
type KeyValue = (Box<[u8]>, Box<[u8]>);

impl ReadOnlyStore {
    /// All jobs, ordered by id.
    pub fn jobs(&self) -> Result<Vec<JobMeta>, StoreError> {
        let entries = self.meta_with_prefix(KEY_JOB_PREFIX, "scan jobs")?;
        entries.iter().map(|(k, v)| decode(v, &String::from_utf8_lossy(k))).collect()
    }

    /// What RocksDB holds in memory now: block cache (pinned part apart), memtables and table
    /// readers summed over every job's families. Shown in the ingest summary, so a run over its
    /// budget tells which holder grew.
    pub fn memory(&self) -> StoreMemory {
        let int = |v: Result<Option<u64>, rocksdb::Error>| v.ok().flatten().unwrap_or(0);
        let mut m = StoreMemory {
            block_cache: int(self.db.property_int_value("rocksdb.block-cache-usage")),
            pinned: int(self.db.property_int_value("rocksdb.block-cache-pinned-usage")),
            ..StoreMemory::default()
        };
        let mut add = |cf: &Arc<BoundColumnFamily<'_>>| {
            m.memtables += int(self.db.property_int_value_cf(cf, "rocksdb.cur-size-all-mem-tables"));
            m.table_readers += int(self.db.property_int_value_cf(cf, "rocksdb.estimate-table-readers-mem"));
        };
        if let Ok(meta) = self.meta_cf() {
            add(&meta);
        }
        for job in self.jobs().unwrap_or_default() {
            for cf in [self.products_cf(&job.id), self.parents_cf(&job.id)].into_iter().flatten() {
                add(&cf);
            }
        }
        m
    }

    /// The (key, value) pairs of the meta column family whose key starts with `prefix`.
    pub(super) fn meta_with_prefix(&self, prefix: &[u8], context: &'static str) -> Result<Vec<KeyValue>, StoreError> {
        let meta = self.meta_cf()?;
        let mut out = Vec::new();
        for item in self.db.iterator_cf(&meta, IteratorMode::From(prefix, rocksdb::Direction::Forward)) {
            let (k, v) = item.map_err(|e| self.db_err(context, e))?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push((k, v));
        }
        Ok(out)
    }

    /// One job's metadata, if it exists.
    pub fn job(&self, id: &str) -> Result<Option<JobMeta>, StoreError> {
        let meta = self.meta_cf()?;
        match self.db.get_cf(&meta, job_key(id)).map_err(|e| self.db_err("read job", e))? {
            Some(v) => Ok(Some(decode(&v, id)?)),
            None => Ok(None),
        }
    }

    /// Column families in the store (each holds RocksDB memory whenever the store is open:
    /// [`crate::MemoryBudget::check_families`]).
    pub fn family_count(&self) -> Result<usize, StoreError> {
        Db::list_cf(&rocksdb::Options::default(), &self.path)
            .map(|names| names.len())
            .map_err(|e| self.db_err("list column families", e))
    }

    /// The content hashes recorded for the versions of the input with key `input_key` (see
    /// [`RowsHash`]), oldest first; empty when none was.
    pub fn rows_hashes(&self, input_key: &str) -> Result<Vec<RowsHash>, StoreError> {
        let meta = self.meta_cf()?;
        match self.db.get_cf(&meta, rows_key(input_key)).map_err(|e| self.db_err("read input hashes", e))? {
            Some(v) => decode(&v, input_key),
            None => Ok(Vec::new()),
        }
    }

    /// The job's record for a canonical SMILES.
    pub fn product(&self, job: &str, canonical_smiles: &str) -> Result<Option<ProductRecord>, StoreError> {
        let cf = self.products_cf(job)?;
        match self.db.get_pinned_cf(&cf, canonical_smiles.as_bytes()).map_err(|e| self.db_err("lookup", e))? {
            Some(v) => Ok(Some(decode(&v, canonical_smiles)?)),
            None => Ok(None),
        }
    }

    /// Streams all products of a job in key order. On a read-only store this is a consistent
    /// point-in-time view; blocks read by the scan bypass the block cache.
    pub fn scan(&self, job: &str) -> Result<ProductScan<'_>, StoreError> {
        let cf = self.products_cf(job)?;
        // from just past the reserved batch sentinel key (see `schema.rs`)
        Ok(ProductScan { inner: self.scan_cf(&cf, FIRST_PRODUCT_KEY) })
    }

    /// Streams the products of a job in key order from the first key at or after `from`.
    pub fn scan_from(&self, job: &str, from: &[u8]) -> Result<ProductScan<'_>, StoreError> {
        let cf = self.products_cf(job)?;
        let from = if from < FIRST_PRODUCT_KEY { FIRST_PRODUCT_KEY } else { from };
        Ok(ProductScan { inner: self.scan_cf(&cf, from) })
    }

    /// Streams the rejected rows of an input (see `JobMeta::input_key`) in row order.
    pub fn rejects(&self, input_key: &str) -> Result<RejectScan<'_>, StoreError> {
        let cf = self.rejects_cf(input_key)?;
        Ok(RejectScan { inner: self.scan_cf(&cf, &[]) })
    }

    fn scan_cf(&self, cf: &Arc<BoundColumnFamily<'_>>, from: &[u8]) -> RawScan<'_> {
        let mut opts = ReadOptions::default();
        opts.fill_cache(false);
        opts.set_readahead_size(SCAN_READAHEAD_BYTES);
        let mode = IteratorMode::From(from, rocksdb::Direction::Forward);
        RawScan { iter: self.db.iterator_cf_opt(cf, opts, mode), store: self }
    }

    /// The jobs whose products may hold this canonical SMILES, from the key index (one seek);
    /// None for a store without one (format 2 or 3: ask every job). A superset: an entry can
    /// outlive a dropped job, so confirm each hit with [`ReadOnlyStore::product`].
    pub(crate) fn jobs_holding(&self, canonical: &str) -> Result<Option<Vec<String>>, StoreError> {
        if self.version < KEY_INDEX_VERSION {
            return Ok(None);
        }
        // an indexed store without the family has never committed a product
        let Some(cf) = self.db.cf_handle(CF_KEYS) else { return Ok(Some(Vec::new())) };
        let from = key_index_key(canonical.as_bytes(), "");
        let mut opts = ReadOptions::default();
        let mut until = from.clone();
        *until.last_mut().expect("the separator") = 1;
        opts.set_iterate_upper_bound(until);
        let mut jobs = Vec::new();
        for item in self.db.iterator_cf_opt(&cf, opts, IteratorMode::From(&from, rocksdb::Direction::Forward)) {
            let (k, _) = item.map_err(|e| self.db_err("read key index", e))?;
            jobs.push(String::from_utf8_lossy(&k[from.len()..]).into_owned());
        }
        Ok(Some(jobs))
    }

    /// Canonical SMILES of the products `job` made from the parent with this canonical SMILES,
    /// in key order (the parent index).
    pub fn products_of_parent(&self, job: &str, canonical_parent: &str) -> Result<Vec<String>, StoreError> {
        let (cf, prefix) = if self.version >= LINKS_IN_PRODUCTS_VERSION {
            let mut prefix = Vec::new();
            family_link_key_into(&mut prefix, canonical_parent, "");
            (self.products_cf(job)?, prefix)
        } else {
            (self.parents_cf(job)?, parent_link_key(canonical_parent, ""))
        };
        self.scan_prefix(&cf, &prefix, |product, _| String::from_utf8_lossy(product).into_owned())
    }

    /// Whether every job family has the lineage index (the store was made at format 7 or
    /// later; see `schema.rs`).
    pub fn has_lineage(&self) -> Result<bool, StoreError> {
        let meta = self.meta_cf()?;
        Ok(self.db.get_pinned_cf(&meta, KEY_LINEAGE).map_err(|e| self.db_err("read meta", e))?.is_some())
    }

    /// Canonical SMILES of every parent `job` made the product `canonical_product` from, in
    /// key order (the lineage index: every distinct parent, not only the first provenance).
    pub fn parents_of_product(&self, job: &str, canonical_product: &str) -> Result<Vec<String>, StoreError> {
        let mut prefix = Vec::new();
        family_reverse_link_key_into(&mut prefix, canonical_product, "");
        self.scan_prefix(&self.products_cf(job)?, &prefix, |parent, _| String::from_utf8_lossy(parent).into_owned())
    }

    /// The input rows (row, id) of a file-input `job` whose molecule is `canonical_molecule`
    /// and made products, in row order (the lineage index's root rows).
    pub fn root_rows(&self, job: &str, canonical_molecule: &str) -> Result<Vec<(u64, Option<String>)>, StoreError> {
        let mut prefix = Vec::new();
        family_root_key_into(&mut prefix, canonical_molecule, 0);
        prefix.truncate(prefix.len() - 8); // molecule, NUL: then the row
        self.scan_prefix(&self.products_cf(job)?, &prefix, |row, id| (row_of(row), id_of(id)))
    }

    /// The root rows of a file-input `job` whose id is `id`: (canonical molecule, row), in
    /// molecule order. Scans the job's root rows (one per input row that made a product).
    pub fn root_rows_with_id(&self, job: &str, id: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let mut out = Vec::new();
        let cf = self.products_cf(job)?;
        let mut opts = ReadOptions::default();
        opts.set_iterate_upper_bound(ROOTS_END);
        for item in self.db.iterator_cf_opt(&cf, opts, IteratorMode::From(ROOTS_START, rocksdb::Direction::Forward)) {
            let (k, v) = item.map_err(|e| self.db_err("scan root rows", e))?;
            if v.as_ref() != id.as_bytes() {
                continue;
            }
            if let Some((molecule, row)) = k.strip_prefix(ROOTS_START).and_then(split_root_row_key) {
                out.push((molecule.to_owned(), row));
            }
        }
        Ok(out)
    }

    /// `f(rest of key, value)` of every key of family `cf` starting with `prefix`, in key order.
    fn scan_prefix<T>(
        &self,
        cf: &Arc<BoundColumnFamily<'_>>,
        prefix: &[u8],
        f: impl Fn(&[u8], &[u8]) -> T,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(cf, IteratorMode::From(prefix, rocksdb::Direction::Forward)) {
            let (k, v) = item.map_err(|e| self.db_err("scan index", e))?;
            let Some(rest) = k.strip_prefix(prefix) else { break };
            out.push(f(rest, &v));
        }
        Ok(out)
    }

    pub(super) fn parents_cf(&self, job: &str) -> Result<Arc<BoundColumnFamily<'_>>, StoreError> {
        self.db.cf_handle(&parents_cf(job)).ok_or_else(|| StoreError::UnknownJob {
            job: format!("parent index of {job}"),
            known: "see `xfstore status`".into(),
        })
    }

    pub(super) fn rejects_cf(&self, input_key: &str) -> Result<Arc<BoundColumnFamily<'_>>, StoreError> {
        self.db.cf_handle(&rejects_cf(input_key)).ok_or_else(|| StoreError::UnknownJob {
            job: format!("input {input_key}"),
            known: "see `xfstore status`".into(),
        })
    }

    /// Which of `keys` are in `job`'s products (one batched multi-get; bloom filters answer
    /// most absent keys without reading a block). The ingest's novelty check: see
    /// `ingest/novelty.rs`.
    pub fn contains_products(&self, job: &str, keys: &[&str]) -> Result<Vec<bool>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let cf = self.products_cf(job)?;
        let found = self.db.batched_multi_get_cf(&cf, keys.iter().map(|k| k.as_bytes()), false);
        found.into_iter().map(|r| r.map(|v| v.is_some()).map_err(|e| self.db_err("read product", e))).collect()
    }

    pub(super) fn products_cf(&self, job: &str) -> Result<Arc<BoundColumnFamily<'_>>, StoreError> {
        self.db.cf_handle(&products_cf(job)).ok_or_else(|| StoreError::UnknownJob {
            job: job.to_owned(),
            known: self
                .jobs()
                .map(|j| j.iter().map(|j| j.id.clone()).collect::<Vec<_>>().join(", "))
                .unwrap_or_default(),
        })
    }

    /// Approximate bytes on disk (SST files + WAL) of the whole store.
    pub fn disk_bytes(&self) -> u64 {
        fn walk(p: &std::path::Path) -> u64 {
            std::fs::read_dir(p)
                .map(|rd| rd.flatten().map(|e| e.metadata().map(|m| m.len()).unwrap_or(0)).sum())
                .unwrap_or(0)
        }
        walk(&self.path)
    }
}

/// Raw `(key, value)` scan of one column family, decoding values.
struct RawScan<'a> {
    iter: DBIteratorWithThreadMode<'a, Db>,
    store: &'a ReadOnlyStore,
}

/// One decoded entry of a raw scan: the key bytes and the decoded value.
type Decoded<T> = Result<(Box<[u8]>, T), StoreError>;

impl RawScan<'_> {
    fn next_decoded<T: super::codec::Record>(&mut self) -> Option<Decoded<T>> {
        let item = self.iter.next()?;
        Some(item.map_err(|e| self.store.db_err("scan", e)).and_then(|(k, v)| {
            let rec = decode(&v, &String::from_utf8_lossy(&k))?;
            Ok((k, rec))
        }))
    }
}

/// Iterator over `(canonical SMILES, record)` of one job.
pub struct ProductScan<'a> {
    inner: RawScan<'a>,
}

impl Iterator for ProductScan<'_> {
    type Item = Result<(String, ProductRecord), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.inner.next_decoded::<ProductRecord>()?.and_then(|(k, rec)| {
            let key = String::from_utf8(k.into_vec())
                .map_err(|e| StoreError::Codec { what: "product key".into(), reason: e.to_string() })?;
            Ok((key, rec))
        }))
    }
}

/// Iterator over `(input row, record)` of one input's rejects.
pub struct RejectScan<'a> {
    inner: RawScan<'a>,
}

impl Iterator for RejectScan<'_> {
    type Item = Result<(u64, RejectRecord), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.inner.next_decoded::<RejectRecord>()?.and_then(|(k, rec)| {
            let row = <[u8; 8]>::try_from(&k[..])
                .map(u64::from_be_bytes)
                .map_err(|_| StoreError::Codec { what: "reject key".into(), reason: "not 8 bytes".into() })?;
            Ok((row, rec))
        }))
    }
}

/// A root row's number from its 8 big-endian key bytes (0 if damaged: never written so).
fn row_of(bytes: &[u8]) -> u64 {
    bytes.try_into().map_or(0, u64::from_be_bytes)
}

/// A root row's id from its value (none when empty).
fn id_of(bytes: &[u8]) -> Option<String> {
    (!bytes.is_empty()).then(|| String::from_utf8_lossy(bytes).into_owned())
}
