"""`batn run`: the scheduled consolidation with its ledger, end to end on real workbooks.

Safe by construction: same inputs -> same bytes and no new ledger rows; a resubmission ->
exactly its value-level diff; a second period's report states the change from the first;
two runs never overlap; SIGKILL at any point leaves complete outputs and a consistent
ledger, and the next run finishes the job. Reminders go out over SMTP on loopback.
"""
from __future__ import annotations

import email
import email.policy
import json
import os
import random
import select
import shutil
import signal
import socketserver
import sqlite3
import subprocess
import sys
import threading
import time
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook
from typer.testing import CliRunner

from batn.xlsx.package import stamp_saved_time
from batn.catalogue import load_catalogue
from batn.demo import sample_values
from batn.ledger import Ledger
from batn.pipeline import load_period
from batn.run_cli import app as run_app
from batn.run_cli import run_command
from batn.runconfig import ConfigError, load_config
from batn.scheduled import LockBusy, run
from batn.units import load_units
from batn.xlsx.template import write_template

UNITS = """code,name,parent,level,place,issuer,signer,contact
T,Tỉnh Đoàn Thử,,Tỉnh Đoàn,Rạch Giá,TĐTN,,vanphong@tinh.example.vn
DP_A,Đoàn phường An Bình,T,Đoàn xã/phường,,,,doan.ab@example.vn
CD_A1,Chi đoàn khu phố 1,DP_A,Chi đoàn,,,,cd.a1@example.vn
CD_A2,Chi đoàn khu phố 2,DP_A,Chi đoàn,,,,
DCS_B,Đoàn cơ sở Sở Xây dựng,T,Đoàn cơ sở,,,,doan.sxd@example.vn; 0912 345 678
"""
SENDERS = ("DP_A", "CD_A1", "DCS_B")            # CD_A2 never sends
# TT_DANGKY_3TN sums to 8 in 2025 and 9 in 2026: "tăng 12,5% so với năm 2025"
DANGKY = {"2025": {"DP_A": 2, "CD_A1": 3, "DCS_B": 3}, "2026": {"DP_A": 3, "CD_A1": 3, "DCS_B": 3}}
QUIET = dict(log=lambda m: None)


def processes(test):
    """Tests that start real `batn run` processes: a few seconds each, POSIX only (SIGKILL, select on pipes)."""
    test = pytest.mark.slow(test)
    return pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and select() on pipes are POSIX")(test)


def _values(cat, period: str, code: str) -> dict:
    v = sample_values(cat, random.Random(f"{period}-{code}"), 20)
    v["TT_DANGKY_3TN"] = DANGKY[period][code]
    v["CV_T7TN_BUOI"] = 12
    v["CV_T7TN_LUOT"] = max(v["CV_T7TN_LUOT"], 12)
    return v


def _stamp(path: Path, when: datetime) -> None:
    stamp_saved_time(path, when)     # what the sender's Excel records on save


@pytest.fixture(scope="session")
def golden(tmp_path_factory):
    """Filled workbooks for 2025 and 2026 (written once; tests copy them with their mtimes)."""
    root = tmp_path_factory.mktemp("golden")
    (root / "don_vi.csv").write_text(UNITS, encoding="utf-8")
    tree = load_units(root / "don_vi.csv")
    cat = load_catalogue("3tn-2024")
    for pid in ("2025", "2026"):
        period = load_period(pid)
        sent = datetime.combine(period.deadline_for("") - timedelta(days=3), datetime.min.time())
        for i, code in enumerate(SENDERS):
            p = write_template(root / pid / f"BaoCao_{code}.xlsx", cat, tree[code], period,
                               values=_values(cat, pid, code), has_children=bool(tree.children[code]))
            _stamp(p, sent + timedelta(hours=i))
    return root


