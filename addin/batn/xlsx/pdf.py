"""The printable PDF of a workbook, made by LibreOffice (soffice --headless --convert-to pdf): the
same pages a clerk gets from File > Print, with the print settings the workbook carries.

    pdf = workbook_pdf(Path("TongHop_TD_AG_2026-H1.xlsx"))      # TongHop_TD_AG_2026-H1.pdf beside it

Each run uses its own LibreOffice profile in a temporary folder, so a LibreOffice the clerk has
open, or a stale lock in their profile, never blocks it."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

TIMEOUT_S = 300
_PLACES = [  # where the installers put soffice, when it is not on PATH (Windows, macOS)
    r"C:\Program Files\LibreOffice\program\soffice.exe",
    r"C:\Program Files (x86)\LibreOffice\program\soffice.exe",
    "/Applications/LibreOffice.app/Contents/MacOS/soffice",
    "/opt/libreoffice/program/soffice",
]


class PdfError(ValueError):
    """The PDF could not be made; the message says why in Vietnamese."""


def soffice() -> str | None:
    """LibreOffice's soffice: $BATN_SOFFICE, else on PATH, else where its installers put it."""
    given = os.environ.get("BATN_SOFFICE")
    if given:
        return given if Path(given).is_file() else None
    found = shutil.which("soffice") or shutil.which("libreoffice")
    return found or next((p for p in _PLACES if Path(p).is_file()), None)


def workbook_pdf(xlsx: str | Path, pdf: str | Path | None = None, timeout: float = TIMEOUT_S) -> Path:
    """Write the PDF of `xlsx` (default: beside it, same name, .pdf); return its path."""
    xlsx = Path(xlsx).resolve()
    pdf = Path(pdf).resolve() if pdf else xlsx.with_suffix(".pdf")
    exe = soffice()
    if exe is None:
        raise PdfError("Không xuất được PDF: máy này chưa cài LibreOffice (chương trình soffice). Hãy cài "
                       "LibreOffice (https://vi.libreoffice.org), hoặc đặt biến môi trường BATN_SOFFICE là đường "
                       "dẫn tới soffice; tệp tổng hợp .xlsx vẫn được ghi và in được từ Excel.")
    with tempfile.TemporaryDirectory(prefix="batn-pdf-") as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "profile").mkdir()
        out = tmp_path / "out"
        env = dict(os.environ, HOME=str(tmp_path))
        env.setdefault("SAL_USE_VCLPLUGIN", "svp")
        cmd = [exe, f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless", "--invisible",
               "--nologo", "--nodefault", "--norestore", "--nolockcheck", "--convert-to", "pdf",
               "--outdir", str(out), str(xlsx)]
        popen = {"start_new_session": True} if sys.platform != "win32" else {}
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, **popen)
        except OSError as e:
            raise PdfError(f"Không chạy được LibreOffice ({exe}) để xuất PDF: {e.strerror or e}") from None
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            if sys.platform != "win32":
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            else:
                proc.kill()
            proc.communicate()
            raise PdfError(f"LibreOffice chưa xuất xong PDF sau {timeout:.0f} giây; hãy thử lại, hoặc mở tệp "
                           f"{xlsx.name} và in ra PDF bằng Excel.") from None
        made = out / f"{xlsx.stem}.pdf"
        if proc.returncode != 0 or not made.is_file() or made.stat().st_size == 0:
            why = err.decode(errors="replace").strip().splitlines()[-1:] or [f"mã thoát {proc.returncode}"]
            raise PdfError(f"LibreOffice không xuất được PDF từ {xlsx.name}: {why[0]}")
        pdf.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(made), str(pdf))
    return pdf
