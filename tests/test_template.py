"""The generated template: names of the contract, protection, native validation, print setup."""
from __future__ import annotations

from openpyxl import load_workbook
from typer.testing import CliRunner

from batn import layout as L
from batn.catalogue import load_catalogue
from batn.cli import app
from batn.model import Unit
from batn.pipeline import load_period
from batn.xlsx.template import layout_rows, write_template


def test_template_contract(tmp_path):
    cat = load_catalogue("3tn-2024")
    path = write_template(tmp_path / "u.xlsx", cat, Unit("DP_X", "Đoàn phường X", "T"), load_period("2024-H1"))
    wb = load_workbook(path)
    assert wb.sheetnames == [L.DATA_SHEET, "Mô hình tiêu biểu", "Gương điển hình", "Khó khăn, hạn chế",
                             "Đề xuất, kiến nghị", L.GUIDE_SHEET, "batn-bo-chi-tieu"]
    # the catalogue travels with the workbook: id, version and hash as names, its content very hidden
    assert wb["batn-bo-chi-tieu"].sheet_state == "veryHidden"
    assert wb.defined_names["BATN_CATALOG_HASH"].attr_text == f'"{cat.digest}"'
    assert "BATN_CATALOG_VERSION" in wb.defined_names and "BATN_CATALOG_DATA" in wb.defined_names
    ws = wb[L.DATA_SHEET]
    _, placed = layout_rows(cat)
    for code in cat.codes:
        [(sheet, ref)] = list(wb.defined_names[code].destinations)
        assert (sheet, ref) == (L.DATA_SHEET, f"$D${placed[code].row}")
        cell = ws[ref.replace("$", "")]
        assert cell.protection.locked is False and cell.fill.fgColor.rgb.endswith("FFF2CC")
        assert ws.cell(placed[code].row, 2).value == cat[code].label
        assert ws.cell(placed[code].row, 2).protection.locked is True
    for name, value in [(L.NAME_UNIT, "DP_X"), (L.NAME_PERIOD, "2024-H1"), (L.NAME_CATALOG, "3tn-2024")]:
        [(sheet, ref)] = list(wb.defined_names[name].destinations)
        assert ws[ref.replace("$", "")].value == value
    assert ws["C9"].value.startswith('="Số lỗi: "&SUM(')
    assert ws.protection.sheet is True
    dv = [d for d in ws.data_validations.dataValidation if d.type == "whole"]
    assert len(dv) == 1 and dv[0].operator == "greaterThanOrEqual" and dv[0].formula1 == "0"
    covered = {str(c) for r in dv[0].sqref.ranges for c in [r]}
    assert sum(len(list(r.cells)) for r in dv[0].sqref.ranges) == len(cat.codes), covered
    assert len(ws.conditional_formatting) >= 1
    assert int(ws.page_setup.paperSize) == 9 and ws.page_setup.orientation == "portrait"
    # rules compile into the "Kiểm tra" column
    row = placed["TT_DOANVIEN"].row
    assert f"$D${placed['TT_CBCCVC_TRE'].row}" in ws.cell(row, 6).value
    # narrative blocks are named and unlocked
    [(sheet, ref)] = list(wb.defined_names["BATN_MOHINH"].destinations)
    assert sheet == "Mô hình tiêu biểu" and ref == f"$B$4:$D${3 + L.NARRATIVE_ROWS}"
    assert wb[sheet]["B4"].protection.locked is False


def test_cli_template_one_and_all(tmp_path):
    units = tmp_path / "u.csv"
    units.write_text("code,name,parent\nT,Tỉnh Đoàn,\nA,Đoàn A,T\nB,Đoàn B,T\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["template", "--catalog", "3tn-2009", "--units", str(units), "--period",
                                 "2009-2013", "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["A.xlsx", "B.xlsx", "T.xlsx"]
    r = CliRunner().invoke(app, ["template", "--catalog", "3tn-2009", "--units", str(units), "--period",
                                 "2009-2013", "--out", str(tmp_path / "p"), "--unit", "B"])
    assert r.exit_code == 0 and [p.name for p in (tmp_path / "p").iterdir()] == ["B.xlsx"]
    r = CliRunner().invoke(app, ["template", "--catalog", "3tn-2009", "--units", str(units), "--period",
                                 "20x9", "--out", str(tmp_path / "q")])
    assert r.exit_code == 2 and "Kỳ báo cáo" in r.output
    units.write_text("code,name,parent\nT,Tỉnh Đoàn,\nA,Đoàn A,B\nB,Đoàn B,A\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["template", "--catalog", "3tn-2009", "--units", str(units), "--period",
                                 "2024", "--out", str(tmp_path / "q")])
    assert r.exit_code == 2 and "dòng" in r.output.lower()
