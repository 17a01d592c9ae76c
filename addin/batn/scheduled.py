"""`batn run CONFIG.toml`: the scheduled consolidation, with a ledger.

One run, under a lock so that two never overlap:

1. read every file of the sources (inbox folders), each one first archived by content in
   the ledger's archive and then read from that copy, so what is recorded is what was read;
   read the Google sources with the Google door's reader (batn.gsheets.read), and archive each
   unit's figures as read (a canonical JSON document, `<sha256>.json`) the same way;
2. consolidate the unit tree (batn.rollup) with `as_of` = the newest input's modification
   time, never the clock: the same inputs give byte-identical outputs;
3. warn about figures far from a unit's own history (median of its earlier periods);
4. write the outputs (consolidated workbook, report .docx/.txt, reminder list), each to a
   temporary file renamed over the old one, and only when its bytes changed;
5. record the run in the ledger in one transaction (nothing when nothing changed);
6. optionally e-mail reminders (once a day per unit and address);
7. optionally write status and findings back into the Google spreadsheets (the door's writer).

A crash at any point leaves each output as its previous or its new complete version and
the ledger as before or after the run; the next run finishes the job.

This is a door: it opens files, the ledger and SMTP, and calls the pipeline's functions.
The configuration is read by batn.runconfig, the comparison with earlier periods and the
outlier check are batn.history (plain logic over what the ledger returns), and the reminder
list, CSV and e-mails are batn.reminders.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sys
import tempfile
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Iterable

from .findings import count
from .history import figure_text, add_outliers
from .ledger import ChangeRow, Incoming, Ledger, LedgerError, Received, RunBatch
from .model import FIRST_SEEN, SAVED_IN_FILE, Catalogue, Finding, Period, Severity, Submission, UnitTree
from .reminders import Reminder, reminders_csv, reminders_for, send_reminders
from .review import review_consolidation, standing_approvals
from .rollup import Consolidation
from .runconfig import ConfigError, RunConfig
from .safeio import atomic_path
from .textsafe import shown

__all__ = ["LockBusy", "SourceError", "RunOutcome", "run", "deterministic_zip", "sheet_document"]

Log = Callable[[str], None]

PAUSE_ENV = "BATN_TEST_PAUSE_AT"          # test hook: "read", "write", "between-outputs", "ledger"
PAUSE_SECONDS_ENV = "BATN_TEST_PAUSE_SECONDS"


class LockBusy(RuntimeError):
    """Another run holds the lock and did not finish within the wait allowed; exit status 2."""


class SourceError(ConfigError):
    """A source could not be read or written (Google refused, the quota ran out...); exit status 2."""


# ====================================================================== test hook

def _pause(point: str) -> None:
    """Inert unless BATN_TEST_PAUSE_AT names this point: then say so on stderr and sleep,
    so a test can kill the run at a known place."""
    if os.environ.get(PAUSE_ENV) != point:
        return
    sys.stderr.write(f"BATN_TEST_PAUSED {point}\n")
    sys.stderr.flush()
    time.sleep(float(os.environ.get(PAUSE_SECONDS_ENV, "60")))


# ====================================================================== outputs

def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_CORE_TIME = re.compile(rb"(<dcterms:(created|modified)\b[^>]*>)[^<]*(</dcterms:\2>)")


def deterministic_zip(data: bytes, when: datetime) -> bytes:
    """The same package with every member dated `when` and the document's created/modified
    properties set to `when`: byte-identical output for identical content."""
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    dt = max(when, datetime(1980, 1, 1)).timetuple()[:6]
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            body = zin.read(info)
            if info.filename == "docProps/core.xml":
                body = _CORE_TIME.sub(lambda m: m.group(1) + stamp + m.group(3), body)
            zi = zipfile.ZipInfo(info.filename, date_time=dt)
            zi.compress_type = info.compress_type
            zi.external_attr = info.external_attr
            zi.create_system = 0
            zout.writestr(zi, body)
    return out.getvalue()


def _write_if_changed(path: Path, data: bytes, before_rename: Callable[[], None] | None = None) -> bool:
    """Replace `path` by `data` unless it already holds them. batn.safeio does the temporary file,
    its permissions (as the umask allows) and the fsync before the rename."""
    if path.is_file() and path.read_bytes() == data:
        return False
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
        if before_rename:
            before_rename()
    return True


def _clean_stale_temporaries(paths: Iterable[Path]) -> int:
    """Temporary files batn.safeio leaves when a run is killed before its rename: ".<stem>.<8 chars><suffix>"."""
    n = 0
    for p in paths:
        if not p.parent.is_dir():
            continue
        pat = re.compile(r"^\." + re.escape(p.stem) + r"\.[a-z0-9_]{8}" + re.escape(p.suffix) + r"$")
        for q in p.parent.iterdir():
            if pat.match(q.name) and q.is_file():
                q.unlink(missing_ok=True)
                n += 1
    return n


# ====================================================================== the run

@dataclass
class RunOutcome:
    run_id: int | None                    # None: nothing had changed, nothing recorded
    outputs: dict[str, Path]              # kind -> path
    written: list[Path]                   # outputs whose bytes changed
    changes: list[ChangeRow]
    findings: list[Finding]
    reminders: list[Reminder]
    sent: int
    expected: int
    files: int
    skipped: list[str]                    # files still being written, left for the next run
    as_of: datetime
    duration: float
    emails_sent: int = 0
    emails_failed: int = 0
    period: str = ""
    root: str = ""
    google_requests: int = 0              # Sheets API requests (retries included); 0 without Google sources
    written_back: list[str] = field(default_factory=list)   # spreadsheets the results were written into

    @property
    def errors(self) -> int:
        return count(self.findings, Severity.ERROR)

    @property
    def warnings(self) -> int:
        return count(self.findings, Severity.WARNING)


def _status_of(sub: Submission, cons: Consolidation) -> str:
    kinds = {f.kind for f in sub.findings}
    for kind, status in (("unreadable-file", "không đọc được"), ("not-a-template", "không phải biểu mẫu batn"),
                         ("wrong-period", "sai kỳ báo cáo"), ("wrong-catalogue", "sai bộ chỉ tiêu"),
                         ("unknown-unit", "mã đơn vị không có trong danh sách")):
        if kind in kinds:
            return status
    r = cons.units.get(sub.unit)
    if r is None:
        return "ngoài phạm vi tổng hợp"
    if r.submission is sub:
        return r.status
    if any(s is sub for s in r.ignored):
        return "đã có tệp mới hơn"
    if r.held and r.held[0] is sub:
        return r.status                  # chờ duyệt, or có lỗi: held back from the totals until approved
    if any(s is sub for s in r.held):
        return "đã có tệp mới hơn"
    return "không dùng"


def _read_sources(cfg: RunConfig, ledger: Ledger, catalogue: Catalogue, outputs: Iterable[Path], log: Log
                  ) -> tuple[list[tuple[Received, Submission]], list[str]]:
    from .xlsx.reader import list_inbox, read_submission

    # Our own files are never inputs, even when a folder is configured inside another.
    own_dir = cfg.archive.resolve()
    own_files = {o.resolve() for o in outputs}
    files: list[Path] = []
    notes: list[Finding] = []          # files named but not read: skipped, or not archivable
    for s in cfg.sources:
        if s.type != "folder":
            continue
        if not s.path.is_dir():
            raise ConfigError(f"Không có thư mục nguồn {s.path}")
        listed, skipped_files = list_inbox(s.path)
        notes += skipped_files
        files += [f for f in map(Path, listed)
                  if f.resolve() not in own_files and own_dir not in f.resolve().parents]
    out: list[tuple[Received, Submission]] = []
    skipped: list[str] = []
    for i, f in enumerate(files):
        try:
            rec = ledger.archive(f, source=str(f))
        except FileNotFoundError:
            continue                         # removed while we were reading the folder
        except OSError:                      # a FIFO, a device, too large, unreadable: named, not archived
            notes.extend(read_submission(f, catalogue).findings)
            continue
        if rec is None:
            skipped.append(str(f))
            log(f"Bỏ qua {shown(f)}: tệp đang được ghi dở, sẽ đọc ở lần chạy sau")
            continue
        copy = ledger.archive_path(rec)
        sub = read_submission(copy, catalogue)
        # A file an earlier run recorded keeps the time it got then; a new one its own save time,
        # and without one, now: the ledger sees it for the first time.
        seen = ledger.first_seen(rec.sha256, None)
        if seen is not None:
            sub.received, sub.received_from = seen, FIRST_SEEN
        elif sub.received_from != SAVED_IN_FILE:
            sub.received, sub.received_from = time.time(), FIRST_SEEN
        rec = replace(rec, mtime=sub.received)
        sub.source, sub.sha256 = rec.source, rec.sha256
        sub.findings = [replace(x, file=rec.source) if x.file == str(copy) else x for x in sub.findings]
        out.append((rec, sub))
        if i == 0:
            _pause("read")
    return out, skipped, notes


# ====================================================================== mailbox sources

def _read_mail(cfg: RunConfig, ledger: Ledger, catalogue: Catalogue, tree, log: Log):
    """Every report that came by mail (batn.mailbox): (Received, Submission) pairs, the findings the
    clerk must see, and per source the attachments new in this run (for the replies)."""
    out, notes, new = [], [], []
    for s in cfg.sources:
        if s.type != "imap":
            continue
        from .mailbox import read_mailbox

        pairs, found, files = read_mailbox(s.mail, ledger, catalogue, tree, log)
        out += pairs
        notes += found
        new.append((s.mail, files))
    return out, notes, new


# ====================================================================== Google sources

@dataclass
class _SheetSource:
    """One spreadsheet read this run, kept for the write-back."""

    conn: Any                             # batn.gsheets.auth.Connection
    read: Any                             # batn.gsheets.read.SheetRead
    write_back: bool


def sheet_document(sub: Submission) -> bytes:
    """What a unit's tab (or row) said, as canonical JSON: the bytes archived as `<sha256>.json`.
    The same figures and narratives give the same bytes, whatever the tab's place or formatting."""
    from .gsheets.read import _TYPED

    doc = {
        "batn": "google-sheets/1",
        "unit": sub.unit, "period": sub.period, "catalogue": sub.catalogue, "is_total": sub.is_total,
        "values": {c: sub.values[c] for c in sorted(sub.values)},
        "narratives": {k: [list(r) for r in rows] for k, rows in sorted(sub.narratives.items())},
        # a cell that is not a number reads as None: keep what was typed (it is in the message)
        "unreadable": sorted([f.indicator, f.kind, f.message] for f in sub.findings if f.kind in _TYPED),
    }
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")