def _config(ws: Path, period: str = "2025", **extra: str) -> Path:
    text = f"""
period = "{period}"
catalogue = "3tn-2024"
units = "don_vi.csv"
ledger = "so/batn.sqlite3"
lock_timeout = {extra.pop("lock_timeout", "20")}

[[sources]]
type = "folder"
path = "hop_thu_{period}"

[outputs]
folder = "ket_qua"

[report]
number = "07"

[history]
indicators = ["TT_DANGKY_3TN", "CV_T7TN_BUOI"]
""" + "".join(extra.values())
    cfg = ws / f"run_{period}.toml"
    cfg.write_text(text, encoding="utf-8")
    return cfg


def _workspace(tmp_path: Path, golden: Path, *periods: str) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    shutil.copy2(golden / "don_vi.csv", ws / "don_vi.csv")
    for pid in periods or ("2025",):
        shutil.copytree(golden / pid, ws / f"hop_thu_{pid}")
        _config(ws, pid)
    return ws


def _outputs(ws: Path) -> dict[str, bytes]:
    """Each output's bytes (hidden temporaries left by a killed run are not outputs)."""
    return {p.name: p.read_bytes() for p in sorted((ws / "ket_qua").iterdir())
            if p.is_file() and not p.name.startswith(".")}


def _resubmit(ws: Path, code: str = "CD_A1", period: str = "2025", **changes) -> Path:
    """The unit sends its file again with some figures changed, a day later, under the same name."""
    cat = load_catalogue("3tn-2024")
    tree = load_units(ws / "don_vi.csv")
    path = ws / f"hop_thu_{period}" / f"BaoCao_{code}.xlsx"
    when = datetime.fromtimestamp(path.stat().st_mtime) + timedelta(days=1)
    write_template(path, cat, tree[code], load_period(period), values={**_values(cat, period, code), **changes},
                   has_children=bool(tree.children[code]))
    _stamp(path, when)
    return path


def _run(cfg: Path, **kw):
    return run(load_config(cfg), **{**QUIET, **kw})


# ------------------------------------------------------------------ idempotent, diffs, history

def test_rerun_on_unchanged_inputs_changes_nothing(tmp_path, golden):
    ws = _workspace(tmp_path, golden)
    cfg = ws / "run_2025.toml"
    first = _run(cfg)
    assert first.run_id == 1 and first.files == 3 and (first.sent, first.expected) == (3, 4)
    assert first.errors == 0 and {p.name for p in first.written} == {
        "TongHop_T_2025.xlsx", "BaoCao_T_2025.docx", "BaoCao_T_2025.txt", "NhacNop_T_2025.csv"}
    outs = _outputs(ws)
    mtimes = {p: p.stat().st_mtime_ns for p in (ws / "ket_qua").iterdir()}
    with Ledger(ws / "so" / "batn.sqlite3") as led:
        counts = led.counts()
    time.sleep(0.05)
    again = _run(cfg)
    assert again.run_id is None and again.written == [] and again.changes == []
    assert _outputs(ws) == outs
    assert {p: p.stat().st_mtime_ns for p in (ws / "ket_qua").iterdir()} == mtimes   # not even rewritten
    with Ledger(ws / "so" / "batn.sqlite3") as led:
        assert led.counts() == counts
    # outputs lost: the same bytes come back, still no new ledger row
    shutil.rmtree(ws / "ket_qua")
    assert _run(cfg).run_id is None
    assert _outputs(ws) == outs
    # the as-of time is the newest input's, not the clock's
    newest = max(p.stat().st_mtime for p in (ws / "hop_thu_2025").iterdir())
    assert first.as_of == datetime.fromtimestamp(int(newest))
    text = outs["BaoCao_T_2025.txt"].decode()
    assert f"Tính đến ngày {first.as_of.day:02d}/{first.as_of.month}/{first.as_of.year}, có 3/4 đơn vị gửi báo cáo" in text
    assert "Rạch Giá, ngày" in text and f"năm {first.as_of.year}" in text
    csv_text = outs["NhacNop_T_2025.csv"].decode("utf-8-sig")
    assert "CD_A2,Chi đoàn khu phố 2,Chi đoàn,chưa nộp,20/12/2025" in csv_text


