"""The review loop's commands (issue 17): `batn tra-lai`, `batn duyet`, `batn phan-hoi`.

Thin, as the other commands: each opens the ledger named by the run configuration (or --ledger),
calls batn.review and the ledger, and turns problems into a Vietnamese message and an exit status
(0 done, 1 some units could not be acted on, 2 the command could not run).
"""
from __future__ import annotations

import getpass
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import typer

from . import review as R
from .run_cli import CANNOT_RUN, HAS_ERRORS, OK, _path, _period_id, _t, err, out
from .textsafe import json_ready, shown


@dataclass
class _Context:
    ledger: Path
    archive: Path | None
    period: str
    catalogue: str | None
    units: Path | None
    cfg: object | None


def _context(config: Optional[Path], ledger: Optional[Path], period: Optional[str]) -> _Context:
    from .runconfig import ConfigError, load_config

    if ledger is None and config is None:
        err.print("[bold red]Lỗi:[/] cần --config (tệp cấu hình lịch chạy) hoặc --ledger (tệp sổ theo dõi)")
        raise typer.Exit(CANNOT_RUN)
    cfg = None
    try:
        if config is not None:
            cfg = load_config(config)
    except ConfigError as e:
        err.print(f"[bold red]Lỗi:[/] {_t(e)}")
        raise typer.Exit(CANNOT_RUN) from None
    pid = _period_id(period, config) if period else (cfg.period if cfg else None)
    if not pid:
        err.print("[bold red]Lỗi:[/] cần --period (kỳ báo cáo) khi không có --config")
        raise typer.Exit(CANNOT_RUN)
    path = ledger or cfg.ledger
    if not Path(path).is_file():
        err.print(f"[bold red]Lỗi:[/] chưa có sổ theo dõi {_path(path)} (chưa chạy `batn run` lần nào)")
        raise typer.Exit(CANNOT_RUN)
    return _Context(Path(path), cfg.archive if cfg else None, pid, cfg.catalogue if cfg else None,
                    cfg.units if cfg else None, cfg)


def _who(who: Optional[str]) -> str:
    if who:
        return who
    try:
        return getpass.getuser()
    except Exception:             # noqa: BLE001 - no user name on this machine: the decision stands without one
        return ""


def decide(ctx: _Context, units: list[str], action: str, reason: str = "", who: str = "",
           all_clean: bool = False) -> tuple[list[tuple[str, str]], list[str]]:
    """Record `action` on each unit's newest file in the ledger (Ledger.decide, which the Excel
    buttons call too); ([(unit, file)], problems)."""
    from .ledger import Ledger

    with Ledger(ctx.ledger, ctx.archive) as led:
        return led.decide(ctx.period, units, action, reason, who, all_clean=all_clean)


def _decided(ctx: _Context, units: list[str], *rest, **kw) -> tuple[list[tuple[str, str]], list[str]]:
    """`decide` for the command line: a code the units file does not know is named (a typo), and a
    ledger that cannot be used is one line and exit 2."""
    from .ledger import LedgerError
    from .units import unknown_codes

    unknown = unknown_codes(ctx.units, units) if ctx.units is not None and units else []
    try:
        done, problems = decide(ctx, [u for u in units if u not in unknown], *rest, **kw)
    except (LedgerError, OSError) as e:
        err.print(f"[bold red]Lỗi:[/] {_t(e)}")
        raise typer.Exit(CANNOT_RUN) from None
    return done, [f"{u}: mã đơn vị không có trong danh sách đơn vị {_path(ctx.units)}" for u in unknown] + problems


def tra_lai(units: list[str] = typer.Argument(..., metavar="MÃ_ĐƠN_VỊ", help="Mã các đơn vị trả lại báo cáo"),
            ly_do: str = typer.Option(..., "--ly-do", help="Lý do trả lại, đề nghị bổ sung gì (gửi cho đơn vị)"),
            config: Optional[Path] = typer.Option(None, "--config", help="Tệp cấu hình lịch chạy (lấy sổ theo dõi, kỳ)"),
            ledger: Optional[Path] = typer.Option(None, "--ledger", help="Tệp sổ theo dõi .sqlite3"),
            period: Optional[str] = typer.Option(None, "--period", help="Kỳ báo cáo (mặc định: kỳ của tệp cấu hình)"),
            nguoi: Optional[str] = typer.Option(None, "--nguoi", help="Người trả lại (mặc định: tên đăng nhập máy)"),
            as_json: bool = typer.Option(False, "--json", help="In kết quả dạng JSON")) -> None:
    """Trả lại báo cáo của đơn vị, kèm lý do; đơn vị ở trạng thái “cần sửa” cho tới khi gửi bản sửa."""
    if not ly_do.strip():
        err.print("[bold red]Lỗi:[/] cần ghi lý do trả lại (--ly-do)")
        raise typer.Exit(CANNOT_RUN)
    ctx = _context(config, ledger, period)
    done, problems = _decided(ctx, units, R.SEND_BACK, ly_do.strip(), _who(nguoi))
    raise typer.Exit(_report("Đã trả lại", ctx, done, problems, as_json))


