"""The report as a .docx in the Đoàn's format (Hướng dẫn 29-HD/TWĐTN-VP).

`write_docx` lays out a `ReportDocument`; each part has its own function
(`add_header`, `add_title`, `add_body`, `add_signature`) that takes a
python-docx `Document`, the report and a resolved layout, so a test can build
one part alone.

Layout values come from `DEFAULT_LAYOUT`, overridden key by key by the
caller's mapping (e.g. a `[report.docx]` table of the TOML config). Unknown
keys are an error, so a misspelt setting does not pass silently.

Capitals are written as capital letters (str.upper()), not as a "caps"
font effect, so every reader of the file — Word, LibreOffice, a text
extractor — sees the same words.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Mm, Pt

from .document import BLOCK_KINDS, ReportDocument
from .text_writer import RECIPIENTS_LABEL, STARS, TITLE_RULE, format_recipients, nfc, subject_lines

DEFAULT_LAYOUT: dict[str, Any] = {
    # page (A4 portrait)
    "page_width_mm": 210.0,
    "page_height_mm": 297.0,
    "margin_top_mm": 20.0,
    "margin_bottom_mm": 20.0,
    "margin_left_mm": 30.0,
    "margin_right_mm": 20.0,
    # type
    "font_name": "Times New Roman",
    "language": "vi-VN",
    "body_size_pt": 14.0,            # 13 is also accepted by the Đoàn
    "line_spacing": 1.15,            # multiple of a single line
    "space_after_pt": 6.0,
    "first_line_indent_cm": 1.0,     # "para" and "bullet"
    "heading_indent_cm": 1.0,        # first-line indent of headings (0 = flush left)
    # header table
    "header_left_width_mm": 68.0,    # right column takes the rest of the text width
    "superior_size_pt": 13.0,
    "issuer_size_pt": 13.0,
    "number_size_pt": 14.0,
    "organisation_size_pt": 15.0,
    "organisation_rule_mm": 45.0,    # rule under "ĐOÀN TNCS HỒ CHÍ MINH"; 0 = none
    "place_date_size_pt": 14.0,
    # title
    "title_size_pt": 15.0,
    "title_space_before_pt": 18.0,
    "subject_size_pt": 14.0,
    # signature / recipients table
    "signature_left_width_mm": 68.0,  # right column: the rest (92 mm on A4 with these margins)
    "signature_size_pt": 14.0,
    "signature_blank_lines": 4,
    "recipients_label_size_pt": 12.0,
    "recipients_size_pt": 11.0,
    # page numbers: top centre from page 2 (0 = none)
    "page_number_size_pt": 13.0,
    # appendix (landscape section)
    "appendix_size_pt": 11.0,
    "appendix_head_size_pt": 8.5,    # the column heads
    "appendix_unit_width_mm": 46.0,
    "appendix_rate_width_mm": 12.0,  # "Đã nộp", "Đúng hạn": "29/30"
    "appendix_cell_margin_mm": 0.6,  # left and right inside each cell
}


def resolve_layout(layout: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """DEFAULT_LAYOUT with the caller's values on top; unknown keys raise."""
    merged = dict(DEFAULT_LAYOUT)
    if layout:
        unknown = sorted(set(layout) - set(DEFAULT_LAYOUT))
        if unknown:
            # a province edits [layout] in its settings file: say the typo in Vietnamese
            raise ValueError(f"Mục [layout] của tệp thiết lập có khóa không dùng được: {', '.join(unknown)}; "
                             f"các khóa hợp lệ: {', '.join(DEFAULT_LAYOUT)}")
        for key, value in layout.items():
            default = DEFAULT_LAYOUT[key]
            if isinstance(default, str):
                merged[key] = str(value)
            elif isinstance(default, int) and not isinstance(default, bool):
                merged[key] = int(value)
            else:
                merged[key] = float(value)
    return merged


def text_width_mm(lay: Mapping[str, Any]) -> float:
    return lay["page_width_mm"] - lay["margin_left_mm"] - lay["margin_right_mm"]


# --------------------------------------------------------------------------
# low-level helpers

def set_run_font(run, lay: Mapping[str, Any], size_pt: float | None = None, *,
                 bold: bool | None = None, italic: bool | None = None) -> None:
    """Font on a run, with all four rFonts slots (ascii/hAnsi/cs/eastAsia)."""
    name = lay["font_name"]
    run.font.name = name
    rfonts = run._element.get_or_add_rPr().get_or_add_rFonts()
    for slot in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        rfonts.set(qn(slot), name)
    run.font.size = Pt(size_pt if size_pt is not None else lay["body_size_pt"])
    if bold is not None:
        run.bold = bold
    if italic is not None:
        run.italic = italic


