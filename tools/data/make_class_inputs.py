#!/usr/bin/env python3
"""Split real plant natural products (phytoClassifier 1.1.0, ~117,900 molecules, MIT) into one
input per compound class of the replaced pipeline, for configs/campaign.natural.yaml.

phytoClassifier's class labels map onto the pipeline's classes as follows (every molecule is
taken once, at its first table in level order; its first label wins):

  polyphenol      Phenols, Flavonoids, Tannins, Lignans, Coumarins, Quinones
  terpenoid       Terpenoids, Steroids
  alkaloid        Alkaloids, Indoles
  glycoside       Saponins, Thioglycosides
  lipid           Lipids
  aa_peptide      Amino Acids, Peptides, and Proteins
  polysaccharide  Carbohydrates
  other           Carboxylic Acids, Alcohols, Nucleic Acids/Nucleotides/Nucleosides, Hormones,
                  Vitamins

Writes OUT/<class>.smi (`SMILES id`, ids PHYTO:<Cid>), Kekule SMILES as shipped, with
--per-class N molecules per class picked with a fixed stride over Cid order (0 = all), and
OUT/classes.tsv (class, label, molecules). Deterministic: no randomness.

Usage: python3 tools/data/make_class_inputs.py --out target/data/classes --per-class 40
Needs network access to PyPI once (the wheel is cached in --wheels).
"""
import argparse
import collections
import os
import sqlite3
import subprocess
import sys
import tempfile
import zipfile

CLASS_OF_LABEL = {
    "Phenols": "polyphenol", "Flavonoids": "polyphenol", "Tannins": "polyphenol", "Lignans": "polyphenol",
    "Coumarins": "polyphenol", "Quinones": "polyphenol",
    "Terpenoids": "terpenoid", "Steroids": "terpenoid",
    "Alkaloids": "alkaloid", "Indoles": "alkaloid",
    "Saponins": "glycoside", "Thioglycosides": "glycoside",
    "Lipids": "lipid",
    "Amino Acids, Peptides, and Proteins": "aa_peptide",
    "Carbohydrates": "polysaccharide",
    "Carboxylic Acids": "other", "Alcohols": "other", "Nucleic Acids, Nucleotides, and Nucleosides": "other",
    "Hormones": "other", "Vitamins": "other",
}
TABLES = ["level0", "level1", "level2", "level3", "level4", "levelminus1"]


def fetch(wheels, spec):
    name = spec.split("==")[0]
    have = [f for f in os.listdir(wheels) if f.lower().startswith(name.lower()) and f.endswith(".whl")]
    if not have:
        subprocess.check_call([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", wheels, spec])
        have = [f for f in os.listdir(wheels) if f.lower().startswith(name.lower()) and f.endswith(".whl")]
    return os.path.join(wheels, sorted(have)[-1])


def stride_pick(rows, n):
    if n <= 0 or len(rows) <= n:
        return rows
    step = len(rows) / n
    return [rows[int(i * step)] for i in range(n)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--per-class", type=int, default=0, help="molecules per class (0 = all)")
    ap.add_argument("--wheels", default=os.path.join(tempfile.gettempdir(), "xfstore-wheels"))
    args = ap.parse_args()
    os.makedirs(args.wheels, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    phyto = fetch(args.wheels, "phytoClassifier==1.1.0")
    by_cid = {}
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(phyto) as z:
            db = z.extract("phytoClassifier/data/mclk.db", tmp)
        con = sqlite3.connect(db)
        for t in TABLES:
            for cid, smi, name, label in con.execute(f"select Cid, Smiles, Name, Class from {t}"):
                if smi and label and int(cid) not in by_cid:
                    by_cid[int(cid)] = (smi, name or "", label)
        con.close()
    unknown = sorted({v[2] for v in by_cid.values()} - set(CLASS_OF_LABEL))
    if unknown:
        sys.exit(f"labels without a class: {unknown}")
    per_class = collections.defaultdict(list)
    labels = collections.Counter()
    for cid in sorted(by_cid):
        smi, name, label = by_cid[cid]
        per_class[CLASS_OF_LABEL[label]].append((cid, smi, name, label))
    with open(os.path.join(args.out, "classes.tsv"), "w") as f:
        f.write("class\tlabel\tmolecules_all\tmolecules_written\n")
        for cls in sorted(per_class):
            picked = stride_pick(per_class[cls], args.per_class)
            with open(os.path.join(args.out, f"{cls}.smi"), "w") as out:
                for cid, smi, name, label in picked:
                    # `SMILES id name`: the id is one token, the name the rest of the line
                    out.write(f"{smi} PHYTO:{cid}\n")
                    labels[(cls, label)] += 1
            all_labels = collections.Counter(r[3] for r in per_class[cls])
            for label, n in sorted(all_labels.items()):
                f.write(f"{cls}\t{label}\t{n}\t{labels[(cls, label)]}\n")
            print(f"{cls}: {len(picked)} of {len(per_class[cls])} molecules -> {cls}.smi")


if __name__ == "__main__":
    main()
