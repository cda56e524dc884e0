#!/usr/bin/env bash
# Quick start: installs what is missing, builds xfstore, and runs the main job end to end on
# the bundled real sample (tests/data/sample.parquet, 2,700 real molecules) with the default
# embedded store (./.xfstore): ingest two rules in one pass, export each job to Parquet,
# query products by SMILES, show the store status. Re-running resumes (nothing to redo).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked
X=target/release/xfstore

$X ingest --input tests/data/sample.parquet --id-column id \
  --rule FG_PHENOL_OH__OH__TO__OMe --rule FG_CARBOXYL__COOH__TO__COOMe
$X export --rule FG_PHENOL_OH__OH__TO__OMe --output out/sample_phenol_OMe.parquet
$X export --rule FG_CARBOXYL__COOH__TO__COOMe --output out/sample_carboxyl_COOMe.parquet
# anisole (from phenol, any spelling) and methyl salicylate-type ester lookups
$X query "C1=CC=C(OC)C=C1" "COC(=O)c1ccccc1O"
$X status
target/py/bin/python - <<'PY'
import pyarrow.parquet as pq
for f in ["out/sample_phenol_OMe.parquet", "out/sample_carboxyl_COOMe.parquet"]:
    t = pq.read_table(f)
    print(f"pyarrow reads {f}: {t.num_rows} rows, {t.num_columns} columns")
PY
