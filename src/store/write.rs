//! The commit: products, occurrence counts, counters and the new input offset of every job of a
//! batch are committed together, so a crash leaves either all of a job's batch or none of it
//! (the bulk-load protocol of [`Store::commit_ingest`], or one WriteBatch).
//!
//! Upsert rule: a product key already present keeps its first provenance and gains the batch's
//! occurrences; a new key is inserted and counted as a new unique product. Two ways to apply it:
//!
//! - blind (every ingest): the batch says which keys are new ([`JobBatch::novel`], decided
//!   before the writer by `ingest::novelty`, exactly); a new key is a `Put` of its record, a
//!   known key a `Merge` of an occurrences operand (`merge.rs`). No read on the write path.
//! - read-modify-write (`novel` None; the previous path, kept for the writer benchmark's side
//!   by side): a multi-get of the batch's keys, then a `Put` per key. Only one writer exists
//!   per store (RocksDB's LOCK), so read-then-write is exact.

use rocksdb::{IngestExternalFileOptions, SstFileWriter, WriteBatch, WriteOptions};

use super::codec::{decode, encode, encode_into};
use super::merge::{occurrences_operand, provenance_operand};
use super::open::Durability;
use super::records::{JobMeta, ProductRecord, RejectRecord, RowsHash};
use super::schema::{
    family_link_key_into, family_reverse_link_key_into, family_root_key_into, job_key, key_index_key, parents_cf,
    products_cf, reject_key, rejects_cf, rows_key, CF_KEYS, FAMILY_END, FIRST_PRODUCT_KEY, KEY_BATCH_SENTINEL,
    KEY_DROP_PREFIX, KEY_GENERATION,
};
use super::{Db, Store};
use crate::error::StoreError;

/// Folder (inside the store) where bulk-load SST files are written before they are ingested.
const INGEST_DIR: &str = "ingest";

/// Rejected rows of one input batch (shared by all the input's jobs).
pub struct RejectBatch<'a> {
    pub input_key: &'a str,
    pub rows: &'a [(u64, RejectRecord)],
}

/// What an upstream key supplies to the products made from it (`Store::repair_provenance`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Supplied {
    /// The upstream key (the products' parent).
    pub key: String,
    /// Its source row (the original input row it came from).
    pub row: u64,
    /// Its id (the original input molecule's).
    pub id: Option<String>,
    /// Its carried cells, in the job's carried column order.
    pub carried: Vec<Option<String>>,
}

/// An input row whose molecule made products of a file-input job: (canonical molecule, input
/// row, id).
pub type RootRow = (String, u64, Option<String>);

/// The lineage-index keys and values of a batch's links and root rows, sorted by key (links by
/// product, then root rows; all sort before the links by parent).
fn lineage_keys(links: &[(String, String)], roots: &[RootRow]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::with_capacity(links.len() + roots.len());
    for (parent, product) in links {
        let mut k = Vec::new();
        family_reverse_link_key_into(&mut k, product, parent);
        out.push((k, Vec::new()));
    }
    for (parent, row, id) in roots {
        let mut k = Vec::new();
        family_root_key_into(&mut k, parent, *row);
        out.push((k, id.clone().unwrap_or_default().into_bytes()));
    }
    out.sort_unstable();
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

/// What one input batch adds to one job.
pub struct JobBatch<'a> {
    /// The job's metadata after this batch (offset, counters); `unique_products` is updated by
    /// the commit itself.
    pub meta: &'a mut JobMeta,
    /// Products of the batch, already merged per key (occurrences summed, first provenance
    /// kept), in first-seen order.
    pub products: Vec<(String, ProductRecord)>,
    /// (canonical parent, product) links for the parent index (and the lineage index).
    pub parent_links: Vec<(String, String)>,
    /// Root rows of a file-input job's batch: (canonical molecule, input row, id) of each row
    /// that made a product (the lineage index; empty for a job input).
    pub roots: Vec<RootRow>,
    /// Per product (same order), whether its key is new to the job's family (the blind path,
    /// committed by bulk load). None: unknown, the commit reads the keys (read-modify-write).
    pub novel: Option<Vec<bool>>,
}

