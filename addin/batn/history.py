"""A unit's figures against its own earlier periods: the report's "so với kỳ trước" sentences
and the median-based cảnh báo for figures far from the unit's history.

Logic only: no files, no database. The history comes in as the plain mappings the ledger
returns, {period id: {indicator code: value or None}}, so the same code serves any store.
Only periods of the same kind (year, H1, H2, phase) are compared.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Iterable, Mapping

from . import vn
from .findings import finding
from .model import Catalogue, Finding, Period
from .periods import parse_period
from .report.context import ReportInput
from .report.document import Block, ReportDocument
from .rollup import Consolidation

__all__ = ["HistorySettings", "History", "period_kind", "HistoryComparison", "default_history_codes",
           "compare_with_history", "history_paragraphs", "add_history_to_report", "history_outliers", "add_outliers",
           "figure_text", "previous_from_history"]

History = Mapping[str, Mapping[str, float | int | None]]     # period id -> indicator code -> value


@dataclass(frozen=True)
class HistorySettings:
    indicators: tuple[str, ...] = ()     # () = a few from each part of section II, in catalogue order
    max_items: int = 6
    outlier_factor: float = 3.0          # cảnh báo when value > factor × median or < median / factor
    outlier_min_periods: int = 3         # earlier periods of the same kind needed
    outlier_min_median: float = 5.0      # small counts vary too much to judge
    peer_factor: float = 20.0            # units of one level differ in size: a wide margin against peers
    peer_min_units: int = 5              # peers needed for their median to mean something


def period_kind(pid: str) -> str:
    """"year", "H1", "H2" or "phase" (what batn.periods recognises); "" for an unknown id."""
    try:
        return parse_period(pid).kind
    except ValueError:
        return ""


def _earlier_same_kind(current: Period, periods: Iterable[str]) -> list[Period]:
    """Earlier periods of the same kind as `current`, oldest first."""
    out = []
    for pid in periods:
        if pid == current.id:
            continue
        try:
            p = parse_period(pid)
        except ValueError:
            continue
        if p.kind == (current.kind or period_kind(current.id)) and p.end < current.end:
            out.append(p)
    return sorted(out, key=lambda p: p.end)


def figure_text(v: float | int) -> str:
    """A figure in Vietnamese style, fractions rounded to one decimal: 10.94 -> "10,9"."""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return vn.so(round(v, 1) if isinstance(v, float) else v)


def _amount(v: float | int, catalogue: Catalogue, code: str) -> str:
    ind = catalogue[code]
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return vn.tien(v) if ind.is_money else vn.dem(v, ind.unit)


def _lower_first(label: str) -> str:
    """Lower the first letter of a label unless it starts an acronym ("ĐVTN", "CBCCVC")."""
    if len(label) > 1 and label[1].isupper():
        return label
    return label[:1].lower() + label[1:]


# ---------------------------------------------------------------- comparison with the last period

@dataclass
class HistoryComparison:
    """The current figures against the same unit's latest earlier period of the same kind."""

    catalogue: Catalogue
    previous: Period
    current: Mapping[str, float | int | None]
    before: Mapping[str, float | int | None]

    def phrase(self, code: str) -> str:
        """"tăng 12,5% so với năm 2023", "giảm 3,2% so với ...", "bằng năm 2023"; "" when it cannot be said."""
        cur, prev = self.current.get(code), self.before.get(code)
        if cur is None or prev is None or prev <= 0:
            return ""
        if cur == prev:
            return f"bằng {self.previous.label}"
        word = "tăng" if cur > prev else "giảm"
        return f"{word} {vn.ty_le(abs(cur - prev), prev)} so với {self.previous.label}"

    def item(self, code: str) -> str:
        phrase = self.phrase(code)
        if not phrase:
            return ""
        cur, prev = self.current[code], self.before[code]
        label = _lower_first(self.catalogue[code].label)
        return (f"{label} đạt {_amount(cur, self.catalogue, code)}, {phrase} "  # type: ignore[arg-type]
                f"({_amount(prev, self.catalogue, code)})")  # type: ignore[arg-type]

    def paragraph(self, codes: Iterable[str]) -> str:
        items = [t for t in (self.item(c) for c in codes) if t]
        if not items:
            return ""
        return "Một số kết quả chính so với kỳ trước: " + "; ".join(items) + "."


