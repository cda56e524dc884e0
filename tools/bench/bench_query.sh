#!/usr/bin/env bash
# Lookup figures on a real store: lookups/s single-thread (with p50/p99 latency) and as a
# parallel batch. Queries: N stored products, half of them re-spelled at random by RDKit
# (MolToSmiles(doRandom=True)), plus N/10 misses.
#   tools/bench/bench_query.sh [STORE=target/bigstore] [JOB=first job] [N=20000]
set -euo pipefail
cd "$(dirname "$0")/../.."
store=${1:-target/bigstore}; job=${2:-}; n=${3:-20000}
X=${XFSTORE:-target/release/xfstore}   # XFSTORE: another build to compare
[ -x "$X" ] || cargo build --release --locked -q
if [ -z "$job" ]; then
  job=$($X status --store "$store" --json | target/py/bin/python -c "import json,sys; print(json.load(sys.stdin)['jobs'][0]['id'])")
fi
mkdir -p target/bench
exp=target/bench/query-products.parquet
/usr/bin/time -f "export: %e s wall, %M KB max RSS" $X export --store "$store" --job "$job" --output "$exp"
target/py/bin/python - "$exp" "$n" target/bench/queries.smi <<'PY'
import random, sys
import pyarrow.parquet as pq
from rdkit import Chem, RDLogger
RDLogger.DisableLog("rdApp.*")
path, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
pf = pq.ParquetFile(path)
rng = random.Random(42)
total = pf.metadata.num_rows
want = sorted(rng.sample(range(total), min(n, total)))
smiles, row0, wi = [], 0, 0
for rg in range(pf.num_row_groups):
    col = pf.read_row_group(rg, columns=["smiles"]).column(0).to_pylist()
    while wi < len(want) and want[wi] < row0 + len(col):
        smiles.append(col[want[wi] - row0]); wi += 1
    row0 += len(col)
with open(out, "w") as f:
    for i, s in enumerate(smiles):
        if i % 2:
            s = Chem.MolToSmiles(Chem.MolFromSmiles(s), doRandom=True, canonical=False)
        f.write(f"{s}\tQ{i}\n")
    for i in range(len(smiles) // 10):
        f.write(f"C{'C' * (i % 50 + 40)}O\tMISS{i}\n")
print(f"{len(smiles)} stored + {len(smiles)//10} missing queries -> {out}", file=sys.stderr)
PY
echo "single thread:"; $X query --store "$store" --file target/bench/queries.smi --sequential --timing >/dev/null || true
echo "parallel batch:"; $X query --store "$store" --file target/bench/queries.smi --timing >/dev/null || true
