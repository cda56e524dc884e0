//! Export: `verify` accepts good files and rejects truncated/corrupt ones; an export killed at
//! any moment leaves the destination either the old complete file or the new complete file.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::*;

fn store_with_sample(dir: &std::path::Path) -> String {
    sample_store(dir, &["HALO_AROMATIC_CH__H__TO__Br"], &["--no-props"])
}

#[test]
fn verify_accepts_exports_and_rejects_damaged_files() {
    let dir = tempfile::tempdir().unwrap();
    let s = store_with_sample(dir.path());
    let out = dir.path().join("p.parquet");
    run_ok(&[
        "export",
        "--store",
        &s,
        "--job",
        "sample/HALO_AROMATIC_CH__H__TO__Br",
        "--output",
        out.to_str().unwrap(),
    ]);
    let ok = run_ok(&["verify", "--full", out.to_str().unwrap()]);
    assert!(ok.contains("valid, 9713 rows") && ok.contains("smiles: Utf8"), "{ok}");

    let bytes = std::fs::read(&out).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", bytes[..bytes.len() * 2 / 3].to_vec()),
        ("no footer", bytes[..bytes.len() - 8].to_vec()),
        ("empty", vec![]),
        ("not parquet", b"smiles\nCCO\n".to_vec()),
    ];
    for (name, content) in cases {
        let bad = dir.path().join(format!("{name}.parquet"));
        std::fs::write(&bad, content).unwrap();
        let r = run(&["verify", bad.to_str().unwrap()]);
        assert_eq!(r.status.code(), Some(1), "{name} must be rejected");
    }
    // a Parquet file with another schema is not an xfstore export
    let other = dir.path().join("other.parquet");
    write_smiles_parquet(&other, &[Some("CCO")]);
    assert_eq!(run(&["verify", other.to_str().unwrap()]).status.code(), Some(1));
}

