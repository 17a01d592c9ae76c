"""What every command-line door shares: consoles, exit statuses, turning library errors into one
clear Vietnamese line, dates, progress bars, and loading the usual inputs."""
from __future__ import annotations

import errno
import importlib.abc
import importlib.util
import re
import sys
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Iterator, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperArgument, TyperCommand, TyperGroup

from .catalogue import CatalogueError
from .safeio import os_error_text
from .textsafe import clean, json_ready, shown
from .units import UnitsFileError

OK, HAS_ERRORS, CANNOT_RUN = 0, 1, 2      # the contract of architecture.md


# ------------------------------------------------------------------ the command line in Vietnamese
#
# The one place where batn's command line is put into Vietnamese. Typer 0.29 carries its own copy of
# click (typer._click) with plain English strings, no gettext, so a translation catalogue cannot be
# installed. What it does offer, and batn uses:
#   - typer.rich_utils' module constants: panel titles, "[required]", "[default: …]", "Try … for help";
#   - Typer(cls=…, options_metavar=…, subcommand_metavar=…) and command(cls=…): every app is a
#     VietnameseTyper, whose group and command classes write "Cách dùng:", the --help line, the
#     type column, and turn click's usage errors and OS errors into Vietnamese (exit status 2).

def _vietnamese_help_panels() -> None:
    """The words Typer draws around every --help and every usage error, in Vietnamese."""
    try:
        from typer import rich_utils as ru
    except ImportError:  # pragma: no cover - Typer without rich
        return
    for name, text in {"OPTIONS_PANEL_TITLE": "Tùy chọn", "ARGUMENTS_PANEL_TITLE": "Tham số",
                       "COMMANDS_PANEL_TITLE": "Lệnh", "ERRORS_PANEL_TITLE": "Lỗi",
                       "REQUIRED_LONG_STRING": "[bắt buộc]", "DEFAULT_STRING": "[mặc định: {}]",
                       "ENVVAR_STRING": "[biến môi trường: {}]", "DEPRECATED_STRING": "(không dùng nữa) ",
                       "RICH_HELP": "Xem hướng dẫn: [blue]{command_path} {help_option}[/]",
                       "ABORTED_TEXT": "Đã dừng."}.items():
        if isinstance(getattr(ru, name, None), str):
            setattr(ru, name, text)


class _WhenImported(importlib.abc.MetaPathFinder):
    """Runs `then` right after the module `name` is first imported. typer.rich_utils (and the rich
    markdown and syntax modules under it: 0.07 s) is loaded only to draw --help and errors, which a
    command that runs never does; its words are put into Vietnamese when it is loaded, not before."""

    def __init__(self, name: str, then) -> None:
        self.name, self.then = name, then

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            run = spec.loader.exec_module

            def exec_module(module) -> None:
                run(module)
                self.then()
            spec.loader.exec_module = exec_module       # type: ignore[method-assign]
        return spec


if "typer.rich_utils" in sys.modules:
    _vietnamese_help_panels()
else:
    sys.meta_path.insert(0, _WhenImported("typer.rich_utils", _vietnamese_help_panels))

USAGE = "Cách dùng: "
HELP_LINE = "Xem hướng dẫn này rồi thoát."
OPTIONS_METAVAR = "[TÙY CHỌN]"
SUBCOMMAND_METAVAR = "LỆNH [THAM SỐ]..."
# typer's type column (<str>, <path>, <bool>, <list[Path]> …) in a clerk's words; a flag shows none
_TYPE_WORDS = {"str": "chữ", "path": "đường dẫn", "int": "số", "float": "số", "bool": "", "date": "ngày"}
def _words(m: re.Match, template: str) -> str:
    return template.format(*(g if g is not None else "" for g in m.groups()))


def _maybe(text: str, template: str) -> str:
    return template.format(text) if text else ""


