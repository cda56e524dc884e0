//! The halogenation step (#14): site caps and the sugar mask against RDKit's Python bindings on
//! the bundled real sample (312 of its 2,700 molecules carry sugars); the mask on real
//! glycosides (sugar sites never transformed, aglycone sites transformed) and on real rings
//! with one oxygen that are not sugars (still transformed); a campaign configured per class
//! equals its streams run by hand; `report` adds up to the job counters; SDF exports validated
//! and read back by RDKit.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use arrow_array::cast::AsArray;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use xfstore::{sugar_mask, transform_row, RowOptions, RuleSet, SiteOutcome};

use crate::common::*;

/// id -> SMILES of the bundled sample.
fn sample_molecules() -> BTreeMap<String, String> {
    let file = std::fs::File::open(sample()).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
    let mut out = BTreeMap::new();
    for batch in reader {
        let batch = batch.unwrap();
        let ids = batch.column_by_name("id").unwrap().as_string::<i32>().clone();
        let smiles = batch.column_by_name("smiles").unwrap().as_string::<i32>().clone();
        for i in 0..batch.num_rows() {
            out.insert(ids.value(i).to_owned(), smiles.value(i).to_owned());
        }
    }
    out
}

fn compare_with_reference(dir: &Path, rules: &[&str], flags: &[&str]) {
    let store = dir.join("store");
    let s = store.to_str().unwrap();
    let sample = sample();
    let mut args = vec!["ingest", "--store", s, "--input", sample.to_str().unwrap(), "--no-props"];
    for r in rules {
        args.extend(["--rule", r]);
    }
    args.extend_from_slice(flags);
    run_ok(&args);
    let golden = dir.join("reference");
    let mut py = std::process::Command::new(python());
    py.current_dir(root()).args(["tools/oracle/rdkit_reference.py", "--input", sample.to_str().unwrap(), "--out-dir"]);
    py.arg(&golden).args(flags);
    for r in rules {
        py.args(["--rule", r]);
    }
    let out = py.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let status = status_json(s);
    for rule in rules {
        let export = dir.join(format!("{rule}.parquet"));
        run_ok(&["export", "--store", s, "--rule", rule, "--output", export.to_str().unwrap()]);
        let ours = read_export(&export);
        let (header, theirs) = read_golden(&golden.join(format!("{rule}.tsv")));
        assert!(theirs.len() >= 20, "{rule} {flags:?}: too few products to prove anything");
        assert_eq!(ours, theirs, "{rule} {flags:?}: products or occurrences differ from RDKit's Python bindings");
        let c = &job_status(&status, rule)["counters"];
        for (ours, theirs) in
            [("site_products", "site_products"), ("no_site", "no_site"), ("unique_products", "unique")]
        {
            assert_eq!(c[ours].as_u64(), Some(golden_stat(&header, theirs)), "{rule} {flags:?}: {ours}");
        }
        if flags.contains(&"--sugar-mask") {
            assert_eq!(c["masked_sites"].as_u64(), Some(golden_stat(&header, "masked")), "{rule}: masked sites");
        }
    }
    std::fs::remove_dir_all(&store).unwrap();
    std::fs::remove_dir_all(&golden).unwrap();
}

#[test]
#[ignore = "needs the Python oracle venv (tools/setup.sh); tools/test.sh runs it"]
fn caps_and_sugar_mask_equal_rdkit_python() {
    let dir = tempfile::tempdir().unwrap();
    let rules = ["RING_SP3__CH__TO__Cl", "HALO_AROMATIC_CH__H__TO__Br", "PRIMARY_OH__CH2OH__TO__I", "OH__TO__F"];
    // cap and mask together, then each alone
    compare_with_reference(dir.path(), &rules, &["--site-cap", "3", "--sugar-mask"]);
    compare_with_reference(dir.path(), &rules[..2], &["--sugar-mask"]);
    compare_with_reference(dir.path(), &rules[..2], &["--site-cap", "2"]);
}

