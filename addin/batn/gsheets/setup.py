"""Create or update the shared spreadsheet of a unit and its children.

Everything is written through spreadsheets.batchUpdate, in a few large atomic batches: the tabs
(an instructions tab, one tab per child unit or one row per unit, and the output tabs the
consolidation fills), Vietnamese labels, the check formulas compiled from the catalogue's rules
(the same `check_formula` the Excel template uses), data validation on every input cell, and
protected ranges so that each unit's editors can type only into their own inputs while the
structure stays batn's.

Running setup again updates labels, formulas, validation and protection and never touches what
units typed.

Bounded and resumable. The plan is a list of groups, one per tab: a head (add or grow the tab, and
swap batn's old protections of that tab for the new ones, and a new tab's first input value) and
a body (labels, formulas, formats, validation: requests that only set cells, harmless to repeat).
A head is never split across batches, and batches are atomic, so no tab is ever without its
protection between two batches. The plan is made from what the spreadsheet holds now, so running
setup again completes a half-done setup; and when Google leaves a batch's outcome unknown (no
answer, 5xx), setup reads the spreadsheet again and plans from what is there instead of sending
the same batch twice ("sheet already exists" cannot happen).

Sharing: a spreadsheet batn created (as the signed-in person) is shared with every unit's e-mail
(the units file's `contact` column, or --editors) and every --share address, once each: the
addresses already shared are read first (Drive permissions.list) and skipped. Values are sent as typed `ExtendedValue`s (stringValue, numberValue, formulaValue),
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
from .auth import PERSON, Connection, google_errors, spreadsheet_key
from .quota import GoogleDoorError, UncertainWrite
from .read import SpreadsheetInfo, fetch_info, info_from_json

MAX_REPLANS = 3                      # fresh plans after a batch whose outcome Google left unknown
DRIVE_PERMISSIONS = "https://www.googleapis.com/drive/v3/files/{}/permissions"

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


def protect(range_: dict, description: str, editors: list[str], holes: list[dict] | None = None,
            locked: bool = False) -> dict:
    """Editors only, or a warning to anyone when nobody is named (Sheets allows no editors with warnings).
    `locked`: batn's own ranges, editors only even when no e-mail is known (Google keeps the one who
    adds the protection, and the owner, as editors)."""
    pr: dict = {"range": range_, "description": description}
    people = [e for e in dict.fromkeys(editors) if e]
    if people:
        pr["editors"] = {"users": people}
        pr["warningOnly"] = False
    else:
        pr["warningOnly"] = not locked
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
    shared: list[str] = field(default_factory=list)      # addresses shared with this run
    replans: int = 0                                     # fresh plans after an unknown outcome


class SetupIncomplete(GoogleDoorError):
    """Setup stopped part-way; the spreadsheet exists (key, url) and a rerun completes it."""

    def __init__(self, message: str, key: str, url: str):
        super().__init__(message)
        self.key, self.url = key, url


@dataclass
class Group:
    """One tab's requests: `head` goes in one batch, then `body` (harmless to repeat)."""

    title: str
    head: list[dict] = field(default_factory=list)
    body: list[dict] = field(default_factory=list)


@dataclass
class _Ids:
    used: set

    def new(self) -> int:
        n = max(self.used, default=0) + 1
        self.used.add(n)
        return n


