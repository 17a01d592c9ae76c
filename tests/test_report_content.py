"""The BÁO CÁO's words from the data (issue 13): comparisons, zeros, lists, addressees, III from the
figures, completeness, the appendix and the page mechanics. Scenarios are built as ReportInput
directly (no workbook), so each point is pinned in milliseconds; the PDF test drives LibreOffice."""
from __future__ import annotations

import shutil
import subprocess
from datetime import date, datetime
from pathlib import Path

import pytest
from docx import Document
from docx.oxml.ns import qn

from batn.catalogue import load_catalogue
from batn.model import Unit
from batn.pipeline import load_period
from batn.previous import PreviousPeriod
from batn.report.context import ReportInput, build_report, load_settings
from batn.report.docx_writer import build_document
from batn.report.text_writer import render_text
from batn.report.workbook import UnitRow, WorkbookFacts

GOLDEN = Path(__file__).parent / "golden"
CAT = load_catalogue("3tn-2024")
PROVINCE = Unit("TD_X", "Tỉnh Đoàn Xuân Hòa", None, level="Tỉnh Đoàn", place="Xuân Hòa", signer="Trần Thị Lan")
DISTRICT = Unit("HD_Y", "Huyện Đoàn Yên Bình", "TD_X", level="Huyện Đoàn", place="Yên Bình", signer="Lê Văn Tư")


def values(**over) -> dict:
    v = {c: None for c in CAT.codes}
    v.update(TT_CBCCVC_TRE=820, TT_DOANVIEN=610, TT_DANGKY_3TN=700, TT_COSO_TONG=30, TT_COSO_TRIENKHAI=29,
             TK_HOINGHI_SO=31, TK_HOINGHI_LUOT=1900, TK_SPTT_SO=76, TK_SPTT_LUOT=5400,
             BT_TAPHUAN_LOP=90, BT_TAPHUAN_LUOT=2400, BT_CHUNGCHI=130,
             CV_YTUONG_DEXUAT=45, CV_YTUONG_APDUNG=20, CV_T7TN_BUOI=40, CV_T7TN_HOSO=780,
             CD_TINHNGUYEN_SO=0, CD_TINHNGUYEN_LUOT=0, CD_HIENMAU=0, CD_QUA_SO=0, CD_QUA_TIEN=0,
             CD_NHA_SO=0, CD_HOCBONG_SO=0, CD_CNX_SO=0, CD_CAYXANH=0, CD_THIEUNHI=0,
             KT_TAPTHE=4, KT_CANHAN_COSO=12)
    v.update(over)
    return v


NARRATIVES = {
    "mo_hinh": [("Cà phê chuyển đổi số cuối tuần", "Đoàn cơ sở Sở Tư pháp", "Hỗ trợ 120 hồ sơ trực tuyến"),
                ("“Cà phê chuyển đổi số cuối tuần”", "Đoàn Công an tỉnh", "Thu hút 300 lượt người dân"),
                ("Ánh sáng đường quê", "Đoàn xã Tân Lập", "")],
    "guong": [("Võ Minh Tâm", "Đoàn các cơ quan Đảng tỉnh", "Có sáng kiến cải tiến quy trình được áp dụng")] * 2
    + [("Trần Văn Hùng", "Đoàn Công an tỉnh", "Có sáng kiến cải tiến quy trình được áp dụng"),
       ("Lý Kim Ngân", "Đoàn xã Tân Lập", "Tích cực hiến máu tình nguyện")],
    "kho_khan": [("Kinh phí hoạt động còn hạn chế (Đoàn xã Tân Lập)",), ("Kinh phí hoạt động còn hạn chế (Đoàn Công an tỉnh)",)],
    "de_xuat": [("Đề nghị Tỉnh Đoàn tổ chức tập huấn kỹ năng chuyển đổi số (Đoàn xã Tân Lập)",),
                ("Đề nghị Tỉnh Đoàn tổ chức tập huấn kỹ năng chuyển đổi số (Đoàn Công an tỉnh)",),
                ("Đề nghị bố trí kinh phí cho công trình thanh niên (Đoàn cơ sở Sở Tư pháp)",)],
}


