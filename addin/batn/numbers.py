"""Reading figures the way clerks type them.

A cell may hold a real number, or text such as " 243 ", "8.964" or "15.868 lượt".
We read text only when its meaning is certain in Vietnamese usage ("." groups
thousands, "," is the decimal mark) and report it otherwise.

The "1,644" case: in Vietnamese "1,644" is one point six four four, but a clerk
copying from an English-language sheet means one thousand six hundred forty-four.
Both readings are plausible, so we do not guess: the cell is reported as
`ambiguous-number` (lỗi) and left out of the totals until the clerk types 1644
or 1.644. A comma followed by a group that is not three digits ("12,5") is
unambiguous (a decimal), and so are several comma groups ("1,234,567").
"""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

_SPACES = re.compile(r"[\s\u00a0\u202f\u2009]+")
# number part, then an optional unit noun made of letters and spaces ("lượt", "đêm văn nghệ")
_WITH_UNIT = re.compile(r"^([+-]?[\d.,]+)\s*([^\W\d_][^\d]*)?$")
_THOUSANDS_DOT = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+$")            # 8.964, 1.234.567
_THOUSANDS_COMMA = re.compile(r"^[+-]?\d{1,3}(,\d{3}){2,}$")        # 1,234,567
_VN_DECIMAL = re.compile(r"^[+-]?\d{1,3}(\.\d{3})*,\d+$")           # 1.234,5 ; 12,5
_PLAIN = re.compile(r"^[+-]?\d+$")
_AMBIGUOUS = re.compile(r"^[+-]?\d{1,3},\d{3}$")                     # 1,644
_EN_DECIMAL = re.compile(r"^[+-]?\d+\.\d{1,2}$|^[+-]?\d+\.\d{4,}$")  # 1.5, 12.25 (dot not grouping 3)


# "5 triệu", "500 nghìn", "2 tỷ": the word after the number scales it; the meaning is certain.
_MAGNITUDE = {"nghìn": 1_000, "ngàn": 1_000, "k": 1_000, "triệu": 1_000_000, "tr": 1_000_000,
              "tỷ": 1_000_000_000, "tỉ": 1_000_000_000}
# Words that scale a number in ways we do not try to read ("5 trăm", "3 chục").
_UNREAD_MAGNITUDE = {"trăm", "chục", "vạn"}


@dataclass(frozen=True)
class Parsed:
    value: float | int | None   # None when blank or unreadable
    problem: str = ""           # "" | "not-a-number" | "ambiguous-number" | "date-in-number" | "boolean-in-number"
    raw: str = ""


def _whole(x: float) -> float | int:
    return int(x) if float(x).is_integer() else x


def parse_figure(cell: object) -> Parsed:
    """Turn one cell's content into a figure, or say why it cannot be one."""
    if cell is None:
        return Parsed(None)
    if isinstance(cell, bool):
        return Parsed(None, "boolean-in-number", "ĐÚNG" if cell else "SAI")
    if isinstance(cell, (int, float)):
        if isinstance(cell, float) and (math.isnan(cell) or math.isinf(cell)):
            return Parsed(None, "not-a-number", str(cell))
        return Parsed(_whole(cell))
    if isinstance(cell, (datetime, date, time, timedelta)):
        return Parsed(None, "date-in-number", str(cell))
    text = unicodedata.normalize("NFC", str(cell)).strip()
    if not text:
        return Parsed(None)
    m = _WITH_UNIT.match(_SPACES.sub(" ", text))
    if not m:
        return Parsed(None, "not-a-number", text)
    num, suffix = m.group(1), (m.group(2) or "").strip().casefold()
    first = suffix.split(" ", 1)[0].rstrip(".") if suffix else ""
    if first in _UNREAD_MAGNITUDE:
        return Parsed(None, "not-a-number", text)
    scale = _MAGNITUDE.get(first, 1)
    parsed = _number(num, text)
    if scale == 1 or parsed.value is None:
        return parsed
    if " " in suffix and suffix.split(" ", 1)[1].split(" ", 1)[0] in {*_MAGNITUDE, *_UNREAD_MAGNITUDE}:
        return Parsed(None, "not-a-number", text)      # "1 tỷ 540 triệu": type the whole number
    return Parsed(_whole(round(parsed.value * scale, 6)), raw=text)


def _number(num: str, text: str) -> Parsed:
    if _PLAIN.match(num):
        return Parsed(int(num), raw=text)
    if _THOUSANDS_DOT.match(num) or _THOUSANDS_COMMA.match(num):
        return Parsed(int(num.replace(".", "").replace(",", "")), raw=text)
    if _AMBIGUOUS.match(num) or _EN_DECIMAL.match(num):
        return Parsed(None, "ambiguous-number", text)
    if _VN_DECIMAL.match(num):
        return Parsed(_whole(float(num.replace(".", "").replace(",", "."))), raw=text)
    return Parsed(None, "not-a-number", text)
