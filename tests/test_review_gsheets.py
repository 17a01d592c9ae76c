"""The review loop (issue 17) walked through the shared Google spreadsheet, against the local stand-in
of the Sheets API (every request checked against Google's discovery document).

The decisions are made with the command line (`batn tra-lai`, `batn duyet`) on the ledger of
`batn run`; each run's write-back shows the states (the status tab's "Duyệt" column, and each unit's
tab) and keeps a unit's inputs locked while its approval stands, unlocked once it is sent back:
send back two units, one resubmits, approve, a late change after approval, send that one back."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

pytest.importorskip("gspread")

import requests  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from batn.catalogue import load_catalogue  # noqa: E402
from batn.cli import app  # noqa: E402
from batn.gsheets import layout as G  # noqa: E402
from batn.gsheets.approval import MARK, base_description, before_approval, marked  # noqa: E402
from batn.gsheets.auth import SCOPE_DRIVE_FILE, connect  # noqa: E402
from batn.gsheets.deadline import lock_spreadsheet  # noqa: E402
from batn.gsheets.quota import Backoff  # noqa: E402
from batn.gsheets.setup import setup_spreadsheet  # noqa: E402
from batn.ledger import Ledger  # noqa: E402
from batn.pipeline import load_period  # noqa: E402
from batn.runconfig import load_config  # noqa: E402
from batn.scheduled import run  # noqa: E402
from batn.tables import STATUS_HEADER  # noqa: E402
from batn.units import load_units  # noqa: E402

from sheets_standin import SheetsStandIn  # noqa: E402
from test_scheduled_google import CLERK, ROBOT, _pem, _values, loopback_only  # noqa: E402,F401

UNITS = """code,name,parent,level,place,issuer,signer,contact
T,Tỉnh Đoàn Thử,,Tỉnh Đoàn,,,,
CD_A,Chi đoàn A,T,Chi đoàn,,,,a@doan.example.vn
CD_B,Chi đoàn B,T,Chi đoàn,,,,b@doan.example.vn
CD_C,Chi đoàn C,T,Chi đoàn,,,,c@doan.example.vn
CD_D,Chi đoàn D,T,Chi đoàn,,,,d@doan.example.vn
"""
NOW = datetime(2024, 12, 10, 9, 0)
CODE = "CV_T7TN_BUOI"
PEOPLE = {"CD_A": "a@doan.example.vn", "CD_B": "b@doan.example.vn", "CD_C": "c@doan.example.vn"}


@pytest.fixture
def sheet(tmp_path):
    """A spreadsheet set up by the clerk, shared with the server's account (a manager, so it may lock
    ranges); CD_A and CD_C typed clean figures, CD_B typed more members than young cadres (a lỗi)."""
    cat, period = load_catalogue("3tn-2024"), load_period("2024")
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "don_vi.csv").write_text(UNITS, encoding="utf-8")
    tree = load_units(ws / "don_vi.csv")
    with SheetsStandIn() as standin:
        (ws / "khoa.json").write_text(json.dumps({
            "type": "service_account", "project_id": "du-an-doan", "private_key_id": "0123abcd",
            "private_key": _pem(standin), "client_email": ROBOT, "client_id": "1",
            "token_uri": "https://oauth2.googleapis.com/token"}), encoding="utf-8")
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {standin.add_user(CLERK, (SCOPE_DRIVE_FILE,))}"
        clerk = connect(session=s, account=CLERK, api_base=standin.base_url, kind="user",
                        backoff=Backoff(sleep=lambda x: None))
        key = setup_spreadsheet(clerk, tree=tree, catalogue=cat, period=period, unit="T", share=[ROBOT]).key
        tl = G.tab_layout(cat)
        values = {"CD_A": _values(cat, 1), "CD_B": _values(cat, 2), "CD_C": _values(cat, 3)}
        values["CD_B"] = {**values["CD_B"], "TT_DOANVIEN": values["CD_B"]["TT_CBCCVC_TRE"] + 5}
        for code, v in values.items():
            for c, x in v.items():
                standin.type_into(key, f"'{code}'!D{tl.placed[c].row}", str(x), user=PEOPLE[code])
        cfg = ws / "run.toml"
        cfg.write_text(f"""period = "2024"
