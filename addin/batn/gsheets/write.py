"""Write a consolidation back into the spreadsheet(s): two batched requests per spreadsheet.

Record, then apply: `plan_write_back` builds a `WritePlan` (plain dicts, nothing sent) from the
consolidation and the annotation actions of `batn.actions` (the same MarkCell/WriteFindingsSheet
list the xlsx and Excel doors replay); `apply_plan` sends it:

1. one spreadsheets.get of the notes of the input cells (only the notes: a field mask);
2. one spreadsheets.batchUpdate: create or grow the output tabs and clear them, reset the colour of
   every input cell read, one repeatCell per MarkCell (colour), and the notes that change;
3. one values.batchUpdate with valueInputOption RAW: the status tab (đã nộp / chưa nộp / có lỗi),
   the findings tab and the consolidated tab.

Notes: a cell's note may hold the unit's own words. batn's part of a note starts with the line
NOTE_HEAD ("[batn kiểm tra]"); a run replaces or removes that part only, and keeps whatever the
unit wrote above it. (A note of an older batn, starting "[lỗi]" or "[cảnh báo]", is batn's.)

RAW means Sheets stores every string as text: a unit's narrative "=IMPORTXML(...)" is shown as
those characters and never runs. No apostrophe is added (with RAW it would become part of the text).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from ..actions import COLOURS, MarkCell, WriteFindingsSheet, annotation_actions
from ..model import Finding, Severity, UnitTree
from ..review import APPROVED, CHANGED_AFTER_APPROVAL, RECEIVED, RESUBMITTED, SENT_BACK
from ..review import MISSING as NO_REPORT
from ..rollup import COVERED, HAS_ERRORS, LATE, MISSING, ROOT, SENT, Consolidation
from ..tables import STATUS_HEADER, findings_in_order, sent_line, status_rows, summary_rows
from ..tables import findings_rows as finding_body_rows
from ..numbers import finite
from ..textsafe import clean
from ..vn import ty_le
from ..xlsx.template import COL_VALUE, ROMAN, layout_rows
from . import layout as G
from .read import SheetRead, findings_here
from .setup import rgb

STATUS_COLOURS = {SENT: "C6EFCE", HAS_ERRORS: COLOURS[Severity.ERROR], MISSING: "E7E6E6", LATE: "FFD699",
                  COVERED: "DDEBF7", ROOT: "DDEBF7"}
REVIEW_COLOURS = {APPROVED: "C6EFCE", SENT_BACK: "FFC7CE", RECEIVED: "FFEB9C", RESUBMITTED: "FFEB9C",
                  CHANGED_AFTER_APPROVAL: "FFD699", NO_REPORT: "E7E6E6"}
REVIEW_COLUMN = STATUS_HEADER.index("Duyệt") + 1           # 1-based, in the status tab
FINDINGS_HEAD = ["STT", "Mức độ", "Đơn vị", "Nguồn", "Ô", "Chỉ tiêu", "Nội dung"]
NOTE_HEAD = "[batn kiểm tra]"
_OLD_BATN_NOTES = ("[lỗi] ", "[cảnh báo] ")


def own_note(text: str) -> str:
    """The unit's own part of a cell note (batn's part, and an older batn's whole note, left out)."""
    at = text.find(NOTE_HEAD)
    if at >= 0:
        return text[:at].rstrip()
    return "" if text.startswith(_OLD_BATN_NOTES) else text


def with_batn_note(text: str, batn: str | None) -> str:
    """The note to keep: the unit's own part, then batn's (when there is one)."""
    own = own_note(text)
    if not batn:
        return own
    return (own + "\n\n" if own else "") + NOTE_HEAD + "\n" + batn


