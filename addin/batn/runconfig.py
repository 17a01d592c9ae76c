"""The run configuration of `batn run` (TOML): reading it, checking every key, and turning
it into a RunConfig with absolute paths. A configuration that cannot be used raises ConfigError
with a Vietnamese message (exit status 2). See docs/lich-chay.md for the keys.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .history import HistorySettings
from .reminders import ReminderSettings
from .resources import unreadable_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["ConfigError", "Source", "RunConfig", "load_config"]


class ConfigError(ValueError):
    """The run configuration cannot be used (Vietnamese message); exit status 2."""


@dataclass(frozen=True)
class Source:
    """One source of submissions. type "folder": `path`, an inbox folder. type "google": `spreadsheets`
    (ids or URLs), read through the Google door with `credentials` (None: BATN_GOOGLE_CREDENTIALS)."""

    type: str
    path: Path | None
    name: str = ""
    spreadsheets: tuple[str, ...] = ()
    credentials: Path | None = None
    layout: str = ""                      # "", "tabs" or "rows": checked against what the sheet holds
    write_back: bool = False              # write status and findings back into the spreadsheet(s)
    api_base: str | None = None           # testing only (as `batn gsheets --api-base`); else BATN_SHEETS_API_BASE
    mail: Any = None                      # type "imap": a batn.mailbox.MailSource


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
    report_date: str = "as_of"            # "as_of", "today" or a date (vn.doc_ngay: 25/06/2026, 2026-06-25)
    history: HistorySettings = HistorySettings()
    reminders: ReminderSettings = ReminderSettings()
    approved_only: bool = False           # [review] approved_only: only approved reports are consolidated

    @property
    def lock_path(self) -> Path:
        return self.ledger.with_name(self.ledger.name + ".lock")


_TOP = {"period", "catalogue", "catalog", "units", "root", "ledger", "archive", "lock_timeout",
        "sources", "outputs", "periods", "report", "history", "reminders", "review"}
# api_base is for tests only (a loopback stand-in of the Sheets API), as `batn gsheets --api-base`: not listed.
_SOURCE_KEYS = {"folder": {"type", "path", "name"},
                "imap": {"type", "name", "host", "port", "security", "user", "password_env", "oauth", "folder",
                         "done_folder", "replies", "max_message_mb", "timeout"},
                "google": {"type", "spreadsheet", "credentials", "layout", "write_back", "name", "api_base"}}
_SECTIONS = {
    "outputs": {"folder", "consolidated", "reports", "reminders"},
    "periods": {"file", "window", "deadlines"},
    "report": {"settings", "number", "date"},
    "history": {"indicators", "max_items", "outlier_factor", "outlier_min_periods", "outlier_min_median"},
    "review": {"approved_only"},
    "reminders": {"email", "smtp_host", "smtp_port", "security", "username", "password_env", "sender",
                  "digest_to", "to_units", "days_before_deadline", "subject_prefix", "timeout"},
}


def _flag(v: object, what: str) -> bool:
    if isinstance(v, bool):
        return v
    raise ConfigError(f"{what} phải là true hoặc false")


def load_config(path: str | Path) -> RunConfig:
    """Read and check a run configuration (TOML). Relative paths are relative to the file."""
    path = Path(path).expanduser()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(f"Không có tệp cấu hình {path}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"Không đọc được tệp cấu hình {path}: {unreadable_text(e)}") from None
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
    if catalogue.lower().endswith((".yaml", ".yml", ".xlsx")):     # a province's own file, beside the config
        catalogue = str(p(catalogue, "catalogue"))

    sources = []
    raw_sources = data.get("sources", [])
    if not isinstance(raw_sources, list) or not raw_sources:
        raise ConfigError(f"{where}: cần ít nhất một nguồn [[sources]] với type = \"folder\" và path = \"...\" "
                          "hoặc type = \"google\" và spreadsheet = \"...\"")
    for i, s in enumerate(raw_sources, start=1):
        if not isinstance(s, dict):
            raise ConfigError(f"{where}: [[sources]] thứ {i} phải là một bảng")
        kind = str(s.get("type", "")).strip().lower()
        if kind not in _SOURCE_KEYS:
            raise ConfigError(
                f"{where}: nguồn thứ {i} có type = \"{s.get('type', '')}\": chỉ dùng type = \"folder\" (thư mục "
                "chứa tệp báo cáo), type = \"google\" (bảng tính Google Sheets) hoặc type = \"imap\" (hộp thư điện tử)")
        bad = sorted(set(s) - _SOURCE_KEYS[kind])
        if bad:
            raise ConfigError(f"{where}: nguồn thứ {i} (type = \"{kind}\"): khóa "
                              f"{', '.join(repr(k) for k in bad)} không có; dùng "
                              f"{', '.join(sorted(_SOURCE_KEYS[kind] - {'api_base'}))}")
        name = str(s.get("name", ""))
        if kind == "folder":
            sources.append(Source("folder", p(s.get("path"), f"sources[{i}].path"), name))
            continue
        if kind == "imap":
            from .mailbox import mail_source

            try:
                sources.append(Source("imap", None, name, mail=mail_source(s)))
            except ValueError as e:
                raise ConfigError(f"{where}: nguồn thứ {i} (type = \"imap\"): {e}") from None
            continue
        refs = s.get("spreadsheet")
        refs = [refs] if isinstance(refs, str) else refs
        if (not isinstance(refs, list) or not refs
                or not all(isinstance(r, str) and r.strip() for r in refs)):
            raise ConfigError(f"{where}: nguồn thứ {i} (type = \"google\") cần spreadsheet = \"<mã hoặc đường "
                              "liên kết bảng tính>\" (hoặc danh sách, mỗi đơn vị một bảng tính)")
        layout = str(s.get("layout", "")).strip().lower()
        if layout not in ("", "tabs", "rows"):
            raise ConfigError(f"{where}: nguồn thứ {i}: layout = \"{layout}\" phải là \"tabs\" (mỗi đơn vị một "
                              "trang) hoặc \"rows\" (mỗi đơn vị một dòng)")
        write_back = s.get("write_back", False)
        if not isinstance(write_back, bool):
            raise ConfigError(f"{where}: nguồn thứ {i}: write_back phải là true hoặc false")
        api_base = s.get("api_base")
        if api_base is not None and (not isinstance(api_base, str) or not api_base.strip()):
            raise ConfigError(f"{where}: nguồn thứ {i}: api_base phải là địa chỉ")
        sources.append(Source(
            "google", None, name, spreadsheets=tuple(dict.fromkeys(r.strip() for r in refs)),
            credentials=p(s["credentials"], f"sources[{i}].credentials") if "credentials" in s else None,
            layout=layout, write_back=write_back, api_base=api_base.strip() if api_base else None))

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
        from .vn import doc_ngay

        try:
            doc_ngay(report_date)           # 25/06/2026 or 2026-06-25, as --date takes it
        except ValueError as e:
            raise ConfigError(f"{where}: [report] date = \"{report_date}\" phải là \"as_of\", \"today\" "
                              f"hoặc một ngày, ví dụ 25/06/2026 ({e})") from None

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
        report_date=report_date, history=hist, reminders=rem,
        approved_only=_flag(data.get("review", {}).get("approved_only", False), f"{where}: [review] approved_only"))
