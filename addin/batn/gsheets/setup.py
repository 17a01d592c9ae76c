"""Create or update the shared spreadsheet of a unit and its children.

Everything is written through spreadsheets.batchUpdate, in a few large atomic batches: the tabs
(an instructions tab, one tab per child unit or one row per unit, and the output tabs the
consolidation fills), Vietnamese labels, the check formulas compiled from the catalogue's rules
(the same `check_formula` the Excel template uses), data validation on every input cell, and
protected ranges so that each unit's editors can type only into their own inputs while the
structure stays batn's.

Running setup again updates labels, formulas, validation and protection and never touches what
units typed. Values are sent as typed `ExtendedValue`s (stringValue, numberValue, formulaValue),
so no text is ever parsed as a formula; our own formulas are sent with ";" between arguments,
which Sheets accepts in every locale (the vi_VN locale uses "," as its decimal mark).
"""
from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from gspread.urls import SPREADSHEETS_API_V4_BASE_URL

from .. import layout as L
from ..model import Catalogue, Period, Unit, UnitTree
from ..textsafe import clean
from ..xlsx.template import COL_CHECK, COL_NOTE, COL_STT, COL_VALUE, FIRST_TABLE_ROW, ROMAN, check_formula
from . import layout as G
from .auth import Connection, google_errors, spreadsheet_key
from .read import SpreadsheetInfo, fetch_info, info_from_json

MAX_BATCH_REQUESTS = 800
MAX_BATCH_BYTES = 1_500_000          # Google recommends payloads under 2 MB
LOCALE, TIME_ZONE = "vi_VN", "Asia/Ho_Chi_Minh"
_EMAIL = re.compile(r"[^@\s;,]+@[^@\s;,]+\.[^@\s;,]+")


# ------------------------------------------------------------------ cell data

def rgb(hex6: str) -> dict:
    return {"red": int(hex6[0:2], 16) / 255, "green": int(hex6[2:4], 16) / 255, "blue": int(hex6[4:6], 16) / 255}


def sheets_formula(formula: str) -> str:
    """Our formulas with ";" between arguments outside string literals (accepted in every locale)."""
    out, in_string = [], False
    for ch in formula:
        if ch == '"':
            in_string = not in_string
        out.append(";" if ch == "," and not in_string else ch)
    return "".join(out)


def cd(value: object = None, *, formula: str | None = None, bold: bool = False, italic: bool = False,
       bg: str | None = None, wrap: bool = False, center: bool = False, size: int | None = None,
       pattern: str | None = None, colour: str | None = None) -> dict:
    """A CellData: a typed value (text stays text) and its format."""
    d: dict = {}
    if formula is not None:
        d["userEnteredValue"] = {"formulaValue": sheets_formula(formula)}
    elif isinstance(value, bool):
        d["userEnteredValue"] = {"boolValue": value}
    elif isinstance(value, (int, float)):
        d["userEnteredValue"] = {"numberValue": value}
    elif value is not None:
        d["userEnteredValue"] = {"stringValue": clean(value)}     # a stringValue is never run as a formula
    fmt: dict = {}
    text: dict = {}
    if bold:
        text["bold"] = True
    if italic:
        text["italic"] = True
    if size:
        text["fontSize"] = size
    if colour:
        text["foregroundColor"] = rgb(colour)
    if text:
        fmt["textFormat"] = text
    if bg:
        fmt["backgroundColor"] = rgb(bg)
    if wrap:
        fmt["wrapStrategy"] = "WRAP"
    if center:
        fmt["horizontalAlignment"] = "CENTER"
    if pattern:
        fmt["numberFormat"] = {"type": "PERCENT" if "%" in pattern else "NUMBER", "pattern": pattern}
    fmt["verticalAlignment"] = "MIDDLE"
    d["userEnteredFormat"] = fmt
    return d