def _archive_sheet_unit(ledger: Ledger, sub: Submission, now: float) -> Received:
    """Archive a unit's figures read from a spreadsheet like a file. Its time received is when this
    content was first seen (a spreadsheet has no file date): the archived copy keeps that time, so
    a re-run on an unchanged sheet gives the same inputs, hence the same outputs and no new row."""
    data = sheet_document(sub)
    sha = _sha(data)
    seen = ledger.archive_dir / sha[:2] / f"{sha}.json"
    first = None if seen.is_file() else now
    with tempfile.TemporaryDirectory(prefix="batn-sheet-") as d:
        tmp = Path(d) / f"{sha}.json"
        tmp.write_bytes(data)
        rec = ledger.archive(tmp, source=sub.source)
    if rec is None or rec.sha256 != sha:          # cannot happen: the temporary file is ours alone
        raise RuntimeError(f"Không lưu được số liệu của {sub.unit} đọc từ {sub.source}")
    copy = ledger.archive_path(rec)
    if first is not None:
        os.utime(copy, (first, first))
    return replace(rec, mtime=copy.stat().st_mtime)


def _read_google(cfg: RunConfig, ledger: Ledger, catalogue: Catalogue, now: datetime, log: Log, backoff
                 ) -> tuple[list[tuple[Received, Submission]], list[_SheetSource], int]:
    sources = [s for s in cfg.sources if s.type == "google"]
    if not sources:
        return [], [], 0
    try:
        from .gsheets.auth import connect, google_errors, spreadsheet_key
        from .gsheets.quota import GoogleDoorError
        from .gsheets.read import read_spreadsheet
    except ImportError:
        raise ConfigError("Nguồn Google Sheets cần thư viện gspread và google-auth: "
                          "pip install 'batn[google]'") from None
    first_seen = float(int(now.timestamp()))
    out: list[tuple[Received, Submission]] = []
    sheets: list[_SheetSource] = []
    seen: set[str] = set()
    requests = 0
    for s in sources:
        try:
            conn = connect(s.credentials, api_base=s.api_base, backoff=backoff)
            for ref in s.spreadsheets:
                key = spreadsheet_key(ref)
                if key in seen:
                    continue
                seen.add(key)
                with google_errors(key, conn.account):
                    read = read_spreadsheet(conn.http, key, catalogue)
                _check_layout(s.layout, read)
                for sub in read.submissions:
                    rec = _archive_sheet_unit(ledger, sub, first_seen)
                    sub.received, sub.sha256 = rec.mtime, rec.sha256
                    out.append((rec, sub))
                sheets.append(_SheetSource(conn, read, s.write_back))
                log(f"Đọc bảng tính {read.info.title or key}: {len(read.submissions)} đơn vị đã nhập"
                    + (f", {len(read.empty)} chưa nhập" if read.empty else ""))
        except GoogleDoorError as e:
            label = f"Nguồn Google Sheets “{s.name}”" if s.name else "Nguồn Google Sheets"
            raise SourceError(f"{label}: {e} Lần chạy dừng lại, không thay đổi gì.") from e
        requests += conn.counter.total
        log(conn.counter.summary())
    return out, sheets, requests


