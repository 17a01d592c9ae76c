"""Validation of real xlsx files: each check is broken on purpose in a file written by
`write_template` (then, where needed, tampered with openpyxl or by rewriting the zip),
and `validate_files` must report it precisely: kind, severity, file, cell, Vietnamese text.
"""
from __future__ import annotations

import hashlib
import os
import random
import re
import unicodedata
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from batn.xlsx.package import stamp_saved_time
from batn.actions import COLOURS, MarkCell, WriteFindingsSheet, annotation_actions
from batn.checks import Expectation
from batn.demo import sample_values
from batn.layout import CHECK_SHEET, DATA_SHEET
from batn.model import Finding, Severity, Unit, UnitTree
from batn.pipeline import annotate_file, load_period, validate_files
from batn.xlsx.template import layout_rows, write_template

ERROR, WARNING = Severity.ERROR, Severity.WARNING

# Where the template writes the metadata (batn.xlsx.template._write_header).
META_CELLS = {"BATN_UNIT": "C5", "BATN_PERIOD": "C6", "BATN_CATALOG": "C7"}

_VN = re.compile(r"[ăâđêôơưáàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ]")


# ---------------------------------------------------------------- helpers

@pytest.fixture(scope="module")
def tree() -> UnitTree:
    return UnitTree([
        Unit("TD", "Tỉnh Đoàn", None),
        Unit("DCS_STP", "Đoàn cơ sở Sở Tư pháp", "TD"),
        Unit("DCS_SYT", "Đoàn cơ sở Sở Y tế", "TD"),
        Unit("CD_VP", "Chi đoàn Văn phòng Sở Tư pháp", "DCS_STP"),
    ])


@pytest.fixture
def expect(tree) -> Expectation:
    return Expectation(period="2024", catalogue="3tn-2024", units=tree)


def check(path: Path, expect: Expectation):
    (fc,) = validate_files([path], expect)
    assert fc.path == Path(path)
    return fc


def row_of(cat, code: str) -> int:
    return layout_rows(cat)[1][code].row


def cell_of(cat, code: str) -> str:
    return f"{DATA_SHEET}!D{row_of(cat, code)}"


def vietnamese(msg: str) -> bool:
    return bool(_VN.search(msg.lower())) and "None" not in msg and "{" not in msg


def only(findings, kind: str) -> Finding:
    """The single finding of `kind`, and no finding of any other kind."""
    assert [f.kind for f in findings] == [kind], [f"{f.kind}: {f.message}" for f in findings]
    return findings[0]


def assert_finding(f: Finding, kind: str, severity: Severity, path: Path, cell: str = "", indicator: str = "",
                   mentions: tuple[str, ...] = ()) -> None:
    assert f.kind == kind
    assert f.severity == severity
    assert f.file == str(path)
    assert f.cell == cell
    assert f.indicator == indicator
    assert vietnamese(f.message), f.message
    for text in mentions:
        assert text in f.message, (text, f.message)


def tamper(path: Path, change) -> Path:
    wb = load_workbook(path)
    change(wb)
    wb.save(path)
    return path


def rezip(src: Path, dst: Path, change) -> Path:
    """Copy a zip member by member; `change(name, data)` returns new bytes, or None to drop the member."""
    with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zo:
        for info in zi.infolist():
            data = change(info.filename, zi.read(info.filename))
            if data is not None:
                zo.writestr(info.filename, data)
    return dst


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


_NAME_REF = re.compile(r"^(?P<sheet>'(?:[^']|'')+'|[^!]+)!\$(?P<col>[A-Z]+)\$(?P<row>\d+)(?P<rest>.*)$")


def shift_names(wb, first_row: int, n: int) -> None:
    """What LibreOffice/Excel do to workbook names when rows are inserted above `first_row` of the data sheet."""
    for key in list(wb.defined_names):
        dn = wb.defined_names[key]
        m = _NAME_REF.match(dn.attr_text)
        if not m or m["sheet"].strip("'") != DATA_SHEET or int(m["row"]) < first_row:
            continue
        dn.attr_text = f"{m['sheet']}!${m['col']}${int(m['row']) + n}{m['rest']}"