def put_cells(sheet_id: int, row: int, col: int, rows: list[list[dict]],
              fields: str = "userEnteredValue,userEnteredFormat") -> dict:
    return {"updateCells": {"start": {"sheetId": sheet_id, "rowIndex": row - 1, "columnIndex": col - 1},
                            "rows": [{"values": r} for r in rows], "fields": fields}}


def fill(range_: dict, colour: str | None) -> dict:
    cell = {"userEnteredFormat": {"backgroundColor": rgb(colour)}} if colour else {}
    return {"repeatCell": {"range": range_, "cell": cell, "fields": "userEnteredFormat.backgroundColor"}}


def whole_number_rule(first_cell: str) -> dict:
    c = first_cell
    return {"condition": {"type": "CUSTOM_FORMULA",
                          "values": [{"userEnteredValue": sheets_formula(f"=AND(ISNUMBER({c}),{c}>=0,{c}=INT({c}))")}]},
            "inputMessage": "Nhập số nguyên không âm (ví dụ 1644 hoặc 1.644), không kèm chữ. "
                            "Không phát sinh thì nhập 0, chưa có số liệu thì để trống.",
            "strict": True}


def kind_rule() -> dict:
    return {"condition": {"type": "ONE_OF_LIST",
                          "values": [{"userEnteredValue": L.KIND_OWN}, {"userEnteredValue": L.KIND_TOTAL}]},
            "inputMessage": "Chọn loại số liệu trong danh sách", "strict": True, "showCustomUi": True}


def validate(range_: dict, rule: dict | None) -> dict:
    body: dict = {"range": range_}
    if rule:
        body["rule"] = rule
    return {"setDataValidation": body}


def widths(sheet_id: int, pixels: Iterable[int]) -> list[dict]:
    return [{"updateDimensionProperties": {
        "range": {"sheetId": sheet_id, "dimension": "COLUMNS", "startIndex": i, "endIndex": i + 1},
        "properties": {"pixelSize": px}, "fields": "pixelSize"}} for i, px in enumerate(pixels)]


def protect(range_: dict, description: str, editors: list[str], holes: list[dict] | None = None) -> dict:
    """Editors only, or a warning to anyone when nobody is named (Sheets allows no editors with warnings)."""
    pr: dict = {"range": range_, "description": description}
    people = [e for e in dict.fromkeys(editors) if e]
    if people:
        pr["editors"] = {"users": people}
        pr["warningOnly"] = False
    else:
        pr["warningOnly"] = True
    if holes:
        pr["unprotectedRanges"] = holes
    return {"addProtectedRange": {"protectedRange": pr}}


# ------------------------------------------------------------------ who types where

def load_editors(path: str | Path) -> dict[str, list[str]]:
    """A CSV with columns code,email (several rows, or several e-mails split by ';', per unit)."""
    text = Path(path).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(text.splitlines()))
    if not rows or not {"code", "email"} <= {k.strip().lower() for k in rows[0]}:
        raise ValueError(f"Tệp {path} cần hai cột code,email (mã đơn vị và e-mail người nhập số liệu)")
    out: dict[str, list[str]] = {}
    for row in rows:
        row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        out.setdefault(row["code"], []).extend(_EMAIL.findall(row["email"]))
    return out


def editors_from_units(units: Iterable[Unit]) -> dict[str, list[str]]:
    """E-mail addresses found in each unit's `contact` column."""
    return {u.code: _EMAIL.findall(u.contact or "") for u in units}


# ------------------------------------------------------------------ plan

@dataclass
class SetupResult:
    key: str
    url: str
    created: bool
    layout: str
    units: list[str]
    tabs_added: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    batches: int = 0


@dataclass
class _Ids:
    used: set

    def new(self) -> int:
        n = max(self.used, default=0) + 1
        self.used.add(n)
        return n


