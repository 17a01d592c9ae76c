"""The Excel door against the real xlwings API, on Linux: xlwings' remote engine builds a Book from
the JSON Excel (Office.js) would send, the buttons run on it, and we assert on the actions it records."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")   # the remote engine; before xlwings is imported
pytest.importorskip("xlwings", reason="the Excel door needs xlwings (pip install -e .[excel])")

from remote_book import ClassicBook, actions, lite_client, remote_book  # noqa: E402  (sets XLWINGS_LICENSE_KEY before importing xlwings)

from batn.xlsx.package import stamp_saved_time
from batn import layout as L  # noqa: E402
from batn.actions import COLOURS  # noqa: E402
from batn.cli import app
from batn.excel import buttons
from batn.excel.settings import SETTINGS_SHEET, UNIT_COLUMNS, UNITS_FIRST_ROW, UNITS_SHEET, consolidated_name
from batn.tables import TOTAL_LABEL
from batn.excel.write import FINDINGS_HEADER
from batn.model import Severity
from batn.pipeline import validate_files
from batn.xlsx.reader import read_submission
from batn.xlsx.template import write_template

ROOT = Path(__file__).resolve().parent.parent
MARK_COLOURS = {"#" + c for c in COLOURS.values()}


def _sheet_index(book, title: str) -> int:
    return [s.name for s in book.sheets].index(title)


def _marks(book) -> dict[tuple[int, int, int], str]:
    """(sheet index, row, column) -> colour of every cell coloured with a finding colour."""
    return {(a["sheet_position"], a["start_row"], a["start_column"]): a["args"][0]
            for a in actions(book, "setRangeColor") if a["args"][0] in MARK_COLOURS}


def _notes(book) -> dict[tuple[int, int, int], str]:
    return {(a["sheet_position"], a["start_row"], a["start_column"]): a["args"][1] for a in actions(book, "addNote")}


def _values_on(book, title: str) -> list[list]:
    ix = _sheet_index(book, title)
    writes = [a for a in actions(book, "setValues") if a["sheet_position"] == ix]
    assert len(writes) == 1, writes
    return writes[0]["values"]


def _alert(book) -> str:
    alerts = actions(book, "alert")
    assert len(alerts) == 1
    return alerts[0]["args"][0]


# ---------------------------------------------------------------- Kiểm tra

def test_clean_workbook_gives_zero_errors_and_no_colours(make_filled, valid_values):
    path = make_filled(valid_values)
    book = remote_book(path)
    with lite_client(path):
        result = asyncio.run(buttons.kiem_tra_script(book))
    assert (result.errors, result.warnings) == (0, 0)
    assert _alert(book).startswith("Kết quả kiểm tra: 0 lỗi, 0 cảnh báo.")
    assert "có thể gửi báo cáo" in _alert(book) and result.unchecked == []
    assert _marks(book) == {} and _notes(book) == {}
    # the results sheet is added and says there is nothing to fix
    added = actions(book, "addSheet")
    assert [a["args"][1] for a in added] == [L.CHECK_SHEET]
    rows = _values_on(book, L.CHECK_SHEET)
    assert rows[0] == list(FINDINGS_HEADER) and rows[1][-1] == "Không có lỗi hay cảnh báo nào."


def test_three_planted_mistakes_colour_exactly_those_cells(make_filled, valid_values, cat2024):
    v = dict(valid_values)
    v["TT_DOANVIEN"] = v["TT_CBCCVC_TRE"] + 5          # more members than young cadres (rule le)
    v["TK_HOINGHI_LUOT"] = "1,644"                       # ambiguous number
    v["CD_CAYXANH"] = -3                                 # negative
    path = make_filled(v)
    book = remote_book(path)
    result = buttons.kiem_tra_book(book)

    data = _sheet_index(book, L.DATA_SHEET)
    sub = read_submission(path)
    where = {code: sub.cells[code].split("!")[1] for code in ("TT_DOANVIEN", "TK_HOINGHI_LUOT", "CD_CAYXANH")}

    def key(a1: str) -> tuple[int, int, int]:
        col, row = ord(a1[0]) - 65, int(a1[1:]) - 1
        return (data, row, col)

    red = "#" + COLOURS[Severity.ERROR]
    assert _marks(book) == {key(a1): red for a1 in where.values()}
    notes = _notes(book)
    assert set(notes) == set(_marks(book))
    assert f"({v['TT_DOANVIEN']}) lớn hơn" in notes[key(where["TT_DOANVIEN"])]
    assert "“1,644” không rõ là 1.644 (số nguyên) hay 1,644 (số thập phân)" in notes[key(where["TK_HOINGHI_LUOT"])]
    assert "số liệu âm (-3)" in notes[key(where["CD_CAYXANH"])]
    assert all(n.startswith("[lỗi] ") for n in notes.values())
    assert (result.errors, result.warnings) == (3, 0)
    assert _alert(book).startswith("Kết quả kiểm tra: 3 lỗi, 0 cảnh báo.")

    # same rules as `batn validate`: the same findings, in the results sheet too
    cli = validate_files([path])[0].findings
    assert sorted((f.kind, f.cell, f.message) for f in result.findings) == \
        sorted((f.kind, f.cell, f.message) for f in cli)
    rows = _values_on(book, L.CHECK_SHEET)
    assert sorted(r[4] for r in rows[1:]) == sorted(f"{L.DATA_SHEET}!{a1}" for a1 in where.values())
    assert {r[1] for r in rows[1:]} == {"lỗi"}


def test_rerun_clears_marks_of_fixed_cells(tmp_path, make_filled, valid_values):
    """A second Kiểm tra after the clerk fixed a cell: its colour goes back to the input fill, its note goes."""
    v = dict(valid_values)
    v["CD_CAYXANH"] = -3
    bad = make_filled(v, name="bad.xlsx")
    first = remote_book(bad)
    buttons.kiem_tra_book(first)
    cell = read_submission(bad).cells["CD_CAYXANH"].split("!")[1]

    # the workbook as Excel would send it next time: fixed figure, results sheet and note present
    fixed = load_workbook(bad)
    fixed[L.DATA_SHEET][cell] = 4
    ws = fixed.create_sheet(L.CHECK_SHEET)
    for row in _values_on(first, L.CHECK_SHEET):
        ws.append(row)
    fixed.save(tmp_path / "fixed.xlsx")
    from remote_book import book_json

    payload = book_json(tmp_path / "fixed.xlsx")
    payload["sheets"][0]["notes"].append({"address": cell})
    import xlwings as xw

    book = xw.Book(json=payload)
    result = buttons.kiem_tra_book(book)
    assert result.errors == 0
    resets = [a for a in actions(book, "setRangeColor") if a["sheet_position"] == 0]
    assert [a["args"][0] for a in resets] == ["#FFF2CC"]
    assert [a["args"][0] for a in actions(book, "deleteNote")] == [f"${cell[0]}${cell[1:]}"]
    assert not actions(book, "addSheet")          # the existing results sheet is cleared and rewritten
    assert actions(book, "sheetClear")


def test_not_a_template_is_told_plainly(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active["A1"] = "bảng tính khác"
    wb.save(tmp_path / "khac.xlsx")
    book = remote_book(tmp_path / "khac.xlsx")
    asyncio.run(buttons.kiem_tra_script(book))
    assert "không phải biểu mẫu báo cáo của batn" in _alert(book)
    assert not actions(book, "addSheet") and not _marks(book)


# ---------------------------------------------------------------- Kiểm tra: one reading path with `batn validate`

def _with_formula(path: Path, code: str, formula: str, out: Path) -> tuple[Path, str]:
    """`path` with `formula` typed into the input cell of `code`; the new file and that cell ("Số liệu!D12")."""
    where = read_submission(path).cells[code]
    wb = load_workbook(path)
    sheet, a1 = where.rsplit("!", 1)
    wb[sheet][a1] = formula
    wb.save(out)
    return out, where


def test_lite_sees_a_formula_in_an_input_cell(tmp_path, make_filled, valid_values):
    """xlwings Lite: the formulas are fetched on demand (one read per sheet, before any write), so a
    WEBSERVICE formula is the same lỗi `batn validate` gives, at the same cell."""
    path, where = _with_formula(make_filled(valid_values), "CD_CAYXANH", '=WEBSERVICE("http://x.example/so")',
                                tmp_path / "ws.xlsx")
    book = remote_book(path)
    with lite_client(path) as excel:
        result = asyncio.run(buttons.kiem_tra_script(book))
    cli = validate_files([path])[0].findings
    assert ("formula-risky", where) in {(f.kind, f.cell) for f in cli}
    assert sorted((f.kind, f.cell, f.severity) for f in result.findings) == sorted((f.kind, f.cell, f.severity) for f in cli)
    assert result.errors >= 1 and "có thể gửi" not in _alert(book)
    sheets = [s for s, _a, k in excel.reads if k == ("formulas",)]
    assert len(sheets) == len(set(sheets))       # one formulas read per sheet


def test_without_lite_the_message_says_formulas_were_not_checked(tmp_path, make_filled, valid_values):
    """xlwings Server gives values only: the door never says the report can be sent, and says why."""
    path, _where = _with_formula(make_filled(valid_values), "CD_CAYXANH", '=WEBSERVICE("http://x.example/so")',
                                 tmp_path / "ws.xlsx")
    book = remote_book(path)
    result = asyncio.run(buttons.kiem_tra_script(book))
    msg = _alert(book)
    assert msg.startswith("Kết quả kiểm tra: 0 lỗi, 0 cảnh báo.")
    assert "có thể gửi" not in msg
    assert "Chưa kiểm tra được công thức trong các ô và ô bị gộp (merge)" in msg
    assert result.unchecked == ["formulas", "merges"]


def test_error_value_sent_by_office_js_is_the_error_validate_gives(tmp_path, make_filled, valid_values):
    """Office.js sends an error cell's value as its text ("#N/A"): the reader's error-value check sees it
    even without on-demand reads."""
    path, where = _with_formula(make_filled(valid_values), "CD_CAYXANH", "=NA()", tmp_path / "na.xlsx")
    from remote_book import book_json
    import xlwings as xw

    payload = book_json(path)
    data = payload["sheets"][0]
    row, col = int(where.split("!")[1][1:]) - 1, ord(where.split("!")[1][0]) - 65
    data["values"][row][col] = "#N/A"      # openpyxl saved no cached value; Excel would have computed #N/A
    result = buttons.kiem_tra_book(xw.Book(json=payload))
    assert ("error-value", where) in {(f.kind, f.cell) for f in result.findings}


def test_classic_excel_reads_the_saved_copy_like_validate(make_filled, valid_values):
    """Classic Excel: Kiểm tra reads the bytes of a copy saved with SaveCopyAs, through `read_submission`:
    the findings are `batn validate`'s, formulas included; the temporary copy is gone afterwards."""
    v = dict(valid_values)
    v["TK_HOINGHI_LUOT"] = "1,644"
    v["CD_CAYXANH"] = -3
    path = make_filled(v)
    path, where = _with_formula(path, "TT_DOANVIEN", "='C:\\x\\[so.xlsx]Sheet1'!A1", path.with_name("ext.xlsx"))
    book = ClassicBook(path)
    result = buttons.kiem_tra_book(book)
    assert len(book.copies) == 1 and not Path(book.copies[0]).exists()
    assert Path(book.copies[0]).name == path.name
    cli = validate_files([path])[0].findings
    assert ("formula-risky", where) in {(f.kind, f.cell) for f in cli}
    assert sorted((f.kind, f.cell, f.severity) for f in result.findings) == sorted((f.kind, f.cell, f.severity) for f in cli)
    assert result.unchecked == [] and "Chưa kiểm tra được" not in _alert(book)


