"""The report as PDF: the .docx converted by LibreOffice (soffice) in headless mode.

LibreOffice lays out the same .docx a clerk would open, so the PDF and the Word file agree page
for page. Each conversion gets its own throwaway LibreOffice profile, so an open LibreOffice
window or a stale lock in the user's profile does not block it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Mapping

from .document import ReportDocument

TIMEOUT_S = 180


class PdfError(RuntimeError):
    """The PDF could not be written; the message is in Vietnamese, for the command line."""


def soffice() -> str | None:
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    for path in ("/Applications/LibreOffice.app/Contents/MacOS/soffice",
                 r"C:\Program Files\LibreOffice\program\soffice.exe"):
        if os.path.exists(path):
            return path
    return None


def docx_to_pdf(docx: Path, pdf: Path, timeout: float = TIMEOUT_S) -> Path:
    exe = soffice()
    if exe is None:
        raise PdfError("Không tìm thấy LibreOffice (lệnh soffice) để xuất PDF. Hãy cài LibreOffice "
                       "(https://vi.libreoffice.org), hoặc ghi báo cáo ra tệp .docx rồi mở bằng Word và lưu thành PDF.")
    with tempfile.TemporaryDirectory(prefix="batn-pdf-") as d:
        work = Path(d)
        (work / "profile").mkdir()
        env = dict(os.environ, HOME=str(work))
        env.setdefault("SAL_USE_VCLPLUGIN", "svp")
        cmd = [exe, f"-env:UserInstallation={(work / 'profile').as_uri()}", "--headless", "--invisible",
               "--nologo", "--nodefault", "--norestore", "--nolockcheck", "--convert-to", "pdf",
               "--outdir", str(work), str(docx)]
        try:
            proc = subprocess.run(cmd, capture_output=True, env=env, timeout=timeout, start_new_session=True)
        except subprocess.TimeoutExpired:
            raise PdfError(f"LibreOffice không xuất xong PDF sau {timeout:.0f} giây; hãy thử lại, hoặc ghi ra .docx.") \
                from None
        made = work / f"{docx.stem}.pdf"
        if proc.returncode != 0 or not made.is_file() or made.stat().st_size == 0:
            detail = (proc.stderr or proc.stdout).decode(errors="replace").strip()[:300]
            raise PdfError(f"LibreOffice không xuất được PDF (mã {proc.returncode}){': ' + detail if detail else ''}")
        pdf.parent.mkdir(parents=True, exist_ok=True)
        tmp = pdf.with_name(f".{pdf.name}.tmp")
        shutil.copyfile(made, tmp)
        os.replace(tmp, pdf)
    return pdf


def write_pdf(doc: ReportDocument, path: str | Path, layout: Mapping[str, Any] | None = None) -> Path:
    """Write the report as PDF at `path` (through a .docx in a temporary folder)."""
    from .docx_writer import write_docx

    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="batn-bc-") as d:
        docx = write_docx(doc, Path(d) / f"{path.stem or 'bao_cao'}.docx", layout)
        return docx_to_pdf(docx, path)
