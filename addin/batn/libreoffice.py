"""LibreOffice (soffice --headless --convert-to pdf) as batn's one PDF maker: the consolidated
workbook's printable pages (with the print settings it carries) and the report's .docx (page for
page as Word lays it out) both go through `to_pdf`.

    pdf = to_pdf(Path("TongHop_TD_AG_2026-H1.xlsx"))      # TongHop_TD_AG_2026-H1.pdf beside it

Each run uses its own LibreOffice profile in a temporary folder, so a LibreOffice the clerk has
open, or a stale lock in their profile, never blocks it; a conversion that hangs is killed with its
process group."""
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


def to_pdf(src: str | Path, pdf: str | Path | None = None, timeout: float = TIMEOUT_S,
           instead: str = "mở tệp bằng Excel hoặc Word rồi in ra PDF") -> Path:
    """Write the PDF of `src` (an .xlsx or a .docx; default: beside it, same name, .pdf); return its
    path. `instead`: what the clerk can do when LibreOffice cannot, said in the error."""
    xlsx = Path(src).resolve()
    pdf = Path(pdf).resolve() if pdf else xlsx.with_suffix(".pdf")
    exe = soffice()
    if exe is None:
        raise PdfError("Không xuất được PDF: máy này chưa cài LibreOffice (chương trình soffice). Hãy cài "
                       "LibreOffice (https://vi.libreoffice.org), hoặc đặt biến môi trường BATN_SOFFICE là đường "
                       f"dẫn tới soffice; hoặc {instead}.")
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
            raise PdfError(f"LibreOffice chưa xuất xong PDF sau {timeout:.0f} giây; hãy thử lại, hoặc {instead}.") \
                from None
        made = out / f"{xlsx.stem}.pdf"
        if proc.returncode != 0 or not made.is_file() or made.stat().st_size == 0:
            # LibreOffice's own words are English: the clerk is told the exit status and what to do instead
            raise PdfError(f"LibreOffice không xuất được PDF từ {xlsx.name} (mã thoát {proc.returncode}); "
                           f"hãy {instead}.")
        pdf.parent.mkdir(parents=True, exist_ok=True)
        tmp_pdf = pdf.with_name(f".{pdf.name}.tmp")
        shutil.copyfile(made, tmp_pdf)
        os.replace(tmp_pdf, pdf)                       # never a half-written PDF
    return pdf
