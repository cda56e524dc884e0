#!/usr/bin/env python3
"""Build the small campaign sample in tests/data/campaign/ from tests/data/sample.parquet.

  polyphenols.smi   12 plant polyphenols (phytoClassifier Phenols/Flavonoids/Coumarins), `SMILES id`
  terpenoids.csv    20 of the sample's terpenoids (phytoClassifier Terpenoids), columns id,smiles,name

Deterministic (a fixed stride over the sample's order). Used by configs/campaign.example.yaml,
the README quick start and the campaign tests. Usage: python3 tools/data/make_campaign_sample.py
"""
import csv
import os

import pyarrow.parquet as pq

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
rows = pq.read_table(os.path.join(ROOT, "tests/data/sample.parquet")).to_pylist()
out = os.path.join(ROOT, "tests/data/campaign")
os.makedirs(out, exist_ok=True)

poly = [r for r in rows if r["source"] in ("phytoClassifier/Phenols", "phytoClassifier/Flavonoids",
                                            "phytoClassifier/Coumarins")]
poly = poly[:: max(1, len(poly) // 12)][:12]
with open(os.path.join(out, "polyphenols.smi"), "w") as f:
    for r in poly:
        f.write(f"{r['smiles']} {r['id']}\n")

terp = [r for r in rows if r["source"] == "phytoClassifier/Terpenoids"][:20]
with open(os.path.join(out, "terpenoids.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["id", "smiles", "name"])
    for r in terp:
        w.writerow([r["id"], r["smiles"], r["name"]])
print(f"{len(poly)} polyphenols, {len(terp)} terpenoids -> {out}")
