"""Every scale figure in one run, each goal printed beside what was measured (nothing asserted).

    python scripts/bench.py                                  # N = 1,000, both kinds of files, templates, click
    python scripts/bench.py --units 1000 --repeat 3          # best of 3 (the machine is shared: see the spread)
    python scripts/bench.py --units 1000 10000 --strings shared --workdir /data/batn-bench
    python scripts/bench.py --units 1000 --dask

It runs the benchmark scripts, each step in fresh processes so that memory figures do not mix:

1. scripts/bench_consolidate.py for each N and each kind of file (--strings: "inline" as openpyxl
   and batn write text, "shared" as Excel saves it): N filled workbooks over a realistic tree, then on
   the same files the whole `batn consolidate` command as a user runs it (a new process, timed from
   start to exit, writing its workbook), batn's read + validate + consolidate in-process (all cores and
   one process), the openpyxl loop a user would write (the baseline) and raw python-calamine reads
   (the floor), each of those two also timed as a whole process. --dask adds the Dask engine.
   Workbooks are kept in WORKDIR/consolidate_N_STRINGS for --reuse.
2. scripts/bench_scale.py: 3,400 templates on one process and on all cores; peak memory of a
   consolidation at the smallest and the largest N, alone and with its workbook written; the report
   from a 1,000-unit consolidation; a 500-unit shared Google Sheet read through the local Sheets
   stand-in (tests/sheets_standin.py).
3. scripts/bench_kiem_tra.py: the Kiểm tra button, warm (one Python process kept open between
   clicks, as the add-in runs it through xlwings' COM server) and cold (a new process per click).

The goals compare whole processes with whole processes: what a user waits for. Timings on a shared
machine vary run to run; use --repeat and read the spread printed beside the best.
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


def _spread(x: dict) -> str:
    runs = x.get("runs_process_s") or []
    return f" [runs {min(runs):.2f}-{max(runs):.2f} s]" if len(runs) > 1 else ""


def goal_rows(consolidate: dict[tuple[int, str], dict], scale: dict, click: dict | None = None
              ) -> list[tuple[str, str, str]]:
    rows = []
    for (n, strings), r in sorted(consolidate.items()):
        res = r["results"]
        cli, o, c = res["batn-cli"], res["openpyxl"], res["calamine"]
        whole = r["ratios"]["cli_over_openpyxl_process"]
        floor = r["ratios"]["cli_over_calamine_process_time"]
        rows.append((f"N={n:,} ({strings}): whole `batn consolidate` at least 20x the openpyxl loop",
                     f"{whole:.1f}x ({cli['process_s']:.2f} s{_spread(cli)} vs {o['process_s']:.1f} s, "
                     "both whole processes)", "met" if whole >= 20 else "NOT met"))
        rows.append((f"N={n:,} ({strings}): whole `batn consolidate` within 1.5x the calamine floor (time)",
                     f"{floor:.2f}x ({cli['process_s']:.2f} s vs {c['process_s']:.2f} s{_spread(c)}, both whole "
                     f"processes; {r['ratios']['cli_over_calamine_inprocess_time']:.2f}x the floor's loop alone, "
                     f"{c['seconds']:.2f} s)", "met" if floor <= 1.5 else "NOT met"))
        ratio, inproc = r["ratios"]["batn_over_openpyxl_files_per_s"], r["ratios"]["batn_over_calamine_files_per_s"]
        b = res["batn"]
        rows.append((f"N={n:,} ({strings}): in-process reading, all cores (for comparison)",
                     f"{ratio:.1f}x openpyxl, {1 / inproc:.2f}x the floor's time ({b['files_per_s']:.0f} vs "
                     f"{o['files_per_s']:.1f} and {c['files_per_s']:.0f} files/s)", "(not a goal)"))
        b1 = r["ratios"].get("batn1_over_openpyxl_files_per_s")
        if b1:
            rows.append((f"N={n:,} ({strings}): in-process reading, one process (per core)",
                         f"{b1:.1f}x openpyxl, {1 / r['ratios']['batn1_over_calamine_files_per_s']:.2f}x the floor's time",
                         "(not a goal)"))
        if "batn-dask" in r["results"]:
            same = r["results"]["batn-dask"]["checksum"] == b["checksum"]
            rows.append((f"N={n:,} ({strings}): Dask engine gives the same totals",
                         f"checksum {r['results']['batn-dask']['checksum']} vs {b['checksum']}, "
                         f"{r['results']['batn-dask']['files_per_s']:.0f} files/s on a local cluster",
                         "met" if same else "NOT met"))
        rows.append((f"N={n:,} ({strings}): totals of all approaches equal", "checksums " +
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
    sizes = sorted({n for n, _ in consolidate})
    if len(sizes) >= 2:      # the same on bench_consolidate's files, which carry narrative text
        strings = next(s for n, s in sorted(consolidate))
        lo, hi = (sizes[0], strings), (sizes[-1], strings)
        a, b = consolidate[lo]["results"]["batn"], consolidate[hi]["results"]["batn"]
        parent = (b.get("vmhwm_mb") or b["peak_mb"]) / (a.get("vmhwm_mb") or a["peak_mb"])
        readers = (b.get("readers_mb") or 0) / (a.get("readers_mb") or 1)
        rows.append((f"peak memory N={hi[0]:,} <= 1.5x N={lo[0]:,} (with narratives)",
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
    if click:
        rows.append(("a Kiểm tra click under 0.5 s (warm: Python kept open, as the add-in runs it)",
                     f"{click['warm_click_s'] * 1000:.1f} ms median ({click['warm_click_min_s'] * 1000:.1f}-"
                     f"{click['warm_click_max_s'] * 1000:.1f}); a cold click (new process) {click['cold_click_s']:.2f} s; "
                     "Excel's own part not measured", "met" if click["warm_click_s"] < 0.5 else "NOT met"))
    g = scale.get("google")
    if g:
        rows.append((f"Google Sheet, {g['units']} units (stand-in)",
                     f"{g['seconds']:.1f} s, {g['requests']} API requests", "(figure)"))
    return rows


def run_click(repeat: int) -> dict:
    cmd = [sys.executable, str(HERE / "bench_kiem_tra.py"), "--json", "--repeat", str(repeat)]
    print("$ " + " ".join(cmd[1:]), file=sys.stderr, flush=True)
    res = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if res.returncode != 0:
        sys.exit(f"failed (exit {res.returncode}): {' '.join(cmd[1:])}")
    print(res.stdout.rsplit("\n{", 1)[0], file=sys.stderr)       # its own table, for the record
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--units", type=int, nargs="+", default=[1000],
                    help="workbook counts to measure (default 1000; 10000 and 100000 are options)")
    ap.add_argument("--strings", nargs="+", choices=("inline", "shared"), default=["inline", "shared"],
                    help="how the workbooks store text: inline (openpyxl, batn), shared (as Excel saves); default both")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--dask", action="store_true", help="add the Dask engine (local cluster) at the smallest N")
    ap.add_argument("--templates", type=int, default=3400)
    ap.add_argument("--google", type=int, default=500)
    ap.add_argument("--clicks", type=int, default=20, help="Kiểm tra clicks timed (0: skip)")
    ap.add_argument("--workdir", type=Path, help="kept between runs (files are reused); default: a temp dir")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="batn-bench-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    consolidate: dict[tuple[int, str], dict] = {}
    for n in sorted(set(args.units)):
        for strings in args.strings:
            cmd = [sys.executable, str(HERE / "bench_consolidate.py"), "--units", str(n), "--json", "--reuse",
                   "--workdir", str(workdir / f"consolidate_{n}_{strings}"), "--strings", strings,
                   "--repeat", str(args.repeat)]
            if args.dask and n == min(args.units) and strings == args.strings[0]:
                cmd.append("--dask")
            consolidate[(n, strings)] = run_json(cmd)
    sizes = sorted({min(args.units), max(args.units)})
    scale = run_json([sys.executable, str(HERE / "bench_scale.py"), "--json", "--workdir", str(workdir / "scale"),
                      "--templates", str(args.templates), "--google", str(args.google),
                      "--memory", *map(str, sizes)])
    click = run_click(args.clicks) if args.clicks else None

    env = next(iter(consolidate.values()))["environment"]
    print(f"batn scale benchmark — Python {env['python']} on {env['cpus']} CPUs; batn {env['batn']}, "
          f"openpyxl {env['openpyxl']}, python-calamine {env['python-calamine']}; workdir {workdir}")
    for (n, strings), r in sorted(consolidate.items()):
        print(f"\nN = {n:,} workbooks, {strings} strings (tree: {r['tree']['mid']} mid-level units, "
              f"{r['tree']['leaves']} leaves)")
        print(f"  {'approach':<10} {'files/s':>9} {'seconds':>8} {'process s':>9} {'runs (process s)':>22} "
              f"{'peak MB':>8} {'readers MB':>10}")
        for a, x in r["results"].items():
            runs = ", ".join(f"{t:.2f}" for t in x.get("runs_process_s") or [])
            print(f"  {a:<10} {x['files_per_s']:>9.1f} {x['seconds']:>8.2f} {x.get('process_s') or 0:>9.2f} "
                  f"{runs:>22} {x['peak_mb']:>8.1f} {x.get('readers_mb') or 0:>10.1f}")
    print("\n(seconds: the work inside the process; process s: the whole process, start-up to exit)")
    print("\nGoals (issues 6 and 19)")
    rows = goal_rows(consolidate, scale, click)
    width = max(len(r[0]) for r in rows)
    for goal, got, verdict in rows:
        print(f"  {goal:<{width}}  {verdict:<12} {got}")
    if args.json:
        print(json.dumps({"consolidate": {f"{n}_{s}": r for (n, s), r in consolidate.items()}, "scale": scale,
                          "click": click, "goals": [dict(zip(("goal", "measured", "verdict"), r)) for r in rows]},
                         ensure_ascii=False, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
