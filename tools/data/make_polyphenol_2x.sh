#!/usr/bin/env bash
# Build the large, skewed polyphenol "2X" benchmark input the way the real workload was made:
# real plant polyphenols (phytoClassifier, ~12k molecules) are halogenated once by xfstore
# (aromatic C-H -> F/Cl/Br/I, one product per site), exported, and halogenated again; the distinct
# doubly-halogenated products are the 2X input (k=2). Halogenation never touches phenolic OH, so
# every 2X row keeps its root polyphenol's phenolic OH count, computed once per root with RDKit.
#
# Writes into target/data/ (never committed):
#   polyphenol_2x_sorted.parquet    all rows, ordered by phenolic OH count (the skewed worst case:
#                                   the heaviest rows come last, as in the real run that died)
#   polyphenol_2x_shuffled.parquet  the same rows in a fixed pseudo-random order
#   polyphenol_2x_1m_{sorted,shuffled}.parquet   1M-row subsets (every k-th row of the above)
#   poly2x_50k_{sorted,shuffled}.parquet, poly2x_tail5k_sorted.parquet   short runs cut from them
#   polyphenol_1x_{sorted,shuffled}.parquet, poly1x_50k_{sorted,shuffled}.parquet   the 1X step
#                                   (451k rows) and 50k-row subsets of it, for shorter runs
# Columns: id, smiles, k, halogens, parent_smiles, root_id, n_phenolic_oh.
#
# Usage: tools/data/make_polyphenol_2x.sh   (1X steps: ~10 min on 2 cores; the 2X step makes ~11M
#                                      site products: hours. Resumable: re-run after an
#                                      interruption; finished steps and ingest checkpoints are kept)
#        PX2_1X_ROWS=55000 tools/data/make_polyphenol_2x.sh
#                                      2X from the first N rows of the shuffled 1X only, an unbiased
#                                      sample (a SMILES-ordered prefix is not: it starts with small
#                                      bromo compounds). 55k gives 1.2M 2X rows in ~20 min; ~230k
#                                      should pass 5M. To grow it, delete target/data/polyphenol_2x_*
#                                      and re-run with a larger N (ingest resumes where it stopped).
set -euo pipefail
cd "$(dirname "$0")/../.."
D=target/data
PY=target/py/bin/python
X=target/release/xfstore
HALO=(F Cl Br I)
mkdir -p "$D"
cargo build --release --locked -q

# every_nth FROM TO N: $D/TO_{sorted,shuffled}.parquet = every N-th row of $D/FROM_{sorted,shuffled}.parquet,
# in order (the same distribution and order, N times shorter).
every_nth() {
  $PY - "$D" "$1" "$2" "$3" <<'PY'
import sys, duckdb
d, src, dst, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
con = duckdb.connect()
for kind in ["sorted", "shuffled"]:
    con.execute(f"""COPY (SELECT * EXCLUDE (rn) FROM (SELECT *, row_number() OVER () AS rn
                   FROM read_parquet('{d}/{src}_{kind}.parquet')) WHERE rn % {n} = 0 ORDER BY rn)
                   TO '{d}/{dst}_{kind}.parquet' (FORMAT parquet, COMPRESSION zstd)""")
PY
}

# 1. Real polyphenols: every phytoClassifier plant product of a polyphenol class (Phenols,
# Flavonoids, Tannins, Lignans, Coumarins, Quinones) or carrying a phenolic OH (any class), with
# its phenolic OH count.
if [ ! -f "$D/polyphenols.parquet" ]; then
  $PY tools/data/make_sample.py --out "$D/polyphenols_raw.parquet" --polyphenols 1000000 --others 1000000 --drugs 0 \
    --other-classes ALL
  $PY - "$D/polyphenols_raw.parquet" "$D/polyphenols.parquet" <<'PY'
import sys
import pyarrow as pa, pyarrow.compute, pyarrow.parquet as pq
from rdkit import Chem, RDLogger
RDLogger.DisableLog("rdApp.*")
t = pq.read_table(sys.argv[1])
pat = Chem.MolFromSmarts("[c][OX2H]")  # query_smarts of FG_PHENOL_OH__OH__TO__OMe
counts = []
for s in t.column("smiles").to_pylist():
    m = Chem.MolFromSmiles(s) if s else None
    counts.append(len(m.GetSubstructMatches(pat, maxMatches=100000)) if m else 0)
t = t.append_column("n_phenolic_oh", pa.array(counts, pa.int32()))
poly = pa.array([s.split("/")[1] in ("Phenols", "Flavonoids", "Tannins", "Lignans", "Coumarins", "Quinones")
                 for s in t.column("source").to_pylist()])
