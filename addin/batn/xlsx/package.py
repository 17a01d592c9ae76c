"""Look inside a received spreadsheet file before trusting it: what it really is, whether it is
within our limits, its sheets and defined names, and which input cells hold formulas or errors.

Everything is bounded (file size, expanded size, per-part size, compression ratio) and XML is
parsed with defusedxml, so a zip bomb or an entity-expansion attack is a finding, not a hang.
"""
from __future__ import annotations

import html
import io
import os
import posixpath
import time
from datetime import datetime, timezone
from functools import lru_cache
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from defusedxml import ElementTree as ET

MAX_FILE_BYTES = 25 * 1024 * 1024          # what a unit's report can reasonably weigh
MAX_EXPANDED_BYTES = 200 * 1024 * 1024     # all parts, uncompressed
MAX_PART_BYTES = 60 * 1024 * 1024          # one part (a sheet) uncompressed
MAX_RATIO = 200                            # expansion of one large part; zip bombs reach thousands

_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
       "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
       "rel": "http://schemas.openxmlformats.org/package/2006/relationships"}
_R_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# What a file named like a spreadsheet is expected to be. A file with another name (a report saved
# without its extension by a mail client, "BaoCao.xlsx.pdf"...) is still opened and recognised by its
# content; when it is not a workbook it is listed as skipped, not as a broken report.
SPREADSHEET_EXTENSIONS = (".xlsx", ".xlsm", ".xls", ".ods", ".xlsb", ".xltx", ".xltm", ".csv")


def is_spreadsheet_name(name: str) -> bool:
    return name.lower().endswith(SPREADSHEET_EXTENSIONS)


def _n(x: int) -> str:
    """Vietnamese thousands separator for the messages."""
    return f"{x:,}".replace(",", ".")


class Unreadable(Exception):
    """The file cannot be read at all; the message is Vietnamese, for the clerk."""


@dataclass
class CellFacts:
    formula: str = ""      # the formula text, "" when the cell holds a plain value
    error: str = ""        # "#REF!", "#DIV/0!"... when the cached value is an error


@dataclass
class Package:
    kind: str                                   # "xlsx" | "ods" | "xls"
    sheets: list[str] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)   # workbook-level defined names -> reference
    parts: dict[str, str] = field(default_factory=dict)   # sheet title -> zip part path
    has_macros: bool = False
    external_links: int = 0
    xml: dict[str, bytes] = field(default_factory=dict)   # sheet title -> part bytes (the sheets we read)
    shared: bytes | None = None                 # xl/sharedStrings.xml, when the file has one
    styles: bytes | None = None                 # xl/styles.xml: which cell styles show dates
    is1904: bool = False                        # dates counted from 1904 (old Mac Excel)
    saved_at: float | None = None               # when the file was last saved, as the file itself records it


def sniff(path: Path, data: bytes | None = None) -> str:
    """What the file really is, whatever its name says."""
    if data is not None:
        head = data[:512]
    else:
        with open(path, "rb") as f:
            head = f.read(512)
    if not head:
        raise Unreadable("tệp rỗng (0 byte)")
    if head.startswith(OLE_MAGIC):
        return "ole"
    if head.startswith(b"PK"):
        return "zip"
    named = is_spreadsheet_name(path.name)
    for magic, what in _OTHER_FILES:
        if head.startswith(magic) or (magic == b"ftyp" and head[4:8] == magic):
            # named like a workbook: a broken report, told what to send; otherwise only what it is
            raise Unreadable(f"{what} bị đổi đuôi thành bảng tính; hãy gửi tệp .xlsx của biểu mẫu" if named else what)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<table", b"<meta")):
        raise Unreadable("tệp HTML (trang web) bị đổi đuôi thành bảng tính; hãy mở bằng Excel và lưu lại dạng .xlsx")
    if text.startswith(b"<?xml"):
        raise Unreadable("tệp XML (có thể là “XML Spreadsheet 2003”) không phải .xlsx; hãy lưu lại dạng .xlsx")
    if not named:                       # "ghi_chu.txt": not renamed, just not a workbook
        raise Unreadable("tệp văn bản")
    raise Unreadable("tệp văn bản hoặc CSV bị đổi đuôi thành bảng tính; hãy mở bằng Excel và lưu lại dạng .xlsx")


