"""What every command-line door shares: consoles, exit statuses, turning library errors into one
clear Vietnamese line, dates, progress bars, and loading the usual inputs."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Iterator, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .catalogue import CatalogueError
from .units import UnitsFileError

OK, HAS_ERRORS, CANNOT_RUN = 0, 1, 2      # the contract of architecture.md


def _vietnamese_help_panels() -> None:
    """The words Typer draws around every --help, in Vietnamese. "Usage:" and the --help line
    itself come from Typer's bundled click and stay English (no supported way to change them)."""
    try:
        from typer import rich_utils as ru
    except ImportError:  # pragma: no cover - Typer without rich
        return
    for name, text in {"OPTIONS_PANEL_TITLE": "Tùy chọn", "ARGUMENTS_PANEL_TITLE": "Tham số",
                       "COMMANDS_PANEL_TITLE": "Lệnh", "ERRORS_PANEL_TITLE": "Lỗi",
                       "REQUIRED_LONG_STRING": "[bắt buộc]", "DEFAULT_STRING": "[mặc định: {}]",
                       "ABORTED_TEXT": "Đã dừng."}.items():
        if isinstance(getattr(ru, name, None), str):
            setattr(ru, name, text)


_vietnamese_help_panels()
out = Console(soft_wrap=True)             # long paths and URLs stay on one line, copyable
err = Console(stderr=True, soft_wrap=True)


def fail(message: str) -> None:
    err.print(f"[bold red]Lỗi:[/] {escape(message)}")
    raise typer.Exit(CANNOT_RUN)


@contextmanager
def clear_errors(*more: type[BaseException]) -> Iterator[None]:
    """Library errors a user can fix become one clear line and exit status 2."""
    try:
        yield
    except (UnitsFileError, CatalogueError, ValueError, KeyError, FileNotFoundError, PermissionError, *more) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        fail(str(msg))


def parse_date(text: Optional[str]) -> Optional[date]:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        fail(f"Ngày '{text}' không đúng dạng YYYY-MM-DD")
    return None


def load_inputs(units: Path, catalog: str, period: str, period_config: Optional[Path] = None):
    """The unit tree, catalogue and period most commands start from."""
    from . import pipeline
    from .catalogue import load_catalogue

    return pipeline.load_tree(units), load_catalogue(catalog), pipeline.load_period(period, period_config)


@contextmanager
def progress_bar(label: str, quiet: bool = False) -> Iterator:
    """A progress callable (done, total) drawn on a terminal, silent otherwise."""
    if quiet or not err.is_terminal:
        yield lambda done, total: None
        return
    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err) as p:
        task = p.add_task(label, total=None)
        yield lambda done, total: p.update(task, completed=done, total=total)


def consolidation_dict(cons) -> dict:
    """The consolidation as JSON-ready data: the common part of every door's --json."""
    return {"root": cons.tree.root, "period": cons.period.id, "catalog": cons.catalogue.id,
            "sent": len(cons.sent), "expected": len(cons.expected), "totals": cons.totals,
            "units": [{"code": r.code, "name": r.name, "status": r.status,
                       "file": r.submission.source if r.submission else ""} for r in cons.units.values()],
            "findings": [f.as_dict() for f in cons.findings]}


def show_consolidation(cons) -> None:
    """Units per status, then the completeness line a clerk reads first."""
    from collections import Counter

    from rich.table import Table

    from .findings import count
    from .model import Severity

    t = Table("Tình trạng", "Số đơn vị", title=f"Tổng hợp {cons.tree[cons.tree.root].name} — {cons.period.label}")
    for status, n in Counter(r.status for r in cons.units.values()).items():
        t.add_row(status, str(n))
    out.print(t)
    out.print(f"Đã gửi báo cáo: {len(cons.sent)}/{len(cons.expected)} đơn vị; "
              f"{count(cons.findings, Severity.ERROR)} lỗi, {count(cons.findings, Severity.WARNING)} cảnh báo")
