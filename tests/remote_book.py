"""An xlsx file as the JSON a client (Excel via Office.js, i.e. xlwings Lite / Server) sends to Python.

xlwings' remote engine builds a real `xw.Book` from that JSON (`xw.Book(json=...)`) and
records every write as an action (`book.json()["actions"]`), so the Excel door runs on
Linux, against the real xlwings API, with no Excel:

    book = remote_book(path)
    kiem_tra_book(book)
    actions = book.json()["actions"]

Values are read with python-calamine (cached values, as Excel would send them); an error value
is sent as its text ("#REF!", "#N/A"), as Office.js' `Range.values` gives it (calamine reads it
as a blank, so the error cells are taken from the sheet XML through openpyxl); the defined names
come from xl/workbook.xml. No formulas and no merged cells: they are not part of the payload.
Checked against the published client: xlwings' Office Scripts client `runPython` (xlwings/js/
xlwings.ts in the xlwings 0.37.8 wheel: `payload["sheets"]` holds `range.getValues()` per sheet,
names, tables, pictures) and xlwings/pro/_xlremote.py (`Range.formula` raises "Reading formulas
synchronously isn't supported on this engine. Use 'await myrange.get_formula()'", and
`_clean_value_data_element` turns those error strings into None unless `err_to_str`).

`lite_client(path)` plays the part xlwings Lite's JavaScript plays for the async reads: inside it,
`await rng.get_formula()`, `get_merge_cells()` and `get_merge_area()` go through xlwings' own
`client_read` -> `js.xlwings.getRangeData(sheet, address, keys)`, answered from the file.

The engine needs a licence key; for a non-commercial organisation
`XLWINGS_LICENSE_KEY=noncommercial` is the PolyForm Noncommercial licence and works offline.
"""
from __future__ import annotations

import os
import re
import shutil
import sys
import types
import zipfile
from contextlib import contextmanager
from datetime import date, datetime, time
from pathlib import Path

from defusedxml import ElementTree as ET
from python_calamine import CalamineWorkbook

os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")

import xlwings as xw  # noqa: E402  (after the licence key)

_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
_SIMPLE_REF = re.compile(r"^(?:'((?:[^']|'')+)'|([^!]+))!(\$?[A-Z]{1,3}\$?\d+(?::\$?[A-Z]{1,3}\$?\d+)?)$")


def _json_value(v: object) -> object:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, (date, time)):
        return v.isoformat()
    return v


def _names(path: Path, sheets: list[str]) -> list[dict]:
    with zipfile.ZipFile(path) as z:
        root = ET.fromstring(z.read("xl/workbook.xml"))
    out = []
    for d in root.iterfind("m:definedNames/m:definedName", _NS):
        text = (d.text or "").strip()
        local = d.get("localSheetId")
        m = _SIMPLE_REF.match(text)
        sheet = (m.group(1) or "").replace("''", "'") or m.group(2) if m else None
        entry = {
            "name": d.get("name"),
            "refers_to": "=" + text,
            "sheet_index": sheets.index(sheet) if sheet in sheets else None,
            "address": m.group(3).replace("$", "") if m and sheet in sheets else None,
            "book_scope": local is None,
            "scope_sheet_index": None if local is None else int(local),
            "scope_sheet_name": None if local is None else sheets[int(local)],
        }
        if not entry["book_scope"]:
            entry["name"] = f"{sheets[int(local)]}!{entry['name']}"
        out.append(entry)
    return out


def _error_cells(path: Path) -> dict[str, dict[tuple[int, int], str]]:
    """sheet -> (row, col) 0-based -> error text, for the cells whose cached value is an error."""
    from openpyxl import load_workbook

    out: dict[str, dict[tuple[int, int], str]] = {}
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception:           # a file openpyxl refuses: values as calamine gives them
        return out
    try:
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for c in row:
                    if getattr(c, "data_type", None) == "e" and isinstance(c.value, str):
                        out.setdefault(ws.title, {})[(c.row - 1, c.column - 1)] = c.value
    except Exception:
        pass
    finally:
        wb.close()
    return out


