//! Partitioned runs (plan / map / reduce) against a single-machine ingest of the same input:
//! row-for-row equal exports (keys, occurrences, provenance, properties), crash points inside
//! map and reduce, damaged run files, refusals (another build, a changed input, steps out of
//! order). The Ray driver and the shell fallback are tested in `tests/py/test_partitioned.py`.

use std::path::{Path, PathBuf};
use std::process::Command;

use arrow_cast::display::{ArrayFormatter, FormatOptions};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::common::{run, run_ok, sample, OME};

const CL: &str = "HALO_AROMATIC_CH__H__TO__Cl";

/// Every row of the Parquet files `paths` as text cells (header first), sorted by the first
/// column (the canonical SMILES) bytewise: an order-free, exact comparison of exports.
fn rows(paths: &[PathBuf]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut header = None;
    for path in paths {
        let builder = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap();
        header.get_or_insert_with(|| builder.schema().fields().iter().map(|f| f.name().clone()).collect::<Vec<_>>());
        for batch in builder.build().unwrap() {
            let batch = batch.unwrap();
            let opts = FormatOptions::default().with_null("<null>");
            let cols: Vec<ArrayFormatter> =
                batch.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &opts).unwrap()).collect();
            for i in 0..batch.num_rows() {
                out.push(cols.iter().map(|c| c.value(i).to_string()).collect::<Vec<_>>());
            }
        }
    }
    out.sort();
    let mut all = vec![header.unwrap_or_default()];
    all.extend(out);
    all
}

/// The parts of a sharded export folder, in order.
fn parts(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    v.sort();
    v
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A single-machine ingest of `input` with `rules` and `extra` options; exports per rule.
fn single(dir: &Path, input: &Path, rules: &[&str], extra: &[&str]) -> Vec<Vec<Vec<String>>> {
    let store = dir.join("single");
    let mut args = vec!["ingest", "--store", s(&store), "--input", s(input)];
    for r in rules {
        args.extend(["--rule", r]);
    }
    args.extend_from_slice(extra);
    run_ok(&args);
    rules
        .iter()
        .map(|r| {
            let out = dir.join(format!("single-{r}.parquet"));
            run_ok(&["export", "--store", s(&store), "--rule", r, "--output", s(&out)]);
            rows(&[out])
        })
        .collect()
}

fn plan(run_dir: &Path, input: &Path, rules: &[&str], partitions: &str, unit_rows: &str, extra: &[&str]) {
    let mut args =
        vec!["plan", "--out", s(run_dir), "--input", s(input), "--partitions", partitions, "--unit-rows", unit_rows];
    for r in rules {
        args.extend(["--rule", r]);
    }
    args.extend_from_slice(extra);
    run_ok(&args);
}

fn sharded_exports(dir: &Path, run_dir: &Path, rules: &[&str]) -> Vec<Vec<Vec<String>>> {
    rules
        .iter()
        .map(|r| {
            let out = dir.join(format!("sharded-{r}"));
            run_ok(&["export", "--store", s(run_dir), "--rule", r, "--output", s(&out)]);
            run_ok(&["verify", s(&out)]);
            rows(&parts(&out))
        })
        .collect()
}

#[test]
fn a_partitioned_run_equals_a_single_machine_ingest_row_for_row() {
    let dir = tempfile::tempdir().unwrap();
    let extra = ["--id-column", "id", "--carry", "name"];
    let expected = single(dir.path(), &sample(), &[OME, CL], &extra);
    let run_dir = dir.path().join("run");
    // 2,700 rows in 7 units of 400, 4 partitions; properties on
    plan(&run_dir, &sample(), &[OME, CL], "4", "400", &extra);
    let pending = run_ok(&["map", s(&run_dir), "--list-pending"]);
    assert_eq!(pending.lines().count(), 7, "{pending}");
    // reduce before the maps: refused, naming what is missing
    let early = run(&["reduce", s(&run_dir), "--partition", "0"]);
    assert_eq!(early.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&early.stderr).contains("7 of 7 units are not mapped yet"));
    for k in pending.lines() {
        run_ok(&["map", s(&run_dir), "--unit", k]);
    }
    // a finished unit is skipped
    assert!(run_ok(&["map", s(&run_dir), "--unit", "3"]).contains("already done"));
    run_ok(&["reduce", s(&run_dir), "--all"]);
    assert_eq!(sharded_exports(dir.path(), &run_dir, &[OME, CL]), expected);
    assert!(expected[1].len() > 9_000, "the Cl job has {} rows", expected[1].len());

    // status: the same counters as the single store's
    let st: serde_json::Value = serde_json::from_str(&run_ok(&["status", "--store", s(&run_dir), "--json"])).unwrap();
    let single_st = crate::common::status_json(s(&dir.path().join("single")));
    for (j, rule) in [OME, CL].iter().enumerate() {
        let want = crate::common::job_status(&single_st, rule);
        let got = &st["jobs"][j];
        assert_eq!(got["unique"], want["counters"]["unique_products"], "{rule}: {got} vs {want}");
        assert_eq!(got["products"], want["counters"]["site_products"]);
        assert_eq!(got["shard_products"], want["counters"]["site_products"]);
        assert_eq!(got["no_site"], want["counters"]["no_site"]);
        assert_eq!(got["state"], "complete");
    }

    // queries reach the right shard: every 25th product of the Cl job, as a query file, answers
    // exactly as the single store does (provenance, occurrences, properties)
    let queries: String = expected[1][1..].iter().step_by(25).map(|r| format!("{}\n", r[0])).collect();
    let qfile = dir.path().join("q.smi");
    std::fs::write(&qfile, &queries).unwrap();
    let q = |store: &Path| run_ok(&["query", "--store", s(store), "--json", "--file", s(&qfile), "--sequential"]);
    let (a, b) = (q(&dir.path().join("single")), q(&run_dir));
    assert_eq!(a.lines().count(), queries.lines().count());
    assert_eq!(a, b);
    // and parent lookups ask every shard
    let parent = |store: &Path| run_ok(&["query", "--store", s(store), "--parent", "Oc1ccccc1", "--json"]);
    assert_eq!(parent(&dir.path().join("single")), parent(&run_dir));
}

