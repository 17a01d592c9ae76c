"""An xlsx file as the JSON a client (Excel via Office.js, i.e. xlwings Lite / Server) sends to Python.

xlwings' remote engine builds a real `xw.Book` from that JSON (`xw.Book(json=...)`) and
records every write as an action (`book.json()["actions"]`), so the Excel door runs on
Linux, against the real xlwings API, with no Excel:

    book = remote_book(path)
    kiem_tra_book(book)
    actions = book.json()["actions"]

Values are read with python-calamine (cached values, as Excel would send them); the
defined names come from xl/workbook.xml. The engine needs a licence key; for a
non-commercial organisation `XLWINGS_LICENSE_KEY=noncommercial` is the PolyForm
Noncommercial licence and works offline.
"""
from __future__ import annotations

import os
import re
import zipfile
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


def book_json(path: str | Path) -> dict:
    """The payload xlwings' Office.js client sends for the workbook at `path`."""
    path = Path(path)
    wb = CalamineWorkbook.from_path(str(path))
    sheets = list(wb.sheet_names)
    payload_sheets = []
    for name in sheets:
        rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
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