# What else arrives in an inbox: a scan or a photo of the paper report, its PDF.
_OTHER_FILES = ((b"%PDF", "tệp PDF"), (b"\xff\xd8\xff", "tệp ảnh (JPEG)"), (b"\x89PNG", "tệp ảnh (PNG)"),
                (b"ftyp", "tệp ảnh hoặc video của điện thoại (HEIC, MP4)"))


def _ole_is_encrypted(path: Path, data: bytes | None = None) -> bool:
    # An encrypted OOXML file is an OLE container with an "EncryptedPackage" stream (MS-OFFCRYPTO);
    # the stream name is stored in UTF-16 in the directory.
    if data is None:
        with open(path, "rb") as f:
            data = f.read(min(path.stat().st_size, 4 * 1024 * 1024))
    data = data[:4 * 1024 * 1024]
    return "EncryptedPackage".encode("utf-16-le") in data


def check_zip_limits(z: zipfile.ZipFile) -> None:
    total = 0
    seen: set[str] = set()
    for info in z.infolist():
        # Part names are case-insensitive (OPC). Two parts of one name: Excel and batn might each
        # read a different one, so nobody can say which figures the unit meant.
        key = info.filename.casefold()
        if key in seen:
            raise Unreadable(f"tệp nén có hai phần cùng tên “{info.filename}”: không biết phần nào là thật "
                             f"(tệp đã bị sửa bằng công cụ khác Excel); hãy mở bằng Excel, lưu lại rồi gửi lại")
        seen.add(key)
        total += info.file_size
        if info.file_size > MAX_PART_BYTES:
            # A repetitive text compresses well too: the ratio only says which kind of "too large" it is.
            if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
                raise Unreadable(f"tệp nén bất thường: phần “{info.filename}” nở ra gấp "
                                 f"{_n(info.file_size // info.compress_size)} lần khi giải nén, tới {_n(info.file_size)} byte "
                                 f"(nghi là “bom nén”)")
            raise Unreadable(f"phần “{info.filename}” quá lớn khi giải nén ({_n(info.file_size)} byte, "
                             f"giới hạn {_n(MAX_PART_BYTES)}): có thể là trang tính có hàng triệu dòng")
    if total > MAX_EXPANDED_BYTES:
        raise Unreadable(f"nội dung giải nén quá lớn ({_n(total)} byte, giới hạn {_n(MAX_EXPANDED_BYTES)})")


_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")     # zip local file header: 30 bytes