#[test]
#[ignore = "needs the Python oracle venv (tools/setup.sh); tools/test.sh runs it"]
fn a_partitioned_run_of_a_text_input_equals_its_single_machine_ingest() {
    // the same path for another input format: a gzip-compressed .smi of the sample's first
    // 600 rows, 3 partitions, units of 97 rows (not a divisor)
    let dir = tempfile::tempdir().unwrap();
    let smi = dir.path().join("mols.smi.gz");
    crate::common::python_ok(
        "import gzip, sys, pyarrow.parquet as pq\n\
         t = pq.read_table(sys.argv[1]).slice(0, 600).to_pylist()\n\
         with gzip.open(sys.argv[2], 'wt') as f:\n\
         \x20   f.writelines(f\"{r['smiles']} {r['id']}\\n\" for r in t)\n",
        &[s(&sample()), s(&smi)],
    );
    let expected = single(dir.path(), &smi, &[CL], &["--no-props"]);
    let run_dir = dir.path().join("run");
    plan(&run_dir, &smi, &[CL], "3", "97", &["--no-props"]);
    run_ok(&["map", s(&run_dir), "--all"]);
    run_ok(&["reduce", s(&run_dir), "--all"]);
    assert_eq!(sharded_exports(dir.path(), &run_dir, &[CL]), expected);
}

