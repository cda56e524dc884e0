"""#32 item 3: lineage. Every path xfstore lists from an original input molecule to a product,
and everything it lists as made from an input id, equal what RDKit's own Python bindings give
when the campaign's steps are done by hand (RunReactants + SanitizeMol + MolToSmiles per site,
the same rules, the union of the upstream products fed to the next step): every product of every
job, every path, every original row and id. The CLI's JSON and the Python module's Arrow tables
say the same thing.
"""

import json
import os
import subprocess
from collections import defaultdict
from pathlib import Path

from rdkit import Chem
from rdkit.Chem import AllChem

ROOT = Path(__file__).resolve().parents[2]
XFSTORE = os.environ.get("XFSTORE_BIN", str(ROOT / "target/release/xfstore"))
POLY = ROOT / "tests/data/campaign/polyphenols.smi"
X1 = ["HALO_AROMATIC_CH__H__TO__F", "HALO_AROMATIC_CH__H__TO__Cl"]
FG = ["FG_PHENOL_OH__OH__TO__OMe", "FG_PHENOL_OH__OH__TO__NH2"]


def xf(*args, check=True):
    p = subprocess.run([XFSTORE, *map(str, args)], capture_output=True, text=True)
    assert not check or p.returncode == 0, f"xfstore {args}: {p.stderr}"
    return p


def build(d):
    """The campaign (x1, x2 from x1, fg from x1 and x2) run by xfstore, with a duplicated
    molecule under a second id (its rows are both named)."""
    text = POLY.read_text()
    first = text.splitlines()[0].split()
    inp = d / "poly.smi"
    inp.write_text(text + f"{first[0]} DUP:1\n")
    c = d / "c.yaml"
    c.write_text(
        f"inputs:\n  - {{name: poly, path: {inp}, class: polyphenol}}\nsteps:\n"
        f"  - {{name: x1, from: [poly], rules: [{', '.join(X1)}]}}\n"
        f"  - {{name: x2, from: [x1], rules: [{', '.join(X1)}]}}\n"
        f"  - {{name: fg, from: [x1, x2], rules: [{', '.join(FG)}]}}\n")
    store = d / "store"
    xf("run", c, "--store", store)
    return inp, store


def canon(smiles):
    m = Chem.MolFromSmiles(smiles)
    return None if m is None else Chem.MolToSmiles(m)


def run_rule(smirks, parent):
    rxn = AllChem.ReactionFromSmarts(smirks)
    out = set()
    for prods in rxn.RunReactants((Chem.MolFromSmiles(parent),)):
        p = prods[0]
        try:
            Chem.SanitizeMol(p)
        except Exception:
            continue
        out.add(Chem.MolToSmiles(p))
    return out


def by_hand(inp, jobs):
    """The campaign by hand: per job, its edges parent -> products; the input's rows per
    molecule."""
    rows = defaultdict(list)
    for i, line in enumerate(inp.read_text().splitlines()):
        smiles, ident = line.split()
        rows[canon(smiles)].append((i, ident))
    smirks = {j["id"]: j["rule"]["smirks"] for j in jobs}
    edges = {}  # job -> {parent: products}
    made = {}  # job -> set of products

    def step(job, parents):
        edges[job] = {p: run_rule(smirks[job], p) for p in sorted(parents)}
        made[job] = set().union(*edges[job].values())

    for r in X1:
        step(f"x1.poly/{r}", rows)
    x1 = set().union(*(made[f"x1.poly/{r}"] for r in X1))
    for r in X1:
        step(f"x2.x1.poly/{r}", x1)
    x2 = set().union(*(made[f"x2.x1.poly/{r}"] for r in X1))
    for r in FG:
        step(f"fg.x1.poly/{r}", x1)
        step(f"fg.x2.x1.poly/{r}", x2)
    return rows, edges


def upstream_of(job):
    stream = job.split("/")[0]
    if stream == "x1.poly":
        return []
    up = stream.split(".", 1)[1]
    return [f"{up}/{r}" for r in X1]


