"""What batn loads, and when: the one place for start-up speed tricks (issue 19).

`batn consolidate` is timed as a user waits for it, start-up to exit; this module holds what keeps
imports and teardown out of that wait (used by cli and engines). Measure with
`python -X importtime -m batn.cli consolidate …` and `scripts/bench_consolidate.py` (batn-cli).
"""
from __future__ import annotations

import sys


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
    (engines): the reader reaches the catalogue a workbook carries through xlsx.catalogue_book, which
    loads openpyxl (0.2 s in each reader otherwise)."""
    load_openpyxl()
    from .pipeline import read_checked  # noqa: F401
    from .xlsx import catalogue_book  # noqa: F401


def load_writer() -> None:
    """Import the consolidated workbook's writer (openpyxl and batn's sheets)."""
    load_openpyxl()
    from .xlsx import consolidated  # noqa: F401


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