# click's usage errors (typer/_click/exceptions.py, parser.py, core.py) and typer's value errors
_USAGE_ERRORS: list[tuple[re.Pattern, object]] = [(re.compile(p, re.S), t) for p, t in [
    (r"Missing argument (.+?)\.?", "Thiếu tham số {}."),
    (r"Missing option (.+?)\.?", "Thiếu tùy chọn {}."),
    (r"Missing parameter:? (.+?)\.?", "Thiếu {}."),
    (r"No such option: (\S+)(?: \(Possible options: (.+)\))?",
     lambda m: f"Không có tùy chọn {m[1]}" + (_maybe(m[2], "; có phải là {}?") or ".")),
    (r"Option (.+) requires an argument\.", "Tùy chọn {} cần một giá trị."),
    (r"Option (.+) requires (\d+) arguments\.", "Tùy chọn {} cần {} giá trị."),
    (r"Option (.+) does not take a value\.", "Tùy chọn {} không nhận giá trị."),
    (r"Argument (.+) takes (\d+) values\.", "Tham số {} cần {} giá trị."),
    (r"Got unexpected extra argument(?:s|\(s\))? \((.*)\)", "Thừa tham số: {}"),
    (r"No such command (.+?)\.(?: Did you mean (.+)\?)?",
     lambda m: f"Không có lệnh {m[1]}" + (_maybe(m[2], "; có phải là {}?") or ".")),
    (r"Missing command\.", "Thiếu tên lệnh."),
    (r"Invalid value for (.+?): (.*)", lambda m: f"Giá trị của {m[1]} không hợp lệ: {_value_error(m[2])}"),
    (r"Invalid value: (.*)", lambda m: f"Giá trị không hợp lệ: {_value_error(m[1])}"),
]]
_VALUE_ERRORS = [(re.compile(p, re.S), t) for p, t in [
    (r"Input should be a valid integer.*", "cần một số nguyên"),
    (r"Input should be a valid (number|float).*", "cần một số"),
    (r"Input should be a valid boolean.*", "cần có hoặc không (true/false)"),
    (r"Value (.+) is not a valid (\w+)\.", "{} không đúng kiểu"),
    (r"(.+) is not one of (.+)\.", "{} không phải một trong {}"),
    (r"(?:File|Directory|Path) (.+) does not exist\.", "không có {}"),
    (r"(?:File|Directory|Path) (.+) is a file\.", "{} là tệp, cần một thư mục"),
    (r"(?:File|Directory|Path) (.+) is a directory\.", "{} là thư mục, cần một tệp"),
    (r"(?:File|Directory|Path) (.+) is not readable\.", "không đọc được {}"),
    (r"(?:File|Directory|Path) (.+) is not writable\.", "không ghi được {}"),
]]


def _translate(message: str, table) -> Optional[str]:
    for pattern, words in table:
        m = pattern.fullmatch(message.strip())
        if m:
            return words(m) if callable(words) else _words(m, words)
    return None


def _value_error(message: str) -> str:
    return _translate(message, _VALUE_ERRORS) or message


def usage_error_text(message: str) -> str:
    """click's English usage error in Vietnamese (the message unchanged if it is not one of click's)."""
    return _translate(message, _USAGE_ERRORS) or message


class _Vietnamese:
    """What VietnameseTyper's group and command classes add to Typer's: the usage line, the --help
    line and type column in Vietnamese; click's usage errors and OS errors said in Vietnamese."""

    def format_usage(self, ctx, formatter) -> None:
        formatter.write_usage(ctx.command_path, " ".join(self.collect_usage_pieces(ctx)), prefix=USAGE)

    def get_help_option(self, ctx):
        from .startup import plain_values

        opt = super().get_help_option(ctx)
        if opt is not None:
            opt.help = HELP_LINE
            plain_values([opt])
        return opt

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for p in params:
            if "display_type_rich" not in vars(p):
                p.display_type_rich = _type_column(p, ctx)
        return params

    def make_context(self, *args, **kwargs):
        from .startup import plain_values

        plain_values(self.params)
        with _vietnamese_errors():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx):
        with _vietnamese_errors():
            return super().invoke(ctx)


def _type_column(param, ctx):
    """The text in --help's type column: an argument's Vietnamese name says it all; an option's type in
    words ("<đường dẫn>", "<chữ>", a repeatable one with "…"); a flag none."""
    label = ""
    if not isinstance(param, TyperArgument) and param.metavar is None:
        raw = param.display_type(ctx).strip("<>")
        many = raw.startswith("list[") and raw.endswith("]")
        raw = raw[5:-1] if many else raw
        word = _TYPE_WORDS.get(raw.lower(), raw)
        label = f"<{word}>" + ("…" if many else "") if word else ""
    elif not isinstance(param, TyperArgument):
        label = param.metavar
    return lambda ctx: label or None


class VietnameseUsageError(typer.BadParameter):
    """A usage error already said in Vietnamese (exit status 2, the usage line above it)."""

    def format_message(self) -> str:
        return self.message


@contextmanager
def _vietnamese_errors() -> Iterator[None]:
    """click's errors (typer.TyperException: usage errors, bad values) and OS errors in Vietnamese."""
    try:
        yield
    except VietnameseUsageError:
        raise
    except typer.TyperException as e:
        if type(e).__name__ == "NoArgsIsHelpError":    # `batn` alone: Typer shows the help (as rich_utils checks)
            raise
        vn = VietnameseUsageError(usage_error_text(e.format_message()), ctx=getattr(e, "ctx", None))
        vn.exit_code = e.exit_code
        raise vn from None
    except OSError as e:
        if e.errno == errno.EPIPE:      # Typer quiets a closed pipe itself
            raise
        fail(os_error_text(e))


class VietnameseCommand(_Vietnamese, TyperCommand):
    pass


class VietnameseGroup(_Vietnamese, TyperGroup):
    pass


