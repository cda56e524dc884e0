//! #29: one store however it was built. The example campaign (8 streams, 92 jobs, chained
//! steps) built by `xfstore run` and by the shell scheduler over a partitioned campaign folder
//! reads the same through every command: report, export --campaign, exports of one job in
//! every format, lookups (single, batch, sequential, by parent) and status of the campaign.
//! (The Ray-built folder and the Python module: tests/py/test_partitioned.py.)

use std::path::Path;
use std::process::Command;

use arrow_array::ArrayRef;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::common::*;

/// A Parquet file's column names and columns, every row in one batch (Arrow equality of the
/// whole table, whatever its row groups).
fn table(path: &Path) -> (Vec<String>, Vec<ArrayRef>) {
    let file = std::fs::File::open(path).unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let rows = builder.metadata().file_metadata().num_rows().max(1) as usize;
    let names = builder.schema().fields().iter().map(|f| f.name().clone()).collect();
    let batches: Vec<_> = builder.with_batch_size(rows).build().unwrap().map(Result::unwrap).collect();
    assert!(batches.len() <= 1, "{}: one batch expected", path.display());
    (names, batches.first().map(|b| b.columns().to_vec()).unwrap_or_default())
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs `campaign` partitioned into `dir` by the shell fallback (3 partitions, 2 at a time,
/// units of `unit_rows` rows).
fn partitioned_run(dir: &Path, campaign: &str, unit_rows: &str) {
    let ran = Command::new("bash")
        .arg(root().join("tools/partitioned_run.sh"))
        .args([s(dir), "-j", "2", "--", campaign, "--partitions", "3", "--unit-rows", unit_rows])
        .env("XFSTORE", env!("CARGO_BIN_EXE_xfstore"))
        .output()
        .unwrap();
    assert!(ran.status.success(), "{}", String::from_utf8_lossy(&ran.stderr));
}

#[test]
fn a_partitioned_campaign_reads_as_the_store_of_the_same_campaign() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let campaign = root().join("configs/campaign.example.yaml");
    let c = s(&campaign);
    let (store, parted) = (d.join("S"), d.join("P"));
    run_ok(&["run", c, "--store", s(&store)]);
    partitioned_run(&parted, c, "200");
    let both = [&store, &parted];

    // verify --store checks every shard of the campaign folder
    let ok = run_ok(&["verify", "--store", s(&parted)]);
    assert!(ok.contains("valid (24 shards)") && ok.contains("job records agree"), "{ok}");

    // report: byte-equal CSV
    let [a, b] = both.map(|st| run_ok(&["report", "--campaign", c, "--store", s(st), "--csv", "-"]));
    assert_eq!(a.lines().count(), 1 + 54, "{a}");
    assert_eq!(a, b, "report --csv differs");

    // status of the campaign: the same jobs, states and counters (times differ)
    let [a, b] = both.map(|st| {
        let v: serde_json::Value =
            serde_json::from_str(&run_ok(&["status", "--campaign", c, "--store", s(st), "--json"])).unwrap();
        v["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| {
                (
                    j["job"].clone(),
                    j["state"].clone(),
                    j["rows_done"].clone(),
                    j["products"].clone(),
                    j["unique"].clone(),
                )
            })
            .collect::<Vec<_>>()
    });
    assert_eq!(a.len(), 92);
    assert_eq!(a, b, "status --campaign differs");

    // export --campaign: the same index, every file Arrow-equal
    let [ea, eb] = both.map(|st| {
        let out = d.join(format!("{}.export", st.file_name().unwrap().to_str().unwrap()));
        run_ok(&["export", "--campaign", c, "--store", s(st), "--output", s(&out)]);
        out
    });
    let index = |e: &Path| std::fs::read_to_string(e.join("index.json")).unwrap();
    assert_eq!(index(&ea), index(&eb));
    // the Hive dataset's files, as the index names them
    let doc: serde_json::Value = serde_json::from_str(&index(&ea)).unwrap();
    let files: Vec<String> =
        doc["jobs"].as_array().unwrap().iter().map(|j| j["file"].as_str().unwrap().to_owned()).collect();
    assert!(files.iter().all(|f| f.starts_with("class=") && f.ends_with(".parquet")), "{files:?}");
    assert_eq!(files.len(), 92);
    let mut rows = 0;
    for f in &files {
        let (ta, tb) = (table(&ea.join(f)), table(&eb.join(f)));
        rows += ta.1.first().map_or(0, |c| c.len());
        assert!(ta == tb, "{f}: exports differ");
    }
    assert!(rows > 10_000, "{rows}");

    // one job: to a .parquet file (shards merged), CSV, SMILES and SDF text: byte-equal files;
    // to a folder, one part per shard holding the same products
    let job = "fg.x2.x1.poly/FG_PHENOL_OH__OH__TO__OMe";
    for ext in ["parquet", "csv", "smi", "sdf"] {
        let [a, b] = both.map(|st| {
            let out = d.join(format!("{}.one.{ext}", st.file_name().unwrap().to_str().unwrap()));
            run_ok(&["export", "--store", s(st), "--job", job, "--output", s(&out)]);
            out
        });
        if ext == "parquet" {
            assert!(table(&a) == table(&b), "{job} to .parquet differs");
        } else {
            assert!(std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(), "{job} to .{ext} differs");
        }
    }
    let folder = d.join("parts");
    run_ok(&["export", "--store", s(&parted), "--job", job, "--output", s(&folder)]);
    let mut union = std::collections::BTreeMap::new();
    for p in 0..3 {
        union.extend(read_export(&folder.join(format!("part-{p:05}.parquet"))));
    }
    assert_eq!(union, read_export(&d.join("S.one.parquet")));

    // lookups: products of every step, a missing and an invalid SMILES; parents of x1 and of x2
    let mut queries = String::new();
    for f in &files {
        for smiles in read_export(&ea.join(f)).keys().take(4) {
            queries.push_str(&format!("{smiles} q{}\n", queries.len()));
        }
    }
    queries.push_str("CCCCCCCCCC missing\nnot_a_smiles bad\n");
    let qfile = d.join("queries.smi");
    std::fs::write(&qfile, &queries).unwrap();
    let mut expected = String::new();
    for mode in [&["--file", s(&qfile)][..], &["--file", s(&qfile), "--sequential"]] {
        let [a, b] = both.map(|st| {
            let mut args = vec!["query", "--store", s(st), "--json"];
            args.extend_from_slice(mode);
            let out = run(&args);
            assert_eq!(out.status.code(), Some(1), "one query is missing");
            String::from_utf8(out.stdout).unwrap()
        });
        let found = a.matches("\"found\"").count();
        assert!(found > 100, "{found} found: {a}");
        assert_eq!(a, b, "query {mode:?} differs");
        expected = a;
    }
    // started with a low open-file soft limit (Debian's is 1,024), the process raises it to the
    // hard limit itself: these lookups probe every job's table files, which RocksDB keeps open
    // (kept at 64 without the raise: "Too many open files")
    for st in both {
        let out = Command::new("bash")
            .args(["-c", r#"ulimit -S -n 64 && exec "$@""#, "low-limit", env!("CARGO_BIN_EXE_xfstore")])
            .args(["query", "--store", s(st), "--json", "--file", s(&qfile)])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8(out.stdout).unwrap(), expected, "{st:?} under a low limit");
    }
    let parents: Vec<String> = std::fs::read_to_string(root().join("tests/data/campaign/polyphenols.smi"))
        .unwrap()
        .lines()
        .take(4)
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .chain(
            read_export(&ea.join("class=polyphenol/step=x1/rule=HALO_AROMATIC_CH__H__TO__Cl/part-x1.poly.parquet"))
                .into_keys()
                .take(4),
        )
        .collect();
    let [a, b] = both.map(|st| {
        let mut args = vec!["query", "--store", s(st), "--json", "--parent"];
        args.extend(parents.iter().map(String::as_str));
        run_ok(&args)
    });
    assert!(a.matches("\"job\"").count() > 30, "{a}");
    assert_eq!(a, b, "query --parent differs");
}

/// #32 item 4 on partitioned runs: a campaign whose steps filter by properties (`keep:`), run
/// partitioned (shell scheduler, 3 partitions, 7-row units so one product meets the filter in
/// several units), equals the single store: the report (`filtered` column included) byte-equal,
/// every file of the Hive dataset Arrow-equal.
#[test]
fn a_filtered_partitioned_campaign_equals_the_single_store() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let halo = "[HALO_AROMATIC_CH__H__TO__F, HALO_AROMATIC_CH__H__TO__Cl, HALO_AROMATIC_CH__H__TO__Br, HALO_AROMATIC_CH__H__TO__I]";
    let poly = root().join("tests/data/campaign/polyphenols.smi");
    let yaml = format!(
        "inputs:\n  - {{name: poly, path: {}, class: polyphenol}}\nsteps:\n  - {{name: x1, from: [poly], rules: {halo}, keep: \"MW <= 400 and cLogP <= 5\"}}\n  - {{name: x2, from: [x1], rules: {halo}, keep: \"not (cLogP > 4.5)\"}}\n",
        poly.display()
    );
    let campaign = d.join("c.yaml");
    std::fs::write(&campaign, yaml).unwrap();
    let c = s(&campaign);
    let (store, parted) = (d.join("S"), d.join("P"));
    run_ok(&["run", c, "--store", s(&store)]);
    partitioned_run(&parted, c, "7");
    let [a, b] = [&store, &parted].map(|st| run_ok(&["report", "--campaign", c, "--store", s(st), "--csv", "-"]));
    assert_eq!(a, b, "report --csv differs");
    let filtered: u64 = a.lines().skip(1).map(|l| l.rsplit(',').next().unwrap().parse::<u64>().unwrap()).sum();
    assert!(filtered > 0, "{a}");
    let [ea, eb] = [&store, &parted].map(|st| {
        let out = d.join(format!("{}.export", st.file_name().unwrap().to_str().unwrap()));
        run_ok(&["export", "--campaign", c, "--store", s(st), "--output", s(&out)]);
        out
    });
    let index = std::fs::read_to_string(ea.join("index.json")).unwrap();
    assert_eq!(index, std::fs::read_to_string(eb.join("index.json")).unwrap());
    let doc: serde_json::Value = serde_json::from_str(&index).unwrap();
    for j in doc["jobs"].as_array().unwrap() {
        let f = j["file"].as_str().unwrap();
        assert!(table(&ea.join(f)) == table(&eb.join(f)), "{f}: exports differ");
    }
    // #32: the same lineage (paths, original rows and ids) and descendants from the shards
    let text = std::fs::read_to_string(&poly).unwrap();
    let ids: Vec<&str> = text.lines().filter_map(|l| l.split_whitespace().nth(1)).collect();
    let paths = same_lineage(s(&store), s(&parted), &ids);
    assert!(paths > 300, "{paths} paths");
}
