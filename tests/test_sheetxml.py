"""The one-pass sheet XML reader (batn.xlsx.sheetxml) against python-calamine, cell by cell.

python-calamine is the independent oracle: for every sheet a defined name points to, every cell
the reader keeps (the named columns, down to the deepest named row) must hold the value calamine
gives, and every formula or error value must be what the older regex scanner
(package.cell_facts) finds. The corpus: filled templates, the checked-in demo inbox, a template
saved again by LibreOffice (shared strings, its own attribute habits), and a hand-written sheet
with every cell type and shape we know of. The hostile files get the same comparison in
tests/test_hostile.py.
"""
from __future__ import annotations

import random
import zipfile
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

import lo
from batn.demo import sample_narratives, sample_values
from batn.xlsx import sheetxml
from batn.xlsx.package import cell_facts, open_package
from batn.xlsx.reader import Grid, XmlGrid, read_submission
from batn.xlsx.sheetxml import col_letter

ROOT = Path(__file__).resolve().parents[1]


def compare_with_calamine(path: Path) -> dict:
    """Compare the XML reader with calamine on every kept cell of every named sheet of `path`.
    Returns counts; raises AssertionError naming the first cell that differs."""
    pkg = open_package(path)
    fast = XmlGrid(path, pkg)
    slow = Grid(CalamineWorkbook.from_path(str(path)), dict(fast.rows_needed))
    compared, plain, fell_back = 0, 0, 0
    for sheet, cols in fast.cols_needed.items():
        if sheet not in pkg.xml:
            continue
        rows_f = fast.sheet(sheet)
        if sheet in fast.facts:
            plain += 1
        else:
            fell_back += 1
        rows_s = slow.sheet(sheet)
        assert (rows_f is None) == (rows_s is None), f"{path.name} {sheet}: one reader could not read the sheet"
        if rows_f is None:
            continue
        last = min(fast.rows_needed.get(sheet, 200), len(rows_s) - 1)
        for r in range(last + 1):
            for c in sorted(cols):
                a = rows_f[r][c] if r < len(rows_f) and c < len(rows_f[r]) else ""
                b = rows_s[r][c] if r < len(rows_s) and c < len(rows_s[r]) else ""
                assert type(a) is type(b) and a == b, \
                    f"{path.name} {sheet}!{col_letter(c)}{r + 1}: xml {a!r} != calamine {b!r}"
                compared += 1
        cells = {f"{col_letter(c)}{r + 1}" for r in range(last + 1) for c in cols}
        assert fast.cell_facts(sheet, cells) == cell_facts(path, pkg, sheet, cells), f"{path.name} {sheet}"
        assert sorted(fast.merged.get(sheet, [])) == sorted(tuple(map(tuple, m)) for m in slow.merged.get(sheet, []))
    return {"cells": compared, "plain": plain, "fell_back": fell_back}


# ---------------------------------------------------------------- a hand-written workbook

CT = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
      '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
      '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
      '<Default Extension="xml" ContentType="application/xml"/>'
      '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
      '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
      '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
      '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
      '</Types>')
RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
        '</Relationships>')
WB_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
           '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
           '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
           '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
           '</Relationships>')
MAIN = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
STYLES = (f'<?xml version="1.0" encoding="UTF-8"?><styleSheet {MAIN}>'
          '<numFmts count="5"><numFmt numFmtId="164" formatCode="dd/mm/yyyy"/>'
          '<numFmt numFmtId="165" formatCode="[h]:mm"/><numFmt numFmtId="166" formatCode="#,##0&quot; người&quot;"/>'
          '<numFmt numFmtId="167" formatCode="hh:mm"/><numFmt numFmtId="168" formatCode="[Red]0.0"/></numFmts>'
          '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
          '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
          '<borders count="1"><border/></borders><cellStyleXfs count="1"><xf numFmtId="0"/></cellStyleXfs>'
          '<cellXfs count="8"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/>'
          '<xf numFmtId="164" applyNumberFormat="1"/><xf numFmtId="165"/><xf numFmtId="166"/>'
          '<xf numFmtId="3"/><xf numFmtId="22"/><xf numFmtId="167"/><xf numFmtId="168"/></cellXfs>'
          '</styleSheet>')
