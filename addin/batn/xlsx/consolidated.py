"""The consolidated workbook: the root unit's template filled with totals (so it can be
sent up as is), plus the per-unit summary, the submission status and the findings."""
from __future__ import annotations

from pathlib import Path

from openpyxl.styles import Alignment, Font

from .. import layout as L
from ..rollup import Consolidation
from ..safeio import atomic_save_workbook
from ..tables import status_frame, summary_frame
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
    df = summary_frame(cons)
    cat = cons.catalogue
    header_row(ws, 1, ["Mã", "Đơn vị", "Tình trạng", *[i.label for i in cat.indicators]],
               [12, 40, 16] + [14] * len(cat.indicators))
    for c, code in enumerate(cat.codes, start=4):
        put(ws, 2, c, code).font = Font(italic=True, size=8)
    ws.row_dimensions[1].height = 75
    ws.freeze_panes = "D3"
    for i, row in enumerate(df.itertuples(index=False), start=3):
        put(ws, i, 1, row.code)
        put(ws, i, 2, row.name).alignment = Alignment(indent=int(row.depth))
        put(ws, i, 3, row.status)
        for c, code in enumerate(cat.codes, start=4):
            v = getattr(row, code)
            put(ws, i, c, None if v is None or v != v else v).number_format = "#,##0"
    last = len(df) + 3
    put(ws, last, 2, "TỔNG CỘNG").font = Font(bold=True)
    for c, code in enumerate(cat.codes, start=4):
        put(ws, last, c, cons.totals.get(code)).font = Font(bold=True)
        ws.cell(last, c).number_format = "#,##0"


def _status_sheet(wb, cons: Consolidation) -> None:
    ws = wb.create_sheet(L.STATUS_SHEET)
    put(ws, 1, 1, f"Đã gửi báo cáo: {len(cons.sent)}/{len(cons.expected)} đơn vị — "
                  f"tổng hợp lúc {cons.as_of:%H:%M ngày %d/%m/%Y}").font = Font(bold=True)
    put(ws, 2, 1, len(cons.sent))
    put(ws, 2, 2, len(cons.expected))
    put(ws, 2, 3, cons.as_of)
    ws.cell(2, 3).number_format = "dd/mm/yyyy hh:mm"
    ws.row_dimensions[2].hidden = True
    _define(wb, L.NAME_SENT, ws.title, "$A$2")
    _define(wb, L.NAME_EXPECTED, ws.title, "$B$2")
    _define(wb, L.NAME_AS_OF, ws.title, "$C$2")
    header_row(ws, 3, ["STT", "Mã", "Đơn vị", "Cấp", "Tình trạng", "Tệp", "Thời gian nhận", "Hạn nộp",
                       "Số lỗi", "Số cảnh báo", "Tệp bị bỏ qua"], [6, 12, 40, 16, 18, 40, 18, 12, 8, 10, 40])
    for i, r in enumerate(status_frame(cons).itertuples(index=False), start=1):
        vals = [i, r.code, r.name, r.level, r.status, r.file, r.received, r.deadline, r.errors, r.warnings, r.ignored]
        for c, v in enumerate(vals, start=1):
            put(ws, i + 3, c, None if v is None or v != v else v)
        ws.cell(i + 3, 3).alignment = Alignment(indent=int(r.depth))
        ws.cell(i + 3, 7).number_format = "dd/mm/yyyy hh:mm"
        ws.cell(i + 3, 8).number_format = "dd/mm/yyyy"


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
