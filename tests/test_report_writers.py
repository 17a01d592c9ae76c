"""The .docx, plain-text and Markdown writers of the report."""
from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Mm, Pt

import lo
from batn.report.document import Block, ReportDocument
from batn.report.docx_writer import (
    DEFAULT_LAYOUT, add_block, add_header, add_signature, add_title, resolve_layout, write_docx,
)
from batn.report.text_writer import format_recipients, render_text, write_text


def nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


def squash(s: str) -> str:
    return re.sub(r"\s+", " ", nfc(s)).strip()


BODY = [
    Block("para", "Thực hiện Công văn số 691-CV/TWĐTN, ngày 23 tháng 5 năm 2013 của Ban Bí thư "
                  "Trung ương Đoàn, về việc báo cáo một số nội dung trong khối Thanh niên công nhân, "
                  "công chức, viên chức và đô thị;"),
    Block("heading1", "I. Công tác triển khai"),
    Block("bullet", "- Ban Thường vụ Tỉnh Đoàn xây dựng Kế hoạch số 90 chỉ đạo các huyện, thị, "
                    "thành Đoàn triển khai phong trào “3 trách nhiệm” đến từng đoàn viên, thanh niên."),
    Block("heading1", "II. Kết quả thực hiện"),
    Block("heading2", "1. Trách nhiệm với công việc"),
    Block("para", "Tổ chức được 1.644 đêm văn nghệ, thể dục thể thao với trên 15.868 lượt ĐVTN tham gia."),
    Block("heading2", "2. Trách nhiệm với cộng đồng"),
    Block("heading3", "a) Hoạt động tình nguyện"),
    Block("bullet", "+ Hiến máu tình nguyện được 6.812 đơn vị máu; sửa chữa 215 căn nhà nhân ái."),
    Block("heading1", "III. Nhận xét, đánh giá"),
    Block("para", "Tuy nhiên, một số nơi thực hiện phong trào chưa thiết thực, "
                  "còn mang nặng hình thức./."),
]


@pytest.fixture
def report() -> ReportDocument:
    return ReportDocument(
        superior="BCH Tỉnh Kiên Giang",
        issuer="Tỉnh Đoàn Kiên Giang",
        number="Số: 44A-BC/TĐTN",
        organisation="ĐOÀN TNCS HỒ CHÍ MINH",
        place_date="Rạch Giá, ngày 25 tháng 6 năm 2013",
        title="BÁO CÁO",
        subject="kết quả triển khai phong trào “3 trách nhiệm”\ntrong cán bộ, công chức giai đoạn 2009 - 2013",
        body=list(BODY),
        sign_on_behalf="TM. Ban Thường vụ Tỉnh Đoàn",
        sign_title="Bí thư",
        signer="Nguyễn Thị Ánh Tuyết",
        recipients=["Ban Thường vụ Trung ương Đoàn", "Thường trực Tỉnh ủy;", "- Lưu VP."],
    )


def expected_block_text(b: Block) -> str:
    return b.text.upper() if b.kind == "heading1" else b.text


STYLE = {  # kind -> (bold, italic)
    "heading1": (True, False), "heading2": (True, False), "heading3": (True, True),
    "para": (False, False), "bullet": (False, False),
}


def is_bold(p) -> bool:
    return all(r.bold for r in p.runs if r.text)


def is_italic(p) -> bool:
    return all(r.italic for r in p.runs if r.text)


def lines(cell) -> list[str]:
    return [p.text for p in cell.paragraphs]


@pytest.fixture
def docx_file(report, tmp_path) -> Path:
    return write_docx(report, tmp_path / "bao_cao.docx")


# ------------------------------------------------------------------ docx

def test_page_is_a4_with_the_dong_margins(docx_file):
    sec = Document(docx_file).sections[0]
    tol = Mm(0.2)
    assert abs(sec.page_width - Mm(210)) < tol
    assert abs(sec.page_height - Mm(297)) < tol
    assert sec.page_height > sec.page_width  # portrait
    assert abs(sec.top_margin - Mm(20)) < tol
    assert abs(sec.bottom_margin - Mm(20)) < tol
    assert abs(sec.left_margin - Mm(30)) < tol
    assert abs(sec.right_margin - Mm(20)) < tol