class _SeenParts:
    """The speed trick for an inbox of files made from one template (issue 19): most parts of every
    report are byte for byte the same compressed stream (workbook.xml, styles, the catalogue a
    template carries, a narrative sheet left empty). Such a part is inflated, checked and parsed
    once: later files get the same bytes object back, and what was learnt of it (a check passed,
    its cells) is remembered with it (`recall`, `remember`).

    The key is the compressed stream itself, compared in full (never a CRC alone, which a crafted
    file could match), so a hit returns exactly what inflating would have, and the declared size and
    CRC are held to the same test. Bounded: the most recent parts only, so memory stays flat
    whatever the inbox holds; a part seen once (a unit's own data sheet) costs one hash of its
    compressed bytes."""

    MAX_PARTS = 128
    MAX_RAW = 1 << 20                 # larger compressed parts are inflated each time, not kept

    def __init__(self):
        from collections import OrderedDict

        self.parts: OrderedDict[bytes, tuple[bytes, int]] = OrderedDict()   # raw -> (inflated, its CRC)
        # id of a kept part -> what was learnt of it. An id here always names a live kept part (it
        # is dropped with the part), so no other object can be taken for it.
        self.memo: dict[int, dict] = {}

    def get(self, raw: bytes, info: zipfile.ZipInfo) -> bytes | None:
        hit = self.parts.get(raw)
        if hit is None:
            return None
        out, crc = hit
        if len(out) != info.file_size or crc != info.CRC:
            raise zipfile.BadZipFile(f"{info.filename}: size or CRC does not match")
        self.parts.move_to_end(raw)
        return out

    def keep(self, raw: bytes, out: bytes, crc: int) -> None:
        if len(raw) > self.MAX_RAW:
            return
        self.parts[raw] = (out, crc)
        self.memo[id(out)] = {}
        if len(self.parts) > self.MAX_PARTS:
            _, (old, _) = self.parts.popitem(last=False)
            del self.memo[id(old)]

    def recall(self, part: bytes, key):
        """What was remembered of this very part under `key`, or None."""
        memo = self.memo.get(id(part))
        return memo.get(key) if memo else None

    def remember(self, part: bytes, key, value) -> None:
        """Keep `value` with `part` when `part` is a kept part (a read-only value: it is shared)."""
        memo = self.memo.get(id(part))
        if memo is not None:
            memo[key] = value


SEEN_PARTS = _SeenParts()


def read_part(z: zipfile.ZipFile, name: str, data: bytes | None) -> bytes:
    """One part of the package. With the file's bytes in memory, a stored or deflated part is
    inflated in one zlib call (zipfile's stream reader costs more than the inflating itself for
    parts this small); the size comes from the central directory, already checked against our
    limits, and inflating never goes past it. A part seen in an earlier file is not inflated again
    (SEEN_PARTS). Anything else goes through zipfile."""
    info = z.NameToInfo[name]
    if data is None or info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return z.read(name)
    head = data[info.header_offset:info.header_offset + 30]
    if len(head) < 30:
        raise zipfile.BadZipFile(f"truncated header of {name}")
    fields = _LOCAL_HEADER.unpack(head)
    if fields[0] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"bad local header of {name}")
    start = info.header_offset + 30 + fields[-2] + fields[-1]
    raw = data[start:start + info.compress_size]
    if info.compress_type == zipfile.ZIP_STORED:
        out = raw
    else:
        out = SEEN_PARTS.get(raw, info)
        if out is not None:
            return out
        try:
            out = zlib.decompressobj(-15).decompress(raw, info.file_size + 1)
        except zlib.error as e:
            raise zipfile.BadZipFile(f"{name}: {e}") from None
    if len(out) != info.file_size or zlib.crc32(out) != info.CRC:
        raise zipfile.BadZipFile(f"{name}: size or CRC does not match")
    if info.compress_type != zipfile.ZIP_STORED:
        SEEN_PARTS.keep(raw, out, info.CRC)
    return out


UNSAFE_XML = "khai báo DOCTYPE/ENTITY (cấu trúc XML không an toàn, có thể là tấn công “bom thực thể”), không đọc"


@lru_cache(maxsize=32)
def _workbook_parts(wb_xml: bytes, rels_xml: bytes):
    """Sheets, hidden sheets, sheet parts and defined names. Cached on the bytes: every workbook
    made from one template version carries the same workbook.xml, so an inbox parses it once."""
    root = _xml(wb_xml, "xl/workbook.xml")
    rels = {}
    if rels_xml:
        for r in _xml(rels_xml, "xl/_rels/workbook.xml.rels").iterfind("rel:Relationship", _NS):
            target = r.get("Target", "")
            rels[r.get("Id")] = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
                posixpath.join("xl", target))
    sheets, hidden, parts, names = [], [], {}, {}
    pr = root.find("m:workbookPr", _NS)
    is1904 = pr is not None and pr.get("date1904", "").lower() in ("1", "true")
    for s in root.iterfind("m:sheets/m:sheet", _NS):
        title = s.get("name", "")
        sheets.append(title)
        if s.get("state") in ("hidden", "veryHidden"):
            hidden.append(title)
        if s.get(_R_ID) in rels:
            parts[title] = rels[s.get(_R_ID)]
    for d in root.iterfind("m:definedNames/m:definedName", _NS):
        if d.get("localSheetId") is None and d.get("name"):
            names[d.get("name")] = (d.text or "").strip()
    return tuple(sheets), tuple(hidden), tuple(parts.items()), tuple(names.items()), is1904


