"""The review loop (issue 17) walked through the Excel door, on xlwings' remote engine: the clerk
selects unit rows in the consolidation workbook and presses "Trả lại" / "Duyệt". The decisions go
through the same library rule as `batn tra-lai` / `batn duyet` (Ledger.decide), into the ledger
named in "Thiết lập"; the "Duyệt" column, the consolidated workbook and `batn consolidate --ledger`
are checked at each step: send back two units, one resubmits, approve, a late change after approval."""
from __future__ import annotations

import json
import os
import random
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")
pytest.importorskip("xlwings", reason="the Excel door needs xlwings (pip install -e .[excel])")

import xlwings as xw  # noqa: E402
from remote_book import actions, book_json  # noqa: E402

import hostile as H  # noqa: E402
from batn import layout as L  # noqa: E402
from batn.catalogue import load_catalogue  # noqa: E402
from batn.cli import app  # noqa: E402
from batn.demo import sample_values  # noqa: E402
from batn.excel import buttons  # noqa: E402
from batn.excel.settings import SETTINGS_SHEET, UNITS_FIRST_ROW, UNITS_SHEET, consolidated_name  # noqa: E402
from batn.ledger import Ledger  # noqa: E402
from batn.model import Unit  # noqa: E402
from batn.pipeline import load_period  # noqa: E402
from batn.tables import STATUS_HEADER, TOTAL_LABEL  # noqa: E402
from batn.xlsx.package import stamp_saved_time  # noqa: E402
from batn.xlsx.template import layout_rows, write_template  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CAT = load_catalogue("3tn-2024")
PERIOD = "2026-H1"
CODE = "CD_HIENMAU"
SENT = datetime(2026, 6, 10, 9, 0)
UNITS = [("T", "Đoàn khối Mẫu", "", "Đoàn trực thuộc"), ("A", "Chi đoàn A", "T", "Chi đoàn"),
         ("B", "Chi đoàn B", "T", "Chi đoàn"), ("C", "Chi đoàn C", "T", "Chi đoàn"), ("D", "Chi đoàn D", "T", "Chi đoàn")]
REVIEW = STATUS_HEADER.index("Duyệt")


def send(inbox: Path, code: str, values: dict, when: datetime, name: str | None = None) -> Path:
    p = write_template(inbox / (name or f"{code}.xlsx"), CAT, Unit(code, f"Chi đoàn {code}", "T"),
                       load_period(PERIOD), values=values)
    stamp_saved_time(p, when)
    return p


@pytest.fixture
def office(tmp_path):
    """tong_hop.xlsx for T with a ledger named in "Thiết lập", and an inbox: A and C clean, B with a lỗi, D nothing."""
    book = tmp_path / "tong_hop.xlsx"
    shutil.copy(ROOT / "workbooks" / "tong_hop.xlsx", book)
    wb = load_workbook(book)
    ws = wb[UNITS_SHEET]
    ws.delete_rows(UNITS_FIRST_ROW, ws.max_row)
    for r, row in enumerate(UNITS, start=UNITS_FIRST_ROW):
        for c, v in enumerate(row, start=1):
            ws.cell(r, c, v)
    for name, value in {"BATN_SET_UNIT": "T", "BATN_SET_PERIOD": PERIOD, "BATN_SET_CATALOG": "3tn-2024",
                        # a remote book has no folder: the paths are absolute
                        "BATN_SET_INBOX": str(tmp_path / "hop_thu"), "BATN_SET_OUTDIR": str(tmp_path / "ket_qua"),
                        "BATN_SET_LEDGER": str(tmp_path / "so" / "batn.sqlite3")}.items():
        _sheet, ref = wb.defined_names[name].attr_text.split("!")
        wb[SETTINGS_SHEET][ref.replace("$", "")] = value
    wb.save(book)
    inbox = tmp_path / "hop_thu"
    rng = random.Random(17)
    values = {c: {**sample_values(CAT, rng, 12), CODE: 10 * (i + 1)} for i, c in enumerate("ABC")}
    send(inbox, "A", values["A"], SENT)
    bad = send(inbox, "B", values["B"], SENT)
    row = layout_rows(CAT)[1][CODE].row
    H.rezip(bad, bad.with_name("B_tmp.xlsx"), H.in_part(H.SHEET_DATA, H.inline(f"D{row}", "hai mươi")))
    bad.unlink()
    bad.with_name("B_tmp.xlsx").rename(bad)
    stamp_saved_time(bad, SENT)
    send(inbox, "C", values["C"], SENT)
    return book, values