/// #30: rows appended to a partitioned run's text input are only new work: planning again adds
/// units for the new rows (the old ones, already mapped, stay as they are) and removes the
/// shards, which reduce rebuilds from every unit (also after a kill between build and publish);
/// the run then exports exactly what a single-machine ingest of the final input does. An edited
/// row is not growth: refused, nothing touched.
#[test]
fn a_partitioned_run_grows_by_units_for_the_new_rows_and_ends_as_an_ingest_of_the_final_input() {
    let dir = tempfile::tempdir().unwrap();
    let smi = dir.path().join("mols.smi");
    let lines = crate::common::python_ok(
        "import sys, pyarrow.parquet as pq\n\
         t = pq.read_table(sys.argv[1]).slice(0, 600).to_pylist()\n\
         print(''.join(f\"{r['smiles']} {r['id']}\\n\" for r in t), end='')\n",
        &[s(&sample())],
    );
    let lines: Vec<&str> = lines.split_inclusive('\n').collect();
    assert_eq!(lines.len(), 600);
    std::fs::write(&smi, lines[..400].concat()).unwrap();
    let run_dir = dir.path().join("run");
    plan(&run_dir, &smi, &[CL], "3", "97", &["--no-props"]);
    run_ok(&["map", s(&run_dir), "--all"]);
    run_ok(&["reduce", s(&run_dir), "--all"]);
    let marker = |k: u32| std::fs::read(run_dir.join(format!("units/unit-{k:06}/done.json"))).unwrap();
    let old: Vec<Vec<u8>> = (0..5).map(marker).collect();

    // planning again, as a user does after the input changed
    let again = ["plan", "--out", s(&run_dir), "--input", s(&smi), "--rule", CL];
    let again = [&again[..], &["--partitions", "3", "--unit-rows", "97", "--no-props"]].concat();
    std::fs::write(&smi, lines[..399].concat() + "C1CC1O x\n").unwrap(); // an edited row: not growth
    let edited = run(&again);
    assert_eq!(edited.status.code(), Some(2), "{}", String::from_utf8_lossy(&edited.stderr));
    assert_eq!(run_ok(&["reduce", s(&run_dir), "--list-pending"]), "", "a refused plan touches nothing");

    std::fs::write(&smi, lines.concat()).unwrap(); // 200 rows appended
    let grew = run_ok(&again);
    assert!(grew.contains("grew from 400 to 600 rows") && grew.contains("units 5..7 added"), "{grew}");
    assert_eq!(run_ok(&["map", s(&run_dir), "--list-pending"]), "5\n6\n7\n", "only the new rows' units");
    assert_eq!(run_ok(&["reduce", s(&run_dir), "--list-pending"]), "0\n1\n2\n");
    run_ok(&["map", s(&run_dir), "--all"]);
    assert_eq!((0..5).map(marker).collect::<Vec<_>>(), old, "the old units were not mapped again");
    let killed = with_failpoint("partition.reduce.built=abort", &["reduce", s(&run_dir), "--partition", "1"]);
    assert!(!killed.status.success());
    run_ok(&["reduce", s(&run_dir), "--all"]);
    let expected = single(dir.path(), &smi, &[CL], &["--no-props"]);
    assert_eq!(sharded_exports(dir.path(), &run_dir, &[CL]), expected);
    // planning again with nothing new keeps the grown plan
    run_ok(&again);
    assert_eq!(run_ok(&["map", s(&run_dir), "--list-pending"]), "");
}

