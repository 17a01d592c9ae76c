"""`batn run CONFIG.toml`: the scheduled consolidation, with a ledger.

One run, under a lock so that two never overlap:

1. read every file of the sources (inbox folders), each one first archived by content in
   the ledger's archive and then read from that copy, so what is recorded is what was read;
2. consolidate the unit tree (batn.rollup) with `as_of` = the newest input's modification
   time, never the clock: the same inputs give byte-identical outputs;
3. warn about figures far from a unit's own history (median of its earlier periods);
4. write the outputs (consolidated workbook, report .docx/.txt, reminder list), each to a
   temporary file renamed over the old one, and only when its bytes changed;
5. record the run in the ledger in one transaction (nothing when nothing changed);
6. optionally e-mail reminders (once a day per unit and address).

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
import os
import re
import sys
import tempfile
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Callable, Iterable

from .findings import count
from .history import add_history_to_report, compare_with_history, figure_text, history_outliers, history_paragraphs
from .ledger import ChangeRow, Incoming, Ledger, LedgerError, Received, RunBatch
from .model import Catalogue, Finding, Period, Severity, Submission, UnitTree
from .reminders import Reminder, reminders_csv, reminders_for, send_reminders
from .rollup import Consolidation
from .runconfig import ConfigError, RunConfig
from .safeio import atomic_path

__all__ = ["LockBusy", "RunOutcome", "run", "deterministic_zip"]

Log = Callable[[str], None]

PAUSE_ENV = "BATN_TEST_PAUSE_AT"          # test hook: "read", "write", "between-outputs", "ledger"
PAUSE_SECONDS_ENV = "BATN_TEST_PAUSE_SECONDS"


class LockBusy(RuntimeError):
    """Another run holds the lock and did not finish within the wait allowed; exit status 2."""


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
    return "không dùng"


def _read_sources(cfg: RunConfig, ledger: Ledger, catalogue: Catalogue, outputs: Iterable[Path], log: Log
                  ) -> tuple[list[tuple[Received, Submission]], list[str]]:
    from .xlsx.reader import find_workbooks, read_submission

    # Our own files are never inputs, even when a folder is configured inside another.
    own_dir = cfg.archive.resolve()
    own_files = {o.resolve() for o in outputs}
    files: list[Path] = []
    for s in cfg.sources:
        if not s.path.is_dir():
            raise ConfigError(f"Không có thư mục nguồn {s.path}")
        files += [f for f in find_workbooks(s.path)
                  if f.resolve() not in own_files and own_dir not in f.resolve().parents]
    out: list[tuple[Received, Submission]] = []
    skipped: list[str] = []
    for i, f in enumerate(files):
        try:
            rec = ledger.archive(f, source=str(f))
        except FileNotFoundError:
            continue                         # removed while we were reading the folder
        if rec is None:
            skipped.append(str(f))
            log(f"Bỏ qua {f}: tệp đang được ghi dở, sẽ đọc ở lần chạy sau")
            continue
        copy = ledger.archive_path(rec)
        sub = read_submission(copy, catalogue)
        sub.source, sub.received, sub.sha256 = rec.source, rec.mtime, rec.sha256
        sub.findings = [replace(x, file=rec.source) if x.file == str(copy) else x for x in sub.findings]
        out.append((rec, sub))
        if i == 0:
            _pause("read")
    return out, skipped


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
        raise ConfigError(f"Danh sách đơn vị {cfg.units}:\n{e}") from None
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
    return datetime.strptime(cfg.report_date, "%Y-%m-%d").date()


def _build_outputs(cfg: RunConfig, cons: Consolidation, tree: UnitTree, settings: dict, ledger: Ledger,
                   paths: dict[str, Path], reminders: list[Reminder], on: date) -> dict[str, bytes]:
    from .pipeline import report_input_from_workbook
    from .report.context import build_report
    from .report.docx_writer import build_document
    from .report.text_writer import render_text
    from .xlsx.consolidated import build_consolidated

    buf = io.BytesIO()
    build_consolidated(cons).save(buf)
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
        totals = ledger.totals_history(inp.unit.code)
        paragraphs = history_paragraphs(inp, totals, cfg.history)
        cmp = compare_with_history(inp, totals)
        inp.extra["history"] = paragraphs
        if cmp is not None:
            inp.extra["so_voi"] = cmp.phrase
        doc = add_history_to_report(build_report(inp, settings, number=cfg.report_number, on=on), paragraphs)
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


def run(cfg: RunConfig, *, now: datetime | None = None, log: Log = print) -> RunOutcome:
    """One scheduled run (see the module doc). Raises ConfigError or LockBusy when it cannot run."""
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
        return _run_locked(cfg, tree, catalogue, period, settings, root, now, log)
    finally:
        lock.release()


def _run_locked(cfg: RunConfig, tree: UnitTree, catalogue: Catalogue, period: Period, settings: dict, root: str,
                now: datetime, log: Log) -> RunOutcome:
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
        read, skipped = _read_sources(cfg, ledger, catalogue, paths.values(), log)
        subs = [s for _, s in read]
        newest = max((r.mtime for r, _ in read), default=cfg.units.stat().st_mtime)
        as_of = datetime.fromtimestamp(int(newest))
        cons = consolidate(subs, tree, catalogue, period, root=root, as_of=as_of)
        own = {c: ledger.own_history(c) for c, r in cons.units.items() if r.submission is not None}
        for f in history_outliers(cons, own, cfg.history):
            cons.findings.append(f)
            cons.units[f.unit].warnings += 1
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
    return RunOutcome(recorded.run_id, paths, written, recorded.changes, cons.findings, reminders,
                      len(cons.sent), len(cons.expected), len(read), skipped, as_of,
                      round(time.monotonic() - t0, 3), sent, failed, period.id, root)


def _count_kinds(findings: Iterable[Finding]) -> dict[str, int]:
    return dict(sorted(Counter(f.kind for f in findings).items()))