def book_json(path: str | Path) -> dict:
    """The payload xlwings' Office.js client sends for the workbook at `path`."""
    path = Path(path)
    wb = CalamineWorkbook.from_path(str(path))
    sheets = list(wb.sheet_names)
    errors = _error_cells(path)
    payload_sheets = []
    for name in sheets:
        rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
        rows = [list(r) for r in rows]
        for (r, c), text in errors.get(name, {}).items():
            if r < len(rows) and c < len(rows[r]):
                rows[r][c] = text
        values = [[_json_value(v) for v in row] for row in rows] or [[]]
        width = max((len(r) for r in values), default=0)
        payload_sheets.append({
            "name": name,
            "values": values,
            "visibility": "Visible",
            "used_range_address": f"A1:{xw.utils.col_name(max(width, 1))}{max(len(values), 1)}" if width else None,
            "pictures": [], "shapes": [], "charts": [], "tables": [], "notes": [], "pivot_tables": [],
            "show_gridlines": True, "print_area": None,
        })
    return {
        "client": "Office.js",
        "version": xw.__version__,
        "book": {"name": path.name, "active_sheet_index": 0, "selection": "A1"},
        "names": _names(path, sheets),
        "sheets": payload_sheets,
    }


def remote_book(path: str | Path) -> "xw.Book":
    return xw.Book(json=book_json(path))


def actions(book, func: str | None = None) -> list[dict]:
    acts = book.json()["actions"]
    return [a for a in acts if func is None or a["func"] == func]


# ---------------------------------------------------------------- xlwings Lite's on-demand reads

def _a1(address: str) -> tuple[int, int, int, int]:
    """"D12" / "$D$12:$E$13" -> 0-based (row1, col1, row2, col2)."""
    parts = address.replace("$", "").split("!")[-1].split(":")
    out = []
    for p in parts:
        m = re.match(r"([A-Z]+)(\d+)$", p)
        col = 0
        for ch in m.group(1):
            col = col * 26 + ord(ch) - 64
        out.append((int(m.group(2)) - 1, col - 1))
    (r1, c1), (r2, c2) = out[0], out[-1]
    return r1, c1, r2, c2


class _Excel:
    """The answers Excel gives through xlwings Lite's `getRangeData`, computed from the file:
    `formulas` as Office.js `Range.formulas` (the formula for a formula cell, else the constant, ""
    for an empty cell), `merge_cells` (True: the range is one merged area; False: nothing merged;
    None: partly) and `merge_area` (the merged area holding a cell, null when it is not merged)."""

    def __init__(self, path: Path):
        from openpyxl import load_workbook

        wb = load_workbook(path, data_only=False)
        self.cells: dict[str, dict[tuple[int, int], object]] = {}
        self.merges: dict[str, list[tuple[int, int, int, int]]] = {}
        for ws in wb.worksheets:
            cells = {}
            for row in ws.iter_rows():
                for c in row:
                    v = c.value
                    if v is None or type(c).__name__ == "MergedCell":
                        continue
                    if c.data_type == "f":
                        v = v if isinstance(v, str) else getattr(v, "text", None) or str(v)
                        v = v if v.startswith("=") else "=" + v
                    elif isinstance(v, (datetime, date, time)):
                        v = v.isoformat()
                    cells[(c.row - 1, c.column - 1)] = v
            self.cells[ws.title] = cells
            self.merges[ws.title] = [(m.min_row - 1, m.min_col - 1, m.max_row - 1, m.max_col - 1)
                                     for m in ws.merged_cells.ranges]
        self.reads: list[tuple[str, str, tuple[str, ...]]] = []

    def answer(self, sheet: str, address: str, keys) -> dict:
        self.reads.append((sheet, address, tuple(keys)))
        r1, c1, r2, c2 = _a1(address)
        out = {}
        for key in keys:
            if key == "formulas":
                cells = self.cells.get(sheet, {})
                out[key] = [[cells.get((r, c), "") for c in range(c1, c2 + 1)] for r in range(r1, r2 + 1)]
            elif key == "merge_cells":
                hits = [m for m in self.merges.get(sheet, []) if not (m[2] < r1 or m[0] > r2 or m[3] < c1 or m[1] > c2)]
                out[key] = (False if not hits else
                            True if len(hits) == 1 and hits[0][:2] <= (r1, c1) and hits[0][2:] >= (r2, c2) else None)
            elif key == "merge_area":
                hit = next((m for m in self.merges.get(sheet, [])
                            if m[0] <= r1 <= m[2] and m[1] <= c1 <= m[3]), None)
                out[key] = None if hit is None else (
                    f"{xw.utils.col_name(hit[1] + 1)}{hit[0] + 1}:{xw.utils.col_name(hit[3] + 1)}{hit[2] + 1}")
            else:
                raise NotImplementedError(f"the stand-in does not answer {key!r}")
        return out


