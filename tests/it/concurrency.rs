//! One writer at a time, readers any time: a second ingest is refused naming the writer's pid,
//! while status, query and export keep working on the store being written.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

#[test]
fn second_writer_is_refused_and_readers_work_during_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    let s = store.to_str().unwrap();
    let input = root().join("tests/data/natural_products_22k.parquet");
    let spawn_writer = || {
        Command::new(env!("CARGO_BIN_EXE_xfstore"))
            .args(["ingest", "--store", s, "--input", input.to_str().unwrap(), "--rule", OME, "--batch-rows", "64"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut writer = spawn_writer();
    // wait until the job exists and has committed something
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "ingest made no progress");
        assert!(writer.try_wait().unwrap().is_none(), "ingest ended too early for this test");
        if store.join("CURRENT").exists() {
            let out = run(&["status", "--store", s, "--json"]);
            if out.status.success() {
                let st: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                if st["jobs"][0]["offset"].as_u64().unwrap_or(0) > 0 {
                    assert_eq!(st["writer_pid"].as_u64(), Some(u64::from(writer.id())));
                    assert_eq!(st["jobs"][0]["state"], "running");
                    break;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    let second = run(&["ingest", "--store", s, "--input", input.to_str().unwrap(), "--rule", OME]);
    assert_eq!(second.status.code(), Some(2));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains(&format!("locked by pid {}", writer.id())), "{err}");

    // a reader sees a consistent committed prefix: an export of it is valid (refused without
    // --allow-incomplete, since the job is still running), and every exported product is found
    // by query
    let out = dir.path().join("partial.parquet");
    let export = ["export", "--store", s, "--rule", OME, "--output", out.to_str().unwrap()];
    let refused = run(&export);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is not complete"));
    run_ok(&[&export[..], &["--allow-incomplete"]].concat());
    let rows = read_export(&out);
    assert!(!rows.is_empty());
    let some: Vec<&str> = rows.keys().take(3).map(String::as_str).collect();
    let mut args = vec!["query", "--store", s, "--json"];
    args.extend(&some);
    let q = run_ok(&args);
    assert_eq!(q.lines().filter(|l| l.contains("\"status\":\"found\"")).count(), some.len(), "{q}");

    // readers keep opening and reading while the writer bulk-loads and compacts (files added
    // and retired every batch): every open must succeed (it raced with file deletion before
    // the retry), and so must every lookup (a table file opened lazily after open could be one
    // a compaction had deleted since: "No such file or directory" on the key index, seen in CI)
    for _ in 0..40 {
        if writer.try_wait().unwrap().is_some() {
            break;
        }
        run_ok(&["status", "--store", s, "--json"]);
        run_ok(&[&export[..], &["--allow-incomplete"]].concat());
        let q = run_ok(&args);
        assert_eq!(q.lines().filter(|l| l.contains("\"status\":\"found\"")).count(), some.len(), "{q}");
    }

    writer.kill().unwrap();
    writer.wait().unwrap();
    let st = status_json(s);
    assert_eq!(st["writer_pid"], serde_json::Value::Null);
    assert_eq!(st["jobs"][0]["state"], "interrupted");

    // a reader opened while no writer runs (a notebook's Store) keeps reading its view while
    // a writer resumes the job and compacts the tables it holds
    let reader = xfstore::Reader::open(&store).unwrap();
    let jobs = reader.jobs().unwrap();
    let mut writer = spawn_writer();
    let deadline = Instant::now() + Duration::from_secs(4);
    let mut reads = 0;
    while writer.try_wait().unwrap().is_none() && Instant::now() < deadline {
        for smiles in &some {
            let outcome = xfstore::lookup(&reader, &jobs, smiles)
                .unwrap_or_else(|e| panic!("lookup during the writer's run: {e}"));
            assert!(matches!(outcome, xfstore::QueryOutcome::Found { .. }), "{smiles}: {outcome:?}");
        }
        reads += 1;
    }
    writer.kill().unwrap();
    writer.wait().unwrap();
    assert!(reads > 10, "{reads} rounds of lookups during the writer's run");
}
