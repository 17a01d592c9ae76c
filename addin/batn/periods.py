"""Reporting periods (kỳ báo cáo): ids, labels, data windows and deadlines.

Ids:
    2024        năm 2024                 window 15/12/2023 – 14/12/2024
    2024-H1     6 tháng đầu năm 2024     window 15/12/2023 – 14/06/2024
    2024-H2     6 tháng cuối năm 2024    window 15/06/2024 – 14/12/2024
    2009-2013   giai đoạn 2009 - 2013    window 01/01/2009 – 31/12/2013

The default window follows the state's cut-off (Nghị định 09/2019/NĐ-CP: 14 June,
14 December). The Đoàn is not bound by it, so windows and deadlines are settings
(templates/periods.toml), a mapping shaped like:

    {"window": {"year_start": "12-15", "year_end": "12-14", "h1_end": "06-14",
                "phase_start": "01-01", "phase_end": "12-31"},
     "deadlines": {"year":  {"": "+6d", "Đoàn cơ sở": "12-16", "Tỉnh Đoàn": "12-25"},
                   "H1":    {"": "+6d"}, "H2": {"": "+6d"}, "phase": {"": "+10d"}}}

Window dates are "MM-DD". A year runs from `year_start` to `year_end` of the year;
`year_start` falls in the year before when it comes later in the calendar than
`year_end` (12-15 > 12-14). H1 runs from the year's start to `h1_end`, H2 from the
day after `h1_end` to the year's end. A phase runs from `phase_start` of its first
year (the year before, by the same rule) to `phase_end` of its last year.

A deadline is "MM-DD" in the period's final year (the year its window ends), or
"+Nd": N days after the window's end. Levels are the units' level labels; ""
is the deadline for levels not listed. Given settings are laid over the defaults,
key by key, so a file may set only what differs.
"""
from __future__ import annotations

import re
import sys
import unicodedata
from datetime import date, timedelta
from os import PathLike
from pathlib import Path
from typing import Any, Mapping

from .model import Period
from .resources import unreadable_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["parse_period", "load_period_config", "DEFAULT_CONFIG"]

DEFAULT_CONFIG: dict[str, dict[str, Any]] = {
    "window": {"year_start": "12-15", "year_end": "12-14", "h1_end": "06-14",
               "phase_start": "01-01", "phase_end": "12-31"},
    "deadlines": {"year": {"": "+6d"}, "H1": {"": "+6d"}, "H2": {"": "+6d"},
                  "phase": {"": "+10d"}},
}

_KINDS = {"year": "year", "h1": "H1", "h2": "H2", "phase": "phase"}
_BAD_ID = "Kỳ báo cáo '{}' không hợp lệ; dùng dạng 2024, 2024-H1, 2024-H2 hoặc 2009-2013"


def parse_period(pid: str, config: Mapping | None = None) -> Period:
    """The period with id `pid` ("2024", "2024-H1", "2024-H2", "2009-2013"), its window
    and per-level deadlines taken from `config` (see the module doc; None = defaults)."""
    text = str(pid).strip().replace("–", "-").replace("—", "-")
    cfg = _settings(config)
    win = cfg["window"]
    if m := re.fullmatch(r"([12]\d{3})", text):
        y = int(m[1])
        kind, label, canon = "year", f"năm {y}", f"{y}"
        start, end = _year_start(win, y), _md(win["year_end"], y, "window.year_end")
    elif m := re.fullmatch(r"([12]\d{3})\s*-\s*[Hh]([12])", text):
        y, half = int(m[1]), m[2]
        canon = f"{y}-H{half}"
        h1_end = _md(win["h1_end"], y, "window.h1_end")
        if half == "1":
            kind, label, start, end = "H1", f"6 tháng đầu năm {y}", _year_start(win, y), h1_end
        else:
            kind, label = "H2", f"6 tháng cuối năm {y}"
            start, end = h1_end + timedelta(days=1), _md(win["year_end"], y, "window.year_end")
    elif (m := re.fullmatch(r"([12]\d{3})\s*-\s*([12]\d{3})", text)) and int(m[1]) < int(m[2]):
        y0, y = int(m[1]), int(m[2])
        kind, label, canon = "phase", f"giai đoạn {y0} - {y}", f"{y0}-{y}"
        start = _md(win["phase_start"], y0, "window.phase_start")
        if start > _md(win["phase_end"], y0, "window.phase_end"):
            start = start.replace(year=y0 - 1)
        end = _md(win["phase_end"], y, "window.phase_end")
    else:
        raise ValueError(_BAD_ID.format(pid))
    if start > end:
        raise ValueError(f"Kỳ báo cáo {canon}: ngày bắt đầu {start:%d/%m/%Y} sau ngày kết thúc "
                         f"{end:%d/%m/%Y}; xem lại mục [window] trong cấu hình")
    deadlines = {level: _deadline(spec, end, _where(kind, level))
                 for level, spec in cfg["deadlines"][kind].items()}
    return Period(id=canon, label=label, start=start, end=end, deadlines=deadlines, kind=kind)


