"""Consolidation upward through a unit tree of any depth.

Each unit's total is its own figures plus its children's totals. A unit that
sent a total for its whole subtree (a consolidated workbook, or a hand-made
total) is taken as given; when its children's files are here too, each
difference is a cảnh báo naming both figures, and the unit's own total counts.
"""
from __future__ import annotations

import sys
from types import MappingProxyType
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Iterable, Iterator, Mapping

from .checks import Expectation, check_submission
from .findings import breaks, finding
from .model import FILE_TIME, Catalogue, Figures, Finding, Narratives, Period, Severity, Submission, TextSpool, UnitTree

SENT = "đã nộp"
MISSING = "chưa nộp"
HAS_ERRORS = "có lỗi"
LATE = "nộp muộn"
COVERED = "có trong số tổng hợp của cấp trên"
ROOT = "đơn vị tổng hợp"
OWN_TOTAL = ("đây là tệp tổng hợp của chính đơn vị đang tổng hợp (kết quả một lần tổng hợp trước), "
             "không phải báo cáo của đơn vị cấp dưới; hãy lưu tệp tổng hợp ra ngoài hộp thư")
AWAITING = "chờ duyệt"          # only approved reports count, and this unit's is not approved yet


@dataclass(slots=True)
class UnitResult:
    code: str
    name: str
    depth: int
    level: str
    status: str
    submission: Submission | None = None
    ignored: tuple[Submission, ...] = ()     # older duplicate files (a tuple: most units share the empty one)
    held: tuple[Submission, ...] = ()        # its files held back until approved (only approved reports count)
    totals: Mapping[str, float | int | None] = field(default_factory=dict)   # a Figures once rolled up
    errors: int = 0
    warnings: int = 0
    deadline: date | None = None

    @property
    def newest_file(self) -> Submission | None:
        """The file this unit's row speaks of: the one used, else the one held back for approval."""
        return self.submission if self.submission is not None else (self.held[0] if self.held else None)


@dataclass
class Consolidation:
    catalogue: Catalogue
    period: Period
    tree: UnitTree                      # the subtree being consolidated
    units: dict[str, UnitResult]        # in tree order (parent before children)
    findings: list[Finding]
    as_of: datetime
    inbox: str = ""                     # the folder the files were read from: tables name files relative to it
    reviews: dict = field(default_factory=dict)   # unit -> batn.review.Review, when a ledger is at hand

    @property
    def narratives(self) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
        """List key -> (unit name, row) over the tree; a unit's sent total carries its subtree's
        rows. Built at each call from the units' packed rows, so that the consolidation does not
        hold every unit's text twice: take it once per use."""
        return _narratives(self.units, self.tree, self.catalogue)

    def iter_narratives(self, key: str) -> Iterator[tuple[str, tuple[str, ...]]]:
        """(unit name, row) of one list, as `narratives[key]` gives them, decoded one unit at a
        time: a writer can stream a national list without holding it."""
        for name, narratives in _narrative_senders(self.units, self.tree):
            for row in narratives.get(key) or ():
                yield name, row

    def narrative_counts(self) -> dict[str, int]:
        """How many rows `iter_narratives` gives for each list, in one pass (one decoding a unit)."""
        counts = dict.fromkeys((nl.key for nl in self.catalogue.narratives), 0)
        for _, narratives in _narrative_senders(self.units, self.tree):
            for key, rows in narratives.items():
                counts[key] = counts.get(key, 0) + len(rows)
        return counts

    @property
    def root(self) -> UnitResult:
        return self.units[self.tree.root]

    @property
    def totals(self) -> dict[str, float | int | None]:
        """The root's totals as a plain dict (JSON-ready)."""
        return dict(self.root.totals)

    @property
    def expected(self) -> list[UnitResult]:
        """Units expected to send a report: all but the consolidating unit and those covered by a total."""
        return [u for u in self.units.values() if u.status not in (ROOT, COVERED)]

    @property
    def sent(self) -> list[UnitResult]:
        return [u for u in self.expected if u.status != MISSING]