catalogue = "3tn-2024"
units = "don_vi.csv"
ledger = "so/batn.sqlite3"

[[sources]]
type = "google"
spreadsheet = "{key}"
write_back = true
credentials = "khoa.json"
api_base = "{standin.base_url}"

[outputs]
folder = "ket_qua"
reports = ["BaoCao.txt"]
""", encoding="utf-8")
        yield {"ws": ws, "cfg": cfg, "standin": standin, "key": key, "cat": cat, "tl": tl, "values": values,
               "clerk": clerk}
        assert standin.violations == []


def _run(w, hours: int = 0, log=None):
    return run(load_config(w["cfg"]), now=NOW + timedelta(hours=hours), log=log or (lambda m: None))


def cli(*args) -> tuple[int, str]:
    r = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in r.output, r.output
    return r.exit_code, r.output


def _status(w) -> dict[str, str]:
    """The "Duyệt" column of the status tab, by unit code."""
    rows = w["standin"].values(w["key"], f"'{G.STATUS_TAB}'!A1:Z30")
    header = next(r for r in rows if "Duyệt" in r)
    assert header == STATUS_HEADER[:5] + ["Duyệt"] + [("Nguồn" if h == "Tệp" else h) for h in STATUS_HEADER[6:]]
    at = header.index("Duyệt")
    return {r[1]: r[at] for r in rows[rows.index(header) + 1:] if len(r) > at and r[1]}


def _on_tab(w, code: str) -> str:
    return w["standin"].values(w["key"], f"'{code}'!{G.col_letter(G.REVIEW_COL)}{G.META_STATUS}")[0][0]


def _can_type(w, code: str, who: str | None = None) -> bool:
    return w["standin"].can_edit(w["key"], who or PEOPLE[code], f"'{code}'!D{w['tl'].placed[CODE].row}")


def _inputs(w, code: str) -> dict:
    prs = [p for p in w["standin"].protected_ranges(w["key"])
           if base_description(p.get("description", "")) == f"batn: ô nhập của {code}"]
    assert len(prs) == 1
    return prs[0]


def _state(w, unit: str) -> str:
    code, out = cli("lich-su", unit, "--config", w["cfg"], "--json")
    assert code == 0, out
    return json.loads(out)["review_state"]["2024"]


def _total(w) -> float:
    with Ledger(w["ws"] / "so" / "batn.sqlite3") as led:
        return led.totals_history("T")["2024"][CODE]


def test_a_full_review_loop_on_the_shared_sheet(sheet):
    w, values = sheet, sheet["values"]
    _run(w)
    assert _status(w) == {"T": "chưa nộp", "CD_A": "đã nhận", "CD_B": "đã nhận", "CD_C": "đã nhận",
                          "CD_D": "chưa nộp"}
    assert _on_tab(w, "CD_A") == "Duyệt: đã nhận"
    assert all(MARK not in p.get("description", "") for p in w["standin"].protected_ranges(w["key"]))

    # 1. the office sends CD_B and CD_C back: after the run, each tab says why; nothing is locked
    code, out = cli("tra-lai", "CD_B", "CD_C", "--ly-do", "Đề nghị kiểm tra lại số đoàn viên", "--config", w["cfg"],
                    "--nguoi", "Văn thư")
    assert code == 0, out
    _run(w, 1)
    assert _status(w)["CD_B"] == "cần sửa" and _status(w)["CD_C"] == "cần sửa"
    assert _on_tab(w, "CD_B") == "Duyệt: cần sửa — Đề nghị kiểm tra lại số đoàn viên"
    assert _can_type(w, "CD_B") and _can_type(w, "CD_A")

    # 2. CD_B corrects its figure in its tab
    w["standin"].type_into(w["key"], f"'CD_B'!D{w['tl'].placed['TT_DOANVIEN'].row}",
                           str(values["CD_B"]["TT_CBCCVC_TRE"]), user=PEOPLE["CD_B"])
    _run(w, 2)
    assert _state(w, "CD_B") == "đã nhận bản sửa" and _status(w)["CD_B"] == "đã nhận bản sửa"

    # 3. approve in bulk (CD_A, CD_B: no lỗi; CD_C was sent back and has not come back); the run locks them
    code, out = cli("duyet", "--tat-ca-dat", "--config", w["cfg"], "--json")
    assert sorted(d["unit"] for d in json.loads(out)["done"]) == ["CD_A", "CD_B"]
    assert _can_type(w, "CD_A")                       # the lock comes with the next run's write-back
    lines: list[str] = []
    _run(w, 3, log=lines.append)
    assert _status(w) == {"T": "chưa nộp", "CD_A": "đã duyệt", "CD_B": "đã duyệt", "CD_C": "cần sửa",
                          "CD_D": "chưa nộp"}
    assert _on_tab(w, "CD_A") == "Duyệt: đã duyệt"
    assert not _can_type(w, "CD_A") and not _can_type(w, "CD_B") and _can_type(w, "CD_C")
    assert _can_type(w, "CD_A", ROBOT) and _can_type(w, "CD_A", CLERK)
    pr = _inputs(w, "CD_A")
    assert pr["description"].startswith("batn: ô nhập của CD_A — đã duyệt, khoá nhập (trước đó: ")
    assert PEOPLE["CD_A"] in before_approval(pr["description"])[0]
    assert PEOPLE["CD_A"] not in pr["editors"]["users"]
    assert not any("Chưa khoá" in line for line in lines)
    locked = w["standin"].protected_ranges(w["key"])
    _run(w, 4)                                        # nothing decided meanwhile: the locks stay as they are
    assert w["standin"].protected_ranges(w["key"]) == locked

    # 4. a late change after approval (typed by the office for the unit): held, approved figures stay
    total = _total(w)
    assert total == values["CD_A"][CODE] + values["CD_B"][CODE] + values["CD_C"][CODE]
    w["standin"].type_into(w["key"], f"'CD_A'!D{w['tl'].placed[CODE].row}", "99", user=CLERK)
    out = _run(w, 5)
    assert _state(w, "CD_A") == "bản sửa sau khi duyệt" and _status(w)["CD_A"] == "bản sửa sau khi duyệt"
    assert any(f.kind == "changed-after-approval" and f.unit == "CD_A" for f in out.findings)
    assert _total(w) == total and not _can_type(w, "CD_A")    # still locked while the approval stands

    # 5. sent back: the unit may type again, its protection is as before the approval
    code, out = cli("tra-lai", "CD_A", "--ly-do", "Số buổi không khớp sổ sinh hoạt", "--config", w["cfg"])
    assert code == 0, out
    _run(w, 6)
    assert _status(w)["CD_A"] == "cần sửa" and _can_type(w, "CD_A")
    pr = _inputs(w, "CD_A")
    assert pr["description"] == "batn: ô nhập của CD_A" and PEOPLE["CD_A"] in pr["editors"]["users"]
    assert not _can_type(w, "CD_B")                                 # CD_B's approval stands


def test_approval_and_deadline_locks_undo_in_any_order(sheet):
    """The deadline lock (`batn gsheets chot`) over an approved unit, lifted again: the approved unit is
    locked again by the next run; sent back later, its people get their inputs back."""
    w = sheet
    _run(w)
    cli("duyet", "CD_A", "--config", w["cfg"])
    _run(w, 1)
    assert not _can_type(w, "CD_A")
    lock_spreadsheet(w["clerk"], w["key"], w["cat"], now=NOW + timedelta(hours=2))
    assert not _can_type(w, "CD_A") and not _can_type(w, "CD_C")
    lock_spreadsheet(w["clerk"], w["key"], w["cat"], unlock=True)
    assert _can_type(w, "CD_C")
    _run(w, 3)
    assert not _can_type(w, "CD_A") and _can_type(w, "CD_C")
    cli("tra-lai", "CD_A", "--ly-do", "Xem lại", "--config", w["cfg"])
    _run(w, 4)
    assert _can_type(w, "CD_A")


def test_the_approval_mark_round_trips():
    for editors, warning in ((["a@x.vn", "b@x.vn"], False), ([], True), ([], False)):
        d = marked("batn: dòng nhập của CD_A (Gương điển hình)", editors, warning)
        assert base_description(d) == "batn: dòng nhập của CD_A (Gương điển hình)"
        assert before_approval(d) == (editors, warning)
        assert marked(d, editors, warning) == d
    assert before_approval("batn: ô nhập của CD_A") is None
