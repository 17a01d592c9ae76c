"""Reading an open workbook (an `xw.Book`, classic Excel or a remote/Lite book) the way batn reads a file.

There is one reading path. Where the door can have the workbook's bytes it reads them with
`batn.xlsx.reader.read_submission`, exactly as `batn validate` does:

- classic desktop Excel (COM): `saved_copy` saves a copy of the open book to a temporary file
  (`Workbook.SaveCopyAs`: the open book keeps its path and its unsaved state) and reads its bytes.

xlwings' remote engine (xlwings Lite in Excel's task pane, xlwings Server) has no call that gives
the file: its payload holds the names and each sheet's *values* as Office.js gives them (error
values as their text "#REF!", TRUE/FALSE as booleans; no formulas, no merged cells). There the
live values go into the same reader steps (`reader.read_grid`: metadata, figures through
`batn.numbers.parse_figure`, labels, narrative lists; `reader._block_risky_cells` and
`reader._check_input_cells` for formulas, error values and merged cells), and only the source of
the cells differs:

- xlwings Lite answers on-demand reads: `await rng.get_formula()` (one call per sheet) and
  `get_merge_cells()` / `get_merge_area()`; `lite_cells` fetches them before reading;
- xlwings Server cannot: formulas and merged cells are then not checked, and `BookGrid.unchecked`
  says so, for the door to tell the clerk.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace

from ..model import Catalogue, Submission
from ..xlsx import reader as R
from ..xlsx.package import CellFacts

# Cells a catalogue's reader looks at: the named cell and its label two columns to the left.
_MAX_ROWS = 5000
# Error values as Excel (COM with err_to_str, Office.js) gives them in place of a cell's value.
EXCEL_ERRORS = frozenset({"#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!", "#DATA!",
                          "#SPILL!", "#CALC!", "#GETTING_DATA", "#BLOCKED!", "#CONNECT!", "#BUSY!",
                          "#FIELD!", "#UNKNOWN!", "#EXTERNAL!", "#PYTHON!"})
# What a door could not look at, said to the clerk (the keys are BookGrid.unchecked's).
UNCHECKED_WORDS = {"formulas": "công thức trong các ô", "merges": "ô bị gộp (merge)"}


def defined_names(book) -> dict[str, str]:
    """Workbook-level defined names -> reference text without "=" ("'Số liệu'!$D$13")."""
    out: dict[str, str] = {}
    for n in book.names:
        name = n.name
        if "!" in name:            # sheet-scoped (print titles, filters...): not part of the contract
            continue
        ref = n.refers_to or ""
        out[name] = ref[1:] if ref.startswith("=") else ref
    return out


def _extent(names: dict[str, str]) -> dict[str, tuple[int, int]]:
    """Rows and columns to read per sheet (1-based counts): as far as the reader looks, i.e. the deepest
    named cell, the "Ghi chú" column right of an input cell, and the rows typed under a list's block."""
    below = getattr(R, "BELOW_BLOCK", 0)
    ext: dict[str, tuple[int, int]] = {}
    for ref in names.values():
        t = R.parse_ref(ref)
        if t:
            rows, cols = ext.get(t.sheet, (1, 1))
            single = (t.row, t.col) == (t.row2, t.col2)
            last_row = t.row2 + 1 + (0 if single else below)
            ext[t.sheet] = (min(max(rows, last_row), _MAX_ROWS), max(cols, t.col2 + 1 + (1 if single else 0)))
    return ext


