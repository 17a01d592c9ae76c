"""Earlier periods and reorganised units (issue 16), through the command line only.

A province over three half-years: in 2025-H1 it has districts D1, D2 and a unit C_OLD; from 2025-H2
D2 is merged into D1, and C_OLD is renamed C_NEW (a rename is a merge into the new code). The
units file keeps the former units with `merged_into` and `merged_from`.

- the past is imported into a ledger (`batn lich-su nhap`) from filled templates and from a table a
  clerk typed; importing again adds nothing;
- former units get no template and are not expected; a file still sent under a former code counts
  for the successor, with a finding that says so;
- the successor's history includes its predecessors: the outlier baseline of D1 is D1 + D2;
- a consolidation of the earlier period, with today's units file, still sees D2 on its own.
"""
from __future__ import annotations

import json
import random
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from batn.catalogue import load_catalogue
from batn.cli import app
from batn.demo import sample_values
from batn.model import Unit
from batn.pipeline import load_period
from batn.xlsx.package import stamp_saved_time
from batn.xlsx.template import write_template

UNITS = """code,name,parent,level,merged_into,merged_from
T,Tỉnh Đoàn Mẫu,,Tỉnh Đoàn,,
D1,Đoàn khối Một,T,Đoàn trực thuộc,,
D2,Đoàn khối Hai,T,Đoàn trực thuộc,D1,2025-H2
C_OLD,Đoàn Sở Cũ,T,Đoàn trực thuộc,C_NEW,
C_NEW,Đoàn Sở Mới,T,Đoàn trực thuộc,,
E,Đoàn khối Năm,T,Đoàn trực thuộc,,
CD_D2,Chi đoàn thuộc khối Hai,D2,Chi đoàn,,
"""
CODE = "CD_HIENMAU"
CAT = load_catalogue("3tn-2024")


def run(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in r.output, r.output
    return r.exit_code, r.stdout


def send(folder: Path, code: str, name: str, period: str, values: dict, when: datetime) -> Path:
    p = write_template(folder / f"{code}_{period}.xlsx", CAT, Unit(code, name, None), load_period(period),
                       values=values)
    stamp_saved_time(p, when)
    return p


@pytest.fixture
def province(tmp_path):
    (tmp_path / "don_vi.csv").write_text(UNITS, encoding="utf-8")
    rng = random.Random(16)
    figures = {}
    past = tmp_path / "ky_truoc"
    for code, name in (("D1", "Đoàn khối Một"), ("D2", "Đoàn khối Hai"), ("C_OLD", "Đoàn Sở Cũ"),
                       ("E", "Đoàn khối Năm"), ("CD_D2", "Chi đoàn thuộc khối Hai")):
        v = sample_values(CAT, rng, 10)
        v[CODE] = {"D1": 40, "D2": 60, "C_OLD": 30, "E": 50, "CD_D2": 7}[code]
        figures[code] = v
        send(past, code, name, "2025-H1", v, datetime(2025, 6, 15, 9))
    return tmp_path, past, figures


def test_former_units_have_no_template_and_are_not_expected(province):
    ws, _past, _f = province
    code, out = run("template", "--catalog", "3tn-2024", "--units", ws / "don_vi.csv", "--period", "2026-H1",
                    "--out", ws / "bieu_mau")
    assert code == 0, out
    made = sorted(p.stem for p in (ws / "bieu_mau").glob("*.xlsx"))
    assert made == ["CD_D2", "C_NEW", "D1", "E", "T"]
    # the chi đoàn of the former D2 now hangs under D1
    wb = load_workbook(ws / "bieu_mau" / "CD_D2.xlsx")
    assert wb is not None


def test_a_file_under_a_former_code_counts_for_its_successor(province):
    ws, _past, figures = province
    inbox = ws / "hop_thu"
    send(inbox, "D2", "Đoàn khối Hai", "2026-H1", {**figures["D2"], CODE: 70}, datetime(2026, 6, 10, 9))
    send(inbox, "C_OLD", "Đoàn Sở Cũ", "2026-H1", {**figures["C_OLD"], CODE: 33}, datetime(2026, 6, 10, 9))
    send(inbox, "E", "Đoàn khối Năm", "2026-H1", figures["E"], datetime(2026, 6, 10, 9))
    code, out = run("consolidate", inbox, "--units", ws / "don_vi.csv", "--catalog", "3tn-2024", "--period",
                    "2026-H1", "--out", ws / "t.xlsx", "--json")
    data = json.loads(out)
    units = {u["code"]: u for u in data["units"]}
    assert "D2" not in units and "C_OLD" not in units               # not expected any more
    assert units["D1"]["status"] == "đã nộp" and units["C_NEW"]["status"] == "đã nộp"
    notes = [f for f in data["findings"] if f["kind"] == "former-unit"]
    assert {(f["unit"], "D2" in f["message"] or "C_OLD" in f["message"]) for f in notes} == {("D1", True),
                                                                                            ("C_NEW", True)}
    assert any("từ 6 tháng cuối năm 2025" in f["message"] for f in notes if f["unit"] == "D1")
    assert data["totals"][CODE] == 70 + 33 + figures["E"][CODE]


def test_the_earlier_period_still_sees_the_former_units(province):
    ws, past, figures = province
    code, out = run("consolidate", past, "--units", ws / "don_vi.csv", "--catalog", "3tn-2024", "--period",
                    "2025-H1", "--out", ws / "t.xlsx", "--json")
    data = json.loads(out)
    units = {u["code"]: u for u in data["units"]}
    assert units["D2"]["status"] == "đã nộp" and units["CD_D2"]["status"] == "đã nộp"
    assert "C_OLD" not in units        # a rename with no start period holds for every period
    assert data["totals"][CODE] == sum(v[CODE] for v in figures.values())


def test_imported_history_follows_the_successor(province):
    ws, past, figures = province
    ledger = ws / "so" / "batn.sqlite3"
    code, out = run("lich-su", "nhap", *sorted(past.glob("*.xlsx")), "--ledger", ledger, "--units", ws / "don_vi.csv",
                    "--json")
    assert code == 0, out
    assert json.loads(out)["new"] == 5
    code, out = run("lich-su", "nhap", *sorted(past.glob("*.xlsx")), "--ledger", ledger, "--json")
    assert code == 0 and json.loads(out)["new"] == 0                  # idempotent

    inbox = ws / "hop_thu"
    # D1 now reports for D1 + D2: 100 last year together; 1000 is far above it
    send(inbox, "D1", "Đoàn khối Một", "2026-H1", {**figures["D1"], CODE: 1000}, datetime(2026, 6, 10, 9))
    send(inbox, "E", "Đoàn khối Năm", "2026-H1", {**figures["E"], CODE: 52}, datetime(2026, 6, 10, 9))
    code, out = run("consolidate", inbox, "--units", ws / "don_vi.csv", "--catalog", "3tn-2024", "--period",
                    "2026-H1", "--out", ws / "t.xlsx", "--ledger", ledger, "--json")
    data = json.loads(out)
    warned = [f for f in data["findings"] if f["kind"] == "outlier-last-year" and f["indicator"] == CODE]
    assert [f["unit"] for f in warned] == ["D1"]
    assert "gấp 10 lần" in warned[0]["message"] and "100" in warned[0]["message"]   # 40 + 60, D2 included
    assert "6 tháng đầu năm 2025" in warned[0]["message"]

    # the same through a typed table: labels, unit names, Vietnamese headings
    table = ws / "bang.csv"
    table.write_text("Mã đơn vị;Kỳ;Chỉ tiêu;Số liệu\n"
                     "T;2025-H1;Đơn vị máu hiến tình nguyện;187\n"
                     "Đoàn khối Năm;2024-H1;CD_HIENMAU;45\n"
                     "X;2025-H1;CD_HIENMAU;1\n"
                     "T;2025-H1;Không có chỉ tiêu này;3\n", encoding="utf-8")
    code, out = run("lich-su", "nhap", table, "--ledger", ledger, "--units", ws / "don_vi.csv", "--catalog",
                    "3tn-2024", "--json")
    data = json.loads(out)
    assert code == 1 and data["new"] == 2
    assert sorted(f["cell"] for f in data["findings"]) == ["dòng 4", "dòng 5"]
    code, out = run("lich-su", "T", "--ledger", ledger, "--json")
    assert [s["status"] for s in json.loads(out)["submissions"]] == ["nhập lịch sử"]


def test_a_broken_merge_is_refused_with_its_line(tmp_path):
    (tmp_path / "u.csv").write_text("code,name,parent,merged_into,merged_from\nT,Tỉnh,,,\nA,A,T,B,\nB,B,T,A,\n"
                                    "C,C,T,Z,\nD,D,T,T,2025-Q3\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["template", "--catalog", "3tn-2024", "--units", str(tmp_path / "u.csv"),
                                 "--period", "2026", "--out", str(tmp_path / "o")])
    assert r.exit_code == 2
    for words in ("Dòng 3: sáp nhập vòng quanh", "Dòng 5: đơn vị 'C' sáp nhập vào 'Z'", "Dòng 6: kỳ bắt đầu sáp nhập"):
        assert words in r.output, r.output


