"""The scheduled run's commands: `batn run CONFIG.toml` and `batn lich-su MÃ_ĐƠN_VỊ`.

Thin: each opens its inputs, calls one library function (batn.scheduled.run, the ledger's
readers) and turns errors into a clear Vietnamese message and an exit status
(0 done, 1 the inputs have lỗi, 2 the command could not run).

Wire into the main CLI with `register(app)`; without it, `python -m batn.run_cli run CONFIG`.
"""
from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from .cliutil import VietnameseTyper, finding_dict
from . import vn
from .textsafe import clean, json_ready, shown

OK, HAS_ERRORS, CANNOT_RUN = 0, 1, 2

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

app = VietnameseTyper(help="batn: chạy tổng hợp theo lịch và xem sổ theo dõi.", no_args_is_help=True,
                      add_completion=False)


def _stamp() -> str:
    return f"{datetime.now():%Y-%m-%d %H:%M:%S}"


def _t(text: object) -> str:
    """Text for the console: visible escapes for what a terminal would obey (batn.textsafe), no markup."""
    return escape(clean(text))


def _path(p: object) -> str:
    """A file name for the console, shown with visible escapes."""
    return escape(shown(p))


def run_command(config: Path, *, as_json: bool = False, quiet: bool = False, approved_only: bool = False,
                catalog: Optional[str] = None) -> int:
    """Run the scheduled consolidation described by `config`; returns the exit status."""
    from .runconfig import ConfigError, load_config
    from .scheduled import LockBusy, run

    def log(msg: str) -> None:
        if not quiet:
            err.print(f"{_stamp()} {_t(msg)}")

    try:
        cfg = load_config(config)
        if approved_only:
            cfg = replace(cfg, approved_only=True)
        if catalog:        # --catalog: a name or a .yaml/.xlsx file, over the config's `catalogue`
            cfg = replace(cfg, catalogue=catalog)
        result = run(cfg, log=log)
    except LockBusy as e:
        err.print(f"[bold yellow]Chưa chạy:[/] {_t(e)}")
        return CANNOT_RUN
    except ConfigError as e:
        err.print(f"[bold red]Lỗi:[/] {_t(e)}")
        return CANNOT_RUN
    except Exception as e:  # noqa: BLE001 - a scheduled job must say what went wrong, then exit 2
        import traceback

        traceback.print_exc(file=sys.stderr)
        err.print(f"[bold red]Lỗi:[/] lần chạy dừng giữa chừng ({type(e).__name__}: {_t(e)}). Các tệp kết quả và sổ "
                  "theo dõi vẫn ở bản hoàn chỉnh trước đó hoặc bản mới; lần chạy sau sẽ làm tiếp.")
        return CANNOT_RUN
    status = HAS_ERRORS if result.errors else OK
    if as_json:
        print(json.dumps(json_ready({
            "run_id": result.run_id, "period": result.period, "root": result.root,
            "as_of": result.as_of.isoformat(), "files": result.files, "skipped": [shown(p) for p in result.skipped],
            "sent": result.sent, "expected": result.expected, "errors": result.errors,
            "warnings": result.warnings, "outputs": {k: shown(p) for k, p in result.outputs.items()},
            "written": [shown(p) for p in result.written],
            "changes": [c.sentence() for c in result.changes],
            "reminders": [{"code": r.code, "name": r.name, "status": r.status, "contact": r.contact,
                           "deadline": r.deadline.isoformat() if r.deadline else None} for r in result.reminders],
            "emails_sent": result.emails_sent, "emails_failed": result.emails_failed,
            "duration": result.duration,
            "findings": [finding_dict(f) for f in result.findings]}), ensure_ascii=False, indent=2))
        return status
    if quiet:
        return status
    if result.run_id is None:
        out.print(f"{_stamp()} Không có gì thay đổi so với lần chạy trước ({result.files} tệp, "
                  f"số liệu tính đến {result.as_of:%H:%M %d/%m/%Y}).")
    else:
        out.print(f"{_stamp()} Lần chạy số {result.run_id}: {result.files} tệp, đã gửi báo cáo "
                  f"{result.sent}/{result.expected} đơn vị; {result.errors} lỗi, {result.warnings} cảnh báo; "
                  f"{vn.so(round(result.duration, 1))} giây.")
    for c in result.changes:
        out.print(f"  - {_t(c.sentence())}")
    for p in result.written:
        out.print(f"  Đã ghi: {_path(p)}")
    if result.reminders:
        out.print(f"  Cần nhắc {len(result.reminders)} đơn vị:")
        for r in result.reminders:
            out.print(f"    {r.status}: {_t(r.name)} ({_t(r.code)}) — {_t(r.contact or 'chưa có liên hệ')}")
    if result.emails_sent or result.emails_failed:
        out.print(f"  Thư nhắc: đã gửi {result.emails_sent}, lỗi {result.emails_failed}")
    return status


