//! Campaigns with the real binary on the bundled campaign sample (configs/campaign.example.yaml):
//! validation reports every problem and touches nothing; the campaign gives, job for job, the
//! products of the same steps done by hand with single-job ingest and export; killed at random
//! moments and finished, it exports byte-identical files to an uninterrupted run.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::*;

fn example() -> String {
    root().join("configs/campaign.example.yaml").to_str().unwrap().to_owned()
}

/// `export --campaign` of `store` into `out`: every file's bytes by path inside `out` (the
/// Hive partition folders included).
fn export_files(store: &str, campaign: &str, out: &Path) -> BTreeMap<String, Vec<u8>> {
    run_ok(&["export", "--store", store, "--campaign", campaign, "--output", out.to_str().unwrap()]);
    let mut files = BTreeMap::new();
    let mut todo = vec![out.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                todo.push(e.path());
            } else {
                let name = e.path().strip_prefix(out).unwrap().to_str().unwrap().to_owned();
                files.insert(name, std::fs::read(e.path()).unwrap());
            }
        }
    }
    files
}

/// The file of `job` in the campaign export `out`, as its index names it.
fn export_file_of(out: &Path, job: &str) -> std::path::PathBuf {
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("index.json")).unwrap()).unwrap();
    let entry = index["jobs"].as_array().unwrap().iter().find(|j| j["job"] == job).expect(job).clone();
    out.join(entry["file"].as_str().unwrap())
}

