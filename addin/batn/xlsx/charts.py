"""The "Biểu đồ" sheet: native charts (openpyxl, drawn by Excel, LibreOffice and WPS) laid out for
one printed A4 page: submission status by direct sub-unit (with each one's x/y), the main
indicators by direct sub-unit, and this period against the previous one when it is given.

The charts' figures are written on the same sheet, right of the printed area, so a clerk can see
and copy them; the page prints only the charts."""
from __future__ import annotations

import math
from typing import Mapping, Sequence

from openpyxl.chart import BarChart, Reference
from openpyxl.chart.label import DataLabelList
from openpyxl.chart.legend import Legend
from openpyxl.chart.text import RichText, Text
from openpyxl.chart.title import Title
from openpyxl.drawing.spreadsheet_drawing import AnchorMarker, TwoCellAnchor
from openpyxl.drawing.text import CharacterProperties, Paragraph, ParagraphProperties, RegularTextRun
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from ..completeness import STATUS_BUCKETS, Group
from ..model import Catalogue
from ..rollup import Consolidation
from .cells import NUMBER, put

CHANGE = "[$-42A]0.0"      # a change in percent, "-11,7" on any machine (see cells.NUMBER)
from .printing import PageText, print_setup

SHEET = "Biểu đồ"
PAGE_COLS = 12                  # A..L: the printed page
COL_WIDTH = 8.0
ROW_CM = 0.53                   # a default row (15 pt)
FULL_CM = 18.0                  # a chart's width: the page across
DATA_COL = PAGE_COLS + 3        # the charts' figures start in column O
STATUS_COLOURS = {"đúng hạn": "70AD47", "nộp muộn": "FFC000", "có lỗi": "C00000", "chưa nộp": "A5A5A5"}
STATUS_NAMES = {"đúng hạn": "Nộp đúng hạn", "nộp muộn": "Nộp muộn", "có lỗi": "Có lỗi", "chưa nộp": "Chưa nộp"}
MAIN_INDICATORS = 4


def main_indicators(catalogue: Catalogue, settings: Mapping | None, n: int = MAIN_INDICATORS) -> list[str]:
    """The indicators charted by sub-unit: the settings' `[workbook] chart_indicators` that the
    catalogue has, else the catalogue's `report.charts`, else one per part of the catalogue (its
    first count of turns or people: what a leader asks about first)."""
    wanted = list(((settings or {}).get("workbook") or {}).get("chart_indicators") or [])
    wanted += list((catalogue.report or {}).get("charts") or []) if not [c for c in wanted if c in catalogue] else []
    codes = [c for c in dict.fromkeys(wanted) if c in catalogue]
    if not codes:
        for section in catalogue.sections:
            members = catalogue.in_section(section.key)
            best = next((i for i in members if i.kind == "turns"), None) or \
                next((i for i in members if i.kind in ("people", "ratio_num")), None)
            if best is not None:
                codes.append(best.code)
    return codes[:n]