# ---------------------------------------------------------------- a clean file

def test_clean_file_has_no_findings(make_filled, valid_values, cat2024, expect):
    narratives = {"mo_hinh": [("Tủ sách pháp luật điện tử", "Chi đoàn Văn phòng", "Duy trì hằng tháng")],
                  "kho_khan": [("Kinh phí còn hạn chế",)]}
    path = make_filled(valid_values, narratives=narratives)
    fc = check(path, expect)
    assert fc.findings == []
    sub = fc.submission
    assert (sub.unit, sub.period, sub.catalogue) == ("DCS_STP", "2024", "3tn-2024")
    assert sub.values == valid_values
    assert sub.cells["TT_DOANVIEN"] == cell_of(cat2024, "TT_DOANVIEN")
    assert sub.narratives["mo_hinh"] == [("Tủ sách pháp luật điện tử", "Chi đoàn Văn phòng", "Duy trì hằng tháng")]
    assert sub.narratives["kho_khan"] == [("Kinh phí còn hạn chế",)]
    assert sub.narratives["guong"] == []
    assert sub.sha256 == sha256(path)


def test_blank_file_is_only_warned_about(make_filled, expect):
    """A form sent with no figures at all is not an error, but never passes as a report (cảnh báo)."""
    fc = check(make_filled(None), expect)
    assert [(f.kind, f.severity) for f in fc.findings] == [("no-figures", WARNING)]
    assert set(fc.submission.values.values()) == {None}


# ---------------------------------------------------------------- catalogue rules

def _le(v, cat):
    v["TT_DOANVIEN"] = v["TT_CBCCVC_TRE"] + 5
    return "TT_DOANVIEN", "TT_CBCCVC_TRE"


def _ge_both(v, cat):
    v["TK_HOINGHI_SO"], v["TK_HOINGHI_LUOT"] = 4, 2
    return "TK_HOINGHI_LUOT", "TK_HOINGHI_SO"


def _needs_zero(v, cat):
    v["CD_QUA_TIEN"], v["CD_QUA_SO"] = 5_000_000, 0
    return "CD_QUA_TIEN", "CD_QUA_SO"


def _needs_blank(v, cat):
    v["CD_QUA_TIEN"], v["CD_QUA_SO"] = 5_000_000, None
    return "CD_QUA_TIEN", "CD_QUA_SO"


@pytest.mark.parametrize("plant, kind, severity, shown", [
    (_le, "rule-le", ERROR, None),
    (_ge_both, "rule-ge_both", WARNING, ("(2)", "(4)")),
    (_needs_zero, "rule-needs", WARNING, ("5.000.000",)),
    (_needs_blank, "rule-needs", WARNING, ("5.000.000",)),
], ids=["le", "ge_both", "needs-zero", "needs-blank"])
def test_rule_broken(make_filled, valid_values, cat2024, expect, plant, kind, severity, shown):
    code, other = plant(valid_values, cat2024)
    path = make_filled(valid_values)
    f = only(check(path, expect).findings, kind)
    if shown is None:  # le: both figures, with Vietnamese thousands grouping
        shown = (f"({valid_values[code]:,})".replace(",", "."), f"({valid_values[other]:,})".replace(",", "."))
    assert_finding(f, kind, severity, path, cell=cell_of(cat2024, code), indicator=code,
                   mentions=(cat2024[code].label, cat2024[other].label, *shown))
    assert f.unit == "DCS_STP"


def _set(**kw):
    def plant(v):
        v.update(kw)
    return plant


