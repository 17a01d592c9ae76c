"""Replay annotation actions on a copy of an xlsx file: coloured cells, notes, a results sheet."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import PatternFill
from openpyxl.workbook.defined_name import DefinedName

from .. import layout as L
from ..actions import MarkCell, WriteFindingsSheet
from ..safeio import atomic_save_workbook
from .cells import findings_sheet
from .package import annotation_mark, stamp_saved_time


def apply_to_xlsx(src: str | Path, actions, dst: str | Path) -> Path:
    wb = load_workbook(src)
    for a in actions:
        if isinstance(a, MarkCell) and a.sheet in wb.sheetnames:
            ws = wb[a.sheet]
            cell = ws[a.cell]
            for rng in ws.merged_cells.ranges:      # a merged cell's note and fill live on its first cell
                if a.cell in rng:
                    cell = ws.cell(rng.min_row, rng.min_col)
                    break
            cell.fill = PatternFill("solid", fgColor=a.colour)
            cell.comment = Comment(a.note, "batn", width=320, height=120)
        elif isinstance(a, WriteFindingsSheet):
            findings_sheet(wb, list(a.findings), L.CHECK_SHEET)
    # The mark that makes this copy batn's own, whatever it is renamed to: the save time batn gives
    # it. Untouched, it is skipped in an inbox and never annotated again; once the unit corrects it
    # and saves it, Excel records a new save time and it is read as the unit's new report.
    when = datetime.now(timezone.utc).replace(microsecond=0)
    wb.defined_names[L.NAME_ANNOTATED] = DefinedName(L.NAME_ANNOTATED, attr_text=f'"{annotation_mark(when)}"')
    atomic_save_workbook(wb, dst)
    stamp_saved_time(dst, when)
    return Path(dst)
