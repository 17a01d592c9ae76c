"""Read a unit's workbook into a `Submission`, locating every cell by its defined name.

Defined names come from xl/workbook.xml (parsed with defusedxml, so no entity
expansion). The named cells of an .xlsx are read straight from the sheet XML, values,
formulas and error values in one pass (sheetxml); any other shape, and .xls/.ods, are
read by python-calamine. Neither ever runs formulas or macros. Nothing here raises for a
bad file: problems become findings.
"""
from __future__ import annotations

import errno
import hashlib
import io
from functools import cached_property, lru_cache
import os
import re
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from python_calamine import CalamineWorkbook

from .. import layout as L
from ..catalogue import CatalogueError, load_catalogue
from ..findings import figure_findings, finding, in_words
from ..model import FILE_TIME, SAVED_IN_FILE, Catalogue, Severity, Submission
from ..numbers import parse_figure, readable
from ..safeio import FileTooLarge, NotARegularFile, kind_of, read_regular
from .package import (MAX_FILE_BYTES, CellFacts, Package, Unreadable, cell_facts, formula_risk,
                      is_spreadsheet_name, is_untouched_annotation, open_package)
from .sheetxml import NotPlain, SharedStrings, date_styles, read_sheet
from .sheetxml import col_index as _col_index, col_letter as _col_letter

_REF = re.compile(r"^(?:'((?:[^']|'')+)'|([^!]+))!\$?([A-Z]{1,3})\$?(\d+)(?::\$?([A-Z]{1,3})\$?(\d+))?$")


@dataclass(frozen=True)
class Target:
    sheet: str
    col: int      # 0-based
    row: int      # 0-based
    col2: int
    row2: int

    # Targets come from the lru_cache of parse_ref, so these strings are built once per template.
    @cached_property
    def a1(self) -> str:
        return f"{_col_letter(self.col)}{self.row + 1}"

    @cached_property
    def _where(self) -> str:
        return f"{self.sheet}!{self.a1}"

    def where(self) -> str:
        return self._where


@lru_cache(maxsize=4096)
def parse_ref(text: str) -> Target | None:
    """"'Số liệu'!$D$12" -> Target; None for anything that is not a plain cell or range."""
    if "#REF" in text.upper():     # what Excel leaves in a name whose sheet or cells were deleted
        return None
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


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
MAX_TEXT = 2000          # characters kept of one narrative cell
MAX_ROWS_READ = 5000     # rows of one sheet we ever look at (names point near the top)
BELOW_BLOCK = 200        # rows under a narrative list where clerks go on typing, outside its input block


def _nfc(x: object) -> object:
    return unicodedata.normalize("NFC", x) if isinstance(x, str) else x


def clean_text(text: str) -> tuple[str, int]:
    """NFC, without control or bidi-override characters; returns the text and how many were removed."""
    text = unicodedata.normalize("NFC", text)
    cleaned, n = _CONTROL.subn("", text)
    return cleaned.strip(), n


