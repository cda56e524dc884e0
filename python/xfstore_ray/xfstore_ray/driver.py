"""Runs an xfstore partitioned run on a Ray cluster.

Ray schedules, places and retries; the work is xfstore's own engine-independent steps, each a
subprocess of the task (``xfstore map DIR --unit K``, ``xfstore reduce DIR --partition P``),
each idempotent and published atomically by xfstore itself. Products move as files in the run
folder (shared storage every node sees at the same path), never through Ray's object store:
a task returns a few hundred bytes of summary.

Crash behaviour, by construction:

- a task whose node dies is retried by Ray (``max_retries``) on another node; the step's
  subprocess dies with its worker (``PR_SET_PDEATHSIG``), and its temp folder is removed by the
  next attempt of that step on the same host (or left, harmless, on a dead host);
- a killed driver loses nothing: units and shards already published are skipped by the next
  run (their done markers), and a step that two attempts finish is published once;
- a step that fails for a reason that is not the node (bad input, disk full) fails the same way
  on every retry; the run stops with xfstore's message.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import ray

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: be killed when the Ray worker that started us dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


class StepFailed(RuntimeError):
    """An xfstore step exited with an error (its stderr is the message). Not retried: bad input
    or a full disk fails the same way again."""


class StepKilled(StepFailed):
    """An xfstore step was killed by a signal (the OOM killer, an operator): retried."""


def _step(xfstore: str, args: Sequence[str], attempts_dir: Optional[str], tag: str) -> dict:
    """Runs one xfstore step as a subprocess; returns its summary or raises StepFailed."""
    if attempts_dir:
        # one empty file per attempt: lets tests (and users) see retries
        Path(attempts_dir).mkdir(parents=True, exist_ok=True)
        node = ray.get_runtime_context().get_node_id()
        (Path(attempts_dir) / f"{tag}.{node}.{uuid.uuid4().hex[:8]}").touch()
    started = time.time()
    p = subprocess.run(
        [xfstore, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_die_with_parent,
    )
    if p.returncode < 0:
        raise StepKilled(f"xfstore {' '.join(args)} was killed by signal {-p.returncode}")
    if p.returncode != 0:
        raise StepFailed(f"xfstore {' '.join(args)} failed (exit {p.returncode}): {p.stderr.strip()}")
    return {
        "step": tag,
        "node": ray.get_runtime_context().get_node_id(),
        "seconds": time.time() - started,
        "skipped": "skipped" in p.stdout,
        "output": p.stdout.strip(),
    }


def _tag(step: str, run_dir: str, folder: str, k: int) -> str:
    """`map-K`, or `map-<stream>-K` for a campaign's stream."""
    if Path(folder) == Path(run_dir):
        return f"{step}-{k}"
    return f"{step}-{Path(folder).name}-{k}"


@ray.remote
def _remote_step(xfstore: str, args: Sequence[str], attempts_dir: Optional[str], tag: str) -> dict:
    return _step(xfstore, args, attempts_dir, tag)


@dataclass
class Summary:
    """What a run did."""

    run_dir: str
    units: int
    units_skipped: int
    partitions: int
    partitions_skipped: int
    map_seconds: float
    reduce_seconds: float
    status: dict = field(default_factory=dict)
    #: Ray node id -> steps it ran (map and reduce, this run)
    nodes: dict = field(default_factory=dict)

    def text(self) -> str:
        lines = [
            f"run {self.run_dir}: {self.units} units ({self.units_skipped} already done) in {self.map_seconds:.1f} s, "
            f"{self.partitions} partitions ({self.partitions_skipped} already done) in {self.reduce_seconds:.1f} s, "
            f"on {len(self.nodes)} node(s)"
        ]
        for j in self.status.get("jobs", []):
            lines.append(
                f"  {j['job']}: {j['inputs']} inputs, {j['products']} products, {j['unique']} unique ({j['state']})"
            )
        return "\n".join(lines)


def find_xfstore() -> str:
    """The xfstore binary: $XFSTORE, else the build of the checkout this package lives in
    (target/release/xfstore, or $CARGO_TARGET_DIR/release/xfstore), else xfstore on PATH."""
    if os.environ.get("XFSTORE"):
        return os.environ["XFSTORE"]
    root = Path(__file__).resolve().parents[3]
    target = Path(os.environ.get("CARGO_TARGET_DIR", root / "target"))
    built = (target if target.is_absolute() else root / target) / "release" / "xfstore"
    if built.is_file() and os.access(built, os.X_OK):
        return str(built)
    found = shutil.which("xfstore")
    if found is None:
        raise StepFailed("no xfstore binary: build it (cargo build --release), set XFSTORE or pass --xfstore, "
                         "or put it on PATH (cargo install --path .)")
    return found