# ---------------------------------------------------------------- the consolidation workbook

UNITS = [
    ("T", "Tỉnh Đoàn Mẫu", "", "Tỉnh Đoàn"),
    ("A", "Đoàn khối A", "T", "Đoàn trực thuộc"),
    ("B", "Đoàn khối B", "T", "Đoàn trực thuộc"),
    ("A1", "Chi đoàn A1", "A", "Chi đoàn"),
    ("A2", "Chi đoàn A2", "A", "Chi đoàn"),
    ("B1", "Chi đoàn B1", "B", "Chi đoàn"),
]


@pytest.fixture
def consolidation_book(tmp_path, cat2024, period2024, valid_values):
    """workbooks/tong_hop.xlsx set up for a small tree and an inbox with four reports (one broken, one missing)."""
    src = tmp_path / "tong_hop.xlsx"
    shutil.copy(ROOT / "workbooks" / "tong_hop.xlsx", src)
    wb = load_workbook(src)
    ws = wb[UNITS_SHEET]
    ws.delete_rows(UNITS_FIRST_ROW, ws.max_row)
    for r, row in enumerate(UNITS, start=UNITS_FIRST_ROW):
        for c, v in enumerate(row, start=1):
            ws.cell(r, c, v)
    settings = {"BATN_SET_UNIT": "T", "BATN_SET_PERIOD": "2024", "BATN_SET_CATALOG": "3tn-2024",
                "BATN_SET_INBOX": str(tmp_path / "hop_thu"), "BATN_SET_OUTDIR": str(tmp_path / "ket_qua")}
    for name, value in settings.items():
        sheet, ref = wb.defined_names[name].attr_text.split("!")
        wb[SETTINGS_SHEET][ref.replace("$", "")] = value
    wb.save(src)

    from batn.model import Unit

    inbox = tmp_path / "hop_thu"
    units = {code: Unit(code, name, parent or None, level) for code, name, parent, level in UNITS}
    for i, code in enumerate(("A1", "A2", "B1")):
        v = dict(valid_values)
        v["CD_CAYXANH"] = 10 * (i + 1)
        if code == "A2":
            v["TT_DOANVIEN"] = v["TT_CBCCVC_TRE"] + 1      # a lỗi in one report
        p = write_template(inbox / f"{code}.xlsx", cat2024, units[code], period2024, values=v)
        stamp_saved_time(p, datetime(2024, 12, 10, 9, 0))     # saved then, as Excel records it
    (inbox / "hong.xlsx").write_text("không phải Excel", encoding="utf-8")
    (tmp_path / "units.csv").write_text("code,name,parent,level\n" + "\n".join(",".join(r) for r in UNITS),
                                        encoding="utf-8")
    return src