def test_resubmitted_file_yields_exactly_its_value_level_diff(tmp_path, golden):
    ws = _workspace(tmp_path, golden)
    cfg = ws / "run_2025.toml"
    _run(cfg)
    before = _outputs(ws)
    _resubmit(ws, CV_T7TN_BUOI=21, CD_CAYXANH=None)
    old_cay = _values(load_catalogue("3tn-2024"), "2025", "CD_A1")["CD_CAYXANH"]
    out = _run(cfg)
    assert out.run_id == 2
    assert sorted((c.code, c.old, c.new) for c in out.changes) == sorted(
        [("CV_T7TN_BUOI", 12, 21), ("CD_CAYXANH", old_cay, None)])
    assert "Chi đoàn khu phố 1 sửa CV_T7TN_BUOI từ 12 thành 21" in [c.sentence() for c in out.changes]
    assert _outputs(ws)["TongHop_T_2025.xlsx"] != before["TongHop_T_2025.xlsx"]
    wb = load_workbook(ws / "ket_qua" / "TongHop_T_2025.xlsx")
    assert wb.defined_names["CV_T7TN_BUOI"] is not None
    # recorded once: a re-run adds nothing
    assert _run(cfg).run_id is None
    with Ledger(ws / "so" / "batn.sqlite3") as led:
        assert len(led.changes(unit="CD_A1")) == 2
        assert len(led.submissions(unit="CD_A1")) == 2
        assert led.check(deep=True) == []
    # the command that lists a unit's submissions and changes
    r = CliRunner().invoke(run_app, ["lich-su", "CD_A1", "--config", str(cfg)])
    assert r.exit_code == 0, r.output
    assert "Chi đoàn khu phố 1 (CD_A1): 2 lần gửi báo cáo" in r.output
    assert "[đang dùng]" in r.output and "đã có tệp mới hơn" not in r.output   # the old bytes are gone from the inbox
    assert "Chi đoàn khu phố 1 sửa CV_T7TN_BUOI (Buổi “Ngày thứ bảy tình nguyện”" in r.output
    assert "từ 12 thành 21" in r.output
    r = CliRunner().invoke(run_app, ["lich-su", "CD_A1", "--ledger", str(ws / "so" / "batn.sqlite3"), "--json"])
    data = json.loads(r.output)
    assert [s["used"] for s in data["submissions"]] == [False, True]
    assert {c["text"] for c in data["changes"]} >= {"Chi đoàn khu phố 1 sửa CV_T7TN_BUOI từ 12 thành 21"}


def test_report_of_second_period_states_change_from_first(tmp_path, golden):
    ws = _workspace(tmp_path, golden, "2025", "2026")
    first = _run(ws / "run_2025.toml")
    assert "so với" not in (ws / "ket_qua" / "BaoCao_T_2025.txt").read_text(encoding="utf-8")
    second = _run(ws / "run_2026.toml")
    assert second.run_id == 2 and first.run_id == 1
    text = (ws / "ket_qua" / "BaoCao_T_2026.txt").read_text(encoding="utf-8")
    # the comparison goes inside the sentences (issue 13), with the ledger's last year as the earlier period
    flat = " ".join(text.split())
    assert "09 ĐVTN đã đăng ký thực hiện phong trào “3 trách nhiệm”, đạt 15% (tăng 1,7% so với năm 2025)" in flat
    assert "Duy trì 36 buổi “Ngày thứ bảy tình nguyện” (bằng năm 2025)" in flat
    assert "Một số kết quả chính" not in text
    paras = [p.text for p in Document(ws / "ket_qua" / "BaoCao_T_2026.docx").paragraphs]
    assert any("(bằng năm 2025)" in p for p in paras)
    # the first period's report is untouched by the second run
    assert "so với" not in (ws / "ket_qua" / "BaoCao_T_2025.txt").read_text(encoding="utf-8")