# ---------------------------------------------------------------- the workbook as Excel would send it

def _setting(path: Path, name: str, value) -> None:
    wb = load_workbook(path)
    _sheet, ref = wb.defined_names[name].attr_text.split("!")
    wb[SETTINGS_SHEET][ref.replace("$", "")] = value
    wb.save(path)


def _table_written(book, title: str) -> list[list]:
    ix = [s.name for s in book.sheets].index(title)
    writes = [a for a in actions(book, "setValues") if a["sheet_position"] == ix]
    assert len(writes) == 1, writes
    return writes[0]["values"]


def _keep(path: Path, book, title: str) -> list[list]:
    """Excel applies the door's writes and the clerk saves: `title` as the button wrote it, into the file."""
    rows = _table_written(book, title)
    wb = load_workbook(path)
    if title in wb.sheetnames:
        del wb[title]
    ws = wb.create_sheet(title)
    for row in rows:
        ws.append(row)
    wb.save(path)
    return rows


def _open(path: Path, sheet: str = SETTINGS_SHEET, selection: str = "A1"):
    """The book as Office.js sends it, with `sheet` active and `selection` selected."""
    payload = book_json(path)
    payload["book"]["active_sheet_index"] = [s["name"] for s in payload["sheets"]].index(sheet)
    payload["book"]["selection"] = selection
    return xw.Book(json=payload)


def _alert(book) -> str:
    alerts = actions(book, "alert")
    assert len(alerts) == 1, alerts
    return alerts[0]["args"][0]


def _states(rows: list[list]) -> dict[str, str]:
    assert rows[0][REVIEW] == "Duyệt"
    return {r[1]: r[REVIEW] for r in rows[1:]}


def _rows_of(rows: list[list], *codes: str) -> str:
    """The selection "B4:B5"-like covering the status rows of `codes` (1-based sheet rows)."""
    at = [i for i, r in enumerate(rows, start=1) if r[1] in codes]
    return f"B{min(at)}:B{max(at)}"


def _tong_hop(path: Path) -> tuple[list[list], object]:
    book = _open(path)
    result = buttons.tong_hop_script(book)
    assert result is not None, actions(book, "alert")
    return _keep(path, book, L.STATUS_SHEET), result


def _decisions(path: Path) -> list[tuple]:
    with Ledger(path.parent / "so" / "batn.sqlite3") as led:
        return [(e.unit, e.action, e.reason, e.who) for e in led.review_events(PERIOD)]


def _total(path: Path) -> object:
    cons = load_workbook(path.parent / "ket_qua" / consolidated_name("T", PERIOD))
    summary = cons["Tổng hợp theo đơn vị"]
    codes = [c.value for c in summary[2]]
    total = next(r for r in summary.iter_rows(values_only=True) if r[1] == TOTAL_LABEL)
    names = {n: cons.defined_names[n].attr_text for n in ("BATN_APPROVED", "BATN_WAITING", "BATN_SENT_BACK")}
    counts = {}
    for n, ref in names.items():
        sheet, cell = ref.split("!")
        counts[n] = cons[sheet.strip("'")][cell.replace("$", "")].value
    return total[codes.index(CODE)], counts


def _cli_states(path: Path) -> dict[str, str]:
    """`batn consolidate --ledger` on the same inbox and ledger: the command line sees the same states."""
    units = path.parent / "don_vi.csv"
    units.write_text("code,name,parent,level\n" + "\n".join(",".join(u) for u in UNITS), encoding="utf-8")
    r = CliRunner().invoke(app, ["consolidate", str(path.parent / "hop_thu"), "--units", str(units), "--catalog",
                                 "3tn-2024", "--period", PERIOD, "--out", str(path.parent / "cli.xlsx"), "--ledger",
                                 str(path.parent / "so" / "batn.sqlite3"), "--json"])
    assert r.exit_code in (0, 1), r.output
    return {u["code"]: u.get("review") for u in json.loads(r.stdout)["units"]}


