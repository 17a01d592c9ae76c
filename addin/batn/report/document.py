"""The official report as a plain document tree, before any file format.

The context builder fills a `ReportDocument`; the text, Markdown and .docx
writers only lay it out. Keeping the words here and the layout there lets a
test read the report's sentences without opening a .docx.
"""
from __future__ import annotations

from dataclasses import dataclass, field


# Block kinds, in the Đoàn's heading order (Hướng dẫn 29-HD/TWĐTN-VP):
#   "heading1"  I., II.  (Roman, bold caps)
#   "heading2"  1., 2.   (bold)
#   "heading3"  a), b)   (bold italic)
#   "para"      body paragraph, first-line indent, justified
#   "bullet"    a "- " item
BLOCK_KINDS = ("heading1", "heading2", "heading3", "para", "bullet")


@dataclass
class Block:
    kind: str
    text: str


@dataclass
class Appendix:
    """The appendix table (landscape page of the .docx): one row per direct sub-unit."""

    title: str                       # "Phụ lục: Biểu tổng hợp số liệu"
    subtitle: str                    # the period, the issuing unit
    header: list[str]                # "STT", "Đơn vị", the indicators' labels (with their unit)
    rows: list[list[str]]            # figures already written the Vietnamese way
    total: list[str]                 # the "Tổng cộng" row
    rate_columns: int = 0            # columns after the unit's name that are its sub-tree's "4/5" (Đã nộp, Đúng hạn)
    attached: str = ""               # "(Kèm theo Báo cáo số 25-BC/TĐTN ngày 25/6/2026 của Ban Thường vụ Tỉnh Đoàn)"


@dataclass
class ReportDocument:
    # Header table, left column
    superior: str            # line 1, e.g. "BCH TỈNH KIÊN GIANG" ("" if none)
    issuer: str              # line 2, bold, e.g. "TỈNH ĐOÀN KIÊN GIANG" (may equal superior's role)
    number: str              # "Số: 44A-BC/TĐTN"
    # Header table, right column
    organisation: str        # "ĐOÀN TNCS HỒ CHÍ MINH"
    place_date: str          # "Rạch Giá, ngày 25 tháng 6 năm 2013"
    # Title
    title: str               # "BÁO CÁO"
    subject: str             # trích yếu, may contain "\n"
    body: list[Block] = field(default_factory=list)
    # Signature block (right)
    sign_on_behalf: str = ""  # "TM. BAN THƯỜNG VỤ TỈNH ĐOÀN"
    sign_title: str = ""      # "BÍ THƯ"
    signer: str = ""          # the signer's name
    # Recipients block (left)
    recipients: list[str] = field(default_factory=list)  # each rendered "- item;" the last "- item."
    appendix: Appendix | None = None
    warnings: list[str] = field(default_factory=list)     # for the person running batn; not printed

    def paragraphs(self) -> list[str]:
        """All body text, one string per block, for tests and plain text."""
        return [b.text for b in self.body]
