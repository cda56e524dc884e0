#!/usr/bin/env python3
"""Build a large, real, drug-like input from MOSES (PyPI molsets==0.3.1, MIT): ~1.94M molecules
(train + test + test_scaffolds), written as Parquet with columns id, smiles, split.
Used for scale runs (export/query figures on multi-million-product stores); never committed.

Usage: python3 tools/data/make_moses.py --out target/data/moses.parquet [--rows N] [--wheels DIR]
"""
import argparse
import csv
import gzip
import io
import os
import subprocess
import sys
import tempfile
import zipfile

import pyarrow as pa
import pyarrow.parquet as pq


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="target/data/moses.parquet")
    ap.add_argument("--rows", type=int, default=0, help="keep the first N rows (0 = all)")
    ap.add_argument("--wheels", default=os.path.join(tempfile.gettempdir(), "xfstore-wheels"))
    args = ap.parse_args()
    os.makedirs(args.wheels, exist_ok=True)
    whl = [f for f in os.listdir(args.wheels) if f.startswith("molsets-0.3.1")]
    if not whl:
        subprocess.check_call([sys.executable, "-m", "pip", "download", "--no-deps", "-d", args.wheels, "molsets==0.3.1"])
        whl = [f for f in os.listdir(args.wheels) if f.startswith("molsets-0.3.1")]
    ids, smiles, splits = [], [], []
    with zipfile.ZipFile(os.path.join(args.wheels, whl[0])) as z:
        for name in ["train", "test", "test_scaffolds"]:
            with z.open(f"moses/dataset/data/{name}.csv.gz") as raw:
                rows = csv.DictReader(io.TextIOWrapper(gzip.GzipFile(fileobj=raw)))
                for r in rows:
                    ids.append(f"MOSES:{len(ids)}")
                    smiles.append(r["SMILES"])
                    splits.append(name)
    if args.rows:
        ids, smiles, splits = ids[: args.rows], smiles[: args.rows], splits[: args.rows]
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    pq.write_table(pa.table({"id": ids, "smiles": smiles, "split": splits}), args.out, compression="zstd")
    print(f"wrote {len(ids)} rows to {args.out}")


if __name__ == "__main__":
    main()