def report_input(unit=PROVINCE, previous=True, **over) -> ReportInput:
    period = load_period("2026-H1")
    prev = None
    if previous:
        prev = PreviousPeriod(load_period("2025-H1"), {**values(), "BT_TAPHUAN_LOP": 72, "TK_SPTT_SO": 76,
                                                       "TK_HOINGHI_SO": 40, "TT_DANGKY_3TN": 520,
                                                       "CV_YTUONG_DEXUAT": 30, "CV_T7TN_BUOI": 32})
    facts = WorkbookFacts(late=["Đoàn xã Tân Lập"], missing=["Chi đoàn Ban Tuyên giáo"], errors=2,
                          children=[UnitRow("A", "Đoàn các cơ quan Đảng tỉnh", {"TT_CBCCVC_TRE": 300, "BT_TAPHUAN_LOP": 40}),
                                    UnitRow("B", "Đoàn Công an tỉnh", {"TT_CBCCVC_TRE": 520, "BT_TAPHUAN_LOP": 50})])
    return ReportInput(CAT, period, unit, values(**over), NARRATIVES, sent=29, expected=30,
                       as_of=datetime(2026, 6, 20, 16, 5), previous=prev, facts=facts)


def settings(**over):
    s = load_settings()
    for section, vals in over.items():
        s.setdefault(section, {}).update(vals)
    return s


def text_of(inp, s=None, on=date(2026, 6, 25)):
    doc = build_report(inp, s or settings(), number="25", on=on)
    return doc, " ".join(render_text(doc).split())


def test_comparisons_inside_the_sentences_the_doan_way():
    _, text = text_of(report_input())
    assert "90 lớp tập huấn, bồi dưỡng kỹ năng, chuyên môn (tăng 18 lớp so với cùng kỳ năm 2025)" in text
    assert "76 sản phẩm tuyên truyền trên các nền tảng số (bằng cùng kỳ năm 2025)" in text
    assert "31 cuộc hội nghị triển khai, quán triệt (giảm 9 cuộc so với cùng kỳ năm 2025)" in text
    # a ratio compares rates: 85,4% now, 63,4% then
    assert "đạt 85,4% (tăng 22% so với cùng kỳ năm 2025)" in text
    assert "Một số kết quả chính" not in text
    # a province may say the year only once ([comparison] same_half_again): then "so với cùng kỳ"
    _, once = text_of(report_input(), settings(comparison={"same_half_again": "cùng kỳ"}))
    assert once.count("so với cùng kỳ năm 2025") + once.count("bằng cùng kỳ năm 2025") == 1
    assert "(tăng 18 lớp so với cùng kỳ)" in once or "(tăng 18 lớp so với cùng kỳ năm 2025)" in once


def test_no_previous_period_no_comparison():
    _, text = text_of(report_input(previous=False))
    assert "so với" not in text and "cùng kỳ" not in text


def test_which_indicators_are_compared_is_catalogue_data():
    assert "BT_TAPHUAN_LOP" in CAT.report["compare"]
    _, text = text_of(report_input())
    assert "2.400 lượt CBCCVC trẻ (" not in text          # turns of the same sentence are not compared


def test_subject_by_level_province_and_district():
    _, prov = text_of(report_input())
    assert "Toàn tỉnh có 820 cán bộ, công chức, viên chức trẻ" in prov and "Toàn đơn vị" not in prov
    s = settings(document={"issuer_short": "Ban Thường vụ Huyện Đoàn", "sign_on_behalf": "TM. BAN THƯỜNG VỤ HUYỆN ĐOÀN"},
                 proposals={"addressee": "Ban Thường vụ Tỉnh Đoàn", "self_names": ["Huyện Đoàn", "Ban Thường vụ Huyện Đoàn"]})
    _, dist = text_of(report_input(unit=DISTRICT), s)
    assert "Toàn huyện có 820 cán bộ" in dist
    # for a district, a unit's request to the Tỉnh Đoàn goes upward as written
    assert "- Đề nghị Tỉnh Đoàn tổ chức tập huấn kỹ năng chuyển đổi số" in dist
    # unknown level: the start of the name decides
    assert "Toàn huyện" in text_of(report_input(unit=Unit("HD", "Huyện Đoàn Mẫu", None)), s)[1]


def test_zero_part_said_the_doan_way_and_empty_part_left_out():
    doc, text = text_of(report_input())
    assert "Chưa có số liệu" not in text
    assert "chưa tổ chức được hoạt động tình nguyện vì cộng đồng" in text
    # the qualitative lead of a part with only zeros is not said, and Ưu điểm does not praise it
    assert "tuổi trẻ sống đẹp, sống có ích" not in text
    assert "chưa có hoạt động cụ thể về trách nhiệm với cộng đồng" in text
    # a part with nothing reported at all is left out entirely
    blank = {c: None for c in CAT.codes if c.startswith("CD_")}
    doc, text = text_of(report_input(**blank))
    assert "Trách nhiệm với cộng đồng" not in [b.text[3:] for b in doc.body if b.kind == "heading2"]
    assert "Chưa có số liệu" not in text


