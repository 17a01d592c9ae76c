"""Reminding units that must act: who (chưa nộp, nộp muộn, có lỗi), the CSV list for the
office, and the e-mails (to each unit, and a digest to the office), each at most once a day.

`reminders_for` and `reminders_csv` are plain logic; `send_reminders` talks to the SMTP server
and remembers in the ledger what it sent.
"""
from __future__ import annotations

import csv
import io
import os
import re
import smtplib
import ssl
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from . import vn
from .model import Period, Severity
from .rollup import HAS_ERRORS, LATE, MISSING, Consolidation
from .textsafe import clean, inert, shown

if TYPE_CHECKING:
    from .ledger import Ledger

__all__ = ["ReminderSettings", "Reminder", "reminders_for", "reminders_csv", "send_reminders"]


@dataclass(frozen=True)
class ReminderSettings:
    email: bool = False
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    security: str = "none"               # "none", "starttls", "ssl"
    username: str = ""
    password_env: str = "BATN_SMTP_PASSWORD"
    sender: str = ""
    digest_to: tuple[str, ...] = ()
    to_units: bool = True
    days_before_deadline: int = 3        # start e-mailing units this many days before the deadline
    subject_prefix: str = "[batn]"
    timeout: float = 30.0


_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")


@dataclass(frozen=True)
class Reminder:
    code: str
    name: str
    level: str
    status: str              # chưa nộp, nộp muộn, có lỗi
    deadline: date | None
    contact: str
    file: str = ""
    problems: tuple[str, ...] = ()       # the lỗi found in its file, "cell: message"

    @property
    def addresses(self) -> list[str]:
        return _EMAIL.findall(self.contact)


def reminders_for(cons: Consolidation) -> list[Reminder]:
    """Units that have not sent their report, sent it late, or sent one with lỗi, in tree order."""
    out = []
    for code, r in cons.units.items():
        if r.status not in (MISSING, LATE, HAS_ERRORS):
            continue
        u = cons.tree[code]
        sub = r.newest_file
        problems = tuple(f"{f.cell}: {f.message}" if f.cell else f.message
                         for f in (sub.findings if sub else []) if f.severity == Severity.ERROR)
        out.append(Reminder(code, u.name, u.level, r.status, r.deadline, u.contact,
                            sub.source if sub else "", problems))
    return out


