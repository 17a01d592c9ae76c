"""`batn run` with a Google Sheets source, against the local stand-in of the Sheets API.

One run reads an inbox folder and a shared spreadsheet and consolidates both; each unit's figures
read from the sheet are archived in the ledger like a file (`<sha256>.json`), so a re-run on an
unchanged sheet adds no row and a figure changed in the sheet yields exactly its value-level diff;
a 429/503 storm during the run is survived by the door's backoff. Nothing here reaches Google.
"""
from __future__ import annotations

import json
import os
import random
import socket
from datetime import datetime, timedelta
from pathlib import Path

import pytest

pytest.importorskip("gspread")

import requests  # noqa: E402

from batn.xlsx.package import stamp_saved_time
from batn.catalogue import load_catalogue  # noqa: E402
from batn.demo import sample_values  # noqa: E402
from batn.gsheets import layout as G  # noqa: E402
from batn.gsheets.auth import SCOPE_DRIVE_FILE, SCOPE_SHEETS, connect  # noqa: E402
from batn.gsheets.quota import Backoff  # noqa: E402
from batn.gsheets.read import read_spreadsheet  # noqa: E402
from batn.gsheets.setup import setup_spreadsheet  # noqa: E402
from batn.ledger import Ledger  # noqa: E402
from batn.pipeline import load_period  # noqa: E402
from batn.run_cli import run_command  # noqa: E402
from batn.runconfig import ConfigError, load_config  # noqa: E402
from batn.scheduled import SourceError, run  # noqa: E402
from batn.units import load_units  # noqa: E402
from batn.xlsx.template import write_template  # noqa: E402

from sheets_standin import SheetsStandIn  # noqa: E402

