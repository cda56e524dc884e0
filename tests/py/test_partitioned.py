"""Partitioned runs scheduled by Ray on a local multi-node cluster (ray.cluster_utils.Cluster),
and by the plain-shell fallback, against a single-machine ingest of the same job: the union of
the shard exports must equal the single-machine export row for row (keys, occurrences,
provenance, properties), every product must sit in the shard its xxh3 says (checked with the
independent Python xxhash), and queries must reach it there.

Run by tools/test.sh: ``target/py/bin/python -m pytest tests/py``.
"""

import glob
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import ray
import xxhash
from ray.cluster_utils import Cluster

import xfstore_ray

ROOT = Path(__file__).resolve().parents[2]
XFSTORE = os.environ.get("XFSTORE_BIN", str(ROOT / "target/release/xfstore"))
SAMPLE = str(ROOT / "tests/data/sample.parquet")
OME, CL = "FG_PHENOL_OH__OH__TO__OMe", "HALO_AROMATIC_CH__H__TO__Cl"
RULES = [OME, CL]
SEED = 0x78667374_6F726531  # PARTITION_SEED in src/partition/mod.rs
PLAN = ["--input", SAMPLE, "--rule", OME, "--rule", CL, "--id-column", "id", "--carry", "name", "--partitions", "4"]


def xf(*args, check=True):
    p = subprocess.run([XFSTORE, *map(str, args)], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"xfstore {args} failed ({p.returncode}): {p.stderr}")
    return p


def rows_of(files):
    rows = []
    for f in files:
        rows += [tuple(str(v) for v in r.values()) for r in pq.read_table(f).to_pylist()]
    return sorted(rows, key=lambda r: r[0].encode())


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The single-machine ingest of the same job: exports per rule, and the store."""
    d = tmp_path_factory.mktemp("single")
    store = d / "store"
    xf("ingest", "--store", store, "--input", SAMPLE, "--rule", OME, "--rule", CL, "--id-column", "id", "--carry", "name")
    out = {}
    for r in RULES:
        xf("export", "--store", store, "--rule", r, "--output", d / f"{r}.parquet")
        out[r] = rows_of([d / f"{r}.parquet"])
    assert len(out[CL]) > 9000
    return {"store": store, "rows": out}


def check_run(run_dir, reference, tmp):
    """Shard exports equal the reference row for row; each product is in its xxh3 partition;
    queries through the run folder answer as the single store does."""
    for r in RULES:
        out = tmp / f"export-{r}"
        xf("export", "--store", run_dir, "--rule", r, "--output", out)
        xf("verify", out)
        parts = sorted(glob.glob(str(out / "part-*.parquet")))
        assert len(parts) == 4
        for k, part in enumerate(parts):
            for smiles in pq.read_table(part, columns=["smiles"]).column("smiles").to_pylist():
                assert xxhash.xxh3_64_intdigest(smiles.encode(), seed=SEED) % 4 == k, (smiles, k)
        assert rows_of(parts) == reference["rows"][r], f"{r}: shard exports differ from the single-machine export"
    queries = [row[0] for row in reference["rows"][CL][::40]] + ["C1=CC=C(OC)C=C1", "CCCC", "not a smiles"]
    qfile = tmp / "queries.smi"
    qfile.write_text("".join(q + "\n" for q in queries))
    ask = lambda store: xf("query", "--store", store, "--json", "--sequential", "--file", qfile, check=False).stdout
    got, want = ask(run_dir), ask(reference["store"])
    assert len(got.splitlines()) == len(queries)
    assert got == want


CAMPAIGN = ROOT / "configs/campaign.example.yaml"


@pytest.fixture(scope="module")
def campaign_store(tmp_path_factory):
    """The example campaign (8 streams, 92 jobs, chained steps) run by `xfstore run`."""
    store = tmp_path_factory.mktemp("campaign") / "store"
    xf("run", CAMPAIGN, "--store", store)
    return store


STATUS_SCHEMA = json.loads((ROOT / "schemas/status.schema.json").read_text())


def status_of(folder, kind):
    """`status --json` of a folder: valid against schemas/status.schema.json, of the kind
    expected, and what the Python module's Store.status() returns."""
    import jsonschema
    import xfstore

    text = xf("status", "--store", folder, "--json").stdout
    lines = [json.loads(text)] if kind == "store" else [json.loads(line) for line in text.splitlines()]
    for doc in lines:
        jsonschema.validate(doc, STATUS_SCHEMA)
    with xfstore.Store(str(folder)) as st:
        summary = st.status()
    jsonschema.validate(summary, STATUS_SCHEMA)
    assert summary["kind"] == kind
    if kind == "store":
        lines[0]["disk_bytes"] = summary["disk_bytes"]  # the same files, counted a moment apart
    if kind == "partitioned_campaign":
        # the JSON lines: a run per planned stream, then the streams waiting
        assert [d for d in lines if d["kind"] == "partitioned_run"] == summary["runs"]
        assert [d["stream"] for d in lines if d["kind"] == "waiting"] == summary["waiting"]
    else:
        assert lines == [summary]
    return summary


