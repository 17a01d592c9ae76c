"""The review loop (issue 17) walked through the command line, as a district office would:
`batn run` reads the inbox; `batn tra-lai` sends two reports back; `batn phan-hoi` writes the
feedback packages; one unit resubmits; `batn duyet --tat-ca-dat` approves; a unit changes its
report after approval and the approved figures stay; `--chi-da-duyet` counts approved reports only.
The ledger, the JSON, the consolidated workbook and the report are checked at each step."""
from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

import hostile as H
from batn.catalogue import load_catalogue
from batn.cli import app
from batn.demo import sample_values
from batn.model import Unit
from batn.pipeline import load_period
from batn.xlsx.package import stamp_saved_time
from batn.xlsx.template import layout_rows, write_template

UNITS = """code,name,parent,level,contact
T,Đoàn khối Mẫu,,Đoàn trực thuộc,vanphong@example.vn
A,Chi đoàn A,T,Chi đoàn,a@example.vn
B,Chi đoàn B,T,Chi đoàn,b@example.vn
C,Chi đoàn C,T,Chi đoàn,c@example.vn
D,Chi đoàn D,T,Chi đoàn,
"""
CAT = load_catalogue("3tn-2024")
PERIOD = "2026-H1"
CODE = "CD_HIENMAU"
SENT = datetime(2026, 6, 10, 9, 0)


def cli(*args) -> tuple[int, str]:
    r = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in r.output, r.output
    return r.exit_code, r.output


def run_json(cfg: Path, *extra) -> dict:
    r = CliRunner().invoke(app, ["run", str(cfg), "--json", *extra])
    assert r.exit_code in (0, 1), r.output
    return json.loads(r.stdout)


def send(ws: Path, code: str, values: dict, when: datetime, name: str | None = None) -> Path:
    p = write_template(ws / "hop_thu" / (name or f"{code}.xlsx"), CAT, Unit(code, f"Chi đoàn {code}", "T"),
                       load_period(PERIOD), values=values)
    stamp_saved_time(p, when)
    return p


def state(cfg: Path, unit: str) -> str:
    code, out = cli("lich-su", unit, "--config", cfg, "--json")
    assert code == 0, out
    return json.loads(out)["review_state"][PERIOD]


@pytest.fixture
def office(tmp_path):
    ws = tmp_path / "vp"
    (ws / "hop_thu").mkdir(parents=True)
    (ws / "don_vi.csv").write_text(UNITS, encoding="utf-8")
    cfg = ws / "batn-run.toml"
    cfg.write_text(f'period = "{PERIOD}"\ncatalogue = "3tn-2024"\nunits = "don_vi.csv"\nledger = "so/batn.sqlite3"\n'
                   '[[sources]]\ntype = "folder"\npath = "hop_thu"\n[outputs]\nfolder = "ket_qua"\n'
                   'reports = ["BaoCao.txt"]\n', encoding="utf-8")
    rng = random.Random(17)
    values = {c: {**sample_values(CAT, rng, 12), CODE: 10 * (i + 1)} for i, c in enumerate("ABC")}
    send(ws, "A", values["A"], SENT)
    row = layout_rows(CAT)[1][CODE].row
    bad = send(ws, "B", values["B"], SENT)
    H.rezip(bad, bad.with_name("B_tmp.xlsx"), H.in_part(H.SHEET_DATA, H.inline(f"D{row}", "hai mươi")))
    bad.unlink()
    bad.with_name("B_tmp.xlsx").rename(bad)
    stamp_saved_time(bad, SENT)
    send(ws, "C", values["C"], SENT)
    return ws, cfg, values