def reminders_csv(reminders: list[Reminder]) -> bytes:
    """The list for the office (UTF-8 with BOM, for Excel). Every cell is inert: a unit name or contact
    that starts with = + - @ is kept as text, never run as a formula; a file name is shown with escapes."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["Mã đơn vị", "Đơn vị", "Cấp", "Tình trạng", "Hạn nộp", "Liên hệ", "Tệp"])
    for r in reminders:
        w.writerow([inert(v) for v in (r.code, r.name, r.level, r.status,
                                        f"{r.deadline:%d/%m/%Y}" if r.deadline else "", r.contact, shown(r.file))])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _unit_mail(r: Reminder, period: Period, upper: str) -> tuple[str, str]:
    deadline = f"ngày {vn.ngay_ngan(r.deadline)}" if r.deadline else "sớm nhất có thể"
    if r.status == MISSING:
        subject = f"Nhắc nộp báo cáo {period.label}"
        what = (f"{upper} chưa nhận được báo cáo {period.label} của đơn vị. "
                f"Hạn nộp: {deadline}. Đề nghị đồng chí gửi báo cáo theo biểu mẫu đã được cấp.")
    else:
        subject = f"Báo cáo {period.label} cần sửa lại"
        listed = "".join(f"\n  - {p}" for p in r.problems[:10])
        more = f"\n  - ... và {len(r.problems) - 10} lỗi khác" if len(r.problems) > 10 else ""
        what = (f"Báo cáo {period.label} của đơn vị (tệp {shown(Path(r.file).name)}) có {len(r.problems)} lỗi nên "
                f"chưa được tổng hợp đầy đủ:{listed}{more}\n\nĐề nghị đồng chí sửa trên biểu mẫu và gửi lại "
                f"(hạn nộp: {deadline}).")
    body = (f"Kính gửi: {r.name}\n\n{what}\n\nTrân trọng,\n{upper}\n\n"
            "(Thư gửi tự động từ batn; nếu đơn vị đã gửi báo cáo, xin bỏ qua thư này.)\n")
    return subject, body


def _digest_mail(reminders: list[Reminder], period: Period, upper: str, as_of: datetime) -> tuple[str, str]:
    lines = [f"Tình hình nộp báo cáo {period.label} của các đơn vị trực thuộc {upper}, "
             f"số liệu tính đến {as_of:%H:%M ngày %d/%m/%Y}:", ""]
    for status in (MISSING, LATE, HAS_ERRORS):
        group = [r for r in reminders if r.status == status]
        if group:
            lines.append(f"{status.capitalize()} ({len(group)} đơn vị):")
            for r in group:
                dl = f", hạn {vn.ngay_ngan(r.deadline)}" if r.deadline else ""
                lines.append(f"  - {r.name} ({r.code}){dl}; liên hệ: {r.contact or '(chưa có)'}")
            lines.append("")
    lines.append("(Thư gửi tự động từ batn.)")
    return f"Tình hình nộp báo cáo {period.label}", "\n".join(lines) + "\n"


def _message(cfg: ReminderSettings, to: str, subject: str, body: str) -> EmailMessage:
    m = EmailMessage()
    m["From"] = cfg.sender
    m["To"] = to
    m["Subject"] = f"{cfg.subject_prefix} {subject}".strip()
    m["Date"] = formatdate(localtime=True)
    m["Message-ID"] = make_msgid(domain=cfg.sender.rpartition("@")[2] or None)
    m.set_content(clean(body), cte="quoted-printable")      # a file name that is not UTF-8 cannot be mailed
    return m


def _connect(cfg: ReminderSettings) -> smtplib.SMTP:
    if cfg.security == "ssl":
        s: smtplib.SMTP = smtplib.SMTP_SSL(cfg.smtp_host, cfg.smtp_port, timeout=cfg.timeout,
                                           context=ssl.create_default_context())
    else:
        s = smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=cfg.timeout)
        if cfg.security == "starttls":
            s.starttls(context=ssl.create_default_context())
    if cfg.username:
        s.login(cfg.username, os.environ.get(cfg.password_env, ""))
    return s


def send_reminders(reminders: list[Reminder], cfg: ReminderSettings, ledger: Ledger, period: Period,
                   upper: str, today: date, as_of: datetime, log: Callable[[str], None] = print) -> tuple[int, int]:
    """E-mail each unit that must act (chưa nộp, có lỗi) from `days_before_deadline` days before its
    deadline, and the digest to `digest_to`; each (unit, address) at most once a day, as the ledger
    remembers. Returns (sent, failed). An SMTP failure is logged and retried at the next run."""
    day = today.isoformat()
    todo: list[tuple[str, str, str, str, str]] = []      # unit, kind, address, subject, body
    if cfg.to_units:
        for r in reminders:
            if r.status not in (MISSING, HAS_ERRORS):
                continue
            if r.deadline and (r.deadline - today).days > cfg.days_before_deadline:
                continue
            if not r.addresses:
                log(f"Không gửi được thư nhắc cho {r.name} ({r.code}): chưa có địa chỉ thư trong cột contact")
                continue
            subject, body = _unit_mail(r, period, upper)
            todo += [(r.code, r.status, a, subject, body) for a in r.addresses]
    if cfg.digest_to and reminders:
        subject, body = _digest_mail(reminders, period, upper, as_of)
        todo += [("", "tong-hop", a, subject, body) for a in cfg.digest_to]
    return deliver(cfg, [Outgoing(unit, kind, addr, day, lambda a=addr, s=subject, b=body: _message(cfg, a, s, b))
                         for unit, kind, addr, subject, body in todo], ledger, period.id, log)


@dataclass(frozen=True)
class Outgoing:
    """One mail to send once: the ledger remembers (period, unit, kind, address, day) once it is sent."""

    unit: str
    kind: str
    address: str
    day: str
    message: Callable[[], EmailMessage]


def deliver(cfg: ReminderSettings, todo: list[Outgoing], ledger: Ledger, period_id: str,
            log: Callable[[str], None] = print) -> tuple[int, int]:
    """Send what the ledger has not recorded as sent, over one SMTP connection; each sent mail is
    recorded at once. Returns (sent, failed): a failure is logged and retried at the next run. The one
    place batn sends mail (reminders, feedback packages, replies to the mailbox)."""
    todo = [t for t in todo if not ledger.reminded(period_id, t.unit, t.kind, t.address, t.day)]
    if not todo:
        return 0, 0
    sent = failed = 0
    try:
        smtp = _connect(cfg)
    except (OSError, smtplib.SMTPException) as e:
        log(f"Không kết nối được máy chủ thư {cfg.smtp_host}:{cfg.smtp_port} ({e}); sẽ thử lại ở lần chạy sau")
        return 0, len(todo)
    try:
        for t in todo:
            try:
                smtp.send_message(t.message())
            except (OSError, smtplib.SMTPException) as e:
                failed += 1
                log(f"Gửi thư tới {t.address} không được ({e}); sẽ thử lại ở lần chạy sau")
                continue
            ledger.record_reminder(period_id, t.unit, t.kind, t.address, t.day)
            sent += 1
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            pass
    return sent, failed