def load_period_config(path: str | PathLike) -> dict:
    """Read the periods settings (TOML, e.g. templates/periods.toml) and check their form;
    a bad file raises ValueError with a Vietnamese message."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8-sig"))      # Notepad's BOM is no mistake
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ValueError(f"Tệp cấu hình kỳ báo cáo '{path}' không đọc được: {unreadable_text(e)}") from e
    _settings(data)
    return data


# ---------------------------------------------------------------- settings

def _settings(config: Mapping | None) -> dict[str, dict[str, Any]]:
    """Defaults with `config` laid over them; checks every value's form."""
    window = dict(DEFAULT_CONFIG["window"])
    deadlines = {k: dict(v) for k, v in DEFAULT_CONFIG["deadlines"].items()}
    config = config or {}
    for key, value in _table(config.get("window", {}), "window").items():
        if key not in window:
            raise ValueError(f"Cấu hình kỳ báo cáo: khóa 'window.{key}' không có; "
                             f"dùng {', '.join(DEFAULT_CONFIG['window'])}")
        _md(value, 2001, f"window.{key}")
        window[key] = value
    for kind, levels in _table(config.get("deadlines", {}), "deadlines").items():
        k = _KINDS.get(str(kind).strip().lower())
        if k is None:
            raise ValueError(f"Cấu hình kỳ báo cáo: khóa 'deadlines.{kind}' không có; "
                             "dùng year, H1, H2, phase")
        for level, spec in _table(levels, f"deadlines.{kind}").items():
            level = unicodedata.normalize("NFC", str(level)).strip()
            _deadline(spec, date(2001, 12, 14), _where(kind, level))
            deadlines[k][level] = spec
    return {"window": window, "deadlines": deadlines}


def _where(kind: str, level: str) -> str:
    return f"deadlines.{kind}." + (level or '""')


def _table(value: Any, where: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise ValueError(f"Cấu hình kỳ báo cáo: '{where}' phải là một bảng (mapping)")
    return value


def _md(spec: Any, year: int, where: str) -> date:
    """"MM-DD" in `year`."""
    m = re.fullmatch(r"(\d{1,2})-(\d{1,2})", str(spec).strip())
    try:
        if not m:
            raise ValueError
        return date(year, int(m[1]), int(m[2]))
    except ValueError:
        raise ValueError(f"Cấu hình kỳ báo cáo: '{where}' = '{spec}' không hợp lệ; "
                         "dùng dạng MM-DD, ví dụ 12-14") from None


def _year_start(window: Mapping, y: int) -> date:
    start = _md(window["year_start"], y, "window.year_start")
    return start.replace(year=y - 1) if start > _md(window["year_end"], y, "window.year_end") else start


def _deadline(spec: Any, end: date, where: str) -> date:
    """"MM-DD" in `end`'s year, or "+Nd" = N days after `end`."""
    text = str(spec).strip()
    if m := re.fullmatch(r"\+\s*(\d+)\s*[dD]", text):
        return end + timedelta(days=int(m[1]))
    try:
        return _md(text, end.year, where)
    except ValueError:
        raise ValueError(f"Cấu hình kỳ báo cáo: hạn nộp '{where}' = '{spec}' không hợp lệ; "
                         "dùng dạng MM-DD (ví dụ 12-20) hoặc +Nd (ví dụ +6d)") from None
