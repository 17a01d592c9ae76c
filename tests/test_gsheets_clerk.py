"""Issue 18: the shared Google Sheet for a clerk with a Google account and no cloud console.

Sign-in as a person (OAuth installed-app flow against the stand-in's token endpoint, over real HTTP
on 127.0.0.1), the token file, sharing with the units, resumable setup with failures injected
mid-way, timeouts against a server that never answers, the deadline lock, the units' own notes, and
the check of every request against Google's discovery documents. Nothing here leaves this machine.
"""
from __future__ import annotations

import json
import random
import socket
import stat
import threading
import time
from datetime import datetime

import pytest
import requests

pytest.importorskip("gspread")
pytest.importorskip("google_auth_oauthlib")

from typer.testing import CliRunner  # noqa: E402

from batn import layout as L  # noqa: E402
from batn.gsheets import layout as G  # noqa: E402
from batn.gsheets import setup as setup_mod  # noqa: E402
from batn.gsheets import signin  # noqa: E402
from batn.gsheets.auth import SCOPE_DRIVE_FILE, AuthError, connect  # noqa: E402
from batn.gsheets.cli import gsheets_app  # noqa: E402
from batn.gsheets.consolidate import consolidate_spreadsheets  # noqa: E402
from batn.gsheets.deadline import lock_spreadsheet  # noqa: E402
from batn.gsheets.quota import Backoff, GoogleDoorError, QuotaExhausted, Timeouts, UncertainWrite  # noqa: E402
from batn.gsheets.setup import SetupIncomplete, setup_spreadsheet  # noqa: E402

from sheets_standin import SheetsStandIn  # noqa: E402
from test_gsheets import ADMIN, AS_OF, UNITS, _sa_file, connect_as, fill_tab, values_for  # noqa: E402
from test_gsheets import cat, loopback_only, period, tree  # noqa: E402,F401  (fixtures)

CLIENT_ID, CLIENT_SECRET = "123-batn.apps.googleusercontent.com", "GOCSPX-standin"
CLIENT = {"installed": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                        "token_uri": "https://oauth2.googleapis.com/token",
                        "redirect_uris": ["http://localhost"]}}
QUICK = Backoff(retries=2, sleep=lambda s: None, rng=random.Random(0))


@pytest.fixture
def standin():
    with SheetsStandIn() as s:
        s.register_oauth_client(CLIENT_ID, CLIENT_SECRET)
        yield s
        assert s.violations == [], "requests Google's discovery document does not know"


def browser_for(standin: SheetsStandIn, email: str, seen: list):
    """The clerk's browser: shown the consent address, it consents and follows the redirect to batn's
    loopback listener (in a thread: batn is about to wait for it)."""
    def show(url: str) -> None:
        seen.append(url)
        back = standin.consent(url, email)

        def go() -> None:
            time.sleep(0.05)
            seen.append(requests.get(back, timeout=5).text)
        threading.Thread(target=go, daemon=True).start()
    return show


# ------------------------------------------------------------------ 1. sign in as a person

