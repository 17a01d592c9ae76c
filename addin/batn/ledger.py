"""The ledger (sổ theo dõi): a SQLite file (WAL) that remembers every file received and every run.

- Every received file is archived by content: `<archive>/<aa>/<sha256><ext>`, written to a
  temporary file and renamed, read-only afterwards. The same bytes are stored once.
- A submission is one archived file with what it said: unit, period, catalogue, the time it
  was received (the file's modification time), its status and its figures.
- For each (period, unit) the ledger keeps the submission the consolidation used; when a newer
  one replaces it, each figure that differs becomes a change ("Đoàn phường X sửa
  CV_T7TN_BUOI từ 12 thành 21").
- Each run that changed anything is recorded with its inputs, outputs (SHA-256), finding
  counts and duration, together with the totals per unit for the period (history).

Everything one run learns is written in one transaction: a crash leaves the ledger as it
was before the run or as it is after it. Recording is idempotent: the same inputs add no row.

This is an adapter: stdlib sqlite3 only, no spreadsheet library.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import sqlite3
import stat
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable, Mapping

from . import vn
from .textsafe import stored, unstored
from .safeio import FileTooLarge, NotARegularFile, kind_of
from .xlsx.package import MAX_FILE_BYTES
from .xlsx.reader import sha256_of

__all__ = ["Ledger", "LedgerError", "Received", "Incoming", "RunBatch", "Recorded", "ChangeRow",
           "SubmissionRow", "change_sentence", "SCHEMA_VERSION"]

SCHEMA_VERSION = 3       # 2: reviews (send back, approve); 3: mail read from a mailbox
PAST_STATUS = "nhập lịch sử"      # a submission brought in by `batn lich-su nhap`, not received by a run
TMP_PREFIX = ".batn-tmp-"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id          INTEGER PRIMARY KEY,
    started     TEXT NOT NULL,            -- ISO time (clock)
    finished    TEXT NOT NULL,
    duration    REAL NOT NULL,            -- seconds
    config      TEXT NOT NULL DEFAULT '',
    period      TEXT NOT NULL,
    catalogue   TEXT NOT NULL,
    root        TEXT NOT NULL,
    as_of       TEXT NOT NULL DEFAULT '', -- figures as of (newest input)
    n_inputs    INTEGER NOT NULL DEFAULT 0,
    inputs_sha  TEXT NOT NULL DEFAULT '', -- SHA-256 of the sorted input hashes
    errors      INTEGER NOT NULL DEFAULT 0,
    warnings    INTEGER NOT NULL DEFAULT 0,
    findings    TEXT NOT NULL DEFAULT '{}',  -- JSON: finding kind -> count
    sent        INTEGER,
    expected    INTEGER
);
CREATE TABLE IF NOT EXISTS files (
    sha256      TEXT PRIMARY KEY CHECK (length(sha256) = 64),
    size        INTEGER NOT NULL,
    archive     TEXT NOT NULL,            -- path inside the archive folder
    first_run   INTEGER NOT NULL REFERENCES runs(id)
);
CREATE TABLE IF NOT EXISTS submissions (
    id          INTEGER PRIMARY KEY,
    sha256      TEXT NOT NULL UNIQUE REFERENCES files(sha256),
    source      TEXT NOT NULL,            -- where it was first found (a BLOB of the file system's bytes
                                          -- when the name is not UTF-8: batn.textsafe.stored)
    received    REAL NOT NULL,            -- POSIX time: the file's modification time
    unit        TEXT NOT NULL DEFAULT '',
    unit_name   TEXT NOT NULL DEFAULT '',
    period      TEXT NOT NULL DEFAULT '',
    catalogue   TEXT NOT NULL DEFAULT '',
    is_total    INTEGER NOT NULL DEFAULT 0,
    status      TEXT NOT NULL,
    errors      INTEGER NOT NULL DEFAULT 0,
    warnings    INTEGER NOT NULL DEFAULT 0,
    first_run   INTEGER NOT NULL REFERENCES runs(id)
);
CREATE INDEX IF NOT EXISTS submissions_unit ON submissions(unit, period);
CREATE TABLE IF NOT EXISTS submission_values (
    submission_id INTEGER NOT NULL REFERENCES submissions(id),
    code        TEXT NOT NULL,
    value       REAL,
    PRIMARY KEY (submission_id, code)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS current (
    period      TEXT NOT NULL,
    unit        TEXT NOT NULL,
    submission_id INTEGER NOT NULL REFERENCES submissions(id),
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    PRIMARY KEY (period, unit)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS changes (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    period      TEXT NOT NULL,
    unit        TEXT NOT NULL,
    from_submission INTEGER NOT NULL REFERENCES submissions(id),
    to_submission   INTEGER NOT NULL REFERENCES submissions(id),
    code        TEXT NOT NULL,
    old         REAL,
    new         REAL
);
CREATE INDEX IF NOT EXISTS changes_unit ON changes(unit, period);
CREATE TABLE IF NOT EXISTS totals (
    period      TEXT NOT NULL,
    unit        TEXT NOT NULL,
    code        TEXT NOT NULL,
    value       REAL,
    catalogue   TEXT NOT NULL,
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    PRIMARY KEY (period, unit, code)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS run_inputs (
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    sha256      TEXT NOT NULL REFERENCES files(sha256),
    source      TEXT NOT NULL,
    PRIMARY KEY (run_id, sha256, source)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS run_outputs (
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    path        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    PRIMARY KEY (run_id, path)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS reminders (
    id          INTEGER PRIMARY KEY,
    period      TEXT NOT NULL,
    unit        TEXT NOT NULL,
    kind        TEXT NOT NULL,            -- status reminded about, or "tong-hop" for the digest
    address     TEXT NOT NULL,
    sent_on     TEXT NOT NULL,            -- YYYY-MM-DD
    sent_at     TEXT NOT NULL,
    UNIQUE (period, unit, kind, address, sent_on)
);
CREATE TABLE IF NOT EXISTS reviews (
    id          INTEGER PRIMARY KEY,
    period      TEXT NOT NULL,
    unit        TEXT NOT NULL,
    action      TEXT NOT NULL,            -- "trả lại" (sent back) or "duyệt" (approved)
    sha256      TEXT NOT NULL,            -- the file the decision is about
    reason      TEXT NOT NULL DEFAULT '',
    who         TEXT NOT NULL DEFAULT '',
    at          TEXT NOT NULL             -- ISO time
);
CREATE INDEX IF NOT EXISTS reviews_unit ON reviews(period, unit);
CREATE TABLE IF NOT EXISTS mail_messages (
    key         TEXT PRIMARY KEY,         -- SHA-256 of the whole message as the server gave it
    mailbox     TEXT NOT NULL,            -- user@host/folder it was read from
    message_id  TEXT NOT NULL DEFAULT '',
    sender      TEXT NOT NULL DEFAULT '',
    subject     TEXT NOT NULL DEFAULT '',
    received    REAL NOT NULL,            -- the server's receive time (INTERNALDATE)
    status      TEXT NOT NULL,            -- what batn found in it
    seen_at     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS mail_files (
    message_key TEXT NOT NULL REFERENCES mail_messages(key),
    sha256      TEXT NOT NULL,
    archive     TEXT NOT NULL,            -- path inside the archive folder
    name        TEXT NOT NULL,            -- the attachment's name (stored as text, escaped)
    PRIMARY KEY (message_key, sha256)
) WITHOUT ROWID;
"""


