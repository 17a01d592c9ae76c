"""Read the cells batn needs straight from a sheet's XML, in one pass: values, formulas, error
values and merged ranges.

Why not python-calamine for these sheets: calamine shows neither formulas nor error values, so
the reader used to load a sheet with calamine and then scan the same XML again for them. This
module does both at once, and only for the columns the defined names point to (the label,
unit-code and input columns), down to the deepest named row. Values come out as calamine gives
them (floats, text, booleans, dates as date/datetime/time/timedelta, "" for empty and error
cells), so everything downstream is unchanged; tests/test_sheetxml.py compares the two cell by
cell on every test workbook, including the hostile ones.

The XML has already passed `package.guard_sheet_xml` (UTF-8, no DTD, bounded size). Anything of a
shape this reader does not handle (a namespace prefix, a cell without its reference first,
CDATA) raises `NotPlain`, and the caller reads that sheet with calamine instead.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import lru_cache

from .package import SEEN_PARTS, CellFacts


class NotPlain(Exception):
    """The sheet XML is valid but not in the plain shape read here: use python-calamine."""


@dataclass
class SheetCells:
    rows: list[list]                                  # [row][col] 0-based, "" where empty, like calamine
    facts: dict[str, CellFacts] = field(default_factory=dict)   # "D12" -> formula / error, wanted columns
    merged: list[tuple[tuple[int, int], tuple[int, int]]] = field(default_factory=list)


@lru_cache(maxsize=1024)
def col_letter(i: int) -> str:
    """0 -> "A", 27 -> "AB"."""
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def col_index(letters: str) -> int:
    """"A" -> 0, "AB" -> 27."""
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n - 1


@lru_cache(maxsize=256)
def _cell_pattern(columns: tuple[str, ...]) -> re.Pattern:
    """One cell of the given columns, split into the parts Excel, LibreOffice and openpyxl write:
    (column, row, s, t, other attributes, "<f" if a formula, its attributes, its text, <v> text,
    the rest of the body). findall() hands back tuples, so Python touches only the cells we keep;
    the regex engine skips the other columns in C."""
    # One letter each (the usual case): a character class, which the regex engine tries faster
    # than an alternation.
    alt = (f"[{''.join(columns)}]" if all(len(c) == 1 for c in columns) else "|".join(columns)).encode()
    return re.compile(
        rb'<c r="(' + alt + rb')(\d+)"(?: s="(\d+)")?(?: t="(\w+)")?([^>]*?)'
        rb'(?:/>|>(?:(<f)\b([^>]*?)(?:/>|>([^<]*)</f>))?(?:<v>([^<]*)</v>|<v/>)?'
        rb'([^<]*(?:<(?!/c>)[^<]*)*)</c>)')


_NOT_R_FIRST = re.compile(rb"<c(?:>| (?!r=\"))")
_T_ATTR = re.compile(rb'\bt="(\w+)"')
_S_ATTR = re.compile(rb'\bs="(\d+)"')
_T = re.compile(rb"<t(\s[^>]*)?(?:/>|>([^<]*)</t>)")
_RPH = re.compile(rb"<rPh\b.*?</rPh>", re.S)
_SHARED_MASTER = re.compile(rb'<f t="shared"[^>]*?si="(\d+)"[^>]*?(?<!/)>(.*?)</f>', re.S)
_SI_ATTR = re.compile(rb'si="(\d+)"')
_MERGE = re.compile(rb'<mergeCell ref="([A-Z]{1,3})(\d+):([A-Z]{1,3})(\d+)"')
_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")
_ROW_AT = re.compile(rb'<row r="(\d+)"')
def text_of(raw: bytes) -> str:
    """XML character data to text: entities, character references and OOXML's _xHHHH_ escapes."""
    s = raw.decode("utf-8")
    if "&" in s:
        s = html.unescape(s)
    if "_x" in s:
        s = _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), s)
    return s


@lru_cache(maxsize=8192)
def rich_text(body: bytes) -> str:
    """The text of an <si> or <is> element: its <t>, or its runs' <t>s, without phonetic runs."""
    if b"<rPh" in body:
        body = _RPH.sub(b"", body)
    # Like calamine, text without xml:space="preserve" loses its surrounding XML whitespace.
    return "".join(text_of(t if b"preserve" in attrs else t.strip(b" \t\r\n")) for attrs, t in _T.findall(body))


