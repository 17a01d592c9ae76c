"""The consolidated workbook: the root unit's template filled with totals (so it can be
sent up as is), plus the per-unit summary, the submission status, the findings and the charts.

It is also the document a district or province prints and sends: "Số liệu" carries the Đoàn
header, the completeness line and the signer (xlsx/cover.py), every sheet meant to be read has
its print settings (xlsx/printing.py), "Biểu đồ" fits one page (xlsx/charts.py), and the sheets
for machines (the fill-in guide, code rows and columns) are hidden.

The three long tables and the narrative lists grow with the tree (a national run: 10,000 rows of
52 columns, and every mô hình and gương sent); their rows are streamed into the saved workbook
(`rowstream`), so writing takes the same memory for a district and a nation."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO, Iterator, Mapping

from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from .. import layout as L
from ..completeness import chart_groups, subtree_tallies
from ..letterhead import letterhead
from ..model import Unit
from ..previous import PreviousPeriod
from ..rollup import Consolidation
from ..safeio import atomic_path, consolidated_name_problem
from ..review import REVIEW_NAMES, review_counts
from ..tables import (FINDINGS_HEADER, FINDINGS_WIDTHS, STATUS_HEADER, STATUS_WIDTHS, consolidation_findings_rows, sent_line,
                      status_body, summary_body, summary_header, total_row)
from .cells import NUMBER, finding_alignment, findings_sheet_head, header_row, put, vietnamese_numbers, wrapped_height
from .charts import SHEET as CHARTS_SHEET, main_indicators, write_charts_sheet
from .cover import cover_print, write_cover, write_signature
from .printing import PageText, across, print_setup
from .rowstream import CellStyles, SheetBody, save_with_bodies
from .template import FIRST_TABLE_ROW, NarrativeRows, _define, build_template_streamed, layout_rows

SUMMARY_NAME_WIDTH, SUMMARY_STATUS_WIDTH = 40, 13
FIGURE_MIN_WIDTH = 7


def _figure_width(total: object) -> int:
    """Room for the largest figure of a column (the root's total: no unit's is larger), grouped
    ("1.540.000.000"), so no program shows "###"."""
    digits = len(str(int(total))) if isinstance(total, (int, float)) and total == total and abs(total) < 1e300 else 1
    return max(FIGURE_MIN_WIDTH, digits + (digits - 1) // 3 + 2)


@dataclass(frozen=True)
class Paper:
    """What the printed workbook says beyond the figures: the report settings (issuer, place,
    signer: templates/report.toml or --config), the document number, the date; and the previous
    period for its chart."""

    settings: Mapping | None = None
    number: str | None = None
    on: date | None = None                       # default: the consolidation's date
    previous: PreviousPeriod | None = None       # batn.previous.load_previous: the chart against it
    parent: Unit | None = None                   # the root's parent in the units file: its header names it


def _narrative_rows(cons: Consolidation, nl) -> Iterator[tuple[str, ...]]:
    """Each row keeps the unit that sent it: in its unit column, or in brackets after the text."""
    unit_col = next((i for i, h in enumerate(nl.columns) if h.startswith("Đơn vị")), None)
    for unit_name, row in cons.iter_narratives(nl.key):
        row = list(row) + [""] * (len(nl.columns) - len(row))
        if unit_col is not None:
            row[unit_col] = row[unit_col] or unit_name
        else:
            row[-1] = f"{row[-1]} ({unit_name})"
        yield tuple(row)


def _narrative_lists(cons: Consolidation) -> dict[str, NarrativeRows]:
    """Every narrative list, counted first (the sheet's named range must know its size), then
    streamed: one unit's text decoded at a time."""
    counts = cons.narrative_counts()
    return {nl.key: NarrativeRows(count=counts[nl.key], rows=_narrative_rows(cons, nl)) for nl in cons.catalogue.narratives}


def _indents(st: CellStyles, cons: Consolidation) -> dict[tuple[int, bool], int]:
    """A unit name's style for each depth in the tree, bold for a unit with units under it,
    registered before the rows stream. Keyed by (depth, has units under it)."""
    kids = cons.tree.children
    keys = {(r.depth, bool(kids[r.code])) for r in cons.units.values()}
    # indent needs a left alignment: Excel and LibreOffice ignore it on a "general" one
    return {(d, k): st.id(alignment=Alignment(horizontal="left", indent=d), font=Font(bold=k)) for d, k in sorted(keys)}


def _name_styles(cons: Consolidation, styles: dict[tuple[int, bool], int]) -> Iterator[int]:
    kids = cons.tree.children
    return (styles[(r.depth, bool(kids[r.code]))] for r in cons.units.values())


def _page(cons: Consolidation) -> PageText:
    return PageText(cons.tree[cons.tree.root].name, cons.period.label)


def _summary_sheet(wb, cons: Consolidation) -> SheetBody:
    ws = wb.create_sheet(L.SUMMARY_SHEET)
    cat = cons.catalogue
    totals = cons.totals
    figure_widths = [_figure_width(totals.get(c)) for c in cat.codes]
    header_row(ws, 1, summary_header(cons), [12, SUMMARY_NAME_WIDTH, SUMMARY_STATUS_WIDTH] + figure_widths)
    for c in range(4, 4 + len(cat.codes)):
        ws.cell(1, c).font = Font(bold=True, size=8)
    for c, code in enumerate(cat.codes, start=4):
        put(ws, 2, c, code).font = Font(italic=True, size=8)
    longest = max((len(str(h)) for h in summary_header(cons)[3:]), default=10)
    ws.row_dimensions[1].height = min(160, 11 * (2 + longest // (FIGURE_MIN_WIDTH + 1)))
    ws.row_dimensions[2].hidden = True            # the codes: for machines
    ws.column_dimensions["A"].hidden = True
    ws.freeze_panes = "D3"
    st = CellStyles(ws)
    number, bold = st.id(number_format=NUMBER), st.id(font=Font(bold=True))
    bold_number = st.id(font=Font(bold=True), number_format=NUMBER)
    width = 3 + len(cat.codes)

    name_style = _indents(st, cons)          # the indent is the cell's, so the name stays clean

    def rows():
        for row, style in zip(summary_body(cons, indent=""), _name_styles(cons, name_style)):
            yield [(row[0], 0), (row[1], style), (row[2], 0), *[(v, number) for v in row[3:]]]
        total = total_row(cons)
        yield [(v, bold if c < 3 else bold_number) for c, v in enumerate(total)]

    # Landscape, the unit's name and status on every page, as many figures across as stay legible.
    _, scale = across(SUMMARY_NAME_WIDTH + SUMMARY_STATUS_WIDTH, figure_widths, landscape=True)
    print_setup(ws, landscape=True, fit_width=False, scale=scale,
                area=f"A1:{get_column_letter(width)}{2 + len(cons.units) + 1}",
                title_rows="1:2", title_cols="B:C", page=_page(cons))
    ws.page_setup.pageOrder = "overThenDown"
    return SheetBody(first_row=3, rows=rows(), count=len(cons.units) + 1, width=width, styles=st)


def _status_sheet(wb, cons: Consolidation, tallies) -> SheetBody:
    ws = wb.create_sheet(L.STATUS_SHEET)
    put(ws, 1, 1, sent_line(cons)).font = Font(bold=True)
    put(ws, 2, 1, len(cons.sent))
    put(ws, 2, 2, len(cons.expected))
    put(ws, 2, 3, cons.as_of)
    ws.cell(2, 3).number_format = "dd/mm/yyyy hh:mm"
    ws.row_dimensions[2].hidden = True
    _define(wb, L.NAME_SENT, ws.title, "$A$2")
    _define(wb, L.NAME_EXPECTED, ws.title, "$B$2")
    _define(wb, L.NAME_AS_OF, ws.title, "$C$2")
    if cons.reviews:                  # the review states travel upward with the workbook
        counts = review_counts(cons.reviews, (r.code for r in cons.expected))
        for c, (name, states) in enumerate(REVIEW_NAMES, start=4):
            put(ws, 2, c, sum(counts[s] for s in states))
            _define(wb, name, ws.title, f"${get_column_letter(c)}$2")
    header_row(ws, 3, STATUS_HEADER, list(STATUS_WIDTHS))
    ws.row_dimensions[3].height = 32
    col = {h: i for i, h in enumerate(STATUS_HEADER)}
    ws.column_dimensions[get_column_letter(col["Mã"] + 1)].hidden = True
    if not any(r.ignored for r in cons.units.values()):          # nobody sent twice: nothing to show
        ws.column_dimensions[get_column_letter(col["Tệp bị bỏ qua"] + 1)].hidden = True
    if not cons.reviews:                                         # no review loop: no "Duyệt" column
        ws.column_dimensions[get_column_letter(col["Duyệt"] + 1)].hidden = True
    st = CellStyles(ws)
    received, deadline = st.id(number_format="dd/mm/yyyy hh:mm"), st.id(number_format="dd/mm/yyyy")
    centre = st.id(alignment=Alignment(horizontal="center"))
    wrap = st.id(alignment=Alignment(wrap_text=True, vertical="top"))
    name_style = _indents(st, cons)
    special = {"Thời gian nhận": received, "Hạn nộp": deadline, "Tệp": wrap, "Tệp bị bỏ qua": wrap,
               "Đã nộp (cả cấp dưới)": centre, "Đúng hạn (cả cấp dưới)": centre}

    def rows():
        for row, style in zip(status_body(cons, indent="", tallies=tallies), _name_styles(cons, name_style)):
            styles = [special.get(h, 0) for h in STATUS_HEADER]
            styles[col["Đơn vị"]] = style
            yield list(zip(row, styles))

    print_setup(ws, landscape=True, area=f"A1:{get_column_letter(len(STATUS_HEADER))}{3 + len(cons.units)}",
                title_rows="3:3", page=_page(cons))
    wrapped = [col["Tệp"], col["Tệp bị bỏ qua"]]
    return SheetBody(first_row=4, rows=rows(), count=len(cons.units), width=len(STATUS_HEADER), styles=st,
                     height=wrapped_height(STATUS_WIDTHS, wrapped))


def _findings_sheet(wb, cons: Consolidation) -> SheetBody:
    ws = findings_sheet_head(wb, L.CHECK_SHEET)
    st = CellStyles(ws)
    styles = [st.id(alignment=finding_alignment(c)) for c in range(1, len(FINDINGS_HEADER) + 1)]
    wrap = [st.id(alignment=Alignment(wrap_text=True, vertical="top")) for _ in range(2)]
    styles[2], styles[3] = wrap        # the unit's name and the file wrap too
    styles[5] = st.id(alignment=Alignment(wrap_text=True, vertical="top"))
    body = consolidation_findings_rows(cons)

    def rows():
        for row in body:
            yield [(v if v != "" else None, 0 if v == "" else styles[c]) for c, v in enumerate(row)]

    print_setup(ws, landscape=True, area=f"A1:{get_column_letter(len(FINDINGS_HEADER))}{1 + len(body)}",
                title_rows="1:1", page=_page(cons))
    return SheetBody(first_row=2, rows=rows(), count=len(body), width=len(FINDINGS_HEADER), styles=st,
                     height=wrapped_height(FINDINGS_WIDTHS, (2, 3, 5, 6)))


def _narrative_print(wb, cons: Consolidation, counts: Mapping[str, int]) -> None:
    """Each list prints its filled rows only (the spare input rows stay on screen)."""
    for nl in cons.catalogue.narratives:
        ws = wb[nl.sheet]
        last_col = get_column_letter(1 + len(nl.columns))
        print_setup(ws, landscape=False, area=f"A1:{last_col}{3 + max(counts[nl.key], 1)}", title_rows="3:3",
                    page=_page(cons))
        ws["A2"] = None              # "Mỗi dòng một nội dung…" is for the clerk who types, not for paper


def _data_sheet(wb, cons: Consolidation, paper: Paper) -> None:
    ws = wb[L.DATA_SHEET]
    root = cons.tree[cons.tree.root]
    head = letterhead(paper.settings, root, paper.on or cons.as_of.date(), paper.number, parent=paper.parent)
    write_cover(ws, cons, head)
    rows, _ = layout_rows(cons.catalogue)
    last = write_signature(ws, FIRST_TABLE_ROW + len(rows), head)
    cover_print(ws, cons, last)
    vietnamese_numbers(ws)          # the totals print 1.927 on any machine (cells.NUMBER)


def _order(wb) -> None:
    """The pages in the order a leader reads them; the fill-in guide hidden (it is for clerks)."""
    first = [L.DATA_SHEET, CHARTS_SHEET, L.STATUS_SHEET, L.SUMMARY_SHEET, L.CHECK_SHEET]
    wb._sheets.sort(key=lambda ws: first.index(ws.title) if ws.title in first else len(first))
    wb[L.GUIDE_SHEET].sheet_state = "hidden"
    wb.active = 0


def _workbook(cons: Consolidation, paper: Paper | None = None):
    """The openpyxl part (the root's template with totals, the long tables' headers, the cover and
    the charts) and the long tables' rows, which are streamed in when the workbook is saved."""
    paper = paper or Paper()
    if paper.settings is None:
        from ..report.context import load_settings

        paper = Paper(load_settings(), paper.number, paper.on, paper.previous, paper.parent)
    root = cons.tree[cons.tree.root]
    lists = _narrative_lists(cons)
    wb, bodies = build_template_streamed(cons.catalogue, root, cons.period, values=cons.totals,
                                         narratives=lists, kind=L.KIND_TOTAL,
                                         has_children=bool(cons.tree.children[root.code]))
    tallies = subtree_tallies(cons)
    _data_sheet(wb, cons, paper)
    bodies.update({L.SUMMARY_SHEET: _summary_sheet(wb, cons), L.STATUS_SHEET: _status_sheet(wb, cons, tallies),
                   L.CHECK_SHEET: _findings_sheet(wb, cons)})
    _narrative_print(wb, cons, {k: v.count for k, v in lists.items()})
    prev = paper.previous
    max_groups = int(((paper.settings or {}).get("workbook") or {}).get("chart_groups") or 12)
    write_charts_sheet(wb, cons, chart_groups(cons, max_groups, tallies=tallies),
                       main_indicators(cons.catalogue, paper.settings),
                       previous=prev.totals if prev else None,
                       previous_label=prev.period.label if prev else "kỳ trước")
    from .targets import write_targets_sheet

    write_targets_sheet(wb, cons.catalogue, cons.totals)     # chỉ tiêu kế hoạch beside the results (if any)
    _order(wb)
    return wb, bodies


def save_consolidated(cons: Consolidation, out: BinaryIO, paper: Paper | None = None) -> None:
    """Write the consolidated workbook to a binary file object."""
    wb, bodies = _workbook(cons, paper)
    save_with_bodies(wb, out, bodies)


def write_consolidated(cons: Consolidation, path: str | Path, paper: Paper | None = None) -> Path:
    """Write the consolidated workbook to `path`, which is replaced only once it is complete."""
    path = Path(path)
    problem = consolidated_name_problem(path)
    if problem:
        raise ValueError(problem)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        save_consolidated(cons, f, paper)
    return path
