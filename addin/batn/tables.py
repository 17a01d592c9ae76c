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
