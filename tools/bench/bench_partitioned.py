#!/usr/bin/env python3
"""The partitioned path's overhead against a single-machine ingest, on the same cores.

For each case, in one run: `xfstore ingest` (single machine) then `plan`, `map --all` (units one
after another, each on every core) and `reduce --all` of the same job, each measured from
outside by tools/measure.py (wall, CPU, peak RSS of the process tree). Prints per step products/s
and the overhead (plan + map + reduce over ingest), the per-unit costs the scaling model in
ARCHITECTURE.md is built from (map seconds per row, reduce seconds per product, run-file
bytes per product), and checks both paths give the same counters.

Cases (inputs made here, under target/bench_partitioned/, never committed):
  moses   100,000 drug-like MOSES rows (every 19th of target/data/moses.parquet, made by
          tools/data/make_moses.py) x aromatic C-H -> Cl, no properties
  poly2x  2X polyphenols made from the bundled sample's polyphenols (aromatic C-H -> Cl, then
          -> Br, every n-th distinct product; --poly-rows of them) x the 19 rules in scope for
          polyphenols, with properties (the replaced pipeline's heaviest job, scaled down)

Usage: target/py/bin/python tools/bench/bench_partitioned.py [--cases moses,poly2x] [--partitions 4]
       [--unit-rows 20000] [--poly-rows 3000]
"""
import argparse
import json
import os
import subprocess
import sys

import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
X = os.path.join(ROOT, "target/release/xfstore")
PY = sys.executable
W = os.path.join(ROOT, "target/bench_partitioned")


def sh(*args):
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, args))}\n{p.stderr}")
    return p.stdout


def measured(*args):
    out = sh(PY, os.path.join(ROOT, "tools/measure.py"), "--", *args)
    line = next(l for l in out.splitlines() if l.startswith("measure: "))
    return json.loads(line[len("measure: "):]), out


def prep_moses():
    src = os.path.join(ROOT, "target/data/moses.parquet")
    dst = os.path.join(W, "moses_100k.parquet")
    if not os.path.exists(dst):
        if not os.path.exists(src):
            sh(PY, os.path.join(ROOT, "tools/data/make_moses.py"), "--out", src)
        t = pq.read_table(src)
        idx = list(range(0, t.num_rows, 19))[:100_000]
        pq.write_table(t.take(idx), dst)
    return dst, ["HALO_AROMATIC_CH__H__TO__Cl"], ["--no-props"]


def prep_poly(rows):
    dst = os.path.join(W, f"poly2x_{rows}.parquet")
    rules = [r["name"] for r in yaml.safe_load(open(os.path.join(ROOT, "configs/transforms.yaml")))["rules"]
             if "polyphenol" in (r.get("scope_classes") or [])]
    if not os.path.exists(dst):
        t = pq.read_table(os.path.join(ROOT, "tests/data/sample.parquet"))
        classes = ["Phenols", "Flavonoids", "Tannins", "Lignans", "Coumarins", "Quinones"]
        keep = pc.is_in(t.column("source"), value_set=__import__("pyarrow").array([f"phytoClassifier/{c}" for c in classes]))
        poly = os.path.join(W, "poly.parquet")
        pq.write_table(t.filter(keep), poly)
        store = os.path.join(W, "prep")
        sh("rm", "-rf", store)
        sh(X, "ingest", "--store", store, "--input", poly, "--rule", "HALO_AROMATIC_CH__H__TO__Cl", "--no-props",
           "--id-column", "id", "--name", "poly1x")
        one = os.path.join(W, "poly1x.parquet")
        sh(X, "export", "--store", store, "--rule", "HALO_AROMATIC_CH__H__TO__Cl", "--output", one)
        sh(X, "ingest", "--store", store, "--input", one, "--rule", "HALO_AROMATIC_CH__H__TO__Br", "--no-props",
           "--name", "poly2x")
        two = os.path.join(W, "poly2x_all.parquet")
        sh(X, "export", "--store", store, "--rule", "HALO_AROMATIC_CH__H__TO__Br", "--output", two)
        t = pq.read_table(two, columns=["smiles", "source_id"])
        step = max(1, t.num_rows // rows)
        pq.write_table(t.take(list(range(0, t.num_rows, step))[:rows]), dst)
    return dst, rules, []


def case(name, inp, rules, extra, partitions, unit_rows):
    d = os.path.join(W, name)
    sh("rm", "-rf", d)
    os.makedirs(d)
    rule_args = [a for r in rules for a in ("--rule", r)]
    rows = pq.read_metadata(inp).num_rows
    single, _ = measured(X, "ingest", "--store", f"{d}/single", "--input", inp, *rule_args, *extra)
    run = f"{d}/run"
    plan, _ = measured(X, "plan", "--out", run, "--input", inp, *rule_args, *extra, "--partitions", partitions,
                       "--unit-rows", unit_rows)
    mp, _ = measured(X, "map", run, "--all")
    red, _ = measured(X, "reduce", run, "--all")
    st_single = json.loads(sh(X, "status", "--store", f"{d}/single", "--json"))
    st_run = json.loads(sh(X, "status", "--store", run, "--json"))
    products = sum(j["counters"]["site_products"] for j in st_single["jobs"])
    unique = sum(j["counters"]["unique_products"] for j in st_single["jobs"])
    same = (products, unique) == (sum(j["products"] for j in st_run["jobs"]), sum(j["unique"] for j in st_run["jobs"]))
    units = [json.load(open(os.path.join(run, "units", u, "done.json"))) for u in sorted(os.listdir(f"{run}/units"))]
    run_bytes = sum(u["run_bytes"] for u in units)
    shard_bytes = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(f"{run}/shards") for f in fs)
    part = plan["wall_s"] + mp["wall_s"] + red["wall_s"]
    print(f"\n## {name}: {rows:,} rows x {len(rules)} rule(s) {' '.join(extra)}: {products:,} products, "
          f"{unique:,} unique; {len(units)} units of {unit_rows} rows, {partitions} partitions; "
          f"counters equal: {same}")
    print("| step | wall s | products/s | CPU (100% = all cores) | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|")
    for label, m in [("single-machine ingest", single), ("plan", plan), ("map (all units)", mp),
                     ("reduce (all partitions)", red)]:
        print(f"| {label} | {m['wall_s']:.1f} | {products / max(m['wall_s'], 1e-9):,.0f} | "
              f"{m.get('cpu_pct', 0):.0f}% | {m['peak_rss_mib']:.0f} |")
    print(f"| **partitioned total** | **{part:.1f}** | {products / part:,.0f} | | |")
    print(f"overhead: partitioned / single = {part / single['wall_s']:.3f} "
          f"({100 * (part / single['wall_s'] - 1):+.1f}%)")
    print(f"per-unit costs: map {mp['wall_s'] / rows * 1e3:.3f} ms/row on all cores "
          f"({mp['wall_s'] / max(products, 1) * 1e6:.2f} us/product); reduce "
          f"{red['wall_s'] / max(products, 1) * 1e6:.2f} us/product; run files {run_bytes / max(products, 1):.1f} "
          f"bytes/product; shards {shard_bytes / max(unique, 1):.1f} bytes/unique product")
    cores = os.cpu_count()
    return same, {
        "map_cpu_per_product": mp["wall_s"] * cores * mp["cpu_pct"] / 100 / max(products, 1),
        "reduce_cpu_per_product": red["wall_s"] * cores * red["cpu_pct"] / 100 / max(products, 1),
        "run_bytes_per_product": run_bytes / max(products, 1),
        "shard_bytes_per_unique": shard_bytes / max(unique, 1),
        "job_shards": len(rules) * int(partitions),
    }


