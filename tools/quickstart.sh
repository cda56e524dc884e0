#!/usr/bin/env bash
# Quick start: installs what is missing, builds xfstore, and runs the main job end to end on
# the bundled real sample (tests/data/sample.parquet, 2,700 real molecules) with the default
# embedded store (./.xfstore): ingest two rules in one pass, export each job to Parquet,
# query products by SMILES, show the store status. Then a small campaign
# (configs/campaign.example.yaml: 12 polyphenols from a .smi file and 20 terpenoids from a CSV,
# halogenated once and twice, then every functional-group rule in scope; 92 jobs, ~20 s):
# run, status, export of every job. Re-running resumes (nothing to redo).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked
X="${CARGO_TARGET_DIR:-target}/release/xfstore"

$X ingest --input tests/data/sample.parquet --id-column id \
  --rule FG_PHENOL_OH__OH__TO__OMe --rule FG_CARBOXYL__COOH__TO__COOMe
$X export --job sample/FG_PHENOL_OH__OH__TO__OMe --output out/sample_phenol_OMe.parquet
$X export --job sample/FG_CARBOXYL__COOH__TO__COOMe --output out/sample_carboxyl_COOMe.parquet
# anisole (from phenol, any spelling) and methyl salicylate-type ester lookups
$X query "C1=CC=C(OC)C=C1" "COC(=O)c1ccccc1O"
$X status

# the campaign: parents -> 1X -> 2X -> functional-group rules in scope, one resumable command
$X run configs/campaign.example.yaml
$X status --campaign configs/campaign.example.yaml | tail -4
$X export --campaign configs/campaign.example.yaml --output out/campaign | tail -1
target/py/bin/python - <<'PY'
import pyarrow.parquet as pq
import json
for f in ["out/sample_phenol_OMe.parquet", "out/sample_carboxyl_COOMe.parquet"]:
    t = pq.read_table(f)
    print(f"pyarrow reads {f}: {t.num_rows} rows, {t.num_columns} columns")
index = json.load(open("out/campaign/index.json"))
rows = sum(pq.read_metadata(f"out/campaign/{j['file']}").num_rows for j in index["jobs"])
print(f"pyarrow reads out/campaign: {len(index['jobs'])} job files, {rows} rows")
PY
