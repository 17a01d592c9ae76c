"""Every scale figure in one run, each goal printed beside what was measured (nothing asserted).

    python scripts/bench.py                                  # N = 1,000 and 10,000, templates, report, Google 500
    python scripts/bench.py --units 1000 --repeat 3          # a quicker run
    python scripts/bench.py --units 1000 10000 100000 --workdir /data/batn-bench   # with the optional 100,000
    python scripts/bench.py --units 1000 --strings shared --dask

It runs the two benchmark scripts, each step in fresh processes so that memory figures do not mix:

1. scripts/bench_consolidate.py for each N: N filled workbooks over a realistic tree, then on the
   same files batn's read + validate + consolidate (on all cores and on one process), the openpyxl
   loop a user would write (the baseline) and raw python-calamine reads (the floor); --dask adds
   the Dask engine on a local cluster. Workbooks are kept in WORKDIR/consolidate_N for --reuse.
2. scripts/bench_scale.py: 3,400 templates on one process and on all cores; peak memory of a
   consolidation at the smallest and the largest N, alone and with its workbook written; the report from a 1,000-unit consolidation;
   a 500-unit shared Google Sheet read through the local Sheets stand-in (tests/sheets_standin.py).

Then it prints the goals table. Timings on a shared machine vary run to run; use --repeat.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_json(cmd: list[str]) -> dict:
    """Run a benchmark script with --json; its progress goes to our stderr, its table is ours."""
    print("$ " + " ".join(cmd[1:]), file=sys.stderr, flush=True)
    res = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if res.returncode != 0:
        sys.exit(f"failed (exit {res.returncode}): {' '.join(cmd[1:])}")
    out = res.stdout
    return json.loads(out[out.index("{"):out.rindex("}") + 1])


def goal_rows(consolidate: dict[int, dict], scale: dict) -> list[tuple[str, str, str]]:
    rows = []
    for n, r in sorted(consolidate.items()):
        ratio, floor = r["ratios"]["batn_over_openpyxl_files_per_s"], r["ratios"]["batn_over_calamine_files_per_s"]
        b = r["results"]["batn"]
        rows.append((f"N={n:,}: at least 20x the openpyxl baseline",
                     f"{ratio:.1f}x ({b['files_per_s']:.0f} vs {r['results']['openpyxl']['files_per_s']:.1f} files/s)",
                     "met" if ratio >= 20 else "NOT met"))
        rows.append((f"N={n:,}: within 1.5x the calamine floor (time)",
                     f"{1 / floor:.2f}x the floor's time ({r['results']['calamine']['files_per_s']:.0f} files/s)",
                     "met" if 1 / floor <= 1.5 else "NOT met"))
        b1 = r["ratios"].get("batn1_over_openpyxl_files_per_s")
        if b1:
            rows.append((f"N={n:,}: the same on one process (per core, for comparison)",
                         f"{b1:.1f}x openpyxl, {1 / r['ratios']['batn1_over_calamine_files_per_s']:.2f}x the floor's time",
                         "(not a goal)"))
        if "batn-dask" in r["results"]:
            same = r["results"]["batn-dask"]["checksum"] == b["checksum"]
            rows.append((f"N={n:,}: Dask engine gives the same totals",
                         f"checksum {r['results']['batn-dask']['checksum']} vs {b['checksum']}, "
                         f"{r['results']['batn-dask']['files_per_s']:.0f} files/s on a local cluster",
                         "met" if same else "NOT met"))
        rows.append((f"N={n:,}: totals of all approaches equal", "checksums " +
                     ("match" if r["checksums_match"] else "DIFFER"), "met" if r["checksums_match"] else "NOT met"))
    mem = scale.get("memory") or {}
    if len(mem) >= 2:
        lo, hi = min(mem, key=int), max(mem, key=int)
        ratio = mem[hi]["parent_peak_mb"] / mem[lo]["parent_peak_mb"]
        readers = mem[hi]["reader_peak_mb"] / mem[lo]["reader_peak_mb"]
        book = mem[hi]["with_workbook_peak_mb"] / mem[lo]["with_workbook_peak_mb"]
        rows.append((f"peak memory N={int(hi):,} <= 1.5x N={int(lo):,} (figures only)",
                     f"{ratio:.2f}x (parent {mem[lo]['parent_peak_mb']:.0f} -> {mem[hi]['parent_peak_mb']:.0f} MB); "
                     f"readers {readers:.2f}x; with the consolidated workbook written {book:.2f}x "
                     f"({mem[lo]['with_workbook_peak_mb']:.0f} -> {mem[hi]['with_workbook_peak_mb']:.0f} MB)",
                     "met" if max(ratio, readers, book) <= 1.5 else "NOT met"))
    if len(consolidate) >= 2:      # the same on bench_consolidate's files, which carry narrative text
        lo, hi = min(consolidate), max(consolidate)
        a, b = consolidate[lo]["results"]["batn"], consolidate[hi]["results"]["batn"]
        parent = (b.get("vmhwm_mb") or b["peak_mb"]) / (a.get("vmhwm_mb") or a["peak_mb"])
        readers = (b.get("readers_mb") or 0) / (a.get("readers_mb") or 1)
        rows.append((f"peak memory N={hi:,} <= 1.5x N={lo:,} (with narratives)",
                     f"{parent:.2f}x (parent {a.get('vmhwm_mb') or a['peak_mb']:.0f} -> "
                     f"{b.get('vmhwm_mb') or b['peak_mb']:.0f} MB); readers {readers:.2f}x",
                     "met" if max(parent, readers) <= 1.5 else "NOT met"))
    t = scale.get("templates")
    if t:
        best = min(t["one_process_s"], t["two_processes_s"])
        rows.append((f"{t['templates']:,} templates in under 10 s",
                     f"{t['one_process_s']:.1f} s on one process, {t['two_processes_s']:.1f} s on all cores",
                     "met" if best < 10 else "NOT met"))
    rep = scale.get("report")
    if rep:
        rows.append(("report from a 1,000-unit consolidation", f"workbook {rep['consolidated_workbook_s']:.1f} s, "
                     f".docx {rep['report_docx_s']:.2f} s, .txt {rep['report_txt_s']:.2f} s", "(figure)"))
    g = scale.get("google")
    if g:
        rows.append((f"Google Sheet, {g['units']} units (stand-in)",
                     f"{g['seconds']:.1f} s, {g['requests']} API requests", "(figure)"))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--units", type=int, nargs="+", default=[1000, 10000],
                    help="workbook counts to measure (default 1000 10000; 100000 is an option)")
    ap.add_argument("--strings", choices=("inline", "shared"), default="inline")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--dask", action="store_true", help="add the Dask engine (local cluster) at the smallest N")
    ap.add_argument("--templates", type=int, default=3400)
    ap.add_argument("--google", type=int, default=500)
    ap.add_argument("--workdir", type=Path, help="kept between runs (files are reused); default: a temp dir")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="batn-bench-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    consolidate: dict[int, dict] = {}
    for n in sorted(set(args.units)):
        cmd = [sys.executable, str(HERE / "bench_consolidate.py"), "--units", str(n), "--json", "--reuse",
               "--workdir", str(workdir / f"consolidate_{n}_{args.strings}"), "--strings", args.strings,
               "--repeat", str(args.repeat)]
        if args.dask and n == min(args.units):
            cmd.append("--dask")
        consolidate[n] = run_json(cmd)
    sizes = sorted({min(args.units), max(args.units)})
    scale = run_json([sys.executable, str(HERE / "bench_scale.py"), "--json", "--workdir", str(workdir / "scale"),
                      "--templates", str(args.templates), "--google", str(args.google),
                      "--memory", *map(str, sizes)])

    env = next(iter(consolidate.values()))["environment"]
    print(f"batn scale benchmark — Python {env['python']} on {env['cpus']} CPUs; batn {env['batn']}, "
          f"openpyxl {env['openpyxl']}, python-calamine {env['python-calamine']}; {args.strings} strings; "
          f"workdir {workdir}")
    for n, r in sorted(consolidate.items()):
        print(f"\nN = {n:,} workbooks (tree: {r['tree']['mid']} mid-level units, {r['tree']['leaves']} leaves)")
        print(f"  {'approach':<34} {'files/s':>9} {'seconds':>8} {'peak MB':>8} {'readers MB':>10}")
        for a, x in r["results"].items():
            print(f"  {a:<34} {x['files_per_s']:>9.1f} {x['seconds']:>8.2f} {x['peak_mb']:>8.1f} "
                  f"{x.get('readers_mb') or 0:>10.1f}")
    print("\nGoals (issue 6)")
    rows = goal_rows(consolidate, scale)
    width = max(len(r[0]) for r in rows)
    for goal, got, verdict in rows:
        print(f"  {goal:<{width}}  {verdict:<12} {got}")
    if args.json:
        print(json.dumps({"consolidate": consolidate, "scale": scale,
                          "goals": [dict(zip(("goal", "measured", "verdict"), r)) for r in rows]},
                         ensure_ascii=False, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
