//! xfstore's integration tests, as ONE test binary (as ripgrep's tests/tests.rs): each module
//! below used to be its own binary, each linking RDKit, RocksDB and arrow again.
//!
//! Tests that need the Python oracle venv (RDKit's Python bindings, pyarrow, DuckDB; made by
//! tools/setup.sh) are `#[ignore]`d with that reason, so a plain `cargo test` runs without it;
//! `tools/test.sh` (the CI command) runs them with `--include-ignored`.

mod common;

mod bad_input;
mod campaign;
mod concurrency;
mod crash;
mod damage;
mod end_to_end;
mod export;
mod golden;
mod halogenation;
mod hardening;
mod inputs;
mod memory;
mod one_store;
mod partition;
mod properties;
mod query;
mod resume;
mod write_path;
