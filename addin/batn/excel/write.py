"""Writing onto an open workbook (xw.Book): replaying batn.actions, and plain tables on sheets.

The same calls serve classic Excel (each becomes a COM call) and the remote engine
of xlwings Lite/Server (each becomes a recorded action the client replays), so the
tests assert on the recorded actions.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterable, Sequence

from .. import layout as L
from ..actions import MarkCell, WriteFindingsSheet
from ..model import Finding
from ..tables import FINDINGS_HEADER, FINDINGS_WIDTHS, findings_rows
from ..textsafe import inert
from .book import find_sheet, is_classic

HEADER_COLOUR = "#BDD7EE"
INPUT_COLOUR = "#FFF2CC"       # the templates' "type here" fill (batn.xlsx.template.INPUT_FILL)
CELL_COLUMN = 5                # "Ô" in the findings sheet: where earlier marks are found again


def findings_table(findings: Iterable[Finding]) -> list[list[object]]:
    """The rows of the "Kết quả kiểm tra" sheet, header first (batn.tables builds them for every door)."""
    return [list(FINDINGS_HEADER), *findings_rows(findings)]


_ALLOW = ("AllowFormattingCells", "AllowFormattingColumns", "AllowFormattingRows", "AllowInsertingColumns",
          "AllowInsertingRows", "AllowInsertingHyperlinks", "AllowDeletingColumns", "AllowDeletingRows",
          "AllowSorting", "AllowFiltering", "AllowUsingPivotTables")


@contextmanager
def unprotected(sheet):
    """Classic Excel refuses fills on a protected sheet: lift the (password-less) template protection
    for the writes and put the same protection back, with the same permissions.

    The remote engine has no protection API (Office.js would need the sheet unprotected first)."""
    api = sheet.api if is_classic(sheet.book) else None
    if api is None or not api.ProtectContents:
        yield
        return
    perms = api.Protection
    again = {"DrawingObjects": bool(api.ProtectDrawingObjects), "Contents": True,
             "Scenarios": bool(api.ProtectScenarios), **{a: bool(getattr(perms, a)) for a in _ALLOW}}
    api.Unprotect()
    try:
        yield
    finally:
        api.Protect(**again)


def sheet_for_writing(book, title: str, after=None):
    """The sheet titled `title`, emptied; added at the end when the workbook has none."""
    sheet = find_sheet(book, title)
    if sheet is not None:
        sheet.clear()
        return sheet
    return book.sheets.add(name=title, after=after or book.sheets[len(book.sheets) - 1])


def as_text(value: object) -> object:
    """Text that Excel would take for a formula ("=HYPERLINK(…)" as a unit code) is sent with a
    leading apostrophe, which Excel keeps as text and does not show: batn.textsafe.inert, the one
    rule every writer uses."""
    return inert(value)


def write_table(sheet, rows: Sequence[Sequence[object]], widths: Sequence[float] = (),
                header_rows: int = 1, number_columns: Sequence[int] = ()) -> None:
    """Rows from A1 in one write; header in bold on the header colour; "#,##0" on number columns (1-based)."""
    if not rows:
        return
    ncols = max(len(r) for r in rows)
    grid = [[as_text(v) for v in r] + [None] * (ncols - len(r)) for r in rows]
    sheet.range((1, 1)).value = grid
    header = sheet.range((1, 1), (header_rows, ncols))
    header.font.bold = True
    header.color = HEADER_COLOUR
    for c in number_columns:
        if len(grid) > header_rows:
            sheet.range((header_rows + 1, c), (len(grid), c)).number_format = "#,##0"
    for c, w in enumerate(widths, start=1):
        sheet.range((1, c)).column_width = w


def write_findings_sheet(book, findings: Sequence[Finding], title: str = L.CHECK_SHEET):
    sheet = sheet_for_writing(book, title)
    write_table(sheet, findings_table(findings), FINDINGS_WIDTHS)
    return sheet


def marked_cells(book, title: str = L.CHECK_SHEET) -> list[tuple[str, str]]:
    """(sheet, cell) of the marks a previous Kiểm tra left, read back from its results sheet."""
    sheet = find_sheet(book, title)
    if sheet is None:
        return []
    last = sheet.used_range.last_cell.row
    if last < 2:
        return []
    out = []
    for v in sheet.range((2, CELL_COLUMN), (last, CELL_COLUMN)).options(ndim=1).value:
        if isinstance(v, str) and "!" in v:
            s, c = v.rsplit("!", 1)
            if (s, c) not in out:
                out.append((s, c))
    return out


def _put_note(rng, text: str) -> None:
    if rng.note is None:
        rng.add_note(text)
    else:
        rng.note.text = text


def clear_marks(book, cells: Iterable[tuple[str, str]], input_cells: set[str]) -> None:
    """Undo earlier marks: the input fill back on input cells (none elsewhere), the note removed."""
    by_sheet: dict[str, list[str]] = {}
    for s, c in cells:
        by_sheet.setdefault(s, []).append(c)
    for title, addresses in by_sheet.items():
        sheet = find_sheet(book, title)
        if sheet is None:
            continue
        with unprotected(sheet):
            for a in addresses:
                rng = sheet[a]
                rng.color = INPUT_COLOUR if f"{title}!{a}" in input_cells else None
                if rng.note is not None:
                    rng.note.delete()


def apply_actions(book, actions: Sequence[object]) -> None:
    """Replay batn.actions on the open book: MarkCell colours a cell and puts the note; then the results sheet."""
    marks: dict[str, list[MarkCell]] = {}
    for a in actions:
        if isinstance(a, MarkCell):
            marks.setdefault(a.sheet, []).append(a)
    for title, ms in marks.items():
        sheet = find_sheet(book, title)
        if sheet is None:
            continue
        with unprotected(sheet):
            for m in ms:
                rng = sheet[m.cell]
                rng.color = "#" + m.colour
                _put_note(rng, m.note)
    for a in actions:
        if isinstance(a, WriteFindingsSheet):
            write_findings_sheet(book, list(a.findings))