/// Two exports of a campaign hold the same files, byte for byte (`what` says against what).
fn same_files(got: &BTreeMap<String, Vec<u8>>, expected: &BTreeMap<String, Vec<u8>>, what: &str) {
    assert_eq!(got.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
    for (name, bytes) in expected {
        assert!(got[name] == *bytes, "{name} differs {what}");
    }
}

/// What `status --campaign --json` says the next run does, by job: the action's JSON.
fn next_run(store: &str, campaign: &str, extra: &[&str]) -> BTreeMap<String, serde_json::Value> {
    let mut args = vec!["status", "--campaign", campaign, "--store", store, "--json"];
    args.extend(extra);
    let doc: serde_json::Value = serde_json::from_str(&run_ok(&args)).unwrap();
    let mut jobs = BTreeMap::new();
    for s in doc["next_run"].as_array().expect("next_run") {
        for j in s["jobs"].as_array().unwrap() {
            jobs.insert(j["job"].as_str().unwrap().to_owned(), j.clone());
        }
    }
    jobs
}

/// #30 item 4: the run did what `next` said: a job said `done` has the very record it had
/// (`before`), every other job a new or changed one.
fn did_as_said(next: &BTreeMap<String, serde_json::Value>, before: &serde_json::Value, after: &serde_json::Value) {
    let record =
        |s: &serde_json::Value, id: &str| s["jobs"].as_array().unwrap().iter().find(|j| j["id"] == id).cloned();
    for (id, n) in next {
        let (was, now) = (record(before, id), record(after, id));
        assert!(now.is_some(), "{id} was not made");
        if n["action"] == "done" {
            assert_eq!(was, now, "{id}: said done, but the run touched it");
        } else {
            assert_ne!(was, now, "{id}: said {n}, but the run left it as it was");
        }
    }
}

#[test]
fn validation_reports_every_problem_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.smi"), "Oc1ccccc1 A\n").unwrap();
    let yaml = r#"
inputs:
  - {name: a, path: a.smi, class: polyphenol}
  - {name: b, path: missing.parquet, class: flavour}
steps:
  - {name: s1, from: [a, s2], rules: [NO_SUCH_RULE]}
  - {name: s2, from: [s1], rules: in_scope}
  - {name: s3, from: [nowhere], rules: [HALO_AROMATIC_CH__H__TO__Cl]}
"#;
    let f = d.join("bad.yaml");
    std::fs::write(&f, yaml).unwrap();
    let store = d.join("store");
    let out = run(&["run", f.to_str().unwrap(), "--store", store.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for needle in [
        "5 problem(s)",
        "missing.parquet does not exist",
        "unknown class \"flavour\"",
        "NO_SUCH_RULE",
        "cycle",
        "\"nowhere\"",
    ] {
        assert!(err.contains(needle), "{needle:?} not in: {err}");
    }
    assert!(!store.exists(), "an invalid campaign must not create the store");
    // unknown fields are errors too (a typo is not silently ignored)
    std::fs::write(&f, "inputs: []\nsteps: []\nstpes: []\n").unwrap();
    let err = String::from_utf8_lossy(&run(&["run", f.to_str().unwrap(), "--store", store.to_str().unwrap()]).stderr)
        .into_owned();
    assert!(err.contains("stpes"), "{err}");
    // --check validates and prints the plan without running
    let plan = run_ok(&["run", &example(), "--check", "--store", store.to_str().unwrap()]);
    assert!(plan.contains("8 stream(s), 92 job(s)") && plan.contains("fg.x2.x1.poly [polyphenol]"), "{plan}");
    assert!(!store.exists());
}

/// Every job's export (CSV) of a campaign export folder: file name -> rows keyed by SMILES.
fn read_csv_rows(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().skip(1).map(|l| (l.split(',').next().unwrap().to_owned(), l.to_owned())).collect()
}

/// Per product of the CSV exports `files` (the first holding it), its source row: as exported,
/// or mapped through `roots` by its parent (the row of the original molecule).
fn root_rows(files: &[String], roots: Option<&BTreeMap<String, String>>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for f in files {
        for line in read_csv_rows(Path::new(f)).into_values() {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(fields.len(), 15, "a field with a comma: {line}");
            let row = roots.map_or(fields[6].to_owned(), |r| r[fields[5]].clone());
            out.entry(fields[0].to_owned()).or_insert(row);
        }
    }
    out
}

const BY_HAND: &str = r#"
import csv, sys
# the union of some CSV exports, deduplicated, in key (byte) order; the first export holding a
# key gives its id: what a campaign step reads from its upstream jobs
out, files = sys.argv[1], sys.argv[2:]
first = {}
for f in files:
    with open(f, newline="") as fh:
        for r in csv.DictReader(fh):
            first.setdefault(r["smiles"], r["source_id"])
with open(out, "w") as fh:
    for k in sorted(first, key=lambda s: s.encode()):
        fh.write(f"{k} {first[k]}\n" if first[k] else f"{k}\n")
"#;

#[test]
#[ignore = "needs the Python oracle venv (tools/setup.sh)"]
fn a_campaign_gives_the_products_of_the_same_steps_done_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cstore = d.join("campaign").to_str().unwrap().to_owned();
    run_ok(&["run", &example(), "--store", &cstore]);
    let cout = d.join("cexport");
    run_ok(&[
        "export",
        "--store",
        &cstore,
        "--campaign",
        &example(),
        "--output",
        cout.to_str().unwrap(),
        "--format",
        "csv",
    ]);
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cout.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["jobs"].as_array().unwrap().len(), 92);

    // by hand, the polyphenol lineage: ingest, export, union, ingest again
    let hstore = d.join("hand").to_str().unwrap().to_owned();
    let halo = ["F", "Cl", "Br", "I"].map(|x| format!("HALO_AROMATIC_CH__H__TO__{x}"));
    let rules_out = run_ok(&["run", &example(), "--check"]);
    let fg: Vec<String> = {
        // the 19 rules in scope for polyphenol, as the campaign selected them
        let idx = index["jobs"].as_array().unwrap();
        idx.iter().filter(|j| j["stream"] == "fg.x1.poly").map(|j| j["rule"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(fg.len(), 19, "{rules_out}");
    let ingest = |input: &str, name: &str, rules: &[String]| {
        let mut a = vec!["ingest", "--store", &hstore, "--input", input, "--name", name];
        for r in rules {
            a.extend(["--rule", r.as_str()]);
        }
        run_ok(&a);
        rules
            .iter()
            .map(|r| {
                let out = d.join(format!("hand-{name}__{r}.csv"));
                run_ok(&[
                    "export",
                    "--store",
                    &hstore,
                    "--job",
                    &format!("{name}/{r}"),
                    "--output",
                    out.to_str().unwrap(),
                ]);
                out.to_str().unwrap().to_owned()
            })
            .collect::<Vec<_>>()
    };
    let union = |files: &[String], name: &str| {
        let out = d.join(format!("{name}.smi")).to_str().unwrap().to_owned();
        let mut args = vec![out.as_str()];
        args.extend(files.iter().map(String::as_str));
        python_ok(BY_HAND, &args);
        out
    };
    let poly = root().join("tests/data/campaign/polyphenols.smi").to_str().unwrap().to_owned();
    let x1 = ingest(&poly, "x1.poly", &halo);
    let x1u = union(&x1, "u1");
    let x2 = ingest(&x1u, "x2.x1.poly", &halo);
    let fg1 = ingest(&x1u, "fg.x1.poly", &fg);
    let x2u = union(&x2, "u2");
    let fg2 = ingest(&x2u, "fg.x2.x1.poly", &fg);

    // the exports' rows, job for job: products, occurrences, parents, ids, rows, sites, properties.
    // A chained step's source_row is the original molecule's row (#30), where the union file
    // numbers its own rows: the hand rows are mapped through the upstream exports.
    let r1 = root_rows(&x1, None);
    let r2 = root_rows(&x2, Some(&r1));
    let mut compared = 0;
    let jobs = x1.iter().map(|f| (f, None)).chain(x2.iter().chain(&fg1).map(|f| (f, Some(&r1))));
    for (f, roots) in jobs.chain(fg2.iter().map(|f| (f, Some(&r2)))) {
        let name = Path::new(f).file_name().unwrap().to_str().unwrap().strip_prefix("hand-").unwrap();
        let mut hand = read_csv_rows(Path::new(f));
        if let Some(roots) = roots {
            for line in hand.values_mut() {
                let mut fields: Vec<String> = line.split(',').map(str::to_owned).collect();
                fields[6] = roots[&fields[5]].clone();
                *line = fields.join(",");
            }
        }
        let camp = read_csv_rows(&cout.join(name));
        assert_eq!(hand, camp, "{name}: the campaign differs from the steps done by hand");
        compared += hand.len();
    }
    assert!(compared > 10_000, "only {compared} products compared");
}

#[test]
fn a_campaign_killed_at_random_moments_finishes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let campaign = example();
    let export = |store: &str, tag: &str| export_files(store, &campaign, &d.join(tag));
    let clean = d.join("clean").to_str().unwrap().to_owned();
    run_ok(&["run", &example(), "--store", &clean, "--no-props"]);
    let expected = export(&clean, "clean-export");
    assert_eq!(expected.len(), 93, "92 job files and the index");

    let killed = d.join("killed").to_str().unwrap().to_owned();
    let mut seed: u64 = std::env::var("XFSTORE_CRASH_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed_cafe);
    let mut kills = 0;
    for _ in 0..12 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let wait = Duration::from_millis(150 + seed % 1200); // the whole run takes ~7 s here
        let mut child = Command::new(env!("CARGO_BIN_EXE_xfstore"))
            .args(["run", &example(), "--store", &killed, "--no-props", "--batch-rows", "16"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(wait);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
    }
    assert!(kills >= 10, "only {kills} runs were killed mid-way");
    // a partial campaign: status lists every job with a time estimate; export refuses
    let st = run_ok(&["status", "--store", &killed, "--campaign", &example()]);
    assert!(st.contains("expected time left"), "{st}");
    assert_eq!(
        st.lines().filter(|l| l.starts_with("x1.") || l.starts_with("x2.") || l.starts_with("fg.")).count(),
        92,
        "{st}"
    );
    let out =
        run(&["export", "--store", &killed, "--campaign", &example(), "--output", d.join("partial").to_str().unwrap()]);
    if !st.contains("92 of 92") {
        assert!(String::from_utf8_lossy(&out.stderr).contains("not complete"));
    }
    // a killed job is said to resume from its committed offset, and the run does as said
    let next = next_run(&killed, &campaign, &[]);
    let before = status_json(&killed);
    for job in before["jobs"].as_array().unwrap() {
        if job["state"] == "partial" {
            let n = &next[job["id"].as_str().unwrap()];
            assert!(n["action"] == "resume" && n["from"] == job["offset"] || n["action"] == "redo", "{job}: {n}");
        }
    }
    run_ok(&["run", &example(), "--store", &killed, "--no-props"]);
    did_as_said(&next, &before, &status_json(&killed));
    let got = export(&killed, "killed-export");
    same_files(&got, &expected, &format!("after {kills} kills"));
    // run again: nothing to do
    let again = run_ok(&["run", &example(), "--store", &killed, "--no-props"]);
    assert!(again.lines().filter(|l| l.contains(" done ")).count() == 8, "{again}");
}

/// #28: a step that matches nothing in one input (aliphatic molecules through aromatic
/// halogenation) makes an upstream job with no products. It is a complete job: the step reading
/// it has no rows and completes at once, the other input's streams run, a rerun is a no-op and
/// the export has the empty job's file (0 rows); a partitioned run of the same campaign ends the
/// same way. Before, `run` failed with "job:... contains no rows" on every rerun.
#[test]
fn an_upstream_job_with_no_products_is_complete_and_the_campaign_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("al.smi"), "CCO a1\nCCCC a2\n").unwrap();
    std::fs::write(d.join("poly.smi"), "Oc1ccccc1 p1\nOc1ccc(O)cc1 p2\n").unwrap();
    let yaml =
        "inputs:\n  - {name: al, path: al.smi, class: other}\n  - {name: poly, path: poly.smi, class: polyphenol}\n\
                steps:\n  - {name: x1, from: [al, poly], rules: [HALO_AROMATIC_CH__H__TO__F]}\n  \
                - {name: fg, from: [x1], rules: [FG_PHENOL_OH__OH__TO__OMe]}\n";
    let campaign = d.join("c.yaml");
    std::fs::write(&campaign, yaml).unwrap();
    let (c, store) = (campaign.to_str().unwrap(), d.join("s"));
    let store = store.to_str().unwrap();
    run_ok(&["run", c, "--store", store]);
    let status: serde_json::Value =
        serde_json::from_str(&run_ok(&["status", "--campaign", c, "--store", store, "--json"])).unwrap();
    let jobs: BTreeMap<String, (String, u64)> = status["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["job"].as_str().unwrap().to_owned(),
                (j["state"].as_str().unwrap().to_owned(), j["products"].as_u64().unwrap()),
            )
        })
        .collect();
    let complete = |id: &str| jobs[id].0.as_str() == "complete";
    assert!(jobs.keys().all(|id| complete(id)), "{jobs:?}");
    assert_eq!(jobs["x1.al/HALO_AROMATIC_CH__H__TO__F"].1, 0);
    assert_eq!(jobs["fg.x1.al/FG_PHENOL_OH__OH__TO__OMe"].1, 0);
    assert!(jobs["fg.x1.poly/FG_PHENOL_OH__OH__TO__OMe"].1 > 0, "{jobs:?}");
    assert!(run_ok(&["run", c, "--store", store]).contains("4 job(s)"));
    let out = d.join("out");
    run_ok(&["export", "--campaign", c, "--store", store, "--output", out.to_str().unwrap()]);
    assert_eq!(read_export(&export_file_of(&out, "fg.x1.al/FG_PHENOL_OH__OH__TO__OMe")).len(), 0);
    let single = read_export(&export_file_of(&out, "fg.x1.poly/FG_PHENOL_OH__OH__TO__OMe"));
    assert!(!single.is_empty());
    // partitioned: the same campaign through the shell scheduler, stage by stage
    let run_dir = d.join("P");
    let ran = Command::new("bash")
        .arg(root().join("tools/partitioned_run.sh"))
        .args([run_dir.to_str().unwrap(), "-j", "2", "--", c, "--partitions", "2"])
        .env("XFSTORE", env!("CARGO_BIN_EXE_xfstore"))
        .output()
        .unwrap();
    assert!(ran.status.success(), "{}", String::from_utf8_lossy(&ran.stderr));
    let status = run_ok(&["status", "--store", run_dir.to_str().unwrap()]);
    assert_eq!(status.matches("(complete)").count(), 4, "{status}");
    assert!(status.contains("fg.x1.al/FG_PHENOL_OH__OH__TO__OMe: 0 inputs"), "{status}");
    let stream = run_dir.join("streams/fg.x1.poly");
    let part = d.join("part");
    run_ok(&[
        "export",
        "--store",
        stream.to_str().unwrap(),
        "--rule",
        "FG_PHENOL_OH__OH__TO__OMe",
        "--output",
        part.to_str().unwrap(),
    ]);
    // a partitioned stream exports one part per shard (disjoint keys)
    let mut parted = BTreeMap::new();
    for shard in std::fs::read_dir(&part).unwrap() {
        let shard = shard.unwrap().path();
        if shard.extension().is_some_and(|e| e == "parquet") {
            parted.extend(read_export(&shard));
        }
    }
    assert_eq!(parted, single, "partitioned and single-machine products differ");
}