class Grid:
    """Cell access over calamine sheets, loaded lazily and only down to the rows we need.
    Other sources (an open Excel book) subclass it and override `sheet`."""

    def __init__(self, wb: CalamineWorkbook, rows_needed: dict[str, int] | None = None):
        self.wb = wb
        self.rows_needed = rows_needed or {}
        self.cache: dict[str, list[list]] = {}
        self.merged: dict[str, list] = {}
        self.reported: set[str] = set()   # sheets already reported missing or broken
        self.errors: dict[str, str] = {}  # sheet -> why it could not be read
        self.blocked: set[tuple[str, int, int]] = set()   # (sheet, row, col) never to be read
        self.xml: dict[str, bytes] = {}    # sheet XML when the source has it: lets empty blocks be skipped

    def sheet(self, name: str) -> list[list] | None:
        if name not in self.cache:
            try:
                sh = self.wb.get_sheet_by_name(name)
            except Exception as e:
                self.errors[name] = calamine_reason(e)
                return None
            limit = min(self.rows_needed.get(name, 200) + 1, MAX_ROWS_READ)
            rows = []
            # Rows before the sheet's first used row are not yielded by calamine: pad them.
            first = sh.start[0] if sh.start else 0
            rows.extend([] for _ in range(min(first, limit)))
            for row in sh.iter_rows():
                if len(rows) >= limit:
                    break
                pad = [""] * (sh.start[1] if sh.start else 0)
                rows.append(pad + list(row))
            self.cache[name] = rows
            try:
                self.merged[name] = list(sh.merged_cell_ranges or [])
            except Exception:
                self.merged[name] = []
        return self.cache[name]

    def value(self, t: Target, dc: int = 0) -> object:
        rows = self.cache.get(t.sheet)
        if rows is None:
            rows = self.sheet(t.sheet)
        if rows is None or t.row >= len(rows) or t.col + dc >= len(rows[t.row]) or t.col + dc < 0:
            return None
        v = rows[t.row][t.col + dc]
        if self.blocked and (t.sheet, t.row, t.col + dc) in self.blocked:
            return None
        return None if v == "" else _nfc(v)

    def block_is_empty(self, t: Target, below: int = 0) -> bool:
        """True when the sheet XML shows no value in the block, nor in the `below` rows under it
        (most narrative lists are empty): the sheet then need not be loaded at all. Without XML,
        assume it may hold values."""
        xml = self.xml.get(t.sheet)
        if xml is None:
            return False
        cols = "|".join(_col_letter(c) for c in range(t.col, t.col2 + 1)).encode()
        for m in re.finditer(rb'<c r="(?:' + cols + rb')(\d+)"[^>]*?>\s*<(?:v|is|f)\b', xml):
            if t.row < int(m.group(1)) <= t.row2 + 1 + below:
                return False
        return True

    def merge_of(self, t: Target):
        self.sheet(t.sheet)
        for (r1, c1), (r2, c2) in self.merged.get(t.sheet, []):
            if r1 <= t.row <= r2 and c1 <= t.col <= c2 and (r1, c1) != (r2, c2):
                return (r1, c1), (r2, c2)
        return None


class XmlGrid(Grid):
    """The Grid of a received .xlsx: the sheets our names point to are read straight from their
    XML (values, formulas, errors and merges in one pass, see sheetxml); a sheet of another
    shape falls back to python-calamine, opened only then."""

    def __init__(self, path: Path, pkg: Package, data: bytes | None = None):
        rows_needed, cols_needed = _reach(tuple(pkg.names.items()))
        super().__init__(None, dict(rows_needed))   # type: ignore[arg-type]  (a copy: _reach is cached)
        self.path, self.pkg, self.data = path, pkg, data
        self.cols_needed = cols_needed
        self.xml = pkg.xml
        self.facts: dict[str, dict[str, CellFacts]] = {}
        self._shared: SharedStrings | None = None

    def sheet(self, name: str) -> list[list] | None:
        if name in self.cache:
            return self.cache[name]
        xml = self.pkg.xml.get(name)
        if xml is not None and name in self.cols_needed:
            try:
                if self._shared is None:
                    self._shared = SharedStrings(self.pkg.shared)
                cells = read_sheet(xml, self.cols_needed[name], min(self.rows_needed.get(name, 200), MAX_ROWS_READ),
                                   self._shared if self.pkg.shared is not None else None,
                                   date_styles(self.pkg.styles) if self.pkg.styles else (frozenset(), frozenset()),
                                   self.pkg.is1904)
            except (NotPlain, ValueError, IndexError, TypeError, UnicodeDecodeError):
                pass          # calamine below reads it, or says why it cannot
            else:
                self.cache[name], self.merged[name], self.facts[name] = cells.rows, cells.merged, cells.facts
                return cells.rows
        if name not in self.pkg.sheets:
            self.cache[name] = None   # type: ignore[assignment]
            return None
        if self.wb is None:
            try:
                self.wb = (CalamineWorkbook.from_filelike(io.BytesIO(self.data)) if self.data is not None
                           else CalamineWorkbook.from_path(str(self.path)))
            except Exception as e:
                self.errors[name] = calamine_reason(e)
                return None
        return super().sheet(name)

    def cell_facts(self, sheet: str, cells: set[str]) -> dict[str, CellFacts]:
        """Formulas and error values in these cells of one sheet."""
        if self.sheet(sheet) is not None and sheet in self.facts:
            facts = self.facts[sheet]
            return {a1: facts[a1] for a1 in cells if a1 in facts}
        return cell_facts(self.path, self.pkg, sheet, cells, self.data)