def test_each_part_opens_with_a_qualitative_sentence_and_verbs_vary():
    doc, _ = text_of(report_input())
    heads = [i for i, b in enumerate(doc.body) if b.kind == "heading2" and "bản thân" in b.text]
    first = doc.body[heads[0] + 1].text
    assert first.startswith("Các cấp bộ Đoàn luôn xác định")
    starts = [s.strip().split(" ")[0] for b in doc.body if b.kind == "para" for s in b.text.split(". ")]
    assert max(starts.count(w) for w in set(starts)) <= 4       # not seven "Tổ chức …" in a row


def test_lists_merged_grouped_and_addressed():
    doc, text = text_of(report_input())
    assert text.count("Cà phê chuyển đổi số cuối tuần") == 1
    assert ("mô hình “Cà phê chuyển đổi số cuối tuần” (Đoàn cơ sở Sở Tư pháp, Đoàn Công an tỉnh): hỗ trợ 120 hồ sơ "
            "trực tuyến; thu hút 300 lượt người dân") in text
    assert ("Nhiều cán bộ, đoàn viên có sáng kiến cải tiến quy trình được áp dụng, tiêu biểu như các đồng chí: "
            "Võ Minh Tâm (Đoàn các cơ quan Đảng tỉnh), Trần Văn Hùng (Đoàn Công an tỉnh).") in text
    assert text.count("Võ Minh Tâm") == 1
    assert "kinh phí hoạt động còn hạn chế (Đoàn xã Tân Lập, Đoàn Công an tỉnh)" in text
    # the units' request to the issuer itself is the issuer's task, never "Đề nghị Tỉnh Đoàn" in its own report
    assert "Đề nghị Tỉnh Đoàn" not in text
    assert "- Tổ chức tập huấn kỹ năng chuyển đổi số" in text
    assert "- Đề nghị Trung ương Đoàn bố trí kinh phí cho công trình thanh niên./." in text
    h1 = [b.text for b in doc.body if b.kind == "heading1"]
    assert h1 == ["I. CÔNG TÁC TRIỂN KHAI", "II. KẾT QUẢ THỰC HIỆN", "III. NHẬN XÉT, ĐÁNH GIÁ",
                  "IV. PHƯƠNG HƯỚNG, NHIỆM VỤ 6 THÁNG CUỐI NĂM 2026", "V. ĐỀ XUẤT, KIẾN NGHỊ"]


def test_long_lists_are_capped_with_a_count():
    many = {"guong": [(f"Người {i}", f"Đơn vị {i}", "Có sáng kiến") for i in range(9)]}
    inp = report_input()
    inp.narratives = many
    _, text = text_of(inp)
    assert "Người 4 (Đơn vị 4) và 04 đồng chí khác." in text and "Người 5" not in text


def test_evaluation_from_the_figures_in_seed_002_shape():
    doc, text = text_of(report_input())
    at = next(i for i, b in enumerate(doc.body) if b.text.startswith("III."))
    after = doc.body[at + 1:at + 3]
    assert [b.kind for b in after] == ["para", "para"]          # no sub-heading before "Tuy nhiên"
    assert after[1].text.startswith("Tuy nhiên, còn 01/30 cơ sở Đoàn, chi đoàn chưa xây dựng kế hoạch")
    assert "còn 01 đơn vị chưa gửi báo cáo, 01 đơn vị nộp muộn" in text
    assert "một số báo cáo còn sai sót về số liệu (02 chỗ phải kiểm tra, điều chỉnh)" in text
    own = settings(evaluation={"limitations": ["việc nhân rộng mô hình ở khối doanh nghiệp còn chậm"]})
    assert "việc nhân rộng mô hình ở khối doanh nghiệp còn chậm." in text_of(report_input(), own)[1]


def test_completeness_line_as_of_the_data_never_after_the_report():
    doc, text = text_of(report_input())
    assert ("Tính đến ngày 20/6/2026, có 29/30 đơn vị gửi báo cáo (01 đơn vị nộp muộn); chưa nhận được báo cáo "
            "của Chi đoàn Ban Tuyên giáo.") in text
    assert doc.warnings == []
    doc, text = text_of(report_input(), on=date(2026, 6, 18))
    assert "Tính đến ngày 18/6/2026" in text
    assert any("sau ngày ban hành" in w for w in doc.warnings)


def test_signer_from_settings_and_a_warning_when_none():
    unit = Unit("TD_X", "Tỉnh Đoàn Xuân Hòa", None)
    doc, _ = text_of(report_input(unit=unit), settings(document={"signer": "Phạm Văn Ba"}))
    assert doc.signer == "Phạm Văn Ba" and doc.warnings == []
    doc, _ = text_of(report_input(unit=unit))
    assert doc.signer == "" and any("người ký" in w for w in doc.warnings)