def test_outlier_against_the_units_own_history_is_a_warning_that_explains_itself(tmp_path, golden):
    ws = _workspace(tmp_path, golden)
    cat = load_catalogue("3tn-2024")
    tree = load_units(ws / "don_vi.csv")
    # CD_A1 gave 10, 14 and 11 units of blood in 2022-2024; in 2025 it types 120
    for pid, n in (("2022", 10), ("2023", 14), ("2024", 11)):
        period = load_period(pid)
        write_template(ws / f"hop_thu_{pid}" / "cd_a1.xlsx", cat, tree["CD_A1"], period,
                       values={**_values(cat, "2025", "CD_A1"), "CD_HIENMAU": n})
        _config(ws, pid)
        _run(ws / f"run_{pid}.toml")
    _resubmit(ws, CD_HIENMAU=120)
    out = _run(ws / "run_2025.toml")
    found = [f for f in out.findings if f.kind == "history-outlier"]
    assert [(f.unit, f.indicator, f.severity.value) for f in found] == [("CD_A1", "CD_HIENMAU", "cảnh báo")]
    msg = found[0].message
    assert "kỳ này là 120, gấp 10,9 lần mức thường thấy của chính đơn vị" in msg
    assert "trung vị 11 của 3 kỳ trước cùng loại (2022: 10; 2023: 14; 2024: 11)" in msg
    assert "Trung vị là số ở giữa" in msg and "bỏ qua cảnh báo này" in msg
    assert out.errors == 0
    wb = load_workbook(ws / "ket_qua" / "TongHop_T_2025.xlsx")
    assert any(msg in str(c.value) for row in wb["Kết quả kiểm tra"].iter_rows() for c in row)


def test_outputs_and_archive_inside_the_inbox_are_never_read_as_submissions(tmp_path, golden):
    ws = _workspace(tmp_path, golden)
    cfg = ws / "run_2025.toml"
    text = cfg.read_text(encoding="utf-8").replace('folder = "ket_qua"', 'folder = "hop_thu_2025"')
    cfg.write_text(text.replace('ledger = "so/batn.sqlite3"',
                                'ledger = "so/batn.sqlite3"\narchive = "hop_thu_2025/luu"'), encoding="utf-8")
    first = _run(cfg)
    assert first.files == 3 and (ws / "hop_thu_2025" / "TongHop_T_2025.xlsx").is_file()
    again = _run(cfg)
    assert again.files == 3 and again.run_id is None


# ------------------------------------------------------------------ reminders over SMTP (loopback)

class _SMTPSink(socketserver.StreamRequestHandler):
    """Just enough SMTP to take messages: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT."""

    def handle(self):
        w = self.wfile.write
        w(b"220 127.0.0.1 batn-test ESMTP\r\n")
        rcpts: list[str] = []
        while line := self.rfile.readline():
            verb = line[:4].upper()
            if verb == b"EHLO":
                w(b"250-127.0.0.1\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                w(b"354 go ahead\r\n")
                data = []
                while (part := self.rfile.readline()) not in (b".\r\n", b""):
                    data.append(part[1:] if part.startswith(b"..") else part)
                self.server.messages.append((list(rcpts), b"".join(data)))
                rcpts.clear()
                w(b"250 queued\r\n")
            elif verb == b"RCPT":
                rcpts.append(line.decode().split(":", 1)[1].strip().strip("<>"))
                w(b"250 ok\r\n")
            elif verb == b"QUIT":
                w(b"221 bye\r\n")
                return
            else:                                   # HELO, MAIL, RSET, NOOP
                w(b"250 ok\r\n")


@pytest.fixture
def smtp_sink():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPSink)
    server.daemon_threads = True
    server.messages = []
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server
    server.shutdown()
    server.server_close()


