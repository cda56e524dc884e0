//! The memory budget: batches hold about the same in-flight bytes whatever the rows yield (the
//! skewed, sorted worst case: more sites per row AND longer SMILES), RSS is reported against the
//! budget, and neither changes what is stored.

use std::path::Path;

use crate::common::*;
use xfstore::internal::product_in_flight_bytes;
use xfstore::{IngestOptions, IngestPlan, IngestReport, MemoryBudget, RuleSet, Store};

/// The 22k natural products sorted by phenolic OH count, heaviest last (as the real input was).
fn sorted_by_phenolic_oh(dir: &Path) -> String {
    let out = dir.join("sorted.parquet");
    python_ok(
        r#"
import sys, pyarrow as pa, pyarrow.parquet as pq
from rdkit import Chem, RDLogger
RDLogger.DisableLog("rdApp.*")
t = pq.read_table(sys.argv[1], columns=["smiles"])
pat = Chem.MolFromSmarts("[c][OX2H]")
def n(s):
    m = Chem.MolFromSmiles(s) if s else None
    return len(m.GetSubstructMatches(pat)) if m else 0
k = [n(s) for s in t.column("smiles").to_pylist()]
t = t.append_column("n", pa.array(k)).sort_by([("n", "ascending")])
pq.write_table(t, sys.argv[2])  # pyarrow's default codec: Snappy
print(max(k))
"#,
        &[root().join("tests/data/natural_products_22k.parquet").to_str().unwrap(), out.to_str().unwrap()],
    );
    out.to_str().unwrap().to_owned()
}

fn ingest(input: &str, store: &Path, batch_rows: usize, budget: MemoryBudget) -> IngestReport {
    let rules = RuleSet::builtin().unwrap();
    // two rules on the same sites: twice the products per batch
    let opts = IngestOptions::new(input, vec![OME.into(), "FG_PHENOL_OH__OH__TO__NH2".into()])
        .with_props(false)
        .batch_rows(batch_rows)
        .budget(budget);
    let db = Store::open(store, &opts.store_options()).unwrap();
    IngestPlan::new(&rules, opts).unwrap().run(&db).unwrap()
}

#[test]
#[ignore = "needs the Python oracle venv (tools/setup.sh); tools/test.sh runs it"]
fn skewed_input_is_cut_into_byte_sized_batches_without_changing_results() {
    let dir = tempfile::tempdir().unwrap();
    let input = sorted_by_phenolic_oh(dir.path());
    let budget = MemoryBudget::new(256 << 20).unwrap();
    let target = budget.batch_bytes();
    // One reader batch could hold the whole file: only byte-based sizing cuts it.
    let adaptive = ingest(&input, &dir.path().join("a"), 1 << 20, budget);
    let total = adaptive.site_products * product_in_flight_bytes(40, 40); // a lower bound
    assert!(total > 2 * target, "input too small to test: {} products", adaptive.site_products);
    assert!(
        adaptive.max_batch_bytes <= target * 3 / 2,
        "a batch held {} bytes, target {target}",
        adaptive.max_batch_bytes
    );
    assert!(adaptive.batches >= total / target);
    assert!(adaptive.peak_rss > 0 && adaptive.peak_rss < budget.bytes(), "peak RSS {}", adaptive.peak_rss);
    // Same products and counters as fixed 512-row batches.
    let fixed_store = dir.path().join("f");
    let fixed = ingest(&input, &fixed_store, 512, MemoryBudget::default());
    assert_eq!(fixed.site_products, adaptive.site_products);
    let counters =
        |r: &IngestReport| r.jobs.iter().map(|j| serde_json::to_value(&j.meta.counters).unwrap()).collect::<Vec<_>>();
    assert_eq!(counters(&adaptive), counters(&fixed));
}