class _NoLedger(Exception):
    """Neither --config nor --ledger: the message is printed, the command exits 2."""


def ledger_of(config: Optional[Path], ledger: Optional[Path]):
    """(ledger path, archive folder or None, the run configuration or None) from --ledger or --config:
    the one place the ledger commands find their ledger. Raises ConfigError, or _NoLedger (said)."""
    from .runconfig import load_config

    if ledger is not None:
        return ledger, None, None
    if config is None:
        err.print("[bold red]Lỗi:[/] cần --config (tệp cấu hình lịch chạy) hoặc --ledger (tệp sổ theo dõi)")
        raise _NoLedger
    cfg = load_config(config)
    return cfg.ledger, cfg.archive, cfg


def history_command(unit: str, *, config: Optional[Path] = None, ledger: Optional[Path] = None,
                    period: Optional[str] = None, as_json: bool = False) -> int:
    """List a unit's submissions and the figures it changed, from the ledger named by
    `ledger` or by the run configuration `config`; returns the exit status."""
    from .ledger import Ledger, LedgerError
    from .runconfig import ConfigError

    labels: dict[str, str] = {}
    try:
        ledger_path, archive, cfg = ledger_of(config, ledger)
        if cfg is not None:
            try:
                from .catalogue import load_catalogue
                labels = {i.code: i.label for i in load_catalogue(cfg.catalogue).indicators}
            except Exception:
                labels = {}
        if not Path(ledger_path).is_file():
            err.print(f"[bold red]Lỗi:[/] chưa có sổ theo dõi {_path(ledger_path)} (chưa chạy `batn run` lần nào)")
            return CANNOT_RUN
        with Ledger(ledger_path, archive) as led:
            subs = led.submissions(unit=unit, period=period)
            changes = led.changes(unit=unit, period=period)
            decisions = led.review_events(period=period, unit=unit)
    except _NoLedger:
        return CANNOT_RUN
    except (ConfigError, LedgerError) as e:
        err.print(f"[bold red]Lỗi:[/] {_t(e)}")
        return CANNOT_RUN
    if as_json:
        print(json.dumps(json_ready({
            "unit": unit,
            "submissions": [{"period": s.period, "received": datetime.fromtimestamp(s.received).isoformat(),
                             "source": shown(s.source), "sha256": s.sha256, "status": s.status, "errors": s.errors,
                             "warnings": s.warnings, "used": s.used} for s in subs],
            "changes": [{"period": c.period, "code": c.code, "old": c.old, "new": c.new,
                         "received": datetime.fromtimestamp(c.received).isoformat(),
                         "text": c.sentence(labels.get(c.code))} for c in changes],
            "reviews": [{"period": e.period, "action": e.action, "sha256": e.sha256, "reason": e.reason,
                         "who": e.who, "at": e.at} for e in decisions],
            "review_state": _states(subs, decisions)}),
            ensure_ascii=False, indent=2))
        return OK
    if not subs:
        from .units import unknown_codes

        if cfg is not None and unknown_codes(cfg.units, [unit]):
            err.print(f"[bold red]Lỗi:[/] mã đơn vị {_t(unit)} không có trong danh sách đơn vị {_path(cfg.units)}")
            return CANNOT_RUN
        out.print(f"Sổ theo dõi chưa có báo cáo nào của đơn vị {_t(unit)}" + (f" kỳ {period}" if period else ""))
        return OK
    name = next((s.unit_name for s in reversed(subs) if s.unit_name), unit)
    out.print(f"[bold]{_t(name)} ({_t(unit)})[/]: {len(subs)} lần gửi báo cáo")
    for s in subs:
        mark = " [đang dùng]" if s.used else ""
        out.print(f"  {s.period}  nhận lúc {datetime.fromtimestamp(s.received):%H:%M %d/%m/%Y}  "
                  f"{s.status}{mark}  {_path(s.source)}  (SHA-256 {s.sha256[:12]}…)")
    if decisions:
        out.print(f"Trả lại, duyệt ({len(decisions)}):")
        for e in decisions:
            when = datetime.fromisoformat(e.at)
            who = f" ({_t(e.who)})" if e.who else ""
            why = f": {_t(e.reason)}" if e.reason else ""
            out.print(f"  {e.period}  {when:%H:%M %d/%m/%Y}  {e.action}{who} tệp {e.sha256[:12]}…{why}")
        for p, state in _states(subs, decisions).items():
            out.print(f"  Trạng thái kỳ {p}: [bold]{state}[/]")
    if changes:
        out.print(f"Số liệu đã sửa ({len(changes)}):")
        for c in changes:
            out.print(f"  {c.period}, {datetime.fromtimestamp(c.received):%d/%m/%Y}: {_t(c.sentence(labels.get(c.code)))}")
    return OK


