//! xfstore: an embedded-database-backed incremental transform store for virtual chemical
//! libraries.
//!
//! Subsystems, one folder each:
//! - [`chem`]: safe RDKit wrappers (the only FFI lives in `chem/ffi.rs`);
//! - [`rules`]: the transform rule file, validated and compiled;
//! - [`transform`]: one input molecule through a set of rules, per matched site;
//! - [`store`]: the RocksDB schema, codec and the only code that touches RocksDB;
//! - [`ingest`]: streaming Parquet input, parallel transform, ordered atomic commits;
//! - [`export`]: atomic, validated Parquet export;
//! - [`query`]: lookups of products by any SMILES spelling;
//! - [`budget`]: the memory budget shared by all of the above, and the process's RSS.
//!
//! See ARCHITECTURE.md for the write path and the crash-safety protocol.
//!
//! `unsafe` is denied everywhere except `chem::ffi`, the one module that crosses into C++
//! (RDKit through `cxx`), where each `unsafe impl` carries its SAFETY argument.
#![deny(unsafe_code)]

pub mod budget;
pub mod chem;
pub mod error;
mod failpoint;
pub mod rules;

pub use error::{Error, Result};
pub mod export;
pub mod ingest;
pub mod query;
pub mod store;
pub mod transform;