class BookGrid(R.Grid):
    """The reader's cell grid over an xlwings book (values as the open book holds them now).

    `formulas` (sheet -> rows of Excel's `Range.formulas`) and `merged` (sheet -> merged areas, 0-based
    corners as the reader keeps them) come from the engine when it can give them; a sheet without
    them is read from its values only, and `unchecked` names what could not be looked at."""

    def __init__(self, book, names: dict[str, str], formulas: dict[str, list[list]] | None = None,
                 merged: dict[str, list] | None = None):
        self.extent = _extent(names)
        super().__init__(None, {s: r for s, (r, _c) in self.extent.items()})   # no calamine workbook here
        self.book = book
        self.formulas: dict[str, list[list]] = dict(formulas or {})
        self.merges_known = merged is not None
        self.merged = dict(merged or {})
        self.formulas_known = formulas is not None

    def sheet(self, name: str) -> list[list] | None:
        if name not in self.cache:
            sheet = find_sheet(self.book, name)
            if sheet is None:
                return None
            rows, cols = self.extent.get(name, (1, 1))
            rng = sheet.range((1, 1), (rows, cols))
            # errors (#REF!, #N/A) come as their text so the reader reports them instead of a blank
            values = rng.options(ndim=2, err_to_str=True).value
            self.cache[name] = [["" if v is None else v for v in row] for row in values]
            if name not in self.formulas and not self.formulas_known:
                try:    # Excel through COM gives formulas at once; the remote engine only on request (async)
                    self.formulas[name] = rng.options(ndim=2).formula
                except Exception:
                    pass
        return self.cache[name]

    @property
    def unchecked(self) -> list[str]:
        """What this reading could not look at: "formulas", "merges" (see UNCHECKED_WORDS)."""
        out = []
        if not self.formulas_known and not all(s in self.formulas for s in self.cache if self.cache[s] is not None):
            out.append("formulas")
        if not self.merges_known:
            out.append("merges")
        return out

    def cell_facts(self, sheet: str, cells: set[str]) -> dict[str, CellFacts]:
        """Formulas and error values in these cells of one sheet (the reader's `XmlGrid.cell_facts`)."""
        rows = self.sheet(sheet)
        if rows is None:
            return {}
        formulas = self.formulas.get(sheet) or []
        quoted = sheet.replace("'", "''")
        out: dict[str, CellFacts] = {}
        for a1 in cells:
            t = R.parse_ref(f"'{quoted}'!{a1}")
            if t is None:
                continue
            value = rows[t.row][t.col] if t.row < len(rows) and t.col < len(rows[t.row]) else ""
            f = formulas[t.row][t.col] if t.row < len(formulas) and t.col < len(formulas[t.row]) else ""
            # A text constant that starts with "=" (typed after an apostrophe) is given back as itself
            # by Range.formulas too: a formula is a "=..." that is not the cell's own value.
            formula = f if isinstance(f, str) and f.startswith("=") and f != value else ""
            error = value if isinstance(value, str) and value in EXCEL_ERRORS else ""
            if formula or error:
                out[a1] = CellFacts(formula=formula, error=error)
        return out


def find_sheet(book, name: str):
    """The sheet titled exactly `name`, or None."""
    for sheet in book.sheets:
        if sheet.name == name:
            return sheet
    return None


def read_book(book, catalogue: Catalogue | None = None, *, formulas: dict[str, list[list]] | None = None,
              merged: dict[str, list] | None = None) -> tuple[Submission, list[str]]:
    """The open workbook as a Submission (findings found while reading included), like read_submission,
    and what could not be checked on it (see BookGrid.unchecked)."""
    source = book.name
    sub = Submission(unit="", period="", catalogue="", values={}, narratives={}, source=source)
    names = defined_names(book)
    grid = BookGrid(book, names, formulas, merged)
    sub.sheets = [s.name for s in book.sheets]
    # The reader's own rules, on this grid: a package stand-in with the names and no sheet XML.
    pkg = SimpleNamespace(names=names, xml={})
    R._block_risky_cells(sub, Path(source), pkg, grid)
    R.read_grid(sub, grid, names, catalogue,
                extra_checks=lambda cat: R._check_input_cells(sub, Path(source), pkg, grid, names, cat))
    return sub, grid.unchecked


# ---------------------------------------------------------------- what the engines can give

