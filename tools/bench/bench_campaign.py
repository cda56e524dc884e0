#!/usr/bin/env python3
"""Campaign benchmark on real polyphenols: parents -> 1X -> 2X -> every FG rule in scope.

Takes N polyphenols (phytoClassifier Phenols/Flavonoids/Coumarins/Lignans/Tannins/Quinones, a
fixed stride over tests/data/natural_products_22k.parquet), writes a campaign file, and runs:
  1. `xfstore run` (one command, the whole build) into a fresh store;
  2. the same streams one by one with `xfstore ingest` (file input, then `job:` inputs) into a
     second fresh store,
and prints a table per stream (rows, rows/s, products, products/s, unique, peak RSS) for the
campaign, the store size, and the campaign's total time against the sum of the one-by-one runs
(planning and chaining must cost almost nothing). Both paths must give the same counts.

Usage: target/py/bin/python tools/bench/bench_campaign.py [N=300] [--workdir target/bench_campaign]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
XF = os.path.join(ROOT, "target/release/xfstore")
HALO = [f"HALO_AROMATIC_CH__H__TO__{x}" for x in ("F", "Cl", "Br", "I")]
CLASSES = ["Phenols", "Flavonoids", "Coumarins", "Lignans", "Tannins", "Quinones"]


def sh(args, **kw):
    t0 = time.monotonic()
    out = subprocess.run(args, check=True, capture_output=True, text=True, **kw)
    return out.stdout, time.monotonic() - t0


def status_jobs(store):
    import json
    out, _ = sh([XF, "status", "--store", store, "--json"])
    return {j["id"]: j for j in json.loads(out)["jobs"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=300)
    ap.add_argument("--workdir", default=os.path.join(ROOT, "target/bench_campaign"))
    a = ap.parse_args()
    shutil.rmtree(a.workdir, ignore_errors=True)
    os.makedirs(a.workdir)
    t = pq.read_table(os.path.join(ROOT, "tests/data/natural_products_22k.parquet")).to_pylist()
    poly = [r for r in t if r["source"].split("/")[-1] in CLASSES]
    poly = poly[:: max(1, len(poly) // a.n)][: a.n]
    inp = os.path.join(a.workdir, "polyphenols.parquet")
    pq.write_table(pa.table({"id": [r["id"] for r in poly], "smiles": [r["smiles"] for r in poly]}), inp)
    camp = os.path.join(a.workdir, "campaign.yaml")
    with open(camp, "w") as f:
        f.write("inputs:\n  - {name: poly, path: polyphenols.parquet, class: polyphenol, id_column: id}\n")
        f.write(f"steps:\n  - {{name: x1, from: [poly], rules: [{', '.join(HALO)}]}}\n")
        f.write(f"  - {{name: x2, from: [x1], rules: [{', '.join(HALO)}]}}\n")
        f.write("  - {name: fg, from: [x1, x2], rules: in_scope}\n")

    # 1. the campaign
    cstore = os.path.join(a.workdir, "store_campaign")
    out, camp_secs = sh([XF, "run", camp, "--store", cstore])
    table = [l for l in out.splitlines() if re.match(r"^(stream|x1\.|x2\.|fg\.)", l)]
    streams = [l.split()[0] for l in table[1:]]
    cjobs = status_jobs(cstore)
    size = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(cstore) for f in fs)

    # 2. the same streams one by one
    hstore = os.path.join(a.workdir, "store_by_hand")
    rules_of = {}
    for j in cjobs.values():
        rules_of.setdefault(j["input_key"], []).append(j["rule"]["name"])
    hand_secs = 0.0
    for s in streams:
        upstream = s.split(".", 1)[1]
        if upstream == "poly":
            args = ["--input", inp, "--id-column", "id"]
        else:
            args = ["--input", "job:" + ",".join(f"{upstream}/{r}" for r in rules_of[upstream])]
        rules = sum((["--rule", r] for r in rules_of[s]), [])
        _, secs = sh([XF, "ingest", "--store", hstore, "--name", s, *args, *rules])
        hand_secs += secs
    hjobs = status_jobs(hstore)
    same = all(cjobs[k]["counters"] == hjobs[k]["counters"] for k in cjobs) and cjobs.keys() == hjobs.keys()

    print(f"campaign on {len(poly)} real polyphenols (x1 -> x2 -> fg in scope), {os.cpu_count()} cores")
    print("\n".join(table))
    print(f"store: {size / 2**20:.1f} MiB on disk, "
          f"{sum(j['counters']['unique_products'] for j in cjobs.values())} unique products in {len(cjobs)} jobs, "
          f"{size / max(1, sum(j['counters']['unique_products'] for j in cjobs.values())):.0f} bytes/product")
    print(f"campaign total {camp_secs:.1f} s; the same {len(streams)} streams one by one {hand_secs:.1f} s; "
          f"ratio {camp_secs / hand_secs:.3f}; same counters in every job: {same}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
