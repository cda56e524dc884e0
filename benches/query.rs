//! Lookup throughput: single queries on one thread and parallel batches, against the store in
//! $XFSTORE_BENCH_STORE (e.g. the 5M+ product store made by tools/bench/bench_query.sh) or, by
//! default, a store built from the bundled sample. Half the queries are stored products, half
//! are misses; every lookup canonicalizes its query with RDKit first, as for users, and that
//! dominates the cost (a RocksDB point read is a few microseconds).
//!
//!     XFSTORE_BENCH_STORE=target/bigstore cargo bench --bench query

use std::hint::black_box;
use std::io::Cursor;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use xfstore::{lookup, lookup_stream, Reader, Store};

fn store_path() -> (PathBuf, Option<tempfile::TempDir>) {
    if let Some(p) = std::env::var_os("XFSTORE_BENCH_STORE") {
        return (PathBuf::from(p), None);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let store = Store::open(&path, &Default::default()).unwrap();
    let rules = xfstore::RuleSet::builtin().unwrap();
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sample.parquet");
    let opts = xfstore::IngestOptions::new(sample, vec!["HALO_AROMATIC_CH__H__TO__F".into()]).with_props(false);
    xfstore::ingest(&store, &rules, &opts).unwrap();
    (path, Some(dir))
}

fn bench(c: &mut Criterion) {
    let (path, _keep) = store_path();
    // any store folder: a store, or a partitioned run or campaign (XFSTORE_BENCH_STORE)
    let store = Reader::open(&path).unwrap();
    let jobs = store.jobs().unwrap();
    // every 7th product of the first job's export order, up to 2,000, plus as many misses
    let first =
        xfstore::ProductBatches::new(std::sync::Arc::new(Reader::open(&path).unwrap()), jobs[0].clone(), 14_000)
            .next()
            .map(|b| b.unwrap())
            .unwrap();
    let smiles = first.column_by_name("smiles").unwrap();
    let smiles = smiles.as_any().downcast_ref::<arrow_array::StringArray>().unwrap();
    let mut queries: Vec<String> = smiles.iter().flatten().step_by(7).take(2000).map(str::to_owned).collect();
    let hits = queries.len();
    queries.extend((0..hits).map(|i| format!("C{}", "C".repeat(i % 40 + 30))));
    let mut g = c.benchmark_group("lookup");
    g.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Elements(queries.len() as u64));
    g.bench_function("single_thread", |b| {
        b.iter(|| queries.iter().filter(|q| lookup(&store, &jobs, black_box(q)).unwrap().is_found()).count())
    });
    let text = queries.join("\n");
    g.bench_function("batch_parallel", |b| {
        b.iter(|| {
            let mut found = 0usize;
            lookup_stream(&store, &jobs, Cursor::new(text.as_bytes()), true, |o| {
                found += o.is_found() as usize;
                Ok(())
            })
            .unwrap();
            found
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
