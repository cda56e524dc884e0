//! Every path and marker of a partitioned folder, defined once. A run folder:
//!
//! ```text
//! RUN/plan.json                                 the plan (plan.rs)
//! RUN/units/unit-000007/run.parquet             unit 7's run file (map.rs)
//! RUN/units/unit-000007/done.json               unit 7's done marker, published with it
//! RUN/shards/shard-0003/                        shard store 3 (reduce.rs)
//! RUN/shards/shard-0003/xfstore-shard.json      its done marker, published with it
//! ```
//!
//! A partitioned campaign folder: `DIR/campaign.json` (the stream list, campaign.rs) and one run
//! folder per stream, `DIR/streams/<stream>/`. Readers outside this module (schedulers, the
//! Python driver) do not read these files: they ask `xfstore status --json`.

use std::path::{Path, PathBuf};

/// Name of the plan inside a run folder.
pub const PLAN_FILE: &str = "plan.json";
/// Name of the stream list inside a partitioned campaign folder.
pub const CAMPAIGN_PLAN_FILE: &str = "campaign.json";
/// Name of a unit's run file inside its folder.
pub const RUN_FILE: &str = "run.parquet";
/// Name of a unit's done marker inside its folder.
pub const UNIT_DONE: &str = "done.json";
/// Name of a shard's done marker inside the shard store's folder.
pub const SHARD_DONE: &str = "xfstore-shard.json";

/// Whether `dir` is a partitioned run folder (it holds a plan).
pub fn is_partitioned(dir: &Path) -> bool {
    dir.join(PLAN_FILE).is_file()
}

/// Whether `dir` is a partitioned campaign folder (it holds a stream list).
pub fn is_partitioned_campaign(dir: &Path) -> bool {
    dir.join(CAMPAIGN_PLAN_FILE).is_file()
}

/// The run folder of stream `key` of the partitioned campaign in `dir`.
pub(crate) fn stream_dir(dir: &Path, key: &str) -> PathBuf {
    dir.join("streams").join(key)
}

/// Folder of unit `k` of the run in `dir`.
pub(crate) fn unit_dir(dir: &Path, k: u32) -> PathBuf {
    dir.join("units").join(format!("unit-{k:06}"))
}

/// Folder (store) of shard `p` of the run in `dir`.
pub(crate) fn shard_dir(dir: &Path, p: u32) -> PathBuf {
    dir.join("shards").join(format!("shard-{p:04}"))
}

/// Whether shard `p` of the run in `dir` is reduced (its marker is published with it).
pub(crate) fn shard_reduced(dir: &Path, p: u32) -> bool {
    shard_dir(dir, p).join(SHARD_DONE).is_file()
}
