//! Export: `verify` accepts good files and rejects truncated/corrupt ones; an export killed at
//! any moment leaves the destination either the old complete file or the new complete file.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

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
