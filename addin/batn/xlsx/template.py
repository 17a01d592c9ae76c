"""The standard Excel template for one unit and one period (openpyxl).

The workbook checks itself with no add-in: native data validation on every
input cell, a "Kiểm tra" column of formulas compiled from the catalogue's
rules, conditional formatting driven by that column, and a status cell
"Số lỗi: N". The same rules compile to the Python checks (batn.checks), so
Excel and batn agree.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

from openpyxl import Workbook
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation

from .. import layout as L
from ..findings import _kinds
from ..model import Catalogue, Indicator, Period, Rule, Severity, Unit
from .cells import LINE_HEIGHT_PT, put, text_lines, wrapped_height
from .rowstream import CellStyles, SheetBody

INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")      # light yellow: type here
SECTION_FILL = PatternFill("solid", fgColor="D9E1F2")
HEADER_FILL = PatternFill("solid", fgColor="BDD7EE")
ERROR_FILL = PatternFill("solid", fgColor="F4B6B6")
WARNING_FILL = PatternFill("solid", fgColor="FFD699")
THIN = Side(style="thin", color="808080")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
BOLD = Font(bold=True)
UNLOCKED = Protection(locked=False)

ROMAN = {"0": "", "I": "I", "II.1": "II.1", "II.2": "II.2", "II.3": "II.3", "III": "III"}
FIRST_TABLE_ROW = 11   # header row; indicators start below it
COL_STT, COL_LABEL, COL_UNIT, COL_VALUE, COL_NOTE, COL_CHECK, COL_ERR, COL_WARN = range(1, 9)


@dataclass
class IndicatorRow:
    indicator: Indicator
    row: int
    stt: str


def _define(wb: Workbook, name: str, sheet: str, ref: str) -> None:
    wb.defined_names[name] = DefinedName(name, attr_text=f"{quote_sheetname(sheet)}!{ref}")


def _abs(col: int, row: int) -> str:
    return f"${get_column_letter(col)}${row}"


def _q(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def layout_rows(catalogue: Catalogue) -> tuple[list[tuple[str, object]], dict[str, IndicatorRow]]:
    """Rows of the data table in order: ("section", Section) | ("indicator", IndicatorRow) | ("ratio", (num, den))."""
    rows: list[tuple[str, object]] = []
    placed: dict[str, IndicatorRow] = {}
    r = FIRST_TABLE_ROW + 1
    n = 0
    ratio_of = dict(catalogue.ratios)
    for section in catalogue.sections:
        members = catalogue.in_section(section.key)
        if not members:
            continue
        rows.append(("section", section))
        r += 1
        for ind in members:
            n += 1
            ir = IndicatorRow(ind, r, str(n))
            placed[ind.code] = ir
            rows.append(("indicator", ir))
            r += 1
            if ind.code in ratio_of:
                rows.append(("ratio", (ind.code, ratio_of[ind.code])))
                r += 1
    return rows, placed


def check_formula(ir: IndicatorRow, placed: Mapping[str, IndicatorRow], ceiling: int | None = None) -> str:
    """The "Kiểm tra" cell of one indicator row, compiled from the catalogue's rules and the
    indicator's ceiling (`Catalogue.ceiling`), in the order batn's checks take them."""
    kinds = _kinds()
    cell = _abs(COL_VALUE, ir.row)
    tail = '""'
    for rule in reversed([r for r in ir.indicator.rules if r.op != "required"]):
        text = rule_text(rule, placed)
        cond = _rule_condition(rule, cell, _abs(COL_VALUE, placed[rule.other].row) if rule.other else "", placed)
        tail = f"IF({cond},{_q(text)},{tail})"
    return (
        f'=IF({cell}="",{_required_formula(ir, placed)},IF(ISTEXT({cell}),{text_check(cell)},'
        f'IF(NOT(ISNUMBER({cell})),{_q(kinds["not-a-number"]["formula"])},'
        f'IF({cell}<0,{_q(kinds["negative"]["formula"])},'
        + (f'IF({cell}>{ceiling},{_q(kinds["implausible-value"]["formula"])},' if ceiling is not None else "")
        + f'IF({cell}<>INT({cell}),{_q(kinds["fractional"]["formula"])},{tail})))))'
        + (")" if ceiling is not None else "")
    )


def rule_text(rule: Rule, placed: Mapping[str, IndicatorRow]) -> str:
    """What the "Kiểm tra" cell says when `rule` is broken ("Lỗi: …" or "Cảnh báo: …")."""
    kinds = _kinds()
    if rule.op in ("le", "ge_both", "needs"):
        return kinds[f"rule-{rule.op}"]["formula"].format(other_stt=placed[rule.other].stt)
    head = "Lỗi" if rule.severity == Severity.ERROR else "Cảnh báo"
    return f"{head}: " + kinds[f"rule-{rule.op}"]["formula"].format(rule=rule_words(rule, placed))


def rule_words(rule: Rule, placed: Mapping[str, IndicatorRow]) -> str:
    """A rule written with the template's item numbers ("mục 3 + mục 4 <= mục 1")."""
    def side(terms) -> str:
        out = ""
        for n, t in enumerate(terms):
            sign = "-" if t.factor < 0 else "+"
            f = abs(t.factor)
            if t.code is None:
                word = _num(f)
            else:
                word = ("" if f == 1 else f"{_num(f)} × ") + f"mục {placed[t.code].stt}"
            out += (("- " if sign == "-" else "") + word) if n == 0 else f" {sign} {word}"
        return out

    def cmp(c) -> str:
        return f"{side(c.left)} {c.op} {side(c.right)}"
    text = cmp(rule.test) if rule.test else "bắt buộc nhập"
    if rule.when:
        text += " khi " + " và ".join(cmp(c) for c in rule.when)
    return text


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}".replace(".", ",")