SHARED = [
    "<t>Đoàn phường Rạch Giá</t>",
    '<r><rPr><b/></rPr><t>Chi </t></r><r><t xml:space="preserve">đoàn 1 </t></r>',
    "<t>Tokyo</t><rPh sb=\"0\" eb=\"1\"><t>トウキョウ</t></rPh>",
    "<t>dòng 1_x000D_\ndòng 2 &amp; &lt;3&gt; &#7875;</t>",
    "<t/>",
    "<t>15.868 lượt</t>",
]
# (A1 body, B1 …) for one row each; every cell is written in one of the shapes writers use.
CELLS = [
    '<c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c><c r="D1" t="s"><v>3</v></c>',
    '<c r="A2" t="s"><v>4</v></c><c r="B2"><v>29</v></c><c r="C2" t="n"><v>1.5E3</v></c><c r="D2" s="5"><v>-0.25</v></c>',
    '<c r="A3" s="1"><v>45366</v></c><c r="B3" s="2"><v>45366</v></c><c r="C3" s="6"><v>45366.4375</v></c>'
    '<c r="D3" s="3"><v>1.25</v></c>',
    '<c r="A4" s="7"><v>0.5</v></c><c r="B4" s="4"><v>12</v></c><c r="C4" s="8"><v>3.5</v></c><c r="D4" s="1"><v>30</v></c>',
    '<c r="A5" t="b"><v>1</v></c><c r="B5" t="b"><v>0</v></c><c r="C5" t="e"><f>1/0</f><v>#DIV/0!</v></c>'
    '<c r="D5" t="e"><v>#N/A</v></c>',
    '<c r="A6" t="str"><f>"Số "&amp;"lỗi"</f><v>Số lỗi</v></c><c r="B6"><f>SUM(B2:B5)</f><v>29</v></c>'
    '<c r="C6"><f>1+1</f><v></v></c><c r="D6"><f>1+1</f><v/></c>',
    '<c r="A7" t="inlineStr"><is><t>Mô hình “Thắp sáng đường quê”</t></is></c>'
    '<c r="B7" t="inlineStr"><is><r><t>a</t></r><r><rPr><i/></rPr><t>b</t></r></is></c>'
    '<c r="C7" t="s"><v>5</v></c><c r="D7" s="0"/>',
    '<c r="A8" t="n" s="2"><v>45000</v></c><c r="B8" t="s" s="5"><v>0</v></c><c r="C8" s="5" t="n" cm="1"><v>7</v></c>'
    '<c r="D8" t="d"><v>2024-03-15T00:00:00</v></c>',
    '<c r="A9"><f t="shared" ref="A9:D9" si="0">ROW()*2</f><v>18</v></c><c r="B9"><f t="shared" si="0"/><v>18</v></c>'
    '<c r="C9"><f t="shared" si="0"/><v>18</v></c><c r="D9" t="e"><f>#REF!+1</f><v>#REF!</v></c>',
    '<c r="A10"><f>[1]Sheet1!A1</f><v>4</v></c><c r="B10"><f>WEBSERVICE("http://x")</f><v>5</v></c>'
    '<c r="C10" t="inlineStr"><is><t>a\tb\x01c\u202e</t></is></c><c r="D10"><v>1E-3</v></c>',
]