def same_dataset(exports, index):
    """#32 item 1: a campaign export is one Hive-partitioned dataset: DuckDB, polars and pyarrow
    read each folder as one table with class, step and rule columns, the same rows as the index
    says, the same counts per class x step x halogen in all three; the partitioned campaign's
    dataset equals the single store's."""
    import duckdb
    import polars as pl
    import pyarrow.dataset as ds
    rows = sum(j["rows"] for j in index["jobs"])
    counts = []
    for e in exports:
        con = duckdb.connect()
        glob = f"{e}/**/*.parquet"
        q = f"select class, step, halogen, k, count(*) from read_parquet('{glob}', hive_partitioning=true) group by all order by all"
        by_duckdb = [tuple(r) for r in con.execute(q).fetchall()]
        assert sum(r[-1] for r in by_duckdb) == rows
        t = ds.dataset(e, format="parquet", partitioning="hive", exclude_invalid_files=True).to_table()
        assert {"class", "step", "rule", "k", "halogen", "root_id", "root_smiles"} <= set(t.column_names)
        assert t.num_rows == rows
        df = pl.scan_parquet(glob, hive_partitioning=True).group_by("class", "step", "halogen", "k").len().collect()
        by_polars = sorted((r["class"], r["step"], r["halogen"], r["k"], r["len"]) for r in df.iter_rows(named=True))
        key = lambda r: tuple("" if v is None else str(v) for v in r)
        assert sorted(by_duckdb, key=key) == sorted(by_polars, key=key)
        # a halogenation step's rows name their halogen; k counts the steps: x1 1, x2 2
        assert all((s != "x1" or (h is not None and k == 1)) and (s != "x2" or k == 2) for _, s, h, k, _ in by_duckdb)
        counts.append(by_duckdb)
    assert counts[0] == counts[1]


