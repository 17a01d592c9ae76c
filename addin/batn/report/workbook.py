"""What the report reads from a consolidated workbook beyond the totals: who was late or missing,
how many lỗi, and the totals of each direct sub-unit (for the appendix).

Read from the workbook's own tables ("Tình hình nộp báo cáo", "Tổng hợp theo đơn vị", "Kết quả
kiểm tra", whose columns are batn.tables' headers); columns are found by their header, so a
column added later does not move anything. A filled template has none of these sheets: then
everything is empty and the report says less.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import layout as L
from ..model import UnitTree
from ..rollup import AWAITING, HAS_ERRORS, LATE, MISSING, SENT
from ..tables import STATUS_HEADER


@dataclass
class UnitRow:
    code: str
    name: str
    totals: dict[str, float | int | None]
    sent: str = ""          # its sub-tree's reports received, "4/5" ("" when the workbook does not say)
    on_time: str = ""       # of those, on time: "3/5"


@dataclass
class WorkbookFacts:
    late: list[str] = field(default_factory=list)        # unit names
    missing: list[str] = field(default_factory=list)
    with_errors: list[str] = field(default_factory=list)
    errors: int = 0                                      # lỗi listed in "Kết quả kiểm tra"
    children: list[UnitRow] = field(default_factory=list)  # direct sub-units of the root, in tree order
    newest_received: object = None                       # datetime of the newest file used
    reviews: dict[str, int] = field(default_factory=dict)  # review state ("đã duyệt"…) -> units, when reviewed
    levels: dict[str, str] = field(default_factory=dict)   # unit code -> its level ("Cấp"), as the workbook says
    rates: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> (sent, on time) of its sub-tree


def read_facts(path: str | Path, tree: UnitTree | None = None) -> WorkbookFacts:
    from openpyxl import load_workbook

    facts = WorkbookFacts()
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception:
        return facts
    try:
        if L.STATUS_SHEET in wb.sheetnames:
            _status(wb[L.STATUS_SHEET], facts)
        if L.CHECK_SHEET in wb.sheetnames:
            ws = wb[L.CHECK_SHEET]
            # the lỗi in the units' reports ("Đơn vị" filled): a stray file that is nobody's report
            # (a note saved as .xlsx) is named in the workbook, not counted in the report
            facts.errors = sum(1 for row in ws.iter_rows(min_row=2, values_only=True)
                               if len(row) > 2 and row[1] == "lỗi" and row[2])
        if L.SUMMARY_SHEET in wb.sheetnames:
            facts.children = _children(wb[L.SUMMARY_SHEET], tree)
            for r in facts.children:
                r.sent, r.on_time = facts.rates.get(r.code, ("", ""))
    finally:
        wb.close()
    return facts


def _status(ws, facts: WorkbookFacts) -> None:
    """Late, missing and erroneous units by name; the newest time a used file was received.
    Columns are found by their header in the sheet itself (older workbooks have fewer)."""
    col: dict[str, int] = {}
    newest = None
    for row in ws.iter_rows(values_only=True):
        if not col:
            if row and row[0] == STATUS_HEADER[0] and len(row) > 1 and row[1] == STATUS_HEADER[1]:
                col = {str(h): i for i, h in enumerate(row) if h}
            continue
        if not row or len(row) <= col.get("Tình trạng", 10 ** 6) or len(row) <= col.get("Đơn vị", 10 ** 6):
            continue
        name, status = str(row[col["Đơn vị"]] or "").strip(), row[col["Tình trạng"]]
        if status == MISSING:
            facts.missing.append(name)
        elif status == LATE:
            facts.late.append(name)
        elif status == HAS_ERRORS:
            facts.with_errors.append(name)
        review = row[col["Duyệt"]] if "Duyệt" in col and len(row) > col["Duyệt"] else None
        if review:
            facts.reviews[str(review)] = facts.reviews.get(str(review), 0) + 1
        at = col.get("Thời gian nhận")
        when = row[at] if at is not None and len(row) > at else None

        def cell(header: str) -> object:
            i = col.get(header)
            return row[i] if i is not None and i < len(row) else None
        code = str(cell("Mã") or "").strip()
        if code:
            if cell("Cấp"):
                facts.levels[code] = str(cell("Cấp")).strip()
            facts.rates[code] = _rates(cell(STATUS_HEADER[6]), cell(STATUS_HEADER[7]), status, when, cell("Hạn nộp"))
        if status != MISSING and hasattr(when, "year") and (newest is None or when > newest):
            newest = when
    facts.newest_received = newest


def _fraction(text: object) -> str:
    """"4/5" of the status table's "4/5 (80%)"."""
    return str(text or "").split("(")[0].strip()


def _rates(sent: object, on_time: object, status: object, when: object, deadline: object) -> tuple[str, str]:
    """A unit's sub-tree "Đã nộp" and "Đúng hạn" as the status table has them; a unit with nothing under
    it has none there, so its own report counts as 1/1 or 0/1."""
    if sent or on_time:
        return _fraction(sent), _fraction(on_time)
    if status == MISSING:
        return "0/1", "0/1"
    if status == LATE:
        return "1/1", "0/1"
    if status in (SENT, HAS_ERRORS, AWAITING):
        late = (hasattr(when, "date") and hasattr(deadline, "date") and when.date() > deadline.date())
        return "1/1", "0/1" if late else "1/1"
    return "", ""           # the consolidating unit, a unit covered by a total sent above it


def _children(ws, tree: UnitTree | None) -> list[UnitRow]:
    """Rows of the root's direct sub-units: from the units file when given, else the name's indent."""
    rows = ws.iter_rows()
    head = next(rows, None)
    codes_row = next(rows, None)
    if head is None or codes_row is None:
        return []
    codes = [(i, c.value) for i, c in enumerate(codes_row) if isinstance(c.value, str) and c.value]
    out: list[UnitRow] = []
    root = None
    for row in rows:
        code = row[0].value
        if not code:
            continue
        if root is None:
            root = code
            continue
        if tree is not None and code in tree:
            direct = tree[code].parent == root
        else:
            indent = getattr(row[1].alignment, "indent", 0) or 0
            direct = indent == 1
        if direct:
            out.append(UnitRow(str(code), str(row[1].value or code).strip(),
                               {c: row[i].value if i < len(row) else None for i, c in codes}))
    return out
