"""How long the Kiểm tra button takes on a filled template, through xlwings' remote engine.

    python scripts/bench_kiem_tra.py [--repeat 20] [--catalog 3tn-2024]

The workbook is a batn template filled with realistic figures (batn.demo.sample_values), once clean
and once with three planted mistakes. For each, the payload Excel would send (Office.js JSON) is
built once, then each run times: building the `xw.Book` from it, and `kiem_tra_book` (read through
the defined names, check_submission, replay the annotation actions, message box), which is the
Python side of one click. Time spent by Excel itself (sending the payload, applying the actions,
the COM round trips of classic xlwings) is not measured here. Prints; asserts nothing.
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


def bench(path: Path, repeat: int) -> None:
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


def cold_start(path: Path) -> None:
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
    print(f"  new Python process per click (classic RunPython): process {statistics.median(t for t, _ in times):.2f} s,"
          f" of which imports + first check {statistics.median(i for _, i in times):.2f} s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--catalog", default="3tn-2024")
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
        bench(write_template(Path(tmp) / "sach.xlsx", cat, unit, per, values=values), args.repeat)
        bad_path = write_template(Path(tmp) / "ba_loi.xlsx", cat, unit, per, values=bad)
        bench(bad_path, args.repeat)
        cold_start(bad_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