def _xml(data: bytes, name: str):
    try:
        return ET.fromstring(data)
    except ET.ParseError as e:
        line, col = getattr(e, "position", (0, 0))
        raise Unreadable(f"cấu trúc sổ tính bị hỏng (phần {name}, dòng {line}, cột {col})") from None
    except Unreadable:
        raise
    except Exception:   # defusedxml's refusals (entities, DTD, external references)
        raise Unreadable(f"phần “{name}” {UNSAFE_XML}") from None


def open_package(path: Path, data: bytes | None = None) -> Package:
    """Inspect a file; raise Unreadable with a clear reason when it cannot be a usable workbook.
    `data`: the file's bytes when the caller has read them already (one read, hashed and parsed)."""
    size = path.stat().st_size if data is None else len(data)
    if size == 0:
        raise Unreadable("tệp rỗng (0 byte)")
    if size > MAX_FILE_BYTES:
        raise Unreadable(f"tệp quá lớn ({_n(size)} byte, giới hạn {_n(MAX_FILE_BYTES)})")
    what = sniff(path, data)
    if what == "ole":
        if _ole_is_encrypted(path, data):
            raise Unreadable("tệp được đặt mật khẩu mở; hãy gỡ mật khẩu (Tệp → Thông tin → Bảo vệ sổ làm việc) rồi gửi lại")
        return Package("xls")
    try:
        with zipfile.ZipFile(path if data is None else io.BytesIO(data)) as z:
            check_zip_limits(z)
            members = set(z.NameToInfo)
            if "mimetype" in members and b"opendocument.spreadsheet" in z.read("mimetype"):
                pkg = Package("ods")
                if "meta.xml" in members:
                    pkg.saved_at = saved_time(read_part(z, "meta.xml", data), _ODS_DATE)
                return pkg
            if "xl/workbook.bin" in members:
                raise Unreadable("tệp Excel dạng nhị phân (.xlsb) chưa được hỗ trợ; hãy lưu lại dạng .xlsx")
            if "xl/workbook.xml" not in members:
                other = ("Word (.docx)" if "word/document.xml" in members else
                         "PowerPoint (.pptx)" if "ppt/presentation.xml" in members else "")
                if other and not is_spreadsheet_name(path.name):
                    raise Unreadable(f"tệp {other}")
                if other:
                    raise Unreadable(f"tệp {other} bị đổi đuôi thành bảng tính, không chứa sổ tính Excel; "
                                     "hãy gửi tệp .xlsx của biểu mẫu")
                raise Unreadable("tệp nén không chứa sổ tính Excel (thiếu xl/workbook.xml)")
            pkg = Package("xlsx", has_macros="xl/vbaProject.bin" in members,
                          external_links=sum(1 for m in members if m.startswith("xl/externalLinks/externalLink")))
            # Every part batn parses itself is read once and refused if it declares a DTD.
            wb_xml = guard_part_xml(read_part(z, "xl/workbook.xml", data), "xl/workbook.xml", b"<workbook")
            rels_xml = (guard_part_xml(read_part(z, "xl/_rels/workbook.xml.rels", data), "xl/_rels/workbook.xml.rels",
                                       b"<Relationships") if "xl/_rels/workbook.xml.rels" in members else b"")
            sheets, hidden, parts, names, pkg.is1904 = _workbook_parts(wb_xml, rels_xml)
            pkg.sheets, pkg.hidden, pkg.parts, pkg.names = list(sheets), list(hidden), dict(parts), dict(names)
            _guard_named_sheets(z, pkg, data)
            if "xl/sharedStrings.xml" in members:
                pkg.shared = guard_part_xml(read_part(z, "xl/sharedStrings.xml", data), "xl/sharedStrings.xml",
                                            b"<sst")
            if "xl/styles.xml" in members:
                pkg.styles = guard_part_xml(read_part(z, "xl/styles.xml", data), "xl/styles.xml", b"<styleSheet")
            if "docProps/core.xml" in members:
                pkg.saved_at = saved_time(read_part(z, "docProps/core.xml", data), _CORE_MODIFIED)
    except zipfile.BadZipFile:
        raise Unreadable("tệp nén bị hỏng hoặc bị cắt cụt (không phải tệp .xlsx hợp lệ)") from None
    except RuntimeError as e:        # zipfile: "File ... is encrypted, password required"
        if "encrypted" in str(e):
            raise Unreadable("tệp nén có đặt mật khẩu; hãy gỡ mật khẩu rồi gửi lại") from None
        raise
    return pkg


