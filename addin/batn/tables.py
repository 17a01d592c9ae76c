"""The consolidation as tables: one row per unit, and the submission status.

Shared by the consolidated workbook, the JSON output and the other doors: each door writes the
rows built here ("Tổng hợp theo đơn vị", "Tình hình nộp báo cáo", "Kết quả kiểm tra") and adds
only its own formatting, so the three tables have the same columns wherever a clerk opens them.
The unit rows come from generators, so the file writer streams them; `summary_frame` and
`status_frame` give the same rows as pandas tables.
"""
from __future__ import annotations

import math
import os
from datetime import date, datetime
from typing import TYPE_CHECKING, Iterable, Iterator, Mapping

from .completeness import Tally, rate, subtree_tallies
from .numbers import finite
from .rollup import Consolidation
from .textsafe import shown

if TYPE_CHECKING:
    import pandas as pd


# "Đã nộp" and "Đúng hạn" hold an intermediate unit's own sub-tree ("4/5 (80%)"; itself included
# when it must report), blank for a unit with no unit under it.
# "Duyệt": the review state (batn.review), filled when the consolidation had a ledger to read it from.
STATUS_HEADER = ["STT", "Mã", "Đơn vị", "Cấp", "Tình trạng", "Duyệt", "Đã nộp (cả cấp dưới)",
                 "Đúng hạn (cả cấp dưới)", "Tệp", "Thời gian nhận", "Hạn nộp", "Số lỗi", "Số cảnh báo", "Tệp bị bỏ qua"]
STATUS_WIDTHS = (6, 12, 40, 14, 14, 14, 13, 13, 34, 15, 11, 7, 9, 30)
STATUS_COLUMNS = ["no", "code", "name", "level", "status", "review", "sent_below", "on_time_below", "file",
                  "received", "deadline", "errors", "warnings", "ignored"]
TOTAL_LABEL = "TỔNG CỘNG"
INDENT = "   "        # a unit's name is indented by its depth in the tree


def plain(v: object) -> object:
    """pandas/numpy scalars as Python values; NaN/NaT, infinity and numbers beyond any double
    (`numbers.finite`) as empty; whole floats as int."""
    if v is None:
        return None
    if type(v) is int:          # most figures: a count, nothing to convert
        return finite(v)
    if hasattr(v, "item") and not isinstance(v, (datetime, date)):
        v = v.item()
    v = finite(v)
    if hasattr(v, "to_pydatetime"):
        v = v.to_pydatetime()
    if isinstance(v, float):
        if math.isnan(v):
            return None
        return int(v) if v.is_integer() else v
    if v != v:  # NaT
        return None
    return v


def file_name(cons: Consolidation | None, path: str) -> str:
    """A file as a clerk knows it: relative to the inbox it was read from ("hop_thu/x.xlsx" ->
    "x.xlsx"), shown with visible escapes; a Google tab's name or a file elsewhere as it is."""
    return shown(_relative(path, cons.inbox if cons is not None else ""))


def _relative(path: str, inbox: str) -> str:
    if not path or not inbox:
        return path
    for base in {inbox, os.path.abspath(inbox)}:
        prefix = base.rstrip("/" + os.sep) + os.sep
        if path.startswith(prefix):
            return path[len(prefix):]
    return path


def sent_line(cons: Consolidation) -> str:
    """"Đã gửi báo cáo: 29/30 đơn vị — tổng hợp lúc 08:00 ngày 05/07/2026": above every status table."""
    return (f"Đã gửi báo cáo: {len(cons.sent)}/{len(cons.expected)} đơn vị — "
            f"tổng hợp lúc {cons.as_of:%H:%M ngày %d/%m/%Y}")


def summary_body(cons: Consolidation, indent: str = INDENT) -> Iterator[list[object]]:
    """The unit rows of "Tổng hợp theo đơn vị", in tree order: code, name indented by depth,
    status, then the totals by indicator code. A generator: a writer can stream 10,000 rows."""
    codes = cons.catalogue.codes
    for r in cons.units.values():
        t = r.totals
        yield [r.code, indent * r.depth + r.name, r.status, *[plain(t.get(c)) for c in codes]]


def total_row(cons: Consolidation) -> list[object]:
    """The "TỔNG CỘNG" row under the unit rows."""
    return [None, TOTAL_LABEL, None, *[plain(cons.totals.get(c)) for c in cons.catalogue.codes]]


def status_body(cons: Consolidation, indent: str = INDENT,
                tallies: Mapping[str, Tally] | None = None) -> Iterator[list[object]]:
    """The unit rows of "Tình hình nộp báo cáo" (columns of STATUS_HEADER), in tree order."""
    tallies = subtree_tallies(cons) if tallies is None else tallies
    for i, r in enumerate(cons.units.values(), start=1):
        sub = r.newest_file
        t = tallies.get(r.code)
        review = cons.reviews.get(r.code)
        yield [i, r.code, indent * r.depth + r.name, r.level, r.status, review.state if review else "",
               rate(t.sent, t.expected) if t else "", rate(t.in_time, t.expected) if t else "",
               file_name(cons, sub.source) if sub else "",
               # 0 = not known (a unit read from a Google Sheet has no file to date)
               datetime.fromtimestamp(sub.received) if sub and sub.received else None,
               r.deadline, r.errors, r.warnings,
               "; ".join(file_name(cons, s.source) for s in (r.ignored if r.submission else r.held[1:]))]


