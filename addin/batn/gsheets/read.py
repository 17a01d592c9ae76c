"""Read every unit's figures from a shared spreadsheet in two requests, into batn `Submission`s.

One spreadsheets.get gives the tabs; one values.batchGet (gspread's `values_batch_get`) reads every
tab whole, whatever the number of units (split only if the URL would grow past what Google's
front end takes). Cells are read as unformatted values, so a number typed as 1.644 in the vi_VN
locale arrives as 1644; text stays text and goes through `batn.numbers.parse_figure` exactly as a
cell of an Excel file does. Everything after that (checks, roll-up) is the pipeline's.

A tab, or a row, where the unit has entered nothing is "not sent" (the shared sheet's version of
a missing file).
"""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .. import layout as L
from ..findings import figure_findings, finding
from ..model import Catalogue, Finding, Submission
from ..numbers import parse_figure
from . import layout as G

MAX_URL_RANGES_CHARS = 6000     # encoded length of the ranges in one batchGet URL (Google's limit is ~8 KB)
VALUE_PARAMS = {"valueRenderOption": "UNFORMATTED_VALUE", "dateTimeRenderOption": "FORMATTED_STRING",
                "majorDimension": "ROWS"}
_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$|^(\d{4})-(\d{2})-(\d{2})$")


# ------------------------------------------------------------------ spreadsheet metadata

@dataclass(frozen=True)
class TabInfo:
    title: str
    sheet_id: int
    index: int
    rows: int
    cols: int


@dataclass
class SpreadsheetInfo:
    key: str
    title: str
    locale: str
    tabs: dict[str, TabInfo]
    protected: list[dict]                    # every protected range, with "sheetTitle" added
    rows_units: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"https://docs.google.com/spreadsheets/d/{self.key}/edit"

    def tab_url(self, title: str, row: int | None = None) -> str:
        gid = self.tabs[title].sheet_id
        return f"{self.url}#gid={gid}" + (f"&range=A{row}" if row else "")

    def owns(self, source: str) -> bool:
        return f"/d/{self.key}/" in source


def info_from_json(meta: dict) -> SpreadsheetInfo:
    tabs, protected = {}, []
    for s in meta.get("sheets", []):
        p = s["properties"]
        grid = p.get("gridProperties", {})
        tabs[p["title"]] = TabInfo(p["title"], p["sheetId"], p.get("index", 0), grid.get("rowCount", 1000),
                                   grid.get("columnCount", 26))
        protected += [dict(pr, sheetTitle=p["title"]) for pr in s.get("protectedRanges", [])]
    props = meta.get("properties", {})
    return SpreadsheetInfo(meta["spreadsheetId"], props.get("title", ""), props.get("locale", ""), tabs, protected)


def fetch_info(http, key: str) -> SpreadsheetInfo:
    """One spreadsheets.get (no grid data)."""
    return info_from_json(http.fetch_sheet_metadata(key, params={
        "includeGridData": "false",
        "fields": "spreadsheetId,properties(title,locale),sheets(properties(sheetId,title,index,gridProperties),"
                  "protectedRanges)"}))


# ------------------------------------------------------------------ the read

@dataclass
class GuideInfo:
    root: str = ""
    period: str = ""
    catalogue: str = ""
    layout: str = ""


@dataclass
class SheetRead:
    info: SpreadsheetInfo
    guide: GuideInfo | None
    submissions: list[Submission]
    unit_tabs: dict[str, str] = field(default_factory=dict)     # unit code -> tab title (tabs layout)
    unit_rows: dict[str, int] = field(default_factory=dict)     # unit code -> row (rows layout)
    empty: list[str] = field(default_factory=list)              # units with a tab/row but nothing entered
    skipped: list[str] = field(default_factory=list)            # tabs that are not batn's
    requests: int = 0
    cutoff: "Cutoff | None" = None                               # `batn gsheets chot` has locked the inputs


@dataclass
class Cutoff:
    """What `batn gsheets chot` recorded: when, and each unit's figures then (a digest)."""

    shown: str                                  # "17:00 20/12/2024"
    at: str                                     # ISO time
    digests: dict[str, str] = field(default_factory=dict)
    protections: dict[str, dict] = field(default_factory=dict)   # unit -> {description: [editors, warningOnly]}