def test_tong_hop_writes_the_same_totals_as_batn_consolidate(tmp_path, consolidation_book, cat2024):
    book = remote_book(consolidation_book)
    result = buttons.tong_hop_script(book)
    assert result is not None, actions(book, "alert")

    # the command line on the same inbox
    cli_out = tmp_path / "cli.xlsx"
    run = CliRunner().invoke(app, ["consolidate", str(tmp_path / "hop_thu"), "--units", str(tmp_path / "units.csv"),
                                   "--catalog", "3tn-2024", "--period", "2024", "--root", "T",
                                   "--out", str(cli_out), "--json"])
    assert run.exit_code in (0, 1), run.output
    cli = json.loads(run.output)

    # the consolidated workbook for the level above: same totals as the command line's
    door_file = tmp_path / "ket_qua" / consolidated_name("T", "2024")
    assert result.path == door_file and door_file.is_file()
    assert read_submission(door_file).values == read_submission(cli_out).values
    assert {k: v for k, v in result.consolidation.totals.items()} == {k: v for k, v in cli["totals"].items()}

    # the per-unit summary written into the open workbook ends with the same totals
    rows = _values_on(book, L.SUMMARY_SHEET)
    assert rows[1][3:] == cat2024.codes
    total = rows[-1]
    assert total[1] == TOTAL_LABEL
    expected = [("" if cli["totals"][c] is None else cli["totals"][c]) for c in cat2024.codes]
    assert total[3:] == expected
    assert [r[0] for r in rows[2:-1]] == ["T", "A", "A1", "A2", "B", "B1"]
    assert total[3 + cat2024.codes.index("CD_CAYXANH")] == 60

    # status and findings sheets, and the message
    status = _values_on(book, L.STATUS_SHEET)
    by_code = {r[1]: r[4] for r in status[1:]}
    assert by_code["A2"] == "có lỗi" and by_code["A1"] == "đã nộp"
    findings = _values_on(book, L.CHECK_SHEET)
    assert any("Không mở được tệp" in r[6] for r in findings[1:])
    assert {u["code"]: u["status"] for u in cli["units"]} == by_code
    msg = _alert(book)
    assert f"Đã gửi báo cáo: {len(result.consolidation.sent)}/{len(result.consolidation.expected)}" in msg
    assert str(door_file) in msg


