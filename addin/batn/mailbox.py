"""Reports collected from the office mailbox (`[[sources]] type = "imap"` of `batn run`).

Each new message of the folder is read once: every spreadsheet attachment is archived by content
in the ledger's archive, with the message's sender, subject, Message-ID and the server's receive
time (INTERNALDATE), which is the file's time of receipt; then the message is moved to the folder
of processed mail. A message is known by the SHA-256 of its bytes, so a rerun after a crash neither
loses nor doubles one; the attachments of earlier runs are read again from the archive each run.

Matching a file to a unit: the workbook's own unit code first, then the sender's address in the
`contact` column of the units file. A sender no unit has, a message without a spreadsheet and an
attachment that is not a report are named for the clerk (findings), never lost, never silently used.

Hostile mail gets the limits of files (batn.xlsx: size, zip bombs, macros never run) plus a size
limit per message (checked before it is fetched) and per attachment; a message that cannot be
parsed is named and left in the folder; one failure never stops the others.
"""
from __future__ import annotations

import email
import email.policy
import hashlib
import imaplib
import os
import re
import socket
import ssl
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from email.utils import getaddresses, parseaddr
from pathlib import Path
from typing import Callable, Iterable

from .findings import finding
from .model import Finding, Submission, UnitTree
from .textsafe import clean, shown

__all__ = ["MailSource", "MailFile", "mail_source", "read_mailbox", "RECEIVED_BY_MAIL", "mail_address"]

RECEIVED_BY_MAIL = "mail"              # Submission.received_from: the mail server's receive time
SHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".xlsb", ".csv")
SHEET_TYPES = ("spreadsheet", "excel", "opendocument.spreadsheet", "octet-stream", "zip")
MAX_PARTS = 200                        # parts of one message looked at
_SAFE = re.compile(r"[^\w.\-]+")


@dataclass(frozen=True)
class MailSource:
    host: str
    port: int
    user: str
    security: str = "ssl"              # "ssl" (993), "starttls" or "none" (a server on this machine only)
    password_env: str = "BATN_IMAP_PASSWORD"
    oauth: bool = False                # XOAUTH2 with the Google sign-in (batn gsheets dang-nhap)
    folder: str = "INBOX"
    done_folder: str = "batn-da-doc"
    replies: str = "send"              # "send", "dry-run" or "off"
    max_message_bytes: int = 40 * 1024 * 1024
    timeout: float = 60.0

    @property
    def key(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.folder}"


def mail_source(raw: dict) -> MailSource:
    """A source table of the run configuration; ValueError (Vietnamese) for what cannot be used."""
    host, user = str(raw.get("host", "")).strip(), str(raw.get("user", "")).strip()
    if not host or not user:
        raise ValueError("cần host = \"máy chủ thư\" và user = \"tài khoản\"")
    security = str(raw.get("security", "ssl")).strip().lower()
    if security not in ("ssl", "starttls", "none"):
        raise ValueError(f"security = \"{security}\" phải là \"ssl\", \"starttls\" hoặc \"none\"")
    replies = str(raw.get("replies", "send")).strip().lower()
    if replies not in ("send", "dry-run", "off"):
        raise ValueError(f"replies = \"{replies}\" phải là \"send\", \"dry-run\" hoặc \"off\"")
    try:
        port = int(raw.get("port", 993 if security == "ssl" else 143))
        max_mb = float(raw.get("max_message_mb", 40))
        timeout = float(raw.get("timeout", 60))
    except (TypeError, ValueError):
        raise ValueError("port, max_message_mb và timeout phải là số") from None
    oauth = raw.get("oauth", False)
    if not isinstance(oauth, bool):
        raise ValueError("oauth phải là true hoặc false")
    return MailSource(host, port, user, security, str(raw.get("password_env", "BATN_IMAP_PASSWORD")), oauth,
                      str(raw.get("folder", "INBOX")), str(raw.get("done_folder", "batn-da-doc")), replies,
                      int(max_mb * 1024 * 1024), timeout)


@dataclass
class MailFile:
    """One attachment read (this run or an earlier one), with the message it came in."""

    sha256: str
    archive: str
    name: str
    sender: str
    subject: str
    message_id: str
    received: float


def mail_address(text: str) -> str:
    return parseaddr(text or "")[1].strip().lower()


# ---------------------------------------------------------------- the IMAP conversation