ROBOT = "batn-lich@du-an-doan.iam.gserviceaccount.com"     # the server's service account: runs `batn run`
CLERK = "van.thu.tinh.doan@gmail.com"                      # signed in as a person: creates and shares the sheet
UNITS = """code,name,parent,level,place,issuer,signer,contact
T,Tỉnh Đoàn Thử,,Tỉnh Đoàn,,,,
CD_A,Chi đoàn A,T,Chi đoàn,,,,a@doan.example.vn
CD_B,Chi đoàn B,T,Chi đoàn,,,,b@doan.example.vn
CD_C,Chi đoàn C,T,Chi đoàn,,,,c@doan.example.vn
"""
QUIET = dict(log=lambda m: None)
DEADLINE = datetime(2024, 12, 20)
NOW = DEADLINE - timedelta(days=2)          # the runs' clock: before the deadline, nobody is late


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch, tmp_path_factory):
    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise OSError(f"a test tried to reach {host}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    monkeypatch.delenv("BATN_SHEETS_API_BASE", raising=False)
    monkeypatch.delenv("BATN_GOOGLE_CREDENTIALS", raising=False)
    monkeypatch.setenv("BATN_CONFIG_DIR", str(tmp_path_factory.mktemp("cau_hinh")))   # no stored sign-in


class FakeClock:
    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


_RSA: dict = {}


def _pem(standin: SheetsStandIn) -> str:
    if "key" not in _RSA:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _RSA["key"] = k
        _RSA["pem"] = k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode()
    standin.register_service_account(ROBOT, _RSA["key"].public_key())
    return _RSA["pem"]


def _values(cat, seed: int) -> dict:
    v = dict(sample_values(cat, random.Random(seed), 15))
    v["CV_T7TN_BUOI"] = 12
    v["CV_T7TN_LUOT"] = max(v["CV_T7TN_LUOT"], 30)
    return v


@pytest.fixture
def world(tmp_path):
    """A workspace (units, an inbox with CD_B's file, a key file) and a shared spreadsheet for T
    where CD_A has typed its figures and CD_C nothing."""
    cat, period = load_catalogue("3tn-2024"), load_period("2024")
    ws = tmp_path / "ws"
    (ws / "hop_thu").mkdir(parents=True)
    (ws / "don_vi.csv").write_text(UNITS, encoding="utf-8")
    tree = load_units(ws / "don_vi.csv")
    p = write_template(ws / "hop_thu" / "BaoCao_CD_B.xlsx", cat, tree["CD_B"], period, values=_values(cat, 2))
    sent = (DEADLINE - timedelta(days=5)).timestamp()
    stamp_saved_time(p, datetime.fromtimestamp(sent))
    with SheetsStandIn() as standin:
        pem = _pem(standin)
        (ws / "khoa.json").write_text(json.dumps({
            "type": "service_account", "project_id": "du-an-doan", "private_key_id": "0123abcd", "private_key": pem,
            "client_email": ROBOT, "client_id": "1", "token_uri": "https://oauth2.googleapis.com/token"}),
            encoding="utf-8")
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {standin.add_user(CLERK, (SCOPE_DRIVE_FILE,))}"
        clerk = connect(session=s, account=CLERK, api_base=standin.base_url, kind="user",
                        backoff=Backoff(sleep=lambda x: None))
        # the clerk creates the sheet and shares it with the server's account, which may write back
        key = setup_spreadsheet(clerk, tree=tree, catalogue=cat, period=period, unit="T", share=[ROBOT]).key
        assert standin.spreadsheets[key].shares[ROBOT] == "writer"
        tl = G.tab_layout(cat)
        for code, v in _values(cat, 1).items():
            standin.type_into(key, f"'CD_A'!D{tl.placed[code].row}", str(v))
        standin.reset_log()
        yield {"ws": ws, "standin": standin, "key": key, "cat": cat, "tree": tree, "period": period,
               "row": tl.placed["CV_T7TN_BUOI"].row, "clerk": clerk}
        assert standin.violations == []


def _config(w, *, write_back: bool = False, extra: str = "", in_env: bool = False) -> Path:
    google = "" if in_env else f'credentials = "khoa.json"\napi_base = "{w["standin"].base_url}"\n'
    text = f"""period = "2024"
catalogue = "3tn-2024"
units = "don_vi.csv"
ledger = "so/batn.sqlite3"

[[sources]]
type = "folder"
path = "hop_thu"

[[sources]]
type = "google"
name = "Bảng tính chung"
spreadsheet = "https://docs.google.com/spreadsheets/d/{w["key"]}/edit#gid=0"
write_back = {"true" if write_back else "false"}
{google}{extra}
[outputs]
folder = "ket_qua"
reports = ["BaoCao_{{root}}_{{period}}.txt"]
"""
    cfg = w["ws"] / "run.toml"
    cfg.write_text(text, encoding="utf-8")
    return cfg


def _run(cfg: Path, **kw):
    return run(load_config(cfg), **{"now": NOW, **QUIET, **kw})


def _counts(w) -> dict:
    with Ledger(w["ws"] / "so" / "batn.sqlite3") as led:
        return led.counts()


# ------------------------------------------------------------------ the run

def test_folder_and_google_consolidated_rerun_adds_nothing_change_is_its_diff(world):
    w, cat = world, world["cat"]
    cfg = _config(w, write_back=True)
    first = _run(cfg)
    a, b = _values(cat, 1), _values(cat, 2)
    assert first.run_id == 1 and first.files == 2 and (first.sent, first.expected) == (2, 3)
    assert first.written_back == [f"https://docs.google.com/spreadsheets/d/{w['key']}/edit"]
    with Ledger(w["ws"] / "so" / "batn.sqlite3") as led:
        totals = led.totals_history("T")["2024"]
        assert totals["TT_DOANVIEN"] == a["TT_DOANVIEN"] + b["TT_DOANVIEN"]
        subs = {s.unit: s for s in led.submissions()}
        assert subs["CD_B"].source.endswith("BaoCao_CD_B.xlsx")
        assert f"/d/{w['key']}/" in subs["CD_A"].source and subs["CD_A"].used
        assert subs["CD_A"].received == NOW.timestamp() and subs["CD_A"].status == "đã nộp"
        # archived as <sha>.json, whose SHA-256 is the ledger's
        copy = led.archive_dir / subs["CD_A"].sha256[:2] / f"{subs['CD_A'].sha256}.json"
        doc = json.loads(copy.read_text(encoding="utf-8"))
        assert doc["unit"] == "CD_A" and doc["values"]["CV_T7TN_BUOI"] == 12
        import hashlib
        assert hashlib.sha256(copy.read_bytes()).hexdigest() == subs["CD_A"].sha256
        # the run's figures are the door's: the same Submission values as read_spreadsheet gives
        conn = connect(w["ws"] / "khoa.json", api_base=w["standin"].base_url)
        door = {s.unit: s for s in read_spreadsheet(conn.http, w["key"], cat).submissions}
        assert set(door) == {"CD_A"}
        assert led.own_history("CD_A")["2024"] == {c: (None if v is None else float(v))
                                                  for c, v in door["CD_A"].values.items()}
    # written back: the status tab says who sent, from the file or the sheet
    status = {r[1]: r[4] for r in w["standin"].values(w["key"], f"'{G.STATUS_TAB}'!A1:I20")[3:] if len(r) > 4}
    assert status == {"T": "đơn vị tổng hợp", "CD_A": "đã nộp", "CD_B": "đã nộp", "CD_C": "chưa nộp"}
    text = (w["ws"] / "ket_qua" / "BaoCao_T_2024.txt").read_bytes()

    counts = _counts(w)
    again = _run(cfg, now=NOW + timedelta(hours=3))        # a later run, nothing typed meanwhile
    assert again.run_id is None and again.written == [] and again.changes == []
    assert _counts(w) == counts
    assert (w["ws"] / "ket_qua" / "BaoCao_T_2024.txt").read_bytes() == text

    w["standin"].type_into(w["key"], f"'CD_A'!D{w['row']}", "21")     # the clerk corrects one figure
    third = _run(cfg, now=NOW + timedelta(hours=6))
    assert third.run_id == 2
    assert [(c.unit, c.code, c.old, c.new) for c in third.changes] == [("CD_A", "CV_T7TN_BUOI", 12, 21)]
    assert [c.sentence() for c in third.changes] == ["Chi đoàn A sửa CV_T7TN_BUOI từ 12 thành 21"]
    with Ledger(w["ws"] / "so" / "batn.sqlite3") as led:
        assert len(led.changes()) == 1
        assert [s.used for s in led.submissions("CD_A")] == [False, True]
        assert led.totals_history("T")["2024"]["CV_T7TN_BUOI"] == 21 + 12
        assert led.check(deep=True) == []
    assert _run(cfg, now=NOW + timedelta(hours=9)).run_id is None


def test_429_storm_during_the_run_is_survived(world, monkeypatch):
    w = world
    # credentials and the stand-in from the environment, as `batn gsheets` takes them
    monkeypatch.setenv("BATN_GOOGLE_CREDENTIALS", str(w["ws"] / "khoa.json"))
    monkeypatch.setenv("BATN_SHEETS_API_BASE", w["standin"].base_url)
    cfg = _config(w, in_env=True)
    first = _run(cfg)
    assert first.run_id == 1 and first.google_requests == 2          # spreadsheets.get + values.batchGet
    counts = _counts(w)
    clock = FakeClock()
    w["standin"].reset_log()
    w["standin"].storm(5, statuses=(429, 503))
    out = _run(cfg, google_backoff=Backoff(retries=6, sleep=clock.sleep, rng=random.Random(1)))
    assert [e.status for e in w["standin"].api_requests()] == [429, 503, 429, 503, 429, 200, 200]
    assert len(clock.sleeps) == 5 and all(2 ** i <= s <= 2 ** i + 1 for i, s in enumerate(clock.sleeps))
    assert out.run_id is None and out.google_requests == 7 and (out.sent, out.expected) == (2, 3)
    assert _counts(w) == counts
    # past the bound: a clear message, nothing changed, exit status 2 from the command
    w["standin"].storm(100, statuses=(429,))
    with pytest.raises(SourceError, match="429") as e:
        _run(cfg, google_backoff=Backoff(retries=2, sleep=clock.sleep))
    assert "Bảng tính chung" in str(e.value) and "không thay đổi gì" in str(e.value)
    assert _counts(w) == counts


def test_google_source_config(world, capsys):
    w = world
    cfg = load_config(_config(w, extra='layout = "tabs"\n'))
    g = cfg.sources[1]
    assert (g.type, g.layout, g.write_back, g.credentials) == ("google", "tabs", False, w["ws"] / "khoa.json")
    assert g.spreadsheets == (f"https://docs.google.com/spreadsheets/d/{w['key']}/edit#gid=0",)
    bad = w["ws"] / "bad.toml"
    for body, message in (('type = "google"\n', "cần spreadsheet"),
                          ('type = "google"\nspreadsheet = "abc"\nlayout = "cot"\n', 'layout = "cot"'),
                          ('type = "google"\nspreadsheet = "abc"\nurl = "x"\n', "khóa 'url' không có"),
                          ('type = "google"\nspreadsheet = "abc"\nwrite_back = "co"\n', "write_back"),
                          ('type = "ftp"\n', 'chỉ dùng type = "folder"')):
        bad.write_text(f'period = "2024"\ncatalogue = "3tn-2024"\nunits = "don_vi.csv"\n[[sources]]\n{body}',
                       encoding="utf-8")
        with pytest.raises(ConfigError, match=message):
            load_config(bad)
    # the sheet is laid out in tabs: a configuration that says rows is refused before anything changes
    with pytest.raises(SourceError, match="layout"):
        _run(_config(w, extra='layout = "rows"\n'))
    assert not (w["ws"] / "ket_qua").exists()
    # no key anywhere: exit status 2 with the door's explanation
    assert run_command(_config(w, in_env=True)) == 2
    assert "BATN_GOOGLE_CREDENTIALS" in capsys.readouterr().err


def test_timeliness_first_seen_last_changed_and_edits_after_the_cutoff(world):
    """Each run records when a unit's figures were first seen and when they last changed (the ledger's
    submission rows: one per distinct content, received = first seen); after `batn gsheets chot` a
    changed unit is reported "sửa sau hạn" by `batn run` too."""
    from batn.gsheets.deadline import lock_spreadsheet

    w = world
    cfg = _config(w)
    _run(cfg)
    _run(cfg, now=NOW + timedelta(hours=1))                            # nothing changed: nothing recorded
    lock_spreadsheet(w["clerk"], w["key"], w["cat"], now=DEADLINE)
    assert _run(cfg, now=NOW + timedelta(hours=2)).findings is not None
    w["standin"].type_into(w["key"], f"'CD_A'!D{w['row']}", "21")      # changed after the cut-off
    out = _run(cfg, now=DEADLINE + timedelta(hours=3))
    late = [f for f in out.findings if f.kind == "edited-after-cutoff"]
    assert [f.unit for f in late] == ["CD_A"] and "Sửa sau hạn" in late[0].message
    with Ledger(w["ws"] / "so" / "batn.sqlite3") as led:
        rows = led.submissions("CD_A")
    first_seen, last_changed = rows[0].received, rows[-1].received
    assert first_seen == NOW.timestamp() and last_changed == (DEADLINE + timedelta(hours=3)).timestamp()
    assert len(rows) == 2


def test_batn_run_uses_the_clerks_sign_in_when_no_key_is_given(world, monkeypatch):
    """No service-account key anywhere: `batn run` reads the sheet as the person who ran dang-nhap."""
    pytest.importorskip("google_auth_oauthlib")
    from batn.gsheets import signin

    w = world
    standin = w["standin"]
    standin.register_oauth_client("1-batn.apps.googleusercontent.com", "bi-mat")
    client = {"installed": {"client_id": "1-batn.apps.googleusercontent.com", "client_secret": "bi-mat"}}
    # the clerk's sign-in with the copy-paste flow; the sheet was created by batn for the clerk (drive.file)
    pasted: list = []
    done = signin.sign_in(signin.load_client(json.dumps(client)), browser=False, api_base=standin.base_url,
                          show=lambda url: pasted.append(standin.consent(url, CLERK)), ask=lambda p: pasted[-1])
    assert done.account == CLERK
    monkeypatch.setenv("BATN_SHEETS_API_BASE", standin.base_url)
    out = _run(_config(w, in_env=True, write_back=True))
    assert (out.sent, out.expected) == (2, 3) and out.written_back
    assert {e.user for e in standin.api_requests()} == {CLERK}
