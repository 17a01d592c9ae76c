"""Small cell helpers shared by the writers."""
from __future__ import annotations

from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

from ..numbers import finite
from ..textsafe import clean

# The number formats of what batn writes for people to read (the consolidated workbook: its tables,
# charts and the root's figures). "[$-42A]" (Vietnamese) makes LibreOffice, and so the PDF of
# `consolidate --pdf`, write 1.927 and 29,4% on a machine set to English, where "#,##0" prints
# "1,927": the very "1,644" a Vietnamese reader takes for one point six. Excel draws its own system's
# separators whatever the tag. A unit template's input cells keep the plain "#,##0".
NUMBER = "[$-42A]#,##0"
PERCENT = "[$-42A]0.0%"
_TAGGED = {"#,##0": NUMBER, "0.0%": PERCENT}


def vietnamese_numbers(ws) -> None:
    """The sheet's plain number formats given the Vietnamese tag (NUMBER, PERCENT)."""
    for row in ws.iter_rows():
        for cell in row:
            tagged = _TAGGED.get(cell.number_format)
            if tagged is not None:
                cell.number_format = tagged


HEADER_FILL = PatternFill("solid", fgColor="BDD7EE")
THIN = Side(style="thin", color="808080")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)


def put(ws, row: int, col: int, value: object):
    """Write a value; text is always stored as text, so "=HYPERLINK(...)" from a clerk never becomes a formula,
    and what XML cannot carry (a file name's stray byte, a control character) is shown escaped (batn.textsafe)."""
    cell = ws.cell(row, col)
    value = finite(value)          # a number no cell can hold is left blank, never an OverflowError
    cell.value = clean(value) if isinstance(value, str) else value
    if isinstance(value, str) and cell.data_type == "f":
        cell.data_type = "s"
    return cell


def header_row(ws, row: int, titles, widths=None) -> None:
    for c, title in enumerate(titles, start=1):
        cell = put(ws, row, c, title)
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.border = BOX
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    if widths:
        from openpyxl.utils import get_column_letter

        for c, w in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(c)].width = w
    ws.freeze_panes = f"A{row + 1}"          # a coordinate: ws.cell() would create an empty cell there


def finding_alignment(col: int) -> Alignment:
    """A cell of "Kết quả kiểm tra" (1-based column): the message (column 7) wraps; all read from the top."""
    return Alignment(wrap_text=col == 7, vertical="top")


def findings_sheet_head(wb, title: str):
    """The "Kết quả kiểm tra" sheet with its header and widths, replacing one of that name."""
    from ..tables import FINDINGS_HEADER, FINDINGS_WIDTHS

    if title in wb.sheetnames:
        del wb[title]
    ws = wb.create_sheet(title)
    header_row(ws, 1, FINDINGS_HEADER, list(FINDINGS_WIDTHS))
    return ws


def findings_sheet(wb, findings, title: str) -> None:
    """The "Kết quả kiểm tra" sheet: one row per finding, lỗi first."""
    from ..tables import findings_rows

    ws = findings_sheet_head(wb, title)
    for i, row in enumerate(findings_rows(findings), start=2):
        for c, v in enumerate(row, start=1):
            if v != "":
                put(ws, i, c, v).alignment = finding_alignment(c)


LINE_HEIGHT_PT = 15.0          # one line of 11 pt text
CHARS_PER_WIDTH = 1.1          # characters of 11 pt text per unit of column width (a safe guess)


def text_lines(text: str, width: float) -> int:
    """Lines `text` takes, wrapped in a column of `width`."""
    per = max(1, int(width * CHARS_PER_WIDTH))
    return sum(max(1, -(-len(part) // per)) for part in text.split("\n"))


def wrapped_height(widths, wrapped) -> "callable":
    """A `SheetBody.height` for rows whose columns `wrapped` (0-based) wrap their text: the height
    of the tallest cell, None (the default) for a row of single lines. LibreOffice does not size
    such rows on opening, and a long message would print over the rows under it."""
    cols = [(c, widths[c]) for c in wrapped]

    def height(row) -> float | None:
        lines = max((text_lines(row[c][0], w) for c, w in cols if c < len(row) and isinstance(row[c][0], str)),
                    default=1)
        return lines * LINE_HEIGHT_PT if lines > 1 else None

    return height
