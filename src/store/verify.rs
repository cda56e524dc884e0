//! `xfstore verify --store`: every block of every file, checked against its checksum.
//!
//! RocksDB 7.8's C API has no `VerifyChecksum`, so each column family is read end to end with
//! `verify_checksums` on and the block cache bypassed (`fill_cache(false)`): every data, index
//! and filter block the scan needs comes from disk and is checked. A damaged block is reported
//! with the column family it belongs to, and so with the jobs whose data it holds.

use rocksdb::{IteratorMode, ReadOptions};

use super::schema::{CF_META, CF_PARENTS_PREFIX, CF_PRODUCTS_PREFIX, CF_REJECTS_PREFIX};
use super::{Db, ReadOnlyStore};
use crate::error::StoreError;

/// The check of one column family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CfCheck {
    /// Column family name (`products/<job>`, `parents/<job>`, `rejects/<input>`, `meta`).
    pub name: String,
    /// Keys read before the end or the first error.
    pub keys: u64,
    /// RocksDB's error (e.g. a checksum mismatch), if the scan failed.
    pub error: Option<String>,
    /// Jobs whose data this column family holds.
    pub jobs: Vec<String>,
}

/// What `Store::verify` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyStoreReport {
    /// One check per column family.
    pub column_families: Vec<CfCheck>,
}

impl VerifyStoreReport {
    /// Whether every column family read back without error.
    pub fn is_ok(&self) -> bool {
        self.column_families.iter().all(|c| c.error.is_none())
    }

    /// Jobs with data in a damaged column family, sorted, without repeats.
    pub fn damaged_jobs(&self) -> Vec<String> {
        let mut jobs: Vec<String> =
            self.column_families.iter().filter(|c| c.error.is_some()).flat_map(|c| c.jobs.clone()).collect();
        jobs.sort();
        jobs.dedup();
        jobs
    }
}

impl ReadOnlyStore {
    /// Reads every key of every column family with checksum verification, from disk.
    pub fn verify(&self) -> Result<VerifyStoreReport, StoreError> {
        let names = Db::list_cf(&rocksdb::Options::default(), &self.path)
            .map_err(|e| self.db_err("list column families", e))?;
        // The job table itself may be damaged: then every job is affected.
        let jobs = self.jobs().map(|js| js.into_iter().map(|j| (j.id, j.input_key)).collect::<Vec<_>>());
        let mut report = VerifyStoreReport::default();
        for name in names {
            let Some(cf) = self.db.cf_handle(&name) else { continue };
            let mut opts = ReadOptions::default();
            opts.set_verify_checksums(true);
            opts.fill_cache(false);
            opts.set_readahead_size(4 << 20);
            let (mut keys, mut error) = (0u64, None);
            for item in self.db.iterator_cf_opt(&cf, opts, IteratorMode::Start) {
                match item {
                    Ok(_) => keys += 1,
                    Err(e) => {
                        error = Some(e.into_string());
                        break;
                    }
                }
            }
            let affected = match &jobs {
                Err(_) => vec!["(all: the job table is unreadable)".to_owned()],
                Ok(jobs) => jobs_of_cf(&name, jobs),
            };
            report.column_families.push(CfCheck { name, keys, error, jobs: affected });
        }
        if let (Err(e), Some(meta)) = (&jobs, report.column_families.iter_mut().find(|c| c.name == CF_META)) {
            meta.error.get_or_insert_with(|| e.to_string());
        }
        Ok(report)
    }
}

/// Jobs (id, input key) whose data column family `name` holds.
fn jobs_of_cf(name: &str, jobs: &[(String, String)]) -> Vec<String> {
    let ids = jobs.iter().map(|(id, _)| id.clone());
    if name == CF_META || name == "default" {
        return ids.collect();
    }
    if let Some(job) = name.strip_prefix(CF_PRODUCTS_PREFIX).or_else(|| name.strip_prefix(CF_PARENTS_PREFIX)) {
        return vec![job.to_owned()];
    }
    if let Some(input) = name.strip_prefix(CF_REJECTS_PREFIX) {
        return jobs.iter().filter(|(_, key)| key == input).map(|(id, _)| id.clone()).collect();
    }
    ids.collect()
}
