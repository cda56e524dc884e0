#!/usr/bin/env python3
"""Properties once per distinct product (#16): xfstore against its own bare loop and the
first-seen-only Python script, on the same input, rule and cores, in one run (ratios are what
count on a noisy machine).

Runs, each under tools/measure.py (wall, CPU, peak RSS of the process tree):
  1. `xfstore bench-transform`       bare loop, properties once per distinct product (in-memory set);
  2. `xfstore ingest`                the default (blind) write path: properties for new products only;
  3. `xfstore ingest --write-path read-modify-write`   before #16: properties for every product;
  4. tools/oracle/reference_pipeline.py --first-seen-props    two processes, properties only for products
                                                       a worker has not seen before;
  5. the same three xfstore/Python runs with --no-props, for the share properties take.
Prints a Markdown table and checks that every run made the same products and unique products.

Usage: target/py/bin/python tools/bench/bench_props.py INPUT.parquet [--rule HALO_AROMATIC_CH__H__TO__Cl]...
(--rule again for each rule of a one-pass run, e.g. the 19 FG rules of a campaign's fg step)
(real polyphenols: tools/data/make_class_inputs.py --out target/data/classes_all --per-class 12286, then
polyphenol.smi converted to Parquet; any Parquet with a `smiles` column works).
"""
import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_ingest import OUT, PY, X, measured, num  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("--rule", action="append")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    inp, rules = os.path.abspath(args.input), args.rule or ["HALO_AROMATIC_CH__H__TO__Cl"]
    rule_args = [a for r in rules for a in ("--rule", r)]
    rule = rules[0] if len(rules) == 1 else f"{len(rules)} rules"
    store = os.path.join(OUT, "props.store")
    rows = []

    def xf(label, extra, props=True):
        shutil.rmtree(store, ignore_errors=True)
        cmd = [X, "ingest", "--input", inp, "--store", store] + rule_args + extra + ([] if props else ["--no-props"])
        out, m = measured(label, cmd)
        rows.append((label, m["wall_s"], int(num(r"rows, (\d+) products in", out)),
                     int(num(r"(\d+) products in all jobs", out)), m["peak_rss_mib"]))

    def bare(label, props=True):
        out, m = measured(label, [X, "bench-transform", "--input", inp] + rule_args + ([] if props else ["--no-props"]))
        rows.append((label, m["wall_s"], int(num(r"rejected\), (\d+) products", out)), None, m["peak_rss_mib"]))

    def python(label, props=True):
        ref = os.path.join(OUT, "props.reference.parquet")
        cmd = [PY, "tools/oracle/reference_pipeline.py", "--input", inp] + rule_args + ["--output", ref,
               "--workers", str(os.cpu_count())] + (["--first-seen-props"] if props else ["--no-props"])
        out, m = measured(label, cmd)
        rows.append((label, m["wall_s"], int(num(r"failed\), (\d+) products", out)), int(num(r"(\d+) unique", out)),
                     m["peak_rss_mib"]))

    bare("bare loop, properties once")
    xf("xfstore ingest (blind), properties once", [])
    xf("xfstore ingest (read-modify-write), properties for every product", ["--write-path", "read-modify-write"])
    python("Python first-seen-only, properties once")
    bare("bare loop, no properties", props=False)
    xf("xfstore ingest (blind), no properties", [], props=False)
    python("Python, no properties", props=False)
    shutil.rmtree(store, ignore_errors=True)

    products = {r[2] for r in rows}
    unique = {r[3] for r in rows if r[3] is not None}
    if len(products) != 1 or len(unique) != 1:
        raise SystemExit(f"runs disagree: {rows}")
    ref = rows[3][1]
    print(f"{os.path.basename(inp)} x {rule}: {rows[0][2]:,} products, {rows[1][3]:,} unique, {os.cpu_count()} cores")
    print("| run | seconds | products/s | peak RSS | Python first-seen / this | this / bare loop (same props) |")
    print("|---|---:|---:|---:|---:|---:|")
    for i, (label, secs, prod, _, rss) in enumerate(rows):
        bare_secs = rows[0][1] if i < 4 else rows[4][1]
        print(f"| {label} | {secs:.1f} | {prod / secs:,.0f} | {rss:,.0f} MiB | {ref / secs:.2f}x | {secs / bare_secs:.2f} |")


if __name__ == "__main__":
    main()
