//! Inputs in every format: the same molecules as Parquet (plain, dictionary-encoded,
//! large_utf8, a folder of parts, a glob), SMILES, CSV, TSV.gz, SDF V2000/V3000 (plain and gzip)
//! give the same products; an SDF gives what RDKit's own SDMolSupplier reads from it. Damaged
//! inputs give counted rejects or one clear error; a split export reads back as an input; a job
//! input refuses to resume when its upstream changed.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::*;
use arrow_array::cast::AsArray;
use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

const CL: &str = "HALO_AROMATIC_CH__H__TO__Cl";

/// Ingests `input` (extra args allowed) under `name` with OMe + ArH->Cl and returns both
/// exports' (smiles -> occurrences).
fn products(store: &str, dir: &Path, input: &str, name: &str, extra: &[&str]) -> Vec<BTreeMap<String, u64>> {
    let mut args = vec!["ingest", "--store", store, "--input", input, "--name", name, "--rule", OME, "--rule", CL];
    args.extend_from_slice(extra);
    run_ok(&args);
    [OME, CL]
        .iter()
        .map(|rule| {
            let out = dir.join(format!("{name}-{rule}.parquet"));
            let job = format!("{name}/{rule}");
            run_ok(&["export", "--store", store, "--job", &job, "--output", out.to_str().unwrap()]);
            read_export(&out)
        })
        .collect()
}

const MAKE_FORMATS: &str = r#"
import csv, gzip, os, sys
import pyarrow as pa, pyarrow.parquet as pq
from rdkit import Chem
src, out = sys.argv[1], sys.argv[2]
t = pq.read_table(src).slice(0, 400)
smi = t.column("smiles").to_pylist(); ids = t.column("id").to_pylist()
pq.write_table(pa.table({"id": ids, "smiles": smi}), f"{out}/plain.parquet")
pq.write_table(pa.table({"id": ids, "smiles": pa.array(smi).dictionary_encode()}), f"{out}/dict.parquet")
pq.write_table(pa.table({"id": ids, "smiles": pa.array(smi, pa.large_string())}), f"{out}/large.parquet")
os.makedirs(f"{out}/parts")
for k, (a, b) in enumerate([(0, 150), (150, 151), (151, 400)]):
    pq.write_table(pa.table({"id": ids[a:b], "smiles": smi[a:b]}), f"{out}/parts/p{k}.parquet")
with open(f"{out}/m.smi", "w") as f:
    f.writelines(f"{s} {i}\n" for s, i in zip(smi, ids))
with open(f"{out}/m.csv", "w", newline="") as f:
    w = csv.writer(f); w.writerow(["name", "smiles", "id"])
    w.writerows([f"n,{i}", s, i] for s, i in zip(smi, ids))   # a quoted comma in a field
with gzip.open(f"{out}/m.tsv.gz", "wt") as f:
    f.write("id\tsmiles\n"); f.writelines(f"{i}\t{s}\n" for s, i in zip(smi, ids))
for name, v3k in (("m.sdf", False), ("v3k.sdf", True)):
    w = Chem.SDWriter(f"{out}/{name}"); w.SetForceV3000(v3k)
    for s, i in zip(smi, ids):
        m = Chem.MolFromSmiles(s); m.SetProp("_Name", i); m.SetProp("cid", i); w.write(m)
    w.close()
with open(f"{out}/m.sdf", "rb") as f, gzip.open(f"{out}/m.sdf.gz", "wb") as g:
    g.write(f.read())
# RDKit's own reading of the SDF, as SMILES
with open(f"{out}/rdkit_sdf.smi", "w") as f:
    for m in Chem.SDMolSupplier(f"{out}/m.sdf"):
        f.write(f"{Chem.MolToSmiles(m)} {m.GetProp('_Name')}\n")
"#;

