"""Scale figures for issue 6, printed, never asserted (the machines are shared and noisy).

    python scripts/bench_scale.py                      # templates, memory at 1,000 and 10,000, report
    python scripts/bench_scale.py --templates 3400 --memory 1000 10000 --google 500

- templates: N blank templates (one per commune-level Đoàn nationally: 3,400) stamped by
  batn.pipeline.make_templates, in one process and on every core.
- memory: peak RSS of `consolidate_inbox` (parent and its reader processes) on N filled
  workbooks, for each N given, then of writing the consolidated workbook as well (the whole of
  `batn consolidate --out`), and the ratios of the largest N to the smallest.
- report: building the BÁO CÁO from a consolidated workbook and writing .docx and .txt.
- google: reading an N-unit shared spreadsheet (one row per unit) through the local Sheets
  stand-in of tests/sheets_standin.py, with the number of API requests.

Filled workbooks are made fast by stamping figures into a blank template's sheet XML (the same
cells `write_template` fills); `bench_consolidate.py` measures reading speed on openpyxl-written ones.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _tree_rows(n: int) -> list[tuple[str, str, str, str]]:
    """1 province, n/25 mid-level units, the rest leaves: the shape of a large province or a nation."""
    mids = max(1, n // 25)
    rows = [("T", "Trung ương Đoàn (thử)", "", "Trung ương")]
    rows += [(f"M{i:05d}", f"Tỉnh Đoàn {i}", "T", "Tỉnh Đoàn") for i in range(mids)]
    rows += [(f"U{i:06d}", f"Đoàn xã {i}", f"M{i % mids:05d}", "Đoàn xã/phường") for i in range(n - mids)]
    return rows


def _write_units(path: Path, n: int) -> Path:
    lines = ["code,name,parent,level"] + [",".join(r) for r in _tree_rows(n)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def bench_templates(n: int, workdir: Path) -> dict:
    from batn.catalogue import load_catalogue
    from batn.pipeline import load_period, load_tree, make_templates

    units = _write_units(workdir / f"units_{n}.csv", n)
    tree, cat, period = load_tree(units), load_catalogue("3tn-2024"), load_period("2025")
    out = {}
    t = time.perf_counter()
    files = make_templates(cat, tree, period, workdir / "tpl1", workers=1)
    out["one_process_s"] = time.perf_counter() - t
    t = time.perf_counter()
    make_templates(cat, tree, period, workdir / "tpl2", workers=2)
    out["two_processes_s"] = time.perf_counter() - t
    out["templates"] = len(files)
    return out


def make_filled(n: int, workdir: Path) -> tuple[Path, Path]:
    """n filled workbooks (all units but the root), figures stamped into the sheet XML."""
    from batn.catalogue import load_catalogue
    from batn.demo import sample_values
    from batn.pipeline import load_period, load_tree
    from batn.xlsx.stamp import TemplateStamper
    from batn.xlsx.template import layout_rows

    inbox = workdir / f"inbox_{n}"
    units = _write_units(workdir / f"units_{n}.csv", n + 1)
    if inbox.is_dir() and len(list(inbox.iterdir())) == n:
        _on_time(inbox)
        return units, inbox
    inbox.mkdir(parents=True, exist_ok=True)
    tree, cat, period = load_tree(units), load_catalogue("3tn-2024"), load_period("2025")
    rows = {c: ir.row for c, ir in layout_rows(cat)[1].items()}
    st = TemplateStamper(cat, period)
    rng = random.Random(6)
    for code in list(tree.walk())[1:]:
        data = st.stamp(tree[code], has_children=bool(tree.children[code]))
        values = sample_values(cat, rng, rng.randint(8, 40))
        src = zipfile.ZipFile(io.BytesIO(data))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                body = src.read(info)
                if info.filename == "xl/worksheets/sheet1.xml":
                    for c, v in values.items():
                        body = re.sub(rb'<c r="D%d" s="(\d+)" t="n"></c>' % rows[c],
                                      rb'<c r="D%d" s="\1" t="n"><v>%d</v></c>' % (rows[c], v), body, count=1)
                dst.writestr(info, body)
        (inbox / f"{code}.xlsx").write_bytes(buf.getvalue())
    _on_time(inbox)
    return units, inbox


def _on_time(inbox: Path) -> None:
    """Received three days before the deadline, as most files are: a run where every unit is
    late would measure 10,000 "nộp muộn" findings rather than the consolidation."""
    from datetime import datetime, time as dtime, timedelta

    from batn.pipeline import load_period

    period = load_period("2025")
    deadline = period.deadline_for("") or period.end
    ts = datetime.combine(deadline - timedelta(days=3), dtime(9, 30)).timestamp()
    for f in inbox.iterdir():
        os.utime(f, (ts, ts))


def _proc_status_mb(field: str) -> float | None:
    """VmHWM (peak) or VmRSS (now) of this process from /proc: unlike ru_maxrss, which Linux
    carries across execve from the launcher, VmHWM starts afresh in a new program."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _measure_memory(units: str, inbox: str) -> dict:
    """Runs in a fresh interpreter: consolidate, then report own and children's peaks; then write
    the consolidated workbook (what `batn consolidate --out` does) and report the peak again."""
    from batn.catalogue import load_catalogue
    from batn.pipeline import consolidate_inbox, load_period, load_tree

    tree, cat, period = load_tree(units), load_catalogue("3tn-2024"), load_period("2025")
    base = _proc_status_mb("VmRSS") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    cons = consolidate_inbox(inbox, tree, cat, period)
    secs = time.perf_counter() - t
    out = {"seconds": secs, "files_per_s": (len(tree) - 1) / secs, "imports_mb": base,
           "parent_peak_mb": _proc_status_mb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "reader_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
           "sent": len(cons.sent)}
    # Imported only now, so that the consolidation's own peak does not include openpyxl and pandas.
    from batn.xlsx.consolidated import write_consolidated

    with tempfile.TemporaryDirectory(prefix="batn-mem-") as d:
        t = time.perf_counter()
        book = write_consolidated(cons, Path(d) / "tong_hop.xlsx")
        out["workbook_s"] = time.perf_counter() - t
        out["workbook_mb"] = book.stat().st_size / 1e6
    out["with_workbook_peak_mb"] = _proc_status_mb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def bench_memory(sizes: list[int], workdir: Path) -> dict:
    out = {}
    for n in sizes:
        units, inbox = make_filled(n, workdir)
        r = subprocess.run([sys.executable, __file__, "--measure-memory", str(units), str(inbox)],
                           capture_output=True, text=True, check=True)
        out[n] = json.loads(r.stdout.strip().splitlines()[-1])
    return out