def _tight(paragraph, align=WD_ALIGN_PARAGRAPH.CENTER) -> None:
    """Single spacing, nothing before or after: the lines of a table cell."""
    pf = paragraph.paragraph_format
    pf.space_before = Pt(0)
    pf.space_after = Pt(0)
    pf.line_spacing = 1.0
    pf.first_line_indent = Pt(0)
    paragraph.alignment = align


def add_line(container, text: str, lay: Mapping[str, Any], size_pt: float | None = None, *,
             bold: bool = False, italic: bool = False,
             align=WD_ALIGN_PARAGRAPH.CENTER, first=False):
    """One tight paragraph in a cell (or document). `first` reuses the cell's empty paragraph."""
    if first and len(container.paragraphs) == 1 and not container.paragraphs[0].text:
        p = container.paragraphs[0]
    else:
        p = container.add_paragraph()
    _tight(p, align)
    size = size_pt if size_pt is not None else lay["body_size_pt"]
    _mark_size(p, size)
    if text:
        set_run_font(p.add_run(nfc(text)), lay, size, bold=bold, italic=italic)
    return p


def _mark_size(paragraph, size_pt: float) -> None:
    """Size of the paragraph mark, which sets the height of an empty line."""
    ppr = paragraph._p.get_or_add_pPr()
    rpr = ppr.find(qn("w:rPr"))
    if rpr is None:
        rpr = OxmlElement("w:rPr")
        ppr.insert_element_before(rpr, "w:sectPr", "w:pPrChange")
    for tag in ("w:sz", "w:szCs"):
        el = rpr.find(qn(tag))
        if el is None:
            el = OxmlElement(tag)
            rpr.append(el)
        el.set(qn("w:val"), str(int(round(size_pt * 2))))


def _bottom_rule(paragraph) -> None:
    """A single 0.75 pt bottom border between the paragraph's indents."""
    ppr = paragraph._p.get_or_add_pPr()
    pbdr = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    bottom.set(qn("w:val"), "single")
    bottom.set(qn("w:sz"), "6")
    bottom.set(qn("w:space"), "1")
    bottom.set(qn("w:color"), "000000")
    pbdr.append(bottom)
    ppr.insert_element_before(
        pbdr, "w:shd", "w:tabs", "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap",
        "w:overflowPunct", "w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi",
        "w:adjustRightInd", "w:snapToGrid", "w:spacing", "w:ind", "w:contextualSpacing",
        "w:mirrorIndents", "w:suppressOverlap", "w:jc", "w:textDirection",
        "w:textAlignment", "w:textboxTightWrap", "w:outlineLvl", "w:divId", "w:cnfStyle",
        "w:rPr", "w:sectPr", "w:pPrChange")


def add_short_rule(cell, width_mm: float, cell_width_mm: float) -> None:
    """A centred horizontal rule `width_mm` long: an empty paragraph with a bottom border."""
    p = cell.add_paragraph()
    _tight(p)
    inner = cell_width_mm - 2 * 1.9  # Word's default cell margins, 0.19 cm each side
    side = max((inner - width_mm) / 2, 0)
    p.paragraph_format.left_indent = Mm(side)
    p.paragraph_format.right_indent = Mm(side)
    _mark_size(p, 2)
    _bottom_rule(p)


def borderless_table(document, widths_mm: list[float], rows: int = 1):
    """A fixed-layout table with no borders and the given column widths."""
    table = document.add_table(rows=rows, cols=len(widths_mm))
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    tblpr = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), "nil")
        borders.append(el)
    tblpr.insert_element_before(borders, "w:shd", "w:tblLayout", "w:tblCellMar", "w:tblLook",
                                "w:tblCaption", "w:tblDescription", "w:tblPrChange")
    tblw = tblpr.find(qn("w:tblW"))
    if tblw is not None:
        tblw.set(qn("w:type"), "dxa")
        tblw.set(qn("w:w"), str(int(round(sum(widths_mm) / 25.4 * 1440))))
    for i, w in enumerate(widths_mm):
        table.columns[i].width = Mm(w)
        for cell in table.columns[i].cells:
            cell.width = Mm(w)
    return table


