"""Look inside a received spreadsheet file before trusting it: what it really is, whether it is
within our limits, its sheets and defined names, and which input cells hold formulas or errors.

Everything is bounded (file size, expanded size, per-part size, compression ratio) and XML is
parsed with defusedxml, so a zip bomb or an entity-expansion attack is a finding, not a hang.
"""
from __future__ import annotations

import posixpath
from functools import lru_cache
import re
import zipfile
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


def sniff(path: Path) -> str:
    """What the file really is, whatever its name says."""
    with open(path, "rb") as f:
        head = f.read(512)
    if not head:
        raise Unreadable("tệp rỗng (0 byte)")
    if head.startswith(OLE_MAGIC):
        return "ole"
    if head.startswith(b"PK"):
        return "zip"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<table", b"<meta")):
        raise Unreadable("tệp HTML (trang web) bị đổi đuôi thành bảng tính; hãy mở bằng Excel và lưu lại dạng .xlsx")
    if text.startswith(b"<?xml"):
        raise Unreadable("tệp XML (có thể là “XML Spreadsheet 2003”) không phải .xlsx; hãy lưu lại dạng .xlsx")
    raise Unreadable("tệp văn bản hoặc CSV bị đổi đuôi thành bảng tính; hãy mở bằng Excel và lưu lại dạng .xlsx")


def _ole_is_encrypted(path: Path) -> bool:
    # An encrypted OOXML file is an OLE container with an "EncryptedPackage" stream (MS-OFFCRYPTO);
    # the stream name is stored in UTF-16 in the directory.
    with open(path, "rb") as f:
        data = f.read(min(path.stat().st_size, 4 * 1024 * 1024))
    return "EncryptedPackage".encode("utf-16-le") in data


def check_zip_limits(z: zipfile.ZipFile) -> None:
    total = 0
    for info in z.infolist():
        total += info.file_size
        if info.file_size > MAX_PART_BYTES:
            raise Unreadable(f"phần “{info.filename}” quá lớn khi giải nén ({_n(info.file_size)} byte, "
                             f"giới hạn {_n(MAX_PART_BYTES)}): có thể là trang tính có hàng triệu dòng hoặc tệp nén độc hại")
        if info.compress_size and info.file_size > 1_000_000 and info.file_size / info.compress_size > MAX_RATIO:
            raise Unreadable(f"tệp nén bất thường: phần “{info.filename}” nở ra gấp "
                             f"{_n(info.file_size // info.compress_size)} lần (nghi là “bom nén”)")
    if total > MAX_EXPANDED_BYTES:
        raise Unreadable(f"nội dung giải nén quá lớn ({_n(total)} byte, giới hạn {_n(MAX_EXPANDED_BYTES)})")


UNSAFE_XML = "khai báo DOCTYPE/ENTITY (cấu trúc XML không an toàn, có thể là tấn công “bom thực thể”), không đọc"


def _refuse_doctype(z: zipfile.ZipFile, names) -> None:
    """No part of a spreadsheet needs a DTD; one that declares entities is an attack. The parts
    python-calamine reads need no scan: it refuses entities itself (see reader.calamine_reason)."""
    for name in names:
        with z.open(name) as f:
            head = f.read(2048)
        if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
            raise Unreadable(f"phần “{name}” {UNSAFE_XML}")


def _xml(z: zipfile.ZipFile, name: str):
    try:
        return ET.fromstring(z.read(name))
    except KeyError:
        raise Unreadable(f"thiếu phần “{name}” trong tệp") from None
    except ET.ParseError as e:
        raise Unreadable(f"cấu trúc sổ tính bị hỏng ({name}: {e})") from None
    except Unreadable:
        raise
    except Exception as e:   # defusedxml's refusals (entities, DTD, external references)
        raise Unreadable(f"cấu trúc XML không an toàn trong “{name}” ({type(e).__name__})") from None