@dataclass
class WritePlan:
    key: str
    requests: list[dict] = field(default_factory=list)   # spreadsheets.batchUpdate
    data: list[dict] = field(default_factory=list)       # values.batchUpdate, valueInputOption RAW
    marks: list[MarkCell] = field(default_factory=list)  # the MarkCell actions replayed
    # notes: the cells whose batn note is reset (A1 ranges, with each range's sheet id and first cell),
    # and batn's note for each marked cell; apply_plan reads the current notes and merges
    note_scopes: list[tuple[str, dict]] = field(default_factory=list)
    notes: dict[tuple[int, int, int], str] = field(default_factory=dict)   # (sheetId, row0, col0) -> text
    problems: list[str] = field(default_factory=list)    # what could not be done (an input left unlocked...)

    def tab_values(self, title: str) -> list[list[object]]:
        for vr in self.data:
            if vr["range"].startswith(G.quote_tab(title) + "!"):
                return vr["values"]
        return []


def safe_value(v: object) -> object:
    """A value for a RAW write: numbers stay numbers, everything else becomes text (batn.textsafe.clean:
    no apostrophe, RAW already keeps "=..." as text; what JSON cannot carry is shown escaped)."""
    v = finite(v)       # NaN, infinity, a number beyond any double: JSON and the Sheets API refuse them
    if v is None:
        return ""
    if isinstance(v, bool):
        return "có" if v else "không"
    if isinstance(v, (int, float)):
        return int(v) if float(v).is_integer() else v
    if isinstance(v, datetime):
        return f"{v:%H:%M %d/%m/%Y}"
    if isinstance(v, date):
        return f"{v:%d/%m/%Y}"
    try:
        if v != v:      # pandas NaT and friends
            return ""
    except Exception:
        pass
    return clean(v)


def _rows(rows: list[list[object]]) -> list[list[object]]:
    return [[safe_value(v) for v in row] for row in rows]


