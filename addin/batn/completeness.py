"""Who sent what, per sub-tree: the "x/y" of every intermediate unit (the status table, the cover
of a consolidated workbook, the charts), and the groups a chart shows (the direct sub-units).

A unit's sub-tree counts the units expected to report in it (itself included when it is expected,
as in `Consolidation.expected`), so the root's figures are the consolidation's own "29/30".
Plain logic over a `Consolidation`: no spreadsheet library here."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time

from .rollup import AWAITING, HAS_ERRORS, LATE, MISSING, SENT, Consolidation, UnitResult
from .vn import ty_le

ON_TIME = "đúng hạn"          # a status bucket of the charts: sent, on time, no lỗi
STATUS_BUCKETS = (ON_TIME, LATE, HAS_ERRORS, MISSING)     # the chart's series, in this order
OTHERS = "Các đơn vị khác"


@dataclass(slots=True)
class Tally:
    """Units expected to report in a sub-tree, by what they did."""

    expected: int = 0
    on_time: int = 0        # sent, on time, no lỗi
    late: int = 0           # sent after the deadline, no lỗi
    errors: int = 0         # sent with lỗi (on time or not)
    errors_late: int = 0    # of those, sent after the deadline
    missing: int = 0

    @property
    def sent(self) -> int:
        return self.expected - self.missing

    @property
    def in_time(self) -> int:
        """Sent by the deadline, whatever the figures' lỗi."""
        return self.on_time + self.errors - self.errors_late

    def count(self, r: UnitResult) -> None:
        if r.status == SENT:
            self.on_time += 1
        elif r.status == LATE:
            self.late += 1
        elif r.status == HAS_ERRORS:
            self.errors += 1
            self.errors_late += is_late(r)
        elif r.status == MISSING:
            self.missing += 1
        elif r.status == AWAITING:          # sent, held back until approved (only approved reports count)
            self.on_time += 1
        else:              # the consolidating unit, units covered by a total: not expected
            return
        self.expected += 1

    def merge(self, other: "Tally") -> None:
        for f in ("expected", "on_time", "late", "errors", "errors_late", "missing"):
            setattr(self, f, getattr(self, f) + getattr(other, f))

    def bucket(self, name: str) -> int:
        return {ON_TIME: self.on_time, LATE: self.late, HAS_ERRORS: self.errors, MISSING: self.missing}[name]


def is_late(r: UnitResult) -> bool:
    sub = r.newest_file
    return bool(sub and r.deadline and sub.received
                and datetime.fromtimestamp(sub.received) > datetime.combine(r.deadline, time.max))


def rate(x: int, y: int) -> str:
    """"4/5 (80%)": never read as a date by a spreadsheet, unlike "4/5"."""
    return f"{x}/{y} ({ty_le(x, y, decimals=0)})" if y else ""


def subtree_tallies(cons: Consolidation) -> dict[str, Tally]:
    """The tally of every unit that has units under it, keyed by code (leaves are left out: a
    national tree holds a tally for each of its few thousand intermediate units, not 10⁵)."""
    out: dict[str, Tally] = {}
    children = cons.tree.children
    for code in reversed(list(cons.units)):          # tree order reversed: children first
        kids = children[code]
        if not kids:
            continue
        t = Tally()
        t.count(cons.units[code])
        for k in kids:
            if k in out:
                t.merge(out[k])
            else:
                t.count(cons.units[k])
        out[code] = t
    return out


def completeness_line(cons: Consolidation, tally: Tally | None = None, names: int = 5) -> str:
    """The line a leader reads first: "Đã nhận báo cáo của 29/30 đơn vị (26 đúng hạn, 1 nộp muộn,
    2 có lỗi); chưa nộp: Chi đoàn khu phố Đông Xuyên." Up to `names` missing units are named."""
    t = tally or _root_tally(cons)
    if not t.expected:
        return "Không có đơn vị nào phải gửi báo cáo."
    parts = [f"{t.on_time} đúng hạn"] + [f"{n} {what}" for n, what in ((t.late, "nộp muộn"), (t.errors, "có lỗi")) if n]
    line = f"Đã nhận báo cáo của {t.sent}/{t.expected} đơn vị ({', '.join(parts)})"
    if t.missing:
        missing = [r.name for r in cons.units.values() if r.status == MISSING]
        shown = ", ".join(missing[:names]) + (f" và {len(missing) - names} đơn vị khác" if len(missing) > names else "")
        line += f"; chưa nộp ({t.missing}): {shown}"
    return line + "."


def _root_tally(cons: Consolidation) -> Tally:
    t = Tally()
    for r in cons.units.values():
        t.count(r)
    return t


@dataclass
class Group:
    """One bar of a chart: a direct sub-unit with its sub-tree, or the rest put together."""

    name: str
    codes: list[str]                    # the sub-units it stands for
    tally: Tally = field(default_factory=Tally)
    totals: dict[str, float | int | None] = field(default_factory=dict)
    rest: bool = False                  # "Các đơn vị khác": a sum of many, not drawn beside single units' figures

    @property
    def label(self) -> str:
        """The bar's name with its x/y: "Đoàn phường Rạch Giá (4/5)"."""
        return f"{self.name} ({self.tally.sent}/{self.tally.expected})" if self.tally.expected else self.name


def chart_root(cons: Consolidation) -> str:
    """Where the direct sub-units are looked for: the root, or down a chain of single children
    (a province whose only sub-unit is one Đoàn khối shows that Đoàn khối's units)."""
    code, children = cons.tree.root, cons.tree.children
    while len(children[code]) == 1 and children[children[code][0]]:
        code = children[code][0]
    return code


def chart_groups(cons: Consolidation, max_groups: int = 12,
                 tallies: dict[str, Tally] | None = None) -> list[Group]:
    """The direct sub-units, each with its sub-tree's tally and totals, in tree order; beyond
    `max_groups`, the largest sub-trees stay and the rest become one group "Các đơn vị khác"."""
    tallies = tallies if tallies is not None else subtree_tallies(cons)
    codes = cons.catalogue.codes
    groups = []
    for code in cons.tree.children[chart_root(cons)]:
        r = cons.units[code]
        if code in tallies:
            t = tallies[code]
        else:
            t = Tally()
            t.count(r)
        groups.append(Group(r.name, [code], t, {c: r.totals.get(c) for c in codes}))
    if len(groups) <= max_groups:
        return groups
    keep = set(sorted(range(len(groups)), key=lambda i: -groups[i].tally.expected)[:max_groups - 1])
    rest = [g for i, g in enumerate(groups) if i not in keep]
    other = Group(f"{OTHERS} ({len(rest)})", [c for g in rest for c in g.codes], rest=True)
    for g in rest:
        other.tally.merge(g.tally)
        for c in codes:
            v = g.totals.get(c)
            if v is not None:
                other.totals[c] = (other.totals.get(c) or 0) + v
    return [g for i, g in enumerate(groups) if i in keep] + [other]