class _Planner:
    def __init__(self, info: SpreadsheetInfo, catalogue: Catalogue, tree: UnitTree, period: Period, root: str,
                 units: list[str], layout: str, account: str, editors: Mapping[str, list[str]]):
        self.info, self.cat, self.tree, self.period, self.root = info, catalogue, tree, period, root
        self.units, self.layout, self.account, self.editors = units, layout, account, editors
        self.ids = _Ids({t.sheet_id for t in info.tabs.values()})
        self.first: list[dict] = []      # structure: tabs, sizes, properties, old protections removed
        self.body: list[dict] = []       # content, formats, validation, protections
        self.added: list[str] = []
        self.sheet_ids: dict[str, int] = {t.title: t.sheet_id for t in info.tabs.values()}
        self.warnings: list[str] = []

    # ---- tabs
    def tab(self, title: str, rows: int, cols: int, index: int, frozen_rows: int = 0,
            frozen_cols: int = 0) -> tuple[int, bool]:
        """The sheet id of `title`, adding the tab or growing it as needed; True when new."""
        grid = {"rowCount": rows, "columnCount": cols, "frozenRowCount": frozen_rows,
                "frozenColumnCount": frozen_cols}
        existing = self.info.tabs.get(title)
        if existing is None:
            sid = self.ids.new()
            index = min(index, len(self.info.tabs) + len(self.added))   # never past the end of the tab list
            self.first.append({"addSheet": {"properties": {"sheetId": sid, "title": title, "index": index,
                                                           "gridProperties": grid}}})
            self.sheet_ids[title] = sid
            self.added.append(title)
            return sid, True
        grid["rowCount"] = max(rows, existing.rows)
        grid["columnCount"] = max(cols, existing.cols)
        self.first.append({"updateSheetProperties": {
            "properties": {"sheetId": existing.sheet_id, "gridProperties": grid},
            "fields": "gridProperties.rowCount,gridProperties.columnCount,gridProperties.frozenRowCount,"
                      "gridProperties.frozenColumnCount"}})
        return existing.sheet_id, False

    def drop_old_protections(self, titles: set[str]) -> None:
        for pr in self.info.protected:
            if str(pr.get("description", "")).startswith("batn:") and pr.get("sheetTitle") in titles:
                self.first.append({"deleteProtectedRange": {"protectedRangeId": pr["protectedRangeId"]}})

    def unit_editors(self, code: str) -> list[str]:
        people = list(self.editors.get(code, []))
        if not people:
            self.warnings.append(f"Đơn vị {code} chưa có e-mail người nhập: vùng nhập của đơn vị chỉ được bảo vệ "
                                 "bằng cảnh báo (thêm e-mail ở cột contact hoặc tệp --editors rồi chạy lại).")
        return people

    def mid(self, code: str) -> bool:
        return bool(self.tree.children.get(code))

    # ---- the plan
    def plan(self) -> list[dict]:
        self.first.append({"updateSpreadsheetProperties": {"properties": {"locale": LOCALE, "timeZone": TIME_ZONE},
                                                           "fields": "locale,timeZone"}})
        touched = {G.GUIDE_TAB, *G.OUTPUT_TABS}
        if self.layout == G.TABS:
            touched |= {G.unit_tab_title(self.tree[c]) for c in self.units}
        else:
            touched |= {G.ROWS_TAB, *(nl.sheet for nl in self.cat.narratives)}
        self.drop_old_protections(touched)
        for i, title in enumerate((G.CONSOLIDATED_TAB, G.STATUS_TAB, G.FINDINGS_TAB), start=1):
            sid, _new = self.tab(title, 200, 26, i, frozen_rows=0)
            self.body.append(protect({"sheetId": sid}, f"batn: {title} (batn ghi)", [self.account]))
        if self.layout == G.TABS:
            tl = G.tab_layout(self.cat)
            for n, code in enumerate(self.units):
                self.unit_tab(self.tree[code], tl, 4 + n)
        else:
            self.rows_tabs()
        self.guide()          # last: it links to the unit tabs, whose ids are known by now
        return self.first + self.body

    def guide(self) -> None:
        sid, _new = self.tab(G.GUIDE_TAB, 60 + len(self.units), 6, 0)
        root = self.tree[self.root]
        rows_hint = ("trang mang mã đơn vị mình (ví dụ trang “" + (self.units[0] if self.units else "CD_A") + "”)"
                     if self.layout == G.TABS else f"dòng của đơn vị mình trên trang “{G.ROWS_TAB}”")
        deadline = self.period.deadline_for("")
        lines = [
            f"1. Mỗi đơn vị nhập số liệu vào {rows_hint}. Chỉ nhập vào các ô nền vàng; ô của đơn vị khác và các ô "
            "tiêu đề đã được khóa.",
            "2. Mỗi chỉ tiêu nhập một số nguyên không âm (ví dụ 1644 hoặc 1.644), không kèm chữ; chỉ tiêu không phát "
            "sinh thì nhập 0, chưa có số liệu thì để trống. Tỷ lệ phần trăm được tự tính, không nhập.",
            "3. Cột “Kiểm tra” tự báo lỗi, cảnh báo; ô “Số lỗi” phải bằng 0." if self.layout == G.TABS else
            "3. Mỗi cột là một chỉ tiêu; tên chỉ tiêu ở dòng tiêu đề, mã chỉ tiêu ở dòng ngay dưới.",
            "4. Mô hình tiêu biểu, gương điển hình, khó khăn và đề xuất: mỗi dòng một nội dung.",
            f"5. Đơn vị có đơn vị trực thuộc chọn “Loại số liệu”: “{L.KIND_TOTAL}” khi số liệu đã cộng cả các đơn vị "
            "trực thuộc.",
            "6. Không đổi tên, không xóa trang tính, không sửa mã đơn vị. Đơn vị chưa nhập số liệu nào được tính là "
            "chưa nộp.",
            "7. Đơn vị cấp trên tổng hợp bằng lệnh “batn gsheets consolidate”: kết quả ghi vào các trang "
            f"“{G.CONSOLIDATED_TAB}”, “{G.STATUS_TAB}”, “{G.FINDINGS_TAB}”; ô sai được tô màu và có ghi chú.",
        ]
        if deadline:
            lines.append(f"8. Hạn nộp: ngày {deadline:%d/%m/%Y}.")
        self.body.append(put_cells(sid, 1, 1, [[cd("HƯỚNG DẪN NHẬP SỐ LIỆU TRÊN BẢNG TÍNH DÙNG CHUNG", bold=True,
                                                   size=13)],
                                                [cd(f"{self.cat.title} — {self.period.label}", italic=True)]]))
        meta = [(G.GUIDE_ROOT_ROW, root.code, root.name), (G.GUIDE_PERIOD_ROW, self.period.id, self.period.label),
                (G.GUIDE_CATALOG_ROW, self.cat.id, self.cat.title),
                (G.GUIDE_LAYOUT_ROW, self.layout, "mỗi đơn vị một trang" if self.layout == G.TABS
                 else "mỗi đơn vị một dòng")]
        self.body.append(put_cells(sid, G.GUIDE_ROOT_ROW, 2,
                                   [[cd(G.GUIDE_LABELS[r], bold=True), cd(v), cd(t, italic=True)] for r, v, t in meta]))
        self.body.append(put_cells(sid, 8, 1, [[cd(t, wrap=True)] for t in lines]))
        top = 8 + len(lines) + 1
        head = ["Mã đơn vị", "Đơn vị", "Trang / dòng nhập", "Người nhập (e-mail)"]
        table = [[cd(h, bold=True, bg=G.HEADER_FILL, wrap=True, center=True) for h in head]]
        for code in self.units:
            u = self.tree[code]
            if self.layout == G.TABS:
                where = cd(None, formula=f'=HYPERLINK("#gid={self.sheet_ids[G.unit_tab_title(u)]}","{code}")') \
                    if G.unit_tab_title(u) in self.sheet_ids else cd(code)
            else:
                where = cd(G.ROWS_TAB)
            table.append([cd(code), cd(u.name), where, cd(", ".join(self.editors.get(code, [])))])
        self.body.append(put_cells(sid, top, 1, table))
        self.body += widths(sid, (120, 300, 260, 260))
        self.body.append(protect({"sheetId": sid}, "batn: hướng dẫn", [self.account]))

    def unit_tab(self, unit: Unit, tl: G.TabLayout, index: int) -> None:
        title = G.unit_tab_title(unit)
        sid, new = self.tab(title, tl.last_row + 5, G.TAB_WIDTH + 2, index, frozen_rows=FIRST_TABLE_ROW)
        mid = self.mid(unit.code)
        b = self.body
        b.append(put_cells(sid, 1, 1, [[cd("BIỂU SỐ LIỆU KẾT QUẢ THỰC HIỆN PHONG TRÀO “3 TRÁCH NHIỆM”", bold=True,
                                           size=13)], [cd(self.cat.title, italic=True)]]))
        b.append(put_cells(sid, G.META_NAME, G.LABEL_COL, [
            [cd(G.META_LABELS[G.META_NAME], bold=True), cd(unit.name, bold=True)],
            [cd(G.META_LABELS[G.META_CODE], bold=True), cd(unit.code)],
            [cd(G.META_LABELS[G.META_PERIOD], bold=True), cd(self.period.id), cd(self.period.label, italic=True)],
            [cd(G.META_LABELS[G.META_CATALOG], bold=True), cd(self.cat.id)],
            [cd(G.META_LABELS[G.META_KIND], bold=True)]]))
        if new:
            b.append(put_cells(sid, G.META_KIND, G.META_COL, [[cd(G.default_kind(self.tree, unit.code),
                                                                  bg=G.INPUT_FILL if mid else None)]]))
        b.append(fill(G.grid(sid, G.META_KIND, G.META_COL), G.INPUT_FILL if mid else None))
        b.append(validate(G.grid(sid, G.META_KIND, G.META_COL), kind_rule() if mid else None))
        first, last = FIRST_TABLE_ROW + 1, tl.last_table_row
        b.append(put_cells(sid, G.META_STATUS, G.LABEL_COL, [[
            cd(G.META_LABELS[G.META_STATUS], bold=True),
            cd(None, formula=f'="Số lỗi: "&COUNTIF(F{first}:F{last},"Lỗi*")', bold=True, colour="C00000"),
            cd(None, formula=f'="Số cảnh báo: "&COUNTIF(F{first}:F{last},"Cảnh báo*")', bold=True,
               colour="B36B00")]]))
        b.append(put_cells(sid, FIRST_TABLE_ROW, 1, [[
            cd(h, bold=True, bg=G.HEADER_FILL, wrap=True, center=True)
            for h in ("STT", "Nội dung", "Đơn vị tính", "Số liệu", "Ghi chú", "Kiểm tra")]]))
        left: list[list[dict]] = []        # A..C of every table row
        checks: list[list[dict]] = []      # F of every table row
        row = first
        for what, item in tl.rows:
            if what == "section":
                left.append([cd(ROMAN.get(item.key, item.key), bold=True, bg=G.SECTION_FILL),
                             cd(item.heading.upper(), bold=True, bg=G.SECTION_FILL),
                             cd(None, bg=G.SECTION_FILL)])
                checks.append([cd(None, bg=G.SECTION_FILL)])
                b.append(put_cells(sid, row, COL_VALUE, [[cd(None, bg=G.SECTION_FILL), cd(None, bg=G.SECTION_FILL)]]))
            elif what == "indicator":
                ind = item.indicator
                left.append([cd(int(item.stt), center=True), cd(ind.label, wrap=True), cd(ind.unit)])
                checks.append([cd(None, formula=check_formula(item, tl.placed, self.cat.ceiling(ind)), wrap=True, colour="C00000")])
            else:
                num, den = item
                left.append([cd(None), cd(f"Tỷ lệ (tự tính): mục {tl.placed[num].stt} / mục {tl.placed[den].stt}",
                                          italic=True), cd("%")])
                checks.append([cd(None)])
                n_cell, d_cell = f"$D${tl.placed[num].row}", f"$D${tl.placed[den].row}"
                b.append(put_cells(sid, row, COL_VALUE, [[cd(
                    None, formula=f'=IF(AND(ISNUMBER({d_cell}),N({d_cell})>0,ISNUMBER({n_cell})),'
                                  f'{n_cell}/{d_cell},"")', pattern="0.0%")]]))
            row += 1
        b.append(put_cells(sid, first, COL_STT, left))
        b.append(put_cells(sid, first, COL_CHECK, checks))
        for a, z in tl.input_runs():
            b.append(fill(G.grid(sid, a, COL_VALUE, z, COL_NOTE), G.INPUT_FILL))
            b.append({"repeatCell": {"range": G.grid(sid, a, COL_VALUE, z, COL_VALUE),
                                     "cell": {"userEnteredFormat": {"numberFormat": {"type": "NUMBER",
                                                                                     "pattern": "#,##0"}}},
                                     "fields": "userEnteredFormat.numberFormat"}})
            b.append(validate(G.grid(sid, a, COL_VALUE, z, COL_VALUE), whole_number_rule(f"D{a}")))
        for blk in tl.blocks:
            b.append(put_cells(sid, blk.title_row, 1, [[cd(blk.nl.title, bold=True)]]))
            b.append(put_cells(sid, blk.header_row, 1, [[cd(h, bold=True, bg=G.HEADER_FILL, wrap=True, center=True)
                                                         for h in ("STT", *blk.nl.columns)]]))
            b.append(put_cells(sid, blk.first, 1, [[cd(i + 1, center=True)] for i in range(blk.last - blk.first + 1)]))
            b.append(fill(G.grid(sid, blk.first, blk.first_col, blk.last, blk.last_col), G.INPUT_FILL))
        b += widths(sid, (50, 420, 90, 110, 160, 220))
        people = self.unit_editors(unit.code)
        b.append(protect({"sheetId": sid}, f"batn: cấu trúc trang {unit.code}", [self.account],
                         holes=tl.input_grids(sid, mid)))
        b.append(protect(tl.unit_area(sid), f"batn: ô nhập của {unit.code}", [self.account, *people] if people else []))

    def rows_tabs(self) -> None:
        rl = G.RowsLayout(self.cat, tuple(self.units))
        sid, _new = self.tab(G.ROWS_TAB, rl.last_row + 5, rl.last_col + 2, 4, frozen_rows=rl.code_row,
                             frozen_cols=2)
        b = self.body
        b.append(put_cells(sid, rl.title_row, 1, [[cd("SỐ LIỆU KẾT QUẢ THỰC HIỆN PHONG TRÀO “3 TRÁCH NHIỆM” "
                                                      "CỦA CÁC ĐƠN VỊ", bold=True, size=13)],
                                                  [cd("Kỳ báo cáo:", bold=True), cd(self.period.id),
                                                   cd(self.period.label, italic=True)],
                                                  [cd("Bộ chỉ tiêu:", bold=True), cd(self.cat.id),
                                                   cd(self.cat.title, italic=True)]]))
        _rows, placed = G.layout_rows(self.cat)
        head = [cd(h, bold=True, bg=G.HEADER_FILL, wrap=True, center=True)
                for h in ("Mã đơn vị", "Đơn vị", "Loại số liệu")]
        head += [cd(G.rows_header_label(placed[c]), bold=True, bg=G.HEADER_FILL, wrap=True) for c in self.cat.codes]
        b.append(put_cells(sid, rl.header_row, 1, [head]))
        b.append(put_cells(sid, rl.code_row, 1, [[cd("Mã chỉ tiêu:", italic=True, size=8), cd(None), cd(None)]
                                                  + [cd(c, italic=True, size=8) for c in self.cat.codes]]))
        existing = set(self.info.rows_units)
        holes, unit_ranges = [], []
        for code in self.units:
            r = rl.unit_row(code)
            mid = self.mid(code)
            b.append(put_cells(sid, r, 1, [[cd(code), cd(self.tree[code].name)]]))
            if code not in existing:
                b.append(put_cells(sid, r, rl.kind_col, [[cd(G.default_kind(self.tree, code))]]))
            b.append(fill(G.grid(sid, r, rl.kind_col), G.INPUT_FILL if mid else None))
            b.append(validate(G.grid(sid, r, rl.kind_col), kind_rule() if mid else None))
            first_col = rl.kind_col if mid else rl.first_value_col
            holes.append(G.grid(sid, r, first_col, r, rl.last_col))
            unit_ranges.append((code, G.grid(sid, r, rl.kind_col, r, rl.last_col)))
        if self.units:
            top, bottom = rl.first_unit_row, rl.last_row
            b.append(fill(G.grid(sid, top, rl.first_value_col, bottom, rl.last_col), G.INPUT_FILL))
            b.append(validate(G.grid(sid, top, rl.first_value_col, bottom, rl.last_col),
                              whole_number_rule(f"{G.col_letter(rl.first_value_col)}{top}")))
        b += widths(sid, (110, 260, 150, *([130] * len(self.cat.codes))))
        b.append(protect({"sheetId": sid}, f"batn: cấu trúc trang {G.ROWS_TAB}", [self.account], holes=holes))
        for code, rng in unit_ranges:
            people = self.unit_editors(code)
            b.append(protect(rng, f"batn: dòng nhập của {code}", [self.account, *people] if people else []))
        for n, nl in enumerate(self.cat.narratives):
            self.rows_narrative_tab(nl, 5 + n)

    def rows_narrative_tab(self, nl, index: int) -> None:
        nlay = G.RowsNarrativeLayout(nl, tuple(self.units))
        sid, _new = self.tab(nl.sheet, nlay.last_row + 5, nlay.last_col + 1, index, frozen_rows=nlay.header_row)
        b = self.body
        b.append(put_cells(sid, 1, 1, [[cd(nl.title, bold=True, size=12)]]))
        b.append(put_cells(sid, nlay.header_row, 1, [[cd(h, bold=True, bg=G.HEADER_FILL, wrap=True, center=True)
                                                      for h in ("Mã đơn vị", "Đơn vị", "STT", *nl.columns)]]))
        holes, blocks = [], []
        for code in self.units:
            a, z = nlay.block(code)
            b.append(put_cells(sid, a, 1, [[cd(code), cd(self.tree[code].name), cd(i + 1, center=True)]
                                           for i in range(z - a + 1)]))
            holes.append(G.grid(sid, a, nlay.first_col, z, nlay.last_col))
            blocks.append((code, G.grid(sid, a, nlay.first_col, z, nlay.last_col)))
        if self.units:
            b.append(fill(G.grid(sid, nlay.first_row, nlay.first_col, nlay.last_row, nlay.last_col), G.INPUT_FILL))
        b += widths(sid, (110, 220, 50, *([320] * len(nl.columns))))
        b.append(protect({"sheetId": sid}, f"batn: cấu trúc trang {nl.sheet}", [self.account], holes=holes))
        for code, rng in blocks:
            b.append(protect(rng, f"batn: dòng nhập của {code} ({nl.sheet})",
                             [self.account, *self.editors.get(code, [])] if self.editors.get(code) else []))