class _Planner:
    def __init__(self, read: SheetRead, plan: WritePlan):
        self.read, self.plan = read, plan
        self.info = read.info
        self.ids = {t.title: t.sheet_id for t in self.info.tabs.values()}
        self.next_id = max(self.ids.values(), default=0) + 1
        self.structure: list[dict] = []
        self.formats: list[dict] = []

    def output_tab(self, title: str, rows: list[list[object]], index: int, frozen: int = 0) -> int:
        """Create or grow the tab to hold `rows`, clear it, and queue the values."""
        need_rows = max(len(rows) + 20, 100)
        need_cols = max([26, *(len(r) + 1 for r in rows)])
        grid = {"rowCount": need_rows, "columnCount": need_cols, "frozenRowCount": frozen}
        tab = self.info.tabs.get(title)
        if tab is None:
            sid = self.next_id
            self.next_id += 1
            index = min(index, len(self.ids))           # never past the end of the tab list
            self.structure.append({"addSheet": {"properties": {"sheetId": sid, "title": title, "index": index,
                                                               "gridProperties": grid}}})
            self.ids[title] = sid
        else:
            sid = tab.sheet_id
            grid["rowCount"] = max(need_rows, tab.rows)
            grid["columnCount"] = max(need_cols, tab.cols)
            self.structure.append({"updateSheetProperties": {
                "properties": {"sheetId": sid, "gridProperties": grid},
                "fields": "gridProperties.rowCount,gridProperties.columnCount,gridProperties.frozenRowCount"}})
            self.structure.append({"updateCells": {"range": {"sheetId": sid},
                                                   "fields": "userEnteredValue,note,userEnteredFormat"}})
        self.plan.data.append({"range": f"{G.quote_tab(title)}!A1", "majorDimension": "ROWS", "values": _rows(rows)})
        return sid

    def bold_row(self, sid: int, row: int, width: int, colour: str | None = G.HEADER_FILL) -> None:
        fmt: dict = {"textFormat": {"bold": True}, "wrapStrategy": "WRAP", "verticalAlignment": "MIDDLE"}
        if colour:
            fmt["backgroundColor"] = rgb(colour)
        self.formats.append({"repeatCell": {"range": G.grid(sid, row, 1, row, width),
                                            "cell": {"userEnteredFormat": fmt}, "fields": "userEnteredFormat"}})

    def colour(self, sid: int, row: int, col: int, hex6: str) -> None:
        self.formats.append({"repeatCell": {"range": G.grid(sid, row, col),
                                            "cell": {"userEnteredFormat": {"backgroundColor": rgb(hex6)}},
                                            "fields": "userEnteredFormat.backgroundColor"}})

    def reset_marks(self, tree: UnitTree | None, catalogue) -> None:
        """Put every input cell read back to its set-up look before this run's marks."""
        titles = {sid: t for t, sid in self.ids.items()}

        def reset(rng: dict, colour: str | None) -> None:
            cell = {"userEnteredFormat": {"backgroundColor": rgb(colour)}} if colour else {}
            self.formats.append({"repeatCell": {"range": rng, "cell": cell,
                                                "fields": "userEnteredFormat.backgroundColor"}})
            self.plan.note_scopes.append((G.a1(titles[rng["sheetId"]], rng["startRowIndex"] + 1,
                                               rng["startColumnIndex"] + 1, rng["endRowIndex"],
                                               rng["endColumnIndex"]), rng))

        def mid(code: str) -> bool:
            return bool(tree and code in tree and tree.children.get(code))

        if self.read.unit_tabs:
            tl = G.tab_layout(catalogue)
            for code, title in self.read.unit_tabs.items():
                sid = self.ids[title]
                for a, z in tl.input_runs():
                    reset(G.grid(sid, a, COL_VALUE, z, COL_VALUE), G.INPUT_FILL)
                reset(G.grid(sid, G.META_NAME, G.META_COL, G.META_CATALOG, G.META_COL), None)
                reset(G.grid(sid, G.META_KIND, G.META_COL), G.INPUT_FILL if mid(code) else None)
        if self.read.unit_rows and G.ROWS_TAB in self.ids:
            sid = self.ids[G.ROWS_TAB]
            rl = G.RowsLayout(catalogue, ())
            reset(G.grid(sid, rl.period_row, 2, rl.catalog_row, 2), None)
            for code, r in self.read.unit_rows.items():
                reset(G.grid(sid, r, rl.first_value_col, r, rl.last_col), G.INPUT_FILL)
                reset(G.grid(sid, r, rl.kind_col), G.INPUT_FILL if mid(code) else None)

    def replay(self, actions: list[object]) -> list[Finding]:
        """MarkCell -> colour and note on the cell; WriteFindingsSheet -> the findings to list."""
        listed: list[Finding] = []
        for a in actions:
            if isinstance(a, MarkCell):
                if a.sheet not in self.ids:
                    continue
                row, col = G.parse_cell(a.cell)
                rng = G.grid(self.ids[a.sheet], row, col)
                self.formats.append({"repeatCell": {
                    "range": rng, "cell": {"userEnteredFormat": {"backgroundColor": rgb(a.colour)}},
                    "fields": "userEnteredFormat.backgroundColor"}})
                self.plan.notes[(rng["sheetId"], row - 1, col - 1)] = a.note
                self.plan.note_scopes.append((G.a1(a.sheet, row, col), rng))
                self.plan.marks.append(a)
            elif isinstance(a, WriteFindingsSheet):
                listed = list(a.findings)
        return listed


def findings_rows(findings: list[Finding], cons: Consolidation | None = None) -> list[list[object]]:
    """The findings tab: its own header ("Nguồn": a file or a tab), then the rows every door writes
    (with the consolidation: unit names, and each indicator's STT and label beside its code)."""
    return [FINDINGS_HEAD, *finding_body_rows(findings, cons.catalogue if cons else None, cons)]


def status_tab_rows(cons: Consolidation) -> list[list[object]]:
    """The status tab: the "Đã gửi báo cáo" line, a blank row, then the table every door writes
    (its "Nguồn" column holds the tab a unit's figures were read from)."""
    return [[sent_line(cons)], [], *status_rows(cons, source="Nguồn")]


