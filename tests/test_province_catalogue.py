"""Issue 15: a province's own indicators, authored in a spreadsheet, work end to end.

Point by point: the catalogue travels with the data (1), the authoring workbook and its check (2),
one rule language compiled twice (3), targets (4), the shipped kdcd-2024 catalogue end to end (5),
and indicators without a sentence (6)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from openpyxl import load_workbook
from typer.testing import CliRunner

from batn.catalogue import CatalogueError, catalogue_from_dict, catalogue_to_dict, load_catalogue, unphrased
from batn.checks import check_values
from batn.cli import app
from batn.model import Severity, Submission, Unit
from batn.pipeline import load_period
from batn.rulelang import code_problem, parse_rule, parse_target
from batn.xlsx.catalogue_book import check_authoring, write_authoring
from batn.xlsx.template import write_template

runner = CliRunner()
UNITS = "code,name,parent,level\nDK,Đoàn Khối Dân - Chính - Đảng Thành phố,,Đoàn Khối\n" \
        "DCS_A,Đoàn Sở Nội vụ,DK,Đoàn cơ sở\nDCS_B,Đoàn Sở Xây dựng,DK,Đoàn cơ sở\n"


def _province_yaml(tmp_path: Path, cid: str = "tinh-x-2025") -> Path:
    """A province's copy of 3tn-2024: own id and version, two new indicators with a sum rule,
    a required one, targets, a phrase and one indicator left without a sentence."""
    data = yaml.safe_load((Path(load_catalogue("3tn-2024").source)).read_text(encoding="utf-8"))
    data.update(id=cid, version="3")
    data["indicators"] += [
        {"code": "TX_CLB_SO", "section": "II.1", "label": "Câu lạc bộ lý luận trẻ", "unit": "câu lạc bộ",
         "kind": "count", "target": 5, "required": "cảnh báo",
         "phrase": "Duy trì {TX_CLB_SO} lý luận trẻ{TX_CLB_SO:chitieu}"},
        {"code": "TX_CLB_TV", "section": "II.1", "label": "Thành viên câu lạc bộ lý luận trẻ", "unit": "người",
         "kind": "people", "rules": ["TX_CLB_TV + BT_LLCT <= TT_CBCCVC_TRE [lỗi]"], "target": "1 mỗi TX_CLB_SO"},
    ]
    for ind in data["indicators"]:
        if ind["code"] == "TT_COSO_TRIENKHAI":
            ind["target"] = "100% TT_COSO_TONG"
    path = tmp_path / f"{cid}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _fill(cat, tmp_path, units=("DCS_A", "DCS_B"), **over):
    from batn.units import load_units

    (tmp_path / "units.csv").write_text(UNITS, encoding="utf-8")
    tree = load_units(tmp_path / "units.csv")
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    base = {c: None for c in cat.codes}
    base.update(TT_CBCCVC_TRE=100, TT_DOANVIEN=80, TT_COSO_TONG=4, TT_COSO_TRIENKHAI=3, BT_LLCT=10,
                CV_YTUONG_DEXUAT=90, CD_TINHNGUYEN_SO=5, CD_TINHNGUYEN_LUOT=50)
    base = {k: v for k, v in base.items() if k in cat}
    for code in units:
        v = dict(base, **{k: val for k, val in over.get(code, {}).items() if k in cat})
        write_template(inbox / f"{code}.xlsx", cat, tree[code], load_period("2025"), values=v)
    return inbox


# ---------------------------------------------------------------- 1. the catalogue travels with the data
def test_province_copy_works_through_every_command(tmp_path):
    cat_file = _province_yaml(tmp_path)
    cat = load_catalogue(cat_file)
    inbox = _fill(cat, tmp_path, DCS_A={"TX_CLB_SO": 3, "TX_CLB_TV": 20}, DCS_B={"TX_CLB_SO": 1, "TX_CLB_TV": 95})
    r = runner.invoke(app, ["validate", "--catalog", str(cat_file), "--period", "2025", str(inbox)])
    assert "bộ chỉ tiêu" not in r.output or "sai bộ" not in r.output
    assert r.exit_code == 1 and "không đúng quy tắc" in r.output          # the sum rule of DCS_B
    out = tmp_path / "TongHop.xlsx"
    r = runner.invoke(app, ["consolidate", str(inbox), "--catalog", str(cat_file), "--units",
                            str(tmp_path / "units.csv"), "--period", "2025", "--out", str(out)])
    assert out.exists(), r.output
    wb = load_workbook(out)
    assert wb.defined_names["BATN_CATALOG_HASH"].attr_text == f'"{cat.digest}"'
    assert wb.defined_names["BATN_CATALOG_VERSION"].attr_text == '"3"'
    assert "Chỉ tiêu kế hoạch" in wb.sheetnames
    # no catalogue file needed for the report: the workbook carries it (the yaml is gone)
    cat_file.unlink()
    r = runner.invoke(app, ["report", str(out), "--out", str(tmp_path / "bc.txt")])
    assert r.exit_code == 0, r.output
    text = (tmp_path / "bc.txt").read_text(encoding="utf-8")
    assert "04 câu lạc bộ lý luận trẻ (chưa đạt chỉ tiêu kế hoạch: 05 câu lạc bộ)" in text
    assert "chỉ tiêu" in text and "Thành viên câu lạc bộ lý luận trẻ" in text or "thành viên câu lạc bộ" in text


def test_same_id_edited_copy_is_not_silently_the_shipped_one(tmp_path):
    cat_file = _province_yaml(tmp_path, cid="3tn-2024")
    cat = load_catalogue(cat_file)
    assert cat.digest != load_catalogue("3tn-2024").digest
    inbox = _fill(cat, tmp_path, units=("DCS_A",), DCS_A={"TX_CLB_SO": 2})
    from batn.pipeline import report_input_from_workbook

    inp = report_input_from_workbook(inbox / "DCS_A.xlsx")
    assert inp.catalogue.digest == cat.digest and inp.values["TX_CLB_SO"] == 2


def test_file_of_another_version_is_read_where_codes_match(tmp_path):
    old = load_catalogue("3tn-2024")
    inbox = _fill(old, tmp_path, units=("DCS_A",))
    new = load_catalogue(_province_yaml(tmp_path, cid="3tn-2024"))
    from batn.xlsx.reader import read_submission

    sub = read_submission(inbox / "DCS_A.xlsx", new)
    assert sub.values["TT_CBCCVC_TRE"] == 100
    kinds = [f.kind for f in sub.findings]
    assert "missing-name" not in kinds and "catalogue-version" in kinds
    f = next(f for f in sub.findings if f.kind == "catalogue-version")
    assert f.severity == Severity.WARNING and "TX_CLB_SO" in f.message


# ---------------------------------------------------------------- 2. authoring in a spreadsheet
def test_authoring_workbook_round_trip_and_cli(tmp_path):
    book = tmp_path / "bo_chi_tieu.xlsx"
    r = runner.invoke(app, ["catalogue", "new", "--out", str(book), "--from", str(_province_yaml(tmp_path))])
    assert r.exit_code == 0, r.output
    wb = load_workbook(book)
    assert {"Chỉ tiêu", "Phần", "Câu báo cáo", "Báo cáo", "Hướng dẫn"} <= set(wb.sheetnames)
    head = [c.value for c in wb["Chỉ tiêu"][1]]
    assert head[:10] == ["code", "section", "label", "unit", "kind", "rules", "required", "phrase", "compare", "target"]
    lists = [d.formula1 for d in wb["Chỉ tiêu"].data_validations.dataValidation]
    assert any("Danh mục" in f for f in lists) and any("lỗi" in f for f in lists)
    r = runner.invoke(app, ["catalogue", "check", str(book)])
    assert r.exit_code == 0, r.output
    out = tmp_path / "back.yaml"
    assert runner.invoke(app, ["catalogue", "build", str(book), "--out", str(out)]).exit_code == 0
    assert load_catalogue(out).digest == load_catalogue(book).digest == load_catalogue(tmp_path / "tinh-x-2025.yaml").digest
    again = tmp_path / "again.xlsx"
    assert runner.invoke(app, ["catalogue", "build", str(out), "--out", str(again)]).exit_code == 0
    assert load_catalogue(again).digest == load_catalogue(out).digest


def test_check_names_sheet_row_and_column(tmp_path):
    book = tmp_path / "b.xlsx"
    write_authoring(book, load_catalogue("3tn-2024"))
    wb = load_workbook(book)
    ws = wb["Chỉ tiêu"]
    ws["A3"] = "TT_DOANVIEN"                    # duplicate of row 4
    ws["A5"] = "AB12"                           # a cell address, not a defined name
    ws["F6"] = "<= TT_KHONG_CO [lỗi]"           # unknown code
    ws["F7"] = "TT_X <<= 3"                     # does not parse
    ws["H8"] = "có {TT_DOANVIEN:lạ} người"      # unknown placeholder form
    ws["K9"] = "KHONG_CO"                       # unknown pair
    wb.save(book)
    problems = check_authoring(book)
    where = {(p.row, p.column) for p in problems if p.severity == Severity.ERROR and p.sheet == "Chỉ tiêu"}
    assert {(4, "A"), (5, "A"), (6, "F"), (7, "F"), (8, "H"), (9, "K")} <= where, problems
    r = runner.invoke(app, ["catalogue", "check", str(book), "--json"])
    assert r.exit_code == 1 and json.loads(r.output)["errors"] >= 6
    assert runner.invoke(app, ["catalogue", "check", str(tmp_path / "nope.xlsx")]).exit_code == 2


@pytest.mark.parametrize("code,ok", [("CV_A", True), ("A1", False), ("XFD1", False), ("R1C1", False),
                                     ("cv_a", False), ("BATN_X", False), ("1AB", False), ("ABCD1", True)])
def test_codes_must_be_defined_names(code, ok):
    assert (code_problem(code) is None) is ok


# ---------------------------------------------------------------- 3. one rule language, two compilers
@pytest.mark.parametrize("spec,values,broken", [
    ("A + B <= X [lỗi]", {"A": 3, "B": 4, "X": 6}, True),
    ("A + B <= X [lỗi]", {"A": 3, "B": 3, "X": 6}, False),
    ("A + B <= X [lỗi]", {"A": 3, "B": 4, "X": None}, False),        # nothing to compare with
    ("<= 50% X khi X > 0 [cảnh báo]", {"A": 4, "X": 6}, True),
    ("<= 50% X khi X > 0 [cảnh báo]", {"A": 4, "X": 0}, False),
    ("X > 0 khi A > 0", {"A": 2, "X": None}, True),                   # "needs": a blank is 0
    ("2 x A >= X", {"A": 2, "X": 5}, True),
])
def test_rule_language_python_and_excel_agree(spec, values, broken, tmp_path):
    rule = parse_rule(spec, "A")
    assert rule.broken("A", values) is broken
    from batn.xlsx.template import IndicatorRow, _rule_condition
    from batn.model import Indicator

    placed = {c: IndicatorRow(Indicator(c, "I", c, "cuộc", "count"), 10 + i, str(i + 1)) for i, c in enumerate("ABX")}
    cond = _rule_condition(rule, "$D$10", "", placed)
    # the Excel condition names every cell the rule reads, the same way
    assert "$D$10" in cond and "$D$12" in cond


def test_required_and_sum_rule_findings():
    cat = catalogue_from_dict({
        "id": "t", "title": "t", "sections": [{"key": "I", "heading": "h"}],
        "indicators": [{"code": "A", "section": "I", "label": "a", "unit": "cuộc", "kind": "count", "required": "lỗi"},
                       {"code": "B", "section": "I", "label": "b", "unit": "cuộc", "kind": "count",
                        "rules": ["A + B <= 10 [cảnh báo]", "bắt buộc khi A > 5"]}]})
    sub = Submission("U", "2025", "t", {"A": None, "B": None}, {}, cells={"A": "Số liệu!D13", "B": "Số liệu!D14"})
    assert [f.kind for f in check_values(sub, cat)] == ["required"]
    sub.values = {"A": 8, "B": 5}
    f, = check_values(sub, cat)
    assert f.kind == "rule-expr" and f.severity == Severity.WARNING and "A + B <= 10" in f.message
    sub.values = {"A": 8, "B": None}
    assert [f.kind for f in check_values(sub, cat)] == ["required"]


# ---------------------------------------------------------------- 4. targets
@pytest.mark.parametrize("spec,values,result,verdict", [
    (1550, {}, 1720, "vượt"), ("1.550", {}, 1550, "đạt"), (1550, {}, 1200, "chưa đạt"),
    ("100% T", {"T": 48}, 45, "chưa đạt"), ("100% T", {"T": 48}, 48, "đạt"),
    ("1 mỗi DV", {"DV": 300}, 320, "vượt"), ("mỗi DV ít nhất 01 ý tưởng", {"DV": 300}, 299, "chưa đạt"),
    ("tối đa 0", {}, 0, "đạt"), ("100% T", {"T": None}, 3, None),
])
def test_targets(spec, values, result, verdict):
    assert parse_target(spec).verdict(result, values) == verdict


# ---------------------------------------------------------------- 5. the second real catalogue
def test_kdcd_2024_end_to_end(tmp_path):
    cat = load_catalogue("kdcd-2024")
    assert Path(cat.source).suffix == ".xlsx" and cat.version
    assert sum(1 for i in cat.indicators if i.target) >= 10
    src = tmp_path / "bo_chi_tieu.xlsx"
    shutil.copy(cat.source, src)
    (tmp_path / "units.csv").write_text(UNITS, encoding="utf-8")
    r = runner.invoke(app, ["template", "--catalog", str(src), "--units", str(tmp_path / "units.csv"),
                            "--period", "2024", "--out", str(tmp_path / "bm")])
    assert r.exit_code == 0 and len(list((tmp_path / "bm").glob("*.xlsx"))) == 3
    figures = {"TT_CBCCVC_TRE": 120, "TT_DOANVIEN": 90, "TT_COSO_TONG": 1, "TT_COSO_TRIENKHAI": 1, "KD_PODCAST_KY": 6,
               "KD_DIENDAN_KNCCT": 2, "CV_YTUONG_DEXUAT": 100, "KD_LOPHOC_YT": 1, "CD_CAYXANH": 60,
               "KD_PHANUNG_NHANH": 12, "KT_CANHAN": 2}
    inbox = _fill(cat, tmp_path, DCS_A=figures, DCS_B=figures)
    r = runner.invoke(app, ["validate", "--catalog", str(src), str(inbox)])
    assert r.exit_code == 0, r.output
    out = tmp_path / "TongHop.xlsx"
    r = runner.invoke(app, ["consolidate", str(inbox), "--catalog", str(src), "--units", str(tmp_path / "units.csv"),
                            "--period", "2025", "--out", str(out)])
    assert out.exists(), r.output
    rows = list(load_workbook(out)["Chỉ tiêu kế hoạch"].iter_rows(min_row=5, values_only=True))
    podcast = next(r for r in rows if "podcast" in r[1])
    assert podcast[4] == 12 and podcast[6] == "đạt chỉ tiêu"
    r = runner.invoke(app, ["report", str(out), "--out", str(tmp_path / "bc.txt"), "--catalog", str(src)])
    assert r.exit_code == 0, r.output
    text = (tmp_path / "bc.txt").read_text(encoding="utf-8")
    assert "12 kỳ podcast “Mỗi tháng 01 quyển sách về Bác” (đạt chỉ tiêu kế hoạch: 12 kỳ)" in text
    assert "04 diễn đàn “Kết nối công chức trẻ” (đạt chỉ tiêu kế hoạch: 04 diễn đàn)" in text
    assert "ĐVTN đã đề xuất 200 ý tưởng, sáng kiến (chưa đạt chỉ tiêu kế hoạch: 180 ý tưởng)" not in text
    assert "vượt chỉ tiêu kế hoạch: 180 ý tưởng" in text
    assert "chưa đạt chỉ tiêu kế hoạch: 03 công trình" in text     # Lớp học yêu thương: 2 of 3
    # 6. an indicator with no sentence still appears, plainly, from its label and unit
    assert "ĐVTN tham gia nòng cốt đội hình phản ứng nhanh, tự vệ, phòng cháy và chữa cháy: 24 người" in text


# ---------------------------------------------------------------- 6. indicators without a sentence
def test_unphrased_indicator_is_warned_and_said_plainly(tmp_path):
    cat = load_catalogue("kdcd-2024")
    assert "KD_PHANUNG_NHANH" in unphrased(cat)
    warnings = [p for p in check_authoring(cat.source) if p.severity == Severity.WARNING]
    assert any("KD_PHANUNG_NHANH" in p.message and p.sheet == "Chỉ tiêu" and p.column == "H" for p in warnings)
    from batn.report.phrases import Phrases

    said = " ".join(Phrases(cat, {"KD_PHANUNG_NHANH": 0, "KD_10000BUOC": 1500}).section("II.1")
                    + Phrases(cat, {"KD_10000BUOC": 1500}).section("II.3"))
    assert "phòng cháy và chữa cháy: chưa có" in said
    assert "“Mỗi thanh niên 10.000 bước chân mỗi ngày”: 1.500 người" in said


def test_bad_catalogue_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "x.yaml"
    bad.write_text("id: x\ntitle: x\nsections: [{key: I, heading: h}]\nindicators:\n"
                   "- {code: a1, section: I, label: a, unit: cuộc, kind: count}\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match="không hợp lệ"):
        load_catalogue(bad)
    r = runner.invoke(app, ["template", "--catalog", str(bad), "--units", "x.csv", "--period", "2024", "--out", "o"])
    assert r.exit_code == 2 and "Traceback" not in r.output