def _required_formula(ir: IndicatorRow, placed: Mapping[str, IndicatorRow]) -> str:
    """What the "Kiểm tra" cell of a blank row says: "" unless the indicator must be filled."""
    kinds = _kinds()
    out = '""'
    rules = [r for r in ir.indicator.rules if r.op == "required"]
    for rule in reversed(rules):
        head = "Lỗi" if rule.severity == Severity.ERROR else "Cảnh báo"
        text = f"{head}: " + kinds["required"]["formula"]
        cond = "AND(" + ",".join(_holds(c, placed) for c in rule.when) + ")" if rule.when else "TRUE"
        out = f"IF({cond},{_q(text)},{out})"
    if ir.indicator.required:
        head = "Lỗi" if ir.indicator.required == Severity.ERROR else "Cảnh báo"
        out = _q(f"{head}: " + kinds["required"]["formula"])
    return out


def _side(terms, placed: Mapping[str, IndicatorRow]) -> tuple[str, list[str]]:
    """A sum as an Excel expression, and the cells it names."""
    parts, cells = [], []
    for t in terms:
        if t.code is None:
            parts.append(f"{t.factor:g}")
            continue
        c = _abs(COL_VALUE, placed[t.code].row)
        cells.append(c)
        f = "" if t.factor == 1 else (f"{t.factor:g}*" if t.factor != -1 else "-")
        parts.append(f"{f}N({c})")
    return "(" + "+".join(parts).replace("+-", "-") + ")", cells


_XL_OP = {"<=": "<=", ">=": ">=", "<": "<", ">": ">", "=": "=", "<>": "<>"}


def _judged(c, placed: Mapping[str, IndicatorRow], holds: bool) -> str:
    """Excel: the comparison can be judged (both sides have figures) and holds, or does not;
    mirrors batn.model.Comparison.holds."""
    left, lc = _side(c.left, placed)
    right, rc = _side(c.right, placed)
    expr = f"ROUND({left}-{right},9){_XL_OP[c.op]}0"
    expr = expr if holds else f"NOT({expr})"
    if lc and rc:
        return f"AND(COUNT({','.join(lc)})>0,COUNT({','.join(rc)})>0,{expr})"
    return expr


