"""Record, then apply: the writes that showing findings takes, as a list of plain actions.

The same list is replayed on an xlsx copy (batn.xlsx.annotate), an open Excel
book (the xlwings door) or a Google Sheet, and tests can assert on it before
anything is written.
"""
from __future__ import annotations

from dataclasses import dataclass

from .model import Finding, Severity
from .textsafe import clean

COLOURS = {Severity.ERROR: "F4B6B6", Severity.WARNING: "FFD699"}


@dataclass(frozen=True)
class MarkCell:
    sheet: str
    cell: str          # "D12"
    colour: str        # RRGGBB
    note: str


@dataclass(frozen=True)
class WriteFindingsSheet:
    findings: tuple[Finding, ...]


def annotation_actions(findings: list[Finding]) -> list[object]:
    """One MarkCell per located cell (lỗi wins over cảnh báo, notes joined), then the results sheet."""
    by_cell: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        if f.cell and "!" in f.cell:
            sheet, cell = f.cell.rsplit("!", 1)
            by_cell.setdefault((sheet, cell), []).append(f)
    actions: list[object] = []
    for (sheet, cell), fs in by_cell.items():
        worst = Severity.ERROR if any(f.severity == Severity.ERROR for f in fs) else Severity.WARNING
        note = clean("\n".join(f"[{f.severity}] {f.message}" for f in fs))    # every door can carry it
        actions.append(MarkCell(sheet, cell, COLOURS[worst], note))
    actions.append(WriteFindingsSheet(tuple(findings)))
    return actions