class _Planner:
    def __init__(self, info: SpreadsheetInfo, catalogue: Catalogue, tree: UnitTree, period: Period, root: str,
                 units: list[str], layout: str, account: str, editors: Mapping[str, list[str]],
                 managers: Iterable[str] = ()):
        self.info, self.cat, self.tree, self.period, self.root = info, catalogue, tree, period, root
        self.units, self.layout, self.account, self.editors = units, layout, account, editors
        self.batn = [account, *managers]                 # who may edit batn's own ranges
        self.locked = G.CUTOFF_TAB in info.tabs          # `batn gsheets chot` has locked the inputs
        self.ids = _Ids({t.sheet_id for t in info.tabs.values()})
        self.groups: list[Group] = []
        self.added: list[str] = []
        self.sheet_ids: dict[str, int] = {t.title: t.sheet_id for t in info.tabs.values()}
        self.warnings: list[str] = []

    # ---- groups: a tab's head (structure and protections) and body (content)
    def group(self, title: str) -> Group:
        g = Group(title)
        self.groups.append(g)
        return g

    @property
    def first(self) -> list[dict]:
        return self.groups[-1].head

    @property
    def body(self) -> list[dict]:
        return self.groups[-1].body

    def inputs(self, code: str) -> list[str]:
        """Who may type into a unit's inputs: its people and batn's, or batn's alone once locked."""
        people = self.unit_editors(code)
        if self.locked:
            return list(self.batn)
        return [*self.batn, *people] if people else []

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

    def drop_old_protections(self, title: str) -> None:
        """In the tab's head, before its new protections: the swap is one atomic batch."""
        for pr in self.info.protected:
            if str(pr.get("description", "")).startswith("batn:") and pr.get("sheetTitle") == title:
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
    def plan(self) -> list[Group]:
        # the guide's head first (the tab exists from creation: protected by the first batch), its
        # content last (it links to the unit tabs, whose ids are known by then)
        self.group(G.GUIDE_TAB)
        self.first.append({"updateSpreadsheetProperties": {
            "properties": {"locale": LOCALE, "timeZone": TIME_ZONE}, "fields": "locale,timeZone"}})
        guide_sid, _new = self.tab(G.GUIDE_TAB, 60 + len(self.units), 6, 0)
        self.drop_old_protections(G.GUIDE_TAB)
        self.first.append(protect({"sheetId": guide_sid}, "batn: hướng dẫn", self.batn, locked=True))
        for i, title in enumerate((G.CONSOLIDATED_TAB, G.STATUS_TAB, G.FINDINGS_TAB), start=1):
            self.group(title)
            sid, _new = self.tab(title, 200, 26, i, frozen_rows=0)
            self.drop_old_protections(title)
            self.first.append(protect({"sheetId": sid}, f"batn: {title} (batn ghi)", self.batn, locked=True))
        if self.layout == G.TABS:
            tl = G.tab_layout(self.cat)
            for n, code in enumerate(self.units):
                self.unit_tab(self.tree[code], tl, 4 + n)
        else:
            self.rows_tabs()
        self.guide(guide_sid)
        return self.groups

    def guide(self, sid: int) -> None:
        self.group(G.GUIDE_TAB + " (nội dung)")
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
        self.body.extend(widths(sid, (120, 300, 260, 260)))

    def unit_tab(self, unit: Unit, tl: G.TabLayout, index: int) -> None:
        title = G.unit_tab_title(unit)
        self.group(title)
        sid, new = self.tab(title, tl.last_row + 5, G.TAB_WIDTH + 2, index, frozen_rows=FIRST_TABLE_ROW)
        mid = self.mid(unit.code)
        self.drop_old_protections(title)
        self.first.append(protect({"sheetId": sid}, f"batn: cấu trúc trang {unit.code}", self.batn,
                                  holes=tl.input_grids(sid, mid), locked=True))
        self.first.append(protect(tl.unit_area(sid), f"batn: ô nhập của {unit.code}", self.inputs(unit.code),
                                  locked=self.locked))
        b = self.body
        b.append(put_cells(sid, 1, 1, [[cd("BIỂU SỐ LIỆU KẾT QUẢ THỰC HIỆN PHONG TRÀO “3 TRÁCH NHIỆM”", bold=True,
                                           size=13)], [cd(self.cat.title, italic=True)]]))
        b.append(put_cells(sid, G.META_NAME, G.LABEL_COL, [
            [cd(G.META_LABELS[G.META_NAME], bold=True), cd(unit.name, bold=True)],
            [cd(G.META_LABELS[G.META_CODE], bold=True), cd(unit.code)],
            [cd(G.META_LABELS[G.META_PERIOD], bold=True), cd(self.period.id), cd(self.period.label, italic=True)],
            [cd(G.META_LABELS[G.META_CATALOG], bold=True), cd(self.cat.id)],
            [cd(G.META_LABELS[G.META_KIND], bold=True)]]))
        if new:       # in the head: a tab that exists always has its kind, even if a later batch fails
            self.first.append(put_cells(sid, G.META_KIND, G.META_COL, [[cd(G.default_kind(self.tree, unit.code),
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

    def rows_tabs(self) -> None:
        rl = G.RowsLayout(self.cat, tuple(self.units))
        self.group(G.ROWS_TAB)
        sid, _new = self.tab(G.ROWS_TAB, rl.last_row + 5, rl.last_col + 2, 4, frozen_rows=rl.code_row,
                             frozen_cols=2)
        self.drop_old_protections(G.ROWS_TAB)
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
            if code not in existing:      # code and kind in one request: a row never has one without the other
                self.first.append(put_cells(sid, r, 1, [[cd(code), cd(self.tree[code].name),
                                                         cd(G.default_kind(self.tree, code))]]))
            else:
                b.append(put_cells(sid, r, 1, [[cd(code), cd(self.tree[code].name)]]))
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
        self.first.append(protect({"sheetId": sid}, f"batn: cấu trúc trang {G.ROWS_TAB}", self.batn, holes=holes,
                                  locked=True))
        for code, rng in unit_ranges:
            self.first.append(protect(rng, f"batn: dòng nhập của {code}", self.inputs(code), locked=self.locked))
        for n, nl in enumerate(self.cat.narratives):
            self.rows_narrative_tab(nl, 5 + n)

    def rows_narrative_tab(self, nl, index: int) -> None:
        nlay = G.RowsNarrativeLayout(nl, tuple(self.units))
        self.group(nl.sheet)
        sid, _new = self.tab(nl.sheet, nlay.last_row + 5, nlay.last_col + 1, index, frozen_rows=nlay.header_row)
        self.drop_old_protections(nl.sheet)
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
        self.first.append(protect({"sheetId": sid}, f"batn: cấu trúc trang {nl.sheet}", self.batn, holes=holes,
                                  locked=True))
        for code, rng in blocks:
            people = self.editors.get(code, [])
            self.first.append(protect(rng, f"batn: dòng nhập của {code} ({nl.sheet})",
                                      list(self.batn) if self.locked else ([*self.batn, *people] if people else []),
                                      locked=self.locked))


def batches(groups: list[Group] | list[dict], max_requests: int | None = None,
            max_bytes: int | None = None) -> list[list[dict]]:
    """Split the plan in order into batches under Google's recommended payload size. A group's head
    is never split (it starts a new batch when it does not fit), its body may be."""
    max_requests = max_requests or MAX_BATCH_REQUESTS
    max_bytes = max_bytes or MAX_BATCH_BYTES
    if groups and isinstance(groups[0], dict):                 # a plain request list: one body
        groups = [Group("", body=list(groups))]                # type: ignore[arg-type]
    out: list[list[dict]] = [[]]
    size = 0

    def weight(req: dict) -> int:
        return len(json.dumps(req, ensure_ascii=False).encode("utf-8"))

    for g in groups:                                           # type: ignore[union-attr]
        head = sum(weight(r) for r in g.head)
        if out[-1] and (len(out[-1]) + len(g.head) > max_requests or size + head > max_bytes):
            out.append([])
            size = 0
        out[-1] += g.head
        size += head
        for req in g.body:
            n = weight(req)
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
                      title: str | None = None, only: str | None = None, all_levels: bool = False,
                      share_units: bool | None = None) -> SetupResult:
    """Create (no `spreadsheet`) or update the shared spreadsheet for `unit` and its children.

    `share`: managers, shared as editors and allowed into batn's ranges (a server's service account
    that runs `batn run` is one). `share_units`: share with every unit's e-mail too (default: when
    batn created the spreadsheet or acts as a signed-in person, whose spreadsheets batn created)."""
    if layout not in G.LAYOUTS:
        raise ValueError(f"Cách bố trí '{layout}' không hợp lệ: chọn tabs hoặc rows")
    units = units_for(tree, unit, only=only, all_levels=all_levels)
    editors = dict(editors) if editors is not None else editors_from_units(tree[c] for c in units)
    managers = [e for e in dict.fromkeys(share) if e and e != conn.account]
    created = spreadsheet is None
    http = conn.http
    info: SpreadsheetInfo | None = None
    if created:
        name = title or f"{catalogue.title} — {tree[unit].name} — {period.label}"
        with google_errors("", conn.account, conn.kind):
            meta = http.request("post", SPREADSHEETS_API_V4_BASE_URL, json={
                "properties": {"title": name, "locale": LOCALE, "timeZone": TIME_ZONE},
                "sheets": [{"properties": {"sheetId": 0, "title": G.GUIDE_TAB, "index": 0}}]}).json()
        key = meta["spreadsheetId"]
        info = info_from_json(meta)
    else:
        key = spreadsheet_key(spreadsheet)  # type: ignore[arg-type]
    url = f"https://docs.google.com/spreadsheets/d/{key}/edit"
    try:
        result = _build(conn, key, info, catalogue, tree, period, unit, units, layout, editors, managers)
        result.created = created
        if share_units if share_units is not None else (created or conn.kind == PERSON):
            people = [e for c in result.units for e in editors.get(c, [])]
            result.shared, more = share_spreadsheet(conn, key, [*managers, *people])
            result.warnings += more
        elif managers:
            result.shared, more = share_spreadsheet(conn, key, managers)
            result.warnings += more
    except GoogleDoorError as e:
        if not created:
            raise
        raise SetupIncomplete(f"{e} Bảng tính đã được tạo nhưng chưa xong: {url} — chạy lại lệnh với "
                              f"--spreadsheet {key} để làm nốt (không tạo bảng tính mới).", key, url) from e
    if not units:
        result.warnings.append(f"Đơn vị {unit} không có đơn vị trực thuộc nào: bảng tính chỉ có trang hướng dẫn.")
    return result


def _build(conn: Connection, key: str, info: SpreadsheetInfo | None, catalogue: Catalogue, tree: UnitTree,
           period: Period, unit: str, units: list[str], layout: str, editors: Mapping[str, list[str]],
           managers: list[str]) -> SetupResult:
    """Plan from what the spreadsheet holds and send; after an unknown outcome, read it again and re-plan."""
    http = conn.http
    replans, sent = 0, 0
    while True:
        with google_errors(key, conn.account, conn.kind):
            if info is None:
                info = fetch_info(http, key)
                if layout == G.ROWS and G.ROWS_TAB in info.tabs:
                    info.rows_units = _existing_row_units(http, key)
        order = units
        if layout == G.ROWS and info.rows_units:
            order = [c for c in info.rows_units if c in units] + [c for c in units if c not in info.rows_units]
        planner = _Planner(info, catalogue, tree, period, unit, order, layout, conn.account, editors, managers)
        parts = batches(planner.plan())
        try:
            for part in parts:
                with google_errors(key, conn.account, conn.kind):
                    http.batch_update(key, {"requests": part})
                sent += 1
        except UncertainWrite:
            if replans >= MAX_REPLANS:
                raise
            replans += 1
            info = None                      # what is there now decides the next plan
            continue
        warnings = list(dict.fromkeys(planner.warnings))
        if planner.locked:
            warnings.append("Bảng tính đã chốt số liệu (batn gsheets chot): vùng nhập của các đơn vị vẫn khóa.")
        return SetupResult(key, f"https://docs.google.com/spreadsheets/d/{key}/edit", False, layout, order,
                           planner.added, warnings, sent, replans=replans)


def share_spreadsheet(conn: Connection, key: str, emails: Iterable[str]) -> tuple[list[str], list[str]]:
    """Share as editor with each address not shared yet (read first: a rerun sends no second
    invitation). Returns (shared now, warnings)."""
    wanted = [e for e in dict.fromkeys(emails) if e and e != conn.account]
    if not wanted:
        return [], []
    http = conn.http
    url = DRIVE_PERMISSIONS.format(key)
    try:
        with google_errors(key, conn.account, conn.kind):
            have = _shared_with(http, url)
            added = []
            for email in wanted:
                if email.lower() in have:
                    continue
                try:
                    http.request("post", url, params={"sendNotificationEmail": "true", "emailMessage":
                                 "batn: bảng tính dùng chung để nhập số liệu báo cáo. Mỗi đơn vị chỉ sửa được "
                                 "các ô nền vàng của mình."},
                                 json={"type": "user", "role": "writer", "emailAddress": email})
                except UncertainWrite:
                    if email.lower() not in _shared_with(http, url):     # verified, then sent once more
                        raise
                added.append(email)
            return added, []
    except GoogleDoorError as e:
        return [], [f"Chưa chia sẻ được bảng tính cho {', '.join(wanted)} ({e}). Hãy mở bảng tính, bấm “Chia sẻ” "
                    "và thêm các địa chỉ này với quyền Người chỉnh sửa."]


def _shared_with(http, url: str) -> set[str]:
    have: set[str] = set()
    token = None
    while True:
        params = {"fields": "nextPageToken,permissions(emailAddress,role)", "pageSize": "100"}
        if token:
            params["pageToken"] = token
        page = http.request("get", url, params=params).json()
        have |= {str(p.get("emailAddress", "")).lower() for p in page.get("permissions", [])
                 if p.get("role") in ("owner", "organizer", "fileOrganizer", "writer")}
        token = page.get("nextPageToken")
        if not token:
            return have


def _existing_row_units(http, key: str) -> list[str]:
    """Unit codes already on the rows tab, in row order (so re-running setup never shifts a unit's row)."""
    rl_first = G.RowsLayout.first_unit_row
    resp = http.values_get(key, f"{G.quote_tab(G.ROWS_TAB)}!A{rl_first}:A")
    return [str(r[0]).strip() for r in resp.get("values", []) if r and str(r[0]).strip()]


__all__ = ["setup_spreadsheet", "SetupResult", "SetupIncomplete", "share_spreadsheet", "load_editors", "editors_from_units", "units_for", "batches",
           "sheets_formula"]