def _approved_sheet_figures(ledger: Ledger, read: list[tuple[Received, Submission]], events, period: str
                            ) -> list[tuple[Received, Submission]]:
    """A spreadsheet keeps only its latest figures: when a unit's tab changed after its report was
    approved, the approved figures are read back from the archive (`<sha256>.json`), so they stay in
    use while the change waits for approval, as an approved file in a folder does (issue 17)."""
    have = {s.sha256 for _, s in read}
    units_read = {s.unit for _, s in read}
    rows = {r.sha256: r for r in ledger.submissions(period=period)}
    out = []
    for unit, sha in standing_approvals(events).items():
        copy = ledger.archived(sha) if sha not in have and unit in units_read and sha in rows else None
        if copy is None or copy.suffix != ".json":
            continue
        doc = json.loads(copy.read_text(encoding="utf-8"))
        row = rows[sha]
        sub = Submission(doc["unit"], doc["period"], doc["catalogue"], dict(doc["values"]),
                         {k: [tuple(r) for r in v] for k, v in doc.get("narratives", {}).items()},
                         source=row.source, sha256=sha, received=row.received, received_from=FIRST_SEEN,
                         is_total=bool(doc.get("is_total")))
        out.append((Received(sha, copy.stat().st_size, copy.relative_to(ledger.archive_dir).as_posix(), row.source,
                             row.received), sub))
    return out