def _connect(src: MailSource) -> imaplib.IMAP4:
    if src.security == "ssl":
        m: imaplib.IMAP4 = imaplib.IMAP4_SSL(src.host, src.port, ssl_context=ssl.create_default_context(),
                                             timeout=src.timeout)
    else:
        m = imaplib.IMAP4(src.host, src.port, timeout=src.timeout)
        if src.security == "starttls":
            m.starttls(ssl_context=ssl.create_default_context())
    if src.oauth:
        token = _google_access_token()
        auth = f"user={src.user}\x01auth=Bearer {token}\x01\x01".encode()
        m.authenticate("XOAUTH2", lambda _challenge: auth)
    else:
        password = os.environ.get(src.password_env)
        if password is None:
            raise ValueError(f"chưa đặt mật khẩu hộp thư trong biến môi trường {src.password_env}")
        m.login(src.user, password)
    return m


def _google_access_token() -> str:
    """An access token from the Google sign-in (batn gsheets dang-nhap), for Gmail's XOAUTH2."""
    try:
        from .gsheets.signin import SignInError, mail_access_token
    except ImportError:
        raise ValueError("đăng nhập Google cho hộp thư cần thư viện google-auth: pip install 'batn[google]'") from None
    try:
        return mail_access_token()
    except SignInError as e:
        raise ValueError(str(e)) from None
    except Exception:          # noqa: BLE001 - google-auth's refresh errors: the clerk signs in again
        raise ValueError("không làm mới được đăng nhập Google để đọc thư: chạy lại batn gsheets dang-nhap "
                         "--hop-thu") from None


def _ok(typ: str, data, what: str) -> list:
    if typ != "OK":
        raise imaplib.IMAP4.error(f"{what}: {data!r}")
    return data


def _uids(m: imaplib.IMAP4) -> list[bytes]:
    data = _ok(*m.uid("SEARCH", None, "ALL"), "SEARCH")
    return data[0].split() if data and data[0] else []


_FETCH_META = re.compile(rb"UID (\d+).*?RFC822\.SIZE (\d+).*?INTERNALDATE \"([^\"]+)\"", re.S)
_FETCH_META2 = re.compile(rb"UID (\d+).*?INTERNALDATE \"([^\"]+)\".*?RFC822\.SIZE (\d+)", re.S)


def _meta(m: imaplib.IMAP4, uids: list[bytes]) -> dict[bytes, tuple[int, float]]:
    """UID -> (size, server receive time), for every message, in batches of 500."""
    out: dict[bytes, tuple[int, float]] = {}
    for i in range(0, len(uids), 500):
        data = _ok(*m.uid("FETCH", b",".join(uids[i:i + 500]).decode(), "(UID RFC822.SIZE INTERNALDATE)"), "FETCH")
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            if not isinstance(line, bytes):
                continue
            g = _FETCH_META.search(line)
            if g:
                uid, size, when = g.group(1), int(g.group(2)), g.group(3)
            else:
                g = _FETCH_META2.search(line)
                if not g:
                    continue
                uid, when, size = g.group(1), g.group(2), int(g.group(3))
            t = imaplib.Internaldate2tuple(b'INTERNALDATE "' + when + b'"')
            out[uid] = (size, time.mktime(t) if t else time.time())
    return out


def _body(m: imaplib.IMAP4, uid: bytes) -> bytes | None:
    data = _ok(*m.uid("FETCH", uid.decode(), "(BODY.PEEK[])"), "FETCH")
    for item in data:
        if isinstance(item, tuple) and len(item) > 1 and isinstance(item[1], bytes):
            return item[1]
    return None


def _move(m: imaplib.IMAP4, uid: bytes, folder: str, can_move: bool) -> None:
    """Into the folder of processed mail (created when missing), so the next run does not fetch it."""
    target = _quote(folder)
    if can_move:
        typ, _data = m.uid("MOVE", uid.decode(), target)
        if typ == "OK":
            return
    _ok(*m.uid("COPY", uid.decode(), target), "COPY")
    _ok(*m.uid("STORE", uid.decode(), "+FLAGS.SILENT", r"(\Deleted)"), "STORE")
    m.expunge()


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---------------------------------------------------------------- one message

@dataclass
class _Message:
    key: str
    message_id: str
    sender: str
    subject: str
    received: float
    attachments: list[tuple[str, bytes]]
    problem: str = ""


def _header(msg, name: str) -> str:
    try:
        return clean(str(msg.get(name, "") or ""))
    except Exception:          # noqa: BLE001 - a malformed header: the message is still read
        return ""


