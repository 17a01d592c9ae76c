"""A report issued below the province speaks as its own level (templates/report.toml [levels]): the body
that reports, the signer's block, the addressee of proposals (the parent in the units file), the header
and the Nơi nhận; and the appendix carries each sub-unit's own sub-tree completeness under short column
heads. Scenarios as ReportInput (milliseconds), then the demo's sub-trees through the CLI."""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import pytest
from docx import Document
from typer.testing import CliRunner

from batn.catalogue import catalogue_digest, catalogue_to_dict, load_catalogue
from batn.cli import app
from batn.letterhead import letterhead
from batn.model import Unit
from batn.report.context import build_report, short_label
from batn.report.text_writer import render_text
from batn.report.workbook import UnitRow, WorkbookFacts

from test_report_content import CAT, PROVINCE, report_input, settings

DISTRICT = Unit("HD_Y", "Huyện Đoàn Yên Bình", "TD_X", level="Huyện Đoàn", place="Yên Bình", signer="Lê Văn Tư")
DTT = Unit("DUB", "Đoàn UBND tỉnh", "TD_X", level="Đoàn trực thuộc", place="Xuân Hòa")
BASE = Unit("DCS_TP", "Đoàn cơ sở Sở Tư pháp", "DUB", level="Đoàn cơ sở", signer="Phan Thị Hoa")
# the units' lists without any request to a named body
NEUTRAL = {"de_xuat": [("Đề nghị bố trí kinh phí cho công trình thanh niên (Chi đoàn Phòng Hộ tịch)",)],
           "kho_khan": [("Kinh phí hoạt động còn hạn chế (Chi đoàn Văn phòng)",)]}


def issued(unit, parent, s=None, narratives=NEUTRAL):
    inp = report_input(unit=unit)
    inp.parent = parent
    inp.narratives = narratives
    doc = build_report(inp, s or settings(), number="07", on=date(2026, 6, 25))
    return doc, " ".join(render_text(doc).split())


def test_district_report_speaks_as_the_huyen_doan_and_reports_to_its_province():
    doc, text = issued(DISTRICT, PROVINCE)
    assert "Tỉnh Đoàn" not in " ".join(doc.paragraphs()).replace("Ban Thường vụ Tỉnh Đoàn Xuân Hòa", "")
    assert "Trung ương Đoàn" not in text
    assert "Ban Thường vụ Huyện Đoàn báo cáo kết quả" in text
    assert "- Đề nghị Ban Thường vụ Tỉnh Đoàn Xuân Hòa bố trí kinh phí cho công trình thanh niên./." in text
    assert (doc.superior, doc.issuer) == ("Tỉnh Đoàn Xuân Hòa", "BCH Huyện Đoàn Yên Bình")
    assert doc.number == "Số: 07-BC/HĐTN" and doc.place_date.startswith("Yên Bình, ngày 25 tháng 6 năm 2026")
    assert (doc.sign_on_behalf, doc.sign_title, doc.signer) == ("TM. BAN THƯỜNG VỤ HUYỆN ĐOÀN", "BÍ THƯ", "Lê Văn Tư")
    assert doc.recipients == ["Ban Thường vụ Tỉnh Đoàn Xuân Hòa (báo cáo)", "Thường trực Huyện ủy Yên Bình (báo cáo)",
                              "Các cơ sở Đoàn trực thuộc", "Lưu VP"]
    assert "Toàn huyện có 820" in text and doc.warnings == []