#[test]
fn validation_opens_every_input_and_lists_every_problem_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("good.smi"), "Oc1ccccc1 p1\n").unwrap();
    std::fs::write(d.join("nosmiles.csv"), "structure,id\nOc1ccccc1,a\n").unwrap();
    std::fs::create_dir(d.join("noparts")).unwrap();
    std::fs::write(d.join("noparts/readme.txt"), "no Parquet here\n").unwrap();
    std::fs::write(d.join("empty.smi"), "").unwrap();
    let yaml = "inputs:\n  - {name: good, path: good.smi, class: polyphenol}\n  \
                - {name: csv, path: nosmiles.csv, class: polyphenol}\n  \
                - {name: folder, path: noparts, class: polyphenol}\n  \
                - {name: empty, path: empty.smi, class: polyphenol}\n\
                steps:\n  - {name: fg, from: [good, csv, folder, empty], rules: [FG_PHENOL_OH__OH__TO__OMe]}\n";
    let campaign = d.join("c.yaml");
    std::fs::write(&campaign, yaml).unwrap();
    let (c, store) = (campaign.to_str().unwrap(), d.join("s"));
    for args in [vec!["run", c, "--check"], vec!["run", c, "--store", store.to_str().unwrap()]] {
        let r = run(&args);
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {stderr}");
        for problem in ["nosmiles.csv has no column \"smiles\"", "noparts", "empty.smi"] {
            assert!(stderr.contains(problem), "{args:?}: {problem} not reported in {stderr}");
        }
        assert!(!store.exists(), "{args:?} wrote the store");
    }
}

