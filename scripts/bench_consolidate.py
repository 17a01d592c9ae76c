"""Benchmark: batn's read + validate + consolidate against what a user would write by hand.

    python scripts/bench_consolidate.py --units 1000
    python scripts/bench_consolidate.py --units 1000 --workdir /tmp/bench --reuse --json

It builds a realistic province (one Tỉnh Đoàn, about N/25 Đoàn cơ sở, the rest
chi đoàn under them), writes the units CSV and N filled unit workbooks (every
unit but the root sends one; `write_template` + `batn.demo.sample_values`, on
--workers processes), then measures, each in a fresh subprocess of this
script so that peak memory figures do not mix:

  batn      batn.pipeline.consolidate_inbox: read every file by defined name,
            validate (structure, rules, period, catalogue, unit), roll the tree up;
            readers on every core, as `batn consolidate` runs;
  batn-1    the same on one process (workers=1): the per-core comparison;
  batn-dask (--dask) the same with engine="dask" on a LocalCluster of --workers
            processes: same totals expected, and the scheduler's cost on one machine;
  openpyxl  the baseline a user would write: load_workbook(data_only=True) per
            file, each indicator cell through wb.defined_names[code], summed;
  calamine  the floor: python-calamine reads the "Số liệu" sheet and picks the
            cells at coordinates computed once from the template layout, summed.

  batn-cli  the whole `batn consolidate INBOX --units .. --out tong_hop.xlsx` command as a
            user runs it: a new process, timed from its start to its exit (interpreter
            start-up, imports, listing, reading, roll-up, writing the workbook, exit).

Two times per approach: "seconds" is the work inside the process (imports and
interpreter start-up excluded), "process s" is the whole subprocess, timed end to
end by this script: what a user waits for. For openpyxl and calamine the process is
this script's --measure step (the same loop a user would write, plus this
script's own small imports); whole-process ratios compare processes with processes.
Peak MB is the process's ru_maxrss (so it includes the imports; "imports MB" is the
peak just before the work starts); "readers MB" is the largest reader process's
peak (batn's pool). Nothing is asserted; the totals of all approaches are
checksummed and compared (they must match: the same files are read; the command's
totals are read back from the workbook it wrote).

--strings shared rewrites every generated workbook the way Excel saves it (text
in xl/sharedStrings.xml, cells t="s") instead of openpyxl's inline strings.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, time as dtime, timedelta
from pathlib import Path

MANIFEST = "manifest.json"
UNITS_CSV = "don_vi.csv"
INBOX = "inbox"
APPROACHES = ("batn", "batn-1", "openpyxl", "calamine", "batn-cli")
OPTIONAL = ("batn-dask",)          # run with --dask
OUT_FILE = "tong_hop.xlsx"          # what the whole `batn consolidate` command writes
LABELS = {
    "batn-cli": "batn consolidate command (whole process)",
    "batn-dask": "batn --engine dask (local cluster)",
    "batn": "batn consolidate_inbox (all cores)",
    "batn-1": "batn consolidate_inbox (1 process)",
    "openpyxl": "openpyxl load_workbook (baseline)",
    "calamine": "python-calamine cells (floor)",
}


def peak_mb() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / (1024 * 1024) if sys.platform == "darwin" else r / 1024   # bytes on macOS, KiB on Linux


def vmhwm_mb() -> float | None:
    """Linux: this process image's own peak RSS (reset by execve, unlike ru_maxrss)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def checksum(totals: dict[str, float | int | None]) -> tuple[str, int | float]:
    """Order-independent digest of code -> total; 2.0 and 2 digest alike."""
    norm = {}
    for code, v in totals.items():
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        norm[code] = v
    blob = json.dumps(sorted(norm.items()), ensure_ascii=True).encode()
    grand = sum(v for v in norm.values() if isinstance(v, (int, float)))
    return hashlib.sha256(blob).hexdigest()[:12], grand


# ---------------------------------------------------------------- the province and its files