#[test]
fn the_sugar_mask_spares_sugars_and_only_sugars_on_real_molecules() {
    let set = RuleSet::builtin().unwrap();
    let plain = set.get("RING_SP3__CH__TO__Cl").unwrap();
    let masked = plain.variant(None, true).unwrap();
    let aromatic = set.get("HALO_AROMATIC_CH__H__TO__Cl").unwrap().variant(None, true).unwrap();
    let opts = RowOptions { with_props: false, ..RowOptions::default() };
    let sites = |o: &[SiteOutcome]| -> Vec<Vec<u32>> {
        o.iter()
            .map(|s| match s {
                SiteOutcome::Product { site_atoms, .. } | SiteOutcome::SanitizeFailed { site_atoms, .. } => {
                    site_atoms.clone()
                }
            })
            .collect()
    };
    let mol = sample_molecules();
    // real glycosides of the sample (phytoClassifier): an O-glucoside, a glucuronide, a
    // C-glycoside fused to a lactone, a galloyl glucose (ester oxygens), a rhamnosyl glucoside
    let glycosides = ["PHYTO:127570", "PHYTO:124258", "PHYTO:66065", "PHYTO:73178", "PHYTO:125896"];
    let mut aglycone_sites = 0;
    for id in glycosides {
        let smiles = mol.get(id).unwrap_or_else(|| panic!("{id} not in the sample"));
        let mask: BTreeSet<u32> = sugar_mask(smiles).unwrap().into_iter().collect();
        assert!(mask.len() >= 10, "{id}: a sugar unit has at least 10 atoms, found {mask:?}");
        let all = transform_row(Some(smiles), &[plain], &opts).unwrap();
        let kept = transform_row(Some(smiles), &[&masked, &aromatic], &opts).unwrap();
        let (all_sites, kept_sites) = (sites(&all.per_rule[0]), sites(&kept.per_rule[0]));
        // no kept site touches the mask; every unmasked site is kept; the rest are counted
        assert!(kept_sites.iter().all(|s| s.iter().all(|a| !mask.contains(a))), "{id}: a sugar site was transformed");
        let outside: Vec<&Vec<u32>> = all_sites.iter().filter(|s| s.iter().all(|a| !mask.contains(a))).collect();
        assert_eq!(kept_sites.len(), outside.len(), "{id}: an aglycone site was lost");
        assert_eq!(kept.masked[0] as usize, all_sites.len() - outside.len(), "{id}: masked sites miscounted");
        assert!(kept.masked[0] >= 4, "{id}: a pyranose has at least 4 ring C-H");
        // the aglycone's aromatic C-H are all transformed (none of them is on a sugar)
        assert_eq!(kept.masked[1], 0, "{id}");
        aglycone_sites += kept_sites.len() + kept.per_rule[1].len();
    }
    assert!(aglycone_sites >= 20, "the aglycones' sites are transformed ({aglycone_sites})");
    // real rings with one oxygen that are not sugars: a methyl-tetrahydropyran (PHYTO:37269),
    // furofuran lignans (pinoresinol, magnolin), a tetrasubstituted tetrahydrofuran
    // (magnosalicin), a dihydropyran of a terpenoid-quinone (PHYTO:356631)
    for id in ["PHYTO:37269", "PHYTO:73399", "PHYTO:169234", "PHYTO:146424", "PHYTO:356631"] {
        let smiles = &mol[id];
        assert!(sugar_mask(smiles).unwrap().is_empty(), "{id} is not a sugar");
        let all = transform_row(Some(smiles), &[plain], &opts).unwrap();
        let kept = transform_row(Some(smiles), &[&masked], &opts).unwrap();
        assert!(!all.per_rule[0].is_empty(), "{id}: has ring C-H sites");
        assert_eq!(all.per_rule, kept.per_rule, "{id}: the mask changed a molecule without sugar");
        assert_eq!(kept.masked, vec![0]);
    }
}