def default_history_codes(catalogue: Catalogue, limit: int = 6) -> list[str]:
    """A few indicators from each part of section II, taken in turn, so each responsibility shows."""
    groups = [[i.code for i in catalogue.indicators if i.section == s.key and i.kind != "ratio_den"]
              for s in catalogue.sections if s.key.startswith("II")]
    out: list[str] = []
    for k in range(max((len(g) for g in groups), default=0)):
        for g in groups:
            if k < len(g) and len(out) < limit:
                out.append(g[k])
    return out


def compare_with_history(inp: ReportInput, totals: History) -> HistoryComparison | None:
    """The comparison with the latest earlier period of the same kind that `totals` (the unit's
    totals per period, as Ledger.totals_history gives them) has figures for."""
    earlier = [p for p in _earlier_same_kind(inp.period, totals)
               if any(v is not None for v in totals[p.id].values())]
    if not earlier:
        return None
    prev = earlier[-1]
    return HistoryComparison(inp.catalogue, prev, dict(inp.values), totals[prev.id])


def previous_from_history(inp: ReportInput, totals: History) -> "PreviousPeriod | None":
    """The latest earlier period of the same kind that the ledger has figures for, as the report's
    `ReportInput.previous`: its comparisons then go inside the sentences, as with `--previous`."""
    from .previous import previous_from_totals

    earlier = [p for p in _earlier_same_kind(inp.period, totals)
               if any(v is not None for v in totals[p.id].values())]
    if not earlier:
        return None
    prev = earlier[-1]
    return previous_from_totals(prev, totals[prev.id], inp.catalogue, unit=inp.unit.code)


def history_paragraphs(inp: ReportInput, totals: History, settings: HistorySettings | None = None) -> list[str]:
    """Sentences for the report comparing this period with the last comparable one:
    ["Một số kết quả chính so với kỳ trước: ... đạt 1.234 người, tăng 12,5% so với năm 2023 (1.097 người); ..."].
    Empty when `totals` has no earlier period of the same kind."""
    s = settings or HistorySettings()
    cmp = compare_with_history(inp, totals)
    if cmp is None:
        return []
    codes = [c for c in s.indicators if c in inp.catalogue] if s.indicators else \
        [c for c in default_history_codes(inp.catalogue, 10 ** 6) if cmp.phrase(c)][:s.max_items]
    text = cmp.paragraph(codes)
    return [text] if text else []


def add_history_to_report(doc: ReportDocument, paragraphs: list[str]) -> ReportDocument:
    """Put the history paragraphs first in part II ("II. KẾT QUẢ THỰC HIỆN"), as its overview,
    unless the report builder already rendered them from ReportInput.extra["history"]."""
    have = {b.text for b in doc.body}
    new = [Block("para", t) for t in paragraphs if t not in have]
    if not new:
        return doc
    at = next((i + 1 for i, b in enumerate(doc.body) if b.kind == "heading1" and b.text.startswith("II.")), None)
    if at is None:
        at = next((i for i, b in enumerate(doc.body) if b.kind == "heading1" and b.text.startswith("III.")),
                  max(len(doc.body) - 1, 0))
    doc.body[at:at] = new
    return doc


# ---------------------------------------------------------------- figures far from the unit's history

def history_outliers(cons: Consolidation, own: Mapping[str, History],
                     settings: HistorySettings | None = None) -> list[Finding]:
    """cảnh báo (`history-outlier`) for figures far from the unit's own history: more than
    `factor` times, or less than 1/`factor` of, the median of its earlier periods of the same kind.
    `own` maps a unit code to the figures it sent itself per period (Ledger.own_history)."""
    s = settings or HistorySettings()
    out: list[Finding] = []
    peers = _peer_values(cons)
    for code, r in cons.units.items():
        sub = r.submission
        if sub is None:
            continue
        hist = own.get(code, {})
        earlier = _earlier_same_kind(cons.period, hist)
        if len(earlier) < s.outlier_min_periods:
            # Little history yet: the same period of last year, else the unit's peers (same level)
            out.extend(_young_outliers(cons, code, sub, hist, earlier, peers, s))
            continue
        for ind in cons.catalogue.indicators:
            v = sub.values.get(ind.code)
            series = [(p.id, hist[p.id].get(ind.code)) for p in earlier]
            series = [(pid, x) for pid, x in series if x is not None]
            if v is None or len(series) < s.outlier_min_periods:
                continue
            med = statistics.median(x for _, x in series)
            if med < s.outlier_min_median:
                continue
            if v > s.outlier_factor * med:
                compared = f"gấp {figure_text(round(v / med, 1))} lần"
                cause = "gõ thừa chữ số hoặc nhầm đơn vị tính"
            elif v * s.outlier_factor < med:
                compared = f"chỉ bằng {vn.ty_le(v, med) or '0%'}"
                cause = "gõ thiếu chữ số hoặc bỏ sót số liệu"
            else:
                continue
            out.append(finding(
                "history-outlier", file=sub.source, unit=code, indicator=ind.code,
                cell=sub.cells.get(ind.code, ""), label=ind.label, value=figure_text(v), compared=compared,
                median=figure_text(med), periods=len(series),
                history="; ".join(f"{pid}: {figure_text(x)}" for pid, x in series), cause=cause))
    return out


