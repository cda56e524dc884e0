#!/usr/bin/env python3
"""Reference oracle: the same job done with RDKit's Python bindings (Debian python3-rdkit,
the same RDKit build xfstore links), the way the original Python pipeline did it.

For every rule in the rule file (X-templates expanded: `{X}` -> each of `halogens`) and every
input row: Chem.MolFromSmiles, rxn.RunReactants, Chem.SanitizeMol on each product,
Chem.MolToSmiles; one product per matched site; products counted per canonical SMILES
(occurrences = number of (parent, site) pairs).

With --site-cap N, a parent's sites over N are cut to the N whose mapped atoms come first in
Chem.CanonicalRankAtoms(mol, breakTies=True) (ties: match order). With --sugar-mask, sugar rings
are found by this script's own reading of the definition in ARCHITECTURE.md ("Sugar mask") and
protected (atom property `_protected`); masked = matches without the protection minus matches
with it. Both are written to the summary line (`masked=`).

Writes one TSV per rule into --out-dir: a '#' summary line, then 'smiles<TAB>occurrences' sorted
by SMILES. These are the golden files of tests/it/golden.rs: regenerate them with this script,
never by hand:

    target/py/bin/python tools/oracle/rdkit_reference.py --input tests/data/sample.parquet \
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


HALOGENS = ["F", "Cl", "Br", "I"]


def expand(doc):
    """Rule entries with X-templates filled in, one per halogen, in F, Cl, Br, I order."""
    for r in doc["rules"]:
        xs = r.get("halogens") or []
        if not xs:
            yield r
            continue
        for x in [h for h in HALOGENS if h in xs]:
            yield {k: (v.replace("{X}", x) if isinstance(v, str) else v) for k, v in r.items()}


def load_rules(path, only, site_cap=None):
    doc = yaml.safe_load(open(path))
    default_cap = doc.get("defaults", {}).get("max_sites_per_mol", -1)
    rules = []
    for r in expand(doc):
        if only and r["name"] not in only:
            continue
        cap = r.get("max_sites_per_mol", default_cap) if site_cap is None else site_cap
        rxn = AllChem.ReactionFromSmarts(r["smirks"])
        rxn.Initialize()
        rules.append((r["name"], rxn, UNLIMITED if cap == -1 else cap))
    return rules


def sugar_mask(mol):
    """Atom indices of sugar units: 5/6-rings of single bonds, carbons + exactly one O, every
    ring carbon sp3, >= 2 ring carbons with an exocyclic single-bonded O; the mask is the ring,
    O/N single-bonded to its carbons, and acyclic sp3 carbons on its carbons that carry an O
    (with those O)."""
    ri = mol.GetRingInfo()
    masked = set()
    for ring in ri.AtomRings():
        if len(ring) not in (5, 6):
            continue
        ring_set = set(ring)
        atoms = [mol.GetAtomWithIdx(i) for i in ring]
        if any(a.GetIsAromatic() for a in atoms):
            continue
        if sum(a.GetAtomicNum() == 8 for a in atoms) != 1 or any(a.GetAtomicNum() not in (6, 8) for a in atoms):
            continue
        carbons = [a for a in atoms if a.GetAtomicNum() == 6]
        if any(a.GetHybridization() != Chem.HybridizationType.SP3 for a in carbons):
            continue
        bonds = [mol.GetBondBetweenAtoms(ring[i], ring[(i + 1) % len(ring)]) for i in range(len(ring))]
        if any(b is None or b.GetBondType() != Chem.BondType.SINGLE for b in bonds):
            continue

        def exo_o(a):
            return [n for n in a.GetNeighbors() if n.GetIdx() not in ring_set and n.GetAtomicNum() == 8
                    and mol.GetBondBetweenAtoms(a.GetIdx(), n.GetIdx()).GetBondType() == Chem.BondType.SINGLE]

        if sum(1 for a in carbons if exo_o(a)) < 2:
            continue
        masked |= ring_set
        for a in carbons:
            for n in a.GetNeighbors():
                if n.GetIdx() in ring_set:
                    continue
                single = mol.GetBondBetweenAtoms(a.GetIdx(), n.GetIdx()).GetBondType() == Chem.BondType.SINGLE
                if single and n.GetAtomicNum() in (7, 8):
                    masked.add(n.GetIdx())
                elif (single and n.GetAtomicNum() == 6 and not n.GetIsAromatic()
                      and n.GetHybridization() == Chem.HybridizationType.SP3 and not ri.NumAtomRings(n.GetIdx())):
                    os_ = [m.GetIdx() for m in n.GetNeighbors() if m.GetAtomicNum() == 8
                           and mol.GetBondBetweenAtoms(n.GetIdx(), m.GetIdx()).GetBondType() == Chem.BondType.SINGLE]
                    if os_:
                        masked.add(n.GetIdx())
                        masked |= set(os_)
    return sorted(masked)


def site_atoms(product):
    mapped = sorted((a.GetIntProp("old_mapno"), a.GetIntProp("react_atom_idx"))
                    for a in product.GetAtoms() if a.HasProp("old_mapno") and a.HasProp("react_atom_idx"))
    return [i for _, i in mapped]


def run_rule(mol, rxn, cap, mask):
    """Product sets of one rule on one molecule (capped, masked) and the masked match count."""
    masked = 0
    if mask:
        before = len(rxn.RunReactants((mol,), UNLIMITED))
        for i in mask:
            mol.GetAtomWithIdx(i).SetIntProp("_protected", 1)
    sets = rxn.RunReactants((mol,), UNLIMITED)
    if mask:
        masked = before - len(sets)
        for i in mask:
            mol.GetAtomWithIdx(i).ClearProp("_protected")
    if cap < len(sets):
        ranks = list(Chem.CanonicalRankAtoms(mol, breakTies=True))
        keys = [[ranks[a] for a in site_atoms(s[0])] for s in sets]
        keep = sorted(sorted(range(len(sets)), key=lambda i: keys[i])[:cap])
        sets = [sets[i] for i in keep]
    return sets, masked


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--rules", default="configs/transforms.yaml")
    ap.add_argument("--rule", action="append", help="restrict to these rules")
    ap.add_argument("--smiles-column", default="smiles")
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--site-cap", type=int, help="cap on sites per parent for every rule (-1: none)")
    ap.add_argument("--sugar-mask", action="store_true", help="protect sugar rings (see the docstring)")
    args = ap.parse_args()

    rules = load_rules(args.rules, args.rule, args.site_cap)
    smiles = pq.read_table(args.input, columns=[args.smiles_column]).column(0).to_pylist()
    stats = {name: collections.Counter() for name, _, _ in rules}
    counts = {name: collections.Counter() for name, _, _ in rules}
    for smi in smiles:
        mol = Chem.MolFromSmiles(smi) if smi else None
        mask = sugar_mask(mol) if (mol is not None and args.sugar_mask) else []
        for name, rxn, cap in rules:
            st = stats[name]
            st["inputs"] += 1
            if mol is None:
                st["failed"] += 1
                continue
            sets, masked = run_rule(mol, rxn, cap, mask)
            st["masked"] += masked
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
                f"product_failed={st['product_failed']} unique={len(counts[name])}"
                + (f" masked={st['masked']}" if args.sugar_mask else "")
                + "\n"
            )
            for smi in sorted(counts[name]):
                f.write(f"{smi}\t{counts[name][smi]}\n")
        print(f"{name}: {len(counts[name])} unique, {st['site_products']} products -> {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
