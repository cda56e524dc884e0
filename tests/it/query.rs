//! Query: single and batch lookups by any SMILES spelling, found / not found / unparsable,
//! order and ids preserved, parallel and sequential agree.

use crate::common::*;

#[test]
fn batch_queries_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(dir.path(), &[OME, COOME], &["--no-props"]);
    let s = store.as_str();

    // every exported product, in a non-canonical spelling where RDKit offers one, plus misses
    let export = dir.path().join("e.parquet");
    run_ok(&["export", "--store", s, "--rule", COOME, "--output", export.to_str().unwrap()]);
    let products: Vec<String> = read_export(&export).into_keys().collect();
    let mut file = String::from("# queries\n\nC1=CC=C(OC)C=C1 anisole\nCCCCCCCCCCCCCCCCCC miss\nC1CC( bad\n");
    for (i, p) in products.iter().enumerate() {
        file.push_str(&format!("{p}\tP{i}\n"));
    }
    let qfile = dir.path().join("q.smi");
    std::fs::write(&qfile, &file).unwrap();

    let parallel = run(&["query", "--store", s, "--json", "--file", qfile.to_str().unwrap()]);
    assert_eq!(parallel.status.code(), Some(1), "some queries are not found");
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&parallel.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3 + products.len());
    assert_eq!((lines[0]["status"].as_str(), lines[0]["id"].as_str()), (Some("found"), Some("anisole")));
    assert_eq!(lines[0]["hits"][0]["rule"], OME);
    assert_eq!((lines[1]["status"].as_str(), lines[1]["id"].as_str()), (Some("not_found"), Some("miss")));
    assert_eq!((lines[2]["status"].as_str(), lines[2]["id"].as_str()), (Some("invalid"), Some("bad")));
    for (i, l) in lines[3..].iter().enumerate() {
        assert_eq!(l["status"], "found", "{l}");
        assert_eq!(l["id"], format!("P{i}"), "order is preserved");
        assert_eq!(l["canonical"], products[i]);
    }

    let sequential =
        run(&["query", "--store", s, "--json", "--sequential", "--timing", "--file", qfile.to_str().unwrap()]);
    let same = sequential.stdout == parallel.stdout;
    assert!(same, "sequential and parallel outputs differ");
    let err = String::from_utf8_lossy(&sequential.stderr);
    assert!(err.contains("lookups/s") && err.contains("p99"), "{err}");

    // restricted to one rule: the anisole is not an ester product
    let only = run(&["query", "--store", s, "--rule", COOME, "C1=CC=C(OC)C=C1"]);
    assert_eq!(only.status.code(), Some(1));
    // stdin
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_xfstore"))
        .args(["query", "--store", s, "--file", "-", "--json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"COc1ccccc1\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"status\":\"found\""));
}