def test_doan_co_so_report_has_its_bch_and_addresses_its_parent():
    doc, text = issued(BASE, DTT)
    assert "Tỉnh Đoàn" not in text and "Trung ương" not in text.replace("cấp Trung ương", "")
    assert "Ban Chấp hành Đoàn cơ sở Sở Tư pháp báo cáo kết quả" in text
    assert "- Đề nghị Ban Thường vụ Đoàn UBND tỉnh bố trí kinh phí" in text
    assert (doc.superior, doc.issuer) == ("Đoàn UBND tỉnh", "BCH Đoàn cơ sở Sở Tư pháp")
    assert doc.number.endswith("-BC/ĐTN") and doc.sign_on_behalf == "TM. BAN CHẤP HÀNH"
    assert doc.recipients[0] == "Ban Thường vụ Đoàn UBND tỉnh (báo cáo)" and doc.recipients[-1] == "Lưu"
    # a sub-unit's request to the issuer itself is the issuer's own task, under its own name
    doc, text = issued(BASE, DTT, narratives={"de_xuat": [("Đề nghị Đoàn cơ sở Sở Tư pháp tổ chức hội thi tin học",)]})
    assert "- Tổ chức hội thi tin học" in text and "Đề nghị Đoàn cơ sở" not in text


def test_the_province_itself_is_unchanged():
    doc, text = issued(PROVINCE, None)
    assert "Ban Thường vụ Tỉnh Đoàn báo cáo kết quả" in text
    assert "- Đề nghị Trung ương Đoàn bố trí kinh phí" in text
    assert (doc.issuer, doc.sign_on_behalf) == ("BCH Đoàn tỉnh Xuân Hòa", "TM. BAN THƯỜNG VỤ TỈNH ĐOÀN")
    assert doc.number == "Số: 07-BC/TĐTN" and doc.warnings == []


def test_without_the_units_file_level_by_name_and_a_warning_for_the_unknown_parent():
    ward = Unit("DP_A", "Đoàn phường An Hòa", None)          # name only: what a workbook alone carries
    doc, text = issued(ward, None)
    assert "Ban Chấp hành Đoàn phường An Hòa báo cáo" in text and doc.sign_on_behalf == "TM. BAN CHẤP HÀNH"
    assert "- Đề nghị Ban Thường vụ Tỉnh Đoàn bố trí kinh phí" in text
    assert any("Không rõ đơn vị cấp trên" in w for w in doc.warnings)
    odd = Unit("X1", "Ban Chỉ đạo phong trào", None)
    doc, _ = issued(odd, None)
    assert any("Không rõ cấp" in w for w in doc.warnings) and doc.sign_on_behalf == "TM. BAN CHẤP HÀNH"


def test_a_provinces_own_settings_win_and_are_flagged_below_the_province():
    own = settings(document={"issuer_short": "Ban Thường vụ Tỉnh Đoàn", "sign_on_behalf": "TM. BAN THƯỜNG VỤ TỈNH ĐOÀN"},
                   proposals={"addressee": "Tỉnh ủy"})
    doc, text = issued(DISTRICT, PROVINCE, own)
    assert "Ban Thường vụ Tỉnh Đoàn báo cáo" in text and doc.sign_on_behalf == "TM. BAN THƯỜNG VỤ TỈNH ĐOÀN"
    assert "- Đề nghị Tỉnh ủy bố trí kinh phí" in text
    assert any("Tệp thiết lập ghi “Ban Thường vụ Tỉnh Đoàn”" in w for w in doc.warnings)
    # a province's file may speak for its own level only ([levels."Tỉnh Đoàn"]); a district is untouched
    lv = settings()
    lv["levels"]["Tỉnh Đoàn"] = {**lv["levels"]["Tỉnh Đoàn"], "sign_title": "PHÓ BÍ THƯ"}
    assert issued(PROVINCE, None, lv)[0].sign_title == "PHÓ BÍ THƯ"
    assert issued(DISTRICT, PROVINCE, lv)[0].sign_title == "BÍ THƯ"


def test_the_workbook_cover_and_the_report_share_one_header():
    head = letterhead(settings(), DISTRICT, date(2026, 6, 25), parent=PROVINCE)
    doc, _ = issued(DISTRICT, PROVINCE)
    assert head.left == ["TỈNH ĐOÀN XUÂN HÒA", "BCH HUYỆN ĐOÀN YÊN BÌNH", "***"]
    assert head.signature == [doc.sign_on_behalf, doc.sign_title] and head.number == ""