@pytest.mark.parametrize("plant", [
    lambda v: v.update(TT_DOANVIEN=v["TT_CBCCVC_TRE"]),                   # le: equal
    _set(TT_CBCCVC_TRE=None, TT_DOANVIEN=50, TT_DANGKY_3TN=40,
         BT_SAUDAIHOC=30, BT_LLCT=30, BT_CHUNGCHI=30),                      # le: the other blank
    _set(TT_DOANVIEN=None),                                                 # le: the value blank
    _set(TK_HOINGHI_SO=4, TK_HOINGHI_LUOT=4),                               # ge_both: equal
    _set(TK_HOINGHI_SO=0, TK_HOINGHI_LUOT=5),                               # ge_both: the other is 0
    _set(TK_HOINGHI_SO=4, TK_HOINGHI_LUOT=0),                               # ge_both: the value is 0
    _set(TK_HOINGHI_SO=4, TK_HOINGHI_LUOT=None),                            # ge_both: the value blank
    _set(CD_QUA_TIEN=0, CD_QUA_SO=0),                                       # needs: nothing given
    _set(CD_QUA_TIEN=None, CD_QUA_SO=None),                                 # needs: both blank
    _set(CD_QUA_TIEN=1_500_000, CD_QUA_SO=1),                               # needs: satisfied
], ids=["le-equal", "le-other-blank", "le-value-blank", "ge-equal", "ge-other-0", "ge-value-0",
        "ge-value-blank", "needs-0-0", "needs-blank", "needs-ok"])
def test_rule_boundary_does_not_fire(make_filled, valid_values, expect, plant):
    plant(valid_values)
    assert check(make_filled(valid_values), expect).findings == []


# ---------------------------------------------------------------- metadata and expectations

@pytest.mark.parametrize("name, what", [("BATN_UNIT", "mã đơn vị"), ("BATN_PERIOD", "kỳ báo cáo"),
                                        ("BATN_CATALOG", "bộ chỉ tiêu")])
def test_metadata_missing(make_filled, valid_values, expect, name, what):
    path = make_filled(valid_values)
    tamper(path, lambda wb: wb[DATA_SHEET][META_CELLS[name]].__setattr__("value", None))
    fc = check(path, expect)
    f = only(fc.findings, "metadata-missing")
    assert_finding(f, "metadata-missing", ERROR, path, cell=f"{DATA_SHEET}!{META_CELLS[name]}",
                   mentions=(what, name))
    assert fc.submission.values == valid_values  # still read with the expected catalogue


def test_wrong_period(make_filled, valid_values, expect):
    path = make_filled(valid_values, period=load_period("2023"))
    fc = check(path, expect)
    f = only(fc.findings, "wrong-period")
    assert_finding(f, "wrong-period", ERROR, path, cell=f"{DATA_SHEET}!C6", mentions=("2023", "2024"))
    assert f.unit == "DCS_STP"
    assert fc.submission.period == "2023"


def test_wrong_catalogue(make_filled, cat2009, expect):
    path = make_filled(sample_values(cat2009, random.Random(1), 20), catalogue=cat2009)
    fc = check(path, expect)
    wrong = [f for f in fc.findings if f.kind == "wrong-catalogue"]
    assert len(wrong) == 1
    assert_finding(wrong[0], "wrong-catalogue", ERROR, path, cell=f"{DATA_SHEET}!C7", mentions=("3tn-2009", "3tn-2024"))
    assert fc.submission.catalogue == "3tn-2009"


def test_wrong_catalogue_is_the_only_finding(make_filled, cat2009, expect):
    path = make_filled(sample_values(cat2009, random.Random(1), 20), catalogue=cat2009)
    only(check(path, expect).findings, "wrong-catalogue")


def test_unknown_unit(make_filled, valid_values, expect):
    stranger = Unit("DCS_LA", "Đoàn cơ sở lạ", "TD")
    path = make_filled(valid_values, unit=stranger)
    f = only(check(path, expect).findings, "unknown-unit")
    assert_finding(f, "unknown-unit", ERROR, path, cell=f"{DATA_SHEET}!C5", mentions=("DCS_LA",))
    assert f.unit == "DCS_LA"


