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
"""
from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import smtplib
import ssl
import statistics
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, replace
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from . import vn
from .ledger import ChangeRow, Incoming, Ledger, LedgerError, Received, RunBatch
from .model import Catalogue, Finding, Period, Severity, Submission, UnitTree
from .report.context import ReportInput
from .report.document import Block, ReportDocument
from .rollup import HAS_ERRORS, LATE, MISSING, Consolidation

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["RunConfig", "ConfigError", "LockBusy", "RunOutcome", "load_config", "run",
           "history_paragraphs", "HistoryComparison", "compare_with_history", "history_outliers",
           "Reminder", "reminders_for", "send_reminders", "add_history_to_report"]

Log = Callable[[str], None]

PAUSE_ENV = "BATN_TEST_PAUSE_AT"          # test hook: "read", "write", "between-outputs", "ledger"
PAUSE_SECONDS_ENV = "BATN_TEST_PAUSE_SECONDS"


class ConfigError(ValueError):
    """The run configuration cannot be used (Vietnamese message); exit status 2."""


class LockBusy(RuntimeError):
    """Another run holds the lock and did not finish within the wait allowed; exit status 2."""


# ====================================================================== configuration

@dataclass(frozen=True)
class Source:
    type: str
    path: Path
    name: str = ""


@dataclass(frozen=True)
class HistorySettings:
    indicators: tuple[str, ...] = ()     # () = a few from each part of section II, in catalogue order
    max_items: int = 6
    outlier_factor: float = 3.0          # cảnh báo when value > factor × median or < median / factor
    outlier_min_periods: int = 3         # earlier periods of the same kind needed
    outlier_min_median: float = 5.0      # small counts vary too much to judge


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


@dataclass(frozen=True)
class RunConfig:
    path: Path
    period: str
    catalogue: str
    units: Path
    sources: tuple[Source, ...]
    ledger: Path
    archive: Path
    outputs: Mapping[str, Any]            # consolidated: Path|None, reports: [Path], reminders: Path|None
    root: str = ""
    lock_timeout: float = 300.0
    period_file: Path | None = None
    period_settings: Mapping[str, Any] | None = None
    report_settings: Path | None = None
    report_number: str | None = None
    report_date: str = "as_of"            # "as_of", "today" or YYYY-MM-DD
    history: HistorySettings = HistorySettings()
    reminders: ReminderSettings = ReminderSettings()

    @property
    def lock_path(self) -> Path:
        return self.ledger.with_name(self.ledger.name + ".lock")


_TOP = {"period", "catalogue", "catalog", "units", "root", "ledger", "archive", "lock_timeout",
        "sources", "outputs", "periods", "report", "history", "reminders"}
_SECTIONS = {
    "outputs": {"folder", "consolidated", "reports", "reminders"},
    "periods": {"file", "window", "deadlines"},
    "report": {"settings", "number", "date"},
    "history": {"indicators", "max_items", "outlier_factor", "outlier_min_periods", "outlier_min_median"},
    "reminders": {"email", "smtp_host", "smtp_port", "security", "username", "password_env", "sender",
                  "digest_to", "to_units", "days_before_deadline", "subject_prefix", "timeout"},
}


def load_config(path: str | Path) -> RunConfig:
    """Read and check a run configuration (TOML). Relative paths are relative to the file."""
    path = Path(path).expanduser()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(f"Không có tệp cấu hình {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"Không đọc được tệp cấu hình {path}: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"Tệp cấu hình {path} không đúng cú pháp TOML: {e}") from None
    base = path.resolve().parent
    where = path.name

    def p(value: Any, key: str) -> Path:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}: '{key}' phải là một đường dẫn")
        q = Path(os.path.expanduser(os.path.expandvars(value.strip())))
        return q if q.is_absolute() else base / q

    unknown = sorted(set(data) - _TOP)
    if unknown:
        raise ConfigError(f"{where}: khóa {', '.join(repr(k) for k in unknown)} không có; "
                          f"dùng: {', '.join(sorted(_TOP - {'catalog'}))}")
    for sec, keys in _SECTIONS.items():
        if sec in data:
            if not isinstance(data[sec], dict):
                raise ConfigError(f"{where}: [{sec}] phải là một bảng")
            bad = sorted(set(data[sec]) - keys)
            if bad:
                raise ConfigError(f"{where}: trong [{sec}], khóa {', '.join(repr(k) for k in bad)} không có; "
                                  f"dùng: {', '.join(sorted(keys))}")
    for key in ("period", "units"):
        if key not in data:
            raise ConfigError(f"{where}: thiếu khóa '{key}'")
    catalogue = data.get("catalogue", data.get("catalog"))
    if not isinstance(catalogue, str) or not catalogue.strip():
        raise ConfigError(f"{where}: thiếu khóa 'catalogue' (bộ chỉ tiêu, ví dụ \"3tn-2024\")")
    if catalogue.endswith((".yaml", ".yml")):
        catalogue = str(p(catalogue, "catalogue"))

    sources = []
    raw_sources = data.get("sources", [])
    if not isinstance(raw_sources, list) or not raw_sources:
        raise ConfigError(f"{where}: cần ít nhất một nguồn [[sources]] với type = \"folder\" và path = \"...\"")
    for i, s in enumerate(raw_sources, start=1):
        if not isinstance(s, dict):
            raise ConfigError(f"{where}: [[sources]] thứ {i} phải là một bảng")
        kind = str(s.get("type", "")).strip().lower()
        if kind != "folder":
            raise ConfigError(
                f"{where}: nguồn thứ {i} có type = \"{s.get('type', '')}\": bản này chỉ đọc được nguồn "
                "type = \"folder\" (thư mục chứa tệp báo cáo). Nguồn Google Sheets sẽ có khi cổng Google "
                "hoàn thành; trong lúc chờ, hãy tải các trang tính về dạng .xlsx vào một thư mục.")
        bad = sorted(set(s) - {"type", "path", "name"})
        if bad:
            raise ConfigError(f"{where}: nguồn thứ {i}: khóa {', '.join(repr(k) for k in bad)} không có; "
                              "dùng type, path, name")
        sources.append(Source("folder", p(s.get("path"), f"sources[{i}].path"), str(s.get("name", ""))))

    ledger = p(data.get("ledger", "so_theo_doi/batn.sqlite3"), "ledger")
    archive = p(data["archive"], "archive") if "archive" in data else ledger.parent / "luu_tru"

    out = dict(data.get("outputs", {}))
    folder = p(out["folder"], "outputs.folder") if "folder" in out else base

    def o(value: Any, key: str) -> Path:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}: '{key}' phải là tên tệp")
        q = Path(os.path.expanduser(os.path.expandvars(value.strip())))
        return q if q.is_absolute() else folder / q

    reports = out.get("reports", ["BaoCao_{root}_{period}.docx", "BaoCao_{root}_{period}.txt"])
    if isinstance(reports, str):
        reports = [reports]
    if not isinstance(reports, list):
        raise ConfigError(f"{where}: [outputs] reports phải là tên tệp hoặc danh sách tên tệp")

    def optional(key: str, default: str) -> Path | None:
        value = out.get(key, True)
        if value is False:
            return None
        return o(default if value is True else value, f"outputs.{key}")

    outputs: dict[str, Any] = {
        "consolidated": optional("consolidated", "TongHop_{root}_{period}.xlsx"),
        "reports": [o(r, "outputs.reports") for r in reports],
        "reminders": optional("reminders", "NhacNop_{root}_{period}.csv"),
    }
    for r in outputs["reports"]:
        if r.suffix.lower() not in (".docx", ".txt", ".md"):
            raise ConfigError(f"{where}: tệp báo cáo {r.name} phải có đuôi .docx, .txt hoặc .md")
    if outputs["consolidated"] is not None and outputs["consolidated"].suffix.lower() != ".xlsx":
        raise ConfigError(f"{where}: tệp tổng hợp phải có đuôi .xlsx")

    per = data.get("periods", {})
    period_file = p(per["file"], "periods.file") if "file" in per else None
    inline = {k: per[k] for k in ("window", "deadlines") if k in per} or None
    if period_file and inline:
        raise ConfigError(f"{where}: [periods] dùng 'file' hoặc ghi trực tiếp window/deadlines, không dùng cả hai")

    rep = data.get("report", {})
    report_date = str(rep.get("date", "as_of")).strip()
    if report_date not in ("as_of", "today"):
        try:
            datetime.strptime(report_date, "%Y-%m-%d")
        except ValueError:
            raise ConfigError(f"{where}: [report] date = \"{report_date}\" phải là \"as_of\", \"today\" "
                              "hoặc ngày dạng YYYY-MM-DD") from None

    try:
        h = dict(data.get("history", {}))
        if isinstance(h.get("indicators", []), str):
            h["indicators"] = [h["indicators"]]
        h["indicators"] = tuple(str(c).strip() for c in h.get("indicators", []))
        for k in ("outlier_factor", "outlier_min_median"):
            if k in h:
                h[k] = float(h[k])
        for k in ("max_items", "outlier_min_periods"):
            if k in h:
                h[k] = int(h[k])
        hist = HistorySettings(**h)
        rem_raw = dict(data.get("reminders", {}))
        if "digest_to" in rem_raw:
            d = rem_raw["digest_to"]
            rem_raw["digest_to"] = (d,) if isinstance(d, str) else tuple(d)
        for k, cast in (("smtp_port", int), ("days_before_deadline", int), ("timeout", float)):
            if k in rem_raw:
                rem_raw[k] = cast(rem_raw[k])
        rem = ReminderSettings(**rem_raw)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: {e}") from None
    if rem.security not in ("none", "starttls", "ssl"):
        raise ConfigError(f"{where}: [reminders] security phải là \"none\", \"starttls\" hoặc \"ssl\"")
    if rem.email and not rem.sender:
        raise ConfigError(f"{where}: [reminders] email = true thì cần 'sender' (địa chỉ gửi)")
    try:
        lock_timeout = float(data.get("lock_timeout", 300))
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: lock_timeout phải là số giây") from None

    return RunConfig(
        path=path.resolve(), period=str(data["period"]).strip(), catalogue=catalogue.strip(),
        units=p(data["units"], "units"), sources=tuple(sources), ledger=ledger, archive=archive,
        outputs=outputs, root=str(data.get("root", "")).strip(), lock_timeout=lock_timeout,
        period_file=period_file, period_settings=inline, report_settings=p(rep["settings"], "report.settings")
        if "settings" in rep else None, report_number=str(rep["number"]) if "number" in rep else None,
        report_date=report_date, history=hist, reminders=rem)


# ====================================================================== test hook

def _pause(point: str) -> None:
    """Inert unless BATN_TEST_PAUSE_AT names this point: then say so on stderr and sleep,
    so a test can kill the run at a known place."""
    if os.environ.get(PAUSE_ENV) != point:
        return
    sys.stderr.write(f"BATN_TEST_PAUSED {point}\n")
    sys.stderr.flush()
    time.sleep(float(os.environ.get(PAUSE_SECONDS_ENV, "60")))


# ====================================================================== history

def period_kind(pid: str) -> str:
    """"year", "H1", "H2" or "phase": only periods of the same kind are compared."""
    m = re.fullmatch(r"\d{4}-[Hh]([12])", pid)
    if m:
        return "H" + m.group(1)
    if re.fullmatch(r"\d{4}-\d{4}", pid):
        return "phase"
    return "year" if re.fullmatch(r"\d{4}", pid) else ""


def _earlier_same_kind(current: Period, periods: Iterable[str]) -> list[Period]:
    """Earlier periods of the same kind as `current`, oldest first."""
    from .periods import parse_period

    kind = period_kind(current.id)
    out = []
    for pid in periods:
        if pid == current.id or period_kind(pid) != kind:
            continue
        try:
            p = parse_period(pid)
        except ValueError:
            continue
        if p.end < current.end:
            out.append(p)
    return sorted(out, key=lambda p: p.end)


def _amount(v: float | int, catalogue: Catalogue, code: str) -> str:
    ind = catalogue[code]
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return vn.tien(v) if ind.is_money else vn.dem(v, ind.unit)


def _lower_first(label: str) -> str:
    """Lower the first letter of a label unless it starts an acronym ("ĐVTN", "CBCCVC")."""
    if len(label) > 1 and label[1].isupper():
        return label
    return label[:1].lower() + label[1:]


@dataclass
class HistoryComparison:
    """The current figures against the same unit's latest earlier period of the same kind."""

    catalogue: Catalogue
    previous: Period
    current: Mapping[str, float | int | None]
    before: Mapping[str, float | int | None]

    def phrase(self, code: str) -> str:
        """"tăng 12,5% so với năm 2023", "giảm 3,2% so với ...", "bằng năm 2023"; "" when it cannot be said."""
        cur, prev = self.current.get(code), self.before.get(code)
        if cur is None or prev is None or prev <= 0:
            return ""
        if cur == prev:
            return f"bằng {self.previous.label}"
        word = "tăng" if cur > prev else "giảm"
        return f"{word} {vn.ty_le(abs(cur - prev), prev)} so với {self.previous.label}"

    def item(self, code: str) -> str:
        phrase = self.phrase(code)
        if not phrase:
            return ""
        cur, prev = self.current[code], self.before[code]
        label = _lower_first(self.catalogue[code].label)
        return (f"{label} đạt {_amount(cur, self.catalogue, code)}, {phrase} "  # type: ignore[arg-type]
                f"({_amount(prev, self.catalogue, code)})")  # type: ignore[arg-type]

    def paragraph(self, codes: Iterable[str]) -> str:
        items = [t for t in (self.item(c) for c in codes) if t]
        if not items:
            return ""
        return "Một số kết quả chính so với kỳ trước: " + "; ".join(items) + "."