def test_appendix_carries_each_sub_units_completeness_and_short_heads():
    inp = report_input()
    inp.facts = WorkbookFacts(children=[UnitRow("A", "Đoàn các cơ quan Đảng tỉnh", {"BT_TAPHUAN_LOP": 40}, "4/5", "3/5"),
                                        UnitRow("B", "Đoàn Công an tỉnh", {"BT_TAPHUAN_LOP": 50}, "5/5", "5/5")],
                              rates={"TD_X": ("9/10", "8/10")})
    a = build_report(inp, settings(), on=date(2026, 6, 25)).appendix
    assert a.header[:4] == ["STT", "Đơn vị", "Đã nộp", "Đúng hạn"]
    assert a.rows[0][:4] == ["1", "Đoàn các cơ quan Đảng tỉnh", "4/5", "3/5"]
    assert a.total[:4] == ["", "Tổng cộng", "9/10", "8/10"]
    assert "Lớp tập huấn\n(lớp)" in a.header
    assert all(len(h) <= 40 for h in a.header)               # no more full labels as column heads
    # a workbook without the status columns: no empty rate columns
    inp.facts = WorkbookFacts(children=[UnitRow("A", "Đoàn A", {"BT_TAPHUAN_LOP": 40})])
    assert build_report(inp, settings(), on=date(2026, 6, 25)).appendix.header[2] != "Đã nộp"


def test_short_labels_catalogue_first_then_settings_then_a_cut_at_a_clause():
    s = settings()
    ind = CAT["CV_YTUONG_DEXUAT"]
    assert short_label(replace(ind, short="Ý tưởng"), s) == "Ý tưởng"
    assert short_label(ind, s) == "Ý tưởng, sáng kiến"                       # [appendix.labels]
    s["appendix"]["labels"] = {}
    assert short_label(ind, s) == "Ý tưởng, sáng kiến, giải pháp"           # before "được đề xuất"
    assert short_label(CAT["TT_CBCCVC_TRE"], s) == "CBCCVC trẻ của đơn vị"  # brackets dropped, abbreviated
    assert short_label(CAT["CV_T7TN_LUOT"], s) == "Lượt ĐVTN tham gia “Ngày thứ bảy tình nguyện”"
    # `short` is a catalogue key; a catalogue without it keeps its content hash
    data = catalogue_to_dict(CAT)
    assert "short" not in str(data["indicators"]) and catalogue_digest(data) == CAT.digest
    data["indicators"][0]["short"] = "CBCCVC trẻ"
    from batn.catalogue import catalogue_from_dict
    assert catalogue_from_dict(data).indicators[0].short == "CBCCVC trẻ"


# ------------------------------------------------------------------ the demo's sub-trees, end to end

@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    d = tmp_path_factory.mktemp("levels") / "d"
    r = CliRunner().invoke(app, ["demo", "--out", str(d)])
    assert r.exit_code == 0, r.output
    return d


def consolidate(d, root):
    out = d / f"{root}.xlsx"
    r = CliRunner().invoke(app, ["consolidate", str(d / "hop_thu"), "--units", str(d / "don_vi.csv"), "--catalog",
                                 "3tn-2024", "--period", "2026-H1", "--root", root, "--out", str(out)])
    assert out.exists(), r.output
    return out


def report(d, book, suffix, *extra):
    out = book.with_name(book.stem + "_" + "_".join(x.strip("-") for x in extra[:1]) + suffix)
    r = CliRunner().invoke(app, ["report", str(book), "--out", str(out), "--date", "2026-06-25", *extra])
    assert r.exit_code == 0, r.output
    return out, r.output