def open_package(path: Path) -> Package:
    """Inspect a file; raise Unreadable with a clear reason when it cannot be a usable workbook."""
    size = path.stat().st_size
    if size == 0:
        raise Unreadable("tệp rỗng (0 byte)")
    if size > MAX_FILE_BYTES:
        raise Unreadable(f"tệp quá lớn ({_n(size)} byte, giới hạn {_n(MAX_FILE_BYTES)})")
    what = sniff(path)
    if what == "ole":
        if _ole_is_encrypted(path):
            raise Unreadable("tệp được đặt mật khẩu mở; hãy gỡ mật khẩu (Tệp → Thông tin → Bảo vệ sổ làm việc) rồi gửi lại")
        return Package("xls")
    try:
        with zipfile.ZipFile(path) as z:
            check_zip_limits(z)
            members = set(z.namelist())
            _refuse_doctype(z, [m for m in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/sharedStrings.xml")
                                if m in members])
            if "mimetype" in members and b"opendocument.spreadsheet" in z.read("mimetype"):
                return Package("ods")
            if "xl/workbook.xml" not in members:
                raise Unreadable("tệp nén không chứa sổ tính Excel (thiếu xl/workbook.xml)")
            pkg = Package("xlsx", has_macros="xl/vbaProject.bin" in members,
                          external_links=sum(1 for m in members if m.startswith("xl/externalLinks/externalLink")))
            root = _xml(z, "xl/workbook.xml")
            rels = {}
            if "xl/_rels/workbook.xml.rels" in members:
                for r in _xml(z, "xl/_rels/workbook.xml.rels").iterfind("rel:Relationship", _NS):
                    target = r.get("Target", "")
                    rels[r.get("Id")] = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
                        posixpath.join("xl", target))
    except zipfile.BadZipFile:
        raise Unreadable("tệp nén bị hỏng hoặc bị cắt cụt (không phải tệp .xlsx hợp lệ)") from None
    for s in root.iterfind("m:sheets/m:sheet", _NS):
        title = s.get("name", "")
        pkg.sheets.append(title)
        if s.get("state") in ("hidden", "veryHidden"):
            pkg.hidden.append(title)
        if s.get(_R_ID) in rels:
            pkg.parts[title] = rels[s.get(_R_ID)]
    for d in root.iterfind("m:definedNames/m:definedName", _NS):
        if d.get("localSheetId") is None and d.get("name"):
            pkg.names[d.get("name")] = (d.text or "").strip()
    return pkg


@lru_cache(maxsize=64)
def _cell_pattern(columns: frozenset[str]) -> re.Pattern:
    # Only the input columns: a template's check formulas live in other columns.
    cols = "|".join(sorted(columns))
    return re.compile(rb'<c r="((?:' + cols.encode() + rb')\d+)"([^>]*?)(?:/>|>(.*?)</c>)', re.S)
_F = re.compile(rb"<f[^>]*?(?:/>|>(.*?)</f>)", re.S)
_V = re.compile(rb"<v>(.*?)</v>", re.S)


def cell_facts(path: Path, pkg: Package, sheet: str, cells: set[str]) -> dict[str, CellFacts]:
    """Formulas and error values in the given cells of one sheet (calamine shows neither)."""
    part = pkg.parts.get(sheet)
    if not part or not cells:
        return {}
    with zipfile.ZipFile(path) as z:
        try:
            xml = z.read(part)
        except KeyError:
            return {}
    out: dict[str, CellFacts] = {}
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
        v = _V.search(body)
        out[ref] = CellFacts(
            formula=("=" + _unescape(f.group(1) or b"")) if f else "",
            error=_unescape(v.group(1)) if is_error and v else "",
        )
    return out


def _unescape(b: bytes) -> str:
    return (b.decode("utf-8", "replace").replace("&lt;", "<").replace("&gt;", ">")
            .replace("&quot;", '"').replace("&apos;", "'").replace("&amp;", "&"))


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