def default_history_codes(catalogue: Catalogue, limit: int = 6) -> list[str]:
    """A few indicators from each part of section II, taken in turn, so each responsibility shows."""
    groups = [[i.code for i in catalogue.indicators if i.section == s.key and i.kind != "ratio_den"]
              for s in catalogue.sections if s.key.startswith("II")]
    out: list[str] = []
    for k in range(max((len(g) for g in groups), default=0)):
        for g in groups:
            if k < len(g) and len(out) < limit:
                out.append(g[k])
    return out


def compare_with_history(inp: ReportInput, ledger: Ledger) -> HistoryComparison | None:
    """The comparison with the latest earlier period of the same kind the ledger has totals for."""
    hist = ledger.totals_history(inp.unit.code)
    earlier = [p for p in _earlier_same_kind(inp.period, hist)
               if any(v is not None for v in hist[p.id].values())]
    if not earlier:
        return None
    prev = earlier[-1]
    return HistoryComparison(inp.catalogue, prev, dict(inp.values), hist[prev.id])


def history_paragraphs(inp: ReportInput, ledger: Ledger, settings: HistorySettings | None = None) -> list[str]:
    """Sentences for the report comparing this period with the last comparable one:
    ["Một số kết quả chính so với kỳ trước: ... đạt 1.234 người, tăng 12,5% so với năm 2023 (1.097 người); ..."].
    Empty when the ledger has no earlier period of the same kind."""
    s = settings or HistorySettings()
    cmp = compare_with_history(inp, ledger)
    if cmp is None:
        return []
    codes = [c for c in s.indicators if c in inp.catalogue] if s.indicators else \
        [c for c in default_history_codes(inp.catalogue, 10 ** 6) if cmp.phrase(c)][:s.max_items]
    text = cmp.paragraph(codes)
    return [text] if text else []