# ---------------------------------------------------------------- the walk

def test_a_full_review_loop_through_the_excel_buttons(office):
    path, values = office
    status, _ = _tong_hop(path)
    assert not (path.parent / "so" / "batn.sqlite3").exists()        # nothing decided yet, no ledger made
    assert set(_states(status).values()) == {""}

    # Trả lại on xlwings Server/Lite: no input box, so without a reason in "Thiết lập" nothing is recorded
    book = _open(path, L.STATUS_SHEET, _rows_of(status, "B", "C"))
    assert buttons.tra_lai_script(book) is None
    assert "ghi lý do vào ô “Lý do trả lại”" in _alert(book)
    assert not (path.parent / "so" / "batn.sqlite3").exists()

    # 1. send B and C back: the two selected rows, the reason and the name from "Thiết lập"
    _setting(path, "BATN_SET_REASON", "Đề nghị bổ sung số liệu hiến máu")
    _setting(path, "BATN_SET_REVIEWER", "Văn thư")
    book = _open(path, L.STATUS_SHEET, _rows_of(status, "B", "C"))
    result = buttons.tra_lai_script(book)
    assert [u for u, _f in result.done] == ["B", "C"] and result.problems == []
    assert _decisions(path) == [("B", "trả lại", "Đề nghị bổ sung số liệu hiến máu", "Văn thư"),
                                ("C", "trả lại", "Đề nghị bổ sung số liệu hiến máu", "Văn thư")]
    status = _keep(path, book, L.STATUS_SHEET)
    assert _states(status) == {"T": "chưa nộp", "A": "đã nhận", "B": "cần sửa", "C": "cần sửa", "D": "chưa nộp"}
    msg = _alert(book)
    assert "Đã trả lại báo cáo 6 tháng đầu năm 2026 của Chi đoàn B (B.xlsx)" in msg
    assert "Lý do: Đề nghị bổ sung số liệu hiến máu" in msg
    settings_ix = [s.name for s in book.sheets].index(SETTINGS_SHEET)
    cleared = [a for a in actions(book, "setValues") if a["sheet_position"] == settings_ix]
    assert [a["values"] for a in cleared] == [[[""]]]           # the reason is not reused for the next unit
    _setting(path, "BATN_SET_REASON", None)
    assert _cli_states(path) == _states(status)

    # B's report still has its lỗi: Duyệt refuses it, by the same rule as `batn duyet`
    book = _open(path, L.STATUS_SHEET, _rows_of(status, "B"))
    result = buttons.duyet_script(book)
    assert result.done == [] and "còn 1 lỗi, chưa duyệt được" in _alert(book)
    assert len(_decisions(path)) == 2

    # 2. B resubmits, corrected; Tổng hợp shows it waiting, C still sent back
    send(path.parent / "hop_thu", "B", values["B"], SENT + timedelta(days=1), name="B_sua.xlsx")
    status, _ = _tong_hop(path)
    assert _states(status)["B"] == "đã nhận bản sửa" and _states(status)["C"] == "cần sửa"

    # 3. approve A and B, selected on the "Đơn vị" sheet; D sent nothing and is named
    first = UNITS_FIRST_ROW + [u[0] for u in UNITS].index("A")
    book = _open(path, UNITS_SHEET, f"B{first}:C{first + 1}")
    result = buttons.duyet_script(book)
    assert [u for u, _f in result.done] == ["A", "B"]
    status = _keep(path, book, L.STATUS_SHEET)
    assert _states(status)["A"] == "đã duyệt" and _states(status)["B"] == "đã duyệt"
    book = _open(path, UNITS_SHEET, f"A{first + 3}")
    assert buttons.duyet_script(book).problems == [f"D: chưa có báo cáo kỳ {PERIOD} trong thư mục nhận báo cáo"]
    assert _decisions(path)[2:] == [("A", "duyệt", "", "Văn thư"), ("B", "duyệt", "", "Văn thư")]
    status, _ = _tong_hop(path)
    total, counts = _total(path)
    assert total == values["A"][CODE] + values["B"][CODE] + values["C"][CODE]
    assert counts == {"BATN_APPROVED": 2, "BATN_WAITING": 0, "BATN_SENT_BACK": 1}

    # 4. A changes its report after approval: the approved figures stay until the change is approved
    send(path.parent / "hop_thu", "A", {**values["A"], CODE: 999}, SENT + timedelta(days=2), name="A_sau_duyet.xlsx")
    status, result = _tong_hop(path)
    assert _states(status)["A"] == "bản sửa sau khi duyệt"
    total, counts = _total(path)
    assert total == values["A"][CODE] + values["B"][CODE] + values["C"][CODE]
    assert counts == {"BATN_APPROVED": 1, "BATN_WAITING": 1, "BATN_SENT_BACK": 1}
    assert any(f.kind == "changed-after-approval" and f.unit == "A" for f in result.consolidation.findings)
    assert _cli_states(path) == _states(status)

    # 5. the change is approved (the row picked by the unit's name): its figures count now
    book = _open(path, L.STATUS_SHEET, f"C{[r[1] for r in status].index('A') + 1}")
    result = buttons.duyet_script(book)
    assert result.done == [("A", "A_sau_duyet.xlsx")]
    status, _ = _tong_hop(path)
    assert _states(status) == {"T": "chưa nộp", "A": "đã duyệt", "B": "đã duyệt", "C": "cần sửa", "D": "chưa nộp"}
    total, counts = _total(path)
    assert total == 999 + values["B"][CODE] + values["C"][CODE]
    assert counts == {"BATN_APPROVED": 2, "BATN_WAITING": 0, "BATN_SENT_BACK": 1}
    assert _cli_states(path) == _states(status)