def _check_layout(layout: str, read) -> None:
    found = "rows" if read.unit_rows and not read.unit_tabs else "tabs" if read.unit_tabs and not read.unit_rows else ""
    if layout and found and found != layout:
        words = {"tabs": "mỗi đơn vị một trang", "rows": "mỗi đơn vị một dòng"}
        raise SourceError(f"Bảng tính {read.info.url} bố trí {words[found]} ({found}), không như cấu hình "
                          f"layout = \"{layout}\" ({words[layout]}). Sửa layout trong tệp cấu hình hoặc kiểm tra "
                          "lại mã bảng tính.")


def _write_back(sheets: list[_SheetSource], cons: Consolidation, tree: UnitTree, log: Log) -> list[str]:
    from .gsheets.auth import google_errors
    from .gsheets.quota import GoogleDoorError
    from .gsheets.write import apply_plan, plan_write_back

    done: list[str] = []
    targets = [s for s in sheets if s.write_back]
    for i, s in enumerate(targets):
        read = s.read
        plan = plan_write_back(read, cons, summary=(i == 0), tree=tree, account=s.conn.account)
        try:
            with google_errors(read.info.key, s.conn.account):
                apply_plan(s.conn.http, plan)
        except GoogleDoorError as e:
            raise SourceError(f"Đã tổng hợp, ghi các tệp kết quả và sổ theo dõi, nhưng chưa ghi được kết quả vào "
                              f"bảng tính {read.info.url}: {e} Lần chạy sau sẽ ghi lại.") from e
        done.append(read.info.url)
        log(f"Đã ghi tình hình nộp và kết quả kiểm tra vào bảng tính {read.info.url}")
        for problem in plan.problems:           # e.g. an approved unit's inputs this account cannot lock
            log(problem)
    return done