def _xf(xfstore: str, *args: str) -> str:
    p = subprocess.run([xfstore, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise StepFailed(f"xfstore {' '.join(args)} failed (exit {p.returncode}): {p.stderr.strip()}")
    return p.stdout


def _pending(xfstore: str, step: str, run_dir: str) -> list[tuple[str, int]]:
    """(run folder, unit or partition) pairs not done yet; a partitioned campaign lists its
    streams' folders."""
    out = []
    for line in _xf(xfstore, step, run_dir, "--list-pending").splitlines():
        *folder, k = line.rsplit(" ", 1)
        out.append((folder[0] if folder else run_dir, int(k)))
    return out


def _status(xfstore: str, run_dir: str) -> dict:
    """``xfstore status --json`` of the folder (schemas/status.schema.json): a partitioned run's
    progress, or a partitioned campaign's runs and the streams waiting for their upstream. The
    driver reads the folder only through xfstore."""
    lines = [json.loads(line) for line in _xf(xfstore, "status", "--store", run_dir, "--json").splitlines() if line]
    kinds = {d["kind"] for d in lines}
    if not kinds <= {"partitioned_run", "waiting"}:
        raise StepFailed(f"{run_dir} is a {', '.join(sorted(kinds))}, not a partitioned run or campaign folder")
    return {"runs": [d for d in lines if d["kind"] == "partitioned_run"],
            "waiting": [d["stream"] for d in lines if d["kind"] == "waiting"]}


def _wait_all(refs: list, what: str, total: int, done_before: int, progress: Callable[[str], None]) -> list[dict]:
    results = []
    pending = list(refs)
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        for r in ready:
            results.append(ray.get(r))  # raises StepFailed after the retries are spent
        progress(f"{what}: {done_before + len(results)}/{total} done")
    return results


def _stage(xfstore, run_dir, budget, retry, map_cpus, reduce_cpus, attempts_dir, progress) -> dict:
    """Maps every pending unit, then reduces every pending partition, of the runs planned now."""
    runs = _status(xfstore, run_dir)["runs"]
    n_units, n_parts = sum(r["units"] for r in runs), sum(r["partitions"] for r in runs)
    units = _pending(xfstore, "map", run_dir)
    progress(f"map: {n_units - len(units)}/{n_units} units already done, {len(units)} to run")
    t0 = time.time()
    refs = [
        _remote_step.options(num_cpus=map_cpus, **retry).remote(
            xfstore, ["map", folder, "--unit", str(k), *budget], attempts_dir, _tag("map", run_dir, folder, k)
        )
        for folder, k in units
    ]
    done = _wait_all(refs, "map", n_units, n_units - len(units), progress)
    map_seconds = time.time() - t0
    parts = _pending(xfstore, "reduce", run_dir)
    progress(f"reduce: {n_parts - len(parts)}/{n_parts} partitions already done, {len(parts)} to run")
    t1 = time.time()
    # the run folder is shared storage, so a reduce may run anywhere: spread them over the nodes
    refs = [
        _remote_step.options(num_cpus=reduce_cpus, scheduling_strategy="SPREAD", **retry).remote(
            xfstore, ["reduce", folder, "--partition", str(p), *budget], attempts_dir, _tag("reduce", run_dir, folder, p)
        )
        for folder, p in parts
    ]
    done += _wait_all(refs, "reduce", n_parts, n_parts - len(parts), progress)
    return {
        "units": n_units, "units_skipped": n_units - len(units), "parts": n_parts,
        "parts_skipped": n_parts - len(parts), "map": map_seconds, "reduce": time.time() - t1, "done": done,
    }


def run(
    run_dir: str | os.PathLike,
    plan_args: Optional[Sequence[str]] = None,
    *,
    xfstore: Optional[str] = None,
    address: Optional[str] = None,
    retries: int = 3,
    map_cpus: float = 1,
    reduce_cpus: float = 1,
    memory_budget: Optional[str] = None,
    attempts_dir: Optional[str] = None,
    progress: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True),
) -> Summary:
    """Plans (when ``plan_args`` are given), maps every pending unit and reduces every pending
    partition on the Ray cluster at ``address`` (or the one this process is already connected
    to, or a local one). A partitioned campaign runs stage by stage: after each stage, the
    chained steps whose upstream is now reduced are planned (``xfstore plan --resume``). Returns
    a summary; raises StepFailed when a step fails after its retries."""
    run_dir = str(Path(run_dir).resolve())
    xfstore = xfstore or find_xfstore()
    xfstore = str(Path(xfstore).resolve()) if os.sep in xfstore else xfstore
    if plan_args is not None:
        progress(_xf(xfstore, "plan", "--out", run_dir, *plan_args).strip())
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    budget = ["--memory-budget", memory_budget] if memory_budget else []
    retry = {"max_retries": retries, "retry_exceptions": [StepKilled]}
    stages = [_stage(xfstore, run_dir, budget, retry, map_cpus, reduce_cpus, attempts_dir, progress)]
    while _status(xfstore, run_dir)["waiting"]:
        progress(_xf(xfstore, "plan", "--resume", "--out", run_dir).strip().splitlines()[-1])
        stages.append(_stage(xfstore, run_dir, budget, retry, map_cpus, reduce_cpus, attempts_dir, progress))
    nodes: dict = {}
    for st in stages:
        for d in st["done"]:
            nodes[d["node"]] = nodes.get(d["node"], 0) + 1
    runs = _status(xfstore, run_dir)["runs"]  # one per stream for a campaign
    status = {"runs": runs, "jobs": [j for r in runs for j in r["jobs"]]}
    last = stages[-1]
    summary = Summary(
        run_dir=run_dir,
        units=last["units"],
        units_skipped=stages[0]["units_skipped"],
        partitions=last["parts"],
        partitions_skipped=stages[0]["parts_skipped"],
        map_seconds=sum(st["map"] for st in stages),
        reduce_seconds=sum(st["reduce"] for st in stages),
        status=status,
        nodes=nodes,
    )
    progress(summary.text())
    return summary