@lru_cache(maxsize=32)
def _reach(names: tuple[tuple[str, str], ...]) -> tuple[dict[str, int], dict[str, set[int]]]:
    """Per sheet, the deepest row and the columns any defined name reaches (an indicator's label
    sits two columns left of its input cell). Cached: one template version, one set of names."""
    rows: dict[str, int] = {}
    cols: dict[str, set[int]] = {}
    for key, ref in names:
        t = parse_ref(ref)
        if t is None:
            continue
        block = key.startswith("BATN_") and t.row2 > t.row          # a narrative list
        rows[t.sheet] = max(rows.get(t.sheet, 0), t.row2 + (BELOW_BLOCK if block else 0))
        if key.startswith("BATN_"):
            cols.setdefault(t.sheet, set()).update(range(t.col, t.col2 + 1))
        else:            # an indicator: its label two columns left, its "Ghi chú" one column right; the
            # column between label and figure (đơn vị tính) is never read, so it is not parsed either
            cols.setdefault(t.sheet, set()).update({max(0, t.col - 2), *range(t.col, t.col2 + 2)})
    return rows, cols


def read_submission(path: str | Path, catalogue: Catalogue | None = None, *, data: bytes | None = None,
                    received: float | None = None) -> Submission:
    """Read one workbook. `catalogue` is the expected one; otherwise the file's BATN_CATALOG is used.

    With `data` (the file's bytes) and `received` (its time of receipt), nothing is read from disk:
    `path` only names the file in findings. A Dask worker on another machine reads this way."""
    path = Path(path)
    name = str(path)
    sub = Submission(unit="", period="", catalogue="", values={}, narratives={}, source=name)
    try:
        if data is None:
            try:    # read once: hashed here, unzipped from memory; never a FIFO, device or folder
                data, st = read_regular(path, MAX_FILE_BYTES)
            except FileTooLarge as e:
                raise Unreadable(_too_large(e.size)) from None
            except NotARegularFile as e:
                raise Unreadable(f"đây không phải tệp bảng tính mà là {e.strerror}; batn không đọc") from None
            sub.received = st.st_mtime
        else:
            sub.received = received or 0.0
            if len(data) > MAX_FILE_BYTES:
                raise Unreadable(_too_large(len(data)))
        sub.received_from = FILE_TIME
        sub.sha256 = hashlib.sha256(data).hexdigest()
        pkg = open_package(path, data)
        if pkg.saved_at is not None:
            sub.received, sub.received_from = pkg.saved_at, SAVED_IN_FILE
        if is_untouched_annotation(pkg, L.NAME_ANNOTATED):
            sub.findings.append(finding("skipped-file", file=name, reason=ANNOTATED_COPY))
            return sub
        if not is_spreadsheet_name(name):
            sub.findings.append(finding("extension-mismatch", file=name,
                                        what=KIND_WORDS.get(pkg.kind, "sổ tính")))
        if pkg.kind != "xlsx":
            return _read_by_position(sub, pkg, CalamineWorkbook.from_filelike(io.BytesIO(data)), catalogue)
        sub.sheets = pkg.sheets
        grid = XmlGrid(path, pkg, data)
    except Unreadable as e:
        sub.findings.append(_unreadable(name, str(e)))
        return sub
    except OSError as e:
        sub.findings.append(_unreadable(name, os_reason(e)))
        return sub
    except Exception as e:  # calamine's own errors for corrupt content
        sub.findings.append(_unreadable(name, calamine_reason(e)))
        return sub

    _block_risky_cells(sub, path, pkg, grid)
    read_grid(sub, grid, pkg.names, catalogue,
              extra_checks=lambda cat: (_note_package(sub, pkg),
                                        _check_input_cells(sub, path, pkg, grid, pkg.names, cat)))
    return sub


KIND_WORDS = {"xlsx": "sổ tính Excel (.xlsx)", "xls": "sổ tính Excel cũ (.xls)", "ods": "sổ tính LibreOffice (.ods)"}
ANNOTATED_COPY = "đây là bản tô màu do batn ghi khi kiểm tra (bản sao của một báo cáo), không phải báo cáo gửi lên"


NOT_A_WORKBOOK = "không phải sổ tính"


def _unreadable(name: str, reason: str):
    """A file named like a spreadsheet that cannot be read is a broken report (lỗi); any other file
    that is not a workbook was never one: it is named as skipped, with the reason."""
    if is_spreadsheet_name(name):
        return finding("unreadable-file", file=name, reason=reason)
    return finding("skipped-file", file=name, reason=f"{NOT_A_WORKBOOK} ({reason})")