def test_tao_bieu_mau_and_xuat_bao_cao(tmp_path, consolidation_book):
    book = remote_book(consolidation_book)
    made = buttons.tao_bieu_mau_book(book)
    assert sorted(p.name for p in made.paths) == ["A.xlsx", "A1.xlsx", "A2.xlsx", "B.xlsx", "B1.xlsx"]
    assert all(p.parent == tmp_path / "ket_qua" / "bieu_mau" for p in made.paths)
    assert read_submission(made.paths[0]).unit in {"A", "A1", "A2", "B", "B1"}

    # before Tổng hợp there is nothing to report from: a clear message, no traceback
    book = remote_book(consolidation_book)
    assert buttons.xuat_bao_cao_script(book) is None
    assert "hãy bấm “Tổng hợp” trước" in _alert(book)

    buttons.tong_hop_book(remote_book(consolidation_book))
    book = remote_book(consolidation_book)
    result = buttons.xuat_bao_cao_book(book)
    assert result.path == tmp_path / "ket_qua" / "BaoCao_T_2024.docx" and result.path.stat().st_size > 5000
    assert str(result.path) in _alert(book)


def test_missing_settings_are_named(tmp_path, consolidation_book):
    wb = load_workbook(consolidation_book)
    sheet, ref = wb.defined_names["BATN_SET_INBOX"].attr_text.split("!")
    wb[SETTINGS_SHEET][ref.replace("$", "")] = None
    wb.save(consolidation_book)
    book = remote_book(consolidation_book)
    assert buttons.tong_hop_script(book) is None
    assert _alert(book) == "Trang “Thiết lập” còn thiếu: Thư mục nhận báo cáo"