def test_ward_sub_tree_of_the_demo_without_a_settings_file(demo):
    book = consolidate(demo, "DP_LX")
    out, said = report(demo, book, ".txt", "--units", str(demo / "don_vi.csv"))
    text = " ".join(out.read_text(encoding="utf-8").split())
    assert "Ban Thường vụ Tỉnh Đoàn" not in text.replace("Ban Thường vụ Tỉnh Đoàn An Giang", "")
    assert "TM. BAN THƯỜNG VỤ TỈNH ĐOÀN" not in text and "Trung ương Đoàn" not in text
    assert "Ban Chấp hành Đoàn phường Long Xuyên báo cáo" in text and "TM. BAN CHẤP HÀNH" in text
    assert "TỈNH ĐOÀN AN GIANG" in text and "BCH ĐOÀN PHƯỜNG LONG XUYÊN" in text and "-BC/ĐTN" in text
    assert "- Ban Thường vụ Tỉnh Đoàn An Giang" in text                  # first in Nơi nhận
    assert "Toàn phường" in text and "Không rõ" not in said
    # the cover of the consolidated workbook says the same
    from openpyxl import load_workbook
    ws = load_workbook(book, read_only=True)["Số liệu"]
    cells = [str(c) for row in ws.iter_rows(values_only=True) for c in row if c]
    assert "TỈNH ĐOÀN AN GIANG\nBCH ĐOÀN PHƯỜNG LONG XUYÊN" in cells and "TM. BAN CHẤP HÀNH" in cells
    # without the units file: the level the workbook carries, a warning for the parent it cannot know
    out, said = report(demo, book, ".txt")
    text = " ".join(out.read_text(encoding="utf-8").split())
    assert "Ban Chấp hành Đoàn phường Long Xuyên báo cáo" in text and "TM. BAN CHẤP HÀNH" in text
    assert "Không rõ đơn vị cấp trên" in " ".join(said.split())
    # the appendix: each chi đoàn's own report, the missing one 0/1
    out, _ = report(demo, book, ".docx", "--units", str(demo / "don_vi.csv"))
    t = Document(out).tables[-1]
    rows = {r.cells[1].text: [c.text for c in r.cells[2:4]] for r in t.rows[1:]}
    assert rows["Chi đoàn khu phố Đông Xuyên"] == ["0/1", "0/1"] and rows["Tổng cộng"] == ["4/5", "4/5"]


def test_province_appendix_rates_up_the_tree(demo):
    out, _ = report(demo, demo / "TongHop_TD_AG_2026-H1.xlsx", ".docx", "--units", str(demo / "don_vi.csv"),
                    "--config", str(demo / "thiet_lap_bao_cao.toml"))
    t = Document(out).tables[-1]
    head = [c.text for c in t.rows[0].cells]
    assert head[2:4] == ["Đã nộp", "Đúng hạn"] and max(len(h) for h in head) <= 40
    rows = {r.cells[1].text: [c.text for c in r.cells[2:4]] for r in t.rows[1:]}
    assert rows["Đoàn Công an tỉnh"] == ["5/5", "4/5"] and rows["Đoàn phường Long Xuyên"] == ["4/5", "4/5"]
    assert rows["Tổng cộng"] == ["29/30", "28/30"]


def test_a_demo_unit_below_the_province_with_the_provinces_settings_file(demo):
    book = consolidate(demo, "DUBND")
    out, said = report(demo, book, ".txt", "--units", str(demo / "don_vi.csv"), "--config",
                       str(demo / "thiet_lap_bao_cao.toml"))
    text = " ".join(out.read_text(encoding="utf-8").split())
    assert "Ban Thường vụ Đoàn UBND tỉnh báo cáo" in text and "Nguyễn Văn An" not in text
    assert re.search(r"Nơi nhận: TM\. BAN THƯỜNG VỤ - Ban Thường vụ Tỉnh Đoàn An Giang", text)


