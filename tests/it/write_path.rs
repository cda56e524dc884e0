//! The write path (#16): the blind bulk-load path and the previous read-modify-write path give
//! the same store, a store begun one way and finished the other exports the same, properties
//! are computed once per distinct product, and a kill inside the bulk-load commit protocol
//! resumes exactly.

use std::path::Path;

use crate::common::*;

const CL: &str = "HALO_AROMATIC_CH__H__TO__Cl";

fn ingest(store: &str, extra: &[&str]) -> String {
    let sample = sample();
    let mut args = vec!["ingest", "--store", store, "--input", sample.to_str().unwrap(), "--rule", OME, "--rule", CL];
    args.extend_from_slice(extra);
    run_ok(&args)
}

/// Parquet exports of both jobs, as bytes.
fn exports(store: &str, dir: &Path, tag: &str) -> Vec<Vec<u8>> {
    exports_as(store, dir, tag, "parquet")
}

/// Exports of both jobs as `ext` files, as bytes (CSV: the rows without the Parquet footer's
/// provenance, which names the input's path).
fn exports_as(store: &str, dir: &Path, tag: &str, ext: &str) -> Vec<Vec<u8>> {
    [OME, CL]
        .iter()
        .map(|rule| {
            let out = dir.join(format!("{tag}.{rule}.{ext}"));
            run_ok(&["export", "--store", store, "--rule", rule, "--output", out.to_str().unwrap()]);
            std::fs::read(out).unwrap()
        })
        .collect()
}

fn counters(store: &str) -> Vec<serde_json::Value> {
    let st = status_json(store);
    [OME, CL].iter().map(|r| job_status(&st, r)["counters"].clone()).collect()
}

/// "properties computed for N new products" of an ingest's output (0 when absent).
fn props_computed(out: &str) -> u64 {
    out.split("properties computed for ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .map_or(0, |n| n.parse().unwrap())
}

#[test]
fn both_write_paths_and_a_mix_of_them_give_identical_exports() {
    let dir = tempfile::tempdir().unwrap();
    let s = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let (old, new, mixed) = (s("old"), s("new"), s("mixed"));
    ingest(&old, &["--write-path", "read-modify-write"]);
    // the new path in three runs of tiny batches: many batches in flight at once, duplicates
    // across batches and across runs (merge operands on keys of earlier batches)
    let mut computed = 0;
    for max in ["900", "1100", "9999"] {
        computed += props_computed(&ingest(&new, &["--batch-rows", "16", "--max-rows", max]));
    }
    // begun the old way (a store of the previous layout), finished the new way
    ingest(&mixed, &["--write-path", "read-modify-write", "--max-rows", "1300"]);
    ingest(&mixed, &["--batch-rows", "32"]);

    let reference = exports(&old, dir.path(), "old");
    assert_eq!(counters(&old), counters(&new));
    assert_eq!(counters(&old), counters(&mixed));
    assert!(exports(&new, dir.path(), "new") == reference, "the blind path's exports differ");
    assert!(exports(&mixed, dir.path(), "mixed") == reference, "the mixed store's exports differ");
    // properties: once per distinct product, over all runs
    let unique: u64 = counters(&new).iter().map(|c| c["unique_products"].as_u64().unwrap()).sum();
    assert!(unique > 9000, "{unique}");
    assert_eq!(computed, unique, "properties computed {computed} times for {unique} distinct products");
    // lookups see merged occurrences (a product made by several parents)
    let many = run_ok(&["query", "--store", &new, "--rule", CL, "--json", "COCCc1ccc(OCC(O)CNC(C)C)c(Cl)c1"]);
    let old_many = run_ok(&["query", "--store", &old, "--rule", CL, "--json", "COCCc1ccc(OCC(O)CNC(C)C)c(Cl)c1"]);
    assert_eq!(many, old_many);
    assert!(run_ok(&["verify", "--store", &new]).contains("valid"));
}

#[test]
fn a_kill_inside_the_bulk_load_commit_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let s = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let (one, killed) = (s("one"), s("killed"));
    ingest(&one, &["--batch-rows", "64"]);
    let reference = exports(&one, dir.path(), "one");
    let sample = sample();
    // killed after the 5th products file is loaded and before the job records are written:
    // the products family is ahead of the job table
    for point in ["store.commit.ingested=abort@5", "store.commit.ingested=abort@2"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_xfstore"))
            .args(["ingest", "--store", &killed, "--input", sample.to_str().unwrap(), "--rule", OME, "--rule", CL])
            .args(["--batch-rows", "64"])
            .env("XFSTORE_FAILPOINTS", point)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{point}: the failpoint must stop the process");
    }
    let resumed = ingest(&killed, &["--batch-rows", "64"]);
    assert!(resumed.contains("resumed at row"), "{resumed}");
    assert_eq!(counters(&one), counters(&killed));
    assert!(exports(&killed, dir.path(), "killed") == reference, "exports differ after the kills");
}

