"""Build workbooks/tong_hop.xlsx: the consolidation workbook the ribbon buttons read.

    python scripts/build_workbooks.py            # writes workbooks/tong_hop.xlsx
    python scripts/build_workbooks.py --out x.xlsx

Sheets: "Thiết lập" (the settings, each a defined name BATN_SET_*, with data validation),
"Đơn vị" (the unit tree, seeded with the demo province) and a hidden "Danh mục" (the
lists the validation offers). The layout comes from batn.excel.settings, which the
buttons read, so the two cannot drift. The output is byte-for-byte reproducible
(fixed document dates, fixed zip timestamps).
"""
from __future__ import annotations

import argparse
import io
import re
import sys
import zipfile
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation

from batn.catalogue import available_catalogues
from batn.excel.settings import (LISTS_SHEET, SETTINGS, SETTINGS_FIRST_ROW, SETTINGS_SHEET, UNIT_COLUMNS,
                                 UNITS_FIRST_ROW, UNITS_SHEET)
from batn.resources import templates_dir
from batn.units import load_units

ROOT = Path(__file__).resolve().parent.parent
FIXED = datetime(2026, 1, 1)
INPUT = PatternFill("solid", fgColor="FFF2CC")
HEADER = PatternFill("solid", fgColor="BDD7EE")
MAX_UNITS = 2000

DEFAULTS = {          # the demo province: works with `batn demo` output copied beside the workbook
    "BATN_SET_UNIT": "TD_AG",
    "BATN_SET_PERIOD": "2026-H1",
    "BATN_SET_CATALOG": "3tn-2024",
    "BATN_SET_INBOX": "hop_thu",
    "BATN_SET_OUTDIR": "ket_qua",
}
BUTTONS_HELP = [
    "Các nút trên thẻ “3 Trách nhiệm” của Excel:",
    "• Tạo biểu mẫu: tạo biểu mẫu trống cho các đơn vị trực thuộc đơn vị tổng hợp (vào thư mục biểu mẫu).",
    "• Tổng hợp: đọc mọi tệp trong thư mục nhận báo cáo, ghi bảng tổng hợp, tình hình nộp và kết quả kiểm tra "
    "vào sổ tính này, và lưu tệp tổng hợp gửi cấp trên vào thư mục kết quả.",
    "• Xuất báo cáo: viết văn bản BÁO CÁO (.docx) từ tệp tổng hợp, vào thư mục kết quả.",
    "• Trả lại, Duyệt: chọn dòng của đơn vị ở trang “Tình hình nộp báo cáo” (hoặc “Đơn vị”) rồi bấm: trả lại "
    "báo cáo mới nhất của đơn vị kèm lý do, hoặc duyệt báo cáo đó; quyết định ghi vào sổ theo dõi, cột “Duyệt” "
    "cập nhật.",
    "• Kiểm tra: dùng trên biểu mẫu của một đơn vị: tô màu ô sai, ghi chú và lập trang “Kết quả kiểm tra”.",
]


def _name(wb: Workbook, name: str, ref: str) -> None:
    wb.defined_names[name] = DefinedName(name, attr_text=ref)


def _periods() -> list[str]:
    out = []
    for y in range(2024, 2036):
        out += [str(y), f"{y}-H1", f"{y}-H2"]
    return out + ["2009-2013", "2014-2018", "2019-2023", "2024-2028", "2029-2033"]


def _lists_sheet(wb: Workbook) -> tuple[str, str]:
    ws = wb.create_sheet(LISTS_SHEET)
    ws["A1"], ws["B1"] = "Kỳ báo cáo", "Bộ chỉ tiêu"
    periods, cats = _periods(), available_catalogues()
    for i, p in enumerate(periods, start=2):
        ws.cell(i, 1, p)
    for i, c in enumerate(cats, start=2):
        ws.cell(i, 2, c)
    ws.sheet_state = "hidden"
    return (f"'{LISTS_SHEET}'!$A$2:$A${len(periods) + 1}", f"'{LISTS_SHEET}'!$B$2:$B${len(cats) + 1}")


def _validation(name: str, periods: str, cats: str) -> DataValidation:
    def lst(ref: str, strict: bool = True) -> DataValidation:
        return DataValidation(type="list", formula1=f"={ref}", allow_blank=False, showErrorMessage=True,
                              errorStyle="stop" if strict else "warning")
    units = f"'{UNITS_SHEET}'!$A${UNITS_FIRST_ROW}:$A${MAX_UNITS}"
    dv = {
        "BATN_SET_UNIT": lambda: lst(units),
        "BATN_SET_PERIOD": lambda: lst(periods, strict=False),
        "BATN_SET_CATALOG": lambda: lst(cats),
        "BATN_SET_DATE": lambda: DataValidation(type="date", operator="between", formula1="DATE(2000,1,1)",
                                                formula2="DATE(2100,12,31)", allow_blank=True, showErrorMessage=True),
        "BATN_SET_NUMBER": lambda: DataValidation(type="textLength", operator="lessThanOrEqual", formula1="20",
                                                  allow_blank=True, showErrorMessage=True),
        "BATN_SET_REASON": lambda: DataValidation(type="textLength", operator="lessThanOrEqual", formula1="1000",
                                                  allow_blank=True, showErrorMessage=True),
        "BATN_SET_REVIEWER": lambda: DataValidation(type="textLength", operator="lessThanOrEqual", formula1="100",
                                                    allow_blank=True, showErrorMessage=True),
    }.get(name, lambda: DataValidation(type="textLength", operator="between", formula1="1", formula2="255",
                                       allow_blank=True, showErrorMessage=True))()
    dv.errorTitle = "Giá trị không hợp lệ"
    dv.error = {
        "BATN_SET_UNIT": "Chọn mã đơn vị có trong trang “Đơn vị”.",
        "BATN_SET_PERIOD": "Kỳ báo cáo thường có dạng 2026, 2026-H1, 2026-H2 hoặc 2024-2028. Vẫn dùng giá trị này?",
        "BATN_SET_CATALOG": "Chọn một bộ chỉ tiêu trong danh sách.",
        "BATN_SET_DATE": "Nhập ngày dạng ngày/tháng/năm, ví dụ 22/12/2026.",
        "BATN_SET_NUMBER": "Số văn bản tối đa 20 ký tự, ví dụ 44A.",
        "BATN_SET_REASON": "Lý do trả lại tối đa 1000 ký tự.",
        "BATN_SET_REVIEWER": "Tên người trả lại/duyệt tối đa 100 ký tự.",
    }.get(name, "Nhập đường dẫn thư mục hoặc tệp (tối đa 255 ký tự).")
    dv.showInputMessage = True
    return dv


