"""The printable PDF of a consolidated workbook: LibreOffice, through batn.libreoffice."""
from __future__ import annotations

from pathlib import Path

from ..libreoffice import PdfError, soffice, to_pdf

__all__ = ["PdfError", "soffice", "workbook_pdf"]


def workbook_pdf(xlsx: str | Path, pdf: str | Path | None = None, timeout: float | None = None) -> Path:
    """Write the PDF of `xlsx` (default: beside it, same name, .pdf); return its path."""
    kw = {"timeout": timeout} if timeout else {}
    return to_pdf(xlsx, pdf, instead=f"mở tệp {Path(xlsx).name} bằng Excel và in ra PDF (tệp .xlsx vẫn được ghi)",
                  **kw)
