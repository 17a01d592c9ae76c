"""Long tables streamed into a workbook that openpyxl has saved.

openpyxl holds every cell as an object (about 250 bytes with its style), so a national
"Tổng hợp theo đơn vị" sheet (10,000 units x 52 columns) cost hundreds of MB and most of the
consolidation's time. Here openpyxl builds everything that needs it (the root's template, the
headers, column widths, frozen panes, defined names, the cell styles), then each long table's
rows are written as sheet XML, one row at a time, while the saved package is copied into the
output. Memory no longer grows with the number of rows.

    styles = CellStyles(ws)
    money = styles.id(number_format="#,##0")
    body = SheetBody(first_row=3, rows=..., count=len(units), width=52, styles=styles)
    save_with_bodies(wb, out, {ws.title: body})

Cells are written as openpyxl writes them: numbers as `<v>`, text as inline strings (never a
formula, whatever it starts with), dates as serial numbers under a date style.
"""
from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import BinaryIO, Callable, Iterable, Mapping, Sequence

from openpyxl.cell import Cell
from openpyxl.utils.datetime import to_excel

from ..numbers import finite
from ..textsafe import xml_text
from .package import _workbook_parts
from .sheetxml import col_letter

__all__ = ["CellStyles", "SheetBody", "save_with_bodies"]

_DIMENSION = re.compile(rb'<dimension ref="[^"]*"\s*/>')
_ROW = re.compile(rb'<row r="(\d+)"')
_ROWS_PER_WRITE = 500
# Deflate level of the saved workbook: 3 compresses its XML in half the time of zlib's default 6 (1,000
# units: 16 ms, not 34 ms) and the file is about a sixth larger (0.42 MB, not 0.36 MB).
COMPRESS_LEVEL = 3


class CellStyles:
    """Style ids (cellXfs indexes) for the streamed cells, registered in the workbook's own
    stylesheet through a cell that is never placed on the sheet."""

    def __init__(self, ws):
        self._ws = ws
        self._ids: dict[tuple, int] = {}
        self._frozen = False

    def freeze(self) -> None:
        """No new style from here on: the stylesheet is about to be written."""
        self._frozen = True

    def id(self, **style) -> int:
        """The id of a cell style given as openpyxl cell attributes: font, alignment, number_format,
        border, fill, protection."""
        key = tuple(sorted(style.items()))
        if key not in self._ids:
            if self._frozen:      # a style made while rows stream would point past the stylesheet
                raise RuntimeError("cell style registered after the workbook's styles were written")
            cell = Cell(self._ws, row=1, column=1)       # detached: ws's cells are not touched
            for attr, value in style.items():
                setattr(cell, attr, value)
            self._ids[key] = cell.style_id
        return self._ids[key]


@dataclass
class SheetBody:
    """Rows for a sheet, from `first_row` down, column A on. Each row is a sequence of
    (value, style id); None or "" writes an empty cell with that style (none with style 0). `count` and `width` (rows and columns)
    are known before writing, so the sheet's dimension is right from the start. Every style
    the rows use must be registered in `styles` before saving. `height`, when given, says a row's
    height in points (None: the default): LibreOffice does not size rows of wrapped text itself,
    so a long text would print over the rows under it."""

    first_row: int
    rows: Iterable[Sequence[tuple[object, int]]]
    count: int
    width: int
    styles: CellStyles
    height: Callable[[Sequence[tuple[object, int]]], float | None] | None = None


def _cell(ref: str, value: object, style: int, epoch) -> str:
    if type(value) is int and finite(value) is not None:    # most cells: a figure, counted
        return f'<c r="{ref}" s="{style}" t="n"><v>{value}</v></c>' if style else f'<c r="{ref}" t="n"><v>{value}</v></c>'
    s = f' s="{style}"' if style else ""
    if value is None or value == "":
        return f'<c r="{ref}"{s}/>' if style else ""        # an empty cell keeps its fill, border, lock
    if isinstance(value, bool):
        return f'<c r="{ref}"{s} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float)):
        if finite(value) is None:       # inf, NaN or a 400-digit int: Excel could not open the sheet
            return ""
        return f'<c r="{ref}"{s} t="n"><v>{value!r}</v></c>'
    if isinstance(value, (datetime, date, time)):
        return f'<c r="{ref}"{s} t="n"><v>{to_excel(value, epoch)!r}</v></c>'
    text = xml_text(value)     # batn.textsafe: escaped; what XML cannot carry is shown as \xff, \x01
    space = ' xml:space="preserve"' if text != text.strip() else ""
    return f'<c r="{ref}"{s} t="inlineStr"><is><t{space}>{text}</t></is></c>'