def _load_inputs(cfg: RunConfig):
    from .catalogue import CatalogueError, load_catalogue
    from .periods import parse_period
    from .pipeline import load_period
    from .report.context import load_settings
    from .units import UnitsFileError, load_units

    try:
        tree = load_units(cfg.units)
    except FileNotFoundError:
        raise ConfigError(f"Không có tệp danh sách đơn vị {cfg.units}") from None
    except UnitsFileError as e:
        raise ConfigError(str(e)) from None          # it names the file itself
    try:
        catalogue = load_catalogue(cfg.catalogue)
    except (CatalogueError, FileNotFoundError, KeyError) as e:
        raise ConfigError(f"Bộ chỉ tiêu {cfg.catalogue}: {e}") from None
    try:
        if cfg.period_settings:
            period = parse_period(cfg.period, cfg.period_settings)
        else:                                    # the file named in [periods], or templates/periods.toml
            period = load_period(cfg.period, cfg.period_file)
        settings = load_settings(cfg.report_settings)
    except (ValueError, OSError) as e:
        raise ConfigError(str(e)) from None
    unknown = [c for c in cfg.history.indicators if c not in catalogue]
    if unknown:
        raise ConfigError(f"[history] indicators: mã chỉ tiêu {', '.join(unknown)} không có trong bộ chỉ tiêu "
                          f"{catalogue.id}")
    root = cfg.root or tree.root
    if root not in tree:
        raise ConfigError(f"Mã đơn vị '{root}' (root) không có trong danh sách đơn vị")
    return tree, catalogue, period, settings, root


def _output_paths(cfg: RunConfig, root: str, period: Period) -> dict[str, Path]:
    def fill(p: Path) -> Path:
        return Path(str(p).replace("{root}", root).replace("{period}", period.id))

    out: dict[str, Path] = {}
    if cfg.outputs.get("consolidated") is not None:
        out["consolidated"] = fill(cfg.outputs["consolidated"])
    for i, r in enumerate(cfg.outputs.get("reports", [])):
        out[f"report{i + 1}"] = fill(r)
    if cfg.outputs.get("reminders") is not None:
        out["reminders"] = fill(cfg.outputs["reminders"])
    return out


def _report_date(cfg: RunConfig, as_of: datetime, now: datetime) -> date:
    if cfg.report_date == "today":
        return now.date()
    if cfg.report_date == "as_of":
        return as_of.date()
    from .vn import doc_ngay

    return doc_ngay(cfg.report_date)        # checked when the configuration was read