t = t.filter(pa.compute.or_(poly, pa.compute.greater(t.column("n_phenolic_oh"), 0)))
counts = t.column("n_phenolic_oh").to_pylist()
pq.write_table(t, sys.argv[2], compression="zstd")
print(f"{t.num_rows} polyphenols, {sum(c > 0 for c in counts)} with a phenolic OH, max {max(counts)} OH")
PY
fi

# halogenate IN STORE STEM: ingest IN with the four C-H halogenation rules (one pass), export each
# job to $D/STEM_<hal>.parquet.
# With a 4th argument N, only the first N input rows are halogenated (in all, over every run).
halogenate() {
  local in=$1 store=$2 stem=$3 want=${4:-} args=()
  for h in "${HALO[@]}"; do args+=(--rule "HALO_AROMATIC_CH__H__TO__$h"); done
  if [ -n "$want" ]; then
    local done=0
    if [ -d "$store" ]; then
      done=$($X status --store "$store" | awk '$1 ~ /HALO_AROMATIC_CH__H__TO__F$/ {split($3, a, "/"); print a[1]; exit}')
    fi
    if [ "${done:-0}" -lt "$want" ]; then args+=(--max-rows $((want - ${done:-0}))); else args=(); fi
  fi
  if [ ${#args[@]} -gt 0 ]; then
    rm -f "$D/${stem}"_*.parquet  # exports of an earlier, smaller run are stale now
    $X ingest --input "$in" --store "$store" --id-column root_id --no-props "${args[@]}"
  fi
  # with N, the jobs stop at row N on purpose: export what they hold
  local partial=()
  [ -n "$want" ] && partial=(--allow-incomplete)
  for h in "${HALO[@]}"; do
    [ -f "$D/${stem}_$h.parquet" ] || $X export --store "$store" --rule "HALO_AROMATIC_CH__H__TO__$h" \
      --output "$D/${stem}_$h.parquet" "${partial[@]}"
  done
}

# 2. First halogenation: 1X (k=1), one file with a halogen column; root_id carried through.
if [ ! -f "$D/polyphenol_1x.parquet" ]; then
  $PY - "$D/polyphenols.parquet" "$D/polyphenols_in.parquet" <<'PY'
import sys, pyarrow.parquet as pq
t = pq.read_table(sys.argv[1]).rename_columns(["root_id", "smiles", "name", "source", "n_phenolic_oh"])
pq.write_table(t.select(["root_id", "smiles"]), sys.argv[2], compression="zstd")
PY
  halogenate "$D/polyphenols_in.parquet" "$D/px1.store" px1
  $PY - "$D" <<'PY'
import sys, duckdb
d = sys.argv[1]
parts = " UNION ALL ".join(
    f"SELECT smiles, '{h}' AS halogens, source_smiles AS parent_smiles, source_id AS root_id "
    f"FROM read_parquet('{d}/px1_{h}.parquet')" for h in ["F", "Cl", "Br", "I"])
con = duckdb.connect()
con.execute(f"COPY ({parts} ORDER BY smiles) TO '{d}/polyphenol_1x.parquet' (FORMAT parquet, COMPRESSION zstd)")
print("1X rows:", con.execute(f"SELECT count(*) FROM read_parquet('{d}/polyphenol_1x.parquet')").fetchone()[0])
PY
fi

# 2b. The 1X rows with their phenolic OH counts, sorted and shuffled (a smaller skewed input).
if [ ! -f "$D/polyphenol_1x_sorted.parquet" ]; then
  $PY - "$D" <<'PY'
import sys, duckdb
d = sys.argv[1]
con = duckdb.connect()
con.execute(f"""CREATE TABLE y AS SELECT 'PX1:' || row_number() OVER (ORDER BY x.smiles) AS id, x.smiles, 1::INT AS k,
  x.halogens, x.parent_smiles, x.root_id, r.n_phenolic_oh
  FROM read_parquet('{d}/polyphenol_1x.parquet') x JOIN (SELECT id, max(n_phenolic_oh) AS n_phenolic_oh FROM read_parquet('{d}/polyphenols.parquet') GROUP BY id) r ON r.id = x.root_id""")
for kind, order in [("sorted", "n_phenolic_oh, id"), ("shuffled", "hash(id)")]:
    con.execute(f"COPY (SELECT * FROM y ORDER BY {order}) TO '{d}/polyphenol_1x_{kind}.parquet' "
                "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 65536)")
print("1X rows, phenolic OH per row (avg, max, sum):",
      con.execute("SELECT count(*), avg(n_phenolic_oh), max(n_phenolic_oh), sum(n_phenolic_oh) FROM y").fetchone())
PY
fi

# 2c. 50k-row subsets of those (every 9th row: the same OH distribution and order), for quick
# benchmark runs.
if [ ! -f "$D/poly1x_50k_sorted.parquet" ]; then
  every_nth polyphenol_1x poly1x_50k 9
fi

# 3. Second halogenation: 2X (k=2). A product reached by two paths (Cl then Br, Br then Cl) is
# kept once, with the first path in smiles order.
if [ ! -f "$D/polyphenol_2x_sorted.parquet" ]; then
  halogenate "$D/polyphenol_1x_shuffled.parquet" "$D/px2.store" px2 "${PX2_1X_ROWS:-}"
  $PY - "$D" <<'PY'
import sys, duckdb
d = sys.argv[1]
con = duckdb.connect()
con.execute("SET preserve_insertion_order=false")
parts = " UNION ALL ".join(
    f"SELECT p.smiles, x.halogens || ',{h}' AS halogens, p.source_smiles AS parent_smiles, p.source_id AS root_id "
    f"FROM read_parquet('{d}/px2_{h}.parquet') p JOIN read_parquet('{d}/polyphenol_1x.parquet') x "
    f"ON x.smiles = p.source_smiles" for h in ["F", "Cl", "Br", "I"])
con.execute(f"""CREATE TABLE x2 AS
  SELECT smiles, arg_min(halogens, parent_smiles) AS halogens, min(parent_smiles) AS parent_smiles,
         arg_min(root_id, parent_smiles) AS root_id
  FROM ({parts}) GROUP BY smiles""")
con.execute(f"""CREATE TABLE y AS
  SELECT 'PX2:' || row_number() OVER (ORDER BY x2.smiles) AS id, x2.smiles, 2::INT AS k, halogens,
         parent_smiles, root_id, r.n_phenolic_oh
  FROM x2 JOIN (SELECT id, max(n_phenolic_oh) AS n_phenolic_oh FROM read_parquet('{d}/polyphenols.parquet') GROUP BY id) r ON r.id = x2.root_id""")
n = con.execute("SELECT count(*) FROM y").fetchone()[0]
con.execute(f"COPY (SELECT * FROM y ORDER BY n_phenolic_oh, id) TO '{d}/polyphenol_2x_sorted.parquet' "
            "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 65536)")
con.execute(f"COPY (SELECT * FROM y ORDER BY hash(id)) TO '{d}/polyphenol_2x_shuffled.parquet' "
            "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 65536)")
# exactly min(n, 1M) rows spread evenly over the whole order (the heavy tail of the sorted order
# included): row rn is kept when floor(rn * m / n) steps up
m = min(n, 1_000_000)
for kind, order in [("sorted", "n_phenolic_oh, id"), ("shuffled", "hash(id)")]:
    con.execute(f"""COPY (SELECT * EXCLUDE (rn) FROM (SELECT *, row_number() OVER (ORDER BY {order}) AS rn FROM y)
                   WHERE (rn * {m}) // {n} > ((rn - 1) * {m}) // {n} ORDER BY rn)
                   TO '{d}/polyphenol_2x_1m_{kind}.parquet' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 65536)""")
print(f"2X rows: {n}; phenolic OH per row:",
      con.execute("SELECT avg(n_phenolic_oh), max(n_phenolic_oh), sum(n_phenolic_oh) FROM y").fetchone())
PY
fi
# Short runs cut from the 1M subsets: every 20th row (50k, same distribution), and the last 5,000
# sorted rows (the 25- to 57-OH tannins: the memory worst case, in minutes instead of an hour).
if [ ! -f "$D/poly2x_tail5k_sorted.parquet" ]; then
  every_nth polyphenol_2x_1m poly2x_50k 20
  $PY - "$D" <<'PY'
import sys, duckdb
d = sys.argv[1]
con = duckdb.connect()
src = f"read_parquet('{d}/polyphenol_2x_1m_sorted.parquet')"
n = con.execute(f"SELECT count(*) FROM {src}").fetchone()[0]
con.execute(f"""COPY (SELECT * EXCLUDE (rn) FROM (SELECT *, row_number() OVER () AS rn FROM {src})
               WHERE rn > {n - 5000} ORDER BY rn)
               TO '{d}/poly2x_tail5k_sorted.parquet' (FORMAT parquet, COMPRESSION zstd)""")
PY
fi
ls -la "$D"/polyphenol_2x_*.parquet "$D"/poly2x_*.parquet
