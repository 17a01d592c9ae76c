"""Build the sample workbooks kept in workbooks/: blank standard templates and the demo province.

    python scripts/build_samples.py

Writes workbooks/bieu_mau/ (a blank template per catalogue, for a sample unit) and
workbooks/demo/ (the demo's units file, the filled workbooks its units sent, the consolidated
workbook and the report), all from `batn demo`, with fixed timestamps so a rebuild from the
same code gives the same bytes.
"""
from __future__ import annotations

import io
import os
import re
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from build_workbooks import reproducible_zip as _fixed_zip

from batn.catalogue import load_catalogue
from batn.demo import run_demo
from batn.model import Unit
from batn.pipeline import load_period
from batn.xlsx.stamp import TemplateStamper

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_UNIT = Unit("MA_DON_VI", "Tên đơn vị (ví dụ: Đoàn phường Bến Nghé)", None, level="Đoàn cơ sở")
BLANKS = [("3tn-2024", "2026"), ("3tn-2009", "2009-2013")]


def reproducible_zip(data: bytes, keep_modified: bool = False) -> bytes:
    """Fixed zip timestamps and a fixed creation date (openpyxl and python-docx stamp the clock).
    `keep_modified`: keep the save time (the demo inbox's files were 'sent' at the time stamped in them,
    and batn decides which file is newer, and what is late, from it)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:created[^>]*>)[^<]*(<)", rb"\g<1>2026-01-01T00:00:00Z\2", body)
            dst.writestr(info, body)
    return _fixed_zip(buf.getvalue(), keep_modified)


def _copy_fixed(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.suffix in (".xlsx", ".docx") and zipfile.is_zipfile(src):   # the demo plants one broken file
        dst.write_bytes(reproducible_zip(src.read_bytes(), keep_modified=src.parent.name == "hop_thu"))
    else:
        shutil.copyfile(src, dst)


def main() -> int:
    out = ROOT / "workbooks"
    for sub in ("bieu_mau", "demo"):
        shutil.rmtree(out / sub, ignore_errors=True)
    for cid, pid in BLANKS:
        data = TemplateStamper(load_catalogue(cid), load_period(pid)).stamp(SAMPLE_UNIT)
        (out / "bieu_mau").mkdir(parents=True, exist_ok=True)
        (out / "bieu_mau" / f"bieu_mau_{cid}_{pid}.xlsx").write_bytes(reproducible_zip(data))
    here = Path.cwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)            # relative paths: the status sheet names files as "demo/hop_thu/…"
        try:
            r = run_demo(Path("demo"))
        finally:
            os.chdir(here)
        r.folder = Path(tmp) / r.folder
        r.units_file, r.consolidated, r.report_docx, r.report_text, r.inbox = (
            Path(tmp) / p for p in (r.units_file, r.consolidated, r.report_docx, r.report_text, r.inbox))
        for f in [r.units_file, r.consolidated, r.report_docx, r.report_text, *sorted(r.inbox.iterdir())]:
            rel = f.relative_to(r.folder)
            _copy_fixed(f, out / "demo" / rel)
    for p in sorted(out.rglob("*")):
        if p.is_file():
            print(p.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