def hand_paths(edges, job, product):
    """Every path to `product` as `job` made it: (root, ((job, product), ...))."""
    out = set()
    for parent, products in edges[job].items():
        if product not in products:
            continue
        ups = [u for u in upstream_of(job) if any(parent in ps for ps in edges[u].values())]
        if not upstream_of(job):
            out.add((parent, ((job, product),)))
        for u in ups:
            for root, steps in hand_paths(edges, u, parent):
                out.add((root, steps + ((job, product),)))
    return out


def xf_paths(table):
    """The paths of a `Store.lineage()` table as (root, steps), and each root's rows."""
    steps = defaultdict(list)
    roots = {}
    for r in table.to_pylist():
        steps[r["path"]].append((r["step"], r["job"], r["product"], r["parent"]))
        roots[r["path"]] = (r["root_smiles"], list(zip(r["root_rows"], r["root_ids"])))
    paths = set()
    for k, s in steps.items():
        s.sort()
        assert [x[0] for x in s] == list(range(len(s)))
        assert s[0][3] == roots[k][0], "the first step's parent is the root"
        assert all(s[i][3] == s[i - 1][2] for i in range(1, len(s))), "each step's parent is the step before's product"
        paths.add((roots[k][0], tuple((x[1], x[2]) for x in s)))
    return paths, {root: rws for root, rws in roots.values()}


def test_every_path_and_every_descendant_equal_the_campaign_done_by_hand(tmp_path):
    import xfstore

    inp, store = build(tmp_path)
    jobs = json.loads(xf("status", "--store", store, "--json").stdout)["jobs"]
    rows, edges = by_hand(inp, jobs)
    checked = paths_seen = 0
    with xfstore.Store(str(store)) as s:
        for j in jobs:
            job = j["id"]
            products = s.products(job).read_all().column("smiles").to_pylist()
            assert set(products) == set().union(*edges[job].values()), job
            for q in products:
                got, root_rows = xf_paths(s.lineage(q))
                want = set()
                for holder in (h["id"] for h in jobs):
                    if any(q in ps for ps in edges[holder].values()):
                        want |= hand_paths(edges, holder, q)
                assert got == want, (job, q)
                for root, rws in root_rows.items():
                    assert rws == rows[root], (q, root)
                checked += 1
                paths_seen += len(got)
        # the CLI says the same, in JSON (another spelling of the query: canonicalized)
        q = products[-1]
        alt = Chem.MolToSmiles(Chem.MolFromSmiles(q), canonical=False)
        line = json.loads(xf("query", "--store", store, "--lineage", alt, "--json").stdout)
        assert line["canonical"] == q
        cli = {(p["root"], tuple((st["job"], st["product"]) for st in p["steps"])) for p in line["paths"]}
        assert cli == xf_paths(s.lineage(q))[0]

        for smiles, rws in rows.items():
            for _, ident in rws:
                got = {(r["depth"], r["job"], r["parent"], r["product"]) for r in s.descendants(ident).to_pylist()}
                assert got == hand_descendants(edges, smiles), ident
        d = json.loads(xf("query", "--store", store, "--descendants", "DUP:1", "--json").stdout)
        assert d["by"] == "id" and len(d["products"]) > 0
        by_smiles = json.loads(xf("query", "--store", store, "--descendants", rows_first(rows), "--json").stdout)
        assert by_smiles["by"] == "smiles" and by_smiles["products"] == d["products"]
    missing = xf("query", "--store", store, "--lineage", "CCCCCCCCCC", check=False)
    assert missing.returncode == 1 and "0 path(s)" in missing.stdout
    assert checked > 1000 and paths_seen > checked, (checked, paths_seen)
    assert any(len(rws) == 2 for rws in rows.values())


def rows_first(rows):
    """The molecule of the input's first row (duplicated under DUP:1)."""
    return next(s for s, rws in rows.items() if any(i == 0 for i, _ in rws))


def hand_descendants(edges, smiles):
    """(depth, job, parent, product) of everything made from `smiles`, read as an original
    molecule: the first-step jobs, then each job reading them, level by level."""
    out = set()
    level = [(f"x1.poly/{r}", smiles) for r in X1]
    depth = 0
    while level:
        depth += 1
        nxt = []
        for job, parent in level:
            for product in edges[job].get(parent, ()):
                out.add((depth, job, parent, product))
                nxt += [(down, product) for down in edges if job in upstream_of(down)]
        level = nxt
    return out