def test_unit_of_a_lower_level_is_known(make_filled, valid_values, expect):
    path = make_filled(valid_values, unit=Unit("CD_VP", "Chi đoàn Văn phòng Sở Tư pháp", "DCS_STP"))
    assert check(path, expect).findings == []


# ---------------------------------------------------------------- how figures are typed

CODE = "CD_HIENMAU"   # a count no rule reads or depends on


@pytest.mark.parametrize("typed, kind, read, shown", [
    (-5, "negative", -5, "-5"),
    (12.5, "fractional", 12.5, "12,5"),
    ("mười", "not-a-number", None, "mười"),
    ("1,644", "ambiguous-number", None, "1,644"),
    (True, "boolean-in-number", None, None),
    ("1.234,5", "fractional", 1234.5, "1.234,5"),
    ("-7", "negative", -7, "-7"),
    ("12 ngày 3", "not-a-number", None, "12 ngày 3"),
])
def test_bad_figure(make_filled, valid_values, cat2024, expect, typed, kind, read, shown):
    valid_values[CODE] = typed
    path = make_filled(valid_values)
    fc = check(path, expect)
    f = only(fc.findings, kind)
    assert_finding(f, kind, ERROR, path, cell=cell_of(cat2024, CODE), indicator=CODE,
                   mentions=(cat2024[CODE].label, *([shown] if shown else [])))
    assert fc.submission.values[CODE] == read
    assert {k: v for k, v in fc.submission.values.items() if k != CODE} == \
        {k: v for k, v in valid_values.items() if k != CODE}


@pytest.mark.parametrize("typed, read", [
    (" 243 ", 243),
    ("\u00a0243\u00a0", 243),
    ("8.964", 8964),
    ("15.868 lượt", 15868),
    ("1.000.000 đồng", 1_000_000),
    ("1,234,567", 1_234_567),
    ("0", 0),
    (7.0, 7),
])
def test_text_read_when_certain(make_filled, valid_values, expect, typed, read):
    valid_values[CODE] = typed
    fc = check(make_filled(valid_values), expect)
    # read, and text is said to be text (cảnh báo number-as-text), as the template's "Kiểm tra" column says it
    assert [(f.kind, f.severity, f.cell) for f in fc.findings] == \
        ([("number-as-text", WARNING, fc.submission.cells[CODE])] if isinstance(typed, str) else [])
    assert fc.submission.values[CODE] == read
    assert isinstance(fc.submission.values[CODE], int)


@pytest.mark.parametrize("typed", [datetime(2024, 3, 15), date(2024, 3, 15)])
def test_date_in_number_cell(make_filled, valid_values, cat2024, expect, typed):
    path = make_filled(valid_values)
    ref = f"D{row_of(cat2024, CODE)}"
    # openpyxl gives the cell a date format, as Excel does when a date is typed.
    tamper(path, lambda wb: wb[DATA_SHEET][ref].__setattr__("value", typed))
    fc = check(path, expect)
    f = only(fc.findings, "date-in-number")
    assert_finding(f, "date-in-number", ERROR, path, cell=cell_of(cat2024, CODE), indicator=CODE,
                   mentions=(cat2024[CODE].label, "2024"))
    assert fc.submission.values[CODE] is None


@pytest.mark.parametrize("typed, meant", [("5 triệu", 5_000_000), ("500 nghìn", 500_000), ("2 tỷ", 2_000_000_000)])
def test_magnitude_word_is_not_a_unit(make_filled, valid_values, cat2024, expect, typed, meant):
    valid_values["CD_QUA_TIEN"], valid_values["CD_QUA_SO"] = typed, 3
    fc = check(make_filled(valid_values), expect)
    read = fc.submission.values["CD_QUA_TIEN"]
    assert read in (None, meant)      # either refused (and reported) or read with its magnitude
    if read is None:
        (f,) = fc.findings
        assert f.severity == ERROR and f.cell == cell_of(cat2024, "CD_QUA_TIEN")
    else:
        assert [f.kind for f in fc.findings] == ["number-as-text"]