def figures_digest(sub: Submission) -> str:
    """A unit's figures and lists as typed (not where they sit, nor the tab's labels): the same figures
    give the same digest, so an edit after the cut-off is seen and a relabelling is not."""
    doc = {"values": {c: sub.values[c] for c in sorted(sub.values)}, "is_total": sub.is_total,
           "narratives": {k: [list(r) for r in rows] for k, rows in sorted(sub.narratives.items())},
           "unreadable": sorted([f.indicator, f.message] for f in sub.findings if f.kind in _TYPED)}
    return _digest(doc)


def read_ranges(info: SpreadsheetInfo) -> list[str]:
    """Every tab but batn's output tabs, whole: one range each, in tab order."""
    titles = sorted(info.tabs.values(), key=lambda t: t.index)
    return [G.quote_tab(t.title) for t in titles if t.title not in G.OUTPUT_TABS]


def chunk_ranges(ranges: list[str], budget: int = MAX_URL_RANGES_CHARS) -> list[list[str]]:
    from urllib.parse import quote

    out: list[list[str]] = [[]]
    size = 0
    for r in ranges:
        n = len("&ranges=") + len(quote(r, safe=""))
        if out[-1] and size + n > budget:
            out.append([])
            size = 0
        out[-1].append(r)
        size += n
    return [c for c in out if c]


def read_spreadsheet(http, key: str, catalogue: Catalogue) -> SheetRead:
    info = fetch_info(http, key)
    ranges = read_ranges(info)
    grids: dict[str, list[list[Any]]] = {}
    calls = 1
    for part in chunk_ranges(ranges):
        resp = http.values_batch_get(key, part, params=dict(VALUE_PARAMS))
        calls += 1
        for rng, vr in zip(part, resp.get("valueRanges", [])):
            grids[_unquote_tab(rng)] = vr.get("values", [])
    read = parse_spreadsheet(info, grids, catalogue)
    read.requests = calls
    return read


def _unquote_tab(quoted: str) -> str:
    return quoted[1:-1].replace("''", "'")


# ------------------------------------------------------------------ from grids to submissions (no I/O)

def _nfc(v: Any) -> Any:
    return unicodedata.normalize("NFC", v) if isinstance(v, str) else v


def at(grid: list[list[Any]], row: int, col: int) -> Any:
    """The value at a 1-based position; None for an empty cell."""
    if row - 1 >= len(grid):
        return None
    line = grid[row - 1]
    if col - 1 >= len(line):
        return None
    v = line[col - 1]
    return None if v == "" or v is None else _nfc(v)


def text_at(grid, row: int, col: int) -> str:
    v = at(grid, row, col)
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


def figure(v: Any) -> Any:
    """Sheets' rendering of a cell, as the Python value it stands for (dates come as formatted text)."""
    if isinstance(v, str):
        m = _DATE.match(v.strip())
        if m and m.group(4):
            candidates = [(m.group(4), m.group(5), m.group(6))]
        elif m:   # day first (vi_VN), else month first (en_US)
            candidates = [(m.group(3), m.group(2), m.group(1)), (m.group(3), m.group(1), m.group(2))]
        else:
            candidates = []
        for y, mo, d in candidates:
            try:
                return date(int(y), int(mo), int(d))
            except ValueError:
                continue
    return v


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, ensure_ascii=False, default=str).encode("utf-8")).hexdigest()


def _read_figure(sub: Submission, code: str, label: str, raw: Any, where: str) -> None:
    sub.cells[code] = where
    parsed = parse_figure(figure(raw))
    sub.findings += figure_findings(parsed, label=label, file=sub.source, unit=sub.unit, indicator=code, cell=where)
    sub.values[code] = parsed.value


_TYPED = ("not-a-number", "ambiguous-number", "date-in-number", "boolean-in-number")


def _entered(sub: Submission) -> bool:
    """Has the unit typed anything: a figure (readable or not) or a narrative row."""
    return (any(v is not None for v in sub.values.values())
            or any(f.kind in _TYPED for f in sub.findings)
            or any(sub.narratives.values()))


