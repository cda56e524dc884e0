//! Do the store's own records agree with RocksDB's view of its files?
//!
//! RocksDB recovers the newest state its MANIFEST describes, and a MANIFEST cut short (a
//! damaged disk, a bad copy) reads as a valid OLDER state: column families created later are
//! gone, files ingested later are no longer listed, and a read-write open then deletes those
//! files as obsolete (#28: a store cut to half its MANIFEST shrank from 5.4 to 2.9 MiB on the
//! next `run`, which said "done"). RocksDB cannot tell; the store can, because every job's
//! record (meta family) and its products family's batch sentinel (`write.rs`) are written by
//! separate, ordered steps:
//!
//! - a job record exists only after its families were created (`Store::register_job`), so a
//!   record without its products or parents family means lost families;
//! - every commit writes the sentinel (the job as of that batch) into the products family
//!   before (bulk load) or with (WriteBatch) the job record, so a sentinel BEHIND the record
//!   means lost files of that family;
//! - a products family holding a sentinel is always named by a job record or by a pending drop,
//!   so one without either means a lost record.
//!
//! [`Store::open`](super::Store::open) runs these checks on a read-only open before RocksDB
//! opens the store for writing, and refuses, writing and deleting nothing; `verify --store`
//! prints them with the files RocksDB does not list.

use std::collections::HashSet;

use super::codec::decode;
use super::records::JobMeta;
use super::schema::{
    parents_cf, pending_drop_key, products_cf, CF_PRODUCTS_PREFIX, FIRST_PRODUCT_KEY, KEY_BATCH_SENTINEL,
    LINKS_IN_PRODUCTS_VERSION,
};
use super::{Db, ReadOnlyStore};
use crate::error::StoreError;

/// One disagreement between the store's records and what RocksDB holds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Damage {
    /// A job's record names a column family RocksDB does not have.
    MissingFamily {
        /// The job.
        job: String,
        /// The missing column family.
        family: String,
    },
    /// The products family's last batch is older than the job's record: batches were lost.
    BatchesLost {
        /// The job.
        job: String,
        /// Input rows committed according to the job's record.
        record_offset: u64,
        /// Input rows committed according to the family's batch sentinel.
        family_offset: u64,
    },
    /// The job's record counts products, its family holds none (and no sentinel).
    ProductsLost {
        /// The job.
        job: String,
        /// Distinct products according to the job's record.
        products: u64,
    },
    /// A products family holds committed batches but no job record names it.
    RecordLost {
        /// The column family.
        family: String,
    },
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MissingFamily { job, family } => write!(f, "job {job}: column family {family} is missing"),
            Self::BatchesLost { job, record_offset, family_offset } => write!(
                f,
                "job {job}: its record has {record_offset} input rows committed, its products only {family_offset}"
            ),
            Self::ProductsLost { job, products } => {
                write!(f, "job {job}: its record counts {products} products, its column family holds none")
            }
            Self::RecordLost { family } => write!(f, "column family {family} holds committed batches of no job"),
        }
    }
}

/// SST files in the store's folder that RocksDB's view does not list, and the reverse.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileCheck {
    /// Files RocksDB lists as live.
    pub live: usize,
    /// `.sst` files in the folder that are not live, with their sizes. A few are normal after
    /// a kill (compaction inputs not yet deleted, an unfinished output); many, or large ones,
    /// next to a [`Damage`] are the lost data: a writer would delete them.
    pub unlisted: Vec<(String, u64)>,
    /// Live files missing from the folder.
    pub missing: Vec<String>,
}