def build_units(n: int) -> list[tuple[str, str, str, str]]:
    """(code, name, parent, level): 1 root, ~n/25 mid-level units, the rest leaves; n units send files."""
    n = max(1, n)
    n_mid = max(1, round(n / 25))
    n_leaf = n - n_mid
    units = [("TD", "Tỉnh Đoàn Thử nghiệm", "", "Tỉnh Đoàn")]
    mids = [f"DCS_{i:03d}" for i in range(1, n_mid + 1)]
    for i, code in enumerate(mids, start=1):
        units.append((code, f"Đoàn cơ sở số {i}", "TD", "Đoàn cơ sở"))
    per_mid: dict[str, int] = {m: 0 for m in mids}
    for j in range(n_leaf):
        m = mids[j % n_mid]
        per_mid[m] += 1
        units.append((f"CD_{m[4:]}_{per_mid[m]:02d}", f"Chi đoàn {per_mid[m]} thuộc Đoàn cơ sở số {int(m[4:])}",
                      m, "Chi đoàn"))
    return units


_G: dict = {}


def _init_worker(catalog: str, period: str, strings: str = "inline") -> None:
    from batn.catalogue import load_catalogue
    from batn.pipeline import load_period

    _G["cat"], _G["period"], _G["strings"] = load_catalogue(catalog), load_period(period), strings


_INLINE = re.compile(rb'<c r="([A-Z]+\d+)"([^>]*?) t="inlineStr"(?:/>|>(?:<is>(.*?)</is>)?</c>)', re.S)
SST_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
SST_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"


def to_shared_strings(path: str) -> None:
    """Store the workbook's text the way Excel saves it: one xl/sharedStrings.xml, cells t="s"."""
    import zipfile

    strings: dict[bytes, int] = {}

    def swap(m: re.Match) -> bytes:
        ref, attrs, body = m.group(1), m.group(2), m.group(3)
        if not body:
            return b'<c r="' + ref + b'"' + attrs + b"/>"
        i = strings.setdefault(body, len(strings))
        return b'<c r="' + ref + b'"' + attrs + b' t="s"><v>' + str(i).encode() + b"</v></c>"

    with zipfile.ZipFile(path) as z:
        parts = [(i, z.read(i.filename)) for i in z.infolist()]
    out = []
    for info, data in parts:
        if info.filename.startswith("xl/worksheets/sheet"):
            data = _INLINE.sub(swap, data)
        out.append((info, data))
    sst = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="%d" uniqueCount="%d">'
           % (len(strings), len(strings)) + b"".join(b"<si>" + s + b"</si>" for s in strings) + b"</sst>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in out:
            if info.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="'
                                    + SST_TYPE.encode() + b'"/></Types>')
            elif info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Id="rIdSst" Type="' + SST_REL.encode()
                                    + b'" Target="sharedStrings.xml"/></Relationships>')
            z.writestr(info, data)
        z.writestr("xl/sharedStrings.xml", sst)


def _write_one(task) -> str:
    from batn.demo import sample_narratives, sample_values
    from batn.model import Unit
    from batn.xlsx.template import write_template

    idx, (code, name, parent, level), has_children, path, seed, mtime = task
    rng = random.Random(seed * 1_000_003 + idx)
    size = rng.randint(3, 10) if has_children else rng.randint(8, 40)
    unit = Unit(code, name, parent or None, level=level)
    write_template(path, _G["cat"], unit, _G["period"], values=sample_values(_G["cat"], rng, size),
                   narratives=sample_narratives(rng, name), has_children=has_children)
    if _G.get("strings") == "shared":
        to_shared_strings(path)
    ts = mtime + rng.randint(0, 3000) * 60       # on time: before the deadline
    os.utime(path, (ts, ts))
    return path