def submission_from_tab(info: SpreadsheetInfo, title: str, grid: list[list[Any]], tl: G.TabLayout) -> Submission:
    source = info.tab_url(title)
    sub = Submission(unit=text_at(grid, G.META_CODE, G.META_COL), period=text_at(grid, G.META_PERIOD, G.META_COL),
                     catalogue=text_at(grid, G.META_CATALOG, G.META_COL), values={}, narratives={}, source=source,
                     sha256=_digest(grid), sheets=list(info.tabs))
    for row, what, name in ((G.META_CODE, "mã đơn vị", L.NAME_UNIT), (G.META_PERIOD, "kỳ báo cáo", L.NAME_PERIOD),
                            (G.META_CATALOG, "bộ chỉ tiêu", L.NAME_CATALOG)):
        if not text_at(grid, row, G.META_COL):
            sub.findings.append(finding("metadata-missing", file=source, unit=sub.unit, what=what, name=name,
                                        cell=f"{title}!{G.cell_ref(row, G.META_COL)}"))
    sub.is_total = text_at(grid, G.META_KIND, G.META_COL) == L.KIND_TOTAL
    for ind in tl.catalogue.indicators:
        row = tl.placed[ind.code].row
        sub.labels[ind.code] = text_at(grid, row, G.LABEL_COL)
        _read_figure(sub, ind.code, ind.label, at(grid, row, tl.value_col),
                     f"{title}!{G.cell_ref(row, tl.value_col)}")
    for blk in tl.blocks:
        rows = []
        for r in range(blk.first, blk.last + 1):
            texts = tuple(text_at(grid, r, c) for c in range(blk.first_col, blk.last_col + 1))
            if any(texts):
                rows.append(texts)
        sub.narratives[blk.nl.key] = rows
    return sub


def submissions_from_rows(info: SpreadsheetInfo, grid: list[list[Any]], narrative_grids: dict[str, list],
                          catalogue: Catalogue) -> tuple[list[Submission], dict[str, int]]:
    """One submission per unit row of the rows layout; columns are found by the indicator-code row."""
    rl = G.RowsLayout
    period, cat_id = text_at(grid, rl.period_row, 2), text_at(grid, rl.catalog_row, 2)
    columns: dict[str, int] = {}
    width = len(grid[rl.code_row - 1]) if len(grid) >= rl.code_row else 0
    for col in range(rl.first_value_col, width + 1):
        code = text_at(grid, rl.code_row, col)
        if code in catalogue and code not in columns:
            columns[code] = col
    subs, rows = [], {}
    for r in range(rl.first_unit_row, len(grid) + 1):
        unit = text_at(grid, r, rl.code_col)
        if not unit:
            continue
        source = info.tab_url(G.ROWS_TAB, r)
        sub = Submission(unit=unit, period=period, catalogue=cat_id, values={}, narratives={}, source=source,
                         sha256=_digest(grid[r - 1]), sheets=list(info.tabs))
        for what, name, value, row in (("kỳ báo cáo", L.NAME_PERIOD, period, rl.period_row),
                                       ("bộ chỉ tiêu", L.NAME_CATALOG, cat_id, rl.catalog_row)):
            if not value:
                sub.findings.append(finding("metadata-missing", file=source, unit=unit, what=what, name=name,
                                            cell=f"{G.ROWS_TAB}!B{row}"))
        sub.is_total = text_at(grid, r, rl.kind_col) == L.KIND_TOTAL
        for ind in catalogue.indicators:
            col = columns.get(ind.code)
            if col is None:
                sub.findings.append(finding("missing-name", file=source, unit=unit, indicator=ind.code,
                                            name=ind.code, label=ind.label))
                continue
            sub.labels[ind.code] = G.label_from_rows_header(text_at(grid, rl.header_row, col))
            _read_figure(sub, ind.code, ind.label, at(grid, r, col), f"{G.ROWS_TAB}!{G.cell_ref(r, col)}")
        subs.append(sub)
        rows[unit] = r
    by_unit = {s.unit: s for s in subs}
    for nl in catalogue.narratives:
        for s in subs:
            s.narratives.setdefault(nl.key, [])
        ngrid = narrative_grids.get(nl.sheet) or []
        nlay = G.RowsNarrativeLayout
        last_col = nlay.first_col + len(nl.columns) - 1
        for r in range(nlay.first_row, len(ngrid) + 1):
            s = by_unit.get(text_at(ngrid, r, nlay.code_col))
            if s is None:
                continue
            texts = tuple(text_at(ngrid, r, c) for c in range(nlay.first_col, last_col + 1))
            if any(texts):
                s.narratives[nl.key].append(texts)
    return subs, rows