def model(poly, moses, rows=13_790_000, products_per_rule=90e6, rules=19, cores=16, partitions=64,
          unit_rows=5_000, util=0.94):
    """Wall time of polyphenol-2X x 19 rules against machine count, from the measured per-unit
    costs: map CPU per product (the poly2x case: 2X polyphenols, 19 rules, properties), reduce CPU
    per product (the larger MOSES case; its fixed cost per job and shard from poly2x)."""
    products = products_per_rule * rules
    units = -(-rows // unit_rows)
    unit_secs = products / units * poly["map_cpu_per_product"] / (cores * util)  # one map per machine, all cores
    part_products = products / partitions
    reduce_secs = part_products * moses["reduce_cpu_per_product"] + rules * 0.03  # ~one core per reduce
    print(f"\n## model: polyphenol-2X, {rows:,} rows x {rules} rules x {products_per_rule / 1e6:.0f}M products per rule "
          f"= {products / 1e9:.2f}B products; machines of {cores} cores; {units} units of {unit_rows:,} rows "
          f"({unit_secs / 60:.1f} min each on one machine), {partitions} partitions")
    print(f"measured: map {poly['map_cpu_per_product'] * 1e3:.3f} ms CPU/product, reduce "
          f"{moses['reduce_cpu_per_product'] * 1e6:.2f} us CPU/product, run files {poly['run_bytes_per_product']:.0f} "
          f"bytes/product, shards {poly['shard_bytes_per_unique']:.0f} bytes/product")
    print("| machines | map waves | map h | reduce waves | reduce h | total h | speed-up | run files written+read per second |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    base = None
    for n in [1, 2, 4, 8, 16, 32, 64]:
        map_waves = -(-units // n)
        map_h = map_waves * unit_secs / 3600
        red_waves = -(-partitions // (n * cores))
        red_h = red_waves * reduce_secs / 3600
        total = map_h + red_h
        base = base or total
        io = 2 * products * poly["run_bytes_per_product"] / ((total) * 3600)
        print(f"| {n} | {map_waves} | {map_h:.1f} | {red_waves} | {red_h:.2f} | {total:.1f} | {base / total:.1f}x | "
              f"{io / 2**20:,.0f} MiB/s |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default="moses,poly2x")
    ap.add_argument("--partitions", default="4")
    ap.add_argument("--unit-rows", default="20000")
    ap.add_argument("--poly-rows", type=int, default=3000)
    ap.add_argument("--poly-unit-rows", default="500")
    a = ap.parse_args()
    os.makedirs(W, exist_ok=True)
    ok, costs = True, {}
    for c in a.cases.split(","):
        if c == "moses":
            same, costs[c] = case("moses", *prep_moses(), a.partitions, a.unit_rows)
        elif c == "poly2x":
            same, costs[c] = case("poly2x", *prep_poly(a.poly_rows), a.partitions, a.poly_unit_rows)
        else:
            sys.exit(f"unknown case {c}")
        ok &= same
    if "moses" in costs and "poly2x" in costs:
        model(costs["poly2x"], costs["moses"])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