#[test]
#[ignore = "needs the Python oracle venv (tools/setup.sh)"]
fn every_format_gives_the_same_products() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    python_ok(MAKE_FORMATS, &[sample().to_str().unwrap(), d.to_str().unwrap()]);
    let store = d.join("store").to_str().unwrap().to_owned();
    let p = |f: &str| d.join(f).to_str().unwrap().to_owned();
    let reference = products(&store, d, &p("plain.parquet"), "plain", &[]);
    assert!(reference[0].len() > 50 && reference[1].len() > 500, "too few products to compare");
    let glob = p("parts/p*.parquet");
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        ("dict", p("dict.parquet"), vec![]),
        ("large", p("large.parquet"), vec![]),
        ("folder", p("parts"), vec![]),
        ("glob", glob, vec![]),
        ("smi", p("m.smi"), vec![]),
        ("csv", p("m.csv"), vec!["--id-column", "id"]),
        ("tsvgz", p("m.tsv.gz"), vec!["--id-column", "id"]),
        ("sdf", p("m.sdf"), vec![]),
        ("sdfgz", p("m.sdf.gz"), vec![]),
        ("v3k", p("v3k.sdf"), vec!["--id-field", "cid"]),
        ("rdkit_sdf", p("rdkit_sdf.smi"), vec![]),
        ("as_smiles", p("m.smi"), vec!["--format", "smiles"]),
    ];
    for (name, input, extra) in &cases {
        let got = products(&store, d, input, name, extra);
        assert_eq!(got, reference, "{name} ({input}) gives other products than the Parquet file");
    }
    // every row read, none rejected, in every format
    let st = status_json(&store);
    for j in st["jobs"].as_array().unwrap() {
        assert_eq!(j["counters"]["inputs"], 400, "{j}");
        assert_eq!(j["counters"]["failed"].as_object().map_or(0, |m| m.len()), 0, "{j}");
    }
    // ids come through: title line for SDF, the second field of a SMILES line, the named column
    let q = run_ok(&[
        "query",
        "--store",
        &store,
        "--json",
        "--job",
        &format!("sdf/{OME}"),
        reference[0].keys().next().unwrap(),
    ]);
    assert!(q.contains("\"source_id\":\"") || q.contains("\"parent_id\":\""), "{q}");
}

fn failed(store: &str, job: &str) -> serde_json::Value {
    let st = status_json(store);
    let j = st["jobs"].as_array().unwrap().iter().find(|j| j["id"] == job).unwrap_or_else(|| panic!("{job}: {st}"));
    j["counters"].clone()
}

