"""An earlier period's figures, read back from its consolidated workbook (or a filled template),
for the comparisons of the report ("tăng 18 lớp so với cùng kỳ năm 2025") and the charts of the
consolidated workbook.

    prev = load_previous("TongHop_TD_AG_2025-H1.xlsx", catalogue)
    prev.period.label, prev.totals["BT_TAPHUAN_LOP"]

The earlier file may use the same catalogue or an older one: figures are matched by indicator
code, and a code the earlier catalogue did not have is None (not compared). A file that cannot
be used raises `PreviousError` with a Vietnamese message; nothing here writes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Mapping

from .model import Catalogue, Period

__all__ = ["PreviousPeriod", "PreviousError", "load_previous", "previous_from_totals"]


class PreviousError(ValueError):
    """The earlier period's file cannot be used (unreadable, not a batn workbook, a later period)."""


@dataclass
class PreviousPeriod:
    period: Period
    totals: Mapping[str, float | int | None]     # current catalogue's codes -> earlier figure (None: not known)
    unit: str = ""                               # the unit code of the earlier workbook
    catalogue: str = ""                          # the earlier workbook's catalogue id
    source: str = ""                             # the file it was read from ("" from the ledger)
    as_of: datetime | None = None                # when the earlier consolidation's data stood
    unmatched: list[str] = field(default_factory=list)   # current codes the earlier catalogue lacked

    def get(self, code: str) -> float | int | None:
        return self.totals.get(code)


def previous_from_totals(period: Period, totals: Mapping[str, float | int | None], catalogue: Catalogue,
                         unit: str = "", source: str = "") -> PreviousPeriod:
    """A `PreviousPeriod` from figures already at hand (the ledger's totals of an earlier run)."""
    matched = {c: totals.get(c) for c in catalogue.codes}
    return PreviousPeriod(period, matched, unit=unit, catalogue=catalogue.id, source=source,
                          unmatched=[c for c in catalogue.codes if c not in totals])


def load_previous(path: str | Path, catalogue: Catalogue, *, current: Period | None = None,
                  period_config: str | Path | None = None) -> PreviousPeriod:
    """The totals of the earlier workbook at `path`, keyed by the codes of `catalogue`.

    `current`: the period being reported; an earlier file for the same or a later period is refused."""
    from . import layout as L
    from .periods import load_period_config, parse_period
    from .resources import templates_dir
    from .xlsx.reader import read_named_values, read_submission

    path = Path(path)
    if not path.is_file():
        raise PreviousError(f"Không có tệp kỳ trước {path}")
    sub = read_submission(path)
    fatal = [f for f in sub.findings if f.kind in ("unreadable-file", "not-a-template", "wrong-catalogue",
                                                   "skipped-file")]
    if fatal:
        raise PreviousError(f"Tệp kỳ trước {path.name}: {fatal[0].message}")
    try:
        period = parse_period(sub.period, load_period_config(period_config or templates_dir() / "periods.toml"))
    except ValueError as e:
        raise PreviousError(f"Tệp kỳ trước {path.name}: kỳ báo cáo “{sub.period}” không đọc được ({e})") from None
    if current is not None and period.end >= current.end:
        raise PreviousError(f"Tệp kỳ trước {path.name} là số liệu {period.label}, không phải kỳ trước "
                            f"của {current.label}")
    shared = [c for c in catalogue.codes if c in sub.values]
    if not shared:
        raise PreviousError(f"Tệp kỳ trước {path.name} (bộ chỉ tiêu {sub.catalogue}) không có mã chỉ tiêu nào "
                            f"chung với bộ {catalogue.id}")
    as_of = read_named_values(path, [L.NAME_AS_OF])[L.NAME_AS_OF]
    return PreviousPeriod(
        period=period,
        totals={c: sub.values.get(c) for c in catalogue.codes},
        unit=sub.unit, catalogue=sub.catalogue, source=str(path),
        as_of=as_of if isinstance(as_of, datetime) else None,
        unmatched=[c for c in catalogue.codes if c not in sub.values],
    )