def _build_outputs(cfg: RunConfig, cons: Consolidation, tree: UnitTree, settings: dict, ledger: Ledger,
                   paths: dict[str, Path], reminders: list[Reminder], on: date) -> dict[str, bytes]:
    from .pipeline import report_input_from_workbook
    from .report.context import build_report
    from .report.docx_writer import build_document
    from .report.text_writer import render_text
    from .xlsx.consolidated import Paper, save_consolidated
    from .history import previous_from_history

    buf = io.BytesIO()
    # the cover's header as the report's: the same settings, the root's level and parent
    save_consolidated(cons, buf, Paper(settings, parent=tree.parent_of(cons.tree.root)))
    book = deterministic_zip(buf.getvalue(), cons.as_of)
    data: dict[str, bytes] = {}
    if "consolidated" in paths:
        data["consolidated"] = book
    reports = {k: p for k, p in paths.items() if k.startswith("report")}
    if reports:
        # The report is read back from the consolidated workbook, exactly as `batn report` does.
        with tempfile.TemporaryDirectory(prefix="batn-run-") as d:
            tmp = Path(d) / "tong_hop.xlsx"
            tmp.write_bytes(book)
            inp = report_input_from_workbook(tmp, tree)
        inp.period = cons.period
        # The comparison with the last period of the same kind in the ledger, inside the sentences.
        inp.previous = previous_from_history(inp, ledger.totals_history(inp.unit.code,
                                                                        also=tree.predecessors(inp.unit.code)))
        doc = build_report(inp, settings, number=cfg.report_number, on=on)
        for k, p in reports.items():
            if p.suffix.lower() == ".docx":
                b = io.BytesIO()
                build_document(doc, settings.get("layout")).save(b)
                data[k] = deterministic_zip(b.getvalue(), cons.as_of)
            else:
                data[k] = render_text(doc, markdown=p.suffix.lower() == ".md").encode("utf-8")
    if "reminders" in paths:
        data["reminders"] = reminders_csv(reminders)
    return data