def os_reason(e: OSError) -> str:
    """An operating system's refusal, said in Vietnamese (never "[Errno 2] No such file or directory")."""
    words = {errno.ENOENT: "không tìm thấy tệp (có thể đã bị xóa hoặc đổi tên)",
             errno.EACCES: "không có quyền đọc tệp", errno.EPERM: "không có quyền đọc tệp",
             errno.EISDIR: "đây là một thư mục, không phải tệp", errno.ELOOP: "liên kết trỏ vòng quanh",
             errno.ENXIO: "đây là cổng kết nối (socket) hoặc thiết bị, không phải tệp",
             errno.ENAMETOOLONG: "tên tệp quá dài", errno.EIO: "lỗi đọc ổ đĩa"}
    return words.get(e.errno or 0, "hệ điều hành không cho đọc tệp")


def _too_large(size: int) -> str:
    return f"tệp quá lớn ({size:,} byte, giới hạn {MAX_FILE_BYTES:,})".replace(",", ".")


def read_grid(sub: Submission, grid: "Grid", names: dict[str, str], catalogue: Catalogue | None,
              extra_checks=None) -> Submission:
    """Fill `sub` from any cell grid located by defined names: an xlsx file here, an open Excel
    book in the add-in. `extra_checks(catalogue)` runs what only one kind of source can check."""
    file = sub.source
    _read_metadata(sub, grid, names, file)
    if any(f.kind in ("not-a-template", "unreadable-file") for f in sub.findings):
        return sub
    if catalogue is not None and sub.catalogue and sub.catalogue != catalogue.id:
        return sub        # made for another catalogue: the check reports it, its cells mean other things
    from .carried import file_catalogue, flag_version

    if catalogue is None:     # the file's own catalogue: the copy it carries, else the shipped one of its id
        catalogue = file_catalogue(sub, grid, names)
    if catalogue is None:
        sub.findings.append(finding("wrong-catalogue", file=file, found=sub.catalogue or "(trống)",
                                    expected="một bộ chỉ tiêu đã biết"))
        return sub
    _read_values(sub, grid, names, catalogue, file)
    flag_version(sub, names, catalogue)      # another version of the same catalogue: codes matched
    if extra_checks:
        extra_checks(catalogue)
    _read_narratives(sub, grid, names, catalogue)
    if sub.values and all(v is None for v in sub.values.values()) \
            and not any(f.indicator for f in sub.findings if f.severity == Severity.ERROR):
        sub.findings.append(finding("no-figures", file=file, unit=sub.unit))
    return sub


def _block_risky_cells(sub: Submission, path: Path, pkg: Package, grid: "XmlGrid") -> None:
    """Metadata and narrative cells whose formula reaches outside (DDE, WEBSERVICE, links) are
    never read: their cached value is whatever the sender's machine fetched."""
    labels = {**L.METADATA_NAMES, L.NAME_KIND: "loại số liệu"}
    by_sheet: dict[str, dict[str, str]] = {}      # sheet -> cell -> what the cell is, for the message
    for key, ref in pkg.names.items():
        if key not in labels and not key.startswith("BATN_"):
            continue
        t = parse_ref(ref)
        if t is None:
            continue
        xml = pkg.xml.get(t.sheet)
        if xml is not None and b"<f" not in xml:
            continue                       # no formula on that sheet: nothing to block
        cells = by_sheet.setdefault(t.sheet, {})
        for r in range(t.row, min(t.row2, MAX_ROWS_READ) + 1):
            for c in range(t.col, t.col2 + 1):
                cells[f"{_col_letter(c)}{r + 1}"] = labels.get(key, f"trang “{t.sheet}”")
    for sheet, cells in by_sheet.items():          # one scan of each sheet's XML
        for a1, facts in grid.cell_facts(sheet, set(cells)).items():
            why = formula_risk(facts.formula) if facts.formula else ""
            if not why:
                continue
            target = parse_ref(f"'{sheet}'!{a1}")
            grid.blocked.add((sheet, target.row, target.col))
            sub.findings.append(finding("formula-risky", file=sub.source, cell=f"{sheet}!{a1}",
                                        label=cells[a1], why=why, formula=facts.formula[:200]))