impl JobBatch<'_> {
    /// Stamps the batch's products with the job's version (`since`, `moved`); returns whether
    /// the job grows from new upstream keys (its known products then get provenance operands).
    fn stamp(&mut self) -> bool {
        let version = self.meta.version;
        for (_, rec) in &mut self.products {
            (rec.since, rec.moved) = (version, version);
        }
        self.meta.grows_from_keys()
    }
}

impl Store {
    /// Creates the job's product column family if needed and records the job's metadata.
    pub fn register_job(&self, meta: &JobMeta) -> Result<(), StoreError> {
        // only the products family is read on the write path (dedup): it alone gets the
        // memtable bloom filter (see `open.rs`, `cf_options`)
        let families =
            [(products_cf(&meta.id), &self.cf_options), (rejects_cf(&meta.input_key), &self.cf_options_blind)];
        for (cf_name, options) in families {
            if self.db.cf_handle(&cf_name).is_none() {
                self.db.create_cf(&cf_name, options).map_err(|e| self.db_err("create column family", e))?;
            }
        }
        let meta_cf = self.meta_cf()?;
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        self.db.put_cf_opt(&meta_cf, job_key(&meta.id), encode(meta), &opts).map_err(|e| self.db_err("write job", e))
    }

    /// A generation number never handed out before in this store (1, 2, ...): a new job's
    /// `born` and `version`, a growing job's new `version`. Synced before it is used.
    pub(crate) fn next_generation(&self) -> Result<u64, StoreError> {
        let meta = self.meta_cf()?;
        let last = match self.db.get_cf(&meta, KEY_GENERATION).map_err(|e| self.db_err("read generation", e))? {
            Some(v) => u64::from_le_bytes(v.as_slice().try_into().map_err(|_| StoreError::Invalid {
                path: self.path.clone(),
                context: "read generation",
                reason: "not 8 bytes",
            })?),
            None => 0,
        };
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        self.db
            .put_cf_opt(&meta, KEY_GENERATION, (last + 1).to_le_bytes(), &opts)
            .map_err(|e| self.db_err("write generation", e))?;
        Ok(last + 1)
    }

    /// Gives the products of `job` made from each `supplied` parent key (by the parent index)
    /// whose first provenance is that key the parent's values as supplied now (source row, id,
    /// carried cells), `moved` = the job's version: after an upstream product's own first
    /// provenance moved, or another upstream job supplies it. Idempotent (a kill part-way is
    /// repaired by running it again). Returns the products changed.
    pub(crate) fn repair_provenance<E>(
        &self,
        job: &JobMeta,
        supplied: impl Iterator<Item = Result<Supplied, E>>,
    ) -> crate::error::Result<u64>
    where
        crate::Error: From<E>,
    {
        let cf = self.products_cf(&job.id)?;
        let mut batch = WriteBatch::default();
        let mut changed = 0u64;
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        for s in supplied {
            let s = s?;
            for product in self.products_of_parent(&job.id, &s.key)? {
                let Some(mut rec) = self.product(&job.id, &product)? else { continue };
                if rec.parent_smiles != s.key
                    || (rec.parent_row, &rec.parent_id, &rec.carried) == (s.row, &s.id, &s.carried)
                {
                    continue;
                }
                (rec.parent_row, rec.parent_id, rec.carried, rec.moved) =
                    (s.row, s.id.clone(), s.carried.clone(), job.version);
                batch.put_cf(&cf, product.as_bytes(), encode(&rec));
                changed += 1;
                if batch.len() >= 4096 {
                    let full = std::mem::take(&mut batch);
                    self.db.write_opt(full, &opts).map_err(|e| self.db_err("repair provenance", e))?;
                }
            }
        }
        self.db.write_opt(batch, &opts).map_err(|e| self.db_err("repair provenance", e))?;
        Ok(changed)
    }

    /// Records the content hash of a version of the input with key `input_key` (kept with
    /// the versions recorded before it, once each).
    pub fn add_rows_hash(&self, input_key: &str, version: RowsHash) -> Result<(), StoreError> {
        let mut versions = self.rows_hashes(input_key)?;
        if versions.contains(&version) {
            return Ok(());
        }
        versions.push(version);
        let meta = self.meta_cf()?;
        self.db.put_cf(&meta, rows_key(input_key), encode(&versions)).map_err(|e| self.db_err("write input hashes", e))
    }