def _holds(c, placed: Mapping[str, IndicatorRow]) -> str:
    return _judged(c, placed, holds=True)


def _broken(c, placed: Mapping[str, IndicatorRow]) -> str:
    return _judged(c, placed, holds=False)


def text_check(cell: str) -> str:
    """The "Kiểm tra" cell for text in a number cell, agreeing with batn (batn.numbers.parse_figure).

    batn reads some text as a number ("216 lượt", "8.964", " 243 ") and says so with the cảnh báo
    number-as-text; other text is a lỗi. The formula says lỗi only where batn certainly does: no digit
    at all ("mười"), a first character that is not a digit or "+" (batn reads a number only at the start;
    "-5" is a negative figure), a figure of batn's two ambiguous shapes ("1,644", "1.5"), and cảnh báo
    "số gõ dạng chữ" for the rest.
    Blank text (spaces) is blank, as in batn."""
    kinds = _kinds()
    digits = "{" + ",".join(f'"{d}"' for d in range(10)) + "}"
    trimmed = f"TRIM({cell})"
    return (f'IF({trimmed}="","",'
            f'IF(SUMPRODUCT(--ISNUMBER(FIND({digits},{cell})))=0,{_q(kinds["not-a-number"]["formula"])},'
            f'IF(LEFT({trimmed},1)="-",{_q(kinds["negative"]["formula"])},'
            f'IF(ISERROR(FIND(LEFT({trimmed},1),"0123456789+")),{_q(kinds["not-a-number"]["formula"])},'
            f'IF({_ambiguous(trimmed)},{_q(kinds["ambiguous-number"]["formula"])},'
            f'{_q(kinds["number-as-text"]["formula"])})))))')


def _ambiguous(trimmed: str) -> str:
    """The formula of batn.numbers' two ambiguous shapes, on the figure before the first space (batn
    reads the figure up to its unit word): "1,644" (one comma, three digits after it, one to three
    before) and "1.5", "12.25" (one dot, not three digits after it). Digits only apart from the mark."""
    tok = f'SUBSTITUTE(LEFT({trimmed},FIND(" ",{trimmed}&" ")-1),"+","")'
    commas = f'(LEN({tok})-LEN(SUBSTITUTE({tok},",","")))'
    dots = f'(LEN({tok})-LEN(SUBSTITUTE({tok},".","")))'
    comma = (f'AND({commas}=1,{dots}=0,LEN({tok})>=5,LEN({tok})<=7,MID({tok},LEN({tok})-3,1)=",",'
             f'ISNUMBER(-SUBSTITUTE({tok},",","")))')
    dot = (f'AND({dots}=1,{commas}=0,LEFT({tok},1)<>".",RIGHT({tok},1)<>".",'
           f'LEN({tok})-FIND(".",{tok})<>3,ISNUMBER(-SUBSTITUTE({tok},".","")))')
    return f"OR(IFERROR({comma},FALSE),IFERROR({dot},FALSE))"      # AND does not stop at its first FALSE


def _rule_condition(rule: Rule, v: str, o: str, placed: Mapping[str, IndicatorRow] | None = None) -> str:
    # Mirrors batn.model.Rule.broken; both are tested against the same cases.
    if rule.op == "le":
        return f"AND(ISNUMBER({o}),{v}>{o})"
    if rule.op == "ge_both":
        return f"AND({v}>0,ISNUMBER({o}),N({o})>0,{v}<N({o}))"
    if rule.op == "needs":
        return f"AND({v}>0,N({o})<=0)"
    if rule.op == "expr" and placed is not None and rule.test is not None:
        parts = [_holds(c, placed) for c in rule.when] + [_broken(rule.test, placed)]
        return parts[0] if len(parts) == 1 else "AND(" + ",".join(parts) + ")"
    raise ValueError(rule.op)