def run(cfg: RunConfig, *, now: datetime | None = None, log: Log = print, google_backoff=None) -> RunOutcome:
    """One scheduled run (see the module doc). Raises ConfigError (SourceError) or LockBusy when it cannot
    run. `google_backoff`: a batn.gsheets.quota.Backoff for the Google sources (tests move a fake clock)."""
    from filelock import FileLock, Timeout

    now = now or datetime.now()
    tree, catalogue, period, settings, root = _load_inputs(cfg)
    cfg.ledger.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(cfg.lock_path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log(f"Đang có một lần chạy khác; chờ tối đa {figure_text(cfg.lock_timeout)} giây...")
        try:
            lock.acquire(timeout=cfg.lock_timeout)
        except Timeout:
            raise LockBusy(f"Đang có một lần chạy khác giữ khóa {cfg.lock_path}; đã chờ {figure_text(cfg.lock_timeout)} "
                           "giây mà chưa xong. Lần chạy này dừng lại, không thay đổi gì; lần chạy theo lịch sau "
                           "sẽ làm tiếp.") from None
    try:
        return _run_locked(cfg, tree, catalogue, period, settings, root, now, log, google_backoff)
    finally:
        lock.release()


def _run_locked(cfg: RunConfig, tree: UnitTree, catalogue: Catalogue, period: Period, settings: dict, root: str,
                now: datetime, log: Log, google_backoff=None) -> RunOutcome:
    from .rollup import consolidate

    started = time.time()
    t0 = time.monotonic()
    paths = _output_paths(cfg, root, period)
    _clean_stale_temporaries(paths.values())
    try:
        ledger = Ledger(cfg.ledger, cfg.archive)
    except LedgerError as e:
        raise ConfigError(str(e)) from None
    with ledger:
        ledger.clean_temporary()
        read, skipped, notes = _read_sources(cfg, ledger, catalogue, paths.values(), log)
        from_sheets, sheets, google_requests = _read_google(cfg, ledger, catalogue, now, log, google_backoff)
        read += from_sheets
        from_mail, mail_notes, new_mail = _read_mail(cfg, ledger, catalogue, tree, log)
        read += from_mail
        notes += mail_notes
        subs = [s for _, s in read]
        # The data's time, as `batn consolidate` says it: the newest save time of the files used.
        # The review loop: an approved file stays in use until its correction is approved too.
        events = ledger.review_events(period.id)
        held = _approved_sheet_figures(ledger, read, events, period.id)
        read += held
        subs += [s for _, s in held]
        cons = consolidate(subs, tree, catalogue, period, root=root,
                           as_of=None if any(s.received for s in subs)
                           else datetime.fromtimestamp(int(cfg.units.stat().st_mtime)),
                           approved=standing_approvals(events), approved_only=cfg.approved_only)
        review_consolidation(cons, events)
        as_of = cons.as_of
        cons.findings[:0] = notes              # every file of the inbox is read or named
        add_outliers(cons, ledger, cfg.history)
        reminders = reminders_for(cons)
        data = _build_outputs(cfg, cons, tree, settings, ledger, paths, reminders,
                              _report_date(cfg, as_of, now))

        written: list[Path] = []
        for kind, path in paths.items():
            first = not written
            if _write_if_changed(path, data[kind], (lambda: _pause("write")) if first else None):
                written.append(path)
                if first:
                    _pause("between-outputs")

        batch = RunBatch(
            period=period.id, catalogue=catalogue.id, root=root, started=started, config=str(cfg.path),
            as_of=as_of.isoformat(), sent=len(cons.sent), expected=len(cons.expected),
            incoming=[Incoming(rec, _status_of(sub, cons), sub.unit,
                               tree[sub.unit].name if sub.unit in tree else "", sub.period, sub.catalogue,
                               sub.is_total, count(sub.findings, Severity.ERROR),
                               count(sub.findings, Severity.WARNING), dict(sub.values))
                      for rec, sub in read],
            chosen={c: r.submission.sha256 for c, r in cons.units.items() if r.submission is not None},
            totals={c: dict(r.totals) for c, r in cons.units.items()},
            outputs={str(p): _sha(data[k]) for k, p in paths.items()},
            errors=count(cons.findings, Severity.ERROR),
            warnings=count(cons.findings, Severity.WARNING),
            findings=_count_kinds(cons.findings),
        )
        recorded = ledger.record(batch, before_commit=lambda: _pause("ledger"))

        sent = failed = 0
        if cfg.reminders.email:
            sent, failed = send_reminders(reminders, cfg.reminders, ledger, period, tree[root].name,
                                          now.date(), as_of, log)
        for src, files in new_mail:             # one reply per new report that came by mail, on its thread
            if src.replies == "off" or not files:
                continue
            if src.replies == "send" and not cfg.reminders.email:
                log("Chưa trả lời thư của các đơn vị: bật [reminders] email = true và khai báo máy chủ thư gửi đi")
                continue
            from .mailbox import replies_for, send_replies

            s2, f2 = send_replies(replies_for(files, subs, cons, catalogue), cfg.reminders, ledger, period.id,
                                  src.replies, log)
            sent, failed = sent + s2, failed + f2
    written_back = _write_back(sheets, cons, tree, log) if any(s.write_back for s in sheets) else []
    if written_back:
        google_requests = sum(c.counter.total for c in {id(s.conn): s.conn for s in sheets}.values())
    return RunOutcome(recorded.run_id, paths, written, recorded.changes, cons.findings, reminders,
                      len(cons.sent), len(cons.expected), len(read), skipped, as_of,
                      round(time.monotonic() - t0, 3), sent, failed, period.id, root, google_requests, written_back)


def _count_kinds(findings: Iterable[Finding]) -> dict[str, int]:
    return dict(sorted(Counter(f.kind for f in findings).items()))