class _JsProxy:
    def __init__(self, value):
        self.value = value

    def to_py(self):
        return self.value


@contextmanager
def lite_client(path: str | Path):
    """Run the enclosed code as in xlwings Lite (Pyodide in Excel's task pane), with Excel answering
    the async reads from the workbook at `path`. Writes stay queued in `book.json()["actions"]`:
    a flush (`js.xlwings.runActions`) is refused, the door must read before it writes."""
    from xlwings.pro import _xlremote

    excel = _Excel(Path(path))

    async def get_range_data(sheet, address, keys):
        return _JsProxy(excel.answer(sheet, address, keys))

    async def run_actions(_actions):
        raise AssertionError("the door flushed its writes before reading (runActions)")

    js = types.ModuleType("js")
    js.xlwings = types.SimpleNamespace(getRangeData=get_range_data, runActions=run_actions)
    js.Object = types.SimpleNamespace(fromEntries=dict)
    ffi = types.ModuleType("pyodide.ffi")
    ffi.to_js = lambda obj, **_kw: obj
    ffi.JsNull = type("JsNull", (), {})
    pyodide = types.ModuleType("pyodide")
    pyodide.ffi = ffi
    emscripten = types.SimpleNamespace(**{k: getattr(sys, k) for k in ("version_info", "maxsize", "modules")},
                                       platform="emscripten")
    saved = {k: sys.modules.get(k) for k in ("js", "pyodide", "pyodide.ffi")}
    real_sys = _xlremote.sys
    sys.modules.update({"js": js, "pyodide": pyodide, "pyodide.ffi": ffi})
    _xlremote.sys = emscripten             # only xlwings' remote engine is told it runs in Pyodide
    try:
        yield excel
    finally:
        _xlremote.sys = real_sys
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


# ---------------------------------------------------------------- classic desktop Excel (COM)

class _ClassicApp:
    """The App of a classic book: the engine is "excel"; everything else is the remote app's."""

    engine = types.SimpleNamespace(name="excel")

    def __init__(self, app):
        self._app = app

    def __getattr__(self, name):
        return getattr(self._app, name)


class ClassicBook:
    """An `xw.Book` as classic Excel (COM) hands it to `RunPython`, for the one call the door makes
    only there: `book.api.SaveCopyAs(path)` writes the open workbook to `path` (here: the file's own
    bytes, standing in for Excel's re-save) and records the call. Every other call, and every write,
    goes to the remote book built from the same file, so the same actions can be asserted on."""

    def __init__(self, path: str | Path):
        self._path = Path(path)
        self._book = remote_book(path)
        self.app = _ClassicApp(self._book.app)
        self.copies: list[str] = []
        self.api = types.SimpleNamespace(SaveCopyAs=self._save_copy_as, Saved=True)

    def _save_copy_as(self, filename: str) -> None:
        self.copies.append(filename)
        shutil.copyfile(self._path, filename)

    def __getattr__(self, name):
        return getattr(self._book, name)