MAX_CELLS = 10_000_000     # rows x columns of a sheet's used range; calamine allocates all of it (~32 B a cell)
_ROW = re.compile(rb'<row r="(\d+)"')
_WIDE_COL = re.compile(rb'<c r="([A-Z]{3})\d+"')
_NARROW_COL = re.compile(rb'<c r="([A-Z]{1,2})\d')


@lru_cache(maxsize=4096)
def _sheet_of(ref: str) -> str | None:
    m = re.match(r"^(?:'((?:[^']|'')+)'|([^!']+))!", ref.strip())
    return ((m.group(1) or "").replace("''", "'") or m.group(2)) if m else None


def _sheets_named(pkg: Package) -> set[str]:
    return {s for s in map(_sheet_of, pkg.names.values()) if s}


def _guard_named_sheets(z: zipfile.ZipFile, pkg: Package, data: bytes | None = None) -> None:
    """Before calamine sees them, check the sheets our names point to: UTF-8, no DTD, and a used
    range calamine can allocate (a 20 KB file with one cell at XFD1048576 would need 512 GB)."""
    for title in sorted(_sheets_named(pkg)):
        part = pkg.parts.get(title)
        if not part or part not in z.NameToInfo:
            continue
        xml = read_part(z, part, data)
        guard_sheet_xml(xml, title)
        pkg.xml[title] = xml


def guard_part_xml(data: bytes, name: str, root_tag: bytes) -> bytes:
    """A part batn parses itself must be UTF-8 with no DTD before its root element (however much
    whitespace comes first), since a DTD is where entities are declared."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b'encoding="UTF-16' in data[:100].upper():
        raise Unreadable(f"phần “{name}” được lưu bằng mã UTF-16 (Excel luôn lưu UTF-8): tệp đã bị sửa bằng công cụ khác")
    root = data.find(root_tag)
    head = data[:root] if root >= 0 else data
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise Unreadable(f"phần “{name}” {UNSAFE_XML}")
    return data


def guard_sheet_xml(data: bytes, title: str) -> None:
    """A sheet's XML is UTF-8, declares no DTD, and spans a range calamine can allocate."""
    if SEEN_PARTS.recall(data, "guarded"):
        return                          # this very part passed in an earlier file
    _guard_sheet_xml(data, title)
    SEEN_PARTS.remember(data, "guarded", True)


