"""The consolidated workbook: the root unit's template filled with totals (so it can be
sent up as is), plus the per-unit summary, the submission status and the findings.

The three long tables and the narrative lists grow with the tree (a national run: 10,000 rows of
52 columns, and every mô hình and gương sent); their rows are streamed into the saved workbook
(`rowstream`), so writing takes the same memory for a district and a nation."""
from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, Iterator

from openpyxl.styles import Alignment, Font

from .. import layout as L
from ..rollup import Consolidation
from ..safeio import atomic_path
from ..tables import (FINDINGS_HEADER, STATUS_HEADER, STATUS_WIDTHS, findings_rows, sent_line,
                      status_body, summary_body, summary_header, total_row)
from .cells import finding_alignment, findings_sheet_head, header_row, put
from .rowstream import CellStyles, SheetBody, save_with_bodies
from .template import NarrativeRows, _define, build_template_streamed


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


def _indents(st: CellStyles, cons: Consolidation) -> dict[int, int]:
    """A unit name's style for each depth in the tree, registered before the rows stream."""
    return {d: st.id(alignment=Alignment(indent=d)) for d in sorted({r.depth for r in cons.units.values()})}


def _summary_sheet(wb, cons: Consolidation) -> SheetBody:
    ws = wb.create_sheet(L.SUMMARY_SHEET)
    cat = cons.catalogue
    header_row(ws, 1, summary_header(cons), [12, 40, 16] + [14] * len(cat.indicators))
    for c, code in enumerate(cat.codes, start=4):
        put(ws, 2, c, code).font = Font(italic=True, size=8)
    ws.row_dimensions[1].height = 75
    ws.freeze_panes = "D3"
    st = CellStyles(ws)
    number, bold = st.id(number_format="#,##0"), st.id(font=Font(bold=True))
    bold_number = st.id(font=Font(bold=True), number_format="#,##0")
    width = 3 + len(cat.codes)

    name_style = _indents(st, cons)          # the indent is the cell's, so the name stays clean

    def rows():
        for row, depth in zip(summary_body(cons, indent=""), (r.depth for r in cons.units.values())):
            yield [(row[0], 0), (row[1], name_style[depth]), (row[2], 0), *[(v, number) for v in row[3:]]]
        total = total_row(cons)
        yield [(v, bold if c < 3 else bold_number) for c, v in enumerate(total)]

    return SheetBody(first_row=3, rows=rows(), count=len(cons.units) + 1, width=width, styles=st)


def _status_sheet(wb, cons: Consolidation) -> SheetBody:
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
    header_row(ws, 3, STATUS_HEADER, list(STATUS_WIDTHS))
    st = CellStyles(ws)
    received, deadline = st.id(number_format="dd/mm/yyyy hh:mm"), st.id(number_format="dd/mm/yyyy")

    name_style = _indents(st, cons)

    def rows():
        for row, depth in zip(status_body(cons, indent=""), (r.depth for r in cons.units.values())):
            styles = (0, 0, name_style[depth], 0, 0, 0, received, deadline, 0, 0, 0)
            yield list(zip(row, styles))

    return SheetBody(first_row=4, rows=rows(), count=len(cons.units), width=len(STATUS_HEADER), styles=st)


def _findings_sheet(wb, cons: Consolidation) -> SheetBody:
    ws = findings_sheet_head(wb, L.CHECK_SHEET)
    st = CellStyles(ws)
    styles = [st.id(alignment=finding_alignment(c)) for c in range(1, len(FINDINGS_HEADER) + 1)]
    body = findings_rows(cons.findings)

    def rows():
        for row in body:
            yield [(v if v != "" else None, 0 if v == "" else styles[c]) for c, v in enumerate(row)]

    return SheetBody(first_row=2, rows=rows(), count=len(body), width=len(FINDINGS_HEADER), styles=st)


def _workbook(cons: Consolidation):
    """The openpyxl part (the root's template with totals, the long tables' headers) and the
    long tables' rows, which are streamed in when the workbook is saved."""
    root = cons.tree[cons.tree.root]
    wb, bodies = build_template_streamed(cons.catalogue, root, cons.period, values=cons.totals,
                                         narratives=_narrative_lists(cons), kind=L.KIND_TOTAL,
                                         has_children=bool(cons.tree.children[root.code]))
    bodies.update({L.SUMMARY_SHEET: _summary_sheet(wb, cons), L.STATUS_SHEET: _status_sheet(wb, cons),
                   L.CHECK_SHEET: _findings_sheet(wb, cons)})
    return wb, bodies


def save_consolidated(cons: Consolidation, out: BinaryIO) -> None:
    """Write the consolidated workbook to a binary file object."""
    wb, bodies = _workbook(cons)
    save_with_bodies(wb, out, bodies)


def write_consolidated(cons: Consolidation, path: str | Path) -> Path:
    """Write the consolidated workbook to `path`, which is replaced only once it is complete."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        save_consolidated(cons, f)
    return path