def same_campaign(campaign, single, parted, tmp):
    """#29: a campaign folder built by Ray reads as the store `xfstore run` built: report --csv
    byte-equal, export --campaign Arrow-equal file by file, query --json equal (batch, by
    parent), and the Python module's Store equal (jobs, products() tables, lookups)."""
    status_of(single, "store")
    doc = status_of(parted, "partitioned_campaign")
    assert doc["complete"] and doc["waiting"] == [] and len(doc["runs"]) == 8
    report = [xf("report", "--campaign", campaign, "--store", st, "--csv", "-").stdout for st in (single, parted)]
    assert report[0] == report[1] and report[0].count("\n") == 55
    exports = [tmp / f"{st.name}.export" for st in (single, parted)]
    for st, out in zip((single, parted), exports):
        xf("export", "--campaign", campaign, "--store", st, "--output", out)
    assert (exports[0] / "index.json").read_text() == (exports[1] / "index.json").read_text()
    files = sorted(str(p.relative_to(exports[0])) for p in exports[0].rglob("*.parquet"))
    assert len(files) == 92 and all(f.startswith("class=") for f in files)
    same_dataset(exports, json.loads((exports[0] / "index.json").read_text()))
    queries = []
    for f in files:
        a, b = (pq.read_table(e / f) for e in exports)
        assert a.equals(b), f
        queries += a.column("smiles").to_pylist()[:3]
    (tmp / "q.smi").write_text("".join(f"{q} q{i}\n" for i, q in enumerate(queries)) + "CCCCCCCCCC missing\n")
    answers = [xf("query", "--store", st, "--json", "--file", tmp / "q.smi", check=False) for st in (single, parted)]
    assert answers[0].returncode == answers[1].returncode == 1
    assert answers[0].stdout == answers[1].stdout and answers[0].stdout.count('"found"') >= 90
    # parents: products of the first step (read by the later steps)
    parents = [q for f in files if "/step=x1/" in f for q in pq.read_table(exports[0] / f).column("smiles").to_pylist()[:2]]
    answers = [xf("query", "--store", st, "--json", "--parent", *parents, check=False).stdout for st in (single, parted)]
    assert answers[0] == answers[1] and answers[0].count('"job"') >= 20
    import xfstore
    with xfstore.Store(str(single)) as a, xfstore.Store(str(parted)) as b:
        ids = [j["id"] for j in a.jobs()]
        assert ids == [j["id"] for j in b.jobs()] and len(ids) == 92
        for j in ids:
            assert a.products(j).read_all().equals(b.products(j, batch_rows=97).read_all()), j
        hits = [[(h.job, h.smiles, h.occurrences) for h in r] for r in a.lookup_many(queries)]
        assert hits == [[(h.job, h.smiles, h.occurrences) for h in r] for r in b.lookup_many(queries)]
        assert [a.products_of_parent(q) is None for q in parents] == [b.products_of_parent(q) is None for q in parents]
        # #32: the same lineage (every path, original rows and ids) and descendants
        for q in queries[::4]:
            la = a.lineage(q)
            assert la.num_rows > 0 and la.equals(b.lineage(q)), q
        ids = {i for f in files if "/step=x1/" in f for i in pq.read_table(exports[0] / f).column("source_id").to_pylist()[:2]}
        for i in sorted(x for x in ids if x):
            da = a.descendants(i)
            assert da.num_rows > 0 and da.equals(b.descendants(i)), i


def cluster(nodes=2):
    c = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "object_store_memory": 100 * 2**20,
            "include_dashboard": False,
            # notice a removed node within a couple of seconds
            "_system_config": {"health_check_period_ms": 500, "health_check_failure_threshold": 3},
        },
    )
    for _ in range(nodes - 1):
        c.add_node(num_cpus=1, object_store_memory=100 * 2**20)
    c.wait_for_nodes()
    return c


