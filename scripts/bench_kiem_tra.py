"""How long a clerk waits for the Kiểm tra button on a filled template, and what of it is batn.

    python scripts/bench_kiem_tra.py [--repeat 20] [--catalog 3tn-2024] [--json]

The workbook is a batn template filled with realistic figures (batn.demo.sample_values), once clean
and once with three planted mistakes. Three figures:

1. in this process: building the `xw.Book` from the payload Excel would send (Office.js JSON, built
   once) and `kiem_tra_book` (read through the defined names, check_submission, replay the
   annotation actions, message box): the Python side of one click;
2. a warm click, as the add-in runs it (xlwings' COM server, "Use UDF Server", on by default in
   batn.xlam): one Python process stays open between clicks and each click is a call into it. Here
   a server process is started once (imports, first check), then each click is timed from the
   request to the answer, across the process boundary;
3. a cold click: a new Python process per click (classic RunPython without the server, and the
   first click of an Excel session), timed from process start to exit.

Not measured (there is no Excel here): Excel's own part of a click (the COM call into the server,
SaveCopyAs of the open book, applying the colours and notes). Prints; asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from remote_book import book_json  # noqa: E402

import xlwings as xw  # noqa: E402

from batn.catalogue import load_catalogue  # noqa: E402
from batn.demo import sample_values  # noqa: E402
from batn.excel.buttons import kiem_tra_book  # noqa: E402
from batn.model import Unit  # noqa: E402
from batn.pipeline import load_period  # noqa: E402
from batn.xlsx.template import write_template  # noqa: E402


def _ms(xs: list[float]) -> str:
    return f"median {statistics.median(xs) * 1000:7.1f} ms   min {min(xs) * 1000:7.1f} ms   max {max(xs) * 1000:7.1f} ms"


def bench(path: Path, repeat: int) -> dict:
    t0 = time.perf_counter()
    payload = book_json(path)
    t_json = time.perf_counter() - t0
    cells = sum(len(r) for s in payload["sheets"] for r in s["values"])
    kiem_tra_book(xw.Book(json=payload))          # warm-up: imports, catalogue and message caches
    opens, checks, totals = [], [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        book = xw.Book(json=payload)
        t1 = time.perf_counter()
        result = kiem_tra_book(book)
        t2 = time.perf_counter()
        opens.append(t1 - t0)
        checks.append(t2 - t1)
        totals.append(t2 - t0)
    n_actions = len(book.json()["actions"])
    print(f"{path.name}: {len(payload['sheets'])} sheets, {cells} cells, {len(payload['names'])} names; "
          f"{result.errors} lỗi, {result.warnings} cảnh báo, {n_actions} actions")
    print(f"  payload from the xlsx (test helper, once) {t_json * 1000:7.1f} ms")
    print(f"  xw.Book(json=...)       {_ms(opens)}")
    print(f"  kiem_tra_book           {_ms(checks)}")
    print(f"  one click, Python side  {_ms(totals)}")
    return {"check_s": statistics.median(checks), "book_s": statistics.median(opens),
            "python_side_s": statistics.median(totals), "errors": result.errors, "warnings": result.warnings}


# The warm Python process: imports once, then runs one click per request line. With the payload
# loaded beforehand ("load"), a "click" costs what the COM server's Exec costs: the check.
_SERVER = """
import os, sys, time
os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")
sys.path.insert(0, %r)
from remote_book import book_json
import xlwings as xw
from batn.excel.buttons import kiem_tra_book
payloads = {}
print("ready", flush=True)
for line in sys.stdin:
    verb, path = line.rstrip("\\n").split(" ", 1)
    if verb == "load":
        payloads[path] = book_json(path)
    else:
        kiem_tra_book(xw.Book(json=payloads[path]))
    print("done", flush=True)
"""


def warm_clicks(path: Path, repeat: int) -> dict:
    """A server process started once, then `repeat` clicks timed from request to answer."""
    import subprocess

    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", _SERVER % str(ROOT / "tests")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, bufsize=1)
    try:
        assert proc.stdout.readline().strip() == "ready"
        started = time.perf_counter() - t0

        def ask(verb: str) -> float:
            t = time.perf_counter()
            proc.stdin.write(f"{verb} {path}\n")
            proc.stdin.flush()
            assert proc.stdout.readline().strip() == "done"
            return time.perf_counter() - t

        ask("load")                                   # the open book (Excel holds it; not a click)
        first = ask("click")                          # first check: catalogue, messages, caches
        clicks = [ask("click") for _ in range(repeat)]
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    print(f"  warm click (one Python process kept open, as xlwings' COM server): {_ms(clicks)}")
    print(f"    that process's start-up and imports {started:.2f} s, then its first click {first * 1000:.1f} ms")
    return {"warm_click_s": statistics.median(clicks), "warm_click_min_s": min(clicks),
            "warm_click_max_s": max(clicks), "server_start_s": started, "server_first_click_s": first}


def cold_start(path: Path) -> dict:
    """Classic RunPython starts a new Python process for each click: imports and first check included."""
    import subprocess

    code = ("import os,sys,time; t=time.perf_counter(); sys.path.insert(0, %r); "
            "from remote_book import book_json; import xlwings as xw; "
            "from batn.excel.buttons import kiem_tra_book; "
            "kiem_tra_book(xw.Book(json=book_json(%r))); print(time.perf_counter()-t)") % (str(ROOT / "tests"), str(path))
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        times.append((time.perf_counter() - t0, float(out.stdout.strip().splitlines()[-1])))
    print(f"  cold click (a new Python process per click: RunPython without the server, or the first click): "
          f"process {statistics.median(t for t, _ in times):.2f} s, of which imports + first check "
          f"{statistics.median(i for _, i in times):.2f} s")
    return {"cold_click_s": statistics.median(t for t, _ in times),
            "cold_imports_and_check_s": statistics.median(i for _, i in times)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--catalog", default="3tn-2024")
    ap.add_argument("--json", action="store_true", help="also print the figures as JSON (last line)")
    args = ap.parse_args(argv)
    cat = load_catalogue(args.catalog)
    per = load_period("2024")
    unit = Unit("DCS_STP", "Đoàn cơ sở Sở Tư pháp", "TD")
    values = sample_values(cat, random.Random(1), 20)
    bad = dict(values)
    first = cat.indicators[1].code
    bad[first] = -3
    bad[cat.indicators[5].code] = "1,644"
    bad[cat.indicators[8].code] = "mười"
    print(f"xlwings {xw.__version__}, Python {sys.version.split()[0]}, catalogue {cat.id} "
          f"({len(cat.indicators)} indicators), {args.repeat} runs each")
    with tempfile.TemporaryDirectory() as tmp:
        clean = bench(write_template(Path(tmp) / "sach.xlsx", cat, unit, per, values=values), args.repeat)
        bad_path = write_template(Path(tmp) / "ba_loi.xlsx", cat, unit, per, values=bad)
        out = {"clean": clean, "three_mistakes": bench(bad_path, args.repeat),
               **warm_clicks(bad_path, args.repeat), **cold_start(bad_path)}
    if args.json:
        import json

        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