/// #30 (first part): rows appended to a campaign's text input are run as new work, and the
/// chained streams reading a grown upstream are redone (their rows are numbered in the
/// upstream's key order, which new keys shift), while streams of the other input are left as
/// they are. The campaign then exports byte-identical files to a clean run on the final inputs.
#[test]
fn rows_appended_to_a_campaign_input_end_as_a_clean_run_of_the_final_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = root().join("tests/data/campaign");
    let poly = std::fs::read_to_string(data.join("polyphenols.smi")).unwrap();
    let lines: Vec<&str> = poly.split_inclusive('\n').collect();
    assert_eq!(lines.len(), 12);
    std::fs::copy(data.join("terpenoids.csv"), d.join("terpenoids.csv")).unwrap();
    let yaml = std::fs::read_to_string(example()).unwrap().replace("../tests/data/campaign/", "");
    let campaign = d.join("c.yaml");
    std::fs::write(&campaign, yaml).unwrap();
    let c = campaign.to_str().unwrap();
    let export = |store: &str, tag: &str| export_files(store, c, &d.join(tag));

    std::fs::write(d.join("polyphenols.smi"), lines[..9].concat()).unwrap();
    let grown = d.join("grown").to_str().unwrap().to_owned();
    run_ok(&["run", c, "--store", &grown, "--no-props"]);
    let before = export(&grown, "before");
    std::fs::write(d.join("polyphenols.smi"), poly.as_bytes()).unwrap(); // 3 rows appended
                                                                         // what the run will do, before it does it
    let check = run_ok(&["run", c, "--store", &grown, "--check"]);
    for line in [
        "x1.poly: 4 job(s) grow: 3 new row(s) (9 -> 12)",
        "x1.terp: 4 job(s) done",
        "x2.x1.poly: 4 job(s) grow: the upstream products new since its ",
        "fg.x2.x1.poly: 19 job(s) grow: the upstream products new since its ",
        "fg.x2.x1.terp: 19 job(s) done",
    ] {
        assert!(check.contains(line), "{line} not in {check}");
    }
    let next = next_run(&grown, c, &[]);
    assert_eq!(next.len(), 92);
    assert_eq!(next.values().filter(|n| n["action"] == "done").count(), 46, "the terpenoid streams");
    let status_before = status_json(&grown);
    let out = run(&["run", c, "--store", &grown, "--no-props"]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("resuming at row 9 of 12"), "{stderr}");
    // the chained streams read only the upstream products new since (#30): none is redone
    assert!(!stderr.contains("its upstream jobs changed"), "{stderr}");
    // the terpenoid streams were not touched
    assert_eq!(stdout.lines().filter(|l| l.contains(" done ")).count(), 4, "{stdout}");
    did_as_said(&next, &status_before, &status_json(&grown));
    assert!(next_run(&grown, c, &[]).values().all(|n| n["action"] == "done"));
    let after = export(&grown, "after");
    for (name, bytes) in &before {
        if name.contains("terp") {
            assert!(after[name] == *bytes, "{name} changed");
        }
    }

    let clean = d.join("clean").to_str().unwrap().to_owned();
    run_ok(&["run", c, "--store", &clean, "--no-props"]);
    let expected = export(&clean, "clean-export");
    same_files(&after, &expected, "from a clean run");
}

