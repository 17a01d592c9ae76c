"""The review loop on the shared spreadsheet (issue 17): a unit's inputs are locked while the approval
of its report stands, and unlocked when it is sent back.

The decisions are the ledger's (`batn tra-lai`, `batn duyet`, the Excel buttons); `batn run` reads
them into `cons.reviews`, and its write-back (batn.gsheets.write) adds these requests to the same
atomic spreadsheets.batchUpdate. The state is kept where the lock is, so the two cannot disagree: a
locked unit input protection ("batn: ô nhập của X", "batn: dòng nhập của X ...") has batn's editors
only and its description says so, with who could type before:

    batn: ô nhập của CD_A — đã duyệt, khoá nhập (trước đó: a@doan.vn, b@doan.vn)
    batn: dòng nhập của CD_B — đã duyệt, khoá nhập (trước đó: chỉ cảnh báo)

Each write-back compares what is with what should be (locked iff an approval stands), so it is
idempotent and puts right a lock that `batn gsheets setup` or `chot --mo-lai` undid. The deadline lock
(batn.gsheets.deadline) keys its record by the description without this mark, and records the
editors from before the approval, so the two locks undo in any order.
"""
from __future__ import annotations

from typing import Mapping

MARK = " — đã duyệt, khoá nhập (trước đó: "
WARNING_ONLY = "chỉ cảnh báo"        # the protection only warned (no unit e-mail was known)
NOBODY = "không ai khác"             # editors only, none named besides batn's


def base_description(description: str) -> str:
    """The protection's description without the approval mark."""
    at = description.find(MARK)
    return description if at < 0 else description[:at]


def before_approval(description: str) -> tuple[list[str], bool] | None:
    """(editors, warning only) from before the approval lock; None when not locked by an approval."""
    at = description.find(MARK)
    if at < 0 or not description.endswith(")"):
        return None
    was = description[at + len(MARK):-1].strip()
    if was == WARNING_ONLY:
        return [], True
    if was == NOBODY:
        return [], False
    return [e.strip() for e in was.split(",") if e.strip()], False


def marked(description: str, editors: list[str], warning: bool) -> str:
    was = WARNING_ONLY if warning else (", ".join(editors) if editors else NOBODY)
    return base_description(description) + MARK + was + ")"


def approval_requests(read, reviews: Mapping[str, object], account: str) -> tuple[list[dict], list[str]]:
    """updateProtectedRange requests that lock the inputs of every unit whose approval stands and
    unlock those locked by an approval that no longer stands; and what could not be done, in Vietnamese."""
    from .deadline import _unit_of, batn_editors, input_protections

    batn = [u for u in batn_editors(read, account) if u]
    requests: list[dict] = []
    problems: list[str] = []
    for pr in input_protections(read):
        desc = str(pr.get("description", ""))
        code = _unit_of(desc)
        review = reviews.get(code)
        approved = review is not None and getattr(review, "approved_sha", None) is not None
        was = before_approval(desc)
        users = list((pr.get("editors") or {}).get("users", []))
        warning = bool(pr.get("warningOnly"))
        if approved:
            locked = was is not None and not warning and set(users) <= {*batn, account}
            if locked:
                continue
            if was is None:          # after the deadline lock: who typed before it (its record)
                cut = getattr(read, "cutoff", None)
                before = cut.protections.get(code, {}).get(base_description(desc)) if cut is not None else None
                was = (list(before[0]), bool(before[1])) if before else (users, warning)
            editors, was_warning = was
            body = {"protectedRangeId": pr["protectedRangeId"], "description": marked(desc, editors, was_warning),
                    "warningOnly": False, "editors": {"users": batn}}
            what = "khoá"
        elif was is not None:
            editors, was_warning = was
            body = {"protectedRangeId": pr["protectedRangeId"], "description": base_description(desc),
                    "warningOnly": was_warning}
            if not was_warning:
                body["editors"] = {"users": list(dict.fromkeys([*batn, *editors]))}
            what = "mở khoá"
        else:
            continue
        if pr.get("requestingUserCanEdit") is False:
            problems.append(f"Chưa {what} được ô nhập của {code} ({base_description(desc)}): tài khoản {account or 'này'} "
                            "không có quyền sửa vùng bảo vệ đó; hãy chạy batn gsheets setup với tài khoản này là "
                            "người quản lý (--share).")
            continue
        requests.append({"updateProtectedRange": {"protectedRange": body,
                                                  "fields": "description,warningOnly,editors"}})
    return requests, problems
