"""``python -m xfstore_ray``: run (or resume) a partitioned xfstore run on a Ray cluster.

    python -m xfstore_ray RUN_DIR [--address ADDR] [--xfstore BIN] [--retries 3] \\
        [-- plan options: --input IN --rule R [--rule ...] --partitions P [--unit-rows N] ...]

Without plan options the run folder's existing plan is resumed: finished units and partitions
are skipped. Exit code 0 on success, 1 when a step failed after its retries.
"""

import argparse
import sys

from .driver import StepFailed, run


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    plan_args = None
    if "--" in argv:
        at = argv.index("--")
        argv, plan_args = argv[:at], argv[at + 1 :]
    ap = argparse.ArgumentParser(prog="python -m xfstore_ray", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", help="run folder (shared storage, the same path on every node)")
    ap.add_argument("--address", default=None, help="Ray cluster address (default: start a local one, or RAY_ADDRESS)")
    ap.add_argument("--xfstore", default=None,
                    help="xfstore binary, the same build on every node (default: $XFSTORE, else this checkout's "
                         "target/release/xfstore, else xfstore on PATH)")
    ap.add_argument("--retries", type=int, default=3, help="retries per task after a node or process loss")
    ap.add_argument("--map-cpus", type=float, default=1, help="CPUs Ray reserves per map task")
    ap.add_argument("--reduce-cpus", type=float, default=1, help="CPUs Ray reserves per reduce task")
    ap.add_argument("--memory-budget", default=None, help="passed to every step (e.g. 2GiB)")
    ap.add_argument("--attempts-dir", default=None, help="write one marker file per task attempt here")
    a = ap.parse_args(argv)
    try:
        run(a.run_dir, plan_args, xfstore=a.xfstore, address=a.address, retries=a.retries, map_cpus=a.map_cpus,
            reduce_cpus=a.reduce_cpus, memory_budget=a.memory_budget, attempts_dir=a.attempts_dir)
    except StepFailed as e:
        print(f"xfstore_ray: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
