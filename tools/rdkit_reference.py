#!/usr/bin/env python3
"""Reference oracle: the same job done with RDKit's Python bindings (Debian python3-rdkit,
the same RDKit build xfstore links), the way the original Python pipeline did it.

For every rule in the rule file and every input row: Chem.MolFromSmiles, rxn.RunReactants,
Chem.SanitizeMol on each product, Chem.MolToSmiles; one product per matched site; products
counted per canonical SMILES (occurrences = number of (parent, site) pairs).

Writes one TSV per rule into --out-dir: a '#' summary line, then 'smiles<TAB>occurrences' sorted
by SMILES. These are the golden files of tests/it/golden.rs: regenerate them with this script,
never by hand:

    target/py/bin/python tools/rdkit_reference.py --input tests/data/sample.parquet \
        --out-dir tests/golden
"""
import argparse
import collections
import os
import sys

import pyarrow.parquet as pq
import yaml
from rdkit import Chem, RDLogger, rdBase
from rdkit.Chem import AllChem

RDLogger.DisableLog("rdApp.*")
UNLIMITED = 2**31 - 1


def load_rules(path, only):
    doc = yaml.safe_load(open(path))
    default_cap = doc.get("defaults", {}).get("max_sites_per_mol", -1)
    rules = []
    for r in doc["rules"]:
        if only and r["name"] not in only:
            continue
        cap = r.get("max_sites_per_mol", default_cap)
        rxn = AllChem.ReactionFromSmarts(r["smirks"])
        rxn.Initialize()
        rules.append((r["name"], rxn, UNLIMITED if cap == -1 else cap))
    return rules


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--rules", default="configs/transforms.yaml")
    ap.add_argument("--rule", action="append", help="restrict to these rules")
    ap.add_argument("--smiles-column", default="smiles")
    ap.add_argument("--out-dir", required=True)
    args = ap.parse_args()

    rules = load_rules(args.rules, args.rule)
    smiles = pq.read_table(args.input, columns=[args.smiles_column]).column(0).to_pylist()
    stats = {name: collections.Counter() for name, _, _ in rules}
    counts = {name: collections.Counter() for name, _, _ in rules}
    for smi in smiles:
        mol = Chem.MolFromSmiles(smi) if smi else None
        for name, rxn, cap in rules:
            st = stats[name]
            st["inputs"] += 1
            if mol is None:
                st["failed"] += 1
                continue
            sets = rxn.RunReactants((mol,), cap)
            if not sets:
                st["no_site"] += 1
            for prods in sets:
                p = prods[0]
                try:
                    Chem.SanitizeMol(p)
                except Exception:
                    st["product_failed"] += 1
                    continue
                st["site_products"] += 1
                counts[name][Chem.MolToSmiles(p)] += 1
    os.makedirs(args.out_dir, exist_ok=True)
    for name, _, _ in rules:
        st = stats[name]
        path = os.path.join(args.out_dir, f"{name}.tsv")
        with open(path, "w") as f:
            f.write(
                f"# rdkit={rdBase.rdkitVersion} inputs={st['inputs']} failed={st['failed']} "
                f"no_site={st['no_site']} site_products={st['site_products']} "
                f"product_failed={st['product_failed']} unique={len(counts[name])}\n"
            )
            for smi in sorted(counts[name]):
                f.write(f"{smi}\t{counts[name][smi]}\n")
        print(f"{name}: {len(counts[name])} unique, {st['site_products']} products -> {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