# ---------------------------------------------------------------- the template's structure

def test_label_altered(make_filled, valid_values, cat2024, expect):
    path = make_filled(valid_values)
    tamper(path, lambda wb: wb[DATA_SHEET].cell(row_of(cat2024, "TT_DOANVIEN"), 2).__setattr__("value", "Đoàn viên"))
    fc = check(path, expect)
    f = only(fc.findings, "label-altered")
    assert_finding(f, "label-altered", WARNING, path, cell=cell_of(cat2024, "TT_DOANVIEN"), indicator="TT_DOANVIEN",
                   mentions=(cat2024["TT_DOANVIEN"].label, "“Đoàn viên”"))
    assert fc.submission.values == valid_values


def test_label_case_and_spacing_are_not_alterations(make_filled, valid_values, cat2024, expect):
    path = make_filled(valid_values)
    r = row_of(cat2024, "TT_DOANVIEN")
    r2 = row_of(cat2024, "TK_HOINGHI_SO")

    def change(wb):
        ws = wb[DATA_SHEET]
        ws.cell(r, 2).value = "  " + cat2024["TT_DOANVIEN"].label.upper().replace(" ", "   ") + " "
        ws.cell(r2, 2).value = unicodedata.normalize("NFD", cat2024["TK_HOINGHI_SO"].label)

    tamper(path, change)
    assert check(path, expect).findings == []


def test_name_moved_to_another_indicator(make_filled, valid_values, cat2024, expect):
    path = make_filled(valid_values)
    target = row_of(cat2024, "TT_DANGKY_3TN")
    tamper(path, lambda wb: wb.defined_names["TT_DOANVIEN"].__setattr__("attr_text", f"'{DATA_SHEET}'!$D${target}"))
    fc = check(path, expect)
    f = only(fc.findings, "name-moved")
    # located where the name now points: the other indicator's row
    assert_finding(f, "name-moved", ERROR, path, cell=f"{DATA_SHEET}!D{target}", indicator="TT_DOANVIEN",
                   mentions=("TT_DOANVIEN", cat2024["TT_DANGKY_3TN"].label))


def test_name_deleted(make_filled, valid_values, cat2024, expect):
    path = make_filled(valid_values)
    tamper(path, lambda wb: wb.defined_names.pop("TT_DOANVIEN"))
    fc = check(path, expect)
    f = only(fc.findings, "missing-name")
    # the reader cannot know where the cell went, so the finding has no cell
    assert_finding(f, "missing-name", ERROR, path, indicator="TT_DOANVIEN",
                   mentions=("TT_DOANVIEN", cat2024["TT_DOANVIEN"].label))
    assert "TT_DOANVIEN" not in fc.submission.values


def _rename_sheet(wb):
    wb[DATA_SHEET].title = "Data"   # openpyxl, like a careless tool, leaves the names pointing to 'Số liệu'


def _delete_sheet(wb):
    del wb[DATA_SHEET]


@pytest.mark.parametrize("change", [_rename_sheet, _delete_sheet], ids=["renamed", "deleted"])
def test_data_sheet_gone(make_filled, valid_values, cat2024, expect, change):
    path = make_filled(valid_values)
    tamper(path, change)
    fc = check(path, expect)
    assert DATA_SHEET not in fc.submission.sheets
    # one cause, one finding (not one per indicator)
    (f,) = fc.findings
    assert f.kind == "sheet-missing" and f.severity == ERROR and f.file == str(path) and vietnamese(f.message)
    assert f"“{DATA_SHEET}”" in f.message
    assert not any(v is not None for v in fc.submission.values.values())