def consolidated_rows(cons: Consolidation) -> tuple[list[list[object]], dict[str, int]]:
    """The totals by indicator (the template's order), then by unit, then the narrative lists.
    Returns the rows and where each part's header row is."""
    cat = cons.catalogue
    root = cons.tree[cons.tree.root]
    rows: list[list[object]] = [
        [f"TỔNG HỢP SỐ LIỆU — {root.name} — {cons.period.label}"],
        [sent_line(cons)], [],
        ["STT", "Nội dung", "Đơn vị tính", "Tổng hợp", "Mã chỉ tiêu"]]
    marks = {"indicators": 4}
    table, placed = layout_rows(cat)
    totals = cons.totals
    for what, item in table:
        if what == "section":
            rows.append([ROMAN.get(item.key, item.key), item.heading.upper()])
        elif what == "indicator":
            ind = item.indicator
            rows.append([int(item.stt), ind.label, ind.unit, totals.get(ind.code), ind.code])
        else:
            num, den = item
            n, d = finite(totals.get(num)), finite(totals.get(den))
            rows.append(["", f"Tỷ lệ: mục {placed[num].stt} / mục {placed[den].stt}", "",
                         ty_le(n, d) if n is not None and d is not None else ""])
    rows += [[], ["TỔNG HỢP THEO ĐƠN VỊ"]]
    marks["units"] = len(rows) + 1
    rows += summary_rows(cons)
    marks["narratives"] = len(rows) + 2
    narratives = cons.narratives
    for nl in cat.narratives:
        rows += [[], [nl.title], ["Đơn vị", *nl.columns]]
        for unit_name, row in narratives.get(nl.key, []):
            rows.append([unit_name, *row])
    return rows, marks


def review_text(review) -> str:
    """What a unit's tab says of its report's review: "Duyệt: cần sửa — <lý do>"."""
    text = f"Duyệt: {review.state}"
    if review.state == SENT_BACK and review.last is not None and review.last.reason:
        text += f" — {review.last.reason}"
    return text


def plan_reviews(p: "_Planner", cons: Consolidation, account: str) -> None:
    """The review loop (batn.review, decisions from the ledger): each unit tab says its review state
    (the status tab has its "Duyệt" column), and a unit's inputs are locked while its approval
    stands, unlocked when it is sent back (batn.gsheets.approval)."""
    from .approval import approval_requests

    read, plan = p.read, p.plan
    for code, title in read.unit_tabs.items():
        review = cons.reviews.get(code)
        if review is not None:
            plan.data.append({"range": G.a1(title, G.META_STATUS, G.REVIEW_COL), "majorDimension": "ROWS",
                              "values": _rows([[review_text(review)]])})
            p.formats.append({"repeatCell": {"range": G.grid(p.ids[title], G.META_STATUS, G.REVIEW_COL),
                                             "cell": {"userEnteredFormat": {
                                                 "backgroundColor": rgb(REVIEW_COLOURS.get(review.state, "FFFFFF")),
                                                 "textFormat": {"bold": True}}},
                                             "fields": "userEnteredFormat.backgroundColor,"
                                                       "userEnteredFormat.textFormat.bold"}})
    requests, plan.problems = approval_requests(read, cons.reviews, account)
    p.structure += requests


def plan_write_back(read: SheetRead, cons: Consolidation, *, summary: bool,
                    tree: UnitTree | None = None, account: str = "") -> WritePlan:
    """What to write into this spreadsheet. `summary`: also the status and consolidated tabs, and
    every finding of the run (otherwise the findings of this spreadsheet's units only). With the
    review states in `cons.reviews`, the units' tabs say them and approved inputs are locked
    (`account`: who sends the plan, one of batn's editors)."""
    plan = WritePlan(read.info.key)
    p = _Planner(read, plan)
    mine = findings_here(cons.findings, read.info)
    shown = list(cons.findings) if summary else mine
    # Marks for this spreadsheet's cells; the findings tab lists what `shown` holds.
    actions = [a for a in annotation_actions(mine) if isinstance(a, MarkCell)] + [WriteFindingsSheet(tuple(shown))]
    p.reset_marks(tree or cons.tree, cons.catalogue)
    listed = p.replay(actions)
    if summary:
        crow, where = consolidated_rows(cons)
        sid = p.output_tab(G.CONSOLIDATED_TAB, crow, 1, frozen=0)
        p.bold_row(sid, 1, 1, None)
        p.bold_row(sid, where["indicators"], 5)
        p.bold_row(sid, where["units"], len(crow[where["units"] - 1]))
        srow = status_tab_rows(cons)
        sid = p.output_tab(G.STATUS_TAB, srow, 2, frozen=3)
        p.bold_row(sid, 1, 1, None)
        p.bold_row(sid, 3, len(STATUS_HEADER))
        for i, r in enumerate(srow[3:], start=4):
            p.colour(sid, i, 5, STATUS_COLOURS.get(str(r[4]), "FFFFFF"))
            if cons.reviews:
                p.colour(sid, i, REVIEW_COLUMN, REVIEW_COLOURS.get(str(r[REVIEW_COLUMN - 1]), "FFFFFF"))
    if cons.reviews:
        plan_reviews(p, cons, account)
    frows = findings_rows(listed, cons)
    sid = p.output_tab(G.FINDINGS_TAB, frows, 3, frozen=1)
    p.bold_row(sid, 1, len(FINDINGS_HEAD))
    for i, f in enumerate(findings_in_order(listed), start=2):
        p.colour(sid, i, 2, COLOURS[f.severity])
    plan.requests = p.structure + p.formats
    return plan