def test_reminders_list_and_email_on_loopback(tmp_path, golden, smtp_sink):
    ws = _workspace(tmp_path, golden)
    (ws / "hop_thu_2025" / "BaoCao_DCS_B.xlsx").unlink()          # DCS_B has not sent yet
    _resubmit(ws, TT_DOANVIEN=25)                                      # CD_A1: more members than young cadres
    port = smtp_sink.server_address[1]
    cfg = _config(ws, "2025", mail=f"""
[reminders]
email = true
smtp_host = "127.0.0.1"
smtp_port = {port}
sender = "vanphong@tinh.example.vn"
digest_to = ["bithu@tinh.example.vn"]
days_before_deadline = 3
""")
    early = datetime(2025, 12, 10, 8, 0)                               # 10 days before 20/12: units not yet
    out = _run(cfg, now=early)
    assert [(r.code, r.status) for r in out.reminders] == [
        ("CD_A1", "có lỗi"), ("CD_A2", "chưa nộp"), ("DCS_B", "chưa nộp")]
    assert (out.emails_sent, out.emails_failed) == (1, 0)
    assert [m[0] for m in smtp_sink.messages] == [["bithu@tinh.example.vn"]]
    smtp_sink.messages.clear()

    on_time = datetime(2025, 12, 18, 8, 0)
    logs: list[str] = []
    out = run(load_config(cfg), now=on_time, log=logs.append)
    assert (out.emails_sent, out.emails_failed) == (3, 0)
    to = {m[0][0]: email.message_from_bytes(m[1], policy=email.policy.default) for m in smtp_sink.messages}
    assert set(to) == {"doan.sxd@example.vn", "cd.a1@example.vn", "bithu@tinh.example.vn"}
    fix = to["cd.a1@example.vn"]
    assert fix["Subject"] == "[batn] Báo cáo năm 2025 cần sửa lại"
    assert "(tệp BaoCao_CD_A1.xlsx) có 1 lỗi" in fix.get_content()
    assert "lớn hơn “Cán bộ, công chức, viên chức trẻ (đến 35 tuổi) của đơn vị” (20)" in fix.get_content()
    unit_mail = to["doan.sxd@example.vn"]
    assert unit_mail["Subject"] == "[batn] Nhắc nộp báo cáo năm 2025"
    body = unit_mail.get_content()
    assert "Kính gửi: Đoàn cơ sở Sở Xây dựng" in body and "Hạn nộp: ngày 20/12/2025" in body
    digest = to["bithu@tinh.example.vn"].get_content()
    assert "Chưa nộp (2 đơn vị):" in digest
    assert "Chi đoàn khu phố 2 (CD_A2), hạn 20/12/2025; liên hệ: (chưa có)" in digest
    assert "Đoàn cơ sở Sở Xây dựng (DCS_B), hạn 20/12/2025; liên hệ: doan.sxd@example.vn; 0912 345 678" in digest
    assert any("CD_A2" in line and "chưa có địa chỉ thư" in line for line in logs)

    smtp_sink.messages.clear()                                          # same day again: not sent twice
    assert _run(cfg, now=on_time + timedelta(hours=2)).emails_sent == 0
    assert smtp_sink.messages == []


def test_smtp_down_is_logged_and_retried(tmp_path, golden):
    ws = _workspace(tmp_path, golden)
    cfg = _config(ws, "2025", mail="""
[reminders]
email = true
smtp_host = "127.0.0.1"
smtp_port = 9
sender = "vanphong@tinh.example.vn"
digest_to = ["bithu@tinh.example.vn"]
timeout = 2
""")
    logs: list[str] = []
    out = run(load_config(cfg), now=datetime(2025, 12, 18), log=logs.append)
    assert out.emails_failed == 1 and out.run_id == 1
    assert any("Không kết nối được máy chủ thư 127.0.0.1:9" in line for line in logs)


# ------------------------------------------------------------------ configuration

