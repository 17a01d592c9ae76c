"""What batn loads, and when: the one place for start-up speed tricks (issue 19).

`batn consolidate` is timed as a user waits for it, start-up to exit; this module holds what keeps
imports and teardown out of that wait (used by cli and engines). Measure with
`python -X importtime -m batn.cli consolidate …` and `scripts/bench_consolidate.py` (batn-cli).
"""
from __future__ import annotations

import sys
from functools import lru_cache


def load_openpyxl() -> None:
    """Import openpyxl, without numpy when numpy is not loaded yet.

    openpyxl imports numpy, when it is installed, only to accept numpy numbers in cells: a tenth of a
    second, more than half of openpyxl's own import. batn hands openpyxl Python numbers only
    (tables.plain), so a process that has not loaded numpy loads openpyxl without it; a process that
    has (a notebook, pandas) keeps openpyxl's numpy support, as openpyxl loaded already keeps its own."""
    if "openpyxl" not in sys.modules and "numpy" not in sys.modules:
        sys.modules["numpy"] = None          # type: ignore[assignment]  # "import numpy" raises ImportError
        try:
            import openpyxl  # noqa: F401
        finally:
            del sys.modules["numpy"]         # numpy imports normally from here on


def load_reader() -> None:
    """What every reader process imports on its first file, imported once here before they fork
    (engines). No openpyxl: the reader reaches the catalogue a workbook carries through xlsx.carried;
    openpyxl loads in this process while the readers read (load_writer)."""
    from .pipeline import read_checked  # noqa: F401
    from .xlsx import carried  # noqa: F401


def load_writer() -> None:
    """Import the consolidated workbook's writer (openpyxl and batn's sheets)."""
    load_openpyxl()
    from .xlsx import consolidated  # noqa: F401


def plain_values(params) -> None:
    """Let typer take a command's text and path values without pydantic (cliutil calls this before
    typer parses a command line).

    typer 0.29 turns each value into its type through a pydantic TypeAdapter it builds for the
    parameter on first use (_TyperParameter.get_runtime_param): importing pydantic and building the
    adapters is about 0.07 s of every command (typer builds one even for a flag or an option left
    out), for values that stay text, become a Path, or are a flag or a plain number. Such a parameter
    (str, Path or a list of Paths, bool, int without bounds; no parser, path_type or file) gets
    a PlainValue instead (_plain_value_class), which gives what typer's own adapter gives
    (tests/test_speed_paths.py compares the two) and hands any other value to typer's adapter. Every other parameter, and a
    typer whose inner names have changed, keeps typer's way."""
    plain = _plain_value_class()
    if plain is None:
        return
    for p in params:
        kind = _plain_kind(p)
        if kind is not None:
            desc = p.type_descriptor
            try:
                p._runtime_param = plain(parameter_info=desc.parameter_info, annotation=desc.annotation,
                                         kind=kind[0], many=kind[1])
            except TypeError:       # typer's RuntimeParam changed shape: typer's way, for every parameter
                return


def _plain_kind(param):
    """(kind, a list or not) when typer would make only a str, a Path, a bool or a plain int of this
    parameter's value (kind: "str", "path", "bool", "int"); None otherwise."""
    from pathlib import Path
    from typing import get_args, get_origin

    if getattr(param, "_runtime_param", False) is not None:     # typer's already, or another typer
        return None
    desc = getattr(param, "type_descriptor", None)
    info = getattr(desc, "parameter_info", None)
    if info is None or desc.file_annotation is not None or getattr(info, "parser", None) is not None \
            or getattr(info, "click_type", None) is not None:
        return None
    ann, many = desc.annotation, get_origin(desc.annotation) is list
    if many:
        ann = (get_args(ann) or (None,))[0]
    if ann in (str, bool) and not many:
        return ann.__name__, False
    if ann is int and not many and info.min is None and info.max is None and not info.clamp:
        return "int", False
    if ann is Path and getattr(info, "path_type", None) is None:
        return "path", many
    return None


@lru_cache(maxsize=1)
def _plain_value_class():
    """typer's RuntimeParam with plain coercion (made once; None when typer no longer has it)."""
    try:
        import re
        from dataclasses import dataclass
        from pathlib import Path

        from typer._coercion import RuntimeParam, build_runtime_param
        from typer._param_types import coerce_cli_path
    except ImportError:
        return None

    digits = re.compile(r"0|[1-9][0-9]{0,17}")

    @dataclass(frozen=True)
    class PlainValue(RuntimeParam):
        kind: str = "str"
        many: bool = False

        def _coerce_value(self, value, param, ctx):
            if self.kind == "bool" and type(value) is bool:
                return value
            if self.kind == "int" and type(value) is str and digits.fullmatch(value):
                return int(value)
            items = value if self.many else (value,)
            if self.kind in ("str", "path") and isinstance(items, (list, tuple)) \
                    and all(type(v) is str for v in items):      # text from the command line
                if self.kind == "path":     # typer's adapter: Path(text), then coerce_cli_path's checks
                    items = [coerce_cli_path(Path(v), self.parameter_info, path_type=Path, param=param, ctx=ctx)
                             for v in items]
                return list(items) if self.many else items[0]
            return build_runtime_param(param.type_descriptor)._coerce_value(value, param=param, ctx=ctx)

    return PlainValue


def run_command(app) -> None:
    """The `batn` program: run the command, then leave without tearing the interpreter down.

    Once a command is done (its files written and closed, its output printed) the interpreter would
    still free every object and module one by one before exiting, about a tenth of a second after a
    large consolidation, while the user waits for the prompt. Exit handlers still run (atexit:
    temporary files, process pools), output is flushed, and the exit status is the command's."""
    import atexit
    import os

    try:
        app()
        code = 0
    except SystemExit as e:
        code = e.code
    if code is not None and not isinstance(code, int):      # sys.exit("message"): said on stderr, status 1
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code or 0)
