"""Type stubs of the xfstore Python module (the native part is xfstore._native)."""

from os import PathLike
from typing import Any, Callable, Iterable, Optional, Union

import pyarrow

_Path = Union[str, PathLike[str]]
_Progress = Callable[[int, int], object]

class XfstoreError(Exception):
    """Base class of every xfstore error; ``kind`` names the subsystem."""

    kind: str

class StoreError(XfstoreError): ...
class InputError(XfstoreError): ...
class IngestError(XfstoreError): ...
class ExportError(XfstoreError): ...
class RuleError(XfstoreError): ...
class ChemError(XfstoreError): ...
class CampaignError(XfstoreError): ...
class PartitionError(XfstoreError): ...

class Product:
    """One stored product in one job, with its first provenance."""

    smiles: str
    job: str
    rule: str
    label: str
    parent_row: int
    parent_id: Optional[str]
    parent_smiles: str
    site_index: int
    site_atoms: list[int]
    occurrences: int
    props: Optional[dict[str, float]]  # mw, tpsa, hbd, hba, clogp, rotb (as `xfstore query --json`)
    carried: list[Optional[str]]

class Store:
    """An open store: read-only by default (any number, even during an ingest by another
    process); ``read_only=False`` holds the single-writer lock until ``close()`` or the end of a
    ``with`` block. Read-only, ``path`` may be any folder xfstore builds: a store, a partitioned
    run or a partitioned campaign (Ray, the shell fallback), read as one store."""

    def __init__(self, path: _Path, read_only: bool = True) -> None: ...
    @property
    def path(self) -> str: ...
    def lookup(self, smiles: str, *, job: Optional[str] = None, rule: Optional[str] = None) -> Optional[list[Product]]:
        """Products (one per job) for a SMILES in any spelling, or None. ValueError if it does not parse."""
    def lookup_many(
        self, smiles: Iterable[str], *, job: Optional[str] = None, rule: Optional[str] = None, strict: bool = True
    ) -> list[Optional[list[Product]]]:
        """One result per query, in order, looked up in parallel without the GIL."""
    def products_of_parent(
        self, parent: str, *, job: Optional[str] = None, rule: Optional[str] = None
    ) -> Optional[list[Product]]:
        """Products made from a parent (any spelling), via the parent index."""
    def lineage(self, smiles: str, *, max_paths: int = 10000) -> pyarrow.Table:
        """Every path from an original input molecule to the product: a row per step (path,
        step, job, rule, parent, product, root_smiles, root_input, root_rows, root_ids)."""
    def descendants(self, query: str) -> pyarrow.Table:
        """Everything made from the input rows with id ``query`` (or the SMILES ``query``)
        across all steps: depth, job, rule, parent, product."""
    def status(self) -> dict[str, Any]:
        """What ``xfstore status --json`` prints (schemas/status.schema.json; ``kind`` is
        ``store``, ``partitioned_run`` or ``partitioned_campaign``)."""
    def jobs(self) -> list[dict[str, Any]]:
        """Every job's record (a store's ``status()["jobs"]``; for a partitioned folder, each
        job summed over its units and shards, in the same shape)."""
    def products(
        self,
        job: Optional[str] = None,
        *,
        rule: Optional[str] = None,
        batch_rows: int = 65536,
        allow_incomplete: bool = False,
        inchikey: bool = False,
    ) -> pyarrow.RecordBatchReader:
        """A job's products in the export schema, streamed through the Arrow C stream interface
        (with ``inchikey`` and ``parent_inchikey`` columns when ``inchikey``, as ``export --inchikey``)."""
    def compact(self) -> None:
        """Rewrite the store's files (needs read_only=False)."""
    def close(self) -> None:
        """Close the store (a writer releases its lock); streams already made keep reading."""
    def __enter__(self) -> "Store": ...
    def __exit__(self, *args: object) -> bool: ...

def ingest(
    store: _Path,
    input: _Path,  # a str may also be "job:ID,ID" (the store's own jobs)
    rules: list[str],
    *,
    name: Optional[str] = None,
    format: Optional[str] = None,
    smiles_column: str = "smiles",
    id_column: Optional[str] = None,
    carry: list[str] = ...,
    no_props: bool = False,
    memory_budget: Optional[str] = None,
    batch_rows: Optional[int] = None,
    max_rows: Optional[int] = None,
    restart: bool = False,
    site_cap: Optional[int] = None,
    sugar_mask: bool = False,
    rules_file: Optional[_Path] = None,
    max_heavy_atoms: Optional[int] = None,
    sync: bool = False,
    rejects: Optional[_Path] = None,
    progress: Optional[_Progress] = None,
) -> dict[str, Any]:
    """Ingest as ``xfstore ingest`` does; returns the run report. Ctrl-C stops cleanly (resumable)."""

def run(
    campaign: _Path,
    store: _Path,
    *,
    rules_file: Optional[_Path] = None,
    no_props: bool = False,
    memory_budget: Optional[str] = None,
    batch_rows: Optional[int] = None,
    max_heavy_atoms: Optional[int] = None,
    sync: bool = False,
    redo_changed: bool = False,
    progress: Optional[_Progress] = None,
) -> dict[str, Any]:
    """Run a campaign file as ``xfstore run`` does; Ctrl-C stops cleanly (resumable).
    ``redo_changed=True`` redoes exactly the jobs whose input or rule changed (``--redo-changed``)."""

def canonicalize(smiles: str) -> str:
    """Canonical SMILES, as every key is made."""

def versions() -> dict[str, str]:
    """xfstore and RDKit versions of this build."""