def test_a_full_review_loop(office):
    ws, cfg, values = office
    first = run_json(cfg)
    assert first["sent"] == 3

    # send B and C back, with the reason
    code, out = cli("tra-lai", "B", "C", "--ly-do", "Đề nghị bổ sung số liệu hiến máu", "--config", cfg,
                    "--nguoi", "Văn thư")
    assert code == 0, out
    assert state(cfg, "B") == "cần sửa" and state(cfg, "A") == "đã nhận"
    code, out = cli("tra-lai", "D", "--ly-do", "x", "--config", cfg)
    assert code == 1 and "chưa có báo cáo" in out               # D sent nothing: named, not a crash
    code, out = cli("tra-lai", "XYZ", "--ly-do", "x", "--config", cfg)
    assert code == 1 and "XYZ: mã đơn vị không có trong danh sách đơn vị" in " ".join(out.split())   # a typo
    code, out = cli("lich-su", "XYZ", "--config", cfg)
    assert code == 2 and "mã đơn vị XYZ không có trong danh sách đơn vị" in " ".join(out.split())
    code, out = cli("lich-su", "B", "--config", cfg)
    assert "trả lại (Văn thư)" in out and "Đề nghị bổ sung số liệu hiến máu" in out

    # feedback packages: B (sent back, with a lỗi) and C (sent back); A needs nothing
    code, out = cli("phan-hoi", "--config", cfg, "--out", ws / "phan_hoi", "--khong-gui-thu", "--json")
    assert code == 0, out
    packages = {p["unit"]: p for p in json.loads(out)["packages"]}
    assert set(packages) == {"B", "C"}
    text = (ws / "phan_hoi" / "B" / "tin_nhan.txt").read_text(encoding="utf-8")
    assert text.startswith("Kính gửi Chi đoàn B")
    assert "Lý do: Đề nghị bổ sung số liệu hiến máu" in text
    assert f"Trang “Số liệu”, ô D{layout_rows(CAT)[1][CODE].row}" in text and "Cách sửa:" in text
    assert "“hai mươi” không phải là số" in text
    label = CAT[CODE].label
    assert f"“{label}”: “hai mươi”" in text and f"“{label}”: “{label}”" not in text    # the indicator named once
    annotated = Path(packages["B"]["annotated"])
    assert annotated.is_file() and load_workbook(annotated)["Số liệu"]
    assert "Kính gửi Chi đoàn C" in (ws / "phan_hoi" / "C" / "tin_nhan.txt").read_text(encoding="utf-8")

    # B resubmits, corrected
    send(ws, "B", values["B"], SENT + timedelta(days=1), name="B_sua.xlsx")
    second = run_json(cfg)
    assert state(cfg, "B") == "đã nhận bản sửa" and state(cfg, "C") == "cần sửa"

    # approve in bulk: A and B (no lỗi); C was sent back and has not come back
    code, out = cli("duyet", "--tat-ca-dat", "--config", cfg, "--json")
    assert code == 0, out
    assert sorted(d["unit"] for d in json.loads(out)["done"]) == ["A", "B"]
    assert state(cfg, "A") == "đã duyệt" and state(cfg, "B") == "đã duyệt"

    # A changes its report after approval: the approved figures stay until the change is approved
    send(ws, "A", {**values["A"], CODE: 999}, SENT + timedelta(days=2), name="A_sau_duyet.xlsx")
    third = run_json(cfg)
    total = values["A"][CODE] + values["B"][CODE] + values["C"][CODE]
    cons = load_workbook(ws / "ket_qua" / f"TongHop_T_{PERIOD}.xlsx")
    assert state(cfg, "A") == "bản sửa sau khi duyệt"
    assert any(f["kind"] == "changed-after-approval" and f["unit"] == "A" for f in third["findings"])
    summary = cons["Tổng hợp theo đơn vị"]
    codes = [c.value for c in summary[2]]
    total_row = next(r for r in summary.iter_rows(values_only=True) if r[1] == "TỔNG CỘNG")
    assert total_row[codes.index(CODE)] == total
    names = {n: cons.defined_names[n].attr_text for n in ("BATN_APPROVED", "BATN_WAITING", "BATN_SENT_BACK")}
    sheet, cell = names["BATN_APPROVED"].split("!")
    assert cons[sheet.strip("'")][cell.replace("$", "")].value == 1      # B; A's change waits
    report = (ws / "ket_qua" / "BaoCao.txt").read_text(encoding="utf-8")
    assert "Văn phòng đã duyệt 01 báo cáo, 01 báo cáo đang chờ duyệt, trả lại 01 báo cáo" in report

    # approve the change; the final consolidation counts approved reports only (C is not)
    code, out = cli("duyet", "A", "--config", cfg)
    assert code == 0, out
    final = run_json(cfg, "--chi-da-duyet")
    cons = load_workbook(ws / "ket_qua" / f"TongHop_T_{PERIOD}.xlsx")
    summary = cons["Tổng hợp theo đơn vị"]
    total_row = next(r for r in summary.iter_rows(values_only=True) if r[1] == "TỔNG CỘNG")
    assert total_row[codes.index(CODE)] == 999 + values["B"][CODE]
    assert any(f["kind"] == "awaiting-approval" and f["unit"] == "C" for f in final["findings"])
    # C's file is held back from the totals, but it is still C's: sent back, waiting ("cần sửa", not "chưa nộp")
    rows = list(cons["Tình hình nộp báo cáo"].iter_rows(min_row=3, values_only=True))
    head = list(rows[0])
    c_row = next(r for r in rows if r[head.index("Mã")] == "C")
    assert (c_row[head.index("Tình trạng")], c_row[head.index("Duyệt")]) == ("chờ duyệt", "cần sửa")
    assert c_row[head.index("Tệp")]


