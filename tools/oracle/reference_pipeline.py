#!/usr/bin/env python3
"""Python reference for the benchmark: the same ingest job done the way the original pipeline
did it, with RDKit's Python bindings (Debian python3-rdkit, the same RDKit build xfstore links).

- the input is read in batches with pyarrow; batches go to a multiprocessing Pool (imap, in
  order) of --workers processes;
- each worker: Chem.MolFromSmiles, rxn.RunReactants (the rule's site cap), Chem.SanitizeMol and
  Chem.MolToSmiles per product, one product per matched site, and (unless --no-props) MW, TPSA,
  HBD, HBA, cLogP, RotB per product, as xfstore computes them (with --first-seen-props, only
  for products the worker has not seen before: the first-seen-only script of #16);
- the parent process keeps a Python set of the SMILES seen for dedup and writes each new product
  once with a pyarrow ParquetWriter (one row group per --flush-rows rows).

Prints one summary line: rows, products, unique, seconds, products/s. Peak RSS and CPU of the
whole process tree are measured from outside (tools/measure.py).

Usage: target/py/bin/python tools/oracle/reference_pipeline.py --input IN.parquet --rule NAME \
           --output OUT.parquet [--workers 2] [--no-props] [--batch-rows 1024]
"""
import argparse
import multiprocessing as mp
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq
from rdkit import Chem, RDLogger
from rdkit.Chem import Crippen, Descriptors, rdMolDescriptors

from rdkit_reference import load_rules  # same rule loading (and site caps) as the golden oracle

RDLogger.DisableLog("rdApp.*")
RULES = None
WITH_PROPS = True
FIRST_SEEN = False
SEEN = set()


def init(rule_file, names, with_props, first_seen=False):
    global RULES, WITH_PROPS, FIRST_SEEN
    RDLogger.DisableLog("rdApp.*")
    RULES = load_rules(rule_file, names)
    WITH_PROPS = with_props
    FIRST_SEEN = first_seen


def props(m):
    return (
        Descriptors.MolWt(m),
        rdMolDescriptors.CalcTPSA(m),
        rdMolDescriptors.CalcNumHBD(m),
        rdMolDescriptors.CalcNumHBA(m),
        Crippen.MolLogP(m),
        rdMolDescriptors.CalcNumRotatableBonds(m, rdMolDescriptors.NumRotatableBondsOptions.Strict),
    )


def work(chunk):
    first_row, smiles = chunk
    out, failed = [], 0
    for i, smi in enumerate(smiles):
        mol = Chem.MolFromSmiles(smi) if smi else None
        if mol is None:
            failed += 1
            continue
        for name, rxn, cap in RULES:
            for site, prods in enumerate(rxn.RunReactants((mol,), cap)):
                p = prods[0]
                try:
                    Chem.SanitizeMol(p)
                except Exception:
                    continue
                key = Chem.MolToSmiles(p)
                want = WITH_PROPS
                if FIRST_SEEN:
                    # this worker saw it before: so did the parent, which keeps the first
                    want = want and (name, key) not in SEEN
                    SEEN.add((name, key))
                out.append((key, name, first_row + i, smi, site, props(p) if want else None))
    return out, failed


SCHEMA = pa.schema([
    ("smiles", pa.string()), ("xf_rule_id", pa.string()), ("source_row", pa.uint64()),
    ("source_smiles", pa.string()), ("xf_site_index", pa.uint32()),
    ("MW", pa.float64()), ("TPSA", pa.float64()), ("HBD", pa.uint32()), ("HBA", pa.uint32()),
    ("cLogP", pa.float64()), ("RotB", pa.uint32()),
])


def flush(writer, buf):
    cols = list(zip(*buf))
    p = [r[5] or (None,) * 6 for r in buf]
    pcols = list(zip(*p))
    arrays = [pa.array(cols[k], SCHEMA.field(k).type) for k in range(5)]
    arrays += [pa.array(pcols[k], SCHEMA.field(5 + k).type) for k in range(6)]
    writer.write_table(pa.Table.from_arrays(arrays, schema=SCHEMA))
    buf.clear()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--rule", action="append", required=True)
    ap.add_argument("--rules", default="configs/transforms.yaml")
    ap.add_argument("--output", required=True)
    ap.add_argument("--smiles-column", default="smiles")
    ap.add_argument("--workers", type=int, default=mp.cpu_count())
    ap.add_argument("--batch-rows", type=int, default=1024)
    ap.add_argument("--flush-rows", type=int, default=100_000)
    ap.add_argument("--no-props", action="store_true")
    ap.add_argument("--first-seen-props", action="store_true",
                    help="each worker computes properties only for products it has not seen before")
    args = ap.parse_args()

    started = time.time()
    pf = pq.ParquetFile(args.input)

    def chunks():
        row = 0
        for b in pf.iter_batches(batch_size=args.batch_rows, columns=[args.smiles_column]):
            smiles = b.column(0).to_pylist()
            yield row, smiles
            row += len(smiles)

    seen = set()
    rows = products = failed = 0
    buf = []
    writer = pq.ParquetWriter(args.output, SCHEMA, compression="zstd")
    with mp.Pool(args.workers, initializer=init, initargs=(args.rules, args.rule, not args.no_props, args.first_seen_props)) as pool:
        for out, nfail in pool.imap(work, chunks()):
            failed += nfail
            products += len(out)
            for rec in out:
                key = (rec[1], rec[0])
                if key not in seen:
                    seen.add(key)
                    buf.append(rec)
            if len(buf) >= args.flush_rows:
                flush(writer, buf)
    rows = pf.metadata.num_rows
    if buf:
        flush(writer, buf)
    writer.close()
    secs = time.time() - started
    print(f"reference: {rows} rows ({failed} failed), {products} products, {len(seen)} unique in {secs:.2f} s "
          f"= {rows / secs:.0f} rows/s, {products / secs:.0f} products/s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