def test_a_misspelt_settings_name_is_refused_with_the_right_one(tmp_path):
    """A line a province mistyped would be silently ignored: "plcae" for "place" is said, with the
    name it looks like; names like no shipped one, and the province's own level names, pass."""
    from batn.report.context import load_settings

    bad = tmp_path / "sai.toml"
    bad.write_text('[document]\nplcae = "An Giang"\n\n[wordng]\nnames_more = "x"\n', encoding="utf-8")
    with pytest.raises(ValueError) as e:
        load_settings(bad)
    assert "khóa “plcae” ở mục [document] (có phải “place”?)" in str(e.value)
    assert "mục [wordng] (có phải [wording]?)" in str(e.value)
    level = tmp_path / "cap.toml"
    level.write_text('[levels."Tỉnh Đoàn"]\nsign_tittle = "BÍ THƯ"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="khóa “sign_tittle” ở mục \\[levels.\"Tỉnh Đoàn\"\\] \\(có phải “sign_title”\\?\\)"):
        load_settings(level)
    good = tmp_path / "dung.toml"
    good.write_text('[document]\nplace = "An Giang"\nghi_chu_rieng = "x"\n\n[levels."Đoàn Khối Doanh nghiệp"]\n'
                    'issuer = "BCH {{ unit.name }}"\n\n[subjects]\n"Đặc khu" = "toàn đặc khu"\n', encoding="utf-8")
    s = load_settings(good)
    assert s["document"]["place"] == "An Giang" and "Đoàn Khối Doanh nghiệp" in s["levels"]


def test_a_report_from_a_blank_template_says_it_has_no_figures(tmp_path):
    from batn.pipeline import load_period
    from batn.xlsx.template import write_template

    blank = write_template(tmp_path / "trong.xlsx", load_catalogue("3tn-2024"), BASE, load_period("2026-H1"))
    r = CliRunner().invoke(app, ["report", str(blank), "--out", str(tmp_path / "bc.txt"), "--date", "2026-06-25"])
    assert r.exit_code == 0, r.output
    assert "chưa có số liệu nào (biểu mẫu còn trống)" in " ".join(r.output.split())


def test_a_report_of_a_units_own_figures_speaks_of_that_unit(tmp_path):
    """A unit's filled template (its own figures, not a consolidation): the sentences' subject is the
    unit itself (report-style: "for one unit: its own name"), not "các chi đoàn" of its level."""
    import random

    from batn.demo import sample_values
    from batn.pipeline import load_period
    from batn.xlsx.template import write_template

    cat = load_catalogue("3tn-2024")
    own = write_template(tmp_path / "rieng.xlsx", cat, BASE, load_period("2026-H1"),
                         values=sample_values(cat, random.Random(3), 12),
                         narratives={"mo_hinh": [("Tủ sách pháp luật điện tử", BASE.name, "Cập nhật văn bản mới")],
                                     "kho_khan": [("Kinh phí hoạt động còn hạn chế",)]})
    out = tmp_path / "bc.txt"
    r = CliRunner().invoke(app, ["report", str(own), "--out", str(out), "--date", "2026-06-25"])
    assert r.exit_code == 0, r.output
    text = " ".join(out.read_text(encoding="utf-8").split())
    assert f"{BASE.name} có " in text and "Các chi đoàn có" not in text
    assert "mô hình “Tủ sách pháp luật điện tử”: cập nhật văn bản mới" in text and "kinh phí hoạt động còn hạn chế" in text
    assert f"({BASE.name})" not in text              # its models are its own: not followed by its name


def test_settings_saved_by_notepad_with_a_bom_are_read(tmp_path):
    """Windows Notepad saves UTF-8 with a byte-order mark: the province's file is still theirs."""
    from batn.periods import load_period_config
    from batn.report.context import load_settings
    from batn.resources import templates_dir

    bom = tmp_path / "bao_cao.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + '[document]\nplace = "Cà Mau"\n'.encode("utf-8"))
    assert load_settings(bom)["document"]["place"] == "Cà Mau"
    periods = tmp_path / "ky.toml"
    periods.write_bytes(b"\xef\xbb\xbf" + (templates_dir() / "periods.toml").read_bytes())
    assert load_period_config(periods) == load_period_config(templates_dir() / "periods.toml")