def keep_for_rollup(sub: Submission, catalogue: Catalogue, spool: TextSpool | None = None) -> Submission:
    """A read and checked submission as the roll-up keeps it until the tables are written: its
    figures packed (`Figures`), its repeated strings shared, its narrative text packed and, with
    a `spool`, moved to disk. A 10,000-unit consolidation then holds about a tenth of what the
    submissions weighed as read."""
    index = catalogue.code_index
    if isinstance(sub.values, Figures) and sub.values.layout == index:   # one dict compare, in C
        sub.values = sub.values.with_index(index)
    else:
        sub.values = Figures.pack(index, sub.values)
    sub.unit, sub.period, sub.catalogue = sys.intern(sub.unit), sys.intern(sub.period), sys.intern(sub.catalogue)
    # What reading left empty is shared and read-only from here on (nothing writes a submission
    # once it is read and checked; a write would fail loudly rather than change every unit).
    if not sub.cells:
        sub.cells = _EMPTY            # type: ignore[assignment]
    if not sub.labels:
        sub.labels = _EMPTY           # type: ignore[assignment]
    if not sub.meta_cells:
        sub.meta_cells = _EMPTY       # type: ignore[assignment]
    if not sub.narratives:
        sub.narratives = _EMPTY       # type: ignore[assignment]
    else:
        packed = sub.narratives if isinstance(sub.narratives, Narratives) else Narratives.pack(sub.narratives)
        sub.narratives = packed.spooled(spool) if spool is not None else packed   # type: ignore[assignment]
    if not sub.sheets:
        sub.sheets = ()               # type: ignore[assignment]
    if not sub.findings:
        sub.findings = ()             # type: ignore[assignment]
    return sub


_EMPTY: Mapping = MappingProxyType({})


def _add(a: float | int | None, b: float | int | None) -> float | int | None:
    if a is None:
        return b
    if b is None:
        return a
    s = a + b
    # Figures are read under their ceilings, so no sum of a national tree comes near overflowing;
    # should a float sum still be infinite, the total is left blank rather than written as "inf".
    return s if s - s == 0 else None


def _usable(sub: Submission, catalogue: Catalogue) -> dict[str, float | int | None]:
    """Figures that count: unreadable cells are already None; negative, fractional or implausible
    ones (above the catalogue's ceiling), and those read through a name moved onto another
    indicator's row, are left out."""
    bad = _left_out(sub)
    return {c: (None if c in bad else sub.values.get(c)) for c in catalogue.codes}


_NOT_SUMMED = frozenset({"negative", "fractional", "implausible-value", "name-moved"})


def _left_out(sub: Submission) -> set[str]:
    return {f.indicator for f in sub.findings if f.kind in _NOT_SUMMED}


def pick_submissions(subs: Iterable[Submission], tree: UnitTree, root: str,
                     former: frozenset[int] = frozenset(), approved: Mapping[str, str] | None = None
                     ) -> tuple[dict[str, list[Submission]], list[Finding]]:
    """Group readable submissions by unit code, newest first; report files for units outside the subtree.
    `former`: ids of submissions sent under a former code; the successor's own file, when there is
    one, is preferred to them whatever their times (it speaks for the merged unit).
    `approved`: unit -> SHA-256 of its approved file (batn.review): that file stays in use while a
    newer one waits for approval."""
    approved = approved or {}
    inside = set(tree.walk(root)) if root in tree else set()
    by_unit: dict[str, list[Submission]] = {}
    notes: list[Finding] = []
    for s in subs:
        if not s.unit:
            continue
        if s.unit in tree and s.unit not in inside:
            notes.append(finding("outside-tree", file=s.source, unit=s.unit, found=s.unit, root=tree[root].name))
            continue
        if s.unit in inside:
            by_unit.setdefault(s.unit, []).append(s)
    for code, lst in by_unit.items():
        ok = approved.get(code)
        lst.sort(key=lambda s: (s.sha256 == ok, id(s) not in former, s.received, s.source), reverse=True)
        if len(lst) < 2:
            continue
        if ok and lst[0].sha256 == ok:
            newer = [s for s in lst[1:] if s.received >= lst[0].received]
            if newer:
                notes.append(finding("changed-after-approval", file=newer[0].source, unit=code, used=lst[0].source,
                                     newer=", ".join(s.source for s in newer)))
                continue
        # A newer file that cannot be used (broken structure, error values or words where figures
        # belong) never erases the unit's earlier valid one: that one stands, and both are named.
        good = next((i for i, s in enumerate(lst) if not broken(s)), 0)
        if good:
            used = lst.pop(good)
            lst.insert(0, used)
            newer = lst[1:good + 1]
            notes.append(finding("newer-file-broken", file=used.source, unit=code, used=used.source,
                                 newer=", ".join(s.source for s in newer),
                                 why=next(f.message for f in newer[0].findings if breaks(f))))
        else:
            notes.append(finding("duplicate-unit", file=lst[0].source, unit=code, count=len(lst),
                                 which="mang mã của chính đơn vị" if any(id(s) in former for s in lst) else "mới nhất",
                                 used=lst[0].source, ignored=", ".join(s.source for s in lst[1:])))
    return by_unit, notes


