//! Per-rule transform throughput on ONE core (no rayon): parse -> runReactants -> sanitize ->
//! canonical SMILES for every sample molecule that has at least one site for the rule.
//! Criterion's throughput is in products, so "elem/s" reads as products/s.
//!
//!     cargo bench --bench transform                 # all rules
//!     cargo bench --bench transform -- PHENOL_OH    # a subset

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use arrow_array::cast::AsArray;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use xfstore::{transform, RuleSet};

/// The same allocator as the `xfstore` binary (it also replaces malloc for RDKit), so figures match.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn sample_smiles() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sample.parquet");
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap().build().unwrap();
    let mut out = Vec::new();
    for b in reader {
        let b = b.unwrap();
        let col = b.column_by_name("smiles").unwrap().as_string::<i32>().clone();
        out.extend(col.iter().flatten().map(str::to_owned));
    }
    out
}

fn products(smiles: &str, rule: &xfstore::Rule, props: bool) -> usize {
    transform(Some(smiles), &[rule], props).map(|v| v[0].len()).unwrap_or(0)
}

fn bench(c: &mut Criterion) {
    let set = Arc::new(RuleSet::builtin().unwrap());
    let all = sample_smiles();
    let mut g = c.benchmark_group("transform_one_core");
    g.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    for rule in set.rules() {
        let mols: Vec<&String> = all.iter().filter(|s| products(s, rule, false) > 0).collect();
        let n: usize = mols.iter().map(|s| products(s, rule, false)).sum();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(&rule.def.name, |b| {
            b.iter(|| mols.iter().map(|s| products(black_box(s), rule, false)).sum::<usize>())
        });
    }
    // the cost of product properties (MW, TPSA, HBD, HBA, cLogP, RotB) on one rule
    let rule = set.get("FG_PHENOL_OH__OH__TO__OMe").unwrap();
    let mols: Vec<&String> = all.iter().filter(|s| products(s, rule, false) > 0).collect();
    let n: usize = mols.iter().map(|s| products(s, rule, false)).sum();
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("FG_PHENOL_OH__OH__TO__OMe+props", |b| {
        b.iter(|| mols.iter().map(|s| products(black_box(s), rule, true)).sum::<usize>())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
