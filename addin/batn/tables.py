"""The consolidation as tables (pandas): one row per unit, and the submission status.

Shared by the consolidated workbook, the JSON output and the other doors: each door writes the
rows built here ("Tổng hợp theo đơn vị", "Tình hình nộp báo cáo", "Kết quả kiểm tra") and adds
only its own formatting, so the three tables have the same columns wherever a clerk opens them.
"""
from __future__ import annotations

import math
from datetime import date, datetime

import pandas as pd

from .rollup import Consolidation


def summary_frame(cons: Consolidation) -> pd.DataFrame:
    """One row per unit (tree order) with its totals, then the indicator columns by code."""
    rows = []
    for r in cons.units.values():
        rows.append({"code": r.code, "name": r.name, "depth": r.depth, "status": r.status,
                     **{c: r.totals.get(c) for c in cons.catalogue.codes}})
    return pd.DataFrame(rows, columns=["code", "name", "depth", "status", *cons.catalogue.codes])


def status_frame(cons: Consolidation) -> pd.DataFrame:
    rows = []
    for r in cons.units.values():
        sub = r.submission
        rows.append({
            "code": r.code, "name": r.name, "level": r.level, "depth": r.depth, "status": r.status,
            "file": sub.source if sub else "",
            # 0 = not known (a unit read from a Google Sheet has no file to date)
            "received": datetime.fromtimestamp(sub.received) if sub and sub.received else None,
            "deadline": r.deadline, "errors": r.errors, "warnings": r.warnings,
            "ignored": "; ".join(s.source for s in r.ignored),
        })
    return pd.DataFrame(rows)


STATUS_HEADER = ["STT", "Mã", "Đơn vị", "Cấp", "Tình trạng", "Tệp", "Thời gian nhận", "Hạn nộp",
                 "Số lỗi", "Số cảnh báo", "Tệp bị bỏ qua"]
STATUS_WIDTHS = (6, 12, 40, 16, 18, 40, 18, 12, 8, 10, 40)
TOTAL_LABEL = "TỔNG CỘNG"
INDENT = "   "        # a unit's name is indented by its depth in the tree


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


def sent_line(cons: Consolidation) -> str:
    """"Đã gửi báo cáo: 29/30 đơn vị — tổng hợp lúc 08:00 ngày 05/07/2026": above every status table."""
    return (f"Đã gửi báo cáo: {len(cons.sent)}/{len(cons.expected)} đơn vị — "
            f"tổng hợp lúc {cons.as_of:%H:%M ngày %d/%m/%Y}")


def summary_rows(cons: Consolidation, indent: str = INDENT) -> list[list[object]]:
    """"Tổng hợp theo đơn vị": two header rows (labels, then codes), one row per unit in tree
    order (its name indented by depth), then the total. Figures start in column 4."""
    cat = cons.catalogue
    rows: list[list[object]] = [["Mã", "Đơn vị", "Tình trạng", *[i.label for i in cat.indicators]],
                                [None, None, None, *cat.codes]]
    for r in summary_frame(cons).itertuples(index=False):
        rows.append([r.code, indent * int(r.depth) + str(r.name), r.status,
                     *[plain(getattr(r, c)) for c in cat.codes]])
    rows.append([None, TOTAL_LABEL, None, *[plain(cons.totals.get(c)) for c in cat.codes]])
    return rows


def status_rows(cons: Consolidation, indent: str = INDENT, source: str = "Tệp") -> list[list[object]]:
    """"Tình hình nộp báo cáo": the header, then one row per unit in tree order. `source` names the
    sixth column: a file in a folder, a tab ("Nguồn") in a Google Sheet."""
    rows: list[list[object]] = [[source if h == "Tệp" else h for h in STATUS_HEADER]]
    for i, r in enumerate(status_frame(cons).itertuples(index=False), start=1):
        rows.append([i, r.code, indent * int(r.depth) + str(r.name), r.level, r.status, r.file, plain(r.received),
                     plain(r.deadline), plain(r.errors), plain(r.warnings), r.ignored])
    return rows


FINDINGS_HEADER = ["STT", "Mức độ", "Đơn vị", "Tệp", "Ô", "Chỉ tiêu", "Nội dung"]
NO_FINDINGS = "Không có lỗi hay cảnh báo nào."


def findings_in_order(findings):
    """Lỗi first, then by file, unit and cell: the order every "Kết quả kiểm tra" table uses."""
    from .model import Severity

    return sorted(findings, key=lambda f: (f.severity != Severity.ERROR, f.file, f.unit, f.cell))


def findings_rows(findings) -> list[list[object]]:
    """The body of a "Kết quả kiểm tra" table (no header), whatever the door writes it to."""
    rows: list[list[object]] = [[i, f.severity.value, f.unit, f.file, f.cell, f.indicator, f.message]
                                for i, f in enumerate(findings_in_order(findings), start=1)]
    return rows or [["", "", "", "", "", "", NO_FINDINGS]]