def test_header_table(docx_file):
    d = Document(docx_file)
    header = d.tables[0]
    assert len(header.columns) == 2
    left = lines(header.cell(0, 0)) + lines(header.cell(1, 0))
    right = [t for t in lines(header.cell(0, 1)) + lines(header.cell(1, 1)) if t]
    assert left == ["BCH TỈNH KIÊN GIANG", "TỈNH ĐOÀN KIÊN GIANG", "***", "Số: 44A-BC/TĐTN"]
    assert right == ["ĐOÀN TNCS HỒ CHÍ MINH", "Rạch Giá, ngày 25 tháng 6 năm 2013"]

    sup, iss, _ = header.cell(0, 0).paragraphs
    assert not is_bold(sup) and is_bold(iss)
    assert sup.runs[0].font.size == Pt(13)
    num = header.cell(1, 0).paragraphs[0]
    assert num.runs[0].font.size == Pt(14)
    org = header.cell(0, 1).paragraphs[0]
    assert is_bold(org) and org.runs[0].font.size == Pt(15)
    assert org.alignment == WD_ALIGN_PARAGRAPH.CENTER
    # the short rule under the organisation is a bottom border
    assert header.cell(0, 1).paragraphs[1]._p.find(f".//{qn('w:bottom')}") is not None
    date = header.cell(1, 1).paragraphs[0]
    assert is_italic(date) and not is_bold(date)
    # borderless
    borders = header._tbl.tblPr.find(qn("w:tblBorders"))
    assert all(el.get(qn("w:val")) == "nil" for el in borders)


def test_title_and_body_in_order_with_their_emphasis(docx_file, report):
    paras = [p for p in Document(docx_file).paragraphs if p.text.strip()]
    texts = [p.text for p in paras]
    i = texts.index("BÁO CÁO")
    assert is_bold(paras[i]) and paras[i].alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert paras[i].runs[0].font.size == Pt(15)
    assert texts[i + 1:i + 4] == ["kết quả triển khai phong trào “3 trách nhiệm”",
                                  "trong cán bộ, công chức giai đoạn 2009 - 2013", "-----"]
    assert is_bold(paras[i + 1]) and is_bold(paras[i + 2])
    assert paras[i + 3].alignment == WD_ALIGN_PARAGRAPH.CENTER

    body = paras[i + 4:]
    assert [p.text for p in body] == [expected_block_text(b) for b in report.body]
    for p, b in zip(body, report.body):
        bold, italic = STYLE[b.kind]
        assert is_bold(p) is bold, b
        assert is_italic(p) is italic, b
        assert p.runs[0].font.size == Pt(14)
        if b.kind in ("para", "bullet"):
            assert p.alignment == WD_ALIGN_PARAGRAPH.JUSTIFY
            assert abs(p.paragraph_format.first_line_indent - Cm(1)) < Mm(0.1)
    assert body[-1].text.endswith("./.")


def test_every_run_names_times_new_roman_in_all_four_slots(docx_file):
    d = Document(docx_file)
    runs = [r for p in d.paragraphs for r in p.runs]
    runs += [r for t in d.tables for row in t.rows for c in row.cells for p in c.paragraphs for r in p.runs]
    assert runs
    for r in runs:
        rf = r._element.rPr.rFonts
        for slot in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
            assert rf.get(qn(slot)) == "Times New Roman", (r.text, slot)


def test_signature_and_recipients(docx_file):
    sig = Document(docx_file).tables[-1]
    left, right = sig.cell(0, 0), sig.cell(0, 1)
    assert lines(left) == ["Nơi nhận:", "- Ban Thường vụ Trung ương Đoàn;",
                           "- Thường trực Tỉnh ủy;", "- Lưu VP."]
    label = left.paragraphs[0]
    assert is_bold(label) and is_italic(label) and label.runs[0].font.size == Pt(12)
    assert all(p.runs[0].font.size == Pt(11) for p in left.paragraphs[1:])
    r = [p for p in right.paragraphs]
    texts = [p.text for p in r]
    assert texts[0] == "TM. BAN THƯỜNG VỤ TỈNH ĐOÀN" and texts[1] == "BÍ THƯ"
    assert texts[-1] == "Nguyễn Thị Ánh Tuyết"
    assert texts[2:-1] == [""] * DEFAULT_LAYOUT["signature_blank_lines"]
    assert all(is_bold(p) for p in r if p.text)
    assert all(p.alignment == WD_ALIGN_PARAGRAPH.CENTER for p in r)


