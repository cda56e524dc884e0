//! xfstore: an embedded-database-backed incremental transform store for virtual chemical
//! libraries.
//!
//! The public API is the short list re-exported below (redb's layout): the modules are private,
//! so what a program can name is exactly what is listed here, and internals (codec, column
//! families, batch folding, flow control) can change without breaking anyone.
//!
//! - Store: [`Store`] (one writer per store, [`StoreOptions`]), [`ReadOnlyStore`] (any number
//!   of readers, even during an ingest) and their records ([`JobMeta`],
//!   [`ProductRecord`], ...), [`ReadOnlyStore::lookup`], [`ReadOnlyStore::verify`];
//! - Rules and chemistry: [`RuleSet`], [`transform`], [`canonicalize`];
//! - Ingest: [`IngestOptions`] -> [`IngestPlan`] -> [`IngestReport`] (or [`ingest`]), stopped
//!   cleanly and watched from another thread through a [`RunControl`]; the write
//!   path ([`WritePath`]), the per-commit [`CommitPoint`]s of a report; an ingest's input is
//!   an [`InputSpec`] (a path, or upstream jobs);
//! - Export: [`ExportOptions`] -> [`export`], the export [`COLUMNS`], [`verify_export`]; a job's
//!   products as Arrow record batches without a file: [`ProductBatches`] (what the Python
//!   module streams to pyarrow);
//! - Reading any folder xfstore builds (a store, a partitioned run, a partitioned campaign) as
//!   one store: [`Reader`] (its [`StoreKind`]), which queries, exports, reports and the
//!   Python module all read through;
//! - Query: [`lookup`], [`lookup_stream`], [`products_of_parent`], [`lineage`], [`descendants`], [`status`],
//!   [`status_document`];
//! - Partitioned runs (one ingest over many processes or machines): [`plan_partitioned`] ->
//!   [`map_unit`] per unit -> [`reduce_partition`] per partition, read back through a
//!   [`Reader`] (progress: [`ShardedStore`]); the partition of a product is [`partition_of`]
//!   its canonical SMILES;
//! - Memory: [`MemoryBudget`];
//! - Errors: [`Error`] and one enum per subsystem, all `#[non_exhaustive]`.
//!
//! Subsystems, one private folder each (see ARCHITECTURE.md): `chem` (safe RDKit wrappers; the
//! only FFI is `chem/ffi.rs`), `rules`, `transform`, `store` (the only code that touches
//! RocksDB), `ingest`, `campaign`, `partition` (plan / map / reduce), `reader`, `export`,
//! `query`, `budget`.
//!
//! # Example: embedding the store in another Rust program
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("store");
//! # let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sample.parquet");
//! # {
//! #     let rules = xfstore::RuleSet::builtin().unwrap();
//! #     let store = xfstore::Store::open(&path, &Default::default()).unwrap();
//! #     let opts = xfstore::IngestOptions::new(sample, vec!["FG_PHENOL_OH__OH__TO__OMe".into()]).with_props(false);
//! #     xfstore::ingest(&store, &rules, &opts).unwrap();
//! # }
//! use xfstore::{QueryOutcome, Reader};
//!
//! // a store, a partitioned run or a partitioned campaign; works while another process ingests
//! let store = Reader::open(&path)?;
//! // anisole, written in Kekulé form: canonicalized before the lookup
//! match store.lookup("C1=CC=C(OC)C=C1")? {
//!     QueryOutcome::Found { canonical, hits, .. } => {
//!         assert_eq!(canonical, "COc1ccccc1");
//!         assert_eq!(hits[0].record.parent_smiles, "C1=CC=C(C=C1)O"); // phenol, row 8
//!     }
//!     other => panic!("{other:?}"),
//! }
//! assert!(!store.lookup("CCCC")?.is_found());
//! # Ok::<(), xfstore::Error>(())
//! ```
//!
//! A [`ReadOnlyStore`] has no write methods; writing needs a [`Store`], which takes the store's
//! single-writer lock:
//!
//! ```compile_fail,E0599
//! # let path = std::path::Path::new(".xfstore");
//! let store = xfstore::ReadOnlyStore::open(path)?;
//! store.compact()?; // error: no method `compact` on a read-only store
//! # Ok::<(), xfstore::Error>(())
//! ```
//!
//! `unsafe` is denied everywhere except `chem::ffi`, the one module that crosses into C++
//! (RDKit through `cxx`), where each `unsafe impl` carries its SAFETY argument.
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod budget;
mod campaign;
mod chem;
mod error;
mod export;
mod failpoint;
mod ingest;
mod input;
mod keep;
mod partition;
mod publish;
mod query;
mod reader;
mod rules;
mod store;
mod transform;

