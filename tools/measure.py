#!/usr/bin/env python3
"""Run a command and measure it from outside, the same way for xfstore and the Python reference:
wall time, CPU use of the whole process tree (user+system over wall x cores, 100% = every core
busy) and peak RSS of the whole process tree (sum over the process and all its descendants,
sampled every 0.2 s, so multiprocessing workers count).

Prints the command's own output, then one line: `measure: {json}`.
Usage: python3 tools/measure.py [--label NAME] -- CMD ARGS...
"""
import json
import os
import sys
import time


def children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        kids.setdefault(ppid, []).append(int(d))
    return kids


def tree_rss(root):
    kids, total, todo = children_map(), 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(kids.get(pid, []))
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            pass
    return total


def main():
    argv = sys.argv[1:]
    label = None
    if argv[:1] == ["--label"]:
        label, argv = argv[1], argv[2:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    started = time.time()
    pid = os.fork()
    if pid == 0:
        os.execvp(argv[0], argv)
    peak = 0
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        peak = max(peak, tree_rss(pid))
        time.sleep(0.2)
    wall = time.time() - started
    cpu = usage.ru_utime + usage.ru_stime
    rec = {
        "label": label,
        "exit": os.waitstatus_to_exitcode(status),
        "wall_s": round(wall, 2),
        "cpu_pct": round(100 * cpu / wall / os.cpu_count(), 1),
        "peak_rss_mib": round(max(peak, usage.ru_maxrss * 1024) / 2**20, 1),
    }
    print("measure: " + json.dumps(rec), flush=True)
    sys.exit(0 if rec["exit"] == 0 else 1)


if __name__ == "__main__":
    main()
