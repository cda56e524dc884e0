"""#32 item 4: a campaign step's `keep:` property filter. A filtered two-step campaign equals the
same steps done by hand: each step ingested without a filter, its export filtered with the same
predicate in DuckDB (the predicate is valid SQL over the export's columns), the filtered set
fed to the next step. Filtered products are counted per job (`filtered` = the occurrences of
the products the predicate drops), not stored, and not read by the next step; a bad predicate
is a validation error before anything runs.
"""

import json
import os
import subprocess
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[2]
XFSTORE = os.environ.get("XFSTORE_BIN", str(ROOT / "target/release/xfstore"))
POLY = ROOT / "tests/data/campaign/polyphenols.smi"
HALO = [f"HALO_AROMATIC_CH__H__TO__{x}" for x in ("F", "Cl", "Br", "I")]
KEEP1 = "MW <= 330 and cLogP <= 4.5"
KEEP2 = "(cLogP <= 4.5 or TPSA >= 60) and not (HBD > 3)"
# the export columns both sides have (the campaign's dataset adds k, halogen, root_*)
COLUMNS = ["smiles", "xf_rule_id", "xf_site_index", "xf_site_atoms", "source_smiles", "source_id", "occurrences",
           "MW", "TPSA", "HBD", "HBA", "cLogP", "RotB"]


def xf(*args):
    p = subprocess.run([XFSTORE, *map(str, args)], capture_output=True, text=True)
    assert p.returncode == 0, f"xfstore {args}: {p.stderr}"
    return p.stdout


def campaign(d, keep1, keep2):
    rules = "[" + ", ".join(HALO) + "]"
    text = (f"inputs:\n  - {{name: poly, path: {POLY}, class: polyphenol}}\nsteps:\n"
            f"  - {{name: x1, from: [poly], rules: {rules}, keep: \"{keep1}\"}}\n"
            f"  - {{name: x2, from: [x1], rules: {rules}, keep: \"{keep2}\"}}\n")
    path = d / "c.yaml"
    path.write_text(text)
    return path


def rows(con, path, where=None):
    sql = f"select {', '.join(COLUMNS)} from read_parquet('{path}')" + (f" where {where}" if where else "")
    return sorted(con.execute(sql + " order by smiles").fetchall())


def test_a_filtered_campaign_equals_the_steps_filtered_by_hand(tmp_path):
    c = campaign(tmp_path, KEEP1, KEEP2)
    store = tmp_path / "campaign"
    xf("run", c, "--store", store)
    out = tmp_path / "out"
    xf("export", "--store", store, "--campaign", c, "--output", out)
    index = {j["job"]: j for j in json.loads((out / "index.json").read_text())["jobs"]}
    status = {j["id"]: j for j in json.loads(xf("status", "--store", store, "--json"))["jobs"]}
    con = duckdb.connect()

    hand = tmp_path / "hand"
    xf("ingest", "--store", hand, "--input", POLY, "--name", "x1", *[a for r in HALO for a in ("--rule", r)])
    kept_x1 = {}
    for rule in HALO:
        job = f"x1/{rule}"
        full = tmp_path / f"hand-x1-{rule}.parquet"
        xf("export", "--store", hand, "--job", job, "--output", full)
        want = rows(con, full, KEEP1)
        got = rows(con, out / index[f"x1.poly/{rule}"]["file"])
        assert got == want and len(want) > 0, rule
        dropped = con.execute(f"select sum(occurrences) from read_parquet('{full}') where not ({KEEP1})").fetchone()[0]
        assert dropped > 0, "the predicate drops something"
        assert status[f"x1.poly/{rule}"]["counters"]["filtered"] == dropped, rule
        kept_x1[rule] = want
    # the next step reads the filtered products only: their union, the first job's id per key
    first = {}
    for rule in HALO:
        for r in kept_x1[rule]:
            first.setdefault(r[0], r[5])
    union = tmp_path / "u1.smi"
    union.write_text("".join(f"{k} {first[k]}\n" for k in sorted(first, key=str.encode)))
    xf("ingest", "--store", hand, "--input", union, "--name", "x2", *[a for r in HALO for a in ("--rule", r)])
    assert status[f"x2.x1.poly/{HALO[0]}"]["input"]["rows"] == len(first)
    kept = dropped_total = 0
    for rule in HALO:
        full = tmp_path / f"hand-x2-{rule}.parquet"
        xf("export", "--store", hand, "--job", f"x2/{rule}", "--output", full)
        want = rows(con, full, KEEP2)
        got = rows(con, out / index[f"x2.x1.poly/{rule}"]["file"])
        assert got == want, rule
        dropped = con.execute(f"select sum(occurrences) from read_parquet('{full}') where not ({KEEP2})").fetchone()[0]
        assert status[f"x2.x1.poly/{rule}"]["counters"]["filtered"] == (dropped or 0), rule
        kept, dropped_total = kept + len(want), dropped_total + (dropped or 0)
    assert kept > 0 and dropped_total > 0, "the second predicate keeps some and drops some"
    # the report counts them per class x step x rule x halogen
    report = xf("report", "--store", store, "--campaign", c, "--csv", "-").splitlines()
    assert report[0].endswith(",filtered")
    assert sum(int(l.split(",")[-1]) for l in report[1:]) == sum(j["counters"]["filtered"] for j in status.values())


def test_a_bad_predicate_is_a_validation_error_before_anything_runs(tmp_path):
    c = campaign(tmp_path, "MW <= ", "weight < 3")
    p = subprocess.run([XFSTORE, "run", c, "--store", tmp_path / "s"], capture_output=True, text=True)
    assert p.returncode != 0
    assert 'step "x1": keep: a number after' in p.stderr and 'step "x2": keep: unknown property' in p.stderr, p.stderr
    assert not (tmp_path / "s").exists()
    c = campaign(tmp_path, KEEP1, KEEP2)
    p = subprocess.run([XFSTORE, "run", c, "--store", tmp_path / "s", "--no-props"], capture_output=True, text=True)
    assert p.returncode != 0 and "run with properties" in p.stderr, p.stderr