def _write_header(ws, catalogue: Catalogue, unit: Unit, period: Period, kind: str, has_children: bool) -> None:
    ws["A1"] = f"BIỂU SỐ LIỆU KẾT QUẢ THỰC HIỆN PHONG TRÀO “{(catalogue.movement or '3 trách nhiệm').upper()}”"
    ws["A1"].font = Font(bold=True, size=13)
    ws["A2"] = catalogue.title
    ws["A2"].font = Font(italic=True)
    for r in (1, 2):
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=6)
        ws.cell(r, 1).alignment = Alignment(horizontal="center")
    meta = [
        (4, "Đơn vị:", unit.name, L.NAME_UNIT_NAME),
        (5, "Mã đơn vị:", unit.code, L.NAME_UNIT),
        (6, "Kỳ báo cáo:", period.id, L.NAME_PERIOD),
        (7, "Bộ chỉ tiêu:", catalogue.id, L.NAME_CATALOG),
        (8, "Loại số liệu:", kind, L.NAME_KIND),
    ]
    for row, label, value, name in meta:
        ws.cell(row, 2, label).font = BOLD
        ws.cell(row, 2).alignment = Alignment(horizontal="right")
        put(ws, row, 3, value)
        if name:
            _define(ws.parent, name, ws.title, _abs(3, row))
    ws.cell(6, 4, period.label).font = Font(italic=True)
    if has_children and kind != L.KIND_TOTAL:
        # A mid-level unit may send a hand-made total instead of its own figures.
        ws.cell(8, 3).protection = UNLOCKED
        ws.cell(8, 3).fill = INPUT_FILL
        dv = DataValidation(type="list", formula1=_q(f"{L.KIND_OWN},{L.KIND_TOTAL}"), allow_blank=False,
                            showErrorMessage=True, errorTitle="Loại số liệu",
                            error="Chọn một trong hai loại trong danh sách")
        ws.add_data_validation(dv)
        dv.add("C8")
    ws.cell(9, 2, "Tình trạng kiểm tra:").font = BOLD
    ws.cell(9, 2).alignment = Alignment(horizontal="right")


def _write_table(ws, catalogue: Catalogue, rows, placed, values: Mapping[str, object] | None) -> int:
    head = ["STT", "Nội dung", "Đơn vị tính", "Số liệu", "Ghi chú", "Kiểm tra"]
    for c, text in enumerate(head, start=1):
        cell = ws.cell(FIRST_TABLE_ROW, c, text)
        cell.font = BOLD
        cell.fill = HEADER_FILL
        cell.border = BOX
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    dv = DataValidation(type="whole", operator="greaterThanOrEqual", formula1="0", allow_blank=True,
                        showErrorMessage=True, errorTitle="Số liệu không hợp lệ",
                        error="Chỉ nhập số nguyên không âm (ví dụ 1644), không kèm chữ.",
                        showInputMessage=True, promptTitle="Số liệu", prompt="Nhập số nguyên không âm")
    ws.add_data_validation(dv)
    last = FIRST_TABLE_ROW
    for what, item in rows:
        if what == "section":
            r = last + 1
            ws.cell(r, 1, ROMAN.get(item.key, item.key))
            ws.cell(r, 2, item.heading.upper())
            for c in range(1, 7):
                ws.cell(r, c).fill = SECTION_FILL
                ws.cell(r, c).font = BOLD
                ws.cell(r, c).border = BOX
        elif what == "indicator":
            ir: IndicatorRow = item
            r = ir.row
            ind = ir.indicator
            ws.cell(r, COL_STT, int(ir.stt))
            ws.cell(r, COL_LABEL, ind.label)
            ws.cell(r, COL_UNIT, ind.unit)
            v = put(ws, r, COL_VALUE, (values or {}).get(ind.code))
            v.fill = INPUT_FILL
            v.protection = UNLOCKED
            v.number_format = "#,##0"
            note = ws.cell(r, COL_NOTE)
            note.protection = UNLOCKED
            note.fill = INPUT_FILL
            ws.cell(r, COL_CHECK, check_formula(ir, placed, catalogue.ceiling(ind)))
            ws.cell(r, COL_ERR, f'=IF(LEFT({get_column_letter(COL_CHECK)}{r},3)="Lỗi",1,0)')
            ws.cell(r, COL_WARN, f'=IF(LEFT({get_column_letter(COL_CHECK)}{r},8)="Cảnh báo",1,0)')
            dv.add(v.coordinate)
            _define(ws.parent, ind.code, ws.title, _abs(COL_VALUE, r))
            lines = text_lines(ind.label, 62)       # a province's long label: LibreOffice does not size the row
            if lines > 1:
                ws.row_dimensions[r].height = LINE_HEIGHT_PT * lines
        else:
            num, den = item
            r = placed[num].row + 1
            n_cell, d_cell = _abs(COL_VALUE, placed[num].row), _abs(COL_VALUE, placed[den].row)
            ws.cell(r, COL_LABEL, f"Tỷ lệ (tự tính): mục {placed[num].stt} / mục {placed[den].stt}").font = Font(italic=True)
            ws.cell(r, COL_UNIT, "%")
            c = ws.cell(r, COL_VALUE, f'=IF(AND(ISNUMBER({d_cell}),N({d_cell})>0,ISNUMBER({n_cell})),{n_cell}/{d_cell},"")')
            c.number_format = "0.0%"
        for col in range(1, 7):
            ws.cell(r, col).border = BOX
            ws.cell(r, col).alignment = Alignment(vertical="center", wrap_text=col in (2, 5, 6))
        last = r
    return last