def _peer_values(cons: Consolidation) -> dict[tuple[str, str], list[tuple[str, float]]]:
    """(level, indicator) -> [(unit, its own figure)] over the units that sent a report: a unit's
    peers are the units of its level (its `level` label, else its depth in the tree)."""
    out: dict[tuple[str, str], list[tuple[str, float]]] = {}
    for code, r in cons.units.items():
        sub = r.submission
        if sub is None or sub.is_total:
            continue
        level = r.level or f"cấp {r.depth}"
        for c in cons.catalogue.codes:
            v = sub.values.get(c)
            if v is not None:
                out.setdefault((level, c), []).append((code, v))
    return out


def _young_outliers(cons: Consolidation, code: str, sub, hist: History, earlier: list[Period],
                    peers, s: HistorySettings) -> list[Finding]:
    """Outliers while a unit has fewer earlier periods than `outlier_min_periods`: against the same
    period of last year when the ledger has it, otherwise against the median of its peers, with a
    wider margin (units of one level differ in size)."""
    out: list[Finding] = []
    r = cons.units[code]
    last_year = next((p for p in reversed(earlier) if p.start.replace(year=p.start.year + 1) == cons.period.start),
                     None)
    for ind in cons.catalogue.indicators:
        v = sub.values.get(ind.code)
        if v is None:
            continue
        loc = dict(file=sub.source, unit=code, indicator=ind.code, cell=sub.cells.get(ind.code, ""), label=ind.label,
                   value=figure_text(v))
        if last_year is not None:
            before = hist[last_year.id].get(ind.code)
            if before is None or before < s.outlier_min_median:
                continue
            compared = _far(v, before, s.outlier_factor)
            if compared:
                out.append(finding("outlier-last-year", **loc, compared=compared, before=figure_text(before),
                                   previous=last_year.label))
            continue
        others = [x for u, x in peers.get((r.level or f"cấp {r.depth}", ind.code), []) if u != code]
        if len(others) < s.peer_min_units:
            continue
        med = statistics.median(others)
        if med < s.outlier_min_median:
            continue
        # only far above: a typo adds digits; a unit doing less than its peers is no mistake
        compared = _far(v, med, s.peer_factor) if v > med else ""
        if compared:
            out.append(finding("outlier-peers", **loc, compared=compared, median=figure_text(med), peers=len(others),
                               level=r.level or "cùng cấp"))
    return out


def _far(v: float, base: float, factor: float) -> str:
    """"gấp 12,5 lần" / "chỉ bằng 4%" when `v` is more than `factor` times from `base`, else ""."""
    if v > factor * base:
        return f"gấp {figure_text(round(v / base, 1))} lần"
    if v * factor < base:
        return f"chỉ bằng {vn.ty_le(v, base) or '0%'}"
    return ""


def add_outliers(cons: Consolidation, ledger, settings: HistorySettings | None = None) -> int:
    """Add the outlier cảnh báo of every unit that sent a report, its history (with its
    predecessors') read from `ledger` (a `batn.ledger.Ledger`); returns how many were added.
    The one place the scheduled run and `batn consolidate --ledger` do it."""
    own = {c: ledger.own_history(c, also=cons.tree.predecessors(c))
           for c, r in cons.units.items() if r.submission is not None}
    found = history_outliers(cons, own, settings)
    for f in found:
        cons.findings.append(f)
        cons.units[f.unit].warnings += 1
    return len(found)