def test_the_successors_own_file_wins_over_a_later_one_under_a_former_code(province):
    ws, _past, figures = province
    inbox = ws / "hop_thu"
    send(inbox, "D1", "Đoàn khối Một", "2026-H1", {**figures["D1"], CODE: 111}, datetime(2026, 6, 9, 9))
    send(inbox, "D2", "Đoàn khối Hai", "2026-H1", {**figures["D2"], CODE: 70}, datetime(2026, 6, 12, 9))
    code, out = run("consolidate", inbox, "--units", ws / "don_vi.csv", "--catalog", "3tn-2024", "--period",
                    "2026-H1", "--out", ws / "t.xlsx", "--json")
    data = json.loads(out)
    d1 = next(u for u in data["units"] if u["code"] == "D1")
    assert d1["file"].endswith("D1_2026-H1.xlsx") and data["totals"][CODE] == 111
    assert any(f["kind"] == "duplicate-unit" and f["unit"] == "D1" for f in data["findings"])


def test_report_compares_with_the_ledger_without_batn_run(tmp_path):
    """`batn report --ledger`: the earlier period imported into the ledger gives the comparisons."""
    root = Path(__file__).resolve().parent.parent
    ledger = tmp_path / "so.sqlite3"
    code, out = run("lich-su", "nhap", root / "templates" / "demo" / "TongHop_TD_AG_2025-H1.xlsx", "--ledger", ledger)
    assert code == 0, out
    cons = root / "workbooks" / "demo" / "TongHop_TD_AG_2026-H1.xlsx"
    for extra, want in (((), 0), (("--ledger", ledger), 1)):
        code, out = run("report", cons, "--out", tmp_path / "bc.txt", "--date", "2026-06-30",
                        "--units", root / "workbooks" / "demo" / "don_vi.csv", *extra)
        assert code == 0, out
        text = (tmp_path / "bc.txt").read_text(encoding="utf-8")
        assert ("so với cùng kỳ năm 2025" in text) == bool(want), text[:2000]