def calamine_reason(e: Exception) -> str:
    """python-calamine's error, said for a clerk."""
    from .package import UNSAFE_XML

    return in_words(str(e), (
        (("entity",), f"một trang tính {UNSAFE_XML}"),
        (("cell limit", "too large"), "một trang tính có quá nhiều ô (vượt giới hạn đọc), có thể là tệp độc hại"),
        (("encrypt", "password"), "tệp có đặt mật khẩu; hãy gỡ mật khẩu rồi gửi lại"),
        (("detect format", "cannot detect", "could not detect"),
         "không nhận ra định dạng bảng tính (nội dung không đúng với đuôi tệp hoặc đã bị hỏng)"),
    ), "nội dung hỏng, không đọc được; hãy mở tệp bằng Excel, lưu lại rồi gửi lại")


def _rows_needed(names: dict[str, str]) -> dict[str, int]:
    """The deepest row any defined name points to, per sheet: we never read below it."""
    need: dict[str, int] = {}
    for ref in names.values():
        t = parse_ref(ref)
        if t:
            need[t.sheet] = max(need.get(t.sheet, 0), t.row2)
    return need


def _note_package(sub: Submission, pkg: Package) -> None:
    if pkg.has_macros:
        sub.findings.append(finding("has-macros", file=sub.source, unit=sub.unit))
    if pkg.external_links:
        sub.findings.append(finding("external-links", file=sub.source, unit=sub.unit, count=pkg.external_links))
    for sheet in pkg.hidden:
        if sheet == "batn-bo-chi-tieu":      # the catalogue the workbook carries (xlsx.carried)
            continue
        if sheet == L.GUIDE_SHEET and sub.is_total:   # batn hides the fill-in guide of a consolidated workbook
            continue
        sub.findings.append(finding("sheet-hidden", file=sub.source, unit=sub.unit, sheet=sheet))


def _resolve(names: dict[str, str], key: str, grid: Grid, sub: Submission, file: str, **fields) -> Target | None:
    ref = names.get(key)
    if ref is None:
        return None
    t = parse_ref(ref)
    if t is None:
        sub.findings.append(finding("name-broken", file=file, unit=sub.unit, indicator=fields.get("code", ""),
                                    name=key, target=ref or "(trống)"))
        return None
    if grid.sheet(t.sheet) is None:
        if t.sheet not in grid.reported:       # one finding per sheet, not one per name
            grid.reported.add(t.sheet)
            if t.sheet in sub.sheets:
                why = grid.errors.get(t.sheet, "")
                sub.findings.append(finding("unreadable-file", file=file, unit=sub.unit,
                                            reason=f"trang “{t.sheet}” bị hỏng, không đọc được"
                                                   + (f": {why}" if why else "")))
            else:
                sub.findings.append(finding("sheet-missing", file=file, unit=sub.unit, name=key, sheet=t.sheet,
                                            indicator=fields.get("code", "")))
        return None
    return t


def _meta_text(v: object) -> str:
    text = "" if v is None else str(int(v) if isinstance(v, float) and v.is_integer() else v)
    return clean_text(text)[0]


def _read_metadata(sub: Submission, grid: Grid, names: dict[str, str], file: str) -> None:
    if not any(k in names for k in L.METADATA_NAMES):
        sub.findings.append(finding("not-a-template", file=file, name=", ".join(L.METADATA_NAMES)))
        return
    for key, what in L.METADATA_NAMES.items():
        t = _resolve(names, key, grid, sub, file)
        text = _meta_text(grid.value(t) if t else None)
        if not text and (t is not None or key not in names):   # a broken name was reported already
            sub.findings.append(finding("metadata-missing", file=file, what=what, name=key,
                                        cell=t.where() if t else ""))
        if t is not None:
            sub.meta_cells[key] = t.where()     # so findings about the unit, period or catalogue point at it
        if key == L.NAME_UNIT:
            sub.unit = text
        elif key == L.NAME_PERIOD:
            sub.period = text
        else:
            sub.catalogue = text
    t = _resolve(names, L.NAME_KIND, grid, sub, file)
    sub.is_total = bool(t) and str(grid.value(t) or "").strip() == L.KIND_TOTAL


def _take_value(sub: Submission, ind, where: str, raw: object) -> None:
    parsed = parse_figure(raw)
    if parsed.problem or parsed.raw:
        sub.findings += figure_findings(parsed, label=ind.label, file=sub.source, unit=sub.unit, indicator=ind.code,
                                        cell=where)
    sub.values[ind.code] = parsed.value