/// A stream of a partitioned campaign does not grow in place (the streams planned from its
/// shards would be stale): planning again after rows were appended to its input is refused,
/// naming why, and leaves the plans as they were.
#[test]
fn a_partitioned_campaign_whose_input_grew_is_refused_not_half_grown() {
    let dir = tempfile::tempdir().unwrap();
    let data = crate::common::root().join("tests/data/campaign");
    for f in ["polyphenols.smi", "terpenoids.csv"] {
        std::fs::copy(data.join(f), dir.path().join(f)).unwrap();
    }
    let yaml = std::fs::read_to_string(crate::common::root().join("configs/campaign.example.yaml"))
        .unwrap()
        .replace("../tests/data/campaign/", "")
        .replace("../configs/", &format!("{}/configs/", crate::common::root().display()));
    let c = dir.path().join("c.yaml");
    std::fs::write(&c, yaml).unwrap();
    let run_dir = dir.path().join("run");
    run_ok(&["plan", s(&c), "--out", s(&run_dir), "--partitions", "2", "--no-props"]);
    let plan_file = run_dir.join("streams/x1.poly/plan.json");
    let before = std::fs::read(&plan_file).unwrap();
    let mut f = std::fs::OpenOptions::new().append(true).open(dir.path().join("polyphenols.smi")).unwrap();
    std::io::Write::write_all(&mut f, b"Oc1ccc(O)cc1 hq\n").unwrap();
    let refused = run(&["plan", "--out", s(&run_dir), "--resume"]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{err}");
    assert!(err.contains("does not grow in place"), "{err}");
    assert_eq!(std::fs::read(&plan_file).unwrap(), before);
}

fn with_failpoint(spec: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_xfstore")).args(args).env("XFSTORE_FAILPOINTS", spec).output().unwrap()
}

#[test]
fn killed_map_and_reduce_steps_leave_nothing_half_done_and_rerun_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let expected = single(dir.path(), &sample(), &[OME], &[]);
    let run_dir = dir.path().join("run");
    plan(&run_dir, &sample(), &[OME], "2", "1000", &[]);
    // unit 1 killed in the middle of its transform, then killed right after publishing
    let killed = with_failpoint("partition.map.chunk=abort@3", &["map", s(&run_dir), "--unit", "1"]);
    assert!(!killed.status.success());
    assert_eq!(run_ok(&["map", s(&run_dir), "--list-pending"]), "0\n1\n2\n", "a killed map publishes nothing");
    let leftovers = std::fs::read_dir(run_dir.join("units")).unwrap().count();
    assert_eq!(leftovers, 1, "the killed map's temp folder stays until the next map of the unit");
    let killed = with_failpoint("partition.map.published=abort", &["map", s(&run_dir), "--unit", "1"]);
    assert!(!killed.status.success());
    assert_eq!(run_ok(&["map", s(&run_dir), "--list-pending"]), "0\n2\n", "published before the kill: done");
    let names: Vec<String> = std::fs::read_dir(run_dir.join("units"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["unit-000001"], "the earlier temp folder was removed");
    run_ok(&["map", s(&run_dir), "--all"]);
    // partition 0's reduce killed after building its shard, before publishing it
    let killed = with_failpoint("partition.reduce.built=abort", &["reduce", s(&run_dir), "--partition", "0"]);
    assert!(!killed.status.success());
    assert_eq!(run_ok(&["reduce", s(&run_dir), "--list-pending"]), "0\n1\n");
    let st = run_ok(&["status", "--store", s(&run_dir)]);
    assert!(st.contains("shards reduced 0/2") && st.contains("(so far)"), "{st}");
    // exporting an unfinished run is refused
    let out = dir.path().join("early");
    let early = run(&["export", "--store", s(&run_dir), "--rule", OME, "--output", s(&out)]);
    assert_eq!(early.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&early.stderr).contains("shard 0 is not reduced yet"));
    run_ok(&["reduce", s(&run_dir), "--all"]);
    let names: Vec<String> = std::fs::read_dir(run_dir.join("shards"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(names, ["shard-0000", "shard-0001"], "no temp shard left");
    assert_eq!(sharded_exports(dir.path(), &run_dir, &[OME]), expected);
}

#[test]
fn a_damaged_run_file_is_refused_before_its_shard_is_published() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    plan(&run_dir, &sample(), &[CL], "2", "1400", &["--no-props"]);
    run_ok(&["map", s(&run_dir), "--all"]);
    // two valid run files swapped: each decodes, but not to the rows its map step hashed
    let (f0, f1) = (run_dir.join("units/unit-000000/run.parquet"), run_dir.join("units/unit-000001/run.parquet"));
    let swap = |a: &Path, b: &Path| {
        let t = a.with_extension("swap");
        std::fs::rename(a, &t).unwrap();
        std::fs::rename(b, a).unwrap();
        std::fs::rename(&t, b).unwrap();
    };
    swap(&f0, &f1);
    let out = run(&["reduce", s(&run_dir), "--partition", "0"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not hash as its map step recorded") && err.contains("delete the unit"), "{err}");
    assert!(!run_dir.join("shards/shard-0000").exists());
    swap(&f0, &f1);
    // flip bytes in the middle of unit 0's run file (Snappy-compressed values)
    let file = run_dir.join("units/unit-000000/run.parquet");
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 64] {
        *b ^= 0x5A;
    }
    std::fs::write(&file, &bytes).unwrap();
    let mut refused = 0;
    for p in ["0", "1"] {
        let out = run(&["reduce", s(&run_dir), "--partition", p]);
        if !out.status.success() {
            refused += 1;
            assert_eq!(out.status.code(), Some(2), "an error, not a panic");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("unit-000000/run.parquet"), "names the file: {err}");
        }
    }
    assert!(refused >= 1, "the damaged partition was refused");
    assert_eq!(run_ok(&["reduce", s(&run_dir), "--list-pending"]).lines().count(), refused);
    // the cure the message gives: delete the unit, map it again
    std::fs::remove_dir_all(run_dir.join("units/unit-000000")).unwrap();
    run_ok(&["map", s(&run_dir), "--all"]);
    run_ok(&["reduce", s(&run_dir), "--all"]);
    let expected = single(dir.path(), &sample(), &[CL], &["--no-props"]);
    assert_eq!(sharded_exports(dir.path(), &run_dir, &[CL]), expected);
}

#[test]
fn steps_refuse_another_build_a_changed_input_and_a_different_plan() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.parquet");
    std::fs::copy(sample(), &input).unwrap();
    let run_dir = dir.path().join("run");
    plan(&run_dir, &input, &[OME], "2", "1000", &[]);
    // the same plan again: fine (idempotent); a different one into the same folder: refused
    plan(&run_dir, &input, &[OME], "2", "1000", &[]);
    let other = run(&["plan", "--out", s(&run_dir), "--input", s(&input), "--partitions", "3", "--rule", OME]);
    assert_eq!(other.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&other.stderr).contains("already holds a different plan"));
    // out of range
    let out = run(&["map", s(&run_dir), "--unit", "9"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unit 9 is not in the plan (0..3)"));
    // a plan made by another RDKit build
    let plan_file = run_dir.join("plan.json");
    let text = std::fs::read_to_string(&plan_file).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["build"]["rdkit"] = "1999.01.1".into();
    std::fs::write(&plan_file, serde_json::to_string(&v).unwrap()).unwrap();
    let out = run(&["map", s(&run_dir), "--unit", "0"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("made by another build") && err.contains("RDKit 1999.01.1"), "{err}");
    std::fs::write(&plan_file, &text).unwrap();
    // the input changed after the plan
    let other_input = dir.path().join("other.parquet");
    crate::common::write_smiles_parquet(&other_input, &[Some("Oc1ccccc1")]);
    std::fs::copy(&other_input, &input).unwrap();
    let out = run(&["map", s(&run_dir), "--unit", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("changed since the plan"));
    // a job: input cannot be partitioned
    let out =
        run(&["plan", "--out", s(&dir.path().join("r2")), "--input", "job:x/y", "--partitions", "2", "--rule", OME]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be partitioned"));
}

#[test]
fn a_partitioned_campaign_equals_xfstore_run_job_for_job() {
    // a campaign whose steps read files (the FG rules in scope on existing sets): each stream
    // is its own partitioned run; every job's shard export equals `xfstore run`'s export
    let dir = tempfile::tempdir().unwrap();
    let data = crate::common::root().join("tests/data/campaign");
    let campaign = dir.path().join("c.yaml");
    std::fs::write(
        &campaign,
        format!(
            "inputs:\n  - {{name: poly, path: {}, class: polyphenol}}\n  - {{name: terp, path: {}, class: terpenoid, \
             id_column: id, carry: [name]}}\nsteps:\n  - {{name: x1, from: [poly, terp], rules: [{CL}]}}\n  - {{name: \
             fg, from: [poly, terp], rules: in_scope}}\n",
            data.join("polyphenols.smi").display(),
            data.join("terpenoids.csv").display()
        ),
    )
    .unwrap();
    let single = dir.path().join("single");
    run_ok(&["run", s(&campaign), "--store", s(&single)]);
    let run_dir = dir.path().join("run");
    let planned = run_ok(&["plan", s(&campaign), "--out", s(&run_dir), "--partitions", "3", "--unit-rows", "7"]);
    assert!(planned.contains("as 4 partitioned runs"), "{planned}");
    let pending = run_ok(&["map", s(&run_dir), "--list-pending"]);
    assert_eq!(pending.lines().count(), 2 + 3 + 2 + 3, "{pending}");
    run_ok(&["map", s(&run_dir), "--all"]);
    run_ok(&["reduce", s(&run_dir), "--all"]);
    assert_eq!(run_ok(&["reduce", s(&run_dir), "--list-pending"]), "");
    let st: Vec<serde_json::Value> = run_ok(&["status", "--store", s(&run_dir), "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(st.len(), 4);
    let mut compared = 0;
    for (stream, run) in ["x1.poly", "x1.terp", "fg.poly", "fg.terp"].iter().zip(&st) {
        assert_eq!(run["complete"], true);
        for job in run["jobs"].as_array().unwrap() {
            let (id, rule) = (job["job"].as_str().unwrap(), job["rule"].as_str().unwrap());
            let a = dir.path().join(format!("a-{compared}.parquet"));
            run_ok(&["export", "--store", s(&single), "--job", id, "--output", s(&a)]);
            let b = dir.path().join(format!("b-{compared}"));
            run_ok(&["export", "--store", s(&run_dir.join("streams").join(stream)), "--rule", rule, "--output", s(&b)]);
            assert_eq!(rows(&parts(&b)), rows(&[a]), "{id}");
            compared += 1;
        }
    }
    assert_eq!(compared, 2 + 19 + 19);
}

#[test]
fn a_partitioned_campaign_with_chained_steps_equals_xfstore_run_job_for_job() {
    // configs/campaign.example.yaml: parents -> x1 -> x2 -> fg on x1 and on x2 (8 streams, 92
    // jobs); a chained step is planned once its upstream is reduced, its rows read from the
    // upstream's shards in global key order: every job's export equals `xfstore run`'s
    let dir = tempfile::tempdir().unwrap();
    let campaign = crate::common::root().join("configs/campaign.example.yaml");
    let single = dir.path().join("single");
    run_ok(&["run", s(&campaign), "--store", s(&single)]);
    let run_dir = dir.path().join("run");
    let planned = run_ok(&["plan", s(&campaign), "--out", s(&run_dir), "--partitions", "3", "--unit-rows", "40"]);
    assert!(planned.contains("as 2 partitioned runs") && planned.contains("6 waiting"), "{planned}");
    // a chained step cannot start before its upstream is reduced
    assert!(run_ok(&["status", "--store", s(&run_dir)]).contains("not planned yet"));
    let mut stages = 0;
    loop {
        run_ok(&["map", s(&run_dir), "--all"]);
        run_ok(&["reduce", s(&run_dir), "--all"]);
        stages += 1;
        if !run_ok(&["status", "--store", s(&run_dir)]).contains("not planned yet") {
            break;
        }
        assert!(stages < 5, "the campaign does not converge");
        run_ok(&["plan", "--resume", "--out", s(&run_dir)]);
    }
    assert_eq!(stages, 3, "inputs, then x2 and fg on x1, then fg on x2");
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("campaign.json")).unwrap()).unwrap();
    let mut compared = 0;
    for stream in plan["streams"].as_array().unwrap() {
        let stream_dir = run_dir.join("streams").join(stream.as_str().unwrap());
        let st: serde_json::Value =
            serde_json::from_str(&run_ok(&["status", "--store", s(&stream_dir), "--json"])).unwrap();
        for job in st["jobs"].as_array().unwrap() {
            let (id, rule) = (job["job"].as_str().unwrap(), job["rule"].as_str().unwrap());
            let a = dir.path().join(format!("a-{compared}.parquet"));
            run_ok(&["export", "--store", s(&single), "--job", id, "--output", s(&a)]);
            let b = dir.path().join(format!("b-{compared}"));
            run_ok(&["export", "--store", s(&stream_dir), "--rule", rule, "--output", s(&b)]);
            assert_eq!(rows(&parts(&b)), rows(&[a]), "{id}");
            compared += 1;
        }
    }
    assert_eq!(compared, 92);
}