def test_sign_in_with_the_browser_stores_a_private_token_and_every_command_uses_it(standin, tree, cat, period):
    seen: list = []
    done = signin.sign_in(CLIENT, show=browser_for(standin, "van.thu@gmail.com", seen), api_base=standin.base_url,
                          wait=10)
    assert done.account == "van.thu@gmail.com"
    # the browser thread reads the landing page after batn's listener has answered (and sign_in returned)
    until = time.monotonic() + 10
    while len(seen) < 2 and time.monotonic() < until:
        time.sleep(0.02)
    url = seen[0]
    assert url.startswith("https://accounts.google.com/o/oauth2/auth?") and "code_challenge_method=S256" in url
    assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in url and "access_type=offline" in url
    assert "batn: đã đăng nhập Google xong" in seen[1]          # the page the browser lands on
    # least privilege: drive.file and who signed in, nothing wider
    assert set(done.scopes) == {"openid", "https://www.googleapis.com/auth/userinfo.email", SCOPE_DRIVE_FILE}
    # stored in the user's folder, readable by that user only, with no access token in it
    path = signin.token_path()
    assert path == done.path and path.parent == signin.config_dir()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    info = json.loads(path.read_text(encoding="utf-8"))
    assert info["type"] == "authorized_user" and info["refresh_token"].startswith("1//") and "token" not in info
    # connect() finds it with no key given: the refresh token is exchanged at the (stand-in's) token endpoint
    conn = connect(api_base=standin.base_url, backoff=QUICK)
    assert (conn.account, conn.kind) == ("van.thu@gmail.com", "user")
    res = setup_spreadsheet(conn, tree=tree, catalogue=cat, period=period, unit="T")
    ss = standin.spreadsheets[res.key]
    assert res.created and ss.owner == "van.thu@gmail.com" and ss.created_by_app     # in the clerk's Drive
    # shared with every unit's e-mail from the units file's contact column, as editors
    assert ss.shares == {"a@doan.example.vn": "writer", "b@doan.example.vn": "writer", "c@doan.example.vn": "writer"}
    assert sorted(res.shared) == sorted(ss.shares)
    grants = [e for e in standin.log if e.kind == "token"]
    assert [e.status for e in grants] == [200, 200]              # the code, then the refresh
    # a rerun shares nobody twice (no second invitation e-mail)
    standin.reset_log()
    again = setup_spreadsheet(conn, tree=tree, catalogue=cat, period=period, unit="T", spreadsheet=res.key)
    assert again.shared == [] and not [e for e in standin.log if e.path.endswith("/permissions") and e.method == "POST"]
    # the whole path works with drive.file alone: fill, consolidate
    fill_tab(standin, res.key, "CD_A", values_for(cat, 1), cat, user="a@doan.example.vn")
    run = consolidate_spreadsheets(conn, [res.key], tree, cat, period, as_of=AS_OF)
    assert run.consolidation.totals["TT_DOANVIEN"] == values_for(cat, 1)["TT_DOANVIEN"]
    # a spreadsheet batn did not create is out of reach, and the clerk is told why
    other = standin.new_spreadsheet("Bảng tính khác", "van.thu@gmail.com")
    with pytest.raises(GoogleDoorError, match="drive.file"):
        consolidate_spreadsheets(conn, [other], tree, cat, period)
    # revoked (or expired): sign in again
    standin.refresh_tokens.clear()
    with pytest.raises(AuthError, match="dang-nhap"):
        consolidate_spreadsheets(connect(api_base=standin.base_url, backoff=QUICK), [res.key], tree, cat, period)


def test_copy_paste_sign_in_on_the_command_line_then_setup_and_consolidate(standin, tmp_path, monkeypatch, cat):
    """No browser on this machine: the address is opened elsewhere and the redirect address pasted back."""
    (tmp_path / "client.json").write_text(json.dumps(CLIENT), encoding="utf-8")
    back: list = []
    real = signin._print_address

    def shown(url: str) -> None:
        real(url)
        back.append(standin.consent(url, "van.thu@gmail.com"))
    monkeypatch.setattr(signin, "_print_address", shown)
    monkeypatch.setattr("builtins.input", lambda prompt="": back[-1])
    runner = CliRunner()
    r = runner.invoke(gsheets_app, ["dang-nhap", "--khong-trinh-duyet", "--client", str(tmp_path / "client.json"),
                                    "--api-base", standin.base_url])
    assert r.exit_code == 0, r.output
    assert "Mở địa chỉ sau bằng trình duyệt" in r.output and "Đã đăng nhập Google: van.thu@gmail.com" in r.output
    # the clerk's path: create (shared with the units), fill, consolidate; no key anywhere
    (tmp_path / "u.csv").write_text(UNITS, encoding="utf-8")
    common = ["--units", str(tmp_path / "u.csv"), "--catalog", "3tn-2024", "--period", "2024",
              "--api-base", standin.base_url]
    r = runner.invoke(gsheets_app, ["setup", "--unit", "T", *common])
    assert r.exit_code == 0, r.output
    assert "Đã tạo bảng tính" in r.output and "Đã chia sẻ (quyền Người chỉnh sửa) cho 3 địa chỉ" in r.output
    key = r.output.split("/spreadsheets/d/")[1].split("/")[0]
    fill_tab(standin, key, "CD_B", values_for(cat, 2), cat, user="b@doan.example.vn")
    r = runner.invoke(gsheets_app, ["consolidate", key, *common])
    assert r.exit_code == 0, r.output and "Đã gửi báo cáo: 1/4" in r.output
    r = runner.invoke(gsheets_app, ["dang-xuat"])
    assert "Đã xóa đăng nhập" in r.output and not signin.token_path().exists()


