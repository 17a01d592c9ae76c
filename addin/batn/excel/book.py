"""Reading an open workbook (an `xw.Book`, classic Excel or a remote/Lite book) the way batn reads a file.

The door holds no reading rule of its own: the live values go into the same
reader steps `batn validate` uses (batn.xlsx.reader: metadata, figures through
`batn.numbers.parse_figure`, labels beside each named cell, narrative lists); only
where the values come from differs. Each sheet is read in one call, so a classic
COM book costs one round trip per sheet, not one per cell.
"""
from __future__ import annotations

from pathlib import Path

from ..model import Catalogue, Submission
from ..xlsx import reader as R

# Cells a catalogue's reader looks at: the named cell and its label two columns to the left.
_MAX_ROWS = 5000


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
    """Rows and columns to read per sheet (1-based counts): as far as the deepest named cell."""
    ext: dict[str, tuple[int, int]] = {}
    for ref in names.values():
        t = R.parse_ref(ref)
        if t:
            rows, cols = ext.get(t.sheet, (1, 1))
            ext[t.sheet] = (min(max(rows, t.row2 + 1), _MAX_ROWS), max(cols, t.col2 + 1))
    return ext


class BookGrid(R.Grid):
    """The reader's cell grid over an xlwings book (values as the open book holds them now)."""

    def __init__(self, book, names: dict[str, str]):
        self.extent = _extent(names)
        super().__init__(None, {s: r for s, (r, _c) in self.extent.items()})   # no calamine workbook here
        self.book = book
        self.formulas: dict[str, list[list]] = {}   # sheet -> formulas, where the engine can give them

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
            try:        # Excel through COM gives formulas; the remote engine only on request (async)
                self.formulas[name] = rng.options(ndim=2).formula
            except Exception:
                pass
        return self.cache[name]

    def formula_facts(self, where: str) -> R.CellFacts | None:
        t = R.parse_ref(where)
        grid = self.formulas.get(t.sheet) if t else None
        if not grid or t.row >= len(grid) or t.col >= len(grid[t.row]):
            return None
        f = grid[t.row][t.col]
        return R.CellFacts(formula=f) if isinstance(f, str) and f.startswith("=") else None


def find_sheet(book, name: str):
    """The sheet titled exactly `name`, or None."""
    for sheet in book.sheets:
        if sheet.name == name:
            return sheet
    return None


def read_book(book, catalogue: Catalogue | None = None) -> Submission:
    """The open workbook as a Submission (findings found while reading included), like read_submission."""
    source = book.name
    sub = Submission(unit="", period="", catalogue="", values={}, narratives={}, source=source)
    names = defined_names(book)
    grid = BookGrid(book, names)
    sub.sheets = [s.name for s in book.sheets]
    def formulas_in_inputs(catalogue: Catalogue) -> None:
        for code, where in list(sub.cells.items()):
            facts = grid.formula_facts(where)
            if facts:
                R.judge_cell(sub, code, where, facts, catalogue)

    return R.read_grid(sub, grid, names, catalogue, extra_checks=formulas_in_inputs)


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
