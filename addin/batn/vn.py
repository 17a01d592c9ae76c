"""Vietnamese number, money and date wording for Đoàn documents.

Conventions follow docs/domain.md §3 (document number, place and date) and
§4 (numbers, money, dates inside the text).

Stdlib only. babel's ``format_decimal(x, locale="vi_VN")`` does give "8.964"
and "85,6", but it is not a declared dependency of batn and it rounds half to
even (0,125 -> "0,12"), while Đoàn figures must round half up; grouping by
"." is one line with ``format``, so babel buys nothing here.
"""
from __future__ import annotations

import math
import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

Number = int | float | Decimal

_TRIEU = 1_000_000
_TRIEU_PER_TY = 1_000


def _dec(n: Number) -> Decimal:
    """Exact Decimal of ``n``; floats go through ``str`` so 85.6 stays 85.6."""
    if isinstance(n, bool) or not isinstance(n, (int, float, Decimal)):
        raise TypeError(f"expected a number, got {type(n).__name__}")
    if isinstance(n, float) and not math.isfinite(n):
        raise ValueError(f"not a finite number: {n!r}")
    d = n if isinstance(n, Decimal) else Decimal(str(n))
    if not d.is_finite():
        raise ValueError(f"not a finite number: {n!r}")
    return d


def _group(d: Decimal) -> str:
    """Digits of ``d`` with "." between thousands and "," before decimals (§4)."""
    if d == d.to_integral_value():
        d = d.to_integral_value()  # 8964.0 prints as 8.964, not 8.964,0
    text = format(abs(d), "f")  # "f" never switches to exponent notation
    whole, _, frac = text.partition(".")
    out = format(int(whole), ",").replace(",", ".")
    if frac:
        out += "," + frac
    return ("-" + out) if d < 0 else out


def so(n: Number, pad_small: bool = False) -> str:
    """Number in Vietnamese style: 8964 -> "8.964", 85.6 -> "85,6" (§4).

    Whole floats print without decimals; other values print as given (round
    before calling). With ``pad_small`` the counts 1..9 become "01".."09",
    the Đoàn habit of "03 công trình" (§4); 0 and 10+ are unchanged.
    """
    d = _dec(n)
    if pad_small and d == d.to_integral_value() and 1 <= d <= 9:
        return f"{int(d):02d}"
    return _group(d)


def dem(n: Number, unit: str, pad_small: bool = True) -> str:
    """Count with its unit noun: (1644, "đêm") -> "1.644 đêm", (3, ...) -> "03 ...".

    Zero gives "0 <unit>": §4 wants zero said in words ("không có ..."), but
    that needs the whole sentence, so the report builder handles it.
    """
    return f"{so(n, pad_small=pad_small)} {unit}"


def tien(amount: Number) -> str:
    """Money in tỷ and triệu (§4): 1_540_000_000 -> "1 tỷ 540 triệu đồng".

    A remainder below one triệu is cut off and "trên" put in front
    (700_400_000 -> "trên 700 triệu đồng"); amounts under one triệu keep
    their digits ("850.000 đồng"). Parts are not zero-padded:
    1_005_000_000 -> "1 tỷ 5 triệu đồng".
    """
    d = _dec(amount)
    if d < 0:
        raise ValueError(f"negative amount: {amount!r}")
    if d < _TRIEU:
        return f"{_group(d)} đồng"
    trieu_total = int(d // _TRIEU)
    ty, trieu = divmod(trieu_total, _TRIEU_PER_TY)
    parts = []
    if ty:
        parts.append(f"{_group(Decimal(ty))} tỷ")  # 1.250 tỷ keeps its separator
    if trieu:
        parts.append(f"{trieu} triệu")
    prefix = "trên " if d > trieu_total * _TRIEU else ""
    return f"{prefix}{' '.join(parts)} đồng"


def ty_le(num: Number, den: Number, decimals: int = 1) -> str:
    """Percentage num/den with a decimal comma: (856, 1000) -> "85,6%" (§4).

    Rounds half up (0,05 -> "0,1%"), drops trailing zeros ("100%", not
    "100,0%"). A zero denominator has no ratio and gives "".
    """
    n, m = _dec(num), _dec(den)
    if m == 0:
        return ""
    pct = (n * 100 / m).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    if pct == 0:
        pct = Decimal(0)  # no "-0%" from tiny negative ratios
    return f"{_group(pct.normalize())}%"


def ngay_van_ban(d: date) -> str:
    """Document date (§3): "ngày 05 tháng 02 năm 2025", "ngày 25 tháng 6 năm 2013".

    Day padded below 10; month padded only for January and February.
    """
    month = f"{d.month:02d}" if d.month <= 2 else str(d.month)
    return f"ngày {d.day:02d} tháng {month} năm {d.year}"


def ngay_ngan(d: date, with_year: bool = True) -> str:
    """Date inside the text (§4): "25/12/2014", or "30/11" without the year.

    Day and month are always zero-padded ("05/02/2025"), the usual form in
    administrative text. The word "ngày" belongs to the sentence, not here.
    """
    short = f"{d.day:02d}/{d.month:02d}"
    return f"{short}/{d.year}" if with_year else short


_DMY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
_YMD = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


def doc_ngay(text: str) -> date:
    """A date as a clerk types it: "25/6/2026", "25/06/2026", "25-06-2026", "25.06.2026", or
    "2026-06-25". ValueError, in Vietnamese, for another form or a day that does not exist."""
    t = str(text).strip()
    m = _DMY.fullmatch(t)
    if m:
        d, mo, y = map(int, m.groups())
    elif _YMD.fullmatch(t):
        y, mo, d = map(int, _YMD.fullmatch(t).groups())
    else:
        raise ValueError(f"Ngày “{t}” không đúng dạng: ghi ngày/tháng/năm, ví dụ 25/06/2026 (hoặc 2026-06-25)")
    try:
        return date(y, mo, d)
    except ValueError:
        import calendar

        why = (f"tháng {mo:02d}/{y} chỉ có {calendar.monthrange(y, mo)[1]} ngày" if 1 <= mo <= 12 and 1 <= y <= 9999
               else "một năm chỉ có 12 tháng" if not 1 <= mo <= 12 else "năm không hợp lệ")
        raise ValueError(f"Không có ngày {d:02d}/{mo:02d}/{y:04d} ({why})") from None


def dia_diem_ngay(place: str, d: date) -> str:
    """Place and date line of the header (§3): "Rạch Giá, ngày 25 tháng 6 năm 2013"."""
    return f"{place.strip()}, {ngay_van_ban(d)}"


def so_van_ban(number: str, doc_type: str, issuer: str, ban: str = "") -> str:
    """Đoàn document number (§3): "Số: 44A-BC/TĐTN", "Số: 144-KH/TĐTN-TNCNĐT".

    Hyphen before the type, slash before the issuer, optional "-<ban>".
    Spaces inside ``number`` are removed ("44 A" -> "44A"). Without a number, room is left for
    the văn thư to write it in by hand once the document is signed: "Số:        -BC/TĐTN".
    """
    num = "".join(number.split()) or " " * 8
    tail = f"-{ban.strip()}" if ban.strip() else ""
    return f"Số: {num}-{doc_type.strip()}/{issuer.strip()}{tail}"