def parse_message(raw: bytes, received: float, max_attachment: int) -> _Message:
    """The attachments of one message (name, bytes), whatever its MIME: parts that cannot be
    decoded are skipped and said; nothing here raises for a hostile message."""
    key = hashlib.sha256(raw).hexdigest()
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception:          # noqa: BLE001
        return _Message(key, "", "", "", received, [], "thư không đúng định dạng (MIME), không đọc được")
    out = _Message(key, _header(msg, "Message-ID"), mail_address(_header(msg, "From")), _header(msg, "Subject"),
                   received, [])
    try:
        parts = list(msg.walk())[:MAX_PARTS]
    except Exception:          # noqa: BLE001
        out.problem = "cấu trúc thư hỏng, không đọc được các tệp đính kèm"
        return out
    for part in parts:
        try:
            if part.is_multipart():
                continue
            name = part.get_filename() or ""
            ctype = part.get_content_type() or ""
            if not name and not any(t in ctype for t in SHEET_TYPES[:3]):
                continue
            data = part.get_payload(decode=True)
        except Exception:      # noqa: BLE001 - one broken part: the others are still read
            out.problem = "một phần của thư không giải mã được"
            continue
        if not isinstance(data, bytes):
            continue
        name = clean(name) or f"tep_dinh_kem{len(out.attachments) + 1}"
        if len(data) > max_attachment:
            out.attachments.append((name, b""))          # named as too large below
            continue
        out.attachments.append((name, data))
    return out


# ---------------------------------------------------------------- the source

def read_mailbox(src: MailSource, ledger, catalogue, tree: UnitTree, log: Callable[[str], None] = print
                 ) -> tuple[list[tuple[object, Submission]], list[Finding], list[MailFile]]:
    """New messages archived and moved; every attachment read so far, as (Received, Submission);
    findings for what the clerk must see; every attachment with its message (for the replies, which
    the ledger sends once per file and address)."""
    from .ledger import Received
    from .xlsx.package import MAX_FILE_BYTES
    from .xlsx.reader import read_submission

    notes: list[Finding] = []
    new: list[MailFile] = []
    try:
        m = _connect(src)
    except (OSError, imaplib.IMAP4.error, ssl.SSLError, ValueError, socket.timeout) as e:
        log(f"Không đọc được hộp thư {src.user} trên {src.host}: {_why(e)}; sẽ thử lại ở lần chạy sau")
        notes.append(finding("mail-unreachable", file=src.key, reason=_why(e)))
    else:
        try:
            new = _fetch_new(m, src, ledger, notes, log, MAX_FILE_BYTES)
        except (OSError, imaplib.IMAP4.error, socket.timeout) as e:
            log(f"Hộp thư {src.user} trên {src.host} ngắt giữa chừng: {_why(e)}; phần còn lại đọc ở lần chạy sau")
            notes.append(finding("mail-unreachable", file=src.key, reason=_why(e)))
        finally:
            try:
                m.logout()
            except Exception:  # noqa: BLE001
                pass
    out = []
    every: list[MailFile] = []           # each run answers what is not answered yet (a killed run's too)
    contacts = _contacts(tree)
    for sha, rel, name, sender, subject, message_id, received in ledger.mail_files(src.key):
        copy = ledger.archive_dir / rel
        if not copy.is_file():
            continue
        every.append(MailFile(sha, rel, name, sender, subject, message_id, received))
        source = f"thư của {sender or '(không rõ người gửi)'}: {name}"
        sub = read_submission(copy, catalogue)
        sub.source, sub.sha256 = source, sha
        sub.received, sub.received_from = received, RECEIVED_BY_MAIL
        sub.findings = [_refile(f, str(copy), source) for f in sub.findings]
        _match(sub, sender, subject, contacts, tree)
        out.append((Received(sha, copy.stat().st_size, rel, source, received), sub))
    return out, notes, every


def _refile(f: Finding, copy: str, source: str) -> Finding:
    from dataclasses import replace

    return replace(f, file=source) if f.file == copy else f


