"""Consolidation through the tree with real workbooks: totals, statuses, cross-checks, the
consolidated workbook as a submission for the level above, and broken files that stop nothing."""
from __future__ import annotations

import json
import os
import random
from datetime import datetime, timedelta

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from batn.xlsx.package import stamp_saved_time
from batn import layout as L
from batn.catalogue import load_catalogue
from batn.cli import app
from batn.demo import sample_values
from batn.pipeline import consolidate_inbox, load_period, report_input_from_workbook
from batn.rollup import COVERED, HAS_ERRORS, LATE, MISSING, SENT
from batn.units import load_units
from batn.xlsx.consolidated import write_consolidated
from batn.xlsx.reader import read_submission
from batn.xlsx.template import write_template

UNITS = """code,name,parent,level
T,Tỉnh Đoàn Mẫu,,Tỉnh Đoàn
A,Đoàn khối A,T,Đoàn trực thuộc
B,Đoàn khối B,T,Đoàn trực thuộc
A1,Chi đoàn A1,A,Chi đoàn
A2,Chi đoàn A2,A,Chi đoàn
B1,Chi đoàn B1,B,Chi đoàn
B2,Chi đoàn B2,B,Chi đoàn
B21,Chi đoàn B2-1,B2,Chi đoàn
"""


@pytest.fixture
def world(tmp_path):
    (tmp_path / "units.csv").write_text(UNITS, encoding="utf-8")
    tree = load_units(tmp_path / "units.csv")
    cat = load_catalogue("3tn-2024")
    period = load_period("2024")
    inbox = tmp_path / "inbox"
    rng = random.Random(7)
    sent = {}

    def send(code, values=None, name=None, when=None, **kw):
        values = values if values is not None else sample_values(cat, rng, 15)
        path = write_template(inbox / (name or f"{code}.xlsx"), cat, tree[code], period, values=values,
                              has_children=bool(tree.children[code]), **kw)
        when = when or datetime(2024, 12, 10, 9, 0)
        stamp_saved_time(path, when)
        sent[code] = values
        return path

    return tree, cat, period, inbox, send, sent


def test_totals_roll_up_any_depth(world):
    tree, cat, period, inbox, send, sent = world
    for code in ["A", "A1", "A2", "B1", "B2", "B21"]:
        send(code)
    cons = consolidate_inbox(inbox, tree, cat, period)
    code = "TK_HOINGHI_SO"
    v = {c: sent[c][code] for c in sent}
    assert cons.units["B2"].totals[code] == v["B2"] + v["B21"]
    assert cons.units["B"].totals[code] == v["B1"] + v["B2"] + v["B21"]      # B sent nothing itself
    assert cons.units["A"].totals[code] == v["A"] + v["A1"] + v["A2"]
    assert cons.totals[code] == sum(v.values())
    assert cons.units["B"].status == MISSING
    assert [u.code for u in cons.expected] == ["A", "A1", "A2", "B", "B1", "B2", "B21"]
    assert len(cons.sent) == 6


