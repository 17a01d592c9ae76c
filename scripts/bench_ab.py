#!/usr/bin/env python
"""Two versions of batn, side by side: the whole `batn consolidate` command run in turns from each
source tree on the same inbox, so that a shared machine's slow minutes fall on both alike.

    git worktree add /tmp/before HEAD~1
    python scripts/bench_ab.py /tmp/b19/bench/consolidate_1000_inline /tmp/before/addin addin --runs 10

The inbox folder is one `scripts/bench_consolidate.py` generated (inbox/, don_vi.csv). Prints, for
each tree, the median, quartiles and fastest wall time, and the median CPU time of the command and
its reader processes. Nothing is asserted: a difference smaller than the quartiles is noise.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMAND = "import sys; from batn.cli import main; sys.argv[0] = 'batn'; sys.exit(main())"


def run_once(tree: Path, workdir: Path, catalog: str, period: str, out: Path) -> tuple[float, float]:
    env = dict(os.environ, PYTHONPATH=str(tree.resolve()))
    cmd = [sys.executable, "-c", COMMAND, "consolidate", str(workdir / "inbox"), "--units", str(workdir / "don_vi.csv"),
           "--catalog", catalog, "--period", period, "--out", str(out)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)        # the command's rusage, its reaped readers included
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        sys.exit(f"batn consolidate from {tree} failed (exit {os.waitstatus_to_exitcode(status)})")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("workdir", type=Path, help="folder with inbox/ and don_vi.csv (bench_consolidate.py)")
    ap.add_argument("trees", type=Path, nargs="+", help="source folders holding the batn package (e.g. addin)")
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--catalog", default="3tn-2024")
    ap.add_argument("--period", default="2024")
    args = ap.parse_args()
    walls: dict[Path, list[float]] = {t: [] for t in args.trees}
    cpus: dict[Path, list[float]] = {t: [] for t in args.trees}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            for t in args.trees:
                wall, cpu = run_once(t, args.workdir, args.catalog, args.period, Path(tmp) / "tong_hop.xlsx")
                walls[t].append(wall)
                cpus[t].append(cpu)
            print(f"run {i + 1}/{args.runs}", file=sys.stderr)
    for t in args.trees:
        w = sorted(walls[t])
        q1, q3 = w[len(w) // 4], w[(3 * len(w)) // 4]
        print(f"{t}: wall median {statistics.median(w):.3f} s (quartiles {q1:.3f}-{q3:.3f}, fastest {w[0]:.3f}); "
              f"CPU median {statistics.median(cpus[t]):.3f} s")


if __name__ == "__main__":
    main()