def test_consolidation_workbook_contract():
    """The shipped consolidation workbook: every setting is a defined name with data validation."""
    from batn.excel.settings import SETTINGS

    wb = load_workbook(ROOT / "workbooks" / "tong_hop.xlsx")
    ws = wb[SETTINGS_SHEET]
    validated = {str(c) for dv in ws.data_validations.dataValidation for c in dv.sqref.ranges}
    for name, label, _hint, _req in SETTINGS:
        sheet, ref = wb.defined_names[name].attr_text.split("!")
        assert sheet.strip("'") == SETTINGS_SHEET
        cell = ref.replace("$", "")
        assert cell in validated, name
        assert ws[cell].offset(0, -1).value.startswith(label)
    assert [c.value for c in wb[UNITS_SHEET][UNITS_FIRST_ROW - 1]][:len(UNIT_COLUMNS)] == [h for _k, h in UNIT_COLUMNS]
    assert not any(n in wb.defined_names for n in (L.NAME_UNIT, L.NAME_PERIOD, L.NAME_CATALOG))


def test_workbook_build_is_reproducible(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "again.xlsx"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build_workbooks.py"), "--out", str(out)], check=True,
                   capture_output=True)
    assert out.read_bytes() == (ROOT / "workbooks" / "tong_hop.xlsx").read_bytes()


def test_xuat_bao_cao_from_a_consolidated_workbook_opened_directly(tmp_path, consolidation_book):
    result = buttons.tong_hop_book(remote_book(consolidation_book))
    from remote_book import book_json
    import xlwings as xw

    payload = book_json(result.path)
    payload["book"]["name"] = str(result.path)        # a saved file: its full path, as classic Excel gives it
    book = xw.Book(json=payload)
    report = buttons.xuat_bao_cao_book(book)
    assert report.path == result.path.parent / "BaoCao_T_2024.docx" and report.path.is_file()


class _FakeClassicSheet:
    """Just enough of a classic (COM) sheet to check the protection is put back as it was."""

    def __init__(self, calls):
        perms = type("Protection", (), {a: a in ("AllowFormattingColumns", "AllowFormattingRows")
                                        for a in ("AllowFormattingCells", "AllowFormattingColumns",
                                                  "AllowFormattingRows", "AllowInsertingColumns",
                                                  "AllowInsertingRows", "AllowInsertingHyperlinks",
                                                  "AllowDeletingColumns", "AllowDeletingRows", "AllowSorting",
                                                  "AllowFiltering", "AllowUsingPivotTables")})()
        self.api = type("Api", (), {"ProtectContents": True, "ProtectDrawingObjects": False,
                                    "ProtectScenarios": False, "Protection": perms,
                                    "Unprotect": lambda s: calls.append("unprotect"),
                                    "Protect": lambda s, **kw: calls.append(kw)})()
        engine = type("Engine", (), {"name": "excel"})()
        self.book = type("Book", (), {"app": type("App", (), {"engine": engine})()})()


def test_classic_excel_protection_is_lifted_and_restored_with_the_same_permissions():
    from batn.excel.write import unprotected

    calls: list = []
    with unprotected(_FakeClassicSheet(calls)):
        calls.append("write")
    assert calls[:2] == ["unprotect", "write"]
    again = calls[2]
    assert again["Contents"] is True and again["DrawingObjects"] is False
    assert {k for k, v in again.items() if v and k.startswith("Allow")} == {"AllowFormattingColumns",
                                                                           "AllowFormattingRows"}


def test_scripts_register_with_xlwings_server():
    """Under xlwings Server (and Lite), the four *_script wrappers are found as scripts that receive the book."""
    import subprocess
    import sys

    code = ("import json, batn.excel.buttons as b; from xlwings.server import custom_scripts_meta; "
            "print(json.dumps(sorted(m['function_name'] for m in custom_scripts_meta(b))))")
    env = dict(os.environ, XLWINGS_ON_SERVER="true", XLWINGS_LICENSE_KEY="noncommercial")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1]) == sorted(f"{n}_script" for n in buttons.BUTTONS.values())