def _write_status(ws, first: int, last: int) -> None:
    err = f"{get_column_letter(COL_ERR)}{first}:{get_column_letter(COL_ERR)}{last}"
    warn = f"{get_column_letter(COL_WARN)}{first}:{get_column_letter(COL_WARN)}{last}"
    ws["C9"] = f'="Số lỗi: "&SUM({err})'
    ws["D9"] = f'="Số cảnh báo: "&SUM({warn})'
    ws["C9"].font = Font(bold=True, color="C00000")
    ws["D9"].font = Font(bold=True, color="B36B00")
    _define(ws.parent, L.NAME_STATUS, ws.title, "$C$9")
    rng = f"D{first}:D{last}"
    check = get_column_letter(COL_CHECK)
    ws.conditional_formatting.add(rng, FormulaRule(formula=[f'LEFT(${check}{first},3)="Lỗi"'], fill=ERROR_FILL, stopIfTrue=True))
    ws.conditional_formatting.add(rng, FormulaRule(formula=[f'LEFT(${check}{first},8)="Cảnh báo"'], fill=WARNING_FILL))
    ws.column_dimensions[get_column_letter(COL_ERR)].hidden = True
    ws.column_dimensions[get_column_letter(COL_WARN)].hidden = True


def _print_setup(ws, title_rows: str | None = None) -> None:
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins.left = ws.page_margins.right = 0.6
    ws.page_margins.top = ws.page_margins.bottom = 0.75
    if title_rows:
        ws.print_title_rows = title_rows


def _protect(ws) -> None:
    # No password: protection guards against slips; deliberate edits are caught by `batn validate`.
    ws.protection.sheet = True
    ws.protection.formatRows = False      # allowed: row heights
    ws.protection.formatColumns = False   # allowed: column widths
    ws.protection.insertRows = True


def _write_data_sheet(wb: Workbook, catalogue, unit, period, values, kind, has_children) -> None:
    ws = wb.active
    ws.title = L.DATA_SHEET
    for col, width in zip("ABCDEF", (6, 62, 13, 16, 24, 30)):
        ws.column_dimensions[col].width = width
    _write_header(ws, catalogue, unit, period, kind, has_children)
    rows, placed = layout_rows(catalogue)
    last = _write_table(ws, catalogue, rows, placed, values)
    _write_status(ws, FIRST_TABLE_ROW + 1, last)
    ws.freeze_panes = ws.cell(FIRST_TABLE_ROW + 1, 3)
    _print_setup(ws, f"{FIRST_TABLE_ROW}:{FIRST_TABLE_ROW}")
    _protect(ws)


