"""The consolidation as rows for an open workbook: batn.tables' frames, with plain Python values."""
from __future__ import annotations

import math
from datetime import date, datetime

from ..rollup import Consolidation
from ..tables import status_frame, summary_frame

STATUS_HEADER = ["STT", "Mã", "Đơn vị", "Cấp", "Tình trạng", "Tệp", "Thời gian nhận", "Hạn nộp",
                 "Số lỗi", "Số cảnh báo", "Tệp bị bỏ qua"]
TOTAL_LABEL = "TỔNG CỘNG"


def plain(v: object) -> object:
    """pandas/numpy scalars as Python values; NaN/NaT as empty; whole floats as int."""
    if v is None:
        return None
    if hasattr(v, "item") and not isinstance(v, (datetime, date)):
        v = v.item()
    if hasattr(v, "to_pydatetime"):
        v = v.to_pydatetime()
    if isinstance(v, float):
        if math.isnan(v):
            return None
        return int(v) if v.is_integer() else v
    if v != v:  # NaT
        return None
    return v


def summary_table(cons: Consolidation) -> tuple[list[list[object]], list[int]]:
    """Rows of "Tổng hợp theo đơn vị" (two header rows: labels, codes; units; the total) and
    the 1-based columns holding figures."""
    cat = cons.catalogue
    df = summary_frame(cons)
    rows: list[list[object]] = [["Mã", "Đơn vị", "Tình trạng", *[i.label for i in cat.indicators]],
                                [None, None, None, *cat.codes]]
    for r in df.itertuples(index=False):
        rows.append([r.code, "   " * int(r.depth) + r.name, r.status, *[plain(getattr(r, c)) for c in cat.codes]])
    rows.append([None, TOTAL_LABEL, None, *[plain(cons.totals.get(c)) for c in cat.codes]])
    return rows, list(range(4, 4 + len(cat.codes)))


def status_table(cons: Consolidation) -> list[list[object]]:
    rows: list[list[object]] = [list(STATUS_HEADER)]
    for i, r in enumerate(status_frame(cons).itertuples(index=False), start=1):
        rows.append([i, r.code, "   " * int(r.depth) + r.name, r.level, r.status, r.file, plain(r.received),
                     plain(r.deadline), plain(r.errors), plain(r.warnings), r.ignored])
    return rows
