"""xfstore from Python: open a store, look products up, stream a job's products into
pyarrow / pandas / polars / DuckDB, and run ingests and campaigns, on the same Rust library the
``xfstore`` command uses (no subprocess).

>>> import xfstore
>>> store = xfstore.Store(".xfstore")                 # read-only; works while another process ingests
>>> store.lookup("C1=CC=C(OC)C=C1")                   # any spelling; a list of Product, or None
>>> reader = store.products(rule="FG_PHENOL_OH__OH__TO__OMe")   # a pyarrow.RecordBatchReader
>>> df = reader.read_pandas()
>>> xfstore.ingest(".xfstore", "library.parquet", ["FG_PHENOL_OH__OH__TO__OMe"], progress=print)

Errors are raised as subclasses of ``XfstoreError`` (``StoreError``, ``InputError``,
``IngestError``, ``ExportError``, ``RuleError``, ``ChemError``, ``CampaignError``,
``PartitionError``), each with the Rust error's message and ``.kind``.
"""

from ._native import (
    CampaignError,
    ChemError,
    ExportError,
    IngestError,
    InputError,
    PartitionError,
    Product,
    RuleError,
    Store,
    StoreError,
    XfstoreError,
    canonicalize,
    ingest,
    run,
    versions,
)

__all__ = [
    "Store",
    "Product",
    "ingest",
    "run",
    "canonicalize",
    "versions",
    "XfstoreError",
    "StoreError",
    "InputError",
    "IngestError",
    "ExportError",
    "RuleError",
    "ChemError",
    "CampaignError",
    "PartitionError",
]