/// A campaign with the class configuration inline: polyphenols at k1 with a cap and the mask,
/// terpenoids switched off at k2, an unknown class refused.
const CLASS_CAMPAIGN: &str = r#"
inputs:
  - {name: poly, path: poly.smi, class: polyphenol}
  - {name: terp, path: terp.smi, class: terpenoid}
classes:
  polyphenol:
    sugar_mask: true
    levels:
      k1: {rules: [{rule: "HALO_AROMATIC_CH__H__TO__{X}", cap: 2}, "RING_SP3__CH__TO__Cl"]}
      k2: {rules: ["RING_SP3__CH__TO__Br"], sugar_mask: false}
  terpenoid:
    levels:
      k1: {rules: [{rule: "RING_SP3__CH__TO__F", cap: 3}]}
      k2: off
steps:
  - {name: k1, from: [poly, terp], rules: {by_class: k1}}
  - {name: k2, from: [k1], rules: {by_class: k2}}
"#;

#[test]
fn a_class_configured_campaign_equals_its_streams_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mol = sample_molecules();
    // real glycosides and polyphenols, real terpenoids with and without oxygen rings
    let poly = ["PHYTO:127570", "PHYTO:124258", "PHYTO:66065", "PHYTO:73399", "PHYTO:12", "PHYTO:254"];
    let terp = ["PHYTO:37269", "PHYTO:356631", "PHYTO:146424"];
    for (file, ids) in [("poly.smi", &poly[..]), ("terp.smi", &terp[..])] {
        let text: String = ids.iter().map(|id| format!("{} {id}\n", mol[*id])).collect();
        std::fs::write(d.join(file), text).unwrap();
    }
    let campaign = d.join("c.yaml");
    std::fs::write(&campaign, CLASS_CAMPAIGN).unwrap();
    let (c, store) = (campaign.to_str().unwrap(), d.join("store"));
    let s = store.to_str().unwrap();
    let plan = run_ok(&["run", c, "--store", s, "--no-props"]);
    assert!(plan.contains("class terpenoid is off at level k2"), "{plan}");
    // by hand: the same streams as single ingests with the same settings
    let hand = d.join("hand");
    let h = hand.to_str().unwrap();
    let x1_poly: Vec<String> = ["F", "Cl", "Br", "I"].iter().map(|x| format!("HALO_AROMATIC_CH__H__TO__{x}")).collect();
    let ingest = |input: &str, name: &str, rules: &[&str], flags: &[&str]| {
        let mut args = vec!["ingest", "--store", h, "--input", input, "--name", name, "--no-props"];
        for r in rules {
            args.extend(["--rule", r]);
        }
        args.extend_from_slice(flags);
        run_ok(&args);
    };
    let poly_in = d.join("poly.smi");
    let terp_in = d.join("terp.smi");
    let x1: Vec<&str> = x1_poly.iter().map(String::as_str).collect();
    ingest(poly_in.to_str().unwrap(), "k1.poly", &x1, &["--site-cap", "2", "--sugar-mask"]);
    ingest(poly_in.to_str().unwrap(), "k1.poly", &["RING_SP3__CH__TO__Cl"], &["--sugar-mask"]);
    ingest(terp_in.to_str().unwrap(), "k1.terp", &["RING_SP3__CH__TO__F"], &["--site-cap", "3"]);
    let upstream: Vec<String> = x1.iter().chain(&["RING_SP3__CH__TO__Cl"]).map(|r| format!("k1.poly/{r}")).collect();
    ingest(&format!("job:{}", upstream.join(",")), "k2.k1.poly", &["RING_SP3__CH__TO__Br"], &[]);
    let campaign_jobs = status_json(s);
    let hand_jobs = status_json(h);
    let jobs = campaign_jobs["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 7, "4 + 1 polyphenol k1 jobs, 1 terpenoid k1 job, 1 polyphenol k2 job");
    let mut masked_total = 0;
    for j in jobs {
        let id = j["id"].as_str().unwrap();
        let other = hand_jobs["jobs"].as_array().unwrap().iter().find(|h| h["id"] == j["id"]);
        let other = other.unwrap_or_else(|| panic!("{id} not made by hand"));
        assert_eq!(j["counters"], other["counters"], "{id}: counters differ");
        for (store, out) in [(s, d.join("a.parquet")), (h, d.join("b.parquet"))] {
            run_ok(&["export", "--store", store, "--job", id, "--output", out.to_str().unwrap()]);
        }
        assert_eq!(read_export(&d.join("a.parquet")), read_export(&d.join("b.parquet")), "{id}: products differ");
        masked_total += j["counters"]["masked_sites"].as_u64().unwrap();
    }
    assert!(masked_total > 0, "the glycosides' sugar sites are masked");
    // the report adds up to the job counters, per class x step x rule x halogen
    let csv = run_ok(&["report", "--store", s, "--campaign", c, "--csv", "-"]);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("class,step,rule,halogen,jobs,complete,rows,products,unique,masked_sites,filtered"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 7, "{csv}");
    let br = rows.iter().find(|r| r[1] == "k1" && r[2] == "HALO_AROMATIC_CH__H__TO__{X}" && r[3] == "Br").unwrap();
    let job = jobs.iter().find(|j| j["id"] == "k1.poly/HALO_AROMATIC_CH__H__TO__Br").unwrap();
    assert_eq!(br[7].parse::<u64>().unwrap(), job["counters"]["site_products"].as_u64().unwrap());
    assert_eq!(br[8].parse::<u64>().unwrap(), job["counters"]["unique_products"].as_u64().unwrap());
    let masked: u64 = rows.iter().map(|r| r[9].parse::<u64>().unwrap()).sum();
    assert_eq!(masked, masked_total);
    let table = run_ok(&["report", "--store", s, "--campaign", c]);
    assert!(table.contains("polyphenol / k1: 5 of 5 jobs complete") && table.contains("terpenoid / k1"), "{table}");
    // the campaign exports as SDF (gzip), validated
    let out = d.join("sdf");
    run_ok(&["export", "--store", s, "--campaign", c, "--output", out.to_str().unwrap(), "--format", "sdf.gz"]);
    let one = out.join("k1.poly__RING_SP3__CH__TO__Cl.sdf.gz");
    let v = run_ok(&["verify", one.to_str().unwrap()]);
    assert!(v.contains("valid SDF (gzip)"), "{v}");
}