def batches(requests: list[dict], max_requests: int = MAX_BATCH_REQUESTS,
            max_bytes: int = MAX_BATCH_BYTES) -> list[list[dict]]:
    """Split a request list in order into batches under Google's recommended payload size."""
    out: list[list[dict]] = [[]]
    size = 0
    for req in requests:
        n = len(json.dumps(req, ensure_ascii=False).encode("utf-8"))
        if out[-1] and (len(out[-1]) >= max_requests or size + n > max_bytes):
            out.append([])
            size = 0
        out[-1].append(req)
        size += n
    return [b for b in out if b]


def units_for(tree: UnitTree, unit: str, *, only: str | None = None, all_levels: bool = False) -> list[str]:
    if unit not in tree:
        raise KeyError(f"Mã đơn vị '{unit}' không có trong danh sách đơn vị")
    if only:
        if only not in tree or only not in tree.walk(unit) or only == unit:
            raise KeyError(f"Đơn vị '{only}' không phải đơn vị trực thuộc {unit}")
        return [only]
    return tree.walk(unit)[1:] if all_levels else list(tree.children[unit])


def setup_spreadsheet(conn: Connection, *, tree: UnitTree, catalogue: Catalogue, period: Period, unit: str,
                      layout: str = G.TABS, spreadsheet: str | None = None,
                      editors: Mapping[str, list[str]] | None = None, share: Iterable[str] = (),
                      title: str | None = None, only: str | None = None, all_levels: bool = False) -> SetupResult:
    """Create (no `spreadsheet`) or update the shared spreadsheet for `unit` and its children."""
    if layout not in G.LAYOUTS:
        raise ValueError(f"Cách bố trí '{layout}' không hợp lệ: chọn tabs hoặc rows")
    units = units_for(tree, unit, only=only, all_levels=all_levels)
    editors = dict(editors) if editors is not None else editors_from_units(tree[c] for c in units)
    created = spreadsheet is None
    http = conn.http
    if created:
        name = title or f"{catalogue.title} — {tree[unit].name} — {period.label}"
        with google_errors("", conn.account):
            meta = http.request("post", SPREADSHEETS_API_V4_BASE_URL, json={
                "properties": {"title": name, "locale": LOCALE, "timeZone": TIME_ZONE},
                "sheets": [{"properties": {"sheetId": 0, "title": G.GUIDE_TAB, "index": 0}}]}).json()
        key = meta["spreadsheetId"]
        info = info_from_json(meta)
        for email in share:
            with google_errors(key, conn.account):
                http.insert_permission(key, email, perm_type="user", role="writer", notify=True,
                                       email_message="batn: bảng tính dùng chung để nhập số liệu báo cáo")
    else:
        key = spreadsheet_key(spreadsheet)  # type: ignore[arg-type]
        with google_errors(key, conn.account):
            info = fetch_info(http, key)
            if layout == G.ROWS and G.ROWS_TAB in info.tabs:
                info.rows_units = _existing_row_units(http, key)
    if layout == G.ROWS and info.rows_units:
        units = [c for c in info.rows_units if c in units] + [c for c in units if c not in info.rows_units]
    planner = _Planner(info, catalogue, tree, period, unit, units, layout, conn.account, editors)
    requests = planner.plan()
    parts = batches(requests)
    for part in parts:
        with google_errors(key, conn.account):
            http.batch_update(key, {"requests": part})
    result = SetupResult(key, f"https://docs.google.com/spreadsheets/d/{key}/edit", created, layout, units,
                         planner.added, list(dict.fromkeys(planner.warnings)), len(parts))
    if not units:
        result.warnings.append(f"Đơn vị {unit} không có đơn vị trực thuộc nào: bảng tính chỉ có trang hướng dẫn.")
    return result


def _existing_row_units(http, key: str) -> list[str]:
    """Unit codes already on the rows tab, in row order (so re-running setup never shifts a unit's row)."""
    rl_first = G.RowsLayout.first_unit_row
    resp = http.values_get(key, f"{G.quote_tab(G.ROWS_TAB)}!A{rl_first}:A")
    return [str(r[0]).strip() for r in resp.get("values", []) if r and str(r[0]).strip()]


__all__ = ["setup_spreadsheet", "SetupResult", "load_editors", "editors_from_units", "units_for", "batches",
           "sheets_formula"]