def broken(sub: Submission) -> bool:
    """A submission whose figures cannot be trusted as a whole (see `breaks` in messages.yaml)."""
    return any(breaks(f) for f in sub.findings)


def _since(u) -> str:
    from .periods import parse_period

    try:
        return f" từ {parse_period(u.merged_from).label}" if u.merged_from else ""
    except ValueError:
        return ""


def expectation_for(tree: UnitTree, catalogue: Catalogue, period: Period) -> Expectation:
    return Expectation(period=period.id, catalogue=catalogue.id, units=tree.at(period))


def consolidate(submissions: Iterable[Submission], tree: UnitTree, catalogue: Catalogue, period: Period,
                root: str | None = None, as_of: datetime | None = None, checked: bool = False,
                approved: Mapping[str, str] | None = None, approved_only: bool = False) -> Consolidation:
    """Roll the tree up. `checked=True` when each submission's findings already hold the checks
    against `expectation_for(tree, catalogue, period)` (files read and checked in worker processes).
    `approved`: unit -> SHA-256 of its approved file (batn.review); `approved_only`: only approved
    files count, a unit whose file waits for approval is "chờ duyệt" (the final consolidation)."""
    tree = tree.at(period)              # the units as they stood in that period (merges since undone)
    root = root or tree.root
    sub_tree = tree if root == tree.root else tree.subtree(root)   # no copy of a national tree
    expect = expectation_for(tree, catalogue, period)
    all_subs = list(submissions)
    findings: list[Finding] = []
    for s in all_subs:
        if not checked:
            s.findings = check_submission(s, catalogue, expect)
        findings.extend(s.findings)
    # A file for the wrong period or catalogue is reported but never summed.
    # A file with a unit code but a broken sheet still takes part: a valid earlier file of the unit
    # then stands (pick_submissions); a file with no unit code is never anyone's.
    wrong = {"wrong-period", "wrong-catalogue", "unknown-unit", "not-a-template", "skipped-file"}
    usable = [s for s in all_subs if not any(f.kind in wrong for f in s.findings)]
    # A consolidated workbook of the consolidating unit itself beside the reports of units under it: an
    # earlier run's output saved into the inbox, never a report sent up to it. Alone (the level above
    # consolidating one district with --root), it is that district's report, taken as given.
    below = set(sub_tree.walk(root)[1:])
    if any(s.unit in below for s in usable):
        for s in usable:
            if s.unit == root and s.is_total:
                findings.append(finding("skipped-file", file=s.source, reason=OWN_TOTAL))
        usable = [s for s in usable if not (s.unit == root and s.is_total)]
    former: set[int] = set()
    for s in usable:
        if s.unit in tree.former:           # sent under a former code: it counts for the successor
            now = tree.successor(s.unit)
            findings.append(finding("former-unit", file=s.source, unit=now, found=s.unit, successor=now,
                                    name=tree[now].name, since=_since(tree.former[s.unit])))
            s.unit = now
            former.add(id(s))
    by_unit, notes = pick_submissions(usable, tree, root, frozenset(former), approved)
    findings.extend(notes)
    held: dict[str, list[Submission]] = {}      # not summed, but still the unit's files: its review, its lỗi
    if approved_only:
        for code in list(by_unit):
            if (approved or {}).get(code) != by_unit[code][0].sha256:
                held[code] = by_unit.pop(code)

    units: dict[str, UnitResult] = {}
    for code in sub_tree.walk():
        u = tree[code]
        subs = by_unit.get(code, [])
        r = UnitResult(code, u.name, sub_tree.depth(code), u.level, MISSING,
                       submission=subs[0] if subs else None, ignored=tuple(subs[1:]),
                       held=tuple(held.get(code, ())), deadline=period.deadline_for(u.level))
        if r.submission:
            r.errors = sum(f.severity == Severity.ERROR for f in r.submission.findings)
            r.warnings = sum(f.severity == Severity.WARNING for f in r.submission.findings)
        units[code] = r

    def has_files_below(code: str) -> bool:
        return any(units[c].submission for c in sub_tree.walk(code) if c != code)

    # Bottom-up: children before parents.
    index, codes = catalogue.code_index, catalogue.codes
    for code in reversed(sub_tree.walk()):
        r = units[code]
        kids = sub_tree.children[code]
        children_sum: dict[str, float | int | None] = dict.fromkeys(codes) if kids else {}
        for k in kids:
            kt = units[k].totals
            for c in codes:
                children_sum[c] = _add(children_sum[c], kt.get(c))
        sub = r.submission
        if sub is not None and sub.is_total and kids:
            r.totals = Figures.pack(index, _usable(sub, catalogue))
            if has_files_below(code):
                for c in catalogue.codes:
                    sent, computed = r.totals.get(c), children_sum.get(c)
                    if (sent or 0) != (computed or 0):
                        findings.append(finding("total-mismatch", file=sub.source, unit=code, indicator=c,
                                                cell=sub.cells.get(c, ""), label=catalogue[c].label,
                                                sent=sent if sent is not None else "(trống)",
                                                computed=computed if computed is not None else "(trống)"))
            else:
                for c in sub_tree.walk(code)[1:]:
                    units[c].status = COVERED
        else:
            if not kids and sub is not None and isinstance(sub.values, Figures) and not _left_out(sub):
                r.totals = sub.values      # a unit without children: its totals are its figures (shared)
                continue
            own = _usable(sub, catalogue) if sub is not None else {}
            r.totals = Figures.pack(index, {c: _add(own.get(c), children_sum.get(c)) for c in codes})

    if as_of is None:     # the data's time: the newest file used (its save time), not this computer's clock
        times = [r.submission.received for r in units.values() if r.submission is not None and r.submission.received]
        as_of = datetime.fromtimestamp(int(max(times))) if times else datetime.now()
    # Files whose only time is the file system's, all with the same one: the inbox was copied or
    # unpacked at once, and that time says nothing of when each unit sent its report.
    guessed = [r.submission.received for r in units.values()
               if r.submission is not None and r.submission.received_from == FILE_TIME]
    same_time = len(guessed) > 1 and len(set(guessed)) == 1
    if same_time:
        findings.append(finding("received-times-equal", received=f"{datetime.fromtimestamp(guessed[0]):%H:%M %d/%m/%Y}"))
    for code, r in units.items():
        if code == sub_tree.root and r.status != COVERED:
            r.status = ROOT if r.submission is None else SENT
        if r.status == COVERED or r.submission is None:
            continue
        if r.submission.received_from == FILE_TIME and (r.deadline or r.ignored) and not same_time:
            findings.append(finding("received-time-guessed", file=r.submission.source, unit=code,
                                    received=f"{datetime.fromtimestamp(r.submission.received):%H:%M %d/%m/%Y}"))
        if r.errors:
            r.status = HAS_ERRORS
        elif r.deadline and not (same_time and r.submission.received_from == FILE_TIME) \
                and datetime.fromtimestamp(r.submission.received) > datetime.combine(r.deadline, time.max):
            r.status = LATE
            findings.append(finding("late", file=r.submission.source, unit=code,
                                    received=f"{datetime.fromtimestamp(r.submission.received):%H:%M %d/%m/%Y}",
                                    deadline=f"{r.deadline:%d/%m/%Y}"))
        else:
            r.status = SENT
    if units[sub_tree.root].submission is None:
        units[sub_tree.root].status = ROOT
    for r in units.values():
        if r.status == MISSING and r.held:
            newest = r.held[0]
            r.errors = sum(f.severity == Severity.ERROR for f in newest.findings)
            r.warnings = sum(f.severity == Severity.WARNING for f in newest.findings)
            if r.errors:              # it cannot be approved before it is corrected: the unit is reminded
                r.status = HAS_ERRORS
            else:
                r.status = AWAITING
                findings.append(finding("awaiting-approval", unit=r.code))
        elif r.status == MISSING:
            findings.append(finding("missing-unit", unit=r.code))

    return Consolidation(catalogue, period, sub_tree, units, findings, as_of)


def _narrative_senders(units: dict[str, UnitResult], tree: UnitTree) -> Iterator[tuple[str, Mapping]]:
    """(unit name, its narratives) in tree order; a unit's sent total carries its subtree's rows,
    so the units below it are passed over."""
    skip: set[str] = set()
    for code in tree.walk():
        if code in skip:
            continue
        r = units[code]
        sub = r.submission
        if sub is None:
            continue
        if sub.is_total and tree.children[code]:
            skip.update(tree.walk(code)[1:])
        yield r.name, sub.narratives


def _narratives(units: dict[str, UnitResult], tree: UnitTree, catalogue: Catalogue):
    """Narrative rows with the unit's name attached; a unit's sent total carries its subtree's rows."""
    out: dict[str, list[tuple[str, tuple[str, ...]]]] = {nl.key: [] for nl in catalogue.narratives}
    for name, narratives in _narrative_senders(units, tree):
        for key, rows in narratives.items():
            for row in rows:
                out.setdefault(key, []).append((name, row))
    return out
