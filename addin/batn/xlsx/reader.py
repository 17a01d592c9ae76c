"""Read a unit's workbook into a `Submission`, locating every cell by its defined name.

Defined names come from xl/workbook.xml (parsed with defusedxml, so no entity
expansion); cell values come from python-calamine, which is fast and never runs
formulas or macros. Nothing here raises for a bad file: problems become findings.
"""
from __future__ import annotations

import hashlib
import os
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

from defusedxml import ElementTree as ET
from python_calamine import CalamineWorkbook

from .. import layout as L
from ..catalogue import CatalogueError, load_catalogue
from ..findings import finding
from ..model import Catalogue, Submission
from ..numbers import parse_figure

# Reading is bounded: a file over these limits is a finding, not a crash.
MAX_FILE_BYTES = 25 * 1024 * 1024
MAX_EXPANDED_BYTES = 200 * 1024 * 1024
MAX_MEMBER_RATIO = 200      # expanded / compressed for one member (zip bombs reach thousands)

_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
_REF = re.compile(r"^(?:'((?:[^']|'')+)'|([^!]+))!\$?([A-Z]{1,3})\$?(\d+)(?::\$?([A-Z]{1,3})\$?(\d+))?$")


@dataclass(frozen=True)
class Target:
    sheet: str
    col: int      # 0-based
    row: int      # 0-based
    col2: int
    row2: int

    @property
    def a1(self) -> str:
        return f"{_col_letter(self.col)}{self.row + 1}"

    def where(self) -> str:
        return f"{self.sheet}!{self.a1}"


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def _col_letter(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def parse_ref(text: str) -> Target | None:
    m = _REF.match(text.strip())
    if not m:
        return None
    sheet = (m.group(1) or "").replace("''", "'") or m.group(2)
    c1, r1 = _col_index(m.group(3)), int(m.group(4)) - 1
    c2 = _col_index(m.group(5)) if m.group(5) else c1
    r2 = int(m.group(6)) - 1 if m.group(6) else r1
    return Target(sheet, c1, r1, c2, r2)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class _Unreadable(Exception):
    pass


def _workbook_names(path: Path) -> tuple[list[str], dict[str, str], list[str]]:
    """Sheet titles, workbook-level defined names -> reference text, hidden sheets."""
    try:
        with zipfile.ZipFile(path) as z:
            total = 0
            for info in z.infolist():
                total += info.file_size
                if info.compress_size and info.file_size / info.compress_size > MAX_MEMBER_RATIO and info.file_size > 10_000_000:
                    raise _Unreadable(f"tệp nén bất thường (phần {info.filename} nở ra {info.file_size:,} byte)")
            if total > MAX_EXPANDED_BYTES:
                raise _Unreadable(f"nội dung giải nén quá lớn ({total:,} byte, giới hạn {MAX_EXPANDED_BYTES:,})")
            root = ET.fromstring(z.read("xl/workbook.xml"))
    except zipfile.BadZipFile:
        raise _Unreadable("tệp không phải là tệp Excel .xlsx hợp lệ (hỏng hoặc sai định dạng)") from None
    except KeyError:
        raise _Unreadable("tệp nén không chứa sổ tính Excel (thiếu xl/workbook.xml)") from None
    except ET.ParseError as e:
        raise _Unreadable(f"cấu trúc sổ tính bị hỏng ({e})") from None
    except Exception as e:  # defusedxml refuses entities, DTDs...
        if isinstance(e, _Unreadable):
            raise
        raise _Unreadable(f"cấu trúc sổ tính không an toàn hoặc bị hỏng ({type(e).__name__})") from None
    sheets, hidden = [], []
    for s in root.iterfind("m:sheets/m:sheet", _NS):
        sheets.append(s.get("name", ""))
        if s.get("state") in ("hidden", "veryHidden"):
            hidden.append(s.get("name", ""))
    names = {}
    for d in root.iterfind("m:definedNames/m:definedName", _NS):
        if d.get("localSheetId") is None and d.get("name"):
            names[d.get("name")] = (d.text or "").strip()
    return sheets, names, hidden


def _nfc(x: object) -> object:
    return unicodedata.normalize("NFC", x) if isinstance(x, str) else x


class _Grid:
    """Cell access over calamine sheets, loaded lazily, one sheet at a time."""

    def __init__(self, wb: CalamineWorkbook):
        self.wb = wb
        self.cache: dict[str, list[list]] = {}

    def sheet(self, name: str) -> list[list] | None:
        if name not in self.cache:
            try:
                self.cache[name] = self.wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
            except Exception:
                return None
        return self.cache[name]

    def value(self, t: Target, dc: int = 0) -> object:
        rows = self.sheet(t.sheet)
        if rows is None or t.row >= len(rows) or t.col + dc >= len(rows[t.row]) or t.col + dc < 0:
            return None
        v = rows[t.row][t.col + dc]
        return None if v == "" else _nfc(v)


def read_submission(path: str | Path, catalogue: Catalogue | None = None) -> Submission:
    """Read one workbook. `catalogue` is the expected one; otherwise the file's BATN_CATALOG is used."""
    path = Path(path)
    name = str(path)
    sub = Submission(unit="", period="", catalogue="", values={}, narratives={}, source=name)
    try:
        st = path.stat()
        sub.received = st.st_mtime
        if st.st_size == 0:
            raise _Unreadable("tệp rỗng (0 byte)")
        if st.st_size > MAX_FILE_BYTES:
            raise _Unreadable(f"tệp quá lớn ({st.st_size:,} byte, giới hạn {MAX_FILE_BYTES:,})")
        sub.sha256 = sha256_of(path)
        sheets, names, _hidden = _workbook_names(path)
        sub.sheets = sheets
        grid = _Grid(CalamineWorkbook.from_path(str(path)))
    except _Unreadable as e:
        sub.findings.append(finding("unreadable-file", file=name, reason=str(e)))
        return sub
    except OSError as e:
        sub.findings.append(finding("unreadable-file", file=name, reason=e.strerror or str(e)))
        return sub
    except Exception as e:  # calamine's own errors for corrupt content
        sub.findings.append(finding("unreadable-file", file=name, reason=f"nội dung hỏng ({e})"))
        return sub

    _read_metadata(sub, grid, names, name)
    if catalogue is None:
        try:
            catalogue = load_catalogue(sub.catalogue) if sub.catalogue else None
        except CatalogueError:
            catalogue = None
    if catalogue is None:
        if not any(f.kind == "not-a-template" for f in sub.findings):
            sub.findings.append(finding("wrong-catalogue", file=name, found=sub.catalogue or "(trống)",
                                        expected="một bộ chỉ tiêu đã biết"))
        return sub
    _read_values(sub, grid, names, catalogue, name)
    _read_narratives(sub, grid, names, catalogue)
    return sub


def _resolve(names: dict[str, str], key: str, grid: _Grid, sub: Submission, file: str, **fields) -> Target | None:
    ref = names.get(key)
    if ref is None:
        return None
    t = parse_ref(ref)
    if t is None:
        sub.findings.append(finding("name-broken", file=file, unit=sub.unit, indicator=fields.get("code", ""),
                                    name=key, target=ref or "(trống)"))
        return None
    if grid.sheet(t.sheet) is None:
        sub.findings.append(finding("sheet-missing", file=file, unit=sub.unit, indicator=fields.get("code", ""),
                                    name=key, sheet=t.sheet))
        return None
    return t


def _read_metadata(sub: Submission, grid: _Grid, names: dict[str, str], file: str) -> None:
    if not any(k in names for k in L.METADATA_NAMES):
        sub.findings.append(finding("not-a-template", file=file, name=", ".join(L.METADATA_NAMES)))
        return
    for key, what in L.METADATA_NAMES.items():
        t = _resolve(names, key, grid, sub, file)
        v = grid.value(t) if t else None
        text = "" if v is None else str(int(v) if isinstance(v, float) and v.is_integer() else v).strip()
        if not text:
            sub.findings.append(finding("metadata-missing", file=file, what=what, name=key,
                                        cell=t.where() if t else ""))
        if key == L.NAME_UNIT:
            sub.unit = text
        elif key == L.NAME_PERIOD:
            sub.period = text
        else:
            sub.catalogue = text
    t = _resolve(names, L.NAME_KIND, grid, sub, file)
    sub.is_total = bool(t) and str(grid.value(t) or "").strip() == L.KIND_TOTAL


def _read_values(sub: Submission, grid: _Grid, names: dict[str, str], catalogue: Catalogue, file: str) -> None:
    for ind in catalogue.indicators:
        code = ind.code
        if code not in names:
            sub.findings.append(finding("missing-name", file=file, unit=sub.unit, indicator=code,
                                        name=code, label=ind.label))
            continue
        t = _resolve(names, code, grid, sub, file, code=code)
        if t is None:
            continue
        where = t.where()
        sub.cells[code] = where
        label = grid.value(t, dc=-2)
        sub.labels[code] = "" if label is None else str(label)
        parsed = parse_figure(grid.value(t))
        if parsed.problem:
            sub.findings.append(finding(parsed.problem, file=file, unit=sub.unit, indicator=code, cell=where,
                                        label=ind.label, value=parsed.raw))
        sub.values[code] = parsed.value


def _read_narratives(sub: Submission, grid: _Grid, names: dict[str, str], catalogue: Catalogue) -> None:
    for nl in catalogue.narratives:
        t = _resolve(names, nl.name, grid, sub, sub.source)
        rows: list[tuple[str, ...]] = []
        if t is not None:
            sheet = grid.sheet(t.sheet) or []
            for r in range(t.row, min(t.row2, len(sheet) - 1) + 1):
                cells = sheet[r][t.col:t.col2 + 1]
                texts = tuple("" if c in ("", None) else str(_nfc(c)).strip() for c in cells)
                if any(texts):
                    rows.append(texts)
        sub.narratives[nl.key] = rows


def read_named_values(path: str | Path, keys) -> dict[str, object]:
    """Values of a few workbook-level names (e.g. BATN_SENT in a consolidated workbook); missing ones are None."""
    try:
        _sheets, names, _hidden = _workbook_names(Path(path))
        grid = _Grid(CalamineWorkbook.from_path(str(path)))
    except Exception:
        return {k: None for k in keys}
    out = {}
    for k in keys:
        t = parse_ref(names[k]) if k in names else None
        out[k] = grid.value(t) if t else None
    return out


def find_workbooks(folder: str | Path) -> list[Path]:
    """Every spreadsheet file under `folder`, skipping Office lock files ("~$x.xlsx")."""
    out = []
    for root, _dirs, files in os.walk(folder):
        for f in files:
            # Office lock files, hidden files, and the annotated copies `batn validate --annotate` writes
            if f.startswith(("~$", ".~lock", ".")) or ".kiem-tra." in f:
                continue
            if f.lower().endswith((".xlsx", ".xlsm", ".xls", ".ods")):
                out.append(Path(root) / f)
    return sorted(out)