def _fetch_new(m, src: MailSource, ledger, notes: list[Finding], log, max_file: int) -> list[MailFile]:
    from .scheduled import _pause

    typ, _ = m.select(_quote(src.folder))
    if typ != "OK":
        raise imaplib.IMAP4.error(f"không có thư mục {src.folder}")
    uids = _uids(m)
    if not uids:
        return []
    caps = {c.upper() for c in getattr(m, "capabilities", ())}
    m.create(_quote(src.done_folder))                     # "already exists" is fine
    meta = _meta(m, uids)
    new: list[MailFile] = []
    for uid in uids:
        size, received = meta.get(uid, (0, time.time()))
        try:
            if size > src.max_message_bytes:
                notes.append(finding("mail-too-large", file=f"{src.key} (thư số {uid.decode()})",
                                     size=f"{size:,}".replace(",", "."), limit=f"{src.max_message_bytes:,}".replace(",", ".")))
                continue                                   # left in the folder for the clerk
            raw = _body(m, uid)
            if raw is None:
                continue
            msg = parse_message(raw, received, max_file)
            if not ledger.mail_seen(msg.key):
                new += _archive(msg, src, ledger, notes)
            _pause("mail")                                 # tests kill a run here: recorded, not yet moved
            _move(m, uid, src.done_folder, "MOVE" in caps)
        except (OSError, imaplib.IMAP4.error, socket.timeout):
            raise                                          # the connection: the rest waits for the next run
        except Exception as e:  # noqa: BLE001 - one message never stops the others
            notes.append(finding("mail-unreadable", file=f"{src.key} (thư số {uid.decode()})", reason=_why(e)))
    if new:
        log(f"Hộp thư {src.user}: {len(new)} tệp đính kèm mới")
    return new


def _archive(msg: _Message, src: MailSource, ledger, notes: list[Finding]) -> list[MailFile]:
    from .xlsx.package import MAX_FILE_BYTES

    files, found = [], []
    where = f"thư của {msg.sender or '(không rõ người gửi)'} ({msg.subject or 'không có tiêu đề'})"
    if msg.problem:
        notes.append(finding("mail-unreadable", file=where, reason=msg.problem))
    with tempfile.TemporaryDirectory(prefix="batn-thu-") as d:
        for i, (name, data) in enumerate(msg.attachments, start=1):
            if not data:
                notes.append(finding("mail-attachment-skipped", file=f"{where}: {name}",
                                     reason=f"tệp lớn hơn giới hạn {MAX_FILE_BYTES // (1024 * 1024)} MB"))
                continue
            tmp = Path(d) / f"{i:03d}_{_SAFE.sub('_', name)[-80:] or 'tep'}"
            tmp.write_bytes(data)
            rec = ledger.archive(tmp, source=f"{where}: {name}")
            if rec is None:
                continue
            files.append((rec.sha256, rec.archive, shown(name)))
            found.append(MailFile(rec.sha256, rec.archive, shown(name), msg.sender, msg.subject, msg.message_id,
                                  msg.received))
    if not files and not msg.problem:
        notes.append(finding("mail-no-report", file=where))
    status = f"{len(files)} tệp đính kèm" if files else "không có tệp đính kèm"
    ledger.record_mail(msg.key, src.key, msg.message_id, msg.sender, msg.subject, msg.received, status, files)
    return found


def _contacts(tree: UnitTree) -> dict[str, str]:
    """e-mail address -> unit code, from the units file's contact column (former units too)."""
    out: dict[str, str] = {}
    for u in (*tree.units.values(), *tree.former.values()):
        for _name, addr in getaddresses([u.contact.replace(";", ",")]) if u.contact else ():
            if "@" in addr:
                out.setdefault(addr.strip().lower(), u.code)
    return out


def _match(sub: Submission, sender: str, subject: str, contacts: dict[str, str], tree: UnitTree) -> None:
    """The workbook's own unit code first; then the sender's address. What is not certain is said."""
    by_sender = contacts.get(sender)
    if not sub.unit:
        if by_sender and not any(f.kind == "skipped-file" for f in sub.findings):
            sub.findings.append(finding("mail-sender-unit", file=sub.source, unit=by_sender, sender=sender,
                                        name=tree[by_sender].name if by_sender in tree else by_sender))
        return
    if by_sender is None:
        sub.findings.append(finding("mail-unknown-sender", file=sub.source, unit=sub.unit, sender=sender or "(trống)"))
    elif by_sender != sub.unit and tree.successor(by_sender) != sub.unit:
        sub.findings.append(finding("mail-other-sender", file=sub.source, unit=sub.unit, sender=sender,
                                    other=tree[by_sender].name if by_sender in tree else by_sender))