def add_history_to_report(doc: ReportDocument, paragraphs: list[str]) -> ReportDocument:
    """Put the history paragraphs first in part II ("II. KẾT QUẢ THỰC HIỆN"), as its overview,
    unless the report builder already rendered them from ReportInput.extra["history"]."""
    have = {b.text for b in doc.body}
    new = [Block("para", t) for t in paragraphs if t not in have]
    if not new:
        return doc
    at = next((i + 1 for i, b in enumerate(doc.body) if b.kind == "heading1" and b.text.startswith("II.")), None)
    if at is None:
        at = next((i for i, b in enumerate(doc.body) if b.kind == "heading1" and b.text.startswith("III.")),
                  max(len(doc.body) - 1, 0))
    doc.body[at:at] = new
    return doc


def _fmt(v: float | int) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return vn.so(round(v, 1) if isinstance(v, float) else v)


def history_outliers(cons: Consolidation, ledger: Ledger, settings: HistorySettings | None = None) -> list[Finding]:
    """cảnh báo for figures far from the unit's own history: more than `factor` times, or less
    than 1/`factor` of, the median of its earlier periods of the same kind."""
    s = settings or HistorySettings()
    cat = cons.catalogue
    out: list[Finding] = []
    for code, r in cons.units.items():
        sub = r.submission
        if sub is None:
            continue
        hist = ledger.own_history(code)
        earlier = _earlier_same_kind(cons.period, hist)
        if len(earlier) < s.outlier_min_periods:
            continue
        for ind in cat.indicators:
            v = sub.values.get(ind.code)
            series = [(p.id, hist[p.id].get(ind.code)) for p in earlier]
            series = [(pid, x) for pid, x in series if x is not None]
            if v is None or len(series) < s.outlier_min_periods:
                continue
            med = statistics.median(x for _, x in series)
            if med < s.outlier_min_median:
                continue
            shown = "; ".join(f"{pid}: {_fmt(x)}" for pid, x in series)
            common = (f"trung vị {_fmt(med)} của {len(series)} kỳ trước cùng loại ({shown}). Trung vị là số ở giữa "
                      "khi xếp các kỳ trước từ nhỏ đến lớn, nên một kỳ bất thường không làm lệch mức so sánh")
            if v > s.outlier_factor * med:
                msg = (f"“{ind.label}” kỳ này là {_fmt(v)}, gấp {_fmt(round(v / med, 1))} lần mức thường thấy của "
                       f"chính đơn vị ({common}). Đề nghị kiểm tra lại (có thể gõ thừa chữ số hoặc nhầm đơn vị tính); "
                       "nếu số liệu đúng thì bỏ qua cảnh báo này")
            elif v * s.outlier_factor < med:
                msg = (f"“{ind.label}” kỳ này là {_fmt(v)}, chỉ bằng {vn.ty_le(v, med) or '0%'} mức thường thấy của "
                       f"chính đơn vị ({common}). Đề nghị kiểm tra lại (có thể gõ thiếu chữ số hoặc bỏ sót số liệu); "
                       "nếu số liệu đúng thì bỏ qua cảnh báo này")
            else:
                continue
            out.append(Finding("history-outlier", Severity.WARNING, msg, file=sub.source, unit=code,
                               indicator=ind.code, cell=sub.cells.get(ind.code, "")))
    return out