/// A store written by the build before #16 (format 2, read-modify-write path, leveled
/// compaction; `tests/data/store_format2_partial`: the sample x OMe and ArH->Cl, first 1,300
/// rows, compacted) is read as it is and finished by this build exactly like a fresh run.
#[test]
fn a_store_of_the_previous_format_is_read_and_finished_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old");
    std::fs::create_dir_all(&old).unwrap();
    for f in std::fs::read_dir(root().join("tests/data/store_format2_partial")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), old.join(f.file_name())).unwrap();
    }
    let old = old.to_str().unwrap().to_owned();
    // read-only first: the old layout as it is
    let st = status_json(&old);
    for rule in [OME, CL] {
        assert_eq!(job_status(&st, rule)["offset"], 1300, "{st}");
    }
    // phenolphthalein's chloro product, written in Kekule form
    let found =
        run_ok(&["query", "--store", &old, "--rule", CL, "O=C1OC(C2=CC=C(O)C=C2)(C2=CC=C(O)C=C2Cl)C2=CC=CC=C21"]);
    assert!(found.contains("O=C1OC(c2ccc(O)cc2)(c2ccc(O)cc2Cl)c2ccccc21"), "{found}");
    // then finished by this build (bulk loads and merge operands on top of the old files)
    let resumed = ingest(&old, &[]);
    assert!(resumed.contains("(resumed at row 1300)"), "{resumed}");
    let fresh = dir.path().join("fresh").to_str().unwrap().to_owned();
    ingest(&fresh, &[]);
    assert_eq!(counters(&old), counters(&fresh));
    // row for row (the fixture recorded the input's path where it was made, so the Parquet
    // footers' provenance differs by that path)
    let (old_rows, fresh_rows) =
        (exports_as(&old, dir.path(), "old", "csv"), exports_as(&fresh, dir.path(), "fresh", "csv"));
    assert!(old_rows == fresh_rows, "exports differ");
}

/// The writer benchmark measures the real thing: a replay of a recorded stream builds the same
/// store as the ingest it was recorded from (without properties), and a file that is not a
/// complete stream is refused with one clear error.
#[test]
fn a_replayed_product_stream_builds_the_store_a_real_ingest_builds() {
    let dir = tempfile::tempdir().unwrap();
    let s = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let sample = sample();
    let input = sample.to_str().unwrap();
    let stream = s("stream.parquet");
    let bench = |store: &str, stream: &str| {
        run(&["bench-writer", "--input", input, "--rule", CL, "--stream", stream, "--store", store, "--slice", "5000"])
    };
    let out = bench(&s("replayed"), &stream);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("recorded") && text.contains("total: 12696 products (9712 unique)"), "{text}");
    let real = s("real");
    run_ok(&["ingest", "--store", &real, "--input", input, "--rule", CL, "--no-props"]);
    let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
    run_ok(&["export", "--store", &real, "--rule", CL, "--output", a.to_str().unwrap()]);
    run_ok(&["export", "--store", &s("replayed"), "--rule", CL, "--output", b.to_str().unwrap()]);
    assert!(std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(), "the replay's export differs");

    // not a stream: the sample itself; a stream cut short: no footer
    let cut = s("cut.parquet");
    let bytes = std::fs::read(&stream).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    for (bad, why) in [(input, "not a product stream"), (cut.as_str(), "product stream")] {
        let out = bench(&s(&format!("bad{}", why.len())), bad);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(why) && !err.contains("panicked"), "{err}");
    }
}
