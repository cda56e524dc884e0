//! What the ingest and writer benches share: their input and rule, from the environment.

use std::path::PathBuf;

/// $XFSTORE_BENCH_INPUT, or the bundled real sample.
pub fn input() -> PathBuf {
    std::env::var_os("XFSTORE_BENCH_INPUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sample.parquet").into())
}

/// $XFSTORE_BENCH_RULE, or `default`.
pub fn rule(default: &str) -> String {
    std::env::var("XFSTORE_BENCH_RULE").unwrap_or_else(|_| default.into())
}