class VietnameseTyper(typer.Typer):
    """typer.Typer whose help, usage line and errors are Vietnamese: every batn app is one."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("cls", VietnameseGroup)
        kwargs.setdefault("options_metavar", OPTIONS_METAVAR)
        kwargs.setdefault("subcommand_metavar", SUBCOMMAND_METAVAR)
        super().__init__(**kwargs)

    def command(self, *args, cls=None, **kwargs):
        return super().command(*args, cls=cls or VietnameseCommand, **kwargs)
out = Console(soft_wrap=True)             # long paths and URLs stay on one line, copyable
err = Console(stderr=True, soft_wrap=True)


def fail(message: str) -> None:
    err.print(f"[bold red]Lỗi:[/] {terminal(message)}")
    raise typer.Exit(CANNOT_RUN)


@contextmanager
def clear_errors(*more: type[BaseException]) -> Iterator[None]:
    """Library errors a user can fix become one clear line and exit status 2."""
    try:
        yield
    except OSError as e:
        if e.errno == errno.EPIPE:
            raise
        fail(os_error_text(e))
    except (UnitsFileError, CatalogueError, ValueError, KeyError, *more) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        fail(str(msg))


def parse_date(text: Optional[str]) -> Optional[date]:
    if not text:
        return None
    from .vn import doc_ngay

    try:
        return doc_ngay(text)
    except ValueError as e:
        fail(str(e))
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
    """The consolidation as JSON-ready data: the common part of every door's --json. File names are
    shown with visible escapes and every text is one UTF-8 can carry (batn.textsafe)."""
    from .completeness import subtree_tallies
    from .review import review_counts

    tallies = subtree_tallies(cons)

    def unit(r) -> dict:
        t = tallies.get(r.code)
        out = {"code": r.code, "name": r.name, "status": r.status,
               "file": shown(r.newest_file.source) if r.newest_file else ""}
        if t is not None:               # an intermediate unit: its own sub-tree's rates
            out.update(sent_below=t.sent, on_time_below=t.in_time, expected_below=t.expected)
        if cons.reviews:
            out["review"] = cons.reviews[r.code].state if r.code in cons.reviews else ""
        return out

    data = {"root": cons.tree.root, "period": cons.period.id, "catalog": cons.catalogue.id,
            "sent": len(cons.sent), "expected": len(cons.expected), "totals": cons.totals,
            "units": [unit(r) for r in cons.units.values()],
            "findings": [finding_dict(f) for f in cons.findings]}
    if cons.reviews:
        data["reviews"] = review_counts(cons.reviews, (r.code for r in cons.expected))
    return json_ready(data)


def finding_dict(f) -> dict:
    """A finding for --json, its file name shown with visible escapes."""
    return {**f.as_dict(), "file": shown(f.file)}


def terminal(text: object) -> str:
    """Text for a rich console: visible escapes for what a terminal would obey, no markup."""
    return escape(clean(text))


SHOWN_SKIPPED = 20     # files named on the terminal; the workbook and --json list them all


def show_consolidation(cons) -> None:
    """Units per status, then the completeness line a clerk reads first."""
    from collections import Counter

    from rich.table import Table

    from .findings import count
    from .model import Severity

    t = Table("Tình trạng", "Số đơn vị",
              title=terminal(f"Tổng hợp {cons.tree[cons.tree.root].name} — {cons.period.label}"))
    for status, n in Counter(r.status for r in cons.units.values()).items():
        t.add_row(status, str(n))
    out.print(t)
    out.print(f"Đã gửi báo cáo: {len(cons.sent)}/{len(cons.expected)} đơn vị; "
              f"{count(cons.findings, Severity.ERROR)} lỗi, {count(cons.findings, Severity.WARNING)} cảnh báo")
    # Files not read are named here too, not only in the workbook: nothing in the inbox goes unsaid.
    skipped = [f for f in cons.findings if f.kind in ("skipped-file", "unreadable-file") and not f.unit]
    if skipped:
        out.print(f"Tệp không đọc được hoặc bỏ qua ({len(skipped)}):")
        for f in skipped[:SHOWN_SKIPPED]:
            out.print(f"  - {terminal(shown(f.file))}: {terminal(f.message)}")
        if len(skipped) > SHOWN_SKIPPED:
            out.print(f"  … và {len(skipped) - SHOWN_SKIPPED} tệp khác (xem trang “Kết quả kiểm tra” của tệp tổng hợp "
                      f"hoặc chạy lại với --json)")
    if not any(r.submission for r in cons.units.values()) and not any(f.file for f in cons.findings):
        out.print(f"[yellow]Không có tệp báo cáo nào[/] trong {terminal(shown(cons.inbox)) or 'nguồn đã chọn'}")
    # Reports of another period or catalogue are read but never summed: say so here, once per reason,
    # or a clerk who typed the wrong --period sees only "0/30 đơn vị".
    other = Counter(f.message for f in cons.findings if f.kind in ("wrong-period", "wrong-catalogue"))
    for message, n in other.most_common():
        out.print(f"[yellow]Không cộng {n} tệp:[/] {terminal(message)} (kiểm tra lại --period, --catalog)")
