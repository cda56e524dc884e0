//! Nothing lost under damage (#28): a store whose MANIFEST was cut short is reported by
//! `verify --store` and refused by every writer, which deletes nothing.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::*;
use crate::memory::measured;

const CL: &str = "HALO_AROMATIC_CH__H__TO__Cl";

/// The store's files by name and size, the info logs (any open, read-only too, writes one)
/// and the writer lock's pid file apart.
fn store_files(store: &Path) -> BTreeMap<String, u64> {
    std::fs::read_dir(store)
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.metadata().unwrap().len()))
        .filter(|(name, _)| !name.starts_with("LOG") && name != "xfstore.lock")
        .collect()
}

fn copy_store(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn export(store: &Path, rule: &str, out: &Path) -> BTreeMap<String, u64> {
    run_ok(&["export", "--store", store.to_str().unwrap(), "--rule", rule, "--output", out.to_str().unwrap()]);
    read_export(out)
}

#[test]
fn a_cut_manifest_is_reported_and_no_writer_deletes_a_file() {
    let dir = tempfile::tempdir().unwrap();
    // three jobs, 14 batches each: many MANIFEST edits (families created, files ingested)
    let rules = [OME, COOME, CL];
    let healthy = Path::new(&sample_store(dir.path(), &rules, &["--no-props", "--batch-rows", "200"])).to_owned();
    let want: Vec<_> =
        rules.iter().enumerate().map(|(i, r)| export(&healthy, r, &dir.path().join(format!("{i}.parquet")))).collect();
    assert!(want.iter().all(|w| !w.is_empty()));

    let cut = dir.path().join("cut");
    copy_store(&healthy, &cut);
    let current = std::fs::read_to_string(cut.join("CURRENT")).unwrap();
    let manifest = cut.join(current.trim());
    let whole = std::fs::read(&manifest).unwrap();
    let cut_s = cut.to_str().unwrap();
    let sample = sample();
    let resume = ["ingest", "--store", cut_s, "--input", sample.to_str().unwrap(), "--rule", OME, "--no-props"];
    // Cut at several points: RocksDB reads a cut MANIFEST as an older state. That state either
    // lists files compacted away since (RocksDB itself refuses to open it), or opens and lacks
    // what came later: the store's records must tell.
    let mut reported = 0;
    for tenths in [5, 4, 6, 3, 7, 2, 8] {
        std::fs::write(&manifest, &whole[..whole.len() * tenths / 10]).unwrap();
        let r = run(&["verify", "--store", cut_s]);
        let (stdout, stderr) = (String::from_utf8_lossy(&r.stdout), String::from_utf8_lossy(&r.stderr));
        let opened = !stderr.contains("No such file");
        if opened {
            // verify names the damage
            assert_eq!(r.status.code(), Some(1), "cut at {tenths}/10: {stdout}{stderr}");
            assert!(stdout.contains("DAMAGED  job sample/"), "{stdout}");
            assert!(stderr.contains("damaged; jobs affected: job sample/"), "{stderr}");
            reported += 1;
        } else {
            assert_eq!(r.status.code(), Some(2), "cut at {tenths}/10: {stdout}{stderr}");
        }
        // every writer refuses and deletes nothing: resuming a job, restarting it, compacting
        let before = store_files(&cut);
        for args in [&resume[..], &[&resume[..], &["--restart"]].concat(), &["compact", "--store", cut_s]] {
            let r = run(args);
            let stderr = String::from_utf8_lossy(&r.stderr);
            assert!(!r.status.success(), "{args:?} must be refused: {stderr}");
            if opened {
                assert!(stderr.contains("is damaged") && stderr.contains("nothing was written or deleted"), "{stderr}");
            }
            assert_eq!(store_files(&cut), before, "{args:?} changed the store's files");
        }
    }
    assert!(reported > 0, "no cut opened: the records check was never exercised");

    // with its MANIFEST whole again the copy holds every product: nothing was lost
    std::fs::write(&manifest, &whole).unwrap();
    let ok = run_ok(&["verify", "--store", cut_s]);
    assert!(ok.contains("job records agree"), "{ok}");
    for (i, rule) in rules.iter().enumerate() {
        assert_eq!(export(&cut, rule, &dir.path().join(format!("cut{i}.parquet"))), want[i], "{rule}");
    }
}

#[test]
#[ignore = "needs the Python oracle venv (tools/setup.sh, for tools/measure.py); tools/test.sh runs it"]
fn a_gzip_bomb_is_one_counted_reject_read_within_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    // one 300 MiB record (zeros: 300 KiB gzipped) between two phenols, in each text format
    let bomb = vec![0u8; 300 << 20];
    let files = [
        ("bomb.smi.gz", vec![b"Oc1ccccc1 a\n".to_vec(), bomb.clone(), b"\nOc1ccc(C)cc1 b\n".to_vec()]),
        ("bomb.csv.gz", vec![b"smiles,id\nOc1ccccc1,a\n\"".to_vec(), bomb.clone(), b"\",x\nOc1ccc(C)cc1,b\n".to_vec()]),
        (
            "bomb.sdf.gz",
            vec![format!("{PHENOL_V2000}$$$$\n").into_bytes(), bomb.clone(), b"\n$$$$\n".to_vec(), PHENOL_V2000.into()],
        ),
    ];
    drop(bomb);
    for (name, parts) in files {
        let path = dir.path().join(name);
        std::fs::write(&path, gzip(&parts.iter().map(Vec::as_slice).collect::<Vec<_>>())).unwrap();
        let store = dir.path().join(format!("store-{name}"));
        let rejects = dir.path().join(format!("{name}.rejects.csv"));
        let (peak, stdout) = measured(&[
            "ingest",
            "--input",
            path.to_str().unwrap(),
            "--rule",
            OME,
            "--store",
            store.to_str().unwrap(),
            "--memory-budget",
            "256MiB",
            "--rejects",
            rejects.to_str().unwrap(),
        ]);
        assert!(stdout.contains("3 inputs, 1 failed [too_large 1]"), "{name}: {stdout}");
        assert!(peak < 150.0, "{name}: peak RSS {peak:.0} MiB for a 300 MiB record at a 256 MiB budget");
        let rejected = std::fs::read_to_string(&rejects).unwrap();
        assert!(rejected.contains("too_large") && rejected.contains("record of 3145728"), "{rejected}");
        assert!(rejected.len() < 4096, "{name}: the reject keeps the record: {} bytes", rejected.len());
        // the record is not kept in the store either
        let disk: u64 = std::fs::read_dir(&store).unwrap().flatten().map(|e| e.metadata().unwrap().len()).sum();
        assert!(disk < 8 << 20, "{name}: store of {disk} bytes");
    }
}
