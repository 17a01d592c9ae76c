"""The report as PDF: the .docx converted by LibreOffice (soffice) in headless mode.

LibreOffice lays out the same .docx a clerk would open, so the PDF and the Word file agree page
for page. Each conversion gets its own throwaway LibreOffice profile, so an open LibreOffice
window or a stale lock in the user's profile does not block it.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Mapping

from .document import ReportDocument

from ..libreoffice import PdfError, soffice, to_pdf

__all__ = ["PdfError", "soffice", "docx_to_pdf", "write_pdf"]


def docx_to_pdf(docx: Path, pdf: Path, timeout: float | None = None) -> Path:
    kw = {"timeout": timeout} if timeout else {}
    return to_pdf(docx, pdf, instead="ghi báo cáo ra tệp .docx rồi mở bằng Word và lưu thành PDF", **kw)


def write_pdf(doc: ReportDocument, path: str | Path, layout: Mapping[str, Any] | None = None) -> Path:
    """Write the report as PDF at `path` (through a .docx in a temporary folder)."""
    from .docx_writer import write_docx

    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="batn-bc-") as d:
        docx = write_docx(doc, Path(d) / f"{path.stem or 'bao_cao'}.docx", layout)
        return docx_to_pdf(docx, path)
