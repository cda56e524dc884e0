//! The write path alone (#16): a product stream recorded once from a real job (RDKit's outcomes,
//! with their real duplicate rate) replayed through ingest minus RDKit, with each write path.
//! Criterion's "elem/s" = products/s of the whole replay (feeder, novelty, writer, RocksDB);
//! after each path one extra run prints what criterion cannot: the writer thread's ceiling
//! (products over its CPU seconds in commits), peak RSS and store bytes per product.
//!
//!     cargo bench --bench writer
//!     XFSTORE_BENCH_INPUT=target/data/moses.parquet XFSTORE_BENCH_STREAM=target/data/moses_clh.stream.parquet \
//!         cargo bench --bench writer            (the 9.87M-product MOSES stream; see tools/bench/bench_writer.py)
//!
//! Input: $XFSTORE_BENCH_INPUT or the bundled real sample; rule $XFSTORE_BENCH_RULE (default
//! HALO_AROMATIC_CH__H__TO__Cl); the stream $XFSTORE_BENCH_STREAM, recorded first if missing
//! (default: a temporary file).

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use xfstore::internal::{human, peak_rss, record_product_stream};
use xfstore::{
    IngestOptions, IngestPlan, IngestReport, InputColumns, InputFile, RuleSet, Store, WritePath, DEFAULT_SMILES_COLUMN,
};

/// The same allocator as the `xfstore` binary.
#[path = "common/mod.rs"]
mod common;
use common::input;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn rule() -> String {
    common::rule("HALO_AROMATIC_CH__H__TO__Cl")
}

fn replay(rules: &RuleSet, stream: &Path, store: &Path, path: WritePath) -> (Store, IngestReport) {
    let opts = IngestOptions::new(input(), vec![rule()]).write_path(path);
    let store = Store::open(store, &opts.store_options()).expect("open store");
    let report = IngestPlan::new(rules, opts).expect("plan").replay(&store, stream).expect("replay");
    (store, report)
}

fn bench(c: &mut Criterion) {
    let rules = RuleSet::builtin().expect("built-in rules");
    let dir = tempfile::tempdir().expect("tempdir");
    let stream = std::env::var_os("XFSTORE_BENCH_STREAM")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.path().join("stream.parquet"));
    if !stream.exists() {
        let cols = InputColumns { smiles: DEFAULT_SMILES_COLUMN.into(), ..InputColumns::default() };
        let file = InputFile::open(&input(), &cols).expect("input");
        record_product_stream(&file, rules.get(&rule()).expect("rule"), &stream, None).expect("record");
    }
    let mut group = c.benchmark_group("writer");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    for (name, path) in [("read-modify-write", WritePath::ReadModifyWrite), ("blind", WritePath::Blind)] {
        let (store, probe) = replay(&rules, &stream, &dir.path().join(format!("probe-{name}")), path);
        let unique: u64 = probe.jobs.iter().map(|j| j.meta.counters.unique_products).sum();
        eprintln!(
            "writer/{name}: {} products ({unique} unique) in {:.2} s = {:.0} products/s; writer ceiling {:.0} \
             products/s; store {:.1} bytes/product; peak RSS so far {}",
            probe.site_products,
            probe.elapsed_secs,
            probe.site_products as f64 / probe.elapsed_secs.max(1e-9),
            probe.site_products as f64 / probe.commit_cpu_secs.max(1e-9),
            store.disk_bytes() as f64 / unique.max(1) as f64,
            human(peak_rss())
        );
        drop(store);
        group.throughput(Throughput::Elements(probe.site_products));
        let mut n = 0;
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    n += 1;
                    dir.path().join(format!("{name}-{n}"))
                },
                |store| {
                    replay(&rules, &stream, &store, path);
                    let _ = std::fs::remove_dir_all(&store);
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
