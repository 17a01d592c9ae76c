"""The consolidated workbook: the root unit's template filled with totals (so it can be
sent up as is), plus the per-unit summary, the submission status and the findings."""
from __future__ import annotations

from pathlib import Path

from openpyxl.styles import Alignment, Font

from .. import layout as L
from ..rollup import Consolidation
from ..safeio import atomic_save_workbook
from ..tables import STATUS_WIDTHS, sent_line, status_rows, summary_rows
from .cells import findings_sheet, header_row, put
from .template import _define, build_template


def _narrative_rows(cons: Consolidation) -> dict[str, list[tuple[str, ...]]]:
    """Each row keeps the unit that sent it: in its unit column, or in brackets after the text."""
    out = {}
    for nl in cons.catalogue.narratives:
        unit_col = next((i for i, h in enumerate(nl.columns) if h.startswith("Đơn vị")), None)
        rows = []
        for unit_name, row in cons.narratives.get(nl.key, []):
            row = list(row) + [""] * (len(nl.columns) - len(row))
            if unit_col is not None:
                row[unit_col] = row[unit_col] or unit_name
            else:
                row[-1] = f"{row[-1]} ({unit_name})"
            rows.append(tuple(row))
        out[nl.key] = rows
    return out


def _summary_sheet(wb, cons: Consolidation) -> None:
    ws = wb.create_sheet(L.SUMMARY_SHEET)
    cat = cons.catalogue
    rows = summary_rows(cons, indent="")          # the indent is the cell's, so the name stays clean
    depths = [r.depth for r in cons.units.values()]
    header_row(ws, 1, rows[0], [12, 40, 16] + [14] * len(cat.indicators))
    for c, code in enumerate(cat.codes, start=4):
        put(ws, 2, c, code).font = Font(italic=True, size=8)
    ws.row_dimensions[1].height = 75
    ws.freeze_panes = "D3"
    last = len(rows)
    for i, row in enumerate(rows[2:], start=3):
        for c, v in enumerate(row, start=1):
            cell = put(ws, i, c, v)
            if c >= 4:
                cell.number_format = "#,##0"
            if i == last:
                cell.font = Font(bold=True)
        if i < last:
            ws.cell(i, 2).alignment = Alignment(indent=depths[i - 3])


def _status_sheet(wb, cons: Consolidation) -> None:
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
    rows = status_rows(cons, indent="")
    depths = [r.depth for r in cons.units.values()]
    header_row(ws, 3, rows[0], list(STATUS_WIDTHS))
    for i, row in enumerate(rows[1:], start=4):
        for c, v in enumerate(row, start=1):
            put(ws, i, c, v)
        ws.cell(i, 3).alignment = Alignment(indent=depths[i - 4])
        ws.cell(i, 7).number_format = "dd/mm/yyyy hh:mm"
        ws.cell(i, 8).number_format = "dd/mm/yyyy"


def build_consolidated(cons: Consolidation):
    root = cons.tree[cons.tree.root]
    wb = build_template(cons.catalogue, root, cons.period, values=cons.totals,
                        narratives=_narrative_rows(cons), kind=L.KIND_TOTAL,
                        has_children=bool(cons.tree.children[root.code]))
    _summary_sheet(wb, cons)
    _status_sheet(wb, cons)
    findings_sheet(wb, cons.findings, L.CHECK_SHEET)
    return wb


def write_consolidated(cons: Consolidation, path: str | Path) -> Path:
    path = Path(path)
    atomic_save_workbook(build_consolidated(cons), path)
    return path