def _why(e: Exception) -> str:
    if isinstance(e, ValueError):
        return str(e)
    if isinstance(e, (socket.timeout, TimeoutError)):
        return "máy chủ thư không trả lời (hết thời gian chờ)"
    if isinstance(e, ssl.SSLError):
        return "lỗi kết nối bảo mật (SSL/TLS)"
    if isinstance(e, ConnectionRefusedError):
        return "máy chủ thư từ chối kết nối"
    if isinstance(e, OSError):
        return "không kết nối được máy chủ thư"
    if isinstance(e, imaplib.IMAP4.error):
        text = str(e).lower()
        if "auth" in text or "login" in text or "credentials" in text:
            return "sai tài khoản hoặc mật khẩu hộp thư"
        return "máy chủ thư báo lỗi"
    return "thư không đọc được"


def received_text(ts: float) -> str:
    return f"{datetime.fromtimestamp(ts):%H:%M ngày %d/%m/%Y}"


# ---------------------------------------------------------------- replies

@dataclass
class Reply:
    to: str
    unit: str
    subject: str
    body: str
    in_reply_to: str
    sha256: str


def replies_for(new: Iterable[MailFile], subs: Iterable[Submission], cons, catalogue) -> list[Reply]:
    """One reply per new attachment's sender, on the same thread: its status, or what to fix."""
    from .feedback import feedback_text
    from .rollup import HAS_ERRORS

    by_sha = {s.sha256: s for s in subs}
    out: list[Reply] = []
    root = cons.tree[cons.tree.root].name
    known = _contacts(cons.tree)
    for f in new:
        sub = by_sha.get(f.sha256)
        if sub is None or not f.sender:
            continue
        r = cons.units.get(sub.unit)
        if r is None and f.sender not in known:
            continue                      # neither a unit's report nor a unit's address: no answer to strangers
        name = r.name if r is not None else (sub.unit or "đơn vị")
        subject = f.subject if f.subject.lower().startswith("re:") else f"Re: {f.subject}".strip()
        errors = [x for x in sub.findings if x.severity.value == "lỗi"]
        review = cons.reviews.get(sub.unit) if cons.reviews else None
        if errors or (r is not None and r.status == HAS_ERRORS):
            body = feedback_text(name, root, cons.period.label, f.name, received_text(f.received),
                                 review.last.reason if review and review.state == "cần sửa" and review.last else "",
                                 [x for x in sub.findings if x.kind != "skipped-file"], catalogue, None)
        elif r is None:
            body = (f"{root} đã nhận thư và tệp “{f.name}” lúc {received_text(f.received)}, nhưng tệp không phải "
                    f"báo cáo của một đơn vị trực thuộc ({'; '.join(x.message for x in sub.findings) or 'không rõ mã đơn vị'}). "
                    "Đề nghị kiểm tra và gửi lại đúng biểu mẫu.\n")
        else:
            body = (f"{root} đã nhận báo cáo {cons.period.label} của {name} (tệp “{f.name}”, nhận lúc "
                    f"{received_text(f.received)}). Tình trạng: {r.status}.\n\nTrân trọng.\n")
        out.append(Reply(f.sender, sub.unit, subject, body, f.message_id, f.sha256))
    return out


def send_replies(replies: list[Reply], settings, ledger, period: str, mode: str,
                 log: Callable[[str], None] = print) -> tuple[int, int]:
    """Send each reply once per file and address (the ledger remembers); "dry-run" only says what
    would be sent. Returns (sent, failed)."""
    from .reminders import Outgoing, deliver

    todo = [Outgoing(r.unit, f"tra-loi {r.sha256[:16]}", r.to, "-", lambda r=r: _reply_mail(settings, r))
            for r in replies]
    if mode == "dry-run":
        for t in todo:
            if not ledger.reminded(period, t.unit, t.kind, t.address, t.day):
                r = next(x for x in replies if x.to == t.address and x.unit == t.unit)
                log(f"(chạy thử) Sẽ trả lời {r.to}: {r.subject} — {r.body.splitlines()[0] if r.body else ''}")
        return 0, 0
    return deliver(settings, todo, ledger, period, log)


def _reply_mail(settings, r: Reply):
    from .reminders import _message

    m = _message(settings, r.to, r.subject, r.body)
    del m["Subject"]
    m["Subject"] = r.subject                     # a reply keeps the thread's subject
    if r.in_reply_to:
        m["In-Reply-To"] = r.in_reply_to
        m["References"] = r.in_reply_to
    return m
