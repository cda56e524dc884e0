#!/usr/bin/env python3
"""Run a command and measure it from outside, the same way for xfstore and the Python reference:
wall time, CPU use of the whole process tree (user+system over wall x cores, 100% = every core
busy) and peak RSS of the whole process tree (sum over the process and all its descendants,
sampled every 0.2 s, so multiprocessing workers count; never below the kernel's own high-water
mark of the command, `wait4`'s ru_maxrss).

Prints the command's own output, then one line: `measure: {json}`.

With `--timeline FILE`, also writes one TSV row per second: seconds since start, RSS of the tree,
anonymous and file-backed RSS of the command itself (RssAnon / RssFile: heap against mapped
libraries and RocksDB files) and the phase, the last line the command printed (its job and
progress lines), so a regression shows which phase holds the memory. `--max-rss SIZE` (e.g.
512MiB) fails (exit 3) when the peak is above SIZE.

Usage: python3 tools/measure.py [--label NAME] [--timeline FILE] [--max-rss SIZE] -- CMD ARGS...
"""
import json
import os
import re
import sys
import threading
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


def own_rss(pid):
    """(RssAnon, RssFile) of one process in bytes, or (0, 0) once it is gone."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("RssAnon:", "RssFile:")):
                    key, value = line.split()[:2]
                    out[key] = int(value) * 1024
    except OSError:
        pass
    return out.get("RssAnon:", 0), out.get("RssFile:", 0)


def parse_size(text):
    m = re.fullmatch(r"\s*([0-9.]+)\s*([KMGT]?)(i?B)?\s*", text, re.I)
    if not m:
        sys.exit(f"measure: not a size: {text!r} (try 512MiB)")
    scale = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}[m.group(2).upper()]
    return int(float(m.group(1)) * scale)


class Phase:
    """Copies the command's output through and remembers its last line."""

    def __init__(self):
        self.last = ""

    def pump(self, fd, sink):
        with os.fdopen(fd, "rb", buffering=0) as src:
            pending = b""
            while chunk := src.read(65536):
                sink.buffer.write(chunk)
                sink.flush()
                pending = (pending + chunk)[-4096:]
                lines = [l for l in re.split(rb"[\r\n]", pending) if l.strip()]
                if lines:
                    self.last = lines[-1].decode("utf-8", "replace").strip()[:160]


def main():
    argv = sys.argv[1:]
    label, timeline, max_rss = None, None, None
    while argv[:1] in (["--label"], ["--timeline"], ["--max-rss"]):
        opt, value, argv = argv[0], argv[1], argv[2:]
        if opt == "--label":
            label = value
        elif opt == "--timeline":
            timeline = open(value, "w")
            timeline.write("secs\ttree_rss_mib\tanon_mib\tfile_mib\tphase\n")
        else:
            max_rss = parse_size(value)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    phase = Phase()
    pumps = []
    fds = {}
    for name in ("stdout", "stderr"):
        r, w = os.pipe()
        fds[name] = (r, w)
    started = time.time()
    pid = os.fork()
    if pid == 0:
        os.dup2(fds["stdout"][1], 1)
        os.dup2(fds["stderr"][1], 2)
        os.execvp(argv[0], argv)
    for name, sink in (("stdout", sys.stdout), ("stderr", sys.stderr)):
        os.close(fds[name][1])
        t = threading.Thread(target=phase.pump, args=(fds[name][0], sink), daemon=True)
        t.start()
        pumps.append(t)
    peak, next_row = 0, 0.0
    mib = 2**20
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        rss = tree_rss(pid)
        peak = max(peak, rss)
        now = time.time() - started
        if timeline and now >= next_row:
            anon, file_ = own_rss(pid)
            timeline.write(f"{now:.1f}\t{rss / mib:.1f}\t{anon / mib:.1f}\t{file_ / mib:.1f}\t{phase.last}\n")
            timeline.flush()
            next_row = now + 1.0
        time.sleep(0.2)
    for t in pumps:
        t.join(timeout=5)
    wall = time.time() - started
    cpu = usage.ru_utime + usage.ru_stime
    peak = max(peak, usage.ru_maxrss * 1024)
    rec = {
        "label": label,
        "exit": os.waitstatus_to_exitcode(status),
        "wall_s": round(wall, 2),
        "cpu_pct": round(100 * cpu / wall / os.cpu_count(), 1),
        "peak_rss_mib": round(peak / mib, 1),
    }
    if max_rss is not None:
        rec["max_rss_mib"] = round(max_rss / mib, 1)
        rec["over"] = peak > max_rss
    print("measure: " + json.dumps(rec), flush=True)
    if rec["exit"] != 0:
        sys.exit(1)
    if rec.get("over"):
        sys.exit(3)


if __name__ == "__main__":
    main()