def import_command(files: list[Path], *, config: Optional[Path] = None, ledger: Optional[Path] = None,
                   catalog: Optional[str] = None, units: Optional[Path] = None, as_json: bool = False) -> int:
    """`batn lich-su nhap FILE…`: earlier periods into the ledger (batn.past, Ledger.import_past).
    Exit status 0 all taken, 1 some files or rows refused (named), 2 the command could not run."""
    from .catalogue import CatalogueError, load_catalogue
    from .ledger import Ledger, LedgerError
    from .past import read_past
    from .runconfig import ConfigError
    from .units import UnitsFileError, load_units

    try:
        ledger_path, archive, cfg = ledger_of(config, ledger)
        if cfg is not None:
            catalog, units = catalog or cfg.catalogue, units or cfg.units
        cat = load_catalogue(catalog) if catalog else None
        tree = load_units(units) if units else None
    except _NoLedger:
        return CANNOT_RUN
    except (ConfigError, CatalogueError, UnitsFileError, OSError) as e:
        err.print(f"[bold red]Lỗi:[/] {_t(e)}")
        return CANNOT_RUN
    missing = [f for f in files if not Path(f).is_file()]
    if missing:
        err.print(f"[bold red]Lỗi:[/] không có tệp {', '.join(_path(f) for f in missing)}")
        return CANNOT_RUN
    items, problems = [], []
    for f in files:
        got, found = read_past(f, cat, tree)
        items += got
        problems += found
    try:
        with Ledger(ledger_path, archive) as led:
            run_id, new = led.import_past(items, "lich-su nhap: " + ", ".join(str(f) for f in files))
    except LedgerError as e:
        err.print(f"[bold red]Lỗi:[/] {_t(e)}")
        return CANNOT_RUN
    status = HAS_ERRORS if any(p.severity.value == "lỗi" for p in problems) else OK
    if as_json:
        print(json.dumps(json_ready({
            "run_id": run_id, "new": new, "read": len(items),
            "imported": [{"unit": i.unit, "period": i.period, "catalogue": i.catalogue, "source": shown(i.source),
                          "totals": i.is_total, "values": i.values} for i in items],
            "findings": [finding_dict(p) for p in problems]}), ensure_ascii=False, indent=2))
        return status
    periods = sorted({i.period for i in items})
    if new:
        out.print(f"Đã nhập vào sổ theo dõi {new} báo cáo của {len({i.unit for i in items})} đơn vị, "
                  f"kỳ {', '.join(periods)} (lần ghi sổ số {run_id}).")
    elif items:
        out.print(f"Sổ theo dõi đã có đủ {len(items)} báo cáo này từ trước; không nhập thêm gì.")
    for p in problems:
        out.print(f"  [red]{p.severity}[/] {_path(p.file)}: {_t(p.message)}")
    return status


def _states(subs, decisions) -> dict[str, str]:
    """period -> the unit's review state (batn.review), from its newest file and the decisions."""
    from .ledger import PAST_STATUS
    from .review import review_of

    out = {}
    for period in sorted({s.period for s in subs} | {e.period for e in decisions}):
        files = [s for s in subs if s.period == period and s.status != PAST_STATUS]
        newest = files[-1].sha256 if files else None
        out[period] = review_of("", newest, [e for e in decisions if e.period == period]).state
    return out


# ---------------------------------------------------------------- typer commands

