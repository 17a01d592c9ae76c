"""Reports collected from the office mailbox (issue 20), against real servers on loopback: Dovecot
(IMAP, started here with its own configuration) and aiosmtpd (SMTP). A province's reports arrive as
mail; `batn run` reads them, judges lateness by the mail server's receive time, replies to each
sender on the same thread, names what it cannot use, and a run killed mid-way is rerun cleanly."""
from __future__ import annotations

import email
import email.policy
import imaplib
import json
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from typer.testing import CliRunner

from batn.catalogue import load_catalogue
from batn.cli import app
from batn.demo import sample_values
from batn.ledger import Ledger
from batn.model import Unit
from batn.pipeline import load_period
from batn.xlsx.package import stamp_saved_time
from batn.xlsx.template import write_template

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)
pytestmark = [
    pytest.mark.skipif(DOVECOT is None, reason="Dovecot (dovecot-imapd) is not installed: scripts/test.sh installs it"),
    pytest.mark.skipif(sys.platform == "win32" or not hasattr(os, "getuid") or os.getuid() != 0,
                       reason="this Dovecot set-up runs its mail processes as the 'dovecot' user: needs root"),
]

USER, PASSWORD = "vanphong@tinh.example.vn", "mat-khau-thu"
UNITS = """code,name,parent,level,contact
T,Đoàn khối Mẫu,,Đoàn trực thuộc,vanphong@tinh.example.vn
A,Chi đoàn A,T,Chi đoàn,bithu.a@example.vn
B,Chi đoàn B,T,Chi đoàn,bithu.b@example.vn
C,Chi đoàn C,T,Chi đoàn,Văn thư C <c@example.vn>
D,Chi đoàn D,T,Chi đoàn,d@example.vn
"""
PERIOD = "2026-H1"
CAT = load_catalogue("3tn-2024")
DEADLINE = load_period(PERIOD).deadline_for("")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def imap(tmp_path):
    """A Dovecot IMAP server on 127.0.0.1 with one account, plain password, no TLS (loopback only)."""
    # Dovecot's own processes (user 'dovecot') must reach its files: a folder of its own in /tmp, not
    # under pytest's private tmp_path
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="batn-dovecot-"))
    os.chmod(root, 0o755)
    (root / "run").mkdir()
    mail = root / "mail"
    mail.mkdir()
    dv = pwd.getpwnam("dovecot")
    os.chown(mail, dv.pw_uid, dv.pw_gid)
    (root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n", encoding="utf-8")
    port = _free_port()
    conf = root / "dovecot.conf"
    conf.write_text(f"""
base_dir = {root}/run
state_dir = {root}/run/state
instance_name = batn-test-{port}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = {root}/dovecot.log
default_login_user = dovenull
default_internal_user = dovecot
default_internal_group = dovecot
first_valid_uid = {dv.pw_uid}
mail_location = maildir:{mail}/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={dv.pw_uid} gid={dv.pw_gid} home={mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
""", encoding="utf-8")
    proc = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(100).startswith(b"* OK"):
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            log = (root / "dovecot.log").read_text(errors="replace") if (root / "dovecot.log").exists() else ""
            proc.kill()
            pytest.fail(f"Dovecot did not start: {proc.stderr.read().decode(errors='replace')} {log[-2000:]}")
        time.sleep(0.1)
    yield port
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def smtp():
    """aiosmtpd on 127.0.0.1: every message it takes, as bytes."""
    from aiosmtpd.controller import Controller

    class Keep:
        def __init__(self):
            self.messages: list[bytes] = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append(envelope.original_content or envelope.content)
            return "250 OK"

    handler = Keep()
    ctl = Controller(handler, hostname="127.0.0.1", port=_free_port())
    ctl.start()
    yield ctl.port, handler.messages
    ctl.stop()


def _connect(port: int) -> imaplib.IMAP4:
    m = imaplib.IMAP4("127.0.0.1", port, timeout=10)
    m.login(USER, PASSWORD)
    return m


def deliver(port: int, msg: bytes | EmailMessage, when: datetime) -> None:
    """A message arriving at the office mailbox at `when` (the server's receive time)."""
    raw = msg if isinstance(msg, bytes) else msg.as_bytes()
    m = _connect(port)
    typ, data = m.append("INBOX", None, imaplib.Time2Internaldate(when.timestamp()), raw)
    assert typ == "OK", data
    m.logout()


def report_mail(sender: str, subject: str, attachments: list[tuple[str, bytes]], msgid: str) -> EmailMessage:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"], m["Message-ID"] = sender, USER, subject, msgid
    m.set_content("Kính gửi Văn phòng, đơn vị gửi báo cáo.")
    for name, data in attachments:
        m.add_attachment(data, maintype="application",
                         subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet", filename=name)
    return m


def workbook(tmp: Path, code: str, values: dict, saved: datetime) -> bytes:
    p = write_template(tmp / f"{code}.xlsx", CAT, Unit(code, f"Chi đoàn {code}", "T"), load_period(PERIOD),
                       values=values)
    stamp_saved_time(p, saved)
    return p.read_bytes()


def folder_count(port: int, folder: str) -> int:
    m = _connect(port)
    typ, data = m.select(f'"{folder}"')
    m.logout()
    return int(data[0]) if typ == "OK" else -1


@pytest.fixture
def office(tmp_path, imap, smtp):
    ws = tmp_path / "vp"
    ws.mkdir()
    (ws / "don_vi.csv").write_text(UNITS, encoding="utf-8")
    smtp_port, sent = smtp
    cfg = ws / "batn-run.toml"
    cfg.write_text(f"""
period = "{PERIOD}"
catalogue = "3tn-2024"
units = "don_vi.csv"
ledger = "so/batn.sqlite3"

[[sources]]
type = "imap"
host = "127.0.0.1"
port = {imap}
security = "none"
user = "{USER}"
password_env = "BATN_TEST_IMAP_PASSWORD"
max_message_mb = 0.5

[outputs]
folder = "ket_qua"
reports = ["BaoCao.txt"]

[reminders]
email = true
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
sender = "{USER}"
to_units = false
""", encoding="utf-8")
    os.environ["BATN_TEST_IMAP_PASSWORD"] = PASSWORD
    yield ws, cfg, imap, sent
    os.environ.pop("BATN_TEST_IMAP_PASSWORD", None)


def run(cfg: Path) -> dict:
    r = CliRunner().invoke(app, ["run", str(cfg), "--json"])
    assert r.exit_code in (0, 1), r.output
    assert "Traceback" not in r.output
    return json.loads(r.stdout)


def test_reports_by_mail_are_consolidated_judged_by_the_mail_time_and_answered(office, tmp_path):
    ws, cfg, port, sent = office
    rng = random.Random(20)
    vals = {c: sample_values(CAT, rng, 10) for c in "ABCD"}
    on_time = datetime.combine(DEADLINE - timedelta(days=2), datetime.min.time()) + timedelta(hours=9)
    late = datetime.combine(DEADLINE + timedelta(days=3), datetime.min.time()) + timedelta(hours=15)
    files = tmp_path / "tep"
    files.mkdir()
    # A on time; B saved before the deadline but mailed after it: late by the mail's time
    deliver(port, report_mail("Bí thư A <bithu.a@example.vn>", "Báo cáo 3TN chi đoàn A",
                              [("BaoCao_A.xlsx", workbook(files, "A", vals["A"], on_time))], "<a1@example.vn>"), on_time)
    deliver(port, report_mail("bithu.b@example.vn", "Báo cáo chi đoàn B",
                              [("BaoCao_B.xlsx", workbook(files, "B", vals["B"], on_time - timedelta(days=1)))],
                              "<b1@example.vn>"), late)
    # C's report from an address no unit has; D forgot the attachment
    deliver(port, report_mail("nguoi.la@khac.example", "Gửi hộ báo cáo C",
                              [("C.xlsx", workbook(files, "C", vals["C"], on_time))], "<c1@khac.example>"), on_time)
    deliver(port, report_mail("d@example.vn", "Báo cáo chi đoàn D", [], "<d1@example.vn>"), on_time)
    # hostile: broken MIME, an attachment name that is not text, a message over the size limit
    deliver(port, b"From: x@y.z\r\nContent-Type: multipart/mixed; boundary=\"zz\"\r\nSubject: =?utf-8?b?!!!?=\r\n\r\n"
                  b"--zz\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
                  b"Content-Disposition: attachment; filename*=utf-8''%FF%FE.xlsx\r\n\r\n@@@not base64@@@\r\n--zz",
            on_time)
    deliver(port, report_mail("d@example.vn", "Ảnh chụp", [("anh.xlsx", os.urandom(700_000))], "<big@example.vn>"),
            on_time)

    data = run(cfg)
    assert data["sent"] == 3 and data["expected"] == 4
    kinds = {}
    for f in data["findings"]:
        kinds.setdefault(f["kind"], []).append(f)
    assert [f["unit"] for f in kinds["late"]] == ["B"]                       # the mail's time, not the file's
    assert "Gửi hộ báo cáo C" not in str(kinds.get("mail-unknown-sender"))   # says the address, not the subject
    assert [f["unit"] for f in kinds["mail-unknown-sender"]] == ["C"]
    assert any("Báo cáo chi đoàn D" in f["file"] for f in kinds["mail-no-report"])
    assert kinds["mail-too-large"]
    assert folder_count(port, "INBOX") == 1                                  # only the oversized one is left
    assert folder_count(port, "batn-da-doc") == 5

    # one reply per report, on its thread; B is told it arrived, with its status
    replies = [email.message_from_bytes(m, policy=email.policy.default) for m in sent]
    by_to = {r["To"]: r for r in replies}
    assert set(by_to) == {"bithu.a@example.vn", "bithu.b@example.vn", "nguoi.la@khac.example"}
    assert by_to["bithu.a@example.vn"]["In-Reply-To"] == "<a1@example.vn>"
    assert by_to["bithu.a@example.vn"]["Subject"] == "Re: Báo cáo 3TN chi đoàn A"
    assert "nộp muộn" in by_to["bithu.b@example.vn"].get_content()

    # a second run: nothing new, nothing sent twice, the same totals
    again = run(cfg)
    assert again["sent"] == 3 and len(sent) == 3
    with Ledger(ws / "so" / "batn.sqlite3") as led:
        assert led.db.execute("SELECT count(*) FROM mail_messages").fetchone()[0] == 5


def test_a_run_killed_mid_mailbox_is_rerun_cleanly(office, tmp_path):
    ws, cfg, port, sent = office
    rng = random.Random(21)
    files = tmp_path / "tep"
    files.mkdir()
    when = datetime.combine(DEADLINE - timedelta(days=1), datetime.min.time())
    for code in "AB":
        deliver(port, report_mail(f"bithu.{code.lower()}@example.vn", f"Báo cáo {code}",
                                  [(f"{code}.xlsx", workbook(files, code, sample_values(CAT, rng, 10), when))],
                                  f"<{code}@example.vn>"), when)
    env = dict(os.environ, BATN_TEST_PAUSE_AT="mail", BATN_TEST_PAUSE_SECONDS="60")
    p = subprocess.Popen([sys.executable, "-m", "batn", "run", str(cfg)], env=env, stderr=subprocess.PIPE,
                         stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    for line in iter(p.stderr.readline, b""):       # killed once the first message is recorded, not yet moved
        if b"BATN_TEST_PAUSED mail" in line or time.monotonic() > deadline:
            break
    p.kill()
    p.wait(10)
    assert folder_count(port, "INBOX") == 2
    data = run(cfg)
    assert data["sent"] == 2
    assert folder_count(port, "INBOX") == 0 and folder_count(port, "batn-da-doc") == 2
    with Ledger(ws / "so" / "batn.sqlite3") as led:
        assert led.db.execute("SELECT count(*) FROM mail_messages").fetchone()[0] == 2
        assert led.db.execute("SELECT count(*) FROM submissions").fetchone()[0] == 2
    assert len(sent) == 2                               # each unit answered once


def test_a_mailbox_that_cannot_be_reached_stops_nothing(tmp_path):
    ws = tmp_path / "vp"
    (ws / "hop_thu").mkdir(parents=True)
    (ws / "don_vi.csv").write_text(UNITS, encoding="utf-8")
    cfg = ws / "batn-run.toml"
    cfg.write_text(f'period = "{PERIOD}"\ncatalogue = "3tn-2024"\nunits = "don_vi.csv"\nledger = "so/l.sqlite3"\n'
                   '[[sources]]\ntype = "folder"\npath = "hop_thu"\n'
                   f'[[sources]]\ntype = "imap"\nhost = "127.0.0.1"\nport = {_free_port()}\nsecurity = "none"\n'
                   f'user = "{USER}"\ntimeout = 5\n[outputs]\nfolder = "ket_qua"\n', encoding="utf-8")
    os.environ["BATN_IMAP_PASSWORD"] = "x"
    try:
        data = run(cfg)
    finally:
        os.environ.pop("BATN_IMAP_PASSWORD", None)
    (f,) = [f for f in data["findings"] if f["kind"] == "mail-unreachable"]
    assert "từ chối" in f["message"] or "không kết nối" in f["message"]


def test_gmail_sign_in_without_the_mail_permission_is_said(office, tmp_path, monkeypatch):
    """oauth = true (XOAUTH2 with the Google sign-in): no sign-in yet is one clear finding, no traceback."""
    ws, cfg, port, _sent = office
    monkeypatch.setenv("BATN_CONFIG_DIR", str(tmp_path / "cau_hinh"))
    text = cfg.read_text(encoding="utf-8").replace('password_env = "BATN_TEST_IMAP_PASSWORD"', "oauth = true")
    cfg.write_text(text, encoding="utf-8")
    data = run(cfg)
    (f,) = [f for f in data["findings"] if f["kind"] == "mail-unreachable"]
    assert "dang-nhap --hop-thu" in f["message"]