# --------------------------------------------------------------------------
# document set-up

def setup_page(document, lay: Mapping[str, Any]) -> None:
    """A4 portrait (or whatever the layout says) and the margins."""
    for section in document.sections:
        section.orientation = WD_ORIENT.PORTRAIT
        section.page_width = Mm(lay["page_width_mm"])
        section.page_height = Mm(lay["page_height_mm"])
        section.top_margin = Mm(lay["margin_top_mm"])
        section.bottom_margin = Mm(lay["margin_bottom_mm"])
        section.left_margin = Mm(lay["margin_left_mm"])
        section.right_margin = Mm(lay["margin_right_mm"])


def setup_styles(document, lay: Mapping[str, Any]) -> None:
    """Normal style: the body font in all four slots, size, spacing, language."""
    normal = document.styles["Normal"]
    normal.font.name = lay["font_name"]
    normal.font.size = Pt(lay["body_size_pt"])
    rpr = normal.element.get_or_add_rPr()
    rfonts = rpr.get_or_add_rFonts()
    for slot in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        rfonts.set(qn(slot), lay["font_name"])
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:cstheme", "w:eastAsiaTheme"):
        rfonts.attrib.pop(qn(attr), None)
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.insert_element_before(lang, "w:eastAsianLayout", "w:specVanish", "w:oMath")
    lang.set(qn("w:val"), lay["language"])
    pf = normal.paragraph_format
    pf.space_before = Pt(0)
    pf.space_after = Pt(lay["space_after_pt"])
    pf.line_spacing = lay["line_spacing"]


# --------------------------------------------------------------------------
# the four parts

def add_header(document, doc: ReportDocument, lay: Mapping[str, Any]):
    """Two-column borderless header table, two rows so the number and the date align.

    Row 0: left superior / **issuer** / *** — right **organisation** with a short rule.
    Row 1: left "Số: …" — right *place, date*.
    """
    left_w = lay["header_left_width_mm"]
    right_w = text_width_mm(lay) - left_w
    table = borderless_table(document, [left_w, right_w], rows=2)
    names, org = table.cell(0, 0), table.cell(0, 1)
    num, date = table.cell(1, 0), table.cell(1, 1)

    first = True
    if doc.superior.strip():
        add_line(names, doc.superior.strip().upper(), lay, lay["superior_size_pt"], first=first)
        first = False
    if doc.issuer.strip():
        add_line(names, doc.issuer.strip().upper(), lay, lay["issuer_size_pt"], bold=True, first=first)
        first = False
    add_line(names, STARS, lay, lay["issuer_size_pt"], first=first)

    add_line(org, doc.organisation.strip().upper(), lay, lay["organisation_size_pt"],
             bold=True, first=True)
    if lay["organisation_rule_mm"] > 0:
        add_short_rule(org, lay["organisation_rule_mm"], right_w)

    add_line(num, doc.number.strip(), lay, lay["number_size_pt"], first=True)
    add_line(date, doc.place_date.strip(), lay, lay["place_date_size_pt"], italic=True, first=True)
    return table


def add_title(document, doc: ReportDocument, lay: Mapping[str, Any]) -> list:
    """"BÁO CÁO", the subject's lines, then a short dashed rule — all centred."""
    paras = []
    p = add_line(document, doc.title.strip().upper(), lay, lay["title_size_pt"], bold=True)
    p.paragraph_format.space_before = Pt(lay["title_space_before_pt"])
    p.paragraph_format.keep_with_next = True
    paras.append(p)
    for line in subject_lines(doc):
        p = add_line(document, line, lay, lay["subject_size_pt"], bold=True)
        p.paragraph_format.keep_with_next = True
        paras.append(p)
    p = add_line(document, TITLE_RULE, lay, lay["subject_size_pt"])
    p.paragraph_format.space_after = Pt(lay["space_after_pt"] * 2)
    paras.append(p)
    return paras


_BLOCK_STYLE = {
    # kind: (bold, italic, upper, is_heading)
    "heading1": (True, False, True, True),
    "heading2": (True, False, False, True),
    "heading3": (True, True, False, True),
    "para": (False, False, False, False),
    "bullet": (False, False, False, False),
}


