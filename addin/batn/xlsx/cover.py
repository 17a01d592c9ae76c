"""The "Số liệu" sheet of a consolidated workbook as a page a leader reads and signs: the Đoàn
header, the unit and period in words, the completeness line, the check result batn found, the
totals table, and the signer's block under it.

The sheet stays the template's (a valid submission for the level above): every cell a reader uses
keeps its place and its defined name. The codes (unit code, period id, catalogue id, kind) sit in
hidden rows 5-8, where the positional reader of a re-saved .ods/.xls still finds them; the unit's
name moves to a hidden cell with its name BATN_UNIT_NAME."""
from __future__ import annotations

from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from .. import layout as L
from ..completeness import completeness_line
from ..letterhead import Letterhead
from ..model import Severity
from ..rollup import Consolidation
from .cells import put
from .printing import PageText, print_setup
from .template import COL_ERR, COL_NOTE, COL_VALUE, COL_WARN, FIRST_TABLE_ROW, INPUT_FILL, _define

TITLE = "BIỂU TỔNG HỢP SỐ LIỆU KẾT QUẢ THỰC HIỆN PHONG TRÀO “3 TRÁCH NHIỆM”"
CODE_ROWS = (5, 6, 7, 8)            # unit code, period id, catalogue id, kind: for machines
UNIT_NAME_CELL = (5, 4)             # D5, hidden with the codes
LAST_PRINTED_COL = COL_NOTE         # A..E: "Kiểm tra" and the counting columns are not printed
SIGNATURE_GAP = 4                   # empty rows left for the signature and the seal
CHARS_PER_LINE = 118                # A..E at the sheet's widths, a little less for wrapping


def _lines(text: str, chars: int = CHARS_PER_LINE) -> int:
    return sum(max(1, -(-len(part) // chars)) for part in text.split("\n"))


def _merge(ws, row: int, c1: int, c2: int, value: str, *, font: Font, align: str = "center",
           height_lines: int | None = None, chars: int = CHARS_PER_LINE):
    for r in list(ws.merged_cells.ranges):
        if r.min_row <= row <= r.max_row and not (r.max_col < c1 or r.min_col > c2):
            ws.unmerge_cells(str(r))
    ws.merge_cells(start_row=row, start_column=c1, end_row=row, end_column=c2)
    cell = put(ws, row, c1, value)
    cell.font = font
    cell.alignment = Alignment(horizontal=align, vertical="center", wrap_text=True)
    lines = height_lines or _lines(value, chars)
    ws.row_dimensions[row].height = max(16, 16 * lines + 2)
    return cell


def _unmerge_header(ws) -> None:
    for r in list(ws.merged_cells.ranges):
        if r.max_row < FIRST_TABLE_ROW:
            ws.unmerge_cells(str(r))
    for row in range(1, FIRST_TABLE_ROW):
        for col in range(1, COL_WARN + 1):
            if (row, col) in ((9, 3), (9, 4)) or row in CODE_ROWS:
                continue
            ws.cell(row, col).value = None


def write_cover(ws, cons: Consolidation, head: Letterhead) -> None:
    """Rows 1-10 of the consolidated "Số liệu" sheet."""
    wb = ws.parent
    root = cons.tree[cons.tree.root]
    _unmerge_header(ws)
    # The Đoàn header: issuer left, organisation right; "***" and the number, place and date under them.
    left_cols, right_cols = (1, 2), (3, LAST_PRINTED_COL)
    _merge(ws, 1, *left_cols, "\n".join(head.left[:-1]), font=Font(bold=True, size=12), chars=60)
    _merge(ws, 1, *right_cols, head.organisation.upper(), font=Font(bold=True, size=12, underline="single"),
           height_lines=max(1, len(head.left) - 1))
    _merge(ws, 2, *left_cols, "\n".join(["***", head.number] if head.number else ["***"]), font=Font(size=12))
    _merge(ws, 2, *right_cols, head.place_date, font=Font(italic=True, size=12),
           height_lines=2 if head.number else 1)
    _merge(ws, 3, 1, LAST_PRINTED_COL, f"{TITLE}\n{cons.catalogue.title}", font=Font(bold=True, size=13))
    ws.row_dimensions[3].height = 44
    _merge(ws, 4, 1, LAST_PRINTED_COL, f"{root.name} — {cons.period.label}", font=Font(bold=True, size=12))
    # The codes stay where every reader finds them, out of sight; the name too, by its defined name.
    put(ws, *UNIT_NAME_CELL, root.name)
    _define(wb, L.NAME_UNIT_NAME, ws.title, f"${get_column_letter(UNIT_NAME_CELL[1])}${UNIT_NAME_CELL[0]}")
    for r in CODE_ROWS:
        ws.row_dimensions[r].hidden = True
    # The check result: batn's own count (every report read), plus what the sheet's formulas find in
    # the totals should someone edit them by hand; the list is on "Kết quả kiểm tra".
    n_err = sum(f.severity == Severity.ERROR for f in cons.findings)
    n_warn = sum(f.severity == Severity.WARNING for f in cons.findings)
    label = ws.cell(9, 2, "Kết quả kiểm tra các báo cáo:")
    label.font, label.alignment = Font(bold=True), Alignment(horizontal="right")
    for col, n, kind in ((3, n_err, COL_ERR), (4, n_warn, COL_WARN)):
        cell = ws.cell(9, col)
        formula = str(cell.value or "")
        if formula.startswith('="') and "&SUM(" in formula:     # ="Số lỗi: "&SUM(G12:G70)
            head_text, rng = formula.split("&SUM(", 1)
            cell.value = f"{head_text}&({n}+SUM({rng})"
    line = (completeness_line(cons) + f" Số liệu tổng hợp lúc {cons.as_of:%H:%M ngày %d/%m/%Y}; các lỗi, cảnh báo"
            f" xem ở trang “{L.CHECK_SHEET}”.")
    _merge(ws, 10, 1, LAST_PRINTED_COL, line, font=Font(size=11), align="left")


def write_signature(ws, last_row: int, head: Letterhead) -> int:
    """The signer's block under the table, right; returns its last row."""
    r = last_row + 2
    lines = head.signature
    for i, text in enumerate(lines):
        _merge(ws, r + i, 3, LAST_PRINTED_COL, text, font=Font(bold=True, size=12))
    r += len(lines)
    end = r + SIGNATURE_GAP
    if head.signer.strip():
        _merge(ws, end, 3, LAST_PRINTED_COL, head.signer.strip(), font=Font(bold=True, size=12))
    return end


def cover_print(ws, cons: Consolidation, last_row: int) -> None:
    """A4 portrait, one page across, the table's header on every page, no page header on the cover.
    The totals are the consolidation's, not typed: no "type here" fill on paper."""
    for row in range(FIRST_TABLE_ROW + 1, last_row + 1):
        for col in (COL_VALUE, COL_NOTE):
            cell = ws.cell(row, col)
            if cell.fill is not None and cell.fill.fgColor is not None and cell.fill.fgColor.rgb == INPUT_FILL.fgColor.rgb:
                cell.fill = PatternFill(fill_type=None)
    print_setup(ws, landscape=False, area=f"A1:{get_column_letter(LAST_PRINTED_COL)}{last_row}",
                title_rows=f"{FIRST_TABLE_ROW}:{FIRST_TABLE_ROW}",
                page=PageText(cons.tree[cons.tree.root].name, cons.period.label), first_page_header=False)