@dataclass
class NarrativeRows:
    """A narrative list's rows to be streamed when the workbook is saved (a consolidation's,
    thousands of them): how many there are, and an iterable that gives them once."""

    count: int
    rows: Iterable[Sequence[object]]


# The input area's cells, as openpyxl attributes: "stt" numbers a row, "input" is where a clerk types.
_NARRATIVE_STYLE = {
    "stt": {"border": BOX, "alignment": Alignment(horizontal="center", vertical="top")},   # beside its text's first line
    "input": {"fill": INPUT_FILL, "protection": UNLOCKED, "border": BOX,
              "alignment": Alignment(wrap_text=True, vertical="top")},
}


def _narrative_cells(nl, rows: Iterable[Sequence[object]], n_rows: int) -> Iterator[list[tuple[object, str]]]:
    """The input area row by row: (value, style name) for column A (STT) and each column of the list."""
    it = iter(rows)
    for i in range(n_rows):
        data = next(it, ())
        yield [(i + 1, "stt"), *[(data[c] if c < len(data) else None, "input") for c in range(len(nl.columns))]]


def _write_narrative_sheet(wb: Workbook, nl, rows: Sequence[Sequence[object]] | NarrativeRows | None) -> SheetBody | None:
    """The sheet with its heading and an input area of at least NARRATIVE_ROWS rows (5 spare below
    the filled ones). Rows given as `NarrativeRows` are returned as a body to stream; others are
    written here."""
    ws = wb.create_sheet(nl.sheet)
    ws["A1"] = nl.title
    ws["A1"].font = Font(bold=True, size=12)
    ws["A2"] = "Mỗi dòng một nội dung; thêm dòng nếu cần (chèn dòng ở giữa vùng nhập)."
    ws["A2"].font = Font(italic=True)
    headers = ("STT", *nl.columns)
    for c, text in enumerate(headers, start=1):
        cell = ws.cell(3, c, text)
        cell.font = BOLD
        cell.fill = HEADER_FILL
        cell.border = BOX
        cell.alignment = Alignment(horizontal="center", wrap_text=True)
    widths = [6] + [70 if len(headers) == 2 else 38] * (len(headers) - 1)
    for c, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(c)].width = w
    height = wrapped_height(widths, range(1, len(headers)))     # a long text wraps onto its own lines
    streamed = isinstance(rows, NarrativeRows)
    given, source = (rows.count, rows.rows) if isinstance(rows, NarrativeRows) else (len(rows or []), rows or [])
    n_rows = max(L.NARRATIVE_ROWS, given + 5)
    cells = _narrative_cells(nl, source, n_rows)
    last_col = get_column_letter(len(headers))
    _define(wb, nl.name, ws.title, f"$B$4:${last_col}${3 + n_rows}")
    _print_setup(ws, "3:3")
    _protect(ws)
    if streamed:
        st = CellStyles(ws)
        ids = {name: st.id(**style) for name, style in _NARRATIVE_STYLE.items()}
        return SheetBody(first_row=4, rows=([(v, ids[k]) for v, k in row] for row in cells), count=n_rows,
                         width=len(headers), styles=st, height=height)
    for r, row in enumerate(cells, start=4):
        if height(row):
            ws.row_dimensions[r].height = height(row)
        for c, (value, style) in enumerate(row, start=1):
            cell = put(ws, r, c, value)
            for attr, v in _NARRATIVE_STYLE[style].items():
                setattr(cell, attr, v)
    return None


def guide_heading(unit: Unit, period: Period) -> str:
    """The unit's line on the guide sheet (one of the strings that differ between units)."""
    deadline = period.deadline_for(unit.level)
    return (f"Đơn vị: {unit.name} ({unit.code}) — Kỳ báo cáo: {period.label}"
            + (f" — Hạn nộp: {deadline:%d/%m/%Y}" if deadline else ""))


