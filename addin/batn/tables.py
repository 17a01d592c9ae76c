"""The consolidation as tables: one row per unit, and the submission status.

Shared by the consolidated workbook, the JSON output and the other doors: each door writes the
rows built here ("Tổng hợp theo đơn vị", "Tình hình nộp báo cáo", "Kết quả kiểm tra") and adds
only its own formatting, so the three tables have the same columns wherever a clerk opens them.
The unit rows come from generators, so the file writer streams them; `summary_frame` and
`status_frame` give the same rows as pandas tables.
"""
from __future__ import annotations

import math
from datetime import date, datetime
from typing import TYPE_CHECKING, Iterator

from .numbers import finite
from .rollup import Consolidation
from .textsafe import shown

if TYPE_CHECKING:
    import pandas as pd


STATUS_HEADER = ["STT", "Mã", "Đơn vị", "Cấp", "Tình trạng", "Tệp", "Thời gian nhận", "Hạn nộp",
                 "Số lỗi", "Số cảnh báo", "Tệp bị bỏ qua"]
STATUS_WIDTHS = (6, 12, 40, 16, 18, 40, 18, 12, 8, 10, 40)
STATUS_COLUMNS = ["no", "code", "name", "level", "status", "file", "received", "deadline", "errors", "warnings",
                  "ignored"]
TOTAL_LABEL = "TỔNG CỘNG"
INDENT = "   "        # a unit's name is indented by its depth in the tree


def plain(v: object) -> object:
    """pandas/numpy scalars as Python values; NaN/NaT, infinity and numbers beyond any double
    (`numbers.finite`) as empty; whole floats as int."""
    if v is None:
        return None
    if hasattr(v, "item") and not isinstance(v, (datetime, date)):
        v = v.item()
    v = finite(v)
    if hasattr(v, "to_pydatetime"):
        v = v.to_pydatetime()
    if isinstance(v, float):
        if math.isnan(v):
            return None
        return int(v) if v.is_integer() else v
    if v != v:  # NaT
        return None
    return v


def sent_line(cons: Consolidation) -> str:
    """"Đã gửi báo cáo: 29/30 đơn vị — tổng hợp lúc 08:00 ngày 05/07/2026": above every status table."""
    return (f"Đã gửi báo cáo: {len(cons.sent)}/{len(cons.expected)} đơn vị — "
            f"tổng hợp lúc {cons.as_of:%H:%M ngày %d/%m/%Y}")


def summary_body(cons: Consolidation, indent: str = INDENT) -> Iterator[list[object]]:
    """The unit rows of "Tổng hợp theo đơn vị", in tree order: code, name indented by depth,
    status, then the totals by indicator code. A generator: a writer can stream 10,000 rows."""
    codes = cons.catalogue.codes
    for r in cons.units.values():
        t = r.totals
        yield [r.code, indent * r.depth + r.name, r.status, *[plain(t.get(c)) for c in codes]]


def total_row(cons: Consolidation) -> list[object]:
    """The "TỔNG CỘNG" row under the unit rows."""
    return [None, TOTAL_LABEL, None, *[plain(cons.totals.get(c)) for c in cons.catalogue.codes]]


def status_body(cons: Consolidation, indent: str = INDENT) -> Iterator[list[object]]:
    """The unit rows of "Tình hình nộp báo cáo" (columns of STATUS_HEADER), in tree order."""
    for i, r in enumerate(cons.units.values(), start=1):
        sub = r.submission
        yield [i, r.code, indent * r.depth + r.name, r.level, r.status, shown(sub.source) if sub else "",
               # 0 = not known (a unit read from a Google Sheet has no file to date)
               datetime.fromtimestamp(sub.received) if sub and sub.received else None,
               r.deadline, r.errors, r.warnings, "; ".join(shown(s.source) for s in r.ignored)]


def summary_frame(cons: Consolidation) -> "pd.DataFrame":
    """The unit rows of "Tổng hợp theo đơn vị" as a pandas table, for analysis in a notebook."""
    import pandas as pd          # here: no door needs it, and it costs 40 MB and half a second

    return pd.DataFrame(summary_body(cons, indent=""), columns=["code", "name", "status", *cons.catalogue.codes])


def status_frame(cons: Consolidation) -> "pd.DataFrame":
    """The unit rows of "Tình hình nộp báo cáo" as a pandas table, for analysis in a notebook."""
    import pandas as pd

    return pd.DataFrame(status_body(cons, indent=""), columns=STATUS_COLUMNS)


def summary_header(cons: Consolidation) -> list[object]:
    """The first header row of "Tổng hợp theo đơn vị" (the second holds the indicator codes)."""
    return ["Mã", "Đơn vị", "Tình trạng", *[i.label for i in cons.catalogue.indicators]]


def summary_rows(cons: Consolidation, indent: str = INDENT) -> list[list[object]]:
    """"Tổng hợp theo đơn vị": two header rows (labels, then codes), one row per unit in tree
    order (its name indented by depth), then the total. Figures start in column 4."""
    rows: list[list[object]] = [summary_header(cons), [None, None, None, *cons.catalogue.codes]]
    rows += summary_body(cons, indent)
    rows.append(total_row(cons))
    return rows


def status_rows(cons: Consolidation, indent: str = INDENT, source: str = "Tệp") -> list[list[object]]:
    """"Tình hình nộp báo cáo": the header, then one row per unit in tree order. `source` names the
    sixth column: a file in a folder, a tab ("Nguồn") in a Google Sheet."""
    rows: list[list[object]] = [[source if h == "Tệp" else h for h in STATUS_HEADER]]
    rows += status_body(cons, indent)
    return rows


FINDINGS_HEADER = ["STT", "Mức độ", "Đơn vị", "Tệp", "Ô", "Chỉ tiêu", "Nội dung"]
FINDINGS_WIDTHS = (6, 11, 14, 30, 18, 22, 80)
NO_FINDINGS = "Không có lỗi hay cảnh báo nào."


def findings_in_order(findings):
    """Lỗi first, then by file, unit and cell: the order every "Kết quả kiểm tra" table uses."""
    from .model import Severity

    return sorted(findings, key=lambda f: (f.severity != Severity.ERROR, f.file, f.unit, f.cell))


def findings_rows(findings) -> list[list[object]]:
    """The body of a "Kết quả kiểm tra" table (no header), whatever the door writes it to."""
    rows: list[list[object]] = [[i, f.severity.value, f.unit, shown(f.file), f.cell, f.indicator, f.message]
                                for i, f in enumerate(findings_in_order(findings), start=1)]
    return rows or [["", "", "", "", "", "", NO_FINDINGS]]