def test_data_sheet_renamed_with_names_fixed_reads_fine(make_filled, valid_values, cat2024, expect):
    new = "Số liệu năm 2024"

    def change(wb):
        wb[DATA_SHEET].title = new
        for key in list(wb.defined_names):
            dn = wb.defined_names[key]
            dn.attr_text = dn.attr_text.replace(f"'{DATA_SHEET}'!", f"'{new}'!")

    path = tamper(make_filled(valid_values), change)
    fc = check(path, expect)
    assert [f for f in fc.findings if f.severity == ERROR] == []
    assert all(f.kind == "sheet-renamed" for f in fc.findings)
    assert fc.submission.values == valid_values
    assert fc.submission.cells["TT_DOANVIEN"] == f"{new}!D{row_of(cat2024, 'TT_DOANVIEN')}"


def test_names_broken_by_excel_after_sheet_deleted(make_filled, valid_values, cat2024, expect):
    def change(wb):
        del wb[DATA_SHEET]
        for key in list(wb.defined_names):
            dn = wb.defined_names[key]
            dn.attr_text = dn.attr_text.replace(f"'{DATA_SHEET}'!", "#REF!")

    path = tamper(make_filled(valid_values), change)
    fc = check(path, expect)
    broken = {f.indicator for f in fc.findings if f.kind == "name-broken"}
    assert set(cat2024.codes) <= broken
    assert not any("#REF”" in f.message for f in fc.findings)


def test_corrupt_data_sheet_part_is_unreadable(make_filled, valid_values, tmp_path, expect):
    src = make_filled(valid_values)
    path = rezip(src, tmp_path / "broken_part.xlsx",
                 lambda n, b: None if n == "xl/worksheets/sheet1.xml" else b)
    only(check(path, expect).findings, "unreadable-file")


def test_rows_inserted_above_the_table(make_filled, valid_values, cat2024, expect):
    """Three rows inserted above the table, the way LibreOffice does it: cells move, names follow."""
    path = make_filled(valid_values)
    first = min(ir.row for ir in layout_rows(cat2024)[1].values()) - 2   # the header row

    def change(wb):
        ws = wb[DATA_SHEET]
        ws.move_range(f"A{first}:H{ws.max_row}", rows=3, translate=True)
        shift_names(wb, first, 3)

    tamper(path, change)
    fc = check(path, expect)
    assert fc.findings == []
    assert fc.submission.values == valid_values
    for code in cat2024.codes:
        assert fc.submission.cells[code] == f"{DATA_SHEET}!D{row_of(cat2024, code) + 3}"
    assert fc.submission.unit == "DCS_STP"   # the metadata above did not move


def test_rows_inserted_keep_findings_located(make_filled, valid_values, cat2024, expect):
    valid_values["CD_HIENMAU"] = "1,644"
    path = make_filled(valid_values)
    first = row_of(cat2024, "TT_CBCCVC_TRE")

    def change(wb):
        ws = wb[DATA_SHEET]
        ws.move_range(f"A{first}:H{ws.max_row}", rows=3, translate=True)
        shift_names(wb, first, 3)

    tamper(path, change)
    f = only(check(path, expect).findings, "ambiguous-number")
    assert f.cell == f"{DATA_SHEET}!D{row_of(cat2024, 'CD_HIENMAU') + 3}"


# ---------------------------------------------------------------- files that are not templates at all

def _empty(p, good):
    p.write_bytes(b"")


def _random(p, good):
    p.write_bytes(os.urandom(4096))


def _csv(p, good):
    p.write_text("Mã chỉ tiêu,Số liệu\nTT_DOANVIEN,12\n", encoding="utf-8")


def _zip_without_workbook(p, good):
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("ghi_chu.txt", "không có sổ tính")