#[test]
fn class_configuration_problems_are_reported_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("poly.smi"), "Oc1ccccc1 A\n").unwrap();
    std::fs::write(d.join("terp.smi"), "CC1CCCCO1 B\n").unwrap();
    let bad = CLASS_CAMPAIGN
        .replace("cap: 2}", "cap: 0}")
        .replace("\"RING_SP3__CH__TO__Cl\"", "\"RING_SP3__CH__TO__At\"")
        .replace("class: terpenoid}", "class: alkaloid}");
    let f = d.join("bad.yaml");
    std::fs::write(&f, bad).unwrap();
    let store = d.join("store");
    let out = run(&["run", f.to_str().unwrap(), "--store", store.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for needle in ["cap must be", "unknown rule \"RING_SP3__CH__TO__At\""] {
        assert!(err.contains(needle), "{needle:?} not in: {err}");
    }
    assert!(!store.exists());
    // a class the configuration does not list is refused, naming it
    let missing = CLASS_CAMPAIGN.replace("class: terpenoid}", "class: alkaloid}");
    std::fs::write(&f, missing).unwrap();
    let out = run(&["run", f.to_str().unwrap(), "--store", store.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("class alkaloid has no entry in the class configuration"), "{err}");
    // by_class without a configuration
    let none = CLASS_CAMPAIGN.split("classes:").next().unwrap().to_owned()
        + "steps:\n  - {name: k1, from: [poly], rules: {by_class: k1}}\n";
    std::fs::write(&f, none).unwrap();
    let err = String::from_utf8_lossy(&run(&["run", f.to_str().unwrap(), "--store", store.to_str().unwrap()]).stderr)
        .into_owned();
    assert!(err.contains("needs a class configuration"), "{err}");
    assert!(!store.exists());
}

#[test]
fn sdf_exports_are_validated_and_damage_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(dir.path(), &["RING_SP3__CH__TO__Cl"], &["--id-column", "id", "--carry", "name"]);
    let sdf = dir.path().join("p.sdf");
    let gz = dir.path().join("p.sdf.gz");
    for out in [&sdf, &gz] {
        run_ok(&["export", "--store", &store, "--rule", "RING_SP3__CH__TO__Cl", "--output", out.to_str().unwrap()]);
    }
    let unique =
        job_status(&status_json(&store), "RING_SP3__CH__TO__Cl")["counters"]["unique_products"].as_u64().unwrap();
    for (f, kind) in [(&sdf, "SDF"), (&gz, "SDF (gzip)")] {
        let v = run_ok(&["verify", f.to_str().unwrap()]);
        assert!(v.contains(&format!("valid {kind}, {unique} records (16 columns)")), "{v}");
    }
    let text = std::fs::read_to_string(&sdf).unwrap();
    let damaged = |name: &str, body: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        let r = run(&["verify", p.to_str().unwrap()]);
        assert_eq!(r.status.code(), Some(1), "{name} must be refused");
    };
    damaged("cut.sdf", &text.as_bytes()[..text.len() / 2]);
    damaged("noend.sdf", text.replacen("M  END", "M  XXX", 1).as_bytes());
    let gz_bytes = std::fs::read(&gz).unwrap();
    damaged("cut.sdf.gz", &gz_bytes[..gz_bytes.len() / 2]);
}