def test_config_refuses_other_sources_and_unknown_keys(tmp_path, golden, capsys):
    ws = _workspace(tmp_path, golden)
    cfg = ws / "g.toml"
    cfg.write_text('period = "2025"\ncatalogue = "3tn-2024"\nunits = "don_vi.csv"\n'
                   '[[sources]]\ntype = "google"\nurl = "https://docs.google.com/x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="type = \"google\"\\): khóa 'url' không có; dùng credentials, layout"):
        load_config(cfg)
    assert run_command(cfg) == 2
    assert "spreadsheet" in capsys.readouterr().err
    cfg.write_text('period = "2025"\ncatalogue = "3tn-2024"\nunits = "don_vi.csv"\n'
                   '[[sources]]\ntype = "ftp"\npath = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match='type = "ftp": chỉ dùng type = "folder"'):
        load_config(cfg)
    cfg.write_text('period = "2025"\ncatalogue = "3tn-2024"\nunits = "don_vi.csv"\nperod = 1\n'
                   '[[sources]]\ntype = "folder"\npath = "hop_thu_2025"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="'perod' không có"):
        load_config(cfg)
    assert run_command(ws / "khong_co.toml") == 2
    # the report's date as --date takes it; a day that does not exist is said so
    base = 'period = "2025"\ncatalogue = "3tn-2024"\nunits = "don_vi.csv"\n[[sources]]\ntype = "folder"\npath = "hop_thu_2025"\n'
    cfg.write_text(base + '[report]\ndate = "22/12/2025"\n', encoding="utf-8")
    assert load_config(cfg).report_date == "22/12/2025"
    cfg.write_text(base + '[report]\ndate = "30/02/2025"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="Không có ngày 30/02/2025"):
        load_config(cfg)


def test_example_config_runs_against_the_demo_layout(tmp_path, golden):
    """templates/demo/batn-run.toml, dropped into a folder laid out like `batn demo --out X` (which writes it)."""
    example = Path(__file__).resolve().parents[1] / "templates" / "demo" / "batn-run.toml"
    cfg = load_config(example)
    assert cfg.period == "2026-H1" and cfg.units.name == "don_vi.csv" and cfg.sources[0].path.name == "hop_thu"
    ws = tmp_path / "demo"
    ws.mkdir()
    shutil.copy2(example, ws / "batn-run.toml")
    shutil.copy2(golden / "don_vi.csv", ws / "don_vi.csv")
    (ws / "thiet_lap_bao_cao.toml").write_text('[document]\nissuer = "BCH ĐOÀN TỈNH THỬ"\n', encoding="utf-8")
    (ws / "hop_thu").mkdir()
    out = run(load_config(ws / "batn-run.toml"), **QUIET)
    assert out.run_id == 1 and (ws / "ket_qua" / "TongHop_T_2026-H1.xlsx").is_file()
    assert "BCH ĐOÀN TỈNH THỬ" in (ws / "ket_qua" / "BaoCao_T_2026-H1.txt").read_text(encoding="utf-8")


# ------------------------------------------------------------------ processes: lock and SIGKILL

def _spawn(cfg: Path, pause: str | None = None, seconds: float = 60, quiet: bool = True) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATN_TEST_")}
    if pause:
        env.update(BATN_TEST_PAUSE_AT=pause, BATN_TEST_PAUSE_SECONDS=str(seconds))
    return subprocess.Popen([sys.executable, "-m", "batn.run_cli", "run", *(["-q"] if quiet else []), str(cfg)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(*procs: subprocess.Popen) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()
        for pipe in (p.stdout, p.stderr):
            if pipe:
                pipe.close()


def _wait_paused(proc: subprocess.Popen, point: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    seen = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.2)
        if ready:
            line = proc.stderr.readline()
            seen += line
            if line.strip() == f"BATN_TEST_PAUSED {point}".encode():
                return
            if not line and proc.poll() is not None:
                break
    proc.kill()
    raise AssertionError(f"the run never reached {point!r}: {seen.decode(errors='replace')}")


def _ledger_ok(ws: Path) -> dict[str, int]:
    db = sqlite3.connect(ws / "so" / "batn.sqlite3")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    with Ledger(ws / "so" / "batn.sqlite3") as led:
        assert led.check(deep=True) == []
        return led.counts()


def _complete(path: Path) -> None:
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
    if path.suffix == ".xlsx":
        load_workbook(path)
    else:
        Document(path)


@processes
def test_two_runs_started_together_do_not_overlap(tmp_path, golden):
    ws = _workspace(tmp_path, golden)
    cfg = ws / "run_2025.toml"
    procs = [_spawn(cfg), _spawn(cfg)]
    codes = [p.wait(timeout=120) for p in procs]
    errs = [p.stderr.read().decode() for p in procs]
    _finish(*procs)
    assert codes == [0, 0], errs
    counts = _ledger_ok(ws)
    assert counts["runs"] == 1 and counts["submissions"] == 3          # the second found nothing new
    for p in (ws / "ket_qua").glob("*.xlsx"):
        _complete(p)


@processes
def test_second_run_waits_for_the_first_then_finds_nothing_to_do(tmp_path, golden):
    ws = _workspace(tmp_path, golden)
    cfg = ws / "run_2025.toml"
    first = _spawn(cfg, pause="read", seconds=2)
    _wait_paused(first, "read")
    second = _spawn(cfg, quiet=False)
    assert first.wait(timeout=60) == 0
    assert second.wait(timeout=60) == 0
    log, out = second.stderr.read().decode(), second.stdout.read().decode()
    _finish(first, second)
    assert "Đang có một lần chạy khác; chờ tối đa 20 giây" in log
    assert "Không có gì thay đổi so với lần chạy trước" in out
    assert _ledger_ok(ws)["runs"] == 1


@processes
def test_second_run_waits_a_bounded_time_then_exits_cleanly(tmp_path, golden):
    ws = _workspace(tmp_path, golden)
    cfg = ws / "run_2025.toml"
    first = _spawn(cfg, pause="ledger")
    try:
        _wait_paused(first, "ledger")
        busy = _config(ws, "2025", lock_timeout="1")
        t0 = time.monotonic()
        with pytest.raises(LockBusy):
            _run(busy)
        second = subprocess.run([sys.executable, "-m", "batn.run_cli", "run", str(busy)], capture_output=True,
                                timeout=60)
        assert second.returncode == 2
        assert "Đang có một lần chạy khác giữ khóa" in second.stderr.decode()
        assert "không thay đổi gì" in second.stderr.decode()
        assert time.monotonic() - t0 < 30
    finally:
        _finish(first)
    assert _ledger_ok(ws).get("runs", 0) == 0
    assert _run(cfg).run_id == 1                                          # the lock died with the process


@processes
@pytest.mark.parametrize("point", ["read", "write", "between-outputs", "ledger"])
def test_sigkill_leaves_complete_outputs_and_a_consistent_ledger(tmp_path, golden, point):
    ws = _workspace(tmp_path, golden)
    cfg = ws / "run_2025.toml"
    _run(cfg)
    old = _outputs(ws)
    old_counts = _ledger_ok(ws)
    _resubmit(ws, CV_T7TN_BUOI=21)

    proc = _spawn(cfg, pause=point)
    _wait_paused(proc, point)
    os.kill(proc.pid, signal.SIGKILL)
    _finish(proc)

    killed = _outputs(ws)
    assert set(killed) == set(old)                                       # no output lost
    if point == "write":                                                 # killed with the new bytes not yet renamed
        assert [p.name for p in (ws / "ket_qua").iterdir() if p.name.startswith(".TongHop_T_2025.")]
    for name in killed:
        if name.endswith((".xlsx", ".docx")):
            _complete(ws / "ket_qua" / name)
    assert _ledger_ok(ws) == old_counts                                  # the transaction never happened

    again = _run(cfg)                                                    # the next run finishes the job
    assert [(c.unit, c.code, c.old, c.new) for c in again.changes] == [("CD_A1", "CV_T7TN_BUOI", 12, 21)]
    new = _outputs(ws)
    for name in old:
        assert killed[name] in (old[name], new[name]), name
    assert new["TongHop_T_2025.xlsx"] != old["TongHop_T_2025.xlsx"]
    if point == "between-outputs":
        assert killed["TongHop_T_2025.xlsx"] == new["TongHop_T_2025.xlsx"]
    assert not [p for p in (ws / "ket_qua").iterdir() if p.name.startswith(".")]   # temporaries cleaned
    counts = _ledger_ok(ws)
    assert counts["runs"] == 2 and counts["changes"] == 1
    assert _run(cfg).run_id is None