def _row_xml(r: int, row: Sequence[tuple[object, int]], letters: Sequence[str], epoch, height=None) -> str:
    cells = "".join(_cell(f"{letters[c]}{r}", v, s, epoch) for c, (v, s) in enumerate(row))
    ht = height(row) if height is not None else None
    if ht:
        return f'<row r="{r}" ht="{ht:g}" customHeight="1">{cells}</row>'
    return f'<row r="{r}">{cells}</row>'


def _write_body(dst: BinaryIO, sheet_xml: bytes, body: SheetBody, epoch) -> None:
    last_row = body.first_row + body.count - 1
    if body.count:
        ref = f"A1:{col_letter(max(body.width, 1) - 1)}{last_row}"
        sheet_xml = _DIMENSION.sub(f'<dimension ref="{ref}"/>'.encode(), sheet_xml, count=1)
    sheet_xml = re.sub(rb"<sheetData\s*/>", b"<sheetData></sheetData>", sheet_xml, count=1)   # an empty sheet
    head, sep, tail = sheet_xml.partition(b"</sheetData>")
    if not sep:
        raise ValueError("sheet XML without sheetData")
    written = [int(n) for n in _ROW.findall(head)]
    if written and max(written) >= body.first_row:     # rows must rise through the sheet
        raise ValueError(f"streamed rows start at {body.first_row}, the sheet already has row {max(written)}")
    dst.write(head)
    letters = [col_letter(c) for c in range(body.width)]
    r, chunk = body.first_row, []
    for row in body.rows:
        if len(row) > body.width:
            raise ValueError(f"row {r} has {len(row)} cells, the sheet was declared {body.width} wide")
        chunk.append(_row_xml(r, row, letters, epoch, body.height))
        r += 1
        if len(chunk) == _ROWS_PER_WRITE:
            dst.write("".join(chunk).encode("utf-8"))
            chunk = []
    dst.write("".join(chunk).encode("utf-8"))
    if r - body.first_row != body.count:      # the dimension written above would be wrong
        raise ValueError(f"{r - body.first_row} rows written, {body.count} declared")
    dst.write(sep + tail)


def save_with_bodies(wb, out: BinaryIO, bodies: Mapping[str, SheetBody]) -> None:
    """Save `wb` to `out` with each named sheet's rows streamed after what openpyxl wrote there.
    The rows must start below the sheet's last written row."""
    for body in bodies.values():
        body.styles.freeze()
    saved = io.BytesIO()
    _save_stored(wb, saved)
    epoch = wb.epoch
    with zipfile.ZipFile(saved) as src:
        wb_xml = src.read("xl/workbook.xml")
        rels = src.read("xl/_rels/workbook.xml.rels")
        parts = dict(_workbook_parts(wb_xml, rels)[2])
        by_part = {parts[title]: body for title, body in bodies.items()}
        missing = set(bodies) - set(parts)
        if missing:
            raise KeyError(f"no such sheet: {sorted(missing)}")
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as dst:
            for info in src.infolist():
                data = src.read(info)
                body = by_part.get(info.filename)
                if body is None:
                    dst.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL)
                    continue
                with dst.open(info.filename, "w") as f:   # the archive's compression; no ZIP64 (Excel asks
                    _write_body(f, data, body, epoch)     # to repair files that use it)


def _save_stored(wb, buf: BinaryIO) -> None:
    """openpyxl's save (openpyxl.writer.excel.save_workbook) into an archive that is not compressed:
    its parts are read back at once and compressed only once, as they are copied out."""
    from openpyxl.writer.excel import ExcelWriter

    wb.properties.modified = datetime.now(timezone.utc).replace(tzinfo=None)
    ExcelWriter(wb, zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED, allowZip64=True)).save()