def test_golden_province_report_txt():
    doc = build_report(report_input(), settings(), number="25", on=date(2026, 6, 25))
    got = render_text(doc)
    path = GOLDEN / "bao_cao_tinh_2026-H1.txt"
    if not path.exists():           # written once, read by a person, then kept
        path.write_text(got, encoding="utf-8")
    assert got == path.read_text(encoding="utf-8")


def test_txt_signature_column_stays_aligned():
    doc = build_report(report_input(), settings(), number="25", on=date(2026, 6, 25))
    lines = render_text(doc).splitlines()
    tail = lines[next(i for i, x in enumerate(lines) if x.startswith("Nơi nhận:")):]
    assert all(len(line) <= 84 for line in tail)
    assert all(line[36:40].strip() == "" for line in tail)        # the gap between the columns stays empty


def test_docx_page_numbers_unsplittable_signature_and_appendix():
    doc = build_report(report_input(), settings(), number="25", on=date(2026, 6, 25))
    d = build_document(doc)
    s0 = d.sections[0]
    assert s0.different_first_page_header_footer
    assert 'instr="PAGE"' in s0.header._element.xml.replace("w:instr", "instr")
    sig = d.tables[-2] if doc.appendix else d.tables[-1]
    assert sig.rows[0]._tr.trPr.find(qn("w:cantSplit")) is not None
    assert d.sections[-1].orientation == 1 and len(d.sections) == 2
    t = d.tables[-1]
    assert [c.text for c in t.rows[1].cells[:3]] == ["1", "Đoàn các cơ quan Đảng tỉnh", "300"]
    assert t.rows[-1].cells[1].text == "Tổng cộng"
    off = build_document(build_report(report_input(), settings(appendix={"enabled": False}), on=date(2026, 6, 25)))
    assert len(off.sections) == 1


def test_pdf_error_in_vietnamese_without_libreoffice(tmp_path, monkeypatch):
    from batn.report import pdf

    monkeypatch.setenv("BATN_SOFFICE", str(tmp_path / "khong_co_soffice"))     # as on a machine without LibreOffice
    doc = build_report(report_input(), settings(), on=date(2026, 6, 25))
    with pytest.raises(pdf.PdfError, match=r"chưa cài LibreOffice.*\.docx rồi mở bằng Word"):
        pdf.write_pdf(doc, tmp_path / "bc.pdf")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("soffice") is None or shutil.which("pdftotext") is None,
                    reason="LibreOffice / pdftotext not installed")
def test_pdf_signature_and_recipients_on_one_page_with_page_numbers(tmp_path):
    from typer.testing import CliRunner

    from batn.cli import app

    r = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "d")])
    assert r.exit_code == 0, r.output
    d = tmp_path / "d"
    r = CliRunner().invoke(app, ["report", str(d / "TongHop_TD_AG_2026-H1.xlsx"), "--out", str(d / "bc.pdf"),
                                 "--previous", str(d / "TongHop_TD_AG_2025-H1.xlsx"), "--config",
                                 str(d / "thiet_lap_bao_cao.toml"), "--date", "2026-06-25", "--number", "25"])
    assert r.exit_code == 0, r.output
    pages = subprocess.run(["pdftotext", "-layout", str(d / "bc.pdf"), "-"], capture_output=True,
                           text=True, check=True).stdout.split("\f")
    sig = [i for i, p in enumerate(pages) if "Nơi nhận" in p]
    assert len(sig) == 1
    page = pages[sig[0]]
    assert "TM. BAN THƯỜNG VỤ TỈNH ĐOÀN" in page and "Nguyễn Văn An" in page and "Lưu VP." in page
    assert "Đoàn" not in pages[0].splitlines()[0].strip()[:1]
    for i, p in enumerate(pages[1:sig[0] + 1], start=2):     # from page 2, the number on the first line
        assert p.strip().splitlines()[0].strip() == str(i)
    assert "so với cùng kỳ năm 2025" in " ".join(" ".join(pages).split())
    assert "PHỤ LỤC: BIỂU TỔNG HỢP SỐ LIỆU" in pages[-2] + pages[-1]


def test_the_appendix_says_which_report_it_belongs_to():
    doc = build_report(report_input(), settings(), number="25", on=date(2026, 6, 25))
    assert doc.appendix is not None
    assert doc.appendix.attached == "(Kèm theo Báo cáo số 25-BC/TĐTN ngày 25/6/2026 của Ban Thường vụ Tỉnh Đoàn)"
    blank = build_report(report_input(), settings(), on=date(2026, 6, 25))
    assert blank.appendix.attached.startswith("(Kèm theo Báo cáo số         -BC/TĐTN ngày 25/6/2026")  # room kept
    assert build_report(report_input(), settings(appendix={"attached": ""}), on=date(2026, 6, 25)).appendix.attached == ""