/// Heavy rows right after light ones (#27): chunks were sized from the bytes per row learnt on
/// the rows before, so the first chunk of heavy rows (256 rows on 2 threads) held all their
/// products at once: in the natural campaign's `k2.k1.other`, 66 MiB counted against a 16 MiB
/// batch target, 273 MiB peak at a 256 MiB budget. A chunk now stops taking rows once it holds
/// what its batch still needs, whatever the estimate said; no row is lost or counted twice at
/// the cut.
#[test]
fn heavy_rows_after_light_ones_do_not_overfill_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    // ten galloyl esters on a polyol chain: 30 phenolic OH, a 280-character SMILES
    let heavy = format!("OC{}CO", "C(OC(=O)c1cc(O)c(O)c(O)c1)".repeat(10));
    let (light_rows, heavy_rows) = (2048, 260); // the light rows fill whole 256-row chunks
    let rows: Vec<Option<&str>> = std::iter::repeat_n(Some("CCO"), light_rows)
        .chain(std::iter::repeat_n(Some(heavy.as_str()), heavy_rows))
        .collect();
    let input = dir.path().join("skew.parquet");
    write_smiles_parquet(&input, &rows);
    let budget = MemoryBudget::new(256 << 20).unwrap();
    let report = ingest(input.to_str().unwrap(), &dir.path().join("s"), 1 << 20, budget);
    assert_eq!(report.site_products, heavy_rows as u64 * 30 * 2);
    let target = budget.batch_bytes();
    assert!(report.site_products * product_in_flight_bytes(270, 270) > 2 * target, "too light to test");
    assert!(report.max_batch_bytes <= target * 3 / 2, "a batch held {} bytes, target {target}", report.max_batch_bytes);
    for job in &report.jobs {
        assert_eq!(job.meta.counters.inputs, (light_rows + heavy_rows) as u64);
        assert_eq!(job.meta.counters.no_site, light_rows as u64);
    }
}

#[test]
fn summary_reports_rss_against_the_budget_and_bytes_per_product() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    let out = run_ok(&[
        "ingest",
        "--store",
        store.to_str().unwrap(),
        "--input",
        sample().to_str().unwrap(),
        "--rule",
        OME,
        "--no-props",
        "--memory-budget",
        "300MiB",
    ]);
    assert!(out.contains("(budget 300 MiB)"), "{out}");
    let peak: f64 = out.split("peak RSS ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(peak > 1.0 && peak < 300.0, "{out}");
    assert!(out.contains("bytes/product"), "{out}");
    // bench-transform counts the same products as ingest
    let bare = run_ok(&["bench-transform", "--input", sample().to_str().unwrap(), "--rule", OME, "--no-props"]);
    assert!(bare.contains("3334 products") && out.contains("3334 products"), "{bare}\n{out}");
}

#[test]
fn a_budget_too_small_or_malformed_is_a_clear_error() {
    for (budget, says) in [("10MiB", "below the minimum"), ("lots", "not a size")] {
        let out = run(&["ingest", "--input", "x.parquet", "--rule", OME, "--memory-budget", budget]);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{budget}: {err}");
    }
}

/// Runs `xfstore <args>` under tools/measure.py, which measures the child from outside (wait4's
/// ru_maxrss, and /proc samples of its process tree); returns (peak RSS in MiB, stdout).
pub(crate) fn measured(args: &[&str]) -> (f64, String) {
    let out = std::process::Command::new(python())
        .arg(root().join("tools/measure.py"))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_xfstore"))
        .args(args)
        .output()
        .expect("spawn tools/measure.py");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "xfstore {args:?} failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let line = stdout.lines().find_map(|l| l.strip_prefix("measure: ")).expect("measure line");
    let rec: serde_json::Value = serde_json::from_str(line).unwrap();
    (rec["peak_rss_mib"].as_f64().unwrap(), stdout)
}

/// `--per-class` real plant natural products per class (phytoClassifier, from PyPI), one
/// `.smi` file per class, by tools/data/make_class_inputs.py; returns their folder.
fn class_inputs(dir: &Path, per_class: usize) -> std::path::PathBuf {
    let classes = dir.join("classes");
    let made = std::process::Command::new(python())
        .arg(root().join("tools/data/make_class_inputs.py"))
        .args(["--out", classes.to_str().unwrap(), "--per-class", &per_class.to_string()])
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    classes
}

/// Sum of the products of every job of `campaign` in `store`, and the number of jobs.
fn campaign_products(campaign: &str, store: &str) -> (u64, usize) {
    let status = run_ok(&["status", "--campaign", campaign, "--store", store, "--json"]);
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let jobs = status["jobs"].as_array().unwrap();
    (jobs.iter().map(|j| j["products"].as_u64().unwrap()).sum(), jobs.len())
}

