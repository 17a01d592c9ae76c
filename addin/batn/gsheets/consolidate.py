"""The Google consolidation run: read every spreadsheet, roll up with the pipeline, write back.

For one shared spreadsheet a run makes five requests (spreadsheets.get, values.batchGet, a
spreadsheets.get of the input cells' notes, spreadsheets.batchUpdate, values.batchUpdate) whatever
the number of units. With one spreadsheet per unit it makes three reads and two writes per
spreadsheet; the first spreadsheet given also
receives the status and consolidated tabs and every finding.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable

from ..model import Catalogue, Period, UnitTree
from ..rollup import Consolidation, consolidate
from .auth import Connection, google_errors, spreadsheet_key
from .read import SheetRead, read_spreadsheet
from .write import WritePlan, apply_plan, plan_write_back


@dataclass
class GoogleRun:
    consolidation: Consolidation
    reads: list[SheetRead]
    plans: list[WritePlan] = field(default_factory=list)
    root: str = ""
    requests: int = 0           # counted by the HTTP client, retries included


def common_ancestor(tree: UnitTree, codes: Iterable[str]) -> str | None:
    chains = []
    for code in codes:
        if code not in tree:
            continue
        chain = [code]
        while tree[chain[-1]].parent:
            chain.append(tree[chain[-1]].parent)  # type: ignore[arg-type]
        chains.append(chain[::-1])
    if not chains:
        return None
    common = None
    for level in zip(*chains):
        if len(set(level)) != 1:
            break
        common = level[0]
    return common


def infer_root(reads: list[SheetRead], tree: UnitTree, given: str | None = None) -> str:
    """The consolidating unit: given, else written by setup in the guide tab, else the nearest
    unit above every unit found in the spreadsheets."""
    if given:
        if given not in tree:
            raise KeyError(f"Mã đơn vị '{given}' không có trong danh sách đơn vị")
        return given
    guides = {r.guide.root for r in reads if r.guide and r.guide.root in tree}
    if len(guides) == 1:
        return guides.pop()
    if guides:
        return common_ancestor(tree, guides) or tree.root
    parents = set()
    for r in reads:
        for code in [*r.unit_tabs, *r.unit_rows]:
            if code in tree:
                parents.add(tree[code].parent or code)
    return common_ancestor(tree, parents) or tree.root


def consolidate_spreadsheets(conn: Connection, refs: Iterable[str], tree: UnitTree, catalogue: Catalogue,
                             period: Period, *, root: str | None = None, write_back: bool = True,
                             as_of: datetime | None = None) -> GoogleRun:
    keys = list(dict.fromkeys(spreadsheet_key(r) for r in refs))
    if not keys:
        raise ValueError("Cần ít nhất một bảng tính (mã hoặc đường liên kết)")
    reads = []
    for key in keys:
        with google_errors(key, conn.account, conn.kind):
            reads.append(read_spreadsheet(conn.http, key, catalogue))
    root = infer_root(reads, tree, root)
    subs = [s for r in reads for s in r.submissions]
    cons = consolidate(subs, tree, catalogue, period, root=root, as_of=as_of)
    run = GoogleRun(cons, reads, root=root)
    if write_back:
        for i, r in enumerate(reads):
            plan = plan_write_back(r, cons, summary=(i == 0), tree=tree)
            with google_errors(r.info.key, conn.account, conn.kind):
                apply_plan(conn.http, plan)
            run.plans.append(plan)
    run.requests = conn.counter.total
    return run