def read_notes(http, key: str, ranges: list[str]) -> dict[tuple[int, int, int], str]:
    """The notes in these A1 ranges: one spreadsheets.get per few hundred ranges, notes only."""
    from .read import chunk_ranges

    notes: dict[tuple[int, int, int], str] = {}
    for part in chunk_ranges(list(dict.fromkeys(ranges))):
        meta = http.fetch_sheet_metadata(key, params={
            "ranges": part, "fields": "sheets(properties(sheetId),data(startRow,startColumn,rowData(values(note))))"})
        for sheet in meta.get("sheets", []):
            sid = sheet["properties"]["sheetId"]
            for data in sheet.get("data", []):
                r0, c0 = data.get("startRow", 0), data.get("startColumn", 0)
                for i, row in enumerate(data.get("rowData", [])):
                    for j, cell in enumerate(row.get("values", [])):
                        if cell.get("note"):
                            notes[(sid, r0 + i, c0 + j)] = cell["note"]
    return notes


def note_boxes(plan: WritePlan) -> list[str]:
    """One A1 range per tab: the box around every cell whose note this run may change."""
    boxes: dict[int, list] = {}
    for a1, rng in plan.note_scopes:
        title = a1.rsplit("!", 1)[0]
        box = boxes.setdefault(rng["sheetId"], [title, rng["startRowIndex"], rng["startColumnIndex"],
                                                rng["endRowIndex"], rng["endColumnIndex"]])
        box[1], box[2] = min(box[1], rng["startRowIndex"]), min(box[2], rng["startColumnIndex"])
        box[3], box[4] = max(box[3], rng["endRowIndex"]), max(box[4], rng["endColumnIndex"])
    return [f"{t}!{G.cell_ref(r1 + 1, c1 + 1)}:{G.cell_ref(r2, c2)}" for t, r1, c1, r2, c2 in boxes.values()]


def note_requests(plan: WritePlan, current: dict[tuple[int, int, int], str]) -> list[dict]:
    """updateCells for every note that changes: batn's part replaced or removed, the unit's kept."""
    inside = set()
    for _a1, rng in plan.note_scopes:
        for r in range(rng["startRowIndex"], rng["endRowIndex"]):
            for c in range(rng["startColumnIndex"], rng["endColumnIndex"]):
                inside.add((rng["sheetId"], r, c))
    out = []
    for cell in sorted(set(plan.notes) | (set(current) & inside)):
        old = current.get(cell, "")
        new = with_batn_note(old, plan.notes.get(cell))
        if new != old:
            sid, r, c = cell
            out.append({"updateCells": {"start": {"sheetId": sid, "rowIndex": r, "columnIndex": c},
                                        "rows": [{"values": [{"note": new}]}], "fields": "note"}})
    return out


def apply_plan(http, plan: WritePlan) -> int:
    """Send the plan: the notes read, then at most two writes. Returns how many requests were made."""
    made = 0
    requests = list(plan.requests)
    if plan.note_scopes:
        requests += note_requests(plan, read_notes(http, plan.key, note_boxes(plan)))
        made += 1
    if requests:
        http.batch_update(plan.key, {"requests": requests})
        made += 1
    if plan.data:
        http.values_batch_update(plan.key, {"valueInputOption": "RAW", "data": plan.data})
        made += 1
    return made