def _guard_sheet_xml(data: bytes, title: str) -> None:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b'encoding="UTF-16' in data[:100].upper():
        head = data[:8192].decode("utf-16", "replace")
        if "<!DOCTYPE" in head or "<!ENTITY" in head:
            raise Unreadable(f"trang “{title}” (mã UTF-16) {UNSAFE_XML}")
        raise Unreadable(f"trang “{title}” được lưu bằng mã UTF-16 (Excel luôn lưu UTF-8): tệp đã bị sửa bằng công cụ khác")
    root = data.find(b"<worksheet")
    head = data[:root if root >= 0 else 4096]
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise Unreadable(f"trang “{title}” {UNSAFE_XML}")
    last = data.rfind(b'<row r="')
    rows = int(_ROW.match(data, last).group(1)) if last >= 0 and _ROW.match(data, last) else 1
    if _WIDE_COL.search(data):
        cols = max(_col_number(m.group(1).decode()) for m in _WIDE_COL.finditer(data))
    elif rows * 26 <= MAX_CELLS:
        cols = 26                       # cannot be over the limit: no need to look closer
    else:                               # a long sheet: find its real width
        cols = max((_col_number(c.decode()) for c in set(_NARROW_COL.findall(data))), default=1)
    if rows * cols > MAX_CELLS:
        raise Unreadable(f"trang “{title}” trải tới dòng {_n(rows)}, cột thứ {_n(cols)} "
                         f"(hơn {_n(MAX_CELLS)} ô): vượt giới hạn đọc, có thể là tệp độc hại")


def _col_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n


@lru_cache(maxsize=64)
def _cell_pattern(columns: frozenset[str]) -> re.Pattern:
    # Only the input columns: a template's check formulas live in other columns.
    cols = "|".join(sorted(columns))
    return re.compile(rb'<c r="((?:' + cols.encode() + rb')\d+)"([^>]*?)(?:/>|>(.*?)</c>)', re.S)
_F = re.compile(rb"<f[^>]*?(?:/>|>(.*?)</f>)", re.S)
_V = re.compile(rb"<v>(.*?)</v>", re.S)


# A master carries the text (<f t="shared" ref="D60:D61" si="0">…</f>); a follower is self-closing.
_SHARED_MASTER = re.compile(rb'<f t="shared"[^>]*?si="(\d+)"[^>]*?(?<!/)>(.*?)</f>', re.S)
_SI = re.compile(rb'si="(\d+)"')


def cell_facts(path: Path, pkg: Package, sheet: str, cells: set[str], data: bytes | None = None) -> dict[str, CellFacts]:
    """Formulas and error values in the given cells of one sheet (calamine shows neither)."""
    part = pkg.parts.get(sheet)
    if not part or not cells:
        return {}
    xml = pkg.xml.get(sheet)
    if xml is None:
        with zipfile.ZipFile(path if data is None else io.BytesIO(data)) as z:
            try:
                xml = z.read(part)
            except KeyError:
                return {}
    out: dict[str, CellFacts] = {}
    if b"<f" not in xml and b't="e"' not in xml:
        return out                       # no formula and no error anywhere on the sheet
    masters: dict[bytes, bytes] | None = None
    columns = frozenset(re.match(r"[A-Z]+", c).group(0) for c in cells)
    for m in _cell_pattern(columns).finditer(xml):
        ref = m.group(1).decode()
        if ref not in cells:
            continue
        body = m.group(3) or b""
        f = _F.search(body)
        is_error = b't="e"' in m.group(2)
        if not f and not is_error:
            continue
        text = f.group(1) if f else None
        if f and not text and b't="shared"' in f.group(0):
            # A filled-down formula: the follower holds only its group number; judge it by the master's text.
            if masters is None:
                masters = {si: t for si, t in _SHARED_MASTER.findall(xml)}
            si = _SI.search(f.group(0))
            text = masters.get(si.group(1), b"") if si else b""
        v = _V.search(body)
        out[ref] = CellFacts(
            formula=("=" + _unescape(text or b"")) if f else "",
            error=_unescape(v.group(1)) if is_error and v else "",
        )
    return out


def _unescape(b: bytes) -> str:
    # html.unescape covers XML's five entities and character references (&#7889; = ố)
    return html.unescape(b.decode("utf-8", "replace"))


_EXTERNAL = re.compile(r"\[\d+\]|'[^']*\[[^\]]+\][^']*'!|\b[A-Za-z]:\\|https?://", re.I)
_DANGEROUS = re.compile(r"\b(WEBSERVICE|FILTERXML|RTD|CALL|REGISTER\.ID|EXEC|HYPERLINK|IMPORTXML|IMPORTDATA)\s*\(", re.I)
_DDE = re.compile(r"^=?\s*[\w.-]+\|'?[^!]*'?!", re.I)


