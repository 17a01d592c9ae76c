"""The review loop between levels (issue 17): the level above sends a unit's report back with its
reasons ("trả lại"), receives the corrected one, and approves it ("duyệt") before its figures count
in its own report.

Logic only: the decisions are events in the ledger (who, when, why, about which file); a unit's
state is derived from them and from the newest file it sent:

    chưa nộp → đã nhận → cần sửa (trả lại) → đã nhận bản sửa → đã duyệt
                                           └→ bản sửa sau khi duyệt (a newer file after approval)

Approved figures are never replaced silently: while a newer file waits for approval, the
consolidation keeps using the approved one (`approved_files`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from .textsafe import shown

__all__ = ["SEND_BACK", "APPROVE", "MISSING", "RECEIVED", "SENT_BACK", "RESUBMITTED", "APPROVED",
           "CHANGED_AFTER_APPROVAL", "ReviewEvent", "Review", "review_of", "reviews_by_unit", "approved_files",
           "STATE_ORDER", "REVIEW_NAMES", "standing_approvals", "review_consolidation", "review_counts",
           "Newest", "newest_files", "decisions"]

# What the level above does
SEND_BACK, APPROVE = "trả lại", "duyệt"

# What a unit's report is, for the level above
MISSING = "chưa nộp"
RECEIVED = "đã nhận"
SENT_BACK = "cần sửa"
RESUBMITTED = "đã nhận bản sửa"
APPROVED = "đã duyệt"
CHANGED_AFTER_APPROVAL = "bản sửa sau khi duyệt"
STATE_ORDER = (APPROVED, RECEIVED, RESUBMITTED, CHANGED_AFTER_APPROVAL, SENT_BACK, MISSING)
# The counts a consolidated workbook carries upward (defined names), so the level above, and the
# report written from the workbook, know how many of the units' reports were approved.
REVIEW_NAMES = (("BATN_APPROVED", (APPROVED,)), ("BATN_WAITING", (RECEIVED, RESUBMITTED, CHANGED_AFTER_APPROVAL)),
                ("BATN_SENT_BACK", (SENT_BACK,)))


@dataclass(frozen=True)
class ReviewEvent:
    period: str
    unit: str
    action: str          # SEND_BACK or APPROVE
    sha256: str          # the file the decision is about
    reason: str = ""
    who: str = ""
    at: str = ""         # ISO time


@dataclass(frozen=True)
class Review:
    unit: str
    state: str
    approved_sha: str | None        # the approved file's SHA-256 while an approval stands
    last: ReviewEvent | None = None

    @property
    def waiting(self) -> bool:
        """Received and not yet decided on (a first file, a corrected one, a change after approval)."""
        return self.state in (RECEIVED, RESUBMITTED, CHANGED_AFTER_APPROVAL)


def review_of(unit: str, newest_sha: str | None, events: Iterable[ReviewEvent]) -> Review:
    """A unit's state from the newest file it sent (None: nothing yet) and the decisions made on
    its files, oldest first."""
    events = list(events)
    last = events[-1] if events else None
    approval = next((e for e in reversed(events) if e.action == APPROVE), None)
    # an approval stands until the same or a later decision sends the report back
    standing = approval if approval is not None and last is approval else None
    if newest_sha is None:
        return Review(unit, MISSING, standing.sha256 if standing else None, last)
    if last is None:
        return Review(unit, RECEIVED, None, None)
    if last.action == APPROVE:
        state = APPROVED if newest_sha == last.sha256 else CHANGED_AFTER_APPROVAL
        return Review(unit, state, last.sha256, last)
    state = SENT_BACK if newest_sha == last.sha256 else RESUBMITTED
    return Review(unit, state, None, last)


def reviews_by_unit(newest: Mapping[str, str | None], events: Iterable[ReviewEvent]) -> dict[str, Review]:
    """Every unit's review: `newest` maps a unit to the SHA-256 of its newest file (None: none)."""
    by_unit: dict[str, list[ReviewEvent]] = {}
    for e in events:
        by_unit.setdefault(e.unit, []).append(e)
    return {u: review_of(u, sha, by_unit.get(u, ())) for u, sha in newest.items()}


