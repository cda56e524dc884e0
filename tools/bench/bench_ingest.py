#!/usr/bin/env python3
"""Ingest/export benchmark: xfstore against its own bare transform loop and against the Python
reference (tools/oracle/reference_pipeline.py), on the same input, the same rule and the same cores, in
one run, so the ratios are comparable even on a noisy machine.

For each input it runs, each under tools/measure.py (wall, CPU % of all cores, peak RSS of the
whole process tree):
  1. `xfstore bench-transform`  the bare loop: same reader and per-row transform, no store;
  2. `xfstore ingest`           into a fresh store (+ store size, bytes per unique product);
  3. `xfstore export`           the job to Parquet (rows/s);
  4. the Python reference       multiprocessing Pool (one worker per core), set dedup, pyarrow.
Appends one JSON object per input to target/bench/ingest.jsonl and prints a Markdown table.

Usage: target/py/bin/python tools/bench/bench_ingest.py INPUT.parquet [INPUT2 ...]
           [--rule FG_PHENOL_OH__OH__TO__OMe] [--no-props] [--budget 1GiB] [--skip-reference]
           [--skip-bare] [--reference-preload /usr/lib/x86_64-linux-gnu/libmimalloc.so.2]
--skip-bare leaves out step 1 (it doubles a long run; the ratio is measured on smaller inputs).
--reference-preload runs the Python reference with that malloc LD_PRELOADed: xfstore links
mimalloc, and this shows how much of the gap is the allocator alone (apt: libmimalloc2.0).
Inputs: tools/data/make_polyphenol_2x.sh (target/data/polyphenol_2x_*.parquet).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
X = os.environ.get("XFSTORE") or os.path.join(ROOT, "target/release/xfstore")  # XFSTORE: another build
PY = os.path.join(ROOT, "target/py/bin/python")
OUT = os.path.join(ROOT, "target/bench")


def measured(label, cmd, env=None):
    """Runs cmd under measure.py; returns (stdout text, measure dict)."""
    full = [sys.executable, os.path.join(ROOT, "tools/measure.py"), "--label", label, "--"] + cmd
    print("$ " + " ".join([f"{k}={v}" for k, v in (env or {}).items()] + cmd), file=sys.stderr, flush=True)
    p = subprocess.run(full, cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, **(env or {})))
    sys.stderr.write(p.stdout + p.stderr)
    m = re.search(r"^measure: (.*)$", p.stdout, re.M)
    if p.returncode != 0 or not m:
        raise SystemExit(f"{label} failed (exit {p.returncode})")
    return p.stdout, json.loads(m.group(1))


def num(pattern, text):
    m = re.search(pattern, text)
    return float(m.group(1)) if m else None


def compaction_cpu_s(store):
    """CPU seconds RocksDB's compactions took, from the store's LOG files (compaction_finished)."""
    total = 0
    for f in os.listdir(store):
        if f.startswith("LOG"):
            with open(os.path.join(store, f), errors="replace") as fh:
                total += sum(int(x) for x in re.findall(r'"compaction_time_cpu_micros": (\d+)', fh.read()))
    return total / 1e6


def du(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def bench(inp, args):
    name = os.path.splitext(os.path.basename(inp))[0]
    store = os.path.join(OUT, f"{name}.store")
    shutil.rmtree(store, ignore_errors=True)
    props = ["--no-props"] if args.no_props else []
    rec = {"input": name, "rule": args.rule, "props": not args.no_props, "budget": args.budget,
           "cores": os.cpu_count(), "when": time.strftime("%Y-%m-%d %H:%M")}

    if not args.skip_bare:
        out, m = measured("bare", [X, "bench-transform", "--input", inp, "--rule", args.rule] + props)
        rec["bare"] = dict(m, products=int(num(r"rejected\), (\d+) products", out)))

    out, m = measured("ingest", [X, "ingest", "--input", inp, "--store", store, "--rule", args.rule,
                                 "--memory-budget", args.budget] + props)
    unique = int(num(r"(\d+) unique", out))
    rec["rows"] = int(num(r"run: (\d+) rows", out))
    rec["ingest"] = dict(m, products=int(num(r"rows, (\d+) products in", out)), unique=unique,
                         store_bytes=du(store), held_back=int(num(r"held back (\d+) times", out) or 0),
                         commit_s=num(r"commits took ([\d.]+) s", out), compaction_cpu_s=compaction_cpu_s(store))

    parquet = os.path.join(OUT, f"{name}.parquet")
    out, m = measured("export", [X, "export", "--store", store, "--rule", args.rule, "--output", parquet,
                                 "--memory-budget", args.budget])
    rec["export"] = dict(m, rows=int(num(r": (\d+) rows ->", out)))

    if not args.skip_reference:
        ref_out = os.path.join(OUT, f"{name}.reference.parquet")
        env = {"LD_PRELOAD": args.reference_preload} if args.reference_preload else None
        out, m = measured("reference", [PY, "tools/oracle/reference_pipeline.py", "--input", inp, "--rule", args.rule,
                                        "--output", ref_out, "--workers", str(os.cpu_count())] + props, env)
        rec["reference_preload"] = args.reference_preload
        rec["reference"] = dict(m, products=int(num(r"failed\), (\d+) products", out)),
                                unique=int(num(r"(\d+) unique", out)))
        if rec["reference"]["unique"] != unique or rec["reference"]["products"] != rec["ingest"]["products"]:
            raise SystemExit(f"reference and xfstore disagree: {rec['reference']} vs {rec['ingest']}")
    shutil.rmtree(store, ignore_errors=True)
    return rec


def rate(part, key="products"):
    return part[key] / max(part["wall_s"], 1e-9)


def table(recs):
    print("| input | rows | products | unique | bare loop products/s | xfstore products/s (inputs/s) | "
          "xfstore / bare | xfstore CPU | xfstore peak RSS | store bytes/product | export rows/s (RSS) | "
          "Python products/s | Python peak RSS | xfstore / Python |")
    print("|---" * 14 + "|")
    for r in recs:
        i, b, e = r["ingest"], r.get("bare"), r["export"]
        ref = r.get("reference")
        bare, vs_bare = (f"{rate(b):,.0f}", f"{rate(i) / rate(b):.0%}") if b else ("-", "-")
        print(f"| {r['input']} | {r['rows']:,} | {i['products']:,} | {i['unique']:,} | {bare} | "
              f"{rate(i):,.0f} ({r['rows'] / i['wall_s']:,.0f}) | {vs_bare} | {i['cpu_pct']}% | "
              f"{i['peak_rss_mib']:,.0f} MiB | {i['store_bytes'] / max(i['unique'], 1):.0f} | "
              f"{rate(e, 'rows'):,.0f} ({e['peak_rss_mib']:,.0f} MiB) | "
              + (f"{rate(ref):,.0f} | {ref['peak_rss_mib']:,.0f} MiB | {rate(i) / rate(ref):.2f}x |" if ref else "- | - | - |"))
    for r in recs:
        i = r["ingest"]
        if i.get("commit_s") is not None:
            print(f"{r['input']}: writer committing {i['commit_s']:,.1f} s ({i['commit_s'] / i['wall_s']:.1%} of the "
                  f"ingest wall time), RocksDB compactions {i['compaction_cpu_s']:,.1f} s CPU "
                  f"({i['compaction_cpu_s'] / (i['wall_s'] * i['cpu_pct'] / 100 * (r['cores'] or 1)):.1%} of the "
                  f"ingest's CPU time)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--rule", default="FG_PHENOL_OH__OH__TO__OMe")
    ap.add_argument("--no-props", action="store_true")
    ap.add_argument("--budget", default="1GiB")
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument("--skip-bare", action="store_true")
    ap.add_argument("--reference-preload", help="LD_PRELOAD for the Python reference (e.g. libmimalloc.so.2)")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    subprocess.run(["cargo", "build", "--release", "--locked", "-q"], cwd=ROOT, check=True)
    recs = []
    for inp in args.inputs:
        rec = bench(os.path.abspath(inp), args)
        with open(os.path.join(OUT, "ingest.jsonl"), "a") as f:
            f.write(json.dumps(rec) + "\n")
        recs.append(rec)
    table(recs)


if __name__ == "__main__":
    main()