    /// Atomically commits one input batch for one or more jobs, with its rejected rows: by
    /// bulk load when every job's novelty is known (`commit_ingest`, private), else by a
    /// read-modify-write WriteBatch.
    pub fn commit(&self, jobs: &mut [JobBatch<'_>], rejects: RejectBatch<'_>) -> Result<(), StoreError> {
        if !jobs.is_empty() && jobs.iter().all(|j| j.novel.is_some()) {
            return self.commit_ingest(jobs, rejects);
        }
        let meta_cf = self.meta_cf()?;
        let keys_cf = self.keys_cf()?;
        let mut batch = WriteBatch::default();
        self.put_rejects(&mut batch, &rejects)?;
        for job in jobs.iter_mut() {
            let cf = self.products_cf(&job.meta.id)?;
            let existing = self.db.batched_multi_get_cf(&cf, job.products.iter().map(|(k, _)| k.as_bytes()), false);
            let mut new_keys = 0u64;
            let growing = job.stamp();
            for ((key, mut rec), old) in job.products.drain(..).zip(existing) {
                match old.map_err(|e| self.db_err("read product", e))? {
                    Some(bytes) => {
                        let mut prev: ProductRecord = decode(&bytes, key.as_str())?;
                        prev.occurrences += rec.occurrences;
                        if growing {
                            super::merge::offer(&mut prev, rec);
                        }
                        rec = prev;
                    }
                    None => {
                        new_keys += 1;
                        batch.put_cf(&keys_cf, key_index_key(key.as_bytes(), &job.meta.id), []);
                    }
                }
                batch.put_cf(&cf, key.as_bytes(), encode(&rec));
            }
            job.meta.counters.unique_products += new_keys;
            for (key, value) in lineage_keys(&job.parent_links, &job.roots) {
                batch.put_cf(&cf, key, value);
            }
            job.roots.clear();
            let mut link = Vec::new();
            for (parent, product) in job.parent_links.drain(..) {
                family_link_key_into(&mut link, &parent, &product);
                batch.put_cf(&cf, &link, []);
            }
            // the sentinel too, so a family's sentinel is never behind its job's record
            // (`consistency.rs`)
            batch.put_cf(&cf, KEY_BATCH_SENTINEL, encode(&*job.meta));
            batch.put_cf(&meta_cf, job_key(&job.meta.id), encode(&*job.meta));
        }
        let mut opts = WriteOptions::default();
        opts.set_sync(self.durability == Durability::Sync);
        self.db.write_opt(batch, &opts).map_err(|e| self.db_err("commit batch", e))
    }

    /// Commits a batch whose novelty is known, by bulk load: each job's products are sorted and
    /// written as ONE SST file (new keys as `Put`, known keys as occurrences `Merge`s, the
    /// job's record after the batch under [`KEY_BATCH_SENTINEL`], and the batch's parent links)
    /// and ingested into its family. No memtable, no WAL, no read: what the writer thread does
    /// per product is a sort comparison and an SST append.
    ///
    /// Crash protocol, per job (each job has its own offset): (1) the batch's rejected rows,
    /// idempotent puts, in a WriteBatch; (2) the key-index SST, idempotent; (3) the products
    /// SST with the links: RocksDB ingests a file atomically, so this is the job's commit
    /// point, and the sentinel inside it carries the job's offset and counters; (4) the job
    /// records in the meta family. A kill before (3) leaves the job at its old offset (the
    /// batch is redone: (1) and (2) rewrite the same keys); a kill between (3) and (4) is
    /// repaired at the next writer open, which adopts the newer sentinel
    /// ([`Store::reconcile_sentinels`]).
    fn commit_ingest(&self, jobs: &mut [JobBatch<'_>], rejects: RejectBatch<'_>) -> Result<(), StoreError> {
        let mut opts = WriteOptions::default();
        opts.set_sync(self.durability == Durability::Sync);
        if !rejects.rows.is_empty() {
            let mut batch = WriteBatch::default();
            self.put_rejects(&mut batch, &rejects)?;
            self.db.write_opt(batch, &opts).map_err(|e| self.db_err("write rejected rows", e))?;
        }
        if jobs.iter().any(|j| j.novel.as_ref().is_none_or(|n| n.len() != j.products.len())) {
            return Err(StoreError::Invalid {
                path: self.path.clone(),
                context: "commit batch",
                reason: "novelty verdicts do not match the products",
            });
        }
        self.index_new_keys(jobs)?;
        let meta_cf = self.meta_cf()?;
        let mut metas = WriteBatch::default();
        for job in jobs.iter_mut() {
            let novel = job.novel.take().unwrap_or_default();
            // (parent, product) order is the links' key order: the separator NUL sorts first
            // and never occurs in SMILES
            let mut links = std::mem::take(&mut job.parent_links);
            links.sort_unstable();
            links.dedup();
            let lineage = lineage_keys(&links, &std::mem::take(&mut job.roots));
            job.meta.counters.unique_products += novel.iter().filter(|n| **n).count() as u64;
            let growing = job.stamp();
            let mut order: Vec<(&str, usize)> =
                job.products.iter().enumerate().map(|(i, (key, _))| (key.as_str(), i)).collect();
            order.sort_unstable();
            let cf = self.products_cf(&job.meta.id)?;
            self.bulk_load(&cf, |sst| {
                let mut value = Vec::with_capacity(256);
                encode_into(&mut value, &*job.meta);
                sst.put(KEY_BATCH_SENTINEL, &value)?;
                for (key, id) in &lineage {
                    sst.put(key, id)?;
                }
                let mut link = Vec::new();
                for (parent, product) in &links {
                    family_link_key_into(&mut link, parent, product);
                    sst.put(&link, [])?;
                }
                for &(key, i) in &order {
                    let rec = &job.products[i].1;
                    if novel[i] {
                        encode_into(&mut value, rec);
                        sst.put(key, &value)?;
                    } else if growing {
                        sst.merge(key, provenance_operand(rec))?;
                    } else {
                        sst.merge(key, occurrences_operand(rec.occurrences))?;
                    }
                }
                Ok(())
            })?;
            job.products.clear();
            crate::failpoint::hit("store.commit.ingested");
            metas.put_cf(&meta_cf, job_key(&job.meta.id), encode(&*job.meta));
        }
        self.db.write_opt(metas, &opts).map_err(|e| self.db_err("commit batch", e))
    }

    /// Step (2b) of [`Store::commit_ingest`]: the key-index entries of the batch's keys new to
    /// their jobs, as one SST file (idempotent puts, before the products: a kill between leaves
    /// entries whose products are not there yet, which readers confirm and skip).
    fn index_new_keys(&self, jobs: &[JobBatch<'_>]) -> Result<(), StoreError> {
        let mut new: Vec<(&str, &str)> = Vec::new();
        for job in jobs {
            let novel = job.novel.as_deref().unwrap_or_default();
            let keys = job.products.iter().zip(novel).filter(|(_, n)| **n);
            new.extend(keys.map(|((key, _), _)| (key.as_str(), job.meta.id.as_str())));
        }
        if new.is_empty() {
            return Ok(());
        }
        // (key, job) order is the entries' byte order: the separator NUL sorts first
        new.sort_unstable();
        let cf = self.keys_cf()?;
        self.bulk_load(&cf, |sst| {
            for (key, job) in &new {
                sst.put(key_index_key(key.as_bytes(), job), [])?;
            }
            Ok(())
        })
    }

    /// Indexes every product key of every job (a store written before the key index, opened
    /// for writing): one SST file per job, streamed from its family in key order, so memory
    /// stays that of one scan. Idempotent: a kill leaves the store at its old version, and the
    /// next open indexes it again.
    pub(super) fn build_key_index(&self) -> Result<(), StoreError> {
        let cf = self.keys_cf()?;
        for job in self.jobs()? {
            let Some(products) = self.db.cf_handle(&products_cf(&job.id)) else { continue };
            let mode = rocksdb::IteratorMode::From(FIRST_PRODUCT_KEY, rocksdb::Direction::Forward);
            let mut keys = self.db.iterator_cf(&products, mode).peekable();
            if keys.peek().is_none() {
                continue; // an SST file cannot be empty
            }
            self.bulk_load(&cf, |sst| {
                for item in keys {
                    let (key, _) = item?;
                    sst.put(key_index_key(&key, &job.id), [])?;
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    /// Moves the parent index of a store of format 4 or older (a `parents/<job>` family per
    /// job) into the jobs' products families (format 5): one SST file per job, streamed from
    /// the old family in key order, which the new keys keep. Returns the old families, which
    /// the caller marks for dropping with the new version ([`Store::finish_pending_drops`]).
    /// Idempotent: a kill leaves the store at its old version with every old family whole,
    /// and the next open moves again.
    pub(super) fn move_parent_links(&self) -> Result<Vec<String>, StoreError> {
        let mut moved = Vec::new();
        for job in self.jobs()? {
            let name = parents_cf(&job.id);
            let Some(old) = self.db.cf_handle(&name) else { continue };
            let mut links = self.db.iterator_cf(&old, rocksdb::IteratorMode::Start).peekable();
            if links.peek().is_some() {
                let cf = self.products_cf(&job.id)?;
                self.bulk_load(&cf, |sst| {
                    let mut key = Vec::new();
                    for item in links {
                        let (link, _) = item?;
                        // the format-4 key is parent NUL product: behind the sentinel byte
                        key.clear();
                        key.extend_from_slice(KEY_BATCH_SENTINEL);
                        key.extend_from_slice(&link);
                        sst.put(&key, [])?;
                    }
                    Ok(())
                })?;
            }
            moved.push(name);
        }
        Ok(moved)
    }

    fn keys_cf(&self) -> Result<std::sync::Arc<rocksdb::BoundColumnFamily<'_>>, StoreError> {
        if self.db.cf_handle(CF_KEYS).is_none() {
            self.db.create_cf(CF_KEYS, &self.cf_options_blind).map_err(|e| self.db_err("create column family", e))?;
        }
        self.db.cf_handle(CF_KEYS).ok_or_else(|| StoreError::Invalid {
            path: self.path.clone(),
            context: "open key index",
            reason: "missing",
        })
    }

    /// Adds the batch's rejected rows to `batch` (puts: rewriting them is harmless).
    fn put_rejects(&self, batch: &mut WriteBatch, rejects: &RejectBatch<'_>) -> Result<(), StoreError> {
        if !rejects.rows.is_empty() {
            let cf = self.rejects_cf(rejects.input_key)?;
            for (row, rec) in rejects.rows {
                batch.put_cf(&cf, reject_key(*row), encode(rec));
            }
        }
        Ok(())
    }

    /// Writes one SST file under the store's `ingest/` folder with `fill` (strictly ascending
    /// keys) and ingests it into `cf` (moved, not copied).
    fn bulk_load(
        &self,
        cf: &impl rocksdb::AsColumnFamilyRef,
        fill: impl FnOnce(&mut SstFileWriter<'_>) -> Result<(), rocksdb::Error>,
    ) -> Result<(), StoreError> {
        let n = self.next_sst.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = self.path.join(INGEST_DIR).join(format!("{n}.sst"));
        let mut writer = SstFileWriter::create(&self.sst_options);
        writer.open(&path).map_err(|e| self.db_err("create SST file", e))?;
        fill(&mut writer).map_err(|e| self.db_err("write SST file", e))?;
        writer.finish().map_err(|e| self.db_err("finish SST file", e))?;
        if self.durability == Durability::Sync {
            std::fs::File::open(&path).and_then(|f| f.sync_all()).map_err(|source| StoreError::Io {
                path: path.clone(),
                context: "fsync SST file",
                source,
            })?;
        }
        let mut ingest = IngestExternalFileOptions::default();
        ingest.set_move_files(true);
        self.db.ingest_external_file_cf_opts(cf, &ingest, vec![&path]).map_err(|e| self.db_err("ingest SST file", e))
    }

    /// Adopts, for every job, the record in its products family's batch sentinel when it is
    /// ahead of the meta family's (a kill between steps 3 and 4 of [`Store::commit_ingest`]),
    /// and removes SST files left unloaded in `ingest/` by a kill before step 3.
    pub(super) fn reconcile_sentinels(&self) -> Result<(), StoreError> {
        let dir = self.path.join(INGEST_DIR);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|source| StoreError::Io {
            path: dir.clone(),
            context: "create ingest folder",
            source,
        })?;
        let meta_cf = self.meta_cf()?;
        for job in self.jobs()? {
            let Some(cf) = self.db.cf_handle(&products_cf(&job.id)) else { continue };
            let found = self.db.get_cf(&cf, KEY_BATCH_SENTINEL).map_err(|e| self.db_err("read batch sentinel", e))?;
            let Some(bytes) = found else { continue };
            let sentinel: JobMeta = decode(&bytes, "batch sentinel")?;
            if sentinel.offset > job.offset {
                self.db
                    .put_cf(&meta_cf, job_key(&job.id), encode(&sentinel))
                    .map_err(|e| self.db_err("repair job from its batch sentinel", e))?;
            }
        }
        Ok(())
    }

    /// Deletes a job, its products (with their parent links), and the rejected rows of its
    /// input (used by `ingest --restart`, which re-reads the input from row 0 and so rebuilds
    /// them).
    ///
    /// Crash-safe: ONE synced WriteBatch deletes the job's metadata and everything in its
    /// families (a range deletion of each whole family, [`FAMILY_END`]), so a kill leaves
    /// either the job as it was or no job and empty families, never a job whose metadata
    /// outlives part of its data. The families stay for the redo to write into: dropping and
    /// creating a column family makes RocksDB rewrite and re-verify its OPTIONS file for every
    /// family of the store, which was 40% of the CPU of redoing streams in a store of ~800
    /// families (BENCHMARKS.md). Then the families' table files, all covered by the deletion,
    /// are removed (`DeleteFilesInRange`, and a compaction of the emptied family for the files
    /// of level 0 it leaves), so the space comes back at once.
    pub fn drop_job(&self, job: &str, input_key: &str) -> Result<(), StoreError> {
        let meta_cf = self.meta_cf()?;
        let names = [products_cf(job), rejects_cf(input_key)];
        let mut batch = WriteBatch::default();
        batch.delete_cf(&meta_cf, job_key(job));
        for name in &names {
            if let Some(cf) = self.db.cf_handle(name) {
                batch.delete_range_cf(&cf, &b""[..], FAMILY_END);
            }
        }
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        self.db.write_opt(batch, &opts).map_err(|e| self.db_err("delete job", e))?;
        crate::failpoint::hit("store.restart.1");
        for (i, name) in names.iter().enumerate() {
            if let Some(cf) = self.db.cf_handle(name) {
                self.db
                    .delete_file_in_range_cf(&cf, &b""[..], FAMILY_END)
                    .map_err(|e| self.db_err("remove files", e))?;
                // that leaves the files of level 0: compacting the emptied family drops what
                // they hold, so the space comes back now, as it did when the family was dropped
                self.db.compact_range_cf(&cf, None::<&[u8]>, None::<&[u8]>);
            }
            // store.restart.2 and .3: after the products' files and the rejects' files
            crate::failpoint::hit(&format!("store.restart.{}", i + 2));
        }
        Ok(())
    }

    /// Drops the column families recorded as pending (by an interrupted [`Store::drop_job`],
    /// or the parent-index families a format upgrade moved).
    pub(super) fn finish_pending_drops(&self) -> Result<(), StoreError> {
        let meta_cf = self.meta_cf()?;
        let pending = self.meta_with_prefix(KEY_DROP_PREFIX, "scan pending drops")?;
        for (i, (key, _)) in pending.iter().enumerate() {
            let cf_name = String::from_utf8_lossy(&key[KEY_DROP_PREFIX.len()..]).into_owned();
            if self.db.cf_handle(&cf_name).is_some() {
                self.db.drop_cf(&cf_name).map_err(|e| self.db_err("drop column family", e))?;
            }
            // store.restart.2 and .3: after the first and the second drop
            crate::failpoint::hit(&format!("store.restart.{}", i + 2));
            self.db.delete_cf(&meta_cf, key).map_err(|e| self.db_err("clear pending drop", e))?;
        }
        Ok(())
    }

    /// Rewrites every column family's files with the current table options (e.g. after an
    /// upgrade that changed them) and merges levels; the store stays readable meanwhile.
    pub fn compact(&self) -> Result<(), StoreError> {
        let names = Db::list_cf(&rocksdb::Options::default(), &self.path)
            .map_err(|e| self.db_err("list column families", e))?;
        for name in names {
            if let Some(cf) = self.db.cf_handle(&name) {
                self.db.compact_range_cf(&cf, None::<&[u8]>, None::<&[u8]>);
            }
        }
        Ok(())
    }
}