def test_sign_in_refusals_are_explained(standin, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt="": "http://127.0.0.1:9/?error=access_denied&state=x")
    with pytest.raises(signin.SignInError, match="chưa cấp quyền"):
        signin.sign_in(CLIENT, browser=False, show=lambda u: None, api_base=standin.base_url)
    with pytest.raises(signin.SignInError, match="không thuộc lần đăng nhập này"):
        signin.code_from("http://127.0.0.1:9/?state=cu&code=4/abc", "moi")
    assert signin.code_from("4/abc ", "s") == "4/abc"
    monkeypatch.setattr("builtins.input", lambda prompt="": "4/ma-sai")
    with pytest.raises(signin.SignInError, match="không cấp quyền đăng nhập"):
        signin.sign_in(CLIENT, browser=False, show=lambda u: None, api_base=standin.base_url)
    assert not signin.token_path().exists()
    with pytest.raises(signin.SignInError, match="oauth_client.json"):
        signin.load_client()                                       # this checkout ships no client


# ------------------------------------------------------------------ 2. bounded and resumable

def _protected_titles(standin, key) -> set:
    return {p["sheetTitle"] for p in standin.protected_ranges(key)}


def test_setup_resumes_after_an_uncertain_batch_and_never_leaves_a_tab_unprotected(standin, tree, cat, period,
                                                                                monkeypatch):
    monkeypatch.setattr(setup_mod, "MAX_BATCH_REQUESTS", 40)      # many batches, as for a big province
    unprotected: list = []

    def check(s, key):
        ss = s.spreadsheets.get(key)
        if ss is not None:
            bare = {sh.title for sh in ss.sheets} - {p["sheetTitle"] for p in s.protected_ranges(key)}
            if bare:
                unprotected.append(bare)
    standin.after_write.append(check)
    conn = connect_as(standin)
    # Google applies a batch that adds tabs and protections, but the answer is lost: batn must not send it again
    standin.fail(":batchUpdate", nth=2, applied=True, how="drop", contains='"addSheet"')
    res = setup_spreadsheet(conn, tree=tree, catalogue=cat, period=period, unit="T")
    assert res.replans == 1 and res.batches > 3
    titles = standin.titles(res.key)
    assert len(titles) == len(set(titles)) == 7
    assert unprotected == []                                       # after every batch, every tab protected
    assert len(standin.protected_ranges(res.key)) == 3 * 2 + 3 + 1
    assert all(e.status != 400 for e in standin.api_requests())    # never "already exists"

    # a batch that failed for good: setup stops, the spreadsheet is named, a rerun completes it
    monkeypatch.setattr(setup_mod, "MAX_REPLANS", 0)
    standin.fail(":batchUpdate", nth=3, applied=False, how="drop", contains='"addProtectedRange"')
    with pytest.raises(SetupIncomplete) as e:
        setup_spreadsheet(conn, tree=tree, catalogue=cat, period=period, unit="T", title="Lần hai")
    key = e.value.key
    assert f"--spreadsheet {key}" in str(e.value) and unprotected == []
    assert len(standin.titles(key)) < 7
    done = setup_spreadsheet(conn, tree=tree, catalogue=cat, period=period, unit="T", spreadsheet=key)
    assert standin.titles(key) == titles and len(standin.protected_ranges(key)) == 10 and unprotected == []
    row = G.tab_layout(cat).placed["TT_DOANVIEN"].row
    assert standin.values(key, "'DK_C'!C8") == [[L.KIND_TOTAL]]            # every tab has its kind
    # the units were not shared with before the stop (they would have found tabs half made): now they are
    assert sorted(done.shared) == ["a@doan.example.vn", "b@doan.example.vn", "c@doan.example.vn"]
    assert standin.can_edit(key, "a@doan.example.vn", f"'CD_A'!D{row}")
    assert not standin.can_edit(key, "a@doan.example.vn", f"'CD_B'!D{row}")