def _guide(grid: list[list[Any]]) -> GuideInfo:
    return GuideInfo(root=text_at(grid, G.GUIDE_ROOT_ROW, 3), period=text_at(grid, G.GUIDE_PERIOD_ROW, 3),
                     catalogue=text_at(grid, G.GUIDE_CATALOG_ROW, 3), layout=text_at(grid, G.GUIDE_LAYOUT_ROW, 3))


def is_unit_tab(grid: list[list[Any]]) -> bool:
    return text_at(grid, G.META_CODE, G.LABEL_COL) == G.META_LABELS[G.META_CODE]


def is_rows_tab(grid: list[list[Any]]) -> bool:
    return text_at(grid, G.RowsLayout.header_row, 1) == "Mã đơn vị"


def parse_spreadsheet(info: SpreadsheetInfo, grids: dict[str, list[list[Any]]], catalogue: Catalogue) -> SheetRead:
    """Submissions from the tabs' values (title -> rows of cells, as values.batchGet returns them)."""
    guide = _guide(grids[G.GUIDE_TAB]) if G.GUIDE_TAB in grids else None
    read = SheetRead(info, guide, [])
    read.cutoff = parse_cutoff(grids[G.CUTOFF_TAB]) if G.CUTOFF_TAB in grids else None
    tl = G.tab_layout(catalogue)
    narrative_tabs = {nl.sheet for nl in catalogue.narratives}
    for title, grid in grids.items():
        if title in (G.GUIDE_TAB, G.CUTOFF_TAB) or (title in narrative_tabs and G.ROWS_TAB in grids):
            continue
        if title == G.ROWS_TAB and is_rows_tab(grid):
            subs, rows = submissions_from_rows(info, grid, {t: grids[t] for t in narrative_tabs if t in grids},
                                               catalogue)
            for s in subs:
                if _entered(s):
                    read.submissions.append(s)
                else:
                    read.empty.append(s.unit)
            read.unit_rows.update(rows)
        elif is_unit_tab(grid):
            s = submission_from_tab(info, title, grid, tl)
            if s.unit:
                read.unit_tabs[s.unit] = title
            if _entered(s):
                read.submissions.append(s)
            else:
                read.empty.append(s.unit or title)
        else:
            read.skipped.append(title)
    if read.cutoff is not None:
        late_edits(read)
    return read


def parse_cutoff(grid: list[list[Any]]) -> Cutoff:
    cut = Cutoff(text_at(grid, G.CUTOFF_TIME_ROW, 2), text_at(grid, G.CUTOFF_TIME_ROW, 3))
    for r in range(G.CUTOFF_FIRST_ROW, len(grid) + 1):
        code = text_at(grid, r, 1)
        if not code:
            continue
        cut.digests[code] = text_at(grid, r, 2)
        try:
            cut.protections[code] = json.loads(text_at(grid, r, 3) or "{}")
        except ValueError:
            cut.protections[code] = {}
    return cut


def late_edits(read: SheetRead) -> None:
    """A unit whose figures differ from those at the cut-off: "sửa sau hạn" (a warning on its submission)."""
    cut = read.cutoff
    assert cut is not None
    for sub in read.submissions:
        if sub.unit in cut.digests and figures_digest(sub) != cut.digests[sub.unit]:
            sub.findings.append(finding("edited-after-cutoff", file=sub.source, unit=sub.unit, cutoff=cut.shown))


def findings_here(findings: list[Finding], info: SpreadsheetInfo) -> list[Finding]:
    return [f for f in findings if info.owns(f.file)]