#[test]
fn damaged_inputs_give_counted_rejects_or_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let store = d.join("store").to_str().unwrap().to_owned();
    let ingest = |input: &Path, name: &str| {
        run(&["ingest", "--store", &store, "--input", input.to_str().unwrap(), "--name", name, "--rule", OME])
    };
    // a SMILES line with an embedded NUL: a parse_error, not phenol
    let smi = d.join("nul.smi");
    std::fs::write(&smi, b"Oc1ccccc1 A\nc1ccccc1O\0junk B\n\nOc1ccc(O)cc1 C\n").unwrap();
    assert!(ingest(&smi, "nul").status.success());
    let c = failed(&store, &format!("nul/{OME}"));
    assert_eq!((c["inputs"].as_u64(), c["failed"]["parse_error"].as_u64()), (Some(3), Some(1)), "{c}");
    assert_eq!(c["site_products"], 3, "{c}");

    // a CSV record with a missing field: a counted malformed_record, the others go through
    let csv = d.join("short.csv");
    std::fs::write(&csv, "id,smiles,note\nA,Oc1ccccc1,x\nB,Oc1ccc(O)cc1\nC,Oc1ccccc1C,z\n").unwrap();
    assert!(ingest(&csv, "short").status.success());
    let c = failed(&store, &format!("short/{OME}"));
    assert_eq!((c["inputs"].as_u64(), c["failed"]["malformed_record"].as_u64()), (Some(3), Some(1)), "{c}");

    // an SDF record without `M  END`: a parse_error; the records around it are read
    let broken = PHENOL_V2000.replace("M  END\n", "");
    let sdf = d.join("noend.sdf");
    std::fs::write(&sdf, format!("{PHENOL_V2000}$$$$\n{broken}$$$$\n{PHENOL_V2000}$$$$\n")).unwrap();
    let rejects = d.join("rejects.tsv");
    let out = run(&[
        "ingest",
        "--store",
        &store,
        "--input",
        sdf.to_str().unwrap(),
        "--rule",
        OME,
        "--rejects",
        rejects.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let c = failed(&store, &format!("noend/{OME}"));
    assert_eq!((c["inputs"].as_u64(), c["failed"]["parse_error"].as_u64()), (Some(3), Some(1)), "{c}");
    assert!(std::fs::read_to_string(&rejects).unwrap().contains("M  END"));

    // a truncated gzip stream: one clear error before anything is written, no panic
    let lines: String = (0..5000).map(|i| format!("Oc1ccc(C{})cc1 M{i}\n", "C".repeat(i % 7))).collect();
    let full = gzip(&[lines.as_bytes()]);
    let cut = d.join("cut.smi.gz");
    std::fs::write(&cut, &full[..full.len() / 2]).unwrap();
    let out = ingest(&cut, "cut");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("cut.smi.gz") && err.contains("cannot read past row"), "{err}");
    assert_eq!(err.matches("deflate").count(), 1, "each cause once: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(status_json(&store)["jobs"].as_array().unwrap().iter().all(|j| j["input_key"] != "cut"));
    // the whole stream reads fine
    let whole = d.join("whole.smi.gz");
    std::fs::write(&whole, &full).unwrap();
    assert!(ingest(&whole, "whole").status.success());
    assert_eq!(failed(&store, &format!("whole/{OME}"))["inputs"], 5000);

    // a CSV without the SMILES column, a gzip of unknown format: one clear error each
    let nocol = d.join("nocol.csv");
    std::fs::write(&nocol, "id,smi\nA,C\n").unwrap();
    let err = String::from_utf8_lossy(&ingest(&nocol, "nocol").stderr).into_owned();
    assert!(err.contains("no column \"smiles\"") && err.contains("id, smi"), "{err}");
    let unknown = d.join("what.gz");
    std::fs::write(&unknown, gzip(&[b"C\n"])).unwrap();
    let err = String::from_utf8_lossy(&ingest(&unknown, "what").stderr).into_owned();
    assert!(err.contains("unknown format") || err.contains("--format"), "{err}");
}

#[test]
fn a_split_export_reads_back_as_an_input_like_the_job_itself() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let store = sample_store(d, &[OME], &["--id-column", "id", "--no-props"]);
    let up = format!("sample/{OME}");
    let folder = d.join("split");
    run_ok(&["export", "--store", &store, "--job", &up, "--output", folder.to_str().unwrap(), "--split-rows", "300"]);
    let a = products(&store, d, folder.to_str().unwrap(), "fromfolder", &["--id-column", "source_id", "--no-props"]);
    let b = products(&store, d, &format!("job:{up}"), "fromjob", &["--no-props"]);
    assert_eq!(a, b);
    // the same rows in the same order: identical exports (ids, sites included), but for
    // `source_row`: a row of the folder is its position there, a row of the job input the row
    // of the original input molecule (#30: it does not shift when the upstream grows)
    let table = |job: &str| -> Vec<RecordBatch> {
        let out = d.join(format!("{}.parquet", job.replace('/', "_")));
        run_ok(&["export", "--store", &store, "--job", job, "--output", out.to_str().unwrap()]);
        let file = std::fs::File::open(out).unwrap();
        ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap().map(Result::unwrap).collect()
    };
    let without_rows = |mut batches: Vec<RecordBatch>| -> Vec<RecordBatch> {
        for b in &mut batches {
            b.remove_column(b.schema().index_of("source_row").unwrap());
        }
        batches
    };
    let from_job = table(&format!("fromjob/{CL}"));
    assert_eq!(without_rows(table(&format!("fromfolder/{CL}"))), without_rows(from_job.clone()));
    let column = |batches: &[RecordBatch], name: &str| -> Vec<String> {
        let mut out = Vec::new();
        for b in batches {
            let col = arrow_cast::cast(b.column_by_name(name).unwrap(), &arrow_schema::DataType::Utf8).unwrap();
            out.extend(col.as_string::<i32>().iter().map(|v| v.unwrap().to_owned()));
        }
        out
    };
    let upstream = table(&up);
    let root_row: BTreeMap<String, String> =
        column(&upstream, "smiles").into_iter().zip(column(&upstream, "source_row")).collect();
    let parents = column(&from_job, "source_smiles");
    for (parent, row) in parents.iter().zip(column(&from_job, "source_row")) {
        assert_eq!(root_row[parent], row, "{parent}");
    }
    // a part missing from the folder: refused, naming the manifest
    let part = std::fs::read_dir(&folder).unwrap().flatten().find(|e| e.file_name() != "manifest.json").unwrap();
    std::fs::remove_file(part.path()).unwrap();
    let out = run(&["ingest", "--store", &store, "--input", folder.to_str().unwrap(), "--name", "x", "--rule", CL]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("manifest"), "{err}");
}