class SharedStrings:
    """xl/sharedStrings.xml, split once and decoded only for the indexes a cell asks for."""

    _SI = re.compile(rb"<si(?:\s[^>]*)?(?:/>|>([^<]*(?:<(?!/si>)[^<]*)*)</si>)")

    def __init__(self, xml: bytes | None):
        if not xml:
            self._raw: list[bytes] = []
        elif b"<si " in xml or b"<si/>" in xml:
            self._raw = self._SI.findall(xml)
        else:                   # the usual shape: a split in C, each piece cut at its </si> when asked for
            self._raw = xml.split(b"<si>")[1:]
        self.done: dict[int, str] = {}

    def __getitem__(self, i: int) -> str:
        s = self.done.get(i)
        if s is None:
            body = self._raw[i]                 # IndexError: a reference past the table
            end = body.rfind(b"</si>")
            s = self.done[i] = rich_text(body if end < 0 else body[:end])
        return s


# ---------------------------------------------------------------- dates (styles.xml)

_BUILTIN_DATES = frozenset([*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)])
_BUILTIN_DURATIONS = frozenset([46])          # [h]:mm:ss
_NUMFMT = re.compile(rb'<numFmt numFmtId="(\d+)" formatCode="([^"]*)"')
_CELLXFS = re.compile(rb"<cellXfs\b[^>]*>(.*?)</cellXfs>", re.S)
_XF = re.compile(rb"<xf\b([^>]*?)/?>")
_NUMFMT_ID = re.compile(rb'numFmtId="(\d+)"')
_QUOTED = re.compile(r'"[^"]*"|\\.|_.|\*.')


def _format_kind(code: str) -> str:
    """"date", "duration" or "" for a custom number format (calamine's reading of it)."""
    code = _QUOTED.sub("", code)
    if re.search(r"\[(h+|m+|s+)\]", code, re.I):
        return "duration"
    code = re.sub(r"\[[^\]]*\]", "", code)        # colours, conditions, locales
    return "date" if re.search(r"[dmyhs]", code, re.I) else ""


@lru_cache(maxsize=64)
def date_styles(styles_xml: bytes) -> tuple[frozenset[int], frozenset[int]]:
    """(cell style indexes that show a date or time, those that show a duration). Cached on the
    bytes: every workbook made from one template version carries the same styles.xml."""
    custom = {int(i): _format_kind(text_of(c)) for i, c in _NUMFMT.findall(styles_xml)}
    m = _CELLXFS.search(styles_xml)
    dates, durations = set(), set()
    for idx, attrs in enumerate(_XF.findall(m.group(1)) if m else []):
        fid = _NUMFMT_ID.search(attrs)
        n = int(fid.group(1)) if fid else 0
        kind = custom.get(n) if n in custom else ("duration" if n in _BUILTIN_DURATIONS
                                                  else "date" if n in _BUILTIN_DATES else "")
        if kind == "date":
            dates.add(idx)
        elif kind == "duration":
            durations.add(idx)
    return frozenset(dates), frozenset(durations)


_EPOCH = datetime(1899, 12, 30)


def _as_date(v: float, duration: bool, is1904: bool):
    if duration:
        return timedelta(days=v)
    if 0 <= v < 1:
        return (datetime.min + timedelta(days=v)).time()
    if is1904:
        v += 1462
    elif v < 60:              # Excel's 1900 leap-year bug: serials before 1 March 1900 are one day off
        v += 1
    dt = _EPOCH + timedelta(milliseconds=round(v * 86_400_000))
    return dt.date() if dt.time() == time(0) else dt


# ---------------------------------------------------------------- one sheet

def check_plain(xml: bytes) -> None:
    if b"<sheetData" not in xml or b"<![CDATA[" in xml:
        raise NotPlain("no plain <sheetData> (namespace prefix or CDATA)")
    if _NOT_R_FIRST.search(xml):
        raise NotPlain("a cell without its reference as first attribute")


def read_sheet(xml: bytes, columns: set[int], max_row: int, shared: SharedStrings | None = None,
               styles: tuple[frozenset[int], frozenset[int]] = (frozenset(), frozenset()),
               is1904: bool = False) -> SheetCells:
    """Cells of `columns` (0-based) in rows 0..max_row, their formulas and errors, and the sheet's
    merged ranges. Raises NotPlain for XML of another shape.

    A sheet part seen in an earlier file (package.SEEN_PARTS: the same bytes object) that shows no
    shared string is read once; its cells are shared, read-only, by every file that carries it."""
    key = ("cells", tuple(sorted(columns)), max_row, styles, is1904)
    cells = SEEN_PARTS.recall(xml, key)
    if cells is not None:
        return cells
    cells = _read_sheet(xml, columns, max_row, shared, styles, is1904)
    if SEEN_PARTS.recall(xml, "guarded") and b't="s"' not in xml:    # a kept part, not tied to this file's strings
        SEEN_PARTS.remember(xml, key, cells)
    return cells