def test_approving_a_report_with_errors_is_refused(office):
    ws, cfg, _values = office
    run_json(cfg)
    code, out = cli("duyet", "B", "--config", cfg)
    assert code == 1 and "còn 1 lỗi" in out
    code, out = cli("duyet", "--config", cfg)
    assert code == 2                                           # nothing named, no --tat-ca-dat


def test_a_file_that_is_not_a_ledger_is_one_clear_line(office, tmp_path):
    """--ledger naming another file (the run's .toml, a text): one Vietnamese line, exit 2, no traceback."""
    ws, cfg, _values = office
    wrong = tmp_path / "batn-run.toml"
    wrong.write_text('period = "2026-H1"\n' * 200, encoding="utf-8")
    for args in (["duyet", "A", "--ledger", wrong, "--period", PERIOD],
                 ["tra-lai", "A", "--ly-do", "Sai", "--ledger", wrong, "--period", PERIOD],
                 ["consolidate", ws / "hop_thu", "--units", ws / "don_vi.csv", "--catalog", "3tn-2024",
                  "--period", PERIOD, "--out", tmp_path / "t.xlsx", "--ledger", wrong]):
        code, out = cli(*args)
        assert code == 2, (args[0], out)
        assert "không phải sổ theo dõi của batn" in out and "not a database" not in out, out


def test_consolidate_with_a_ledger_knows_the_states(office):
    ws, cfg, values = office
    run_json(cfg)
    cli("duyet", "A", "C", "--config", cfg)
    cli("tra-lai", "B", "--ly-do", "Sai số liệu", "--config", cfg)
    r = CliRunner().invoke(app, ["consolidate", str(ws / "hop_thu"), "--units", str(ws / "don_vi.csv"), "--catalog",
                                 "3tn-2024", "--period", PERIOD, "--out", str(ws / "t.xlsx"), "--ledger",
                                 str(ws / "so" / "batn.sqlite3"), "--json"])
    data = json.loads(r.stdout)
    assert {u["code"]: u.get("review") for u in data["units"]} == {"T": "chưa nộp", "A": "đã duyệt", "B": "cần sửa",
                                                                   "C": "đã duyệt", "D": "chưa nộp"}
    assert data["reviews"]["đã duyệt"] == 2 and data["reviews"]["cần sửa"] == 1