class _Data:
    """The charts' figures, block under block in the columns right of the page."""

    def __init__(self, ws):
        self.ws, self.row = ws, 1

    def block(self, title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> tuple[int, int]:
        """Write a titled table; return (header row, last row)."""
        ws, r = self.ws, self.row
        put(ws, r, DATA_COL, title).font = Font(bold=True)
        for c, h in enumerate(header):
            put(ws, r + 1, DATA_COL + c, h).font = Font(bold=True)
        for i, row in enumerate(rows, start=r + 2):
            for c, v in enumerate(row):
                put(ws, i, DATA_COL + c, v)
        self.row = r + 2 + len(rows) + 1
        return r + 1, r + 1 + len(rows)


def _text(size: float, bold: bool = False) -> RichText:
    """Chart text of `size` points (the default title, 18 pt, would take half a small chart)."""
    cp = CharacterProperties(sz=int(size * 100), b=bold)
    return RichText(p=[Paragraph(pPr=ParagraphProperties(defRPr=cp), endParaRPr=cp)])


def _title(text: str, size: float = 11) -> Title:
    cp = CharacterProperties(sz=int(size * 100), b=True)
    para = Paragraph(pPr=ParagraphProperties(defRPr=cp), r=[RegularTextRun(rPr=cp, t=text)])
    return Title(tx=Text(rich=RichText(p=[para])), overlay=False)


def _values_shown(ch: BarChart, number_format: str = NUMBER) -> None:
    """Each bar's figure at its end, and nothing else (LibreOffice would add the names)."""
    ch.dataLabels = DataLabelList()
    ch.dataLabels.showVal = True
    for flag in ("showCatName", "showSerName", "showLegendKey", "showPercent", "showBubbleSize", "showLeaderLines"):
        setattr(ch.dataLabels, flag, False)
    ch.dataLabels.numFmt = number_format
    ch.dataLabels.txPr = _text(8)


def _bar(title: str, width: float, height: float, *, stacked: bool = False) -> BarChart:
    ch = BarChart()
    ch.type = "bar"                     # horizontal: long unit names read along the axis
    ch.grouping = "stacked" if stacked else "clustered"
    if stacked:
        ch.overlap = 100
    ch.gapWidth = 60
    ch.title = _title(title)
    ch.width, ch.height = width, height
    ch.x_axis.scaling.orientation = "maxMin"     # the first sub-unit on top, as in the tables
    ch.x_axis.delete = False
    ch.y_axis.delete = False
    ch.y_axis.majorGridlines = None
    ch.y_axis.number_format = NUMBER
    ch.x_axis.txPr = _text(8)
    ch.y_axis.txPr = _text(8)
    ch.legend = None
    return ch


def _height(n: int, base: float, per: float) -> float:
    return round(max(base, 2.2 + per * n), 1)


def _anchor(ws, ch: BarChart, row: int) -> int:
    """Place the chart from `row` down, across the whole page (anchored to the page's columns, so it
    fills the width whatever width a program gives a column); return the first row under it."""
    rows = math.ceil(ch.height / ROW_CM)
    ch.anchor = TwoCellAnchor(_from=AnchorMarker(col=0, row=row - 1), to=AnchorMarker(col=PAGE_COLS, row=row - 1 + rows))
    ws.add_chart(ch)
    return row + rows + 1


def status_chart(ws, data: _Data, groups: Sequence[Group], row: int) -> int:
    header = ["Đơn vị", *[STATUS_NAMES[b] for b in STATUS_BUCKETS]]
    first, last = data.block("Tình hình nộp báo cáo theo đơn vị trực thuộc (số đơn vị)", header,
                             [[g.label, *[g.tally.bucket(b) for b in STATUS_BUCKETS]] for g in groups])
    ch = _bar("Tình hình nộp báo cáo theo đơn vị trực thuộc (đã nộp/phải nộp)", FULL_CM,
              _height(len(groups), 5.0, 0.6), stacked=True)
    ch.add_data(Reference(ws, min_col=DATA_COL + 1, max_col=DATA_COL + len(STATUS_BUCKETS), min_row=first, max_row=last),
                titles_from_data=True)
    ch.set_categories(Reference(ws, min_col=DATA_COL, min_row=first + 1, max_row=last))
    for s, bucket in zip(ch.series, STATUS_BUCKETS):
        s.graphicalProperties.solidFill = STATUS_COLOURS[bucket]
        s.graphicalProperties.line.solidFill = STATUS_COLOURS[bucket]
    ch.legend = Legend()
    ch.legend.position = "b"
    ch.legend.txPr = _text(9)
    ch.y_axis.majorUnit = max(1, math.ceil(max((g.tally.expected for g in groups), default=1) / 8))
    return _anchor(ws, ch, row)


def indicator_charts(ws, data: _Data, groups: Sequence[Group], catalogue: Catalogue, codes: Sequence[str],
                     row: int) -> int:
    """One chart per main indicator, under each other. The sum of "Các đơn vị khác" is left out: beside
    single units it would flatten every other bar; the title says how many are drawn."""
    drawn = [g for g in groups if not g.rest]
    note = f" — {len(drawn)} đơn vị trực thuộc lớn nhất" if len(drawn) < len(groups) else ""
    height = _height(len(drawn), 4.2, 0.42)
    for code in codes:
        ind = catalogue[code]
        first, last = data.block(f"{ind.label} ({ind.unit})", ["Đơn vị", ind.unit],
                                 [[g.name, g.totals.get(code) or 0] for g in drawn])
        ch = _bar(f"{ind.label} ({ind.unit}){note}", FULL_CM, height)
        ch.add_data(Reference(ws, min_col=DATA_COL + 1, min_row=first, max_row=last), titles_from_data=True)
        ch.set_categories(Reference(ws, min_col=DATA_COL, min_row=first + 1, max_row=last))
        ch.series[0].graphicalProperties.solidFill = "4472C4"
        _values_shown(ch)
        row = _anchor(ws, ch, row)
    return row


def previous_chart(ws, data: _Data, catalogue: Catalogue, codes: Sequence[str], now: Mapping[str, object],
                   before: Mapping[str, object], before_label: str, row: int) -> int:
    """Each main indicator this period against the previous one, as a change in percent."""
    rows = []
    for code in codes:
        a, b = now.get(code), before.get(code)
        change = round(100 * (a - b) / b, 1) if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None
        rows.append([catalogue[code].label, b, a, change])
    first, last = data.block(f"So với {before_label}", ["Chỉ tiêu", before_label.capitalize(), "Kỳ này", "Tăng/giảm (%)"],
                             rows)
    for r in range(first + 1, last + 1):       # LibreOffice labels the bars with the cells' own format
        ws.cell(r, DATA_COL + 3).number_format = CHANGE
    ch = _bar(f"Tăng, giảm so với {before_label} (%)", FULL_CM, _height(len(codes), 5.0, 0.8))
    ch.add_data(Reference(ws, min_col=DATA_COL + 3, min_row=first, max_row=last), titles_from_data=True)
    ch.set_categories(Reference(ws, min_col=DATA_COL, min_row=first + 1, max_row=last))
    ch.series[0].graphicalProperties.solidFill = "4472C4"
    ch.series[0].invertIfNegative = False
    ch.x_axis.tickLblPos = "low"          # names left of the chart, clear of bars that go below zero
    _values_shown(ch, CHANGE)
    ch.y_axis.number_format = "0"
    return _anchor(ws, ch, row)


def write_charts_sheet(wb, cons: Consolidation, groups: Sequence[Group], codes: Sequence[str],
                       previous: Mapping[str, object] | None = None, previous_label: str = "kỳ trước"):
    """The "Biểu đồ" sheet, printed on one A4 page."""
    ws = wb.create_sheet(SHEET)
    root = cons.tree[cons.tree.root]
    for c in range(1, PAGE_COLS + 1):
        ws.column_dimensions[get_column_letter(c)].width = COL_WIDTH
    ws.column_dimensions[get_column_letter(DATA_COL)].width = 40
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=PAGE_COLS)
    title = put(ws, 1, 1, f"BIỂU ĐỒ TỔNG HỢP — {root.name.upper()} — {cons.period.label.upper()}")
    title.font = Font(bold=True, size=13)
    title.alignment = Alignment(horizontal="center")
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=PAGE_COLS)
    sub = put(ws, 2, 1, f"Đã gửi báo cáo: {len(cons.sent)}/{len(cons.expected)} đơn vị; số liệu tổng hợp lúc "
                        f"{cons.as_of:%H:%M ngày %d/%m/%Y}")
    sub.font = Font(italic=True)
    sub.alignment = Alignment(horizontal="center")
    data = _Data(ws)
    row = 4
    if groups:
        row = status_chart(ws, data, groups, row)
        if codes:
            row = indicator_charts(ws, data, groups, cons.catalogue, codes, row)
    if previous is not None and codes:
        row = previous_chart(ws, data, cons.catalogue, codes, cons.totals, previous, previous_label, row)
    if not groups and previous is None:
        put(ws, 4, 1, "Đơn vị chưa có đơn vị trực thuộc: không có biểu đồ theo đơn vị.").font = Font(italic=True)
    print_setup(ws, landscape=False, area=f"A1:{get_column_letter(PAGE_COLS)}{max(row, 5)}",
                page=PageText(root.name, cons.period.label))
    ws.page_setup.fitToHeight = 1            # one page, whatever the number of sub-units
    ws.sheet_view.showGridLines = False
    return ws