def _read_sheet(xml: bytes, columns: set[int], max_row: int, shared: SharedStrings | None,
                styles: tuple[frozenset[int], frozenset[int]], is1904: bool) -> SheetCells:
    check_plain(xml)
    dates, durations = styles
    done = shared.done if shared is not None else {}
    width = max(columns) + 1 if columns else 0
    rows: list[list] = []
    facts: dict[str, CellFacts] = {}
    masters: dict[bytes, bytes] | None = None
    index = {col_letter(c).encode(): c for c in columns}
    letters = tuple(sorted((k.decode() for k in index), key=len, reverse=True))
    start = xml.find(b"<sheetData")
    end = _end_of_rows(xml, start, max_row)
    for col_b, row_b, s, kind, rest, fmark, fattrs, ftext, raw, other in _cell_pattern(letters).findall(xml, start, end):
        r = int(row_b) - 1
        if r > max_row:
            break
        if rest and (b" s=" in rest or b" t=" in rest):        # attributes in another order
            sm, t = _S_ATTR.search(rest), _T_ATTR.search(rest)
            s = sm.group(1) if sm else s
            kind = t.group(1) if t else kind
        if not kind or kind == b"n":
            if raw:
                value = float(raw)
                if s and (dates or durations):
                    si = int(s)
                    if si in dates or si in durations:
                        value = _as_date(value, si in durations, is1904)
            else:
                value = ""
        elif kind == b"s":
            if shared is None and raw:
                raise NotPlain("shared strings not found")
            value = (done.get(int(raw)) or shared[int(raw)]) if raw else ""
        elif kind == b"inlineStr":
            value = rich_text(other)
        elif kind == b"str":
            value = text_of(raw)
        elif kind == b"b":
            value = raw.strip() in (b"1", b"true") if raw else ""
        elif kind == b"e":
            value = ""
        elif kind == b"d":
            value = _iso(text_of(raw)) if raw else ""
        else:
            raise NotPlain(f"cell type {kind!r}")
        if other and (b"<f" in other or (kind != b"inlineStr" and b"<v" in other)):
            raise NotPlain("cell body in an unexpected order")     # e.g. <v> before <f>
        while len(rows) <= r:
            rows.append([""] * width)
        rows[r][index[col_b]] = value
        if fmark or kind == b"e":
            text = ftext
            if fmark and not text and b't="shared"' in fattrs:
                # A filled-down formula: the follower holds only its group number; use the master's text.
                if masters is None:
                    masters = dict(_SHARED_MASTER.findall(xml))
                si = _SI_ATTR.search(fattrs)
                text = masters.get(si.group(1), b"") if si else b""
            facts[f"{col_b.decode()}{r + 1}"] = CellFacts(
                formula=("=" + text_of(text or b"")) if fmark else "",
                error=text_of(raw) if kind == b"e" else "")
    merged = []
    tail = xml.find(b"<mergeCells", end if end > 0 else 0)
    if tail >= 0:
        for c1, r1, c2, r2 in _MERGE.findall(xml, tail):
            merged.append(((int(r1) - 1, col_index(c1.decode())), (int(r2) - 1, col_index(c2.decode()))))
    return SheetCells(rows, facts, merged)


def _end_of_rows(xml: bytes, start: int, max_row: int) -> int:
    """Where to stop scanning: the first row below max_row (rows are in order in a valid sheet),
    so a million-row sheet costs no more than the rows we read."""
    stop = xml.find(b"</sheetData>", start)
    stop = len(xml) if stop < 0 else stop
    if stop - start < 200_000:
        return stop
    for m in _ROW_AT.finditer(xml, start, stop):
        if int(m.group(1)) - 1 > max_row:
            return m.start()
    return stop


def _iso(s: str):
    try:
        d = datetime.fromisoformat(s.rstrip("Z"))
    except ValueError:
        return s
    return d.date() if d.time() == time(0) and "T" not in s else d