impl ReadOnlyStore {
    /// Checks every job record against the column families and batch sentinels RocksDB holds
    /// (see the module docs). Exact when no writer runs; a reader racing a writer may see a
    /// record newer than the files it opened.
    pub fn check_records(&self) -> Result<Vec<Damage>, StoreError> {
        let families: HashSet<String> = Db::list_cf(&rocksdb::Options::default(), &self.path)
            .map_err(|e| self.db_err("list column families", e))?
            .into_iter()
            .collect();
        let jobs = self.jobs()?;
        let mut damage = Vec::new();
        for job in &jobs {
            // before format 5, the parent index had a family of its own
            let mut needed = vec![products_cf(&job.id)];
            if self.version < LINKS_IN_PRODUCTS_VERSION {
                needed.push(parents_cf(&job.id));
            }
            let missing: Vec<String> = needed.into_iter().filter(|f| !families.contains(f)).collect();
            if missing.is_empty() {
                damage.extend(self.check_family(job)?);
            }
            damage.extend(missing.into_iter().map(|family| Damage::MissingFamily { job: job.id.clone(), family }));
        }
        let named: HashSet<String> = jobs.iter().map(|j| products_cf(&j.id)).collect();
        let meta = self.meta_cf()?;
        for family in families.iter().filter(|f| f.starts_with(CF_PRODUCTS_PREFIX) && !named.contains(*f)) {
            let dropping = self.db.get_cf(&meta, pending_drop_key(family)).map_err(|e| self.db_err("read drop", e))?;
            let Some(cf) = self.db.cf_handle(family) else { continue };
            let sentinel = self.db.get_cf(&cf, KEY_BATCH_SENTINEL).map_err(|e| self.db_err("read sentinel", e))?;
            if dropping.is_none() && sentinel.is_some() {
                damage.push(Damage::RecordLost { family: family.clone() });
            }
        }
        Ok(damage)
    }

    /// The sentinel of `job`'s products family against its record.
    fn check_family(&self, job: &JobMeta) -> Result<Option<Damage>, StoreError> {
        let cf = self.products_cf(&job.id)?;
        match self.db.get_cf(&cf, KEY_BATCH_SENTINEL).map_err(|e| self.db_err("read batch sentinel", e))? {
            Some(bytes) => {
                let sentinel: JobMeta = decode(&bytes, "batch sentinel")?;
                Ok((sentinel.offset < job.offset).then(|| Damage::BatchesLost {
                    job: job.id.clone(),
                    record_offset: job.offset,
                    family_offset: sentinel.offset,
                }))
            }
            // stores written by the read-modify-write path before it wrote sentinels have
            // none: only a family with no product at all is known to be damaged
            None if job.counters.unique_products > 0 => {
                let mut it = self.db.raw_iterator_cf(&cf);
                it.seek(FIRST_PRODUCT_KEY);
                it.status().map_err(|e| self.db_err("read products", e))?;
                Ok((!it.valid())
                    .then(|| Damage::ProductsLost { job: job.id.clone(), products: job.counters.unique_products }))
            }
            None => Ok(None),
        }
    }

    /// The store folder's `.sst` files against the files RocksDB lists as live.
    pub fn check_files(&self) -> Result<FileCheck, StoreError> {
        let live: HashSet<String> = self
            .db
            .live_files()
            .map_err(|e| self.db_err("list live files", e))?
            .into_iter()
            .map(|f| f.name.trim_start_matches('/').to_owned())
            .collect();
        let read_dir = std::fs::read_dir(&self.path).map_err(|source| StoreError::Io {
            path: self.path.clone(),
            context: "list store folder",
            source,
        })?;
        let mut on_disk = HashSet::new();
        let mut check = FileCheck { live: live.len(), ..FileCheck::default() };
        for entry in read_dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".sst") {
                continue;
            }
            if !live.contains(&name) {
                check.unlisted.push((name.clone(), entry.metadata().map(|m| m.len()).unwrap_or(0)));
            }
            on_disk.insert(name);
        }
        check.unlisted.sort();
        check.missing = live.into_iter().filter(|f| !on_disk.contains(f)).collect();
        check.missing.sort();
        Ok(check)
    }
}

/// Refuses to let a writer open a store whose records disagree with RocksDB's view: checked on
/// a read-only open, which never deletes a file (a read-write open deletes what the view
/// does not list).
pub(super) fn refuse_damaged(reader: &ReadOnlyStore) -> Result<(), StoreError> {
    let damage = reader.check_records()?;
    if damage.is_empty() {
        return Ok(());
    }
    let unlisted = reader.check_files().map(|c| c.unlisted.len()).unwrap_or(0);
    Err(StoreError::Damaged { path: reader.path.clone(), damage, unlisted_files: unlisted })
}