def duyet(units: Optional[list[str]] = typer.Argument(None, metavar="MÃ_ĐƠN_VỊ", show_default=False,
                                                      help="Mã các đơn vị được duyệt báo cáo"),
          tat_ca_dat: bool = typer.Option(False, "--tat-ca-dat",
                                          help="Duyệt mọi đơn vị có báo cáo mới nhất không còn lỗi"),
          config: Optional[Path] = typer.Option(None, "--config", help="Tệp cấu hình lịch chạy (lấy sổ theo dõi, kỳ)"),
          ledger: Optional[Path] = typer.Option(None, "--ledger", help="Tệp sổ theo dõi .sqlite3"),
          period: Optional[str] = typer.Option(None, "--period", help="Kỳ báo cáo (mặc định: kỳ của tệp cấu hình)"),
          nguoi: Optional[str] = typer.Option(None, "--nguoi", help="Người duyệt (mặc định: tên đăng nhập máy)"),
          as_json: bool = typer.Option(False, "--json", help="In kết quả dạng JSON")) -> None:
    """Duyệt báo cáo mới nhất của đơn vị: số liệu của bản đã duyệt được dùng cho tới khi bản sửa sau được duyệt."""
    if not units and not tat_ca_dat:
        err.print("[bold red]Lỗi:[/] cần mã đơn vị, hoặc --tat-ca-dat")
        raise typer.Exit(CANNOT_RUN)
    ctx = _context(config, ledger, period)
    done, problems = _decided(ctx, list(units or []), R.APPROVE, "", _who(nguoi), all_clean=tat_ca_dat)
    raise typer.Exit(_report("Đã duyệt", ctx, done, problems, as_json))


def _report(verb: str, ctx: _Context, done, problems, as_json: bool) -> int:
    if as_json:
        print(json.dumps(json_ready({"period": ctx.period, "done": [{"unit": u, "file": f} for u, f in done],
                                     "problems": problems}), ensure_ascii=False, indent=2))
    else:
        for u, f in done:
            out.print(f"{verb} báo cáo kỳ {ctx.period} của {_t(u)} ({_t(f)})")
        if not done:
            out.print(f"Không có báo cáo nào được {verb.replace('Đã ', '')}.")
        for p in problems:
            err.print(f"[yellow]Chưa làm được:[/] {_t(p)}")
    return HAS_ERRORS if problems else OK


def phan_hoi(config: Path = typer.Option(..., "--config", help="Tệp cấu hình lịch chạy"),
             out_dir: Path = typer.Option(..., "--out", help="Thư mục ghi các gói phản hồi (mỗi đơn vị một thư mục)"),
             period: Optional[str] = typer.Option(None, "--period", help="Kỳ báo cáo (mặc định: kỳ của tệp cấu hình)"),
             gui_thu: bool = typer.Option(True, "--gui-thu/--khong-gui-thu",
                                          help="Gửi e-mail cho đơn vị khi tệp cấu hình có máy chủ thư"),
             as_json: bool = typer.Option(False, "--json", help="In kết quả dạng JSON")) -> None:
    """Gói phản hồi cho từng đơn vị cần sửa báo cáo: bản tô màu các ô sai và lời nhắn dán vào Zalo hoặc e-mail."""
    from .feedback import write_feedback

    ctx = _context(config, None, period)
    try:
        packages, sent, failed = write_feedback(ctx.cfg, ctx.period, out_dir, send=gui_thu,
                                                log=lambda m: err.print(_t(m)))
    except (OSError, ValueError) as e:
        err.print(f"[bold red]Lỗi:[/] {_t(e)}")
        raise typer.Exit(CANNOT_RUN) from None
    if as_json:
        print(json.dumps(json_ready({"period": ctx.period, "emails_sent": sent, "emails_failed": failed,
                                     "packages": [{"unit": p.unit, "state": p.state, "folder": shown(p.folder),
                                                   "message": shown(p.message_file),
                                                   "annotated": shown(p.annotated) if p.annotated else None,
                                                   "problems": p.problems} for p in packages]}),
                         ensure_ascii=False, indent=2))
    else:
        if not packages:
            out.print(f"Không có đơn vị nào cần sửa báo cáo kỳ {ctx.period}.")
        for p in packages:
            out.print(f"{_t(p.unit)} ({p.state}): {p.problems} chỗ cần sửa → {_path(p.folder)}")
        if sent or failed:
            out.print(f"Thư phản hồi: đã gửi {sent}, lỗi {failed}")
    raise typer.Exit(OK)


def register(parent: typer.Typer) -> None:
    parent.command("tra-lai")(tra_lai)
    parent.command("duyet")(duyet)
    parent.command("phan-hoi")(phan_hoi)