def formula_risk(formula: str) -> str:
    """"" for an ordinary formula; otherwise what makes it unacceptable in an input cell."""
    if _DDE.search(formula) or "|" in formula.split("!")[0]:
        return "lệnh DDE gọi chương trình bên ngoài"
    if _DANGEROUS.search(formula):
        return "hàm lấy dữ liệu hoặc gọi ra ngoài (" + _DANGEROUS.search(formula).group(1).upper() + ")"
    if _EXTERNAL.search(formula):
        return "liên kết tới tệp hoặc địa chỉ bên ngoài"
    return ""


# ---------------------------------------------------------------- when the file was saved
# Excel, LibreOffice and WPS rewrite docProps/core.xml (dcterms:modified, W3CDTF) on every save, and
# an .ods its meta.xml (dc:date). Unlike the file system's modification time, a copy, a USB stick or
# a download from Zalo or e-mail does not change it: it says when the unit saved its report.
_CORE_MODIFIED = re.compile(rb"<dcterms:modified\b[^>]*>\s*([^<]{10,40}?)\s*</dcterms:modified>")
_ODS_DATE = re.compile(rb"<dc:date>\s*([^<]{10,40}?)\s*</dc:date>")
EARLIEST_SAVE = datetime(2000, 1, 1).timestamp()
FUTURE_SLACK_S = 2 * 86400      # a sender's clock a day or two ahead is believed; further is not


def saved_time(xml: bytes, pattern: re.Pattern, now: float | None = None) -> float | None:
    """The save time a package part records, as POSIX seconds; None when absent or implausible
    (before 2000, or days in the future: a wrong clock). A time without a zone is local time,
    as LibreOffice writes it."""
    m = pattern.search(xml[:65536])
    if not m:
        return None
    text = m.group(1).decode("ascii", "replace").strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)          # nanoseconds (LibreOffice) -> microseconds
    try:
        ts = datetime.fromisoformat(text).timestamp()
    except (ValueError, OverflowError, OSError):
        return None
    limit = (time.time() if now is None else now) + FUTURE_SLACK_S
    return ts if EARLIEST_SAVE <= ts <= limit else None


def annotation_mark(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_untouched_annotation(pkg: "Package", mark_name: str) -> bool:
    """True for an annotated copy as batn wrote it: its mark still equals its save time. A copy the
    unit has corrected and saved again is its new report."""
    mark = pkg.names.get(mark_name)
    if mark is None:
        return False
    when = saved_time(f"<dcterms:modified>{mark.strip(chr(34))}</dcterms:modified>".encode(), _CORE_MODIFIED)
    return when is not None and when == pkg.saved_at


def stamp_saved_time(path: str | Path, when: datetime) -> None:
    """Write `when` as the workbook's save time (docProps/core.xml) and as its file time: what
    Excel does on save. batn stamps the files it fills itself (demo, tests) this way, so that a
    copy of them keeps the time they were 'sent'."""
    path = Path(path)
    stamp = when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    buf = io.BytesIO()
    try:       # a file that is not a sound package (a broken one planted on purpose) keeps its bytes
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
            if "docProps/core.xml" not in src.NameToInfo:
                raise zipfile.BadZipFile("no core.xml")
            for info in src.infolist():
                body = src.read(info.filename)
                if info.filename == "docProps/core.xml":
                    body = _CORE_MODIFIED.sub(
                        lambda m: m.group(0)[:m.start(1) - m.start(0)] + stamp + m.group(0)[m.end(1) - m.start(0):],
                        body)
                dst.writestr(info, body)
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError):
        pass
    else:
        path.write_bytes(buf.getvalue())
    ts = when.timestamp()
    os.utime(path, (ts, ts))