#[test]
fn killed_exports_never_expose_a_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let s = store_with_sample(dir.path());
    let dest = dir.path().join("out/products.parquet");
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    let d = dest.to_str().unwrap();
    // small row groups and batches make the export long enough to be caught mid-write
    let export = || {
        Command::new(env!("CARGO_BIN_EXE_xfstore"))
            .args(["export", "--store", &s, "--rule", "HALO_AROMATIC_CH__H__TO__Br", "--output", d])
            .args(["--row-group-rows", "64"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut kills = 0;
    let mut previous_complete = false;
    for round in 0..30 {
        let mut child = export();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(seed % 60));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
        if dest.exists() {
            let v = run(&["verify", "--full", d]);
            assert!(v.status.success(), "round {round}: destination is not a complete export");
            assert!(String::from_utf8_lossy(&v.stdout).contains("9713 rows"));
            previous_complete = true;
        } else {
            assert!(!previous_complete, "round {round}: a complete export disappeared");
        }
    }
    assert!(kills >= 5, "only {kills} exports were killed mid-way");
    // leftovers of killed exports are cleaned by the next export and never taken for output
    run_ok(&["export", "--store", &s, "--rule", "HALO_AROMATIC_CH__H__TO__Br", "--output", d]);
    let names: Vec<_> = std::fs::read_dir(dest.parent().unwrap()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
#[ignore = "needs the Python oracle venv (tools/setup.sh); tools/test.sh runs it"]
fn real_clients_read_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let s = sample_store(dir.path(), &[OME], &["--id-column", "id", "--carry", "name"]);
    let mut paths = Vec::new();
    for ext in ["parquet", "csv", "smi"] {
        let out = dir.path().join(format!("ome.{ext}"));
        let msg = run_ok(&["export", "--store", &s, "--rule", OME, "--output", out.to_str().unwrap()]);
        assert!(msg.contains("3078 rows"), "{msg}");
        paths.push(out.to_str().unwrap().to_owned());
    }
    let code = r#"
import sys, json, duckdb, pyarrow.parquet as pq
pq_path, csv_path, smi_path = sys.argv[1:4]
con = duckdb.connect()
n, distinct, occ = con.execute(f"select count(*), count(distinct smiles), sum(occurrences) from '{pq_path}'").fetchone()
csv_n, csv_occ, csv_mw = con.execute(f"select count(*), sum(occurrences), round(sum(MW), 3) from read_csv('{csv_path}', header=true, quote='\"')").fetchone()
pq_mw = round(con.execute(f"select sum(MW) from '{pq_path}'").fetchone()[0], 3)
smi = [l.split('\t') for l in open(smi_path).read().splitlines()]
arrow = pq.read_table(pq_path)
sample = con.execute(f"select smiles, occurrences, source_row, source_name from '{pq_path}' order by smiles limit 5 offset 100").fetchall()
print(json.dumps({"n": n, "distinct": distinct, "occ": int(occ), "csv_n": csv_n, "csv_occ": int(csv_occ),
                  "mw_equal": abs(csv_mw - pq_mw) < 0.01, "smi_n": len(smi), "smi_ok": all(len(x) == 2 for x in smi),
                  "arrow_n": arrow.num_rows, "sample": sample}))
"#;
    let out = python_ok(code, &[&paths[0], &paths[1], &paths[2]]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    for key in ["n", "distinct", "csv_n", "smi_n", "arrow_n"] {
        assert_eq!(v[key], 3078, "{key}: {v}");
    }
    assert_eq!(v["occ"], 3334);
    assert_eq!(v["csv_occ"], 3334);
    assert_eq!(v["mw_equal"], true, "{v}");
    assert_eq!(v["smi_ok"], true);
    // rows read by DuckDB agree with `xfstore query`
    for row in v["sample"].as_array().unwrap() {
        let smiles = row[0].as_str().unwrap();
        let q: serde_json::Value =
            serde_json::from_str(run_ok(&["query", "--store", &s, "--json", smiles]).trim()).unwrap();
        let hit = &q["hits"][0];
        assert_eq!(hit["occurrences"], row[1]);
        assert_eq!(hit["parent_row"], row[2]);
        assert_eq!(hit["carried"][0], row[3]);
    }
}

#[test]
#[ignore = "needs the Python oracle venv (tools/setup.sh); tools/test.sh runs it"]
fn split_exports_are_complete_folders() {
    let dir = tempfile::tempdir().unwrap();
    let s = sample_store(dir.path(), &["HALO_AROMATIC_CH__H__TO__Br"], &["--no-props"]);
    let out = dir.path().join("exports/bromo");
    let o = out.to_str().unwrap();
    let job = ["export", "--store", &s, "--rule", "HALO_AROMATIC_CH__H__TO__Br", "--output", o];
    let msg = run_ok(&[&job[..], &["--split-rows", "2000"]].concat());
    assert!(msg.contains("9713 rows") && msg.contains("5 file(s)"), "{msg}");
    let v = run_ok(&["verify", "--full", o]);
    assert!(v.contains("9713 rows in 5 part(s)"), "{v}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let rows: Vec<u64> = manifest["parts"].as_array().unwrap().iter().map(|p| p["rows"].as_u64().unwrap()).collect();
    assert_eq!(rows, vec![2000, 2000, 2000, 2000, 1713]);
    // engines read the folder as one dataset
    let n = python_ok(
        "import sys, duckdb\nprint(duckdb.connect().execute(f\"select count(*), count(distinct smiles) from '{sys.argv[1]}/*.parquet'\").fetchone())",
        &[o],
    );
    assert_eq!(n.trim(), "(9713, 9713)");
    // replacing by size-based parts; nothing else is left next to it
    let msg = run_ok(&[&job[..], &["--split-bytes", "100000"]].concat());
    assert!(msg.contains("9713 rows"), "{msg}");
    assert!(run_ok(&["verify", o]).contains("9713 rows"));
    let siblings: Vec<_> = std::fs::read_dir(out.parent().unwrap()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(siblings.len(), 1, "{siblings:?}");
    // damage: a missing part, then a truncated part
    let first = out.join("part-00000.parquet");
    let bytes = std::fs::read(&first).unwrap();
    std::fs::write(&first, &bytes[..bytes.len() / 2]).unwrap();
    assert_eq!(run(&["verify", o]).status.code(), Some(1));
    std::fs::remove_file(&first).unwrap();
    assert_eq!(run(&["verify", o]).status.code(), Some(1));
    // a folder that is not an export is never replaced
    let foreign = dir.path().join("mine");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "keep me").unwrap();
    let r = run(&[&job[..6], &["--output", foreign.to_str().unwrap(), "--split-rows", "100"]].concat());
    assert_eq!(r.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(foreign.join("notes.txt")).unwrap(), "keep me");
}