def write_handmade(path: Path, cells=CELLS, merges: str = '<mergeCells count="1"><mergeCell ref="B12:D13"/></mergeCells>') -> Path:
    sst = "".join(f"<si>{s}</si>" for s in SHARED)
    rows = "".join(f'<row r="{i}">{c}</row>' for i, c in enumerate(cells, start=1))
    rows += '<row r="12"><c r="B12" t="inlineStr"><is><t>gộp</t></is></c></row>'
    sheet = (f'<?xml version="1.0" encoding="UTF-8"?><worksheet {MAIN}><dimension ref="A1:D13"/>'
             f"<sheetData>{rows}</sheetData>{merges}</worksheet>")
    wb = (f'<?xml version="1.0" encoding="UTF-8"?><workbook {MAIN} '
          'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
          '<sheets><sheet name="Số liệu" sheetId="1" r:id="rId1"/></sheets>'
          "<definedNames><definedName name=\"BATN_ALL\">'Số liệu'!$A$1:$D$13</definedName></definedNames></workbook>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", CT)
        z.writestr("_rels/.rels", RELS)
        z.writestr("xl/workbook.xml", wb)
        z.writestr("xl/_rels/workbook.xml.rels", WB_RELS)
        z.writestr("xl/styles.xml", STYLES)
        z.writestr("xl/sharedStrings.xml", f'<?xml version="1.0" encoding="UTF-8"?><sst {MAIN}>{sst}</sst>')
        z.writestr("xl/worksheets/sheet1.xml", sheet)
    return path


def test_handmade_every_shape_agrees_with_calamine(tmp_path):
    got = compare_with_calamine(write_handmade(tmp_path / "shapes.xlsx"))
    assert got == {"cells": 48, "plain": 1, "fell_back": 0}


def test_handmade_values_are_what_a_clerk_typed(tmp_path):
    """Not only equal to calamine: right (so a change in both would still be caught)."""
    p = write_handmade(tmp_path / "shapes.xlsx")
    g = XmlGrid(p, open_package(p))
    rows = g.sheet("Số liệu")
    assert rows[0] == ["Đoàn phường Rạch Giá", "Chiđoàn 1 ", "Tokyo", "dòng 1\r\ndòng 2 & <3> ể"]
    assert rows[1] == ["", 29.0, 1500.0, -0.25]
    assert rows[2] == [date(2024, 3, 15), date(2024, 3, 15), datetime(2024, 3, 15, 10, 30), timedelta(hours=30)]
    assert rows[3] == [time(12, 0), 12.0, 3.5, date(1900, 1, 30)]
    assert rows[4] == [True, False, "", ""]
    assert rows[5] == ["Số lỗi", 29.0, "", ""]
    assert rows[7] == [date(2023, 3, 15), "Đoàn phường Rạch Giá", 7.0, datetime(2024, 3, 15, 0, 0)]
    facts = g.facts["Số liệu"]
    assert facts["C5"].formula == "=1/0" and facts["C5"].error == "#DIV/0!"
    assert facts["D5"].formula == "" and facts["D5"].error == "#N/A"
    assert facts["B9"].formula == "=ROW()*2"          # a shared-formula follower gets its master's text
    assert facts["A10"].formula == "=[1]Sheet1!A1"
    assert g.merged["Số liệu"] == [((11, 1), (12, 3))]