class LedgerError(ValueError):
    """The ledger cannot be used (message in Vietnamese). A ValueError, like every error a user can
    fix: the command line says it in one line (cliutil.clear_errors), never as a traceback."""


_DATABASE_TROUBLE = (
    (("not a database", "file is encrypted"),
     "tệp này không phải sổ theo dõi của batn (tệp .sqlite3 do batn run ghi); hãy kiểm tra lại đường dẫn --ledger"),
    (("locked", "busy"), "sổ đang được một lệnh batn khác ghi; hãy chờ lệnh đó xong rồi chạy lại"),
    (("malformed", "corrupt"), "sổ bị hỏng; hãy dùng bản sao lưu gần nhất của sổ"),
    (("readonly", "read-only", "unable to open"),
     "không mở hoặc không ghi được tệp sổ (quyền truy cập, ổ đĩa hoặc thư mục không ghi được)"),
)


def _database_trouble(e: sqlite3.DatabaseError) -> str:
    """SQLite's English reason, said for the person running batn."""
    from .findings import in_words

    return in_words(str(e), _DATABASE_TROUBLE, "tệp sổ không dùng được (lỗi của SQLite)")


@dataclass(frozen=True)
class Received:
    """One file as archived: its content hash, size, place in the archive and where it came from."""

    sha256: str
    size: int
    archive: str          # relative to the archive folder
    source: str           # the path the clerk knows
    mtime: float