def test_statuses_late_duplicate_and_broken_file(world):
    tree, cat, period, inbox, send, sent = world
    send("A1")
    send("A2", when=datetime(2024, 12, 28, 10, 0))                       # after the 20/12 deadline
    bad = sample_values(cat, random.Random(1), 10)
    bad["TT_DOANVIEN"] = bad["TT_CBCCVC_TRE"] + 1
    send("B1", values=bad)
    old = send("B21", name="cu.xlsx", when=datetime(2024, 12, 1))
    new = send("B21", name="moi.xlsx", when=datetime(2024, 12, 5))
    (inbox / "hong.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    cons = consolidate_inbox(inbox, tree, cat, period)
    st = {c: r.status for c, r in cons.units.items()}
    assert st["A1"] == SENT and st["A2"] == LATE and st["B1"] == HAS_ERRORS and st["B"] == MISSING
    assert cons.units["B21"].submission.source == str(new)
    dup = [f for f in cons.findings if f.kind == "duplicate-unit"]
    assert len(dup) == 1 and str(old) in dup[0].message and str(new) in dup[0].message
    broken = [f for f in cons.findings if f.kind == "unreadable-file"]
    assert len(broken) == 1 and broken[0].file.endswith("hong.xlsx")
    # everything readable was still summed
    assert cons.totals["CD_HIENMAU"] == sum(sent[c]["CD_HIENMAU"] for c in ("A1", "A2", "B1", "B21"))


def test_only_approved_reports_count_and_the_others_stay_the_units(world):
    """--chi-da-duyet: a file not approved is left out of the totals, but it is still its unit's
    file: with a lỗi the unit is "có lỗi" and reminded to correct it; without, it is "chờ duyệt"."""
    from batn.reminders import reminders_for
    from batn.rollup import AWAITING

    tree, cat, period, inbox, send, sent = world
    send("A1")
    bad = sample_values(cat, random.Random(1), 10)
    bad["TT_DOANVIEN"] = bad["TT_CBCCVC_TRE"] + 1
    send("A2", values=bad)
    everything = consolidate_inbox(inbox, tree, cat, period)
    a1 = everything.units["A1"].submission
    cons = consolidate_inbox(inbox, tree, cat, period, approved_only=True)
    assert cons.totals["CD_HIENMAU"] in (None, 0)                    # nothing approved: nothing summed
    st = {c: cons.units[c] for c in ("A1", "A2")}
    assert (st["A1"].status, st["A2"].status) == (AWAITING, HAS_ERRORS)
    assert st["A2"].errors >= 1 and st["A2"].newest_file.source.endswith("A2.xlsx")
    reminded = {r.code: r for r in reminders_for(cons)}
    assert "A2" in reminded and reminded["A2"].problems and reminded["A2"].file.endswith("A2.xlsx")
    assert "A1" not in reminded                                       # the office has to approve it, not the unit
    # a unit that sent twice: the older file is "đã có tệp mới hơn", named where the table lists set-aside files
    from batn.scheduled import _status_of
    from batn.tables import STATUS_HEADER, status_body

    send("A2", name="A2_cu.xlsx", when=datetime(2024, 12, 1, 9, 0))
    twice = consolidate_inbox(inbox, tree, cat, period, approved_only=True)
    r = twice.units["A2"]
    assert [s.source.rsplit("/", 1)[-1] for s in r.held] == ["A2.xlsx", "A2_cu.xlsx"]
    assert _status_of(r.held[0], twice) == HAS_ERRORS and _status_of(r.held[1], twice) == "đã có tệp mới hơn"
    row = next(x for x in status_body(twice) if x[1] == "A2")
    assert row[STATUS_HEADER.index("Tệp")].endswith("A2.xlsx") and "A2_cu.xlsx" in row[STATUS_HEADER.index("Tệp bị bỏ qua")]
    from batn.rollup import consolidate

    approved = consolidate([everything.units[c].submission for c in ("A1", "A2")], tree, cat, period,
                           checked=True, approved={"A1": a1.sha256}, approved_only=True)
    assert approved.units["A1"].status == SENT and approved.totals["CD_HIENMAU"] == sent["A1"]["CD_HIENMAU"]


def test_hand_made_total_taken_as_given_and_cross_checked(world):
    tree, cat, period, inbox, send, sent = world
    total = sample_values(cat, random.Random(3), 30)
    send("B", values=total, kind=L.KIND_TOTAL)
    cons = consolidate_inbox(inbox, tree, cat, period)
    assert cons.units["B"].totals["CD_HIENMAU"] == total["CD_HIENMAU"]
    assert {cons.units[c].status for c in ("B1", "B2", "B21")} == {COVERED}
    assert not [f for f in cons.findings if f.kind == "total-mismatch"]
    # now a child's file arrives too: the sent total still counts, each difference is a cảnh báo
    child = dict(total)
    child["CD_HIENMAU"] = total["CD_HIENMAU"] + 7
    send("B1", values=child)
    cons = consolidate_inbox(inbox, tree, cat, period)
    assert cons.units["B"].totals["CD_HIENMAU"] == total["CD_HIENMAU"]
    mism = [f for f in cons.findings if f.kind == "total-mismatch" and f.indicator == "CD_HIENMAU"]
    assert len(mism) == 1 and mism[0].severity.value == "cảnh báo"
    assert str(total["CD_HIENMAU"]) in mism[0].message and str(child["CD_HIENMAU"]) in mism[0].message


def test_consolidated_workbook_is_a_submission_for_the_level_above(world, tmp_path):
    tree, cat, period, inbox, send, sent = world
    for code in ["B1", "B2", "B21"]:
        send(code)
    cons_b = consolidate_inbox(inbox, tree, cat, period, root="B")
    out_b = write_consolidated(cons_b, tmp_path / "up" / "B_tong_hop.xlsx")
    sub = read_submission(out_b, cat)
    assert sub.unit == "B" and sub.period == "2024" and sub.is_total and not sub.has_errors
    assert sub.values == {c: cons_b.totals[c] for c in cat.codes}
    assert not [f for f in sub.findings if f.kind == "sheet-hidden"]     # batn hid its guide itself
    # the province receives B's consolidated workbook alone and takes it as given
    up_inbox = tmp_path / "up"
    path_a1 = write_template(up_inbox / "A1.xlsx", cat, tree["A1"], period, values=sample_values(cat, random.Random(9), 12))
    cons_t = consolidate_inbox(up_inbox, tree, cat, period)
    a1 = read_submission(path_a1, cat).values
    for c in cat.codes:
        assert cons_t.totals[c] == (cons_b.totals[c] or 0) + (a1[c] or 0)
    # the sheets a clerk reads
    wb = load_workbook(out_b)
    assert {L.DATA_SHEET, L.SUMMARY_SHEET, L.STATUS_SHEET, L.CHECK_SHEET} <= set(wb.sheetnames)
    summary = wb[L.SUMMARY_SHEET]
    names = [summary.cell(r, 2).value for r in range(3, 3 + 4)]
    assert names == ["Đoàn khối B", "Chi đoàn B1", "Chi đoàn B2", "Chi đoàn B2-1"]
    assert summary.cell(4, 2).alignment.indent == 1 and summary.cell(6, 2).alignment.indent == 2
    assert summary.cell(7, 2).value == "TỔNG CỘNG"
    inp = report_input_from_workbook(out_b)
    assert (inp.sent, inp.expected) == (3, 3)


def test_a_consolidated_workbook_saved_into_its_own_inbox_is_not_read_as_a_report(world):
    tree, cat, period, inbox, send, sent = world
    for code in ("A1", "B1"):
        send(code)
    first = consolidate_inbox(inbox, tree, cat, period)
    with pytest.raises(ValueError, match="phải có đuôi .xlsx"):  # every door: an Excel file named .docx is no file
        write_consolidated(first, inbox.parent / "TongHop_T.docx")
    write_consolidated(first, inbox / "TongHop_T.xlsx")          # saved where the reports are
    again = consolidate_inbox(inbox, tree, cat, period)
    assert again.totals == first.totals and len(again.sent) == len(first.sent) == 2
    assert again.units["T"].submission is None
    skipped = [f for f in again.findings if f.kind == "skipped-file" and f.file.endswith("TongHop_T.xlsx")]
    assert len(skipped) == 1 and "tệp tổng hợp của chính đơn vị đang tổng hợp" in skipped[0].message
    # alone, the same kind of workbook is the district's report to the level above, even with --root
    b = consolidate_inbox(inbox, tree, cat, period, root="B")
    up = inbox.parent / "tinh"
    write_consolidated(b, up / "TongHop_B.xlsx")
    at_province = consolidate_inbox(up, tree, cat, period, root="B")
    assert at_province.totals == b.totals and at_province.units["B"].submission is not None
    assert not [f for f in at_province.findings if f.kind == "skipped-file"]


def test_narratives_carry_the_unit_name_and_formulas_stay_text(world, tmp_path):
    tree, cat, period, inbox, send, sent = world
    send("A1", narratives={"mo_hinh": [("Ngày thứ bảy tình nguyện", "", "Tốt")],
                           "kho_khan": [("=HYPERLINK(\"http://x\",\"bấm\")",)]})
    cons = consolidate_inbox(inbox, tree, cat, period)
    assert cons.narratives["mo_hinh"] == [("Chi đoàn A1", ("Ngày thứ bảy tình nguyện", "", "Tốt"))]
    out = write_consolidated(cons, tmp_path / "t.xlsx")
    ws = load_workbook(out)["Khó khăn, hạn chế"]
    assert ws["B4"].data_type == "s" and ws["B4"].value.startswith("=HYPERLINK")
    ws = load_workbook(out)["Mô hình tiêu biểu"]
    assert (ws["B4"].value, ws["C4"].value) == ("Ngày thứ bảy tình nguyện", "Chi đoàn A1")


def test_cli_consolidate_json_and_exit_status(world, tmp_path):
    tree, cat, period, inbox, send, sent = world
    send("A1")
    (inbox / "rac.xlsx").write_text("không phải excel", encoding="utf-8")
    r = CliRunner().invoke(app, ["consolidate", str(inbox), "--units", str(tmp_path / "units.csv"),
                                 "--catalog", "3tn-2024", "--period", "2024", "--out", str(tmp_path / "o.xlsx"),
                                 "--json"])
    assert r.exit_code == 1, r.output
    data = json.loads(r.stdout)
    assert data["sent"] == 1 and data["expected"] == 7
    assert data["totals"]["CD_HIENMAU"] == sent["A1"]["CD_HIENMAU"]
    assert any(f["kind"] == "unreadable-file" and f["file"].endswith("rac.xlsx") for f in data["findings"])
    r = CliRunner().invoke(app, ["consolidate", str(inbox), "--units", str(tmp_path / "nope.csv"),
                                 "--catalog", "3tn-2024", "--period", "2024", "--out", str(tmp_path / "o.xlsx")])
    assert r.exit_code == 2
    # the wrong --period: the screen says why nothing was summed, not only "0/7 đơn vị"
    send("A2")
    r = CliRunner().invoke(app, ["consolidate", str(inbox), "--units", str(tmp_path / "units.csv"),
                                 "--catalog", "3tn-2024", "--period", "2025", "--out", str(tmp_path / "o.xlsx")])
    assert "Đã gửi báo cáo: 0/7" in r.output
    assert "Không cộng 2 tệp: Biểu mẫu của kỳ 2024, không phải kỳ 2025 đang tổng hợp" in " ".join(r.output.split())
