"""Print the Markdown table of docs/dau-vao-xau.md: every hostile input of tests/hostile.py and
what batn does with it (finding, severity, cell, the clerk's message, whether figures are read).

    python scripts/hostile_table.py > /tmp/bang.md      # then paste it into docs/dau-vao-xau.md
    python scripts/hostile_table.py --keep /tmp/hostile  # and keep the generated files

Files that may exhaust memory are read in a child process under a 2 GiB address-space limit, so a
crash shows up in the table instead of stopping the script.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import hostile as H  # noqa: E402

from batn.catalogue import load_catalogue  # noqa: E402
from batn.checks import Expectation  # noqa: E402
from batn.demo import sample_values  # noqa: E402
from batn.model import Unit  # noqa: E402
from batn.pipeline import consolidate_inbox, load_period, validate_files  # noqa: E402
from batn.units import load_units  # noqa: E402

NOT_SUMMED = {"wrong-period", "wrong-catalogue", "unknown-unit", "unreadable-file", "not-a-template"}
MEM_LIMIT = 2 << 30


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _short(text: str, n: int = 170) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _run(c: H.Case, units: Path, cat) -> dict:
    """Findings (as dicts), values and how it went, for one case."""
    if c.scope == "consolidate":
        with tempfile.TemporaryDirectory() as d:
            inbox = Path(d)
            for p in (c.path, *c.extra):
                shutil.copy2(p, inbox / p.name)
            cons = consolidate_inbox(inbox, load_units(units), cat, load_period("2024"), workers=1)
            mine = {str(inbox / p.name) for p in (c.path, *c.extra)}
            fs = [f.as_dict() for f in cons.findings if f.file in mine or f.kind == "duplicate-unit"]
            for f in fs:
                f["file"] = str(c.path)
                f["message"] = f["message"].replace(str(inbox) + "/", "")   # file names, not temp paths
            return {"findings": fs, "values": None, "note": "khi tổng hợp"}
    if c.heavy:
        r = H.run_limited([sys.executable, str(Path(H.__file__)), "read", str(c.path), str(units)], MEM_LIMIT, 120)
        note = f"{r.seconds:.1f} s, {r.max_rss_mb:.0f} MB"
        if r.returncode != 0 or r.timed_out:
            why = "quá thời gian" if r.timed_out else f"tiến trình bị hủy (mã thoát {r.returncode})"
            return {"findings": [], "values": None, "crash": why, "note": note}
        out = json.loads(r.stdout)
        return {"findings": out["findings"], "values": out["values"], "note": note}
    t0 = time.monotonic()
    (fc,) = validate_files([c.path], Expectation(period="2024", catalogue=cat.id, units=load_units(c.units or units)),
                           catalogue=cat)
    return {"findings": [f.as_dict() for f in fc.findings], "values": fc.submission.values,
            "note": f"{time.monotonic() - t0:.2f} s"}


def _read_column(c: H.Case, res: dict, n_codes: int) -> str:
    if res.get("crash"):
        return "không (" + res["crash"] + ")"
    values = res["values"]
    if values is None:
        return "—"
    read = sum(v is not None for v in values.values())
    kinds = {f["kind"] for f in res["findings"]}
    if read == 0:
        return "không"
    if not values:
        return "không"
    text = f"có ({read}/{n_codes})"
    if kinds & NOT_SUMMED:
        text += ", không cộng vào tổng hợp"
    return text


def table(keep: Path | None = None) -> str:
    cat = load_catalogue("3tn-2024")
    work = keep or Path(tempfile.mkdtemp(prefix="batn-hostile-"))
    if keep and keep.exists():
        shutil.rmtree(keep)
    values = dict(sample_values(cat, random.Random(1), 20))
    t0 = time.monotonic()
    cases = H.make_all(work / "cases", cat, Unit("DCS_STP", "Đoàn cơ sở Sở Tư pháp", "TD"), load_period("2024"),
                       values)
    gen = time.monotonic() - t0
    units = H.write_units(work)
    head = ("| # | Đầu vào (input) | Tệp (file) | Loại phát hiện (finding) | Mức độ (severity) | Ô (cell) "
            "| Người nhập thấy (what the clerk sees) | Đọc số liệu? (values read) | Đúng mong đợi? (as expected) |")
    lines = [head, "|" + "---|" * 9]
    n_ok = 0
    for i, c in enumerate(cases, start=1):
        res = _run(c, units, cat)
        fs = res["findings"]
        want = c.expect[1] if c.expect[0] == "finding" else None
        main = next((f for f in fs if f["kind"] == want), None) or next(
            (f for f in fs if f["severity"] == H.ERROR), None) or (fs[0] if fs else None)
        if res.get("crash"):
            kind, sev, cell, msg = "—", "—", "—", "(không có: batn dừng hẳn, không báo gì)"
        elif main is None:
            kind, sev, cell, msg = "—", "—", "—", "(không có phát hiện nào)"
        else:
            kind = main["kind"]
            others = sorted({f["kind"] for f in fs} - {kind})
            if others:
                kind += " (+ " + ", ".join(others) + ")"
            sev, cell, msg = main["severity"], main["cell"] or "—", main["message"]
        why = res.get("crash") or H.unmet(c, fs, res["values"])
        n_ok += not why
        verdict = "✓" if not why else "✗ " + why
        lines.append("| " + " | ".join(_cell(x) for x in (
            str(i), c.note, f"`{c.path.name}`" + (f" (+ `{c.extra[0].name}`)" if c.extra else ""), kind, sev,
            cell, _short(msg), _read_column(c, res, len(cat.codes)), _short(verdict, 120))) + " |")
    lines.append("")
    lines.append(f"{len(cases)} đầu vào, {n_ok} đúng mong đợi, {len(cases) - n_ok} sai (lỗi của batn, xem dưới). "
                 f"Tạo các tệp mất {gen:.0f} s.")
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=Path, help="giữ các tệp đã tạo trong thư mục này")
    args = ap.parse_args()
    print(table(args.keep))


if __name__ == "__main__":
    main()
