//! Bad input gets a clear error before anything is written, or a counted rejection per row.

use crate::common::*;

fn stderr_of(args: &[&str]) -> (Option<i32>, String) {
    let out = run(args);
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn bad_rows_are_counted_by_reason_not_lost() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mixed.parquet");
    write_smiles_parquet(
        &input,
        &[
            Some("Oc1ccccc1"),      // phenol: 1 product
            Some("C1CC"),           // unclosed ring: parse error
            None,                   // null cell
            Some("c1cccc1"),        // cannot kekulize: sanitize error
            Some("C(C)(C)(C)(C)C"), // pentavalent carbon: sanitize error
            Some("CCCC"),           // no site
            Some("Oc1ccc(O)cc1"),   // hydroquinone: 2 sites, same product
            Some("c1ccccc1O"),      // phenol again, other spelling
        ],
    );
    let store = dir.path().join("s");
    let rejects = dir.path().join("reports/rejects.tsv");
    let out = run_ok(&[
        "ingest",
        "--store",
        store.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--rule",
        OME,
        "--id-column",
        "id",
        "--rejects",
        rejects.to_str().unwrap(),
    ]);
    let tsv = std::fs::read_to_string(&rejects).unwrap();
    let lines: Vec<&str> = tsv.lines().collect();
    assert_eq!(lines[0], "row\tid\tsmiles\treason\tdetail");
    assert!(lines[1].starts_with("1\tT1\tC1CC\tparse_error\t"), "{tsv}");
    assert!(lines[2].starts_with("2\tT2\t\tnull_smiles\t"), "{tsv}");
    assert!(lines[3].starts_with("3\tT3\tc1cccc1\tsanitize_error\t") && lines[3].contains("kekulize"), "{tsv}");
    assert!(lines[4].starts_with("4\tT4\tC(C)(C)(C)(C)C\tsanitize_error\t") && lines[4].contains("valence"), "{tsv}");
    assert_eq!(lines.len(), 5, "{tsv}");
    assert!(out.contains("8 inputs, 4 failed [null_smiles 1, parse_error 1, sanitize_error 2], 1 without site, 4 products (0 unsanitizable), 2 unique"), "{out}");
    let export = dir.path().join("e.parquet");
    run_ok(&["export", "--store", store.to_str().unwrap(), "--rule", OME, "--output", export.to_str().unwrap()]);
    let rows = read_export(&export);
    assert_eq!(rows.get("COc1ccccc1"), Some(&2));
    assert_eq!(rows.get("COc1ccc(O)cc1"), Some(&2));
}

#[test]
fn unusable_inputs_fail_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    let s = store.to_str().unwrap();
    let bytes = std::fs::read(sample()).unwrap();

    let truncated = dir.path().join("truncated.parquet");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let (code, err) = stderr_of(&["ingest", "--store", s, "--input", truncated.to_str().unwrap(), "--rule", OME]);
    assert_eq!(code, Some(2));
    assert!(err.contains("not a readable Parquet file"), "{err}");

    let text = dir.path().join("not.parquet");
    std::fs::write(&text, "smiles\nCCO\n").unwrap();
    let (code, err) = stderr_of(&["ingest", "--store", s, "--input", text.to_str().unwrap(), "--rule", OME]);
    assert_eq!(code, Some(2));
    assert!(err.contains("not a readable Parquet file"), "{err}");

    let empty = dir.path().join("empty.parquet");
    write_smiles_parquet(&empty, &[]);
    let (code, err) = stderr_of(&["ingest", "--store", s, "--input", empty.to_str().unwrap(), "--rule", OME]);
    assert_eq!(code, Some(2));
    assert!(err.contains("contains no rows"), "{err}");

    let sample_path = sample();
    let (code, err) = stderr_of(&[
        "ingest",
        "--store",
        s,
        "--input",
        sample_path.to_str().unwrap(),
        "--rule",
        OME,
        "--smiles-column",
        "SMILES",
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no column \"SMILES\"") && err.contains("smiles"), "{err}");

    let (code, err) =
        stderr_of(&["ingest", "--store", s, "--input", sample_path.to_str().unwrap(), "--rule", "FG_NOPE"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("unknown rule") && err.contains(OME), "{err}");

    let missing = dir.path().join("missing.parquet");
    let (code, err) = stderr_of(&["ingest", "--store", s, "--input", missing.to_str().unwrap(), "--rule", OME]);
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot open input"), "{err}");

    // nothing was written: the store was never even created
    assert!(!store.exists(), "a refused ingest must not create the store");
}

#[test]
fn bad_rule_file_is_rejected_with_the_rule_name() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        "version: 1\nrules:\n  - name: BROKEN\n    label: x\n    family: f\n    query_smarts: \"[c][OH]\"\n    smirks: \"[c:1][OH:2]>>[c:1][O:2\"\n",
    )
    .unwrap();
    let sample = sample();
    let store = dir.path().join("s");
    let (code, err) = stderr_of(&[
        "ingest",
        "--store",
        store.to_str().unwrap(),
        "--input",
        sample.to_str().unwrap(),
        "--rule",
        "BROKEN",
        "--rules-file",
        rules.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("rule BROKEN") && err.contains("smirks"), "{err}");
}

#[test]
fn query_and_export_on_a_missing_store_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("nothing-here");
    let (code, err) = stderr_of(&["query", "--store", store.to_str().unwrap(), "CCO"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no store at"), "{err}");
    assert!(!store.exists(), "a read-only command must not create a store");
}