# ====================================================================== reminders

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
        sub = r.submission
        problems = tuple(f"{f.cell}: {f.message}" if f.cell else f.message
                         for f in (sub.findings if sub else []) if f.severity == Severity.ERROR)
        out.append(Reminder(code, u.name, u.level, r.status, r.deadline, u.contact,
                            sub.source if sub else "", problems))
    return out


def reminders_csv(reminders: list[Reminder]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["Mã đơn vị", "Đơn vị", "Cấp", "Tình trạng", "Hạn nộp", "Liên hệ", "Tệp"])
    for r in reminders:
        w.writerow([r.code, r.name, r.level, r.status, f"{r.deadline:%d/%m/%Y}" if r.deadline else "",
                    r.contact, r.file])
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
        what = (f"Báo cáo {period.label} của đơn vị (tệp {Path(r.file).name}) có {len(r.problems)} lỗi nên "
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
    m.set_content(body, cte="quoted-printable")
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
                   upper: str, today: date, as_of: datetime, log: Log = print) -> tuple[int, int]:
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
    todo = [t for t in todo if not ledger.reminded(period.id, t[0], t[1], t[2], day)]
    if not todo:
        return 0, 0
    sent = failed = 0
    try:
        smtp = _connect(cfg)
    except (OSError, smtplib.SMTPException) as e:
        log(f"Không kết nối được máy chủ thư {cfg.smtp_host}:{cfg.smtp_port} ({e}); sẽ thử lại ở lần chạy sau")
        return 0, len(todo)
    try:
        for unit, kind, addr, subject, body in todo:
            try:
                smtp.send_message(_message(cfg, addr, subject, body))
            except (OSError, smtplib.SMTPException) as e:
                failed += 1
                log(f"Gửi thư tới {addr} không được ({e}); sẽ thử lại ở lần chạy sau")
                continue
            ledger.record_reminder(period.id, unit, kind, addr, day)
            sent += 1
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            pass
    return sent, failed


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


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def _write_if_changed(path: Path, data: bytes, before_rename: Callable[[], None] | None = None) -> bool:
    """Replace `path` by `data` (temporary file + rename, via batn.safeio) unless it already holds them."""
    from .safeio import atomic_path

    if path.is_file() and _sha(path.read_bytes()) == _sha(data):
        return False
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)      # mkstemp makes 0600; outputs are shared files
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
        return sum(f.severity == Severity.ERROR for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity == Severity.WARNING for f in self.findings)


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
    from .periods import load_period_config, parse_period
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
        if cfg.period_file:
            period = parse_period(cfg.period, load_period_config(cfg.period_file))
        elif cfg.period_settings:
            period = parse_period(cfg.period, cfg.period_settings)
        else:
            from .pipeline import load_period
            period = load_period(cfg.period)
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
        paragraphs = history_paragraphs(inp, ledger, cfg.history)
        cmp = compare_with_history(inp, ledger)
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
        log(f"Đang có một lần chạy khác; chờ tối đa {_fmt(cfg.lock_timeout)} giây...")
        try:
            lock.acquire(timeout=cfg.lock_timeout)
        except Timeout:
            raise LockBusy(f"Đang có một lần chạy khác giữ khóa {cfg.lock_path}; đã chờ {_fmt(cfg.lock_timeout)} "
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
        for f in history_outliers(cons, ledger, cfg.history):
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
                               sub.is_total, sum(f.severity == Severity.ERROR for f in sub.findings),
                               sum(f.severity == Severity.WARNING for f in sub.findings), dict(sub.values))
                      for rec, sub in read],
            chosen={c: r.submission.sha256 for c, r in cons.units.items() if r.submission is not None},
            totals={c: dict(r.totals) for c, r in cons.units.items()},
            outputs={str(p): _sha(data[k]) for k, p in paths.items()},
            errors=sum(f.severity == Severity.ERROR for f in cons.findings),
            warnings=sum(f.severity == Severity.WARNING for f in cons.findings),
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
    out: dict[str, int] = {}
    for f in findings:
        out[f.kind] = out.get(f.kind, 0) + 1
    return dict(sorted(out.items()))

