"""Earlier periods brought into the ledger (`batn lich-su nhap`), so that comparisons and outlier
warnings work from the day a province adopts batn.

Two kinds of source:
- batn workbooks of an earlier period: filled templates (a unit's own figures) and consolidated
  workbooks (a unit's totals), of any catalogue version: figures are kept by indicator code;
- a table a clerk can type (CSV, or the first sheet of an .xlsx): one row per figure, with the
  columns unit, period, indicator (code or label) and value, headed in Vietnamese or English.

Reading gives `PastFigures` and findings (a bad row is named by its line, never guessed); the
ledger records them (`Ledger.import_past`) without replacing what a real run recorded, so an
import can be repeated and only adds what is new.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .catalogue import CatalogueError, load_catalogue
from .findings import finding
from .model import Catalogue, Finding, UnitTree
from .numbers import parse_figure
from .periods import parse_period

__all__ = ["PastFigures", "read_past", "TABLE_COLUMNS"]


@dataclass
class PastFigures:
    """What one unit reported for one earlier period."""

    unit: str
    period: str
    catalogue: str
    values: dict[str, float | int | None]
    source: str                       # the file it came from (a table: "file, dòng 2-9")
    is_total: bool                    # the unit's totals (consolidated workbook, typed table)
    path: Path | None = None          # a workbook to archive as it is
    rows: list[int] = field(default_factory=list)
    received: float = 0.0             # when the workbook was saved; 0: when it is imported

    def document(self) -> bytes:
        """Typed figures archived as canonical JSON: the same figures give the same bytes (and hash)."""
        doc = {"batn": "lich-su/1", "unit": self.unit, "period": self.period, "catalogue": self.catalogue,
               "values": {c: self.values[c] for c in sorted(self.values)}}
        return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.document()).hexdigest()


# Column headings of a typed table, compared without accents, case or spaces ("Mã đơn vị" = "ma_don_vi").
TABLE_COLUMNS = {
    "unit": ("don vi", "ma don vi", "unit", "ma", "code"),
    "period": ("ky", "ky bao cao", "period", "nam"),
    "indicator": ("chi tieu", "ma chi tieu", "noi dung", "indicator"),
    "value": ("so lieu", "gia tri", "value", "so"),
}


TABLE_HEADINGS = ("Mã đơn vị", "Kỳ", "Chỉ tiêu", "Số liệu")      # as docs/lich-su-va-sap-nhap.md shows them


def _key(text: object) -> str:
    """Text compared loosely: no accents (đ → d), lower case, single spaces, "_" as a space."""
    t = unicodedata.normalize("NFD", str(text or "")).replace("đ", "d").replace("Đ", "D")
    t = "".join(ch for ch in t if not unicodedata.combining(ch))
    return " ".join(t.replace("_", " ").casefold().split())


def read_past(path: str | Path, catalogue: Catalogue | None = None,
              tree: UnitTree | None = None) -> tuple[list[PastFigures], list[Finding]]:
    """The earlier figures in one file, and what could not be taken from it (with its place)."""
    from .xlsx.reader import read_submission

    path = Path(path)
    name = str(path)
    if path.suffix.lower() in (".csv", ".txt", ".tsv"):
        return _read_table(path, _csv_rows(path), catalogue, tree)
    sub = read_submission(path)
    kinds = {f.kind for f in sub.findings}
    if "not-a-template" in kinds and path.suffix.lower() in (".xlsx", ".xlsm", ".xls", ".ods"):
        return _read_table(path, _sheet_rows(path), catalogue, tree)       # a typed table in a spreadsheet
    fatal = [f for f in sub.findings if f.kind in ("unreadable-file", "not-a-template", "skipped-file",
                                                   "wrong-catalogue")]
    if fatal:
        return [], fatal
    if not sub.unit or not sub.period:
        return [], [finding("past-file", file=name, reason="thiếu mã đơn vị hoặc kỳ báo cáo trên biểu mẫu")]
    try:
        period = parse_period(sub.period).id
    except ValueError:
        return [], [finding("past-file", file=name, reason=f"kỳ báo cáo “{sub.period}” không đọc được")]
    problems = [f for f in sub.findings if f.severity.value == "lỗi"]
    values = {c: v for c, v in sub.values.items() if v is not None}
    bad = {f.indicator for f in problems if f.indicator}
    values = {c: v for c, v in values.items() if c not in bad}          # a figure with a lỗi is not history
    if tree is not None and sub.unit not in tree and not tree.successor(sub.unit):
        return [], [finding("past-file", file=name, unit=sub.unit,
                            reason=f"mã đơn vị “{sub.unit}” không có trong danh sách đơn vị (kể cả đơn vị cũ)")]
    return [PastFigures(sub.unit, period, sub.catalogue, values, name, sub.is_total, path=path,
                        received=sub.received)], problems


# ---------------------------------------------------------------- typed tables

def _csv_rows(path: Path) -> list[list[str]]:
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return [row for row in csv.reader(io.StringIO(text), dialect)]


def _sheet_rows(path: Path) -> list[list[object]]:
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(str(path))
    sheet = wb.get_sheet_by_index(0)
    return [list(r) for r, _ in zip(sheet.iter_rows(), range(100_000))]


def _read_table(path: Path, rows: list[list[object]], catalogue: Catalogue | None,
                tree: UnitTree | None) -> tuple[list[PastFigures], list[Finding]]:
    name = str(path)
    problems: list[Finding] = []

    def bad(line: int, reason: str, **kw) -> None:
        problems.append(finding("past-row", file=name, cell=f"dòng {line}", row=line, reason=reason, **kw))

    header_at, cols = _header(rows)
    if cols is None:
        wanted = ", ".join(f"“{v}”" for v in TABLE_HEADINGS)
        return [], [finding("past-file", file=name, reason=f"không phải biểu mẫu batn, cũng không có dòng tiêu đề "
                                                           f"gồm các cột {wanted}")]
    if catalogue is None:
        return [], [finding("past-file", file=name, reason="cần biết bộ chỉ tiêu (--catalog hoặc tệp cấu hình) "
                                                           "để đọc bảng số liệu")]
    by_label = {_key(i.label): i.code for i in catalogue.indicators}
    by_code = {_key(i.code): i.code for i in catalogue.indicators}
    names = {_key(u.name): u.code for u in (tree.units.values() if tree else ())}
    groups: dict[tuple[str, str], PastFigures] = {}
    for i, row in enumerate(rows[header_at + 1:], start=header_at + 2):
        cell = lambda k: row[cols[k]] if cols[k] < len(row) else ""          # noqa: E731
        if not any(str(c).strip() for c in row if c is not None):
            continue
        unit = str(cell("unit") or "").strip()
        if tree is not None and unit not in tree and not tree.successor(unit):
            unit = names.get(_key(unit), unit)                               # a unit's name typed for its code
            if unit not in tree and not tree.successor(unit):
                bad(i, f"không có đơn vị “{cell('unit')}” trong danh sách đơn vị (kể cả đơn vị cũ)")
                continue
        if not unit:
            bad(i, "thiếu mã đơn vị")
            continue
        raw_period = cell("period")
        if isinstance(raw_period, float) and raw_period.is_integer():
            raw_period = int(raw_period)
        try:
            period = parse_period(str(raw_period).strip()).id
        except ValueError:
            bad(i, f"kỳ báo cáo “{raw_period}” không hợp lệ (ví dụ: 2024, 2025-H1)")
            continue
        ind = str(cell("indicator") or "").strip()
        code = by_code.get(_key(ind)) or by_label.get(_key(ind))
        if code is None:
            bad(i, f"không có chỉ tiêu “{ind}” (mã hay nội dung) trong bộ chỉ tiêu {catalogue.id}")
            continue
        parsed = parse_figure(cell("value"))
        if parsed.problem or parsed.value is None:
            bad(i, f"số liệu “{cell('value')}” không phải là số")
            continue
        if parsed.value < 0:
            bad(i, f"số liệu âm ({cell('value')})")
            continue
        g = groups.setdefault((unit, period), PastFigures(unit, period, catalogue.id, {}, name, True))
        if code in g.values and g.values[code] != parsed.value:
            bad(i, f"chỉ tiêu {code} của {unit} kỳ {period} đã có số {g.values[code]} ở dòng trước")
            continue
        g.values[code] = parsed.value
        g.rows.append(i)
    for g in groups.values():
        g.source = f"{name}, dòng {_ranges(g.rows)}"
    return list(groups.values()), problems


def _header(rows: list[list[object]]) -> tuple[int, dict[str, int] | None]:
    """The first of the top rows that names the four columns, and where each is."""
    for at, row in enumerate(rows[:20]):
        keys = [_key(c) for c in row]
        cols = {}
        for what, names in TABLE_COLUMNS.items():
            hit = next((j for j, k in enumerate(keys) if k in names), None)
            if hit is not None:
                cols[what] = hit
        if len(cols) == len(TABLE_COLUMNS):
            return at, cols
    return 0, None


def _ranges(lines: Iterable[int]) -> str:
    lines = sorted(lines)
    out, start, prev = [], None, None
    for n in lines:
        if start is None:
            start = prev = n
        elif n == prev + 1:
            prev = n
        else:
            out.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = prev = n
    if start is not None:
        out.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ", ".join(out)


def catalogue_for(name: str | None) -> Catalogue | None:
    if not name:
        return None
    try:
        return load_catalogue(name)
    except CatalogueError:
        return None