def add_block(document, kind: str, text: str, lay: Mapping[str, Any]):
    """One body block: headings bold (I. caps, a) italic too), text justified and indented."""
    if kind not in _BLOCK_STYLE:
        raise ValueError(f"unknown block kind {kind!r}; expected one of {BLOCK_KINDS}")
    bold, italic, upper, heading = _BLOCK_STYLE[kind]
    p = document.add_paragraph()
    pf = p.paragraph_format
    pf.space_before = Pt(0)
    pf.space_after = Pt(lay["space_after_pt"])
    pf.line_spacing = lay["line_spacing"]
    pf.first_line_indent = Cm(lay["heading_indent_cm"] if heading else lay["first_line_indent_cm"])
    p.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    if heading:
        pf.keep_with_next = True
    text = text.strip()
    set_run_font(p.add_run(nfc(text.upper() if upper else text)), lay, lay["body_size_pt"],
                 bold=bold, italic=italic)
    return p


def add_body(document, doc: ReportDocument, lay: Mapping[str, Any]) -> list:
    paras = [add_block(document, b.kind, b.text, lay) for b in doc.body]
    if paras:       # the last sentence ("…./.") goes with the signature: it never stands alone on a page
        paras[-1].paragraph_format.keep_with_next = True
    return paras


def _field(paragraph, instr: str, lay: Mapping[str, Any], size_pt: float) -> None:
    """A simple field (PAGE) whose shown value LibreOffice and Word recompute."""
    fld = OxmlElement("w:fldSimple")
    fld.set(qn("w:instr"), instr)
    run = paragraph.add_run("1")
    set_run_font(run, lay, size_pt)
    fld.append(run._r)
    paragraph._p.append(fld)


def add_page_numbers(document, lay: Mapping[str, Any]) -> None:
    """Page numbers at the top centre from the second page (the first page's header is empty)."""
    if lay["page_number_size_pt"] <= 0:
        return
    section = document.sections[0]
    section.different_first_page_header_footer = True
    header = section.header
    header.is_linked_to_previous = False
    p = header.paragraphs[0] if header.paragraphs else header.add_paragraph()
    _tight(p)
    _field(p, "PAGE", lay, lay["page_number_size_pt"])
    first = section.first_page_header
    if not first.paragraphs:
        first.add_paragraph()


def _cell_text(cell, text: str, lay: Mapping[str, Any], *, bold: bool = False,
               align=WD_ALIGN_PARAGRAPH.CENTER) -> None:
    add_line(cell, text, lay, lay["appendix_size_pt"], bold=bold, align=align, first=True)


def add_appendix(document, doc: ReportDocument, lay: Mapping[str, Any]):
    """The appendix table on its own landscape section: STT, unit, one column per indicator."""
    from docx.enum.section import WD_SECTION

    a = doc.appendix
    if a is None:
        return None
    section = document.add_section(WD_SECTION.NEW_PAGE)
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Mm(lay["page_height_mm"]), Mm(lay["page_width_mm"])
    section.left_margin = section.right_margin = Mm(lay["margin_bottom_mm"])
    section.top_margin, section.bottom_margin = Mm(lay["margin_left_mm"] - 10), Mm(lay["margin_right_mm"])
    width = lay["page_height_mm"] - 2 * lay["margin_bottom_mm"]
    p = add_line(document, a.title.upper(), lay, lay["subject_size_pt"], bold=True)
    p.paragraph_format.keep_with_next = True
    p = add_line(document, a.subtitle, lay, lay["subject_size_pt"], italic=True)
    if a.attached:
        p.paragraph_format.keep_with_next = True
        p = add_line(document, a.attached, lay, lay["subject_size_pt"], italic=True)
    p.paragraph_format.space_after = Pt(lay["space_after_pt"])
    n_rate = a.rate_columns
    n_fig = len(a.header) - 2 - n_rate
    stt_w, unit_w, rate_w = 10.0, lay["appendix_unit_width_mm"], lay["appendix_rate_width_mm"]
    fig_w = max((width - stt_w - unit_w - rate_w * n_rate) / max(n_fig, 1), 10.0)
    widths = [stt_w, unit_w] + [rate_w] * n_rate + [fig_w] * n_fig
    table = document.add_table(rows=1, cols=len(widths))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    mar = OxmlElement("w:tblCellMar")               # under 1 mm each side, not Word's 1.9: narrow columns keep their words
    for side in ("left", "right"):
        el = OxmlElement(f"w:{side}")
        el.set(qn("w:w"), str(int(lay["appendix_cell_margin_mm"] * 56.7)))
        el.set(qn("w:type"), "dxa")
        mar.append(el)
    table._tbl.tblPr.insert_element_before(mar, "w:tblLook", "w:tblCaption", "w:tblDescription", "w:tblPrChange")
    for i, w in enumerate(widths):
        table.columns[i].width = Mm(w)
    head = table.rows[0]
    trpr = head._tr.get_or_add_trPr()
    trpr.append(OxmlElement("w:tblHeader"))       # repeated on every page of the table
    for i, text in enumerate(a.header):
        head.cells[i].width = Mm(widths[i])
        add_line(head.cells[i], text, lay, lay["appendix_head_size_pt"], bold=True, first=True)
    for values, bold in [(r, False) for r in a.rows] + [(a.total, True)]:
        cells = table.add_row().cells
        for i, text in enumerate(values):
            cells[i].width = Mm(widths[i])
            _cell_text(cells[i], text, lay, bold=bold,
                       align=WD_ALIGN_PARAGRAPH.LEFT if i == 1 else
                       (WD_ALIGN_PARAGRAPH.CENTER if i == 0 or i < 2 + n_rate else WD_ALIGN_PARAGRAPH.RIGHT))
    return table


