"""What a one-shot command loads, and when: the one place for start-up speed tricks (issue 19).

`batn consolidate` is timed as a user waits for it, start-up to exit; this module holds what keeps
its imports out of that wait. Measure with `python -X importtime -m batn.cli consolidate …`.
"""
from __future__ import annotations

import sys


def load_writer() -> None:
    """Import the consolidated workbook's writer (openpyxl and batn's sheets).

    openpyxl imports numpy, when it is installed, only to accept numpy numbers in cells: a tenth of a
    second, a third of the writer's imports. batn hands openpyxl Python numbers only (tables.plain), so
    a process that has not loaded numpy loads openpyxl without it; a process that has (a notebook,
    pandas) keeps openpyxl's numpy support, as openpyxl loaded already keeps whatever it has."""
    if "openpyxl" not in sys.modules and "numpy" not in sys.modules:
        sys.modules["numpy"] = None          # type: ignore[assignment]  # "import numpy" raises ImportError
        try:
            import openpyxl  # noqa: F401
        finally:
            del sys.modules["numpy"]         # numpy imports normally from here on
    from .xlsx import consolidated  # noqa: F401