@dataclass
class Incoming:
    """One file of this run, with what reading and checking it found."""

    file: Received
    status: str
    unit: str = ""
    unit_name: str = ""
    period: str = ""
    catalogue: str = ""
    is_total: bool = False
    errors: int = 0
    warnings: int = 0
    values: Mapping[str, float | int | None] = field(default_factory=dict)


@dataclass
class RunBatch:
    """Everything one run hands to the ledger, written in one transaction."""

    period: str
    catalogue: str
    root: str
    incoming: list[Incoming]
    chosen: dict[str, str]                                  # unit -> sha256 the consolidation used
    totals: dict[str, Mapping[str, float | int | None]]     # unit -> code -> total
    outputs: dict[str, str]                                 # output path -> sha256 of its bytes
    started: float = field(default_factory=time.time)
    config: str = ""
    as_of: str = ""
    errors: int = 0
    warnings: int = 0
    findings: dict[str, int] = field(default_factory=dict)  # kind -> count
    sent: int | None = None
    expected: int | None = None


@dataclass(frozen=True)
class ChangeRow:
    run_id: int
    period: str
    unit: str
    unit_name: str
    code: str
    old: float | None
    new: float | None
    from_source: str
    to_source: str
    received: float      # when the newer file was received

    def sentence(self, label: str | None = None) -> str:
        return change_sentence(self.unit_name or self.unit, self.code, self.old, self.new, label)


@dataclass(frozen=True)
class SubmissionRow:
    id: int
    sha256: str
    source: str
    received: float
    unit: str
    unit_name: str
    period: str
    catalogue: str
    status: str
    errors: int
    warnings: int
    used: bool           # the submission the consolidation of its period uses now


@dataclass
class Recorded:
    """What recording a run did. `run_id` is None when nothing had changed (nothing written)."""

    run_id: int | None
    new_files: int = 0
    new_submissions: int = 0
    changes: list[ChangeRow] = field(default_factory=list)
    totals_changed: int = 0
    outputs_changed: bool = False

    @property
    def changed(self) -> bool:
        return self.run_id is not None


def _figure(v: float | int | None) -> str:
    if v is None:
        return "(trống)"
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return vn.so(v)


def change_sentence(unit_name: str, code: str, old: float | int | None, new: float | int | None,
                    label: str | None = None) -> str:
    """ "Đoàn phường X sửa CV_T7TN_BUOI từ 12 thành 21" (with the indicator's label when given)."""
    what = f"{code} ({label})" if label else code
    return f"{unit_name} sửa {what} từ {_figure(old)} thành {_figure(new)}"


def _summed(series) -> dict[str, dict[str, float | None]]:
    """{period: {code: value}} over several units' rows, values added (a blank adds nothing)."""
    out: dict[str, dict[str, float | None]] = {}
    for rows in series:
        for period, code, value in rows:
            figures = out.setdefault(period, {})
            old = figures.get(code)
            figures[code] = value if old is None else (old if value is None else old + value)
    return out


def _iso(t: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if t is None else t).isoformat(timespec="seconds")


def _num(v: object) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if f == f else None


