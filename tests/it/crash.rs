//! Crash safety with a real process: the real binary ingests 22,291 real molecules into a store
//! with tiny memtables (constant flushes and compactions) and is SIGKILLed at seeded random
//! moments, then resumed, until it completes. After every kill the store must be consistent
//! (each job's counters cover exactly its committed offset); at the end the exports must be
//! byte-identical to an uninterrupted run's and the counters equal.
//!
//! XFSTORE_CRASH_KILLS (default 20) and XFSTORE_CRASH_SEED tune it; tools/crash_soak.sh runs a
//! long soak.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

fn input() -> String {
    root().join("tests/data/natural_products_22k.parquet").to_str().unwrap().to_owned()
}

fn ingest_cmd(store: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xfstore"));
    c.args(["ingest", "--store", store, "--input", &input(), "--id-column", "id", "--rule", OME, "--rule", COOME])
        .args(["--batch-rows", "64", "--write-buffer-bytes", "65536", "--no-props"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

fn export_all(store: &str, dir: &std::path::Path, tag: &str) -> Vec<Vec<u8>> {
    [OME, COOME]
        .iter()
        .map(|rule| {
            let out = dir.join(format!("{tag}-{rule}.parquet"));
            run_ok(&["export", "--store", store, "--rule", rule, "--output", out.to_str().unwrap()]);
            std::fs::read(out).unwrap()
        })
        .collect()
}

/// A small deterministic PRNG (xorshift64*), so a failing schedule can be replayed by seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Every job's counters must account for exactly the rows below its committed offset.
fn check_consistent(store: &str) -> u64 {
    let st = status_json(store);
    let mut min_offset = u64::MAX;
    for job in st["jobs"].as_array().unwrap() {
        let offset = job["offset"].as_u64().unwrap();
        let c = &job["counters"];
        assert_eq!(c["inputs"].as_u64().unwrap(), offset, "counters disagree with offset: {job}");
        assert!(c["unique_products"].as_u64() <= c["site_products"].as_u64(), "{job}");
        assert!(offset <= job["input"]["rows"].as_u64().unwrap());
        min_offset = min_offset.min(offset);
    }
    min_offset
}

/// How often `event` appears in the RocksDB info log `log` (0 if there is none).
fn rocksdb_events(log: &std::path::Path, event: &str) -> usize {
    std::fs::read_to_string(log).unwrap_or_default().matches(event).count()
}

#[test]
fn kill_9_at_random_moments_loses_nothing_and_counts_nothing_twice() {
    let kills_wanted = env_u64("XFSTORE_CRASH_KILLS", 20);
    let seed = env_u64("XFSTORE_CRASH_SEED", 0x5eed_cafe);
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference");
    let crashed = dir.path().join("crashed");
    let (reference, crashed_s) = (reference.to_str().unwrap(), crashed.to_str().unwrap());

    let t = Instant::now();
    let out = ingest_cmd(reference).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let clean_secs = t.elapsed().as_secs_f64();
    let expected = export_all(reference, dir.path(), "reference");
    let expected_jobs = status_json(reference)["jobs"].clone();

    let mut rng = Rng(seed | 1);
    let (mut kills, mut runs) = (0u64, 0u64);
    // RocksDB's events of every run, read from its LOG before the next open rotates it (the
    // store keeps only its last few LOG files)
    let (mut flushes, mut compactions) = (0, 0);
    let mut tally = || {
        let log = crashed.join("LOG");
        flushes += rocksdb_events(&log, "\"flush_started\"");
        compactions += rocksdb_events(&log, "\"compaction_started\"");
    };
    // kill waits scaled to this machine's clean run (designed at 8.6 s: up to 700 ms), so the
    // kills span the same share of the run however fast it is
    let max_wait = (700.0 * (clean_secs / 8.6).clamp(0.5, 1.0)) as u64;
    loop {
        runs += 1;
        let mut child = ingest_cmd(crashed_s).spawn().unwrap();
        if kills < kills_wanted {
            // Kill somewhere between start-up and well into the run.
            std::thread::sleep(Duration::from_millis(rng.range(30, max_wait)));
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                kills += 1;
                tally();
                check_consistent(crashed_s);
                continue;
            }
        }
        let out = child.wait_with_output().unwrap();
        tally();
        assert!(out.status.success(), "resumed ingest failed: {}", String::from_utf8_lossy(&out.stderr));
        break;
    }
    assert!(kills >= kills_wanted, "only {kills} kills happened (wanted {kills_wanted})");
    assert!(runs > kills);

    let got = export_all(crashed_s, dir.path(), "crashed");
    assert_eq!(status_json(crashed_s)["jobs"].as_array().unwrap().len(), 2);
    let strip = |jobs: serde_json::Value| -> Vec<serde_json::Value> {
        jobs.as_array()
            .unwrap()
            .iter()
            .map(|j| serde_json::json!({"id": j["id"], "offset": j["offset"], "state": j["state"], "counters": j["counters"]}))
            .collect()
    };
    assert_eq!(
        strip(status_json(crashed_s)["jobs"].clone()),
        strip(expected_jobs),
        "counters differ from the uninterrupted run"
    );
    for (i, (a, b)) in expected.iter().zip(&got).enumerate() {
        assert!(a == b, "export {i} differs from the uninterrupted run");
    }
    assert!(flushes > 0 && compactions > 0, "no flush/compaction activity seen ({flushes}/{compactions})");
    eprintln!(
        "crash test: seed {seed:#x}, {kills} SIGKILLs over {runs} runs, clean run {clean_secs:.1} s, \
         flushes {flushes} and compactions {compactions} in the runs' RocksDB logs, exports identical"
    );
}
