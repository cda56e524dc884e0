#!/usr/bin/env python3
"""Writer-only benchmark (#16): a real product stream replayed through both write paths, side by
side, in one run.

`xfstore bench-writer` records the transform's outcomes of one job ONCE (e.g. MOSES x ArH->Cl:
9.87M products with their real duplicate rate; RDKit runs only for the recording), then replays
them through the whole ingest pipeline minus RDKit, so the throughput is the ceiling of
everything but chemistry. This script replays the same stream into a fresh store with each
write path, each in its own process (peak RSS is the process's own), and prints products/s per
slice as the store grows, the share of the time in commits, peak RSS and store bytes per
product, plus the cores-to-saturation estimate: ceiling / per-core transform rate.

Usage: target/py/bin/python tools/bench/bench_writer.py --input target/data/moses.parquet \\
           --rule HALO_AROMATIC_CH__H__TO__Cl --stream target/data/moses_clh.stream.parquet \\
           [--slice 1000000] [--budget 1GiB] [--per-core-rate 9600]
(make the input with tools/data/make_moses.py; the stream is recorded on first use, ~9 min here).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
X = os.path.join(ROOT, "target/release/xfstore")
OUT = os.path.join(ROOT, "target/bench")
PATHS = ["read-modify-write", "blind"]


def replay(args, path):
    store = os.path.join(OUT, f"writer.{path}.store")
    shutil.rmtree(store, ignore_errors=True)
    cmd = [X, "bench-writer", "--input", args.input, "--rule", args.rule, "--stream", args.stream, "--store", store,
           "--write-path", path, "--slice", str(args.slice), "--memory-budget", args.budget]
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    sys.stderr.write(out.stdout + out.stderr)
    if out.returncode != 0:
        raise SystemExit(f"{path}: exit {out.returncode}")
    slices = []
    for line in out.stdout.splitlines():
        f = line.split("\t")
        if len(f) == 7 and f[0].isdigit():
            slices.append({"products": int(f[1]), "unique": int(f[2]), "secs": float(f[3]), "rate": float(f[4]),
                           "commit_share": float(f[5]), "ceiling": float(f[6])})
    total = re.search(r"total: (\d+) products \((\d+) unique\) in ([\d.]+) s = (\d+) products/s; commits ([\d.]+) s "
                      r"\(([\d.]+)%\), writer CPU ([\d.]+) s = ceiling (\d+) products/s; peak RSS ([^;]+); "
                      r"store ([^(]+)\(([\d.]+) bytes/product\)", out.stdout)
    shutil.rmtree(store, ignore_errors=True)
    return slices, total.groups()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--rule", default="HALO_AROMATIC_CH__H__TO__Cl")
    ap.add_argument("--stream", required=True)
    ap.add_argument("--slice", type=int, default=1_000_000)
    ap.add_argument("--budget", default="1GiB")
    ap.add_argument("--per-core-rate", type=float, default=9600,
                    help="transform products/s per core on this input (for the cores-to-saturation estimate)")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    if not os.path.exists(args.stream):  # record once, outside the timed replays
        rec_store = os.path.join(OUT, "writer.record.store")
        shutil.rmtree(rec_store, ignore_errors=True)
        subprocess.run([X, "bench-writer", "--input", args.input, "--rule", args.rule, "--stream", args.stream,
                        "--store", rec_store], cwd=ROOT, check=True)
        shutil.rmtree(rec_store, ignore_errors=True)
    runs = {p: replay(args, p) for p in PATHS}
    print("| products so far | unique so far | "
          + " | ".join(f"{p}: products/s (commit share; writer ceiling)" for p in PATHS) + " |")
    print("|---:|---:|" + "---:|" * len(PATHS))
    n = max(len(r[0]) for r in runs.values())
    for i in range(n):
        row = [runs[p][0][i] if i < len(runs[p][0]) else None for p in PATHS]
        first = next(r for r in row if r)
        cells = [f"{r['rate']:,.0f} ({r['commit_share']:.0%}; {r['ceiling']:,.0f})" if r else "-" for r in row]
        print(f"| {first['products']:,} | {first['unique']:,} | " + " | ".join(cells) + " |")
    print()
    print("| write path | products | unique | seconds | products/s (whole replay) | commits (share) | writer CPU | "
          "writer ceiling products/s | peak RSS | store | bytes/product | "
          "cores to saturate the writer at %.0f products/s/core |" % args.per_core_rate)
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for p in PATHS:
        prod, uniq, secs, rate, commit_s, share, cpu, ceiling, rss, store, bpp = runs[p][1]
        print(f"| {p} | {int(prod):,} | {int(uniq):,} | {float(secs):.1f} | {int(rate):,} | {commit_s} s ({share}%) | "
              f"{cpu} s | {int(ceiling):,} | {rss} | {store.strip()} | {bpp} | {int(ceiling) / args.per_core_rate:.0f} |")


if __name__ == "__main__":
    main()