def generate(workdir: Path, n: int, catalog: str, period_id: str, seed: int, workers: int,
             strings: str = "inline") -> dict:
    import multiprocessing as mp

    from batn.catalogue import load_catalogue
    from batn.model import Unit, UnitTree
    from batn.pipeline import load_period
    from batn.units import write_units_csv
    from batn.xlsx.template import COL_VALUE, layout_rows

    cat, period = load_catalogue(catalog), load_period(period_id)
    units = build_units(n)
    tree = UnitTree(Unit(c, nm, p or None, level=lv) for c, nm, p, lv in units)
    workdir.mkdir(parents=True, exist_ok=True)
    write_units_csv(tree, workdir / UNITS_CSV)
    inbox = workdir / INBOX
    inbox.mkdir(exist_ok=True)

    deadline = period.deadline_for("") or period.end
    mtime = datetime.combine(deadline - timedelta(days=3), dtime(9, 30)).timestamp()
    tasks = []
    for idx, u in enumerate(units[1:]):          # the root consolidates; it sends nothing
        path = str(inbox / f"BaoCao_3TN_{period.id}_{u[0]}.xlsx")
        tasks.append((idx, u, bool(tree.children[u[0]]), path, seed, mtime))

    t0 = time.perf_counter()
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    done = 0
    with ctx.Pool(max(1, workers), initializer=_init_worker, initargs=(catalog, period_id, strings)) as pool:
        for _ in pool.imap_unordered(_write_one, tasks, chunksize=8):
            done += 1
            if done % 100 == 0 or done == len(tasks):
                print(f"  generated {done}/{len(tasks)}", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - t0

    _, placed = layout_rows(cat)
    from batn import layout as L

    manifest = {
        "units": n, "catalog": catalog, "period": period_id, "seed": seed, "strings": strings,
        "tree": {"root": 1, "mid": sum(1 for u in units if u[3] == "Đoàn cơ sở"),
                 "leaves": sum(1 for u in units if u[3] == "Chi đoàn")},
        "files": sorted(Path(t[3]).name for t in tasks),
        "sheet": L.DATA_SHEET,
        "codes": cat.codes,
        # 0-based (row, col) of every indicator's input cell, for the calamine floor
        "cells": {code: [ir.row - 1, COL_VALUE - 1] for code, ir in placed.items()},
        "generate": {"files": len(tasks), "seconds": seconds, "workers": workers},
    }
    (workdir / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return manifest


def reusable(workdir: Path, n: int, catalog: str, period: str, seed: int, strings: str = "inline") -> dict | None:
    try:
        m = json.loads((workdir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (m.get("units"), m.get("catalog"), m.get("period"), m.get("seed"), m.get("strings", "inline")) != \
            (n, catalog, period, seed, strings):
        return None
    inbox = workdir / INBOX
    if sorted(p.name for p in inbox.glob("*.xlsx")) != m["files"] or not (workdir / UNITS_CSV).is_file():
        return None
    return m


def clear_previous(workdir: Path) -> None:
    """Remove the files an earlier run of this script wrote (only those), refuse anything else."""
    inbox = workdir / INBOX
    if not inbox.is_dir():
        return
    try:
        ours = set(json.loads((workdir / MANIFEST).read_text(encoding="utf-8"))["files"])
    except (OSError, ValueError, KeyError):
        ours = set()
    foreign = [p.name for p in inbox.iterdir() if p.name not in ours]
    if foreign:
        sys.exit(f"{inbox} holds files this script did not write ({', '.join(foreign[:5])}...); "
                 "use another --workdir")
    for name in ours:
        (inbox / name).unlink(missing_ok=True)


# ---------------------------------------------------------------- measurements (run in a subprocess)

def measure(which: str, workdir: Path, catalog: str, period_id: str) -> dict:
    m = json.loads((workdir / MANIFEST).read_text(encoding="utf-8"))
    inbox = workdir / INBOX
    extra: dict = {}
    if which in ("batn", "batn-1", "batn-dask"):
        from batn.catalogue import load_catalogue
        from batn.model import Severity
        from batn.pipeline import consolidate_inbox, load_period
        from batn.units import load_units

        imports = peak_mb()
        t0 = time.perf_counter()
        tree = load_units(workdir / UNITS_CSV)
        cat, period = load_catalogue(catalog), load_period(period_id)
        deadline = period.deadline_for("") or period.end
        as_of = datetime.combine(deadline + timedelta(days=5), dtime(8, 0))
        cons = consolidate_inbox(inbox, tree, cat, period, as_of=as_of,
                                 workers=1 if which == "batn-1" else None,
                                 engine="dask" if which == "batn-dask" else "local")
        seconds = time.perf_counter() - t0
        totals = dict(cons.totals)
        files = sum(1 for u in cons.units.values() if u.submission is not None) + \
            sum(len(u.ignored) for u in cons.units.values())
        extra = {"errors": sum(f.severity == Severity.ERROR for f in cons.findings),
                 "warnings": sum(f.severity == Severity.WARNING for f in cons.findings)}
    elif which == "cli-totals":          # the totals `batn consolidate` wrote (its workbook is a submission)
        from batn.xlsx.reader import read_submission

        imports = peak_mb()
        t0 = time.perf_counter()
        totals = {c: v for c, v in read_submission(workdir / OUT_FILE).values.items() if v is not None}
        seconds, files = time.perf_counter() - t0, len(m["files"])
    elif which == "openpyxl":
        from openpyxl import load_workbook

        imports = peak_mb()
        t0 = time.perf_counter()
        codes = m["codes"]
        totals = {c: 0 for c in codes}
        paths = sorted(inbox.glob("*.xlsx"))
        for p in paths:
            wb = load_workbook(p, data_only=True)
            for code in codes:
                for sheet, coord in wb.defined_names[code].destinations:
                    v = wb[sheet][coord].value
                    if isinstance(v, (int, float)):
                        totals[code] += v
            wb.close()
        seconds = time.perf_counter() - t0
        files = len(paths)
    elif which == "calamine":
        from python_calamine import CalamineWorkbook

        imports = peak_mb()
        t0 = time.perf_counter()
        cells = [(code, r, c) for code, (r, c) in m["cells"].items()]
        totals = {code: 0 for code, _, _ in cells}
        sheet = m["sheet"]
        paths = sorted(inbox.glob("*.xlsx"))
        for p in paths:
            rows = CalamineWorkbook.from_path(str(p)).get_sheet_by_name(sheet).to_python(skip_empty_area=False)
            for code, r, c in cells:
                v = rows[r][c]
                if isinstance(v, (int, float)):
                    totals[code] += v
        seconds = time.perf_counter() - t0
        files = len(paths)
    else:
        raise SystemExit(f"unknown --measure {which}")
    digest, grand = checksum(totals)
    return {"approach": which, "files": files, "seconds": seconds, "files_per_s": files / seconds if seconds else 0,
            "peak_mb": peak_mb(), "vmhwm_mb": vmhwm_mb(), "imports_mb": imports, "checksum": digest,
            "readers_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "grand_total": grand, **extra}


def run_step(step: str, args, workdir: Path) -> dict:
    """Run one step in a fresh interpreter; it prints one JSON line, to which the
    whole subprocess's wall time is added ("process_s").

    Linux keeps ru_maxrss across execve, so a child starts from its parent's
    peak: this parent therefore imports nothing heavy (no batn, no openpyxl)
    and generation runs in a child too.
    """
    if step == "batn-cli":
        return run_command(args, workdir)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--workdir", str(workdir),
           "--catalog", args.catalog, "--period", args.period]
    if step == "generate":
        cmd += ["--generate-only", "--units", str(args.units), "--seed", str(args.seed),
                "--workers", str(args.workers), "--strings", args.strings]
    else:
        cmd += ["--measure", step]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)   # progress goes to our stderr
    process_s = time.perf_counter() - t0
    if res.returncode != 0:
        sys.exit(f"step {step} failed (exit {res.returncode})")
    return {**json.loads(res.stdout.strip().splitlines()[-1]), "process_s": process_s}


# What the `batn` console script runs (pyproject's [project.scripts]); started the same way here so
# that the interpreter found first on PATH does not matter.
BATN_COMMAND = "import sys; from batn.cli import main; sys.argv[0] = 'batn'; sys.exit(main())"


def run_command(args, workdir: Path) -> dict:
    """The whole `batn consolidate` command, timed from process start to exit (what a user waits
    for); its output goes to a pipe, as in a scheduled run. Its totals are read back from the
    workbook it wrote, in another step (not timed)."""
    out = workdir / OUT_FILE
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-c", BATN_COMMAND, "consolidate", str(workdir / INBOX), "--units",
           str(workdir / UNITS_CSV), "--catalog", args.catalog, "--period", args.period, "--out", str(out)]
    with tempfile.TemporaryFile() as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=log)
        _, status, usage = os.wait4(proc.pid, 0)     # this command's own rusage (its peak memory)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        text = log.read().decode("utf-8", "replace")
    if proc.returncode not in (0, 1) or not out.is_file():        # 1: the inbox holds lỗi; still a run
        sys.exit(f"batn consolidate failed (exit {proc.returncode}): {text[-2000:]}")
    totals = run_step("cli-totals", args, workdir)
    n = len(json.loads((workdir / MANIFEST).read_text(encoding="utf-8"))["files"])
    return {"approach": "batn-cli", "files": n, "seconds": seconds, "process_s": seconds,
            "files_per_s": n / seconds, "peak_mb": usage.ru_maxrss / 1024, "vmhwm_mb": None, "imports_mb": 0.0,
            "checksum": totals["checksum"], "grand_total": totals["grand_total"], "readers_mb": None,
            "exit_status": proc.returncode}


# ---------------------------------------------------------------- main

def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine()}
    for pkg in ("batn", "openpyxl", "python-calamine"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "?"
    return out


def print_table(manifest: dict, results: dict[str, dict], gen: dict, workdir: Path, env: dict,
                approaches=APPROACHES) -> None:
    t = manifest["tree"]
    print(f"batn consolidation benchmark: {manifest['generate']['files']} workbooks, "
          f"{manifest.get('strings', 'inline')} strings "
          f"(catalogue {manifest['catalog']}, period {manifest['period']}); tree 1 root + {t['mid']} mid-level "
          f"+ {t['leaves']} leaves; workdir {workdir}")
    print(f"Python {env['python']} on {env['cpus']} CPUs ({env['machine']}); batn {env['batn']}, "
          f"openpyxl {env['openpyxl']}, python-calamine {env['python-calamine']}")
    if gen.get("reused"):
        print(f"generate: reused {gen['files']} files (first written at "
              f"{gen['files'] / gen['seconds']:.1f} templates/s on {gen['workers']} processes)")
    else:
        print(f"generate: {gen['files']} templates in {gen['seconds']:.1f} s = "
              f"{gen['files'] / gen['seconds']:.1f} templates/s ({gen['workers']} processes)")
    print()
    head = (f"{'approach':<42} {'files':>6} {'seconds':>8} {'process s':>9} {'files/s':>9} {'peak MB':>8} "
            f"{'imports MB':>11} {'VmHWM MB':>9} {'readers MB':>10}  checksum")
    print(head)
    print("-" * len(head))
    for a in approaches:
        r = results[a]
        print(f"{LABELS[a]:<42} {r['files']:>6} {r['seconds']:>8.2f} {r.get('process_s') or 0:>9.2f} "
              f"{r['files_per_s']:>9.1f} {r['peak_mb']:>8.1f} {r['imports_mb']:>11.1f} {r.get('vmhwm_mb') or 0:>9.1f} "
              f"{r.get('readers_mb') or 0:>10.1f}  {r['checksum']}")
    b, b1, o, c = results["batn"], results["batn-1"], results["openpyxl"], results["calamine"]
    w = whole_process(results)
    print(f"(seconds = the work inside the process; process s = the whole subprocess, start-up to exit)")
    print(f"whole process: `batn consolidate` {results['batn-cli']['process_s']:.2f} s; "
          f"{w['cli_over_openpyxl_process']:.1f}x faster than the openpyxl loop as a process "
          f"({o['process_s']:.2f} s); {w['cli_over_calamine_process_time']:.2f}x the time of the calamine loop "
          f"as a process ({c['process_s']:.2f} s)")
    print(f"(peak MB = ru_maxrss of a fresh subprocess per approach; it cannot read below this launcher's "
          f"{env['launcher_mb']:.1f} MB, which Linux carries across execve. VmHWM = /proc peak of the child alone.)")
    print()
    print(f"batn / openpyxl: {b['files_per_s'] / o['files_per_s']:.2f}x files/s, "
          f"{b['peak_mb'] / o['peak_mb']:.2f}x peak memory")
    print(f"batn / calamine: {b['files_per_s'] / c['files_per_s']:.2f}x files/s, "
          f"{b['peak_mb'] / c['peak_mb']:.2f}x peak memory")
    print(f"batn on 1 process / openpyxl: {b1['files_per_s'] / o['files_per_s']:.2f}x files/s; "
          f"/ calamine: {b1['files_per_s'] / c['files_per_s']:.2f}x files/s (both baselines run on 1 process)")
    print(f"batn findings on these files: {b.get('errors', '?')} lỗi, {b.get('warnings', '?')} cảnh báo")
    match = len({r["checksum"] for r in results.values()}) == 1
    sums = ", ".join(f"{a} {results[a]['checksum']}" for a in approaches)
    print(f"totals checksum: {'MATCH' if match else 'MISMATCH'} ({sums}; grand total {b['grand_total']:,})")


def whole_process(results: dict[str, dict]) -> dict[str, float]:
    """The command as a user runs it, against the two loops run as processes too."""
    cli, o, c = results["batn-cli"], results["openpyxl"], results["calamine"]
    return {"cli_over_openpyxl_process": o["process_s"] / cli["process_s"],
            "cli_over_calamine_process_time": cli["process_s"] / c["process_s"],
            "cli_over_calamine_inprocess_time": cli["process_s"] / c["seconds"]}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--units", type=int, default=1000, help="workbooks to generate and read (default 1000)")
    ap.add_argument("--workdir", type=Path, help="where the units CSV and workbooks go (default: a temp dir, removed)")
    ap.add_argument("--reuse", action="store_true", help="reuse the workbooks already in --workdir if they match")
    ap.add_argument("--catalog", default="3tn-2024")
    ap.add_argument("--period", default="2024")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--workers", type=int, default=2, help="processes generating workbooks (default 2)")
    ap.add_argument("--strings", choices=("inline", "shared"), default="inline",
                    help="how the workbooks store text: openpyxl's inline strings, or shared strings as Excel "
                         "saves them (default inline)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per approach; best time, highest peak (default 1)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--dask", action="store_true", help="also run batn on a local Dask cluster (--engine dask)")
    ap.add_argument("--measure", choices=APPROACHES + OPTIONAL + ("cli-totals",), help=argparse.SUPPRESS)   # internal: one measurement
    ap.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)  # internal
    args = ap.parse_args(argv)

    if args.measure:
        print(json.dumps(measure(args.measure, args.workdir, args.catalog, args.period)))
        return
    if args.generate_only:
        m = generate(args.workdir, args.units, args.catalog, args.period, args.seed, args.workers, args.strings)
        print(json.dumps(m["generate"]))
        return

    launcher_mb = peak_mb()   # the floor every child's ru_maxrss starts from
    temp = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="batn-bench-")) if temp else args.workdir.resolve()
    try:
        manifest = reusable(workdir, args.units, args.catalog, args.period, args.seed, args.strings) \
            if args.reuse else None
        if manifest:
            gen = {**manifest["generate"], "reused": True}
            print(f"reusing {len(manifest['files'])} workbooks in {workdir}", file=sys.stderr)
        else:
            clear_previous(workdir)
            print(f"generating {args.units} workbooks in {workdir} ...", file=sys.stderr)
            run_step("generate", args, workdir)
            manifest = json.loads((workdir / MANIFEST).read_text(encoding="utf-8"))
            gen = {**manifest["generate"], "reused": False}
        results: dict[str, dict] = {}
        approaches = APPROACHES + (OPTIONAL if args.dask else ())
        for a in approaches:
            runs = []
            for i in range(max(1, args.repeat)):
                print(f"measuring {a} ({i + 1}/{max(1, args.repeat)}) ...", file=sys.stderr)
                runs.append(run_step(a, args, workdir))
            best = min(runs, key=lambda r: r["seconds"])
            results[a] = {**best, "peak_mb": max(r["peak_mb"] for r in runs),
                          "readers_mb": max(r.get("readers_mb") or 0 for r in runs),
                          "vmhwm_mb": max((r.get("vmhwm_mb") or 0) for r in runs) or None,
                          "process_s": min(r["process_s"] for r in runs),      # best, like "seconds"
                          "runs_s": [round(r["seconds"], 3) for r in runs],   # every run: the spread
                          "runs_process_s": [round(r["process_s"], 3) for r in runs]}
        env = {**versions(), "launcher_mb": launcher_mb}
        if args.json:
            b, b1, o, c = results["batn"], results["batn-1"], results["openpyxl"], results["calamine"]
            print(json.dumps({
                "units": args.units, "catalog": args.catalog, "period": args.period,
                "tree": manifest["tree"], "workdir": str(workdir), "environment": env,
                "generate": {**gen, "templates_per_s": gen["files"] / gen["seconds"]},
                "results": results,
                "ratios": {"batn_over_openpyxl_files_per_s": b["files_per_s"] / o["files_per_s"],
                           "batn_over_calamine_files_per_s": b["files_per_s"] / c["files_per_s"],
                           "batn1_over_openpyxl_files_per_s": b1["files_per_s"] / o["files_per_s"],
                           "batn1_over_calamine_files_per_s": b1["files_per_s"] / c["files_per_s"],
                           "batn_over_openpyxl_peak_mb": b["peak_mb"] / o["peak_mb"],
                           "batn_over_calamine_peak_mb": b["peak_mb"] / c["peak_mb"],
                           **whole_process(results)},
                "checksums_match": len({r["checksum"] for r in results.values()}) == 1,
            }, ensure_ascii=False, indent=2))
        else:
            print_table(manifest, results, gen, workdir, env, approaches)
    finally:
        if temp:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