def _period_id(text: str, config: Optional[Path]) -> str:
    """--period as the ledger writes it (2024-h1 → 2024-H1); what is no period (2025-Q1) stops the
    command with exit status 2, as `batn template` does."""
    from rich.markup import escape

    from .pipeline import load_period
    from .runconfig import ConfigError, load_config

    try:
        period_file = load_config(config).period_file if config else None
    except ConfigError:          # history_command says what is wrong with the configuration
        period_file = None
    try:
        return load_period(text, period_file).id
    except (ValueError, OSError) as e:
        err.print(f"[bold red]Lỗi:[/] {escape(str(e))}")
        raise typer.Exit(CANNOT_RUN) from None


def run(config: Path = typer.Argument(..., metavar="TỆP_CẤU_HÌNH",
                                      help="Tệp cấu hình lịch chạy (TOML); `batn demo` ghi một tệp mẫu có chú thích: batn-run.toml"),
        as_json: bool = typer.Option(False, "--json", help="In kết quả dạng JSON"),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Chỉ in lỗi"),
        approved_only: bool = typer.Option(False, "--chi-da-duyet",
                                           help="Chỉ tổng hợp báo cáo đã duyệt (lần tổng hợp cuối cùng)"),
        catalog: Optional[str] = typer.Option(None, "--catalog",
                                              help="Bộ chỉ tiêu (mã hoặc tệp .yaml/.xlsx), thay cho khóa catalogue của tệp cấu hình")) -> None:
    """Tổng hợp theo lịch: đọc hộp thư, ghi sổ theo dõi, viết tệp tổng hợp, báo cáo và danh sách nhắc nộp."""
    raise typer.Exit(run_command(config, as_json=as_json, quiet=quiet, approved_only=approved_only, catalog=catalog))


IMPORT = "nhap"     # `batn lich-su nhap FILE…`: the word in place of a unit code


def lich_su(unit: str = typer.Argument(..., metavar="MÃ_ĐƠN_VỊ",
                                       help=f"Mã đơn vị; hoặc “{IMPORT}” rồi các tệp để nhập số liệu các kỳ trước"),
            files: Optional[list[Path]] = typer.Argument(None, metavar="TỆP", show_default=False,
                                                         help=f"Với “{IMPORT}”: tệp tổng hợp, biểu mẫu đã điền hoặc "
                                                              "bảng số liệu (đơn vị, kỳ, chỉ tiêu, số liệu) các kỳ trước"),
            config: Optional[Path] = typer.Option(None, "--config", help="Tệp cấu hình lịch chạy (lấy sổ theo dõi)"),
            ledger: Optional[Path] = typer.Option(None, "--ledger", help="Tệp sổ theo dõi .sqlite3"),
            period: Optional[str] = typer.Option(None, "--period", help="Chỉ một kỳ báo cáo"),
            catalog: Optional[str] = typer.Option(None, "--catalog", help=f"Với “{IMPORT}”: bộ chỉ tiêu của bảng số liệu"),
            units: Optional[Path] = typer.Option(None, "--units", help=f"Với “{IMPORT}”: danh sách đơn vị (kể cả đơn vị cũ)"),
            as_json: bool = typer.Option(False, "--json", help="In kết quả dạng JSON")) -> None:
    """Các lần gửi báo cáo của một đơn vị và những số liệu đơn vị đã sửa; `lich-su nhap TỆP…` nhập số liệu các kỳ trước vào sổ theo dõi."""
    if unit == IMPORT:
        if not files:
            err.print(f"[bold red]Lỗi:[/] cần ít nhất một tệp sau “{IMPORT}”")
            raise typer.Exit(CANNOT_RUN)
        raise typer.Exit(import_command(files, config=config, ledger=ledger, catalog=catalog, units=units,
                                        as_json=as_json))
    if files:
        err.print(f"[bold red]Lỗi:[/] thừa tham số {', '.join(_path(f) for f in files)}")
        raise typer.Exit(CANNOT_RUN)
    if period:
        period = _period_id(period, config)
    raise typer.Exit(history_command(unit, config=config, ledger=ledger, period=period, as_json=as_json))


def register(parent: typer.Typer) -> None:
    """Add `run` and `lich-su` to the main `batn` app."""
    parent.command("run")(run)
    parent.command("lich-su")(lich_su)


register(app)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