def _read_values(sub: Submission, grid: Grid, names: dict[str, str], catalogue: Catalogue, file: str) -> None:
    unit_ref = parse_ref(names.get(L.NAME_UNIT, ""))
    data_sheet = unit_ref.sheet if unit_ref else None     # every figure sits on the sheet of the unit code
    for ind in catalogue.indicators:
        code = ind.code
        if code not in names:
            sub.findings.append(finding("missing-name", file=file, unit=sub.unit, indicator=code,
                                        name=code, label=ind.label))
            continue
        t = _resolve(names, code, grid, sub, file, code=code)
        if t is None:
            continue
        sub.cells[code] = t.where()
        if data_sheet is not None and t.sheet != data_sheet:
            # a name re-pointed to another sheet ("Hướng dẫn"...), even with the row label copied there
            sub.values[code] = None
            sub.findings.append(finding("name-other-sheet", file=file, unit=sub.unit, indicator=code, cell=t.where(),
                                        name=code, label=ind.label, sheet=t.sheet, expected=data_sheet))
            continue
        label = grid.value(t, dc=-2)
        sub.labels[code] = "" if label is None else str(label)
        raw = grid.value(t)
        _take_value(sub, ind, t.where(), raw)
        if raw is None:
            _figure_in_notes(sub, ind, grid, t)


def _figure_in_notes(sub: Submission, ind, grid: Grid, t: Target) -> None:
    """A figure typed in the "Ghi chú" column beside an empty input cell is not guessed into the
    figures (the note may say something else), but never passes unseen."""
    note = grid.value(t, dc=1)
    if note is None or isinstance(note, bool):
        return
    parsed = parse_figure(note)
    if parsed.value is None or parsed.problem:
        return
    where = f"{t.sheet}!{_col_letter(t.col + 1)}{t.row + 1}"
    sub.findings.append(finding("figure-in-notes", file=sub.source, unit=sub.unit, indicator=ind.code, cell=where,
                                label=ind.label, value=readable(parsed.value), input=t.a1))


def judge_cell(sub: Submission, code: str, where: str, facts: CellFacts, catalogue: Catalogue) -> None:
    """What a formula or an error value in an input cell means for its figure (any source: an
    xlsx file's XML here, an open Excel book's formulas in the add-in)."""
    ind = catalogue[code]
    loc = dict(file=sub.source, unit=sub.unit, indicator=code, cell=where)

    def replace_reading_findings() -> None:
        sub.values[code] = None
        sub.findings = [f for f in sub.findings if not (f.indicator == code and f.cell == where)]

    if facts.error:
        replace_reading_findings()
        sub.findings.append(finding("error-value", label=ind.label, error=facts.error, **loc))
    elif facts.formula and "#REF!" in facts.formula.upper():
        replace_reading_findings()
        sub.findings.append(finding("error-value", label=ind.label, error="#REF! (tham chiếu hỏng)", **loc))
    elif facts.formula:
        why = formula_risk(facts.formula)
        if why:
            replace_reading_findings()
            sub.findings.append(finding("formula-risky", label=ind.label, why=why,
                                        formula=facts.formula[:200], **loc))
        else:
            value = sub.values.get(code)
            sub.findings.append(finding("formula-in-input", label=ind.label, formula=facts.formula[:200],
                                        value="chưa có: tệp chưa được Excel tính lại" if value is None
                                        else value, **loc))


def _check_input_cells(sub: Submission, path: Path, pkg: Package, grid: "XmlGrid", names, catalogue: Catalogue) -> None:
    """Formulas, error values and merged cells in input cells: calamine shows none of them."""
    by_sheet: dict[str, dict[str, str]] = {}
    for code, where in sub.cells.items():
        sheet, a1 = where.rsplit("!", 1)
        by_sheet.setdefault(sheet, {})[a1] = code
    for sheet, cells in by_sheet.items():
        for a1, facts in grid.cell_facts(sheet, set(cells)).items():
            judge_cell(sub, cells[a1], f"{sheet}!{a1}", facts, catalogue)
    spans = {sheet: [m for m in grid.merged.get(sheet, []) if m[0] != m[1]] for sheet in by_sheet}
    if not any(spans.values()):
        return                      # no merged range on the input sheets (the usual case)
    for code, where in list(sub.cells.items()):
        t = parse_ref(where)
        m = grid.merge_of(t) if t and spans.get(t.sheet) else None
        if m:
            (r1, c1), (r2, c2) = m
            rng = f"{_col_letter(c1)}{r1 + 1}:{_col_letter(c2)}{r2 + 1}"
            if (r1, c1) != (t.row, t.col):
                sub.values[code] = None
                sub.findings.append(finding("merged-input", file=sub.source, unit=sub.unit, indicator=code,
                                            cell=where, label=catalogue[code].label, range=rng))