def test_retries_only_where_a_repeat_is_harmless(standin, tree, cat, period):
    conn = connect_as(standin, backoff=QUICK)
    key = setup_spreadsheet(conn, tree=tree, catalogue=cat, period=period, unit="T").key
    standin.reset_log()
    # a write of values (harmless twice) is sent again after a 500
    standin.fail("values:batchUpdate", applied=True, how="500")
    conn.http.values_batch_update(key, {"valueInputOption": "RAW",
                                        "data": [{"range": f"'{G.STATUS_TAB}'!A1", "values": [["x"]]}]})
    assert [e.status for e in standin.api_requests()] == [500, 200]
    # adding a tab is not: one request, then UncertainWrite, and the tab is there once
    standin.reset_log()
    standin.fail(":batchUpdate", applied=True, how="500")
    with pytest.raises(UncertainWrite, match="không tự gửi lại"):
        conn.http.batch_update(key, {"requests": [{"addSheet": {"properties": {"title": "Nháp"}}}]})
    assert len(standin.api_requests()) == 1 and standin.titles(key).count("Nháp") == 1
    # a 429 was refused before anything was done: any request may be sent again
    standin.reset_log()
    standin.storm(1, statuses=(429,))
    conn.http.batch_update(key, {"requests": [{"addSheet": {"properties": {"title": "Nháp 2"}}}]})
    assert [e.status for e in standin.api_requests()] == [429, 200]