def approved_files(reviews: Mapping[str, Review]) -> dict[str, str]:
    """unit -> the SHA-256 of its approved file, for the units whose approval stands."""
    return {u: r.approved_sha for u, r in reviews.items() if r.approved_sha}


def standing_approvals(events: Iterable[ReviewEvent]) -> dict[str, str]:
    """unit -> SHA-256 of the file approved by its last decision (a later send-back withdraws it)."""
    last: dict[str, ReviewEvent] = {}
    for e in events:
        last[e.unit] = e
    return {u: e.sha256 for u, e in last.items() if e.action == APPROVE}


@dataclass(frozen=True)
class Newest:
    """A unit's newest file, the one a decision is about: from the ledger (`batn run`) or from a
    consolidation of the inbox (the Excel door)."""
    unit: str
    sha256: str
    source: str
    errors: int          # lỗi found reading and checking it


def newest_files(cons) -> dict[str, Newest]:
    """unit -> its newest file among those of this consolidation (the one used, or a newer one held)."""
    from .model import Severity

    out = {}
    for code, r in cons.units.items():
        files = [s for s in (r.submission, *r.ignored, *r.held) if s is not None]
        if files:
            s = max(files, key=lambda s: (s.received, s.source))
            out[code] = Newest(code, s.sha256, s.source, sum(f.severity == Severity.ERROR for f in s.findings))
    return out


def review_consolidation(cons, events: Iterable[ReviewEvent]) -> dict[str, Review]:
    """Each unit's review against the files of this consolidation (its newest one among them),
    stored in `cons.reviews` for the tables, the workbook and the report."""
    by_unit: dict[str, list[ReviewEvent]] = {}
    for e in events:
        by_unit.setdefault(e.unit, []).append(e)
    newest = newest_files(cons)
    out = {}
    for code in cons.units:
        out[code] = review_of(code, newest[code].sha256 if code in newest else None, by_unit.get(code, ()))
    cons.reviews = out
    return out


def decisions(action: str, units: Iterable[str], newest: Mapping[str, Newest], events: Iterable[ReviewEvent],
              period: str, *, all_clean: bool = False, where: str = "") -> tuple[list[Newest], list[str]]:
    """Which files a decision (SEND_BACK or APPROVE) is recorded on, and why the others cannot be:
    the rule every door follows (`batn tra-lai`/`batn duyet`, the Excel buttons).

    A decision is about a unit's newest file; a report with lỗi cannot be approved; `all_clean`
    (approve in bulk) takes every unit whose newest file has no lỗi, except those already approved
    and those sent back that have not come back corrected. `where` ends the "nothing received"
    message (" trong sổ theo dõi")."""
    units = list(units)
    if all_clean:
        state = reviews_by_unit({u: n.sha256 for u, n in newest.items()}, events)
        units = [u for u, n in newest.items() if n.errors == 0 and state[u].state not in (APPROVED, SENT_BACK)]
    chosen, problems = [], []
    for unit in dict.fromkeys(units):
        n = newest.get(unit)
        if n is None:
            problems.append(f"{unit}: chưa có báo cáo kỳ {period}{where}")
        elif action == APPROVE and n.errors:
            problems.append(f"{unit}: báo cáo mới nhất ({shown(n.source)}) còn {n.errors} lỗi, chưa duyệt được")
        else:
            chosen.append(n)
    return chosen, problems


def review_counts(reviews: Mapping[str, Review], expected: Iterable[str]) -> dict[str, int]:
    """How many expected units are in each state, in STATE_ORDER."""
    counts = dict.fromkeys(STATE_ORDER, 0)
    for code in expected:
        r = reviews.get(code)
        counts[r.state if r else MISSING] += 1
    return counts