#[test]
#[ignore = "needs the Python oracle venv (tools/setup.sh); tools/test.sh runs it"]
fn rdkit_reads_the_sdf_export_back_to_the_same_products() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(dir.path(), &["OH__TO__Br"], &["--id-column", "id"]);
    let gz = dir.path().join("p.sdf.gz");
    run_ok(&["export", "--store", &store, "--rule", "OH__TO__Br", "--output", gz.to_str().unwrap()]);
    // the molblock of every record is the one RDKit's Python writer makes for the product
    // (Compute2DCoords + MolToMolBlock), and reads back as RDKit's own round trip does: double
    // bonds in macrocycles lose their stereo in any 2D depiction, ours and RDKit's alike
    let code = r#"
import gzip, sys
from rdkit import Chem, RDLogger
from rdkit.Chem import AllChem
RDLogger.DisableLog("rdApp.*")
n = same_block = same_smiles = 0
text = gzip.open(sys.argv[1]).read().decode()
for record in text.split("$$$$\n")[:-1]:
    m = Chem.MolFromMolBlock(record)
    assert m is not None, "a record RDKit cannot read"
    n += 1
    smiles = record.split("> <smiles>\n", 1)[1].split("\n", 1)[0]
    ref = Chem.MolFromSmiles(smiles)
    AllChem.Compute2DCoords(ref)
    block = Chem.MolToMolBlock(ref)
    ours = record[record.index("\n"):record.index("M  END")]
    same_block += ours == block[block.index("\n"):block.index("M  END")]
    same_smiles += Chem.MolToSmiles(m) == Chem.MolToSmiles(Chem.MolFromMolBlock(block))
    assert "> <xf_rule_id>\nOH__TO__Br\n" in record
print(n, same_block, same_smiles)
"#;
    let out = python_ok(code, &[gz.to_str().unwrap()]);
    let counts: Vec<u64> = out.split_whitespace().map(|v| v.parse().unwrap()).collect();
    let unique = job_status(&status_json(&store), "OH__TO__Br")["counters"]["unique_products"].as_u64().unwrap();
    assert_eq!(counts, vec![unique, unique, unique], "records, same molblock, same read-back SMILES");
}