def bench_report(workdir: Path) -> dict:
    from batn.catalogue import load_catalogue
    from batn.pipeline import consolidate_inbox, load_period, load_tree, report_from_workbook
    from batn.xlsx.consolidated import write_consolidated

    units, inbox = make_filled(1000, workdir)
    tree, cat, period = load_tree(units), load_catalogue("3tn-2024"), load_period("2025")
    cons = consolidate_inbox(inbox, tree, cat, period)
    t = time.perf_counter()
    book = write_consolidated(cons, workdir / "tong_hop_1000.xlsx")
    write_s = time.perf_counter() - t
    t = time.perf_counter()
    report_from_workbook(book, workdir / "bao_cao.docx", number="01")
    docx_s = time.perf_counter() - t
    t = time.perf_counter()
    report_from_workbook(book, workdir / "bao_cao.txt", number="01")
    txt_s = time.perf_counter() - t
    return {"consolidated_workbook_s": write_s, "report_docx_s": docx_s, "report_txt_s": txt_s}


def bench_google(n: int, workdir: Path) -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    from sheets_standin import SheetsStandIn  # noqa: E402  (the test stand-in, on loopback)
    import requests

    from batn.catalogue import load_catalogue
    from batn.demo import sample_values
    from batn.gsheets import layout as G
    from batn.gsheets.auth import connect
    from batn.gsheets.consolidate import consolidate_spreadsheets
    from batn.gsheets.quota import Backoff
    from batn.gsheets.setup import setup_spreadsheet
    from batn.pipeline import load_period, load_tree

    units = _write_units(workdir / f"gunits_{n}.csv", n + 1)
    tree, cat, period = load_tree(units), load_catalogue("3tn-2024"), load_period("2025")
    with SheetsStandIn() as standin:
        def session(email):
            s = requests.Session()
            s.headers["Authorization"] = "Bearer " + standin.add_user(
                email, ("https://www.googleapis.com/auth/spreadsheets", "https://www.googleapis.com/auth/drive.file"))
            return s
        admin = connect(session=session("admin@example.vn"), account="admin@example.vn",
                        api_base=standin.base_url, backoff=Backoff(sleep=lambda s: None, rng=random.Random(0)))
        res = setup_spreadsheet(admin, tree=tree, catalogue=cat, period=period, unit=tree.root, layout="rows")
        rl = G.rows_layout(cat, [c for c in tree.walk()][1:]) if hasattr(G, "rows_layout") else None
        rng = random.Random(5)
        if rl is not None:
            for code in list(tree.walk())[1:]:
                for c, v in sample_values(cat, rng, 20).items():
                    standin.type_into(res.key, rl.cell(code, c), str(v))
        standin.reset_log()
        conn = connect(session=session("admin@example.vn"), account="admin@example.vn",
                       api_base=standin.base_url, backoff=Backoff(sleep=lambda s: None, rng=random.Random(0)))
        t = time.perf_counter()
        run = consolidate_spreadsheets(conn, [res.key], tree, cat, period)
        secs = time.perf_counter() - t
        return {"units": n, "seconds": secs, "requests": len(standin.api_requests()),
                "sent": len(run.consolidation.sent)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--templates", type=int, default=3400)
    ap.add_argument("--memory", type=int, nargs="*", default=[1000, 10000])
    ap.add_argument("--report", action=argparse.BooleanOptionalAction, default=True,
                    help="time the report from a 1,000-unit consolidation (default on)")
    ap.add_argument("--google", type=int, default=0, help="units in the shared spreadsheet (0: skip)")
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--measure-memory", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.measure_memory:
        print(json.dumps(_measure_memory(*args.measure_memory)))
        return 0
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="batn-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: dict = {"cpus": os.cpu_count()}
    if args.templates:
        results["templates"] = r = bench_templates(args.templates, workdir)
        print(f"templates: {r['templates']} in {r['one_process_s']:.1f} s on one process "
              f"({r['templates'] / r['one_process_s']:.0f}/s), {r['two_processes_s']:.1f} s on two")
    if args.memory:
        results["memory"] = m = bench_memory(sorted(args.memory), workdir)
        for n, r in m.items():
            print(f"memory N={n}: {r['seconds']:.1f} s ({r['files_per_s']:.0f} files/s), parent peak "
                  f"{r['parent_peak_mb']:.0f} MB ({r['imports_mb']:.0f} MB before consolidating), readers' peak "
                  f"{r['reader_peak_mb']:.0f} MB; then the consolidated workbook ({r['workbook_mb']:.1f} MB) "
                  f"in {r['workbook_s']:.1f} s, peak {r['with_workbook_peak_mb']:.0f} MB")
        lo, hi = min(m), max(m)
        if lo != hi:
            ratio = m[hi]["parent_peak_mb"] / m[lo]["parent_peak_mb"]
            print(f"memory ratio N={hi} / N={lo}: {ratio:.2f} (parent), "
                  f"{m[hi]['reader_peak_mb'] / m[lo]['reader_peak_mb']:.2f} (readers), "
                  f"{m[hi]['with_workbook_peak_mb'] / m[lo]['with_workbook_peak_mb']:.2f} (with the workbook written)")
    if args.report:
        results["report"] = r = bench_report(workdir)
        print(f"report from a 1,000-unit consolidation: workbook {r['consolidated_workbook_s']:.1f} s, "
              f".docx {r['report_docx_s']:.2f} s, .txt {r['report_txt_s']:.2f} s")
    if args.google:
        results["google"] = r = bench_google(args.google, workdir)
        print(f"google: {r['units']} units (rows layout) read and consolidated in {r['seconds']:.1f} s "
              f"with {r['requests']} API requests")
    if args.json:
        print(json.dumps(results, indent=2, default=str))
    print(f"workdir: {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