def _settings_sheet(wb: Workbook, periods: str, cats: str) -> None:
    ws = wb.active
    ws.title = SETTINGS_SHEET
    ws["A1"] = "THIẾT LẬP TỔNG HỢP BÁO CÁO PHONG TRÀO “3 TRÁCH NHIỆM”"
    ws["A1"].font = Font(bold=True, size=13)
    ws["A2"] = ("Nhập vào các ô nền vàng. Đường dẫn tương đối (ví dụ hop_thu) tính từ thư mục chứa tệp này. "
                "Danh sách đơn vị ở trang “Đơn vị”.")
    ws["A2"].font = Font(italic=True)
    for c, (text, width) in enumerate((("Thiết lập", 32), ("Giá trị", 34), ("Hướng dẫn", 95)), start=1):
        cell = ws.cell(SETTINGS_FIRST_ROW - 1, c, text)
        cell.font, cell.fill = Font(bold=True), HEADER
        ws.column_dimensions["ABC"[c - 1]].width = width
    for i, (name, label, hint, required) in enumerate(SETTINGS):
        r = SETTINGS_FIRST_ROW + i
        ws.cell(r, 1, label + (" (*)" if required else "")).font = Font(bold=required)
        value = ws.cell(r, 2, DEFAULTS.get(name))
        value.fill = INPUT
        if name == "BATN_SET_DATE":
            value.number_format = "dd/mm/yyyy"
        ws.cell(r, 3, hint).alignment = Alignment(wrap_text=True, vertical="top")
        _name(wb, name, f"'{SETTINGS_SHEET}'!$B${r}")
        dv = _validation(name, periods, cats)
        dv.promptTitle, dv.prompt = label[:32], hint[:255]
        ws.add_data_validation(dv)
        dv.add(f"B{r}")
    r = SETTINGS_FIRST_ROW + len(SETTINGS) + 1
    ws.cell(r, 1, "(*) bắt buộc").font = Font(italic=True)
    for i, line in enumerate(BUTTONS_HELP, start=r + 2):
        ws.cell(i, 1, line).font = Font(bold=i == r + 2)
    ws.freeze_panes = f"A{SETTINGS_FIRST_ROW}"


def _units_sheet(wb: Workbook) -> None:
    ws = wb.create_sheet(UNITS_SHEET)
    widths = (14, 44, 18, 18, 16, 16, 22, 30, 18, 14)
    for c, ((key, header), width) in enumerate(zip(UNIT_COLUMNS, widths), start=1):
        cell = ws.cell(UNITS_FIRST_ROW - 1, c, header)
        cell.font, cell.fill = Font(bold=True), HEADER
        ws.column_dimensions[cell.column_letter].width = width
    tree = load_units(templates_dir() / "demo" / "don_vi.csv")
    for r, code in enumerate(tree.walk(), start=UNITS_FIRST_ROW):
        u = tree[code]
        for c, (key, _h) in enumerate(UNIT_COLUMNS, start=1):
            ws.cell(r, c, getattr(u, key) or None)
    ws.freeze_panes = f"A{UNITS_FIRST_ROW}"


def build() -> Workbook:
    wb = Workbook()
    _units_sheet(wb)
    periods, cats = _lists_sheet(wb)
    _settings_sheet(wb, periods, cats)
    wb.active = 0
    wb.properties.creator = "batn"
    wb.properties.created = wb.properties.modified = FIXED
    return wb


def reproducible_zip(data: bytes, keep_modified: bool = False) -> bytes:
    """The same members in the same order with a fixed timestamp, and the fixed "modified" date that
    openpyxl replaces with the current time on save: identical input, identical bytes.
    `keep_modified`: the file's save time is data (a demo unit's report says when it was sent)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml" and not keep_modified:
                body = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(<)", rb"\g<1>2026-01-01T00:00:00Z\2", body)
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, body)
    return out.getvalue()


def write(path: Path) -> Path:
    buf = io.BytesIO()
    build().save(buf)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(reproducible_zip(buf.getvalue()))
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "workbooks" / "tong_hop.xlsx")
    args = ap.parse_args(argv)
    print(write(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
