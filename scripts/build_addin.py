"""Build the Excel ribbon add-in addin/xlam/batn.xlam from its text sources, on any OS.

    python scripts/build_addin.py                 # writes addin/xlam/batn.xlam
    python scripts/build_addin.py --out x.xlam

Sources:
- addin/xlam/customUI.xml: the "3 Trách nhiệm" tab (Office 2007+ ribbon XML);
- addin/xlam/*.bas: the ribbon callbacks (each runs a batn.excel.buttons entry point with RunPython);
- from the installed xlwings package: its custom add-in VBA module (xlwings_custom_addin.bas, BSD
  licence, with PROJECT_NAME set to "batn") and the Dictionary class it uses on macOS (MIT).
  The add-in therefore matches the xlwings version installed when it was built; the build
  writes that version into the add-in and the guide tells clerks to install the same one.

The VBA project (xl/vbaProject.bin) is written by scripts/vba_project.py ([MS-OVBA], [MS-CFB]).
The package is byte-for-byte reproducible: fixed timestamps, fixed member order.
"""
from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import xlwings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vba_project import (DOC_BASE, Project, class_module, document_module,  # noqa: E402
                         standard_module, vba_project_bin)

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "addin" / "xlam"
XLWINGS_DIR = Path(xlwings.__file__).parent
PROJECT_NAME = "batn"
CONF_SHEET = f"_{PROJECT_NAME}.conf"   # rename to "batn.conf" (no underscore) to switch these settings on
FIXED_TIME = (1980, 1, 1, 0, 0, 0)

# xlwings settings the add-in's RunPython reads (same keys as the xlwings add-in), with a hint.
CONF_ROWS = [
    ("Interpreter_Win", "", "Đường dẫn pythonw.exe, ví dụ %LOCALAPPDATA%\\Programs\\Python\\Python312\\pythonw.exe"),
    ("Interpreter_Mac", "", "Đường dẫn python trên macOS"),
    ("PYTHONPATH", "", ""),
    ("Conda Path", "", ""),
    ("Conda Env", "", ""),
    ("Show Console", False, ""),
    ("USE UDF SERVER", True, "True: Python chạy sẵn giữa các lần bấm (nhanh); False: mỗi lần bấm mở Python mới"),
]

NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


# RunPython on Windows runs in xlwings' COM server ("Use UDF Server") unless batn.conf says
# "USE UDF SERVER","False": one Python process stays open between clicks, so a Kiểm tra click costs
# the check (a few ms), not a new Python importing xlwings and batn (about 1 s). The first click of
# an Excel session starts it; after upgrading batn, close Excel (or run KillPy) to load the new code.
# macOS has no COM server: RunPython starts a process per click there whatever this says.
PATCHES = [
    ('Public Const PROJECT_NAME As String = "myaddin"', f'Public Const PROJECT_NAME As String = "{PROJECT_NAME}"'),
    ('OPTIMIZED_CONNECTION = GetConfig("USE UDF SERVER", False)',
     'OPTIMIZED_CONNECTION = GetConfig("USE UDF SERVER", True)'),
]


def xlwings_module() -> str:
    text = (XLWINGS_DIR / "xlwings_custom_addin.bas").read_text(encoding="ascii")
    for old, new in PATCHES:
        if text.count(old) != 1:
            raise SystemExit(f"xlwings {xlwings.__version__}: line not found in xlwings_custom_addin.bas: {old}")
        text = text.replace(old, new)
    return text


def project() -> Project:
    modules = [
        document_module("ThisWorkbook", DOC_BASE["ThisWorkbook"]),
        document_module("Sheet1", DOC_BASE["Sheet"]),
        standard_module("xlwings", xlwings_module()),
        class_module("Dictionary", (XLWINGS_DIR / "addin" / "Dictionary.cls").read_text(encoding="ascii")),
    ]
    for bas in sorted(SOURCES.glob("*.bas")):
        modules.append(standard_module(bas.stem, bas.read_text(encoding="ascii")))
    return Project(PROJECT_NAME, modules)