@pytest.fixture
def silent_server():
    """Accepts connections and never answers."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    held: list = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                continue
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}", held
    stop.set()
    t.join(2)
    for c in held:
        c.close()
    srv.close()


def test_a_server_that_never_answers_cannot_hang_a_run(silent_server, tmp_path, tree, cat, period, standin):
    base, held = silent_server
    bounded = Timeouts(connect=0.5, read=0.3)
    s = requests.Session()
    s.headers["Authorization"] = "Bearer x"
    conn = connect(session=s, account=ADMIN, api_base=base, timeouts=bounded, backoff=QUICK, kind="user")
    t0 = time.monotonic()
    with pytest.raises(QuotaExhausted, match="không trả lời trong thời gian chờ"):
        consolidate_spreadsheets(conn, ["abc"], tree, cat, period)       # a read: tried 3 times, then stops
    assert time.monotonic() - t0 < 5 and len(held) == 3
    # a write that may have gone through is not repeated
    t0 = time.monotonic()
    with pytest.raises(UncertainWrite):
        conn.http.batch_update("abc", {"requests": [{"addSheet": {"properties": {"title": "X"}}}]})
    assert time.monotonic() - t0 < 2 and len(held) == 4
    # the token request of a service account is bounded too
    key = _sa_file(tmp_path, standin)
    t0 = time.monotonic()
    with pytest.raises(GoogleDoorError):
        consolidate_spreadsheets(connect(key, api_base=base, timeouts=bounded, backoff=QUICK), ["abc"], tree, cat,
                                 period)
    assert time.monotonic() - t0 < 5
    # and so is signing in
    with pytest.raises(signin.SignInError, match="Không kết nối được tới Google"):
        signin.sign_in(CLIENT, browser=False, show=lambda u: None, ask=lambda p: "4/ma", api_base=base,
                       timeouts=bounded)


# ------------------------------------------------------------------ 3. the deadline lock

def test_deadline_lock_locks_inputs_records_cutoff_and_reports_later_edits(standin, tree, cat, period, tmp_path):
    conn = connect_as(standin)
    key = setup_spreadsheet(conn, tree=tree, catalogue=cat, period=period, unit="T").key
    row = G.tab_layout(cat).placed["TT_DOANVIEN"].row
    fill_tab(standin, key, "CD_A", values_for(cat, 1), cat, user="a@doan.example.vn")
    res = lock_spreadsheet(conn, key, cat, now=datetime(2024, 12, 20, 17, 0))
    assert res.changed and res.at == "17:00 20/12/2024" and set(res.units) == {"CD_A", "CD_B", "DK_C"}
    assert standin.values(key, f"'{G.CUTOFF_TAB}'!A1:C1") == [["Chốt số liệu lúc:", "17:00 20/12/2024",
                                                               "2024-12-20T17:00:00"]]
    assert not standin.can_edit(key, "a@doan.example.vn", f"'CD_A'!D{row}")     # locked
    assert not standin.can_edit(key, "b@doan.example.vn", f"'CD_B'!D{row}")
    assert not standin.can_edit(key, "a@doan.example.vn", f"'{G.CUTOFF_TAB}'!B4")
    run = consolidate_spreadsheets(conn, [key], tree, cat, period, as_of=AS_OF)
    assert not [f for f in run.consolidation.findings if f.kind == "edited-after-cutoff"]
    # locking again changes nothing; a setup rerun keeps the lock
    assert not lock_spreadsheet(conn, key, cat).changed
    again = setup_spreadsheet(conn, tree=tree, catalogue=cat, period=period, unit="T", spreadsheet=key)
    assert any("đã chốt" in w for w in again.warnings)
    assert not standin.can_edit(key, "a@doan.example.vn", f"'CD_A'!D{row}")
    # after the cut-off, the owner changes a figure and a unit that had sent nothing gets one typed in
    standin.type_into(key, f"'CD_A'!D{row}", str(values_for(cat, 1)["TT_DOANVIEN"] + 1))
    fill_tab(standin, key, "CD_B", {"TT_DOANVIEN": 3}, cat)
    run = consolidate_spreadsheets(conn, [key], tree, cat, period, as_of=AS_OF)
    late = {f.unit: f.message for f in run.consolidation.findings if f.kind == "edited-after-cutoff"}
    assert set(late) == {"CD_A", "CD_B"} and "Sửa sau hạn" in late["CD_A"] and "17:00 20/12/2024" in late["CD_A"]
    findings = standin.values(key, f"'{G.FINDINGS_TAB}'!A1:G30")
    assert any("Sửa sau hạn" in str(r[-1]) for r in findings[1:])
    # the command line, then unlocking gives the units their inputs back
    r = CliRunner().invoke(gsheets_app, ["chot", key, "--catalog", "3tn-2024", "--api-base", standin.base_url,
                                         "--credentials", str(_sa_file(tmp_path, standin))])
    assert r.exit_code == 2 and "chưa được chia sẻ" in r.output          # the server's account was not shared
    res = lock_spreadsheet(conn, key, cat, unlock=True)
    assert res.changed and G.CUTOFF_TAB not in standin.titles(key)
    assert standin.can_edit(key, "a@doan.example.vn", f"'CD_A'!D{row}")
    assert not standin.can_edit(key, "a@doan.example.vn", f"'CD_B'!D{row}")


# ------------------------------------------------------------------ 4. notes

def test_units_own_notes_are_kept_only_batns_are_cleared(standin, tree, cat, period):
    conn = connect_as(standin)
    key = setup_spreadsheet(conn, tree=tree, catalogue=cat, period=period, unit="T").key
    tl = G.tab_layout(cat)
    row, other = tl.placed["TT_DOANVIEN"].row, tl.placed["TT_CBCCVC_TRE"].row
    bad = values_for(cat, 1)
    bad["TT_DOANVIEN"] = bad["TT_CBCCVC_TRE"] + 3
    fill_tab(standin, key, "CD_A", bad, cat, user="a@doan.example.vn")
    unit_a = connect_as(standin, "a@doan.example.vn", scopes=("https://www.googleapis.com/auth/spreadsheets",))
    sid = standin.spreadsheets[key].sheet_by_title("CD_A").id
    mine = "Số liệu theo Quyết định 12/QĐ-ĐTN"
    unit_a.http.batch_update(key, {"requests": [
        {"updateCells": {"start": {"sheetId": sid, "rowIndex": r - 1, "columnIndex": 3},
                         "rows": [{"values": [{"note": mine}]}], "fields": "note"}} for r in (row, other)]})
    consolidate_spreadsheets(conn, [key], tree, cat, period, as_of=AS_OF)
    marked = standin.cell(key, f"'CD_A'!D{row}")["note"]
    assert marked.startswith(mine + "\n\n[batn kiểm tra]\n[lỗi]")
    assert standin.cell(key, f"'CD_A'!D{other}")["note"] == mine           # no finding: untouched
    consolidate_spreadsheets(conn, [key], tree, cat, period, as_of=AS_OF)   # the same finding: the same note
    assert standin.cell(key, f"'CD_A'!D{row}")["note"] == marked
    standin.type_into(key, f"'CD_A'!D{row}", str(bad["TT_CBCCVC_TRE"]))    # fixed
    consolidate_spreadsheets(conn, [key], tree, cat, period, as_of=AS_OF)
    assert standin.cell(key, f"'CD_A'!D{row}")["note"] == mine             # batn's part gone, the unit's kept
    assert standin.cell(key, f"'CD_A'!D{other}")["note"] == mine


# ------------------------------------------------------------------ 5. Google's discovery documents

def test_requests_are_checked_against_googles_discovery_documents(standin):
    from discovery import check_request

    ok = check_request("POST", "/v4/spreadsheets/abc:batchUpdate", {}, {"requests": [
        {"repeatCell": {"range": {"sheetId": 1}, "cell": {"note": "x"}, "fields": "note,userEnteredFormat.backgroundColor"}},
        {"updateProtectedRange": {"protectedRange": {"protectedRangeId": 7, "warningOnly": False},
                                  "fields": "warningOnly,editors"}}]})
    assert ok == []
    assert check_request("GET", "/v4/spreadsheets/abc", {"fields": ["sheets(properties(sheetId),data(rowData("
                                                                    "values(note))))"], "ranges": ["A1", "B2"]}, None) == []
    assert check_request("GET", "/drive/v3/files/abc/permissions", {"fields": ["nextPageToken,permissions("
                                                                              "emailAddress,role)"]}, None) == []
    bad = {
        "method": check_request("POST", "/v4/spreadsheets/abc:sortTabs", {}, {}),
        "parameter": check_request("GET", "/v4/spreadsheets/abc/values:batchGet", {"render": ["x"]}, None),
        "enum": check_request("GET", "/v4/spreadsheets/abc/values/A1", {"valueRenderOption": ["RAW"]}, None),
        "field": check_request("POST", "/v4/spreadsheets/abc:batchUpdate", {},
                               {"requests": [{"addSheet": {"properties": {"titel": "x"}}}]}),
        "request kind": check_request("POST", "/v4/spreadsheets/abc:batchUpdate", {},
                                      {"requests": [{"addTab": {}}]}),
        "mask": check_request("POST", "/v4/spreadsheets/abc:batchUpdate", {},
                              {"requests": [{"repeatCell": {"range": {}, "cell": {}, "fields": "comment"}}]}),
        "type": check_request("POST", "/v4/spreadsheets/abc:batchUpdate", {},
                              {"requests": [{"addSheet": {"properties": {"index": "2"}}}]}),
        "partial response": check_request("GET", "/v4/spreadsheets/abc", {"fields": ["sheets(protections)"]}, None),
    }
    assert all(bad.values()), {k: v for k, v in bad.items() if not v}
    assert "titel" in bad["field"][0] and "comment" in bad["mask"][0]
    # through the stand-in: refused with 400, and kept for the fixture's check
    conn = connect_as(standin)
    key = standin.new_spreadsheet("x", ADMIN)
    standin.spreadsheets[key].created_by_app = True
    with pytest.raises(Exception):
        conn.http.batch_update(key, {"requests": [{"addSheet": {"properties": {"titel": "x"}}}]})
    assert standin.violations and "titel" in standin.violations[0]
    standin.violations.clear()
