//! Resuming: a partial run resumes exactly where it stopped and ends equal to a single run; a
//! changed input or rule is refused with a clear message unless `--restart`; rows appended to a
//! text input are only the new work, and the job ends as a rebuild would.

use crate::common::*;

fn ingest(store: &str, input: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["ingest", "--store", store, "--input", input, "--rule", OME, "--no-props"];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn partial_runs_resume_and_equal_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let sample = sample();
    let input = sample.to_str().unwrap();
    let (one, parts) = (dir.path().join("one"), dir.path().join("parts"));
    let (one, parts) = (one.to_str().unwrap(), parts.to_str().unwrap());
    assert!(ingest(one, input, &[]).status.success());

    let first = ingest(parts, input, &["--max-rows", "1000", "--batch-rows", "100"]);
    assert!(first.status.success());
    let st = status_json(parts);
    assert_eq!(st["jobs"][0]["offset"], 1000);
    assert_eq!(st["jobs"][0]["state"], "interrupted");
    let second = ingest(parts, input, &["--max-rows", "777", "--batch-rows", "64"]);
    assert!(String::from_utf8_lossy(&second.stderr).contains("resuming at row 1000 of 2700"));
    assert_eq!(status_json(parts)["jobs"][0]["offset"], 1777);
    let third = ingest(parts, input, &[]);
    assert!(String::from_utf8_lossy(&third.stdout).contains("(resumed at row 1777)"));
    assert_eq!(status_json(parts)["jobs"][0]["state"], "complete");

    let counters = |s: &str| job_status(&status_json(s), OME)["counters"].clone();
    assert_eq!(counters(one), counters(parts));
    let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
    run_ok(&["export", "--store", one, "--rule", OME, "--output", a.to_str().unwrap()]);
    run_ok(&["export", "--store", parts, "--rule", OME, "--output", b.to_str().unwrap()]);
    assert!(std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(), "exports differ");
}

#[test]
fn changed_input_or_rule_is_refused_unless_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    let s = store.to_str().unwrap();
    // an input named like the sample but with other content
    let other_dir = dir.path().join("other");
    std::fs::create_dir_all(&other_dir).unwrap();
    let other = other_dir.join("sample.parquet");
    write_smiles_parquet(&other, &[Some("Oc1ccccc1"), Some("Oc1ccc(O)cc1")]);
    let sample = sample();
    assert!(ingest(s, sample.to_str().unwrap(), &["--max-rows", "500"]).status.success());

    let refused = ingest(s, other.to_str().unwrap(), &[]);
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("the input changed") && err.contains("--restart"), "{err}");

    let rules = dir.path().join("rules.yaml");
    let yaml = xfstore::DEFAULT_RULES_YAML.replace("[c:1][OX2H:2]>>[c:1][O:2]C\"", "[c:1][OX2H:2]>>[c:1][O:2]CC\"");
    std::fs::write(&rules, yaml).unwrap();
    let refused = ingest(s, sample.to_str().unwrap(), &["--rules-file", rules.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("the rule definition changed"), "{err}");

    let restarted = ingest(s, other.to_str().unwrap(), &["--restart"]);
    assert!(restarted.status.success(), "{}", String::from_utf8_lossy(&restarted.stderr));
    let job = job_status(&status_json(s), OME);
    assert_eq!(job["offset"], 2);
    assert_eq!(job["counters"]["site_products"], 3);
    assert_eq!(job["counters"]["unique_products"], 2);
}

/// The first `n` rows of the sample as SMILES-file lines (`SMILES id`).
fn sample_lines(n: usize) -> Vec<String> {
    use arrow_array::{Array, StringArray};
    let file = std::fs::File::open(sample()).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
    let mut lines = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let col =
            |name: &str| batch.column_by_name(name).unwrap().as_any().downcast_ref::<StringArray>().unwrap().clone();
        let (smiles, ids) = (col("smiles"), col("id"));
        for i in 0..batch.num_rows() {
            if !smiles.is_null(i) {
                lines.push(format!("{}\t{}\n", smiles.value(i), ids.value(i)));
            }
        }
    }
    lines.truncate(n);
    lines
}

#[test]
fn rows_appended_to_a_text_input_are_the_only_new_work_and_end_as_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let lines = sample_lines(900);
    let (old, new) = (lines[..600].concat(), lines[600..].concat());
    for gz in [false, true] {
        let input = dir.path().join(if gz { "lib.smi.gz" } else { "lib.smi" });
        let bytes = |text: &str| if gz { gzip(&[text.as_bytes()]) } else { text.as_bytes().to_vec() };
        std::fs::write(&input, bytes(&old)).unwrap();
        let (grown, rebuilt) = (dir.path().join(format!("grown{gz}")), dir.path().join(format!("rebuilt{gz}")));
        let (grown, rebuilt, i) = (grown.to_str().unwrap(), rebuilt.to_str().unwrap(), input.to_str().unwrap());
        assert!(ingest(grown, i, &[]).status.success());
        assert_eq!(job_status(&status_json(grown), OME)["state"], "complete");
        // appended: plain text at the end, gzip as a new member (`cat more.smi.gz >> lib.smi.gz`)
        use std::io::Write;
        std::fs::OpenOptions::new().append(true).open(&input).unwrap().write_all(&bytes(&new)).unwrap();
        let again = grows_as_a_rebuild(grown, rebuilt, i, &[], "resuming at row 600 of 900");
        assert!(String::from_utf8_lossy(&again.stdout).contains("(resumed at row 600)"));
    }

    // not growth: an old row edited, or a last line without its newline (the appended bytes
    // continue it), is a changed input, refused as before
    let cut = |text: &str| text.strip_suffix('\n').unwrap().to_owned();
    for (first, then) in [(old.clone(), format!("C{}{new}", &old)), (cut(&old), format!("{}{new}", cut(&old)))] {
        let input = dir.path().join("edited.smi");
        let store = dir.path().join("edited");
        let _ = std::fs::remove_dir_all(&store);
        std::fs::write(&input, first).unwrap();
        let (s, i) = (store.to_str().unwrap(), input.to_str().unwrap());
        assert!(ingest(s, i, &[]).status.success());
        std::fs::write(&input, then).unwrap();
        let refused = ingest(s, i, &[]);
        assert_eq!(refused.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&refused.stderr).contains("the input changed"));
    }
}

