"""`batn gsheets chot`: at the deadline, lock every unit's inputs and record the cut-off.

One read (the door's reader: spreadsheets.get and values.batchGet) and one atomic
spreadsheets.batchUpdate that, together:
- sets every unit input protection ("batn: ô nhập của X", "batn: dòng nhập của X ...") to batn's
  editors only (updateProtectedRange), so the units can no longer type;
- adds the tab G.CUTOFF_TAB (protected, batn's): the cut-off time, and for each unit a digest of its
  figures then and its protections as they were.

Every later read compares each unit's figures with the digest: a difference is the finding
"edited-after-cutoff" ("sửa sau hạn"), in `batn gsheets consolidate` and in `batn run` alike.
`unlock` puts the protections back as they were and removes the tab. Both are idempotent: locking a
locked spreadsheet changes nothing, and an unknown outcome is verified by reading again.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from ..model import Catalogue
from . import layout as G
from .approval import base_description, before_approval
from .auth import Connection, google_errors, spreadsheet_key
from .quota import UncertainWrite
from .read import SheetRead, figures_digest, read_spreadsheet
from .setup import cd, protect, put_cells

_INPUT_PREFIXES = ("batn: ô nhập của ", "batn: dòng nhập của ")


@dataclass
class LockResult:
    key: str
    url: str
    locked: bool                   # the spreadsheet is locked now
    changed: bool                  # this run changed it
    at: str = ""                   # the cut-off, as shown
    units: list[str] = field(default_factory=list)
    edited_after: list[str] = field(default_factory=list)


def _unit_of(description: str) -> str:
    for p in _INPUT_PREFIXES:
        if description.startswith(p):
            return description[len(p):].split(" ")[0]
    return ""


def input_protections(read: SheetRead) -> list[dict]:
    return [pr for pr in read.info.protected if _unit_of(str(pr.get("description", "")))]


def batn_editors(read: SheetRead, account: str) -> list[str]:
    """Who edits batn's own ranges (the account and the managers given to setup): the guide's editors."""
    for pr in read.info.protected:
        if pr.get("description") == "batn: hướng dẫn" and (pr.get("editors") or {}).get("users"):
            return list(dict.fromkeys([account, *pr["editors"]["users"]]))
    return [account]


def lock_requests(read: SheetRead, conn: Connection, now: datetime) -> list[dict]:
    shown = f"{now:%H:%M %d/%m/%Y}"
    was: dict[str, dict] = {}
    requests: list[dict] = []
    batn = [u for u in batn_editors(read, conn.account) if u]
    for pr in input_protections(read):
        code = _unit_of(pr["description"])
        # keyed without the approval mark, with who typed before an approval lock (batn.gsheets.approval)
        approved = before_approval(pr["description"])
        was.setdefault(code, {})[base_description(pr["description"])] = (
            [approved[0], approved[1]] if approved is not None else
            [list((pr.get("editors") or {}).get("users", [])), bool(pr.get("warningOnly"))])
        requests.append({"updateProtectedRange": {
            "protectedRange": {"protectedRangeId": pr["protectedRangeId"], "warningOnly": False,
                               "editors": {"users": batn}},
            "fields": "warningOnly,editors"}})
    digests = {s.unit: figures_digest(s) for s in read.submissions}
    units = sorted({*read.unit_tabs, *read.unit_rows, *digests, *was})
    rows = [[cd("Chốt số liệu lúc:", bold=True), cd(shown), cd(now.isoformat(timespec="seconds"))], [],
            [cd(h, bold=True, bg=G.HEADER_FILL) for h in ("Mã đơn vị", "Số liệu lúc chốt (mã băm)",
                                                          "Quyền nhập trước khi chốt")]]
    rows += [[cd(u), cd(digests.get(u, "")), cd(json.dumps(was.get(u, {}), ensure_ascii=False))] for u in units]
    sid = max([t.sheet_id for t in read.info.tabs.values()], default=0) + 1
    requests.append({"addSheet": {"properties": {"sheetId": sid, "title": G.CUTOFF_TAB, "index": len(read.info.tabs),
                                                 "hidden": False,
                                                 "gridProperties": {"rowCount": len(rows) + 10, "columnCount": 4}}}})
    requests.append(put_cells(sid, 1, 1, [r or [cd(None)] for r in rows]))
    requests.append(protect({"sheetId": sid}, "batn: chốt số liệu", batn, locked=True))
    return requests


def unlock_requests(read: SheetRead) -> list[dict]:
    cut = read.cutoff
    assert cut is not None
    requests: list[dict] = []
    for pr in input_protections(read):
        code = _unit_of(pr["description"])
        editors, warning = cut.protections.get(code, {}).get(base_description(pr["description"]), [[], True])
        body: dict = {"protectedRangeId": pr["protectedRangeId"], "warningOnly": bool(warning)}
        if not warning:
            body["editors"] = {"users": list(editors)}
        requests.append({"updateProtectedRange": {"protectedRange": body, "fields": "warningOnly,editors"}})
    requests.append({"deleteSheet": {"sheetId": read.info.tabs[G.CUTOFF_TAB].sheet_id}})
    return requests


def lock_spreadsheet(conn: Connection, ref: str, catalogue: Catalogue, *, now: datetime | None = None,
                     unlock: bool = False) -> LockResult:
    """Lock the inputs and record the cut-off (or, with `unlock`, undo both)."""
    key = spreadsheet_key(ref)
    now = now or datetime.now()
    for attempt in range(2):
        with google_errors(key, conn.account, conn.kind):
            read = read_spreadsheet(conn.http, key, catalogue)
        cut = read.cutoff
        edited = [s.unit for s in read.submissions if any(f.kind == "edited-after-cutoff" for f in s.findings)]
        if (cut is not None) != unlock:       # already as asked: nothing to do
            return LockResult(key, read.info.url, cut is not None, attempt > 0, cut.shown if cut else "",
                              sorted(cut.digests) if cut else [], edited)
        requests = unlock_requests(read) if unlock else lock_requests(read, conn, now)
        try:
            with google_errors(key, conn.account, conn.kind):
                conn.http.batch_update(key, {"requests": requests})
        except UncertainWrite:
            if attempt:
                raise
            continue                           # read again: it went through, or it is sent once more
        if unlock:
            return LockResult(key, read.info.url, False, True, "", [], edited)
        return LockResult(key, read.info.url, True, True, f"{now:%H:%M %d/%m/%Y}",
                          sorted({*read.unit_tabs, *read.unit_rows}), [])
    raise AssertionError("unreachable")