def test_format_recipients():
    assert format_recipients(["A", "- B;", "C.", "  "]) == ["- A;", "- B;", "- C."]
    assert format_recipients(["Lưu VP"]) == ["- Lưu VP."]
    assert format_recipients([]) == []


def test_layout_overrides_and_unknown_keys(report, tmp_path):
    path = write_docx(report, tmp_path / "b13.docx",
                      {"body_size_pt": 13, "margin_left_mm": 35, "signature_blank_lines": 3})
    d = Document(path)
    assert abs(d.sections[0].left_margin - Mm(35)) < Mm(0.2)
    body = [p for p in d.paragraphs if p.text == BODY[0].text][0]
    assert body.runs[0].font.size == Pt(13)
    assert resolve_layout({"signature_blank_lines": 3.0})["signature_blank_lines"] == 3
    with pytest.raises(ValueError, match="body_font_size"):
        resolve_layout({"body_font_size": 13})


def test_file_properties_name_the_issuer_and_today(report, tmp_path):
    """Word shows them under Tệp → Thông tin: not python-docx's own words nor its blank's 2013 date."""
    from datetime import datetime, timedelta, timezone

    props = Document(write_docx(report, tmp_path / "p.docx")).core_properties
    assert props.comments == "" and "python-docx" not in (props.author + props.last_modified_by)
    assert props.author == report.issuer
    assert abs(props.created - datetime.now(timezone.utc)) < timedelta(hours=1) and props.modified == props.created


def test_parts_can_be_built_alone(report):
    lay = resolve_layout()
    d = Document()
    add_header(d, report, lay)
    assert d.tables[0].cell(1, 0).text == "Số: 44A-BC/TĐTN"
    d = Document()
    assert [p.text for p in add_title(d, report, lay)][0] == "BÁO CÁO"
    d = Document()
    p = add_block(d, "heading3", "b) Trách nhiệm với bản thân", lay)
    assert p.runs[0].bold and p.runs[0].italic
    with pytest.raises(ValueError):
        add_block(d, "heading4", "x", lay)
    d = Document()
    t = add_signature(d, report, lay)
    assert t.cell(0, 0).paragraphs[-1].text == "- Lưu VP."


def test_no_superior_and_no_recipients(report, tmp_path):
    report.superior = ""
    report.recipients = []
    d = Document(write_docx(report, tmp_path / "x.docx"))
    assert lines(d.tables[0].cell(0, 0)) == ["TỈNH ĐOÀN KIÊN GIANG", "***"]
    assert "Nơi nhận:" not in d.tables[-1].cell(0, 0).text


# ------------------------------------------------------------------ text

def test_plain_text_has_every_block(report):
    text = render_text(report)
    assert text == nfc(text) and text.endswith("\n") and "\r" not in text
    out_lines = text.split("\n")
    for b in report.body:
        assert expected_block_text(b) in out_lines  # one block per line
    # header: issuer left, date right on the number's line
    number_line = next(l for l in out_lines if "Số: 44A-BC/TĐTN" in l)
    assert number_line.index("Số:") < number_line.index("Rạch Giá, ngày 25 tháng 6 năm 2013")
    org_line = next(l for l in out_lines if "ĐOÀN TNCS HỒ CHÍ MINH" in l)
    assert "TỈNH ĐOÀN KIÊN GIANG" in text and "***" in text
    assert org_line.index("ĐOÀN TNCS") > 30
    title = next(l for l in out_lines if l.strip() == "BÁO CÁO")
    assert title.startswith(" " * 20)  # centred-ish
    assert "kết quả triển khai phong trào “3 trách nhiệm”" in text
    assert out_lines.count("-----") == 0 and any(l.strip() == "-----" for l in out_lines)
    assert text.count("./.") == 1
    for s in ("Nơi nhận:", "- Ban Thường vụ Trung ương Đoàn;", "- Lưu VP.",
              "TM. BAN THƯỜNG VỤ TỈNH ĐOÀN", "BÍ THƯ", "Nguyễn Thị Ánh Tuyết"):
        assert s in text
    # recipients on the left, signature on the right of the same lines
    sig_line = next(l for l in out_lines if "TM. BAN THƯỜNG VỤ TỈNH ĐOÀN" in l)
    assert sig_line.startswith("Nơi nhận:")