def driver(run_dir, address, *extra, plan=True, unit_rows=150):
    args = [sys.executable, "-m", "xfstore_ray", str(run_dir), "--address", address, "--xfstore", XFSTORE, *extra]
    if plan:
        args += ["--", *PLAN, "--unit-rows", str(unit_rows)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def done_units(run_dir):
    return len(glob.glob(str(run_dir / "units/unit-*/done.json")))


def test_two_node_ray_cluster_equals_a_single_machine_run(reference, campaign_store, tmp_path):
    c = cluster(2)
    try:
        ray.init(address=c.address, include_dashboard=False, log_to_driver=False)
        run_dir = tmp_path / "run"
        summary = xfstore_ray.run(run_dir, [*PLAN, "--unit-rows", "300"], xfstore=XFSTORE, progress=lambda s: None)
        assert summary.units == 9 and summary.partitions == 4 and summary.units_skipped == 0
        assert len(summary.nodes) == 2, f"both nodes ran steps: {summary.nodes}"
        assert all(j["state"] == "complete" for j in summary.status["jobs"])
        check_run(run_dir, reference, tmp_path)
        # run again: everything is skipped
        again = xfstore_ray.run(run_dir, None, xfstore=XFSTORE, progress=lambda s: None)
        assert again.units_skipped == 9 and again.partitions_skipped == 4
        # a campaign with chained steps (configs/campaign.example.yaml, 8 streams, 92 jobs): the
        # driver runs it stage by stage; the same counters as `xfstore run`
        campaign = ROOT / "configs/campaign.example.yaml"
        c_run = xfstore_ray.run(tmp_path / "crun", [str(campaign), "--partitions", "3", "--unit-rows", "200"],
                                xfstore=XFSTORE, progress=lambda s: None)
        assert len(c_run.status["runs"]) == 8 and len(c_run.status["jobs"]) == 92
        single = {j["id"]: j["counters"] for j in json.loads(xf("status", "--store", campaign_store, "--json").stdout)["jobs"]}
        for j in c_run.status["jobs"]:
            assert j["state"] == "complete"
            assert (j["products"], j["unique"]) == (single[j["job"]]["site_products"], single[j["job"]]["unique_products"]), j
        same_campaign(campaign, campaign_store, tmp_path / "crun", tmp_path)
    finally:
        ray.shutdown()
        c.shutdown()


def test_a_node_removed_during_map_gives_the_same_result(reference, tmp_path):
    c = cluster(2)
    worker = c.list_all_nodes()[1]
    run_dir, attempts = tmp_path / "run", tmp_path / "attempts"
    try:
        # 3 units of 900 rows (~2 s of map each): one runs on the worker node when it is removed
        p = driver(run_dir, c.address, "--attempts-dir", str(attempts), unit_rows=900)
        deadline = time.time() + 120
        on_worker = []
        while not on_worker:
            assert p.poll() is None, p.communicate()
            assert time.time() < deadline
            time.sleep(0.02)
            names = os.listdir(attempts) if attempts.exists() else []
            on_worker = [n for n in names if n.startswith("map-") and n.split(".")[1] == worker.node_id]
        unit = int(on_worker[0].split(".")[0].split("-")[1])
        assert not (run_dir / f"units/unit-{unit:06}/done.json").exists()
        c.remove_node(worker)  # its raylet and workers die; their xfstore steps with them
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        retried = [n for n in os.listdir(attempts) if n.startswith(f"map-{unit}.")]
        assert len(retried) == 2, f"the map of unit {unit} on the removed node ran again elsewhere: {retried}"
        check_run(run_dir, reference, tmp_path)
    finally:
        c.shutdown()


def test_a_killed_driver_restarted_skips_finished_units(reference, tmp_path):
    c = cluster(2)
    run_dir = tmp_path / "run"
    try:
        p = driver(run_dir, c.address)
        deadline = time.time() + 120
        while done_units(run_dir) < 3:
            assert p.poll() is None, p.communicate()
            assert time.time() < deadline
            time.sleep(0.05)
        p.send_signal(signal.SIGKILL)
        p.wait()
        finished = done_units(run_dir)
        assert 3 <= finished < 18, f"killed with {finished} of 18 units done"
        time.sleep(1)  # the dead driver's tasks are cancelled, their steps die with their workers
        again = driver(run_dir, c.address, plan=False)
        out, err = again.communicate(timeout=300)
        assert again.returncode == 0, err
        line = next(l for l in err.splitlines() if l.startswith("map: ") and "already done" in l)
        skipped = int(line.split()[1].split("/")[0])
        assert skipped >= finished, f"the restarted driver skipped {skipped}, {finished} were done: {line}"
        check_run(run_dir, reference, tmp_path)
    finally:
        c.shutdown()


def test_the_shell_fallback_gives_the_same_result(reference, campaign_store, tmp_path):
    run_dir = tmp_path / "run"
    env = {**os.environ, "XFSTORE": XFSTORE}
    cmd = [str(ROOT / "tools/partitioned_run.sh"), str(run_dir), "-j", "2", "--", *PLAN, "--unit-rows", "700"]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    assert "units mapped 4/4, shards reduced 4/4 (complete)" in p.stdout
    check_run(run_dir, reference, tmp_path)
    st = status_of(run_dir, "partitioned_run")
    assert st["complete"] and st["units_done"] == 4 and st["shards_done"] == 4
    # a campaign just planned: its first step's runs, the other streams waiting
    xf("plan", CAMPAIGN, "--out", tmp_path / "planned", "--partitions", "2")
    planned = status_of(tmp_path / "planned", "partitioned_campaign")
    assert len(planned["runs"]) == 2 and len(planned["waiting"]) == 6 and not planned["complete"]
    # a partitioned campaign through the shell fallback reads as `xfstore run`'s store
    crun = tmp_path / "crun"
    cmd = [str(ROOT / "tools/partitioned_run.sh"), str(crun), "-j", "2", "--", str(CAMPAIGN), "--partitions", "2",
           "--unit-rows", "150"]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    same_campaign(CAMPAIGN, campaign_store, crun, tmp_path)