def _read_narratives(sub: Submission, grid: Grid, names: dict[str, str], catalogue: Catalogue) -> None:
    for nl in catalogue.narratives:
        ref = parse_ref(names[nl.name]) if nl.name in names else None
        if ref is not None and grid.block_is_empty(ref, below=BELOW_BLOCK):
            sub.narratives[nl.key] = []
            continue
        t = _resolve(names, nl.name, grid, sub, sub.source)
        sub.narratives[nl.key] = _narrative_rows(sub, grid, t, nl.sheet, below=BELOW_BLOCK) if t else []


def _narrative_rows(sub: Submission, grid: Grid, t: Target, sheet_title: str,
                    below: int = 0) -> list[tuple[str, ...]]:
    """The list's rows, and the rows typed under its input block (up to `below` more rows), in the same
    columns: those mean the same as the rows above them, so they are read, and the clerk is told."""
    rows: list[tuple[str, ...]] = []
    removed, longest = 0, 0
    sheet = grid.sheet(t.sheet) or []
    outside: list[int] = []
    for r in range(t.row, min(t.row2 + below, len(sheet) - 1) + 1):
        texts = []
        for j, c in enumerate(sheet[r][t.col:t.col2 + 1]):
            if c == "" or c is None or (grid.blocked and (t.sheet, r, t.col + j) in grid.blocked):
                texts.append("")
                continue
            text, n = clean_text(str(c))
            removed += n
            longest = max(longest, len(text))
            texts.append(text[:MAX_TEXT])
        if any(texts):
            rows.append(tuple(texts))
            if r > t.row2:
                outside.append(r + 1)
    if outside:
        sub.findings.append(finding("text-below-table", file=sub.source, unit=sub.unit, sheet=sheet_title,
                                    cell=f"{t.sheet}!{_col_letter(t.col)}{outside[0]}", count=len(outside),
                                    rows=_row_list(outside), last=t.row2 + 1))
    if removed:
        sub.findings.append(finding("text-cleaned", file=sub.source, unit=sub.unit, sheet=sheet_title, count=removed))
    if longest > MAX_TEXT:
        sub.findings.append(finding("text-too-long", file=sub.source, unit=sub.unit, sheet=sheet_title,
                                    length=f"{longest:,}".replace(",", "."),
                                    limit=f"{MAX_TEXT:,}".replace(",", ".")))
    return rows


def _row_list(rows: list[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:5])
    return shown + (f" và {len(rows) - 5} dòng khác" if len(rows) > 5 else "")


def _read_by_position(sub: Submission, pkg: Package, wb: CalamineWorkbook, catalogue: Catalogue | None) -> Submission:
    """.xls and .ods carry no names we can read safely: accept them when the data sheet has the
    standard template's labels at the standard places (the meaning is then certain)."""
    from .template import layout_rows

    fmt = ".ods" if pkg.kind == "ods" else ".xls"
    sub.sheets = list(wb.sheet_names)
    grid = Grid(wb, {L.DATA_SHEET: 200})
    rows = grid.sheet(L.DATA_SHEET)
    if rows is None:
        sub.findings.append(finding("not-a-template", file=sub.source, name=f"trang “{L.DATA_SHEET}”"))
        return sub
    at = lambda r, c: _meta_text(rows[r][c]) if r < len(rows) and c < len(rows[r]) else ""  # noqa: E731
    sub.unit, sub.period, sub.catalogue = at(4, 2), at(5, 2), at(6, 2)
    sub.is_total = at(7, 2) == L.KIND_TOTAL
    try:
        catalogue = catalogue or load_catalogue(sub.catalogue)
    except CatalogueError:
        sub.findings.append(finding("not-a-template", file=sub.source, name=L.NAME_CATALOG))
        return sub
    _, placed = layout_rows(catalogue)
    matches = sum(1 for code, ir in placed.items() if _same_label(at(ir.row - 1, 1), catalogue[code].label))
    if matches < 0.9 * len(placed):
        sub.findings.append(finding("not-a-template", file=sub.source, name="(nhãn chỉ tiêu không khớp vị trí)"))
        return sub
    sub.findings.append(finding("legacy-format", file=sub.source, unit=sub.unit, fmt=fmt))
    for code, ir in placed.items():
        where = f"{L.DATA_SHEET}!D{ir.row}"
        sub.cells[code] = where
        sub.labels[code] = at(ir.row - 1, 1)
        _take_value(sub, catalogue[code], where, rows[ir.row - 1][3] if ir.row - 1 < len(rows) and len(rows[ir.row - 1]) > 3 else None)
    for nl in catalogue.narratives:
        t = Target(nl.sheet, 1, 3, len(nl.columns), 3 + L.NARRATIVE_ROWS + 200)
        grid.rows_needed[nl.sheet] = t.row2
        sub.narratives[nl.key] = _narrative_rows(sub, grid, t, nl.sheet) if grid.sheet(nl.sheet) is not None else []
    return sub