def test_no_dot_slash_added_when_absent(report):
    report.body[-1] = Block("para", "Không có dấu kết thúc.")
    assert "./." not in render_text(report)
    assert "./." not in render_text(report, markdown=True)


def test_markdown(report):
    md = render_text(report, markdown=True)
    out_lines = md.split("\n")
    assert "## I. CÔNG TÁC TRIỂN KHAI" in out_lines
    assert "### 1. Trách nhiệm với công việc" in out_lines
    assert "#### a) Hoạt động tình nguyện" in out_lines
    assert "# BÁO CÁO" in out_lines
    for b in report.body:
        if b.kind in ("para", "bullet"):
            assert b.text in out_lines
    assert "| BCH TỈNH KIÊN GIANG | **ĐOÀN TNCS HỒ CHÍ MINH** |" in out_lines
    assert "| Số: 44A-BC/TĐTN | *Rạch Giá, ngày 25 tháng 6 năm 2013* |" in out_lines
    assert "- Lưu VP." in out_lines and "***Nơi nhận:***" in out_lines
    assert md.count("./.") == 1


def test_write_text_picks_markdown_by_suffix(report, tmp_path):
    md = write_text(report, tmp_path / "bc.md")
    txt = write_text(report, tmp_path / "bc.txt")
    assert md.read_bytes().decode("utf-8").startswith("| ")
    assert "## I. CÔNG TÁC TRIỂN KHAI" in md.read_text(encoding="utf-8")
    raw = txt.read_bytes()
    assert b"\r\n" not in raw
    assert raw.decode("utf-8") == render_text(report)


def test_decomposed_input_comes_out_nfc(report):
    report.body = [Block("para", unicodedata.normalize("NFD", "Trách nhiệm với cộng đồng"))]
    assert "Trách nhiệm với cộng đồng" in render_text(report)


# ------------------------------------------------------------------ LibreOffice

VIETNAMESE = [
    "ĐOÀN TNCS HỒ CHÍ MINH",
    "TỈNH ĐOÀN KIÊN GIANG",
    "BCH TỈNH KIÊN GIANG",
    "Số: 44A-BC/TĐTN",
    "Rạch Giá, ngày 25 tháng 6 năm 2013",
    "BÁO CÁO",
    "kết quả triển khai phong trào “3 trách nhiệm”",
    "I. CÔNG TÁC TRIỂN KHAI",
    "2. Trách nhiệm với cộng đồng",
    "a) Hoạt động tình nguyện",
    "III. NHẬN XÉT, ĐÁNH GIÁ",
    "còn mang nặng hình thức./.",
    "Nơi nhận:",
    "- Thường trực Tỉnh ủy;",
    "TM. BAN THƯỜNG VỤ TỈNH ĐOÀN",
    "Nguyễn Thị Ánh Tuyết",
]


@pytest.mark.libreoffice
def test_libreoffice_renders_the_vietnamese_intact(docx_file, tmp_path):
    if not lo.available():
        pytest.skip(reason="LibreOffice (soffice) not installed")
    if shutil.which("pdftotext") is None:
        pytest.skip(reason="pdftotext (poppler-utils) not installed")
    pdf = lo.convert(docx_file, "pdf", tmp_path / "pdf")
    res = subprocess.run(["pdftotext", "-layout", "-enc", "UTF-8", str(pdf), "-"],
                         capture_output=True, timeout=60, check=True)
    text = res.stdout.decode("utf-8")
    flat, bare = squash(text), re.sub(r"\s+", "", nfc(text))
    # pdftotext may split a word of a justified line where a glyph came from
    # a fallback font ("c ủa"); the letters and their marks must still be there.
    missing = [s for s in VIETNAMESE
               if squash(s) not in flat and re.sub(r"\s+", "", nfc(s)) not in bare]
    assert not missing, f"missing from the PDF text: {missing}\n---\n{text}"
    # two-column header: the number sits on the date's line
    number_line = next(l for l in text.splitlines() if "44A-BC/TĐTN" in nfc(l))
    assert "Rạch Giá" in nfc(number_line)
