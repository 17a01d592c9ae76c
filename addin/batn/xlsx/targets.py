"""The consolidated workbook's "Chỉ tiêu kế hoạch" sheet: each planned figure beside the result.

Written only when the catalogue has targets (`target:`); the verdict is the one the report says
(batn.model.Target.verdict): đạt, vượt or chưa đạt chỉ tiêu.
"""
from __future__ import annotations

from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

from ..model import Catalogue
from .cells import LINE_HEIGHT_PT, NUMBER, PERCENT, put, text_lines

TARGETS_SHEET = "Chỉ tiêu kế hoạch"
_THIN = Side(style="thin", color="808080")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEAD = PatternFill("solid", fgColor="BDD7EE")
_VERDICT_FILL = {"vượt": "C6EFCE", "đạt": "E2EFDA", "chưa đạt": "F4B6B6"}


def _n(v: float) -> str:
    return f"{round(v):,}".replace(",", ".") if abs(v - round(v)) < 1e-9 else f"{v:.1f}".replace(".", ",")


def target_rows(cat: Catalogue, values) -> list[list]:
    """[STT, nội dung, đơn vị tính, chỉ tiêu, kết quả, tỷ lệ thực hiện, đánh giá] per targeted indicator."""
    rows = []
    for n, ind in enumerate((i for i in cat.indicators if i.target is not None), start=1):
        t = ind.target
        goal = t.goal(values)
        result = values.get(ind.code)
        if t.of is None:
            plan = f"{'tối đa ' if t.at_most else ''}{_n(t.value)} {ind.unit}"
        else:
            base = cat[t.of].label[:1].lower() + cat[t.of].label[1:] if t.of in cat else t.of
            plan = (f"{_n(t.value * 100)}% {base}" if "%" in t.text or ind.kind == "ratio_num"
                    else f"{_n(t.value)} {ind.unit} mỗi {base}")
            if goal is not None:
                plan += f" (= {_n(goal)} {ind.unit})"
        done = round(result / goal, 4) if result is not None and goal else None
        verdict = t.verdict(result, values)
        rows.append([n, ind.label, ind.unit, plan, result, done,
                     f"{verdict} chỉ tiêu" if verdict else "chưa có số liệu"])
    return rows


def write_targets_sheet(wb, cat: Catalogue, values) -> None:
    """Add the sheet to a consolidated workbook (openpyxl) when `cat` has targets."""
    rows = target_rows(cat, values)
    if not rows:
        return
    ws = wb.create_sheet(TARGETS_SHEET)
    ws["A1"] = "KẾT QUẢ THỰC HIỆN CHỈ TIÊU KẾ HOẠCH"
    ws["A1"].font = Font(bold=True, size=13)
    ws["A2"] = cat.title
    ws["A2"].font = Font(italic=True)
    head = ["STT", "Chỉ tiêu", "Đơn vị tính", "Chỉ tiêu kế hoạch", "Kết quả", "Tỷ lệ thực hiện", "Đánh giá"]
    for c, (text, width) in enumerate(zip(head, (6, 52, 12, 26, 14, 12, 18)), start=1):
        cell = ws.cell(4, c, text)
        cell.font, cell.fill, cell.border = Font(bold=True), _HEAD, _BOX
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[cell.column_letter].width = width
    for r, row in enumerate(rows, start=5):
        for c, v in enumerate(row, start=1):
            cell = put(ws, r, c, v)
            cell.border = _BOX
            cell.alignment = Alignment(vertical="center", wrap_text=c in (2, 4))
        lines = max(text_lines(str(row[1]), 52), text_lines(str(row[3]), 26))
        if lines > 1:                      # LibreOffice does not size wrapped rows
            ws.row_dimensions[r].height = LINE_HEIGHT_PT * lines
        ws.cell(r, 5).number_format = NUMBER
        ws.cell(r, 6).number_format = PERCENT
        verdict = str(row[6]).replace(" chỉ tiêu", "")
        if verdict in _VERDICT_FILL:
            ws.cell(r, 7).fill = PatternFill("solid", fgColor=_VERDICT_FILL[verdict])
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "portrait"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "4:4"
    ws.protection.sheet = True