def add_signature(document, doc: ReportDocument, lay: Mapping[str, Any]):
    """Borderless table: "Nơi nhận:" and the recipients left, the signature right."""
    spacer = document.add_paragraph()
    _tight(spacer)
    _mark_size(spacer, lay["recipients_size_pt"])

    left_w = lay["signature_left_width_mm"]
    right_w = text_width_mm(lay) - left_w
    table = borderless_table(document, [left_w, right_w], rows=1)
    left, right = table.cell(0, 0), table.cell(0, 1)

    recipients = format_recipients(doc.recipients)
    if recipients:
        add_line(left, RECIPIENTS_LABEL, lay, lay["recipients_label_size_pt"],
                 bold=True, italic=True, align=WD_ALIGN_PARAGRAPH.LEFT, first=True)
        for item in recipients:
            p = add_line(left, item, lay, lay["recipients_size_pt"], align=WD_ALIGN_PARAGRAPH.LEFT)
            # a long item wraps under its text, not under the dash
            p.paragraph_format.left_indent = Mm(2.5)
            p.paragraph_format.first_line_indent = Mm(-2.5)

    size = lay["signature_size_pt"]
    first = True
    for text in (doc.sign_on_behalf, doc.sign_title):
        if text.strip():
            add_line(right, text.strip().upper(), lay, size, bold=True, first=first)
            first = False
    if doc.signer.strip():
        for _ in range(lay["signature_blank_lines"]):
            add_line(right, "", lay, size, first=first)
            first = False
        add_line(right, doc.signer.strip(), lay, size, bold=True, first=first)

    # The block is never split: the row cannot break across pages, and every line in it keeps
    # with the next one (LibreOffice honours the latter for one-row tables too).
    trpr = table.rows[0]._tr.get_or_add_trPr()
    cant = OxmlElement("w:cantSplit")
    trpr.append(cant)
    for cell in (left, right):
        for p in cell.paragraphs:
            p.paragraph_format.keep_with_next = True
            p.paragraph_format.keep_together = True
    spacer.paragraph_format.keep_with_next = True

    # Word wants a paragraph after a table at the end of the body.
    tail = document.add_paragraph()
    _tight(tail)
    _mark_size(tail, 2)
    return table


# --------------------------------------------------------------------------

def build_document(doc: ReportDocument, layout: Mapping[str, Any] | None = None):
    """The python-docx Document, not yet saved."""
    lay = resolve_layout(layout)
    document = Document()
    setup_page(document, lay)
    setup_styles(document, lay)
    props = document.core_properties
    props.title = nfc(" ".join([doc.title.strip()] + subject_lines(doc)))
    props.language = lay["language"]
    props.author = props.last_modified_by = nfc(doc.issuer.strip())
    props.comments = ""                        # python-docx's blank document says "generated by python-docx"
    props.created = props.modified = datetime.now(timezone.utc).replace(microsecond=0)   # not its 2013 date
    add_header(document, doc, lay)
    add_title(document, doc, lay)
    add_body(document, doc, lay)
    add_signature(document, doc, lay)
    add_page_numbers(document, lay)
    add_appendix(document, doc, lay)
    return document


def write_docx(doc: ReportDocument, path: str | Path, layout: Mapping[str, Any] | None = None) -> Path:
    """Write the report as .docx at `path` and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    build_document(doc, layout).save(str(path))
    return path
