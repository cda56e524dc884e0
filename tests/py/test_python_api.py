"""The xfstore Python module (PyO3, built by maturin into target/py by tools/setup.sh) against
the CLI on real data: lookups equal `xfstore query --json`; Store.products() equals the Parquet
export row for row and is read by pandas, polars and DuckDB; Ctrl-C during an ingest then a
resume gives the export of an uninterrupted run; a store is read while the CLI ingests into it;
errors are the module's exception classes.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pandas
import polars
import pyarrow.parquet as pq
import pytest

import xfstore

ROOT = Path(__file__).resolve().parents[2]
XFSTORE = os.environ.get("XFSTORE_BIN", str(ROOT / "target/release/xfstore"))
SAMPLE = str(ROOT / "tests/data/sample.parquet")
OME, CL = "FG_PHENOL_OH__OH__TO__OMe", "HALO_AROMATIC_CH__H__TO__Cl"


def xf(*args):
    p = subprocess.run([XFSTORE, *map(str, args)], capture_output=True, text=True)
    assert p.returncode in (0, 1), f"xfstore {args}: {p.stderr}"
    return p.stdout


@pytest.fixture(scope="module")
def cli_store(tmp_path_factory):
    d = tmp_path_factory.mktemp("api")
    store = d / "store"
    xf("ingest", "--store", store, "--input", SAMPLE, "--rule", OME, "--rule", CL, "--id-column", "id", "--carry", "name")
    for r in (OME, CL):
        xf("export", "--store", store, "--rule", r, "--output", d / f"{r}.parquet")
    return d


def test_lookups_equal_the_cli(cli_store):
    store = xfstore.Store(cli_store / "store")
    smiles = pq.read_table(cli_store / f"{CL}.parquet", columns=["smiles"]).column("smiles").to_pylist()[::97]
    queries = smiles + ["C1=CC=C(OC)C=C1", "COc1ccccc1", "CCCCCCCC"]
    qfile = cli_store / "q.smi"
    qfile.write_text("".join(q + "\n" for q in queries))
    cli = [json.loads(l) for l in xf("query", "--store", cli_store / "store", "--json", "--sequential", "--file", qfile).splitlines()]
    py = store.lookup_many(queries)
    assert len(cli) == len(py) == len(queries)
    found = 0
    for c, p, q in zip(cli, py, queries):
        single = store.lookup(q)
        assert (p is None) == (single is None) and (p is None or [x.smiles for x in p] == [x.smiles for x in single])
        if p is None:
            assert c["status"] == "not_found", (q, c)
            continue
        found += 1
        assert c["status"] == "found"
        assert [h["job"] for h in c["hits"]] == [x.job for x in p]
        for h, x in zip(c["hits"], p):
            for field in ("smiles", "job", "rule", "label", "parent_row", "parent_id", "parent_smiles", "site_index",
                          "site_atoms", "occurrences", "props", "carried"):
                assert h[field] == getattr(x, field), (field, h, x)
    assert found >= len(smiles)
    anisole = store.lookup("C1=CC=C(OC)C=C1", rule=OME)
    assert anisole[0].smiles == "COc1ccccc1" and anisole[0].parent_smiles == "C1=CC=C(C=C1)O"
    assert store.lookup("CCCCCCCC") is None
    with pytest.raises(ValueError):
        store.lookup("not a smiles")
    assert store.lookup_many(["not a smiles", "COc1ccccc1"], strict=False)[0] is None
    parents = store.products_of_parent("Oc1ccccc1")
    assert {p.smiles for p in parents} >= {"COc1ccccc1"}


def test_products_equal_the_parquet_export_row_for_row(cli_store):
    store = xfstore.Store(cli_store / "store")
    for r in (OME, CL):
        exported = pq.read_table(cli_store / f"{r}.parquet")
        streamed = store.products(rule=r, batch_rows=1000).read_all()
        assert streamed.num_rows == exported.num_rows > 1000
        assert streamed.schema.equals(exported.schema, check_metadata=False)
        assert streamed.equals(exported.replace_schema_metadata(None)), r


def test_pandas_polars_and_duckdb_read_the_stream(cli_store):
    store = xfstore.Store(cli_store / "store")
    exported = pq.read_table(cli_store / f"{CL}.parquet")
    df = store.products(rule=CL).read_pandas()
    assert isinstance(df, pandas.DataFrame) and len(df) == exported.num_rows
    assert df["occurrences"].sum() == sum(exported.column("occurrences").to_pylist())
    pl = polars.from_arrow(store.products(rule=CL))
    assert isinstance(pl, polars.DataFrame) and pl.height == exported.num_rows
    assert pl["smiles"].to_list() == exported.column("smiles").to_pylist()
    reader = store.products(rule=CL)
    n, occ = duckdb.sql("SELECT count(*), sum(occurrences) FROM reader").fetchall()[0]
    assert (n, occ) == (exported.num_rows, sum(exported.column("occurrences").to_pylist()))


def test_status_jobs_and_errors(cli_store, tmp_path):
    store = xfstore.Store(cli_store / "store")
    st = store.status()
    cli = json.loads(xf("status", "--store", cli_store / "store", "--json"))
    assert [j["id"] for j in st["jobs"]] == [j["id"] for j in cli["jobs"]]
    assert [j["counters"] for j in store.jobs()] == [j["counters"] for j in cli["jobs"]]
    with pytest.raises(xfstore.StoreError) as e:
        xfstore.Store(tmp_path / "nothing")
    assert e.value.kind == "store" and "no store" in str(e.value)
    with pytest.raises(xfstore.RuleError) as e:
        xfstore.ingest(tmp_path / "s", SAMPLE, ["NO_SUCH_RULE"])
    assert isinstance(e.value, xfstore.XfstoreError) and "unknown rule" in str(e.value)
    with pytest.raises(xfstore.InputError):
        xfstore.ingest(tmp_path / "s", str(tmp_path / "missing.parquet"), [OME])
    assert xfstore.canonicalize("C1=CC=C(OC)C=C1") == "COc1ccccc1"
    assert xfstore.versions()["rdkit"]


def test_a_writer_store_holds_the_lock_until_closed(cli_store, tmp_path):
    store = tmp_path / "store"
    xf("ingest", "--store", store, "--input", SAMPLE, "--rule", OME, "--max-rows", "100")
    ingest = [XFSTORE, "ingest", "--store", str(store), "--input", SAMPLE, "--rule", OME]
    with xfstore.Store(store, read_only=False) as w:
        p = subprocess.run(ingest, capture_output=True, text=True)
        assert p.returncode != 0 and "locked by pid" in p.stderr, p.stderr
        assert w.jobs()[0]["offset"] == 100
        w.compact()
        reader = w.products(rule=OME, allow_incomplete=True)
    with pytest.raises(xfstore.StoreError, match="closed"):
        w.lookup("COc1ccccc1")
    assert "closed" in repr(w)
    assert reader.read_all().num_rows > 0  # a stream made before close still reads
    p = subprocess.run(ingest, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr  # the lock was released by close()
    with pytest.raises(xfstore.StoreError, match="read_only=False"):
        xfstore.Store(store).compact()


INTERRUPTED = textwrap.dedent(
    """
    import sys, xfstore
    store, sample, rule = sys.argv[1:4]
    seen = []
    def progress(rows, products):
        seen.append(rows)
        print(f"progress {rows}", flush=True)
    try:
        xfstore.ingest(store, sample, [rule], batch_rows=32, progress=progress)
        print("finished", flush=True)
    except KeyboardInterrupt:
        print(f"interrupted after {seen[-1]}", flush=True)
    """
)


def test_ctrl_c_during_an_ingest_then_a_resume_gives_the_same_export(tmp_path):
    store = tmp_path / "store"
    p = subprocess.Popen([sys.executable, "-c", INTERRUPTED, str(store), SAMPLE, CL], stdout=subprocess.PIPE, text=True)
    first = p.stdout.readline()
    assert first.startswith("progress"), first
    p.send_signal(signal.SIGINT)
    out = first + p.stdout.read()
    assert p.wait() == 0
    assert "interrupted after" in out, out
    job = xfstore.Store(store).jobs()[0]
    assert job["committed_state"] == "partial" and 0 < job["offset"] < 2700, job
    report = xfstore.ingest(store, SAMPLE, [CL])  # the resume
    assert report["jobs"][0]["resumed_from"] == job["offset"] and report["jobs"][0]["state"] == "complete"
    xf("ingest", "--store", tmp_path / "whole", "--input", SAMPLE, "--rule", CL)
    a = xfstore.Store(store).products(rule=CL).read_all()
    b = xfstore.Store(tmp_path / "whole").products(rule=CL).read_all()
    assert a.equals(b)


def test_a_store_is_read_while_the_cli_ingests_into_it(cli_store, tmp_path):
    store = tmp_path / "store"
    p = subprocess.Popen(
        [XFSTORE, "ingest", "--store", store, "--input", SAMPLE, "--rule", OME, "--rule", CL, "--batch-rows", "32"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    reads = 0
    while p.poll() is None:
        try:
            s = xfstore.Store(store)
        except xfstore.StoreError:
            time.sleep(0.05)  # not created yet
            continue
        jobs = s.jobs()
        if jobs and 0 < jobs[0]["offset"] < 2700:
            reads += 1
            s.lookup("COc1ccccc1")
            s.products(rule=CL, allow_incomplete=True).read_all()
        time.sleep(0.05)
    assert p.returncode == 0
    assert reads >= 3, f"only {reads} reads happened during the ingest"
    # what was ingested while being read is what an undisturbed ingest makes (no id/carry here)
    whole = tmp_path / "whole"
    xf("ingest", "--store", whole, "--input", SAMPLE, "--rule", CL)
    final = xfstore.Store(store).products(rule=CL).read_all()
    assert final.equals(xfstore.Store(whole).products(rule=CL).read_all())


def test_run_a_campaign(tmp_path):
    report = xfstore.run(ROOT / "configs/campaign.example.yaml", tmp_path / "store", no_props=True)
    assert not report["stopped"] and len(report["streams"]) == 8
    jobs = xfstore.Store(tmp_path / "store").jobs()
    assert len(jobs) == 92 and all(j["committed_state"] == "complete" for j in jobs)


def test_rows_appended_to_an_input_are_the_only_new_work_from_python(tmp_path):
    """#30 from Python: an ingest of a grown `.smi` runs only the appended rows and ends
    where an ingest of the whole file does (Arrow equality of every column)."""
    rows = pq.read_table(SAMPLE, columns=["smiles", "id"]).to_pylist()
    smi = tmp_path / "lib.smi"
    lines = [f"{r['smiles']}\t{r['id']}\n" for r in rows]
    smi.write_text("".join(lines[:1000]))
    store = tmp_path / "store"
    first = xfstore.ingest(store, smi, [CL, OME], no_props=True)
    assert [j["state"] for j in first["jobs"]] == ["complete", "complete"], first
    with open(smi, "a") as f:
        f.write("".join(lines[1000:]))
    grown = xfstore.ingest(store, smi, [CL, OME], no_props=True)
    for job in grown["jobs"]:
        assert job["resumed_from"] == 1000 and job["state"] == "complete", job
    whole = tmp_path / "whole"
    xf("ingest", "--store", whole, "--input", smi, "--rule", CL, "--rule", OME, "--no-props")
    for rule in (CL, OME):
        a = xfstore.Store(store).products(rule=rule).read_all()
        b = xfstore.Store(whole).products(rule=rule).read_all()
        assert a.num_rows > 0 and a.equals(b), rule