def saved_copy(book) -> tuple[bytes, str] | None:
    """Classic Excel: the open book's bytes as they would be sent, and a file name for them, through
    `Workbook.SaveCopyAs` into a temporary folder (the open book keeps its path and unsaved state).
    None when the engine has no such call or Excel refuses (the caller then reads the cells)."""
    name = book.name or "so_tinh"
    if not Path(name).suffix:
        name += ".xlsx"                    # a book never saved: Excel writes its default format
    tmp = tempfile.mkdtemp(prefix="batn-kiem-tra-")
    try:
        path = os.path.join(tmp, name)
        book.api.SaveCopyAs(path)
        with open(path, "rb") as f:
            return f.read(), name
    except Exception:
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _input_blocks(names: dict[str, str]) -> dict[str, list]:
    """Per sheet, the single cells named (input and metadata cells): where a merge matters."""
    out: dict[str, list] = {}
    for ref in names.values():
        t = R.parse_ref(ref)
        if t and (t.row, t.col) == (t.row2, t.col2):
            out.setdefault(t.sheet, []).append(t)
    return out


async def _merges(sheet, cells: list) -> list:
    """Merged areas holding any of `cells`: one read for the block around them (the usual answer is
    "none merged"), then one per cell, read together, only when something is."""
    top, left = min(t.row for t in cells), min(t.col for t in cells)
    bottom, right = max(t.row for t in cells), max(t.col for t in cells)
    if await sheet.range((top + 1, left + 1), (bottom + 1, right + 1)).get_merge_cells() is False:
        return []
    areas = await asyncio.gather(*(sheet.range((t.row + 1, t.col + 1)).get_merge_area() for t in cells))
    out = []
    for area in areas:
        rows, cols = area.shape
        if (rows, cols) != (1, 1):
            corner = ((area.row - 1, area.column - 1), (area.row + rows - 2, area.column + cols - 2))
            if corner not in out:
                out.append(corner)
    return out


async def lite_cells(book) -> tuple[dict[str, list[list]] | None, dict[str, list] | None]:
    """xlwings Lite: the formulas of each sheet's read extent (one `get_formula` per sheet) and the
    merged areas around the named cells, fetched from Excel on demand before anything is written.
    (None, None) where the engine cannot (xlwings Server, or Lite refusing the read)."""
    names = defined_names(book)
    formulas: dict[str, list[list]] = {}
    merged: dict[str, list] = {}
    blocks = _input_blocks(names)
    try:
        for title, (rows, cols) in _extent(names).items():
            sheet = find_sheet(book, title)
            if sheet is None:
                continue
            formulas[title] = await sheet.range((1, 1), (rows, cols)).options(ndim=2).get_formula()
            merged[title] = await _merges(sheet, blocks[title]) if title in blocks else []
    except NotImplementedError:      # "get_formula() is only supported in xlwings Lite"
        return None, None
    except Exception:                # Lite refused a read: say what was not checked rather than guess
        return None, None
    return formulas, merged


def named_values(book, keys) -> dict[str, object]:
    """Values of a few defined names (the settings); a missing name gives None."""
    names = defined_names(book)
    wanted = {k: names[k] for k in keys if k in names}
    grid = BookGrid(book, wanted)
    out = {}
    for k in keys:
        t = R.parse_ref(wanted[k]) if k in wanted else None
        out[k] = grid.value(t) if t else None
    return out


def sheet_rows(book, name: str, first_row: int, ncols: int) -> list[list[object]] | None:
    """Rows `first_row`.. of sheet `name` down to its last used row, `ncols` wide (None: no such sheet)."""
    sheet = find_sheet(book, name)
    if sheet is None:
        return None
    last = sheet.used_range.last_cell.row
    if last < first_row:
        return []
    return sheet.range((first_row, 1), (last, ncols)).options(ndim=2).value


def book_folder(book) -> Path | None:
    """The folder of the workbook's file, or None when it has none (unsaved, or a remote/Lite book)."""
    try:
        full = Path(book.fullname)
    except Exception:
        return None
    return full.parent if full.is_absolute() and full.parent.is_dir() else None


def is_classic(book) -> bool:
    """Desktop Excel through COM/AppleScript (as opposed to the remote engine of xlwings Lite/Server)."""
    try:
        return book.app.engine.name == "excel"
    except Exception:
        return False
