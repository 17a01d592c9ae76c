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

No figure is larger than `MAX_FIGURE` (2**53, about 9 triệu tỷ): a cell beyond it (a 400-digit
text, 1.7e308, infinity) is reported as `number-too-large` (lỗi) and read as blank, so that no
later sum, conversion to float or database column can overflow. The catalogue's ceilings by
indicator kind, much lower, are checked with the other rules in `batn.checks`.
"""
from __future__ import annotations

import math
import re
import sys
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from .model import MAX_FIGURE

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
    raw: str = ""               #    | "number-too-large"


# More digits than this before the decimal mark and the text is not converted at all (Python
# refuses int() of 4,300 digits, and float() of 400 gives infinity): far above MAX_FIGURE.
_MAX_DIGITS = 30
_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def _whole(x: float) -> float | int:
    return int(x) if float(x).is_integer() else x


def parse_figure(cell: object) -> Parsed:
    """Turn one cell's content into a figure, or say why it cannot be one. Never raises, and
    never gives a figure beyond MAX_FIGURE, infinity or NaN."""
    parsed = _parse(cell)
    v = parsed.value
    if v is not None and not -MAX_FIGURE <= v <= MAX_FIGURE:
        return Parsed(None, "number-too-large", readable(v))
    return parsed


def _parse(cell: object) -> Parsed:
    if cell is None:
        return Parsed(None)
    if isinstance(cell, bool):
        return Parsed(None, "boolean-in-number", "ĐÚNG" if cell else "SAI")
    if isinstance(cell, (int, float)):
        if isinstance(cell, float) and math.isnan(cell):
            return Parsed(None, "not-a-number", readable(cell))
        if isinstance(cell, float) and math.isinf(cell) or isinstance(cell, int) and abs(cell) > MAX_FIGURE:
            return Parsed(None, "number-too-large", readable(cell))    # before _whole: float(10**400) raises
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
    whole = num.split(",")[0] if _VN_DECIMAL.match(num) else num
    digits = "".join(ch for ch in whole if ch.isdigit()).lstrip("0")
    if len(digits) > _MAX_DIGITS:
        return Parsed(None, "number-too-large", _scientific(Decimal(digits), num.startswith("-")))
    if _PLAIN.match(num):
        return Parsed(int(num), raw=text)
    if _THOUSANDS_DOT.match(num) or _THOUSANDS_COMMA.match(num):
        return Parsed(int(num.replace(".", "").replace(",", "")), raw=text)
    if _AMBIGUOUS.match(num) or _EN_DECIMAL.match(num):
        return Parsed(None, "ambiguous-number", text)
    if _VN_DECIMAL.match(num):
        return Parsed(_whole(float(num.replace(".", "").replace(",", "."))), raw=text)
    return Parsed(None, "not-a-number", text)


_FIGURE_IN_TEXT = re.compile(r"([+-]?)(\d+)([.,])(\d+)")


def readings(text: str) -> dict[str, str]:
    """The meanings of an ambiguous figure, for its message: "1,644" as a whole number (whole: "1644",
    whole_read: "1.644") or a decimal written the Vietnamese way (decimal: "1,644"); "1.5" (mark ".")
    only as that decimal ("1,5"). The unit word after it stays ("1,644 lượt")."""
    m = _FIGURE_IN_TEXT.search(text)
    if m is None:
        return {"whole": text, "whole_read": text, "decimal": text, "mark": ""}
    sign, head, mark, tail = m.group(1) if m.group(1) == "-" else "", m.group(2), m.group(3), m.group(4)
    words = text[m.end():].strip()          # "triệu", "lượt": kept, so "1.5 triệu" is never retyped as 15
    after = f" {words}" if words else ""
    whole = int(sign + head + tail)
    return {"whole": f"{whole}{after}", "whole_read": f"{readable(whole)}{after}",
            "decimal": f"{sign}{head},{tail}{after}", "mark": mark}


def readable(v: object) -> str:
    """A figure as a clerk reads it in a message: 1234567 -> "1.234.567", 12.5 -> "12,5"; one of
    more than 16 digits in powers of ten with its digit count (never "1e+400"); infinity and NaN
    in words."""
    if isinstance(v, float):
        if v != v:
            return "giá trị không xác định (NaN)"
        if math.isinf(v):
            return "vô cùng lớn" if v > 0 else "âm vô cùng"
        if v.is_integer():
            v = int(v)
    if isinstance(v, int) and not isinstance(v, bool):
        if abs(v) < 10 ** 16:
            return f"{v:,}".replace(",", ".")
        return _scientific(Decimal(abs(v)), v < 0)
    if isinstance(v, float):
        whole, _, frac = f"{v:,.6f}".rstrip("0").partition(".")
        return whole.replace(",", ".") + ("," + frac if frac else "")
    return str(v)


def _scientific(d: Decimal, negative: bool = False) -> str:
    """A whole number of many digits: "1,7 × 10³⁰⁸, số có 309 chữ số"."""
    mantissa, _, exp = format(d, ".2e").partition("e")
    mantissa = mantissa.rstrip("0").rstrip(".").replace(".", ",")
    sign = "-" if negative else ""
    return f"{sign}{mantissa} × 10{str(int(exp)).translate(_SUPERSCRIPT)}, số có {d.adjusted() + 1} chữ số"


def finite(v: object) -> object:
    """`v`, or None when it is a number no spreadsheet cell, JSON value or report can hold
    (infinity, NaN, an int beyond the largest double); anything not a number passes unchanged.

    Every writer of figures (the xlsx cell helpers, the streamed rows, the tables shared with JSON
    and Google, the report phrases) passes them through here. With every figure read under its
    ceiling no sum comes near this, but a writer that meets one must leave the cell blank rather
    than stop the whole consolidated workbook with OverflowError: one guard, here, for all."""
    if isinstance(v, float):
        return v if v - v == 0 else None          # inf - inf and NaN - NaN are NaN
    if isinstance(v, int) and not isinstance(v, bool) and not -_LARGEST_DOUBLE <= v <= _LARGEST_DOUBLE:
        return None
    return v


_LARGEST_DOUBLE = int(sys.float_info.max)