#[test]
fn products_of_a_parent_match_the_transform() {
    use std::collections::BTreeSet;
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(dir.path(), &[OME, COOME], &["--no-props"]);
    let s = store.as_str();
    let sample = sample();
    let rules = xfstore::RuleSet::builtin().unwrap();
    let chosen = [rules.get(OME).unwrap(), rules.get(COOME).unwrap()];
    let file = std::fs::File::open(&sample).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
    let mut parents = Vec::new();
    for b in reader {
        use arrow_array::cast::AsArray;
        let b = b.unwrap();
        parents.extend(b.column_by_name("smiles").unwrap().as_string::<i32>().iter().flatten().map(str::to_owned));
    }
    let (mut found, mut empty) = (0, 0);
    for parent in parents.iter().step_by(97) {
        let expected: BTreeSet<String> = xfstore::transform(Some(parent), &chosen, false)
            .unwrap()
            .into_iter()
            .flatten()
            .filter_map(|o| match o {
                xfstore::SiteOutcome::Product { smiles, .. } => Some(smiles),
                _ => None,
            })
            .collect();
        let out = run(&["query", "--store", s, "--json", "--parent", parent]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let got: BTreeSet<String> = v["hits"]
            .as_array()
            .map(|h| h.iter().map(|x| x["smiles"].as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        assert_eq!(got, expected, "parent {parent}");
        if expected.is_empty() {
            assert_eq!((out.status.code(), v["status"].as_str()), (Some(1), Some("not_found")));
            empty += 1;
        } else {
            found += 1;
        }
    }
    assert!(found >= 10 && empty >= 5, "the sample of parents covers both cases ({found}/{empty})");
}

/// The key index names the jobs a product key is in, and may name one that no longer holds it
/// (a job restarted on a changed input keeps its old entries until compaction, never read as
/// hits): a lookup confirms every entry in the job's products, so a product that is gone is not
/// found, and one the new input makes is.
#[test]
fn a_restarted_job_does_not_answer_for_products_it_no_longer_has() {
    let dir = tempfile::tempdir().unwrap();
    let (input, store) = (dir.path().join("in.smi"), dir.path().join("s"));
    let (input, store) = (input.to_str().unwrap(), store.to_str().unwrap());
    let ingest = |extra: &[&str]| {
        let mut args = vec!["ingest", "--store", store, "--input", input, "--rule", OME, "--no-props"];
        args.extend_from_slice(extra);
        run_ok(&args)
    };
    std::fs::write(input, "Oc1ccccc1 phenol\n").unwrap();
    ingest(&[]);
    assert!(run_ok(&["query", "--store", store, "COc1ccccc1"]).contains(OME));
    std::fs::write(input, "Cc1ccc(O)cc1 cresol\n").unwrap();
    ingest(&["--restart"]);
    let gone = run(&["query", "--store", store, "--json", "COc1ccccc1"]);
    assert_eq!(gone.status.code(), Some(1), "{}", String::from_utf8_lossy(&gone.stdout));
    assert!(String::from_utf8_lossy(&gone.stdout).contains("not_found"));
    assert!(run_ok(&["query", "--store", store, "COc1ccc(C)cc1"]).contains(OME));
}

/// A query spelled exactly as a stored key is answered from the key index without RDKit: the
/// answer (hits, records, canonical SMILES) must be the one canonicalizing gives. Every key of
/// the sample is a fixed point of RDKit's canonicalization (checked here with RDKit's Python
/// bindings), so the same answer must come for a re-spelling of the product (RDKit's random
/// SMILES, kept where it canonicalizes back to the key: RDKit's random spellings of some ring
/// double bonds change their stereo), which is canonicalized as before.
#[test]
fn a_query_spelled_as_its_key_answers_as_any_other_spelling() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(dir.path(), &[OME, COOME], &[]);
    let s = store.as_str();
    let export = dir.path().join("e.parquet");
    run_ok(&["export", "--store", s, "--rule", OME, "--output", export.to_str().unwrap()]);
    let products: Vec<String> = read_export(&export).into_keys().collect();
    let (all, keys, respelled) =
        (dir.path().join("all.smi"), dir.path().join("keys.smi"), dir.path().join("respelled.smi"));
    std::fs::write(&all, products.iter().map(|p| format!("{p}\n")).collect::<String>()).unwrap();
    let fixed_points = python_ok(
        "import sys\nfrom rdkit import Chem\nkeys, other = open(sys.argv[2], 'w'), open(sys.argv[3], 'w')\n\
         fixed = 0\nfor line in open(sys.argv[1]):\n    k = line.strip()\n    m = Chem.MolFromSmiles(k)\n    \
         fixed += Chem.MolToSmiles(m) == k\n    r = Chem.MolToSmiles(m, doRandom=True, canonical=False)\n    \
         if r != k and Chem.MolToSmiles(Chem.MolFromSmiles(r)) == k:\n        keys.write(k + '\\n'); other.write(r + '\\n')\n\
         print(fixed)\n",
        &[all.to_str().unwrap(), keys.to_str().unwrap(), respelled.to_str().unwrap()],
    );
    assert_eq!(fixed_points.trim(), products.len().to_string(), "keys that canonicalize to themselves");
    let answers = |file: &std::path::Path| -> Vec<serde_json::Value> {
        let out = run(&["query", "--store", s, "--json", "--file", file.to_str().unwrap()]);
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };
    let (by_key, by_other) = (answers(&keys), answers(&respelled));
    assert!(by_key.len() * 10 > products.len() * 9, "{} of {} re-spelled", by_key.len(), products.len());
    assert_eq!(by_key.len(), by_other.len());
    for (mut a, mut b) in by_key.into_iter().zip(by_other) {
        assert_eq!(a["status"], "found", "{a}");
        assert_ne!(a["query"], b["query"]);
        a["query"] = serde_json::Value::Null;
        b["query"] = serde_json::Value::Null;
        assert_eq!(a, b, "the same product, spelled as its key and otherwise");
    }
}
