//! Helpers shared by the integration tests: run the real binary, make inputs, read exports.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;

pub const OME: &str = "FG_PHENOL_OH__OH__TO__OMe";
pub const COOME: &str = "FG_CARBOXYL__COOH__TO__COOMe";

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn sample() -> PathBuf {
    root().join("tests/data/sample.parquet")
}

/// Runs `xfstore <args> --store <store>`-style commands (the caller places --store).
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xfstore")).args(args).output().expect("spawn xfstore")
}

/// Ingests the bundled sample into a new store `dir/store` with `rules` and `extra` ingest
/// arguments; returns the store path.
pub fn sample_store(dir: &Path, rules: &[&str], extra: &[&str]) -> String {
    let store = dir.join("store").to_str().unwrap().to_owned();
    let sample = sample();
    let mut args = vec!["ingest", "--store", store.as_str(), "--input", sample.to_str().unwrap()];
    for r in rules {
        args.extend(["--rule", r]);
    }
    args.extend_from_slice(extra);
    run_ok(&args);
    store
}

/// Runs and requires exit code 0; returns stdout.
pub fn run_ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "xfstore {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The Python with python3-rdkit, pyarrow and duckdb (made by tools/setup.sh).
pub fn python() -> PathBuf {
    let p =
        std::env::var_os("XFSTORE_PYTHON").map(PathBuf::from).unwrap_or_else(|| root().join("target/py/bin/python"));
    assert!(p.exists(), "{} not found: run tools/setup.sh (or tools/test.sh) first", p.display());
    p
}

/// Runs a Python snippet with the test Python; returns stdout, panics on failure.
pub fn python_ok(code: &str, args: &[&str]) -> String {
    let out = Command::new(python()).arg("-c").arg(code).args(args).output().expect("spawn python");
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Writes a Parquet file with a `smiles` (nullable) and an `id` column.
pub fn write_smiles_parquet(path: &Path, rows: &[Option<&str>]) {
    let smiles: ArrayRef = Arc::new(StringArray::from(rows.to_vec()));
    let ids: ArrayRef = Arc::new(StringArray::from((0..rows.len()).map(|i| Some(format!("T{i}"))).collect::<Vec<_>>()));
    let batch = RecordBatch::try_from_iter([("id", ids), ("smiles", smiles)]).unwrap();
    let mut w = ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// Reads an export back: canonical SMILES -> occurrences.
pub fn read_export(path: &Path) -> BTreeMap<String, u64> {
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
    let mut out = BTreeMap::new();
    for batch in reader {
        let batch = batch.unwrap();
        let smiles = batch.column_by_name("smiles").unwrap().as_string::<i32>().clone();
        let occ = batch.column_by_name("occurrences").unwrap().as_primitive::<UInt64Type>().clone();
        for i in 0..batch.num_rows() {
            assert!(out.insert(smiles.value(i).to_owned(), occ.value(i)).is_none(), "duplicate key in export");
        }
    }
    out
}

/// Reads a golden TSV written by tools/oracle/rdkit_reference.py: (summary line, smiles -> count).
pub fn read_golden(path: &Path) -> (String, BTreeMap<String, u64>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default().to_owned();
    let map = lines
        .map(|l| {
            let (s, n) = l.split_once('\t').unwrap();
            (s.to_owned(), n.parse().unwrap())
        })
        .collect();
    (header, map)
}

/// Value of `key=` in a golden summary line.
pub fn golden_stat(header: &str, key: &str) -> u64 {
    header
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{key} missing in {header}"))
        .parse()
        .unwrap()
}

/// `xfstore status --json` of a store, parsed.
pub fn status_json(store: &str) -> serde_json::Value {
    serde_json::from_str(&run_ok(&["status", "--store", store, "--json"])).expect("status --json is JSON")
}

/// The status entry of the job for `rule`.
pub fn job_status(status: &serde_json::Value, rule: &str) -> serde_json::Value {
    status["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["rule"]["name"] == rule)
        .unwrap_or_else(|| panic!("no job for {rule} in {status}"))
        .clone()
}

/// `parts` concatenated and gzip-compressed (fast: test inputs, bombs of zeros among them).
pub fn gzip(parts: &[&[u8]]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for p in parts {
        gz.write_all(p).unwrap();
    }
    gz.finish().unwrap()
}

/// Phenol as a V2000 molblock (an SDF record without its `$$$$`).
pub const PHENOL_V2000: &str = "phenol
     RDKit          2D

  7  7  0  0  0  0  0  0  0  0999 V2000
    1.5000    0.0000    0.0000 C   0  0
    0.7500   -1.2990    0.0000 C   0  0
   -0.7500   -1.2990    0.0000 C   0  0
   -1.5000    0.0000    0.0000 C   0  0
   -0.7500    1.2990    0.0000 C   0  0
    0.7500    1.2990    0.0000 C   0  0
    3.0000    0.0000    0.0000 O   0  0
  1  2  2  0
  2  3  1  0
  3  4  2  0
  4  5  1  0
  5  6  2  0
  6  1  1  0
  1  7  1  0
M  END
";

/// #32 item 3: two folders answer the same lineage for every product of every job of `a` and
/// the same descendants for every id in `ids` (`query --lineage / --descendants --json`, byte
/// equal), and the answers are not empty. Returns the number of paths compared.
pub fn same_lineage(a: &str, b: &str, ids: &[&str]) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let mut products = Vec::new();
    for job in status_json(a)["jobs"].as_array().unwrap() {
        let id = job["id"].as_str().unwrap();
        let out = dir.path().join("p.smi");
        run_ok(&["export", "--store", a, "--job", id, "--output", out.to_str().unwrap()]);
        let text = std::fs::read_to_string(&out).unwrap();
        products.extend(text.lines().map(|l| l.split('\t').next().unwrap().to_owned()));
    }
    products.sort();
    products.dedup();
    let ask = |store: &str, flag: &str, queries: &[String]| {
        let mut args = vec!["query", "--store", store, flag, "--json"];
        args.extend(queries.iter().map(String::as_str));
        let out = run(&args);
        // 1: some query found nothing (an id whose products were all filtered)
        assert!(matches!(out.status.code(), Some(0 | 1)), "{flag}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let got = ask(a, "--lineage", &products);
    assert_eq!(got, ask(b, "--lineage", &products), "lineage of {} products differs", products.len());
    let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    assert_eq!(ask(a, "--descendants", &ids), ask(b, "--descendants", &ids), "descendants differ");
    got.matches("\"steps\"").count()
}