@pytest.mark.parametrize("shape", ["r-not-first", "namespace-prefix", "cdata"])
def test_unusual_xml_falls_back_to_calamine(tmp_path, shape):
    cells = list(CELLS)
    if shape == "r-not-first":
        cells[1] = cells[1].replace('<c r="B2">', '<c s="0" r="B2">')
    elif shape == "cdata":
        cells[6] = cells[6].replace("<t>a</t>", "<t><![CDATA[a]]></t>")
    p = write_handmade(tmp_path / f"{shape}.xlsx", cells)
    if shape == "namespace-prefix":
        src = tmp_path / f"{shape}.xlsx"
        data = zipfile.ZipFile(src).read("xl/worksheets/sheet1.xml").decode()
        data = data.replace(f"<worksheet {MAIN}>", '<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
        data = data.replace("</worksheet>", "</x:worksheet>").replace("<sheetData>", "<x:sheetData>")
        data = data.replace("</sheetData>", "</x:sheetData>")
        for tag in ("row", "c", "v", "f", "is", "t", "r", "dimension", "mergeCells", "mergeCell", "rPr", "i"):
            data = data.replace(f"<{tag}>", f"<x:{tag}>").replace(f"<{tag} ", f"<x:{tag} ")
            data = data.replace(f"</{tag}>", f"</x:{tag}>")
        p = tmp_path / "ns.xlsx"
        with zipfile.ZipFile(src) as zi, zipfile.ZipFile(p, "w") as zo:
            for i in zi.infolist():
                zo.writestr(i, data if i.filename == "xl/worksheets/sheet1.xml" else zi.read(i.filename))
    with pytest.raises(sheetxml.NotPlain):
        pkg = open_package(p)
        sheetxml.read_sheet(pkg.xml["Số liệu"], {0, 1, 2, 3}, 12)
    got = compare_with_calamine(p)
    assert got["fell_back"] == 1 and got["plain"] == 0 and got["cells"] == 48


def test_a_column_not_asked_for_is_not_read(tmp_path):
    p = write_handmade(tmp_path / "shapes.xlsx")
    pkg = open_package(p)
    cells = sheetxml.read_sheet(pkg.xml["Số liệu"], {1}, 3, sheetxml.SharedStrings(pkg.shared),
                                sheetxml.date_styles(pkg.styles))
    assert [r[1] for r in cells.rows] == ["Chiđoàn 1 ", 29.0, date(2024, 3, 15), 12.0]
    assert all(r[0] == "" for r in cells.rows) and len(cells.rows) == 4


# ---------------------------------------------------------------- real workbooks

def test_filled_templates_agree_with_calamine(tmp_path, cat2024, cat2009, unit, period2024):
    from batn.xlsx.template import write_template

    rng = random.Random(7)
    total = 0
    for i, cat in enumerate([cat2024, cat2009, cat2024]):
        p = write_template(tmp_path / f"t{i}.xlsx", cat, unit, period2024,
                           values=sample_values(cat, rng, 30), narratives=sample_narratives(rng, unit.name))
        got = compare_with_calamine(p)
        assert got["fell_back"] == 0 and got["plain"] >= 3
        total += got["cells"]
    assert total > 500


def test_demo_inbox_agrees_with_calamine():
    files = sorted((ROOT / "workbooks" / "demo" / "hop_thu").rglob("*.xlsx")) + \
        sorted((ROOT / "workbooks" / "demo").glob("*.xlsx"))
    assert len(files) >= 25
    compared = 0
    for p in files:
        try:
            open_package(p)
        except Exception:
            continue           # the demo's planted broken file: not a workbook at all
        compared += compare_with_calamine(p)["cells"]
    assert compared > 5000


@pytest.mark.skipif(not lo.available(), reason="LibreOffice (soffice) is not installed")
def test_template_saved_by_libreoffice_agrees_with_calamine(tmp_path, cat2024, unit, period2024):
    """LibreOffice writes shared strings, t="n" and its own styles: another writer's habits."""
    from batn.xlsx.template import write_template

    rng = random.Random(3)
    src = write_template(tmp_path / "src" / "u.xlsx", cat2024, unit, period2024,
                         values=sample_values(cat2024, rng, 30), narratives=sample_narratives(rng, unit.name))
    out = lo.convert(src, "xlsx", tmp_path / "lo")
    with zipfile.ZipFile(out) as z:
        assert "xl/sharedStrings.xml" in z.namelist()
    got = compare_with_calamine(out)
    assert got["fell_back"] == 0 and got["cells"] > 200
    a, b = read_submission(src, cat2024), read_submission(out, cat2024)
    assert a.values == b.values and a.unit == b.unit and a.narratives == b.narratives


def test_shared_strings_in_both_shapes():
    """The usual <si>…</si> list is split in C; a table with <si/> or attributes goes through the regex."""
    body = "<si><t>a</t></si><si><r><t>b</t></r><r><t>c</t></r></si><si><t>d &amp; e</t></si>"
    plain = sheetxml.SharedStrings(f"<sst {MAIN}>{body}</sst>".encode())
    odd_body = body.replace("<si><t>a", '<si/><si x="1"><t>a')
    odd = sheetxml.SharedStrings(f"<sst {MAIN}>{odd_body}</sst>".encode())
    assert [plain[i] for i in range(3)] == ["a", "bc", "d & e"]
    assert [odd[i] for i in range(4)] == ["", "a", "bc", "d & e"]
    with pytest.raises(IndexError):
        plain[3]
