//! Partitioned runs: one ingest split across processes and machines, with the same products,
//! counts and provenance as a single-machine ingest, through three engine-independent steps
//! that any scheduler (the Ray driver in `python/xfstore_ray`, a shell loop, a Slurm array) can
//! run, retry and re-run:
//!
//! - `plan` fixes the input, rules, units (row ranges) and partitions in `DIR/plan.json`;
//! - `map --unit K` transforms one unit and writes one run file sorted by (partition, key);
//! - `reduce --partition P` merges partition P of every run file into shard store P by bulk
//!   load.
//!
//! Why files and not an engine's shuffle: products move as files on shared storage, never
//! through Ray's object store, whose spilling and memory use users report failing at this
//! scale. Every step publishes by rename with its done marker inside (`files.rs`), so a killed
//! step leaves nothing half-done, a finished step is skipped, and a step retried while its first
//! attempt still runs is harmless.
//!
//! Why exact: a product's partition is a function of its canonical SMILES alone
//! ([`partition_of`]), so all occurrences of a product meet in one reduce, which keeps the
//! lowest unit's record (units are ascending row ranges, each keeping its lowest row, then
//! site) and sums occurrences: the single-machine rule. Routing only: the merge compares full
//! keys. Properties are computed by the map step for each product's first provenance within
//! the unit, on the molecule the transform made, so the record kept carries the same bits as a
//! single-machine ingest's.

mod campaign;
mod files;
mod layout;
mod map;
mod plan;
mod reduce;
mod runfile;
mod sharded;

pub use campaign::{plan_campaign, CampaignPlan};
pub use layout::{is_partitioned, is_partitioned_campaign};
pub use map::{map_unit, unit_done, MapReport, UnitDone};
pub use plan::{plan, BuildId, Plan, PlanInput, PlanOptions, PlanRule, PlanUnit, DEFAULT_UNIT_ROWS};
pub use reduce::{reduce_partition, shard_done, ReduceReport, ShardDone, ShardJob};
pub use sharded::{ShardedJob, ShardedStatus, ShardedStore};

/// Seed of the partition hash, fixed forever ("xfstore1" in ASCII): partitions must agree
/// across machines and releases. Changing it (or the hash) changes [`BuildId::partition_hash`],
/// so steps refuse plans of the other kind.
pub const PARTITION_SEED: u64 = 0x7866_7374_6f72_6531;

/// Version of the run-file layout (`runfile.rs`). 2: root rows (`KIND_ROOT`, the lineage index).
pub const RUN_FORMAT: u32 = 2;

/// The partition of a key among `partitions`: xxh3-64 of the key's bytes (the canonical SMILES
/// of a product, the row number of a rejected row as u64 big-endian) with [`PARTITION_SEED`],
/// modulo `partitions`. Never Rust's `DefaultHasher`, whose output may change between
/// releases.
pub fn partition_of(key: &[u8], partitions: u32) -> u32 {
    (xxhash_rust::xxh3::xxh3_64_with_seed(key, PARTITION_SEED) % u64::from(partitions.max(1))) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The partition function is part of the on-disk format: these values must never change.
    #[test]
    fn partition_hash_is_pinned() {
        assert_eq!(xxhash_rust::xxh3::xxh3_64_with_seed(b"COc1ccccc1", PARTITION_SEED), PINNED[0]);
        assert_eq!(xxhash_rust::xxh3::xxh3_64_with_seed(b"", PARTITION_SEED), PINNED[1]);
        assert_eq!(partition_of(b"COc1ccccc1", 4), (PINNED[0] % 4) as u32);
        assert_eq!(partition_of(b"anything", 1), 0);
        // spread: 10,000 keys over 4 partitions, each within 10% of a quarter
        let mut n = [0u32; 4];
        for i in 0..10_000 {
            n[partition_of(format!("C{i}").as_bytes(), 4) as usize] += 1;
        }
        assert!(n.iter().all(|&c| (2250..=2750).contains(&c)), "{n:?}");
    }

    /// Computed by an independent implementation: Python `xxhash` 4.1.0,
    /// `xxh3_64_intdigest(b"COc1ccccc1", seed=PARTITION_SEED)` and of `b""`.
    const PINNED: [u64; 2] = [0x3f3b_8feb_12ee_4023, 0x4e0e_6755_6ac9_2e93];
}