/// Ingests the grown input `i` again into `grown` (it must say `resumed`), and once into the
/// fresh store `rebuilt`: the job complete, same counters, same input record, byte-identical
/// exports. Returns the second ingest's output.
fn grows_as_a_rebuild(grown: &str, rebuilt: &str, i: &str, extra: &[&str], resumed: &str) -> std::process::Output {
    let again = ingest(grown, i, extra);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert!(String::from_utf8_lossy(&again.stderr).contains(resumed));
    assert!(ingest(rebuilt, i, extra).status.success());
    let job = |s: &str| job_status(&status_json(s), OME);
    assert_eq!(job(grown)["state"], "complete");
    assert_eq!(job(grown)["counters"], job(rebuilt)["counters"]);
    assert_eq!(job(grown)["input"], job(rebuilt)["input"]);
    let (a, b) = (format!("{grown}.parquet"), format!("{rebuilt}.parquet"));
    run_ok(&["export", "--store", grown, "--rule", OME, "--output", &a]);
    run_ok(&["export", "--store", rebuilt, "--rule", OME, "--output", &b]);
    assert!(std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(), "{grown}: exports differ");
    again
}

#[test]
fn a_part_added_to_a_parquet_folder_is_the_only_new_work_and_ends_as_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let smiles: Vec<String> = sample_lines(600).iter().map(|l| l.split('\t').next().unwrap().to_owned()).collect();
    let part = |name: &str, rows: &[String]| {
        let rows: Vec<Option<&str>> = rows.iter().map(|s| Some(s.as_str())).collect();
        write_smiles_parquet(&dir.path().join("lib").join(name), &rows);
    };
    std::fs::create_dir_all(dir.path().join("lib")).unwrap();
    part("part-0.parquet", &smiles[..250]);
    part("part-1.parquet", &smiles[250..400]);
    let input = dir.path().join("lib");
    let (grown, rebuilt) = (dir.path().join("grown"), dir.path().join("rebuilt"));
    let (grown, rebuilt, i) = (grown.to_str().unwrap(), rebuilt.to_str().unwrap(), input.to_str().unwrap());
    assert!(ingest(grown, i, &[]).status.success());
    part("part-2.parquet", &smiles[400..]);
    grows_as_a_rebuild(grown, rebuilt, i, &[], "resuming at row 400 of 600");

    // a part sorting before the old ones renumbers their rows: a changed input, refused
    part("part-00.parquet", &smiles[..10]);
    let refused = ingest(grown, i, &[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("the input changed"));
}

/// A single Parquet file rewritten with rows after its old ones (pandas: read, concat, write)
/// has a new footer, so only the content hash recorded when its jobs were made proves the old
/// rows unchanged: the rewrite runs only the new rows and ends where a rebuild does. A rewrite
/// that changes one old row, or one old id, is refused.
#[test]
fn a_parquet_file_rewritten_with_more_rows_is_the_only_new_work_and_ends_as_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let smiles: Vec<String> = sample_lines(600).iter().map(|l| l.split('\t').next().unwrap().to_owned()).collect();
    let input = dir.path().join("lib.parquet");
    let write = |rows: &[String]| {
        let rows: Vec<Option<&str>> = rows.iter().map(|s| Some(s.as_str())).collect();
        write_smiles_parquet(&input, &rows);
    };
    write(&smiles[..400]);
    let (grown, rebuilt) = (dir.path().join("grown"), dir.path().join("rebuilt"));
    let (grown, rebuilt, i) = (grown.to_str().unwrap(), rebuilt.to_str().unwrap(), input.to_str().unwrap());
    let ids = ["--id-column", "id"];
    assert!(ingest(grown, i, &ids).status.success());
    write(&smiles);
    grows_as_a_rebuild(grown, rebuilt, i, &ids, "resuming at row 400 of 600");

    // an old row changed, rows added: a changed input, refused
    let mut changed = smiles.clone();
    changed.swap(3, 500);
    changed.push(smiles[0].clone());
    write(&changed);
    let refused = ingest(grown, i, &ids);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("the input changed"));
    // the same SMILES, one more row, but an old row's id changed: refused too
    let mut more = smiles.clone();
    more.push(smiles[0].clone());
    let rows: Vec<Option<&str>> = more.iter().map(|s| Some(s.as_str())).collect();
    {
        use arrow_array::{ArrayRef, RecordBatch, StringArray};
        let smiles: ArrayRef = std::sync::Arc::new(StringArray::from(rows));
        let ids = (0..more.len()).map(|i| Some(if i == 7 { "X7".to_owned() } else { format!("T{i}") }));
        let ids: ArrayRef = std::sync::Arc::new(StringArray::from(ids.collect::<Vec<_>>()));
        let batch = RecordBatch::try_from_iter([("id", ids), ("smiles", smiles)]).unwrap();
        let file = std::fs::File::create(&input).unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }
    let refused = ingest(grown, i, &ids);
    assert_eq!(refused.status.code(), Some(2), "{}", String::from_utf8_lossy(&refused.stderr));
}