/// #30: a rule added to a step is computed for its own job (the complete jobs of the stream are
/// not transformed again), the chained streams made from that step are redone, and the
/// campaign exports byte-identical files to a clean run of the final campaign file.
#[test]
fn a_rule_added_to_a_step_ends_as_a_clean_run_of_the_final_campaign() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let full = std::fs::read_to_string(example())
        .unwrap()
        .replace("../tests/data/", &format!("{}/", root().join("tests/data").display()));
    let x1 = "{name: x1, from: [poly, terp], rules: [HALO_AROMATIC_CH__H__TO__F, HALO_AROMATIC_CH__H__TO__Cl, HALO_AROMATIC_CH__H__TO__Br, HALO_AROMATIC_CH__H__TO__I]}";
    assert!(full.contains(x1));
    let fewer = full.replace(x1, &x1.replace(", HALO_AROMATIC_CH__H__TO__I", ""));
    let campaign = d.join("c.yaml");
    let c = campaign.to_str().unwrap();
    std::fs::write(&campaign, fewer).unwrap();
    let grown = d.join("grown").to_str().unwrap().to_owned();
    run_ok(&["run", c, "--store", &grown, "--no-props"]);
    std::fs::write(&campaign, &full).unwrap();
    let out = run(&["run", c, "--store", &grown, "--no-props"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // the chained streams read the new job's products only (#30): none is redone
    assert!(!stderr.contains("its upstream jobs changed"), "{stderr}");
    assert!(stderr.contains("upstream product(s) new since"), "{stderr}");
    let export = |store: &str, tag: &str| export_files(store, c, &d.join(tag));
    let clean = d.join("clean").to_str().unwrap().to_owned();
    run_ok(&["run", c, "--store", &clean, "--no-props"]);
    let (got, expected) = (export(&grown, "grown-export"), export(&clean, "clean-export"));
    same_files(&got, &expected, "from a clean run");
}

/// An input added to a campaign is new streams only: the streams of the inputs already run are
/// left as they are (not one job of theirs is redone), and the store ends as a clean run of
/// the final campaign, export for export.
#[test]
fn an_input_added_to_a_campaign_runs_only_its_streams_and_ends_as_a_clean_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let full = std::fs::read_to_string(example())
        .unwrap()
        .replace("../tests/data/", &format!("{}/", root().join("tests/data").display()));
    let terp = full.lines().find(|l| l.contains("{name: terp")).unwrap().to_owned();
    let without = full.replace(&format!("{terp}\n"), "").replace("from: [poly, terp]", "from: [poly]");
    assert_ne!(without, full);
    let campaign = d.join("c.yaml");
    let c = campaign.to_str().unwrap();
    std::fs::write(&campaign, without).unwrap();
    let grown = d.join("grown").to_str().unwrap().to_owned();
    run_ok(&["run", c, "--store", &grown, "--no-props"]);
    let before = status_json(&grown);
    std::fs::write(&campaign, &full).unwrap();
    let out = run(&["run", c, "--store", &grown, "--no-props"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // every job of the first run is untouched: same record, same last update
    let after = status_json(&grown);
    for job in before["jobs"].as_array().unwrap() {
        let same = after["jobs"].as_array().unwrap().iter().find(|j| j["id"] == job["id"]).unwrap();
        assert_eq!(same, job, "{} was redone", job["id"]);
    }
    assert!(after["jobs"].as_array().unwrap().len() > before["jobs"].as_array().unwrap().len());
    let clean = d.join("clean").to_str().unwrap().to_owned();
    run_ok(&["run", c, "--store", &clean, "--no-props"]);
    let (got, expected) = (export_files(&grown, c, &d.join("g")), export_files(&clean, c, &d.join("e")));
    same_files(&got, &expected, "from a clean run");
}

/// A rule changed in the rule file (not growth) is never a silently stale campaign: `run`
/// stops naming the job and what changed (the campaign looked complete before, and was
/// skipped); `run --redo-changed` redoes exactly the jobs of that rule (every other job's
/// status record unchanged) and ends as a clean run with the new rule file.
#[test]
fn a_changed_rule_is_named_and_redone_exactly_with_redo_changed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let campaign = d.join("c.yaml");
    let full = std::fs::read_to_string(example())
        .unwrap()
        .replace("../tests/data/", &format!("{}/", root().join("tests/data").display()));
    std::fs::write(&campaign, full).unwrap();
    let rules_file = d.join("rules.yaml");
    let rules = std::fs::read_to_string(root().join("configs/transforms.yaml")).unwrap();
    std::fs::write(&rules_file, &rules).unwrap();
    let (c, r) = (campaign.to_str().unwrap(), rules_file.to_str().unwrap());
    let grown = d.join("grown").to_str().unwrap().to_owned();
    run_ok(&["run", c, "--store", &grown, "--no-props", "--rules-file", r]);
    let before = status_json(&grown);
    let ome = "smirks: \"[c:1][OX2H:2]>>[c:1][O:2]C\"";
    assert!(rules.contains(ome));
    std::fs::write(&rules_file, rules.replacen(ome, "smirks: \"[c:1][OX2H:2]>>[c:1][O:2]CC\"", 1)).unwrap();
    let check = run_ok(&["run", c, "--store", &grown, "--rules-file", r, "--check"]);
    assert!(check.contains("fg.x1.poly: 1 job(s) CHANGED: the rule definition"), "{check}");
    let check = run_ok(&["run", c, "--store", &grown, "--rules-file", r, "--check", "--redo-changed"]);
    assert!(check.contains("1 job(s) redo from row 0: the rule definition changed"), "{check}");
    let next = next_run(&grown, c, &["--rules-file", r]);
    let changed: Vec<&String> = next.iter().filter(|(_, n)| n["action"] == "changed").map(|(id, _)| id).collect();
    assert!(changed.iter().all(|id| id.ends_with("/FG_PHENOL_OH__OH__TO__OMe")) && changed.len() >= 2, "{changed:?}");
    let refused = run(&["run", c, "--store", &grown, "--no-props", "--rules-file", r]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{err}");
    assert!(err.contains("FG_PHENOL_OH__OH__TO__OMe: the rule definition changed") && err.contains("--redo-changed"));
    let redo = run(&["run", c, "--store", &grown, "--no-props", "--rules-file", r, "--redo-changed"]);
    let err = String::from_utf8_lossy(&redo.stderr);
    assert!(redo.status.success(), "{err}");
    let after = status_json(&grown);
    let (mut redone, mut kept) = (0, 0);
    for job in before["jobs"].as_array().unwrap() {
        let now = after["jobs"].as_array().unwrap().iter().find(|j| j["id"] == job["id"]).unwrap();
        if job["id"].as_str().unwrap().ends_with("/FG_PHENOL_OH__OH__TO__OMe") {
            assert_ne!(now["rule"], job["rule"]);
            assert!(err.contains(&format!("job {}: the rule definition changed", job["id"].as_str().unwrap())));
            redone += 1;
        } else {
            assert_eq!(now, job, "{} was redone", job["id"]);
            kept += 1;
        }
    }
    assert!(redone >= 2 && kept > redone, "{redone} redone, {kept} kept");
    let clean = d.join("clean").to_str().unwrap().to_owned();
    run_ok(&["run", c, "--store", &clean, "--no-props", "--rules-file", r]);
    let (got, expected) = (export_files(&grown, c, &d.join("g")), export_files(&clean, c, &d.join("e")));
    same_files(&got, &expected, "from a clean run");
}

/// #30: a rule added to a class level and a class switched on in the class configuration are
/// only new work: `run --check` says so (new jobs for the new rule and class, the chained
/// stream over the grown step redone, the rest done), the run does as it said, and the
/// campaign exports byte-identical files to a clean run of the final configuration.
#[test]
fn a_class_switched_on_and_a_rule_added_to_a_level_are_only_new_work() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = root().join("tests/data/campaign");
    let classes = std::fs::read_to_string(root().join("configs/halogenation.yaml")).unwrap();
    let cooh = "          - {rule: \"COOH__TO__C{X}\", cap: 3}\n";
    // the first COOH entry of the file is polyphenol's k1 level
    let at = classes.find(cooh).unwrap();
    assert!(classes.find("  polyphenol:").unwrap() < at && at < classes.find("      k2:").unwrap());
    let (start, end) = (classes.find("  terpenoid:\n").unwrap(), classes.find("  alkaloid:").unwrap());
    // before: polyphenol k1 without the COOH rules, terpenoid off
    let before = format!("{}  terpenoid: off\n{}", &classes[..start], &classes[end..]).replacen(cooh, "", 1);
    assert_ne!(before, classes);
    let campaign = |classes_file: &str| {
        format!(
            "classes_file: {classes_file}\ninputs:\n  - {{name: poly, path: {}, class: polyphenol}}\n  \
             - {{name: terp, path: {}, class: terpenoid, id_column: id}}\nsteps:\n  \
             - {{name: k1, from: [poly, terp], rules: {{by_class: k1}}}}\n  \
             - {{name: k2, from: [k1], rules: {{by_class: k2}}}}\n",
            data.join("polyphenols.smi").display(),
            data.join("terpenoids.csv").display()
        )
    };
    let (classes_file, c) = (d.join("classes.yaml"), d.join("c.yaml"));
    std::fs::write(&c, campaign(classes_file.to_str().unwrap())).unwrap();
    let c = c.to_str().unwrap();
    std::fs::write(&classes_file, &before).unwrap();
    let grown = d.join("grown").to_str().unwrap().to_owned();
    run_ok(&["run", c, "--store", &grown, "--no-props"]);
    std::fs::write(&classes_file, &classes).unwrap();
    let check = run_ok(&["run", c, "--store", &grown, "--check"]);
    let next = next_run(&grown, c, &[]);
    let action = |id: &str| next[id]["action"].as_str().unwrap().to_owned();
    assert_eq!(action("k1.poly/COOH__TO__CCl"), "new", "{check}");
    assert_eq!(action("k1.poly/HALO_AROMATIC_CH__H__TO__Cl"), "done", "{check}");
    // the k2 stream reads the products of the new k1 job only (#30): it is not redone
    assert_eq!(action("k2.k1.poly/HALO_AROMATIC_CH__H__TO__Cl"), "grow_upstream", "{check}");
    assert!(
        next.keys().any(|id| id.starts_with("k1.terp/"))
            && next.iter().filter(|(id, _)| id.starts_with("k1.terp/")).all(|(_, n)| n["action"] == "new"),
        "{check}"
    );
    let status_before = status_json(&grown);
    run_ok(&["run", c, "--store", &grown, "--no-props"]);
    did_as_said(&next, &status_before, &status_json(&grown));
    let clean = d.join("clean").to_str().unwrap().to_owned();
    run_ok(&["run", c, "--store", &clean, "--no-props"]);
    let (got, expected) = (export_files(&grown, c, &d.join("g")), export_files(&clean, c, &d.join("e")));
    same_files(&got, &expected, "from a clean run");
}

/// #30 items 1, 2 and 5: chained steps grow from the upstream products new since they ran. The
/// appended molecules are chosen so that growth changes old results: 2-chlorophenol after
/// 4-fluorophenol gives x1 products the old row made too (2-Cl-4-F-phenol, now first supplied
/// by the F job, from the new row: the x2 products made from it take the new row's id and
/// source row), and x1 keys sorting before old ones that make old x2 products (their first
/// provenance moves to the smaller parent, and x3 follows). The incremental run, killed at
/// random moments and finished, reads only the new upstream keys and exports byte-identical
/// files to a clean run of the final input (every column: first provenance, ids, occurrences,
/// properties).
#[test]
fn chained_steps_grow_from_new_upstream_products_and_end_as_a_clean_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let poly = std::fs::read_to_string(root().join("tests/data/campaign/polyphenols.smi")).unwrap();
    let lines: Vec<&str> = poly.split_inclusive('\n').collect();
    let first = format!("{}Oc1ccc(F)cc1 m1\n", lines[..4].concat());
    let grown = format!("{first}Oc1ccccc1Cl m2\nOc1cccc(F)c1 m3\n{}", lines[4..].concat());
    let halo = "[HALO_AROMATIC_CH__H__TO__F, HALO_AROMATIC_CH__H__TO__Cl, HALO_AROMATIC_CH__H__TO__Br, HALO_AROMATIC_CH__H__TO__I]";
    let yaml = format!(
        "inputs:\n  - {{name: poly, path: poly.smi, class: polyphenol}}\nsteps:\n  - {{name: x1, from: [poly], rules: {halo}}}\n  - {{name: x2, from: [x1], rules: {halo}}}\n  - {{name: fg, from: [x1, x2], rules: [FG_PHENOL_OH__OH__TO__OMe, FG_PHENOL_OH__OH__TO__NH2]}}\n"
    );
    let campaign = d.join("c.yaml");
    std::fs::write(&campaign, yaml).unwrap();
    let c = campaign.to_str().unwrap();
    let export = |store: &str, tag: &str| export_files(store, c, &d.join(tag));

    std::fs::write(d.join("poly.smi"), &first).unwrap();
    let store = d.join("grown").to_str().unwrap().to_owned();
    run_ok(&["run", c, "--store", &store]);
    std::fs::write(d.join("poly.smi"), &grown).unwrap();
    let check = run_ok(&["run", c, "--store", &store, "--check"]);
    for line in [
        "x1.poly: 4 job(s) grow: 10 new row(s) (5 -> 15)",
        "x2.x1.poly: 4 job(s) grow: the upstream products new since",
    ] {
        assert!(check.contains(line), "{line} not in {check}");
    }
    let next = next_run(&store, c, &[]);
    let before = status_json(&store);
    let rows_before: BTreeMap<String, u64> = before["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| (j["id"].as_str().unwrap().to_owned(), j["input"]["rows"].as_u64().unwrap()))
        .collect();
    // kill waits scaled to an uninterrupted growth of a copy of the store on this machine
    let probe = d.join("probe");
    copy_dir(Path::new(&store), &probe);
    let t = std::time::Instant::now();
    run_ok(&["run", c, "--store", probe.to_str().unwrap(), "--batch-rows", "8"]);
    let took = t.elapsed().as_millis() as u64;
    let mut seed: u64 = std::env::var("XFSTORE_CRASH_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x6eed_cafe);
    let mut kills = 0;
    for _ in 0..8 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut child = Command::new(env!("CARGO_BIN_EXE_xfstore"))
            .args(["run", c, "--store", &store, "--batch-rows", "8"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // short waits (5-25% of the growth): most runs are killed, each one a little further on
        std::thread::sleep(Duration::from_millis(took / 20 + seed % (took / 5).max(1)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
    }
    assert!(kills >= 3, "only {kills} runs were killed mid-way ({took} ms uninterrupted)");
    let out = run(&["run", c, "--store", &store]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("redoing"), "a chained stream was redone: {stderr}");
    let after = status_json(&store);
    if kills == 0 {
        did_as_said(&next, &before, &after);
    }
    // the chained jobs read the new upstream keys only: their `inputs` counter adds up to the
    // final rows, and no job was restarted (its `born` generation is the one it had)
    for job in after["jobs"].as_array().unwrap() {
        let id = job["id"].as_str().unwrap();
        assert_eq!(job["counters"]["inputs"], job["input"]["rows"], "{id}");
        assert!(job["input"]["rows"].as_u64().unwrap() > rows_before[id], "{id} did not grow");
    }
    let got = export(&store, "grown-export");

    let clean = d.join("clean").to_str().unwrap().to_owned();
    run_ok(&["run", c, "--store", &clean]);
    same_files(&got, &export(&clean, "clean-export"), &format!("grown, after {kills} kills, from a clean run"));
    // #32: the lineage index grows as it is rebuilt (every product's paths, every id's descendants)
    let ids: Vec<&str> = grown.lines().filter_map(|l| l.split_whitespace().nth(1)).collect();
    let paths = same_lineage(&store, &clean, &ids);
    assert!(paths > 1000, "{paths} paths");
}

/// Copies the folder `from` (a closed store) to `to`, recursively.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// #30 x #32: a campaign whose steps filter by properties (`keep:`) grows as it is rebuilt: the
/// growth of a filtered step drops what a clean run drops (counted as `filtered`), and the
/// chained step reads only the products kept. Exports (the Hive dataset) and every job's
/// counters equal a clean run of the final input.
#[test]
fn a_filtered_campaign_grows_to_a_clean_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let poly = std::fs::read_to_string(root().join("tests/data/campaign/polyphenols.smi")).unwrap();
    let lines: Vec<&str> = poly.split_inclusive('\n').collect();
    let halo = "[HALO_AROMATIC_CH__H__TO__F, HALO_AROMATIC_CH__H__TO__Cl, HALO_AROMATIC_CH__H__TO__Br, HALO_AROMATIC_CH__H__TO__I]";
    let yaml = format!(
        "inputs:\n  - {{name: poly, path: poly.smi, class: polyphenol}}\nsteps:\n  - {{name: x1, from: [poly], rules: {halo}, keep: \"MW <= 400 and cLogP <= 5\"}}\n  - {{name: x2, from: [x1], rules: {halo}, keep: \"not (cLogP > 4.5)\"}}\n"
    );
    let campaign = d.join("c.yaml");
    std::fs::write(&campaign, yaml).unwrap();
    let c = campaign.to_str().unwrap();
    std::fs::write(d.join("poly.smi"), format!("{}Oc1ccc(F)cc1 m1\n", lines[..6].concat())).unwrap();
    let store = d.join("grown").to_str().unwrap().to_owned();
    run_ok(&["run", c, "--store", &store]);
    std::fs::write(
        d.join("poly.smi"),
        format!("{}Oc1ccc(F)cc1 m1\nOc1ccccc1Cl m2\n{}", lines[..6].concat(), lines[6..].concat()),
    )
    .unwrap();
    let out = run(&["run", c, "--store", &store]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !stderr.contains("redoing"), "{stderr}");
    let clean = d.join("clean").to_str().unwrap().to_owned();
    run_ok(&["run", c, "--store", &clean]);
    same_files(&export_files(&store, c, &d.join("g")), &export_files(&clean, c, &d.join("e")), "from a clean run");
    let counters = |s: &str| -> BTreeMap<String, serde_json::Value> {
        let st = status_json(s);
        st["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| (j["id"].as_str().unwrap().to_owned(), j["counters"].clone()))
            .collect()
    };
    let (grown, rebuilt) = (counters(&store), counters(&clean));
    assert_eq!(grown, rebuilt, "counters differ from a clean run");
    let filtered: u64 = grown.values().map(|c| c["filtered"].as_u64().unwrap()).sum();
    let kept: u64 = grown.values().map(|c| c["unique_products"].as_u64().unwrap()).sum();
    assert!(filtered > 0 && kept > 0, "the filters keep some and drop some: {filtered} / {kept}");
}
