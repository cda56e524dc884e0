"""Ray driver for xfstore partitioned runs (``python -m xfstore_ray --help``).

``run(run_dir, plan_args, xfstore=..., address=...)`` plans a run (``xfstore plan``), maps every
unit and reduces every partition as Ray tasks with retries, and returns a ``Summary``. Ray only
schedules: every step is an ``xfstore`` subprocess that reads and writes files in the run
folder, which must be on storage every node sees at the same path.
"""

from .driver import StepFailed, StepKilled, Summary, run

__all__ = ["run", "Summary", "StepFailed", "StepKilled"]