def _truncated(p, good):
    data = good.read_bytes()
    p.write_bytes(data[: len(data) // 2])


def _bad_workbook_xml(p, good):
    rezip(good, p, lambda n, b: b"<workbook><sheets>" if n == "xl/workbook.xml" else b)


def _entity_workbook_xml(p, good):
    bomb = (b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">&b;</workbook>')
    rezip(good, p, lambda n, b: bomb if n == "xl/workbook.xml" else b)


@pytest.mark.parametrize("make", [_empty, _random, _csv, _zip_without_workbook, _truncated, _bad_workbook_xml,
                                  _entity_workbook_xml])
def test_unreadable_file(make_filled, valid_values, tmp_path, expect, make):
    good = make_filled(valid_values, name="good.xlsx")
    path = tmp_path / "bad.xlsx"
    make(path, good)
    fc = check(path, expect)
    f = only(fc.findings, "unreadable-file")
    assert_finding(f, "unreadable-file", ERROR, path, mentions=("Không mở được tệp",))
    assert fc.submission.values == {}


def _foreign(tmp_path) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    ws.append(["Chỉ tiêu", "Số liệu"])
    ws.append(["Đoàn viên", 25])
    ws.append(["Lượt tham gia", 120])
    path = tmp_path / "bang_tinh_khac.xlsx"
    wb.save(path)
    return path


def test_foreign_xlsx_is_not_a_template(tmp_path, expect):
    path = _foreign(tmp_path)
    fc = check(path, expect)
    f = fc.findings[0]
    assert_finding(f, "not-a-template", ERROR, path, mentions=("BATN_UNIT",))
    assert all(f.severity == ERROR and f.file == str(path) for f in fc.findings)


def test_foreign_xlsx_gives_one_finding(tmp_path, expect):
    only(check(_foreign(tmp_path), expect).findings, "not-a-template")


def test_a_bad_file_does_not_stop_the_others(make_filled, valid_values, tmp_path, expect):
    good = make_filled(valid_values, name="a.xlsx")
    bad = tmp_path / "b.xlsx"
    bad.write_bytes(b"PK\x03\x04 nope")
    other = make_filled(valid_values, name="c.xlsx")
    out = validate_files([good, bad, other], expect)
    assert [fc.path for fc in out] == [good, bad, other]
    assert [len(fc.findings) for fc in out] == [0, 1, 0]


# ---------------------------------------------------------------- annotated copy

def _filled_cells(ws) -> dict[str, str]:
    colours = set(COLOURS.values())
    out = {}
    for row in ws.iter_rows():
        for c in row:
            rgb = c.fill.fgColor.rgb if c.fill is not None and c.fill.fill_type == "solid" else None
            if isinstance(rgb, str) and rgb[-6:].upper() in colours:
                out[c.coordinate] = rgb[-6:].upper()
    return out


def test_annotate_file(make_filled, valid_values, cat2024, expect, tmp_path):
    valid_values["TT_DOANVIEN"] = valid_values["TT_CBCCVC_TRE"] + 5          # lỗi
    valid_values["TK_HOINGHI_SO"], valid_values["TK_HOINGHI_LUOT"] = 4, 2    # cảnh báo
    valid_values["CD_HIENMAU"] = "mười"                                     # lỗi
    path = make_filled(valid_values)
    before = sha256(path)
    fc = check(path, expect)
    assert sorted(f.kind for f in fc.findings) == ["not-a-number", "rule-ge_both", "rule-le"]

    out = annotate_file(fc, tmp_path / "annotated.xlsx")
    assert sha256(path) == before

    wb = load_workbook(out)
    ws = wb[DATA_SHEET]
    rows = {c: row_of(cat2024, c) for c in ("TT_DOANVIEN", "TK_HOINGHI_LUOT", "CD_HIENMAU")}
    expected = {f"D{rows['TT_DOANVIEN']}": COLOURS[ERROR], f"D{rows['TK_HOINGHI_LUOT']}": COLOURS[WARNING],
                f"D{rows['CD_HIENMAU']}": COLOURS[ERROR]}
    assert _filled_cells(ws) == expected
    assert all(_filled_cells(wb[name]) == {} for name in wb.sheetnames if name != DATA_SHEET)
    by_cell = {f.cell.split("!")[1]: f for f in fc.findings}
    commented = {c.coordinate: c.comment.text for row in ws.iter_rows() for c in row if c.comment}
    assert set(commented) == set(expected)
    for ref, text in commented.items():
        assert by_cell[ref].message in text
        assert f"[{by_cell[ref].severity}]" in text

    assert wb.sheetnames[-1] == CHECK_SHEET
    listed = list(wb[CHECK_SHEET].iter_rows(min_row=2, values_only=True))
    assert len(listed) == 3
    assert [r[1] for r in listed] == ["lỗi", "lỗi", "cảnh báo"]
    assert {(r[4], r[5], r[6]) for r in listed} == {(f.cell, f.indicator, f.message) for f in fc.findings}

    # untouched, the annotated copy is batn's own: named as skipped, never read as the unit's report
    again = check(out, expect)
    assert [(f.kind, f.severity) for f in again.findings] == [("skipped-file", WARNING)]
    assert "bản tô màu" in again.findings[0].message and not again.submission.unit
    # once the unit corrects it and saves it again (Excel records a new save time), it is a report,
    # still a good batn workbook with the same findings
    stamp_saved_time(out, datetime.now() + timedelta(minutes=5))
    again = check(out, expect)
    assert sorted((f.kind, f.cell) for f in again.findings) == sorted((f.kind, f.cell) for f in fc.findings)


def test_annotate_clean_file(make_filled, valid_values, expect, tmp_path):
    fc = check(make_filled(valid_values), expect)
    wb = load_workbook(annotate_file(fc, tmp_path / "annotated.xlsx"))
    assert _filled_cells(wb[DATA_SHEET]) == {}
    assert wb[CHECK_SHEET]["G2"].value == "Không có lỗi hay cảnh báo nào."


# ---------------------------------------------------------------- annotation actions alone

def _f(kind, severity, cell, msg):
    return Finding(kind, severity, msg, file="u.xlsx", unit="DCS_STP", cell=cell)


@pytest.mark.parametrize("warning_first", [True, False])
def test_annotation_actions(warning_first):
    warn = _f("rule-ge_both", WARNING, f"{DATA_SHEET}!D14", "cảnh báo một")
    err = _f("negative", ERROR, f"{DATA_SHEET}!D14", "lỗi một")
    other = _f("rule-needs", WARNING, f"{DATA_SHEET}!D53", "cảnh báo hai")
    nowhere = _f("wrong-period", ERROR, "", "sai kỳ")
    findings = [warn, err, other, nowhere] if warning_first else [err, warn, other, nowhere]
    actions = annotation_actions(findings)
    marks = [a for a in actions if isinstance(a, MarkCell)]
    assert len(marks) == 2
    d14 = next(m for m in marks if m.cell == "D14")
    d53 = next(m for m in marks if m.cell == "D53")
    assert (d14.sheet, d14.colour) == (DATA_SHEET, COLOURS[ERROR])
    assert "[lỗi] lỗi một" in d14.note and "[cảnh báo] cảnh báo một" in d14.note
    assert (d53.sheet, d53.colour, d53.note) == (DATA_SHEET, COLOURS[WARNING], "[cảnh báo] cảnh báo hai")
    assert isinstance(actions[-1], WriteFindingsSheet)
    assert actions[-1].findings == tuple(findings)


def test_annotation_actions_sheet_name_with_bang():
    f = _f("negative", ERROR, "Số liệu!2024!D14", "lỗi")
    (mark, sheet) = annotation_actions([f])
    assert (mark.sheet, mark.cell) == ("Số liệu!2024", "D14")
    assert isinstance(sheet, WriteFindingsSheet)


def test_annotation_actions_nothing_located():
    actions = annotation_actions([_f("wrong-period", ERROR, "", "sai kỳ")])
    assert len(actions) == 1 and isinstance(actions[0], WriteFindingsSheet)
    assert annotation_actions([]) == [WriteFindingsSheet(())]