/// The memory guard (#27): the wide stream, 150 real plant natural products of class `other`
/// (phytoClassifier, a sugar-rich class) halogenated once then twice by class (12 rules at once
/// in k2, caps and the sugar mask, ~40,000 products with properties), at a 512 MiB budget:
/// peak RSS measured from outside stays within it. Main before the fix peaked at 1,451 MiB here
/// (the product molecules kept for properties were counted by their SMILES only).
#[test]
#[ignore = "needs the Python oracle venv (tools/setup.sh) and PyPI; tools/test.sh runs it"]
fn the_wide_stream_stays_within_its_budget_measured_from_outside() {
    let dir = tempfile::tempdir().unwrap();
    let classes = class_inputs(dir.path(), 150);
    let campaign = dir.path().join("wide.yaml");
    std::fs::write(
        &campaign,
        format!(
            "classes_file: {}\ninputs:\n  - {{name: other, path: {}, class: other}}\nsteps:\n  \
             - {{name: k1, from: [other], rules: {{by_class: k1}}}}\n  \
             - {{name: k2, from: [k1], rules: {{by_class: k2}}}}\n",
            root().join("configs/halogenation.yaml").display(),
            classes.join("other.smi").display()
        ),
    )
    .unwrap();
    let store = dir.path().join("s");
    let (campaign, store) = (campaign.to_str().unwrap(), store.to_str().unwrap());
    let (peak, out) = measured(&["run", campaign, "--store", store, "--memory-budget", "512MiB"]);
    // the shape is really there: tens of thousands of products with properties
    let (made, _) = campaign_products(campaign, store);
    assert!(made > 30_000, "{made} products: not the wide stream\n{out}");
    assert!(peak <= 512.0, "peak RSS {peak} MiB measured from outside at a 512 MiB budget\n{out}");
}

/// The memory guard's second shape (#27): the natural campaign (`configs/campaign.natural.yaml`:
/// 8 classes, k1 -> k2 -> fg, 28 streams, 390 jobs) at 10 molecules per class and the smallest
/// budget, 256 MiB. What grows here is per job, not per molecule: before the fix every product
/// family this process created held a 2 MiB RocksDB arena block around a memtable bloom filter
/// while the store was open, and this run peaked at 506 MiB (140 MiB after).
#[test]
#[ignore = "needs the Python oracle venv (tools/setup.sh) and PyPI; tools/test.sh runs it"]
fn the_natural_campaign_stays_within_the_smallest_budget_measured_from_outside() {
    let dir = tempfile::tempdir().unwrap();
    let classes = class_inputs(dir.path(), 10);
    let natural = std::fs::read_to_string(root().join("configs/campaign.natural.yaml")).unwrap();
    let natural = natural
        .replace(
            "classes_file: halogenation.yaml",
            &format!("classes_file: {}", root().join("configs/halogenation.yaml").display()),
        )
        .replace("../target/data/classes/", &format!("{}/", classes.display()));
    let campaign = dir.path().join("natural.yaml");
    std::fs::write(&campaign, natural).unwrap();
    let store = dir.path().join("s");
    let (campaign, store) = (campaign.to_str().unwrap(), store.to_str().unwrap());
    let (peak, out) = measured(&["run", campaign, "--store", store, "--memory-budget", "256MiB"]);
    let (made, jobs) = campaign_products(campaign, store);
    assert!(jobs >= 390 && made > 50_000, "{jobs} jobs, {made} products: not the natural campaign\n{out}");
    assert!(peak <= 256.0, "peak RSS {peak} MiB measured from outside at a 256 MiB budget\n{out}");
}

/// A store's column families hold RocksDB memory whether read or not (~128 KiB each, one per
/// job): a campaign that would make more than a budget can hold beside its shares is refused
/// at once, naming the budget it needs, before any work (never a run over the budget).
#[test]
fn a_campaign_of_too_many_jobs_for_the_budget_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let rules = std::fs::read_to_string(root().join("configs/transforms.yaml")).unwrap();
    let names = rules.lines().filter_map(|l| l.trim().strip_prefix("- name: "));
    let rules: Vec<&str> = names.filter_map(|l| l.split_whitespace().next()).filter(|r| !r.contains('{')).collect();
    let smi = root().join("tests/data/campaign/polyphenols.smi");
    let inputs: Vec<String> =
        (0..45).map(|i| format!("  - {{name: p{i}, path: {}, class: polyphenol}}", smi.display())).collect();
    let campaign = format!(
        "inputs:\n{}\nsteps:\n  - {{name: x, from: [{}], rules: [{}]}}\n",
        inputs.join("\n"),
        (0..45).map(|i| format!("p{i}")).collect::<Vec<_>>().join(", "),
        rules.iter().map(|r| format!("{r:?}")).collect::<Vec<_>>().join(", ")
    );
    assert!(45 * rules.len() > 819, "{} rules", rules.len());
    let c = dir.path().join("c.yaml");
    std::fs::write(&c, campaign).unwrap();
    let store = dir.path().join("s");
    let out = run(&["run", c.to_str().unwrap(), "--store", store.to_str().unwrap(), "--memory-budget", "256MiB"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("column families") && err.contains("at least 2") && err.contains("MiB"), "{err}");
    let st = status_json(store.to_str().unwrap());
    assert_eq!(st["jobs"].as_array().map(Vec::len), Some(0), "{st}");
}