def _same_label(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def read_named_values(path: str | Path, keys) -> dict[str, object]:
    """Values of a few workbook-level names (e.g. BATN_SENT in a consolidated workbook); missing ones are None."""
    try:
        names = open_package(Path(path)).names
        grid = Grid(CalamineWorkbook.from_path(str(path)), _rows_needed(names))
    except Exception:
        return {k: None for k in keys}
    out = {}
    for k in keys:
        t = parse_ref(names[k]) if k in names else None
        out[k] = grid.value(t) if t else None
    return out


def find_workbooks(folder: str | Path) -> list[Path]:
    """Every file under `folder` that batn will open (see `list_inbox`)."""
    return [Path(f) for f in list_inbox(folder)[0]]


# Files that are never a unit's report, recognised by name alone: what Office and the desktop leave.
_LOCK_FILE = ("~$", ".~lock.")
_DESKTOP_FILES = {".ds_store", "thumbs.db", "desktop.ini", ".directory"}


def list_inbox(folder: str | Path) -> tuple[list[str], list]:
    """Every file under `folder`: the ones to open (sorted paths, as str), and a `skipped-file`
    finding for each one that is not opened, with its reason. Nothing in an inbox goes unmentioned:
    a file with no or another extension is opened and judged by its content; batn's own annotated
    copies are recognised by the mark inside them, not by their name. Folders, links to folders,
    FIFOs, devices and sockets are named; none of them is ever opened here."""
    files: list[str] = []
    skipped = []

    def skip(path: str, reason: str) -> None:
        skipped.append(finding("skipped-file", file=path, reason=reason))

    def walk_error(e: OSError) -> None:
        skip(e.filename or str(folder), f"không đọc được thư mục: {os_reason(e)}")

    for root, dirs, names in os.walk(folder, onerror=walk_error):
        for d in list(dirs):
            p = os.path.join(root, d)
            if os.path.islink(p):
                skip(p, "liên kết tới một thư mục khác; batn không đọc theo liên kết")
                dirs.remove(d)
            elif is_spreadsheet_name(d):
                skip(p, "đây là thư mục mang tên bảng tính, không phải tệp (các tệp bên trong vẫn được đọc)")
        dirs.sort()
        for f in names:
            p = os.path.join(root, f)
            low = f.lower()
            if f.startswith(_LOCK_FILE):
                skip(p, "tệp khóa tạm của Excel/LibreOffice khi một báo cáo đang được mở; không phải báo cáo")
            elif low in _DESKTOP_FILES or f.startswith("._"):
                skip(p, "tệp hệ thống do máy tính tự tạo; không phải báo cáo")
            elif f.startswith("."):
                skip(p, "tệp ẩn (tên bắt đầu bằng dấu chấm); nếu là báo cáo, hãy đổi tên cho khỏi dấu chấm")
            else:
                try:        # a link is judged on what it reaches (stat never blocks, even on a FIFO)
                    mode = os.stat(p).st_mode
                except OSError as e:
                    skip(p, os_reason(e))
                    continue
                if stat.S_ISREG(mode):
                    files.append(p)       # and judged again once opened (read_regular)
                else:
                    skip(p, f"đây không phải tệp mà là {kind_of(mode)}; batn không đọc")
    files.sort()
    skipped.sort(key=lambda x: x.file)
    return files, skipped
