"""The consolidation as tables (pandas): one row per unit, and the submission status.

Shared by the consolidated workbook, the JSON output and the other doors.
"""
from __future__ import annotations

from datetime import datetime

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
            "received": datetime.fromtimestamp(sub.received) if sub else None,
            "deadline": r.deadline, "errors": r.errors, "warnings": r.warnings,
            "ignored": "; ".join(s.source for s in r.ignored),
        })
    return pd.DataFrame(rows)


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