pub use budget::MemoryBudget;
pub use campaign::{
    export_campaign, next_run, report as campaign_report, run as run_campaign, status as campaign_status, ByClass,
    Campaign, CampaignExport, CampaignExportEntry, CampaignFile, CampaignJob, CampaignOptions, CampaignReport,
    ClassTable, InputDef, JobNext, LevelRules, NextJob, ReportRow, RuleSelection, RuleUse, RunOptions, StepDef, Stream,
    StreamNext, StreamReport, StreamSource, REPORT_COLUMNS,
};
pub use chem::{canonicalize, rdkit_version, sugar_mask, MolProps, SiteOutcome};
pub use error::{
    CampaignError, ChemError, Error, ExportError, IngestError, InputError, PartitionError, Result, RuleError,
    StoreError,
};
pub use export::{
    export, export_shard_parts, provenance, verify as verify_export, verify_folder, verify_text, write_rejects, Column,
    ColumnType, ExportOptions, ExportReport, Format, Manifest, ProductBatches, TextFormat, TextReport, VerifyReport,
    CAMPAIGN_COLUMNS, COLUMNS, DEFAULT_ROW_GROUP_ROWS, INCHIKEY_COLUMNS,
};
pub use ingest::{
    ingest, job_id, CommitPoint, IngestOptions, IngestPlan, IngestReport, JobReport, RuleSettings, RunControl,
    WritePath, DEFAULT_BATCH_ROWS, DEFAULT_SMILES_COLUMN,
};
pub use input::{InputBatch, InputColumns, InputFile, InputFormat, InputSpec};
pub use keep::{Keep, KEEP_PROPERTIES};
pub use partition::{
    is_partitioned_campaign, map_unit, plan as plan_partitioned, plan_campaign, reduce_partition, shard_done,
    unit_done, BuildId, CampaignPlan, MapReport, Plan, PlanInput, PlanOptions, PlanRule, PlanUnit, ReduceReport,
    ShardDone, ShardJob, ShardedJob, ShardedStatus, ShardedStore, UnitDone, DEFAULT_UNIT_ROWS,
};
pub use query::{
    descendants, descendants_batch, lineage, lineage_batch, Descendant, Descendants, Lineage, LineagePath, LineageStep,
    RootRow, DEFAULT_MAX_PATHS,
};
pub use query::{
    lookup, lookup_query, lookup_stream, parse_query_line, products_of_parent, select_jobs, status, status_document,
    status_json, status_summary, Hit, JobStatus, Query, QueryOutcome, RunState, StoreStatus,
};
pub use reader::{Reader, StoreKind};
pub use rules::{Rule, RuleDef, RuleSet, DEFAULT_RULES_YAML, HALOGENS, HALOGEN_PLACEHOLDER};
pub use store::{
    CfCheck, Counters, Damage, Durability, FileCheck, InputInfo, JobMeta, JobState, ProductRecord, ProductScan, Props,
    ReadOnlyStore, RejectRecord, RejectScan, RuleInfo, Store, StoreMemory, StoreOptions, UpstreamRead, UpstreamReads,
    VerifyStoreReport, DEFAULT_STORE_DIR,
};
/// What the `xfstore` binary, the benchmarks and the tests share with the library besides its
/// API: output formatting, RSS readings and benchmark hooks. Not API: any release may change
/// them.
#[doc(hidden)]
pub mod internal {
    pub use crate::budget::{human, peak_rss, product_in_flight_bytes};
    pub use crate::campaign::time_left;
    pub use crate::ingest::{bare_loop, record_product_stream, BareReport, RecordReport};
    pub use crate::input::upstream_fingerprint;
    pub use crate::query::{to_json_line, to_text};
}
pub use transform::{transform, transform_row, Reject, RowOptions, Transformed, DEFAULT_MAX_HEAVY_ATOMS};
