//! Ingest and export throughput through the library, with the same allocator as the binary.
//!
//! - `ingest/products`: a fresh store per iteration, the whole input ingested with the 1 GiB
//!   default budget (criterion's "elem/s" = products/s);
//! - `ingest/inputs`: the same run, counted in input rows (elem/s = inputs/s);
//! - `export/rows`: the job exported to a validated Parquet file (elem/s = rows/s).
//!
//! Criterion measures time only, so after each group one extra run prints what it cannot: peak
//! RSS of this process (VmHWM, includes criterion's own), store size on disk and bytes per
//! product. Input: $XFSTORE_BENCH_INPUT (e.g. target/data/poly1x_50k_sorted.parquet, made by
//! tools/data/make_polyphenol_2x.sh) or the bundled real sample; rule $XFSTORE_BENCH_RULE
//! (default FG_PHENOL_OH__OH__TO__OMe), without properties.
//!
//!     cargo bench --bench ingest
//!     XFSTORE_BENCH_INPUT=target/data/poly1x_50k_sorted.parquet cargo bench --bench ingest
//!
//! For the large-input figures and the Python reference, use tools/bench/bench_ingest.py.

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use xfstore::internal::{human, peak_rss};
use xfstore::{export, ingest, ExportOptions, IngestOptions, IngestReport, RuleSet, Store};

/// The same allocator as the `xfstore` binary (it also replaces malloc for RDKit and RocksDB).
#[path = "common/mod.rs"]
mod common;
use common::input;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn rule() -> String {
    common::rule("FG_PHENOL_OH__OH__TO__OMe")
}

fn run_ingest(rules: &RuleSet, path: &Path) -> (Store, IngestReport) {
    let opts = IngestOptions::new(input(), vec![rule()]).with_props(false);
    let store = Store::open(path, &opts.store_options()).expect("open store");
    let report = ingest(&store, rules, &opts).expect("ingest");
    (store, report)
}

fn bench(c: &mut Criterion) {
    let rules = RuleSet::builtin().expect("built-in rules");
    let dir = tempfile::tempdir().expect("tempdir");
    // One run to size the throughput and to report what criterion cannot.
    let (store, first) = run_ingest(&rules, &dir.path().join("probe"));
    let unique: u64 = first.jobs.iter().map(|j| j.meta.counters.unique_products).sum();
    assert!(first.site_products > 0, "the bench input has no site for {}", rule());
    let disk = store.disk_bytes();
    eprintln!(
        "ingest {}: {} rows, {} products ({unique} unique) in {:.2} s = {:.0} inputs/s, {:.0} products/s; \
         store {} on disk ({:.0} bytes/product); peak RSS {}",
        input().display(),
        first.rows,
        first.site_products,
        first.elapsed_secs,
        first.rows as f64 / first.elapsed_secs,
        first.site_products as f64 / first.elapsed_secs,
        human(disk),
        disk as f64 / unique.max(1) as f64,
        human(peak_rss()),
    );

    let mut g = c.benchmark_group("ingest");
    g.sample_size(10).warm_up_time(Duration::from_millis(100)).measurement_time(Duration::from_secs(20));
    let mut n = 0;
    for (name, count) in [("products", first.site_products), ("inputs", first.rows)] {
        g.throughput(Throughput::Elements(count));
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    n += 1;
                    dir.path().join(format!("s{n}"))
                },
                |path| {
                    let (store, r) = run_ingest(&rules, &path);
                    assert_eq!(r.site_products, first.site_products);
                    drop(store);
                    std::fs::remove_dir_all(&path).expect("remove store");
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();

    let job = store.jobs().expect("jobs").remove(0);
    let store = xfstore::Reader::from_writer(store);
    let out = dir.path().join("export.parquet");
    let started = Instant::now();
    let rows = export(&store, &job, &ExportOptions::new(&out)).expect("export").rows;
    eprintln!(
        "export: {rows} rows in {:.3} s = {:.0} rows/s; peak RSS {} (process so far)",
        started.elapsed().as_secs_f64(),
        rows as f64 / started.elapsed().as_secs_f64(),
        human(peak_rss())
    );
    let mut g = c.benchmark_group("export");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(rows));
    g.bench_function("rows", |b| {
        b.iter(|| assert_eq!(export(&store, &job, &ExportOptions::new(&out)).unwrap().rows, rows))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