def _write_guide_sheet(wb: Workbook, catalogue: Catalogue, unit: Unit, period: Period) -> None:
    ws = wb.create_sheet(L.GUIDE_SHEET)
    ws.column_dimensions["A"].width = 110
    lines = [
        ("HƯỚNG DẪN ĐIỀN BIỂU MẪU", True),
        (guide_heading(unit, period), False),
        ("", False),
        ("1. Chỉ nhập vào các ô nền vàng. Các ô khác được khóa để giữ đúng cấu trúc biểu mẫu.", False),
        ("2. Trang “Số liệu”: mỗi chỉ tiêu nhập một số nguyên không âm (ví dụ 1644 hoặc 1.644), không kèm chữ; "
         "chỉ tiêu không phát sinh thì nhập 0, chưa có số liệu thì để trống.", False),
        ("3. Cột “Kiểm tra” tự báo lỗi, cảnh báo; ô “Số lỗi” ở đầu trang phải bằng 0 trước khi gửi. "
         "Tỷ lệ phần trăm được tự tính, không nhập.", False),
        ("4. Các trang mô hình tiêu biểu, gương điển hình, khó khăn và đề xuất: mỗi dòng một nội dung.", False),
        ("5. Không đổi tên trang tính, không xóa dòng, không sửa mã đơn vị, kỳ báo cáo, bộ chỉ tiêu. "
         "Có thể đổi tên tệp tùy ý: batn nhận biết đơn vị qua mã đơn vị trong tệp.", False),
        ("6. Lưu tệp dạng .xlsx và gửi đơn vị cấp trên đúng hạn.", False),
    ]
    for i, (text, bold) in enumerate(lines, start=1):
        c = put(ws, i, 1, text)          # the heading names the unit: text, cleaned (batn.textsafe)
        c.font = Font(bold=bold, size=12 if bold else 11)
        c.alignment = Alignment(wrap_text=True, vertical="top")
        if text_lines(text, 110) > 1:    # LibreOffice does not size wrapped rows: lines would overlap
            ws.row_dimensions[i].height = LINE_HEIGHT_PT * text_lines(text, 110)
    _print_setup(ws)
    _protect(ws)


def build_template(catalogue: Catalogue, unit: Unit, period: Period, *,
                   values: Mapping[str, object] | None = None,
                   narratives: Mapping[str, Sequence[Sequence[object]]] | None = None,
                   kind: str = L.KIND_OWN, has_children: bool = False) -> Workbook:
    """One unit's workbook; with `values`/`narratives` it comes filled (demo, tests)."""
    wb, bodies = build_template_streamed(catalogue, unit, period, values=values, narratives=narratives,
                                         kind=kind, has_children=has_children)
    if bodies:
        raise TypeError("narratives given as NarrativeRows need build_template_streamed")
    return wb


def build_template_streamed(catalogue: Catalogue, unit: Unit, period: Period, *,
                            values: Mapping[str, object] | None = None,
                            narratives: Mapping[str, Sequence[Sequence[object]] | NarrativeRows] | None = None,
                            kind: str = L.KIND_OWN, has_children: bool = False
                            ) -> tuple[Workbook, dict[str, SheetBody]]:
    """`build_template`, where a narrative list given as `NarrativeRows` is not written but
    returned as a body for `rowstream.save_with_bodies` (the consolidated workbook)."""
    wb = Workbook()
    _write_data_sheet(wb, catalogue, unit, period, values, kind, has_children)
    bodies: dict[str, SheetBody] = {}
    for nl in catalogue.narratives:
        body = _write_narrative_sheet(wb, nl, (narratives or {}).get(nl.key))
        if body is not None:
            bodies[nl.sheet] = body
    _write_guide_sheet(wb, catalogue, unit, period)
    from .catalogue_book import embed_catalogue

    embed_catalogue(wb, catalogue)     # the workbook carries its catalogue: id, version, hash and content
    wb.active = 0
    return wb, bodies


def write_template(path: str | Path, catalogue: Catalogue, unit: Unit, period: Period, **kw) -> Path:
    from ..safeio import atomic_save_workbook

    path = Path(path)
    atomic_save_workbook(build_template(catalogue, unit, period, **kw), path)
    return path