# ---------------------------------------------------------------- the package parts

def _cell(ref: str, value: object) -> str:
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t>{escape(str(value))}</t></is></c>'


def conf_sheet_xml() -> str:
    rows = []
    for r, (key, value, hint) in enumerate(CONF_ROWS, start=1):
        cells = [_cell(f"A{r}", key)]
        if value != "":
            cells.append(_cell(f"B{r}", value))
        if hint:
            cells.append(_cell(f"C{r}", hint))
        rows.append(f'<row r="{r}">{"".join(cells)}</row>')
    return (XML_HEAD + f'<worksheet xmlns="{NS_MAIN}" xmlns:r="{NS_R}"><sheetPr codeName="Sheet1"/>'
            '<cols><col min="1" max="1" width="18" customWidth="1"/><col min="2" max="2" width="40" customWidth="1"/>'
            f'</cols><sheetData>{"".join(rows)}</sheetData></worksheet>')


def parts(version: str) -> dict[str, bytes]:
    custom_ui = (SOURCES / "customUI.xml").read_bytes()
    files = {
        "[Content_Types].xml": XML_HEAD + (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.ms-excel.addin.macroEnabled.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '<Override PartName="/xl/styles.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            '<Override PartName="/docProps/core.xml" '
            'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
            '<Override PartName="/docProps/app.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
            '</Types>'),
        "_rels/.rels": XML_HEAD + (
            f'<Relationships xmlns="{NS_PKG}">'
            f'<Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/'
            'core-properties" Target="docProps/core.xml"/>'
            f'<Relationship Id="rId3" Type="{REL}/extended-properties" Target="docProps/app.xml"/>'
            '<Relationship Id="rId4" Type="http://schemas.microsoft.com/office/2006/relationships/ui/extensibility" '
            'Target="customUI/customUI.xml"/>'
            '</Relationships>'),
        "docProps/core.xml": XML_HEAD + (
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            '<dc:title>batn: báo cáo phong trào “3 trách nhiệm”</dc:title><dc:creator>batn</dc:creator>'
            f'<dc:description>Ribbon add-in; VBA module of xlwings {version}</dc:description>'
            '<dcterms:created xsi:type="dcterms:W3CDTF">2026-01-01T00:00:00Z</dcterms:created>'
            '</cp:coreProperties>'),
        "docProps/app.xml": XML_HEAD + (
            '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
            '<Application>Microsoft Excel</Application></Properties>'),
        "xl/workbook.xml": XML_HEAD + (
            f'<workbook xmlns="{NS_MAIN}" xmlns:r="{NS_R}"><workbookPr codeName="ThisWorkbook"/>'
            '<bookViews><workbookView/></bookViews>'
            f'<sheets><sheet name="{CONF_SHEET}" sheetId="1" r:id="rId1"/></sheets></workbook>'),
        "xl/_rels/workbook.xml.rels": XML_HEAD + (
            f'<Relationships xmlns="{NS_PKG}">'
            f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{REL}/styles" Target="styles.xml"/>'
            '<Relationship Id="rId3" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" '
            'Target="vbaProject.bin"/>'
            '</Relationships>'),
        "xl/styles.xml": XML_HEAD + (
            f'<styleSheet xmlns="{NS_MAIN}"><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
            '<fills count="2"><fill><patternFill patternType="none"/></fill>'
            '<fill><patternFill patternType="gray125"/></fill></fills>'
            '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'),
        "xl/worksheets/sheet1.xml": conf_sheet_xml(),
    }
    out = {k: v.encode("utf-8") for k, v in files.items()}
    out["customUI/customUI.xml"] = custom_ui
    out["xl/vbaProject.bin"] = vba_project_bin(project())
    return out


def build(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts(xlwings.__version__).items():
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
    tmp.replace(out)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=SOURCES / "batn.xlam")
    args = ap.parse_args(argv)
    path = build(args.out)
    print(f"{path} (VBA module of xlwings {xlwings.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