def test_the_buttons_need_a_unit_row_and_a_ledger(office):
    path, _values = office
    book = _open(path, SETTINGS_SHEET, "B5")
    assert buttons.duyet_script(book) is None
    assert "Hãy chọn dòng của đơn vị" in _alert(book)
    _setting(path, "BATN_SET_LEDGER", None)
    book = _open(path, UNITS_SHEET, f"A{UNITS_FIRST_ROW + 1}")
    assert buttons.duyet_script(book) is None
    assert "chưa ghi “Sổ theo dõi (.sqlite3)”" in _alert(book)


def test_classic_excel_asks_the_reason_in_an_input_box(office):
    """Classic Excel (COM): Application.InputBox asks the reason, with the setting filled in; Cancel records nothing."""
    from remote_book import ClassicBook

    path, _values = office
    status, _ = _tong_hop(path)
    asked: list = []

    def open_classic(answer):
        book = ClassicBook(path)
        payload_book = book._book
        payload_book.api["book"]["active_sheet_index"] = [s.name for s in payload_book.sheets].index(L.STATUS_SHEET)
        payload_book.api["book"]["selection"] = _rows_of(status, "C")

        def input_box(prompt, title, default):
            asked.append((prompt, title, default))
            return answer
        book.app = type("ClassicApp", (), {"engine": book.app.engine, "api": type("Api", (), {
            "InputBox": staticmethod(input_box), "UserName": "Nguyễn Văn Thư"})(),
            "alert": book.app.alert, "status_bar": None})()
        return book

    assert buttons.tra_lai_book(open_classic(False)) is None            # Cancel
    assert not (path.parent / "so" / "batn.sqlite3").exists()
    result = buttons.tra_lai_book(open_classic("Thiếu danh sách gương điển hình"))
    assert asked[0][0] == "Lý do trả lại báo cáo của Chi đoàn C (gửi cho đơn vị):" and asked[0][2] == ""
    assert result.done and _decisions(path) == [("C", "trả lại", "Thiếu danh sách gương điển hình", "Nguyễn Văn Thư")]