class Ledger:
    """`with Ledger(path, archive_dir) as led: ...` — opens (and creates) the ledger file."""

    def __init__(self, path: str | Path, archive_dir: str | Path | None = None, *, busy_timeout: float = 30.0):
        self.path = Path(path)
        self.archive_dir = Path(archive_dir) if archive_dir else self.path.parent / "luu_tru"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(str(self.path), timeout=busy_timeout, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as e:
            raise LedgerError(f"Không mở được sổ theo dõi {self.path}: {_database_trouble(e)}") from e

    # ------------------------------------------------------------ lifecycle
    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def _migrate(self) -> None:
        if self._version() == SCHEMA_VERSION:
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            version = self._version()      # another process may have created it meanwhile
            if version > SCHEMA_VERSION:
                raise LedgerError(f"Sổ theo dõi {self.path} do phiên bản batn mới hơn tạo ra "
                                  f"(lược đồ {version} > {SCHEMA_VERSION}); hãy cập nhật batn")
            if version < SCHEMA_VERSION:
                for statement in _statements(_SCHEMA):
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    # ------------------------------------------------------------ archive
    def archive(self, src: str | Path, source: str | None = None) -> Received | None:
        """Copy `src` into the archive under its content hash. None when the file changed while
        it was being copied (a clerk still saving it): the next run will take it."""
        src = Path(src)
        self.archive_dir.mkdir(parents=True, exist_ok=True)
        # Opened without blocking and judged on what was opened: a FIFO or a device named like a
        # workbook raises NotARegularFile here instead of hanging or filling the archive.
        f = os.fdopen(os.open(src, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)), "rb")
        before = os.fstat(f.fileno())
        if not stat.S_ISREG(before.st_mode):
            f.close()
            raise NotARegularFile(errno.EINVAL, kind_of(before.st_mode))
        if before.st_size > MAX_FILE_BYTES:      # never a unit's report: not copied, reported by the reader
            f.close()
            raise FileTooLarge(before.st_size, MAX_FILE_BYTES)
        fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=self.archive_dir)
        h = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(fd, "wb") as out, f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            after = os.stat(src)
            if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or size != after.st_size:
                Path(tmp).unlink(missing_ok=True)
                return None
            sha = h.hexdigest()
            existing = self._archived(sha)
            if existing is not None and (self.archive_dir / existing).stat().st_size == size:
                Path(tmp).unlink(missing_ok=True)
                rel = existing
            else:
                rel = f"{sha[:2]}/{sha}{src.suffix.lower()}"
                dest = self.archive_dir / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(tmp, 0o444)
                os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return Received(sha, size, rel, source if source is not None else str(src), before.st_mtime)

    def archived(self, sha: str) -> Path | None:
        """The archived copy of the file with this SHA-256, or None when the archive no longer has it."""
        rel = self._archived(sha)
        return self.archive_dir / rel if rel else None

    def _archived(self, sha: str) -> str | None:
        row = self.db.execute("SELECT archive FROM files WHERE sha256=?", (sha,)).fetchone()
        if row and (self.archive_dir / row[0]).is_file():
            return row[0]
        folder = self.archive_dir / sha[:2]
        if folder.is_dir():
            for p in folder.iterdir():
                if p.name.startswith(sha):
                    return f"{sha[:2]}/{p.name}"
        return None

    def first_seen(self, sha: str, default: float | None = None) -> float | None:
        """When this content was recorded as received (by an earlier run or import), else `default`."""
        row = self.db.execute("SELECT received FROM submissions WHERE sha256=?", (sha,)).fetchone()
        return float(row[0]) if row else default

    def archive_path(self, rec: Received | str) -> Path:
        return self.archive_dir / (rec.archive if isinstance(rec, Received) else rec)

    def clean_temporary(self) -> int:
        """Remove temporary files a killed run left in the archive (call while holding the run lock)."""
        n = 0
        if self.archive_dir.is_dir():
            for p in self.archive_dir.glob(TMP_PREFIX + "*"):
                os.chmod(p, 0o644)           # it may have been made read-only just before the kill
                p.unlink(missing_ok=True)
                n += 1
        return n

    # ------------------------------------------------------------ recording a run
    def record(self, batch: RunBatch, before_commit: Callable[[], None] | None = None) -> Recorded:
        """Write what a run learnt, in one transaction. Nothing is written when nothing changed."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            run_id = db.execute(
                "INSERT INTO runs(started, finished, duration, config, period, catalogue, root, as_of, n_inputs,"
                " inputs_sha, errors, warnings, findings, sent, expected) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (_iso(batch.started), "", 0.0, stored(batch.config), batch.period, batch.catalogue, batch.root, batch.as_of,
                 len(batch.incoming), _inputs_sha(batch.incoming), batch.errors, batch.warnings,
                 json.dumps(batch.findings, ensure_ascii=False, sort_keys=True), batch.sent, batch.expected),
            ).lastrowid
            rec = Recorded(run_id)
            ids: dict[str, int] = {}
            changed = 0
            for inc in batch.incoming:
                f = inc.file
                cur = db.execute("INSERT OR IGNORE INTO files(sha256, size, archive, first_run) VALUES (?,?,?,?)",
                                 (f.sha256, f.size, f.archive, run_id))
                rec.new_files += cur.rowcount
                sid, inserted, updated = self._submission(inc, run_id)
                ids[f.sha256] = sid
                rec.new_submissions += inserted
                changed += inserted + updated
            for unit, sha in sorted(batch.chosen.items()):
                moved, changes = self._use(batch.period, unit, ids[sha], run_id)
                changed += moved
                rec.changes += changes
            for unit, values in batch.totals.items():
                for code, v in values.items():
                    cur = db.execute(
                        "INSERT INTO totals(period, unit, code, value, catalogue, run_id) VALUES (?,?,?,?,?,?)"
                        " ON CONFLICT(period, unit, code) DO UPDATE SET value=excluded.value,"
                        " catalogue=excluded.catalogue, run_id=excluded.run_id"
                        " WHERE totals.value IS NOT excluded.value OR totals.catalogue IS NOT excluded.catalogue",
                        (batch.period, unit, code, _num(v), batch.catalogue, run_id))
                    rec.totals_changed += cur.rowcount
            rec.outputs_changed = any(self._last_output(p) != sha for p, sha in batch.outputs.items())
            changed += rec.new_files + rec.totals_changed + int(rec.outputs_changed)
            if not changed:
                db.execute("ROLLBACK")
                return Recorded(None)
            db.executemany("INSERT OR IGNORE INTO run_inputs(run_id, sha256, source) VALUES (?,?,?)",
                           [(run_id, i.file.sha256, stored(i.file.source)) for i in batch.incoming])
            db.executemany("INSERT INTO run_outputs(run_id, path, sha256) VALUES (?,?,?)",
                           [(run_id, stored(p), sha) for p, sha in sorted(batch.outputs.items())])
            now = time.time()
            db.execute("UPDATE runs SET finished=?, duration=? WHERE id=?",
                       (_iso(now), round(now - batch.started, 3), run_id))
            if before_commit:
                before_commit()
            db.execute("COMMIT")
            return rec
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def import_past(self, items, note: str) -> tuple[int | None, int]:
        """Record earlier periods (`batn.past.PastFigures`) as one run of their own: each unit's
        figures as a submission, and a unit's totals where the source gives them. What a run or an
        earlier import recorded is never replaced, so importing again adds only what is new.
        Returns (the run's id, or None when nothing was new; how many were new)."""
        db = self.db
        started = time.time()
        db.execute("BEGIN IMMEDIATE")
        try:
            run_id = db.execute(
                "INSERT INTO runs(started, finished, duration, config, period, catalogue, root, n_inputs)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (_iso(started), "", 0.0, stored(note), ",".join(sorted({i.period for i in items})),
                 ",".join(sorted({i.catalogue for i in items})), "", len(items))).lastrowid
            new = 0
            for it in items:
                rec = self._archive_past(it)
                db.execute("INSERT OR IGNORE INTO files(sha256, size, archive, first_run) VALUES (?,?,?,?)",
                           (rec.sha256, rec.size, rec.archive, run_id))
                if db.execute("SELECT 1 FROM submissions WHERE sha256=?", (rec.sha256,)).fetchone():
                    continue                           # imported before, or read by a run
                sid = db.execute(
                    "INSERT INTO submissions(sha256, source, received, unit, unit_name, period, catalogue, is_total,"
                    " status, errors, warnings, first_run) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (rec.sha256, stored(it.source), it.received or started, it.unit, "", it.period, it.catalogue,
                     int(it.is_total), PAST_STATUS, 0, 0, run_id)).lastrowid
                db.executemany("INSERT INTO submission_values(submission_id, code, value) VALUES (?,?,?)",
                               [(sid, c, _num(v)) for c, v in sorted(it.values.items())])
                db.execute("INSERT OR IGNORE INTO current(period, unit, submission_id, run_id) VALUES (?,?,?,?)",
                           (it.period, it.unit, sid, run_id))
                if it.is_total:
                    db.executemany("INSERT OR IGNORE INTO totals(period, unit, code, value, catalogue, run_id)"
                                   " VALUES (?,?,?,?,?,?)",
                                   [(it.period, it.unit, c, _num(v), it.catalogue, run_id)
                                    for c, v in sorted(it.values.items())])
                db.execute("INSERT OR IGNORE INTO run_inputs(run_id, sha256, source) VALUES (?,?,?)",
                           (run_id, rec.sha256, stored(it.source)))
                new += 1
            if not new:
                db.execute("ROLLBACK")
                return None, 0
            now = time.time()
            db.execute("UPDATE runs SET finished=?, duration=? WHERE id=?", (_iso(now), round(now - started, 3), run_id))
            db.execute("COMMIT")
            return run_id, new
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _archive_past(self, it) -> Received:
        if it.path is not None:
            rec = self.archive(it.path, source=it.source)
            if rec is not None:
                return rec
        with tempfile.TemporaryDirectory(prefix="batn-past-") as d:
            tmp = Path(d) / f"{it.sha256}.json"
            tmp.write_bytes(it.document())
            rec = self.archive(tmp, source=it.source)
        assert rec is not None                     # our own temporary file does not change
        return rec

    def _submission(self, inc: Incoming, run_id: int) -> tuple[int, int, int]:
        """(id, inserted, updated): the submission is inserted with its figures the first time;
        later its status and finding counts are brought up to date when they changed."""
        db, f = self.db, inc.file
        row = db.execute("SELECT id, status, errors, warnings, unit_name FROM submissions WHERE sha256=?",
                         (f.sha256,)).fetchone()
        if row is None:
            sid = db.execute(
                "INSERT INTO submissions(sha256, source, received, unit, unit_name, period, catalogue, is_total,"
                " status, errors, warnings, first_run) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (f.sha256, stored(f.source), f.mtime, inc.unit, inc.unit_name, inc.period, inc.catalogue,
                 int(inc.is_total), inc.status, inc.errors, inc.warnings, run_id)).lastrowid
            db.executemany("INSERT INTO submission_values(submission_id, code, value) VALUES (?,?,?)",
                           [(sid, c, _num(v)) for c, v in sorted(inc.values.items())])
            return sid, 1, 0
        sid = row[0]
        if tuple(row[1:]) != (inc.status, inc.errors, inc.warnings, inc.unit_name):
            db.execute("UPDATE submissions SET status=?, errors=?, warnings=?, unit_name=? WHERE id=?",
                       (inc.status, inc.errors, inc.warnings, inc.unit_name, sid))
            return sid, 0, 1
        return sid, 0, 0

    def _use(self, period: str, unit: str, sid: int, run_id: int) -> tuple[int, list[ChangeRow]]:
        """Point (period, unit) at submission `sid`. Returns (1 if the pointer moved, the changes):
        replacing a submission records each figure that differs between the two."""
        db = self.db
        row = db.execute("SELECT submission_id FROM current WHERE period=? AND unit=?", (period, unit)).fetchone()
        if row is not None and row[0] == sid:
            return 0, []
        if row is None:
            db.execute("INSERT INTO current(period, unit, submission_id, run_id) VALUES (?,?,?,?)",
                       (period, unit, sid, run_id))
            return 1, []
        old_id = row[0]
        db.execute("UPDATE current SET submission_id=?, run_id=? WHERE period=? AND unit=?",
                   (sid, run_id, period, unit))
        old, new = self._values(old_id), self._values(sid)
        from_source = unstored(self._one("SELECT source FROM submissions WHERE id=?", old_id))
        to_source, name, received = db.execute("SELECT source, unit_name, received FROM submissions WHERE id=?",
                                               (sid,)).fetchone()
        to_source = unstored(to_source)
        out = []
        for code in sorted(set(old) | set(new)):
            a, b = old.get(code), new.get(code)
            if a != b:
                db.execute("INSERT INTO changes(run_id, period, unit, from_submission, to_submission, code, old, new)"
                           " VALUES (?,?,?,?,?,?,?,?)", (run_id, period, unit, old_id, sid, code, a, b))
                out.append(ChangeRow(run_id, period, unit, name, code, a, b, from_source, to_source, received))
        return 1, out

    def _one(self, sql: str, *args):
        return self.db.execute(sql, args).fetchone()[0]

    def _values(self, sid: int) -> dict[str, float | None]:
        return dict(self.db.execute("SELECT code, value FROM submission_values WHERE submission_id=?", (sid,)))

    def _last_output(self, path: str) -> str | None:
        row = self.db.execute("SELECT sha256 FROM run_outputs WHERE path=? ORDER BY run_id DESC LIMIT 1",
                              (stored(path),)).fetchone()
        return row[0] if row else None

    def last_outputs(self) -> dict[str, str]:
        """Each output path with the SHA-256 of its last recorded version."""
        rows = self.db.execute("SELECT path, sha256 FROM run_outputs o WHERE run_id ="
                               " (SELECT max(run_id) FROM run_outputs WHERE path=o.path)")
        return {unstored(p): sha for p, sha in rows}

    # ------------------------------------------------------------ reading
    def submissions(self, unit: str | None = None, period: str | None = None) -> list[SubmissionRow]:
        q = ("SELECT s.id, s.sha256, s.source, s.received, s.unit, s.unit_name, s.period, s.catalogue, s.status,"
             " s.errors, s.warnings, EXISTS(SELECT 1 FROM current c WHERE c.submission_id=s.id)"
             " FROM submissions s WHERE (?1 IS NULL OR s.unit=?1) AND (?2 IS NULL OR s.period=?2)"
             " ORDER BY s.period, s.received, s.id")
        return [SubmissionRow(*r[:2], unstored(r[2]), *r[3:11], bool(r[11])) for r in self.db.execute(q, (unit, period))]

    # ------------------------------------------------------------ mail (batn.mailbox)
    def mail_seen(self, key: str) -> bool:
        return self.db.execute("SELECT 1 FROM mail_messages WHERE key=?", (key,)).fetchone() is not None

    def record_mail(self, key: str, mailbox: str, message_id: str, sender: str, subject: str, received: float,
                    status: str, files: list[tuple[str, str, str]]) -> None:
        """One message read, with its attachments as archived (sha256, archive path, name): one transaction."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("INSERT OR IGNORE INTO mail_messages(key, mailbox, message_id, sender, subject, received, status,"
                       " seen_at) VALUES (?,?,?,?,?,?,?,?)",
                       (key, mailbox, message_id, sender, subject, received, status, _iso()))
            db.executemany("INSERT OR IGNORE INTO mail_files(message_key, sha256, archive, name) VALUES (?,?,?,?)",
                           [(key, sha, rel, name) for sha, rel, name in files])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def mail_files(self, mailbox: str) -> list[tuple]:
        """(sha256, archive path, name, sender, subject, message_id, received) of every attachment read
        from `mailbox`, oldest message first: each run reads them again from the archive."""
        return list(self.db.execute(
            "SELECT f.sha256, f.archive, f.name, m.sender, m.subject, m.message_id, m.received FROM mail_files f"
            " JOIN mail_messages m ON m.key = f.message_key WHERE m.mailbox=? ORDER BY m.received, f.name",
            (mailbox,)))

    # ------------------------------------------------------------ review (batn.review)
    def latest_submission(self, period: str, unit: str) -> SubmissionRow | None:
        """The newest file received for (period, unit): what the level above reviews."""
        rows = [r for r in self.submissions(unit=unit, period=period) if r.status != PAST_STATUS]
        return rows[-1] if rows else None

    def record_review(self, period: str, unit: str, action: str, sha: str, reason: str = "",
                      who: str = "") -> None:
        self.db.execute("INSERT INTO reviews(period, unit, action, sha256, reason, who, at) VALUES (?,?,?,?,?,?,?)",
                        (period, unit, action, sha, reason, who, _iso(time.time())))

    def decide(self, period: str, units, action: str, reason: str = "", who: str = "", *,
               all_clean: bool = False, newest=None, where: str = " trong sổ theo dõi"
               ) -> tuple[list[tuple[str, str]], list[str]]:
        """Record `action` (batn.review.SEND_BACK or APPROVE) on each unit's newest file, by the rule of
        batn.review.decisions; every door calls this. `newest`: unit -> batn.review.Newest (the Excel
        door's, from its consolidation of the inbox); default: the newest file this ledger received.
        Returns ([(unit, file as shown)], problems in Vietnamese)."""
        from .review import Newest, decisions
        from .textsafe import shown

        if newest is None:
            newest = {r.unit: Newest(r.unit, r.sha256, r.source, r.errors)
                      for r in self.submissions(period=period) if r.status != PAST_STATUS}   # oldest first
        chosen, problems = decisions(action, units, newest, self.review_events(period), period,
                                     all_clean=all_clean, where=where)
        for n in chosen:
            self.record_review(period, n.unit, action, n.sha256, reason, who)
        return [(n.unit, shown(n.source)) for n in chosen], problems

    def review_events(self, period: str | None = None, unit: str | None = None):
        """The decisions as batn.review.ReviewEvent, oldest first."""
        from .review import ReviewEvent

        return [ReviewEvent(*e) for e in self.reviews(period, unit)]

    def reviews(self, period: str | None = None, unit: str | None = None) -> list[tuple]:
        """(period, unit, action, sha256, reason, who, at) in the order they were made."""
        return list(self.db.execute(
            "SELECT period, unit, action, sha256, reason, who, at FROM reviews"
            " WHERE (?1 IS NULL OR period=?1) AND (?2 IS NULL OR unit=?2) ORDER BY id", (period, unit)))

    def changes(self, unit: str | None = None, period: str | None = None,
                run_id: int | None = None) -> list[ChangeRow]:
        q = ("SELECT c.run_id, c.period, c.unit, t.unit_name, c.code, c.old, c.new, f.source, t.source, t.received"
             " FROM changes c JOIN submissions f ON f.id=c.from_submission JOIN submissions t ON t.id=c.to_submission"
             " WHERE (?1 IS NULL OR c.unit=?1) AND (?2 IS NULL OR c.period=?2) AND (?3 IS NULL OR c.run_id=?3)"
             " ORDER BY c.id")
        return [ChangeRow(*r[:7], unstored(r[7]), unstored(r[8]), r[9]) for r in self.db.execute(q, (unit, period, run_id))]

    def runs(self, limit: int = 20) -> list[dict]:
        cur = self.db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))
        cols = [d[0] for d in cur.description]
        return [{**dict(zip(cols, r)), "config": unstored(r[cols.index("config")])} for r in cur]

    def own_history(self, unit: str, also: Iterable[str] = ()) -> dict[str, dict[str, float | None]]:
        """Period -> the figures of the submission used for `unit` in that period (its own figures).
        `also`: the unit's predecessors (units merged into it): their figures of a period are added,
        so a merged unit's history is the history of all it is made of."""
        q = ("SELECT c.period, v.code, v.value FROM current c JOIN submission_values v ON v.submission_id="
             "c.submission_id WHERE c.unit=?")
        return _summed(self.db.execute(q, (u,)) for u in (unit, *also))

    def totals_history(self, unit: str, also: Iterable[str] = ()) -> dict[str, dict[str, float | None]]:
        """Period -> `unit`'s consolidated totals as last recorded for that period (with its
        predecessors' added, as in `own_history`)."""
        return _summed(self.db.execute("SELECT period, code, value FROM totals WHERE unit=?", (u,))
                       for u in (unit, *also))

    def counts(self) -> dict[str, int]:
        tables = [r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {t: self.db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}

    # ------------------------------------------------------------ reminders
    def reminded(self, period: str, unit: str, kind: str, address: str, day: str) -> bool:
        return self.db.execute("SELECT 1 FROM reminders WHERE period=? AND unit=? AND kind=? AND address=?"
                               " AND sent_on=?", (period, unit, kind, address, day)).fetchone() is not None

    def record_reminder(self, period: str, unit: str, kind: str, address: str, day: str) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("INSERT OR IGNORE INTO reminders(period, unit, kind, address, sent_on, sent_at)"
                            " VALUES (?,?,?,?,?,?)", (period, unit, kind, address, day, _iso()))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------ checking
    def check(self, deep: bool = False) -> list[str]:
        """Problems found in the ledger (empty when consistent): SQLite's own checks, then ours.
        `deep` also re-hashes every archived file."""
        db = self.db
        problems = [r[0] for r in db.execute("PRAGMA integrity_check") if r[0] != "ok"]
        for table, rowid, parent, _fk in db.execute("PRAGMA foreign_key_check"):
            problems.append(f"Bảng {table} dòng {rowid} trỏ tới {parent} không có")
        for sha, size, rel in db.execute("SELECT sha256, size, archive FROM files"):
            p = self.archive_dir / rel
            if not p.is_file():
                problems.append(f"Thiếu tệp lưu trữ {rel}")
            elif p.stat().st_size != size:
                problems.append(f"Tệp lưu trữ {rel} sai kích thước")
            elif deep and sha256_of(p) != sha:
                problems.append(f"Tệp lưu trữ {rel} không khớp mã SHA-256")
        for period, unit, s_unit, s_period in db.execute(
                "SELECT c.period, c.unit, s.unit, s.period FROM current c JOIN submissions s ON s.id=c.submission_id"):
            if (period, unit) != (s_period, s_unit):
                problems.append(f"Kỳ {period}, đơn vị {unit} trỏ tới báo cáo của {s_unit} kỳ {s_period}")
        for cid, unit, period, fu, fp, tu, tp in db.execute(
                "SELECT c.id, c.unit, c.period, f.unit, f.period, t.unit, t.period FROM changes c"
                " JOIN submissions f ON f.id=c.from_submission JOIN submissions t ON t.id=c.to_submission"):
            if not (unit == fu == tu and period == fp == tp):
                problems.append(f"Thay đổi số {cid} không khớp đơn vị, kỳ báo cáo")
        for (rid,) in db.execute("SELECT id FROM runs WHERE finished=''"):
            problems.append(f"Lần chạy {rid} không có thời điểm kết thúc")
        return problems


def _statements(script: str) -> list[str]:
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    return out


def _inputs_sha(incoming: Iterable[Incoming]) -> str:
    h = hashlib.sha256()
    for sha in sorted(i.file.sha256 for i in incoming):
        h.update(sha.encode())
    return h.hexdigest()