def summary_frame(cons: Consolidation) -> "pd.DataFrame":
    """The unit rows of "Tổng hợp theo đơn vị" as a pandas table, for analysis in a notebook."""
    import pandas as pd          # here: no door needs it, and it costs 40 MB and half a second

    return pd.DataFrame(summary_body(cons, indent=""), columns=["code", "name", "status", *cons.catalogue.codes])


def status_frame(cons: Consolidation) -> "pd.DataFrame":
    """The unit rows of "Tình hình nộp báo cáo" as a pandas table, for analysis in a notebook."""
    import pandas as pd

    return pd.DataFrame(status_body(cons, indent=""), columns=STATUS_COLUMNS)


def summary_header(cons: Consolidation) -> list[object]:
    """The first header row of "Tổng hợp theo đơn vị" (the second holds the indicator codes)."""
    numbers = indicator_numbers(cons.catalogue)
    return ["Mã", "Đơn vị", "Tình trạng", *[(f"{numbers[i.code]}. " if i.code in numbers else "") + i.label
                                        for i in cons.catalogue.indicators]]


def summary_rows(cons: Consolidation, indent: str = INDENT) -> list[list[object]]:
    """"Tổng hợp theo đơn vị": two header rows (labels, then codes), one row per unit in tree
    order (its name indented by depth), then the total. Figures start in column 4."""
    rows: list[list[object]] = [summary_header(cons), [None, None, None, *cons.catalogue.codes]]
    rows += summary_body(cons, indent)
    rows.append(total_row(cons))
    return rows


def status_rows(cons: Consolidation, indent: str = INDENT, source: str = "Tệp") -> list[list[object]]:
    """"Tình hình nộp báo cáo": the header, then one row per unit in tree order. `source` names the
    sixth column: a file in a folder, a tab ("Nguồn") in a Google Sheet."""
    rows: list[list[object]] = [[source if h == "Tệp" else h for h in STATUS_HEADER]]
    rows += status_body(cons, indent)
    return rows


FINDINGS_HEADER = ["STT", "Mức độ", "Đơn vị", "Tệp", "Ô", "Chỉ tiêu", "Nội dung"]
FINDINGS_WIDTHS = (6, 10, 24, 28, 14, 30, 70)
NO_FINDINGS = "Không có lỗi hay cảnh báo nào."


def findings_in_order(findings):
    """Lỗi first, then by file, unit and cell: the order every "Kết quả kiểm tra" table uses."""
    from .model import Severity

    return sorted(findings, key=lambda f: (f.severity != Severity.ERROR, f.file, f.unit, f.cell))


def indicator_numbers(catalogue) -> dict[str, str]:
    """Each indicator's STT on the "Số liệu" sheet (numbered through the sections, as the template lays them out)."""
    out, n = {}, 0
    for section in catalogue.sections:
        for ind in catalogue.in_section(section.key):
            n += 1
            out[ind.code] = str(n)
    return out


def indicator_name(catalogue, code: str, numbers: Mapping[str, str] | None = None) -> str:
    """"Mục 33. Đơn vị máu hiến tình nguyện (CD_HIENMAU)": what a clerk finds on the sheet, then the code."""
    if not code or catalogue is None or code not in catalogue:
        return code
    numbers = numbers if numbers is not None else indicator_numbers(catalogue)
    stt = numbers.get(code)
    return (f"Mục {stt}. " if stt else "") + f"{catalogue[code].label} ({code})"


def findings_rows(findings: Iterable, catalogue=None, cons: Consolidation | None = None) -> list[list[object]]:
    """The body of a "Kết quả kiểm tra" table (no header), whatever the door writes it to. With the
    `catalogue`, an indicator is named by its STT and label beside its code; with the consolidation
    `cons`, a unit by its name and a file relative to the inbox (in the message too)."""
    numbers = indicator_numbers(catalogue) if catalogue is not None else {}
    units = cons.units if cons is not None else {}
    inbox = cons.inbox if cons is not None else ""

    def unit(code: str) -> str:
        r = units.get(code)
        return r.name if r is not None else code

    def text(message: str) -> str:
        for base in {inbox, os.path.abspath(inbox)} if inbox else ():
            message = message.replace(base.rstrip("/" + os.sep) + os.sep, "")
        return message

    rows: list[list[object]] = [[i, f.severity.value, unit(f.unit), file_name(cons, f.file), f.cell,
                                 indicator_name(catalogue, f.indicator, numbers), text(f.message)]
                                for i, f in enumerate(findings_in_order(findings), start=1)]
    return rows or [["", "", "", "", "", "", NO_FINDINGS]]


def consolidation_findings_rows(cons: Consolidation) -> list[list[object]]:
    """The findings of a consolidation as every door lists them: unit names, files relative to the inbox."""
    return findings_rows(cons.findings, cons.catalogue, cons)


def review_line(cons: Consolidation) -> str:
    """"Duyệt: 20 đã duyệt, 5 chờ duyệt, 2 cần sửa" over the expected units; "" without a review."""
    if not cons.reviews:
        return ""
    from .review import APPROVED, MISSING, SENT_BACK, review_counts

    counts = review_counts(cons.reviews, (r.code for r in cons.expected))
    waiting = sum(n for state, n in counts.items() if state not in (APPROVED, SENT_BACK, MISSING))
    return f"{counts[APPROVED]} đã duyệt, {waiting} chờ duyệt, {counts[SENT_BACK]} cần sửa"