#[test]
fn a_job_input_refuses_to_resume_when_its_upstream_changed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let store = d.join("store").to_str().unwrap().to_owned();
    let small = d.join("small.parquet");
    write_smiles_parquet(&small, &[Some("Oc1ccccc1"), Some("Oc1ccc(O)cc1"), Some("Oc1ccc(C)cc1")]);
    let sample = sample();
    let up = format!("up/{OME}");
    let ingest_up = |input: &Path, extra: &[&str]| {
        let mut a =
            vec!["ingest", "--store", &store, "--input", input.to_str().unwrap(), "--name", "up", "--rule", OME];
        a.extend_from_slice(extra);
        run(&a)
    };
    // an incomplete upstream cannot be read
    assert!(ingest_up(&sample, &["--max-rows", "100"]).status.success());
    let down = |extra: &[&str]| {
        let spec = format!("job:{up}");
        let mut a = vec!["ingest", "--store", &store, "--input", &spec, "--name", "down", "--rule", CL, "--no-props"];
        a.extend_from_slice(extra);
        run(&a)
    };
    let err = String::from_utf8_lossy(&down(&[]).stderr).into_owned();
    assert!(err.contains("not complete"), "{err}");
    assert!(ingest_up(&sample, &[]).status.success());
    assert!(down(&["--max-rows", "50"]).status.success());
    // the upstream is rebuilt from other molecules: the downstream job refuses to resume
    assert!(ingest_up(&small, &["--restart"]).status.success());
    let out = down(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("changed since the job started") && err.contains("--restart"), "{err}");
    // and --restart starts it afresh on the new upstream
    assert!(down(&["--restart"]).status.success());
    assert_eq!(failed(&store, &format!("down/{CL}"))["inputs"], 3);
}

/// A utf8_view SMILES column (arrow-rs writes one; pyarrow 17 cannot) and a dictionary of
/// large_utf8 give the same products as a plain utf8 column.
#[test]
fn string_view_and_dictionary_columns_read_like_utf8() {
    use arrow_array::types::Int32Type;
    use arrow_array::{ArrayRef, DictionaryArray, LargeStringArray, RecordBatch, StringViewArray};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let smiles = ["Oc1ccccc1", "Oc1ccc(O)cc1", "Cc1ccc(O)cc1", "Oc1ccccc1", "c1ccc2ccccc2c1"];
    let write = |name: &str, col: ArrayRef| {
        let batch = RecordBatch::try_from_iter([("smiles", col)]).unwrap();
        let path = d.join(name);
        let mut w =
            parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        path.to_str().unwrap().to_owned()
    };
    let plain = write("plain.parquet", Arc::new(arrow_array::StringArray::from(smiles.to_vec())));
    let view = write("view.parquet", Arc::new(StringViewArray::from(smiles.to_vec())));
    let dict: DictionaryArray<Int32Type> = smiles.iter().copied().collect();
    let large_dict = DictionaryArray::<Int32Type>::try_new(
        dict.keys().clone(),
        Arc::new(LargeStringArray::from(
            dict.values().as_any().downcast_ref::<arrow_array::StringArray>().unwrap().iter().collect::<Vec<_>>(),
        )),
    )
    .unwrap();
    let dict = write("dict.parquet", Arc::new(large_dict));
    let store = d.join("store").to_str().unwrap().to_owned();
    let expected = products(&store, d, &plain, "plain", &["--no-props"]);
    assert_eq!(expected[1].len(), 8, "phenol 3, hydroquinone 1, p-cresol 2, naphthalene 2: {expected:?}");
    assert_eq!(products(&store, d, &view, "view", &["--no-props"]), expected);
    assert_eq!(products(&store, d, &dict, "dict", &["--no-props"]), expected);
}
